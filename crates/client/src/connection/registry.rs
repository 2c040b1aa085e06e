//! The client connections a front end holds open at once (the desktop app's
//! Connections panel), by id. Opening goes through the saved-target shape so the GUI
//! and CLI describe a connection the same way; tokens come from the request or the
//! keychain and are handed to the handshake only.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use sockscope_protocol::{
    ConnectRequest, ConnectionEmit, ConnectionInfo, EmitReply, TargetProfile, TransportChoice,
};
use tokio::sync::Mutex;

use super::{ConnectOptions, Connection, Transport};
use crate::keychain;
use crate::{Error, Result};
use sockscope_bus::now_micros;
use sockscope_bus::{redact, Bus};

/// How long a connect may take before it is reported unreachable.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Open connections by id.
#[derive(Default)]
pub struct Connections {
    open: Mutex<BTreeMap<u64, (ConnectionInfo, Arc<Connection>)>>,
}

/// Connect options for `target` with `token` as `auth.token`.
pub fn options_for(target: &TargetProfile, token: Option<&str>) -> Result<ConnectOptions> {
    if target.url.trim().is_empty() {
        return Err(Error::BadTarget("the URL is empty".into()));
    }
    let mut auth = match &target.auth {
        Value::Null => None,
        Value::Object(m) if m.is_empty() => None,
        Value::Object(m) => Some(Value::Object(m.clone())),
        other => {
            return Err(Error::BadTarget(format!(
                "auth must be a JSON object, got {other}"
            )))
        }
    };
    if let Some(t) = token.filter(|t| !t.is_empty()) {
        let obj = auth.get_or_insert_with(|| json!({}));
        if let Value::Object(m) = obj {
            m.insert("token".into(), Value::String(t.to_owned()));
        }
    }
    Ok(ConnectOptions {
        url: target.url.trim().to_owned(),
        namespace: if target.namespace.is_empty() {
            "/".into()
        } else {
            target.namespace.clone()
        },
        auth,
        headers: target.headers.clone(),
        query: target.query.clone(),
        transport: match target.transport {
            TransportChoice::Any => Transport::Any,
            TransportChoice::Websocket => Transport::Websocket,
            TransportChoice::Polling => Transport::Polling,
        },
        reconnect: true,
        reconnect_attempts: 0,
        reconnect_delay_ms: 500,
        on_connect: target
            .on_connect
            .iter()
            .map(|e| (e.event.clone(), e.data.clone()))
            .collect(),
        max_payload: 0,
        tls: super::TlsOptions::from_target(&target.tls),
        ack_replies: target
            .ack_replies
            .iter()
            .map(|e| (e.event.clone(), e.data.clone()))
            .collect(),
        ..ConnectOptions::default()
    })
}

impl Connections {
    /// Connects to `req.target`; the token is the request's, else the keychain's.
    pub async fn open(&self, req: &ConnectRequest, bus: &Bus) -> Result<ConnectionInfo> {
        let name = req.target.name.trim();
        let token = match req.token.as_deref().filter(|t| !t.is_empty()) {
            Some(t) => Some(t.to_owned()),
            None if !name.is_empty() => keychain::token(name).unwrap_or_else(|error| {
                tracing::warn!(target_name = name, %error, "keychain unavailable");
                None
            }),
            None => None,
        };
        let opts = options_for(&req.target, token.as_deref())?;
        let conn = Connection::open(opts.clone(), bus.clone(), CONNECT_TIMEOUT).await?;
        // Remembered only once the gateway accepted it; a keychain that cannot keep it
        // is a warning, and the token is then used for this connection only.
        let mut warning = opts
            .tls
            .insecure
            .then(|| super::tls::INSECURE_WARNING.replace("warning: --insecure: ", "insecure: "));
        if req.remember_token {
            match req.token.as_deref().filter(|t| !t.is_empty()) {
                Some(_) if name.is_empty() => {
                    warning = Some("token not remembered: give the target a name".to_owned())
                }
                Some(t) => {
                    if let Err(e) = keychain::save_token(name, t) {
                        warning = Some(format!("token not remembered: {e}"));
                    }
                }
                None => {}
            }
        }
        // What the UI lists: the URL as the redaction policy shows it.
        let url = redact::url(&opts.url);
        let info = ConnectionInfo {
            id: conn.id(),
            name: if name.is_empty() {
                format!("{url}{}", opts.namespace)
            } else {
                redact::text(name)
            },
            url,
            namespace: conn.namespace().to_owned(),
            source: conn.source().to_owned(),
            connected_at: now_micros(),
            warning,
        };
        self.open
            .lock()
            .await
            .insert(info.id, (info.clone(), Arc::new(conn)));
        Ok(info)
    }

    pub async fn list(&self) -> Vec<ConnectionInfo> {
        self.open
            .lock()
            .await
            .values()
            .map(|(i, _)| i.clone())
            .collect()
    }

    async fn get(&self, id: u64) -> Result<Arc<Connection>> {
        self.open
            .lock()
            .await
            .get(&id)
            .map(|(_, c)| c.clone())
            .ok_or(Error::UnknownConnection(id))
    }

    /// Emits on connection `req.connection`, waiting for the ack when asked.
    pub async fn emit(&self, req: &ConnectionEmit) -> Result<EmitReply> {
        if req.event.trim().is_empty() {
            return Err(Error::Emit("the event name is empty".into()));
        }
        let conn = self.get(req.connection).await?;
        let args = match &req.args {
            Value::Array(_) => req.args.clone(),
            other => Value::Array(vec![other.clone()]),
        };
        if req.ack {
            let timeout = Duration::from_millis(req.timeout_ms.clamp(1, 120_000));
            let (mut reply, latency) = conn.emit_with_ack(&req.event, args, timeout).await?;
            // The composer shows the reply: the same policy as the recorded one.
            redact::value(&mut reply);
            Ok(EmitReply {
                ack: Some(reply),
                latency_ms: Some(latency.as_secs_f64() * 1000.0),
            })
        } else {
            conn.emit(&req.event, args).await?;
            Ok(EmitReply::default())
        }
    }

    /// Disconnects and forgets connection `id`.
    pub async fn close(&self, id: u64) -> Result<()> {
        let (_, conn) = self
            .open
            .lock()
            .await
            .remove(&id)
            .ok_or(Error::UnknownConnection(id))?;
        conn.close().await;
        Ok(())
    }

    pub async fn close_all(&self) {
        let all: Vec<_> = std::mem::take(&mut *self.open.lock().await)
            .into_values()
            .collect();
        for (_, conn) in all {
            conn.close().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_goes_into_auth_and_a_bad_auth_is_refused() {
        let t = TargetProfile {
            name: "s".into(),
            url: "http://x".into(),
            namespace: "/dashboard".into(),
            auth: json!({"firebase_id": "fb"}),
            ..TargetProfile::default()
        };
        let o = options_for(&t, Some("tok")).unwrap();
        assert_eq!(o.auth, Some(json!({"firebase_id": "fb", "token": "tok"})));
        assert_eq!(o.namespace, "/dashboard");
        let bad = TargetProfile {
            auth: json!([1]),
            ..t.clone()
        };
        assert!(matches!(options_for(&bad, None), Err(Error::BadTarget(_))));
        let empty = TargetProfile {
            url: " ".into(),
            ..t
        };
        assert!(matches!(
            options_for(&empty, None),
            Err(Error::BadTarget(_))
        ));
    }
}
