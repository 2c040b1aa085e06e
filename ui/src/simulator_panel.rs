//! The Simulator panel: pick a scenario, a target (or the embedded gateway), clients,
//! ramp, duration and rate; watch throughput and latency live; read the report.

use leptos::prelude::*;
use leptos::task::spawn_local;
use sockscope_protocol::{EnsureOutcome, SimulateRequest, SimulateState, SimulationReport};

use crate::api;

/// The panel's fields as typed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SimForm {
    pub scenario: String,
    pub target: String,
    pub clients: String,
    pub ramp_s: String,
    pub duration_s: String,
    pub rate: String,
    pub secret: String,
}

fn seconds(text: &str, what: &str) -> Result<u64, String> {
    let v: f64 = text
        .trim()
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite() && *v >= 0.0)
        .ok_or_else(|| format!("{what} {:?} is not a number of seconds", text.trim()))?;
    Ok((v * 1000.0).round() as u64)
}

/// The request for the form, or a one-line reason it is unusable.
pub fn request_from(f: &SimForm) -> Result<SimulateRequest, String> {
    if f.scenario.trim().is_empty() {
        return Err("pick a scenario".into());
    }
    let clients: usize = f
        .clients
        .trim()
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| {
            format!(
                "clients {:?} is not a positive whole number",
                f.clients.trim()
            )
        })?;
    let target = match f.target.trim() {
        "" => None,
        t if t.starts_with("http://") || t.starts_with("https://") => Some(t.to_owned()),
        t => return Err(format!("target {t:?} must start with http:// or https:// (or stay empty for the embedded gateway)")),
    };
    let rate = match f.rate.trim() {
        "" => None,
        r => Some(
            r.parse()
                .ok()
                .filter(|v: &f64| v.is_finite() && *v > 0.0)
                .ok_or_else(|| format!("rate {r:?} is not a positive number"))?,
        ),
    };
    Ok(SimulateRequest {
        scenario: f.scenario.trim().to_owned(),
        target,
        clients,
        ramp_ms: seconds(&f.ramp_s, "ramp")?,
        duration_ms: seconds(&f.duration_s, "duration")?,
        rate,
        jwt_secret: Some(f.secret.trim().to_owned()).filter(|s| !s.is_empty()),
    })
}

/// One point of the live charts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub t_s: f64,
    pub received_per_s: f64,
    pub p99_ms: f64,
}

/// An SVG polyline's points for `values` over `t` in a `w` x `h` box.
pub fn polyline(points: &[(f64, f64)], w: f64, h: f64) -> String {
    let t_max = points.iter().map(|p| p.0).fold(1.0_f64, f64::max);
    let v_max = points.iter().map(|p| p.1).fold(1.0_f64, f64::max);
    points
        .iter()
        .map(|(t, v)| format!("{:.1},{:.1}", t / t_max * w, h - v / v_max * (h - 4.0)))
        .collect::<Vec<_>>()
        .join(" ")
}

#[component]
fn Chart(
    id: &'static str,
    title: &'static str,
    unit: &'static str,
    series: Signal<Vec<(f64, f64)>>,
) -> impl IntoView {
    view! {
        <div class="chart">
            <h3>{title}
                <span class="dim" id=format!("{id}-last")>
                    {move || series.with(|s| s.last().map(|p| format!(" {:.1} {unit}", p.1)).unwrap_or_default())}
                </span>
            </h3>
            <svg id=id viewBox="0 0 300 90" preserveAspectRatio="none">
                <polyline fill="none" stroke="currentColor" stroke-width="1.5"
                    points=move || series.with(|s| polyline(s, 300.0, 90.0)) />
            </svg>
        </div>
    }
}

#[component]
pub fn SimulatorPanel() -> impl IntoView {
    let scenarios = RwSignal::new(Vec::<String>::new());
    let scenario = RwSignal::new("analytics-dashboard".to_owned());
    let target = RwSignal::new(String::new());
    let clients = RwSignal::new("50".to_owned());
    let ramp = RwSignal::new("1".to_owned());
    let duration = RwSignal::new("5".to_owned());
    let rate = RwSignal::new(String::new());
    let secret = RwSignal::new(String::new());
    let state = RwSignal::new(SimulateState::default());
    let samples = RwSignal::new(Vec::<Sample>::new());
    let note = RwSignal::new(None::<String>);
    // The Ensure box (one condition a line, the CLI's --ensure grammar) and what each
    // condition came to on the finished run's report.
    let ensure = RwSignal::new(String::new());
    let verdicts = RwSignal::new(Vec::<EnsureOutcome>::new());
    let evaluate = move |report: sockscope_protocol::SimulationReport| {
        let conditions = ensure.get_untracked();
        if conditions.trim().is_empty() {
            verdicts.set(Vec::new());
            return;
        }
        spawn_local(async move {
            match api::ensure_check(&conditions, &report).await {
                Ok(v) => verdicts.set(v),
                Err(e) => {
                    verdicts.set(Vec::new());
                    note.set(Some(e.message));
                }
            }
        });
    };
    // A run that finishes is judged once; a new report is judged again.
    Effect::new(move |prev: Option<Option<u64>>| {
        let report = state.with(|s| s.report.clone());
        let key = report.as_ref().map(|r| r.elapsed_ms ^ r.events_sent);
        if let Some(r) = report {
            if prev.flatten() != key {
                evaluate(r);
            }
        } else {
            verdicts.set(Vec::new());
        }
        key
    });

    spawn_local(async move {
        match api::scenarios().await {
            Ok(s) => scenarios.set(s),
            Err(e) => note.set(Some(e.message)),
        }
    });

    let poll = move || {
        spawn_local(async move {
            let mut last = (0.0_f64, 0_u64);
            loop {
                crate::replay_panel::sleep_ms(400).await;
                match api::simulate_state().await {
                    Ok(s) => {
                        let t = s.progress.elapsed_ms as f64 / 1000.0;
                        if t > last.0 {
                            let rate = (s.progress.events_received.saturating_sub(last.1)) as f64
                                / (t - last.0);
                            samples.update(|v| {
                                v.push(Sample {
                                    t_s: t,
                                    received_per_s: rate,
                                    p99_ms: s.progress.delivery_p99_ms,
                                })
                            });
                            last = (t, s.progress.events_received);
                        }
                        let running = s.running;
                        if let Some(e) = &s.error {
                            note.set(Some(e.clone()));
                        }
                        state.set(s);
                        if !running {
                            break;
                        }
                    }
                    Err(e) => {
                        note.set(Some(e.message));
                        break;
                    }
                }
            }
        });
    };
    let start = move |_| {
        let form = SimForm {
            scenario: scenario.get(),
            target: target.get(),
            clients: clients.get(),
            ramp_s: ramp.get(),
            duration_s: duration.get(),
            rate: rate.get(),
            secret: secret.get(),
        };
        let req = match request_from(&form) {
            Ok(r) => r,
            Err(msg) => {
                note.set(Some(msg));
                return;
            }
        };
        note.set(None);
        samples.set(Vec::new());
        spawn_local(async move {
            match api::simulate_start(&req).await {
                Ok(s) => {
                    state.set(s);
                    poll();
                }
                Err(e) => note.set(Some(e.message)),
            }
        });
    };
    let stop = move |_| {
        spawn_local(async move {
            if let Ok(s) = api::simulate_stop().await {
                state.set(s);
            }
        });
    };
    let throughput = Signal::derive(move || {
        samples.with(|v| v.iter().map(|s| (s.t_s, s.received_per_s)).collect())
    });
    let latency =
        Signal::derive(move || samples.with(|v| v.iter().map(|s| (s.t_s, s.p99_ms)).collect()));

    view! {
        <section class="panel simulator" id="simulator-panel">
            <div class="split">
                <div class="conn-form">
                    <h2>"Simulate load"</h2>
                    <label>"Scenario"
                        <select id="sim-scenario" on:change=move |ev| scenario.set(event_target_value(&ev))>
                            <For each=move || scenarios.get() key=|s| s.clone() let:s>
                                <option value=s.clone() selected={let n = s.clone(); move || scenario.get() == n}>{s.clone()}</option>
                            </For>
                        </select>
                    </label>
                    <label>"Target (empty: the scenario's profile, embedded)"
                        <input id="sim-target" type="text" placeholder="http://127.0.0.1:4004"
                            prop:value=move || target.get() on:input=move |ev| target.set(event_target_value(&ev)) />
                    </label>
                    <div class="row2">
                        <label>"Clients"<input id="sim-clients" type="text" prop:value=move || clients.get() on:input=move |ev| clients.set(event_target_value(&ev)) /></label>
                        <label>"Ramp (s)"<input id="sim-ramp" type="text" prop:value=move || ramp.get() on:input=move |ev| ramp.set(event_target_value(&ev)) /></label>
                        <label>"Duration (s)"<input id="sim-duration" type="text" prop:value=move || duration.get() on:input=move |ev| duration.set(event_target_value(&ev)) /></label>
                        <label>"Rate (/s/client)"<input id="sim-rate" type="text" placeholder="scenario's" prop:value=move || rate.get() on:input=move |ev| rate.set(event_target_value(&ev)) /></label>
                    </div>
                    <label>"JWT secret for the clients' tokens"
                        <input id="sim-secret" type="password" placeholder="random when embedded" autocomplete="off"
                            prop:value=move || secret.get() on:input=move |ev| secret.set(event_target_value(&ev)) />
                    </label>
                    <label>"Ensure (one condition a line, e.g. errors==0, p99(delivery)<50ms, connected>=0.99)"
                        <textarea id="sim-ensure" rows="3" placeholder="errors==0"
                            prop:value=move || ensure.get() on:input=move |ev| ensure.set(event_target_value(&ev))></textarea>
                    </label>
                    <div class="actions">
                        <button id="sim-start" class="primary" prop:disabled=move || state.get().running on:click=start>"Start"</button>
                        <button id="sim-stop" prop:disabled=move || !state.get().running on:click=stop>"Stop"</button>
                    </div>
                    <p id="sim-note" class="result bad">{move || note.get().unwrap_or_default()}</p>
                    <p id="sim-progress" class="mono">
                        {move || {
                            let p = state.get().progress;
                            format!("{:.1}s: {} / {} connected, {} failed, {} sent, {} received, {} errors",
                                p.elapsed_ms as f64 / 1000.0, p.connected, p.clients, p.failed,
                                p.events_sent, p.events_received, p.errors)
                        }}
                    </p>
                </div>
                <div>
                    <Chart id="sim-throughput" title="Received events/s" unit="/s" series=throughput />
                    <Chart id="sim-latency" title="Delivery latency p99" unit="ms" series=latency />
                    <ul id="sim-ensure-results" class="ensure-results">
                        <For each=move || verdicts.get() key=|v| (v.text.clone(), v.holds, v.actual.clone()) let:v>
                            {
                                let EnsureOutcome { text, holds, actual } = v;
                                let condition = text.clone();
                                view! {
                                    <li data-testid="ensure-result" data-condition=condition
                                        data-holds=if holds { "true" } else { "false" }>
                                        <span class=if holds { "pill on" } else { "pill bad" }>{if holds { "passed" } else { "failed" }}</span>
                                        " " <span class="mono">{text}</span>
                                        <span class="dim">{format!(" (was {actual})")}</span>
                                    </li>
                                }
                            }
                        </For>
                    </ul>
                    {move || state.get().report.map(|r| view! { <ReportView report=r /> })}
                </div>
            </div>
        </section>
    }
}

#[component]
fn ReportView(report: SimulationReport) -> impl IntoView {
    let row = |name: &'static str, l: &sockscope_protocol::LatencySummary| {
        view! {
            <tr data-testid="sim-latency" data-kind=name>
                <td>{name}</td><td class="num">{l.count}</td>
                <td class="num">{format!("{:.2}", l.p50_ms)}</td>
                <td class="num">{format!("{:.2}", l.p95_ms)}</td>
                <td class="num">{format!("{:.2}", l.p99_ms)}</td>
                <td class="num">{format!("{:.2}", l.max_ms)}</td>
            </tr>
        }
    };
    view! {
        <div id="sim-report">
            <h3>"Report"</h3>
            <p class="mono" id="sim-summary">{format!(
                "{}: {} clients, {} connected, {} failed; {} sent ({:.0}/s), {} received ({:.0}/s); acks {} ok, {} timed out; {} errors",
                report.scenario, report.clients, report.connected, report.failed,
                report.events_sent, report.sent_per_sec, report.events_received, report.received_per_sec,
                report.acks_ok, report.acks_timed_out, report.errors
            )}</p>
            <table>
                <thead><tr><th>"latency (ms)"</th><th>"samples"</th><th>"p50"</th><th>"p95"</th><th>"p99"</th><th>"max"</th></tr></thead>
                <tbody>
                    {row("connect", &report.connect_latency)}
                    {row("ack", &report.ack_latency)}
                    {row("delivery", &report.delivery_latency)}
                </tbody>
            </table>
            <table>
                <thead><tr><th>"event"</th><th>"sent"</th><th>"received"</th></tr></thead>
                <tbody>
                    {report.events.iter().map(|e| view! {
                        <tr data-testid="sim-event" data-event=e.event.clone()>
                            <td class="event">{e.event.clone()}</td><td class="num">{e.sent}</td><td class="num">{e.received}</td>
                        </tr>
                    }).collect_view()}
                    {report.errors_by_kind.iter().map(|e| view! {
                        <tr class="bad"><td>{format!("error: {}", e.kind)}</td><td class="num" colspan="2">{e.count}</td></tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_becomes_a_request_or_a_reason() {
        let f = SimForm {
            scenario: "analytics-dashboard".into(),
            clients: "200".into(),
            ramp_s: "1.5".into(),
            duration_s: "5".into(),
            ..SimForm::default()
        };
        let r = request_from(&f).unwrap();
        assert_eq!((r.clients, r.ramp_ms, r.duration_ms), (200, 1500, 5000));
        assert_eq!(r.target, None);
        let bad = |g: SimForm| request_from(&g).unwrap_err();
        assert!(bad(SimForm {
            clients: "0".into(),
            ..f.clone()
        })
        .contains("clients"));
        assert!(bad(SimForm {
            ramp_s: "x".into(),
            ..f.clone()
        })
        .contains("ramp"));
        assert!(bad(SimForm {
            target: "ws://x".into(),
            ..f.clone()
        })
        .contains("http://"));
        assert!(bad(SimForm {
            rate: "-1".into(),
            ..f
        })
        .contains("rate"));
    }

    #[test]
    fn a_polyline_fits_its_box() {
        let p = polyline(&[(0.0, 0.0), (2.0, 50.0), (4.0, 100.0)], 300.0, 90.0);
        assert_eq!(p, "0.0,90.0 150.0,47.0 300.0,4.0");
        assert_eq!(polyline(&[], 300.0, 90.0), "");
    }
}
