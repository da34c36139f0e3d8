//! The console's own connections: cluster, metrics and traces.

use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;

use crate::domain::backends::SystemStatus;
use crate::error::AppError;

/// Checks every backend once, concurrently; the shell shows the result on every page.
#[server(input = GetUrl, endpoint = "get_system_status")]
pub async fn get_system_status() -> Result<SystemStatus, AppError> {
    let ports = crate::ports::use_ports()?;
    let (cluster, metrics, traces) = futures::join!(
        ports.cluster.status(),
        ports.metrics.status(),
        ports.traces.status(),
    );
    Ok(SystemStatus {
        cluster,
        metrics,
        traces,
    })
}

/// The sandbox's synthetic users, or `None` when the console is on a real cluster.
#[server(input = GetUrl, endpoint = "get_sandbox_traffic")]
pub async fn get_sandbox_traffic()
-> Result<Option<crate::domain::backends::TrafficStatus>, AppError> {
    let ports = crate::ports::use_ports()?;
    Ok(ports.traffic.as_ref().map(|t| t.status()))
}

/// Starts the sandbox's synthetic users at `rps` requests per second, or stops them.
#[server(endpoint = "set_sandbox_traffic")]
pub async fn set_sandbox_traffic(
    running: bool,
    rps: f64,
) -> Result<crate::domain::backends::TrafficStatus, AppError> {
    let ports = crate::ports::use_ports()?;
    let result = match &ports.traffic {
        None => Err(AppError::Invalid(
            "Synthetic traffic exists only in the sandbox: this console runs on a real cluster."
                .into(),
        )),
        Some(t) => t.set(running.then_some(rps)),
    };
    super::reply(result)
}
