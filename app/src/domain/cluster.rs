//! What the console knows about its connection to Kubernetes, and what to tell a person
//! when that connection is missing. The server classifies the client's errors into a
//! [`ProblemKind`]; the advice for each kind is decided here, in one tested place, so every
//! page gives the same plain explanation.

use serde::{Deserialize, Serialize};

/// Where the console looked for its cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterTarget {
    /// Human-readable origin of the credentials: a kubeconfig path, "in-cluster service
    /// account", or the embedded sandbox's kubeconfig.
    pub source: String,
    /// The kubeconfig context in use, when there is one.
    pub context: Option<String>,
    /// The API server URL, when the configuration got far enough to name one.
    pub server: Option<String>,
    /// True when the console runs against its own embedded sandbox cluster.
    pub sandbox: bool,
}

impl ClusterTarget {
    /// One line naming what was tried, e.g.
    /// `kubeconfig /root/.kube/config, context "prod", server https://10.0.0.1:6443`.
    pub fn describe(&self) -> String {
        let mut s = self.source.clone();
        if let Some(ctx) = &self.context {
            s.push_str(&format!(", context \"{ctx}\""));
        }
        if let Some(server) = &self.server {
            s.push_str(&format!(", server {server}"));
        }
        s
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProblemKind {
    /// No kubeconfig could be found or read.
    NoConfig,
    /// A kubeconfig was found but could not be used (bad YAML, missing fields).
    BadConfig,
    /// The requested context is not in the kubeconfig.
    ContextNotFound,
    /// Nothing answered at the server address (refused, DNS, no route).
    Unreachable,
    /// The server answered but TLS failed (certificate, CA).
    Tls,
    /// The server rejected the credentials (401).
    Unauthorized,
    /// The credentials are valid but lack permission (403).
    Forbidden,
    /// The server did not answer in time.
    Timeout,
    /// Anything else the API server said.
    Other,
}

/// A failed attempt to use the cluster, with enough context to fix it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterProblem {
    pub kind: ProblemKind,
    pub target: ClusterTarget,
    /// The error as the client reported it (no secrets: kube-rs errors carry none).
    pub detail: String,
}

impl ClusterProblem {
    pub fn headline(&self) -> &'static str {
        match self.kind {
            ProblemKind::NoConfig => "No Kubernetes cluster is configured",
            ProblemKind::BadConfig => "The kubeconfig could not be used",
            ProblemKind::ContextNotFound => "The kubeconfig context does not exist",
            ProblemKind::Unreachable => "The Kubernetes cluster is not reachable",
            ProblemKind::Tls => "The Kubernetes API server's certificate was not accepted",
            ProblemKind::Unauthorized => "The Kubernetes API server rejected the credentials",
            ProblemKind::Forbidden => "The credentials lack permission for this",
            ProblemKind::Timeout => "The Kubernetes API server did not answer in time",
            ProblemKind::Other => "The Kubernetes API server returned an error",
        }
    }

    /// What a person can do about it.
    pub fn fix(&self) -> String {
        match self.kind {
            ProblemKind::NoConfig => "Point Sluice at a cluster with --kubeconfig PATH (or \
                 SLUICE_KUBECONFIG / KUBECONFIG), or start it with --sandbox to try it on the \
                 embedded sandbox cluster."
                .into(),
            ProblemKind::BadConfig => format!(
                "Check that {} is a valid kubeconfig (`kubectl config view` reads it), \
                 or pass another one with --kubeconfig.",
                self.target.source
            ),
            ProblemKind::ContextNotFound => "List the contexts with `kubectl config \
                 get-contexts` and pass one of them with --context (or SLUICE_CONTEXT)."
                .into(),
            ProblemKind::Unreachable | ProblemKind::Timeout => format!(
                "Check that the cluster is running and that {} is reachable from this \
                 machine (`kubectl cluster-info` with the same kubeconfig and context \
                 should answer). Sluice keeps retrying; this page updates when it answers.",
                self.target.server.as_deref().unwrap_or("the API server")
            ),
            ProblemKind::Tls => "Check the certificate-authority data in the kubeconfig, \
                 or that the server address matches the server's certificate."
                .into(),
            ProblemKind::Unauthorized => "The token or client certificate in the kubeconfig \
                 is expired or wrong: refresh your credentials (e.g. log in to the cloud \
                 provider again) and restart Sluice."
                .into(),
            ProblemKind::Forbidden => "Ask a cluster administrator for a role that allows \
                 it (Sluice needs to list namespaces and manage workloads and Istio \
                 objects), or use another context."
                .into(),
            ProblemKind::Other => "See the error above; `kubectl` with the same kubeconfig \
                 and context usually shows the same error with more detail."
                .into(),
        }
    }
}

/// The result of the last connection check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClusterStatus {
    Connected {
        target: ClusterTarget,
        /// The API server's `gitVersion`.
        version: String,
    },
    Unavailable(ClusterProblem),
}

impl ClusterStatus {
    pub fn is_connected(&self) -> bool {
        matches!(self, ClusterStatus::Connected { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> ClusterTarget {
        ClusterTarget {
            source: "kubeconfig /home/ops/.kube/config".into(),
            context: Some("prod".into()),
            server: Some("https://10.0.0.1:6443".into()),
            sandbox: false,
        }
    }

    #[test]
    fn describes_what_was_tried() {
        assert_eq!(
            target().describe(),
            "kubeconfig /home/ops/.kube/config, context \"prod\", server https://10.0.0.1:6443"
        );
    }

    #[test]
    fn unreachable_advice_names_the_server() {
        let p = ClusterProblem {
            kind: ProblemKind::Unreachable,
            target: target(),
            detail: "connection refused".into(),
        };
        assert!(p.fix().contains("https://10.0.0.1:6443"), "{}", p.fix());
        assert_eq!(p.headline(), "The Kubernetes cluster is not reachable");
    }

    #[test]
    fn missing_config_advice_names_the_flags() {
        let p = ClusterProblem {
            kind: ProblemKind::NoConfig,
            target: target(),
            detail: String::new(),
        };
        assert!(p.fix().contains("--kubeconfig"));
        assert!(p.fix().contains("--sandbox"));
    }
}
