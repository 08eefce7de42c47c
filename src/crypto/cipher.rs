use aes_gcm::{
    aead::{Aead, AeadCore, KeyInit, OsRng},
    Aes256Gcm, Key, Nonce,
};
use base64::{engine::general_purpose::STANDARD, Engine};
use sha2::{Digest, Sha256};
use std::fmt;

/// The AES-256-GCM key that seals secrets at rest (signing keys now; TOTP and webhook
/// secrets later). Sealed values carry the key id so a future key rotation can find the old key.
#[derive(Clone)]
pub struct EncryptionKey {
    cipher: Aes256Gcm,
    id: [u8; 4],
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("must be 32 bytes written as 64 hex characters or standard base64")]
    Malformed,
    #[error("the value was sealed with another encryption key (key id {0})")]
    WrongKey(String),
    #[error("the sealed value is damaged or was tampered with")]
    Damaged,
}

impl fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EncryptionKey({})", self.key_id())
    }
}

impl EncryptionKey {
    const FORMAT: u8 = 1;

    pub fn generate() -> (Self, String) {
        let key = Aes256Gcm::generate_key(OsRng);
        let text = STANDARD.encode(key);
        (Self::from_bytes(&key), text)
    }

    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let text = text.trim();
        let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            (0..64)
                .step_by(2)
                .map(|i| u8::from_str_radix(&text[i..i + 2], 16))
                .collect::<Result<Vec<u8>, _>>()
                .map_err(|_| KeyError::Malformed)?
        } else {
            STANDARD.decode(text).map_err(|_| KeyError::Malformed)?
        };
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| KeyError::Malformed)?;
        Ok(Self::from_bytes(&Key::<Aes256Gcm>::from(bytes)))
    }

    fn from_bytes(key: &Key<Aes256Gcm>) -> Self {
        let digest = Sha256::digest(key);
        Self {
            cipher: Aes256Gcm::new(key),
            id: [digest[0], digest[1], digest[2], digest[3]],
        }
    }

    pub fn key_id(&self) -> String {
        self.id.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// `format (1) | key id (4) | nonce (12) | ciphertext+tag`; `context` is bound as associated data
    /// so a sealed value cannot be moved to another row.
    pub fn seal(&self, plaintext: &[u8], context: &str) -> Vec<u8> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let sealed = self
            .cipher
            .encrypt(
                &nonce,
                aes_gcm::aead::Payload {
                    msg: plaintext,
                    aad: context.as_bytes(),
                },
            )
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        let mut out = Vec::with_capacity(1 + 4 + 12 + sealed.len());
        out.push(Self::FORMAT);
        out.extend_from_slice(&self.id);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    pub fn open(&self, sealed: &[u8], context: &str) -> Result<Vec<u8>, KeyError> {
        if sealed.len() < 1 + 4 + 12 + 16 || sealed[0] != Self::FORMAT {
            return Err(KeyError::Damaged);
        }
        if sealed[1..5] != self.id {
            let id: String = sealed[1..5].iter().map(|b| format!("{b:02x}")).collect();
            return Err(KeyError::WrongKey(id));
        }
        let nonce: [u8; 12] = sealed[5..17].try_into().map_err(|_| KeyError::Damaged)?;
        self.cipher
            .decrypt(
                &Nonce::from(nonce),
                aes_gcm::aead::Payload {
                    msg: &sealed[17..],
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| KeyError::Damaged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_and_open_round_trip_and_detect_tampering() {
        let (key, text) = EncryptionKey::generate();
        let sealed = key.seal(b"secret", "row-1");
        assert_eq!(key.open(&sealed, "row-1").unwrap(), b"secret");
        assert!(matches!(key.open(&sealed, "row-2"), Err(KeyError::Damaged)));
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(matches!(
            key.open(&tampered, "row-1"),
            Err(KeyError::Damaged)
        ));
        let again = EncryptionKey::parse(&text).unwrap();
        assert_eq!(again.open(&sealed, "row-1").unwrap(), b"secret");
        let (other, _) = EncryptionKey::generate();
        assert!(matches!(
            other.open(&sealed, "row-1"),
            Err(KeyError::WrongKey(_))
        ));
    }

    #[test]
    fn parses_hex_and_rejects_short_keys() {
        assert!(EncryptionKey::parse(&"ab".repeat(32)).is_ok());
        assert!(matches!(
            EncryptionKey::parse("c2hvcnQ="),
            Err(KeyError::Malformed)
        ));
    }
}
