//! Second factors end to end over HTTP, as a browser without JavaScript uses them: TOTP
//! enrolment and sign-in (with replays refused), backup codes, email codes through a real SMTP
//! server, a tenant that requires MFA, step-up by acr_values, and the audited admin reset.

mod common;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use common::mail::{code_in, MailSink};
use common::{hidden, location, AuthRequest, Browser, TestClient, TestServer, PASSWORD};
use serde_json::Value;
use tessera::admin::Actor;
use tessera::auth::one_time;
use tessera::domain::FactorKind;

const ALICE: &str = "alice@example.com";

fn totp_at(secret: &str, step: u64) -> String {
    let bytes = totp_rs::Secret::Encoded(secret.into()).to_bytes().unwrap();
    totp_rs::TOTP::new_unchecked(
        totp_rs::Algorithm::SHA1,
        6,
        1,
        30,
        bytes,
        None,
        "test".into(),
    )
    .generate(step * 30)
}

fn now_step() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / 30
}

/// The text of the element whose tag contains `marker`.
fn text_of(html: &str, marker: &str) -> String {
    let at = html
        .find(marker)
        .unwrap_or_else(|| panic!("{marker:?} not in page: {html}"));
    let start = at + html[at..].find('>').unwrap() + 1;
    html[start..].split('<').next().unwrap().to_string()
}

fn form_fields(html: &str) -> (String, String) {
    (
        hidden(html, "tenant").expect("tenant"),
        hidden(html, "csrf").expect("csrf"),
    )
}

/// Signs `browser` in on the tenant's own pages (no application involved).
async fn sign_in_directly(browser: &Browser, email: &str, password: &str) -> reqwest::Response {
    browser.sign_in("/t/default/login", email, password).await
}

/// Sets up the authenticator app on the account page; returns its secret, the step used and
/// the backup codes shown once.
async fn enrol_totp(browser: &Browser) -> (String, u64, Vec<String>) {
    let html = browser.page("/t/default/account?setup=totp").await;
    assert!(
        html.contains("data:image/svg+xml;base64,"),
        "a QR code is shown"
    );
    let secret = text_of(&html, "data-testid=\"totp-secret\"");
    let (tenant, csrf) = form_fields(&html);
    let wrong = browser
        .post(
            "/api/account_totp",
            &[("tenant", &tenant), ("csrf", &csrf), ("code", "000000")],
        )
        .await;
    assert!(location(&wrong).unwrap().contains("error=wrong_code"));
    let step = now_step();
    let right = browser
        .post(
            "/api/account_totp",
            &[
                ("tenant", &tenant),
                ("csrf", &csrf),
                ("code", &totp_at(&secret, step)),
            ],
        )
        .await;
    let next = location(&right).unwrap();
    assert!(next.contains("/backup-codes?show=1"), "{next}");
    let page = browser.page(&next).await;
    let codes: Vec<String> = page
        .split("<li><code>")
        .skip(1)
        .map(|s| s.split('<').next().unwrap().to_string())
        .collect();
    assert_eq!(codes.len(), 10, "ten backup codes are shown");
    let again = browser.page(&next).await;
    assert!(
        !again.contains(&codes[0]),
        "backup codes are shown only once"
    );
    (secret, step, codes)
}

/// Opens the authorization URL in a fresh browser and enters the password; returns the
/// browser and the page it lands on.
async fn password_step(
    server: &TestServer,
    app: &TestClient,
    request: &AuthRequest,
) -> (Browser, String) {
    let browser = server.browser();
    let login = browser.open(&request.url(server, "default")).await;
    let response = browser.sign_in(&login, ALICE, PASSWORD).await;
    let next = browser.absolute(&location(&response).expect("a redirect after the password"));
    let _ = app;
    (browser, next)
}

async fn submit_factor(
    browser: &Browser,
    page: &str,
    method: &str,
    code: &str,
) -> reqwest::Response {
    let html = browser.page(page).await;
    let (tenant, csrf) = form_fields(&html);
    let flow = hidden(&html, "flow").expect("flow");
    browser
        .post(
            "/api/login_factor",
            &[
                ("tenant", &tenant),
                ("flow", &flow),
                ("csrf", &csrf),
                ("method", method),
                ("code", code),
            ],
        )
        .await
}

/// Follows the rest of the flow (interstitial, consent) to the client and returns the ID
/// token's claims.
async fn finish(
    server: &TestServer,
    app: &TestClient,
    browser: &Browser,
    mut next: String,
) -> Value {
    if next.contains("/backup-codes?") {
        let html = browser.page(&next).await;
        assert!(html.contains("Continue"));
        next = browser.absolute(&common::query(&next)["next"]);
    }
    let mut landed = browser.open(&next).await;
    if landed.contains("/consent?") {
        landed = browser
            .follow(browser.consent(&landed, "allow").await)
            .await
            .expect("callback");
    }
    let code = common::query(&landed)["code"].clone();
    let response = server.exchange_code(app, &code, common::VERIFIER).await;
    assert!(response.status().is_success());
    let tokens: Value = response.json().await.unwrap();
    let id_token = tokens["id_token"].as_str().unwrap();
    let payload = id_token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// A server whose mail goes to a real SMTP server, with Alice and the client `app`.
async fn with_mail() -> (MailSink, TestServer, TestClient) {
    let mail = MailSink::start().await;
    let server = TestServer::start_with(None, mail.vars()).await;
    server.user("default", ALICE).await;
    let app = server.client("default", "app", false).await;
    (mail, server, app)
}

fn amr(claims: &Value) -> Vec<String> {
    claims["amr"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn totp_enrolment_sign_in_replay_and_backup_codes() {
    let (server, app) = TestServer::with_alice().await;
    let owner = server.browser();
    assert!(location(&sign_in_directly(&owner, ALICE, PASSWORD).await).is_some());
    let (secret, enrolled_step, codes) = enrol_totp(&owner).await;

    // Sign in through an application: the password is followed by the second factor.
    let request = AuthRequest::new(&app);
    let (browser, page) = password_step(&server, &app, &request).await;
    assert!(page.contains("/login?flow="), "{page}");
    let html = browser.page(&page).await;
    assert!(html.contains("Code from your authenticator app"));
    // The code used at enrolment is spent, as is any older one (RFC 6238 §5.2).
    let replay = submit_factor(&browser, &page, "totp", &totp_at(&secret, enrolled_step)).await;
    assert!(location(&replay).unwrap().contains("error=wrong_code"));
    let fresh = totp_at(&secret, enrolled_step + 1);
    let accepted = submit_factor(&browser, &page, "totp", &fresh).await;
    let next = browser.absolute(&location(&accepted).unwrap());
    let claims = finish(&server, &app, &browser, next).await;
    assert_eq!(amr(&claims), ["pwd", "otp", "mfa"]);
    assert_eq!(claims["acr"], "urn:tessera:acr:mfa");

    // The same code in another sign-in is a replay.
    let (other, page) = password_step(&server, &app, &request).await;
    let replay = submit_factor(&other, &page, "totp", &fresh).await;
    assert!(location(&replay).unwrap().contains("error=wrong_code"));

    // A backup code works once, and the person is told how many are left.
    let used = submit_factor(&other, &page, "backup_codes", &codes[0].to_lowercase()).await;
    let next = location(&used).unwrap();
    assert!(next.contains("/backup-codes?left=9"), "{next}");
    let claims = finish(&server, &app, &other, other.absolute(&next)).await;
    assert_eq!(amr(&claims), ["pwd", "otp", "mfa"]);
    let (third, page) = password_step(&server, &app, &request).await;
    let reused = submit_factor(&third, &page, "backup_codes", &codes[0]).await;
    assert!(location(&reused).unwrap().contains("error=wrong_code"));

    let audit = server.audit_actions("default").await;
    assert!(audit.iter().any(|(a, o, r)| a == "login.second_factor"
        && o == "failure"
        && r.as_deref() == Some("totp: code already used")));
    assert!(audit.iter().any(|(a, o, r)| a == "login.second_factor"
        && o == "success"
        && r.as_deref() == Some("backup_codes (9 backup codes left)")));
    assert!(audit
        .iter()
        .any(|(a, _, r)| a == "mfa.enrolled" && r.as_deref() == Some("totp")));
}

#[tokio::test]
async fn exhausted_backup_codes_and_wrong_codes_are_throttled() {
    let (server, app) = TestServer::with_alice().await;
    let owner = server.browser();
    sign_in_directly(&owner, ALICE, PASSWORD).await;
    let (_, _, codes) = enrol_totp(&owner).await;
    let tenant = server.tenant("default").await;
    let user = server
        .state
        .store
        .users
        .by_email(tenant.id, ALICE)
        .await
        .unwrap()
        .unwrap();
    let factors = server
        .state
        .store
        .factors
        .of_user(tenant.id, user.id)
        .await
        .unwrap();
    let backup = factors
        .iter()
        .find(|f| f.kind == FactorKind::BackupCodes)
        .unwrap();
    // Spend all ten in storage, as ten earlier sign-ins would have.
    let spent = serde_json::json!({ "unused": [] }).to_string();
    assert!(server
        .state
        .store
        .factors
        .swap(
            tenant.id,
            &backup.id,
            backup.version,
            &spent,
            tessera::domain::Timestamp::now()
        )
        .await
        .unwrap());

    let request = AuthRequest::new(&app);
    let (browser, page) = password_step(&server, &app, &request).await;
    let refused = submit_factor(&browser, &page, "backup_codes", &codes[1]).await;
    assert!(location(&refused).unwrap().contains("error=wrong_code"));
    let audit = server.audit_actions("default").await;
    assert!(audit.iter().any(|(a, _, r)| a == "login.second_factor"
        && r.as_deref() == Some("backup_codes: backup codes used up")));

    // Wrong codes: a few are free, then the account must wait.
    let mut throttled = false;
    for _ in 0..8 {
        let response = submit_factor(&browser, &page, "totp", "123456").await;
        if location(&response).unwrap().contains("error=throttled") {
            throttled = true;
            break;
        }
    }
    assert!(throttled, "repeated wrong codes are throttled");
}

#[tokio::test]
async fn email_codes_through_a_real_smtp_server() {
    let (mail, server, app) = with_mail().await;

    let owner = server.browser();
    sign_in_directly(&owner, ALICE, PASSWORD).await;
    let html = owner.page("/t/default/account").await;
    assert!(html.contains("Not verified"));
    let (tenant, csrf) = form_fields(&html);
    let sent = owner
        .post(
            "/api/account_email_codes_send",
            &[("tenant", &tenant), ("csrf", &csrf)],
        )
        .await;
    assert!(location(&sent).unwrap().contains("sent=1"));
    let enrol_code = code_in(&mail.wait_for(ALICE, 1).await);
    let too_soon = owner
        .post(
            "/api/account_email_codes_send",
            &[("tenant", &tenant), ("csrf", &csrf)],
        )
        .await;
    assert!(location(&too_soon).unwrap().contains("error=resend_wait"));
    let done = owner
        .post(
            "/api/account_email_codes",
            &[("tenant", &tenant), ("csrf", &csrf), ("code", &enrol_code)],
        )
        .await;
    assert!(location(&done).unwrap().contains("/backup-codes?show=1"));
    let html = owner.page("/t/default/account").await;
    assert!(
        html.contains("Email codes") && !html.contains("Not verified"),
        "email is verified by the code"
    );
    // The enrolment is announced by email.
    assert!(mail
        .wait_for(ALICE, 2)
        .await
        .contains("Email codes was added"));

    let request = AuthRequest::new(&app);
    let (browser, page) = password_step(&server, &app, &request).await;
    let email_page = format!("{page}&method=email_code");
    let html = browser.page(&email_page).await;
    let (tenant, csrf) = form_fields(&html);
    let flow = hidden(&html, "flow").unwrap();
    let send = browser
        .post(
            "/api/login_send_code",
            &[("tenant", &tenant), ("flow", &flow), ("csrf", &csrf)],
        )
        .await;
    assert!(location(&send).unwrap().contains("sent=1"));
    let sign_in_code = code_in(&mail.wait_for(ALICE, 3).await);
    // The enrolment code belongs to the enrolment: it does not sign in.
    let wrong = submit_factor(&browser, &email_page, "email_code", &enrol_code).await;
    assert!(location(&wrong).unwrap().contains("error=wrong_code"));
    let ok = submit_factor(&browser, &email_page, "email_code", &sign_in_code).await;
    let claims = finish(
        &server,
        &app,
        &browser,
        browser.absolute(&location(&ok).unwrap()),
    )
    .await;
    assert_eq!(amr(&claims), ["pwd", "otp", "mfa"]);

    // A code works once; after five wrong guesses a code is dead even when right.
    let (again, page) = password_step(&server, &app, &request).await;
    let email_page = format!("{page}&method=email_code");
    let reused = submit_factor(&again, &email_page, "email_code", &sign_in_code).await;
    assert!(
        location(&reused).unwrap().contains("error=otp_expired"),
        "no code was sent in this sign-in"
    );
    let html = again.page(&email_page).await;
    let (tenant, csrf) = form_fields(&html);
    let flow = hidden(&html, "flow").unwrap();
    again
        .post(
            "/api/login_send_code",
            &[("tenant", &tenant), ("flow", &flow), ("csrf", &csrf)],
        )
        .await;
    let code = code_in(&mail.wait_for(ALICE, 4).await);
    let wrong_guess = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..5 {
        submit_factor(&again, &email_page, "email_code", wrong_guess).await;
    }
    // Five wrong guesses used the code up (the account is also slowed down by now, so ask the
    // code store directly): even the right code fails.
    let tenant = server.tenant("default").await;
    let state = &server.state;
    let key = format!("signin:{flow}");
    let dead = one_time::check_code(state, tenant.id, &key, &code).await;
    assert!(
        matches!(dead, Err(one_time::CodeError::Expired)),
        "{dead:?}"
    );

    // A code past its ten minutes is refused too.
    let to = tessera::domain::Email::parse(ALICE).unwrap();
    one_time::send_code(state, tenant.id, "test:expiry", &to, "Code", "A code.")
        .await
        .unwrap();
    let code = code_in(&mail.wait_for(ALICE, 5).await);
    let artifacts = &state.store.artifacts;
    let record = artifacts
        .take_ephemeral(tenant.id, "email_code", "test:expiry")
        .await
        .unwrap()
        .unwrap();
    let past = tessera::domain::Timestamp::now().plus_secs(-1);
    artifacts
        .put_ephemeral(tenant.id, "email_code", "test:expiry", &record.value, past)
        .await
        .unwrap();
    let expired = one_time::check_code(state, tenant.id, "test:expiry", &code).await;
    assert!(
        matches!(expired, Err(one_time::CodeError::Expired)),
        "{expired:?}"
    );
}

#[tokio::test]
async fn a_tenant_that_requires_mfa_walks_people_through_enrolment() {
    let (server, app) = TestServer::with_alice().await;
    let tenant = server.tenant("default").await;
    tessera::admin::tenants::set_mfa_policy(
        &server.state,
        &Actor::Cli,
        &tenant,
        Some(true),
        Some(vec![FactorKind::Totp]),
    )
    .await
    .unwrap();

    let request = AuthRequest::new(&app);
    let (browser, page) = password_step(&server, &app, &request).await;
    let html = browser.page(&page).await;
    assert!(html.contains("Set up two-step sign-in"), "{html}");
    assert!(
        !html.contains("Get codes by email"),
        "email codes are not allowed by this tenant"
    );
    let secret = text_of(&html, "data-testid=\"totp-secret\"");
    let refused = submit_factor(&browser, &page, "email_code", "123456").await;
    assert!(location(&refused)
        .unwrap()
        .contains("error=factor_unavailable"));
    let enrolled = submit_factor(&browser, &page, "totp", &totp_at(&secret, now_step())).await;
    let next = location(&enrolled).unwrap();
    assert!(next.contains("/backup-codes?show=1"), "{next}");
    let claims = finish(&server, &app, &browser, browser.absolute(&next)).await;
    assert_eq!(amr(&claims), ["pwd", "otp", "mfa"]);
}

#[tokio::test]
async fn acr_values_step_up_an_existing_password_sign_in() {
    let (server, app) = TestServer::with_alice().await;
    let browser = server.browser();
    let callback = browser
        .authorize(
            &AuthRequest::new(&app).url(&server, "default"),
            ALICE,
            PASSWORD,
            "allow",
        )
        .await;
    assert!(callback.starts_with(&app.redirect_uri));
    let (secret, step, _) = enrol_totp(&browser).await;

    // Without acr_values the password sign-in is reused…
    let reused = browser
        .open(&AuthRequest::new(&app).url(&server, "default"))
        .await;
    assert!(reused.starts_with(&app.redirect_uri), "{reused}");
    // …with acr_values asking for MFA, it is not: the person signs in again with both factors.
    let strong = AuthRequest::new(&app).set("acr_values", "urn:tessera:acr:mfa");
    let login = browser.open(&strong.url(&server, "default")).await;
    assert!(login.contains("/login?"), "{login}");
    let after_password = browser.sign_in(&login, ALICE, PASSWORD).await;
    let page = browser.absolute(&location(&after_password).unwrap());
    let accepted = submit_factor(&browser, &page, "totp", &totp_at(&secret, step + 1)).await;
    let claims = finish(
        &server,
        &app,
        &browser,
        browser.absolute(&location(&accepted).unwrap()),
    )
    .await;
    assert_eq!(claims["acr"], "urn:tessera:acr:mfa");

    let discovery: Value = server
        .http()
        .get(format!(
            "{}/.well-known/openid-configuration",
            server.issuer("default")
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(discovery["acr_values_supported"][1], "urn:tessera:acr:mfa");
}

#[tokio::test]
async fn factor_changes_need_csrf_a_recent_sign_in_and_the_owner() {
    let (server, _) = TestServer::with_alice().await;
    server.user("default", "bob@example.com").await;
    let alice = server.browser();
    sign_in_directly(&alice, ALICE, PASSWORD).await;
    enrol_totp(&alice).await;
    let tenant = server.tenant("default").await;
    let alice_id = server
        .state
        .store
        .users
        .by_email(tenant.id, ALICE)
        .await
        .unwrap()
        .unwrap()
        .id;
    let factor = server
        .state
        .store
        .factors
        .of_user(tenant.id, alice_id)
        .await
        .unwrap()
        .into_iter()
        .find(|f| f.kind == FactorKind::Totp)
        .unwrap()
        .id;

    // Without the CSRF token nothing changes.
    let html = alice.page("/t/default/account").await;
    let (slug, csrf) = form_fields(&html);
    let forged = alice
        .post(
            "/api/account_remove_factor",
            &[("tenant", &slug), ("csrf", "forged"), ("factor", &factor)],
        )
        .await;
    assert!(location(&forged).unwrap().contains("error=csrf"));

    // Bob cannot remove Alice's factor with its id.
    let bob = server.browser();
    sign_in_directly(&bob, "bob@example.com", PASSWORD).await;
    let bob_html = bob.page("/t/default/account").await;
    let (_, bob_csrf) = form_fields(&bob_html);
    let cross = bob
        .post(
            "/api/account_remove_factor",
            &[("tenant", &slug), ("csrf", &bob_csrf), ("factor", &factor)],
        )
        .await;
    assert!(location(&cross).unwrap().contains("error=not_found"));
    assert_eq!(
        server
            .state
            .store
            .factors
            .of_user(tenant.id, alice_id)
            .await
            .unwrap()
            .len(),
        2
    );

    // Alice removes it; the backup codes go with her last factor.
    let removed = alice
        .post(
            "/api/account_remove_factor",
            &[("tenant", &slug), ("csrf", &csrf), ("factor", &factor)],
        )
        .await;
    assert!(location(&removed).unwrap().contains("done=removed"));
    assert!(server
        .state
        .store
        .factors
        .of_user(tenant.id, alice_id)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn forgot_password_resets_without_bypassing_the_second_factor() {
    let (mail, server, app) = with_mail().await;
    let owner = server.browser();
    sign_in_directly(&owner, ALICE, PASSWORD).await;
    let (secret, step, _) = enrol_totp(&owner).await;
    mail.wait_for(ALICE, 1).await;

    let browser = server.browser();
    let html = browser.page("/t/default/forgot-password").await;
    let (tenant, csrf) = form_fields(&html);
    let for_alice = browser
        .post(
            "/api/recovery_request",
            &[("tenant", &tenant), ("csrf", &csrf), ("email", ALICE)],
        )
        .await;
    let for_nobody = browser
        .post(
            "/api/recovery_request",
            &[
                ("tenant", &tenant),
                ("csrf", &csrf),
                ("email", "nobody@example.com"),
            ],
        )
        .await;
    assert_eq!(
        location(&for_alice),
        location(&for_nobody),
        "no user enumeration"
    );
    let message = mail.wait_for(ALICE, 2).await;
    let link = common::mail::link_in(&message);
    assert!(link.starts_with(&server.issuer("default")), "{link}");
    let token = common::query(&link)["token"].clone();
    assert!(mail.messages_to("nobody@example.com").is_empty());

    let page = browser.page(&link).await;
    assert!(page.contains(ALICE));
    let weak = browser
        .post(
            "/api/recovery_reset",
            &[
                ("tenant", &tenant),
                ("csrf", &csrf),
                ("token", &token),
                ("password", "short"),
            ],
        )
        .await;
    assert!(location(&weak).unwrap().contains("error=weak_password"));
    let new_password = "a brand new passphrase";
    let reset = browser
        .post(
            "/api/recovery_reset",
            &[
                ("tenant", &tenant),
                ("csrf", &csrf),
                ("token", &token),
                ("password", new_password),
            ],
        )
        .await;
    assert!(location(&reset).unwrap().contains("done=password_reset"));
    let reused = browser
        .post(
            "/api/recovery_reset",
            &[
                ("tenant", &tenant),
                ("csrf", &csrf),
                ("token", &token),
                ("password", "another passphrase"),
            ],
        )
        .await;
    assert!(location(&reused).unwrap().contains("error=link_invalid"));
    // The reset ended the sign-in the owner had.
    let account = owner.page("/t/default/account").await;
    assert!(
        account.contains("Sign in to manage"),
        "the old sign-in ended"
    );

    // The new password is followed by the second factor; the old password no longer works.
    let request = AuthRequest::new(&app);
    let login = browser.open(&request.url(&server, "default")).await;
    let old = browser.sign_in(&login, ALICE, PASSWORD).await;
    assert!(location(&old).unwrap().contains("error=incorrect"));
    let login = browser.open(&request.url(&server, "default")).await;
    let new = browser.sign_in(&login, ALICE, new_password).await;
    let page = browser.absolute(&location(&new).unwrap());
    assert!(browser
        .page(&page)
        .await
        .contains("Code from your authenticator app"));
    let accepted = submit_factor(&browser, &page, "totp", &totp_at(&secret, step + 1)).await;
    let claims = finish(
        &server,
        &app,
        &browser,
        browser.absolute(&location(&accepted).unwrap()),
    )
    .await;
    assert_eq!(amr(&claims), ["pwd", "otp", "mfa"]);
}

#[tokio::test]
async fn admin_reset_removes_every_factor_with_an_audited_reason() {
    let (server, _) = TestServer::with_alice().await;
    let owner = server.browser();
    sign_in_directly(&owner, ALICE, PASSWORD).await;
    enrol_totp(&owner).await;
    let tenant = server.tenant("default").await;
    let no_reason =
        tessera::admin::users::reset_mfa(&server.state, &Actor::Cli, &tenant, ALICE, "  ").await;
    assert!(no_reason.is_err(), "a reason is required");
    let removed = tessera::admin::users::reset_mfa(
        &server.state,
        &Actor::Cli,
        &tenant,
        ALICE,
        "ticket 42: lost phone",
    )
    .await
    .unwrap();
    assert_eq!(removed, 2, "the app and the backup codes");
    let audit = server.audit_actions("default").await;
    assert!(audit
        .iter()
        .any(|(a, _, r)| a == "mfa.reset" && r.as_deref() == Some("ticket 42: lost phone")));
}

/// A server reached by a domain name, as WebAuthn requires: `localhost` still reaches the
/// loopback address the test server listens on.
async fn with_passkeys() -> (TestServer, TestClient) {
    let server =
        TestServer::start_with(None, vec![("WEBAUTHN_ORIGIN", "http://localhost".into())]).await;
    server.user("default", ALICE).await;
    let app = server.client("default", "app", false).await;
    (server, app)
}

#[tokio::test]
async fn passkey_endpoints_refuse_forged_stale_and_foreign_input() {
    let (server, _) = with_passkeys().await;
    let browser = server.browser();
    let html = browser.page("/t/default/login").await;
    let label = html
        .find("Sign in with a passkey")
        .expect("offered on the sign-in page");
    let tag = &html[html[..label].rfind("<button").unwrap()..label];
    assert!(
        tag.contains(" hidden"),
        "hidden until the script finds WebAuthn: {tag}"
    );
    let (_, csrf) = form_fields(&html);
    let post = |path: &'static str, body: Value| {
        let http = browser.http.clone();
        let url = browser.absolute(path);
        async move {
            let response = http.post(url).json(&body).send().await.unwrap();
            let status = response.status();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };

    // Without the CSRF token: back to the sign-in page with an explanation, nothing started.
    let (_, forged) = post(
        "/t/default/passkeys/sign-in/options",
        serde_json::json!({ "csrf": "nope" }),
    )
    .await;
    assert!(forged["redirect"].as_str().unwrap().contains("error=csrf"));

    // Options for a passwordless sign-in: a challenge, no credentials to choose from.
    let (status, started) = post(
        "/t/default/passkeys/sign-in/options",
        serde_json::json!({ "csrf": csrf }),
    )
    .await;
    assert!(status.is_success(), "{started}");
    let flow = started["flow"].as_str().unwrap().to_string();
    let options = &started["options"]["publicKey"];
    assert_eq!(options["rpId"], "localhost");
    assert!(options["challenge"].as_str().unwrap().len() >= 43);
    assert_eq!(options["userVerification"], "required");

    // An assertion no authenticator made: refused, audited, and the ceremony is spent.
    let tenant = server.tenant("default").await;
    let alice = server
        .state
        .store
        .users
        .by_email(tenant.id, ALICE)
        .await
        .unwrap()
        .unwrap();
    let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
    let forged_credential = serde_json::json!({
        "id": b64(b"made-up-credential"),
        "rawId": b64(b"made-up-credential"),
        "type": "public-key",
        "response": {
            "authenticatorData": b64(&[0u8; 37]),
            "clientDataJSON": b64(br#"{"type":"webauthn.get","challenge":"x","origin":"http://localhost"}"#),
            "signature": b64(&[1u8; 64]),
            "userHandle": b64(alice.id.as_uuid().as_bytes()),
        },
        "extensions": {},
    });
    let body = serde_json::json!({ "flow": flow, "csrf": csrf, "credential": forged_credential });
    let (_, refused) = post("/t/default/passkeys/sign-in", body.clone()).await;
    assert!(
        refused["redirect"]
            .as_str()
            .unwrap()
            .contains("error=passkey_refused"),
        "{refused}"
    );
    let (_, replayed) = post("/t/default/passkeys/sign-in", body).await;
    assert!(
        replayed["redirect"]
            .as_str()
            .unwrap()
            .contains("error=expired"),
        "{replayed}"
    );
    let audit = server.audit_actions("default").await;
    assert!(audit.iter().any(|(a, o, r)| a == "login.second_factor"
        && o == "failure"
        && r.as_deref()
            .is_some_and(|r| r.starts_with("passkey refused"))));

    // Malformed JSON is refused before anything runs.
    let response = browser
        .http
        .post(browser.absolute("/t/default/passkeys/sign-in"))
        .header("content-type", "application/json")
        .body("{\"flow\": 1")
        .send()
        .await
        .unwrap();
    assert!(response.status().is_client_error());

    // Registering needs a signed-in, recent account.
    let (_, anonymous) = post(
        "/t/default/passkeys/register/options",
        serde_json::json!({ "csrf": csrf }),
    )
    .await;
    assert_eq!(anonymous["redirect"], "/t/default/account");
    sign_in_directly(&browser, ALICE, PASSWORD).await;
    let html = browser.page("/t/default/account").await;
    assert!(html.contains("Add a passkey"));
    let (_, csrf) = form_fields(&html);
    let (status, registration) = post(
        "/t/default/passkeys/register/options",
        serde_json::json!({ "csrf": csrf }),
    )
    .await;
    assert!(status.is_success(), "{registration}");
    let options = &registration["options"]["publicKey"];
    assert_eq!(options["authenticatorSelection"]["residentKey"], "required");
    assert_eq!(options["user"]["name"], ALICE);
    assert_eq!(options["user"]["id"], b64(alice.id.as_uuid().as_bytes()));
}

#[tokio::test]
async fn servers_reached_by_an_ip_address_do_not_offer_passkeys() {
    let (server, _) = TestServer::with_alice().await;
    let html = server.browser().page("/t/default/login").await;
    assert!(!html.contains("Sign in with a passkey"));
}
