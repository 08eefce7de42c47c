use super::{audit, Actor};
use crate::crypto::{random_token, sha256_hex};
use crate::domain::SigningAlg;
use crate::domain::{
    Client, ClientKey, ClientType, GrantType, RedirectUri, Tenant, Timestamp, TokenAuthMethod,
};
use crate::error::{AppError, AppResult};
use crate::state::AppState;

pub struct NewClient<'a> {
    pub client_id: &'a str,
    pub name: &'a str,
    pub redirect_uris: &'a [String],
    pub public: bool,
    pub grants: &'a [GrantType],
    pub scopes: &'a [String],
    /// RFC 8707 resource indicators the client may ask tokens for.
    pub resources: &'a [String],
    /// How its ID tokens are signed; ES256 unless it asks for another.
    pub id_token_alg: SigningAlg,
}

/// Registers a client; returns it and, for confidential clients, the secret (shown once).
pub async fn create(
    state: &AppState,
    actor: &Actor,
    tenant: &Tenant,
    new: NewClient<'_>,
) -> AppResult<(Client, Option<String>)> {
    Client::validate_client_id(new.client_id)?;
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::Invalid(
            "A client name is 1 to 100 characters.".into(),
        ));
    }
    if new.redirect_uris.is_empty() {
        return Err(AppError::Invalid("Give at least one redirect URI.".into()));
    }
    let redirect_uris = new
        .redirect_uris
        .iter()
        .map(|u| RedirectUri::parse(u))
        .collect::<Result<Vec<_>, _>>()?;
    let mut grant_types: Vec<GrantType> = if new.grants.is_empty() {
        vec![GrantType::AuthorizationCode]
    } else {
        new.grants.to_vec()
    };
    grant_types.dedup();
    if new.public && grant_types.contains(&GrantType::ClientCredentials) {
        return Err(AppError::Invalid(
            "A public client cannot use client_credentials: it has no secret.".into(),
        ));
    }
    let scopes: Vec<String> = if new.scopes.is_empty() {
        Client::DEFAULT_SCOPES
            .iter()
            .map(|s| s.to_string())
            .collect()
    } else {
        new.scopes.to_vec()
    };
    for scope in &scopes {
        Client::validate_scope(scope)?;
    }
    let resources = new
        .resources
        .iter()
        .map(|r| Client::validate_resource(r).map(|()| r.clone()))
        .collect::<Result<Vec<_>, _>>()?;
    let secret = (!new.public).then(|| random_token(32));
    let client = Client {
        key: ClientKey::generate(),
        tenant_id: tenant.id,
        client_id: new.client_id.to_owned(),
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
        auth_method: if new.public {
            TokenAuthMethod::None
        } else {
            TokenAuthMethod::ClientSecretBasic
        },
        access_token_ttl_secs: 600,
        id_token_ttl_secs: 600,
        refresh_token_ttl_secs: tenant.settings.refresh_idle_secs,
        refresh_family_ttl_secs: tenant.settings.refresh_absolute_secs,
        resources,
        id_token_alg: new.id_token_alg,
        require_par: false,
        post_logout_redirect_uris: Vec::new(),
        backchannel_logout_uri: None,
        jwks: None,
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
