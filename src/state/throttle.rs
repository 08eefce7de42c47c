//! Slows down repeated failures (passwords, second factors, recovery) per account and per IP
//! address within a tenant. The counters are short-lived records of the store that keeps the
//! OIDC artifacts (the main database, or Redis), so every process of an installation counts
//! the same attempts: a guesser gains nothing by spreading them over several processes.

use crate::domain::{TenantId, Timestamp};
use crate::store::{OidcArtifactRepo, StoreResult};
use std::{sync::Arc, time::Duration};

const KIND: &str = "throttle";
/// A counter starts again after this long without a failure.
const FORGET_AFTER_SECS: i64 = 15 * 60;
const MAX_DELAY_SECS: i64 = 15 * 60;

pub struct LoginThrottle {
    free_per_account: u32,
    free_per_ip: u32,
    counters: Arc<dyn OidcArtifactRepo>,
}

impl LoginThrottle {
    /// Five free failures per account, twenty per IP address.
    pub fn new(counters: Arc<dyn OidcArtifactRepo>) -> Self {
        Self::with_limits(counters, 5, 20)
    }

    pub fn with_limits(
        counters: Arc<dyn OidcArtifactRepo>,
        free_per_account: u32,
        free_per_ip: u32,
    ) -> Self {
        Self {
            free_per_account,
            free_per_ip,
            counters,
        }
    }

    /// The counter of an account: an email address, or `mfa:<user id>` for second factors.
    pub fn account_key(name: &str) -> String {
        format!("acct:{name}")
    }

    fn ip_key(ip: &str) -> String {
        format!("ip:{ip}")
    }

    /// How long the caller must still wait before another attempt, if at all.
    pub async fn wait_time(
        &self,
        tenant: TenantId,
        account: &str,
        ip: Option<&str>,
    ) -> StoreResult<Option<Duration>> {
        let now = Timestamp::now();
        let mut longest = self
            .wait(tenant, account, self.free_per_account, now)
            .await?;
        if let Some(ip) = ip {
            let by_ip = self
                .wait(tenant, &Self::ip_key(ip), self.free_per_ip, now)
                .await?;
            longest = longest.max(by_ip);
        }
        Ok(longest)
    }

    async fn wait(
        &self,
        tenant: TenantId,
        key: &str,
        free: u32,
        now: Timestamp,
    ) -> StoreResult<Option<Duration>> {
        let Some(counter) = self.counters.get_ephemeral(tenant, KIND, key).await? else {
            return Ok(None);
        };
        let last_failure = counter.expires_at.plus_secs(-FORGET_AFTER_SECS);
        Ok(wait_after(counter.version, free, last_failure, now))
    }

    pub async fn record_failure(
        &self,
        tenant: TenantId,
        account: &str,
        ip: Option<&str>,
    ) -> StoreResult<()> {
        let forget_at = Timestamp::now().plus_secs(FORGET_AFTER_SECS);
        self.counters
            .count_ephemeral(tenant, KIND, account, forget_at)
            .await?;
        if let Some(ip) = ip {
            self.counters
                .count_ephemeral(tenant, KIND, &Self::ip_key(ip), forget_at)
                .await?;
        }
        Ok(())
    }

    pub async fn record_success(&self, tenant: TenantId, account: &str) -> StoreResult<()> {
        self.counters.take_ephemeral(tenant, KIND, account).await?;
        Ok(())
    }
}

/// After `failures` of which `free` cost nothing, each further one doubles the pause (1 s,
/// 2 s, 4 s, … up to 15 minutes), counted from the last failure. Times are whole seconds, so
/// the pause ends a second later than exact: never earlier.
fn wait_after(
    failures: i64,
    free: u32,
    last_failure: Timestamp,
    now: Timestamp,
) -> Option<Duration> {
    let over = failures - i64::from(free);
    if over <= 0 {
        return None;
    }
    let delay = (1_i64 << (over - 1).min(10)).min(MAX_DELAY_SECS);
    let left = last_failure.plus_secs(delay + 1).unix() - now.unix();
    (left > 0).then(|| Duration::from_secs(left as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_failures_then_a_doubling_pause() {
        let now = Timestamp::from_unix(1_000_000);
        let wait = |failures, since| wait_after(failures, 3, now, now.plus_secs(since));
        assert_eq!(wait(3, 0), None, "the free ones cost nothing");
        assert_eq!(wait(4, 0), Some(Duration::from_secs(2)));
        assert_eq!(
            wait(4, 1),
            Some(Duration::from_secs(1)),
            "a failure late in a second still costs a whole second"
        );
        assert_eq!(wait(4, 2), None);
        assert_eq!(wait(6, 0), Some(Duration::from_secs(5)));
        assert_eq!(
            wait(6, 3),
            Some(Duration::from_secs(2)),
            "from the last failure"
        );
        assert_eq!(wait(6, 5), None);
        assert_eq!(
            wait(40, 0),
            Some(Duration::from_secs(901)),
            "never much more than 15 minutes"
        );
    }
}
