//! Leader election between real `sluice` processes on one sandbox: both serve pages, only
//! the Lease holder reconciles, and when the leader is killed (-9, no goodbye) in the
//! middle of a release the other console takes the Lease once it expires and finishes the
//! job, leaving nothing orphaned.

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Event;
use kube::api::{Api, ListParams, PostParams};
use sluice_server::kube::leader::{self, LEASE_NAME};
use sluice_server::kube::releases::{Phase, ReleaseJob};

#[path = "support/bookinfo.rs"]
mod support;

use support::{NS, bookinfo_with_ready_delay, canary_job, canary_spec};

const LEASE_SECONDS: u64 = 3;

struct Console {
    name: &'static str,
    child: Child,
    port: u16,
}

impl Drop for Console {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `sluice` process on the sandbox's kubeconfig; HOSTNAME names it in events and in
/// its Lease identity, as a pod's name does in a cluster.
fn console(name: &'static str, kubeconfig: &std::path::Path, dir: &std::path::Path) -> Console {
    let port = free_port();
    let data = dir.join(name);
    std::fs::create_dir_all(&data).unwrap();
    let log = std::fs::File::create(dir.join(format!("{name}.log"))).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["--addr", &format!("127.0.0.1:{port}")])
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .arg("--data-dir")
        .arg(&data)
        .arg("--site-root")
        .arg(&data)
        .args(["--prometheus-url", "http://127.0.0.1:9"])
        .args(["--leader-lease-seconds", &LEASE_SECONDS.to_string()])
        .env("HOSTNAME", name)
        .env("RUST_LOG", "info,sluice_server::kube::leader=debug")
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    Console { name, child, port }
}

async fn wait_healthy(c: &Console) {
    let url = format!("http://127.0.0.1:{}/healthz", c.port);
    for _ in 0..200 {
        if reqwest::get(&url)
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{} did not start", c.name);
}

async fn until<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Some(v) = check().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out after {limit:?} waiting for {what}");
}

/// Which console (by HOSTNAME) holds the Lease.
async fn leader_name(client: &kube::Client) -> Option<String> {
    let holder = leader::holder(client, "default", LEASE_NAME).await?;
    ["console-a", "console-b"]
        .into_iter()
        .find(|n| holder.starts_with(&format!("{n}-")))
        .map(str::to_string)
}

/// The consoles that reported events about the job.
async fn reporters(client: &kube::Client, job: &str) -> Vec<String> {
    let events: Api<Event> = Api::namespaced(client.clone(), NS);
    let mut names: Vec<String> = events
        .list(&ListParams::default().fields(&format!("involvedObject.name={job}")))
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|e| e.reporting_instance)
        .collect();
    names.sort();
    names.dedup();
    names
}

// Several threads: the sandbox serves from this process while the test waits on children.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_console_reconciles_and_another_takes_over_when_it_dies() {
    // Pods take a while to become ready, so the release is still in progress when the
    // leader dies.
    let env = bookinfo_with_ready_delay(Duration::from_secs(4)).await;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = env.sandbox.kubeconfig_path().to_path_buf();
    let a = console("console-a", &kubeconfig, dir.path());
    wait_healthy(&a).await;
    let first = until("a leader", Duration::from_secs(20), || {
        leader_name(&env.client)
    })
    .await;
    assert_eq!(first, "console-a", "the only console leads");
    let mut b = Some(console("console-b", &kubeconfig, dir.path()));
    wait_healthy(b.as_ref().unwrap()).await;
    // Both serve pages; the Lease stays with the first.
    tokio::time::sleep(Duration::from_secs(LEASE_SECONDS)).await;
    assert_eq!(leader_name(&env.client).await.as_deref(), Some("console-a"));

    let jobs: Api<ReleaseJob> = Api::namespaced(env.client.clone(), NS);
    jobs.create(
        &PostParams::default(),
        &canary_job("canary-release", canary_spec()),
    )
    .await
    .unwrap();
    let deployments: Api<Deployment> = Api::namespaced(env.client.clone(), NS);
    until(
        "the leader to create reviews-v2",
        Duration::from_secs(20),
        || async { deployments.get_opt("reviews-v2").await.ok().flatten() },
    )
    .await;
    let phase = jobs
        .get("canary-release")
        .await
        .unwrap()
        .status
        .and_then(|s| s.phase);
    assert_ne!(phase, Some(Phase::Live), "the release is still in progress");
    // The controller writes the status first and reports the event after it: wait for it.
    let acted = until(
        "the leader's first event",
        Duration::from_secs(10),
        || async { Some(reporters(&env.client, "canary-release").await).filter(|r| !r.is_empty()) },
    )
    .await;
    assert_eq!(
        acted,
        vec!["console-a".to_string()],
        "only the leader acts on the job"
    );

    // kill -9: no lease release, no goodbye.
    let mut a = a;
    a.child.kill().unwrap();
    let _ = tokio::task::spawn_blocking(move || a.child.wait()).await;
    let killed = Instant::now();
    let next = until(
        "console-b to take the Lease",
        Duration::from_secs(LEASE_SECONDS * 4),
        || async { leader_name(&env.client).await.filter(|n| n == "console-b") },
    )
    .await;
    assert_eq!(next, "console-b");
    let took = killed.elapsed();
    eprintln!(
        "console-b took the Lease {took:?} after console-a was killed (lease {LEASE_SECONDS} s)"
    );
    // Within the lease duration plus a renew period or two (no tight timing: shared CI).
    assert!(
        took < Duration::from_secs(LEASE_SECONDS * 4),
        "took the lease after {took:?}"
    );

    // console-b finishes the job.
    until(
        "the job to go live under console-b",
        Duration::from_secs(30),
        || async {
            let j = jobs.get_opt("canary-release").await.ok().flatten()?;
            let s = j.status?;
            (s.phase == Some(Phase::Live)
                && s.versions.iter().map(|v| v.weight).collect::<Vec<_>>() == vec![50, 50])
            .then_some(())
        },
    )
    .await;
    // The event follows the status write that made the job Live: poll for it.
    until(
        "the new leader to record its work",
        Duration::from_secs(10),
        || async {
            reporters(&env.client, "canary-release")
                .await
                .contains(&"console-b".to_string())
                .then_some(())
        },
    )
    .await;
    // Nothing orphaned or doubled: one new Deployment, owned by the job's label.
    let names: Vec<String> = deployments
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|d| d.metadata.name)
        .filter(|n| n.starts_with("reviews-"))
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names.contains(&"reviews-v1".to_string()) && names.contains(&"reviews-v2".to_string()));

    // A clean stop gives the Lease up at once: nobody holds it afterwards.
    let mut b = b.take().unwrap();
    let pid = b.child.id();
    Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    let _ = tokio::task::spawn_blocking(move || b.child.wait()).await;
    let log = std::fs::read_to_string(dir.path().join("console-b.log")).unwrap_or_default();
    assert_eq!(
        leader::holder(&env.client, "default", LEASE_NAME).await,
        None,
        "console-b's log:\n{log}"
    );
}

/// During a rolling upgrade the old console may lead for a moment: it must not take back
/// the schema the new one installed.
#[tokio::test]
async fn a_console_never_downgrades_a_newer_crd() {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    use sluice_server::kube::crd_install::{self, Installed};
    let env = support::bookinfo().await;
    let crds: Api<CustomResourceDefinition> = Api::all(env.client.clone());
    let name = "releasejobs.sluice.dev";
    // Installed once (by the set-up), installing again writes nothing: the API server's
    // defaults in the stored CRD do not count as a difference.
    assert_eq!(
        crd_install::install(&env.client, sluice_server::kube::releases::crd())
            .await
            .unwrap(),
        Installed::Current
    );
    let mut newer = crd_install::with_revision(
        sluice_server::kube::releases::crd(),
        sluice_server::kube::releases::CRD_REVISION + 1,
    );
    newer.metadata.resource_version = crds.get(name).await.unwrap().metadata.resource_version;
    crds.replace(name, &PostParams::default(), &newer)
        .await
        .unwrap();
    let outcome = crd_install::install(&env.client, sluice_server::kube::releases::crd())
        .await
        .unwrap();
    assert!(
        matches!(outcome, Installed::LeftNewer(ref why) if why.contains("newer than this console's")),
        "{outcome:?}"
    );
    let now = crds.get(name).await.unwrap();
    assert_eq!(
        now.metadata.annotations.unwrap()[crd_install::REVISION_ANNOTATION],
        (sluice_server::kube::releases::CRD_REVISION + 1).to_string()
    );
    // An older one is brought up to date.
    let older = crd_install::with_revision(sluice_server::kube::releases::crd(), 1);
    let mut older = older;
    older.metadata.resource_version = crds.get(name).await.unwrap().metadata.resource_version;
    crds.replace(name, &PostParams::default(), &older)
        .await
        .unwrap();
    assert_eq!(
        crd_install::install(&env.client, sluice_server::kube::releases::crd())
            .await
            .unwrap(),
        Installed::Updated
    );
}
