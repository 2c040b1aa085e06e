//! An admin source in the Inspector: the servers strip with health, namespaces,
//! rooms, the tenant view with leak badges, and actions on a socket or a room
//! (disconnect, join, leave, emit), each behind a confirmation (shared with the
//! embedded gateway's view). Also the form that
//! saves an admin target (its password goes to the keychain, never back to the page).

use leptos::prelude::*;
use leptos::task::spawn_local;
use sockscope_protocol::{
    AdminActionKind, AdminActionRequest, AdminSocketView, AdminTarget, AdminTargetSave,
    InspectorView, LeakBadge,
};

use crate::api;
use crate::form::TextField;

/// `3h 04m`, `12m 05s`, `42s`.
fn uptime(secs: f64) -> String {
    let s = secs.max(0.0) as u64;
    match (s / 3600, (s % 3600) / 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m {s:02}s"),
        (h, m, _) => format!("{h}h {m:02}m"),
    }
}

fn kind_label(kind: &str) -> &'static str {
    match kind {
        "socket_in_many_tenants" => "socket in two tenants",
        "foreign_room" => "foreign tenant room",
        "shared_room" => "room shared by tenants",
        "payload_leak" => "cross-tenant payload",
        _ => "tenant leak",
    }
}

/// One badge per finding, or a quiet "no leaks" line.
pub fn leak_list(findings: Signal<Vec<LeakBadge>>) -> impl IntoView {
    view! {
        <div class="leaks" id="leak-list">
            <Show when=move || !findings.get().is_empty()
                fallback=|| view! { <span class="pill on" id="no-leaks">"no tenant leaks found"</span> }>
                <For each=move || findings.get() key=|f| f.text.clone() let:f>
                    <div class="leak" data-testid="leak-badge" data-kind=f.kind.clone()
                        data-socket=f.socket.clone().unwrap_or_default() data-room=f.room.clone().unwrap_or_default()>
                        <span class="pill bad">{kind_label(&f.kind)}</span>
                        <span class="mono">{f.text.trim_start_matches("LEAK ").to_owned()}</span>
                    </div>
                </For>
            </Show>
        </div>
    }
}

/// Saves a new admin target.
#[component]
pub fn AdminTargetForm(on_saved: Callback<String>) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let url = RwSignal::new(String::new());
    let namespace = RwSignal::new("/admin".to_owned());
    let path = RwSignal::new(String::new());
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let tenant_room = RwSignal::new("tenant:{tenant}:*".to_owned());
    let problem = RwSignal::new(None::<String>);
    let opt = |s: String| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    let save = move |_| {
        let target = AdminTarget {
            name: name.get_untracked().trim().to_owned(),
            url: url.get_untracked().trim().to_owned(),
            namespace: opt(namespace.get_untracked()).unwrap_or_else(|| "/admin".into()),
            path: opt(path.get_untracked()),
            username: opt(username.get_untracked()),
            tenant_room: opt(tenant_room.get_untracked()),
            has_password: false,
        };
        if target.name.is_empty() || target.url.is_empty() {
            problem.set(Some("a target needs a name and a URL".into()));
            return;
        }
        let save = AdminTargetSave {
            password: Some(password.get_untracked()).filter(|p| !p.is_empty()),
            target,
        };
        spawn_local(async move {
            match api::admin_target_save(&save).await {
                Ok(()) => {
                    // The password leaves the page as soon as the keychain has it.
                    password.set(String::new());
                    problem.set(None);
                    on_saved.run(save.target.name);
                }
                Err(e) => problem.set(Some(e.message)),
            }
        });
    };
    view! {
        <div class="admin-form" id="admin-target-form">
            <div class="row2">
                <TextField id="admin-name" label="Name" value=name placeholder="prod-gateway" />
                <TextField id="admin-url" label="URL" value=url placeholder="http://127.0.0.1:3000" />
            </div>
            <div class="row2">
                <TextField id="admin-namespace" label="Admin namespace" value=namespace />
                <TextField id="admin-path" label="Socket.IO path" value=path placeholder="/socket.io" />
            </div>
            <div class="row2">
                <TextField id="admin-username" label="Username (empty: no auth)" value=username />
                <TextField id="admin-password" label="Password (kept in the OS keychain)" value=password kind="password" />
            </div>
            <TextField id="admin-tenant-room" label="Tenant room pattern" value=tenant_room placeholder="tenant:{tenant}:*" />
            <div class="actions">
                <button id="admin-target-save" class="primary" on:click=save>"Save target"</button>
                <Show when=move || problem.get().is_some()>
                    <span class="result bad" id="admin-form-note">{move || problem.get().unwrap_or_default()}</span>
                </Show>
            </div>
        </div>
    }
}

/// What the confirmation dialog is about to send.
#[derive(Clone, PartialEq)]
pub(crate) struct Pending {
    pub(crate) action: AdminActionKind,
    pub(crate) namespace: String,
    /// Fixed by where the action started (a socket row or a room chip).
    pub(crate) socket: Option<String>,
    pub(crate) room: Option<String>,
}

#[component]
pub fn AdminSourceView(view: Signal<InspectorView>) -> impl IntoView {
    let servers = Memo::new(move |_| view.get().servers);
    let findings = Memo::new(move |_| view.get().findings);
    let namespaces = Memo::new(move |_| view.get().namespaces);
    let rooms = Memo::new(move |_| view.get().rooms);
    let features = Memo::new(move |_| view.get().features);
    let groups = Memo::new(move |_| {
        let v = view.get();
        v.tenants
            .iter()
            .map(|g| {
                let sockets: Vec<AdminSocketView> = g
                    .sockets
                    .iter()
                    .filter_map(|(ns, id)| {
                        v.sockets
                            .iter()
                            .find(|s| &s.namespace == ns && &s.id == id)
                            .cloned()
                    })
                    .collect();
                (g.tenant.clone(), sockets)
            })
            .collect::<Vec<_>>()
    });
    let can = move |f: &str| features.get().iter().any(|x| x == f);
    let pending = RwSignal::new(None::<Pending>);
    let result = RwSignal::new(None::<(bool, String)>);
    let leaks_of = move |socket: &str| {
        findings
            .get()
            .iter()
            .filter(|f| f.socket.as_deref() == Some(socket))
            .count()
    };
    let room_leaks = move |room: &str| {
        findings
            .get()
            .iter()
            .any(|f| f.room.as_deref() == Some(room))
    };
    let ask = move |action, namespace: String, socket: Option<String>, room: Option<String>| {
        result.set(None);
        pending.set(Some(Pending {
            action,
            namespace,
            socket,
            room,
        }));
    };

    view! {
        <div id="admin-view">
            <div class="status-row admin-status" id="admin-status">
                <span class=move || if view.get().connected { "pill on" } else { "pill bad" }>
                    {move || if view.get().connected { "connected" } else { "connection closed" }}
                </span>
                <span class="addr">{move || view.get().url}</span>
                <span class="dim">{move || format!("{} mode", view.get().mode)}</span>
            </div>
            <h3 class="section">"Servers"</h3>
            <div class="servers-strip" id="servers-strip">
                {move || {
                    let list = servers.get();
                    if list.is_empty() {
                        return view! { <span class="dim">"waiting for server_stats (every 2 s)…"</span> }.into_any();
                    }
                    list.into_iter().map(|s| view! {
                        <div class="server-card" data-testid="admin-server" data-server=s.id.clone()
                            data-health=if s.healthy { "healthy" } else { "stale" }>
                            <div class="server-top">
                                <b class="mono">{s.id.clone()}</b>
                                <span class=if s.healthy { "pill on" } else { "pill bad" }>
                                    {if s.healthy { "healthy" } else { "stale" }}
                                </span>
                            </div>
                            <div class="dim">{format!("{} · pid {}", s.hostname, s.pid)}</div>
                            <div class="server-nums">
                                <span><b>{s.clients}</b>" clients"</span>
                                <span><b>{format!("{:.1}", s.events_per_sec)}</b>" ev/s"</span>
                                <span>"up "<b>{uptime(s.uptime_secs)}</b></span>
                            </div>
                        </div>
                    }).collect_view().into_any()
                }}
            </div>
            <h3 class="section">"Tenant leaks"</h3>
            {leak_list(findings.into())}
            <h3 class="section">"Namespaces and rooms"</h3>
            <div class="rooms">
                <For each=move || namespaces.get() key=|n| (n.name.clone(), n.sockets) let:n>
                    <span class="room ns-chip" data-testid="admin-namespace" data-namespace=n.name.clone()>
                        {n.name.clone()} <b>{n.sockets}</b>
                    </span>
                </For>
            </div>
            <div class="rooms admin-rooms">
                <For each=move || rooms.get() key=|r| (r.namespace.clone(), r.name.clone(), r.sockets.clone()) let:r>
                    {
                        let (ns, name) = (r.namespace.clone(), r.name.clone());
                        let (ns2, name2) = (ns.clone(), name.clone());
                        let (ns3, name3) = (ns.clone(), name.clone());
                        let leak_name = name.clone();
                        view! {
                            <span class="room admin-room" data-testid="admin-room" data-room=r.name.clone()
                                data-namespace=r.namespace.clone() class:leaky=move || room_leaks(&leak_name)>
                                <span class="dim">{r.namespace.clone()}" "</span>{r.name.clone()} <b>{r.sockets.len()}</b>
                                <button class="mini" data-testid="room-emit" disabled=move || !can("EMIT")
                                    on:click=move |_| ask(AdminActionKind::Emit, ns.clone(), None, Some(name.clone()))>"emit"</button>
                                <button class="mini" data-testid="room-join" disabled=move || !can("JOIN")
                                    on:click=move |_| ask(AdminActionKind::Join, ns2.clone(), None, Some(name2.clone()))>"join…"</button>
                                <button class="mini" data-testid="room-leave" disabled=move || !can("LEAVE")
                                    on:click=move |_| ask(AdminActionKind::Leave, ns3.clone(), None, Some(name3.clone()))>"leave…"</button>
                            </span>
                        }
                    }
                </For>
            </div>
            <ConfirmAction pending=pending result=result />
            <Show when=move || result.get().is_some()>
                <p id="admin-action-result" class="result" class:bad=move || result.get().is_some_and(|(ok, _)| !ok)>
                    {move || result.get().map(|(_, t)| t).unwrap_or_default()}
                </p>
            </Show>
            <h3 class="section">"Sockets by tenant"</h3>
            <Show when=move || view.get().mode == "production">
                <p class="hint">"Production mode: the server streams stats only, not its sockets."</p>
            </Show>
            <For each=move || groups.get()
                key=|(t, sockets)| format!("{t:?}{}", serde_json::to_string(sockets).unwrap_or_default())
                let:group>
                {
                    let (tenant, sockets) = group;
                    let label = tenant.clone().unwrap_or_else(|| "(no tenant)".into());
                    view! {
                        <div class="tenant" data-testid="admin-tenant" data-tenant=tenant.clone().unwrap_or_default()>
                            <h4>"tenant " <b>{label}</b> <span class="dim">{format!(" · {} socket{}", sockets.len(), if sockets.len() == 1 { "" } else { "s" })}</span></h4>
                            <table>
                                <thead><tr>
                                    <th>"socket"</th><th>"rooms"</th><th>"leaks"</th><th class="row-actions">"actions"</th>
                                </tr></thead>
                                <tbody>
                                    {sockets.into_iter().map(|s| {
                                        let id = s.id.clone();
                                        let (a, b, c, d) = (
                                            (s.namespace.clone(), s.id.clone()),
                                            (s.namespace.clone(), s.id.clone()),
                                            (s.namespace.clone(), s.id.clone()),
                                            (s.namespace.clone(), s.id.clone()),
                                        );
                                        view! {
                                            <tr data-testid="admin-socket" data-socket=s.id.clone() data-namespace=s.namespace.clone()>
                                                <td>
                                                    <div class="mono">{s.id.clone()}</div>
                                                    <div class="dim socket-meta">{
                                                        [Some(s.namespace.clone()), Some(s.transport.clone()).filter(|t| !t.is_empty()), s.address.clone()]
                                                            .into_iter().flatten().collect::<Vec<_>>().join(" · ")
                                                    }</div>
                                                </td>
                                                <td class="mono room-list">{s.rooms.iter().map(|r| view! { <div>{r.clone()}</div> }).collect_view()}</td>
                                                <td>{move || {
                                                    let n = leaks_of(&id);
                                                    (n > 0).then(|| view! {
                                                        <span class="pill bad" data-testid="socket-leak">{format!("leak ×{n}")}</span>
                                                    })
                                                }}</td>
                                                <td class="row-actions">
                                                    <button class="mini danger" data-testid="socket-disconnect" disabled=move || !can("DISCONNECT")
                                                        on:click=move |_| ask(AdminActionKind::Disconnect, a.0.clone(), Some(a.1.clone()), None)>"disconnect"</button>
                                                    <button class="mini" data-testid="socket-join" disabled=move || !can("JOIN")
                                                        on:click=move |_| ask(AdminActionKind::Join, b.0.clone(), Some(b.1.clone()), None)>"join…"</button>
                                                    <button class="mini" data-testid="socket-leave" disabled=move || !can("LEAVE")
                                                        on:click=move |_| ask(AdminActionKind::Leave, c.0.clone(), Some(c.1.clone()), None)>"leave…"</button>
                                                    <button class="mini" data-testid="socket-emit" disabled=move || !can("EMIT")
                                                        on:click=move |_| ask(AdminActionKind::Emit, d.0.clone(), Some(d.1.clone()), None)>"emit…"</button>
                                                </td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </div>
                    }
                }
            </For>
        </div>
    }
}

/// The confirmation step every action goes through: says exactly what will be
/// sent, asks for what is missing (a room, a socket, an event), then sends it.
/// `embedded` sends it to the embedded gateway instead of the connected admin source.
#[component]
pub(crate) fn ConfirmAction(
    pending: RwSignal<Option<Pending>>,
    result: RwSignal<Option<(bool, String)>>,
    #[prop(optional)] embedded: bool,
) -> impl IntoView {
    let room = RwSignal::new(String::new());
    let socket = RwSignal::new(String::new());
    let event = RwSignal::new(String::new());
    let args = RwSignal::new("{}".to_owned());
    let busy = RwSignal::new(false);
    Effect::new(move |_| {
        if let Some(p) = pending.get() {
            room.set(p.room.clone().unwrap_or_default());
            socket.set(p.socket.clone().unwrap_or_default());
        }
    });
    let sentence = move || {
        let Some(p) = pending.get() else {
            return String::new();
        };
        let ns = &p.namespace;
        match (p.action, &p.socket, &p.room) {
            (AdminActionKind::Disconnect, Some(s), _) => {
                format!(
                    "Disconnect socket {s} of {ns}? The client sees an \"io server disconnect\"."
                )
            }
            (AdminActionKind::Join, Some(s), _) => format!("Make socket {s} of {ns} join a room:"),
            (AdminActionKind::Leave, Some(s), _) => {
                format!("Make socket {s} of {ns} leave a room:")
            }
            (AdminActionKind::Join, None, Some(r)) => {
                format!("Make a socket of {ns} join room {r}:")
            }
            (AdminActionKind::Leave, None, Some(r)) => {
                format!("Make a socket of {ns} leave room {r}:")
            }
            (AdminActionKind::Emit, Some(s), _) => format!("Emit to socket {s} of {ns}:"),
            (AdminActionKind::Emit, None, Some(r)) => format!("Emit to room {r} of {ns}:"),
            _ => String::new(),
        }
    };
    let needs_room = move || {
        pending.get().is_some_and(|p| {
            matches!(p.action, AdminActionKind::Join | AdminActionKind::Leave) && p.room.is_none()
        })
    };
    let needs_socket = move || {
        pending.get().is_some_and(|p| {
            matches!(p.action, AdminActionKind::Join | AdminActionKind::Leave) && p.socket.is_none()
        })
    };
    let is_emit = move || {
        pending
            .get()
            .is_some_and(|p| p.action == AdminActionKind::Emit)
    };
    let confirm = move |_| {
        let Some(p) = pending.get_untracked() else {
            return;
        };
        let args_value = if p.action == AdminActionKind::Emit {
            match serde_json::from_str::<serde_json::Value>(args.get_untracked().trim()) {
                Ok(v) => serde_json::Value::Array(vec![v]),
                Err(e) => {
                    result.set(Some((false, format!("bad JSON argument: {e}"))));
                    return;
                }
            }
        } else {
            serde_json::Value::Null
        };
        let req = AdminActionRequest {
            action: p.action,
            namespace: p.namespace.clone(),
            socket: Some(socket.get_untracked().trim().to_owned()).filter(|s| !s.is_empty()),
            room: Some(room.get_untracked().trim().to_owned()).filter(|s| !s.is_empty()),
            event: Some(event.get_untracked().trim().to_owned()).filter(|s| !s.is_empty()),
            args: args_value,
        };
        busy.set(true);
        spawn_local(async move {
            let sent = if embedded {
                api::embedded_action(&req).await
            } else {
                api::admin_action(&req).await
            };
            match sent {
                Ok(reply) => {
                    result.set(Some((true, reply.message)));
                    pending.set(None);
                }
                Err(e) => result.set(Some((false, e.message))),
            }
            busy.set(false);
        });
    };
    view! {
        <Show when=move || pending.get().is_some()>
            <div class="confirm" id="admin-confirm" role="dialog">
                <p id="admin-confirm-text">{sentence}</p>
                <Show when=needs_room>
                    <TextField id="confirm-room" label="Room" value=room />
                </Show>
                <Show when=needs_socket>
                    <TextField id="confirm-socket" label="Socket id" value=socket />
                </Show>
                <Show when=is_emit>
                    <div class="row2">
                        <TextField id="confirm-event" label="Event" value=event />
                        <TextField id="confirm-args" label="Argument (JSON)" value=args />
                    </div>
                </Show>
                <div class="actions">
                    <button id="admin-confirm-yes" class="primary" disabled=move || busy.get() on:click=confirm>
                        {move || if busy.get() { "Sending…" } else { "Confirm" }}
                    </button>
                    <button id="admin-confirm-no" on:click=move |_| pending.set(None)>"Cancel"</button>
                </div>
            </div>
        </Show>
    }
}
