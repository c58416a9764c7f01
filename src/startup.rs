//! The one start-up path, shared by `main` and the tests: build the store, migrate, bind, serve.

use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::api::{router, AppState};
use crate::config::{redact, ServerConfig};
use crate::registry::{Registry, Settings};
use crate::storage::{PostgresStore, SqliteStore, Store};

/// Opens the configured store (PostgreSQL or embedded SQLite) and applies migrations.
pub async fn open_store(config: &ServerConfig) -> anyhow::Result<Arc<dyn Store>> {
    let store: Arc<dyn Store> = match &config.database_url {
        Some(url) => {
            tracing::info!(database = %redact(url), "using PostgreSQL");
            Arc::new(PostgresStore::connect(url, config.db_max_connections).await?)
        }
        None => {
            let path = config.sqlite_path();
            tracing::info!(path = %path.display(), "using embedded SQLite");
            Arc::new(SqliteStore::open(&path, config.db_max_connections).await?)
        }
    };
    store.migrate().await?;
    Ok(store)
}

/// Whether a change kind concerns the governance snapshot (policy, teams).
fn is_governance(kind: &str) -> bool {
    kind.starts_with("team.") || kind.starts_with("policy.")
}

/// A bound, ready-to-run server.
pub struct Application {
    listener: TcpListener,
    address: std::net::SocketAddr,
    store: &'static str,
    auth: bool,
    app: axum::Router,
    port: u16,
    header_read_timeout: std::time::Duration,
    max_connections: usize,
    changes: Arc<crate::changes::ChangeFeed>,
    relay: Option<Arc<crate::relay::KafkaRelay>>,
}

impl Application {
    pub async fn build(config: ServerConfig) -> anyhow::Result<Self> {
        if let Err(problems) = config.validate() {
            anyhow::bail!("invalid configuration:\n  - {}", problems.join("\n  - "));
        }
        let relay_config = config
            .relay()
            .map_err(|e| anyhow::anyhow!("invalid configuration:\n  - {e}"))?;
        let store = open_store(&config).await?;
        store.set_change_log(config.change_log);
        let settings = Settings {
            default_compatibility: config.default_compatibility,
            max_schema_bytes: config.max_schema_bytes,
            cache_capacity: config.schema_cache,
            work_memory_bytes: config.work_memory_mb.saturating_mul(1024 * 1024),
            parsed_cache_bytes: config.cache_memory_mb.saturating_mul(1024 * 1024),
            work_slots: match config.work_slots {
                0 => crate::registry::default_work_slots(),
                n => n,
            },
        };
        let governance = Arc::new(crate::governance::Governance::new(
            store.clone(),
            config.auth,
        ));
        if config.audit_retention_days > 0 {
            // Hourly, starting now: the audit log keeps `audit_retention_days` days.
            let (g, days) = (governance.clone(), config.audit_retention_days);
            tokio::spawn(async move {
                let mut every = tokio::time::interval(std::time::Duration::from_secs(3600));
                loop {
                    every.tick().await;
                    match g.expire_audit(days).await {
                        Ok(0) => {}
                        Ok(n) => tracing::info!(removed = n, days, "old audit entries removed"),
                        Err(e) => tracing::warn!(error = %e, "audit retention failed"),
                    }
                }
            });
        }
        let registry = Arc::new(Registry::new(store.clone(), settings));
        // Caches stay coherent with other instances on the same database: the follower hands
        // each committed change to the caches it concerns.
        let changes = {
            let (r, g) = (registry.clone(), governance.clone());
            if config.change_log {
                g.followed_by_change_log();
            }
            crate::changes::ChangeFeed::start(
                store.clone(),
                Box::new(move |change| match change {
                    Some(c) => {
                        r.apply_change(c);
                        if is_governance(&c.kind) {
                            g.invalidate();
                        }
                    }
                    None => {
                        r.forget_all();
                        g.invalidate();
                    }
                }),
            )
        };
        if config.changes_retention_days > 0 || config.changes_retention_entries > 0 {
            // Hourly, starting now: the change log keeps its configured window.
            let (feed, days, keep) = (
                changes.clone(),
                config.changes_retention_days,
                config.changes_retention_entries,
            );
            tokio::spawn(async move {
                let mut every = tokio::time::interval(std::time::Duration::from_secs(3600));
                loop {
                    every.tick().await;
                    match feed.prune(days, keep).await {
                        Ok(0) => {}
                        Ok(n) => tracing::info!(removed = n, "old change log entries removed"),
                        Err(e) => tracing::warn!(error = %e, "change log retention failed"),
                    }
                }
            });
        }
        let relay = match relay_config {
            Some(rc) => Some(crate::relay::KafkaRelay::start(
                store.clone(),
                changes.clone(),
                rc,
            )?),
            None => None,
        };
        let state = AppState {
            changes: changes.clone(),
            governance,
            registry,
            max_body_bytes: config.max_body_bytes,
            incompatible_error_code: config.incompatible_error_code,
            rendered: Arc::new(crate::api::schemas::RenderedSchemas::new(
                config.schema_cache,
            )),
        };
        let listener = TcpListener::bind(config.listen).await.map_err(|e| {
            anyhow::anyhow!(
                "cannot listen on {} (set ACCORD_LISTEN or --listen): {e}",
                config.listen
            )
        })?;
        let address = listener.local_addr()?;
        let port = address.port();
        Ok(Self {
            address,
            store: if config.database_url.is_some() {
                "PostgreSQL"
            } else {
                "embedded SQLite"
            },
            auth: config.auth,
            listener,
            app: router::app(state),
            port,
            header_read_timeout: std::time::Duration::from_secs(config.header_read_timeout),
            max_connections: connection_cap(config.max_connections, config.db_max_connections),
            changes,
            relay,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until `shutdown` resolves, then finishes in-flight requests (for at most 30 s).
    ///
    /// Each connection must send a request's headers within the header-read timeout, which
    /// also closes a keep-alive connection left idle that long: slow or idle clients cannot
    /// hold connections (and file descriptors) forever.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
        use hyper_util::server::conn::auto::Builder;
        use hyper_util::service::TowerToHyperService;

        tracing::info!(
            address = %self.address,
            store = self.store,
            authentication = if self.auth { "on" } else { "off" },
            "accord-server listening"
        );
        let mut builder = Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(self.header_read_timeout);
        builder
            .http2()
            .timer(TokioTimer::new())
            .keep_alive_interval(self.header_read_timeout)
            .keep_alive_timeout(self.header_read_timeout);
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        // Once shutdown begins, every answer says `Connection: close`; for DRAIN_GRACE the
        // open connections keep serving, so a request already on its way on a keep-alive
        // connection is answered instead of meeting a closed socket.
        let draining = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let draining_now = draining.clone();
        let app = self.app.clone().layer(tower::util::MapResponseLayer::new(
            move |mut r: axum::response::Response| {
                if draining_now.load(std::sync::atomic::Ordering::Relaxed) {
                    r.headers_mut().insert(
                        axum::http::header::CONNECTION,
                        axum::http::HeaderValue::from_static("close"),
                    );
                }
                r
            },
        ));
        let open = Arc::new(tokio::sync::Semaphore::new(self.max_connections));
        tokio::pin!(shutdown);
        loop {
            // At the cap, stop accepting until a connection closes (idle ones close after the
            // header-read timeout): the descriptors the store needs are never used up.
            let permit = tokio::select! {
                permit = open.clone().acquire_owned() => match permit {
                    Ok(p) => p,
                    Err(_) => break,
                },
                () = &mut shutdown => break,
            };
            let (stream, _) = tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok(conn) => conn,
                    Err(e) => {
                        // Out of descriptors, for instance: wait a moment, keep serving.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            let _ = stream.set_nodelay(true);
            let service = TowerToHyperService::new(app.clone());
            let (builder, watcher) = (builder.clone(), graceful.watcher());
            let first_byte = self.header_read_timeout;
            tokio::spawn(async move {
                // hyper's header-read timeout starts with a request's first byte, and the
                // protocol detection before it waits for ever: a client that connects and
                // sends nothing is closed here after the same timeout.
                let mut byte = [0u8; 1];
                match tokio::time::timeout(first_byte, stream.peek(&mut byte)).await {
                    Ok(Ok(n)) if n > 0 => {}
                    _ => return drop(permit),
                }
                let conn = builder
                    .serve_connection_with_upgrades(TokioIo::new(stream), service)
                    .into_owned();
                if let Err(e) = watcher.watch(conn).await {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                drop(permit);
            });
        }
        drop(self.listener);
        draining.store(true, std::sync::atomic::Ordering::Relaxed);
        // Long-polls and event streams would otherwise hold the drain for its whole 30 s.
        self.changes.close();
        tokio::time::sleep(DRAIN_GRACE).await;
        if tokio::time::timeout(std::time::Duration::from_secs(30), graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("connections still open 30 s after shutdown began; closing them");
        }
        // After the drain, so what the last requests changed is published too.
        if let Some(relay) = &self.relay {
            relay.stop().await;
        }
        Ok(())
    }

    /// Serves until SIGTERM or Ctrl-C.
    pub async fn run(self) -> std::io::Result<()> {
        self.run_until(shutdown_signal()).await
    }
}

/// The connection cap: as configured, but lowered to leave room, under the process's
/// open-file limit, for the database pool, the SQLite files and the listener.
fn connection_cap(configured: usize, db_connections: u32) -> usize {
    let reserve = db_connections as usize + 64;
    match open_file_limit() {
        Some(limit) if limit <= reserve + 16 => {
            tracing::warn!(
                limit,
                "the open-file limit is very low; allowing 16 connections"
            );
            16
        }
        Some(limit) if configured > limit - reserve => {
            let cap = limit - reserve;
            tracing::warn!(
                configured,
                cap,
                limit,
                "ACCORD_MAX_CONNECTIONS lowered to fit the open-file limit (raise it with ulimit -n)"
            );
            cap
        }
        _ => configured,
    }
}

/// How long open connections keep serving (each answer closing its connection) after shutdown
/// begins, before idle ones are closed and in-flight requests finish.
const DRAIN_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// The soft limit on open files, from `/proc/self/limits` (Linux; `None` elsewhere).
pub(crate) fn open_file_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received, draining connections");
}
