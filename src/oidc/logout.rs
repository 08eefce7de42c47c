//! Signing out: ending a browser's sign-in everywhere it reached (the browser session, the
//! refresh tokens bound to it, the clients it signed in to), and the end-session endpoint of
//! OpenID Connect RP-Initiated Logout 1.0 that clients send people to.

use super::authorize::{error_page, internal_error, tenant_or_page};
use super::{backchannel, jwt, pages::Page, parse_params};
use crate::auth::browser;
use crate::domain::RequestMeta;
use crate::domain::{AuditEvent, Client, Outcome, Tenant, Timestamp, UserSession};
use crate::error::AppResult;
use crate::state::keys::TenantKeys;
use crate::state::AppState;
use axum::{
    extract::{Path, RawQuery, State},
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;
use std::collections::HashMap;
use tower_sessions::Session;

/// Signs this browser out of `tenant`; returns the sign-in that ended, if there was one.
/// Refresh tokens bound to it die with it; offline access survives (OIDC Core §11).
pub async fn end_sign_in(
    state: &AppState,
    session: &Session,
    tenant: &Tenant,
    meta: &RequestMeta,
) -> AppResult<Option<UserSession>> {
    let Some(id) = browser::sign_out(state, session, tenant).await? else {
        return Ok(None);
    };
    let Some(ended) = state.store.sessions.get(tenant.id, &id).await? else {
        return Ok(None);
    };
    let revoked = state
        .store
        .artifacts
        .revoke_session_tokens(tenant.id, &id, Timestamp::now())
        .await?;
    backchannel::notify(state, tenant, &ended).await?;
    let event = AuditEvent::new(
        tenant.id,
        "logout",
        Outcome::Success,
        format!("user:{}", ended.user_id),
    )
    .target(format!("sid:{}", backchannel::sid(&id)))
    .reason(format!("{revoked} token(s) bound to the sign-in revoked"));
    state.audit(event, meta).await;
    Ok(Some(ended))
}

pub async fn end_session_get(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    session: Session,
    meta: RequestMeta,
    RawQuery(query): RawQuery,
) -> Response {
    end_session(
        &state,
        &slug,
        &session,
        &meta,
        query.as_deref().unwrap_or(""),
        false,
    )
    .await
}

/// RP-Initiated Logout §2: the endpoint accepts POST too. A POST that carries this browser's
/// CSRF token is the person confirming on our page.
pub async fn end_session_post(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    session: Session,
    meta: RequestMeta,
    body: String,
) -> Response {
    end_session(&state, &slug, &session, &meta, &body, true).await
}

#[derive(Deserialize)]
struct HintClaims {
    aud: String,
    sub: String,
    sid: Option<String>,
}

/// An ID token we issued, read for its client, user and sign-in. Its expiry does not matter
/// (§2: the hint may have expired); its signature and issuer do.
fn read_hint(keys: &TenantKeys, issuer: &str, hint: &str) -> Option<HintClaims> {
    jwt::verify_ignoring_expiry(keys, hint, "JWT", issuer).ok()
}

async fn end_session(
    state: &AppState,
    slug: &str,
    session: &Session,
    meta: &RequestMeta,
    raw: &str,
    posted: bool,
) -> Response {
    let internal = |e: &dyn super::error::Fault| internal_error(e, meta);
    let bad_request = |message: &str| {
        error_page(
            StatusCode::BAD_REQUEST,
            "This sign-out request is not valid",
            message,
            meta,
        )
    };
    let tenant = match tenant_or_page(state, slug, meta).await {
        Ok(t) => t,
        Err(page) => return page,
    };
    if raw.len() > 16 * 1024 {
        return bad_request("The request is too large.");
    }
    let params = match parse_params(raw) {
        Ok(p) => p,
        Err(e) => return bad_request(&format!("The request is malformed: {e}.")),
    };
    let issuer = state.config.issuer(tenant.slug.as_str());
    let hint = match params.get("id_token_hint") {
        None => None,
        Some(raw_hint) => {
            let keys = match state.keys.for_tenant(tenant.id).await {
                Ok(k) => k,
                Err(e) => return internal(&e),
            };
            match read_hint(&keys, &issuer, raw_hint) {
                Some(h) => Some(h),
                None => return bad_request("The ID token sent with it was not issued here."),
            }
        }
    };
    // §2: with both, client_id must be the audience of the hint.
    let client_id = match (params.get("client_id"), &hint) {
        (Some(id), Some(h)) if *id != h.aud => {
            return bad_request("The application named does not match the ID token.")
        }
        (Some(id), _) => Some(id.clone()),
        (None, Some(h)) => Some(h.aud.clone()),
        (None, None) => None,
    };
    let client = match &client_id {
        None => None,
        Some(id) => match state.store.clients.by_client_id(tenant.id, id).await {
            Ok(c) => c,
            Err(e) => return internal(&e),
        },
    };
    // §3: an exact match with a registration of the client, or no redirect at all.
    let after = match params.get("post_logout_redirect_uri") {
        None => None,
        Some(uri) => match client.as_ref().filter(|c| registered(c, uri)) {
            Some(_) => Some(uri.clone()),
            None => return bad_request(
                "The address to return to after signing out is not registered for the application.",
            ),
        },
    };

    let signed_in = match browser::current_sign_in(state, session, &tenant).await {
        Ok(s) => s,
        Err(e) => return internal(&e),
    };
    if let Some(current) = &signed_in {
        // §2: without proof the request comes from the person's own client, ask them.
        let hinted_here = hint.as_ref().is_some_and(|h| {
            h.sub == current.user_id.to_string()
                && h.sid
                    .as_deref()
                    .is_none_or(|sid| sid == backchannel::sid(&current.id))
        });
        let confirmed = posted
            && match params.get("csrf") {
                Some(token) => browser::csrf_is_valid(session, token).await,
                None => false,
            };
        if !hinted_here && !confirmed {
            return confirm_page(session, &tenant, &params, client.as_ref(), meta).await;
        }
        if let Err(e) = end_sign_in(state, session, &tenant, meta).await {
            return internal(&e);
        }
    }
    let destination = match after {
        Some(uri) => {
            let mut url = match url::Url::parse(&uri) {
                Ok(u) => u,
                Err(_) => return bad_request("The address to return to is not valid."),
            };
            if let Some(state) = params.get("state") {
                url.query_pairs_mut().append_pair("state", state);
            }
            url.to_string()
        }
        None => format!("/t/{}/signed-out", tenant.slug),
    };
    let mut response = Redirect::to(&destination).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn registered(client: &Client, uri: &str) -> bool {
    client
        .post_logout_redirect_uris
        .iter()
        .any(|registered| registered.as_str() == uri)
}

/// Asks the person to confirm, carrying the request's parameters and a CSRF token.
async fn confirm_page(
    session: &Session,
    tenant: &Tenant,
    params: &HashMap<String, String>,
    client: Option<&Client>,
    meta: &RequestMeta,
) -> Response {
    let csrf = match browser::csrf_token(session).await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(request_id = ?meta.request_id, error = %e, "sign-out failed");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let carried: Vec<(String, String)> = [
        "id_token_hint",
        "client_id",
        "post_logout_redirect_uri",
        "state",
    ]
    .iter()
    .filter_map(|name| params.get(*name).map(|v| (name.to_string(), v.clone())))
    .collect();
    Page::LogoutConfirm {
        tenant_name: tenant.name.clone(),
        client_name: client.map(|c| c.name.clone()),
        action: format!("/t/{}/logout", tenant.slug),
        carried,
        csrf,
    }
    .respond(StatusCode::OK)
}
