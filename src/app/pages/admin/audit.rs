//! The audit log: filters, cursor pages and exports. Read-only by design.

use super::console_page;
use crate::app::api::{load_admin_audit, AuditFilter, AuditPage, ConsoleNav};
use crate::app::pages::admin::revision;
use crate::app::pages::{query_param, query_string, tenant_param, Loading};
use leptos::prelude::*;

#[component]
pub fn AdminAuditPage() -> impl IntoView {
    let tenant = tenant_param();
    let names = [
        "actor", "target", "action", "result", "from", "until", "before",
    ];
    let [actor, target, action, result, from, until, before] = names.map(query_param);
    let data = Resource::new(
        move || {
            (
                tenant.get(),
                AuditFilter {
                    actor: actor.get(),
                    target: target.get(),
                    action: action.get(),
                    result: result.get(),
                    from: from.get(),
                    until: until.get(),
                    before: before.get(),
                },
                revision(),
            )
        },
        |(t, f, _)| load_admin_audit(t, f),
    );
    view! {
        <Suspense fallback=Loading>
            {move || data.get().map(|loaded| console_page(loaded, "Audit log", "audit", |nav, page| {
                let filter = AuditFilter {
                    actor: actor.get_untracked(),
                    target: target.get_untracked(),
                    action: action.get_untracked(),
                    result: result.get_untracked(),
                    from: from.get_untracked(),
                    until: until.get_untracked(),
                    before: String::new(),
                };
                view! { <Audit nav page filter/> }
            }))}
        </Suspense>
    }
}

#[component]
fn Audit(nav: ConsoleNav, page: AuditPage, filter: AuditFilter) -> impl IntoView {
    let base = format!("/t/{}/admin/audit", nav.tenant);
    let rows = page
        .events
        .iter()
        .map(|e| {
            let result = if e.ok { "success" } else { "failure" };
            view! {
                <tr>
                    <td>{e.at.clone()}</td>
                    <td><code>{e.action.clone()}</code></td>
                    <td>{result}</td>
                    <td title=e.actor.clone()>{e.actor_label.clone()}</td>
                    <td title=e.target.clone()>{e.target_label.clone()}</td>
                    <td>{e.ip.clone()}{(!e.user_agent.is_empty()).then(|| view! {
                        <span class="muted small user-agent" title=e.user_agent.clone()>{e.user_agent.clone()}</span>
                    })}</td>
                    <td>{e.reason.clone()}</td>
                </tr>
            }
        })
        .collect_view();
    let next = page.next.clone().map(|cursor| {
        let query = query_string(&[
            ("actor", &filter.actor),
            ("target", &filter.target),
            ("action", &filter.action),
            ("result", &filter.result),
            ("from", &filter.from),
            ("until", &filter.until),
            ("before", &cursor),
        ]);
        view! { <a class="button small-button" href=format!("{base}?{query}")>"Older events"</a> }
    });
    let sep = if page.query.is_empty() { "" } else { "&" };
    let csv = format!("{base}/export?format=csv{sep}{}", page.query);
    let jsonl = format!("{base}/export?format=jsonl{sep}{}", page.query);
    let result_option = |value: &'static str, label: &'static str| {
        view! { <option value=value selected=filter.result == value>{label}</option> }
    };
    view! {
        <form method="get" action=base.clone() class="filters" role="search" aria-label="Filter the audit log">
            <div><label for="actor">"Actor"</label>
                <input id="actor" type="text" name="actor" value=filter.actor.clone() placeholder="user:…" maxlength="200"/></div>
            <div><label for="target">"Target"</label>
                <input id="target" type="text" name="target" value=filter.target.clone() placeholder="user:…" maxlength="200"/></div>
            <div><label for="action">"Action"</label>
                <input id="action" type="text" name="action" value=filter.action.clone() placeholder="user. or login.password" maxlength="200"/></div>
            <div><label for="result">"Result"</label>
                <select id="result" name="result">
                    {result_option("", "Any")}{result_option("success", "Success")}{result_option("failure", "Failure")}
                </select></div>
            <div><label for="from">"From"</label>
                <input id="from" type="date" name="from" value=filter.from.clone()/></div>
            <div><label for="until">"Until"</label>
                <input id="until" type="date" name="until" value=filter.until.clone()/></div>
            <button type="submit" class="button small-button">"Filter"</button>
        </form>
        <p class="actions start">
            <a class="button small-button" href=csv rel="external" download="">"Export CSV"</a>
            <a class="button small-button" href=jsonl rel="external" download="">"Export JSON Lines"</a>
        </p>
        {if page.events.is_empty() {
            view! { <p class="empty">"No event matches these filters. Clear them to see everything, newest first."</p> }.into_any()
        } else {
            view! {
                <div class="table-wrap" tabindex="0" role="region" aria-label="Audit events"><table>
                    <caption class="visually-hidden">"Audit events, newest first"</caption>
                    <thead><tr><th scope="col">"When"</th><th scope="col">"Action"</th><th scope="col">"Result"</th><th scope="col">"Actor"</th><th scope="col">"Target"</th><th scope="col">"From"</th><th scope="col">"Detail"</th></tr></thead>
                    <tbody>{rows}</tbody>
                </table></div>
            }.into_any()
        }}
        <div class="actions start">{next}</div>
    }
}
