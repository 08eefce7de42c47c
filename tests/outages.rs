//! Storage outages: with the OIDC artifacts in Redis, stopping Redis in the middle of sign-ins
//! and token requests gives clear 503 answers with `Retry-After` (OAuth error JSON on the
//! protocol endpoints, a page in the browser), never a 500; and service comes back by itself
//! when Redis returns.
#![cfg(feature = "ssr")]

mod common;

use common::process::free_port;
use common::{hidden, query, AuthRequest, Browser, TestClient, TestServer};
use reqwest::{header, StatusCode};
use serde_json::Value;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tessera::domain::GrantType;

/// A Redis server of this test alone, so that it can be stopped.
struct Redis {
    port: u16,
    child: Child,
}

impl Redis {
    fn start(port: u16) -> Self {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts (scripts/services.sh installs it)");
        Self { port, child }
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    async fn wait_until_up(&self) {
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("redis-server did not start on port {}", self.port);
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

fn assert_unavailable(response: &reqwest::Response, what: &str) {
    assert_eq!(
        response.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "{what}: 503 while the store is down"
    );
    let retry = response.headers().get(header::RETRY_AFTER);
    assert!(
        retry
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.parse::<u32>().is_ok()),
        "{what}: Retry-After in seconds, got {retry:?}"
    );
}

async fn oauth_unavailable(response: reqwest::Response, what: &str) {
    assert_unavailable(&response, what);
    let body: Value = response.json().await.expect("OAuth error JSON");
    assert_eq!(body["error"], "temporarily_unavailable", "{what}: {body}");
    assert!(
        !body["error_description"]
            .as_str()
            .unwrap_or_default()
            .contains("redis"),
        "{what}: the cause is logged, not told: {body}"
    );
}

/// Alice signs in through `browser` for `request`; the token endpoint's answer to its code.
async fn sign_in_for_tokens(
    server: &TestServer,
    browser: &Browser,
    app: &TestClient,
    request: &AuthRequest,
) -> reqwest::Response {
    let callback = browser
        .authorize(
            &request.url(server, "default"),
            "alice@example.com",
            common::PASSWORD,
            "allow",
        )
        .await;
    server
        .exchange_code(app, &query(&callback)["code"], &request.verifier)
        .await
}

#[tokio::test]
async fn stopping_redis_gives_503_with_retry_after_and_service_comes_back() {
    let port = free_port();
    let mut redis = Redis::start(port);
    redis.wait_until_up().await;
    let server = TestServer::start_with(
        None,
        vec![
            ("OIDC_STORAGE_ADAPTER", "redis".into()),
            ("REDIS_URL", format!("redis://127.0.0.1:{port}/0")),
        ],
    )
    .await;
    server.user("default", "alice@example.com").await;
    let app = server
        .client_with(
            "default",
            "app",
            false,
            &[GrantType::AuthorizationCode, GrantType::RefreshToken],
            &["openid", "offline_access"],
            &[],
        )
        .await;
    let browser = server.browser();
    let request = AuthRequest::new(&app).set("scope", "openid offline_access");
    let response = sign_in_for_tokens(&server, &browser, &app, &request).await;
    let tokens: Value = response.json().await.unwrap();
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();

    // Another person is at the sign-in page when Redis stops.
    let second = server.browser();
    let login = second.open(&request.url(&server, "default")).await;
    let html = second.page(&login).await;
    let form = [
        ("tenant", hidden(&html, "tenant").unwrap()),
        ("flow", hidden(&html, "flow").unwrap_or_default()),
        ("csrf", hidden(&html, "csrf").unwrap()),
        ("email", "alice@example.com".into()),
    ];

    redis.stop();

    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let posted = second.post("/api/login_email", &form).await;
    assert_unavailable(&posted, "the sign-in form");
    let html = posted.text().await.unwrap();
    assert!(
        html.contains("Try again"),
        "a page that says what to do: {html}"
    );

    let http = server.http();
    let token_url = format!("{}/token", server.issuer("default"));
    let refreshed = http
        .post(&token_url)
        .basic_auth(&app.client_id, app.secret.as_deref())
        .form(&[("grant_type", "refresh_token"), ("refresh_token", &refresh)])
        .send()
        .await
        .unwrap();
    oauth_unavailable(refreshed, "refresh grant").await;
    let redeemed = server
        .exchange_code(&app, "a-code-nobody-issued", &request.verifier)
        .await;
    oauth_unavailable(redeemed, "code grant").await;
    let userinfo = http
        .get(format!("{}/userinfo", server.issuer("default")))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    oauth_unavailable(userinfo, "userinfo").await;
    let introspected = http
        .post(format!("{}/introspect", server.issuer("default")))
        .basic_auth(&app.client_id, app.secret.as_deref())
        .form(&[("token", access.as_str())])
        .send()
        .await
        .unwrap();
    oauth_unavailable(introspected, "introspection").await;

    // A browser starting a sign-in gets a page that says to try again.
    let page = browser.get(&request.url(&server, "default")).await;
    assert_unavailable(&page, "authorize in a browser");
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Try again"),
        "a page that says what to do: {html}"
    );
    assert!(
        !html.to_lowercase().contains("redis"),
        "no internals: {html}"
    );

    // Redis comes back (empty: it kept nothing on disk); service resumes without a restart.
    let redis = Redis::start(port);
    redis.wait_until_up().await;
    let mut resumed = None;
    for _ in 0..100 {
        let landed = browser.get(&request.url(&server, "default")).await;
        if landed.status() != StatusCode::SERVICE_UNAVAILABLE {
            resumed = Some(landed.status());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        resumed.is_some_and(|s| s.is_redirection()),
        "sign-ins resume: {resumed:?}"
    );
    let request = AuthRequest::new(&app).set("scope", "openid");
    let response = sign_in_for_tokens(&server, &browser, &app, &request).await;
    assert_eq!(response.status(), StatusCode::OK, "tokens are issued again");
}

/// A PostgreSQL cluster of this test alone (in a temporary folder, on its own port), so that
/// it can be restarted without disturbing other tests.
struct PrivatePostgres {
    dir: tempfile::TempDir,
    port: u16,
    bin: std::path::PathBuf,
}

impl PrivatePostgres {
    fn command(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        // PostgreSQL refuses to run as root: as root, run it as the `postgres` account.
        let mut command = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        };
        command.stdout(Stdio::null()).stderr(Stdio::null());
        command
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn start() -> Self {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL is installed (scripts/services.sh installs it)")
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|bin| bin.join("initdb").exists())
            .max()
            .expect("an initdb under /usr/lib/postgresql");
        let dir = tempfile::tempdir().unwrap();
        if is_root() {
            let owned = Command::new("chown")
                .args(["postgres:postgres", &dir.path().display().to_string()])
                .status()
                .unwrap();
            assert!(owned.success());
        }
        let cluster = Self {
            dir,
            port: free_port(),
            bin,
        };
        let made = cluster
            .command("initdb")
            .args([
                "-D",
                &cluster.data(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
            ])
            .status()
            .unwrap();
        assert!(made.success(), "initdb");
        cluster.pg_ctl("start");
        cluster
    }

    fn pg_ctl(&self, action: &str) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("log").display().to_string();
        let done = self
            .command("pg_ctl")
            .args([
                "-D",
                &self.data(),
                "-l",
                &log,
                "-o",
                &options,
                "-m",
                "fast",
                "-w",
            ])
            .arg(action)
            .status()
            .unwrap();
        assert!(done.success(), "pg_ctl {action}");
    }

    fn url(&self, role: &str, database: &str) -> String {
        format!("postgresql://{role}@127.0.0.1:{}/{database}", self.port)
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .args(["-D", &self.data(), "-m", "immediate", "stop"])
            .status();
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.stdout.trim_ascii() == b"0")
}

/// What the load saw: status codes, and whether every 503 said when to retry.
#[derive(Default)]
struct Seen {
    statuses: Vec<StatusCode>,
    unavailable_without_retry_after: usize,
    unavailable_not_oauth_json: usize,
}

#[tokio::test]
async fn postgresql_restarting_under_load_gives_503_then_service_resumes() {
    let postgres = PrivatePostgres::start();
    let admin = sqlx::PgPool::connect(&postgres.url("postgres", "postgres"))
        .await
        .unwrap();
    for statement in [
        "CREATE ROLE tessera LOGIN NOSUPERUSER NOBYPASSRLS",
        "CREATE DATABASE tessera OWNER tessera",
    ] {
        sqlx::query(statement).execute(&admin).await.unwrap();
    }
    admin.close().await;
    let server = TestServer::start_with(
        None,
        vec![
            ("STORAGE_ADAPTER", "postgresql".into()),
            ("STORAGE_POSTGRESQL_URL", postgres.url("tessera", "tessera")),
            ("STORAGE_POSTGRESQL_TIMEOUT_SECS", "2".into()),
        ],
    )
    .await;
    let service = server
        .client_with(
            "default",
            "service",
            false,
            &[GrantType::ClientCredentials],
            &["api:read"],
            &[],
        )
        .await;

    let running = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Seen::default()));
    let load: Vec<_> = (0..4)
        .map(|_| {
            let (running, seen) = (running.clone(), seen.clone());
            let (http, url) = (server.http(), format!("{}/token", server.issuer("default")));
            let service = service.clone();
            tokio::spawn(async move {
                while running.load(std::sync::atomic::Ordering::Relaxed) {
                    let response = http
                        .post(&url)
                        .basic_auth(&service.client_id, service.secret.as_deref())
                        .form(&[("grant_type", "client_credentials")])
                        .send()
                        .await
                        .unwrap();
                    let status = response.status();
                    let retry = response.headers().contains_key(header::RETRY_AFTER);
                    let body: Value = response.json().await.unwrap_or_default();
                    let mut seen = seen.lock().unwrap();
                    if status == StatusCode::SERVICE_UNAVAILABLE {
                        seen.unavailable_without_retry_after += usize::from(!retry);
                        seen.unavailable_not_oauth_json +=
                            usize::from(body["error"] != "temporarily_unavailable");
                    }
                    seen.statuses.push(status);
                }
            })
        })
        .collect();

    tokio::time::sleep(Duration::from_millis(500)).await;
    postgres.pg_ctl("stop");
    // Longer than the pool waits for a connection (2 s here): requests meanwhile get 503.
    tokio::time::sleep(Duration::from_secs(4)).await;
    postgres.pg_ctl("start");
    let restarted_at = seen.lock().unwrap().statuses.len();
    let mut resumed = false;
    for _ in 0..150 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let seen = seen.lock().unwrap();
        let since = &seen.statuses[restarted_at.min(seen.statuses.len())..];
        if since
            .iter()
            .rev()
            .take(20)
            .filter(|s| **s == StatusCode::OK)
            .count()
            == 20
        {
            resumed = true;
            break;
        }
    }
    running.store(false, std::sync::atomic::Ordering::Relaxed);
    for task in load {
        task.await.unwrap();
    }
    let seen = seen.lock().unwrap();
    let count = |status: StatusCode| seen.statuses.iter().filter(|s| **s == status).count();
    let others: Vec<_> = seen
        .statuses
        .iter()
        .filter(|s| **s != StatusCode::OK && **s != StatusCode::SERVICE_UNAVAILABLE)
        .collect();
    assert!(
        others.is_empty(),
        "only 200 and 503, never a 500: {others:?}"
    );
    assert!(
        count(StatusCode::SERVICE_UNAVAILABLE) > 0,
        "the outage was seen: {} requests",
        seen.statuses.len()
    );
    assert_eq!(
        seen.unavailable_without_retry_after, 0,
        "every 503 says when to retry"
    );
    assert_eq!(
        seen.unavailable_not_oauth_json, 0,
        "every 503 is OAuth error JSON"
    );
    assert!(
        resumed,
        "tokens are issued again once PostgreSQL is back, without a restart"
    );
}
