//! The Replay panel: pick a recording, a target, the speed, filters and rewrites,
//! replay it against the target (client side) and read the drift report: per-event
//! counts, names missing or unexpected, ack replies that differ, ack latency.

use leptos::prelude::*;
use leptos::task::spawn_local;
use sockscope_protocol::{
    DriftReport, ReplayPlan, ReplayRequest, ReplayState, ServerReplayPhase, ServerReplayRequest,
    ServerReplayStatus, SessionInfo, TargetProfile,
};

use crate::api;
use crate::form::TextField;

/// The panel's fields as typed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReplayForm {
    pub session: String,
    pub url: String,
    pub namespace: String,
    pub token: String,
    pub speed: String,
    pub as_fast: bool,
    pub max_gap_ms: String,
    pub loops: String,
    pub only: String,
    pub skip: String,
    pub rewrites: String,
    pub sets: String,
    pub ignore: String,
}

/// Comma- or line-separated names.
fn names(text: &str) -> Vec<String> {
    text.split([',', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The recording and the plan both replays share (timing, filters, rewrites), or a
/// one-line reason the form is unusable.
fn plan_from(f: &ReplayForm) -> Result<(i64, ReplayPlan), String> {
    let session: i64 = f
        .session
        .trim()
        .parse()
        .map_err(|_| "pick a recording to replay".to_owned())?;
    let speed: f64 = match f.speed.trim() {
        "" => 1.0,
        s => s
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite() && *v > 0.0)
            .ok_or_else(|| format!("speed {s:?} is not a positive number"))?,
    };
    let max_gap_ms = match f.max_gap_ms.trim() {
        "" => None,
        s => Some(
            s.parse()
                .map_err(|_| format!("max gap {s:?} is not a number of milliseconds"))?,
        ),
    };
    let loops = match f.loops.trim() {
        "" => 1,
        s => s
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("loops {s:?} is not a positive whole number"))?,
    };
    Ok((
        session,
        ReplayPlan {
            speed,
            as_fast_as_possible: f.as_fast,
            max_gap_ms,
            loops,
            only: names(&f.only),
            skip: names(&f.skip),
            rewrites: lines(&f.rewrites),
            sets: lines(&f.sets),
        },
    ))
}

/// The client-side request for the form, or a one-line reason it is unusable.
pub fn request_from(f: &ReplayForm) -> Result<ReplayRequest, String> {
    let (session, plan) = plan_from(f)?;
    let url = f.url.trim();
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(format!(
            "target {url:?} must start with http:// or https://"
        ));
    }
    Ok(ReplayRequest {
        session,
        target: TargetProfile {
            url: url.to_owned(),
            namespace: f.namespace.trim().to_owned(),
            ..TargetProfile::default()
        },
        token: Some(f.token.trim().to_owned()).filter(|t| !t.is_empty()),
        plan,
        ignore: names(&f.ignore),
    })
}

/// The server-side request for the form (no target: the embedded gateway plays it).
pub fn server_request_from(f: &ReplayForm) -> Result<ServerReplayRequest, String> {
    let (session, plan) = plan_from(f)?;
    Ok(ServerReplayRequest {
        session,
        plan,
        ..ServerReplayRequest::default()
    })
}

#[component]
pub fn ReplayPanel(
    /// Whether the tab is showing: the recordings list is re-read each time.
    #[prop(into)]
    visible: Signal<bool>,
) -> impl IntoView {
    let sessions = RwSignal::new(Vec::<SessionInfo>::new());
    let session = RwSignal::new(String::new());
    let url = RwSignal::new("http://127.0.0.1:3069".to_owned());
    let namespace = RwSignal::new(String::new());
    let token = RwSignal::new(String::new());
    let speed = RwSignal::new("1".to_owned());
    let as_fast = RwSignal::new(false);
    let max_gap = RwSignal::new(String::new());
    let loops = RwSignal::new("1".to_owned());
    let only = RwSignal::new(String::new());
    let skip = RwSignal::new(String::new());
    let rewrites = RwSignal::new(String::new());
    let sets = RwSignal::new(String::new());
    let ignore = RwSignal::new(String::new());
    let state = RwSignal::new(ReplayState::default());
    let report = RwSignal::new(None::<DriftReport>);
    let note = RwSignal::new(None::<Result<String, String>>);

    Effect::new(move |_| {
        if visible.get() {
            spawn_local(async move {
                match api::sessions().await {
                    Ok(s) => sessions.set(s),
                    Err(e) => note.set(Some(Err(e.message))),
                }
            });
        }
    });

    let newest_first = move || {
        let mut all = sessions.get();
        all.reverse();
        all
    };
    let form = move || ReplayForm {
        session: session.get(),
        url: url.get(),
        namespace: namespace.get(),
        token: token.get(),
        speed: speed.get(),
        as_fast: as_fast.get(),
        max_gap_ms: max_gap.get(),
        loops: loops.get(),
        only: only.get(),
        skip: skip.get(),
        rewrites: rewrites.get(),
        sets: sets.get(),
        ignore: ignore.get(),
    };
    let run = move |_| {
        let req = match request_from(&form()) {
            Ok(r) => r,
            Err(msg) => {
                note.set(Some(Err(msg)));
                return;
            }
        };
        report.set(None);
        note.set(Some(Ok(format!(
            "replaying session {} against {}…",
            req.session, req.target.url
        ))));
        state.set(ReplayState {
            running: true,
            ..ReplayState::default()
        });
        // Poll progress while the replay runs.
        spawn_local(async move {
            while state.get_untracked().running {
                sleep_ms(150).await;
                if let Ok(s) = api::replay_state().await {
                    if s.running || s.sent > 0 {
                        state.set(s);
                    }
                }
            }
        });
        spawn_local(async move {
            match api::replay(&req).await {
                Ok(r) => {
                    note.set(Some(Ok(format!(
                        "{}: {} events sent, new session {}",
                        if r.is_clean() {
                            "no drift"
                        } else {
                            "drift found"
                        },
                        r.sent,
                        r.replay_session
                    ))));
                    report.set(Some(r));
                }
                Err(e) => note.set(Some(Err(e.message))),
            }
            state.update(|s| s.running = false);
        });
    };

    view! {
        <section class="panel replay" id="replay-panel">
            <div class="split">
                <div class="conn-form">
                    <h2>"Replay a recording"</h2>
                    <label>"Recording"
                        <select id="replay-session" on:change=move |ev| session.set(event_target_value(&ev))>
                            <option value="">"choose…"</option>
                            <For each=newest_first key=|s| (s.id, s.events) let:s>
                                <option value=s.id.to_string()>{format!("#{} {} ({} events)", s.id, s.name, s.events)}</option>
                            </For>
                        </select>
                    </label>
                    <TextField id="replay-url" label="Target URL" value=url placeholder="https://staging.example.com" />
                    <TextField id="replay-namespace" label="Namespace (empty: the recording's)" value=namespace placeholder="/dashboard" />
                    <TextField id="replay-token" label="Token (auth.token)" value=token kind="password" />
                    <div class="row2">
                        <TextField id="replay-speed" label="Speed (2 = twice as fast)" value=speed />
                        <TextField id="replay-max-gap" label="Max gap (ms)" value=max_gap />
                        <TextField id="replay-loops" label="Loops" value=loops />
                    </div>
                    <label class="check">
                        <input id="replay-fast" type="checkbox" prop:checked=move || as_fast.get()
                            on:change=move |ev| as_fast.set(event_target_checked(&ev)) />
                        "As fast as possible"
                    </label>
                    <div class="row2">
                        <TextField id="replay-only" label="Only events" value=only placeholder="subscribe, echo" />
                        <TextField id="replay-skip" label="Skip events" value=skip placeholder="ping" />
                    </div>
                    <label>"Rewrites (one FROM=>TO a line)"
                        <textarea id="replay-rewrites" rows="2" spellcheck="false" placeholder="tenant-a=>tenant-b"
                            prop:value=move || rewrites.get() on:input=move |ev| rewrites.set(event_target_value(&ev))></textarea>
                    </label>
                    <label>"Set fields (one $.path=VALUE a line)"
                        <textarea id="replay-sets" rows="2" spellcheck="false" placeholder="$.tenantID=t2"
                            prop:value=move || sets.get() on:input=move |ev| sets.set(event_target_value(&ev))></textarea>
                    </label>
                    <TextField id="replay-ignore" label="Ignore keys when comparing acks" value=ignore placeholder="ts, generatedAt" />
                    <div class="actions">
                        <button id="replay-run" class="primary" prop:disabled=move || state.get().running on:click=run>"Replay"</button>
                        <span id="replay-progress" class="dim">
                            {move || {
                                let s = state.get();
                                if s.running { format!("{} / {} sent {}", s.sent, s.total, s.event) } else { String::new() }
                            }}
                        </span>
                    </div>
                    <p id="replay-note" class=move || match note.get() { Some(Err(_)) => "result bad", _ => "result" }>
                        {move || match note.get() { Some(Ok(m)) | Some(Err(m)) => m, None => String::new() }}
                    </p>
                    <ServerReplay form=form />
                </div>
                <div class="drift" id="drift-report">
                    <h3>"Drift report"</h3>
                    <Show when=move || report.get().is_some()
                        fallback=|| view! { <p class="empty">"Run a replay to compare the target's answers with the recording's."</p> }>
                        {move || report.get().map(|r| view! { <DriftView report=r /> })}
                    </Show>
                </div>
            </div>
        </section>
    }
}

/// Server side: the embedded gateway plays the recording's server-to-client events to
/// the clients connected to it, rooms and tenants as recorded (or rewritten), with
/// pause, resume, seek and stop.
#[component]
fn ServerReplay(form: impl Fn() -> ReplayForm + Copy + Send + Sync + 'static) -> impl IntoView {
    let status = RwSignal::new(ServerReplayStatus::default());
    let seek_to = RwSignal::new("0".to_owned());
    let note = RwSignal::new(None::<Result<String, String>>);
    let polling = StoredValue::new(false);
    let poll = move || {
        if polling.get_value() {
            return;
        }
        polling.set_value(true);
        spawn_local(async move {
            loop {
                sleep_ms(200).await;
                match api::server_replay_status().await {
                    Ok(s) => {
                        let done = s.phase.is_done() || s.phase == ServerReplayPhase::Idle;
                        status.set(s);
                        if done {
                            break;
                        }
                    }
                    Err(e) => {
                        note.set(Some(Err(e.message)));
                        break;
                    }
                }
            }
            polling.set_value(false);
        });
    };
    let outcome = move |r: Result<ServerReplayStatus, sockscope_protocol::ApiError>| match r {
        Ok(s) => {
            status.set(s);
            note.set(None);
            poll();
        }
        Err(e) => note.set(Some(Err(e.message))),
    };
    let start = move |_| {
        let req = match server_request_from(&form()) {
            Ok(r) => r,
            Err(msg) => {
                note.set(Some(Err(msg)));
                return;
            }
        };
        spawn_local(async move { outcome(api::server_replay_start(&req).await) });
    };
    let control = move |action: &'static str| {
        spawn_local(async move { outcome(api::server_replay_control(action).await) });
    };
    let seek = move |_| {
        let Ok(index) = seek_to.get().trim().parse::<u64>() else {
            note.set(Some(Err(format!(
                "seek to {:?}: not an event index",
                seek_to.get()
            ))));
            return;
        };
        spawn_local(async move { outcome(api::server_replay_seek(index).await) });
    };
    let active = move || {
        let p = status.get().phase;
        !(p.is_done() || p == ServerReplayPhase::Idle)
    };
    view! {
        <div class="composer" id="server-replay">
            <h3>"Server side: play it to the embedded gateway's clients"</h3>
            <p class="hint">"Uses the recording, timing, filters and rewrites above; start the gateway first."</p>
            <div class="actions">
                <button id="server-replay-start" class="primary" prop:disabled=active on:click=start>"Play"</button>
                <button id="server-replay-pause" prop:disabled=move || !active() || status.get().paused
                    on:click=move |_| control("pause")>"Pause"</button>
                <button id="server-replay-resume" prop:disabled=move || !status.get().paused
                    on:click=move |_| control("resume")>"Resume"</button>
                <button id="server-replay-stop" prop:disabled=move || !active() on:click=move |_| control("stop")>"Stop"</button>
            </div>
            <div class="actions">
                <input id="server-replay-index" type="text" class="short" prop:value=move || seek_to.get()
                    on:input=move |ev| seek_to.set(event_target_value(&ev)) />
                <button id="server-replay-seek" prop:disabled=move || !active() on:click=seek>"Seek"</button>
            </div>
            <p id="server-replay-status" class="mono">
                {move || {
                    let s = status.get();
                    match s.phase {
                        ServerReplayPhase::Idle => "idle".to_owned(),
                        phase => format!(
                            "{:?}: {} / {} sent, next #{}, {} deliveries{}",
                            phase, s.sent, s.total, s.index, s.delivered,
                            s.error.map(|e| format!(" ({e})")).unwrap_or_default()
                        ).to_lowercase(),
                    }
                }}
            </p>
            <p id="server-replay-note" class="result bad">
                {move || match note.get() { Some(Ok(m)) | Some(Err(m)) => m, None => String::new() }}
            </p>
        </div>
    }
}

#[component]
fn DriftView(report: DriftReport) -> impl IntoView {
    let clean = report.is_clean();
    view! {
        <p id="drift-verdict" class=if clean { "pill on" } else { "pill bad" }>
            {if clean { "no drift".to_owned() } else { "drift found".to_owned() }}
        </p>
        <p class="dim">{format!(
            "session {} -> {}: {} sent, replay session {}; schedule error mean {:.2} ms, max {:.2} ms",
            report.source_session, report.target, report.sent, report.replay_session,
            report.schedule.mean_error_us / 1000.0, report.schedule.max_error_us as f64 / 1000.0
        )}</p>
        <table id="drift-counts">
            <thead><tr><th>"server event"</th><th>"expected"</th><th>"received"</th></tr></thead>
            <tbody>
                {report.events.iter().map(|e| view! {
                    <tr data-testid="drift-count" data-event=e.event.clone() class:bad=e.expected != e.received>
                        <td class="event">{e.event.clone()}</td>
                        <td class="num">{e.expected}</td>
                        <td class="num">{e.received}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
        <p class="mono" id="drift-names">
            {format!("missing: {}  unexpected: {}",
                if report.missing.is_empty() { "none".to_owned() } else { report.missing.join(", ") },
                if report.unexpected.is_empty() { "none".to_owned() } else { report.unexpected.join(", ") })}
        </p>
        <h3>"Acks that differ"</h3>
        <table id="drift-acks">
            <thead><tr><th>"#"</th><th>"event"</th><th>"expected"</th><th>"received"</th></tr></thead>
            <tbody>
                {report.ack_mismatches.iter().map(|a| view! {
                    <tr data-testid="drift-ack" data-event=a.event.clone()>
                        <td class="num">{a.index}</td>
                        <td class="event">{a.event.clone()}</td>
                        <td class="mono payload">{a.expected.to_string()}</td>
                        <td class="mono payload">{a.error.clone().unwrap_or_else(|| a.received.to_string())}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
        <h3>"Ack latency (ms)"</h3>
        <table id="drift-latency">
            <thead><tr><th>"#"</th><th>"event"</th><th>"original"</th><th>"replay"</th><th>"delta"</th></tr></thead>
            <tbody>
                {report.latency.iter().map(|l| view! {
                    <tr>
                        <td class="num">{l.index}</td>
                        <td>{l.event.clone()}</td>
                        <td class="num">{format!("{:.1}", l.original_ms)}</td>
                        <td class="num">{format!("{:.1}", l.replay_ms)}</td>
                        <td class="num">{format!("{:+.1}", l.delta_ms)}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// Waits `ms` milliseconds on the browser's timer.
pub async fn sleep_ms(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        if let Some(w) = web_sys::window() {
            let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_becomes_a_request_or_a_reason() {
        let f = ReplayForm {
            session: "3".into(),
            url: "http://staging:4004".into(),
            speed: "4".into(),
            only: "subscribe, echo".into(),
            rewrites: "a=>b\n\n c=>d ".into(),
            ignore: "ts".into(),
            ..ReplayForm::default()
        };
        let r = request_from(&f).unwrap();
        assert_eq!(r.session, 3);
        assert_eq!(r.plan.speed, 4.0);
        assert_eq!(r.plan.loops, 1);
        assert_eq!(r.plan.only, vec!["subscribe", "echo"]);
        assert_eq!(r.plan.rewrites, vec!["a=>b", "c=>d"]);
        assert_eq!(r.token, None);
        let bad = |g: ReplayForm| request_from(&g).unwrap_err();
        assert!(bad(ReplayForm {
            session: String::new(),
            ..f.clone()
        })
        .contains("pick a recording"));
        assert!(bad(ReplayForm {
            speed: "0".into(),
            ..f.clone()
        })
        .contains("positive"));
        assert!(bad(ReplayForm {
            loops: "x".into(),
            ..f.clone()
        })
        .contains("loops"));
        assert!(bad(ReplayForm {
            url: "staging".into(),
            ..f
        })
        .contains("http://"));
    }
}
