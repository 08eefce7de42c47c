//! Second factors at sign-in: sending an emailed code and checking a code of any kind, once.

use super::*;

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
    check_throttle(state, meta, tenant, user).await?;
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
