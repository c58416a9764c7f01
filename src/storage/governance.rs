//! Governance rows: teams, per-subject governance, policy versions, API keys and the audit log.
//! Reached through [`GovernanceSession`], a supertrait of [`super::Session`], so an audit record
//! is written through the very transaction of the change it records. The SQL is written once in
//! `impl_governance!` and instantiated per backend, as in `sql.rs`.

use async_trait::async_trait;
use serde_json::Value;

use super::{StoreError, StoreResult};

/// A named JSON document as stored: a team (`body`: description, contacts, claims) or a
/// binding (`body`: the binding without its name).
#[derive(Debug, Clone, PartialEq)]
pub struct NamedDocument {
    pub name: String,
    pub body: Value,
    pub created_at: i64,
    pub updated_at: i64,
}

pub type TeamRecord = NamedDocument;
pub type BindingRecord = NamedDocument;

/// One version of the lint policy.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyRecord {
    pub version: i64,
    pub body: Value,
    pub source: String,
    pub created_at: i64,
    pub created_by: String,
}

/// An API key as stored: the secret itself is never kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    pub id: String,
    pub secret_hash: String,
    pub role: String,
    pub team: Option<String>,
    pub description: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// One audit entry. `id` is assigned by the store on insert.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AuditRecord {
    pub id: i64,
    pub at: i64,
    pub principal: String,
    pub action: String,
    pub outcome: String,
    pub subject: Option<String>,
    pub team: Option<String>,
    pub target: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub request_id: Option<String>,
    pub detail: Option<String>,
}

/// One entry of the change log: a committed change, numbered gap-free in commit order.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeRecord {
    pub seq: i64,
    /// Unix milliseconds.
    pub at: i64,
    /// What changed, e.g. `schema.registered` (see [`crate::changes::kind_of`]).
    pub kind: String,
    pub context: String,
    /// The subject's name within its context, when the change concerns one.
    pub subject: Option<String>,
    pub body: Value,
}

/// Which audit entries to list, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub subject: Option<String>,
    pub team: Option<String>,
    pub principal: Option<String>,
    pub action: Option<String>,
    /// Unix milliseconds, inclusive.
    pub from: Option<i64>,
    /// Unix milliseconds, exclusive.
    pub to: Option<i64>,
    pub offset: i64,
    pub limit: i64,
}

#[async_trait]
pub trait GovernanceSession: Send {
    async fn teams(&mut self) -> StoreResult<Vec<TeamRecord>>;
    async fn team(&mut self, name: &str) -> StoreResult<Option<TeamRecord>>;
    async fn put_team(&mut self, team: &TeamRecord) -> StoreResult<()>;
    async fn delete_team(&mut self, name: &str) -> StoreResult<bool>;

    async fn bindings(&mut self) -> StoreResult<Vec<BindingRecord>>;
    async fn binding(&mut self, name: &str) -> StoreResult<Option<BindingRecord>>;
    async fn put_binding(&mut self, binding: &BindingRecord) -> StoreResult<()>;
    async fn delete_binding(&mut self, name: &str) -> StoreResult<bool>;

    async fn subject_governance(&mut self, scope: &str) -> StoreResult<Option<Value>>;
    async fn put_subject_governance(&mut self, scope: &str, body: &Value) -> StoreResult<()>;

    /// The policy in force (the highest version).
    async fn latest_policy(&mut self) -> StoreResult<Option<PolicyRecord>>;
    async fn policy(&mut self, version: i64) -> StoreResult<Option<PolicyRecord>>;
    async fn insert_policy(&mut self, policy: &PolicyRecord) -> StoreResult<()>;

    async fn api_key(&mut self, id: &str) -> StoreResult<Option<ApiKeyRecord>>;
    async fn api_keys(&mut self) -> StoreResult<Vec<ApiKeyRecord>>;
    async fn insert_api_key(&mut self, key: &ApiKeyRecord) -> StoreResult<()>;
    /// Marks a key revoked at `at`; false when there is no such key or it was revoked already.
    async fn revoke_api_key(&mut self, id: &str, at: i64) -> StoreResult<bool>;

    async fn insert_audit(&mut self, record: &AuditRecord) -> StoreResult<i64>;
    async fn audit(&mut self, filter: &AuditFilter) -> StoreResult<Vec<AuditRecord>>;
    /// Removes audit entries older than `before` (Unix ms); how many went.
    async fn delete_audit_before(&mut self, before: i64) -> StoreResult<u64>;

    /// Appends an entry to the change log inside the change's write session: numbered at once
    /// on SQLite (its sequence), right after the commit on PostgreSQL (its inbox id).
    /// Takes the log's counter lock until the session ends, so entries commit in order.
    async fn append_change(&mut self, change: &ChangeRecord) -> StoreResult<i64>;
    /// Entries with a sequence above `after`, oldest first, at most `limit`.
    async fn changes_after(&mut self, after: i64, limit: i64) -> StoreResult<Vec<ChangeRecord>>;
    /// `(head, pruned_through)`: the newest committed sequence and the newest removed one.
    async fn change_bounds(&mut self) -> StoreResult<(i64, i64)>;
    /// Removes entries older than `before` (Unix ms) and all but the newest `keep`; how many
    /// went.
    async fn prune_changes(&mut self, before: i64, keep: i64) -> StoreResult<u64>;

    /// Claims relay `name` for `owner` until `until` (Unix ms) when it is free, its lease has
    /// passed (`now`) or `owner` already holds it; the acknowledged position if claimed. A relay
    /// seen for the first time starts at `start`.
    async fn relay_claim(
        &mut self,
        name: &str,
        owner: &str,
        now: i64,
        until: i64,
        start: i64,
    ) -> StoreResult<Option<i64>>;
    /// Raises the acknowledged position (never lowers it) and renews the lease, if `owner`
    /// still holds it; whether it does.
    async fn relay_advance(
        &mut self,
        name: &str,
        owner: &str,
        position: i64,
        until: i64,
    ) -> StoreResult<bool>;
    /// Gives the lease up, so another instance takes over at once.
    async fn relay_release(&mut self, name: &str, owner: &str) -> StoreResult<()>;
    /// The acknowledged position of relay `name`, if it ever ran.
    async fn relay_position(&mut self, name: &str) -> StoreResult<Option<i64>>;
}

pub(super) fn json(column: &str, s: Option<String>) -> StoreResult<Option<Value>> {
    s.map(|s| serde_json::from_str(&s))
        .transpose()
        .map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}

fn text(v: Option<&Value>) -> Option<String> {
    v.map(Value::to_string)
}

#[derive(sqlx::FromRow)]
pub(super) struct PolicyRow {
    version: i64,
    body: String,
    source: String,
    created_at: i64,
    created_by: String,
}

impl TryFrom<PolicyRow> for PolicyRecord {
    type Error = StoreError;
    fn try_from(r: PolicyRow) -> StoreResult<Self> {
        Ok(PolicyRecord {
            body: json("policies.body", Some(r.body))?.unwrap_or(Value::Null),
            version: r.version,
            source: r.source,
            created_at: r.created_at,
            created_by: r.created_by,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct KeyRow {
    id: String,
    secret_hash: String,
    role: String,
    team: Option<String>,
    description: String,
    created_at: i64,
    expires_at: Option<i64>,
    revoked_at: Option<i64>,
}

impl From<KeyRow> for ApiKeyRecord {
    fn from(r: KeyRow) -> Self {
        ApiKeyRecord {
            id: r.id,
            secret_hash: r.secret_hash,
            role: r.role,
            team: r.team,
            description: r.description,
            created_at: r.created_at,
            expires_at: r.expires_at,
            revoked_at: r.revoked_at,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct AuditRow {
    id: i64,
    at: i64,
    principal: String,
    action: String,
    outcome: String,
    subject: Option<String>,
    team: Option<String>,
    target: String,
    before: Option<String>,
    after: Option<String>,
    request_id: Option<String>,
    detail: Option<String>,
}

impl TryFrom<AuditRow> for AuditRecord {
    type Error = StoreError;
    fn try_from(r: AuditRow) -> StoreResult<Self> {
        Ok(AuditRecord {
            before: json("audit_log.before", r.before)?,
            after: json("audit_log.after", r.after)?,
            id: r.id,
            at: r.at,
            principal: r.principal,
            action: r.action,
            outcome: r.outcome,
            subject: r.subject,
            team: r.team,
            target: r.target,
            request_id: r.request_id,
            detail: r.detail,
        })
    }
}

/// A `(name, body, created_at, updated_at)` row of `table` as a [`NamedDocument`].
fn document(
    table: &'static str,
    (name, body, created_at, updated_at): (String, String, i64, i64),
) -> StoreResult<NamedDocument> {
    Ok(NamedDocument {
        name,
        body: json(table, Some(body))?.unwrap_or(Value::Null),
        created_at,
        updated_at,
    })
}

const AUDIT_COLUMNS: &str =
    "id, at, principal, action, outcome, subject, team, target, before, after, request_id, detail";

macro_rules! impl_governance {
    ($db:ty) => {
        /// Named JSON documents (teams, bindings): one shape, one table each.
        impl $crate::storage::sql::SqlSession<$db> {
            async fn documents(&mut self, table: &'static str) -> StoreResult<Vec<NamedDocument>> {
                let rows: Vec<(String, String, i64, i64)> = sqlx::query_as(&format!(
                    "SELECT name, body, created_at, updated_at FROM {table} ORDER BY name"
                ))
                .fetch_all(self.conn())
                .await?;
                rows.into_iter().map(|r| document(table, r)).collect()
            }

            async fn document(
                &mut self,
                table: &'static str,
                name: &str,
            ) -> StoreResult<Option<NamedDocument>> {
                let row: Option<(String, String, i64, i64)> = sqlx::query_as(&format!(
                    "SELECT name, body, created_at, updated_at FROM {table} WHERE name = $1"
                ))
                .bind(name)
                .fetch_optional(self.conn())
                .await?;
                row.map(|r| document(table, r)).transpose()
            }

            async fn put_document(&mut self, table: &'static str, d: &NamedDocument) -> StoreResult<()> {
                sqlx::query(&format!(
                    "INSERT INTO {table} (name, body, created_at, updated_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (name) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at"
                ))
                .bind(&d.name)
                .bind(d.body.to_string())
                .bind(d.created_at)
                .bind(d.updated_at)
                .execute(self.conn())
                .await?;
                Ok(())
            }

            async fn delete_document(&mut self, table: &'static str, name: &str) -> StoreResult<bool> {
                let done = sqlx::query(&format!("DELETE FROM {table} WHERE name = $1"))
                    .bind(name)
                    .execute(self.conn())
                    .await?;
                Ok(done.rows_affected() > 0)
            }
        }

        #[async_trait::async_trait]
        impl GovernanceSession for $crate::storage::sql::SqlSession<$db> {
            async fn teams(&mut self) -> StoreResult<Vec<TeamRecord>> {
                self.documents("teams").await
            }

            async fn team(&mut self, name: &str) -> StoreResult<Option<TeamRecord>> {
                self.document("teams", name).await
            }

            async fn put_team(&mut self, team: &TeamRecord) -> StoreResult<()> {
                self.put_document("teams", team).await
            }

            async fn delete_team(&mut self, name: &str) -> StoreResult<bool> {
                self.delete_document("teams", name).await
            }

            async fn bindings(&mut self) -> StoreResult<Vec<BindingRecord>> {
                self.documents("bindings").await
            }

            async fn binding(&mut self, name: &str) -> StoreResult<Option<BindingRecord>> {
                self.document("bindings", name).await
            }

            async fn put_binding(&mut self, binding: &BindingRecord) -> StoreResult<()> {
                self.put_document("bindings", binding).await
            }

            async fn delete_binding(&mut self, name: &str) -> StoreResult<bool> {
                self.delete_document("bindings", name).await
            }

            async fn subject_governance(&mut self, scope: &str) -> StoreResult<Option<Value>> {
                if let Some(hit) = self.memo.as_ref().and_then(|m| m.governance.get(scope)) {
                    return Ok(hit.clone());
                }
                let row: Option<(String,)> =
                    sqlx::query_as("SELECT body FROM subject_governance WHERE scope = $1")
                        .bind(scope)
                        .fetch_optional(self.conn())
                        .await?;
                let found = json("subject_governance.body", row.map(|r| r.0))?;
                if let Some(m) = &mut self.memo {
                    m.governance.insert(scope.to_owned(), found.clone());
                }
                Ok(found)
            }

            async fn put_subject_governance(&mut self, scope: &str, body: &Value) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO subject_governance (scope, body) VALUES ($1, $2) \
                     ON CONFLICT (scope) DO UPDATE SET body = excluded.body",
                )
                .bind(scope)
                .bind(body.to_string())
                .execute(self.conn())
                .await?;
                if let Some(m) = &mut self.memo {
                    m.governance.insert(scope.to_owned(), Some(body.clone()));
                }
                Ok(())
            }

            async fn latest_policy(&mut self) -> StoreResult<Option<PolicyRecord>> {
                let row: Option<PolicyRow> = sqlx::query_as(
                    "SELECT version, body, source, created_at, created_by FROM policies \
                     ORDER BY version DESC LIMIT 1",
                )
                .fetch_optional(self.conn())
                .await?;
                row.map(PolicyRecord::try_from).transpose()
            }

            async fn policy(&mut self, version: i64) -> StoreResult<Option<PolicyRecord>> {
                let row: Option<PolicyRow> = sqlx::query_as(
                    "SELECT version, body, source, created_at, created_by FROM policies WHERE version = $1",
                )
                .bind(version)
                .fetch_optional(self.conn())
                .await?;
                row.map(PolicyRecord::try_from).transpose()
            }

            async fn insert_policy(&mut self, p: &PolicyRecord) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO policies (version, body, source, created_at, created_by) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(p.version)
                .bind(p.body.to_string())
                .bind(&p.source)
                .bind(p.created_at)
                .bind(&p.created_by)
                .execute(self.conn())
                .await?;
                Ok(())
            }

            async fn api_key(&mut self, id: &str) -> StoreResult<Option<ApiKeyRecord>> {
                let row: Option<KeyRow> = sqlx::query_as(
                    "SELECT id, secret_hash, role, team, description, created_at, expires_at, revoked_at \
                     FROM api_keys WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(self.conn())
                .await?;
                Ok(row.map(ApiKeyRecord::from))
            }

            async fn api_keys(&mut self) -> StoreResult<Vec<ApiKeyRecord>> {
                let rows: Vec<KeyRow> = sqlx::query_as(
                    "SELECT id, secret_hash, role, team, description, created_at, expires_at, revoked_at \
                     FROM api_keys ORDER BY created_at, id",
                )
                .fetch_all(self.conn())
                .await?;
                Ok(rows.into_iter().map(ApiKeyRecord::from).collect())
            }

            async fn insert_api_key(&mut self, k: &ApiKeyRecord) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO api_keys (id, secret_hash, role, team, description, created_at, expires_at, revoked_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(&k.id)
                .bind(&k.secret_hash)
                .bind(&k.role)
                .bind(&k.team)
                .bind(&k.description)
                .bind(k.created_at)
                .bind(k.expires_at)
                .bind(k.revoked_at)
                .execute(self.conn())
                .await?;
                Ok(())
            }

            async fn revoke_api_key(&mut self, id: &str, at: i64) -> StoreResult<bool> {
                let done = sqlx::query(
                    "UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
                )
                .bind(id)
                .bind(at)
                .execute(self.conn())
                .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn insert_audit(&mut self, r: &AuditRecord) -> StoreResult<i64> {
                if self.discard {
                    // Rolled back whatever happens: nobody will read it.
                    return Ok(0);
                }
                let (id,): (i64,) = sqlx::query_as(
                    "INSERT INTO audit_log (at, principal, action, outcome, subject, team, target, \
                     before, after, request_id, detail) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
                )
                .bind(r.at)
                .bind(&r.principal)
                .bind(&r.action)
                .bind(&r.outcome)
                .bind(&r.subject)
                .bind(&r.team)
                .bind(&r.target)
                .bind(text(r.before.as_ref()))
                .bind(text(r.after.as_ref()))
                .bind(&r.request_id)
                .bind(&r.detail)
                .fetch_one(self.conn())
                .await?;
                // Every successful change is audited once, in its own transaction: its change
                // log entry is written beside its audit record.
                if let Some(change) = $crate::changes::from_audit(r).filter(|_| self.log_changes) {
                    self.append_change(&change).await?;
                }
                Ok(id)
            }

            async fn append_change(&mut self, c: &ChangeRecord) -> StoreResult<i64> {
                if self.discard {
                    return Ok(0);
                }
                self.appended = true;
                if <$db as sqlx::Database>::NAME == "PostgreSQL" {
                    // Waits in the inbox until the commit has happened; then numbered (see
                    // migration 0006 and `PostgresStore::number_changes`).
                    let (id,): (i64,) = sqlx::query_as(
                        "INSERT INTO change_inbox (at, kind, context, subject, body) \
                         VALUES ($1, $2, $3, $4, $5) RETURNING id",
                    )
                    .bind(c.at)
                    .bind(&c.kind)
                    .bind(&c.context)
                    .bind(&c.subject)
                    .bind(c.body.to_string())
                    .fetch_one(self.conn())
                    .await?;
                    return Ok(id);
                }
                // SQLite: writers are serialised whole, so the counter row costs nothing more.
                let (seq,): (i64,) = sqlx::query_as(
                    "UPDATE change_head SET seq = seq + 1 WHERE id = 1 RETURNING seq",
                )
                .fetch_one(self.conn())
                .await?;
                sqlx::query(
                    "INSERT INTO changes (seq, at, kind, context, subject, body) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(seq)
                .bind(c.at)
                .bind(&c.kind)
                .bind(&c.context)
                .bind(&c.subject)
                .bind(c.body.to_string())
                .execute(self.conn())
                .await?;
                Ok(seq)
            }

            async fn changes_after(
                &mut self,
                after: i64,
                limit: i64,
            ) -> StoreResult<Vec<ChangeRecord>> {
                let rows: Vec<(i64, i64, String, String, Option<String>, String)> =
                    sqlx::query_as(
                        "SELECT seq, at, kind, context, subject, body FROM changes \
                         WHERE seq > $1 ORDER BY seq LIMIT $2",
                    )
                    .bind(after)
                    .bind(limit)
                    .fetch_all(self.conn())
                    .await?;
                rows.into_iter()
                    .map(|(seq, at, kind, context, subject, body)| {
                        Ok(ChangeRecord {
                            seq,
                            at,
                            kind,
                            context,
                            subject,
                            body: json("changes.body", Some(body))?.unwrap_or(Value::Null),
                        })
                    })
                    .collect()
            }

            async fn change_bounds(&mut self) -> StoreResult<(i64, i64)> {
                let bounds: (i64, i64) =
                    sqlx::query_as("SELECT seq, pruned_through FROM change_head WHERE id = 1")
                        .fetch_one(self.conn())
                        .await?;
                Ok(bounds)
            }

            async fn prune_changes(&mut self, before: i64, keep: i64) -> StoreResult<u64> {
                let (head, _) = self.change_bounds().await?;
                let (cut,): (Option<i64>,) = sqlx::query_as(
                    "SELECT MAX(seq) FROM changes WHERE at < $1 OR seq <= $2",
                )
                .bind(before)
                .bind(head - keep)
                .fetch_one(self.conn())
                .await?;
                let Some(mut cut) = cut else { return Ok(0) };
                // Entries a relay that ran within the window has not yet published are kept.
                let (relayed,): (Option<i64>,) =
                    sqlx::query_as("SELECT MIN(position) FROM relays WHERE lease_until >= $1")
                        .bind(before)
                        .fetch_one(self.conn())
                        .await?;
                if let Some(relayed) = relayed {
                    cut = cut.min(relayed);
                }
                let done = sqlx::query("DELETE FROM changes WHERE seq <= $1")
                    .bind(cut)
                    .execute(self.conn())
                    .await?;
                sqlx::query(
                    "UPDATE change_head SET pruned_through = $1 WHERE id = 1 AND pruned_through < $1",
                )
                .bind(cut)
                .execute(self.conn())
                .await?;
                Ok(done.rows_affected())
            }

            async fn relay_claim(
                &mut self,
                name: &str,
                owner: &str,
                now: i64,
                until: i64,
                start: i64,
            ) -> StoreResult<Option<i64>> {
                sqlx::query(
                    "INSERT INTO relays (name, position, owner, lease_until) \
                     VALUES ($1, $2, NULL, 0) ON CONFLICT (name) DO NOTHING",
                )
                .bind(name)
                .bind(start)
                .execute(self.conn())
                .await?;
                let claimed: Option<(i64,)> = sqlx::query_as(
                    "UPDATE relays SET owner = $2, lease_until = $3 WHERE name = $1 \
                     AND (owner = $2 OR owner IS NULL OR lease_until < $4) RETURNING position",
                )
                .bind(name)
                .bind(owner)
                .bind(until)
                .bind(now)
                .fetch_optional(self.conn())
                .await?;
                Ok(claimed.map(|(p,)| p))
            }

            async fn relay_advance(
                &mut self,
                name: &str,
                owner: &str,
                position: i64,
                until: i64,
            ) -> StoreResult<bool> {
                let done = sqlx::query(
                    "UPDATE relays SET lease_until = $4, \
                     position = CASE WHEN position < $3 THEN $3 ELSE position END \
                     WHERE name = $1 AND owner = $2",
                )
                .bind(name)
                .bind(owner)
                .bind(position)
                .bind(until)
                .execute(self.conn())
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn relay_release(&mut self, name: &str, owner: &str) -> StoreResult<()> {
                sqlx::query(
                    "UPDATE relays SET owner = NULL, lease_until = 0 WHERE name = $1 AND owner = $2",
                )
                .bind(name)
                .bind(owner)
                .execute(self.conn())
                .await?;
                Ok(())
            }

            async fn relay_position(&mut self, name: &str) -> StoreResult<Option<i64>> {
                let row: Option<(i64,)> =
                    sqlx::query_as("SELECT position FROM relays WHERE name = $1")
                        .bind(name)
                        .fetch_optional(self.conn())
                        .await?;
                Ok(row.map(|(p,)| p))
            }

            async fn delete_audit_before(&mut self, before: i64) -> StoreResult<u64> {
                let done = sqlx::query("DELETE FROM audit_log WHERE at < $1")
                    .bind(before)
                    .execute(self.conn())
                    .await?;
                Ok(done.rows_affected())
            }

            async fn audit(&mut self, f: &AuditFilter) -> StoreResult<Vec<AuditRecord>> {
                let q = format!(
                    "SELECT {AUDIT_COLUMNS} FROM audit_log WHERE \
                     (CAST($1 AS TEXT) IS NULL OR subject = $1) AND \
                     (CAST($2 AS TEXT) IS NULL OR team = $2) AND \
                     (CAST($3 AS TEXT) IS NULL OR principal = $3) AND \
                     (CAST($4 AS TEXT) IS NULL OR action = $4) AND \
                     (CAST($5 AS BIGINT) IS NULL OR at >= $5) AND \
                     (CAST($6 AS BIGINT) IS NULL OR at < $6) \
                     ORDER BY id DESC LIMIT $7 OFFSET $8"
                );
                let rows: Vec<AuditRow> = sqlx::query_as(&q)
                    .bind(&f.subject)
                    .bind(&f.team)
                    .bind(&f.principal)
                    .bind(&f.action)
                    .bind(f.from)
                    .bind(f.to)
                    .bind(f.limit)
                    .bind(f.offset)
                    .fetch_all(self.conn())
                    .await?;
                rows.into_iter().map(AuditRecord::try_from).collect()
            }
        }
    };
}

mod instances {
    use super::*;
    impl_governance!(sqlx::Postgres);
    impl_governance!(sqlx::Sqlite);
}
