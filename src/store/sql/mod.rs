//! Error mapping shared by the sqlx backends (SQLite, PostgreSQL).

use super::StoreError;

pub fn unavailable(e: sqlx::Error) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

/// Maps a unique-constraint violation to `Conflict(what)`, anything else to `Unavailable`.
pub fn conflict(what: &'static str) -> impl Fn(sqlx::Error) -> StoreError {
    move |e| match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(what),
        _ => unavailable(e),
    }
}

/// Maps a foreign-key violation (a membership or assignment whose team or user does not exist)
/// to `NotFound`, anything else to `Unavailable`.
pub fn missing_parent(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::NotFound,
        _ => unavailable(e),
    }
}
