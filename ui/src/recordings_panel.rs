//! The Recordings panel: record what the engine sees (everything, the gateway only, or
//! one connection) with a live counter; list, search, open, export, import and delete
//! the sessions in the SQLite store. An opened recording uses the same virtualised,
//! filterable table as the live log, one page of [`PAGE`] events at a time, so a
//! recording of any size opens at once and never sits in the webview whole.

use leptos::prelude::*;
use leptos::task::spawn_local;
use sockscope_protocol::{
    CheckOutcome, ConnectionInfo, ExportRequest, ImportRequest, InferOutcome, RecordRequest,
    RecordingStatus, SessionInfo, SessionState,
};

use crate::api;
use crate::event_table::{datetime, EventTable};
use crate::log_model::LogModel;

/// How many events of an opened recording are shown at once.
pub const PAGE: u64 = 5_000;

/// "events 5001–10000 of 12345" for a page of `len` events at `offset`.
pub fn page_label(offset: u64, len: usize, total: u64) -> String {
    if len == 0 {
        return format!("no events here (session has {total})");
    }
    let last = offset + len as u64;
    format!("events {}–{last} of {}", offset + 1, total.max(last))
}

/// The pill a session's state wears: live, fine, or cut short.
fn state_class(state: SessionState) -> &'static str {
    match state {
        SessionState::Recording => "pill on",
        SessionState::Complete => "pill off",
        SessionState::Interrupted => "pill bad",
    }
}

fn state_hint(state: SessionState) -> &'static str {
    match state {
        SessionState::Recording => "being recorded now",
        SessionState::Complete => "the recording finished cleanly",
        SessionState::Interrupted => {
            "the recorder stopped without finishing (killed or crashed): the events are what was written until then"
        }
    }
}

/// Whether a session matches the search box (name, kind, target, id).
pub fn session_matches(s: &SessionInfo, needle: &str) -> bool {
    let n = needle.trim().to_lowercase();
    n.is_empty()
        || s.name.to_lowercase().contains(&n)
        || s.kind.to_lowercase().contains(&n)
        || s.target.to_lowercase().contains(&n)
        || s.id.to_string() == n
}

#[component]
pub fn RecordingsPanel(
    recording: RwSignal<RecordingStatus>,
    error: RwSignal<Option<String>>,
    /// Whether the tab is showing: the lists are re-read each time it is opened.
    #[prop(into)]
    visible: Signal<bool>,
) -> impl IntoView {
    let sessions = RwSignal::new(Vec::<SessionInfo>::new());
    let search = RwSignal::new(String::new());
    let name = RwSignal::new("recording".to_owned());
    let source = RwSignal::new(String::new());
    let sources = RwSignal::new(Vec::<ConnectionInfo>::new());
    let path = RwSignal::new(String::new());
    let format = RwSignal::new("jsonl".to_owned());
    let note = RwSignal::new(None::<Result<String, String>>);
    let opened = RwSignal::new(None::<SessionInfo>);
    let model = RwSignal::new(LogModel::new());
    // Position of the first event shown and how many the page holds.
    let page = RwSignal::new((0u64, 0usize));
    // Contracts view of the opened session: the inferred messages, the contract file
    // checked against, and the violations found (seq -> "kind at /pointer").
    let contract = RwSignal::new(None::<InferOutcome>);
    let contract_path = RwSignal::new(String::new());
    let violations = RwSignal::new(std::collections::BTreeMap::<u64, String>::new());
    let scenario_path = RwSignal::new(String::new());

    let refresh = move || {
        spawn_local(async move {
            match api::sessions().await {
                Ok(s) => sessions.set(s),
                Err(e) => note.set(Some(Err(e.message))),
            }
            if let Ok(c) = api::connections().await {
                sources.set(c);
            }
        });
    };
    // Opening the tab, or a recording starting or stopping, changes the lists.
    Effect::new(move |_| {
        let _ = recording.with(|r| r.active);
        if visible.get() {
            refresh();
        }
    });

    let start = move |_| {
        let req = RecordRequest {
            name: name.get(),
            source: Some(source.get()).filter(|s| !s.is_empty()),
        };
        spawn_local(async move {
            match api::record_start(&req).await {
                Ok(s) => {
                    recording.set(s);
                    note.set(Some(Ok(format!("recording into {:?}", req.name))));
                }
                Err(e) => note.set(Some(Err(e.message))),
            }
        });
    };
    let stop = move |_| {
        spawn_local(async move {
            match api::record_stop().await {
                Ok(o) => {
                    recording.set(RecordingStatus::default());
                    note.set(Some(Ok(format!(
                        "session {} saved: {} events, {} dropped",
                        o.id, o.events, o.dropped
                    ))));
                }
                Err(e) => note.set(Some(Err(e.message))),
            }
            refresh();
        });
    };
    let show_page = move |s: SessionInfo, offset: u64| {
        spawn_local(async move {
            match api::session_events(s.id, offset, PAGE).await {
                Ok(events) => {
                    page.set((offset, events.len()));
                    model.update(|m| m.replace(events));
                    if opened.get_untracked().is_none_or(|o| o.id != s.id) {
                        contract.set(None);
                        violations.set(Default::default());
                        scenario_path.set(format!("from-session-{}.json", s.id));
                    }
                    opened.set(Some(s));
                }
                Err(e) => note.set(Some(Err(e.message))),
            }
        });
    };
    let open = move |s: SessionInfo| show_page(s, 0);
    let turn = move |forward: bool| {
        let Some(s) = opened.get_untracked() else {
            return;
        };
        let (offset, _) = page.get_untracked();
        let next = if forward {
            offset.saturating_add(PAGE)
        } else {
            offset.saturating_sub(PAGE)
        };
        show_page(s, next);
    };
    let export = move |s: SessionInfo| {
        let fmt = format.get();
        let target = match path.get().trim() {
            "" => {
                note.set(Some(Err("type a file path to export to".into())));
                return;
            }
            p => p.to_owned(),
        };
        spawn_local(async move {
            let req = ExportRequest {
                id: s.id,
                path: target.clone(),
                format: fmt,
            };
            match api::session_export(&req).await {
                Ok(n) => note.set(Some(Ok(format!("exported {n} events to {target}")))),
                Err(e) => note.set(Some(Err(e.message))),
            }
        });
    };
    let import = move |_| {
        let file = path.get().trim().to_owned();
        if file.is_empty() {
            note.set(Some(Err(
                "type the path of a .jsonl or .har file to import".into(),
            )));
            return;
        }
        spawn_local(async move {
            let req = ImportRequest {
                path: file.clone(),
                format: None,
            };
            match api::session_import(&req).await {
                Ok(o) => note.set(Some(Ok(format!(
                    "imported {} events from {file} as session {}",
                    o.events, o.id
                )))),
                Err(e) => note.set(Some(Err(e.message))),
            }
            refresh();
        });
    };
    let delete = move |s: SessionInfo| {
        spawn_local(async move {
            match api::session_delete(s.id).await {
                Ok(()) => {
                    if opened.get_untracked().is_some_and(|o| o.id == s.id) {
                        opened.set(None);
                        model.update(|m| m.replace(Vec::new()));
                    }
                    note.set(Some(Ok(format!("deleted session {} ({})", s.id, s.name))));
                }
                Err(e) => error.set(Some(e.message)),
            }
            refresh();
        });
    };
    let infer = move |_| {
        let Some(s) = opened.get_untracked() else {
            return;
        };
        spawn_local(async move {
            match api::contract_infer(s.id).await {
                Ok(c) => contract.set(Some(c)),
                Err(e) => note.set(Some(Err(e.message))),
            }
        });
    };
    let check = move |_| {
        let Some(s) = opened.get_untracked() else {
            return;
        };
        let file = contract_path.get_untracked().trim().to_owned();
        if file.is_empty() {
            note.set(Some(Err(
                "type the path of a contract (.yaml or .json) to check against".into(),
            )));
            return;
        }
        spawn_local(async move {
            match api::contract_check(s.id, &file).await {
                Ok(r) => {
                    let found = violation_map(&r);
                    let checked = r.checked;
                    let n = r.total;
                    // Only the first violations come back: more events may break it.
                    let listed = r.violations.len() as u64;
                    let more = if listed < n { "+" } else { "" };
                    note.set(Some(if n == 0 {
                        Ok(format!("{checked} events honour {file}: no violation"))
                    } else {
                        Err(format!(
                            "{n} violation(s) of {file} in {}{more} of {checked} events (highlighted)",
                            found.len()
                        ))
                    }));
                    violations.set(found);
                }
                Err(e) => note.set(Some(Err(e.message))),
            }
        });
    };
    let to_scenario = move |_| {
        let Some(s) = opened.get_untracked() else {
            return;
        };
        let file = scenario_path.get_untracked().trim().to_owned();
        spawn_local(async move {
            match api::scenario_from_session(s.id, &file).await {
                Ok(p) => note.set(Some(Ok(format!(
                    "scenario from session {} written to {p} (run it with simulate --file)",
                    s.id
                )))),
                Err(e) => note.set(Some(Err(e.message))),
            }
        });
    };
    let shown = move || {
        let n = search.get();
        sessions.with(|all| {
            all.iter()
                .rev()
                .filter(|s| session_matches(s, &n))
                .cloned()
                .collect::<Vec<_>>()
        })
    };

    view! {
        <section class="panel recordings" id="recordings-panel">
            <div class="record-bar">
                <h2>"Record"</h2>
                <input id="record-name" type="text" placeholder="name"
                    prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev)) />
                <select id="record-source" on:change=move |ev| source.set(event_target_value(&ev))>
                    <option value="">"everything"</option>
                    <option value="gateway">"embedded gateway"</option>
                    <For each=move || sources.get() key=|c| c.id let:c>
                        <option value=c.source.clone()>{format!("{} ({})", c.name, c.source)}</option>
                    </For>
                </select>
                <button id="record-start" class="primary" prop:disabled=move || recording.get().active on:click=start>"Record"</button>
                <button id="record-stop" prop:disabled=move || !recording.get().active on:click=stop>"Stop"</button>
                <span id="record-status" class=move || if recording.get().active { "pill on" } else { "pill off" }>
                    {move || {
                        let r = recording.get();
                        if r.active {
                            format!("● {} events written, {} dropped", r.written, r.dropped)
                        } else {
                            "not recording".to_owned()
                        }
                    }}
                </span>
            </div>
            <div class="record-bar">
                <input id="sessions-search" type="search" placeholder="search recordings"
                    prop:value=move || search.get() on:input=move |ev| search.set(event_target_value(&ev)) />
                <input id="session-path" type="text" class="wide" placeholder="/path/to/file.jsonl (export to / import from)"
                    prop:value=move || path.get() on:input=move |ev| path.set(event_target_value(&ev)) />
                <select id="session-format" on:change=move |ev| format.set(event_target_value(&ev))>
                    <option value="jsonl">"JSON Lines"</option>
                    <option value="har">"HAR"</option>
                </select>
                <button id="session-import" on:click=import>"Import"</button>
                <button id="sessions-reload" on:click=move |_| refresh()>"Reload"</button>
            </div>
            <p id="recordings-note" class=move || match note.get() { Some(Err(_)) => "result bad", _ => "result" }>
                {move || match note.get() { Some(Ok(m)) | Some(Err(m)) => m, None => String::new() }}
            </p>
            <div class="table-wrap sessions-wrap">
                <table id="sessions-list">
                    <thead><tr>
                        <th>"#"</th><th>"name"</th><th>"kind"</th><th>"state"</th><th>"target"</th>
                        <th>"started (UTC)"</th><th>"events"</th><th></th>
                    </tr></thead>
                    <tbody>
                        <For each=shown key=|s| (s.id, s.events, s.ended_at, s.state) let:s>
                            <tr data-testid="session-row" data-id=s.id data-name=s.name.clone()
                                class:active={let id = s.id; move || opened.get().is_some_and(|o| o.id == id)}>
                                <td class="num">{s.id}</td>
                                <td class="event">{s.name.clone()}</td>
                                <td>{s.kind.clone()}</td>
                                <td data-testid="session-state" title=state_hint(s.state)>
                                    <span class=state_class(s.state)>{s.state.as_str()}</span>
                                </td>
                                <td class="mono dim">{s.target.clone()}</td>
                                <td class="mono">{datetime(s.started_at)}</td>
                                <td class="num events">{s.events}</td>
                                <td class="row-actions">
                                    <button class="link" data-testid="session-open" on:click={let s = s.clone(); move |_| open(s.clone())}>"open"</button>
                                    <button class="link" data-testid="session-export" on:click={let s = s.clone(); move |_| export(s.clone())}>"export"</button>
                                    <button class="link" data-testid="session-delete" on:click={let s = s.clone(); move |_| delete(s.clone())}>"delete"</button>
                                </td>
                            </tr>
                        </For>
                    </tbody>
                </table>
                <Show when=move || sessions.with(Vec::is_empty)>
                    <p class="empty">"No recordings yet. Press Record, or import a file."</p>
                </Show>
            </div>
            <Show when=move || opened.get().is_some()>
                <div class="opened" id="session-view">
                    <h3 id="session-title">{move || opened.get().map(|s| format!("Session {}: {} ({} events)", s.id, s.name, s.events)).unwrap_or_default()}</h3>
                    <div class="record-bar">
                        <button id="session-prev" prop:disabled=move || page.get().0 == 0 on:click=move |_| turn(false)>"◀ previous"</button>
                        <span id="session-page" class="dim">{move || {
                            let (offset, len) = page.get();
                            page_label(offset, len, opened.get().map_or(0, |s| s.events))
                        }}</span>
                        <button id="session-next"
                            prop:disabled=move || {
                                let (offset, len) = page.get();
                                // A finished session's count is final; one still recording may grow.
                                (len as u64) < PAGE
                                    || opened.get().is_some_and(|s| s.ended_at.is_some() && offset + PAGE >= s.events)
                            }
                            on:click=move |_| turn(true)>"next ▶"</button>
                        <span class="dim">"filters apply to the page shown"</span>
                    </div>
                    <div class="record-bar">
                        <button id="contract-infer" on:click=infer>"Contract"</button>
                        <input id="contract-path" type="text" class="wide" placeholder="/path/to/api.yaml (contract to check against)"
                            prop:value=move || contract_path.get() on:input=move |ev| contract_path.set(event_target_value(&ev)) />
                        <button id="contract-check" on:click=check>"Check against…"</button>
                    </div>
                    <div class="record-bar">
                        <input id="scenario-path" type="text" class="wide" placeholder="scenario file (relative: next to the data dir)"
                            prop:value=move || scenario_path.get() on:input=move |ev| scenario_path.set(event_target_value(&ev)) />
                        <button id="scenario-from" on:click=to_scenario>"Scenario from this recording"</button>
                    </div>
                    <Show when=move || contract.get().is_some()>
                        <div class="contract-view" id="contract-view">
                            <h3>{move || contract.get().map(|c| format!(
                                "Contract inferred from {} events",
                                c.events
                            )).unwrap_or_default()}</h3>
                            <For each=move || contract_messages(contract.get().as_ref())
                                key=|m| (m.namespace.clone(), m.event.clone(), m.direction)
                                let:m>
                                <div class="contract-message" data-testid="contract-message"
                                    data-event=m.event.clone() data-namespace=m.namespace.clone()
                                    data-direction=m.direction>
                                    <h4><span class="event">{m.event.clone()}</span>" "
                                        <span class="dir">{m.direction}</span>" "
                                        <span class="mono dim">{m.namespace.clone()}</span></h4>
                                    <pre data-testid="contract-schema">{m.schema.clone()}</pre>
                                </div>
                            </For>
                        </div>
                    </Show>
                    <EventTable model=model prefix="session" violations=violations />
                </div>
            </Show>
        </section>
    }
}

/// One message of an inferred contract, ready to show.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageRow {
    pub namespace: String,
    pub event: String,
    /// `↓ s2c` or `↑ c2s` (the contract says `send`/`receive` from the gateway's side).
    pub direction: &'static str,
    /// The payload schema (and the ack reply's), pretty JSON.
    pub schema: String,
}

/// The messages of `cmd_contract_infer`'s answer.
pub fn contract_messages(c: Option<&InferOutcome>) -> Vec<MessageRow> {
    let Some(c) = c else {
        return Vec::new();
    };
    let pretty = |v: &serde_json::Value| serde_json::to_string_pretty(v).unwrap_or_default();
    c.messages
        .iter()
        .map(|m| {
            let mut schema = pretty(&m.payload);
            if let Some(r) = m.reply.as_ref().filter(|r| !r.is_null()) {
                schema.push_str("\nack reply: ");
                schema.push_str(&pretty(r));
            }
            MessageRow {
                namespace: m.namespace.clone(),
                event: m.event.clone(),
                direction: if m.action == "receive" {
                    "↑ c2s"
                } else {
                    "↓ s2c"
                },
                schema,
            }
        })
        .collect()
}

/// seq -> "kind at /pointer" for every violation of `cmd_contract_check`'s answer
/// (an event with several keeps them all, joined).
pub fn violation_map(r: &CheckOutcome) -> std::collections::BTreeMap<u64, String> {
    let mut out = std::collections::BTreeMap::<u64, String>::new();
    for v in &r.violations {
        let kind = if v.kind.is_empty() {
            "violation"
        } else {
            v.kind.as_str()
        };
        let line = if v.pointer.is_empty() {
            kind.to_owned()
        } else {
            format!("{kind} at {}", v.pointer)
        };
        out.entry(v.seq)
            .and_modify(|s| {
                s.push_str("; ");
                s.push_str(&line);
            })
            .or_insert(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use sockscope_protocol::Violation;

    #[test]
    fn the_search_box_matches_name_kind_target_or_id() {
        let s = SessionInfo {
            id: 12,
            name: "Dash run".into(),
            kind: "connection".into(),
            target: "http://staging:4004".into(),
            started_at: 0,
            ended_at: None,
            events: 3,
            meta: serde_json::Value::Null,
            state: Default::default(),
        };
        assert!(session_matches(&s, ""));
        assert!(session_matches(&s, "dash"));
        assert!(session_matches(&s, "STAGING"));
        assert!(session_matches(&s, "12"));
        assert!(!session_matches(&s, "1"));
        assert!(!session_matches(&s, "import"));
    }

    #[test]
    fn violations_are_keyed_by_seq_with_kind_and_pointer() {
        let v = |seq: u64, kind: &str, pointer: &str| Violation {
            seq,
            namespace: "/".into(),
            event: "order".into(),
            direction: "c2s".into(),
            kind: kind.into(),
            pointer: pointer.into(),
            message: String::new(),
        };
        let r = CheckOutcome {
            checked: 3,
            total: 3,
            violations: vec![
                v(2, "missing_field", "/orderId"),
                v(2, "wrong_type", "/total"),
                v(5, "unknown_event", ""),
            ],
        };
        let m = violation_map(&r);
        assert_eq!(m[&2], "missing_field at /orderId; wrong_type at /total");
        assert_eq!(m[&5], "unknown_event");
        assert!(violation_map(&CheckOutcome::default()).is_empty());
    }

    #[test]
    fn the_page_label_counts_from_one() {
        assert_eq!(page_label(0, 7, 7), "events 1–7 of 7");
        assert_eq!(
            page_label(5_000, 5_000, 12_345),
            "events 5001–10000 of 12345"
        );
        assert_eq!(page_label(0, 0, 0), "no events here (session has 0)");
        // A session still recording may have grown past the count the list showed.
        assert_eq!(page_label(0, 9, 3), "events 1–9 of 9");
    }
}
