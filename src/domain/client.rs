use super::{
    lifetime_within, one_line, ClientKey, Invalid, SigningAlg, TenantId, Timestamp, UserId,
};
use serde::{Deserialize, Serialize};
use url::Url;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientType {
    /// Can keep a secret (server-side web apps, services).
    Confidential,
    /// Cannot keep a secret (single-page and native apps); PKCE is always required.
    Public,
}

impl ClientType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Confidential => "confidential",
            Self::Public => "public",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "confidential" => Some(Self::Confidential),
            "public" => Some(Self::Public),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum GrantType {
    #[serde(rename = "authorization_code")]
    AuthorizationCode,
    #[serde(rename = "refresh_token")]
    RefreshToken,
    #[serde(rename = "client_credentials")]
    ClientCredentials,
    /// RFC 8628 §3.4.
    #[serde(rename = "urn:ietf:params:oauth:grant-type:device_code")]
    DeviceCode,
    /// RFC 8693: a service exchanges a token it was given for one to call another API.
    #[serde(rename = "urn:ietf:params:oauth:grant-type:token-exchange")]
    TokenExchange,
}

impl GrantType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::RefreshToken => "refresh_token",
            Self::ClientCredentials => "client_credentials",
            Self::DeviceCode => "urn:ietf:params:oauth:grant-type:device_code",
            Self::TokenExchange => "urn:ietf:params:oauth:grant-type:token-exchange",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "authorization_code" => Some(Self::AuthorizationCode),
            "refresh_token" => Some(Self::RefreshToken),
            "client_credentials" => Some(Self::ClientCredentials),
            "urn:ietf:params:oauth:grant-type:device_code" => Some(Self::DeviceCode),
            "urn:ietf:params:oauth:grant-type:token-exchange" => Some(Self::TokenExchange),
            _ => None,
        }
    }
}

/// RFC 8693: what a client may obtain by exchanging a token it was given.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExchangePolicy {
    /// The audiences (RFC 8707 resource URIs) the new tokens may be for.
    pub audiences: Vec<String>,
    /// The scopes they may carry (never more than the exchanged token's).
    pub scopes: Vec<String>,
}

impl ExchangePolicy {
    /// At most this many audiences, and as many scopes.
    pub const MAX: usize = 50;

    /// Each audience an absolute URI without a fragment (RFC 8707 §2), at most [`Self::MAX`].
    pub fn check_audiences(audiences: &[String]) -> Result<(), Invalid> {
        if audiences.len() > Self::MAX {
            let refused = Invalid::new("Allow at most 50 token-exchange audiences.");
            return Err(refused.on("exchange_audiences"));
        }
        for audience in audiences {
            Client::validate_resource(audience).map_err(|e| e.on("exchange_audiences"))?;
        }
        Ok(())
    }

    /// Each scope a valid scope token (RFC 6749 §3.3), at most [`Self::MAX`].
    pub fn check_scopes(scopes: &[String]) -> Result<(), Invalid> {
        if scopes.len() > Self::MAX {
            let refused = Invalid::new("Allow at most 50 token-exchange scopes.");
            return Err(refused.on("exchange_scopes"));
        }
        for scope in scopes {
            Client::validate_scope(scope).map_err(|e| e.on("exchange_scopes"))?;
        }
        Ok(())
    }

    /// The policy as a form has it: audiences one a line, scopes separated by spaces.
    pub fn from_form(audiences: &str, scopes: &str) -> Self {
        Self {
            audiences: uri_lines(audiences),
            scopes: scopes.split_whitespace().map(str::to_owned).collect(),
        }
    }

    /// Both lists, as [`Self::check_audiences`] and [`Self::check_scopes`] want them.
    pub fn check(&self) -> Result<(), Invalid> {
        Self::check_audiences(&self.audiences)?;
        Self::check_scopes(&self.scopes)
    }
}

/// How a client proves its identity at the token endpoint (OIDC Core §9).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenAuthMethod {
    ClientSecretBasic,
    ClientSecretPost,
    /// RFC 7523: a JWT signed with a key of the client's registered JWK Set.
    PrivateKeyJwt,
    None,
}

impl TokenAuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::PrivateKeyJwt => "private_key_jwt",
            Self::None => "none",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "client_secret_basic" => Some(Self::ClientSecretBasic),
            "client_secret_post" => Some(Self::ClientSecretPost),
            "private_key_jwt" => Some(Self::PrivateKeyJwt),
            "none" => Some(Self::None),
            _ => None,
        }
    }
}

/// The URIs of a form's text area, one a line.
pub fn uri_lines(raw: &str) -> Vec<String> {
    raw.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A redirect URI that passed the registration rules of RFC 6749 §3.1.2 and RFC 9700 §2.1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RedirectUri(String);

impl RedirectUri {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let url = Url::parse(raw)
            .map_err(|_| Invalid::new(format!("Redirect URI {raw:?} is not an absolute URL.")))?;
        if raw.len() > 2000 {
            return Err(Invalid::new("A redirect URI is at most 2000 characters."));
        }
        // RFC 6749 §3.1.2: the endpoint URI MUST NOT include a fragment component.
        if url.fragment().is_some() {
            return Err(Invalid::new(format!(
                "Redirect URI {raw:?} must not contain a fragment (#)."
            )));
        }
        if raw.contains('*') {
            return Err(Invalid::new(format!(
                "Redirect URI {raw:?} must not contain wildcards."
            )));
        }
        match url.scheme() {
            "https" => {}
            "http" if is_loopback(&url) => {}
            "http" => {
                return Err(Invalid::new(format!(
                    "Redirect URI {raw:?} must use https (plain http is allowed only for loopback addresses)."
                )))
            }
            // RFC 8252 §7.1: private-use schemes are reverse domain names.
            scheme if scheme.contains('.') => {}
            _ => {
                return Err(Invalid::new(format!(
                    "Redirect URI {raw:?} must use https, http on loopback, or a reverse-domain app scheme."
                )))
            }
        }
        if url.username() != "" || url.password().is_some() {
            return Err(Invalid::new(format!(
                "Redirect URI {raw:?} must not contain credentials."
            )));
        }
        Ok(Self(raw.to_owned()))
    }

    /// Each of `uris`, or the first refusal.
    pub fn parse_all(uris: &[String]) -> Result<Vec<Self>, Invalid> {
        uris.iter().map(|u| Self::parse(u)).collect()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// RFC 8252 §7.3: a native app's loopback redirect may use any port, so ports are ignored
    /// for loopback IP literals; everything else must match the registration exactly.
    fn matches(&self, requested: &str, allow_loopback_port: bool) -> bool {
        if self.0 == requested {
            return true;
        }
        if !allow_loopback_port {
            return false;
        }
        let (Ok(mut registered), Ok(mut asked)) = (Url::parse(&self.0), Url::parse(requested))
        else {
            return false;
        };
        let loopback_ip = |u: &Url| {
            matches!(u.host(), Some(url::Host::Ipv4(ip)) if ip.is_loopback())
                || matches!(u.host(), Some(url::Host::Ipv6(ip)) if ip.is_loopback())
        };
        if registered.scheme() != "http" || !loopback_ip(&registered) || !loopback_ip(&asked) {
            return false;
        }
        let _ = registered.set_port(None);
        let _ = asked.set_port(None);
        registered == asked && asked.as_str().len() <= 2000
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// What a developer is building; it decides a new client's defaults (RFC 9700 §2.1, RFC 8252,
/// RFC 8628).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppType {
    /// A server-side web application: keeps a secret, signs people in with a code and PKCE.
    Web,
    /// A single-page application in the browser: public, code with PKCE.
    SinglePage,
    /// A native or mobile app: public, code with PKCE, loopback or app-scheme redirects.
    Native,
    /// A service calling APIs as itself (machine to machine): client credentials only.
    Service,
    /// A TV, console or command-line tool without a browser: the device flow.
    Device,
}

impl AppType {
    pub const ALL: [AppType; 5] = [
        Self::Web,
        Self::SinglePage,
        Self::Native,
        Self::Service,
        Self::Device,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Web => "web",
            Self::SinglePage => "spa",
            Self::Native => "native",
            Self::Service => "service",
            Self::Device => "device",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == raw)
    }

    /// Public clients cannot keep a secret.
    pub fn is_public(self) -> bool {
        matches!(self, Self::SinglePage | Self::Native | Self::Device)
    }

    pub fn grants(self) -> Vec<GrantType> {
        match self {
            Self::Web | Self::SinglePage | Self::Native => {
                vec![GrantType::AuthorizationCode, GrantType::RefreshToken]
            }
            Self::Service => vec![GrantType::ClientCredentials],
            Self::Device => vec![GrantType::DeviceCode, GrantType::RefreshToken],
        }
    }

    /// Whether people are sent back to the application, so it needs redirect URIs.
    pub fn redirects(self) -> bool {
        matches!(self, Self::Web | Self::SinglePage | Self::Native)
    }

    /// Redirect URIs as the application type allows them: web and single-page apps are
    /// reached over https (or loopback http while developing); only native apps use app
    /// schemes (RFC 8252 §7.1); services and devices send nobody back.
    pub fn check_redirects(self, uris: &[String]) -> Result<Vec<RedirectUri>, Invalid> {
        let refuse = |message: String| Err(Invalid::new(message).on("redirect_uris"));
        if !self.redirects() {
            if uris.is_empty() {
                return Ok(Vec::new());
            }
            return refuse(
                "This type of application sends nobody back: leave the redirect URIs empty.".into(),
            );
        }
        if uris.is_empty() {
            return refuse("Give at least one redirect URI.".into());
        }
        if uris.len() > 20 {
            return refuse("Give at most 20 redirect URIs.".into());
        }
        let parsed = RedirectUri::parse_all(uris).map_err(|e| e.on("redirect_uris"))?;
        for uri in &parsed {
            let web = uri.as_str().starts_with("https://") || uri.as_str().starts_with("http://");
            if self != AppType::Native && !web {
                let raw = uri.as_str();
                return refuse(format!(
                    "Redirect URI {raw:?} must use https: app schemes are for native apps."
                ));
            }
        }
        Ok(parsed)
    }

    /// What the application type is, as the console explains it.
    pub fn describe(self) -> (&'static str, &'static str) {
        match self {
            Self::Web => ("Web application", "Runs on a server that can keep a secret, such as a Rails, Django, Spring or Next.js back end."),
            Self::SinglePage => ("Single-page application", "Runs in the browser (React, Vue, Angular) and cannot keep a secret: PKCE protects it."),
            Self::Native => ("Native or mobile app", "Installed on a phone or computer; signs people in through the system browser with PKCE."),
            Self::Service => ("Service (machine to machine)", "A back end, job or API client acting as itself, with no person signing in."),
            Self::Device => ("Device or TV", "A TV, console or command-line tool without a browser: people confirm a code on another device."),
        }
    }

    /// The type a registered client looks like, for its page.
    pub fn of(client: &Client) -> Self {
        if client.allows_grant(GrantType::DeviceCode) {
            Self::Device
        } else if !client.allows_grant(GrantType::AuthorizationCode) {
            Self::Service
        } else if client.client_type == ClientType::Confidential {
            Self::Web
        } else if client
            .redirect_uris
            .iter()
            .all(|u| u.as_str().starts_with("https://"))
        {
            Self::SinglePage
        } else {
            Self::Native
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Client {
    pub key: ClientKey,
    pub tenant_id: TenantId,
    pub client_id: String,
    pub name: String,
    pub client_type: ClientType,
    /// SHA-256 (hex) of the generated secret; secrets are 256-bit random, so a fast hash suffices.
    pub secret_hash: Option<String>,
    pub redirect_uris: Vec<RedirectUri>,
    pub grant_types: Vec<GrantType>,
    pub scopes: Vec<String>,
    pub require_pkce: bool,
    pub require_consent: bool,
    pub auth_method: TokenAuthMethod,
    pub access_token_ttl_secs: i64,
    pub id_token_ttl_secs: i64,
    /// Idle lifetime of a refresh token: each rotation starts it again.
    pub refresh_token_ttl_secs: i64,
    /// Absolute lifetime of a refresh-token family, from the grant; rotation never extends it.
    pub refresh_family_ttl_secs: i64,
    /// RFC 8707 resource indicators (absolute URIs) this client may ask tokens for.
    pub resources: Vec<String>,
    /// OIDC Dynamic Client Registration `id_token_signed_response_alg`.
    pub id_token_alg: SigningAlg,
    /// RFC 9126 §6: authorization requests must be pushed first.
    pub require_par: bool,
    /// RFC 9449 §5.2 `dpop_bound_access_tokens`: token requests without a DPoP proof are refused.
    pub require_dpop: bool,
    /// RFC 9449 §8: DPoP proofs must carry a nonce this server issued.
    pub require_dpop_nonce: bool,
    /// RFC 9101 §10.5: authorization requests must come as a request object signed with one of
    /// the client's keys (`request`, or pushed with one).
    pub require_signed_request_object: bool,
    /// RFC 8693 §2.1: the audiences and scopes a token exchange may give this client.
    pub exchange: ExchangePolicy,
    /// OIDC RP-Initiated Logout §2: where the client may ask to go after signing out.
    pub post_logout_redirect_uris: Vec<RedirectUri>,
    /// OIDC Back-Channel Logout §2.2: where logout tokens are posted.
    pub backchannel_logout_uri: Option<String>,
    /// The client's public keys (a JWK Set, JSON) for `private_key_jwt` (RFC 7523).
    pub jwks: Option<String>,
    /// The secret before the last rotation, accepted until `previous_secret_expires_at`.
    pub previous_secret_hash: Option<String>,
    pub previous_secret_expires_at: Option<Timestamp>,
    pub disabled: bool,
    /// Shown on the consent page beside the name: an https image URL.
    pub logo_uri: Option<String>,
    /// The person who registered it in the console; a developer manages only their own.
    pub created_by: Option<UserId>,
    /// RFC 7592 §1.1: SHA-256 (hex) of the registration access token with which the
    /// application manages its own registration; only applications that registered themselves
    /// (RFC 7591) have one.
    pub registration_token_hash: Option<String>,
    pub created_at: Timestamp,
}

impl Client {
    pub const DEFAULT_SCOPES: [&'static str; 3] = ["openid", "profile", "email"];
    /// The scopes of OpenID Connect; clients may also have scopes of their own APIs.
    pub const KNOWN_SCOPES: [&'static str; 4] = ["openid", "profile", "email", "offline_access"];

    /// RFC 6749 §3.3: a scope token is printable ASCII without space, `"` or `\`.
    pub fn validate_scope(raw: &str) -> Result<(), Invalid> {
        let ok = (1..=64).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b));
        if ok {
            Ok(())
        } else {
            Err(Invalid::new(format!(
                "Scope {raw:?} is not a valid scope: 1 to 64 printable characters without spaces, quotes or backslashes."
            )))
        }
    }

    pub fn validate_client_id(raw: &str) -> Result<(), Invalid> {
        let ok = (1..=128).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
        if ok {
            Ok(())
        } else {
            Err(Invalid::new(
                "A client id is 1 to 128 letters, digits or the characters - . _ ~",
            ))
        }
    }

    /// RFC 8707 §2: a resource indicator is an absolute URI without a fragment (and, as every
    /// URI, without spaces: RFC 3986 §2).
    pub fn validate_resource(raw: &str) -> Result<(), Invalid> {
        match Url::parse(raw) {
            Ok(url)
                if url.fragment().is_none()
                    && raw.len() <= 2000
                    && !raw.contains(|c: char| c.is_whitespace() || c.is_control()) =>
            {
                Ok(())
            }
            _ => Err(Invalid::new(format!(
                "Resource {raw:?} must be an absolute URI without a fragment."
            ))),
        }
    }

    /// The application's name, shown on the consent page.
    pub fn check_name(raw: &str) -> Result<String, Invalid> {
        match one_line(raw, 100) {
            Some(name) if !name.is_empty() => Ok(name.to_owned()),
            _ => Err(Invalid::new("A name is 1 to 100 characters on one line.").on("name")),
        }
    }

    /// The logo the consent page shows: an https address (never a `data:` or `javascript:`
    /// URL), or nothing.
    pub fn check_logo_uri(raw: &str) -> Result<Option<String>, Invalid> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Ok(None);
        }
        match Url::parse(raw) {
            Ok(url) if url.scheme() == "https" && raw.len() <= 2000 => Ok(Some(raw.to_owned())),
            _ => Err(Invalid::new(
                "The logo is an https:// address of an image, at most 2000 characters.",
            )
            .on("logo_uri")),
        }
    }

    /// The scopes a client may ask for, separated by spaces.
    pub fn check_scopes(raw: &str) -> Result<Vec<String>, Invalid> {
        let scopes: Vec<String> = raw.split_whitespace().map(str::to_owned).collect();
        if scopes.is_empty() || scopes.len() > 50 {
            return Err(Invalid::new("Allow 1 to 50 scopes.").on("scopes"));
        }
        for scope in &scopes {
            Self::validate_scope(scope).map_err(|e| e.on("scopes"))?;
        }
        Ok(scopes)
    }

    pub fn check_access_ttl(secs: i64) -> Result<(), Invalid> {
        let what = "An access token's lifetime";
        lifetime_within(secs, 60..=86_400, what, "access_token_ttl_secs")
    }

    /// How long an unused refresh token lives.
    pub fn check_refresh_ttl(secs: i64) -> Result<(), Invalid> {
        let what = "An unused refresh token's lifetime";
        lifetime_within(secs, 300..=365 * 86_400, what, "refresh_token_ttl_secs")
    }

    /// How long an old secret keeps working after a rotation.
    pub fn check_grace(secs: i64) -> Result<(), Invalid> {
        let what = "The old secret's grace period";
        lifetime_within(secs, 0..=30 * 86_400, what, "grace")
    }

    /// The registered redirect URI that `requested` matches, if any.
    pub fn redirect_uri(&self, requested: &str) -> Option<&RedirectUri> {
        let native = self.client_type == ClientType::Public;
        self.redirect_uris
            .iter()
            .find(|r| r.matches(requested, native))
    }

    pub fn allows_grant(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }

    /// PKCE is mandatory for public clients (RFC 9700 §2.1.1) and on by default for all.
    pub fn pkce_required(&self) -> bool {
        self.require_pkce || self.client_type == ClientType::Public
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn application_fields_name_what_they_refuse() {
        let lines = |raw: &str| uri_lines(raw);
        assert!(AppType::Web
            .check_redirects(&lines(
                "https://app.example/cb\n\n http://127.0.0.1:8080/cb "
            ))
            .is_ok());
        for (app, raw) in [
            (AppType::Web, ""),
            (AppType::Web, "com.example.app:/cb"),
            (AppType::SinglePage, "https://app.example/cb#frag"),
            (AppType::Service, "https://app.example/cb"),
        ] {
            let refused = app.check_redirects(&lines(raw)).unwrap_err();
            assert_eq!(refused.field(), Some("redirect_uris"), "{app:?} {raw:?}");
        }
        assert!(AppType::Native
            .check_redirects(&lines("com.example.app:/cb"))
            .is_ok());
        assert_eq!(
            Client::check_scopes("openid  email").unwrap(),
            ["openid", "email"]
        );
        assert_eq!(
            Client::check_scopes("").unwrap_err().field(),
            Some("scopes")
        );
        assert_eq!(Client::check_logo_uri(" ").unwrap(), None);
        for bad in [
            "http://x.example/l.png",
            "javascript:alert(1)",
            "data:image/png;base64,AA",
        ] {
            assert_eq!(
                Client::check_logo_uri(bad).unwrap_err().field(),
                Some("logo_uri")
            );
        }
        assert_eq!(
            Client::check_access_ttl(59).unwrap_err().message(),
            "An access token's lifetime is 1 minute to 1 day."
        );
        assert!(Client::check_refresh_ttl(300).is_ok());
        assert!(Client::check_name(" \u{7}bell ").is_err());
    }

    #[test]
    fn token_exchange_grant_and_policy() {
        let urn = "urn:ietf:params:oauth:grant-type:token-exchange";
        assert_eq!(GrantType::parse(urn), Some(GrantType::TokenExchange));
        assert_eq!(GrantType::TokenExchange.as_str(), urn);
        assert_eq!(
            serde_json::to_string(&GrantType::TokenExchange).unwrap(),
            format!("{urn:?}")
        );
        assert!(AppType::ALL
            .iter()
            .all(|t| !t.grants().contains(&GrantType::TokenExchange)));
        let policy = ExchangePolicy::from_form(" https://api.example/\n\nurn:x:y ", "a  b");
        assert_eq!(policy.audiences, ["https://api.example/", "urn:x:y"]);
        assert_eq!(policy.scopes, ["a", "b"]);
        assert!(policy.check().is_ok());
        let bad = ExchangePolicy::from_form("relative/path", "");
        assert_eq!(bad.check().unwrap_err().field(), Some("exchange_audiences"));
        let many = ExchangePolicy::from_form("", &"s ".repeat(51));
        assert_eq!(many.check().unwrap_err().field(), Some("exchange_scopes"));
    }

    #[test]
    fn redirect_uri_registration_rules() {
        assert!(RedirectUri::parse("https://app.example.com/cb").is_ok());
        assert!(RedirectUri::parse("http://127.0.0.1:8080/cb").is_ok());
        assert!(RedirectUri::parse("http://localhost/cb").is_ok());
        assert!(RedirectUri::parse("com.example.app:/cb").is_ok());
        for bad in [
            "http://app.example.com/cb",
            "https://app.example.com/cb#frag",
            "https://*.example.com/cb",
            "/relative",
            "javascript:alert(1)",
            "https://user:pw@app.example.com/cb",
        ] {
            assert!(RedirectUri::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn loopback_port_is_free_for_public_clients_only() {
        let uri = RedirectUri::parse("http://127.0.0.1:8080/cb").unwrap();
        assert!(uri.matches("http://127.0.0.1:8080/cb", false));
        assert!(!uri.matches("http://127.0.0.1:9999/cb", false));
        assert!(uri.matches("http://127.0.0.1:9999/cb", true));
        assert!(!uri.matches("http://127.0.0.1:9999/other", true));
        assert!(!uri.matches("http://127.0.0.1:8080/cb?x=1", false));
    }
}
