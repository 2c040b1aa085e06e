//! The window: a header, the Server panel and the live log, wired to one stream of
//! event batches from the engine.

use leptos::prelude::*;
use leptos::task::spawn_local;
use sockscope_protocol::{EventRecord, GatewayStatus};

use crate::api;
use crate::inspector::Inspector;
use crate::live_log::LiveLog;
use crate::server_panel::ServerPanel;
use crate::templates_panel::TemplatesPanel;

/// The main area's tabs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Tab {
    Live,
    Inspector,
    Templates,
}

/// How many events the live list keeps; older ones scroll out (recordings keep all).
pub const LIVE_ROWS: usize = 1_000;

#[component]
pub fn App() -> impl IntoView {
    let status = RwSignal::new(GatewayStatus::default());
    let events = RwSignal::new(Vec::<EventRecord>::new());
    let dropped = RwSignal::new(0_u64);
    let error = RwSignal::new(None::<String>);
    let tab = RwSignal::new(Tab::Live);

    spawn_local(async move {
        let subscribed = api::on_event_batches(move |batch| {
            status.set(batch.status);
            if batch.lagged > 0 {
                dropped.update(|d| *d += batch.lagged);
            }
            if !batch.events.is_empty() {
                events.update(|v| {
                    v.extend(batch.events);
                    if v.len() > LIVE_ROWS {
                        let excess = v.len() - LIVE_ROWS;
                        v.drain(..excess);
                    }
                });
            }
        })
        .await;
        if let Err(e) = subscribed {
            error.set(Some(format!("live events unavailable: {}", e.message)));
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
                    <button id="tab-inspector" class:active=move || tab.get() == Tab::Inspector
                        on:click=move |_| tab.set(Tab::Inspector)>"Inspector"</button>
                    <button id="tab-templates" class:active=move || tab.get() == Tab::Templates
                        on:click=move |_| tab.set(Tab::Templates)>"Templates"</button>
                </nav>
                // The live log stays mounted (it keeps collecting); the others mount on demand.
                <div class="tab-body" class:hidden=move || tab.get() != Tab::Live>
                    <LiveLog events=events dropped=dropped />
                </div>
                <Show when=move || tab.get() == Tab::Inspector>
                    <div class="tab-body"><Inspector /></div>
                </Show>
                <Show when=move || tab.get() == Tab::Templates>
                    <div class="tab-body"><TemplatesPanel /></div>
                </Show>
            </div>
        </main>
    }
}
