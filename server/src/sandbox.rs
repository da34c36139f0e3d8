//! Glue between the console and the embedded sandbox that is not the Kubernetes API:
//! switching its synthetic users. Everything cluster-shaped goes through kube-rs over
//! HTTP like any cluster; the load generator has no Kubernetes equivalent, so the console
//! drives it directly.

use sluice_app::domain::backends::TrafficStatus;
use sluice_app::error::AppError;
use sluice_app::ports::TrafficPort;
use sluice_sandbox::mesh::{LoadConfig, LoadStatus, Mesh};

/// The most synthetic users the console lets anyone ask for: the sandbox runs on the same
/// two cores as everything else.
pub const MAX_RPS: f64 = 50.0;

pub struct SandboxTraffic {
    pub mesh: Mesh,
}

fn status_of(s: LoadStatus) -> TrafficStatus {
    TrafficStatus {
        running: s.running,
        rps: s.config.map(|c| c.rps).unwrap_or(0.0),
        sent: s.sent,
        succeeded: s.succeeded,
        failed: s.failed,
        last_error: s.last_error,
    }
}

impl TrafficPort for SandboxTraffic {
    fn status(&self) -> TrafficStatus {
        status_of(self.mesh.load_status())
    }

    fn set(&self, rps: Option<f64>) -> Result<TrafficStatus, AppError> {
        match rps {
            None => Ok(status_of(self.mesh.stop_load())),
            Some(r) if !(r > 0.0 && r <= MAX_RPS) => Err(AppError::Invalid(format!(
                "{r} requests per second is out of range: choose more than 0 and at most {MAX_RPS}."
            ))),
            Some(r) => self
                .mesh
                .start_load(LoadConfig {
                    rps: r,
                    ..LoadConfig::default()
                })
                .map(status_of)
                .map_err(|e| AppError::Invalid(e.to_string())),
        }
    }
}
