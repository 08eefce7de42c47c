//! Secrets that prove control of an email address: six-digit codes typed back into a page, and
//! links that are opened. Both are stored only as SHA-256 hashes in the short-lived store, and
//! both work once.

use crate::crypto::{constant_time_eq, random_token, sha256_hex};
use crate::domain::{Email, TenantId, Timestamp, UserId};
use crate::error::AppError;
use crate::state::AppState;
use crate::store::{from_json, to_json, StoreError};
use rand::Rng;
use serde::{Deserialize, Serialize};

/// A code lives ten minutes from its first sending.
pub const CODE_LIFETIME_SECS: i64 = 600;
/// Wrong guesses allowed per code before it is discarded.
const CODE_ATTEMPTS: u32 = 5;
/// A new code may be requested this long after the previous one…
const RESEND_AFTER_SECS: i64 = 30;
/// …and at most this many times for one purpose.
const MAX_SENDS: u32 = 5;
const CODE_KIND: &str = "email_code";

#[derive(Debug, thiserror::Error)]
pub enum CodeError {
    #[error("that code is not right")]
    Wrong,
    #[error("that code has expired or was used up")]
    Expired,
    #[error("a new code can be sent in {0} seconds")]
    TooSoon(i64),
    #[error("no more codes can be sent; start again later")]
    SendLimit,
    #[error(transparent)]
    Internal(#[from] AppError),
}

impl From<StoreError> for CodeError {
    fn from(e: StoreError) -> Self {
        Self::Internal(e.into())
    }
}

#[derive(Serialize, Deserialize)]
struct PendingCode {
    hash: String,
    attempts_left: u32,
    sends: u32,
    sent_at: Timestamp,
}

fn code_hash(key: &str, code: &str) -> String {
    sha256_hex(&format!("{key}\n{code}"))
}

/// Emails a new six-digit code for `key` (what it unlocks, e.g. `signin:{flow}`).
pub async fn send_code(
    state: &AppState,
    tenant: TenantId,
    key: &str,
    to: &Email,
    subject: &str,
    intro: &str,
) -> Result<(), CodeError> {
    let now = Timestamp::now();
    let store = &state.store.artifacts;
    let sends = match store.get_ephemeral(tenant, CODE_KIND, key).await? {
        Some(record) => {
            let previous: PendingCode = from_json(&record.value)?;
            let wait = previous.sent_at.plus_secs(RESEND_AFTER_SECS).unix() - now.unix();
            if wait > 0 {
                return Err(CodeError::TooSoon(wait));
            }
            if previous.sends >= MAX_SENDS {
                return Err(CodeError::SendLimit);
            }
            store.take_ephemeral(tenant, CODE_KIND, key).await?;
            previous.sends
        }
        None => 0,
    };
    let code = format!("{:06}", rand::rngs::OsRng.gen_range(0..1_000_000u32));
    let pending = PendingCode {
        hash: code_hash(key, &code),
        attempts_left: CODE_ATTEMPTS,
        sends: sends + 1,
        sent_at: now,
    };
    store
        .put_ephemeral(
            tenant,
            CODE_KIND,
            key,
            &to_json(&pending),
            now.plus_secs(CODE_LIFETIME_SECS),
        )
        .await
        .map_err(|e| match e {
            // Another request sent a code at the same moment; that one stands.
            StoreError::Conflict(_) => CodeError::TooSoon(RESEND_AFTER_SECS),
            other => other.into(),
        })?;
    let body = format!(
        "{intro}\n\nYour code is: {code}\n\nIt works once and expires in 10 minutes. If you did not ask for it, ignore this email and consider changing your password.\n"
    );
    state.mailer.send(to, subject, body, "one-time code");
    Ok(())
}

/// Checks a typed code; a right code is spent, a wrong one uses up an attempt.
pub async fn check_code(
    state: &AppState,
    tenant: TenantId,
    key: &str,
    code: &str,
) -> Result<(), CodeError> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    let store = &state.store.artifacts;
    let Some(record) = store.get_ephemeral(tenant, CODE_KIND, key).await? else {
        return Err(CodeError::Expired);
    };
    let mut pending: PendingCode = from_json(&record.value)?;
    if pending.attempts_left == 0 {
        return Err(CodeError::Expired);
    }
    let right = code.len() == 6 && constant_time_eq(&pending.hash, &code_hash(key, &code));
    if right {
        // Of two requests with the right code, only the one that takes the record wins.
        return match store.take_ephemeral(tenant, CODE_KIND, key).await? {
            Some(taken) if taken.version == record.version => Ok(()),
            _ => Err(CodeError::Expired),
        };
    }
    pending.attempts_left -= 1;
    let swapped = store
        .swap_ephemeral(tenant, CODE_KIND, key, record.version, &to_json(&pending))
        .await?;
    if !swapped {
        return Err(CodeError::Expired);
    }
    Err(CodeError::Wrong)
}

/// What a link proves: that the person can read the mail of `email`, owned by `user`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkClaim {
    pub user_id: UserId,
    pub email: String,
}

/// Creates a single-use link token of `kind` (e.g. `password_reset`) living `lifetime_secs`.
pub async fn issue_link(
    state: &AppState,
    tenant: TenantId,
    kind: &str,
    claim: &LinkClaim,
    lifetime_secs: i64,
) -> Result<String, AppError> {
    let token = random_token(32);
    state
        .store
        .artifacts
        .put_ephemeral(
            tenant,
            kind,
            &sha256_hex(&token),
            &to_json(claim),
            Timestamp::now().plus_secs(lifetime_secs),
        )
        .await?;
    Ok(token)
}

/// The claim of a link that is still valid; `spend` uses the link up. `None` when it is
/// unknown, expired or already used.
pub async fn read_link(
    state: &AppState,
    tenant: TenantId,
    kind: &str,
    token: &str,
    spend: bool,
) -> Result<Option<LinkClaim>, AppError> {
    if token.is_empty() || token.len() > 64 {
        return Ok(None);
    }
    let store = &state.store.artifacts;
    let key = sha256_hex(token);
    let record = if spend {
        store.take_ephemeral(tenant, kind, &key).await?
    } else {
        store.get_ephemeral(tenant, kind, &key).await?
    };
    Ok(record.map(|r| from_json(&r.value)).transpose()?)
}
