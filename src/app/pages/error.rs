use super::query_param;
use leptos::prelude::*;
use leptos_meta::Title;

/// The error page. It only ever links to this site: it never redirects anywhere, least of all
/// to an address taken from the request.
#[component]
pub fn ErrorPage() -> impl IntoView {
    let code = query_param("code");
    let request_id = query_param("request_id");
    let (title, message) = describe(&code.get_untracked());
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(if code.get_untracked().is_empty() {
            axum::http::StatusCode::NOT_FOUND
        } else {
            axum::http::StatusCode::BAD_REQUEST
        });
    }
    let request_id = Some(request_id.get_untracked()).filter(|r| !r.is_empty() && r.len() <= 64);
    view! {
        <Title text=title/>
        <ErrorCard title=title.to_string() message=message.to_string() request_id/>
    }
}

fn describe(code: &str) -> (&'static str, &'static str) {
    match code {
        "expired" => (
            "This sign-in has expired",
            "Go back to the application and start signing in again.",
        ),
        "" => ("Page not found", "There is nothing at this address."),
        _ => (
            "Something went wrong",
            "The request could not be completed. Please try again.",
        ),
    }
}

/// What people of a suspended tenant are told (the server functions' error carries it).
pub const SUSPENDED: &str = "This organisation is suspended";

/// A tenant page whose data could not be loaded: the organisation is suspended, or there is
/// nothing here.
#[component]
pub fn PageError(error: ServerFnError) -> impl IntoView {
    if error.to_string().contains(SUSPENDED) {
        view! {
            <Title text=SUSPENDED/>
            <ErrorCard title=SUSPENDED.to_string()
                message="Signing in here is not possible at the moment. Contact the organisation's administrators.".to_string()
                request_id=None/>
        }
        .into_any()
    } else {
        view! { <NotFound/> }.into_any()
    }
}

#[component]
pub fn NotFound() -> impl IntoView {
    view! {
        <Title text="Page not found"/>
        <ErrorCard title="Page not found".to_string() message="There is nothing at this address.".to_string() request_id=None/>
    }
}

#[component]
pub fn ErrorCard(title: String, message: String, request_id: Option<String>) -> impl IntoView {
    view! {
        <section class="card">
            <h1>{title}</h1>
            <p>{message}</p>
            {request_id.map(|id| view! { <p class="muted small">"Reference: " <code>{id}</code></p> })}
        </section>
    }
}

/// A whole error document for handlers outside the Leptos router (the authorization endpoint).
#[cfg(feature = "ssr")]
pub fn standalone_error_page(title: &str, message: &str, request_id: Option<&str>) -> String {
    let owner = Owner::new();
    let body = owner.with(|| {
        let (title, message, request_id) = (
            title.to_owned(),
            message.to_owned(),
            request_id.map(str::to_owned),
        );
        view! { <main id="main"><ErrorCard title message request_id/></main> }.to_html()
    });
    standalone_document(title, &body)
}

/// A page rendered outside the Leptos router: our stylesheet, no script.
#[cfg(feature = "ssr")]
pub fn standalone_document(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{}</title><link rel=\"stylesheet\" href=\"/pkg/tessera.css\"><link rel=\"icon\" type=\"image/svg+xml\" href=\"/favicon.svg\"></head><body>{body}</body></html>",
        html_escape::encode_text(title)
    )
}
