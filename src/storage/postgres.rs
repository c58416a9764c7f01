//! PostgreSQL, the production store. Writers to one subject serialise on a
//! transaction-scoped advisory lock, so several `accord-server` processes can share a database.

use std::str::FromStr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::Postgres;

use super::sql::{Conn, SqlSession};
use super::{Session, Store, StoreError, StoreResult};
use crate::types::QualifiedSubject;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

pub struct PostgresStore {
    /// The pool, behind the fast-failure rule.
    gate: Gate,
    /// The change-log wake-up, once a follower asked for it, and the listener's stop signal
    /// (dropped with the store).
    wakeups: std::sync::OnceLock<(Arc<tokio::sync::Notify>, tokio::sync::oneshot::Sender<()>)>,
    log_changes: std::sync::atomic::AtomicBool,
    /// Asks this process's numbering task to number the entries committed so far; answered
    /// when it has.
    numberer: tokio::sync::mpsc::UnboundedSender<tokio::sync::oneshot::Sender<()>>,
}

/// The pool with the fast-failure rule for an unreachable database.
#[derive(Clone)]
struct Gate {
    pool: PgPool,
    max_connections: u32,
    waiting: Arc<super::Waiters>,
    /// Until when (ms since the epoch) the database counts as unreachable: requests fail at
    /// once instead of each waiting out the pool's acquire timeout.
    down_until: Arc<AtomicI64>,
}

/// How long a request waits for a connection before asking whether the database is down.
const PROBE: Duration = Duration::from_secs(1);
/// How long an unreachable database is not asked again.
const DOWN_FOR_MS: i64 = 1_000;

/// Connecting failed (rather than the pool being busy): the database is unreachable.
fn unreachable() -> StoreError {
    StoreError::Database(sqlx::Error::PoolTimedOut)
}

impl PostgresStore {
    /// Connects lazily-validated: fails fast when the URL is malformed or the server refuses.
    pub async fn connect(url: &str, max_connections: u32) -> StoreResult<Self> {
        let options = PgConnectOptions::from_str(url)?;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        let (numberer, requests) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(numbering(pool.clone(), requests));
        Ok(Self {
            numberer,
            gate: Gate {
                pool,
                max_connections,
                waiting: Arc::default(),
                down_until: Arc::default(),
            },
            wakeups: std::sync::OnceLock::new(),
            log_changes: true.into(),
        })
    }
}

impl Gate {
    /// Runs `attempt` (which takes a connection from the pool) with the fast failure rule: while
    /// the database was found unreachable in the last second, fail at once; when no connection
    /// comes within [`PROBE`] although the pool is not full of busy ones (so it could not open
    /// one), the database is unreachable. A full, busy pool waits the usual acquire timeout.
    async fn with_connection<T, F>(&self, attempt: impl Fn() -> F) -> StoreResult<T>
    where
        F: std::future::Future<Output = Result<T, sqlx::Error>>,
    {
        self.fail_if_down()?;
        let _waiting = self.waiting.enter();
        match tokio::time::timeout(PROBE, attempt()).await {
            Ok(result) => result.map_err(|e| self.noted(e)),
            Err(_) if self.pool.size() < self.max_connections || self.pool.num_idle() > 0 => {
                self.mark_down();
                Err(unreachable())
            }
            Err(_) => Ok(attempt().await?),
        }
    }

    fn fail_if_down(&self) -> StoreResult<()> {
        if super::now_millis() < self.down_until.load(Ordering::Relaxed) {
            return Err(unreachable());
        }
        Ok(())
    }

    /// A failure to reach the database marks it down.
    fn noted(&self, e: sqlx::Error) -> StoreError {
        if matches!(e, sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut) {
            self.mark_down();
        }
        StoreError::from(e)
    }

    fn mark_down(&self) {
        tracing::warn!("the database is unreachable");
        self.down_until
            .store(super::now_millis() + DOWN_FOR_MS, Ordering::Relaxed);
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn read(&self) -> StoreResult<Box<dyn Session>> {
        let conn = self
            .gate
            .with_connection(|| self.gate.pool.acquire())
            .await?;
        Ok(Box::new(SqlSession::<Postgres> {
            conn: Conn::Pooled(conn),
            _guard: None,
            log_changes: self.log_changes.load(std::sync::atomic::Ordering::Relaxed),
            appended: false,
            after_commit: None,
            held: Default::default(),
            memo: None,
            discard: false,
        }))
    }

    async fn write_set(
        &self,
        exclusive: &[QualifiedSubject],
        shared: &[QualifiedSubject],
    ) -> StoreResult<Box<dyn Session>> {
        // Begun and locked in a task of its own: a request dropped meanwhile leaves the task to
        // finish and drop (roll back) the transaction, so no pooled connection is ever returned
        // inside a half-started transaction.
        let gate = self.gate.clone();
        let keys = super::lock_order(exclusive, shared);
        let held = keys.iter().map(|(k, _)| k.clone()).collect();
        let tx = tokio::spawn(async move {
            // No time limit of ours around `begin` (cancelling it mid-way is what must not
            // happen); the fast failure comes from the reads' probe marking the database down.
            gate.fail_if_down()?;
            let waiting = gate.waiting.enter();
            let mut tx = gate.pool.begin().await.map_err(|e| gate.noted(e))?;
            drop(waiting);
            if let [(key, exclusive)] = keys.as_slice() {
                let q = if *exclusive {
                    "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))"
                } else {
                    "SELECT pg_advisory_xact_lock_shared(hashtextextended($1, 0))"
                };
                sqlx::query(q).bind(key).execute(&mut *tx).await?;
            } else if !keys.is_empty() {
                // A change set's many subjects in one round trip, taken one after the other in
                // the array's (the global) order: the lock calls are volatile, so PostgreSQL
                // evaluates them row by row after ordering.
                let (names, exclusive): (Vec<String>, Vec<bool>) = keys.into_iter().unzip();
                sqlx::query(
                    "SELECT CASE WHEN x THEN pg_advisory_xact_lock(hashtextextended(k, 0)) \
                     ELSE pg_advisory_xact_lock_shared(hashtextextended(k, 0)) END \
                     FROM unnest($1::text[], $2::bool[]) WITH ORDINALITY AS t(k, x, n) ORDER BY n",
                )
                .bind(names)
                .bind(exclusive)
                .execute(&mut *tx)
                .await?;
            }
            Ok::<_, StoreError>(tx)
        })
        .await
        .map_err(|e| super::StoreError::Corrupt(format!("transaction start failed: {e}")))??;
        let numberer = self.numberer.clone();
        Ok(Box::new(SqlSession::<Postgres> {
            conn: Conn::Tx(tx),
            _guard: None,
            log_changes: self.log_changes.load(std::sync::atomic::Ordering::Relaxed),
            appended: false,
            // Numbered before the writer answers, so its client reads its own entry.
            after_commit: Some(Box::new(move || Box::pin(numbered(numberer)))),
            held,
            memo: None,
            discard: false,
        }))
    }

    async fn migrate(&self) -> StoreResult<()> {
        MIGRATOR.run(&self.gate.pool).await?;
        Ok(())
    }

    async fn ping(&self) -> StoreResult<()> {
        let mut conn = self
            .gate
            .with_connection(|| self.gate.pool.acquire())
            .await?;
        sqlx::query("SELECT 1").execute(&mut *conn).await?;
        Ok(())
    }

    fn set_change_log(&self, enabled: bool) {
        self.log_changes
            .store(enabled, std::sync::atomic::Ordering::Relaxed);
    }

    fn backend(&self) -> &'static str {
        "postgres"
    }

    fn pool_connections(&self) -> (u32, usize) {
        (self.gate.pool.size(), self.gate.pool.num_idle())
    }

    fn pool_waiting(&self) -> usize {
        self.gate.waiting.now()
    }

    async fn number_changes(&self) -> StoreResult<()> {
        self.gate.fail_if_down()?;
        numbered(self.numberer.clone()).await;
        Ok(())
    }

    fn change_wakeups(&self) -> Option<Arc<tokio::sync::Notify>> {
        let (notify, _) = self.wakeups.get_or_init(|| {
            let notify = Arc::new(tokio::sync::Notify::new());
            let (stop, stopped) = tokio::sync::oneshot::channel();
            tokio::spawn(listen(self.gate.pool.clone(), notify.clone(), stopped));
            (notify, stop)
        });
        Some(notify.clone())
    }
}

/// The process's numbering task: each run numbers every entry committed before it began and
/// answers every writer that asked before it began, so concurrent writers share one short
/// transaction (and its commit) instead of queueing one each behind the counter's lock. Ends
/// with the store (its sender). In a task of its own, so a dropped request cannot stop a run
/// half-way.
async fn numbering(
    pool: PgPool,
    mut requests: tokio::sync::mpsc::UnboundedReceiver<tokio::sync::oneshot::Sender<()>>,
) {
    while let Some(first) = requests.recv().await {
        let mut waiting = vec![first];
        while let Ok(more) = requests.try_recv() {
            waiting.push(more);
        }
        loop {
            match number_changes(pool.clone()).await {
                // A full batch: more may be waiting.
                Ok(n) if n >= NUMBER_BATCH => continue,
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "change-log entries not numbered yet; the follower will");
                    break;
                }
            }
        }
        for w in waiting {
            let _ = w.send(());
        }
    }
}

/// Asks the numbering task to number what has committed so far; returns when it has (or has
/// given up, logging why).
async fn numbered(numberer: tokio::sync::mpsc::UnboundedSender<tokio::sync::oneshot::Sender<()>>) {
    let (done, numbered) = tokio::sync::oneshot::channel();
    if numberer.send(done).is_ok() {
        let _ = numbered.await;
    }
}

/// Entries numbered by one transaction at most.
const NUMBER_BATCH: u64 = 1000;

/// Moves the committed entries waiting in `change_inbox` to `changes`, numbered after the head
/// in inbox order, in one statement that holds `change_head`'s row lock: a batch is numbered
/// gap-free and becomes visible at once, and the next batch is numbered only after this one
/// committed. Every instance's listener is then woken by a `NOTIFY`. How many moved.
async fn number_changes(pool: PgPool) -> StoreResult<u64> {
    let (waiting,): (bool,) = sqlx::query_as("SELECT EXISTS (SELECT 1 FROM change_inbox)")
        .fetch_one(&pool)
        .await?;
    if !waiting {
        return Ok(0);
    }
    let mut tx = pool.begin().await?;
    // The head row's lock first (so numberers never wait on each other in two places); the
    // statement after it has a fresh snapshot (READ COMMITTED), which sees what the previous
    // holder moved.
    let (head,): (i64,) = sqlx::query_as("SELECT seq FROM change_head WHERE id = 1 FOR UPDATE")
        .fetch_one(&mut *tx)
        .await?;
    let (moved,): (i64,) = sqlx::query_as(
        "WITH moved AS ( \
           DELETE FROM change_inbox WHERE id IN \
             (SELECT id FROM change_inbox ORDER BY id LIMIT $2) \
           RETURNING id, at, kind, context, subject, body), \
         numbered AS ( \
           INSERT INTO changes (seq, at, kind, context, subject, body) \
           SELECT $1 + ROW_NUMBER() OVER (ORDER BY id), at, kind, context, subject, body \
           FROM moved RETURNING seq), \
         top AS (SELECT MAX(seq) AS seq, COUNT(*) AS n FROM numbered), \
         bumped AS (UPDATE change_head SET seq = top.seq FROM top \
           WHERE change_head.id = 1 AND top.n > 0) \
         SELECT n FROM top",
    )
    .bind(head)
    .bind(NUMBER_BATCH as i64)
    .fetch_one(&mut *tx)
    .await?;
    if moved == 0 {
        // Someone else numbered them meanwhile.
        tx.rollback().await?;
        return Ok(0);
    }
    // A wake-up for every instance's listener, delivered at commit (the table is the truth, so
    // a lost one merely delays).
    sqlx::query("SELECT pg_notify('accord_changes', CAST($1 AS TEXT))")
        .bind(head + moved)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    let moved = u64::try_from(moved).unwrap_or(0);
    Ok(moved)
}

/// Follows `NOTIFY accord_changes` on a connection of its own, waking `notify` for each, until
/// `stop` fires or is dropped (with the store). A lost connection is opened again; what was
/// notified meanwhile is found by the followers' slower timer.
async fn listen(
    pool: PgPool,
    notify: Arc<tokio::sync::Notify>,
    stop: tokio::sync::oneshot::Receiver<()>,
) {
    let follow = async {
        loop {
            let mut listener = match sqlx::postgres::PgListener::connect_with(&pool).await {
                Ok(l) => l,
                Err(e) => {
                    tracing::debug!(error = %e, "change notifications not followed; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            if let Err(e) = listener.listen("accord_changes").await {
                tracing::debug!(error = %e, "LISTEN failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
            loop {
                match listener.try_recv().await {
                    Ok(Some(_)) => notify.notify_one(),
                    // The connection was lost (the next call opens another): notifications may
                    // be gone meanwhile, so the follower reads the log now.
                    Ok(None) => notify.notify_one(),
                    Err(e) => {
                        tracing::debug!(error = %e, "change notifications interrupted");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        break;
                    }
                }
            }
        }
    };
    tokio::select! {
        () = follow => {}
        _ = stop => {}
    }
}
