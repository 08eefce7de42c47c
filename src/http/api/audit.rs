//! `/audit-events`: the organisation's audit log (`audit:read`), filtered, a page at a time
//! (newest first, with a cursor) or exported whole as CSV or JSON Lines.

use super::problem::Refusals;
use super::{Caller, Problem};
use crate::admin::audit;
use crate::domain::AuditEvent;
use crate::http::audit_export::{download, AuditFilters, ExportFormat};
use crate::state::AppState;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

const DEFAULT_LIMIT: u32 = 100;

/// A filter that cannot be: a malformed request rather than a field of a body.
fn malformed(refusal: crate::error::AppError) -> Problem {
    Problem::malformed(refusal.to_string())
}

/// One event of the audit log. Times are RFC 3339, UTC.
#[derive(Serialize, ToSchema)]
pub struct AuditEventOut {
    id: String,
    at: String,
    /// A dotted name such as `user.created` or `login.password`.
    action: String,
    /// `success` or `failure`.
    result: String,
    /// `user:<id>`, `client:<client_id>`, `api_key:<id>`, `cli` or `anonymous`.
    actor: String,
    target: Option<String>,
    ip: Option<String>,
    user_agent: Option<String>,
    /// Why it failed, or a detail of a success; never a secret.
    reason: Option<String>,
    request_id: Option<String>,
}

impl From<&AuditEvent> for AuditEventOut {
    fn from(event: &AuditEvent) -> Self {
        Self {
            id: event.id.to_string(),
            at: event.at.rfc3339(),
            action: event.action.clone(),
            result: event.outcome.as_str().to_owned(),
            actor: event.actor.clone(),
            target: event.target.clone(),
            ip: event.ip.clone(),
            user_agent: event.user_agent.clone(),
            reason: event.reason.clone(),
            request_id: event.request_id.clone(),
        }
    }
}

/// One page of events, newest first.
#[derive(Serialize, ToSchema)]
pub struct AuditPage {
    data: Vec<AuditEventOut>,
    /// Pass as `cursor` for the next (older) page; absent on the last page.
    next_cursor: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// The `next_cursor` of the previous page.
    #[serde(default)]
    cursor: Option<String>,
    /// Events per page, 1 to 500 (100 when absent).
    #[serde(default)]
    limit: Option<u32>,
}

/// Reads the audit log a page at a time, newest first (`audit:read`).
#[utoipa::path(get, path = "/audit-events", operation_id = "list_audit_events", tag = "audit", params(AuditFilters, PageParams),
    responses((status = 200, description = "A page of events", body = AuditPage), Refusals),
    security(("api_key" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    filters: Result<Query<AuditFilters>, QueryRejection>,
    page: Result<Query<PageParams>, QueryRejection>,
) -> Result<Json<AuditPage>, Problem> {
    let (Ok(Query(filters)), Ok(Query(page))) = (filters, page) else {
        return Err(Problem::malformed(
            "cursor is an event id, limit 1 to 500, each filter given once.",
        ));
    };
    let query = filters.query().map_err(malformed)?;
    let before = match page.cursor.as_deref().map(Uuid::parse_str) {
        None => None,
        Some(Ok(id)) => Some(id),
        Some(Err(_)) => return Err(Problem::malformed("The cursor is not one this API gave.")),
    };
    let limit = page.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=audit::PAGE_LIMIT).contains(&limit) {
        let refused = format!("limit is 1 to {}.", audit::PAGE_LIMIT);
        return Err(Problem::malformed(refused));
    }
    let found = audit::search(&state, &caller.actor, &caller.tenant, &query, before, limit)
        .await
        .map_err(caller.refused())?;
    let next_cursor = (found.len() == limit as usize)
        .then(|| found.last().map(|e| e.id.to_string()))
        .flatten();
    Ok(Json(AuditPage {
        data: found.iter().map(AuditEventOut::from).collect(),
        next_cursor,
    }))
}

/// The events the filters find as one file, streamed: CSV with a header line (the console's
/// export) or JSON Lines (`audit:read`). The export itself is audited.
#[utoipa::path(get, path = "/audit-events/export", operation_id = "export_audit_events", tag = "audit", params(AuditFilters, ExportFormat),
    responses((status = 200, description = "The events, oldest last",
        content(("text/csv"), ("application/x-ndjson"))), Refusals),
    security(("api_key" = [])))]
pub async fn export(
    State(state): State<AppState>,
    caller: Caller,
    filters: Result<Query<AuditFilters>, QueryRejection>,
    format: Result<Query<ExportFormat>, QueryRejection>,
) -> Result<Response, Problem> {
    let (Ok(Query(filters)), Ok(Query(format))) = (filters, format) else {
        return Err(Problem::malformed("Each filter is given once."));
    };
    let query = filters.query().map_err(malformed)?;
    let Some(format) = format.format() else {
        return Err(Problem::malformed("format is csv or jsonl."));
    };
    let (actor, tenant) = (caller.actor.clone(), caller.tenant.clone());
    download(state, actor, tenant, query, format, &caller.meta)
        .await
        .map_err(caller.refused())
}
