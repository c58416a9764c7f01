//! The SQL both backends share. Queries use `$N` placeholders, which PostgreSQL and sqlx's
//! SQLite driver both understand, and only syntax both dialects have (`ON CONFLICT`,
//! `RETURNING`, `CAST`). The [`Session`] implementation is written once, in `impl_session!`,
//! and instantiated per backend: generic code over `sqlx::Database` would need a wall of
//! higher-ranked bounds for every column type.

use std::collections::HashMap;

use sqlx::pool::PoolConnection;
use sqlx::{Database, Transaction};
use tokio::sync::OwnedMutexGuard;

use super::{SchemaRecord, StoreError, StoreResult, VersionRecord};
use crate::types::{QualifiedSubject, SchemaType};

/// A session's connection: a plain pooled one for reads, a transaction for writes.
pub(super) enum Conn<DB: Database> {
    Pooled(PoolConnection<DB>),
    Tx(Transaction<'static, DB>),
}

/// A [`super::Session`] over one backend.
pub(super) struct SqlSession<DB: Database> {
    pub(super) conn: Conn<DB>,
    /// Held by SQLite write sessions: serialises writers inside this process so they queue
    /// fairly instead of spinning on the database's busy handler.
    pub(super) _guard: Option<OwnedMutexGuard<()>>,
    /// Whether audited changes also append their change-log entry (off only when the operator
    /// turned the change log off).
    pub(super) log_changes: bool,
    /// Set when this transaction appended a change-log entry.
    pub(super) appended: bool,
    /// Run after a commit that appended one (PostgreSQL: number the waiting entries).
    pub(super) after_commit: Option<AfterCommit>,
    /// The subject lock keys this transaction holds (exclusively or shared): taking one of
    /// them shared again is a no-op, not a round trip.
    pub(super) held: std::collections::HashSet<String>,
    /// What this session has read of the subjects it decides, once
    /// [`crate::storage::Session::remember`] asked.
    pub(super) memo: Option<Memo>,
    /// Audit records and change-log entries are not written: the session will be rolled back.
    pub(super) discard: bool,
}

/// What a session deciding many subjects has read (or written) of them. Settings by scope
/// (`None`: there is none); the subjects' versions, and the content hashes of schemas by
/// `(context, id)`, kept current with the session's own writes.
#[derive(Default)]
pub(super) struct Memo {
    pub(super) modes: HashMap<String, Option<String>>,
    pub(super) configs: HashMap<String, Option<String>>,
    pub(super) governance: HashMap<String, Option<serde_json::Value>>,
    pub(super) versions: HashMap<QualifiedSubject, Vec<VersionRecord>>,
    pub(super) hashes: HashMap<(String, i64), String>,
    /// Schemas this session inserted (later items of a change set reference them).
    pub(super) inserted: HashMap<(String, i64), SchemaRecord>,
}

impl Memo {
    /// `subject`'s versions holding content `hash`, when every one of its versions is known.
    fn versions_with_content(
        &self,
        subject: &QualifiedSubject,
        hash: &str,
    ) -> Option<Vec<VersionRecord>> {
        let versions = self.versions.get(subject)?;
        let mut out = Vec::new();
        for v in versions {
            let known = self.hashes.get(&(v.subject.context.clone(), v.schema_id))?;
            if known == hash {
                out.push(v.clone());
            }
        }
        Some(out)
    }
}

/// Work to do once a transaction that appended to the change log has committed.
pub(super) type AfterCommit =
    Box<dyn FnOnce() -> futures::future::BoxFuture<'static, ()> + Send + Sync>;

impl<DB: Database> SqlSession<DB> {
    pub(super) fn conn(&mut self) -> &mut DB::Connection {
        match &mut self.conn {
            Conn::Pooled(c) => c,
            Conn::Tx(t) => t,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct SchemaRow {
    context: String,
    id: i64,
    schema_type: String,
    schema_text: String,
    refs: String,
    metadata: Option<String>,
    rule_set: Option<String>,
    fingerprint: String,
    content_hash: String,
    created_at: i64,
}

impl TryFrom<SchemaRow> for SchemaRecord {
    type Error = StoreError;
    fn try_from(r: SchemaRow) -> StoreResult<Self> {
        let corrupt = |what: &str, e: &dyn std::fmt::Display| {
            StoreError::Corrupt(format!("schema {} in {}: {what}: {e}", r.id, r.context))
        };
        let json = |s: Option<String>| -> StoreResult<Option<serde_json::Value>> {
            s.map(|s| serde_json::from_str(&s))
                .transpose()
                .map_err(|e| corrupt("json", &e))
        };
        Ok(SchemaRecord {
            schema_type: r
                .schema_type
                .parse::<SchemaType>()
                .map_err(|e| corrupt("type", &e))?,
            references: serde_json::from_str(&r.refs).map_err(|e| corrupt("references", &e))?,
            metadata: json(r.metadata.clone())?,
            rule_set: json(r.rule_set.clone())?,
            context: r.context,
            id: r.id,
            schema: r.schema_text,
            fingerprint: r.fingerprint,
            content_hash: r.content_hash,
            created_at: r.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct VersionRow {
    context: String,
    subject: String,
    version: i32,
    schema_id: i64,
    deleted: bool,
    created_at: i64,
}

impl From<VersionRow> for VersionRecord {
    fn from(r: VersionRow) -> Self {
        VersionRecord {
            subject: QualifiedSubject {
                context: r.context,
                name: r.subject,
            },
            version: r.version,
            schema_id: r.schema_id,
            deleted: r.deleted,
            created_at: r.created_at,
        }
    }
}

pub(super) const SCHEMA_COLUMNS: &str = "context, id, schema_type, schema_text, refs, metadata, \
     rule_set, fingerprint, content_hash, created_at";
pub(super) const VERSION_COLUMNS: &str =
    "context, subject, version, schema_id, deleted, created_at";

macro_rules! impl_session {
    ($db:ty, $shared_lock:expr, $json_texts:expr) => {
        #[async_trait::async_trait]
        impl $crate::storage::Session for $crate::storage::sql::SqlSession<$db> {
            async fn schema_by_id(
                &mut self,
                context: &str,
                id: i64,
            ) -> StoreResult<Option<SchemaRecord>> {
                if let Some(known) =
                    self.memo.as_ref().and_then(|m| m.inserted.get(&(context.to_owned(), id)))
                {
                    return Ok(Some(known.clone()));
                }
                let q = format!("SELECT {SCHEMA_COLUMNS} FROM schemas WHERE context = $1 AND id = $2");
                let row: Option<SchemaRow> =
                    sqlx::query_as(&q).bind(context).bind(id).fetch_optional(self.conn()).await?;
                let found = row.map(SchemaRecord::try_from).transpose()?;
                if let (Some(m), Some(r)) = (&mut self.memo, &found) {
                    m.hashes.insert((r.context.clone(), r.id), r.content_hash.clone());
                }
                Ok(found)
            }

            async fn schema_by_fingerprint(
                &mut self,
                context: &str,
                fingerprint: &str,
            ) -> StoreResult<Option<SchemaRecord>> {
                let q = format!(
                    "SELECT {SCHEMA_COLUMNS} FROM schemas WHERE context = $1 AND fingerprint = $2"
                );
                let row: Option<SchemaRow> = sqlx::query_as(&q)
                    .bind(context)
                    .bind(fingerprint)
                    .fetch_optional(self.conn())
                    .await?;
                row.map(SchemaRecord::try_from).transpose()
            }

            async fn schemas_by_fingerprint_prefix(
                &mut self,
                prefix: &str,
            ) -> StoreResult<Vec<SchemaRecord>> {
                // Hex digits sort below 'g': [prefix, prefix + "g") is every extension.
                let q = format!(
                    "SELECT {SCHEMA_COLUMNS} FROM schemas WHERE fingerprint >= $1 AND fingerprint < $2 \
                     ORDER BY context, id"
                );
                let rows: Vec<SchemaRow> = sqlx::query_as(&q)
                    .bind(prefix)
                    .bind(format!("{prefix}g"))
                    .fetch_all(self.conn())
                    .await?;
                rows.into_iter().map(SchemaRecord::try_from).collect()
            }

            async fn versions_with_content(
                &mut self,
                subject: &QualifiedSubject,
                content_hash: &str,
            ) -> StoreResult<Vec<VersionRecord>> {
                if let Some(known) =
                    self.memo.as_ref().and_then(|m| m.versions_with_content(subject, content_hash))
                {
                    return Ok(known);
                }
                let q = "SELECT v.context, v.subject, v.version, v.schema_id, v.deleted, v.created_at \
                     FROM subject_versions v JOIN schemas s ON s.context = v.context AND s.id = v.schema_id \
                     WHERE v.context = $1 AND v.subject = $2 AND s.content_hash = $3 ORDER BY v.version";
                let rows: Vec<VersionRow> = sqlx::query_as(q)
                    .bind(&subject.context)
                    .bind(&subject.name)
                    .bind(content_hash)
                    .fetch_all(self.conn())
                    .await?;
                Ok(rows.into_iter().map(VersionRecord::from).collect())
            }

            async fn versions(&mut self, subject: &QualifiedSubject) -> StoreResult<Vec<VersionRecord>> {
                if let Some(known) = self.memo.as_ref().and_then(|m| m.versions.get(subject)) {
                    return Ok(known.clone());
                }
                let q = format!(
                    "SELECT {VERSION_COLUMNS} FROM subject_versions \
                     WHERE context = $1 AND subject = $2 ORDER BY version"
                );
                let rows: Vec<VersionRow> = sqlx::query_as(&q)
                    .bind(&subject.context)
                    .bind(&subject.name)
                    .fetch_all(self.conn())
                    .await?;
                let found: Vec<VersionRecord> = rows.into_iter().map(VersionRecord::from).collect();
                if let Some(m) = &mut self.memo {
                    m.versions.insert(subject.clone(), found.clone());
                }
                Ok(found)
            }

            async fn all_versions(&mut self, context: Option<&str>) -> StoreResult<Vec<VersionRecord>> {
                let q = format!(
                    "SELECT {VERSION_COLUMNS} FROM subject_versions \
                     WHERE (CAST($1 AS TEXT) IS NULL OR context = $1) ORDER BY context, subject, version"
                );
                let rows: Vec<VersionRow> =
                    sqlx::query_as(&q).bind(context).fetch_all(self.conn()).await?;
                Ok(rows.into_iter().map(VersionRecord::from).collect())
            }

            async fn subjects(&mut self, context: Option<&str>) -> StoreResult<Vec<SubjectSummary>> {
                let q = "SELECT context, subject, \
                       CAST(SUM(CASE WHEN deleted THEN 0 ELSE 1 END) AS BIGINT), \
                       CAST(SUM(CASE WHEN deleted THEN 1 ELSE 0 END) AS BIGINT) \
                     FROM subject_versions WHERE (CAST($1 AS TEXT) IS NULL OR context = $1) \
                     GROUP BY context, subject ORDER BY context, subject";
                let rows: Vec<(String, String, i64, i64)> =
                    sqlx::query_as(q).bind(context).fetch_all(self.conn()).await?;
                Ok(rows
                    .into_iter()
                    .map(|(context, name, live, dead)| SubjectSummary {
                        subject: QualifiedSubject { context, name },
                        live_versions: live,
                        deleted_versions: dead,
                    })
                    .collect())
            }

            async fn usages(&mut self, context: &str, id: i64) -> StoreResult<Vec<VersionRecord>> {
                let q = format!(
                    "SELECT {VERSION_COLUMNS} FROM subject_versions \
                     WHERE context = $1 AND schema_id = $2 ORDER BY subject, version"
                );
                let rows: Vec<VersionRow> =
                    sqlx::query_as(&q).bind(context).bind(id).fetch_all(self.conn()).await?;
                Ok(rows.into_iter().map(VersionRecord::from).collect())
            }

            async fn referrers(
                &mut self,
                subject: &QualifiedSubject,
                version: i32,
            ) -> StoreResult<Vec<(i64, bool)>> {
                let q = "SELECT r.schema_id, \
                       CAST(COALESCE(MAX(CASE WHEN v.deleted = FALSE THEN 1 ELSE 0 END), 0) AS BIGINT) \
                     FROM schema_references r LEFT JOIN subject_versions v \
                       ON v.context = r.context AND v.schema_id = r.schema_id \
                     WHERE r.ref_context = $1 AND r.ref_subject = $2 AND r.ref_version = $3 \
                     GROUP BY r.schema_id ORDER BY r.schema_id";
                let rows: Vec<(i64, i64)> = sqlx::query_as(q)
                    .bind(&subject.context)
                    .bind(&subject.name)
                    .bind(version)
                    .fetch_all(self.conn())
                    .await?;
                Ok(rows.into_iter().map(|(id, live)| (id, live > 0)).collect())
            }

            async fn contexts(&mut self) -> StoreResult<Vec<String>> {
                let q = "SELECT DISTINCT context FROM subject_versions ORDER BY context";
                Ok(sqlx::query_scalar(q).fetch_all(self.conn()).await?)
            }

            async fn config(&mut self, scope: &str) -> StoreResult<Option<String>> {
                if let Some(hit) = self.memo.as_ref().and_then(|m| m.configs.get(scope)) {
                    return Ok(hit.clone());
                }
                let q = "SELECT body FROM configs WHERE scope = $1";
                let found: Option<String> =
                    sqlx::query_scalar(q).bind(scope).fetch_optional(self.conn()).await?;
                if let Some(m) = &mut self.memo {
                    m.configs.insert(scope.to_owned(), found.clone());
                }
                Ok(found)
            }

            async fn configs(&mut self, scopes: &[String]) -> StoreResult<Vec<(String, String)>> {
                // Remembered scopes are not asked again.
                let wanted: Vec<String> = match &self.memo {
                    Some(m) => scopes.iter().filter(|s| !m.configs.contains_key(*s)).cloned().collect(),
                    None => scopes.to_vec(),
                };
                // One round trip for the (at most three) scopes a subject's config merges.
                let mut out = Vec::new();
                for chunk in wanted.chunks(3) {
                    let q = "SELECT scope, body FROM configs WHERE scope IN ($1, $2, $3)";
                    let pick = |i: usize| chunk.get(i).or(chunk.first()).cloned().unwrap_or_default();
                    let rows: Vec<(String, String)> = sqlx::query_as(q)
                        .bind(pick(0))
                        .bind(pick(1))
                        .bind(pick(2))
                        .fetch_all(self.conn())
                        .await?;
                    out.extend(rows);
                }
                let Some(m) = &mut self.memo else {
                    return Ok(out);
                };
                for scope in wanted {
                    let body = out.iter().find(|(s, _)| *s == scope).map(|(_, b)| b.clone());
                    m.configs.insert(scope, body);
                }
                Ok(scopes
                    .iter()
                    .filter_map(|s| {
                        let body = m.configs.get(s).cloned().flatten()?;
                        Some((s.clone(), body))
                    })
                    .collect())
            }

            async fn put_config(&mut self, scope: &str, body: &str) -> StoreResult<()> {
                let q = "INSERT INTO configs (scope, body) VALUES ($1, $2) \
                     ON CONFLICT (scope) DO UPDATE SET body = excluded.body";
                sqlx::query(q).bind(scope).bind(body).execute(self.conn()).await?;
                if let Some(m) = &mut self.memo {
                    m.configs.insert(scope.to_owned(), Some(body.to_owned()));
                }
                Ok(())
            }

            async fn delete_config(&mut self, scope: &str) -> StoreResult<bool> {
                let q = "DELETE FROM configs WHERE scope = $1";
                let done = sqlx::query(q).bind(scope).execute(self.conn()).await?;
                if let Some(m) = &mut self.memo {
                    m.configs.insert(scope.to_owned(), None);
                }
                Ok(done.rows_affected() > 0)
            }

            async fn mode(&mut self, scope: &str) -> StoreResult<Option<String>> {
                if let Some(hit) = self.memo.as_ref().and_then(|m| m.modes.get(scope)) {
                    return Ok(hit.clone());
                }
                let q = "SELECT mode FROM modes WHERE scope = $1";
                let found: Option<String> =
                    sqlx::query_scalar(q).bind(scope).fetch_optional(self.conn()).await?;
                if let Some(m) = &mut self.memo {
                    m.modes.insert(scope.to_owned(), found.clone());
                }
                Ok(found)
            }

            async fn modes_with_prefix(&mut self, prefix: &str) -> StoreResult<Vec<(String, String)>> {
                let q = "SELECT scope, mode FROM modes ORDER BY scope";
                let rows: Vec<(String, String)> = sqlx::query_as(q).fetch_all(self.conn()).await?;
                Ok(rows.into_iter().filter(|(s, _)| s.starts_with(prefix)).collect())
            }

            async fn put_mode(&mut self, scope: &str, mode: &str) -> StoreResult<()> {
                let q = "INSERT INTO modes (scope, mode) VALUES ($1, $2) \
                     ON CONFLICT (scope) DO UPDATE SET mode = excluded.mode";
                sqlx::query(q).bind(scope).bind(mode).execute(self.conn()).await?;
                if let Some(m) = &mut self.memo {
                    m.modes.insert(scope.to_owned(), Some(mode.to_owned()));
                }
                Ok(())
            }

            async fn delete_mode(&mut self, scope: &str) -> StoreResult<bool> {
                let q = "DELETE FROM modes WHERE scope = $1";
                let done = sqlx::query(q).bind(scope).execute(self.conn()).await?;
                if let Some(m) = &mut self.memo {
                    m.modes.insert(scope.to_owned(), None);
                }
                Ok(done.rows_affected() > 0)
            }

            async fn allocate_id(&mut self, context: &str) -> StoreResult<i64> {
                let q = "INSERT INTO id_sequences (context, next_id) VALUES ($1, 2) \
                     ON CONFLICT (context) DO UPDATE SET next_id = id_sequences.next_id + 1 \
                     RETURNING next_id - 1";
                Ok(sqlx::query_scalar(q).bind(context).fetch_one(self.conn()).await?)
            }

            async fn reserve_id(&mut self, context: &str, used: i64) -> StoreResult<()> {
                let q = "INSERT INTO id_sequences (context, next_id) VALUES ($1, $2) \
                     ON CONFLICT (context) DO UPDATE SET next_id = CASE \
                       WHEN id_sequences.next_id > excluded.next_id THEN id_sequences.next_id \
                       ELSE excluded.next_id END";
                sqlx::query(q).bind(context).bind(used + 1).execute(self.conn()).await?;
                Ok(())
            }

            async fn lowest_free_id(&mut self, context: &str) -> StoreResult<Option<i64>> {
                // 1 when free, else the first id after a taken one that is itself free.
                let q = "SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM schemas WHERE context = $1 AND id = 1) \
                     THEN 1 ELSE (SELECT MIN(s.id) + 1 FROM schemas s WHERE s.context = $1 AND NOT EXISTS \
                     (SELECT 1 FROM schemas t WHERE t.context = $1 AND t.id = s.id + 1)) END";
                let id: Option<i64> = sqlx::query_scalar(q).bind(context).fetch_one(self.conn()).await?;
                Ok(id.filter(|id| *id <= i64::from(i32::MAX)))
            }

            async fn insert_schema(
                &mut self,
                s: &SchemaRecord,
                edges: &[ReferenceEdge],
            ) -> StoreResult<bool> {
                let refs = serde_json::to_string(&s.references)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                let q = format!(
                    "INSERT INTO schemas ({SCHEMA_COLUMNS}) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING"
                );
                let done = sqlx::query(&q)
                    .bind(&s.context)
                    .bind(s.id)
                    .bind(s.schema_type.as_str())
                    .bind(&s.schema)
                    .bind(refs)
                    .bind(s.metadata.as_ref().map(|v| v.to_string()))
                    .bind(s.rule_set.as_ref().map(|v| v.to_string()))
                    .bind(&s.fingerprint)
                    .bind(&s.content_hash)
                    .bind(s.created_at)
                    .execute(self.conn())
                    .await?;
                if done.rows_affected() == 0 {
                    return Ok(false);
                }
                if let Some(m) = &mut self.memo {
                    m.hashes.insert((s.context.clone(), s.id), s.content_hash.clone());
                    m.inserted.insert((s.context.clone(), s.id), s.clone());
                }
                for e in edges {
                    let q = "INSERT INTO schema_references \
                         (context, schema_id, name, ref_context, ref_subject, ref_version) \
                         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING";
                    sqlx::query(q)
                        .bind(&s.context)
                        .bind(s.id)
                        .bind(&e.name)
                        .bind(&e.target.context)
                        .bind(&e.target.name)
                        .bind(e.version)
                        .execute(self.conn())
                        .await?;
                }
                Ok(true)
            }

            async fn insert_version(&mut self, v: &VersionRecord) -> StoreResult<()> {
                let q = format!(
                    "INSERT INTO subject_versions ({VERSION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"
                );
                sqlx::query(&q)
                    .bind(&v.subject.context)
                    .bind(&v.subject.name)
                    .bind(v.version)
                    .bind(v.schema_id)
                    .bind(v.deleted)
                    .bind(v.created_at)
                    .execute(self.conn())
                    .await?;
                if let Some(known) = self.memo.as_mut().and_then(|m| m.versions.get_mut(&v.subject)) {
                    known.push(v.clone());
                    known.sort_by_key(|k| k.version);
                }
                Ok(())
            }

            async fn soft_delete(
                &mut self,
                subject: &QualifiedSubject,
                versions: &[i32],
            ) -> StoreResult<()> {
                if let Some(m) = &mut self.memo {
                    m.versions.remove(subject);
                }
                let q = "UPDATE subject_versions SET deleted = TRUE \
                     WHERE context = $1 AND subject = $2 AND version = $3";
                for v in versions {
                    sqlx::query(q)
                        .bind(&subject.context)
                        .bind(&subject.name)
                        .bind(*v)
                        .execute(self.conn())
                        .await?;
                }
                Ok(())
            }

            async fn hard_delete(
                &mut self,
                subject: &QualifiedSubject,
                versions: &[i32],
            ) -> StoreResult<()> {
                if let Some(m) = &mut self.memo {
                    m.versions.remove(subject);
                }
                let q = "DELETE FROM subject_versions WHERE context = $1 AND subject = $2 AND version = $3";
                for v in versions {
                    sqlx::query(q)
                        .bind(&subject.context)
                        .bind(&subject.name)
                        .bind(*v)
                        .execute(self.conn())
                        .await?;
                }
                Ok(())
            }

            async fn delete_schema_if_unused(&mut self, context: &str, id: i64) -> StoreResult<bool> {
                let q = "DELETE FROM schemas WHERE context = $1 AND id = $2 AND NOT EXISTS \
                     (SELECT 1 FROM subject_versions v WHERE v.context = $1 AND v.schema_id = $2)";
                let done = sqlx::query(q).bind(context).bind(id).execute(self.conn()).await?;
                if let Some(m) = &mut self.memo {
                    m.hashes.remove(&(context.to_owned(), id));
                    m.inserted.remove(&(context.to_owned(), id));
                }
                Ok(done.rows_affected() > 0)
            }

            async fn remember(&mut self, subjects: &[QualifiedSubject]) -> StoreResult<()> {
                // The lists travel as one JSON array each ($json_texts turns it into rows).
                let list = |items: Vec<&str>| serde_json::Value::from(items).to_string();
                let scopes: Vec<String> = subjects.iter().map(QualifiedSubject::scope).collect();
                let scope_list = list(scopes.iter().map(String::as_str).collect());
                let in_scopes = |table: &str, column: &str| {
                    format!("SELECT scope, {column} FROM {table} WHERE scope IN ({})", $json_texts)
                };
                let modes: Vec<(String, String)> = sqlx::query_as(&in_scopes("modes", "mode"))
                    .bind(&scope_list)
                    .fetch_all(self.conn())
                    .await?;
                let configs: Vec<(String, String)> = sqlx::query_as(&in_scopes("configs", "body"))
                    .bind(&scope_list)
                    .fetch_all(self.conn())
                    .await?;
                let governance: Vec<(String, String)> =
                    sqlx::query_as(&in_scopes("subject_governance", "body"))
                        .bind(&scope_list)
                        .fetch_all(self.conn())
                        .await?;
                let names = list(subjects.iter().map(|s| s.name.as_str()).collect());
                let q = format!(
                    "SELECT v.context, v.subject, v.version, v.schema_id, v.deleted, v.created_at, \
                       s.content_hash \
                     FROM subject_versions v LEFT JOIN schemas s \
                       ON s.context = v.context AND s.id = v.schema_id \
                     WHERE v.subject IN ({}) ORDER BY v.context, v.subject, v.version",
                    $json_texts
                );
                type Row = (String, String, i32, i64, bool, i64, Option<String>);
                let versions: Vec<Row> = sqlx::query_as(&q).bind(&names).fetch_all(self.conn()).await?;

                let m = self.memo.get_or_insert_with(Default::default);
                // Every scope asked is known from now on: `None` unless a row says otherwise.
                for scope in scopes {
                    m.modes.insert(scope.clone(), None);
                    m.configs.insert(scope.clone(), None);
                    m.governance.insert(scope, None);
                }
                for (scope, mode) in modes {
                    m.modes.insert(scope, Some(mode));
                }
                for (scope, body) in configs {
                    m.configs.insert(scope, Some(body));
                }
                for (scope, body) in governance {
                    let body = crate::storage::governance::json("subject_governance.body", Some(body))?;
                    m.governance.insert(scope, body);
                }
                for subject in subjects {
                    m.versions.insert(subject.clone(), Vec::new());
                }
                for (context, name, version, schema_id, deleted, created_at, hash) in versions {
                    let subject = QualifiedSubject { context, name };
                    if let Some(hash) = hash {
                        m.hashes.insert((subject.context.clone(), schema_id), hash);
                    }
                    if let Some(known) = m.versions.get_mut(&subject) {
                        known.push(VersionRecord { subject, version, schema_id, deleted, created_at });
                    }
                }
                Ok(())
            }

            fn will_roll_back(&mut self) {
                self.discard = true;
            }

            async fn lock_shared(&mut self, subject: &QualifiedSubject) -> StoreResult<()> {
                let statement: Option<&str> = $shared_lock;
                if let Some(q) = statement {
                    let key = crate::storage::subject_lock_key(subject);
                    if self.held.contains(&key) {
                        return Ok(());
                    }
                    sqlx::query(q).bind(&key).execute(self.conn()).await?;
                    self.held.insert(key);
                }
                Ok(())
            }

            async fn commit(self: Box<Self>) -> StoreResult<()> {
                let this = *self;
                if let $crate::storage::sql::Conn::Tx(tx) = this.conn {
                    tx.commit().await?;
                }
                if this.appended {
                    if let Some(after) = this.after_commit {
                        after().await;
                    }
                }
                Ok(())
            }
        }
    };
}

mod instances {
    use super::{SchemaRow, VersionRow, SCHEMA_COLUMNS, VERSION_COLUMNS};
    use crate::storage::{
        ReferenceEdge, SchemaRecord, StoreError, StoreResult, SubjectSummary, VersionRecord,
    };
    use crate::types::QualifiedSubject;

    impl_session!(
        sqlx::Postgres,
        Some("SELECT pg_advisory_xact_lock_shared(hashtextextended($1, 0))"),
        "SELECT jsonb_array_elements_text(CAST($1 AS jsonb))"
    );
    // SQLite write sessions are serialised whole, so there is nothing to share.
    impl_session!(sqlx::Sqlite, None, "SELECT value FROM json_each($1)");
}
