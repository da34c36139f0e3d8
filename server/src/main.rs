//! `sluice`: parse the configuration, start logging, build the context, serve.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser;
use sluice_server::config::Config;
use sluice_server::{context, router};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    let cfg = Config::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    if let Err(why) = cfg.validate() {
        eprintln!("sluice: {why}");
        return ExitCode::from(2);
    }
    match run(cfg).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sluice: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cfg: Config) -> anyhow::Result<()> {
    let ctx = context::build(&cfg).await?;
    let listener = tokio::net::TcpListener::bind(cfg.addr)
        .await
        .with_context(|| format!("cannot listen on {}", cfg.addr))?;
    let local = listener.local_addr()?;
    tracing::info!("Sluice console on http://{local}");
    if !local.ip().is_loopback() {
        let tls = cfg
            .public_url
            .as_ref()
            .is_some_and(|u| u.scheme() == "https");
        tracing::warn!(
            "listening beyond loopback with sign-in ({:?}). Put TLS in front: an ingress or a \
             TLS-terminating proxy forwarding to {local}, and start the console with \
             --public-url https://<its name>{}",
            cfg.auth,
            if tls {
                " (set)"
            } else {
                " (not set: cookies are not Secure)"
            }
        );
    }
    if let Some(hint) = ctx.state.auth.sign_in_options().sandbox_hint {
        tracing::info!("{hint}");
    }
    axum::serve(
        listener,
        router::router(ctx.state.clone())
            .into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await?;
    ctx.stop().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutting down");
}
