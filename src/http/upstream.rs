//! The browser's two trips to an upstream identity provider: the sign-in page's button (or
//! home-realm discovery) posts here and is sent on to the provider; the provider sends the
//! browser back to the connection's callback. Every refusal ends on the sign-in page with a
//! message (`error=…`), so the pages stay the single place messages are written.

use crate::auth::login::{self, LoginError};
use crate::auth::{browser, upstream};
use crate::domain::{RequestMeta, Tenant};
use crate::oidc::authorize::{internal_error, tenant_or_page};
use crate::state::AppState;
use axum::{
    extract::{Path, Query, State},
    response::{IntoResponse, Redirect, Response},
    Form,
};
use serde::Deserialize;
use tower_sessions::Session;

#[derive(Deserialize)]
pub struct Start {
    #[serde(default)]
    flow: String,
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    connection: String,
}

fn login_page(tenant: &Tenant, flow: &str, code: &str) -> Response {
    let flow: String = url::form_urlencoded::byte_serialize(flow.as_bytes()).collect();
    let url = format!("/t/{}/login?flow={flow}&error={code}", tenant.slug);
    Redirect::to(&url).into_response()
}

/// `POST /t/{slug}/login/upstream`: a sign-in button. Starts a sign-in when the page had none.
pub async fn start(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    session: Session,
    meta: RequestMeta,
    Form(form): Form<Start>,
) -> Response {
    let tenant = match tenant_or_page(&state, &slug, &meta).await {
        Ok(tenant) => tenant,
        Err(page) => return page,
    };
    if !browser::csrf_is_valid(&session, &form.csrf).await {
        return login_page(&tenant, &form.flow, "csrf");
    }
    let flow = if form.flow.is_empty() {
        login::start_flow(&state, &session, &tenant, None, None).await
    } else {
        login::load_flow(&state, &session, &tenant, &form.flow).await
    };
    let flow = match flow {
        Ok(flow) => flow,
        Err(LoginError::Internal(e)) => return internal_error(e, &meta),
        Err(_) => return login_page(&tenant, "", "expired"),
    };
    let begun = match upstream::connection(&state, &tenant, &form.connection).await {
        Ok(connection) => upstream::begin(&state, &tenant, &flow, &connection, None).await,
        Err(e) => Err(e),
    };
    match begun {
        Ok(url) => Redirect::to(&url).into_response(),
        Err(e) => refused(&meta, &tenant, &flow.id, e),
    }
}

fn refused(
    meta: &RequestMeta,
    tenant: &Tenant,
    flow: &str,
    e: upstream::UpstreamError,
) -> Response {
    if let upstream::UpstreamError::Unavailable(why) = &e {
        tracing::warn!(tenant = %tenant.slug, reason = %why, "an upstream provider is unavailable");
    }
    match e.code() {
        Some(code) => login_page(tenant, flow, code),
        None => internal_error(e, meta),
    }
}

/// `GET /t/{slug}/upstream/{connection}/callback`: the provider's answer (RFC 6749 §4.1.2).
pub async fn callback(
    State(state): State<AppState>,
    Path((slug, connection)): Path<(String, String)>,
    Query(answer): Query<upstream::Answer>,
    session: Session,
    meta: RequestMeta,
) -> Response {
    let tenant = match tenant_or_page(&state, &slug, &meta).await {
        Ok(tenant) => tenant,
        Err(page) => return page,
    };
    match upstream::finish(&state, &session, &meta, &tenant, &connection, answer).await {
        Ok(flow) => match login::destination(&state, &tenant, flow, None).await {
            Ok(next) => Redirect::to(&next).into_response(),
            Err(e) => internal_error(e, &meta),
        },
        Err((e, flow)) => refused(&meta, &tenant, flow.as_deref().unwrap_or(""), e),
    }
}
