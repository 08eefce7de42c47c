//! Server functions behind the pages. They stay thin: parse the form, take the request context,
//! call `auth/` or `oidc/`, and answer with a redirect. Outcomes travel in the redirect's query
//! (`error=…`), so pages behave the same with and without JavaScript.

mod account;
mod admin;
mod consent;
mod device;
mod factors;
mod home;
mod login;
mod platform;
mod recovery;
#[cfg(feature = "ssr")]
mod server;

pub use account::*;
pub use admin::*;
pub use consent::*;
pub use device::*;
pub use factors::*;
pub use home::*;
pub use login::*;
pub use platform::*;
pub use recovery::*;
