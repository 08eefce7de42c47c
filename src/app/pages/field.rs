//! Form fields checked by the domain's own rules: in the browser as people type (instant
//! feedback), and on the server when the form is sent (which decides). A refusal the server
//! names a field for is shown next to that field, with JavaScript or without.

use crate::app::api::Flash;
use crate::domain::Invalid;
use leptos::prelude::*;

/// One form field and the rule it must pass.
#[derive(Clone)]
pub struct Checked {
    note_id: String,
    typed: RwSignal<Option<String>>,
    /// The rule's verdict on what is typed; before any typing, the server's refusal of the
    /// field from the last time the form was sent.
    verdict: Memo<Option<String>>,
}

impl Checked {
    /// `id` is the input's id; `field` the name the server's rules give the field; `flash`
    /// the page's message, when it may be about this form.
    pub fn new<T>(
        id: &str,
        field: &str,
        flash: Option<&Flash>,
        rule: impl Fn(&str) -> Result<T, Invalid> + Send + Sync + 'static,
    ) -> Self {
        let typed = RwSignal::new(None::<String>);
        let refused = flash.and_then(|f| f.about(field));
        let verdict = Memo::new(move |_| match typed.get() {
            Some(raw) => rule(&raw).err().map(|e| e.to_string()),
            None => refused.clone(),
        });
        Self {
            note_id: format!("{id}-check"),
            typed,
            verdict,
        }
    }

    /// A field whose rules only the server can run (they need stored data): its refusal
    /// shows next to it.
    pub fn server_only(id: &str, field: &str, flash: Option<&Flash>) -> Self {
        Self::new(id, field, flash, |_| Ok::<_, Invalid>(()))
    }

    /// What has been typed so far (`None` before the first key).
    pub fn typed(&self) -> RwSignal<Option<String>> {
        self.typed
    }

    pub fn on_input(&self) -> impl Fn(leptos::ev::Event) + Clone + 'static {
        let typed = self.typed;
        move |ev| typed.set(Some(event_target_value(&ev)))
    }

    /// `aria-invalid` while the field is refused.
    pub fn invalid(&self) -> impl Fn() -> Option<&'static str> + Clone + Send + Sync + 'static {
        let verdict = self.verdict;
        move || verdict.with(|v| v.as_ref().map(|_| "true"))
    }

    /// The id of the message, for the input's `aria-describedby`.
    pub fn note_id(&self) -> String {
        self.note_id.clone()
    }

    /// The message, shown below the field and read out when it changes.
    pub fn note(&self) -> impl IntoView {
        let verdict = self.verdict;
        view! {
            <p class="small warn-text field-note" id=self.note_id() aria-live="polite">{move || verdict.get()}</p>
        }
    }
}
