//! What `accord-proxy` costs an MQTT publisher: QoS 1 throughput and publish → PUBACK latency
//! of 256-byte JSON and Avro payloads from 16 publishers, (a) straight to the local Mosquitto,
//! (b) through the proxy binary (this build) with every message validated. The runs are
//! interleaved round after round (direct JSON, proxy JSON, direct Avro, proxy Avro) so the
//! machine's noise falls on both; the bench prints each run and, per payload, the median of
//! the rounds' throughput ratios (target ≥ 0.85) and of the p99 added (target < 1 ms).
//!
//! Each publisher is a raw MQTT 5 client on its own connection. Throughput: a closed loop with
//! `ACCORD_BENCH_WINDOW` (default 20, Mosquitto's default `max_inflight_messages`) publishes in
//! flight each, so the broker is saturated. Latency (from writing a PUBLISH to reading its
//! PUBACK): each publisher paced at `ACCORD_BENCH_RATE` a second (default 1000, 16,000 in all),
//! as latency at saturation is queueing, not the proxy. A third run, on a topic no binding
//! covers, shows what relaying alone costs.
//!
//! Run: `cargo bench --bench proxy` (starts a Mosquitto of its own with `set_tcp_nodelay true`;
//! ACCORD_BENCH_MQTT=host:port uses a running broker instead).
//! Environment: ACCORD_BENCH_SECONDS per run (default 3), ACCORD_BENCH_ROUNDS (default 5),
//! ACCORD_BENCH_PUBLISHERS (default 16).

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use accord::config::ServerConfig;
use accord::startup::Application;
use anyhow::{bail, Context, Result};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

mod common;
use common::env_or;

fn vbi(mut n: usize, out: &mut Vec<u8>) {
    loop {
        let mut b = (n % 128) as u8;
        n /= 128;
        if n > 0 {
            b |= 0x80;
        }
        out.push(b);
        if n == 0 {
            return;
        }
    }
}

fn packet(first: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![first];
    vbi(body.len(), &mut out);
    out.extend_from_slice(body);
    out
}

fn connect_packet(id: &str) -> Vec<u8> {
    let mut body = vec![0, 4, b'M', b'Q', b'T', b'T', 5, 2, 0, 60, 0];
    body.extend_from_slice(&(id.len() as u16).to_be_bytes());
    body.extend_from_slice(id.as_bytes());
    packet(0x10, &body)
}

fn publish_packet(topic: &str, pid: u16, payload: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(payload.len() + topic.len() + 8);
    body.extend_from_slice(&(topic.len() as u16).to_be_bytes());
    body.extend_from_slice(topic.as_bytes());
    body.extend_from_slice(&pid.to_be_bytes());
    body.push(0);
    body.extend_from_slice(payload);
    packet(0x32, &body)
}

fn frame_len(buf: &[u8]) -> Option<usize> {
    let mut len = 0usize;
    for i in 0..4 {
        let b = *buf.get(1 + i)?;
        len |= usize::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            let total = 2 + i + len;
            return (buf.len() >= total).then_some(total);
        }
    }
    None
}

/// One publisher for `run_for`: its acknowledged count and latencies.
async fn publisher(
    addr: String,
    id: String,
    topic: String,
    payload: Vec<u8>,
    load: Load,
    run_for: Duration,
) -> Result<Vec<Duration>> {
    let (window, interval) = match load {
        Load::Window(w) => (w, None),
        // Paced: one publish every `1/rate` s whatever the answers (an open loop).
        Load::Rate(r) => (usize::MAX, Some(Duration::from_secs_f64(1.0 / r))),
    };
    let mut s = TcpStream::connect(&addr).await.context("connect")?;
    s.set_nodelay(true)?;
    s.write_all(&connect_packet(&id)).await?;
    let mut buf = Vec::with_capacity(65536);
    let mut chunk = vec![0u8; 65536];
    // CONNACK.
    loop {
        if let Some(n) = frame_len(&buf) {
            if buf[0] != 0x20 || buf.get(3) != Some(&0) {
                bail!("connection refused: {:?}", &buf[..n]);
            }
            buf.drain(..n);
            break;
        }
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            bail!("closed before CONNACK");
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let mut sent: HashMap<u16, Instant> = HashMap::new();
    let mut latencies = Vec::new();
    let mut next_pid: u16 = 1;
    let until = Instant::now() + run_for;
    let mut due = Instant::now();
    loop {
        let mut out = Vec::new();
        let now = Instant::now();
        while sent.len() < window && now < until && interval.is_none_or(|_| due <= now) {
            out.extend_from_slice(&publish_packet(&topic, next_pid, &payload));
            sent.insert(next_pid, Instant::now());
            next_pid = next_pid.checked_add(1).unwrap_or(1);
            if let Some(i) = interval {
                due += i;
            }
        }
        if !out.is_empty() {
            s.write_all(&out).await?;
        }
        if sent.is_empty() && (interval.is_none() || now >= until) {
            break;
        }
        let read = s.read(&mut chunk);
        let n = match interval {
            Some(_) if now < until => match tokio::time::timeout_at(due.into(), read).await {
                Ok(r) => r?,
                Err(_) => continue,
            },
            _ => read.await?,
        };
        if n == 0 {
            bail!("closed");
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut at = 0;
        while let Some(len) = frame_len(&buf[at..]) {
            let f = &buf[at..at + len];
            if f[0] >> 4 == 4 {
                let pid = u16::from_be_bytes([f[2], f[3]]);
                if f.len() > 4 && f[4] >= 0x80 {
                    bail!("PUBACK with reason {:#x}: the payload was refused", f[4]);
                }
                if let Some(t) = sent.remove(&pid) {
                    latencies.push(t.elapsed());
                }
            }
            at += len;
        }
        buf.drain(..at);
    }
    Ok(latencies)
}

/// Per payload, one value a round.
#[derive(Default)]
struct Summary {
    ratios: Vec<f64>,
    relay_ratios: Vec<f64>,
    p99_added: Vec<f64>,
    direct_p50: Vec<f64>,
    proxied_p50: Vec<f64>,
    direct_p99: Vec<f64>,
    proxied_p99: Vec<f64>,
}

/// How publishers load the broker.
#[derive(Clone, Copy)]
enum Load {
    /// As fast as acknowledgements allow, with this many publishes in flight each.
    Window(usize),
    /// This many publishes a second each.
    Rate(f64),
}

struct Run {
    count: usize,
    rate: f64,
    p50: Duration,
    p99: Duration,
}

async fn run(addr: &str, topic: &str, payload: &[u8], label: &str, load: Load) -> Result<Run> {
    let publishers: usize = env_or("ACCORD_BENCH_PUBLISHERS", 16);
    let seconds: f64 = env_or("ACCORD_BENCH_SECONDS", 3.0);
    let run_for = Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let tasks: Vec<_> = (0..publishers)
        .map(|i| {
            tokio::spawn(publisher(
                addr.to_owned(),
                format!("bench-{label}-{i}-{}", uuid::Uuid::new_v4().simple()),
                format!("{topic}/{i}"),
                payload.to_vec(),
                load,
                run_for,
            ))
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort_unstable();
    if all.is_empty() {
        bail!("no publish was acknowledged");
    }
    let pick = |p: f64| all[((all.len() as f64 - 1.0) * p).round() as usize];
    Ok(Run {
        count: all.len(),
        rate: all.len() as f64 / elapsed,
        p50: pick(0.50),
        p99: pick(0.99),
    })
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// A child process killed with the bench.
struct Proxy(Child);

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

async fn bench() -> Result<()> {
    // A Mosquitto of the bench's own, configured for latency (`set_tcp_nodelay`: with the
    // default, Nagle holds each PUBACK until the client's next packet acknowledges the last,
    // and a paced publisher's latency becomes its pacing interval); or ACCORD_BENCH_MQTT.
    let scratch = tempfile::tempdir()?;
    let (broker, _mosquitto) = match std::env::var("ACCORD_BENCH_MQTT") {
        Ok(b) => (b, None),
        Err(_) => {
            let port = free_port()?;
            let conf = scratch.path().join("mosquitto.conf");
            std::fs::write(
                &conf,
                format!(
                    "listener {port} 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\n\
                     persistence false\n"
                ),
            )?;
            let child = Command::new("mosquitto")
                .arg("-c")
                .arg(&conf)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .context("mosquitto must be installed (apt-get install mosquitto)")?;
            let broker = format!("127.0.0.1:{port}");
            for _ in 0..100 {
                if TcpStream::connect(&broker).await.is_ok() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            (broker, Some(Proxy(child)))
        }
    };
    TcpStream::connect(&broker)
        .await
        .with_context(|| format!("an MQTT broker must listen on {broker}"))?;
    let dir = tempfile::tempdir()?;
    let app = Application::build(ServerConfig::ephemeral(None, dir.path().to_path_buf())).await?;
    let registry = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until(std::future::pending()));
    let http = reqwest::Client::new();
    let prefix = format!("accord-bench/{}", uuid::Uuid::new_v4().simple());
    // 256-byte payloads: JSON validated as raw bytes, Avro in the Confluent frame.
    let json_schema = json!({"type": "object", "required": ["device", "c", "note"],
        "properties": {"device": {"type": "string"}, "c": {"type": "number"},
                       "note": {"type": "string"}}});
    let avro_schema = json!({"type": "record", "name": "Reading", "fields": [
        {"name": "device", "type": "string"}, {"name": "c", "type": "double"},
        {"name": "note", "type": "string"}]});
    let mut ids = HashMap::new();
    for (leaf, kind, schema) in [
        ("json", "JSON", &json_schema),
        ("avro", "AVRO", &avro_schema),
    ] {
        let subject = format!("bench-{leaf}-value");
        let r: serde_json::Value = http
            .post(format!("{registry}/subjects/{subject}/versions"))
            .json(&json!({"schema": schema.to_string(), "schemaType": kind}))
            .send()
            .await?
            .json()
            .await?;
        ids.insert(leaf, r["id"].as_i64().context("registered")?);
        let encoding = if leaf == "json" { "raw" } else { "confluent" };
        let s = http
            .put(format!("{registry}/accord/v1/bindings/bench-{leaf}"))
            .json(
                &json!({"destination": format!("{prefix}/{leaf}/+"), "subject": subject,
                          "encoding": encoding}),
            )
            .send()
            .await?
            .status();
        if !s.is_success() {
            bail!("binding: {s}");
        }
    }
    let mut json_payload = br#"{"device":"sensor-0042","c":21.5,"note":""#.to_vec();
    json_payload.resize(256 - 2, b'x');
    json_payload.extend_from_slice(br#""}"#);
    let mut datum = Vec::new();
    let device = b"sensor-0042";
    datum.push((device.len() * 2) as u8);
    datum.extend_from_slice(device);
    datum.extend_from_slice(&21.5f64.to_le_bytes());
    let note_len = 256 - 5 - datum.len() - 2;
    let zig = note_len * 2;
    datum.push((zig & 0x7f) as u8 | 0x80);
    datum.push((zig >> 7) as u8);
    datum.extend(std::iter::repeat_n(b'x', note_len));
    let mut avro_payload = vec![0];
    avro_payload.extend_from_slice(&(ids["avro"] as u32).to_be_bytes());
    avro_payload.extend_from_slice(&datum);
    assert_eq!(json_payload.len(), 256);
    assert_eq!(avro_payload.len(), 256);

    let port = free_port()?;
    let admin = free_port()?;
    let _proxy = Proxy(
        Command::new(env!("CARGO_BIN_EXE_accord-proxy"))
            .env("ACCORD_PROXY_LISTEN", format!("127.0.0.1:{port}"))
            .env("ACCORD_PROXY_ADMIN_LISTEN", format!("127.0.0.1:{admin}"))
            .env("ACCORD_PROXY_REGISTRY", &registry)
            .env("ACCORD_PROXY_UPSTREAM", &broker)
            .env("ACCORD_PROXY_UNBOUND", "allow")
            .env("ACCORD_LOG", "warn")
            .envs(std::env::var("ACCORD_BENCH_PROXY_WORKERS").map(|w| ("TOKIO_WORKER_THREADS", w)))
            .stdout(Stdio::null())
            .spawn()
            .context("accord-proxy starts")?,
    );
    let ready = format!("http://127.0.0.1:{admin}/health/ready");
    let mut up = false;
    for _ in 0..200 {
        if http
            .get(&ready)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if !up {
        bail!("accord-proxy did not become ready");
    }
    let via = format!("127.0.0.1:{port}");
    let proxy_pid = _proxy.0.id();
    let window = Load::Window(env_or("ACCORD_BENCH_WINDOW", 20));
    let rate: f64 = env_or("ACCORD_BENCH_RATE", 1000.0);
    let paced = Load::Rate(rate);
    // Warm-up: caches filled, both paths exercised.
    for (leaf, payload) in [("json", &json_payload), ("avro", &avro_payload)] {
        let topic = format!("{prefix}/{leaf}");
        run(&via, &topic, payload, "warm", window).await?;
        run(&broker, &topic, payload, "warm", window).await?;
    }
    let rounds: usize = env_or("ACCORD_BENCH_ROUNDS", 5);
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let mut summary: HashMap<&str, Summary> = HashMap::new();
    println!(
        "throughput: closed loop, {} publishes in flight per publisher; latency: each publisher \
         paced at {rate:.0}/s",
        match window {
            Load::Window(w) => w,
            Load::Rate(_) => 0,
        }
    );
    println!("round  payload  run               msgs/s     p50 ms  p99 ms");
    for round in 1..=rounds {
        for (leaf, payload) in [("json", &json_payload), ("avro", &avro_payload)] {
            let topic = format!("{prefix}/{leaf}");
            let direct = run(&broker, &topic, payload, "direct", window).await?;
            let cpu = cpu_seconds(proxy_pid)?;
            let proxied = run(&via, &topic, payload, "proxy", window).await?;
            let cpu_us = (cpu_seconds(proxy_pid)? - cpu) * 1e6 / proxied.count as f64;
            // No binding on this topic: what relaying alone costs.
            let relayed = run(&via, &format!("{prefix}/free"), payload, "relay", window).await?;
            let direct_paced = run(&broker, &topic, payload, "direct", paced).await?;
            let proxied_paced = run(&via, &topic, payload, "proxy", paced).await?;
            for (what, r) in [
                ("direct", &direct),
                ("proxy", &proxied),
                ("relay", &relayed),
                ("direct paced", &direct_paced),
                ("proxy paced", &proxied_paced),
            ] {
                println!(
                    "{round:>5}  {leaf:<7}  {what:<14}  {:>9.0}  {:>6.3}  {:>6.3}{}",
                    r.rate,
                    ms(r.p50),
                    ms(r.p99),
                    if what == "proxy" {
                        format!("   proxy CPU {cpu_us:.1} µs/msg")
                    } else {
                        String::new()
                    }
                );
            }
            let e = summary.entry(leaf).or_default();
            e.ratios.push(proxied.rate / direct.rate);
            e.relay_ratios.push(relayed.rate / direct.rate);
            e.p99_added
                .push(ms(proxied_paced.p99) - ms(direct_paced.p99));
            e.direct_p50.push(ms(direct_paced.p50));
            e.proxied_p50.push(ms(proxied_paced.p50));
            e.direct_p99.push(ms(direct_paced.p99));
            e.proxied_p99.push(ms(proxied_paced.p99));
        }
    }
    for leaf in ["json", "avro"] {
        let e = summary.remove(leaf).context("rounds")?;
        println!(
            "{leaf}: throughput through the proxy {:.2}× direct (target ≥ 0.85; relaying alone \
             {:.2}×); at {rate:.0}/s per publisher p50 {:.3} → {:.3} ms, p99 {:.3} → {:.3} ms, \
             p99 added {:.3} ms (target < 1 ms) (medians of {rounds} rounds)",
            median(e.ratios),
            median(e.relay_ratios),
            median(e.direct_p50),
            median(e.proxied_p50),
            median(e.direct_p99),
            median(e.proxied_p99),
            median(e.p99_added),
        );
    }
    Ok(())
}

/// The process's CPU time so far (user + system), from /proc.
fn cpu_seconds(pid: u32) -> Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let after = stat.rsplit_once(')').context("stat")?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>()? + fields[12].parse::<f64>()?;
    Ok(ticks / 100.0)
}

fn main() -> Result<()> {
    // `cargo bench` passes --bench; `cargo test --benches` does not: then nothing is measured.
    if !std::env::args().any(|a| a == "--bench") {
        return Ok(());
    }
    tokio::runtime::Runtime::new()?.block_on(bench())
}
