//! The authorization endpoint (RFC 6749 §4.1, OIDC Core §3.1.2) and the hand-back to the
//! client once the person has signed in and consented.

use super::authorization_request::{response_mode, validate};
use super::error::{Fault, RETRY_AFTER_SECS};
use super::request_object::{self, Refused};
use super::{any_tenant_by_slug, pages::Page, parse_params};
use crate::auth::{browser, login};
use crate::crypto::{random_token, sha256_hex};
use crate::domain::RequestMeta;
use crate::domain::{
    AuditEvent, AuthorizationCode, AuthorizationRequest, FlowStep, LoginFlow, Outcome,
    ResponseMode, Tenant, Timestamp,
};
use crate::oidc::{backchannel, par};
use crate::state::AppState;
use axum::{
    extract::{Path, Query, RawQuery, State},
    http::{header, HeaderValue, StatusCode},
    response::{Html, IntoResponse, Redirect, Response},
};
use serde::Deserialize;
use tower_sessions::Session;

/// Authorization codes live 60 seconds (RFC 6749 §4.1.2 recommends at most 10 minutes).
const CODE_LIFETIME_SECS: i64 = 60;
const MAX_QUERY_LEN: usize = 8 * 1024;

pub async fn authorize_get(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    session: Session,
    meta: RequestMeta,
    RawQuery(query): RawQuery,
) -> Response {
    authorize(
        &state,
        &slug,
        &session,
        &meta,
        query.as_deref().unwrap_or(""),
    )
    .await
}

/// OIDC Core §3.1.2.1: the endpoint MUST support POST with form-encoded parameters too.
pub async fn authorize_post(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    session: Session,
    meta: RequestMeta,
    body: String,
) -> Response {
    authorize(&state, &slug, &session, &meta, &body).await
}

/// Shown instead of redirecting when the client or redirect URI cannot be trusted
/// (RFC 6749 §4.1.2.1: MUST NOT automatically redirect to an invalid redirection URI).
pub fn error_page(status: StatusCode, title: &str, message: &str, meta: &RequestMeta) -> Response {
    Page::Error {
        title: title.to_owned(),
        message: message.to_owned(),
        request_id: meta.request_id.clone(),
    }
    .respond(status)
}

/// The tenant of a browser-facing endpoint, or the page that says there is none.
pub async fn tenant_or_page(
    state: &AppState,
    slug: &str,
    meta: &RequestMeta,
) -> Result<std::sync::Arc<Tenant>, Response> {
    match any_tenant_by_slug(state, slug).await {
        Ok(Some(tenant)) if tenant.accepts_sign_ins() => Ok(tenant),
        Ok(Some(tenant)) => Err(error_page(
            StatusCode::FORBIDDEN,
            super::SUSPENDED,
            &format!(
                "Signing in to {} is not possible at the moment. Contact the organisation's administrators.",
                tenant.name
            ),
            meta,
        )),
        Ok(None) => Err(error_page(
            StatusCode::NOT_FOUND,
            "Not found",
            "There is no such organisation here.",
            meta,
        )),
        Err(e) => Err(internal_error(e, meta)),
    }
}

pub fn internal_error(e: impl Fault, meta: &RequestMeta) -> Response {
    if e.is_outage() {
        tracing::warn!(request_id = ?meta.request_id, error = %e, "storage unavailable");
        let mut page = error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Briefly unavailable",
            crate::error::BRIEFLY_UNAVAILABLE,
            meta,
        );
        page.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
        return page;
    }
    tracing::error!(request_id = ?meta.request_id, error = %e, "authorization failed");
    error_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        "Your request could not be completed. Please try again in a moment.",
        meta,
    )
}

async fn authorize(
    state: &AppState,
    slug: &str,
    session: &Session,
    meta: &RequestMeta,
    raw: &str,
) -> Response {
    let tenant = match tenant_or_page(state, slug, meta).await {
        Ok(t) => t,
        Err(page) => return page,
    };
    let bad_request = |message: &str| {
        error_page(
            StatusCode::BAD_REQUEST,
            "This sign-in request is not valid",
            message,
            meta,
        )
    };
    if raw.len() > MAX_QUERY_LEN {
        return bad_request("The request is too large.");
    }
    let mut params = match parse_params(raw) {
        Ok(p) => p,
        Err(e) => return bad_request(&format!("The request is malformed: {e}.")),
    };
    let Some(client_id) = params.get("client_id").filter(|c| !c.is_empty()) else {
        return bad_request(
            "The request does not say which application is asking (client_id is missing).",
        );
    };
    let client = match state.store.clients.by_client_id(tenant.id, client_id).await {
        Ok(Some(c)) if !c.disabled => c,
        Ok(_) => {
            return bad_request(
                "The application that sent you here is not registered with this organisation.",
            )
        }
        Err(e) => return internal_error(e, meta),
    };
    // RFC 9126 §4: a pushed request replaces every other parameter; so does a request object
    // (RFC 9101 §6.3), by value or by reference.
    let (pushed, signed) = match params.get("request_uri") {
        Some(request_uri) if par::is_pushed(request_uri) => {
            match par::take(state, &tenant, &client, request_uri).await {
                Ok(Some(stored)) => {
                    params = stored.params;
                    (true, stored.signed)
                }
                Ok(None) => {
                    return bad_request(
                        "The request has expired or was already used. Go back to the application and start again.",
                    )
                }
                Err(e) => return internal_error(e, meta),
            }
        }
        _ => match request_object::unpack(state, &tenant, &client, &params).await {
            Ok(Some(unpacked)) => {
                params = unpacked;
                (false, true)
            }
            Ok(None) => (false, false),
            // The redirect URI of a request that does not hold cannot be trusted.
            Err(Refused::Invalid(why)) => {
                return bad_request(&format!("The signed request is not valid: {why}."))
            }
            Err(Refused::Failed(e)) => return internal_error(e, meta),
        },
    };
    // OIDC Core §3.1.2.1 makes redirect_uri REQUIRED; it must match a registration exactly.
    let Some(redirect_uri) = params
        .get("redirect_uri")
        .and_then(|r| client.redirect_uri(r).map(|_| r.clone()))
    else {
        return bad_request(
            "The address the application asked to return to is not registered for it.",
        );
    };

    // From here on the redirect URI is trusted, so errors go back to the client (§4.1.2.1).
    let reply = ClientReply {
        issuer: state.config.issuer(tenant.slug.as_str()),
        redirect_uri,
        state: params.get("state").cloned(),
        // An unknown mode is itself an error, reported in the default mode.
        response_mode: response_mode(&params).unwrap_or(ResponseMode::Query),
    };
    let checked = if client.require_par && !pushed {
        Err((
            "invalid_request",
            "this client must push its authorization requests (RFC 9126)".to_string(),
        ))
    } else if client.require_signed_request_object && !signed {
        Err((
            "invalid_request",
            "this client must sign its authorization requests (RFC 9101)".to_string(),
        ))
    } else {
        validate(&params, &client)
    };
    match checked {
        Ok(request) => {
            let request = AuthorizationRequest {
                redirect_uri: reply.redirect_uri.clone(),
                state: reply.state.clone(),
                ..request
            };
            match login::start_flow(state, session, &tenant, Some(request), None).await {
                Ok(flow) => continue_flow(state, session, meta, &tenant, flow).await,
                Err(e) => internal_error(e, meta),
            }
        }
        Err((code, description)) => {
            let event = AuditEvent::new(
                tenant.id,
                "authorize.rejected",
                Outcome::Failure,
                format!("client:{}", client.client_id),
            )
            .reason(format!("{code}: {description}"));
            state.audit(event, meta).await;
            reply.error(code, &description)
        }
    }
}

#[derive(Deserialize)]
pub struct ResumeQuery {
    flow: String,
}

/// Where the sign-in and consent pages send the browser when their step is done.
pub async fn resume(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    Query(q): Query<ResumeQuery>,
    session: Session,
    meta: RequestMeta,
) -> Response {
    let tenant = match tenant_or_page(&state, &slug, &meta).await {
        Ok(t) => t,
        Err(page) => return page,
    };
    match login::load_flow(&state, &session, &tenant, &q.flow).await {
        Ok(flow) => continue_flow(&state, &session, &meta, &tenant, flow).await,
        Err(login::LoginError::Internal(e)) => internal_error(e, &meta),
        Err(_) => expired_page(&meta),
    }
}

fn expired_page(meta: &RequestMeta) -> Response {
    error_page(
        StatusCode::BAD_REQUEST,
        "This sign-in has expired",
        "Go back to the application and start signing in again.",
        meta,
    )
}

/// Decides the next step of a flow: sign in, consent, or hand a code back to the client.
pub async fn continue_flow(
    state: &AppState,
    session: &Session,
    meta: &RequestMeta,
    tenant: &Tenant,
    mut flow: LoginFlow,
) -> Response {
    let login_page = format!("/t/{}/login?flow={}", tenant.slug, flow.id);
    let Some(request) = flow.request.clone() else {
        return Redirect::to(&format!("/t/{}", tenant.slug)).into_response();
    };
    let reply = ClientReply {
        issuer: state.config.issuer(tenant.slug.as_str()),
        redirect_uri: request.redirect_uri.clone(),
        state: request.state.clone(),
        response_mode: request.response_mode,
    };
    let client = match state
        .store
        .clients
        .by_client_id(tenant.id, &request.client_id)
        .await
    {
        Ok(Some(c)) if !c.disabled => c,
        Ok(_) => return expired_page(meta),
        Err(e) => return internal_error(e, meta),
    };

    if flow.denied {
        if let Err(e) = state.store.artifacts.delete_flow(tenant.id, &flow.id).await {
            return internal_error(e, meta);
        }
        let event = AuditEvent::new(tenant.id, "consent.denied", Outcome::Failure, "anonymous")
            .target(format!("client:{}", request.client_id));
        state.audit(event, meta).await;
        return reply.error("access_denied", "the user denied the request");
    }

    let signed_in = match browser::current_sign_in(state, session, tenant).await {
        Ok(s) => s,
        Err(e) => return internal_error(e, meta),
    };
    let now = Timestamp::now();
    let fresh_enough = |auth_time: Timestamp| {
        request
            .max_age
            .is_none_or(|max| !auth_time.plus_secs(max).is_before(now))
    };
    // A client asking for acr_values of a stronger class than the sign-in reached, or a tenant
    // requiring MFA of a sign-in made before, gets a new sign-in with a second factor: step-up.
    let strong_enough = |amr: &[String]| {
        !(request.wants_mfa() || tenant.settings.require_mfa) || amr.iter().any(|m| m == "mfa")
    };
    let user_session = match signed_in {
        Some(s) if !request.prompt_login && fresh_enough(s.auth_time) && strong_enough(&s.amr) => s,
        _ if request.prompt_none => {
            let _ = state.store.artifacts.delete_flow(tenant.id, &flow.id).await;
            return reply.error("login_required", "the user is not signed in");
        }
        _ => {
            if !matches!(flow.step, FlowStep::Identify | FlowStep::Password { .. }) {
                flow.step = FlowStep::Identify;
                if let Err(e) = state.store.artifacts.put_flow(tenant.id, &flow).await {
                    return internal_error(e, meta);
                }
            }
            return Redirect::to(&login_page).into_response();
        }
    };
    let user = match state
        .store
        .users
        .by_id(tenant.id, user_session.user_id)
        .await
    {
        Ok(Some(u)) if u.can_sign_in() => u,
        Ok(_) => {
            let _ = browser::sign_out(state, session, tenant).await;
            return Redirect::to(&login_page).into_response();
        }
        Err(e) => return internal_error(e, meta),
    };

    let consent = match state
        .store
        .consents
        .get(tenant.id, user.id, &client.client_id)
        .await
    {
        Ok(c) => c,
        Err(e) => return internal_error(e, meta),
    };
    let needs_consent = client.require_consent
        && (request.prompt_consent || !consent.is_some_and(|c| c.covers(&request.scopes)));
    if needs_consent {
        if request.prompt_none {
            let _ = state.store.artifacts.delete_flow(tenant.id, &flow.id).await;
            return reply.error(
                "consent_required",
                "the user has not consented to this request",
            );
        }
        flow.step = FlowStep::Authenticated {
            user_id: user.id,
            session_id: user_session.id.clone(),
        };
        if let Err(e) = state.store.artifacts.put_flow(tenant.id, &flow).await {
            return internal_error(e, meta);
        }
        return Redirect::to(&format!("/t/{}/consent?flow={}", tenant.slug, flow.id))
            .into_response();
    }

    if let Err(e) = backchannel::record_client(state, tenant, &user_session, &client).await {
        return internal_error(e, meta);
    }
    let code = random_token(32);
    let record = AuthorizationCode {
        code_hash: sha256_hex(&code),
        tenant_id: tenant.id,
        client_id: client.client_id.clone(),
        user_id: user.id,
        session_id: user_session.id.clone(),
        redirect_uri: request.redirect_uri.clone(),
        scopes: request.scopes.clone(),
        nonce: request.nonce.clone(),
        code_challenge: request.code_challenge.clone(),
        auth_time: user_session.auth_time,
        amr: user_session.amr.clone(),
        issued_at: now,
        expires_at: now.plus_secs(CODE_LIFETIME_SECS),
        dpop_jkt: request.dpop_jkt.clone(),
        resources: request.resources.clone(),
    };
    if let Err(e) = state.store.artifacts.put_code(tenant.id, &record).await {
        return internal_error(e, meta);
    }
    if let Err(e) = state.store.artifacts.delete_flow(tenant.id, &flow.id).await {
        return internal_error(e, meta);
    }
    let event = AuditEvent::new(
        tenant.id,
        "code.issued",
        Outcome::Success,
        format!("user:{}", user.id),
    )
    .target(format!("client:{}", client.client_id));
    state.audit(event, meta).await;
    reply.send(&[("code", code.as_str())])
}

/// How a response goes back to the client: its redirect URI, `state`, `iss` (RFC 9207) and mode.
struct ClientReply {
    issuer: String,
    redirect_uri: String,
    state: Option<String>,
    response_mode: ResponseMode,
}

impl ClientReply {
    fn error(&self, code: &str, description: &str) -> Response {
        self.send(&[("error", code), ("error_description", description)])
    }

    fn send(&self, params: &[(&str, &str)]) -> Response {
        let mut all: Vec<(&str, &str)> = params.to_vec();
        if let Some(state) = &self.state {
            all.push(("state", state));
        }
        all.push(("iss", &self.issuer));
        match self.response_mode {
            ResponseMode::Query => {
                let mut url = match url::Url::parse(&self.redirect_uri) {
                    Ok(u) => u,
                    Err(_) => return StatusCode::BAD_REQUEST.into_response(),
                };
                url.query_pairs_mut().extend_pairs(all);
                let mut response = Redirect::to(url.as_str()).into_response();
                response
                    .headers_mut()
                    .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                response
            }
            ResponseMode::FormPost => form_post(&self.redirect_uri, &all),
        }
    }
}

/// OAuth 2.0 Form Post Response Mode §2: an auto-submitting form, with a button for browsers
/// without JavaScript.
fn form_post(action: &str, params: &[(&str, &str)]) -> Response {
    use html_escape::encode_double_quoted_attribute as attr;
    let inputs: String = params
        .iter()
        .map(|(k, v)| {
            format!(
                r#"<input type="hidden" name="{}" value="{}">"#,
                attr(k),
                attr(v)
            )
        })
        .collect();
    let body = format!(
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>Returning to the application</title></head>
<body><form method="post" action="{}">{inputs}<noscript><p>Press Continue to return to the application.</p><button type="submit">Continue</button></noscript></form>
<script>document.forms[0].submit()</script></body></html>"#,
        attr(action)
    );
    let mut response = Html(body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'unsafe-inline'; frame-ancestors 'none'",
        ),
    );
    response
}
