//! Redis for the short-lived OIDC artifacts (`OIDC_STORAGE_ADAPTER=redis`). Every key expires
//! with its artifact (codes and token records a retention period later, so late replays are
//! still recognised), so nothing needs purging. A Redis restart without persistence forgets
//! them: sign-ins in progress start over and issued access tokens can no longer be revoked.
//!
//! Keys are `tessera:{tenant}:{kind}:{id}`: a tenant's artifacts cannot be named from another.
//! Single use is decided inside Redis by Lua scripts, which run atomically.

use super::{from_json, to_json, ARTIFACT_RETENTION_SECS};
use super::{Ephemeral, OidcArtifactRepo, OpenError, Ping, Redemption, StoreError, StoreResult};
use crate::domain::{
    AccessTokenRecord, AuthorizationCode, LoginFlow, RefreshToken, TenantId, Timestamp, UserId,
};
use async_trait::async_trait;
use redis::{aio::ConnectionManager, aio::ConnectionManagerConfig, AsyncCommands, Script};
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

/// KEYS: a new record (a hash), then the index sets to add it to. ARGV: the record's data, its
/// expiry (Unix seconds), its id in the sets, then pairs of further fields and values. Each set
/// lives as long as its longest member. Returns 0 when the record exists already.
static PUT_INDEXED: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        if redis.call('HSETNX', KEYS[1], 'data', ARGV[1]) == 0 then return 0 end
        for i = 4, #ARGV, 2 do
            redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
        end
        redis.call('EXPIREAT', KEYS[1], ARGV[2])
        for i = 2, #KEYS do
            redis.call('SADD', KEYS[i], ARGV[3])
            if redis.call('EXPIRETIME', KEYS[i]) < tonumber(ARGV[2]) then
                redis.call('EXPIREAT', KEYS[i], ARGV[2])
            end
        end
        return 1
        ",
    )
});

/// KEYS: index sets of records. ARGV: the revocation time, then for each set the key prefix of
/// its records. Marks every existing record revoked; returns how many were revoked now.
static REVOKE_MEMBERS: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        local revoked = 0
        for i, set in ipairs(KEYS) do
            for _, id in ipairs(redis.call('SMEMBERS', set)) do
                local key = ARGV[i + 1] .. id
                if redis.call('EXISTS', key) == 1 and redis.call('HSETNX', key, 'revoked_at', ARGV[1]) == 1 then
                    revoked = revoked + 1
                end
            end
        end
        return revoked
        ",
    )
});

/// KEYS: a set of refresh tokens (those bound to a sign-in, or a user's for one client). ARGV:
/// the revocation time, then the key
/// prefixes of refresh tokens, of families' refresh-token sets, of families' access-token sets
/// and of access tokens. Revokes the whole family of each; returns how many tokens.
static REVOKE_FAMILIES: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        local revoked = 0
        local function revoke(set, prefix)
            for _, id in ipairs(redis.call('SMEMBERS', set)) do
                local key = prefix .. id
                if redis.call('EXISTS', key) == 1 and redis.call('HSETNX', key, 'revoked_at', ARGV[1]) == 1 then
                    revoked = revoked + 1
                end
            end
        end
        for _, hash in ipairs(redis.call('SMEMBERS', KEYS[1])) do
            local family = redis.call('HGET', ARGV[2] .. hash, 'family')
            if family then
                revoke(ARGV[3] .. family, ARGV[2])
                revoke(ARGV[4] .. family, ARGV[5])
            end
        end
        return revoked
        ",
    )
});

/// KEYS: a short-lived record. Returns its data, version and expiry, and deletes it; nothing
/// when there is none.
static TAKE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        local found = redis.call('HMGET', KEYS[1], 'data', 'version', 'expires_at')
        if not found[1] then return false end
        redis.call('DEL', KEYS[1])
        return found
        ",
    )
});

/// KEYS: a short-lived record. ARGV: the expected version, the new data. Returns 1 when swapped.
static SWAP: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        if redis.call('HGET', KEYS[1], 'version') ~= ARGV[1] then return 0 end
        redis.call('HSET', KEYS[1], 'data', ARGV[2])
        redis.call('HINCRBY', KEYS[1], 'version', 1)
        return 1
        ",
    )
});

/// KEYS: a short-lived record. ARGV: its data. Deletes it if it holds that data; returns 1 then.
static REMOVE_IF: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        if redis.call('HGET', KEYS[1], 'data') ~= ARGV[1] then return 0 end
        redis.call('DEL', KEYS[1])
        return 1
        ",
    )
});

/// KEYS: a short-lived record used as a counter. ARGV: its new expiry (Unix seconds). Counts one
/// (an expired record is already gone: the count starts again); returns the count.
static COUNT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        local count = redis.call('HINCRBY', KEYS[1], 'version', 1)
        if count == 1 then redis.call('HSET', KEYS[1], 'data', '') end
        redis.call('HSET', KEYS[1], 'expires_at', ARGV[1])
        redis.call('EXPIREAT', KEYS[1], ARGV[1])
        return count
        ",
    )
});

/// KEYS: a record. ARGV: the revocation time. Returns 1 when it was revoked now.
static REVOKE_ONE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
        return redis.call('HSETNX', KEYS[1], 'revoked_at', ARGV[1])
        ",
    )
});

/// KEYS: a refresh token. ARGV: the rotation time. Returns {0} unknown, {1, ...} rotated now,
/// {2, ...} already rotated or revoked; with the data, rotated_at and revoked_at ('' for none).
static ROTATE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        local data = redis.call('HGET', KEYS[1], 'data')
        if not data then return {0, '', '', ''} end
        local rotated = redis.call('HGET', KEYS[1], 'rotated_at')
        local revoked = redis.call('HGET', KEYS[1], 'revoked_at')
        if rotated or revoked then return {2, data, rotated or '', revoked or ''} end
        redis.call('HSET', KEYS[1], 'rotated_at', ARGV[1])
        return {1, data, ARGV[1], ''}
        ",
    )
});

fn key(tenant: TenantId, kind: &str, id: &str) -> String {
    format!("tessera:{tenant}:{kind}:{id}")
}

/// The index set of a user's tokens for one client (client ids hold no `:`).
fn grant_key(tenant: TenantId, kind: &str, user: UserId, client_id: &str) -> String {
    key(tenant, kind, &format!("{user}:{client_id}"))
}

fn ephemeral_key(tenant: TenantId, kind: &str, id: &str) -> String {
    key(tenant, &format!("ephemeral:{kind}"), id)
}

/// A short-lived record from its hash fields; Redis has already dropped it once expired.
fn ephemeral(found: (Option<String>, Option<i64>, Option<i64>)) -> Option<Ephemeral> {
    match found {
        (Some(value), Some(version), Some(expires_at)) => Some(Ephemeral {
            value,
            version,
            expires_at: Timestamp::from_unix(expires_at),
        }),
        _ => None,
    }
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
        let done: Option<String> = cmd.query_async(&mut self.con()).await?;
        Ok(done.is_some())
    }

    async fn get_json<T: DeserializeOwned>(&self, key: &str) -> StoreResult<Option<T>> {
        let raw: Option<String> = redis::cmd("GET")
            .arg(key)
            .query_async(&mut self.con())
            .await?;
        raw.map(|r| from_json(&r)).transpose()
    }

    /// Revokes the whole family of each refresh token in the index set `set`, with the
    /// families' access tokens; returns how many tokens.
    async fn revoke_families(
        &self,
        tenant: TenantId,
        set: String,
        at: Timestamp,
    ) -> StoreResult<u64> {
        REVOKE_FAMILIES
            .key(set)
            .arg(at.unix())
            .arg(key(tenant, "refresh-token", ""))
            .arg(key(tenant, "family-refresh", ""))
            .arg(key(tenant, "family-tokens", ""))
            .arg(key(tenant, "access-token", ""))
            .invoke_async(&mut self.con())
            .await
            .map_err(unavailable)
    }
}

#[async_trait]
impl Ping for RedisArtifacts {
    async fn ping(&self) -> StoreResult<()> {
        let _: String = redis::cmd("PING").query_async(&mut self.con()).await?;
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
            .await?;
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
            .await?;
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
        let mut invocation = PUT_INDEXED.prepare_invoke();
        invocation.key(key(tenant, "access-token", &t.jti));
        if let Some(code_hash) = &t.code_hash {
            invocation.key(key(tenant, "code-tokens", code_hash));
        }
        if let Some(family_id) = &t.family_id {
            invocation.key(key(tenant, "family-tokens", family_id));
        }
        if let Some(user) = t.user_id {
            invocation.key(grant_key(tenant, "grant-access", user, &t.client_id));
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
            .await?;
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
            .await?;
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
        let revoked: u64 = REVOKE_MEMBERS
            .key(key(tenant, "code-tokens", code_hash))
            .arg(at.unix())
            .arg(key(tenant, "access-token", ""))
            .invoke_async(&mut self.con())
            .await?;
        Ok(revoked)
    }

    async fn revoke_access_token(
        &self,
        tenant: TenantId,
        jti: &str,
        at: Timestamp,
    ) -> StoreResult<bool> {
        let revoked: i64 = REVOKE_ONE
            .key(key(tenant, "access-token", jti))
            .arg(at.unix())
            .invoke_async(&mut self.con())
            .await?;
        Ok(revoked == 1)
    }

    async fn put_refresh_token(&self, tenant: TenantId, t: &RefreshToken) -> StoreResult<()> {
        let mut invocation = PUT_INDEXED.prepare_invoke();
        invocation
            .key(key(tenant, "refresh-token", &t.token_hash))
            .key(key(tenant, "family-refresh", &t.family_id));
        if t.session_bound {
            invocation.key(key(tenant, "session-refresh", &t.session_id));
        }
        invocation.key(grant_key(tenant, "grant-refresh", t.user_id, &t.client_id));
        let created: i64 = invocation
            .arg(to_json(t))
            .arg(
                t.family_expires_at
                    .plus_secs(ARTIFACT_RETENTION_SECS)
                    .unix()
                    .max(1),
            )
            .arg(&t.token_hash)
            .arg("family")
            .arg(&t.family_id)
            .invoke_async(&mut self.con())
            .await?;
        if created == 0 {
            return Err(StoreError::Conflict("refresh token"));
        }
        Ok(())
    }

    async fn refresh_token(
        &self,
        tenant: TenantId,
        token_hash: &str,
    ) -> StoreResult<Option<RefreshToken>> {
        let (data, rotated_at, revoked_at): (Option<String>, Option<i64>, Option<i64>) =
            redis::cmd("HMGET")
                .arg(key(tenant, "refresh-token", token_hash))
                .arg("data")
                .arg("rotated_at")
                .arg("revoked_at")
                .query_async(&mut self.con())
                .await?;
        data.map(|d| refresh_token(&d, rotated_at, revoked_at))
            .transpose()
    }

    /// Scans the tenant's keys: Redis keeps no order, and the command line (a move) is the
    /// only caller.
    async fn refresh_tokens(
        &self,
        tenant: TenantId,
        now: Timestamp,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<RefreshToken>> {
        let pattern = key(tenant, "refresh-token", "*");
        let prefix = pattern.trim_end_matches('*').to_owned();
        let mut con = self.con();
        let mut hashes: Vec<String> = {
            let mut keys = con.scan_match::<_, String>(&pattern).await?;
            let mut found = Vec::new();
            while let Some(key) = keys.next_item().await {
                if let Some(hash) = key?.strip_prefix(&prefix) {
                    found.push(hash.to_owned());
                }
            }
            found
        };
        hashes.retain(|h| after.is_none_or(|after| h.as_str() > after));
        hashes.sort();
        let mut tokens = Vec::new();
        for hash in hashes {
            if tokens.len() >= limit as usize {
                break;
            }
            if let Some(token) = self.refresh_token(tenant, &hash).await? {
                if token.expires_at > now {
                    tokens.push(token);
                }
            }
        }
        Ok(tokens)
    }

    async fn rotate_refresh_token(
        &self,
        tenant: TenantId,
        token_hash: &str,
        at: Timestamp,
    ) -> StoreResult<Redemption<RefreshToken>> {
        let (outcome, data, rotated_at, revoked_at): (i64, String, String, String) = ROTATE
            .key(key(tenant, "refresh-token", token_hash))
            .arg(at.unix())
            .invoke_async(&mut self.con())
            .await?;
        let token = || refresh_token(&data, rotated_at.parse().ok(), revoked_at.parse().ok());
        Ok(match outcome {
            1 => Redemption::Redeemed(token()?),
            2 => Redemption::AlreadyUsed(token()?),
            _ => Redemption::Unknown,
        })
    }

    async fn revoke_refresh_family(
        &self,
        tenant: TenantId,
        family_id: &str,
        at: Timestamp,
    ) -> StoreResult<u64> {
        let revoked: u64 = REVOKE_MEMBERS
            .key(key(tenant, "family-refresh", family_id))
            .key(key(tenant, "family-tokens", family_id))
            .arg(at.unix())
            .arg(key(tenant, "refresh-token", ""))
            .arg(key(tenant, "access-token", ""))
            .invoke_async(&mut self.con())
            .await?;
        Ok(revoked)
    }

    async fn revoke_session_tokens(
        &self,
        tenant: TenantId,
        session_id: &str,
        at: Timestamp,
    ) -> StoreResult<u64> {
        let sign_in = key(tenant, "session-refresh", session_id);
        self.revoke_families(tenant, sign_in, at).await
    }

    async fn revoke_grant(
        &self,
        tenant: TenantId,
        user: UserId,
        client_id: &str,
        at: Timestamp,
    ) -> StoreResult<u64> {
        let refresh = grant_key(tenant, "grant-refresh", user, client_id);
        let families = self.revoke_families(tenant, refresh, at).await?;
        let access: u64 = REVOKE_MEMBERS
            .key(grant_key(tenant, "grant-access", user, client_id))
            .arg(at.unix())
            .arg(key(tenant, "access-token", ""))
            .invoke_async(&mut self.con())
            .await?;
        Ok(families + access)
    }

    async fn put_ephemeral(
        &self,
        tenant: TenantId,
        kind: &str,
        id: &str,
        value: &str,
        expires_at: Timestamp,
    ) -> StoreResult<()> {
        let created: i64 = PUT_INDEXED
            .key(ephemeral_key(tenant, kind, id))
            .arg(value)
            .arg(expires_at.unix().max(1))
            .arg("")
            .arg("version")
            .arg(1)
            .arg("expires_at")
            .arg(expires_at.unix())
            .invoke_async(&mut self.con())
            .await?;
        if created == 0 {
            return Err(StoreError::Conflict("record"));
        }
        Ok(())
    }

    async fn get_ephemeral(
        &self,
        tenant: TenantId,
        kind: &str,
        id: &str,
    ) -> StoreResult<Option<Ephemeral>> {
        let found: (Option<String>, Option<i64>, Option<i64>) = redis::cmd("HMGET")
            .arg(ephemeral_key(tenant, kind, id))
            .arg("data")
            .arg("version")
            .arg("expires_at")
            .query_async(&mut self.con())
            .await?;
        Ok(ephemeral(found))
    }

    async fn take_ephemeral(
        &self,
        tenant: TenantId,
        kind: &str,
        id: &str,
    ) -> StoreResult<Option<Ephemeral>> {
        let found: Option<(Option<String>, Option<i64>, Option<i64>)> = TAKE
            .key(ephemeral_key(tenant, kind, id))
            .invoke_async(&mut self.con())
            .await?;
        Ok(found.and_then(ephemeral))
    }

    async fn swap_ephemeral(
        &self,
        tenant: TenantId,
        kind: &str,
        id: &str,
        version: i64,
        value: &str,
    ) -> StoreResult<bool> {
        let swapped: i64 = SWAP
            .key(ephemeral_key(tenant, kind, id))
            .arg(version)
            .arg(value)
            .invoke_async(&mut self.con())
            .await?;
        Ok(swapped == 1)
    }

    async fn remove_ephemeral_if(
        &self,
        tenant: TenantId,
        kind: &str,
        id: &str,
        value: &str,
    ) -> StoreResult<bool> {
        let removed: i64 = REMOVE_IF
            .key(ephemeral_key(tenant, kind, id))
            .arg(value)
            .invoke_async(&mut self.con())
            .await?;
        Ok(removed == 1)
    }

    async fn count_ephemeral(
        &self,
        tenant: TenantId,
        kind: &str,
        id: &str,
        expires_at: Timestamp,
    ) -> StoreResult<i64> {
        Ok(COUNT
            .key(ephemeral_key(tenant, kind, id))
            .arg(expires_at.unix().max(1))
            .invoke_async(&mut self.con())
            .await?)
    }

    /// Nothing to do: every key carries its own expiry.
    async fn purge_expired(&self, _before: Timestamp, _limit: u32) -> StoreResult<u64> {
        Ok(0)
    }
}

fn unavailable(e: redis::RedisError) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

/// Any Redis error means the store could not answer.
impl From<redis::RedisError> for StoreError {
    fn from(e: redis::RedisError) -> Self {
        unavailable(e)
    }
}

/// A stored refresh token, with the spent and revoked times that live in their own fields.
fn refresh_token(
    data: &str,
    rotated_at: Option<i64>,
    revoked_at: Option<i64>,
) -> StoreResult<RefreshToken> {
    let mut token: RefreshToken = from_json(data)?;
    if let Some(at) = rotated_at {
        token.rotated_at = Some(Timestamp::from_unix(at));
    }
    if let Some(at) = revoked_at {
        token.revoked_at = Some(Timestamp::from_unix(at));
    }
    Ok(token)
}
