//! Simulated controllers: what makes a Deployment turn into running pods.
//!
//! On a real cluster kube-controller-manager, the scheduler and the kubelets react to
//! objects in the API server; the console (and users' kubectl) observe the results. The
//! sandbox simulates them inside the process, acting through the [`Store`] with the same
//! write semantics as API clients (resourceVersions, status subresource, events), so every
//! step is visible over the API and in watches exactly as it would be on a cluster:
//!
//! - [`deployments`]: Deployment → ReplicaSets (rolling updates, scaling) and ReplicaSet →
//!   Pods, with their status and conditions;
//! - [`kubelet`]: scheduling onto the two simulated nodes, pod IPs, container states, Ready
//!   after `pod_ready_delay`, and the unpullable-image failure (ErrImagePull →
//!   ImagePullBackOff);
//! - [`endpoints`]: Endpoints of Services from ready pods;
//! - [`namespaces`]: emptying and removing Terminating namespaces;
//! - garbage collection of objects whose owners are gone (`Store::collect_orphans`).
//!
//! Design: one loop runs a *pass* of every controller over the whole state after each
//! change (debounced) and at a few-second resync, like level-triggered controllers. A pass
//! is idempotent and writes only differences, so passes converge. The sandbox holds
//! hundreds of objects, so a full pass costs little and avoids per-object work queues.
//! Passes run on a blocking thread because store writes wait for fsync.

pub mod deployments;
pub mod endpoints;
pub mod events;
pub mod kubelet;
pub mod namespaces;

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use tokio::sync::watch;

use crate::{resources::Registry, store::Store};

/// Tunables.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Time from a pod being scheduled to its containers running (or failing to pull).
    pub pod_ready_delay: Duration,
}

/// What the controllers share.
pub struct Ctx {
    pub store: Arc<Store>,
    pub registry: Arc<Registry>,
    pub settings: Settings,
}

/// State the controllers keep between passes (in memory only: after a restart the
/// simulation simply resumes from what the objects say).
#[derive(Default)]
pub struct Memory {
    pub kubelet: kubelet::Memory,
    pub namespaces: namespaces::Memory,
}

/// Periodic pass even without changes (time-based transitions, deadlines).
const RESYNC: Duration = Duration::from_secs(5);
/// Changes usually come in bursts (kubectl apply of a file); wait this long after the first
/// before running a pass.
const DEBOUNCE: Duration = Duration::from_millis(20);

/// Runs the controllers until `shutdown` becomes true.
pub async fn run(
    store: Arc<Store>,
    registry: Arc<Registry>,
    settings: Settings,
    mut shutdown: watch::Receiver<bool>,
) {
    let ctx = Arc::new(Ctx {
        store,
        registry,
        settings,
    });
    let mut notify = ctx.store.subscribe();
    let mut memory = Memory::default();
    loop {
        if *shutdown.borrow() {
            return;
        }
        let task_ctx = Arc::clone(&ctx);
        let result = tokio::task::spawn_blocking(move || {
            let next = pass(&task_ctx, &mut memory);
            (memory, next)
        })
        .await;
        let next = match result {
            Ok((m, next)) => {
                memory = m;
                next
            }
            Err(err) => {
                // A panicking pass is a bug; keep the sandbox serving and try again later.
                tracing::error!("sandbox controllers: pass failed: {err}");
                memory = Memory::default();
                None
            }
        };
        let wait = next
            .map(|at| at.saturating_duration_since(Instant::now()))
            .unwrap_or(RESYNC)
            .min(RESYNC);
        tokio::select! {
            changed = notify.changed() => {
                if changed.is_err() {
                    return;
                }
                tokio::time::sleep(DEBOUNCE).await;
            }
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// One pass of every controller. Returns when the next time-based step is due.
fn pass(ctx: &Ctx, memory: &mut Memory) -> Option<Instant> {
    let mut next: Option<Instant> = None;
    let mut due = |at: Option<Instant>| {
        if let Some(at) = at {
            next = Some(next.map_or(at, |n| n.min(at)));
        }
    };
    due(log_err(
        "namespaces",
        namespaces::reconcile(ctx, &mut memory.namespaces),
    ));
    if let Err(err) = ctx.store.collect_orphans() {
        tracing::warn!("sandbox garbage collector: {err}");
    }
    log_err(
        "deployments",
        deployments::reconcile_deployments(ctx).map(|_| None),
    );
    log_err(
        "replicasets",
        deployments::reconcile_replicasets(ctx).map(|_| None),
    );
    due(log_err(
        "kubelet",
        kubelet::reconcile(ctx, &mut memory.kubelet),
    ));
    log_err("endpoints", endpoints::reconcile(ctx).map(|_| None));
    next
}

fn log_err(what: &str, result: crate::error::Result<Option<Instant>>) -> Option<Instant> {
    match result {
        Ok(next) => next,
        Err(err) => {
            // Conflicts and races with API clients are normal; the next pass retries.
            tracing::debug!("sandbox {what} controller: {err}");
            None
        }
    }
}
