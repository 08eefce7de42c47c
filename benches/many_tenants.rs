//! Prints how an installation with 10,000 tenants behaves: the platform console's tenant list
//! (first page, a page deep into it, searches) and tenants' sign-in pages, over HTTP as an
//! operator's browser and people's browsers get them, as p50/p99/max against the 100 ms goal;
//! and how long a key-rotation turn takes (one query, however many tenants). Run with
//! `cargo bench --features ssr --bench many_tenants` (`TESSERA_TEST_BACKEND=postgresql` or
//! `mongodb` for the other stores; `TESSERA_BENCH_TENANTS=500` for a quick look).

#[path = "../tests/common/mod.rs"]
mod common;

use common::{hidden, Browser, TestServer};
use std::time::{Duration, Instant};
use tessera::admin::{platform, tenants, Actor};
use tessera::domain::Timestamp;

const TENANTS: usize = 10_000;
const GOAL: Duration = Duration::from_millis(100);

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let p99 = at(0.99);
    println!(
        "{name:<56} n={:<4} p50={:>7.2} ms  p99={:>7.2} ms  max={:>7.2} ms  {}",
        samples.len(),
        ms(at(0.5)),
        ms(p99),
        ms(samples[samples.len() - 1]),
        if p99 <= GOAL {
            "p99 within 100 ms"
        } else {
            "p99 OVER 100 ms"
        }
    );
}

/// Times `runs` GETs of the pages `path(n)` gives, each answered 200.
async fn pages(browser: &Browser, name: &str, runs: usize, path: impl Fn(usize) -> String) {
    let mut samples = Vec::with_capacity(runs);
    for n in 0..runs {
        let url = path(n);
        let started = Instant::now();
        let response = browser.get(&url).await;
        let status = response.status();
        let body = response.text().await.unwrap();
        samples.push(started.elapsed());
        assert!(status.is_success(), "{url}: {status}: {body}");
    }
    report(name, samples);
}

/// An operator's browser signed in to the platform console.
async fn operator(server: &TestServer) -> Browser {
    let (_, _, password) =
        platform::create_operator(&server.state, &Actor::Cli, "ops@bench.test", None)
            .await
            .unwrap();
    let browser = server.browser();
    let html = browser.page("/admin").await;
    let csrf = hidden(&html, "csrf").unwrap();
    let started = browser
        .post("/api/platform_sign_in", &[("csrf", &csrf)])
        .await;
    let login = common::location(&started).unwrap();
    let done = browser.sign_in(&login, "ops@bench.test", &password).await;
    assert_eq!(common::location(&done).as_deref(), Some("/admin"));
    browser
}

#[tokio::main]
async fn main() {
    let count: usize = std::env::var("TESSERA_BENCH_TENANTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(TENANTS);
    let server = TestServer::start().await;
    let state = &server.state;
    let started = Instant::now();
    let mut ids = Vec::with_capacity(count);
    for n in 0..count {
        // Every tenant as the console makes it: its signing key, its audit event.
        let tenant = tenants::create(
            state,
            &Actor::Cli,
            &format!("org-{n:05}"),
            &format!("Organisation {n}"),
        )
        .await
        .unwrap();
        ids.push(tenant.id);
    }
    println!(
        "created {count} tenants (with keys) in {:.0}s ({})",
        started.elapsed().as_secs_f64(),
        common::backends::selected()
    );

    let ops = operator(&server).await;
    pages(
        &ops,
        "platform console: first page (50 tenants)",
        100,
        |_| "/admin".into(),
    )
    .await;
    pages(
        &ops,
        "platform console: pages deep into the list (cursor)",
        100,
        |n| format!("/admin?after={}", ids[(n * 97) % count]),
    )
    .await;
    pages(
        &ops,
        "platform console: search matching one slug",
        100,
        |n| format!("/admin?q=org-{:05}", (n * 131) % count),
    )
    .await;
    pages(
        &ops,
        "platform console: search matching many (\"organisation 1\")",
        100,
        |_| "/admin?q=organisation+1".into(),
    )
    .await;
    pages(&ops, "platform console: search matching none", 100, |_| {
        "/admin?q=no-such-tenant".into()
    })
    .await;
    let people = server.browser();
    pages(
        &people,
        "sign-in page of a different tenant each time",
        500,
        |n| format!("/t/org-{:05}/login", (n * 7919) % count),
    )
    .await;
    pages(
        &people,
        "sign-in page of one tenant, again and again",
        200,
        |_| "/t/org-00042/login".into(),
    )
    .await;

    let mut turns = Vec::new();
    for _ in 0..10 {
        let started = Instant::now();
        let rotated = tessera::jobs::rotate_keys::run_once(state, Timestamp::now(), 90 * 24 * 3600)
            .await
            .unwrap();
        turns.push(started.elapsed());
        assert_eq!(rotated, 0, "no key is 90 days old");
    }
    report("key-rotation turn (nothing due)", turns);
}
