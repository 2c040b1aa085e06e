//! The Connections panel: connect to real gateways (saved targets, token from the
//! form or the OS keychain), see which connections are open, and the emit composer
//! (event, JSON arguments, ack toggle, templates) with the ack reply and its latency.

use leptos::prelude::*;
use leptos::task::spawn_local;
use serde_json::Value;
use sockscope_protocol::{
    ConnectRequest, ConnectionEmit, ConnectionInfo, DoctorOutcome, DoctorReport, DoctorRequest,
    OnConnectEmit, TargetProfile, TargetTls, TemplateSet, TransportChoice,
};

use crate::api;
use crate::form::TextField;

/// The connection form as typed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TargetForm {
    pub name: String,
    pub url: String,
    pub namespace: String,
    pub auth: String,
    pub headers: String,
    pub query: String,
    pub transport: String,
    pub on_connect: String,
    /// TLS: a PEM file of extra trusted roots, no checks at all, a client certificate.
    pub ca_cert: String,
    pub insecure: bool,
    pub client_cert: String,
    pub client_key: String,
    /// Answers to the server's ack requests, `event={json}` a line (`*` for any).
    pub ack_replies: String,
}

fn pairs(text: &str, sep: char, what: &str) -> Result<Vec<(String, String)>, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| {
            l.split_once(sep)
                .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                .filter(|(k, _)| !k.is_empty())
                .ok_or_else(|| format!("bad {what} line {l:?}: expected K{sep}V"))
        })
        .collect()
}

/// The form as a target profile, or a one-line reason it is unusable.
pub fn target_from(f: &TargetForm) -> Result<TargetProfile, String> {
    let url = f.url.trim();
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(format!("URL {url:?} must start with http:// or https://"));
    }
    let auth: Value = match f.auth.trim() {
        "" => Value::Null,
        t => {
            let v: Value = serde_json::from_str(t).map_err(|e| format!("bad JSON in auth: {e}"))?;
            if !v.is_object() {
                return Err("auth must be a JSON object such as {\"firebase_id\": \"...\"}".into());
            }
            v
        }
    };
    let on_connect = event_lines(&f.on_connect, "on-connect")?;
    let ack_replies = event_lines(&f.ack_replies, "ack reply")?;
    Ok(TargetProfile {
        name: f.name.trim().to_owned(),
        url: url.to_owned(),
        namespace: match f.namespace.trim() {
            "" => "/".to_owned(),
            n if n.starts_with('/') => n.to_owned(),
            n => return Err(format!("namespace {n:?} must start with '/'")),
        },
        auth,
        headers: pairs(&f.headers, ':', "header")?,
        query: pairs(&f.query, '=', "query")?,
        transport: match f.transport.as_str() {
            "websocket" => TransportChoice::Websocket,
            "polling" => TransportChoice::Polling,
            _ => TransportChoice::Any,
        },
        on_connect,
        tls: tls_from(f)?,
        ack_replies,
        has_token: false,
    })
}

/// The form's TLS fields; a client certificate needs its key and the other way round.
fn tls_from(f: &TargetForm) -> Result<TargetTls, String> {
    let path = |p: &str| Some(p.trim().to_owned()).filter(|p| !p.is_empty());
    let tls = TargetTls {
        ca_cert: path(&f.ca_cert),
        insecure: f.insecure,
        client_cert: path(&f.client_cert),
        client_key: path(&f.client_key),
    };
    if tls.client_cert.is_some() != tls.client_key.is_some() {
        return Err("a client certificate needs its key (and a key its certificate)".into());
    }
    Ok(tls)
}

/// `event={json}` lines (blank lines skipped), or a one-line reason.
fn event_lines(text: &str, what: &str) -> Result<Vec<OnConnectEmit>, String> {
    let mut out = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (event, json) = line
            .split_once('=')
            .ok_or_else(|| format!("bad {what} line {line:?}: expected event={{json}}"))?;
        let data = serde_json::from_str(json.trim())
            .map_err(|e| format!("bad JSON template in {what} {}: {e}", event.trim()))?;
        out.push(OnConnectEmit {
            event: event.trim().to_owned(),
            data,
        });
    }
    Ok(out)
}

/// The doctor's request from the form: its URL, namespace, auth fields with the
/// token typed (as `auth.token`) and TLS settings.
pub fn doctor_request(f: &TargetForm, token: &str) -> Result<DoctorRequest, String> {
    let target = target_from(f)?;
    let mut auth = match target.auth {
        Value::Object(o) => o,
        _ => serde_json::Map::new(),
    };
    if !token.trim().is_empty() {
        auth.insert("token".to_owned(), Value::String(token.trim().to_owned()));
    }
    Ok(DoctorRequest {
        url: target.url,
        namespace: target.namespace,
        path: None,
        origin: None,
        auth: (!auth.is_empty()).then_some(Value::Object(auth)),
        tls: target.tls,
    })
}

/// A saved target back into the form.
pub fn form_of(t: &TargetProfile) -> TargetForm {
    let lines = |v: &[(String, String)], sep: &str| {
        v.iter()
            .map(|(k, v)| format!("{k}{sep}{v}"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    TargetForm {
        name: t.name.clone(),
        url: t.url.clone(),
        namespace: t.namespace.clone(),
        auth: if t.auth.is_null() {
            String::new()
        } else {
            t.auth.to_string()
        },
        headers: lines(&t.headers, ": "),
        query: lines(&t.query, "="),
        transport: match t.transport {
            TransportChoice::Any => String::new(),
            TransportChoice::Websocket => "websocket".into(),
            TransportChoice::Polling => "polling".into(),
        },
        on_connect: t
            .on_connect
            .iter()
            .map(|e| format!("{}={}", e.event, e.data))
            .collect::<Vec<_>>()
            .join("\n"),
        ca_cert: t.tls.ca_cert.clone().unwrap_or_default(),
        insecure: t.tls.insecure,
        client_cert: t.tls.client_cert.clone().unwrap_or_default(),
        client_key: t.tls.client_key.clone().unwrap_or_default(),
        ack_replies: t
            .ack_replies
            .iter()
            .map(|e| format!("{}={}", e.event, e.data))
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

/// The composer's arguments: a JSON array is the argument list, anything else is the
/// one argument.
pub fn args_from(text: &str) -> Result<Value, String> {
    match text.trim() {
        "" => Ok(Value::Array(vec![])),
        t => {
            let v: Value =
                serde_json::from_str(t).map_err(|e| format!("bad JSON template: {e}"))?;
            Ok(match v {
                Value::Array(_) => v,
                other => Value::Array(vec![other]),
            })
        }
    }
}

#[component]
pub fn ConnectionsPanel(error: RwSignal<Option<String>>) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let url = RwSignal::new("http://127.0.0.1:3069".to_owned());
    let namespace = RwSignal::new("/".to_owned());
    let token = RwSignal::new(String::new());
    let remember = RwSignal::new(false);
    let auth = RwSignal::new(String::new());
    let headers = RwSignal::new(String::new());
    let query = RwSignal::new(String::new());
    let transport = RwSignal::new(String::new());
    let on_connect = RwSignal::new(String::new());
    let ca_cert = RwSignal::new(String::new());
    let insecure = RwSignal::new(false);
    let client_cert = RwSignal::new(String::new());
    let client_key = RwSignal::new(String::new());
    let ack_replies = RwSignal::new(String::new());
    let saved = RwSignal::new(Vec::<TargetProfile>::new());
    let open = RwSignal::new(Vec::<ConnectionInfo>::new());
    let busy = RwSignal::new(false);
    let note = RwSignal::new(None::<Result<String, String>>);
    let report = RwSignal::new(None::<DoctorReport>);
    let diagnosing = RwSignal::new(false);

    let form = move || TargetForm {
        name: name.get(),
        url: url.get(),
        namespace: namespace.get(),
        auth: auth.get(),
        headers: headers.get(),
        query: query.get(),
        transport: transport.get(),
        on_connect: on_connect.get(),
        ca_cert: ca_cert.get(),
        insecure: insecure.get(),
        client_cert: client_cert.get(),
        client_key: client_key.get(),
        ack_replies: ack_replies.get(),
    };
    let refresh = move || {
        spawn_local(async move {
            match api::targets().await {
                Ok(t) => saved.set(t),
                Err(e) => note.set(Some(Err(format!(
                    "saved targets unavailable: {}",
                    e.message
                )))),
            }
            match api::connections().await {
                Ok(c) => open.set(c),
                Err(e) => error.set(Some(e.message)),
            }
        });
    };
    refresh();

    let load = move |t: TargetProfile| {
        let f = form_of(&t);
        name.set(f.name);
        url.set(f.url);
        namespace.set(f.namespace);
        auth.set(f.auth);
        headers.set(f.headers);
        query.set(f.query);
        transport.set(f.transport);
        on_connect.set(f.on_connect);
        ca_cert.set(f.ca_cert);
        insecure.set(f.insecure);
        client_cert.set(f.client_cert);
        client_key.set(f.client_key);
        ack_replies.set(f.ack_replies);
        token.set(String::new());
        note.set(Some(Ok(if t.has_token {
            format!("loaded {}; its token is in the keychain", t.name)
        } else {
            format!("loaded {}", t.name)
        })));
    };
    let connect = move |_| {
        let target = match target_from(&form()) {
            Ok(t) => t,
            Err(msg) => {
                note.set(Some(Err(msg)));
                return;
            }
        };
        let req = ConnectRequest {
            target,
            token: Some(token.get()).filter(|t| !t.trim().is_empty()),
            remember_token: remember.get(),
        };
        busy.set(true);
        note.set(Some(Ok(format!("connecting to {}…", req.target.url))));
        spawn_local(async move {
            match api::connect(&req).await {
                Ok(info) => note.set(Some(Ok(match &info.warning {
                    Some(w) => format!("connected: {} ({}); {w}", info.name, info.source),
                    None => format!("connected: {} ({})", info.name, info.source),
                }))),
                Err(e) => note.set(Some(Err(e.message))),
            }
            busy.set(false);
            refresh();
        });
    };
    let diagnose = move |_| {
        let req = match doctor_request(&form(), &token.get()) {
            Ok(r) => r,
            Err(msg) => {
                note.set(Some(Err(msg)));
                return;
            }
        };
        diagnosing.set(true);
        report.set(None);
        note.set(Some(Ok(format!("looking at {}…", req.url))));
        spawn_local(async move {
            match api::doctor(&req).await {
                Ok(r) => {
                    note.set(None);
                    report.set(Some(r));
                }
                Err(e) => note.set(Some(Err(e.message))),
            }
            diagnosing.set(false);
        });
    };
    let save = move |_| {
        let target = match target_from(&form()) {
            Ok(t) => t,
            Err(msg) => {
                note.set(Some(Err(msg)));
                return;
            }
        };
        spawn_local(async move {
            match api::target_save(&target).await {
                Ok(()) => note.set(Some(Ok(format!(
                    "saved {} (no token in the database)",
                    target.name
                )))),
                Err(e) => note.set(Some(Err(e.message))),
            }
            refresh();
        });
    };

    view! {
        <section class="panel connections" id="connections-panel">
            <div class="split">
                <div class="conn-form">
                    <h2>"Connect to a gateway"</h2>
                    <TextField id="conn-name" label="Name (to save it)" value=name placeholder="staging dashboard" />
                    <TextField id="conn-url" label="URL" value=url placeholder="https://staging.example.com" />
                    <TextField id="conn-namespace" label="Namespace" value=namespace placeholder="/dashboard" />
                    <TextField id="conn-token" label="Token (sent as auth.token)" value=token kind="password"
                        placeholder="from the keychain when empty" />
                    <label class="check">
                        <input id="conn-remember" type="checkbox"
                            prop:checked=move || remember.get()
                            on:change=move |ev| remember.set(event_target_checked(&ev)) />
                        "Remember the token in the OS keychain"
                    </label>
                    <label>"Other auth fields (JSON object)"
                        <input id="conn-auth" type="text" placeholder="{\"firebase_id\": \"...\"}" spellcheck="false"
                            prop:value=move || auth.get() on:input=move |ev| auth.set(event_target_value(&ev)) />
                    </label>
                    <label>"Headers (one K: V a line)"
                        <textarea id="conn-headers" rows="2" spellcheck="false"
                            prop:value=move || headers.get() on:input=move |ev| headers.set(event_target_value(&ev))></textarea>
                    </label>
                    <label>"Query (one K=V a line)"
                        <textarea id="conn-query" rows="2" spellcheck="false"
                            prop:value=move || query.get() on:input=move |ev| query.set(event_target_value(&ev))></textarea>
                    </label>
                    <label>"Transport"
                        <select id="conn-transport" on:change=move |ev| transport.set(event_target_value(&ev))>
                            <option value="" selected=move || transport.get().is_empty()>"polling, then websocket"</option>
                            <option value="websocket" selected=move || transport.get() == "websocket">"websocket only"</option>
                            <option value="polling" selected=move || transport.get() == "polling">"polling only"</option>
                        </select>
                    </label>
                    <label>"On every (re)connect emit (one event={json} a line)"
                        <textarea id="conn-on-connect" rows="2" spellcheck="false"
                            placeholder="subscribe={\"entityId\":\"event-uuid-123\",\"entityType\":\"event\"}"
                            prop:value=move || on_connect.get() on:input=move |ev| on_connect.set(event_target_value(&ev))></textarea>
                    </label>
                    <TextField id="conn-ca-cert" label="Trusted CA certificate (PEM file; https)" value=ca_cert
                        placeholder="/path/to/dev-ca.pem" />
                    <label class="check">
                        <input id="conn-insecure" type="checkbox"
                            prop:checked=move || insecure.get()
                            on:change=move |ev| insecure.set(event_target_checked(&ev)) />
                        "Do not check TLS certificates (insecure)"
                    </label>
                    <Show when=move || insecure.get()>
                        <p id="conn-insecure-warning" class="result bad">
                            "Certificates and host names will NOT be checked: anyone on the network path can read and change this connection."
                        </p>
                    </Show>
                    <TextField id="conn-client-cert" label="Client certificate (PEM file; mutual TLS)" value=client_cert />
                    <TextField id="conn-client-key" label="Client key (PKCS#8 PEM file)" value=client_key />
                    <label>"Answer the server's ack requests (one event={json} a line, * for any)"
                        <textarea id="conn-ack-replies" rows="1" spellcheck="false"
                            placeholder="question={\"ok\":true}"
                            prop:value=move || ack_replies.get() on:input=move |ev| ack_replies.set(event_target_value(&ev))></textarea>
                    </label>
                    <div class="actions">
                        <button id="conn-connect" class="primary" prop:disabled=move || busy.get() on:click=connect>"Connect"</button>
                        <button id="conn-save" on:click=save>"Save target"</button>
                        <button id="conn-doctor" prop:disabled=move || diagnosing.get() on:click=diagnose
                            title="try Engine.IO v3/v4, polling and websocket, the path, parsers, TLS and auth">
                            "Why can't I connect?"</button>
                    </div>
                    <p id="conn-note" class=move || match note.get() { Some(Err(_)) => "result bad", _ => "result" }>
                        {move || match note.get() { Some(Ok(m)) | Some(Err(m)) => m, None => String::new() }}
                    </p>
                    <DoctorView report=report />
                </div>
                <div class="conn-side">
                    <h3>"Saved targets"</h3>
                    <ul class="template-list" id="saved-targets">
                        <For each=move || saved.get() key=|t| t.name.clone() let:t>
                            <li class="saved-row">
                                <button class="link-item" data-testid="saved-target" data-name=t.name.clone()
                                    on:click={let t = t.clone(); move |_| load(t.clone())}>
                                    <span class="event">{t.name.clone()}</span>
                                    <span class="dim mono">{format!("{}{}", t.url, t.namespace)}</span>
                                    <span class="dim">{if t.has_token { "token in keychain" } else { "" }}</span>
                                </button>
                                <button class="link" title="forget this target and its token"
                                    on:click={let n = t.name.clone(); move |_| {
                                        let n = n.clone();
                                        spawn_local(async move {
                                            if let Err(e) = api::target_delete(&n).await { note.set(Some(Err(e.message))); }
                                            refresh();
                                        });
                                    }}>"forget"</button>
                            </li>
                        </For>
                    </ul>
                    <h3>"Open connections"</h3>
                    <ul class="template-list" id="open-connections">
                        <For each=move || open.get() key=|c| c.id let:c>
                            <li class="saved-row" data-testid="open-connection" data-source=c.source.clone()>
                                <span class="pill on">"connected"</span>
                                <span class="event">{c.name.clone()}</span>
                                <span class="dim mono">{c.source.clone()}</span>
                                <button class="link" id=format!("conn-disconnect-{}", c.id)
                                    on:click={let id = c.id; move |_| spawn_local(async move {
                                        if let Err(e) = api::disconnect(id).await { note.set(Some(Err(e.message))); }
                                        refresh();
                                    })}>"disconnect"</button>
                            </li>
                        </For>
                    </ul>
                    <Show when=move || open.with(Vec::is_empty)>
                        <p class="empty">"No open connections."</p>
                    </Show>
                    <Composer open=open />
                </div>
            </div>
        </section>
    }
}

/// The doctor's report: one line per check, what works and the settings to use.
#[component]
fn DoctorView(report: RwSignal<Option<DoctorReport>>) -> impl IntoView {
    move || {
        report.get().map(|r| {
            let works = r.works.is_some();
            view! {
                <div class="doctor" id="conn-doctor-report">
                    <h3>"Why can't I connect?"</h3>
                    <ul class="doctor-checks">
                        {r.checks.into_iter().map(|c| {
                            let (mark, class) = match c.outcome {
                                DoctorOutcome::Ok => ("✓", "ok"),
                                DoctorOutcome::Fail => ("✗", "bad"),
                                DoctorOutcome::Skipped => ("–", "dim"),
                            };
                            view! {
                                <li data-testid="doctor-check" data-id=c.id.clone() data-outcome=class class=class>
                                    <span class="mark">{mark}</span>" "
                                    <strong>{c.title}</strong>": "{c.detail}
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                    <p id="conn-doctor-summary" class=if works { "result" } else { "result bad" }>
                        {if works { format!("Works: {}", r.summary) } else { format!("Nothing connects: {}", r.summary) }}
                    </p>
                    {r.connect_with.map(|line| view! {
                        <p class="mono" id="conn-doctor-connect">{format!("Connect with: {line}")}</p>
                    })}
                </div>
            }
        })
    }
}

/// Emit on an open connection, with an optional ack and a template to start from.
#[component]
fn Composer(open: RwSignal<Vec<ConnectionInfo>>) -> impl IntoView {
    let target = RwSignal::new(String::new());
    let event = RwSignal::new(String::new());
    let args = RwSignal::new("{}".to_owned());
    let ack = RwSignal::new(true);
    let result = RwSignal::new(None::<Result<String, String>>);
    let templates = RwSignal::new(TemplateSet::default());
    spawn_local(async move {
        if let Ok(t) = api::templates_list().await {
            templates.set(t);
        }
    });
    let chosen = move || {
        let t = target.get();
        open.with(|o| {
            o.iter()
                .find(|c| c.id.to_string() == t)
                .or_else(|| o.first())
                .map(|c| c.id)
        })
    };
    let use_template = move |name: String| {
        if let Some(t) = templates.with(|s| s.templates.iter().find(|t| t.event == name).cloned()) {
            event.set(t.event);
            args.set(serde_json::to_string_pretty(&t.data).unwrap_or_default());
        }
    };
    let send = move |_| {
        let Some(connection) = chosen() else {
            result.set(Some(Err("no open connection to emit on".into())));
            return;
        };
        let args = match args_from(&args.get()) {
            Ok(a) => a,
            Err(msg) => {
                result.set(Some(Err(msg)));
                return;
            }
        };
        let req = ConnectionEmit {
            connection,
            event: event.get().trim().to_owned(),
            args,
            ack: ack.get(),
            timeout_ms: 5_000,
        };
        spawn_local(async move {
            let outcome = api::connection_emit(&req)
                .await
                .map(|r| match (r.ack, r.latency_ms) {
                    (Some(reply), Some(ms)) => format!("ack in {ms:.1} ms: {reply}"),
                    (Some(reply), None) => format!("ack: {reply}"),
                    _ => format!("sent {}", req.event),
                })
                .map_err(|e| e.message);
            result.set(Some(outcome));
        });
    };
    view! {
        <div class="composer" id="emit-composer">
            <h3>"Emit"</h3>
            <label>"On"
                <select id="emit-connection" on:change=move |ev| target.set(event_target_value(&ev))>
                    <For each=move || open.get() key=|c| c.id let:c>
                        <option value=c.id.to_string()>{format!("{} ({})", c.name, c.source)}</option>
                    </For>
                </select>
            </label>
            <label>"Template"
                <select id="emit-template" on:change=move |ev| use_template(event_target_value(&ev))>
                    <option value="">"none"</option>
                    {move || templates.get().templates.into_iter().map(|t| view! {
                        <option value=t.event.clone()>{t.event.clone()}</option>
                    }).collect_view()}
                </select>
            </label>
            <label>"Event"
                <input id="emit-event" type="text" placeholder="subscribe" spellcheck="false"
                    prop:value=move || event.get() on:input=move |ev| event.set(event_target_value(&ev)) />
            </label>
            <label>"Arguments (JSON; an array is the argument list)"
                <textarea id="emit-args" rows="4" spellcheck="false"
                    prop:value=move || args.get() on:input=move |ev| args.set(event_target_value(&ev))></textarea>
            </label>
            <label class="check">
                <input id="emit-ack" type="checkbox" prop:checked=move || ack.get()
                    on:change=move |ev| ack.set(event_target_checked(&ev)) />
                "Wait for the ack"
            </label>
            <div class="actions">
                <button id="emit-send" class="primary" on:click=send>"Emit"</button>
            </div>
            <p id="emit-result" class=move || match result.get() { Some(Err(_)) => "result bad mono", _ => "result mono" }>
                {move || match result.get() { Some(Ok(m)) | Some(Err(m)) => m, None => String::new() }}
            </p>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_form_becomes_a_target_and_back() {
        let f = TargetForm {
            name: " staging ".into(),
            url: "http://localhost:4004".into(),
            namespace: "/dashboard".into(),
            auth: r#"{"firebase_id":"fb"}"#.into(),
            headers: "X-Team: blue\n\n".into(),
            query: "v=2".into(),
            transport: "websocket".into(),
            on_connect: r#"subscribe={"entityId":"e1"}"#.into(),
            ack_replies: "question={\"ok\":true}\n*=1".into(),
            ca_cert: " /tmp/ca.pem ".into(),
            insecure: true,
            ..TargetForm::default()
        };
        let t = target_from(&f).unwrap();
        assert_eq!(t.tls.ca_cert.as_deref(), Some("/tmp/ca.pem"));
        assert!(t.tls.insecure && t.tls.client_cert.is_none());
        assert_eq!(t.ack_replies.len(), 2);
        assert_eq!(t.ack_replies[0].data, json!({"ok": true}));
        assert_eq!(t.ack_replies[1].event, "*");
        assert_eq!(t.name, "staging");
        assert_eq!(t.headers, vec![("X-Team".to_owned(), "blue".to_owned())]);
        assert_eq!(t.on_connect[0].data, json!({"entityId": "e1"}));
        assert_eq!(t.transport, TransportChoice::Websocket);
        assert_eq!(target_from(&form_of(&t)).unwrap(), t);
    }

    #[test]
    fn bad_input_is_a_one_line_reason() {
        let ok = TargetForm {
            url: "http://x".into(),
            ..TargetForm::default()
        };
        let bad = |f: TargetForm| target_from(&f).unwrap_err();
        assert!(bad(TargetForm {
            url: "x".into(),
            ..ok.clone()
        })
        .contains("http://"));
        assert!(bad(TargetForm {
            auth: "{".into(),
            ..ok.clone()
        })
        .starts_with("bad JSON in auth"));
        assert!(bad(TargetForm {
            auth: "[1]".into(),
            ..ok.clone()
        })
        .contains("object"));
        assert!(bad(TargetForm {
            on_connect: "sub={".into(),
            ..ok.clone()
        })
        .starts_with("bad JSON template"));
        assert!(bad(TargetForm {
            headers: "nocolon".into(),
            ..ok.clone()
        })
        .contains("K:V"));
        assert!(bad(TargetForm {
            client_cert: "c.pem".into(),
            ..ok.clone()
        })
        .contains("needs its key"));
        assert!(bad(TargetForm {
            namespace: "dash".into(),
            ..ok
        })
        .contains("'/'"));
        assert_eq!(args_from("[1, 2]").unwrap(), json!([1, 2]));
        let d = doctor_request(
            &TargetForm {
                auth: r#"{"firebase_id":"fb"}"#.into(),
                ..TargetForm {
                    url: "https://x".into(),
                    namespace: "/dash".into(),
                    insecure: true,
                    ..TargetForm::default()
                }
            },
            " t0k ",
        )
        .unwrap();
        assert_eq!(d.auth, Some(json!({"firebase_id": "fb", "token": "t0k"})));
        assert_eq!((d.namespace.as_str(), d.tls.insecure), ("/dash", true));
        let d = doctor_request(
            &TargetForm {
                url: "http://x".into(),
                ..TargetForm::default()
            },
            "",
        )
        .unwrap();
        assert_eq!(d.auth, None);
        assert_eq!(args_from("{\"a\":1}").unwrap(), json!([{"a": 1}]));
        assert!(args_from("{").unwrap_err().starts_with("bad JSON template"));
    }
}
