//! The embedded gateway: a Socket.IO server (socketioxide on axum) that stands in for
//! a real one on the operator's machine.
//!
//! It binds to loopback unless told otherwise, authenticates handshakes, keeps
//! tenants' rooms apart, serves a small HTTP API on the same port and publishes every
//! event in and out on the engine's [`Bus`].

pub mod args;
pub mod auth;
pub mod http_api;
pub mod profiles;
pub mod rooms;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use socketioxide::SocketIo;
use sockscope_protocol::{Direction, EmitRequest, GatewaySettings, InspectSnapshot};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::bus::{self, Bus};
use crate::{Error, Result};
use auth::Authenticator;

/// The `source` of every record the embedded gateway publishes.
pub const SOURCE: &str = "gateway";

/// How long `stop` waits for in-flight HTTP requests before cutting them off.
const STOP_GRACE: Duration = Duration::from_secs(3);

/// What every handler of a running gateway shares.
pub(crate) struct Shared {
    pub(crate) bus: Bus,
    pub(crate) auth: Authenticator,
    pub(crate) namespaces: Vec<String>,
}

/// A cheap handle for acting on a running gateway (emit, inspect, count).
#[derive(Clone)]
pub struct GatewayHandle {
    io: SocketIo,
    shared: Arc<Shared>,
}

impl GatewayHandle {
    /// Sends one event to a room of a namespace, or to all of it, and publishes it on
    /// the bus. Returns how many sockets it was addressed to.
    pub async fn emit(&self, req: &EmitRequest) -> Result<usize> {
        let ns = req.namespace.as_deref().unwrap_or("/");
        let op = self
            .io
            .of(ns)
            .ok_or_else(|| Error::UnknownNamespace(ns.to_owned()))?;
        if let Some(t) = &req.tenant {
            rooms::check_tenant(t)?;
        }
        let real_room = req
            .room
            .as_deref()
            .map(|r| rooms::scoped(req.tenant.as_deref(), r));
        let target = match &real_room {
            Some(room) => op.to(room.clone()),
            None => op,
        };
        let recipients = target.clone().sockets().len();
        target
            .emit(&req.event, &req.data)
            .await
            .map_err(|e| Error::Emit(e.to_string()))?;
        let mut rec = bus::record(
            SOURCE,
            Direction::S2c,
            ns,
            &req.event,
            json!([req.data.clone()]),
        );
        rec.rooms = real_room.into_iter().collect();
        rec.tenant = req.tenant.clone();
        self.shared.bus.publish(rec);
        tracing::debug!(namespace = ns, event = %req.event, recipients, "emitted");
        Ok(recipients)
    }

    /// Namespaces -> rooms -> sockets, as of now.
    pub fn inspect(&self) -> InspectSnapshot {
        crate::inspect::snapshot(&self.io, &self.shared.namespaces)
    }

    /// Connected sockets over every namespace.
    pub fn socket_count(&self) -> usize {
        self.shared
            .namespaces
            .iter()
            .filter_map(|ns| self.io.of(ns))
            .map(|op| op.sockets().len())
            .sum()
    }
}

/// A running embedded gateway. Dropping it without [`Gateway::stop`] leaves the
/// server task running until the runtime ends.
pub struct Gateway {
    addr: SocketAddr,
    handle: GatewayHandle,
    shutdown: oneshot::Sender<()>,
    server: JoinHandle<()>,
}

impl Gateway {
    /// Binds and starts serving. Fails with a message naming the address when the
    /// port is taken, and before binding when the settings are invalid.
    pub async fn start(settings: &GatewaySettings, bus: Bus) -> Result<Self> {
        let ip: IpAddr = match settings.host.as_str() {
            "localhost" => IpAddr::from([127, 0, 0, 1]),
            host => host
                .parse()
                .map_err(|_| Error::BadHost(settings.host.clone()))?,
        };
        let namespaces = namespaces(&settings.namespaces)?;
        let shared = Arc::new(Shared {
            bus,
            auth: Authenticator::new(&settings.auth, &settings.user_claim, &settings.tenant_claim),
            namespaces,
        });
        let (layer, io) = SocketIo::builder().with_state(shared.clone()).build_layer();
        for ns in &shared.namespaces {
            profiles::generic::register(&io, ns);
        }
        let handle = GatewayHandle {
            io,
            shared: shared.clone(),
        };
        let app = http_api::router(handle.clone()).layer(layer);

        let wanted = SocketAddr::new(ip, settings.port);
        let listener = TcpListener::bind(wanted)
            .await
            .map_err(|source| Error::Bind {
                addr: wanted.to_string(),
                source,
            })?;
        let addr = listener.local_addr()?;
        let (shutdown, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
                let _ = stopped.await;
            });
            if let Err(error) = serve.await {
                tracing::error!(%error, "gateway server failed");
            }
        });
        tracing::info!(%addr, auth = shared.auth.required(), namespaces = ?shared.namespaces, "gateway listening");
        Ok(Self {
            addr,
            handle,
            shutdown,
            server,
        })
    }

    /// The address actually bound (the real port when 0 was asked for).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn handle(&self) -> &GatewayHandle {
        &self.handle
    }

    /// Disconnects every socket, stops accepting connections and waits briefly for
    /// the server to wind down.
    pub async fn stop(self) {
        self.handle.io.close().await;
        let _ = self.shutdown.send(());
        let mut server = self.server;
        if tokio::time::timeout(STOP_GRACE, &mut server).await.is_err() {
            server.abort();
        }
        tracing::info!(addr = %self.addr, "gateway stopped");
    }
}

/// `/` plus the configured namespaces, each checked and listed once.
fn namespaces(extra: &[String]) -> Result<Vec<String>> {
    let mut all = vec!["/".to_owned()];
    for ns in extra {
        if !ns.starts_with('/') || ns.chars().any(char::is_whitespace) {
            return Err(Error::BadNamespace(ns.clone()));
        }
        if !all.contains(ns) {
            all.push(ns.clone());
        }
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_always_include_root_once() {
        assert_eq!(
            namespaces(&["/a".into(), "/".into(), "/a".into()]).unwrap(),
            vec!["/", "/a"]
        );
        assert!(matches!(
            namespaces(&["admin".into()]),
            Err(Error::BadNamespace(_))
        ));
    }
}
