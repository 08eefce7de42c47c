//! Posts to the server functions behind the pages with missing or malformed fields: every one
//! is answered 400 with a plain message (a page for a browser, text for a script), never a
//! server error, never a redirect to another site, and nothing changes.

mod common;

use common::{location, TestServer};
use reqwest::{header, StatusCode};

const MESSAGE: &str = "This form has expired or was sent from another site. Try again.";

/// One form of each family: the function, the page it belongs to, and something that page
/// shows.
const FAMILIES: [(&str, &str, &str); 7] = [
    ("login_password", "/t/default/login", "name=\"email\""),
    ("consent", "/t/default/login", "name=\"email\""),
    ("device_decide", "/t/default/device", "Connect a device"),
    ("account_password", "/t/default/account", "Your account"),
    (
        "recovery_reset",
        "/t/default/forgot-password",
        "Reset your password",
    ),
    (
        "admin_user_create",
        "/t/default/admin",
        "Organisation console",
    ),
    ("platform_tenant_create", "/admin", "Platform console"),
];

/// A way a form can arrive unreadable: its fields, and where the browser says it came from.
type BadPost = (
    &'static str,
    Vec<(&'static str, &'static str)>,
    Option<String>,
);

fn bad_posts(server: &TestServer) -> Vec<BadPost> {
    vec![
        // A form of a stale tab: no CSRF field (nor others), from this site's reset page.
        (
            "a missing field",
            vec![("tenant", "default")],
            Some(format!("{}/t/default/forgot-password", server.base)),
        ),
        // A map where the form has a string: `csrf[a]=b`.
        (
            "a wrong type",
            vec![("tenant", "default"), ("csrf[a]", "b")],
            None,
        ),
        (
            "no Referer",
            vec![("tenant", "default"), ("stray", "1")],
            None,
        ),
        (
            "a hostile Referer",
            vec![("tenant", "default")],
            Some("https://evil.example/phish?x=1".to_owned()),
        ),
    ]
}

async fn post(
    server: &TestServer,
    function: &str,
    form: &[(&str, &str)],
    referer: Option<&str>,
    html: bool,
) -> reqwest::Response {
    let mut request = server
        .http()
        .post(format!("{}/api/{function}", server.base))
        .form(form);
    if html {
        request = request.header(header::ACCEPT, "text/html,application/xhtml+xml");
    }
    if let Some(referer) = referer {
        request = request.header(header::REFERER, referer);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn a_browser_is_shown_the_page_it_came_from_or_its_flows_page_with_a_plain_message() {
    let server = TestServer::start().await;
    for (function, flow_page, flow_marker) in FAMILIES {
        for (case, form, referer) in bad_posts(&server) {
            let response = post(&server, function, &form, referer.as_deref(), true).await;
            let what = format!("{function} with {case}");
            assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{what}");
            assert_eq!(location(&response), None, "{what}: no redirect");
            let content_type = response.headers()[header::CONTENT_TYPE].to_str().unwrap();
            assert!(
                content_type.starts_with("text/html"),
                "{what}: {content_type}"
            );
            let page = response.text().await.unwrap();
            assert!(page.contains(MESSAGE), "{what}: the message is shown");
            assert!(!page.contains("evil.example"), "{what}");
            assert!(
                !page.contains("Args|") && !page.contains("missing field"),
                "{what}"
            );
            let (expected, marker) = match case {
                "a missing field" => ("the page it came from", "Reset your password"),
                _ => ("its flow's page", flow_marker),
            };
            assert!(
                page.contains(marker),
                "{what}: {expected} ({flow_page}) is shown"
            );
        }
    }
}

#[tokio::test]
async fn a_script_gets_the_message_as_text() {
    let server = TestServer::start().await;
    for (function, _, _) in FAMILIES {
        for (case, form, referer) in bad_posts(&server) {
            let response = post(&server, function, &form, referer.as_deref(), false).await;
            let what = format!("{function} with {case}");
            assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{what}");
            assert_eq!(location(&response), None, "{what}");
            assert_eq!(response.text().await.unwrap(), MESSAGE, "{what}");
        }
    }
}

/// Every server function, not only one per family: with an empty body and with a partial
/// form, as a script and as a browser, none answers a server error or leaves the site.
#[tokio::test]
async fn no_server_function_answers_a_server_error_to_a_bad_post() {
    let server = TestServer::start().await;
    let functions: Vec<&str> = leptos::server_fn::axum::server_fn_paths()
        .map(|(path, _)| path)
        .collect();
    assert!(
        functions.len() >= 50,
        "found {} server functions",
        functions.len()
    );
    let hostile = Some("https://evil.example/");
    for path in functions {
        let function = path.trim_start_matches("/api/");
        let partial = [("tenant", "default"), ("csrf", "x"), ("stray", "1")];
        for (form, html) in [
            (&[][..], false),
            (&[][..], true),
            (&partial[..], false),
            (&partial[..], true),
        ] {
            let response = post(&server, function, form, hostile, html).await;
            let what = format!("{path} with {form:?} (html: {html})");
            assert!(
                !response.status().is_server_error(),
                "{what}: {}",
                response.status()
            );
            if let Some(to) = location(&response) {
                assert!(
                    to.starts_with('/') && !to.starts_with("//"),
                    "{what} redirects to {to}"
                );
            }
            if form.is_empty() {
                assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{what}");
            }
        }
    }
}

#[tokio::test]
async fn a_refused_sign_in_form_changes_nothing() {
    let (server, app) = TestServer::with_alice().await;
    let browser = server.browser();
    let login = browser
        .open(&common::AuthRequest::new(&app).url(&server, "default"))
        .await;
    let html = browser.page(&login).await;
    let flow = common::hidden(&html, "flow").unwrap();
    // The email step without its CSRF field, then the password step without it.
    for (function, field, value) in [
        ("login_email", "email", "alice@example.com"),
        ("login_password", "password", common::PASSWORD),
    ] {
        let response = browser
            .http
            .post(format!("{}/api/{function}", server.base))
            .header(header::ACCEPT, "text/html")
            .form(&[
                ("tenant", "default"),
                ("flow", flow.as_str()),
                (field, value),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{function}");
    }
    let html = browser.page(&login).await;
    assert!(
        !html.contains("type=\"password\""),
        "the flow did not advance"
    );
    let signed_in = browser
        .get(&format!("{}/t/default/account", server.base))
        .await;
    let page = signed_in.text().await.unwrap();
    assert!(!page.contains("alice@example.com"), "nobody is signed in");
}
