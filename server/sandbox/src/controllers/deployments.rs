//! The Deployment and ReplicaSet controllers.
//!
//! Follows kube-controller-manager's behaviour closely enough for what users watch during a
//! canary release: a Deployment owns one ReplicaSet per pod template, named
//! `<deployment>-<hash of the template>` and labelled `pod-template-hash`; a template change
//! (e.g. a new image) creates a new ReplicaSet and a rolling update moves replicas over
//! within `maxSurge`/`maxUnavailable`, so an old version keeps serving until the new pods
//! are available (and keeps serving forever if they never become available, e.g. an
//! unpullable image). `Recreate` scales the old ReplicaSets down first. Status fields and
//! the `Available`/`Progressing` conditions use the real reasons and messages, which
//! `kubectl rollout status` and `kubectl wait --for=condition=Available` read.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::{
    Ctx,
    events::{self, EventType, Source},
};
use crate::{
    error::Result,
    object::{self, time},
    resources::keys,
    store::ops::{DeleteOptions, Subresource},
};

const REVISION: &str = "deployment.kubernetes.io/revision";
const HASH_LABEL: &str = "pod-template-hash";
const DEPLOYMENT_CONTROLLER: Source<'static> = Source {
    component: "deployment-controller",
    host: None,
};
const REPLICASET_CONTROLLER: Source<'static> = Source {
    component: "replicaset-controller",
    host: None,
};
/// At most this many pods are created or deleted per ReplicaSet per pass (kube's slow-start
/// batches serve the same purpose: bound the work of one sync).
const BURST: i64 = 100;

fn int(v: &Value, pointer: &str) -> i64 {
    v.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

/// `maxSurge`/`maxUnavailable`: an int or a percentage of `desired`.
fn resolve(value: Option<&Value>, desired: i64, round_up: bool, default_percent: i64) -> i64 {
    let percent = |p: i64| {
        let scaled = p * desired;
        if round_up {
            (scaled + 99) / 100
        } else {
            scaled / 100
        }
    };
    match value {
        Some(Value::Number(n)) => n.as_i64().unwrap_or(0),
        Some(Value::String(s)) => match s.strip_suffix('%').and_then(|p| p.parse().ok()) {
            Some(p) => percent(p),
            None => s.parse().unwrap_or(0),
        },
        _ => percent(default_percent),
    }
}

/// The 10-character template hash. Nulls are dropped first: they mean "absent", and kubectl
/// sends `creationTimestamp: null` in templates it writes back (`rollout undo`), which must
/// map to the same ReplicaSet.
pub fn template_hash(template: &Value) -> String {
    fn strip_nulls(v: &Value) -> Value {
        match v {
            Value::Object(map) => Value::Object(
                map.iter()
                    .filter(|(_, v)| !v.is_null())
                    .map(|(k, v)| (k.clone(), strip_nulls(v)))
                    .collect(),
            ),
            Value::Array(items) => Value::Array(items.iter().map(strip_nulls).collect()),
            other => other.clone(),
        }
    }
    let canonical = object::canonical_string(&strip_nulls(template));
    object::safe_encode(object::fnv1a(canonical.as_bytes()), 10)
}

fn revision(obj: &Value) -> i64 {
    object::str_at(obj, &["metadata", "annotations", REVISION])
        .parse()
        .unwrap_or(0)
}

/// Sets `spec.replicas` of a ReplicaSet, recording the scaling event on its Deployment.
fn scale_rs(ctx: &Ctx, deploy: &Value, rs: &Value, to: i64) -> Result<()> {
    let from = int(rs, "/spec/replicas");
    if from == to {
        return Ok(());
    }
    let def = ctx.registry.builtin(keys::REPLICASETS);
    ctx.store.update_with(
        &def,
        object::namespace(rs),
        object::name(rs),
        Subresource::Main,
        false,
        |cur| {
            let mut next = cur.clone();
            next["spec"]["replicas"] = json!(to);
            Ok(next)
        },
    )?;
    let direction = if to > from { "up" } else { "down" };
    events::record(
        ctx,
        deploy,
        EventType::Normal,
        "ScalingReplicaSet",
        &format!(
            "Scaled {direction} replica set {} from {from} to {to}",
            object::name(rs)
        ),
        DEPLOYMENT_CONTROLLER,
    )
}

pub fn reconcile_deployments(ctx: &Ctx) -> Result<()> {
    let (deployments, _) = ctx.store.list(keys::DEPLOYMENTS, None);
    for d in deployments {
        if object::is_terminating(&d) {
            continue;
        }
        if let Err(err) = sync_deployment(ctx, &d) {
            tracing::debug!(
                "deployment {}/{}: {err}",
                object::namespace(&d),
                object::name(&d)
            );
        }
    }
    Ok(())
}

fn owned_by(list: &[Arc<Value>], owner: &Value) -> Vec<Arc<Value>> {
    let uid = object::uid(owner);
    list.iter()
        .filter(|o| object::controller_uid(o) == Some(uid) && !object::is_terminating(o))
        .cloned()
        .collect()
}

fn sync_deployment(ctx: &Ctx, d: &Value) -> Result<()> {
    let ns = object::namespace(d);
    let name = object::name(d);
    let (rs_list, _) = ctx.store.list(keys::REPLICASETS, Some(ns));
    let owned = owned_by(&rs_list, d);
    let template = d
        .pointer("/spec/template")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let hash = template_hash(&template);
    let desired = d
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let recreate = object::str_at(d, &["spec", "strategy", "type"]) == "Recreate";
    let new_rs = owned
        .iter()
        .find(|rs| object::str_at(rs, &["metadata", "labels", HASH_LABEL]) == hash)
        .cloned();
    let mut old: Vec<Arc<Value>> = owned
        .iter()
        .filter(|rs| object::str_at(rs, &["metadata", "labels", HASH_LABEL]) != hash)
        .cloned()
        .collect();
    // Oldest revision first: that is the order rolling updates scale down in.
    old.sort_by_key(|rs| revision(rs));
    let old_spec: i64 = old.iter().map(|rs| int(rs, "/spec/replicas")).sum();
    let old_pods: i64 = old.iter().map(|rs| int(rs, "/status/replicas")).sum();
    let max_surge = resolve(
        d.pointer("/spec/strategy/rollingUpdate/maxSurge"),
        desired,
        true,
        25,
    );
    let mut max_unavailable = resolve(
        d.pointer("/spec/strategy/rollingUpdate/maxUnavailable"),
        desired,
        false,
        25,
    );
    if max_surge == 0 && max_unavailable == 0 {
        max_unavailable = 1;
    }
    if recreate {
        max_unavailable = desired;
    }

    let new_rs = match new_rs {
        Some(rs) => rs,
        None => {
            if recreate && (old_spec > 0 || old_pods > 0) {
                for rs in &old {
                    scale_rs(ctx, d, rs, 0)?;
                }
                return update_deployment_status(ctx, d, None, &owned, desired, max_unavailable);
            }
            let initial = if old_spec == 0 {
                desired
            } else {
                (desired + max_surge - old_spec).clamp(0, desired)
            };
            let rs = create_replicaset(ctx, d, &template, &hash, &owned, initial)?;
            events::record(
                ctx,
                d,
                EventType::Normal,
                "ScalingReplicaSet",
                &format!(
                    "Scaled up replica set {} from 0 to {initial}",
                    object::name(&rs)
                ),
                DEPLOYMENT_CONTROLLER,
            )?;
            rs
        }
    };

    // Scale.
    let new_spec = int(&new_rs, "/spec/replicas");
    if recreate {
        if old_spec > 0 || old_pods > 0 {
            for rs in &old {
                scale_rs(ctx, d, rs, 0)?;
            }
        } else {
            scale_rs(ctx, d, &new_rs, desired)?;
        }
    } else if old_spec == 0 {
        scale_rs(ctx, d, &new_rs, desired)?;
    } else {
        let all_spec = new_spec + old_spec;
        let mut new_target = new_spec;
        if new_spec > desired {
            new_target = desired;
        } else if new_spec < desired {
            let allowed = desired + max_surge - all_spec;
            if allowed > 0 {
                new_target = desired.min(new_spec + allowed);
            }
        }
        scale_rs(ctx, d, &new_rs, new_target)?;

        let min_available = desired - max_unavailable;
        let new_available = int(&new_rs, "/status/availableReplicas");
        let new_unavailable = (new_target - new_available).max(0);
        // First drop old replicas that are not available anyway (they serve nothing).
        let mut budget = (new_target + old_spec) - min_available - new_unavailable;
        let mut remaining: Vec<(Arc<Value>, i64)> = old
            .iter()
            .map(|rs| (Arc::clone(rs), int(rs, "/spec/replicas")))
            .collect();
        for (rs, spec) in remaining.iter_mut() {
            if budget <= 0 {
                break;
            }
            let unhealthy = (*spec - int(rs, "/status/availableReplicas")).max(0);
            let cut = unhealthy.min(budget);
            if cut > 0 {
                *spec -= cut;
                budget -= cut;
            }
        }
        // Then scale down available old replicas as far as availability allows.
        let total_available: i64 = new_available
            + remaining
                .iter()
                .map(|(rs, spec)| int(rs, "/status/availableReplicas").min(*spec))
                .sum::<i64>();
        let mut can_remove = (total_available - min_available).max(0);
        for (_, spec) in remaining.iter_mut() {
            if can_remove <= 0 {
                break;
            }
            let cut = (*spec).min(can_remove);
            *spec -= cut;
            can_remove -= cut;
        }
        for (rs, spec) in &remaining {
            scale_rs(ctx, d, rs, *spec)?;
        }
    }

    cleanup_history(ctx, d, &old)?;

    // Re-read what the scaling changed before computing status.
    let (rs_list, _) = ctx.store.list(keys::REPLICASETS, Some(ns));
    let owned = owned_by(&rs_list, d);
    let new_rs = owned
        .iter()
        .find(|rs| object::str_at(rs, &["metadata", "labels", HASH_LABEL]) == hash)
        .cloned();
    if let Some(rs) = &new_rs {
        let rev = object::str_at(rs, &["metadata", "annotations", REVISION]).to_string();
        if object::str_at(d, &["metadata", "annotations", REVISION]) != rev {
            let def = ctx.registry.builtin(keys::DEPLOYMENTS);
            ctx.store
                .update_with(&def, ns, name, Subresource::Main, false, |cur| {
                    let mut next = cur.clone();
                    object::ensure_object(&mut next, &["metadata", "annotations"])
                        .insert(REVISION.into(), json!(rev));
                    Ok(next)
                })?;
        }
    }
    update_deployment_status(ctx, d, new_rs.as_deref(), &owned, desired, max_unavailable)
}

fn create_replicaset(
    ctx: &Ctx,
    d: &Value,
    template: &Value,
    hash: &str,
    owned: &[Arc<Value>],
    replicas: i64,
) -> Result<Arc<Value>> {
    let def = ctx.registry.builtin(keys::REPLICASETS);
    let next_revision = owned.iter().map(|rs| revision(rs)).max().unwrap_or(0) + 1;
    let mut template = template.clone();
    object::ensure_object(&mut template, &["metadata", "labels"])
        .insert(HASH_LABEL.into(), json!(hash));
    let mut selector = d
        .pointer("/spec/selector")
        .cloned()
        .unwrap_or_else(|| json!({}));
    object::ensure_object(&mut selector, &["matchLabels"]).insert(HASH_LABEL.into(), json!(hash));
    let mut labels = template
        .pointer("/metadata/labels")
        .cloned()
        .unwrap_or_else(|| json!({}));
    if !labels.is_object() {
        labels = json!({});
    }
    let max_surge = resolve(
        d.pointer("/spec/strategy/rollingUpdate/maxSurge"),
        int(d, "/spec/replicas"),
        true,
        25,
    );
    let desired = d
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let rs = json!({
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": format!("{}-{hash}", object::name(d)),
            "namespace": object::namespace(d),
            "labels": labels,
            "annotations": {
                REVISION: next_revision.to_string(),
                "deployment.kubernetes.io/desired-replicas": desired.to_string(),
                "deployment.kubernetes.io/max-replicas": (desired + max_surge).to_string(),
            },
            "ownerReferences": [object::controller_ref(d)],
        },
        "spec": {
            "replicas": replicas,
            "minReadySeconds": d.pointer("/spec/minReadySeconds").cloned().unwrap_or(json!(0)),
            "selector": selector,
            "template": template,
        },
    });
    ctx.store.create(&def, rs, false)
}

/// Deletes old ReplicaSets with no replicas beyond `revisionHistoryLimit`.
fn cleanup_history(ctx: &Ctx, d: &Value, old: &[Arc<Value>]) -> Result<()> {
    let limit = d
        .pointer("/spec/revisionHistoryLimit")
        .and_then(Value::as_i64)
        .unwrap_or(10)
        .max(0) as usize;
    let idle: Vec<&Arc<Value>> = old
        .iter()
        .filter(|rs| int(rs, "/spec/replicas") == 0 && int(rs, "/status/replicas") == 0)
        .collect();
    if idle.len() <= limit {
        return Ok(());
    }
    let def = ctx.registry.builtin(keys::REPLICASETS);
    for rs in idle.iter().take(idle.len() - limit) {
        ctx.store.delete(
            &def,
            object::namespace(rs),
            object::name(rs),
            &DeleteOptions::default(),
        )?;
    }
    Ok(())
}

/// A condition, keeping the old timestamps when nothing changed.
fn condition(
    old: Option<&Value>,
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
    now: &str,
) -> Value {
    let same = old
        .is_some_and(|o| o["status"] == status && o["reason"] == reason && o["message"] == message);
    if same && let Some(o) = old {
        return o.clone();
    }
    let transition = match old {
        Some(o) if o["status"] == status => o
            .get("lastTransitionTime")
            .cloned()
            .unwrap_or_else(|| json!(now)),
        _ => json!(now),
    };
    json!({
        "type": type_,
        "status": status,
        "lastUpdateTime": now,
        "lastTransitionTime": transition,
        "reason": reason,
        "message": message,
    })
}

fn find_condition<'a>(status: Option<&'a Value>, type_: &str) -> Option<&'a Value> {
    status?
        .get("conditions")?
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
}

fn insert_nonzero(map: &mut Map<String, Value>, key: &str, n: i64) {
    if n != 0 {
        map.insert(key.into(), json!(n));
    }
}

fn update_deployment_status(
    ctx: &Ctx,
    d: &Value,
    new_rs: Option<&Value>,
    owned: &[Arc<Value>],
    desired: i64,
    max_unavailable: i64,
) -> Result<()> {
    let sum = |p: &str| owned.iter().map(|rs| int(rs, p)).sum::<i64>();
    let replicas = sum("/status/replicas");
    let ready = sum("/status/readyReplicas");
    let available = sum("/status/availableReplicas");
    let total_spec = sum("/spec/replicas");
    let updated = new_rs.map_or(0, |rs| int(rs, "/status/replicas"));
    let unavailable = (total_spec - available).max(0);
    let now = time::now();
    let old_status = d.get("status");

    let (avail_status, avail_reason, avail_msg) = if available >= desired - max_unavailable {
        (
            "True",
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.",
        )
    } else {
        (
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
        )
    };
    let rs_name = new_rs.map(object::name).unwrap_or("");
    let complete = new_rs.is_some()
        && updated == desired
        && replicas == desired
        && available == desired
        && new_rs.is_some_and(|rs| int(rs, "/status/availableReplicas") == desired);
    let old_progress = find_condition(old_status, "Progressing");
    let deadline = d
        .pointer("/spec/progressDeadlineSeconds")
        .and_then(Value::as_i64)
        .unwrap_or(600);
    let (prog_status, prog_reason, prog_msg) = if complete {
        (
            "True",
            "NewReplicaSetAvailable",
            format!("ReplicaSet \"{rs_name}\" has successfully progressed."),
        )
    } else if old_progress.is_some_and(|c| {
        // Once timed out it stays so until the rollout completes (or the spec changes).
        (c["reason"] == "ProgressDeadlineExceeded"
            && int(d, "/metadata/generation") == int(d, "/status/observedGeneration"))
            || (c["status"] == "True"
                && c["reason"] != "NewReplicaSetAvailable"
                && time::age_seconds(c["lastUpdateTime"].as_str().unwrap_or("")) > deadline)
    }) {
        (
            "False",
            "ProgressDeadlineExceeded",
            format!("ReplicaSet \"{rs_name}\" has timed out progressing."),
        )
    } else if new_rs.is_some()
        && (old_progress.is_none()
            || int(d, "/metadata/generation") != int(d, "/status/observedGeneration"))
        && updated == 0
    {
        (
            "True",
            "NewReplicaSetCreated",
            format!("Created new replica set \"{rs_name}\""),
        )
    } else {
        (
            "True",
            "ReplicaSetUpdated",
            format!("ReplicaSet \"{rs_name}\" is progressing."),
        )
    };
    let old_available = find_condition(old_status, "Available");
    let conditions = vec![
        condition(
            old_available,
            "Available",
            avail_status,
            avail_reason,
            avail_msg,
            &now,
        ),
        condition(
            old_progress,
            "Progressing",
            prog_status,
            prog_reason,
            &prog_msg,
            &now,
        ),
    ];
    let mut status = Map::new();
    status.insert(
        "observedGeneration".into(),
        json!(int(d, "/metadata/generation")),
    );
    insert_nonzero(&mut status, "replicas", replicas);
    insert_nonzero(&mut status, "updatedReplicas", updated);
    insert_nonzero(&mut status, "readyReplicas", ready);
    insert_nonzero(&mut status, "availableReplicas", available);
    insert_nonzero(&mut status, "unavailableReplicas", unavailable);
    status.insert("conditions".into(), Value::Array(conditions));
    let status = Value::Object(status);
    if old_status == Some(&status) {
        return Ok(());
    }
    let def = ctx.registry.builtin(keys::DEPLOYMENTS);
    ctx.store.update_with(
        &def,
        object::namespace(d),
        object::name(d),
        Subresource::Status,
        false,
        |cur| {
            let mut next = cur.clone();
            next["status"] = status;
            Ok(next)
        },
    )?;
    Ok(())
}

pub fn reconcile_replicasets(ctx: &Ctx) -> Result<()> {
    let (replicasets, _) = ctx.store.list(keys::REPLICASETS, None);
    let (pods, _) = ctx.store.list(keys::PODS, None);
    for rs in replicasets {
        if object::is_terminating(&rs) {
            continue;
        }
        if let Err(err) = sync_replicaset(ctx, &rs, &pods) {
            tracing::debug!(
                "replicaset {}/{}: {err}",
                object::namespace(&rs),
                object::name(&rs)
            );
        }
    }
    Ok(())
}

fn pod_ready(pod: &Value) -> bool {
    find_condition(pod.get("status"), "Ready").is_some_and(|c| c["status"] == "True")
}

/// Which pods to delete first when scaling down: unscheduled, then pending, then not
/// ready, then the newest (kube's `ActivePods` ordering, simplified).
fn deletion_rank(pod: &Value) -> (u8, std::cmp::Reverse<String>) {
    let rank = if object::str_at(pod, &["spec", "nodeName"]).is_empty() {
        0
    } else if object::str_at(pod, &["status", "phase"]) == "Pending" {
        1
    } else if !pod_ready(pod) {
        2
    } else {
        3
    };
    (
        rank,
        std::cmp::Reverse(object::str_at(pod, &["metadata", "creationTimestamp"]).to_string()),
    )
}

fn sync_replicaset(ctx: &Ctx, rs: &Value, all_pods: &[Arc<Value>]) -> Result<()> {
    let ns = object::namespace(rs);
    let mut pods: Vec<Arc<Value>> = owned_by(all_pods, rs)
        .into_iter()
        .filter(|p| object::namespace(p) == ns)
        .collect();
    let desired = rs
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let have = pods.len() as i64;
    let pod_def = ctx.registry.builtin(keys::PODS);
    let mut created = 0;
    if have < desired {
        for _ in 0..(desired - have).min(BURST) {
            let pod = new_pod(rs);
            let pod = ctx.store.create(&pod_def, pod, false)?;
            events::record(
                ctx,
                rs,
                EventType::Normal,
                "SuccessfulCreate",
                &format!("Created pod: {}", object::name(&pod)),
                REPLICASET_CONTROLLER,
            )?;
            created += 1;
        }
    } else if have > desired {
        pods.sort_by_key(|p| deletion_rank(p));
        let excess = ((have - desired).min(BURST)) as usize;
        let doomed: Vec<Arc<Value>> = pods.drain(..excess).collect();
        for pod in doomed {
            ctx.store
                .delete(&pod_def, ns, object::name(&pod), &DeleteOptions::default())?;
            events::record(
                ctx,
                rs,
                EventType::Normal,
                "SuccessfulDelete",
                &format!("Deleted pod: {}", object::name(&pod)),
                REPLICASET_CONTROLLER,
            )?;
        }
    }
    let ready = pods.iter().filter(|p| pod_ready(p)).count() as i64;
    let count = pods.len() as i64 + created;
    let mut status = Map::new();
    insert_nonzero(&mut status, "replicas", count);
    insert_nonzero(&mut status, "fullyLabeledReplicas", count);
    insert_nonzero(&mut status, "readyReplicas", ready);
    insert_nonzero(&mut status, "availableReplicas", ready);
    status.insert(
        "observedGeneration".into(),
        json!(int(rs, "/metadata/generation")),
    );
    let status = Value::Object(status);
    if rs.get("status") == Some(&status) {
        return Ok(());
    }
    let def = ctx.registry.builtin(keys::REPLICASETS);
    ctx.store.update_with(
        &def,
        ns,
        object::name(rs),
        Subresource::Status,
        false,
        |cur| {
            let mut next = cur.clone();
            next["status"] = status;
            Ok(next)
        },
    )?;
    Ok(())
}

/// A pod for a ReplicaSet, as the ReplicaSet controller creates it (the scheduler and
/// kubelet take it from there).
fn new_pod(rs: &Value) -> Value {
    let rs_name = object::name(rs);
    let template = rs
        .pointer("/spec/template")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let mut spec = template.get("spec").cloned().unwrap_or_else(|| json!({}));
    crate::api::admission::default_pod_spec(&mut spec);
    let mut metadata = json!({
        "name": format!("{rs_name}-{}", object::random_suffix(5)),
        "generateName": format!("{rs_name}-"),
        "namespace": object::namespace(rs),
        "ownerReferences": [object::controller_ref(rs)],
    });
    for key in ["labels", "annotations"] {
        if let Some(v) = template.pointer(&format!("/metadata/{key}")) {
            metadata[key] = v.clone();
        }
    }
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": spec,
        "status": {"phase": "Pending", "qosClass": "BestEffort"},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn surge_and_unavailable_round_like_kube() {
        assert_eq!(resolve(Some(&json!("25%")), 1, true, 25), 1);
        assert_eq!(resolve(Some(&json!("25%")), 1, false, 25), 0);
        assert_eq!(resolve(Some(&json!("25%")), 10, true, 25), 3);
        assert_eq!(resolve(Some(&json!(2)), 10, true, 25), 2);
        assert_eq!(resolve(None, 4, false, 25), 1);
    }

    #[test]
    fn template_hash_is_stable_and_sensitive() {
        let a = json!({"spec": {"containers": [{"name": "c", "image": "x:1"}]}});
        let b = json!({"spec": {"containers": [{"name": "c", "image": "x:2"}]}});
        assert_eq!(template_hash(&a), template_hash(&a.clone()));
        assert_ne!(template_hash(&a), template_hash(&b));
        let with_null = json!({"metadata": {"creationTimestamp": null},
                               "spec": {"containers": [{"name": "c", "image": "x:1"}]}});
        let plain =
            json!({"metadata": {}, "spec": {"containers": [{"name": "c", "image": "x:1"}]}});
        assert_eq!(template_hash(&with_null), template_hash(&plain));
        assert_eq!(template_hash(&a).len(), 10);
    }
}
