//! A tenant's look: display name, primary colour, support contacts and logo.

use super::{audited, event_of, Actor};
use crate::domain::branding;
use crate::domain::colour::contrast_warning;
use crate::domain::{Logo, Tenant};
use crate::error::AppResult;
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
    changed.name = branding::check_display_name(&look.name)?;
    let b = &mut changed.settings.branding;
    b.primary_colour = branding::check_primary_colour(&look.primary_colour)?;
    b.support_url = branding::check_support_url(&look.support_url)?;
    b.support_email = branding::check_support_email(&look.support_email)?;
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
    let b = &changed.settings.branding;
    let detail = format!(
        "name={} colour={} support_url={} support_email={}",
        changed.name,
        b.primary_colour.as_deref().unwrap_or("default"),
        b.support_url.as_deref().unwrap_or("none"),
        b.support_email.as_deref().unwrap_or("none"),
    );
    let target = format!("tenant:{}", tenant.slug);
    let event = event_of(actor, tenant.id, "branding.updated", target).reason(detail);
    audited(state, actor, event, state.store.tenants.update(&changed)).await?;
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
    let content_type = branding::sniff_image(bytes).map_err(|e| e.on("logo"))?;
    let data = STANDARD.encode(bytes);
    let mut changed = tenant.clone();
    changed.settings.branding.logo = Some(Logo {
        content_type: content_type.into(),
        version: crate::crypto::sha256_hex(&data)[..12].to_owned(),
        data,
    });
    let target = format!("tenant:{}", tenant.slug);
    let detail = format!("{content_type}, {} bytes", bytes.len());
    let event = event_of(actor, tenant.id, "branding.logo_changed", target).reason(detail);
    audited(state, actor, event, state.store.tenants.update(&changed)).await?;
    Ok(())
}

pub async fn remove_logo(state: &AppState, actor: &Actor, tenant: &Tenant) -> AppResult<()> {
    actor.require(tenant, MANAGE)?;
    let mut changed = tenant.clone();
    changed.settings.branding.logo = None;
    let target = format!("tenant:{}", tenant.slug);
    let event = event_of(actor, tenant.id, "branding.logo_removed", target);
    audited(state, actor, event, state.store.tenants.update(&changed)).await?;
    Ok(())
}
