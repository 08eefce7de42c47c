//! Minting tokens for a grant the token endpoint has accepted: the JWT access token (with its
//! record), the ID token, and the refresh token of a rotation family.

use super::access_token::{self, AccessClaims, Audience, Confirmation};
use super::{jwt, scopes};
use crate::crypto::{new_refresh_token, ordered_id};
use crate::domain::RequestMeta;
use crate::domain::{
    AccessTokenRecord, AuditEvent, Client, GrantType, Outcome, RefreshToken, SigningAlg, Tenant,
    Timestamp, User, UserId,
};
use crate::error::AppResult;
use crate::state::keys::TenantKeys;
use crate::state::{metrics, AppState};
use crate::store::{group_commit::Write, Issuance};
use axum::{
    http::{header, HeaderValue},
    response::{IntoResponse, Response},
    Json,
};
use serde_json::{json, Map, Value};

/// Who a set of tokens is for and what they allow.
pub struct Grant<'a> {
    /// The grant the tokens come from (named in the audit log).
    pub grant_type: GrantType,
    pub tenant: &'a Tenant,
    pub client: &'a Client,
    /// None for client credentials: the client acts for itself.
    pub user: Option<&'a User>,
    pub scopes: &'a [String],
    /// RFC 8707: the audiences of the access token, when the client named them.
    pub resources: &'a [String],
    pub auth_time: Option<Timestamp>,
    pub amr: &'a [String],
    /// The authorization code the tokens come from (its replay revokes them).
    pub code_hash: Option<&'a str>,
    /// The refresh-token family the tokens belong to (its revocation revokes them).
    pub family_id: Option<&'a str>,
    /// The browser sign-in behind the grant: the ID token's `sid` (back-channel logout).
    pub session_id: Option<&'a str>,
    /// RFC 9449: the thumbprint of the DPoP key the access token is bound to.
    pub jkt: Option<&'a str>,
    /// RFC 8693 §4.1: who acts for the user, after a token exchange.
    pub act: Option<&'a Value>,
}

/// The tokens of one response of the token endpoint.
pub struct Issued {
    body: Map<String, Value>,
    access_token: String,
}

impl Issued {
    /// Adds a member to the answer.
    pub fn insert(&mut self, name: &str, value: Value) {
        self.body.insert(name.into(), value);
    }

    pub fn into_response(self) -> Response {
        let mut response = Json(Value::Object(self.body)).into_response();
        let headers = response.headers_mut();
        // RFC 6749 §5.1.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        response
    }
}

/// Everything the token endpoint answers for `grant`: an access token; an ID token when a user
/// granted `openid`; the next refresh token of `family`, when the grant has one. Answered only
/// once their records and the audit event are committed (with other responses' records: group
/// commit), so a token that was handed out can always be introspected and revoked, even after
/// a crash; one write per response, because each write costs a wake-up of the writer.
pub async fn tokens(
    state: &AppState,
    grant: &Grant<'_>,
    nonce: Option<&str>,
    family: Option<Family<'_>>,
    now: Timestamp,
    meta: &RequestMeta,
) -> AppResult<Issued> {
    let Minted {
        issued,
        issuance,
        event,
    } = mint(state, grant, nonce, family, now, meta).await?;
    state
        .writer
        .write(Write::Issued(Box::new((issuance, event))))
        .await?;
    metrics::token_issued(grant.grant_type.as_str());
    Ok(issued)
}

/// Signed tokens that are not stored yet: what the response answers, their records and their
/// `token.issued` event.
pub struct Minted {
    pub issued: Issued,
    pub issuance: Issuance,
    pub event: AuditEvent,
}

/// The tokens of [`tokens`], signed but not yet stored: the refresh grant stores them only
/// together with spending the token they replace.
pub async fn mint(
    state: &AppState,
    grant: &Grant<'_>,
    nonce: Option<&str>,
    family: Option<Family<'_>>,
    now: Timestamp,
    meta: &RequestMeta,
) -> AppResult<Minted> {
    let keys = state
        .keys
        .for_alg(grant.tenant.id, grant.client.id_token_alg)
        .await?;
    let (mut issued, access) = access_token(state, &keys, grant, now)?;
    add_id_token(&mut issued, state, &keys, grant, nonce, now)?;
    let refresh = match (family, grant.user) {
        (Some(family), Some(user)) => {
            Some(add_refresh_token(&mut issued, grant, user.id, family, now))
        }
        _ => None,
    };
    Ok(Minted {
        issued,
        issuance: Issuance { access, refresh },
        event: issued_event(grant, meta),
    })
}

/// `token.issued`, for the user of the grant or, without one, the client itself.
fn issued_event(grant: &Grant<'_>, meta: &RequestMeta) -> AuditEvent {
    let client = format!("client:{}", grant.client.client_id);
    let target = match grant.user {
        Some(user) => format!("user:{}", user.id),
        None => client.clone(),
    };
    let reason = match grant.grant_type {
        GrantType::DeviceCode => "device_code",
        GrantType::TokenExchange => "token_exchange",
        other => other.as_str(),
    };
    meta.stamp(
        AuditEvent::new(grant.tenant.id, "token.issued", Outcome::Success, client)
            .target(target)
            .reason(reason),
    )
}

/// Signs an access token for `grant`, with the record that lets it be revoked and introspected.
fn access_token(
    state: &AppState,
    keys: &TenantKeys,
    grant: &Grant<'_>,
    now: Timestamp,
) -> AppResult<(Issued, AccessTokenRecord)> {
    let issuer = state.config.issuer(grant.tenant.slug.as_str());
    let client = grant.client;
    let jti = ordered_id();
    let expires_at = now.plus_secs(client.access_token_ttl_secs);
    let scope = grant.scopes.join(" ");
    let claims = AccessClaims {
        iss: issuer,
        sub: match grant.user {
            Some(user) => user.id.to_string(),
            None => client.client_id.clone(),
        },
        aud: Audience::of(grant.resources, &client.client_id),
        client_id: client.client_id.clone(),
        scope: scope.clone(),
        jti: jti.clone(),
        iat: now.unix(),
        exp: expires_at.unix(),
        auth_time: grant.auth_time.map(Timestamp::unix),
        act: grant.act.cloned(),
        cnf: grant.jkt.map(|jkt| Confirmation {
            jkt: jkt.to_owned(),
        }),
    };
    let access_token = jwt::sign(keys, SigningAlg::DEFAULT, jwt::ACCESS_TOKEN_TYP, &claims)?;
    let record = AccessTokenRecord {
        jti,
        tenant_id: grant.tenant.id,
        client_id: client.client_id.clone(),
        user_id: grant.user.map(|u| u.id),
        scopes: grant.scopes.to_vec(),
        code_hash: grant.code_hash.map(str::to_owned),
        family_id: grant.family_id.map(str::to_owned),
        issued_at: now,
        expires_at,
        revoked_at: None,
    };
    let mut body = Map::new();
    body.insert("access_token".into(), json!(access_token));
    body.insert(
        "token_type".into(),
        json!(access_token::token_type(grant.jkt)),
    );
    body.insert("expires_in".into(), json!(client.access_token_ttl_secs));
    body.insert("scope".into(), json!(scope));
    Ok((Issued { body, access_token }, record))
}

/// Adds an ID token (OIDC Core §2, §3.1.3.6) when the grant has a user and the `openid` scope.
/// `nonce` only for the code flow: a refreshed ID token carries none (OIDC Core §12.2).
fn add_id_token(
    issued: &mut Issued,
    state: &AppState,
    keys: &TenantKeys,
    grant: &Grant<'_>,
    nonce: Option<&str>,
    now: Timestamp,
) -> AppResult<()> {
    let Some(user) = grant.user else {
        return Ok(());
    };
    if !grant.scopes.iter().any(|s| s == "openid") {
        return Ok(());
    }
    let mut claims = Map::new();
    claims.insert(
        "iss".into(),
        json!(state.config.issuer(grant.tenant.slug.as_str())),
    );
    claims.insert("sub".into(), json!(user.id.to_string()));
    claims.insert("aud".into(), json!(grant.client.client_id));
    claims.insert(
        "exp".into(),
        json!(now.plus_secs(grant.client.id_token_ttl_secs).unix()),
    );
    claims.insert("iat".into(), json!(now.unix()));
    if let Some(auth_time) = grant.auth_time {
        claims.insert("auth_time".into(), json!(auth_time.unix()));
    }
    claims.insert("amr".into(), json!(grant.amr));
    claims.insert("acr".into(), json!(crate::domain::acr::for_amr(grant.amr)));
    claims.insert(
        "at_hash".into(),
        json!(at_hash(grant.client.id_token_alg, &issued.access_token)),
    );
    if let Some(nonce) = nonce {
        claims.insert("nonce".into(), json!(nonce));
    }
    if let Some(session_id) = grant.session_id {
        claims.insert("sid".into(), json!(super::backchannel::sid(session_id)));
    }
    claims.extend(scopes::user_claims(user, grant.scopes));
    let id_token = jwt::sign(
        keys,
        grant.client.id_token_alg,
        "JWT",
        &Value::Object(claims),
    )?;
    issued.body.insert("id_token".into(), json!(id_token));
    Ok(())
}

/// What a refresh token continues: a new family (from a code) or the one being rotated. Its
/// scopes and resources are the family's, even when this response's access token is narrower
/// (RFC 6749 §6).
pub struct Family<'a> {
    pub id: &'a str,
    pub expires_at: Timestamp,
    pub session_id: &'a str,
    pub scopes: &'a [String],
    pub resources: &'a [String],
    /// RFC 9449 §5: the DPoP key a public client's refresh tokens are bound to.
    pub jkt: Option<&'a str>,
}

/// Issues the next refresh token of `family`; its idle lifetime never outlasts the family.
fn add_refresh_token(
    issued: &mut Issued,
    grant: &Grant<'_>,
    user_id: UserId,
    family: Family<'_>,
    now: Timestamp,
) -> RefreshToken {
    let (value, token_hash) = new_refresh_token();
    let token = RefreshToken {
        token_hash,
        tenant_id: grant.tenant.id,
        family_id: family.id.to_owned(),
        client_id: grant.client.client_id.clone(),
        user_id,
        session_id: family.session_id.to_owned(),
        scopes: family.scopes.to_vec(),
        resource: (!family.resources.is_empty()).then(|| family.resources.join(" ")),
        auth_time: grant.auth_time.unwrap_or(now),
        amr: grant.amr.to_vec(),
        issued_at: now,
        expires_at: now
            .plus_secs(grant.client.refresh_token_ttl_secs)
            .min(family.expires_at),
        family_expires_at: family.expires_at,
        rotated_at: None,
        revoked_at: None,
        // OIDC Core §11: only `offline_access` keeps the grant alive after sign-out.
        session_bound: !family.scopes.iter().any(|s| s == "offline_access"),
        jkt: family.jkt.map(str::to_owned),
    };
    issued.body.insert("refresh_token".into(), json!(value));
    token
}

/// OIDC Core §3.1.3.6 `at_hash`: base64url of the left half of the hash the ID token's
/// algorithm uses: SHA-256 for ES256 and RS256, SHA-512 for EdDSA with Ed25519 (as OpenID
/// Foundation conformance tests and common libraries read it).
fn at_hash(alg: SigningAlg, token: &str) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use sha2::{Digest, Sha256, Sha512};
    match alg {
        SigningAlg::ES256 | SigningAlg::RS256 => {
            URL_SAFE_NO_PAD.encode(&Sha256::digest(token.as_bytes())[..16])
        }
        SigningAlg::EdDSA => URL_SAFE_NO_PAD.encode(&Sha512::digest(token.as_bytes())[..32]),
    }
}
