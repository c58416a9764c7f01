//! `/` and the server metadata endpoints.

use serde::Serialize;
use utoipa::ToSchema;

use super::SrJson;

/// An empty JSON object: the registry answers.
#[utoipa::path(get, path = "/", operation_id = "getServerInfo", tag = "root",
    responses((status = 200, description = "An empty object", body = Object)))]
pub async fn root() -> SrJson<serde_json::Map<String, serde_json::Value>> {
    SrJson(serde_json::Map::new())
}

/// Server version.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServerVersion {
    pub version: String,
    pub commit_id: String,
}

/// The server's version.
#[utoipa::path(get, path = "/v1/metadata/version", operation_id = "getServerVersion", tag = "root",
    responses((status = 200, description = "Version", body = ServerVersion)))]
pub async fn version() -> SrJson<ServerVersion> {
    SrJson(ServerVersion {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        commit_id: option_env!("ACCORD_COMMIT").unwrap_or("unknown").to_owned(),
    })
}
