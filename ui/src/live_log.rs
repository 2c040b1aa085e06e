//! The live log: the newest events first, with a text filter and a count of events
//! the UI skipped because they arrived faster than it could draw.

use leptos::prelude::*;
use sockscope_protocol::EventRecord;

/// Whether `rec` matches a case-insensitive `needle` in its event name, namespace,
/// payload, tenant, user or rooms.
fn matches(rec: &EventRecord, needle: &str) -> bool {
    if needle.is_empty() {
        return true;
    }
    let needle = needle.to_lowercase();
    let hay = [
        rec.event.as_str(),
        rec.namespace.as_str(),
        rec.tenant.as_deref().unwrap_or_default(),
        rec.user.as_deref().unwrap_or_default(),
    ];
    hay.iter().any(|h| h.to_lowercase().contains(&needle))
        || rec.rooms.iter().any(|r| r.to_lowercase().contains(&needle))
        || rec.args.to_string().to_lowercase().contains(&needle)
}

/// `HH:MM:SS.mmm` UTC.
pub fn clock(ts: i64) -> String {
    let ms = ts.div_euclid(1000).rem_euclid(86_400_000);
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

fn preview(v: &serde_json::Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 160 {
        let cut: String = s.chars().take(160).collect();
        format!("{cut}…")
    } else {
        s
    }
}

#[component]
pub fn LiveLog(events: RwSignal<Vec<EventRecord>>, dropped: RwSignal<u64>) -> impl IntoView {
    let filter = RwSignal::new(String::new());
    let shown = move || {
        let needle = filter.get();
        events.with(|v| {
            v.iter()
                .rev()
                .filter(|r| matches(r, &needle))
                .cloned()
                .collect::<Vec<_>>()
        })
    };
    view! {
        <section class="panel log" id="live-log">
            <div class="log-head">
                <h2>"Live events"</h2>
                <input id="log-filter" type="search" placeholder="filter: event, namespace, tenant, payload"
                    prop:value=move || filter.get()
                    on:input=move |ev| filter.set(event_target_value(&ev)) />
                <button id="log-clear" on:click=move |_| events.set(Vec::new())>"Clear"</button>
            </div>
            <Show when=move || { dropped.get() > 0 }>
                <p class="hint" id="log-dropped">
                    {move || format!("{} events arrived too fast to draw and were skipped here", dropped.get())}
                </p>
            </Show>
            <div class="table-wrap">
                <table id="event-list">
                    <thead>
                        <tr>
                            <th>"#"</th><th>"time"</th><th>"dir"</th><th>"namespace"</th>
                            <th>"event"</th><th>"payload"</th><th>"tenant"</th><th>"socket"</th>
                        </tr>
                    </thead>
                    <tbody>
                        <For each=shown key=|r| r.seq let:rec>
                            <tr data-testid="event-row" data-event=rec.event.clone()
                                class=format!("dir-{}", rec.direction.as_str())>
                                <td class="num">{rec.seq}</td>
                                <td class="mono">{clock(rec.ts)}</td>
                                <td class="dir">{if rec.direction.as_str() == "c2s" { "↑ c2s" } else { "↓ s2c" }}</td>
                                <td class="mono">{rec.namespace.clone()}</td>
                                <td class="event">{rec.event.clone()}</td>
                                <td class="mono payload">{preview(&rec.args)}</td>
                                <td>{rec.tenant.clone().unwrap_or_default()}</td>
                                <td class="mono dim">{rec.socket_id.clone().unwrap_or_default()}</td>
                            </tr>
                        </For>
                    </tbody>
                </table>
                <Show when=move || events.with(Vec::is_empty)>
                    <p class="empty" id="log-empty">"No events yet. Connect a client to the gateway and emit something."</p>
                </Show>
            </div>
        </section>
    }
}
