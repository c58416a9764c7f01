//! Typed server configuration: defaults < file < environment < flags. clap reads flags and
//! environment; [`ServerConfig::apply_file`] fills, from a TOML file, what neither of them set.
//! `validate()` reports every problem at once.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::parser::ValueSource;
use clap::{ArgMatches, Args, ValueEnum};
use serde::Deserialize;

use crate::types::CompatibilityLevel;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Plain,
    Json,
}

/// How `accord-server` runs.
#[derive(Debug, Clone, Args)]
pub struct ServerConfig {
    /// A TOML file with any of these settings (names as the flags, `_` for `-`); flags and
    /// environment variables win over it.
    #[arg(long = "config", global = true, env = "ACCORD_CONFIG")]
    pub config_file: Option<PathBuf>,

    /// Address to listen on.
    #[arg(
        long,
        global = true,
        env = "ACCORD_LISTEN",
        default_value = "0.0.0.0:8081"
    )]
    pub listen: SocketAddr,

    /// PostgreSQL URL (postgres://…). Without it the registry uses an embedded SQLite file.
    #[arg(long, global = true, env = "DATABASE_URL")]
    pub database_url: Option<String>,

    /// Directory of the embedded SQLite database (used when DATABASE_URL is not set).
    #[arg(
        long,
        global = true,
        env = "ACCORD_DATA_DIR",
        default_value = "./accord-data"
    )]
    pub data_dir: PathBuf,

    /// Most database connections in the pool.
    #[arg(
        long,
        global = true,
        env = "ACCORD_DB_MAX_CONNECTIONS",
        default_value_t = 16
    )]
    pub db_max_connections: u32,

    /// Largest request body accepted, in bytes (413 above it).
    #[arg(long, global = true, env = "ACCORD_MAX_BODY_BYTES", default_value_t = 2 * 1024 * 1024)]
    pub max_body_bytes: usize,

    /// Largest schema accepted, in bytes (422/42209 above it).
    #[arg(long, global = true, env = "ACCORD_MAX_SCHEMA_BYTES", default_value_t = 1024 * 1024)]
    pub max_schema_bytes: usize,

    /// Compatibility level used where no config sets one.
    #[arg(long, global = true, env = "ACCORD_DEFAULT_COMPATIBILITY", default_value = "BACKWARD", value_parser = parse_level)]
    pub default_compatibility: CompatibilityLevel,

    /// `error_code` of an incompatible-schema answer: 40901 (current Confluent) or 409 (older).
    #[arg(
        long,
        global = true,
        env = "ACCORD_INCOMPATIBLE_ERROR_CODE",
        default_value_t = 40901
    )]
    pub incompatible_error_code: u32,

    /// Seconds a connection may take to send a request's headers, and stay idle between
    /// requests, before it is closed (slow or idle clients cannot hold connections forever).
    #[arg(
        long,
        global = true,
        env = "ACCORD_HEADER_READ_TIMEOUT",
        default_value_t = 10
    )]
    pub header_read_timeout: u64,

    /// Most client connections open at once; further clients wait in the listen queue until
    /// one closes. Lowered at start to fit the process's open-file limit.
    #[arg(
        long,
        global = true,
        env = "ACCORD_MAX_CONNECTIONS",
        default_value_t = 1024
    )]
    pub max_connections: usize,

    /// MiB of estimated memory that schema parses and compatibility checks may use at once;
    /// more work waits its turn.
    #[arg(
        long,
        global = true,
        env = "ACCORD_WORK_MEMORY_MB",
        default_value_t = 512
    )]
    pub work_memory_mb: usize,

    /// MiB the parsed schemas kept in memory may take (estimated; half for stored versions,
    /// half for schemas sent in requests); least used ones are dropped and parsed again.
    #[arg(
        long,
        global = true,
        env = "ACCORD_CACHE_MEMORY_MB",
        default_value_t = 256
    )]
    pub cache_memory_mb: usize,

    /// Schema parses and compatibility checks running at once (0: one per core, at least 2).
    #[arg(long, global = true, env = "ACCORD_WORK_SLOTS", default_value_t = 0)]
    pub work_slots: usize,

    /// Days audit entries are kept (0: forever); older ones are removed hourly.
    #[arg(
        long,
        global = true,
        env = "ACCORD_AUDIT_RETENTION_DAYS",
        default_value_t = 400
    )]
    pub audit_retention_days: u64,

    /// Days the change log keeps its entries (0: no age limit).
    #[arg(
        long,
        global = true,
        env = "ACCORD_CHANGES_RETENTION_DAYS",
        default_value_t = 7
    )]
    pub changes_retention_days: u64,

    /// Entries the change log keeps at most (0: no count limit).
    #[arg(
        long,
        global = true,
        env = "ACCORD_CHANGES_RETENTION_ENTRIES",
        default_value_t = 1_000_000
    )]
    pub changes_retention_entries: u64,

    /// Schemas kept in the in-memory cache.
    #[arg(
        long,
        global = true,
        env = "ACCORD_SCHEMA_CACHE",
        default_value_t = 10_000
    )]
    pub schema_cache: usize,

    /// Log format.
    #[arg(
        long,
        global = true,
        env = "ACCORD_LOG_FORMAT",
        value_enum,
        default_value = "plain"
    )]
    pub log_format: LogFormat,

    /// Require an API key on every request but health and docs (off for the embedded quick
    /// start; create the first admin key with `accord-server create-admin-key`).
    #[arg(long, global = true, env = "ACCORD_AUTH", default_value_t = false, action = clap::ArgAction::Set,
        value_parser = clap::builder::BoolishValueParser::new())]
    pub auth: bool,
}

fn parse_level(s: &str) -> Result<CompatibilityLevel, String> {
    s.parse()
        .map_err(|_| format!("unknown compatibility level '{s}'"))
}

impl ServerConfig {
    /// A configuration for tests and embedding: listens on an ephemeral loopback port.
    pub fn ephemeral(database_url: Option<String>, data_dir: PathBuf) -> Self {
        Self {
            config_file: None,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            database_url,
            data_dir,
            db_max_connections: 16,
            max_body_bytes: 2 * 1024 * 1024,
            max_schema_bytes: 1024 * 1024,
            header_read_timeout: 10,
            max_connections: 1024,
            work_memory_mb: 512,
            cache_memory_mb: 256,
            work_slots: 0,
            audit_retention_days: 400,
            changes_retention_days: 7,
            changes_retention_entries: 1_000_000,
            default_compatibility: CompatibilityLevel::Backward,
            incompatible_error_code: 40901,
            schema_cache: 10_000,
            log_format: LogFormat::Plain,
            auth: false,
        }
    }

    /// Takes from `file` every setting that neither a flag nor an environment variable gave
    /// (`matches` tells which did).
    pub fn apply_file(&mut self, file: FileConfig, matches: &ArgMatches) -> Result<(), String> {
        let unset = |id: &str| {
            !matches!(
                matches.value_source(id),
                Some(ValueSource::CommandLine | ValueSource::EnvVariable)
            )
        };
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
            database_url,
            data_dir,
            db_max_connections,
            max_body_bytes,
            max_schema_bytes,
            header_read_timeout,
            max_connections,
            work_memory_mb,
            cache_memory_mb,
            work_slots,
            audit_retention_days,
            changes_retention_days,
            changes_retention_entries,
            incompatible_error_code,
            schema_cache,
            auth
        );
        if let Some(level) = file.default_compatibility {
            if unset("default_compatibility") {
                self.default_compatibility = parse_level(&level)?;
            }
        }
        if let Some(format) = file.log_format {
            if unset("log_format") {
                self.log_format = LogFormat::from_str(&format, true)
                    .map_err(|_| format!("log_format must be plain or json, got '{format}'"))?;
            }
        }
        Ok(())
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
        if self.header_read_timeout == 0 {
            problems.push("ACCORD_HEADER_READ_TIMEOUT must be at least 1 second".into());
        }
        if self.max_connections == 0 {
            problems.push("ACCORD_MAX_CONNECTIONS must be at least 1".into());
        }
        if self.work_memory_mb == 0 {
            problems.push("ACCORD_WORK_MEMORY_MB must be at least 1".into());
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

/// What a config file may set. Unknown keys are refused, so a typo is not silently ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<SocketAddr>,
    pub database_url: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub db_max_connections: Option<u32>,
    pub max_body_bytes: Option<usize>,
    pub max_schema_bytes: Option<usize>,
    pub header_read_timeout: Option<u64>,
    pub max_connections: Option<usize>,
    pub work_memory_mb: Option<usize>,
    pub cache_memory_mb: Option<usize>,
    pub work_slots: Option<usize>,
    pub audit_retention_days: Option<u64>,
    pub changes_retention_days: Option<u64>,
    pub changes_retention_entries: Option<u64>,
    pub default_compatibility: Option<String>,
    pub incompatible_error_code: Option<u32>,
    pub schema_cache: Option<usize>,
    pub log_format: Option<String>,
    pub auth: Option<bool>,
}

impl FileConfig {
    pub fn parse(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string())
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

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, FromArgMatches, Parser};

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        config: ServerConfig,
    }

    fn load(args: &[&str], file: &str) -> Result<ServerConfig, String> {
        let matches = Cli::command()
            .try_get_matches_from(args)
            .map_err(|e| e.to_string())?;
        let mut cli = Cli::from_arg_matches(&matches).map_err(|e| e.to_string())?;
        cli.config.apply_file(FileConfig::parse(file)?, &matches)?;
        Ok(cli.config)
    }

    #[test]
    fn file_fills_what_flags_do_not_set() {
        let file = r#"
            listen = "127.0.0.1:9000"
            database_url = "postgres://u@h/db"
            default_compatibility = "full_transitive"
            max_body_bytes = 4096
        "#;
        let c = load(&["accord-server", "--max-body-bytes", "8192"], file).unwrap();
        assert_eq!(c.listen, "127.0.0.1:9000".parse().unwrap());
        assert_eq!(c.database_url.as_deref(), Some("postgres://u@h/db"));
        assert_eq!(c.default_compatibility, CompatibilityLevel::FullTransitive);
        assert_eq!(c.max_body_bytes, 8192, "the flag wins over the file");
        assert_eq!(
            c.schema_cache, 10_000,
            "the default stays where nothing is set"
        );
    }

    #[test]
    fn file_errors_are_reported() {
        assert!(load(&["accord-server"], "listn = \"x\"")
            .unwrap_err()
            .contains("listn"));
        assert!(load(&["accord-server"], "default_compatibility = \"sideways\"").is_err());
        assert!(load(&["accord-server"], "log_format = \"xml\"").is_err());
    }
}
