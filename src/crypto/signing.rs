//! Generating signing keys for each algorithm, and turning stored keys back into keys that sign
//! and verify.

use crate::domain::SigningAlg;
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use jsonwebtoken::{jwk::Jwk, DecodingKey};
use ring::rand::SystemRandom;
use serde_json::{json, Value};

/// A fresh key pair: the private half as DER (PKCS#8, or PKCS#1 for RSA), the public half as a
/// JWK whose `kid` is its RFC 7638 thumbprint.
pub struct NewKeyPair {
    pub kid: String,
    pub public_jwk: Value,
    pub private_der: Vec<u8>,
}

pub fn generate(alg: SigningAlg) -> NewKeyPair {
    use rand::rngs::OsRng;
    let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
    // RFC 7638 §3.2: the required members, in lexicographic order, without whitespace.
    let (thumbprint_input, mut jwk, private_der) = match alg {
        SigningAlg::ES256 => {
            use p256::{elliptic_curve::sec1::ToEncodedPoint, pkcs8::EncodePrivateKey};
            let secret = p256::SecretKey::random(&mut OsRng);
            let point = secret.public_key().to_encoded_point(false);
            let x = b64(point.x().expect("uncompressed point has x"));
            let y = b64(point.y().expect("uncompressed point has y"));
            let der = secret
                .to_pkcs8_der()
                .expect("a P-256 key encodes as PKCS#8");
            (
                format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#),
                json!({ "kty": "EC", "crv": "P-256", "x": x, "y": y }),
                der.as_bytes().to_vec(),
            )
        }
        SigningAlg::EdDSA => {
            use ed25519_dalek::pkcs8::EncodePrivateKey;
            let secret = ed25519_dalek::SigningKey::generate(&mut OsRng);
            let x = b64(secret.verifying_key().as_bytes());
            let der = secret
                .to_pkcs8_der()
                .expect("an Ed25519 key encodes as PKCS#8");
            (
                format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#),
                json!({ "kty": "OKP", "crv": "Ed25519", "x": x }),
                der.as_bytes().to_vec(),
            )
        }
        SigningAlg::RS256 => {
            use rsa::{pkcs1::EncodeRsaPrivateKey, traits::PublicKeyParts};
            let secret = rsa::RsaPrivateKey::new(&mut OsRng, 2048).expect("RSA key generation");
            let n = b64(&secret.n().to_bytes_be());
            let e = b64(&secret.e().to_bytes_be());
            let der = secret.to_pkcs1_der().expect("an RSA key encodes as PKCS#1");
            (
                format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#),
                json!({ "kty": "RSA", "n": n, "e": e }),
                der.as_bytes().to_vec(),
            )
        }
    };
    let kid = super::sha256_b64url(thumbprint_input.as_bytes());
    jwk["kid"] = json!(kid);
    jwk["use"] = json!("sig");
    jwk["alg"] = json!(alg.as_str());
    NewKeyPair {
        kid,
        public_jwk: jwk,
        private_der,
    }
}

/// A tenant's private key, parsed once when the keys are loaded and kept for every signature.
/// `ring` signs: a constant-time, assembly-backed implementation (BoringSSL's), several times
/// faster than the pure-Rust curves, and already in the dependency tree through rustls.
pub enum Signer {
    Es256(ring::signature::EcdsaKeyPair),
    EdDsa(ring::signature::Ed25519KeyPair),
    Rs256(ring::signature::RsaKeyPair),
}

impl Signer {
    /// The key of `alg` from the DER that [`generate`] made (PKCS#8, or PKCS#1 for RSA).
    pub fn from_der(alg: SigningAlg, der: &[u8]) -> Result<Self, String> {
        use ring::signature::{
            EcdsaKeyPair, Ed25519KeyPair, RsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING,
        };
        let unusable = |e: ring::error::KeyRejected| format!("unusable {} key: {e}", alg.as_str());
        Ok(match alg {
            SigningAlg::ES256 => Self::Es256(
                EcdsaKeyPair::from_pkcs8(
                    &ECDSA_P256_SHA256_FIXED_SIGNING,
                    der,
                    &SystemRandom::new(),
                )
                .map_err(unusable)?,
            ),
            // Our PKCS#8 documents are version 1 (no public key), which the unchecked reader takes.
            SigningAlg::EdDSA => {
                Self::EdDsa(Ed25519KeyPair::from_pkcs8_maybe_unchecked(der).map_err(unusable)?)
            }
            SigningAlg::RS256 => Self::Rs256(RsaKeyPair::from_der(der).map_err(unusable)?),
        })
    }

    /// The JWS signature of `message` (RFC 7518 §3.3, §3.4; RFC 8037 §3.1).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, String> {
        let rng = SystemRandom::new();
        match self {
            Self::Es256(key) => key
                .sign(&rng, message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| "ES256 signing failed".into()),
            Self::EdDsa(key) => Ok(key.sign(message).as_ref().to_vec()),
            Self::Rs256(key) => {
                let mut signature = vec![0; key.public().modulus_len()];
                key.sign(
                    &ring::signature::RSA_PKCS1_SHA256,
                    &rng,
                    message,
                    &mut signature,
                )
                .map_err(|_| "RS256 signing failed".to_string())?;
                Ok(signature)
            }
        }
    }
}

/// One of our published keys, as the JWKS shows it, ready to check signatures.
pub struct Verifier {
    key: VerifyingKey,
}

enum VerifyingKey {
    /// The uncompressed point (0x04 ‖ x ‖ y).
    P256(Vec<u8>),
    Ed25519(Vec<u8>),
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
    },
}

impl Verifier {
    /// The verifier of our public JWK of `alg`.
    pub fn from_jwk(alg: SigningAlg, jwk: &Value) -> Result<Self, String> {
        let member = |name: &str| -> Result<Vec<u8>, String> {
            jwk[name]
                .as_str()
                .and_then(|v| URL_SAFE_NO_PAD.decode(v).ok())
                .ok_or_else(|| format!("the JWK has no usable {name:?}"))
        };
        let key = match alg {
            SigningAlg::ES256 => {
                let mut point = vec![0x04];
                point.extend(member("x")?);
                point.extend(member("y")?);
                VerifyingKey::P256(point)
            }
            SigningAlg::EdDSA => VerifyingKey::Ed25519(member("x")?),
            SigningAlg::RS256 => VerifyingKey::Rsa {
                n: member("n")?,
                e: member("e")?,
            },
        };
        Ok(Self { key })
    }

    /// Whether `signature` is this key's over `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        use ring::signature::{
            RsaPublicKeyComponents, UnparsedPublicKey, ECDSA_P256_SHA256_FIXED, ED25519,
            RSA_PKCS1_2048_8192_SHA256,
        };
        match &self.key {
            VerifyingKey::P256(point) => UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
                .verify(message, signature)
                .is_ok(),
            VerifyingKey::Ed25519(x) => UnparsedPublicKey::new(&ED25519, x)
                .verify(message, signature)
                .is_ok(),
            VerifyingKey::Rsa { n, e } => RsaPublicKeyComponents { n, e }
                .verify(&RSA_PKCS1_2048_8192_SHA256, message, signature)
                .is_ok(),
        }
    }
}

/// The verifying key of a client's public JWK for `private_key_jwt`, whose algorithms (ES384,
/// PS256…) are wider than the ones we sign with.
pub fn decoding_key(jwk: &Value) -> Result<DecodingKey, String> {
    let jwk: Jwk = serde_json::from_value(jwk.clone()).map_err(|e| format!("not a JWK: {e}"))?;
    DecodingKey::from_jwk(&jwk).map_err(|e| format!("unusable JWK: {e}"))
}

/// A client's JWK Set of public keys we can verify with, as compact JSON, or why not: 1 to 20
/// keys, each usable by [`decoding_key`]. A private key in it is refused, since a client that
/// sends one has leaked it.
pub fn public_key_set(raw: &str) -> Result<String, String> {
    let set: Value = serde_json::from_str(raw).map_err(|_| "not JSON".to_owned())?;
    let keys = set["keys"]
        .as_array()
        .filter(|k| !k.is_empty() && k.len() <= 20)
        .ok_or("it needs 1 to 20 keys in \"keys\"")?;
    for key in keys {
        if ["d", "p", "q", "dp", "dq", "qi", "k"]
            .iter()
            .any(|private| key.get(private).is_some())
        {
            return Err("it holds a private or symmetric key; register public keys only".into());
        }
        decoding_key(key)?;
    }
    Ok(set.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_algorithm_signs_what_its_published_key_verifies() {
        for alg in SigningAlg::ALL {
            let pair = generate(alg);
            assert_eq!(pair.public_jwk["kid"], pair.kid.as_str());
            let signer = Signer::from_der(alg, &pair.private_der).unwrap();
            let verifier = Verifier::from_jwk(alg, &pair.public_jwk).unwrap();
            let signature = signer.sign(b"header.payload").unwrap();
            assert!(verifier.verify(b"header.payload", &signature), "{alg:?}");
            assert!(!verifier.verify(b"header.payloaD", &signature), "{alg:?}");
            let other = generate(alg);
            assert_ne!(other.kid, pair.kid, "{alg:?}: keys are unique");
            let stranger = Verifier::from_jwk(alg, &other.public_jwk).unwrap();
            assert!(!stranger.verify(b"header.payload", &signature), "{alg:?}");
        }
    }

    #[test]
    fn an_independent_implementation_accepts_our_signatures() {
        for alg in SigningAlg::ALL {
            let pair = generate(alg);
            let signer = Signer::from_der(alg, &pair.private_der).unwrap();
            let header = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"{}"}}"#, alg.as_str()));
            let claims = URL_SAFE_NO_PAD.encode(r#"{"sub":"x","exp":4000000000}"#);
            let input = format!("{header}.{claims}");
            let token = format!(
                "{input}.{}",
                URL_SAFE_NO_PAD.encode(signer.sign(input.as_bytes()).unwrap())
            );
            let algorithm = match alg {
                SigningAlg::ES256 => jsonwebtoken::Algorithm::ES256,
                SigningAlg::EdDSA => jsonwebtoken::Algorithm::EdDSA,
                SigningAlg::RS256 => jsonwebtoken::Algorithm::RS256,
            };
            let mut validation = jsonwebtoken::Validation::new(algorithm);
            validation.validate_aud = false;
            let key = decoding_key(&pair.public_jwk).unwrap();
            jsonwebtoken::decode::<Value>(&token, &key, &validation)
                .unwrap_or_else(|e| panic!("{alg:?}: {e}"));
        }
    }

    #[test]
    fn the_kid_is_the_rfc7638_thumbprint() {
        // RFC 7638 §3.1 example: an RSA key and its thumbprint.
        let input = r#"{"e":"AQAB","kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"}"#;
        assert_eq!(
            crate::crypto::sha256_b64url(input.as_bytes()),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }
}
