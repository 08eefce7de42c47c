//! DPoP (RFC 9449): tokens bound to a key the client proves it holds, at the token endpoint,
//! the UserInfo endpoint and introspection; refused proofs (replayed, for another request,
//! stale, unsigned, signed by another key); clients that must use DPoP, and server nonces.
#![cfg(feature = "ssr")]

mod common;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use common::{location, query, AuthRequest, TestClient, TestServer, PASSWORD};
use reqwest::{header::HeaderMap, RequestBuilder, StatusCode};
use serde_json::{json, Value};
use tessera::admin::clients::NewClient;
use tessera::crypto::{sha256_b64url, signing};
use tessera::domain::{GrantType, SigningAlg, Timestamp};
use tessera::oidc::dpop::thumbprint;

/// A client's DPoP key.
struct Holder {
    key: signing::NewKeyPair,
}

impl Holder {
    fn new() -> Self {
        Self {
            key: signing::generate(SigningAlg::ES256),
        }
    }

    fn jkt(&self) -> String {
        thumbprint(&self.key.public_jwk).unwrap()
    }

    /// A proof for `method` `url`, made now, with these claims added or replaced.
    fn proof(&self, method: &str, url: &str, extra: Value) -> String {
        let mut claims = json!({
            "jti": tessera::crypto::random_token(16),
            "htm": method,
            "htu": url,
            "iat": Timestamp::now().unix(),
        });
        for (name, value) in extra.as_object().unwrap() {
            claims[name] = value.clone();
        }
        self.signed(&claims, &self.key.public_jwk)
    }

    /// A proof for an access token at a resource (`ath`, §4.3 step 12).
    fn proof_for_token(&self, method: &str, url: &str, token: &str) -> String {
        let ath = sha256_b64url(token.as_bytes());
        self.proof(method, url, json!({ "ath": ath }))
    }

    /// `claims` signed with this holder's key, with `jwk` in the header as it is.
    fn signed(&self, claims: &Value, jwk: &Value) -> String {
        let header = json!({ "typ": "dpop+jwt", "alg": "ES256", "jwk": jwk });
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let key = jsonwebtoken::EncodingKey::from_ec_der(&self.key.private_der);
        let signature =
            jsonwebtoken::crypto::sign(input.as_bytes(), &key, jsonwebtoken::Algorithm::ES256)
                .unwrap();
        format!("{input}.{signature}")
    }
}

fn payload(jwt: &str) -> Value {
    let part = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// The status, headers and JSON body of an answer.
async fn send(request: RequestBuilder) -> (StatusCode, HeaderMap, Value) {
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    (
        status,
        headers,
        response.json().await.unwrap_or(Value::Null),
    )
}

fn header(headers: &HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// A confidential service client of `default` with client credentials, set up by `tweak`.
async fn service(server: &TestServer, client_id: &str, tweak: fn(&mut NewClient)) -> TestClient {
    let mut new = NewClient {
        client_id: client_id.into(),
        grants: vec![GrantType::ClientCredentials],
        scopes: vec!["api:read".into()],
        ..Default::default()
    };
    tweak(&mut new);
    server.register("default", new).await
}

/// A client-credentials request of `app` carrying `proofs` as DPoP headers.
fn token_request(server: &TestServer, app: &TestClient, proofs: &[&str]) -> RequestBuilder {
    let mut request = server
        .http()
        .post(format!("{}/token", server.issuer("default")))
        .basic_auth(&app.client_id, app.secret.as_deref())
        .form(&[("grant_type", "client_credentials")]);
    for proof in proofs {
        request = request.header("DPoP", *proof);
    }
    request
}

#[tokio::test]
async fn tokens_are_bound_to_the_proven_key_and_introspection_says_so() {
    let server = TestServer::start().await;
    let app = service(&server, "svc", |_| {}).await;
    let token_url = format!("{}/token", server.issuer("default"));
    let holder = Holder::new();

    let proof = holder.proof("POST", &token_url, json!({}));
    let (status, _, body) = send(token_request(&server, &app, &[&proof])).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "DPoP");
    let access = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(payload(&access)["cnf"]["jkt"], holder.jkt());

    let (status, _, body) = send(token_request(&server, &app, &[])).await;
    assert_eq!(status, StatusCode::OK, "DPoP is optional for this client");
    assert_eq!(body["token_type"], "Bearer");
    assert!(payload(body["access_token"].as_str().unwrap())["cnf"].is_null());

    let (status, _, answer) = send(
        server
            .http()
            .post(format!("{}/introspect", server.issuer("default")))
            .basic_auth(&app.client_id, app.secret.as_deref())
            .form(&[("token", access.as_str())]),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["active"], true);
    assert_eq!(answer["token_type"], "DPoP");
    assert_eq!(answer["cnf"]["jkt"], holder.jkt());

    let discovery = server.discovery("default").await;
    let algs = discovery["dpop_signing_alg_values_supported"]
        .as_array()
        .unwrap();
    assert!(algs.contains(&json!("ES256")) && !algs.contains(&json!("none")));
}

#[tokio::test]
async fn careless_and_forged_proofs_are_refused() {
    let server = TestServer::start().await;
    let app = service(&server, "svc", |_| {}).await;
    let token_url = format!("{}/token", server.issuer("default"));
    let holder = Holder::new();
    let stranger = Holder::new();
    let now = Timestamp::now().unix();

    let used = holder.proof("POST", &token_url, json!({}));
    let (status, _, _) = send(token_request(&server, &app, &[&used])).await;
    assert_eq!(status, StatusCode::OK);

    let unsigned = {
        let header = json!({ "typ": "dpop+jwt", "alg": "none", "jwk": holder.key.public_jwk });
        let claims = json!({ "jti": "n1", "htm": "POST", "htu": token_url, "iat": now });
        format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        )
    };
    let mut private_jwk = holder.key.public_jwk.clone();
    private_jwk["d"] = json!("c2VjcmV0");
    let claims = |jti: &str| json!({ "jti": jti, "htm": "POST", "htu": token_url, "iat": now });
    let another = holder.proof("POST", &token_url, json!({}));
    let cases: Vec<(&str, Vec<String>)> = vec![
        ("replayed", vec![used.clone()]),
        (
            "for another URL",
            vec![holder.proof(
                "POST",
                &format!("{}/userinfo", server.issuer("default")),
                json!({}),
            )],
        ),
        (
            "for another tenant's token endpoint",
            vec![holder.proof(
                "POST",
                &format!("{}/token", server.issuer("other")),
                json!({}),
            )],
        ),
        (
            "for another method",
            vec![holder.proof("GET", &token_url, json!({}))],
        ),
        (
            "stale",
            vec![holder.proof("POST", &token_url, json!({ "iat": now - 300 }))],
        ),
        (
            "from the future",
            vec![holder.proof("POST", &token_url, json!({ "iat": now + 300 }))],
        ),
        ("unsigned (alg none)", vec![unsigned]),
        (
            "signed by another key than its jwk",
            vec![stranger.signed(&claims("s1"), &holder.key.public_jwk)],
        ),
        (
            "carrying a private key",
            vec![holder.signed(&claims("p1"), &private_jwk)],
        ),
        ("not a JWT", vec!["not-a-proof".into()]),
        (
            "two proofs",
            vec![another.clone(), holder.proof("POST", &token_url, json!({}))],
        ),
        (
            "with a nonce this server never made",
            vec![holder.proof("POST", &token_url, json!({ "nonce": "made-up" }))],
        ),
    ];
    for (case, proofs) in cases {
        let proofs: Vec<&str> = proofs.iter().map(String::as_str).collect();
        let (status, headers, body) = send(token_request(&server, &app, &proofs)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{case}: {body}");
        let expected = if case.contains("nonce") {
            "use_dpop_nonce"
        } else {
            "invalid_dpop_proof"
        };
        assert_eq!(body["error"], expected, "{case}: {body}");
        if expected == "use_dpop_nonce" {
            assert!(
                !header(&headers, "dpop-nonce").is_empty(),
                "{case}: a nonce to use"
            );
        }
    }
}

#[tokio::test]
async fn a_client_can_be_required_to_use_dpop_and_server_nonces() {
    let server = TestServer::start().await;
    let token_url = format!("{}/token", server.issuer("default"));
    let holder = Holder::new();

    let strict = service(&server, "strict", |c| c.require_dpop = true).await;
    let (status, _, body) = send(token_request(&server, &strict, &[])).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_dpop_proof")),
        "{body}"
    );
    let proof = holder.proof("POST", &token_url, json!({}));
    let (status, _, body) = send(token_request(&server, &strict, &[&proof])).await;
    assert_eq!(
        (status, body["token_type"].as_str()),
        (StatusCode::OK, Some("DPoP"))
    );

    let nonced = service(&server, "nonced", |c| c.require_dpop_nonce = true).await;
    let proof = holder.proof("POST", &token_url, json!({}));
    let (status, headers, body) = send(token_request(&server, &nonced, &[&proof])).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("use_dpop_nonce")),
        "a proof without a nonce: {body}"
    );
    let nonce = header(&headers, "dpop-nonce");
    assert!(!nonce.is_empty());
    let proof = holder.proof("POST", &token_url, json!({ "nonce": nonce }));
    let (status, headers, body) = send(token_request(&server, &nonced, &[&proof])).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        !header(&headers, "dpop-nonce").is_empty(),
        "the next nonce comes along"
    );

    // A nonce made five minutes and more ago is stale; one made for another tenant is no use.
    let tenant = server.tenant("default").await;
    let sealed = |at: i64, tenant_id: String| {
        URL_SAFE_NO_PAD.encode(
            server
                .state
                .secrets
                .seal(&at.to_be_bytes(), &format!("dpop-nonce:{tenant_id}")),
        )
    };
    let stale = sealed(Timestamp::now().unix() - 400, tenant.id.to_string());
    let elsewhere = sealed(Timestamp::now().unix(), uuid::Uuid::now_v7().to_string());
    for (case, nonce) in [("stale", stale), ("another tenant's", elsewhere)] {
        let proof = holder.proof("POST", &token_url, json!({ "nonce": nonce }));
        let (status, _, body) = send(token_request(&server, &nonced, &[&proof])).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("use_dpop_nonce")),
            "{case} nonce: {body}"
        );
    }
}

/// A public client's tokens from the code flow, bound to `holder`'s key.
async fn bound_sign_in(server: &TestServer, app: &TestClient, holder: &Holder) -> Value {
    let browser = server.browser();
    let request = AuthRequest::new(app).set("scope", "openid email offline_access");
    let callback = browser
        .authorize(
            &request.url(server, "default"),
            "alice@example.com",
            PASSWORD,
            "allow",
        )
        .await;
    let code = query(&callback)["code"].clone();
    let token_url = format!("{}/token", server.issuer("default"));
    let (status, _, body) = send(
        server
            .http()
            .post(&token_url)
            .header("DPoP", holder.proof("POST", &token_url, json!({})))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", app.redirect_uri.as_str()),
                ("code_verifier", request.verifier.as_str()),
                ("client_id", app.client_id.as_str()),
            ]),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "DPoP");
    body
}

#[tokio::test]
async fn userinfo_and_refresh_honour_the_binding() {
    let server = TestServer::start().await;
    server.user("default", "alice@example.com").await;
    let app = server
        .client_with(
            "default",
            "spa",
            true,
            &[GrantType::AuthorizationCode, GrantType::RefreshToken],
            &["openid", "email", "offline_access"],
            &[],
        )
        .await;
    let holder = Holder::new();
    let stranger = Holder::new();
    let tokens = bound_sign_in(&server, &app, &holder).await;
    let access = tokens["access_token"].as_str().unwrap();
    let userinfo = format!("{}/userinfo", server.issuer("default"));
    let get = |scheme: &str, proof: Option<String>| {
        let request = server
            .http()
            .get(&userinfo)
            .header("Authorization", format!("{scheme} {access}"));
        match proof {
            Some(proof) => request.header("DPoP", proof),
            None => request,
        }
    };

    let (status, _, claims) = send(get(
        "DPoP",
        Some(holder.proof_for_token("GET", &userinfo, access)),
    ))
    .await;
    assert_eq!(status, StatusCode::OK, "{claims}");
    assert_eq!(claims["email"], "alice@example.com");

    let refused = [
        ("as a bearer token", get("Bearer", None)),
        ("without a proof", get("DPoP", None)),
        (
            "with another key's proof",
            get(
                "DPoP",
                Some(stranger.proof_for_token("GET", &userinfo, access)),
            ),
        ),
        (
            "with a proof for no token",
            get("DPoP", Some(holder.proof("GET", &userinfo, json!({})))),
        ),
        (
            "with a proof for POST",
            get(
                "DPoP",
                Some(holder.proof_for_token("POST", &userinfo, access)),
            ),
        ),
    ];
    for (case, request) in refused {
        let (status, headers, body) = send(request).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{case}: {body}");
        assert!(
            header(&headers, "www-authenticate").starts_with("DPoP "),
            "{case}: a DPoP challenge"
        );
    }

    // RFC 9449 §5: a public client's refresh token needs a proof of the same key.
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    let token_url = format!("{}/token", server.issuer("default"));
    let refresh = |proof: Option<String>| {
        let request = server.http().post(&token_url).form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", "spa"),
        ]);
        match proof {
            Some(proof) => request.header("DPoP", proof),
            None => request,
        }
    };
    for (case, proof) in [
        ("without a proof", None),
        (
            "with another key",
            Some(stranger.proof("POST", &token_url, json!({}))),
        ),
    ] {
        let (status, _, body) = send(refresh(proof)).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_grant")),
            "a refresh {case}: {body}"
        );
    }
    let (status, _, body) = send(refresh(Some(holder.proof("POST", &token_url, json!({}))))).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the refused attempts did not spend it: {body}"
    );
    assert_eq!(body["token_type"], "DPoP");
    assert_eq!(
        payload(body["access_token"].as_str().unwrap())["cnf"]["jkt"],
        holder.jkt()
    );
}

/// A code for `request`, signed in as Alice in a fresh browser.
async fn code_for(server: &TestServer, url: &str) -> String {
    let callback = server
        .browser()
        .authorize(url, "alice@example.com", PASSWORD, "allow")
        .await;
    query(&callback)["code"].clone()
}

/// Redeems `code` of the public client `spa` with `proof`; the status and answer.
async fn redeem(
    server: &TestServer,
    app: &TestClient,
    code: &str,
    proof: Option<String>,
) -> (StatusCode, Value) {
    let token_url = format!("{}/token", server.issuer("default"));
    let mut request = server.http().post(&token_url).form(&[
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", app.redirect_uri.as_str()),
        ("code_verifier", common::VERIFIER),
        ("client_id", app.client_id.as_str()),
    ]);
    if let Some(proof) = proof {
        request = request.header("DPoP", proof);
    }
    let (status, _, body) = send(request).await;
    (status, body)
}

/// RFC 9449 §10: `dpop_jkt` in the authorization request, or a proof sent with a pushed one,
/// binds the code to a key.
#[tokio::test]
async fn an_authorization_code_can_be_bound_to_a_key() {
    let server = TestServer::start().await;
    server.user("default", "alice@example.com").await;
    let app = server.client("default", "spa", true).await;
    let token_url = format!("{}/token", server.issuer("default"));
    let holder = Holder::new();
    let stranger = Holder::new();
    let bound = AuthRequest::new(&app).set("dpop_jkt", &holder.jkt());

    for (case, proof) in [
        ("without a proof", None),
        (
            "with another key",
            Some(stranger.proof("POST", &token_url, json!({}))),
        ),
    ] {
        let code = code_for(&server, &bound.url(&server, "default")).await;
        let (status, body) = redeem(&server, &app, &code, proof).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_grant")),
            "a bound code redeemed {case}: {body}"
        );
    }
    let code = code_for(&server, &bound.url(&server, "default")).await;
    let (status, body) = redeem(
        &server,
        &app,
        &code,
        Some(holder.proof("POST", &token_url, json!({}))),
    )
    .await;
    assert_eq!(
        (status, body["token_type"].as_str()),
        (StatusCode::OK, Some("DPoP")),
        "{body}"
    );

    let malformed = AuthRequest::new(&app).set("dpop_jkt", "not-a-thumbprint");
    let refused = server
        .browser()
        .get(&malformed.url(&server, "default"))
        .await;
    let to = location(&refused).expect("an error for the client");
    assert_eq!(query(&to)["error"], "invalid_request");

    // Pushed with a proof: the code is bound to the proof's key.
    let par_url = format!("{}/par", server.issuer("default"));
    let push = |proof: String, request: &AuthRequest| {
        server
            .http()
            .post(&par_url)
            .header("DPoP", proof)
            .form(&request.params)
    };
    let (status, _, body) = send(push(
        holder.proof("POST", &par_url, json!({})),
        &AuthRequest::new(&app),
    ))
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let query_string = serde_urlencoded::to_string([
        ("client_id", "spa"),
        ("request_uri", body["request_uri"].as_str().unwrap()),
    ])
    .unwrap();
    let code = code_for(
        &server,
        &format!("{}/authorize?{query_string}", server.issuer("default")),
    )
    .await;
    let (status, body) = redeem(
        &server,
        &app,
        &code,
        Some(stranger.proof("POST", &token_url, json!({}))),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "{body}"
    );
    // A proof of one key and a dpop_jkt of another: refused.
    let (status, _, body) = send(push(stranger.proof("POST", &par_url, json!({})), &bound)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_dpop_proof")),
        "{body}"
    );
}

#[tokio::test]
async fn the_management_api_takes_a_bound_token_only_with_a_proof_of_its_key() {
    let server = TestServer::start().await;
    let api = format!("{}/api/v1", server.issuer("default"));
    let users = format!("{api}/users");
    let app = server
        .register(
            "default",
            NewClient {
                client_id: "robot".into(),
                grants: vec![GrantType::ClientCredentials],
                scopes: vec!["tessera:users:read".into()],
                resources: vec![api.clone()],
                ..Default::default()
            },
        )
        .await;
    let token_url = format!("{}/token", server.issuer("default"));
    let holder = Holder::new();
    let token_for = |proofs: Vec<String>| {
        let mut request = server
            .http()
            .post(&token_url)
            .basic_auth(&app.client_id, app.secret.as_deref())
            .form(&[
                ("grant_type", "client_credentials"),
                ("scope", "tessera:users:read"),
                ("resource", api.as_str()),
            ]);
        for proof in proofs {
            request = request.header("DPoP", proof);
        }
        async move {
            send(request).await.2["access_token"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let bound = token_for(vec![holder.proof("POST", &token_url, json!({}))]).await;
    let unbound = token_for(Vec::new()).await;
    let call = |scheme: &str, token: &str, proof: Option<String>| {
        let mut request = server
            .http()
            .get(&users)
            .header("authorization", format!("{scheme} {token}"));
        if let Some(proof) = proof {
            request = request.header("DPoP", proof);
        }
        send(request)
    };

    // RFC 9449 §7.1: the DPoP scheme with a proof of the bound key for this request.
    let proof = holder.proof_for_token("GET", &users, &bound);
    let (status, _, body) = call("DPoP", &bound, Some(proof.clone())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["data"].is_array());

    let stranger = Holder::new();
    let refusals = [
        ("as a bearer token", "Bearer", bound.clone(), None),
        ("without a proof", "DPoP", bound.clone(), None),
        ("with a replayed proof", "DPoP", bound.clone(), Some(proof)),
        (
            "with a proof for another URL",
            "DPoP",
            bound.clone(),
            Some(holder.proof_for_token("GET", &format!("{api}/roles"), &bound)),
        ),
        (
            "with a proof for another method",
            "DPoP",
            bound.clone(),
            Some(holder.proof_for_token("POST", &users, &bound)),
        ),
        (
            "with a proof by another key",
            "DPoP",
            bound.clone(),
            Some(stranger.proof_for_token("GET", &users, &bound)),
        ),
        (
            "with a proof for another token",
            "DPoP",
            bound.clone(),
            Some(holder.proof_for_token("GET", &users, &unbound)),
        ),
        (
            "an unbound token in the DPoP scheme",
            "DPoP",
            unbound.clone(),
            Some(holder.proof_for_token("GET", &users, &unbound)),
        ),
    ];
    for (case, scheme, token, proof) in refusals {
        let (status, headers, body) = call(scheme, &token, proof).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{case}: {body}");
        assert!(!header(&headers, "www-authenticate").is_empty(), "{case}");
    }
    let (status, headers, _) = call("Bearer", &bound, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(header(&headers, "www-authenticate").starts_with("DPoP "));
    // The unbound token still works as what it is.
    let (status, _, _) = call("Bearer", &unbound, None).await;
    assert_eq!(status, StatusCode::OK);
}
