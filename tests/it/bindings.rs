//! Bindings (issue 12, item 1): which contract a destination carries, as governance data.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::governance::{admin_key, call, create_key, put_team, Key};
use crate::helpers::{assert_error, on_both_backends, per_backend, Backend, TestApp};

on_both_backends!(bindings_are_stored_checked_and_logged);
per_backend!(only_admins_and_the_owning_team_bind);

async fn bindings_are_stored_checked_and_logged(app: TestApp) {
    let (s, b) = app
        .put(
            "/accord/v1/bindings/temps",
            json!({"destination": "sensors/+/temp", "subject": "sensors.temp-value"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    // Defaults are filled in and answered.
    assert_eq!(
        b,
        json!({"name": "temps", "protocol": "mqtt", "destination": "sensors/+/temp",
               "subject": "sensors.temp-value", "encoding": "confluent", "action": "reject",
               "mqtt311": "ack-drop", "reasonCode": 153})
    );
    let raw = json!({"destination": "devices/#", "subject": "{topic}-value", "encoding": "raw",
                     "version": 2, "schemaIdFrom": "user-property:schema-id", "action": "dlq",
                     "dlqTopic": "dead/letters", "mqtt311": "close", "reasonCode": 135});
    let (s, b) = app.put("/accord/v1/bindings/devices", raw.clone()).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        app.get("/accord/v1/bindings/devices").await.1["dlqTopic"],
        "dead/letters"
    );
    let (_, list) = app.get("/accord/v1/bindings").await;
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["devices", "temps"]);

    // Refused, with what is wrong; nothing stored.
    for (body, says) in [
        (json!({"destination": "a/#/b", "subject": "x"}), "'#'"),
        (json!({"destination": "a+", "subject": "x"}), "'+'"),
        (
            json!({"destination": "a", "subject": "{device}-value"}),
            "{topic}",
        ),
        (
            json!({"destination": "a", "subject": "x", "version": 1}),
            "raw",
        ),
        (
            json!({"destination": "a", "subject": "x", "action": "dlq"}),
            "dlqTopic",
        ),
        (
            json!({"destination": "a", "subject": "x", "reasonCode": 128}),
            "reasonCode",
        ),
        (json!({"destination": "", "subject": "x"}), "empty"),
    ] {
        let got = app.put("/accord/v1/bindings/bad", body.clone()).await;
        assert_error(&got, 422, 42250);
        assert!(
            got.1["message"].as_str().unwrap().contains(says),
            "{body}: {}",
            got.1
        );
    }
    let got = app
        .put(
            "/accord/v1/bindings/bad",
            json!({"destination": "a", "subject": "x", "colour": "red"}),
        )
        .await;
    assert_eq!(got.0, StatusCode::UNPROCESSABLE_ENTITY, "{}", got.1);
    let got = app
        .put(
            "/accord/v1/bindings/bad",
            json!({"name": "other", "destination": "a", "subject": "x"}),
        )
        .await;
    assert_eq!(got.0, StatusCode::UNPROCESSABLE_ENTITY, "{}", got.1);
    assert_error(&app.get("/accord/v1/bindings/bad").await, 404, 40412);

    // The same binding again changes nothing; a change and a delete are logged.
    let (_, before) = app.get("/accord/v1/changes?limit=1000").await;
    app.put("/accord/v1/bindings/devices", raw).await;
    let (_, page) = app.get("/accord/v1/changes?limit=1000").await;
    assert_eq!(
        page["head"], before["head"],
        "an identical PUT is not a change"
    );
    let (s, gone) = app.delete("/accord/v1/bindings/temps").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(gone["name"], "temps");
    assert_error(&app.get("/accord/v1/bindings/temps").await, 404, 40412);
    assert_error(&app.delete("/accord/v1/bindings/temps").await, 404, 40412);
    let (_, page) = app.get("/accord/v1/changes?limit=1000").await;
    let kinds: Vec<(&str, Option<&str>)> = page["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["kind"].as_str().unwrap(), c["subject"].as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("binding.updated", Some("sensors.temp-value")),
            ("binding.updated", None),
            ("binding.deleted", Some("sensors.temp-value")),
        ]
    );
    let last = &page["changes"][2];
    assert_eq!(last["data"]["target"], "temps");
    assert_eq!(last["data"]["before"]["destination"], "sensors/+/temp");
}

async fn put_as(app: &TestApp, key: &Key, name: &str, body: Value) -> StatusCode {
    call(
        app,
        Method::PUT,
        &format!("/accord/v1/bindings/{name}"),
        Some(body),
        Some(key),
    )
    .await
    .0
}

async fn only_admins_and_the_owning_team_bind(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.auth = true).await;
    let admin = admin_key(&app);
    put_team(&app, &admin, "payments", json!(["payments."])).await;
    put_team(&app, &admin, "shipping", json!(["shipping."])).await;
    let payments = create_key(&app, &admin, json!({"role": "member", "team": "payments"})).await;
    let shipping = create_key(&app, &admin, json!({"role": "member", "team": "shipping"})).await;
    let reader = create_key(&app, &admin, json!({"role": "reader"})).await;
    let card = json!({"destination": "pay/cards", "subject": "payments.card-value"});

    assert_eq!(
        put_as(&app, &payments, "cards", card.clone()).await,
        StatusCode::OK
    );
    assert_eq!(
        put_as(&app, &shipping, "cards", card.clone()).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        put_as(&app, &reader, "cards", card.clone()).await,
        StatusCode::FORBIDDEN
    );
    // Taking over someone else's binding for one's own subject is refused too.
    let parcel = json!({"destination": "pay/cards", "subject": "shipping.parcel-value"});
    assert_eq!(
        put_as(&app, &shipping, "cards", parcel).await,
        StatusCode::FORBIDDEN
    );
    // A template spans subjects: admins only.
    let any = json!({"destination": "pay/#", "subject": "{topic}-value"});
    assert_eq!(
        put_as(&app, &payments, "all", any.clone()).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(put_as(&app, &admin, "all", any).await, StatusCode::OK);
    // An unowned subject: admins only.
    let loose = json!({"destination": "x", "subject": "loose-value"});
    assert_eq!(
        put_as(&app, &payments, "loose", loose).await,
        StatusCode::FORBIDDEN
    );
    // Anyone with a key reads; nobody without one.
    let (s, list) = call(
        &app,
        Method::GET,
        "/accord/v1/bindings",
        None,
        Some(&reader),
    )
    .await;
    assert_eq!(
        (s, list.as_array().map(Vec::len)),
        (StatusCode::OK, Some(2))
    );
    assert_eq!(
        call(&app, Method::GET, "/accord/v1/bindings", None, None)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    let del = |key: Key| {
        let app = &app;
        async move {
            call(
                app,
                Method::DELETE,
                "/accord/v1/bindings/cards",
                None,
                Some(&key),
            )
            .await
            .0
        }
    };
    assert_eq!(del(shipping.clone()).await, StatusCode::FORBIDDEN);
    assert_eq!(del(payments.clone()).await, StatusCode::OK);
    // Refusals are audited as denied.
    let (_, audit) = call(
        &app,
        Method::GET,
        "/accord/v1/audit?action=binding.put",
        None,
        Some(&admin),
    )
    .await;
    let outcomes: Vec<&str> = audit
        .as_array()
        .or_else(|| audit["entries"].as_array())
        .expect("audit entries")
        .iter()
        .map(|e| e["outcome"].as_str().unwrap())
        .collect();
    assert!(outcomes.contains(&"denied"), "{audit}");
    assert!(outcomes.contains(&"ok"), "{audit}");
}

/// Changing a binding checks ownership through the write session it holds, never a second
/// connection: concurrent changes by a team member through a two-connection pool all finish
/// (each would otherwise hold one connection while waiting for another, and the pool starve).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_binding_changes_do_not_starve_the_pool() {
    let app = TestApp::spawn_with(Backend::Postgres, |c| {
        c.auth = true;
        c.db_max_connections = 2;
    })
    .await;
    let admin = admin_key(&app);
    put_team(&app, &admin, "payments", json!(["payments."])).await;
    let member = create_key(&app, &admin, json!({"role": "member", "team": "payments"})).await;
    let mut writers = Vec::new();
    for i in 0..8 {
        let (app_base, client, key) = (app.base.clone(), app.client.clone(), member.clone());
        writers.push(tokio::spawn(async move {
            for round in 0..2 {
                let body = json!({"destination": format!("pay/{i}/{round}"),
                                  "subject": "payments.card-value"});
                let r = client
                    .put(format!("{app_base}/accord/v1/bindings/b{i}"))
                    .basic_auth(&key.id, Some(&key.secret))
                    .json(&body)
                    .send()
                    .await
                    .expect("answer");
                assert_eq!(r.status(), StatusCode::OK, "binding b{i} round {round}");
            }
        }));
    }
    let all = futures::future::join_all(writers);
    let done = tokio::time::timeout(std::time::Duration::from_secs(20), all)
        .await
        .expect("binding changes finished within 20 s");
    for d in done {
        d.expect("writer");
    }
}
