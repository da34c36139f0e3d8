//! The audit history against the sandbox with Sluice's admission policies installed:
//! changes through the console and through kubectl are recorded with who made them (the
//! API server's stamp, not anything a client says) and through what, with the weights
//! before and after; Take Over and Job Offline are in it; the history stays after the job
//! is gone, survives the recorder's restart without a lost or repeated entry, and expires
//! after its retention.

use std::time::Duration;

use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;
use sluice_app::domain::audit::{Action, Entry, Via};
use sluice_app::domain::release::jobs::JobChange;
use sluice_app::domain::release::{ReleaseSpec, Side};
use sluice_app::ports::ReleasesPort;
use sluice_server::kube::audit::{self, ReleaseHistory};
use sluice_server::kube::connect::from_kubeconfig_file;
use sluice_server::kube::releases::ReleaseJob;

#[path = "support/bookinfo.rs"]
mod support;

use support::{NS, bookinfo, canary_spec, controller};

fn spec() -> ReleaseSpec {
    ReleaseSpec {
        // What a client claims is overwritten by the API server.
        creator: Some("mallory".into()),
        ..canary_spec()
    }
}

fn recorder(
    client: &kube::Client,
) -> (
    tokio::sync::watch::Sender<bool>,
    tokio::task::JoinHandle<()>,
) {
    let (tx, rx) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(audit::run(client.clone(), Duration::from_secs(3600), rx));
    (tx, task)
}

async fn entries_until(
    client: &kube::Client,
    what: &str,
    check: impl Fn(&[Entry]) -> bool,
) -> Vec<Entry> {
    let api: Api<ReleaseHistory> = Api::namespaced(client.clone(), NS);
    for _ in 0..150 {
        if let Ok(Some(h)) = api.get_opt("canary-release").await
            && check(&h.spec.entries)
        {
            return h.spec.entries;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let now = api.get_opt("canary-release").await.ok().flatten();
    panic!(
        "timed out waiting for {what}: {:#?}",
        now.map(|h| h.spec.entries)
    );
}

fn actions(entries: &[Entry]) -> Vec<(Action, Via, String)> {
    entries
        .iter()
        .filter(|e| e.action != Action::PhaseChanged)
        .map(|e| (e.action, e.via, e.who.clone()))
        .collect()
}

#[tokio::test]
async fn every_change_is_recorded_with_who_and_through_what_and_outlives_the_job() {
    let env = bookinfo().await;
    sluice_server::sandbox::install_admission_policies(&env.client)
        .await
        .unwrap();
    let (stop_controller, controller_task) = controller(&env.client);
    let (stop, task) = recorder(&env.client);
    let admin = "sluice-sandbox-admin";

    // Created through the console (acting as the admin here: no sign-in).
    env.cluster
        .create_job(NS, "canary-release", spec())
        .await
        .unwrap();
    let e = entries_until(&env.client, "created", |e| !e.is_empty()).await;
    assert_eq!(
        actions(&e),
        vec![(Action::Created, Via::Console, admin.to_string())]
    );
    assert_eq!((e[0].weight_before, e[0].weight_after), (Some(0), Some(50)));

    // The slider, through the console.
    let job = env.cluster.get_job(NS, "canary-release").await.unwrap();
    env.cluster
        .change_job(
            NS,
            "canary-release",
            job.generation,
            JobChange::NewPercent(70),
        )
        .await
        .unwrap();
    let e = entries_until(&env.client, "the slider", |e| {
        e.iter().any(|e| e.action == Action::WeightChanged)
    })
    .await;
    let moved = e
        .iter()
        .find(|e| e.action == Action::WeightChanged)
        .unwrap();
    assert_eq!(
        (moved.weight_before, moved.weight_after),
        (Some(50), Some(70))
    );
    assert_eq!((moved.via, moved.who.as_str()), (Via::Console, admin));

    // alice edits the job with kubectl (her own credentials): recorded as hers, through
    // kubectl, whatever annotation she might have sent.
    sluice_server::sandbox::install_demo_rbac(&env.client)
        .await
        .unwrap();
    let alice = from_kubeconfig_file(&env.sandbox.user_kubeconfig("alice").unwrap(), None, false)
        .await
        .client()
        .unwrap();
    Api::<ReleaseJob>::namespaced(alice, NS)
        .patch(
            "canary-release",
            &PatchParams::default(),
            &Patch::Merge(json!({
                "metadata": {"annotations": {"sluice.dev/changed-by": "bob"}},
                "spec": {"strategy": {"type": "trafficRatio", "newPercent": 20}}
            })),
        )
        .await
        .unwrap();
    let e = entries_until(&env.client, "alice's kubectl edit", |e| {
        e.iter()
            .filter(|e| e.action == Action::WeightChanged)
            .count()
            == 2
    })
    .await;
    let edit = e
        .iter()
        .rfind(|e| e.action == Action::WeightChanged)
        .unwrap();
    assert_eq!((edit.via, edit.who.as_str()), (Via::Kubectl, "alice"));
    assert_eq!(
        (edit.weight_before, edit.weight_after),
        (Some(70), Some(20))
    );

    // Restart the recorder: nothing is repeated or lost.
    stop.send_replace(true);
    task.await.unwrap();
    let before_restart = entries_until(&env.client, "the same", |_| true).await;
    let (stop, task) = recorder(&env.client);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        actions(&entries_until(&env.client, "the same", |_| true).await),
        actions(&before_restart)
    );

    // Take Over, then Job Offline: both recorded; the history stays after the job goes.
    let job = env.cluster.get_job(NS, "canary-release").await.unwrap();
    env.cluster
        .change_job(
            NS,
            "canary-release",
            job.generation,
            JobChange::TakeOver(Side::New),
        )
        .await
        .unwrap();
    entries_until(&env.client, "take over", |e| {
        e.iter().any(|e| e.action == Action::TakenOver)
    })
    .await;
    // Job Offline needs the controller to have seen the take-over.
    let mut offline = None;
    for _ in 0..100 {
        let job = env.cluster.get_job(NS, "canary-release").await.unwrap();
        match env
            .cluster
            .change_job(NS, "canary-release", job.generation, JobChange::Offline)
            .await
        {
            Ok(v) => {
                offline = Some(v);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    assert!(offline.is_some(), "Job Offline was accepted");
    let e = entries_until(&env.client, "the end of the job", |e| {
        e.iter().any(|e| e.action == Action::Deleted)
    })
    .await;
    let got: Vec<Action> = actions(&e).into_iter().map(|(a, _, _)| a).collect();
    assert_eq!(
        got,
        vec![
            Action::Created,
            Action::WeightChanged,
            Action::WeightChanged,
            Action::TakenOver,
            Action::Offline,
            Action::Deleted
        ]
    );
    let kept = env.cluster.history(NS, "canary-release").await.unwrap();
    assert!(kept.job_gone_at.is_some());
    assert_eq!(kept.entries, e);
    let finished = env.cluster.finished_jobs(NS).await.unwrap();
    assert_eq!(finished.len(), 1);
    assert_eq!(finished[0].name, "canary-release");

    // Phases the controller decided are in it too, as the controller's.
    assert!(
        e.iter()
            .any(|e| e.action == Action::PhaseChanged && e.via == Via::Controller)
    );

    stop.send_replace(true);
    task.await.unwrap();
    stop_controller.send_replace(true);
    let _ = controller_task.await;
}

#[tokio::test]
async fn a_job_created_with_kubectl_is_recorded_as_its_requester_and_old_histories_expire() {
    let env = bookinfo().await;
    sluice_server::sandbox::install_admission_policies(&env.client)
        .await
        .unwrap();
    sluice_server::sandbox::install_demo_rbac(&env.client)
        .await
        .unwrap();
    let (stop, task) = recorder(&env.client);
    let alice = from_kubeconfig_file(&env.sandbox.user_kubeconfig("alice").unwrap(), None, false)
        .await
        .client()
        .unwrap();
    let job = ReleaseJob::new(
        "canary-release",
        sluice_server::kube::releases::ReleaseJobSpec {
            release: spec(),
            offline_keep: None,
        },
    );
    let created = Api::<ReleaseJob>::namespaced(alice.clone(), NS)
        .create(&PostParams::default(), &job)
        .await
        .unwrap();
    // The API server wrote who she is over what she claimed.
    assert_eq!(created.spec.release.creator.as_deref(), Some("alice"));
    let e = entries_until(&env.client, "created", |e| !e.is_empty()).await;
    assert_eq!(
        actions(&e),
        vec![(Action::Created, Via::Kubectl, "alice".to_string())]
    );

    // Deleted with kubectl (no controller here: gone at once).
    Api::<ReleaseJob>::namespaced(alice, NS)
        .delete("canary-release", &Default::default())
        .await
        .unwrap();
    entries_until(&env.client, "deleted", |e| {
        e.iter().any(|e| e.action == Action::Deleted)
    })
    .await;
    stop.send_replace(true);
    task.await.unwrap();

    // Past its retention, the recorder removes the history.
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let task = tokio::spawn(audit::run(env.client.clone(), Duration::from_secs(1), rx));
    let api: Api<ReleaseHistory> = Api::namespaced(env.client.clone(), NS);
    let mut gone = false;
    for _ in 0..100 {
        if api.get_opt("canary-release").await.unwrap().is_none() {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(gone, "the expired history was removed");
    tx.send_replace(true);
    task.await.unwrap();
}
