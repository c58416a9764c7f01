//! The registry's domain service: everything the Confluent API does, expressed without HTTP.
//! It owns transaction boundaries (through [`Store`] sessions), the schema caches, reference
//! resolution and the register algorithm.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use quick_cache::sync::Cache;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::formats::{Formats, InvalidSchema, ParsedSchema, PayloadOptions, ResolvedReference};
use crate::storage::{ReferenceEdge, SchemaRecord, Session, Store, StoreError, VersionRecord};
use crate::types::{
    CompatibilityLevel, InvalidSubject, InvalidVersion, QualifiedSubject, SchemaReference,
    SchemaType, VersionId, DEFAULT_CONTEXT,
};

mod settings;
pub mod work;
mod write;

pub(crate) use write::Uncommitted;

pub use settings::{Config, ConfigOptions};

/// Everything that can go wrong in a registry operation. `api::error` maps each variant to its
/// HTTP status and Confluent `error_code`.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("Subject '{0}' not found.")]
    SubjectNotFound(String),
    #[error("Version {0} not found.")]
    VersionNotFound(String),
    #[error("Schema {0} not found")]
    SchemaNotFound(String),
    #[error("Subject '{0}' was soft deleted.Set permanent=true to delete permanently")]
    SubjectSoftDeleted(String),
    #[error("Subject '{0}' was not deleted first before being permanently deleted")]
    SubjectNotSoftDeleted(String),
    #[error("Subject '{0}' Version {1} was soft deleted.Set permanent=true to delete permanently")]
    VersionSoftDeleted(String, i32),
    #[error("Subject '{0}' Version {1} was not deleted first before being permanently deleted")]
    VersionNotSoftDeleted(String, i32),
    #[error("Subject '{0}' does not have subject-level compatibility configured")]
    SubjectConfigNotFound(String),
    #[error("Subject '{0}' does not have subject-level mode configured")]
    SubjectModeNotFound(String),
    #[error("Schema being registered is incompatible with an earlier schema for subject \"{subject}\", details: [{}]", .messages.join(", "))]
    Incompatible {
        subject: String,
        messages: Vec<String>,
    },
    #[error("{0}")]
    InvalidSchema(String),
    #[error(transparent)]
    InvalidVersion(#[from] InvalidVersion),
    #[error("Invalid compatibility level. Valid values are none, backward, forward, full, backward_transitive, forward_transitive, and full_transitive")]
    InvalidCompatibilityLevel,
    #[error("Invalid mode. Valid values are READWRITE, READONLY, IMPORT and FORWARD.")]
    InvalidMode,
    #[error("{0}")]
    OperationNotPermitted(String),
    #[error("One or more references exist to the schema {{magic=1,keytype=SCHEMA,subject={subject},version={version}}}.")]
    ReferenceExists { subject: String, version: i32 },
    #[error("{0}")]
    IdMismatch(String),
    #[error("The specified context '{0}' is not empty.")]
    ContextNotEmpty(String),
    #[error(transparent)]
    InvalidSubject(#[from] InvalidSubject),
    #[error("Schema too large: {0} bytes, the limit is {1}")]
    SchemaTooLarge(usize, usize),
    #[error("Invalid ruleSet: {0}")]
    InvalidRuleSet(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A bug, reported rather than crashing: 500/50000.
    #[error("{0}")]
    Internal(String),
}

impl From<InvalidSchema> for RegistryError {
    fn from(e: InvalidSchema) -> Self {
        RegistryError::InvalidSchema(e.0)
    }
}

pub type Result<T> = std::result::Result<T, RegistryError>;

/// Registry behaviour that operators set.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Used when neither the global, context nor subject config sets a level.
    pub default_compatibility: CompatibilityLevel,
    /// Largest schema text accepted (42209 above it).
    pub max_schema_bytes: usize,
    /// Cached schemas by id.
    pub cache_capacity: usize,
    /// Estimated memory the parsed schemas kept in memory may take (half for stored versions,
    /// half for schemas sent in requests).
    pub parsed_cache_bytes: usize,
    /// Estimated memory that schema parses and compatibility checks may use at once.
    pub work_memory_bytes: usize,
    /// Parses and compatibility checks running at once (on the blocking pool).
    pub work_slots: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            default_compatibility: CompatibilityLevel::Backward,
            max_schema_bytes: 1024 * 1024,
            cache_capacity: 10_000,
            parsed_cache_bytes: 256 * 1024 * 1024,
            work_memory_bytes: 512 * 1024 * 1024,
            work_slots: default_work_slots(),
        }
    }
}

/// One job per core, and at least two.
pub fn default_work_slots() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .max(2)
}

/// A schema as sent for registration, lookup or a compatibility test.
#[derive(Debug, Clone, Default)]
pub struct SchemaInput {
    pub schema: String,
    pub schema_type: Option<SchemaType>,
    pub references: Vec<SchemaReference>,
    pub metadata: Option<Value>,
    pub rule_set: Option<Value>,
    /// Explicit id (IMPORT mode only).
    pub id: Option<i64>,
    /// Explicit version (IMPORT mode, or the next version).
    pub version: Option<i32>,
}

/// A schema as registered under a subject version.
#[derive(Debug, Clone)]
pub struct SubjectSchema {
    pub subject: QualifiedSubject,
    pub version: i32,
    pub deleted: bool,
    pub schema: Arc<SchemaRecord>,
}

/// The outcome of validating a payload against a subject version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadVerdict {
    pub schema_id: i64,
    pub version: i32,
    /// Why the payload does not match; `None` when it does.
    pub error: Option<String>,
}

/// The registry service.
pub struct Registry {
    store: Arc<dyn Store>,
    formats: Arc<Formats>,
    workers: work::Workers,
    settings: Settings,
    schemas: Cache<(String, i64), Arc<SchemaRecord>, TextWeight>,
    parsed: Cache<(String, i64), Arc<dyn ParsedSchema>, ParsedWeight>,
    /// Parsed request schemas without references, by hash of type and text: parsing is a pure
    /// function of them, and lookups send the same text again and again.
    inputs: Cache<String, Arc<dyn ParsedSchema>, ParsedWeight>,
    /// Schemas inserted by write sessions that have not committed, with how many sessions hold
    /// each (see [`write::Uncommitted`]): never cached.
    pending: std::sync::Mutex<HashMap<(String, i64), usize>>,
    /// The next provisional id a plan gives a new schema (negative, never stored).
    provisional: std::sync::atomic::AtomicI64,
}

/// Parsed schemas are weighed by the memory they keep, estimated in KiB: measured at 26 to 51
/// times their canonical text for every format (a 50-field Avro record keeps some 130 KiB, a
/// 100,000-value JSON enum 22 MiB).
#[derive(Clone, Copy)]
pub(crate) struct ParsedWeight;

/// Memory a parsed schema keeps, per byte of canonical text.
const PARSED_BYTES_PER_TEXT_BYTE: u64 = 52;

impl<K> quick_cache::Weighter<K, Arc<dyn ParsedSchema>> for ParsedWeight {
    fn weight(&self, _: &K, value: &Arc<dyn ParsedSchema>) -> u64 {
        1 + value.canonical().len() as u64 * PARSED_BYTES_PER_TEXT_BYTE / 1024
    }
}

/// Shards of each cache. quick_cache splits its weight capacity evenly between shards and does
/// not keep an entry heavier than a shard, and would take four shards per core: on a large
/// machine only small schemas would ever be cached. With a fixed count, an entry up to an
/// eighth of its cache is kept on any machine.
const CACHE_SHARDS: usize = 8;

/// A cache of `items` (an estimate) whose entries weigh `weighter`, holding up to `capacity`.
pub(crate) fn weighed_cache<K, V, W>(items: usize, capacity: u64, weighter: W) -> Cache<K, V, W>
where
    K: Eq + std::hash::Hash,
    V: Clone,
    W: quick_cache::Weighter<K, V> + Clone,
{
    let options = quick_cache::OptionsBuilder::new()
        .shards(CACHE_SHARDS)
        .estimated_items_capacity(items.max(CACHE_SHARDS * 32))
        .weight_capacity(capacity.max(1))
        .build();
    match options {
        Ok(options) => {
            Cache::with_options(options, weighter, Default::default(), Default::default())
        }
        // Only reachable with a zero shard count or allocation share, which the values
        // above rule out.
        Err(_) => Cache::with_weighter(items, capacity, weighter),
    }
}

/// Cache weights by the text an entry holds: one unit, plus one per `.0` bytes of text. A
/// count-bounded cache would let a few thousand megabyte schemas (sent to read routes, which
/// cache what they parse) take gigabytes; weighed, the caches hold a bounded amount of text.
#[derive(Clone, Copy)]
pub(crate) struct TextWeight(pub u64);

/// A cached value's text size, for [`TextWeight`].
pub(crate) trait TextLen {
    fn text_len(&self) -> usize;
}

impl<K, V: TextLen> quick_cache::Weighter<K, V> for TextWeight {
    fn weight(&self, _: &K, value: &V) -> u64 {
        1 + value.text_len() as u64 / self.0
    }
}

impl TextLen for Arc<SchemaRecord> {
    fn text_len(&self) -> usize {
        self.schema.len()
    }
}

/// Weighs a cache of stored records: entries up to 4 KiB count one.
pub(crate) fn record_cache<K: Eq + std::hash::Hash, V: TextLen + Clone>(
    capacity: usize,
) -> Cache<K, V, TextWeight> {
    weighed_cache(capacity, capacity as u64, TextWeight(4096))
}

impl Registry {
    pub fn new(store: Arc<dyn Store>, settings: Settings) -> Self {
        let capacity = settings.cache_capacity.max(16);
        let parsed = capacity / 4 + 16;
        let parsed_kib = (settings.parsed_cache_bytes / 2 / 1024) as u64;
        Self {
            store,
            formats: Arc::new(Formats::default()),
            workers: work::Workers::new(settings.work_memory_bytes, settings.work_slots),
            schemas: record_cache(capacity),
            parsed: weighed_cache(parsed, parsed_kib, ParsedWeight),
            inputs: weighed_cache(parsed, parsed_kib, ParsedWeight),
            pending: std::sync::Mutex::new(HashMap::new()),
            provisional: std::sync::atomic::AtomicI64::new(-1),
            settings,
        }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn schema_types(&self) -> Vec<SchemaType> {
        self.formats.supported()
    }

    // ---- schemas by id ----------------------------------------------------------------------

    /// The schema with `id` in `context`, from the cache when possible (ids are immutable).
    pub async fn schema_by_id(&self, context: &str, id: i64) -> Result<Arc<SchemaRecord>> {
        if let Some(s) = self.schemas.get(&IdKey(context, id)) {
            return Ok(s);
        }
        let mut session = self.store.read().await?;
        self.load_schema(session.as_mut(), context, id)
            .await?
            .ok_or_else(|| RegistryError::SchemaNotFound(id.to_string()))
    }

    /// The schemas with a guid (as `GET /schemas/guids/{guid}` names them), one per context
    /// holding it, the default context first; 40403 when none.
    pub async fn schemas_by_guid(&self, guid: &str) -> Result<Vec<Arc<SchemaRecord>>> {
        let hex = guid.replace('-', "").to_ascii_lowercase();
        if hex.len() != 32 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(RegistryError::SchemaNotFound(guid.to_owned()));
        }
        let mut session = self.store.read().await?;
        let found = session.schemas_by_fingerprint_prefix(&hex).await?;
        if found.is_empty() {
            return Err(RegistryError::SchemaNotFound(guid.to_owned()));
        }
        Ok(found
            .into_iter()
            .map(|record| {
                let key = (record.context.clone(), record.id);
                self.schemas.get(&key).unwrap_or_else(|| {
                    let record = Arc::new(record);
                    self.schemas.insert(key, record.clone());
                    record
                })
            })
            .collect())
    }

    async fn load_schema(
        &self,
        session: &mut dyn Session,
        context: &str,
        id: i64,
    ) -> Result<Option<Arc<SchemaRecord>>> {
        let key = (context.to_owned(), id);
        if let Some(s) = self.schemas.get(&key) {
            return Ok(Some(s));
        }
        let Some(record) = session.schema_by_id(context, id).await? else {
            return Ok(None);
        };
        let record = Arc::new(record);
        if !self.is_uncommitted(context, id) {
            self.schemas.insert(key, record.clone());
        }
        Ok(Some(record))
    }

    /// Subject versions using schema `id`; 40403 when the id is unknown.
    pub async fn schema_usages(
        &self,
        context: &str,
        id: i64,
        include_deleted: bool,
    ) -> Result<Vec<VersionRecord>> {
        self.schema_by_id(context, id).await?;
        let mut session = self.store.read().await?;
        let usages = session.usages(context, id).await?;
        Ok(usages
            .into_iter()
            .filter(|v| include_deleted || !v.deleted)
            .collect())
    }

    /// `GET /schemas`: the schemas of every subject version matching the filters.
    pub async fn list_schemas(
        &self,
        subject_prefix: Option<&str>,
        include_deleted: bool,
        latest_only: bool,
    ) -> Result<Vec<SubjectSchema>> {
        let mut session = self.store.read().await?;
        let all = session.all_versions(None).await?;
        let mut out: Vec<SubjectSchema> = Vec::new();
        for v in all {
            if v.deleted && !include_deleted {
                continue;
            }
            if let Some(p) = subject_prefix {
                if !v.subject.display_name().starts_with(p) && !v.subject.name.starts_with(p) {
                    continue;
                }
            }
            if latest_only {
                if let Some(last) = out.last() {
                    if last.subject == v.subject {
                        out.pop();
                    }
                }
            }
            let Some(schema) = self
                .load_schema(session.as_mut(), &v.subject.context, v.schema_id)
                .await?
            else {
                continue;
            };
            out.push(SubjectSchema {
                subject: v.subject,
                version: v.version,
                deleted: v.deleted,
                schema,
            });
        }
        Ok(out)
    }

    // ---- subjects and versions --------------------------------------------------------------

    /// Subjects, filtered by display-name prefix. `deleted` adds soft-deleted subjects;
    /// `deleted_only` returns only those.
    pub async fn subjects(
        &self,
        prefix: Option<&str>,
        deleted: bool,
        deleted_only: bool,
    ) -> Result<Vec<QualifiedSubject>> {
        let mut session = self.store.read().await?;
        let (context, prefix) = match prefix {
            None | Some(":*:") => (None, None),
            Some(p) if p.starts_with(':') => {
                let q = QualifiedSubject::parse(p)?;
                (Some(q.context), Some(q.name))
            }
            Some(p) => (Some(DEFAULT_CONTEXT.to_owned()), Some(p.to_owned())),
        };
        let all = session.subjects(context.as_deref()).await?;
        let mut subjects: Vec<QualifiedSubject> = all
            .into_iter()
            .filter(|s| {
                prefix
                    .as_deref()
                    .is_none_or(|p| s.subject.name.starts_with(p))
            })
            .filter(|s| {
                let soft_deleted = s.live_versions == 0;
                if deleted_only {
                    soft_deleted || s.deleted_versions > 0
                } else {
                    !soft_deleted || deleted
                }
            })
            .map(|s| s.subject)
            .collect();
        // Sorted by the name clients see, so `:.ctx:name` sorts before plain names.
        subjects.sort_by_key(QualifiedSubject::display_name);
        Ok(subjects)
    }

    /// Version numbers of a subject; 40401 when it has none to show.
    pub async fn versions(
        &self,
        subject: &QualifiedSubject,
        deleted: bool,
        deleted_only: bool,
    ) -> Result<Vec<i32>> {
        let mut session = self.store.read().await?;
        let all = session.versions(subject).await?;
        let shown: Vec<i32> = all
            .iter()
            .filter(|v| {
                if deleted_only {
                    v.deleted
                } else {
                    deleted || !v.deleted
                }
            })
            .map(|v| v.version)
            .collect();
        if shown.is_empty() && (all.is_empty() || !deleted_only) {
            return Err(RegistryError::SubjectNotFound(subject.display_name()));
        }
        Ok(shown)
    }

    /// One version of a subject. `latest` means the newest live version (or the newest of all
    /// when `include_deleted`).
    pub async fn version(
        &self,
        subject: &QualifiedSubject,
        version: VersionId,
        include_deleted: bool,
    ) -> Result<SubjectSchema> {
        let mut session = self.store.read().await?;
        let all = session.versions(subject).await?;
        let v = pick_version(subject, &all, version, include_deleted)?;
        let schema = self
            .load_schema(session.as_mut(), &subject.context, v.schema_id)
            .await?
            .ok_or_else(|| RegistryError::SchemaNotFound(v.schema_id.to_string()))?;
        Ok(SubjectSchema {
            subject: subject.clone(),
            version: v.version,
            deleted: v.deleted,
            schema,
        })
    }

    /// The newest version whose schema's `metadata.properties` hold every `key = value` of
    /// `wanted` (`GET /subjects/{s}/metadata`); 40401 without the subject, 40403 without a match.
    pub async fn latest_with_metadata(
        &self,
        subject: &QualifiedSubject,
        wanted: &[(String, String)],
        include_deleted: bool,
    ) -> Result<SubjectSchema> {
        let mut session = self.store.read().await?;
        let all = session.versions(subject).await?;
        if !all.iter().any(|v| include_deleted || !v.deleted) {
            return Err(RegistryError::SubjectNotFound(subject.display_name()));
        }
        for v in all.iter().rev().filter(|v| include_deleted || !v.deleted) {
            let Some(schema) = self
                .load_schema(session.as_mut(), &subject.context, v.schema_id)
                .await?
            else {
                continue;
            };
            let properties = schema
                .metadata
                .as_ref()
                .and_then(|m| m.get("properties"))
                .and_then(Value::as_object);
            let matches = wanted.iter().all(|(k, want)| {
                properties
                    .and_then(|p| p.get(k))
                    .and_then(Value::as_str)
                    .is_some_and(|have| have == want)
            });
            if matches {
                return Ok(SubjectSchema {
                    subject: subject.clone(),
                    version: v.version,
                    deleted: v.deleted,
                    schema,
                });
            }
        }
        Err(RegistryError::SchemaNotFound(String::new()))
    }

    /// Ids of the schemas that reference a subject version.
    pub async fn referenced_by(
        &self,
        subject: &QualifiedSubject,
        version: VersionId,
        include_deleted: bool,
    ) -> Result<Vec<i64>> {
        let mut session = self.store.read().await?;
        let all = session.versions(subject).await?;
        let v = pick_version(subject, &all, version, include_deleted)?;
        let referrers = session.referrers(subject, v.version).await?;
        Ok(referrers
            .into_iter()
            .filter(|(_, live)| include_deleted || *live)
            .map(|(id, _)| id)
            .collect())
    }

    /// Contexts in use; the default context is always listed.
    pub async fn contexts(&self) -> Result<Vec<String>> {
        let mut session = self.store.read().await?;
        let mut contexts = session.contexts().await?;
        if !contexts.iter().any(|c| c == DEFAULT_CONTEXT) {
            contexts.insert(0, DEFAULT_CONTEXT.to_owned());
        }
        Ok(contexts)
    }

    /// `POST /subjects/{subject}`: the version of `subject` holding this schema.
    pub async fn lookup(
        &self,
        subject: &QualifiedSubject,
        input: SchemaInput,
        normalize: bool,
        include_deleted: bool,
    ) -> Result<SubjectSchema> {
        let mut session = self.store.read().await?;
        let (parsed, refs) = self
            .parse_input(session.as_mut(), &subject.context, &input)
            .await?;
        let normalize = normalize
            || self
                .config_in_scope(session.as_mut(), subject)
                .await?
                .options
                .normalize
                .unwrap_or(false);
        let (text, hash) = stored_text_and_hash(parsed.as_ref(), normalize, &refs);
        let mut candidates = session.versions_with_content(subject, &hash).await?;
        if candidates.is_empty() && normalize {
            // Versions registered without normalize: compare normalized forms one by one.
            for v in session.versions(subject).await? {
                if let Some(p) = self.parsed_version(session.as_mut(), &v).await? {
                    if p.normalized() == text {
                        candidates.push(v);
                    }
                }
            }
        }
        for v in candidates.into_iter().rev() {
            if v.deleted && !include_deleted {
                continue;
            }
            let Some(schema) = self
                .load_schema(session.as_mut(), &subject.context, v.schema_id)
                .await?
            else {
                continue;
            };
            if input
                .metadata
                .as_ref()
                .is_some_and(|m| schema.metadata.as_ref() != Some(m))
                || input
                    .rule_set
                    .as_ref()
                    .is_some_and(|r| schema.rule_set.as_ref() != Some(r))
            {
                continue;
            }
            return Ok(SubjectSchema {
                subject: subject.clone(),
                version: v.version,
                deleted: v.deleted,
                schema,
            });
        }
        if session
            .versions(subject)
            .await?
            .iter()
            .all(|v| v.deleted && !include_deleted)
        {
            return Err(RegistryError::SubjectNotFound(subject.display_name()));
        }
        Err(RegistryError::SchemaNotFound(String::new()))
    }

    /// A stored schema in an alternative form (`format=` on reads), when its format has one;
    /// `None` means the stored text is the answer.
    pub async fn render_as(&self, schema: &SchemaRecord, format: &str) -> Result<Option<String>> {
        let mut session = self.store.read().await?;
        let parsed = self
            .parsed_schema(session.as_mut(), &schema.context, schema.id)
            .await?;
        Ok(parsed.and_then(|p| p.render(format)))
    }

    /// Checks an encoded datum against the schema of a subject version.
    pub async fn validate_payload(
        &self,
        subject: &QualifiedSubject,
        version: VersionId,
        datum: &[u8],
        options: PayloadOptions,
    ) -> Result<PayloadVerdict> {
        let mut session = self.store.read().await?;
        let all = session.versions(subject).await?;
        let v = pick_version(subject, &all, version, false)?;
        let parsed = self
            .parsed_version(session.as_mut(), &v)
            .await?
            .ok_or_else(|| RegistryError::SchemaNotFound(v.schema_id.to_string()))?;
        drop(session);
        if parsed.needs_preparation() {
            let estimate = work::parse_estimate(parsed.schema_type(), parsed.canonical().len());
            let schema = parsed.clone();
            self.workers
                .run(estimate, move || schema.prepare_validation())
                .await?;
        }
        Ok(PayloadVerdict {
            schema_id: v.schema_id,
            version: v.version,
            error: parsed.validate(datum, options).err().map(|e| e.0),
        })
    }

    // ---- shared helpers ---------------------------------------------------------------------

    /// A schema as a registration would parse it, with the subject's latest live version (for
    /// checks that look at what changed, such as governance lint). An empty schema means the
    /// latest version's, as in a registration.
    pub async fn parse_candidate(
        &self,
        subject: &QualifiedSubject,
        input: &SchemaInput,
    ) -> Result<(Arc<dyn ParsedSchema>, Option<Arc<dyn ParsedSchema>>)> {
        let mut session = self.store.read().await?;
        self.parse_candidate_in(session.as_mut(), subject, input)
            .await
    }

    /// [`Self::parse_candidate`] inside a session (a change set's, which sees its own items).
    pub(crate) async fn parse_candidate_in(
        &self,
        session: &mut dyn Session,
        subject: &QualifiedSubject,
        input: &SchemaInput,
    ) -> Result<(Arc<dyn ParsedSchema>, Option<Arc<dyn ParsedSchema>>)> {
        let versions = session.versions(subject).await?;
        let previous = match versions.iter().rev().find(|v| !v.deleted) {
            Some(v) => self.parsed_version(session, v).await?,
            None => None,
        };
        // A blank schema stands for the previous version's (a metadata or rule change, as the
        // reference allows); with none it is refused here, before governance looks at it.
        if input.schema.trim().is_empty() {
            return match &previous {
                Some(p) => Ok((p.clone(), previous.clone())),
                None => Err(RegistryError::InvalidSchema("Empty schema".into())),
            };
        }
        let (parsed, _) = self.parse_input(session, &subject.context, input).await?;
        Ok((parsed, previous))
    }

    /// 42209 for a schema over the configured size, checked before anything parses it.
    pub(crate) fn within_size(&self, input: &SchemaInput) -> Result<()> {
        if input.schema.len() > self.settings.max_schema_bytes {
            return Err(RegistryError::SchemaTooLarge(
                input.schema.len(),
                self.settings.max_schema_bytes,
            ));
        }
        Ok(())
    }

    /// Parses a request's schema with its references; returns it with the references as they
    /// will be stored.
    async fn parse_input(
        &self,
        session: &mut dyn Session,
        context: &str,
        input: &SchemaInput,
    ) -> Result<(Arc<dyn ParsedSchema>, Vec<SchemaReference>)> {
        self.within_size(input)?;
        let schema_type = input.schema_type.unwrap_or(SchemaType::Avro);
        if input.references.is_empty() {
            let key = sha256_hex(&[schema_type.as_str(), &input.schema]);
            if let Some(p) = self.inputs.get(&key) {
                return Ok((p, Vec::new()));
            }
            let parsed = self
                .parse_bounded(schema_type, &input.schema, Vec::new())
                .await?;
            self.inputs.insert(key, parsed.clone());
            return Ok((parsed, Vec::new()));
        }
        let (resolved, _, refs) = self
            .resolve_references(session, context, &input.references)
            .await?;
        Ok((
            self.parse_bounded(schema_type, &input.schema, resolved)
                .await?,
            refs,
        ))
    }

    /// Resolves references transitively (dependencies first). Returns the texts for the format,
    /// the edges to store, and the references as stored (`latest` pinned to a number).
    async fn resolve_references(
        &self,
        session: &mut dyn Session,
        context: &str,
        references: &[SchemaReference],
    ) -> Result<(
        Vec<ResolvedReference>,
        Vec<ReferenceEdge>,
        Vec<SchemaReference>,
    )> {
        let mut resolved = Vec::new();
        let mut edges = Vec::new();
        let mut pinned = Vec::new();
        let mut seen = HashSet::new();
        for r in references {
            let (target, version) = self.resolve_one(session, context, r).await?;
            let schema = self
                .load_schema(session, &target.context, version.schema_id)
                .await?
                .ok_or_else(|| RegistryError::SchemaNotFound(version.schema_id.to_string()))?;
            let mut stack = vec![(target.context.clone(), schema.id)];
            self.collect_transitive(session, &schema, &mut resolved, &mut seen, &mut stack)
                .await?;
            resolved.push(ResolvedReference {
                name: r.name.clone(),
                schema_type: schema.schema_type,
                schema: schema.schema.clone(),
            });
            edges.push(ReferenceEdge {
                name: r.name.clone(),
                target,
                version: version.version,
            });
            pinned.push(SchemaReference {
                version: version.version,
                ..r.clone()
            });
        }
        Ok((resolved, edges, pinned))
    }

    async fn resolve_one(
        &self,
        session: &mut dyn Session,
        context: &str,
        r: &SchemaReference,
    ) -> Result<(QualifiedSubject, VersionRecord)> {
        let target = QualifiedSubject::parse_in(&r.subject, context)?;
        let id = if r.version == -1 {
            VersionId::Latest
        } else {
            VersionId::parse(&r.version.to_string())?
        };
        let versions = session.versions(&target).await?;
        let v = pick_version(&target, &versions, id, true).map_err(|_| {
            RegistryError::InvalidSchema(format!(
                "Invalid schema: reference '{}' points at subject '{}' version {}, which does not exist",
                r.name, r.subject, r.version
            ))
        })?;
        Ok((target, v))
    }

    /// Adds the references of `schema` (recursively) to `out`, dependencies first.
    fn collect_transitive<'a>(
        &'a self,
        session: &'a mut dyn Session,
        schema: &'a SchemaRecord,
        out: &'a mut Vec<ResolvedReference>,
        seen: &'a mut HashSet<(String, i64)>,
        stack: &'a mut Vec<(String, i64)>,
    ) -> futures::future::BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            for r in &schema.references {
                let (target, version) = self.resolve_one(session, &schema.context, r).await?;
                let key = (target.context.clone(), version.schema_id);
                if stack.contains(&key) {
                    return Err(RegistryError::InvalidSchema(format!(
                        "Invalid schema: cyclic reference through '{}'",
                        r.name
                    )));
                }
                if !seen.insert(key.clone()) {
                    continue;
                }
                let child = self
                    .load_schema(session, &target.context, version.schema_id)
                    .await?
                    .ok_or_else(|| RegistryError::SchemaNotFound(version.schema_id.to_string()))?;
                stack.push(key);
                self.collect_transitive(session, &child, out, seen, stack)
                    .await?;
                stack.pop();
                out.push(ResolvedReference {
                    name: r.name.clone(),
                    schema_type: child.schema_type,
                    schema: child.schema.clone(),
                });
            }
            Ok(())
        })
    }

    /// The parsed form of a stored version's schema (cached by id).
    async fn parsed_version(
        &self,
        session: &mut dyn Session,
        v: &VersionRecord,
    ) -> Result<Option<Arc<dyn ParsedSchema>>> {
        self.parsed_schema(session, &v.subject.context, v.schema_id)
            .await
    }

    /// The parsed schema with an id, from the cache or parsed with its references.
    async fn parsed_schema(
        &self,
        session: &mut dyn Session,
        context: &str,
        id: i64,
    ) -> Result<Option<Arc<dyn ParsedSchema>>> {
        if let Some(p) = self.parsed.get(&IdKey(context, id)) {
            return Ok(Some(p));
        }
        let key = (context.to_owned(), id);
        let Some(schema) = self.load_schema(session, context, id).await? else {
            return Ok(None);
        };
        let (resolved, _, _) = self
            .resolve_references(session, &schema.context, &schema.references)
            .await?;
        let parsed = self
            .parse_bounded(schema.schema_type, &schema.schema, resolved)
            .await?;
        if !self.is_uncommitted(context, id) {
            self.parsed.insert(key, parsed.clone());
        }
        Ok(Some(parsed))
    }

    /// Parses on the blocking pool, within the work limits.
    async fn parse_bounded(
        &self,
        schema_type: SchemaType,
        schema: &str,
        references: Vec<ResolvedReference>,
    ) -> Result<Arc<dyn ParsedSchema>> {
        let bytes = references
            .iter()
            .fold(schema.len(), |n, r| n.saturating_add(r.schema.len()));
        let (formats, schema) = (self.formats.clone(), schema.to_owned());
        let job = move || formats.parse(schema_type, &schema, &references);
        Ok(self
            .workers
            .run(work::parse_estimate(schema_type, bytes), job)
            .await??)
    }

    /// Forgets what a change made elsewhere (another instance) may have made stale: schemas
    /// removed by a permanent delete.
    pub fn apply_change(&self, change: &crate::storage::ChangeRecord) {
        let data = &change.body;
        match change.kind.as_str() {
            "subject.deleted.permanent" => {
                for id in data["after"]["removedSchemaIds"]
                    .as_array()
                    .map(Vec::as_slice)
                    .unwrap_or_default()
                    .iter()
                    .filter_map(serde_json::Value::as_i64)
                {
                    self.forget_schema(&change.context, id);
                }
            }
            "version.deleted.permanent" => {
                if let Some(id) = data["before"]["id"].as_i64() {
                    self.forget_schema(&change.context, id);
                }
            }
            "context.deleted" => self.forget_all(),
            _ => {}
        }
    }

    /// `(cache, hits, misses)` of the schema caches since start.
    pub fn cache_stats(&self) -> [(&'static str, u64, u64); 3] {
        [
            ("schemas", self.schemas.hits(), self.schemas.misses()),
            ("parsed", self.parsed.hits(), self.parsed.misses()),
            ("inputs", self.inputs.hits(), self.inputs.misses()),
        ]
    }

    /// Forgets every cached schema (a follower that lost its place in the change log).
    pub fn forget_all(&self) {
        self.schemas.clear();
        self.parsed.clear();
    }

    fn forget_schema(&self, context: &str, id: i64) {
        let key = (context.to_owned(), id);
        self.schemas.remove(&key);
        self.parsed.remove(&key);
    }
}

/// A borrowed `(context, id)` cache key, so the hot read allocates nothing to look up. Hashes
/// exactly as the owned `(String, i64)` does.
#[derive(Hash)]
pub(crate) struct IdKey<'a>(pub &'a str, pub i64);

impl quick_cache::Equivalent<(String, i64)> for IdKey<'_> {
    fn equivalent(&self, key: &(String, i64)) -> bool {
        self.0 == key.0 && self.1 == key.1
    }
}

/// Picks a version from a subject's versions (ascending). Errors: 40401 when the subject has no
/// (visible) versions, 40402 when the requested one is missing or soft-deleted.
fn pick_version(
    subject: &QualifiedSubject,
    all: &[VersionRecord],
    version: VersionId,
    include_deleted: bool,
) -> Result<VersionRecord> {
    let visible = |v: &&VersionRecord| include_deleted || !v.deleted;
    if !all.iter().any(|v| visible(&v)) {
        return Err(RegistryError::SubjectNotFound(subject.display_name()));
    }
    let found = match version {
        VersionId::Latest => all.iter().rev().find(visible),
        VersionId::Number(n) => all.iter().find(|v| v.version == n).filter(visible),
    };
    found
        .cloned()
        .ok_or_else(|| RegistryError::VersionNotFound(version.to_string()))
}

/// SHA-256 over the parts (NUL-separated), hex. Not MD5, as the Confluent registry uses: MD5
/// collisions can be crafted, and a collision here would give one schema another's id.
fn sha256_hex(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The text a schema is stored as and the hash of its identity: the normalized form when
/// asked, else the canonical text (hashed by the format's identity, so equivalent inputs share
/// an id).
pub fn stored_text_and_hash(
    parsed: &dyn ParsedSchema,
    normalize: bool,
    refs: &[SchemaReference],
) -> (String, String) {
    if normalize {
        let text = parsed.normalized();
        let hash = content_hash(parsed.schema_type(), &text, refs);
        (text, hash)
    } else {
        let hash = content_hash(parsed.schema_type(), &parsed.identity(), refs);
        (parsed.canonical().to_owned(), hash)
    }
}

/// Hash of what a lookup matches: type, text and references.
pub fn content_hash(t: SchemaType, text: &str, refs: &[SchemaReference]) -> String {
    let refs = serde_json::to_string(refs).unwrap_or_default();
    sha256_hex(&[t.as_str(), text, &refs])
}

/// The schema's identity within a context: content plus metadata and ruleSet.
pub fn fingerprint(
    content_hash: &str,
    metadata: Option<&Value>,
    rule_set: Option<&Value>,
) -> String {
    let m = metadata.map(Value::to_string).unwrap_or_default();
    let r = rule_set.map(Value::to_string).unwrap_or_default();
    sha256_hex(&[content_hash, &m, &r])
}

/// The `guid` clients see: the fingerprint's first 16 bytes written as a UUID.
pub fn guid(fingerprint: &str) -> String {
    let bytes: Vec<u8> = (0..16)
        .filter_map(|i| u8::from_str_radix(fingerprint.get(2 * i..2 * i + 2)?, 16).ok())
        .collect();
    match <[u8; 16]>::try_from(bytes.as_slice()) {
        Ok(b) => uuid::Uuid::from_bytes(b).to_string(),
        Err(_) => String::new(),
    }
}
