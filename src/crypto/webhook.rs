//! Standard Webhooks signatures (<https://www.standardwebhooks.com/>, "Signature scheme"):
//! HMAC-SHA256 over `{webhook-id}.{webhook-timestamp}.{body}` with the endpoint's secret,
//! sent as `v1,{base64}`; the secret is shown as `whsec_{base64}`.

use base64::{engine::general_purpose::STANDARD, Engine};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

const SECRET_PREFIX: &str = "whsec_";
/// The scheme accepts secrets of 24 to 64 bytes.
const SECRET_BYTES: usize = 32;

/// A new signing secret: its bytes, and the `whsec_…` text shown to the endpoint's owner.
pub fn new_secret() -> (Vec<u8>, String) {
    let mut secret = vec![0; SECRET_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let shown = format!("{SECRET_PREFIX}{}", STANDARD.encode(&secret));
    (secret, shown)
}

/// The `webhook-signature` header of a message.
pub fn signature(secret: &[u8], id: &str, timestamp: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body.as_bytes());
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_as_the_specifications_example() {
        // The example of the Standard Webhooks specification.
        let secret = STANDARD.decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            signature(&secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn secrets_are_shown_with_their_prefix() {
        let (bytes, shown) = new_secret();
        assert_eq!(
            STANDARD.decode(&shown[SECRET_PREFIX.len()..]).unwrap(),
            bytes
        );
        assert_ne!(new_secret().0, bytes);
    }
}
