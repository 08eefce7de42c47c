use super::{tenant_param, Card};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn SignedOutPage() -> impl IntoView {
    let tenant = tenant_param();
    view! {
        <Title text="Signed out"/>
        <Card>
            <h1>"You have signed out"</h1>
            <p>"You can close this window, or sign in again."</p>
            <p><a class="button primary" href=move || format!("/t/{}/login", tenant.get())>"Sign in again"</a></p>
        </Card>
    }
}
