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
        Ok(Self {
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
        }))
    }

    async fn write(&self, subject: &QualifiedSubject) -> StoreResult<Box<dyn Session>> {
        // Begun and locked in a task of its own: a request dropped meanwhile leaves the task to
        // finish and drop (roll back) the transaction, so no pooled connection is ever returned
        // inside a half-started transaction.
        let gate = self.gate.clone();
        let key = super::subject_lock_key(subject);
        let tx = tokio::spawn(async move {
            // No time limit of ours around `begin` (cancelling it mid-way is what must not
            // happen); the fast failure comes from the reads' probe marking the database down.
            gate.fail_if_down()?;
            let waiting = gate.waiting.enter();
            let mut tx = gate.pool.begin().await.map_err(|e| gate.noted(e))?;
            drop(waiting);
            sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
                .bind(key)
                .execute(&mut *tx)
                .await?;
            Ok::<_, StoreError>(tx)
        })
        .await
        .map_err(|e| super::StoreError::Corrupt(format!("transaction start failed: {e}")))??;
        Ok(Box::new(SqlSession::<Postgres> {
            conn: Conn::Tx(tx),
            _guard: None,
            log_changes: self.log_changes.load(std::sync::atomic::Ordering::Relaxed),
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
