//! Sockscope's engine: every behaviour of the product, with no GUI dependency, so the
//! desktop app and the `sockscope` CLI are thin front ends over the same code.
//!
//! [`Engine`] owns the parts: the event [`bus::Bus`] and the embedded
//! [`gateway::Gateway`]. Later parts (connections, store, replay, simulation) hang off
//! it the same way.

pub mod bus;
pub mod connection;
pub mod error;
pub mod gateway;
pub mod inspect;
pub mod store;
pub mod templates;

use sockscope_protocol::{
    EmitRequest, GatewaySettings, GatewayStatus, InspectSnapshot, TemplateSend, TemplateSent,
    TemplateSet,
};
use tokio::sync::Mutex;

pub use bus::Bus;
pub use error::{Error, Result};
pub use gateway::{Gateway, GatewayHandle};

/// The one handle a front end holds.
#[derive(Default)]
pub struct Engine {
    bus: Bus,
    gateway: Mutex<Option<RunningGateway>>,
}

struct RunningGateway {
    gateway: Gateway,
    /// Bus position when this gateway started, so its event count starts at zero.
    events_at_start: u64,
}

impl Engine {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn bus(&self) -> &Bus {
        &self.bus
    }

    /// Starts the embedded gateway; fails if it is already running.
    pub async fn start_gateway(&self, settings: &GatewaySettings) -> Result<GatewayStatus> {
        let mut slot = self.gateway.lock().await;
        if let Some(running) = slot.as_ref() {
            return Err(Error::AlreadyRunning(running.gateway.addr()));
        }
        let gateway = Gateway::start(settings, self.bus.clone()).await?;
        *slot = Some(RunningGateway {
            gateway,
            events_at_start: self.bus.published(),
        });
        Ok(status_of(slot.as_ref(), &self.bus))
    }

    /// Stops the embedded gateway if it runs; stopping a stopped gateway is a no-op.
    pub async fn stop_gateway(&self) -> GatewayStatus {
        let running = self.gateway.lock().await.take();
        if let Some(running) = running {
            running.gateway.stop().await;
        }
        GatewayStatus::default()
    }

    pub async fn gateway_status(&self) -> GatewayStatus {
        status_of(self.gateway.lock().await.as_ref(), &self.bus)
    }

    /// A handle on the running gateway, for emitting or inspecting.
    pub async fn gateway(&self) -> Result<GatewayHandle> {
        self.gateway
            .lock()
            .await
            .as_ref()
            .map(|r| r.gateway.handle().clone())
            .ok_or(Error::NotRunning)
    }

    pub async fn inspect(&self) -> Result<InspectSnapshot> {
        Ok(self.gateway().await?.inspect())
    }

    pub async fn emit(&self, req: &EmitRequest) -> Result<usize> {
        self.gateway().await?.emit(req).await
    }

    /// The running gateway's templates, or the shipped ones when it is stopped.
    pub async fn templates(&self) -> Result<TemplateSet> {
        match self.gateway().await {
            Ok(g) => g.templates(),
            Err(_) => Ok(templates::shipped()),
        }
    }

    pub async fn send_template(&self, req: &TemplateSend) -> Result<TemplateSent> {
        self.gateway().await?.send_template(req).await
    }
}

fn status_of(running: Option<&RunningGateway>, bus: &Bus) -> GatewayStatus {
    match running {
        None => GatewayStatus::default(),
        Some(r) => GatewayStatus {
            running: true,
            addr: Some(r.gateway.addr().to_string()),
            url: Some(r.gateway.url()),
            sockets: r.gateway.handle().socket_count(),
            events: bus.published().saturating_sub(r.events_at_start),
        },
    }
}
