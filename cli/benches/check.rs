//! `accord check` on a generated project of 500 schemas with references, online (one change-set
//! plan) and offline (`--against HEAD`, the library engine), against the same work done one
//! subject at a time with single HTTP compatibility requests (what the Confluent Maven plugin
//! does), measured in one run with the rounds interleaved.
//!
//! The project: 100 `Money`-like base records, and 400 records that each use one of them by
//! name (a cross-file Avro reference), all applied as version 1; the working tree then adds an
//! optional field to every schema (all compatible, all new versions), so every subject is
//! parsed, resolved, compared and linted. The server runs in this process on a fresh
//! PostgreSQL database.
//!
//! Both online methods are also measured with the registry a round-trip time away (a relay in
//! front of it delays every byte by half the RTT each way), as a CI runner on another network
//! sees it: the one-at-a-time method pays the RTT once per subject, the change set once.
//!
//! Run: `cargo bench -p accord-cli --bench check`. Environment: ACCORD_BENCH_SCHEMAS (default
//! 500), ACCORD_BENCH_ROUNDS (default 3), ACCORD_BENCH_RTT_MS (default `0,1,5,20`; 0 is the
//! registry on loopback), ACCORD_TEST_PG_URL (admin database URL).

use std::path::Path;
use std::time::{Duration, Instant};

use accord::config::ServerConfig;
use accord::startup::Application;
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

#[path = "../../benches/common/mod.rs"]
mod common;

const BIN: &str = env!("CARGO_BIN_EXE_accord");

/// `tag`, when not empty, goes into every schema's `doc`: texts the registry has not seen.
fn base_schema(k: usize, extra: bool, tag: &str) -> String {
    let mut fields = vec![
        json!({"name": "cents", "type": "long"}),
        json!({"name": "currency", "type": "string", "default": "EUR"}),
    ];
    if extra {
        fields.push(json!({"name": "note", "type": ["null", "string"], "default": null}));
    }
    let mut schema = json!({"type": "record", "name": format!("Base{k}"), "namespace": "bench", "fields": fields});
    if !tag.is_empty() {
        schema["doc"] = json!(tag);
    }
    serde_json::to_string_pretty(&schema).unwrap_or_default()
}

fn user_schema(i: usize, bases: usize, extra: bool, tag: &str) -> String {
    let mut fields = vec![
        json!({"name": "id", "type": "string"}),
        json!({"name": "amount", "type": format!("bench.Base{}", i % bases)}),
        json!({"name": "created_at", "type": "long"}),
        json!({"name": "status", "type": {"type": "enum", "name": format!("Status{i}"), "symbols": ["OPEN", "CLOSED"]}}),
    ];
    for f in 0..8 {
        fields.push(
            json!({"name": format!("attribute_{f}"), "type": ["null", "string"], "default": null}),
        );
    }
    if extra {
        fields.push(json!({"name": "note", "type": ["null", "string"], "default": null}));
    }
    let mut schema = json!({"type": "record", "name": format!("Event{i}"), "namespace": "bench", "fields": fields});
    if !tag.is_empty() {
        schema["doc"] = json!(tag);
    }
    serde_json::to_string_pretty(&schema).unwrap_or_default()
}

fn write_project(dir: &Path, n: usize, extra: bool, tag: &str) -> Result<()> {
    let bases = (n / 5).max(1);
    std::fs::create_dir_all(dir.join("schemas/base"))?;
    std::fs::create_dir_all(dir.join("schemas/events"))?;
    std::fs::write(
        dir.join("accord.toml"),
        "[[schemas]]\nfiles = \"schemas/**/*.avsc\"\nsubject = \"bench.{dir}.{stem}-value\"\n",
    )?;
    for k in 0..bases {
        std::fs::write(
            dir.join(format!("schemas/base/base{k}.avsc")),
            base_schema(k, extra, tag),
        )?;
    }
    for i in 0..n - bases {
        std::fs::write(
            dir.join(format!("schemas/events/event{i}.avsc")),
            user_schema(i, bases, extra, tag),
        )?;
    }
    Ok(())
}

fn git(dir: &Path, args: &[&str]) -> Result<()> {
    let out = std::process::Command::new("git")
        .args(["-c", "user.email=b@b", "-c", "user.name=bench"])
        .args(args)
        .current_dir(dir)
        .output()?;
    if !out.status.success() {
        bail!("git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

/// Runs `accord args…`; returns the wall time and the exit code.
fn accord(dir: &Path, registry: &str, args: &[&str]) -> Result<(Duration, i32, String)> {
    let began = Instant::now();
    let out = std::process::Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env("ACCORD_REGISTRY_URL", registry)
        .env("ACCORD_CLI_CONFIG", dir.join("none.toml"))
        .output()?;
    let took = began.elapsed();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok((took, out.status.code().unwrap_or(-1), text))
}

/// The baseline: every file's compatibility checked with its own HTTP request, one after the
/// other, references named as the project maps them.
async fn one_at_a_time(
    client: &reqwest::Client,
    base: &str,
    dir: &Path,
    n: usize,
) -> Result<Duration> {
    let bases = (n / 5).max(1);
    let mut requests = Vec::new();
    for k in 0..bases {
        let text = std::fs::read_to_string(dir.join(format!("schemas/base/base{k}.avsc")))?;
        requests.push((format!("bench.base.base{k}-value"), json!({"schema": text})));
    }
    for i in 0..n - bases {
        let text = std::fs::read_to_string(dir.join(format!("schemas/events/event{i}.avsc")))?;
        let reference = json!([{"name": format!("bench.Base{}", i % bases),
            "subject": format!("bench.base.base{}-value", i % bases), "version": -1}]);
        requests.push((
            format!("bench.events.event{i}-value"),
            json!({"schema": text, "references": reference}),
        ));
    }
    let began = Instant::now();
    for (subject, body) in requests {
        let r = client
            .post(format!(
                "{base}/compatibility/subjects/{subject}/versions/latest?verbose=true"
            ))
            .header("content-type", "application/vnd.schemaregistry.v1+json")
            .body(body.to_string())
            .send()
            .await?;
        let v: Value = r.json().await?;
        if v["is_compatible"] != true {
            bail!("{subject} not compatible: {v}");
        }
    }
    Ok(began.elapsed())
}

/// A TCP relay in front of `upstream` that delivers everything half of `rtt` after it was
/// sent, each way: a registry `rtt` away, as from a CI runner on another network (latency
/// only; bytes sent together still arrive together). Plain threads, whose sleeps are accurate
/// to a few tens of microseconds (the async runtime's timer rounds up to whole milliseconds).
fn relay(upstream: std::net::SocketAddr, rtt: Duration) -> Result<std::net::SocketAddr> {
    use std::io::{Read, Write};
    use std::net::{Shutdown, TcpListener, TcpStream};
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let address = listener.local_addr()?;
    let one_way = rtt / 2;
    fn pump(mut from: TcpStream, mut to: TcpStream, delay: Duration) {
        let (tx, rx) = std::sync::mpsc::channel::<(Instant, Vec<u8>)>();
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            while let Ok(n) = from.read(&mut buf) {
                if n == 0
                    || tx
                        .send((Instant::now() + delay, buf[..n].to_vec()))
                        .is_err()
                {
                    break;
                }
            }
        });
        std::thread::spawn(move || {
            while let Ok((due, bytes)) = rx.recv() {
                std::thread::sleep(due.saturating_duration_since(Instant::now()));
                if to.write_all(&bytes).is_err() {
                    break;
                }
            }
            let _ = to.shutdown(Shutdown::Write);
        });
    }
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Ok(server) = TcpStream::connect(upstream) else {
                continue;
            };
            let _ = (client.set_nodelay(true), server.set_nodelay(true));
            let (Ok(client2), Ok(server2)) = (client.try_clone(), server.try_clone()) else {
                continue;
            };
            pump(client, server2, one_way);
            pump(server, client2, one_way);
        }
    });
    Ok(address)
}

/// The time a request through `url` takes beyond one made directly (median of 50 small
/// requests each): the RTT the relay really adds.
async fn measured_rtt(client: &reqwest::Client, direct: &str, url: &str) -> Result<Duration> {
    async fn median_of(client: &reqwest::Client, url: &str) -> Result<Duration> {
        let mut took = Vec::new();
        for _ in 0..50 {
            let began = Instant::now();
            client
                .get(format!("{url}/mode"))
                .send()
                .await?
                .bytes()
                .await?;
            took.push(began.elapsed());
        }
        Ok(median(took))
    }
    let (through, plain) = (
        median_of(client, url).await?,
        median_of(client, direct).await?,
    );
    Ok(through.saturating_sub(plain))
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::main]
async fn main() -> Result<()> {
    let n: usize = common::env_or("ACCORD_BENCH_SCHEMAS", 500);
    let rounds: usize = common::env_or("ACCORD_BENCH_ROUNDS", 3);
    let (db, db_url) = common::fresh_database().await?;
    let config = ServerConfig::ephemeral(Some(db_url), std::env::temp_dir().join(&db));
    let app = Application::build(config).await?;
    let registry = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until(std::future::pending()));

    let tmp = tempfile::tempdir()?;
    let dir = tmp.path();
    git(dir, &["init", "-q"])?;
    write_project(dir, n, false, "")?;
    git(dir, &["add", "-A"])?;
    git(dir, &["commit", "-qm", "v1"])?;
    // Packed, as a CI checkout (a clone) is.
    git(dir, &["gc", "-q"])?;
    let d = dir.to_owned();
    let reg = registry.clone();
    let (took, code, out) =
        tokio::task::spawn_blocking(move || accord(&d, &reg, &["apply"])).await??;
    if code != 0 {
        bail!("apply failed: {out}");
    }
    println!(
        "applied {n} schemas (v1) as one change set in {:.2} s",
        took.as_secs_f64()
    );

    // The registry as seen from a CI runner: on this host (0), or a round-trip time away.
    let rtts: Vec<u64> = std::env::var("ACCORD_BENCH_RTT_MS")
        .unwrap_or_else(|_| "0,1,5,20".into())
        .split(',')
        .map(|r| {
            r.trim()
                .parse()
                .context("ACCORD_BENCH_RTT_MS: milliseconds, comma-separated")
        })
        .collect::<Result<_>>()?;
    let upstream: std::net::SocketAddr = registry.trim_start_matches("http://").parse()?;
    let mut through = Vec::new();
    for &rtt in &rtts {
        through.push(if rtt == 0 {
            registry.clone()
        } else {
            format!("http://{}", relay(upstream, Duration::from_millis(rtt))?)
        });
    }

    let client = reqwest::Client::new();
    let mut rtt_seen = Vec::new();
    for url in &through {
        rtt_seen.push(measured_rtt(&client, &registry, url).await?);
    }
    let mut offline = Vec::new();
    let mut online = vec![Vec::new(); rtts.len()];
    let mut single = vec![Vec::new(); rtts.len()];
    for round in 0..rounds {
        // Each measurement checks texts of its own, new to the registry (as a pull request's
        // are): none is served from what another one made the registry parse.
        write_project(dir, n, true, &format!("round {round}, offline"))?;
        let (d, reg) = (dir.to_owned(), registry.clone());
        let (t, code, out) =
            tokio::task::spawn_blocking(move || accord(&d, &reg, &["check", "--against", "HEAD"]))
                .await??;
        if code != 0 {
            bail!("offline check exited {code}: {out}");
        }
        offline.push(t);
        let mut line = format!("round {}: offline {:.3} s", round + 1, t.as_secs_f64());
        for (k, (&rtt, url)) in rtts.iter().zip(&through).enumerate() {
            write_project(dir, n, true, &format!("round {round}, rtt {rtt}, online"))?;
            let (d, reg) = (dir.to_owned(), url.clone());
            let (t, code, out) =
                tokio::task::spawn_blocking(move || accord(&d, &reg, &["check"])).await??;
            if code != 0 {
                bail!("online check exited {code}: {out}");
            }
            online[k].push(t);
            write_project(
                dir,
                n,
                true,
                &format!("round {round}, rtt {rtt}, one at a time"),
            )?;
            let t1 = one_at_a_time(&client, url, dir, n)
                .await
                .context("one at a time")?;
            single[k].push(t1);
            line.push_str(&format!(
                "; {rtt} ms: online {:.3} s, one at a time {:.3} s",
                t.as_secs_f64(),
                t1.as_secs_f64()
            ));
        }
        println!("{line}");
    }
    let off = median(offline);
    println!("accord check, {n} schemas with references (medians of {rounds} interleaved rounds)");
    println!(
        "  offline {:.3} s (target < 1 s; no registry involved)",
        off.as_secs_f64()
    );
    println!("  registry RTT | online (target < 3 s) | one at a time | online vs one at a time | offline vs one at a time (targets >= 5x)");
    for (k, rtt) in rtts.iter().enumerate() {
        let (on, one) = (median(online[k].clone()), median(single[k].clone()));
        let label = if *rtt == 0 {
            "0 (loopback)".to_owned()
        } else {
            format!("{:.2} ms", rtt_seen[k].as_secs_f64() * 1e3)
        };
        println!(
            "  {label:>12} | {:>19.3} s | {:>11.3} s | {:>22.1}x | {:>23.1}x",
            on.as_secs_f64(),
            one.as_secs_f64(),
            one.as_secs_f64() / on.as_secs_f64(),
            one.as_secs_f64() / off.as_secs_f64()
        );
    }
    common::drop_database(&db).await?;
    Ok(())
}
