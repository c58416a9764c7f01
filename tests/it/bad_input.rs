//! Bad input gets its documented status and code, stores nothing, and the server keeps serving.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, on_both_backends, read, TestApp, CT};

on_both_backends!(
    bad_requests_store_nothing,
    oversized_bodies,
    incompatible_code_setting_409
);

async fn raw_post(
    app: &TestApp,
    path: &str,
    body: impl Into<reqwest::Body>,
) -> (StatusCode, Value) {
    let r = app
        .client
        .post(app.url(path))
        .header("content-type", CT)
        .body(body)
        .send()
        .await
        .unwrap();
    read(r).await
}

async fn bad_requests_store_nothing(app: TestApp) {
    let p = "/subjects/victim/versions";
    assert_error(&raw_post(&app, p, "{\"schema\": ").await, 400, 400);
    assert_error(&raw_post(&app, p, "this is not json").await, 400, 400);
    assert_error(&raw_post(&app, p, "").await, 400, 400);
    assert_error(&raw_post(&app, p, vec![0xff, 0xfe, 0x00]).await, 400, 400);
    // Well-formed JSON of the wrong shape.
    assert_error(&app.post(p, json!({"schema": 42})).await, 422, 422);
    assert_error(&app.post(p, json!([1, 2])).await, 422, 422);
    // Invalid Avro, each with a message that says what and where.
    for (schema, needle) in [
        (
            json!({"type": "record", "name": "R", "fields": [{"name": "a", "type": "strin"}]}),
            "strin",
        ),
        (
            json!({"type": "record", "name": "R", "fields": [{"name": "a", "type": "int"}, {"name": "a", "type": "int"}]}),
            "duplicate field name 'a'",
        ),
        (
            json!({"type": "record", "name": "R", "fields": [{"name": "a", "type": "int", "default": "x"}]}),
            "a",
        ),
        (json!({"type": "record", "name": "9R", "fields": []}), "9R"),
        (
            json!({"type": "enum", "name": "E", "symbols": ["A", "A"]}),
            "duplicate enum symbol",
        ),
        (
            json!({"type": "record", "name": "R", "fields": [{"name": "a", "type": ["null", "int"], "default": "x"}]}),
            "default",
        ),
    ] {
        let got = app.post(p, json!({"schema": schema.to_string()})).await;
        assert_error(&got, 422, 42201);
        assert!(
            got.1["message"].as_str().unwrap().contains(needle),
            "{needle}: {}",
            got.1
        );
    }
    assert_error(
        &app.post(p, json!({"schema": "{not json"})).await,
        422,
        42201,
    );
    assert_error(
        &app.post(p, json!({"schema": "\"int\"", "schemaType": "XML"}))
            .await,
        422,
        42201,
    );
    assert_error(
        &app.post("/subjects/a%01b/versions", json!({"schema": "\"int\""}))
            .await,
        422,
        42208,
    );
    assert_error(
        &app.post("/subjects/__GLOBAL/versions", json!({"schema": "\"int\""}))
            .await,
        422,
        42208,
    );
    assert_error(&app.get("/subjects/victim/versions/abc").await, 422, 42202);
    assert_error(&app.get("/subjects/victim/versions/0").await, 422, 42202);
    assert_error(
        &app.delete("/subjects/victim/versions/-2").await,
        422,
        42202,
    );
    assert_error(&app.get("/schemas/ids/notanumber").await, 404, 404);
    assert_error(&app.get("/no/such/path").await, 404, 404);
    let r = app.client.patch(app.url("/subjects")).send().await.unwrap();
    assert_error(&read(r).await, 405, 405);

    // Nothing was stored, and the server still serves.
    assert_eq!(app.get("/subjects?deleted=true").await.1, json!([]));
    assert_eq!(app.get("/schemas?deleted=true").await.1, json!([]));
    assert_error(&app.get("/schemas/ids/1").await, 404, 40403);
    assert_eq!(app.register_ok("victim", &json!("int")).await, 1);
}

async fn oversized_bodies(app: TestApp) {
    // Bodies far larger than the socket buffers: the server reads the rest of a moderately
    // oversized body before answering, so the client reads the 413 instead of a reset.
    let app = TestApp::spawn_with(app.backend, |c| {
        c.max_body_bytes = 64 * 1024;
        c.max_schema_bytes = 32 * 1024;
    })
    .await;
    let huge = format!("{{\"schema\": \"{}\"}}", "x".repeat(1024 * 1024));
    // Over the body limit by its Content-Length: 413 before anything is parsed.
    assert_error(
        &raw_post(&app, "/subjects/big/versions", huge.clone()).await,
        413,
        41301,
    );
    // Without a Content-Length (chunked), the limit still holds.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = huge
        .into_bytes()
        .chunks(8 * 1024)
        .map(|c| Ok(c.to_vec()))
        .collect();
    let r = app
        .client
        .post(app.url("/subjects/big/versions"))
        .header("content-type", CT)
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    assert_error(&read(r).await, 413, 41301);
    // Under the body limit but over the schema limit: 42209.
    let doc = "d".repeat(40 * 1024);
    let schema = json!({"type": "record", "name": "R", "doc": doc, "fields": []});
    assert_error(
        &app.post(
            "/subjects/big/versions",
            json!({"schema": schema.to_string()}),
        )
        .await,
        422,
        42209,
    );
    // An oversized schema is refused for its size before anything parses it: 42209 even when
    // it would not parse, on registration, lookup and compatibility tests alike.
    let junk = json!({"schema": format!("{{not a schema {}", "x".repeat(40 * 1024))});
    for path in [
        "/subjects/big/versions",
        "/subjects/big",
        "/compatibility/subjects/big/versions/latest",
    ] {
        assert_error(&app.post(path, junk.clone()).await, 422, 42209);
    }
    assert_eq!(app.get("/subjects").await.1, json!([]));
    assert_eq!(app.get("/").await.0, StatusCode::OK);
}

async fn incompatible_code_setting_409(app: TestApp) {
    // The default is 40901; this test's twin server is configured for 409.
    let legacy = TestApp::spawn_with(app.backend, |c| c.incompatible_error_code = 409).await;
    for a in [&app, &legacy] {
        a.register_ok(
            "s",
            &json!({"type": "record", "name": "R", "fields": [{"name": "a", "type": "int"}]}),
        )
        .await;
    }
    let newer = json!({"type": "record", "name": "R", "fields": [{"name": "b", "type": "int"}]});
    assert_error(&app.register("s", &newer).await, 409, 40901);
    assert_error(&legacy.register("s", &newer).await, 409, 409);
}

/// When the database goes away, answers are 500/50001 with a generic message (the cause is only
/// logged), readiness says 503, and liveness still answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_failure_is_50001() {
    let app = TestApp::spawn(crate::helpers::Backend::Postgres).await;
    app.register_ok("s", &json!("int")).await;
    let url = app.database_url.clone().unwrap();
    let name = url.rsplit('/').next().unwrap().to_owned();
    crate::helpers::admin_exec(format!("DROP DATABASE {name} WITH (FORCE)"));
    let got = app.get("/subjects").await;
    assert_error(&got, 500, 50001);
    assert_eq!(got.1["message"], "Error in the backend data store");
    assert_error(&app.get("/health/ready").await, 503, 50301);
    assert_eq!(app.get("/health/live").await.0, StatusCode::OK);
}
