//! Registration, compatibility tests and deletes. Every change runs in one write session that
//! holds the subject's lock from the first read to the commit.

use std::sync::Arc;

use serde_json::Value;

use super::{
    fingerprint, pick_version, stored_text_and_hash, Registry, RegistryError, Result, SchemaInput,
    SubjectSchema,
};
use crate::compat::{self, Previous};
use crate::formats::ParsedSchema;
use crate::governance::Actor;
use crate::storage::{now_millis, SchemaRecord, Session, VersionRecord};
use crate::types::{Mode, QualifiedSubject, SchemaType, VersionId};

/// Attempts at finding a free id before giving up (ids taken by imports are skipped).
const ID_ATTEMPTS: usize = 64;

impl Registry {
    /// `POST /subjects/{subject}/versions`.
    pub async fn register(
        &self,
        subject: &QualifiedSubject,
        input: SchemaInput,
        normalize: bool,
        force: bool,
        actor: &Actor,
    ) -> Result<SubjectSchema> {
        check_input(subject, &input)?;
        let referenced = referenced_subjects(subject, &input.references);
        let mut session = self
            .store
            .write_set(std::slice::from_ref(subject), &referenced)
            .await?;
        let mut scope = self.uncommitted(false);
        let done = self
            .register_in(
                session.as_mut(),
                &mut scope,
                subject,
                input,
                normalize,
                force,
                actor,
            )
            .await?;
        if !done.created {
            return Ok(done.registered);
        }
        session.commit().await?;
        drop(scope);
        let (version, id) = (done.registered.version, done.registered.schema.id);
        tracing::info!(subject = %subject, version, id, "schema registered");
        let schema = self.schema_by_id(&subject.context, id).await?;
        Ok(SubjectSchema {
            subject: subject.clone(),
            version,
            deleted: false,
            schema,
        })
    }

    /// A registration inside a write session that holds `subject` (and, shared, the subjects
    /// its references name); the caller commits. Schemas it inserts are held in `scope` until
    /// then, so nothing uncommitted reaches the caches.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn register_in(
        &self,
        s: &mut dyn Session,
        scope: &mut Uncommitted<'_>,
        subject: &QualifiedSubject,
        mut input: SchemaInput,
        normalize: bool,
        force: bool,
        actor: &Actor,
    ) -> Result<Registration> {
        check_input(subject, &input)?;
        self.within_size(&input)?;
        let versions = s.versions(subject).await?;
        let live: Vec<&VersionRecord> = versions.iter().filter(|v| !v.deleted).collect();
        let mode = self.mode_in_scope(s, subject).await?;
        let config = self.config_in_scope(s, subject).await?;
        let normalize = normalize || config.options.normalize.unwrap_or(false);
        let level = config
            .compatibility_level
            .unwrap_or(self.settings.default_compatibility);

        let previous = match live.last() {
            Some(v) => self.load_schema(s, &subject.context, v.schema_id).await?,
            None => None,
        };
        if input.schema.trim().is_empty() {
            let prev = previous.as_ref().filter(|_| !mode.is_import());
            let prev = prev.ok_or_else(|| RegistryError::InvalidSchema("Empty schema".into()))?;
            input.schema = prev.schema.clone();
            input.schema_type = Some(prev.schema_type);
            input.references = prev.references.clone();
        }
        // Hold the referenced subjects (shared, in a fixed order) before resolving them, so a
        // delete of a referenced version cannot commit between resolution and our insert.
        let referenced = referenced_subjects(subject, &input.references);
        for target in &referenced {
            s.lock_shared(target).await?;
        }
        let schema_type = input.schema_type.unwrap_or(SchemaType::Avro);
        let (resolved, edges, refs) = self
            .resolve_references(s, &subject.context, &input.references)
            .await?;
        let parsed = self
            .parse_bounded(schema_type, &input.schema, resolved)
            .await?;
        let (text, chash) = stored_text_and_hash(parsed.as_ref(), normalize, &refs);

        // Re-registering what the subject already has returns it, in any mode.
        if input.id.is_none() {
            let mut candidates = s.versions_with_content(subject, &chash).await?;
            if candidates.is_empty() && normalize {
                // Versions registered without normalize match on their normalized form.
                for v in live.iter() {
                    if let Some(p) = self.parsed_version(s, v).await? {
                        if p.normalized() == text {
                            candidates.push((*v).clone());
                        }
                    }
                }
            }
            for v in candidates.into_iter().rev() {
                if v.deleted {
                    continue;
                }
                let Some(schema) = self.load_schema(s, &subject.context, v.schema_id).await? else {
                    continue;
                };
                let same_meta = input
                    .metadata
                    .as_ref()
                    .is_none_or(|m| schema.metadata.as_ref() == Some(m));
                let same_rules = input
                    .rule_set
                    .as_ref()
                    .is_none_or(|r| schema.rule_set.as_ref() == Some(r));
                if same_meta && same_rules {
                    return Ok(Registration::existing(subject, v.version, schema, level));
                }
            }
        }

        check_mode(subject, mode, input.id.is_some())?;

        let metadata = merge_json(
            merge_json(
                config.options.default_metadata.clone(),
                input
                    .metadata
                    .clone()
                    .or_else(|| previous.as_ref().and_then(|p| p.metadata.clone())),
            ),
            config.options.override_metadata.clone(),
        );
        let rule_set = merge_json(
            merge_json(
                config.options.default_rule_set.clone(),
                input
                    .rule_set
                    .clone()
                    .or_else(|| previous.as_ref().and_then(|p| p.rule_set.clone())),
            ),
            config.options.override_rule_set.clone(),
        );
        let fp = fingerprint(&chash, metadata.as_ref(), rule_set.as_ref());
        let existing = s.schema_by_fingerprint(&subject.context, &fp).await?;
        if let Some(e) = &existing {
            if let Some(v) = live.iter().rev().find(|v| v.schema_id == e.id) {
                if input.id.is_none_or(|id| id == e.id) {
                    return Ok(Registration::existing(
                        subject,
                        v.version,
                        Arc::new(e.clone()),
                        level,
                    ));
                }
            }
        }

        if !(mode.is_import() || force) {
            let group = config
                .options
                .compatibility_group
                .as_deref()
                .map(|g| group_value(metadata.as_ref(), g));
            let mut against: Vec<&VersionRecord> = Vec::new();
            for v in &live {
                if let Some(g) = &group {
                    let theirs = self.load_schema(s, &subject.context, v.schema_id).await?;
                    let name = config
                        .options
                        .compatibility_group
                        .as_deref()
                        .unwrap_or_default();
                    if theirs.map(|t| group_value(t.metadata.as_ref(), name)) != Some(g.clone()) {
                        continue;
                    }
                }
                against.push(v);
            }
            let messages = self
                .check_against(s, level, (parsed.clone(), metadata.clone()), &against)
                .await?;
            if !messages.is_empty() {
                return Err(RegistryError::Incompatible {
                    subject: subject.display_name(),
                    messages,
                });
            }
        }

        // The largest version number is the wire format's largest; past it the subject is full
        // (rather than wrapping to a negative number).
        let next = versions
            .iter()
            .map(|v| v.version)
            .max()
            .unwrap_or(0)
            .checked_add(1);
        let full = || {
            RegistryError::OperationNotPermitted(format!(
                "Subject {} has used every version number up to {}",
                subject.display_name(),
                i32::MAX
            ))
        };
        let version = match input.version {
            Some(v) if mode.is_import() && v > 0 => {
                if versions.iter().any(|x| x.version == v) {
                    return Err(RegistryError::OperationNotPermitted(format!(
                        "Version {v} of subject {} already exists",
                        subject.display_name()
                    )));
                }
                v
            }
            Some(v) if v > 0 && Some(v) != next => {
                return Err(RegistryError::InvalidSchema(
                    "Version is not one more than previous version".into(),
                ))
            }
            _ => next.ok_or_else(full)?,
        };

        let mut record = SchemaRecord {
            context: subject.context.clone(),
            id: 0,
            schema_type,
            schema: text,
            references: refs,
            metadata,
            rule_set,
            fingerprint: fp,
            content_hash: chash,
            created_at: now_millis(),
        };
        record.id = match (existing, input.id) {
            (Some(e), Some(id)) if e.id != id => {
                return Err(RegistryError::IdMismatch(format!(
                    "The ID of an imported schema does not match the existing ID: schema is registered with id {}, the request says {id}",
                    e.id
                )))
            }
            (Some(e), _) => e.id,
            (None, Some(id)) => {
                scope.hold(&subject.context, id);
                if !s.insert_schema(&record_with_id(&record, id), &edges).await? {
                    return Err(RegistryError::IdMismatch(format!(
                        "The ID of an imported schema does not match the existing ID: id {id} holds another schema"
                    )));
                }
                s.reserve_id(&subject.context, id).await?;
                id
            }
            (None, None) => self.insert_new_schema(s, scope, &record, &edges).await?,
        };

        s.insert_version(&VersionRecord {
            subject: subject.clone(),
            version,
            schema_id: record.id,
            deleted: false,
            created_at: record.created_at,
        })
        .await?;
        // As the reference registry: older soft-deleted versions of this subject holding the
        // same schema are tombstoned (removed for good), unless another schema references them.
        let mut tombstoned = Vec::new();
        for v in versions
            .iter()
            .filter(|v| v.deleted && v.schema_id == record.id && v.version != version)
        {
            if s.referrers(subject, v.version).await?.is_empty() {
                tombstoned.push(v.version);
            }
        }
        if !tombstoned.is_empty() {
            s.hard_delete(subject, &tombstoned).await?;
        }
        let mut after =
            serde_json::json!({"version": version, "id": record.id, "schemaType": schema_type});
        if !tombstoned.is_empty() {
            after["tombstoned"] = serde_json::json!(tombstoned);
        }
        s.insert_audit(&actor.record(
            "subject.register",
            Some(subject),
            format!("{}/versions/{version}", subject.display_name()),
            None,
            Some(after),
        ))
        .await?;
        let previous = match live.last() {
            Some(v) => self.parsed_version(s, v).await?,
            None => None,
        };
        Ok(Registration {
            registered: SubjectSchema {
                subject: subject.clone(),
                version,
                deleted: false,
                schema: Arc::new(record),
            },
            created: true,
            level,
            schema: Some(parsed),
            previous,
        })
    }

    /// Inserts a new schema under a fresh id. When another writer inserted the same schema
    /// meanwhile (another subject), its id is used instead.
    /// In a provisional scope (a plan, rolled back) the id is a negative one of this process's,
    /// so a plan neither takes nor waits for the context's id counter.
    async fn insert_new_schema(
        &self,
        s: &mut dyn Session,
        scope: &mut Uncommitted<'_>,
        record: &SchemaRecord,
        edges: &[crate::storage::ReferenceEdge],
    ) -> Result<i64> {
        for _ in 0..ID_ATTEMPTS {
            let id = if scope.provisional {
                self.provisional_id()
            } else {
                let id = s.allocate_id(&record.context).await?;
                if id > i64::from(i32::MAX) {
                    // The sequence ran past the wire format's range (after an import of a very
                    // large id): take the lowest free id instead, so the context keeps working.
                    s.lowest_free_id(&record.context).await?.ok_or_else(|| {
                        RegistryError::OperationNotPermitted(format!(
                            "Every schema id up to {} is in use in this context",
                            i32::MAX
                        ))
                    })?
                } else {
                    id
                }
            };
            scope.hold(&record.context, id);
            if s.insert_schema(&record_with_id(record, id), edges).await? {
                return Ok(id);
            }
            if let Some(e) = s
                .schema_by_fingerprint(&record.context, &record.fingerprint)
                .await?
            {
                return Ok(e.id);
            }
        }
        Err(RegistryError::Store(crate::storage::StoreError::Corrupt(
            "no free schema id found".into(),
        )))
    }

    /// `POST /compatibility/subjects/{subject}/versions[/{version}]`. Returns whether the
    /// schema is compatible and, for failures, the messages. (Normalization cannot change a
    /// verdict: compatibility compares meaning, not text.)
    pub async fn test_compatibility(
        &self,
        subject: &QualifiedSubject,
        version: Option<VersionId>,
        input: SchemaInput,
        verbose: bool,
    ) -> Result<(bool, Vec<String>)> {
        self.within_size(&input)?;
        let mut session = self.store.read().await?;
        let s = session.as_mut();
        let versions = s.versions(subject).await?;
        // As the reference registry: with no live version, `latest` has nothing to break (the
        // schema is still parsed below) and a numbered version is not found.
        let no_live_version = versions.iter().all(|v| v.deleted);
        let against: Vec<VersionRecord> = match version {
            Some(VersionId::Latest) if no_live_version => vec![],
            Some(VersionId::Number(n)) if no_live_version => {
                return Err(RegistryError::VersionNotFound(n.to_string()))
            }
            Some(id) => vec![pick_version(subject, &versions, id, false)?],
            None => versions.into_iter().filter(|v| !v.deleted).collect(),
        };
        let config = self.config_in_scope(s, subject).await?;
        // Through the parse cache: a client checks the same schema again and again.
        let parsed = match self.parse_input(s, &subject.context, &input).await {
            Ok((p, _)) => p,
            Err(RegistryError::InvalidSchema(msg)) if verbose => return Ok((false, vec![msg])),
            Err(e) => return Err(e),
        };
        let against: Vec<&VersionRecord> = against.iter().collect();
        let level = config
            .compatibility_level
            .unwrap_or(self.settings.default_compatibility);
        // The metadata the schema would be registered with: its own, else the latest version's.
        let latest_metadata = match against.last() {
            Some(v) => self
                .load_schema(s, &v.subject.context, v.schema_id)
                .await?
                .and_then(|r| r.metadata.clone()),
            None => None,
        };
        let metadata = input.metadata.clone().or(latest_metadata);
        let messages = self
            .check_against(s, level, (parsed.clone(), metadata.clone()), &against)
            .await?;
        Ok((messages.is_empty(), if verbose { messages } else { vec![] }))
    }

    /// Runs `level` for `new` against `versions` (ascending, live), parsing them through the
    /// cache; returns the messages (empty: compatible). The comparison runs on the blocking
    /// pool, within the work limits.
    async fn check_against(
        &self,
        s: &mut dyn Session,
        level: crate::types::CompatibilityLevel,
        new: (Arc<dyn ParsedSchema>, Option<Value>),
        versions: &[&VersionRecord],
    ) -> Result<Vec<String>> {
        let mut parsed: Vec<(i32, Arc<dyn ParsedSchema>, Option<Value>)> = Vec::new();
        for v in versions {
            if let Some(p) = self.parsed_version(s, v).await? {
                let metadata = self
                    .load_schema(s, &v.subject.context, v.schema_id)
                    .await?
                    .and_then(|r| r.metadata.clone());
                parsed.push((v.version, p, metadata));
            }
        }
        if parsed.is_empty() {
            return Ok(Vec::new());
        }
        let bytes = parsed.iter().fold(new.0.canonical().len(), |n, (_, p, _)| {
            n.saturating_add(p.canonical().len())
        });
        let job = move || {
            let previous: Vec<Previous> = parsed
                .iter()
                .map(|(version, schema, metadata)| Previous {
                    version: *version,
                    schema: schema.as_ref(),
                    metadata: metadata.as_ref(),
                })
                .collect();
            compat::check_with_metadata(level, new.0.as_ref(), new.1.as_ref(), &previous)
        };
        self.workers
            .run(bytes.saturating_mul(4).saturating_add(64 * 1024), job)
            .await
    }

    /// `DELETE /subjects/{subject}/versions/{version}`.
    pub async fn delete_version(
        &self,
        subject: &QualifiedSubject,
        version: VersionId,
        permanent: bool,
        actor: &Actor,
    ) -> Result<i32> {
        let mut session = self.store.write(subject).await?;
        let s = session.as_mut();
        if self.mode_in_scope(s, subject).await?.is_read_only() {
            return Err(read_only(subject));
        }
        let versions = s.versions(subject).await?;
        // `latest` is the newest live version for a soft delete; a numbered version is found
        // even when soft-deleted, so a second soft delete answers 40406 rather than 40402.
        let include_deleted = permanent || matches!(version, VersionId::Number(_));
        let v = pick_version(subject, &versions, version, include_deleted)?;
        if permanent && !v.deleted {
            return Err(RegistryError::VersionNotSoftDeleted(
                subject.display_name(),
                v.version,
            ));
        }
        if !permanent && v.deleted {
            return Err(RegistryError::VersionSoftDeleted(
                subject.display_name(),
                v.version,
            ));
        }
        self.refuse_if_referenced(s, subject, std::slice::from_ref(&v), permanent)
            .await?;
        s.insert_audit(&actor.record(
            if permanent {
                "subject.version.delete.permanent"
            } else {
                "subject.version.delete"
            },
            Some(subject),
            format!("{}/versions/{}", subject.display_name(), v.version),
            Some(
                serde_json::json!({"version": v.version, "id": v.schema_id, "deleted": v.deleted}),
            ),
            (!permanent).then(
                || serde_json::json!({"version": v.version, "id": v.schema_id, "deleted": true}),
            ),
        ))
        .await?;
        if permanent {
            s.hard_delete(subject, &[v.version]).await?;
            let gone = s
                .delete_schema_if_unused(&subject.context, v.schema_id)
                .await?;
            if versions.len() == 1 {
                s.delete_config(&subject.scope()).await?;
                s.delete_mode(&subject.scope()).await?;
            }
            session.commit().await?;
            if gone {
                self.forget_schema(&subject.context, v.schema_id);
            }
        } else {
            s.soft_delete(subject, &[v.version]).await?;
            session.commit().await?;
        }
        tracing::info!(subject = %subject, version = v.version, permanent, "version deleted");
        Ok(v.version)
    }

    /// `DELETE /subjects/{subject}`: soft-deletes every live version, or with `permanent`
    /// removes every (already soft-deleted) version.
    pub async fn delete_subject(
        &self,
        subject: &QualifiedSubject,
        permanent: bool,
        actor: &Actor,
    ) -> Result<Vec<i32>> {
        let mut session = self.store.write(subject).await?;
        let s = session.as_mut();
        if self.mode_in_scope(s, subject).await?.is_read_only() {
            return Err(read_only(subject));
        }
        let versions = s.versions(subject).await?;
        if versions.is_empty() {
            return Err(RegistryError::SubjectNotFound(subject.display_name()));
        }
        let live: Vec<VersionRecord> = versions.iter().filter(|v| !v.deleted).cloned().collect();
        let numbers: Vec<i32>;
        if permanent {
            if !live.is_empty() {
                return Err(RegistryError::SubjectNotSoftDeleted(subject.display_name()));
            }
            self.refuse_if_referenced(s, subject, &versions, true)
                .await?;
            numbers = versions.iter().map(|v| v.version).collect();
            s.hard_delete(subject, &numbers).await?;
            let mut gone = Vec::new();
            for v in &versions {
                if s.delete_schema_if_unused(&subject.context, v.schema_id)
                    .await?
                {
                    gone.push(v.schema_id);
                }
            }
            s.delete_config(&subject.scope()).await?;
            s.delete_mode(&subject.scope()).await?;
            s.insert_audit(&actor.record(
                "subject.delete.permanent",
                Some(subject),
                subject.display_name(),
                Some(serde_json::json!({"versions": numbers})),
                Some(serde_json::json!({"removedSchemaIds": gone})),
            ))
            .await?;
            session.commit().await?;
            for id in gone {
                self.forget_schema(&subject.context, id);
            }
        } else {
            if live.is_empty() {
                return Err(RegistryError::SubjectSoftDeleted(subject.display_name()));
            }
            self.refuse_if_referenced(s, subject, &live, false).await?;
            numbers = live.iter().map(|v| v.version).collect();
            s.soft_delete(subject, &numbers).await?;
            s.insert_audit(&actor.record(
                "subject.delete",
                Some(subject),
                subject.display_name(),
                Some(serde_json::json!({"versions": numbers})),
                Some(serde_json::json!({"deleted": numbers})),
            ))
            .await?;
            session.commit().await?;
        }
        tracing::info!(subject = %subject, versions = ?numbers, permanent, "subject deleted");
        Ok(numbers)
    }

    /// 42206 when another subject's schema still references one of `versions`: a live one for
    /// a soft delete, any for a permanent delete (the referrer must stay readable by id).
    async fn refuse_if_referenced(
        &self,
        s: &mut dyn Session,
        subject: &QualifiedSubject,
        versions: &[VersionRecord],
        permanent: bool,
    ) -> Result<()> {
        let own_ids: Vec<i64> = s
            .versions(subject)
            .await?
            .iter()
            .map(|v| v.schema_id)
            .collect();
        for v in versions {
            for (id, live) in s.referrers(subject, v.version).await? {
                let from_self = own_ids.contains(&id);
                if !from_self && (live || permanent) {
                    return Err(RegistryError::ReferenceExists {
                        subject: subject.display_name(),
                        version: v.version,
                    });
                }
            }
        }
        Ok(())
    }
}

/// What [`Registry::register_in`] did: `created` when it wrote a new version.
pub(crate) struct Registration {
    pub registered: SubjectSchema,
    pub created: bool,
    /// The level the subject's registrations are checked at.
    pub level: crate::types::CompatibilityLevel,
    /// For a new version: the schema as parsed, and the latest live version it follows (what
    /// governance lints).
    pub schema: Option<Arc<dyn ParsedSchema>>,
    pub previous: Option<Arc<dyn ParsedSchema>>,
}

impl Registration {
    fn existing(
        subject: &QualifiedSubject,
        version: i32,
        schema: Arc<SchemaRecord>,
        level: crate::types::CompatibilityLevel,
    ) -> Self {
        Self {
            registered: SubjectSchema {
                subject: subject.clone(),
                version,
                deleted: false,
                schema,
            },
            created: false,
            level,
            schema: None,
            previous: None,
        }
    }
}

/// Schemas a write session inserted and has not committed yet: kept out of the registry's
/// caches (a rollback would leave them there, and ids are handed out again) until the scope
/// drops, after the commit or the rollback.
pub(crate) struct Uncommitted<'a> {
    registry: &'a Registry,
    /// Plans: new schemas take provisional (negative) ids.
    pub provisional: bool,
    keys: Vec<(String, i64)>,
}

impl Uncommitted<'_> {
    fn hold(&mut self, context: &str, id: i64) {
        let key = (context.to_owned(), id);
        if let Ok(mut pending) = self.registry.pending.lock() {
            *pending.entry(key.clone()).or_insert(0) += 1;
        }
        self.keys.push(key);
    }
}

impl Drop for Uncommitted<'_> {
    fn drop(&mut self) {
        if self.keys.is_empty() {
            return;
        }
        if let Ok(mut pending) = self.registry.pending.lock() {
            for key in self.keys.drain(..) {
                if let Some(n) = pending.get_mut(&key) {
                    *n -= 1;
                    if *n == 0 {
                        pending.remove(&key);
                    }
                }
            }
        }
    }
}

impl Registry {
    /// A scope for the schemas a write session is about to insert.
    pub(crate) fn uncommitted(&self, provisional: bool) -> Uncommitted<'_> {
        Uncommitted {
            registry: self,
            provisional,
            keys: Vec::new(),
        }
    }

    /// Whether schema `id` was inserted by a session that has not committed (not to be cached).
    pub(super) fn is_uncommitted(&self, context: &str, id: i64) -> bool {
        self.pending.lock().map_or(true, |p| {
            !p.is_empty() && p.contains_key(&(context.to_owned(), id))
        })
    }

    fn provisional_id(&self) -> i64 {
        self.provisional
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed)
    }
}

/// The checks on a registration's input before any lock is taken.
fn check_input(subject: &QualifiedSubject, input: &SchemaInput) -> Result<()> {
    if subject.is_context_only() {
        return Err(crate::types::InvalidSubject(subject.display_name()).into());
    }
    validate_rule_set(input.rule_set.as_ref())
}

/// The other subjects a registration's references name, sorted (held shared while it runs).
pub(crate) fn referenced_subjects(
    subject: &QualifiedSubject,
    references: &[crate::types::SchemaReference],
) -> Vec<QualifiedSubject> {
    let mut referenced: Vec<QualifiedSubject> = references
        .iter()
        .filter_map(|r| QualifiedSubject::parse_in(&r.subject, &subject.context).ok())
        .filter(|t| t != subject)
        .collect();
    referenced.sort();
    referenced.dedup();
    referenced
}

fn record_with_id(record: &SchemaRecord, id: i64) -> SchemaRecord {
    SchemaRecord {
        id,
        ..record.clone()
    }
}

fn read_only(subject: &QualifiedSubject) -> RegistryError {
    RegistryError::OperationNotPermitted(format!(
        "Subject {} is in read-only mode",
        subject.display_name()
    ))
}

/// Which writes a mode allows: none in READONLY; explicit ids only in IMPORT or FORWARD, where
/// they are also required.
fn check_mode(subject: &QualifiedSubject, mode: Mode, has_id: bool) -> Result<()> {
    let name = subject.display_name();
    if mode.is_read_only() {
        return Err(RegistryError::OperationNotPermitted(format!(
            "Subject {name} is in read-only mode"
        )));
    }
    if has_id && !mode.is_import() {
        return Err(RegistryError::OperationNotPermitted(format!(
            "Subject {name} is not in import mode"
        )));
    }
    if !has_id && mode.is_import() {
        return Err(RegistryError::OperationNotPermitted(format!(
            "Subject {name} is in {} mode: registrations must carry an explicit id",
            mode.as_str()
        )));
    }
    Ok(())
}

/// The value of the compatibility-group property in a schema's metadata.
fn group_value(metadata: Option<&Value>, name: &str) -> String {
    metadata
        .and_then(|m| m.get("properties"))
        .and_then(|p| p.get(name))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// Deep merge for metadata and rule sets: objects merge key by key (overlay wins), arrays are
/// unioned, anything else is replaced.
fn merge_json(base: Option<Value>, overlay: Option<Value>) -> Option<Value> {
    match (base, overlay) {
        (None, o) => o,
        (b, None) => b,
        (Some(Value::Object(mut b)), Some(Value::Object(o))) => {
            for (k, v) in o {
                let merged = merge_json(b.remove(&k), Some(v));
                if let Some(m) = merged {
                    b.insert(k, m);
                }
            }
            Some(Value::Object(b))
        }
        (Some(Value::Array(mut b)), Some(Value::Array(o))) => {
            for v in o {
                if !b.contains(&v) {
                    b.push(v);
                }
            }
            Some(Value::Array(b))
        }
        (_, o) => o,
    }
}

/// The shape checks the reference asks of a ruleSet (42210): rule lists of objects, each named
/// with a letter or `_` then letters, digits, `_` or `-`, names unique within the set.
fn validate_rule_set(rule_set: Option<&Value>) -> Result<()> {
    let Some(rs) = rule_set else { return Ok(()) };
    let bad = |m: String| Err(RegistryError::InvalidRuleSet(m));
    let Value::Object(map) = rs else {
        return bad("ruleSet must be an object".into());
    };
    let mut names = std::collections::HashSet::new();
    for kind in ["domainRules", "migrationRules", "encodingRules"] {
        let Some(rules) = map.get(kind) else { continue };
        let Value::Array(rules) = rules else {
            return bad(format!("{kind} must be an array"));
        };
        for rule in rules {
            let name = rule.get("name").and_then(Value::as_str).unwrap_or_default();
            let mut chars = name.chars();
            let valid = matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !valid {
                return bad(format!("invalid rule name '{name}'"));
            }
            if !names.insert(name.to_owned()) {
                return bad(format!("duplicate rule name '{name}'"));
            }
        }
    }
    Ok(())
}
