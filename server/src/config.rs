//! The one configuration struct. Every flag has a `SLUICE_*` environment fallback so the
//! console can be configured the same way on a laptop, in CI and in a container.

use sluice_app::domain::topology::Thresholds;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use reqwest::Url;

#[derive(Debug, Clone, Parser)]
#[command(
    name = "sluice",
    version,
    about = "Sluice: a web console for canary (grayscale) releases on an Istio service mesh.",
    long_about = "Sluice: a web console for canary (grayscale) releases on an Istio service mesh.\n\n\
        Without a configured cluster (no --kubeconfig, no KUBECONFIG, no ~/.kube/config, not \
        running in a cluster) Sluice starts an embedded sandbox cluster, so it can be tried \
        with nothing installed. Logging is controlled by RUST_LOG (default: info)."
)]
pub struct Config {
    /// Address the console listens on. Only loopback addresses are accepted: Sluice has no
    /// sign-in yet, and whoever can open the console can change the cluster.
    #[arg(long, env = "SLUICE_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,

    /// Kubeconfig file to use. Default: $KUBECONFIG, then ~/.kube/config, then the
    /// in-cluster service account.
    #[arg(long, env = "SLUICE_KUBECONFIG", value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,

    /// Kubeconfig context to use. Default: the kubeconfig's current context.
    #[arg(long, env = "SLUICE_CONTEXT", value_name = "NAME")]
    pub context: Option<String>,

    /// Directory for Sluice's own state (the sandbox cluster, the Prometheus it starts).
    /// Default: $XDG_DATA_HOME/sluice, or ~/.local/share/sluice.
    #[arg(long, env = "SLUICE_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Prometheus base URL for traffic metrics, e.g. http://prometheus.istio-system:9090.
    /// Without it, metrics panels say metrics are unavailable.
    #[arg(long, env = "SLUICE_PROMETHEUS_URL", value_name = "URL")]
    pub prometheus_url: Option<Url>,

    /// Jaeger query base URL for traces, e.g. http://tracing.istio-system:16686.
    /// Without it, tracing panels say tracing is unavailable.
    #[arg(long, env = "SLUICE_JAEGER_URL", value_name = "URL")]
    pub jaeger_url: Option<Url>,

    /// Which Jaeger query API to use: v1 (/api/traces, Jaeger up to v2.20), v3 (the stable
    /// /api/v3, OTLP JSON), or auto: probe /api/v3/services, then /api/services.
    #[arg(
        long,
        env = "SLUICE_JAEGER_API",
        value_enum,
        value_name = "API",
        default_value = "auto"
    )]
    pub jaeger_api: crate::backends::JaegerApi,

    /// Directory holding the built front end (pkg/ with the wasm bundle, CSS, assets).
    /// The README commands build it there.
    #[arg(
        long,
        env = "SLUICE_SITE_ROOT",
        value_name = "DIR",
        default_value = "target/site"
    )]
    pub site_root: PathBuf,

    /// Run on the embedded sandbox cluster even when a kubeconfig is available.
    #[arg(long, env = "SLUICE_SANDBOX")]
    pub sandbox: bool,

    /// Address of the sandbox's Kubernetes API (loopback only). Default: a free port.
    #[arg(
        long,
        env = "SLUICE_SANDBOX_API_ADDR",
        value_name = "ADDR",
        default_value = "127.0.0.1:0"
    )]
    pub sandbox_api_addr: SocketAddr,

    /// Where the sandbox writes its kubeconfig, for `kubectl --kubeconfig PATH`.
    /// Default: DATA_DIR/sandbox/kubeconfig.
    #[arg(long, env = "SLUICE_SANDBOX_KUBECONFIG", value_name = "PATH")]
    pub sandbox_kubeconfig: Option<PathBuf>,

    /// The sandbox mesh's ingress gateway, where "Click to visit" opens Bookinfo's
    /// product page (loopback only; port 0 picks a free one).
    #[arg(
        long,
        env = "SLUICE_SANDBOX_INGRESS_ADDR",
        value_name = "ADDR",
        default_value = "127.0.0.1:18080"
    )]
    pub sandbox_ingress_addr: SocketAddr,

    /// Where the sandbox mesh serves Istio's metrics for Prometheus (loopback only).
    #[arg(
        long,
        env = "SLUICE_SANDBOX_METRICS_ADDR",
        value_name = "ADDR",
        default_value = "127.0.0.1:0"
    )]
    pub sandbox_metrics_addr: SocketAddr,

    /// Where the sandbox mesh serves the Jaeger query API (loopback only).
    #[arg(
        long,
        env = "SLUICE_SANDBOX_JAEGER_ADDR",
        value_name = "ADDR",
        default_value = "127.0.0.1:0"
    )]
    pub sandbox_jaeger_addr: SocketAddr,

    /// Synthetic users sending requests through the sandbox ingress, per second (like the
    /// tutorial's `watch curl`); 0 turns them off. They can also be switched in the console.
    #[arg(
        long,
        env = "SLUICE_SANDBOX_LOAD_RPS",
        value_name = "RPS",
        default_value_t = 2.0
    )]
    pub sandbox_load_rps: f64,

    /// Share of requests through the sandbox ingress that are traced (0 to 100 %).
    #[arg(
        long,
        env = "SLUICE_SANDBOX_TRACE_SAMPLING",
        value_name = "PERCENT",
        default_value_t = 100.0
    )]
    pub sandbox_trace_sampling: f64,

    /// Traffic Management health: the share of failed requests (percent) at which a node
    /// or edge turns Degraded (Kiali's default: 0.1).
    #[arg(
        long,
        env = "SLUICE_HEALTH_DEGRADED_PERCENT",
        value_name = "PERCENT",
        default_value_t = 0.1
    )]
    pub health_degraded_percent: f64,

    /// Traffic Management health: the share of failed requests (percent) above which a
    /// node or edge is Failure (Kiali's default: 10).
    #[arg(
        long,
        env = "SLUICE_HEALTH_FAILURE_PERCENT",
        value_name = "PERCENT",
        default_value_t = 10.0
    )]
    pub health_failure_percent: f64,

    /// The Prometheus binary started in sandbox mode when no --prometheus-url is given.
    #[arg(
        long,
        env = "SLUICE_PROMETHEUS_BIN",
        value_name = "PATH",
        default_value = "prometheus"
    )]
    pub prometheus_bin: String,
}

impl Config {
    /// Checks what clap cannot: the refusals that protect the user.
    pub fn validate(&self) -> Result<(), String> {
        check_loopback("--addr", self.addr)?;
        check_loopback("--sandbox-api-addr", self.sandbox_api_addr)?;
        check_loopback("--sandbox-ingress-addr", self.sandbox_ingress_addr)?;
        check_loopback("--sandbox-metrics-addr", self.sandbox_metrics_addr)?;
        check_loopback("--sandbox-jaeger-addr", self.sandbox_jaeger_addr)?;
        if !(0.0..=100.0).contains(&self.sandbox_trace_sampling) {
            return Err(format!(
                "--sandbox-trace-sampling {} is out of range: use 0 to 100 (percent of requests traced).",
                self.sandbox_trace_sampling
            ));
        }
        if !(0.0..=200.0).contains(&self.sandbox_load_rps) {
            return Err(format!(
                "--sandbox-load-rps {} is out of range: use 0 (off) up to 200 requests per second.",
                self.sandbox_load_rps
            ));
        }
        self.health_thresholds()?;
        Ok(())
    }

    /// The topology's health thresholds as error ratios.
    pub fn health_thresholds(&self) -> Result<Thresholds, String> {
        let (d, f) = (self.health_degraded_percent, self.health_failure_percent);
        if !(0.0..=100.0).contains(&d) || !(0.0..=100.0).contains(&f) || d > f {
            return Err(format!(
                "--health-degraded-percent {d} and --health-failure-percent {f} do not fit: \
                 both are percents of failed requests from 0 to 100, and degraded may not be \
                 above failure (Kiali's defaults are 0.1 and 10)."
            ));
        }
        Ok(Thresholds {
            degraded: d / 100.0,
            failure: f / 100.0,
        })
    }

    pub fn data_dir(&self) -> PathBuf {
        if let Some(dir) = &self.data_dir {
            return dir.clone();
        }
        if let Some(xdg) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
            return PathBuf::from(xdg).join("sluice");
        }
        match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
            Some(home) => PathBuf::from(home).join(".local/share/sluice"),
            None => PathBuf::from(".sluice"),
        }
    }
}

fn check_loopback(flag: &str, addr: SocketAddr) -> Result<(), String> {
    if addr.ip().is_loopback() {
        Ok(())
    } else {
        Err(format!(
            "refusing {flag} {addr}: it is not a loopback address. Sluice has no sign-in yet, \
             and anyone who can open the console can change your cluster. Listen on \
             127.0.0.1 (the default) and reach it from elsewhere through an SSH tunnel or \
             `kubectl port-forward`."
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Config, clap::Error> {
        Config::try_parse_from(std::iter::once("sluice").chain(args.iter().copied()))
    }

    #[test]
    fn defaults_listen_on_loopback_port_3000() {
        let cfg = parse(&[]).unwrap();
        assert_eq!(cfg.addr.to_string(), "127.0.0.1:3000");
        assert!(cfg.validate().is_ok());
    }

    #[test]
    fn refuses_to_listen_outside_loopback_and_says_why() {
        let cfg = parse(&["--addr", "0.0.0.0:3000"]).unwrap();
        let err = cfg.validate().unwrap_err();
        assert!(err.contains("refusing --addr 0.0.0.0:3000"), "{err}");
        assert!(err.contains("no sign-in"), "{err}");
        assert!(parse(&["--addr", "[::1]:3000"]).unwrap().validate().is_ok());
    }

    #[test]
    fn health_thresholds_are_percents_in_order() {
        let t = parse(&[]).unwrap().health_thresholds().unwrap();
        assert_eq!((t.degraded, t.failure), (0.001, 0.1), "Kiali's defaults");
        let cfg = parse(&[
            "--health-degraded-percent",
            "5",
            "--health-failure-percent",
            "20",
        ])
        .unwrap();
        let t = cfg.health_thresholds().unwrap();
        assert_eq!((t.degraded, t.failure), (0.05, 0.2));
        let cfg = parse(&[
            "--health-degraded-percent",
            "30",
            "--health-failure-percent",
            "20",
        ])
        .unwrap();
        let err = cfg.validate().unwrap_err();
        assert!(err.contains("degraded may not be above failure"), "{err}");
        let cfg = parse(&["--health-failure-percent", "120"]).unwrap();
        assert!(cfg.validate().unwrap_err().contains("0 to 100"));
    }

    #[test]
    fn rejects_a_malformed_prometheus_url_naming_the_flag() {
        let err = parse(&["--prometheus-url", "not a url"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("--prometheus-url"), "{err}");
    }

    #[test]
    fn refuses_out_of_range_load() {
        let err = parse(&["--sandbox-load-rps", "1000"])
            .unwrap()
            .validate()
            .unwrap_err();
        assert!(err.contains("0 (off) up to 200"), "{err}");
    }

    #[test]
    fn refuses_an_out_of_range_sampling_rate() {
        let err = parse(&["--sandbox-trace-sampling", "150"])
            .unwrap()
            .validate()
            .unwrap_err();
        assert!(err.contains("0 to 100"), "{err}");
        assert!(
            parse(&["--sandbox-trace-sampling", "10"])
                .unwrap()
                .validate()
                .is_ok()
        );
    }

    #[test]
    fn explicit_data_dir_wins() {
        let cfg = parse(&["--data-dir", "/tmp/x"]).unwrap();
        assert_eq!(cfg.data_dir(), PathBuf::from("/tmp/x"));
    }
}
