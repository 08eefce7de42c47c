//! The management REST API (issue 14, part 3) over HTTP: API keys as
//! bearer tokens, the console's permission checks, RFC 9457 refusals, cursor pages, the
//! per-key rate, and an OpenAPI 3.1 document that a third-party validator accepts.

mod common;

use common::{services_python, TestServer};
use reqwest::{header, Method, StatusCode};
use serde_json::{json, Value};
use tessera::admin::{api_keys, Actor};
use tessera::domain::{ApiKey, Tenant, Timestamp, UserId};

async fn key(server: &TestServer, tenant: &Tenant, permissions: &[&str]) -> String {
    let permissions: Vec<String> = permissions.iter().map(|p| p.to_string()).collect();
    api_keys::create(&server.state, &Actor::Cli, tenant, "Test", &permissions, 30)
        .await
        .expect("key")
        .secret
}

struct Api<'a> {
    server: &'a TestServer,
    http: reqwest::Client,
}

impl Api<'_> {
    async fn call(
        &self,
        method: Method,
        slug: &str,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let url = format!("{}/api/v1{path}", self.server.issuer(slug));
        let mut request = self.http.request(method, url);
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let (status, headers) = (response.status(), response.headers().clone());
        let text = response.text().await.unwrap();
        let value = serde_json::from_str(&text).unwrap_or(Value::Null);
        (status, headers, value)
    }
}

/// A refusal: the status, as RFC 9457 problem details.
fn problem(status: StatusCode, headers: &reqwest::header::HeaderMap, body: &Value) -> StatusCode {
    assert_eq!(
        headers[header::CONTENT_TYPE],
        "application/problem+json",
        "{body}"
    );
    assert_eq!(body["status"], status.as_u16());
    assert!(
        body["title"].is_string() && body["detail"].is_string(),
        "{body}"
    );
    status
}

#[tokio::test]
async fn keys_manage_users_within_their_permissions_and_their_tenant() {
    let server = TestServer::start().await;
    let api = Api {
        server: &server,
        http: server.http(),
    };
    let acme = server.tenant("acme").await;
    let other = server.tenant("other").await;
    // An owner, as every organisation has: blocking and deleting keep one.
    server.person(&acme, "owner@acme.test", Some("owner")).await;
    let alice = server.person(&acme, "alice@acme.test", None).await;
    let bob = server.person(&other, "bob@other.test", None).await;
    let reader = key(&server, &acme, &["users:read"]).await;
    let writer = key(&server, &acme, &["users:*"]).await;
    let others = key(&server, &other, &["users:*"]).await;
    let get = |path: &str, key: Option<&str>| {
        let (path, key) = (path.to_owned(), key.map(str::to_owned));
        let api = &api;
        async move {
            api.call(Method::GET, "acme", &path, key.as_deref(), None)
                .await
        }
    };

    // Who may call at all.
    let (status, headers, body) = get("/users", None).await;
    assert_eq!(problem(status, &headers, &body), StatusCode::UNAUTHORIZED);
    assert!(headers[header::WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
        .starts_with("Bearer"));
    for bad in ["", "tsk_nonsense", &others, &format!("{reader}x")] {
        let (status, headers, body) = get("/users", Some(bad)).await;
        assert_eq!(
            problem(status, &headers, &body),
            StatusCode::UNAUTHORIZED,
            "{bad:?}"
        );
    }
    let basic = server
        .http()
        .get(format!("{}/api/v1/users", server.issuer("acme")))
        .basic_auth("user", Some(&reader))
        .send()
        .await
        .unwrap();
    assert_eq!(
        basic.status(),
        StatusCode::UNAUTHORIZED,
        "only the Bearer scheme"
    );
    let (status, ..) = api
        .call(Method::GET, "nowhere", "/users", Some(&reader), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Reading.
    let (status, _, body) = get(&format!("/users/{alice}"), Some(&reader)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["email"], "alice@acme.test");
    assert!(body.get("password_hash").is_none());
    for id in [
        bob.to_string(),
        "not-an-id".into(),
        UserId::generate().to_string(),
    ] {
        let (status, headers, body) = get(&format!("/users/{id}"), Some(&reader)).await;
        assert_eq!(
            problem(status, &headers, &body),
            StatusCode::NOT_FOUND,
            "{id}"
        );
    }
    let (status, _, body) = get("/users?q=alice@acme", Some(&reader)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"].as_array().unwrap().len(), 1);
    for bad in [
        "/users?limit=0",
        "/users?limit=101",
        "/users?limit=x",
        "/users?cursor=x",
        "/users?blocked=maybe",
    ] {
        let (status, headers, body) = get(bad, Some(&reader)).await;
        assert_eq!(
            problem(status, &headers, &body),
            StatusCode::BAD_REQUEST,
            "{bad}"
        );
    }

    // Writing needs users:write: the reader is refused and nothing changes.
    let new = json!({ "email": "carol@acme.test", "name": "Carol", "password": "a long enough password" });
    let (status, headers, body) = api
        .call(
            Method::POST,
            "acme",
            "/users",
            Some(&reader),
            Some(new.clone()),
        )
        .await;
    assert_eq!(problem(status, &headers, &body), StatusCode::FORBIDDEN);
    let (_, _, listed) = get("/users", Some(&reader)).await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 2);

    let (status, headers, carol) = api
        .call(Method::POST, "acme", "/users", Some(&writer), Some(new))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{carol}");
    let carol_id = carol["id"].as_str().unwrap().to_owned();
    assert_eq!(
        headers[header::LOCATION],
        format!("/t/acme/api/v1/users/{carol_id}").as_str()
    );
    for (body, status, field) in [
        (
            json!({ "email": "not an address" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("email"),
        ),
        (
            json!({ "email": "carol@acme.test" }),
            StatusCode::CONFLICT,
            None,
        ),
        (
            json!({ "email": "dave@acme.test", "admin": true }),
            StatusCode::BAD_REQUEST,
            None,
        ),
        (
            json!({ "email": "dave@acme.test", "password": "short" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("password"),
        ),
        (json!(["dave@acme.test"]), StatusCode::BAD_REQUEST, None),
    ] {
        let (got, headers, problem_body) = api
            .call(
                Method::POST,
                "acme",
                "/users",
                Some(&writer),
                Some(body.clone()),
            )
            .await;
        assert_eq!(got, status, "{body}: {problem_body}");
        assert_eq!(problem(got, &headers, &problem_body), status, "{body}");
        if let Some(field) = field {
            assert_eq!(problem_body["field"], field, "{body}");
        }
    }
    let path = format!("/users/{carol_id}");
    let (status, _, changed) = api
        .call(
            Method::PATCH,
            "acme",
            &path,
            Some(&writer),
            Some(json!({ "name": "Carol C." })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (changed["name"].as_str(), changed["email"].as_str()),
        (Some("Carol C."), Some("carol@acme.test"))
    );
    let (status, _, blocked) = api
        .call(
            Method::POST,
            "acme",
            &format!("{path}/block"),
            Some(&writer),
            None,
        )
        .await;
    assert_eq!(
        (status, blocked["blocked"].as_bool()),
        (StatusCode::OK, Some(true))
    );
    let (status, _, unblocked) = api
        .call(
            Method::POST,
            "acme",
            &format!("{path}/unblock"),
            Some(&writer),
            None,
        )
        .await;
    assert_eq!(
        (status, unblocked["blocked"].as_bool()),
        (StatusCode::OK, Some(false))
    );
    let (status, headers, body) = api
        .call(
            Method::POST,
            "acme",
            &format!("{path}/reset-factors"),
            Some(&writer),
            Some(json!({ "reason": "" })),
        )
        .await;
    assert_eq!(
        problem(status, &headers, &body),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let (status, _, removed) = api
        .call(
            Method::POST,
            "acme",
            &format!("{path}/reset-factors"),
            Some(&writer),
            Some(json!({ "reason": "lost phone" })),
        )
        .await;
    assert_eq!(
        (status, removed["removed"].as_u64()),
        (StatusCode::OK, Some(0))
    );
    // Another tenant's user is not found, whatever the method.
    for (method, rest) in [
        (Method::PATCH, ""),
        (Method::POST, "/block"),
        (Method::DELETE, ""),
    ] {
        let body = (method == Method::PATCH).then(|| json!({ "name": "Taken over" }));
        let (status, ..) = api
            .call(
                method,
                "acme",
                &format!("/users/{bob}{rest}"),
                Some(&writer),
                body,
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    let bob_now = server
        .state
        .store
        .users
        .by_id(other.id, bob)
        .await
        .unwrap()
        .unwrap();
    assert!(!bob_now.blocked && bob_now.name.as_deref() != Some("Taken over"));
    let (status, ..) = api
        .call(Method::DELETE, "acme", &path, Some(&writer), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, _, gone) = get(&path, Some(&reader)).await;
    assert_eq!(gone["deleted"], true);

    // Pages: every user once, newest first.
    for n in 0..4 {
        let body =
            json!({ "email": format!("p{n}@acme.test"), "password": "a long enough password" });
        api.call(Method::POST, "acme", "/users", Some(&writer), Some(body))
            .await;
    }
    let (mut seen, mut cursor) = (Vec::new(), None::<String>);
    loop {
        let path = match &cursor {
            Some(c) => format!("/users?limit=2&cursor={c}"),
            None => "/users?limit=2".into(),
        };
        let (_, _, page) = get(&path, Some(&reader)).await;
        for user in page["data"].as_array().unwrap() {
            seen.push(user["email"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 7, "{seen:?}");
    assert_eq!(seen[0], "p3@acme.test");
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 7, "no user twice");

    // What keys did is in the audit log, in their name.
    let events = server
        .state
        .store
        .audit
        .recent(acme.id, None, 500)
        .await
        .unwrap();
    let by_keys: Vec<_> = events
        .iter()
        .filter(|e| e.action == "user.created" && e.actor.starts_with("api_key:"))
        .collect();
    assert_eq!(by_keys.len(), 5);
    assert!(events
        .iter()
        .any(|e| e.action == "api_key.used" && e.outcome.as_str() == "failure"));
}

#[tokio::test]
async fn keys_manage_roles_and_teams_as_the_console_does() {
    let server = TestServer::start().await;
    let api = Api {
        server: &server,
        http: server.http(),
    };
    let acme = server.tenant("acme").await;
    let other = server.tenant("other").await;
    server.person(&acme, "owner@acme.test", Some("owner")).await;
    let alice = server.person(&acme, "alice@acme.test", None).await;
    let bob = server.person(&other, "bob@other.test", None).await;
    let theirs =
        tessera::admin::roles::create_team(&server.state, &Actor::Cli, &other, "Theirs", "")
            .await
            .unwrap()
            .id;
    let manager = key(
        &server,
        &acme,
        &["roles:manage", "teams:manage", "users:read"],
    )
    .await;
    let reader = key(&server, &acme, &["users:read"]).await;
    let call = |method: Method, path: String, body: Option<Value>| {
        let (api, manager) = (&api, &manager);
        async move { api.call(method, "acme", &path, Some(manager), body).await }
    };

    let (status, _, roles) = api
        .call(Method::GET, "acme", "/roles", Some(&reader), None)
        .await;
    assert_eq!(status, StatusCode::OK, "users:read may list roles");
    assert!(roles["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["id"] == "owner" && r["built_in"] == true));
    let support = json!({ "name": "Support", "permissions": ["users:read"] });
    let (status, ..) = api
        .call(
            Method::POST,
            "acme",
            "/roles",
            Some(&reader),
            Some(support.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, role) = call(Method::POST, "/roles".into(), Some(support)).await;
    assert_eq!(status, StatusCode::CREATED, "{role}");
    let role_id = role["id"].as_str().unwrap().to_owned();
    for (body, expected) in [
        (
            json!({ "name": "Root", "permissions": ["*"] }),
            StatusCode::FORBIDDEN,
        ),
        (
            json!({ "name": "Owner", "permissions": ["users:read"] }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({ "name": "Odd", "permissions": ["users:fly"] }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({ "name": "Support", "permissions": ["users:read"] }),
            StatusCode::CONFLICT,
        ),
    ] {
        let (status, headers, refused) =
            call(Method::POST, "/roles".into(), Some(body.clone())).await;
        assert_eq!(problem(status, &headers, &refused), expected, "{body}");
    }
    let changed = json!({ "name": "Support", "description": "Answers questions", "permissions": ["users:read"] });
    let (status, _, role) = call(Method::PUT, format!("/roles/{role_id}"), Some(changed)).await;
    assert_eq!(
        (status, role["description"].as_str()),
        (StatusCode::OK, Some("Answers questions"))
    );

    // Giving roles: only ones the key could hold itself, only to this organisation's people.
    let (status, ..) = call(Method::PUT, format!("/users/{alice}/roles/{role_id}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let held = server
        .state
        .store
        .users
        .roles(acme.id, alice)
        .await
        .unwrap();
    assert_eq!(held, std::slice::from_ref(&role_id));
    let (status, ..) = call(Method::PUT, format!("/users/{alice}/roles/admin"), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "more than the key holds");
    let (status, ..) = call(Method::PUT, format!("/users/{bob}/roles/{role_id}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(server
        .state
        .store
        .users
        .roles(other.id, bob)
        .await
        .unwrap()
        .is_empty());
    let (status, ..) = call(
        Method::DELETE,
        format!("/users/{alice}/roles/{role_id}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(server
        .state
        .store
        .users
        .roles(acme.id, alice)
        .await
        .unwrap()
        .is_empty());

    // Teams, their roles and members.
    let team = json!({ "name": "Helpdesk", "roles": [role_id] });
    let (status, _, team) = call(Method::POST, "/teams".into(), Some(team)).await;
    assert_eq!(status, StatusCode::CREATED, "{team}");
    assert_eq!(team["roles"][0], role_id.as_str());
    let team_id = team["id"].as_str().unwrap().to_owned();
    let members = format!("/teams/{team_id}/members");
    let (status, ..) = call(Method::PUT, format!("{members}/{alice}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, _, listed) = call(Method::GET, members.clone(), None).await;
    assert_eq!(listed["data"], json!([alice.to_string()]));
    for refused in [
        format!("{members}/{bob}"),
        format!("/teams/{theirs}/members/{alice}"),
        format!("{members}/x"),
    ] {
        let (status, ..) = call(Method::PUT, refused.clone(), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{refused}");
    }
    let (status, ..) = call(Method::GET, format!("/teams/{theirs}/members"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another tenant's team");
    let renamed = json!({ "name": "Helpdesk", "description": "First line" });
    let (status, _, team) = call(Method::PUT, format!("/teams/{team_id}"), Some(renamed)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        team["roles"][0],
        role_id.as_str(),
        "roles kept when not given"
    );
    let (status, ..) = call(Method::DELETE, format!("{members}/{alice}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, ..) = call(Method::DELETE, format!("/teams/{team_id}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, ..) = call(Method::DELETE, format!("/roles/{role_id}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, ..) = call(Method::DELETE, "/roles/owner".into(), None).await;
    assert!(status.is_client_error(), "a built-in role stays: {status}");
    let (_, _, teams) = call(Method::GET, "/teams".into(), None).await;
    assert_eq!(teams["data"], json!([]));
}

#[tokio::test]
async fn keys_make_and_revoke_keys_with_no_more_than_their_own_permissions() {
    let server = TestServer::start().await;
    let api = Api {
        server: &server,
        http: server.http(),
    };
    let acme = server.tenant("acme").await;
    let other = server.tenant("other").await;
    let manager = key(&server, &acme, &["api_keys:manage", "users:read"]).await;
    let reader = key(&server, &acme, &["users:read"]).await;
    key(&server, &other, &["users:read"]).await;
    let theirs = server.state.store.api_keys.list(other.id).await.unwrap()[0].id;

    let (status, _, listed) = api
        .call(Method::GET, "acme", "/api-keys", Some(&manager), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["data"].as_array().unwrap().len(), 2);
    assert!(
        !listed.to_string().contains(&manager[4..]),
        "no secret in the list"
    );
    let (status, headers, body) = api
        .call(Method::GET, "acme", "/api-keys", Some(&reader), None)
        .await;
    assert_eq!(problem(status, &headers, &body), StatusCode::FORBIDDEN);

    let new = json!({ "name": "Sync", "permissions": ["users:read"], "lifetime_days": 30 });
    let (status, headers, made) = api
        .call(Method::POST, "acme", "/api-keys", Some(&manager), Some(new))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    let secret = made["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("tsk_") && secret.len() == 47);
    assert_eq!(made["key"]["status"], "active");
    let made_by = format!(
        "api_key:{}",
        server.state.store.api_keys.list(acme.id).await.unwrap()[2].id
    );
    assert_eq!(
        made["key"]["created_by"],
        made_by.as_str(),
        "made by the manager key"
    );
    let (status, ..) = api
        .call(Method::GET, "acme", "/users", Some(&secret), None)
        .await;
    assert_eq!(status, StatusCode::OK, "the new key works");

    for (body, field) in [
        (
            json!({ "name": "Writer", "permissions": ["users:write"], "lifetime_days": 30 }),
            "permissions",
        ),
        (
            json!({ "name": "Everything", "permissions": ["*"], "lifetime_days": 30 }),
            "permissions",
        ),
        (
            json!({ "name": "Long", "permissions": ["users:read"], "lifetime_days": 5 }),
            "lifetime_days",
        ),
        (
            json!({ "name": "", "permissions": ["users:read"], "lifetime_days": 30 }),
            "name",
        ),
    ] {
        let (status, headers, refused) = api
            .call(
                Method::POST,
                "acme",
                "/api-keys",
                Some(&manager),
                Some(body.clone()),
            )
            .await;
        assert_eq!(
            problem(status, &headers, &refused),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}"
        );
        assert_eq!(refused["field"], field, "{body}");
    }
    assert_eq!(
        server
            .state
            .store
            .api_keys
            .list(acme.id)
            .await
            .unwrap()
            .len(),
        3
    );

    let id = made["key"]["id"].as_str().unwrap().to_owned();
    let path = format!("/api-keys/{id}");
    let (status, ..) = api
        .call(Method::DELETE, "acme", &path, Some(&manager), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, ..) = api
        .call(Method::GET, "acme", "/users", Some(&secret), None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "revoked at once");
    for gone in [path, format!("/api-keys/{theirs}"), "/api-keys/x".into()] {
        let (status, headers, body) = api
            .call(Method::DELETE, "acme", &gone, Some(&manager), None)
            .await;
        assert_eq!(
            problem(status, &headers, &body),
            StatusCode::NOT_FOUND,
            "{gone}"
        );
    }
    let still = server.state.store.api_keys.list(other.id).await.unwrap();
    assert!(
        still[0].revoked_at.is_none(),
        "another tenant's key is untouched"
    );
}

#[tokio::test]
async fn expired_and_revoked_keys_and_a_busy_key_are_refused() {
    const LIMIT: i64 = 20;
    let rate = ("TESSERA_API_REQUESTS_PER_MINUTE", LIMIT.to_string());
    let server = TestServer::start_with(None, vec![rate]).await;
    let api = Api {
        server: &server,
        http: server.http(),
    };
    let acme = server.tenant("acme").await;
    let revoked = key(&server, &acme, &["users:read"]).await;
    let id = server.state.store.api_keys.list(acme.id).await.unwrap()[0].id;
    api_keys::revoke(&server.state, &Actor::Cli, &acme, id)
        .await
        .unwrap();
    let expired = format!("tsk_{}", "e".repeat(43));
    let old = ApiKey::new(
        acme.id,
        "Old",
        &["users:read".to_string()],
        7,
        expired[..10].to_string(),
        tessera::crypto::sha256_hex(&expired),
        "cli".into(),
        Timestamp::now().plus_secs(-8 * 86_400),
    )
    .unwrap();
    server
        .state
        .store
        .api_keys
        .create(acme.id, &old)
        .await
        .unwrap();
    for refused in [&revoked, &expired] {
        let (status, headers, body) = api
            .call(Method::GET, "acme", "/users", Some(refused), None)
            .await;
        assert_eq!(problem(status, &headers, &body), StatusCode::UNAUTHORIZED);
    }

    // The rate: within one minute, request LIMIT + 1 is refused with Retry-After.
    let busy = key(&server, &acme, &["users:read"]).await;
    let mut refused = None;
    for _attempt in 0..2 {
        // Start early in a minute, so the requests all fall within it.
        let second = Timestamp::now().unix().rem_euclid(60);
        if second > 50 {
            tokio::time::sleep(std::time::Duration::from_secs((61 - second) as u64)).await;
        }
        let minute = Timestamp::now().unix() / 60;
        for _ in 0..=LIMIT {
            let (status, headers, body) = api
                .call(Method::GET, "acme", "/users?limit=1", Some(&busy), None)
                .await;
            if status == StatusCode::TOO_MANY_REQUESTS {
                problem(status, &headers, &body);
                refused = Some(
                    headers[header::RETRY_AFTER]
                        .to_str()
                        .unwrap()
                        .parse::<i64>()
                        .unwrap(),
                );
                break;
            }
            assert_eq!(status, StatusCode::OK);
        }
        if refused.is_some() || Timestamp::now().unix() / 60 == minute {
            break;
        }
    }
    let wait = refused.expect("the request past the rate is refused");
    assert!((1..=60).contains(&wait), "Retry-After {wait}");
    let (status, ..) = api
        .call(Method::GET, "acme", "/users", Some(&revoked), None)
        .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "other keys are counted apart"
    );
}

#[tokio::test]
async fn keys_register_and_manage_clients_that_then_get_tokens() {
    let server = TestServer::start().await;
    let api = Api {
        server: &server,
        http: server.http(),
    };
    let acme = server.tenant("acme").await;
    let other = server.tenant("other").await;
    let manager = key(&server, &acme, &["clients:manage"]).await;
    let reader = key(&server, &acme, &["users:read"]).await;
    let others = key(&server, &other, &["clients:manage"]).await;
    let call = |method: Method, path: &str, key: &str, body: Option<Value>| {
        let (path, key) = (path.to_owned(), key.to_owned());
        let api = &api;
        async move { api.call(method, "acme", &path, Some(&key), body).await }
    };

    // A service, registered for client credentials: its secret comes back once and works.
    let (status, headers, body) = call(
        Method::POST,
        "/clients",
        &manager,
        Some(json!({
            "client_id": "billing",
            "client_name": "Billing",
            "grant_types": ["client_credentials", "urn:ietf:params:oauth:grant-type:token-exchange"],
            "scopes": ["invoices"],
            "token_exchange": {"audiences": ["https://ledger.example/"], "scopes": ["ledger:read"]}
        })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(headers[header::LOCATION], "/t/acme/api/v1/clients/billing");
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    assert_eq!(body["client"]["client_type"], "confidential");
    assert_eq!(
        body["client"]["grant_types"],
        json!([
            "client_credentials",
            "urn:ietf:params:oauth:grant-type:token-exchange"
        ])
    );
    assert_eq!(
        body["client"]["token_exchange"],
        json!({"audiences": ["https://ledger.example/"], "scopes": ["ledger:read"]})
    );
    assert_eq!(
        body["client"]["token_endpoint_auth_method"],
        "client_secret_basic"
    );
    let first = body["client_secret"].as_str().unwrap().to_owned();
    assert_eq!(
        server.client_credentials("acme", "billing", &first).await,
        StatusCode::OK
    );
    let (status, _, body) = call(Method::GET, "/clients/billing", &manager, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.get("client_secret").is_none(), "never read back");
    assert_eq!(body["scopes"], json!(["invoices"]));
    assert_eq!(body["dpop_bound_access_tokens"], false, "off by default");
    assert_eq!(body["require_dpop_nonce"], false, "off by default");
    assert_eq!(
        body["require_signed_request_object"], false,
        "off by default"
    );

    // A public web application with a generated id.
    let (status, _, body) = call(
        Method::POST,
        "/clients",
        &manager,
        Some(json!({
            "client_name": "Shop",
            "client_type": "public",
            "redirect_uris": ["https://shop.example/callback"],
            "dpop_bound_access_tokens": true,
            "require_signed_request_object": true
        })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(body["client_secret"].is_null());
    assert_eq!(body["client"]["dpop_bound_access_tokens"], true);
    assert_eq!(body["client"]["require_dpop_nonce"], false);
    assert_eq!(body["client"]["require_signed_request_object"], true);
    assert_eq!(
        body["client"]["token_exchange"],
        json!({"audiences": [], "scopes": []}),
        "nothing by default"
    );
    let shop = body["client"]["client_id"].as_str().unwrap().to_owned();
    assert_eq!(body["client"]["token_endpoint_auth_method"], "none");

    // Bad registrations change nothing and name their field.
    for (bad, field) in [
        (
            json!({"client_name": "", "grant_types": ["client_credentials"]}),
            "client_name",
        ),
        (
            json!({"client_name": "X", "grant_types": ["password"]}),
            "grant_types",
        ),
        (
            json!({"client_name": "X", "client_type": "secret"}),
            "client_type",
        ),
        (
            json!({"client_name": "X", "client_type": "public",
                "grant_types": ["urn:ietf:params:oauth:grant-type:token-exchange"]}),
            "grant_types",
        ),
        (
            json!({"client_name": "X", "grant_types": ["client_credentials"],
                "token_exchange": {"audiences": ["ledger"]}}),
            "token_exchange",
        ),
        (
            json!({"client_name": "X", "grant_types": ["client_credentials"],
                "token_exchange": {"scopes": ["a\\b"]}}),
            "token_exchange",
        ),
        (
            json!({"client_name": "X", "redirect_uris": ["javascript:alert(1)"]}),
            "redirect_uris",
        ),
        (
            json!({"client_name": "X", "id_token_signed_response_alg": "none",
                "redirect_uris": ["https://x.example/cb"]}),
            "id_token_signed_response_alg",
        ),
    ] {
        let (status, headers, body) =
            call(Method::POST, "/clients", &manager, Some(bad.clone())).await;
        assert_eq!(
            problem(status, &headers, &body),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}"
        );
        assert_eq!(body["field"], field, "{bad}: {body}");
    }
    let (status, headers, body) = call(
        Method::POST,
        "/clients",
        &manager,
        Some(json!({"client_name": "X", "grant_types": ["client_credentials"], "admin": true})),
    )
    .await;
    assert_eq!(problem(status, &headers, &body), StatusCode::BAD_REQUEST);
    let (status, headers, body) = call(
        Method::POST,
        "/clients",
        &manager,
        Some(json!({"client_id": "billing", "client_name": "Again",
                    "grant_types": ["client_credentials"]})),
    )
    .await;
    assert_eq!(problem(status, &headers, &body), StatusCode::CONFLICT);
    let (_, _, body) = call(Method::GET, "/clients", &manager, None).await;
    let ids: Vec<&str> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["client_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert!(ids.contains(&"billing") && ids.contains(&shop.as_str()));

    // Changes: the fields sent change, the others stay.
    let (status, _, body) = call(
        Method::PATCH,
        &format!("/clients/{shop}"),
        &manager,
        Some(
            json!({"client_name": "Shop (new)", "access_token_ttl_secs": 600,
                    "require_dpop_nonce": true}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["client_name"], "Shop (new)");
    assert_eq!(body["access_token_ttl_secs"], 600);
    assert_eq!(body["require_dpop_nonce"], true);
    assert_eq!(body["dpop_bound_access_tokens"], true, "not sent: kept");
    assert_eq!(
        body["require_signed_request_object"], true,
        "not sent: kept"
    );
    let (status, _, body) = call(
        Method::PATCH,
        &format!("/clients/{shop}"),
        &manager,
        Some(json!({"require_signed_request_object": false})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["require_signed_request_object"], false);
    assert_eq!(body["require_dpop_nonce"], true, "not sent: kept");
    assert_eq!(
        body["redirect_uris"],
        json!(["https://shop.example/callback"])
    );
    for (bad, field) in [
        (json!({"client_name": "\n"}), "client_name"),
        (json!({"access_token_ttl_secs": 5}), "access_token_ttl_secs"),
        (
            json!({"redirect_uris": ["http://evil.example/cb"]}),
            "redirect_uris",
        ),
    ] {
        let (status, headers, body) = call(
            Method::PATCH,
            &format!("/clients/{shop}"),
            &manager,
            Some(bad.clone()),
        )
        .await;
        assert_eq!(
            problem(status, &headers, &body),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}"
        );
        assert_eq!(body["field"], field, "{bad}: {body}");
    }
    let (_, _, body) = call(Method::GET, &format!("/clients/{shop}"), &manager, None).await;
    assert_eq!(
        body["client_name"], "Shop (new)",
        "refusals changed nothing"
    );

    // The token-exchange policy is replaced whole, kept when not sent, and checked.
    let (status, _, body) = call(
        Method::PATCH,
        "/clients/billing",
        &manager,
        Some(
            json!({"token_exchange": {"audiences": ["https://ledger.example/", "urn:example:tax"],
                    "scopes": ["ledger:read", "tax:read"]}}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["token_exchange"],
        json!({"audiences": ["https://ledger.example/", "urn:example:tax"],
               "scopes": ["ledger:read", "tax:read"]})
    );
    let (status, headers, body) = call(
        Method::PATCH,
        "/clients/billing",
        &manager,
        Some(json!({"token_exchange": {"audiences": ["not a uri"]}})),
    )
    .await;
    assert_eq!(
        problem(status, &headers, &body),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(body["field"], "token_exchange", "{body}");
    let (status, _, body) = call(
        Method::PATCH,
        "/clients/billing",
        &manager,
        Some(json!({"client_name": "Billing (new)"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["token_exchange"]["scopes"],
        json!(["ledger:read", "tax:read"]),
        "not sent: kept"
    );

    // Rotation without grace: the old secret stops at once, the new one works.
    let (status, headers, body) = call(
        Method::POST,
        "/clients/billing/rotate-secret",
        &manager,
        Some(json!({"grace_secs": 0})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    let second = body["client_secret"].as_str().unwrap().to_owned();
    assert_eq!(
        server.client_credentials("acme", "billing", &first).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        server.client_credentials("acme", "billing", &second).await,
        StatusCode::OK
    );
    let (status, headers, body) = call(
        Method::POST,
        "/clients/billing/rotate-secret",
        &manager,
        Some(json!({"grace_secs": -1})),
    )
    .await;
    assert_eq!(
        problem(status, &headers, &body),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(body["field"], "grace_secs");
    let (status, headers, body) = call(
        Method::POST,
        &format!("/clients/{shop}/rotate-secret"),
        &manager,
        None,
    )
    .await;
    assert_eq!(
        problem(status, &headers, &body),
        StatusCode::UNPROCESSABLE_ENTITY,
        "a public client has no secret"
    );

    // Disabled, it gets no token; enabled, it does again.
    let (status, _, body) = call(Method::POST, "/clients/billing/disable", &manager, None).await;
    assert_eq!(
        (status, body["disabled"].clone()),
        (StatusCode::OK, json!(true))
    );
    assert_ne!(
        server.client_credentials("acme", "billing", &second).await,
        StatusCode::OK
    );
    let (status, _, body) = call(Method::POST, "/clients/billing/enable", &manager, None).await;
    assert_eq!(
        (status, body["disabled"].clone()),
        (StatusCode::OK, json!(false))
    );
    assert_eq!(
        server.client_credentials("acme", "billing", &second).await,
        StatusCode::OK
    );

    // Without the permission, from another tenant, or another tenant's client.
    for (method, path) in [
        (Method::GET, "/clients"),
        (Method::GET, "/clients/billing"),
        (Method::POST, "/clients/billing/disable"),
        (Method::DELETE, "/clients/billing"),
    ] {
        let (status, headers, body) = call(method.clone(), path, &reader, None).await;
        assert_eq!(
            problem(status, &headers, &body),
            StatusCode::FORBIDDEN,
            "{method} {path}"
        );
        let (status, ..) = call(method.clone(), path, &others, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}");
    }
    let (status, ..) = api
        .call(
            Method::GET,
            "other",
            "/clients/billing",
            Some(&others),
            None,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "acme's client is not other's"
    );
    let (status, ..) = api
        .call(
            Method::DELETE,
            "other",
            "/clients/billing",
            Some(&others),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Deleted: gone, and its secret with it.
    let (status, ..) = call(Method::DELETE, "/clients/billing", &manager, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, ..) = call(Method::GET, "/clients/billing", &manager, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        server.client_credentials("acme", "billing", &second).await,
        StatusCode::UNAUTHORIZED
    );

    // The audit log names the key as the actor of each change.
    let auditor = key(&server, &acme, &["audit:read"]).await;
    for action in [
        "client.created",
        "client.updated",
        "client.secret_rotated",
        "client.disabled",
        "client.enabled",
        "client.deleted",
    ] {
        let path = format!("/audit-events?action={action}");
        let (_, _, body) = call(Method::GET, &path, &auditor, None).await;
        let events = body["data"].as_array().unwrap();
        assert!(
            !events.is_empty()
                && events
                    .iter()
                    .all(|e| e["actor"].as_str().unwrap().starts_with("api_key:")),
            "{action} by the key: {body}"
        );
    }
}

#[tokio::test]
async fn keys_read_and_export_the_audit_log_page_by_page() {
    let server = TestServer::start().await;
    let api = Api {
        server: &server,
        http: server.http(),
    };
    let acme = server.tenant("acme").await;
    let other = server.tenant("other").await;
    for n in 0..5 {
        server.person(&acme, &format!("p{n}@acme.test"), None).await;
    }
    server.person(&other, "secret@other.test", None).await;
    let auditor = key(&server, &acme, &["audit:read"]).await;
    let reader = key(&server, &acme, &["users:read"]).await;
    let get = |path: &str, key: &str| {
        let (path, key) = (path.to_owned(), key.to_owned());
        let api = &api;
        async move { api.call(Method::GET, "acme", &path, Some(&key), None).await }
    };

    // Page by page, newest first, each event once, none of another tenant's.
    let mut seen = Vec::new();
    let mut path = "/audit-events?action=user.created&limit=2".to_owned();
    loop {
        let (status, _, body) = get(&path, &auditor).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let page = body["data"].as_array().unwrap();
        assert!(page.len() <= 2);
        for event in page {
            assert_eq!(event["action"], "user.created");
            assert_eq!(event["result"], "success");
            seen.push(event["id"].as_str().unwrap().to_owned());
        }
        match body["next_cursor"].as_str() {
            Some(cursor) => {
                path = format!("/audit-events?action=user.created&limit=2&cursor={cursor}")
            }
            None => break,
        }
    }
    assert_eq!(seen.len(), 5, "{seen:?}");
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 5);
    let (_, _, body) = get("/audit-events?result=failure", &auditor).await;
    assert!(body["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["result"] == "failure"));
    let (_, _, body) = get("/audit-events?from=2000-01-01&until=2000-12-31", &auditor).await;
    assert_eq!(body["data"], json!([]));

    // Malformed filters and cursors are refused; so is a key without `audit:read`.
    for bad in [
        "/audit-events?limit=0",
        "/audit-events?limit=501",
        "/audit-events?limit=many",
        "/audit-events?cursor=nope",
        "/audit-events?result=maybe",
        "/audit-events?from=yesterday",
        "/audit-events/export?format=xml",
    ] {
        let (status, headers, body) = get(bad, &auditor).await;
        assert_eq!(
            problem(status, &headers, &body),
            StatusCode::BAD_REQUEST,
            "{bad}"
        );
    }
    for path in ["/audit-events", "/audit-events/export"] {
        let (status, headers, body) = get(path, &reader).await;
        assert_eq!(
            problem(status, &headers, &body),
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }

    // The export: every event the filters find, as JSON Lines or CSV; itself audited.
    let export = |format: &str| {
        let url = format!(
            "{}/api/v1/audit-events/export?action=user.created&format={format}",
            server.issuer("acme")
        );
        let request = server.http().get(url).bearer_auth(&auditor);
        async move { request.send().await.unwrap() }
    };
    let lines = export("jsonl").await;
    assert_eq!(lines.status(), StatusCode::OK);
    assert_eq!(
        lines.headers()[header::CONTENT_TYPE],
        "application/x-ndjson"
    );
    assert_eq!(lines.headers()[header::CACHE_CONTROL], "no-store");
    let text = lines.text().await.unwrap();
    let exported: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(exported.len(), 5, "{text}");
    assert!(!text.contains("secret@other.test"));
    let csv = export("csv").await.text().await.unwrap();
    assert!(csv.starts_with("id,at,action,result,"), "{csv}");
    assert_eq!(csv.lines().count(), 6, "a header and five events");
    let (_, _, body) = get("/audit-events?action=audit.exported", &auditor).await;
    let exports = body["data"].as_array().unwrap();
    assert_eq!(exports.len(), 2);
    assert!(exports[0]["actor"]
        .as_str()
        .unwrap()
        .starts_with("api_key:"));
}

/// A client-credentials access token of `client_id` for `resource` with `scope`, or the error.
async fn app_token(
    server: &TestServer,
    slug: &str,
    (client_id, secret): (&str, &str),
    resource: Option<&str>,
    scope: &str,
) -> Result<String, Value> {
    let mut form = vec![("grant_type", "client_credentials"), ("scope", scope)];
    if let Some(resource) = resource {
        form.push(("resource", resource));
    }
    let response = server
        .http()
        .post(format!("{}/token", server.issuer(slug)))
        .basic_auth(client_id, Some(secret))
        .form(&form)
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    body["access_token"].as_str().map(str::to_owned).ok_or(body)
}

#[tokio::test]
async fn applications_act_with_client_credentials_tokens_scoped_to_permissions() {
    let server = TestServer::start().await;
    let api = Api {
        server: &server,
        http: server.http(),
    };
    let acme = server.tenant("acme").await;
    let other = server.tenant("other").await;
    server.person(&acme, "owner@acme.test", Some("owner")).await;
    let resource = format!("{}/api/v1", server.issuer("acme"));
    let registrar = key(
        &server,
        &acme,
        &["clients:manage", "users:read", "audit:read"],
    )
    .await;
    let register = |scopes: Value, key: String| {
        let body = json!({
            "client_id": "robot",
            "client_name": "Robot",
            "grant_types": ["client_credentials"],
            "scopes": scopes,
            "resources": [resource.clone()],
        });
        let api = &api;
        async move {
            api.call(Method::POST, "acme", "/clients", Some(&key), Some(body))
                .await
        }
    };

    // Nobody gives an application a permission they do not hold, or one that is not one.
    for (scopes, why) in [
        (json!(["tessera:users:write"]), "not held"),
        (json!(["tessera:users:nonsense"]), "not a permission"),
        (json!(["tessera:*"]), "not held"),
    ] {
        let (status, headers, body) = register(scopes, registrar.clone()).await;
        assert_eq!(
            problem(status, &headers, &body),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{why}"
        );
        assert_eq!(body["field"], "scopes");
    }
    let (status, _, body) = register(json!(["tessera:users:read"]), registrar.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let secret = body["client_secret"].as_str().unwrap().to_owned();
    let robot = ("robot", secret.as_str());

    // Its token for this API reads users, and nothing more.
    let token = app_token(
        &server,
        "acme",
        robot,
        Some(&resource),
        "tessera:users:read",
    )
    .await
    .unwrap();
    let (status, _, body) = api
        .call(Method::GET, "acme", "/users", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"].as_array().unwrap().len(), 1);
    let (status, headers, body) = api
        .call(
            Method::POST,
            "acme",
            "/users",
            Some(&token),
            Some(json!({"email": "new@acme.test"})),
        )
        .await;
    assert_eq!(problem(status, &headers, &body), StatusCode::FORBIDDEN);
    let (status, ..) = api
        .call(Method::GET, "acme", "/clients", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Tokens that are not for this API, or not of this organisation, are refused.
    let for_itself = app_token(&server, "acme", robot, None, "tessera:users:read")
        .await
        .unwrap();
    for (bad, why) in [
        (for_itself.as_str(), "audience is the client"),
        ("eyJhbGciOiJub25lIn0.e30.", "unsigned"),
        (&format!("{token}x"), "forged signature"),
    ] {
        let (status, headers, body) = api
            .call(Method::GET, "acme", "/users", Some(bad), None)
            .await;
        assert_eq!(
            problem(status, &headers, &body),
            StatusCode::UNAUTHORIZED,
            "{why}"
        );
    }
    let (status, ..) = api
        .call(Method::GET, "other", "/users", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "acme's token in other");
    let _ = other;
    let refused = app_token(
        &server,
        "acme",
        robot,
        Some(&resource),
        "tessera:users:write",
    )
    .await;
    assert_eq!(refused.unwrap_err()["error"], "invalid_scope");

    // A disabled application's token stops working, and works again once it is enabled.
    let path = "/clients/robot/disable";
    let (status, ..) = api
        .call(Method::POST, "acme", path, Some(&registrar), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, ..) = api
        .call(Method::GET, "acme", "/users", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let path = "/clients/robot/enable";
    api.call(Method::POST, "acme", path, Some(&registrar), None)
        .await;
    let (status, ..) = api
        .call(Method::GET, "acme", "/users", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::OK);

    // A scope taken from the application takes its permission away at once.
    let (status, _, body) = api
        .call(
            Method::PATCH,
            "acme",
            "/clients/robot",
            Some(&registrar),
            Some(json!({"scopes": ["openid"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, ..) = api
        .call(Method::GET, "acme", "/users", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // A revoked token (RFC 7009) is refused.
    let token = {
        let writer = key(&server, &acme, &["clients:manage", "users:*"]).await;
        let (status, _, body) = api
            .call(
                Method::PATCH,
                "acme",
                "/clients/robot",
                Some(&writer),
                Some(json!({"scopes": ["tessera:users:read", "tessera:users:write"]})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        app_token(
            &server,
            "acme",
            robot,
            Some(&resource),
            "tessera:users:write",
        )
        .await
        .unwrap()
    };
    let (status, _, body) = api
        .call(
            Method::POST,
            "acme",
            "/users",
            Some(&token),
            Some(json!({"email": "made-by-robot@acme.test"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (_, _, body) = api
        .call(
            Method::GET,
            "acme",
            "/audit-events?action=user.invited&actor=client:robot",
            Some(&registrar),
            None,
        )
        .await;
    assert_eq!(body["data"].as_array().unwrap().len(), 1, "{body}");
    assert_eq!(body["data"][0]["actor"], "client:robot");
    let revoked = server
        .http()
        .post(format!("{}/revoke", server.issuer("acme")))
        .basic_auth(robot.0, Some(robot.1))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::OK);
    let (status, ..) = api
        .call(Method::GET, "acme", "/users", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_openapi_document_describes_every_endpoint_and_passes_a_validator() {
    let server = TestServer::start().await;
    server.tenant("acme").await;
    let url = format!("{}/api/v1/openapi.json", server.issuer("acme"));
    let response = server.http().get(&url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    assert_eq!(
        doc["servers"][0]["url"],
        format!("{}/api/v1", server.issuer("acme"))
    );
    let operations: Vec<String> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |method| format!("{} {path}", method.to_uppercase()))
        })
        .collect();
    for expected in [
        "GET /users",
        "POST /users",
        "GET /users/{id}",
        "PATCH /users/{id}",
        "DELETE /users/{id}",
        "POST /users/{id}/block",
        "POST /users/{id}/unblock",
        "POST /users/{id}/reset-factors",
        "GET /api-keys",
        "POST /api-keys",
        "DELETE /api-keys/{id}",
        "GET /roles",
        "PUT /users/{id}/roles/{role}",
        "DELETE /teams/{id}",
        "PUT /teams/{id}/members/{user}",
        "GET /clients",
        "POST /clients",
        "GET /clients/{client_id}",
        "PATCH /clients/{client_id}",
        "DELETE /clients/{client_id}",
        "POST /clients/{client_id}/rotate-secret",
        "POST /clients/{client_id}/disable",
        "POST /clients/{client_id}/enable",
        "GET /audit-events",
        "GET /audit-events/export",
    ] {
        assert!(
            operations.contains(&expected.to_string()),
            "{expected} in {operations:?}"
        );
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["api_key"]["scheme"],
        "bearer"
    );
    let missing = server
        .http()
        .get(format!("{}/api/v1/openapi.json", server.issuer("nowhere")))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);

    // openapi-spec-validator (PyPI), installed by scripts/services.sh.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, &text).unwrap();
    let python = services_python();
    let checked = std::process::Command::new(&python)
        .args(["-m", "openapi_spec_validator", "--schema", "3.1"])
        .arg(&file)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {} ({e}); run scripts/services.sh",
                python.display()
            )
        });
    assert!(
        checked.status.success(),
        "the validator refused the document:\n{}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
}
