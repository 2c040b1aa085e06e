//! The embedded gateway: what a user sets before starting it (profile, auth, TLS,
//! cluster), its status, and server-to-client emits asked for from outside.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How the embedded gateway authenticates a handshake.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AuthMode {
    /// Every handshake is accepted; sockets are anonymous.
    #[default]
    None,
    /// HS256 JWT signed with a shared secret.
    Hs256 { secret: String },
    /// RS256 JWT checked against an RSA public key (PEM text).
    Rs256 { public_key_pem: String },
}

/// Which gateway the embedded server behaves like: `generic`, or one of the five seed
/// gateways it emulates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Profile {
    /// subscribe/unsubscribe rooms, every other event recorded and acked.
    #[default]
    Generic,
    /// Jet Admin: workflow runs, widgets, AI chat (seed 000).
    JetAdmin,
    /// Analytics dashboards: entity subscriptions and metric ticks (seed 001).
    Analytics,
    /// GxP toolkit socket server: templates on `private.{Model}.{id}` channels (seed 002).
    Gxp,
    /// Steedos AppGateway: tenant rooms from roomParts, broker-style emits (seed 004).
    Steedos,
    /// Jac Cloud: plain WebSocket at `/websocket` (seed 003).
    Jac,
}

impl Profile {
    pub const ALL: [Profile; 6] = [
        Profile::Generic,
        Profile::JetAdmin,
        Profile::Analytics,
        Profile::Gxp,
        Profile::Steedos,
        Profile::Jac,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Profile::Generic => "generic",
            Profile::JetAdmin => "jet-admin",
            Profile::Analytics => "analytics",
            Profile::Gxp => "gxp",
            Profile::Steedos => "steedos",
            Profile::Jac => "jac",
        }
    }

    pub fn from_name(name: &str) -> Option<Profile> {
        Profile::ALL.into_iter().find(|p| p.name() == name)
    }
}

impl std::fmt::Display for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The Socket.IO packet encoding a gateway and its clients agree on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Parser {
    /// The default parser: JSON text packets, binary as attachments.
    #[default]
    Json,
    /// `socket.io-msgpack-parser`: every packet one msgpack binary frame.
    Msgpack,
}

impl Parser {
    pub fn name(self) -> &'static str {
        match self {
            Parser::Json => "json",
            Parser::Msgpack => "msgpack",
        }
    }
}

/// What a user sets before starting the embedded gateway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewaySettings {
    pub host: String,
    pub port: u16,
    #[serde(default)]
    pub auth: AuthMode,
    /// Namespaces served besides `/`.
    #[serde(default)]
    pub namespaces: Vec<String>,
    /// Claim naming the user (default `sub`).
    #[serde(default = "default_user_claim")]
    pub user_claim: String,
    /// Claim naming the tenant (default `tenantId`).
    #[serde(default = "default_tenant_claim")]
    pub tenant_claim: String,
    /// The gateway being emulated.
    #[serde(default)]
    pub profile: Profile,
    /// Interval of simulated server pushes (metric ticks, workflow steps), in ms.
    #[serde(default = "default_tick_ms")]
    pub tick_ms: u64,
    /// Folder of event templates; the shipped ones when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub templates_dir: Option<String>,
    /// Serve HTTPS/WSS with this certificate chain and key (PEM files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsFiles>,
    /// The HTTP API's bearer token. When the API needs one (a JWT key is set, or a
    /// non-loopback bind) and none is given, the gateway generates one. Never
    /// serialized, so it cannot leak through IPC or saved settings.
    #[serde(default, skip_serializing)]
    pub api_token: Option<String>,
    /// Web origins allowed besides `http(s)://localhost:*` and `http(s)://127.0.0.1:*`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cors_origins: Vec<String>,
    /// Run as one node of a cluster joined through this Redis
    /// (`redis://HOST:PORT[/DB]`); one process alone when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis: Option<String>,
    /// The Socket.IO parser the gateway speaks (JSON unless told).
    #[serde(default, skip_serializing_if = "is_json")]
    pub parser: Parser,
}

fn is_json(p: &Parser) -> bool {
    *p == Parser::Json
}

/// PEM files for the gateway's TLS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsFiles {
    pub cert_path: String,
    pub key_path: String,
}

fn default_tick_ms() -> u64 {
    1000
}

fn default_user_claim() -> String {
    "sub".to_owned()
}

fn default_tenant_claim() -> String {
    "tenantId".to_owned()
}

/// The port the desktop console's gateway listens on unless told otherwise.
pub const DEFAULT_PORT: u16 = 3069;

impl Default for GatewaySettings {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".to_owned(),
            port: DEFAULT_PORT,
            auth: AuthMode::None,
            namespaces: Vec::new(),
            user_claim: default_user_claim(),
            tenant_claim: default_tenant_claim(),
            profile: Profile::Generic,
            tick_ms: default_tick_ms(),
            templates_dir: None,
            tls: None,
            api_token: None,
            cors_origins: Vec::new(),
            parser: Parser::Json,
            redis: None,
        }
    }
}

/// The embedded gateway as the UI sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct GatewayStatus {
    pub running: bool,
    /// `host:port` actually bound, when running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addr: Option<String>,
    /// `http://host:port` or `https://host:port`, when running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Connected sockets over every namespace.
    pub sockets: usize,
    /// Events seen since start, both ways.
    pub events: u64,
    /// Handshake tokens are verified against a key; without one, identities are
    /// read from unverified claims (emulation mode).
    #[serde(default)]
    pub identities_verified: bool,
    /// The HTTP API needs `Authorization: Bearer <api token>`.
    #[serde(default)]
    pub api_protected: bool,
    /// Where the generated API token was written for the local CLI, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_token_file: Option<String>,
    /// This node's id, when the gateway runs as one node of a cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_id: Option<String>,
    /// How the cluster link is, when clustered: `connected to redis://...` or
    /// `redis lost: ...` (the node then serves only its own sockets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
}

/// A server-to-client emit asked for through the HTTP API, the CLI or the UI.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmitRequest {
    /// Defaults to `/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub event: String,
    /// The one argument sent with the event.
    #[serde(default)]
    pub data: Value,
    /// A room as clients name it in `subscribe`; without it the event goes to every
    /// socket of the namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
    /// The tenant whose room is meant; without it, the room of tenant-less sockets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// An exact room name instead of `room`+`tenant`: a gxp channel such as
    /// `private.CheckIn.kiosk_2`, or a steedos room such as `space1-orders`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_default_to_loopback_and_3069() {
        let s = GatewaySettings::default();
        assert_eq!(s.host, "127.0.0.1");
        assert_eq!(s.port, 3069);
        let parsed: GatewaySettings =
            serde_json::from_str(r#"{"host":"127.0.0.1","port":0}"#).unwrap();
        assert_eq!(parsed.tenant_claim, "tenantId");
        assert_eq!(parsed.auth, AuthMode::None);
        assert_eq!(parsed.profile, Profile::Generic);
    }

    #[test]
    fn profiles_have_stable_kebab_names() {
        for p in Profile::ALL {
            assert_eq!(Profile::from_name(p.name()), Some(p));
            assert_eq!(
                serde_json::to_value(p).unwrap(),
                serde_json::json!(p.name())
            );
        }
        assert_eq!(Profile::from_name("jet-admin"), Some(Profile::JetAdmin));
        assert_eq!(Profile::from_name("nope"), None);
    }
}
