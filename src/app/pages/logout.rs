//! The question the end-session endpoint asks when a sign-out request cannot prove it comes
//! from the person's own application (OIDC RP-Initiated Logout §2).

use super::error::standalone_document;
use super::Card;
use leptos::prelude::*;

/// A whole document: "Sign out of …?" with the request's parameters and a CSRF token, posted
/// back to `action`. Works without JavaScript.
pub fn standalone_logout_confirm(
    tenant_name: &str,
    client_name: Option<&str>,
    action: &str,
    carried: &[(String, String)],
    csrf: &str,
) -> String {
    let owner = Owner::new();
    let body = owner.with(|| {
        let question = format!("Sign out of {tenant_name}?");
        let detail = match client_name {
            Some(client) => format!("{client} asks to sign you out."),
            None => "An application asks to sign you out.".to_string(),
        };
        let hidden = carried
            .iter()
            .map(|(name, value)| {
                view! { <input type="hidden" name=name.clone() value=value.clone()/> }
            })
            .collect_view();
        let (action, csrf) = (action.to_owned(), csrf.to_owned());
        view! {
            <main id="main">
                <Card>
                    <h1>{question}</h1>
                    <p>{detail}</p>
                    <form method="post" action=action>
                        {hidden}
                        <input type="hidden" name="csrf" value=csrf/>
                        <div class="actions">
                            <button type="submit" class="button primary" autofocus>"Sign out"</button>
                        </div>
                    </form>
                    <p class="muted small">"If you did not mean to sign out, close this page."</p>
                </Card>
            </main>
        }
        .to_html()
    });
    standalone_document("Sign out?", &body)
}
