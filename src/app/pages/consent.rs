use super::{query_param, tenant_param, Alert, Card, Loading};
use crate::app::api::{load_consent_page, ConsentView, SubmitConsent};
use crate::app::pages::error::{ErrorCard, PageError};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn ConsentPage() -> impl IntoView {
    let tenant = tenant_param();
    let flow = query_param("flow");
    let data = Resource::new(
        move || (tenant.get(), flow.get()),
        |(t, f)| load_consent_page(t, f),
    );
    view! {
        <Title text="Allow access?"/>
        <Suspense fallback=Loading>
            {move || data.get().map(|view| match view {
                Ok(Some(view)) => view! { <ConsentForm view tenant=tenant.get_untracked()/> }.into_any(),
                Ok(None) => view! {
                    <ErrorCard title="This request has expired".to_string()
                        message="Go back to the application and sign in again.".to_string() request_id=None/>
                }.into_any(),
                Err(e) => view! { <PageError error=e/> }.into_any(),
            })}
        </Suspense>
    }
}

#[component]
fn ConsentForm(view: ConsentView, tenant: String) -> impl IntoView {
    let action = ServerAction::<SubmitConsent>::new();
    let error = query_param("error");
    let scopes = view
        .scopes
        .into_iter()
        .map(|s| view! { <li><span class="scope-text">{s.description}</span></li> })
        .collect_view();
    view! {
        <Card>
            <p class="eyebrow">{view.tenant_name}</p>
            {view.client_logo.map(|src| view! { <img class="client-logo" src=src alt="" width="48" height="48"/> })}
            <h1>{format!("{} wants to access your account", view.client_name)}</h1>
            <p class="identity"><span class="muted">"Signed in as "</span><strong>{view.user_email}</strong></p>
            {view.self_registered.then(|| view! {
                <p class="notice caution" data-testid="self-registered">
                    "This application registered itself: nobody at the organisation has reviewed it. Allow it only if you know it."
                </p>
            })}
            <Alert code=error/>
            <p>"It will be able to:"</p>
            <ul class="scopes">{scopes}</ul>
            <ActionForm action>
                <input type="hidden" name="tenant" value=tenant/>
                <input type="hidden" name="flow" value=view.flow/>
                <input type="hidden" name="csrf" value=view.csrf/>
                <div class="actions">
                    <button type="submit" name="decision" value="deny" class="button">"Deny"</button>
                    <button type="submit" name="decision" value="allow" class="button primary">"Allow"</button>
                </div>
            </ActionForm>
            <p class="muted small">"You can withdraw this permission later."</p>
        </Card>
    }
}
