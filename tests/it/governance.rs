//! Governance through the API with authentication on: the first admin key from
//! `accord-server create-admin-key`, keys and roles, team ownership, the authorisation matrix
//! over every mutating route, revocation and expiry, lifecycle, and the audit log.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{per_backend, Backend, TestApp};

per_backend!(
    authorisation_matrix,
    audit_records_every_mutation_once,
    ownership_lifecycle_and_consumers,
    confluent_python_with_basic_auth,
    no_key_reaches_past_its_team,
    refused_requests_are_no_write_amplifier,
    a_team_that_owns_subjects_is_not_deleted,
);

/// An API key as the tests hold it.
#[derive(Clone, Debug)]
pub struct Key {
    pub id: String,
    pub secret: String,
}

impl Key {
    pub fn user_info(&self) -> String {
        format!("{}:{}", self.id, self.secret)
    }
}

/// Runs `accord-server create-admin-key` against the server's database, as an operator would.
pub fn admin_key(app: &TestApp) -> Key {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_accord-server"));
    cmd.arg("create-admin-key")
        .env("ACCORD_DATA_DIR", app.data_dir())
        .env_remove("DATABASE_URL");
    if let Some(url) = &app.database_url {
        cmd.env("DATABASE_URL", url);
    }
    let out = cmd.output().expect("accord-server runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "create-admin-key failed: {stdout}");
    let field = |name: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_owned())
            .unwrap_or_else(|| panic!("no '{name}' in {stdout}"))
    };
    Key {
        id: field("id:"),
        secret: field("secret:"),
    }
}

pub async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    body: Option<Value>,
    key: Option<&Key>,
) -> (StatusCode, Value) {
    let mut req = app.client.request(method, app.url(path));
    if let Some(k) = key {
        req = req.basic_auth(&k.id, Some(&k.secret));
    }
    if let Some(b) = body {
        req = req
            .header("content-type", "application/vnd.schemaregistry.v1+json")
            .body(b.to_string());
    }
    crate::helpers::read(req.send().await.expect("request")).await
}

/// Calls and expects an error answer with this status and `error_code`.
async fn expect_error(
    app: &TestApp,
    method: Method,
    path: &str,
    body: Option<Value>,
    key: Option<&Key>,
    status: StatusCode,
    code: u64,
) -> Value {
    let (s, r) = call(app, method.clone(), path, body, key).await;
    assert_eq!(
        (s, r["error_code"].as_u64()),
        (status, Some(code)),
        "{method} {path}: {r}"
    );
    r
}

pub async fn create_key(app: &TestApp, admin: &Key, body: Value) -> Key {
    let (s, r) = call(
        app,
        Method::POST,
        "/accord/v1/keys",
        Some(body),
        Some(admin),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert!(r.get("secretHash").is_none());
    Key {
        id: r["id"].as_str().unwrap().to_owned(),
        secret: r["secret"].as_str().unwrap().to_owned(),
    }
}

async fn authed(backend: Backend) -> TestApp {
    TestApp::spawn_with(backend, |c| c.auth = true).await
}

pub async fn put_team(app: &TestApp, admin: &Key, name: &str, claims: Value) {
    let (s, r) = call(
        app,
        Method::PUT,
        &format!("/accord/v1/teams/{name}"),
        Some(json!({"description": format!("team {name}"),
                    "contacts": {"email": format!("{name}@acme.test"), "chat": format!("#{name}")},
                    "claims": claims})),
        Some(admin),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{r}");
}

/// A `payments.Card` record; fields other than `id` get defaults, so adding them is compatible.
fn avro(fields: &[(&str, &str)]) -> Value {
    let fields: Vec<Value> = fields
        .iter()
        .map(|(n, t)| match (*n, *t) {
            ("id", _) => json!({"name": n, "type": t}),
            (_, "string") => json!({"name": n, "type": t, "default": ""}),
            _ => json!({"name": n, "type": t, "default": 0}),
        })
        .collect();
    json!({"schema": json!({"type": "record", "name": "Card", "namespace": "payments", "fields": fields}).to_string()})
}

async fn authorisation_matrix(backend: Backend) {
    let app = authed(backend).await;
    let admin = admin_key(&app);
    put_team(&app, &admin, "payments", json!(["payments."])).await;
    put_team(&app, &admin, "orders", json!([r"^orders\..*"])).await;
    let owner = create_key(&app, &admin, json!({"role": "member", "team": "payments"})).await;
    let other = create_key(&app, &admin, json!({"role": "member", "team": "orders"})).await;
    let reader = create_key(
        &app,
        &admin,
        json!({"role": "reader", "description": "dashboards"}),
    )
    .await;
    let revoked = create_key(&app, &admin, json!({"role": "admin"})).await;
    let expired = create_key(
        &app,
        &admin,
        json!({"role": "admin", "expiresInSeconds": 1}),
    )
    .await;
    let (s, _) = call(
        &app,
        Method::DELETE,
        &format!("/accord/v1/keys/{}", revoked.id),
        None,
        Some(&admin),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(1100)).await;

    let subject = "payments.card-value";
    let (s, r) = call(
        &app,
        Method::POST,
        &format!("/subjects/{subject}/versions"),
        Some(avro(&[("id", "string")])),
        Some(&admin),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{r}");

    // Every mutating route, and who may call it.
    let routes: Vec<(Method, String, Option<Value>, bool, bool)> = vec![
        // (method, path, body, owning member allowed, other member allowed)
        (
            Method::POST,
            format!("/subjects/{subject}/versions"),
            Some(avro(&[("id", "string"), ("note", "string")])),
            true,
            false,
        ),
        (
            Method::PUT,
            format!("/config/{subject}"),
            Some(json!({"compatibility": "NONE"})),
            true,
            false,
        ),
        (
            Method::DELETE,
            format!("/config/{subject}"),
            None,
            true,
            false,
        ),
        (
            Method::PUT,
            format!("/mode/{subject}"),
            Some(json!({"mode": "READWRITE"})),
            true,
            false,
        ),
        (
            Method::DELETE,
            format!("/mode/{subject}"),
            None,
            true,
            false,
        ),
        (
            Method::PUT,
            format!("/accord/v1/subjects/{subject}"),
            Some(json!({"description": "card payments", "lifecycle": "active"})),
            true,
            false,
        ),
        (
            Method::POST,
            format!("/accord/v1/subjects/{subject}/consumers"),
            Some(json!({})),
            true,
            true,
        ),
        (
            Method::POST,
            format!("/accord/v1/subjects/{subject}/consumers"),
            Some(json!({"team": "payments"})),
            true,
            false,
        ),
        (
            Method::DELETE,
            format!("/accord/v1/subjects/{subject}/consumers/payments"),
            None,
            true,
            false,
        ),
        (
            Method::PUT,
            "/accord/v1/policy".into(),
            Some(json!({"ownerRequired": false})),
            false,
            false,
        ),
        (
            Method::DELETE,
            format!("/subjects/{subject}/versions/latest"),
            None,
            true,
            false,
        ),
        (
            Method::DELETE,
            format!("/subjects/{subject}"),
            None,
            true,
            false,
        ),
        (
            Method::PUT,
            "/config".into(),
            Some(json!({"compatibility": "BACKWARD"})),
            false,
            false,
        ),
        (Method::DELETE, "/config".into(), None, false, false),
        (
            Method::PUT,
            "/mode".into(),
            Some(json!({"mode": "READWRITE"})),
            false,
            false,
        ),
        (Method::DELETE, "/mode".into(), None, false, false),
        (
            Method::PUT,
            "/accord/v1/teams/audit-team".into(),
            Some(json!({"claims": ["audit."]})),
            false,
            false,
        ),
        (
            Method::DELETE,
            "/accord/v1/teams/audit-team".into(),
            None,
            false,
            false,
        ),
        (
            Method::POST,
            "/accord/v1/keys".into(),
            Some(json!({"role": "reader"})),
            false,
            false,
        ),
        (Method::GET, "/accord/v1/keys".into(), None, false, false),
        (
            Method::DELETE,
            format!("/accord/v1/keys/{}", reader.id),
            None,
            false,
            false,
        ),
    ];
    let denied = |s: StatusCode| s == StatusCode::FORBIDDEN || s == StatusCode::UNAUTHORIZED;
    for (method, path, body, owner_ok, other_ok) in &routes {
        for (who, key, expect) in [
            ("anonymous", None, Some(401)),
            ("revoked", Some(&revoked), Some(401)),
            ("expired", Some(&expired), Some(401)),
            ("reader", Some(&reader), Some(403)),
            ("other member", Some(&other), (!other_ok).then_some(403)),
            ("owning member", Some(&owner), (!owner_ok).then_some(403)),
        ] {
            let (s, r) = call(&app, method.clone(), path, body.clone(), key).await;
            match expect {
                Some(code) => {
                    assert_eq!(s.as_u16(), code, "{who} {method} {path}: {r}");
                    assert_eq!(
                        r["error_code"].as_u64(),
                        Some(if code == 401 { 40101 } else { 40301 }),
                        "{r}"
                    );
                }
                None => assert!(!denied(s), "{who} {method} {path} was refused: {s} {r}"),
            }
            if who == "other member"
                && expect == Some(403)
                && path.contains(subject)
                && !path.contains("consumers")
            {
                let m = r["message"].as_str().unwrap();
                assert!(
                    m.contains("owned by team 'payments'") && m.contains("payments@acme.test"),
                    "{m}"
                );
            }
        }
        // The admin may call every route (the reader key is revoked last).
        let (s, r) = call(&app, method.clone(), path, body.clone(), Some(&admin)).await;
        assert!(!denied(s), "admin {method} {path} was refused: {s} {r}");
    }

    // Reads: any valid key; nothing without one; health and docs are open.
    assert_eq!(
        call(&app, Method::GET, "/subjects", None, Some(&owner))
            .await
            .0,
        StatusCode::OK
    );
    let (s, r) = call(&app, Method::GET, "/subjects", None, None).await;
    assert_eq!(
        (s, r["error_code"].as_u64()),
        (StatusCode::UNAUTHORIZED, Some(40101))
    );
    assert_eq!(
        call(&app, Method::GET, "/health/live", None, None).await.0,
        StatusCode::OK
    );
    assert_eq!(
        call(&app, Method::GET, "/openapi.json", None, None).await.0,
        StatusCode::OK
    );
    let bearer = app
        .client
        .get(app.url("/subjects"))
        .bearer_auth(owner.user_info())
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), StatusCode::OK);

    // Revocation takes effect on the next request.
    let (s, _) = call(&app, Method::GET, "/subjects", None, Some(&other)).await;
    assert_eq!(s, StatusCode::OK);
    call(
        &app,
        Method::DELETE,
        &format!("/accord/v1/keys/{}", other.id),
        None,
        Some(&admin),
    )
    .await;
    let (s, _) = call(&app, Method::GET, "/subjects", None, Some(&other)).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    // Listing keys never shows a secret or its hash.
    let (_, keys) = call(&app, Method::GET, "/accord/v1/keys", None, Some(&admin)).await;
    let text = keys.to_string();
    assert!(
        !text.contains(&owner.secret) && !text.contains("secretHash"),
        "{text}"
    );
    assert!(keys.as_array().unwrap().len() >= 6);
}

/// Runs one mutating call as `key`, which must succeed and leave exactly one audit record
/// (after `count`) with the step's action and the key as principal. Returns the new count and
/// that record.
async fn audited_step(
    app: &TestApp,
    admin: &Key,
    key: &Key,
    count: usize,
    (method, path, body, action): (Method, String, Option<Value>, &str),
) -> (usize, Value) {
    let (s, r) = call(app, method.clone(), &path, body, Some(key)).await;
    assert_eq!(s, StatusCode::OK, "{method} {path}: {r}");
    let (n, newest) = audit_tail(app, admin).await;
    assert_eq!(
        n,
        count + 1,
        "{method} {path} must leave exactly one record"
    );
    assert_eq!(newest["action"], action, "{newest}");
    assert_eq!(newest["principal"], key.id.as_str(), "{newest}");
    (n, newest)
}

/// The number of audit entries, and the newest.
async fn audit_tail(app: &TestApp, admin: &Key) -> (usize, Value) {
    let (s, r) = call(
        app,
        Method::GET,
        "/accord/v1/audit?limit=1000",
        None,
        Some(admin),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let all = r.as_array().unwrap().clone();
    (all.len(), all.first().cloned().unwrap_or(Value::Null))
}

async fn audit_records_every_mutation_once(backend: Backend) {
    let app = authed(backend).await;
    let admin = admin_key(&app);
    let (n0, first) = audit_tail(&app, &admin).await;
    assert_eq!(
        (n0, first["action"].as_str()),
        (1, Some("key.create")),
        "{first}"
    );
    assert_eq!(first["principal"], "accord-server create-admin-key");
    put_team(&app, &admin, "payments", json!(["payments."])).await;
    let member = create_key(&app, &admin, json!({"role": "member", "team": "payments"})).await;
    let subject = "payments.card-value";
    let steps: Vec<(Method, String, Option<Value>, &str)> = vec![
        (
            Method::POST,
            format!("/subjects/{subject}/versions"),
            Some(avro(&[("id", "string")])),
            "subject.register",
        ),
        (
            Method::POST,
            format!("/subjects/{subject}/versions"),
            Some(avro(&[("id", "string"), ("n", "int")])),
            "subject.register",
        ),
        (
            Method::PUT,
            format!("/config/{subject}"),
            Some(json!({"compatibility": "FULL"})),
            "config.put",
        ),
        (
            Method::DELETE,
            format!("/config/{subject}"),
            None,
            "config.delete",
        ),
        (
            Method::PUT,
            format!("/mode/{subject}"),
            Some(json!({"mode": "READONLY"})),
            "mode.put",
        ),
        (
            Method::DELETE,
            format!("/mode/{subject}"),
            None,
            "mode.delete",
        ),
        (
            Method::PUT,
            format!("/accord/v1/subjects/{subject}"),
            Some(json!({"tags": ["pci"], "domain": "payments"})),
            "subject.governance.put",
        ),
        (
            Method::POST,
            format!("/accord/v1/subjects/{subject}/consumers"),
            Some(json!({})),
            "subject.consumer.add",
        ),
        (
            Method::DELETE,
            format!("/subjects/{subject}/versions/2"),
            None,
            "subject.version.delete",
        ),
        (
            Method::DELETE,
            format!("/subjects/{subject}/versions/2?permanent=true"),
            None,
            "subject.version.delete.permanent",
        ),
        (
            Method::DELETE,
            format!("/subjects/{subject}"),
            None,
            "subject.delete",
        ),
        (
            Method::DELETE,
            format!("/subjects/{subject}?permanent=true"),
            None,
            "subject.delete.permanent",
        ),
    ];
    let mut count = audit_tail(&app, &admin).await.0;
    for step in steps {
        let newest;
        (count, newest) = audited_step(&app, &admin, &member, count, step).await;
        assert_eq!(newest["team"], "payments", "{newest}");
        assert_eq!(newest["outcome"], "ok");
        assert!(
            newest["requestId"].as_str().is_some_and(|r| !r.is_empty()),
            "{newest}"
        );
    }
    // The admin-only mutations, each leaving exactly one record too.
    let spare = create_key(&app, &admin, json!({"role": "reader"})).await;
    count = audit_tail(&app, &admin).await.0;
    let admin_steps: Vec<(Method, String, Option<Value>, &str)> = vec![
        (
            Method::PUT,
            "/accord/v1/teams/orders".into(),
            Some(json!({"claims": ["orders."]})),
            "team.put",
        ),
        (
            Method::DELETE,
            "/accord/v1/teams/orders".into(),
            None,
            "team.delete",
        ),
        (
            Method::PUT,
            "/accord/v1/policy".into(),
            Some(json!({"ownerRequired": false})),
            "policy.put",
        ),
        (
            Method::POST,
            "/accord/v1/keys".into(),
            Some(json!({"role": "reader"})),
            "key.create",
        ),
        (
            Method::DELETE,
            format!("/accord/v1/keys/{}", spare.id),
            None,
            "key.revoke",
        ),
        (
            Method::PUT,
            "/config".into(),
            Some(json!({"compatibility": "BACKWARD"})),
            "config.put",
        ),
        (
            Method::PUT,
            "/mode".into(),
            Some(json!({"mode": "READWRITE"})),
            "mode.put",
        ),
        (
            Method::DELETE,
            format!("/accord/v1/subjects/{subject}/consumers/payments"),
            None,
            "subject.consumer.remove",
        ),
    ];
    for step in admin_steps {
        count = audited_step(&app, &admin, &admin, count, step).await.0;
    }
    let (_, revoked) = call(
        &app,
        Method::GET,
        "/accord/v1/audit?action=key.revoke",
        None,
        Some(&admin),
    )
    .await;
    assert!(revoked[0]["after"]["revokedAt"].is_i64(), "{revoked}");
    assert!(!revoked.to_string().contains("secret"), "{revoked}");

    // A client's request id is kept, recorded and echoed; without one the server makes one.
    let r = app
        .client
        .put(app.url("/config/payments.card-value"))
        .basic_auth(&member.id, Some(&member.secret))
        .header("content-type", "application/json")
        .header("x-request-id", "trace-42")
        .body(json!({"compatibility": "BACKWARD"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "trace-42");
    let (_, newest) = audit_tail(&app, &admin).await;
    assert_eq!(newest["requestId"], "trace-42", "{newest}");
    count += 1;
    let r = app
        .client
        .delete(app.url("/config/payments.card-value"))
        .basic_auth(&member.id, Some(&member.secret))
        .send()
        .await
        .unwrap();
    let made = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    let (n, newest) = audit_tail(&app, &admin).await;
    assert_eq!(
        (n, newest["requestId"].as_str()),
        (count + 1, Some(made.as_str()))
    );

    // Re-registering what exists changes nothing and records nothing.
    call(
        &app,
        Method::POST,
        &format!("/subjects/{subject}/versions"),
        Some(avro(&[("id", "string")])),
        Some(&member),
    )
    .await;
    let before = audit_tail(&app, &admin).await.0;
    let (s, _) = call(
        &app,
        Method::POST,
        &format!("/subjects/{subject}/versions"),
        Some(avro(&[("id", "string")])),
        Some(&member),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(audit_tail(&app, &admin).await.0, before);

    // A request that fails midway (incompatible) leaves neither the change nor a record.
    let versions_before = call(
        &app,
        Method::GET,
        &format!("/subjects/{subject}/versions"),
        None,
        Some(&member),
    )
    .await
    .1;
    let (s, _) = call(
        &app,
        Method::POST,
        &format!("/subjects/{subject}/versions"),
        Some(avro(&[("id", "int")])),
        Some(&member),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(audit_tail(&app, &admin).await.0, before);
    assert_eq!(
        call(
            &app,
            Method::GET,
            &format!("/subjects/{subject}/versions"),
            None,
            Some(&member)
        )
        .await
        .1,
        versions_before
    );

    // A denied attempt is recorded as such, naming who tried.
    let reader = create_key(&app, &admin, json!({"role": "reader"})).await;
    let (s, _) = call(
        &app,
        Method::PUT,
        &format!("/config/{subject}"),
        Some(json!({"compatibility": "NONE"})),
        Some(&reader),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (_, newest) = audit_tail(&app, &admin).await;
    assert_eq!(
        (newest["outcome"].as_str(), newest["principal"].as_str()),
        (Some("denied"), Some(reader.id.as_str())),
        "{newest}"
    );

    // Filters and paging.
    let q = |p: String| {
        let app = &app;
        let admin = &admin;
        async move { call(app, Method::GET, &p, None, Some(admin)).await.1 }
    };
    let by_subject = q(format!("/accord/v1/audit?subject={subject}&limit=1000")).await;
    assert!(by_subject
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["subject"] == subject));
    assert!(by_subject.as_array().unwrap().len() >= 13);
    let by_action = q(format!(
        "/accord/v1/audit?action=config.put&subject={subject}"
    ))
    .await;
    assert_eq!(by_action.as_array().unwrap().len(), 2);
    assert_eq!(
        by_action[1]["after"]["compatibilityLevel"], "FULL",
        "{by_action}"
    );
    let by_principal = q(format!(
        "/accord/v1/audit?principal={}&limit=2&offset=1",
        member.id
    ))
    .await;
    assert_eq!(by_principal.as_array().unwrap().len(), 2);
    let future = q("/accord/v1/audit?from=99999999999999".into()).await;
    assert_eq!(future, json!([]));
    let by_team = q("/accord/v1/audit?team=payments&limit=1000".into()).await;
    assert!(by_team.as_array().unwrap().len() >= 12);
}

async fn ownership_lifecycle_and_consumers(backend: Backend) {
    let app = authed(backend).await;
    let admin = admin_key(&app);
    put_team(&app, &admin, "payments", json!(["payments."])).await;
    put_team(&app, &admin, "cards", json!(["payments.card"])).await;
    put_team(&app, &admin, "orders", json!([r"^orders\..*"])).await;

    // The most specific claim wins; an explicit assignment beats every claim.
    let owner_of = |s: &'static str| {
        let app = &app;
        let admin = &admin;
        async move {
            call(
                app,
                Method::GET,
                &format!("/accord/v1/subjects/{s}"),
                None,
                Some(admin),
            )
            .await
            .1
        }
    };
    assert_eq!(
        owner_of("payments.card-value").await["ownership"],
        json!({"team": "cards", "source": "claim:payments.card"})
    );
    assert_eq!(
        owner_of("payments.cash-value").await["ownership"]["team"],
        "payments"
    );
    assert_eq!(
        owner_of("orders.placed-value").await["ownership"]["team"],
        "orders"
    );
    assert!(owner_of("misc-value").await.get("ownership").is_none());
    let (s, r) = call(
        &app,
        Method::PUT,
        "/accord/v1/subjects/misc-value",
        Some(json!({"owner": "orders"})),
        Some(&admin),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(
        r["ownership"],
        json!({"team": "orders", "source": "assigned"})
    );

    // Only an admin assigns an owner; unknown teams and bad claims are refused.
    let cards = create_key(&app, &admin, json!({"role": "member", "team": "cards"})).await;
    expect_error(
        &app,
        Method::PUT,
        "/accord/v1/subjects/payments.card-value",
        Some(json!({"owner": "cards"})),
        Some(&cards),
        StatusCode::FORBIDDEN,
        40301,
    )
    .await;
    expect_error(
        &app,
        Method::PUT,
        "/accord/v1/subjects/x-value",
        Some(json!({"owner": "nobody"})),
        Some(&admin),
        StatusCode::NOT_FOUND,
        40410,
    )
    .await;
    expect_error(
        &app,
        Method::PUT,
        "/accord/v1/teams/bad",
        Some(json!({"claims": ["^("]})),
        Some(&admin),
        StatusCode::UNPROCESSABLE_ENTITY,
        42250,
    )
    .await;
    let (s, _) = call(
        &app,
        Method::POST,
        "/accord/v1/keys",
        Some(json!({"role": "member"})),
        Some(&admin),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);

    // Lifecycle: deprecated warns, retired refuses new versions.
    let subject = "payments.card-value";
    let (s, r) = call(
        &app,
        Method::POST,
        &format!("/subjects/{subject}/versions"),
        Some(avro(&[("id", "string")])),
        Some(&cards),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert!(r.get("warnings").is_none(), "{r}");
    call(
        &app,
        Method::PUT,
        &format!("/accord/v1/subjects/{subject}"),
        Some(json!({"lifecycle": "deprecated", "description": "use payments.card2"})),
        Some(&cards),
    )
    .await;
    let (s, r) = call(
        &app,
        Method::POST,
        &format!("/subjects/{subject}/versions"),
        Some(avro(&[("id", "string"), ("a", "string")])),
        Some(&cards),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["warnings"][0]["ruleId"], "subject.lifecycle", "{r}");
    call(
        &app,
        Method::PUT,
        &format!("/accord/v1/subjects/{subject}"),
        Some(json!({"lifecycle": "retired"})),
        Some(&cards),
    )
    .await;
    expect_error(
        &app,
        Method::POST,
        &format!("/subjects/{subject}/versions"),
        Some(avro(&[("id", "string"), ("b", "string")])),
        Some(&cards),
        StatusCode::UNPROCESSABLE_ENTITY,
        42251,
    )
    .await;
    assert_eq!(
        call(
            &app,
            Method::GET,
            &format!("/subjects/{subject}/versions"),
            None,
            Some(&cards)
        )
        .await
        .1,
        json!([1, 2])
    );

    // Consumers: a member declares its own team, never another.
    let orders = create_key(&app, &admin, json!({"role": "member", "team": "orders"})).await;
    let (s, r) = call(
        &app,
        Method::POST,
        &format!("/accord/v1/subjects/{subject}/consumers"),
        Some(json!({})),
        Some(&orders),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["consumers"], json!(["orders"]));
    let (s, _) = call(
        &app,
        Method::POST,
        &format!("/accord/v1/subjects/{subject}/consumers"),
        Some(json!({"team": "payments"})),
        Some(&orders),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, r) = call(
        &app,
        Method::DELETE,
        &format!("/accord/v1/subjects/{subject}/consumers/orders"),
        None,
        Some(&orders),
    )
    .await;
    assert_eq!(
        (s, r["consumers"].clone()),
        (StatusCode::OK, json!([])),
        "{r}"
    );
}

async fn confluent_python_with_basic_auth(backend: Backend) {
    let app = authed(backend).await;
    let admin = admin_key(&app);
    put_team(&app, &admin, "payments", json!(["payments."])).await;
    let member = create_key(&app, &admin, json!({"role": "member", "team": "payments"})).await;
    crate::python_client::run_script_with(&app, "auth_client.py", &[member.user_info()]).await;
}

/// No change without its record: when the audit insert fails, the registration it belongs to
/// is rolled back with it (PostgreSQL: the audit table is renamed away for one request).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_audit_write_rolls_back_the_change() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let body = |fields: &[(&str, &str)]| avro(fields);
    let (s, _) = call(
        &app,
        Method::POST,
        "/subjects/payments.card-value/versions",
        Some(body(&[("id", "string")])),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let url = app.database_url.clone().unwrap();
    crate::helpers::exec_on(
        url.clone(),
        "ALTER TABLE audit_log RENAME TO audit_log_away".into(),
    );
    let got = call(
        &app,
        Method::POST,
        "/subjects/payments.card-value/versions",
        Some(body(&[("id", "string"), ("note", "string")])),
        None,
    )
    .await;
    crate::helpers::exec_on(url, "ALTER TABLE audit_log_away RENAME TO audit_log".into());
    crate::helpers::assert_error(&got, 500, 50001);
    let (_, versions) = call(
        &app,
        Method::GET,
        "/subjects/payments.card-value/versions",
        None,
        None,
    )
    .await;
    assert_eq!(versions, json!([1]));
    let (_, schemas) = call(&app, Method::GET, "/schemas", None, None).await;
    assert_eq!(schemas.as_array().unwrap().len(), 1, "{schemas}");
    let (_, audit) = call(
        &app,
        Method::GET,
        "/accord/v1/audit?action=subject.register",
        None,
        None,
    )
    .await;
    assert_eq!(audit.as_array().unwrap().len(), 1, "{audit}");
}

/// Issue 9, item 14: a non-admin key sees only its own team's audit records and never the key
/// inventory; an owner rewriting its subject's record cannot erase or forge other teams'
/// consumer declarations; the last admin key cannot revoke itself.
async fn no_key_reaches_past_its_team(backend: Backend) {
    let app = authed(backend).await;
    let admin = admin_key(&app);
    put_team(&app, &admin, "payments", json!(["payments."])).await;
    put_team(&app, &admin, "orders", json!(["orders."])).await;
    let payments = create_key(&app, &admin, json!({"role": "member", "team": "payments"})).await;
    let orders = create_key(&app, &admin, json!({"role": "member", "team": "orders"})).await;
    let reader = create_key(&app, &admin, json!({"role": "reader"})).await;
    let probe = crate::helpers::Probe::start_as(
        &app.base,
        Some((reader.id.clone(), reader.secret.clone())),
    );
    let subject = "payments.card-value";
    let (s, r) = call(
        &app,
        Method::POST,
        &format!("/subjects/{subject}/versions"),
        Some(avro(&[("id", "long")])),
        Some(&payments),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    // Audit: the admin sees the key inventory and every team; a member of `orders` sees neither
    // the key records nor what `payments` did; a reader (of no team) sees nothing.
    let (_, all) = call(
        &app,
        Method::GET,
        "/accord/v1/audit?limit=1000",
        None,
        Some(&admin),
    )
    .await;
    let actions = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap().to_owned())
            .collect()
    };
    assert!(actions(&all).iter().any(|a| a.starts_with("key.")), "{all}");
    let (s, seen) = call(
        &app,
        Method::GET,
        "/accord/v1/audit?limit=1000",
        None,
        Some(&orders),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{seen}");
    assert!(
        !actions(&seen).iter().any(|a| a.starts_with("key.")),
        "{seen}"
    );
    assert!(
        seen.as_array()
            .unwrap()
            .iter()
            .all(|e| e["team"] == "orders"),
        "{seen}"
    );
    let (_, asked) = call(
        &app,
        Method::GET,
        "/accord/v1/audit?team=payments",
        None,
        Some(&orders),
    )
    .await;
    assert!(
        asked
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["team"] == "orders"),
        "{asked}"
    );
    let (s, none) = call(&app, Method::GET, "/accord/v1/audit", None, Some(&reader)).await;
    assert_eq!((s, none), (StatusCode::OK, json!([])));
    // Consumers: `orders` declares it consumes the subject; the owner's rewrite keeps that.
    let (s, r) = call(
        &app,
        Method::POST,
        &format!("/accord/v1/subjects/{subject}/consumers"),
        Some(json!({})),
        Some(&orders),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let (s, r) = call(
        &app,
        Method::PUT,
        &format!("/accord/v1/subjects/{subject}"),
        Some(json!({"description": "cards", "consumers": ["payments"]})),
        Some(&payments),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["consumers"], json!(["orders"]), "{r}");
    // The last admin key cannot be revoked; with a second one, it can.
    let got = expect_error(
        &app,
        Method::DELETE,
        &format!("/accord/v1/keys/{}", admin.id),
        None,
        Some(&admin),
        StatusCode::UNPROCESSABLE_ENTITY,
        42250,
    )
    .await;
    assert!(
        got["message"].as_str().unwrap().contains("last admin"),
        "{got}"
    );
    let second = create_key(&app, &admin, json!({"role": "admin"})).await;
    let (s, r) = call(
        &app,
        Method::DELETE,
        &format!("/accord/v1/keys/{}", admin.id),
        None,
        Some(&second),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    probe
        .assert_answered_within_a_second("attempts past a team's reach")
        .await;
}

/// Issue 9, item 8: a flood of refused requests is recorded at most 20 per second one by one,
/// the rest summed up, and members' registrations go through meanwhile.
async fn refused_requests_are_no_write_amplifier(backend: Backend) {
    let app = authed(backend).await;
    let admin = admin_key(&app);
    put_team(&app, &admin, "payments", json!(["payments."])).await;
    let member = create_key(&app, &admin, json!({"role": "member", "team": "payments"})).await;
    let reader = create_key(&app, &admin, json!({"role": "reader"})).await;
    let probe = crate::helpers::Probe::start_as(&app.base, Some((reader.id, reader.secret)));
    let started = std::time::Instant::now();
    let mut flood = Vec::new();
    for c in 0..8 {
        let client = app.client.clone();
        let url = app.url(&format!("/subjects/payments.x{c}-value/versions"));
        flood.push(tokio::spawn(async move {
            let mut sent = 0u32;
            while started.elapsed() < std::time::Duration::from_millis(1500) {
                let _ = client
                    .post(&url)
                    .header("content-type", "application/vnd.schemaregistry.v1+json")
                    .body(avro(&[("id", "long")]).to_string())
                    .send()
                    .await;
                sent += 1;
            }
            sent
        }));
    }
    let (s, r) = call(
        &app,
        Method::POST,
        "/subjects/payments.card-value/versions",
        Some(avro(&[("id", "long")])),
        Some(&member),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let mut sent = 0;
    for f in flood {
        sent += f.await.unwrap();
    }
    let elapsed = started.elapsed().as_secs() + 1;
    // One more refusal after the flood brings the summary of what was not recorded.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let _ = call(
        &app,
        Method::POST,
        "/subjects/payments.y-value/versions",
        Some(avro(&[("id", "long")])),
        None,
    )
    .await;
    let (_, all) = call(
        &app,
        Method::GET,
        "/accord/v1/audit?limit=1000",
        None,
        Some(&admin),
    )
    .await;
    let entries = all.as_array().unwrap();
    let denied = entries
        .iter()
        .filter(|e| e["outcome"] == "denied" && e["action"] != "audit.denied_not_recorded")
        .count() as u64;
    assert!(sent > 100, "the flood sent only {sent} requests");
    assert!(
        denied <= 20 * (elapsed + 2),
        "{denied} denied records for {sent} refusals"
    );
    assert!(
        entries
            .iter()
            .any(|e| e["action"] == "audit.denied_not_recorded"),
        "no summary of the refusals not recorded"
    );
    probe
        .assert_answered_within_a_second("a flood of refused writes")
        .await;
}

/// Issue 10, item 5: a team that owns subjects, by its claims or by assignment, cannot be
/// deleted (42250, naming them) and nothing changes; once it owns none, it can.
async fn a_team_that_owns_subjects_is_not_deleted(backend: Backend) {
    let app = authed(backend).await;
    let admin = admin_key(&app);
    put_team(&app, &admin, "payments", json!(["payments."])).await;
    put_team(&app, &admin, "orders", json!([])).await;
    for subject in ["payments.card-value", "misc-value"] {
        let path = format!("/subjects/{subject}/versions");
        let (s, r) = call(
            &app,
            Method::POST,
            &path,
            Some(avro(&[("id", "long")])),
            Some(&admin),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{r}");
    }
    let (s, r) = call(
        &app,
        Method::PUT,
        "/accord/v1/subjects/misc-value",
        Some(json!({"owner": "orders"})),
        Some(&admin),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    for (team, subject) in [
        ("payments", "payments.card-value"),
        ("orders", "misc-value"),
    ] {
        let r = expect_error(
            &app,
            Method::DELETE,
            &format!("/accord/v1/teams/{team}"),
            None,
            Some(&admin),
            StatusCode::UNPROCESSABLE_ENTITY,
            42250,
        )
        .await;
        assert!(r["message"].as_str().unwrap().contains(subject), "{r}");
        let (s, _) = call(
            &app,
            Method::GET,
            &format!("/accord/v1/teams/{team}"),
            None,
            Some(&admin),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{team} is still there");
    }
    // Without claims and assignments the team owns nothing and goes.
    put_team(&app, &admin, "payments", json!([])).await;
    let (s, r) = call(
        &app,
        Method::DELETE,
        "/accord/v1/teams/payments",
        None,
        Some(&admin),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    expect_error(
        &app,
        Method::GET,
        "/accord/v1/teams/payments",
        None,
        Some(&admin),
        StatusCode::NOT_FOUND,
        40410,
    )
    .await;
}
