//! `/accord/v1/changesets/{plan,apply}`: several registrations decided together (see
//! [`crate::changeset`]).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::Caller;
use super::error::ErrorBody;
use super::subjects::RegisterSchemaRequest;
use super::{subject, ApiError, ApiResult, AppState, SrJson};
use crate::changeset::{self, ItemReport, Report, Run, SetError};

/// A change set: the registrations to decide together.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChangeSetRequest {
    /// The items, each a subject with the schema to register under it. A reference whose
    /// subject is another item's, with version -1, names the version that item ends up as.
    pub items: Vec<ChangeSetItem>,
}

/// One registration of a change set: a subject and the body a single registration would send.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChangeSetItem {
    pub subject: String,
    #[serde(flatten)]
    pub schema: RegisterSchemaRequest,
}

/// A refused apply: the error of its first failing item, and every item's verdict.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChangeSetRefused {
    /// As every error body: `error_code` and `message`.
    #[serde(rename = "error_code")]
    pub error_code: u32,
    pub message: String,
    /// Every item's verdict (absent when the set itself is malformed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<ItemReport>,
}

fn items(body: ChangeSetRequest) -> ApiResult<Vec<changeset::Item>> {
    body.items
        .into_iter()
        .map(|item| {
            let subject = subject(&item.subject)?;
            if item.schema.is_blank() {
                return Err(crate::registry::RegistryError::InvalidSchema(format!(
                    "Empty schema for subject '{}'",
                    item.subject
                ))
                .into());
            }
            if item.schema.id.is_some() || item.schema.version.is_some() {
                return Err(ApiError::unprocessable(
                    "Change-set items carry no explicit id or version (imports register one by one)",
                ));
            }
            Ok(changeset::Item {
                subject,
                input: item.schema.into_input()?,
            })
        })
        .collect()
}

fn set_error(e: SetError) -> ApiError {
    match e {
        SetError::Invalid(m) => ApiError::unprocessable(m),
        SetError::Registry(e) => e.into(),
        SetError::Governance(e) => e.into(),
    }
}

/// Runs a set apart from its request: a client that goes away mid-way cannot cut a commit in
/// half (the set finishes, or rolls back, on its own).
async fn spawned(
    st: AppState,
    caller: Caller,
    items: Vec<changeset::Item>,
    run: Run,
) -> ApiResult<Report> {
    let task = tokio::spawn(async move {
        changeset::run(
            &st.registry,
            &st.governance,
            changeset::Caller {
                principal: &caller.principal,
                actor: &caller.actor,
            },
            items,
            run,
        )
        .await
    });
    match task.await {
        Ok(done) => done.map_err(set_error),
        Err(e) => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            50000,
            format!("The change set failed: {e}"),
        )),
    }
}

/// What registering each item would do, decided as one set, storing nothing.
#[utoipa::path(post, path = "/accord/v1/changesets/plan", operation_id = "planChangeSet", tag = "changesets",
    request_body = ChangeSetRequest,
    responses((status = 200, description = "Every item's verdict (`ok` false when any fails)", body = Report),
              (status = 422, description = "A malformed set: no items, a subject twice, an invalid subject (42208)", body = ErrorBody)))]
pub async fn plan(
    State(st): State<AppState>,
    caller: Caller,
    SrJson(body): SrJson<ChangeSetRequest>,
) -> ApiResult<SrJson<Report>> {
    let items = items(body)?;
    Ok(SrJson(spawned(st, caller, items, Run::Plan).await?))
}

/// Registers every item, or none: one transaction, one audit record per new version and one
/// for the set. Applying a set the registry already holds changes nothing.
#[utoipa::path(post, path = "/accord/v1/changesets/apply", operation_id = "applyChangeSet", tag = "changesets",
    request_body = ChangeSetRequest,
    responses((status = 200, description = "Applied (or nothing to do): every item's version and id", body = Report),
              (status = 403, description = "An item's subject is another team's (40301); nothing stored", body = ChangeSetRefused),
              (status = 409, description = "An item is incompatible (40901); nothing stored", body = ChangeSetRefused),
              (status = 422, description = "An item is invalid or breaks the lint policy (422xx); nothing stored", body = ChangeSetRefused)))]
pub async fn apply(
    State(st): State<AppState>,
    caller: Caller,
    SrJson(body): SrJson<ChangeSetRequest>,
) -> ApiResult<Response> {
    let items = items(body)?;
    let report = spawned(st.clone(), caller, items, Run::Apply).await?;
    let Some(failure) = report.first_failure() else {
        return Ok(SrJson(report).into_response());
    };
    let (status, code) = match failure.status {
        changeset::Status::Forbidden => (StatusCode::FORBIDDEN, 40301),
        changeset::Status::Incompatible => (StatusCode::CONFLICT, st.incompatible_error_code),
        _ => (
            StatusCode::UNPROCESSABLE_ENTITY,
            failure.error_code.unwrap_or(42201),
        ),
    };
    let message = format!(
        "Change set not applied (nothing was stored): subject '{}': {}",
        failure.subject,
        failure.message.as_deref().unwrap_or("refused")
    );
    let body = ChangeSetRefused {
        error_code: code,
        message,
        items: report.items,
    };
    Ok((status, SrJson(body)).into_response())
}
