use super::{audit, Actor};
use crate::crypto::{random_token, sha256_hex, signing};
use crate::domain::{
    Client, ClientKey, ClientType, GrantType, RedirectUri, SigningAlg, Tenant, Timestamp,
    TokenAuthMethod,
};
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// What a client is registered with; everything left out takes its default.
#[derive(Debug, Default)]
pub struct NewClient {
    pub client_id: String,
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub public: bool,
    /// Empty: authorization_code only.
    pub grants: Vec<GrantType>,
    /// Empty: openid, profile and email.
    pub scopes: Vec<String>,
    /// RFC 8707 resource indicators the client may ask tokens for.
    pub resources: Vec<String>,
    /// How its ID tokens are signed.
    pub id_token_alg: SigningAlg,
    pub post_logout_redirect_uris: Vec<String>,
    pub backchannel_logout_uri: Option<String>,
    /// RFC 9126 §6: refuse authorization requests that were not pushed.
    pub require_par: bool,
    /// A JWK Set (JSON) of the client's public keys: it then authenticates with
    /// `private_key_jwt` and gets no secret.
    pub jwks: Option<String>,
}

/// Registers a client; returns it and, for clients authenticating with a secret, the secret
/// (shown once).
pub async fn create(
    state: &AppState,
    actor: &Actor,
    tenant: &Tenant,
    new: NewClient,
) -> AppResult<(Client, Option<String>)> {
    Client::validate_client_id(&new.client_id)?;
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::Invalid(
            "A client name is 1 to 100 characters.".into(),
        ));
    }
    let grant_types = grants(&new)?;
    // Clients that never send anyone to the authorization endpoint need no redirect URI.
    if new.redirect_uris.is_empty() && grant_types.contains(&GrantType::AuthorizationCode) {
        return Err(AppError::Invalid("Give at least one redirect URI.".into()));
    }
    let redirect_uris = parse_uris(&new.redirect_uris)?;
    let post_logout_redirect_uris = parse_uris(&new.post_logout_redirect_uris)?;
    let backchannel_logout_uri = match &new.backchannel_logout_uri {
        Some(uri) => Some(RedirectUri::parse(uri)?.as_str().to_owned()),
        None => None,
    };
    let scopes: Vec<String> = if new.scopes.is_empty() {
        Client::DEFAULT_SCOPES
            .iter()
            .map(|s| s.to_string())
            .collect()
    } else {
        new.scopes.clone()
    };
    for scope in &scopes {
        Client::validate_scope(scope)?;
    }
    for resource in &new.resources {
        Client::validate_resource(resource)?;
    }
    let jwks = match &new.jwks {
        Some(_) if new.public => {
            return Err(AppError::Invalid(
                "A public client has no keys: it cannot use private_key_jwt.".into(),
            ));
        }
        Some(raw) => Some(validate_jwks(raw)?),
        None => None,
    };
    let (auth_method, secret) = match (&jwks, new.public) {
        (_, true) => (TokenAuthMethod::None, None),
        (Some(_), false) => (TokenAuthMethod::PrivateKeyJwt, None),
        (None, false) => (TokenAuthMethod::ClientSecretBasic, Some(random_token(32))),
    };
    let client = Client {
        key: ClientKey::generate(),
        tenant_id: tenant.id,
        client_id: new.client_id.clone(),
        name: name.to_owned(),
        client_type: if new.public {
            ClientType::Public
        } else {
            ClientType::Confidential
        },
        secret_hash: secret.as_deref().map(sha256_hex),
        redirect_uris,
        grant_types,
        scopes,
        require_pkce: true,
        require_consent: true,
        auth_method,
        access_token_ttl_secs: 600,
        id_token_ttl_secs: 600,
        refresh_token_ttl_secs: tenant.settings.refresh_idle_secs,
        refresh_family_ttl_secs: tenant.settings.refresh_absolute_secs,
        resources: new.resources,
        id_token_alg: new.id_token_alg,
        require_par: new.require_par,
        post_logout_redirect_uris,
        backchannel_logout_uri,
        jwks,
        previous_secret_hash: None,
        previous_secret_expires_at: None,
        disabled: false,
        created_at: Timestamp::now(),
    };
    // The key its ID tokens need is in the JWKS before the client exists.
    state
        .keys
        .ensure_alg(tenant.id, client.id_token_alg)
        .await?;
    state.store.clients.create(tenant.id, &client).await?;
    audit(
        state,
        actor,
        tenant.id,
        "client.created",
        format!("client:{}", client.client_id),
    )
    .await;
    Ok((client, secret))
}

fn grants(new: &NewClient) -> AppResult<Vec<GrantType>> {
    let mut grants: Vec<GrantType> = if new.grants.is_empty() {
        vec![GrantType::AuthorizationCode]
    } else {
        new.grants.clone()
    };
    grants.sort_by_key(|g| g.as_str());
    grants.dedup();
    if new.public && grants.contains(&GrantType::ClientCredentials) {
        return Err(AppError::Invalid(
            "A public client cannot use client_credentials: it has no secret.".into(),
        ));
    }
    Ok(grants)
}

fn parse_uris(raw: &[String]) -> AppResult<Vec<RedirectUri>> {
    Ok(raw
        .iter()
        .map(|u| RedirectUri::parse(u))
        .collect::<Result<Vec<_>, _>>()?)
}

/// A JWK Set of public keys we can verify with; a private key in it is refused, since a client
/// that sends one has leaked it.
fn validate_jwks(raw: &str) -> AppResult<String> {
    let invalid = |why: &str| AppError::Invalid(format!("The JWK Set is not usable: {why}."));
    let set: serde_json::Value = serde_json::from_str(raw).map_err(|_| invalid("not JSON"))?;
    let keys = set["keys"]
        .as_array()
        .filter(|k| !k.is_empty() && k.len() <= 20)
        .ok_or_else(|| invalid("it needs 1 to 20 keys in \"keys\""))?;
    for key in keys {
        if ["d", "p", "q", "dp", "dq", "qi", "k"]
            .iter()
            .any(|private| key.get(private).is_some())
        {
            return Err(invalid(
                "it holds a private or symmetric key; register public keys only",
            ));
        }
        signing::decoding_key(key).map_err(|e| invalid(&e))?;
    }
    Ok(set.to_string())
}

/// Gives a secret client a new secret, printed once; the old one keeps working for
/// `grace_secs` so the application can be redeployed without downtime.
pub async fn rotate_secret(
    state: &AppState,
    actor: &Actor,
    tenant: &Tenant,
    client_id: &str,
    grace_secs: i64,
) -> AppResult<String> {
    if !(0..=30 * 24 * 3600).contains(&grace_secs) {
        return Err(AppError::Invalid(
            "The grace period is 0 to 2592000 seconds (30 days).".into(),
        ));
    }
    let mut client = state
        .store
        .clients
        .by_client_id(tenant.id, client_id)
        .await?
        .ok_or_else(|| AppError::Invalid(format!("there is no client {client_id:?}")))?;
    if client.secret_hash.is_none() {
        return Err(AppError::Invalid(format!(
            "client {client_id:?} does not use a secret ({})",
            client.auth_method.as_str()
        )));
    }
    let secret = random_token(32);
    client.previous_secret_hash = client.secret_hash.take();
    client.previous_secret_expires_at = Some(Timestamp::now().plus_secs(grace_secs));
    client.secret_hash = Some(sha256_hex(&secret));
    state.store.clients.update(tenant.id, &client).await?;
    audit(
        state,
        actor,
        tenant.id,
        "client.secret_rotated",
        format!("client:{client_id}"),
    )
    .await;
    Ok(secret)
}
