use super::{query_param, tenant_param, Card, Loading};
use crate::app::api::load_backup_codes_page;
use crate::app::pages::error::PageError;
use leptos::prelude::*;
use leptos_meta::Title;

/// New backup codes, shown this once; or, after signing in with one, how many are left.
#[component]
pub fn BackupCodesPage() -> impl IntoView {
    let tenant = tenant_param();
    let next = query_param("next");
    let left = query_param("left");
    let data = Resource::new(
        move || (tenant.get(), next.get()),
        |(t, n)| load_backup_codes_page(t, n),
    );
    view! {
        <Title text="Backup codes"/>
        <Suspense fallback=Loading>
            {move || data.get().map(|view| match view {
                Ok(view) => {
                    let left = left.get_untracked().parse::<usize>().ok();
                    let account = format!("/t/{}/account", tenant.get_untracked());
                    view! {
                        <Card>
                            <p class="eyebrow">{view.tenant_name}</p>
                            {if !view.codes.is_empty() {
                                let codes = view.codes.into_iter().map(|c| view! { <li><code>{c}</code></li> }).collect_view();
                                view! {
                                    <h1>"Save your backup codes"</h1>
                                    <p>"If you lose your phone or cannot get a code, each of these codes lets you sign in once. Keep them somewhere safe, like a password manager or a printed page. They are shown only now."</p>
                                    <ul class="backup-codes" data-testid="backup-codes">{codes}</ul>
                                }.into_any()
                            } else if let Some(n) = left {
                                view! {
                                    <h1>"You signed in with a backup code"</h1>
                                    <p role="status">{format!("You have {n} backup codes left. Each one works once.")}</p>
                                    {(n <= 3).then(|| view! { <p>"You are running low. "<a href=account.clone()>"Create new codes on your account page"</a>" after you continue."</p> })}
                                }.into_any()
                            } else {
                                view! {
                                    <h1>"Backup codes"</h1>
                                    <p>"These codes were shown already. If you did not save them, create new ones on your account page."</p>
                                }.into_any()
                            }}
                            // Often the authorization endpoint, which is not a page of the app:
                            // a full navigation, not the router's.
                            <p><a class="button primary" href=view.next rel="external">"Continue"</a></p>
                        </Card>
                    }.into_any()
                }
                Err(e) => view! { <PageError error=e/> }.into_any(),
            })}
        </Suspense>
    }
}
