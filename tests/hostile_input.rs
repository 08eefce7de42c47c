//! What a careless client or a careful attacker tries, and what they get: a clear error and no
//! change.
#![cfg(feature = "ssr")]

mod common;

use common::{hidden, location, query, AuthRequest, TestServer, CHALLENGE, PASSWORD, VERIFIER};
use reqwest::{header, StatusCode};
use tessera::domain::{AuthorizationCode, Timestamp};

async fn token_request(
    server: &TestServer,
    slug: &str,
    client_id: &str,
    secret: &str,
    form: &[(&str, &str)],
) -> (StatusCode, serde_json::Value, reqwest::header::HeaderMap) {
    let response = server
        .http()
        .post(format!("{}/token", server.issuer(slug)))
        .basic_auth(client_id, Some(secret))
        .form(form)
        .send()
        .await
        .unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    (status, response.json().await.unwrap_or_default(), headers)
}

async fn code_for(server: &TestServer, app: &common::TestClient) -> String {
    let callback = server
        .browser()
        .authorize(
            &AuthRequest::new(app).url(server, "default"),
            "alice@example.com",
            PASSWORD,
            "allow",
        )
        .await;
    query(&callback)["code"].clone()
}

fn exchange<'a>(code: &'a str, app: &'a common::TestClient) -> Vec<(&'a str, &'a str)> {
    vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", &app.redirect_uri),
        ("code_verifier", VERIFIER),
    ]
}

#[tokio::test]
async fn wrong_password_and_unknown_user_get_the_same_answer_and_no_session() {
    let (server, app) = TestServer::with_alice().await;
    for email in ["alice@example.com", "nobody@example.com"] {
        let browser = server.browser();
        let login = browser
            .open(&AuthRequest::new(&app).url(&server, "default"))
            .await;
        let response = browser.sign_in(&login, email, "wrong password").await;
        let page = location(&response).expect("back to the sign-in page");
        assert!(
            page.contains("/login?") && page.contains("error=incorrect"),
            "{page}"
        );
        let html = browser.page(&page).await;
        assert!(html.contains("Incorrect email or password."), "{email}");
        assert!(
            html.contains("type=\"password\""),
            "still on the password step"
        );
        let home = browser.page("/t/default").await;
        assert!(home.contains("You are not signed in"));
    }
    let audit = server.audit_actions("default").await;
    let reasons: Vec<_> = audit
        .iter()
        .filter(|(a, o, _)| a == "login.password" && o == "failure")
        .filter_map(|(_, _, r)| r.clone())
        .collect();
    assert!(
        reasons.contains(&"wrong password".to_string())
            && reasons.contains(&"unknown account".to_string()),
        "{reasons:?}"
    );
}

#[tokio::test]
async fn repeated_failures_are_slowed_down_even_for_the_right_password() {
    let (server, app) = TestServer::with_alice().await;
    let browser = server.browser();
    let login = browser
        .open(&AuthRequest::new(&app).url(&server, "default"))
        .await;
    for _ in 0..5 {
        let response = browser
            .sign_in(&login, "alice@example.com", "wrong password")
            .await;
        assert!(location(&response).unwrap().contains("error=incorrect"));
    }
    let response = browser
        .sign_in(&login, "alice@example.com", "wrong password")
        .await;
    assert!(
        location(&response).unwrap().contains("error=incorrect"),
        "the sixth failure is recorded"
    );
    let response = browser.sign_in(&login, "alice@example.com", PASSWORD).await;
    let page = location(&response).unwrap();
    assert!(
        page.contains("error=throttled") && page.contains("wait="),
        "{page}"
    );
    assert!(browser.page(&page).await.contains("Too many attempts"));
}

#[tokio::test]
async fn unknown_client_gets_an_error_page_not_a_redirect() {
    let (server, app) = TestServer::with_alice().await;
    for request in [
        AuthRequest::new(&app).set("client_id", "nope"),
        AuthRequest::new(&app).without("client_id"),
    ] {
        let response = server.browser().get(&request.url(&server, "default")).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert!(location(&response).is_none());
        // Without the markers Leptos leaves after dynamic text (`<!>`).
        let page = response.text().await.unwrap().replace("<!>", "");
        assert!(page.contains("<h1>This sign-in request is not valid</h1>"));
    }
}

#[tokio::test]
async fn unregistered_redirect_uris_get_an_error_page_not_a_redirect() {
    let (server, app) = TestServer::with_alice().await;
    for evil in [
        "https://evil.example/callback",
        "http://127.0.0.1:8123/callback/extra",
        "http://127.0.0.1:9999/callback",
        "http://127.0.0.1:8123/callback?x=1",
        "http://127.0.0.1:8123/callback#frag",
        "//evil.example/callback",
    ] {
        let response = server
            .browser()
            .get(
                &AuthRequest::new(&app)
                    .set("redirect_uri", evil)
                    .url(&server, "default"),
            )
            .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{evil}");
        assert!(location(&response).is_none(), "{evil}");
        let html = response.text().await.unwrap();
        assert!(
            !html.contains("evil.example"),
            "the page does not echo the address"
        );
    }
}

#[tokio::test]
async fn bad_parameters_are_returned_to_the_client_as_oauth_errors() {
    let (server, app) = TestServer::with_alice().await;
    let spa = server.client("default", "spa", true).await;
    let cases = [
        (
            AuthRequest::new(&app).set("response_type", "token"),
            "unsupported_response_type",
        ),
        (
            AuthRequest::new(&app).without("response_type"),
            "invalid_request",
        ),
        (
            AuthRequest::new(&app).set("scope", "openid admin"),
            "invalid_scope",
        ),
        (
            AuthRequest::new(&app)
                .set("code_challenge_method", "plain")
                .set("code_challenge", VERIFIER),
            "invalid_request",
        ),
        (
            AuthRequest::new(&app).without("code_challenge_method"),
            "invalid_request",
        ),
        (
            AuthRequest::new(&app)
                .without("code_challenge")
                .without("code_challenge_method"),
            "invalid_request",
        ),
        (
            AuthRequest::new(&spa)
                .without("code_challenge")
                .without("code_challenge_method"),
            "invalid_request",
        ),
        (
            AuthRequest::new(&app).set("code_challenge", "short"),
            "invalid_request",
        ),
        (
            AuthRequest::new(&app).set("prompt", "none login"),
            "invalid_request",
        ),
        (
            AuthRequest::new(&app).set("max_age", "-1"),
            "invalid_request",
        ),
        (
            AuthRequest::new(&app).set("nonce", &"n".repeat(600)),
            "invalid_request",
        ),
    ];
    for (request, expected) in cases {
        let response = server.browser().get(&request.url(&server, "default")).await;
        let to = location(&response).expect("redirect to the client");
        assert!(to.starts_with("http://127.0.0.1:8123/callback?"), "{to}");
        let params = query(&to);
        assert_eq!(params["error"], expected, "{:?}", request.params);
        assert_eq!(params["state"], "state-123");
        assert!(!params.contains_key("code"));
    }
}

#[tokio::test]
async fn malformed_and_oversized_requests_are_refused() {
    let (server, app) = TestServer::with_alice().await;
    let browser = server.browser();
    let repeated = format!(
        "{}&client_id=app",
        AuthRequest::new(&app).url(&server, "default")
    );
    let response = browser.get(&repeated).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(location(&response).is_none());
    let huge = AuthRequest::new(&app)
        .set("state", &"s".repeat(9000))
        .url(&server, "default");
    assert_eq!(browser.get(&huge).await.status(), StatusCode::BAD_REQUEST);
    let unknown_tenant = AuthRequest::new(&app).url(&server, "no-such-tenant");
    assert_eq!(
        browser.get(&unknown_tenant).await.status(),
        StatusCode::NOT_FOUND
    );
    let injected = AuthRequest::new(&app).url(&server, "default' OR '1'='1");
    assert_eq!(browser.get(&injected).await.status(), StatusCode::NOT_FOUND);

    let token = format!("{}/token", server.issuer("default"));
    let http = server.http();
    let json = http
        .post(&token)
        .header(header::CONTENT_TYPE, "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(json.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        json.json::<serde_json::Value>().await.unwrap()["error"],
        "invalid_request"
    );
    let big = http
        .post(&token)
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &"x".repeat(100_000)),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(big.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let (status, body, _) = token_request(
        &server,
        "default",
        "app",
        app.secret.as_deref().unwrap(),
        &[("grant_type", "password")],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unsupported_grant_type"))
    );
    let (status, body, _) = token_request(
        &server,
        "default",
        "app",
        app.secret.as_deref().unwrap(),
        &exchange("garbage", &app),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );

    let userinfo = format!("{}/userinfo", server.issuer("default"));
    for bad in [
        "Bearer not-a-jwt",
        "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
        "Basic Zm9vOmJhcg==",
    ] {
        let response = http
            .get(&userinfo)
            .header(header::AUTHORIZATION, bad)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16() / 100, 4, "{bad}");
        assert!(
            response.headers().contains_key(header::WWW_AUTHENTICATE)
                || response.status() == StatusCode::BAD_REQUEST
        );
    }
    let anonymous = http.get(&userinfo).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        anonymous.headers()[header::WWW_AUTHENTICATE],
        "Bearer realm=\"tessera\""
    );

    let login = browser
        .open(&AuthRequest::new(&app).url(&server, "default"))
        .await;
    let html = browser.page(&login).await;
    let (flow, csrf) = (
        hidden(&html, "flow").unwrap(),
        hidden(&html, "csrf").unwrap(),
    );
    let long_email = format!("{}@example.com", "a".repeat(10_000));
    for email in ["not-an-email", long_email.as_str(), "<script>@x.io"] {
        let response = browser
            .post(
                "/api/login_email",
                &[
                    ("tenant", "default"),
                    ("flow", &flow),
                    ("csrf", &csrf),
                    ("email", email),
                ],
            )
            .await;
        let page = location(&response).unwrap_or_default();
        assert!(
            page.contains("error=invalid_email")
                || response.status() == StatusCode::PAYLOAD_TOO_LARGE,
            "{email}: {page}"
        );
    }
}

#[tokio::test]
async fn forms_without_the_csrf_token_change_nothing() {
    let (server, app) = TestServer::with_alice().await;
    let browser = server.browser();
    let login = browser
        .open(&AuthRequest::new(&app).url(&server, "default"))
        .await;
    let flow = hidden(&browser.page(&login).await, "flow").unwrap();
    for csrf in ["", "forged-token"] {
        let response = browser
            .post(
                "/api/login_email",
                &[
                    ("tenant", "default"),
                    ("flow", &flow),
                    ("csrf", csrf),
                    ("email", "alice@example.com"),
                ],
            )
            .await;
        assert!(location(&response).unwrap().contains("error=csrf"));
    }
    let html = browser.page(&login).await;
    assert!(
        !html.contains("type=\"password\""),
        "the flow did not advance"
    );
    let response = browser
        .post(
            "/api/login_password",
            &[
                ("tenant", "default"),
                ("flow", &flow),
                ("csrf", ""),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert!(location(&response).unwrap().contains("error=csrf"));
    assert!(browser
        .page("/t/default")
        .await
        .contains("You are not signed in"));
}

#[tokio::test]
async fn a_flow_cannot_be_replayed_or_used_from_another_browser() {
    let (server, app) = TestServer::with_alice().await;
    let browser = server.browser();
    let login = browser
        .open(&AuthRequest::new(&app).url(&server, "default"))
        .await;
    let flow = hidden(&browser.page(&login).await, "flow").unwrap();

    let thief = server.browser();
    let stolen = thief.page(&login).await;
    assert!(
        hidden(&stolen, "flow").unwrap_or_default().is_empty(),
        "another browser does not get the flow"
    );
    let csrf = hidden(&stolen, "csrf").unwrap();
    let response = thief
        .post(
            "/api/login_email",
            &[
                ("tenant", "default"),
                ("flow", &flow),
                ("csrf", &csrf),
                ("email", "alice@example.com"),
            ],
        )
        .await;
    assert!(location(&response).unwrap().contains("error=expired"));

    let response = browser.sign_in(&login, "alice@example.com", PASSWORD).await;
    let resume = location(&response).unwrap();
    let consent = browser
        .follow(browser.get(&resume).await)
        .await
        .unwrap_err()
        .url()
        .to_string();
    let code_url = browser
        .follow(browser.consent(&consent, "allow").await)
        .await
        .unwrap();
    assert!(query(&code_url).contains_key("code"));
    let replay = browser.get(&resume).await;
    assert_eq!(
        replay.status(),
        StatusCode::BAD_REQUEST,
        "a finished flow cannot hand out another code"
    );
    assert!(location(&replay).is_none());
    let password_again = browser
        .post(
            "/api/login_password",
            &[
                ("tenant", "default"),
                ("flow", &flow),
                ("csrf", &csrf),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert!(location(&password_again).unwrap().contains("error="));
}

#[tokio::test]
async fn pkce_verifier_must_be_present_and_right() {
    let (server, app) = TestServer::with_alice().await;
    let secret = app.secret.clone().unwrap();
    let code = code_for(&server, &app).await;
    let (status, body, _) = token_request(
        &server,
        "default",
        "app",
        &secret,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &app.redirect_uri),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );

    let code = code_for(&server, &app).await;
    let wrong = "x".repeat(43);
    let form = [
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", &app.redirect_uri),
        ("code_verifier", &wrong),
    ];
    let (status, body, _) = token_request(&server, "default", "app", &secret, &form).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let (_, body, _) =
        token_request(&server, "default", "app", &secret, &exchange(&code, &app)).await;
    assert_eq!(
        body["error"], "invalid_grant",
        "a failed attempt still spends the code"
    );
}

#[tokio::test]
async fn a_reused_code_fails_and_revokes_the_tokens_it_issued() {
    let (server, app) = TestServer::with_alice().await;
    let secret = app.secret.clone().unwrap();
    let code = code_for(&server, &app).await;
    let (status, first, headers) =
        token_request(&server, "default", "app", &secret, &exchange(&code, &app)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    let access = first["access_token"].as_str().unwrap().to_owned();
    let userinfo = format!("{}/userinfo", server.issuer("default"));
    assert_eq!(
        server
            .http()
            .get(&userinfo)
            .bearer_auth(&access)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );

    let (status, second, _) =
        token_request(&server, "default", "app", &secret, &exchange(&code, &app)).await;
    assert_eq!(
        (status, second["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let after = server
        .http()
        .get(&userinfo)
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), StatusCode::UNAUTHORIZED);
    assert!(after.headers()[header::WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
        .contains("invalid_token"));
    assert!(server
        .audit_actions("default")
        .await
        .iter()
        .any(|(a, _, _)| a == "code.replayed"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_redemptions_of_one_code_have_exactly_one_winner() {
    let (server, app) = TestServer::with_alice().await;
    let code = code_for(&server, &app).await;
    let mut attempts = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let (url, secret) = (
            format!("{}/token", server.issuer("default")),
            app.secret.clone().unwrap(),
        );
        let form: Vec<(String, String)> = exchange(&code, &app)
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        attempts.spawn(async move {
            let response = reqwest::Client::new()
                .post(url)
                .basic_auth("app", Some(secret))
                .form(&form)
                .send()
                .await
                .unwrap();
            response.status()
        });
    }
    let statuses = attempts.join_all().await;
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::OK).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::BAD_REQUEST)
            .count(),
        3,
        "{statuses:?}"
    );
}

#[tokio::test]
async fn an_expired_code_is_refused() {
    let (server, app) = TestServer::with_alice().await;
    let tenant = server.tenant("default").await;
    let user = server
        .state
        .store
        .users
        .by_email(tenant.id, "alice@example.com")
        .await
        .unwrap()
        .unwrap();
    let past = Timestamp::now().plus_secs(-120);
    let code = "expired-code-0123456789abcdefghijklmnopqrstuvwxyz";
    let record = AuthorizationCode {
        code_hash: tessera::crypto::sha256_hex(code),
        tenant_id: tenant.id,
        client_id: "app".into(),
        user_id: user.id,
        session_id: "s".into(),
        redirect_uri: app.redirect_uri.clone(),
        scopes: vec!["openid".into()],
        nonce: None,
        code_challenge: Some(CHALLENGE.into()),
        auth_time: past,
        amr: vec!["pwd".into()],
        issued_at: past,
        expires_at: past.plus_secs(60),
        dpop_jkt: None,
        resources: Vec::new(),
    };
    server
        .state
        .store
        .artifacts
        .put_code(tenant.id, &record)
        .await
        .unwrap();
    let (status, body, _) = token_request(
        &server,
        "default",
        "app",
        app.secret.as_deref().unwrap(),
        &exchange(code, &app),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .contains("expired"));
}

#[tokio::test]
async fn client_authentication_failures_are_invalid_client() {
    let (server, app) = TestServer::with_alice().await;
    let code = code_for(&server, &app).await;
    let (status, body, headers) = token_request(
        &server,
        "default",
        "app",
        "wrong-secret",
        &exchange(&code, &app),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
    assert!(headers[header::WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
        .starts_with("Basic"));
    let mut both = exchange(&code, &app);
    both.push(("client_secret", app.secret.as_deref().unwrap()));
    let (status, body, _) = token_request(
        &server,
        "default",
        "app",
        app.secret.as_deref().unwrap(),
        &both,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
    let mut post = exchange(&code, &app);
    post.extend([("client_id", "app"), ("client_secret", "nope")]);
    let response = server
        .http()
        .post(format!("{}/token", server.issuer("default")))
        .form(&post)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let (status, _, _) = token_request(
        &server,
        "default",
        "app",
        app.secret.as_deref().unwrap(),
        &exchange(&code, &app),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "failed authentications did not spend the code"
    );
}

#[tokio::test]
async fn clients_and_codes_do_not_cross_tenants() {
    let (server, app) = TestServer::with_alice().await;
    server.user("acme", "alice@example.com").await;
    let acme_only = server.client("acme", "acme-app", false).await;
    let response = server
        .browser()
        .get(&AuthRequest::new(&acme_only).url(&server, "default"))
        .await;
    assert_eq!(
        response.status(),
        StatusCode::BAD_REQUEST,
        "acme's client is unknown to default"
    );
    assert!(location(&response).is_none());

    let twin = server.client("acme", "app", false).await;
    let code = code_for(&server, &app).await;
    let (status, body, _) = token_request(
        &server,
        "acme",
        "app",
        twin.secret.as_deref().unwrap(),
        &exchange(&code, &app),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let (status, _, _) = token_request(
        &server,
        "acme",
        "app",
        app.secret.as_deref().unwrap(),
        &exchange(&code, &app),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "default's secret does not open acme's client"
    );

    let (status, tokens, _) = token_request(
        &server,
        "default",
        "app",
        app.secret.as_deref().unwrap(),
        &exchange(&code, &app),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let access = tokens["access_token"].as_str().unwrap();
    let at_acme = server
        .http()
        .get(format!("{}/userinfo", server.issuer("acme")))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(
        at_acme.status(),
        StatusCode::UNAUTHORIZED,
        "a token of default is no good at acme"
    );

    let browser = server.browser();
    browser
        .authorize(
            &AuthRequest::new(&app).url(&server, "default"),
            "alice@example.com",
            PASSWORD,
            "allow",
        )
        .await;
    let acme_login = browser
        .open(&AuthRequest::new(&acme_only).url(&server, "acme"))
        .await;
    assert!(
        acme_login.contains("/t/acme/login?"),
        "a sign-in at default does not sign in at acme: {acme_login}"
    );
}

#[tokio::test]
async fn security_headers_are_set_on_pages() {
    let server = TestServer::start().await;
    let response = server.browser().get("/t/default/login").await;
    let h = response.headers();
    assert_eq!(h[header::X_FRAME_OPTIONS], "DENY");
    assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    let csp = h[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert!(h.contains_key("x-request-id"));
    let cookie = h[header::SET_COOKIE].to_str().unwrap().to_ascii_lowercase();
    assert!(
        cookie.contains("httponly") && cookie.contains("samesite=lax"),
        "{cookie}"
    );
    let html = response.text().await.unwrap();
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("a script nonce");
    let scripts: Vec<&str> = html.split("<script").skip(1).collect();
    assert!(!scripts.is_empty());
    for script in scripts {
        let tag = &script[..script.find('>').unwrap()];
        assert!(
            tag.contains(&format!("nonce=\"{nonce}\"")),
            "every inline script carries the nonce: {tag}"
        );
    }
}

#[tokio::test]
async fn an_https_public_url_makes_the_session_cookie_secure_and_host_only() {
    let server = TestServer::start_with_public_url(Some("https://id.example.com")).await;
    let response = server.browser().get("/t/default/login").await;
    let cookie = response.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.starts_with("__Host-tessera_session="), "{cookie}");
    let lower = cookie.to_ascii_lowercase();
    assert!(
        lower.contains("secure") && lower.contains("path=/") && !lower.contains("domain="),
        "{cookie}"
    );
}
