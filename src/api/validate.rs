//! `/accord/v1/validate`: Accord's own endpoint (outside the Confluent paths) to check a payload
//! against a registered schema, the same check the validating proxy makes per message.

use axum::extract::State;
use base64::Engine;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::ErrorBody;
use super::{subject, version, ApiError, ApiResult, AppState, Path, SrJson};
use crate::formats::PayloadOptions;

/// How the payload string is encoded.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PayloadEncoding {
    /// Standard base64 of the binary datum (default).
    #[default]
    Base64,
    /// Hexadecimal bytes.
    Hex,
    /// The payload string's UTF-8 bytes, for text formats.
    Utf8,
    /// The payload string is the datum in the format's JSON form: Avro's JSON encoding (a
    /// union's value wrapped as `{"<branch type>": value}`, or given bare), Protobuf's JSON
    /// mapping of the schema's first message, or a JSON Schema document.
    Json,
}

/// A payload to check: one datum, without the Confluent framing (magic byte and schema id).
/// A Protobuf payload starts with its message-index path (`0x00` for the first message).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ValidateRequest {
    pub payload: String,
    #[serde(default)]
    pub encoding: PayloadEncoding,
    /// Accept fields the schema does not declare (default true, as Protobuf readers do; also
    /// for Avro records given as JSON); false refuses them.
    #[serde(default = "yes")]
    pub allow_unknown_fields: bool,
}

fn yes() -> bool {
    true
}

/// The verdict.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ValidateResponse {
    pub valid: bool,
    /// The schema the payload was checked against.
    pub schema_id: i64,
    pub version: i32,
    /// Why the payload does not match, when it does not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

fn decode(req: &ValidateRequest) -> ApiResult<Vec<u8>> {
    let bad = |what: &str| ApiError::bad_request(format!("payload is not valid {what}"));
    match req.encoding {
        PayloadEncoding::Base64 => base64::engine::general_purpose::STANDARD
            .decode(req.payload.trim())
            .map_err(|_| bad("base64")),
        PayloadEncoding::Hex => {
            let s = req.payload.trim();
            if s.len() % 2 != 0 {
                return Err(bad("hex"));
            }
            (0..s.len() / 2)
                .map(|i| {
                    s.get(2 * i..2 * i + 2)
                        .and_then(|b| u8::from_str_radix(b, 16).ok())
                })
                .collect::<Option<Vec<u8>>>()
                .ok_or_else(|| bad("hex"))
        }
        PayloadEncoding::Utf8 | PayloadEncoding::Json => Ok(req.payload.as_bytes().to_vec()),
    }
}

/// Checks a payload against a subject version's schema (`latest` or `-1` for the newest).
#[utoipa::path(post, path = "/accord/v1/validate/subjects/{subject}/versions/{version}", operation_id = "validatePayload", tag = "accord",
    params(("subject" = String, Path), ("version" = String, Path)), request_body = ValidateRequest,
    responses((status = 200, description = "The verdict (valid or not)", body = ValidateResponse),
              (status = 400, description = "The payload string does not decode (400)", body = ErrorBody),
              (status = 404, description = "40401, 40402", body = ErrorBody),
              (status = 422, description = "Invalid version (42202)", body = ErrorBody)))]
pub async fn validate(
    State(st): State<AppState>,
    Path((raw, v)): Path<(String, String)>,
    SrJson(body): SrJson<ValidateRequest>,
) -> ApiResult<SrJson<ValidateResponse>> {
    let (s, v) = (subject(&raw)?, version(&v)?);
    let datum = decode(&body)?;
    let options = PayloadOptions {
        allow_unknown_fields: body.allow_unknown_fields,
        json: matches!(body.encoding, PayloadEncoding::Json),
    };
    let verdict = st.registry.validate_payload(&s, v, &datum, options).await?;
    Ok(SrJson(ValidateResponse {
        valid: verdict.error.is_none(),
        schema_id: verdict.schema_id,
        version: verdict.version,
        error: verdict.error,
    }))
}
