//! What the sqlx backends (SQLite, PostgreSQL) share: how values are stored, and what their
//! errors mean to the repositories.

pub mod access;
pub mod api_keys;
pub mod artifacts;
pub mod connections;
pub mod factors;
pub mod identity;
pub mod initial_tokens;
pub mod insights;
pub mod jobs;
pub mod records;
mod values;
pub mod webhooks;

pub use values::Id;

use super::{StoreError, StoreResult};
use std::future::Future;

/// Ends the statements of a repository call: a transaction commits; a pooled connection has
/// committed each statement by itself.
pub trait Finish: Sized + Send {
    /// Commits; a transaction commits the audit events and webhook messages waiting for the
    /// change it made with it (`store::audited`).
    fn finish(self) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

    /// Commits statements that changed nothing, leaving the waiting rows to the caller (who
    /// audits nothing).
    fn finish_unchanged(self) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

    /// Ends a call whose statement changed `rows` rows, as [`Self::finish`] when it changed
    /// any, as [`Self::finish_unchanged`] otherwise; returns `rows`.
    fn finish_changing(self, rows: u64) -> impl Future<Output = Result<u64, sqlx::Error>> + Send {
        async move {
            if rows > 0 {
                self.finish().await?;
            } else {
                self.finish_unchanged().await?;
            }
            Ok(rows)
        }
    }
}

/// A value that does not decode is corrupt data; any other error means the database could not
/// answer.
impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => {
                StoreError::Corrupt(e.to_string())
            }
            _ => StoreError::Unavailable(e.to_string()),
        }
    }
}

/// Maps a unique-constraint violation to `Conflict(what)`, anything else as `?` would.
pub fn conflict(what: &'static str) -> impl Fn(sqlx::Error) -> StoreError {
    move |e| match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(what),
        _ => e.into(),
    }
}

/// Maps a foreign-key violation (a membership or assignment whose team or user does not exist)
/// to `NotFound`, anything else as `?` would.
pub fn missing_parent(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::NotFound,
        _ => e.into(),
    }
}

/// [`conflict`] and [`missing_parent`] together, for a row that is unique and names parents
/// that may be gone.
pub fn conflict_or_missing(what: &'static str) -> impl Fn(sqlx::Error) -> StoreError {
    move |e| match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(what),
        _ => missing_parent(e),
    }
}

/// `NotFound` when an update or delete that names one row touched none.
pub fn found(rows_affected: u64) -> StoreResult<()> {
    if rows_affected == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// A `LIKE … ESCAPE '\\'` pattern matching values that contain `text` (in lower case, for
/// `lower(column)`): its own `%`, `_` and `\\` match themselves.
pub fn contains_pattern(text: &str) -> String {
    let mut pattern = String::from("%");
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}
