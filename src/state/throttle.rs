//! Slows down repeated sign-in failures per account and per IP address. Counters live in this
//! process; with several processes each keeps its own (a shared store comes with Redis).

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

const FORGET_AFTER: Duration = Duration::from_secs(15 * 60);
const MAX_DELAY: Duration = Duration::from_secs(15 * 60);
const MAX_ENTRIES: usize = 100_000;

#[derive(Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
}

pub struct LoginThrottle {
    free_per_account: u32,
    free_per_ip: u32,
    entries: Mutex<HashMap<String, Failures>>,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        Self::new(5, 20)
    }
}

impl LoginThrottle {
    pub fn new(free_per_account: u32, free_per_ip: u32) -> Self {
        Self {
            free_per_account,
            free_per_ip,
            entries: Mutex::new(HashMap::new()),
        }
    }

    pub fn account_key(tenant: &str, email: &str) -> String {
        format!("acct:{tenant}:{email}")
    }

    pub fn ip_key(ip: &str) -> String {
        format!("ip:{ip}")
    }

    /// How long the caller must still wait before another attempt, if at all.
    pub fn wait_time(&self, account: &str, ip: Option<&str>) -> Option<Duration> {
        let entries = self.entries.lock().expect("throttle lock");
        let now = Instant::now();
        let wait = |key: &str, free: u32| {
            let f = entries.get(key)?;
            let over = f.count.checked_sub(free).filter(|n| *n > 0)?;
            let delay = Duration::from_secs(1u64 << (over - 1).min(10)).min(MAX_DELAY);
            (f.last + delay)
                .checked_duration_since(now)
                .filter(|d| !d.is_zero())
        };
        let ip_key = ip.map(Self::ip_key);
        [
            wait(account, self.free_per_account),
            ip_key.as_deref().and_then(|k| wait(k, self.free_per_ip)),
        ]
        .into_iter()
        .flatten()
        .max()
    }

    pub fn record_failure(&self, account: &str, ip: Option<&str>) {
        let mut entries = self.entries.lock().expect("throttle lock");
        let now = Instant::now();
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, f| now.duration_since(f.last) < FORGET_AFTER);
        }
        let keys = std::iter::once(account.to_owned()).chain(ip.map(Self::ip_key));
        for key in keys {
            let entry = entries.entry(key).or_insert(Failures {
                count: 0,
                last: now,
            });
            if now.duration_since(entry.last) >= FORGET_AFTER {
                entry.count = 0;
            }
            entry.count += 1;
            entry.last = now;
        }
    }

    pub fn record_success(&self, account: &str) {
        self.entries.lock().expect("throttle lock").remove(account);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_attempts_then_growing_delay() {
        let t = LoginThrottle::new(3, 100);
        let acct = LoginThrottle::account_key("t", "a@example.com");
        for _ in 0..3 {
            assert!(t.wait_time(&acct, Some("1.2.3.4")).is_none());
            t.record_failure(&acct, Some("1.2.3.4"));
        }
        assert!(
            t.wait_time(&acct, Some("1.2.3.4")).is_none(),
            "third failure is still free"
        );
        t.record_failure(&acct, Some("1.2.3.4"));
        let wait = t
            .wait_time(&acct, Some("9.9.9.9"))
            .expect("account is throttled from any IP");
        assert!(wait <= Duration::from_secs(2));
        t.record_success(&acct);
        assert!(t.wait_time(&acct, None).is_none());
    }

    #[test]
    fn ip_is_throttled_across_accounts() {
        let t = LoginThrottle::new(100, 2);
        for i in 0..3 {
            t.record_failure(
                &LoginThrottle::account_key("t", &format!("u{i}@x.io")),
                Some("5.5.5.5"),
            );
        }
        let fresh = LoginThrottle::account_key("t", "new@x.io");
        assert!(t.wait_time(&fresh, Some("5.5.5.5")).is_some());
        assert!(t.wait_time(&fresh, Some("6.6.6.6")).is_none());
    }
}
