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
    /// Address the console listens on. Without sign-in (`--auth none`) only loopback
    /// addresses are accepted: whoever can open the console could change the cluster.
    #[arg(long, env = "SLUICE_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,

    /// How people sign in: none (loopback only, the console's own credentials), token (a
    /// pasted Kubernetes bearer token), header (an authenticating proxy's headers,
    /// impersonated), openid (OpenID Connect with PKCE, impersonated).
    #[arg(long, env = "SLUICE_AUTH", value_enum, default_value = "none")]
    pub auth: AuthArg,

    /// The URL people open the console at, e.g. https://sluice.example.com (behind a
    /// TLS-terminating proxy or ingress). Its host is accepted in `Host`, its origin for
    /// changes, https makes cookies Secure, and OpenID's redirect goes to it.
    #[arg(long, env = "SLUICE_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<Url>,

    /// More names the console answers to (`host[:port]`), e.g. its Service's DNS name;
    /// comma-separated in the environment.
    #[arg(
        long = "allowed-host",
        env = "SLUICE_ALLOWED_HOSTS",
        value_name = "HOST",
        value_delimiter = ','
    )]
    pub allowed_hosts: Vec<String>,

    /// How long a sign-in lasts, in minutes (at most as long as the token or ID token).
    #[arg(
        long,
        env = "SLUICE_SESSION_MINUTES",
        value_name = "MINUTES",
        default_value_t = 480
    )]
    pub session_minutes: u32,

    /// A file with at least 32 secret bytes that seals session cookies. Give every replica
    /// the same file (a Secret) so any of them can serve a signed-in user; without it a
    /// random key is used and sessions end when the console restarts.
    #[arg(long, env = "SLUICE_SESSION_KEY_FILE", value_name = "PATH")]
    pub session_key_file: Option<PathBuf>,

    /// `--auth header`: the header naming the user (oauth2-proxy: X-Forwarded-User).
    #[arg(
        long,
        env = "SLUICE_AUTH_HEADER_USER",
        default_value = "X-Forwarded-User"
    )]
    pub auth_header_user: String,

    /// `--auth header`: the header listing the user's groups, comma-separated.
    #[arg(
        long,
        env = "SLUICE_AUTH_HEADER_GROUPS",
        default_value = "X-Forwarded-Groups"
    )]
    pub auth_header_groups: String,

    /// `--auth header`: addresses (CIDRs) of the proxy; identity headers from anywhere else
    /// are refused. Repeat or comma-separate.
    #[arg(
        long = "auth-trusted-proxy",
        env = "SLUICE_AUTH_TRUSTED_PROXIES",
        value_name = "CIDR",
        value_delimiter = ','
    )]
    pub auth_trusted_proxies: Vec<String>,

    /// `--auth header`: where "Sign out" goes (the proxy's sign-out, e.g. /oauth2/sign_out).
    #[arg(long, env = "SLUICE_AUTH_HEADER_SIGNOUT_URL", value_name = "URL")]
    pub auth_header_signout_url: Option<String>,

    /// `--auth openid`: the issuer URL (its /.well-known/openid-configuration is read).
    #[arg(long, env = "SLUICE_OIDC_ISSUER", value_name = "URL")]
    pub oidc_issuer: Option<Url>,

    /// `--auth openid`: the console's client id at the issuer.
    #[arg(long, env = "SLUICE_OIDC_CLIENT_ID", value_name = "ID")]
    pub oidc_client_id: Option<String>,

    /// `--auth openid`: a file holding the client secret (omit for a public client).
    /// SLUICE_OIDC_CLIENT_SECRET may hold the secret itself.
    #[arg(long, env = "SLUICE_OIDC_CLIENT_SECRET_FILE", value_name = "PATH")]
    pub oidc_client_secret_file: Option<PathBuf>,

    /// `--auth openid`: scopes asked for, comma-separated.
    #[arg(
        long,
        env = "SLUICE_OIDC_SCOPES",
        default_value = "openid,profile,email,groups",
        value_delimiter = ','
    )]
    pub oidc_scopes: Vec<String>,

    /// `--auth openid`: the ID token claim that names the Kubernetes user.
    #[arg(long, env = "SLUICE_OIDC_USERNAME_CLAIM", default_value = "sub")]
    pub oidc_username_claim: String,

    /// `--auth openid`: the ID token claim listing the user's groups.
    #[arg(long, env = "SLUICE_OIDC_GROUPS_CLAIM", default_value = "groups")]
    pub oidc_groups_claim: String,

    /// `--auth openid`: prefixed to user and group names before impersonation, like the
    /// API server's --oidc-username-prefix (e.g. "oidc:").
    #[arg(long, env = "SLUICE_OIDC_PREFIX", default_value = "")]
    pub oidc_prefix: String,

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

    /// Namespace of the Lease that elects which console runs the release controller (any
    /// number of consoles serve pages; one reconciles). Default: the console's own
    /// namespace in a cluster (POD_NAMESPACE or its service account's), else `default`.
    #[arg(
        long,
        env = "SLUICE_LEADER_ELECTION_NAMESPACE",
        value_name = "NAMESPACE"
    )]
    pub leader_election_namespace: Option<String>,

    /// How long the leader may be silent before another console takes over, in seconds.
    #[arg(
        long,
        env = "SLUICE_LEADER_LEASE_SECONDS",
        value_name = "SECONDS",
        default_value_t = 15
    )]
    pub leader_lease_seconds: u32,

    /// How long one live-update stream (`/api/live`) lasts before the browser reconnects,
    /// in seconds: each reconnect checks the sign-in again and may land on another replica.
    #[arg(
        long,
        env = "SLUICE_PUSH_MAX_CONNECTION_SECONDS",
        value_name = "SECONDS",
        default_value_t = 300
    )]
    pub push_max_connection_seconds: u32,

    /// How long a release job's audit history is kept after the job ends (Job Offline or
    /// deleted), in hours.
    #[arg(
        long,
        env = "SLUICE_AUDIT_RETENTION_HOURS",
        value_name = "HOURS",
        default_value_t = 168
    )]
    pub audit_retention_hours: u32,

    /// The Prometheus binary started in sandbox mode when no --prometheus-url is given.
    #[arg(
        long,
        env = "SLUICE_PROMETHEUS_BIN",
        value_name = "PATH",
        default_value = "prometheus"
    )]
    pub prometheus_bin: String,

    /// How long a Kubernetes API call made for a page may go without an answer (to
    /// connect, and between parts of the answer), in seconds; the page then says the API
    /// server did not answer instead of waiting. The release controller's watches are
    /// not bound by it.
    #[arg(
        long,
        env = "SLUICE_KUBE_TIMEOUT",
        value_name = "SECONDS",
        default_value_t = 15
    )]
    pub kube_timeout: u32,

    /// The most a Prometheus answer may hold, in MB; a larger one is not read and the
    /// panel says how to narrow its query.
    #[arg(
        long,
        env = "SLUICE_MAX_PROMETHEUS_RESPONSE_MB",
        value_name = "MB",
        default_value_t = crate::backends::DEFAULT_MAX_PROMETHEUS_RESPONSE_MB
    )]
    pub max_prometheus_response_mb: u32,

    /// The most a Jaeger answer (a search, or one trace) may hold, in MB; a larger one is
    /// not read and the panel says how to narrow the search.
    #[arg(
        long,
        env = "SLUICE_MAX_JAEGER_RESPONSE_MB",
        value_name = "MB",
        default_value_t = crate::backends::DEFAULT_MAX_JAEGER_RESPONSE_MB
    )]
    pub max_jaeger_response_mb: u32,

    /// How often the Prometheus started in sandbox mode scrapes the mesh, in seconds:
    /// the shortest useful step of an automatic release is a few scrapes.
    #[arg(
        long,
        env = "SLUICE_PROMETHEUS_SCRAPE_SECONDS",
        value_name = "SECONDS",
        default_value_t = 5,
        value_parser = clap::value_parser!(u32).range(1..=60)
    )]
    pub prometheus_scrape_seconds: u32,
}

/// `--auth`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AuthArg {
    None,
    Token,
    Header,
    Openid,
}

impl Config {
    /// Checks what clap cannot: the refusals that protect the user.
    pub fn validate(&self) -> Result<(), String> {
        if self.auth == AuthArg::None {
            check_loopback("--addr", self.addr)?;
        }
        if let Some(url) = &self.public_url
            && (!matches!(url.scheme(), "http" | "https")
                || url.host_str().is_none()
                || url.path() != "/"
                || url.query().is_some())
        {
            return Err(format!(
                "--public-url {url} is not a site's address: use scheme, host and port only, \
                 e.g. https://sluice.example.com"
            ));
        }
        if !(1..=87_600).contains(&self.audit_retention_hours) {
            return Err(format!(
                "--audit-retention-hours {} is out of range: use 1 to 87600 (ten years).",
                self.audit_retention_hours
            ));
        }
        if !(1..=86_400).contains(&self.push_max_connection_seconds) {
            return Err(format!(
                "--push-max-connection-seconds {} is out of range: use 1 to 86400.",
                self.push_max_connection_seconds
            ));
        }
        if !(2..=300).contains(&self.leader_lease_seconds) {
            return Err(format!(
                "--leader-lease-seconds {} is out of range: use 2 to 300 (client-go's default \
                 is 15).",
                self.leader_lease_seconds
            ));
        }
        if self.session_minutes == 0 || self.session_minutes > 7 * 24 * 60 {
            return Err(format!(
                "--session-minutes {} is out of range: use 1 to 10080 (a week).",
                self.session_minutes
            ));
        }
        match self.auth {
            AuthArg::Header => {
                let proxies = crate::auth::proxy::parse_cidrs(&self.auth_trusted_proxies)?;
                if proxies.is_empty() {
                    return Err(
                        "--auth header needs --auth-trusted-proxy: the proxy's addresses \
                         (e.g. 10.0.0.0/8). Identity headers are believed only from them."
                            .into(),
                    );
                }
                for (flag, h) in [
                    ("--auth-header-user", &self.auth_header_user),
                    ("--auth-header-groups", &self.auth_header_groups),
                ] {
                    if axum::http::HeaderName::from_bytes(h.as_bytes()).is_err() {
                        return Err(format!("{flag} {h:?} is not a header name."));
                    }
                }
            }
            AuthArg::Openid => {
                if self.oidc_issuer.is_none() || self.oidc_client_id.is_none() {
                    return Err(
                        "--auth openid needs --oidc-issuer and --oidc-client-id (and \
                         --oidc-client-secret-file for a confidential client)."
                            .into(),
                    );
                }
            }
            AuthArg::None | AuthArg::Token => {}
        }
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
        if !(1..=600).contains(&self.kube_timeout) {
            return Err(format!(
                "--kube-timeout {} is out of range: use 1 to 600 seconds.",
                self.kube_timeout
            ));
        }
        for (flag, mb) in [
            (
                "--max-prometheus-response-mb",
                self.max_prometheus_response_mb,
            ),
            ("--max-jaeger-response-mb", self.max_jaeger_response_mb),
        ] {
            if !(1..=4096).contains(&mb) {
                return Err(format!(
                    "{flag} {mb} is out of range: use 1 to 4096 (MB held in memory per answer)."
                ));
            }
        }
        Ok(())
    }

    /// `--kube-timeout` as a duration.
    pub fn kube_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(u64::from(self.kube_timeout.max(1)))
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
    } else if flag == "--addr" {
        Err(format!(
            "refusing --addr {addr}: it is not a loopback address, and without sign-in \
             (--auth none) anyone who can open the console could change your cluster. Either \
             listen on 127.0.0.1 (the default) and reach it through an SSH tunnel or \
             `kubectl port-forward`, or choose a sign-in with --auth token|header|openid and \
             put TLS in front (an ingress or proxy, with --public-url https://...)."
        ))
    } else {
        Err(format!(
            "refusing {flag} {addr}: the sandbox's own endpoints listen on loopback only."
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
        assert!(err.contains("without sign-in"), "{err}");
        assert!(err.contains("--auth token|header|openid"), "{err}");
        assert!(parse(&["--addr", "[::1]:3000"]).unwrap().validate().is_ok());
        // With a sign-in, any address.
        let cfg = parse(&["--addr", "0.0.0.0:3000", "--auth", "token"]).unwrap();
        assert!(cfg.validate().is_ok());
        // The sandbox's endpoints stay on loopback whatever the sign-in.
        let cfg = parse(&["--auth", "token", "--sandbox-api-addr", "0.0.0.0:0"]).unwrap();
        assert!(cfg.validate().unwrap_err().contains("loopback only"));
    }

    #[test]
    fn each_sign_in_strategy_says_what_it_is_missing() {
        let err = parse(&["--auth", "header"])
            .unwrap()
            .validate()
            .unwrap_err();
        assert!(err.contains("--auth-trusted-proxy"), "{err}");
        let err = parse(&["--auth", "header", "--auth-trusted-proxy", "10.0.0.0/33"])
            .unwrap()
            .validate()
            .unwrap_err();
        assert!(err.contains("10.0.0.0/33"), "{err}");
        assert!(
            parse(&[
                "--auth",
                "header",
                "--auth-trusted-proxy",
                "10.0.0.0/8,127.0.0.1"
            ])
            .unwrap()
            .validate()
            .is_ok()
        );
        let err = parse(&["--auth", "openid"])
            .unwrap()
            .validate()
            .unwrap_err();
        assert!(err.contains("--oidc-issuer"), "{err}");
        let err = parse(&["--public-url", "https://x.example/console"])
            .unwrap()
            .validate()
            .unwrap_err();
        assert!(err.contains("scheme, host and port only"), "{err}");
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
    fn io_limits_have_defaults_and_ranges() {
        let cfg = parse(&[]).unwrap();
        assert_eq!(cfg.kube_timeout(), std::time::Duration::from_secs(15));
        assert_eq!(
            (cfg.max_prometheus_response_mb, cfg.max_jaeger_response_mb),
            (32, 64)
        );
        let err = parse(&["--kube-timeout", "0"])
            .unwrap()
            .validate()
            .unwrap_err();
        assert!(err.contains("--kube-timeout 0"), "{err}");
        let err = parse(&["--max-jaeger-response-mb", "0"])
            .unwrap()
            .validate()
            .unwrap_err();
        assert!(err.contains("--max-jaeger-response-mb 0"), "{err}");
        assert!(
            parse(&["--kube-timeout", "2", "--max-prometheus-response-mb", "1"])
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
