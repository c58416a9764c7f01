//! The change log (issue 11): one entry per committed change, gap-free and in commit order,
//! nothing for refused or no-op requests; pages, long-poll and Server-Sent Events.

use std::time::{Duration, Instant};

use accord::types::QualifiedSubject;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{on_both_backends, per_backend, Backend, StoreFixture, TestApp};

per_backend!(rollback_leaves_no_gap_and_retention_expires);

on_both_backends!(
    every_change_has_one_entry,
    refusals_and_no_ops_leave_none,
    long_poll_wakes_on_commit,
    event_stream_resumes,
    concurrent_writers_commit_in_order
);

fn record(name: &str, fields: &[&str]) -> Value {
    let fields: Vec<Value> = fields
        .iter()
        .map(|f| json!({"name": f, "type": "string", "default": ""}))
        .collect();
    json!({"type": "record", "name": name, "fields": fields})
}

async fn changes(app: &TestApp, after: i64) -> Value {
    let (s, page) = app
        .get(&format!("/accord/v1/changes?after={after}&limit=1000"))
        .await;
    assert_eq!(s, StatusCode::OK, "{page}");
    page
}

async fn head(app: &TestApp) -> i64 {
    changes(app, 0).await["head"].as_i64().expect("head")
}

fn kinds(page: &Value) -> Vec<String> {
    page["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| c["kind"].as_str().expect("kind").to_owned())
        .collect()
}

async fn send(app: &TestApp, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
    let mut r = app.client.request(method.clone(), app.url(path));
    if let Some(b) = body {
        r = r.json(&b);
    }
    let (s, v) = crate::helpers::read(r.send().await.expect("request")).await;
    assert!(s.is_success(), "{method} {path}: {s} {v}");
    v
}

async fn every_change_has_one_entry(app: TestApp) {
    assert_eq!(head(&app).await, 0);
    make_one_change_of_each_kind(&app).await;
    check_one_entry_of_each_kind(&app).await;
}

/// The kinds [`make_one_change_of_each_kind`] produces, in order.
pub const EVERY_KIND_IN_ORDER: [&str; 25] = [
    "schema.registered",
    "schema.registered",
    "schema.registered",
    "version.deleted",
    "version.deleted.permanent",
    "config.updated",
    "config.deleted",
    "mode.updated",
    "mode.deleted",
    "team.updated",
    "subject.governance.updated",
    "subject.consumer.added",
    "subject.consumer.removed",
    "team.deleted",
    "policy.updated",
    "key.created",
    "key.created",
    "key.revoked",
    "schema.registered",
    "subject.deleted",
    "subject.deleted.permanent",
    "config.updated",
    "context.deleted",
    "binding.updated",
    "binding.deleted",
];

/// Makes every kind of change the log records (auth off), on a fresh registry.
pub async fn make_one_change_of_each_kind(app: &TestApp) {
    use reqwest::Method;
    app.register_ok("orders-value", &record("Order", &["id"]))
        .await;
    app.register_ok("orders-value", &record("Order", &["id", "note"]))
        .await;
    app.register_ok("orders-value", &record("Order", &["id", "note", "x"]))
        .await;
    send(
        app,
        Method::DELETE,
        "/subjects/orders-value/versions/3",
        None,
    )
    .await;
    send(
        app,
        Method::DELETE,
        "/subjects/orders-value/versions/3?permanent=true",
        None,
    )
    .await;
    send(
        app,
        Method::PUT,
        "/config/orders-value",
        Some(json!({"compatibility": "FULL"})),
    )
    .await;
    send(app, Method::DELETE, "/config/orders-value", None).await;
    send(
        app,
        Method::PUT,
        "/mode/orders-value",
        Some(json!({"mode": "READONLY"})),
    )
    .await;
    send(app, Method::DELETE, "/mode/orders-value", None).await;
    send(
        app,
        Method::PUT,
        "/accord/v1/teams/payments",
        Some(json!({"name": "payments"})),
    )
    .await;
    send(
        app,
        Method::PUT,
        "/accord/v1/subjects/orders-value",
        Some(json!({"description": "orders", "lifecycle": "active"})),
    )
    .await;
    send(
        app,
        Method::POST,
        "/accord/v1/subjects/orders-value/consumers",
        Some(json!({"team": "payments"})),
    )
    .await;
    send(
        app,
        Method::DELETE,
        "/accord/v1/subjects/orders-value/consumers/payments",
        None,
    )
    .await;
    send(app, Method::DELETE, "/accord/v1/teams/payments", None).await;
    let r = app
        .client
        .put(app.url("/accord/v1/policy"))
        .header("content-type", "application/toml")
        .body("[rules.\"avro.field-name\"]\nmode = \"warn\"\ncase = \"snake_case\"\n")
        .send()
        .await
        .expect("policy");
    assert_eq!(r.status(), StatusCode::OK);
    let key = send(
        app,
        Method::POST,
        "/accord/v1/keys",
        Some(json!({"role": "admin"})),
    )
    .await;
    send(
        app,
        Method::POST,
        "/accord/v1/keys",
        Some(json!({"role": "admin"})),
    )
    .await;
    let id = key["id"].as_str().expect("key id");
    send(app, Method::DELETE, &format!("/accord/v1/keys/{id}"), None).await;
    app.register_ok(":.other:a-value", &record("A", &["id"]))
        .await;
    send(app, Method::DELETE, "/subjects/:.other:a-value", None).await;
    send(
        app,
        Method::DELETE,
        "/subjects/:.other:a-value?permanent=true",
        None,
    )
    .await;
    send(
        app,
        Method::PUT,
        "/contexts/.other/config",
        Some(json!({"compatibility": "NONE"})),
    )
    .await;
    send(app, Method::DELETE, "/contexts/.other", None).await;
    send(
        app,
        Method::PUT,
        "/accord/v1/bindings/sensors",
        Some(json!({"destination": "sensors/+/temp", "subject": "orders-value"})),
    )
    .await;
    send(app, Method::DELETE, "/accord/v1/bindings/sensors", None).await;
}

async fn check_one_entry_of_each_kind(app: &TestApp) {
    let page = changes(app, 0).await;
    assert_eq!(kinds(&page), EVERY_KIND_IN_ORDER, "{page}");
    let all = page["changes"].as_array().expect("changes");
    let seqs: Vec<i64> = all.iter().map(|c| c["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, (1..=all.len() as i64).collect::<Vec<_>>());
    assert_eq!(page["head"], all.len() as i64);
    assert_eq!(page["next"], all.len() as i64);
    // Entries say what changed.
    assert_eq!(all[0]["subject"], "orders-value");
    assert_eq!(all[0]["context"], ".");
    assert_eq!(all[0]["data"]["after"]["version"], 1);
    assert_eq!(all[0]["data"]["after"]["id"], 1);
    assert!(all[0]["time"].as_str().unwrap().ends_with('Z'));
    assert_eq!(all[4]["data"]["before"]["version"], 3);
    assert_eq!(all[18]["context"], ".other");
    assert_eq!(all[18]["subject"], "a-value");
    assert_eq!(all[20]["data"]["after"]["removedSchemaIds"], json!([1]));
    assert_eq!(all[21]["context"], ".other");
    assert_eq!(all[22]["context"], ".other");
    // Paging: after and limit.
    let (_, p) = app.get("/accord/v1/changes?after=3&limit=2").await;
    let got: Vec<i64> = p["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["seq"].as_i64().unwrap())
        .collect();
    assert_eq!((got, p["next"].as_i64()), (vec![4, 5], Some(5)));
    crate::helpers::assert_error(&app.get("/accord/v1/changes?limit=0").await, 400, 400);
    crate::helpers::assert_error(&app.get("/accord/v1/changes?wait=soon").await, 400, 400);
}

async fn refusals_and_no_ops_leave_none(app: TestApp) {
    let v1 = record("Order", &["id"]);
    app.register_ok("orders-value", &v1).await;
    assert_eq!(head(&app).await, 1);
    // The same schema again is not a change.
    app.register_ok("orders-value", &v1).await;
    // Incompatible (a field without a default added under BACKWARD), invalid, bad config.
    let breaking = json!({"type": "record", "name": "Order",
        "fields": [{"name": "id", "type": "string", "default": ""}, {"name": "n", "type": "int"}]});
    let (s, _) = app.register("orders-value", &breaking).await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, _) = app
        .post(
            "/subjects/orders-value/versions",
            json!({"schema": "{not avro"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _) = app
        .put("/config/orders-value", json!({"compatibility": "SIDEWAYS"}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _) = app.delete("/subjects/nothing-here").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(head(&app).await, 1);
    assert_eq!(kinds(&changes(&app, 0).await), ["schema.registered"]);
}

async fn long_poll_wakes_on_commit(app: TestApp) {
    // Nothing newer: the wait ends empty at its deadline.
    let started = Instant::now();
    let (s, p) = app.get("/accord/v1/changes?after=0&wait=300ms").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(p["changes"], json!([]));
    assert!(started.elapsed() >= Duration::from_millis(290));

    let mut worst = Duration::ZERO;
    for round in 0..5i64 {
        let waiter = {
            let (client, url) = (
                app.client.clone(),
                app.url(&format!("/accord/v1/changes?after={round}&wait=10s")),
            );
            tokio::spawn(async move {
                let r = client.get(url).send().await.expect("poll");
                let body: Value = r.json().await.expect("json");
                (Instant::now(), body)
            })
        };
        tokio::time::sleep(Duration::from_millis(200)).await;
        let fields: Vec<String> = (0..=round).map(|i| format!("f{i}")).collect();
        let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
        app.register_ok("orders-value", &record("Order", &fields))
            .await;
        let committed = Instant::now();
        let (woke, body) = waiter.await.expect("waiter");
        assert_eq!(body["changes"][0]["seq"], round + 1, "{body}");
        worst = worst.max(woke.saturating_duration_since(committed));
    }
    // The follower polls the head every 20 ms; generous for a busy 2-core machine.
    assert!(
        worst < Duration::from_millis(500),
        "woke {worst:?} after the commit"
    );
    eprintln!("long-poll woke at most {worst:?} after the commit");
}

async fn event_stream_resumes(app: TestApp) {
    for i in 0..3 {
        let fields: Vec<String> = (0..=i).map(|i| format!("f{i}")).collect();
        let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
        app.register_ok("orders-value", &record("Order", &fields))
            .await;
    }
    let read_events = |last: Option<&'static str>, want: usize| {
        let (client, url) = (app.client.clone(), app.url("/accord/v1/changes"));
        async move {
            let mut r = client.get(url).header("accept", "text/event-stream");
            if let Some(l) = last {
                r = r.header("last-event-id", l);
            }
            let mut r = r.send().await.expect("sse");
            assert_eq!(r.status(), StatusCode::OK);
            assert!(r
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("text/event-stream")));
            let mut text = String::new();
            let deadline = Instant::now() + Duration::from_secs(10);
            while text.matches("\nid:").count() + usize::from(text.starts_with("id:")) < want {
                assert!(Instant::now() < deadline, "events so far: {text}");
                let chunk = tokio::time::timeout(Duration::from_secs(10), r.chunk())
                    .await
                    .expect("an event in time")
                    .expect("stream")
                    .expect("not ended");
                text.push_str(&String::from_utf8_lossy(&chunk));
            }
            text
        }
    };
    let all = read_events(None, 3).await;
    let ids: Vec<&str> = all
        .lines()
        .filter_map(|l| l.strip_prefix("id:"))
        .map(str::trim)
        .collect();
    assert_eq!(ids, ["1", "2", "3"], "{all}");
    assert!(all.contains("event: schema.registered") || all.contains("event:schema.registered"));
    let data = all
        .lines()
        .find_map(|l| l.strip_prefix("data:"))
        .expect("data line");
    let entry: Value = serde_json::from_str(data.trim()).expect("data is JSON");
    assert_eq!(entry["seq"], 1);
    // Resumed after 2, then a new commit arrives live.
    let resumed = tokio::spawn(read_events(Some("2"), 2));
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.register_ok("orders-value", &record("Order", &["f0", "f1", "f2", "f3"]))
        .await;
    let text = resumed.await.expect("resumed");
    let ids: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("id:"))
        .map(str::trim)
        .collect();
    assert_eq!(ids, ["3", "4"], "{text}");
}

/// Writers on different subjects commit concurrently; a reader following the log meanwhile
/// sees every sequence exactly once, never one after a higher one.
async fn concurrent_writers_commit_in_order(app: TestApp) {
    let writers = 8;
    let each = 6;
    let reader = {
        let (client, base) = (app.client.clone(), app.base.clone());
        tokio::spawn(async move {
            let mut seen = Vec::new();
            let mut after = 0;
            while seen.len() < writers * each {
                let r = client
                    .get(format!("{base}/accord/v1/changes?after={after}&wait=5s"))
                    .send()
                    .await
                    .expect("poll");
                let page: Value = r.json().await.expect("json");
                for c in page["changes"].as_array().expect("changes") {
                    seen.push(c["seq"].as_i64().expect("seq"));
                }
                after = page["next"].as_i64().expect("next");
                if page["changes"].as_array().is_some_and(Vec::is_empty) {
                    break;
                }
            }
            seen
        })
    };
    let mut tasks = Vec::new();
    for w in 0..writers {
        let (client, base) = (app.client.clone(), app.base.clone());
        tasks.push(tokio::spawn(async move {
            for v in 0..each {
                let fields: Vec<Value> = (0..=v)
                    .map(|i| json!({"name": format!("f{i}"), "type": "string", "default": ""}))
                    .collect();
                let schema = json!({"type": "record", "name": "R", "fields": fields});
                let r = client
                    .post(format!("{base}/subjects/s{w}-value/versions"))
                    .json(&json!({"schema": schema.to_string()}))
                    .send()
                    .await
                    .expect("register");
                assert_eq!(r.status(), StatusCode::OK);
            }
        }));
    }
    for t in tasks {
        t.await.expect("writer");
    }
    let seen = reader.await.expect("reader");
    assert_eq!(
        seen,
        (1..=(writers * each) as i64).collect::<Vec<_>>(),
        "the reader saw sequences out of order or with gaps"
    );
}

/// Two instances on one PostgreSQL: a permanent delete and a policy change made on A are seen
/// on B without a restart, within the follower's interval (issue 11, item 3).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caches_follow_changes_made_on_another_instance() {
    let a = TestApp::spawn(crate::helpers::Backend::Postgres).await;
    let b = a.second_instance().await;
    let mut worst = Duration::ZERO;
    for round in 0..5 {
        let subject = format!("gone{round}-value");
        let id = a.register_ok(&subject, &record("Gone", &["id"])).await;
        // B reads it (and caches it).
        for _ in 0..2 {
            let (s, _) = b.get(&format!("/schemas/ids/{id}")).await;
            assert_eq!(s, StatusCode::OK);
        }
        let (s, _) = a.delete(&format!("/subjects/{subject}")).await;
        assert_eq!(s, StatusCode::OK);
        let (s, _) = a
            .delete(&format!("/subjects/{subject}?permanent=true"))
            .await;
        assert_eq!(s, StatusCode::OK);
        let deleted = Instant::now();
        loop {
            let (s, body) = b.get(&format!("/schemas/ids/{id}")).await;
            if s == StatusCode::NOT_FOUND {
                assert_eq!(body["error_code"], 40403);
                break;
            }
            assert!(
                deleted.elapsed() < Duration::from_secs(2),
                "B still serves schema {id} deleted on A"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        worst = worst.max(deleted.elapsed());
    }
    eprintln!("a permanent delete on A was visible on B within {worst:?}");
    assert!(worst < Duration::from_millis(500), "{worst:?}");

    // Governance: B's policy snapshot follows A's change.
    let (_, before) = b.get("/accord/v1/policy").await;
    let r = a
        .client
        .put(a.url("/accord/v1/policy"))
        .header("content-type", "application/toml")
        .body("[rules.\"avro.field-name\"]\nmode = \"enforce\"\ncase = \"snake_case\"\n")
        .send()
        .await
        .expect("policy");
    assert_eq!(r.status(), StatusCode::OK);
    let changed = Instant::now();
    let fields =
        json!({"type": "record", "name": "P", "fields": [{"name": "camelCase", "type": "string"}]});
    loop {
        let (s, _) = b.register("p-value", &fields).await;
        if s == StatusCode::UNPROCESSABLE_ENTITY {
            break;
        }
        // Registered under the old policy: remove it again and retry.
        assert_eq!(s, StatusCode::OK, "policy was {before}");
        assert!(
            changed.elapsed() < Duration::from_secs(2),
            "B kept the old policy"
        );
        b.delete("/subjects/p-value").await;
        b.delete("/subjects/p-value?permanent=true").await;
    }
    eprintln!(
        "a policy change on A was enforced on B within {:?}",
        changed.elapsed()
    );
}

/// Below the API: a rolled-back change leaves no entry and no gap; a denied attempt's audit
/// record makes none; retention by count removes the oldest and a reader behind it is told to
/// resync.
async fn rollback_leaves_no_gap_and_retention_expires(backend: Backend) {
    use accord::changes::{ChangeFeed, FeedError};
    use accord::storage::AuditRecord;
    let fx = StoreFixture::new(backend).await;
    let lock = QualifiedSubject::parse("teams").expect("subject");
    let team = |name: &str, outcome: &str| AuditRecord {
        at: accord::storage::now_millis(),
        principal: "test".into(),
        action: "team.put".into(),
        outcome: outcome.into(),
        target: name.into(),
        ..AuditRecord::default()
    };
    for i in 0..5 {
        let mut s = fx.store.write(&lock).await.expect("write");
        s.insert_audit(&team(&format!("t{i}"), "ok"))
            .await
            .expect("audit");
        if i == 2 {
            // Dropped without commit: rolled back, its number with it.
            drop(s);
            let mut s = fx.store.write(&lock).await.expect("write");
            s.insert_audit(&team("again", "ok")).await.expect("audit");
            s.commit().await.expect("commit");
            continue;
        }
        s.commit().await.expect("commit");
    }
    let mut s = fx.store.write(&lock).await.expect("write");
    s.insert_audit(&team("refused", "denied"))
        .await
        .expect("audit");
    s.commit().await.expect("commit");

    let feed = ChangeFeed::start(fx.store.clone(), Box::new(|_| {}));
    let page = feed.read(0, 100, None).await.expect("read");
    let got: Vec<(i64, String)> = page
        .changes
        .iter()
        .map(|c| {
            (
                c.seq,
                c.data["target"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (1, "t0".to_owned()),
            (2, "t1".to_owned()),
            (3, "again".to_owned()),
            (4, "t3".to_owned()),
            (5, "t4".to_owned())
        ]
    );
    // Age limit (7 days): nothing this young goes.
    assert_eq!(feed.prune(7, 0).await.expect("prune"), 0);
    // Count limit: the newest two stay.
    assert_eq!(feed.prune(0, 2).await.expect("prune"), 3);
    match feed.read(0, 100, None).await {
        Err(FeedError::Expired {
            after,
            pruned,
            head,
        }) => {
            assert_eq!((after, pruned, head), (0, 3, 5))
        }
        other => panic!("expected an expired position, got {other:?}"),
    }
    let rest: Vec<i64> = feed
        .read(3, 100, None)
        .await
        .expect("read")
        .changes
        .iter()
        .map(|c| c.seq)
        .collect();
    assert_eq!(rest, [4, 5]);
}

/// Issue 11, "done when": two `accord-server` processes on one PostgreSQL database with
/// authentication on. A permanent delete, a config change, a team's claim and a key revocation
/// made on one are seen by the other at once (no TTL); 1,000 registrations spread over both
/// while a follower on each reads the log: each sees every sequence once, in order, no gaps.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_agree_without_a_ttl() {
    use crate::governance::{admin_key, call, create_key, put_team};
    use reqwest::Method;
    let auth = [("ACCORD_AUTH", "true".to_owned())];
    let a = TestApp::on_binary(Backend::Postgres, &auth).await;
    let admin = admin_key(&a);
    let mut b = a.clone_on_new_process(&auth).await;
    let within = Duration::from_millis(500);
    // Waits until `seen` holds on B; how long that took.
    async fn until<F, Fut>(what: &str, within: Duration, seen: F) -> Duration
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let started = Instant::now();
        while !seen().await {
            assert!(
                started.elapsed() < within,
                "B did not see {what} within {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        started.elapsed()
    }

    // A permanent delete: B's cached schema goes.
    let avro = record("Gone", &["id"]);
    let (s, r) = call(
        &a,
        Method::POST,
        "/subjects/gone-value/versions",
        Some(json!({"schema": avro.to_string()})),
        Some(&admin),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let id = r["id"].as_i64().unwrap();
    let by_id = format!("/schemas/ids/{id}");
    assert_eq!(
        call(&b, Method::GET, &by_id, None, Some(&admin)).await.0,
        StatusCode::OK
    );
    for path in [
        "/subjects/gone-value",
        "/subjects/gone-value?permanent=true",
    ] {
        assert_eq!(
            call(&a, Method::DELETE, path, None, Some(&admin)).await.0,
            StatusCode::OK
        );
    }
    let t = until("the permanent delete", within, || async {
        call(&b, Method::GET, &by_id, None, Some(&admin)).await.0 == StatusCode::NOT_FOUND
    })
    .await;
    eprintln!("permanent delete on A: B answers 404 after {t:?}");

    // A config change.
    let (s, _) = call(
        &a,
        Method::PUT,
        "/config/orders-value",
        Some(json!({"compatibility": "FULL"})),
        Some(&admin),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let t = until("the config change", within, || async {
        call(&b, Method::GET, "/config/orders-value", None, Some(&admin))
            .await
            .1["compatibilityLevel"]
            == "FULL"
    })
    .await;
    eprintln!("config change on A: B answers it after {t:?}");

    // A team's claim moves a subject to a new owner.
    put_team(&a, &admin, "payments", json!(["orders."])).await;
    let owner = |team: &'static str| {
        let (b, admin) = (&b, &admin);
        move || async move {
            call(
                b,
                Method::GET,
                "/accord/v1/subjects/orders.created-value",
                None,
                Some(admin),
            )
            .await
            .1["ownership"]["team"]
                == team
        }
    };
    until("payments' claim", within, owner("payments")).await;
    put_team(&a, &admin, "payments", json!([])).await;
    put_team(&a, &admin, "shipping", json!(["orders."])).await;
    let t = until("the new owner", within, owner("shipping")).await;
    eprintln!("claim change on A: B names the new owner after {t:?}");

    // A key revoked on A is refused on B.
    let key = create_key(&a, &admin, json!({"role": "reader"})).await;
    assert_eq!(
        call(&b, Method::GET, "/subjects", None, Some(&key)).await.0,
        StatusCode::OK
    );
    let (s, _) = call(
        &a,
        Method::DELETE,
        &format!("/accord/v1/keys/{}", key.id),
        None,
        Some(&admin),
    )
    .await;
    assert!(s.is_success(), "revoke: {s}");
    let t = until("the revocation", within, || async {
        call(&b, Method::GET, "/subjects", None, Some(&key)).await.0 == StatusCode::UNAUTHORIZED
    })
    .await;
    eprintln!("key revoked on A: B answers 401 after {t:?}");

    // 1,000 registrations over both, a follower on each.
    let (_, page) = call(
        &a,
        Method::GET,
        "/accord/v1/changes?limit=1",
        None,
        Some(&admin),
    )
    .await;
    let start = page["head"].as_i64().unwrap();
    let total = 1000usize;
    let follow = |base: String| {
        let (client, user) = (a.client.clone(), (admin.id.clone(), admin.secret.clone()));
        tokio::spawn(async move {
            let mut seen = Vec::new();
            let mut after = start;
            let mut registered = 0;
            while registered < total {
                let r = client
                    .get(format!(
                        "{base}/accord/v1/changes?after={after}&limit=1000&wait=10s"
                    ))
                    .basic_auth(&user.0, Some(&user.1))
                    .send()
                    .await
                    .expect("follow");
                assert_eq!(r.status(), StatusCode::OK);
                let page: Value = r.json().await.expect("page");
                let entries = page["changes"].as_array().expect("changes");
                assert!(!entries.is_empty(), "the follower waited 10 s for nothing");
                for c in entries {
                    seen.push(c["seq"].as_i64().unwrap());
                    registered += usize::from(c["kind"] == "schema.registered");
                }
                after = page["next"].as_i64().unwrap();
            }
            seen
        })
    };
    let followers = [follow(a.base.clone()), follow(b.base.clone())];
    let started = Instant::now();
    let mut writers = Vec::new();
    for w in 0..8 {
        let base = if w % 2 == 0 {
            a.base.clone()
        } else {
            b.base.clone()
        };
        let (client, user) = (a.client.clone(), (admin.id.clone(), admin.secret.clone()));
        writers.push(tokio::spawn(async move {
            for i in 0..total / 8 {
                let schema = record("R", &["id"]).to_string();
                let r = client
                    .post(format!("{base}/subjects/w{w}-{i}-value/versions"))
                    .basic_auth(&user.0, Some(&user.1))
                    .json(&json!({"schema": schema}))
                    .send()
                    .await
                    .expect("register");
                assert_eq!(r.status(), StatusCode::OK);
            }
        }));
    }
    for w in writers {
        w.await.expect("writer");
    }
    let registered = started.elapsed();
    for f in followers {
        let seen = f.await.expect("follower");
        assert_eq!(
            seen,
            ((start + 1)..=(start + total as i64)).collect::<Vec<_>>(),
            "a follower missed, repeated or reordered sequences"
        );
    }
    eprintln!("{total} registrations over two processes in {registered:?}; both followers saw each once, in order");
    b.process().kill();
}

/// Over HTTP: a reader behind the retained range is told to resync (410, 41001) on a page and
/// on an event stream, and reading from the retained start works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_positions_are_410() {
    let app = TestApp::spawn(Backend::Postgres).await;
    for i in 0..5 {
        app.register_ok(&format!("r{i}-value"), &record("R", &["id"]))
            .await;
    }
    // Retention, as the hourly task runs it, through another store on the same database.
    let store: std::sync::Arc<dyn accord::storage::Store> = std::sync::Arc::new(
        accord::storage::PostgresStore::connect(app.database_url.as_deref().unwrap(), 2)
            .await
            .expect("store"),
    );
    let feed = accord::changes::ChangeFeed::start(store, Box::new(|_| {}));
    assert_eq!(feed.prune(0, 2).await.expect("prune"), 3);
    let got = app.get("/accord/v1/changes?after=1").await;
    crate::helpers::assert_error(&got, 410, 41001);
    assert!(
        got.1["message"].as_str().unwrap().contains("resync"),
        "{}",
        got.1
    );
    let (s, page) = app.get("/accord/v1/changes?after=3").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(page["changes"].as_array().unwrap().len(), 2);
    // An event stream asked to resume there is refused the same way, before it starts.
    let r = app
        .client
        .get(app.url("/accord/v1/changes"))
        .header("accept", "text/event-stream")
        .header("last-event-id", "2")
        .send()
        .await
        .expect("stream");
    assert_eq!(r.status(), StatusCode::GONE);
    let body: Value = r.json().await.expect("error body");
    assert_eq!(body["error_code"], 41001);
}
