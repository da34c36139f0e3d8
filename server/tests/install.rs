//! The console installed the way deploy/kubernetes installs it, against the sandbox:
//! `kubectl apply --dry-run=server -k` validates every object, `kubectl apply -k` creates
//! them, and the `sluice` binary then runs the way the Deployment runs it — its
//! environment taken from the rendered manifest, in-cluster configuration from a service
//! account token and CA mounted at the path Kubernetes mounts them (a private mount
//! namespace, so this needs root, as CI has) — with only the ClusterRole the manifests
//! give it. It must elect itself, reconcile a release, and let a person sign in.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Namespace, Secret};
use k8s_openapi::api::rbac::v1::ClusterRoleBinding;
use kube::api::{Api, PostParams};
use serde_json::{Value, json};
use sluice_server::kube::leader::{self, LEASE_NAME};
use sluice_server::kube::releases::{Phase, ReleaseJob};

#[path = "support/bookinfo.rs"]
mod support;

use support::{NS, bookinfo, canary_job, canary_spec};

const MANIFESTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/kubernetes");

fn kubectl(kubeconfig: &Path, args: &[&str]) -> String {
    let out = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .output()
        .expect("kubectl runs");
    assert!(
        out.status.success(),
        "kubectl {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The rendered manifests, one JSON value per object.
fn rendered(kubeconfig: &Path) -> Vec<Value> {
    let yaml = kubectl(kubeconfig, &["kustomize", MANIFESTS]);
    serde_yaml::Deserializer::from_str(&yaml)
        .map(|d| {
            serde_yaml::from_value::<Value>(serde_yaml::Value::deserialize(d).unwrap()).unwrap()
        })
        .collect()
}

use serde::Deserialize as _;

/// The console container's environment as the Deployment sets it (field references
/// resolved as the kubelet would).
fn deployment_env(objects: &[Value]) -> BTreeMap<String, String> {
    let deployment = objects
        .iter()
        .find(|o| o["kind"] == "Deployment" && o["metadata"]["name"] == "sluice")
        .expect("the manifests have the sluice Deployment");
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    container["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let name = e["name"].as_str().unwrap().to_string();
            let value = match (&e["value"], &e["valueFrom"]["fieldRef"]["fieldPath"]) {
                (Value::String(v), _) => v.clone(),
                (_, Value::String(path)) if path == "metadata.namespace" => deployment["metadata"]
                    ["namespace"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                other => panic!("env {name}: unexpected source {other:?}"),
            };
            (name, value)
        })
        .collect()
}

struct Console(Child);

impl Drop for Console {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_runs_as_the_manifests_install_it() {
    if !is_root() {
        panic!(
            "this test mounts a service account token at /var/run/secrets/kubernetes.io in a \
             private mount namespace, which needs root (CI runs as root): run it as root"
        );
    }
    let env = bookinfo().await;
    let admin = env.sandbox.kubeconfig_path().to_path_buf();
    let objects = rendered(&admin);

    // Every object passes the API server's validation (the namespace must exist for a
    // namespaced dry run, as on a real cluster).
    let namespaces: Api<Namespace> = Api::all(env.client.clone());
    namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "sluice-system"}})).unwrap(),
        )
        .await
        .unwrap();
    let dry = kubectl(&admin, &["apply", "--dry-run=server", "-k", MANIFESTS]);
    let dry_lines = dry
        .lines()
        .filter(|l| l.ends_with("(server dry run)"))
        .count();
    assert_eq!(dry_lines, objects.len(), "one line per object:\n{dry}");
    kubectl(&admin, &["apply", "-k", MANIFESTS]);
    let key = "0123456789abcdef0123456789abcdef-session-key";
    Api::<Secret>::namespaced(env.client.clone(), "sluice-system")
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "metadata": {"name": "sluice-session"},
                "stringData": {"key": key},
            }))
            .unwrap(),
        )
        .await
        .unwrap();

    // What the kubelet mounts into the pod: the service account's token, the cluster CA
    // and the namespace.
    let dir = tempfile::tempdir().unwrap();
    let sa = dir.path().join("serviceaccount");
    std::fs::create_dir_all(&sa).unwrap();
    let token = kubectl(
        &admin,
        &["-n", "sluice-system", "create", "token", "sluice"],
    );
    std::fs::write(sa.join("token"), token.trim()).unwrap();
    let kubeconfig: Value =
        serde_yaml::from_str(&std::fs::read_to_string(&admin).unwrap()).unwrap();
    let ca = kubeconfig["clusters"][0]["cluster"]["certificate-authority-data"]
        .as_str()
        .unwrap();
    use base64::Engine as _;
    let ca = base64::engine::general_purpose::STANDARD
        .decode(ca)
        .unwrap();
    std::fs::write(sa.join("ca.crt"), ca).unwrap();
    std::fs::write(sa.join("namespace"), "sluice-system").unwrap();

    // The Deployment's environment; only what names a place on the pod's filesystem or
    // its port moves into this test's directory.
    let mut vars = deployment_env(&objects);
    let port = free_port();
    assert_eq!(vars["SLUICE_ADDR"], "0.0.0.0:3000");
    vars.insert("SLUICE_ADDR".into(), format!("0.0.0.0:{port}"));
    std::fs::write(dir.path().join("session-key"), key).unwrap();
    vars.insert(
        "SLUICE_SESSION_KEY_FILE".into(),
        dir.path().join("session-key").display().to_string(),
    );
    vars.insert(
        "SLUICE_DATA_DIR".into(),
        dir.path().join("data").display().to_string(),
    );
    vars.insert("SLUICE_SITE_ROOT".into(), dir.path().display().to_string());
    // What Kubernetes puts in every pod's environment.
    let api = env.sandbox.addr();
    vars.insert("KUBERNETES_SERVICE_HOST".into(), api.ip().to_string());
    vars.insert("KUBERNETES_SERVICE_PORT".into(), api.port().to_string());
    vars.insert("HOSTNAME".into(), "sluice-7d4b9c-x2x9q".into());
    // The manifest's RUST_LOG plus Sluice's own debug lines, where a refused watch shows.
    vars.insert(
        "RUST_LOG".into(),
        format!("{},sluice_server=debug", vars["RUST_LOG"]),
    );

    // In a private mount namespace, put the token where in-cluster clients read it.
    let log_path = dir.path().join("console.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let child = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "--", "sh", "-c"])
        .arg(
            "set -e; mount -t tmpfs tmpfs /run; \
             mkdir -p /run/secrets/kubernetes.io/serviceaccount; \
             cp \"$0\"/* /run/secrets/kubernetes.io/serviceaccount/; \
             exec \"$1\"",
        )
        .arg(&sa)
        .arg(env!("CARGO_BIN_EXE_sluice"))
        .env_clear()
        .envs(&vars)
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir.path())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .stdin(Stdio::null())
        .spawn()
        .expect("unshare (util-linux) runs");
    let _console = Console(child);
    let read_log = || std::fs::read_to_string(&log_path).unwrap_or_default();

    // It answers its probes; readyz says it reaches the cluster as its service account.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let start = Instant::now();
    loop {
        if let Ok(r) = http.get(format!("{base}/readyz")).send().await
            && r.status().is_success()
        {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the console did not become ready:\n{}",
            read_log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let log_now = read_log();
    assert!(
        log_now.contains("cluster: in-cluster service account"),
        "it used the in-cluster configuration:\n{log_now}"
    );

    // It leads (the only replica), in its own namespace.
    let start = Instant::now();
    let holder = loop {
        if let Some(h) = leader::holder(&env.client, "sluice-system", LEASE_NAME).await {
            break h;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no leader:\n{}",
            read_log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(holder.starts_with("sluice-7d4b9c-x2x9q-"), "{holder}");

    // A release reconciled with nothing but the manifests' ClusterRole.
    let jobs: Api<ReleaseJob> = Api::namespaced(env.client.clone(), NS);
    jobs.create(
        &PostParams::default(),
        &canary_job("canary-release", canary_spec()),
    )
    .await
    .unwrap();
    let start = Instant::now();
    loop {
        let j = jobs.get("canary-release").await.unwrap();
        if j.status.as_ref().and_then(|s| s.phase) == Some(Phase::Live) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the job did not go live: {:?}\n{}",
            j.status,
            read_log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Nothing the console does was refused for want of a permission.
    let log_now = read_log();
    assert!(
        !log_now.to_lowercase().contains("forbidden"),
        "the console's ClusterRole lacks something:\n{log_now}"
    );

    // A person signs in with their token at the public address and sees the job.
    Api::<ClusterRoleBinding>::all(env.client.clone())
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "metadata": {"name": "alice-views"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "sluice-viewer"},
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "alice"}],
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    let host = "sluice.sluice-system.svc";
    let alice = env.sandbox.token_of("alice").unwrap().to_string();
    let signin = http
        .post(format!("{base}/auth/signin"))
        .header("host", host)
        .header("origin", &vars["SLUICE_PUBLIC_URL"])
        .form(&[("token", alice.as_str()), ("next", "/")])
        .send()
        .await
        .unwrap();
    assert_eq!(signin.status(), 303);
    let cookie = signin
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.contains("sluice_session="))
        .expect("a session cookie")
        .to_string();
    // The public URL is https: the cookie is Secure and host-only.
    assert!(
        cookie.starts_with("__Host-sluice_session=") && cookie.contains("Secure"),
        "{cookie}"
    );
    let jobs_json = http
        .get(format!("{base}/api/list_release_jobs?project={NS}"))
        .header("host", host)
        .header("cookie", cookie.split(';').next().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(jobs_json.status(), 200);
    assert!(jobs_json.text().await.unwrap().contains("canary-release"));
}
