//! Tessera: a multi-tenant OpenID Connect identity provider.
//!
//! Layers, top to bottom, and what each may import: the table in README.md ("How it is
//! built"), which `tests/layers.rs` checks.

pub mod app;

#[cfg(feature = "ssr")]
pub mod admin;
#[cfg(feature = "ssr")]
pub mod auth;
#[cfg(feature = "ssr")]
pub mod cli;
#[cfg(feature = "ssr")]
pub mod config;
#[cfg(feature = "ssr")]
pub mod crypto;
pub mod domain;
#[cfg(feature = "ssr")]
pub mod error;
#[cfg(feature = "ssr")]
pub mod http;
#[cfg(feature = "ssr")]
pub mod jobs;
#[cfg(feature = "ssr")]
pub mod mail;
#[cfg(feature = "ssr")]
pub mod oidc;
#[cfg(feature = "ssr")]
pub mod state;
#[cfg(feature = "ssr")]
pub mod store;

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // A server-function redirect between console pages renders the next page in place; every
    // other one (the sign-in steps, which end at protocol endpoints) is a full page load,
    // exactly as without JavaScript. Set before the router mounts, so the router's own hook
    // does not replace it.
    let _ = leptos::server_fn::redirect::set_redirect_hook(|location: &str| {
        if !app::pages::admin::navigate_in_place(location) {
            let _ = leptos::prelude::window().location().set_href(location);
        }
    });
    leptos::mount::hydrate_body(app::App);
}
