//! Leader election on a `coordination.k8s.io/v1` Lease, as client-go's leaderelection does
//! it: any number of consoles serve pages, exactly one runs the release controller.
//!
//! A candidate takes the Lease when nobody holds it or when its holder has not renewed it
//! for a whole lease duration, then renews it every `retry` period. Expiry is judged by
//! this process's own clock from when it *observed* the record last change (client-go's
//! `observedTime`), never by comparing `renewTime` with the local clock, so clock skew
//! between nodes cannot make two leaders. Every write carries the resourceVersion read
//! just before, so two candidates racing for an expired Lease cannot both win: the loser
//! gets a 409 and looks again. A leader that cannot renew within `renew_deadline` stops
//! its work before the Lease can expire for the others, and gives the Lease up on a clean
//! shutdown so the next leader does not wait for the expiry.

use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{Api, ObjectMeta, PostParams};
use kube::{Client, ResourceExt};
use tokio::sync::watch;

/// The Lease the consoles compete for.
pub const LEASE_NAME: &str = "sluice-release-controller";

/// Where the Lease is and how it is held.
#[derive(Debug, Clone)]
pub struct LeaseConfig {
    pub namespace: String,
    pub name: String,
    /// Unique per process: `<hostname>-<random>` (two consoles on one host differ).
    pub identity: String,
    /// How long a holder's silence makes the Lease free (client-go default 15 s).
    pub lease_duration: Duration,
    /// A leader that has not renewed for this long stops leading (client-go: 10 s).
    pub renew_deadline: Duration,
    /// How often to renew, or to look again while someone else leads (client-go: 2 s).
    pub retry: Duration,
}

impl LeaseConfig {
    /// The timings client-go uses, scaled to `lease_duration`.
    pub fn new(namespace: &str, name: &str, identity: String, lease_duration: Duration) -> Self {
        LeaseConfig {
            namespace: namespace.into(),
            name: name.into(),
            identity,
            lease_duration,
            renew_deadline: lease_duration.mul_f64(2.0 / 3.0),
            retry: lease_duration / 7,
        }
    }
}

/// An identity for this process: the host name (the pod name in a cluster) and a random
/// suffix, so two consoles on one machine are two candidates.
pub fn default_identity() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_string())
        })
        .unwrap_or_else(|| "sluice".into());
    let mut bytes = [0u8; 4];
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes);
    let suffix: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{host}-{suffix}")
}

/// What a look at the Lease found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// We hold it (just took or renewed it).
    Leading,
    /// Someone else holds it and has renewed it recently.
    Following(String),
}

/// The pure decision: may a candidate take a Lease held by `holder`, last seen changing
/// `unchanged_for` ago?
pub fn may_take(
    holder: Option<&str>,
    me: &str,
    unchanged_for: Duration,
    duration: Duration,
) -> bool {
    match holder {
        None | Some("") => true,
        Some(h) if h == me => true,
        Some(_) => unchanged_for >= duration,
    }
}

/// One candidate's view of the Lease.
pub struct Elector {
    api: Api<Lease>,
    cfg: LeaseConfig,
    /// The record last seen (holder, renewTime, transitions) and when it was first seen so.
    observed: Option<(String, Instant)>,
}

fn now_micro() -> MicroTime {
    MicroTime(k8s_openapi::jiff::Timestamp::now())
}

fn record_key(l: &Lease) -> String {
    let s = l.spec.clone().unwrap_or_default();
    format!(
        "{}|{}|{}",
        s.holder_identity.unwrap_or_default(),
        s.renew_time.map(|t| t.0.to_string()).unwrap_or_default(),
        s.lease_transitions.unwrap_or(0)
    )
}

impl Elector {
    pub fn new(client: Client, cfg: LeaseConfig) -> Elector {
        Elector {
            api: Api::namespaced(client, &cfg.namespace),
            cfg,
            observed: None,
        }
    }

    pub fn identity(&self) -> &str {
        &self.cfg.identity
    }

    fn spec(&self, acquire: Option<MicroTime>, transitions: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(self.cfg.identity.clone()),
            lease_duration_seconds: Some(self.cfg.lease_duration.as_secs().max(1) as i32),
            acquire_time: acquire,
            renew_time: Some(now_micro()),
            lease_transitions: Some(transitions),
            ..LeaseSpec::default()
        }
    }

    /// Looks at the Lease once: takes or renews it when allowed.
    pub async fn try_acquire_or_renew(&mut self) -> Result<Outcome, kube::Error> {
        let Some(current) = self.api.get_opt(&self.cfg.name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.cfg.name.clone()),
                    labels: Some(
                        [(
                            "app.kubernetes.io/managed-by".to_string(),
                            "sluice".to_string(),
                        )]
                        .into(),
                    ),
                    ..ObjectMeta::default()
                },
                spec: Some(self.spec(Some(now_micro()), 0)),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(created) => {
                    self.observed = Some((record_key(&created), Instant::now()));
                    Ok(Outcome::Leading)
                }
                // Another candidate created it first.
                Err(kube::Error::Api(s)) if s.code == 409 => {
                    Ok(Outcome::Following("another console".into()))
                }
                Err(e) => Err(e),
            };
        };
        let key = record_key(&current);
        let unchanged_for = match &self.observed {
            Some((k, at)) if *k == key => at.elapsed(),
            _ => {
                self.observed = Some((key, Instant::now()));
                Duration::ZERO
            }
        };
        let spec = current.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.clone();
        let me = self.cfg.identity.clone();
        // The holder's own lease duration counts, if it says one.
        let duration = spec
            .lease_duration_seconds
            .filter(|s| *s > 0)
            .map(|s| Duration::from_secs(s as u64))
            .unwrap_or(self.cfg.lease_duration);
        if !may_take(holder.as_deref(), &me, unchanged_for, duration) {
            return Ok(Outcome::Following(holder.unwrap_or_default()));
        }
        let ours = holder.as_deref() == Some(me.as_str());
        let transitions = spec.lease_transitions.unwrap_or(0) + i32::from(!ours);
        let acquire = if ours {
            spec.acquire_time.clone()
        } else {
            Some(now_micro())
        };
        let mut next = current.clone();
        next.spec = Some(self.spec(acquire, transitions));
        next.metadata.resource_version = current.resource_version();
        match self
            .api
            .replace(&self.cfg.name, &PostParams::default(), &next)
            .await
        {
            Ok(written) => {
                self.observed = Some((record_key(&written), Instant::now()));
                if !ours {
                    tracing::info!(
                        lease = %self.cfg.name,
                        previous = holder.as_deref().unwrap_or("nobody"),
                        "took the leader lease as {me}"
                    );
                }
                Ok(Outcome::Leading)
            }
            // Someone wrote in between (renewed, or won the race): look again later.
            Err(kube::Error::Api(s)) if s.code == 409 => {
                Ok(Outcome::Following(holder.unwrap_or_default()))
            }
            Err(e) => Err(e),
        }
    }

    /// Gives the Lease up (a clean shutdown), so the next leader need not wait for expiry.
    pub async fn release(&mut self) {
        let current = match self.api.get_opt(&self.cfg.name).await {
            Ok(Some(current)) => current,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!("leader lease not released (it expires on its own): {e}");
                return;
            }
        };
        let spec = current.spec.clone().unwrap_or_default();
        if spec.holder_identity.as_deref() != Some(self.cfg.identity.as_str()) {
            tracing::debug!("the leader lease is no longer ours: nothing to give up");
            return;
        }
        let mut next = current.clone();
        next.spec = Some(LeaseSpec {
            holder_identity: None,
            lease_duration_seconds: Some(1),
            acquire_time: None,
            renew_time: Some(now_micro()),
            lease_transitions: spec.lease_transitions,
            ..LeaseSpec::default()
        });
        next.metadata.resource_version = current.resource_version();
        match self
            .api
            .replace(&self.cfg.name, &PostParams::default(), &next)
            .await
        {
            Ok(_) => tracing::info!(lease = %self.cfg.name, "gave up the leader lease"),
            Err(e) => tracing::warn!("leader lease not released (it expires on its own): {e}"),
        }
    }
}

/// Runs `work` while this process leads, until `shutdown` turns true. `work` gets a
/// receiver that turns true when leadership is lost (or on shutdown) and must return then;
/// it is started again on the next term.
pub async fn run_while_leading<W, Fut>(
    client: Client,
    cfg: LeaseConfig,
    mut shutdown: watch::Receiver<bool>,
    work: W,
) where
    W: Fn(watch::Receiver<bool>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let mut elector = Elector::new(client, cfg.clone());
    let stopping = |s: &watch::Receiver<bool>| *s.borrow();
    let mut reported_follower: Option<String> = None;
    while !stopping(&shutdown) {
        match elector.try_acquire_or_renew().await {
            Ok(Outcome::Leading) => {
                tracing::info!(identity = %cfg.identity, "leading: this console runs the release controller");
                reported_follower = None;
                let (lost_tx, lost_rx) = watch::channel(false);
                let task = tokio::spawn(work(lost_rx));
                let mut last_renew = Instant::now();
                let ended_by_shutdown = loop {
                    tokio::select! {
                        _ = shutdown.wait_for(|s| *s) => break true,
                        _ = tokio::time::sleep(cfg.retry) => {}
                    }
                    // A hung API server must not hold a renewal past the deadline.
                    let look = tokio::time::timeout(
                        cfg.renew_deadline / 2,
                        elector.try_acquire_or_renew(),
                    )
                    .await;
                    match look
                        .unwrap_or_else(|_| Err(kube::Error::Service("renewal timed out".into())))
                    {
                        Ok(Outcome::Leading) => last_renew = Instant::now(),
                        Ok(Outcome::Following(other)) => {
                            tracing::warn!("lost the leader lease to {other}");
                            break false;
                        }
                        Err(e) => tracing::warn!("cannot renew the leader lease: {e}"),
                    }
                    if last_renew.elapsed() >= cfg.renew_deadline {
                        tracing::warn!(
                            "could not renew the leader lease for {:?}: stopping the release \
                             controller so another console can take over",
                            cfg.renew_deadline
                        );
                        break false;
                    }
                };
                lost_tx.send_replace(true);
                tracing::debug!("stopping the release controller");
                // The work must stop before anyone else may lead (it has renew_deadline's
                // head start over the lease duration).
                if tokio::time::timeout(cfg.lease_duration, task)
                    .await
                    .is_err()
                {
                    tracing::warn!("the release controller did not stop within the lease duration");
                }
                if ended_by_shutdown {
                    elector.release().await;
                    return;
                }
            }
            Ok(Outcome::Following(holder)) => {
                if reported_follower.as_deref() != Some(holder.as_str()) {
                    tracing::info!(
                        leader = %holder,
                        "another console runs the release controller; this one serves pages and stands by"
                    );
                    reported_follower = Some(holder);
                }
            }
            Err(e) => tracing::warn!("cannot read the leader lease: {e}"),
        }
        tokio::select! {
            _ = shutdown.wait_for(|s| *s) => {}
            _ = tokio::time::sleep(cfg.retry) => {}
        }
    }
}

/// The namespace the console runs in (its service account's), for its Lease.
pub fn own_namespace() -> Option<String> {
    std::env::var("POD_NAMESPACE")
        .ok()
        .filter(|n| !n.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
                .ok()
                .map(|n| n.trim().to_string())
                .filter(|n| !n.is_empty())
        })
}

/// Who holds the Lease now (for tests and the status page).
pub async fn holder(client: &Client, namespace: &str, name: &str) -> Option<String> {
    let api: Api<Lease> = Api::namespaced(client.clone(), namespace);
    api.get_opt(name)
        .await
        .ok()
        .flatten()
        .and_then(|l| l.spec)
        .and_then(|s| s.holder_identity)
        .filter(|h| !h.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_free_or_own_lease_may_be_taken_a_live_one_only_after_its_duration() {
        let d = Duration::from_secs(15);
        assert!(may_take(None, "a", Duration::ZERO, d));
        assert!(may_take(Some(""), "a", Duration::ZERO, d));
        assert!(may_take(Some("a"), "a", Duration::ZERO, d));
        assert!(!may_take(Some("b"), "a", Duration::from_secs(14), d));
        assert!(may_take(Some("b"), "a", Duration::from_secs(15), d));
    }

    #[test]
    fn timings_follow_client_go_proportions() {
        let c = LeaseConfig::new("ns", "l", "me".into(), Duration::from_secs(15));
        assert_eq!(c.renew_deadline, Duration::from_secs(10));
        assert!(c.retry >= Duration::from_secs(2) && c.retry < Duration::from_secs(3));
    }

    #[test]
    fn identities_differ_per_process_start() {
        assert_ne!(default_identity(), default_identity());
    }
}
