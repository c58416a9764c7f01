//! What the change log and the Kafka relay cost, and how soon another instance sees a change.
//!
//! 1. Registration throughput: two registries of this build in this process, each on a fresh
//!    PostgreSQL database: one with the change log and the Kafka relay on (publishing to the
//!    broker at `ACCORD_BENCH_KAFKA`, default 127.0.0.1:9092), one with both off
//!    (`ACCORD_CHANGE_LOG=false`, no brokers). `wrk` drives each in turn, round after round,
//!    with 64 connections registering new subjects; the bench prints each one's requests/s and
//!    the on/off ratio (median of the rounds' ratios; target: at least 0.90).
//! 2. Visibility across instances: a second registry on the first one's database. A schema is
//!    registered on A and read on B (so B caches it), then permanently deleted on A; the time
//!    from A's answer to B's first 404 is one sample. The baseline, interleaved with it, is the
//!    same change read back on A itself. Prints p50 and p99 of each.
//!
//! Run: `cargo bench --bench changes` (wrk, PostgreSQL and a Kafka-protocol broker needed; see
//! scripts/test for starting tansu). Environment: ACCORD_BENCH_SECONDS per run (default 5),
//! ACCORD_BENCH_ROUNDS (default 5), ACCORD_BENCH_SAMPLES (visibility samples, default 200).

use std::io::Write;
use std::process::Command;
use std::time::{Duration, Instant};

use accord::config::ServerConfig;
use accord::startup::Application;
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

mod common;

fn rps(url: &str, seconds: u64, script: &std::path::Path, prefix: &str) -> Result<f64> {
    let out = Command::new("wrk")
        .args(["-t2", "-c64", &format!("-d{seconds}s"), "-s"])
        .arg(script)
        .args([url, "--", prefix])
        .output()
        .context("wrk not found: install it (apt-get install wrk)")?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() || text.contains("Non-2xx") {
        bail!("wrk failed or saw errors:\n{text}");
    }
    text.lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .context("no Requests/sec in wrk output")
}

async fn start(config: ServerConfig) -> Result<String> {
    let app = Application::build(config).await?;
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until(std::future::pending()));
    Ok(base)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

/// Registers a fresh schema on `a`, has `b` cache it, deletes it permanently on `a`; how long
/// until `b` answers 404.
async fn one_sample(client: &reqwest::Client, a: &str, b: &str, n: usize) -> Result<Duration> {
    let subject = format!("vis{n}-value");
    let schema = json!({"type": "record", "name": format!("V{n}"), "fields": [
        {"name": "id", "type": "string"}]});
    let r: Value = client
        .post(format!("{a}/subjects/{subject}/versions"))
        .json(&json!({"schema": schema.to_string()}))
        .send()
        .await?
        .json()
        .await?;
    let id = r["id"].as_i64().context("registration failed")?;
    let by_id = format!("{b}/schemas/ids/{id}");
    if !client.get(&by_id).send().await?.status().is_success() {
        bail!("{b} does not serve schema {id}");
    }
    client
        .delete(format!("{a}/subjects/{subject}"))
        .send()
        .await?;
    client
        .delete(format!("{a}/subjects/{subject}?permanent=true"))
        .send()
        .await?;
    let deleted = Instant::now();
    loop {
        if client.get(&by_id).send().await?.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(deleted.elapsed());
        }
        if deleted.elapsed() > Duration::from_secs(5) {
            bail!("{b} still serves schema {id} 5 s after its permanent delete");
        }
    }
}

fn main() -> Result<()> {
    let rounds: usize = common::env_or("ACCORD_BENCH_ROUNDS", 5);
    let seconds: u64 = common::env_or("ACCORD_BENCH_SECONDS", 5);
    let samples: usize = common::env_or("ACCORD_BENCH_SAMPLES", 200);
    let kafka = std::env::var("ACCORD_BENCH_KAFKA").unwrap_or_else(|_| "127.0.0.1:9092".into());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let (db_on, url_on) = rt.block_on(common::fresh_database())?;
    let (db_off, url_off) = rt.block_on(common::fresh_database())?;
    let topic = format!("accord-bench-{}", uuid::Uuid::new_v4().simple());
    let (on, off) = rt.block_on(async {
        let dir = std::env::temp_dir();
        let mut with = ServerConfig::ephemeral(Some(url_on.clone()), dir.join(&db_on));
        // ACCORD_BENCH_KAFKA=none: the change log alone (to tell the relay's share).
        with.kafka_brokers = Some(kafka.clone()).filter(|k| k != "none");
        with.kafka_topic = topic.clone();
        let mut without = ServerConfig::ephemeral(Some(url_off.clone()), dir.join(&db_off));
        without.change_log = false;
        anyhow::Ok((start(with).await?, start(without).await?))
    })?;

    let lua = std::env::temp_dir().join(format!("{db_on}.lua"));
    let mut f = std::fs::File::create(&lua)?;
    let body = json!({"schema": common::ORDER_SCHEMA.to_string()}).to_string();
    writeln!(f, "wrk.method = \"POST\"")?;
    writeln!(
        f,
        "wrk.headers[\"Content-Type\"] = \"application/vnd.schemaregistry.v1+json\""
    )?;
    writeln!(f, "wrk.body = {}", serde_json::to_string(&body)?)?;
    writeln!(
        f,
        r#"local threads = 0
function setup(thread) threads = threads + 1; thread:set("tid", threads) end
function init(args) prefix = args[1] .. "-" .. tid; n = 0 end
function request()
  n = n + 1
  return wrk.format(nil, "/subjects/" .. prefix .. "-" .. n .. "-value/versions")
end"#
    )?;
    drop(f);

    println!(
        "accord change-log bench: registrations of new subjects, wrk -t2 -c64 -d{seconds}s x {rounds} rounds, PostgreSQL; Kafka at {kafka}"
    );
    rps(&on, 2, &lua, "warm-on")?;
    rps(&off, 2, &lua, "warm-off")?;
    let (mut with, mut without, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        // Alternate which goes first, so neither always meets the other's leftovers.
        let (a, b) = if round % 2 == 0 {
            (
                rps(&on, seconds, &lua, &format!("on{round}"))?,
                rps(&off, seconds, &lua, &format!("off{round}"))?,
            )
        } else {
            let b = rps(&off, seconds, &lua, &format!("off{round}"))?;
            (rps(&on, seconds, &lua, &format!("on{round}"))?, b)
        };
        println!(
            "  round {} log+relay on {a:>8.0} req/s   both off {b:>8.0} req/s   ratio {:.3}",
            round + 1,
            a / b
        );
        with.push(a);
        without.push(b);
        ratios.push(a / b);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let ratio = median(&mut ratios);
    println!(
        "registration throughput with the change log and Kafka relay on: {:.0} req/s, both off: {:.0} req/s; on/off {ratio:.3} (median of the rounds' ratios; target >= 0.90): {}",
        median(&mut with),
        median(&mut without),
        if ratio >= 0.90 { "MET" } else { "NOT MET" }
    );

    let client = reqwest::Client::new();
    rt.block_on(async {
        // The relay catches up with what the rounds registered.
        let drained = Instant::now();
        let mut relaying = kafka != "none";
        while relaying {
            let text = client.get(format!("{on}/metrics")).send().await?.text().await?;
            let lag = text
                .lines()
                .find_map(|l| l.strip_prefix("accord_kafka_relay_lag "))
                .and_then(|v| v.trim().parse::<i64>().ok());
            relaying = lag != Some(0);
            if relaying && drained.elapsed() > Duration::from_secs(120) {
                bail!("the Kafka relay still lags by {lag:?} after 120 s");
            }
            if relaying {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        println!(
            "the Kafka relay had published every registration {:?} after the last round",
            drained.elapsed()
        );
        // Started only now, so its follower did not load the machine during the rounds.
        let second = start(ServerConfig::ephemeral(
            Some(url_on.clone()),
            std::env::temp_dir().join(&db_on),
        ))
        .await?;
        let (mut across, mut same) = (Vec::new(), Vec::new());
        for n in 0..samples {
            across.push(one_sample(&client, &on, &second, 2 * n).await?);
            same.push(one_sample(&client, &on, &on, 2 * n + 1).await?);
        }
        across.sort();
        same.sort();
        let (a50, a99) = (percentile(&across, 0.5), percentile(&across, 0.99));
        let (s50, s99) = (percentile(&same, 0.5), percentile(&same, 0.99));
        println!(
            "a permanent delete on A seen on B ({samples} samples): p50 {:.2} ms, p99 {:.2} ms (target p99 < 100 ms): {}; read back on A itself: p50 {:.2} ms, p99 {:.2} ms; p99 ratio {:.1}x",
            a50.as_secs_f64() * 1e3,
            a99.as_secs_f64() * 1e3,
            if a99 < Duration::from_millis(100) { "MET" } else { "NOT MET" },
            s50.as_secs_f64() * 1e3,
            s99.as_secs_f64() * 1e3,
            a99.as_secs_f64() / s99.as_secs_f64().max(1e-9)
        );
        anyhow::Ok(())
    })?;
    let _ = std::fs::remove_file(&lua);
    rt.block_on(async {
        common::drop_database(&db_on).await?;
        common::drop_database(&db_off).await
    })?;
    Ok(())
}
