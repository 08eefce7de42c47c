//! Connections: other identity providers the organisation's people may sign in with. The list,
//! the "add a connection" flow that asks for the provider first and then shows only its fields
//! with where to find them, and one page per connection with the callback URL to register at
//! the provider (for SAML: Tessera's metadata, and what the provider's metadata said), its
//! settings, and deleting it.

use super::{console_form, console_page, ConfirmBox, Reauthenticate};
use crate::app::api::{
    load_admin_connection, load_admin_connections, ConnectionForm, ConnectionPage, ConnectionsPage,
    ConsoleNav, DeleteConnection, Flash, SamlProvider, SaveConnection,
};
use crate::app::pages::admin::revision;
use crate::app::pages::field::Checked;
use crate::app::pages::{query_param, tenant_param, Loading};
use crate::domain::connection::{
    acs_url, callback_url, check_attribute, check_claim, check_client_id, check_client_secret,
    check_directory, check_domains, check_name, check_scopes, check_slug, check_url,
    sp_metadata_url, MAX_CONNECTIONS,
};
use crate::domain::{ClaimMapping, Invalid, Preset};
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

#[component]
pub fn AdminConnectionsPage() -> impl IntoView {
    let tenant = tenant_param();
    let data = Resource::new(
        move || (tenant.get(), revision()),
        |(t, _)| load_admin_connections(t),
    );
    view! {
        <Suspense fallback=Loading>
            {move || data.get().map(|loaded| console_page(loaded, "Connections", "connections", |nav, page| view! { <Connections nav page/> }))}
        </Suspense>
    }
}

#[component]
pub fn AdminNewConnectionPage() -> impl IntoView {
    let tenant = tenant_param();
    let preset = query_param("preset");
    // Keyed on the preset too, so following a preset link (client-side) shows its form.
    let data = Resource::new(
        move || (tenant.get(), preset.get(), revision()),
        |(t, _, _)| load_admin_connections(t),
    );
    view! {
        <Suspense fallback=Loading>
            {move || data.get().map(|loaded| console_page(loaded, "Add a connection", "connections", |nav, page| {
                view! { <NewConnection nav page preset=preset.get_untracked()/> }
            }))}
        </Suspense>
    }
}

#[component]
pub fn AdminConnectionPage() -> impl IntoView {
    let tenant = tenant_param();
    let params = use_params_map();
    let slug = Memo::new(move |_| params.read().get("connection").unwrap_or_default());
    let data = Resource::new(
        move || (tenant.get(), slug.get(), revision()),
        |(t, s, _)| load_admin_connection(t, s),
    );
    view! {
        <Suspense fallback=Loading>
            {move || data.get().map(|loaded| console_page(loaded, "Connection", "connections", |nav, page| view! { <Connection nav page/> }))}
        </Suspense>
    }
}

#[component]
fn Connections(nav: ConsoleNav, page: ConnectionsPage) -> impl IntoView {
    let base = format!("/t/{}/admin/connections", nav.tenant);
    let rows = page
        .connections
        .iter()
        .map(|c| {
            let status = if c.enabled { "Enabled" } else { "Disabled" };
            let accounts = if c.provisioning {
                "Creates accounts"
            } else {
                "Existing accounts"
            };
            view! {
                <tr>
                    <td class="text"><a href=format!("{base}/{}", c.slug)>{c.name.clone()}</a><br/><code class="small">{c.slug.clone()}</code></td>
                    <td>{c.provider.clone()}</td>
                    <td class="text small">{c.domains.clone()}</td>
                    <td>{accounts}</td>
                    <td>{status}</td>
                </tr>
            }
        })
        .collect_view();
    let list = if page.connections.is_empty() {
        view! { <p class="empty">"No connections yet. Add one to let people sign in with Google, Microsoft, GitHub, your own identity provider or your company's SAML directory."</p> }.into_any()
    } else {
        view! {
            <div class="table-wrap" tabindex="0" role="region" aria-label="Connections"><table>
                <caption class="visually-hidden">"Connections"</caption>
                <thead><tr><th scope="col">"Name"</th><th scope="col">"Provider"</th><th scope="col">"Email domains"</th><th scope="col">"New people"</th><th scope="col">"Status"</th></tr></thead>
                <tbody>{rows}</tbody>
            </table></div>
        }.into_any()
    };
    view! {
        <p class="muted small">"A connection lets people sign in here with an account they have at another identity provider: it shows as a \"Continue with …\" button on the sign-in page, and people whose email domain belongs to it are sent straight there."</p>
        {add_button(&base, page.full)}
        {list}
    }
}

fn add_button(base: &str, full: bool) -> AnyView {
    if full {
        view! { <p>{full_text()}</p> }.into_any()
    } else {
        view! { <p><a class="button primary small-button" href=format!("{base}/new")>"Add a connection"</a></p> }.into_any()
    }
}

fn full_text() -> String {
    format!("This organisation has {MAX_CONNECTIONS} connections, the most it may have: delete one to add another.")
}

#[component]
fn NewConnection(nav: ConsoleNav, page: ConnectionsPage, preset: String) -> impl IntoView {
    let base = format!("/t/{}/admin/connections/new", nav.tenant);
    let Some(preset) = Preset::parse(&preset) else {
        let choices = Preset::ALL
            .iter()
            .map(|p| view! {
                <li class="area"><a href=format!("{base}?preset={}", p.as_str())>{choice_label(*p)}</a><p class="muted small">{choice_help(*p)}</p></li>
            })
            .collect_view();
        return view! {
            <p>"Which provider should people sign in with? Choose one; you can add others afterwards."</p>
            <ul class="areas">{choices}</ul>
        }
        .into_any();
    };
    if page.full {
        return view! { <p>{full_text()}</p> }.into_any();
    }
    let form = new_form(preset);
    let here = format!("{base}?preset={}", preset.as_str());
    let fields = fields(&form, nav.flash.as_ref(), page.allow_http, &page.issuer);
    view! {
        <p><strong>{choice_label(preset)}</strong>" — "<a href=base.clone()>"Choose another provider"</a></p>
        <section aria-labelledby="at-provider">
            <h2 id="at-provider">"First, at the provider"</h2>
            <p>{where_to_register(preset)}</p>
        </section>
        <section aria-labelledby="here">
            <h2 id="here">"Then, here"</h2>
            {console_form!(SaveConnection, nav,
                <input type="hidden" name="preset" value=preset.as_str()/>
                {fields}
                <button type="submit" class="button primary">"Add connection"</button>)}
            <p class="muted small">"Adding a connection asks you to have signed in recently."</p>
            <div class="reauth"><Reauthenticate nav=nav.clone() page=here/></div>
        </section>
    }
    .into_any()
}

#[component]
fn Connection(nav: ConsoleNav, page: ConnectionPage) -> impl IntoView {
    let form = page.form.clone();
    let here = format!("/t/{}/admin/connections/{}", nav.tenant, form.slug);
    let preset = Preset::parse(&form.preset).unwrap_or(Preset::Oidc);
    let badge = (!form.enabled).then(|| view! { " "<span class="badge warn">"disabled"</span> });
    let flash = nav.flash.as_ref();
    let fields = fields(&form, flash, page.allow_http, &page.issuer);
    let slug = form.slug.clone();
    let at_provider = match &page.saml {
        Some(idp) => saml_sections(&page.issuer, &form, idp),
        None => view! {
            <section aria-labelledby="callback">
                <h2 id="callback">"Callback URL"</h2>
                <p id="callback-hint">"Register this address at the provider as your app's redirect URI (callback URL): the provider sends people back to it after they sign in."</p>
                <p>{copyable("callback-url", callback_url(&page.issuer, &form.slug))}</p>
            </section>
        }
        .into_any(),
    };
    view! {
        <p class="lead"><strong>{form.name.clone()}</strong>" · "{choice_label(preset)}{badge}</p>
        {at_provider}
        <section aria-labelledby="settings">
            <h2 id="settings">"Settings"</h2>
            <p class="muted small">{where_to_register(preset)}</p>
            {console_form!(SaveConnection, nav,
                <input type="hidden" name="connection" value=slug.clone()/>
                <input type="hidden" name="preset" value=form.preset.clone()/>
                {fields}
                <button type="submit" class="button">"Save connection"</button>)}
        </section>
        <section aria-labelledby="delete">
            <h2 id="delete">"Delete"</h2>
            <p id="delete-hint">"Deleting removes its sign-in button and every account's link to this provider. People who sign in only through it lose that way in: they need a password, another connection or an admin's help to sign in again."</p>
            {console_form!(DeleteConnection, nav,
                <input type="hidden" name="connection" value=slug.clone()/>
                <ConfirmBox id="connection-delete".to_string() label=format!("Delete {}: people who sign in only through it lose that way in", form.name)/>
                <button type="submit" class="button danger" aria-describedby="delete-hint">"Delete connection"</button>)}
        </section>
        <p class="muted small">"Saving and deleting ask you to have signed in recently."</p>
        <div class="reauth"><Reauthenticate nav=nav.clone() page=here/></div>
    }
}

/// An address to copy into the provider's settings, with a Copy button (shown by the script).
fn copyable(id: &'static str, text: String) -> impl IntoView {
    view! {
        <code class="copyable" id=id>{text}</code>
        " "<button type="button" class="button small-button" data-copy=id hidden=true>"Copy"</button>
    }
}

/// What the SAML identity provider needs of Tessera, and what Tessera read from its metadata.
fn saml_sections(issuer: &str, form: &ConnectionForm, idp: &SamlProvider) -> AnyView {
    let certificates = idp
        .certificates
        .iter()
        .map(|(subject, until)| view! { <li>{subject.clone()}<span class="muted small">" · valid until "{until.clone()}</span></li> })
        .collect_view();
    view! {
        <section aria-labelledby="sp">
            <h2 id="sp">"Tessera at the identity provider"</h2>
            <p>"Register Tessera as a service provider (an \"application\" or \"relying party\") with its metadata URL, or with these values:"</p>
            <dl class="facts">
                <dt>"Metadata URL"</dt><dd>{copyable("sp-metadata-url", sp_metadata_url(issuer, &form.slug))}</dd>
                <dt>"Entity ID (audience)"</dt><dd>{copyable("sp-entity-id", form.client_id.clone())}</dd>
                <dt>"Assertion consumer service (HTTP-POST)"</dt><dd>{copyable("sp-acs-url", acs_url(issuer, &form.slug))}</dd>
            </dl>
        </section>
        <section aria-labelledby="idp">
            <h2 id="idp">"The identity provider"</h2>
            <dl class="facts">
                <dt>"Entity ID"</dt><dd><code>{idp.entity_id.clone()}</code></dd>
                <dt>"Single sign-on (HTTP-Redirect)"</dt><dd><code>{idp.sso_url.clone()}</code></dd>
                <dt>"Signing certificates"</dt><dd><ul class="plain">{certificates}</ul></dd>
            </dl>
            <p class="muted small">"When the provider rolls its signing key over, paste its new metadata below."</p>
        </section>
    }
    .into_any()
}

/// A new connection's form: the big providers' names filled in.
fn new_form(preset: Preset) -> ConnectionForm {
    let (slug, name) = match preset {
        Preset::Google => ("google", "Google"),
        Preset::Microsoft => ("microsoft", "Microsoft"),
        Preset::GitHub => ("github", "GitHub"),
        Preset::Oidc | Preset::OAuth2 | Preset::Saml => ("", ""),
    };
    ConnectionForm {
        preset: preset.as_str().into(),
        slug: slug.into(),
        name: name.into(),
        enabled: true,
        ..ConnectionForm::default()
    }
}

fn choice_label(preset: Preset) -> String {
    if preset.maps_claims() {
        format!("Any {}", preset.label())
    } else {
        preset.label().to_owned()
    }
}

fn choice_help(preset: Preset) -> &'static str {
    match preset {
        Preset::Google => "Google accounts, including Google Workspace.",
        Preset::Microsoft => "Work accounts of one Microsoft Entra ID (Azure AD) directory.",
        Preset::GitHub => "GitHub accounts.",
        Preset::Oidc => "Okta, Auth0, Keycloak, another Tessera or any provider with an issuer and OpenID Connect discovery.",
        Preset::OAuth2 => "A provider without OpenID Connect: you give its authorization, token and userinfo addresses.",
        Preset::Saml => "Your company's directory through SAML 2.0: ADFS, Entra ID, Okta, Shibboleth, Keycloak and others. You paste its metadata.",
    }
}

/// How to register Tessera at the provider, and where its client id and secret are then.
fn where_to_register(preset: Preset) -> &'static str {
    match preset {
        Preset::Google => "In the Google Cloud console, open APIs & Services → Credentials → Create credentials → OAuth client ID, of type \"Web application\", and add the callback URL below as an authorised redirect URI. Google then shows the client ID (it ends in .apps.googleusercontent.com) and the client secret.",
        Preset::Microsoft => "In the Microsoft Entra admin center, open App registrations → New registration, choose \"Accounts in this organizational directory only\" and add the callback URL below as a Web redirect URI. The app's Overview shows the Application (client) ID and the Directory (tenant) ID; make a client secret under Certificates & secrets and copy its Value (not its Secret ID).",
        Preset::GitHub => "On GitHub, open Settings → Developer settings → OAuth Apps → New OAuth App (for an organisation: the organisation's Settings → Developer settings), and give the callback URL below as the Authorization callback URL. GitHub shows the Client ID; \"Generate a new client secret\" makes the secret.",
        Preset::Oidc => "Register Tessera at the provider as a web application with the callback URL below as its redirect URI, using the authorization code flow. The provider gives a client ID, and a client secret unless it registers Tessera as a public client (which then proves itself with PKCE alone).",
        Preset::OAuth2 => "Register Tessera at the provider as an application with the callback URL below as its redirect URI, using the authorization code flow. The provider's documentation names its authorization, token and userinfo addresses; it gives a client ID, and usually a client secret.",
        Preset::Saml => "Download the identity provider's metadata (an XML document; ADFS and Entra ID call it \"Federation metadata\") and paste it below. Once the connection is added, its page shows Tessera's metadata URL, entity ID and assertion consumer service to register at the provider. Tessera wants signed assertions, with the person's email address as an attribute.",
    }
}

/// A text field of the form: its id, the name the server's rules give it, its label and hint.
struct Text {
    id: &'static str,
    name: &'static str,
    label: &'static str,
    hint: String,
    required: bool,
}

impl Text {
    fn new(
        id: &'static str,
        name: &'static str,
        label: &'static str,
        hint: impl Into<String>,
    ) -> Self {
        Self {
            id,
            name,
            label,
            hint: hint.into(),
            required: true,
        }
    }

    fn optional(self) -> Self {
        Self {
            required: false,
            ..self
        }
    }

    /// The field holding `value`, checked as typed by `rule`; the server's refusal shows next
    /// to it and puts the focus on it.
    fn view<T>(
        self,
        value: String,
        flash: Option<&Flash>,
        rule: impl Fn(&str) -> Result<T, Invalid> + Send + Sync + 'static,
    ) -> AnyView {
        let check = Checked::new(self.id, self.name, flash, rule);
        let hint_id = format!("{}-hint", self.id);
        let refused = flash.and_then(|f| f.about(self.name)).is_some();
        view! {
            <label for=self.id>{self.label}</label>
            <p class="muted small" id=hint_id.clone()>{self.hint}</p>
            <input id=self.id type="text" name=self.name value=value required=self.required maxlength="2000"
                autocomplete="off" spellcheck="false" autocapitalize="off" autofocus=refused
                aria-describedby=format!("{hint_id} {}", check.note_id()) aria-invalid=check.invalid() on:input=check.on_input()/>
            {check.note()}
        }
        .into_any()
    }
}

/// Every field of a connection of `form.preset`, and only those it uses.
fn fields(form: &ConnectionForm, flash: Option<&Flash>, allow_http: bool, issuer: &str) -> AnyView {
    let preset = Preset::parse(&form.preset).unwrap_or(Preset::Oidc);
    let name = Text::new(
        "connection-name",
        "name",
        "Name",
        "What the sign-in button says: \"Continue with …\".",
    )
    .view(form.name.clone(), flash, check_name);
    view! {
        {name}
        {slug_field(form, flash, issuer, preset)}
        {provider_fields(preset, form, flash, allow_http)}
        {client_fields(preset, form, flash)}
        {claim_fields(preset, form, flash)}
        {Text::new("connection-domains", "domains", "Email domains (optional)",
            "People whose email address is at one of these domains (such as example.com) go straight to this provider from the sign-in page. Separate them with spaces or commas. A domain belongs to one connection only.")
            .optional().view(form.domains.clone(), flash, check_domains)}
        <div class="check">
            <input id="connection-provisioning" type="checkbox" name="provisioning" checked=form.provisioning aria-describedby="connection-provisioning-hint"/>
            <label for="connection-provisioning">"Create an account for someone signing in this way for the first time"</label>
        </div>
        <p class="muted small" id="connection-provisioning-hint">"When this is off, only people who already have an account here can sign in this way."</p>
        <div class="check">
            <input id="connection-enabled" type="checkbox" name="enabled" checked=form.enabled aria-describedby="connection-enabled-hint"/>
            <label for="connection-enabled">"Enabled"</label>
        </div>
        <p class="muted small" id="connection-enabled-hint">"A disabled connection keeps its settings and links, but shows no button and lets nobody sign in."</p>
    }
    .into_any()
}

/// The slug, with the callback URL (SAML: the assertion consumer service) it makes, kept up to
/// date as it is typed.
fn slug_field(
    form: &ConnectionForm,
    flash: Option<&Flash>,
    issuer: &str,
    preset: Preset,
) -> AnyView {
    let check = Checked::new("connection-slug", "slug", flash, check_slug);
    let typed = check.typed();
    let (issuer, start) = (issuer.to_owned(), form.slug.clone());
    let address = if preset.is_oauth() {
        callback_url
    } else {
        acs_url
    };
    let callback = move || {
        let slug = typed.get().unwrap_or_else(|| start.clone());
        let slug = slug.trim();
        address(&issuer, if slug.is_empty() { "short-name" } else { slug })
    };
    let what = if preset.is_oauth() {
        "the callback URL"
    } else {
        "the assertion consumer service"
    };
    let refused = flash.and_then(|f| f.about("slug")).is_some();
    view! {
        <label for="connection-slug">"Short name"</label>
        <p class="muted small" id="connection-slug-hint">"Lower-case letters, digits and dashes. It is part of "{what}" to register at the provider, so changing it later means registering the new one there: "
            <code class="copyable" id="connection-callback">{callback}</code>
            " "<button type="button" class="button small-button" data-copy="connection-callback" hidden=true>"Copy"</button></p>
        <input id="connection-slug" type="text" name="slug" value=form.slug.clone() required maxlength="40"
            autocomplete="off" spellcheck="false" autocapitalize="off" autofocus=refused
            aria-describedby=format!("connection-slug-hint {}", check.note_id()) aria-invalid=check.invalid() on:input=check.on_input()/>
        {check.note()}
    }
    .into_any()
}

/// Where the provider is: fixed for Google and GitHub.
fn provider_fields(
    preset: Preset,
    form: &ConnectionForm,
    flash: Option<&Flash>,
    allow_http: bool,
) -> Option<AnyView> {
    let url = |id, name, label, what: &'static str, hint: &'static str, value: &String| {
        Text::new(id, name, label, hint).view(value.clone(), flash, move |raw| {
            check_url(raw, name, what, allow_http)
        })
    };
    match preset {
        Preset::Google | Preset::GitHub => None,
        Preset::Microsoft => Some(
            Text::new("connection-directory", "directory", "Directory (tenant) ID",
                "The GUID shown as \"Directory (tenant) ID\" on the app's Overview in the Entra admin center. \"common\" and \"organizations\" are refused: their ID tokens name each directory's own issuer, so Tessera could not check who issued them.")
                .view(form.directory.clone(), flash, check_directory),
        ),
        Preset::Oidc => Some(url(
            "connection-issuer",
            "issuer",
            "Issuer",
            "The issuer",
            "The provider's issuer exactly as its ID tokens give it (their \"iss\"), such as https://idp.example.com: its discovery document is found below it at /.well-known/openid-configuration.",
            &form.issuer,
        )),
        Preset::OAuth2 => Some(
            view! {
                {url("connection-authorization-endpoint", "authorization_endpoint", "Authorization endpoint", "The authorization endpoint",
                    "Where people are sent to sign in and allow Tessera, such as https://idp.example.com/oauth/authorize.", &form.authorization_endpoint)}
                {url("connection-token-endpoint", "token_endpoint", "Token endpoint", "The token endpoint",
                    "Where Tessera exchanges the code for an access token.", &form.token_endpoint)}
                {url("connection-userinfo-endpoint", "userinfo_endpoint", "Userinfo endpoint", "The userinfo endpoint",
                    "What answers with the person's details (as JSON) for that access token.", &form.userinfo_endpoint)}
            }
            .into_any(),
        ),
        Preset::Saml => Some(metadata_field(form, flash)),
    }
}

/// The identity provider's metadata XML: required for a new connection, and on a change only
/// to replace what was read from it (a new signing key).
fn metadata_field(form: &ConnectionForm, flash: Option<&Flash>) -> AnyView {
    let new = form.client_id.is_empty();
    let check = Checked::new(
        "connection-metadata",
        "metadata",
        flash,
        move |raw: &str| {
            if new && raw.trim().is_empty() {
                Err(Invalid::new("Paste the identity provider's metadata.").on("metadata"))
            } else {
                Ok(())
            }
        },
    );
    let hint = if new {
        "The XML document that starts with <EntityDescriptor>: Tessera reads the provider's entity ID, its single sign-on address and its signing certificates from it."
    } else {
        "Leave it empty to keep the provider as shown above, or paste its new metadata."
    };
    let refused = flash.and_then(|f| f.about("metadata")).is_some();
    view! {
        <label for="connection-metadata">"Identity provider metadata (XML)"</label>
        <p class="muted small" id="connection-metadata-hint">{hint}</p>
        <textarea id="connection-metadata" name="metadata" rows="8" required=new spellcheck="false" autofocus=refused
            aria-describedby=format!("connection-metadata-hint {}", check.note_id()) aria-invalid=check.invalid() on:input=check.on_input()>
            {form.metadata.clone()}
        </textarea>
        {check.note()}
    }
    .into_any()
}

/// The client id, secret and scopes Tessera uses at the provider; for SAML, the entity id it
/// goes by there.
fn client_fields(preset: Preset, form: &ConnectionForm, flash: Option<&Flash>) -> AnyView {
    if !preset.is_oauth() {
        return Text::new(
            "connection-client-id",
            "client_id",
            "Entity ID (optional)",
            "The name Tessera goes by at the identity provider (the audience of its assertions). Empty: Tessera's metadata URL, which most providers expect.",
        )
        .optional()
        .view(form.client_id.clone(), flash, |raw| match raw.trim() {
            "" => Ok(String::new()),
            _ => check_client_id(raw),
        });
    }
    let client_id = Text::new(
        "connection-client-id",
        "client_id",
        "Client ID",
        format!(
            "The client ID {} shows for the app you registered.",
            preset.label()
        ),
    )
    .view(form.client_id.clone(), flash, check_client_id);
    let secret = Checked::new(
        "connection-secret",
        "client_secret",
        flash,
        check_client_secret,
    );
    let secret_hint = match (form.has_secret, preset.needs_secret()) {
        (true, _) => "A secret is kept (it is never shown). Leave this empty to keep it, or give the new one.",
        (false, true) => "The client secret the provider made for the app. It is stored encrypted and never shown again.",
        (false, false) => "Leave it empty if the provider registered Tessera as a public client (PKCE only). A secret is stored encrypted and never shown again.",
    };
    let refused = flash.and_then(|f| f.about("client_secret")).is_some();
    let secret_required = preset.needs_secret() && !form.has_secret;
    let scopes_hint = match preset.default_scopes() {
        "" => {
            "Separated by spaces; what the provider needs to answer with the person's id and email."
                .to_owned()
        }
        defaults => format!("Separated by spaces. Empty: {defaults}."),
    };
    let scopes = Text::new("connection-scopes", "scopes", "Scopes", scopes_hint)
        .optional()
        .view(form.scopes.clone(), flash, check_scopes);
    view! {
        {client_id}
        <label for="connection-secret">"Client secret"</label>
        <p class="muted small" id="connection-secret-hint">{secret_hint}</p>
        <input id="connection-secret" type="password" name="client_secret" maxlength="1000"
            autocomplete="new-password" required=secret_required autofocus=refused
            aria-describedby=format!("connection-secret-hint {}", secret.note_id()) aria-invalid=secret.invalid() on:input=secret.on_input()/>
        {secret.note()}
        {scopes}
    }
    .into_any()
}

/// Which claims carry the identity, for the generic providers (the presets know theirs).
fn claim_fields(preset: Preset, form: &ConnectionForm, flash: Option<&Flash>) -> Option<AnyView> {
    if !preset.maps_claims() {
        return None;
    }
    let saml = preset == Preset::Saml;
    let defaults = if saml {
        ClaimMapping::saml()
    } else {
        ClaimMapping::default()
    };
    let claim = move |id, name: &'static str, label, default: &str, value: &String| {
        Text::new(id, name, label, format!("Empty: {default}."))
            .optional()
            .view(value.clone(), flash, move |raw| match raw.trim() {
                "" => Ok(String::new()),
                _ if saml => check_attribute(raw, name),
                _ => check_claim(raw, name),
            })
    };
    let (legend, hint) = if saml {
        ("Attributes (optional)", "Which attributes of the assertion hold the person's email address, whether it is verified, and name (by Name or FriendlyName), and what identifies them: the NameID (it must be persistent), or an attribute.")
    } else {
        ("Claims (optional)", "Which claims of the provider's ID token or userinfo answer hold the person's stable id, email address, whether that address is verified, and name.")
    };
    Some(view! {
        <fieldset class="picker" aria-describedby="connection-claims-hint">
            <legend>{legend}</legend>
            <p class="muted small" id="connection-claims-hint">{hint}</p>
            {claim("connection-subject-claim", "subject_claim", "Id", &defaults.subject, &form.subject_claim)}
            {claim("connection-email-claim", "email_claim", "Email", &defaults.email, &form.email_claim)}
            {claim("connection-email-verified-claim", "email_verified_claim", "Email verified", &defaults.email_verified, &form.email_verified_claim)}
            {claim("connection-name-claim", "name_claim", "Name", &defaults.name, &form.name_claim)}
        </fieldset>
    }
    .into_any())
}
