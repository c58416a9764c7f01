//! `/accord/v1/bindings`: which contract each destination carries, for `accord-proxy`. Admins,
//! or the team owning a binding's (fixed) subject, change them; any key reads them.

use axum::extract::State;

use super::auth::Caller;
use super::error::ErrorBody;
use super::{ApiError, ApiResult, AppState, Path, SrJson};
use crate::governance::bindings::Binding;
use crate::governance::GovernanceError;

/// Every binding, by name.
#[utoipa::path(get, path = "/accord/v1/bindings", operation_id = "listBindings", tag = "bindings",
    responses((status = 200, description = "Bindings", body = Vec<Binding>)))]
pub async fn list(State(st): State<AppState>) -> ApiResult<SrJson<Vec<Binding>>> {
    Ok(SrJson(st.governance.bindings().await?))
}

/// One binding.
#[utoipa::path(get, path = "/accord/v1/bindings/{name}", operation_id = "getBinding", tag = "bindings", params(("name" = String, Path)),
    responses((status = 200, description = "The binding", body = Binding),
              (status = 404, description = "40412", body = ErrorBody)))]
pub async fn get(
    State(st): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<SrJson<Binding>> {
    Ok(SrJson(st.governance.binding(&name).await?))
}

/// Creates or replaces a binding (admins, or the team owning its subject).
#[utoipa::path(put, path = "/accord/v1/bindings/{name}", operation_id = "updateBinding", tag = "bindings", params(("name" = String, Path)),
    request_body = Binding,
    responses((status = 200, description = "The binding", body = Binding),
              (status = 422, description = "An invalid binding (42250)", body = ErrorBody)))]
pub async fn put(
    State(st): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    SrJson(mut binding): SrJson<Binding>,
) -> ApiResult<SrJson<Binding>> {
    if !binding.name.is_empty() && binding.name != name {
        return Err(ApiError::unprocessable(format!(
            "the body names binding '{}' but the path '{name}'",
            binding.name
        )));
    }
    binding.name = name;
    let result = st
        .governance
        .put_binding(&caller.principal, &caller.actor, binding.clone())
        .await;
    denied(&st, &caller, "binding.put", &binding, result)
        .await
        .map(SrJson)
}

/// Deletes a binding (admins, or the team owning its subject).
#[utoipa::path(delete, path = "/accord/v1/bindings/{name}", operation_id = "deleteBinding", tag = "bindings", params(("name" = String, Path)),
    responses((status = 200, description = "The deleted binding", body = Binding),
              (status = 404, description = "40412", body = ErrorBody)))]
pub async fn delete(
    State(st): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<SrJson<Binding>> {
    let result = st
        .governance
        .delete_binding(&caller.principal, &caller.actor, &name)
        .await;
    let target = Binding {
        name,
        ..Binding::default()
    };
    denied(&st, &caller, "binding.delete", &target, result)
        .await
        .map(SrJson)
}

/// Records a permission refusal as a denied attempt, then answers.
async fn denied<T>(
    st: &AppState,
    caller: &Caller,
    action: &str,
    binding: &Binding,
    result: Result<T, GovernanceError>,
) -> ApiResult<T> {
    if let Err(GovernanceError::Forbidden(why)) = &result {
        let subject = binding.fixed_subject();
        if let Err(e) = st
            .governance
            .record_denied(&caller.actor, action, subject.as_ref(), &binding.name, why)
            .await
        {
            tracing::error!(error = %e, "audit of a denied request failed");
        }
    }
    Ok(result?)
}
