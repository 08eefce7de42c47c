//! `/t/{tenant}/device`: where a person enters the code a TV or command-line tool shows
//! (RFC 8628 §3.3), signs in, and allows or denies it.

use super::{query_param, tenant_param, Alert, Card, Loading};
use crate::app::api::{load_device_page, DeviceDecide, DeviceSignIn, DeviceStep, DeviceView};
use crate::app::pages::error::PageError;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn DevicePage() -> impl IntoView {
    let tenant = tenant_param();
    let user_code = query_param("user_code");
    let done = query_param("done");
    let data = Resource::new(
        move || (tenant.get(), user_code.get(), done.get()),
        |(t, c, d)| load_device_page(t, c, d),
    );
    view! {
        <Title text="Connect a device"/>
        <Suspense fallback=Loading>
            {move || data.get().map(|view| match view {
                Ok(view) => view! { <DeviceCard view tenant=tenant.get_untracked()/> }.into_any(),
                Err(e) => view! { <PageError error=e/> }.into_any(),
            })}
        </Suspense>
    }
}

#[component]
fn DeviceCard(view: DeviceView, tenant: String) -> impl IntoView {
    let error = query_param("error");
    let typed = query_param("user_code");
    let body = match view.step.clone() {
        DeviceStep::EnterCode => {
            let error = Memo::new(move |_| {
                let code = error.get();
                if code.is_empty() && !typed.get().is_empty() {
                    "invalid_code".to_string()
                } else {
                    code
                }
            });
            view! { <Alert code=error/> <EnterCode tenant/> }.into_any()
        }
        DeviceStep::SignIn => view! {
            <Alert code=error/>
            <SignIn view=view.clone() tenant/>
        }
        .into_any(),
        DeviceStep::Confirm { client_name, user_email, scopes } => {
            let action = ServerAction::<DeviceDecide>::new();
            let scopes = scopes
                .into_iter()
                .map(|s| view! { <li><span class="scope-text">{s.description}</span></li> })
                .collect_view();
            view! {
                <p class="identity"><span class="muted">"Signed in as "</span><strong>{user_email}</strong></p>
                <Alert code=error/>
                <p>{format!("{client_name} on your device asks to:")}</p>
                <ul class="scopes">{scopes}</ul>
                <p>"Allow it only if your device shows this code:"</p>
                <p class="user-code" aria-label="Code">{view.user_code.clone()}</p>
                <ActionForm action>
                    <input type="hidden" name="tenant" value=tenant/>
                    <input type="hidden" name="user_code" value=view.user_code.clone()/>
                    <input type="hidden" name="csrf" value=view.csrf.clone()/>
                    <div class="actions">
                        <button type="submit" name="decision" value="deny" class="button">"Deny"</button>
                        <button type="submit" name="decision" value="allow" class="button primary">"Allow"</button>
                    </div>
                </ActionForm>
            }
            .into_any()
        }
        DeviceStep::Done { approved: true } => view! {
            <p role="status">"Your device is connected. You can return to it now; this page can be closed."</p>
        }
        .into_any(),
        DeviceStep::Done { approved: false } => view! {
            <p role="status">"You denied the request. Your device was not given access."</p>
        }
        .into_any(),
    };
    view! {
        <Card>
            <p class="eyebrow">{view.tenant_name}</p>
            <h1>"Connect a device"</h1>
            {body}
        </Card>
    }
}

/// A plain GET form: the code travels in the URL, so the page works without JavaScript.
#[component]
fn EnterCode(tenant: String) -> impl IntoView {
    view! {
        <form method="get" action=format!("/t/{tenant}/device")>
            <label for="user_code">"Enter the code shown on your device"</label>
            <input id="user_code" name="user_code" type="text" required autofocus autocomplete="off"
                autocapitalize="characters" spellcheck="false" maxlength="16" placeholder="ABCD-EFGH"
                aria-describedby="form-error"/>
            <button type="submit" class="button primary">"Continue"</button>
        </form>
    }
}

#[component]
fn SignIn(view: DeviceView, tenant: String) -> impl IntoView {
    let action = ServerAction::<DeviceSignIn>::new();
    view! {
        <p>"Sign in to connect the device showing this code:"</p>
        <p class="user-code" aria-label="Code">{view.user_code.clone()}</p>
        <ActionForm action>
            <input type="hidden" name="tenant" value=tenant/>
            <input type="hidden" name="user_code" value=view.user_code/>
            <input type="hidden" name="csrf" value=view.csrf/>
            <button type="submit" class="button primary">"Sign in"</button>
        </ActionForm>
    }
}
