//! Enrolment: an authenticator app (after its first code), emailed codes, new backup codes.

use super::*;

/// A pending authenticator-app enrolment lives this long.
const TOTP_ENROLMENT_SECS: i64 = 900;
const TOTP_ENROLMENT_KIND: &str = "totp_enrolment";

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
    check_throttle(state, meta, tenant, user).await?;
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
    check_throttle(state, meta, tenant, user).await?;
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
    state
        .throttle
        .record_success(tenant.id, &throttle_key(user))
        .await?;
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
    let event = own_event(
        tenant,
        user,
        "mfa.enrolled",
        Outcome::Success,
        kind.as_str(),
    );
    let add = state.store.factors.add(tenant.id, &factor);
    state.audited(event, meta, add).await?;
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
