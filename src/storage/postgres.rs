//! PostgreSQL, the production store. Writers to one subject serialise on a
//! transaction-scoped advisory lock, so several `accord-server` processes can share a database.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::Postgres;

use super::sql::{Conn, SqlSession};
use super::{Session, Store, StoreResult};
use crate::types::QualifiedSubject;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

pub struct PostgresStore {
    pool: PgPool,
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
        Ok(Self { pool })
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn read(&self) -> StoreResult<Box<dyn Session>> {
        let conn = self.pool.acquire().await?;
        Ok(Box::new(SqlSession::<Postgres> {
            conn: Conn::Pooled(conn),
            _guard: None,
        }))
    }

    async fn write(&self, subject: &QualifiedSubject) -> StoreResult<Box<dyn Session>> {
        // Begun and locked in a task of its own: a request dropped meanwhile leaves the task to
        // finish and drop (roll back) the transaction, so no pooled connection is ever returned
        // inside a half-started transaction.
        let pool = self.pool.clone();
        let key = super::subject_lock_key(subject);
        let tx = tokio::spawn(async move {
            let mut tx = pool.begin().await?;
            sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
                .bind(key)
                .execute(&mut *tx)
                .await?;
            Ok::<_, sqlx::Error>(tx)
        })
        .await
        .map_err(|e| super::StoreError::Corrupt(format!("transaction start failed: {e}")))??;
        Ok(Box::new(SqlSession::<Postgres> {
            conn: Conn::Tx(tx),
            _guard: None,
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

    fn backend(&self) -> &'static str {
        "postgres"
    }
}
