//! Webhooks: endpoints of a tenant that hear of what its audit log records, as signed HTTP
//! POSTs in the Standard Webhooks format, and the log of every delivery attempt.

use super::{one_line, Invalid, TenantId, Timestamp};
use url::Url;
use uuid::Uuid;

/// The audit actions an endpoint can subscribe to, with what each says to a person choosing.
/// High-volume protocol records (`token.issued`, `api_key.used`) are left out: they are the
/// metrics' business, and an endpoint hearing of each would double the cost of a token.
pub const EVENT_TYPES: &[(&str, &str)] = &[
    ("user.created", "An admin created a person"),
    ("user.invited", "An admin invited a person"),
    ("user.signed_up", "A person signed up"),
    ("user.updated", "A person's profile changed"),
    ("user.blocked", "A person was blocked"),
    ("user.unblocked", "A person was unblocked"),
    ("user.deleted", "A person was deleted"),
    ("user.restored", "A deleted person was restored"),
    ("user.purged", "A deleted person's data was erased"),
    (
        "user.password_reset_forced",
        "A person must choose a new password",
    ),
    ("login.succeeded", "A sign-in succeeded"),
    ("login.password", "A password was checked (see outcome)"),
    (
        "login.second_factor",
        "A second factor was checked (see outcome)",
    ),
    ("user.signed_out", "A person signed out"),
    (
        "account.password_changed",
        "A person changed their password",
    ),
    ("recovery.password_reset", "A password was reset by email"),
    ("mfa.enrolled", "A second factor was added"),
    ("mfa.removed", "A second factor was removed"),
    ("mfa.reset", "An admin reset a person's second factors"),
    (
        "refresh.reused",
        "A spent refresh token was presented again",
    ),
    ("code.replayed", "An authorization code was presented twice"),
    ("consent.revoked", "A person withdrew a consent"),
    ("client.created", "An application was registered"),
    (
        "client.registered",
        "An application registered itself (dynamic client registration)",
    ),
    ("client.updated", "An application was changed"),
    (
        "client.secret_rotated",
        "An application's secret was rotated",
    ),
    ("client.disabled", "An application was disabled"),
    ("client.enabled", "An application was enabled"),
    ("client.deleted", "An application was deleted"),
    ("role.assigned", "A role was given to a person"),
    ("role.unassigned", "A role was taken from a person"),
    ("role.created", "A role was created"),
    ("role.updated", "A role's permissions changed"),
    ("role.deleted", "A role was deleted"),
    ("team.created", "A team was created"),
    ("team.updated", "A team changed"),
    ("team.deleted", "A team was deleted"),
    ("team.member_added", "A person joined a team"),
    ("team.member_removed", "A person left a team"),
    ("api_key.created", "An API key was created"),
    ("api_key.revoked", "An API key was revoked"),
    (
        "initial_access_token.created",
        "An initial access token for dynamic registration was made",
    ),
    (
        "initial_access_token.revoked",
        "An initial access token was revoked",
    ),
    (
        "connection.created",
        "An identity provider people may sign in with was added",
    ),
    (
        "connection.updated",
        "A sign-in identity provider's settings changed",
    ),
    (
        "connection.deleted",
        "A sign-in identity provider was removed",
    ),
    ("tenant.policy_changed", "The organisation's policy changed"),
];
/// The type of the event "send a test event" sends; no endpoint subscribes to it.
pub const TEST_EVENT: &str = "webhook.test";
/// What the log keeps of an answer's body.
pub const RESPONSE_START_CHARS: usize = 200;
const MAX_URL: usize = 2000;

/// Whether `action` is an event type an endpoint may subscribe to.
pub fn is_event_type(action: &str) -> bool {
    EVENT_TYPES.iter().any(|(name, _)| *name == action)
}

/// A URL of the tenant's that receives its events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookEndpoint {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub url: String,
    pub description: String,
    /// Sorted, each one of [`EVENT_TYPES`].
    pub events: Vec<String>,
    /// The signing secret, sealed with the installation's key (never stored in the clear).
    pub secret: Vec<u8>,
    pub enabled: bool,
    /// Why it was disabled when Tessera disabled it (deliveries kept failing).
    pub disabled_reason: Option<String>,
    /// The first failure since the last success; `None` while deliveries succeed.
    pub failing_since: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl WebhookEndpoint {
    /// A new endpoint, enabled, after checking its URL, description and events.
    pub fn new(
        tenant_id: TenantId,
        url: &str,
        description: &str,
        events: &[String],
        secret: Vec<u8>,
        plain_http: bool,
        now: Timestamp,
    ) -> Result<Self, Invalid> {
        Ok(Self {
            id: Uuid::now_v7(),
            tenant_id,
            url: check_url(url, plain_http)?,
            description: check_description(description)?,
            events: check_events(events)?,
            secret,
            enabled: true,
            disabled_reason: None,
            failing_since: None,
            created_at: now,
            updated_at: now,
        })
    }

    /// Whether an event of `action` goes to this endpoint.
    pub fn wants(&self, action: &str) -> bool {
        self.enabled && self.events.iter().any(|e| e == action)
    }
}

/// An absolute `https` URL (`http` only where the operator allows private networks, for
/// development), without credentials or a fragment, of at most 2000 characters.
pub fn check_url(raw: &str, plain_http: bool) -> Result<String, Invalid> {
    let bad = |message: &str| Err(Invalid::new(message.to_owned()).on("url"));
    let raw = raw.trim();
    if raw.len() > MAX_URL {
        return bad("The URL is longer than 2000 characters.");
    }
    let Ok(url) = Url::parse(raw) else {
        return bad("Enter an absolute URL, such as https://example.com/hooks/tessera.");
    };
    match url.scheme() {
        "https" => {}
        "http" if plain_http => {}
        _ => return bad("The URL must start with https://."),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return bad("The URL must name a host.");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return bad("Put no user name or password in the URL: deliveries are signed instead.");
    }
    if url.fragment().is_some() {
        return bad("The URL cannot have a fragment (#…).");
    }
    Ok(url.to_string())
}

fn check_description(raw: &str) -> Result<String, Invalid> {
    one_line(raw, 200).map(str::to_owned).ok_or_else(|| {
        Invalid::new("Describe the endpoint in at most 200 characters on one line.")
            .on("description")
    })
}

/// At least one event type, each one of [`EVENT_TYPES`]; sorted, without repeats.
pub fn check_events(events: &[String]) -> Result<Vec<String>, Invalid> {
    let mut chosen = Vec::with_capacity(events.len());
    for event in events {
        let event = event.trim();
        if !is_event_type(event) {
            return Err(Invalid::new(format!(
                "{:?} is not an event type an endpoint can receive.",
                one_line(event, 60).unwrap_or("?")
            ))
            .on("events"));
        }
        chosen.push(event.to_owned());
    }
    chosen.sort();
    chosen.dedup();
    if chosen.is_empty() {
        return Err(Invalid::new("Choose at least one event type.").on("events"));
    }
    Ok(chosen)
}

/// What may change of an endpoint after it is made.
#[derive(Clone, Debug, Default)]
pub struct EndpointChanges {
    pub url: Option<String>,
    pub description: Option<String>,
    pub events: Option<Vec<String>>,
}

impl EndpointChanges {
    /// Applies the changes to `endpoint` after checking them.
    pub fn apply(&self, endpoint: &mut WebhookEndpoint, plain_http: bool) -> Result<(), Invalid> {
        if let Some(url) = &self.url {
            endpoint.url = check_url(url, plain_http)?;
        }
        if let Some(description) = &self.description {
            endpoint.description = check_description(description)?;
        }
        if let Some(events) = &self.events {
            endpoint.events = check_events(events)?;
        }
        Ok(())
    }
}

/// One attempt to deliver one message to one endpoint, as the console's delivery log shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryAttempt {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub endpoint_id: Uuid,
    /// The Standard Webhooks `webhook-id` (`msg_…`): the same for every attempt of a message,
    /// so that a receiver can drop a message it has handled already.
    pub message_id: String,
    pub event_type: String,
    /// The JSON body sent, kept so that a message can be sent again.
    pub payload: String,
    /// 1 for the first attempt of the message.
    pub attempt: i32,
    pub at: Timestamp,
    /// The receiver's HTTP status; `None` when it gave none (unreachable, refused, timed out).
    pub status: Option<i32>,
    pub latency_ms: i64,
    /// The start of the receiver's answer ([`RESPONSE_START_CHARS`]), or why nothing came.
    pub response: String,
    pub succeeded: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_must_be_https_absolute_and_without_credentials() {
        assert_eq!(
            check_url(" https://hooks.example.com/in ", false).unwrap(),
            "https://hooks.example.com/in"
        );
        assert!(check_url("http://hooks.example.com/in", false).is_err());
        assert!(check_url("http://127.0.0.1:9000/in", true).is_ok());
        for bad in [
            "hooks.example.com",
            "ftp://hooks.example.com",
            "https://user:pw@hooks.example.com/",
            "https://hooks.example.com/#x",
            "javascript:alert(1)",
        ] {
            assert!(check_url(bad, true).is_err(), "{bad}");
        }
        assert!(check_url(&format!("https://a.example/{}", "a".repeat(2000)), false).is_err());
    }

    #[test]
    fn events_are_known_sorted_and_not_empty() {
        let chosen = check_events(&[
            "user.deleted".into(),
            "user.created".into(),
            "user.created".into(),
        ])
        .unwrap();
        assert_eq!(chosen, ["user.created", "user.deleted"]);
        assert!(check_events(&[]).is_err());
        assert!(check_events(&["token.issued".into()]).is_err());
        assert!(check_events(&[TEST_EVENT.into()]).is_err());
    }
}
