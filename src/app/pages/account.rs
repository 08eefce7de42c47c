use super::login::TotpInstructions;
use super::{query_param, tenant_param, Alert, Card, Loading, Notice, PasskeyButton};
use crate::app::api::{
    load_account_page, load_home_page, AccountSignIn, AccountView, ChangePassword,
    ConfirmEmailCodes, ConfirmTotp, CreateBackupCodes, EndSession, RemoveFactor, SendEmailCodes,
    SendVerification, UnlinkIdentity, WithdrawConsent,
};
use crate::app::pages::error::PageError;
use leptos::prelude::*;
use leptos_meta::Title;

/// A form that posts to an account server function with the tenant and CSRF token.
macro_rules! account_form {
    ($action:ty, $tenant:expr, $csrf:expr, $($body:tt)*) => {{
        let action = ServerAction::<$action>::new();
        view! {
            <ActionForm action>
                <input type="hidden" name="tenant" value=$tenant/>
                <input type="hidden" name="csrf" value=$csrf/>
                $($body)*
            </ActionForm>
        }
    }};
}

/// The signed-in person's own account: factors, password, sign-ins and recent activity.
#[component]
pub fn AccountPage() -> impl IntoView {
    let tenant = tenant_param();
    let setup = query_param("setup");
    let data = Resource::new(
        move || (tenant.get(), setup.get()),
        |(t, s)| load_account_page(t, s),
    );
    view! {
        <Title text="Your account"/>
        <Suspense fallback=Loading>
            {move || data.get().map(|view| match view {
                Ok(Some(view)) => view! { <Account view tenant=tenant.get_untracked()/> }.into_any(),
                Ok(None) => view! { <SignInFirst tenant=tenant.get_untracked()/> }.into_any(),
                Err(e) => view! { <PageError error=e/> }.into_any(),
            })}
        </Suspense>
    }
}

/// Not signed in: a button that signs in and comes back here.
#[component]
fn SignInFirst(tenant: String) -> impl IntoView {
    let home = Resource::new(move || tenant.clone(), load_home_page);
    view! {
        <Suspense fallback=Loading>
            {move || home.get().map(|home| match home {
                Ok(home) => view! {
                    <Card>
                        <p class="eyebrow">{home.tenant_name.clone()}</p>
                        <h1>"Your account"</h1>
                        <p>"Sign in to manage your password, two-step sign-in and devices."</p>
                        {account_form!(AccountSignIn, tenant_slug(), home.csrf.clone(),
                            <button type="submit" class="button primary">"Sign in"</button>)}
                    </Card>
                }.into_any(),
                Err(e) => view! { <PageError error=e/> }.into_any(),
            })}
        </Suspense>
    }
}

fn tenant_slug() -> String {
    tenant_param().get_untracked()
}

#[component]
fn Account(view: AccountView, tenant: String) -> impl IntoView {
    let error = query_param("error");
    let done = query_param("done");
    let sent = query_param("sent").get_untracked() == "1";
    let csrf = view.csrf.clone();
    let t = tenant.clone();
    let needs_reauth = !view.recent_sign_in;
    let reauth = move || {
        needs_reauth.then(|| {
            let (t, csrf) = (t.clone(), csrf.clone());
            view! {
                <div class="reauth">
                    <p class="small">"To change how you sign in, confirm it is you first."</p>
                    {account_form!(AccountSignIn, t, csrf,
                        <button type="submit" class="button">"Sign in again"</button>)}
                </div>
            }
        })
    };
    let csrf = view.csrf.clone();
    let factors = view
        .factors
        .iter()
        .map(|f| {
            let detail = match (f.codes_left, &f.last_used) {
                (Some(n), _) => format!("{n} of 10 left"),
                (None, Some(used)) => format!("Added {}, last used {used}", f.added),
                (None, None) => format!("Added {}", f.added),
            };
            let (tenant, csrf, id, name) = (tenant.clone(), csrf.clone(), f.id.clone(), f.name.clone());
            view! {
                <li class="row">
                    <div><strong>{f.name.clone()}</strong><br/><span class="muted small">{detail}</span></div>
                    {account_form!(RemoveFactor, tenant, csrf,
                        <input type="hidden" name="factor" value=id/>
                        <button type="submit" class="button danger" aria-label=format!("Remove {name}")>"Remove"</button>)}
                </li>
            }
        })
        .collect_view();
    let has_factor = view.factors.iter().any(|f| f.codes_left.is_none());
    let totp_setup = view.totp_setup.clone().map(|setup| {
        let (tenant, csrf) = (tenant.clone(), csrf.clone());
        view! {
            <section class="setup" aria-labelledby="totp-title">
                <h3 id="totp-title">"Set up an authenticator app"</h3>
                <TotpInstructions setup/>
                {account_form!(ConfirmTotp, tenant, csrf,
                    <label for="totp-code">"Code from the app"</label>
                    <input id="totp-code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code"
                        required maxlength="10" autofocus aria-describedby="form-error"/>
                    <button type="submit" class="button primary">"Turn on"</button>)}
            </section>
        }
    });
    let add_totp = (view.can_add_totp && view.totp_setup.is_none() && view.recent_sign_in).then(|| {
        view! { <a class="button" href=format!("/t/{tenant}/account?setup=totp")>"Set up authenticator app"</a> }
    });
    let email_codes = (view.can_add_email_codes && view.recent_sign_in).then(|| {
        let (t1, c1, t2, c2) = (tenant.clone(), csrf.clone(), tenant.clone(), csrf.clone());
        view! {
            <div id="email-codes" class="setup">
                {sent.then(|| account_form!(ConfirmEmailCodes, t1, c1,
                    <label for="email-code">"Code from the email"</label>
                    <input id="email-code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code"
                        required maxlength="10" aria-describedby="form-error"/>
                    <button type="submit" class="button primary">"Turn on email codes"</button>))}
                {account_form!(SendEmailCodes, t2, c2,
                    <button type="submit" class="button">{if sent { "Send a new code" } else { "Use codes sent by email" }}</button>)}
            </div>
        }
    });
    let passkey = (view.can_add_passkey && view.recent_sign_in).then(|| {
        let (tenant, csrf) = (tenant.clone(), csrf.clone());
        view! {
            <section id="passkeys" class="setup" aria-labelledby="passkey-title">
                <h3 id="passkey-title">"Add a passkey"</h3>
                <p class="muted small">"A passkey signs you in with this device's screen lock, your phone or a security key, without a password."</p>
                <label for="passkey-name">"Name for the passkey"</label>
                <input id="passkey-name" type="text" maxlength="60" placeholder="Work laptop" autocomplete="off"/>
                <PasskeyButton action="register" label="Add a passkey" tenant csrf/>
            </section>
        }
    });
    let backup = (has_factor && view.recent_sign_in).then(|| {
        let (tenant, csrf) = (tenant.clone(), csrf.clone());
        account_form!(CreateBackupCodes, tenant, csrf,
            <button type="submit" class="button">"Create new backup codes"</button>)
    });
    let sessions = view
        .sessions
        .iter()
        .map(|s| {
            let (tenant, csrf, handle) = (tenant.clone(), csrf.clone(), s.handle.clone());
            view! {
                <tr>
                    <td><span class="user-agent" title=s.device.clone()>{s.device.clone()}</span>{s.current.then(|| view! { <span class="badge">"This browser"</span> })}</td>
                    <td>{s.ip.clone()}</td>
                    <td>{s.started.clone()}</td>
                    <td>{s.methods.clone()}</td>
                    <td>{(!s.current).then(|| account_form!(EndSession, tenant, csrf,
                        <input type="hidden" name="session" value=handle/>
                        <button type="submit" class="button small-button">"Sign out"</button>))}</td>
                </tr>
            }
        })
        .collect_view();
    let apps = view
        .apps
        .iter()
        .map(|app| {
            let (tenant, csrf, client) = (tenant.clone(), csrf.clone(), app.client_id.clone());
            let label = format!("Take back access from {}", app.name);
            view! {
                <tr>
                    <th scope="row">{app.name.clone()}</th>
                    <td class="text"><code>{app.scopes.clone()}</code></td>
                    <td>{app.allowed.clone()}</td>
                    <td>{account_form!(WithdrawConsent, tenant, csrf,
                        <input type="hidden" name="client" value=client/>
                        <button type="submit" class="button small-button danger" aria-label=label>"Take back access"</button>)}</td>
                </tr>
            }
        })
        .collect_view();
    let no_apps = view.apps.is_empty();
    let links = view
        .links
        .iter()
        .map(|link| {
            let (tenant, csrf) = (tenant.clone(), csrf.clone());
            let (connection, subject) = (link.connection_slug.clone(), link.subject.clone());
            let label = format!("Unlink {}", link.connection);
            let used = link.last_used.clone().unwrap_or_else(|| "never".into());
            view! {
                <tr>
                    <th scope="row">{link.connection.clone()}</th>
                    <td>{link.email.clone().unwrap_or_else(|| link.subject.clone())}</td>
                    <td>{link.linked.clone()}</td>
                    <td>{used}</td>
                    <td>{account_form!(UnlinkIdentity, tenant, csrf,
                        <input type="hidden" name="connection" value=connection/>
                        <input type="hidden" name="subject" value=subject/>
                        <button type="submit" class="button small-button danger" aria-label=label>"Unlink"</button>)}</td>
                </tr>
            }
        })
        .collect_view();
    let has_links = !view.links.is_empty();
    let activity = view
        .activity
        .iter()
        .map(|a| {
            view! {
                <tr>
                    <td>{a.at.clone()}</td>
                    <td>{describe(&a.what)}</td>
                    <td>{if a.ok { "Succeeded" } else { "Failed" }}</td>
                    <td>{a.ip.clone()}</td>
                </tr>
            }
        })
        .collect_view();
    let (t_verify, c_verify, t_pw, c_pw) =
        (tenant.clone(), csrf.clone(), tenant.clone(), csrf.clone());
    let t_data = tenant.clone();
    view! {
        <section class="card wide">
            <p class="eyebrow">{view.tenant_name.clone()}</p>
            <h1>"Your account"</h1>
            <p class="identity"><strong>{view.email.clone()}</strong> " "
                {if view.email_verified { view! { <span class="badge">"Verified"</span> }.into_any() }
                 else { view! { <span class="badge warn">"Not verified"</span> }.into_any() }}
            </p>
            {(!view.email_verified).then(|| account_form!(SendVerification, t_verify, c_verify,
                <button type="submit" class="button small-button">"Send a confirmation link"</button>))}
            <Alert code=error/>
            <Notice code=done/>

            <h2 id="factors">"Two-step sign-in"</h2>
            {if view.factors.is_empty() {
                view! { <p class="muted">{if view.require_mfa { "Your organisation requires a second step. Set one up below." } else { "Add a second step so a stolen password is not enough to get in." }}</p> }.into_any()
            } else {
                view! { <ul class="list">{factors}</ul> }.into_any()
            }}
            {reauth.clone()}
            {totp_setup}
            <div class="actions start">{add_totp}{backup}</div>
            {email_codes}
            {passkey}

            <h2 id="password">"Password"</h2>
            {account_form!(ChangePassword, t_pw, c_pw,
                <label for="current">"Current password"</label>
                <input id="current" name="current" type="password" autocomplete="current-password" required maxlength="1024"/>
                <label for="new">"New password"</label>
                <input id="new" name="new" type="password" autocomplete="new-password" required minlength="8" maxlength="1024"
                    aria-describedby="new-hint"/>
                <p class="muted small" id="new-hint">"At least 8 characters. A few unrelated words make a strong password."</p>
                <button type="submit" class="button primary">"Change password"</button>)}

            <h2 id="sessions">"Where you are signed in"</h2>
            <div class="table-wrap"><table>
                <thead><tr><th scope="col">"Device"</th><th scope="col">"IP address"</th><th scope="col">"Signed in"</th><th scope="col">"Methods"</th><th scope="col"><span class="visually-hidden">"Action"</span></th></tr></thead>
                <tbody>{sessions}</tbody>
            </table></div>

            <h2 id="apps">"Applications you allowed"</h2>
            {if no_apps {
                view! { <p class="muted">"None yet. When an application asks to see your account and you allow it, it is listed here, and you can take that back."</p> }.into_any()
            } else {
                view! {
                    <p class="muted small">"Taking back access signs the application out of your account at once; it asks again the next time you use it."</p>
                    <div class="table-wrap"><table>
                        <thead><tr><th scope="col">"Application"</th><th scope="col">"What it may see"</th><th scope="col">"Allowed"</th><th scope="col"><span class="visually-hidden">"Action"</span></th></tr></thead>
                        <tbody>{apps}</tbody>
                    </table></div>
                }.into_any()
            }}

            {has_links.then(|| view! {
                <h2 id="links">"Accounts you sign in with"</h2>
                <p class="muted small">"Accounts at other providers linked to this one. Unlinking one needs a recent sign-in, and another way to sign in (a password, a passkey or another linked account)."</p>
                <div class="table-wrap"><table data-testid="linked-identities">
                    <thead><tr><th scope="col">"Provider"</th><th scope="col">"Account"</th><th scope="col">"Linked"</th><th scope="col">"Last used"</th><th scope="col"><span class="visually-hidden">"Action"</span></th></tr></thead>
                    <tbody>{links}</tbody>
                </table></div>
            })}

            <h2 id="activity">"Recent activity"</h2>
            <div class="table-wrap"><table>
                <thead><tr><th scope="col">"When"</th><th scope="col">"What"</th><th scope="col">"Result"</th><th scope="col">"IP address"</th></tr></thead>
                <tbody>{activity}</tbody>
            </table></div>

            <h2 id="data">"Your data"</h2>
            <p class="muted small">"A copy of what this organisation keeps about you, as a JSON file: your profile, roles and teams, your sign-ins and account activity, the applications you allowed, and your second steps (without their secrets)."</p>
            <p><a class="button" href=format!("/t/{t_data}/account/data") download="" rel="external">"Download your data"</a></p>
        </section>
    }
}

/// Audit actions in words.
fn describe(action: &str) -> String {
    match action {
        "login.password" => "Password entered",
        "login.second_factor" => "Second step",
        "login.succeeded" => "Signed in",
        "logout" => "Signed out",
        "mfa.enrolled" => "Two-step sign-in added",
        "mfa.removed" => "Two-step sign-in removed",
        "mfa.backup_codes_created" => "New backup codes",
        "mfa.enrolment" => "Two-step set-up attempt",
        "account.password_changed" => "Password change",
        "account.session_ended" => "Sign-in ended",
        "account.email_verified" => "Email address confirmed",
        "recovery.requested" => "Password reset requested",
        "recovery.password_reset" => "Password reset",
        "consent.granted" => "Access granted to an application",
        "consent.revoked" => "Access taken back from an application",
        "account.data_exported" => "Your data downloaded",
        "login.upstream" => "Sign-in through another provider",
        "identity.linked" => "Account at another provider linked",
        "identity.unlinked" => "Account at another provider unlinked",
        "user.provisioned" => "Account created at first sign-in",
        other => other,
    }
    .to_string()
}
