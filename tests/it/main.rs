//! Integration tests: one binary, the real server on a random port, real databases.

#![allow(clippy::unwrap_used)]

mod helpers;
mod hostile;

mod json_schema;
mod lint_suite;
mod metrics;
mod mqtt_helpers;
mod mqtt_proxy;
mod protobuf;
mod proxy_core;

mod bad_input;
mod bindings;
mod changes;
mod changesets;
mod cli;
mod compat_suites;
mod concurrency;
mod conformance;
mod governance;
mod kafka;
mod openapi;
mod operator;
mod policy;
mod python_client;
mod registry_api;
mod storage;
mod validate;
