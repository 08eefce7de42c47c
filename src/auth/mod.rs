//! Signing people in: password hashing and policy, throttling, the login step machine and the
//! browser-side session helpers.

pub mod browser;
pub mod login;
pub mod password;
pub mod throttle;
