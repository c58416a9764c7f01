//! `/mode`: READWRITE, READONLY, IMPORT (and FORWARD, globally), per scope.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::Caller;
use super::error::ErrorBody;
use super::{subject, ApiResult, AppState, Path, Query, SrJson};
use crate::registry::RegistryError;
use crate::types::{Mode, QualifiedSubject};

/// A mode, in requests and answers.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ModeBody {
    pub mode: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct GetModeParams {
    /// Answer the effective mode instead of 40409.
    #[serde(default, deserialize_with = "super::flag")]
    default_to_global: bool,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PutModeParams {
    /// Required to enter IMPORT where schemas exist.
    #[serde(default, deserialize_with = "super::flag")]
    force: bool,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeleteModeParams {
    /// Also remove the modes of the subjects below.
    #[serde(default, deserialize_with = "super::flag")]
    recursive: bool,
}

fn answer(mode: Mode) -> SrJson<ModeBody> {
    SrJson(ModeBody {
        mode: mode.as_str().to_owned(),
    })
}

async fn put(
    st: &AppState,
    s: Option<&QualifiedSubject>,
    body: ModeBody,
    force: bool,
    caller: &Caller,
) -> ApiResult<SrJson<ModeBody>> {
    let mode = body
        .mode
        .parse::<Mode>()
        .map_err(|_| RegistryError::InvalidMode)?;
    Ok(answer(
        st.registry.put_mode(s, mode, force, &caller.actor).await?,
    ))
}

/// The global mode.
#[utoipa::path(get, path = "/mode", operation_id = "getTopLevelMode", tag = "mode",
    responses((status = 200, description = "Global mode", body = ModeBody)))]
pub async fn get_global(State(st): State<AppState>) -> ApiResult<SrJson<ModeBody>> {
    Ok(answer(st.registry.get_mode(None, true).await?))
}

/// Sets the global mode.
#[utoipa::path(put, path = "/mode", operation_id = "updateTopLevelMode", tag = "mode", params(PutModeParams), request_body = ModeBody,
    responses((status = 200, description = "The mode set", body = ModeBody),
              (status = 422, description = "Invalid mode (42204), or schemas exist (42205)", body = ErrorBody)))]
pub async fn put_global(
    State(st): State<AppState>,
    caller: Caller,
    Query(p): Query<PutModeParams>,
    SrJson(body): SrJson<ModeBody>,
) -> ApiResult<SrJson<ModeBody>> {
    put(&st, None, body, p.force, &caller).await
}

/// Resets the global mode; answers the old one.
#[utoipa::path(delete, path = "/mode", operation_id = "deleteTopLevelMode", tag = "mode", params(DeleteModeParams),
    responses((status = 200, description = "The mode removed", body = ModeBody)))]
pub async fn delete_global(
    State(st): State<AppState>,
    caller: Caller,
    Query(p): Query<DeleteModeParams>,
) -> ApiResult<SrJson<ModeBody>> {
    Ok(answer(
        st.registry
            .delete_mode(None, p.recursive, &caller.actor)
            .await?,
    ))
}

/// A subject's (or context's) mode.
#[utoipa::path(get, path = "/mode/{subject}", operation_id = "getMode", tag = "mode", params(("subject" = String, Path), GetModeParams),
    responses((status = 200, description = "Mode", body = ModeBody),
              (status = 404, description = "No subject-level mode (40409)", body = ErrorBody)))]
pub async fn get_subject(
    State(st): State<AppState>,
    Path(raw): Path<String>,
    Query(p): Query<GetModeParams>,
) -> ApiResult<SrJson<ModeBody>> {
    let s = subject(&raw)?;
    Ok(answer(
        st.registry.get_mode(Some(&s), p.default_to_global).await?,
    ))
}

/// Sets a subject's (or context's) mode.
#[utoipa::path(put, path = "/mode/{subject}", operation_id = "updateMode", tag = "mode",
    params(("subject" = String, Path), PutModeParams), request_body = ModeBody,
    responses((status = 200, description = "The mode set", body = ModeBody),
              (status = 422, description = "42204, 42205, 42208", body = ErrorBody)))]
pub async fn put_subject(
    State(st): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
    Query(p): Query<PutModeParams>,
    SrJson(body): SrJson<ModeBody>,
) -> ApiResult<SrJson<ModeBody>> {
    let s = subject(&raw)?;
    put(&st, Some(&s), body, p.force, &caller).await
}

/// Removes a subject's mode; answers the old one.
#[utoipa::path(delete, path = "/mode/{subject}", operation_id = "deleteSubjectMode", tag = "mode",
    params(("subject" = String, Path), DeleteModeParams),
    responses((status = 200, description = "The mode removed", body = ModeBody),
              (status = 404, description = "No subject-level mode (40401)", body = ErrorBody)))]
pub async fn delete_subject(
    State(st): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
    Query(p): Query<DeleteModeParams>,
) -> ApiResult<SrJson<ModeBody>> {
    let s = subject(&raw)?;
    Ok(answer(
        st.registry
            .delete_mode(Some(&s), p.recursive, &caller.actor)
            .await?,
    ))
}
