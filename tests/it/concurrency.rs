//! Registration is atomic per subject: concurrent writers never produce duplicate or missing
//! versions, nor two ids for one schema.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::json;

use crate::helpers::{on_both_backends, per_backend, Backend, TestApp};

on_both_backends!(
    same_schema_fifty_times,
    fifty_compatible_schemas,
    same_schema_many_subjects
);
per_backend!(registrations_with_cold_governance_snapshot);

async fn same_schema_fifty_times(app: TestApp) {
    let app = Arc::new(app);
    let schema =
        json!({"type": "record", "name": "Same", "fields": [{"name": "a", "type": "int"}]});
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (app, schema) = (app.clone(), schema.clone());
            tokio::spawn(async move { app.register("same", &schema).await })
        })
        .collect();
    let mut ids = BTreeSet::new();
    let mut versions = BTreeSet::new();
    for t in tasks {
        let (status, body) = t.await.unwrap();
        assert!(status.is_success(), "{body}");
        ids.insert(body["id"].as_i64().unwrap());
        versions.insert(body["version"].as_i64().unwrap());
    }
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(versions, BTreeSet::from([1]));
    assert_eq!(app.get("/subjects/same/versions").await.1, json!([1]));
}

async fn fifty_compatible_schemas(app: TestApp) {
    let app = Arc::new(app);
    // Each schema adds one optional field; any order of them is BACKWARD compatible.
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let app = app.clone();
            tokio::spawn(async move {
                let schema = json!({"type": "record", "name": "Grow", "fields": [
                    {"name": "id", "type": "long"},
                    {"name": format!("f{i}"), "type": "int", "default": 0}
                ]});
                app.register("grow", &schema).await
            })
        })
        .collect();
    let mut versions = Vec::new();
    let mut ids = BTreeSet::new();
    for t in tasks {
        let (status, body) = t.await.unwrap();
        assert!(status.is_success(), "{body}");
        versions.push(body["version"].as_i64().unwrap());
        ids.insert(body["id"].as_i64().unwrap());
    }
    versions.sort();
    assert_eq!(versions, (1..=50).collect::<Vec<_>>());
    assert_eq!(ids.len(), 50);
    let (_, listed) = app.get("/subjects/grow/versions").await;
    assert_eq!(listed, json!((1..=50).collect::<Vec<_>>()));
}

async fn same_schema_many_subjects(app: TestApp) {
    let app = Arc::new(app);
    let schema =
        json!({"type": "record", "name": "Shared", "fields": [{"name": "a", "type": "int"}]});
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let (app, schema) = (app.clone(), schema.clone());
            tokio::spawn(async move { app.register(&format!("subject-{i}"), &schema).await })
        })
        .collect();
    let mut ids = BTreeSet::new();
    for t in tasks {
        let (status, body) = t.await.unwrap();
        assert!(status.is_success(), "{body}");
        ids.insert(body["id"].as_i64().unwrap());
    }
    assert_eq!(ids.len(), 1, "one schema, one id across subjects: {ids:?}");
}

/// Forty concurrent registrations through a four-connection pool, starting with the
/// policy/teams snapshot cold (a team was just changed): finding each subject's owner by claim
/// fills the snapshot through the connection the request already holds, so no request waits
/// for a second one and the pool never starves. (Authentication is off, so no guard warms the
/// snapshot first.)
async fn registrations_with_cold_governance_snapshot(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.db_max_connections = 4).await;
    let team = json!({"contacts": {"email": "pay@acme.test"}, "claims": ["payments."]});
    let (status, body) = app.put("/accord/v1/teams/payments", team).await;
    assert!(status.is_success(), "{body}");
    let app = Arc::new(app);
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let app = app.clone();
            tokio::spawn(async move {
                let schema = json!({"type": "record", "name": "Card", "fields": [
                    {"name": "id", "type": "long"},
                    {"name": format!("f{}", i / 4), "type": "int", "default": 0}
                ]});
                app.register(&format!("payments.card-{}", i % 4), &schema)
                    .await
            })
        })
        .collect();
    for t in tasks {
        let (status, body) = t.await.unwrap();
        assert!(status.is_success(), "{body}");
    }
    for n in 0..4 {
        let subject = format!("payments.card-{n}");
        let (_, versions) = app.get(&format!("/subjects/{subject}/versions")).await;
        assert_eq!(versions, json!((1..=10).collect::<Vec<_>>()), "{subject}");
        let (_, g) = app.get(&format!("/accord/v1/subjects/{subject}")).await;
        assert_eq!(g["ownership"]["team"], "payments", "{g}");
    }
}

/// Two server processes on one PostgreSQL database: the per-subject lock is the database's, so
/// their concurrent registrations still give versions 1..=40 with no gap or duplicate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_one_database() {
    let first = Arc::new(TestApp::spawn(crate::helpers::Backend::Postgres).await);
    let second = Arc::new(first.second_instance().await);
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let app = if i % 2 == 0 {
                first.clone()
            } else {
                second.clone()
            };
            tokio::spawn(async move {
                let schema = json!({"type": "record", "name": "Two", "fields": [
                    {"name": "id", "type": "long"},
                    {"name": format!("f{i}"), "type": "int", "default": 0}
                ]});
                app.register("two", &schema).await
            })
        })
        .collect();
    let mut versions = Vec::new();
    for t in tasks {
        let (status, body) = t.await.unwrap();
        assert!(status.is_success(), "{body}");
        versions.push(body["version"].as_i64().unwrap());
    }
    versions.sort();
    assert_eq!(versions, (1..=40).collect::<Vec<_>>());
    assert_eq!(
        second.get("/subjects/two/versions").await.1,
        json!((1..=40).collect::<Vec<_>>())
    );
    drop(second);
}
