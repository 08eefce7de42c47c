//! Personal data downloads: `GET /t/{slug}/account/data` (the signed-in person's own, after a
//! recent sign-in, like every sensitive account change) and `GET /t/{slug}/admin/users/{id}/data`
//! (one user's, for a console member who may read users). Both are plain links, so they work
//! without script; the document is built by `auth::export`.

use super::audit_export::{console_actor, internal, plain};
use crate::admin;
use crate::auth::{browser, export};
use crate::domain::{RequestMeta, UserId};
use crate::error::AppError;
use crate::state::AppState;
use axum::{
    extract::{Path, State},
    http::{header, StatusCode},
    response::{IntoResponse, Redirect, Response},
};
use tower_sessions::Session;

pub async fn own(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    session: Session,
    meta: RequestMeta,
) -> Response {
    let tenant = match crate::oidc::tenant_by_slug(&state, &slug).await {
        Ok(Some(tenant)) => tenant,
        Ok(None) => return plain(StatusCode::NOT_FOUND, "not found"),
        Err(e) => return internal(&meta, e),
    };
    let page = format!("/t/{}/account", tenant.slug);
    let signed_in = match browser::current_sign_in(&state, &session, &tenant).await {
        Ok(Some(signed_in)) => signed_in,
        Ok(None) => return Redirect::to(&page).into_response(),
        Err(e) => return internal(&meta, e),
    };
    // A stolen, idle session is not enough to take a copy of everything.
    if !crate::auth::account::is_recent(&signed_in) {
        return Redirect::to(&format!("{page}?error=reauth#data")).into_response();
    }
    let user = match state.store.users.by_id(tenant.id, signed_in.user_id).await {
        Ok(Some(user)) if user.can_sign_in() => user,
        Ok(_) => return Redirect::to(&page).into_response(),
        Err(e) => return internal(&meta, e),
    };
    match export::own_data(&state, &meta, &tenant, &user).await {
        Ok(data) => download(&meta, &data, &format!("{}-{}", tenant.slug, user.id)),
        Err(e) => internal(&meta, e),
    }
}

pub async fn of_user(
    State(state): State<AppState>,
    Path((slug, id)): Path<(String, String)>,
    session: Session,
    meta: RequestMeta,
) -> Response {
    let Ok(id) = id.parse::<UserId>() else {
        return plain(StatusCode::NOT_FOUND, "No such user.");
    };
    let (actor, tenant) = match console_actor(&state, &session, &meta, &slug).await {
        Ok(found) => found,
        Err(response) => return *response,
    };
    match admin::users::export_data(&state, &actor, &tenant, id).await {
        Ok(data) => download(&meta, &data, &format!("{}-{id}", tenant.slug)),
        Err(AppError::Forbidden) => plain(
            StatusCode::FORBIDDEN,
            "You may not read this organisation's users.",
        ),
        Err(AppError::NotFound) => plain(StatusCode::NOT_FOUND, "No such user."),
        Err(e) => internal(&meta, e),
    }
}

/// The document as a JSON file to save; never kept by caches on the way.
fn download(meta: &RequestMeta, data: &serde_json::Value, name: &str) -> Response {
    let body = match serde_json::to_vec_pretty(data) {
        Ok(body) => body,
        Err(e) => return internal(meta, e),
    };
    let disposition = format!("attachment; filename=\"personal-data-{name}.json\"");
    (
        [
            (header::CONTENT_TYPE, "application/json".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        body,
    )
        .into_response()
}
