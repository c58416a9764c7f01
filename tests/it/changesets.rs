//! Change sets (`/accord/v1/changesets/{plan,apply}`) on both stores: five related subjects
//! where one breaks store nothing; fixed, they apply together; plans store nothing and say per
//! item what would happen; overlapping concurrent applies end consistent; ownership and lint.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::governance::{admin_key, call, create_key, put_team};
use crate::helpers::{per_backend, Backend, TestApp};

per_backend!(
    one_incompatible_item_stores_nothing,
    plan_says_what_each_item_would_do,
    overlapping_concurrent_applies_end_consistent,
    ownership_and_lint_per_item,
    a_client_that_vanishes_mid_set_leaves_all_or_nothing,
);

/// Five related Avro subjects: `Money`, then `Address`, `Customer` (uses Address), `Order`
/// (uses Customer and Money), `Invoice` (uses Order). `extra` adds an optional field to each;
/// `break_order` gives Order a new required field (not backward compatible).
fn five(extra: bool, break_order: bool) -> Value {
    let field = |name: &str, ty: Value| json!({"name": name, "type": ty});
    let opt = |name: &str| json!({"name": name, "type": ["null", "string"], "default": null});
    let rec = |name: &str, mut fields: Vec<Value>| {
        if extra {
            fields.push(opt("note"));
        }
        json!({"type": "record", "name": name, "namespace": "shop", "fields": fields}).to_string()
    };
    let mut order_fields = vec![
        field("id", json!("string")),
        field("customer", json!("shop.Customer")),
        field("total", json!("shop.Money")),
    ];
    if break_order {
        order_fields.push(field("channel", json!("string")));
    }
    let r = |name: &str, subject: &str| json!({"name": name, "subject": subject, "version": -1});
    json!({"items": [
        {"subject": "shop.money-value", "schema": rec("Money", vec![field("cents", json!("long"))])},
        {"subject": "shop.address-value", "schema": rec("Address", vec![field("street", json!("string"))])},
        // Sent before what it references: the server orders the set by its references.
        {"subject": "shop.order-value", "schema": rec("Order", order_fields),
         "references": [r("shop.Customer", "shop.customer-value"), r("shop.Money", "shop.money-value")]},
        {"subject": "shop.customer-value", "schema": rec("Customer", vec![
            field("name", json!("string")), field("address", json!("shop.Address"))]),
         "references": [r("shop.Address", "shop.address-value")]},
        {"subject": "shop.invoice-value", "schema": rec("Invoice", vec![field("order", json!("shop.Order"))]),
         "references": [r("shop.Order", "shop.order-value")]},
    ]})
}

const SUBJECTS: [&str; 5] = [
    "shop.money-value",
    "shop.address-value",
    "shop.order-value",
    "shop.customer-value",
    "shop.invoice-value",
];

/// What the registry holds: every subject's versions, every schema id, the audit log's size.
async fn holdings(app: &TestApp) -> Value {
    let mut subjects = serde_json::Map::new();
    for s in SUBJECTS {
        let (_, v) = app.get(&format!("/subjects/{s}/versions")).await;
        subjects.insert(s.into(), v);
    }
    let (_, schemas) = app.get("/schemas?deleted=true").await;
    let ids: Vec<Value> = schemas
        .as_array()
        .map(|a| a.iter().map(|s| s["id"].clone()).collect())
        .unwrap_or_default();
    let (_, audit) = app.get("/accord/v1/audit?limit=1000").await;
    json!({"subjects": subjects, "ids": ids, "audit": audit.as_array().map(Vec::len)})
}

async fn one_incompatible_item_stores_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (s, first) = app
        .post("/accord/v1/changesets/apply", five(false, false))
        .await;
    assert_eq!(s, StatusCode::OK, "{first}");
    assert_eq!(first["ok"], true);
    assert_eq!(first["applied"], true);
    for item in first["items"].as_array().unwrap() {
        assert_eq!(item["status"], "new", "{item}");
        assert_eq!(item["version"], 1);
        assert!(item["id"].as_i64().unwrap() > 0);
    }
    // The stored references name the versions the set's items got.
    let (_, order) = app.get("/subjects/shop.order-value/versions/1").await;
    assert_eq!(
        order["references"],
        json!([{"name": "shop.Customer", "subject": "shop.customer-value", "version": 1},
               {"name": "shop.Money", "subject": "shop.money-value", "version": 1}])
    );

    let before = holdings(&app).await;
    let (s, refused) = app
        .post("/accord/v1/changesets/apply", five(true, true))
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{refused}");
    assert_eq!(refused["error_code"], 40901);
    let message = refused["message"].as_str().unwrap();
    assert!(message.contains("shop.order-value"), "{message}");
    let items = refused["items"].as_array().unwrap();
    let by = |s: &str| items.iter().find(|i| i["subject"] == s).unwrap().clone();
    assert_eq!(by("shop.order-value")["status"], "incompatible");
    let paths = by("shop.order-value")["messages"].to_string();
    assert!(
        paths.contains("channel"),
        "verbose paths name the field: {paths}"
    );
    assert_eq!(by("shop.invoice-value")["status"], "skipped");
    assert_eq!(
        by("shop.invoice-value")["dependsOn"],
        json!(["shop.order-value"])
    );
    for s in [
        "shop.money-value",
        "shop.address-value",
        "shop.customer-value",
    ] {
        assert_eq!(by(s)["status"], "new");
        assert!(by(s).get("id").is_none(), "no id for what was not stored");
    }
    assert_eq!(holdings(&app).await, before, "a refused set stores nothing");

    // Fixed, the five apply together: version 2 each, in one transaction with one audit
    // record per item plus one for the set.
    let (s, applied) = app
        .post("/accord/v1/changesets/apply", five(true, false))
        .await;
    assert_eq!(s, StatusCode::OK, "{applied}");
    let items = applied["items"].as_array().unwrap();
    assert!(
        items
            .iter()
            .all(|i| i["status"] == "new" && i["version"] == 2),
        "{applied}"
    );
    let (_, audit) = app.get("/accord/v1/audit?limit=1000").await;
    let audit = audit.as_array().unwrap();
    let count = |action: &str| audit.iter().filter(|a| a["action"] == action).count();
    assert_eq!(count("changeset.apply"), 2, "{audit:?}");
    assert_eq!(count("subject.register"), 10);
    let (_, invoice) = app.get("/subjects/shop.invoice-value/versions/2").await;
    assert_eq!(invoice["references"][0]["version"], 2);

    // Applying what the registry holds changes nothing (no new audit record either).
    let before = holdings(&app).await;
    let (s, again) = app
        .post("/accord/v1/changesets/apply", five(true, false))
        .await;
    assert_eq!(s, StatusCode::OK, "{again}");
    assert_eq!(again["applied"], false);
    assert!(again["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|i| i["status"] == "unchanged" && i["version"] == 2));
    assert_eq!(holdings(&app).await, before);
}

async fn plan_says_what_each_item_would_do(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let empty = holdings(&app).await;
    let (s, plan) = app
        .post("/accord/v1/changesets/plan", five(false, false))
        .await;
    assert_eq!(s, StatusCode::OK, "{plan}");
    assert_eq!(plan["ok"], true);
    for item in plan["items"].as_array().unwrap() {
        assert_eq!(item["status"], "new");
        assert_eq!(item["version"], 1);
        assert!(
            item.get("id").is_none(),
            "a new schema's id is given at apply: {item}"
        );
    }
    assert_eq!(holdings(&app).await, empty, "a plan stores nothing");

    let (s, _) = app
        .post("/accord/v1/changesets/apply", five(false, false))
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, plan) = app
        .post("/accord/v1/changesets/plan", five(false, false))
        .await;
    assert!(plan["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|i| i["status"] == "unchanged" && i["version"] == 1 && i["id"].as_i64().is_some()));
    let before = holdings(&app).await;
    let (_, plan) = app
        .post("/accord/v1/changesets/plan", five(true, true))
        .await;
    assert_eq!(plan["ok"], false);
    let statuses: Vec<&str> = plan["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["new", "new", "incompatible", "new", "skipped"]);
    assert_eq!(holdings(&app).await, before);

    // An invalid schema and a reference to nothing are each that item's verdict.
    let (_, plan) = app
        .post(
            "/accord/v1/changesets/plan",
            json!({"items": [
                {"subject": "bad-value", "schema": "{\"type\": \"recrod\"}"},
                {"subject": "dangling-value", "schema": "{\"type\":\"record\",\"name\":\"D\",\"fields\":[{\"name\":\"x\",\"type\":\"shop.Nope\"}]}",
                 "references": [{"name": "shop.Nope", "subject": "nope-value", "version": 1}]},
                {"subject": "good-value", "schema": "\"string\""},
            ]}),
        )
        .await;
    let items = plan["items"].as_array().unwrap();
    assert_eq!(items[0]["status"], "invalid");
    assert_eq!(items[0]["errorCode"], 42201);
    assert_eq!(items[1]["status"], "invalid");
    assert!(items[1]["message"].as_str().unwrap().contains("nope-value"));
    assert_eq!(items[2]["status"], "new");

    // Malformed sets are refused whole.
    for body in [
        json!({"items": []}),
        json!({"items": [{"subject": "a", "schema": "\"int\""}, {"subject": "a", "schema": "\"long\""}]}),
        json!({"items": [{"subject": "a", "schema": ""}]}),
        json!({"nope": 1}),
    ] {
        let (s, r) = app.post("/accord/v1/changesets/plan", body.clone()).await;
        assert!(s.is_client_error(), "{body} -> {s} {r}");
        assert!(r["error_code"].is_u64(), "{r}");
    }
    assert_eq!(holdings(&app).await, before);
}

async fn overlapping_concurrent_applies_end_consistent(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // Eight sets over five subjects, each overlapping the others, each adding its own optional
    // field to every subject it holds (compatible whatever order they commit in).
    let set = |n: usize| {
        let items: Vec<Value> = (0..5)
            .filter(|k| (k + n) % 3 != 0)
            .map(|k| {
                let fields: Vec<Value> = (0..=n)
                    .map(|f| json!({"name": format!("f{f}"), "type": ["null", "long"], "default": null}))
                    .collect();
                let schema = json!({"type": "record", "name": format!("R{k}"), "fields": fields});
                json!({"subject": format!("c{k}-value"), "schema": schema.to_string()})
            })
            .collect();
        json!({"items": items})
    };
    let mut tasks = Vec::new();
    for n in 0..8 {
        let (client, url, body) = (
            app.client.clone(),
            app.url("/accord/v1/changesets/apply"),
            set(n),
        );
        tasks.push(tokio::spawn(async move {
            let r = client
                .post(url)
                .header("content-type", "application/json")
                .body(body.to_string())
                .send()
                .await
                .expect("apply answers");
            let status = r.status();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }));
    }
    let mut applied = 0;
    for t in tasks {
        let (status, body) = tokio::time::timeout(std::time::Duration::from_secs(60), t)
            .await
            .expect("no deadlock: every apply answers")
            .expect("task");
        // A set that commits after one with more fields removes fields: refused, whole.
        assert!(
            status == StatusCode::OK || status == StatusCode::CONFLICT,
            "{status} {body}"
        );
        if status == StatusCode::OK {
            applied += 1;
        }
    }
    assert!(applied >= 1);
    // Consistent: every subject's versions are 1..n with no gap, each stored once, and the
    // audit log holds one registration record per stored version.
    let mut versions_total = 0;
    for k in 0..5 {
        let (_, v) = app.get(&format!("/subjects/c{k}-value/versions")).await;
        let v: Vec<i64> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_i64().unwrap())
            .collect();
        assert_eq!(v, (1..=v.len() as i64).collect::<Vec<_>>());
        versions_total += v.len();
    }
    let (_, audit) = app.get("/accord/v1/audit?limit=1000").await;
    let audit = audit.as_array().unwrap();
    let registered = audit
        .iter()
        .filter(|a| a["action"] == "subject.register")
        .count();
    assert_eq!(registered, versions_total);
    assert_eq!(
        audit
            .iter()
            .filter(|a| a["action"] == "changeset.apply")
            .count(),
        applied
    );
}

async fn ownership_and_lint_per_item(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.auth = true).await;
    let admin = admin_key(&app);
    put_team(&app, &admin, "payments", json!(["payments."])).await;
    put_team(&app, &admin, "orders", json!(["orders."])).await;
    let payments = create_key(&app, &admin, json!({"role": "member", "team": "payments"})).await;
    let (s, r) = call(
        &app,
        Method::PUT,
        "/accord/v1/policy",
        Some(json!({"rules": {"avro.field-name": {"mode": "enforce", "case": "snake_case"}}})),
        Some(&admin),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let rec = |name: &str, field: &str| {
        json!({"type": "record", "name": name, "fields": [{"name": field, "type": "string"}]})
            .to_string()
    };
    let set = json!({"items": [
        {"subject": "payments.card-value", "schema": rec("Card", "card_number")},
        {"subject": "orders.order-value", "schema": rec("Order", "order_id")},
        {"subject": "payments.refund-value", "schema": rec("Refund", "refundAmount")},
    ]});
    // Without a key: 401, as for a single registration.
    let (s, _) = call(
        &app,
        Method::POST,
        "/accord/v1/changesets/plan",
        Some(set.clone()),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, plan) = call(
        &app,
        Method::POST,
        "/accord/v1/changesets/plan",
        Some(set.clone()),
        Some(&payments),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{plan}");
    let items = plan["items"].as_array().unwrap();
    assert_eq!(items[0]["status"], "new");
    assert_eq!(items[1]["status"], "forbidden");
    assert_eq!(items[1]["owner"], "orders");
    assert!(items[1]["message"].as_str().unwrap().contains("orders"));
    assert_eq!(items[2]["status"], "lint");
    assert_eq!(items[2]["violations"][0]["ruleId"], "avro.field-name");

    let (s, refused) = call(
        &app,
        Method::POST,
        "/accord/v1/changesets/apply",
        Some(set.clone()),
        Some(&payments),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{refused}");
    assert_eq!(refused["error_code"], 40301);
    let (s, _) = app.get("/subjects/payments.card-value/versions").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "reads need a key too");
    let (s, _) = call(
        &app,
        Method::GET,
        "/subjects/payments.card-value/versions",
        None,
        Some(&admin),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "nothing stored");

    // The payments team's own two subjects, lint fixed: applied.
    let set = json!({"items": [
        {"subject": "payments.card-value", "schema": rec("Card", "card_number")},
        {"subject": "payments.refund-value", "schema": rec("Refund", "refund_amount")},
    ]});
    let (s, done) = call(
        &app,
        Method::POST,
        "/accord/v1/changesets/apply",
        Some(set.clone()),
        Some(&payments),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{done}");
    assert_eq!(done["applied"], true);
    // Another team's check of a project holding them unchanged passes: nothing to write.
    let orders = create_key(&app, &admin, json!({"role": "member", "team": "orders"})).await;
    let (s, plan) = call(
        &app,
        Method::POST,
        "/accord/v1/changesets/plan",
        Some(set),
        Some(&orders),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{plan}");
    assert_eq!(plan["ok"], true, "{plan}");
    assert!(plan["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|i| i["status"] == "unchanged"));
}

/// `n` independent Avro subjects `gone.s{i}-value` as one change set.
fn many(n: usize) -> Value {
    let items: Vec<Value> = (0..n)
        .map(|i| {
            let schema = json!({"type": "record", "name": format!("S{i}"), "namespace": "gone",
                "fields": [{"name": "id", "type": "long"}]});
            json!({"subject": format!("gone.s{i}-value"), "schema": schema.to_string()})
        })
        .collect();
    json!({ "items": items })
}

/// How many subjects the registry lists.
async fn subjects_now(app: &TestApp) -> usize {
    let (_, v) = app.get("/subjects").await;
    v.as_array().map(Vec::len).unwrap_or_default()
}

/// Sends a request and closes the connection `after` it, before any answer.
async fn send_and_vanish(app: &TestApp, path: &str, body: &Value, after: std::time::Duration) {
    use tokio::io::AsyncWriteExt;
    let address = app.base.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let body = body.to_string();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    tokio::time::sleep(after).await;
    drop(stream);
}

/// A client gone mid-way through a plan or an apply: the plan stores nothing; the apply, once
/// begun, finishes on its own (all of it) — or, when the connection closed before it began,
/// stores none of it. Never a part, and the server keeps serving.
async fn a_client_that_vanishes_mid_set_leaves_all_or_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let n = 300;
    send_and_vanish(
        &app,
        "/accord/v1/changesets/plan",
        &many(n),
        Default::default(),
    )
    .await;
    // The apply takes far longer than this: its client leaves while it runs.
    let wait = std::time::Duration::from_millis(200);
    send_and_vanish(&app, "/accord/v1/changesets/apply", &many(n), wait).await;
    let began = std::time::Instant::now();
    let mut seen = subjects_now(&app).await;
    while seen < n && began.elapsed() < std::time::Duration::from_secs(20) {
        assert_eq!(seen, 0, "a change set is never seen in part");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        seen = subjects_now(&app).await;
    }
    let (_, ids) = app.get("/schemas").await;
    let (_, audit) = app.get("/accord/v1/audit?limit=1000").await;
    let sets = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == "changeset.apply")
        .count();
    // All or nothing, and the stored schemas and the audit agree with the subjects.
    let stored = ids.as_array().map(Vec::len).unwrap_or_default();
    match seen {
        0 => assert_eq!((stored, sets), (0, 0), "nothing begun, nothing stored"),
        _ => assert_eq!((seen, stored, sets), (n, n, 1), "the apply committed whole"),
    }
    // The server still answers; the same set applies (or is already there).
    let (s, r) = app.post("/accord/v1/changesets/apply", many(n)).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["applied"], seen == 0, "{r}");
    assert_eq!(subjects_now(&app).await, n);
}
