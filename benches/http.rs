//! HTTP throughput of the registry against this machine's HTTP ceiling, measured in one run.
//!
//! Starts, in this process, the real server (the same start-up path as `accord-server`) on a
//! fresh PostgreSQL database, and a minimal axum server whose only handler returns a constant
//! body: the most any axum service can do here. `wrk` (a separate process) then drives each with
//! 64 keep-alive connections:
//!   - ceiling:   GET  /                        on the minimal server
//!   - by id:     GET  /schemas/ids/{id}        on the registry
//!   - lookup:    POST /subjects/{subject}      on the registry
//!   - re-register: POST /subjects/{subject}/versions with the schema the subject already has
//!     (what every serializer with `auto.register.schemas` sends at start)
//!   - compatibility: POST /compatibility/subjects/{subject}/versions/latest, same schema
//!
//! The bench prints requests/s, p99 latency and each one's ratio to the ceiling, and the
//! re-registration's and the compatibility check's ratios to the lookup (same run).
//!
//! Run: `cargo bench --bench http` (or `scripts/bench`, which installs wrk when missing).
//! Environment: ACCORD_BENCH_SECONDS per run (default 5), ACCORD_BENCH_ROUNDS (default 3),
//! ACCORD_TEST_PG_URL (admin database URL).

use std::io::Write;
use std::net::SocketAddr;
use std::process::Command;

use accord::config::ServerConfig;
use accord::startup::Application;
use anyhow::{bail, Context, Result};
use serde_json::json;

mod common;
use common::ORDER_SCHEMA as SCHEMA;

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

/// The median by throughput (its p99 with it), over an odd or even number of samples.
fn median(samples: &mut [Figures]) -> Figures {
    samples.sort_by(|a, b| a.rps.total_cmp(&b.rps));
    let m = &samples[samples.len() / 2];
    Figures {
        rps: m.rps,
        p99_ms: m.p99_ms,
    }
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

/// The minimal axum service: `/` answers `{}`; `/sized` answers a constant body of the same
/// bytes the id lookup answers, to tell our overhead from the cost of moving the payload.
async fn ceiling_server(sized: Vec<u8>) -> Result<SocketAddr> {
    let sized = axum::body::Bytes::from(sized);
    let app = axum::Router::new()
        .route("/", axum::routing::get(|| async { "{}" }))
        .route(
            "/sized",
            axum::routing::get(move || async move { sized.clone() }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(addr)
}

fn main() -> Result<()> {
    let rounds: usize = common::env_or("ACCORD_BENCH_ROUNDS", 3);
    let seconds: u64 = common::env_or("ACCORD_BENCH_SECONDS", 5);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let (db, db_url) = rt.block_on(common::fresh_database())?;
    let (ceiling, registry, id) = rt.block_on(async {
        let dir = std::env::temp_dir().join(&db);
        let app = Application::build(ServerConfig::ephemeral(Some(db_url.clone()), dir)).await?;
        let registry = SocketAddr::from(([127, 0, 0, 1], app.port()));
        tokio::spawn(app.run_until(std::future::pending()));
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
        let answer = reqwest::get(format!("http://{registry}/schemas/ids/{id}"))
            .await?
            .bytes()
            .await?;
        let ceiling = ceiling_server(answer.to_vec()).await?;
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

    println!("accord http bench: wrk -t2 -c64 -d{seconds}s x {rounds} rounds (medians), server and wrk share the machine, PostgreSQL store");
    // A short warm-up of each target so caches and connection pools are filled.
    wrk(&format!("http://{ceiling}/"), 2, None)?;
    wrk(&format!("http://{registry}/schemas/ids/{id}"), 2, None)?;
    wrk(
        &format!("http://{registry}/subjects/bench-value"),
        2,
        Some(&lua),
    )?;
    let by_id = format!("http://{registry}/schemas/ids/{id}");
    let lookup = format!("http://{registry}/subjects/bench-value");
    let targets: [(&str, String, Option<&std::path::Path>); 6] = [
        (
            "ceiling  GET /  (constant body)",
            format!("http://{ceiling}/"),
            None,
        ),
        (
            "ceiling  GET /sized (same bytes as by id)",
            format!("http://{ceiling}/sized"),
            None,
        ),
        ("by id    GET /schemas/ids/{id}", by_id, None),
        (
            "lookup   POST /subjects/{subject}",
            lookup.clone(),
            Some(lua.as_path()),
        ),
        (
            "re-register POST /subjects/{s}/versions",
            format!("{lookup}/versions"),
            Some(lua.as_path()),
        ),
        (
            "compatibility POST /compatibility/…/latest",
            format!("http://{registry}/compatibility/subjects/bench-value/versions/latest"),
            Some(lua.as_path()),
        ),
    ];
    // Targets take turns, round after round, and each reports its median: on a small shared
    // machine a single run of each, one after the other, moves by 20% from order alone.
    let mut samples: Vec<Vec<Figures>> = targets.iter().map(|_| Vec::new()).collect();
    for round in 0..rounds {
        for (i, (_, url, script)) in targets.iter().enumerate() {
            let f = wrk(url, seconds, *script)?;
            println!(
                "  round {} {:<42} {:>10.0} req/s  p99 {:.2} ms",
                round + 1,
                targets[i].0,
                f.rps,
                f.p99_ms
            );
            samples[i].push(f);
        }
    }
    // Ratios to the lookup round by round (the rounds are interleaved, so a round's targets
    // share the machine's state), then their median.
    let paired = |i: usize| {
        let mut r: Vec<f64> = (0..rounds)
            .map(|k| samples[i][k].rps / samples[3][k].rps)
            .collect();
        r.sort_by(f64::total_cmp);
        r[r.len() / 2]
    };
    let (reregister_paired, compat_paired) = (paired(4), paired(5));
    let runs: Vec<(&str, Figures)> = targets
        .iter()
        .zip(samples)
        .map(|((name, _, _), mut s)| (*name, median(&mut s)))
        .collect();
    let base = runs[0].1.rps;
    println!(
        "{:<42} {:>12} {:>10} {:>10}",
        "target", "requests/s", "p99 ms", "ratio"
    );
    for (name, f) in &runs {
        println!(
            "{name:<42} {:>12.0} {:>10.2} {:>9.1}%",
            f.rps,
            f.p99_ms,
            100.0 * f.rps / base
        );
    }
    let ratio = runs[2].1.rps / base;
    println!(
        "id lookup reaches {:.1}% of the HTTP ceiling (target >= 70%): {}; {:.1}% of a constant answer of the same size",
        100.0 * ratio,
        if ratio >= 0.70 { "MET" } else { "NOT MET" },
        100.0 * runs[2].1.rps / runs[1].1.rps
    );
    let lookup_rps = runs[3].1.rps;
    println!(
        "re-registering an existing schema runs at {reregister_paired:.2}x the lookup, median of the rounds' ratios (target >= 0.8x): {}; ratio of the medians {:.2}x",
        if reregister_paired >= 0.8 { "MET" } else { "NOT MET" },
        runs[4].1.rps / lookup_rps
    );
    println!(
        "a compatibility check runs at {compat_paired:.2}x the lookup, median of the rounds' ratios ({:.0} req/s; ratio of the medians {:.2}x)",
        runs[5].1.rps,
        runs[5].1.rps / lookup_rps
    );
    let _ = std::fs::remove_file(&lua);
    rt.block_on(common::drop_database(&db))?;
    Ok(())
}
