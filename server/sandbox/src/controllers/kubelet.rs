//! The scheduler and the kubelets of the two simulated nodes.
//!
//! A pod is bound to the node with fewer pods, gets an IP from that node's pod CIDR
//! (`10.244.<node>.0/24`) and goes through the states a user sees on a cluster:
//! `ContainerCreating` while "pulling", then Running and Ready after `pod_ready_delay`, with
//! `containerStatuses` (image, imageID, containerID, state, ready, started, restartCount) and
//! the PodScheduled/PodReadyToStartContainers/Initialized/ContainersReady/Ready conditions,
//! and the events kubelet records (Scheduled, Pulling, Pulled, Created, Started).
//!
//! The unpullable-image rule: an image whose tag is `does-not-exist`, or whose registry host
//! ends in `.invalid` (the TLD reserved for names that can never resolve), fails to pull.
//! Its pod stays Pending with the container waiting in `ErrImagePull`, then
//! `ImagePullBackOff`, with `Failed` and `BackOff` events — what a typo in an image tag does
//! on a real cluster. Containers do not actually run: there are no logs, probes or restarts.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
    time::Instant,
};

use serde_json::{Value, json};

use super::{
    Ctx,
    events::{self, EventType, Source},
};
use crate::{
    error::Result,
    object::{self, time},
    resources::keys,
    store::ops::Subresource,
};

/// The simulated nodes: name, internal IP, pod CIDR third octet.
pub const NODES: [(&str, &str, u8); 2] = [
    ("sandbox-node-1", "172.18.0.2", 1),
    ("sandbox-node-2", "172.18.0.3", 2),
];
/// Pods per node (kubelet's default `maxPods`).
const MAX_PODS: usize = 110;

/// Per-pod timing, in memory (after a restart, pods in progress restart their clock).
#[derive(Default)]
pub struct Memory {
    started: HashMap<String, Instant>,
    backoff_at: HashMap<String, Instant>,
}

/// The Node objects.
pub fn node_objects() -> Vec<Value> {
    let now = time::now();
    NODES
        .iter()
        .map(|(name, ip, octet)| {
            json!({
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {
                    "name": name,
                    "labels": {
                        "kubernetes.io/hostname": name,
                        "kubernetes.io/os": "linux",
                        "kubernetes.io/arch": "amd64",
                        "beta.kubernetes.io/os": "linux",
                        "beta.kubernetes.io/arch": "amd64",
                        "sluice.dev/simulated": "true",
                    },
                },
                "spec": {
                    "podCIDR": format!("10.244.{octet}.0/24"),
                    "podCIDRs": [format!("10.244.{octet}.0/24")],
                },
                "status": {
                    "conditions": [
                        {"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory",
                         "message": "kubelet has sufficient memory available",
                         "lastHeartbeatTime": now, "lastTransitionTime": now},
                        {"type": "DiskPressure", "status": "False", "reason": "KubeletHasNoDiskPressure",
                         "message": "kubelet has no disk pressure",
                         "lastHeartbeatTime": now, "lastTransitionTime": now},
                        {"type": "PIDPressure", "status": "False", "reason": "KubeletHasSufficientPID",
                         "message": "kubelet has sufficient PID available",
                         "lastHeartbeatTime": now, "lastTransitionTime": now},
                        {"type": "Ready", "status": "True", "reason": "KubeletReady",
                         "message": "kubelet is posting ready status (simulated by the Sluice sandbox)",
                         "lastHeartbeatTime": now, "lastTransitionTime": now},
                    ],
                    "addresses": [
                        {"type": "InternalIP", "address": ip},
                        {"type": "Hostname", "address": name},
                    ],
                    "capacity": {"cpu": "4", "memory": "8Gi", "pods": MAX_PODS.to_string(),
                                 "ephemeral-storage": "100Gi"},
                    "allocatable": {"cpu": "4", "memory": "8Gi", "pods": MAX_PODS.to_string(),
                                    "ephemeral-storage": "100Gi"},
                    "nodeInfo": {
                        "kubeletVersion": "v1.32.0",
                        "kubeProxyVersion": "v1.32.0",
                        "containerRuntimeVersion": "containerd://1.7.24",
                        "osImage": "Sluice sandbox (simulated node)",
                        "kernelVersion": "6.1.0",
                        "operatingSystem": "linux",
                        "architecture": "amd64",
                        "machineID": "",
                        "systemUUID": "",
                        "bootID": "",
                    },
                },
            })
        })
        .collect()
}

/// An image reference, split the way container runtimes read it.
#[derive(Debug, PartialEq, Eq)]
pub struct ImageRef {
    /// `docker.io` when the reference names none.
    pub registry: String,
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl ImageRef {
    pub fn parse(image: &str) -> ImageRef {
        let (rest, digest) = match image.split_once('@') {
            Some((r, d)) => (r, Some(d.to_string())),
            None => (image, None),
        };
        let (registry, path) = match rest.split_once('/') {
            Some((first, path))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_string(), path.to_string())
            }
            _ => ("docker.io".to_string(), rest.to_string()),
        };
        let last_slash = path.rfind('/').map_or(0, |i| i + 1);
        let (repository, tag) = match path[last_slash..].rfind(':') {
            Some(i) => (
                path[..last_slash + i].to_string(),
                Some(path[last_slash + i + 1..].to_string()),
            ),
            None => (path.clone(), None),
        };
        let repository = if registry == "docker.io" && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository
        };
        ImageRef {
            registry,
            repository,
            tag,
            digest,
        }
    }

    /// The fully qualified name a runtime reports (`docker.io/istio/x:1.20.3`).
    pub fn full(&self) -> String {
        let mut s = format!("{}/{}", self.registry, self.repository);
        if let Some(tag) = &self.tag {
            s.push(':');
            s.push_str(tag);
        } else if self.digest.is_none() {
            s.push_str(":latest");
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(d);
        }
        s
    }

    /// The sandbox's rule for images that cannot be pulled (see the module docs).
    pub fn pullable(&self) -> bool {
        let host = self.registry.split(':').next().unwrap_or("");
        !(self.tag.as_deref() == Some("does-not-exist") || host.ends_with(".invalid"))
    }
}

/// 64 hex characters derived from `seed` (stable fake digests and container IDs).
fn hex64(seed: &str) -> String {
    (0..4u8)
        .map(|i| format!("{:016x}", object::fnv1a(format!("{i}:{seed}").as_bytes())))
        .collect()
}

fn kubelet(node: &str) -> Source<'_> {
    Source {
        component: "kubelet",
        host: Some(node),
    }
}

fn containers(pod: &Value) -> Vec<(String, String)> {
    pod.pointer("/spec/containers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|c| {
            (
                c.get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                c.get("image")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
            )
        })
        .collect()
}

fn cond(
    type_: &str,
    status: bool,
    reason: Option<&str>,
    message: Option<&str>,
    now: &str,
) -> Value {
    let mut c = json!({
        "type": type_,
        "status": if status { "True" } else { "False" },
        "lastProbeTime": null,
        "lastTransitionTime": now,
    });
    if let Some(r) = reason {
        c["reason"] = json!(r);
    }
    if let Some(m) = message {
        c["message"] = json!(m);
    }
    c
}

/// Runs the scheduler and kubelets over all pods. Returns the next time a pod is due.
pub fn reconcile(ctx: &Ctx, memory: &mut Memory) -> Result<Option<Instant>> {
    let (pods, _) = ctx.store.list(keys::PODS, None);
    let alive: HashSet<&str> = pods.iter().map(|p| object::uid(p)).collect();
    memory.started.retain(|uid, _| alive.contains(uid.as_str()));
    memory
        .backoff_at
        .retain(|uid, _| alive.contains(uid.as_str()));
    let mut next: Option<Instant> = None;
    let mut due = |at: Instant| next = Some(next.map_or(at, |n: Instant| n.min(at)));
    let mut used_ips: HashSet<String> = pods
        .iter()
        .map(|p| object::str_at(p, &["status", "podIP"]).to_string())
        .filter(|ip| !ip.is_empty())
        .collect();
    let mut per_node: HashMap<String, usize> = HashMap::new();
    for p in &pods {
        *per_node
            .entry(object::str_at(p, &["spec", "nodeName"]).to_string())
            .or_default() += 1;
    }
    for pod in &pods {
        if object::is_terminating(pod) {
            continue;
        }
        // Not yet bound, or bound by its author (`spec.nodeName` in the manifest) but not yet
        // started by a kubelet.
        let result = if object::str_at(pod, &["spec", "nodeName"]).is_empty()
            || object::str_at(pod, &["status", "podIP"]).is_empty()
        {
            schedule(ctx, memory, pod, &mut used_ips, &mut per_node)
        } else {
            advance(ctx, memory, pod, &mut due)
        };
        if let Err(err) = result {
            tracing::debug!(
                "kubelet: pod {}/{}: {err}",
                object::namespace(pod),
                object::name(pod)
            );
        }
    }
    Ok(next)
}

/// Binds a pod to a node and starts "pulling" its images.
fn schedule(
    ctx: &Ctx,
    memory: &mut Memory,
    pod: &Arc<Value>,
    used_ips: &mut HashSet<String>,
    per_node: &mut HashMap<String, usize>,
) -> Result<()> {
    let ns = object::namespace(pod);
    let name = object::name(pod);
    let pod_def = ctx.registry.builtin(keys::PODS);
    let preset = object::str_at(pod, &["spec", "nodeName"]);
    let choice = if preset.is_empty() {
        NODES
            .iter()
            .filter(|(n, _, _)| per_node.get(*n).copied().unwrap_or(0) < MAX_PODS)
            .min_by_key(|(n, _, _)| per_node.get(*n).copied().unwrap_or(0))
            .copied()
    } else {
        NODES.iter().find(|(n, _, _)| *n == preset).copied()
    };
    let Some((node, host_ip, octet)) = choice else {
        if !preset.is_empty() {
            // Bound to a node the sandbox does not have: it would stay Pending on a cluster.
            return Ok(());
        }
        return events::record(
            ctx,
            pod,
            EventType::Warning,
            "FailedScheduling",
            &format!(
                "0/{} nodes are available: {} Too many pods.",
                NODES.len(),
                NODES.len()
            ),
            Source {
                component: "default-scheduler",
                host: None,
            },
        );
    };
    let Some(ip) = (2..=254u8)
        .map(|x| format!("10.244.{octet}.{x}"))
        .find(|ip| !used_ips.contains(ip))
    else {
        return Ok(());
    };
    used_ips.insert(ip.clone());
    *per_node.entry(node.to_string()).or_default() += 1;

    let bound = ctx
        .store
        .update_with(&pod_def, ns, name, Subresource::Main, false, |cur| {
            let mut next = cur.clone();
            next["spec"]["nodeName"] = json!(node);
            Ok(next)
        })?;
    if preset.is_empty() {
        events::record(
            ctx,
            &bound,
            EventType::Normal,
            "Scheduled",
            &format!("Successfully assigned {ns}/{name} to {node}"),
            Source {
                component: "default-scheduler",
                host: None,
            },
        )?;
    }
    let now = time::now();
    let cs = containers(pod);
    let names: Vec<&str> = cs.iter().map(|(n, _)| n.as_str()).collect();
    let unready = format!("containers with unready status: [{}]", names.join(" "));
    let statuses: Vec<Value> = cs
        .iter()
        .map(|(cname, image)| {
            json!({
                "name": cname,
                "image": ImageRef::parse(image).full(),
                "imageID": "",
                "ready": false,
                "restartCount": 0,
                "started": false,
                "state": {"waiting": {"reason": "ContainerCreating"}},
                "lastState": {},
            })
        })
        .collect();
    let status = json!({
        "phase": "Pending",
        "qosClass": "BestEffort",
        "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}],
        "podIP": ip,
        "podIPs": [{"ip": ip}],
        "startTime": now,
        "conditions": [
            cond("PodReadyToStartContainers", true, None, None, &now),
            cond("Initialized", true, None, None, &now),
            cond("Ready", false, Some("ContainersNotReady"), Some(&unready), &now),
            cond("ContainersReady", false, Some("ContainersNotReady"), Some(&unready), &now),
            cond("PodScheduled", true, None, None, &now),
        ],
        "containerStatuses": statuses,
    });
    let started = ctx
        .store
        .update_with(&pod_def, ns, name, Subresource::Status, false, |cur| {
            let mut next = cur.clone();
            next["status"] = status;
            Ok(next)
        })?;
    memory
        .started
        .insert(object::uid(pod).to_string(), Instant::now());
    for (_, image) in &cs {
        events::record(
            ctx,
            &started,
            EventType::Normal,
            "Pulling",
            &format!("Pulling image \"{image}\""),
            kubelet(node),
        )?;
    }
    Ok(())
}

/// Moves a scheduled pod along once its delay has passed.
fn advance(
    ctx: &Ctx,
    memory: &mut Memory,
    pod: &Arc<Value>,
    due: &mut impl FnMut(Instant),
) -> Result<()> {
    if object::str_at(pod, &["status", "phase"]) != "Pending" {
        return Ok(());
    }
    let uid = object::uid(pod).to_string();
    let delay = ctx.settings.pod_ready_delay;
    let started = *memory
        .started
        .entry(uid.clone())
        .or_insert_with(Instant::now);
    let now_i = Instant::now();
    if now_i < started + delay {
        due(started + delay);
        return Ok(());
    }
    let node = object::str_at(pod, &["spec", "nodeName"]).to_string();
    let cs = containers(pod);
    let statuses = pod
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let waiting_reason = |cname: &str| -> String {
        statuses
            .iter()
            .find(|s| s["name"] == cname)
            .and_then(|s| s.pointer("/state/waiting/reason"))
            .and_then(Value::as_str)
            .unwrap_or("ContainerCreating")
            .to_string()
    };
    let now = time::now();
    let mut new_statuses = Vec::new();
    let mut all_running = true;
    let mut pending_events: Vec<(EventType, &str, String)> = Vec::new();
    let backoff_due = memory.backoff_at.get(&uid).copied();
    let mut set_backoff = None;
    for (cname, image) in &cs {
        let image_ref = ImageRef::parse(image);
        let full = image_ref.full();
        if !image_ref.pullable() {
            all_running = false;
            let reason = waiting_reason(cname);
            let pull_error = format!(
                "failed to pull and unpack image \"{full}\": failed to resolve reference \"{full}\": {}",
                if image_ref.tag.as_deref() == Some("does-not-exist") {
                    format!("{full}: not found")
                } else {
                    format!(
                        "failed to do request: dial tcp: lookup {}: no such host",
                        image_ref.registry
                    )
                }
            );
            let next_reason = match reason.as_str() {
                "ErrImagePull" if backoff_due.is_some_and(|t| now_i >= t) => {
                    pending_events.push((
                        EventType::Normal,
                        "BackOff",
                        format!("Back-off pulling image \"{image}\""),
                    ));
                    pending_events.push((
                        EventType::Warning,
                        "Failed",
                        "Error: ImagePullBackOff".to_string(),
                    ));
                    "ImagePullBackOff"
                }
                "ErrImagePull" => {
                    if let Some(t) = backoff_due {
                        due(t);
                    } else {
                        set_backoff = Some(now_i + delay);
                    }
                    "ErrImagePull"
                }
                "ImagePullBackOff" => "ImagePullBackOff",
                _ => {
                    pending_events.push((
                        EventType::Warning,
                        "Failed",
                        format!("Failed to pull image \"{image}\": {pull_error}"),
                    ));
                    pending_events.push((
                        EventType::Warning,
                        "Failed",
                        "Error: ErrImagePull".to_string(),
                    ));
                    set_backoff = Some(now_i + delay);
                    "ErrImagePull"
                }
            };
            let message = if next_reason == "ImagePullBackOff" {
                format!("Back-off pulling image \"{image}\": ErrImagePull: {pull_error}")
            } else {
                pull_error.clone()
            };
            new_statuses.push(json!({
                "name": cname,
                "image": full,
                "imageID": "",
                "ready": false,
                "restartCount": 0,
                "started": false,
                "state": {"waiting": {"reason": next_reason, "message": message}},
                "lastState": {},
            }));
        } else if let Some(running) = statuses
            .iter()
            .find(|s| s["name"] == cname.as_str() && s.pointer("/state/running").is_some())
        {
            // Already started on an earlier pass (its sibling is still failing).
            new_statuses.push(running.clone());
        } else {
            let digest = format!("sha256:{}", hex64(&full));
            let image_id = format!("{}/{}@{digest}", image_ref.registry, image_ref.repository);
            pending_events.push((
                EventType::Normal,
                "Pulled",
                format!(
                    "Successfully pulled image \"{image}\" in {:.3}s ({:.3}s including waiting). Image size: {} bytes.",
                    delay.as_secs_f64(),
                    delay.as_secs_f64(),
                    20_000_000 + object::fnv1a(full.as_bytes()) % 100_000_000
                ),
            ));
            pending_events.push((
                EventType::Normal,
                "Created",
                format!("Created container: {cname}"),
            ));
            pending_events.push((
                EventType::Normal,
                "Started",
                format!("Started container {cname}"),
            ));
            new_statuses.push(json!({
                "name": cname,
                "image": full,
                "imageID": image_id,
                "containerID": format!("containerd://{}", hex64(&format!("{uid}/{cname}"))),
                "ready": true,
                "restartCount": 0,
                "started": true,
                "state": {"running": {"startedAt": now}},
                "lastState": {},
            }));
        }
    }
    if let Some(t) = set_backoff {
        memory.backoff_at.insert(uid.clone(), t);
        due(t);
    }
    // Only the running containers' events if something else is still failing would repeat
    // on every pass, so record Pulled/Created/Started only when the pod starts for real.
    if !all_running {
        pending_events
            .retain(|(_, reason, _)| !matches!(*reason, "Pulled" | "Created" | "Started"));
    }
    let mut status = pod.get("status").cloned().unwrap_or_else(|| json!({}));
    status["containerStatuses"] = Value::Array(new_statuses);
    if all_running {
        status["phase"] = json!("Running");
        if let Some(Value::Array(conds)) = status.get_mut("conditions") {
            for c in conds.iter_mut() {
                if c["type"] == "Ready" || c["type"] == "ContainersReady" {
                    *c = cond(c["type"].as_str().unwrap_or(""), true, None, None, &now);
                }
            }
        }
    }
    if pod.get("status") == Some(&status) {
        return Ok(());
    }
    let pod_def = ctx.registry.builtin(keys::PODS);
    let updated = ctx.store.update_with(
        &pod_def,
        object::namespace(pod),
        object::name(pod),
        Subresource::Status,
        false,
        |cur| {
            let mut next = cur.clone();
            next["status"] = status;
            Ok(next)
        },
    )?;
    for (kind, reason, message) in pending_events {
        events::record(ctx, &updated, kind, reason, &message, kubelet(&node))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_references() {
        let r = ImageRef::parse("docker.io/istio/examples-bookinfo-reviews-v1:1.20.3");
        assert_eq!(r.registry, "docker.io");
        assert_eq!(r.repository, "istio/examples-bookinfo-reviews-v1");
        assert_eq!(r.tag.as_deref(), Some("1.20.3"));
        assert!(r.pullable());
        assert_eq!(
            ImageRef::parse("nginx").full(),
            "docker.io/library/nginx:latest"
        );
        assert_eq!(
            ImageRef::parse("localhost:5000/app:v2").registry,
            "localhost:5000"
        );
        assert!(!ImageRef::parse("istio/reviews:does-not-exist").pullable());
        assert!(!ImageRef::parse("registry.invalid/app:1").pullable());
        assert!(!ImageRef::parse("registry.invalid:5000/app").pullable());
        assert!(ImageRef::parse("registry.example.com/app:1").pullable());
    }
}
