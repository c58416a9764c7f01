//! Drop-in conformance, round two: corners where the Confluent registry answers in a specific
//! way (error texts, empty subjects, blank schemas, content negotiation, wide encodings, the
//! guid / metadata / context endpoints, tombstoning), on both backends.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, on_both_backends, read, record, TestApp, CT};

on_both_backends!(
    reference_error_names_the_schema_key,
    compatibility_against_a_subject_without_live_versions,
    blank_schemas,
    accept_header_negotiation,
    unsupported_media_type_text,
    wide_encoded_bodies,
    schemas_by_guid,
    latest_with_metadata,
    delete_context,
    re_registration_tombstones_soft_deleted_versions,
    avro_primitive_attributes_canonicalise,
    avro_union_default_of_any_branch,
    avro_namespaces_as_java_checks_them,
    avro_incompatibility_wording,
    protobuf_builtin_imports,
    protobuf_validation_resolves_type_names_only,
    protobuf_text_layout,
    reserved_fields_in_metadata,
);

fn user(extra: &[Value]) -> Value {
    let mut fields = vec![json!({"name": "id", "type": "long"})];
    fields.extend_from_slice(extra);
    record("User", &fields)
}

async fn reference_error_names_the_schema_key(app: TestApp) {
    app.register_ok(
        "address",
        &record("Address", &[json!({"name": "city", "type": "string"})]),
    )
    .await;
    let refs = json!([{"name": "Address", "subject": "address", "version": 1}]);
    let order = record("Order", &[json!({"name": "to", "type": "Address"})]);
    let (s, r) = app
        .post(
            "/subjects/orders/versions",
            json!({"schema": order.to_string(), "references": refs}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let got = app.delete("/subjects/address/versions/1").await;
    assert_error(&got, 422, 42206);
    assert_eq!(
        got.1["message"],
        "One or more references exist to the schema {magic=1,keytype=SCHEMA,subject=address,version=1}."
    );
}

async fn compatibility_against_a_subject_without_live_versions(app: TestApp) {
    app.register_ok("gone", &user(&[])).await;
    assert_eq!(app.delete("/subjects/gone").await.0, StatusCode::OK);
    let body = json!({"schema": user(&[]).to_string()});
    // A numbered version of a subject with nothing live: 40402 "Version n not found."
    let got = app
        .post("/compatibility/subjects/gone/versions/1", body.clone())
        .await;
    assert_error(&got, 404, 40402);
    assert_eq!(got.1["message"], "Version 1 not found.");
    // Against `latest` nothing can break, but the schema is still parsed.
    let (s, r) = app
        .post("/compatibility/subjects/gone/versions/latest", body)
        .await;
    assert_eq!(
        (s, r["is_compatible"].clone()),
        (StatusCode::OK, json!(true))
    );
    let bad = json!({"schema": "{\"type\": \"record\", \"name\": \"X\"}"});
    let got = app
        .post("/compatibility/subjects/gone/versions/latest", bad.clone())
        .await;
    assert_error(&got, 422, 42201);
    let (s, r) = app
        .post(
            "/compatibility/subjects/gone/versions/latest?verbose=true",
            bad,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["is_compatible"], false);
    assert!(!r["messages"].as_array().unwrap().is_empty(), "{r}");
}

async fn blank_schemas(app: TestApp) {
    for body in [json!({"schema": ""}), json!({"schema": "   "}), json!({})] {
        let got = app.post("/subjects/s/versions", body.clone()).await;
        assert_error(&got, 422, 42201);
        assert_eq!(got.1["message"], "Empty schema", "{body}");
        let got = app
            .post("/compatibility/subjects/s/versions/latest", body.clone())
            .await;
        assert_error(&got, 422, 42201);
        // A lookup with no schema: 40401 while the subject does not exist...
        assert_error(&app.post("/subjects/s", body.clone()).await, 404, 40401);
    }
    // Nothing was stored by the blank attempts.
    assert_error(&app.get("/subjects/s/versions").await, 404, 40401);
    app.register_ok("s", &user(&[])).await;
    for body in [json!({"schema": ""}), json!({})] {
        // ...and 40403 once it does.
        assert_error(&app.post("/subjects/s", body).await, 404, 40403);
    }
    // Once the subject has a version, a blank registration stands for that version's schema:
    // unchanged, it is the same version; with new metadata, a new version of the same schema.
    let (s, r) = app
        .post("/subjects/s/versions", json!({"schema": ""}))
        .await;
    assert_eq!((s, r["version"].clone()), (StatusCode::OK, json!(1)), "{r}");
    let (s, r) = app
        .post(
            "/subjects/s/versions",
            json!({"metadata": {"properties": {"owner": "alice"}}}),
        )
        .await;
    assert_eq!((s, r["version"].clone()), (StatusCode::OK, json!(2)), "{r}");
    let (_, v2) = app.get("/subjects/s/versions/2").await;
    assert_eq!(v2["metadata"]["properties"]["owner"], "alice");
    let (_, v1) = app.get("/subjects/s/versions/1").await;
    assert_eq!(v1["schema"], v2["schema"]);
}

async fn accept_header_negotiation(app: TestApp) {
    app.register_ok("n", &user(&[])).await;
    let get = |accept: &'static str| {
        let req = app.client.get(app.url("/subjects/n/versions/1"));
        async move {
            let r = req.header("accept", accept).send().await.expect("request");
            let ct = r
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_owned());
            let (s, body) = read(r).await;
            (s, ct, body)
        }
    };
    for (accept, want) in [
        ("*/*", "application/vnd.schemaregistry.v1+json"),
        (
            "application/vnd.schemaregistry.v1+json",
            "application/vnd.schemaregistry.v1+json",
        ),
        (
            "application/vnd.schemaregistry+json",
            "application/vnd.schemaregistry+json",
        ),
        ("application/json", "application/json"),
        (
            "application/json;q=0.9, application/vnd.schemaregistry+json;q=0.5",
            "application/json",
        ),
        (
            "text/html, application/*;q=0.2",
            "application/vnd.schemaregistry.v1+json",
        ),
    ] {
        let (s, ct, body) = get(accept).await;
        assert_eq!(s, StatusCode::OK, "{accept}: {body}");
        assert_eq!(ct.as_deref(), Some(want), "{accept}");
        assert_eq!(body["version"], 1);
    }
    for accept in ["text/html", "application/xml", "application/json;q=0"] {
        let (s, _, body) = get(accept).await;
        assert_eq!(s, StatusCode::NOT_ACCEPTABLE, "{accept}");
        assert_eq!(body["error_code"], 406);
        assert_eq!(body["message"], "HTTP 406 Not Acceptable");
    }
    // A refused Accept changes nothing: the write it came with is not made.
    let r = app
        .client
        .post(app.url("/subjects/other/versions"))
        .header("content-type", CT)
        .header("accept", "text/plain")
        .body(json!({"schema": user(&[]).to_string()}).to_string())
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::NOT_ACCEPTABLE);
    assert_error(&app.get("/subjects/other/versions").await, 404, 40401);
}

async fn unsupported_media_type_text(app: TestApp) {
    let r = app
        .client
        .post(app.url("/subjects/x/versions"))
        .header("content-type", "text/plain")
        .body(json!({"schema": user(&[]).to_string()}).to_string())
        .send()
        .await
        .expect("request");
    let got = read(r).await;
    assert_error(&got, 415, 415);
    assert_eq!(got.1["message"], "HTTP 415 Unsupported Media Type");
}

async fn wide_encoded_bodies(app: TestApp) {
    let schema = record(
        "Wide",
        &[json!({"name": "naive", "type": "string", "doc": "naïve é€ 🚀"})],
    );
    let text = json!({"schema": schema.to_string()}).to_string();
    let utf16le: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(text.encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    let utf16be: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
    let utf32le: Vec<u8> = text
        .chars()
        .flat_map(|c| (c as u32).to_le_bytes())
        .collect();
    let mut ids = Vec::new();
    for (subject, bytes, ct) in [
        ("w16le", utf16le, CT.to_owned()),
        ("w16be", utf16be, format!("{CT}; charset=UTF-16BE")),
        ("w32le", utf32le, CT.to_owned()),
    ] {
        let r = app
            .client
            .post(app.url(&format!("/subjects/{subject}/versions")))
            .header("content-type", ct)
            .body(bytes)
            .send()
            .await
            .expect("request");
        let (s, body) = read(r).await;
        assert_eq!(s, StatusCode::OK, "{subject}: {body}");
        ids.push(body["id"].clone());
    }
    // All three decoded to the same schema: one id, and its text came through intact.
    assert!(ids.windows(2).all(|w| w[0] == w[1]), "{ids:?}");
    let (_, got) = app
        .get(&format!("/schemas/ids/{}", ids[0].as_i64().unwrap()))
        .await;
    assert!(
        got["schema"].as_str().unwrap().contains("naïve é€ 🚀"),
        "{got}"
    );
    // A body that does not decode is a 400 and stores nothing.
    let r = app
        .client
        .post(app.url("/subjects/broken/versions"))
        .header("content-type", CT)
        .body(vec![0xFF, 0xFE, 0x7B, 0x00, 0x00, 0xD8])
        .send()
        .await
        .expect("request");
    assert_error(&read(r).await, 400, 400);
    assert_error(&app.get("/subjects/broken/versions").await, 404, 40401);
}

async fn schemas_by_guid(app: TestApp) {
    let schema = user(&[]);
    let (s, r) = app.register("g", &schema).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let guid = r["guid"].as_str().unwrap().to_owned();
    let r0_id = r["id"].clone();
    let (s, by_guid) = app.get(&format!("/schemas/guids/{guid}")).await;
    assert_eq!(s, StatusCode::OK, "{by_guid}");
    let (_, by_id) = app.get(&format!("/schemas/ids/{}", r["id"])).await;
    assert_eq!(by_guid["schema"], by_id["schema"]);
    let (s, raw) = app.get(&format!("/schemas/guids/{guid}/schema")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        raw,
        serde_json::from_str::<Value>(by_id["schema"].as_str().unwrap()).unwrap()
    );
    // Upper case is the same guid; an unknown or malformed one is 40403.
    assert_eq!(
        app.get(&format!("/schemas/guids/{}", guid.to_uppercase()))
            .await
            .0,
        StatusCode::OK
    );
    assert_error(
        &app.get("/schemas/guids/00000000-0000-0000-0000-000000000000")
            .await,
        404,
        40403,
    );
    assert_error(&app.get("/schemas/guids/not-a-guid").await, 404, 40403);
    // A schema registered only in another context is found too.
    let (s, r) = app
        .register(
            ":.other:h",
            &record("Other", &[json!({"name": "a", "type": "int"})]),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let (s, got) = app
        .get(&format!("/schemas/guids/{}", r["guid"].as_str().unwrap()))
        .await;
    assert_eq!(s, StatusCode::OK, "{got}");
    assert!(got["schema"].as_str().unwrap().contains("Other"));
    // The same schema in two contexts: one guid, an id in each.
    let (s, again) = app.register(":.other:g2", &schema).await;
    assert_eq!(s, StatusCode::OK, "{again}");
    assert_eq!(again["guid"], guid.as_str());
    let (s, ids) = app.get(&format!("/schemas/guids/{guid}/ids")).await;
    assert_eq!(s, StatusCode::OK, "{ids}");
    assert_eq!(
        ids,
        json!([{"context": ".", "id": r0_id}, {"context": ".other", "id": again["id"]}])
    );
    assert_error(
        &app.get("/schemas/guids/00000000-0000-0000-0000-000000000000/ids")
            .await,
        404,
        40403,
    );
}

async fn latest_with_metadata(app: TestApp) {
    let with = |schema: Value, props: Value| json!({"schema": schema.to_string(), "metadata": {"properties": props}});
    for (i, owner) in ["alice", "bob", "alice"].iter().enumerate() {
        let extra: Vec<Value> = (0..i)
            .map(|n| json!({"name": format!("f{n}"), "type": "int", "default": 0}))
            .collect();
        let (s, r) = app
            .post(
                "/subjects/m/versions",
                with(user(&extra), json!({"owner": owner, "team": "core"})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{r}");
    }
    let (s, r) = app.get("/subjects/m/metadata?key=owner&value=bob").await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["version"], 2);
    assert_eq!(r["metadata"]["properties"]["owner"], "bob");
    let (_, r) = app
        .get("/subjects/m/metadata?key=owner&value=alice&key=team&value=core")
        .await;
    assert_eq!(r["version"], 3, "the newest match wins");
    // Soft-deleted versions count only with deleted=true.
    assert_eq!(app.delete("/subjects/m/versions/2").await.0, StatusCode::OK);
    assert_error(
        &app.get("/subjects/m/metadata?key=owner&value=bob").await,
        404,
        40403,
    );
    let (s, r) = app
        .get("/subjects/m/metadata?key=owner&value=bob&deleted=true")
        .await;
    assert_eq!((s, r["version"].clone()), (StatusCode::OK, json!(2)));
    assert_error(
        &app.get("/subjects/m/metadata?key=owner&value=carol").await,
        404,
        40403,
    );
    assert_error(
        &app.get("/subjects/none/metadata?key=a&value=b").await,
        404,
        40401,
    );
}

async fn delete_context(app: TestApp) {
    app.register_ok(":.pay:orders", &user(&[])).await;
    let (s, _) = app
        .put("/config/:.pay:", json!({"compatibility": "FULL"}))
        .await;
    assert_eq!(s, StatusCode::OK);
    let got = app.delete("/contexts/.pay").await;
    assert_error(&got, 422, 42211);
    assert_eq!(
        got.1["message"],
        "The specified context '.pay' is not empty."
    );
    // Soft-deleted subjects still hold the context.
    assert_eq!(app.delete("/subjects/:.pay:orders").await.0, StatusCode::OK);
    assert_error(&app.delete("/contexts/pay").await, 422, 42211);
    assert_eq!(
        app.delete("/subjects/:.pay:orders?permanent=true").await.0,
        StatusCode::OK
    );
    let (s, body) = app.delete("/contexts/.pay").await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{body}");
    // Its context-level config went with it, and the context is no longer listed.
    let (_, contexts) = app.get("/contexts").await;
    assert!(
        !contexts.as_array().unwrap().contains(&json!(".pay")),
        "{contexts}"
    );
    let (_, config) = app.get("/config/:.pay:?defaultToGlobal=true").await;
    assert_ne!(config["compatibilityLevel"], "FULL", "{config}");
    // Deleting an empty context again is fine.
    assert_eq!(app.delete("/contexts/.pay").await.0, StatusCode::NO_CONTENT);
}

async fn re_registration_tombstones_soft_deleted_versions(app: TestApp) {
    let v1 = user(&[]);
    let v2 = user(&[json!({"name": "email", "type": "string", "default": ""})]);
    let id1 = app.register_ok("t", &v1).await;
    app.register_ok("t", &v2).await;
    assert_eq!(app.delete("/subjects/t/versions/1").await.0, StatusCode::OK);
    let (_, listed) = app.get("/subjects/t/versions?deleted=true").await;
    assert_eq!(listed, json!([1, 2]));
    // Registering v1's schema again makes version 3 and removes the soft-deleted version 1.
    let (s, r) = app.register("t", &v1).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(
        (r["id"].as_i64(), r["version"].as_i64()),
        (Some(id1), Some(3))
    );
    let (_, listed) = app.get("/subjects/t/versions?deleted=true").await;
    assert_eq!(listed, json!([2, 3]));
    assert_error(
        &app.get("/subjects/t/versions/1?deleted=true").await,
        404,
        40402,
    );
    // The schema itself is still served by id.
    assert_eq!(
        app.get(&format!("/schemas/ids/{id1}")).await.0,
        StatusCode::OK
    );
}

async fn avro_primitive_attributes_canonicalise(app: TestApp) {
    let decorated = record(
        "P",
        &[json!({"name": "a", "type": {"type": "int", "name": "x", "doc": "d", "aliases": ["y"]}})],
    );
    let plain = record("P", &[json!({"name": "a", "type": "int"})]);
    let id = app.register_ok("p", &decorated).await;
    let (_, stored) = app.get(&format!("/schemas/ids/{id}")).await;
    assert_eq!(
        serde_json::from_str::<Value>(stored["schema"].as_str().unwrap()).unwrap(),
        plain
    );
    // The bare form finds it and registers as the same version; so does a bare primitive.
    let (s, found) = app
        .post("/subjects/p", json!({"schema": plain.to_string()}))
        .await;
    assert_eq!((s, found["version"].clone()), (StatusCode::OK, json!(1)));
    assert_eq!(app.register_ok("p", &plain).await, id);
    let top = app
        .register_ok("q", &json!({"type": "string", "name": "n", "doc": "text"}))
        .await;
    assert_eq!(app.register_ok("q", &json!("string")).await, top);
    // Properties that are not reserved stay (a logical type is not dropped).
    let uuid = json!({"type": "string", "logicalType": "uuid", "doc": "an id"});
    let id = app.register_ok("u", &uuid).await;
    let (_, stored) = app.get(&format!("/schemas/ids/{id}")).await;
    assert_eq!(
        serde_json::from_str::<Value>(stored["schema"].as_str().unwrap()).unwrap(),
        json!({"type": "string", "logicalType": "uuid"})
    );
}

async fn avro_union_default_of_any_branch(app: TestApp) {
    let schema = record(
        "U",
        &[json!({"name": "a", "type": ["null", "string"], "default": "x"})],
    );
    let (s, r) = app.register("u", &schema).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    // A default no branch takes is still refused, and nothing is stored.
    let bad = record(
        "V",
        &[json!({"name": "a", "type": ["null", "string"], "default": 5})],
    );
    assert_error(&app.register("v", &bad).await, 422, 42201);
    assert_error(&app.get("/subjects/v/versions").await, 404, 40401);
}

async fn avro_namespaces_as_java_checks_them(app: TestApp) {
    for schema in [
        json!({"type": "record", "name": "Event", "namespace": "foo-bar-baz", "fields": []}),
        json!({"type": "record", "name": "com.acme-corp.Event", "fields": [
            {"name": "kind", "type": {"type": "enum", "name": "Kind", "namespace": "9x", "symbols": ["A"]}}
        ]}),
    ] {
        let (s, r) = app.register("ns", &schema).await;
        assert_eq!(s, StatusCode::OK, "{schema}: {r}");
        assert_eq!(app.delete("/subjects/ns").await.0, StatusCode::OK);
        assert_eq!(
            app.delete("/subjects/ns?permanent=true").await.0,
            StatusCode::OK
        );
    }
    // The simple name itself must still be an identifier.
    for schema in [
        json!({"type": "record", "name": "9Event", "fields": []}),
        json!({"type": "record", "name": "ok.Bad-Name", "fields": []}),
    ] {
        assert_error(&app.register("ns", &schema).await, 422, 42201);
    }
}

async fn avro_incompatibility_wording(app: TestApp) {
    let fixed = |size: u32| {
        record(
            "R",
            &[json!({"name": "f", "type": {"type": "fixed", "name": "F", "size": size}})],
        )
    };
    for (v1, v2, want) in [
        (
            record("R", &[json!({"name": "a", "type": "int"})]),
            record("R", &[json!({"name": "a", "type": "string"})]),
            "The type (path '/fields/0/type') of a field in the new schema does not match with the old schema",
        ),
        (
            fixed(4),
            fixed(8),
            "The size of FIXED type field at path '/fields/0/type/size' in the new schema does not match with the old schema",
        ),
        (
            record("R", &[]),
            record("S", &[]),
            "The name of the schema has changed (path '/name')",
        ),
        (
            record("R", &[json!({"name": "e", "type": {"type": "enum", "name": "E", "symbols": ["A", "B", "C"]}})]),
            record("R", &[json!({"name": "e", "type": {"type": "enum", "name": "E", "symbols": ["A"]}})]),
            "The new schema is missing enum symbols '[B, C]' at path '/fields/0/type/symbols' in the old schema",
        ),
        (
            record("R", &[json!({"name": "u", "type": ["null", "int", "string"]})]),
            record("R", &[json!({"name": "u", "type": ["null", "int"]})]),
            "The new schema is missing a type inside a union field at path '/fields/0/type/2' in the old schema",
        ),
        (
            record("R", &[]),
            record("R", &[json!({"name": "b", "type": "int"})]),
            "The field 'b' at path '/fields/0' in the new schema has no default value and is missing in the old schema",
        ),
    ] {
        let subject = format!("w{}", uuid::Uuid::new_v4().simple());
        app.register_ok(&subject, &v1).await;
        let (s, r) = app
            .post(
                &format!("/compatibility/subjects/{subject}/versions/latest?verbose=true"),
                json!({"schema": v2.to_string()}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{r}");
        let messages = r["messages"].to_string();
        assert!(messages.contains(want), "{want}\nnot in {messages}");
    }
}

fn proto(text: &str) -> Value {
    json!({"schemaType": "PROTOBUF", "schema": text})
}

async fn protobuf_builtin_imports(app: TestApp) {
    let uses = [
        ("google/type/color.proto", "google.type.Color"),
        (
            "google/type/postal_address.proto",
            "google.type.PostalAddress",
        ),
        ("google/type/expr.proto", "google.type.Expr"),
        ("google/type/fraction.proto", "google.type.Fraction"),
        ("google/type/interval.proto", "google.type.Interval"),
        ("google/type/phone_number.proto", "google.type.PhoneNumber"),
        ("google/type/quaternion.proto", "google.type.Quaternion"),
        (
            "google/type/calendar_period.proto",
            "google.type.CalendarPeriod",
        ),
        ("google/type/datetime.proto", "google.type.DateTime"),
        ("confluent/type/variant.proto", "confluent.type.Variant"),
    ];
    for (i, (file, ty)) in uses.iter().enumerate() {
        let text = format!(
            "syntax = \"proto3\";\npackage acme;\nimport \"{file}\";\nmessage M{i} {{\n  {ty} value = 1;\n}}\n"
        );
        let (s, r) = app
            .post(&format!("/subjects/b{i}/versions"), proto(&text))
            .await;
        assert_eq!(s, StatusCode::OK, "{file}: {r}");
    }
}

async fn protobuf_validation_resolves_type_names_only(app: TestApp) {
    // An import nothing uses and no reference names, and custom options defined nowhere: the
    // reference registry accepts both, and so does Accord.
    for (subject, text) in [
        ("unused", "syntax = \"proto3\";\npackage acme;\nimport \"acme/unused.proto\";\nmessage A {\n  string a = 1;\n}\n"),
        ("opts", "syntax = \"proto3\";\npackage acme;\noption (acme.file_tag) = \"x\";\nmessage A {\n  option (acme.msg_tag) = true;\n  string a = 1 [(acme.field_tag) = 3];\n}\n"),
    ] {
        let (s, r) = app
            .post(&format!("/subjects/{subject}/versions"), proto(text))
            .await;
        assert_eq!(s, StatusCode::OK, "{subject}: {r}");
        // The text is kept as sent, and reads back.
        let (_, got) = app.get(&format!("/subjects/{subject}/versions/1")).await;
        assert_eq!(got["schema"], text.trim());
    }
    // Type names must still resolve: a type from the unnamed import is an error naming it.
    let text = "syntax = \"proto3\";\npackage acme;\nimport \"acme/money.proto\";\nmessage A {\n  acme.Money price = 1;\n}\n";
    let got = app.post("/subjects/typed/versions", proto(text)).await;
    assert_error(&got, 422, 42201);
    let message = got.1["message"].as_str().unwrap();
    assert!(message.contains("acme/money.proto"), "{message}");
    assert!(message.contains("default.proto"), "{message}");
    assert_error(&app.get("/subjects/typed/versions").await, 404, 40401);
}

async fn protobuf_text_layout(app: TestApp) {
    let text = "syntax = \"proto3\";\npackage acme;\nimport \"google/protobuf/timestamp.proto\";\noption java_package = \"com.acme\";\nmessage Order {\n  string id = 1;\n  google.protobuf.Timestamp at = 2;\n  message Line { int64 qty = 1; }\n}\nenum State { NEW = 0; DONE = 1; }\n";
    let spaced = "syntax = \"proto3\";\npackage acme;\n\nimport \"google/protobuf/timestamp.proto\";\n\noption java_package = \"com.acme\";\n\nmessage Order {\n  string id = 1;\n  .google.protobuf.Timestamp at = 2;\n\n  message Line {\n    int64 qty = 1;\n  }\n}\n\nenum State {\n  NEW = 0;\n  DONE = 1;\n}\n";
    let (s, r) = app.post("/subjects/text/versions", proto(text)).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let (_, serialized) = app.get("/subjects/text/versions/1?format=serialized").await;
    // Sent (alone) as a descriptor, the schema is shown in the reference layout.
    assert_eq!(app.delete("/subjects/text").await.0, StatusCode::OK);
    assert_eq!(
        app.delete("/subjects/text?permanent=true").await.0,
        StatusCode::OK
    );
    let (s, r) = app
        .post(
            "/subjects/descriptor/versions",
            proto(serialized["schema"].as_str().unwrap()),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let (_, got) = app.get("/subjects/descriptor/versions/1").await;
    assert_eq!(
        got["schema"].as_str().unwrap().trim_end(),
        spaced.trim_end()
    );
    // normalize=true stores the normalized text in the same layout.
    let (s, r) = app
        .post("/subjects/norm/versions?normalize=true", proto(text))
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let (_, got) = app.get("/subjects/norm/versions/1").await;
    assert_eq!(
        got["schema"].as_str().unwrap().trim_end(),
        spaced.trim_end()
    );
}

async fn reserved_fields_in_metadata(app: TestApp) {
    let reserved = |names: &str| json!({"properties": {"confluent:reserved": names}});
    let send = |schema: Value, metadata: Value| json!({"schema": schema.to_string(), "metadata": metadata});
    let (s, r) = app
        .post(
            "/subjects/r/versions",
            send(user(&[]), reserved("status, cost")),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let with_status = user(&[json!({"name": "status", "type": "string", "default": ""})]);
    // A field named like a reserved one is refused.
    let got = app
        .post(
            "/subjects/r/versions",
            send(with_status.clone(), reserved("status,cost")),
        )
        .await;
    assert_error(&got, 409, 40901);
    assert!(
        got.1["message"]
            .as_str()
            .unwrap()
            .contains("FIELD_CONFLICTS_WITH_RESERVED_FIELD"),
        "{}",
        got.1
    );
    // So is dropping a reservation.
    let got = app
        .post("/subjects/r/versions", send(user(&[]), reserved("cost")))
        .await;
    assert_error(&got, 409, 40901);
    assert!(got.1["message"]
        .as_str()
        .unwrap()
        .contains("RESERVED_FIELD_REMOVED"));
    // The compatibility endpoint says the same, and inherits the latest metadata when the
    // request gives none.
    let (_, r) = app
        .post(
            "/compatibility/subjects/r/versions/latest?verbose=true",
            json!({"schema": with_status.to_string()}),
        )
        .await;
    assert_eq!(r["is_compatible"], false, "{r}");
    // A field nobody reserved is fine.
    let other = user(&[json!({"name": "note", "type": "string", "default": ""})]);
    let (s, r) = app
        .post("/subjects/r/versions", send(other, reserved("cost,status")))
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(app.get("/subjects/r/versions").await.1, json!([1, 2]));
}
