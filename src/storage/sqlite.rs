//! The embedded SQLite store: a single file, for the quick start and small installations.
//! Writes are serialised: inside the process by a fair mutex, across processes by
//! `BEGIN IMMEDIATE`, which takes SQLite's write lock before the first read.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::Sqlite;
use tokio::sync::Mutex;

use super::sql::{Conn, SqlSession};
use super::{Session, Store, StoreResult};
use crate::types::QualifiedSubject;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

pub struct SqliteStore {
    pool: SqlitePool,
    writer: Arc<Mutex<()>>,
    waiting: Arc<super::Waiters>,
    log_changes: std::sync::atomic::AtomicBool,
}

impl SqliteStore {
    /// Opens (creating it and its directory if needed) the database file at `path`, with a pool
    /// of at most `max_connections` connections.
    pub async fn open(path: &Path, max_connections: u32) -> StoreResult<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(sqlx::Error::Io)?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(30));
        let pool = SqlitePoolOptions::new()
            .max_connections(max_connections)
            .connect_with(options)
            .await?;
        Ok(Self {
            pool,
            writer: Arc::new(Mutex::new(())),
            waiting: Arc::default(),
            log_changes: true.into(),
        })
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn read(&self) -> StoreResult<Box<dyn Session>> {
        let conn = {
            let _waiting = self.waiting.enter();
            self.pool.acquire().await?
        };
        Ok(Box::new(SqlSession::<Sqlite> {
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
        _exclusive: &[QualifiedSubject],
        _shared: &[QualifiedSubject],
    ) -> StoreResult<Box<dyn Session>> {
        let guard = self.writer.clone().lock_owned().await;
        // Begun in a task of its own: if the request is dropped while `BEGIN IMMEDIATE` is in
        // flight, the task still finishes and its transaction is dropped (rolled back), instead
        // of a pooled connection going back to the pool inside an open transaction.
        let (pool, waiting) = (self.pool.clone(), self.waiting.clone());
        let tx = tokio::spawn(async move {
            let _waiting = waiting.enter();
            pool.begin_with("BEGIN IMMEDIATE").await
        })
        .await
        .map_err(|e| super::StoreError::Corrupt(format!("transaction start failed: {e}")))??;
        Ok(Box::new(SqlSession::<Sqlite> {
            conn: Conn::Tx(tx),
            _guard: Some(guard),
            log_changes: self.log_changes.load(std::sync::atomic::Ordering::Relaxed),
            appended: false,
            after_commit: None,
            held: Default::default(),
            memo: None,
            discard: false,
        }))
    }

    async fn migrate(&self) -> StoreResult<()> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    fn set_change_log(&self, enabled: bool) {
        self.log_changes
            .store(enabled, std::sync::atomic::Ordering::Relaxed);
    }

    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn pool_connections(&self) -> (u32, usize) {
        (self.pool.size(), self.pool.num_idle())
    }

    fn pool_waiting(&self) -> usize {
        self.waiting.now()
    }
}
