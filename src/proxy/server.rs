//! `accord-proxy`'s one start-up path ([`Proxy::build`] → ports → [`Proxy::run`]), shared by
//! the binary, the tests and the benchmark: the MQTT listeners (TCP, TLS), one session task
//! per connection, the registry follower, the dead-letter connection, the admin listener
//! (`/metrics`, `/health/live`, `/health/ready`, `/bindings`), reload on SIGHUP and a
//! graceful shutdown.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::rustls;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::config::{reload_bindings, ProxyConfig};
use super::dead_letters::{DeadLetterSettings, DeadLetters};
use super::interceptor::Interceptor;
use super::metrics::ProxyMetrics;
use super::mqtt::session::{self, Settings, Shared};
use super::registry_client::{HttpRegistry, Lookup};
use super::RefusalLog;

pub struct Proxy {
    mqtt: TcpListener,
    tls: Option<(TcpListener, TlsAcceptor)>,
    admin: TcpListener,
    shared: Arc<Shared>,
    registry: Arc<HttpRegistry>,
    config_file: Option<std::path::PathBuf>,
    dlq_topic: Option<String>,
    max_connections: usize,
}

#[derive(Clone)]
struct Admin {
    shared: Arc<Shared>,
    registry: Arc<HttpRegistry>,
}

impl Proxy {
    /// Binds the listeners and starts following the registry.
    pub async fn build(config: ProxyConfig) -> anyhow::Result<Self> {
        config
            .validate()
            .map_err(|p| anyhow::anyhow!("invalid configuration:\n  - {}", p.join("\n  - ")))?;
        let registry = HttpRegistry::new(&config.registry, config.key());
        let metrics = Arc::new(ProxyMetrics::new(registry.stats()));
        let interceptor = Arc::new(Interceptor::new(
            registry.clone() as Arc<dyn Lookup>,
            config.bindings.clone(),
            config.unbound,
            config.on_registry_unavailable,
            config.dlq_topic.clone(),
        ));
        let (host, port) = config
            .upstream_host_port()
            .context("upstream must be host:port")?;
        let dead_letters = DeadLetters::start(
            &DeadLetterSettings {
                host,
                port,
                client_id: config.client_id.clone().unwrap_or_else(|| {
                    format!(
                        "accord-proxy-{}",
                        &uuid::Uuid::new_v4().simple().to_string()[..12]
                    )
                }),
                username: config.upstream_username.clone(),
                password: config.upstream_password.clone(),
            },
            metrics.clone(),
        );
        let mqtt = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("binding {}", config.listen))?;
        let tls = match config.tls_listen {
            Some(addr) => {
                let acceptor = tls_acceptor(
                    config.tls_cert.as_deref().context("tls_cert")?,
                    config.tls_key.as_deref().context("tls_key")?,
                )?;
                let l = TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("binding {addr}"))?;
                Some((l, acceptor))
            }
            None => None,
        };
        let admin = TcpListener::bind(config.admin_listen)
            .await
            .with_context(|| format!("binding {}", config.admin_listen))?;
        // Each client holds two descriptors (its own and the broker's).
        let max_connections = match crate::startup::open_file_limit() {
            Some(limit) => config
                .max_connections
                .min(limit.saturating_sub(64) / 2)
                .max(1),
            None => config.max_connections,
        };
        let shared = Arc::new(Shared {
            interceptor,
            metrics,
            dead_letters: Some(dead_letters),
            settings: Settings {
                upstream: config.upstream.clone(),
                max_packet: config.max_packet_bytes,
                connect_timeout: Duration::from_secs(config.connect_timeout),
                frame_timeout: Duration::from_secs(config.frame_timeout),
                shutdown_grace: Duration::from_secs(config.shutdown_grace),
            },
            refusal_log: RefusalLog::new(config.refusal_log_per_second),
            shutdown: CancellationToken::new(),
        });
        tokio::spawn(registry.clone().follow());
        Ok(Self {
            mqtt,
            tls,
            admin,
            shared,
            registry,
            config_file: config.config_file.clone(),
            dlq_topic: config.dlq_topic.clone(),
            max_connections,
        })
    }

    pub fn mqtt_addr(&self) -> SocketAddr {
        self.mqtt
            .local_addr()
            .unwrap_or_else(|_| ([0, 0, 0, 0], 0).into())
    }

    pub fn tls_addr(&self) -> Option<SocketAddr> {
        self.tls.as_ref().and_then(|(l, _)| l.local_addr().ok())
    }

    pub fn admin_addr(&self) -> SocketAddr {
        self.admin
            .local_addr()
            .unwrap_or_else(|_| ([0, 0, 0, 0], 0).into())
    }

    /// Runs until SIGTERM or Ctrl-C.
    pub async fn run(self) -> anyhow::Result<()> {
        self.run_until(crate::startup::shutdown_signal()).await
    }

    /// Runs until `stop` completes, then lets connections finish (within the grace period).
    pub async fn run_until(
        self,
        stop: impl std::future::Future<Output = ()>,
    ) -> anyhow::Result<()> {
        let admin_addr_text = self.admin_addr().to_string();
        let tracker = TaskTracker::new();
        let open = Arc::new(Semaphore::new(self.max_connections));
        let shared = self.shared.clone();
        tracker.spawn(accept(
            self.mqtt,
            None,
            shared.clone(),
            open.clone(),
            tracker.clone(),
        ));
        if let Some((l, acceptor)) = self.tls {
            tracker.spawn(accept(
                l,
                Some(acceptor),
                shared.clone(),
                open.clone(),
                tracker.clone(),
            ));
        }
        let admin = Router::new()
            .route("/metrics", get(metrics))
            .route("/health/live", get(|| async { "ok" }))
            .route("/health/ready", get(ready))
            .route("/bindings", get(bindings))
            .with_state(Admin {
                shared: shared.clone(),
                registry: self.registry.clone(),
            });
        let admin_stop = shared.shutdown.clone();
        tokio::spawn(async move {
            let _ = axum::serve(self.admin, admin)
                .with_graceful_shutdown(async move { admin_stop.cancelled().await })
                .await;
        });
        tokio::spawn(trim_after_churn(shared.clone()));
        if let Some(path) = self.config_file.clone() {
            tokio::spawn(reload_on_hangup(
                path,
                self.dlq_topic.clone(),
                shared.clone(),
            ));
        }
        tracing::info!(
            upstream = %shared.settings.upstream,
            admin = %admin_addr_text,
            "accord-proxy serving"
        );
        stop.await;
        tracing::info!("shutting down: letting in-flight messages finish");
        shared.shutdown.cancel();
        tracker.close();
        let grace = shared.settings.shutdown_grace + Duration::from_secs(2);
        if tokio::time::timeout(grace, tracker.wait()).await.is_err() {
            tracing::warn!("connections still open after the grace period; closing them");
        }
        Ok(())
    }
}

async fn accept(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    shared: Arc<Shared>,
    open: Arc<Semaphore>,
    tracker: TaskTracker,
) {
    if let Ok(addr) = listener.local_addr() {
        let kind = if tls.is_some() { "mqtts" } else { "mqtt" };
        tracing::info!(%addr, kind, "listening");
    }
    loop {
        let permit = tokio::select! {
            p = open.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => return,
            },
            () = shared.shutdown.cancelled() => return,
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(s) => s,
                Err(e) => {
                    // Out of descriptors and the like: wait, then go on.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = shared.shutdown.cancelled() => return,
        };
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        let tls = tls.clone();
        tracker.spawn(async move {
            let _permit = permit;
            match tls {
                None => session::serve(stream, peer, shared).await,
                Some(acceptor) => {
                    let handshake = tokio::time::timeout(
                        shared.settings.connect_timeout,
                        acceptor.accept(stream),
                    )
                    .await;
                    match handshake {
                        Ok(Ok(s)) => session::serve(s, peer, shared).await,
                        Ok(Err(e)) => {
                            tracing::debug!(%peer, error = %e, "TLS handshake failed");
                            ProxyMetrics::outcome(&shared.metrics.protocol_errors, "tls");
                        }
                        Err(_) => ProxyMetrics::outcome(&shared.metrics.protocol_errors, "tls"),
                    }
                }
            }
        });
    }
}

/// A TLS acceptor from PEM files.
pub fn tls_acceptor(cert: &Path, key: &Path) -> anyhow::Result<TlsAcceptor> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .with_context(|| format!("reading {}", cert.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("certificates in {}", cert.display()))?;
    if certs.is_empty() {
        anyhow::bail!("no certificate in {}", cert.display());
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("private key in {}", key.display()))?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .context("TLS versions")?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .context("TLS certificate and key")?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

async fn metrics(State(admin): State<Admin>) -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        admin.shared.metrics.render(),
    )
}

/// Ready once the registry's bindings were read (until then every bound destination would be
/// judged as unbound).
async fn ready(State(admin): State<Admin>) -> impl IntoResponse {
    if admin.shared.shutdown.is_cancelled() {
        (StatusCode::SERVICE_UNAVAILABLE, "shutting down")
    } else if admin.registry.loaded() {
        (StatusCode::OK, "ready")
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "registry bindings not read yet",
        )
    }
}

/// The bindings in force: the proxy's own, then the registry's.
async fn bindings(State(admin): State<Admin>) -> impl IntoResponse {
    let own = admin.shared.interceptor.configured();
    let registry = admin.registry.bindings();
    axum::Json(serde_json::json!({
        "configured": *own,
        "registry": *registry,
    }))
}

/// Returns freed memory to the system every few seconds after connections came and went
/// (their buffers leave the allocator's free lists fragmented; a trim takes well under a
/// millisecond).
async fn trim_after_churn(shared: Arc<Shared>) {
    let mut seen = shared.metrics.connections_total.get();
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    loop {
        tick.tick().await;
        let now = shared.metrics.connections_total.get();
        if now != seen {
            seen = now;
            crate::registry::work::release_free_memory();
        }
    }
}

/// SIGHUP reads the config file's bindings again; connections stay open.
async fn reload_on_hangup(
    path: std::path::PathBuf,
    dlq_topic: Option<String>,
    shared: Arc<Shared>,
) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut hup) = signal(SignalKind::hangup()) else {
            return;
        };
        while hup.recv().await.is_some() {
            match reload_bindings(&path, dlq_topic.as_deref()) {
                Ok(b) => {
                    tracing::info!(bindings = b.len(), "bindings reloaded");
                    shared.interceptor.set_configured(b);
                }
                Err(e) => {
                    tracing::error!(error = %e, "bindings not reloaded; keeping the old ones")
                }
            }
        }
    }
    #[cfg(not(unix))]
    let _ = (path, dlq_topic, shared);
}
