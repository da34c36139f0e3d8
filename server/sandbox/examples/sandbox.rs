//! Runs a sandbox on its own, for poking at it with kubectl:
//! `cargo run -p sluice-sandbox --example sandbox -- /tmp/sandbox-data [port]`, then
//! `kubectl --kubeconfig /tmp/sandbox-data/sandbox/kubeconfig get pods -A`.

use std::net::SocketAddr;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let mut args = std::env::args().skip(1);
    let dir = args.next().unwrap_or_else(|| "sandbox-data".into());
    let mut cfg = sluice_sandbox::SandboxConfig::new(dir);
    if let Some(port) = args.next() {
        cfg.api_addr = SocketAddr::from(([127, 0, 0, 1], port.parse()?));
    }
    let sandbox = sluice_sandbox::Sandbox::start(cfg).await?;
    println!("API: {}", sandbox.api_url());
    println!("kubeconfig: {}", sandbox.kubeconfig_path().display());
    tokio::signal::ctrl_c().await?;
    sandbox.shutdown().await;
    Ok(())
}
