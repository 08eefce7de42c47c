//! SAML metadata (SAML Metadata V2.0): what an identity provider's metadata says (its entity
//! id, where it takes AuthnRequests by HTTP-Redirect, the certificates of its signing keys),
//! and the metadata Tessera serves as a service provider for one connection.

use crate::domain::Invalid;
use base64::{engine::general_purpose::STANDARD, Engine};
use samael::key_info::{KeyInfo, X509Data};
use samael::metadata::{
    EntityDescriptor, EntityDescriptorType, IdpSsoDescriptor, IndexedEndpoint, KeyDescriptor,
    SpSsoDescriptor, HTTP_POST_BINDING, HTTP_REDIRECT_BINDING,
};
use samael::traits::ToXml;

const SAML_PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
const PERSISTENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent";
/// Metadata as pasted in the console: far larger than any single provider's.
pub const MAX_METADATA: usize = 512 * 1024;
/// A provider publishes a few signing certificates while it rolls its key over.
const MAX_CERTIFICATES: usize = 10;

/// What Tessera needs of an identity provider, read from its metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdpMetadata {
    pub entity_id: String,
    pub sso_url: String,
    /// Base64 DER, each a certificate OpenSSL could read.
    pub certificates: Vec<String>,
}

/// A certificate as the console describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateSummary {
    pub subject: String,
    pub not_after: String,
}

fn invalid(message: impl Into<String>) -> Invalid {
    Invalid::new(message).on("metadata")
}

/// Reads an identity provider's metadata: an `EntityDescriptor`, or an `EntitiesDescriptor`
/// holding exactly one identity provider. `sso_url` checks the single sign-on address
/// (https, as the other providers' addresses).
pub fn parse(
    xml: &str,
    sso_url: impl Fn(&str) -> Result<String, Invalid>,
) -> Result<IdpMetadata, Invalid> {
    let xml = xml.trim();
    if xml.is_empty() {
        return Err(invalid(
            "Paste the identity provider's metadata: the XML document that starts with <EntityDescriptor>.",
        ));
    }
    if xml.len() > MAX_METADATA {
        return Err(invalid("The metadata is larger than 512 KiB."));
    }
    let entity = the_identity_provider(xml)?;
    let entity_id = entity
        .entity_id
        .clone()
        .filter(|id| !id.trim().is_empty() && id.len() <= 1024)
        .ok_or_else(|| invalid("The metadata names no entityID."))?;
    let descriptors = entity.idp_sso_descriptors.unwrap_or_default();
    let redirect = descriptors
        .iter()
        .flat_map(|d| &d.single_sign_on_services)
        .find(|s| s.binding == HTTP_REDIRECT_BINDING)
        .ok_or_else(|| {
            invalid("The metadata has no SingleSignOnService with the HTTP-Redirect binding, which Tessera sends sign-ins to.")
        })?;
    let sso_url = sso_url(&redirect.location).map_err(|e| invalid(e.message().to_owned()))?;
    let certificates = signing_certificates(&descriptors)?;
    Ok(IdpMetadata {
        entity_id,
        sso_url,
        certificates,
    })
}

fn the_identity_provider(xml: &str) -> Result<EntityDescriptor, Invalid> {
    if let Ok(entity) = xml.parse::<EntityDescriptor>() {
        if entity.idp_sso_descriptors.is_some() {
            return Ok(entity);
        }
    }
    let unreadable = || {
        invalid("This is not SAML metadata of an identity provider: no EntityDescriptor with an IDPSSODescriptor was found.")
    };
    let all = xml
        .parse::<EntityDescriptorType>()
        .map_err(|_| unreadable())?;
    let mut providers = all.iter().filter(|e| e.idp_sso_descriptors.is_some());
    match (providers.next(), providers.next()) {
        (Some(one), None) => Ok(one.clone()),
        (Some(_), Some(_)) => Err(invalid(
            "The metadata describes several identity providers: paste the one of your organisation only.",
        )),
        (None, _) => Err(unreadable()),
    }
}

/// The certificates of the keys marked for signing, or of those marked for no use in
/// particular when none is (SAML Metadata §2.4.1.1).
fn signing_certificates(descriptors: &[IdpSsoDescriptor]) -> Result<Vec<String>, Invalid> {
    let keys: Vec<&KeyDescriptor> = descriptors
        .iter()
        .flat_map(|d| &d.key_descriptors)
        .collect();
    let signing: Vec<&&KeyDescriptor> = keys.iter().filter(|k| k.is_signing()).collect();
    let chosen: Vec<&&KeyDescriptor> = if signing.is_empty() {
        keys.iter()
            .filter(|k| k.key_use.as_deref().unwrap_or("").is_empty())
            .collect()
    } else {
        signing
    };
    let mut certificates = Vec::new();
    for key in chosen {
        for raw in key.key_info.x509_data.iter().flat_map(|d| &d.certificates) {
            let compact: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
            summary(&compact).ok_or_else(|| {
                invalid(
                    "A signing certificate in the metadata is not a readable X.509 certificate.",
                )
            })?;
            if !certificates.contains(&compact) {
                certificates.push(compact);
            }
        }
    }
    if certificates.is_empty() {
        return Err(invalid(
            "The metadata has no signing certificate (KeyDescriptor with an X509Certificate): Tessera could not check the provider's signatures.",
        ));
    }
    if certificates.len() > MAX_CERTIFICATES {
        return Err(invalid(format!(
            "The metadata has more than {MAX_CERTIFICATES} signing certificates."
        )));
    }
    Ok(certificates)
}

/// Who a certificate names and until when it is valid; `None` when it is unreadable.
pub fn summary(certificate: &str) -> Option<CertificateSummary> {
    let der = STANDARD.decode(certificate).ok()?;
    let x509 = openssl::x509::X509::from_der(&der).ok()?;
    let subject = x509
        .subject_name()
        .entries()
        .filter_map(|e| e.data().to_string().ok())
        .collect::<Vec<_>>()
        .join(", ");
    Some(CertificateSummary {
        subject,
        not_after: x509.not_after().to_string(),
    })
}

/// The metadata Tessera serves for a connection (SAML Metadata §2.4.4): who it is, that it
/// takes responses by HTTP-POST at `acs_url`, and that it wants assertions signed.
pub fn service_provider(entity_id: &str, acs_url: &str) -> Result<String, String> {
    let descriptor = SpSsoDescriptor {
        protocol_support_enumeration: Some(SAML_PROTOCOL.into()),
        authn_requests_signed: Some(false),
        want_assertions_signed: Some(true),
        name_id_formats: Some(vec![PERSISTENT.into()]),
        assertion_consumer_services: vec![IndexedEndpoint {
            binding: HTTP_POST_BINDING.into(),
            location: acs_url.into(),
            response_location: None,
            index: 0,
            is_default: Some(true),
        }],
        ..SpSsoDescriptor::default()
    };
    let entity = EntityDescriptor {
        entity_id: Some(entity_id.into()),
        sp_sso_descriptors: Some(vec![descriptor]),
        ..EntityDescriptor::default()
    };
    entity.to_string().map_err(|e| e.to_string())
}

/// The identity provider as samael's service provider checks responses against it: its
/// entity id and signing certificates.
pub fn identity_provider(entity_id: &str, certificates: &[String]) -> EntityDescriptor {
    let key = |certificate: &String| KeyDescriptor {
        key_use: Some("signing".into()),
        key_info: KeyInfo {
            id: None,
            x509_data: Some(X509Data {
                certificates: vec![certificate.clone()],
            }),
        },
        encryption_methods: None,
    };
    let descriptor = IdpSsoDescriptor {
        id: None,
        valid_until: None,
        cache_duration: None,
        protocol_support_enumeration: Some(SAML_PROTOCOL.into()),
        error_url: None,
        signature: None,
        key_descriptors: certificates.iter().map(key).collect(),
        organization: None,
        contact_people: Vec::new(),
        artifact_resolution_service: Vec::new(),
        single_logout_services: Vec::new(),
        manage_name_id_services: Vec::new(),
        name_id_formats: Vec::new(),
        want_authn_requests_signed: None,
        single_sign_on_services: Vec::new(),
        name_id_mapping_services: Vec::new(),
        assertion_id_request_services: Vec::new(),
        attribute_profiles: Vec::new(),
        attributes: Vec::new(),
    };
    EntityDescriptor {
        entity_id: Some(entity_id.into()),
        idp_sso_descriptors: Some(vec![descriptor]),
        ..EntityDescriptor::default()
    }
}
