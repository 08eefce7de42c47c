//! Applications (OAuth clients): the list, the "new application" flow that asks what is being
//! built, and one page per application with its settings, secret and configuration snippet.

use super::{console_form, console_page, Reauthenticate};
use crate::app::api::{
    load_admin_client, load_admin_clients, ClientAction, ClientPage, ClientsPage, ConsoleNav,
    RegisterClient, SaveClient,
};
use crate::app::pages::admin::revision;
use crate::app::pages::field::Checked;
use crate::app::pages::{query_param, tenant_param, Loading};
use crate::domain::{
    uri_lines, whole_number, AppType, Client, ExchangePolicy, Invalid, RedirectUri,
};
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

#[component]
pub fn AdminClientsPage() -> impl IntoView {
    let tenant = tenant_param();
    let data = Resource::new(
        move || (tenant.get(), revision()),
        |(t, _)| load_admin_clients(t),
    );
    view! {
        <Suspense fallback=Loading>
            {move || data.get().map(|loaded| console_page(loaded, "Applications", "clients", |nav, page| view! { <Clients nav page/> }))}
        </Suspense>
    }
}

#[component]
fn Clients(nav: ConsoleNav, page: ClientsPage) -> impl IntoView {
    let base = format!("/t/{}/admin/clients", nav.tenant);
    let rows = page
        .clients
        .iter()
        .map(|c| {
            let status = if c.disabled { "Disabled" } else { "Active" };
            let marker = c
                .self_registered
                .then(|| view! { " "<span class="badge">"Self-registered"</span> });
            view! {
                <tr>
                    <td><a href=format!("{base}/{}", c.client_id)>{c.name.clone()}</a>{marker}</td>
                    <td><code>{c.client_id.clone()}</code></td>
                    <td>{c.kind.clone()}</td>
                    <td>{status}</td>
                </tr>
            }
        })
        .collect_view();
    // Those who may hand out initial access tokens find them from here.
    let registration = nav.areas.iter().any(|a| a == "registration").then(|| {
        let href = format!("/t/{}/admin/registration", nav.tenant);
        view! { " "<a href=href>"Let applications register themselves"</a> }
    });
    view! {
        <p><a class="button primary small-button" href=format!("{base}/new")>"New application"</a>{registration}</p>
        {if page.clients.is_empty() {
            view! { <p class="empty">"No applications yet. Register one with \"New application\": you will get its client id, and a secret for server-side apps."</p> }.into_any()
        } else {
            view! {
                <div class="table-wrap" tabindex="0" role="region" aria-label="Applications"><table>
                    <caption class="visually-hidden">"Applications"</caption>
                    <thead><tr><th scope="col">"Name"</th><th scope="col">"Client id"</th><th scope="col">"Type"</th><th scope="col">"Status"</th></tr></thead>
                    <tbody>{rows}</tbody>
                </table></div>
            }.into_any()
        }}
    }
}

#[component]
pub fn AdminNewClientPage() -> impl IntoView {
    let tenant = tenant_param();
    let kind = query_param("type");
    // Keyed on the type too, so following a type link (client-side) shows its form.
    let data = Resource::new(
        move || (tenant.get(), kind.get(), revision()),
        |(t, _, _)| load_admin_clients(t),
    );
    view! {
        <Suspense fallback=Loading>
            {move || data.get().map(|loaded| console_page(loaded, "New application", "clients", |nav, page| {
                view! { <NewClient nav page kind=kind.get_untracked()/> }
            }))}
        </Suspense>
    }
}

#[component]
fn NewClient(nav: ConsoleNav, page: ClientsPage, kind: String) -> impl IntoView {
    let base = format!("/t/{}/admin/clients/new", nav.tenant);
    let chosen = page
        .types
        .iter()
        .find(|(value, ..)| *value == kind)
        .cloned();
    let Some((value, name, what)) = chosen else {
        let choices = page
            .types
            .iter()
            .map(|(value, name, what)| view! {
                <li class="area"><a href=format!("{base}?type={value}")>{name.clone()}</a><p class="muted small">{what.clone()}</p></li>
            })
            .collect_view();
        return view! {
            <p>"What are you building? The type sets safe defaults: whether the application keeps a secret, how it signs people in, and PKCE."</p>
            <ul class="areas">{choices}</ul>
        }
        .into_any();
    };
    let redirects = matches!(value.as_str(), "web" | "spa" | "native");
    let example = match value.as_str() {
        "native" => "com.example.app:/callback or http://127.0.0.1/callback",
        "spa" => "https://app.example.com/callback",
        _ => "https://app.example.com/auth/callback",
    };
    let app = AppType::parse(&value).unwrap_or(AppType::Web);
    let checks = ClientChecks::new(app, nav.flash.as_ref());
    let (redirect, post_logout) = (checks.redirect.clone(), checks.post_logout.clone());
    let uris = redirects.then(|| view! {
        <label for="redirect-uris">"Redirect URIs (one per line)"</label>
        <p class="muted small" id="redirect-help">"Exact addresses, e.g. "{example}". https is required except for loopback addresses; no wildcards or fragments."</p>
        <textarea id="redirect-uris" name="redirect_uris" rows="3" required maxlength="20000"
            aria-describedby=format!("redirect-help {}", redirect.note_id()) aria-invalid=redirect.invalid() on:input=redirect.on_input()></textarea>
        {redirect.note()}
        <label for="post-logout-uris">"Post-logout redirect URIs (optional, one per line)"</label>
        <textarea id="post-logout-uris" name="post_logout_redirect_uris" rows="2" maxlength="20000"
            aria-describedby=post_logout.note_id() aria-invalid=post_logout.invalid() on:input=post_logout.on_input()></textarea>
        {post_logout.note()}
    });
    let (name_check, logo) = (checks.name, checks.logo);
    view! {
        <p><strong>{name}</strong>" — "{what}" "<a href=base.clone()>"Choose another type"</a></p>
        {console_form!(RegisterClient, nav,
            <input type="hidden" name="app_type" value=value.clone()/>
            <label for="client-name">"Name people see on the consent page"</label>
            <input id="client-name" type="text" name="name" required maxlength="100"
                aria-describedby=name_check.note_id() aria-invalid=name_check.invalid() on:input=name_check.on_input()/>
            {name_check.note()}
            {uris}
            <label for="logo">"Logo (optional, an https:// image address)"</label>
            <input id="logo" type="text" name="logo_uri" inputmode="url" maxlength="2000"
                aria-describedby=logo.note_id() aria-invalid=logo.invalid() on:input=logo.on_input()/>
            {logo.note()}
            <button type="submit" class="button primary">"Register application"</button>)}
    }
    .into_any()
}

/// The rules of an application's form fields (the server's own, from `domain::client`).
struct ClientChecks {
    name: Checked,
    redirect: Checked,
    post_logout: Checked,
    logo: Checked,
}

impl ClientChecks {
    fn new(app: AppType, flash: Option<&crate::app::api::Flash>) -> Self {
        Self {
            name: Checked::new("client-name", "name", flash, Client::check_name),
            redirect: Checked::new("redirect-uris", "redirect_uris", flash, move |raw| {
                app.check_redirects(&uri_lines(raw))
            }),
            post_logout: Checked::new(
                "post-logout-uris",
                "post_logout_redirect_uris",
                flash,
                |raw| RedirectUri::parse_all(&uri_lines(raw)),
            ),
            logo: Checked::new("logo", "logo_uri", flash, Client::check_logo_uri),
        }
    }
}

/// A lifetime in seconds, as typed.
fn seconds(
    rule: fn(i64) -> Result<(), Invalid>,
) -> impl Fn(&str) -> Result<(), Invalid> + Send + Sync {
    move |raw| rule(whole_number(raw, "A lifetime")?)
}

#[component]
pub fn AdminClientPage() -> impl IntoView {
    let tenant = tenant_param();
    let params = use_params_map();
    let client = Memo::new(move |_| params.read().get("client").unwrap_or_default());
    let show = query_param("show");
    let data = Resource::new(
        move || (tenant.get(), client.get(), show.get(), revision()),
        |(t, c, s, _)| load_admin_client(t, c, s),
    );
    view! {
        <Suspense fallback=Loading>
            {move || data.get().map(|loaded| console_page(loaded, "Application", "clients", |nav, page| view! { <Client nav page/> }))}
        </Suspense>
    }
}

#[component]
fn Client(nav: ConsoleNav, page: ClientPage) -> impl IntoView {
    let here = format!("/t/{}/admin/clients/{}", nav.tenant, page.client_id);
    let secret = page.secret.clone().map(|secret| view! {
        <section class="secret-once" aria-labelledby="secret-title">
            <h2 id="secret-title">"Client secret"</h2>
            <p>"Copy it now and keep it in your application's secret store: it is shown only this once."</p>
            <label for="client-secret">"Secret"</label>
            <input id="client-secret" type="text" readonly value=secret data-testid="client-secret"/>
            <button type="button" class="button small-button" data-copy="client-secret" hidden=true>"Copy"</button>
        </section>
    });
    let action = |name: &'static str, label: &'static str, danger: bool| {
        let class = if danger {
            "button small-button danger"
        } else {
            "button small-button"
        };
        console_form!(ClientAction, nav,
            <input type="hidden" name="client" value=page.client_id.clone()/>
            <input type="hidden" name="action" value=name/>
            <button type="submit" class=class>{label}</button>)
    };
    let toggle = if page.disabled {
        action("enable", "Enable", false)
    } else {
        action("disable", "Disable", true)
    };
    let rotate = page.has_secret.then(|| {
        console_form!(ClientAction, nav,
        <input type="hidden" name="client" value=page.client_id.clone()/>
        <input type="hidden" name="action" value="rotate"/>
        <label for="grace">"Keep the old secret working for"</label>
        <select id="grace" name="grace">
            <option value="0">"no time: revoke it now"</option>
            <option value="3600">"1 hour"</option>
            <option value="86400" selected=true>"1 day"</option>
            <option value="604800">"7 days"</option>
        </select>
        <button type="submit" class="button">"Make a new secret"</button>)
    });
    let app = AppType::parse(&page.app_type).unwrap_or(AppType::Web);
    let flash = nav.flash.as_ref();
    let checks = ClientChecks::new(app, flash);
    let scopes = Checked::new("scopes", "scopes", flash, Client::check_scopes);
    let access = Checked::new(
        "access-ttl",
        "access_token_ttl_secs",
        flash,
        seconds(Client::check_access_ttl),
    );
    let refresh = Checked::new(
        "refresh-ttl",
        "refresh_token_ttl_secs",
        flash,
        seconds(Client::check_refresh_ttl),
    );
    let audiences = Checked::new("exchange-audiences", "exchange_audiences", flash, |raw| {
        ExchangePolicy::check_audiences(&ExchangePolicy::from_form(raw, "").audiences)
    });
    let exchange_scopes = Checked::new("exchange-scopes", "exchange_scopes", flash, |raw| {
        ExchangePolicy::check_scopes(&ExchangePolicy::from_form("", raw).scopes)
    });
    let (redirect, post_logout) = (checks.redirect.clone(), checks.post_logout.clone());
    let uris = page.redirects.then(|| view! {
        <label for="redirect-uris">"Redirect URIs (one per line)"</label>
        <textarea id="redirect-uris" name="redirect_uris" rows="3" required maxlength="20000"
            aria-describedby=redirect.note_id() aria-invalid=redirect.invalid() on:input=redirect.on_input()>{page.redirect_uris.clone()}</textarea>
        {redirect.note()}
        <label for="post-logout-uris">"Post-logout redirect URIs (one per line)"</label>
        <textarea id="post-logout-uris" name="post_logout_redirect_uris" rows="2" maxlength="20000"
            aria-describedby=post_logout.note_id() aria-invalid=post_logout.invalid() on:input=post_logout.on_input()>{page.post_logout_redirect_uris.clone()}</textarea>
        {post_logout.note()}
    });
    let (name_check, logo) = (checks.name, checks.logo);
    let confirm = Checked::server_only("confirm", "confirm", flash);
    view! {
        <p class="lead"><strong>{page.name.clone()}</strong>" · "{page.kind.clone()}
            {page.disabled.then(|| view! { <span class="badge warn">"disabled"</span> })}
            {page.self_registered.then(|| view! { " "<span class="badge">"Self-registered"</span> })}</p>
        {page.self_registered.then(|| view! {
            <p data-testid="self-registered">"This application registered itself (dynamic client registration, RFC 7591). It manages its own registration through RFC 7592 with its registration access token, at "
                <code>{format!("{}/register/{}", page.issuer, page.client_id)}</code>
                ": it may read, replace or delete it there, so changes made here last until it replaces its registration."</p>
        })}
        {secret}
        <section aria-labelledby="connect">
            <h2 id="connect">"Connect your application"</h2>
            <dl class="facts">
                <dt>"Client id"</dt><dd><code>{page.client_id.clone()}</code></dd>
                <dt>"Issuer"</dt><dd><code>{page.issuer.clone()}</code></dd>
                <dt>"Discovery"</dt><dd><code>{page.discovery.clone()}</code></dd>
                <dt>"Grants"</dt><dd><code>{page.grants.clone()}</code></dd>
                <dt>"Token authentication"</dt><dd><code>{page.auth_method.clone()}</code></dd>
            </dl>
            <label for="snippet">"Configuration to paste"</label>
            <textarea id="snippet" readonly rows="7" class="snippet">{page.snippet.clone()}</textarea>
            <button type="button" class="button small-button" data-copy="snippet" hidden=true>"Copy"</button>
        </section>
        <section aria-labelledby="settings">
            <h2 id="settings">"Settings"</h2>
            {console_form!(SaveClient, nav,
                <input type="hidden" name="client" value=page.client_id.clone()/>
                <label for="client-name">"Name"</label>
                <input id="client-name" type="text" name="name" value=page.name.clone() required maxlength="100"
                    aria-describedby=name_check.note_id() aria-invalid=name_check.invalid() on:input=name_check.on_input()/>
                {name_check.note()}
                {uris}
                <label for="scopes">"Allowed scopes (separated by spaces)"</label>
                <input id="scopes" type="text" name="scopes" value=page.scopes.clone() required maxlength="2000"
                    aria-describedby=scopes.note_id() aria-invalid=scopes.invalid() on:input=scopes.on_input()/>
                {scopes.note()}
                <div class="check">
                    <input id="consent" type="checkbox" name="require_consent" checked=page.require_consent/>
                    <label for="consent">"Ask people for consent"</label>
                </div>
                <div class="check">
                    <input id="dpop" type="checkbox" name="require_dpop" checked=page.require_dpop aria-describedby="dpop-hint"/>
                    <label for="dpop">"Require DPoP (sender-constrained tokens)"</label>
                </div>
                <div class="check">
                    <input id="dpop-nonce" type="checkbox" name="require_dpop_nonce" checked=page.require_dpop_nonce aria-describedby="dpop-hint"/>
                    <label for="dpop-nonce">"Require a server nonce in DPoP proofs"</label>
                </div>
                <p class="muted small" id="dpop-hint">"DPoP (RFC 9449) binds tokens to a key the application holds, so a stolen token is useless without it. The application must send a DPoP proof with each token request; with a server nonce, proofs cannot be made in advance."</p>
                <div class="check">
                    <input id="signed-requests" type="checkbox" name="require_signed_request_object" checked=page.require_signed_request_object aria-describedby="signed-requests-hint"/>
                    <label for="signed-requests">"Require signed authorization requests (JAR)"</label>
                </div>
                <p class="muted small" id="signed-requests-hint">"JAR (RFC 9101) has the application send its authorization request as a request object signed with one of its keys, so nobody can alter it on the way; unsigned requests are refused."</p>
                <label for="exchange-audiences">"Token exchange: audiences (one per line)"</label>
                <textarea id="exchange-audiences" name="exchange_audiences" rows="2" maxlength="20000"
                    aria-describedby=format!("exchange-hint {}", audiences.note_id()) aria-invalid=audiences.invalid() on:input=audiences.on_input()>{page.exchange_audiences.clone()}</textarea>
                {audiences.note()}
                <label for="exchange-scopes">"Token exchange: scopes (separated by spaces)"</label>
                <textarea id="exchange-scopes" name="exchange_scopes" rows="2" maxlength="4000"
                    aria-describedby=format!("exchange-hint {}", exchange_scopes.note_id()) aria-invalid=exchange_scopes.invalid() on:input=exchange_scopes.on_input()>{page.exchange_scopes.clone()}</textarea>
                {exchange_scopes.note()}
                <p class="muted small" id="exchange-hint">"Token exchange (RFC 8693) lets a service trade a token it was given for one to call another API: these are the APIs (absolute URIs) and scopes such new tokens may be for. Used only by applications allowed the token-exchange grant."</p>
                <label for="access-ttl">"Access token lifetime (seconds)"</label>
                <input id="access-ttl" type="text" inputmode="numeric" name="access_token_ttl_secs" value=page.access_token_ttl_secs.to_string() required maxlength="9"
                    aria-describedby=access.note_id() aria-invalid=access.invalid() on:input=access.on_input()/>
                {access.note()}
                <label for="refresh-ttl">"Refresh token lifetime when unused (seconds)"</label>
                <input id="refresh-ttl" type="text" inputmode="numeric" name="refresh_token_ttl_secs" value=page.refresh_token_ttl_secs.to_string() required maxlength="9"
                    aria-describedby=refresh.note_id() aria-invalid=refresh.invalid() on:input=refresh.on_input()/>
                {refresh.note()}
                <label for="logo">"Logo (an https:// image address)"</label>
                <input id="logo" type="text" name="logo_uri" value=page.logo_uri.clone() inputmode="url" maxlength="2000"
                    aria-describedby=logo.note_id() aria-invalid=logo.invalid() on:input=logo.on_input()/>
                {logo.note()}
                <button type="submit" class="button">"Save settings"</button>)}
        </section>
        {page.has_secret.then(|| view! {
            <section aria-labelledby="rotate">
                <h2 id="rotate">"Secret"</h2>
                <p class="muted small">"A new secret is shown once. During the grace period both secrets work, so you can redeploy without downtime. You may be asked to confirm it is you."</p>
                {rotate}
            </section>
        })}
        <section aria-labelledby="danger">
            <h2 id="danger">"Disable or delete"</h2>
            <div class="actions start">{toggle}</div>
            {console_form!(ClientAction, nav,
                <input type="hidden" name="client" value=page.client_id.clone()/>
                <input type="hidden" name="action" value="delete"/>
                <label for="confirm">"Type the client id to delete the application for good"</label>
                <input id="confirm" type="text" name="confirm" required autocomplete="off" maxlength="128"
                    aria-describedby=confirm.note_id() aria-invalid=confirm.invalid()/>
                {confirm.note()}
                <button type="submit" class="button danger">"Delete application"</button>)}
            <div class="reauth"><Reauthenticate nav=nav.clone() page=here/></div>
        </section>
    }
}
