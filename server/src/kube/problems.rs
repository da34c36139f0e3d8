//! Turns kube-rs errors into the console's [`ClusterProblem`]s. kube-rs reports transport
//! failures as nested hyper/IO errors, so the classification walks the error's source
//! chain; this is the one place that knows those shapes.

use sluice_app::domain::cluster::{ClusterProblem, ClusterTarget, ProblemKind};

/// Classifies a failed API call.
pub fn classify(err: &::kube::Error, target: &ClusterTarget) -> ClusterProblem {
    let kind = match err {
        ::kube::Error::Api(status) => match status.code {
            401 => ProblemKind::Unauthorized,
            403 => ProblemKind::Forbidden,
            _ => ProblemKind::Other,
        },
        ::kube::Error::Auth(_) => ProblemKind::Unauthorized,
        ::kube::Error::InferConfig(_) | ::kube::Error::InferKubeconfig(_) => ProblemKind::BadConfig,
        other => kind_from_text(&chain_text(other)),
    };
    ClusterProblem {
        kind,
        target: target.clone(),
        detail: chain_text(err),
    }
}

/// The error and its sources as one line, the innermost cause last, duplicates dropped
/// (hyper often repeats its inner error's text).
pub fn chain_text(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = vec![err.to_string()];
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

/// Recognises transport failures from their text, as reported by hyper and the OS.
pub fn kind_from_text(text: &str) -> ProblemKind {
    let t = text.to_ascii_lowercase();
    if t.contains("timed out") || t.contains("timeout") || t.contains("deadline") {
        ProblemKind::Timeout
    } else if t.contains("certificate") || t.contains("tls") || t.contains("handshake") {
        ProblemKind::Tls
    } else if t.contains("connection refused")
        || t.contains("dns error")
        || t.contains("failed to lookup")
        || t.contains("no route to host")
        || t.contains("network is unreachable")
        || t.contains("connection reset")
        || t.contains("tcp connect error")
        || t.contains("error trying to connect")
        || t.contains("client error (connect)")
    {
        ProblemKind::Unreachable
    } else {
        ProblemKind::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_transport_failures() {
        assert_eq!(
            kind_from_text(
                "client error (Connect): tcp connect error: Connection refused (os error 111)"
            ),
            ProblemKind::Unreachable
        );
        assert_eq!(
            kind_from_text("dns error: failed to lookup address information"),
            ProblemKind::Unreachable
        );
        assert_eq!(
            kind_from_text("invalid peer certificate: UnknownIssuer"),
            ProblemKind::Tls
        );
        assert_eq!(kind_from_text("operation timed out"), ProblemKind::Timeout);
        assert_eq!(kind_from_text("something odd"), ProblemKind::Other);
    }

    #[test]
    fn api_status_codes_become_credential_problems() {
        let target = ClusterTarget {
            source: "kubeconfig x".into(),
            context: None,
            server: None,
            sandbox: false,
        };
        let forbidden = ::kube::Error::Api(
            ::kube::core::Status::failure("namespaces is forbidden", "Forbidden")
                .with_code(403)
                .boxed(),
        );
        let p = classify(&forbidden, &target);
        assert_eq!(p.kind, ProblemKind::Forbidden);
        assert!(p.detail.contains("namespaces is forbidden"), "{}", p.detail);
    }
}
