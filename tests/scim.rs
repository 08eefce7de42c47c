//! SCIM 2.0 provisioning (issue 14, part 4) over HTTP: a third-party client (scim2-client from
//! PyPI) provisions users and groups end to end; then what provisioning clients send in
//! practice (Entra ID's and Okta's forms of PATCH, filters), and what must be refused: other
//! organisations' ids and keys, missing permissions, malformed bodies and filters.

mod common;

use common::{services_python, TestServer};
use reqwest::{header, Method, StatusCode};
use serde_json::{json, Value};
use tessera::admin::{api_keys, Actor};
use tessera::domain::{Tenant, UserId};

async fn key(server: &TestServer, tenant: &Tenant, permissions: &[&str]) -> String {
    let permissions: Vec<String> = permissions.iter().map(|p| p.to_string()).collect();
    api_keys::create(&server.state, &Actor::Cli, tenant, "SCIM", &permissions, 30)
        .await
        .expect("key")
        .secret
}

struct Scim<'a> {
    server: &'a TestServer,
    slug: &'a str,
    key: String,
}

impl Scim<'_> {
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let url = format!("{}/scim/v2{path}", self.server.issuer(self.slug));
        let mut request = self
            .server
            .http()
            .request(method, url)
            .bearer_auth(&self.key);
        if let Some(body) = body {
            request = request
                .header(header::CONTENT_TYPE, "application/scim+json")
                .body(body.to_string());
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        if status != StatusCode::NO_CONTENT {
            assert_eq!(
                response.headers()[header::CONTENT_TYPE],
                "application/scim+json",
                "{path}"
            );
        }
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

/// A refusal in SCIM's error format (RFC 7644 §3.12): its status and `scimType`.
fn error(status: StatusCode, body: &Value) -> (StatusCode, Option<String>) {
    assert_eq!(
        body["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:Error"]),
        "{body}"
    );
    assert_eq!(body["status"], status.as_u16().to_string());
    assert!(body["detail"].is_string());
    (status, body["scimType"].as_str().map(str::to_owned))
}

// The client runs as a child process while this runtime serves it: two threads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_third_party_scim_client_provisions_users_and_groups() {
    let server = TestServer::start().await;
    let acme = server.tenant("acme").await;
    server.person(&acme, "owner@acme.test", Some("owner")).await;
    let token = key(&server, &acme, &["users:*", "teams:manage"]).await;
    let mut client = std::process::Command::new(services_python());
    client
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/scim_client.py"))
        .env("SCIM_URL", format!("{}/scim/v2", server.issuer("acme")))
        .env("SCIM_TOKEN", &token);
    let output = tokio::task::spawn_blocking(move || client.output())
        .await
        .unwrap()
        .expect("the Python of scripts/services.sh runs");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("deleted the group and the user"),
        "{stdout}"
    );
    let grace = tessera::admin::users::search(
        &server.state,
        &Actor::Cli,
        &acme,
        &tessera::store::UserQuery {
            text: Some("grace@acme.org".into()),
            ..Default::default()
        },
        None,
        10,
    )
    .await
    .unwrap();
    assert_eq!(grace.len(), 1, "deleted restorably, as in the console");
    assert!(grace[0].deleted_at.is_some());
    assert_eq!(grace[0].name.as_deref(), Some("Grace B. Hopper"));
}

#[tokio::test]
async fn provisioning_clients_forms_work_and_bad_requests_change_nothing() {
    let server = TestServer::start().await;
    let acme = server.tenant("acme").await;
    let other = server.tenant("other").await;
    server.person(&acme, "owner@acme.test", Some("owner")).await;
    let stranger = server.person(&other, "stranger@other.test", None).await;
    let scim = Scim {
        server: &server,
        slug: "acme",
        key: key(&server, &acme, &["users:*", "teams:manage"]).await,
    };

    // Entra ID's user: name parts, a work email, userName, active as a string later on.
    let (status, made) = scim
        .call(
            Method::POST,
            "/Users",
            Some(json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "ada@acme.test",
                "externalId": "4f1c-ada",
                "name": {"givenName": "Ada", "familyName": "Lovelace"},
                "emails": [{"value": "ada@acme.test", "type": "work", "primary": true}],
                "active": true
            })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    assert_eq!(made["name"]["formatted"], "Ada Lovelace");
    assert_eq!(made["externalId"], "4f1c-ada");
    let ada = made["id"].as_str().unwrap().to_owned();
    let ada_id: UserId = ada.parse().unwrap();

    // The same person again, a bad address, a body that is not JSON: refused, nothing made.
    let (status, body) = scim
        .call(
            Method::POST,
            "/Users",
            Some(json!({"userName": "ADA@acme.test"})),
        )
        .await;
    assert_eq!(
        error(status, &body),
        (StatusCode::CONFLICT, Some("uniqueness".into()))
    );
    for bad in [
        json!({"userName": "not an address"}),
        json!({"name": {"formatted": "No Address"}}),
        json!({"userName": "x@acme.test", "active": "perhaps"}),
    ] {
        let (status, body) = scim.call(Method::POST, "/Users", Some(bad.clone())).await;
        assert_eq!(
            error(status, &body),
            (StatusCode::BAD_REQUEST, Some("invalidValue".into())),
            "{bad}"
        );
    }
    let (status, body) = scim.call(Method::POST, "/Users", Some(json!(["a"]))).await;
    assert_eq!(
        error(status, &body),
        (StatusCode::BAD_REQUEST, Some("invalidSyntax".into()))
    );
    let (_, list) = scim.call(Method::GET, "/Users", None).await;
    assert_eq!(list["totalResults"], 2, "the owner and Ada: {list}");

    // Entra ID's PATCH: capitalised ops, string booleans, a filtered email path.
    let (status, body) = scim
        .call(
            Method::PATCH,
            &format!("/Users/{ada}"),
            Some(json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [
                    {"op": "Replace", "path": "active", "value": "False"},
                    {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "ada.l@acme.test"},
                    {"op": "Add", "value": {"displayName": "Countess Lovelace"}},
                    {"op": "Replace", "path": "externalId", "value": "4f1c-ada-2"}
                ]
            })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let user = tessera::admin::users::get(&server.state, &Actor::Cli, &acme, ada_id)
        .await
        .unwrap();
    assert!(user.blocked, "deactivated is blocked");
    assert_eq!(user.email.as_str(), "ada.l@acme.test");
    assert_eq!(user.name.as_deref(), Some("Countess Lovelace"));
    assert_eq!(user.external_id.as_deref(), Some("4f1c-ada-2"));
    assert_eq!(body["active"], false);

    // A bad PATCH changes nothing, even when its first operation was fine.
    for (bad, kind) in [
        (
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                   "Operations": [{"op": "replace", "path": "active", "value": true},
                                  {"op": "replace", "path": "userName", "value": "nope"}]}),
            "invalidValue",
        ),
        (
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                   "Operations": [{"op": "replace", "path": "active", "value": true},
                                  {"op": "replace", "path": "x509Certificates", "value": "x"}]}),
            "invalidPath",
        ),
        (
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                   "Operations": [{"op": "replace", "path": "active", "value": true},
                                  {"op": "replace", "path": "externalId", "value": "two\nlines"}]}),
            "invalidValue",
        ),
        (
            json!({"Operations": [{"op": "replace", "path": "active", "value": true}]}),
            "invalidSyntax",
        ),
        (
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                   "Operations": [{"op": "move", "path": "active", "value": true}]}),
            "invalidSyntax",
        ),
    ] {
        let (status, body) = scim
            .call(Method::PATCH, &format!("/Users/{ada}"), Some(bad.clone()))
            .await;
        assert_eq!(
            error(status, &body),
            (StatusCode::BAD_REQUEST, Some(kind.into())),
            "{bad}"
        );
    }
    let user = tessera::admin::users::get(&server.state, &Actor::Cli, &acme, ada_id)
        .await
        .unwrap();
    assert!(
        user.blocked,
        "still blocked: nothing of a refused PATCH applied"
    );
    assert_eq!(user.email.as_str(), "ada.l@acme.test");
    assert_eq!(user.external_id.as_deref(), Some("4f1c-ada-2"));

    // Filters: the forms clients send; what cannot be evaluated is refused.
    for (filter, total) in [
        ("userName eq \"ADA.L@acme.test\"", 1),
        ("emails.value co \"@acme.test\"", 2),
        ("userName sw \"owner\" and active eq true", 1),
        ("active eq false", 1),
        ("externalId eq \"4f1c-ada-2\"", 1),
        ("displayName eq \"nobody\"", 0),
    ] {
        let path = format!("/Users?filter={}", urlencoding(filter));
        let (status, body) = scim.call(Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::OK, "{filter}: {body}");
        assert_eq!(body["totalResults"], total, "{filter}: {body}");
    }
    let (_, page) = scim
        .call(Method::GET, "/Users?startIndex=2&count=1", None)
        .await;
    assert_eq!(
        (page["totalResults"].clone(), page["itemsPerPage"].clone()),
        (json!(2), json!(1))
    );
    assert_eq!(
        page["Resources"][0]["id"], ada,
        "oldest first: the owner, then Ada"
    );
    for bad in [
        "/Users?filter=userName%20gt%20%22a%22",
        "/Users?filter=userName%20eq%20%22a%22%20or%20active%20eq%20true",
        "/Users?filter=userName",
    ] {
        let (status, body) = scim.call(Method::GET, bad, None).await;
        assert_eq!(
            error(status, &body),
            (StatusCode::BAD_REQUEST, Some("invalidFilter".into())),
            "{bad}"
        );
    }

    // Groups: Okta's member PATCH, a name change, a member that is not one of ours.
    let (status, team) = scim
        .call(
            Method::POST,
            "/Groups",
            Some(json!({"displayName": "Engineering", "members": [{"value": ada}]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{team}");
    let team_id = team["id"].as_str().unwrap().to_owned();
    let (status, body) = scim
        .call(
            Method::POST,
            "/Groups",
            Some(json!({"displayName": "Sneaky", "members": [{"value": stranger.to_string()}]})),
        )
        .await;
    assert_eq!(
        error(status, &body),
        (StatusCode::BAD_REQUEST, Some("invalidValue".into()))
    );
    let (_, groups) = scim.call(Method::GET, "/Groups", None).await;
    assert_eq!(
        groups["totalResults"], 1,
        "no group made from a refused body"
    );
    let owner = server.person(&acme, "bob@acme.test", None).await;
    let (status, body) = scim
        .call(
            Method::PATCH,
            &format!("/Groups/{team_id}"),
            Some(json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [
                    {"op": "add", "path": "members", "value": [{"value": owner.to_string()}]},
                    {"op": "remove", "path": "members", "value": [{"value": ada}]},
                    {"op": "replace", "value": {"displayName": "Platform"}}
                ]
            })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["displayName"], "Platform");
    assert_eq!(
        body["members"],
        json!([{
            "value": owner.to_string(),
            "$ref": format!("{}/scim/v2/Users/{owner}", server.issuer("acme")),
            "type": "User"
        }])
    );
    let (_, lean) = scim
        .call(
            Method::GET,
            &format!("/Groups/{team_id}?excludedAttributes=members"),
            None,
        )
        .await;
    assert!(lean.get("members").is_none(), "{lean}");
    let (_, bob) = scim
        .call(Method::GET, &format!("/Users/{owner}"), None)
        .await;
    assert_eq!(
        bob["groups"],
        json!([{
            "value": team_id,
            "$ref": format!("{}/scim/v2/Groups/{team_id}", server.issuer("acme")),
            "display": "Platform",
            "type": "direct"
        }])
    );
    let (_, ada_now) = scim.call(Method::GET, &format!("/Users/{ada}"), None).await;
    assert!(
        ada_now.get("groups").is_none(),
        "removed from it: {ada_now}"
    );

    // Another organisation's ids are not found; its key does not open this one.
    let (status, body) = scim
        .call(Method::GET, &format!("/Users/{stranger}"), None)
        .await;
    assert_eq!(error(status, &body), (StatusCode::NOT_FOUND, None));
    let outsider = Scim {
        server: &server,
        slug: "acme",
        key: key(&server, &other, &["users:*"]).await,
    };
    let (status, body) = outsider.call(Method::GET, "/Users", None).await;
    assert_eq!(error(status, &body), (StatusCode::UNAUTHORIZED, None));
    let reader = Scim {
        server: &server,
        slug: "acme",
        key: key(&server, &acme, &["users:read"]).await,
    };
    let (status, body) = reader
        .call(
            Method::POST,
            "/Users",
            Some(json!({"userName": "r@acme.test"})),
        )
        .await;
    assert_eq!(error(status, &body), (StatusCode::FORBIDDEN, None));
    let (status, body) = reader
        .call(Method::DELETE, &format!("/Users/{ada}"), None)
        .await;
    assert_eq!(error(status, &body), (StatusCode::FORBIDDEN, None));

    // Deleted: gone for SCIM (restorable in the console); the group too.
    let (status, _) = scim
        .call(Method::DELETE, &format!("/Users/{ada}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = scim.call(Method::GET, &format!("/Users/{ada}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = scim
        .call(Method::DELETE, &format!("/Groups/{team_id}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = scim
        .call(Method::GET, &format!("/Groups/{team_id}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// Percent-encodes a query value.
fn urlencoding(raw: &str) -> String {
    url::form_urlencoded::byte_serialize(raw.as_bytes()).collect()
}
