//! Connections (other identity providers people sign in with) as the console and the command
//! line make them: each preset builds its protocol, every field is checked with nothing stored
//! on a refusal, the client secret is sealed to its connection, a domain leads to one
//! connection, only those allowed may change them, and every change is audited without the
//! secret.
#![cfg(feature = "ssr")]

mod common;

use base64::{engine::general_purpose::STANDARD, Engine};
use common::TestServer;
use tessera::admin::connections::{self, ConnectionInput};
use tessera::admin::{Actor, Member};
use tessera::domain::access::{ADMIN, AUDITOR, DEVELOPER, MEMBER};
use tessera::domain::connection::MAX_CONNECTIONS;
use tessera::domain::{ClaimMapping, Grants, Preset, Protocol, Role, Tenant, UserId};
use tessera::error::AppError;

const SECRET: &str = "GOCSPX-a-very-secret-value";

fn input(preset: Preset, slug: &str) -> ConnectionInput {
    ConnectionInput {
        slug: slug.into(),
        name: format!("Sign in {slug}"),
        client_id: format!("{slug}-client"),
        client_secret: Some(SECRET.into()),
        ..ConnectionInput::new(preset)
    }
}

fn oidc(slug: &str, issuer: &str) -> ConnectionInput {
    ConnectionInput {
        issuer: issuer.into(),
        ..input(Preset::Oidc, slug)
    }
}

async fn stored(server: &TestServer, tenant: &Tenant) -> Vec<tessera::domain::Connection> {
    server
        .state
        .store
        .connections
        .list(tenant.id)
        .await
        .unwrap()
}

/// A person of `tenant` holding the built-in `role`, signed in recently or not.
fn member(tenant: &Tenant, role: &str, fresh: bool) -> Actor {
    let role = Role::built_in().into_iter().find(|r| r.id == role).unwrap();
    Actor::Member(Member {
        tenant_id: tenant.id,
        user_id: UserId::generate(),
        email: "someone@acme.test".into(),
        grants: Grants::of([&role]),
        fresh,
        meta: Default::default(),
    })
}

#[tokio::test]
async fn each_preset_builds_its_protocol() {
    let server = TestServer::start().await;
    let tenant = server.tenant("acme").await;
    let create = |input| connections::create(&server.state, &Actor::Cli, &tenant, input);

    // Fixed fields of a preset are ignored.
    let google = create(ConnectionInput {
        issuer: "https://evil.example".into(),
        scopes: String::new(),
        ..input(Preset::Google, "google")
    })
    .await
    .unwrap();
    assert_eq!(
        google.protocol,
        Protocol::Oidc {
            issuer: "https://accounts.google.com".into()
        }
    );
    assert_eq!(google.scopes, ["openid", "email", "profile"]);
    assert_eq!(google.claims, ClaimMapping::default());

    let microsoft = create(ConnectionInput {
        directory: " 9B1C2D3E-4F50-4A6B-8C7D-0E1F2A3B4C5D ".into(),
        subject_claim: "oid".into(),
        ..input(Preset::Microsoft, "microsoft")
    })
    .await
    .unwrap();
    assert_eq!(
        microsoft.protocol.issuer(),
        Some("https://login.microsoftonline.com/9b1c2d3e-4f50-4a6b-8c7d-0e1f2a3b4c5d/v2.0")
    );
    assert_eq!(microsoft.claims, ClaimMapping::default(), "fixed claims");

    let github = create(input(Preset::GitHub, "github")).await.unwrap();
    assert_eq!(
        github.protocol,
        Protocol::OAuth2 {
            authorization_endpoint: "https://github.com/login/oauth/authorize".into(),
            token_endpoint: "https://github.com/login/oauth/access_token".into(),
            userinfo_endpoint: "https://api.github.com/user".into(),
        }
    );
    assert_eq!(github.scopes, ["read:user", "user:email"]);
    assert_eq!(github.claims.subject, "id");
    assert_eq!(github.claims.email_verified, "email_verified");

    // The issuer exactly as typed (no slash added or taken), openid added; a public client.
    let corp = create(ConnectionInput {
        scopes: "email groups".into(),
        client_secret: None,
        email_claim: "mail".into(),
        domains: "Corp.Example, @sub.corp.example".into(),
        provisioning: true,
        ..oidc("corp", "https://idp.corp.example/realms/staff/")
    })
    .await
    .unwrap();
    assert_eq!(
        corp.protocol.issuer(),
        Some("https://idp.corp.example/realms/staff/")
    );
    assert_eq!(corp.scopes, ["openid", "email", "groups"]);
    assert_eq!(corp.claims.email, "mail");
    assert_eq!(corp.claims.subject, "sub", "empty: the default");
    assert_eq!(corp.client_secret, None);
    assert_eq!(corp.domains, ["corp.example", "sub.corp.example"]);
    assert!(corp.provisioning && corp.enabled);

    let legacy = create(ConnectionInput {
        authorization_endpoint: "https://legacy.example/oauth/authorize".into(),
        token_endpoint: "https://legacy.example/oauth/token".into(),
        userinfo_endpoint: "https://legacy.example/api/me".into(),
        scopes: "profile".into(),
        subject_claim: "user_id".into(),
        enabled: false,
        ..input(Preset::OAuth2, "legacy")
    })
    .await
    .unwrap();
    assert!(
        matches!(legacy.protocol, Protocol::OAuth2 { ref userinfo_endpoint, .. }
        if userinfo_endpoint == "https://legacy.example/api/me")
    );
    assert_eq!(legacy.scopes, ["profile"], "no openid for OAuth 2");
    assert_eq!(legacy.claims.subject, "user_id");
    assert!(!legacy.enabled);

    let all = connections::list(&server.state, &Actor::Cli, &tenant)
        .await
        .unwrap();
    let slugs: Vec<&str> = all.iter().map(|c| c.slug.as_str()).collect();
    assert_eq!(slugs, ["corp", "github", "google", "legacy", "microsoft"]);
    let found = connections::get(&server.state, &Actor::Cli, &tenant, "corp")
        .await
        .unwrap();
    assert_eq!(found, corp, "stored as built");
    assert!(matches!(
        connections::get(&server.state, &Actor::Cli, &tenant, "nobody").await,
        Err(AppError::NotFound)
    ));

    // The form of a stored connection gives it back unchanged.
    let again = connections::update(
        &server.state,
        &Actor::Cli,
        &tenant,
        "microsoft",
        ConnectionInput::of(&microsoft),
    )
    .await
    .unwrap();
    assert_eq!(again.protocol, microsoft.protocol);
    assert_eq!(again.client_secret, microsoft.client_secret, "secret kept");
}

#[tokio::test]
async fn invalid_input_is_refused_on_its_field_and_nothing_is_stored() {
    let server = TestServer::start().await;
    let tenant = server.tenant("acme").await;
    let valid = || oidc("corp", "https://idp.corp.example");
    let cases: Vec<(ConnectionInput, &str)> = vec![
        (
            ConnectionInput {
                slug: "Corp".into(),
                ..valid()
            },
            "slug",
        ),
        (
            ConnectionInput {
                slug: "".into(),
                ..valid()
            },
            "slug",
        ),
        (
            ConnectionInput {
                name: " ".into(),
                ..valid()
            },
            "name",
        ),
        (
            ConnectionInput {
                name: "a\nb".into(),
                ..valid()
            },
            "name",
        ),
        (
            ConnectionInput {
                client_id: "".into(),
                ..valid()
            },
            "client_id",
        ),
        (
            ConnectionInput {
                client_secret: Some("a\u{7}b".into()),
                ..valid()
            },
            "client_secret",
        ),
        (
            ConnectionInput {
                issuer: "".into(),
                ..valid()
            },
            "issuer",
        ),
        (
            ConnectionInput {
                issuer: "http://idp.corp.example".into(),
                ..valid()
            },
            "issuer",
        ),
        (
            ConnectionInput {
                issuer: "https://idp.corp.example/#x".into(),
                ..valid()
            },
            "issuer",
        ),
        // Addresses Tessera may not call: refused now, not at each sign-in.
        (
            ConnectionInput {
                issuer: "https://10.1.2.3".into(),
                ..valid()
            },
            "issuer",
        ),
        (
            ConnectionInput {
                issuer: "https://169.254.169.254/".into(),
                ..valid()
            },
            "issuer",
        ),
        (
            ConnectionInput {
                issuer: "http://127.0.0.1:8080".into(),
                ..valid()
            },
            "issuer",
        ),
        (
            ConnectionInput {
                scopes: "openid \"x".into(),
                ..valid()
            },
            "scopes",
        ),
        (
            ConnectionInput {
                subject_claim: "user id".into(),
                ..valid()
            },
            "subject_claim",
        ),
        (
            ConnectionInput {
                email_claim: "https://x/email".into(),
                ..valid()
            },
            "email_claim",
        ),
        (
            ConnectionInput {
                email_verified_claim: "a\"b".into(),
                ..valid()
            },
            "email_verified_claim",
        ),
        (
            ConnectionInput {
                name_claim: "x".repeat(101),
                ..valid()
            },
            "name_claim",
        ),
        (
            ConnectionInput {
                domains: "example.com, localhost".into(),
                ..valid()
            },
            "domains",
        ),
        (
            input(Preset::Google, "google-without-secret").without_secret(),
            "client_secret",
        ),
        (
            input(Preset::GitHub, "github").with_secret(""),
            "client_secret",
        ),
        (
            ConnectionInput {
                directory: "common".into(),
                ..input(Preset::Microsoft, "ms")
            },
            "directory",
        ),
        (
            ConnectionInput {
                directory: "organizations".into(),
                ..input(Preset::Microsoft, "ms")
            },
            "directory",
        ),
        (
            ConnectionInput {
                authorization_endpoint: "https://legacy.example/authorize".into(),
                token_endpoint: "ftp://legacy.example/token".into(),
                userinfo_endpoint: "https://legacy.example/me".into(),
                ..input(Preset::OAuth2, "legacy")
            },
            "token_endpoint",
        ),
        (
            ConnectionInput {
                authorization_endpoint: "https://legacy.example/authorize".into(),
                token_endpoint: "https://legacy.example/token".into(),
                ..input(Preset::OAuth2, "legacy")
            },
            "userinfo_endpoint",
        ),
    ];
    for (input, field) in cases {
        let slug = input.slug.clone();
        match connections::create(&server.state, &Actor::Cli, &tenant, input).await {
            Err(AppError::Invalid(invalid)) => {
                assert_eq!(invalid.field(), Some(field), "{slug}: {invalid}");
                assert!(!invalid.message().is_empty());
            }
            other => panic!("{slug} ({field}): {:?}", other.map(|c| c.slug)),
        }
    }
    assert!(stored(&server, &tenant).await.is_empty(), "nothing stored");

    // A change that is refused leaves the connection as it was.
    let made = connections::create(&server.state, &Actor::Cli, &tenant, valid())
        .await
        .unwrap();
    let refused = connections::update(
        &server.state,
        &Actor::Cli,
        &tenant,
        "corp",
        ConnectionInput {
            name: "New name".into(),
            issuer: "https://192.168.0.1".into(),
            ..valid()
        },
    )
    .await;
    assert!(matches!(refused, Err(AppError::Invalid(ref i)) if i.field() == Some("issuer")));
    // Another kind of provider is another connection.
    let other_kind = connections::update(
        &server.state,
        &Actor::Cli,
        &tenant,
        "corp",
        ConnectionInput {
            name: "New name".into(),
            ..input(Preset::Google, "corp")
        },
    )
    .await;
    assert!(matches!(other_kind, Err(AppError::Invalid(ref i)) if i.field() == Some("preset")));
    assert_eq!(stored(&server, &tenant).await, [made]);
}

/// Builders for the secret cases above.
trait Secret {
    fn without_secret(self) -> Self;
    fn with_secret(self, secret: &str) -> Self;
}

impl Secret for ConnectionInput {
    fn without_secret(self) -> Self {
        Self {
            client_secret: None,
            ..self
        }
    }

    fn with_secret(self, secret: &str) -> Self {
        Self {
            client_secret: Some(secret.into()),
            ..self
        }
    }
}

#[tokio::test]
async fn plain_http_to_loopback_only_where_the_operator_allows_private_networks() {
    let allow = ("TESSERA_FETCH_ALLOW_PRIVATE_NETWORKS", "true".to_owned());
    let server = TestServer::start_with(None, vec![allow]).await;
    let tenant = server.tenant("acme").await;
    let local = oidc("local", "http://127.0.0.1:8080/realms/dev");
    let made = connections::create(&server.state, &Actor::Cli, &tenant, local)
        .await
        .unwrap();
    assert_eq!(
        made.protocol.issuer(),
        Some("http://127.0.0.1:8080/realms/dev")
    );
    let elsewhere = oidc("remote", "http://idp.example.com");
    let refused = connections::create(&server.state, &Actor::Cli, &tenant, elsewhere).await;
    assert!(matches!(refused, Err(AppError::Invalid(ref i)) if i.field() == Some("issuer")));
}

#[tokio::test]
async fn the_secret_is_sealed_to_its_connection_and_kept_until_replaced() {
    let server = TestServer::start().await;
    let tenant = server.tenant("acme").await;
    let state = &server.state;
    let made = connections::create(state, &Actor::Cli, &tenant, input(Preset::Google, "google"))
        .await
        .unwrap();
    let open_sealed = |sealed: &str, context: &str| {
        let sealed = STANDARD.decode(sealed).expect("base64");
        state
            .secrets
            .open(&sealed, context)
            .map(|plain| String::from_utf8(plain).unwrap())
    };
    let open = |connection: &tessera::domain::Connection, context: &str| {
        open_sealed(
            connection.client_secret.as_deref().expect("a secret"),
            context,
        )
    };
    let context = format!("connection:{}", made.id);
    let sealed = made.client_secret.clone().unwrap();
    assert_ne!(sealed, SECRET);
    assert!(!sealed.contains(SECRET) && !sealed.contains(&STANDARD.encode(SECRET)));
    assert_eq!(open(&made, &context).unwrap(), SECRET);
    assert!(
        open(&made, "connection:another").is_err(),
        "bound to its connection"
    );
    let resealed = connections::seal_secret(state, made.id, SECRET);
    assert_ne!(resealed, sealed, "a fresh nonce each time");
    assert_eq!(open_sealed(&resealed, &context).unwrap(), SECRET);

    // None or empty keeps the secret; a new one replaces it.
    let keep = |secret: Option<&str>| ConnectionInput {
        client_secret: secret.map(str::to_owned),
        name: "Google Workspace".into(),
        ..ConnectionInput::of(&made)
    };
    for kept in [None, Some(""), Some("   ")] {
        let saved = connections::update(state, &Actor::Cli, &tenant, "google", keep(kept))
            .await
            .unwrap();
        assert_eq!(saved.client_secret.as_deref(), Some(sealed.as_str()));
    }
    let replaced = connections::update(state, &Actor::Cli, &tenant, "google", keep(Some("new")))
        .await
        .unwrap();
    assert_eq!(open(&replaced, &context).unwrap(), "new");
    let stored = connections::get(state, &Actor::Cli, &tenant, "google")
        .await
        .unwrap();
    assert_eq!(stored.client_secret, replaced.client_secret);

    // Never in the audit log.
    for (_, _, reason) in server.audit_actions("acme").await {
        let reason = reason.unwrap_or_default();
        assert!(
            !reason.contains(SECRET) && !reason.contains("=new"),
            "{reason}"
        );
    }
}

#[tokio::test]
async fn a_domain_leads_to_one_connection_and_a_slug_names_one() {
    let server = TestServer::start().await;
    let tenant = server.tenant("acme").await;
    let state = &server.state;
    let first = ConnectionInput {
        name: "Corp staff".into(),
        domains: "corp.example".into(),
        ..oidc("corp", "https://idp.corp.example")
    };
    connections::create(state, &Actor::Cli, &tenant, first.clone())
        .await
        .unwrap();
    let second = ConnectionInput {
        domains: "partner.example CORP.example".into(),
        ..oidc("partners", "https://idp.partner.example")
    };
    match connections::create(state, &Actor::Cli, &tenant, second.clone()).await {
        Err(AppError::Invalid(i)) => {
            assert_eq!(i.field(), Some("domains"));
            assert!(i.message().contains("corp.example") && i.message().contains("Corp staff"));
        }
        other => panic!("{:?}", other.map(|c| c.slug)),
    }
    let same_slug = oidc("corp", "https://other.example");
    assert!(matches!(
        connections::create(state, &Actor::Cli, &tenant, same_slug).await,
        Err(AppError::Invalid(ref i)) if i.field() == Some("slug")
    ));
    assert_eq!(stored(&server, &tenant).await.len(), 1);

    // A connection keeps its own domains when changed; another tenant has domains of its own.
    connections::update(state, &Actor::Cli, &tenant, "corp", first)
        .await
        .unwrap();
    let other = server.tenant("other").await;
    connections::create(state, &Actor::Cli, &other, second)
        .await
        .unwrap();
    let partners = ConnectionInput {
        domains: "partner.example".into(),
        ..oidc("partners", "https://idp.partner.example")
    };
    connections::create(state, &Actor::Cli, &tenant, partners)
        .await
        .unwrap();
    // Renaming onto a taken slug is refused.
    let renamed = ConnectionInput {
        slug: "corp".into(),
        domains: "partner.example".into(),
        ..oidc("partners", "https://idp.partner.example")
    };
    assert!(matches!(
        connections::update(state, &Actor::Cli, &tenant, "partners", renamed).await,
        Err(AppError::Invalid(ref i)) if i.field() == Some("slug")
    ));
}

#[tokio::test]
async fn at_most_so_many_connections() {
    let server = TestServer::start().await;
    let tenant = server.tenant("acme").await;
    for n in 0..MAX_CONNECTIONS {
        let made = oidc(&format!("idp{n}"), &format!("https://idp{n}.example"));
        connections::create(&server.state, &Actor::Cli, &tenant, made)
            .await
            .unwrap();
    }
    let one_more = oidc("one-more", "https://one-more.example");
    assert!(matches!(
        connections::create(&server.state, &Actor::Cli, &tenant, one_more).await,
        Err(AppError::Invalid(_))
    ));
    assert_eq!(stored(&server, &tenant).await.len(), MAX_CONNECTIONS);
}

#[tokio::test]
async fn only_those_allowed_manage_connections_after_a_recent_sign_in() {
    let server = TestServer::start().await;
    let tenant = server.tenant("acme").await;
    let state = &server.state;
    connections::create(
        state,
        &Actor::Cli,
        &tenant,
        oidc("corp", "https://idp.corp.example"),
    )
    .await
    .unwrap();
    let change = || oidc("corp", "https://idp2.corp.example");

    for role in [DEVELOPER, AUDITOR, MEMBER] {
        let actor = member(&tenant, role, true);
        let refused = [
            connections::list(state, &actor, &tenant).await.err(),
            connections::get(state, &actor, &tenant, "corp").await.err(),
            connections::create(state, &actor, &tenant, oidc("mine", "https://mine.example"))
                .await
                .err(),
            connections::update(state, &actor, &tenant, "corp", change())
                .await
                .err(),
            connections::delete(state, &actor, &tenant, "corp")
                .await
                .err(),
        ];
        for e in refused {
            assert!(matches!(e, Some(AppError::Forbidden)), "{role}: {e:?}");
        }
    }
    // An admin of another tenant is refused too.
    let elsewhere = member(&server.tenant("other").await, ADMIN, true);
    assert!(matches!(
        connections::list(state, &elsewhere, &tenant).await,
        Err(AppError::Forbidden)
    ));

    // The admin role holds the permission; changes need a recent sign-in.
    let stale = member(&tenant, ADMIN, false);
    assert_eq!(
        connections::list(state, &stale, &tenant)
            .await
            .unwrap()
            .len(),
        1
    );
    let needs_fresh = [
        connections::create(state, &stale, &tenant, oidc("mine", "https://mine.example"))
            .await
            .err(),
        connections::update(state, &stale, &tenant, "corp", change())
            .await
            .err(),
        connections::delete(state, &stale, &tenant, "corp")
            .await
            .err(),
    ];
    for e in needs_fresh {
        assert!(matches!(e, Some(AppError::Reauthenticate)), "{e:?}");
    }
    let unchanged = stored(&server, &tenant).await;
    assert_eq!(unchanged.len(), 1);
    assert_eq!(
        unchanged[0].protocol.issuer(),
        Some("https://idp.corp.example")
    );

    let admin = member(&tenant, ADMIN, true);
    connections::update(state, &admin, &tenant, "corp", change())
        .await
        .unwrap();
    connections::create(state, &admin, &tenant, oidc("mine", "https://mine.example"))
        .await
        .unwrap();
    connections::delete(state, &admin, &tenant, "mine")
        .await
        .unwrap();
}

#[tokio::test]
async fn every_change_is_audited_with_what_changed() {
    let server = TestServer::start().await;
    let tenant = server.tenant("acme").await;
    let state = &server.state;
    let corp = ConnectionInput {
        domains: "corp.example".into(),
        ..oidc("corp", "https://idp.corp.example")
    };
    connections::create(state, &Actor::Cli, &tenant, corp.clone())
        .await
        .unwrap();
    let changed = ConnectionInput {
        name: "Corp staff".into(),
        client_secret: Some("another secret".into()),
        provisioning: true,
        ..corp
    };
    connections::update(state, &Actor::Cli, &tenant, "corp", changed)
        .await
        .unwrap();
    connections::delete(state, &Actor::Cli, &tenant, "corp")
        .await
        .unwrap();
    assert!(matches!(
        connections::delete(state, &Actor::Cli, &tenant, "corp").await,
        Err(AppError::NotFound)
    ));
    assert!(stored(&server, &tenant).await.is_empty());

    let events = server.audit_actions("acme").await;
    let reason = |action: &str| {
        let found = events
            .iter()
            .find(|(a, outcome, _)| a == action && outcome == "success");
        found
            .unwrap_or_else(|| panic!("{action} audited"))
            .2
            .clone()
            .unwrap_or_default()
    };
    let created = reason("connection.created");
    assert!(
        created.contains("preset=oidc")
            && created.contains("provider=https://idp.corp.example")
            && created.contains("domains=corp.example")
            && created.contains("client_secret=set"),
        "{created}"
    );
    let updated = reason("connection.updated");
    assert!(
        updated.contains("name=\"Corp staff\"")
            && updated.contains("provisioning=true")
            && updated.contains("client_secret=replaced"),
        "{updated}"
    );
    assert!(
        !updated.contains("domains="),
        "only what changed: {updated}"
    );
    assert!(reason("connection.deleted").contains("Corp staff"));
    for (_, _, reason) in &events {
        let reason = reason.as_deref().unwrap_or_default();
        assert!(!reason.contains(SECRET) && !reason.contains("another secret"));
    }
    assert_eq!(
        events
            .iter()
            .filter(|(a, ..)| a == "connection.deleted")
            .count(),
        1,
        "a deletion that found nothing is not audited"
    );
}
