//! The proxy's interceptor against a live `accord-server` (issue 12, item 2): bindings from
//! the registry, schemas by id, new versions at once, binding changes through the change feed,
//! and a registry that stops.

use std::sync::Arc;
use std::time::{Duration, Instant};

use accord::governance::bindings::Action;
use accord::proxy::interceptor::{
    Interceptor, Message, OnRegistryUnavailable, Reason, Unbound, Verdict,
};
use accord::proxy::registry_client::HttpRegistry;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Backend, TestApp};

fn confluent(id: i64, datum: &[u8]) -> Vec<u8> {
    let mut out = vec![0];
    out.extend_from_slice(&(id as u32).to_be_bytes());
    out.extend_from_slice(datum);
    out
}

fn reason(v: &Verdict) -> Option<Reason> {
    match v {
        Verdict::Refused(r) => Some(r.reason),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interceptor_follows_the_registry() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let v1 = json!({"type": "record", "name": "T", "fields": [{"name": "c", "type": "long"}]});
    let id1 = app.register_ok("sensors.temp-value", &v1).await;
    let (s, _) = app
        .put(
            "/accord/v1/bindings/temps",
            json!({"destination": "sensors/+/temp", "subject": "sensors.temp-value"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let registry = HttpRegistry::new(&app.base, None);
    tokio::spawn(registry.clone().follow());
    let interceptor = Interceptor::new(
        registry.clone(),
        Vec::new(),
        Unbound::Reject,
        OnRegistryUnavailable::Reject,
        None,
    );
    // The follower reads the bindings first.
    let started = Instant::now();
    while interceptor.binding_for("sensors/1/temp").is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "bindings never loaded"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let check = |topic: &'static str, payload: Vec<u8>| {
        let interceptor = &interceptor;
        async move { interceptor.check(&Message::new(topic, &payload)).await }
    };
    // A long 21 (zigzag 42) is valid; a leftover byte, a missing frame, an unknown id are not.
    assert_eq!(
        check("sensors/1/temp", confluent(id1, &[42])).await,
        Verdict::Valid {
            binding: "temps".into(),
            subject: "sensors.temp-value".into(),
            schema_id: id1
        }
    );
    assert_eq!(
        reason(&check("sensors/1/temp", confluent(id1, &[42, 0])).await),
        Some(Reason::InvalidPayload)
    );
    assert_eq!(
        reason(&check("sensors/1/temp", vec![42]).await),
        Some(Reason::NoSchemaId)
    );
    assert_eq!(
        reason(&check("sensors/1/temp", confluent(999, &[42])).await),
        Some(Reason::UnknownSchema)
    );
    assert_eq!(
        reason(&check("other/topic", vec![1, 2, 3]).await),
        Some(Reason::Unregistered)
    );

    // A version registered while publishing is accepted at once.
    let v2 = json!({"type": "record", "name": "T", "fields": [
        {"name": "c", "type": "long"}, {"name": "unit", "type": "string", "default": "C"}]});
    let id2 = app.register_ok("sensors.temp-value", &v2).await;
    assert!(matches!(
        check("sensors/1/temp", confluent(id2, &[42, 2, b'F'])).await,
        Verdict::Valid { schema_id, .. } if schema_id == id2
    ));

    // A binding created through the API takes effect within a second.
    let (s, _) = app
        .put(
            "/accord/v1/bindings/raw",
            json!({"destination": "raw/#", "subject": "sensors.temp-value", "encoding": "raw",
                   "action": "log"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let changed = Instant::now();
    while interceptor.binding_for("raw/x").is_none() {
        assert!(
            changed.elapsed() < Duration::from_secs(1),
            "new binding not seen within 1 s"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    eprintln!(
        "a binding made through the API reached the interceptor in {:?}",
        changed.elapsed()
    );
    // Raw payloads are checked against the latest version; `log` forwards what fails.
    assert!(matches!(
        check("raw/x", vec![42, 2, b'F']).await,
        Verdict::Valid { schema_id, .. } if schema_id == id2
    ));
    match check("raw/x", vec![42]).await {
        Verdict::Refused(r) => {
            assert_eq!(
                (r.reason, r.action, r.forward),
                (Reason::InvalidPayload, Action::Log, true)
            )
        }
        other => panic!("{other:?}"),
    }

    // The registry stops: what is cached keeps working; a schema never seen is refused as
    // unavailable.
    let id3 = app
        .register_ok(
            "sensors.temp-value",
            &json!({"type": "record", "name": "T", "fields": [
                {"name": "c", "type": "long"}, {"name": "unit", "type": "string", "default": "C"},
                {"name": "at", "type": "long", "default": 0}]}),
        )
        .await;
    drop(app);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(matches!(
        check("sensors/1/temp", confluent(id1, &[42])).await,
        Verdict::Valid { .. }
    ));
    assert_eq!(
        reason(&check("sensors/1/temp", confluent(id3, &[42, 2, b'F', 0])).await),
        Some(Reason::RegistryUnavailable)
    );
    let _ = Arc::strong_count(&registry);
}
