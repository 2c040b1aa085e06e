//! The Inspector: a source picker over the embedded gateway (its namespaces ->
//! tenants -> rooms -> sockets, refreshed every second while the tab is open) or a
//! saved admin target (a real gateway's Socket.IO Admin UI namespace, streamed by the
//! engine; see `admin_view.rs`). Both show tenant leak badges.

use std::collections::BTreeMap;
use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;
use sockscope_protocol::{
    AdminActionKind, AdminTarget, InspectSnapshot, InspectorView, NamespaceInfo, SocketInfo,
};

use crate::admin_view::{leak_list, AdminSourceView, AdminTargetForm, ConfirmAction, Pending};
use crate::api;
use crate::event_table::clock;

const REFRESH: Duration = Duration::from_secs(1);

/// Sockets of a namespace grouped by tenant (`(no tenant)` last).
fn by_tenant(ns: &NamespaceInfo) -> Vec<(String, Vec<SocketInfo>)> {
    let mut groups: BTreeMap<String, Vec<SocketInfo>> = BTreeMap::new();
    for s in &ns.sockets {
        let key = s
            .tenant
            .clone()
            .unwrap_or_else(|| "~(no tenant)".to_owned());
        groups.entry(key).or_default().push(s.clone());
    }
    groups
        .into_iter()
        .map(|(k, v)| (k.trim_start_matches('~').to_owned(), v))
        .collect()
}

/// The source picker and the chosen source's view. `admin_view` is the connected
/// admin source's picture, streamed by the engine (kept by the app across tabs).
#[component]
pub fn Inspector(admin_view: RwSignal<Option<InspectorView>>) -> impl IntoView {
    let targets = RwSignal::new(Vec::<AdminTarget>::new());
    // "" is the embedded gateway; otherwise a saved admin target's name.
    let selected = RwSignal::new(
        admin_view
            .get_untracked()
            .map(|v| v.name)
            .unwrap_or_default(),
    );
    let note = RwSignal::new(None::<(bool, String)>);
    let adding = RwSignal::new(false);
    let busy = RwSignal::new(false);

    let load_targets = move || {
        spawn_local(async move {
            match api::admin_targets().await {
                Ok(t) => targets.set(t),
                Err(e) => note.set(Some((false, e.message))),
            }
        });
    };
    load_targets();

    let connected_name = move || {
        admin_view
            .get()
            .filter(|v| v.connected)
            .map(|v| v.name)
            .unwrap_or_default()
    };
    let connect = move |_| {
        let name = selected.get_untracked();
        if name.is_empty() {
            return;
        }
        busy.set(true);
        note.set(Some((true, format!("connecting to {name}…"))));
        spawn_local(async move {
            match api::admin_connect(&name).await {
                Ok(v) => {
                    // The view's own status line says it from now on.
                    note.set(None);
                    admin_view.set(Some(v));
                }
                Err(e) => note.set(Some((false, e.message))),
            }
            busy.set(false);
        });
    };
    let disconnect = move |_| {
        spawn_local(async move {
            match api::admin_disconnect().await {
                Ok(()) => {
                    admin_view.set(None);
                    note.set(Some((true, "disconnected".to_owned())));
                }
                Err(e) => note.set(Some((false, e.message))),
            }
        });
    };
    let forget = move |_| {
        let name = selected.get_untracked();
        if name.is_empty() {
            return;
        }
        spawn_local(async move {
            if connected_name_untracked(admin_view) == name {
                let _ = api::admin_disconnect().await;
                admin_view.set(None);
            }
            match api::admin_target_delete(&name).await {
                Ok(()) => {
                    selected.set(String::new());
                    note.set(Some((true, format!("forgot {name} and its password"))));
                    load_targets();
                }
                Err(e) => note.set(Some((false, e.message))),
            }
        });
    };
    let on_saved = Callback::new(move |name: String| {
        adding.set(false);
        selected.set(name.clone());
        note.set(Some((true, format!("saved {name}"))));
        load_targets();
    });

    let selected_target = move || {
        let name = selected.get();
        targets.get().into_iter().find(|t| t.name == name)
    };

    view! {
        <section class="panel inspector" id="inspector">
            <div class="inspector-head">
                <h2>"Inspector"</h2>
                <label class="source-pick">"Source"
                    <select id="inspector-source" on:change=move |ev| {
                        selected.set(event_target_value(&ev));
                        note.set(None);
                    }>
                        <option value="" prop:selected=move || selected.get().is_empty()>"Embedded gateway"</option>
                        <For each=move || targets.get() key=|t| (t.name.clone(), t.url.clone(), t.has_password) let:t>
                            <option value=t.name.clone() prop:selected={
                                let name = t.name.clone();
                                move || selected.get() == name
                            }>{format!("{} — {}", t.name, t.url)}</option>
                        </For>
                    </select>
                </label>
                <Show when=move || !selected.get().is_empty()>
                    <Show when=move || connected_name() != selected.get()
                        fallback=move || view! {
                            <button id="admin-disconnect" on:click=disconnect>"Disconnect"</button>
                        }>
                        <button id="admin-connect" class="primary" disabled=move || busy.get()
                            on:click=connect>"Connect"</button>
                    </Show>
                    <button id="admin-target-delete" on:click=forget>"Forget"</button>
                    <span class="dim target-meta">{move || selected_target().map(|t| {
                        let user = t.username.clone().map(|u| format!("user {u}")).unwrap_or_else(|| "no auth".into());
                        let pw = if t.has_password { " · password in keychain" } else { "" };
                        format!("{}{} · {}{pw}", t.url, t.namespace, user)
                    }).unwrap_or_default()}</span>
                </Show>
                <button id="admin-target-new" class="push-right" on:click=move |_| adding.update(|a| *a = !*a)>
                    {move || if adding.get() { "Close form" } else { "+ Admin target" }}
                </button>
            </div>
            <Show when=move || adding.get()>
                <AdminTargetForm on_saved=on_saved />
            </Show>
            <Show when=move || note.get().is_some()>
                <p id="inspector-note" class="result" class:bad=move || note.get().is_some_and(|(ok, _)| !ok)>
                    {move || note.get().map(|(_, t)| t).unwrap_or_default()}
                </p>
            </Show>
            <Show when=move || !selected.get().is_empty() fallback=|| view! { <EmbeddedView /> }>
                <Show when=move || admin_view.get().is_some_and(|v| v.name == selected.get())
                    fallback=|| view! { <p class="empty" id="admin-idle">"Not connected: press Connect to inspect this gateway."</p> }>
                    <AdminSourceView view=Signal::derive(move || admin_view.get().unwrap_or_default()) />
                </Show>
            </Show>
        </section>
    }
}

fn connected_name_untracked(admin_view: RwSignal<Option<InspectorView>>) -> String {
    admin_view
        .get_untracked()
        .map(|v| v.name)
        .unwrap_or_default()
}

/// Today's view of the embedded gateway, with the tenant audit's badges and the
/// same confirmed actions as an admin source.
#[component]
fn EmbeddedView() -> impl IntoView {
    let pending = RwSignal::new(None::<Pending>);
    let result = RwSignal::new(None::<(bool, String)>);
    let ask = move |action, namespace: String, socket: Option<String>, room: Option<String>| {
        result.set(None);
        pending.set(Some(Pending {
            action,
            namespace,
            socket,
            room,
        }));
    };
    let snapshot = RwSignal::new(None::<InspectSnapshot>);
    let tenants = RwSignal::new(None::<InspectorView>);
    let problem = RwSignal::new(None::<String>);
    let refresh = move || {
        spawn_local(async move {
            match api::inspect().await {
                Ok(s) => {
                    snapshot.set(Some(s));
                    problem.set(None);
                }
                Err(e) => {
                    snapshot.set(None);
                    problem.set(Some(e.message));
                }
            }
            // The audit is an extra; its failure leaves the view as it was.
            if let Ok(v) = api::inspect_tenants().await {
                if tenants.get_untracked().as_ref() != Some(&v) {
                    tenants.set(Some(v));
                }
            }
        });
    };
    refresh();
    if let Ok(handle) = set_interval_with_handle(refresh, REFRESH) {
        on_cleanup(move || handle.clear());
    }
    let findings = Signal::derive(move || tenants.get().map(|v| v.findings).unwrap_or_default());
    let leaks_of = move |socket: &str| {
        findings
            .get()
            .iter()
            .filter(|f| f.socket.as_deref() == Some(socket))
            .count()
    };

    view! {
        <div id="embedded-view">
            <p class="hint">"Embedded gateway: every action asks for confirmation first."</p>
            {leak_list(findings)}
            <ConfirmAction pending=pending result=result embedded=true />
            <Show when=move || result.get().is_some()>
                <p id="admin-action-result" class="result" class:bad=move || result.get().is_some_and(|(ok, _)| !ok)>
                    {move || result.get().map(|(_, t)| t).unwrap_or_default()}
                </p>
            </Show>
            <Show when=move || problem.get().is_some()>
                <p class="empty" id="inspector-empty">{move || problem.get().unwrap_or_default()}</p>
            </Show>
            <For
                each=move || snapshot.get().map(|s| s.namespaces).unwrap_or_default()
                key=|ns| (ns.name.clone(), ns.sockets.len(), ns.rooms.len(), ns.sockets.iter().map(|s| s.events_in + s.events_out).sum::<u64>())
                let:ns
            >
                <div class="ns" data-testid="inspect-namespace" data-namespace=ns.name.clone()>
                    <h3>{ns.name.clone()} <span class="dim">{format!(" · {} sockets · {} rooms", ns.sockets.len(), ns.rooms.len())}</span></h3>
                    <div class="rooms">
                        {ns.rooms.iter().map(|r| {
                            let (nsn, room) = (ns.name.clone(), r.name.clone());
                            view! {
                            <span class="room" data-testid="inspect-room" data-room=r.name.clone()>
                                {r.name.clone()} <b>{r.sockets.len()}</b>
                                <button class="mini" data-testid="room-emit"
                                    on:click=move |_| ask(AdminActionKind::Emit, nsn.clone(), None, Some(room.clone()))>"emit…"</button>
                            </span>
                        }}).collect_view()}
                    </div>
                    {by_tenant(&ns).into_iter().map(|(tenant, sockets)| view! {
                        <div class="tenant">
                            <h4>"tenant " {tenant}</h4>
                            <table>
                                <thead><tr>
                                    <th>"socket"</th><th>"user"</th><th>"transport"</th><th>"since"</th>
                                    <th>"in"</th><th>"out"</th><th>"rooms"</th><th></th><th class="row-actions">"actions"</th>
                                </tr></thead>
                                <tbody>
                                    {sockets.into_iter().map(|s| {
                                        let id = s.id.clone();
                                        let target = (ns.name.clone(), s.id.clone());
                                        let (a, b, c, d) = (target.clone(), target.clone(), target.clone(), target);
                                        view! {
                                        <tr data-testid="inspect-socket" data-socket=s.id.clone()>
                                            <td class="mono">{s.id.clone()}</td>
                                            <td>{s.user.clone().unwrap_or_default()}</td>
                                            <td>{s.transport.clone()}</td>
                                            <td class="mono">{clock(s.connected_at)}</td>
                                            <td class="num">{s.events_in}</td>
                                            <td class="num">{s.events_out}</td>
                                            <td class="mono payload">{s.rooms.join(", ")}</td>
                                            <td>{move || {
                                                let n = leaks_of(&id);
                                                (n > 0).then(|| view! {
                                                    <span class="pill bad" data-testid="socket-leak">{format!("leak ×{n}")}</span>
                                                })
                                            }}</td>
                                            <td class="row-actions">
                                                <button class="mini danger" data-testid="socket-disconnect"
                                                    on:click=move |_| ask(AdminActionKind::Disconnect, a.0.clone(), Some(a.1.clone()), None)>"disconnect"</button>
                                                <button class="mini" data-testid="socket-join"
                                                    on:click=move |_| ask(AdminActionKind::Join, b.0.clone(), Some(b.1.clone()), None)>"join…"</button>
                                                <button class="mini" data-testid="socket-leave"
                                                    on:click=move |_| ask(AdminActionKind::Leave, c.0.clone(), Some(c.1.clone()), None)>"leave…"</button>
                                                <button class="mini" data-testid="socket-emit"
                                                    on:click=move |_| ask(AdminActionKind::Emit, d.0.clone(), Some(d.1.clone()), None)>"emit…"</button>
                                            </td>
                                        </tr>
                                    }}).collect_view()}
                                </tbody>
                            </table>
                        </div>
                    }).collect_view()}
                </div>
            </For>
        </div>
    }
}
