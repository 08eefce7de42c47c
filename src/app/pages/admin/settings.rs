//! Policies: sign-in lifetimes, password rules, self sign-up, open registration of
//! applications, second factors and token lifetimes.

use super::{console_form, console_page, Reauthenticate};
use crate::app::api::{
    load_admin_settings, policy_numbers::*, ConsoleNav, Flash, SaveSettings, SettingsPage,
};
use crate::app::pages::admin::revision;
use crate::app::pages::field::Checked;
use crate::app::pages::{tenant_param, Loading};
use crate::domain::{typed_duration, whole_number, TenantSettings, TimeUnit};
use leptos::prelude::*;

#[component]
pub fn AdminSettingsPage() -> impl IntoView {
    let tenant = tenant_param();
    let data = Resource::new(
        move || (tenant.get(), revision()),
        |(t, _)| load_admin_settings(t),
    );
    view! {
        <Suspense fallback=Loading>
            {move || data.get().map(|loaded| console_page(loaded, "Policies", "settings", |nav, page| view! { <Settings nav page/> }))}
        </Suspense>
    }
}

/// A number field with its label, a hint below it and the rule's verdict.
fn number(
    id: &'static str,
    label: &'static str,
    hint: &'static str,
    value: String,
    check: &Checked,
) -> impl IntoView {
    let hint_id = format!("{id}-hint");
    view! {
        <label for=id>{label}</label>
        <input id=id type="text" inputmode="numeric" name=id value=value required maxlength="7"
            aria-describedby=format!("{hint_id} {}", check.note_id()) aria-invalid=check.invalid() on:input=check.on_input()/>
        <p class="muted small" id=hint_id>{hint}</p>
        {check.note()}
    }
}

/// The policy rules of `domain::tenant`, on the form's numbers (in the unit each asks for).
struct PolicyChecks {
    session: Checked,
    idle: Checked,
    password: Checked,
    access: Checked,
    refresh_idle: Checked,
    refresh_absolute: Checked,
    factors: Checked,
}

impl PolicyChecks {
    fn new(page: &SettingsPage, flash: Option<&Flash>) -> Self {
        use TimeUnit::{Days, Hours, Minutes};
        let session = Checked::new("session_hours", "session_lifetime_secs", flash, |raw| {
            TenantSettings::check_session_lifetime(typed_duration(raw, Hours, SESSION)?)
        });
        let refresh_idle = Checked::new("refresh_idle_days", "refresh_idle_secs", flash, |raw| {
            TenantSettings::check_refresh_idle(typed_duration(raw, Days, REFRESH_IDLE)?)
        });
        // The idle timeout and the absolute refresh lifetime are bounded by another field:
        // what is typed there, or else what is saved.
        let (typed_session, saved_session) = (session.typed(), page.session_hours.to_string());
        let (typed_refresh, saved_refresh) =
            (refresh_idle.typed(), page.refresh_idle_days.to_string());
        Self {
            idle: Checked::new(
                "idle_minutes",
                "session_idle_timeout_secs",
                flash,
                move |raw| {
                    let lifetime = typed_session.get().unwrap_or_else(|| saved_session.clone());
                    let lifetime = typed_duration(&lifetime, Hours, SESSION).unwrap_or(0);
                    let idle = typed_duration(raw, Minutes, IDLE)?;
                    TenantSettings::check_idle_timeout(idle, lifetime)
                },
            ),
            refresh_absolute: Checked::new(
                "refresh_absolute_days",
                "refresh_absolute_secs",
                flash,
                move |raw| {
                    let idle = typed_refresh.get().unwrap_or_else(|| saved_refresh.clone());
                    let idle = typed_duration(&idle, Days, REFRESH_IDLE).unwrap_or(0);
                    let absolute = typed_duration(raw, Days, REFRESH_ABSOLUTE)?;
                    TenantSettings::check_refresh_absolute(absolute, idle)
                },
            ),
            password: Checked::new("password_min_length", "password_min_length", flash, |raw| {
                TenantSettings::check_password_min_length(whole_number(raw, PASSWORD_LENGTH)?)
            }),
            access: Checked::new("access_token_minutes", "access_token_secs", flash, |raw| {
                TenantSettings::check_access_token(typed_duration(raw, Minutes, ACCESS)?)
            }),
            factors: Checked::server_only("factors", "allowed_factors", flash),
            session,
            refresh_idle,
        }
    }
}

#[component]
fn Settings(nav: ConsoleNav, page: SettingsPage) -> impl IntoView {
    let here = format!("/t/{}/admin/settings", nav.tenant);
    let factors = page
        .factors
        .iter()
        .map(|(kind, label, allowed)| {
            let id = format!("factor-{kind}");
            view! {
                <li><input type="checkbox" id=id.clone() name="factors[]" value=kind.clone() checked=*allowed/>
                <label for=id>{label.clone()}</label></li>
            }
        })
        .collect_view();
    let checks = PolicyChecks::new(&page, nav.flash.as_ref());
    let factors_note = checks.factors.note();
    view! {
        <p class="muted">"Changes apply to new sign-ins and new applications. Saving needs a recent sign-in, with your second factor if you have one."</p>
        {console_form!(SaveSettings, nav,
            <fieldset class="picker">
                <legend>"Sign-in sessions"</legend>
                {number("session_hours", "Sign-in lifetime (hours)", "People sign in again after this long, whatever they do.", page.session_hours.to_string(), &checks.session)}
                {number("idle_minutes", "Idle timeout (minutes)", "A sign-in unused this long ends.", page.idle_minutes.to_string(), &checks.idle)}
            </fieldset>
            <fieldset class="picker">
                <legend>"Passwords (NIST SP 800-63B: length, no composition rules)"</legend>
                {number("password_min_length", "Minimum length (characters)", "8 to 64. Long passphrases beat complex short passwords.", page.password_min_length.to_string(), &checks.password)}
                <div class="check">
                    <input id="block-common" type="checkbox" name="block_common_passwords" checked=page.block_common_passwords/>
                    <label for="block-common">"Refuse commonly used passwords (built-in list)"</label>
                </div>
            </fieldset>
            <fieldset class="picker">
                <legend>"Accounts"</legend>
                <div class="check">
                    <input id="self-signup" type="checkbox" name="self_signup" checked=page.self_signup/>
                    <label for="self-signup">"People may create their own account (confirmed by a link sent to their address)"</label>
                </div>
            </fieldset>
            <fieldset class="picker">
                <legend>"Applications"</legend>
                <div class="check">
                    <input id="open-registration" type="checkbox" name="open_registration" checked=page.open_registration/>
                    <label for="open-registration">"Applications may register themselves without an initial access token (open dynamic client registration, limited to 20 an hour per address)"</label>
                </div>
            </fieldset>
            <fieldset class="picker">
                <legend>"Two-step sign-in"</legend>
                <div class="check">
                    <input id="require-mfa" type="checkbox" name="require_mfa" checked=page.require_mfa/>
                    <label for="require-mfa">"Require a second factor for everyone (people without one set it up at their next sign-in)"</label>
                </div>
                <p class="small">"Allowed second factors:"</p>
                <ul id="factors">{factors}</ul>
                {factors_note}
            </fieldset>
            <fieldset class="picker">
                <legend>"Token lifetimes for new applications"</legend>
                {number("access_token_minutes", "Access and ID tokens (minutes)", "1 to 1440. Short-lived tokens limit what a leaked token can do.", page.access_token_minutes.to_string(), &checks.access)}
                {number("refresh_idle_days", "Refresh tokens, when unused (days)", "Each use starts this again.", page.refresh_idle_days.to_string(), &checks.refresh_idle)}
                {number("refresh_absolute_days", "Refresh tokens, at most (days)", "From the first sign-in, whatever the use.", page.refresh_absolute_days.to_string(), &checks.refresh_absolute)}
            </fieldset>
            <button type="submit" class="button primary">"Save policies"</button>)}
        <div class="reauth"><Reauthenticate nav=nav.clone() page=here/></div>
    }
}
