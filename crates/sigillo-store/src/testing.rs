//! Fresh databases for tests: a temporary SQLite file always, and a new PostgreSQL
//! database when `SIGILLO_TEST_POSTGRES_URL` is set (CI sets it).

use crate::{Backend, Store};
use rand::RngCore;
use sqlx::{Connection, Executor};

/// A migrated store on a database of its own. Dropping it leaves the SQLite file to
/// the temp dir's cleanup; call [`TestDb::cleanup`] to drop a PostgreSQL database.
#[derive(Debug)]
pub struct TestDb {
    pub store: Store,
    pub url: String,
    admin_url: Option<String>,
    name: String,
    _dir: Option<tempfile::TempDir>,
}

/// The backends to run contract tests on: SQLite, plus PostgreSQL when configured.
pub fn backends() -> Vec<Backend> {
    let mut out = vec![Backend::Sqlite];
    if postgres_url().is_some() {
        out.push(Backend::Postgres);
    }
    out
}

pub fn postgres_url() -> Option<String> {
    std::env::var("SIGILLO_TEST_POSTGRES_URL").ok().filter(|s| !s.is_empty())
}

impl TestDb {
    pub async fn new(backend: Backend) -> Self {
        let name = format!("sigillo_t_{:016x}", rand::rngs::OsRng.next_u64());
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite:{}", dir.path().join("test.db").display());
                let store = Store::connect(&url).await.expect("connect sqlite");
                store.migrate().await.expect("migrate sqlite");
                Self { store, url, admin_url: None, name, _dir: Some(dir) }
            }
            Backend::Postgres => {
                let admin_url = postgres_url().expect("SIGILLO_TEST_POSTGRES_URL");
                sqlx::any::install_default_drivers();
                let mut admin = sqlx::AnyConnection::connect(&admin_url).await.expect("connect postgres");
                admin.execute(format!("CREATE DATABASE {name}").as_str()).await.expect("create database");
                admin.close().await.ok();
                let url = with_database(&admin_url, &name);
                let store = Store::connect(&url).await.expect("connect postgres test db");
                store.migrate().await.expect("migrate postgres");
                Self { store, url, admin_url: Some(admin_url), name, _dir: None }
            }
        }
    }

    /// Closes the pool and drops the PostgreSQL database.
    pub async fn cleanup(self) {
        self.store.close().await;
        if let Some(admin_url) = self.admin_url {
            if let Ok(mut admin) = sqlx::AnyConnection::connect(&admin_url).await {
                admin.execute(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name).as_str()).await.ok();
                admin.close().await.ok();
            }
        }
    }
}

/// Replaces the database name of a PostgreSQL URL.
fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[scheme_end..].find('/').map(|i| i + scheme_end);
    let host = path_start.map_or(base, |i| &base[..i]);
    match query {
        Some(q) => format!("{host}/{db}?{q}"),
        None => format!("{host}/{db}"),
    }
}
