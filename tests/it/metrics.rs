//! `GET /metrics` on the real binary: Prometheus text format, routes labelled by template.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Backend, TestApp};

#[tokio::test]
async fn metrics_by_route_template() {
    let app = TestApp::on_binary(Backend::Sqlite, &[]).await;
    let schema =
        json!({"type": "record", "name": "M", "fields": [{"name": "id", "type": "string"}]});
    app.register_ok("secret-orders-value", &schema).await;
    let breaking = json!({"type": "record", "name": "M",
        "fields": [{"name": "id", "type": "string"}, {"name": "n", "type": "int"}]});
    let (s, _) = app.register("secret-orders-value", &breaking).await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, v) = app
        .post(
            "/compatibility/subjects/secret-orders-value/versions/latest",
            json!({"schema": breaking.to_string()}),
        )
        .await;
    assert_eq!(
        (s, &v["is_compatible"]),
        (StatusCode::OK, &json!(false)),
        "{v}"
    );
    let (s, _) = app.get("/subjects/secret-orders-value/versions").await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = app.get("/no/such/path").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Let the follower see the registration.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;

    let r = app
        .client
        .get(app.url("/metrics"))
        .header("accept", "text/plain;version=0.0.4")
        .send()
        .await
        .expect("metrics");
    assert_eq!(r.status(), StatusCode::OK);
    let ct = r.headers()["content-type"]
        .to_str()
        .unwrap_or_default()
        .to_owned();
    assert!(ct.starts_with("application/openmetrics-text"), "{ct}");
    let text = r.text().await.expect("body");
    for line in [
        r#"accord_http_requests_total{method="POST",route="/subjects/{subject}/versions",status="200"} 1"#,
        r#"accord_http_requests_total{method="POST",route="/subjects/{subject}/versions",status="409"} 1"#,
        r#"accord_http_requests_total{method="GET",route="/subjects/{subject}/versions",status="200"} 1"#,
        r#"accord_http_requests_total{method="GET",route="unmatched",status="404"} 1"#,
        r#"accord_registrations_total{format="AVRO"} 1"#,
        r#"accord_compatibility_failures_total{format="AVRO"} 2"#,
        "accord_changes_head 1",
        "accord_changes_follower_lag 0",
    ] {
        assert!(text.lines().any(|l| l == line), "no '{line}' in:\n{text}");
    }
    assert!(
        text.contains("accord_http_request_duration_seconds_bucket{"),
        "{text}"
    );
    assert!(
        text.contains(r#"accord_db_connections{state="idle"}"#),
        "{text}"
    );
    assert!(
        !text.contains("secret-orders"),
        "a raw path leaked into a label:\n{text}"
    );
    assert!(
        text.contains(r#"accord_cache_misses{cache="parsed"}"#),
        "{text}"
    );
    assert!(text.trim_end().ends_with("# EOF"));
}

#[tokio::test]
async fn metrics_count_auth_refusals_and_stay_public() {
    let app = TestApp::on_binary(Backend::Sqlite, &[("ACCORD_AUTH", "true".into())]).await;
    let (s, _) = app.get("/subjects").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let r = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("metrics");
    assert_eq!(r.status(), StatusCode::OK);
    let text = r.text().await.expect("body");
    assert!(
        text.lines()
            .any(|l| l == r#"accord_auth_refusals_total{status="401"} 1"#),
        "{text}"
    );
}
