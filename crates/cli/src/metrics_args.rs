//! `--metrics ADDR` / `--metrics-allow-remote`: the Prometheus endpoint flags of
//! `serve` and `simulate`, one struct flattened into each. The engine's `metrics`
//! module does the work; this parses the address (loopback unless remote scraping is
//! asked for), starts the endpoint and says where it listens on stderr.

use std::sync::Arc;

use clap::Args;
use sockscope_engine::metrics::{self, Metrics, MetricsServer};

use crate::error::Result;

#[derive(Debug, Args, Clone, Default)]
pub struct MetricsArgs {
    /// Serve Prometheus/OpenMetrics metrics on http://ADDR/metrics: PORT (loopback)
    /// or HOST:PORT; a non-loopback HOST needs --metrics-allow-remote.
    #[arg(long, value_name = "[HOST:]PORT")]
    pub metrics: Option<String>,
    /// Allow --metrics on a non-loopback address (the metrics name namespaces and
    /// events; there is no authentication).
    #[arg(long, requires = "metrics")]
    pub metrics_allow_remote: bool,
}

impl MetricsArgs {
    /// The address, checked before anything else starts.
    pub fn addr(&self) -> Result<Option<std::net::SocketAddr>> {
        Ok(self
            .metrics
            .as_deref()
            .map(|a| metrics::parse_addr(a, self.metrics_allow_remote))
            .transpose()?)
    }

    /// Starts the endpoint at `addr` for a fresh [`Metrics`]; `metrics: http://...`
    /// on stderr.
    pub async fn start(
        addr: Option<std::net::SocketAddr>,
    ) -> Result<Option<(Arc<Metrics>, MetricsServer)>> {
        let Some(addr) = addr else {
            return Ok(None);
        };
        let m = Arc::new(Metrics::new());
        let server = metrics::serve(addr, m.clone()).await?;
        eprintln!("metrics: http://{}/metrics", server.addr());
        Ok(Some((m, server)))
    }
}
