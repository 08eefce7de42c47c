//! Signing in through a SAML 2.0 identity provider, over real HTTP: the IdP is pysaml2 in a
//! process of its own (`common::saml_idp`), which signs with xmlsec1 and, asked to, answers
//! forged or faulty responses (signature removed, altered or wrapped, expired, for another
//! audience or recipient, signed by an unknown key). The browser is the cookie-keeping client
//! of `common`, with JavaScript off: it posts the IdP's form to the ACS as a browser would.

mod common;

use common::saml_idp::SamlIdp;
use common::upstream::{failures, id_token_after_consent, links, password_step, user_of};
use common::{hidden, location, query, AuthRequest, Browser, TestServer, PASSWORD};
use reqwest::Response;
use serde_json::json;
use tessera::admin::connections::{self, ConnectionInput};
use tessera::admin::Actor;
use tessera::domain::{Preset, Timestamp};

const ANN: &str = "ann@corp.example";

/// A server whose tenant `acme` has the SAML connection `corp` to `idp`, registered there.
async fn acme_with(idp: &SamlIdp, provisioning: bool) -> TestServer {
    let allow = ("TESSERA_FETCH_ALLOW_PRIVATE_NETWORKS", "true".to_owned());
    let server = TestServer::start_with(None, vec![allow]).await;
    connect(&server, idp, "corp", provisioning).await;
    server
}

async fn connect(server: &TestServer, idp: &SamlIdp, slug: &str, provisioning: bool) {
    let acme = server.tenant("acme").await;
    let input = ConnectionInput {
        slug: slug.into(),
        name: "Corp SSO".into(),
        metadata: idp.metadata().await,
        domains: if slug == "corp" {
            "corp.example".into()
        } else {
            String::new()
        },
        provisioning,
        ..ConnectionInput::new(Preset::Saml)
    };
    connections::create(&server.state, &Actor::Cli, &acme, input)
        .await
        .expect("connection");
    let sp = reqwest::get(format!(
        "{}/upstream/{slug}/metadata",
        server.issuer("acme")
    ))
    .await
    .unwrap();
    assert_eq!(sp.headers()["content-type"], "application/samlmetadata+xml");
    idp.register(&sp.text().await.unwrap()).await;
}

/// Presses connection `slug`'s button on `acme`'s sign-in page at `login_url`, signs in at
/// the IdP as `email` and has it answer `variant`: returns the form the IdP's page posts to
/// the ACS (its address and fields).
async fn at_idp(
    browser: &Browser,
    login_url: &str,
    slug: &str,
    email: &str,
    variant: &str,
) -> (String, Vec<(String, String)>) {
    let html = browser.page(login_url).await;
    let flow = hidden(&html, "flow").unwrap_or_default();
    let csrf = hidden(&html, "csrf").expect("csrf");
    let sent = browser
        .post(
            "/t/acme/login/upstream",
            &[("flow", &flow), ("csrf", &csrf), ("connection", slug)],
        )
        .await;
    let sso = location(&sent).expect("sent to the identity provider");
    let asked = query(&sso);
    assert!(asked.contains_key("SAMLRequest") && asked["RelayState"].len() >= 32);
    let page = browser.page(&sso).await;
    let fields = [
        (
            "SAMLRequest",
            hidden(&page, "SAMLRequest").expect("request"),
        ),
        (
            "RelayState",
            hidden(&page, "RelayState").expect("relay state"),
        ),
        ("email", email.to_owned()),
        ("name", "Ann Example".to_owned()),
        ("subject", format!("id-{email}")),
        ("variant", variant.to_owned()),
    ];
    let idp_login = format!("{}/login", sso.split("/sso").next().unwrap());
    let answer = browser.submit(&idp_login, &fields).await;
    let status = answer.status();
    let page = answer.text().await.unwrap();
    assert!(status.is_success(), "{status}: {page}");
    let action = page
        .split("action=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the IdP's form")
        .replace("&amp;", "&");
    let mut posted = vec![(
        "SAMLResponse".to_owned(),
        hidden(&page, "SAMLResponse").expect("a SAMLResponse"),
    )];
    if let Some(relay) = hidden(&page, "RelayState") {
        posted.push(("RelayState".to_owned(), relay));
    }
    (action, posted)
}

async fn post(browser: &Browser, (action, fields): &(String, Vec<(String, String)>)) -> Response {
    browser.submit(action, fields).await
}

/// Posts the IdP's form and follows the server's redirects to the page they end on.
async fn arrive(browser: &Browser, form: &(String, Vec<(String, String)>)) -> String {
    let response = post(browser, form).await;
    match browser.follow(response).await {
        Ok(left) => left,
        Err(page) => page.url().to_string(),
    }
}

#[tokio::test]
async fn an_application_signs_a_person_in_through_a_saml_identity_provider() {
    let idp = SamlIdp::start();
    let server = acme_with(&idp, true).await;
    let sp = reqwest::get(format!("{}/upstream/corp/metadata", server.issuer("acme")))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let acs = format!("{}/upstream/corp/acs", server.issuer("acme"));
    assert!(
        sp.contains(&format!(
            "entityID=\"{}/upstream/corp/metadata\"",
            server.issuer("acme")
        )),
        "{sp}"
    );
    assert!(
        sp.contains(&acs) && sp.contains("WantAssertionsSigned=\"true\""),
        "{sp}"
    );

    let client = server.client("acme", "portal", false).await;
    let browser = server.browser();
    let request = AuthRequest::new(&client);
    let login = browser.open(&request.url(&server, "acme")).await;
    assert!(login.contains("/t/acme/login?"), "{login}");
    let form = at_idp(&browser, &login, "corp", ANN, "valid").await;
    assert_eq!(form.0, acs, "the IdP posts to the ACS Tessera registered");

    let answer = post(&browser, &form).await;
    let resume = location(&answer).expect("on to the browser's own request");
    assert!(resume.contains("/upstream/corp/acs?resume="), "{resume}");
    assert!(
        answer.headers().get("set-cookie").is_none(),
        "the cross-site post leaves the browser's session alone"
    );
    let page = match browser.follow(browser.get(&resume).await).await {
        Ok(left) => left,
        Err(page) => page.url().to_string(),
    };
    assert!(page.contains("/t/acme/consent"), "{page}");
    let id_token = id_token_after_consent(&server, &browser, &client, &request, &page).await;
    assert_eq!(id_token["email"], ANN);
    assert!(
        id_token["amr"].as_array().unwrap().contains(&json!("fed")),
        "{id_token}"
    );
    let ann = user_of(&server, ANN).await.expect("Ann has an account");
    assert_eq!(
        ann.name.as_deref(),
        Some("Ann Example"),
        "displayName mapped"
    );
    assert!(ann.password_hash.is_none());
    assert_eq!(links(&server, ANN).await, 1);
    let audit = server.audit_actions("acme").await;
    for action in ["user.provisioned", "identity.linked", "login.upstream"] {
        assert!(
            audit.iter().any(|(a, o, _)| a == action && o == "success"),
            "{action} audited: {audit:?}"
        );
    }

    // The next sign-in follows the link to the same account.
    let again = server.browser();
    let form = at_idp(&again, "/t/acme/login", "corp", ANN, "assertion-only").await;
    assert!(arrive(&again, &form).await.ends_with("/t/acme"));
    let acme = server.tenant("acme").await;
    let all = (server.state.store.users.list(acme.id, None, 100))
        .await
        .unwrap();
    assert_eq!(all.len(), 1, "one account, not two");
}

#[tokio::test]
async fn forged_and_faulty_responses_are_refused_and_audited() {
    let idp = SamlIdp::start();
    let server = acme_with(&idp, true).await;
    // Each with why it is refused (the audit's reason).
    let variants = [
        ("unsigned", "must be signed"),
        ("tampered", "must be signed"),
        ("xsw-sibling", "2 assertions"),
        ("xsw-nested", "2 assertions"),
        ("xsw-response", "2 Responses"),
        ("expired", "expired"),
        ("not-yet-valid", "not valid until"),
        ("audience", "AudienceRequirement"),
        ("recipient", "destination does not match"),
        ("in-response-to", "InResponseTo"),
        ("rogue-key", "must be signed"),
        ("other-issuer", "Issuer does not match"),
    ];
    for (variant, _) in variants {
        let browser = server.browser();
        let form = at_idp(&browser, "/t/acme/login", "corp", ANN, variant).await;
        let answer = post(&browser, &form).await;
        let to = location(&answer).unwrap_or_default();
        assert!(to.contains("error=upstream_invalid"), "{variant}: {to}");
        let page = browser.page(&to).await;
        assert!(
            page.contains("could not be trusted"),
            "{variant}: a clear page: {page}"
        );
        let home = browser.page("/t/acme/account").await;
        assert!(!home.contains(ANN), "{variant}: nobody signed in");
    }
    assert!(user_of(&server, ANN).await.is_none());
    assert!(user_of(&server, "mallory@attacker.example").await.is_none());
    let mut refusals = failures(&server.audit_actions("acme").await);
    refusals.reverse();
    assert_eq!(refusals.len(), variants.len(), "{refusals:?}");
    for ((variant, why), reason) in variants.iter().zip(&refusals) {
        assert!(reason.contains(why), "{variant}: {reason}");
    }
}

#[tokio::test]
async fn a_response_is_taken_once_and_only_by_its_browser() {
    let idp = SamlIdp::start();
    let server = acme_with(&idp, true).await;
    let browser = server.browser();
    let form = at_idp(&browser, "/t/acme/login", "corp", ANN, "valid").await;

    // The handle the ACS gives is the browser's: another browser presenting it gets nothing,
    // and it is spent.
    let answer = post(&browser, &form).await;
    let resume = browser.absolute(&location(&answer).unwrap());
    let thief = server.browser();
    let stolen = thief.get(&resume).await;
    assert!(location(&stolen)
        .unwrap()
        .contains("error=upstream_expired"));
    let spent = browser.get(&resume).await;
    assert!(location(&spent).unwrap().contains("error=upstream_expired"));
    assert!(user_of(&server, ANN).await.is_none(), "nobody signed in");

    // The same Response again: its request was answered.
    let replay = post(&browser, &form).await;
    assert!(location(&replay)
        .unwrap()
        .contains("error=upstream_expired"));
    // The same Response for another sign-in's request (a fresh RelayState).
    let other = server.browser();
    let mut fresh = at_idp(&other, "/t/acme/login", "corp", ANN, "valid").await;
    fresh.1[0] = form.1[0].clone();
    let grafted = post(&other, &fresh).await;
    assert!(location(&grafted)
        .unwrap()
        .contains("error=upstream_invalid"));
    // Without a RelayState, or a made-up one.
    let (action, fields) = &form;
    let bare = [("SAMLResponse", fields[0].1.as_str())];
    let unsolicited = browser.post(action, &bare).await;
    assert!(location(&unsolicited)
        .unwrap()
        .contains("error=upstream_expired"));
    let made_up = [("SAMLResponse", fields[0].1.as_str()), ("RelayState", "x")];
    let forged = browser.post(action, &made_up).await;
    assert!(location(&forged)
        .unwrap()
        .contains("error=upstream_expired"));
    assert!(user_of(&server, ANN).await.is_none());
    let refusals = failures(&server.audit_actions("acme").await);
    assert_eq!(refusals.len(), 6, "{refusals:?}");
}

#[tokio::test]
async fn a_response_for_another_connection_is_refused() {
    let idp = SamlIdp::start();
    let server = acme_with(&idp, true).await;
    connect(&server, &idp, "corp-eu", true).await;
    let browser = server.browser();
    let (action, fields) = at_idp(&browser, "/t/acme/login", "corp-eu", ANN, "valid").await;
    let moved = action.replace("/upstream/corp-eu/", "/upstream/corp/");
    let answer = post(&browser, &(moved, fields)).await;
    assert!(location(&answer)
        .unwrap()
        .contains("error=upstream_invalid"));
    assert!(user_of(&server, ANN).await.is_none());
    let refusals = failures(&server.audit_actions("acme").await);
    assert!(refusals[0].contains("mix-up"), "{refusals:?}");
}

#[tokio::test]
async fn an_existing_account_is_linked_only_after_its_password() {
    let idp = SamlIdp::start();
    let server = acme_with(&idp, true).await;
    let acme = server.tenant("acme").await;
    server.person(&acme, ANN, None).await;
    let browser = server.browser();
    let form = at_idp(&browser, "/t/acme/login", "corp", ANN, "valid").await;
    let page = arrive(&browser, &form).await;
    assert!(page.contains("/t/acme/login?flow="), "{page}");
    let body = browser.page(&page).await;
    assert!(body.contains("data-testid=\"link-notice\""), "{body}");
    assert_eq!(
        links(&server, ANN).await,
        0,
        "nothing linked before the proof"
    );

    let signed_in = password_step(&browser, &page, PASSWORD).await;
    assert!(browser.follow(signed_in).await.is_err(), "a page of acme");
    assert_eq!(links(&server, ANN).await, 1);
    let ann = user_of(&server, ANN).await.unwrap();
    let sessions = (server.state.store.sessions)
        .of_user(acme.id, ann.id, Timestamp::now())
        .await
        .unwrap();
    assert_eq!(sessions[0].amr, ["pwd", "fed"]);
}

#[tokio::test]
async fn without_provisioning_an_unknown_person_is_refused() {
    let idp = SamlIdp::start();
    let server = acme_with(&idp, false).await;
    let browser = server.browser();
    let form = at_idp(&browser, "/t/acme/login", "corp", ANN, "valid").await;
    let page = arrive(&browser, &form).await;
    assert!(page.contains("error=upstream_no_account"), "{page}");
    assert!(user_of(&server, ANN).await.is_none());
}

#[tokio::test]
async fn metadata_without_what_tessera_needs_is_refused() {
    let idp = SamlIdp::start();
    let allow = ("TESSERA_FETCH_ALLOW_PRIVATE_NETWORKS", "true".to_owned());
    let server = TestServer::start_with(None, vec![allow]).await;
    let acme = server.tenant("acme").await;
    let metadata = idp.metadata().await;
    let without_keys = {
        let start = metadata
            .find("<md:KeyDescriptor")
            .or_else(|| metadata.find("<KeyDescriptor"));
        let end_tag = if metadata.contains("</md:KeyDescriptor>") {
            "</md:KeyDescriptor>"
        } else {
            "</KeyDescriptor>"
        };
        let start = start.expect("a key in the IdP's metadata");
        let end = metadata.find(end_tag).unwrap() + end_tag.len();
        format!("{}{}", &metadata[..start], &metadata[end..])
    };
    let post_only = metadata.replace("bindings:HTTP-Redirect", "bindings:HTTP-POST");
    for (bad, says) in [
        ("", "Paste"),
        ("<html>not metadata</html>", "not SAML metadata"),
        (without_keys.as_str(), "no signing certificate"),
        (post_only.as_str(), "HTTP-Redirect"),
    ] {
        let input = ConnectionInput {
            slug: "corp".into(),
            name: "Corp".into(),
            metadata: bad.into(),
            ..ConnectionInput::new(Preset::Saml)
        };
        let refused = connections::create(&server.state, &Actor::Cli, &acme, input)
            .await
            .expect_err("refused");
        let text = refused.to_string();
        assert!(text.contains(says), "{says}: {text}");
    }
    assert!(server
        .state
        .store
        .connections
        .list(acme.id)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn people_of_its_email_domain_go_straight_to_the_identity_provider() {
    let idp = SamlIdp::start();
    let server = acme_with(&idp, true).await;
    let browser = server.browser();
    let html = browser.page("/t/acme/login").await;
    let form = [
        ("tenant", "acme".to_owned()),
        ("flow", hidden(&html, "flow").unwrap_or_default()),
        ("csrf", hidden(&html, "csrf").unwrap()),
        ("email", ANN.to_owned()),
    ];
    let sent = browser.submit("/api/login_email", &form).await;
    let to = location(&sent).expect("a redirect");
    assert!(to.starts_with(&format!("{}/sso?", idp.base)), "{to}");
    assert!(query(&to).contains_key("SAMLRequest"));
}

#[tokio::test]
async fn a_provider_that_did_not_sign_the_person_in_is_said_so() {
    let idp = SamlIdp::start();
    let server = acme_with(&idp, true).await;
    let browser = server.browser();
    let form = at_idp(&browser, "/t/acme/login", "corp", ANN, "status-error").await;
    let to = location(&post(&browser, &form).await).unwrap();
    assert!(to.contains("error=upstream_refused"), "{to}");
    assert!(browser.page(&to).await.contains("did not sign you in"));
    let refusals = failures(&server.audit_actions("acme").await);
    assert_eq!(
        refusals,
        ["the provider answered urn:oasis:names:tc:SAML:2.0:status:Responder"]
    );
    assert!(user_of(&server, ANN).await.is_none());
}
