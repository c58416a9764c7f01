//! The shared core of `accord-proxy`: the registry as the proxy sees it (`registry_client`,
//! over HTTP with caches the change feed keeps current) and the interceptor both protocol
//! sessions call per published message (binding → lookup → validate → verdict). Never touches
//! storage.

pub mod interceptor;
pub mod mqtt;
pub mod registry_client;
