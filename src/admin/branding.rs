//! A tenant's look: display name, primary colour, support contacts and logo.

use super::{audit_with, Actor};
use crate::domain::branding;
use crate::domain::colour::{contrast_warning, parse_colour};
use crate::domain::{Email, Logo, Tenant};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use base64::{engine::general_purpose::STANDARD, Engine};

const MANAGE: &str = "branding:manage";

/// What the branding form sets; empty fields clear their value.
pub struct Look {
    pub name: String,
    pub primary_colour: String,
    pub support_url: String,
    pub support_email: String,
}

/// Checks a look without saving it; returns the tenant as it would be, and a warning when the
/// colour's contrast is below WCAG AA.
pub fn preview(tenant: &Tenant, look: &Look) -> AppResult<(Tenant, Option<String>)> {
    let mut changed = tenant.clone();
    let name = look.name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(AppError::Invalid(
            "The display name is 1 to 100 characters on one line.".into(),
        ));
    }
    changed.name = name.to_owned();
    let b = &mut changed.settings.branding;
    b.primary_colour = match look.primary_colour.trim() {
        "" => None,
        raw => Some(parse_colour(raw)?),
    };
    b.support_url = match look.support_url.trim() {
        "" => None,
        raw => match url::Url::parse(raw) {
            Ok(u) if u.scheme() == "https" && raw.len() <= 2000 => Some(raw.to_owned()),
            _ => {
                return Err(AppError::Invalid(
                    "The support link is an https:// address.".into(),
                ))
            }
        },
    };
    b.support_email = match look.support_email.trim() {
        "" => None,
        raw => Some(Email::parse(raw)?.to_string()),
    };
    let warning = b.primary_colour.as_deref().and_then(contrast_warning);
    Ok((changed, warning))
}

pub async fn save(
    state: &AppState,
    actor: &Actor,
    tenant: &Tenant,
    look: &Look,
) -> AppResult<(Tenant, Option<String>)> {
    actor.require(tenant, MANAGE)?;
    let (changed, warning) = preview(tenant, look)?;
    state.store.tenants.update(&changed).await?;
    let b = &changed.settings.branding;
    let detail = format!(
        "name={} colour={} support_url={} support_email={}",
        changed.name,
        b.primary_colour.as_deref().unwrap_or("default"),
        b.support_url.as_deref().unwrap_or("none"),
        b.support_email.as_deref().unwrap_or("none"),
    );
    let target = format!("tenant:{}", tenant.slug);
    audit_with(state, actor, tenant.id, "branding.updated", target, detail).await;
    Ok((changed, warning))
}

/// Replaces the logo with an uploaded image, checked by its content.
pub async fn set_logo(
    state: &AppState,
    actor: &Actor,
    tenant: &Tenant,
    bytes: &[u8],
) -> AppResult<()> {
    actor.require(tenant, MANAGE)?;
    let content_type = branding::sniff_image(bytes)?;
    let data = STANDARD.encode(bytes);
    let mut changed = tenant.clone();
    changed.settings.branding.logo = Some(Logo {
        content_type: content_type.into(),
        version: crate::crypto::sha256_hex(&data)[..12].to_owned(),
        data,
    });
    state.store.tenants.update(&changed).await?;
    let target = format!("tenant:{}", tenant.slug);
    let detail = format!("{content_type}, {} bytes", bytes.len());
    audit_with(
        state,
        actor,
        tenant.id,
        "branding.logo_changed",
        target,
        detail,
    )
    .await;
    Ok(())
}

pub async fn remove_logo(state: &AppState, actor: &Actor, tenant: &Tenant) -> AppResult<()> {
    actor.require(tenant, MANAGE)?;
    let mut changed = tenant.clone();
    changed.settings.branding.logo = None;
    state.store.tenants.update(&changed).await?;
    let target = format!("tenant:{}", tenant.slug);
    audit_with(
        state,
        actor,
        tenant.id,
        "branding.logo_removed",
        target,
        String::new(),
    )
    .await;
    Ok(())
}
