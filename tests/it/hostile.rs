//! Hostile input: requests meant to break the registry for everyone (issue 9). Each test names
//! the item it covers and runs on both stores.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{assert_error, on_both_backends, record, TestApp};

on_both_backends!(imported_ids_and_versions_stay_in_the_wire_range);

/// Item 11: an import cannot push a context's id sequence or a subject's versions past the
/// 4-byte wire format, and a sequence that got there still hands out ids.
async fn imported_ids_and_versions_stay_in_the_wire_range(app: TestApp) {
    let (s, _) = app.put("/mode/imp", json!({"mode": "IMPORT"})).await;
    assert_eq!(s, StatusCode::OK);
    let schema = |n: usize| {
        record(
            "Imp",
            &(0..n)
                .map(|i| json!({"name": format!("f{i}"), "type": "int", "default": 0}))
                .collect::<Vec<_>>(),
        )
        .to_string()
    };
    for id in [9_223_372_036_854_775_806_i64, 2_147_483_648, 0] {
        let got = app
            .post(
                "/subjects/imp/versions",
                json!({"schema": schema(0), "id": id, "version": 1}),
            )
            .await;
        assert_error(&got, 422, 422);
    }
    assert_error(&app.get("/subjects/imp/versions").await, 404, 40401);
    // The largest representable id and version are fine...
    let (s, r) = app
        .post(
            "/subjects/imp/versions",
            json!({"schema": schema(0), "id": 2_147_483_647_i64, "version": 2_147_483_647}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    // ...and afterwards every other subject still gets ids, all within the range.
    for i in 0..3 {
        let id = app
            .register_ok(&format!("other{i}"), &record(&format!("O{i}"), &[]))
            .await;
        assert!((1..2_147_483_647).contains(&id), "{id}");
    }
    // The subject at the largest version refuses a next one cleanly (no wrap to a negative
    // version), and keeps answering.
    let (s, _) = app.put("/mode/imp", json!({"mode": "READWRITE"})).await;
    assert_eq!(s, StatusCode::OK);
    assert_error(
        &app.post("/subjects/imp/versions", json!({"schema": schema(1)}))
            .await,
        422,
        42205,
    );
    let (s, r) = app.get("/subjects/imp/versions/latest").await;
    assert_eq!(
        (s, r["version"].clone()),
        (StatusCode::OK, json!(2_147_483_647))
    );
}
