use super::{query_param, tenant_param, Alert, Card, Loading};
use crate::app::api::{load_login_page, LoginStep, LoginView, SubmitEmail, SubmitPassword};
use crate::app::pages::error::NotFound;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn LoginPage() -> impl IntoView {
    let tenant = tenant_param();
    let flow = query_param("flow");
    let data = Resource::new(
        move || (tenant.get(), flow.get()),
        |(t, f)| load_login_page(t, f),
    );
    view! {
        <Title text="Sign in"/>
        <Suspense fallback=Loading>
            {move || data.get().map(|view| match view {
                Ok(view) => view! { <LoginForm view tenant=tenant.get_untracked()/> }.into_any(),
                Err(_) => view! { <NotFound/> }.into_any(),
            })}
        </Suspense>
    }
}

#[component]
fn LoginForm(view: LoginView, tenant: String) -> impl IntoView {
    let error = query_param("error");
    let wait = query_param("wait");
    let heading = match &view.client_name {
        Some(client) => format!("Sign in to continue to {client}"),
        None => format!("Sign in to {}", view.tenant_name),
    };
    let change_email = query_param("change").get_untracked() == "email";
    let form = match view.step.clone() {
        LoginStep::Password { email } if !change_email => {
            view! { <PasswordForm view=view.clone() tenant=tenant.clone() email/> }.into_any()
        }
        _ => view! { <IdentifyForm view=view.clone() tenant=tenant.clone()/> }.into_any(),
    };
    view! {
        <Card>
            <p class="eyebrow">{view.tenant_name.clone()}</p>
            <h1>{heading}</h1>
            <Alert code=error wait/>
            {form}
        </Card>
    }
}

#[component]
fn IdentifyForm(view: LoginView, tenant: String) -> impl IntoView {
    let action = ServerAction::<SubmitEmail>::new();
    view! {
        <ActionForm action>
            <input type="hidden" name="tenant" value=tenant/>
            <input type="hidden" name="flow" value=view.flow/>
            <input type="hidden" name="csrf" value=view.csrf/>
            <label for="email">"Email address"</label>
            <input id="email" name="email" type="email" autocomplete="username" required maxlength="254"
                autofocus aria-describedby="form-error" value=view.email_hint/>
            <button type="submit" class="button primary">"Continue"</button>
        </ActionForm>
    }
}

#[component]
fn PasswordForm(view: LoginView, tenant: String, email: String) -> impl IntoView {
    let action = ServerAction::<SubmitPassword>::new();
    let change_email = format!("/t/{tenant}/login?flow={}&change=email", view.flow);
    view! {
        <p class="identity">
            <span class="muted">"Signing in as "</span><strong>{email.clone()}</strong>
            " " <a href=change_email>"Not you?"</a>
        </p>
        <ActionForm action>
            <input type="hidden" name="tenant" value=tenant/>
            <input type="hidden" name="flow" value=view.flow/>
            <input type="hidden" name="csrf" value=view.csrf/>
            // Lets password managers pair the password with the account.
            <input type="email" name="username" value=email autocomplete="username" hidden readonly tabindex="-1" aria-hidden="true"/>
            <label for="password">"Password"</label>
            <input id="password" name="password" type="password" autocomplete="current-password" required
                maxlength="1024" autofocus aria-describedby="form-error"/>
            <button type="submit" class="button primary">"Sign in"</button>
        </ActionForm>
    }
}
