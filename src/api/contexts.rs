//! `/contexts`: the contexts in use.

use axum::extract::State;
use serde::Deserialize;
use utoipa::IntoParams;

use axum::http::StatusCode;

use super::auth::Caller;
use super::error::ErrorBody;
use super::{page, ApiResult, AppState, Path, Query, SrJson};

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ContextsParams {
    /// Only contexts starting with this prefix.
    context_prefix: Option<String>,
    offset: Option<usize>,
    limit: Option<i64>,
}

/// Contexts that hold subjects; the default context `.` is always listed.
#[utoipa::path(get, path = "/contexts", operation_id = "listContexts", tag = "contexts", params(ContextsParams),
    responses((status = 200, description = "Contexts", body = Vec<String>)))]
pub async fn list(
    State(st): State<AppState>,
    Query(p): Query<ContextsParams>,
) -> ApiResult<SrJson<Vec<String>>> {
    let all = st.registry.contexts().await?;
    let prefix = p.context_prefix.unwrap_or_default();
    let filtered = all.into_iter().filter(|c| c.starts_with(&prefix)).collect();
    Ok(SrJson(page(filtered, p.offset, p.limit)))
}

/// Deletes an empty context (its context-level config and mode go with it).
#[utoipa::path(delete, path = "/contexts/{context}", operation_id = "deleteContext", tag = "contexts",
    params(("context" = String, Path, description = "The context, `.name` or `name`")),
    responses((status = 204, description = "Deleted (or nothing to delete)"),
              (status = 422, description = "The context still holds subjects (42211)", body = ErrorBody)))]
pub async fn delete(
    State(st): State<AppState>,
    caller: Caller,
    Path(context): Path<String>,
) -> ApiResult<StatusCode> {
    st.registry.delete_context(&context, &caller.actor).await?;
    Ok(StatusCode::NO_CONTENT)
}
