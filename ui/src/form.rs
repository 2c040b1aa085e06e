//! Form pieces every panel uses, so inputs look and behave the same everywhere (no
//! autocomplete or spellcheck on ids, tokens and JSON).

use leptos::prelude::*;

/// A labelled text input bound to one signal; `kind` is the input type (`text` when
/// empty, `password` for tokens).
#[component]
pub fn TextField(
    id: &'static str,
    label: &'static str,
    value: RwSignal<String>,
    #[prop(optional)] placeholder: &'static str,
    #[prop(optional)] kind: &'static str,
) -> impl IntoView {
    view! {
        <label>{label}
            <input id=id type=if kind.is_empty() { "text" } else { kind } placeholder=placeholder
                autocomplete="off" spellcheck="false"
                prop:value=move || value.get() on:input=move |ev| value.set(event_target_value(&ev)) />
        </label>
    }
}
