use super::{query_param, tenant_param, Alert, Card, Loading};
use crate::app::api::{load_home_page, HomeView, SignOut};
use crate::app::pages::error::PageError;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn HomePage() -> impl IntoView {
    let tenant = tenant_param();
    let data = Resource::new(move || tenant.get(), load_home_page);
    view! {
        <Suspense fallback=Loading>
            {move || data.get().map(|view| match view {
                Ok(view) => view! { <Home view tenant=tenant.get_untracked()/> }.into_any(),
                Err(e) => view! { <PageError error=e/> }.into_any(),
            })}
        </Suspense>
    }
}

#[component]
fn Home(view: HomeView, tenant: String) -> impl IntoView {
    let error = query_param("error");
    let body = match view.signed_in_as {
        Some(email) => {
            let action = ServerAction::<SignOut>::new();
            view! {
                <p>"You are signed in as " <strong>{email}</strong>"."</p>
                <ActionForm action>
                    <input type="hidden" name="tenant" value=tenant/>
                    <input type="hidden" name="csrf" value=view.csrf/>
                    <button type="submit" class="button">"Sign out"</button>
                </ActionForm>
            }
            .into_any()
        }
        None => view! {
            <p>"You are not signed in."</p>
            <p><a class="button primary" href=format!("/t/{tenant}/login")>"Sign in"</a></p>
        }
        .into_any(),
    };
    view! {
        <Title text=view.tenant_name.clone()/>
        <Card>
            <h1>{view.tenant_name}</h1>
            <Alert code=error/>
            {body}
        </Card>
    }
}
