pub mod account;
pub mod admin;
pub mod backup_codes;
pub mod consent;
pub mod device;
pub mod error;
pub mod field;
pub mod home;
pub mod login;
#[cfg(feature = "ssr")]
pub mod logout;
pub mod platform;
pub mod recovery;
pub mod signed_out;

use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

/// The `:tenant` segment of the current URL.
pub fn tenant_param() -> Memo<String> {
    let params = use_params_map();
    Memo::new(move |_| params.read().get("tenant").unwrap_or_default())
}

pub fn query_param(name: &'static str) -> Memo<String> {
    let query = use_query_map();
    Memo::new(move |_| query.read().get(name).unwrap_or_default())
}

/// `name=value&…` for a link, leaving out empty values.
pub fn query_string(pairs: &[(&str, &str)]) -> String {
    let encode = |raw: &str| {
        raw.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    pairs
        .iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(name, value)| format!("{name}={}", encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Plain-language text for the outcome codes server functions put in the URL. Unknown codes
/// show nothing, so the URL cannot inject text into the page.
pub fn message_for(code: &str, wait: &str) -> Option<String> {
    let text = match code {
        "incorrect" => "Incorrect email or password.".to_string(),
        "invalid_email" => "Enter a valid email address, like name@example.com.".to_string(),
        "throttled" => match wait.parse::<u64>() {
            Ok(secs) => format!("Too many attempts. Wait {secs} seconds and try again."),
            Err(_) => "Too many attempts. Wait a moment and try again.".to_string(),
        },
        "csrf" => "This form expired. Please try again.".to_string(),
        "expired" => {
            "This sign-in expired. Start again, or go back to the application and try again."
                .to_string()
        }
        "choice" => "Choose Allow or Deny.".to_string(),
        "invalid_code" => {
            "That code is not valid or has expired. Check the code on your device and try again."
                .to_string()
        }
        "code_expired" => {
            "That code has expired or was already used. Start again on your device.".to_string()
        }
        "wrong_code" => "That code is not right. Check it and try again.".to_string(),
        "otp_expired" => "That code has expired or was used up. Send a new one.".to_string(),
        "resend_wait" => match wait.parse::<u64>() {
            Ok(secs) => format!("A new code can be sent in {secs} seconds."),
            Err(_) => "Wait a moment before asking for a new code.".to_string(),
        },
        "send_limit" => {
            "No more codes can be sent for this sign-in. Start again later.".to_string()
        }
        "factor_unavailable" => {
            "That way of confirming is not available for your account.".to_string()
        }
        "reauth" => "For your security, sign in again before making this change.".to_string(),
        "wrong_password" => "Your current password is not right.".to_string(),
        "weak_password" => {
            "Choose a password of at least 8 characters (a few unrelated words work well)."
                .to_string()
        }
        "not_found" => "That item no longer exists.".to_string(),
        "last_sign_in" => {
            "That is your only way to sign in. Set a password or add a passkey first.".to_string()
        }
        "upstream_unknown" => "That way of signing in is not available.".to_string(),
        "upstream_expired" => {
            "That sign-in expired or was already used. Start again.".to_string()
        }
        "upstream_invalid" => {
            "The other provider's answer could not be trusted, so you were not signed in. Start again, or contact your administrator if it keeps happening.".to_string()
        }
        "upstream_refused" => {
            "The other provider did not sign you in (it refused, or the sign-in was cancelled).".to_string()
        }
        "upstream_unavailable" => {
            "The other provider cannot be reached at the moment. Try again later, or sign in another way.".to_string()
        }
        "upstream_no_account" => {
            "There is no account here for that identity. Ask your administrator for access.".to_string()
        }
        "upstream_no_email" => {
            "The other provider did not share your email address, which a new account needs.".to_string()
        }
        "upstream_blocked" => {
            "The account linked to that identity cannot sign in. Contact your administrator.".to_string()
        }
        "passkey_refused" => {
            "That passkey was not accepted. Use a passkey registered to your account, or choose another way."
                .to_string()
        }
        "passkey_name" => "Name the passkey in 1 to 60 characters, like \"Work laptop\".".to_string(),
        "invalid_signup" => {
            "Enter a valid email address, and a name of at most 200 characters.".to_string()
        }
        "signup_closed" => "This organisation does not let people create their own account.".to_string(),
        "link_invalid" => {
            "This link is not valid any more: it expired or was already used. Ask for a new one."
                .to_string()
        }
        _ => return None,
    };
    Some(text)
}

#[component]
pub fn Alert(code: Memo<String>, #[prop(optional)] wait: Option<Memo<String>>) -> impl IntoView {
    move || {
        let wait = wait.map(|w| w.get()).unwrap_or_default();
        message_for(&code.get(), &wait).map(|text| {
            view! { <p class="alert" role="alert" id="form-error">{text}</p> }
        })
    }
}

/// What a person reads about a form the server could not read (a stale tab, a form sent from
/// another site): the server shows the page again with [`FORM_REFUSED_FLAG`] in its address.
pub const FORM_REFUSED: &str = "This form has expired or was sent from another site. Try again.";
/// The query parameter (name and value) that shows [`FORM_REFUSED`] on any page.
pub const FORM_REFUSED_FLAG: (&str, &str) = ("form", "refused");

#[component]
pub fn FormRefusedAlert() -> impl IntoView {
    let (name, value) = FORM_REFUSED_FLAG;
    let query = use_query_map();
    move || {
        (query.read().get(name).as_deref() == Some(value)).then(|| {
            view! { <p class="alert" role="alert" id="form-refused">{FORM_REFUSED}</p> }
        })
    }
}

/// Plain-language text for the success codes server functions put in the URL (`done=…`).
pub fn notice_for(code: &str) -> Option<&'static str> {
    Some(match code {
        "password" => "Your password was changed. Your other sign-ins were ended.",
        "password_reset" => "Your password was reset. Sign in with the new password.",
        "added" => "Two-step sign-in is set up.",
        "removed" => "Removed.",
        "unlinked" => "That account is no longer linked. It no longer signs you in here.",
        "signed_out" => "That sign-in was ended.",
        "consent_withdrawn" => "The application's access was taken back: its tokens no longer work, and it asks again next time.",
        "verification_sent" => "We sent a confirmation link to your email address.",
        "signup_sent" => "Check your email: we sent a link to choose your password and finish creating your account.",
        "sent" => "If an account exists for that address, we sent it a link to reset the password. Check your email.",
        _ => return None,
    })
}

#[component]
pub fn Notice(code: Memo<String>) -> impl IntoView {
    move || notice_for(&code.get()).map(|text| view! { <p class="notice" role="status">{text}</p> })
}

/// A button that runs a WebAuthn ceremony through `public/passkeys.js` (`action` is `sign-in`
/// or `register`). Hidden until the script finds a browser that supports passkeys; the
/// message below it says why when that never happens.
#[component]
pub fn PasskeyButton(
    action: &'static str,
    label: &'static str,
    tenant: String,
    csrf: String,
    #[prop(optional)] flow: String,
) -> impl IntoView {
    view! {
        <div class="passkey">
            <button type="button" class="button" hidden=true data-passkey=action
                data-tenant=tenant data-csrf=csrf data-flow=flow>{label}</button>
            <p class="muted small" data-passkey-unsupported="">
                "Passkeys need JavaScript and a browser that supports them."
            </p>
            <p class="alert" role="alert" data-passkey-status="" hidden=true></p>
        </div>
    }
}

#[component]
pub fn Card(children: Children) -> impl IntoView {
    view! { <section class="card">{children()}</section> }
}

/// Shown while a page's data loads (only visible when navigating with JavaScript).
#[component]
pub fn Loading() -> impl IntoView {
    view! { <Card><p aria-busy="true">"Loading…"</p></Card> }
}
