//! Renders the pages the protocol describes (`oidc::pages::Page`) with the app's components.

use crate::app::pages::{error::standalone_error_page, logout::standalone_logout_confirm};
use crate::oidc::pages::Page;
use axum::{
    body::Body,
    http::{header, HeaderValue},
    response::Response,
};

pub async fn render(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let Some(page) = parts.extensions.remove::<Page>() else {
        return Response::from_parts(parts, body);
    };
    let html = match page {
        Page::Error {
            title,
            message,
            request_id,
        } => standalone_error_page(&title, &message, request_id.as_deref()),
        Page::LogoutConfirm {
            tenant_name,
            client_name,
            action,
            carried,
            csrf,
        } => standalone_logout_confirm(
            &tenant_name,
            client_name.as_deref(),
            &action,
            &carried,
            &csrf,
        ),
    };
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(html))
}
