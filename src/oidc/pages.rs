//! The pages the protocol shows in the browser outside the Leptos router: an error page where
//! a redirect cannot be trusted, and the sign-out question. The protocol says what a page
//! says; the HTTP layer, which may use the app's components, renders it
//! (`http::pages::render`).

use axum::{
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};

#[derive(Clone, Debug)]
pub enum Page {
    Error {
        title: String,
        message: String,
        request_id: Option<String>,
    },
    /// OIDC RP-Initiated Logout §2: "Sign out of …?", posted back to `action` with the
    /// request's parameters and a CSRF token.
    LogoutConfirm {
        tenant_name: String,
        client_name: Option<String>,
        action: String,
        carried: Vec<(String, String)>,
        csrf: String,
    },
}

impl Page {
    /// A response with this page for its body (once rendered), never cached.
    pub fn respond(self, status: StatusCode) -> Response {
        let mut response = status.into_response();
        response.extensions_mut().insert(self);
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}
