//! API keys (issue 14, part 2): made in the console with at most the maker's permissions,
//! shown once and stored as a hash, recognisable by their prefix, recognised only in their
//! tenant while active, revoked, audited at every change and use.

mod common;

use common::{field_note, hidden, hidden_value, location, Browser, TestServer};
use reqwest::StatusCode;
use tessera::admin::api_keys::{self, KeyRefused};
use tessera::admin::{users, Actor};
use tessera::domain::{ApiKey, RequestMeta, Tenant, Timestamp, UserId};

struct Person {
    browser: Browser,
    csrf: String,
}

async fn person(server: &TestServer, tenant: &Tenant, email: &str, role: &str) -> (UserId, Person) {
    let id = server.person(tenant, email, Some(role)).await;
    let slug = tenant.slug.as_str();
    let browser = server.signed_in(slug, email).await;
    let html = browser.page(&format!("/t/{slug}")).await;
    let csrf = hidden(&html, "csrf").expect("csrf token");
    (id, Person { browser, csrf })
}

async fn post(who: &Person, endpoint: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    let mut form = vec![("tenant", "acme"), ("csrf", who.csrf.as_str())];
    form.extend_from_slice(fields);
    who.browser.post(&format!("/api/{endpoint}"), &form).await
}

async fn make(who: &Person, name: &str, permissions: &[&str], days: &str) -> reqwest::Response {
    let mut fields = vec![("name", name), ("expires", days)];
    fields.extend(permissions.iter().map(|p| ("permissions[]", *p)));
    post(who, "admin_api_key_create", &fields).await
}

async fn authenticate(
    server: &TestServer,
    tenant: &Tenant,
    key: &str,
) -> Result<Actor, KeyRefused> {
    api_keys::authenticate(&server.state, tenant, key, RequestMeta::default()).await
}

async fn keys(server: &TestServer, tenant: &Tenant) -> Vec<ApiKey> {
    server.state.store.api_keys.list(tenant.id).await.unwrap()
}

fn events(
    actions: &[(String, String, Option<String>)],
    action: &str,
    outcome: &str,
) -> Vec<String> {
    actions
        .iter()
        .filter(|(a, o, _)| a == action && o == outcome)
        .map(|(.., reason)| reason.clone().unwrap_or_default())
        .collect()
}

#[tokio::test]
async fn a_key_is_made_shown_once_used_within_its_permissions_and_revoked() {
    let server = TestServer::start().await;
    let acme = server.tenant("acme").await;
    let other = server.tenant("other").await;
    let (_, admin) = person(&server, &acme, "admin@acme.test", "admin").await;
    let (someone, _) = person(&server, &acme, "member@acme.test", "member").await;

    let response = make(&admin, "Directory sync", &["users:read"], "30").await;
    let to = location(&response).expect("to the keys page");
    assert_eq!(to, "/t/acme/admin/api-keys?show=1");
    let page = admin.browser.page(&to).await;
    let secret = hidden_value(&page, "data-testid=\"api-key-secret\"").expect("the key, once");
    assert!(secret.starts_with("tsk_") && secret.len() == 47, "{secret}");
    let again = admin.browser.page(&to).await;
    assert!(!again.contains(&secret), "shown only once");
    assert!(again.contains("Directory sync") && again.contains(&format!("{}…", &secret[..10])));
    assert!(again.contains("Never"), "not used yet");

    let stored = keys(&server, &acme).await;
    assert_eq!(stored.len(), 1);
    let key = &stored[0];
    assert_eq!(
        key.hash,
        tessera::crypto::sha256_hex(&secret),
        "only the hash is kept"
    );
    assert_ne!(key.hash, secret);
    assert_eq!(key.hint, &secret[..10]);
    let lifetime = key.expires_at.unix() - key.created_at.unix();
    assert_eq!(lifetime, 30 * 86_400);

    // Used: the key's permissions, in its tenant only.
    let actor = authenticate(&server, &acme, &secret)
        .await
        .expect("accepted");
    assert!(users::get(&server.state, &actor, &acme, someone)
        .await
        .is_ok());
    let refused = users::set_blocked(&server.state, &actor, &acme, someone, true).await;
    assert!(
        matches!(refused, Err(tessera::error::AppError::Forbidden)),
        "users:write not given"
    );
    assert!(matches!(
        users::get(&server.state, &actor, &other, someone).await,
        Err(tessera::error::AppError::Forbidden)
    ));
    assert!(matches!(
        authenticate(&server, &other, &secret).await,
        Err(KeyRefused::Refused)
    ));
    let used = keys(&server, &acme).await[0].last_used_at;
    assert!(used.is_some(), "last use recorded");
    let page = admin.browser.page("/t/acme/admin/api-keys").await;
    assert!(!page.contains(">Never<"), "the console shows the last use");

    // Malformed and unknown keys are refused before anything is found.
    for bad in [
        "",
        "tsk_",
        "Bearer x",
        &secret[..46],
        &format!("{secret}x"),
        &secret.replace("tsk_", "tsx_"),
    ] {
        assert!(
            matches!(
                authenticate(&server, &acme, bad).await,
                Err(KeyRefused::Refused)
            ),
            "{bad:?}"
        );
    }
    let mut unknown = secret.clone();
    unknown.replace_range(10..11, if &secret[10..11] == "A" { "B" } else { "A" });
    assert!(matches!(
        authenticate(&server, &acme, &unknown).await,
        Err(KeyRefused::Refused)
    ));

    // Revoking needs the box ticked; then the key no longer works.
    let id = key.id.to_string();
    let response = post(&admin, "admin_api_key_revoke", &[("key", &id)]).await;
    assert!(response.status().is_redirection());
    assert!(
        keys(&server, &acme).await[0].revoked_at.is_none(),
        "not without confirmation"
    );
    post(
        &admin,
        "admin_api_key_revoke",
        &[("key", &id), ("confirm", "yes")],
    )
    .await;
    assert!(keys(&server, &acme).await[0].revoked_at.is_some());
    assert!(matches!(
        authenticate(&server, &acme, &secret).await,
        Err(KeyRefused::Refused)
    ));
    let response = post(
        &admin,
        "admin_api_key_revoke",
        &[("key", &id), ("confirm", "yes")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND, "revoked already");
    let page = admin.browser.page("/t/acme/admin/api-keys").await;
    assert!(page.contains("Revoked"));

    let actions = server.audit_actions("acme").await;
    let created = events(&actions, "api_key.created", "success");
    assert_eq!(created.len(), 1);
    assert!(created[0].contains("permissions=users:read"), "{created:?}");
    assert!(
        !created[0].contains(&secret[4..]),
        "the key is never logged"
    );
    assert_eq!(events(&actions, "api_key.used", "success").len(), 1);
    let refusals = events(&actions, "api_key.used", "failure");
    assert!(
        refusals.contains(&"malformed key".to_string()),
        "{refusals:?}"
    );
    assert!(refusals.contains(&"unknown key".to_string()));
    assert!(refusals.contains(&"revoked".to_string()));
    assert_eq!(events(&actions, "api_key.revoked", "success").len(), 1);
    let elsewhere = server.audit_actions("other").await;
    assert_eq!(
        events(&elsewhere, "api_key.used", "failure"),
        ["unknown key"]
    );
}

#[tokio::test]
async fn nobody_makes_a_key_with_more_than_they_hold_or_from_bad_input() {
    let server = TestServer::start().await;
    let acme = server.tenant("acme").await;
    let other = server.tenant("other").await;
    let (_, admin) = person(&server, &acme, "admin@acme.test", "admin").await;
    let (_, developer) = person(&server, &acme, "developer@acme.test", "developer").await;

    // The admin holds neither `*` nor the owners' everything.
    let response = make(&admin, "Root", &["*"], "30").await;
    let page = admin
        .browser
        .follow(response)
        .await
        .unwrap_err()
        .text()
        .await
        .unwrap();
    assert!(
        field_note(&page, "key-permissions").contains("you do not hold"),
        "{page}"
    );
    let long = "x".repeat(61);
    for (name, permissions, days, field) in [
        ("", vec!["users:read"], "30", "key-name"),
        ("Bot\u{7}", vec!["users:read"], "30", "key-name"),
        (long.as_str(), vec!["users:read"], "30", "key-name"),
        ("Bot", vec![], "30", "key-permissions"),
        ("Bot", vec!["users:fly"], "30", "key-permissions"),
        ("Bot", vec!["users:read"], "5", "key-expires"),
        ("Bot", vec!["users:read"], "forever", "key-expires"),
    ] {
        let response = make(&admin, name, &permissions, days).await;
        let page = admin
            .browser
            .follow(response)
            .await
            .unwrap_err()
            .text()
            .await
            .unwrap();
        assert!(
            !field_note(&page, field).trim().is_empty(),
            "{name:?} {permissions:?} {days}: note at {field}"
        );
    }
    // Without the permission, or without a valid form token: refused.
    let response = make(&developer, "Mine", &["clients:manage_own"], "30").await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let forged = Person {
        browser: Browser {
            http: admin.browser.http.clone(),
            base: admin.browser.base.clone(),
        },
        csrf: "forged".into(),
    };
    make(&forged, "Forged", &["users:read"], "30").await;
    let page = developer
        .browser
        .get("/t/acme/admin/api-keys")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        !page.contains("Make a key"),
        "the developer sees no keys page"
    );
    // Another tenant's key cannot be revoked from here.
    let (_, other_admin) = person(&server, &other, "admin@other.test", "admin").await;
    let mut form = vec![("tenant", "other"), ("csrf", other_admin.csrf.as_str())];
    form.extend([
        ("name", "Theirs"),
        ("expires", "7"),
        ("permissions[]", "audit:read"),
    ]);
    other_admin
        .browser
        .post("/api/admin_api_key_create", &form)
        .await;
    let theirs = keys(&server, &other).await;
    assert_eq!(theirs.len(), 1);
    let id = theirs[0].id.to_string();
    let response = post(
        &admin,
        "admin_api_key_revoke",
        &[("key", &id), ("confirm", "yes")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let response = post(
        &admin,
        "admin_api_key_revoke",
        &[("key", "1' OR 1=1 --"), ("confirm", "yes")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(keys(&server, &other).await[0].revoked_at.is_none());
    assert!(
        keys(&server, &acme).await.is_empty(),
        "nothing was made in acme"
    );

    // An expired key is refused, and the refusal says why in the log.
    let secret = format!("tsk_{}", "e".repeat(43));
    let long_ago = Timestamp::now().plus_secs(-8 * 86_400);
    let expired = ApiKey::new(
        acme.id,
        "Old",
        &["users:read".to_string()],
        7,
        secret[..10].to_string(),
        tessera::crypto::sha256_hex(&secret),
        "cli".into(),
        long_ago,
    )
    .unwrap();
    server
        .state
        .store
        .api_keys
        .create(acme.id, &expired)
        .await
        .unwrap();
    assert!(matches!(
        authenticate(&server, &acme, &secret).await,
        Err(KeyRefused::Refused)
    ));
    let actions = server.audit_actions("acme").await;
    assert_eq!(events(&actions, "api_key.used", "failure"), ["expired"]);
    assert!(events(&actions, "api_key.created", "success").is_empty());
}
