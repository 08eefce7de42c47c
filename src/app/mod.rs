//! The Leptos app: pages rendered on the server and hydrated in the browser. Every form posts to
//! a server function and works the same with JavaScript off.

pub mod api;
pub mod pages;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::{
    components::{Route, Router, Routes},
    path, SsrMode,
};
use pages::{
    account::AccountPage,
    backup_codes::BackupCodesPage,
    consent::ConsentPage,
    device::DevicePage,
    error::ErrorPage,
    home::HomePage,
    login::LoginPage,
    recovery::{ForgotPasswordPage, ResetPasswordPage, VerifyEmailPage},
    signed_out::SignedOutPage,
};

pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="referrer" content="same-origin"/>
                <link rel="icon" type="image/svg+xml" href="/favicon.svg"/>
                <script src="/passkeys.js" defer nonce=leptos::nonce::use_nonce()></script>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    #[cfg(feature = "ssr")]
    set_content_security_policy();
    // Marks the page once the browser has hydrated it (end-to-end tests wait for this).
    Effect::new(move |_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });

    view! {
        <Stylesheet id="leptos" href="/pkg/tessera.css"/>
        <Title text="Tessera"/>
        <Router>
            <main id="main">
                <Routes fallback=|| view! { <ErrorPage/> }>
                    <Route path=path!("/") view=Landing/>
                    <Route path=path!("/t/:tenant") view=HomePage ssr=SsrMode::Async/>
                    <Route path=path!("/t/:tenant/login") view=LoginPage ssr=SsrMode::Async/>
                    <Route path=path!("/t/:tenant/consent") view=ConsentPage ssr=SsrMode::Async/>
                    <Route path=path!("/t/:tenant/device") view=DevicePage ssr=SsrMode::Async/>
                    <Route path=path!("/t/:tenant/account") view=AccountPage ssr=SsrMode::Async/>
                    <Route path=path!("/t/:tenant/backup-codes") view=BackupCodesPage ssr=SsrMode::Async/>
                    <Route path=path!("/t/:tenant/forgot-password") view=ForgotPasswordPage ssr=SsrMode::Async/>
                    <Route path=path!("/t/:tenant/reset-password") view=ResetPasswordPage ssr=SsrMode::Async/>
                    <Route path=path!("/t/:tenant/verify-email") view=VerifyEmailPage ssr=SsrMode::Async/>
                    <Route path=path!("/t/:tenant/signed-out") view=SignedOutPage ssr=SsrMode::Async/>
                    <Route path=path!("/t/:tenant/error") view=ErrorPage ssr=SsrMode::Async/>
                </Routes>
            </main>
        </Router>
    }
}

/// Pages allow only our own scripts and the inline bootstrap Leptos marks with this render's
/// nonce; no other inline script can run.
#[cfg(feature = "ssr")]
fn set_content_security_policy() {
    use axum::http::{header, HeaderValue};
    let (Some(nonce), Some(response)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) else {
        return;
    };
    let policy = format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; style-src 'self'; \
         img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    );
    if let Ok(value) = HeaderValue::from_str(&policy) {
        response.insert_header(header::CONTENT_SECURITY_POLICY, value);
    }
}

#[component]
fn Landing() -> impl IntoView {
    view! {
        <Title text="Tessera"/>
        <section class="card">
            <h1>"Tessera"</h1>
            <p>"This is an OpenID Connect identity provider."</p>
            <p><a class="button" href="/t/default/login">"Sign in"</a></p>
        </section>
    }
}
