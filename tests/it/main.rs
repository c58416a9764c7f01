//! Integration tests: one binary, the real server on a random port, real databases.

mod helpers;

mod bad_input;
mod concurrency;
mod openapi;
mod registry_api;
