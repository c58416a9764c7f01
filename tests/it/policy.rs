//! The lint policy through the API: the default, storing versions as TOML and JSON, per
//! namespace enforcement refusing a registration with its violations (nothing stored), warnings
//! with a successful one, the dry-run endpoint, invalid policies, and the owner requirement.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, on_both_backends, TestApp};

on_both_backends!(
    policy_versions_and_enforcement,
    owner_required_policy,
    policy_reads_and_refusals,
    rule_adopted_later_does_not_freeze_a_subject
);

const POLICY_TOML: &str = r#"
ownerRequired = false

[rules."avro.field-name"]
mode = "warn"
severity = "warning"
case = "camelCase"

[[namespaces]]
namespace = "payments."

[namespaces.rules."avro.field-name"]
mode = "enforce"
case = "camelCase"

[namespaces.rules."doc.required"]
mode = "enforce"
on = ["record"]
"#;

async fn put_policy(app: &TestApp, body: &str, content_type: &str) -> (StatusCode, Value) {
    let r = app
        .client
        .put(app.url("/accord/v1/policy"))
        .header("content-type", content_type)
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    crate::helpers::read(r).await
}

fn card(doc: Option<&str>, field: &str) -> Value {
    let mut s = json!({"type": "record", "name": "Card", "namespace": "payments",
        "fields": [{"name": "cardId", "type": "string"}, {"name": field, "type": "string", "default": ""}]});
    if let Some(d) = doc {
        s["doc"] = json!(d);
    }
    json!({"schema": s.to_string()})
}

async fn policy_versions_and_enforcement(app: TestApp) {
    let (s, p) = app.get("/accord/v1/policy").await;
    assert_eq!((s, p["version"].as_i64()), (StatusCode::OK, Some(0)));
    assert_eq!(
        p["policy"]["rules"]["avro.field-name"]["mode"], "warn",
        "{p}"
    );

    let (s, p) = put_policy(&app, POLICY_TOML, "application/toml").await;
    assert_eq!(s, StatusCode::OK, "{p}");
    assert_eq!(p["version"], 1);
    assert_eq!(p["source"], POLICY_TOML);
    let (_, p) = app.get("/accord/v1/policy").await;
    assert_eq!(p["version"], 1);
    assert_eq!(p["policy"]["namespaces"][0]["namespace"], "payments.");
    assert_eq!(
        app.get("/accord/v1/policy/versions/1").await.1["version"],
        1
    );
    assert_error(&app.get("/accord/v1/policy/versions/7").await, 404, 40412);

    // Enforced in the payments namespace: refused with every violation, nothing stored.
    let got = app
        .post(
            "/subjects/payments.card-value/versions",
            card(None, "card_holder"),
        )
        .await;
    assert_error(&got, 422, 42253);
    let mut found: Vec<(String, String)> = got.1["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["ruleId"].as_str().unwrap().into(),
                v["path"].as_str().unwrap().into(),
            )
        })
        .collect();
    found.sort();
    assert_eq!(
        found,
        [
            ("avro.field-name".to_owned(), "/fields/1/name".to_owned()),
            ("doc.required".to_owned(), "/name".to_owned())
        ],
        "{}",
        got.1
    );
    assert!(got.1["message"].as_str().unwrap().contains("card_holder"));
    assert_error(
        &app.get("/subjects/payments.card-value/versions").await,
        404,
        40401,
    );

    // The dry run says the same without registering.
    let (s, r) = app
        .post(
            "/accord/v1/lint/subjects/payments.card-value",
            card(None, "card_holder"),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(r["passes"], false);
    assert_eq!(r["violations"].as_array().unwrap().len(), 2, "{r}");

    // Fixed, it registers; elsewhere the same names only warn.
    let (s, r) = app
        .post(
            "/subjects/payments.card-value/versions",
            card(Some("A card."), "cardHolder"),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert!(r.get("warnings").is_none(), "{r}");
    let (s, r) = app
        .post(
            "/subjects/orders.card-value/versions",
            card(None, "card_holder"),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["warnings"][0]["ruleId"], "avro.field-name", "{r}");
    assert_eq!(r["warnings"][0]["path"], "/fields/1/name");
    let (_, r) = app
        .post(
            "/accord/v1/lint/subjects/orders.card-value",
            card(None, "card_holder"),
        )
        .await;
    assert_eq!(
        (
            r["passes"].as_bool(),
            r["warnings"].as_array().map(Vec::len)
        ),
        (Some(true), Some(1)),
        "{r}"
    );

    // JSON documents work too; invalid policies are refused and change nothing.
    let (s, p) = put_policy(
        &app,
        &json!({"rules": {"protobuf.field-name": {"mode": "enforce", "case": "snake_case"}}})
            .to_string(),
        "application/json",
    )
    .await;
    assert_eq!((s, p["version"].as_i64()), (StatusCode::OK, Some(2)), "{p}");
    for (bad, why) in [
        (
            json!({"rules": {"avro.nope": {"mode": "warn"}}}).to_string(),
            "unknown rule",
        ),
        (
            json!({"rules": {"avro.field-name": {"mode": "warn", "case": "Title Case"}}})
                .to_string(),
            "case must be",
        ),
        (
            json!({"rules": {"subject.name": {"mode": "enforce", "pattern": "("}}}).to_string(),
            "pattern",
        ),
        (
            json!({"rules": {"avro.field-name": {"mode": "sometimes"}}}).to_string(),
            "sometimes",
        ),
        (
            json!({"ownerRequired": "yes"}).to_string(),
            "expected a boolean",
        ),
        (
            json!({"namespaces": [{"namespace": "^(", "rules": {}}]}).to_string(),
            "regular expression",
        ),
        ("this is = not [valid".to_owned(), "neither JSON"),
    ] {
        let got = put_policy(&app, &bad, "application/json").await;
        assert_error(&got, 422, 42250);
        assert!(
            got.1["message"].as_str().unwrap().contains(why),
            "{why}: {}",
            got.1
        );
    }
    assert_eq!(app.get("/accord/v1/policy").await.1["version"], 2);
    let (_, audit) = app.get("/accord/v1/audit?action=policy.put").await;
    assert_eq!(audit.as_array().unwrap().len(), 2, "{audit}");
}

/// Issue 10, item 6: the same policy again is no new version (nor audit entry); the answer
/// shows every rule as it applies, for a subject with its namespaces' overrides; a
/// registration the policy refuses is in the audit log.
async fn policy_reads_and_refusals(app: TestApp) {
    let (s, first) = put_policy(&app, POLICY_TOML, "application/toml").await;
    assert_eq!(s, StatusCode::OK, "{first}");
    let (s, again) = put_policy(&app, POLICY_TOML, "application/toml").await;
    assert_eq!(
        (s, &again["version"]),
        (StatusCode::OK, &json!(1)),
        "{again}"
    );
    let (_, audit) = app.get("/accord/v1/audit?action=policy.put").await;
    assert_eq!(audit.as_array().unwrap().len(), 1, "{audit}");

    let (_, p) = app.get("/accord/v1/policy").await;
    let rules = p["effective"]["rules"].as_object().unwrap();
    // Every rule is listed, the document's settings over the defaults.
    assert!(rules.len() > 5, "{p}");
    assert_eq!(rules["avro.field-name"]["mode"], "warn", "{p}");
    assert_eq!(rules["avro.field-name"]["case"], "camelCase", "{p}");
    assert!(rules.contains_key("doc.required"), "{p}");
    assert!(p["effective"].get("subject").is_none(), "{p}");
    let (_, p) = app
        .get("/accord/v1/policy?subject=payments.card-value")
        .await;
    assert_eq!(p["effective"]["subject"], "payments.card-value", "{p}");
    assert_eq!(
        p["effective"]["rules"]["avro.field-name"]["mode"], "enforce",
        "{p}"
    );
    assert_eq!(
        p["effective"]["rules"]["doc.required"]["mode"], "enforce",
        "{p}"
    );

    let got = app
        .post(
            "/subjects/payments.card-value/versions",
            card(None, "card_holder"),
        )
        .await;
    assert_error(&got, 422, 42253);
    let (_, audit) = app.get("/accord/v1/audit?action=subject.register").await;
    let refused: Vec<&Value> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["outcome"] == "denied")
        .collect();
    assert_eq!(refused.len(), 1, "{audit}");
    assert_eq!(refused[0]["subject"], "payments.card-value", "{audit}");
    assert!(
        refused[0]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("card_holder")),
        "{audit}"
    );
}

async fn owner_required_policy(app: TestApp) {
    let (s, _) = put_policy(&app, "ownerRequired = true\n", "text/plain").await;
    assert_eq!(s, StatusCode::OK);
    let schema = json!({"schema": "{\"type\":\"string\"}"});
    let got = app
        .post("/subjects/loose.thing-value/versions", schema.clone())
        .await;
    assert_error(&got, 422, 42252);
    let (s, _) = app
        .put("/accord/v1/teams/loose", json!({"claims": ["loose."]}))
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, r) = app
        .post("/subjects/loose.thing-value/versions", schema)
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
}

/// A subject registered before a naming rule was enforced keeps evolving: what the previous
/// version already had is an "existing" warning, and only what a version adds is enforced.
async fn rule_adopted_later_does_not_freeze_a_subject(app: TestApp) {
    let v1 = json!({"type": "record", "name": "Card", "namespace": "payments",
        "fields": [{"name": "cardId", "type": "string"}]});
    let (s, r) = app
        .post(
            "/subjects/payments.card-value/versions",
            json!({"schema": v1.to_string()}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");

    let policy = r#"
[rules."avro.field-name"]
mode = "enforce"
case = "snake_case"
"#;
    let (s, p) = put_policy(&app, policy, "application/toml").await;
    assert_eq!(s, StatusCode::OK, "{p}");

    // Renaming cardId would break compatibility; keeping it is allowed and reported.
    let v2 = json!({"type": "record", "name": "Card", "namespace": "payments",
        "fields": [{"name": "cardId", "type": "string"},
                   {"name": "holder_name", "type": "string", "default": ""}]});
    let (s, r) = app
        .post(
            "/subjects/payments.card-value/versions",
            json!({"schema": v2.to_string()}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let warnings = r["warnings"].as_array().expect("warnings");
    assert_eq!(warnings.len(), 1, "{r}");
    assert_eq!(warnings[0]["ruleId"], "avro.field-name");
    assert_eq!(warnings[0]["existing"], true, "{r}");
    assert_eq!(warnings[0]["severity"], "warning");
    assert!(warnings[0]["message"].as_str().unwrap().contains("cardId"));

    // A new field that breaks the rule is still refused, and only it is named.
    let v3 = json!({"type": "record", "name": "Card", "namespace": "payments",
        "fields": [{"name": "cardId", "type": "string"},
                   {"name": "holder_name", "type": "string", "default": ""},
                   {"name": "expiryMonth", "type": "int", "default": 0}]});
    let got = app
        .post(
            "/subjects/payments.card-value/versions",
            json!({"schema": v3.to_string()}),
        )
        .await;
    assert_error(&got, 422, 42253);
    let violations = got.1["violations"].as_array().expect("violations");
    assert_eq!(violations.len(), 1, "{}", got.1);
    assert_eq!(violations[0]["path"], "/fields/2/name");
    assert!(violations[0].get("existing").is_none(), "{}", got.1);
    let (_, versions) = app.get("/subjects/payments.card-value/versions").await;
    assert_eq!(versions, json!([1, 2]));

    // The dry run agrees.
    let (s, r) = app
        .post(
            "/accord/v1/lint/subjects/payments.card-value",
            json!({"schema": v2.to_string()}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["passes"], true, "{r}");
}
