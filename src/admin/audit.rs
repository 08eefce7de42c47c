//! Reading the audit log: filtered pages for the console and streamed exports. There is no use
//! case that edits or deletes an event; only the retention purge (housekeeping) removes them.

use super::Actor;
use crate::domain::{AuditEvent, Outcome, Tenant, Timestamp};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::store::AuditQuery;
use uuid::Uuid;

const READ: &str = "audit:read";

/// The most events one page (or one batch of an export) holds.
pub const PAGE_LIMIT: u32 = 500;

/// Builds the filters from what a person typed; empty fields do not filter. Dates are
/// `YYYY-MM-DD` (UTC) and both ends are inclusive.
pub fn query(
    actor: &str,
    target: &str,
    action: &str,
    result: &str,
    from: &str,
    until: &str,
) -> AppResult<AuditQuery> {
    let text = |raw: &str, what: &str| -> AppResult<Option<String>> {
        let raw = raw.trim();
        if raw.chars().count() > 200 || raw.chars().any(char::is_control) {
            return Err(AppError::invalid(format!(
                "The {what} filter is at most 200 characters on one line."
            )));
        }
        Ok(Some(raw.to_owned()).filter(|r| !r.is_empty()))
    };
    let outcome = match result {
        "" => None,
        "success" => Some(Outcome::Success),
        "failure" => Some(Outcome::Failure),
        _ => return Err(AppError::invalid("The result is success or failure.")),
    };
    Ok(AuditQuery {
        actor: text(actor, "actor")?,
        target: text(target, "target")?,
        action: text(action, "action")?,
        outcome,
        from: day(from)?,
        until: day(until)?.map(|d| d.plus_secs(24 * 3600)),
    })
}

/// Midnight UTC of a `YYYY-MM-DD` date.
fn day(raw: &str) -> AppResult<Option<Timestamp>> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let date = time::Date::parse(raw, &format)
        .map_err(|_| AppError::invalid(format!("{raw:?} is not a date like 2026-01-31.")))?;
    Ok(Some(Timestamp::from_unix(
        date.midnight().assume_utc().unix_timestamp(),
    )))
}

pub async fn search(
    state: &AppState,
    actor: &Actor,
    tenant: &Tenant,
    query: &AuditQuery,
    before: Option<Uuid>,
    limit: u32,
) -> AppResult<Vec<AuditEvent>> {
    actor.require(tenant, READ)?;
    Ok(state
        .store
        .audit
        .search(tenant.id, query, before, limit.clamp(1, PAGE_LIMIT))
        .await?)
}
