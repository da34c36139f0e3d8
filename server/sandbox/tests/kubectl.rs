//! Conformance with the real `kubectl`: what a user types against the sandbox's kubeconfig
//! must work as against a cluster. Skipped (with the reason printed) only when no kubectl is
//! installed; the project's setup installs Debian's `kubernetes-client`.

#[path = "support/sandbox.rs"]
mod support;

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use serde_json::Value;
use tokio::process::Command;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/istio/bookinfo");

fn kubectl_binary() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("kubectl"))
        .find(|p| p.is_file())
}

/// kubectl bound to one sandbox, with its own HOME so discovery caches never mix.
struct Kubectl {
    binary: PathBuf,
    kubeconfig: PathBuf,
    home: tempfile::TempDir,
}

struct Output {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Kubectl {
    fn new(binary: PathBuf, kubeconfig: &Path) -> Kubectl {
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
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        cmd
    }

    async fn run(&self, args: &[&str]) -> Output {
        let out = tokio::time::timeout(Duration::from_secs(60), self.command(args).output())
            .await
            .unwrap_or_else(|_| panic!("kubectl {args:?} did not finish in 60s"))
            .expect("kubectl runs");
        Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Runs and requires success.
    async fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args).await;
        assert_eq!(
            out.code, 0,
            "kubectl {args:?} failed:\nstdout: {}\nstderr: {}",
            out.stdout, out.stderr
        );
        out.stdout
    }
}

macro_rules! kubectl_or_skip {
    () => {
        match kubectl_binary() {
            Some(binary) => binary,
            None => {
                eprintln!(
                    "SKIPPED: no kubectl on PATH (install Debian's kubernetes-client to run the kubectl conformance tests)"
                );
                return;
            }
        }
    };
}

fn fixture(rel: &str) -> String {
    format!("{FIXTURES}/{rel}")
}

#[tokio::test]
async fn kubectl_applies_bookinfo_and_a_second_apply_is_unchanged() {
    let binary = kubectl_or_skip!();
    let t = support::start().await;
    let k = Kubectl::new(binary, t.sandbox.kubeconfig_path());
    let bookinfo = fixture("platform/kube/bookinfo.yaml");
    let rules = fixture("networking/destination-rule-all.yaml");

    let first = k
        .ok(&["apply", "-n", "demo-project", "-f", &bookinfo])
        .await;
    for line in [
        "service/details created",
        "serviceaccount/bookinfo-details created",
        "deployment.apps/details-v1 created",
        "deployment.apps/reviews-v3 created",
        "service/productpage created",
    ] {
        assert!(first.contains(line), "{line:?} in:\n{first}");
    }
    let again = k
        .ok(&["apply", "-n", "demo-project", "-f", &bookinfo])
        .await;
    let lines: Vec<&str> = again.lines().collect();
    assert_eq!(lines.len(), 14, "{again}");
    assert!(
        lines.iter().all(|l| l.ends_with(" unchanged")),
        "second apply:\n{again}"
    );

    let created = k.ok(&["apply", "-n", "demo-project", "-f", &rules]).await;
    assert!(
        created.contains("destinationrule.networking.istio.io/reviews created"),
        "{created}"
    );
    let again = k.ok(&["apply", "-n", "demo-project", "-f", &rules]).await;
    assert_eq!(
        again.lines().filter(|l| l.ends_with(" unchanged")).count(),
        4,
        "{again}"
    );

    // A changed manifest is "configured" and really changes the object.
    let changed = std::fs::read_to_string(&rules).expect("fixture").replacen(
        "version: v3",
        "version: v3-canary",
        1,
    );
    let changed_path = t.dir.path().join("changed-rules.yaml");
    std::fs::write(&changed_path, changed).expect("write");
    let configured = k
        .ok(&[
            "apply",
            "-n",
            "demo-project",
            "-f",
            changed_path.to_str().expect("utf-8 path"),
        ])
        .await;
    assert!(
        configured.contains("destinationrule.networking.istio.io/reviews configured"),
        "{configured}"
    );
    let reviews: Value = serde_json::from_str(
        &k.ok(&["get", "dr", "reviews", "-n", "demo-project", "-o", "json"])
            .await,
    )
    .expect("json");
    let subsets = reviews["spec"]["subsets"].as_array().expect("subsets");
    assert!(
        subsets
            .iter()
            .any(|s| s["labels"]["version"] == "v3-canary")
    );

    // get -o json of the workloads.
    let deployments: Value = serde_json::from_str(
        &k.ok(&["get", "deployments", "-n", "demo-project", "-o", "json"])
            .await,
    )
    .expect("json");
    assert_eq!(deployments["kind"], "List");
    let names: Vec<&str> = deployments["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|d| d["metadata"]["name"].as_str())
        .collect();
    assert_eq!(
        names,
        [
            "details-v1",
            "productpage-v1",
            "ratings-v1",
            "reviews-v1",
            "reviews-v2",
            "reviews-v3"
        ]
    );

    // wait --for=condition=Available, then the cluster-wide pod table.
    let waited = k
        .ok(&[
            "wait",
            "--for=condition=Available",
            "deployment/reviews-v1",
            "-n",
            "demo-project",
            "--timeout=60s",
        ])
        .await;
    assert_eq!(waited.trim(), "deployment.apps/reviews-v1 condition met");
    k.ok(&[
        "wait",
        "--for=condition=Ready",
        "pods",
        "--all",
        "-n",
        "demo-project",
        "--timeout=60s",
    ])
    .await;
    let table = k.ok(&["get", "pods", "-A"]).await;
    let header: Vec<&str> = table
        .lines()
        .next()
        .expect("header")
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    );
    let rows: Vec<&str> = table.lines().skip(1).collect();
    assert_eq!(rows.len(), 6, "{table}");
    for row in rows {
        let cols: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(cols[0], "demo-project", "{row}");
        assert_eq!((cols[2], cols[3]), ("1/1", "Running"), "{row}");
    }

    // The Istio printer columns come from the CRD.
    let rules_table = k
        .ok(&["get", "destinationrules", "-n", "demo-project"])
        .await;
    assert!(
        rules_table.starts_with("NAME") && rules_table.contains("HOST"),
        "{rules_table}"
    );

    // delete -f, and they are gone.
    let deleted = k.ok(&["delete", "-n", "demo-project", "-f", &rules]).await;
    assert!(
        deleted.contains("destinationrule.networking.istio.io \"reviews\" deleted"),
        "{deleted}"
    );
    let none = k.run(&["get", "dr", "-n", "demo-project"]).await;
    assert_eq!(none.code, 0);
    assert!(
        none.stderr.contains("No resources found"),
        "{}",
        none.stderr
    );
    t.sandbox.shutdown().await;
}

#[tokio::test]
async fn kubectl_get_watch_streams_changes() {
    let binary = kubectl_or_skip!();
    let t = support::start().await;
    let k = Kubectl::new(binary, t.sandbox.kubeconfig_path());
    k.ok(&[
        "apply",
        "-n",
        "demo-project",
        "-f",
        &fixture("platform/kube/bookinfo.yaml"),
    ])
    .await;
    let watcher = k
        .command(&[
            "get",
            "deployments",
            "-n",
            "demo-project",
            "-w",
            "--output-watch-events",
        ])
        .spawn()
        .expect("kubectl get -w");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    k.ok(&[
        "scale",
        "deployment/ratings-v1",
        "-n",
        "demo-project",
        "--replicas=2",
    ])
    .await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    // `get -w` never ends by itself: stop it, as a user would with Ctrl-C.
    let pid = watcher.id().expect("pid");
    let _ = std::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status();
    let out = tokio::time::timeout(Duration::from_secs(10), watcher.wait_with_output())
        .await
        .expect("kubectl get -w stops")
        .expect("output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[0].split_whitespace().collect::<Vec<_>>()
            == ["EVENT", "NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"],
        "{stdout}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("ADDED") && l.contains("reviews-v3")),
        "{stdout}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("MODIFIED") && l.contains("ratings-v1") && l.contains("2/2")),
        "the scaled deployment shows up as it becomes ready:\n{stdout}"
    );
    t.sandbox.shutdown().await;
}

#[tokio::test]
async fn kubectl_reports_schema_errors_from_istio_crds() {
    let binary = kubectl_or_skip!();
    let t = support::start().await;
    let k = Kubectl::new(binary, t.sandbox.kubeconfig_path());
    let bad = t.dir.path().join("bad-vs.yaml");
    std::fs::write(
        &bad,
        "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subset: v1}
      weight: \"fifty\"
",
    )
    .expect("write");
    let out = k
        .run(&[
            "apply",
            "-n",
            "demo-project",
            "-f",
            bad.to_str().expect("path"),
        ])
        .await;
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("The VirtualService \"reviews\" is invalid: spec.http[0].route[0].weight: Invalid value: \"string\""),
        "{}",
        out.stderr
    );

    let typo = t.dir.path().join("typo-vs.yaml");
    std::fs::write(
        &typo,
        "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts: [reviews]
  htttp: []
",
    )
    .expect("write");
    let out = k
        .run(&[
            "apply",
            "-n",
            "demo-project",
            "-f",
            typo.to_str().expect("path"),
        ])
        .await;
    assert_ne!(out.code, 0, "kubectl validates strictly by default");
    assert!(
        out.stderr
            .contains("strict decoding error: unknown field \"spec.htttp\""),
        "{}",
        out.stderr
    );
    let lenient = k
        .ok(&[
            "apply",
            "--validate=false",
            "-n",
            "demo-project",
            "-f",
            typo.to_str().expect("path"),
        ])
        .await;
    assert!(lenient.contains("created"), "{lenient}");

    let ok = k
        .ok(&[
            "apply",
            "-n",
            "demo-project",
            "-f",
            &fixture("networking/virtual-service-reviews-90-10.yaml"),
        ])
        .await;
    assert!(
        ok.contains("virtualservice.networking.istio.io/reviews configured"),
        "{ok}"
    );
    let vs = k.ok(&["get", "vs", "-n", "demo-project"]).await;
    let header: Vec<&str> = vs
        .lines()
        .next()
        .expect("header")
        .split_whitespace()
        .collect();
    assert_eq!(header, ["NAME", "GATEWAYS", "HOSTS", "AGE"], "{vs}");
    assert!(vs.contains("[\"reviews\"]"), "{vs}");
    t.sandbox.shutdown().await;
}

#[tokio::test]
async fn kubectl_deletes_a_namespace_and_its_contents() {
    let binary = kubectl_or_skip!();
    let t = support::start().await;
    let k = Kubectl::new(binary, t.sandbox.kubeconfig_path());
    let ns_file = t.dir.path().join("ns.yaml");
    std::fs::write(
        &ns_file,
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: scratch\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: scratch\ndata:\n  a: b\n",
    )
    .expect("write");
    k.ok(&["apply", "-f", ns_file.to_str().expect("path")])
        .await;
    let deleted = k.ok(&["delete", "namespace", "scratch"]).await;
    assert_eq!(deleted.trim(), "namespace \"scratch\" deleted");
    let out = k.run(&["get", "namespace", "scratch"]).await;
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("namespaces \"scratch\" not found"),
        "{}",
        out.stderr
    );
    let api = k
        .ok(&[
            "api-resources",
            "--api-group=networking.istio.io",
            "-o",
            "name",
        ])
        .await;
    let mut names: Vec<&str> = api.lines().collect();
    names.sort();
    assert_eq!(
        names,
        [
            "destinationrules.networking.istio.io",
            "gateways.networking.istio.io",
            "virtualservices.networking.istio.io"
        ]
    );
    t.sandbox.shutdown().await;
}

#[tokio::test]
async fn kubectl_signs_in_per_user_and_rbac_decides_what_they_may_do() {
    let binary = kubectl_or_skip!();
    let t = support::start().await;
    let admin = Kubectl::new(binary.clone(), t.sandbox.kubeconfig_path());
    let alice = Kubectl::new(binary.clone(), &t.sandbox.user_kubeconfig("alice").unwrap());
    let bob = Kubectl::new(binary, &t.sandbox.user_kubeconfig("bob").unwrap());

    let who = alice
        .ok(&[
            "auth",
            "whoami",
            "-o",
            "jsonpath={.status.userInfo.username}",
        ])
        .await;
    assert_eq!(who, "alice");
    let who = admin
        .ok(&["auth", "whoami", "-o", "jsonpath={.status.userInfo.groups}"])
        .await;
    assert!(who.contains("system:masters"), "{who}");

    admin
        .ok(&[
            "create",
            "clusterrolebinding",
            "bob-view",
            "--clusterrole=view",
            "--user=bob",
        ])
        .await;
    admin
        .ok(&[
            "create",
            "rolebinding",
            "alice-edit",
            "-n",
            "demo-project",
            "--clusterrole=edit",
            "--user=alice",
        ])
        .await;

    let yes = alice
        .run(&[
            "auth",
            "can-i",
            "create",
            "deployments",
            "-n",
            "demo-project",
        ])
        .await;
    assert_eq!((yes.code, yes.stdout.trim()), (0, "yes"));
    let no = alice
        .run(&["auth", "can-i", "create", "deployments", "-n", "default"])
        .await;
    assert_eq!((no.code, no.stdout.trim()), (1, "no"));
    let list = bob.ok(&["auth", "can-i", "--list", "-n", "default"]).await;
    assert!(
        list.contains("pods") && list.contains("[get list watch]"),
        "{list}"
    );

    bob.ok(&["get", "pods", "-n", "demo-project"]).await;
    let refused = bob.run(&["delete", "namespace", "demo-project"]).await;
    assert_ne!(refused.code, 0);
    assert!(
        refused.stderr.contains(
            "Error from server (Forbidden): namespaces \"demo-project\" is forbidden: User \
             \"bob\" cannot delete resource \"namespaces\" in API group \"\" in the namespace \
             \"demo-project\""
        ),
        "{}",
        refused.stderr
    );
    let as_bob = admin
        .run(&[
            "auth", "can-i", "delete", "pods", "--as", "bob", "-n", "default",
        ])
        .await;
    assert_eq!(as_bob.stdout.trim(), "no");
    let escalate = alice
        .run(&[
            "create",
            "clusterrolebinding",
            "grab",
            "--clusterrole=cluster-admin",
            "--user=alice",
        ])
        .await;
    assert!(escalate.stderr.contains("forbidden"), "{}", escalate.stderr);
}
