//! The Proxy panel: put the capture proxy between an app and its real gateway. The
//! operator gives the listen address, the upstream and the fault rules, starts it,
//! points the app at the URL shown, and watches each client (transport, namespaces,
//! counts, faults, handshake) here while its events run through the live log like
//! every other source (`proxy:<n>`).

use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;
use sockscope_protocol::{ProxyClient, ProxyRequest, ProxyStatus};

use crate::api;

/// Where the proxy listens unless told otherwise: loopback, next to the gateway's 3069.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:3070";
/// How often the client list is refreshed while the proxy runs.
const REFRESH: Duration = Duration::from_secs(1);
/// The rule forms, one line under the textarea.
const RULE_HELP: &str = "One rule a line: delay by=200ms [jitter=50ms] · drop · \
    rewrite path=/0/field value=JSON · close [after=5s] · no-upgrade · throttle bps=N. \
    Filters: event=NAME dir=c2s|s2c ns=/x count=N. Lines starting with # are skipped.";

/// The form as a start request. Only shaped here: the engine checks the address, the
/// URL and every rule, and its one-line error is what the panel shows.
pub fn request_from(listen: &str, upstream: &str, rules: &str) -> ProxyRequest {
    ProxyRequest {
        listen: match listen.trim() {
            "" => DEFAULT_LISTEN.to_owned(),
            l => l.to_owned(),
        },
        upstream: upstream.trim().to_owned(),
        rules: rules
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_owned)
            .collect(),
        ..ProxyRequest::default()
    }
}

/// The namespaces cell: their names (the socket ids go in its tooltip, see
/// [`socket_ids`]).
fn namespaces_cell(c: &ProxyClient) -> String {
    c.namespaces
        .iter()
        .map(|n| n.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Each namespace's Socket.IO socket id, one a line, where known.
fn socket_ids(c: &ProxyClient) -> String {
    c.namespaces
        .iter()
        .map(|n| {
            format!(
                "{}: {}",
                n.name,
                n.socket_id.as_deref().unwrap_or("no id yet")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The status as it stands once the proxy was stopped: the clients stay listed (the
/// operator may still be reading them), each ended by the stop if it was open.
fn after_stop(mut last: ProxyStatus) -> ProxyStatus {
    last.running = false;
    for c in &mut last.clients {
        if c.closed.is_none() {
            c.closed = Some("proxy stopped".to_owned());
        }
    }
    last
}

#[component]
pub fn ProxyPanel(
    /// Whether the tab is on screen: the client list is polled only then.
    visible: Signal<bool>,
) -> impl IntoView {
    let listen = RwSignal::new(DEFAULT_LISTEN.to_owned());
    let upstream = RwSignal::new(String::new());
    let rules = RwSignal::new(String::new());
    let status = RwSignal::new(ProxyStatus::default());
    let problem = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let expanded = RwSignal::new(None::<u64>);
    let running = move || status.with(|s| s.running);

    let refresh = move || {
        spawn_local(async move {
            match api::proxy_status().await {
                Ok(s) if s.running => {
                    if status.get_untracked() != s {
                        status.set(s);
                    }
                }
                // Stopped elsewhere (or never started): keep the last client list.
                Ok(_) => {
                    if status.with_untracked(|s| s.running) {
                        status.set(after_stop(status.get_untracked()));
                    }
                }
                Err(e) => problem.set(Some(e.message)),
            }
        });
    };
    refresh();
    let tick = move || {
        if visible.get_untracked() && status.with_untracked(|s| s.running) {
            refresh();
        }
    };
    if let Ok(handle) = set_interval_with_handle(tick, REFRESH) {
        on_cleanup(move || handle.clear());
    }

    let start = move |_| {
        let request = request_from(&listen.get(), &upstream.get(), &rules.get());
        busy.set(true);
        spawn_local(async move {
            match api::proxy_start(&request).await {
                Ok(s) => {
                    status.set(s);
                    expanded.set(None);
                    problem.set(None);
                }
                Err(e) => problem.set(Some(e.message)),
            }
            busy.set(false);
        });
    };
    let stop = move |_| {
        busy.set(true);
        spawn_local(async move {
            match api::proxy_stop().await {
                Ok(_) => status.set(after_stop(status.get_untracked())),
                Err(e) => problem.set(Some(e.message)),
            }
            busy.set(false);
        });
    };
    let clients = move || status.with(|s| s.clients.clone());

    view! {
        <section class="panel proxy" id="proxy-panel">
            <div class="proxy-form">
                <div class="proxy-col">
                    <div class="status-row">
                        <h2>"Capture proxy"</h2>
                        <span id="proxy-state" class=move || if running() { "pill on" } else { "pill off" }>
                            {move || if running() { "running" } else { "stopped" }}
                        </span>
                    </div>
                    <label>"Listen address"
                        <input id="proxy-listen" type="text" placeholder=DEFAULT_LISTEN
                            autocomplete="off" spellcheck="false"
                            prop:value=move || listen.get() prop:disabled=running
                            on:input=move |ev| listen.set(event_target_value(&ev)) />
                    </label>
                    <label>"Upstream gateway URL"
                        <input id="proxy-upstream" type="text" placeholder="http://127.0.0.1:3069"
                            autocomplete="off" spellcheck="false"
                            prop:value=move || upstream.get() prop:disabled=running
                            on:input=move |ev| upstream.set(event_target_value(&ev)) />
                    </label>
                    <div class="actions">
                        <button id="proxy-start" class="primary"
                            prop:disabled=move || running() || busy.get() on:click=start>"Start"</button>
                        <button id="proxy-stop"
                            prop:disabled=move || !running() || busy.get() on:click=stop>"Stop"</button>
                    </div>
                    <p id="proxy-error" class="result bad" role="alert"
                        style:display=move || if problem.with(Option::is_some) { "block" } else { "none" }>
                        {move || problem.get().unwrap_or_default()}
                    </p>
                    <Show when=running>
                        <p class="proxy-point">"Point the app's socket URL at "
                            <code id="proxy-url" class="mono">{move || status.with(|s| s.url.clone())}</code>
                        </p>
                    </Show>
                </div>
                <div class="proxy-col">
                    <label>"Fault rules"
                        <textarea id="proxy-rules" rows="4" autocomplete="off" spellcheck="false"
                            placeholder="drop event=secret\ndelay by=200ms dir=s2c"
                            aria-describedby="proxy-rules-help"
                            prop:value=move || rules.get() prop:disabled=running
                            on:input=move |ev| rules.set(event_target_value(&ev))></textarea>
                    </label>
                    <p id="proxy-rules-help" class="hint">{RULE_HELP}</p>
                    <p class="hint">"Settings lock while the proxy runs. Proxied clients' events show in Live events as proxy:N, a ⚠ on what a rule did."</p>
                </div>
            </div>
            <div class="proxy-clients">
                <h3>"Clients"
                    <span class="dim count" id="proxy-summary">{move || status.with(|s| {
                        let open = s.clients.iter().filter(|c| c.closed.is_none()).count();
                        format!(" {} open · {} seen · {} passed through untouched", open, s.clients.len(), s.passthrough)
                    })}</span>
                </h3>
                <div class="table-wrap">
                    <table id="proxy-clients">
                        <thead><tr>
                            <th>"#"</th><th>"EIO"</th><th>"parser"</th><th>"transport"</th>
                            <th>"namespaces"</th><th>"c2s"</th><th>"s2c"</th><th>"faults"</th><th>"ended"</th>
                        </tr></thead>
                        <tbody>
                            <For each=clients key=|c| (c.n, c.c2s, c.s2c, c.faults.len(), c.closed.clone(), c.transport.clone(), c.namespaces.len()) let:c>
                                {client_rows(c, expanded)}
                            </For>
                        </tbody>
                    </table>
                    <Show when=move || status.with(|s| s.clients.is_empty())>
                        <p class="empty">{move || if running() { "No client yet: point the app at the URL above." } else { "Start the proxy, then point the app at it." }}</p>
                    </Show>
                </div>
            </div>
        </section>
    }
}

/// One client's row and, when expanded, its handshake under it. The number is a
/// button, so the handshake opens from the keyboard too.
fn client_rows(c: ProxyClient, expanded: RwSignal<Option<u64>>) -> impl IntoView {
    let n = c.n;
    let open = move || expanded.get() == Some(n);
    let toggle = move |_| expanded.update(|e| *e = if *e == Some(n) { None } else { Some(n) });
    let handshake = serde_json::to_string_pretty(&c.handshake)
        .unwrap_or_else(|e| format!("cannot show the handshake: {e}"));
    let faults = c.faults.join("\n");
    let fault_count = c.faults.len();
    let last_fault = c.faults.last().cloned().unwrap_or_default();
    view! {
        <tr data-testid="proxy-client" data-n=n class:active=open class:ended=c.closed.is_some()>
            <td class="num">
                <button class="link row-toggle" data-testid="proxy-client-toggle"
                    title="show the handshake" aria-expanded=move || open().to_string()
                    on:click=toggle>{move || if open() { format!("▾ {n}") } else { format!("▸ {n}") }}</button>
            </td>
            <td class="mono" data-testid="proxy-eio">{c.eio}</td>
            <td data-testid="proxy-parser">{c.parser.map(|p| p.name().to_owned()).unwrap_or_else(|| "…".to_owned())}</td>
            <td data-testid="proxy-transport">{c.transport.clone()}</td>
            <td class="mono" data-testid="proxy-namespaces" title=socket_ids(&c)>{namespaces_cell(&c)}</td>
            <td class="num" data-testid="proxy-c2s">{c.c2s}</td>
            <td class="num" data-testid="proxy-s2c">{c.s2c}</td>
            <td class="faults" data-testid="proxy-faults" title=faults>
                {if fault_count == 0 { String::new() } else { format!("⚠ {fault_count}: {last_fault}") }}
            </td>
            <td data-testid="proxy-ended">{c.closed.clone().unwrap_or_else(|| "open".to_owned())}</td>
        </tr>
        <Show when=open>
            <tr class="handshake-row" data-testid="proxy-handshake-row">
                <td colspan="9">
                    <span class="dim">"Handshake (secrets redacted)"</span>
                    <pre data-testid="proxy-handshake">{handshake.clone()}</pre>
                </td>
            </tr>
        </Show>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sockscope_protocol::ProxyNamespace;

    #[test]
    fn the_form_becomes_a_request_one_rule_a_line() {
        let r = request_from(
            "  ",
            " http://127.0.0.1:3069 ",
            "drop event=secret\n\n  # a note\n delay by=200ms dir=s2c \n",
        );
        assert_eq!(r.listen, DEFAULT_LISTEN);
        assert_eq!(r.upstream, "http://127.0.0.1:3069");
        assert_eq!(r.rules, vec!["drop event=secret", "delay by=200ms dir=s2c"]);
        assert_eq!(r.record, None);
        let r = request_from("127.0.0.1:0", "", "");
        assert_eq!(r.listen, "127.0.0.1:0");
        assert!(r.rules.is_empty());
    }

    #[test]
    fn a_stop_keeps_the_clients_and_ends_the_open_ones() {
        let open = ProxyClient {
            n: 1,
            namespaces: vec![
                ProxyNamespace {
                    name: "/".into(),
                    socket_id: Some("abc".into()),
                },
                ProxyNamespace {
                    name: "/admin".into(),
                    socket_id: None,
                },
            ],
            ..ProxyClient::default()
        };
        assert_eq!(namespaces_cell(&open), "/, /admin");
        assert_eq!(socket_ids(&open), "/: abc\n/admin: no id yet");
        let ended = ProxyClient {
            n: 2,
            closed: Some("client closed".into()),
            ..ProxyClient::default()
        };
        let s = after_stop(ProxyStatus {
            running: true,
            clients: vec![open, ended],
            ..ProxyStatus::default()
        });
        assert!(!s.running);
        assert_eq!(s.clients[0].closed.as_deref(), Some("proxy stopped"));
        assert_eq!(s.clients[1].closed.as_deref(), Some("client closed"));
    }
}
