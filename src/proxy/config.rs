//! `accord-proxy`'s configuration: defaults < file < environment < flags, as the server's.
//! Bindings of the proxy's own come from the file only (`[[bindings]]` tables, the registry's
//! JSON field names); the file is read again on SIGHUP to reload them.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{ArgMatches, Args};
use serde::Deserialize;

use super::interceptor::{OnRegistryUnavailable, Unbound};
use crate::config::{given, parse_log_format, LogFormat};
use crate::governance::bindings::{Action, Binding};

#[derive(Debug, Clone, Args)]
pub struct ProxyConfig {
    /// A TOML file with any of these settings (names as the flags, `_` for `-`) and the proxy's
    /// own `[[bindings]]`; flags and environment variables win over it. Read again on SIGHUP.
    #[arg(long = "config", env = "ACCORD_PROXY_CONFIG")]
    pub config_file: Option<PathBuf>,

    /// Address MQTT clients connect to (plain TCP).
    #[arg(long, env = "ACCORD_PROXY_LISTEN", default_value = "0.0.0.0:1884")]
    pub listen: SocketAddr,

    /// Address for MQTT over TLS (needs --tls-cert and --tls-key).
    #[arg(long, env = "ACCORD_PROXY_TLS_LISTEN")]
    pub tls_listen: Option<SocketAddr>,

    /// PEM file of the TLS certificate chain.
    #[arg(long, env = "ACCORD_PROXY_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,

    /// PEM file of the TLS private key.
    #[arg(long, env = "ACCORD_PROXY_TLS_KEY")]
    pub tls_key: Option<PathBuf>,

    /// The MQTT broker behind the proxy, host:port.
    #[arg(long, env = "ACCORD_PROXY_UPSTREAM", default_value = "127.0.0.1:1883")]
    pub upstream: String,

    /// Username of the proxy's own broker connection (dead letters).
    #[arg(long, env = "ACCORD_PROXY_UPSTREAM_USERNAME")]
    pub upstream_username: Option<String>,

    /// Password of the proxy's own broker connection.
    #[arg(long, env = "ACCORD_PROXY_UPSTREAM_PASSWORD", hide_env_values = true)]
    pub upstream_password: Option<String>,

    /// Client id of the proxy's own broker connection (default: accord-proxy-<random>).
    #[arg(long, env = "ACCORD_PROXY_CLIENT_ID")]
    pub client_id: Option<String>,

    /// The registry (accord-server) base URL.
    #[arg(
        long,
        env = "ACCORD_PROXY_REGISTRY",
        default_value = "http://127.0.0.1:8081"
    )]
    pub registry: String,

    /// The proxy's API key, `<id>:<secret>`, when the registry has authentication on.
    #[arg(long, env = "ACCORD_PROXY_REGISTRY_KEY", hide_env_values = true)]
    pub registry_key: Option<String>,

    /// Address of /metrics and /health/{live,ready}.
    #[arg(
        long,
        env = "ACCORD_PROXY_ADMIN_LISTEN",
        default_value = "0.0.0.0:8082"
    )]
    pub admin_listen: SocketAddr,

    /// Messages on destinations no binding covers: allow, or reject as unregistered.
    #[arg(
        long,
        env = "ACCORD_PROXY_UNBOUND",
        value_enum,
        default_value = "allow"
    )]
    pub unbound: Unbound,

    /// A message whose schema was never seen while the registry is unreachable: reject, pass
    /// or dlq (cached schemas keep being checked).
    #[arg(
        long,
        env = "ACCORD_PROXY_ON_REGISTRY_UNAVAILABLE",
        value_enum,
        default_value = "reject"
    )]
    pub on_registry_unavailable: OnRegistryUnavailable,

    /// Dead-letter topic of bindings with action dlq that name none.
    #[arg(long, env = "ACCORD_PROXY_DLQ_TOPIC")]
    pub dlq_topic: Option<String>,

    /// Largest MQTT packet a client may send, in bytes (bigger ones close the connection).
    #[arg(long, env = "ACCORD_PROXY_MAX_PACKET_BYTES", default_value_t = 16 * 1024 * 1024)]
    pub max_packet_bytes: usize,

    /// Most client connections open at once; more wait in the listen queue.
    #[arg(long, env = "ACCORD_PROXY_MAX_CONNECTIONS", default_value_t = 10_000)]
    pub max_connections: usize,

    /// Seconds a client has to send CONNECT.
    #[arg(long, env = "ACCORD_PROXY_CONNECT_TIMEOUT", default_value_t = 10)]
    pub connect_timeout: u64,

    /// Seconds a packet may stay half sent before the connection is closed.
    #[arg(long, env = "ACCORD_PROXY_FRAME_TIMEOUT", default_value_t = 30)]
    pub frame_timeout: u64,

    /// Seconds a shutdown waits for forwarded messages to be acknowledged.
    #[arg(long, env = "ACCORD_PROXY_SHUTDOWN_GRACE", default_value_t = 10)]
    pub shutdown_grace: u64,

    /// Refused messages logged per second at most (the rest are counted).
    #[arg(
        long,
        env = "ACCORD_PROXY_REFUSAL_LOG_PER_SECOND",
        default_value_t = 10
    )]
    pub refusal_log_per_second: u32,

    /// Log format.
    #[arg(long, env = "ACCORD_LOG_FORMAT", value_enum, default_value = "plain")]
    pub log_format: LogFormat,

    /// The proxy's own bindings (from the file).
    #[arg(skip)]
    pub bindings: Vec<Binding>,
}

/// The file's form.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyFile {
    pub listen: Option<SocketAddr>,
    pub tls_listen: Option<SocketAddr>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub upstream: Option<String>,
    pub upstream_username: Option<String>,
    pub upstream_password: Option<String>,
    pub client_id: Option<String>,
    pub registry: Option<String>,
    pub registry_key: Option<String>,
    pub admin_listen: Option<SocketAddr>,
    pub unbound: Option<Unbound>,
    pub on_registry_unavailable: Option<OnRegistryUnavailable>,
    pub dlq_topic: Option<String>,
    pub max_packet_bytes: Option<usize>,
    pub max_connections: Option<usize>,
    pub connect_timeout: Option<u64>,
    pub frame_timeout: Option<u64>,
    pub shutdown_grace: Option<u64>,
    pub refusal_log_per_second: Option<u32>,
    pub log_format: Option<String>,
    #[serde(default)]
    pub bindings: Vec<Binding>,
}

impl ProxyFile {
    pub fn parse(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    pub fn read(path: &std::path::Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("reading {}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }
}

impl ProxyConfig {
    /// Takes from `file` what neither a flag nor an environment variable gave.
    pub fn apply_file(&mut self, file: ProxyFile, matches: &ArgMatches) -> Result<(), String> {
        let unset = |id: &str| !given(matches, id);
        macro_rules! fill {
            ($($field:ident),*) => {$(
                if let Some(v) = file.$field {
                    if unset(stringify!($field)) {
                        self.$field = v.into();
                    }
                }
            )*};
        }
        fill!(
            listen,
            tls_listen,
            tls_cert,
            tls_key,
            upstream,
            upstream_username,
            upstream_password,
            client_id,
            registry,
            registry_key,
            admin_listen,
            unbound,
            on_registry_unavailable,
            dlq_topic,
            max_packet_bytes,
            max_connections,
            connect_timeout,
            frame_timeout,
            shutdown_grace,
            refusal_log_per_second
        );
        if let Some(format) = file.log_format {
            if unset("log_format") {
                self.log_format = parse_log_format(&format)?;
            }
        }
        self.bindings = named(file.bindings);
        Ok(())
    }

    /// The API key as `(id, secret)`.
    pub fn key(&self) -> Option<(String, String)> {
        self.registry_key
            .as_deref()
            .and_then(|k| k.split_once(':'))
            .map(|(i, s)| (i.to_owned(), s.to_owned()))
    }

    /// The broker as `(host, port)`.
    pub fn upstream_host_port(&self) -> Option<(String, u16)> {
        let (host, port) = self.upstream.rsplit_once(':')?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        Some((host.to_owned(), port.parse().ok()?))
    }

    /// Every problem with the configuration, or none.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        if self.upstream_host_port().is_none() {
            problems.push(format!(
                "upstream must be host:port, got '{}'",
                self.upstream
            ));
        }
        if !(self.registry.starts_with("http://") || self.registry.starts_with("https://")) {
            problems.push(format!(
                "registry must be an http:// or https:// URL, got '{}'",
                self.registry
            ));
        }
        if self
            .registry_key
            .as_deref()
            .is_some_and(|k| !k.contains(':'))
        {
            problems.push("registry_key must be <id>:<secret>".into());
        }
        if self.tls_listen.is_some() && (self.tls_cert.is_none() || self.tls_key.is_none()) {
            problems.push("tls_listen needs tls_cert and tls_key".into());
        }
        if self.max_packet_bytes < 64 {
            problems.push("max_packet_bytes must be at least 64".into());
        }
        if self.max_connections == 0 {
            problems.push("max_connections must be at least 1".into());
        }
        problems.extend(check_bindings(&self.bindings, self.dlq_topic.as_deref()));
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

/// Bindings from a file are named by their position when they name themselves nothing.
fn named(bindings: Vec<Binding>) -> Vec<Binding> {
    bindings
        .into_iter()
        .enumerate()
        .map(|(i, mut b)| {
            if b.name.is_empty() {
                b.name = format!("config-{}", i + 1);
            }
            b
        })
        .collect()
}

/// The problems of the proxy's own bindings.
pub fn check_bindings(bindings: &[Binding], dlq_topic: Option<&str>) -> Vec<String> {
    let mut problems = Vec::new();
    for b in bindings {
        // The proxy's dlq_topic serves its bindings that name none.
        let mut checked = b.clone();
        if checked.dlq_topic.is_none() && b.action == Action::Dlq {
            checked.dlq_topic = dlq_topic.map(str::to_owned);
        }
        if let Err(e) = checked.validate() {
            problems.push(format!("binding '{}': {e}", b.name));
        } else if b.action == Action::Dlq && checked.dlq_topic.is_none() {
            problems.push(format!(
                "binding '{}': action dlq needs a dlqTopic (or the proxy's dlq_topic)",
                b.name
            ));
        }
    }
    problems
}

/// Reads the bindings of a config file again (SIGHUP).
pub fn reload_bindings(
    path: &std::path::Path,
    dlq_topic: Option<&str>,
) -> Result<Vec<Binding>, String> {
    let bindings = named(ProxyFile::read(path)?.bindings);
    let problems = check_bindings(&bindings, dlq_topic);
    if problems.is_empty() {
        Ok(bindings)
    } else {
        Err(problems.join("; "))
    }
}
