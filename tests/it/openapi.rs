//! The checked-in OpenAPI document is what the code generates, and the server serves it.

use crate::helpers::{Backend, TestApp};

#[test]
fn checked_in_spec_matches_generated() {
    let generated = accord::api::openapi::document_json();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json");
    let checked_in = std::fs::read_to_string(path).unwrap_or_default();
    if generated != checked_in {
        if std::env::var_os("ACCORD_UPDATE_OPENAPI").is_some() {
            std::fs::write(path, &generated).expect("write openapi.json");
            return;
        }
        panic!("openapi/openapi.json is stale: run `ACCORD_UPDATE_OPENAPI=1 cargo test --test it openapi` and commit it");
    }
    let doc: serde_json::Value = serde_json::from_str(&generated).unwrap();
    for path in [
        "/subjects/{subject}/versions",
        "/schemas/ids/{id}",
        "/config",
        "/mode/{subject}",
        "/compatibility/subjects/{subject}/versions/{version}",
    ] {
        assert!(
            doc["paths"].get(path).is_some(),
            "{path} missing from the spec"
        );
    }
}

#[tokio::test]
async fn served_and_browsable() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (status, doc) = app.get("/openapi.json").await;
    assert_eq!(status, 200);
    assert_eq!(
        doc,
        serde_json::from_str::<serde_json::Value>(&accord::api::openapi::document_json()).unwrap()
    );
    // The UI and its assets come from the server itself (no internet needed).
    let r = app.client.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("swagger"), "{html}");
    let r = app
        .client
        .get(app.url("/docs/swagger-ui-bundle.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().len() > 100_000);
    // No validator badge, which would send the document to an outside service (issue 10).
    let r = app
        .client
        .get(app.url("/docs/swagger-initializer.js"))
        .send()
        .await
        .unwrap();
    let init = r.text().await.unwrap();
    assert!(init.contains("\"validatorUrl\": \"none\""), "{init}");
    assert!(init.contains("\"url\": \"/openapi.json\""), "{init}");
}
