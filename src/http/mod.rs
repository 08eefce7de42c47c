//! The axum router: the Leptos app, the OIDC routes, static files and the middleware around them.

mod audit_export;
mod branding;
mod meta;
mod passkeys;
mod router;
mod session_store;

pub use meta::RequestMeta;
pub use router::{router, serve};
pub use session_store::BrowserSessionStore;
