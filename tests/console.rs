//! The organisation console's server functions, called the way a browser without JavaScript
//! calls them, and directly: permissions per built-in role, tenant boundaries, CSRF, malformed
//! and oversized input, the last owner, pagination under concurrent inserts, and the audit
//! export.

mod common;

use common::{field_note, hidden, location, Browser, TestServer, PASSWORD};
use reqwest::StatusCode;
use tessera::admin::{roles, users, users::NewUser, Actor};
use tessera::domain::{Tenant, UserId};
use tessera::store::UserQuery;

/// The built-in roles, each held by one person of the tenant `acme`.
const ROLES: [&str; 5] = ["owner", "admin", "developer", "auditor", "member"];

struct Person {
    id: UserId,
    browser: Browser,
    csrf: String,
}

struct Org {
    server: TestServer,
    tenant: Tenant,
    people: Vec<(&'static str, Person)>,
}

impl Org {
    fn person(&self, role: &str) -> &Person {
        &self.people.iter().find(|(r, _)| *r == role).unwrap().1
    }
}

async fn create_user(server: &TestServer, tenant: &Tenant, email: &str) -> UserId {
    let new = NewUser {
        email,
        name: Some("Test Person"),
        password: Some(PASSWORD.into()),
        admin: false,
    };
    users::create(&server.state, &Actor::Cli, tenant, new)
        .await
        .expect("user")
        .id
}

/// A signed-in browser of `email` in `slug`, with its CSRF token.
async fn signed_in(server: &TestServer, slug: &str, email: &str) -> (Browser, String) {
    let browser = server.browser();
    let response = browser
        .sign_in(&format!("/t/{slug}/login"), email, PASSWORD)
        .await;
    assert!(response.status().is_redirection(), "signed in");
    let html = browser.page(&format!("/t/{slug}")).await;
    let csrf = hidden(&html, "csrf").expect("csrf token");
    (browser, csrf)
}

async fn org() -> Org {
    let server = TestServer::start().await;
    let tenant = server.tenant("acme").await;
    let mut people = Vec::new();
    for role in ROLES {
        let email = format!("{role}@acme.test");
        let id = create_user(&server, &tenant, &email).await;
        if role != "member" {
            roles::assign(&server.state, &Actor::Cli, &tenant, id, role)
                .await
                .expect("role");
        }
        let (browser, csrf) = signed_in(&server, "acme", &email).await;
        people.push((role, Person { id, browser, csrf }));
    }
    Org {
        server,
        tenant,
        people,
    }
}

async fn post(person: &Person, endpoint: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    let mut form = vec![("tenant", "acme"), ("csrf", person.csrf.as_str())];
    form.extend_from_slice(fields);
    person
        .browser
        .post(&format!("/api/{endpoint}"), &form)
        .await
}

async fn user_named(org: &Org, id: UserId) -> Option<String> {
    org.server
        .state
        .store
        .users
        .by_id(org.tenant.id, id)
        .await
        .unwrap()
        .and_then(|u| u.name)
}

/// Every built-in role against every console use case: allowed exactly as the permission table
/// says, refused with 403 and no change otherwise.
#[tokio::test]
async fn permission_matrix() {
    let org = org().await;
    let state = &org.server.state;
    let victim = create_user(&org.server, &org.tenant, "victim@acme.test").await;
    let victim_id = victim.to_string();
    // (use case, roles allowed)
    let table: [(&str, &[&str]); 8] = [
        ("read users", &["owner", "admin"]),
        ("create user", &["owner", "admin"]),
        ("edit profile", &["owner", "admin"]),
        ("block", &["owner", "admin"]),
        ("give role", &["owner", "admin"]),
        ("create role", &["owner", "admin"]),
        ("create team", &["owner", "admin"]),
        ("export audit", &["owner", "admin", "auditor"]),
    ];
    for (case, allowed) in table {
        for role in ROLES {
            let person = org.person(role);
            let expect = allowed.contains(&role);
            let tag = format!("{case} as {role}");
            let (status, changed) = match case {
                "read users" => {
                    let html = person.browser.page("/t/acme/admin/users").await;
                    (
                        StatusCode::OK,
                        html.contains("victim@acme.test") && !html.contains("Not allowed"),
                    )
                }
                "create user" => {
                    let email = format!("new-{role}@acme.test");
                    let r = post(
                        person,
                        "admin_user_create",
                        &[("email", &email), ("name", "New"), ("password", "")],
                    )
                    .await;
                    let exists = state
                        .store
                        .users
                        .by_email(org.tenant.id, &email)
                        .await
                        .unwrap()
                        .is_some();
                    (r.status(), exists)
                }
                "edit profile" => {
                    let name = format!("Renamed by {role}");
                    let r = post(
                        person,
                        "admin_user_update",
                        &[
                            ("user", &victim_id),
                            ("email", "victim@acme.test"),
                            ("name", &name),
                        ],
                    )
                    .await;
                    (r.status(), user_named(&org, victim).await == Some(name))
                }
                "block" => {
                    let r = post(
                        person,
                        "admin_user_action",
                        &[("user", &victim_id), ("action", "block")],
                    )
                    .await;
                    let user = state
                        .store
                        .users
                        .by_id(org.tenant.id, victim)
                        .await
                        .unwrap()
                        .unwrap();
                    if user.blocked {
                        users::set_blocked(state, &Actor::Cli, &org.tenant, victim, false)
                            .await
                            .unwrap();
                    }
                    (r.status(), user.blocked)
                }
                "give role" => {
                    let r = post(
                        person,
                        "admin_user_role",
                        &[("user", &victim_id), ("role", "auditor"), ("grant", "1")],
                    )
                    .await;
                    let held = state
                        .store
                        .users
                        .roles(org.tenant.id, victim)
                        .await
                        .unwrap();
                    if !held.is_empty() {
                        state
                            .store
                            .access
                            .unassign_role(org.tenant.id, victim, "auditor")
                            .await
                            .unwrap();
                    }
                    (r.status(), !held.is_empty())
                }
                "create role" => {
                    let name = format!("Support {role}");
                    let r = post(
                        person,
                        "admin_role_save",
                        &[("name", &name), ("permissions[]", "users:read")],
                    )
                    .await;
                    let roles = state
                        .store
                        .access
                        .custom_roles(org.tenant.id)
                        .await
                        .unwrap();
                    (r.status(), roles.iter().any(|r| r.name == name))
                }
                "create team" => {
                    let name = format!("Team {role}");
                    let r = post(person, "admin_team_save", &[("name", &name)]).await;
                    let teams = state.store.access.teams(org.tenant.id).await.unwrap();
                    (r.status(), teams.iter().any(|t| t.name == name))
                }
                "export audit" => {
                    let r = person
                        .browser
                        .get("/t/acme/admin/audit/export?format=csv")
                        .await;
                    let status = r.status();
                    (status, status == StatusCode::OK)
                }
                _ => unreachable!(),
            };
            assert_eq!(changed, expect, "{tag}: allowed={expect}");
            if !expect && case != "read users" {
                assert_eq!(status, StatusCode::FORBIDDEN, "{tag} is answered 403");
            }
        }
    }
}

/// An admin of another tenant, using an id from this one, is refused and nothing changes;
/// so is a form without its CSRF token, and one with oversized or malformed fields.
#[tokio::test]
async fn tenant_boundaries_csrf_and_bad_input() {
    let org = org().await;
    let state = &org.server.state;
    let other = org.server.tenant("other").await;
    let outsider = create_user(&org.server, &other, "admin@other.test").await;
    roles::assign(state, &Actor::Cli, &other, outsider, "owner")
        .await
        .unwrap();
    let (browser, csrf) = signed_in(&org.server, "other", "admin@other.test").await;
    let victim = org.person("member").id.to_string();

    // Through the other tenant's console: acme's user is not found there.
    let response = browser
        .post(
            "/api/admin_user_action",
            &[
                ("tenant", "other"),
                ("csrf", &csrf),
                ("user", &victim),
                ("action", "block"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    // Through acme's console: the outsider is not signed in to acme.
    let response = browser
        .post(
            "/api/admin_user_action",
            &[
                ("tenant", "acme"),
                ("csrf", &csrf),
                ("user", &victim),
                ("action", "block"),
            ],
        )
        .await;
    assert!(response.status().is_redirection());
    let page = browser.page("/t/acme/admin/users").await;
    assert!(page.contains("Sign in"), "acme's console asks to sign in");
    let member = org.person("member").id;
    let user = state
        .store
        .users
        .by_id(org.tenant.id, member)
        .await
        .unwrap()
        .unwrap();
    assert!(!user.blocked, "nothing changed across tenants");

    let owner = org.person("owner");
    // Without (or with a wrong) CSRF token.
    let response = owner
        .browser
        .post(
            "/api/admin_user_update",
            &[
                ("tenant", "acme"),
                ("csrf", "forged"),
                ("user", &victim),
                ("email", "member@acme.test"),
                ("name", "Forged"),
            ],
        )
        .await;
    assert!(response.status().is_redirection());
    assert_ne!(user_named(&org, member).await.as_deref(), Some("Forged"));
    let page = owner.browser.page(&location(&response).unwrap()).await;
    assert!(page.contains("This form expired"), "the page says why");

    // Oversized and malformed fields.
    let long = "x".repeat(5000);
    for (field, value) in [("name", long.as_str()), ("email", "not an email")] {
        let mut form = vec![
            ("user", victim.as_str()),
            ("email", "member@acme.test"),
            ("name", "Fine"),
        ];
        form.retain(|(k, _)| *k != field);
        form.push((field, value));
        let response = post(owner, "admin_user_update", &form).await;
        assert!(response.status().is_redirection(), "{field}");
        assert_ne!(user_named(&org, member).await.as_deref(), Some("Fine"));
        let page = owner.browser.page(&location(&response).unwrap()).await;
        assert!(
            page.contains("role=\"alert\""),
            "{field}: an error is shown"
        );
    }
    for bad in [
        "not-a-uuid",
        "00000000-0000-0000-0000-000000000000",
        "' OR 1=1 --",
    ] {
        let response = post(
            owner,
            "admin_user_action",
            &[("user", bad), ("action", "block")],
        )
        .await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{bad}");
    }
    let response = post(
        owner,
        "admin_role_save",
        &[("name", "Bad"), ("permissions[]", "users:delete")],
    )
    .await;
    assert!(response.status().is_redirection());
    assert!(state
        .store
        .access
        .custom_roles(org.tenant.id)
        .await
        .unwrap()
        .is_empty());
    // A body far over the server's limit never reaches the function.
    let huge = "y".repeat(3 * 1024 * 1024);
    let response = post(
        owner,
        "admin_user_update",
        &[
            ("user", &victim),
            ("email", "member@acme.test"),
            ("name", &huge),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

/// Nobody hands out more than they hold, and the organisation always keeps an owner.
#[tokio::test]
async fn escalation_and_last_owner() {
    let org = org().await;
    let state = &org.server.state;
    let admin = org.person("admin");
    let owner = org.person("owner");
    let member = org.person("member").id.to_string();
    let owner_id = owner.id.to_string();

    // An admin can neither make someone an owner nor act on an owner.
    let response = post(
        admin,
        "admin_user_role",
        &[("user", &member), ("role", "owner"), ("grant", "1")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = post(
        admin,
        "admin_user_action",
        &[("user", &owner_id), ("action", "block")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = post(
        admin,
        "admin_role_save",
        &[("name", "Everything"), ("permissions[]", "*")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    // The only owner cannot give up the role...
    let response = post(
        owner,
        "admin_user_role",
        &[("user", &owner_id), ("role", "owner"), ("grant", "0")],
    )
    .await;
    assert!(response.status().is_redirection());
    let page = owner.browser.page(&location(&response).unwrap()).await;
    assert!(page.contains("without an owner"), "the page says why");
    let held = state
        .store
        .users
        .roles(org.tenant.id, owner.id)
        .await
        .unwrap();
    assert!(held.contains(&"owner".to_string()));

    // ...until a team makes someone else an owner; then that team cannot lose its last member.
    let team = roles::create_team(state, &Actor::Cli, &org.tenant, "Founders", "")
        .await
        .unwrap();
    roles::update_team(
        state,
        &Actor::Cli,
        &org.tenant,
        team.id,
        "Founders",
        "",
        &["owner".into()],
    )
    .await
    .unwrap();
    let member_id = org.person("member").id;
    roles::add_member(state, &Actor::Cli, &org.tenant, team.id, member_id)
        .await
        .unwrap();
    let response = post(
        owner,
        "admin_user_role",
        &[("user", &owner_id), ("role", "owner"), ("grant", "0")],
    )
    .await;
    assert!(response.status().is_redirection());
    assert!(!state
        .store
        .users
        .roles(org.tenant.id, owner.id)
        .await
        .unwrap()
        .contains(&"owner".to_string()));
    let refused = roles::remove_member(state, &Actor::Cli, &org.tenant, team.id, member_id).await;
    assert!(refused.is_err(), "the last owner stays in the team");
    let refused = roles::delete_team(state, &Actor::Cli, &org.tenant, team.id).await;
    assert!(refused.is_err(), "the team of the last owner stays");
    let refused = users::set_blocked(state, &Actor::Cli, &org.tenant, member_id, true).await;
    assert!(refused.is_err(), "the last owner cannot be blocked");
}

/// Two admins blocking the last two owners at the same moment: the check and the change are
/// made one at a time, so one of them is refused and an owner stays.
#[tokio::test]
async fn the_last_owner_survives_simultaneous_removals() {
    let org = org().await;
    let state = &org.server.state;
    let first = org.person("owner").id;
    let second = create_user(&org.server, &org.tenant, "owner2@acme.test").await;
    roles::assign(state, &Actor::Cli, &org.tenant, second, "owner")
        .await
        .unwrap();
    for round in 0..5 {
        let (a, b) = tokio::join!(
            users::set_blocked(state, &Actor::Cli, &org.tenant, first, true),
            users::set_blocked(state, &Actor::Cli, &org.tenant, second, true),
        );
        assert!(
            a.is_ok() != b.is_ok(),
            "round {round}: exactly one block succeeds ({:?} / {:?})",
            a.is_ok(),
            b.is_ok()
        );
        for id in [first, second] {
            users::set_blocked(state, &Actor::Cli, &org.tenant, id, false)
                .await
                .unwrap();
        }
    }
}

/// Deleting a role or a team needs its "I mean it" box ticked: unticked, nothing changes.
#[tokio::test]
async fn deleting_a_role_or_team_needs_confirmation() {
    let org = org().await;
    let state = &org.server.state;
    let admin = org.person("admin");
    let role = roles::create(state, &Actor::Cli, &org.tenant, "Support", "", &[])
        .await
        .unwrap();
    let team = roles::create_team(state, &Actor::Cli, &org.tenant, "Ops", "")
        .await
        .unwrap();
    let team_id = team.id.to_string();
    let role_exists = || async {
        roles::list(state, &Actor::Cli, &org.tenant)
            .await
            .unwrap()
            .iter()
            .any(|r| r.id == role.id)
    };
    let team_exists = || async {
        roles::teams(state, &Actor::Cli, &org.tenant)
            .await
            .unwrap()
            .iter()
            .any(|t| t.id == team.id)
    };
    for confirm in ["", "no", "YES "] {
        let response = post(
            admin,
            "admin_role_delete",
            &[("role", &role.id), ("confirm", confirm)],
        )
        .await;
        let page = admin.browser.page(&location(&response).unwrap()).await;
        assert!(page.contains("Tick the box to confirm deleting the role."));
        let response = post(
            admin,
            "admin_team_change",
            &[
                ("team", &team_id),
                ("action", "delete"),
                ("confirm", confirm),
            ],
        )
        .await;
        let page = admin.browser.page(&location(&response).unwrap()).await;
        assert!(page.contains("Tick the box to confirm deleting the team."));
    }
    assert!(role_exists().await && team_exists().await);
    post(
        admin,
        "admin_role_delete",
        &[("role", &role.id), ("confirm", "yes")],
    )
    .await;
    post(
        admin,
        "admin_team_change",
        &[("team", &team_id), ("action", "delete"), ("confirm", "yes")],
    )
    .await;
    assert!(!role_exists().await && !team_exists().await);
}

/// Paging newest-first with a cursor: users created while someone pages never shift a page,
/// so every original user is seen exactly once.
#[tokio::test]
async fn pagination_with_concurrent_inserts() {
    let server = TestServer::start().await;
    let tenant = server.tenant("acme").await;
    let state = &server.state;
    let mut original = Vec::new();
    for n in 0..120 {
        let user = tessera::domain::User::new(
            tenant.id,
            tessera::domain::Email::parse(&format!("p{n:03}@acme.test")).unwrap(),
            Some("Paged"),
        )
        .unwrap();
        state
            .store
            .users
            .create(tenant.id, &user, &[])
            .await
            .unwrap();
        original.push(user.id);
    }
    let query = UserQuery {
        text: Some("PAGED".into()),
        ..UserQuery::default()
    };
    let mut seen = Vec::new();
    let mut before = None;
    let mut extra = 0;
    loop {
        let page = users::search(state, &Actor::Cli, &tenant, &query, before, 50)
            .await
            .unwrap();
        seen.extend(page.iter().map(|u| u.id));
        // Someone creates users between page loads.
        for _ in 0..7 {
            extra += 1;
            let email = format!("late{extra}@acme.test");
            let user = tessera::domain::User::new(
                tenant.id,
                tessera::domain::Email::parse(&email).unwrap(),
                Some("Paged"),
            )
            .unwrap();
            state
                .store
                .users
                .create(tenant.id, &user, &[])
                .await
                .unwrap();
        }
        if page.len() < 50 {
            break;
        }
        before = page.last().map(|u| u.id);
    }
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), seen.len(), "no user appears twice");
    for id in &original {
        assert!(seen.contains(id), "every original user is listed");
    }
    assert!(
        seen.windows(2).all(|w| w[0] > w[1]),
        "newest first, strictly"
    );
}

/// The audit page lists console actions with their actor, and the exports contain them,
/// streamed.
#[tokio::test]
async fn audit_page_and_export() {
    let org = org().await;
    let owner = org.person("owner");
    let response = post(
        owner,
        "admin_user_create",
        &[
            ("email", "audited@acme.test"),
            ("name", "Audited"),
            ("password", PASSWORD),
        ],
    )
    .await;
    assert!(response.status().is_redirection());
    let html = owner.browser.page("/t/acme/admin/audit?action=user.").await;
    assert!(html.contains("user.created"), "the page lists the action");
    assert!(
        !html.contains("<code>login.password</code>"),
        "the filter applies"
    );
    let actor = format!("user:{}", owner.id);
    assert!(html.contains(&actor), "with who did it");

    let csv = owner
        .browser
        .get("/t/acme/admin/audit/export?format=csv&action=user.created")
        .await;
    assert_eq!(csv.status(), StatusCode::OK);
    assert!(csv.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let body = csv.text().await.unwrap();
    let mut lines = body.lines();
    assert!(lines
        .next()
        .unwrap()
        .starts_with("id,at,action,result,actor"));
    assert!(body.contains(&actor) && body.contains("user.created"));
    let jsonl = owner
        .browser
        .get("/t/acme/admin/audit/export?format=jsonl")
        .await
        .text()
        .await
        .unwrap();
    for line in jsonl.lines() {
        let event: serde_json::Value = serde_json::from_str(line).expect("one JSON per line");
        assert!(event["action"].is_string());
    }
    assert!(jsonl.contains("\"audit.exported\""), "exports are audited");
    let bad = owner
        .browser
        .get("/t/acme/admin/audit/export?format=xml")
        .await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let bad = owner
        .browser
        .get("/t/acme/admin/audit/export?from=yesterday")
        .await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let anonymous = org.server.browser();
    let refused = anonymous.get("/t/acme/admin/audit/export").await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
}

/// The client id and (shown once) secret of an application registered through the console.
async fn register(person: &Person, app_type: &str, name: &str, uris: &str) -> reqwest::Response {
    post(
        person,
        "admin_client_register",
        &[
            ("app_type", app_type),
            ("name", name),
            ("redirect_uris", uris),
        ],
    )
    .await
}

fn client_id_of(location: &str) -> String {
    let path = location.split('?').next().unwrap();
    path.rsplit('/').next().unwrap().to_string()
}

/// A developer registers a web application with the new-application flow: the secret is shown
/// exactly once and works at the token endpoint with a real sign-in; only its developer (and
/// admins) can see or change it; rotation keeps the old secret for its grace period.
#[tokio::test]
async fn developers_register_and_manage_their_own_applications() {
    let org = org().await;
    let state = &org.server.state;
    let developer = org.person("developer");
    let callback = "https://app.example.com/callback";
    let response = register(developer, "web", "Shop", callback).await;
    let to = location(&response).expect("to the new application's page");
    assert!(to.ends_with("?show=1"), "{to}");
    let client_id = client_id_of(&to);
    let page = developer.browser.page(&to).await;
    let secret = common::hidden_value(&page, "data-testid=\"client-secret\"").expect("secret");
    assert!(page.contains(&format!(
        "{}/.well-known/openid-configuration",
        org.server.issuer("acme")
    )));
    assert!(page.contains("OIDC_CLIENT_ID="), "a snippet to paste");
    let again = developer.browser.page(&to).await;
    assert!(!again.contains(&secret), "the secret is shown only once");
    let client = state
        .store
        .clients
        .by_client_id(org.tenant.id, &client_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(client.created_by, Some(developer.id));
    assert!(client.allows_grant(tessera::domain::GrantType::AuthorizationCode));
    assert!(client.pkce_required());

    // A person signs in to it, and the application redeems the code with the secret.
    let app = common::TestClient {
        client_id: client_id.clone(),
        secret: Some(secret.clone()),
        redirect_uri: callback.into(),
    };
    let request = common::AuthRequest::new(&app);
    let person = org.server.browser();
    let back = person
        .authorize(
            &request.url(&org.server, "acme"),
            "member@acme.test",
            PASSWORD,
            "allow",
        )
        .await;
    let code = common::query(&back)["code"].clone();
    let token = |secret: String, code: String| {
        let http = org.server.http();
        let url = format!("{}/token", org.server.issuer("acme"));
        let client_id = client_id.clone();
        async move {
            http.post(url)
                .basic_auth(&client_id, Some(secret))
                .form(&[
                    ("grant_type", "authorization_code"),
                    ("code", code.as_str()),
                    ("redirect_uri", callback),
                    ("code_verifier", common::VERIFIER),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    let tokens = token(secret.clone(), code).await;
    assert_eq!(tokens.status(), StatusCode::OK);
    let tokens: serde_json::Value = tokens.json().await.unwrap();
    let access_token = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh_token = tokens["refresh_token"]
        .as_str()
        .expect("a web application gets a refresh token")
        .to_owned();
    let userinfo = || {
        org.server
            .http()
            .get(format!("{}/userinfo", org.server.issuer("acme")))
            .bearer_auth(&access_token)
            .send()
    };
    assert_eq!(userinfo().await.unwrap().status(), StatusCode::OK);

    // The person's page lists the consent; an admin withdraws it.
    let member = org.person("member").id;
    let admin = org.person("admin");
    let page = admin
        .browser
        .page(&format!("/t/acme/admin/users/{member}"))
        .await;
    assert!(
        page.contains("Shop: openid profile email"),
        "the consent is listed"
    );
    let member_id = member.to_string();
    let response = post(
        admin,
        "admin_user_action",
        &[
            ("user", &member_id),
            ("action", "revoke_consent"),
            ("client", &client_id),
        ],
    )
    .await;
    assert!(response.status().is_redirection());
    assert!(state
        .store
        .consents
        .get(org.tenant.id, member, &client_id)
        .await
        .unwrap()
        .is_none());
    // What the consent allowed ends with it: the access token and the refresh token.
    assert_eq!(userinfo().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    let refreshed = org
        .server
        .http()
        .post(format!("{}/token", org.server.issuer("acme")))
        .basic_auth(&client_id, Some(&secret))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refreshed.status(), StatusCode::BAD_REQUEST);
    let refused: serde_json::Value = refreshed.json().await.unwrap();
    assert_eq!(refused["error"], "invalid_grant");

    // Another developer neither sees nor changes it; an admin does.
    let other = create_user(&org.server, &org.tenant, "dev2@acme.test").await;
    roles::assign(state, &Actor::Cli, &org.tenant, other, "developer")
        .await
        .unwrap();
    let (browser, csrf) = signed_in(&org.server, "acme", "dev2@acme.test").await;
    let dev2 = Person {
        id: other,
        browser,
        csrf,
    };
    let list = dev2.browser.page("/t/acme/admin/clients").await;
    assert!(!list.contains(&client_id), "another developer's list");
    let refused = dev2
        .browser
        .get(&format!("/t/acme/admin/clients/{client_id}"))
        .await;
    assert_eq!(refused.status(), StatusCode::NOT_FOUND);
    let refused = post(
        &dev2,
        "admin_client_action",
        &[("client", &client_id), ("action", "disable")],
    )
    .await;
    assert_eq!(refused.status(), StatusCode::NOT_FOUND);
    let admin_list = org
        .person("admin")
        .browser
        .page("/t/acme/admin/clients")
        .await;
    assert!(
        admin_list.contains(&client_id),
        "admins see every application"
    );
    let refused = register(org.person("member"), "web", "Nope", callback).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);

    // Rotation: the new secret is shown once; the old one works during the grace period.
    let response = post(
        developer,
        "admin_client_action",
        &[
            ("client", &client_id),
            ("action", "rotate"),
            ("grace", "3600"),
        ],
    )
    .await;
    let to = location(&response).unwrap();
    let page = developer.browser.page(&to).await;
    let rotated = common::hidden_value(&page, "data-testid=\"client-secret\"").expect("new secret");
    assert_ne!(rotated, secret);
    for (candidate, expected) in [
        (secret.as_str(), "invalid_grant"),
        (rotated.as_str(), "invalid_grant"),
        ("not-the-secret", "invalid_client"),
    ] {
        let response = org
            .server
            .http()
            .post(format!("{}/token", org.server.issuer("acme")))
            .basic_auth(&client_id, Some(candidate))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", "unknown-code"),
                ("redirect_uri", callback),
                ("code_verifier", common::VERIFIER),
            ])
            .send()
            .await
            .unwrap();
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"], expected, "secret {candidate}");
    }

    // Disable, then delete with the typed client id.
    let response = post(
        developer,
        "admin_client_action",
        &[
            ("client", &client_id),
            ("action", "delete"),
            ("confirm", "wrong"),
        ],
    )
    .await;
    assert!(response.status().is_redirection());
    assert!(state
        .store
        .clients
        .by_client_id(org.tenant.id, &client_id)
        .await
        .unwrap()
        .is_some());
    let response = post(
        developer,
        "admin_client_action",
        &[
            ("client", &client_id),
            ("action", "delete"),
            ("confirm", &client_id),
        ],
    )
    .await;
    assert!(response.status().is_redirection());
    assert!(state
        .store
        .clients
        .by_client_id(org.tenant.id, &client_id)
        .await
        .unwrap()
        .is_none());
}

/// Redirect URIs follow the protocol rules and the application type; each refusal says why
/// and registers nothing.
#[tokio::test]
async fn new_application_validates_redirect_uris() {
    let org = org().await;
    let developer = org.person("developer");
    for (kind, uris, why) in [
        ("web", "http://app.example.com/cb", "https"),
        ("web", "https://app.example.com/cb#x", "fragment"),
        ("web", "https://*.example.com/cb", "wildcards"),
        ("web", "", "at least one"),
        ("spa", "com.example.app:/cb", "native apps"),
        (
            "service",
            "https://app.example.com/cb",
            "leave the redirect URIs empty",
        ),
        ("tv", "", "type of application"),
    ] {
        let response = register(developer, kind, "App", uris).await;
        assert!(response.status().is_redirection(), "{kind} {uris}");
        let page = developer.browser.page(&location(&response).unwrap()).await;
        assert!(page.contains(why), "{kind} {uris}: says {why}");
        if ["web", "spa"].contains(&kind) {
            let note = field_note(&page, "redirect-uris");
            assert!(note.contains(why), "next to the field: {note}");
        }
    }
    assert!(org
        .server
        .state
        .store
        .clients
        .list(org.tenant.id)
        .await
        .unwrap()
        .is_empty());
    for (kind, uris) in [
        ("native", "com.example.app:/cb\nhttp://127.0.0.1/cb"),
        ("spa", "http://localhost:5173/cb"),
        ("service", ""),
        ("device", ""),
    ] {
        let response = register(developer, kind, "App", uris).await;
        let to = location(&response).unwrap();
        assert!(to.contains("/admin/clients/"), "{kind}: {to}");
    }
    let clients = org
        .server
        .state
        .store
        .clients
        .list(org.tenant.id)
        .await
        .unwrap();
    let public = clients.iter().filter(|c| c.secret_hash.is_none()).count();
    assert_eq!(
        (clients.len(), public),
        (4, 3),
        "only the service has a secret"
    );
}

fn policy_form<'a>(min_length: &'a str, idle: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("session_hours", "8"),
        ("idle_minutes", idle),
        ("password_min_length", min_length),
        ("block_common_passwords", "on"),
        ("factors[]", "totp"),
        ("factors[]", "passkey"),
        ("access_token_minutes", "5"),
        ("refresh_idle_days", "30"),
        ("refresh_absolute_days", "90"),
    ]
}

/// Policies: saved only by those allowed, within their bounds, and enforced afterwards (a
/// password shorter than the new minimum, or a common one, is refused).
#[tokio::test]
async fn policies_are_bounded_and_enforced() {
    let org = org().await;
    let state = &org.server.state;
    let refused = post(
        org.person("auditor"),
        "admin_settings_save",
        &policy_form("12", "30"),
    )
    .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let admin = org.person("admin");
    for (min, idle, field, why) in [
        ("4", "30", "password_min_length", "8 to 64"),
        ("12", "x", "idle_minutes", "is a whole number"),
        (
            "12",
            "100000",
            "idle_minutes",
            "lifetime) is 1 minute to 8 hours.",
        ),
    ] {
        let response = post(admin, "admin_settings_save", &policy_form(min, idle)).await;
        let page = admin.browser.page(&location(&response).unwrap()).await;
        let note = field_note(&page, field);
        assert!(note.contains(why), "{field} refused because {why}: {note}");
    }
    let unchanged = state
        .store
        .tenants
        .by_id(org.tenant.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(unchanged.settings.password_min_length, 8);

    let response = post(admin, "admin_settings_save", &policy_form("12", "30")).await;
    assert!(response.status().is_redirection());
    let tenant = state
        .store
        .tenants
        .by_id(org.tenant.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(tenant.settings.password_min_length, 12);
    assert_eq!(tenant.settings.session_idle_timeout_secs, 1800);
    assert_eq!(tenant.settings.access_token_secs, 300);
    assert_eq!(
        tenant.settings.allowed_factors,
        [
            tessera::domain::FactorKind::Totp,
            tessera::domain::FactorKind::Passkey
        ]
    );
    for weak in ["short pass", "password1234"] {
        let new = NewUser {
            email: "weak@acme.test",
            name: None,
            password: Some(weak.into()),
            admin: false,
        };
        assert!(
            users::create(state, &Actor::Cli, &tenant, new)
                .await
                .is_err(),
            "{weak}"
        );
    }
    let actions = org.server.audit_actions("acme").await;
    assert!(actions.iter().any(|(a, ..)| a == "tenant.policy_changed"));
}

/// Branding: the colour reaches every end-user page through the tenant's stylesheet; logos are
/// checked by content (SVG and disguised files refused) and served so they cannot run.
#[tokio::test]
async fn branding_is_checked_and_applied() {
    let org = org().await;
    let state = &org.server.state;
    let admin = org.person("admin");
    let look = |colour: &'static str| {
        vec![
            ("name", "Acme Corp"),
            ("primary_colour", colour),
            ("support_url", "https://help.acme.test"),
            ("support_email", "help@acme.test"),
            ("intent", "save"),
        ]
    };
    let refused = post(
        org.person("developer"),
        "admin_branding_save",
        &look("#aa0000"),
    )
    .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let response = post(admin, "admin_branding_save", &look("#777777")).await;
    let page = admin.browser.page(&location(&response).unwrap()).await;
    assert!(
        page.contains("has a contrast of"),
        "low contrast is warned about"
    );
    let response = post(admin, "admin_branding_save", &look("url(evil)")).await;
    let page = admin.browser.page(&location(&response).unwrap()).await;
    assert!(page.contains("six hexadecimal digits"));
    post(admin, "admin_branding_save", &look("#0B6E4F")).await;
    let css = org.server.browser().page("/t/acme/branding.css").await;
    assert!(css.contains("--primary: #0b6e4f"), "{css}");
    // A dark green reads as a link on the light page, not on the dark one.
    assert!(
        css.contains("prefers-color-scheme: light) { :root { --link: #0b6e4f; }")
            && !css.contains("prefers-color-scheme: dark"),
        "{css}"
    );

    // A preview changes nothing until saved.
    let mut preview = look("#123456");
    preview.retain(|(k, _)| *k != "intent");
    preview.push(("intent", "preview"));
    post(admin, "admin_branding_save", &preview).await;
    let css = org.server.browser().page("/t/acme/branding.css").await;
    assert!(css.contains("#0b6e4f"), "the preview is not saved");
    let preview_css = admin.browser.page("/t/acme/branding.css?preview=1").await;
    assert!(preview_css.contains(".brand-preview") && preview_css.contains("#123456"));
    // A light yellow: dark text on its buttons; as a link only on the dark page.
    let mut light = look("#f2d74e");
    light.retain(|(k, _)| *k != "intent");
    light.push(("intent", "preview"));
    post(admin, "admin_branding_save", &light).await;
    let preview_css = admin.browser.page("/t/acme/branding.css?preview=1").await;
    assert!(
        preview_css.contains("--on-primary: #111111")
            && preview_css
                .contains("prefers-color-scheme: dark) { .brand-preview { --link: #f2d74e; }")
            && !preview_css.contains("prefers-color-scheme: light"),
        "{preview_css}"
    );

    let upload = |bytes: Vec<u8>, name: &'static str, csrf: String| {
        let part = reqwest::multipart::Part::bytes(bytes).file_name(name);
        let form = reqwest::multipart::Form::new()
            .text("csrf", csrf)
            .part("logo", part);
        admin
            .browser
            .http
            .post(admin.browser.absolute("/t/acme/admin/branding/logo"))
            .multipart(form)
            .send()
    };
    let svg = b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>".to_vec();
    let response = upload(svg, "logo.png", admin.csrf.clone()).await.unwrap();
    let page = admin.browser.page(&location(&response).unwrap()).await;
    assert!(
        page.contains("PNG, JPEG or WebP"),
        "SVG refused whatever its name"
    );
    let forged = upload(b"\x89PNG\r\n\x1a\nx".to_vec(), "logo.png", "forged".into())
        .await
        .unwrap();
    assert!(forged.status().is_redirection());
    let tenant = state
        .store
        .tenants
        .by_id(org.tenant.id)
        .await
        .unwrap()
        .unwrap();
    assert!(tenant.settings.branding.logo.is_none(), "nothing saved");
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    upload(png.clone(), "logo.bin", admin.csrf.clone())
        .await
        .unwrap();
    let logo = org.server.browser().get("/t/acme/branding/logo").await;
    assert_eq!(logo.headers()["content-type"], "image/png");
    assert_eq!(logo.headers()["x-content-type-options"], "nosniff");
    assert_eq!(logo.bytes().await.unwrap().to_vec(), png);

    // The sign-in page carries the look.
    let html = org.server.browser().page("/t/acme/login").await;
    assert!(html.contains("/t/acme/branding.css"));
    assert!(html.contains("/t/acme/branding/logo?v="));
    assert!(html.contains("help@acme.test"));
    assert!(html.contains("Acme Corp"));
}

/// The overview draws the tenant's activity for those who may read the audit log: sign-ins
/// per day, active people, second factors and the busiest applications, as SVG in the page
/// itself (no script); the others see the areas only.
#[tokio::test]
async fn the_overview_draws_the_tenants_activity() {
    let org = org().await;
    let server = &org.server;
    let refused = server
        .browser()
        .sign_in("/t/acme/login", "member@acme.test", "not the password")
        .await;
    assert!(location(&refused).unwrap().contains("error=incorrect"));
    let billing = server
        .register(
            "acme",
            tessera::admin::clients::NewClient {
                client_id: "billing".into(),
                name: "Billing API".into(),
                grants: vec![tessera::domain::GrantType::ClientCredentials],
                ..Default::default()
            },
        )
        .await;
    let secret = billing.secret.unwrap();
    for _ in 0..3 {
        let status = server.client_credentials("acme", "billing", &secret).await;
        assert_eq!(status, StatusCode::OK);
    }

    let html = org.person("auditor").browser.page("/t/acme/admin").await;
    // Everyone of `org` signed in once; one wrong password.
    assert!(
        html.contains("5 sign-ins and 1 failed attempt in the last 30 days."),
        "{html}"
    );
    assert!(html.contains("role=\"img\"") && html.contains("class=\"chart\">"));
    assert!(
        html.matches("class=\"bar-ok\"").count() >= 30,
        "a bar a day"
    );
    assert!(html.contains("Billing API"));
    assert!(
        html.contains("of 5 people (100%)"),
        "everyone signed in just now"
    );
    assert!(html.contains("Any second factor"));

    let html = org.person("developer").browser.page("/t/acme/admin").await;
    assert!(html.contains("Applications") || html.contains("clients"));
    assert!(
        !html.contains("Sign-ins per day"),
        "no audit:read, no figures"
    );
}

/// App registration (RFC 7591) in the console: an initial access token is made with a name, a
/// number of registrations and a lifetime, shown once and listed with its hint (never itself),
/// used by an application that registers itself (marked "Self-registered" in the list and on
/// its page), and revoked; only those with `clients:manage` see the page or change anything;
/// the open-registration switch of the policies is saved.
#[tokio::test]
async fn initial_access_tokens_and_self_registered_applications() {
    let org = org().await;
    let state = &org.server.state;
    let admin = org.person("admin");
    let issuer = org.server.issuer("acme");

    let page = admin.browser.page("/t/acme/admin/registration").await;
    assert!(page.contains("Make a token") && page.contains("No initial access tokens yet"));
    assert!(page.contains("Open registration is off"), "{page}");
    assert!(page.contains(&format!("{issuer}/register")));
    let clients = admin.browser.page("/t/acme/admin/clients").await;
    assert!(
        clients.contains("href=\"/t/acme/admin/registration\""),
        "linked from the applications"
    );

    // Refused input names its field; nothing is made.
    for (name, uses, days, field) in [
        ("", "5", "7", "token-name"),
        ("Partners", "0", "7", "token-uses"),
        ("Partners", "1001", "7", "token-uses"),
        ("Partners", "many", "7", "token-uses"),
        ("Partners", "5", "2", "token-expires"),
        ("Partners", "5", "forever", "token-expires"),
    ] {
        let response = post(
            admin,
            "admin_initial_token_create",
            &[("name", name), ("uses", uses), ("expires", days)],
        )
        .await;
        let page = admin.browser.page(&location(&response).unwrap()).await;
        assert!(
            !field_note(&page, field).trim().is_empty(),
            "{name:?} {uses} {days}: note at {field}"
        );
    }
    let stored = state
        .store
        .initial_tokens
        .list(org.tenant.id)
        .await
        .unwrap();
    assert!(stored.is_empty(), "nothing made from bad input");

    // Made: shown once, then listed with its hint and uses, never the token itself.
    let response = post(
        admin,
        "admin_initial_token_create",
        &[
            ("name", "Partner onboarding"),
            ("uses", "5"),
            ("expires", "30"),
        ],
    )
    .await;
    let to = location(&response).expect("to the registration page");
    assert_eq!(to, "/t/acme/admin/registration?show=1");
    let page = admin.browser.page(&to).await;
    let secret = common::hidden_value(&page, "data-testid=\"initial-token-secret\"")
        .expect("the token, once");
    assert!(secret.starts_with("tsi_"), "{secret}");
    assert!(
        page.contains("Authorization: Bearer &lt;token"),
        "how to use it"
    );
    assert!(page.contains(&format!("POST {issuer}/register")));
    assert!(page.contains("shown only this once"));
    let again = admin.browser.page("/t/acme/admin/registration").await;
    assert!(!again.contains(&secret[4..]), "shown only once");
    assert!(again.contains("Partner onboarding"));
    assert!(again.contains(&format!("{}…", &secret[..10])), "its hint");
    let row = again
        .split("<tr>")
        .find(|r| r.contains("Partner onboarding"))
        .expect("listed");
    assert!(row.contains("0 of 5") && row.contains("Active"), "{row}");
    let stored = state
        .store
        .initial_tokens
        .list(org.tenant.id)
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    let token = &stored[0];
    assert_eq!(token.hash, tessera::crypto::sha256_hex(&secret));
    assert_eq!(
        token.expires_at.unix() - token.created_at.unix(),
        30 * 86_400
    );

    // An application registers itself with it and shows in the console, marked.
    let response = org
        .server
        .http()
        .post(format!("{issuer}/register"))
        .bearer_auth(&secret)
        .json(&serde_json::json!({
            "redirect_uris": ["https://partner.example/callback"],
            "client_name": "Partner portal",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let registered: serde_json::Value = response.json().await.unwrap();
    let client_id = registered["client_id"].as_str().unwrap().to_owned();
    let clients = admin.browser.page("/t/acme/admin/clients").await;
    let row = clients
        .split("<tr>")
        .find(|r| r.contains("Partner portal"))
        .expect("listed");
    assert!(row.contains("Self-registered"), "{row}");
    assert_eq!(
        clients.matches("Self-registered").count(),
        1,
        "only that one"
    );
    let page = admin
        .browser
        .page(&format!("/t/acme/admin/clients/{client_id}"))
        .await;
    assert!(page.contains("Self-registered") && page.contains("RFC 7592"));
    assert!(page.contains(&format!("{issuer}/register/{client_id}")));
    let page = admin.browser.page("/t/acme/admin/registration").await;
    assert!(page.contains("1 of 5"), "the use is counted");

    // Those without clients:manage: no page, no link, no change.
    let id = token.id.to_string();
    for role in ["developer", "auditor", "member"] {
        let person = org.person(role);
        let page = person.browser.page("/t/acme/admin/registration").await;
        assert!(
            page.contains("You do not have permission") && !page.contains("Make a token"),
            "{role}"
        );
        assert!(!page.contains("Partner onboarding"), "{role}");
        let response = post(
            person,
            "admin_initial_token_create",
            &[("name", "Mine"), ("uses", "1"), ("expires", "1")],
        )
        .await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{role}");
        let response = post(
            person,
            "admin_initial_token_revoke",
            &[("token", &id), ("confirm", "yes")],
        )
        .await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{role}");
    }
    let developer = org.person("developer");
    let clients = developer.browser.page("/t/acme/admin/clients").await;
    assert!(!clients.contains("/t/acme/admin/registration"), "no link");
    assert_eq!(
        state
            .store
            .initial_tokens
            .list(org.tenant.id)
            .await
            .unwrap()
            .len(),
        1
    );

    // Revoked (with the box ticked): listed as such, and refused at the endpoint.
    post(admin, "admin_initial_token_revoke", &[("token", &id)]).await;
    let stored = state
        .store
        .initial_tokens
        .list(org.tenant.id)
        .await
        .unwrap();
    assert!(stored[0].revoked_at.is_none(), "not without confirmation");
    let response = post(
        admin,
        "admin_initial_token_revoke",
        &[("token", &id), ("confirm", "yes")],
    )
    .await;
    assert!(response.status().is_redirection());
    let stored = state
        .store
        .initial_tokens
        .list(org.tenant.id)
        .await
        .unwrap();
    assert!(stored[0].revoked_at.is_some());
    let page = admin.browser.page("/t/acme/admin/registration").await;
    let row = page
        .split("<tr>")
        .find(|r| r.contains("Partner onboarding"))
        .expect("listed");
    assert!(
        row.contains("Revoked") && !row.contains("t0-revoke"),
        "{row}"
    );
    let response = post(
        admin,
        "admin_initial_token_revoke",
        &[("token", &id), ("confirm", "yes")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND, "revoked already");
    let refused = org
        .server
        .http()
        .post(format!("{issuer}/register"))
        .bearer_auth(&secret)
        .json(&serde_json::json!({ "redirect_uris": ["https://partner.example/callback"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let actions = org.server.audit_actions("acme").await;
    for action in [
        "initial_access_token.created",
        "initial_access_token.revoked",
    ] {
        assert!(actions.iter().any(|(a, ..)| a == action), "{action}");
    }

    // The open-registration switch: on the policies page, saved with the other policies.
    let settings = admin.browser.page("/t/acme/admin/settings").await;
    assert!(settings.contains("name=\"open_registration\""));
    assert!(settings.contains("limited to 20 an hour per address"));
    let mut form = policy_form("8", "30");
    form.push(("open_registration", "on"));
    let response = post(admin, "admin_settings_save", &form).await;
    assert!(response.status().is_redirection());
    let tenant = state
        .store
        .tenants
        .by_id(org.tenant.id)
        .await
        .unwrap()
        .unwrap();
    assert!(tenant.settings.open_registration);
    let page = admin.browser.page("/t/acme/admin/registration").await;
    assert!(page.contains("Open registration is on"));
    let open = org
        .server
        .http()
        .post(format!("{issuer}/register"))
        .json(&serde_json::json!({ "redirect_uris": ["https://open.example/callback"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(open.status(), StatusCode::CREATED, "no token needed now");
    let response = post(admin, "admin_settings_save", &policy_form("8", "30")).await;
    assert!(response.status().is_redirection());
    let tenant = state
        .store
        .tenants
        .by_id(org.tenant.id)
        .await
        .unwrap()
        .unwrap();
    assert!(!tenant.settings.open_registration, "unticked: off again");
}

/// A new Google connection's form, with `changes` made to it.
fn google_form<'a>(changes: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut form = vec![
        ("preset", "google"),
        ("slug", "google"),
        ("name", "Google"),
        ("client_id", "123.apps.googleusercontent.com"),
        ("client_secret", "GOCSPX-typed-in-the-console"),
        ("domains", "acme.test"),
        ("enabled", "on"),
    ];
    for (field, value) in changes {
        form.retain(|(f, _)| f != field);
        form.push((field, value));
    }
    form
}

/// The `<input>` tag with the id `id` in a page.
fn input_tag<'a>(html: &'a str, id: &str) -> &'a str {
    let at = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no {id}"));
    let start = html[..at].rfind('<').unwrap();
    let end = at + html[at..].find('>').unwrap();
    &html[start..end]
}

/// Connections in the console with JavaScript off: the provider first, then only its fields
/// with where to find them; a refused field is named and focused with nothing stored; the
/// callback URL to register; the secret written, never shown; changed, then deleted after
/// confirmation; only for those with `connections:manage`.
#[tokio::test]
async fn connections_are_added_changed_and_deleted_in_the_console() {
    let org = org().await;
    let state = &org.server.state;
    let admin = org.person("admin");
    let callback = format!("{}/upstream/google/callback", org.server.issuer("acme"));
    let stored = || async { state.store.connections.list(org.tenant.id).await.unwrap() };

    let home = admin.browser.page("/t/acme/admin").await;
    assert!(
        home.contains("href=\"/t/acme/admin/connections\""),
        "in the nav"
    );
    let list = admin.browser.page("/t/acme/admin/connections").await;
    assert!(list.contains("No connections yet"));
    let choose = admin.browser.page("/t/acme/admin/connections/new").await;
    for preset in ["google", "microsoft", "github", "oidc", "oauth2"] {
        assert!(choose.contains(&format!("?preset={preset}\"")), "{preset}");
    }
    assert!(choose.contains("Microsoft Entra ID") && choose.contains("Any OAuth 2 provider"));

    // Each provider's own fields, and help on where to find them.
    for (preset, shown, hidden, help) in [
        ("google", "client_secret", "issuer", "Google Cloud console"),
        ("microsoft", "directory", "issuer", "Directory (tenant) ID"),
        ("github", "client_secret", "subject_claim", "OAuth Apps"),
        ("oidc", "subject_claim", "directory", "public client"),
        ("oauth2", "userinfo_endpoint", "issuer", "userinfo"),
    ] {
        let url = format!("/t/acme/admin/connections/new?preset={preset}");
        let page = admin.browser.page(&url).await;
        assert!(
            page.contains(&format!("name=\"{shown}\"")),
            "{preset}: {shown}"
        );
        assert!(
            !page.contains(&format!("name=\"{hidden}\"")),
            "{preset}: {hidden}"
        );
        assert!(page.contains(help), "{preset}: {help}");
    }
    let google = admin
        .browser
        .page("/t/acme/admin/connections/new?preset=google")
        .await;
    assert!(google.contains(&callback), "the callback URL to register");
    assert!(google.contains("aria-describedby=\"connection-secret-hint connection-secret-check\""));

    // Refused: said next to the field, which has the focus; nothing is stored.
    for (change, id) in [
        (("slug", "Not A Slug"), "connection-slug"),
        (("name", ""), "connection-name"),
        (("client_id", ""), "connection-client-id"),
        (("client_secret", ""), "connection-secret"),
        (("domains", "nowhere"), "connection-domains"),
        (("scopes", "openid \"x"), "connection-scopes"),
    ] {
        let response = post(admin, "admin_connection_save", &google_form(&[change])).await;
        let to = location(&response).expect("back to the form");
        assert_eq!(to, "/t/acme/admin/connections/new?preset=google");
        let page = admin.browser.page(&to).await;
        assert!(!field_note(&page, id).trim().is_empty(), "{change:?}: note");
        assert!(
            input_tag(&page, id).contains("autofocus"),
            "{change:?}: focus"
        );
        assert!(
            input_tag(&page, id).contains("aria-invalid=\"true\""),
            "{change:?}"
        );
    }
    assert!(stored().await.is_empty(), "nothing from refused input");

    // Added: its page shows the callback URL, never the secret.
    let response = post(admin, "admin_connection_save", &google_form(&[])).await;
    assert_eq!(
        location(&response).as_deref(),
        Some("/t/acme/admin/connections/google")
    );
    let page = admin.browser.page("/t/acme/admin/connections/google").await;
    let at = page.find("id=\"callback-url\"").expect("the callback URL");
    let shown = &page[at..(at + 200).min(page.len())];
    assert!(shown.contains(&format!(">{callback}<")), "{shown}");
    assert!(page.contains("A secret is kept"));
    assert!(!page.contains("GOCSPX-typed-in-the-console"), "never shown");
    let made = stored().await;
    assert_eq!(made.len(), 1);
    let sealed = made[0].client_secret.clone().expect("a secret");
    let list = admin.browser.page("/t/acme/admin/connections").await;
    let row = list
        .split("<tr>")
        .find(|r| r.contains("Google"))
        .expect("listed");
    assert!(
        row.contains("acme.test") && row.contains("Enabled"),
        "{row}"
    );

    // Changed; an empty secret keeps the one there is.
    let edit = google_form(&[
        ("connection", "google"),
        ("name", "Google Workspace"),
        ("client_secret", ""),
    ]);
    let response = post(admin, "admin_connection_save", &edit).await;
    assert_eq!(
        location(&response).as_deref(),
        Some("/t/acme/admin/connections/google")
    );
    let changed = stored().await;
    assert_eq!(changed[0].name, "Google Workspace");
    assert_eq!(changed[0].client_secret.as_deref(), Some(sealed.as_str()));

    // Those without connections:manage: no link, no page, no change.
    for role in ["developer", "auditor", "member"] {
        let person = org.person(role);
        let page = person.browser.page("/t/acme/admin/connections").await;
        assert!(page.contains("You do not have permission"), "{role}");
        assert!(!page.contains("Google Workspace"), "{role}");
        let home = person.browser.page("/t/acme/admin").await;
        assert!(!home.contains("/t/acme/admin/connections"), "{role}");
        let response = post(
            person,
            "admin_connection_save",
            &google_form(&[("slug", "mine")]),
        )
        .await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{role}");
        let delete = [("connection", "google"), ("confirm", "yes")];
        let response = post(person, "admin_connection_delete", &delete).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{role}");
    }
    assert_eq!(stored().await.len(), 1);

    // Deleted only once confirmed, with the warning about those who sign in only this way.
    assert!(page.contains("lose that way in"));
    post(
        admin,
        "admin_connection_delete",
        &[("connection", "google")],
    )
    .await;
    assert_eq!(stored().await.len(), 1, "not without confirmation");
    let response = post(
        admin,
        "admin_connection_delete",
        &[("connection", "google"), ("confirm", "yes")],
    )
    .await;
    assert_eq!(
        location(&response).as_deref(),
        Some("/t/acme/admin/connections")
    );
    assert!(stored().await.is_empty());
    let list = admin.browser.page("/t/acme/admin/connections").await;
    assert!(list.contains("No connections yet") && list.contains("was deleted"));
    let actions = org.server.audit_actions("acme").await;
    for action in [
        "connection.created",
        "connection.updated",
        "connection.deleted",
    ] {
        assert!(actions.iter().any(|(a, ..)| a == action), "{action}");
    }
}

/// A SAML connection in the console: set up from the identity provider's metadata (refused
/// metadata is said next to its field, nothing stored), then its page shows what to register
/// at the provider and what was read from its metadata; a change without metadata keeps it.
#[tokio::test]
async fn a_saml_connection_is_set_up_from_the_identity_providers_metadata() {
    let org = org().await;
    let state = &org.server.state;
    let admin = org.person("admin");
    let stored = || async { state.store.connections.list(org.tenant.id).await.unwrap() };
    let choose = admin.browser.page("/t/acme/admin/connections/new").await;
    assert!(choose.contains("?preset=saml\"") && choose.contains("SAML 2.0"));
    let new = admin
        .browser
        .page("/t/acme/admin/connections/new?preset=saml")
        .await;
    assert!(new.contains("name=\"metadata\""), "the metadata field");
    for absent in ["client_secret", "scopes", "issuer"] {
        assert!(!new.contains(&format!("name=\"{absent}\"")), "{absent}");
    }
    assert!(new.contains("/upstream/short-name/acs"), "the ACS it makes");

    let metadata = include_str!("fixtures/saml-idp-metadata.xml");
    let form = |metadata: &'static str| {
        vec![
            ("preset", "saml"),
            ("slug", "corp"),
            ("name", "Corp SSO"),
            ("metadata", metadata),
            ("enabled", "on"),
        ]
    };
    let refused = post(admin, "admin_connection_save", &form("<html>no</html>")).await;
    let to = location(&refused).expect("back to the form");
    let page = admin.browser.page(&to).await;
    assert!(field_note(&page, "connection-metadata").contains("not SAML metadata"));
    assert!(stored().await.is_empty());

    let added = post(admin, "admin_connection_save", &form(metadata)).await;
    assert_eq!(
        location(&added).as_deref(),
        Some("/t/acme/admin/connections/corp")
    );
    let page = admin.browser.page("/t/acme/admin/connections/corp").await;
    let sp = format!("{}/upstream/corp", org.server.issuer("acme"));
    for shown in [
        format!("id=\"sp-metadata-url\" class=\"copyable\">{sp}/metadata<"),
        format!("id=\"sp-entity-id\" class=\"copyable\">{sp}/metadata<"),
        format!("id=\"sp-acs-url\" class=\"copyable\">{sp}/acs<"),
        "https://idp.corp.example/saml".to_owned(),
        "https://idp.corp.example/saml/sso".to_owned(),
        "<li>idp.corp.example<span class=\"muted small\"> · valid until".to_owned(),
    ] {
        assert!(page.contains(&shown), "{shown}");
    }
    assert!(!page.contains("name=\"client_secret\""));

    let renamed = post(
        admin,
        "admin_connection_save",
        &[
            ("connection", "corp"),
            ("preset", "saml"),
            ("slug", "corp"),
            ("name", "Corp directory"),
            ("client_id", &format!("{sp}/metadata")),
            ("enabled", "on"),
        ],
    )
    .await;
    assert_eq!(
        location(&renamed).as_deref(),
        Some("/t/acme/admin/connections/corp")
    );
    let kept = stored().await;
    assert_eq!(kept[0].name, "Corp directory");
    assert!(matches!(
        &kept[0].protocol,
        tessera::domain::Protocol::Saml { entity_id, .. } if entity_id == "https://idp.corp.example/saml"
    ));
}
