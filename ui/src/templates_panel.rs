//! The Templates panel: browse the gateway's event templates, edit a payload, pick an
//! identifier, send; files that failed to load are listed with their line.

use leptos::prelude::*;
use leptos::task::spawn_local;
use sockscope_protocol::{Template, TemplateSend, TemplateSet};

use crate::api;

/// The request for `template` with the edited JSON text, or a one-line reason.
fn request_for(
    template: &Template,
    data_text: &str,
    identifier: &str,
) -> Result<TemplateSend, String> {
    let data = serde_json::from_str(data_text).map_err(|e| format!("bad JSON template: {e}"))?;
    Ok(TemplateSend {
        event: template.event.clone(),
        identifier: Some(identifier.trim().to_owned()).filter(|i| !i.is_empty()),
        data: Some(data),
        namespace: None,
        tenant: None,
    })
}

fn pretty(v: &serde_json::Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
}

#[component]
pub fn TemplatesPanel() -> impl IntoView {
    let set = RwSignal::new(TemplateSet::default());
    let selected = RwSignal::new(None::<Template>);
    let data_text = RwSignal::new(String::new());
    let identifier = RwSignal::new(String::new());
    let result = RwSignal::new(None::<Result<String, String>>);

    let load = move || {
        spawn_local(async move {
            match api::templates_list().await {
                Ok(s) => set.set(s),
                Err(e) => result.set(Some(Err(e.message))),
            }
        });
    };
    load();

    let choose = move |t: Template| {
        data_text.set(pretty(&t.data));
        identifier.set(String::new());
        result.set(None);
        selected.set(Some(t));
    };
    let send = move |_| {
        let Some(t) = selected.get() else { return };
        let req = match request_for(&t, &data_text.get(), &identifier.get()) {
            Ok(r) => r,
            Err(msg) => {
                result.set(Some(Err(msg)));
                return;
            }
        };
        spawn_local(async move {
            let outcome = api::template_send(&req)
                .await
                .map(|sent| {
                    format!(
                        "sent {} on {} to {} sockets",
                        sent.event, sent.channel, sent.delivered
                    )
                })
                .map_err(|e| e.message);
            result.set(Some(outcome));
        });
    };

    view! {
        <section class="panel templates" id="templates-panel">
            <div class="log-head">
                <h2>"Templates"</h2>
                <button id="templates-reload" on:click=move |_| load()>"Reload"</button>
            </div>
            <div class="split">
                <ul class="template-list">
                    <For each=move || set.get().templates key=|t| t.event.clone() let:t>
                        <li>
                            <button class="link-item" data-testid="template-item" data-event=t.event.clone()
                                class:active={let e = t.event.clone(); move || selected.get().is_some_and(|s| s.event == e)}
                                on:click={let t = t.clone(); move |_| choose(t.clone())}>
                                <span class="event">{t.event.clone()}</span>
                                <span class="dim mono">{t.channel.clone()}</span>
                            </button>
                        </li>
                    </For>
                </ul>
                <div class="template-editor">
                    <Show when=move || selected.get().is_some()
                        fallback=|| view! { <p class="empty">"Pick a template to edit and send it."</p> }>
                        <p class="mono" id="template-channel">{move || selected.get().map(|t| t.channel).unwrap_or_default()}</p>
                        <label>"Identifier (replaces the channel's last segment)"
                            <input id="template-identifier" type="text" placeholder="kiosk_2"
                                prop:value=move || identifier.get()
                                on:input=move |ev| identifier.set(event_target_value(&ev)) />
                        </label>
                        <label>"Payload"
                            <textarea id="template-data" rows="14" spellcheck="false"
                                prop:value=move || data_text.get()
                                on:input=move |ev| data_text.set(event_target_value(&ev))></textarea>
                        </label>
                        <div class="actions">
                            <button id="template-send" class="primary" on:click=send>"Send"</button>
                            <span id="template-result"
                                class=move || match result.get() { Some(Err(_)) => "result bad", _ => "result" }>
                                {move || match result.get() { Some(Ok(m)) | Some(Err(m)) => m, None => String::new() }}
                            </span>
                        </div>
                    </Show>
                </div>
            </div>
            <Show when=move || !set.get().problems.is_empty()>
                <ul class="problems" id="template-problems">
                    {move || set.get().problems.into_iter().map(|p| view! {
                        <li>{format!("{}:{}:{}: {}", p.file, p.line, p.column, p.message)}</li>
                    }).collect_view()}
                </ul>
            </Show>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn edited_payload_becomes_a_request_or_a_clear_error() {
        let t = Template {
            event: "E".into(),
            channel: "private.A.b".into(),
            data: json!({}),
            file: String::new(),
        };
        let r = request_for(&t, r#"{"x": 1}"#, " kiosk_2 ").unwrap();
        assert_eq!(r.identifier.as_deref(), Some("kiosk_2"));
        assert_eq!(r.data, Some(json!({"x": 1})));
        assert!(request_for(&t, "{", "")
            .unwrap_err()
            .starts_with("bad JSON template"));
        assert_eq!(request_for(&t, "1", "").unwrap().identifier, None);
    }
}
