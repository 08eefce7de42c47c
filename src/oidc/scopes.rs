//! What each scope means: the claims it releases (OIDC Core §5.4) and how consent describes it.

use crate::domain::User;
use serde_json::{Map, Value};

pub fn describe(scope: &str) -> String {
    match scope {
        "openid" => "Confirm who you are (your account identifier)".into(),
        "profile" => "See your name".into(),
        "email" => "See your email address and whether it is verified".into(),
        "offline_access" => "Stay connected when you are not using the application".into(),
        other => format!("Use \u{201c}{other}\u{201d} on your behalf"),
    }
}

/// The user's claims released by `scopes`, beside `sub`.
pub fn user_claims(user: &User, scopes: &[String]) -> Map<String, Value> {
    let mut claims = Map::new();
    if scopes.iter().any(|s| s == "profile") {
        if let Some(name) = &user.name {
            claims.insert("name".into(), Value::from(name.as_str()));
        }
        claims.insert("updated_at".into(), Value::from(user.updated_at.unix()));
    }
    if scopes.iter().any(|s| s == "email") {
        claims.insert("email".into(), Value::from(user.email.as_str()));
        claims.insert("email_verified".into(), Value::from(user.email_verified));
    }
    claims
}

pub const CLAIMS_SUPPORTED: [&str; 14] = [
    "sub",
    "iss",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "amr",
    "at_hash",
    "sid",
    "name",
    "email",
    "email_verified",
    "updated_at",
];
