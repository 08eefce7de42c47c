//! `GET /t/{slug}/admin/audit/export`: the audit log as CSV or JSON Lines, streamed in batches
//! straight from storage, so an export of millions of events never sits in memory.

use crate::admin::{self, Actor};
use crate::domain::AuditEvent;
use crate::domain::RequestMeta;
use crate::error::AppError;
use crate::state::AppState;
use crate::store::AuditQuery;
use axum::{
    body::{Body, Bytes},
    extract::{Path, Query, State},
    http::{header, StatusCode},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use tower_sessions::Session;
use uuid::Uuid;

/// Filters of the audit log, as query parameters; each one left out does not filter.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct AuditFilters {
    /// Who acted, exactly as in `actor`, e.g. `user:<id>`.
    #[serde(default)]
    actor: String,
    /// What it was done to, exactly as in `target`.
    #[serde(default)]
    target: String,
    /// The action, exactly, e.g. `user.created`.
    #[serde(default)]
    action: String,
    /// `success` or `failure`.
    #[serde(default)]
    result: String,
    /// The first day, `YYYY-MM-DD` (UTC), inclusive.
    #[serde(default)]
    from: String,
    /// The last day, `YYYY-MM-DD` (UTC), inclusive.
    #[serde(default)]
    until: String,
}

impl AuditFilters {
    pub(crate) fn query(&self) -> Result<AuditQuery, AppError> {
        admin::audit::query(
            &self.actor,
            &self.target,
            &self.action,
            &self.result,
            &self.from,
            &self.until,
        )
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ExportFormat {
    /// `csv` (the default) or `jsonl` (one JSON object a line).
    #[serde(default)]
    format: String,
}

impl ExportFormat {
    pub(crate) fn format(&self) -> Option<Format> {
        match self.format.as_str() {
            "" | "csv" => Some(Format::Csv),
            "jsonl" => Some(Format::JsonLines),
            _ => None,
        }
    }
}

const COLUMNS: [&str; 11] = [
    "id",
    "at",
    "action",
    "result",
    "actor",
    "target",
    "ip",
    "user_agent",
    "reason",
    "request_id",
    "tenant_id",
];

pub(super) fn plain(status: StatusCode, text: &str) -> Response {
    (status, text.to_owned()).into_response()
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Csv,
    JsonLines,
}

impl Format {
    fn name(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::JsonLines => "jsonl",
        }
    }
}

pub async fn export(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    session: Session,
    meta: RequestMeta,
    Query(filters): Query<AuditFilters>,
    Query(format): Query<ExportFormat>,
) -> Response {
    let Some(format) = format.format() else {
        return plain(StatusCode::BAD_REQUEST, "format is csv or jsonl");
    };
    let query = match filters.query() {
        Ok(q) => q,
        Err(e) => return plain(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let actor = match console_actor(&state, &session, &meta, &slug).await {
        Ok(found) => found,
        Err(response) => return *response,
    };
    let (actor, tenant) = actor;
    match download(state, actor, tenant, query, format, &meta).await {
        Ok(response) => response,
        Err(AppError::Forbidden) => {
            plain(StatusCode::FORBIDDEN, "You may not read this audit log.")
        }
        Err(e) => internal(&meta, e),
    }
}

/// The events `query` finds as a file to download, streamed in batches, and the export
/// audited. The first batch is read (which checks `audit:read`) before any byte is sent.
pub(crate) async fn download(
    state: AppState,
    actor: Actor,
    tenant: std::sync::Arc<crate::domain::Tenant>,
    query: AuditQuery,
    format: Format,
    meta: &RequestMeta,
) -> Result<Response, AppError> {
    let first = admin::audit::search(
        &state,
        &actor,
        &tenant,
        &query,
        None,
        admin::audit::PAGE_LIMIT,
    )
    .await?;
    let event = AuditEvent::new(
        tenant.id,
        "audit.exported",
        crate::domain::Outcome::Success,
        actor.audit_name(),
    )
    .reason(format!("format={}", format.name()));
    state.audit(event, meta).await;
    let (content_type, extension) = match format {
        Format::Csv => ("text/csv; charset=utf-8", "csv"),
        Format::JsonLines => ("application/x-ndjson", "jsonl"),
    };
    let disposition = format!("attachment; filename=\"audit-{}.{extension}\"", tenant.slug);
    let body = Body::from_stream(batches(state, actor, tenant, query, first, format));
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        body,
    )
        .into_response())
}

pub(super) fn internal(meta: &RequestMeta, e: impl std::fmt::Display) -> Response {
    tracing::error!(request_id = ?meta.request_id, error = %e, "download failed");
    let text = match &meta.request_id {
        Some(id) => format!("Something went wrong (request id {id})."),
        None => "Something went wrong.".to_string(),
    };
    plain(StatusCode::INTERNAL_SERVER_ERROR, &text)
}

/// The signed-in console user of the tenant, or the answer to give instead.
pub(super) async fn console_actor(
    state: &AppState,
    session: &Session,
    meta: &RequestMeta,
    slug: &str,
) -> Result<(Actor, std::sync::Arc<crate::domain::Tenant>), Box<Response>> {
    let not_found = || Box::new(plain(StatusCode::NOT_FOUND, "not found"));
    let tenant = crate::oidc::tenant_by_slug(state, slug)
        .await
        .map_err(|e| Box::new(internal(meta, e)))?
        .ok_or_else(not_found)?;
    let actor = super::console_actor(state, session, meta, &tenant)
        .await
        .map_err(|e| Box::new(internal(meta, e)))?
        .ok_or_else(|| {
            Box::new(plain(
                StatusCode::UNAUTHORIZED,
                "Sign in to the console first.",
            ))
        })?;
    Ok((actor, tenant))
}

struct Cursor {
    state: AppState,
    actor: Actor,
    tenant: std::sync::Arc<crate::domain::Tenant>,
    query: AuditQuery,
    batch: Vec<AuditEvent>,
    header: bool,
    format: Format,
}

/// The export as a stream of chunks: the header, then one chunk per batch of events.
fn batches(
    state: AppState,
    actor: Actor,
    tenant: std::sync::Arc<crate::domain::Tenant>,
    query: AuditQuery,
    first: Vec<AuditEvent>,
    format: Format,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> {
    let start = Cursor {
        state,
        actor,
        tenant,
        query,
        batch: first,
        header: format == Format::Csv,
        format,
    };
    futures_util::stream::unfold(Some(start), |cursor| async move {
        let mut cursor = cursor?;
        if cursor.header {
            cursor.header = false;
            let chunk = csv_chunk(&[], true);
            return Some((chunk, Some(cursor)));
        }
        if cursor.batch.is_empty() {
            return None;
        }
        let chunk = match cursor.format {
            Format::Csv => csv_chunk(&cursor.batch, false),
            Format::JsonLines => Ok(jsonl_chunk(&cursor.batch)),
        };
        let full = cursor.batch.len() == admin::audit::PAGE_LIMIT as usize;
        let last: Option<Uuid> = cursor.batch.last().map(|e| e.id);
        cursor.batch = if full {
            match admin::audit::search(
                &cursor.state,
                &cursor.actor,
                &cursor.tenant,
                &cursor.query,
                last,
                admin::audit::PAGE_LIMIT,
            )
            .await
            {
                Ok(next) => next,
                Err(e) => return Some((Err(std::io::Error::other(e.to_string())), None)),
            }
        } else {
            Vec::new()
        };
        Some((chunk, Some(cursor)))
    })
}

/// Spreadsheet programs run cells that start with these as formulas (CSV injection): such
/// values are written with a leading apostrophe.
fn defused(value: &str) -> String {
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    }
}

fn csv_chunk(events: &[AuditEvent], header: bool) -> Result<Bytes, std::io::Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    if header {
        writer.write_record(COLUMNS)?;
    }
    for e in events {
        let record = [
            e.id.to_string(),
            e.at.rfc3339(),
            e.action.clone(),
            e.outcome.as_str().to_owned(),
            e.actor.clone(),
            e.target.clone().unwrap_or_default(),
            e.ip.clone().unwrap_or_default(),
            e.user_agent.clone().unwrap_or_default(),
            e.reason.clone().unwrap_or_default(),
            e.request_id.clone().unwrap_or_default(),
            e.tenant_id.to_string(),
        ];
        writer.write_record(record.iter().map(|v| defused(v)))?;
    }
    writer
        .into_inner()
        .map(Bytes::from)
        .map_err(|e| std::io::Error::other(e.to_string()))
}

fn jsonl_chunk(events: &[AuditEvent]) -> Bytes {
    let mut out = Vec::new();
    for e in events {
        let line = serde_json::json!({
            "id": e.id,
            "at": e.at.unix(),
            "action": e.action,
            "result": e.outcome.as_str(),
            "actor": e.actor,
            "target": e.target,
            "ip": e.ip,
            "user_agent": e.user_agent,
            "reason": e.reason,
            "request_id": e.request_id,
            "tenant_id": e.tenant_id,
        });
        out.extend_from_slice(line.to_string().as_bytes());
        out.push(b'\n');
    }
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spreadsheet_formulas_are_defused() {
        assert_eq!(defused("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(defused("+1"), "'+1");
        assert_eq!(defused("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(defused("user.created"), "user.created");
    }
}
