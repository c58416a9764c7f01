//! Protobuf through the API: imports resolved through references and built-in files, both
//! input forms as one schema, `format=serialized`, normalize, compatibility with paths, payload
//! validation, and bad input refused with nothing stored.

use base64::Engine;
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, Value as PValue};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, on_both_backends, TestApp};

on_both_backends!(
    protobuf_references_and_forms,
    protobuf_compatibility_and_normalize,
    protobuf_payload_validation,
    protobuf_bad_input_stores_nothing,
);

const MONEY: &str = "syntax = \"proto3\";\npackage acme.common;\n\n// An amount in minor units.\nmessage Money {\n  string currency = 1;\n  int64 minor_units = 2;\n}\n";

const ORDER: &str = "syntax = \"proto3\";\npackage acme.orders;\n\nimport \"google/protobuf/timestamp.proto\";\nimport \"acme/common/money.proto\";\n\nmessage Order {\n  string id = 1;\n  acme.common.Money total = 2;\n  google.protobuf.Timestamp placed_at = 3;\n  repeated string tags = 4;\n}\n";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn proto(schema: &str, refs: Value) -> Value {
    json!({"schemaType": "PROTOBUF", "schema": schema, "references": refs})
}

fn money_ref() -> Value {
    json!([{"name": "acme/common/money.proto", "subject": "acme/common/money.proto", "version": 1}])
}

async fn register_order(app: &TestApp) -> (i64, i64) {
    let (s, r) = app
        .post(
            "/subjects/acme%2Fcommon%2Fmoney.proto/versions",
            proto(MONEY, json!([])),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let money = r["id"].as_i64().unwrap();
    let (s, r) = app
        .post("/subjects/orders-value/versions", proto(ORDER, money_ref()))
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    (money, r["id"].as_i64().unwrap())
}

async fn protobuf_references_and_forms(app: TestApp) {
    let (money, order) = register_order(&app).await;
    assert_ne!(money, order);

    // Served back as sent.
    let (s, r) = app.get(&format!("/schemas/ids/{order}")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(r["schemaType"], "PROTOBUF");
    assert_eq!(r["schema"].as_str().unwrap(), ORDER.trim());
    assert_eq!(r["references"], money_ref());

    // The serialized form: a FileDescriptorProto with both imports.
    let (s, r) = app
        .get(&format!("/schemas/ids/{order}?format=serialized"))
        .await;
    assert_eq!(s, StatusCode::OK);
    let serialized = r["schema"].as_str().unwrap().to_owned();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(&serialized)
        .unwrap();
    let fd = prost_types::FileDescriptorProto::decode(bytes.as_slice()).unwrap();
    assert_eq!(fd.package(), "acme.orders");
    assert_eq!(
        fd.dependency,
        ["google/protobuf/timestamp.proto", "acme/common/money.proto"]
    );
    assert_eq!(fd.message_type[0].name(), "Order");
    let (_, v) = app
        .get("/subjects/orders-value/versions/latest?format=serialized")
        .await;
    assert_eq!(v["schema"].as_str().unwrap(), serialized);

    // The serialized form is the same schema: lookup finds it, registering returns the id.
    let (s, r) = app
        .post("/subjects/orders-value", proto(&serialized, money_ref()))
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(
        (r["id"].as_i64(), r["version"].as_i64()),
        (Some(order), Some(1))
    );
    let (s, r) = app
        .post(
            "/subjects/orders-value/versions",
            proto(&serialized, money_ref()),
        )
        .await;
    assert_eq!((s, r["id"].as_i64()), (StatusCode::OK, Some(order)));
    // ... and so is the text with other formatting and comments.
    let reformatted = ORDER.replace("\n\n", "\n// note\n").replace("  ", "    ");
    let (s, r) = app
        .post(
            "/subjects/orders-value/versions",
            proto(&reformatted, money_ref()),
        )
        .await;
    assert_eq!((s, r["id"].as_i64()), (StatusCode::OK, Some(order)), "{r}");
    assert_eq!(
        app.get("/subjects/orders-value/versions").await.1,
        json!([1])
    );

    // A dependency registered from a serialized descriptor is served as text.
    let (_, m) = app
        .get(&format!("/schemas/ids/{money}?format=serialized"))
        .await;
    let (s, r) = app
        .post(
            "/subjects/money-copy/versions",
            proto(m["schema"].as_str().unwrap(), json!([])),
        )
        .await;
    assert_eq!((s, r["id"].as_i64()), (StatusCode::OK, Some(money)), "{r}");

    // Referenced versions cannot be deleted; the referrer is listed.
    let (_, by) = app
        .get("/subjects/acme%2Fcommon%2Fmoney.proto/versions/1/referencedby")
        .await;
    assert_eq!(by, json!([order]));
    assert_error(
        &app.delete("/subjects/acme%2Fcommon%2Fmoney.proto/versions/1")
            .await,
        422,
        42206,
    );
    assert_error(
        &app.delete("/subjects/acme%2Fcommon%2Fmoney.proto").await,
        422,
        42206,
    );

    let (_, types) = app.get("/schemas/types").await;
    let mut types: Vec<String> = serde_json::from_value(types).unwrap();
    types.sort();
    assert_eq!(types, ["AVRO", "JSON", "PROTOBUF"]);
}

async fn protobuf_compatibility_and_normalize(app: TestApp) {
    let v1 = "syntax = \"proto3\";\npackage acme;\nimport \"google/type/money.proto\";\nmessage Payment {\n  string id = 1;\n  int64 amount = 2;\n  google.type.Money price = 3;\n}\n";
    let (s, r) = app
        .post("/subjects/payments/versions", proto(v1, json!([])))
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let id = r["id"].as_i64().unwrap();

    // Declarations reordered: the same schema once normalized.
    let reordered = "syntax = \"proto3\";\npackage acme;\nimport \"google/type/money.proto\";\nmessage Payment {\n  google.type.Money price = 3;\n  int64 amount = 2;\n  string id = 1;\n}\n";
    let (s, r) = app
        .post(
            "/subjects/payments?normalize=true",
            proto(reordered, json!([])),
        )
        .await;
    assert_eq!((s, r["id"].as_i64()), (StatusCode::OK, Some(id)), "{r}");
    let (s, r) = app
        .post(
            "/subjects/payments/versions?normalize=true",
            proto(reordered, json!([])),
        )
        .await;
    assert_eq!((s, r["id"].as_i64()), (StatusCode::OK, Some(id)), "{r}");

    // amount int64 -> sint64 changes the wire encoding: refused, the path named.
    let bad = v1.replace("int64 amount", "sint64 amount");
    let (s, r) = app
        .post(
            "/compatibility/subjects/payments/versions/latest?verbose=true",
            proto(&bad, json!([])),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(r["is_compatible"], false);
    let messages = r["messages"].to_string();
    assert!(messages.contains("FIELD_SCALAR_KIND_CHANGED"), "{messages}");
    assert!(messages.contains("'#/Payment/2'"), "{messages}");
    let got = app
        .post("/subjects/payments/versions", proto(&bad, json!([])))
        .await;
    assert_error(&got, 409, 40901);
    assert!(got.1["message"].as_str().unwrap().contains("#/Payment/2"));

    // int64 -> uint64 is wire-compatible; a new field is fine under BACKWARD.
    let ok = v1
        .replace("int64 amount", "uint64 amount")
        .replace("}\n", "  string memo = 4;\n}\n");
    let (s, r) = app
        .post("/subjects/payments/versions", proto(&ok, json!([])))
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");

    // FORWARD: removing a message is refused (the old reader would miss it).
    let two =
        "syntax = \"proto3\";\nmessage A {\n  int32 x = 1;\n}\nmessage B {\n  int32 y = 1;\n}\n";
    app.post("/subjects/fwd/versions", proto(two, json!([])))
        .await;
    let (s, _) = app
        .put("/config/fwd", json!({"compatibility": "FORWARD"}))
        .await;
    assert_eq!(s, StatusCode::OK);
    let one = "syntax = \"proto3\";\nmessage A {\n  int32 x = 1;\n}\n";
    let (s, r) = app
        .post(
            "/compatibility/subjects/fwd/versions/latest",
            proto(one, json!([])),
        )
        .await;
    assert_eq!(
        (s, r["is_compatible"].as_bool()),
        (StatusCode::OK, Some(true))
    );
    let three = "syntax = \"proto3\";\nmessage A {\n  int32 x = 1;\n}\nmessage B {\n  int32 y = 1;\n}\nmessage C {\n  int32 z = 1;\n}\n";
    let (s, r) = app
        .post(
            "/compatibility/subjects/fwd/versions/latest?verbose=true",
            proto(three, json!([])),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(r["is_compatible"], false, "{r}");
    assert!(r["messages"].to_string().contains("MESSAGE_REMOVED"), "{r}");

    // A different schema type against a Protobuf history.
    let got = app
        .post(
            "/subjects/payments/versions",
            json!({"schema": "{\"type\":\"string\"}", "schemaType": "JSON"}),
        )
        .await;
    assert_error(&got, 409, 40901);
}

fn encode(pool: &DescriptorPool, name: &str, fields: &[(&str, PValue)]) -> Vec<u8> {
    let desc = pool.get_message_by_name(name).unwrap();
    let mut m = DynamicMessage::new(desc);
    for (f, v) in fields {
        m.set_field_by_name(f, v.clone());
    }
    m.encode_to_vec()
}

async fn protobuf_payload_validation(app: TestApp) {
    let (_, order) = register_order(&app).await;
    let (_, r) = app
        .get(&format!("/schemas/ids/{order}?format=serialized"))
        .await;
    // Build a pool from the registry's own descriptors to encode test messages.
    let mut pool = DescriptorPool::global();
    let (_, m) = app
        .get("/subjects/acme%2Fcommon%2Fmoney.proto/versions/1?format=serialized")
        .await;
    for s in [m["schema"].as_str().unwrap(), r["schema"].as_str().unwrap()] {
        let bytes = base64::engine::general_purpose::STANDARD.decode(s).unwrap();
        let mut fd = prost_types::FileDescriptorProto::decode(bytes.as_slice()).unwrap();
        if fd.package() == "acme.common" {
            fd.name = Some("acme/common/money.proto".into());
        }
        pool.add_file_descriptor_proto(fd).unwrap();
    }
    let money_desc = pool.get_message_by_name("acme.common.Money").unwrap();
    let mut money = DynamicMessage::new(money_desc);
    money.set_field_by_name("currency", PValue::String("EUR".into()));
    money.set_field_by_name("minor_units", PValue::I64(1250));
    let body = encode(
        &pool,
        "acme.orders.Order",
        &[
            ("id", PValue::String("o-1".into())),
            ("total", PValue::Message(money)),
            ("tags", PValue::List(vec![PValue::String("x".into())])),
        ],
    );
    let framed = [&[0u8][..], &body].concat();
    let path = "/accord/v1/validate/subjects/orders-value/versions/latest";
    let (s, v) = app.post(path, json!({"payload": b64(&framed)})).await;
    assert_eq!(
        (s, v["valid"].as_bool()),
        (StatusCode::OK, Some(true)),
        "{v}"
    );

    // An explicit index path [0] is the same message.
    let explicit = [&[2u8, 0][..], &body].concat();
    let (_, v) = app.post(path, json!({"payload": b64(&explicit)})).await;
    assert_eq!(v["valid"], true, "{v}");

    // Unknown field 9 (varint 1): allowed by default, refused on request.
    let unknown = [&framed[..], &[0x48, 0x01][..]].concat();
    let (_, v) = app.post(path, json!({"payload": b64(&unknown)})).await;
    assert_eq!(v["valid"], true, "{v}");
    let (_, v) = app
        .post(
            path,
            json!({"payload": b64(&unknown), "allowUnknownFields": false}),
        )
        .await;
    assert_eq!(v["valid"], false, "{v}");
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("unknown field number 9"),
        "{v}"
    );

    for (bad, why) in [
        (framed[..framed.len() - 2].to_vec(), "not a message"),
        (vec![4u8, 2, 0], "names no message"),
        (vec![], "message-index"),
    ] {
        let (_, v) = app.post(path, json!({"payload": b64(&bad)})).await;
        assert_eq!(v["valid"], false, "{v}");
        assert!(v["error"].as_str().unwrap().contains(why), "{why}: {v}");
    }
}

async fn protobuf_bad_input_stores_nothing(app: TestApp) {
    let good = "syntax = \"proto3\";\nmessage A {\n  int32 x = 1;\n}\n";
    let (s, _) = app
        .post("/subjects/bad/versions", proto(good, json!([])))
        .await;
    assert_eq!(s, StatusCode::OK);
    let before = app.get("/subjects").await.1;
    let schemas_before = app.get("/schemas").await.1;
    let cases: Vec<(Value, &str)> = vec![
        (
            proto(
                "syntax = \"proto3\";\nmessage A {\n  strin x = 1;\n}\n",
                json!([]),
            ),
            "default.proto:3:3",
        ),
        (
            proto(
                "syntax = \"proto3\";\nmessage A {\n  int32 x = 1\n}\n",
                json!([]),
            ),
            "default.proto:4:1",
        ),
        (
            proto(
                "syntax = \"proto3\";\nimport \"acme/missing.proto\";\nmessage A {\n  acme.Missing m = 1;\n}\n",
                json!([]),
            ),
            "acme/missing.proto",
        ),
        (
            proto(
                "syntax = \"proto3\";\nimport \"default.proto\";\nmessage A {}\n",
                json!([]),
            ),
            "cycle",
        ),
        (
            proto(
                "syntax = \"proto3\";\nmessage A {\n  int32 x = 1;\n  int32 y = 1;\n}\n",
                json!([]),
            ),
            "already used",
        ),
        (
            proto("bm90IGEgZGVzY3JpcHRvcg==", json!([])),
            "default.proto",
        ),
    ];
    for (body, want) in cases {
        let got = app.post("/subjects/bad/versions", body.clone()).await;
        assert_error(&got, 422, 42201);
        let message = got.1["message"].as_str().unwrap();
        assert!(message.contains(want), "want '{want}' in {message}");
        let got = app
            .post("/compatibility/subjects/bad/versions/latest", body)
            .await;
        assert_error(&got, 422, 42201);
    }
    // A reference to a version that does not exist.
    let got = app
        .post("/subjects/orders-value/versions", proto(ORDER, money_ref()))
        .await;
    assert!(got.0.is_client_error(), "{got:?}");
    assert_eq!(app.get("/subjects").await.1, before);
    assert_eq!(app.get("/schemas").await.1, schemas_before);
}
