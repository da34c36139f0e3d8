//! The state of the optional HTTP backends (Prometheus for metrics, Jaeger for traces).
//! A missing backend blanks only its own panels; this type tells them what to say.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum BackendStatus {
    /// The backend answered its readiness check.
    Ready { url: String },
    /// No URL was given: `flag` is the option that sets one.
    NotConfigured { flag: String, env: String },
    /// A URL was given but the check failed.
    Unreachable { url: String, detail: String },
    /// Sluice meant to run the backend itself but could not; `reason` says how to fix it.
    Missing { reason: String },
}

impl BackendStatus {
    pub fn is_ready(&self) -> bool {
        matches!(self, BackendStatus::Ready { .. })
    }

    /// A short sentence for a status line or an empty panel.
    pub fn summary(&self, what: &str) -> String {
        match self {
            BackendStatus::Ready { url } => format!("{what} at {url}"),
            BackendStatus::NotConfigured { flag, env } => {
                format!("{what} is not configured: start Sluice with {flag} URL (or {env}).")
            }
            BackendStatus::Unreachable { url, detail } => {
                format!("{what} at {url} did not answer: {detail}")
            }
            BackendStatus::Missing { reason } => format!("{what} is unavailable: {reason}"),
        }
    }
}

/// The sandbox's synthetic users (its load generator), as the console shows them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrafficStatus {
    pub running: bool,
    pub rps: f64,
    pub sent: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub last_error: Option<String>,
}

/// Everything the shell shows about the console's backends, fetched once per page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemStatus {
    pub cluster: super::cluster::ClusterStatus,
    pub metrics: BackendStatus,
    pub traces: BackendStatus,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_configured_says_which_flag_sets_it() {
        let s = BackendStatus::NotConfigured {
            flag: "--prometheus-url".into(),
            env: "SLUICE_PROMETHEUS_URL".into(),
        };
        assert_eq!(
            s.summary("Prometheus"),
            "Prometheus is not configured: start Sluice with --prometheus-url URL (or SLUICE_PROMETHEUS_URL)."
        );
        assert!(!s.is_ready());
    }
}
