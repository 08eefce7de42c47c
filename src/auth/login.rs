//! The login step machine: identify -> password -> second factor (or enrolment of one, when
//! required) -> authenticated.
//! Each step accepts only the input it expects, and only from the browser the flow belongs to.

use super::mfa::{self, MfaError};
use super::{browser, links, reveal};
use crate::crypto::{constant_time_eq, random_token};
use crate::domain::RequestMeta;
use crate::domain::{
    AuditEvent, AuthorizationRequest, Email, FactorKind, FlowStep, LoginFlow, Outcome, Tenant,
    Timestamp, User, UserId, UserSession,
};
use crate::error::AppError;
use crate::state::throttle::LoginThrottle;
use crate::state::AppState;
use crate::store::StoreError;
use tower_sessions::Session;

/// A sign-in has ten minutes from first page to last step.
const FLOW_LIFETIME_SECS: i64 = 600;

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("this sign-in expired or belongs to another browser")]
    Expired,
    #[error("this step does not follow the previous one")]
    OutOfOrder,
    #[error("{0}")]
    InvalidEmail(String),
    /// One answer for unknown account, wrong password and blocked account: no enumeration.
    #[error("incorrect email or password")]
    IncorrectCredentials,
    #[error("too many attempts; wait {0} seconds")]
    Throttled(u64),
    /// A second factor (or the code that enrols one) was refused.
    #[error(transparent)]
    Factor(MfaError),
    #[error(transparent)]
    Internal(#[from] AppError),
}

impl crate::error::Fault for LoginError {
    fn is_outage(&self) -> bool {
        matches!(self, LoginError::Internal(e) if crate::error::Fault::is_outage(e))
    }
}

impl From<MfaError> for LoginError {
    fn from(e: MfaError) -> Self {
        match e {
            MfaError::Throttled(secs) => Self::Throttled(secs),
            MfaError::Internal(e) => Self::Internal(e),
            MfaError::Code(super::one_time::CodeError::Internal(e)) => Self::Internal(e),
            other => Self::Factor(other),
        }
    }
}

impl From<crate::store::StoreError> for LoginError {
    fn from(e: crate::store::StoreError) -> Self {
        Self::Internal(e.into())
    }
}

/// Starts a sign-in for an authorization `request`, or one that ends at `return_to`, a page of
/// this tenant (the home page when neither is given).
pub async fn start_flow(
    state: &AppState,
    session: &Session,
    tenant: &Tenant,
    request: Option<AuthorizationRequest>,
    return_to: Option<String>,
) -> Result<LoginFlow, LoginError> {
    let own_page = format!("/t/{}/", tenant.slug);
    let return_to = return_to.filter(|path| path.starts_with(&own_page) && !path.contains("//"));
    let now = Timestamp::now();
    let flow = LoginFlow {
        id: random_token(24),
        tenant_id: tenant.id,
        binding_hash: browser::binding_hash(session).await?,
        request,
        step: FlowStep::Identify,
        denied: false,
        return_to,
        upstream: None,
        created_at: now,
        expires_at: now.plus_secs(FLOW_LIFETIME_SECS),
    };
    state.store.artifacts.put_flow(tenant.id, &flow).await?;
    Ok(flow)
}

/// Loads a flow for this browser; a flow of another browser looks expired.
pub async fn load_flow(
    state: &AppState,
    session: &Session,
    tenant: &Tenant,
    id: &str,
) -> Result<LoginFlow, LoginError> {
    if id.is_empty() || id.len() > 64 {
        return Err(LoginError::Expired);
    }
    let flow = state
        .store
        .artifacts
        .get_flow(tenant.id, id)
        .await?
        .ok_or(LoginError::Expired)?;
    let binding = browser::binding_hash(session).await?;
    if !constant_time_eq(&flow.binding_hash, &binding) {
        return Err(LoginError::Expired);
    }
    Ok(flow)
}

/// Step 1: who is signing in. Never reveals whether the account exists.
pub async fn identify(
    state: &AppState,
    tenant: &Tenant,
    mut flow: LoginFlow,
    raw_email: &str,
) -> Result<LoginFlow, LoginError> {
    if matches!(flow.step, FlowStep::Authenticated { .. }) {
        return Err(LoginError::OutOfOrder);
    }
    let email = Email::parse(raw_email).map_err(|e| LoginError::InvalidEmail(e.to_string()))?;
    flow.step = FlowStep::Password {
        email: email.to_string(),
    };
    state.store.artifacts.put_flow(tenant.id, &flow).await?;
    Ok(flow)
}

/// Step 2: the password. On success the browser is signed in and the flow is `Authenticated`.
pub async fn verify_password(
    state: &AppState,
    session: &Session,
    meta: &RequestMeta,
    tenant: &Tenant,
    flow: LoginFlow,
    password: String,
) -> Result<LoginFlow, LoginError> {
    let FlowStep::Password { email } = &flow.step else {
        return Err(LoginError::OutOfOrder);
    };
    let email = email.clone();
    let account_key = LoginThrottle::account_key(&email);
    let ip = meta.ip.as_deref();
    if let Some(wait) = state
        .throttle
        .wait_time(tenant.id, &account_key, ip)
        .await?
    {
        let event = AuditEvent::new(tenant.id, "login.password", Outcome::Failure, "anonymous")
            .target(format!("email:{email}"))
            .reason("throttled");
        state.audit(event, meta).await;
        return Err(LoginError::Throttled(wait.as_secs().max(1)));
    }

    let user = if password.len() > 1024 {
        None
    } else {
        state.store.users.by_email(tenant.id, &email).await?
    };
    let hash = user.as_ref().and_then(|u| u.password_hash.clone());
    // Verify even for unknown accounts (against a dummy hash) so timing does not tell them apart.
    let password_ok = state.passwords.verify(password, hash).await?;
    let user = match user {
        Some(user) if password_ok && user.can_sign_in() => user,
        other => {
            let reason = match &other {
                None => "unknown account",
                Some(u) if !u.can_sign_in() => "account blocked or deleted",
                Some(_) => "wrong password",
            };
            state
                .throttle
                .record_failure(tenant.id, &account_key, ip)
                .await?;
            let mut event =
                AuditEvent::new(tenant.id, "login.password", Outcome::Failure, "anonymous")
                    .target(format!("email:{email}"))
                    .reason(reason);
            if let Some(u) = &other {
                event.actor = format!("user:{}", u.id);
            }
            state.audit(event, meta).await;
            return Err(LoginError::IncorrectCredentials);
        }
    };
    state
        .throttle
        .record_success(tenant.id, &account_key)
        .await?;
    state
        .audit(
            AuditEvent::new(
                tenant.id,
                "login.password",
                Outcome::Success,
                format!("user:{}", user.id),
            ),
            meta,
        )
        .await;

    after_first_step(state, session, meta, tenant, flow, &user).await
}

/// After the first step (a password, or an upstream provider's word): a second factor when
/// the person has one, the enrolment of one when it is required and they have none, else
/// signed in.
pub(crate) async fn after_first_step(
    state: &AppState,
    session: &Session,
    meta: &RequestMeta,
    tenant: &Tenant,
    mut flow: LoginFlow,
    user: &User,
) -> Result<LoginFlow, LoginError> {
    let factors = mfa::factors_of(state, tenant, user).await?;
    let wants_mfa = tenant.settings.require_mfa
        || flow
            .request
            .as_ref()
            .is_some_and(AuthorizationRequest::wants_mfa);
    if !mfa::usable_kinds(tenant, &factors).is_empty() {
        flow.step = FlowStep::SecondFactor { user_id: user.id };
    } else if wants_mfa {
        flow.step = FlowStep::Enrol { user_id: user.id };
    } else {
        let amr = vec![flow.first_method().into()];
        return complete(state, session, meta, tenant, flow, user, amr).await;
    }
    state.store.artifacts.put_flow(tenant.id, &flow).await?;
    Ok(flow)
}

/// The person who passed the password step and now owes a second factor (or an enrolment).
pub async fn pending_user(
    state: &AppState,
    tenant: &Tenant,
    flow: &LoginFlow,
) -> Result<User, LoginError> {
    let (FlowStep::SecondFactor { user_id } | FlowStep::Enrol { user_id }) = &flow.step else {
        return Err(LoginError::OutOfOrder);
    };
    active_user(state, tenant, *user_id).await
}

pub(crate) async fn active_user(
    state: &AppState,
    tenant: &Tenant,
    id: UserId,
) -> Result<User, LoginError> {
    match state.store.users.by_id(tenant.id, id).await? {
        Some(user) if user.can_sign_in() => Ok(user),
        _ => Err(LoginError::Expired),
    }
}

/// Emails a sign-in code to the person at the second-factor step.
pub async fn send_email_code(
    state: &AppState,
    tenant: &Tenant,
    flow: &LoginFlow,
) -> Result<(), LoginError> {
    if !matches!(flow.step, FlowStep::SecondFactor { .. }) {
        return Err(LoginError::OutOfOrder);
    }
    let user = pending_user(state, tenant, flow).await?;
    Ok(mfa::send_sign_in_code(state, tenant, &user, &flow.id).await?)
}

/// Step 3: the second factor. On success the browser is signed in.
pub async fn verify_second_factor(
    state: &AppState,
    session: &Session,
    meta: &RequestMeta,
    tenant: &Tenant,
    flow: LoginFlow,
    kind: FactorKind,
    code: &str,
) -> Result<(LoginFlow, Option<usize>), LoginError> {
    if !matches!(flow.step, FlowStep::SecondFactor { .. }) {
        return Err(LoginError::OutOfOrder);
    }
    let user = pending_user(state, tenant, &flow).await?;
    let verified = mfa::verify(state, meta, tenant, &user, kind, code, &flow.id).await?;
    let amr = vec![flow.first_method().into(), kind.amr().into(), "mfa".into()];
    let flow = complete(state, session, meta, tenant, flow, &user, amr).await?;
    Ok((flow, verified.backup_codes_left))
}

/// Step 3 for a person who must first enrol a second factor: the code that proves the new
/// factor works. The new backup codes are kept for this browser to show once.
pub async fn confirm_enrolment(
    state: &AppState,
    session: &Session,
    meta: &RequestMeta,
    tenant: &Tenant,
    flow: LoginFlow,
    kind: FactorKind,
    code: &str,
) -> Result<LoginFlow, LoginError> {
    if !matches!(flow.step, FlowStep::Enrol { .. }) {
        return Err(LoginError::OutOfOrder);
    }
    let user = pending_user(state, tenant, &flow).await?;
    let backup_codes = match kind {
        FactorKind::Totp => mfa::confirm_totp(state, meta, tenant, &user, code).await?,
        FactorKind::EmailCode => mfa::confirm_email_codes(state, meta, tenant, &user, code).await?,
        _ => return Err(MfaError::Unavailable.into()),
    };
    if let Some(codes) = backup_codes {
        reveal::stash(state, session, tenant, &codes).await?;
    }
    let amr = vec![flow.first_method().into(), kind.amr().into(), "mfa".into()];
    complete(state, session, meta, tenant, flow, &user, amr).await
}

/// Signs the browser in with the methods `amr` (RFC 8176) and moves the flow to `Authenticated`.
pub(crate) async fn complete(
    state: &AppState,
    session: &Session,
    meta: &RequestMeta,
    tenant: &Tenant,
    mut flow: LoginFlow,
    user: &User,
    mut amr: Vec<String>,
) -> Result<LoginFlow, LoginError> {
    match links::link_pending(state, meta, tenant, &mut flow, user).await {
        Ok(true) => amr.push("fed".into()),
        Ok(false) => {}
        // The connection went, or the identity was linked meanwhile: start again.
        Err(StoreError::NotFound | StoreError::Conflict(_)) => return Err(LoginError::Expired),
        Err(e) => return Err(e.into()),
    }
    let now = Timestamp::now();
    let user_session = UserSession {
        id: random_token(32),
        tenant_id: tenant.id,
        user_id: user.id,
        auth_time: now,
        amr,
        ip: meta.ip.clone(),
        user_agent: meta.user_agent.clone(),
        created_at: now,
        last_seen_at: now,
        expires_at: now.plus_secs(tenant.settings.session_lifetime_secs),
        revoked_at: None,
    };
    state
        .store
        .sessions
        .create(tenant.id, &user_session)
        .await?;
    state
        .store
        .users
        .record_login(tenant.id, user.id, now)
        .await?;
    browser::remember_sign_in(session, tenant, &user_session).await?;
    let event = AuditEvent::new(
        tenant.id,
        "login.succeeded",
        Outcome::Success,
        format!("user:{}", user.id),
    )
    .reason(user_session.amr.join(" "));
    state.audit(event, meta).await;

    flow.step = FlowStep::Authenticated {
        user_id: user.id,
        session_id: user_session.id,
    };
    if let Some(request) = flow.request.as_mut() {
        // The person has just signed in, which is what prompt=login and max_age asked for.
        request.prompt_login = false;
    }
    state.store.artifacts.put_flow(tenant.id, &flow).await?;
    Ok(flow)
}

/// Where the browser goes after a sign-in step: the next step's page, or (once signed in) the
/// authorization that started it or the page it should return to. `interstitial` is the query
/// of the backup-codes page to pass through first, if any.
pub async fn destination(
    state: &AppState,
    tenant: &Tenant,
    flow: LoginFlow,
    interstitial: Option<String>,
) -> Result<String, AppError> {
    let encode = |v: &str| url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
    if !matches!(flow.step, FlowStep::Authenticated { .. }) {
        return Ok(format!(
            "/t/{}/login?flow={}",
            tenant.slug,
            encode(&flow.id)
        ));
    }
    let next = if flow.request.is_some() {
        format!("/t/{}/authorize/resume?flow={}", tenant.slug, flow.id)
    } else {
        state
            .store
            .artifacts
            .delete_flow(tenant.id, &flow.id)
            .await?;
        flow.return_to
            .unwrap_or_else(|| format!("/t/{}", tenant.slug))
    };
    Ok(match interstitial {
        Some(query) => format!(
            "/t/{}/backup-codes?{query}&next={}",
            tenant.slug,
            encode(&next)
        ),
        None => next,
    })
}
