//! The one place that knows HTTP: every error becomes `{"error_code", "message"}` with the
//! status and code the Confluent API documents (table below, and `docs/API.md`).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use super::SR_CONTENT_TYPE;
use crate::governance::GovernanceError;
use crate::registry::RegistryError;

/// The error body every failure answers with.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error_code: u32,
    pub message: String,
    /// Policy violations that refused a registration (Accord's 42253).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub violations: Vec<crate::governance::Violation>,
}

/// An HTTP error: status, Confluent error code and message.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: u32,
    pub message: String,
    pub violations: Vec<crate::governance::Violation>,
}

/// Marks an incompatible-schema answer so the router can apply the configured error code
/// (40901 by default, 409 for clients of older releases).
#[derive(Debug, Clone)]
pub struct IncompatibleAnswer(pub String);

/// Error code used for incompatibility unless the server is configured otherwise.
pub const INCOMPATIBLE_CODE: u32 = 40901;
/// Request body larger than the configured limit (ours; the Confluent API has none).
pub const BODY_TOO_LARGE_CODE: u32 = 41301;

impl ApiError {
    pub fn new(status: StatusCode, code: u32, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            violations: Vec::new(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, 400, message)
    }

    pub fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, 422, message)
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, 404, "HTTP 404 Not Found")
    }
}

/// A backend failure: the cause is logged, the answer says nothing about it.
fn store_failure(cause: &crate::storage::StoreError) -> ApiError {
    tracing::error!(error = %cause, "backend store failure");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        50001,
        "Error in the backend data store",
    )
}

impl From<RegistryError> for ApiError {
    fn from(e: RegistryError) -> Self {
        use RegistryError as E;
        let (status, code) = match &e {
            E::SubjectNotFound(_) => (StatusCode::NOT_FOUND, 40401),
            E::VersionNotFound(_) => (StatusCode::NOT_FOUND, 40402),
            E::SchemaNotFound(_) => (StatusCode::NOT_FOUND, 40403),
            E::SubjectSoftDeleted(_) => (StatusCode::NOT_FOUND, 40404),
            E::SubjectNotSoftDeleted(_) => (StatusCode::NOT_FOUND, 40405),
            E::VersionSoftDeleted(..) => (StatusCode::NOT_FOUND, 40406),
            E::VersionNotSoftDeleted(..) => (StatusCode::NOT_FOUND, 40407),
            E::SubjectConfigNotFound(_) => (StatusCode::NOT_FOUND, 40408),
            E::SubjectModeNotFound(_) => (StatusCode::NOT_FOUND, 40409),
            E::Incompatible { .. } => (StatusCode::CONFLICT, INCOMPATIBLE_CODE),
            E::InvalidSchema(_) => (StatusCode::UNPROCESSABLE_ENTITY, 42201),
            E::InvalidVersion(_) => (StatusCode::UNPROCESSABLE_ENTITY, 42202),
            E::InvalidCompatibilityLevel => (StatusCode::UNPROCESSABLE_ENTITY, 42203),
            E::InvalidMode => (StatusCode::UNPROCESSABLE_ENTITY, 42204),
            E::OperationNotPermitted(_) => (StatusCode::UNPROCESSABLE_ENTITY, 42205),
            E::ReferenceExists { .. } => (StatusCode::UNPROCESSABLE_ENTITY, 42206),
            E::IdMismatch(_) => (StatusCode::UNPROCESSABLE_ENTITY, 42207),
            E::ContextNotEmpty(_) => (StatusCode::UNPROCESSABLE_ENTITY, 42211),
            E::InvalidSubject(_) => (StatusCode::UNPROCESSABLE_ENTITY, 42208),
            E::SchemaTooLarge(..) => (StatusCode::UNPROCESSABLE_ENTITY, 42209),
            E::InvalidRuleSet(_) => (StatusCode::UNPROCESSABLE_ENTITY, 42210),
            E::Store(cause) => return store_failure(cause),
            E::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, 50000),
        };
        let message = match &e {
            E::SchemaNotFound(id) if id.is_empty() => "Schema not found".to_owned(),
            _ => e.to_string(),
        };
        ApiError::new(status, code, message)
    }
}

impl From<GovernanceError> for ApiError {
    fn from(e: GovernanceError) -> Self {
        use GovernanceError as E;
        let (status, code) = match &e {
            E::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, 40101),
            E::Forbidden(_) => (StatusCode::FORBIDDEN, 40301),
            E::TeamNotFound(_) => (StatusCode::NOT_FOUND, 40410),
            E::KeyNotFound(_) => (StatusCode::NOT_FOUND, 40411),
            E::BindingNotFound(_) => (StatusCode::NOT_FOUND, 40412),
            E::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, 42250),
            E::Retired(_) => (StatusCode::UNPROCESSABLE_ENTITY, 42251),
            E::OwnerRequired(_) => (StatusCode::UNPROCESSABLE_ENTITY, 42252),
            E::PolicyViolations(v) => {
                let mut err = ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, 42253, e.to_string());
                err.violations = v.clone();
                return err;
            }
            E::Store(cause) => return store_failure(cause),
        };
        ApiError::new(status, code, e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let incompatible = self.code == INCOMPATIBLE_CODE;
        let message = self.message.clone();
        let body = serde_json::to_vec(&ErrorBody {
            error_code: self.code,
            message: self.message,
            violations: self.violations,
        })
        .unwrap_or_default();
        let mut response = (
            self.status,
            [(axum::http::header::CONTENT_TYPE, SR_CONTENT_TYPE)],
            body,
        )
            .into_response();
        if incompatible {
            response
                .extensions_mut()
                .insert(IncompatibleAnswer(message));
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
