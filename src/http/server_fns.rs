//! Posts to the server functions behind the pages (`/api/{name}`).
//!
//! A post whose fields are missing or malformed (a stale tab, a hand-made request, another
//! site's form) is answered 400 with a plain message, never as a server error: a browser
//! without JavaScript is shown the page it came from, or its flow's own page, with the
//! message on top; a script gets the message as text.
//!
//! Leptos sends a plain form post back to its `Referer` when the function does not redirect;
//! a Referer from another origin is removed first, so that is never an open redirect
//! (RFC 9700 §4.11).

use super::headers::REQUEST_ID;
use crate::app::pages::{error::standalone_error_page, FORM_REFUSED, FORM_REFUSED_FLAG};
use crate::domain::TenantSlug;
use crate::error::{BRIEFLY_UNAVAILABLE, RETRY_AFTER_SECS};
use axum::{
    body::Body,
    extract::{ConnectInfo, Request, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
    Router,
};
use std::{net::SocketAddr, sync::Arc};
use tower::ServiceExt;
use url::Url;

/// Server functions answer errors with this header and `{kind}|{text}` as the body.
const SERVER_FN_ERROR: &str = "serverfnerror";
/// The kinds the server-function layer gives a request it could not read into arguments.
const UNREADABLE: [&[u8]; 3] = [b"Args|", b"Deserialization|", b"MissingArg|"];
/// Error answers are one line; a longer body is not one of them.
const MAX_ERROR_BYTES: usize = 16 * 1024;

/// The pages of the app (their route patterns) and the router that renders them, for
/// [`guard`]; and the site's public URL, the one origin whose `Referer` is followed.
#[derive(Clone)]
pub struct Pages {
    pub router: Router,
    pub routes: Arc<[String]>,
    pub public_url: Url,
}

/// Stands in front of the server functions (Leptos mounts one route for each under `/api/`).
pub async fn guard(State(pages): State<Pages>, request: Request, next: Next) -> Response {
    if !request.uri().path().starts_with("/api/") {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    let function = parts.uri.path().trim_start_matches("/api/").to_owned();
    let came_from = same_origin_page(&parts.headers, &pages.public_url);
    if came_from.is_none() {
        parts.headers.remove(header::REFERER);
    }
    // The body limit layer has capped the size; a body that ends early or runs over it fails here.
    let Ok(form) = axum::body::to_bytes(body, usize::MAX).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "The form is too large.").into_response();
    };
    let tenant = url::form_urlencoded::parse(&form)
        .find(|(name, _)| name == "tenant")
        .and_then(|(_, value)| TenantSlug::parse(&value).ok());
    let browser = Browser::of(&parts);
    let response = next.run(Request::from_parts(parts, Body::from(form))).await;
    if !response.headers().contains_key(SERVER_FN_ERROR) {
        return response;
    }
    let (parts, body) = response.into_parts();
    let error = axum::body::to_bytes(body, MAX_ERROR_BYTES)
        .await
        .unwrap_or_default();
    if error.ends_with(BRIEFLY_UNAVAILABLE.as_bytes()) {
        return briefly_unavailable(&browser);
    }
    if !UNREADABLE.iter().any(|kind| error.starts_with(kind)) {
        return Response::from_parts(parts, Body::from(error));
    }
    tracing::info!(request_id = ?browser.request_id(), function, "form refused: its fields are missing or malformed");
    if !browser.wants_page {
        return (
            StatusCode::BAD_REQUEST,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            FORM_REFUSED,
        )
            .into_response();
    }
    let page = came_from
        .filter(|page| is_page(page, &pages.routes))
        .unwrap_or_else(|| flow_page(&function, tenant.as_ref()));
    let shown = match pages.router.oneshot(browser.get(&with_flag(&page))).await {
        Ok(shown) if shown.status() == StatusCode::OK => shown,
        _ => {
            let html = standalone_error_page("Try again", FORM_REFUSED, browser.request_id());
            axum::response::Html(html).into_response()
        }
    };
    let (mut parts, body) = shown.into_parts();
    parts.status = StatusCode::BAD_REQUEST;
    Response::from_parts(parts, body)
}

/// A store could not be reached: 503 with `Retry-After`, as a page for a browser.
fn briefly_unavailable(browser: &Browser) -> Response {
    let retry_after = (header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
    let status = StatusCode::SERVICE_UNAVAILABLE;
    if !browser.wants_page {
        let text = (
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        return (status, [retry_after, text], BRIEFLY_UNAVAILABLE).into_response();
    }
    let html = standalone_error_page(
        "Briefly unavailable",
        BRIEFLY_UNAVAILABLE,
        browser.request_id(),
    );
    (status, [retry_after], axum::response::Html(html)).into_response()
}

/// What a page is rendered for, taken from the refused post: the same cookies (session),
/// client and request id.
struct Browser {
    wants_page: bool,
    headers: HeaderMap,
    peer: Option<ConnectInfo<SocketAddr>>,
}

impl Browser {
    fn of(parts: &axum::http::request::Parts) -> Self {
        let mut headers = HeaderMap::new();
        for name in [header::COOKIE, header::USER_AGENT, REQUEST_ID] {
            if let Some(value) = parts.headers.get(&name) {
                headers.insert(name, value.clone());
            }
        }
        Self {
            wants_page: accepts_html(&parts.headers),
            headers,
            peer: parts.extensions.get::<ConnectInfo<SocketAddr>>().copied(),
        }
    }

    fn request_id(&self) -> Option<&str> {
        self.headers.get(REQUEST_ID).and_then(|v| v.to_str().ok())
    }

    fn get(&self, address: &str) -> Request {
        let mut get = Request::get(address)
            .body(Body::empty())
            .unwrap_or_default();
        *get.headers_mut() = self.headers.clone();
        get.headers_mut()
            .insert(header::ACCEPT, HeaderValue::from_static("text/html"));
        if let Some(peer) = self.peer {
            get.extensions_mut().insert(peer);
        }
        get
    }
}

fn accepts_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"))
}

/// The path and query of the `Referer`, when it is a page of this site's public origin.
fn same_origin_page(headers: &HeaderMap, public_url: &Url) -> Option<String> {
    let referer = headers.get(header::REFERER)?.to_str().ok()?;
    let referer = Url::parse(referer).ok()?;
    if referer.origin() != public_url.origin() {
        return None;
    }
    Some(match referer.query() {
        Some(query) => format!("{}?{query}", referer.path()),
        None => referer.path().to_owned(),
    })
}

/// Where a form of `function` belongs when the page it came from is unknown.
fn flow_page(function: &str, tenant: Option<&TenantSlug>) -> String {
    if function.starts_with("platform_") {
        return "/admin".to_owned();
    }
    let Some(tenant) = tenant else {
        return "/".to_owned();
    };
    let page = [
        ("admin_", "admin"),
        ("account_", "account"),
        ("device_", "device"),
        ("recovery_", "forgot-password"),
        ("signup", "signup"),
        ("login_", "login"),
        ("consent", "login"),
    ]
    .iter()
    .find(|(prefix, _)| function.starts_with(prefix))
    .map(|(_, page)| *page);
    match page {
        Some(page) => format!("/t/{}/{page}", tenant.as_str()),
        None => format!("/t/{}", tenant.as_str()),
    }
}

/// Whether `address` is one of the app's pages: a GET there renders, and changes nothing.
fn is_page(address: &str, routes: &[String]) -> bool {
    let path = address.split(['?', '#']).next().unwrap_or_default();
    let segments: Vec<&str> = path.split('/').collect();
    routes.iter().any(|route| {
        let pattern: Vec<&str> = route.split('/').collect();
        pattern.len() == segments.len()
            && pattern.iter().zip(&segments).all(|(p, s)| {
                let parameter = p.starts_with(':') || (p.starts_with('{') && p.ends_with('}'));
                (parameter && !s.is_empty()) || p == s
            })
    })
}

/// `page` with the flag that shows the message.
fn with_flag(page: &str) -> String {
    let (name, value) = FORM_REFUSED_FLAG;
    let separator = if page.contains('?') { '&' } else { '?' };
    format!("{page}{separator}{name}={value}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn referer(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::REFERER, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn only_a_referer_of_the_public_origin_is_followed() {
        let public = Url::parse("https://id.example.com").unwrap();
        let page = |r: &str| same_origin_page(&referer(r), &public);
        assert_eq!(
            page("https://id.example.com/t/acme/login?flow=abc").as_deref(),
            Some("/t/acme/login?flow=abc")
        );
        for foreign in [
            "https://evil.example/t/acme/login",
            "http://id.example.com/t/acme/login",
            "https://id.example.com:8443/t/acme/login",
            "https://id.example.com.evil.example/",
            "//evil.example/",
            "/t/acme/login",
            "javascript:alert(1)",
        ] {
            assert_eq!(page(foreign), None, "{foreign}");
        }
    }

    #[test]
    fn a_form_without_its_page_goes_to_its_flow() {
        let acme = TenantSlug::parse("acme").unwrap();
        for (function, page) in [
            ("login_password", "/t/acme/login"),
            ("consent", "/t/acme/login"),
            ("admin_user_update", "/t/acme/admin"),
            ("account_totp", "/t/acme/account"),
            ("device_decide", "/t/acme/device"),
            ("recovery_request", "/t/acme/forgot-password"),
            ("signup", "/t/acme/signup"),
            ("sign_out", "/t/acme"),
            ("platform_tenant_create", "/admin"),
        ] {
            assert_eq!(flow_page(function, Some(&acme)), page, "{function}");
        }
        assert_eq!(flow_page("login_password", None), "/");
    }

    #[test]
    fn only_pages_of_the_app_are_shown_again() {
        let routes: Vec<String> = [
            "/",
            "/t/{tenant}/login",
            "/t/:tenant/admin/users/:id",
            "/admin",
        ]
        .map(String::from)
        .into();
        assert!(is_page("/t/acme/login?flow=x", &routes));
        assert!(is_page("/t/acme/admin/users/42", &routes));
        assert!(is_page("/admin", &routes));
        assert!(!is_page("/t/acme/authorize?client_id=x", &routes));
        assert!(!is_page("/t//login", &routes));
        assert!(!is_page("/t/acme/logout", &routes));
        assert_eq!(with_flag("/t/a/login"), "/t/a/login?form=refused");
        assert_eq!(
            with_flag("/t/a/login?flow=x"),
            "/t/a/login?flow=x&form=refused"
        );
    }
}
