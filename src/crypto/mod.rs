//! Random tokens, hashing of stored secrets, and encryption at rest.

mod cipher;
pub mod signing;
pub mod webhook;

pub use cipher::{EncryptionKey, KeyError};

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A unique id for a stored record that is not a secret (a `jti`, a refresh-token family):
/// a UUIDv7 (RFC 9562 §5.7), 74 random bits after the time, as 32 hex digits, so its text sorts
/// by creation time. New rows then go to the end of their index instead of a random page of
/// it: with random `jti`s, a SQLite commit of 25 tokens wrote 55 pages to the write-ahead log,
/// 27 of them for the `jti` index alone; with ordered ones that index adds one or two.
pub fn ordered_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

/// A new refresh token, an ordered id (32 hex digits) then 256 random bits, and the key it is
/// stored under ([`refresh_token_key`]). The id leads the key, so new tokens go to the end of
/// the key's index as `jti`s do ([`ordered_id`]), and the rotation that spends a token finds it
/// among the index's last pages: with keys of hash alone, every token written or spent changed
/// a random page of that index. The id tells its holder only when the token was issued. No dot
/// in it: a dot is how the revocation and introspection endpoints tell a JWT.
pub fn new_refresh_token() -> (String, String) {
    let token = format!("{}{}", ordered_id(), random_token(32));
    let key = refresh_token_key(&token);
    (token, key)
}

/// The length of a refresh token of [`new_refresh_token`]: an id, then 32 bytes in base64url.
const REFRESH_TOKEN_LEN: usize = 32 + 43;

/// The key a presented refresh token is stored under: its id, a dot, then the SHA-256 of the
/// whole token (the token itself is never stored). Tokens issued before tokens had ids are
/// keyed by their hash alone.
pub fn refresh_token_key(token: &str) -> String {
    match token.split_at_checked(32) {
        Some((id, _))
            if token.len() == REFRESH_TOKEN_LEN && id.bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            format!("{id}.{}", sha256_hex(token))
        }
        _ => sha256_hex(token),
    }
}

/// A URL-safe random token with `bytes` bytes of entropy (32 bytes = 256 bits).
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// Hex SHA-256: how session tokens, codes, client secrets and binding values are stored.
pub fn sha256_hex(value: &str) -> String {
    hex_encode(&Sha256::digest(value.as_bytes()))
}

/// Base64url SHA-256, as PKCE S256 (RFC 7636 §4.2) and `at_hash` use it.
pub fn sha256_b64url(value: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(value))
}

pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_unique_and_url_safe() {
        let a = random_token(32);
        assert_eq!(a.len(), 43);
        assert!(a
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_ne!(a, random_token(32));
    }

    #[test]
    fn refresh_token_keys_sort_by_issue_and_hide_the_token() {
        let (first, first_key) = new_refresh_token();
        let (second, second_key) = new_refresh_token();
        assert!(first_key < second_key, "a later token sorts later");
        assert_eq!(refresh_token_key(&first), first_key);
        assert!(!first.contains('.'), "no dot: not taken for a JWT");
        assert!(!first_key.contains(&first[32..]));
        assert_eq!(first_key.len(), 32 + 1 + 64);
        // Same id, other secret: another key.
        let forged = format!("{}{}", &second[..32], random_token(32));
        assert_ne!(refresh_token_key(&forged), second_key);
        // Tokens without an id (issued before ids) keep their plain hash.
        let old = random_token(32);
        assert_eq!(refresh_token_key(&old), sha256_hex(&old));
        let odd = "é".repeat(40);
        assert_eq!(refresh_token_key(&odd), sha256_hex(&odd));
    }

    #[test]
    fn pkce_s256_matches_rfc7636_appendix_b() {
        assert_eq!(
            sha256_b64url(b"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }
}
