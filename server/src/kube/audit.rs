//! The audit history of release jobs, kept in the cluster as `ReleaseHistory` objects
//! (`releasehistories.sluice.dev`, one per job name, in the job's namespace). Kubernetes
//! Events expire after an hour and go with the job; a history outlives both: it survives
//! console restarts and leader changes (what was last recorded is in the object itself),
//! stays after Job Offline for `--audit-retention-hours`, and is read with the viewer's
//! own rights like everything else.
//!
//! The recorder runs in the leader console beside the release controller. It watches the
//! jobs and, for every observed change, appends what the pure `domain::audit::changes`
//! says: who (the API server's stamp from the admission policy, or the console's own for
//! its signed-in user), through what (console or kubectl/GitOps), the weights before and
//! after. Writes use the history's resourceVersion, so a restart mid-write neither loses
//! nor repeats an entry.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::runtime::watcher::{self, Event as WatchEvent};
use kube::{Client, CustomResource, CustomResourceExt, ResourceExt};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sluice_app::domain::audit::{self, DELETED_BY, Entry, Seen};
use tokio::sync::watch;

use super::releases::ReleaseJob;

/// The history of one release job (by name, across jobs of that name).
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "sluice.dev",
    version = "v1alpha1",
    kind = "ReleaseHistory",
    namespaced,
    shortname = "rh",
    category = "sluice",
    doc = "The audit history of a release job: every change, who made it and through what. Written by the console.",
    printcolumn(name = "Entries", type_ = "integer", json_path = ".spec.count"),
    printcolumn(name = "Ended", type_ = "string", json_path = ".spec.jobGoneAt")
)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseHistorySpec {
    /// The job's uid the entries are recorded for (a new job of the same name starts
    /// with "created").
    #[serde(default)]
    pub job_uid: String,
    #[serde(default)]
    pub entries: Vec<Entry>,
    #[serde(default)]
    pub count: u32,
    /// The job as last recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<Seen>,
    /// When the job went (RFC 3339); the history is removed after the retention.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_gone_at: Option<String>,
}

/// The CRD as YAML, as committed in deploy/crds/.
pub fn crd_yaml() -> String {
    let mut out = String::from(
        "# Generated from server/src/kube/audit.rs; do not edit by hand.\n\
         # Regenerate with: SLUICE_UPDATE_CRD=1 cargo test -p sluice-server history_crd_is_current\n",
    );
    let yaml = serde_yaml::to_string(&crd()).unwrap_or_default();
    out.push_str(&super::releases::quote_yaml11_booleans(&yaml));
    out
}

/// The revision of the ReleaseHistory CRD's schema: raise it with every change, so an
/// older console never downgrades it (`crd_install`).
pub const CRD_REVISION: u32 = 2;

/// The CRD, with its revision.
pub fn crd()
-> k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition {
    super::crd_install::with_revision(ReleaseHistory::crd(), CRD_REVISION)
}

/// Installs or updates the ReleaseHistory CRD (never over a newer one).
pub async fn ensure_crd(client: &Client) -> Result<(), kube::Error> {
    super::crd_install::install(client, crd()).await?;
    Ok(())
}

fn now() -> String {
    k8s_openapi::jiff::Timestamp::now().to_string()
}

fn seen_of(job: &ReleaseJob) -> Seen {
    Seen {
        generation: job.metadata.generation.unwrap_or(0),
        spec: job.spec.release.clone(),
        offline_keep: job.spec.offline_keep,
        phase: job
            .status
            .as_ref()
            .and_then(|s| s.phase)
            .map(|p| format!("{p:?}")),
    }
}

/// Reads the history, lets `update` change it, and writes it back with its
/// resourceVersion (retrying on a conflict); creates it when there is none.
async fn update_history(
    api: &Api<ReleaseHistory>,
    name: &str,
    update: impl Fn(&mut ReleaseHistorySpec) -> bool,
) -> Result<(), kube::Error> {
    for _ in 0..5 {
        let current = api.get_opt(name).await?;
        let mut spec = current
            .as_ref()
            .map(|h| h.spec.clone())
            .unwrap_or(ReleaseHistorySpec {
                job_uid: String::new(),
                entries: Vec::new(),
                count: 0,
                last_seen: None,
                job_gone_at: None,
            });
        if !update(&mut spec) {
            return Ok(());
        }
        spec.count = spec.entries.len() as u32;
        let result = match current {
            None => {
                let mut h = ReleaseHistory::new(name, spec);
                h.metadata.labels = Some(
                    [(
                        "app.kubernetes.io/managed-by".to_string(),
                        "sluice".to_string(),
                    )]
                    .into(),
                );
                api.create(&PostParams::default(), &h).await.map(|_| ())
            }
            Some(mut h) => {
                h.spec = spec;
                api.replace(name, &PostParams::default(), &h)
                    .await
                    .map(|_| ())
            }
        };
        match result {
            Err(kube::Error::Api(s)) if s.code == 409 => continue,
            other => return other,
        }
    }
    Ok(())
}

/// Records what changed in `job` since its history last saw it.
pub async fn record(client: &Client, job: &ReleaseJob) -> Result<(), kube::Error> {
    let ns = job.namespace().unwrap_or_default();
    let name = job.name_any();
    let api: Api<ReleaseHistory> = Api::namespaced(client.clone(), &ns);
    let uid = job.uid().unwrap_or_default();
    let now_seen = seen_of(job);
    let annotations: BTreeMap<String, String> = job.annotations().clone();
    let deleting = job.metadata.deletion_timestamp.is_some();
    update_history(&api, &name, |h| {
        let same_job = h.job_uid == uid;
        let before = if same_job { h.last_seen.as_ref() } else { None };
        if same_job && before == Some(&now_seen) && !(deleting && h.job_gone_at.is_none()) {
            return false;
        }
        let (who, via) = audit::attribution(&annotations, now_seen.generation);
        let who = match (before, &now_seen.spec.creator) {
            // Who created the job is what the API server recorded in the spec.
            (None, Some(creator)) => creator.clone(),
            _ => who,
        };
        let at = now();
        let mut entries = audit::changes(before, &now_seen, &who, via, &at);
        if deleting && h.job_gone_at.is_none() {
            entries.push(audit::deleted(
                &now_seen,
                annotations.get(DELETED_BY).map(String::as_str),
                &at,
            ));
            h.job_gone_at = Some(at.clone());
        } else if !deleting {
            h.job_gone_at = None;
        }
        if entries.is_empty() && same_job && h.last_seen.as_ref() == Some(&now_seen) {
            return false;
        }
        audit::append(&mut h.entries, entries);
        h.job_uid = uid.clone();
        h.last_seen = Some(now_seen.clone());
        true
    })
    .await
}

/// Records that a job is gone (if its deletion was not seen yet).
async fn record_gone(client: &Client, ns: &str, name: &str) -> Result<(), kube::Error> {
    let api: Api<ReleaseHistory> = Api::namespaced(client.clone(), ns);
    update_history(&api, name, |h| {
        if h.job_gone_at.is_some() {
            return false;
        }
        let Some(last) = h.last_seen.clone() else {
            return false;
        };
        let at = now();
        audit::append(&mut h.entries, vec![audit::deleted(&last, None, &at)]);
        h.job_gone_at = Some(at);
        true
    })
    .await
}

/// Removes histories whose job has been gone longer than `retention`.
async fn expire(client: &Client, retention: Duration) -> Result<usize, kube::Error> {
    let api: Api<ReleaseHistory> = Api::all(client.clone());
    let now = k8s_openapi::jiff::Timestamp::now();
    let mut removed = 0;
    for h in api.list(&ListParams::default()).await?.items {
        let Some(gone) = h
            .spec
            .job_gone_at
            .as_deref()
            .and_then(|t| t.parse::<k8s_openapi::jiff::Timestamp>().ok())
        else {
            continue;
        };
        if now.as_millisecond() - gone.as_millisecond() > retention.as_millis() as i64 {
            let ns = h.namespace().unwrap_or_default();
            Api::<ReleaseHistory>::namespaced(client.clone(), &ns)
                .delete(&h.name_any(), &DeleteParams::default())
                .await?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// A job's history as the page shows it; empty when nothing was recorded for it.
pub async fn read_history(
    client: &Client,
    namespace: &str,
    name: &str,
) -> Result<audit::JobHistory, kube::Error> {
    let api: Api<ReleaseHistory> = Api::namespaced(client.clone(), namespace);
    Ok(match api.get_opt(name).await? {
        Some(h) => audit::JobHistory {
            name: name.to_string(),
            entries: h.spec.entries,
            job_gone_at: h.spec.job_gone_at,
        },
        None => audit::JobHistory {
            name: name.to_string(),
            ..Default::default()
        },
    })
}

/// The project's ended jobs whose history is kept, most recently ended first.
pub async fn finished(
    client: &Client,
    namespace: &str,
) -> Result<Vec<audit::Finished>, kube::Error> {
    let api: Api<ReleaseHistory> = Api::namespaced(client.clone(), namespace);
    let mut out: Vec<audit::Finished> = api
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter_map(|h| {
            let gone = h.spec.job_gone_at.clone()?;
            Some(audit::Finished {
                name: h.name_any(),
                job_gone_at: gone,
                entries: h.spec.entries.len() as u32,
                last: h.spec.entries.last().cloned(),
            })
        })
        .collect();
    out.sort_by(|a, b| b.job_gone_at.cmp(&a.job_gone_at));
    Ok(out)
}

/// Resolves once `stop` turns true (holding no borrow of it, so the caller stays Send).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Runs the recorder until `stop` turns true (leadership lost or shutdown).
pub async fn run(client: Client, retention: Duration, mut stop: watch::Receiver<bool>) {
    if let Err(e) = ensure_crd(&client).await {
        tracing::error!(
            "cannot install the ReleaseHistory CRD ({e}); the audit history is not recorded \
             until it is applied: kubectl apply -f deploy/crds/releasehistories.sluice.dev.yaml"
        );
        return;
    }
    let jobs: Api<ReleaseJob> = Api::all(client.clone());
    let stream = watcher::watcher(jobs, watcher::Config::default());
    let mut stream = std::pin::pin!(stream);
    let mut patience = super::patience::Patience::default();
    let mut listed: Vec<(String, String)> = Vec::new();
    let mut expiry = tokio::time::interval(Duration::from_secs(600));
    // Jobs whose history could not be written (an API error): tried again shortly, from
    // the job as it is then, so nothing is lost.
    let mut pending: std::collections::BTreeSet<(String, String)> = Default::default();
    let mut retry = tokio::time::interval(Duration::from_secs(5));
    loop {
        let next = tokio::select! {
            _ = stopped(&mut stop) => return,
            _ = retry.tick(), if !pending.is_empty() => {
                for (ns, name) in std::mem::take(&mut pending) {
                    let jobs: Api<ReleaseJob> = Api::namespaced(client.clone(), &ns);
                    let result = match jobs.get_opt(&name).await {
                        Ok(Some(job)) => record(&client, &job).await,
                        Ok(None) => record_gone(&client, &ns, &name).await,
                        Err(e) => Err(e),
                    };
                    if let Err(e) = result {
                        tracing::warn!("audit history of {ns}/{name} still not written: {e}");
                        pending.insert((ns, name));
                    }
                }
                continue;
            }
            _ = expiry.tick() => {
                match expire(&client, retention).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!("removed {n} release histories past their retention"),
                    Err(e) => tracing::debug!("expiring release histories: {e}"),
                }
                continue;
            }
            next = stream.next() => next,
        };
        let key = match &next {
            Some(Ok(
                WatchEvent::Apply(job) | WatchEvent::InitApply(job) | WatchEvent::Delete(job),
            )) => Some((job.namespace().unwrap_or_default(), job.name_any())),
            _ => None,
        };
        if let Some(Ok(event)) = &next {
            patience.saw(event);
        }
        let result = match next {
            None => return,
            Some(Err(e)) => {
                tracing::debug!("audit: release job watch: {e}");
                if !patience.wait(&mut stop).await {
                    return;
                }
                continue;
            }
            Some(Ok(WatchEvent::Init)) => {
                listed.clear();
                Ok(())
            }
            Some(Ok(WatchEvent::InitApply(job))) => {
                listed.push((job.namespace().unwrap_or_default(), job.name_any()));
                record(&client, &job).await
            }
            // Jobs that went while no console recorded: their histories say so now.
            Some(Ok(WatchEvent::InitDone)) => {
                let histories: Api<ReleaseHistory> = Api::all(client.clone());
                match histories.list(&ListParams::default()).await {
                    Ok(list) => {
                        for h in list.items {
                            let key = (h.namespace().unwrap_or_default(), h.name_any());
                            if h.spec.job_gone_at.is_none() && !listed.contains(&key) {
                                let _ = record_gone(&client, &key.0, &key.1).await;
                            }
                        }
                        Ok(())
                    }
                    Err(e) => Err(e),
                }
            }
            Some(Ok(WatchEvent::Apply(job))) => record(&client, &job).await,
            Some(Ok(WatchEvent::Delete(job))) => {
                let ns = job.namespace().unwrap_or_default();
                // The last state first (a change just before the deletion), then the end.
                let _ = record(&client, &job).await;
                record_gone(&client, &ns, &job.name_any()).await
            }
        };
        if let Err(e) = result {
            tracing::warn!("audit history not written (tried again shortly): {e}");
            if let Some(key) = key {
                pending.insert(key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMMITTED: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../deploy/crds/releasehistories.sluice.dev.yaml"
    );

    #[test]
    fn history_crd_is_current() {
        let generated = crd_yaml();
        if std::env::var_os("SLUICE_UPDATE_CRD").is_some() {
            std::fs::write(COMMITTED, &generated).unwrap();
        }
        let committed = std::fs::read_to_string(COMMITTED).unwrap_or_default();
        assert!(
            committed == generated,
            "deploy/crds/releasehistories.sluice.dev.yaml is out of date: regenerate it with \
             SLUICE_UPDATE_CRD=1 cargo test -p sluice-server history_crd_is_current"
        );
    }
}
