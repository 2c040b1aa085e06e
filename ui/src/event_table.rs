//! The event table shared by the live log and an opened recording: filters
//! (direction, source, namespace, event, tenant, room, text), a virtualised list that
//! only builds the rows on screen (so 100k+ events scroll as smoothly as 100), and a
//! JSON viewer of the selected event.

use leptos::html::Div;
use leptos::prelude::*;
use sockscope_protocol::time::civil_date;
use sockscope_protocol::{Direction, EventRecord};

use crate::log_model::{Filters, LogModel};

/// Every row is this tall (CSS `.vrow` agrees), which is what makes the
/// virtualisation a division instead of a measurement.
const ROW_H: f64 = 26.0;
/// Rows built above and below the visible ones.
const OVERSCAN: usize = 6;

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

/// `YYYY-MM-DD HH:MM:SS` UTC, for when a recording started.
pub fn datetime(ts: i64) -> String {
    let secs = ts.div_euclid(1_000_000);
    let days = secs.div_euclid(86_400);
    let (y, m, d) = civil_date(days);
    let s = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// A server event that asked our client for an ack: answered by a rule, or not.
fn ack_note(rec: &EventRecord) -> &'static str {
    match (&rec.direction, &rec.ack) {
        (Direction::S2c, Some(a)) if a.id.is_some() && a.reply.is_none() => " (ack unanswered)",
        (Direction::S2c, Some(a)) if a.id.is_some() => " (ack answered)",
        _ => "",
    }
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

fn pretty(rec: &EventRecord) -> String {
    serde_json::to_string_pretty(rec).unwrap_or_else(|e| format!("cannot show this event: {e}"))
}

/// A filter text box bound to one field.
#[component]
fn FilterBox(
    prefix: &'static str,
    field: &'static str,
    placeholder: &'static str,
    value: RwSignal<String>,
) -> impl IntoView {
    view! {
        <input id=format!("{prefix}-filter-{field}") type="search" class="filter" placeholder=placeholder
            prop:value=move || value.get()
            on:input=move |ev| value.set(event_target_value(&ev)) />
    }
}

#[component]
pub fn EventTable(
    model: RwSignal<LogModel>,
    /// Prefix for element ids, so two tables can share a page (`log`, `session`).
    prefix: &'static str,
    /// Contract violations by event seq ("kind at /pointer"): those rows are highlighted.
    #[prop(optional)]
    violations: Option<RwSignal<std::collections::BTreeMap<u64, String>>>,
) -> impl IntoView {
    let violation_of = move |seq: u64| violations.and_then(|v| v.with(|m| m.get(&seq).cloned()));
    let direction = RwSignal::new(String::new());
    let source = RwSignal::new(String::new());
    let namespace = RwSignal::new(String::new());
    let event = RwSignal::new(String::new());
    let tenant = RwSignal::new(String::new());
    let room = RwSignal::new(String::new());
    let text = RwSignal::new(String::new());
    let selected = RwSignal::new(None::<u64>);

    Effect::new(move |_| {
        let filters = Filters {
            direction: match direction.get().as_str() {
                "c2s" => Some(Direction::C2s),
                "s2c" => Some(Direction::S2c),
                _ => None,
            },
            source: source.get(),
            namespace: namespace.get(),
            event: event.get(),
            tenant: tenant.get(),
            room: room.get(),
            text: text.get(),
        };
        model.update(|m| m.set_filters(filters));
    });

    let viewport = NodeRef::<Div>::new();
    let scroll_top = RwSignal::new(0.0_f64);
    let height = RwSignal::new(520.0_f64);
    let on_scroll = move |_| {
        if let Some(el) = viewport.get() {
            scroll_top.set(f64::from(el.scroll_top()));
            let h = f64::from(el.client_height());
            if h > 0.0 {
                height.set(h);
            }
        }
    };
    let first = move || (scroll_top.get() / ROW_H).floor() as usize;
    let rows = move || {
        let from = first().saturating_sub(OVERSCAN);
        let to = first() + (height.get() / ROW_H).ceil() as usize + OVERSCAN;
        model.with(|m| m.window(from, to))
    };
    let offset = move || first().saturating_sub(OVERSCAN) as f64 * ROW_H;
    let shown = move || model.with(LogModel::shown_len);
    let total = move || model.with(LogModel::total);
    let detail = move || {
        selected
            .get()
            .and_then(|seq| model.with(|m| m.by_seq(seq).map(pretty)))
    };

    let id = move |what: &str| format!("{prefix}-{what}");
    view! {
        <div class="filters">
            <select id=id("filter-direction") class="filter"
                on:change=move |ev| direction.set(event_target_value(&ev))>
                <option value="">"both ways"</option>
                <option value="c2s">"↑ c2s"</option>
                <option value="s2c">"↓ s2c"</option>
            </select>
            <FilterBox prefix=prefix field="source" placeholder="source" value=source />
            <FilterBox prefix=prefix field="namespace" placeholder="namespace" value=namespace />
            <FilterBox prefix=prefix field="event" placeholder="event" value=event />
            <FilterBox prefix=prefix field="tenant" placeholder="tenant" value=tenant />
            <FilterBox prefix=prefix field="room" placeholder="room" value=room />
            <FilterBox prefix=prefix field="text" placeholder="text anywhere, payload too" value=text />
            <span class="dim count" id=id("shown")>
                {move || format!("{} of {}", shown(), total())}
            </span>
        </div>
        <div class="split events-split">
            <div class="vtable">
                <div class="vrow vhead">
                    <span class="c-num">"#"</span><span class="c-time">"time"</span>
                    <span class="c-dir">"dir"</span><span class="c-src">"source"</span>
                    <span class="c-ns">"namespace"</span><span class="c-ev">"event"</span>
                    <span class="c-payload">"payload"</span><span class="c-tenant">"tenant"</span>
                </div>
                <div class="vport" id=id("rows") node_ref=viewport on:scroll=on_scroll>
                    <div class="vspace" style=move || format!("height:{}px", shown() as f64 * ROW_H)>
                        <div class="vwin" style=move || format!("top:{}px", offset())>
                            <For each=rows key=|r| r.seq let:rec>
                                <div data-testid="event-row" data-event=rec.event.clone()
                                    data-seq=rec.seq
                                    data-fault=rec.fault.clone()
                                    class=format!("vrow dir-{}", rec.direction.as_str())
                                    class:selected={let s = rec.seq; move || selected.get() == Some(s)}
                                    class:violation={let s = rec.seq; move || violation_of(s).is_some()}
                                    data-violation={let s = rec.seq; move || violation_of(s)}
                                    title={let s = rec.seq; move || violation_of(s)}
                                    on:click={let s = rec.seq; move |_| selected.set(Some(s))}>
                                    <span class="c-num num">{rec.seq}</span>
                                    <span class="c-time mono">{clock(rec.ts)}</span>
                                    <span class="c-dir dir">{if rec.direction == Direction::C2s { "↑ c2s" } else { "↓ s2c" }}</span>
                                    <span class="c-src dim">{rec.source.clone()}</span>
                                    <span class="c-ns mono">{rec.namespace.clone()}</span>
                                    <span class="c-ev event">
                                        {rec.fault.clone().map(|f| view! {
                                            <span class="fault-badge" data-testid="fault-badge" title=f.clone()
                                                aria-label=format!("fault: {f}")>"⚠"</span>
                                        })}
                                        {rec.event.clone()}{ack_note(&rec)}
                                        {let s = rec.seq; move || violation_of(s).map(|v| view! { <span class="violation-note" data-testid="violation-note">{format!(" ✗ {v}")}</span> })}
                                    </span>
                                    <span class="c-payload mono payload">{preview(&rec.args)}</span>
                                    <span class="c-tenant">{rec.tenant.clone().unwrap_or_default()}</span>
                                </div>
                            </For>
                        </div>
                    </div>
                    <Show when=move || total() == 0>
                        <p class="empty" id=id("empty")>"No events yet."</p>
                    </Show>
                </div>
            </div>
            <aside class="json-view">
                <h3>"Selected event"</h3>
                <pre id=id("json")>{move || detail().unwrap_or_else(|| "Click a row to see the whole event.".to_owned())}</pre>
            </aside>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_utc() {
        assert_eq!(datetime(0), "1970-01-01 00:00:00");
        // 2026-11-24 11:25:07.5 UTC
        assert_eq!(datetime(1_795_519_507_500_000), "2026-11-24 11:25:07");
        assert_eq!(datetime(951_782_400_000_000), "2000-02-29 00:00:00");
        assert_eq!(clock(1_795_519_507_500_000), "11:25:07.500");
    }
}
