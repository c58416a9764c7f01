//! Persistence. The only module that knows sqlx: one [`Store`] trait, one implementation per
//! backend (PostgreSQL for production, an embedded SQLite file for the quick start).
//!
//! A [`Store`] hands out [`Session`]s: a read session on a pooled connection, or a write
//! session that is a transaction holding the per-subject lock, so that "check compatibility,
//! then insert the next version" is atomic across threads and processes.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use crate::types::{QualifiedSubject, SchemaReference, SchemaType};

mod governance;
mod postgres;
mod sql;
mod sqlite;

pub use governance::{
    ApiKeyRecord, AuditFilter, AuditRecord, BindingRecord, ChangeRecord, GovernanceSession,
    NamedDocument, PolicyRecord, TeamRecord,
};
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// A stored schema: immutable once written, addressed by `(context, id)`.
#[derive(Debug, Clone, PartialEq)]
pub struct SchemaRecord {
    pub context: String,
    pub id: i64,
    pub schema_type: SchemaType,
    pub schema: String,
    pub references: Vec<SchemaReference>,
    pub metadata: Option<Value>,
    pub rule_set: Option<Value>,
    /// Identity: type, canonical text, references, metadata and ruleSet.
    pub fingerprint: String,
    /// Type, canonical text and references only; what a lookup matches on.
    pub content_hash: String,
    pub created_at: i64,
}

/// One version of a subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionRecord {
    pub subject: QualifiedSubject,
    pub version: i32,
    pub schema_id: i64,
    pub deleted: bool,
    pub created_at: i64,
}

/// A reference edge as stored: schema `schema_id` refers to `target` at `version`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferenceEdge {
    pub name: String,
    pub target: QualifiedSubject,
    pub version: i32,
}

/// A subject with how many of its versions are live and soft-deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectSummary {
    pub subject: QualifiedSubject,
    pub live_versions: i64,
    pub deleted_versions: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration error: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A database the registry can run on.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// A session for reads, on a pooled connection (no transaction).
    async fn read(&self) -> StoreResult<Box<dyn Session>>;
    /// A transaction that holds the write lock of `subject` until it commits or is dropped.
    async fn write(&self, subject: &QualifiedSubject) -> StoreResult<Box<dyn Session>> {
        self.write_set(std::slice::from_ref(subject), &[]).await
    }
    /// A transaction that holds the write locks of `exclusive` and the shared locks of `shared`
    /// (a subject in both is held exclusively) until it commits or is dropped. The locks are
    /// taken in one global order (by lock key), so two sets that overlap never deadlock.
    async fn write_set(
        &self,
        exclusive: &[QualifiedSubject],
        shared: &[QualifiedSubject],
    ) -> StoreResult<Box<dyn Session>>;
    /// Applies pending migrations.
    async fn migrate(&self) -> StoreResult<()>;
    /// Round-trips to the database (readiness).
    async fn ping(&self) -> StoreResult<()>;
    /// A short name for logs: `postgres` or `sqlite`.
    fn backend(&self) -> &'static str;
    /// The pool's open connections and how many of them are idle.
    fn pool_connections(&self) -> (u32, usize);
    /// Whether changes append change-log entries (the default); off turns the log off.
    fn set_change_log(&self, enabled: bool);
    /// Requests waiting for a pooled connection now.
    fn pool_waiting(&self) -> usize;
    /// A wake-up, notified when any instance commits a change-log entry, where the backend has
    /// one (PostgreSQL `LISTEN/NOTIFY`; started at the first call). Only a hint: notifications
    /// may be lost, so followers still read the log on a slower timer.
    fn change_wakeups(&self) -> Option<Arc<tokio::sync::Notify>> {
        None
    }
    /// Numbers the committed change-log entries still waiting to be (PostgreSQL: a commit's
    /// own numbering was interrupted, e.g. the process died), through the same numbering task
    /// writers use. Followers call it.
    async fn number_changes(&self) -> StoreResult<()> {
        Ok(())
    }
}

/// Queries and changes, inside a read session or a write transaction. Nothing written through
/// a write session is visible to others until [`Session::commit`]; dropping it rolls back.
#[async_trait]
pub trait Session: GovernanceSession + Send {
    async fn schema_by_id(&mut self, context: &str, id: i64) -> StoreResult<Option<SchemaRecord>>;
    async fn schema_by_fingerprint(
        &mut self,
        context: &str,
        fingerprint: &str,
    ) -> StoreResult<Option<SchemaRecord>>;
    /// The schemas, in every context (ordered by context, then id), whose fingerprint starts
    /// with `prefix` (a guid's hex digits).
    async fn schemas_by_fingerprint_prefix(
        &mut self,
        prefix: &str,
    ) -> StoreResult<Vec<SchemaRecord>>;
    /// Versions of `subject` whose schema has this content hash, oldest first.
    async fn versions_with_content(
        &mut self,
        subject: &QualifiedSubject,
        content_hash: &str,
    ) -> StoreResult<Vec<VersionRecord>>;
    /// All versions of a subject, soft-deleted included, oldest first.
    async fn versions(&mut self, subject: &QualifiedSubject) -> StoreResult<Vec<VersionRecord>>;
    /// Every version of every subject in `context` (all contexts when `None`), ordered by
    /// context, subject and version.
    async fn all_versions(&mut self, context: Option<&str>) -> StoreResult<Vec<VersionRecord>>;
    /// Subjects with their live and soft-deleted version counts, ordered.
    async fn subjects(&mut self, context: Option<&str>) -> StoreResult<Vec<SubjectSummary>>;
    /// The subject versions that use schema `id`.
    async fn usages(&mut self, context: &str, id: i64) -> StoreResult<Vec<VersionRecord>>;
    /// Ids of schemas that reference `subject` at `version`, with whether any version using the
    /// referring schema is live.
    async fn referrers(
        &mut self,
        subject: &QualifiedSubject,
        version: i32,
    ) -> StoreResult<Vec<(i64, bool)>>;
    /// Contexts that have at least one subject version.
    async fn contexts(&mut self) -> StoreResult<Vec<String>>;

    async fn config(&mut self, scope: &str) -> StoreResult<Option<String>>;
    /// The configs stored under any of `scopes`, as (scope, body).
    async fn configs(&mut self, scopes: &[String]) -> StoreResult<Vec<(String, String)>>;
    async fn put_config(&mut self, scope: &str, body: &str) -> StoreResult<()>;
    async fn delete_config(&mut self, scope: &str) -> StoreResult<bool>;
    async fn mode(&mut self, scope: &str) -> StoreResult<Option<String>>;
    /// All mode rows whose scope starts with `prefix`.
    async fn modes_with_prefix(&mut self, prefix: &str) -> StoreResult<Vec<(String, String)>>;
    async fn put_mode(&mut self, scope: &str, mode: &str) -> StoreResult<()>;
    async fn delete_mode(&mut self, scope: &str) -> StoreResult<bool>;

    /// Hands out the next id of `context`.
    async fn allocate_id(&mut self, context: &str) -> StoreResult<i64>;
    /// Makes sure ids handed out later in `context` are above `used` (after an import).
    async fn reserve_id(&mut self, context: &str, used: i64) -> StoreResult<()>;
    /// The lowest id from 1 up to 2^31−1 no schema of `context` has (`None`: all taken).
    async fn lowest_free_id(&mut self, context: &str) -> StoreResult<Option<i64>>;
    /// Inserts a schema and its reference edges. Returns false, writing nothing, when the id or
    /// the fingerprint is taken already.
    async fn insert_schema(
        &mut self,
        schema: &SchemaRecord,
        edges: &[ReferenceEdge],
    ) -> StoreResult<bool>;
    async fn insert_version(&mut self, version: &VersionRecord) -> StoreResult<()>;
    async fn soft_delete(
        &mut self,
        subject: &QualifiedSubject,
        versions: &[i32],
    ) -> StoreResult<()>;
    async fn hard_delete(
        &mut self,
        subject: &QualifiedSubject,
        versions: &[i32],
    ) -> StoreResult<()>;
    /// Removes schema `id` if no subject version uses it any more; true when it did.
    async fn delete_schema_if_unused(&mut self, context: &str, id: i64) -> StoreResult<bool>;

    /// Inside a write session: holds `subject` shared until commit, so that no writer of
    /// `subject` (a delete, say) runs meanwhile, while other sessions may share it too. Used for
    /// the subjects a new schema references.
    async fn lock_shared(&mut self, subject: &QualifiedSubject) -> StoreResult<()>;

    /// For a write session that decides many subjects (a change set): reads `subjects`'
    /// settings (modes, configs, governance) and versions in a few queries, and from then on
    /// answers settings, versions and content lookups from memory, kept current with the
    /// session's own writes (the subject locks it holds keep other writers out; a context's or
    /// the global setting is remembered as first read, as within any transaction).
    async fn remember(&mut self, _subjects: &[QualifiedSubject]) -> StoreResult<()> {
        Ok(())
    }

    /// The session will be rolled back whatever happens (a change-set plan): its audit
    /// records and change-log entries are not written at all.
    fn will_roll_back(&mut self) {}

    /// Makes the session's writes durable and visible; a no-op for read sessions.
    async fn commit(self: Box<Self>) -> StoreResult<()>;
}

/// The advisory-lock key of a subject (PostgreSQL), shared by exclusive and shared holders.
pub(crate) fn subject_lock_key(subject: &QualifiedSubject) -> String {
    format!("accord/subject/{}", subject.scope())
}

/// The lock keys of a write set in the order they are taken, each with whether it is held
/// exclusively.
pub(crate) fn lock_order(
    exclusive: &[QualifiedSubject],
    shared: &[QualifiedSubject],
) -> Vec<(String, bool)> {
    let mut keys: std::collections::BTreeMap<String, bool> = std::collections::BTreeMap::new();
    for s in shared {
        keys.entry(subject_lock_key(s)).or_insert(false);
    }
    for s in exclusive {
        keys.insert(subject_lock_key(s), true);
    }
    keys.into_iter().collect()
}

/// How many requests wait for a pooled connection (the pools do not say).
#[derive(Default)]
struct Waiters(AtomicUsize);

impl Waiters {
    /// Counts one waiter until the guard drops, also when the waiting future is cancelled.
    fn enter(&self) -> WaitGuard<'_> {
        self.0.fetch_add(1, Ordering::Relaxed);
        WaitGuard(&self.0)
    }

    fn now(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }
}

struct WaitGuard<'a>(&'a AtomicUsize);

impl Drop for WaitGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Unix time in milliseconds.
pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
