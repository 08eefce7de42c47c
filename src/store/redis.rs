//! Redis for the short-lived OIDC artifacts (`OIDC_STORAGE_ADAPTER=redis`). Every key expires
//! with its artifact (codes and token records a retention period later, so late replays are
//! still recognised), so nothing needs purging. A Redis restart without persistence forgets
//! them: sign-ins in progress start over and issued access tokens can no longer be revoked.
//!
//! Keys are `tessera:{tenant}:{kind}:{id}`: a tenant's artifacts cannot be named from another.
//! Single use is decided inside Redis by Lua scripts, which run atomically.

use super::{from_json, to_json, ARTIFACT_RETENTION_SECS};
use super::{OidcArtifactRepo, OpenError, Ping, Redemption, StoreError, StoreResult};
use crate::domain::{AccessTokenRecord, AuthorizationCode, LoginFlow, TenantId, Timestamp};
use async_trait::async_trait;
use redis::{aio::ConnectionManager, aio::ConnectionManagerConfig, Script};
use serde::{de::DeserializeOwned, Serialize};
use std::{sync::LazyLock, time::Duration};

pub struct RedisArtifacts {
    connection: ConnectionManager,
}

/// KEYS: the code, its redemption marker. ARGV: the redemption time.
/// Returns {0, ''} unknown, {1, code} redeemed now, {2, code} already redeemed.
static REDEEM: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        local code = redis.call('GET', KEYS[1])
        if not code then return {0, ''} end
        local ttl = redis.call('PTTL', KEYS[1])
        if ttl < 1 then ttl = 1000 end
        if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ttl) then return {1, code} end
        return {2, code}
        ",
    )
});

/// KEYS: the token record, the set of tokens of its code (or nothing). ARGV: the record, the
/// expiry (Unix seconds), the jti. Returns 0 when the jti is taken.
static RECORD_TOKEN: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        if redis.call('HSETNX', KEYS[1], 'data', ARGV[1]) == 0 then return 0 end
        redis.call('EXPIREAT', KEYS[1], ARGV[2])
        if KEYS[2] then
            redis.call('SADD', KEYS[2], ARGV[3])
            redis.call('EXPIREAT', KEYS[2], ARGV[2])
        end
        return 1
        ",
    )
});

/// KEYS: the set of tokens of a code. ARGV: the revocation time, the key prefix of token
/// records. Returns how many were revoked now.
static REVOKE_TOKENS_OF_CODE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        local revoked = 0
        for _, jti in ipairs(redis.call('SMEMBERS', KEYS[1])) do
            local key = ARGV[2] .. jti
            if redis.call('EXISTS', key) == 1 and redis.call('HSETNX', key, 'revoked_at', ARGV[1]) == 1 then
                revoked = revoked + 1
            end
        end
        return revoked
        ",
    )
});

fn key(tenant: TenantId, kind: &str, id: &str) -> String {
    format!("tessera:{tenant}:{kind}:{id}")
}

impl RedisArtifacts {
    pub async fn open(url: &str) -> Result<Self, OpenError> {
        let place = match url::Url::parse(url) {
            Ok(u) => format!(
                "{}:{}{}",
                u.host_str().unwrap_or("?"),
                u.port().unwrap_or(6379),
                u.path()
            ),
            Err(_) => "REDIS_URL".into(),
        };
        let fail = |e: redis::RedisError| OpenError::Connect("Redis", place.clone(), e.to_string());
        let client = redis::Client::open(url).map_err(fail)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(5)))
            .set_response_timeout(Some(Duration::from_secs(5)))
            .set_number_of_retries(2);
        let connection = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(fail)?;
        let store = Self { connection };
        store
            .ping()
            .await
            .map_err(|e| OpenError::Connect("Redis", place, e.to_string()))?;
        Ok(store)
    }

    fn con(&self) -> ConnectionManager {
        self.connection.clone()
    }

    async fn put_json<T: Serialize>(
        &self,
        key: &str,
        value: &T,
        expires_at: Timestamp,
        only_new: bool,
    ) -> StoreResult<bool> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(key)
            .arg(to_json(value))
            .arg("EXAT")
            .arg(expires_at.unix().max(1));
        if only_new {
            cmd.arg("NX");
        }
        let done: Option<String> = cmd
            .query_async(&mut self.con())
            .await
            .map_err(unavailable)?;
        Ok(done.is_some())
    }

    async fn get_json<T: DeserializeOwned>(&self, key: &str) -> StoreResult<Option<T>> {
        let raw: Option<String> = redis::cmd("GET")
            .arg(key)
            .query_async(&mut self.con())
            .await
            .map_err(unavailable)?;
        raw.map(|r| from_json(&r)).transpose()
    }
}

#[async_trait]
impl Ping for RedisArtifacts {
    async fn ping(&self) -> StoreResult<()> {
        let _: String = redis::cmd("PING")
            .query_async(&mut self.con())
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}

#[async_trait]
impl OidcArtifactRepo for RedisArtifacts {
    async fn put_flow(&self, tenant: TenantId, flow: &LoginFlow) -> StoreResult<()> {
        self.put_json(&key(tenant, "flow", &flow.id), flow, flow.expires_at, false)
            .await
            .map(|_| ())
    }

    async fn get_flow(&self, tenant: TenantId, id: &str) -> StoreResult<Option<LoginFlow>> {
        let flow: Option<LoginFlow> = self.get_json(&key(tenant, "flow", id)).await?;
        // Redis expires keys lazily or in sweeps; an expired flow must never be resumed.
        Ok(flow.filter(|f| Timestamp::now().is_before(f.expires_at)))
    }

    async fn delete_flow(&self, tenant: TenantId, id: &str) -> StoreResult<()> {
        let _: i64 = redis::cmd("DEL")
            .arg(key(tenant, "flow", id))
            .query_async(&mut self.con())
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn put_code(&self, tenant: TenantId, code: &AuthorizationCode) -> StoreResult<()> {
        let keep_until = code.expires_at.plus_secs(ARTIFACT_RETENTION_SECS);
        let created = self
            .put_json(
                &key(tenant, "code", &code.code_hash),
                code,
                keep_until,
                true,
            )
            .await?;
        if !created {
            return Err(StoreError::Conflict("authorization code"));
        }
        Ok(())
    }

    async fn redeem_code(
        &self,
        tenant: TenantId,
        code_hash: &str,
        at: Timestamp,
    ) -> StoreResult<Redemption> {
        let (outcome, code): (i64, String) = REDEEM
            .key(key(tenant, "code", code_hash))
            .key(key(tenant, "code-redeemed", code_hash))
            .arg(at.unix())
            .invoke_async(&mut self.con())
            .await
            .map_err(unavailable)?;
        Ok(match outcome {
            1 => Redemption::Redeemed(from_json(&code)?),
            2 => Redemption::AlreadyUsed(from_json(&code)?),
            _ => Redemption::Unknown,
        })
    }

    async fn record_access_token(
        &self,
        tenant: TenantId,
        t: &AccessTokenRecord,
    ) -> StoreResult<()> {
        let mut invocation = RECORD_TOKEN.prepare_invoke();
        invocation.key(key(tenant, "access-token", &t.jti));
        if let Some(code_hash) = &t.code_hash {
            invocation.key(key(tenant, "code-tokens", code_hash));
        }
        let created: i64 = invocation
            .arg(to_json(t))
            .arg(
                t.expires_at
                    .plus_secs(ARTIFACT_RETENTION_SECS)
                    .unix()
                    .max(1),
            )
            .arg(&t.jti)
            .invoke_async(&mut self.con())
            .await
            .map_err(unavailable)?;
        if created == 0 {
            return Err(StoreError::Conflict("access token"));
        }
        Ok(())
    }

    async fn access_token(
        &self,
        tenant: TenantId,
        jti: &str,
    ) -> StoreResult<Option<AccessTokenRecord>> {
        let (data, revoked_at): (Option<String>, Option<i64>) = redis::cmd("HMGET")
            .arg(key(tenant, "access-token", jti))
            .arg("data")
            .arg("revoked_at")
            .query_async(&mut self.con())
            .await
            .map_err(unavailable)?;
        let Some(data) = data else { return Ok(None) };
        let mut record: AccessTokenRecord = from_json(&data)?;
        if let Some(revoked_at) = revoked_at {
            record.revoked_at = Some(Timestamp::from_unix(revoked_at));
        }
        Ok(Some(record))
    }

    async fn revoke_tokens_of_code(
        &self,
        tenant: TenantId,
        code_hash: &str,
        at: Timestamp,
    ) -> StoreResult<u64> {
        let revoked: u64 = REVOKE_TOKENS_OF_CODE
            .key(key(tenant, "code-tokens", code_hash))
            .arg(at.unix())
            .arg(key(tenant, "access-token", ""))
            .invoke_async(&mut self.con())
            .await
            .map_err(unavailable)?;
        Ok(revoked)
    }

    /// Nothing to do: every key carries its own expiry.
    async fn purge_expired(&self, _before: Timestamp, _limit: u32) -> StoreResult<u64> {
        Ok(0)
    }
}

fn unavailable(e: redis::RedisError) -> StoreError {
    StoreError::Unavailable(e.to_string())
}
