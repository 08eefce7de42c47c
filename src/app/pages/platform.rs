//! The platform console at `/admin`, for the operators of the installation: every tenant with
//! its status, suspend, reactivate and delete (typed confirmation), and a form to create one.
//! Operators sign in to the reserved tenant `_ops` with the normal sign-in pages. Every form
//! posts to a server function and works without JavaScript.

use super::admin::{CannotShow, FlashMessage};
use super::{query_param, query_string, Card, Loading};
use crate::app::api::{
    load_platform_tenants, Platform, PlatformCreateTenant, PlatformNav, PlatformSignIn,
    PlatformTenantAction, TenantLine, TenantsPage,
};
use crate::app::pages::admin::revision;
use crate::app::pages::field::Checked;
use crate::domain::{Email, Tenant, TenantSlug};
use leptos::prelude::*;
use leptos_meta::Title;

/// Where operators sign in (the reserved tenant).
const OPERATORS: &str = "_ops";

/// A form posting to a platform server function with the CSRF token.
macro_rules! platform_form {
    ($action:ty, $nav:expr, $($body:tt)*) => {{
        let action = ServerAction::<$action>::new();
        let csrf = $nav.csrf.clone();
        let body = view! { $($body)* };
        view! {
            <ActionForm action>
                <input type="hidden" name="csrf" value=csrf/>
                {body}
            </ActionForm>
        }
    }};
}

#[component]
pub fn PlatformPage() -> impl IntoView {
    let search = query_param("q");
    let after = query_param("after");
    let data = Resource::new(
        move || (search.get(), after.get(), revision()),
        |(q, a, _)| load_platform_tenants(q, a),
    );
    view! {
        <Suspense fallback=Loading>
            {move || data.get().map(|loaded| match loaded {
                Ok(Platform::Ready(nav, page)) => {
                    let paged = !after.get_untracked().is_empty();
                    let search = search.get_untracked();
                    view! { <Layout nav=nav.clone()><Tenants nav page search paged/></Layout> }.into_any()
                }
                Ok(Platform::SignedOut { csrf }) => view! { <SignIn csrf/> }.into_any(),
                Ok(Platform::NoOperators) => view! { <NoOperators/> }.into_any(),
                Err(e) => view! { <Title text="Platform console"/><CannotShow error=e back="/admin"/> }.into_any(),
            })}
        </Suspense>
    }
}

#[component]
fn Layout(nav: PlatformNav, children: Children) -> impl IntoView {
    view! {
        <Title text="Tenants · Platform console"/>
        <div class="console wide">
            <header class="console-bar">
                <a class="brand" href="/admin">"Platform console"</a>
                <span class="muted small">"Signed in as "{nav.email.clone()}" (operator) · "
                    <a href=format!("/t/{OPERATORS}/account") rel="external">"Your account"</a></span>
            </header>
            <nav class="console-nav" aria-label="Platform console">
                <ul>
                    <li><a href="/admin" aria-current="page">"Tenants"</a></li>
                    <li><a href=format!("/t/{OPERATORS}/admin/users") rel="external">"Operators"</a></li>
                </ul>
            </nav>
            <div class="console-main">
                <h1>"Tenants"</h1>
                <FlashMessage flash=nav.flash.clone()/>
                {children()}
            </div>
        </div>
    }
}

/// The platform console needs an operator's normal sign-in to `_ops`: no second login system.
#[component]
fn SignIn(csrf: String) -> impl IntoView {
    let action = ServerAction::<PlatformSignIn>::new();
    view! {
        <Title text="Sign in to the platform console"/>
        <Card>
            <p class="eyebrow">"Operators"</p>
            <h1>"Platform console"</h1>
            <p>"Sign in with your operator account to manage the tenants of this installation."</p>
            <ActionForm action>
                <input type="hidden" name="csrf" value=csrf/>
                <button type="submit" class="button primary">"Sign in"</button>
            </ActionForm>
        </Card>
    }
}

#[component]
fn NoOperators() -> impl IntoView {
    view! {
        <Title text="Platform console"/>
        <Card>
            <p class="eyebrow">"Operators"</p>
            <h1>"Platform console"</h1>
            <p>"No operator exists yet. Create the first one on the server:"</p>
            <p><code>"tessera operator create --email you@example.com"</code></p>
            <p>"It prints a password once; then come back here and sign in."</p>
        </Card>
    }
}

#[component]
fn Tenants(nav: PlatformNav, page: TenantsPage, search: String, paged: bool) -> impl IntoView {
    let rows = page
        .tenants
        .iter()
        .map(|t| view! { <Row nav=nav.clone() tenant=t.clone()/> })
        .collect_view();
    let empty = page.tenants.is_empty().then(|| {
        let text = if search.trim().is_empty() {
            "No tenant here. Create the first one below.".to_owned()
        } else {
            format!(
                "No tenant's slug or name contains \u{201c}{}\u{201d}.",
                search.trim()
            )
        };
        view! { <p class="empty">{text}</p> }
    });
    let first = paged.then(|| {
        view! { <a href=format!("/admin?{}", query_string(&[("q", &search)]))>"First page"</a> }
    });
    let flash = nav.flash.as_ref();
    let slug = Checked::new("new-slug", "slug", flash, TenantSlug::parse_new);
    let name = Checked::new("new-name", "name", flash, Tenant::check_name);
    let owner = Checked::new("new-owner", "owner_email", flash, Email::parse);
    let placement = Checked::server_only("new-placement", "placement", flash);
    let next = page.next.clone().map(|cursor| {
        let href = format!(
            "/admin?{}",
            query_string(&[("q", &search), ("after", &cursor)])
        );
        view! { <p><a class="button small-button" href=href>"Next page"</a></p> }
    });
    view! {
        <form method="get" action="/admin" class="filters" role="search" aria-label="Find tenants">
            <div>
                <label for="q">"Slug or name"</label>
                <input id="q" type="search" name="q" value=search.clone() maxlength="100"/>
            </div>
            <button type="submit" class="button small-button">"Search"</button>
        </form>
        {empty}
        {(!page.tenants.is_empty()).then(|| view! {
            <div class="table-wrap" tabindex="0" role="region" aria-label="Tenants">
                <table>
                    <caption class="visually-hidden">"Tenants, oldest first"</caption>
                    <thead><tr>
                        <th scope="col">"Slug"</th>
                        <th scope="col">"Name"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col">"Storage"</th>
                        <th scope="col">"Created"</th>
                        <th scope="col">"Actions"</th>
                    </tr></thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
        })}
        <div class="actions start">{first}{next}</div>
        <section aria-labelledby="create-tenant">
            <h2 id="create-tenant">"Create a tenant"</h2>
            {platform_form!(PlatformCreateTenant, nav,
                <label for="new-slug">"Slug"</label>
                <input id="new-slug" type="text" name="slug" required autocomplete="off"
                    minlength="2" maxlength="63" aria-describedby=format!("new-slug-help {}", slug.note_id())
                    aria-invalid=slug.invalid() on:input=slug.on_input()/>
                <p id="new-slug-help" class="muted small">"The tenant's address, /t/slug: 2 to 63 lower-case letters, digits or hyphens."</p>
                {slug.note()}
                <label for="new-name">"Name"</label>
                <input id="new-name" type="text" name="name" required maxlength="100" autocomplete="off"
                    aria-describedby=name.note_id() aria-invalid=name.invalid() on:input=name.on_input()/>
                {name.note()}
                <label for="new-owner">"First owner's email address"</label>
                <input id="new-owner" type="email" name="owner_email" required maxlength="254"
                    autocomplete="off" aria-describedby=format!("new-owner-help {}", owner.note_id())
                    aria-invalid=owner.invalid() on:input=owner.on_input()/>
                <p id="new-owner-help" class="muted small">"They get an email with a link to choose their password."</p>
                {owner.note()}
                <label for="new-placement">"Where its data lives"</label>
                <select id="new-placement" name="placement"
                    aria-describedby=format!("new-placement-help {}", placement.note_id())
                    aria-invalid=placement.invalid()>
                    <option value="" selected>"The installation's default"</option>
                    <option value="shared">"The main database, beside other tenants"</option>
                    <option value="dedicated">"A database of its own"</option>
                </select>
                <p id="new-placement-help" class="muted small">"A database of its own keeps the tenant's people, applications, keys and audit log apart from every other tenant's. Move a tenant later with tessera tenant move."</p>
                {placement.note()}
                <button type="submit" class="button primary">"Create tenant"</button>)}
        </section>
    }
}

#[component]
fn Row(nav: PlatformNav, tenant: TenantLine) -> impl IntoView {
    let slug = tenant.slug.clone();
    let status = if tenant.suspended {
        view! { <span class="badge warn">{tenant.status.clone()}</span> }.into_any()
    } else {
        view! { <span>{tenant.status.clone()}</span> }.into_any()
    };
    let actions = if tenant.operators {
        view! { <span class="muted small">"Operators (reserved)"</span> }.into_any()
    } else {
        let (action, label) = if tenant.suspended {
            ("reactivate", "Reactivate")
        } else {
            ("suspend", "Suspend")
        };
        let confirm_id = format!("confirm-{slug}");
        view! {
            <div class="actions start">
                {platform_form!(PlatformTenantAction, nav,
                    <input type="hidden" name="slug" value=slug.clone()/>
                    <input type="hidden" name="action" value=action/>
                    <button type="submit" class="button small-button">
                        {label}<span class="visually-hidden">" "{slug.clone()}</span>
                    </button>)}
            </div>
            <details>
                <summary>"Delete"<span class="visually-hidden">" "{slug.clone()}</span></summary>
                <p class="muted small">"Removes the tenant with its users, applications, keys and audit log. This cannot be undone."</p>
                {platform_form!(PlatformTenantAction, nav,
                    <input type="hidden" name="slug" value=slug.clone()/>
                    <input type="hidden" name="action" value="delete"/>
                    <label for=confirm_id.clone()>"Type "{slug.clone()}" to confirm"</label>
                    <input id=confirm_id type="text" name="confirm" required autocomplete="off" maxlength="63"/>
                    <button type="submit" class="button danger">"Delete for good"</button>)}
                <p class="muted small">"Deleting needs a recent sign-in."</p>
                <div class="reauth">
                    {platform_form!(PlatformSignIn, nav,
                        <button type="submit" class="button small-button">"Confirm it is you"</button>)}
                </div>
            </details>
        }
        .into_any()
    };
    view! {
        <tr>
            <td><a href=format!("/t/{}", tenant.slug) rel="external"><code>{tenant.slug.clone()}</code></a></td>
            <td>{tenant.name.clone()}</td>
            <td>{status}</td>
            <td>{if tenant.dedicated { "Own database" } else { "Shared" }}</td>
            <td>{tenant.created.clone()}</td>
            <td>{actions}</td>
        </tr>
    }
}
