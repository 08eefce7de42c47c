//! Prints how long the hot paths take on this machine: a whole sign-in with code exchange, the
//! token and userinfo endpoints alone, discovery, and `/healthz` latency while a burst of
//! password checks (Argon2id) runs. Run with `cargo bench --features ssr`.

#[path = "../tests/common/mod.rs"]
mod common;

use common::{query, AuthRequest, TestServer, PASSWORD, VERIFIER};
use std::time::{Duration, Instant};

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let pct = |p: f64| {
        samples[((samples.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1000.0
    };
    let total: Duration = samples.iter().sum();
    println!(
        "{name:<44} n={:<5} p50={:>7.2} ms  p95={:>7.2} ms  max={:>7.2} ms  ({:.0}/s sequential)",
        samples.len(),
        pct(0.5),
        pct(0.95),
        pct(1.0),
        samples.len() as f64 / total.as_secs_f64()
    );
}

async fn timed<F: std::future::Future>(f: F) -> (F::Output, Duration) {
    let start = Instant::now();
    let out = f.await;
    (out, start.elapsed())
}

#[tokio::main]
async fn main() {
    let (server, app) = TestServer::with_alice().await;
    let secret = app.secret.clone().unwrap();
    let http = server.http();
    let token_url = format!("{}/token", server.issuer("default"));

    let mut flows = Vec::new();
    let mut codes = Vec::new();
    for _ in 0..30 {
        let browser = server.browser();
        let url = AuthRequest::new(&app).url(&server, "default");
        let (callback, took) =
            timed(browser.authorize(&url, "alice@example.com", PASSWORD, "allow")).await;
        flows.push(took);
        codes.push(query(&callback)["code"].clone());
    }
    report("sign-in pages (authorize..callback)", flows);

    let mut exchanges = Vec::new();
    let mut access = String::new();
    for code in &codes {
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &app.redirect_uri),
            ("code_verifier", VERIFIER),
        ];
        let (response, took) = timed(
            http.post(&token_url)
                .basic_auth("app", Some(&secret))
                .form(&form)
                .send(),
        )
        .await;
        let body: serde_json::Value = response.unwrap().json().await.unwrap();
        access = body["access_token"].as_str().expect("tokens").to_owned();
        exchanges.push(took);
    }
    report("token endpoint (code exchange)", exchanges);

    let userinfo_url = format!("{}/userinfo", server.issuer("default"));
    let mut userinfo = Vec::new();
    for _ in 0..500 {
        let (response, took) = timed(http.get(&userinfo_url).bearer_auth(&access).send()).await;
        assert!(response.unwrap().status().is_success());
        userinfo.push(took);
    }
    report("userinfo", userinfo);

    let discovery_url = format!(
        "{}/.well-known/openid-configuration",
        server.issuer("default")
    );
    let mut discovery = Vec::new();
    for _ in 0..500 {
        let (response, took) = timed(http.get(&discovery_url).send()).await;
        assert!(response.unwrap().status().is_success());
        discovery.push(took);
    }
    report("discovery", discovery);

    let health_url = format!("{}/healthz", server.base);
    let mut idle = Vec::new();
    for _ in 0..200 {
        idle.push(timed(http.get(&health_url).send()).await.1);
    }
    report("/healthz, idle", idle);

    // 16 sign-ins at once keep every core busy with Argon2id; /healthz must still answer quickly.
    let mut burst = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let browser = server.browser();
        let url = AuthRequest::new(&app)
            .set("prompt", "login")
            .url(&server, "default");
        burst.spawn(async move {
            let login = browser.open(&url).await;
            browser
                .sign_in(&login, "nobody@example.com", "wrong password")
                .await;
        });
    }
    let mut during = Vec::new();
    while !burst.is_empty() {
        during.push(timed(http.get(&health_url).send()).await.1);
        while let Some(done) = burst.try_join_next() {
            done.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    report("/healthz during 16 parallel password checks", during);
}
