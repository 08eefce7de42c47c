//! The token endpoint (RFC 6749 §3.2; OIDC Core §3.1.3): the authorization code (§4.1.3),
//! refresh token (§6) and client credentials (§4.4) grants.

mod exchange;

use super::client_auth::{client_request, ClientRequest};
use super::dpop::{self, Expected};
use super::issue::{self, Family, Grant, Minted};
use super::{device, error::OAuthError, pkce, requested_resources};
use crate::crypto::{refresh_token_key, sha256_hex};
use crate::domain::RequestMeta;
use crate::domain::{
    AuditEvent, Client, ClientType, GrantType, Outcome, Tenant, Timestamp, User, UserId,
};
use crate::state::{metrics, AppState};
use crate::store::{Redemption, Rotation};
use axum::{
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use std::collections::HashMap;

pub async fn token(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    meta: RequestMeta,
    headers: HeaderMap,
    body: String,
) -> Response {
    match handle(&state, &slug, &meta, &headers, &body).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

async fn handle(
    state: &AppState,
    slug: &str,
    meta: &RequestMeta,
    headers: &HeaderMap,
    body: &str,
) -> Result<Response, OAuthError> {
    let ClientRequest {
        tenant,
        client,
        params,
    } = client_request(state, slug, "token", meta, headers, body).await?;
    let grant_type = match params.get("grant_type").map(String::as_str) {
        None => return Err(OAuthError::invalid_request("grant_type is missing")),
        Some(raw) => GrantType::parse(raw).ok_or_else(|| {
            OAuthError::new(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "unknown grant_type",
            )
        })?,
    };
    if !client.allows_grant(grant_type) {
        return Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            "this client may not use this grant",
        ));
    }
    let jkt = proven_key(state, &tenant, &client, meta, headers).await?;
    let context = Context {
        state,
        tenant: &tenant,
        client: &client,
        params: &params,
        meta,
        now: Timestamp::now(),
        jkt: jkt.as_deref(),
    };
    let mut response = match grant_type {
        GrantType::AuthorizationCode => authorization_code(&context).await,
        GrantType::RefreshToken => refresh_token(&context).await,
        GrantType::ClientCredentials => client_credentials(&context).await,
        GrantType::DeviceCode => device_code(&context).await,
        GrantType::TokenExchange => exchange::token_exchange(&context).await,
    }?;
    // RFC 9449 §8.2: the nonce for the client's next proof comes with each answer.
    if client.require_dpop_nonce {
        if let Ok(nonce) = dpop::new_nonce(state, &tenant).parse() {
            response.headers_mut().insert("dpop-nonce", nonce);
        }
    }
    Ok(response)
}

/// RFC 9449 §5: the DPoP key the client proved it holds, if it sent a proof; a client
/// registered for DPoP must.
async fn proven_key(
    state: &AppState,
    tenant: &Tenant,
    client: &Client,
    meta: &RequestMeta,
    headers: &HeaderMap,
) -> Result<Option<String>, OAuthError> {
    let expected = Expected {
        method: "POST",
        url: format!("{}/token", state.config.issuer(tenant.slug.as_str())),
        access_token: None,
        nonce_required: client.require_dpop_nonce,
    };
    let jkt = dpop::proven_key(state, tenant, headers, &expected)
        .await
        .map_err(|refused| refused.at_token_endpoint(state, tenant, meta))?;
    if jkt.is_none() && client.require_dpop {
        return Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "invalid_dpop_proof",
            "this client must send a DPoP proof",
        ));
    }
    Ok(jkt)
}

/// One authenticated token request.
struct Context<'a> {
    state: &'a AppState,
    tenant: &'a Tenant,
    client: &'a Client,
    params: &'a HashMap<String, String>,
    meta: &'a RequestMeta,
    now: Timestamp,
    /// RFC 9449: the DPoP key proven with the request, which the access token is bound to.
    jkt: Option<&'a str>,
}

impl Context<'_> {
    /// RFC 9449 §5: a public client's refresh tokens are bound to its DPoP key; a confidential
    /// client's are bound to its credentials already.
    fn family_key(&self) -> Option<&str> {
        self.jkt
            .filter(|_| self.client.client_type == ClientType::Public)
    }

    fn internal(&self, e: impl super::error::Fault) -> OAuthError {
        OAuthError::internal(self.meta, e)
    }

    async fn audit(&self, action: &str, outcome: Outcome, target: String, reason: Option<String>) {
        let mut event = AuditEvent::new(
            self.tenant.id,
            action,
            outcome,
            format!("client:{}", self.client.client_id),
        )
        .target(target);
        event.reason = reason;
        self.state.audit(event, self.meta).await;
    }

    /// A single-valued parameter that must be present and at most `max` bytes.
    fn required(&self, name: &str, max: usize) -> Result<&str, OAuthError> {
        self.params
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty() && v.len() <= max)
            .ok_or_else(|| OAuthError::invalid_request(format!("{name} is missing or too long")))
    }

    /// The `scope` parameter's scopes (RFC 6749 §3.3), when the request has one.
    fn requested_scopes(&self) -> Option<Vec<String>> {
        self.params.get("scope").map(|requested| {
            requested
                .split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
    }

    /// RFC 8707 `resource`s: each must be one this client registered.
    fn resources(&self) -> Result<Vec<String>, OAuthError> {
        requested_resources(self.params, self.client)
    }

    /// The grant's user, when they may still sign in: a blocked or deleted user's grants
    /// yield no more tokens.
    async fn user_who_can_sign_in(&self, id: UserId) -> Result<User, OAuthError> {
        self.state
            .store
            .users
            .by_id(self.tenant.id, id)
            .await
            .map_err(|e| self.internal(e))?
            .filter(|u| u.can_sign_in())
            .ok_or_else(|| OAuthError::invalid_grant("the user can no longer sign in"))
    }
}

async fn authorization_code(cx: &Context<'_>) -> Result<Response, OAuthError> {
    let code = cx.required("code", 256)?;
    let redirect_uri = cx.required("redirect_uri", 2048)?;
    let code_hash = sha256_hex(code);
    let record = match cx
        .state
        .store
        .artifacts
        .redeem_code(cx.tenant.id, &code_hash, cx.now)
        .await
        .map_err(|e| cx.internal(e))?
    {
        Redemption::Redeemed(record) => record,
        Redemption::AlreadyUsed(record) => {
            // RFC 6749 §4.1.2: a reused code SHOULD revoke the tokens issued from it; its
            // refresh-token family is named after the code.
            let artifacts = &cx.state.store.artifacts;
            let mut revoked = artifacts
                .revoke_tokens_of_code(cx.tenant.id, &code_hash, cx.now)
                .await
                .map_err(|e| cx.internal(e))?;
            revoked += artifacts
                .revoke_refresh_family(cx.tenant.id, &code_hash, cx.now)
                .await
                .map_err(|e| cx.internal(e))?;
            cx.audit(
                "code.replayed",
                Outcome::Failure,
                format!("user:{}", record.user_id),
                Some(format!(
                    "authorization code used twice; {revoked} token(s) revoked"
                )),
            )
            .await;
            return Err(OAuthError::invalid_grant(
                "the authorization code has already been used",
            ));
        }
        Redemption::Unknown => {
            return Err(OAuthError::invalid_grant(
                "the authorization code is invalid",
            ))
        }
    };
    if record.client_id != cx.client.client_id {
        return Err(OAuthError::invalid_grant(
            "the authorization code was issued to another client",
        ));
    }
    if !cx.now.is_before(record.expires_at) {
        return Err(OAuthError::invalid_grant(
            "the authorization code has expired",
        ));
    }
    if record.redirect_uri != redirect_uri {
        return Err(OAuthError::invalid_grant(
            "redirect_uri does not match the authorization request",
        ));
    }
    match (&record.code_challenge, cx.params.get("code_verifier")) {
        (Some(challenge), Some(verifier)) if pkce::verifier_matches(verifier, challenge) => {}
        (Some(_), Some(_)) => {
            return Err(OAuthError::invalid_grant(
                "code_verifier does not match the code_challenge",
            ))
        }
        (Some(_), None) => return Err(OAuthError::invalid_grant("code_verifier is missing")),
        // RFC 9700 §2.1.1: a verifier for a code issued without a challenge signals an attack.
        (None, Some(_)) => {
            return Err(OAuthError::invalid_grant(
                "code_verifier sent but no code_challenge was used",
            ))
        }
        (None, None) => {}
    }
    // RFC 9449 §10: a code bound to a key is redeemed only with a proof of that key.
    if record.dpop_jkt.is_some() && record.dpop_jkt.as_deref() != cx.jkt {
        return Err(OAuthError::invalid_grant(
            "the authorization code is bound to another DPoP key",
        ));
    }
    // RFC 8707 §2.2: resources named in the authorization request bound the grant; the token
    // request may ask for fewer of them, never others, and without any gets them all.
    let asked = cx.resources()?;
    let granted = if record.resources.is_empty() {
        asked.clone()
    } else {
        record.resources.clone()
    };
    if asked.iter().any(|r| !granted.contains(r)) {
        return Err(OAuthError::invalid_target(
            "a resource was not named in the authorization request",
        ));
    }
    let resources = if asked.is_empty() {
        granted.clone()
    } else {
        asked
    };
    let user = cx.user_who_can_sign_in(record.user_id).await?;

    let refreshable = cx.client.allows_grant(GrantType::RefreshToken);
    let grant = Grant {
        grant_type: GrantType::AuthorizationCode,
        tenant: cx.tenant,
        client: cx.client,
        user: Some(&user),
        scopes: &record.scopes,
        resources: &resources,
        auth_time: Some(record.auth_time),
        amr: &record.amr,
        code_hash: Some(&code_hash),
        family_id: refreshable.then_some(code_hash.as_str()),
        session_id: Some(&record.session_id),
        jkt: cx.jkt,
        act: None,
    };
    let family = refreshable.then(|| Family {
        id: &code_hash,
        expires_at: cx.now.plus_secs(cx.client.refresh_family_ttl_secs),
        session_id: &record.session_id,
        scopes: &record.scopes,
        resources: &granted,
        jkt: cx.family_key(),
    });
    let issued = issue::tokens(
        cx.state,
        &grant,
        record.nonce.as_deref(),
        family,
        cx.now,
        cx.meta,
    )
    .await
    .map_err(|e| cx.internal(e))?;
    Ok(issued.into_response())
}

async fn refresh_token(cx: &Context<'_>) -> Result<Response, OAuthError> {
    let presented = cx.required("refresh_token", 256)?;
    let token_hash = refresh_token_key(presented);
    let artifacts = &cx.state.store.artifacts;
    // Everything that can be refused is checked before rotating, so a refused request (or
    // another client presenting a stolen token) does not spend the token.
    let Some(known) = artifacts
        .refresh_token(cx.tenant.id, &token_hash)
        .await
        .map_err(|e| cx.internal(e))?
        .filter(|t| t.client_id == cx.client.client_id)
    else {
        return Err(OAuthError::invalid_grant("the refresh token is invalid"));
    };
    if !cx.now.is_before(known.expires_at) || !cx.now.is_before(known.family_expires_at) {
        return Err(OAuthError::invalid_grant("the refresh token has expired"));
    }
    // RFC 9449 §5: a bound token is refreshed only with a proof of its key.
    if known.jkt.is_some() && known.jkt.as_deref() != cx.jkt {
        return Err(OAuthError::invalid_grant(
            "the refresh token is bound to another DPoP key",
        ));
    }
    // RFC 6749 §6: a narrower scope may be asked for, never a wider one.
    let scopes = match cx.requested_scopes() {
        None => known.scopes.clone(),
        Some(requested) => {
            if requested.is_empty() || requested.iter().any(|s| !known.scopes.contains(s)) {
                return Err(OAuthError::invalid_scope(
                    "the requested scope exceeds what was granted",
                ));
            }
            requested
        }
    };
    // RFC 8707 §2.2: a refresh may ask for fewer of the grant's resources, never others.
    let granted = known.resources();
    let requested = cx.resources()?;
    if requested.iter().any(|r| !granted.contains(r)) {
        return Err(OAuthError::invalid_target(
            "a resource was not part of the original grant",
        ));
    }
    let audiences = if requested.is_empty() {
        &granted
    } else {
        &requested
    };
    let user = cx.user_who_can_sign_in(known.user_id).await?;
    let grant = Grant {
        grant_type: GrantType::RefreshToken,
        tenant: cx.tenant,
        client: cx.client,
        user: Some(&user),
        scopes: &scopes,
        resources: audiences,
        auth_time: Some(known.auth_time),
        amr: &known.amr,
        code_hash: None,
        family_id: Some(&known.family_id),
        session_id: Some(&known.session_id),
        jkt: cx.jkt,
        act: None,
    };
    let family = Family {
        id: &known.family_id,
        expires_at: known.family_expires_at,
        session_id: &known.session_id,
        scopes: &known.scopes,
        resources: &granted,
        jkt: known.jkt.as_deref(),
    };
    // Signed before the token is spent, and stored only if it is: the token is spent in the
    // same transaction as its replacement is stored (one turn of the group-commit writer).
    let Minted {
        issued,
        issuance,
        event,
    } = issue::mint(cx.state, &grant, None, Some(family), cx.now, cx.meta)
        .await
        .map_err(|e| cx.internal(e))?;
    let rotation = Rotation {
        tenant: cx.tenant.id,
        token_hash,
        at: cx.now,
        issuance,
        event,
    };
    match cx
        .state
        .writer
        .rotate(rotation)
        .await
        .map_err(|e| cx.internal(e))?
    {
        Redemption::Redeemed(_) => {
            metrics::token_issued(GrantType::RefreshToken.as_str());
            Ok(issued.into_response())
        }
        Redemption::AlreadyUsed(spent) => {
            if spent.revoked_at.is_none() {
                // RFC 9700 §4.14.2: a rotated token used again means two parties hold the
                // family; neither can be told apart, so the whole family dies.
                let revoked = artifacts
                    .revoke_refresh_family(cx.tenant.id, &spent.family_id, cx.now)
                    .await
                    .map_err(|e| cx.internal(e))?;
                cx.audit(
                    "refresh.reused",
                    Outcome::Failure,
                    format!("user:{}", spent.user_id),
                    Some(format!(
                        "a rotated refresh token was used again; its family and {revoked} token(s) were revoked"
                    )),
                )
                .await;
            }
            Err(OAuthError::invalid_grant("the refresh token is invalid"))
        }
        Redemption::Unknown => Err(OAuthError::invalid_grant("the refresh token is invalid")),
    }
}

/// Scopes that only make sense with a user signing in.
const USER_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];

async fn client_credentials(cx: &Context<'_>) -> Result<Response, OAuthError> {
    // RFC 6749 §4.4: only for confidential clients.
    if cx.client.client_type != ClientType::Confidential {
        return Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            "only confidential clients may use client_credentials",
        ));
    }
    let allowed: Vec<String> = cx
        .client
        .scopes
        .iter()
        .filter(|s| !USER_SCOPES.contains(&s.as_str()))
        .cloned()
        .collect();
    let scopes: Vec<String> = match cx.requested_scopes() {
        None => allowed,
        Some(requested) => {
            if let Some(bad) = requested.iter().find(|s| !allowed.contains(s)) {
                return Err(OAuthError::invalid_scope(format!(
                    "scope {bad:?} is not available to this client without a user"
                )));
            }
            requested
        }
    };
    let resources = cx.resources()?;
    let grant = Grant {
        grant_type: GrantType::ClientCredentials,
        tenant: cx.tenant,
        client: cx.client,
        user: None,
        scopes: &scopes,
        resources: &resources,
        auth_time: None,
        amr: &[],
        code_hash: None,
        family_id: None,
        session_id: None,
        jkt: cx.jkt,
        act: None,
    };
    // RFC 6749 §4.4.3: no refresh token; no user, so no ID token.
    let issued = issue::tokens(cx.state, &grant, None, None, cx.now, cx.meta)
        .await
        .map_err(|e| cx.internal(e))?;
    Ok(issued.into_response())
}

/// RFC 8628 §3.4: the device polls with its device code until the person has decided.
async fn device_code(cx: &Context<'_>) -> Result<Response, OAuthError> {
    let device_code = cx.required("device_code", 256)?;
    let approval =
        device::poll(cx.state, cx.tenant, cx.client, device_code, cx.now, cx.meta).await?;
    let user = cx.user_who_can_sign_in(approval.user_id).await?;
    let family_id = crate::crypto::ordered_id();
    let scopes = &approval.grant.scopes;
    let grant = Grant {
        grant_type: GrantType::DeviceCode,
        tenant: cx.tenant,
        client: cx.client,
        user: Some(&user),
        scopes,
        resources: &[],
        auth_time: Some(approval.auth_time),
        amr: &approval.amr,
        code_hash: None,
        family_id: Some(&family_id),
        session_id: Some(&approval.session_id),
        jkt: cx.jkt,
        act: None,
    };
    let family = cx
        .client
        .allows_grant(GrantType::RefreshToken)
        .then(|| Family {
            id: &family_id,
            expires_at: cx.now.plus_secs(cx.client.refresh_family_ttl_secs),
            session_id: &approval.session_id,
            scopes,
            resources: &[],
            jkt: cx.family_key(),
        });
    let issued = issue::tokens(cx.state, &grant, None, family, cx.now, cx.meta)
        .await
        .map_err(|e| cx.internal(e))?;
    Ok(issued.into_response())
}
