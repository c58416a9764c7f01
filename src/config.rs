//! Typed server configuration: defaults < environment < flags (clap reads both). `validate()`
//! reports every problem at once.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::types::CompatibilityLevel;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Plain,
    Json,
}

/// How `accord-server` runs.
#[derive(Debug, Clone, Args)]
pub struct ServerConfig {
    /// Address to listen on.
    #[arg(long, env = "ACCORD_LISTEN", default_value = "0.0.0.0:8081")]
    pub listen: SocketAddr,

    /// PostgreSQL URL (postgres://…). Without it the registry uses an embedded SQLite file.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,

    /// Directory of the embedded SQLite database (used when DATABASE_URL is not set).
    #[arg(long, env = "ACCORD_DATA_DIR", default_value = "./accord-data")]
    pub data_dir: PathBuf,

    /// Most database connections in the pool.
    #[arg(long, env = "ACCORD_DB_MAX_CONNECTIONS", default_value_t = 16)]
    pub db_max_connections: u32,

    /// Largest request body accepted, in bytes (413 above it).
    #[arg(long, env = "ACCORD_MAX_BODY_BYTES", default_value_t = 2 * 1024 * 1024)]
    pub max_body_bytes: usize,

    /// Largest schema accepted, in bytes (422/42209 above it).
    #[arg(long, env = "ACCORD_MAX_SCHEMA_BYTES", default_value_t = 1024 * 1024)]
    pub max_schema_bytes: usize,

    /// Compatibility level used where no config sets one.
    #[arg(long, env = "ACCORD_DEFAULT_COMPATIBILITY", default_value = "BACKWARD", value_parser = parse_level)]
    pub default_compatibility: CompatibilityLevel,

    /// `error_code` of an incompatible-schema answer: 40901 (current Confluent) or 409 (older).
    #[arg(long, env = "ACCORD_INCOMPATIBLE_ERROR_CODE", default_value_t = 40901)]
    pub incompatible_error_code: u32,

    /// Schemas kept in the in-memory cache.
    #[arg(long, env = "ACCORD_SCHEMA_CACHE", default_value_t = 10_000)]
    pub schema_cache: usize,

    /// Log format.
    #[arg(long, env = "ACCORD_LOG_FORMAT", value_enum, default_value = "plain")]
    pub log_format: LogFormat,
}

fn parse_level(s: &str) -> Result<CompatibilityLevel, String> {
    s.parse()
        .map_err(|_| format!("unknown compatibility level '{s}'"))
}

impl ServerConfig {
    /// A configuration for tests and embedding: listens on an ephemeral loopback port.
    pub fn ephemeral(database_url: Option<String>, data_dir: PathBuf) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            database_url,
            data_dir,
            db_max_connections: 16,
            max_body_bytes: 2 * 1024 * 1024,
            max_schema_bytes: 1024 * 1024,
            default_compatibility: CompatibilityLevel::Backward,
            incompatible_error_code: 40901,
            schema_cache: 10_000,
            log_format: LogFormat::Plain,
        }
    }

    /// Every problem with the configuration, or none.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        if let Some(url) = &self.database_url {
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                problems.push(format!(
                    "DATABASE_URL must be a postgres:// URL, got '{}'",
                    redact(url)
                ));
            }
        }
        if self.db_max_connections == 0 {
            problems.push("ACCORD_DB_MAX_CONNECTIONS must be at least 1".into());
        }
        if self.max_body_bytes < 1024 {
            problems.push("ACCORD_MAX_BODY_BYTES must be at least 1024".into());
        }
        if self.max_schema_bytes == 0 || self.max_schema_bytes > self.max_body_bytes {
            problems
                .push("ACCORD_MAX_SCHEMA_BYTES must be between 1 and ACCORD_MAX_BODY_BYTES".into());
        }
        if ![409, 40901].contains(&self.incompatible_error_code) {
            problems.push("ACCORD_INCOMPATIBLE_ERROR_CODE must be 409 or 40901".into());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    /// The SQLite file used when no DATABASE_URL is set.
    pub fn sqlite_path(&self) -> PathBuf {
        self.data_dir.join("accord.db")
    }
}

/// A URL with its password hidden, for logs and errors.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}
