//! The window: a header, the Server panel and the live log, wired to one stream of
//! event batches from the engine.

use leptos::prelude::*;
use leptos::task::spawn_local;
use sockscope_protocol::{AboutInfo, EventRecord, GatewayStatus, RecordingStatus};

use crate::api;
use crate::connections_panel::ConnectionsPanel;
use crate::inspector::Inspector;
use crate::live_log::LiveLog;
use crate::log_model::LogModel;
use crate::proxy_panel::ProxyPanel;
use crate::recordings_panel::RecordingsPanel;
use crate::replay_panel::ReplayPanel;
use crate::server_panel::ServerPanel;
use crate::simulator_panel::SimulatorPanel;
use crate::templates_panel::TemplatesPanel;

/// The main area's tabs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Tab {
    Live,
    Connections,
    Proxy,
    Inspector,
    Templates,
    Recordings,
    Replay,
    Simulator,
}

#[component]
pub fn App() -> impl IntoView {
    let status = RwSignal::new(GatewayStatus::default());
    let recording = RwSignal::new(RecordingStatus::default());
    let model = RwSignal::new(LogModel::new());
    let dropped = RwSignal::new(0_u64);
    let paused = RwSignal::new(false);
    // Events that arrived while paused; plain storage, drawn on resume.
    let held = StoredValue::new(Vec::<EventRecord>::new());
    let pending = RwSignal::new(0_usize);
    let error = RwSignal::new(None::<String>);
    let tab = RwSignal::new(Tab::Live);
    let about = RwSignal::new(None::<AboutInfo>);
    // The connected admin source's picture, kept while the Inspector is closed.
    let admin_view = RwSignal::new(None::<sockscope_protocol::InspectorView>);

    Effect::new(move |_| {
        if !paused.get() && pending.get_untracked() > 0 {
            let events = held.try_update_value(std::mem::take).unwrap_or_default();
            pending.set(0);
            model.update(|m| m.extend(events));
        }
    });

    spawn_local(async move {
        let subscribed = api::on_event_batches(move |batch| {
            if status.get_untracked() != batch.status {
                status.set(batch.status);
            }
            if recording.get_untracked() != batch.recording {
                recording.set(batch.recording);
            }
            if batch.lagged > 0 {
                dropped.update(|d| *d += batch.lagged);
            }
            if batch.events.is_empty() {
                return;
            }
            if paused.get_untracked() {
                let n = batch.events.len();
                held.update_value(|h| h.extend(batch.events));
                pending.update(|p| *p += n);
            } else {
                model.update(|m| m.extend(batch.events));
            }
        })
        .await;
        if let Err(e) = subscribed {
            error.set(Some(format!("live events unavailable: {}", e.message)));
        }
        if let Ok(info) = api::about().await {
            about.set(Some(info));
        }
        if let Err(e) = api::on_admin_view(move |v| admin_view.set(v)).await {
            error.set(Some(format!(
                "admin source updates unavailable: {}",
                e.message
            )));
        }
        match api::gateway_status().await {
            Ok(s) => status.set(s),
            Err(e) => error.set(Some(e.message)),
        }
    });

    view! {
        <header class="topbar">
            <div class="brand">
                <span class="logo"></span>
                <span>"Sockscope"</span>
            </div>
            <span class="tagline">"Socket.IO gateway console"</span>
            <span id="about" class="about" title="Sockscope version and the git revision it was built from">
                {move || {
                    about
                        .get()
                        .map(|a| format!("v{} · {}", a.version, a.revision))
                        .unwrap_or_default()
                }}
            </span>
        </header>
        <Show when=move || error.get().is_some()>
            <div id="error-banner" class="banner error" role="alert">
                <span>{move || error.get().unwrap_or_default()}</span>
                <button class="link" on:click=move |_| error.set(None)>"dismiss"</button>
            </div>
        </Show>
        <main class="layout">
            <ServerPanel status=status error=error />
            <div class="main-area">
                <nav class="tabs">
                    <button id="tab-live" class:active=move || tab.get() == Tab::Live
                        on:click=move |_| tab.set(Tab::Live)>"Live events"</button>
                    <button id="tab-connections" class:active=move || tab.get() == Tab::Connections
                        on:click=move |_| tab.set(Tab::Connections)>"Connections"</button>
                    <button id="tab-proxy" class:active=move || tab.get() == Tab::Proxy
                        on:click=move |_| tab.set(Tab::Proxy)>"Proxy"</button>
                    <button id="tab-inspector" class:active=move || tab.get() == Tab::Inspector
                        on:click=move |_| tab.set(Tab::Inspector)>"Inspector"</button>
                    <button id="tab-templates" class:active=move || tab.get() == Tab::Templates
                        on:click=move |_| tab.set(Tab::Templates)>"Templates"</button>
                    <button id="tab-recordings" class:active=move || tab.get() == Tab::Recordings
                        on:click=move |_| tab.set(Tab::Recordings)>
                        "Recordings"
                        <Show when=move || recording.get().active>
                            <span class="rec-dot" title="recording"></span>
                        </Show>
                    </button>
                    <button id="tab-replay" class:active=move || tab.get() == Tab::Replay
                        on:click=move |_| tab.set(Tab::Replay)>"Replay"</button>
                    <button id="tab-simulator" class:active=move || tab.get() == Tab::Simulator
                        on:click=move |_| tab.set(Tab::Simulator)>"Simulator"</button>
                </nav>
                // The live log and connections stay mounted (they keep state); the others
                // mount on demand.
                <div class="tab-body" class:hidden=move || tab.get() != Tab::Live>
                    <LiveLog model=model dropped=dropped paused=paused pending=pending />
                </div>
                <div class="tab-body" class:hidden=move || tab.get() != Tab::Connections>
                    <ConnectionsPanel error=error />
                </div>
                // Mounted throughout: the proxy keeps running while another tab is open.
                <div class="tab-body" class:hidden=move || tab.get() != Tab::Proxy>
                    <ProxyPanel visible=Signal::derive(move || tab.get() == Tab::Proxy) />
                </div>
                <div class="tab-body" class:hidden=move || tab.get() != Tab::Replay>
                    <ReplayPanel visible=Signal::derive(move || tab.get() == Tab::Replay) />
                </div>
                <div class="tab-body" class:hidden=move || tab.get() != Tab::Simulator>
                    <SimulatorPanel />
                </div>
                <div class="tab-body" class:hidden=move || tab.get() != Tab::Recordings>
                    <RecordingsPanel recording=recording error=error
                        visible=Signal::derive(move || tab.get() == Tab::Recordings) />
                </div>
                <Show when=move || tab.get() == Tab::Inspector>
                    <div class="tab-body"><Inspector admin_view=admin_view /></div>
                </Show>
                <Show when=move || tab.get() == Tab::Templates>
                    <div class="tab-body"><TemplatesPanel /></div>
                </Show>
            </div>
        </main>
    }
}
