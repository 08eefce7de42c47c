//! Prints how fast the console's lists stay with 100,000 users and 100,000 audit events in one
//! tenant: the first page, a page deep into the list (cursor), searches that match few or many,
//! and filters. Run with `cargo bench --features ssr --bench console_lists`
//! (`TESSERA_TEST_BACKEND=postgresql` or `mongodb` for the other stores).

#[path = "../tests/common/mod.rs"]
mod common;

use common::TestServer;
use std::time::{Duration, Instant};
use tessera::admin::{audit, roles, users, Actor};
use tessera::domain::{AuditEvent, Email, Outcome, User};
use tessera::store::UserQuery;

const USERS: usize = 100_000;
const EVENTS: usize = 100_000;

async fn measure<T, F, Fut>(name: &str, runs: usize, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let mut samples: Vec<Duration> = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        f().await;
        samples.push(start.elapsed());
    }
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{name:<52} n={runs:<3} p50={:>8.2} ms  max={:>8.2} ms",
        ms(samples[samples.len() / 2]),
        ms(samples[samples.len() - 1])
    );
}

#[tokio::main]
async fn main() {
    let server = TestServer::start().await;
    let state = &server.state;
    let tenant = server.tenant("acme").await;
    let started = Instant::now();
    let mut ids = Vec::with_capacity(USERS);
    for n in 0..USERS {
        let email = Email::parse(&format!("person{n:06}@acme.test")).unwrap();
        let name = if n % 1000 == 0 {
            "Rare Name"
        } else {
            "Common Person"
        };
        let user = User::new(tenant.id, email, Some(name)).unwrap();
        state
            .store
            .users
            .create(tenant.id, &user, &[])
            .await
            .unwrap();
        ids.push(user.id);
    }
    for id in ids.iter().step_by(500) {
        roles::assign(state, &Actor::Cli, &tenant, *id, "auditor")
            .await
            .unwrap();
    }
    for n in 0..EVENTS {
        let action = if n % 100 == 0 {
            "user.blocked"
        } else {
            "login.password"
        };
        let event = AuditEvent::new(tenant.id, action, Outcome::Success, "cli")
            .target(format!("user:{}", ids[n % USERS]));
        state.store.audit.append(&event).await.unwrap();
    }
    println!(
        "loaded {USERS} users and {EVENTS} audit events in {:.0}s ({})",
        started.elapsed().as_secs_f64(),
        common::backends::selected()
    );

    let search = |query: UserQuery, before| {
        let tenant = tenant.clone();
        async move {
            users::search(state, &Actor::Cli, &tenant, &query, before, 50)
                .await
                .unwrap()
        }
    };
    measure("users: first page (newest 50)", 20, || {
        search(UserQuery::default(), None)
    })
    .await;
    let deep = Some(ids[USERS / 2]);
    measure("users: a page half-way down (cursor)", 20, || {
        search(UserQuery::default(), deep)
    })
    .await;
    let text = |t: &str| UserQuery {
        text: Some(t.into()),
        ..UserQuery::default()
    };
    measure("users: search matching many (\"common\")", 20, || {
        search(text("common"), None)
    })
    .await;
    measure("users: search matching 100 (\"rare\")", 10, || {
        search(text("rare"), None)
    })
    .await;
    measure("users: search matching one email", 10, || {
        search(text("person054321@"), None)
    })
    .await;
    let role = UserQuery {
        role: Some("auditor".into()),
        ..UserQuery::default()
    };
    measure("users: role filter (200 holders)", 10, || {
        search(role.clone(), None)
    })
    .await;

    let events = |action: Option<&str>| {
        let tenant = tenant.clone();
        let action = action.map(str::to_owned);
        async move {
            let query = tessera::store::AuditQuery {
                action,
                ..Default::default()
            };
            audit::search(state, &Actor::Cli, &tenant, &query, None, 50)
                .await
                .unwrap()
        }
    };
    measure("audit: first page (newest 50)", 20, || events(None)).await;
    measure("audit: action filter matching 1%", 10, || {
        events(Some("user.blocked"))
    })
    .await;
    measure("audit: action family (\"user.\")", 10, || {
        events(Some("user."))
    })
    .await;
}
