//! The browser's two trips to an upstream identity provider: the sign-in page's button (or
//! home-realm discovery) posts here and is sent on to the provider; the provider sends the
//! browser back to the connection's callback (OAuth 2, OpenID Connect) or has it post a SAML
//! Response to the connection's ACS, which also serves the service provider's metadata. Every refusal ends on the sign-in page with a
//! message (`error=…`), so the pages stay the single place messages are written.

use crate::auth::browser;
use crate::auth::login::{self, LoginError};
use crate::auth::upstream::{self, saml};
use crate::domain::{LoginFlow, RequestMeta, Tenant};
use crate::oidc::authorize::{internal_error, tenant_or_page};
use crate::state::AppState;
use axum::{
    extract::{Path, Query, State},
    http::{header, StatusCode},
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
    let finished = upstream::finish(&state, &session, &meta, &tenant, &connection, answer).await;
    go_on(&state, &meta, &tenant, finished).await
}

/// The sign-in goes on where it is now (signed in, or the next step), or back to the sign-in
/// page with why not.
async fn go_on(
    state: &AppState,
    meta: &RequestMeta,
    tenant: &Tenant,
    outcome: Result<LoginFlow, (upstream::UpstreamError, Option<String>)>,
) -> Response {
    match outcome {
        Ok(flow) => match login::destination(state, tenant, flow, None).await {
            Ok(next) => Redirect::to(&next).into_response(),
            Err(e) => internal_error(e, meta),
        },
        Err((e, flow)) => refused(meta, tenant, flow.as_deref().unwrap_or(""), e),
    }
}

/// `POST /t/{slug}/upstream/{connection}/acs`: a SAML identity provider's Response (SAML
/// Bindings §3.5). It takes no session: this cross-site POST carries none, and one made here
/// would replace the browser's. The browser goes on to the GET below with a one-time handle.
pub async fn acs_post(
    State(state): State<AppState>,
    Path((slug, connection)): Path<(String, String)>,
    meta: RequestMeta,
    Form(posted): Form<saml::Posted>,
) -> Response {
    let tenant = match tenant_or_page(&state, &slug, &meta).await {
        Ok(tenant) => tenant,
        Err(page) => return page,
    };
    match saml::consume(&state, &meta, &tenant, &connection, posted).await {
        Ok(handle) => {
            let connection: String =
                url::form_urlencoded::byte_serialize(connection.as_bytes()).collect();
            let next = format!(
                "/t/{}/upstream/{connection}/acs?resume={handle}",
                tenant.slug
            );
            Redirect::to(&next).into_response()
        }
        Err((e, flow)) => refused(&meta, &tenant, flow.as_deref().unwrap_or(""), e),
    }
}

#[derive(Deserialize)]
pub struct Resume {
    #[serde(default)]
    resume: String,
}

/// `GET /t/{slug}/upstream/{connection}/acs?resume=…`: the browser, back from the ACS, goes on
/// with its sign-in.
pub async fn acs_get(
    State(state): State<AppState>,
    Path((slug, connection)): Path<(String, String)>,
    Query(query): Query<Resume>,
    session: Session,
    meta: RequestMeta,
) -> Response {
    let tenant = match tenant_or_page(&state, &slug, &meta).await {
        Ok(tenant) => tenant,
        Err(page) => return page,
    };
    let resumed = saml::resume(&state, &session, &meta, &tenant, &connection, &query.resume).await;
    go_on(&state, &meta, &tenant, resumed).await
}

/// `GET /t/{slug}/upstream/{connection}/metadata`: Tessera's service-provider metadata for a
/// SAML connection (SAML Metadata §2.4.4).
pub async fn sp_metadata(
    State(state): State<AppState>,
    Path((slug, connection)): Path<(String, String)>,
    meta: RequestMeta,
) -> Response {
    let tenant = match tenant_or_page(&state, &slug, &meta).await {
        Ok(tenant) => tenant,
        Err(page) => return page,
    };
    match saml::sp_metadata(&state, &tenant, &connection).await {
        Ok(Some(xml)) => (
            [(header::CONTENT_TYPE, "application/samlmetadata+xml")],
            xml,
        )
            .into_response(),
        Ok(None) => (StatusCode::NOT_FOUND, "No such SAML connection.").into_response(),
        Err(e) => internal_error(e, &meta),
    }
}
