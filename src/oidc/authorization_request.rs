//! The checks of an authorization request's parameters (RFC 6749 §4.1.1, OIDC Core §3.1.2.1,
//! RFC 7636, RFC 9700 §2.1.1), shared by the authorization endpoint and pushed authorization
//! requests (RFC 9126), which both sit above it.

use super::pkce;
use crate::domain::{AuthorizationRequest, Client, GrantType, ResponseMode};
use std::collections::HashMap;

/// An OAuth error code and its description.
pub type Rejection = (&'static str, String);

/// The checks of an authorization request beyond its client and redirect URI, which the
/// caller has made. Pushed requests (RFC 9126) are checked with it too.
pub fn validate(
    params: &HashMap<String, String>,
    client: &Client,
) -> Result<AuthorizationRequest, Rejection> {
    let invalid = |d: &str| ("invalid_request", d.to_owned());
    for (name, value) in params {
        if value.len() > 2048 {
            return Err(invalid(&format!("parameter {name} is too long")));
        }
    }
    // OIDC Core §6: request objects are not supported.
    if params.contains_key("request_uri") {
        return Err(invalid("a pushed request cannot name another request_uri"));
    }
    match params.get("response_type").map(String::as_str) {
        Some("code") => {}
        None => return Err(invalid("response_type is missing")),
        Some(_) => {
            return Err((
                "unsupported_response_type",
                "only response_type=code is supported".into(),
            ))
        }
    }
    if !client.allows_grant(GrantType::AuthorizationCode) {
        return Err((
            "unauthorized_client",
            "this client may not use the authorization code flow".into(),
        ));
    }
    let response_mode =
        response_mode(params).ok_or_else(|| invalid("response_mode must be query or form_post"))?;

    let scope = params.get("scope").map(String::as_str).unwrap_or("");
    let mut scopes: Vec<String> = Vec::new();
    for s in scope.split(' ').filter(|s| !s.is_empty()) {
        if !client.scopes.iter().any(|c| c == s) {
            return Err((
                "invalid_scope",
                format!("scope {s:?} is not available to this client"),
            ));
        }
        if !scopes.iter().any(|x| x == s) {
            scopes.push(s.to_owned());
        }
    }
    if scopes.is_empty() {
        return Err((
            "invalid_scope",
            "scope is missing; request at least \"openid\"".into(),
        ));
    }

    let challenge = params.get("code_challenge").cloned();
    match (
        params.get("code_challenge_method").map(String::as_str),
        &challenge,
    ) {
        (_, None) if client.pkce_required() => {
            return Err(invalid("code_challenge is required (PKCE with S256)"))
        }
        (Some(_), None) => return Err(invalid("code_challenge_method without code_challenge")),
        (Some("S256"), Some(c)) if pkce::is_well_formed(c) => {}
        (Some("S256"), Some(_)) => return Err(invalid("code_challenge is malformed")),
        // RFC 7636 §4.3 defaults to plain, which RFC 9700 §2.1.1 says not to accept.
        (None, Some(_)) | (Some("plain"), Some(_)) => {
            return Err(invalid(
                "code_challenge_method must be S256; plain is not accepted",
            ))
        }
        (Some(_), Some(_)) => return Err(invalid("code_challenge_method must be S256")),
        (None, None) => {}
    }

    let prompts: Vec<&str> = params
        .get("prompt")
        .map(|p| p.split(' ').filter(|s| !s.is_empty()).collect())
        .unwrap_or_default();
    for p in &prompts {
        if !matches!(*p, "none" | "login" | "consent" | "select_account") {
            return Err(invalid(&format!("prompt value {p:?} is not supported")));
        }
    }
    // OIDC Core §3.1.2.1: none with any other value is an error.
    if prompts.contains(&"none") && prompts.len() > 1 {
        return Err(invalid("prompt=none cannot be combined with other values"));
    }
    let max_age = match params.get("max_age") {
        None => None,
        Some(v) => Some(
            v.parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| invalid("max_age must be a non-negative integer"))?,
        ),
    };
    let nonce = params.get("nonce").cloned();
    if nonce.as_ref().is_some_and(|n| n.len() > 512) {
        return Err(invalid("nonce is too long"));
    }

    // RFC 9449 §10: a JWK SHA-256 thumbprint, base64url without padding.
    let dpop_jkt = match params.get("dpop_jkt") {
        None => None,
        Some(jkt)
            if jkt.len() == 43
                && jkt
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            Some(jkt.clone())
        }
        Some(_) => return Err(invalid("dpop_jkt is not a JWK SHA-256 thumbprint")),
    };
    // RFC 8707 §2.1: each resource registered for the client, else `invalid_target`.
    let resources =
        super::requested_resources(params, client).map_err(|e| (e.code, e.description))?;
    Ok(AuthorizationRequest {
        client_id: client.client_id.clone(),
        redirect_uri: String::new(),
        scopes,
        state: None,
        nonce,
        code_challenge: challenge,
        response_mode,
        // OIDC Core §3.1.2.1: max_age=0 is equivalent to prompt=login.
        prompt_login: prompts.contains(&"login") || max_age == Some(0),
        prompt_consent: prompts.contains(&"consent"),
        prompt_none: prompts.contains(&"none"),
        max_age,
        login_hint: params.get("login_hint").filter(|h| h.len() <= 254).cloned(),
        acr_values: params
            .get("acr_values")
            .map(|v| v.split(' ').filter(|s| !s.is_empty()).take(10))
            .into_iter()
            .flatten()
            .filter(|v| v.len() <= 100)
            .map(str::to_owned)
            .collect(),
        dpop_jkt,
        resources,
    })
}

/// `response_mode`: query (the default) or form_post; None for any other.
pub fn response_mode(params: &HashMap<String, String>) -> Option<ResponseMode> {
    match params.get("response_mode").map(String::as_str) {
        None | Some("query") => Some(ResponseMode::Query),
        Some("form_post") => Some(ResponseMode::FormPost),
        Some(_) => None,
    }
}
