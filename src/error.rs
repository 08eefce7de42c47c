//! The one error type of the server's use cases. Each kind maps once to an HTTP status and a
//! safe message; the detail of internal errors goes to the log with the request id, never out.

use crate::domain::Invalid;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Input broke a rule; the message is safe to show (next to its field, when it names one).
    #[error("{0}")]
    Invalid(Invalid),
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Conflict(String),
    #[error("forbidden")]
    Forbidden,
    /// Allowed, but only after signing in again (with a second factor when the person has one).
    #[error("confirm it is you: sign in again")]
    Reauthenticate,
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::Invalid(Invalid::new(message))
    }

    pub fn internal(detail: impl std::fmt::Display) -> Self {
        Self::Internal(detail.to_string())
    }
}

impl From<Invalid> for AppError {
    fn from(e: Invalid) -> Self {
        Self::Invalid(e)
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Self::NotFound,
            StoreError::Conflict(what) => Self::Conflict(format!("{what} already exists")),
            other => Self::Internal(other.to_string()),
        }
    }
}

pub type AppResult<T> = Result<T, AppError>;
