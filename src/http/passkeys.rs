//! The JSON endpoints behind `public/passkeys.js`: WebAuthn needs the browser's
//! `navigator.credentials`, so these two round trips are the one part of sign-in that needs
//! script. Every answer is either options for the browser or the page to go to next (with an
//! `error=…` code the page explains), so the pages stay the single place messages are written.

use crate::auth::login::{self, LoginError};
use crate::auth::mfa::MfaError;
use crate::auth::one_time::CodeError;
use crate::auth::{browser, passkeys, reveal};
use crate::domain::RequestMeta;
use crate::domain::Tenant;
use crate::state::AppState;
use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use serde::Deserialize;
use serde_json::json;
use tower_sessions::Session;
use webauthn_rs::prelude::{PublicKeyCredential, RegisterPublicKeyCredential};

#[derive(Deserialize)]
pub struct SignInOptions {
    #[serde(default)]
    flow: String,
    csrf: String,
}

#[derive(Deserialize)]
pub struct SignIn {
    flow: String,
    csrf: String,
    credential: PublicKeyCredential,
}

#[derive(Deserialize)]
pub struct RegisterOptions {
    csrf: String,
}

#[derive(Deserialize)]
pub struct Register {
    csrf: String,
    name: String,
    credential: RegisterPublicKeyCredential,
}

fn go(to: String) -> Response {
    Json(json!({ "redirect": to })).into_response()
}

fn internal(meta: &RequestMeta, e: impl std::fmt::Display) -> Response {
    tracing::error!(request_id = ?meta.request_id, error = %e, "passkey request failed");
    let body = json!({ "error": "server_error", "request_id": meta.request_id });
    (StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response()
}

/// The error code a page explains, for a refused step.
fn code_of(e: &LoginError) -> Option<&'static str> {
    Some(match e {
        LoginError::Expired | LoginError::OutOfOrder => "expired",
        LoginError::IncorrectCredentials => "passkey_refused",
        LoginError::Throttled(_) => "throttled",
        LoginError::Factor(MfaError::Wrong) => "passkey_refused",
        LoginError::Factor(MfaError::Unavailable) => "factor_unavailable",
        LoginError::Factor(MfaError::Code(CodeError::Expired)) => "expired",
        _ => return None,
    })
}

async fn tenant(state: &AppState, slug: &str) -> Option<std::sync::Arc<Tenant>> {
    crate::oidc::tenant_by_slug(state, slug)
        .await
        .ok()
        .flatten()
}

fn login_page(tenant: &Tenant, flow: &str, code: &str) -> String {
    let flow: String = url::form_urlencoded::byte_serialize(flow.as_bytes()).collect();
    format!(
        "/t/{}/login?flow={flow}&method=passkey&error={code}",
        tenant.slug
    )
}

/// Options for a passkey sign-in: passwordless before the password (starting a sign-in when the
/// page had none), or the person's own passkeys at the second-factor step.
pub async fn sign_in_options(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    session: Session,
    meta: RequestMeta,
    Json(body): Json<SignInOptions>,
) -> Response {
    let Some(tenant) = tenant(&state, &slug).await else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if !browser::csrf_is_valid(&session, &body.csrf).await {
        return go(login_page(&tenant, &body.flow, "csrf"));
    }
    let flow = if body.flow.is_empty() {
        login::start_flow(&state, &session, &tenant, None, None).await
    } else {
        login::load_flow(&state, &session, &tenant, &body.flow).await
    };
    let outcome = match flow {
        Ok(flow) => passkeys::begin_sign_in(&state, &tenant, &flow)
            .await
            .map(|options| (flow.id, options)),
        Err(e) => Err(e),
    };
    match outcome {
        Ok((flow, options)) => Json(json!({ "flow": flow, "options": options })).into_response(),
        Err(e) => match code_of(&e) {
            Some(code) => go(login_page(&tenant, &body.flow, code)),
            None => internal(&meta, e),
        },
    }
}

pub async fn sign_in(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    session: Session,
    meta: RequestMeta,
    Json(body): Json<SignIn>,
) -> Response {
    let Some(tenant) = tenant(&state, &slug).await else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if !browser::csrf_is_valid(&session, &body.csrf).await {
        return go(login_page(&tenant, &body.flow, "csrf"));
    }
    let outcome = match login::load_flow(&state, &session, &tenant, &body.flow).await {
        Ok(flow) => {
            passkeys::finish_sign_in(&state, &session, &meta, &tenant, flow, &body.credential).await
        }
        Err(e) => Err(e),
    };
    match outcome {
        Ok(flow) => match login::destination(&state, &tenant, flow, None).await {
            Ok(to) => go(to),
            Err(e) => internal(&meta, e),
        },
        Err(e) => match code_of(&e) {
            Some(code) => go(login_page(&tenant, &body.flow, code)),
            None => internal(&meta, e),
        },
    }
}

/// The signed-in person of the account page, or where to send the browser instead.
async fn account_holder(
    state: &AppState,
    session: &Session,
    slug: &str,
    csrf: &str,
) -> Result<(std::sync::Arc<Tenant>, crate::domain::User), Response> {
    let Some(tenant) = tenant(state, slug).await else {
        return Err(StatusCode::NOT_FOUND.into_response());
    };
    let page = format!("/t/{}/account", tenant.slug);
    if !browser::csrf_is_valid(session, csrf).await {
        return Err(go(format!("{page}?error=csrf")));
    }
    let signed_in = browser::current_sign_in(state, session, &tenant)
        .await
        .ok()
        .flatten();
    let Some(signed_in) = signed_in else {
        return Err(go(page));
    };
    if !crate::auth::account::is_recent(&signed_in) {
        return Err(go(format!("{page}?error=reauth")));
    }
    match state.store.users.by_id(tenant.id, signed_in.user_id).await {
        Ok(Some(user)) if user.can_sign_in() => Ok((tenant, user)),
        _ => Err(go(page)),
    }
}

pub async fn register_options(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    session: Session,
    meta: RequestMeta,
    Json(body): Json<RegisterOptions>,
) -> Response {
    let (tenant, user) = match account_holder(&state, &session, &slug, &body.csrf).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    match passkeys::begin_registration(&state, &tenant, &user).await {
        Ok(options) => Json(json!({ "options": options })).into_response(),
        Err(MfaError::Unavailable) => go(format!(
            "/t/{}/account?error=factor_unavailable",
            tenant.slug
        )),
        Err(e) => internal(&meta, e),
    }
}

pub async fn register(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    session: Session,
    meta: RequestMeta,
    Json(body): Json<Register>,
) -> Response {
    let (tenant, user) = match account_holder(&state, &session, &slug, &body.csrf).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let page = format!("/t/{}/account", tenant.slug);
    let outcome =
        passkeys::finish_registration(&state, &meta, &tenant, &user, &body.name, &body.credential)
            .await;
    match outcome {
        Ok(Some(codes)) => match reveal::stash(&state, &session, &tenant, &codes).await {
            Ok(()) => go(format!(
                "/t/{}/backup-codes?show=1&next={}",
                tenant.slug,
                url::form_urlencoded::byte_serialize(page.as_bytes()).collect::<String>()
            )),
            Err(e) => internal(&meta, e),
        },
        Ok(None) => go(format!("{page}?done=added")),
        Err(MfaError::Invalid(_)) => go(format!("{page}?error=passkey_name#passkeys")),
        Err(MfaError::Wrong) => go(format!("{page}?error=passkey_refused#passkeys")),
        Err(MfaError::Code(CodeError::Expired)) => go(format!("{page}?error=expired#passkeys")),
        Err(MfaError::Unavailable) => go(format!("{page}?error=factor_unavailable")),
        Err(e) => internal(&meta, e),
    }
}
