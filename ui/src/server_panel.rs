//! The Server panel: start and stop the embedded gateway, its port and JWT secret, and
//! live counters (sockets connected, events seen).

use leptos::prelude::*;
use leptos::task::spawn_local;
use sockscope_protocol::{AuthMode, GatewaySettings, GatewayStatus, Profile, DEFAULT_PORT};

use crate::api;

/// The settings typed into the form, or a one-line reason they are unusable.
fn settings_from(
    profile: &str,
    port: &str,
    secret: &str,
    namespaces: &str,
    redis: &str,
) -> Result<GatewaySettings, String> {
    let profile =
        Profile::from_name(profile).ok_or_else(|| format!("unknown profile {profile:?}"))?;
    let port: u16 = port
        .trim()
        .parse()
        .map_err(|_| format!("port {:?} is not a number between 0 and 65535", port.trim()))?;
    let namespaces = namespaces
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .collect();
    let auth = match secret.trim() {
        "" => AuthMode::None,
        s => AuthMode::Hs256 {
            secret: s.to_owned(),
        },
    };
    // Checked in full by the engine (its error names the URL); caught here early.
    let redis = match redis.trim() {
        "" => None,
        r if r.starts_with("redis://") => Some(r.to_owned()),
        r => {
            return Err(format!(
                "cluster URL {r:?} must look like redis://HOST:PORT[/DB]"
            ))
        }
    };
    Ok(GatewaySettings {
        profile,
        port,
        auth,
        namespaces,
        redis,
        ..GatewaySettings::default()
    })
}

#[component]
pub fn ServerPanel(
    status: RwSignal<GatewayStatus>,
    error: RwSignal<Option<String>>,
) -> impl IntoView {
    let profile = RwSignal::new(Profile::Generic.name().to_owned());
    let port = RwSignal::new(DEFAULT_PORT.to_string());
    let secret = RwSignal::new(String::new());
    let namespaces = RwSignal::new(String::new());
    let redis = RwSignal::new(String::new());
    let busy = RwSignal::new(false);

    let start = move |_| {
        let settings = match settings_from(
            &profile.get(),
            &port.get(),
            &secret.get(),
            &namespaces.get(),
            &redis.get(),
        ) {
            Ok(s) => s,
            Err(msg) => {
                error.set(Some(msg));
                return;
            }
        };
        busy.set(true);
        spawn_local(async move {
            match api::gateway_start(&settings).await {
                Ok(s) => {
                    status.set(s);
                    error.set(None);
                }
                Err(e) => error.set(Some(e.message)),
            }
            busy.set(false);
        });
    };
    let stop = move |_| {
        busy.set(true);
        spawn_local(async move {
            match api::gateway_stop().await {
                Ok(s) => status.set(s),
                Err(e) => error.set(Some(e.message)),
            }
            busy.set(false);
        });
    };
    let running = move || status.get().running;

    view! {
        <section class="panel server" id="server-panel">
            <h2>"Embedded gateway"</h2>
            <div class="status-row">
                <span id="gateway-state" class=move || if running() { "pill on" } else { "pill off" }>
                    {move || if running() { "running" } else { "stopped" }}
                </span>
                <span id="gateway-addr" class="addr">
                    {move || status.get().url.unwrap_or_default()}
                </span>
            </div>
            <p id="gateway-trust" class=move || if status.get().identities_verified { "hint trust on" } else { "hint trust off" }
                style:display=move || if running() { "block" } else { "none" }>
                {move || trust_line(&status.get())}
            </p>
            <p id="gateway-cluster"
                class=move || if status.get().cluster.as_deref().is_some_and(|c| c.starts_with("redis lost")) { "hint trust off" } else { "hint" }
                style:display=move || if running() && status.get().cluster.is_some() { "block" } else { "none" }>
                {move || cluster_line(&status.get())}
            </p>
            <div class="counters">
                <div class="counter">
                    <span class="value" id="socket-count">{move || status.get().sockets}</span>
                    <span class="label">"sockets"</span>
                </div>
                <div class="counter">
                    <span class="value" id="event-count">{move || status.get().events}</span>
                    <span class="label">"events"</span>
                </div>
            </div>
            <label>
                "Profile"
                <select id="gateway-profile" prop:disabled=running
                    on:change=move |ev| profile.set(event_target_value(&ev))>
                    {Profile::ALL.iter().map(|p| view! {
                        <option value=p.name() selected=move || profile.get() == p.name()>{p.name()}</option>
                    }).collect_view()}
                </select>
            </label>
            <label>
                "Port"
                <input id="gateway-port" type="text" inputmode="numeric"
                    prop:value=move || port.get()
                    prop:disabled=running
                    on:input=move |ev| port.set(event_target_value(&ev)) />
            </label>
            <label>
                "JWT secret (HS256)"
                <input id="gateway-secret" type="password" placeholder="none: accept every handshake"
                    autocomplete="off"
                    prop:value=move || secret.get()
                    prop:disabled=running
                    on:input=move |ev| secret.set(event_target_value(&ev)) />
            </label>
            <label>
                "Extra namespaces"
                <input id="gateway-namespaces" type="text" placeholder="/dashboard, /admin"
                    prop:value=move || namespaces.get()
                    prop:disabled=running
                    on:input=move |ev| namespaces.set(event_target_value(&ev)) />
            </label>
            <label>
                "Cluster (Redis URL)"
                <input id="gateway-redis" type="text" placeholder="none: one node alone (redis://127.0.0.1:6379)"
                    autocomplete="off"
                    prop:value=move || redis.get()
                    prop:disabled=running
                    on:input=move |ev| redis.set(event_target_value(&ev)) />
            </label>
            <div class="actions">
                <button id="gateway-start" class="primary"
                    prop:disabled=move || running() || busy.get() on:click=start>"Start"</button>
                <button id="gateway-stop"
                    prop:disabled=move || !running() || busy.get() on:click=stop>"Stop"</button>
            </div>
            <p class="hint">"Binds 127.0.0.1 only. Port 0 picks a free port."</p>
        </section>
    }
}

/// The node id and the cluster link's state, when clustered (the Redis loss shows
/// here: the node then serves only its own sockets).
fn cluster_line(s: &GatewayStatus) -> String {
    match (&s.node_id, &s.cluster) {
        (Some(node), Some(state)) => format!("cluster node {node} · {state}"),
        _ => String::new(),
    }
}

/// What the operator must know about trust while the gateway runs.
fn trust_line(s: &GatewayStatus) -> String {
    let auth = if s.identities_verified {
        "auth: on, identities come from verified tokens only"
    } else {
        "auth: off, identities are not verified"
    };
    let api = match (&s.api_protected, &s.api_token_file) {
        (false, _) => "HTTP API open on loopback".to_owned(),
        (true, Some(file)) => format!("HTTP API needs its bearer token (in {file})"),
        (true, None) => "HTTP API needs its bearer token".to_owned(),
    };
    format!("{auth} · {api}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_values_become_settings_or_a_reason() {
        let s = settings_from("generic", " 0 ", "", "/a, ,/b", "").unwrap();
        assert_eq!(s.port, 0);
        assert_eq!(s.auth, AuthMode::None);
        assert_eq!(s.namespaces, vec!["/a", "/b"]);
        assert_eq!(s.host, "127.0.0.1");
        assert_eq!(s.redis, None);
        let s = settings_from("analytics", "3069", "k", "", " redis://127.0.0.1:6379/1 ").unwrap();
        assert_eq!(s.redis.as_deref(), Some("redis://127.0.0.1:6379/1"));
        assert_eq!(s.auth, AuthMode::Hs256 { secret: "k".into() });
        assert_eq!(s.profile, Profile::Analytics);
        let e = settings_from("generic", "70000", "", "", "").unwrap_err();
        assert!(e.contains("70000"), "{e}");
        let e = settings_from("generic", "0", "", "", "http://x").unwrap_err();
        assert!(e.contains("redis://"), "{e}");
    }
}
