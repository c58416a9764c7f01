//! `/subjects`: listing, lookup, registration, versions and deletes.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::auth::Caller;
use super::error::ErrorBody;
use super::schemas::{Schema, SchemaString};
use super::{page, subject, version, ApiResult, AppState, Path, Query, SrJson, SR_CONTENT_TYPE};
use crate::registry::{guid, RegistryError, SchemaInput};
use crate::types::{SchemaReference, SchemaType};

/// A schema sent for registration, lookup or a compatibility test. Fields this registry does
/// not act on (tag edits) are accepted and ignored.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegisterSchemaRequest {
    #[serde(default)]
    pub schema: Option<String>,
    /// `AVRO` (default), `PROTOBUF` or `JSON`.
    #[serde(default)]
    pub schema_type: Option<String>,
    #[serde(default)]
    pub references: Option<Vec<SchemaReference>>,
    /// Explicit version (IMPORT mode, or the next version).
    #[serde(default)]
    pub version: Option<i32>,
    /// Explicit id (IMPORT mode only).
    #[serde(default)]
    pub id: Option<i64>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub rule_set: Option<Value>,
}

impl RegisterSchemaRequest {
    /// Whether the request carries no schema text (absent, empty or only white space).
    pub fn is_blank(&self) -> bool {
        self.schema.as_deref().is_none_or(|t| t.trim().is_empty())
    }

    /// The input of a compatibility test: a blank schema is refused (42201 `Empty schema`)
    /// before anything else looks at it. (A registration takes a blank schema as "the
    /// previous version's schema", for metadata and rule changes; see `Registry::parse_candidate`.)
    pub fn into_schema_input(self) -> ApiResult<SchemaInput> {
        if self.is_blank() {
            return Err(RegistryError::InvalidSchema("Empty schema".into()).into());
        }
        self.into_input()
    }

    pub fn into_input(self) -> ApiResult<SchemaInput> {
        let schema_type = match self.schema_type.as_deref() {
            None | Some("") => None,
            Some(t) => Some(
                t.parse::<SchemaType>()
                    .map_err(RegistryError::InvalidSchema)?,
            ),
        };
        // Ids and versions travel in 4-byte fields of the wire format: an explicit one outside
        // 1…2^31−1 could never be served (a negative id means "none", as in the reference).
        if let Some(id) = self.id.filter(|id| *id >= 0) {
            if !(1..=i64::from(i32::MAX)).contains(&id) {
                return Err(super::ApiError::unprocessable(format!(
                    "Invalid id {id}: ids are 1 to {}",
                    i32::MAX
                )));
            }
        }
        Ok(SchemaInput {
            schema: self.schema.unwrap_or_default(),
            schema_type,
            references: self.references.unwrap_or_default(),
            metadata: self.metadata.filter(|v| !v.is_null()),
            rule_set: self.rule_set.filter(|v| !v.is_null()),
            id: self.id.filter(|id| *id >= 0),
            version: self.version,
        })
    }
}

/// The answer to a registration.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegisterSchemaResponse {
    pub id: i64,
    pub version: i32,
    pub guid: String,
    #[serde(flatten)]
    pub content: SchemaString,
    pub ts: i64,
    /// Governance findings that did not block the registration (warn-mode rules, a deprecated
    /// subject). Absent when there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<crate::governance::Violation>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ListSubjectsParams {
    /// Subject prefix; `:.ctx:` selects a context, `:*:` (default) all contexts.
    subject_prefix: Option<String>,
    /// Include soft-deleted subjects.
    #[serde(default, deserialize_with = "super::flag")]
    deleted: bool,
    /// Only soft-deleted subjects.
    #[serde(default, deserialize_with = "super::flag")]
    deleted_only: bool,
    offset: Option<usize>,
    limit: Option<i64>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct LookupParams {
    /// Compare normalized forms.
    #[serde(default, deserialize_with = "super::flag")]
    normalize: bool,
    /// Also match soft-deleted versions.
    #[serde(default, deserialize_with = "super::flag")]
    deleted: bool,
    /// `serialized`: answer a Protobuf schema as a base64 `FileDescriptorProto`.
    format: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct RegisterParams {
    /// Store the normalized form.
    #[serde(default, deserialize_with = "super::flag")]
    normalize: bool,
    /// Skip the compatibility check.
    #[serde(default, deserialize_with = "super::flag")]
    force: bool,
    /// Accepted for compatibility.
    #[allow(dead_code)]
    format: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct DeleteParams {
    /// Delete for good (after a soft delete).
    #[serde(default, deserialize_with = "super::flag")]
    permanent: bool,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct VersionsParams {
    /// Include soft-deleted versions.
    #[serde(default, deserialize_with = "super::flag")]
    deleted: bool,
    /// Only soft-deleted versions.
    #[serde(default, deserialize_with = "super::flag")]
    deleted_only: bool,
    offset: Option<usize>,
    limit: Option<i64>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct VersionParams {
    /// Also return a soft-deleted version.
    #[serde(default, deserialize_with = "super::flag")]
    deleted: bool,
    /// `serialized`: answer a Protobuf schema as a base64 `FileDescriptorProto`.
    format: Option<String>,
    offset: Option<usize>,
    limit: Option<i64>,
}

/// All subjects.
#[utoipa::path(get, path = "/subjects", operation_id = "list", tag = "subjects", params(ListSubjectsParams),
    responses((status = 200, description = "Subjects", body = Vec<String>)))]
pub async fn list(
    State(st): State<AppState>,
    Query(p): Query<ListSubjectsParams>,
) -> ApiResult<SrJson<Vec<String>>> {
    let all = st
        .registry
        .subjects(p.subject_prefix.as_deref(), p.deleted, p.deleted_only)
        .await?;
    let names = all.iter().map(|s| s.display_name()).collect();
    Ok(SrJson(page(names, p.offset, p.limit)))
}

/// Finds the version of a subject that holds a schema.
#[utoipa::path(post, path = "/subjects/{subject}", operation_id = "lookUpSchemaUnderSubject", tag = "subjects",
    params(("subject" = String, Path), LookupParams), request_body = RegisterSchemaRequest,
    responses((status = 200, description = "The matching version", body = Schema),
              (status = 404, description = "Subject (40401) or schema (40403) not found", body = ErrorBody),
              (status = 422, description = "Invalid schema (42201)", body = ErrorBody)))]
pub async fn lookup(
    State(st): State<AppState>,
    Path(raw): Path<String>,
    Query(p): Query<LookupParams>,
    SrJson(body): SrJson<RegisterSchemaRequest>,
) -> ApiResult<SrJson<Schema>> {
    let s = subject(&raw)?;
    if body.is_blank() {
        // As the reference registry: no schema to look up is "not found" (40403), or 40401
        // when the subject itself does not exist.
        st.registry.versions(&s, p.deleted, false).await?;
        return Err(RegistryError::SchemaNotFound(String::new()).into());
    }
    let found = st
        .registry
        .lookup(&s, body.into_input()?, p.normalize, p.deleted)
        .await?;
    Ok(SrJson(
        Schema::formatted(&st, &found, p.format.as_deref()).await?,
    ))
}

/// Deletes a subject: soft, or with `permanent=true` for good.
#[utoipa::path(delete, path = "/subjects/{subject}", operation_id = "deleteSubject", tag = "subjects",
    params(("subject" = String, Path), DeleteParams),
    responses((status = 200, description = "The deleted versions", body = Vec<i32>),
              (status = 404, description = "40401, 40404, 40405", body = ErrorBody),
              (status = 422, description = "Referenced (42206) or read-only (42205)", body = ErrorBody)))]
pub async fn delete(
    State(st): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
    Query(p): Query<DeleteParams>,
) -> ApiResult<SrJson<Vec<i32>>> {
    let s = subject(&raw)?;
    Ok(SrJson(
        st.registry
            .delete_subject(&s, p.permanent, &caller.actor)
            .await?,
    ))
}

/// A subject's versions.
#[utoipa::path(get, path = "/subjects/{subject}/versions", operation_id = "listVersions", tag = "subjects",
    params(("subject" = String, Path), VersionsParams),
    responses((status = 200, description = "Version numbers", body = Vec<i32>),
              (status = 404, description = "Subject not found (40401)", body = ErrorBody)))]
pub async fn versions(
    State(st): State<AppState>,
    Path(raw): Path<String>,
    Query(p): Query<VersionsParams>,
) -> ApiResult<SrJson<Vec<i32>>> {
    let s = subject(&raw)?;
    let versions = st.registry.versions(&s, p.deleted, p.deleted_only).await?;
    Ok(SrJson(page(versions, p.offset, p.limit)))
}

/// Registers a schema under a subject (or returns the existing version holding it).
#[utoipa::path(post, path = "/subjects/{subject}/versions", operation_id = "register", tag = "subjects",
    params(("subject" = String, Path), RegisterParams), request_body = RegisterSchemaRequest,
    responses((status = 200, description = "Registered", body = RegisterSchemaResponse),
              (status = 409, description = "Incompatible (40901, or 409 when configured)", body = ErrorBody),
              (status = 422, description = "42201, 42205, 42207, 42208, 42209, 42210", body = ErrorBody)))]
pub async fn register(
    State(st): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
    Query(p): Query<RegisterParams>,
    SrJson(body): SrJson<RegisterSchemaRequest>,
) -> ApiResult<SrJson<RegisterSchemaResponse>> {
    let s = subject(&raw)?;
    let input = body.into_input()?;
    // What every serializer with auto-registration sends when a producer starts: a schema the
    // subject already has. Answered from a read (the parse cache and one indexed lookup),
    // without the subject's write lock or governance checks, since nothing changes. Anything
    // else, or any doubt, takes the full path below, which decides.
    if input.id.is_none() && input.version.is_none() && !input.schema.trim().is_empty() {
        if let Ok(found) = st
            .registry
            .lookup(&s, input.clone(), p.normalize, false)
            .await
        {
            return Ok(SrJson(registered(&found.schema, found.version, Vec::new())));
        }
    }
    let (candidate, previous) = st.registry.parse_candidate(&s, &input).await?;
    let checked = st
        .governance
        .check_registration(&s, candidate.as_ref(), previous.as_deref())
        .await;
    let warnings =
        super::governance::audited(&st, &caller, "subject.register", &s, checked).await?;
    let format = input.schema_type.unwrap_or(SchemaType::Avro).as_str();
    let r = match st
        .registry
        .register(&s, input, p.normalize, p.force, &caller.actor)
        .await
    {
        Ok(r) => r,
        Err(e) => {
            if matches!(e, crate::registry::RegistryError::Incompatible { .. }) {
                crate::metrics::global().incompatible(format);
            }
            return Err(e.into());
        }
    };
    crate::metrics::global().registered(format);
    Ok(SrJson(registered(&r.schema, r.version, warnings)))
}

/// The answer to a registration of `schema` as `version`.
fn registered(
    schema: &crate::storage::SchemaRecord,
    version: i32,
    warnings: Vec<crate::governance::Violation>,
) -> RegisterSchemaResponse {
    RegisterSchemaResponse {
        id: schema.id,
        version,
        guid: guid(&schema.fingerprint),
        content: SchemaString::from(schema),
        ts: schema.created_at,
        warnings,
    }
}

/// One version of a subject (`latest` or `-1` for the newest).
#[utoipa::path(get, path = "/subjects/{subject}/versions/{version}", operation_id = "getSchemaByVersion", tag = "subjects",
    params(("subject" = String, Path), ("version" = String, Path), VersionParams),
    responses((status = 200, description = "The version", body = Schema),
              (status = 404, description = "40401, 40402", body = ErrorBody),
              (status = 422, description = "Invalid version (42202)", body = ErrorBody)))]
pub async fn get_version(
    State(st): State<AppState>,
    Path((raw, v)): Path<(String, String)>,
    Query(p): Query<VersionParams>,
) -> ApiResult<SrJson<Schema>> {
    let (s, v) = (subject(&raw)?, version(&v)?);
    let found = st.registry.version(&s, v, p.deleted).await?;
    Ok(SrJson(
        Schema::formatted(&st, &found, p.format.as_deref()).await?,
    ))
}

/// The newest version whose metadata properties hold the given pairs
/// (`?key=k1&value=v1&key=k2&value=v2`, as the reference registry's clients send them).
#[utoipa::path(get, path = "/subjects/{subject}/metadata", operation_id = "getLatestWithMetadata", tag = "subjects",
    params(("subject" = String, Path),
           ("key" = Option<Vec<String>>, Query, description = "Metadata property names, paired in order with `value`"),
           ("value" = Option<Vec<String>>, Query, description = "The values the properties must have"),
           ("deleted" = Option<bool>, Query, description = "Also consider soft-deleted versions"),
           ("format" = Option<String>, Query, description = "`serialized` for a Protobuf descriptor")),
    responses((status = 200, description = "The version", body = Schema),
              (status = 404, description = "Subject (40401) or matching schema (40403) not found", body = ErrorBody)))]
pub async fn latest_with_metadata(
    State(st): State<AppState>,
    Path(raw): Path<String>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> ApiResult<SrJson<Schema>> {
    let s = subject(&raw)?;
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(query.as_deref().unwrap_or(""))
            .map_err(|e| super::ApiError::bad_request(format!("Invalid query parameter: {e}")))?;
    let get = |name: &'static str| {
        pairs
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let keys: Vec<String> = get("key").collect();
    let values: Vec<String> = get("value").collect();
    if keys.len() != values.len() {
        return Err(super::ApiError::bad_request(
            "Each metadata key needs a value".to_owned(),
        ));
    }
    let deleted = get("deleted")
        .next()
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let format = get("format").next();
    let wanted: Vec<(String, String)> = keys.into_iter().zip(values).collect();
    let found = st
        .registry
        .latest_with_metadata(&s, &wanted, deleted)
        .await?;
    Ok(SrJson(
        Schema::formatted(&st, &found, format.as_deref()).await?,
    ))
}

/// The schema text of one version.
#[utoipa::path(get, path = "/subjects/{subject}/versions/{version}/schema", operation_id = "getSchemaOnlyByVersion", tag = "subjects",
    params(("subject" = String, Path), ("version" = String, Path), VersionParams),
    responses((status = 200, description = "The raw schema", body = String),
              (status = 404, description = "40401, 40402", body = ErrorBody),
              (status = 422, description = "Invalid version (42202)", body = ErrorBody)))]
pub async fn get_version_schema(
    State(st): State<AppState>,
    Path((raw, v)): Path<(String, String)>,
    Query(p): Query<VersionParams>,
) -> ApiResult<impl IntoResponse> {
    let (s, v) = (subject(&raw)?, version(&v)?);
    let found = st.registry.version(&s, v, p.deleted).await?;
    let text = super::schemas::formatted(&st, &found.schema, p.format.as_deref()).await?;
    Ok((
        [(header::CONTENT_TYPE, SR_CONTENT_TYPE)],
        text.unwrap_or_else(|| found.schema.schema.clone()),
    ))
}

/// Deletes one version: soft, or with `permanent=true` for good.
#[utoipa::path(delete, path = "/subjects/{subject}/versions/{version}", operation_id = "deleteSchemaVersion", tag = "subjects",
    params(("subject" = String, Path), ("version" = String, Path), DeleteParams),
    responses((status = 200, description = "The deleted version", body = i32),
              (status = 404, description = "40401, 40402, 40406, 40407", body = ErrorBody),
              (status = 422, description = "42202, 42205, 42206", body = ErrorBody)))]
pub async fn delete_version(
    State(st): State<AppState>,
    caller: Caller,
    Path((raw, v)): Path<(String, String)>,
    Query(p): Query<DeleteParams>,
) -> ApiResult<SrJson<i32>> {
    let (s, v) = (subject(&raw)?, version(&v)?);
    Ok(SrJson(
        st.registry
            .delete_version(&s, v, p.permanent, &caller.actor)
            .await?,
    ))
}

/// Ids of the schemas that reference a version.
#[utoipa::path(get, path = "/subjects/{subject}/versions/{version}/referencedby", operation_id = "getReferencedBy", tag = "subjects",
    params(("subject" = String, Path), ("version" = String, Path), VersionParams),
    responses((status = 200, description = "Referencing schema ids", body = Vec<i64>),
              (status = 404, description = "40401, 40402", body = ErrorBody),
              (status = 422, description = "Invalid version (42202)", body = ErrorBody)))]
pub async fn referenced_by(
    State(st): State<AppState>,
    Path((raw, v)): Path<(String, String)>,
    Query(p): Query<VersionParams>,
) -> ApiResult<SrJson<Vec<i64>>> {
    let (s, v) = (subject(&raw)?, version(&v)?);
    let ids = st.registry.referenced_by(&s, v, p.deleted).await?;
    Ok(SrJson(page(ids, p.offset, p.limit)))
}

/// Compatibility check result.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CompatibilityResult {
    pub is_compatible: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct CompatibilityParams {
    /// Accepted for compatibility; normalization cannot change a verdict.
    #[serde(default, deserialize_with = "super::flag")]
    #[allow(dead_code)]
    normalize: bool,
    /// Return the reasons for a failure (and an invalid schema as a failure, not a 422).
    #[serde(default, deserialize_with = "super::flag")]
    verbose: bool,
}

/// Tests a schema against one version of a subject.
#[utoipa::path(post, path = "/compatibility/subjects/{subject}/versions/{version}", operation_id = "testCompatibilityBySubjectName", tag = "compatibility",
    params(("subject" = String, Path), ("version" = String, Path), CompatibilityParams),
    request_body = RegisterSchemaRequest,
    responses((status = 200, description = "Verdict", body = CompatibilityResult),
              (status = 404, description = "40401, 40402", body = ErrorBody),
              (status = 422, description = "42201, 42202", body = ErrorBody)))]
pub async fn compatibility_with_version(
    State(st): State<AppState>,
    Path((raw, v)): Path<(String, String)>,
    Query(p): Query<CompatibilityParams>,
    SrJson(body): SrJson<RegisterSchemaRequest>,
) -> ApiResult<SrJson<CompatibilityResult>> {
    let (s, v) = (subject(&raw)?, version(&v)?);
    compatibility(&st, &s, Some(v), body, p.verbose).await
}

/// Tests `body` against `version` (or what a registration would be checked against) and counts
/// an incompatible verdict by format.
async fn compatibility(
    st: &AppState,
    s: &crate::types::QualifiedSubject,
    version: Option<crate::types::VersionId>,
    body: RegisterSchemaRequest,
    verbose: bool,
) -> ApiResult<SrJson<CompatibilityResult>> {
    let input = body.into_schema_input()?;
    let format = input.schema_type.unwrap_or(SchemaType::Avro).as_str();
    let (ok, messages) = st
        .registry
        .test_compatibility(s, version, input, verbose)
        .await?;
    if !ok {
        crate::metrics::global().incompatible(format);
    }
    Ok(SrJson(CompatibilityResult {
        is_compatible: ok,
        messages,
    }))
}

/// Tests a schema against the versions a registration would be checked against.
#[utoipa::path(post, path = "/compatibility/subjects/{subject}/versions", operation_id = "testCompatibilityForSubject", tag = "compatibility",
    params(("subject" = String, Path), CompatibilityParams), request_body = RegisterSchemaRequest,
    responses((status = 200, description = "Verdict", body = CompatibilityResult),
              (status = 422, description = "Invalid schema (42201)", body = ErrorBody)))]
pub async fn compatibility_with_all(
    State(st): State<AppState>,
    Path(raw): Path<String>,
    Query(p): Query<CompatibilityParams>,
    SrJson(body): SrJson<RegisterSchemaRequest>,
) -> ApiResult<SrJson<CompatibilityResult>> {
    let s = subject(&raw)?;
    compatibility(&st, &s, None, body, p.verbose).await
}
