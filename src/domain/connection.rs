//! Upstream identity providers a tenant's people may sign in with (connections), and the
//! upstream identities linked to local accounts. A preset (Google, Microsoft Entra ID, GitHub)
//! is a template over the generic kinds: OpenID Connect, OAuth 2 with a userinfo URL, and a
//! SAML 2.0 identity provider (Tessera as its service provider).

use super::{fetchable_url, one_line, Invalid, TenantId, Timestamp, UserId};
use uuid::Uuid;

/// The most connections one tenant may have (one sign-in button each).
pub const MAX_CONNECTIONS: usize = 20;
/// The most email domains one connection may claim for home-realm discovery.
pub const MAX_DOMAINS: usize = 50;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connection {
    pub id: Uuid,
    pub tenant_id: TenantId,
    /// Names the connection in its callback URL (`/t/{tenant}/upstream/{slug}/callback`);
    /// unique in the tenant.
    pub slug: String,
    /// What the sign-in button names: "Continue with {name}".
    pub name: String,
    pub preset: Preset,
    pub protocol: Protocol,
    /// The client id the provider gave; for SAML, the entity id Tessera goes by at the
    /// identity provider (its SP metadata URL unless the admin chose another).
    pub client_id: String,
    /// The client secret sealed with the encryption key (AES-256-GCM, `crypto::cipher`),
    /// base64; `None` for a public client.
    pub client_secret: Option<String>,
    pub scopes: Vec<String>,
    pub claims: ClaimMapping,
    /// Email domains whose people go straight to this provider (home-realm discovery),
    /// lower-case.
    pub domains: Vec<String>,
    /// Whether a first sign-in of someone without an account here creates one (just-in-time
    /// provisioning).
    pub provisioning: bool,
    pub enabled: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// Which template a connection was made from; the console shows only the fields it needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preset {
    Oidc,
    OAuth2,
    Google,
    Microsoft,
    GitHub,
    Saml,
}

impl Preset {
    pub const ALL: [Preset; 6] = [
        Preset::Google,
        Preset::Microsoft,
        Preset::GitHub,
        Preset::Oidc,
        Preset::OAuth2,
        Preset::Saml,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Oidc => "oidc",
            Self::OAuth2 => "oauth2",
            Self::Google => "google",
            Self::Microsoft => "microsoft",
            Self::GitHub => "github",
            Self::Saml => "saml",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == raw)
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Oidc => "OpenID Connect provider",
            Self::OAuth2 => "OAuth 2 provider",
            Self::Google => "Google",
            Self::Microsoft => "Microsoft Entra ID",
            Self::GitHub => "GitHub",
            Self::Saml => "SAML 2.0 identity provider",
        }
    }
}

/// How Tessera talks to the provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// OpenID Connect: the endpoints and keys come from the issuer's discovery document
    /// (OIDC Discovery §4), and an ID token proves the sign-in.
    Oidc { issuer: String },
    /// OAuth 2 (RFC 6749 §4.1): the identity is what the userinfo URL answers for the access
    /// token.
    OAuth2 {
        authorization_endpoint: String,
        token_endpoint: String,
        userinfo_endpoint: String,
    },
    /// SAML 2.0 Web Browser SSO (SAML Profiles §4.1): an AuthnRequest by HTTP-Redirect, a
    /// signed assertion back by HTTP-POST. Set up from the identity provider's metadata.
    Saml {
        /// The identity provider's entity id, the Issuer of its responses.
        entity_id: String,
        /// Its SingleSignOnService for the HTTP-Redirect binding.
        sso_url: String,
        /// The certificates whose keys sign its assertions: base64 DER, as in its metadata.
        certificates: Vec<String>,
    },
}

impl Protocol {
    /// The issuer an OIDC provider's responses must name (RFC 9207, OIDC Core §3.1.3.7).
    pub fn issuer(&self) -> Option<&str> {
        match self {
            Self::Oidc { issuer } => Some(issuer),
            Self::OAuth2 { .. } | Self::Saml { .. } => None,
        }
    }
}

/// Which claims of the provider's ID token or userinfo answer carry the identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimMapping {
    pub subject: String,
    pub email: String,
    pub email_verified: String,
    pub name: String,
}

impl Default for ClaimMapping {
    fn default() -> Self {
        Self {
            subject: "sub".into(),
            email: "email".into(),
            email_verified: "email_verified".into(),
            name: "name".into(),
        }
    }
}

/// A SAML assertion's subject is its NameID unless an attribute is mapped instead.
pub const SAML_NAME_ID: &str = "NameID";

impl ClaimMapping {
    /// A SAML identity provider's attributes: the NameID, and `mail` and `displayName` by
    /// their names in the SAML V2.0 attribute profiles (X.500/LDAP, `urn:oid:`). An attribute
    /// also answers to its FriendlyName.
    pub fn saml() -> Self {
        Self {
            subject: SAML_NAME_ID.into(),
            email: "urn:oid:0.9.2342.19200300.100.1.3".into(),
            email_verified: "email_verified".into(),
            name: "urn:oid:2.16.840.1.113730.3.1.241".into(),
        }
    }
}

/// An identity at a connection's provider, linked to a local account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkedIdentity {
    pub tenant_id: TenantId,
    pub connection_id: Uuid,
    /// The provider's stable id of the person (`sub`, or the mapped claim).
    pub subject: String,
    pub user_id: UserId,
    /// The email the provider gave when the link was made, to recognise it on the account page.
    pub email: Option<String>,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
}

impl Connection {
    /// The domain of `email` is one of this connection's.
    pub fn claims_domain_of(&self, email: &str) -> bool {
        let domain = email.rsplit_once('@').map(|(_, d)| d.to_ascii_lowercase());
        domain.is_some_and(|d| self.domains.contains(&d))
    }
}

/// A connection's slug: 1 to 40 lower-case letters, digits and dashes, starting with a letter.
pub fn check_slug(raw: &str) -> Result<String, Invalid> {
    let slug = raw.trim();
    let ok = (1..=40).contains(&slug.len())
        && slug.starts_with(|c: char| c.is_ascii_lowercase())
        && slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !ok {
        return Err(Invalid::new(
            "A short name is 1 to 40 lower-case letters, digits and dashes, starting with a letter.",
        )
        .on("slug"));
    }
    Ok(slug.to_owned())
}

/// The button's name: 1 to 60 characters on one line.
pub fn check_name(raw: &str) -> Result<String, Invalid> {
    match one_line(raw, 60) {
        Some(name) if !name.is_empty() => Ok(name.to_owned()),
        _ => Err(Invalid::new("A name is 1 to 60 characters on one line.").on("name")),
    }
}

/// Email domains, one per line or separated by commas or spaces: lower-cased, deduplicated.
pub fn check_domains(raw: &str) -> Result<Vec<String>, Invalid> {
    let mut domains: Vec<String> = Vec::new();
    for part in raw.split(|c: char| c == ',' || c.is_whitespace()) {
        let domain = part.trim().trim_start_matches('@').to_ascii_lowercase();
        if domain.is_empty() {
            continue;
        }
        let labels_ok = domain.split('.').count() >= 2
            && domain.len() <= 253
            && domain.split('.').all(|label| {
                (1..=63).contains(&label.len())
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                    && !label.starts_with('-')
                    && !label.ends_with('-')
            });
        if !labels_ok {
            return Err(Invalid::new(format!(
                "{domain:?} is not an email domain like example.com."
            ))
            .on("domains"));
        }
        if !domains.contains(&domain) {
            domains.push(domain);
        }
    }
    if domains.len() > MAX_DOMAINS {
        return Err(Invalid::new(format!("At most {MAX_DOMAINS} domains.")).on("domains"));
    }
    Ok(domains)
}

/// Scopes separated by spaces: each printable ASCII without quotes or backslashes
/// (RFC 6749 §3.3), at most 20.
pub fn check_scopes(raw: &str) -> Result<Vec<String>, Invalid> {
    let scopes: Vec<String> = raw.split_whitespace().map(str::to_owned).collect();
    let valid = |s: &String| {
        s.len() <= 200
            && s.bytes()
                .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
    };
    if scopes.len() > 20 || !scopes.iter().all(valid) {
        return Err(Invalid::new(
            "Scopes are up to 20 words separated by spaces, without quotes or backslashes.",
        )
        .on("scopes"));
    }
    Ok(scopes)
}

/// A claim name of the mapping: 1 to 100 characters, letters, digits, `_`, `-`, `:` and `.`.
pub fn check_claim(raw: &str, field: &'static str) -> Result<String, Invalid> {
    let claim = raw.trim();
    let ok = (1..=100).contains(&claim.len())
        && claim
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-:.".contains(c));
    if !ok {
        return Err(Invalid::new(
            "A claim name is 1 to 100 letters, digits, underscores, dashes, colons or dots.",
        )
        .on(field));
    }
    Ok(claim.to_owned())
}

/// Where a connection's provider sends people back (the redirect URI registered there):
/// `{issuer}/upstream/{slug}/callback`, below the tenant's issuer.
pub fn callback_url(issuer: &str, slug: &str) -> String {
    format!("{issuer}/upstream/{slug}/callback")
}

/// Where a SAML identity provider posts its responses: the connection's assertion consumer
/// service.
pub fn acs_url(issuer: &str, slug: &str) -> String {
    format!("{issuer}/upstream/{slug}/acs")
}

/// Where Tessera serves its SAML service-provider metadata for the connection; also the
/// entity id it goes by unless the admin chose another.
pub fn sp_metadata_url(issuer: &str, slug: &str) -> String {
    format!("{issuer}/upstream/{slug}/metadata")
}

/// What a preset asks for and what it fills in itself.
impl Preset {
    /// The scopes a connection of this preset asks for when none are given.
    pub fn default_scopes(self) -> &'static str {
        match self {
            Self::GitHub => "read:user user:email",
            Self::OAuth2 | Self::Saml => "",
            Self::Oidc | Self::Google | Self::Microsoft => "openid email profile",
        }
    }

    /// Whether the provider's flow proves the sign-in with an ID token (OpenID Connect).
    pub fn is_oidc(self) -> bool {
        !matches!(self, Self::GitHub | Self::OAuth2 | Self::Saml)
    }

    /// The big providers register only confidential clients; a generic provider may take a
    /// public client that proves itself with PKCE alone.
    pub fn needs_secret(self) -> bool {
        matches!(self, Self::Google | Self::Microsoft | Self::GitHub)
    }

    /// Whether the admin chooses the claims (the presets know their provider's).
    pub fn maps_claims(self) -> bool {
        matches!(self, Self::Oidc | Self::OAuth2 | Self::Saml)
    }

    /// Whether people are sent there with OAuth 2 (a client id, scopes, a callback) rather
    /// than SAML.
    pub fn is_oauth(self) -> bool {
        self != Self::Saml
    }
}

/// A SAML attribute name for the mapping: 1 to 200 printable characters without spaces,
/// quotes, angle brackets or backslashes (attribute names are often URIs).
pub fn check_attribute(raw: &str, field: &'static str) -> Result<String, Invalid> {
    let name = raw.trim();
    let ok = (1..=200).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_graphic() && !"\"'<>\\".contains(c));
    if !ok {
        return Err(Invalid::new(
            "An attribute name is 1 to 200 characters without spaces, quotes or angle brackets.",
        )
        .on(field));
    }
    Ok(name.to_owned())
}

/// The client id the provider gave: 1 to 200 characters on one line.
pub fn check_client_id(raw: &str) -> Result<String, Invalid> {
    match one_line(raw, 200) {
        Some(id) if !id.is_empty() => Ok(id.to_owned()),
        _ => Err(Invalid::new(
            "Give the client id the provider shows for your app (1 to 200 characters on one line).",
        )
        .on("client_id")),
    }
}

/// A client secret as typed: empty (none given), or up to 1000 characters on one line.
pub fn check_client_secret(raw: &str) -> Result<Option<String>, Invalid> {
    match one_line(raw, 1000) {
        Some("") => Ok(None),
        Some(secret) => Ok(Some(secret.to_owned())),
        None => Err(
            Invalid::new("A client secret is at most 1000 characters on one line.")
                .on("client_secret"),
        ),
    }
}

/// A Microsoft Entra directory (tenant) id, lower-case with dashes. Only one directory's id
/// will do: the shared endpoints' ID tokens each name their own directory as the issuer, so
/// no single issuer could be checked.
pub fn check_directory(raw: &str) -> Result<String, Invalid> {
    match Uuid::try_parse(raw.trim()) {
        Ok(id) => Ok(id.hyphenated().to_string()),
        Err(_) => Err(Invalid::new(
            "Give the directory (tenant) id, a GUID such as 9b1c2d3e-4f50-4a6b-8c7d-0e1f2a3b4c5d. \
             \"common\", \"organizations\" and \"consumers\" are refused: their ID tokens name each \
             directory's own issuer, so Tessera could not check who issued them.",
        )
        .on("directory")),
    }
}

/// An address of the provider (its issuer or an endpoint) for the form field `field`: https,
/// or plain http to a loopback host when `loopback_http` (development). `what` names it in
/// the message.
pub fn check_url(
    raw: &str,
    field: &'static str,
    what: &str,
    loopback_http: bool,
) -> Result<String, Invalid> {
    let raw = raw.trim();
    if fetchable_url(raw, loopback_http).is_none() {
        return Err(Invalid::new(format!(
            "{what} is an https:// address without a #fragment, such as https://idp.example.com."
        ))
        .on(field));
    }
    Ok(raw.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_are_lowercased_deduplicated_and_checked() {
        assert_eq!(
            check_domains("Example.com, @corp.example.org\nexample.com").unwrap(),
            vec!["example.com", "corp.example.org"]
        );
        assert!(check_domains("localhost").is_err());
        assert!(check_domains("exa mple.com/x").is_err());
        assert!(check_domains("-bad.com").is_err());
    }

    #[test]
    fn a_connection_claims_only_its_own_domains() {
        let connection = Connection {
            id: Uuid::nil(),
            tenant_id: TenantId::from(Uuid::nil()),
            slug: "corp".into(),
            name: "Corp".into(),
            preset: Preset::Oidc,
            protocol: Protocol::Oidc {
                issuer: "https://idp.example.com".into(),
            },
            client_id: "c".into(),
            client_secret: None,
            scopes: vec![],
            claims: ClaimMapping::default(),
            domains: vec!["corp.example".into()],
            provisioning: false,
            enabled: true,
            created_at: Timestamp::now(),
            updated_at: Timestamp::now(),
        };
        assert!(connection.claims_domain_of("Ann@CORP.example"));
        assert!(!connection.claims_domain_of("ann@sub.corp.example"));
        assert!(!connection.claims_domain_of("ann@evilcorp.example"));
    }

    #[test]
    fn slugs_scopes_and_claims_are_checked() {
        assert!(check_slug("google-work").is_ok());
        assert!(check_slug("Google").is_err());
        assert!(check_slug("1x").is_err());
        assert!(check_scopes("openid email \"x").is_err());
        assert_eq!(check_scopes("openid  email").unwrap(), ["openid", "email"]);
        assert!(check_claim("https://x/claims", "email").is_err());
        assert!(check_claim("user.email", "email").is_ok());
    }

    #[test]
    fn a_directory_is_one_directorys_id() {
        assert_eq!(
            check_directory(" 9B1C2D3E-4F50-4A6B-8C7D-0E1F2A3B4C5D ").unwrap(),
            "9b1c2d3e-4f50-4a6b-8c7d-0e1f2a3b4c5d"
        );
        for shared in ["common", "organizations", "consumers", ""] {
            let refused = check_directory(shared).unwrap_err();
            assert_eq!(refused.field(), Some("directory"));
        }
    }

    #[test]
    fn provider_addresses_are_https_and_kept_as_typed() {
        let issuer = check_url(" https://idp.example.com ", "issuer", "The issuer", false);
        assert_eq!(issuer.unwrap(), "https://idp.example.com", "no slash added");
        assert!(check_url("http://127.0.0.1:8080", "issuer", "The issuer", true).is_ok());
        for refused in [
            "http://127.0.0.1:8080",
            "https://x.example/#f",
            "idp.example.com",
            "",
        ] {
            let e = check_url(refused, "issuer", "The issuer", false).unwrap_err();
            assert_eq!(e.field(), Some("issuer"), "{refused}");
        }
        assert!(check_client_id(" ").is_err() && check_client_id("abc.apps").is_ok());
        assert_eq!(check_client_secret("  ").unwrap(), None);
        assert!(check_client_secret("a\nb").is_err());
    }
}
