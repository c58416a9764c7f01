//! The change log: one ordered, gap-free stream of every committed change.
//!
//! Each successful change writes its audit record through its own transaction; the store
//! appends the matching log entry beside it ([`from_audit`]). So a committed change always has
//! its entry and a rolled-back one never does. Numbers are gap-free and visible in order: on
//! SQLite the writer numbers its entry under the log's counter row lock, held until it commits
//! (writers are serialised there anyway); on PostgreSQL the entry waits in an inbox table until
//! the commit, and is then numbered with the others waiting, in one short transaction holding
//! that lock (so writers' commits are not serialised behind it). Either way the numbers of N
//! and N+1 become visible in that order: a reader that sees N+1 already sees N.
//!
//! [`ChangeFeed`] follows the head for this process (readers long-poll on it) and applies
//! retention.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::{json, Value};
use tokio::sync::watch;

use crate::storage::{now_millis, AuditRecord, ChangeRecord, Store, StoreResult};
use crate::types::{QualifiedSubject, DEFAULT_CONTEXT};

/// The change kind of a successful audited action; `None` for actions that change nothing.
pub fn kind_of(action: &str) -> Option<&'static str> {
    Some(match action {
        "subject.register" => "schema.registered",
        "subject.version.delete" => "version.deleted",
        "subject.version.delete.permanent" => "version.deleted.permanent",
        "subject.delete" => "subject.deleted",
        "subject.delete.permanent" => "subject.deleted.permanent",
        "context.delete" => "context.deleted",
        "config.put" => "config.updated",
        "config.delete" => "config.deleted",
        "mode.put" => "mode.updated",
        "mode.delete" => "mode.deleted",
        "team.put" => "team.updated",
        "team.delete" => "team.deleted",
        "subject.governance.put" => "subject.governance.updated",
        "subject.consumer.add" => "subject.consumer.added",
        "subject.consumer.remove" => "subject.consumer.removed",
        "policy.put" => "policy.updated",
        "key.create" => "key.created",
        "key.revoke" => "key.revoked",
        "binding.put" => "binding.updated",
        "binding.delete" => "binding.deleted",
        _ => return None,
    })
}

/// Every kind the log carries, for documentation and tests.
pub const KINDS: &[&str] = &[
    "schema.registered",
    "version.deleted",
    "version.deleted.permanent",
    "subject.deleted",
    "subject.deleted.permanent",
    "context.deleted",
    "config.updated",
    "config.deleted",
    "mode.updated",
    "mode.deleted",
    "team.updated",
    "team.deleted",
    "subject.governance.updated",
    "subject.consumer.added",
    "subject.consumer.removed",
    "policy.updated",
    "key.created",
    "key.revoked",
    "binding.updated",
    "binding.deleted",
];

/// The log entry of a successful change's audit record.
pub fn from_audit(r: &AuditRecord) -> Option<ChangeRecord> {
    if r.outcome != "ok" {
        return None;
    }
    let kind = kind_of(&r.action)?;
    let (context, subject) = match r.subject.as_deref().map(QualifiedSubject::parse) {
        Some(Ok(s)) => (s.context, Some(s.name)),
        Some(Err(_)) => (DEFAULT_CONTEXT.to_owned(), r.subject.clone()),
        None if kind == "context.deleted" => (r.target.trim_matches(':').to_owned(), None),
        None => (DEFAULT_CONTEXT.to_owned(), None),
    };
    let mut body = json!({"target": r.target, "principal": r.principal});
    if let Some(before) = &r.before {
        body["before"] = before.clone();
    }
    if let Some(after) = &r.after {
        body["after"] = after.clone();
    }
    if let Some(id) = &r.request_id {
        body["requestId"] = json!(id);
    }
    Some(ChangeRecord {
        seq: 0,
        at: r.at,
        kind: kind.to_owned(),
        context,
        subject,
        body,
    })
}

/// One entry as the API answers it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Change {
    /// Gap-free, strictly increasing, in commit order.
    pub seq: i64,
    /// When the change committed, as RFC 3339.
    pub time: String,
    /// What changed: one of the documented kinds, e.g. `schema.registered`.
    pub kind: String,
    pub context: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Ids, versions and before/after states where useful.
    #[schema(value_type = Object)]
    pub data: Value,
}

impl From<ChangeRecord> for Change {
    fn from(c: ChangeRecord) -> Self {
        Change {
            seq: c.seq,
            time: rfc3339(c.at),
            kind: c.kind,
            context: c.context,
            subject: c.subject,
            data: c.body,
        }
    }
}

/// Unix milliseconds as RFC 3339 in UTC, e.g. `2026-12-03T09:30:00.123Z`.
pub fn rfc3339(millis: i64) -> String {
    let secs = millis.div_euclid(1000);
    let ms = millis.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// A page of the log.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ChangePage {
    pub changes: Vec<Change>,
    /// The newest committed sequence when the page was read.
    pub head: i64,
    /// Where the next read starts (`after=`): the last entry's sequence, or the request's.
    pub next: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error(
        "Change log entries after {after} are no longer kept (retention removed up to {pruned}); \
         resync from the registry's current state and follow from sequence {head}"
    )]
    Expired { after: i64, pruned: i64, head: i64 },
    #[error(transparent)]
    Store(#[from] crate::storage::StoreError),
}

/// What a follower does with each entry; `None` when it lost its place (entries it had not
/// read were removed by retention) and must forget everything derived from the log.
pub type Apply = Box<dyn Fn(Option<&ChangeRecord>) + Send + Sync>;

/// How often the follower reads the head when the store has no wake-up (SQLite).
const POLL: Duration = Duration::from_millis(20);
/// How often it reads the head anyway when the store wakes it (PostgreSQL `LISTEN/NOTIFY`):
/// a lost notification delays an entry by at most this long.
const POLL_WITH_WAKEUPS: Duration = Duration::from_millis(500);

/// The log as this process follows it: the head it has seen, for waiting readers.
pub struct ChangeFeed {
    store: Arc<dyn Store>,
    head: watch::Sender<i64>,
    /// Set when the server shuts down: waiting readers are answered and streams end, so they
    /// do not hold the shutdown drain.
    closing: watch::Sender<bool>,
}

impl ChangeFeed {
    /// Starts following the log: the head is read when the store signals a commit (on every
    /// instance sharing the database) and on a timer, each new entry is handed to `apply` in
    /// order (`None`: entries were lost to retention, forget everything), and waiting readers
    /// are woken.
    pub fn start(store: Arc<dyn Store>, apply: Apply) -> Arc<Self> {
        let (head, _) = watch::channel(0);
        let feed = Arc::new(ChangeFeed {
            store,
            head,
            closing: watch::channel(false).0,
        });
        let weak = Arc::downgrade(&feed);
        let wakeups = feed.store.change_wakeups();
        tokio::spawn(async move {
            let mut applied: Option<i64> = None;
            loop {
                // A notification means entries were just numbered; a timer wake also numbers
                // what a writer could not (it died, say).
                let notified = match &wakeups {
                    Some(wake) => tokio::time::timeout(POLL_WITH_WAKEUPS, wake.notified())
                        .await
                        .is_ok(),
                    None => {
                        tokio::time::sleep(POLL).await;
                        false
                    }
                };
                let Some(feed) = weak.upgrade() else { return };
                if !notified {
                    if let Err(e) = feed.store.number_changes().await {
                        tracing::debug!(error = %e, "waiting change-log entries not numbered");
                    }
                }
                match feed.follow(&mut applied, &apply).await {
                    Ok(head) => {
                        feed.head.send_if_modified(|h| {
                            let newer = head > *h;
                            if newer {
                                *h = head;
                            }
                            newer
                        });
                    }
                    Err(e) => tracing::debug!(error = %e, "change log not read"),
                }
            }
        });
        feed
    }

    /// Applies the entries after `applied` (the head, at the first call); the head.
    async fn follow(&self, applied: &mut Option<i64>, apply: &Apply) -> StoreResult<i64> {
        let (head, pruned) = self.bounds().await?;
        let Some(mut at) = *applied else {
            *applied = Some(head);
            return Ok(head);
        };
        if at < pruned {
            tracing::warn!(
                at,
                pruned,
                "change log follower fell behind retention; caches cleared"
            );
            apply(None);
            *applied = Some(head);
            return Ok(head);
        }
        let lag = |at: i64| {
            let m = crate::metrics::global();
            m.changes_head.set(head);
            m.changes_follower_lag.set(head - at);
        };
        lag(at);
        while at < head {
            let batch = {
                let mut session = self.store.read().await?;
                session.changes_after(at, 1000).await?
            };
            let Some(last) = batch.last().map(|c| c.seq) else {
                break;
            };
            for change in &batch {
                apply(Some(change));
            }
            at = last;
            *applied = Some(at);
            lag(at);
        }
        Ok(head)
    }

    /// The newest head this process has seen, to wait on.
    pub fn head_watch(&self) -> watch::Receiver<i64> {
        self.head.subscribe()
    }

    /// Answers every waiting reader now and ends event streams (server shutdown).
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    pub fn is_closing(&self) -> bool {
        *self.closing.borrow()
    }

    async fn bounds(&self) -> StoreResult<(i64, i64)> {
        let mut session = self.store.read().await?;
        session.change_bounds().await
    }

    /// Entries after `after`, at most `limit`; with `wait`, waits up to that long for one when
    /// there is none yet.
    pub async fn read(
        &self,
        after: i64,
        limit: i64,
        wait: Option<Duration>,
    ) -> Result<ChangePage, FeedError> {
        let mut seen = self.head.subscribe();
        let mut closed = self.closing.subscribe();
        let mut deadline = wait.map(|w| tokio::time::Instant::now() + w);
        loop {
            let (head, pruned) = self.bounds().await?;
            if after < pruned {
                return Err(FeedError::Expired {
                    after,
                    pruned,
                    head,
                });
            }
            let entries = if head > after {
                let mut session = self.store.read().await?;
                session.changes_after(after, limit).await?
            } else {
                Vec::new()
            };
            let waiting = deadline
                .filter(|d| *d > tokio::time::Instant::now())
                .filter(|_| !self.is_closing());
            match waiting {
                Some(until) if entries.is_empty() => {
                    seen.mark_unchanged();
                    let woke = tokio::select! {
                        r = tokio::time::timeout_at(until, seen.wait_for(|h| *h > after)) => r.is_ok(),
                        _ = closed.wait_for(|c| *c) => false,
                    };
                    if !woke {
                        // Timed out or closing: one last read answers whatever committed.
                        deadline = None;
                    }
                }
                _ => {
                    let next = entries.last().map_or(after, |c| c.seq);
                    return Ok(ChangePage {
                        changes: entries.into_iter().map(Change::from).collect(),
                        head,
                        next,
                    });
                }
            }
        }
    }

    /// Removes entries older than `days` and beyond the newest `keep` (0: no such limit).
    pub async fn prune(&self, days: u64, keep: u64) -> StoreResult<u64> {
        let before = if days == 0 {
            i64::MIN
        } else {
            now_millis() - (days as i64).saturating_mul(24 * 3600 * 1000)
        };
        let keep = if keep == 0 { i64::MAX } else { keep as i64 };
        let mut session = self
            .store
            .write(&crate::governance::governance_lock())
            .await?;
        let gone = session.prune_changes(before, keep).await?;
        session.commit().await?;
        Ok(gone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_796_290_200_123), "2026-12-03T09:30:00.123Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }
}
