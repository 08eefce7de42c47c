//! Generating signing keys for each algorithm, and turning stored keys back into the keys
//! `jsonwebtoken` signs and verifies with.

use crate::domain::SigningAlg;
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use jsonwebtoken::{jwk::Jwk, Algorithm, DecodingKey, EncodingKey};
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

pub fn algorithm(alg: SigningAlg) -> Algorithm {
    match alg {
        SigningAlg::ES256 => Algorithm::ES256,
        SigningAlg::EdDSA => Algorithm::EdDSA,
        SigningAlg::RS256 => Algorithm::RS256,
    }
}

pub fn encoding_key(alg: SigningAlg, private_der: &[u8]) -> EncodingKey {
    match alg {
        SigningAlg::ES256 => EncodingKey::from_ec_der(private_der),
        SigningAlg::EdDSA => EncodingKey::from_ed_der(private_der),
        SigningAlg::RS256 => EncodingKey::from_rsa_der(private_der),
    }
}

/// The verifying key of a public JWK (ours, or a client's for `private_key_jwt`).
pub fn decoding_key(jwk: &Value) -> Result<DecodingKey, String> {
    let jwk: Jwk = serde_json::from_value(jwk.clone()).map_err(|e| format!("not a JWK: {e}"))?;
    DecodingKey::from_jwk(&jwk).map_err(|e| format!("unusable JWK: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_algorithm_signs_what_its_published_key_verifies() {
        for alg in SigningAlg::ALL {
            let pair = generate(alg);
            assert_eq!(pair.public_jwk["kid"], pair.kid.as_str());
            let mut header = jsonwebtoken::Header::new(algorithm(alg));
            header.kid = Some(pair.kid.clone());
            let claims = json!({ "sub": "x", "exp": 4_000_000_000_i64 });
            let token =
                jsonwebtoken::encode(&header, &claims, &encoding_key(alg, &pair.private_der))
                    .unwrap();
            let key = decoding_key(&pair.public_jwk).unwrap();
            let mut validation = jsonwebtoken::Validation::new(algorithm(alg));
            validation.validate_aud = false;
            jsonwebtoken::decode::<Value>(&token, &key, &validation)
                .unwrap_or_else(|e| panic!("{alg:?}: {e}"));
            assert_ne!(generate(alg).kid, pair.kid, "{alg:?}: keys are unique");
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
