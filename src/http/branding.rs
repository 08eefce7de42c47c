//! A tenant's branding as the browser fetches it: a stylesheet with its colours, its logo, and
//! the console's logo upload (a plain multipart form, so it works without JavaScript).

use crate::admin;
use crate::app::api::{Flash, FLASH_KEY, PREVIEW_KEY};
use crate::auth::browser;
use crate::domain::branding::LOGO_MAX_BYTES;
use crate::domain::colour::{contrast, parse_colour, text_on, AA_CONTRAST};
use crate::domain::RequestMeta;
use crate::domain::{Invalid, Tenant};
use crate::error::AppError;
use crate::state::AppState;
use axum::{
    extract::{Multipart, Path, Query, State},
    http::{header, StatusCode},
    response::{IntoResponse, Redirect, Response},
};
use base64::{engine::general_purpose::STANDARD, Engine};
use tower_sessions::Session;

async fn tenant(state: &AppState, slug: &str) -> Result<std::sync::Arc<Tenant>, Response> {
    match crate::oidc::tenant_by_slug(state, slug).await {
        Ok(Some(t)) => Ok(t),
        Ok(None) => Err(StatusCode::NOT_FOUND.into_response()),
        Err(e) => {
            tracing::error!(error = %e, "branding lookup failed");
            Err(StatusCode::INTERNAL_SERVER_ERROR.into_response())
        }
    }
}

#[derive(serde::Deserialize)]
pub struct StylesheetParams {
    #[serde(default)]
    preview: String,
}

/// `GET /t/{slug}/branding.css`: the tenant's primary colour over the default palette; with
/// `?preview=1`, the colour of the look this browser is previewing, for `.brand-preview`.
pub async fn stylesheet(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    session: Session,
    Query(params): Query<StylesheetParams>,
) -> Response {
    let tenant = match tenant(&state, &slug).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let (selector, colour) = if params.preview == "1" {
        let draft: Option<(String, String, String, String)> =
            session.get(PREVIEW_KEY).await.ok().flatten();
        let colour = draft.and_then(|(_, c, ..)| parse_colour(&c).ok());
        (".brand-preview", colour)
    } else {
        (":root", tenant.settings.branding.primary_colour.clone())
    };
    let css = colour.map(|c| brand_css(selector, &c)).unwrap_or_default();
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        css,
    )
        .into_response()
}

/// `GET /t/{slug}/branding/logo`: served with its sniffed type and no way to run as a page.
pub async fn logo(State(state): State<AppState>, Path(slug): Path<String>) -> Response {
    let tenant = match tenant(&state, &slug).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let Some(logo) = &tenant.settings.branding.logo else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Ok(bytes) = STANDARD.decode(&logo.data) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    (
        [
            (header::CONTENT_TYPE, logo.content_type.clone()),
            (header::CACHE_CONTROL, "public, max-age=86400".into()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".into()),
            (header::CONTENT_SECURITY_POLICY, "default-src 'none'".into()),
        ],
        bytes,
    )
        .into_response()
}

/// `POST /t/{slug}/admin/branding/logo` (multipart: `csrf`, then `logo` or `remove`); back to
/// the branding page with the outcome.
pub async fn upload(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    session: Session,
    meta: RequestMeta,
    mut form: Multipart,
) -> Response {
    let tenant = match tenant(&state, &slug).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let page = format!("/t/{}/admin/branding", tenant.slug);
    let mut csrf = String::new();
    let mut image: Option<Vec<u8>> = None;
    let mut remove = false;
    loop {
        let field = match form.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(_) => {
                let unreadable = Invalid::new("The upload was not readable. Try again.");
                return back(&session, &page, unreadable.on("logo").into()).await;
            }
        };
        match field.name() {
            Some("csrf") => csrf = field.text().await.unwrap_or_default(),
            Some("remove") => remove = true,
            Some("logo") => match read_limited(field).await {
                Some(bytes) if !bytes.is_empty() => image = Some(bytes),
                Some(_) => {}
                None => {
                    let too_big = Invalid::new("The logo is at most 100 KB.");
                    return back(&session, &page, too_big.on("logo").into()).await;
                }
            },
            _ => {}
        }
    }
    if !browser::csrf_is_valid(&session, &csrf).await {
        let expired = Flash::refused("This form expired. Please try again.");
        return back(&session, &page, expired).await;
    }
    let actor = match super::console_actor(&state, &session, &meta, &tenant).await {
        Ok(Some(actor)) => actor,
        Ok(None) => return Redirect::to(&page).into_response(),
        Err(e) => {
            tracing::error!(request_id = ?meta.request_id, error = %e, "logo upload failed");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let outcome = match (image, remove) {
        (_, true) => admin::branding::remove_logo(&state, &actor, &tenant)
            .await
            .map(|_| "The logo was removed."),
        (Some(bytes), false) => admin::branding::set_logo(&state, &actor, &tenant, &bytes)
            .await
            .map(|_| "The logo was saved."),
        (None, false) => Err(AppError::invalid("Choose an image file first.")),
    };
    match outcome {
        Ok(text) => back(&session, &page, Flash::done(text)).await,
        Err(AppError::Invalid(invalid)) => back(&session, &page, Flash::from(invalid)).await,
        Err(AppError::Forbidden) => StatusCode::FORBIDDEN.into_response(),
        Err(e) => {
            tracing::error!(request_id = ?meta.request_id, error = %e, "logo upload failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// The page backgrounds of each colour scheme (as `style/main.css` sets them): the page and
/// the cards on it.
const LIGHT_BACKGROUNDS: [&str; 2] = ["#f4f5f7", "#ffffff"];
const DARK_BACKGROUNDS: [&str; 2] = ["#11151c", "#1b212b"];

/// Buttons take the brand colour in both colour schemes (their text is chosen for contrast);
/// links take it only in the schemes where it reads on the background (WCAG AA), and keep the
/// default link colour elsewhere. `colour` is `#rrggbb`, so it cannot break out of the rule.
fn brand_css(selector: &str, colour: &str) -> String {
    let mut css = format!(
        "{selector} {{ --primary: {colour}; --primary-hover: {colour}; --on-primary: {}; }}\n",
        text_on(colour)
    );
    let reads_on = |backgrounds: [&str; 2]| {
        backgrounds
            .iter()
            .all(|bg| contrast(colour, bg) >= AA_CONTRAST)
    };
    for (scheme, backgrounds) in [("light", LIGHT_BACKGROUNDS), ("dark", DARK_BACKGROUNDS)] {
        if reads_on(backgrounds) {
            css.push_str(&format!(
                "@media (prefers-color-scheme: {scheme}) {{ {selector} {{ --link: {colour}; }} }}\n"
            ));
        }
    }
    css
}

/// The field's bytes, or `None` past the size limit (the rest is never read).
async fn read_limited(mut field: axum::extract::multipart::Field<'_>) -> Option<Vec<u8>> {
    let mut bytes = Vec::new();
    while let Ok(Some(chunk)) = field.chunk().await {
        if bytes.len() + chunk.len() > LOGO_MAX_BYTES {
            return None;
        }
        bytes.extend_from_slice(&chunk);
    }
    Some(bytes)
}

async fn back(session: &Session, page: &str, flash: Flash) -> Response {
    let _ = session.insert(FLASH_KEY, &flash).await;
    Redirect::to(page).into_response()
}
