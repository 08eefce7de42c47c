//! Branding: display name, logo, primary colour and support contacts, with a preview.

use super::{console_form, console_page};
use crate::app::api::{load_admin_branding, BrandView, BrandingPage, ConsoleNav, SaveBranding};
use crate::app::pages::admin::revision;
use crate::app::pages::field::Checked;
use crate::app::pages::{query_param, tenant_param, Loading};
use crate::domain::branding;
use crate::domain::colour::contrast_warning;
use leptos::prelude::*;

#[component]
pub fn AdminBrandingPage() -> impl IntoView {
    let tenant = tenant_param();
    let preview = query_param("preview");
    let data = Resource::new(
        move || (tenant.get(), preview.get(), revision()),
        |(t, p, _)| load_admin_branding(t, p),
    );
    view! {
        <Suspense fallback=Loading>
            {move || data.get().map(|loaded| console_page(loaded, "Branding", "branding", |nav, page| view! { <Branding nav page/> }))}
        </Suspense>
    }
}

/// A sign-in card drawn with the look being previewed (its colour comes from the preview
/// stylesheet, as inline styles are not allowed by the pages' CSP).
#[component]
fn Sample(brand: BrandView, warning: Option<String>) -> impl IntoView {
    view! {
        <section id="preview" class="brand-preview" aria-labelledby="preview-title">
            <h2 id="preview-title">"Preview (not saved)"</h2>
            {warning.map(|w| view! { <p class="alert" role="alert">{w}</p> })}
            <div class="card">
                <p class="eyebrow">{brand.name.clone()}</p>
                <p class="sample-title">"Sign in"</p>
                <span class="button primary">"Continue"</span>
                <p class="small">
                    {brand.support_url.map(|u| view! { <a href=u.clone()>"Help"</a> })}
                    " "{brand.support_email.map(|e| view! { <span>{e}</span> })}
                </p>
            </div>
        </section>
    }
}

#[component]
fn Branding(nav: ConsoleNav, page: BrandingPage) -> impl IntoView {
    let upload = format!("/t/{}/admin/branding/logo", nav.tenant);
    let preview_css = format!("/t/{}/branding.css?preview=1", nav.tenant);
    let preview = page.preview.clone().map(|(brand, warning)| {
        view! {
            <link rel="stylesheet" href=preview_css/>
            <Sample brand warning/>
        }
    });
    let flash = nav.flash.as_ref();
    let name = Checked::new("brand-name", "name", flash, branding::check_display_name);
    let colour = Checked::new(
        "brand-colour",
        "primary_colour",
        flash,
        branding::check_primary_colour,
    );
    let support_url = Checked::new(
        "support-url",
        "support_url",
        flash,
        branding::check_support_url,
    );
    let support_email = Checked::new(
        "support-email",
        "support_email",
        flash,
        branding::check_support_email,
    );
    let logo_file = Checked::server_only("logo-file", "logo", flash);
    // A readable colour is advice, not a rule: the warning shows as the colour is typed.
    let typed = colour.typed();
    let contrast = move || {
        let raw = typed.get()?;
        branding::check_primary_colour(&raw)
            .ok()
            .flatten()
            .and_then(|c| contrast_warning(&c))
    };
    let logo = match page.logo.clone() {
        Some(src) => view! { <img class="brand-logo" src=src alt=format!("{} logo", page.name)/> }.into_any(),
        None => view! { <p class="muted small">"No logo yet: the organisation's name is shown instead."</p> }.into_any(),
    };
    view! {
        {page.warning.clone().map(|w| view! { <p class="alert" role="alert">{w}</p> })}
        <section aria-labelledby="look">
            <h2 id="look">"Name, colour and support"</h2>
            {console_form!(SaveBranding, nav,
                <label for="brand-name">"Display name"</label>
                <input id="brand-name" type="text" name="name" value=page.name.clone() required maxlength="100"
                    aria-describedby=name.note_id() aria-invalid=name.invalid() on:input=name.on_input()/>
                {name.note()}
                <label for="brand-colour">"Primary colour (like #2446b8; empty for the default)"</label>
                <input id="brand-colour" type="text" name="primary_colour" value=page.primary_colour.clone() maxlength="7"
                    aria-describedby=format!("colour-hint {} colour-contrast", colour.note_id())
                    aria-invalid=colour.invalid() on:input=colour.on_input()/>
                <p class="muted small" id="colour-hint">"Buttons use it; the text on them is chosen for contrast, and you are warned below WCAG AA (4.5:1)."</p>
                {colour.note()}
                <p class="small warn-text" id="colour-contrast" aria-live="polite">{contrast}</p>
                <label for="support-url">"Support link (https://…)"</label>
                <input id="support-url" type="text" name="support_url" value=page.support_url.clone() inputmode="url" maxlength="2000"
                    aria-describedby=support_url.note_id() aria-invalid=support_url.invalid() on:input=support_url.on_input()/>
                {support_url.note()}
                <label for="support-email">"Support email"</label>
                <input id="support-email" type="email" name="support_email" value=page.support_email.clone() maxlength="254"
                    aria-describedby=support_email.note_id() aria-invalid=support_email.invalid() on:input=support_email.on_input()/>
                {support_email.note()}
                <div class="actions start">
                    <button type="submit" name="intent" value="preview" class="button">"Preview"</button>
                    <button type="submit" name="intent" value="save" class="button primary">"Save"</button>
                </div>)}
        </section>
        {preview}
        <section aria-labelledby="logo-title">
            <h2 id="logo-title">"Logo"</h2>
            {logo}
            <form method="post" action=upload.clone() enctype="multipart/form-data">
                <input type="hidden" name="csrf" value=nav.csrf.clone()/>
                <label for="logo-file">"PNG, JPEG or WebP, at most 100 KB"</label>
                <input id="logo-file" type="file" name="logo" accept="image/png,image/jpeg,image/webp" required
                    aria-describedby=logo_file.note_id() aria-invalid=logo_file.invalid()/>
                {logo_file.note()}
                <button type="submit" class="button">"Upload logo"</button>
            </form>
            {page.logo.is_some().then(|| view! {
                <form method="post" action=upload enctype="multipart/form-data">
                    <input type="hidden" name="csrf" value=nav.csrf.clone()/>
                    <input type="hidden" name="remove" value="1"/>
                    <button type="submit" class="button small-button danger">"Remove logo"</button>
                </form>
            })}
        </section>
    }
}
