//! The Confluent REST API end to end: every endpoint and error code, on both backends.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, on_both_backends, record, TestApp, CT};

on_both_backends!(
    root_types_and_health,
    register_read_and_dedup,
    content_types,
    lookup,
    compatibility_enforced_and_tested,
    config_endpoints,
    mode_endpoints_and_import,
    soft_and_permanent_deletes,
    references,
    contexts,
    listing_filters_and_paging,
    metadata_and_rule_set,
    reregistration_changes_nothing,
);

fn user(fields: &[Value]) -> Value {
    record("User", fields)
}

fn f(name: &str, ty: Value) -> Value {
    json!({ "name": name, "type": ty })
}

fn fd(name: &str, ty: Value, default: Value) -> Value {
    json!({ "name": name, "type": ty, "default": default })
}

async fn root_types_and_health(app: TestApp) {
    assert_eq!(app.get("/").await, (StatusCode::OK, json!({})));
    let (s, types) = app.get("/schemas/types").await;
    assert_eq!(s, StatusCode::OK);
    assert!(types.as_array().unwrap().contains(&json!("AVRO")));
    assert_eq!(app.get("/health/live").await.0, StatusCode::OK);
    assert_eq!(
        app.get("/health/ready").await,
        (StatusCode::OK, json!({"status": "UP"}))
    );
    let (s, v) = app.get("/v1/metadata/version").await;
    assert_eq!(s, StatusCode::OK);
    assert!(v["version"].is_string());
    let r = app
        .client
        .get(app.url("/schemas/types"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], CT);
}

async fn register_read_and_dedup(app: TestApp) {
    let v1 = user(&[f("id", json!("long"))]);
    let id = app.register_ok("users-value", &v1).await;
    assert!(id >= 1);

    let (s, body) = app.get(&format!("/schemas/ids/{id}")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body["schemaType"], "AVRO");
    let stored: Value = serde_json::from_str(body["schema"].as_str().unwrap()).unwrap();
    assert_eq!(stored, v1);

    let r = app
        .client
        .get(app.url(&format!("/schemas/ids/{id}/schema")))
        .send()
        .await
        .unwrap();
    let raw: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert_eq!(raw, v1);

    // Same schema again: same id, no new version. Whitespace and key order do not matter.
    let reordered =
        json!({"fields": [{"type": "long", "name": "id"}], "name": "User", "type": "record"});
    let (s, again) = app
        .post(
            "/subjects/users-value/versions",
            json!({"schema": serde_json::to_string_pretty(&reordered).unwrap()}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(again["id"].as_i64(), Some(id));
    assert_eq!(again["version"], 1);
    assert_eq!(
        app.get("/subjects/users-value/versions").await.1,
        json!([1])
    );

    // The same schema under another subject gets the same id.
    assert_eq!(app.register_ok("users-copy", &v1).await, id);
    let (_, subjects) = app.get(&format!("/schemas/ids/{id}/subjects")).await;
    assert_eq!(subjects, json!(["users-copy", "users-value"]));
    let (_, versions) = app.get(&format!("/schemas/ids/{id}/versions")).await;
    assert_eq!(
        versions,
        json!([{"subject": "users-copy", "version": 1}, {"subject": "users-value", "version": 1}])
    );

    // A compatible evolution gets a new id and version 2.
    let v2 = user(&[
        f("id", json!("long")),
        fd("name", json!("string"), json!("")),
    ]);
    let id2 = app.register_ok("users-value", &v2).await;
    assert_ne!(id2, id);
    for path in [
        "/subjects/users-value/versions/2",
        "/subjects/users-value/versions/latest",
        "/subjects/users-value/versions/-1",
    ] {
        let (s, v) = app.get(path).await;
        assert_eq!(s, StatusCode::OK, "{path}");
        assert_eq!(
            (
                v["subject"].as_str(),
                v["version"].as_i64(),
                v["id"].as_i64()
            ),
            (Some("users-value"), Some(2), Some(id2))
        );
    }
    let r = app
        .client
        .get(app.url("/subjects/users-value/versions/1/schema"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&r.text().await.unwrap()).unwrap(),
        v1
    );
    assert_eq!(
        app.get("/subjects").await.1,
        json!(["users-copy", "users-value"])
    );

    assert_error(&app.get("/schemas/ids/999").await, 404, 40403);
    assert_error(&app.get("/subjects/nope/versions").await, 404, 40401);
    assert_error(&app.get("/subjects/nope/versions/1").await, 404, 40401);
    assert_error(
        &app.get("/subjects/users-value/versions/9").await,
        404,
        40402,
    );
    assert_error(
        &app.get("/subjects/users-value/versions/abc").await,
        422,
        42202,
    );
    assert_error(
        &app.get("/subjects/users-value/versions/0").await,
        422,
        42202,
    );
}

async fn content_types(app: TestApp) {
    let schema = json!({"schema": "\"string\""}).to_string();
    for ct in [
        "application/vnd.schemaregistry.v1+json",
        "application/vnd.schemaregistry+json",
        "application/json",
        "application/octet-stream",
        "application/json; charset=utf-8",
    ] {
        let r = app
            .client
            .post(app.url("/subjects/ct/versions"))
            .header("content-type", ct)
            .body(schema.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{ct}");
        assert_eq!(r.headers()["content-type"], CT);
    }
    let r = app
        .client
        .post(app.url("/subjects/ct/versions"))
        .header("content-type", "text/plain")
        .body(schema)
        .send()
        .await
        .unwrap();
    let got = crate::helpers::read(r).await;
    assert_error(&got, 415, 415);
    assert_eq!(app.get("/subjects/ct/versions").await.1, json!([1]));
}

async fn lookup(app: TestApp) {
    let v1 = user(&[f("id", json!("long"))]);
    let id = app.register_ok("users-value", &v1).await;
    let (s, found) = app
        .post("/subjects/users-value", json!({"schema": v1.to_string()}))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        (
            found["id"].as_i64(),
            found["version"].as_i64(),
            found["subject"].as_str()
        ),
        (Some(id), Some(1), Some("users-value"))
    );

    let other = user(&[f("id", json!("int"))]);
    assert_error(
        &app.post(
            "/subjects/users-value",
            json!({"schema": other.to_string()}),
        )
        .await,
        404,
        40403,
    );
    assert_error(
        &app.post("/subjects/nobody", json!({"schema": v1.to_string()}))
            .await,
        404,
        40401,
    );
    assert_error(
        &app.post("/subjects/users-value", json!({"schema": "{\"type\":"}))
            .await,
        422,
        42201,
    );

    // normalize=true matches a schema written with namespaces instead of full names.
    let ns =
        json!({"type":"record","name":"U","namespace":"a.b","fields":[{"name":"x","type":"int"}]});
    app.register_ok("norm", &ns).await;
    let full = json!({"type":"record","name":"a.b.U","fields":[{"name":"x","type":"int"}]});
    assert_error(
        &app.post("/subjects/norm", json!({"schema": full.to_string()}))
            .await,
        404,
        40403,
    );
    let (s, _) = app
        .post(
            "/subjects/norm?normalize=true",
            json!({"schema": full.to_string()}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);

    // Soft-deleted versions match only with deleted=true.
    app.delete("/subjects/users-value/versions/1").await;
    assert_error(
        &app.post("/subjects/users-value", json!({"schema": v1.to_string()}))
            .await,
        404,
        40401,
    );
    let (s, found) = app
        .post(
            "/subjects/users-value?deleted=true",
            json!({"schema": v1.to_string()}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(found["deleted"], true);
}

async fn compatibility_enforced_and_tested(app: TestApp) {
    let v1 = user(&[f("id", json!("long"))]);
    app.register_ok("users-value", &v1).await;
    let bad = user(&[f("id", json!("long")), f("email", json!("string"))]);

    // Default BACKWARD: a new field without a default is refused, nothing stored.
    let got = app.register("users-value", &bad).await;
    assert_error(&got, 409, 40901);
    let msg = got.1["message"].as_str().unwrap();
    assert!(
        msg.contains("READER_FIELD_MISSING_DEFAULT_VALUE") && msg.contains("/fields/1"),
        "{msg}"
    );
    assert_eq!(
        app.get("/subjects/users-value/versions").await.1,
        json!([1])
    );

    // The compatibility endpoints say the same, with reasons when verbose.
    let body = json!({"schema": bad.to_string()});
    assert_eq!(
        app.post(
            "/compatibility/subjects/users-value/versions/latest",
            body.clone()
        )
        .await,
        (StatusCode::OK, json!({"is_compatible": false}))
    );
    let (_, verbose) = app
        .post(
            "/compatibility/subjects/users-value/versions/1?verbose=true",
            body.clone(),
        )
        .await;
    assert_eq!(verbose["is_compatible"], false);
    let messages = verbose["messages"].as_array().unwrap();
    assert!(
        messages[0].as_str().unwrap().contains("'/fields/1'"),
        "{verbose}"
    );
    assert!(
        messages.iter().any(|m| m == "{oldSchemaVersion: 1}"),
        "{verbose}"
    );
    let (_, all) = app
        .post("/compatibility/subjects/users-value/versions", body.clone())
        .await;
    assert_eq!(all["is_compatible"], false);
    let good = user(&[
        f("id", json!("long")),
        fd("email", json!("string"), json!("")),
    ]);
    let (_, ok) = app
        .post(
            "/compatibility/subjects/users-value/versions/latest",
            json!({"schema": good.to_string()}),
        )
        .await;
    assert_eq!(ok, json!({"is_compatible": true}));
    // No subject: latest is trivially compatible; a numbered version is not found (40402,
    // as the reference answers).
    let (s, v) = app
        .post("/compatibility/subjects/none/versions/latest", body.clone())
        .await;
    assert_eq!((s, v), (StatusCode::OK, json!({"is_compatible": true})));
    assert_error(
        &app.post("/compatibility/subjects/none/versions/1", body.clone())
            .await,
        404,
        40402,
    );
    assert_error(
        &app.post(
            "/compatibility/subjects/users-value/versions/7",
            body.clone(),
        )
        .await,
        404,
        40402,
    );
    // An invalid schema: 422, or a verdict with the parse error when verbose.
    let invalid = json!({"schema": "{\"type\":\"record\"}"});
    assert_error(
        &app.post(
            "/compatibility/subjects/users-value/versions/latest",
            invalid.clone(),
        )
        .await,
        422,
        42201,
    );
    let (s, v) = app
        .post(
            "/compatibility/subjects/users-value/versions/latest?verbose=true",
            invalid,
        )
        .await;
    assert_eq!(
        (s, v["is_compatible"].clone()),
        (StatusCode::OK, json!(false))
    );

    // force=true skips the check; NONE allows anything.
    let (s, forced) = app
        .post(
            "/subjects/users-value/versions?force=true",
            json!({"schema": bad.to_string()}),
        )
        .await;
    assert_eq!((s, forced["version"].as_i64()), (StatusCode::OK, Some(2)));
    app.put("/config/users-value", json!({"compatibility": "NONE"}))
        .await;
    app.register_ok("users-value", &json!("string")).await;

    // Transitive levels check every version, non-transitive only the latest.
    let s = "trans";
    app.put(
        &format!("/config/{s}"),
        json!({"compatibility": "BACKWARD"}),
    )
    .await;
    app.register_ok(s, &user(&[f("a", json!("int"))])).await;
    app.register_ok(s, &user(&[fd("b", json!("int"), json!(0))]))
        .await;
    let v3 = user(&[fd("b", json!("int"), json!(0)), f("a", json!("int"))]);
    // v3 reads v2 data? v2 lacks "a" which v3 requires without default: incompatible even at BACKWARD.
    assert_error(&app.register(s, &v3).await, 409, 40901);
    let v3 = user(&[
        fd("b", json!("int"), json!(0)),
        fd("c", json!("string"), json!("x")),
    ]);
    app.put(
        &format!("/config/{s}"),
        json!({"compatibility": "FORWARD_TRANSITIVE"}),
    )
    .await;
    // v1 (reads only "a") cannot read v3 data (no "a", and "a" has no default in v1).
    let got = app.register(s, &v3).await;
    assert_error(&got, 409, 40901);
    assert!(
        got.1["message"]
            .as_str()
            .unwrap()
            .contains("{oldSchemaVersion: 1}"),
        "{}",
        got.1
    );
    app.put(&format!("/config/{s}"), json!({"compatibility": "FORWARD"}))
        .await;
    app.register_ok(s, &v3).await;
}

async fn config_endpoints(app: TestApp) {
    assert_eq!(
        app.get("/config").await,
        (StatusCode::OK, json!({"compatibilityLevel": "BACKWARD"}))
    );
    assert_eq!(
        app.put("/config", json!({"compatibility": "FULL"})).await,
        (StatusCode::OK, json!({"compatibility": "FULL"}))
    );
    assert_eq!(
        app.get("/config").await.1,
        json!({"compatibilityLevel": "FULL"})
    );
    assert_error(
        &app.put("/config", json!({"compatibility": "SIDEWAYS"}))
            .await,
        422,
        42203,
    );
    assert_eq!(
        app.get("/config").await.1,
        json!({"compatibilityLevel": "FULL"})
    );

    assert_error(&app.get("/config/orders").await, 404, 40408);
    assert_eq!(
        app.get("/config/orders?defaultToGlobal=true").await.1["compatibilityLevel"],
        "FULL"
    );
    assert_eq!(
        app.put("/config/orders", json!({"compatibility": "none"}))
            .await
            .1,
        json!({"compatibility": "NONE"})
    );
    assert_eq!(
        app.get("/config/orders").await.1,
        json!({"compatibilityLevel": "NONE"})
    );
    assert_eq!(
        app.delete("/config/orders").await,
        (StatusCode::OK, json!({"compatibilityLevel": "NONE"}))
    );
    assert_error(&app.delete("/config/orders").await, 404, 40401);
    assert_error(
        &app.put("/config/bad%07subject", json!({"compatibility": "NONE"}))
            .await,
        422,
        42208,
    );

    // Other config fields are stored and echoed.
    let (s, v) = app
        .put(
            "/config/grp",
            json!({"compatibilityGroup": "application.major.version", "normalize": true}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        v,
        json!({"normalize": true, "compatibilityGroup": "application.major.version"})
    );

    assert_eq!(
        app.delete("/config").await.1,
        json!({"compatibilityLevel": "FULL"})
    );
    assert_eq!(
        app.get("/config").await.1,
        json!({"compatibilityLevel": "BACKWARD"})
    );
}

async fn mode_endpoints_and_import(app: TestApp) {
    assert_eq!(
        app.get("/mode").await,
        (StatusCode::OK, json!({"mode": "READWRITE"}))
    );
    assert_error(
        &app.put("/mode", json!({"mode": "SOMETIMES"})).await,
        422,
        42204,
    );
    assert_error(&app.get("/mode/orders").await, 404, 40409);
    assert_eq!(
        app.get("/mode/orders?defaultToGlobal=true").await.1,
        json!({"mode": "READWRITE"})
    );

    let v1 = user(&[f("id", json!("long"))]);
    app.register_ok("orders", &v1).await;
    assert_eq!(
        app.put("/mode/orders", json!({"mode": "READONLY"})).await.1,
        json!({"mode": "READONLY"})
    );
    // Read-only: re-registering the existing schema still answers; anything new is refused.
    assert_eq!(app.register("orders", &v1).await.0, StatusCode::OK);
    assert_error(&app.register("orders", &json!("string")).await, 422, 42205);
    assert_error(&app.delete("/subjects/orders/versions/1").await, 422, 42205);
    assert_eq!(
        app.delete("/mode/orders").await.1,
        json!({"mode": "READONLY"})
    );
    assert_error(&app.delete("/mode/orders").await, 404, 40401);
    assert_error(
        &app.put("/mode/orders", json!({"mode": "FORWARD"})).await,
        422,
        42204,
    );

    // IMPORT needs force where schemas exist; then explicit ids and versions are kept.
    assert_error(
        &app.put("/mode", json!({"mode": "IMPORT"})).await,
        422,
        42205,
    );
    assert_eq!(
        app.put("/mode/imported", json!({"mode": "IMPORT"})).await.1,
        json!({"mode": "IMPORT"})
    );
    let body = json!({"schema": json!("int").to_string(), "id": 100, "version": 7});
    let (s, r) = app.post("/subjects/imported/versions", body).await;
    assert_eq!(
        (s, r["id"].as_i64(), r["version"].as_i64()),
        (StatusCode::OK, Some(100), Some(7))
    );
    assert_eq!(app.get("/schemas/ids/100").await.1["schema"], "\"int\"");
    // The same id with another schema: 42207.
    let clash = json!({"schema": json!("long").to_string(), "id": 100, "version": 8});
    assert_error(
        &app.post("/subjects/imported/versions", clash).await,
        422,
        42207,
    );
    // Without an id in IMPORT mode, and with an id outside it: 42205.
    assert_error(
        &app.post("/subjects/imported/versions", json!({"schema": "\"long\""}))
            .await,
        422,
        42205,
    );
    assert_error(
        &app.post(
            "/subjects/orders/versions",
            json!({"schema": "\"long\"", "id": 5}),
        )
        .await,
        422,
        42205,
    );
    app.delete("/mode/imported").await;
    // Ids handed out later skip past imported ones.
    let next = app.register_ok("later", &json!("boolean")).await;
    assert!(next > 100, "{next}");
}

async fn soft_and_permanent_deletes(app: TestApp) {
    let v1 = user(&[f("id", json!("long"))]);
    let v2 = user(&[f("id", json!("long")), fd("n", json!("int"), json!(1))]);
    let id1 = app.register_ok("s", &v1).await;
    app.register_ok("s", &v2).await;

    assert_error(
        &app.delete("/subjects/s/versions/1?permanent=true").await,
        404,
        40407,
    );
    assert_eq!(
        app.delete("/subjects/s/versions/1").await,
        (StatusCode::OK, json!(1))
    );
    assert_error(&app.delete("/subjects/s/versions/1").await, 404, 40406);
    assert_eq!(app.get("/subjects/s/versions").await.1, json!([2]));
    assert_eq!(
        app.get("/subjects/s/versions?deleted=true").await.1,
        json!([1, 2])
    );
    assert_eq!(
        app.get("/subjects/s/versions?deletedOnly=true").await.1,
        json!([1])
    );
    assert_error(&app.get("/subjects/s/versions/1").await, 404, 40402);
    assert_eq!(
        app.get("/subjects/s/versions/1?deleted=true").await.1["deleted"],
        true
    );
    // Soft-deleted schemas stay readable by id: old data stays decodable.
    assert_eq!(
        app.get(&format!("/schemas/ids/{id1}")).await.0,
        StatusCode::OK
    );

    assert_eq!(
        app.delete("/subjects/s/versions/1?permanent=true").await,
        (StatusCode::OK, json!(1))
    );
    assert_error(&app.get(&format!("/schemas/ids/{id1}")).await, 404, 40403);
    assert_error(
        &app.delete("/subjects/s/versions/1?permanent=true").await,
        404,
        40402,
    );

    // Subject delete: soft, then permanent.
    assert_error(&app.delete("/subjects/s?permanent=true").await, 404, 40405);
    assert_eq!(
        app.delete("/subjects/s").await,
        (StatusCode::OK, json!([2]))
    );
    assert_error(&app.delete("/subjects/s").await, 404, 40404);
    assert_eq!(app.get("/subjects").await.1, json!([]));
    assert_eq!(app.get("/subjects?deleted=true").await.1, json!(["s"]));
    assert_eq!(app.get("/subjects?deletedOnly=true").await.1, json!(["s"]));
    assert_error(&app.get("/subjects/s/versions").await, 404, 40401);
    // Version numbers are never reused while soft-deleted versions exist.
    assert_eq!(app.register("s", &v1).await.1["version"], 3);
    assert_eq!(app.delete("/subjects/s").await.1, json!([3]));
    assert_eq!(
        app.delete("/subjects/s?permanent=true").await,
        (StatusCode::OK, json!([2, 3]))
    );
    assert_error(&app.delete("/subjects/s").await, 404, 40401);
    assert_eq!(app.get("/subjects?deleted=true").await.1, json!([]));
}

async fn references(app: TestApp) {
    let address = json!({"type":"record","name":"Address","namespace":"acme","fields":[{"name":"city","type":"string"}]});
    let addr_id = app.register_ok("address", &address).await;
    let order = json!({"type":"record","name":"Order","namespace":"acme","fields":[{"name":"ship_to","type":"acme.Address"}]});
    let refs = json!([{"name": "acme.Address", "subject": "address", "version": 1}]);

    // Without the reference the type is unknown: 42201.
    assert_error(&app.register("orders", &order).await, 422, 42201);
    // A reference to a missing subject version: 42201.
    let missing = json!([{"name": "acme.Address", "subject": "address", "version": 5}]);
    assert_error(
        &app.post(
            "/subjects/orders/versions",
            json!({"schema": order.to_string(), "references": missing}),
        )
        .await,
        422,
        42201,
    );

    let (s, r) = app
        .post(
            "/subjects/orders/versions",
            json!({"schema": order.to_string(), "references": refs.clone()}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let order_id = r["id"].as_i64().unwrap();
    assert_ne!(order_id, addr_id);
    assert_eq!(
        app.get(&format!("/schemas/ids/{order_id}")).await.1["references"],
        refs
    );
    assert_eq!(
        app.get("/subjects/orders/versions/1").await.1["references"],
        refs
    );
    assert_eq!(
        app.get("/subjects/address/versions/1/referencedby").await.1,
        json!([order_id])
    );
    // Lookup with the references finds it.
    let (s, _) = app
        .post(
            "/subjects/orders",
            json!({"schema": order.to_string(), "references": refs}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);

    // A referenced version cannot be deleted, soft or whole-subject.
    assert_error(
        &app.delete("/subjects/address/versions/1").await,
        422,
        42206,
    );
    assert_error(&app.delete("/subjects/address").await, 422, 42206);
    // Once the referrer is gone for good, it can.
    app.delete("/subjects/orders").await;
    assert_error(
        &app.delete("/subjects/address/versions/1?permanent=true")
            .await,
        404,
        40407,
    );
    assert_eq!(
        app.delete("/subjects/address/versions/1").await.0,
        StatusCode::OK
    );
    assert_error(
        &app.delete("/subjects/address/versions/1?permanent=true")
            .await,
        422,
        42206,
    );
    app.delete("/subjects/orders?permanent=true").await;
    assert_eq!(
        app.delete("/subjects/address/versions/1?permanent=true")
            .await
            .0,
        StatusCode::OK
    );
}

async fn contexts(app: TestApp) {
    let a = app.register_ok(":.pay:orders", &json!("string")).await;
    let b = app.register_ok("orders", &json!("long")).await;
    // Each context has its own id space.
    assert_eq!((a, b), (1, 1));
    assert_eq!(
        app.get("/subjects").await.1,
        json!([":.pay:orders", "orders"])
    );
    assert_eq!(app.get("/contexts").await.1, json!([".", ".pay"]));
    assert_eq!(
        app.get("/contexts/.pay/subjects").await.1,
        json!([":.pay:orders"])
    );
    assert_eq!(
        app.get("/contexts/.pay/subjects/orders/versions/1").await.1["schema"],
        "\"string\""
    );
    assert_eq!(
        app.get("/contexts/.pay/schemas/ids/1").await.1["schema"],
        "\"string\""
    );
    assert_eq!(app.get("/schemas/ids/1").await.1["schema"], "\"long\"");
    assert_eq!(
        app.get("/subjects/:.pay:orders/versions/latest").await.1["subject"],
        ":.pay:orders"
    );
    // Context-level config applies to its subjects.
    app.put("/contexts/.pay/config", json!({"compatibility": "NONE"}))
        .await;
    assert_eq!(
        app.get("/config/:.pay:orders?defaultToGlobal=true").await.1["compatibilityLevel"],
        "NONE"
    );
    let (s, r) = app
        .post(
            "/contexts/.pay/subjects/orders/versions",
            json!({"schema": "\"int\""}),
        )
        .await;
    assert_eq!((s, r["version"].as_i64()), (StatusCode::OK, Some(2)));
    assert_error(&app.register("orders", &json!("int")).await, 409, 40901);
}

async fn listing_filters_and_paging(app: TestApp) {
    for (i, s) in ["a-value", "b-value", "b-key"].iter().enumerate() {
        app.register_ok(s, &json!({"type": "fixed", "name": "F", "size": i + 1}))
            .await;
    }
    assert_eq!(
        app.get("/subjects?subjectPrefix=b-").await.1,
        json!(["b-key", "b-value"])
    );
    assert_eq!(
        app.get("/subjects?offset=1&limit=1").await.1,
        json!(["b-key"])
    );
    let (_, all) = app.get("/schemas").await;
    assert_eq!(all.as_array().unwrap().len(), 3);
    let (_, some) = app.get("/schemas?subjectPrefix=b-&limit=1").await;
    assert_eq!(some.as_array().unwrap().len(), 1);
    assert_eq!(some[0]["subject"], "b-key");
    app.put("/config/a-value", json!({"compatibility": "NONE"}))
        .await;
    app.register_ok("a-value", &json!("string")).await;
    let (_, latest) = app.get("/schemas?latestOnly=true&subjectPrefix=a-").await;
    assert_eq!(latest.as_array().unwrap().len(), 1);
    assert_eq!(latest[0]["version"], 2);
    assert_error(&app.get("/subjects?limit=abc").await, 400, 400);
}

async fn metadata_and_rule_set(app: TestApp) {
    let metadata = json!({"properties": {"owner": "team-x"}, "tags": {"$.ssn": ["PII"]}});
    let rule_set = json!({"domainRules": [{"name": "checkLen", "kind": "CONDITION", "mode": "WRITE", "type": "CEL", "expr": "size(message.ssn) == 9"}]});
    let body = json!({"schema": "\"string\"", "metadata": metadata, "ruleSet": rule_set, "schemaTagsToAdd": []});
    let (s, r) = app.post("/subjects/m/versions", body).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["metadata"], metadata);
    let id = r["id"].as_i64().unwrap();
    let (_, got) = app.get(&format!("/schemas/ids/{id}")).await;
    assert_eq!(
        (got["metadata"].clone(), got["ruleSet"].clone()),
        (metadata.clone(), rule_set.clone())
    );
    assert_eq!(
        app.get("/subjects/m/versions/1").await.1["ruleSet"],
        rule_set
    );
    // The same schema with other metadata is another schema (new id, new version).
    let (s, r2) = app
        .post(
            "/subjects/m/versions",
            json!({"schema": "\"string\"", "metadata": {"properties": {"owner": "team-y"}}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_ne!(r2["id"].as_i64(), Some(id));
    assert_eq!(r2["version"], 2);
    let bad = json!({"schema": "\"string\"", "ruleSet": {"domainRules": [{"name": "1bad"}]}});
    assert_error(&app.post("/subjects/m/versions", bad).await, 422, 42210);
}

/// Issue 10: re-registering a schema the subject already has answers its version from a read,
/// in any mode and lifecycle, and records nothing; anything new still takes the full path.
async fn reregistration_changes_nothing(app: TestApp) {
    let a = user(&[f("id", json!("long"))]);
    let id = app.register_ok("re-value", &a).await;
    let (_, before) = app.get("/accord/v1/audit?action=subject.register").await;
    let (s, _) = app.put("/mode/re-value", json!({"mode": "READONLY"})).await;
    assert_eq!(s, StatusCode::OK);
    for _ in 0..3 {
        let (s, r) = app.register("re-value", &a).await;
        assert_eq!(
            (s, &r["id"], &r["version"]),
            (StatusCode::OK, &json!(id), &json!(1)),
            "{r}"
        );
        assert!(
            r["schema"].as_str().is_some_and(|t| t.contains("User")),
            "{r}"
        );
    }
    // A new schema in READONLY is refused as before.
    let b = user(&[f("id", json!("long")), f("n", json!(["null", "int"]))]);
    assert_error(&app.register("re-value", &b).await, 422, 42205);
    let (_, after) = app.get("/accord/v1/audit?action=subject.register").await;
    assert_eq!(before, after, "a re-registration is not a change");
    assert_eq!(app.get("/subjects/re-value/versions").await.1, json!([1]));
}
