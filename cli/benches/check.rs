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
//! Run: `cargo bench -p accord-cli --bench check`. Environment: ACCORD_BENCH_SCHEMAS (default
//! 500), ACCORD_BENCH_ROUNDS (default 3), ACCORD_TEST_PG_URL (admin database URL).

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

    let client = reqwest::Client::new();
    let (mut online, mut offline, mut single) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        // Each method checks texts of its own, new to the registry (as a pull request's are):
        // no method is served from what another one made the registry parse.
        write_project(dir, n, true, &format!("round {round}, online"))?;
        let (d, reg) = (dir.to_owned(), registry.clone());
        let (t, code, out) =
            tokio::task::spawn_blocking(move || accord(&d, &reg, &["check"])).await??;
        if code != 0 {
            bail!("online check exited {code}: {out}");
        }
        online.push(t);
        write_project(dir, n, true, &format!("round {round}, offline"))?;
        let (d, reg) = (dir.to_owned(), registry.clone());
        let (t2, code, out) =
            tokio::task::spawn_blocking(move || accord(&d, &reg, &["check", "--against", "HEAD"]))
                .await??;
        if code != 0 {
            bail!("offline check exited {code}: {out}");
        }
        offline.push(t2);
        write_project(dir, n, true, &format!("round {round}, one at a time"))?;
        let t3 = one_at_a_time(&client, &registry, dir, n)
            .await
            .context("one at a time")?;
        single.push(t3);
        println!(
            "round {}: online {:.3} s, offline {:.3} s, one at a time {:.3} s",
            round + 1,
            t.as_secs_f64(),
            t2.as_secs_f64(),
            t3.as_secs_f64()
        );
    }
    let (on, off, one) = (median(online), median(offline), median(single));
    println!("accord check, {n} schemas with references (medians of {rounds} interleaved rounds):");
    println!(
        "  online  {:.3} s (target < 3 s)  {:.1}x faster than one at a time (target >= 5x)",
        on.as_secs_f64(),
        one.as_secs_f64() / on.as_secs_f64()
    );
    println!(
        "  offline {:.3} s (target < 1 s)  {:.1}x faster than one at a time (target >= 5x)",
        off.as_secs_f64(),
        one.as_secs_f64() / off.as_secs_f64()
    );
    println!(
        "  one subject at a time (single HTTP compatibility requests): {:.3} s",
        one.as_secs_f64()
    );
    common::drop_database(&db).await?;
    Ok(())
}
