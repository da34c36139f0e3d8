//! Shared helpers for the integration tests: a sandbox in a temporary directory, a kube-rs
//! client configured from the kubeconfig the sandbox wrote (exactly how the console
//! connects), and a bounded polling helper.

#![allow(dead_code)]

use std::{future::Future, path::Path, time::Duration};

use kube::{
    Client, Config,
    config::{KubeConfigOptions, Kubeconfig},
};
use sluice_sandbox::{Sandbox, SandboxConfig};
use tempfile::TempDir;

/// A running sandbox with its data directory and a client.
pub struct TestSandbox {
    pub sandbox: Sandbox,
    pub client: Client,
    pub dir: TempDir,
}

/// Fast pods, so tests do not wait long.
pub const POD_DELAY: Duration = Duration::from_millis(300);

pub async fn start() -> TestSandbox {
    let dir = tempfile::tempdir().expect("tempdir");
    let (sandbox, client) = start_in(dir.path()).await;
    TestSandbox {
        sandbox,
        client,
        dir,
    }
}

pub async fn start_in(dir: &Path) -> (Sandbox, Client) {
    let mut cfg = SandboxConfig::new(dir);
    cfg.pod_ready_delay = POD_DELAY;
    let sandbox = Sandbox::start(cfg).await.expect("sandbox starts");
    let client = client_for(&sandbox).await;
    (sandbox, client)
}

/// A kube-rs client built from the sandbox's kubeconfig file.
pub async fn client_for(sandbox: &Sandbox) -> Client {
    let kubeconfig = Kubeconfig::read_from(sandbox.kubeconfig_path()).expect("kubeconfig");
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("client config");
    Client::try_from(config).expect("client")
}

/// Polls `check` until it returns `Some`, at most `timeout`; panics naming `what` otherwise.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if tokio::time::Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The kube-rs API error of a failed call (panics on success or a transport error).
pub fn api_error<T: std::fmt::Debug>(result: Result<T, kube::Error>) -> kube::core::Status {
    match result {
        Err(kube::Error::Api(status)) => *status,
        other => panic!("expected an API error, got {other:?}"),
    }
}
