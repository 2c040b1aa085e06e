//! The Inspector: the running gateway's namespaces -> tenants -> rooms -> sockets,
//! refreshed every second while the tab is open.

use std::collections::BTreeMap;
use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;
use sockscope_protocol::{InspectSnapshot, NamespaceInfo, SocketInfo};

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

#[component]
pub fn Inspector() -> impl IntoView {
    let snapshot = RwSignal::new(None::<InspectSnapshot>);
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
        });
    };
    refresh();
    if let Ok(handle) = set_interval_with_handle(refresh, REFRESH) {
        on_cleanup(move || handle.clear());
    }

    view! {
        <section class="panel inspector" id="inspector">
            <h2>"Inspector"</h2>
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
                        {ns.rooms.iter().map(|r| view! {
                            <span class="room" data-testid="inspect-room" data-room=r.name.clone()>
                                {r.name.clone()} <b>{r.sockets.len()}</b>
                            </span>
                        }).collect_view()}
                    </div>
                    {by_tenant(&ns).into_iter().map(|(tenant, sockets)| view! {
                        <div class="tenant">
                            <h4>"tenant " {tenant}</h4>
                            <table>
                                <thead><tr>
                                    <th>"socket"</th><th>"user"</th><th>"transport"</th><th>"since"</th>
                                    <th>"in"</th><th>"out"</th><th>"rooms"</th>
                                </tr></thead>
                                <tbody>
                                    {sockets.into_iter().map(|s| view! {
                                        <tr data-testid="inspect-socket" data-socket=s.id.clone()>
                                            <td class="mono">{s.id.clone()}</td>
                                            <td>{s.user.clone().unwrap_or_default()}</td>
                                            <td>{s.transport.clone()}</td>
                                            <td class="mono">{clock(s.connected_at)}</td>
                                            <td class="num">{s.events_in}</td>
                                            <td class="num">{s.events_out}</td>
                                            <td class="mono payload">{s.rooms.join(", ")}</td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </div>
                    }).collect_view()}
                </div>
            </For>
        </section>
    }
}
