//! What an operator meets in the first hour (issue 10): PostgreSQL over TLS, the binary's
//! subcommands, start-up errors and logs. Each test runs the real `accord-server` binary.

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use reqwest::StatusCode;

use crate::helpers::{create_database, drop_database, record, ServerProcess, CT};

/// The snakeoil certificate the local PostgreSQL serves (issued to `localhost`).
const LOCAL_PG_CERT: &str = "/etc/ssl/certs/ssl-cert-snakeoil.pem";

/// The binary with a clean environment (PATH only) plus `env`, run in `dir` to its end.
fn run(args: &[&str], env: &[(&str, &str)], dir: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_accord-server"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().copied())
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("accord-server runs")
}

/// Whether the server's connections to database `name` are encrypted (all of them, and at
/// least one).
async fn connections_use_tls(name: &str) -> bool {
    use sqlx::Connection;
    let mut admin = sqlx::PgConnection::connect(&crate::helpers::admin_url())
        .await
        .expect("admin connection");
    let (all, encrypted): (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(*) FILTER (WHERE s.ssl) FROM pg_stat_activity a \
         JOIN pg_stat_ssl s USING (pid) WHERE a.datname = $1",
    )
    .bind(name)
    .fetch_one(&mut admin)
    .await
    .expect("pg_stat_ssl");
    all > 0 && all == encrypted
}

/// Item 1: `sslmode=require` encrypts every connection; `verify-full` with `sslrootcert`
/// checks the certificate and the host name, and a mismatch stops the start with the reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_over_tls() {
    assert!(
        std::path::Path::new(LOCAL_PG_CERT).exists(),
        "the local PostgreSQL's certificate {LOCAL_PG_CERT} is missing: TLS must be on for this test"
    );
    let (name, url) = create_database();
    for (host, query) in [
        ("127.0.0.1", "sslmode=require".to_owned()),
        (
            "localhost",
            format!("sslmode=verify-full&sslrootcert={LOCAL_PG_CERT}"),
        ),
    ] {
        let url = format!("{}?{query}", url.replacen("127.0.0.1", host, 1));
        let server = ServerProcess::start(&[("DATABASE_URL", url.clone())]).await;
        let r = reqwest::Client::new()
            .post(format!("{}/subjects/tls-{host}/versions", server.base))
            .header("content-type", CT)
            .body(serde_json::json!({"schema": record("Tls", &[]).to_string()}).to_string())
            .send()
            .await
            .expect("answered");
        assert_eq!(r.status(), StatusCode::OK, "{url}");
        assert!(
            connections_use_tls(&name).await,
            "{url}: a plain connection"
        );
        drop(server);
    }
    // The certificate is issued to localhost, not to the address.
    let dir = tempfile::tempdir().unwrap();
    let wrong = format!("{url}?sslmode=verify-full&sslrootcert={LOCAL_PG_CERT}");
    let out = run(&["migrate"], &[("DATABASE_URL", &wrong)], dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("certificate not valid for name \"127.0.0.1\""),
        "{stderr}"
    );
    assert_eq!(
        stderr.matches("invalid peer certificate").count(),
        1,
        "the cause is printed once: {stderr}"
    );
    drop_database(&name);
}

/// Item 3: `create-admin-key` where no embedded database exists refuses (instead of creating
/// an empty one the server never reads), and creates nothing.
#[test]
fn create_admin_key_needs_the_servers_database() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(&["create-admin-key"], &[], dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("no embedded database at ./accord-data/accord.db"),
        "{stderr}"
    );
    assert!(stderr.contains("ACCORD_DATA_DIR"), "{stderr}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

/// Item 3: settings are taken after a subcommand too (`migrate --database-url …`).
#[test]
fn subcommands_take_the_settings() {
    let (name, url) = create_database();
    let dir = tempfile::tempdir().unwrap();
    let out = run(&["migrate", "--database-url", &url], &[], dir.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // It migrated that database (the embedded store was not used).
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    crate::helpers::exec_on(
        crate::helpers::database_url(&name),
        "SELECT 1 FROM _sqlx_migrations LIMIT 1".into(),
    );
    drop_database(&name);
}

/// Item 3: an address in use names the address and the setting.
#[test]
fn an_address_in_use_names_itself() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let out = run(&[], &[("ACCORD_LISTEN", &address)], dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains(&format!("cannot listen on {address}")) && stderr.contains("ACCORD_LISTEN"),
        "{stderr}"
    );
}

/// Item 3: environment booleans take `1`, `yes`, `on` as well as `true`; logs written to a
/// pipe carry no colour codes, and the start-up line names the address, the store and whether
/// authentication is on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_up_reports_itself_plainly() {
    for (value, auth) in [("1", true), ("yes", true), ("on", true), ("0", false)] {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_accord-server"))
            .env_clear()
            .env("ACCORD_LISTEN", format!("127.0.0.1:{port}"))
            .env("ACCORD_DATA_DIR", dir.path())
            .env("ACCORD_AUTH", value)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starts");
        let base = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        let mut status = None;
        for _ in 0..100 {
            if let Ok(r) = client.get(format!("{base}/subjects")).send().await {
                status = Some(r.status());
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let expected = if auth {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::OK
        };
        assert_eq!(status, Some(expected), "ACCORD_AUTH={value}");
        let _ = child.kill();
        let out = child.wait_with_output().expect("exits");
        let logs = String::from_utf8_lossy(&out.stderr);
        assert!(!logs.contains('\u{1b}'), "colour codes in {logs}");
        let line = logs
            .lines()
            .find(|l| l.contains("accord-server listening"))
            .unwrap_or_else(|| panic!("no start-up line in {logs}"));
        let on = if auth { "on" } else { "off" };
        assert!(
            line.contains(&format!("address=127.0.0.1:{port}"))
                && line.contains("embedded SQLite")
                && line.contains(&format!("authentication=\"{on}\"")),
            "{line}"
        );
    }
}

/// Item 7: after SIGTERM, a request sent on an already-open keep-alive connection is answered
/// (with `Connection: close`), not met by a closed socket; then the server exits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_answers_requests_on_open_connections() {
    use tokio::io::AsyncWriteExt;
    let mut server = ServerProcess::start(&[]).await;
    let addr = server.base.trim_start_matches("http://").to_owned();
    let mut conn = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let request = b"GET /subjects HTTP/1.1\r\nHost: x\r\n\r\n";
    conn.write_all(request).await.unwrap();
    let first = read_answer(&mut conn).await;
    assert!(first.starts_with("http/1.1 200"), "{first}");
    let status = Command::new("kill")
        .args(["-TERM", &server.pid().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    tokio::time::sleep(Duration::from_millis(300)).await;
    conn.write_all(request).await.unwrap();
    let second = read_answer(&mut conn).await;
    assert!(
        second.starts_with("http/1.1 200"),
        "after SIGTERM: {second:?}"
    );
    assert!(second.contains("connection: close"), "{second}");
    for _ in 0..100 {
        if !server.is_running() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the server did not exit within 10 s of SIGTERM");
}

/// One answer read from a raw connection (lowercased), within 5 s.
async fn read_answer(conn: &mut tokio::net::TcpStream) -> String {
    use tokio::io::AsyncReadExt;
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), conn.read(&mut buf))
        .await
        .expect("answered in time")
        .expect("read");
    String::from_utf8_lossy(&buf[..n]).to_lowercase()
}

/// An open change-log event stream and a long-poll do not hold the shutdown drain: after
/// SIGTERM the poll is answered, the stream ends and the server exits within the grace period,
/// not the 30 s drain limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_change_streams() {
    let mut server = ServerProcess::start(&[]).await;
    let client = reqwest::Client::new();
    let mut stream = client
        .get(format!("{}/accord/v1/changes", server.base))
        .header("accept", "text/event-stream")
        .send()
        .await
        .expect("stream");
    assert_eq!(stream.status(), 200);
    let poll = tokio::spawn(
        client
            .get(format!("{}/accord/v1/changes?wait=60s", server.base))
            .send(),
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = std::time::Instant::now();
    let status = Command::new("kill")
        .args(["-TERM", &server.pid().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let answered = tokio::time::timeout(Duration::from_secs(10), poll)
        .await
        .expect("the long-poll is answered at shutdown")
        .expect("task")
        .expect("answer");
    assert_eq!(answered.status(), 200);
    // The stream ends (no more chunks) rather than hanging.
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        while let Ok(Some(_)) = stream.chunk().await {}
    })
    .await;
    assert!(ended.is_ok(), "the event stream did not end");
    while server.is_running() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the server did not exit after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("exited {:?} after SIGTERM", started.elapsed());
}
