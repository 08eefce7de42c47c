//! The organisation console at `/t/{slug}/admin`: a layout with navigation by area, and one
//! module per area. Every form posts to a server function and works without JavaScript.

pub mod api_keys;
pub mod audit;
pub mod branding;
pub mod clients;
pub mod connections;
mod overview;
pub mod registration;
pub mod roles;
pub mod settings;
pub mod teams;
pub mod users;
pub mod webhooks;

use super::field::Checked;
use super::{tenant_param, Card, Loading};
use crate::app::api::{load_admin_home, AdminSignIn, Console, ConsoleNav, Flash};
use crate::app::pages::error::NotFound;
use crate::domain::access::check_description;
use crate::domain::Invalid;
use leptos::prelude::*;
use leptos_meta::Title;

/// A form posting to a console server function with the tenant and CSRF token.
#[macro_export]
macro_rules! console_form {
    ($action:ty, $nav:expr, $($body:tt)*) => {{
        let action = ServerAction::<$action>::new();
        // Built here, so the form's children own their values.
        let (tenant, csrf) = ($nav.tenant.clone(), $nav.csrf.clone());
        let body = view! { $($body)* };
        view! {
            <ActionForm action>
                <input type="hidden" name="tenant" value=tenant/>
                <input type="hidden" name="csrf" value=csrf/>
                {body}
            </ActionForm>
        }
    }};
}
pub use console_form;

thread_local! {
    /// Counts changes made through console forms in this browser tab.
    static REVISION: ArcRwSignal<u64> = ArcRwSignal::new(0);
}

/// Console pages load their data again whenever this changes: after a form's change is
/// answered with the page to show, that page is rendered in place (see [`navigate_in_place`]).
pub fn revision() -> u64 {
    REVISION.with(|r| r.get())
}

/// Whether `path` is a page of a console (`/t/{slug}/admin…` or `/admin…`).
#[cfg(feature = "hydrate")]
fn is_console(path: &str) -> bool {
    let path = path.split(['?', '#']).next().unwrap_or_default();
    path == "/admin"
        || path.starts_with("/admin/")
        || (path.starts_with("/t/") && path.split('/').nth(3) == Some("admin"))
}

/// Follows a server function's redirect between console pages without loading the whole
/// page: the router is moved to the new address (or stays), and the pages load their data
/// again. False when `target` must be opened the ordinary way (sign-in pages, other sites).
#[cfg(feature = "hydrate")]
pub fn navigate_in_place(target: &str) -> bool {
    let window = window();
    let location = window.location();
    let origin = location.origin().unwrap_or_default();
    let here = location.pathname().unwrap_or_default();
    let target = target.strip_prefix(origin.as_str()).unwrap_or(target);
    if !target.starts_with('/') || !is_console(&here) || !is_console(target) {
        return false;
    }
    let current = format!("{here}{}", location.search().unwrap_or_default());
    if target == current {
        // The same page: load its data again (once, as the message shows only once).
        REVISION.with(|r| r.update(|n| *n += 1));
        return true;
    }
    // Another address: the router renders it, and its page loads its own data.
    let pushed = window.history().and_then(|h| {
        h.push_state_with_url(&leptos::wasm_bindgen::JsValue::NULL, "", Some(target))
    });
    let event = leptos::web_sys::Event::new("popstate");
    pushed.is_ok() && event.and_then(|e| window.dispatch_event(&e)).is_ok()
}

/// One console area, as the navigation lists it.
const AREAS: [(&str, &str); 11] = [
    ("users", "Users"),
    ("clients", "Applications"),
    ("registration", "App registration"),
    ("roles", "Roles"),
    ("teams", "Teams"),
    ("connections", "Connections"),
    ("branding", "Branding"),
    ("settings", "Policies"),
    ("audit", "Audit log"),
    ("api-keys", "API keys"),
    ("webhooks", "Webhooks"),
];

/// Renders a console page from its loaded data: the sign-in offer, the not-allowed page, or
/// the page itself inside the console layout.
pub fn console_page<T: Clone + Send + Sync + 'static, V: IntoView + 'static>(
    loaded: Result<Console<T>, ServerFnError>,
    title: &'static str,
    area: &'static str,
    page: impl FnOnce(ConsoleNav, T) -> V,
) -> AnyView {
    match loaded {
        Ok(Console::Ready(nav, data)) => {
            let flash = nav.flash.clone();
            let content = page(nav.clone(), data);
            view! {
                <Layout nav area title>
                    <FlashMessage flash/>
                    {content}
                </Layout>
            }
            .into_any()
        }
        Ok(Console::NotAllowed(nav)) => view! {
            <Layout nav area title="Not allowed">
                <p>"You do not have permission to open this page. Ask an owner or admin of the organisation if you need it."</p>
            </Layout>
        }
        .into_any(),
        Ok(Console::SignedOut { tenant_name, csrf }) => {
            view! { <SignInToConsole tenant_name csrf/> }.into_any()
        }
        Err(e) if e.to_string().contains("not found") => view! { <NotFound/> }.into_any(),
        Err(e) => view! { <CannotShow error=e back="."/> }.into_any(),
    }
}

/// A console page whose data could not be loaded, with the plain-language reason.
#[component]
pub fn CannotShow(error: ServerFnError, back: &'static str) -> impl IntoView {
    let text = error.to_string();
    let text = text
        .trim_start_matches("error running server function: ")
        .to_owned();
    view! {
        <Card>
            <h1>"This page cannot be shown"</h1>
            <p class="alert" role="alert">{text}</p>
            <p><a href=back>"Back"</a></p>
        </Card>
    }
}

#[component]
pub fn FlashMessage(flash: Option<Flash>) -> impl IntoView {
    flash.map(|f| {
        if f.ok {
            view! { <p class="notice" role="status">{f.text}</p> }.into_any()
        } else {
            view! { <p class="alert" role="alert" id="form-error">{f.text}</p> }.into_any()
        }
    })
}

#[component]
fn Layout(
    nav: ConsoleNav,
    area: &'static str,
    title: &'static str,
    children: Children,
) -> impl IntoView {
    let base = format!("/t/{}/admin", nav.tenant);
    let links = AREAS
        .iter()
        .filter(|(key, _)| nav.areas.iter().any(|a| a == key))
        .map(|(key, label)| {
            let current = (*key == area).then_some("page");
            view! { <li><a href=format!("{base}/{key}") aria-current=current>{*label}</a></li> }
        })
        .collect_view();
    let crumb = AREAS
        .iter()
        .find(|(key, _)| *key == area)
        .map(|(key, label)| {
            view! { <li><a href=format!("{base}/{key}")>{*label}</a></li> }
        });
    view! {
        <Title text=format!("{title} · {} console", nav.tenant_name)/>
        <div class="console wide">
            <header class="console-bar">
                <a class="brand" href=base.clone()>{nav.tenant_name.clone()}" console"</a>
                <span class="muted small">"Signed in as "{nav.email.clone()}" · "
                    <a href=format!("/t/{}/account", nav.tenant) rel="external">"Your account"</a></span>
            </header>
            <nav class="console-nav" aria-label="Console">
                <ul>
                    <li><a href=base.clone() aria-current=(area.is_empty()).then_some("page")>"Overview"</a></li>
                    {links}
                </ul>
            </nav>
            <div class="console-main">
                <nav aria-label="Breadcrumb"><ol class="crumbs">
                    <li><a href=base.clone()>"Console"</a></li>
                    {crumb}
                </ol></nav>
                <h1>{title}</h1>
                {children()}
            </div>
        </div>
    }
}

/// The console needs the tenant's normal sign-in: no second login system.
#[component]
fn SignInToConsole(tenant_name: String, csrf: String) -> impl IntoView {
    let tenant = tenant_param().get_untracked();
    // Back to the page that asked, once signed in.
    let page = leptos_router::hooks::use_location()
        .pathname
        .get_untracked();
    let action = ServerAction::<AdminSignIn>::new();
    view! {
        <Title text="Sign in to the console"/>
        <Card>
            <p class="eyebrow">{tenant_name}</p>
            <h1>"Organisation console"</h1>
            <p>"Sign in with your account to manage users, roles, teams and the audit log."</p>
            <ActionForm action>
                <input type="hidden" name="tenant" value=tenant/>
                <input type="hidden" name="csrf" value=csrf/>
                <input type="hidden" name="page" value=page/>
                <button type="submit" class="button primary">"Sign in"</button>
            </ActionForm>
        </Card>
    }
}

/// "Confirm it is you" for sensitive actions: a fresh sign-in that comes back to `page`.
#[component]
pub fn Reauthenticate(nav: ConsoleNav, page: String) -> impl IntoView {
    console_form!(AdminSignIn, nav,
        <input type="hidden" name="page" value=page/>
        <button type="submit" class="button small-button">"Confirm it is you"</button>)
}

#[component]
pub fn AdminHomePage() -> impl IntoView {
    let tenant = tenant_param();
    let data = Resource::new(
        move || (tenant.get(), revision()),
        |(t, _)| load_admin_home(t),
    );
    view! {
        <Suspense fallback=Loading>
            {move || data.get().map(|loaded| console_page(loaded, "Overview", "", |nav, insights| {
                let base = format!("/t/{}/admin", nav.tenant);
                let cards = AREAS
                    .iter()
                    .filter(|(key, _)| nav.areas.iter().any(|a| a == key))
                    .map(|(key, label)| {
                        let what = match *key {
                            "users" => "Find people, create or invite them, block, reset and delete accounts.",
                            "branding" => "Your name, logo, colour and support contacts on the sign-in pages.",
                            "settings" => "Session lifetimes, password rules, two-step sign-in and token lifetimes.",
                            "clients" => "Register applications, get their client id and secret, and a configuration to paste.",
                            "registration" => "Initial access tokens that let applications register themselves, and whether they may without one.",
                            "roles" => "Decide who may do what: built-in roles and your own.",
                            "teams" => "Group people and give a whole team its roles.",
                            "connections" => "Let people sign in with Google, Microsoft, GitHub or another identity provider.",
                            "api-keys" => "Keys that let other systems act in this organisation, each with the permissions you give it.",
                            "webhooks" => "Endpoints of your own systems that hear of sign-ins and changes as they happen, with a log of every delivery.",
                            _ => "Every sign-in and change, who made it and from where; export it.",
                        };
                        view! { <li class="area"><a href=format!("{base}/{key}")>{*label}</a><p class="muted small">{what}</p></li> }
                    })
                    .collect_view();
                let empty = nav.areas.is_empty().then(|| view! {
                    <p>"Your roles give you no console access. Ask an owner or admin of the organisation if you need it."</p>
                });
                let insights = insights.map(|insights| view! { <overview::InsightsPanel insights/> });
                view! { <ul class="areas">{cards}</ul>{empty}{insights} }
            }))}
        </Suspense>
    }
}

/// The name and description of a role or team, checked as they are typed. The server's refusal shows here
/// when `flash` is given (the form it may be about).
#[component]
pub fn NameAndDescription(
    prefix: String,
    name: String,
    description: String,
    flash: Option<Flash>,
    rule: fn(&str) -> Result<String, Invalid>,
) -> impl IntoView {
    let (name_id, description_id) = (format!("{prefix}-name"), format!("{prefix}-description"));
    let name_check = Checked::new(&name_id, "name", flash.as_ref(), rule);
    let about = Checked::new(
        &description_id,
        "description",
        flash.as_ref(),
        check_description,
    );
    view! {
        <input id=name_id type="text" name="name" value=name required maxlength="60"
            aria-describedby=name_check.note_id() aria-invalid=name_check.invalid() on:input=name_check.on_input()/>
        {name_check.note()}
        <label for=description_id.clone()>"Description"</label>
        <input id=description_id type="text" name="description" value=description maxlength="300"
            aria-describedby=about.note_id() aria-invalid=about.invalid() on:input=about.on_input()/>
        {about.note()}
    }
}

/// The "I mean it" box of a deletion: the browser will not send the form unticked (with or
/// without JavaScript), and the server refuses it unticked too.
#[component]
pub fn ConfirmBox(id: String, label: String) -> impl IntoView {
    view! {
        <div class="check">
            <input type="checkbox" id=id.clone() name="confirm" value="yes" required/>
            <label for=id>{label}</label>
        </div>
    }
}
