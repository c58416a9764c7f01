//! Liveness and readiness for orchestrators.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

use super::{ApiError, ApiResult, AppState, SrJson};

/// Health answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    pub status: &'static str,
}

/// The process is up.
#[utoipa::path(get, path = "/health/live", operation_id = "getLiveness", tag = "health",
    responses((status = 200, description = "Alive", body = Health)))]
pub async fn live() -> SrJson<Health> {
    SrJson(Health { status: "UP" })
}

/// The database answers.
#[utoipa::path(get, path = "/health/ready", operation_id = "getReadiness", tag = "health",
    responses((status = 200, description = "Ready", body = Health),
              (status = 503, description = "Database unreachable", body = super::error::ErrorBody)))]
pub async fn ready(State(st): State<AppState>) -> ApiResult<SrJson<Health>> {
    st.registry.store().ping().await.map_err(|e| {
        tracing::warn!(error = %e, "readiness check failed");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            50301,
            "Database unreachable",
        )
    })?;
    Ok(SrJson(Health { status: "UP" }))
}
