//! A person's data as one JSON document (GDPR Art. 15 and 20): their profile, roles and teams,
//! sign-ins (open ones and the recorded history), the applications they allowed, their
//! second factors without the secrets, and the accounts at other providers they sign in with. Downloaded by the person from the account page, or by
//! an admin for one user (`admin::users::export_data`).

use super::audit;
use crate::domain::{AuditEvent, Outcome, RequestMeta, Tenant, Timestamp, User};
use crate::error::AppResult;
use crate::state::AppState;
use crate::store::AuditQuery;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Names the document's shape, so a reader can tell later versions apart.
pub const FORMAT: &str = "tessera.personal-data.v1";
/// The history holds at most this many events, newest first (the log's retention bounds it too).
pub const HISTORY_LIMIT: usize = 5_000;
const HISTORY_PAGE: u32 = 500;

/// The person's own download, audited as `account.data_exported`.
pub async fn own_data(
    state: &AppState,
    meta: &RequestMeta,
    tenant: &Tenant,
    user: &User,
) -> AppResult<Value> {
    let data = personal_data(state, tenant, user, true).await?;
    audit(
        state,
        meta,
        tenant,
        user,
        "account.data_exported",
        Outcome::Success,
        "",
    )
    .await;
    Ok(data)
}

/// Everything kept about `user` that is theirs to see. Secrets stay out: no password hash, no
/// factor state (TOTP seeds, passkey keys, backup-code hashes), no token or session ids.
/// `with_history` adds the events of the audit log about them.
pub async fn personal_data(
    state: &AppState,
    tenant: &Tenant,
    user: &User,
    with_history: bool,
) -> AppResult<Value> {
    let store = &state.store;
    let now = Timestamp::now();
    let team_names: BTreeMap<_, _> = store
        .access
        .teams(tenant.id)
        .await?
        .into_iter()
        .map(|t| (t.id, t.name))
        .collect();
    let teams: Vec<Value> = store
        .access
        .teams_of(tenant.id, user.id)
        .await?
        .into_iter()
        .map(|id| json!({ "id": id, "name": team_names.get(&id) }))
        .collect();
    let open_sign_ins: Vec<Value> = store
        .sessions
        .of_user(tenant.id, user.id, now)
        .await?
        .iter()
        .map(|s| {
            json!({
                "signed_in_at": s.auth_time.rfc3339(),
                "last_seen_at": s.last_seen_at.rfc3339(),
                "expires_at": s.expires_at.rfc3339(),
                "methods": s.amr,
                "ip": s.ip,
                "user_agent": s.user_agent,
            })
        })
        .collect();
    let mut consents = Vec::new();
    for (consent, application) in super::account::allowed_apps(state, tenant, user.id).await? {
        consents.push(json!({
            "client_id": consent.client_id,
            "application": application,
            "scopes": consent.scopes,
            "granted_at": consent.granted_at.rfc3339(),
        }));
    }
    let factors: Vec<Value> = store
        .factors
        .of_user(tenant.id, user.id)
        .await?
        .iter()
        .map(|f| {
            json!({
                "kind": f.kind.as_str(),
                "name": f.name,
                "added_at": f.created_at.rfc3339(),
                "last_used_at": f.last_used_at.map(Timestamp::rfc3339),
            })
        })
        .collect();
    let linked: Vec<Value> = super::upstream::links_of(state, tenant, user)
        .await?
        .iter()
        .map(|l| {
            json!({
                "provider": l.connection,
                "connection": l.connection_slug,
                "subject": l.subject,
                "email": l.email,
                "linked_at": l.created_at.rfc3339(),
                "last_used_at": l.last_used_at.map(Timestamp::rfc3339),
            })
        })
        .collect();
    let events = if with_history {
        history(state, tenant, user).await?
    } else {
        Vec::new()
    };
    let history: Vec<Value> = events
        .iter()
        .map(|e| {
            json!({
                "at": e.at.rfc3339(),
                "action": e.action,
                "result": e.outcome.as_str(),
                "by": e.actor,
                "ip": e.ip,
                "user_agent": e.user_agent,
                "detail": e.reason,
            })
        })
        .collect();
    Ok(json!({
        "format": FORMAT,
        "exported_at": now.rfc3339(),
        "organisation": { "slug": tenant.slug.as_str(), "name": tenant.name },
        "profile": {
            "id": user.id.to_string(),
            "email": user.email.as_str(),
            "email_verified": user.email_verified,
            "name": user.name,
            "has_password": user.password_hash.is_some(),
            "blocked": user.blocked,
            "deleted_at": user.deleted_at.map(Timestamp::rfc3339),
            "created_at": user.created_at.rfc3339(),
            "updated_at": user.updated_at.rfc3339(),
            "last_sign_in_at": user.last_login_at.map(Timestamp::rfc3339),
            "sign_in_count": user.login_count,
        },
        "roles": store.users.roles(tenant.id, user.id).await?,
        "teams": teams,
        "sign_ins": {
            "open": open_sign_ins,
            "history": if with_history { Value::from(history) } else { Value::Null },
        },
        "consents": consents,
        "second_factors": factors,
        "linked_identities": linked,
    }))
}

/// The audit events the person did or that were done to their account, newest first: their
/// sign-ins, failed attempts at their account, their own changes and admins' changes to it.
async fn history(state: &AppState, tenant: &Tenant, user: &User) -> AppResult<Vec<AuditEvent>> {
    let who = format!("user:{}", user.id);
    let by_them = AuditQuery {
        actor: Some(who.clone()),
        ..Default::default()
    };
    let about_them = AuditQuery {
        target: Some(who),
        ..Default::default()
    };
    let mut events = events_of(state, tenant, &by_them).await?;
    events.extend(events_of(state, tenant, &about_them).await?);
    // Event ids are UUIDv7: their order is the order of recording.
    events.sort_by_key(|e| std::cmp::Reverse(e.id));
    events.dedup_by_key(|e| e.id);
    events.truncate(HISTORY_LIMIT);
    Ok(events)
}

async fn events_of(
    state: &AppState,
    tenant: &Tenant,
    query: &AuditQuery,
) -> AppResult<Vec<AuditEvent>> {
    let mut events: Vec<AuditEvent> = Vec::new();
    loop {
        let before = events.last().map(|e| e.id);
        let page = state
            .store
            .audit
            .search(tenant.id, query, before, HISTORY_PAGE)
            .await?;
        let full = page.len() == HISTORY_PAGE as usize;
        events.extend(page);
        if !full || events.len() >= HISTORY_LIMIT {
            return Ok(events);
        }
    }
}
