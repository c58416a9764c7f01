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

    /// Keep the change log (`/accord/v1/changes`, cache coherence across instances, the Kafka
    /// relay). Turn it off only for a single instance that needs none of them.
    #[arg(long, global = true, env = "ACCORD_CHANGE_LOG", default_value_t = true, action = clap::ArgAction::Set,
        value_parser = clap::builder::BoolishValueParser::new())]
    pub change_log: bool,

    /// Kafka bootstrap servers (host:port,…). When set, the change log is published to Kafka
    /// as CloudEvents; without it nothing about Kafka starts.
    #[arg(long, global = true, env = "ACCORD_KAFKA_BROKERS")]
    pub kafka_brokers: Option<String>,

    /// The topic the change log is published to (created when missing).
    #[arg(
        long,
        global = true,
        env = "ACCORD_KAFKA_TOPIC",
        default_value = "_accord_changes"
    )]
    pub kafka_topic: String,

    /// A librdkafka property for the relay's producer, `name=value` (repeatable), e.g.
    /// `security.protocol=SASL_SSL`. Also read from `ACCORD_KAFKA_PROPERTY_<NAME>` variables
    /// (`ACCORD_KAFKA_PROPERTY_SASL_USERNAME` is `sasl.username`) and a file's
    /// `[kafka_properties]` table.
    #[arg(long = "kafka-property", global = true, value_name = "NAME=VALUE")]
    pub kafka_property: Vec<String>,

    /// The CloudEvents `source` of the published events.
    #[arg(
        long,
        global = true,
        env = "ACCORD_KAFKA_SOURCE",
        default_value = "/accord"
    )]
    pub kafka_source: String,

    /// Seconds the relay's lease lasts: when the publishing instance dies, another one takes
    /// over within about this long.
    #[arg(
        long,
        global = true,
        env = "ACCORD_KAFKA_LEASE_SECONDS",
        default_value_t = 10
    )]
    pub kafka_lease_seconds: u64,

    /// Partitions of the topic when the relay creates it.
    #[arg(
        long,
        global = true,
        env = "ACCORD_KAFKA_TOPIC_PARTITIONS",
        default_value_t = 1
    )]
    pub kafka_topic_partitions: i32,

    /// Replication factor of the topic when the relay creates it (-1: the broker's default).
    #[arg(
        long,
        global = true,
        env = "ACCORD_KAFKA_TOPIC_REPLICATION",
        default_value_t = -1,
        allow_negative_numbers = true
    )]
    pub kafka_topic_replication: i32,

    /// Properties from a config file's `[kafka_properties]` table.
    #[arg(skip)]
    pub kafka_file_properties: Vec<(String, String)>,

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
            change_log: true,
            kafka_brokers: None,
            kafka_topic: "_accord_changes".into(),
            kafka_property: Vec::new(),
            kafka_source: "/accord".into(),
            kafka_lease_seconds: 10,
            kafka_topic_partitions: 1,
            kafka_topic_replication: -1,
            kafka_file_properties: Vec::new(),
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
            change_log,
            kafka_brokers,
            kafka_topic,
            kafka_source,
            kafka_lease_seconds,
            kafka_topic_partitions,
            kafka_topic_replication,
            incompatible_error_code,
            schema_cache,
            auth
        );
        if let Some(level) = file.default_compatibility {
            if unset("default_compatibility") {
                self.default_compatibility = parse_level(&level)?;
            }
        }
        if let Some(props) = file.kafka_properties {
            self.kafka_file_properties = props.into_iter().collect();
        }
        if let Some(format) = file.log_format {
            if unset("log_format") {
                self.log_format = parse_log_format(&format)?;
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
        if let Err(e) = self.kafka_properties() {
            problems.push(e);
        }
        if self.kafka_brokers.is_some() {
            if self.kafka_topic.is_empty() {
                problems.push("ACCORD_KAFKA_TOPIC must not be empty".into());
            }
            if self.kafka_lease_seconds == 0 {
                problems.push("ACCORD_KAFKA_LEASE_SECONDS must be at least 1".into());
            }
            if self.kafka_topic_partitions < 1 {
                problems.push("ACCORD_KAFKA_TOPIC_PARTITIONS must be at least 1".into());
            }
            if self.kafka_topic_replication == 0 || self.kafka_topic_replication < -1 {
                problems.push("ACCORD_KAFKA_TOPIC_REPLICATION must be -1 or at least 1".into());
            }
            if !self.change_log {
                problems.push("the Kafka relay publishes the change log: ACCORD_KAFKA_BROKERS needs ACCORD_CHANGE_LOG on".into());
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    /// The relay's librdkafka properties: the file's, then `ACCORD_KAFKA_PROPERTY_*` variables,
    /// then `--kafka-property` flags (a later one wins).
    pub fn kafka_properties(&self) -> Result<Vec<(String, String)>, String> {
        let mut props = self.kafka_file_properties.clone();
        let mut from_env: Vec<(String, String)> = std::env::vars()
            .filter_map(|(k, v)| {
                let name = k.strip_prefix("ACCORD_KAFKA_PROPERTY_")?;
                Some((
                    name.to_ascii_lowercase()
                        .replace("__", "\0")
                        .replace('_', ".")
                        .replace('\0', "_"),
                    v,
                ))
            })
            .collect();
        from_env.sort();
        props.extend(from_env);
        for p in &self.kafka_property {
            match p.split_once('=') {
                Some((k, v)) if !k.trim().is_empty() => {
                    props.push((k.trim().to_owned(), v.to_owned()))
                }
                _ => return Err(format!("--kafka-property wants NAME=VALUE, got '{p}'")),
            }
        }
        Ok(props)
    }

    /// The relay's settings, when Kafka is configured.
    pub fn relay(&self) -> Result<Option<crate::relay::RelayConfig>, String> {
        let Some(brokers) = &self.kafka_brokers else {
            return Ok(None);
        };
        Ok(Some(crate::relay::RelayConfig {
            brokers: brokers.clone(),
            topic: self.kafka_topic.clone(),
            properties: self.kafka_properties()?,
            source: self.kafka_source.clone(),
            lease: std::time::Duration::from_secs(self.kafka_lease_seconds),
            partitions: self.kafka_topic_partitions,
            replication: self.kafka_topic_replication,
        }))
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
    pub change_log: Option<bool>,
    pub kafka_brokers: Option<String>,
    pub kafka_topic: Option<String>,
    pub kafka_source: Option<String>,
    pub kafka_lease_seconds: Option<u64>,
    pub kafka_topic_partitions: Option<i32>,
    pub kafka_topic_replication: Option<i32>,
    pub kafka_properties: Option<std::collections::BTreeMap<String, String>>,
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

/// Whether a flag or an environment variable gave setting `id` (a config file fills the rest).
pub fn given(matches: &ArgMatches, id: &str) -> bool {
    matches!(
        matches.value_source(id),
        Some(ValueSource::CommandLine | ValueSource::EnvVariable)
    )
}

/// A config file's `log_format`.
pub fn parse_log_format(format: &str) -> Result<LogFormat, String> {
    LogFormat::from_str(format, true)
        .map_err(|_| format!("log_format must be plain or json, got '{format}'"))
}

/// Logs to standard error, filtered by `ACCORD_LOG` (default `info`), in `format`; colour only
/// for a person at a terminal. For the binaries.
pub fn init_logging(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("ACCORD_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Plain => builder.init(),
        LogFormat::Json => builder.json().init(),
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
    fn kafka_properties_from_file_and_flags() {
        let file = "kafka_brokers = \"k:9092\"\n[kafka_properties]\n\"security.protocol\" = \"SSL\"\n\"ssl.ca.location\" = \"/ca.pem\"\n";
        let c = load(
            &[
                "accord-server",
                "--kafka-property",
                "security.protocol=SASL_SSL",
                "--kafka-property",
                "sasl.password=a=b",
            ],
            file,
        )
        .unwrap();
        let relay = c.relay().unwrap().expect("relay configured");
        assert_eq!(relay.brokers, "k:9092");
        assert_eq!(relay.topic, "_accord_changes");
        // Later wins: librdkafka applies them in order.
        assert_eq!(
            relay.properties,
            [
                ("security.protocol".to_owned(), "SSL".to_owned()),
                ("ssl.ca.location".to_owned(), "/ca.pem".to_owned()),
                ("security.protocol".to_owned(), "SASL_SSL".to_owned()),
                ("sasl.password".to_owned(), "a=b".to_owned()),
            ]
        );
        let bad = load(&["accord-server", "--kafka-property", "novalue"], "").unwrap();
        assert!(bad.validate().unwrap_err()[0].contains("NAME=VALUE"));
        assert!(load(&["accord-server"], "")
            .unwrap()
            .relay()
            .unwrap()
            .is_none());
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
