//! Time-based one-time passwords (RFC 6238) with the defaults every authenticator app
//! understands: HMAC-SHA-1, 6 digits, 30-second steps.

use crate::crypto::{constant_time_eq, EncryptionKey, KeyError};
use base64::{engine::general_purpose::STANDARD, Engine};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use totp_rs::{Algorithm, TOTP};

const STEP_SECS: u64 = 30;
const DIGITS: usize = 6;
/// RFC 6238 §5.2: accept one step either side for clock drift and typing time.
const SKEW_STEPS: u64 = 1;
/// RFC 4226 §4 asks for at least 128 bits; 160 bits matches the HMAC-SHA-1 block.
const SECRET_BYTES: usize = 20;
/// The AES-GCM context that binds a sealed secret to this use.
const SEAL_CONTEXT: &str = "totp-secret";

/// What a TOTP factor stores: the sealed secret and the last step used.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TotpState {
    /// Base64 of the AES-256-GCM sealed secret; the sealed value carries the key id.
    pub sealed_secret: String,
    /// The id of the key that sealed it, for key rotation.
    pub key_id: String,
    /// The newest time step a code was accepted for; a code of this step or older is refused,
    /// so an observed code cannot be replayed (RFC 6238 §5.2).
    pub last_step: u64,
}

impl TotpState {
    pub fn seal(secret: &[u8], key: &EncryptionKey) -> Self {
        Self {
            sealed_secret: STANDARD.encode(key.seal(secret, SEAL_CONTEXT)),
            key_id: key.key_id(),
            last_step: 0,
        }
    }

    pub fn secret(&self, key: &EncryptionKey) -> Result<Vec<u8>, KeyError> {
        let sealed = STANDARD
            .decode(&self.sealed_secret)
            .map_err(|_| KeyError::Damaged)?;
        key.open(&sealed, SEAL_CONTEXT)
    }
}

pub fn new_secret() -> Vec<u8> {
    let mut secret = vec![0u8; SECRET_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    secret
}

fn generator(secret: &[u8], issuer: &str, account: &str) -> TOTP {
    // The otpauth URI uses ':' as the separator between issuer and account.
    let clean = |s: &str| s.replace(':', " ");
    TOTP::new(
        Algorithm::SHA1,
        DIGITS,
        SKEW_STEPS as u8,
        STEP_SECS,
        secret.to_vec(),
        Some(clean(issuer)),
        clean(account),
    )
    .expect("a 160-bit secret and a cleaned label are valid")
}

/// What an authenticator app needs: the `otpauth://` URI (for the QR code) and the secret in
/// base32 (for typing in).
pub fn provisioning(secret: &[u8], issuer: &str, account: &str) -> (String, String) {
    let totp = generator(secret, issuer, account);
    (totp.get_url(), totp.get_secret_base32())
}

/// The step whose code `code` is, within the allowed drift of `now_unix`; `None` when it
/// matches none of them.
pub fn matching_step(secret: &[u8], code: &str, now_unix: u64) -> Option<u64> {
    let code = code.trim().replace(' ', "");
    if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let totp = generator(secret, "x", "x");
    let current = now_unix / STEP_SECS;
    (current.saturating_sub(SKEW_STEPS)..=current + SKEW_STEPS)
        .find(|step| constant_time_eq(&totp.generate(step * STEP_SECS), &code))
}

/// The QR code of `uri` as an SVG `data:` URL, rendered here so no third party sees the secret.
pub fn qr_data_url(uri: &str) -> String {
    let svg = qrcode::QrCode::new(uri.as_bytes())
        .expect("an otpauth URI fits in a QR code")
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build();
    format!("data:image/svg+xml;base64,{}", STANDARD.encode(svg))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, SHA-1 seed, truncated to 6 digits.
    const RFC_SEED: &[u8] = b"12345678901234567890";

    #[test]
    fn rfc6238_vectors_match_within_drift_only() {
        assert_eq!(matching_step(RFC_SEED, "287082", 59), Some(1));
        assert_eq!(
            matching_step(RFC_SEED, "081804", 1111111109),
            Some(37037036)
        );
        // One step either side is accepted, two are not.
        assert_eq!(
            matching_step(RFC_SEED, "081804", 1111111109 + 30),
            Some(37037036)
        );
        assert_eq!(matching_step(RFC_SEED, "081804", 1111111109 + 60), None);
        assert_eq!(matching_step(RFC_SEED, "08180", 1111111109), None);
        assert_eq!(matching_step(RFC_SEED, "abcdef", 1111111109), None);
    }

    #[test]
    fn secrets_are_sealed_and_provisioned() {
        let (key, _) = EncryptionKey::generate();
        let secret = new_secret();
        let state = TotpState::seal(&secret, &key);
        assert!(!state.sealed_secret.contains(&STANDARD.encode(&secret)));
        assert_eq!(state.secret(&key).unwrap(), secret);
        let (uri, base32) = provisioning(&secret, "Acme: Corp", "ada@example.com");
        assert!(uri.starts_with("otpauth://totp/"));
        assert!(uri.contains(&base32));
        assert!(qr_data_url(&uri).starts_with("data:image/svg+xml;base64,"));
    }
}
