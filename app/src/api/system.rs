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
