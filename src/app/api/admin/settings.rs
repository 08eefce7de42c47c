//! The console's organisation policies: sign-in lifetimes, password rules, factors, token lifetimes.

#![allow(clippy::too_many_arguments)] // a server function takes one argument per form field

#[cfg(feature = "ssr")]
use super::console;
use super::Console;
#[cfg(feature = "ssr")]
use crate::{
    app::api::server,
    domain::{whole_number, Invalid},
};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// What the policy form's numbers are called in messages, alike in the page and on the server.
pub mod policy_numbers {
    pub const SESSION: &str = "The sign-in lifetime";
    pub const IDLE: &str = "The idle timeout";
    pub const PASSWORD_LENGTH: &str = "The minimum password length";
    pub const ACCESS: &str = "The access token lifetime";
    pub const REFRESH_IDLE: &str = "The refresh token idle lifetime";
    pub const REFRESH_ABSOLUTE: &str = "The refresh token absolute lifetime";
}

/// The tenant's policies in the units the settings page shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SettingsPage {
    pub session_hours: i64,
    pub idle_minutes: i64,
    pub password_min_length: usize,
    pub block_common_passwords: bool,
    pub self_signup: bool,
    /// Applications may register themselves without an initial access token (RFC 7591).
    pub open_registration: bool,
    pub require_mfa: bool,
    /// (factor kind, label, allowed)
    pub factors: Vec<(String, String, bool)>,
    pub access_token_minutes: i64,
    pub refresh_idle_days: i64,
    pub refresh_absolute_days: i64,
}

#[server(prefix = "/api", endpoint = "admin_settings")]
pub async fn load_admin_settings(tenant: String) -> Result<Console<SettingsPage>, ServerFnError> {
    use crate::domain::FactorKind;
    let ctx = server::context(&tenant).await?;
    console::load(&ctx, Some("settings:manage"), |_| {
        let s = ctx.tenant.settings.clone();
        async move {
            let label = |kind: FactorKind| match kind {
                FactorKind::Totp => "Authenticator apps (TOTP)",
                FactorKind::EmailCode => "Codes by email",
                FactorKind::Passkey => "Passkeys and security keys",
                FactorKind::BackupCodes => "Backup codes",
            };
            Ok(SettingsPage {
                session_hours: s.session_lifetime_secs / 3600,
                idle_minutes: s.session_idle_timeout_secs / 60,
                password_min_length: s.password_min_length,
                block_common_passwords: s.block_common_passwords,
                self_signup: s.self_signup,
                open_registration: s.open_registration,
                require_mfa: s.require_mfa,
                factors: FactorKind::ENROLLABLE
                    .iter()
                    .map(|k| (k.as_str().into(), label(*k).into(), s.allows(*k)))
                    .collect(),
                access_token_minutes: s.access_token_secs / 60,
                refresh_idle_days: s.refresh_idle_secs / 86_400,
                refresh_absolute_days: s.refresh_absolute_secs / 86_400,
            })
        }
    })
    .await
}

#[server(prefix = "/api", endpoint = "admin_settings_save")]
pub async fn save_settings(
    tenant: String,
    csrf: String,
    session_hours: String,
    idle_minutes: String,
    password_min_length: String,
    #[server(default)] block_common_passwords: Option<String>,
    #[server(default)] require_mfa: Option<String>,
    #[server(default)] self_signup: Option<String>,
    #[server(default)] open_registration: Option<String>,
    #[server(default)] factors: Vec<String>,
    access_token_minutes: String,
    refresh_idle_days: String,
    refresh_absolute_days: String,
) -> Result<(), ServerFnError> {
    use crate::domain::{typed_duration, FactorKind, TimeUnit::*};
    use policy_numbers::*;
    let ctx = server::context(&tenant).await?;
    let page = format!("/t/{}/admin/settings", ctx.tenant.slug);
    let Some(actor) = console::act(&ctx, &csrf, &page).await? else {
        return Ok(());
    };
    // Each number in the form's unit, refused under the name of the setting it becomes.
    let number =
        |parsed: Result<i64, Invalid>, field: &'static str| parsed.map_err(|e| e.on(field));
    let outcome = async {
        let mut settings = ctx.tenant.settings.clone();
        settings.session_lifetime_secs = number(
            typed_duration(&session_hours, Hours, SESSION),
            "session_lifetime_secs",
        )?;
        settings.session_idle_timeout_secs = number(
            typed_duration(&idle_minutes, Minutes, IDLE),
            "session_idle_timeout_secs",
        )?;
        settings.password_min_length = number(
            whole_number(&password_min_length, PASSWORD_LENGTH),
            "password_min_length",
        )? as usize;
        settings.block_common_passwords = block_common_passwords.is_some();
        settings.require_mfa = require_mfa.is_some();
        settings.self_signup = self_signup.is_some();
        settings.open_registration = open_registration.is_some();
        settings.allowed_factors = factors
            .iter()
            .map(|f| {
                FactorKind::parse(f)
                    .filter(|k| *k != FactorKind::BackupCodes)
                    .ok_or_else(|| {
                        Invalid::new(format!("Unknown factor {f:?}.")).on("allowed_factors")
                    })
            })
            .collect::<Result<_, _>>()?;
        settings.access_token_secs = number(
            typed_duration(&access_token_minutes, Minutes, ACCESS),
            "access_token_secs",
        )?;
        settings.refresh_idle_secs = number(
            typed_duration(&refresh_idle_days, Days, REFRESH_IDLE),
            "refresh_idle_secs",
        )?;
        settings.refresh_absolute_secs = number(
            typed_duration(&refresh_absolute_days, Days, REFRESH_ABSOLUTE),
            "refresh_absolute_secs",
        )?;
        crate::admin::tenants::update_policies(&ctx.state, &actor, &ctx.tenant, settings).await?;
        Ok("The policies were saved.".to_string())
    }
    .await;
    console::done(&ctx, &page, outcome).await
}
