//! Keeps the mesh simulator's view of the cluster current: on every change in the store
//! (debounced) it rebuilds the snapshot from the objects the data plane cares about, the
//! way istiod pushes config to the proxies. In-process on purpose: the mesh is the
//! sandbox's own data plane, not a client of it.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::watch;

use crate::mesh::{Mesh, MeshSnapshot};
use crate::resources::{keys, storage_key};
use crate::store::Store;

/// Coalesces bursts (a rollout changes many pods at once) into one rebuild.
const DEBOUNCE: Duration = Duration::from_millis(100);

/// The kinds the data plane reads.
fn watched_keys() -> Vec<String> {
    let mut k: Vec<String> = [
        keys::NAMESPACES,
        keys::SERVICES,
        keys::PODS,
        keys::DEPLOYMENTS,
    ]
    .into_iter()
    .map(str::to_string)
    .collect();
    for (plural, group) in [
        ("virtualservices", "networking.istio.io"),
        ("destinationrules", "networking.istio.io"),
        ("gateways", "networking.istio.io"),
        ("httproutes", "gateway.networking.k8s.io"),
        ("gateways", "gateway.networking.k8s.io"),
        ("telemetries", "telemetry.istio.io"),
    ] {
        k.push(storage_key(plural, group));
    }
    k
}

/// The current objects of the watched kinds, as the API would return them.
///
/// The sandbox injects sidecars for real (see [`crate::injection`]), so a pod's
/// `istio-proxy` container is the truth. The mesh otherwise infers injection from labels
/// (right for hand-built snapshots), which would give a sidecar to a pod created before
/// its namespace was labelled; such pods are marked as opted out here.
pub fn collect(store: &Store) -> Vec<Value> {
    watched_keys()
        .iter()
        .flat_map(|key| store.list(key, None).0)
        .map(|obj| {
            let mut obj = (*obj).clone();
            if obj["kind"] == "Pod"
                && !has_proxy(&obj)
                && let Some(meta) = obj["metadata"].as_object_mut()
            {
                let annotations = meta
                    .entry("annotations")
                    .or_insert_with(|| Value::Object(Default::default()));
                annotations["sidecar.istio.io/inject"] = Value::from("false");
            }
            obj
        })
        .collect()
}

fn has_proxy(pod: &Value) -> bool {
    pod["spec"]["containers"].as_array().is_some_and(|cs| {
        cs.iter()
            .any(|c| c["name"] == crate::injection::PROXY_CONTAINER)
    })
}

/// Feeds `mesh` until shutdown.
pub async fn run(store: Arc<Store>, mesh: Mesh, mut shutdown: watch::Receiver<bool>) {
    let mut changes = store.subscribe();
    loop {
        mesh.update(MeshSnapshot::from_objects(collect(&store)));
        tokio::select! {
            changed = changes.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
        tokio::time::sleep(DEBOUNCE).await;
        // Everything up to now is covered by the rebuild at the top of the loop.
        changes.borrow_and_update();
    }
}
