//! Passkeys and security keys (WebAuthn, with webauthn-rs): registered on the account page,
//! used as a second factor, and, being discoverable and user-verifying, to sign in without a
//! password. The ceremony state waits in the short-lived store between the two round trips.

use super::login::{self, LoginError};
use super::mfa::{self, MfaError};
use super::one_time::CodeError;
use crate::domain::RequestMeta;
use crate::domain::{Factor, FactorKind, FlowStep, LoginFlow, Tenant, Timestamp, User};
use crate::error::AppError;
use crate::state::relying_party::RelyingParty;
use crate::state::AppState;
use crate::store::{from_json, to_json, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tower_sessions::Session;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, DiscoverableKey, Passkey, PasskeyAuthentication,
    PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential, Webauthn, WebauthnError,
};

/// A ceremony must finish within five minutes (the WebAuthn default timeout).
const CEREMONY_SECS: i64 = 300;
const REGISTRATION_KIND: &str = "passkey_registration";
const AUTHENTICATION_KIND: &str = "passkey_authentication";

/// The relying party, or why passkeys cannot be used here.
fn webauthn(passkeys: &RelyingParty) -> Result<&Webauthn, MfaError> {
    passkeys.webauthn().ok_or(MfaError::Unavailable)
}

/// What a passkey factor stores.
#[derive(Serialize, Deserialize)]
struct StoredPasskey {
    passkey: Passkey,
}

#[derive(Serialize, Deserialize)]
enum Ceremony {
    SecondFactor(PasskeyAuthentication),
    Passwordless(DiscoverableAuthentication),
}

fn passkeys_of(factors: &[Factor]) -> Result<Vec<(&Factor, Passkey)>, StoreError> {
    factors
        .iter()
        .filter(|f| f.kind == FactorKind::Passkey)
        .map(|f| from_json::<StoredPasskey>(&f.data).map(|s| (f, s.passkey)))
        .collect()
}

/// Replaces the record (`kind`, `key`) with `value` for the next step of a ceremony.
async fn remember(
    state: &AppState,
    tenant: &Tenant,
    kind: &str,
    key: &str,
    value: String,
) -> Result<(), StoreError> {
    let store = &state.store.artifacts;
    store.take_ephemeral(tenant.id, kind, key).await?;
    let expires = Timestamp::now().plus_secs(CEREMONY_SECS);
    store
        .put_ephemeral(tenant.id, kind, key, &value, expires)
        .await
}

/// The options for `navigator.credentials.create()`: a discoverable credential (a passkey),
/// verified by the person (PIN, fingerprint, face), not one the person already has.
pub async fn begin_registration(
    state: &AppState,
    tenant: &Tenant,
    user: &User,
) -> Result<Value, MfaError> {
    if !tenant.settings.allows(FactorKind::Passkey) {
        return Err(MfaError::Unavailable);
    }
    let factors = mfa::factors_of(state, tenant, user).await?;
    let exclude = passkeys_of(&factors)?
        .iter()
        .map(|(_, p)| p.cred_id().clone())
        .collect();
    let display = user.name.clone().unwrap_or_else(|| user.email.to_string());
    let (options, registration) = webauthn(&state.passkeys)?
        .start_passkey_registration(
            user.id.as_uuid(),
            user.email.as_str(),
            &display,
            Some(exclude),
        )
        .map_err(AppError::internal)?;
    remember(
        state,
        tenant,
        REGISTRATION_KIND,
        &user.id.to_string(),
        to_json(&registration),
    )
    .await?;
    let mut options = serde_json::to_value(options).map_err(AppError::internal)?;
    // Passwordless sign-in finds the account from the credential: it must be discoverable.
    if let Some(selection) = options.pointer_mut("/publicKey/authenticatorSelection") {
        selection["residentKey"] = "required".into();
        selection["requireResidentKey"] = true.into();
    }
    Ok(options)
}

/// Checks the new credential and stores it as a passkey named `name`. Returns new backup codes
/// when this is the person's first second factor.
pub async fn finish_registration(
    state: &AppState,
    meta: &RequestMeta,
    tenant: &Tenant,
    user: &User,
    name: &str,
    credential: &RegisterPublicKeyCredential,
) -> Result<Option<Vec<String>>, MfaError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 60 || name.chars().any(char::is_control) {
        return Err(MfaError::Invalid(
            "Name the passkey in 1 to 60 characters, like \"Work laptop\".",
        ));
    }
    let Some(record) = state
        .store
        .artifacts
        .take_ephemeral(tenant.id, REGISTRATION_KIND, &user.id.to_string())
        .await?
    else {
        return Err(CodeError::Expired.into());
    };
    let registration: PasskeyRegistration = from_json(&record.value)?;
    let passkey =
        match webauthn(&state.passkeys)?.finish_passkey_registration(credential, &registration) {
            Ok(passkey) => passkey,
            Err(e) => {
                mfa::fail(
                    state,
                    meta,
                    tenant,
                    user,
                    "mfa.enrolment",
                    &format!("passkey refused: {e}"),
                )
                .await;
                return Err(MfaError::Wrong);
            }
        };
    let data = to_json(&StoredPasskey { passkey });
    mfa::enrol(
        state,
        meta,
        tenant,
        user,
        FactorKind::Passkey,
        Some(name),
        data,
    )
    .await
}

/// The options for `navigator.credentials.get()` in sign-in `flow`: the person's own passkeys at
/// the second-factor step, any discoverable passkey of this site before the password.
pub async fn begin_sign_in(
    state: &AppState,
    tenant: &Tenant,
    flow: &LoginFlow,
) -> Result<Value, LoginError> {
    let webauthn = webauthn(&state.passkeys)?;
    let (options, ceremony) = match flow.step {
        FlowStep::SecondFactor { .. } => {
            let user = login::pending_user(state, tenant, flow).await?;
            let factors = mfa::factors_of(state, tenant, &user).await?;
            if !mfa::usable_kinds(tenant, &factors).contains(&FactorKind::Passkey) {
                return Err(MfaError::Unavailable.into());
            }
            let keys: Vec<Passkey> = passkeys_of(&factors)?.into_iter().map(|(_, p)| p).collect();
            let (options, auth) = webauthn
                .start_passkey_authentication(&keys)
                .map_err(AppError::internal)?;
            (options, Ceremony::SecondFactor(auth))
        }
        FlowStep::Identify | FlowStep::Password { .. } => {
            if !tenant.settings.allows(FactorKind::Passkey) {
                return Err(MfaError::Unavailable.into());
            }
            let (options, auth) = webauthn
                .start_discoverable_authentication()
                .map_err(AppError::internal)?;
            (options, Ceremony::Passwordless(auth))
        }
        _ => return Err(LoginError::OutOfOrder),
    };
    remember(
        state,
        tenant,
        AUTHENTICATION_KIND,
        &flow.id,
        to_json(&ceremony),
    )
    .await?;
    Ok(serde_json::to_value(options).map_err(AppError::internal)?)
}

/// Checks the passkey's signature and signs the browser in. A credential of another account,
/// an unknown one, or one whose signature counter went backwards (a cloned authenticator,
/// WebAuthn §6.1.1) is refused and audited.
pub async fn finish_sign_in(
    state: &AppState,
    session: &Session,
    meta: &RequestMeta,
    tenant: &Tenant,
    flow: LoginFlow,
    credential: &PublicKeyCredential,
) -> Result<LoginFlow, LoginError> {
    let webauthn = webauthn(&state.passkeys)?;
    let Some(record) = state
        .store
        .artifacts
        .take_ephemeral(tenant.id, AUTHENTICATION_KIND, &flow.id)
        .await?
    else {
        return Err(MfaError::Code(CodeError::Expired).into());
    };
    let ceremony: Ceremony = from_json(&record.value)?;
    let (user, passwordless) = match &ceremony {
        Ceremony::SecondFactor(_) => (login::pending_user(state, tenant, &flow).await?, false),
        Ceremony::Passwordless(_) => {
            let user_id = webauthn
                .identify_discoverable_authentication(credential)
                .map(|(id, _)| crate::domain::UserId::from(id))
                .map_err(|_| LoginError::IncorrectCredentials)?;
            match login::active_user(state, tenant, user_id).await {
                Ok(user) => (user, true),
                Err(_) => return Err(LoginError::IncorrectCredentials),
            }
        }
    };
    mfa::check_throttle(state, meta, tenant, &user).await?;
    let factors = mfa::factors_of(state, tenant, &user).await?;
    let keys = passkeys_of(&factors)?;
    let checked = match ceremony {
        Ceremony::SecondFactor(auth) => webauthn.finish_passkey_authentication(credential, &auth),
        Ceremony::Passwordless(auth) => {
            let discoverable: Vec<DiscoverableKey> = keys.iter().map(|(_, p)| p.into()).collect();
            webauthn.finish_discoverable_authentication(credential, auth, &discoverable)
        }
    };
    let result = match checked {
        Ok(result) => result,
        Err(e) => {
            let why = match e {
                WebauthnError::CredentialPossibleCompromise => {
                    "passkey: signature counter went backwards (cloned authenticator?)".to_owned()
                }
                other => format!("passkey refused: {other}"),
            };
            mfa::fail(state, meta, tenant, &user, "login.second_factor", &why).await;
            return Err(if passwordless {
                LoginError::IncorrectCredentials
            } else {
                MfaError::Wrong.into()
            });
        }
    };
    let Some((factor, mut passkey)) = keys
        .into_iter()
        .find(|(_, p)| p.cred_id() == result.cred_id())
    else {
        return Err(LoginError::IncorrectCredentials);
    };
    if passkey.update_credential(&result) == Some(true) {
        let saved = state
            .store
            .factors
            .swap(
                tenant.id,
                &factor.id,
                factor.version,
                &to_json(&StoredPasskey { passkey }),
                Timestamp::now(),
            )
            .await?;
        if !saved {
            mfa::fail(
                state,
                meta,
                tenant,
                &user,
                "login.second_factor",
                "passkey: used twice at once",
            )
            .await;
            return Err(MfaError::Wrong.into());
        }
    }
    mfa::passed(
        state,
        meta,
        tenant,
        &user,
        &format!("passkey {}", factor.name),
    )
    .await;
    // RFC 8176: a synced passkey is a software key, a device-bound one a hardware key.
    let key = if result.backup_eligible() {
        "swk"
    } else {
        "hwk"
    };
    let amr = if passwordless {
        vec![key.into(), "user".into(), "mfa".into()]
    } else {
        vec![flow.first_method().into(), key.into(), "mfa".into()]
    };
    login::complete(state, session, meta, tenant, flow, &user, amr).await
}
