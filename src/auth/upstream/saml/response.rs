//! The checks of a SAML Response posted to a connection's assertion consumer service (SAML
//! Core §3.2.2, SAML Profiles §4.1.4.3). Signatures are checked by samael with libxmlsec1
//! against the provider's certificates only (never a key the response carries), and what is
//! read afterwards comes from the XML that a verified signature covers: anything beside it,
//! such as a second assertion slipped in (signature wrapping), is dropped before parsing.

use super::super::provider::Identity;
use crate::domain::connection::SAML_NAME_ID;
use crate::domain::{ClaimMapping, Timestamp};
use base64::{engine::general_purpose::STANDARD, Engine};
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;
use samael::crypto::AllowedSignatureAlgorithm;
use samael::schema::Assertion;
use samael::service_provider::{Error as SamlError, ServiceProvider};

/// How far the provider's clock may be from ours (NotBefore, NotOnOrAfter).
const CLOCK_SKEW_SECS: i64 = 60;
/// How old a response may be when it arrives: the provider's clock, and the trip through the
/// browser.
const MAX_AGE_SECS: i64 = 180;
/// The most a replay cache entry is kept, whatever the assertion claims.
const MAX_REPLAY_WINDOW_SECS: i64 = 24 * 3600;

const TRANSIENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient";
const PROTOCOL_NS: &[u8] = b"urn:oasis:names:tc:SAML:2.0:protocol";
const ASSERTION_NS: &[u8] = b"urn:oasis:names:tc:SAML:2.0:assertion";

/// What the response must match: the request Tessera sent, and the connection's provider.
pub struct Expected {
    pub sp_entity_id: String,
    pub acs_url: String,
    pub request_id: String,
    pub idp_entity_id: String,
    pub certificates: Vec<String>,
    pub claims: ClaimMapping,
}

/// An assertion that passed every check.
pub struct Verified {
    pub assertion_id: String,
    /// Until when the assertion could be presented (for the replay cache).
    pub usable_until: Timestamp,
    pub identity: Identity,
}

/// Why a Response was not taken; the text is for the audit log.
#[derive(Debug)]
pub enum Refusal {
    /// The provider did not sign the person in (a status other than Success: they cancelled,
    /// or it refused them).
    NotSignedIn(String),
    /// The Response failed a check.
    Invalid(String),
}

impl From<&str> for Refusal {
    fn from(why: &str) -> Self {
        Self::Invalid(why.to_owned())
    }
}

impl From<String> for Refusal {
    fn from(why: String) -> Self {
        Self::Invalid(why)
    }
}

/// Checks `encoded`, the base64 SAMLResponse of the HTTP-POST binding.
pub fn verify(expected: &Expected, encoded: &str) -> Result<Verified, Refusal> {
    if expected.certificates.is_empty() {
        return Err("the connection has no signing certificate".into());
    }
    // Some providers wrap their base64 in lines.
    let compact: String = encoded.chars().filter(|c| !c.is_whitespace()).collect();
    let xml = STANDARD
        .decode(&compact)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or("the SAMLResponse is not base64 of UTF-8 XML")?;
    check_shape(&xml)?;
    let provider = ServiceProvider {
        entity_id: Some(expected.sp_entity_id.clone()),
        acs_url: Some(expected.acs_url.clone()),
        idp_metadata: super::metadata::identity_provider(
            &expected.idp_entity_id,
            &expected.certificates,
        ),
        allow_idp_initiated: false,
        max_issue_delay: chrono::Duration::seconds(MAX_AGE_SECS),
        max_clock_skew: chrono::Duration::seconds(CLOCK_SKEW_SECS),
        // No SHA-1 (RFC 9231 §2.2 lists it as broken for signatures).
        allowed_signature_algorithms: Some(vec![
            AllowedSignatureAlgorithm::RsaSha256,
            AllowedSignatureAlgorithm::RsaSha384,
            AllowedSignatureAlgorithm::RsaSha512,
            AllowedSignatureAlgorithm::EcdsaSha256,
            AllowedSignatureAlgorithm::EcdsaSha384,
            AllowedSignatureAlgorithm::EcdsaSha512,
        ]),
        ..ServiceProvider::default()
    };
    let assertion = provider
        .parse_base64_response(&compact, Some(&[expected.request_id.as_str()]))
        .map_err(|e| match e.downcast_ref::<SamlError>() {
            Some(SamlError::ResponseBadStatusCode { code }) => Refusal::NotSignedIn(code.clone()),
            _ => Refusal::Invalid(e.to_string()),
        })?;
    check_audience(&assertion, &expected.sp_entity_id)?;
    if assertion
        .authn_statements
        .as_ref()
        .is_none_or(Vec::is_empty)
    {
        // SAML Profiles §4.1.4.2: the assertion of a sign-in has an AuthnStatement.
        return Err("the assertion has no AuthnStatement".into());
    }
    Ok(Verified {
        usable_until: usable_until(&assertion),
        identity: identity(&assertion, &expected.claims)?,
        assertion_id: assertion.id,
    })
}

/// One Response with one assertion, and no document type: a sign-in needs no more, and
/// signature wrapping needs more (a second assertion beside the signed one, or the signed
/// response hidden inside another). A DOCTYPE could declare entities (XXE, entity expansion).
fn check_shape(xml: &str) -> Result<(), String> {
    let mut reader = NsReader::from_str(xml);
    let (mut responses, mut assertions, mut depth) = (0, 0, 0);
    loop {
        let (namespace, event) = reader
            .read_resolved_event()
            .map_err(|e| format!("the response is not well-formed XML: {e}"))?;
        let start = match &event {
            Event::Start(e) | Event::Empty(e) => Some(e.local_name()),
            _ => None,
        };
        match (&event, start) {
            (Event::DocType(_), _) => return Err("the response declares a DOCTYPE".into()),
            (Event::Eof, _) => break,
            (_, Some(name)) => {
                if depth == 0
                    && !matches!(&namespace, ResolveResult::Bound(ns) if ns.as_ref() == PROTOCOL_NS)
                {
                    return Err("the document is not a SAML protocol Response".into());
                }
                match (&namespace, name.as_ref()) {
                    (ResolveResult::Bound(ns), b"Response") if ns.as_ref() == PROTOCOL_NS => {
                        responses += 1
                    }
                    (ResolveResult::Bound(ns), b"Assertion" | b"EncryptedAssertion")
                        if ns.as_ref() == ASSERTION_NS =>
                    {
                        assertions += 1
                    }
                    _ => {}
                }
                if matches!(event, Event::Start(_)) {
                    depth += 1;
                }
            }
            (Event::End(_), _) => depth -= 1,
            _ => {}
        }
    }
    if responses != 1 {
        return Err(format!("the document holds {responses} Responses, not one"));
    }
    if assertions > 1 {
        return Err(format!(
            "the response holds {assertions} assertions, not one"
        ));
    }
    Ok(())
}

/// SAML Profiles §4.1.4.2: the assertion MUST be restricted to its audience, and SAML Core
/// §2.5.1.4: the relying party must be in every AudienceRestriction. (samael checks only
/// the restrictions there are.)
fn check_audience(assertion: &Assertion, audience: &str) -> Result<(), String> {
    let restrictions = assertion
        .conditions
        .as_ref()
        .and_then(|c| c.audience_restrictions.as_ref())
        .filter(|r| !r.is_empty())
        .ok_or("the assertion has no AudienceRestriction")?;
    if restrictions
        .iter()
        .all(|r| r.audience.iter().any(|a| a == audience))
    {
        Ok(())
    } else {
        Err(format!(
            "the assertion is for another audience than {audience}"
        ))
    }
}

/// The latest NotOnOrAfter of the assertion (its conditions, its bearer confirmations), with
/// the clock skew: the replay cache keeps its id that long.
fn usable_until(assertion: &Assertion) -> Timestamp {
    let conditions = assertion
        .conditions
        .as_ref()
        .and_then(|c| c.not_on_or_after);
    let confirmations = assertion
        .subject
        .iter()
        .flat_map(|s| s.subject_confirmations.iter().flatten())
        .filter_map(|c| c.subject_confirmation_data.as_ref()?.not_on_or_after);
    let latest = conditions.into_iter().chain(confirmations).max();
    let now = Timestamp::now();
    let until = latest.map_or(now.unix(), |t| t.timestamp()) + CLOCK_SKEW_SECS;
    Timestamp::from_unix(until.clamp(now.unix() + 60, now.unix() + MAX_REPLAY_WINDOW_SECS))
}

/// The person the assertion is about, read through the connection's mapping: the subject is
/// the NameID unless an attribute is mapped; attributes answer to their Name or FriendlyName.
fn identity(assertion: &Assertion, claims: &ClaimMapping) -> Result<Identity, String> {
    let attribute = |wanted: &str| -> Option<String> {
        assertion
            .attribute_statements
            .iter()
            .flatten()
            .flat_map(|s| &s.attributes)
            .find(|a| {
                a.name.as_deref() == Some(wanted) || a.friendly_name.as_deref() == Some(wanted)
            })
            .and_then(|a| a.values.iter().find_map(|v| v.value.clone()))
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let subject = if claims.subject == SAML_NAME_ID {
        let name_id = assertion
            .subject
            .as_ref()
            .and_then(|s| s.name_id.as_ref())
            .ok_or("the assertion has no NameID")?;
        if name_id.format.as_deref() == Some(TRANSIENT) {
            return Err(
                "the NameID is transient (a new one at each sign-in), so it cannot identify the person: map the subject to an attribute, or have the provider send a persistent NameID"
                    .into(),
            );
        }
        Some(name_id.value.trim().to_owned())
    } else {
        attribute(&claims.subject)
    };
    let subject = subject
        .filter(|s| !s.is_empty() && s.len() <= 1024)
        .ok_or_else(|| format!("the assertion has no subject ({})", claims.subject))?;
    Ok(Identity {
        subject,
        email: attribute(&claims.email),
        email_verified: attribute(&claims.email_verified)
            .is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1"),
        name: attribute(&claims.name),
    })
}
