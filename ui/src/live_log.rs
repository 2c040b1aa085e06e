//! The live log: every event the engine sees (gateway and connections), newest first,
//! through the virtualised [`EventTable`]. Pause freezes the view while events keep
//! arriving (they are added on resume); the UI says how many it had to skip when the
//! engine outran it.

use leptos::prelude::*;

use crate::event_table::EventTable;
use crate::log_model::LogModel;

#[component]
pub fn LiveLog(
    model: RwSignal<LogModel>,
    dropped: RwSignal<u64>,
    paused: RwSignal<bool>,
    pending: RwSignal<usize>,
) -> impl IntoView {
    view! {
        <section class="panel log" id="live-log">
            <div class="log-head">
                <h2>"Live events"</h2>
                <button id="log-pause" on:click=move |_| paused.update(|p| *p = !*p)>
                    {move || if paused.get() { format!("Resume ({} waiting)", pending.get()) } else { "Pause".to_owned() }}
                </button>
                <button id="log-clear" on:click=move |_| model.update(LogModel::clear)>"Clear"</button>
            </div>
            <Show when=move || { dropped.get() > 0 }>
                <p class="hint" id="log-dropped">
                    {move || format!("{} events arrived too fast to draw and were skipped here (recordings keep them)", dropped.get())}
                </p>
            </Show>
            <EventTable model=model prefix="log" />
        </section>
    }
}
