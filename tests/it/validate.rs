//! `POST /accord/v1/validate/...`: a payload checked against a registered schema.

use apache_avro::types::Value as Avro;
use base64::Engine;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, on_both_backends, TestApp};

on_both_backends!(validates_avro_payloads);
on_both_backends!(validates_json_forms_of_payloads);

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Registers `address` (an Avro `acme.Address`) and `orders` (an `acme.Order` whose `ship_to`
/// field has the type `ship_to`, which names the address), both version 1: the order's id.
async fn address_and_order(app: &TestApp, ship_to: Value) -> (Value, Value, i64) {
    let address = json!({"type":"record","name":"Address","namespace":"acme","fields":[{"name":"city","type":"string"}]});
    app.register_ok("address", &address).await;
    let mut ship_to_field = json!({"name": "ship_to", "type": ship_to});
    if ship_to_field["type"].is_array() {
        ship_to_field["default"] = Value::Null;
    }
    let order = json!({"type":"record","name":"Order","namespace":"acme","fields":[
        {"name":"id","type":"long"}, ship_to_field]});
    let refs = json!([{"name": "acme.Address", "subject": "address", "version": 1}]);
    let (s, r) = app
        .post(
            "/subjects/orders/versions",
            json!({"schema": order.to_string(), "references": refs}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    (address, order, r["id"].as_i64().unwrap())
}

async fn validates_avro_payloads(app: TestApp) {
    let (address, order, id) = address_and_order(&app, json!("acme.Address")).await;

    let schemata =
        apache_avro::Schema::parse_list([address.to_string(), order.to_string()]).unwrap();
    let value = Avro::Record(vec![
        ("id".into(), Avro::Long(7)),
        (
            "ship_to".into(),
            Avro::Record(vec![("city".into(), Avro::String("Oslo".into()))]),
        ),
    ]);
    let datum = apache_avro::to_avro_datum_schemata(&schemata[1], schemata.iter().collect(), value)
        .unwrap();

    let path = "/accord/v1/validate/subjects/orders/versions/latest";
    let (s, v) = app.post(path, json!({"payload": b64(&datum)})).await;
    assert_eq!(
        (s, v.clone()),
        (
            StatusCode::OK,
            json!({"valid": true, "schemaId": id, "version": 1})
        )
    );
    let hex: String = datum.iter().map(|b| format!("{b:02x}")).collect();
    let (_, v) = app
        .post(
            "/accord/v1/validate/subjects/orders/versions/1",
            json!({"payload": hex, "encoding": "hex"}),
        )
        .await;
    assert_eq!(v["valid"], true);

    for (bad, why) in [
        (&datum[..datum.len() - 2], "ends early"),
        (&[datum.as_slice(), &[0]].concat()[..], "left over"),
    ] {
        let (s, v) = app.post(path, json!({"payload": b64(bad)})).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(v["valid"], false, "{v}");
        assert!(v["error"].as_str().unwrap().contains(why), "{v}");
    }
    assert_error(&app.post(path, json!({"payload": "%%%"})).await, 400, 400);
    assert_error(
        &app.post(
            "/accord/v1/validate/subjects/none/versions/1",
            json!({"payload": ""}),
        )
        .await,
        404,
        40401,
    );
    assert_error(
        &app.post(
            "/accord/v1/validate/subjects/orders/versions/9",
            json!({"payload": ""}),
        )
        .await,
        404,
        40402,
    );
    assert_error(
        &app.post(
            "/accord/v1/validate/subjects/orders/versions/x",
            json!({"payload": ""}),
        )
        .await,
        422,
        42202,
    );
}

/// `encoding: json`: the datum in each format's JSON form, for producers' test fixtures.
async fn validates_json_forms_of_payloads(app: TestApp) {
    address_and_order(&app, json!(["null", "acme.Address"])).await;
    let check = |subject: &'static str, payload: &'static str, strict: bool| {
        let app = &app;
        async move {
            let (s, v) = app
                .post(
                    &format!("/accord/v1/validate/subjects/{subject}/versions/latest"),
                    json!({"payload": payload, "encoding": "json", "allowUnknownFields": !strict}),
                )
                .await;
            assert_eq!(s, StatusCode::OK, "{v}");
            v
        }
    };
    // Avro: the JSON encoding (union branch named), plain JSON, a referenced type's fields.
    for ok in [
        r#"{"id": 7, "ship_to": {"acme.Address": {"city": "Oslo"}}}"#,
        r#"{"id": 7, "ship_to": {"city": "Oslo"}}"#,
        r#"{"id": 7}"#,
    ] {
        let v = check("orders", ok, true).await;
        assert_eq!(v["valid"], true, "{ok}: {v}");
    }
    let v = check("orders", r#"{"id": 7, "ship_to": {"town": "Oslo"}}"#, true).await;
    assert_eq!(v["valid"], false);
    assert!(v["error"].as_str().unwrap().contains("/ship_to"), "{v}");
    let v = check("orders", r#"{"id": "7"}"#, false).await;
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("/id is a string, not long"),
        "{v}"
    );

    // Protobuf: the JSON mapping of the first message.
    let proto = "syntax = \"proto3\";\npackage acme;\nmessage Reading { string sensor_id = 1; double celsius = 2; }\n";
    let (s, r) = app
        .post(
            "/subjects/readings/versions",
            json!({"schema": proto, "schemaType": "PROTOBUF"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let v = check("readings", r#"{"sensorId": "s1", "celsius": 21.5}"#, true).await;
    assert_eq!(v["valid"], true, "{v}");
    let v = check("readings", r#"{"sensorId": "s1", "celsius": "warm"}"#, true).await;
    assert_eq!(v["valid"], false, "{v}");
    let v = check("readings", r#"{"sensorId": "s1", "humidity": 3}"#, true).await;
    assert_eq!(v["valid"], false, "unknown field refused when strict: {v}");
    let v = check("readings", r#"{"sensorId": "s1", "humidity": 3}"#, false).await;
    assert_eq!(v["valid"], true, "{v}");

    // JSON Schema: the document itself.
    let schema =
        json!({"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]});
    let (s, r) = app
        .post(
            "/subjects/counts/versions",
            json!({"schema": schema.to_string(), "schemaType": "JSON"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(check("counts", r#"{"n": 3}"#, true).await["valid"], true);
    assert_eq!(check("counts", r#"{"m": 3}"#, true).await["valid"], false);
}
