//! The proxy's Prometheus metrics (`GET /metrics` on its admin listener): per binding, messages
//! matched, valid, and invalid by reason and action; unbound destinations; the registry
//! client's caches and change-feed position; validation latency; connections; dead letters.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BindingLabels {
    pub binding: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct InvalidLabels {
    pub binding: String,
    /// `no-schema-id`, `unknown-schema`, `invalid-payload`, `registry-unavailable`.
    pub reason: String,
    /// `reject`, `dlq`, `mark`, `log`, `disconnect`.
    pub action: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CacheLabels {
    /// `schemas` (parsed schemas by id) or `versions` (subjects' live versions).
    pub cache: String,
    /// `hit` or `miss`.
    pub result: String,
}

/// What the registry client counts; the client holds these (clones share the values) and the
/// proxy's registry exposes them. The four cache counters are resolved once (no label lookup
/// per message).
#[derive(Clone, Debug)]
pub struct RegistryStats {
    pub cache: Family<CacheLabels, Counter>,
    schema_hit: Counter,
    schema_miss: Counter,
    versions_hit: Counter,
    versions_miss: Counter,
    /// Requests to the registry that failed (unreachable, timed out, 5xx, unreadable).
    pub errors: Counter,
    /// The change-log position the proxy has read to.
    pub feed_position: Gauge,
    /// Entries between that position and the registry's head when last read.
    pub feed_lag: Gauge,
    /// 1 while the last request reached the registry.
    pub reachable: Gauge,
}

impl Default for RegistryStats {
    fn default() -> Self {
        let cache = Family::<CacheLabels, Counter>::default();
        let get = |c: &str, r: &str| {
            cache
                .get_or_create(&CacheLabels {
                    cache: c.to_owned(),
                    result: r.to_owned(),
                })
                .clone()
        };
        Self {
            schema_hit: get("schemas", "hit"),
            schema_miss: get("schemas", "miss"),
            versions_hit: get("versions", "hit"),
            versions_miss: get("versions", "miss"),
            cache,
            errors: Counter::default(),
            feed_position: Gauge::default(),
            feed_lag: Gauge::default(),
            reachable: Gauge::default(),
        }
    }
}

impl RegistryStats {
    /// A lookup in the `schemas` cache (`versions` when `schema` is false).
    pub fn cache(&self, schema: bool, hit: bool) {
        match (schema, hit) {
            (true, true) => &self.schema_hit,
            (true, false) => &self.schema_miss,
            (false, true) => &self.versions_hit,
            (false, false) => &self.versions_miss,
        }
        .inc();
    }
}

pub struct ProxyMetrics {
    registry: Registry,
    pub matched: Family<BindingLabels, Counter>,
    pub valid: Family<BindingLabels, Counter>,
    pub invalid: Family<InvalidLabels, Counter>,
    /// Messages on destinations no binding covers: `allowed` or `rejected`.
    pub unbound: Family<OutcomeLabels, Counter>,
    pub validation_seconds: Histogram,
    pub connections: Gauge,
    pub connections_total: Counter,
    /// Connections closed for a protocol problem: `malformed`, `too-large`, `no-connect`,
    /// `stalled`, `upstream-unreachable`.
    pub protocol_errors: Family<OutcomeLabels, Counter>,
    /// Dead letters: `published`, `failed`.
    pub dead_letters: Family<OutcomeLabels, Counter>,
    /// Refused QoS 0 messages dropped (nothing to tell the producer).
    pub dropped_qos0: Counter,
}

impl ProxyMetrics {
    pub fn new(stats: &RegistryStats) -> Self {
        let mut registry = Registry::with_prefix("accord_proxy");
        let matched = Family::<BindingLabels, Counter>::default();
        registry.register(
            "messages_matched",
            "Published messages on a bound destination",
            matched.clone(),
        );
        let valid = Family::<BindingLabels, Counter>::default();
        registry.register(
            "messages_valid",
            "Messages that matched their contract",
            valid.clone(),
        );
        let invalid = Family::<InvalidLabels, Counter>::default();
        registry.register(
            "messages_invalid",
            "Messages refused by their contract, by reason and the action taken",
            invalid.clone(),
        );
        let unbound = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "messages_unbound",
            "Messages on destinations no binding covers",
            unbound.clone(),
        );
        let validation_seconds = Histogram::new(exponential_buckets(0.000_01, 2.0, 18));
        registry.register(
            "validation_seconds",
            "Time to judge a message (lookup and validation)",
            validation_seconds.clone(),
        );
        let connections = Gauge::default();
        registry.register(
            "connections",
            "Client connections open",
            connections.clone(),
        );
        let connections_total = Counter::default();
        registry.register(
            "connections_accepted",
            "Client connections accepted",
            connections_total.clone(),
        );
        let protocol_errors = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "protocol_errors",
            "Connections closed for a protocol problem",
            protocol_errors.clone(),
        );
        let dead_letters = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "dead_letters",
            "Refused messages sent to a dead-letter topic",
            dead_letters.clone(),
        );
        let dropped_qos0 = Counter::default();
        registry.register(
            "dropped_qos0",
            "Refused QoS 0 messages dropped",
            dropped_qos0.clone(),
        );
        registry.register(
            "registry_cache",
            "Registry client cache lookups",
            stats.cache.clone(),
        );
        registry.register(
            "registry_errors",
            "Registry requests that failed",
            stats.errors.clone(),
        );
        registry.register(
            "feed_position",
            "Change-log position read to",
            stats.feed_position.clone(),
        );
        registry.register(
            "feed_lag",
            "Change-log entries behind the registry's head",
            stats.feed_lag.clone(),
        );
        registry.register(
            "registry_reachable",
            "1 while the registry answers",
            stats.reachable.clone(),
        );
        Self {
            registry,
            matched,
            valid,
            invalid,
            unbound,
            validation_seconds,
            connections,
            connections_total,
            protocol_errors,
            dead_letters,
            dropped_qos0,
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

    pub fn outcome(family: &Family<OutcomeLabels, Counter>, outcome: &str) {
        family
            .get_or_create(&OutcomeLabels {
                outcome: outcome.to_owned(),
            })
            .inc();
    }
}
