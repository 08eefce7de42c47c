use super::documents::DocumentsFirst;
use super::headers::{security_headers, REQUEST_ID};
use super::request_id::RequestIds;
use super::server_fns::{self, Pages};
use super::{
    api, audit_export, branding, data_export, metrics, pages, passkeys, scim, upstream,
    BrowserSessionStore,
};
use crate::app::{shell, App};
use crate::config::LogFormat;
use crate::domain::RequestMeta;
use crate::oidc::{
    authorize, device, discovery, introspect, logout, par, registration, revoke, token, userinfo,
};
use crate::state::AppState;
use axum::{
    body::Body,
    extract::State,
    http::{Request, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
    Router, ServiceExt,
};
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};
use std::{net::SocketAddr, sync::Arc, time::Duration};
use tower::ServiceBuilder;
use tower_http::{
    limit::RequestBodyLimitLayer,
    request_id::{PropagateRequestIdLayer, SetRequestIdLayer},
    timeout::TimeoutLayer,
    trace::TraceLayer,
};
use tower_sessions::{cookie::SameSite, Expiry, SessionManagerLayer};

/// A request that takes longer (a stalled client or store) is answered 408 and dropped.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Forms and protocol requests are small; anything bigger is refused before it is read.
const MAX_BODY_BYTES: usize = 64 * 1024;

pub fn router(state: AppState, request_ids: RequestIds) -> Router {
    let routes = generate_route_list(App);
    let page_paths: Arc<[String]> = routes.iter().map(|r| r.path().to_owned()).collect();
    let sessions = SessionManagerLayer::new(BrowserSessionStore::new(
        state.store.browser_sessions.clone(),
    ))
    // `__Host-` makes browsers refuse the cookie unless it is Secure, host-only and Path=/.
    .with_name(if state.config.secure_cookies() {
        "__Host-tessera_session"
    } else {
        "tessera_session"
    })
    .with_http_only(true)
    .with_same_site(SameSite::Lax)
    .with_secure(state.config.secure_cookies())
    .with_path("/")
    .with_expiry(Expiry::OnInactivity(
        tower_sessions::cookie::time::Duration::days(1),
    ));

    crate::state::metrics::recorder();
    let json_logs = state.config.log_format == LogFormat::Json;
    let middleware = ServiceBuilder::new()
        // Outermost, so it sees what the layers below answer too (408, 413).
        .layer(axum::middleware::from_fn(metrics::observe))
        .layer(SetRequestIdLayer::new(REQUEST_ID, request_ids))
        // A debug span for text logs: at the default `info` level a span per request would
        // cost more than some whole requests (measured by bench/run.sh --log-level info), and
        // errors name their request id themselves. JSON logs promise the request id on every
        // line of a request, so there it is an `info` span, whose fields each line carries.
        .layer(TraceLayer::new_for_http().make_span_with(move |req: &Request<Body>| {
            let id = req.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-");
            if json_logs {
                tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
            } else {
                tracing::debug_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
            }
        }))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, REQUEST_TIMEOUT))
        .map_response(|mut response: Response| {
            security_headers(response.headers_mut());
            response
        });

    let leptos_context = {
        let state = state.clone();
        move || provide_context(state.clone())
    };
    let leptos_options = state.leptos_options.clone();

    // The protocol endpoints answer clients with JSON and keep no browser session: they skip
    // the session layer, which pages need.
    let protocol = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics::scrape))
        .route(
            "/.well-known/oauth-authorization-server/t/{slug}",
            get(discovery::openid_configuration),
        )
        .route(
            "/t/{slug}/.well-known/openid-configuration",
            get(discovery::openid_configuration),
        )
        .route("/t/{slug}/jwks", get(discovery::jwks))
        .route("/t/{slug}/token", post(token::token))
        .route("/t/{slug}/introspect", post(introspect::introspect))
        .route("/t/{slug}/revoke", post(revoke::revoke))
        .route("/t/{slug}/par", post(par::push))
        .route("/t/{slug}/register", post(registration::register))
        .route(
            "/t/{slug}/register/{client_id}",
            get(registration::read)
                .put(registration::replace)
                .delete(registration::delete),
        )
        .route(
            "/t/{slug}/device_authorization",
            post(device::device_authorization),
        )
        .route(
            "/t/{slug}/userinfo",
            get(userinfo::userinfo_get).post(userinfo::userinfo_post),
        )
        .merge(api::routes())
        .merge(scim::routes());
    let pages = Router::new()
        .route(
            "/t/{slug}/authorize",
            get(authorize::authorize_get).post(authorize::authorize_post),
        )
        .route("/t/{slug}/authorize/resume", get(authorize::resume))
        .route(
            "/t/{slug}/logout",
            get(logout::end_session_get).post(logout::end_session_post),
        )
        .route(
            "/t/{slug}/passkeys/sign-in/options",
            post(passkeys::sign_in_options),
        )
        .route("/t/{slug}/passkeys/sign-in", post(passkeys::sign_in))
        .route(
            "/t/{slug}/passkeys/register/options",
            post(passkeys::register_options),
        )
        .route("/t/{slug}/passkeys/register", post(passkeys::register))
        .route("/t/{slug}/login/upstream", post(upstream::start))
        .route(
            "/t/{slug}/upstream/{connection}/callback",
            get(upstream::callback),
        )
        .route(
            "/t/{slug}/upstream/{connection}/acs",
            get(upstream::acs_get).post(upstream::acs_post),
        )
        .route(
            "/t/{slug}/upstream/{connection}/metadata",
            get(upstream::sp_metadata),
        )
        .route("/t/{slug}/admin/audit/export", get(audit_export::export))
        .route("/t/{slug}/account/data", get(data_export::own))
        .route("/t/{slug}/admin/users/{id}/data", get(data_export::of_user))
        .route("/t/{slug}/branding.css", get(branding::stylesheet))
        .route("/t/{slug}/branding/logo", get(branding::logo))
        .route("/t/{slug}/admin/branding/logo", post(branding::upload))
        .leptos_routes_with_context(&state, routes, leptos_context, move || {
            shell(leptos_options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(axum::middleware::map_response(pages::render))
        .layer(sessions);

    // A refused form is answered with a page of the app, which the guard renders.
    let pages: Router = pages.with_state(state.clone());
    let pages = pages.clone().layer(axum::middleware::from_fn_with_state(
        Pages {
            router: pages,
            routes: page_paths,
            public_url: state.config.public_url.clone(),
        },
        server_fns::guard,
    ));
    protocol.with_state(state).merge(pages).layer(middleware)
}

/// Ready when every configured store answers; the body names each store and its state, never
/// the error itself (that goes to the log).
async fn readyz(State(state): State<AppState>, meta: RequestMeta) -> Response {
    let mut stores = serde_json::Map::new();
    let mut ready = true;
    for probe in &state.store.probes {
        let status = match probe.target.ping().await {
            Ok(()) => "ok",
            Err(e) => {
                tracing::warn!(request_id = ?meta.request_id, store = %probe.name, error = %e, "storage not ready");
                ready = false;
                "unavailable"
            }
        };
        stores.insert(probe.name.clone(), status.into());
    }
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = serde_json::json!({
        "status": if ready { "ready" } else { "unavailable" },
        "stores": stores,
    });
    (status, axum::Json(body)).into_response()
}

/// Serves until Ctrl-C or SIGTERM.
pub async fn serve(state: AppState, listener: tokio::net::TcpListener) -> std::io::Result<()> {
    let request_ids = RequestIds::default();
    let app = DocumentsFirst::new(
        state.clone(),
        request_ids.clone(),
        router(state, request_ids),
    );
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = terminate => {} }
}
