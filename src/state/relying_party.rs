//! The server's WebAuthn relying party, configured once at start-up (`AppState::passkeys`);
//! the ceremonies that use it are in `passkeys.rs`.

use crate::config::{Config, ConfigError};
use webauthn_rs::prelude::{Webauthn, WebauthnBuilder};

/// The configured WebAuthn relying party; `None` when the server is reached by an IP address,
/// which WebAuthn does not accept as a relying party id (WebAuthn §5.1.3: it must be a domain).
pub struct RelyingParty {
    webauthn: Option<Webauthn>,
}

impl RelyingParty {
    pub fn new(config: &Config) -> Result<Self, ConfigError> {
        if config.webauthn_origin.domain().is_none() {
            return Ok(Self { webauthn: None });
        }
        let webauthn = WebauthnBuilder::new(&config.webauthn_rp_id, &config.webauthn_origin)
            .and_then(|b| b.rp_name("Tessera").build())
            .map_err(|e| ConfigError {
                var: "WEBAUTHN_RP_ID",
                message: format!("cannot be used with WEBAUTHN_ORIGIN: {e}"),
            })?;
        Ok(Self {
            webauthn: Some(webauthn),
        })
    }

    /// Whether passkeys can be used at all on this server.
    pub fn available(&self) -> bool {
        self.webauthn.is_some()
    }

    pub fn webauthn(&self) -> Option<&Webauthn> {
        self.webauthn.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn relying_party(public_url: Option<&str>) -> RelyingParty {
        let config = Config::from_lookup(|k| match k {
            "TESSERA_PUBLIC_URL" => public_url.map(str::to_owned),
            _ => None,
        })
        .unwrap();
        RelyingParty::new(&config).unwrap()
    }

    #[test]
    fn a_first_run_on_the_defaults_offers_passkeys() {
        assert!(relying_party(None).available());
    }

    #[test]
    fn a_server_reached_by_an_ip_address_offers_none() {
        assert!(!relying_party(Some("http://127.0.0.1:3000")).available());
    }
}
