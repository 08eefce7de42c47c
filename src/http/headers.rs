//! The headers every response carries, whichever way it was answered (`router`, `documents`).

use axum::http::{header, HeaderMap, HeaderName, HeaderValue};

/// For everything that is not a Leptos page (those set a policy with their render's nonce).
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/// Every request's id travels in this header, set by the caller or made here.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The headers every response carries. A page's own Content-Security-Policy (with its render's
/// nonce) is kept.
pub fn security_headers(headers: &mut HeaderMap) {
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
}
