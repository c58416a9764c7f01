//! `/schemas`: schemas by global id, and the shapes schema answers share.

use std::borrow::Cow;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use quick_cache::sync::Cache;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::{page, ApiResult, AppState, Path, Query, SrJson, SR_CONTENT_TYPE};
use crate::registry::{IdKey, SubjectSchema};
use crate::storage::SchemaRecord;
use crate::types::{QualifiedSubject, SchemaReference, SchemaType, DEFAULT_CONTEXT};

/// A schema by id; also the schema part of every other schema answer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SchemaString {
    pub schema: String,
    pub schema_type: SchemaType,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<SchemaReference>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub rule_set: Option<Value>,
}

impl From<&SchemaRecord> for SchemaString {
    fn from(s: &SchemaRecord) -> Self {
        Self {
            schema: s.schema.clone(),
            schema_type: s.schema_type,
            references: s.references.clone(),
            metadata: s.metadata.clone(),
            rule_set: s.rule_set.clone(),
        }
    }
}

/// Rendered `SchemaString` bodies by (context, id). Each entry remembers the fingerprint it was
/// rendered from and is used only while the registry still answers that same schema for the
/// id, so a permanent delete (the registry answers 40403 first) or a reused id never serves a
/// stale body.
pub struct RenderedSchemas {
    bodies: Cache<(String, i64), Arc<(String, Bytes)>, crate::registry::TextWeight>,
}

impl crate::registry::TextLen for Arc<(String, Bytes)> {
    fn text_len(&self) -> usize {
        self.1.len()
    }
}

impl RenderedSchemas {
    pub fn new(capacity: usize) -> Self {
        Self {
            bodies: crate::registry::record_cache(capacity.max(16)),
        }
    }

    fn body(&self, record: &SchemaRecord) -> Response {
        let body = match self.bodies.get(&IdKey(&record.context, record.id)) {
            Some(entry) if entry.0 == record.fingerprint => entry.1.clone(),
            _ => {
                let body = Bytes::from(
                    serde_json::to_vec(&SchemaString::from(record)).unwrap_or_default(),
                );
                let entry = Arc::new((record.fingerprint.clone(), body.clone()));
                self.bodies
                    .insert((record.context.clone(), record.id), entry);
                body
            }
        };
        ([(header::CONTENT_TYPE, SR_CONTENT_TYPE)], body).into_response()
    }
}

/// The schema text for a `format=` query: `None` when the stored text is the answer.
pub(super) async fn formatted(
    st: &AppState,
    record: &SchemaRecord,
    format: Option<&str>,
) -> ApiResult<Option<String>> {
    match format {
        Some(f) if !f.is_empty() => Ok(st.registry.render_as(record, f).await?),
        _ => Ok(None),
    }
}

impl Schema {
    /// The version answer, its text in the `format` asked for.
    pub(super) async fn formatted(
        st: &AppState,
        s: &SubjectSchema,
        format: Option<&str>,
    ) -> ApiResult<Self> {
        let mut out = Schema::from(s);
        if let Some(text) = formatted(st, &s.schema, format).await? {
            out.content.schema = text;
        }
        Ok(out)
    }
}

/// A schema as registered under a subject version.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Schema {
    pub subject: String,
    pub version: i32,
    pub id: i64,
    #[serde(flatten)]
    pub content: SchemaString,
    /// Present (true) only for soft-deleted versions.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
}

impl From<&SubjectSchema> for Schema {
    fn from(s: &SubjectSchema) -> Self {
        Self {
            subject: s.subject.display_name(),
            version: s.version,
            id: s.schema.id,
            content: SchemaString::from(s.schema.as_ref()),
            deleted: s.deleted,
        }
    }
}

/// A subject and version that use a schema.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SubjectVersion {
    pub subject: String,
    pub version: i32,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ListSchemasParams {
    /// Only subjects starting with this prefix.
    subject_prefix: Option<String>,
    /// Include soft-deleted versions.
    #[serde(default, deserialize_with = "super::flag")]
    deleted: bool,
    /// Only each subject's latest version.
    #[serde(default, deserialize_with = "super::flag")]
    latest_only: bool,
    offset: Option<usize>,
    limit: Option<i64>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ByIdParams {
    /// A subject (or `:.ctx:`) whose context the id belongs to.
    subject: Option<String>,
    /// `serialized`: a Protobuf schema as a base64 `FileDescriptorProto`; otherwise the stored text.
    format: Option<String>,
    /// Include soft-deleted subject versions (listings only).
    #[serde(default, deserialize_with = "super::flag")]
    deleted: bool,
    offset: Option<usize>,
    limit: Option<i64>,
}

impl ByIdParams {
    /// The context the id belongs to: the default one unless `subject` names another.
    fn context(&self) -> Cow<'static, str> {
        match self
            .subject
            .as_deref()
            .and_then(|s| QualifiedSubject::parse(s).ok())
        {
            Some(s) => Cow::Owned(s.context),
            None => Cow::Borrowed(DEFAULT_CONTEXT),
        }
    }
}

/// The schema types this registry supports.
#[utoipa::path(get, path = "/schemas/types", operation_id = "getSchemaTypes", tag = "schemas",
    responses((status = 200, description = "Supported schema types", body = Vec<String>)))]
pub async fn types(State(st): State<AppState>) -> SrJson<Vec<SchemaType>> {
    SrJson(st.registry.schema_types())
}

/// Every subject version's schema, optionally filtered.
#[utoipa::path(get, path = "/schemas", operation_id = "getSchemas", tag = "schemas", params(ListSchemasParams),
    responses((status = 200, description = "Schemas", body = Vec<Schema>),
              (status = 500, description = "Store error (50001)", body = super::error::ErrorBody)))]
pub async fn list(
    State(st): State<AppState>,
    Query(p): Query<ListSchemasParams>,
) -> ApiResult<SrJson<Vec<Schema>>> {
    let all = st
        .registry
        .list_schemas(p.subject_prefix.as_deref(), p.deleted, p.latest_only)
        .await?;
    let out = all.iter().map(Schema::from).collect();
    Ok(SrJson(page(out, p.offset, p.limit)))
}

/// The schema with a global id.
#[utoipa::path(get, path = "/schemas/ids/{id}", operation_id = "getSchema", tag = "schemas", params(("id" = i64, Path), ByIdParams),
    responses((status = 200, description = "The schema", body = SchemaString),
              (status = 404, description = "Schema not found (40403)", body = super::error::ErrorBody)))]
pub async fn by_id(
    State(st): State<AppState>,
    Path(id): Path<i64>,
    Query(p): Query<ByIdParams>,
) -> ApiResult<Response> {
    let s = st.registry.schema_by_id(&p.context(), id).await?;
    if let Some(text) = formatted(&st, &s, p.format.as_deref()).await? {
        let mut body = SchemaString::from(s.as_ref());
        body.schema = text;
        return Ok(SrJson(body).into_response());
    }
    Ok(st.rendered.body(&s))
}

/// The schema text alone.
#[utoipa::path(get, path = "/schemas/ids/{id}/schema", operation_id = "getSchemaOnly", tag = "schemas", params(("id" = i64, Path), ByIdParams),
    responses((status = 200, description = "The raw schema", body = String),
              (status = 404, description = "Schema not found (40403)", body = super::error::ErrorBody)))]
pub async fn raw_by_id(
    State(st): State<AppState>,
    Path(id): Path<i64>,
    Query(p): Query<ByIdParams>,
) -> ApiResult<impl IntoResponse> {
    let s = st.registry.schema_by_id(&p.context(), id).await?;
    let text = formatted(&st, &s, p.format.as_deref()).await?;
    Ok((
        [(header::CONTENT_TYPE, SR_CONTENT_TYPE)],
        text.unwrap_or_else(|| s.schema.clone()),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ByGuidParams {
    /// `serialized`: a Protobuf schema as a base64 `FileDescriptorProto`; otherwise the stored text.
    format: Option<String>,
}

/// The schema with a guid (the `guid` a registration answers), in whichever context it is.
#[utoipa::path(get, path = "/schemas/guids/{guid}", operation_id = "getSchemaByGuid", tag = "schemas", params(("guid" = String, Path), ByGuidParams),
    responses((status = 200, description = "The schema", body = SchemaString),
              (status = 404, description = "Schema not found (40403)", body = super::error::ErrorBody)))]
pub async fn by_guid(
    State(st): State<AppState>,
    Path(guid): Path<String>,
    Query(p): Query<ByGuidParams>,
) -> ApiResult<Response> {
    let s = first(st.registry.schemas_by_guid(&guid).await?);
    let mut body = SchemaString::from(s.as_ref());
    if let Some(text) = formatted(&st, &s, p.format.as_deref()).await? {
        body.schema = text;
    }
    Ok(SrJson(body).into_response())
}

/// The schema text alone, by guid.
#[utoipa::path(get, path = "/schemas/guids/{guid}/schema", operation_id = "getSchemaOnlyByGuid", tag = "schemas", params(("guid" = String, Path), ByGuidParams),
    responses((status = 200, description = "The raw schema", body = String),
              (status = 404, description = "Schema not found (40403)", body = super::error::ErrorBody)))]
pub async fn raw_by_guid(
    State(st): State<AppState>,
    Path(guid): Path<String>,
    Query(p): Query<ByGuidParams>,
) -> ApiResult<impl IntoResponse> {
    let s = first(st.registry.schemas_by_guid(&guid).await?);
    let text = formatted(&st, &s, p.format.as_deref()).await?;
    Ok((
        [(header::CONTENT_TYPE, SR_CONTENT_TYPE)],
        text.unwrap_or_else(|| s.schema.clone()),
    ))
}

/// The first of a non-empty list of schemas.
fn first(mut all: Vec<Arc<SchemaRecord>>) -> Arc<SchemaRecord> {
    all.swap_remove(0)
}

/// A context and the id a schema has there.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ContextId {
    pub context: String,
    pub id: i64,
}

/// The id a guid's schema has in each context that holds it.
#[utoipa::path(get, path = "/schemas/guids/{guid}/ids", operation_id = "getIdsByGuid", tag = "schemas", params(("guid" = String, Path)),
    responses((status = 200, description = "Context and id pairs", body = Vec<ContextId>),
              (status = 404, description = "Schema not found (40403)", body = super::error::ErrorBody)))]
pub async fn ids_by_guid(
    State(st): State<AppState>,
    Path(guid): Path<String>,
) -> ApiResult<SrJson<Vec<ContextId>>> {
    let all = st.registry.schemas_by_guid(&guid).await?;
    Ok(SrJson(
        all.iter()
            .map(|s| ContextId {
                context: s.context.clone(),
                id: s.id,
            })
            .collect(),
    ))
}

/// Subjects that use a schema.
#[utoipa::path(get, path = "/schemas/ids/{id}/subjects", operation_id = "getSubjects", tag = "schemas", params(("id" = i64, Path), ByIdParams),
    responses((status = 200, description = "Subjects", body = Vec<String>),
              (status = 404, description = "Schema not found (40403)", body = super::error::ErrorBody)))]
pub async fn subjects_by_id(
    State(st): State<AppState>,
    Path(id): Path<i64>,
    Query(p): Query<ByIdParams>,
) -> ApiResult<SrJson<Vec<String>>> {
    let usages = st
        .registry
        .schema_usages(&p.context(), id, p.deleted)
        .await?;
    let mut subjects: Vec<String> = usages.iter().map(|v| v.subject.display_name()).collect();
    subjects.dedup();
    Ok(SrJson(page(subjects, p.offset, p.limit)))
}

/// Subject versions that use a schema.
#[utoipa::path(get, path = "/schemas/ids/{id}/versions", operation_id = "getVersions", tag = "schemas", params(("id" = i64, Path), ByIdParams),
    responses((status = 200, description = "Subject versions", body = Vec<SubjectVersion>),
              (status = 404, description = "Schema not found (40403)", body = super::error::ErrorBody)))]
pub async fn versions_by_id(
    State(st): State<AppState>,
    Path(id): Path<i64>,
    Query(p): Query<ByIdParams>,
) -> ApiResult<SrJson<Vec<SubjectVersion>>> {
    let usages = st
        .registry
        .schema_usages(&p.context(), id, p.deleted)
        .await?;
    let out = usages
        .iter()
        .map(|v| SubjectVersion {
            subject: v.subject.display_name(),
            version: v.version,
        })
        .collect();
    Ok(SrJson(page(out, p.offset, p.limit)))
}
