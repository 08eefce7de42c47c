pub mod consent;
pub mod device;
pub mod error;
pub mod home;
pub mod login;
#[cfg(feature = "ssr")]
pub mod logout;
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

#[component]
pub fn Card(children: Children) -> impl IntoView {
    view! { <section class="card">{children()}</section> }
}

/// Shown while a page's data loads (only visible when navigating with JavaScript).
#[component]
pub fn Loading() -> impl IntoView {
    view! { <Card><p aria-busy="true">"Loading…"</p></Card> }
}
