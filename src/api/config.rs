//! `/config`: compatibility settings, global and per subject (or context, as `:.ctx:`).

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::Caller;
use super::error::ErrorBody;
use super::{subject, ApiError, ApiResult, AppState, Path, Query, SrJson};
use crate::registry::{Config, ConfigOptions, RegistryError};
use crate::types::CompatibilityLevel;

/// A config change. Note the key `compatibility`, where `GET` answers `compatibilityLevel`
/// (`compatibilityLevel` is accepted here too).
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfigUpdateRequest {
    #[serde(alias = "compatibilityLevel", skip_serializing_if = "Option::is_none")]
    pub compatibility: Option<String>,
    #[serde(flatten)]
    pub options: ConfigOptions,
}

impl ConfigUpdateRequest {
    fn into_config(self) -> ApiResult<Config> {
        let level = match self.compatibility.as_deref() {
            None => None,
            Some(l) => Some(
                l.parse::<CompatibilityLevel>()
                    .map_err(|_| RegistryError::InvalidCompatibilityLevel)?,
            ),
        };
        // The reference reads these into typed objects: anything else is refused (422), never
        // stored to come back as a config no client can read.
        let o = &self.options;
        for (name, value) in [
            ("defaultMetadata", &o.default_metadata),
            ("overrideMetadata", &o.override_metadata),
            ("defaultRuleSet", &o.default_rule_set),
            ("overrideRuleSet", &o.override_rule_set),
        ] {
            if value.as_ref().is_some_and(|v| !v.is_object()) {
                return Err(ApiError::unprocessable(format!(
                    "Unprocessable request body: {name} must be an object"
                )));
            }
        }
        Ok(Config {
            compatibility_level: level,
            options: self.options,
        })
    }
}

impl From<Config> for ConfigUpdateRequest {
    fn from(c: Config) -> Self {
        Self {
            compatibility: c.compatibility_level.map(|l| l.as_str().to_owned()),
            options: c.options,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct GetConfigParams {
    /// Answer the effective config (subject, then context, then global) instead of 40408.
    #[serde(default, deserialize_with = "super::flag")]
    default_to_global: bool,
}

/// The global config.
#[utoipa::path(get, path = "/config", operation_id = "getTopLevelConfig", tag = "config", params(GetConfigParams),
    responses((status = 200, description = "Global config", body = Config)))]
pub async fn get_global(State(st): State<AppState>) -> ApiResult<SrJson<Config>> {
    Ok(SrJson(st.registry.get_config(None, true).await?))
}

/// Changes the global config.
#[utoipa::path(put, path = "/config", operation_id = "updateTopLevelConfig", tag = "config", request_body = ConfigUpdateRequest,
    responses((status = 200, description = "The stored config", body = ConfigUpdateRequest),
              (status = 422, description = "Invalid level (42203)", body = ErrorBody)))]
pub async fn put_global(
    State(st): State<AppState>,
    caller: Caller,
    SrJson(body): SrJson<ConfigUpdateRequest>,
) -> ApiResult<SrJson<ConfigUpdateRequest>> {
    let stored = st
        .registry
        .put_config(None, body.into_config()?, &caller.actor)
        .await?;
    Ok(SrJson(stored.into()))
}

/// Resets the global config to the server default; answers the old one.
#[utoipa::path(delete, path = "/config", operation_id = "deleteTopLevelConfig", tag = "config",
    responses((status = 200, description = "The config that was removed", body = Config)))]
pub async fn delete_global(
    State(st): State<AppState>,
    caller: Caller,
) -> ApiResult<SrJson<Config>> {
    Ok(SrJson(
        st.registry.delete_config(None, &caller.actor).await?,
    ))
}

/// A subject's (or context's) own config.
#[utoipa::path(get, path = "/config/{subject}", operation_id = "getSubjectLevelConfig", tag = "config",
    params(("subject" = String, Path), GetConfigParams),
    responses((status = 200, description = "Config", body = Config),
              (status = 404, description = "No subject-level config (40408)", body = ErrorBody)))]
pub async fn get_subject(
    State(st): State<AppState>,
    Path(raw): Path<String>,
    Query(p): Query<GetConfigParams>,
) -> ApiResult<SrJson<Config>> {
    let s = subject(&raw)?;
    Ok(SrJson(
        st.registry
            .get_config(Some(&s), p.default_to_global)
            .await?,
    ))
}

/// Changes a subject's (or context's) config.
#[utoipa::path(put, path = "/config/{subject}", operation_id = "updateSubjectLevelConfig", tag = "config",
    params(("subject" = String, Path)), request_body = ConfigUpdateRequest,
    responses((status = 200, description = "The stored config", body = ConfigUpdateRequest),
              (status = 422, description = "42203, 42205, 42208", body = ErrorBody)))]
pub async fn put_subject(
    State(st): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
    SrJson(body): SrJson<ConfigUpdateRequest>,
) -> ApiResult<SrJson<ConfigUpdateRequest>> {
    let s = subject(&raw)?;
    let stored = st
        .registry
        .put_config(Some(&s), body.into_config()?, &caller.actor)
        .await?;
    Ok(SrJson(stored.into()))
}

/// Removes a subject's config; answers the old one.
#[utoipa::path(delete, path = "/config/{subject}", operation_id = "deleteSubjectConfig", tag = "config", params(("subject" = String, Path)),
    responses((status = 200, description = "The config that was removed", body = Config),
              (status = 404, description = "No subject-level config (40401)", body = ErrorBody)))]
pub async fn delete_subject(
    State(st): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
) -> ApiResult<SrJson<Config>> {
    let s = subject(&raw)?;
    Ok(SrJson(
        st.registry.delete_config(Some(&s), &caller.actor).await?,
    ))
}
