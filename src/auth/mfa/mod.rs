//! Second factors: enrolment, use at sign-in, removal, backup codes, and the audited reset
//! for a person who lost every factor. Every change is audited and the person is told by email.

pub mod backup_codes;
pub mod totp;

use super::audit;
use super::one_time::{self, CodeError};
use crate::crypto::random_token;
use crate::domain::RequestMeta;
use crate::domain::{AuditEvent, Factor, FactorKind, Outcome, Tenant, Timestamp, User};
use crate::error::{AppError, AppResult};
use crate::state::throttle::LoginThrottle;
use crate::state::AppState;
use crate::store::{from_json, to_json, StoreError};
use backup_codes::BackupCodes;
use totp::TotpState;

/// A pending authenticator-app enrolment lives this long.
const TOTP_ENROLMENT_SECS: i64 = 900;
const TOTP_ENROLMENT_KIND: &str = "totp_enrolment";

#[derive(Debug, thiserror::Error)]
pub enum MfaError {
    #[error("that code is not right")]
    Wrong,
    #[error("too many attempts; wait {0} seconds")]
    Throttled(u64),
    #[error("this way of signing in is not available")]
    Unavailable,
    /// Input broke a rule; the message is safe to show.
    #[error("{0}")]
    Invalid(&'static str),
    #[error(transparent)]
    Code(#[from] CodeError),
    #[error(transparent)]
    Internal(#[from] AppError),
}

impl From<StoreError> for MfaError {
    fn from(e: StoreError) -> Self {
        Self::Internal(e.into())
    }
}

pub async fn factors_of(state: &AppState, tenant: &Tenant, user: &User) -> AppResult<Vec<Factor>> {
    Ok(state.store.factors.of_user(tenant.id, user.id).await?)
}

/// The kinds this person can sign in with as a second factor under the tenant's policy.
pub fn usable_kinds(tenant: &Tenant, factors: &[Factor]) -> Vec<FactorKind> {
    let mut kinds: Vec<FactorKind> = factors
        .iter()
        .map(|f| f.kind)
        .filter(|k| *k != FactorKind::BackupCodes && tenant.settings.allows(*k))
        .collect();
    kinds.dedup();
    if !kinds.is_empty() && factors.iter().any(|f| f.kind == FactorKind::BackupCodes) {
        kinds.push(FactorKind::BackupCodes);
    }
    kinds
}

fn throttle_key(tenant: &Tenant, user: &User) -> String {
    LoginThrottle::account_key(&tenant.id.to_string(), &format!("mfa:{}", user.id))
}

fn actor(user: &User) -> String {
    format!("user:{}", user.id)
}

/// Tells the person about a change to how they sign in, so a change they did not make stands out.
pub fn notify(state: &AppState, tenant: &Tenant, user: &User, what: &str) {
    let body = format!(
        "Hello,\n\n{what}\n\nAccount: {email}\nOrganisation: {org}\n\nIf this was you, there is nothing to do. If it was not, reset your password now and contact your administrator.\n",
        email = user.email,
        org = tenant.name,
    );
    state.mailer.send(
        &user.email,
        &format!("Security notice for your {} account", tenant.name),
        body,
        "security notice",
    );
}

/// The secret and QR code of an authenticator-app enrolment that is waiting for its first code.
#[derive(Clone, Debug)]
pub struct TotpEnrolment {
    pub qr_data_url: String,
    pub secret_base32: String,
}

/// Starts (or shows again) the person's authenticator-app enrolment. The secret is kept
/// sealed in the short-lived store until a code proves the app has it.
pub async fn begin_totp(
    state: &AppState,
    tenant: &Tenant,
    user: &User,
) -> Result<TotpEnrolment, MfaError> {
    if !tenant.settings.allows(FactorKind::Totp) {
        return Err(MfaError::Unavailable);
    }
    let store = &state.store.artifacts;
    let key = user.id.to_string();
    let pending = match store
        .get_ephemeral(tenant.id, TOTP_ENROLMENT_KIND, &key)
        .await?
    {
        Some(record) => from_json::<TotpState>(&record.value)?,
        None => {
            let sealed = TotpState::seal(&totp::new_secret(), &state.secrets);
            let expires = Timestamp::now().plus_secs(TOTP_ENROLMENT_SECS);
            match store
                .put_ephemeral(
                    tenant.id,
                    TOTP_ENROLMENT_KIND,
                    &key,
                    &to_json(&sealed),
                    expires,
                )
                .await
            {
                Ok(()) => sealed,
                // A second tab started the same enrolment a moment ago: show that one.
                Err(StoreError::Conflict(_)) => match store
                    .get_ephemeral(tenant.id, TOTP_ENROLMENT_KIND, &key)
                    .await?
                {
                    Some(record) => from_json(&record.value)?,
                    None => {
                        return Err(MfaError::Internal(AppError::internal("enrolment vanished")))
                    }
                },
                Err(e) => return Err(e.into()),
            }
        }
    };
    let secret = pending.secret(&state.secrets).map_err(AppError::internal)?;
    let (uri, secret_base32) = totp::provisioning(&secret, &tenant.name, user.email.as_str());
    Ok(TotpEnrolment {
        qr_data_url: totp::qr_data_url(&uri),
        secret_base32,
    })
}

/// Finishes the authenticator-app enrolment with a code from the app. Returns new backup
/// codes when this is the person's first factor.
pub async fn confirm_totp(
    state: &AppState,
    meta: &RequestMeta,
    tenant: &Tenant,
    user: &User,
    code: &str,
) -> Result<Option<Vec<String>>, MfaError> {
    if !tenant.settings.allows(FactorKind::Totp) {
        return Err(MfaError::Unavailable);
    }
    check_throttle(state, meta, tenant, user)?;
    let store = &state.store.artifacts;
    let key = user.id.to_string();
    let Some(record) = store
        .get_ephemeral(tenant.id, TOTP_ENROLMENT_KIND, &key)
        .await?
    else {
        return Err(CodeError::Expired.into());
    };
    let mut pending: TotpState = from_json(&record.value)?;
    let secret = pending.secret(&state.secrets).map_err(AppError::internal)?;
    let Some(step) = totp::matching_step(&secret, code, now_unix()) else {
        fail(state, meta, tenant, user, "mfa.enrolment", "wrong code").await;
        return Err(MfaError::Wrong);
    };
    if store
        .take_ephemeral(tenant.id, TOTP_ENROLMENT_KIND, &key)
        .await?
        .is_none()
    {
        return Err(CodeError::Expired.into());
    }
    pending.last_step = step;
    enrol(
        state,
        meta,
        tenant,
        user,
        FactorKind::Totp,
        None,
        to_json(&pending),
    )
    .await
}

/// Emails a code that turns on sign-in codes by email once typed back.
pub async fn begin_email_codes(
    state: &AppState,
    tenant: &Tenant,
    user: &User,
) -> Result<(), MfaError> {
    if !tenant.settings.allows(FactorKind::EmailCode) {
        return Err(MfaError::Unavailable);
    }
    one_time::send_code(
        state,
        tenant.id,
        &format!("enrol:{}", user.id),
        &user.email,
        &format!("Your {} verification code", tenant.name),
        "Use this code to turn on sign-in codes by email.",
    )
    .await?;
    Ok(())
}

/// Turns on email codes with the code that was sent; this also verifies the address.
pub async fn confirm_email_codes(
    state: &AppState,
    meta: &RequestMeta,
    tenant: &Tenant,
    user: &User,
    code: &str,
) -> Result<Option<Vec<String>>, MfaError> {
    if !tenant.settings.allows(FactorKind::EmailCode) {
        return Err(MfaError::Unavailable);
    }
    check_throttle(state, meta, tenant, user)?;
    if let Err(e) =
        one_time::check_code(state, tenant.id, &format!("enrol:{}", user.id), code).await
    {
        if matches!(e, CodeError::Wrong) {
            fail(state, meta, tenant, user, "mfa.enrolment", "wrong code").await;
        }
        return Err(e.into());
    }
    if !user.email_verified {
        let mut verified = user.clone();
        verified.email_verified = true;
        verified.updated_at = Timestamp::now();
        state.store.users.update(tenant.id, &verified).await?;
    }
    enrol(
        state,
        meta,
        tenant,
        user,
        FactorKind::EmailCode,
        None,
        "{}".into(),
    )
    .await
}

/// Stores a factor that has proved to work (named `name`, else after its kind). Returns new
/// backup codes when the person had none.
pub(crate) async fn enrol(
    state: &AppState,
    meta: &RequestMeta,
    tenant: &Tenant,
    user: &User,
    kind: FactorKind,
    name: Option<&str>,
    data: String,
) -> Result<Option<Vec<String>>, MfaError> {
    state.throttle.record_success(&throttle_key(tenant, user));
    let existing = factors_of(state, tenant, user).await?;
    let now = Timestamp::now();
    let factor = Factor {
        id: random_token(16),
        tenant_id: tenant.id,
        user_id: user.id,
        kind,
        name: name.unwrap_or(kind.label()).into(),
        data,
        version: 1,
        created_at: now,
        last_used_at: None,
    };
    state.store.factors.add(tenant.id, &factor).await?;
    audit(
        state,
        meta,
        tenant,
        user,
        "mfa.enrolled",
        Outcome::Success,
        kind.as_str(),
    )
    .await;
    notify(
        state,
        tenant,
        user,
        &format!(
            "{} was added as a way to confirm your sign-ins.",
            name.unwrap_or(kind.label())
        ),
    );
    let has_backup_codes = existing.iter().any(|f| f.kind == FactorKind::BackupCodes);
    if has_backup_codes {
        return Ok(None);
    }
    Ok(Some(
        store_new_backup_codes(state, tenant, user, &existing).await?,
    ))
}

/// Replaces the person's backup codes with ten new ones, which are returned to be shown once.
pub async fn new_backup_codes(
    state: &AppState,
    meta: &RequestMeta,
    tenant: &Tenant,
    user: &User,
) -> Result<Vec<String>, MfaError> {
    let existing = factors_of(state, tenant, user).await?;
    if usable_kinds(tenant, &existing).is_empty() {
        return Err(MfaError::Unavailable);
    }
    let codes = store_new_backup_codes(state, tenant, user, &existing).await?;
    audit(
        state,
        meta,
        tenant,
        user,
        "mfa.backup_codes_created",
        Outcome::Success,
        "",
    )
    .await;
    notify(
        state,
        tenant,
        user,
        "New backup codes were created; the old ones no longer work.",
    );
    Ok(codes)
}

async fn store_new_backup_codes(
    state: &AppState,
    tenant: &Tenant,
    user: &User,
    existing: &[Factor],
) -> AppResult<Vec<String>> {
    for old in existing
        .iter()
        .filter(|f| f.kind == FactorKind::BackupCodes)
    {
        state
            .store
            .factors
            .remove(tenant.id, user.id, &old.id)
            .await?;
    }
    let (codes, stored) = BackupCodes::generate();
    let factor = Factor {
        id: random_token(16),
        tenant_id: tenant.id,
        user_id: user.id,
        kind: FactorKind::BackupCodes,
        name: FactorKind::BackupCodes.label().into(),
        data: to_json(&stored),
        version: 1,
        created_at: Timestamp::now(),
        last_used_at: None,
    };
    state.store.factors.add(tenant.id, &factor).await?;
    Ok(codes)
}

/// How many backup codes are left, when the person has them.
pub fn backup_codes_left(factor: &Factor) -> Option<usize> {
    (factor.kind == FactorKind::BackupCodes)
        .then(|| {
            from_json::<BackupCodes>(&factor.data)
                .map(|c| c.unused.len())
                .ok()
        })
        .flatten()
}

/// Emails a sign-in code for the flow `flow_id`.
pub async fn send_sign_in_code(
    state: &AppState,
    tenant: &Tenant,
    user: &User,
    flow_id: &str,
) -> Result<(), MfaError> {
    let factors = factors_of(state, tenant, user).await?;
    if !usable_kinds(tenant, &factors).contains(&FactorKind::EmailCode) {
        return Err(MfaError::Unavailable);
    }
    one_time::send_code(
        state,
        tenant.id,
        &format!("signin:{flow_id}"),
        &user.email,
        &format!("Your {} sign-in code", tenant.name),
        "Someone (hopefully you) is signing in and entered your password.",
    )
    .await?;
    Ok(())
}

/// What a successful second factor was, for `amr`, and what is worth telling the person.
#[derive(Debug, PartialEq, Eq)]
pub struct Verified {
    pub kind: FactorKind,
    /// After a backup code: how many are left.
    pub backup_codes_left: Option<usize>,
}

/// Checks a second factor at sign-in. `flow_id` names the sign-in an emailed code belongs to.
pub async fn verify(
    state: &AppState,
    meta: &RequestMeta,
    tenant: &Tenant,
    user: &User,
    kind: FactorKind,
    code: &str,
    flow_id: &str,
) -> Result<Verified, MfaError> {
    check_throttle(state, meta, tenant, user)?;
    let factors = factors_of(state, tenant, user).await?;
    if !usable_kinds(tenant, &factors).contains(&kind) {
        return Err(MfaError::Unavailable);
    }
    let outcome = match kind {
        FactorKind::Totp => verify_totp(state, tenant, &factors, code).await,
        FactorKind::BackupCodes => verify_backup_code(state, tenant, &factors, code).await,
        FactorKind::EmailCode => {
            match one_time::check_code(state, tenant.id, &format!("signin:{flow_id}"), code).await {
                Ok(()) => Ok(Ok(None)),
                Err(CodeError::Wrong) => Ok(Err("wrong code")),
                Err(e) => return Err(e.into()),
            }
        }
        FactorKind::Passkey => return Err(MfaError::Unavailable),
    }?;
    match outcome {
        Ok(left) => {
            let reason = match left {
                Some(n) => format!("{} ({n} backup codes left)", kind.as_str()),
                None => kind.as_str().to_owned(),
            };
            passed(state, meta, tenant, user, &reason).await;
            if let Some(n) = left {
                notify(
                    state,
                    tenant,
                    user,
                    &format!("A backup code was used to sign in. {n} backup codes are left."),
                );
            }
            Ok(Verified {
                kind,
                backup_codes_left: left,
            })
        }
        Err(why) => {
            fail(
                state,
                meta,
                tenant,
                user,
                "login.second_factor",
                &format!("{}: {why}", kind.as_str()),
            )
            .await;
            Err(MfaError::Wrong)
        }
    }
}

/// `Ok(Ok(backup codes left))` on success, `Ok(Err(why))` for a wrong code.
type Check = Result<Result<Option<usize>, &'static str>, MfaError>;

async fn verify_totp(state: &AppState, tenant: &Tenant, factors: &[Factor], code: &str) -> Check {
    let now = now_unix();
    for factor in factors.iter().filter(|f| f.kind == FactorKind::Totp) {
        let mut stored: TotpState = from_json(&factor.data)?;
        let secret = stored.secret(&state.secrets).map_err(AppError::internal)?;
        let Some(step) = totp::matching_step(&secret, code, now) else {
            continue;
        };
        // RFC 6238 §5.2: a code is accepted once; so is any code older than the last one.
        if step <= stored.last_step {
            return Ok(Err("code already used"));
        }
        stored.last_step = step;
        return Ok(save_use(state, tenant, factor, &stored)
            .await?
            .map(|()| None));
    }
    Ok(Err("wrong code"))
}

async fn verify_backup_code(
    state: &AppState,
    tenant: &Tenant,
    factors: &[Factor],
    code: &str,
) -> Check {
    let Some(factor) = factors.iter().find(|f| f.kind == FactorKind::BackupCodes) else {
        return Ok(Err("no backup codes"));
    };
    let mut stored: BackupCodes = from_json(&factor.data)?;
    if !stored.spend(code) {
        return Ok(Err(if stored.unused.is_empty() {
            "backup codes used up"
        } else {
            "wrong code"
        }));
    }
    let left = stored.unused.len();
    Ok(save_use(state, tenant, factor, &stored)
        .await?
        .map(|()| Some(left)))
}

/// Stores the factor's state after a use; `Err` when a concurrent use of the same state won,
/// which makes this use a replay.
async fn save_use<T: serde::Serialize>(
    state: &AppState,
    tenant: &Tenant,
    factor: &Factor,
    stored: &T,
) -> Result<Result<(), &'static str>, MfaError> {
    let swapped = state
        .store
        .factors
        .swap(
            tenant.id,
            &factor.id,
            factor.version,
            &to_json(stored),
            Timestamp::now(),
        )
        .await?;
    Ok(if swapped {
        Ok(())
    } else {
        Err("code already used")
    })
}

pub(crate) fn check_throttle(
    state: &AppState,
    meta: &RequestMeta,
    tenant: &Tenant,
    user: &User,
) -> Result<(), MfaError> {
    match state
        .throttle
        .wait_time(&throttle_key(tenant, user), meta.ip.as_deref())
    {
        Some(wait) => Err(MfaError::Throttled(wait.as_secs().max(1))),
        None => Ok(()),
    }
}

/// A second factor passed: the attempt counter starts again, and the audit log says which.
pub(crate) async fn passed(
    state: &AppState,
    meta: &RequestMeta,
    tenant: &Tenant,
    user: &User,
    which: &str,
) {
    state.throttle.record_success(&throttle_key(tenant, user));
    audit(
        state,
        meta,
        tenant,
        user,
        "login.second_factor",
        Outcome::Success,
        which,
    )
    .await;
}

pub(crate) async fn fail(
    state: &AppState,
    meta: &RequestMeta,
    tenant: &Tenant,
    user: &User,
    action: &str,
    why: &str,
) {
    state
        .throttle
        .record_failure(&throttle_key(tenant, user), meta.ip.as_deref());
    audit(state, meta, tenant, user, action, Outcome::Failure, why).await;
}

/// Removes one factor of the person. Removing the last way to sign in removes the backup codes
/// too, since they only stand in for a factor.
pub async fn remove(
    state: &AppState,
    meta: &RequestMeta,
    tenant: &Tenant,
    user: &User,
    factor_id: &str,
) -> AppResult<()> {
    let factors = factors_of(state, tenant, user).await?;
    let Some(factor) = factors.iter().find(|f| f.id == factor_id) else {
        return Err(AppError::NotFound);
    };
    if !state
        .store
        .factors
        .remove(tenant.id, user.id, &factor.id)
        .await?
    {
        return Err(AppError::NotFound);
    }
    let others_left = factors
        .iter()
        .any(|f| f.id != factor.id && f.kind != FactorKind::BackupCodes);
    if !others_left {
        for codes in factors.iter().filter(|f| f.kind == FactorKind::BackupCodes) {
            state
                .store
                .factors
                .remove(tenant.id, user.id, &codes.id)
                .await?;
        }
    }
    audit(
        state,
        meta,
        tenant,
        user,
        "mfa.removed",
        Outcome::Success,
        factor.kind.as_str(),
    )
    .await;
    notify(
        state,
        tenant,
        user,
        &format!(
            "{} was removed from the ways to confirm your sign-ins.",
            factor.name
        ),
    );
    Ok(())
}

/// For a person who lost every factor: removes them all, audited with the reason. At the next
/// sign-in they enrol again if their organisation requires a second factor.
pub async fn reset(
    state: &AppState,
    meta: &RequestMeta,
    tenant: &Tenant,
    user: &User,
    by: &str,
    reason: &str,
) -> AppResult<u64> {
    let reason = AuditEvent::check_reason(reason)?;
    let removed = state.store.factors.remove_all(tenant.id, user.id).await?;
    let event = AuditEvent::new(tenant.id, "mfa.reset", Outcome::Success, by)
        .target(actor(user))
        .reason(reason);
    state.audit(event, meta).await;
    notify(
        state,
        tenant,
        user,
        "An administrator removed every second factor from your account. Set one up again on your account page.",
    );
    Ok(removed)
}

fn now_unix() -> u64 {
    Timestamp::now().unix().max(0) as u64
}
