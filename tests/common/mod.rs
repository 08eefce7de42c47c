//! A real Tessera server on a loopback port with its own SQLite file, and a cookie-keeping
//! "browser" that walks the sign-in pages over HTTP.
#![allow(dead_code)]

pub mod backends;
pub mod mail;
pub mod process;
pub mod saml_idp;
pub mod upstream;

use reqwest::{header, redirect::Policy, Response, StatusCode};
use std::collections::HashMap;
use tessera::admin::{clients::NewClient, users::NewUser, Actor};
use tessera::config::Config;
use tessera::domain::{GrantType, RefreshToken, Tenant, Timestamp, User, UserId};
use tessera::state::AppState;
use url::Url;

pub const PASSWORD: &str = "correct horse battery";

/// The Python of `.venv-services/` (scripts/services.sh), where the tests' Python tools are.
pub fn services_python() -> std::path::PathBuf {
    match std::env::var("TESSERA_TEST_PYTHON") {
        Ok(path) if !path.is_empty() => std::path::PathBuf::from(path),
        _ => std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv-services/bin/python"),
    }
}

pub struct TestServer {
    pub base: String,
    pub state: AppState,
    _storage: Box<dyn std::any::Any + Send>,
}

#[derive(Clone)]
pub struct TestClient {
    pub client_id: String,
    pub secret: Option<String>,
    pub redirect_uri: String,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(None, Vec::new()).await
    }

    /// A server whose configured public URL differs from where it listens (behind a proxy).
    pub async fn start_with_public_url(public_url: Option<&str>) -> Self {
        Self::start_with(public_url, Vec::new()).await
    }

    /// A server with extra settings, such as those of a [`mail::MailSink`].
    pub async fn start_with(public_url: Option<&str>, extra: Vec<(&'static str, String)>) -> Self {
        let storage = backends::provision(&backends::selected()).await;
        Self::start_on(storage, public_url, extra).await
    }

    /// A server on `storage`, which it migrates first.
    pub async fn start_on(
        storage: backends::Provisioned,
        public_url: Option<&str>,
        extra: Vec<(&'static str, String)>,
    ) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().unwrap());
        let mut vars: HashMap<&str, String> = HashMap::from([
            (
                "TESSERA_ENCRYPTION_KEY",
                tessera::crypto::EncryptionKey::generate().1,
            ),
            (
                "TESSERA_PUBLIC_URL",
                public_url.unwrap_or(&base).to_string(),
            ),
            ("TESSERA_LISTEN", listener.local_addr().unwrap().to_string()),
        ]);
        vars.extend(storage.vars.iter().cloned());
        let mail_dir = tempfile::tempdir().expect("temp dir");
        vars.insert("MAIL_DEV_DIR", mail_dir.path().display().to_string());
        vars.extend(extra);
        let config = Config::from_lookup(|k| vars.get(k).cloned()).expect("config");
        let state = tessera::cli::build_state(config, true, true)
            .await
            .expect("state");
        tessera::cli::bootstrap(&state).await.expect("bootstrap");
        let serving = state.clone();
        tokio::spawn(async move { tessera::http::serve(serving, listener).await });
        tessera::jobs::queue::spawn_worker(state.clone());
        Self {
            base,
            state,
            _storage: Box::new((storage.guard, mail_dir)),
        }
    }

    pub fn issuer(&self, slug: &str) -> String {
        format!("{}/t/{slug}", self.base)
    }

    pub async fn tenant(&self, slug: &str) -> Tenant {
        match tessera::admin::tenants::find(&self.state, slug).await {
            Ok(t) => t,
            Err(_) => tessera::admin::tenants::create(
                &self.state,
                &Actor::Cli,
                slug,
                &format!("Tenant {slug}"),
            )
            .await
            .expect("tenant"),
        }
    }

    pub async fn user(&self, slug: &str, email: &str) {
        let tenant = self.tenant(slug).await;
        let new = NewUser {
            email,
            name: Some("Alice Example"),
            password: Some(PASSWORD.into()),
            admin: false,
        };
        tessera::admin::users::create(&self.state, &Actor::Cli, &tenant, new)
            .await
            .expect("user");
    }

    pub async fn client(&self, slug: &str, client_id: &str, public: bool) -> TestClient {
        self.client_with(
            slug,
            client_id,
            public,
            &[GrantType::AuthorizationCode],
            &[],
            &[],
        )
        .await
    }

    /// A client with the given grants, scopes (empty: the defaults) and RFC 8707 resources.
    pub async fn client_with(
        &self,
        slug: &str,
        client_id: &str,
        public: bool,
        grants: &[GrantType],
        scopes: &[&str],
        resources: &[&str],
    ) -> TestClient {
        let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
        self.register(
            slug,
            NewClient {
                client_id: client_id.into(),
                public,
                grants: grants.to_vec(),
                scopes: strings(scopes),
                resources: strings(resources),
                ..Default::default()
            },
        )
        .await
    }

    /// Registers `new` (its name and redirect URI filled in when empty).
    pub async fn register(&self, slug: &str, mut new: NewClient) -> TestClient {
        let tenant = self.tenant(slug).await;
        let redirect_uri = "http://127.0.0.1:8123/callback".to_string();
        if new.name.is_empty() {
            new.name = "Test App".into();
        }
        if new.redirect_uris.is_empty() {
            new.redirect_uris = vec![redirect_uri.clone()];
        }
        let client_id = new.client_id.clone();
        let (_, secret) = tessera::admin::clients::create(&self.state, &Actor::Cli, &tenant, new)
            .await
            .expect("client");
        TestClient {
            client_id,
            secret,
            redirect_uri,
        }
    }

    /// A server with tenant `default`, user alice@example.com and a confidential client `app`.
    pub async fn with_alice() -> (Self, TestClient) {
        let server = Self::start().await;
        server.user("default", "alice@example.com").await;
        let client = server.client("default", "app", false).await;
        (server, client)
    }

    /// A person of `tenant` (named Alice Example) with the test password and, when given, a role.
    pub async fn person(&self, tenant: &Tenant, email: &str, role: Option<&str>) -> UserId {
        let new = NewUser {
            email,
            name: Some("Alice Example"),
            password: Some(PASSWORD.into()),
            admin: false,
        };
        let id = tessera::admin::users::create(&self.state, &Actor::Cli, tenant, new)
            .await
            .expect("user")
            .id;
        if let Some(role) = role {
            tessera::admin::roles::assign(&self.state, &Actor::Cli, tenant, id, role)
                .await
                .expect("role");
        }
        id
    }

    /// A browser signed in to `slug` as `email`, with the test password alone.
    pub async fn signed_in(&self, slug: &str, email: &str) -> Browser {
        let browser = self.browser();
        let response = browser
            .sign_in(&format!("/t/{slug}/login"), email, PASSWORD)
            .await;
        assert!(response.status().is_redirection(), "{email} signed in");
        browser
    }

    pub fn browser(&self) -> Browser {
        Browser {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(Policy::none())
                .build()
                .unwrap(),
            base: self.base.clone(),
        }
    }

    /// The discovery document of `slug` (OIDC Discovery §4).
    pub async fn discovery(&self, slug: &str) -> serde_json::Value {
        self.http()
            .get(format!(
                "{}/.well-known/openid-configuration",
                self.issuer(slug)
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub fn http(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .redirect(Policy::none())
            .build()
            .unwrap()
    }

    /// A client-credentials token request (RFC 6749 §4.4) of `client_id` in `slug`, its
    /// `secret` in HTTP Basic; the status of the answer.
    pub async fn client_credentials(
        &self,
        slug: &str,
        client_id: &str,
        secret: &str,
    ) -> StatusCode {
        self.http()
            .post(format!("{}/token", self.issuer(slug)))
            .basic_auth(client_id, Some(secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap()
            .status()
    }

    /// Exchanges `code` at the token endpoint as `app`: its secret in HTTP Basic, or (public
    /// clients) its client_id in the body.
    pub async fn exchange_code(&self, app: &TestClient, code: &str, verifier: &str) -> Response {
        self.exchange_code_in("default", app, code, verifier).await
    }

    /// [`Self::exchange_code`] at the token endpoint of the tenant `slug`.
    pub async fn exchange_code_in(
        &self,
        slug: &str,
        app: &TestClient,
        code: &str,
        verifier: &str,
    ) -> Response {
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", app.redirect_uri.as_str()),
            ("code_verifier", verifier),
            ("client_id", app.client_id.as_str()),
        ];
        let request = self.http().post(format!("{}/token", self.issuer(slug)));
        match &app.secret {
            Some(secret) => request
                .basic_auth(&app.client_id, Some(secret))
                .form(&form[..4]),
            None => request.form(&form),
        }
        .send()
        .await
        .unwrap()
    }

    pub async fn audit_actions(&self, slug: &str) -> Vec<(String, String, Option<String>)> {
        let tenant = self.tenant(slug).await;
        self.state
            .store
            .audit
            .recent(tenant.id, None, 200)
            .await
            .unwrap()
            .into_iter()
            .map(|e| (e.action, e.outcome.as_str().to_string(), e.reason))
            .collect()
    }
}

/// Standard authorization request parameters for `client` with a PKCE challenge.
#[derive(Clone)]
pub struct AuthRequest {
    pub params: Vec<(String, String)>,
    pub verifier: String,
}

pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

impl AuthRequest {
    pub fn new(client: &TestClient) -> Self {
        let params = [
            ("response_type", "code"),
            ("client_id", client.client_id.as_str()),
            ("redirect_uri", client.redirect_uri.as_str()),
            ("scope", "openid profile email"),
            ("state", "state-123"),
            ("nonce", "nonce-456"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ];
        Self {
            params: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            verifier: VERIFIER.into(),
        }
    }

    pub fn set(mut self, key: &str, value: &str) -> Self {
        self.params.retain(|(k, _)| k != key);
        self.params.push((key.into(), value.into()));
        self
    }

    pub fn without(mut self, key: &str) -> Self {
        self.params.retain(|(k, _)| k != key);
        self
    }

    pub fn url(&self, server: &TestServer, slug: &str) -> String {
        let query = serde_urlencoded::to_string(&self.params).unwrap();
        format!("{}/authorize?{query}", server.issuer(slug))
    }
}

pub struct Browser {
    pub http: reqwest::Client,
    pub base: String,
}

pub fn location(response: &Response) -> Option<String> {
    response
        .headers()
        .get(header::LOCATION)
        .map(|v| v.to_str().unwrap().to_string())
}

/// The value of the hidden input `name` in a page.
pub fn hidden(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_string())
}

/// The message a page shows next to the form field `id` (its `{id}-check` note), as HTML.
pub fn field_note(html: &str, id: &str) -> String {
    let marker = format!("id=\"{id}-check\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no note for {id}"))
        + marker.len();
    let end = html[start..].find("</p>").expect("the note ends") + start;
    html[start..end].to_string()
}

pub fn query(url: &str) -> HashMap<String, String> {
    Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

impl Browser {
    pub fn absolute(&self, url: &str) -> String {
        if url.starts_with('/') {
            format!("{}{url}", self.base)
        } else {
            url.to_string()
        }
    }

    pub async fn get(&self, url: &str) -> Response {
        self.http
            .get(self.absolute(url))
            .header(header::ACCEPT, "text/html")
            .send()
            .await
            .unwrap()
    }

    pub async fn page(&self, url: &str) -> String {
        let response = self.get(url).await;
        assert_eq!(response.status(), StatusCode::OK, "GET {url}");
        response.text().await.unwrap()
    }

    /// Posts a form the way a browser without JavaScript does.
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Response {
        self.submit(path, form).await
    }

    /// [`Browser::post`] of fields whose names or values are owned (`String`).
    pub async fn submit<K, V>(&self, path: &str, form: &[(K, V)]) -> Response
    where
        K: serde::Serialize,
        V: serde::Serialize,
    {
        self.http
            .post(self.absolute(path))
            .header(header::ACCEPT, "text/html")
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// Follows same-site redirects until one leaves the server (or a page is reached).
    pub async fn follow(&self, mut response: Response) -> Result<String, Response> {
        loop {
            match location(&response) {
                Some(next) if response.status().is_redirection() => {
                    let next = self.absolute(&next);
                    if !next.starts_with(&self.base) {
                        return Ok(next);
                    }
                    response = self.get(&next).await;
                }
                _ => return Err(response),
            }
        }
    }

    /// Opens `auth_url` and follows redirects; returns the page URL reached (login, consent…).
    pub async fn open(&self, auth_url: &str) -> String {
        let mut response = self.get(auth_url).await;
        let mut url = auth_url.to_string();
        while let Some(next) = location(&response).filter(|_| response.status().is_redirection()) {
            url = self.absolute(&next);
            if !url.starts_with(&self.base) {
                return url;
            }
            response = self.get(&url).await;
        }
        url
    }

    /// Signs in on the login page at `login_url`; returns the response to the password form.
    pub async fn sign_in(&self, login_url: &str, email: &str, password: &str) -> Response {
        let html = self.page(login_url).await;
        let tenant = hidden(&html, "tenant").expect("tenant field");
        let flow = hidden(&html, "flow").unwrap_or_default();
        let csrf = hidden(&html, "csrf").expect("csrf field");
        let response = self
            .post(
                "/api/login_email",
                &[
                    ("tenant", &tenant),
                    ("flow", &flow),
                    ("csrf", &csrf),
                    ("email", email),
                ],
            )
            .await;
        let password_page =
            self.absolute(&location(&response).expect("redirect to the password step"));
        let html = self.page(&password_page).await;
        let flow = hidden(&html, "flow").expect("flow field");
        assert!(
            html.contains("type=\"password\""),
            "password step expected: {html}"
        );
        self.post(
            "/api/login_password",
            &[
                ("tenant", &tenant),
                ("flow", &flow),
                ("csrf", &csrf),
                ("password", password),
            ],
        )
        .await
    }

    /// Answers the consent page at `consent_url`.
    pub async fn consent(&self, consent_url: &str, decision: &str) -> Response {
        let html = self.page(consent_url).await;
        let form: Vec<(&str, String)> = ["tenant", "flow", "csrf"]
            .iter()
            .map(|n| (*n, hidden(&html, n).expect(n)))
            .collect();
        let mut fields: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        fields.push(("decision", decision));
        self.post("/api/consent", &fields).await
    }

    /// The whole person-side flow: authorize, sign in, consent; returns the client callback URL.
    pub async fn authorize(
        &self,
        auth_url: &str,
        email: &str,
        password: &str,
        decision: &str,
    ) -> String {
        let landed = self.open(auth_url).await;
        if !landed.starts_with(&self.base) {
            // Already signed in and consented: straight back to the client.
            return landed;
        }
        let consent = if landed.contains("/login?") {
            let after_password = self.sign_in(&landed, email, password).await;
            match self.follow(after_password).await {
                Ok(callback) => return callback,
                Err(page) => page.url().to_string(),
            }
        } else {
            landed
        };
        assert!(
            consent.contains("/consent?"),
            "expected the consent page, got {consent}"
        );
        self.follow(self.consent(&consent, decision).await)
            .await
            .expect("a redirect back to the client")
    }
}

/// The `value` of the element carrying `marker` (such as `data-testid="…"`), whatever the
/// order of its attributes.
pub fn hidden_value(html: &str, marker: &str) -> Option<String> {
    let at = html.find(marker)?;
    let start = html[..at].rfind('<')?;
    let end = at + html[at..].find('>')?;
    let tag = &html[start..end];
    let value = tag.find("value=\"")? + "value=\"".len();
    let len = tag[value..].find('"')?;
    Some(tag[value..value + len].to_string())
}

/// A refresh token of `user` in family `family`, bound to the browser sign-in `s1`, valid for
/// an hour.
pub fn refresh(tenant: &Tenant, user: &User, hash: &str, family: &str) -> RefreshToken {
    let now = Timestamp::now();
    RefreshToken {
        token_hash: hash.into(),
        tenant_id: tenant.id,
        family_id: family.into(),
        client_id: "app".into(),
        user_id: user.id,
        session_id: "s1".into(),
        scopes: vec!["openid".into(), "offline_access".into()],
        resource: Some("https://api.example/".into()),
        auth_time: now,
        amr: vec!["pwd".into()],
        issued_at: now,
        expires_at: now.plus_secs(3600),
        family_expires_at: now.plus_secs(86400),
        rotated_at: None,
        revoked_at: None,
        session_bound: true,
        // Stored and read back by every backend's contract tests.
        jkt: Some("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I".into()),
    }
}
