//! Policies: sign-in lifetimes, password rules, second factors and token lifetimes.

use super::{console_form, console_page, Reauthenticate};
use crate::app::api::{load_admin_settings, ConsoleNav, SaveSettings, SettingsPage};
use crate::app::pages::admin::revision;
use crate::app::pages::{tenant_param, Loading};
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

/// A number field with its label and a hint below it.
fn number(
    id: &'static str,
    label: &'static str,
    hint: &'static str,
    value: String,
) -> impl IntoView {
    let hint_id = format!("{id}-hint");
    view! {
        <label for=id>{label}</label>
        <input id=id type="text" inputmode="numeric" name=id value=value required maxlength="7" aria-describedby=hint_id.clone()/>
        <p class="muted small" id=hint_id>{hint}</p>
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
    view! {
        <p class="muted">"Changes apply to new sign-ins and new applications. Saving needs a recent sign-in, with your second factor if you have one."</p>
        {console_form!(SaveSettings, nav,
            <fieldset class="picker">
                <legend>"Sign-in sessions"</legend>
                {number("session_hours", "Sign-in lifetime (hours)", "People sign in again after this long, whatever they do.", page.session_hours.to_string())}
                {number("idle_minutes", "Idle timeout (minutes)", "A sign-in unused this long ends.", page.idle_minutes.to_string())}
            </fieldset>
            <fieldset class="picker">
                <legend>"Passwords (NIST SP 800-63B: length, no composition rules)"</legend>
                {number("password_min_length", "Minimum length (characters)", "8 to 64. Long passphrases beat complex short passwords.", page.password_min_length.to_string())}
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
                <legend>"Two-step sign-in"</legend>
                <div class="check">
                    <input id="require-mfa" type="checkbox" name="require_mfa" checked=page.require_mfa/>
                    <label for="require-mfa">"Require a second factor for everyone (people without one set it up at their next sign-in)"</label>
                </div>
                <p class="small">"Allowed second factors:"</p>
                <ul>{factors}</ul>
            </fieldset>
            <fieldset class="picker">
                <legend>"Token lifetimes for new applications"</legend>
                {number("access_token_minutes", "Access and ID tokens (minutes)", "1 to 1440. Short-lived tokens limit what a leaked token can do.", page.access_token_minutes.to_string())}
                {number("refresh_idle_days", "Refresh tokens, when unused (days)", "Each use starts this again.", page.refresh_idle_days.to_string())}
                {number("refresh_absolute_days", "Refresh tokens, at most (days)", "From the first sign-in, whatever the use.", page.refresh_absolute_days.to_string())}
            </fieldset>
            <button type="submit" class="button primary">"Save policies"</button>)}
        <div class="reauth"><Reauthenticate nav=nav.clone() page=here/></div>
    }
}
