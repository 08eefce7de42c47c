//! Signing people in: password hashing and policy, throttling, the login step machine and the
//! browser-side session helpers.

pub mod account;
pub mod browser;
pub mod login;
pub mod mfa;
pub mod one_time;
pub mod passkeys;
pub mod password;
pub mod recovery;
pub mod reveal;
pub mod signup;
pub mod throttle;
