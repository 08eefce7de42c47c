//! The platform console (`/admin`) for the operators of the installation: operators created at
//! the command line, signing in through the reserved tenant `_ops`, creating tenants (owner
//! invited by email), suspending, reactivating and deleting them; everyone else refused.
#![cfg(feature = "ssr")]

mod common;

use common::{field_note, hidden, location, Browser, TestServer, PASSWORD};
use reqwest::StatusCode;
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};
use tessera::admin::{platform, users, users::NewUser, Actor, Member};
use tessera::domain::{access::OWNER, GrantType, Grants, TenantSlug, TenantStatus};
use tessera::error::AppError;

const OPERATOR: &str = "ops@example.com";

/// An operator created the way `tessera operator create` does, signed in to `/admin`; with the
/// console's CSRF token.
async fn operator(server: &TestServer) -> (Browser, String) {
    let (ops, user, password) =
        platform::create_operator(&server.state, &Actor::Cli, OPERATOR, None)
            .await
            .expect("operator");
    assert_eq!(ops.slug.as_str(), "_ops");
    assert_eq!(
        server
            .state
            .store
            .users
            .roles(ops.id, user.id)
            .await
            .unwrap(),
        vec![OWNER.to_string()]
    );
    let browser = server.browser();
    let html = browser.page("/admin").await;
    assert!(
        html.contains("Sign in"),
        "the console offers to sign in: {html}"
    );
    let csrf = hidden(&html, "csrf").expect("csrf");
    let started = browser
        .post("/api/platform_sign_in", &[("csrf", &csrf)])
        .await;
    let login = location(&started).expect("to the sign-in page");
    assert!(login.starts_with("/t/_ops/login?flow="), "{login}");
    let signed_in = browser.sign_in(&login, OPERATOR, &password).await;
    assert_eq!(
        location(&signed_in).as_deref(),
        Some("/admin"),
        "back to the platform console"
    );
    let html = browser.page("/admin").await;
    assert!(
        html.contains("Platform console") && html.contains(OPERATOR),
        "{html}"
    );
    let csrf = hidden(&html, "csrf").expect("csrf");
    (browser, csrf)
}

async fn post(
    browser: &Browser,
    csrf: &str,
    endpoint: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let mut form = vec![("csrf", csrf)];
    form.extend_from_slice(fields);
    browser.post(&format!("/api/{endpoint}"), &form).await
}

async fn status_of(server: &TestServer, slug: &str) -> Option<TenantStatus> {
    server
        .state
        .store
        .tenants
        .by_slug(&TenantSlug::parse(slug).unwrap())
        .await
        .unwrap()
        .map(|t| t.status)
}

async fn ops_actions(server: &TestServer) -> Vec<String> {
    server
        .audit_actions("_ops")
        .await
        .into_iter()
        .map(|(action, ..)| action)
        .collect()
}

/// The messages written to the development mail folder for `to`, soft line breaks undone.
async fn mail_to(server: &TestServer, to: &str) -> String {
    let folder = server
        .state
        .mailer
        .dev_folder()
        .expect("MAIL_DEV_DIR")
        .clone();
    for _ in 0..100 {
        let found = std::fs::read_dir(&folder)
            .unwrap()
            .filter_map(Result::ok)
            .filter_map(|e| std::fs::read_to_string(e.path()).ok())
            .map(|m| {
                m.replace("=\r\n", "")
                    .replace("=\n", "")
                    .replace("=3D", "=")
            })
            .find(|m| m.contains(to));
        if let Some(message) = found {
            return message;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no mail to {to} in {}", folder.display());
}

#[tokio::test]
async fn an_operator_creates_a_tenant_whose_owner_is_invited() {
    let server = TestServer::start().await;
    let (browser, csrf) = operator(&server).await;
    let created = post(
        &browser,
        &csrf,
        "platform_tenant_create",
        &[
            ("slug", "acme"),
            ("name", "Acme Corp"),
            ("owner_email", "owner@acme.test"),
        ],
    )
    .await;
    assert_eq!(location(&created).as_deref(), Some("/admin"));
    let html = browser.page("/admin").await;
    assert!(html.contains("The tenant acme was created"), "{html}");
    assert!(html.contains("Acme Corp"));

    let acme = server.tenant("acme").await;
    assert_eq!(acme.status, TenantStatus::Active);
    let owner = server
        .state
        .store
        .users
        .by_email(acme.id, "owner@acme.test")
        .await
        .unwrap()
        .expect("the first owner");
    assert!(
        owner.password_hash.is_none(),
        "invited, not given a password"
    );
    assert_eq!(
        server
            .state
            .store
            .users
            .roles(acme.id, owner.id)
            .await
            .unwrap(),
        vec![OWNER.to_string()]
    );
    let mail = mail_to(&server, "owner@acme.test").await;
    assert!(mail.contains("You are invited to Acme Corp"), "{mail}");
    assert!(mail.contains("/t/acme/reset-password?token="), "{mail}");

    let acme_log: Vec<String> = server
        .audit_actions("acme")
        .await
        .into_iter()
        .map(|(a, ..)| a)
        .collect();
    assert!(
        acme_log.contains(&"tenant.created".to_string()),
        "{acme_log:?}"
    );
    assert!(
        acme_log.contains(&"user.invited".to_string()),
        "{acme_log:?}"
    );
    let ops_log = ops_actions(&server).await;
    assert!(
        ops_log.contains(&"operator.created".to_string()),
        "{ops_log:?}"
    );
    assert!(
        ops_log.contains(&"tenant.created".to_string()),
        "{ops_log:?}"
    );

    // The same slug again, or a bad owner address: refused with a message, nothing created.
    let again = post(
        &browser,
        &csrf,
        "platform_tenant_create",
        &[
            ("slug", "acme"),
            ("name", "Again"),
            ("owner_email", "x@acme.test"),
        ],
    )
    .await;
    assert_eq!(location(&again).as_deref(), Some("/admin"));
    assert!(browser
        .page("/admin")
        .await
        .contains("There is already a tenant acme"));
    post(
        &browser,
        &csrf,
        "platform_tenant_create",
        &[
            ("slug", "beta"),
            ("name", "Beta"),
            ("owner_email", "not an address"),
        ],
    )
    .await;
    // The refusal shows next to the field it is about.
    let page = browser.page("/admin").await;
    let note = field_note(&page, "new-owner");
    assert!(note.contains("Enter a valid email address"), "{note}");
    assert!(page.contains(r#"aria-invalid="true""#));
    assert_eq!(status_of(&server, "beta").await, None);

    // Where its data lives: a database of its own, or a refusal of anything else.
    post(
        &browser,
        &csrf,
        "platform_tenant_create",
        &[
            ("slug", "beta"),
            ("name", "Beta"),
            ("owner_email", "owner@beta.test"),
            ("placement", "elsewhere"),
        ],
    )
    .await;
    let page = browser.page("/admin").await;
    assert!(
        field_note(&page, "new-placement").contains("Choose where"),
        "{page}"
    );
    assert_eq!(status_of(&server, "beta").await, None);
    post(
        &browser,
        &csrf,
        "platform_tenant_create",
        &[
            ("slug", "beta"),
            ("name", "Beta"),
            ("owner_email", "owner@beta.test"),
            ("placement", "dedicated"),
        ],
    )
    .await;
    let html = browser.page("/admin").await;
    assert!(
        html.contains("The tenant beta was created in a database of its own"),
        "{html}"
    );
    assert!(html.contains("Own database"));
    let beta = server.tenant("beta").await;
    assert!(beta.placement.is_dedicated());
    let main = server.state.store.placements.as_deref().unwrap().main();
    assert!(server
        .state
        .store
        .users
        .by_email(beta.id, "owner@beta.test")
        .await
        .unwrap()
        .is_some());
    assert!(main
        .users
        .by_email(beta.id, "owner@beta.test")
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn reserved_slugs_are_refused_everywhere() {
    let server = TestServer::start().await;
    let (browser, csrf) = operator(&server).await;
    for slug in ["_ops", "_platforms"] {
        let before = server
            .state
            .store
            .tenants
            .list(None, None, 100)
            .await
            .unwrap()
            .len();
        post(
            &browser,
            &csrf,
            "platform_tenant_create",
            &[
                ("slug", slug),
                ("name", "Mine"),
                ("owner_email", "me@example.com"),
            ],
        )
        .await;
        let html = browser.page("/admin").await;
        assert!(html.contains("is reserved"), "{slug}: {html}");
        let refused =
            tessera::admin::tenants::create(&server.state, &Actor::Cli, slug, "Mine").await;
        assert!(matches!(refused, Err(AppError::Invalid(_))), "{slug}");
        let refused = platform::create_tenant(
            &server.state,
            &Actor::Cli,
            slug,
            "Mine",
            "me@example.com",
            "",
        )
        .await;
        assert!(matches!(refused, Err(AppError::Invalid(_))), "{slug}");
        let after = server
            .state
            .store
            .tenants
            .list(None, None, 100)
            .await
            .unwrap()
            .len();
        assert_eq!(before, after, "{slug}: nothing created");
    }
    assert_eq!(status_of(&server, "_platforms").await, None);
    // The operators' tenant itself is neither suspended nor deleted.
    for (action, confirm, says) in [
        ("suspend", "", "cannot be suspended"),
        ("delete", "_ops", "cannot be deleted"),
    ] {
        post(
            &browser,
            &csrf,
            "platform_tenant_action",
            &[("slug", "_ops"), ("action", action), ("confirm", confirm)],
        )
        .await;
        let html = browser.page("/admin").await;
        assert!(html.contains(says), "{action}: {html}");
        assert_eq!(status_of(&server, "_ops").await, Some(TenantStatus::Active));
    }
}

#[tokio::test]
async fn a_tenant_admin_is_not_an_operator() {
    let server = TestServer::start().await;
    let acme = server.tenant("acme").await;
    let new = NewUser {
        email: "admin@acme.test",
        name: None,
        password: Some(PASSWORD.into()),
        admin: true,
    };
    let admin = users::create(&server.state, &Actor::Cli, &acme, new)
        .await
        .unwrap();
    let browser = server.browser();
    let response = browser
        .sign_in("/t/acme/login", "admin@acme.test", PASSWORD)
        .await;
    assert!(response.status().is_redirection());
    let csrf = hidden(&browser.page("/t/acme").await, "csrf").unwrap();

    // Before any operator exists, and after.
    for round in 0..2 {
        if round == 1 {
            platform::create_operator(&server.state, &Actor::Cli, OPERATOR, None)
                .await
                .unwrap();
        }
        let statuses = attempts(&browser, &csrf).await;
        assert!(
            statuses.iter().all(|s| *s == StatusCode::FORBIDDEN),
            "round {round}: {statuses:?}"
        );
        assert_eq!(status_of(&server, "evil").await, None);
        assert_eq!(status_of(&server, "acme").await, Some(TenantStatus::Active));
        let html = browser.page("/admin").await;
        assert!(!html.contains("Create a tenant"), "{html}");
    }

    // The use cases themselves refuse a member of another tenant, even a fresh owner.
    let member = Actor::Member(Member {
        tenant_id: acme.id,
        user_id: admin.id,
        email: "admin@acme.test".into(),
        grants: Grants::of(&tessera::domain::Role::built_in()),
        fresh: true,
        meta: Default::default(),
    });
    let state = &server.state;
    assert!(matches!(
        platform::list(state, &member, "", None, 10).await,
        Err(AppError::Forbidden)
    ));
    assert!(matches!(
        platform::create_tenant(state, &member, "evil", "Evil", "e@evil.test", "").await,
        Err(AppError::Forbidden)
    ));
    assert!(matches!(
        platform::suspend(state, &member, "acme").await,
        Err(AppError::Forbidden)
    ));
    assert!(matches!(
        platform::delete(state, &member, "acme", "acme").await,
        Err(AppError::Forbidden)
    ));
    assert!(matches!(
        platform::create_operator(state, &member, "me@acme.test", None).await,
        Err(AppError::Forbidden)
    ));
    assert_eq!(status_of(&server, "acme").await, Some(TenantStatus::Active));
}

/// A non-operator's posts to every platform change; their statuses.
async fn attempts(browser: &Browser, csrf: &str) -> Vec<StatusCode> {
    let mut statuses = Vec::new();
    for (endpoint, fields) in [
        (
            "platform_tenant_create",
            vec![
                ("slug", "evil"),
                ("name", "Evil"),
                ("owner_email", "e@evil.test"),
            ],
        ),
        (
            "platform_tenant_action",
            vec![("slug", "acme"), ("action", "suspend")],
        ),
        (
            "platform_tenant_action",
            vec![("slug", "acme"), ("action", "delete"), ("confirm", "acme")],
        ),
    ] {
        statuses.push(post(browser, csrf, endpoint, &fields).await.status());
    }
    statuses
}

async fn client_credentials(server: &TestServer, secret: &str) -> (StatusCode, Value) {
    let response = server
        .http()
        .post(format!("{}/token", server.issuer("acme")))
        .basic_auth("service", Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_suspended_tenant_refuses_sign_ins_and_tokens_until_reactivated() {
    let server = TestServer::start().await;
    let (browser, csrf) = operator(&server).await;
    server.user("acme", "alice@acme.test").await;
    let service = server
        .client_with(
            "acme",
            "service",
            false,
            &[GrantType::ClientCredentials],
            &["api:read"],
            &[],
        )
        .await;
    let secret = service.secret.clone().unwrap();
    let web = server.client("acme", "web", false).await;
    let authorize = common::AuthRequest::new(&web).url(&server, "acme");
    assert_eq!(client_credentials(&server, &secret).await.0, StatusCode::OK);

    post(
        &browser,
        &csrf,
        "platform_tenant_action",
        &[("slug", "acme"), ("action", "suspend")],
    )
    .await;
    assert!(browser.page("/admin").await.contains("acme is suspended"));
    assert_eq!(
        status_of(&server, "acme").await,
        Some(TenantStatus::Suspended)
    );

    let (status, body) = client_credentials(&server, &secret).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "invalid_client");
    assert_eq!(body["error_description"], "This organisation is suspended");
    let person = server.browser();
    let login = person.get("/t/acme/login").await;
    assert_eq!(login.status(), StatusCode::FORBIDDEN);
    assert!(login
        .text()
        .await
        .unwrap()
        .contains("This organisation is suspended"));
    let submitted = person
        .post(
            "/api/login_email",
            &[
                ("tenant", "acme"),
                ("flow", ""),
                ("csrf", "x"),
                ("email", "alice@acme.test"),
            ],
        )
        .await;
    assert_eq!(submitted.status(), StatusCode::FORBIDDEN);
    let refused = person.get(&authorize).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(refused
        .text()
        .await
        .unwrap()
        .contains("This organisation is suspended"));
    let log: Vec<String> = server
        .audit_actions("acme")
        .await
        .into_iter()
        .map(|(a, ..)| a)
        .collect();
    assert!(log.contains(&"tenant.suspended".to_string()), "{log:?}");

    // Suspending again says so; reactivating restores everything.
    post(
        &browser,
        &csrf,
        "platform_tenant_action",
        &[("slug", "acme"), ("action", "suspend")],
    )
    .await;
    assert!(browser.page("/admin").await.contains("already suspended"));
    post(
        &browser,
        &csrf,
        "platform_tenant_action",
        &[("slug", "acme"), ("action", "reactivate")],
    )
    .await;
    assert!(browser
        .page("/admin")
        .await
        .contains("acme is active again"));
    assert_eq!(client_credentials(&server, &secret).await.0, StatusCode::OK);
    assert_eq!(person.get("/t/acme/login").await.status(), StatusCode::OK);
    let callback = person
        .authorize(&authorize, "alice@acme.test", PASSWORD, "allow")
        .await;
    assert!(callback.contains("code="), "{callback}");
    let ops_log = ops_actions(&server).await;
    assert!(
        ops_log.contains(&"tenant.suspended".to_string()),
        "{ops_log:?}"
    );
    assert!(
        ops_log.contains(&"tenant.reactivated".to_string()),
        "{ops_log:?}"
    );
}

#[tokio::test]
async fn deleting_a_tenant_needs_its_slug_typed() {
    let server = TestServer::start().await;
    let (browser, csrf) = operator(&server).await;
    server.user("acme", "alice@acme.test").await;
    for wrong in ["", "acm", "ACME", "default"] {
        post(
            &browser,
            &csrf,
            "platform_tenant_action",
            &[("slug", "acme"), ("action", "delete"), ("confirm", wrong)],
        )
        .await;
        assert!(
            browser
                .page("/admin")
                .await
                .contains("to confirm the deletion"),
            "{wrong:?}"
        );
        assert_eq!(
            status_of(&server, "acme").await,
            Some(TenantStatus::Active),
            "{wrong:?}"
        );
    }
    let deleted = post(
        &browser,
        &csrf,
        "platform_tenant_action",
        &[("slug", "acme"), ("action", "delete"), ("confirm", "acme")],
    )
    .await;
    assert_eq!(location(&deleted).as_deref(), Some("/admin"));
    assert!(browser
        .page("/admin")
        .await
        .contains("The tenant acme was deleted"));
    assert_eq!(status_of(&server, "acme").await, None);
    assert_eq!(
        server.browser().get("/t/acme/login").await.status(),
        StatusCode::NOT_FOUND
    );
    assert!(ops_actions(&server)
        .await
        .contains(&"tenant.deleted".to_string()));
    // Gone: a second deletion finds nothing.
    let again = post(
        &browser,
        &csrf,
        "platform_tenant_action",
        &[("slug", "acme"), ("action", "delete"), ("confirm", "acme")],
    )
    .await;
    assert_eq!(again.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        status_of(&server, "default").await,
        Some(TenantStatus::Active)
    );
}

fn tessera(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("STORAGE_SQLITE_PATH", dir.join("tessera.db"))
        .env("TESSERA_LISTEN", "127.0.0.1:0")
        .output()
        .unwrap()
}

#[test]
fn operators_are_created_at_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let help = tessera(dir.path(), &["operator", "create", "--help"]);
    assert!(help.status.success());
    assert!(text(&help.stdout).contains("Usage:"));
    assert!(text(&help.stdout).contains("--email"));

    let created = tessera(
        dir.path(),
        &["operator", "create", "--email", OPERATOR, "--name", "Olga"],
    );
    assert!(created.status.success(), "{}", text(&created.stderr));
    let out = text(&created.stdout);
    assert!(out.contains("Created operator ops@example.com"), "{out}");
    let password = out
        .lines()
        .find_map(|l| l.strip_prefix("password: "))
        .expect("the password, once");
    assert!(password.len() >= 16);
    assert!(out.contains("/t/_ops/login"), "{out}");

    let twice = tessera(dir.path(), &["operator", "create", "--email", OPERATOR]);
    assert!(!twice.status.success());
    assert!(
        text(&twice.stderr).contains("already an operator"),
        "{}",
        text(&twice.stderr)
    );
    for reserved in ["_ops", "_platforms"] {
        let refused = tessera(
            dir.path(),
            &["tenant", "create", reserved, "--name", "Mine"],
        );
        assert!(!refused.status.success(), "{reserved}");
        assert!(
            text(&refused.stderr).contains("reserved"),
            "{}",
            text(&refused.stderr)
        );
    }
}

/// The tenant list is searched by slug or name and paged within the results; a search that
/// is too long or spans lines is refused with a message, and a page link keeps the search.
#[tokio::test]
async fn operators_search_the_tenants_a_page_at_a_time() {
    let server = TestServer::start().await;
    for n in 0..55 {
        server.tenant(&format!("shop-{n:02}")).await;
    }
    server.tenant("bakery").await;
    let (browser, _) = operator(&server).await;

    let html = browser.page("/admin?q=BAKERY").await;
    assert!(
        html.contains("bakery") && !html.contains("shop-00"),
        "{html}"
    );
    assert!(!html.contains("Next page"));

    let html = browser.page("/admin?q=shop").await;
    assert!(html.contains("shop-00") && html.contains("shop-49"));
    assert!(!html.contains("shop-50") && !html.contains("bakery"));
    let next = html
        .split("href=\"")
        .skip(1)
        .map(|rest| rest[..rest.find('"').unwrap()].replace("&amp;", "&"))
        .find(|href| href.contains("after="))
        .expect("a next-page link");
    assert!(next.starts_with("/admin?q=shop&after="), "{next}");
    let html = browser.page(&next).await;
    assert!(
        html.contains(">shop-50<") && html.contains(">shop-54<"),
        "{html}"
    );
    assert!(
        !html.contains(">shop-49<"),
        "the second page starts after the first"
    );

    let html = browser.page("/admin?q=tenant+nobody+has").await;
    assert!(html.contains("No tenant"), "{html}");
    let long = "x".repeat(101);
    let html = browser.page(&format!("/admin?q={long}")).await;
    assert!(html.contains("at most 100 characters"), "{html}");
}
