//! What governance costs: registration throughput of a server with authentication on and the
//! default lint policy, next to the same server with authentication off and every lint rule
//! off, measured in the same run on PostgreSQL.
//!
//! Each server runs in this process (the same start-up path as `accord-server`) on a fresh
//! database. The governed one has a team claiming `bench.` and registrations are sent with that
//! team's member key (so each request authenticates, resolves the subject's owner, reads the
//! policy and lints the schema); the plain one is sent the same requests without a key. Every
//! registration is a new subject with a new 20-field Avro schema (a new id). Rounds alternate
//! between the two servers; medians are printed.
//!
//! Run: `cargo bench --bench governance`. Environment: ACCORD_BENCH_REGISTRATIONS per round
//! (default 1000), ACCORD_BENCH_ROUNDS (default 3), ACCORD_BENCH_CONCURRENCY (default 16),
//! ACCORD_TEST_PG_URL (admin database URL).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use accord::config::ServerConfig;
use accord::governance::ownership::Team;
use accord::governance::{Actor, Governance, Role};
use accord::startup::{open_store, Application};
use anyhow::{bail, Result};
use serde_json::{json, Value};

mod common;

/// A server on a fresh database; returns its base URL, its config and the database name.
async fn server(auth: bool) -> Result<(String, ServerConfig, String)> {
    let (db, db_url) = common::fresh_database().await?;
    let mut config = ServerConfig::ephemeral(Some(db_url), std::env::temp_dir().join(&db));
    config.auth = auth;
    let app = Application::build(config.clone()).await?;
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until(std::future::pending()));
    Ok((base, config, db))
}

/// The i-th registration body: the 20-field order with its own doc, so each is a new schema.
fn body(i: usize) -> Result<String> {
    let mut schema: Value = serde_json::from_str(common::ORDER_SCHEMA)?;
    schema["doc"] = json!(format!("order, registration {i}"));
    Ok(json!({"schema": schema.to_string()}).to_string())
}

/// Registrations per second: `n` registrations from `concurrency` tasks, numbered from `start`.
async fn round(
    client: &reqwest::Client,
    base: &str,
    auth: Option<(String, String)>,
    start: usize,
    n: usize,
    concurrency: usize,
) -> Result<f64> {
    let next = Arc::new(AtomicUsize::new(0));
    let began = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, base, auth, next) =
            (client.clone(), base.to_owned(), auth.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                if k >= n {
                    return anyhow::Ok(());
                }
                let i = start + k;
                let mut req = client
                    .post(format!("{base}/subjects/bench.s{i}-value/versions"))
                    .header("content-type", "application/vnd.schemaregistry.v1+json")
                    .body(body(i)?);
                if let Some((id, secret)) = &auth {
                    req = req.basic_auth(id, Some(secret));
                }
                let r = req.send().await?;
                if !r.status().is_success() {
                    bail!(
                        "registration {i} failed: {} {}",
                        r.status(),
                        r.text().await?
                    );
                }
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(n as f64 / began.elapsed().as_secs_f64())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> Result<()> {
    let n: usize = common::env_or("ACCORD_BENCH_REGISTRATIONS", 1000);
    let rounds: usize = common::env_or("ACCORD_BENCH_ROUNDS", 3);
    let concurrency: usize = common::env_or("ACCORD_BENCH_CONCURRENCY", 16);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let (plain, plain_config, plain_db) = server(false).await?;
        let (governed, governed_config, governed_db) = server(true).await?;

        // Plain: every lint rule off. Governed: the default policy, a team and its member key.
        let all_off = json!({"rules": accord::governance::policy::RULES.iter()
            .map(|(id, _)| (id.to_string(), json!({"mode": "off"})))
            .collect::<serde_json::Map<_, _>>()});
        let actor = Actor::system("bench");
        Governance::new(open_store(&plain_config).await?, false)
            .put_policy(&actor, &all_off.to_string())
            .await?;
        let gov = Governance::new(open_store(&governed_config).await?, true);
        gov.put_team(
            &actor,
            Team {
                name: "bench".into(),
                claims: vec!["bench.".into()],
                ..Team::default()
            },
        )
        .await?;
        let key = gov
            .create_key(
                &actor,
                Role::Member,
                Some("bench".into()),
                "bench".into(),
                None,
            )
            .await?;
        let auth = Some((key.record.id.clone(), key.secret.clone()));

        let client = reqwest::Client::new();
        // Warm both (connections, caches), then alternate measured rounds.
        round(&client, &plain, None, 10_000_000, 100, concurrency).await?;
        round(
            &client,
            &governed,
            auth.clone(),
            10_000_000,
            100,
            concurrency,
        )
        .await?;
        let (mut off, mut on) = (Vec::new(), Vec::new());
        for r in 0..rounds {
            off.push(round(&client, &plain, None, r * n, n, concurrency).await?);
            on.push(round(&client, &governed, auth.clone(), r * n, n, concurrency).await?);
        }
        let (off, on) = (median(off), median(on));
        let cost = (1.0 - on / off) * 100.0;
        println!(
            "accord governance bench: PostgreSQL, {n} new-subject registrations per round, \
             {concurrency} concurrent clients, {rounds} alternating rounds, medians"
        );
        println!("{:<44} {:>12}", "server", "registrations/s");
        println!("{:<44} {:>12.0}", "auth off, every lint rule off", off);
        println!(
            "{:<44} {:>12.0}",
            "auth on (member key), default policy", on
        );
        println!(
            "governance costs {cost:.1}% of registration throughput (target <= 15%): {}",
            if cost <= 15.0 { "MET" } else { "NOT MET" }
        );
        common::drop_database(&plain_db).await?;
        common::drop_database(&governed_db).await?;
        anyhow::Ok(())
    })
}
