//! The Sockscope console UI: Leptos (client-side rendering) compiled to wasm32 and
//! served by the Tauri shell. It never opens sockets itself; everything goes through
//! the typed IPC functions in [`api`].

mod admin_view;
mod api;
mod app;
mod connections_panel;
mod event_table;
mod form;
mod inspector;
mod live_log;
mod log_model;
mod proxy_panel;
mod recordings_panel;
mod replay_panel;
mod server_panel;
mod simulator_panel;
mod templates_panel;

fn main() {
    leptos::mount::mount_to_body(app::App);
}
