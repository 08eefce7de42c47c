use super::{query_param, tenant_param, Alert, Card, Loading, Notice};
use crate::app::api::{
    load_recovery_page, load_signup_page, verify_email, RequestReset, ResetPassword, SignUp,
};
use crate::app::pages::error::PageError;
use leptos::prelude::*;
use leptos_meta::Title;

/// "Forgot password": asks for the address and answers the same whether or not it has an account.
#[component]
pub fn ForgotPasswordPage() -> impl IntoView {
    let tenant = tenant_param();
    let data = Resource::new(
        move || tenant.get(),
        |t| load_recovery_page(t, String::new()),
    );
    let error = query_param("error");
    let done = query_param("done");
    view! {
        <Title text="Reset your password"/>
        <Suspense fallback=Loading>
            {move || data.get().map(|view| match view {
                Ok(view) => {
                    let action = ServerAction::<RequestReset>::new();
                    view! {
                        <Card>
                            <p class="eyebrow">{view.tenant_name}</p>
                            <h1>"Reset your password"</h1>
                            <Alert code=error/>
                            <Notice code=done/>
                            <p>"Enter the email address of your account. We will send you a link to choose a new password."</p>
                            <ActionForm action>
                                <input type="hidden" name="tenant" value=tenant.get_untracked()/>
                                <input type="hidden" name="csrf" value=view.csrf/>
                                <label for="email">"Email address"</label>
                                <input id="email" name="email" type="email" autocomplete="username" required maxlength="254" autofocus aria-describedby="form-error"/>
                                <button type="submit" class="button primary">"Send the link"</button>
                            </ActionForm>
                            <p class="muted small">"Your second sign-in step (authenticator app, email code or backup code) is still needed after the reset."</p>
                            <p class="small"><a href=format!("/t/{}/login", tenant.get_untracked())>"Back to sign in"</a></p>
                        </Card>
                    }.into_any()
                }
                Err(e) => view! { <PageError error=e/> }.into_any(),
            })}
        </Suspense>
    }
}

/// The page a reset link opens: choose a new password.
#[component]
pub fn ResetPasswordPage() -> impl IntoView {
    let tenant = tenant_param();
    let token = query_param("token");
    let data = Resource::new(
        move || (tenant.get(), token.get()),
        |(t, k)| load_recovery_page(t, k),
    );
    let error = query_param("error");
    view! {
        <Title text="Choose a new password"/>
        <Suspense fallback=Loading>
            {move || data.get().map(|view| match view {
                Ok(view) => {
                    let action = ServerAction::<ResetPassword>::new();
                    let forgot = format!("/t/{}/forgot-password", tenant.get_untracked());
                    view! {
                        <Card>
                            <p class="eyebrow">{view.tenant_name}</p>
                            <h1>"Choose a new password"</h1>
                            <Alert code=error/>
                            {match view.email {
                                Some(email) => view! {
                                    <p class="identity"><span class="muted">"For "</span><strong>{email.clone()}</strong></p>
                                    <ActionForm action>
                                        <input type="hidden" name="tenant" value=tenant.get_untracked()/>
                                        <input type="hidden" name="csrf" value=view.csrf/>
                                        <input type="hidden" name="token" value=token.get_untracked()/>
                                        <input type="email" name="username" value=email autocomplete="username" hidden readonly tabindex="-1" aria-hidden="true"/>
                                        <label for="password">"New password"</label>
                                        <input id="password" name="password" type="password" autocomplete="new-password" required minlength="8" maxlength="1024"
                                            autofocus aria-describedby="password-hint form-error"/>
                                        <p class="muted small" id="password-hint">"At least 8 characters. A few unrelated words make a strong password."</p>
                                        <button type="submit" class="button primary">"Set the new password"</button>
                                    </ActionForm>
                                }.into_any(),
                                None => view! {
                                    <p>"This link is not valid any more: it expired or was already used."</p>
                                    <p><a class="button primary" href=forgot>"Ask for a new link"</a></p>
                                }.into_any(),
                            }}
                        </Card>
                    }.into_any()
                }
                Err(e) => view! { <PageError error=e/> }.into_any(),
            })}
        </Suspense>
    }
}

/// The page an email verification link opens.
#[component]
pub fn VerifyEmailPage() -> impl IntoView {
    let tenant = tenant_param();
    let token = query_param("token");
    let data = Resource::new(
        move || (tenant.get(), token.get()),
        |(t, k)| verify_email(t, k),
    );
    view! {
        <Title text="Confirm your email address"/>
        <Suspense fallback=Loading>
            {move || data.get().map(|verified| match verified {
                Ok(verified) => view! {
                    <Card>
                        <h1>{if verified { "Email address confirmed" } else { "This link is not valid any more" }}</h1>
                        <p>{if verified { "Thank you. Your email address is confirmed." }
                            else { "It expired or was already used. You can send a new one from your account page." }}</p>
                        <p><a class="button primary" href=format!("/t/{}/account", tenant.get_untracked())>"Go to your account"</a></p>
                    </Card>
                }.into_any(),
                Err(e) => view! { <PageError error=e/> }.into_any(),
            })}
        </Suspense>
    }
}

/// Self sign-up (when the organisation allows it): an email address, then a link by email.
#[component]
pub fn SignUpPage() -> impl IntoView {
    let tenant = tenant_param();
    let data = Resource::new(move || tenant.get(), load_signup_page);
    let error = query_param("error");
    let done = query_param("done");
    view! {
        <Title text="Create an account"/>
        <Suspense fallback=Loading>
            {move || data.get().map(|view| match view {
                Ok(view) if view.open => {
                    let action = ServerAction::<SignUp>::new();
                    view! {
                        <Card>
                            <p class="eyebrow">{view.tenant_name}</p>
                            <h1>"Create an account"</h1>
                            <Alert code=error/>
                            <Notice code=done/>
                            <p>"Enter your email address. We will send you a link to choose your password; following it confirms the address."</p>
                            <ActionForm action>
                                <input type="hidden" name="tenant" value=tenant.get_untracked()/>
                                <input type="hidden" name="csrf" value=view.csrf/>
                                <label for="email">"Email address"</label>
                                <input id="email" name="email" type="email" autocomplete="email" required maxlength="254" autofocus aria-describedby="form-error"/>
                                <label for="name">"Name (optional)"</label>
                                <input id="name" name="name" type="text" autocomplete="name" maxlength="200"/>
                                <button type="submit" class="button primary">"Send the link"</button>
                            </ActionForm>
                            <p class="small"><a href=format!("/t/{}/login", tenant.get_untracked())>"I already have an account"</a></p>
                        </Card>
                    }.into_any()
                }
                Ok(view) => view! {
                    <Card>
                        <p class="eyebrow">{view.tenant_name}</p>
                        <h1>"Accounts are created by the organisation"</h1>
                        <p>"This organisation does not let people create their own account. Ask its administrators for an invitation."</p>
                        <p class="small"><a href=format!("/t/{}/login", tenant.get_untracked())>"Back to sign in"</a></p>
                    </Card>
                }.into_any(),
                Err(e) => view! { <PageError error=e/> }.into_any(),
            })}
        </Suspense>
    }
}
