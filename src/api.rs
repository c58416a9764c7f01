//! HTTP only: the Confluent-compatible REST API (plus health and OpenAPI). Handlers are thin:
//! they parse the request into domain values, call [`Registry`], and shape the answer.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::registry::Registry;
use crate::types::{QualifiedSubject, VersionId};

pub mod auth;
mod bindings;
mod changes;
mod changesets;
mod config;
mod contexts;
pub mod error;
mod governance;
mod health;
mod mode;
mod negotiate;
pub mod openapi;
mod root;
pub mod router;
pub mod schemas;
mod subjects;
mod validate;

pub use error::{ApiError, ApiResult};

/// The content type every answer carries.
pub const SR_CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

/// Request content types the API accepts (a missing content type is read as JSON too).
const ACCEPTED_CONTENT_TYPES: [&str; 4] = [
    "application/vnd.schemaregistry.v1+json",
    "application/vnd.schemaregistry+json",
    "application/json",
    "application/octet-stream",
];

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    pub registry: Arc<Registry>,
    pub governance: Arc<crate::governance::Governance>,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// `error_code` of an incompatible-schema answer: 40901 (current) or 409 (older releases).
    pub incompatible_error_code: u32,
    /// Rendered `GET /schemas/ids/{id}` answers, the hottest read.
    pub rendered: Arc<schemas::RenderedSchemas>,
    /// The change log as this process follows it.
    pub changes: Arc<crate::changes::ChangeFeed>,
}

/// A JSON body in and out with the registry's content type. As an extractor it checks the
/// content type (415), the size (413), the syntax (400) and the shape (422), each as a JSON
/// error.
pub struct SrJson<T>(pub T);

impl<T: Serialize> IntoResponse for SrJson<T> {
    fn into_response(self) -> Response {
        match serde_json::to_vec(&self.0) {
            Ok(body) => ([(header::CONTENT_TYPE, SR_CONTENT_TYPE)], body).into_response(),
            Err(e) => {
                tracing::error!(error = %e, "response serialisation failed");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    500,
                    "Internal Server Error",
                )
                .into_response()
            }
        }
    }
}

impl<T: DeserializeOwned> FromRequest<AppState> for SrJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let content_type = content_type(&req);
        if let Some(ct) = &content_type {
            let media = ct.split(';').next().unwrap_or_default().trim();
            if !ACCEPTED_CONTENT_TYPES
                .iter()
                .any(|a| a.eq_ignore_ascii_case(media))
            {
                return Err(ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    415,
                    "HTTP 415 Unsupported Media Type",
                ));
            }
        }
        let bytes = utf8_body(
            req,
            state,
            content_type.as_deref(),
            "Malformed JSON request body",
        )
        .await?;
        let value: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::bad_request(format!("Malformed JSON request body: {e}")))?;
        let parsed = serde_json::from_value(value)
            .map_err(|e| ApiError::unprocessable(format!("Unprocessable request body: {e}")))?;
        Ok(SrJson(parsed))
    }
}

fn content_type(req: &Request) -> Option<String> {
    req.headers()
        .get(header::CONTENT_TYPE)
        .map(|ct| ct.to_str().unwrap_or_default().to_owned())
}

/// The body within the size limit (413), decoded to UTF-8 from UTF-16/32 (400 `malformed: …`
/// when it does not decode).
async fn utf8_body(
    req: Request,
    state: &AppState,
    content_type: Option<&str>,
    malformed: &str,
) -> Result<Bytes, ApiError> {
    let bytes = read_body(req, state.max_body_bytes).await?;
    negotiate::utf8_body(bytes, content_type)
        .map_err(|e| ApiError::bad_request(format!("{malformed}: {e}")))
}

/// A request body as text (the policy document, JSON or TOML): any content type, the size limit
/// (413), UTF-16/32 decoded, and JSON errors (400) for a body that is not text.
pub struct SrText(pub String);

impl FromRequest<AppState> for SrText {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let content_type = content_type(&req);
        let bytes = utf8_body(
            req,
            state,
            content_type.as_deref(),
            "Malformed request body",
        )
        .await?;
        String::from_utf8(bytes.to_vec())
            .map(SrText)
            .map_err(|e| ApiError::bad_request(format!("Malformed request body: {e}")))
    }
}

/// How much of an oversized body is still read (and dropped) before the 413 is sent, and for how
/// long. Closing a connection with request bytes unread makes the kernel reset it, and a client
/// still writing then sees a broken pipe instead of the answer; reading a moderately oversized
/// body to its end lets every client read the 413. Larger or slower bodies are cut off.
const DRAIN_BYTES: usize = 4 * 1024 * 1024;
const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(2);

/// The request body, at most `limit` bytes (413/41301 beyond it, 400 when the body cannot be
/// read).
async fn read_body(req: Request, limit: usize) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            error::BODY_TOO_LARGE_CODE,
            format!("Request body is larger than the limit of {limit} bytes"),
        )
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let expects_continue = req
        .headers()
        .get(header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    let mut body = req.into_body();
    if let Some(n) = declared.filter(|n| *n > limit) {
        // A client waiting for "100 Continue" has not sent the body and never will.
        if !expects_continue && n <= limit.saturating_add(DRAIN_BYTES) {
            drain(body, n).await;
        }
        return Err(too_large());
    }
    let mut buf = Vec::with_capacity(declared.unwrap_or(0));
    while let Some(frame) = body.frame().await {
        let frame = frame
            .map_err(|e| ApiError::bad_request(format!("Could not read the request body: {e}")))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if buf.len() + data.len() > limit {
            drain(body, DRAIN_BYTES).await;
            return Err(too_large());
        }
        buf.extend_from_slice(&data);
    }
    Ok(Bytes::from(buf))
}

/// Reads and drops up to `budget` more bytes of `body`, for at most [`DRAIN_TIME`].
async fn drain(mut body: axum::body::Body, budget: usize) {
    let mut left = budget;
    let _ = tokio::time::timeout(DRAIN_TIME, async {
        while let Some(Ok(frame)) = body.frame().await {
            let n = frame.data_ref().map_or(0, |d| d.len());
            if n >= left {
                break;
            }
            left -= n;
        }
    })
    .await;
}

/// Query parameters, with a JSON 400 when they do not parse.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let q = parts.uri.query().unwrap_or_default();
        serde_urlencoded::from_str(q)
            .map(Query)
            .map_err(|e| ApiError::bad_request(format!("Invalid query parameter: {e}")))
    }
}

/// Path parameters, with a JSON 404 when they do not parse (as the reference answers for a
/// path that matches nothing).
pub struct Path<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Path(p.0))
            .map_err(|_| ApiError::not_found())
    }
}

/// A boolean query flag, read as the reference does (Java's `Boolean.valueOf`): `true` in any
/// case is true, anything else false. Clients send `True`/`False` as often as `true`.
fn flag<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    let s = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
    Ok(s.eq_ignore_ascii_case("true"))
}

/// Parses a subject from the URL (42208 when invalid).
fn subject(raw: &str) -> ApiResult<QualifiedSubject> {
    QualifiedSubject::parse(raw).map_err(|e| crate::registry::RegistryError::from(e).into())
}

/// Parses a version from the URL (42202 when invalid).
fn version(raw: &str) -> ApiResult<VersionId> {
    VersionId::parse(raw).map_err(|e| crate::registry::RegistryError::from(e).into())
}

/// Applies `offset` and `limit` (-1 or absent: no limit) to a listing.
fn page<T>(items: Vec<T>, offset: Option<usize>, limit: Option<i64>) -> Vec<T> {
    let offset = offset.unwrap_or(0);
    let limit = match limit {
        Some(n) if n >= 0 => n as usize,
        _ => usize::MAX,
    };
    items.into_iter().skip(offset).take(limit).collect()
}
