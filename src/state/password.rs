//! Argon2id with the OWASP-recommended parameters, run off the async executor.

use crate::domain::TenantSettings;
use crate::error::{AppError, AppResult};
use argon2::{
    password_hash::{
        rand_core::OsRng, PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString,
    },
    Algorithm, Argon2, Params, Version,
};
use std::sync::{mpsc, Arc, Mutex, OnceLock};

/// OWASP Password Storage Cheat Sheet: Argon2id, m = 19 MiB, t = 2, p = 1.
fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("static Argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Passwords people choose most often (from public breach corpora), one per line, lower case.
const COMMON_PASSWORDS: &str = include_str!("common_passwords.txt");

/// NIST SP 800-63B §5.1.1.2: a minimum length (the tenant's, at least 8), at least 64 allowed,
/// no composition rules, and no commonly used password; input is capped so hashing cost stays
/// bounded.
pub fn check_policy(password: &str, rules: &TenantSettings) -> Result<(), String> {
    let chars = password.chars().count();
    if chars < rules.password_min_length.max(8) {
        return Err(format!(
            "A password has at least {} characters.",
            rules.password_min_length.max(8)
        ));
    }
    if rules.block_common_passwords && is_common(password) {
        return Err(
            "This password is one of the most commonly used ones, which attackers try first. Choose another (a few unrelated words work well).".into(),
        );
    }
    if password.len() > 1024 {
        return Err("A password has at most 1024 bytes.".into());
    }
    if password.trim().is_empty() {
        return Err("A password cannot be only spaces.".into());
    }
    Ok(())
}

fn is_common(password: &str) -> bool {
    let lowered = password.trim().to_lowercase();
    COMMON_PASSWORDS.lines().any(|common| common == lowered)
}

/// How much lower than the server's own threads the hashing threads are scheduled (the `nice`
/// value, 0 to 19): the kernel then gives the cores to protocol requests first.
pub const HASHING_NICENESS: i32 = 10;

type Job = Box<dyn FnOnce() + Send>;

/// Hashes and verifies passwords on threads of their own, one for every two cores. A burst of
/// sign-ins queues here instead of taking every core (and 19 MiB each) from other requests,
/// and the threads run at a lower priority ([`HASHING_NICENESS`]): Argon2id is built to take
/// 20 ms or more of a core, and a token request that arrives meanwhile should preempt it, not
/// wait for it.
#[derive(Clone)]
pub struct Passwords {
    jobs: mpsc::Sender<Job>,
}

impl Default for Passwords {
    fn default() -> Self {
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for _ in 0..cores.div_ceil(2) {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name("tessera-argon2".into())
                .spawn(move || {
                    lower_priority();
                    // Ends when the last `Passwords` is dropped.
                    loop {
                        let next = queue.lock().map(|q| q.recv());
                        match next {
                            Ok(Ok(job)) => job(),
                            _ => break,
                        }
                    }
                })
                .expect("a thread for password hashing");
        }
        Self { jobs }
    }
}

/// Lowers the calling thread's scheduling priority (Linux schedules threads one by one).
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: plain system calls on the calling thread, with no memory passed.
    unsafe {
        let thread = libc::syscall(libc::SYS_gettid) as libc::id_t;
        if libc::setpriority(libc::PRIO_PROCESS, thread, HASHING_NICENESS) != 0 {
            tracing::warn!("could not lower the priority of the password hashing threads");
        }
    }
}

impl Passwords {
    pub async fn hash(&self, password: String) -> AppResult<String> {
        self.run(move || {
            let salt = SaltString::generate(&mut OsRng);
            argon2()
                .hash_password(password.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(AppError::internal)
        })
        .await?
    }

    /// Verifies against `hash`, or against a dummy hash when there is none, so an unknown
    /// account costs the same time as a wrong password.
    pub async fn verify(&self, password: String, hash: Option<String>) -> AppResult<bool> {
        self.run(move || {
            let known = hash.is_some();
            let hash = hash.unwrap_or_else(|| dummy_hash().to_owned());
            let Ok(parsed) = PasswordHash::new(&hash) else {
                return false;
            };
            argon2()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
                && known
        })
        .await
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> AppResult<T> {
        let (done, result) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Box::new(move || {
                let _ = done.send(work());
            }))
            .map_err(|_| AppError::internal("the password hashing threads have stopped"))?;
        result
            .await
            .map_err(|_| AppError::internal("password hashing failed"))
    }
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        argon2()
            .hash_password(crate::crypto::random_token(16).as_bytes(), &salt)
            .expect("hashing a random password succeeds")
            .to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_and_verify() {
        let p = Passwords::default();
        let hash = p.hash("correct horse".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(p
            .verify("correct horse".into(), Some(hash.clone()))
            .await
            .unwrap());
        assert!(!p.verify("wrong horse".into(), Some(hash)).await.unwrap());
        assert!(!p.verify("anything".into(), None).await.unwrap());
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn hashing_runs_on_threads_of_lower_priority() {
        let p = Passwords::default();
        let nice = p
            .run(|| unsafe {
                libc::getpriority(
                    libc::PRIO_PROCESS,
                    libc::syscall(libc::SYS_gettid) as libc::id_t,
                )
            })
            .await
            .unwrap();
        assert_eq!(nice, HASHING_NICENESS);
        let ours = unsafe {
            libc::getpriority(
                libc::PRIO_PROCESS,
                libc::syscall(libc::SYS_gettid) as libc::id_t,
            )
        };
        assert!(
            ours < HASHING_NICENESS,
            "the caller keeps its priority ({ours})"
        );
    }

    #[test]
    fn policy() {
        let rules = TenantSettings::default();
        assert!(check_policy("short", &rules).is_err());
        assert!(check_policy("        ", &rules).is_err());
        assert!(check_policy(&"x".repeat(2000), &rules).is_err());
        assert!(check_policy("long enough", &rules).is_ok());
        assert!(check_policy("Password1", &rules).is_err(), "common");
        assert!(check_policy("qwertyuiop", &rules).is_err(), "common");
        let strict = TenantSettings {
            password_min_length: 12,
            block_common_passwords: false,
            ..TenantSettings::default()
        };
        assert!(check_policy("long enough", &strict).is_err());
        assert!(check_policy("password1234", &strict).is_ok());
    }
}
