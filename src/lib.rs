//! Accord: a schema registry (Confluent-compatible) with contract governance.

/// HTTP: the Confluent-compatible REST API, health, OpenAPI.
#[cfg(feature = "server")]
pub mod api;
/// The change log: every committed change, in order, for followers and the feed API.
#[cfg(feature = "server")]
pub mod changes;
/// Change sets: several registrations planned or applied together, atomically (without the
/// server feature: the verdicts alone).
pub mod changeset;
/// The seven compatibility levels over the format trait.
pub mod compat;
/// Typed server configuration.
#[cfg(feature = "server")]
pub mod config;
/// Schema formats behind one trait: parse, canonical form, compatibility.
pub mod formats;
/// Contract governance: API keys and roles, team ownership, subject lifecycle, audit log
/// (without the server feature: the lint rules and the policy document).
pub mod governance;
/// Prometheus metrics for `/metrics`.
#[cfg(feature = "server")]
pub mod metrics;
/// `accord-proxy`: MQTT codec and sessions, registry client, interceptor, operations. Without
/// the server feature only the codec (`mqtt-codec`, for the fuzz targets).
#[cfg(any(feature = "server", feature = "mqtt-codec"))]
pub mod proxy;
/// The registry domain service: register, look up, delete, configure.
#[cfg(feature = "server")]
pub mod registry;
/// The Kafka relay: the change log published as CloudEvents.
#[cfg(feature = "server")]
pub mod relay;
/// The one start-up path shared by the binary and the tests.
#[cfg(feature = "server")]
pub mod startup;
/// Persistence behind one trait; PostgreSQL and embedded SQLite.
#[cfg(feature = "server")]
pub mod storage;
/// Shared domain values: subjects, versions, levels, modes, references.
pub mod types;
