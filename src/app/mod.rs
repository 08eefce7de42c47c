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
    admin::{
        api_keys::AdminApiKeysPage,
        audit::AdminAuditPage,
        branding::AdminBrandingPage,
        clients::{AdminClientPage, AdminClientsPage, AdminNewClientPage},
        connections::{AdminConnectionPage, AdminConnectionsPage, AdminNewConnectionPage},
        registration::AdminRegistrationPage,
        roles::AdminRolesPage,
        settings::AdminSettingsPage,
        teams::AdminTeamsPage,
        users::{AdminUserPage, AdminUsersPage},
        webhooks::{AdminWebhookPage, AdminWebhooksPage},
        AdminHomePage,
    },
    backup_codes::BackupCodesPage,
    consent::ConsentPage,
    device::DevicePage,
    error::ErrorPage,
    home::HomePage,
    login::LoginPage,
    platform::PlatformPage,
    recovery::{ForgotPasswordPage, ResetPasswordPage, SignUpPage, VerifyEmailPage},
    signed_out::SignedOutPage,
    FormRefusedAlert,
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
                <script src="/console.js" defer nonce=leptos::nonce::use_nonce()></script>
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
                <TenantBrand/>
                <FormRefusedAlert/>
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
                    <Route path=path!("/t/:tenant/signup") view=SignUpPage ssr=SsrMode::Async/>
                    <Route path=path!("/t/:tenant/signed-out") view=SignedOutPage ssr=SsrMode::Async/>
                    <Route path=path!("/t/:tenant/error") view=ErrorPage ssr=SsrMode::Async/>
                    <Route path=path!("/t/:tenant/admin") view=AdminHomePage ssr=SsrMode::Async/>
                    <Route path=path!("/t/:tenant/admin/users") view=AdminUsersPage ssr=SsrMode::Async/>
                    <Route path=path!("/t/:tenant/admin/users/:id") view=AdminUserPage ssr=SsrMode::Async/>
                    <Route path=path!("/t/:tenant/admin/clients") view=AdminClientsPage ssr=SsrMode::Async/>
                    <Route path=path!("/t/:tenant/admin/clients/new") view=AdminNewClientPage ssr=SsrMode::Async/>
                    <Route path=path!("/t/:tenant/admin/clients/:client") view=AdminClientPage ssr=SsrMode::Async/>
                    <Route path=path!("/t/:tenant/admin/registration") view=AdminRegistrationPage ssr=SsrMode::Async/>
                    <Route path=path!("/t/:tenant/admin/connections") view=AdminConnectionsPage ssr=SsrMode::Async/>
                    <Route path=path!("/t/:tenant/admin/connections/new") view=AdminNewConnectionPage ssr=SsrMode::Async/>
                    <Route path=path!("/t/:tenant/admin/connections/:connection") view=AdminConnectionPage ssr=SsrMode::Async/>
                    <Route path=path!("/t/:tenant/admin/roles") view=AdminRolesPage ssr=SsrMode::Async/>
                    <Route path=path!("/t/:tenant/admin/teams") view=AdminTeamsPage ssr=SsrMode::Async/>
                    <Route path=path!("/t/:tenant/admin/audit") view=AdminAuditPage ssr=SsrMode::Async/>
                    <Route path=path!("/t/:tenant/admin/api-keys") view=AdminApiKeysPage ssr=SsrMode::Async/>
                    <Route path=path!("/t/:tenant/admin/webhooks") view=AdminWebhooksPage ssr=SsrMode::Async/>
                    <Route path=path!("/t/:tenant/admin/webhooks/:id") view=AdminWebhookPage ssr=SsrMode::Async/>
                    <Route path=path!("/t/:tenant/admin/settings") view=AdminSettingsPage ssr=SsrMode::Async/>
                    <Route path=path!("/t/:tenant/admin/branding") view=AdminBrandingPage ssr=SsrMode::Async/>
                    <Route path=path!("/admin") view=PlatformPage ssr=SsrMode::Async/>
                </Routes>
                <TenantSupport/>
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
         img-src 'self' data: https:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
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

/// The tenant of an end-user page (sign-in, consent, second factor, recovery, account), if this
/// is one; consoles keep the default look.
fn branded_tenant() -> Memo<Option<String>> {
    let location = leptos_router::hooks::use_location();
    Memo::new(move |_| {
        let path = location.pathname.get();
        let mut parts = path.trim_start_matches('/').split('/');
        match (parts.next(), parts.next(), parts.next()) {
            (Some("t"), Some(slug), next) if !slug.is_empty() && next != Some("admin") => {
                Some(slug.to_owned())
            }
            _ => None,
        }
    })
}

/// The look of the branded tenant, if any.
fn brand_of(tenant: Memo<Option<String>>) -> Resource<Option<api::BrandView>> {
    Resource::new(
        move || tenant.get(),
        |t| async move {
            match t {
                Some(t) => api::load_brand(t).await.ok().flatten(),
                None => None,
            }
        },
    )
}

/// The tenant's colours (a stylesheet, as the CSP allows no inline style) and logo.
#[component]
fn TenantBrand() -> impl IntoView {
    let tenant = branded_tenant();
    let brand = brand_of(tenant);
    view! {
        {move || tenant.get().map(|t| view! { <link rel="stylesheet" href=format!("/t/{t}/branding.css")/> })}
        <Suspense fallback=|| ()>
            {move || brand.get().flatten().and_then(|b| {
                let name = b.name.clone();
                b.logo.map(|src| view! { <img class="brand-logo" src=src alt=format!("{name} logo")/> })
            })}
        </Suspense>
    }
}

/// Where the tenant's people get help, below every end-user page.
#[component]
fn TenantSupport() -> impl IntoView {
    let tenant = branded_tenant();
    let brand = brand_of(tenant);
    view! {
        <Suspense fallback=|| ()>
            {move || brand.get().flatten().and_then(|b| {
                if b.support_url.is_none() && b.support_email.is_none() {
                    return None;
                }
                Some(view! {
                    <p class="support small">"Need help? "
                        {b.support_url.map(|u| view! { <a href=u rel="external">"Contact support"</a> })}
                        {b.support_email.map(|e| view! { " "<a href=format!("mailto:{e}") rel="external">{e.clone()}</a> })}
                    </p>
                })
            })}
        </Suspense>
    }
}
