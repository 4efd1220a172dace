//! The store's one error type. No HTTP here: the surfaces map it.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("the database URL must start with sqlite: or postgres:")]
    UnsupportedUrl,
    #[error("not found")]
    NotFound,
    /// A unique constraint refused the write; the name says which value was taken.
    #[error("{0} is already taken")]
    Conflict(&'static str),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl StoreError {
    /// Maps a unique violation to [`StoreError::Conflict`], anything else to `Database`.
    pub(crate) fn unique(err: sqlx::Error, what: &'static str) -> Self {
        match &err {
            sqlx::Error::Database(db) if db.is_unique_violation() => Self::Conflict(what),
            _ => Self::Database(err),
        }
    }
}
