//! The registered claims (RFC 7519 §4.1) that every check of one of our tokens reads: what
//! `jwt` checks and what `keys` remembers of a token it has checked.

use serde::Deserialize;

#[derive(Clone, Deserialize)]
pub struct Registered {
    pub iss: Option<String>,
    pub sub: Option<String>,
    pub exp: Option<i64>,
}
