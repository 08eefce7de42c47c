//! Webhooks: endpoints of the organisation's own systems that hear of its events as signed
//! HTTP POSTs. The list with the "add an endpoint" form, and one page per endpoint with its
//! status, settings, secret and delivery log.

use super::{console_form, console_page, ConfirmBox, Reauthenticate};
use crate::app::api::{
    load_admin_webhook, load_admin_webhooks, Choice, ConsoleNav, CreateWebhook, DeleteWebhook,
    DeliveryLine, RedeliverWebhook, RotateWebhookSecret, SendWebhookTest, SetWebhookEnabled,
    UpdateWebhook, WebhookLine, WebhookPage, WebhooksPage,
};
use crate::app::pages::admin::revision;
use crate::app::pages::field::Checked;
use crate::app::pages::{query_param, tenant_param, Loading};
use crate::domain::webhook::check_url;
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

#[component]
pub fn AdminWebhooksPage() -> impl IntoView {
    let tenant = tenant_param();
    let show = query_param("show");
    let data = Resource::new(
        move || (tenant.get(), show.get(), revision()),
        |(t, s, _)| load_admin_webhooks(t, s),
    );
    view! {
        <Suspense fallback=Loading>
            {move || data.get().map(|loaded| console_page(loaded, "Webhooks", "webhooks", |nav, page| view! { <Webhooks nav page/> }))}
        </Suspense>
    }
}

#[component]
pub fn AdminWebhookPage() -> impl IntoView {
    let tenant = tenant_param();
    let params = use_params_map();
    let id = Memo::new(move |_| params.read().get("id").unwrap_or_default());
    let show = query_param("show");
    let data = Resource::new(
        move || (tenant.get(), id.get(), show.get(), revision()),
        |(t, i, s, _)| load_admin_webhook(t, i, s),
    );
    view! {
        <Suspense fallback=Loading>
            {move || data.get().map(|loaded| console_page(loaded, "Webhook endpoint", "webhooks", |nav, page| view! { <Webhook nav page/> }))}
        </Suspense>
    }
}

/// The signing secret, on the one page load after it was made or replaced.
fn secret_box(secret: Option<String>) -> impl IntoView {
    secret.map(|secret| view! {
        <section class="secret-once" aria-labelledby="secret-title">
            <h2 id="secret-title">"Signing secret"</h2>
            <p>"Copy it now and keep it in the receiving system's secret store: it is shown only this once. The receiver uses it to check the "<code>"webhook-signature"</code>" header of each delivery."</p>
            <label for="webhook-secret">"Secret"</label>
            <input id="webhook-secret" type="text" readonly value=secret data-testid="webhook-secret"/>
            <button type="button" class="button small-button" data-copy="webhook-secret" hidden=true>"Copy"</button>
        </section>
    })
}

/// The URL field's rule, as the server runs it.
fn url_check(flash: Option<&crate::app::api::Flash>, allow_http: bool) -> Checked {
    Checked::new("webhook-url", "url", flash, move |raw| {
        check_url(raw, allow_http)
    })
}

fn url_help(allow_http: bool) -> &'static str {
    if allow_http {
        "The address of your receiver, such as https://example.com/hooks/tessera. This installation also allows http:// and private network addresses, for development."
    } else {
        "The address of your receiver, such as https://example.com/hooks/tessera. It must start with https:// and be reachable from the internet."
    }
}

/// The event types to choose from, ticked where `chosen` has them; `note` shows the server's
/// refusal of the choice.
fn event_picker(
    prefix: &'static str,
    events: &[Choice],
    chosen: &[String],
    note: &Checked,
) -> impl IntoView {
    let boxes = events
        .iter()
        .map(|e| {
            let id = format!("{prefix}-{}", e.value.replace(['.', '_'], "-"));
            let checked = chosen.contains(&e.value);
            view! {
                <li>
                    <input type="checkbox" id=id.clone() name="events[]" value=e.value.clone() checked=checked/>
                    <label for=id><code>{e.value.clone()}</code>" "<span class="muted">{e.label.clone()}</span></label>
                </li>
            }
        })
        .collect_view();
    view! {
        <fieldset class="picker events" aria-describedby=note.note_id()>
            <legend>"Events to send (choose at least one)"</legend>
            <ul>{boxes}</ul>
        </fieldset>
        {note.note()}
    }
}

#[component]
fn Webhooks(nav: ConsoleNav, page: WebhooksPage) -> impl IntoView {
    let base = format!("/t/{}/admin/webhooks", nav.tenant);
    let rows = page
        .endpoints
        .iter()
        .map(|e| {
            let failing = e.failing_since.clone().map(|since| {
                view! { <br/><span class="small warn-text">"Failing since "{since}</span> }
            });
            let description = (!e.description.is_empty()).then(|| {
                view! { <br/><span class="muted small">{e.description.clone()}</span> }
            });
            let events = match e.events.len() {
                1 => e.events[0].clone(),
                n if n <= 3 => e.events.join(", "),
                n => format!("{}, and {} more", e.events[..2].join(", "), n - 2),
            };
            view! {
                <tr>
                    <td class="text"><a href=format!("{base}/{}", e.id)><code>{e.url.clone()}</code></a>{description}</td>
                    <td class="text small" title=e.events.join(", ")>{events}</td>
                    <td class="text">{e.status.clone()}{failing}</td>
                    <td class="small">{e.created.clone()}</td>
                </tr>
            }
        })
        .collect_view();
    let list = if page.endpoints.is_empty() {
        view! { <p class="empty">"No endpoints yet. Add one below: Tessera will send it the events you choose as they happen."</p> }.into_any()
    } else {
        view! {
            <div class="table-wrap" tabindex="0" role="region" aria-label="Webhook endpoints"><table>
                <caption class="visually-hidden">"Webhook endpoints"</caption>
                <thead><tr><th scope="col">"Endpoint"</th><th scope="col">"Events"</th><th scope="col">"Status"</th><th scope="col">"Added"</th></tr></thead>
                <tbody>{rows}</tbody>
            </table></div>
        }
        .into_any()
    };
    let flash = nav.flash.as_ref();
    let url = url_check(flash, page.allow_http);
    let description = Checked::server_only("webhook-description", "description", flash);
    let events_note = Checked::server_only("webhook-events", "events", flash);
    let picker = event_picker("new-event", &page.events, &[], &events_note);
    view! {
        {secret_box(page.secret.clone())}
        <p class="muted small">"A webhook endpoint is an address of one of your systems that Tessera tells about sign-ins and changes in this organisation as they happen. Each event is sent as a JSON POST signed with the "<a href="https://www.standardwebhooks.com/" rel="external">"Standard Webhooks"</a>" scheme ("<code>"webhook-id"</code>", "<code>"webhook-timestamp"</code>" and "<code>"webhook-signature"</code>" headers). A failed delivery is tried again for up to a day, and an endpoint that keeps failing is disabled automatically."</p>
        {list}
        <section aria-labelledby="new-endpoint">
            <h2 id="new-endpoint">"Add an endpoint"</h2>
            <p class="muted small" id="new-endpoint-help">"Each endpoint gets its own signing secret (it starts with "<code>"whsec_"</code>"). It is shown only once, right after the endpoint is added: keep it in the receiving system's secret store. You may be asked to confirm it is you."</p>
            {console_form!(CreateWebhook, nav,
                <label for="webhook-url">"Endpoint URL"</label>
                <p class="muted small" id="webhook-url-help">{url_help(page.allow_http)}</p>
                <input id="webhook-url" type="url" name="url" required maxlength="2000" inputmode="url"
                    placeholder="https://example.com/hooks/tessera" autocomplete="off"
                    aria-describedby=format!("webhook-url-help {}", url.note_id()) aria-invalid=url.invalid() on:input=url.on_input()/>
                {url.note()}
                <label for="webhook-description">"Description (optional)"</label>
                <input id="webhook-description" type="text" name="description" maxlength="200"
                    placeholder="Directory sync" aria-describedby=description.note_id() aria-invalid=description.invalid()/>
                {description.note()}
                {picker}
                <button type="submit" class="button primary">"Add endpoint"</button>)}
            <div class="reauth"><Reauthenticate nav=nav.clone() page=base.clone()/></div>
        </section>
    }
}

#[component]
fn Webhook(nav: ConsoleNav, page: WebhookPage) -> impl IntoView {
    let endpoint: WebhookLine = page.endpoint.clone();
    let here = format!("/t/{}/admin/webhooks/{}", nav.tenant, endpoint.id);
    let id = endpoint.id.clone();
    let toggle = |enabled: bool, label: &'static str, class: &'static str| {
        console_form!(SetWebhookEnabled, nav,
            <input type="hidden" name="id" value=id.clone()/>
            <input type="hidden" name="enabled" value=enabled.to_string()/>
            <button type="submit" class=class>{label}</button>)
    };
    let automatically = endpoint.disabled_reason.clone().map(|reason| {
        view! {
            <section class="alert" aria-labelledby="auto-disabled">
                <h2 id="auto-disabled">"Tessera disabled this endpoint"</h2>
                <p>{reason}</p>
                <p>"No events are sent to it now. Fix the receiver, check it with “Send a test event”, then enable the endpoint again: its failures are counted afresh."</p>
                <div class="actions start">{toggle(true, "Enable it again", "button primary small-button")}</div>
            </section>
        }
    });
    // An endpoint Tessera disabled is enabled from the notice above, which says why.
    let switch = endpoint.disabled_reason.is_none().then(|| {
        if endpoint.enabled {
            toggle(false, "Disable", "button small-button danger")
        } else {
            toggle(true, "Enable", "button small-button")
        }
    });
    let badge = if endpoint.enabled {
        view! { <span class="badge">"enabled"</span> }.into_any()
    } else {
        view! { <span class="badge warn">"disabled"</span> }.into_any()
    };
    let failing = endpoint.failing_since.clone().map(|since| {
        view! { <dt>"Failing since"</dt><dd class="warn-text">{since}" (no delivery has succeeded since)"</dd> }
    });
    let description = (!endpoint.description.is_empty())
        .then(|| view! { <p class="muted">{endpoint.description.clone()}</p> });
    let log = delivery_log(&nav, &id, &page.deliveries);
    let flash = nav.flash.as_ref();
    let url = url_check(flash, page.allow_http);
    let about = Checked::server_only("webhook-description", "description", flash);
    let events_note = Checked::server_only("webhook-events", "events", flash);
    let picker = event_picker("edit-event", &page.events, &endpoint.events, &events_note);
    view! {
        <p class="lead"><code>{endpoint.url.clone()}</code>{badge}</p>
        {description}
        {secret_box(page.secret.clone())}
        {automatically}
        <section aria-labelledby="status">
            <h2 id="status">"Status"</h2>
            <dl class="facts">
                <dt>"Status"</dt><dd>{endpoint.status.clone()}</dd>
                {failing}
                <dt>"Events"</dt><dd>{endpoint.events.join(", ")}</dd>
                <dt>"Added"</dt><dd>{endpoint.created.clone()}</dd>
                <dt>"Last changed"</dt><dd>{endpoint.updated.clone()}</dd>
            </dl>
            <div class="actions start">
                {switch}
                {console_form!(SendWebhookTest, nav,
                    <input type="hidden" name="id" value=id.clone()/>
                    <button type="submit" class="button small-button">"Send a test event"</button>)}
            </div>
            <p class="muted small">"A test event ("<code>"webhook.test"</code>") is sent even while the endpoint is disabled, so you can check a receiver before turning it back on."</p>
        </section>
        <section aria-labelledby="deliveries">
            <h2 id="deliveries">"Delivery log"</h2>
            <p class="muted small">"The latest attempts, newest first. A failed delivery is tried again with the same message id; “Redeliver” sends a message once more, so a receiver that handled it already can tell. "
                <a href=here.clone()>"Refresh the log"</a></p>
            {log}
        </section>
        <section aria-labelledby="settings">
            <h2 id="settings">"Settings"</h2>
            {console_form!(UpdateWebhook, nav,
                <input type="hidden" name="id" value=id.clone()/>
                <label for="webhook-url">"Endpoint URL"</label>
                <p class="muted small" id="webhook-url-help">{url_help(page.allow_http)}</p>
                <input id="webhook-url" type="url" name="url" value=endpoint.url.clone() required maxlength="2000" inputmode="url" autocomplete="off"
                    aria-describedby=format!("webhook-url-help {}", url.note_id()) aria-invalid=url.invalid() on:input=url.on_input()/>
                {url.note()}
                <label for="webhook-description">"Description (optional)"</label>
                <input id="webhook-description" type="text" name="description" value=endpoint.description.clone() maxlength="200"
                    aria-describedby=about.note_id() aria-invalid=about.invalid()/>
                {about.note()}
                {picker}
                <button type="submit" class="button">"Save endpoint"</button>)}
        </section>
        <section aria-labelledby="secret">
            <h2 id="secret">"Signing secret"</h2>
            <p class="muted small">"A new secret replaces the old one at once: deliveries from then on are signed with it only, so update the receiver right away. It is shown once. You may be asked to confirm it is you."</p>
            <div class="actions start">
                {console_form!(RotateWebhookSecret, nav,
                    <input type="hidden" name="id" value=id.clone()/>
                    <button type="submit" class="button small-button">"Rotate secret"</button>)}
            </div>
            <div class="reauth"><Reauthenticate nav=nav.clone() page=here.clone()/></div>
        </section>
        <section aria-labelledby="delete">
            <h2 id="delete">"Delete"</h2>
            {console_form!(DeleteWebhook, nav,
                <input type="hidden" name="id" value=id.clone()/>
                <ConfirmBox id="webhook-delete".to_string() label="Delete this endpoint and its delivery log: no more events are sent to it".to_string()/>
                <button type="submit" class="button danger">"Delete endpoint"</button>)}
        </section>
    }
}

/// The delivery log as a table, each attempt with a "Redeliver" button.
fn delivery_log(nav: &ConsoleNav, endpoint: &str, deliveries: &[DeliveryLine]) -> AnyView {
    if deliveries.is_empty() {
        return view! {
            <p class="empty">"No deliveries yet. The events this endpoint receives, and test events, appear here with the receiver's answer."</p>
        }
        .into_any();
    }
    let rows = deliveries
        .iter()
        .map(|d| {
            let result = if d.succeeded {
                view! { <span class="badge">"Delivered"</span> }.into_any()
            } else {
                view! { <span class="badge warn">"Failed"</span> }.into_any()
            };
            let redeliver = console_form!(RedeliverWebhook, nav,
                <input type="hidden" name="id" value=endpoint.to_owned()/>
                <input type="hidden" name="attempt" value=d.id.clone()/>
                <button type="submit" class="button small-button">"Redeliver"
                    <span class="visually-hidden">{format!(" {} (attempt {} at {})", d.event_type, d.attempt, d.at)}</span></button>);
            // The day above the time, to keep the column narrow.
            let (day, time) = d.at.split_once(' ').unwrap_or((d.at.as_str(), ""));
            view! {
                <tr>
                    <td class="small">{day.to_owned()}<br/>{time.to_owned()}</td>
                    <td><code>{d.event_type.clone()}</code><br/><code class="small">{d.message_id.clone()}</code></td>
                    <td>{d.attempt}</td>
                    <td>{result}</td>
                    <td>{d.status.clone()}</td>
                    <td>{format!("{} ms", d.latency_ms)}</td>
                    <td>{redeliver}</td>
                    <td class="text small response">{d.response.clone()}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-wrap" tabindex="0" role="region" aria-label="Delivery log"><table>
            <caption class="visually-hidden">"Delivery log, newest first"</caption>
            <thead><tr>
                <th scope="col">"Time"</th>
                <th scope="col">"Event and message id"</th>
                <th scope="col">"Attempt"</th>
                <th scope="col">"Result"</th>
                <th scope="col">"HTTP status"</th>
                <th scope="col">"Latency"</th>
                <th scope="col"><span class="visually-hidden">"Action"</span></th>
                <th scope="col">"Start of the response"</th>
            </tr></thead>
            <tbody>{rows}</tbody>
        </table></div>
    }
    .into_any()
}
