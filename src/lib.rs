//! Accord: a schema registry (Confluent-compatible) with contract governance.

/// Shared domain values: subjects, versions, levels, modes, references.
pub mod types;
/// Persistence behind one trait; PostgreSQL and embedded SQLite.
pub mod storage;
/// Schema formats behind one trait: parse, canonical form, compatibility.
pub mod formats;
/// The seven compatibility levels over the format trait.
pub mod compat;
/// The registry domain service: register, look up, delete, configure.
pub mod registry;
/// HTTP: the Confluent-compatible REST API, health, OpenAPI.
pub mod api;
/// Typed server configuration.
pub mod config;
/// The one start-up path shared by the binary and the tests.
pub mod startup;
