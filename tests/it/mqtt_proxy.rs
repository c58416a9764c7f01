//! `accord-proxy` in front of the local Mosquitto with a live `accord-server` (issue 12): real
//! MQTT clients (rumqttc 3.1.1 and 5, and a raw client for what libraries will not send)
//! publish through the binary; a subscriber straight on Mosquitto sees what got through.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{Backend, TestApp};
use crate::mqtt_helpers::{
    ack, alias, confluent, connect, packet, prefix, publish, user_property, ProxyProcess,
    Publisher, Raw, Seen, Subscriber,
};

const AVRO: &str = r#"{"type":"record","name":"Reading","fields":[{"name":"c","type":"long"}]}"#;
const PROTO: &str = "syntax = \"proto3\";\nmessage Reading { int64 c = 1; }\n";
const JSON_SCHEMA: &str =
    r#"{"type":"object","properties":{"c":{"type":"number"}},"required":["c"]}"#;

async fn register(app: &TestApp, subject: &str, kind: &str, schema: &str) -> i64 {
    let body = if kind == "AVRO" {
        json!({ "schema": schema })
    } else {
        json!({ "schema": schema, "schemaType": kind })
    };
    let (s, b) = app
        .post(&format!("/subjects/{subject}/versions"), body)
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b["id"].as_i64().expect("id")
}

async fn bind(app: &TestApp, name: &str, binding: Value) {
    let (s, b) = app
        .put(&format!("/accord/v1/bindings/{name}"), binding)
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
}

/// A JSON schema under `<prefix>.<leaf>-value` and a binding `name` of every `<prefix>/+` topic
/// to `{topic}-value`, raw encoding.
async fn bind_json_topics(app: &TestApp, p: &str, leaf: &str, name: &str) -> i64 {
    let id = register(app, &subject_of(p, leaf), "JSON", JSON_SCHEMA).await;
    bind(
        app,
        name,
        json!({"destination": format!("{p}/+"), "subject": "{topic}-value", "encoding": "raw"}),
    )
    .await;
    id
}

/// Subjects for a test: the prefix with `/` as `.`.
fn subject_of(p: &str, leaf: &str) -> String {
    format!("{}.{leaf}-value", p.replace('/', "."))
}

fn ack_of<'a>(kind: &'static str, reason: &'a str) -> impl Fn(&Seen) -> bool + 'a {
    // Mosquitto answers 0x10 (no matching subscribers) where nobody listens: a success.
    move |s| {
        matches!(s, Seen::Ack(k, _, r) if *k == kind
            && (r == reason || (reason == "Success" && r == "NoMatchingSubscribers")))
    }
}

/// Valid Avro, Protobuf and JSON reach a subscriber byte for byte at QoS 0, 1 and 2 over 3.1.1
/// and 5; invalid ones do not, and the publisher sees 0x99 (5) or a plain acknowledgement
/// (3.1.1, ack-drop).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn valid_messages_pass_and_invalid_ones_are_refused() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let p = prefix();
    let avro = register(&app, &subject_of(&p, "avro"), "AVRO", AVRO).await;
    let proto = register(&app, &subject_of(&p, "proto"), "PROTOBUF", PROTO).await;
    register(&app, &subject_of(&p, "json"), "JSON", JSON_SCHEMA).await;
    bind(
        &app,
        "t-confluent",
        json!({"destination": format!("{p}/+"), "subject": "{topic}-value"}),
    )
    .await;
    bind(
        &app,
        "t-json",
        json!({"destination": format!("{p}/json"), "subject": "{topic}-value", "encoding": "raw"}),
    )
    .await;
    let proxy = ProxyProcess::start(&app.base, "", &[]).await;
    let mut sub = Subscriber::on(&format!("{p}/#")).await;
    // zigzag(21) = 42; protobuf field 1 varint 21; then what is wrong with each.
    let cases: Vec<(&str, Vec<u8>, Vec<u8>)> = vec![
        ("avro", confluent(avro, &[42]), confluent(avro, &[42, 1])),
        (
            "proto",
            confluent(proto, &[0, 0x08, 21]),
            confluent(proto, &[0, 0x08]),
        ),
        (
            "json",
            br#"{"c": 21.5}"#.to_vec(),
            br#"{"c": "hot"}"#.to_vec(),
        ),
    ];
    for v5 in [true, false] {
        let mut publisher = Publisher::connect(proxy.port, v5).await;
        for (leaf, good, bad) in &cases {
            let topic = format!("{p}/{leaf}");
            for qos in [0u8, 1, 2] {
                if qos == 0 {
                    publisher.publish(&topic, 0, good.clone()).await;
                } else {
                    let done = publisher.publish_acked(&topic, qos, good.clone()).await;
                    let kind = if qos == 1 { "puback" } else { "pubcomp" };
                    assert!(ack_of(kind, "Success")(&done), "{leaf} QoS {qos}: {done:?}");
                }
                let got = sub.next().await;
                assert_eq!(got.topic, topic);
                assert_eq!(&got.payload[..], &good[..], "{leaf} arrives byte for byte");
                if qos == 0 {
                    publisher.publish(&topic, 0, bad.clone()).await;
                    continue;
                }
                let refused = publisher.publish_acked(&topic, qos, bad.clone()).await;
                let (kind, reason) = match (v5, qos) {
                    (true, 1) => ("puback", "PayloadFormatInvalid"),
                    (true, _) => ("pubrec", "PayloadFormatInvalid"),
                    // 3.1.1: acknowledged and dropped; the QoS 2 flow completes through the
                    // proxy's own PUBCOMP.
                    (false, 1) => ("puback", "Success"),
                    (false, _) => ("pubcomp", "Success"),
                };
                assert!(
                    ack_of(kind, reason)(&refused),
                    "{leaf} v5={v5} QoS {qos}: {refused:?}"
                );
            }
        }
        // The connection still works after the refusals.
        let topic = format!("{p}/json");
        let done = publisher.publish_acked(&topic, 1, cases[2].1.clone()).await;
        assert!(ack_of("puback", "Success")(&done), "{done:?}");
        assert_eq!(&sub.next().await.payload[..], &cases[2].1[..]);
    }
    sub.nothing_within(Duration::from_millis(300)).await;
    let invalid = proxy
        .metric(r#"accord_proxy_messages_invalid_total{binding="t-confluent",reason="invalid-payload",action="reject"}"#)
        .await;
    assert_eq!(invalid, 12.0, "2 formats × 3 QoS × 2 versions");
    assert_eq!(proxy.metric("accord_proxy_dropped_qos0_total").await, 6.0);
}

/// Each action, the proxy's own bindings from its file, and unbound destinations refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actions_and_unbound_destinations() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let p = prefix();
    let subject = subject_of(&p, "j");
    register(&app, &subject, "JSON", JSON_SCHEMA).await;
    let binding = |name: &str, action: &str, extra: &str| {
        format!(
            "[[bindings]]\nname = \"{name}\"\ndestination = \"{p}/{name}\"\nsubject = \"{subject}\"\n\
             encoding = \"raw\"\naction = \"{action}\"\n{extra}\n"
        )
    };
    let config = [
        format!("unbound = \"reject\"\ndlq_topic = \"{p}/dead\"\n"),
        binding("dlq", "dlq", ""),
        binding("mark", "mark", ""),
        binding("log", "log", ""),
        binding("disconnect", "disconnect", ""),
        binding("close311", "reject", "mqtt311 = \"close\""),
        binding("not-authorized", "reject", "reasonCode = 135"),
    ]
    .concat();
    let proxy = ProxyProcess::start(&app.base, &config, &[]).await;
    let mut sub = Subscriber::on(&format!("{p}/#")).await;
    let bad = br#"{"c": "x"}"#.to_vec();
    let mut v5 = Publisher::connect(proxy.port, true).await;

    // dlq: refused to the producer, the message on the dead-letter topic with why.
    let s = v5.publish_acked(&format!("{p}/dlq"), 1, bad.clone()).await;
    assert!(ack_of("puback", "PayloadFormatInvalid")(&s), "{s:?}");
    let dead = sub.next().await;
    assert_eq!(dead.topic, format!("{p}/dead"));
    assert_eq!(&dead.payload[..], &bad[..]);
    let prop = |m: &crate::mqtt_helpers::Received, k: &str| {
        m.user_properties
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(
        prop(&dead, "accord-reason").as_deref(),
        Some("invalid-payload")
    );
    assert_eq!(
        prop(&dead, "accord-subject").as_deref(),
        Some(subject.as_str())
    );
    assert_eq!(
        prop(&dead, "accord-original-topic"),
        Some(format!("{p}/dlq"))
    );
    assert!(prop(&dead, "accord-client-id").is_some_and(|c| c.starts_with("pub-")));

    // mark: forwarded, with the verdict.
    let s = v5.publish_acked(&format!("{p}/mark"), 1, bad.clone()).await;
    assert!(ack_of("puback", "Success")(&s), "{s:?}");
    let marked = sub.next().await;
    assert_eq!(&marked.payload[..], &bad[..]);
    assert_eq!(prop(&marked, "accord-verdict").as_deref(), Some("invalid"));
    assert_eq!(
        prop(&marked, "accord-reason").as_deref(),
        Some("invalid-payload")
    );

    // log: forwarded as it came, counted.
    let s = v5.publish_acked(&format!("{p}/log"), 1, bad.clone()).await;
    assert!(ack_of("puback", "Success")(&s), "{s:?}");
    let logged = sub.next().await;
    assert!(logged.user_properties.is_empty());

    // A configurable reason code.
    let s = v5
        .publish_acked(&format!("{p}/not-authorized"), 1, bad.clone())
        .await;
    assert!(ack_of("puback", "NotAuthorized")(&s), "{s:?}");

    // Unbound destinations are refused as unregistered.
    let s = v5
        .publish_acked(&format!("{p}/nobody"), 1, bad.clone())
        .await;
    assert!(ack_of("puback", "PayloadFormatInvalid")(&s), "{s:?}");

    // disconnect: a DISCONNECT with the reason, and the connection ends.
    v5.publish(&format!("{p}/disconnect"), 1, bad.clone()).await;
    let s = v5.seen().await;
    assert_eq!(s, Seen::Disconnect("PayloadFormatInvalid".into()));

    // 3.1.1 with mqtt311 = close: the connection is closed.
    let mut v3 = Publisher::connect(proxy.port, false).await;
    v3.publish(&format!("{p}/close311"), 1, bad.clone()).await;
    assert_eq!(v3.seen().await, Seen::Closed);
    sub.nothing_within(Duration::from_millis(300)).await;

    assert_eq!(
        proxy
            .metric(r#"accord_proxy_dead_letters_total{outcome="published"}"#)
            .await,
        1.0
    );
    assert_eq!(
        proxy
            .metric(r#"accord_proxy_messages_unbound_total{outcome="rejected"}"#)
            .await,
        1.0
    );
}

/// A refused publish that set a topic alias never reached the broker: the next publish that
/// uses the alias is sent on with its topic, and the mapping keeps working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topic_aliases_survive_a_refused_publish() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let p = prefix();
    bind_json_topics(&app, &p, "a", "aliases").await;
    let proxy = ProxyProcess::start(&app.base, "", &[]).await;
    let mut sub = Subscriber::on(&format!("{p}/#")).await;
    let (mut raw, _) = Raw::connect(proxy.port, &connect("aliaser", true, &[])).await;
    let topic = format!("{p}/a");
    let good = br#"{"c": 1}"#;
    let bad = br#"{"c": true}"#;
    // Alias 1 set by a refused publish.
    raw.send(&publish(&topic, 1, 1, Some(&alias(1)), bad)).await;
    assert_eq!(ack(&raw.recv().await.expect("PUBACK")), (4, 1, 0x99));
    // Used alone: the broker never saw the mapping, yet this must arrive on the topic.
    raw.send(&publish("", 1, 2, Some(&alias(1)), good)).await;
    assert_eq!(ack(&raw.recv().await.expect("PUBACK")), (4, 2, 0));
    let got = sub.next().await;
    assert_eq!(
        (got.topic.as_str(), &got.payload[..]),
        (topic.as_str(), &good[..])
    );
    // Refused in between, then the alias again.
    raw.send(&publish("", 1, 3, Some(&alias(1)), bad)).await;
    assert_eq!(ack(&raw.recv().await.expect("PUBACK")), (4, 3, 0x99));
    raw.send(&publish("", 0, 0, Some(&alias(1)), good)).await;
    raw.send(&publish("", 1, 4, Some(&alias(1)), good)).await;
    assert_eq!(ack(&raw.recv().await.expect("PUBACK")), (4, 4, 0));
    for _ in 0..2 {
        let got = sub.next().await;
        assert_eq!(got.topic, topic);
    }
    sub.nothing_within(Duration::from_millis(200)).await;
}

/// A binding created through the API takes effect on a running proxy within a second, without
/// reconnecting; a version registered while publishing is accepted at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_follows_the_registry() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let p = prefix();
    let subject = subject_of(&p, "live");
    let v1 = register(&app, &subject, "AVRO", AVRO).await;
    let proxy = ProxyProcess::start(&app.base, "", &[]).await;
    let mut publisher = Publisher::connect(proxy.port, true).await;
    let topic = format!("{p}/live");
    // Unbound: anything passes.
    let s = publisher.publish_acked(&topic, 1, b"junk".to_vec()).await;
    assert!(ack_of("puback", "Success")(&s), "{s:?}");
    bind(
        &app,
        "live",
        json!({"destination": topic, "subject": subject}),
    )
    .await;
    let bound_at = Instant::now();
    loop {
        let s = publisher.publish_acked(&topic, 1, b"junk".to_vec()).await;
        if ack_of("puback", "PayloadFormatInvalid")(&s) {
            break;
        }
        assert!(
            bound_at.elapsed() < Duration::from_secs(1),
            "the binding took effect only after {:?}",
            bound_at.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let s = publisher
        .publish_acked(&topic, 1, confluent(v1, &[42]))
        .await;
    assert!(ack_of("puback", "Success")(&s), "{s:?}");
    // Version 2 (a new optional field), used by the very next message.
    let v2 = register(
        &app,
        &subject,
        "AVRO",
        r#"{"type":"record","name":"Reading","fields":[{"name":"c","type":"long"},{"name":"u","type":"string","default":"C"}]}"#,
    )
    .await;
    let s = publisher
        .publish_acked(&topic, 1, confluent(v2, &[42, 2, b'K']))
        .await;
    assert!(
        ack_of("puback", "Success")(&s),
        "a new version at once: {s:?}"
    );
    // Deleting the binding lets anything through again, on the same connection.
    let (s, _) = app.delete("/accord/v1/bindings/live").await;
    assert_eq!(s, StatusCode::OK);
    let started = Instant::now();
    loop {
        let s = publisher.publish_acked(&topic, 1, b"junk".to_vec()).await;
        if ack_of("puback", "Success")(&s) {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(1));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The registry stops: cached schemas keep being checked; a schema never seen is refused
/// (`on_registry_unavailable = reject`) or passed (`pass`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_stopped_mid_test() {
    let mut app = TestApp::on_binary(Backend::Sqlite, &[]).await;
    let p = prefix();
    let subject = subject_of(&p, "r");
    let v1 = register(&app, &subject, "AVRO", AVRO).await;
    let v2 = register(
        &app,
        &subject,
        "AVRO",
        r#"{"type":"record","name":"Reading","fields":[{"name":"c","type":"long"},{"name":"u","type":"string","default":"C"}]}"#,
    )
    .await;
    let topic = format!("{p}/r");
    bind(&app, "r", json!({"destination": topic, "subject": subject})).await;
    let reject = ProxyProcess::start(&app.base, "", &[]).await;
    let pass = ProxyProcess::start(&app.base, "on_registry_unavailable = \"pass\"\n", &[]).await;
    let mut a = Publisher::connect(reject.port, true).await;
    let mut b = Publisher::connect(pass.port, true).await;
    for publisher in [&mut a, &mut b] {
        let s = publisher
            .publish_acked(&topic, 1, confluent(v1, &[42]))
            .await;
        assert!(ack_of("puback", "Success")(&s), "{s:?}");
    }
    app.process().kill();
    tokio::time::sleep(Duration::from_millis(200)).await;
    for (publisher, never_seen) in [(&mut a, "PayloadFormatInvalid"), (&mut b, "Success")] {
        // Cached: still checked both ways.
        let s = publisher
            .publish_acked(&topic, 1, confluent(v1, &[42]))
            .await;
        assert!(ack_of("puback", "Success")(&s), "{s:?}");
        let s = publisher
            .publish_acked(&topic, 1, confluent(v1, &[42, 9]))
            .await;
        assert!(ack_of("puback", "PayloadFormatInvalid")(&s), "{s:?}");
        // Never seen: v2's schema was not fetched before the registry went.
        let s = publisher
            .publish_acked(&topic, 1, confluent(v2, &[42, 0]))
            .await;
        assert!(ack_of("puback", never_seen)(&s), "{s:?}");
    }
    assert_eq!(
        reject
            .metric(r#"accord_proxy_messages_invalid_total{binding="r",reason="registry-unavailable",action="reject"}"#)
            .await,
        1.0
    );
    assert_eq!(reject.metric("accord_proxy_registry_reachable").await, 0.0);
}

/// Broken and hostile clients: the proxy closes them and keeps serving the others, and its
/// memory returns to where it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_clients_do_not_hurt_the_others() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let p = prefix();
    bind_json_topics(&app, &p, "big", "big").await;
    let proxy = ProxyProcess::start(
        &app.base,
        "frame_timeout = 2\n",
        &[(
            "ACCORD_PROXY_MAX_PACKET_BYTES",
            (12 * 1024 * 1024).to_string(),
        )],
    )
    .await;
    let mut sub = Subscriber::on(&format!("{p}/#")).await;
    let mut healthy = Publisher::connect(proxy.port, true).await;
    let topic = format!("{p}/big");
    check_healthy(&mut healthy, &topic).await;
    sub.next().await;
    // Warm up, then the baseline.
    for _ in 0..20 {
        let (mut r, _) = Raw::connect(proxy.port, &connect("warm", true, &[])).await;
        r.send(&packet(0xe0, &[0])).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let baseline = proxy.rss_kib();
    let mut rss_after = Vec::new();

    // A malformed Remaining Length: closed.
    let (mut r, _) = Raw::connect(proxy.port, &connect("m1", true, &[])).await;
    r.send(&[0x30, 0xff, 0xff, 0xff, 0xff, 0x7f]).await;
    assert!(r.closed_within(Duration::from_secs(2)).await);
    // A PUBLISH whose topic is not UTF-8: DISCONNECT 0x81 (malformed), closed.
    let (mut r, _) = Raw::connect(proxy.port, &connect("m2", true, &[])).await;
    r.send(&packet(0x30, &[0, 2, 0xff, 0xfe, 0, b'x'])).await;
    let d = r.recv().await.expect("DISCONNECT");
    assert_eq!(&d[..1], &[0xe0]);
    assert_eq!(d[2], 0x81);
    // A Remaining Length over the limit: DISCONNECT 0x95 from the header alone.
    let (mut r, _) = Raw::connect(proxy.port, &connect("m3", true, &[])).await;
    r.send(&[0x30, 0x80, 0x80, 0x80, 0x08]).await; // 16 MiB
    let d = r.recv().await.expect("DISCONNECT");
    assert_eq!((d[0], d[2]), (0xe0, 0x95));
    assert!(r.closed_within(Duration::from_secs(2)).await);
    // Nothing but garbage instead of CONNECT.
    let mut g = tokio::net::TcpStream::connect(("127.0.0.1", proxy.port))
        .await
        .expect("connect");
    tokio::io::AsyncWriteExt::write_all(&mut g, b"GET / HTTP/1.1\r\n\r\n")
        .await
        .expect("write");
    // Half a packet, then silence: closed after the frame timeout; the others go on meanwhile.
    let (mut stall, _) = Raw::connect(proxy.port, &connect("staller", true, &[])).await;
    let half = publish(&topic, 1, 1, Some(&[]), br#"{"c": 1}"#);
    stall.send(&half[..half.len() / 2]).await;
    check_healthy(&mut healthy, &topic).await;
    sub.next().await;
    assert!(stall.closed_within(Duration::from_secs(5)).await);

    // A 10 MB payload, valid: it arrives whole; invalid: refused.
    let mut big = br#"{"c": 1, "pad": ""#.to_vec();
    big.extend(std::iter::repeat_n(b'x', 10 * 1024 * 1024));
    big.extend_from_slice(br#""}"#);
    let s = healthy.publish_acked(&topic, 1, big.clone()).await;
    assert!(ack_of("puback", "Success")(&s), "{s:?}");
    let got = sub.next().await;
    assert_eq!(got.payload.len(), big.len());
    assert!(got.payload[..] == big[..]);
    let mut bad_big = big.clone();
    bad_big[6] = b'"';
    let s = healthy.publish_acked(&topic, 1, bad_big).await;
    assert!(ack_of("puback", "PayloadFormatInvalid")(&s), "{s:?}");
    drop(big);
    tokio::time::sleep(Duration::from_millis(300)).await;
    rss_after.push(("10 MB payloads", proxy.rss_kib()));

    // 1,000 connections opening and closing, 100 at a time.
    let started = Instant::now();
    for round in 0..10 {
        let mut tasks = Vec::new();
        for i in 0..100 {
            let port = proxy.port;
            tasks.push(tokio::spawn(async move {
                let (mut r, connack) = Raw::connect(
                    port,
                    &connect(&format!("many-{round}-{i}"), i % 2 == 0, &[]),
                )
                .await;
                assert_eq!(connack[3], 0, "accepted");
                r.send(&packet(0xe0, &[])).await;
            }));
        }
        for t in tasks {
            t.await.expect("connection task");
        }
    }
    let churn = started.elapsed();
    rss_after.push(("1,000 connections", proxy.rss_kib()));
    check_healthy(&mut healthy, &topic).await;
    sub.next().await;
    // Memory back near the baseline once the connections are gone.
    let mut rss = proxy.rss_kib();
    for _ in 0..50 {
        if rss < baseline + 8 * 1024 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        rss = proxy.rss_kib();
    }
    eprintln!(
        "proxy RSS baseline {baseline} KiB, after {rss} KiB ({rss_after:?}); 1,000 connections in {churn:?}"
    );
    assert!(
        rss < baseline + 8 * 1024,
        "memory did not return: {baseline} KiB → {rss} KiB"
    );
    let open = proxy.metric("accord_proxy_connections").await;
    assert!(open <= 3.0, "{open} connections still counted open");
    let errors = proxy.metrics().await;
    for kind in ["malformed", "too-large", "stalled", "no-connect"] {
        assert!(
            errors.contains(&format!(
                "accord_proxy_protocol_errors_total{{outcome=\"{kind}\"}}"
            )),
            "{kind} counted"
        );
    }
}

async fn check_healthy(healthy: &mut Publisher, topic: &str) {
    let s = healthy
        .publish_acked(topic, 1, br#"{"c":1}"#.to_vec())
        .await;
    assert!(ack_of("puback", "Success")(&s), "{s:?}");
}

/// MQTT over TLS (certificates from files), and v5 properties the client asked for: no reason
/// string without Request Problem Information.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_and_problem_information() {
    use std::sync::Arc;
    use tokio_rustls::rustls;

    let app = TestApp::spawn(Backend::Sqlite).await;
    let p = prefix();
    let id = bind_json_topics(&app, &p, "s", "s").await;
    bind(
        &app,
        "sid",
        json!({"destination": format!("{p}/sid"), "subject": subject_of(&p, "s"),
               "encoding": "raw", "schemaIdFrom": "user-property:schema-id"}),
    )
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let made = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
        ])
        .args(["-addext", "subjectAltName=DNS:localhost"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl runs");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let tls_port = crate::mqtt_helpers::free_port();
    let proxy = ProxyProcess::start(
        &app.base,
        &format!(
            "tls_listen = \"127.0.0.1:{tls_port}\"\ntls_cert = \"{}\"\ntls_key = \"{}\"\n",
            cert.display(),
            key.display()
        ),
        &[],
    )
    .await;
    let mut roots = rustls::RootCertStore::empty();
    use rustls::pki_types::pem::PemObject;
    for c in rustls::pki_types::CertificateDer::pem_file_iter(&cert).expect("pem") {
        roots.add(c.expect("cert")).expect("root");
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", tls_port))
        .await
        .expect("connect");
    let mut tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect("localhost".try_into().expect("name"), tcp)
        .await
        .expect("TLS handshake");
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // Request Problem Information 0.
    tls.write_all(&connect("tls", true, &[0x17, 0]))
        .await
        .expect("CONNECT");
    let mut buf = vec![0u8; 64];
    let n = tls.read(&mut buf).await.expect("CONNACK");
    assert_eq!(buf[0], 0x20, "{:?}", &buf[..n]);
    tls.write_all(&publish(
        &format!("{p}/s"),
        1,
        5,
        Some(&[]),
        br#"{"c": "x"}"#,
    ))
    .await
    .expect("PUBLISH");
    let n = tls.read(&mut buf).await.expect("PUBACK");
    assert_eq!(
        &buf[..n],
        &[0x40, 0x03, 0, 5, 0x99],
        "0x99 and no reason string"
    );
    // With problem information (the default) the reason says why.
    let (mut raw, _) = Raw::connect(proxy.port, &connect("plain", true, &[])).await;
    raw.send(&publish(
        &format!("{p}/s"),
        1,
        6,
        Some(&[]),
        br#"{"c": "x"}"#,
    ))
    .await;
    let a = raw.recv().await.expect("PUBACK");
    assert_eq!(ack(&a), (4, 6, 0x99));
    assert!(String::from_utf8_lossy(&a).contains("number"), "{a:?}");
    // A schema id in a user property, with raw encoding (schemaIdFrom): one that is not a
    // version of the subject is refused, the right one accepted.
    let good = br#"{"c": 1}"#;
    let wrong = user_property("schema-id", "999999");
    raw.send(&publish(&format!("{p}/sid"), 1, 7, Some(&wrong), good))
        .await;
    assert_eq!(ack(&raw.recv().await.expect("PUBACK")), (4, 7, 0x99));
    let right = user_property("schema-id", &id.to_string());
    raw.send(&publish(&format!("{p}/sid"), 1, 8, Some(&right), good))
        .await;
    let (t, pid, reason) = ack(&raw.recv().await.expect("PUBACK"));
    assert_eq!((t, pid), (4, 8));
    assert!(
        reason < 0x80,
        "accepted (0x10 when nobody subscribes): {reason:#x}"
    );
}

/// SIGHUP reloads the file's bindings without dropping connections; SIGTERM lets the
/// connection finish and exits cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_and_graceful_shutdown() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let p = prefix();
    let subject = subject_of(&p, "h");
    register(&app, &subject, "JSON", JSON_SCHEMA).await;
    let mut proxy = ProxyProcess::start(
        &app.base,
        "",
        &[("ACCORD_PROXY_SHUTDOWN_GRACE", "3".into())],
    )
    .await;
    let mut publisher = Publisher::connect(proxy.port, true).await;
    let topic = format!("{p}/h");
    let s = publisher.publish_acked(&topic, 1, b"junk".to_vec()).await;
    assert!(ack_of("puback", "Success")(&s), "unbound: {s:?}");
    std::fs::write(
        proxy.dir.path().join("proxy.toml"),
        format!(
            "[[bindings]]\ndestination = \"{topic}\"\nsubject = \"{subject}\"\nencoding = \"raw\"\n"
        ),
    )
    .expect("rewrite config");
    proxy.signal("HUP");
    let started = Instant::now();
    loop {
        let s = publisher.publish_acked(&topic, 1, b"junk".to_vec()).await;
        if ack_of("puback", "PayloadFormatInvalid")(&s) {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(3), "not reloaded");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let s = publisher
        .publish_acked(&topic, 1, br#"{"c": 3}"#.to_vec())
        .await;
    assert!(ack_of("puback", "Success")(&s), "{s:?}");
    proxy.signal("TERM");
    assert_eq!(
        publisher.seen().await,
        Seen::Disconnect("ServerShuttingDown".into())
    );
    let status = proxy.wait(Duration::from_secs(6)).expect("exits");
    assert!(status.success(), "{status:?}");
}

/// The documented example configuration parses and validates; `--help` works.
#[test]
fn example_config_is_valid() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/accord-proxy.example.toml"
    );
    let file = accord::proxy::config::ProxyFile::read(std::path::Path::new(path))
        .expect("the example parses");
    assert!(!file.bindings.is_empty(), "the example shows bindings");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_accord-proxy"))
        .args(["--config", path, "--help"])
        .output()
        .expect("runs");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("--upstream"));
    let problems = accord::proxy::config::check_bindings(&file.bindings, file.dlq_topic.as_deref());
    assert!(problems.is_empty(), "{problems:?}");
}

/// What the broker does for sessions passes through: a will when a client vanishes, a session
/// taken over by a second connection with the same id (the first is closed), and a persistent
/// session's queued message on reconnect.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wills_takeover_and_persistent_sessions() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let proxy = ProxyProcess::start(&app.base, "", &[]).await;
    let p = prefix();
    let mut sub = Subscriber::on(&format!("{p}/#")).await;
    // 3.1.1 CONNECT with a will (QoS 0) on {p}/will.
    let will_topic = format!("{p}/will");
    let id = format!("w-{}", uuid::Uuid::new_v4().simple());
    let mut body = vec![0, 4, b'M', b'Q', b'T', b'T', 4, 0x02 | 0x04, 0, 60];
    for s in [id.as_bytes(), will_topic.as_bytes(), b"gone"] {
        body.extend_from_slice(&(s.len() as u16).to_be_bytes());
        body.extend_from_slice(s);
    }
    let (raw, connack) = Raw::connect(proxy.port, &packet(0x10, &body)).await;
    assert_eq!(connack[3], 0);
    drop(raw); // vanishes without DISCONNECT
    let will = sub.next().await;
    assert_eq!(
        (will.topic.as_str(), &will.payload[..]),
        (will_topic.as_str(), &b"gone"[..])
    );

    // Takeover: the same client id again; the broker closes the first, and so does the proxy.
    let id = format!("t-{}", uuid::Uuid::new_v4().simple());
    let (mut first, _) = Raw::connect(proxy.port, &connect(&id, true, &[])).await;
    let (mut second, _) = Raw::connect(proxy.port, &connect(&id, true, &[])).await;
    assert!(
        first.closed_within(Duration::from_secs(3)).await,
        "taken over"
    );
    second.send(&packet(0xc0, &[])).await; // PINGREQ
    assert_eq!(second.recv().await.expect("PINGRESP")[0], 0xd0);

    // A persistent session (clean session 0): subscribe, leave, a message is queued, come back.
    let id = format!("s-{}", uuid::Uuid::new_v4().simple());
    let persistent = |id: &str| {
        let mut body = vec![0, 4, b'M', b'Q', b'T', b'T', 4, 0x00, 0, 60];
        body.extend_from_slice(&(id.len() as u16).to_be_bytes());
        body.extend_from_slice(id.as_bytes());
        packet(0x10, &body)
    };
    let topic = format!("{p}/queued");
    let (mut c, connack) = Raw::connect(proxy.port, &persistent(&id)).await;
    assert_eq!(connack[2] & 1, 0, "no session yet");
    let mut sub_body = vec![0, 1];
    sub_body.extend_from_slice(&(topic.len() as u16).to_be_bytes());
    sub_body.extend_from_slice(topic.as_bytes());
    sub_body.push(1);
    c.send(&packet(0x82, &sub_body)).await;
    assert_eq!(c.recv().await.expect("SUBACK")[0], 0x90);
    c.send(&packet(0xe0, &[])).await;
    assert!(c.closed_within(Duration::from_secs(2)).await);
    let direct = Publisher::connect(crate::mqtt_helpers::MOSQUITTO.1, true).await;
    direct.publish(&topic, 1, b"while away".to_vec()).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (mut c, connack) = Raw::connect(proxy.port, &persistent(&id)).await;
    assert_eq!(connack[2] & 1, 1, "session present");
    let queued = c.recv().await.expect("the queued PUBLISH");
    assert_eq!(queued[0] >> 4, 3);
    assert!(queued.ends_with(b"while away"));
    // Acknowledge it (its packet id follows the topic) and end the session.
    let tlen = usize::from(u16::from_be_bytes([queued[2], queued[3]]));
    let pid = [queued[4 + tlen], queued[5 + tlen]];
    c.send(&packet(0x40, &pid)).await;
    let mut clean = persistent(&id);
    clean[9] = 0x02;
    drop(c);
    let _ = Raw::connect(proxy.port, &clean).await;
}

/// With authentication on in the registry, the proxy reads it with its own API key; without
/// one it is not ready.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_uses_its_own_api_key() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.auth = true).await;
    let admin = crate::governance::admin_key(&app);
    let p = prefix();
    let subject = subject_of(&p, "k");
    let (s, b) = crate::governance::call(
        &app,
        reqwest::Method::POST,
        &format!("/subjects/{subject}/versions"),
        Some(json!({"schema": JSON_SCHEMA, "schemaType": "JSON"})),
        Some(&admin),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, b) = crate::governance::call(
        &app,
        reqwest::Method::PUT,
        "/accord/v1/bindings/k",
        Some(json!({"destination": format!("{p}/k"), "subject": subject, "encoding": "raw"})),
        Some(&admin),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let keyless = ProxyProcess::spawn(&app.base, "", &[]);
    let key = format!("{}:{}", admin.id, admin.secret);
    let proxy = ProxyProcess::start(&app.base, "", &[("ACCORD_PROXY_REGISTRY_KEY", key)]).await;
    let mut publisher = Publisher::connect(proxy.port, true).await;
    let s = publisher
        .publish_acked(&format!("{p}/k"), 1, b"{}".to_vec())
        .await;
    assert!(ack_of("puback", "PayloadFormatInvalid")(&s), "{s:?}");
    let s = publisher
        .publish_acked(&format!("{p}/k"), 1, br#"{"c": 1}"#.to_vec())
        .await;
    assert!(ack_of("puback", "Success")(&s), "{s:?}");
    let ready = reqwest::get(format!("{}/health/ready", keyless.admin))
        .await
        .expect("keyless proxy answers");
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
}
