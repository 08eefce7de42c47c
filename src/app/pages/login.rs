use super::{query_param, tenant_param, Alert, Card, Loading, Notice, PasskeyButton};
use crate::app::api::{
    load_login_page, LoginStep, LoginView, SendLoginCode, SubmitEmail, SubmitFactor,
    SubmitPassword, TotpSetup,
};
use crate::app::pages::error::PageError;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn LoginPage() -> impl IntoView {
    let tenant = tenant_param();
    let flow = query_param("flow");
    // The step's form reads these when it renders: a link that changes one (another way to
    // confirm, "Not you?") must render the page again when JavaScript navigates.
    let (method, sent, change) = (
        query_param("method"),
        query_param("sent"),
        query_param("change"),
    );
    let data = Resource::new(
        move || {
            (
                tenant.get(),
                flow.get(),
                method.get(),
                sent.get(),
                change.get(),
            )
        },
        |(t, f, ..)| load_login_page(t, f),
    );
    view! {
        <Title text="Sign in"/>
        <Suspense fallback=Loading>
            {move || data.get().map(|view| match view {
                Ok(view) => view! { <LoginForm view tenant=tenant.get_untracked()/> }.into_any(),
                Err(e) => view! { <PageError error=e/> }.into_any(),
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
        LoginStep::SecondFactor { email, methods } if !change_email => {
            view! { <SecondFactorForm view=view.clone() tenant=tenant.clone() email methods/> }
                .into_any()
        }
        LoginStep::Enrol {
            email,
            totp,
            email_codes,
        } if !change_email => {
            view! { <EnrolForm view=view.clone() tenant=tenant.clone() email totp email_codes/> }
                .into_any()
        }
        _ => view! { <IdentifyForm view=view.clone() tenant=tenant.clone()/> }.into_any(),
    };
    let done = query_param("done");
    view! {
        <Card>
            <p class="eyebrow">{view.tenant_name.clone()}</p>
            <h1>{heading}</h1>
            <Alert code=error wait/>
            <Notice code=done/>
            {view.linking.clone().map(|name| view! { <LinkingNotice name/> })}
            {form}
        </Card>
    }
}

#[component]
fn IdentifyForm(view: LoginView, tenant: String) -> impl IntoView {
    let action = ServerAction::<SubmitEmail>::new();
    let autocomplete = if view.passkeys {
        "username webauthn"
    } else {
        "username"
    };
    let passkey = view.passkeys.then(|| {
        let (tenant, csrf, flow) = (tenant.clone(), view.csrf.clone(), view.flow.clone());
        view! {
            <p class="divider"><span>"or"</span></p>
            <PasskeyButton action="sign-in" label="Sign in with a passkey" tenant csrf flow/>
        }
    });
    let upstream = (!view.connections.is_empty()).then(|| {
        view! {
            <p class="divider"><span>"or"</span></p>
            <ConnectionButtons view=view.clone() tenant=tenant.clone()/>
        }
    });
    let signup = view.self_signup.then(|| {
        let href = format!("/t/{tenant}/signup");
        view! { <p class="small">"New here? "<a href=href>"Create an account"</a></p> }
    });
    view! {
        <ActionForm action>
            <input type="hidden" name="tenant" value=tenant/>
            <input type="hidden" name="flow" value=view.flow/>
            <input type="hidden" name="csrf" value=view.csrf/>
            <label for="email">"Email address"</label>
            // `webauthn`: the browser offers passkeys in this field's suggestions (passkeys.js).
            <input id="email" name="email" type="email" autocomplete=autocomplete required maxlength="254"
                autofocus aria-describedby="form-error" value=view.email_hint/>
            <button type="submit" class="button primary">"Continue"</button>
        </ActionForm>
        {passkey}
        {upstream}
        {signup}
    }
}

/// One button per upstream provider: a plain form, so it works without JavaScript.
#[component]
fn ConnectionButtons(view: LoginView, tenant: String) -> impl IntoView {
    let action = format!("/t/{tenant}/login/upstream");
    view.connections
        .into_iter()
        .map(|c| {
            view! {
                <form method="post" action=action.clone() class="upstream">
                    <input type="hidden" name="flow" value=view.flow.clone()/>
                    <input type="hidden" name="csrf" value=view.csrf.clone()/>
                    <input type="hidden" name="connection" value=c.slug/>
                    <button type="submit" class="button">{format!("Continue with {}", c.name)}</button>
                </form>
            }
        })
        .collect_view()
}

/// Why an account's password is asked after a provider's sign-in.
#[component]
fn LinkingNotice(name: String) -> impl IntoView {
    view! {
        <p class="notice" role="status" data-testid="link-notice">
            {format!("Your {name} account is not linked to an account here yet, and an account here has its email address. Sign in to that account once to link them; after that, Continue with {name} signs you in.")}
        </p>
    }
}

#[component]
fn PasswordForm(view: LoginView, tenant: String, email: String) -> impl IntoView {
    let action = ServerAction::<SubmitPassword>::new();
    let forgot = format!("/t/{tenant}/forgot-password");
    view! {
        <SigningInAs tenant=tenant.clone() flow=view.flow.clone() email=email.clone()/>
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
        <p class="small"><a href=forgot>"Forgot your password?"</a></p>
    }
}

/// The person behind the password, with a way back to the first step.
#[component]
fn SigningInAs(tenant: String, flow: String, email: String) -> impl IntoView {
    let change_email = format!("/t/{tenant}/login?flow={flow}&change=email");
    view! {
        <p class="identity">
            <span class="muted">"Signing in as "</span><strong>{email}</strong>
            " " <a href=change_email>"Not you?"</a>
        </p>
    }
}

/// A code field and its submit button; `method` says what kind of code it is.
#[component]
fn CodeForm(
    view: LoginView,
    tenant: String,
    method: &'static str,
    label: &'static str,
    #[prop(optional)] hint: Option<&'static str>,
) -> impl IntoView {
    let action = ServerAction::<SubmitFactor>::new();
    let backup = method == "backup_codes";
    view! {
        <ActionForm action>
            <input type="hidden" name="tenant" value=tenant/>
            <input type="hidden" name="flow" value=view.flow/>
            <input type="hidden" name="csrf" value=view.csrf/>
            <input type="hidden" name="method" value=method/>
            <label for="code">{label}</label>
            {hint.map(|h| view! { <p class="muted small" id="code-hint">{h}</p> })}
            <input id="code" name="code" type="text" required maxlength=if backup { "16" } else { "10" }
                autocomplete="one-time-code" autofocus spellcheck="false" autocapitalize="off"
                inputmode=if backup { "text" } else { "numeric" }
                aria-describedby=if hint.is_some() { "code-hint form-error" } else { "form-error" }/>
            <button type="submit" class="button primary">"Continue"</button>
        </ActionForm>
    }
}

/// Sends (or sends again) an email code.
#[component]
fn SendCodeForm(view: LoginView, tenant: String, sent: bool) -> impl IntoView {
    let action = ServerAction::<SendLoginCode>::new();
    view! {
        <ActionForm action>
            <input type="hidden" name="tenant" value=tenant/>
            <input type="hidden" name="flow" value=view.flow/>
            <input type="hidden" name="csrf" value=view.csrf/>
            <button type="submit" class=if sent { "button" } else { "button primary" }>
                {if sent { "Send a new code" } else { "Email me a code" }}
            </button>
        </ActionForm>
    }
}

fn method_label(method: &str) -> &'static str {
    match method {
        "totp" => "Use your authenticator app",
        "email_code" => "Email me a code",
        "backup_codes" => "Use a backup code",
        "passkey" => "Use a passkey",
        _ => "",
    }
}

#[component]
fn SecondFactorForm(
    view: LoginView,
    tenant: String,
    email: String,
    methods: Vec<String>,
) -> impl IntoView {
    let chosen = query_param("method").get_untracked();
    let sent = query_param("sent").get_untracked() == "1";
    let method = methods
        .iter()
        .find(|m| **m == chosen)
        .or(methods.first())
        .cloned()
        .unwrap_or_default();
    let form = match method.as_str() {
        "totp" => view! {
            <CodeForm view=view.clone() tenant=tenant.clone() method="totp"
                label="Code from your authenticator app" hint="Open the app and enter the 6-digit code it shows for this account."/>
        }.into_any(),
        "passkey" => view! {
            <p>"Use the passkey on this device, your phone or your security key."</p>
            <PasskeyButton action="sign-in" label="Use your passkey" tenant=tenant.clone()
                csrf=view.csrf.clone() flow=view.flow.clone()/>
        }.into_any(),
        "email_code" => view! {
            <p>{if sent { "We sent a 6-digit code to your email address. It works for 10 minutes." }
                else { "We can email you a 6-digit code to confirm it is you." }}</p>
            {sent.then(|| view! { <CodeForm view=view.clone() tenant=tenant.clone() method="email_code" label="Code from the email"/> })}
            <SendCodeForm view=view.clone() tenant=tenant.clone() sent/>
        }.into_any(),
        _ => view! {
            <CodeForm view=view.clone() tenant=tenant.clone() method="backup_codes"
                label="Backup code" hint="One of the codes you saved when you set up two-step sign-in, like 7KQ2M-XP4RT. Each works once."/>
        }.into_any(),
    };
    let others = methods
        .iter()
        .filter(|m| **m != method)
        .map(|m| {
            let href = format!("/t/{tenant}/login?flow={}&method={m}", view.flow);
            view! { <li><a href=href>{method_label(m)}</a></li> }
        })
        .collect_view();
    view! {
        <SigningInAs tenant=tenant.clone() flow=view.flow.clone() email/>
        <h2 class="step-title">"Confirm it is you"</h2>
        {form}
        <nav aria-label="Other ways to confirm"><ul class="other-ways">{others}</ul></nav>
    }
}

#[component]
fn EnrolForm(
    view: LoginView,
    tenant: String,
    email: String,
    totp: Option<TotpSetup>,
    email_codes: bool,
) -> impl IntoView {
    let chosen = query_param("method").get_untracked();
    let sent = query_param("sent").get_untracked() == "1";
    let use_email = email_codes && (chosen == "email_code" || totp.is_none());
    let body = if use_email {
        view! {
            <p>"We will email a 6-digit code to your address each time you sign in. Start by confirming the address:"</p>
            {sent.then(|| view! { <CodeForm view=view.clone() tenant=tenant.clone() method="email_code" label="Code from the email"/> })}
            <SendCodeForm view=view.clone() tenant=tenant.clone() sent/>
            {totp.is_some().then(|| view! {
                <p class="small"><a href=format!("/t/{tenant}/login?flow={}&method=totp", view.flow)>"Use an authenticator app instead"</a></p>
            })}
        }.into_any()
    } else if let Some(setup) = totp {
        view! {
            <TotpInstructions setup/>
            <CodeForm view=view.clone() tenant=tenant.clone() method="totp" label="Code from the app"/>
            {email_codes.then(|| view! {
                <p class="small"><a href=format!("/t/{tenant}/login?flow={}&method=email_code", view.flow)>"Get codes by email instead"</a></p>
            })}
        }.into_any()
    } else {
        view! { <p>"Your organisation requires a second factor, but none can be set up here. Contact your administrator."</p> }.into_any()
    };
    view! {
        <SigningInAs tenant=tenant.clone() flow=view.flow.clone() email/>
        <h2 class="step-title">"Set up two-step sign-in"</h2>
        <p class="muted">"Your organisation asks for a second step when you sign in. It takes a minute to set up."</p>
        {body}
    }
}

/// The QR code and typed-in secret of an authenticator-app enrolment.
#[component]
pub fn TotpInstructions(setup: TotpSetup) -> impl IntoView {
    view! {
        <ol class="steps">
            <li>"Open an authenticator app (such as Google Authenticator, Microsoft Authenticator, 1Password or Aegis)."</li>
            <li>"Scan this QR code, or enter the key below by hand."</li>
            <li>"Type the 6-digit code the app shows."</li>
        </ol>
        <img class="qr" src=setup.qr width="200" height="200" alt="QR code for your authenticator app"/>
        <p class="small">"Key: " <code class="secret" data-testid="totp-secret">{setup.secret}</code></p>
    }
}
