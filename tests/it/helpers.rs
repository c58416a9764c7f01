//! Test harness: the real server (the same start-up path as the binary) on port 0, with a
//! fresh PostgreSQL database or a fresh SQLite file per test.

use std::path::PathBuf;

use accord::config::ServerConfig;
use accord::startup::Application;
use reqwest::{Client, Response, StatusCode};
use serde_json::{json, Value};
use tokio::sync::oneshot;

pub const CT: &str = "application/vnd.schemaregistry.v1+json";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

/// The PostgreSQL server tests create their databases on.
pub fn admin_url() -> String {
    std::env::var("ACCORD_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

pub fn database_url(name: &str) -> String {
    let admin = admin_url();
    match admin.rfind('/') {
        Some(i) => format!("{}/{name}", &admin[..i]),
        None => admin,
    }
}

/// A new, empty PostgreSQL database for one test: its name (to drop it) and URL.
pub fn create_database() -> (String, String) {
    let name = format!("accord_test_{}", uuid::Uuid::new_v4().simple());
    admin_exec(format!("CREATE DATABASE {name}"));
    let url = database_url(&name);
    (name, url)
}

/// Drops a database [`create_database`] made.
pub fn drop_database(name: &str) {
    admin_exec(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
}

/// Runs one SQL statement on the admin database (blocking; used from Drop too).
pub fn admin_exec(sql: String) {
    exec_on(admin_url(), sql)
}

/// Runs one SQL statement on the PostgreSQL database at `url` (blocking).
pub fn exec_on(url: String, sql: String) {
    let run = move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            use sqlx::Connection;
            let mut conn = sqlx::PgConnection::connect(&url)
                .await
                .expect("PostgreSQL must be reachable for the tests (see README)");
            sqlx::query(&sql)
                .execute(&mut conn)
                .await
                .expect("admin statement");
        });
    };
    std::thread::spawn(run).join().expect("admin thread");
}

/// Server logs go to the test's captured output (shown when a test fails); `RUST_LOG` widens
/// them, warnings and errors are kept by default.
fn init_test_logging() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_test_writer()
            .try_init();
    });
}

pub struct TestApp {
    pub base: String,
    pub client: Client,
    pub backend: Backend,
    /// The PostgreSQL database this server uses (None on SQLite).
    pub database_url: Option<String>,
    db_name: Option<String>,
    _dir: tempfile::TempDir,
    shutdown: Option<oneshot::Sender<()>>,
    /// The real binary this app talks to, when it is not in-process ([`TestApp::on_binary`]).
    process: Option<ServerProcess>,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, |_| {}).await
    }

    pub async fn spawn_with(backend: Backend, tweak: impl FnOnce(&mut ServerConfig)) -> Self {
        init_test_logging();
        let dir = tempfile::tempdir().expect("tempdir");
        let (db_name, database_url) = match backend {
            Backend::Postgres => {
                let (name, url) = create_database();
                (Some(name), Some(url))
            }
            Backend::Sqlite => (None, None),
        };
        let mut config = ServerConfig::ephemeral(database_url.clone(), PathBuf::from(dir.path()));
        tweak(&mut config);
        let app = Application::build(config).await.expect("server starts");
        let base = format!("http://127.0.0.1:{}", app.port());
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(app.run_until(async move {
            let _ = rx.await;
        }));
        Self {
            base,
            client: Client::new(),
            backend,
            database_url,
            db_name,
            _dir: dir,
            shutdown: Some(tx),
            process: None,
        }
    }

    /// The real `accord-server` binary on a fresh store, with extra environment (for what is
    /// measured on a process of its own: its memory, that it stays up).
    pub async fn on_binary(backend: Backend, env: &[(&str, String)]) -> Self {
        let mut env = env.to_vec();
        let (db_name, database_url) = match backend {
            Backend::Postgres => {
                let (name, url) = create_database();
                env.push(("DATABASE_URL", url.clone()));
                (Some(name), Some(url))
            }
            Backend::Sqlite => (None, None),
        };
        let process = ServerProcess::start(&env).await;
        TestApp {
            base: process.base.clone(),
            client: Client::new(),
            backend,
            database_url,
            db_name,
            _dir: tempfile::tempdir().expect("tempdir"),
            shutdown: None,
            process: Some(process),
        }
    }

    /// Another `accord-server` process on this app's PostgreSQL database, with extra
    /// environment (dropping it leaves the database to its owner).
    pub async fn clone_on_new_process(&self, env: &[(&str, String)]) -> TestApp {
        let url = self
            .database_url
            .clone()
            .expect("a second process needs PostgreSQL");
        let mut env = env.to_vec();
        env.push(("DATABASE_URL", url.clone()));
        let process = ServerProcess::start(&env).await;
        TestApp {
            base: process.base.clone(),
            client: Client::new(),
            backend: self.backend,
            database_url: Some(url),
            db_name: None,
            _dir: tempfile::tempdir().expect("tempdir"),
            shutdown: None,
            process: Some(process),
        }
    }

    /// The server process of an app [`TestApp::on_binary`] started.
    pub fn process(&mut self) -> &mut ServerProcess {
        self.process
            .as_mut()
            .expect("only an app on the binary has a process")
    }

    /// Another server process on this server's PostgreSQL database (dropping it leaves the
    /// database to its owner).
    pub async fn second_instance(&self) -> TestApp {
        let url = self
            .database_url
            .clone()
            .expect("a second instance needs PostgreSQL");
        let dir = tempfile::tempdir().expect("tempdir");
        let app = Application::build(ServerConfig::ephemeral(
            Some(url.clone()),
            PathBuf::from(dir.path()),
        ))
        .await
        .expect("second server starts");
        let base = format!("http://127.0.0.1:{}", app.port());
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(app.run_until(async move {
            let _ = rx.await;
        }));
        TestApp {
            base,
            client: Client::new(),
            backend: self.backend,
            database_url: Some(url),
            db_name: None,
            _dir: dir,
            shutdown: Some(tx),
            process: None,
        }
    }

    /// The server's data directory (its SQLite file when no PostgreSQL is used).
    pub fn data_dir(&self) -> &std::path::Path {
        match &self.process {
            Some(p) => p._dir.path(),
            None => self._dir.path(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        read(
            self.client
                .get(self.url(path))
                .send()
                .await
                .expect("request"),
        )
        .await
    }

    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        read(
            self.client
                .delete(self.url(path))
                .send()
                .await
                .expect("request"),
        )
        .await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send("POST", path, body).await
    }

    pub async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send("PUT", path, body).await
    }

    async fn send(&self, method: &str, path: &str, body: Value) -> (StatusCode, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let r = self
            .client
            .request(method, self.url(path))
            .header("content-type", CT)
            .body(body.to_string())
            .send()
            .await
            .expect("request");
        read(r).await
    }

    /// Registers an Avro schema; returns status and body.
    pub async fn register(&self, subject: &str, schema: &Value) -> (StatusCode, Value) {
        self.post(
            &format!("/subjects/{subject}/versions"),
            json!({ "schema": schema.to_string() }),
        )
        .await
    }

    /// Registers and expects success; returns the id.
    pub async fn register_ok(&self, subject: &str, schema: &Value) -> i64 {
        let (status, body) = self.register(subject, schema).await;
        assert_eq!(status, StatusCode::OK, "register {subject}: {body}");
        body["id"].as_i64().expect("id")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        // The process goes before its database.
        drop(self.process.take());
        if let Some(name) = self.db_name.take() {
            drop_database(&name);
        }
    }
}

pub async fn read(r: Response) -> (StatusCode, Value) {
    let status = r.status();
    let text = r.text().await.expect("body");
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, value)
}

/// Asserts a Confluent error answer.
#[track_caller]
pub fn assert_error(got: &(StatusCode, Value), status: u16, code: u64) {
    assert_eq!(got.0.as_u16(), status, "status of {}", got.1);
    assert_eq!(
        got.1["error_code"].as_u64(),
        Some(code),
        "error_code of {}",
        got.1
    );
    assert!(
        got.1["message"].as_str().is_some_and(|m| !m.is_empty()),
        "message of {}",
        got.1
    );
}

/// A record schema with the given fields (`name: type`).
pub fn record(name: &str, fields: &[Value]) -> Value {
    json!({ "type": "record", "name": name, "fields": fields })
}

/// Generates a `postgres` and a `sqlite` test for each async test function `f(app)`.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                use $crate::helpers::{Backend, TestApp};
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name(TestApp::spawn(Backend::Postgres).await).await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name(TestApp::spawn(Backend::Sqlite).await).await;
                }
            }
        )*
    };
}
pub(crate) use on_both_backends;

/// Like [`on_both_backends`], for tests that start their server themselves: `f(backend)`.
macro_rules! per_backend {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                use $crate::helpers::Backend;
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name(Backend::Postgres).await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name(Backend::Sqlite).await;
                }
            }
        )*
    };
}
pub(crate) use per_backend;

/// A bare store on a fresh database, for the storage conformance suite.
pub struct StoreFixture {
    pub store: std::sync::Arc<dyn accord::storage::Store>,
    db_name: Option<String>,
    _dir: tempfile::TempDir,
}

impl StoreFixture {
    pub async fn new(backend: Backend) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let (store, db_name): (std::sync::Arc<dyn accord::storage::Store>, _) = match backend {
            Backend::Postgres => {
                let (name, url) = create_database();
                let store = accord::storage::PostgresStore::connect(&url, 8)
                    .await
                    .expect("connect");
                (std::sync::Arc::new(store), Some(name))
            }
            Backend::Sqlite => {
                let store = accord::storage::SqliteStore::open(&dir.path().join("t.db"), 8)
                    .await
                    .expect("open");
                (std::sync::Arc::new(store), None)
            }
        };
        store.migrate().await.expect("migrate");
        Self {
            store,
            db_name,
            _dir: dir,
        }
    }
}

impl Drop for StoreFixture {
    fn drop(&mut self) {
        if let Some(name) = self.db_name.take() {
            drop_database(&name);
        }
    }
}

/// Another client, asking for `/subjects` every 50 ms (on connections of its own) while a
/// test does something hostile; [`Probe::slowest`] tells how long its slowest answer took.
pub struct Probe {
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::time::Duration>,
}

impl Probe {
    pub fn start(base: &str) -> Probe {
        Self::start_as(base, None)
    }

    /// A probe that authenticates with an API key (`id`, `secret`), for servers with
    /// authentication on.
    pub fn start_as(base: &str, key: Option<(String, String)>) -> Probe {
        let url = format!("{base}/subjects");
        let (stop, mut stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let client = Client::builder()
                .timeout(std::time::Duration::from_secs(10))
                .build()
                .expect("client");
            let mut slowest = std::time::Duration::ZERO;
            loop {
                let started = std::time::Instant::now();
                let mut request = client.get(&url);
                if let Some((id, secret)) = &key {
                    request = request.basic_auth(id, Some(secret));
                }
                let answered = request.send().await.map(|r| r.status());
                let took = started.elapsed();
                assert!(
                    answered.as_ref().is_ok_and(|s| s.is_success()),
                    "another client was not answered: {answered:?} after {took:?}"
                );
                slowest = slowest.max(took);
                tokio::select! {
                    _ = &mut stopped => return slowest,
                    () = tokio::time::sleep(std::time::Duration::from_millis(50)) => {}
                }
            }
        });
        Probe { stop, task }
    }

    /// Stops the probe; its slowest answer.
    pub async fn slowest(self) -> std::time::Duration {
        let _ = self.stop.send(());
        self.task.await.expect("probe")
    }

    /// Stops the probe and asserts every answer came within a second.
    pub async fn assert_answered_within_a_second(self, during: &str) {
        let slowest = self.slowest().await;
        assert!(
            slowest < std::time::Duration::from_secs(1),
            "another client waited {slowest:?} during {during}"
        );
    }
}

/// The real `accord-server` binary, started on a free port with the given environment (the
/// embedded store in a temporary directory unless `DATABASE_URL` is among them), for what
/// must be measured on a process of its own, such as its memory.
pub struct ServerProcess {
    pub base: String,
    child: std::process::Child,
    _dir: tempfile::TempDir,
}

impl ServerProcess {
    pub async fn start(env: &[(&str, String)]) -> ServerProcess {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_accord-server"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("ACCORD_LISTEN", format!("127.0.0.1:{port}"))
            .env("ACCORD_DATA_DIR", dir.path())
            .env("ACCORD_LOG", "warn")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("accord-server starts");
        let server = ServerProcess {
            base: format!("http://127.0.0.1:{port}"),
            child,
            _dir: dir,
        };
        let client = Client::new();
        for _ in 0..200 {
            if client
                .get(format!("{}/health/ready", server.base))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return server;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("accord-server did not become ready on port {port}");
    }

    /// A line of the process's `/proc/<pid>/status` (`VmRSS`, `VmHWM`), in KiB.
    pub fn memory_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("the server process is alive");
        status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("memory line")
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the process at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
