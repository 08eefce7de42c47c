//! The purge job removes what has expired and leaves what is still live.
#![cfg(feature = "ssr")]

mod common;

use common::{query, AuthRequest, TestServer, PASSWORD};
use tessera::domain::{BrowserSessionRecord, Timestamp};
use tessera::jobs::purge;

#[tokio::test]
async fn purge_deletes_expired_rows_only() {
    let (server, app) = TestServer::with_alice().await;
    let store = &server.state.store;
    // "old" expires a minute from now and the purge runs as if two minutes had passed: a
    // store that also drops expired records by itself (MongoDB's TTL monitor) cannot take
    // it first.
    let now = Timestamp::now();
    for (id, expires) in [("old", now.plus_secs(60)), ("live", now.plus_secs(3600))] {
        let record = BrowserSessionRecord {
            id_hash: id.into(),
            data: "{}".into(),
            expires_at: expires,
        };
        store.browser_sessions.create(&record).await.unwrap();
    }
    let browser = server.browser();
    let callback = browser
        .authorize(
            &AuthRequest::new(&app).url(&server, "default"),
            "alice@example.com",
            PASSWORD,
            "allow",
        )
        .await;
    assert!(query(&callback).contains_key("code"));

    let soon = now.plus_secs(120);
    let purged = purge::run_once(store, soon).await.unwrap();
    assert_eq!(purged.browser_sessions, 1);
    assert_eq!(purged.user_sessions, 0, "alice's session is live");
    assert_eq!(purged.artifacts, 0, "a fresh code is kept");
    assert!(store
        .browser_sessions
        .load("live", soon)
        .await
        .unwrap()
        .is_some());

    let a_day_later = now.plus_secs(2 * 24 * 3600);
    let purged = purge::run_once(store, a_day_later).await.unwrap();
    assert_eq!(purged.artifacts, 1, "the code, a day past expiry");
    assert_eq!(purged.user_sessions, 1, "alice's session, expired");
    assert!(
        purged.browser_sessions >= 2,
        "the live one and the browser's own, now expired"
    );
}
