//! HTTP throughput of the registry against this machine's HTTP ceiling, measured in one run.
//!
//! Starts, in this process, the real server (the same start-up path as `accord-server`) on a
//! fresh PostgreSQL database, and a minimal axum server whose only handler returns a constant
//! body: the most any axum service can do here. `wrk` (a separate process) then drives each with
//! 64 keep-alive connections:
//!   - ceiling:   GET  /                        on the minimal server
//!   - by id:     GET  /schemas/ids/{id}        on the registry
//!   - lookup:    POST /subjects/{subject}      on the registry
//! and the bench prints requests/s, p99 latency and each one's ratio to the ceiling.
//!
//! Run: `cargo bench --bench http` (or `scripts/bench`, which installs wrk when missing).
//! Environment: ACCORD_BENCH_SECONDS (default 10), ACCORD_TEST_PG_URL (admin database URL).

use std::io::Write;
use std::net::SocketAddr;
use std::process::Command;

use accord::config::ServerConfig;
use accord::startup::Application;
use anyhow::{bail, Context, Result};
use serde_json::json;

struct Figures {
    rps: f64,
    p99_ms: f64,
}

fn wrk(url: &str, seconds: u64, script: Option<&std::path::Path>) -> Result<Figures> {
    let mut cmd = Command::new("wrk");
    cmd.args(["-t2", "-c64", &format!("-d{seconds}s"), "--latency"]);
    if let Some(s) = script {
        cmd.arg("-s").arg(s);
    }
    cmd.arg(url);
    let out = cmd
        .output()
        .context("wrk not found: install it (apt-get install wrk) or run scripts/bench")?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        bail!("wrk failed: {text}{}", String::from_utf8_lossy(&out.stderr));
    }
    if text.contains("Non-2xx") {
        bail!("non-2xx answers during the run:\n{text}");
    }
    let rps = text
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .context("no Requests/sec in wrk output")?;
    let p99 = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("99%"))
        .map(str::trim)
        .and_then(parse_duration_ms)
        .context("no 99% latency in wrk output")?;
    Ok(Figures { rps, p99_ms: p99 })
}

fn parse_duration_ms(s: &str) -> Option<f64> {
    let (num, unit) = s.split_at(s.find(|c: char| c.is_ascii_alphabetic())?);
    let n: f64 = num.parse().ok()?;
    Some(match unit {
        "us" => n / 1000.0,
        "ms" => n,
        "s" => n * 1000.0,
        "m" => n * 60_000.0,
        _ => return None,
    })
}

async fn ceiling_server() -> Result<SocketAddr> {
    let app = axum::Router::new().route("/", axum::routing::get(|| async { "{}" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(addr)
}

async fn admin(sql: &str) -> Result<()> {
    use sqlx::Connection;
    let url = std::env::var("ACCORD_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let mut conn = sqlx::PgConnection::connect(&url)
        .await
        .context("PostgreSQL must be reachable")?;
    sqlx::query(sql).execute(&mut conn).await?;
    Ok(())
}

fn main() -> Result<()> {
    let seconds: u64 = std::env::var("ACCORD_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let db = format!("accord_bench_{}", uuid::Uuid::new_v4().simple());
    let admin_url = std::env::var("ACCORD_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let db_url = format!(
        "{}/{db}",
        &admin_url[..admin_url.rfind('/').context("admin URL")?]
    );

    let (ceiling, registry, id) = rt.block_on(async {
        admin(&format!("CREATE DATABASE {db}")).await?;
        let dir = std::env::temp_dir().join(&db);
        let app = Application::build(ServerConfig::ephemeral(Some(db_url.clone()), dir)).await?;
        let registry = SocketAddr::from(([127, 0, 0, 1], app.port()));
        tokio::spawn(app.run_until(std::future::pending()));
        let ceiling = ceiling_server().await?;
        let body = json!({"schema": SCHEMA.to_string()});
        let r: serde_json::Value = reqwest::Client::new()
            .post(format!("http://{registry}/subjects/bench-value/versions"))
            .header("content-type", "application/vnd.schemaregistry.v1+json")
            .body(body.to_string())
            .send()
            .await?
            .json()
            .await?;
        let id = r["id"].as_i64().context("registration failed")?;
        anyhow::Ok((ceiling, registry, id))
    })?;

    let lua = std::env::temp_dir().join(format!("{db}.lua"));
    let mut f = std::fs::File::create(&lua)?;
    let body = json!({"schema": SCHEMA.to_string()}).to_string();
    writeln!(f, "wrk.method = \"POST\"")?;
    writeln!(
        f,
        "wrk.headers[\"Content-Type\"] = \"application/vnd.schemaregistry.v1+json\""
    )?;
    writeln!(f, "wrk.body = {}", serde_json::to_string(&body)?)?;
    drop(f);

    println!("accord http bench: wrk -t2 -c64 -d{seconds}s, 2 cores shared by server and wrk, PostgreSQL store");
    // A short warm-up of each target so caches and connection pools are filled.
    wrk(&format!("http://{ceiling}/"), 2, None)?;
    wrk(&format!("http://{registry}/schemas/ids/{id}"), 2, None)?;
    wrk(
        &format!("http://{registry}/subjects/bench-value"),
        2,
        Some(&lua),
    )?;
    let runs = [
        (
            "ceiling  GET /  (constant body)",
            wrk(&format!("http://{ceiling}/"), seconds, None)?,
        ),
        (
            "by id    GET /schemas/ids/{id}",
            wrk(
                &format!("http://{registry}/schemas/ids/{id}"),
                seconds,
                None,
            )?,
        ),
        (
            "lookup   POST /subjects/{subject}",
            wrk(
                &format!("http://{registry}/subjects/bench-value"),
                seconds,
                Some(&lua),
            )?,
        ),
    ];
    let base = runs[0].1.rps;
    println!(
        "{:<36} {:>12} {:>10} {:>10}",
        "target", "requests/s", "p99 ms", "ratio"
    );
    for (name, f) in &runs {
        println!(
            "{name:<36} {:>12.0} {:>10.2} {:>9.1}%",
            f.rps,
            f.p99_ms,
            100.0 * f.rps / base
        );
    }
    let ratio = runs[1].1.rps / base;
    println!(
        "id lookup reaches {:.1}% of the HTTP ceiling (target >= 70%): {}",
        100.0 * ratio,
        if ratio >= 0.70 { "MET" } else { "NOT MET" }
    );
    let _ = std::fs::remove_file(&lua);
    rt.block_on(admin(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")))?;
    Ok(())
}

/// A realistic 20-field record.
const SCHEMA: &str = r#"{"type":"record","name":"Order","namespace":"acme.sales","fields":[
 {"name":"id","type":"string"},{"name":"customer_id","type":"string"},{"name":"created_at","type":{"type":"long","logicalType":"timestamp-millis"}},
 {"name":"status","type":{"type":"enum","name":"Status","symbols":["NEW","PAID","SHIPPED","CANCELLED"]}},
 {"name":"amount","type":"double"},{"name":"currency","type":"string","default":"EUR"},{"name":"items","type":{"type":"array","items":"string"}},
 {"name":"note","type":["null","string"],"default":null},{"name":"street","type":"string"},{"name":"city","type":"string"},
 {"name":"zip","type":"string"},{"name":"country","type":"string"},{"name":"email","type":["null","string"],"default":null},
 {"name":"phone","type":["null","string"],"default":null},{"name":"discount","type":"double","default":0.0},{"name":"tax","type":"double","default":0.0},
 {"name":"channel","type":"string","default":"web"},{"name":"priority","type":"int","default":0},{"name":"gift","type":"boolean","default":false},
 {"name":"tags","type":{"type":"map","values":"string"},"default":{}}]}"#;
