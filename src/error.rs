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
    /// A store could not be reached: worth trying again soon (503 with `Retry-After`).
    #[error("storage unavailable: {0}")]
    Unavailable(String),
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
            StoreError::Unavailable(why) => Self::Unavailable(why),
            other => Self::Internal(other.to_string()),
        }
    }
}

pub type AppResult<T> = Result<T, AppError>;

/// How long clients are asked to wait when a store is unreachable (RFC 9110 §10.2.3).
pub const RETRY_AFTER_SECS: u32 = 5;
/// What a person is shown meanwhile.
pub const BRIEFLY_UNAVAILABLE: &str =
    "The service cannot answer at the moment. Try again in a few seconds.";

/// An error on the server's side: an outage of a store is answered 503 with `Retry-After`
/// (the request may succeed when tried again), anything else 500.
pub trait Fault: std::fmt::Display {
    /// A store could not be reached: the request may succeed if tried again.
    fn is_outage(&self) -> bool {
        false
    }
}

impl Fault for StoreError {
    fn is_outage(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}

impl Fault for AppError {
    fn is_outage(&self) -> bool {
        matches!(self, AppError::Unavailable(_))
    }
}

impl Fault for serde_json::Error {}

impl<T: Fault + ?Sized> Fault for &T {
    fn is_outage(&self) -> bool {
        (**self).is_outage()
    }
}
