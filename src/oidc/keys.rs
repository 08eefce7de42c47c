//! Per-tenant signing keys: created on first use, private halves sealed at rest, decrypted
//! once and cached in memory.

use crate::crypto::{sha256_b64url, EncryptionKey};
use crate::domain::{SigningKey, TenantId, Timestamp};
use crate::error::{AppError, AppResult};
use crate::store::{Store, StoreError};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use p256::{elliptic_curve::sec1::ToEncodedPoint, pkcs8::EncodePrivateKey};
use serde_json::{json, Value};
use std::{collections::HashMap, sync::Arc};
use tokio::sync::RwLock;

pub struct TenantKeys {
    pub kid: String,
    pub alg: Algorithm,
    pub encoding: EncodingKey,
    verifying: HashMap<String, DecodingKey>,
    /// The public JWK Set (RFC 7517 §5).
    pub jwks: Value,
}

impl TenantKeys {
    pub fn decoding_key(&self, kid: &str) -> Option<&DecodingKey> {
        self.verifying.get(kid)
    }
}

pub struct KeyRing {
    store: Store,
    sealing: EncryptionKey,
    cache: RwLock<HashMap<TenantId, Arc<TenantKeys>>>,
}

fn sealing_context(tenant: TenantId, kid: &str) -> String {
    format!("signing-key:{tenant}:{kid}")
}

impl KeyRing {
    pub fn new(store: Store, sealing: EncryptionKey) -> Self {
        Self {
            store,
            sealing,
            cache: RwLock::new(HashMap::new()),
        }
    }

    pub async fn for_tenant(&self, tenant: TenantId) -> AppResult<Arc<TenantKeys>> {
        if let Some(keys) = self.cache.read().await.get(&tenant) {
            return Ok(keys.clone());
        }
        let mut stored = self.store.keys.list(tenant).await?;
        if !stored.iter().any(|k| k.active) {
            match self
                .store
                .keys
                .insert(tenant, &self.generate_es256(tenant))
                .await
            {
                Ok(()) | Err(StoreError::Conflict(_)) => {}
                Err(e) => return Err(e.into()),
            }
            stored = self.store.keys.list(tenant).await?;
        }
        let keys = Arc::new(self.load(tenant, &stored)?);
        self.cache.write().await.insert(tenant, keys.clone());
        Ok(keys)
    }

    /// Creates the tenant's first key now rather than on the first sign-in.
    pub async fn ensure(&self, tenant: TenantId) -> AppResult<()> {
        self.for_tenant(tenant).await.map(|_| ())
    }

    fn load(&self, tenant: TenantId, stored: &[SigningKey]) -> AppResult<TenantKeys> {
        let active = stored
            .iter()
            .find(|k| k.active)
            .ok_or_else(|| AppError::internal("no active signing key"))?;
        let der = self
            .sealing
            .open(
                &active.private_key_sealed,
                &sealing_context(tenant, &active.kid),
            )
            .map_err(|e| AppError::internal(format!("signing key {}: {e}", active.kid)))?;
        let mut verifying = HashMap::new();
        let mut public = Vec::new();
        for key in stored {
            let jwk: Value = serde_json::from_str(&key.public_jwk).map_err(AppError::internal)?;
            let (Some(x), Some(y)) = (jwk["x"].as_str(), jwk["y"].as_str()) else {
                return Err(AppError::internal(format!(
                    "signing key {} has no EC coordinates",
                    key.kid
                )));
            };
            verifying.insert(
                key.kid.clone(),
                DecodingKey::from_ec_components(x, y).map_err(AppError::internal)?,
            );
            public.push(jwk);
        }
        Ok(TenantKeys {
            kid: active.kid.clone(),
            alg: Algorithm::ES256,
            encoding: EncodingKey::from_ec_der(&der),
            verifying,
            jwks: json!({ "keys": public }),
        })
    }

    fn generate_es256(&self, tenant: TenantId) -> SigningKey {
        let secret = p256::SecretKey::random(&mut rand::rngs::OsRng);
        let point = secret.public_key().to_encoded_point(false);
        let x = URL_SAFE_NO_PAD.encode(point.x().expect("uncompressed point has x"));
        let y = URL_SAFE_NO_PAD.encode(point.y().expect("uncompressed point has y"));
        // RFC 7638 thumbprint: required members in lexicographic order, no whitespace.
        let thumbprint = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
        let kid = sha256_b64url(thumbprint.as_bytes());
        let jwk = json!({ "kty": "EC", "crv": "P-256", "x": x, "y": y, "kid": kid, "use": "sig", "alg": "ES256" });
        let der = secret
            .to_pkcs8_der()
            .expect("a fresh P-256 key encodes as PKCS#8");
        SigningKey {
            tenant_id: tenant,
            private_key_sealed: self
                .sealing
                .seal(der.as_bytes(), &sealing_context(tenant, &kid)),
            kid,
            alg: "ES256".into(),
            public_jwk: jwk.to_string(),
            active: true,
            created_at: Timestamp::now(),
        }
    }
}
