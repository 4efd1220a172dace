//! sigillo's persistence: one [`Store`] on SQLite or PostgreSQL, picked from the URL.
//!
//! The SQL is portable (`$1` placeholders, integers, text and blobs only) and runs through
//! sqlx's `Any` driver, so no database type parameter leaks into the server. One-time-use
//! rules and attempt counters are conditional `UPDATE … RETURNING` statements: a replay
//! or a race ends in a clean "no row" answer, not in luck (P2, P8).
//!
//! Repository functions take a `&mut Conn`, so the service layer can run several of them,
//! an audit record and an outbox message in one transaction ([`Store::begin`]).
//!
//! # Layout
//! - [`error`]: the `StoreError` type.
//! - [`repo`]: one module per aggregate (users, attempts, flows, sessions, email
//!   verifications, outbox, audit).
#![forbid(unsafe_code)]

pub mod error;
pub mod repo;
#[cfg(feature = "testing")]
#[expect(clippy::expect_used, reason = "test support: a failed setup should stop the test loudly")]
pub mod testing;

pub use error::StoreError;
pub use sqlx::AnyConnection as Conn;

use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Connection, Executor};
use std::time::Duration;

pub type Result<T> = std::result::Result<T, StoreError>;
pub type Tx = sqlx::Transaction<'static, sqlx::Any>;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> Result<Self> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Self::Postgres)
        } else {
            Err(StoreError::UnsupportedUrl)
        }
    }
}

/// The database, shared by every request of a node (cheap to clone).
/// How SQLite makes a commit durable (docs/adr/0011-sqlite-durability.md).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SqliteSynchronous {
    /// Every commit is on disk before it is answered (SQLite's default).
    #[default]
    Full,
    /// In WAL mode: never corrupt, but the last commits may roll back after a power loss
    /// or an operating-system crash (not after a crash of sigillo itself).
    Normal,
}

impl SqliteSynchronous {
    fn pragma(self) -> &'static str {
        match self {
            Self::Full => "PRAGMA synchronous = FULL",
            Self::Normal => "PRAGMA synchronous = NORMAL",
        }
    }
}

/// Options of [`Store::connect_with`].
#[derive(Clone, Copy, Debug, Default)]
pub struct StoreOptions {
    pub sqlite_synchronous: SqliteSynchronous,
}

#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    url: String,
}

impl Store {
    /// Connects to `sqlite:PATH` (created if missing, WAL mode, 5 s busy timeout) or
    /// `postgres://…`. Does not migrate: call [`Store::migrate`].
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with(url, &StoreOptions::default()).await
    }

    /// [`Store::connect`] with options (SQLite's durability).
    pub async fn connect_with(url: &str, options: &StoreOptions) -> Result<Self> {
        let synchronous = options.sqlite_synchronous.pragma();
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url)?;
        let url = match backend {
            Backend::Sqlite if !url.contains("mode=") => {
                format!("{url}{}mode=rwc", if url.contains('?') { '&' } else { '?' })
            }
            _ => url.to_owned(),
        };
        if backend == Backend::Sqlite {
            // WAL is a property of the file: set it once, on a connection of its own,
            // since changing it needs a lock that the busy timeout does not wait for.
            let mut conn = sqlx::AnyConnection::connect(&url).await?;
            conn.execute("PRAGMA journal_mode = WAL").await?;
            conn.close().await?;
        }
        let pool = AnyPoolOptions::new()
            .max_connections(match backend {
                Backend::Sqlite => 4,
                Backend::Postgres => 16,
            })
            .acquire_timeout(Duration::from_secs(10))
            // An embedded SQLite connection cannot go stale; pinging it on every acquire
            // costs a hand-off to its worker thread on the login hot path (bench/login).
            .test_before_acquire(backend == Backend::Postgres)
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        conn.execute("PRAGMA busy_timeout = 5000").await?;
                        conn.execute(synchronous).await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await?;
        Ok(Self { pool, backend, url })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The URL the store connected to (a PostgreSQL listener opens its own connection).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Applies the migrations of this backend's tree.
    pub async fn migrate(&self) -> Result<()> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(&self.pool).await?;
        Ok(())
    }

    /// A connection from the pool, for reads and single-statement writes.
    pub async fn conn(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Any>> {
        Ok(self.pool.acquire().await?)
    }

    /// A write transaction. On SQLite it takes the write lock at once (`BEGIN IMMEDIATE`),
    /// so a transaction that reads before it writes never fails to upgrade its lock.
    pub async fn begin(&self) -> Result<Tx> {
        Ok(match self.backend {
            // Run on a task of its own: if the request is cancelled mid-`BEGIN`, sqlx may
            // already have started the transaction, and a dropped future would hand the
            // connection back to the pool still inside it (found by bench/login).
            Backend::Sqlite => {
                let pool = self.pool.clone();
                tokio::spawn(async move { pool.begin_with("BEGIN IMMEDIATE").await })
                    .await
                    .map_err(|e| StoreError::Corrupt(format!("begin task: {e}")))??
            }
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// [`Store::begin`] for a transaction whose first statement writes (the login's).
    /// On SQLite a plain `BEGIN`: nothing read before that first write, so it takes the
    /// write lock there, waiting for it as `BEGIN IMMEDIATE` would. It spares what a
    /// custom `BEGIN` costs in sqlx — a check of the connection's state after it and the
    /// task that keeps that check from being cancelled half-way, four thread hand-offs on
    /// the login hot path (bench/login) — and sqlx rolls back a plain `BEGIN` whose caller
    /// went away. A transaction that may read before it writes must use [`Store::begin`].
    pub async fn begin_writing(&self) -> Result<Tx> {
        Ok(self.pool.begin().await?)
    }

    /// Whether the database answers (for `/healthz`).
    pub async fn ping(&self) -> Result<()> {
        self.pool.acquire().await?.ping().await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// A fresh UUIDv7 (time-ordered, so indexes stay compact) as text.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Commits a transaction, mapping the driver's error.
pub async fn commit(tx: Tx) -> Result<()> {
    tx.commit().await?;
    Ok(())
}

/// Runs one raw SQL statement (operator tooling and tests).
pub async fn raw_execute(conn: &mut Conn, sql: &str) -> Result<u64> {
    Ok(sqlx::query(sql).execute(&mut *conn).await?.rows_affected())
}
