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

/// A bound, ready-to-run server.
pub struct Application {
    listener: TcpListener,
    app: axum::Router,
    port: u16,
}

impl Application {
    pub async fn build(config: ServerConfig) -> anyhow::Result<Self> {
        if let Err(problems) = config.validate() {
            anyhow::bail!("invalid configuration:\n  - {}", problems.join("\n  - "));
        }
        let store = open_store(&config).await?;
        let settings = Settings {
            default_compatibility: config.default_compatibility,
            max_schema_bytes: config.max_schema_bytes,
            cache_capacity: config.schema_cache,
        };
        let state = AppState {
            governance: Arc::new(crate::governance::Governance::new(
                store.clone(),
                config.auth,
            )),
            registry: Arc::new(Registry::new(store, settings)),
            max_body_bytes: config.max_body_bytes,
            incompatible_error_code: config.incompatible_error_code,
            rendered: Arc::new(crate::api::schemas::RenderedSchemas::new(
                config.schema_cache,
            )),
        };
        let listener = TcpListener::bind(config.listen).await?;
        let port = listener.local_addr()?.port();
        Ok(Self {
            listener,
            app: router::app(state),
            port,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until `shutdown` resolves, then finishes in-flight requests.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        tracing::info!(port = self.port, "accord-server listening");
        axum::serve(self.listener, self.app)
            .with_graceful_shutdown(shutdown)
            .await
    }

    /// Serves until SIGTERM or Ctrl-C.
    pub async fn run(self) -> std::io::Result<()> {
        self.run_until(shutdown_signal()).await
    }
}

async fn shutdown_signal() {
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
