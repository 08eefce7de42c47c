//! Self sign-up: off unless the tenant's policy allows it; then an address gets a link to choose
//! a password, which also proves the address. The answer never tells whether an account exists.

mod common;

use common::mail::{link_in, MailSink};
use common::{hidden, location, query, TestServer, PASSWORD};
use tessera::admin::{tenants, Actor};
use tessera::domain::TenantSettings;

const NEWCOMER: &str = "newcomer@example.com";

async fn sign_up(server: &TestServer, email: &str) -> String {
    let browser = server.browser();
    // Any form page carries the browser's CSRF token, even while sign-up is closed.
    let html = browser.page("/t/default/forgot-password").await;
    let csrf = hidden(&html, "csrf").expect("csrf");
    let response = browser
        .post(
            "/api/signup",
            &[
                ("tenant", "default"),
                ("csrf", &csrf),
                ("email", email),
                ("name", "New Comer"),
            ],
        )
        .await;
    location(&response).expect("back to the page")
}

#[tokio::test]
async fn people_sign_up_only_where_allowed_and_confirm_their_address() {
    let mail = MailSink::start().await;
    let server = TestServer::start_with(None, mail.vars()).await;
    let state = &server.state;
    let tenant = server.tenant("default").await;

    let closed = server.browser().page("/t/default/signup").await;
    assert!(closed.contains("Accounts are created by the organisation"));
    assert!(!server
        .browser()
        .page("/t/default/login")
        .await
        .contains("Create an account"));
    let answer = sign_up(&server, NEWCOMER).await;
    assert!(answer.contains("error=signup_closed"));
    assert!(state
        .store
        .users
        .by_email(tenant.id, NEWCOMER)
        .await
        .unwrap()
        .is_none());

    let open = TenantSettings {
        self_signup: true,
        ..tenant.settings.clone()
    };
    let tenant = tenants::update_policies(state, &Actor::Cli, &tenant, open)
        .await
        .unwrap();
    assert!(server
        .browser()
        .page("/t/default/login")
        .await
        .contains("Create an account"));

    let for_new = sign_up(&server, NEWCOMER).await;
    let for_existing = sign_up(&server, "admin@localhost").await;
    assert_eq!(for_new, for_existing, "no user enumeration");
    assert!(for_new.contains("done=signup_sent"));
    let user = state
        .store
        .users
        .by_email(tenant.id, NEWCOMER)
        .await
        .unwrap()
        .expect("account created");
    assert!(!user.email_verified && user.password_hash.is_none());
    assert!(
        !mail.wait_for("admin@localhost", 1).await.contains("token="),
        "no link for an existing account"
    );

    let message = mail.wait_for(NEWCOMER, 1).await;
    let link = link_in(&message);
    let token = query(&link)["token"].clone();
    let browser = server.browser();
    let page = browser.page(&link).await;
    let csrf = hidden(&page, "csrf").unwrap();
    let reset = browser
        .post(
            "/api/recovery_reset",
            &[
                ("tenant", "default"),
                ("csrf", &csrf),
                ("token", &token),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert!(location(&reset).unwrap().contains("done=password_reset"));
    let user = state
        .store
        .users
        .by_email(tenant.id, NEWCOMER)
        .await
        .unwrap()
        .unwrap();
    assert!(user.email_verified, "following the link proved the address");
    let signed_in = server
        .browser()
        .sign_in("/t/default/login", NEWCOMER, PASSWORD)
        .await;
    assert!(signed_in.status().is_redirection());
    assert!(!location(&signed_in).unwrap().contains("error="));

    let bad = sign_up(&server, "not an address").await;
    assert!(bad.contains("error=invalid_signup"));
    let actions = server.audit_actions("default").await;
    assert!(actions.iter().any(|(a, ..)| a == "user.signed_up"));
}
