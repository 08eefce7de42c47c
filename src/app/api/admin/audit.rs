//! The console's audit log, and how its events read (people by their email address).

#[cfg(feature = "ssr")]
use super::console;
use super::Console;
#[cfg(feature = "ssr")]
use crate::{
    app::api::server::{self, Ctx},
    domain::{AuditEvent, UserId},
    error::{AppError, AppResult},
};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventLine {
    pub id: String,
    pub at: String,
    pub action: String,
    pub ok: bool,
    pub actor: String,
    pub target: String,
    /// The actor and target as people read them (an email for `user:<id>`).
    pub actor_label: String,
    pub target_label: String,
    pub ip: String,
    pub user_agent: String,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditPage {
    pub events: Vec<EventLine>,
    pub next: Option<String>,
    /// The filters as a query string, for the export links.
    pub query: String,
}

/// Filters of the audit log, as the page's query string carries them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AuditFilter {
    pub actor: String,
    pub target: String,
    pub action: String,
    /// `success` or `failure`.
    pub result: String,
    /// `YYYY-MM-DD`, inclusive.
    pub from: String,
    /// `YYYY-MM-DD`, inclusive.
    pub until: String,
    pub before: String,
}

#[server(prefix = "/api", endpoint = "admin_audit")]
pub async fn load_admin_audit(
    tenant: String,
    filter: AuditFilter,
) -> Result<Console<AuditPage>, ServerFnError> {
    let ctx = server::context(&tenant).await?;
    console::load(&ctx, Some("audit:read"), |actor| {
        let ctx = &ctx;
        async move {
            let query = crate::admin::audit::query(
                &filter.actor,
                &filter.target,
                &filter.action,
                &filter.result,
                &filter.from,
                &filter.until,
            )?;
            let before = if filter.before.is_empty() {
                None
            } else {
                Some(
                    filter
                        .before
                        .parse()
                        .map_err(|_| AppError::invalid("That page link is not valid."))?,
                )
            };
            let events =
                crate::admin::audit::search(&ctx.state, &actor, &ctx.tenant, &query, before, 50)
                    .await?;
            let next = (events.len() == 50)
                .then(|| events.last().map(|e| e.id.to_string()))
                .flatten();
            let mut export = filter.clone();
            export.before.clear();
            Ok(AuditPage {
                events: with_people(ctx, events.iter().map(event_line).collect()).await?,
                next,
                query: serde_urlencoded::to_string(&export).unwrap_or_default(),
            })
        }
    })
    .await
}

#[cfg(feature = "ssr")]
pub(super) fn event_line(e: &AuditEvent) -> EventLine {
    EventLine {
        id: e.id.to_string(),
        at: server::when(e.at),
        action: e.action.clone(),
        ok: e.outcome == crate::domain::Outcome::Success,
        actor: e.actor.clone(),
        target: e.target.clone().unwrap_or_default(),
        actor_label: e.actor.clone(),
        target_label: e.target.clone().unwrap_or_default(),
        ip: e.ip.clone().unwrap_or_default(),
        user_agent: e
            .user_agent
            .as_deref()
            .map(|ua| ua.chars().take(80).collect())
            .unwrap_or_default(),
        reason: e.reason.clone().unwrap_or_default(),
    }
}

#[cfg(feature = "ssr")]
/// Shows `user:<id>` actors and targets by their email address.
pub(super) async fn with_people(ctx: &Ctx, mut lines: Vec<EventLine>) -> AppResult<Vec<EventLine>> {
    let mut known: std::collections::HashMap<String, String> = Default::default();
    for line in &mut lines {
        for (raw, label) in [
            (&line.actor, &mut line.actor_label),
            (&line.target, &mut line.target_label),
        ] {
            let Some(id) = raw
                .strip_prefix("user:")
                .and_then(|id| id.parse::<UserId>().ok())
            else {
                continue;
            };
            if !known.contains_key(raw) {
                let user = ctx.state.store.users.by_id(ctx.tenant.id, id).await?;
                let shown = user
                    .map(|u| u.email.to_string())
                    .unwrap_or_else(|| raw.clone());
                known.insert(raw.clone(), shown);
            }
            *label = known[raw].clone();
        }
    }
    Ok(lines)
}
