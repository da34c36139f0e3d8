//! The Endpoints controller: a Service's Endpoints list the IPs of the pods its selector
//! matches, ready ones under `addresses`, the others under `notReadyAddresses`.
//!
//! The console shows which pods back a service and tools wait for endpoints before sending
//! traffic, so this keeps them current as pods come and go. Services without a selector are
//! left alone (their Endpoints are managed by hand, as on a cluster).

use std::collections::HashSet;

use serde_json::{Map, Value, json};

use super::Ctx;
use crate::{
    api::selector::LabelSelector,
    error::Result,
    object,
    resources::keys,
    store::ops::{DeleteOptions, Subresource},
};

fn pod_ready(pod: &Value) -> bool {
    pod.pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True")
}

/// The container port a Service's `targetPort` names in `pod`.
fn resolve_port(target: Option<&Value>, port: i64, pod: Option<&Value>) -> i64 {
    match target {
        Some(Value::Number(n)) => n.as_i64().unwrap_or(port),
        Some(Value::String(name)) => pod
            .and_then(|p| p.pointer("/spec/containers"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .flat_map(|c| {
                c.get("ports")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
            })
            .find(|p| p.get("name").and_then(Value::as_str) == Some(name.as_str()))
            .and_then(|p| p.get("containerPort"))
            .and_then(Value::as_i64)
            .or_else(|| name.parse().ok())
            .unwrap_or(port),
        _ => port,
    }
}

fn address(pod: &Value) -> Value {
    json!({
        "ip": object::str_at(pod, &["status", "podIP"]),
        "nodeName": object::str_at(pod, &["spec", "nodeName"]),
        "targetRef": {
            "kind": "Pod",
            "namespace": object::namespace(pod),
            "name": object::name(pod),
            "uid": object::uid(pod),
        },
    })
}

pub fn reconcile(ctx: &Ctx) -> Result<()> {
    let (services, _) = ctx.store.list(keys::SERVICES, None);
    let (pods, _) = ctx.store.list(keys::PODS, None);
    let (endpoints, _) = ctx.store.list(keys::ENDPOINTS, None);
    let def = ctx.registry.builtin(keys::ENDPOINTS);
    let mut wanted: HashSet<(String, String)> = HashSet::new();

    for svc in &services {
        let ns = object::namespace(svc);
        let name = object::name(svc);
        wanted.insert((ns.to_string(), name.to_string()));
        let Some(selector) = svc
            .pointer("/spec/selector")
            .filter(|s| s.as_object().is_some_and(|m| !m.is_empty()))
        else {
            continue;
        };
        let selector = LabelSelector::from_object(selector);
        let mut members: Vec<&Value> = pods
            .iter()
            .map(|p| p.as_ref())
            .filter(|p| {
                object::namespace(p) == ns
                    && !object::is_terminating(p)
                    && !object::str_at(p, &["status", "podIP"]).is_empty()
                    && selector.matches(p)
            })
            .collect();
        members.sort_by_key(|p| object::str_at(p, &["status", "podIP"]).to_string());
        let ready: Vec<Value> = members
            .iter()
            .filter(|p| pod_ready(p))
            .map(|p| address(p))
            .collect();
        let not_ready: Vec<Value> = members
            .iter()
            .filter(|p| !pod_ready(p))
            .map(|p| address(p))
            .collect();
        let ports: Vec<Value> = svc
            .pointer("/spec/ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|p| {
                let port = p.get("port").and_then(Value::as_i64).unwrap_or(0);
                let mut out = json!({
                    "port": resolve_port(p.get("targetPort"), port, members.first().copied()),
                    "protocol": p.get("protocol").cloned().unwrap_or(json!("TCP")),
                });
                if let Some(n) = p
                    .get("name")
                    .filter(|n| n.as_str().is_some_and(|s| !s.is_empty()))
                {
                    out["name"] = n.clone();
                }
                out
            })
            .collect();
        let mut subset = Map::new();
        if !ready.is_empty() {
            subset.insert("addresses".into(), Value::Array(ready));
        }
        if !not_ready.is_empty() {
            subset.insert("notReadyAddresses".into(), Value::Array(not_ready));
        }
        let subsets = if subset.is_empty() {
            None
        } else {
            subset.insert("ports".into(), Value::Array(ports));
            Some(json!([Value::Object(subset)]))
        };
        let labels = svc
            .pointer("/metadata/labels")
            .cloned()
            .unwrap_or_else(|| json!({}));
        let existing = endpoints
            .iter()
            .find(|e| object::namespace(e) == ns && object::name(e) == name);
        match existing {
            None => {
                let mut ep = json!({
                    "apiVersion": "v1",
                    "kind": "Endpoints",
                    "metadata": {"name": name, "namespace": ns, "labels": labels},
                });
                if let Some(s) = subsets {
                    ep["subsets"] = s;
                }
                ctx.store.create(&def, ep, false)?;
            }
            Some(ep) => {
                let same = ep.get("subsets") == subsets.as_ref()
                    && ep.pointer("/metadata/labels").unwrap_or(&json!({})) == &labels;
                if !same {
                    ctx.store
                        .update_with(&def, ns, name, Subresource::Main, false, |cur| {
                            let mut next = cur.clone();
                            object::meta_mut(&mut next).insert("labels".into(), labels);
                            if let Value::Object(m) = &mut next {
                                match subsets {
                                    Some(s) => {
                                        m.insert("subsets".into(), s);
                                    }
                                    None => {
                                        m.remove("subsets");
                                    }
                                }
                            }
                            Ok(next)
                        })?;
                }
            }
        }
    }
    // Endpoints whose Service is gone go with it.
    for ep in &endpoints {
        let id = (
            object::namespace(ep).to_string(),
            object::name(ep).to_string(),
        );
        if !wanted.contains(&id) {
            ctx.store
                .delete(&def, &id.0, &id.1, &DeleteOptions::default())?;
        }
    }
    Ok(())
}
