//! Prometheus metrics (`GET /metrics`, text exposition format) with `prometheus-client`.
//!
//! One process-wide set: requests by route template (never the raw path) and status, latency
//! histograms, registrations and compatibility failures by format, lint findings by rule,
//! authentication refusals, the change log's head and this follower's lag, the database pool,
//! and the Kafka relay (leadership, acknowledged position, lag, errors).

use std::sync::OnceLock;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: String,
    /// The route template, e.g. `/subjects/{subject}/versions`; `unmatched` for no route.
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub method: String,
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FormatLabels {
    pub format: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RuleLabels {
    pub rule: String,
    /// `enforced` (refused the registration), `warning` or `existing`.
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabels {
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CacheLabels {
    /// `schemas` (stored records by id), `parsed` (parsed versions), `inputs` (parsed request
    /// schemas).
    pub cache: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PoolLabels {
    /// `in_use`, `idle`, or `waiting` (requests waiting for a connection).
    pub state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    /// What failed, e.g. `delivery`, `store`, `topic`, `expired`.
    pub reason: String,
}

type HistogramFamily = Family<RouteLabels, Histogram, fn() -> Histogram>;

/// Every metric the server exports.
pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub latency: HistogramFamily,
    pub registrations: Family<FormatLabels, Counter>,
    pub compatibility_failures: Family<FormatLabels, Counter>,
    pub lint_findings: Family<RuleLabels, Counter>,
    pub auth_refusals: Family<StatusLabels, Counter>,
    pub changes_head: Gauge,
    pub changes_follower_lag: Gauge,
    pub db_connections: Family<PoolLabels, Gauge>,
    pub cache_hits: Family<CacheLabels, Gauge>,
    pub cache_misses: Family<CacheLabels, Gauge>,
    pub relay_leader: Gauge,
    pub relay_position: Gauge,
    pub relay_lag: Gauge,
    pub relay_published: Counter,
    pub relay_errors: Family<ErrorLabels, Counter>,
}

fn latency_histogram() -> Histogram {
    // 0.25 ms to about 8 s.
    Histogram::new(exponential_buckets(0.00025, 2.0, 16))
}

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::with_prefix("accord");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by method, route template and status",
            requests.clone(),
        );
        let latency: HistogramFamily = Family::new_with_constructor(latency_histogram);
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by method and route template",
            latency.clone(),
        );
        let registrations = Family::<FormatLabels, Counter>::default();
        registry.register(
            "registrations",
            "Schemas registered (new versions) by format",
            registrations.clone(),
        );
        let compatibility_failures = Family::<FormatLabels, Counter>::default();
        registry.register(
            "compatibility_failures",
            "Registrations and compatibility checks found incompatible, by format",
            compatibility_failures.clone(),
        );
        let lint_findings = Family::<RuleLabels, Counter>::default();
        registry.register(
            "lint_findings",
            "Lint findings at registration by rule and outcome",
            lint_findings.clone(),
        );
        let auth_refusals = Family::<StatusLabels, Counter>::default();
        registry.register(
            "auth_refusals",
            "Requests refused by authentication (401) or authorisation (403)",
            auth_refusals.clone(),
        );
        let changes_head = Gauge::default();
        registry.register(
            "changes_head",
            "The newest committed change-log sequence this server has seen",
            changes_head.clone(),
        );
        let changes_follower_lag = Gauge::default();
        registry.register(
            "changes_follower_lag",
            "Change-log entries committed but not yet applied to this server's caches",
            changes_follower_lag.clone(),
        );
        let db_connections = Family::<PoolLabels, Gauge>::default();
        registry.register(
            "db_connections",
            "Database pool connections by state",
            db_connections.clone(),
        );
        let cache_hits = Family::<CacheLabels, Gauge>::default();
        registry.register(
            "cache_hits",
            "Schema cache hits since start",
            cache_hits.clone(),
        );
        let cache_misses = Family::<CacheLabels, Gauge>::default();
        registry.register(
            "cache_misses",
            "Schema cache misses since start",
            cache_misses.clone(),
        );
        let relay_leader = Gauge::default();
        registry.register(
            "kafka_relay_leader",
            "1 while this server holds the Kafka relay's lease and publishes the change log",
            relay_leader.clone(),
        );
        let relay_position = Gauge::default();
        registry.register(
            "kafka_relay_position",
            "The newest change-log sequence the Kafka broker acknowledged",
            relay_position.clone(),
        );
        let relay_lag = Gauge::default();
        registry.register(
            "kafka_relay_lag",
            "Change-log entries committed but not yet acknowledged by Kafka",
            relay_lag.clone(),
        );
        let relay_published = Counter::default();
        registry.register(
            "kafka_relay_published",
            "Change-log entries this server published to Kafka and the broker acknowledged",
            relay_published.clone(),
        );
        let relay_errors = Family::<ErrorLabels, Counter>::default();
        registry.register(
            "kafka_relay_errors",
            "Kafka relay failures by reason (each is retried)",
            relay_errors.clone(),
        );
        Metrics {
            relay_leader,
            relay_position,
            relay_lag,
            relay_published,
            relay_errors,
            cache_hits,
            cache_misses,
            registry,
            requests,
            latency,
            registrations,
            compatibility_failures,
            lint_findings,
            auth_refusals,
            changes_head,
            changes_follower_lag,
            db_connections,
        }
    }

    /// The metrics in the Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }

    pub fn registered(&self, format: &str) {
        self.registrations
            .get_or_create(&FormatLabels {
                format: format.to_owned(),
            })
            .inc();
    }

    pub fn incompatible(&self, format: &str) {
        self.compatibility_failures
            .get_or_create(&FormatLabels {
                format: format.to_owned(),
            })
            .inc();
    }

    pub fn relay_error(&self, reason: &str) {
        self.relay_errors
            .get_or_create(&ErrorLabels {
                reason: reason.to_owned(),
            })
            .inc();
    }

    pub fn lint(&self, rule: &str, outcome: &str) {
        self.lint_findings
            .get_or_create(&RuleLabels {
                rule: rule.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
    }
}

/// The process's metrics.
pub fn global() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}
