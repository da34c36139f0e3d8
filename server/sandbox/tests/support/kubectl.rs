//! The real `kubectl` against a sandbox, for the tests that check what a user typing
//! commands sees. Each [`Kubectl`] has its own HOME, so discovery caches never mix between
//! sandboxes.

#![allow(dead_code)]

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use tokio::{io::AsyncWriteExt, process::Command};

/// kubectl on PATH, if installed.
pub fn binary() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("kubectl"))
        .find(|p| p.is_file())
}

/// Returns the kubectl binary, or prints why the test is skipped and returns from it
/// (`#[macro_use]` the module to use it).
macro_rules! kubectl_or_skip {
    () => {
        match kubectl::binary() {
            Some(binary) => binary,
            None => {
                eprintln!(
                    "SKIPPED: no kubectl on PATH (install Debian's kubernetes-client to run the kubectl tests)"
                );
                return;
            }
        }
    };
}

/// kubectl bound to one kubeconfig.
pub struct Kubectl {
    binary: PathBuf,
    kubeconfig: PathBuf,
    home: tempfile::TempDir,
}

/// What a kubectl run printed.
#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Kubectl {
    pub fn new(binary: PathBuf, kubeconfig: &Path) -> Kubectl {
        Kubectl {
            binary,
            kubeconfig: kubeconfig.to_path_buf(),
            home: tempfile::tempdir().expect("home"),
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.binary);
        cmd.args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("HOME", self.home.path())
            .env_remove("KUBERNETES_SERVICE_HOST")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        cmd
    }

    /// Runs kubectl with `stdin` as its input (`-f -`).
    pub async fn run_with_input(&self, args: &[&str], stdin: &str) -> Output {
        let mut cmd = self.command(args);
        cmd.stdin(Stdio::piped());
        let mut child = cmd.spawn().expect("kubectl runs");
        let mut input = child.stdin.take().expect("stdin");
        input.write_all(stdin.as_bytes()).await.expect("stdin");
        drop(input);
        let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
            .await
            .unwrap_or_else(|_| panic!("kubectl {args:?} did not finish in 60s"))
            .expect("kubectl runs");
        Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    pub async fn run(&self, args: &[&str]) -> Output {
        let mut cmd = self.command(args);
        cmd.stdin(Stdio::null());
        let out = tokio::time::timeout(Duration::from_secs(60), cmd.output())
            .await
            .unwrap_or_else(|_| panic!("kubectl {args:?} did not finish in 60s"))
            .expect("kubectl runs");
        Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Runs and requires success; returns stdout.
    pub async fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args).await;
        assert_eq!(
            out.code, 0,
            "kubectl {args:?} failed:\nstdout: {}\nstderr: {}",
            out.stdout, out.stderr
        );
        out.stdout
    }

    /// Runs with input and requires success; returns stdout.
    pub async fn ok_with_input(&self, args: &[&str], stdin: &str) -> String {
        let out = self.run_with_input(args, stdin).await;
        assert_eq!(
            out.code, 0,
            "kubectl {args:?} failed:\nstdout: {}\nstderr: {}",
            out.stdout, out.stderr
        );
        out.stdout
    }

    /// Runs and requires failure; returns stderr.
    pub async fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args).await;
        assert_ne!(
            out.code, 0,
            "kubectl {args:?} should have failed:\nstdout: {}",
            out.stdout
        );
        out.stderr
    }

    /// Runs with input and requires failure; returns stderr.
    pub async fn fails_with_input(&self, args: &[&str], stdin: &str) -> String {
        let out = self.run_with_input(args, stdin).await;
        assert_ne!(
            out.code, 0,
            "kubectl {args:?} should have failed:\nstdout: {}",
            out.stdout
        );
        out.stderr
    }
}
