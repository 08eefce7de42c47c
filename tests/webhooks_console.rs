//! The console's webhook pages, used the way a browser without JavaScript uses them: an
//! endpoint is added and its signing secret shown once, bad URLs and event types are refused
//! next to their fields, people without `webhooks:manage` are refused, an endpoint is changed,
//! disabled and enabled (also after Tessera disabled it), tested, a delivery sent again, its
//! secret rotated, and the endpoint deleted after the confirmation box is ticked.

mod common;

use base64::{engine::general_purpose::STANDARD, Engine};
use common::{field_note, hidden, hidden_value, location, Browser, TestServer};
use reqwest::StatusCode;
use std::time::Duration;
use tessera::admin::webhooks::seal_context;
use tessera::domain::{DeliveryAttempt, Tenant, WebhookEndpoint};
use uuid::Uuid;

/// Nothing listens on the discard port of loopback: every delivery there fails at once.
const URL: &str = "http://127.0.0.1:9/hook";
const LIST: &str = "/t/acme/admin/webhooks";

/// A server whose webhooks may go to loopback addresses over plain http, as the receivers of
/// tests need (production installations refuse them).
async fn server() -> TestServer {
    let open = (
        "TESSERA_WEBHOOKS_ALLOW_PRIVATE_NETWORKS",
        "true".to_string(),
    );
    TestServer::start_with(None, vec![open]).await
}

struct Person {
    browser: Browser,
    csrf: String,
}

async fn person(server: &TestServer, tenant: &Tenant, email: &str, role: &str) -> Person {
    server.person(tenant, email, Some(role)).await;
    let slug = tenant.slug.as_str();
    let browser = server.signed_in(slug, email).await;
    let html = browser.page(&format!("/t/{slug}")).await;
    let csrf = hidden(&html, "csrf").expect("csrf token");
    Person { browser, csrf }
}

async fn post(who: &Person, endpoint: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    let mut form = vec![("tenant", "acme"), ("csrf", who.csrf.as_str())];
    form.extend_from_slice(fields);
    who.browser.post(&format!("/api/{endpoint}"), &form).await
}

/// Posts a console form and opens the page it answers with (a console form always answers
/// with a redirect to the page showing its outcome).
async fn submit(who: &Person, endpoint: &str, fields: &[(&str, &str)]) -> (String, String) {
    let response = post(who, endpoint, fields).await;
    assert!(
        response.status().is_redirection(),
        "{endpoint} answers with a page: {}",
        response.status()
    );
    let to = location(&response).expect("a page to go to");
    let html = who.browser.page(&to).await;
    (to, html)
}

async fn add(who: &Person, url: &str, description: &str, events: &[&str]) -> reqwest::Response {
    let mut fields = vec![("url", url), ("description", description)];
    fields.extend(events.iter().map(|e| ("events[]", *e)));
    post(who, "admin_webhook_create", &fields).await
}

async fn endpoints(server: &TestServer, tenant: &Tenant) -> Vec<WebhookEndpoint> {
    server
        .state
        .store
        .webhooks
        .endpoints(tenant.id)
        .await
        .unwrap()
}

async fn attempts(server: &TestServer, tenant: &Tenant, id: Uuid) -> Vec<DeliveryAttempt> {
    server
        .state
        .store
        .webhooks
        .attempts(tenant.id, id, 100)
        .await
        .unwrap()
}

/// The endpoint's log once `ready` holds of it; fails after 30 seconds.
async fn log_until(
    server: &TestServer,
    tenant: &Tenant,
    id: Uuid,
    what: &str,
    ready: impl Fn(&[DeliveryAttempt]) -> bool,
) -> Vec<DeliveryAttempt> {
    for _ in 0..300 {
        let log = attempts(server, tenant, id).await;
        if ready(&log) {
            return log;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the delivery log never showed {what}");
}

/// The text of the table row of `html` that mentions `needle`.
fn row_of<'a>(html: &'a str, needle: &str) -> &'a str {
    let at = html
        .find(needle)
        .unwrap_or_else(|| panic!("{needle} in a row"));
    let start = html[..at].rfind("<tr").expect("a row");
    let end = at + html[at..].find("</tr>").expect("the row ends");
    &html[start..end]
}

#[tokio::test]
async fn endpoints_are_added_refused_changed_tested_redelivered_and_deleted() {
    let server = server().await;
    let acme = server.tenant("acme").await;
    let admin = person(&server, &acme, "admin@acme.test", "admin").await;
    let member = person(&server, &acme, "member@acme.test", "member").await;
    let developer = person(&server, &acme, "dev@acme.test", "developer").await;

    // The navigation offers webhooks to those who may manage them, and only to them.
    let home = admin.browser.page("/t/acme/admin").await;
    assert!(
        home.contains(&format!("href=\"{LIST}\"")),
        "in the admin's navigation"
    );
    let home = developer.browser.page("/t/acme/admin").await;
    assert!(!home.contains(LIST), "not in a developer's navigation");
    let empty = admin.browser.page(LIST).await;
    assert!(empty.contains("No endpoints yet"));
    assert!(empty.contains("Standard Webhooks") && empty.contains("shown only once"));
    assert!(empty.contains("type=\"url\"") && empty.contains("<label for=\"webhook-url\">"));
    assert!(
        empty.contains("value=\"user.created\"") && empty.contains("An admin created a person"),
        "every event type is offered with what it means"
    );

    // Added: its page shows the signing secret once.
    let response = add(
        &admin,
        URL,
        "Directory sync",
        &["user.deleted", "user.created"],
    )
    .await;
    let to = location(&response).expect("to the endpoint's page");
    let stored = endpoints(&server, &acme).await;
    assert_eq!(stored.len(), 1);
    let endpoint = stored[0].clone();
    let page = format!("{LIST}/{}", endpoint.id);
    assert_eq!(to, format!("{page}?show=1"));
    assert_eq!(endpoint.url, URL);
    assert_eq!(endpoint.description, "Directory sync");
    assert_eq!(endpoint.events, ["user.created", "user.deleted"]);
    assert!(endpoint.enabled);
    let html = admin.browser.page(&to).await;
    let secret = hidden_value(&html, "data-testid=\"webhook-secret\"").expect("the secret, once");
    assert!(secret.starts_with("whsec_"), "{secret}");
    assert!(html.contains("was added"), "the outcome is said");
    let opened = server
        .state
        .secrets
        .open(&endpoint.secret, &seal_context(acme.id, endpoint.id))
        .expect("sealed for this endpoint");
    assert_eq!(opened, STANDARD.decode(&secret["whsec_".len()..]).unwrap());
    assert!(!String::from_utf8_lossy(&endpoint.secret).contains(&secret["whsec_".len()..]));
    let again = admin.browser.page(&to).await;
    assert!(!again.contains(&secret), "shown only once");
    assert!(!again.contains("data-testid=\"webhook-secret\""));
    assert!(again.contains("No deliveries yet"));
    let list = admin.browser.page(LIST).await;
    assert!(!list.contains(&secret));
    let row = row_of(&list, URL);
    assert!(row.contains(&format!("href=\"{page}\"")), "{row}");
    assert!(
        row.contains("Directory sync") && row.contains("Enabled"),
        "{row}"
    );
    assert!(row.contains("user.created, user.deleted"), "{row}");

    // Refused: a URL that is not http(s), an unknown event type, no event type. The note
    // stands next to the field, and nothing is stored.
    let (to, html) = submit(
        &admin,
        "admin_webhook_create",
        &[
            ("url", "ftp://127.0.0.1/hook"),
            ("events[]", "user.created"),
        ],
    )
    .await;
    assert_eq!(to, LIST);
    assert!(
        field_note(&html, "webhook-url").contains("must start with https://"),
        "{}",
        field_note(&html, "webhook-url")
    );
    assert!(html.contains("aria-invalid=\"true\""));
    assert!(
        !field_note(&html, "webhook-events").contains("event"),
        "only the URL is refused"
    );
    let (_, html) = submit(
        &admin,
        "admin_webhook_create",
        &[
            ("url", URL),
            ("events[]", "user.created"),
            ("events[]", "token.issued"),
        ],
    )
    .await;
    assert!(
        field_note(&html, "webhook-events").contains("is not an event type"),
        "{}",
        field_note(&html, "webhook-events")
    );
    let (_, html) = submit(&admin, "admin_webhook_create", &[("url", URL)]).await;
    assert!(field_note(&html, "webhook-events").contains("Choose at least one event type"));
    assert_eq!(
        endpoints(&server, &acme).await.len(),
        1,
        "nothing more stored"
    );

    // Refused to those without webhooks:manage, with nothing changed.
    let id = endpoint.id.to_string();
    for who in [&member, &developer] {
        let response = add(who, "https://hooks.example.com/in", "", &["user.created"]).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        let response = post(
            who,
            "admin_webhook_enable",
            &[("id", &id), ("enabled", "false")],
        )
        .await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        let response = post(
            who,
            "admin_webhook_delete",
            &[("id", &id), ("confirm", "yes")],
        )
        .await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        let html = who.browser.page(&page).await;
        assert!(html.contains("You do not have permission"));
        assert!(!html.contains(URL), "the endpoint is not shown");
    }
    assert_eq!(
        endpoints(&server, &acme).await,
        std::slice::from_ref(&endpoint)
    );

    // Changed, and a bad change refused next to its field.
    let (to, html) = submit(
        &admin,
        "admin_webhook_update",
        &[
            ("id", &id),
            ("url", "http://127.0.0.1:9/hook/v2"),
            ("description", "Directory sync v2"),
            ("events[]", "user.blocked"),
        ],
    )
    .await;
    assert_eq!(to, page);
    assert!(html.contains("The endpoint was saved."));
    let changed = endpoints(&server, &acme).await.remove(0);
    assert_eq!(changed.url, "http://127.0.0.1:9/hook/v2");
    assert_eq!(changed.description, "Directory sync v2");
    assert_eq!(changed.events, ["user.blocked"]);
    assert!(
        html.contains("value=\"user.blocked\" checked"),
        "the edit form shows the events"
    );
    let (_, html) = submit(
        &admin,
        "admin_webhook_update",
        &[
            ("id", &id),
            ("url", "https://user:pw@hooks.example.com/"),
            ("events[]", "user.blocked"),
        ],
    )
    .await;
    assert!(field_note(&html, "webhook-url").contains("no user name or password"));
    assert_eq!(endpoints(&server, &acme).await.remove(0).url, changed.url);

    // Disabled and enabled.
    let (_, html) = submit(
        &admin,
        "admin_webhook_enable",
        &[("id", &id), ("enabled", "false")],
    )
    .await;
    assert!(!endpoints(&server, &acme).await[0].enabled);
    assert!(html.contains("The endpoint is disabled"));
    assert!(html.contains("<dd>Disabled<"));
    assert!(html.contains(">Enable<"));
    let (_, html) = submit(
        &admin,
        "admin_webhook_enable",
        &[("id", &id), ("enabled", "true")],
    )
    .await;
    assert!(endpoints(&server, &acme).await[0].enabled);
    assert!(html.contains("<dd>Enabled<") && html.contains(">Disable<"));

    // Disabled by Tessera: the page says so and why, and enabling starts afresh.
    let mut failing = endpoints(&server, &acme).await.remove(0);
    failing.enabled = false;
    failing.disabled_reason =
        Some("Deliveries failed for 3 days with no success in between.".into());
    failing.failing_since = Some(failing.updated_at);
    server
        .state
        .store
        .webhooks
        .update_endpoint(acme.id, &failing)
        .await
        .unwrap();
    let html = admin.browser.page(&page).await;
    assert!(html.contains("Tessera disabled this endpoint"));
    assert!(html.contains("Disabled automatically: Deliveries failed for 3 days"));
    assert!(html.contains(">Enable it again<"));
    let row = row_of(&admin.browser.page(LIST).await, URL).to_owned();
    assert!(
        row.contains("Disabled automatically") && row.contains("Failing since"),
        "{row}"
    );
    let (_, html) = submit(
        &admin,
        "admin_webhook_enable",
        &[("id", &id), ("enabled", "true")],
    )
    .await;
    let enabled = endpoints(&server, &acme).await.remove(0);
    assert!(
        enabled.enabled && enabled.disabled_reason.is_none() && enabled.failing_since.is_none()
    );
    assert!(!html.contains("Tessera disabled this endpoint"));

    // A test event: nothing listens on port 9, so the log shows a failed attempt, no status.
    let (to, html) = submit(&admin, "admin_webhook_test", &[("id", &id)]).await;
    assert_eq!(to, page);
    assert!(
        html.contains("A test event was queued: it appears in the log below within a few seconds.")
    );
    let log = log_until(&server, &acme, endpoint.id, "the test event", |log| {
        !log.is_empty()
    })
    .await;
    let first = log.last().unwrap().clone();
    assert_eq!(first.event_type, "webhook.test");
    assert_eq!(first.attempt, 1);
    assert_eq!(first.status, None);
    assert!(!first.succeeded);
    assert!(first.message_id.starts_with("msg_"));
    let html = admin.browser.page(&page).await;
    assert!(html.contains("aria-label=\"Delivery log\""));
    assert!(html.contains("<th scope=\"col\">HTTP status</th>"));
    let row = row_of(&html, &first.id.to_string()).to_owned();
    assert!(
        row.contains(&first.message_id) && row.contains("webhook.test"),
        "{row}"
    );
    assert!(row.contains("<td>—<") && row.contains("Failed"), "{row}");
    assert!(row.contains(">Redeliver"), "{row}");

    // Sent again: a new first attempt of the same message.
    let attempt = first.id.to_string();
    let (to, html) = submit(
        &admin,
        "admin_webhook_redeliver",
        &[("id", &id), ("attempt", &attempt)],
    )
    .await;
    assert_eq!(to, page);
    assert!(html.contains("was queued again"));
    let firsts = |log: &[DeliveryAttempt]| {
        log.iter()
            .filter(|a| a.message_id == first.message_id && a.attempt == 1)
            .count()
    };
    let log = log_until(&server, &acme, endpoint.id, "the redelivery", |log| {
        firsts(log) == 2
    })
    .await;
    let redelivered = log
        .iter()
        .find(|a| a.message_id == first.message_id && a.attempt == 1 && a.id != first.id)
        .unwrap();
    assert!(!redelivered.succeeded && redelivered.status.is_none());
    let html = admin.browser.page(&page).await;
    assert!(
        html.contains(&redelivered.id.to_string()),
        "the page shows the new attempt"
    );
    assert!(html.matches(&first.message_id).count() >= 2);
    // An attempt of no endpoint of this tenant is not found.
    let unknown = Uuid::now_v7().to_string();
    let response = post(
        &admin,
        "admin_webhook_redeliver",
        &[("id", &id), ("attempt", &unknown)],
    )
    .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    // A new secret, shown once; the old one no longer opens.
    let (to, html) = submit(&admin, "admin_webhook_rotate", &[("id", &id)]).await;
    assert_eq!(to, format!("{page}?show=1"));
    let rotated = hidden_value(&html, "data-testid=\"webhook-secret\"").expect("the new secret");
    assert!(rotated.starts_with("whsec_") && rotated != secret);
    let sealed = endpoints(&server, &acme).await.remove(0).secret;
    let opened = server
        .state
        .secrets
        .open(&sealed, &seal_context(acme.id, endpoint.id))
        .unwrap();
    assert_eq!(opened, STANDARD.decode(&rotated["whsec_".len()..]).unwrap());
    assert!(!admin.browser.page(&to).await.contains(&rotated));

    // Deleted once the box is ticked, with its log.
    let (to, html) = submit(&admin, "admin_webhook_delete", &[("id", &id)]).await;
    assert_eq!(to, page);
    assert!(html.contains("Tick the box to confirm deleting"));
    assert_eq!(endpoints(&server, &acme).await.len(), 1, "kept unticked");
    assert!(html.contains("name=\"confirm\" value=\"yes\" required"));
    let (to, html) = submit(
        &admin,
        "admin_webhook_delete",
        &[("id", &id), ("confirm", "yes")],
    )
    .await;
    assert_eq!(to, LIST);
    assert!(html.contains("The endpoint was deleted"));
    assert!(html.contains("No endpoints yet") && !html.contains(URL));
    assert!(endpoints(&server, &acme).await.is_empty());
    assert!(attempts(&server, &acme, endpoint.id).await.is_empty());
    assert_eq!(
        admin.browser.get(&page).await.status(),
        StatusCode::NOT_FOUND
    );

    // Every change is in the audit log.
    let actions: Vec<String> = server
        .audit_actions("acme")
        .await
        .into_iter()
        .map(|(action, ..)| action)
        .collect();
    for action in [
        "webhook.created",
        "webhook.updated",
        "webhook.disabled",
        "webhook.enabled",
        "webhook.test_sent",
        "webhook.redelivered",
        "webhook.secret_rotated",
        "webhook.deleted",
    ] {
        assert!(
            actions.iter().any(|a| a == action),
            "{action} in {actions:?}"
        );
    }
}

#[tokio::test]
async fn another_tenants_endpoint_and_a_stale_form_change_nothing() {
    let server = server().await;
    let acme = server.tenant("acme").await;
    let other = server.tenant("other").await;
    let admin = person(&server, &acme, "admin@acme.test", "admin").await;
    let theirs = tessera::admin::webhooks::create(
        &server.state,
        &tessera::admin::Actor::Cli,
        &other,
        URL,
        "",
        &["user.created".to_string()],
    )
    .await
    .expect("their endpoint")
    .endpoint;
    let before = endpoints(&server, &other).await;
    let id = theirs.id.to_string();
    for (endpoint, fields) in [
        (
            "admin_webhook_enable",
            vec![("id", id.as_str()), ("enabled", "false")],
        ),
        (
            "admin_webhook_delete",
            vec![("id", id.as_str()), ("confirm", "yes")],
        ),
        ("admin_webhook_test", vec![("id", id.as_str())]),
        ("admin_webhook_rotate", vec![("id", id.as_str())]),
        (
            "admin_webhook_delete",
            vec![("id", "1' OR 1=1 --"), ("confirm", "yes")],
        ),
    ] {
        let response = post(&admin, endpoint, &fields).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{endpoint}");
    }
    assert_eq!(
        admin.browser.get(&format!("{LIST}/{id}")).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(endpoints(&server, &other).await, before, "unchanged");

    // A form whose CSRF token is not this browser's changes nothing.
    let stale = Person {
        browser: admin.browser,
        csrf: "not-the-token".into(),
    };
    let (to, html) = submit(
        &stale,
        "admin_webhook_create",
        &[("url", URL), ("events[]", "user.created")],
    )
    .await;
    assert_eq!(to, LIST);
    assert!(html.contains("This form expired"));
    assert!(endpoints(&server, &acme).await.is_empty());
}
