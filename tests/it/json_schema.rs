//! JSON Schema through the API: a `$ref` to another subject, drafts, normalize, compatibility
//! with paths, payload validation, and bad input refused with nothing stored.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, on_both_backends, TestApp};

on_both_backends!(
    json_schema_references,
    json_schema_compatibility,
    json_schema_bad_input_stores_nothing,
);

fn schema(s: &Value, refs: Value) -> Value {
    json!({"schemaType": "JSON", "schema": s.to_string(), "references": refs})
}

fn address() -> Value {
    json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {"city": {"type": "string"}, "zip": {"type": "string", "pattern": "^[0-9]{4,5}$"}},
        "required": ["city"]
    })
}

fn customer() -> Value {
    json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "home": {"$ref": "address.json"},
            "previous": {"type": "array", "items": {"$ref": "address.json"}},
            "parent": {"$ref": "#"}
        },
        "required": ["name", "home"],
        "additionalProperties": false
    })
}

fn address_ref() -> Value {
    json!([{"name": "address.json", "subject": "address", "version": 1}])
}

async fn json_schema_references(app: TestApp) {
    let (s, r) = app
        .post("/subjects/address/versions", schema(&address(), json!([])))
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let (s, r) = app
        .post(
            "/subjects/customers-value/versions",
            schema(&customer(), address_ref()),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let id = r["id"].as_i64().unwrap();
    let (_, got) = app.get(&format!("/schemas/ids/{id}")).await;
    assert_eq!(got["schemaType"], "JSON");
    assert_eq!(got["references"], address_ref());
    assert_eq!(
        serde_json::from_str::<Value>(got["schema"].as_str().unwrap()).unwrap(),
        customer()
    );

    // Key order is not identity once normalized.
    let reordered: Value = serde_json::from_str(
        &customer()
            .to_string()
            .replace("\"type\":\"object\",", "")
            .replacen('{', "{\"type\":\"object\",", 1),
    )
    .unwrap();
    assert_eq!(reordered, customer());
    let (s, r) = app
        .post(
            "/subjects/customers-value?normalize=true",
            schema(&reordered, address_ref()),
        )
        .await;
    assert_eq!((s, r["id"].as_i64()), (StatusCode::OK, Some(id)), "{r}");

    let path = "/accord/v1/validate/subjects/customers-value/versions/latest";
    let good = json!({"name": "Ada", "home": {"city": "Oslo", "zip": "0150"},
        "previous": [{"city": "Bergen"}], "parent": {"name": "Bo", "home": {"city": "Oslo"}}});
    let (s, v) = app
        .post(
            path,
            json!({"payload": good.to_string(), "encoding": "utf8"}),
        )
        .await;
    assert_eq!(
        (s, v["valid"].as_bool()),
        (StatusCode::OK, Some(true)),
        "{v}"
    );
    for (bad, at) in [
        (json!({"name": "Ada"}), "home"),
        (json!({"name": "Ada", "home": {"zip": "0150"}}), "city"),
        (
            json!({"name": "Ada", "home": {"city": "Oslo", "zip": "x"}}),
            "/home/zip",
        ),
        (
            json!({"name": "Ada", "home": {"city": "Oslo"}, "age": 3}),
            "age",
        ),
        (
            json!({"name": "Ada", "home": {"city": "Oslo"}, "parent": {"name": 1, "home": {"city": "x"}}}),
            "/parent/name",
        ),
    ] {
        let (_, v) = app
            .post(
                path,
                json!({"payload": bad.to_string(), "encoding": "utf8"}),
            )
            .await;
        assert_eq!(v["valid"], false, "{bad} -> {v}");
        assert!(v["error"].as_str().unwrap().contains(at), "{at}: {v}");
    }
    let (_, v) = app
        .post(path, json!({"payload": "{\"name\":", "encoding": "utf8"}))
        .await;
    assert_eq!(v["valid"], false);
    assert!(v["error"].as_str().unwrap().contains("not JSON"), "{v}");

    assert_error(
        &app.delete("/subjects/address/versions/1").await,
        422,
        42206,
    );
    let (_, by) = app.get("/subjects/address/versions/1/referencedby").await;
    assert_eq!(by, json!([id]));
}

async fn json_schema_compatibility(app: TestApp) {
    let v1 = json!({"type": "object", "properties": {"id": {"type": "integer"}, "note": {"type": "string"}},
        "required": ["id"], "additionalProperties": false});
    let (s, r) = app
        .post("/subjects/events/versions", schema(&v1, json!([])))
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");

    // Closed model: an optional property may be added; integer widens to number.
    let v2 = json!({"type": "object", "properties": {"id": {"type": "number"}, "note": {"type": "string"},
        "source": {"type": "string"}}, "required": ["id"], "additionalProperties": false});
    let (s, r) = app
        .post("/subjects/events/versions", schema(&v2, json!([])))
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");

    // Removing a property from a closed model breaks old data; the path is named.
    let v3 = json!({"type": "object", "properties": {"id": {"type": "number"}, "source": {"type": "string"}},
        "required": ["id"], "additionalProperties": false});
    let got = app
        .post("/subjects/events/versions", schema(&v3, json!([])))
        .await;
    assert_error(&got, 409, 40901);
    let message = got.1["message"].as_str().unwrap();
    assert!(
        message.contains("PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL"),
        "{message}"
    );
    assert!(message.contains("#/properties/note"), "{message}");

    // Narrowing number back to integer under BACKWARD_TRANSITIVE is checked against v2.
    let (s, _) = app
        .put(
            "/config/events",
            json!({"compatibility": "BACKWARD_TRANSITIVE"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, r) = app
        .post(
            "/compatibility/subjects/events/versions?verbose=true",
            schema(&v1, json!([])),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(r["is_compatible"], false, "{r}");
    let messages = r["messages"].to_string();
    assert!(messages.contains("TYPE_NARROWED"), "{messages}");
    assert!(messages.contains("#/properties/id'"), "{messages}");

    // Every draft registers.
    for (i, uri) in [
        "http://json-schema.org/draft-04/schema#",
        "http://json-schema.org/draft-06/schema#",
        "http://json-schema.org/draft-07/schema#",
        "https://json-schema.org/draft/2019-09/schema",
        "https://json-schema.org/draft/2020-12/schema",
    ]
    .iter()
    .enumerate()
    {
        let s2 =
            json!({"$schema": uri, "type": "object", "properties": {"n": {"type": "integer"}}});
        let (s, r) = app
            .post(
                &format!("/subjects/draft-{i}/versions"),
                schema(&s2, json!([])),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{uri}: {r}");
    }
}

async fn json_schema_bad_input_stores_nothing(app: TestApp) {
    let before = app.get("/subjects").await.1;
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"schemaType": "JSON", "schema": "{\"type\": \"object\","}),
            "invalid JSON",
        ),
        (
            schema(
                &json!({"$schema": "http://example.com/my-meta", "type": "object"}),
                json!([]),
            ),
            "unknown $schema",
        ),
        (
            schema(&json!({"type": "objekt"}), json!([])),
            "Invalid schema",
        ),
        (
            schema(&json!({"type": "string", "maxLength": -3}), json!([])),
            "maxLength",
        ),
        (
            schema(&json!({"type": "object", "required": "id"}), json!([])),
            "required",
        ),
        (
            schema(
                &json!({"properties": {"a": {"$ref": "nowhere.json"}}}),
                json!([]),
            ),
            "nowhere.json",
        ),
        (
            json!({"schemaType": "JSON", "schema": "[1, 2]"}),
            "object or a boolean",
        ),
    ];
    for (body, want) in cases {
        let got = app.post("/subjects/bad/versions", body.clone()).await;
        assert_error(&got, 422, 42201);
        let message = got.1["message"].as_str().unwrap();
        assert!(message.contains(want), "want '{want}' in {message}");
    }
    // A JSON schema cannot reference an Avro one.
    let (s, _) = app
        .post(
            "/subjects/avro-thing/versions",
            json!({"schema": "{\"type\":\"string\"}"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let got = app
        .post(
            "/subjects/bad/versions",
            schema(
                &json!({"$ref": "thing.json"}),
                json!([{"name": "thing.json", "subject": "avro-thing", "version": 1}]),
            ),
        )
        .await;
    assert_error(&got, 422, 42201);
    let after: Vec<String> = serde_json::from_value(app.get("/subjects").await.1).unwrap();
    let mut expected: Vec<String> = serde_json::from_value(before).unwrap();
    expected.push("avro-thing".into());
    assert_eq!(after, expected);
}
