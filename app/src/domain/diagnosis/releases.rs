//! Release routing changed by hand: a live job's VirtualService and DestinationRule are
//! what `release::render` makes of the job. Someone who edits them (kubectl edit, a
//! GitOps tool) is overruled at the job's next reconcile, and someone who removes the
//! managed-by label stops the job; both deserve a word before they surprise anyone.

use serde_json::Value;

use super::objects::name_of;
use super::{DiagnosisInputs, Finding, FindingKind, Severity};
use crate::domain::release::jobs::JobView;
use crate::domain::release::render::{self, MANAGED_BY, RELEASE_LABEL};
use crate::domain::release::{Routing, gateway};

/// The phases in which the controller keeps the routing as rendered.
const RENDERED_PHASES: [&str; 3] = ["Progressing", "Live", "TakenOver"];

pub(super) fn hand_edited(input: &DiagnosisInputs<'_>, out: &mut Vec<Finding>) {
    let project = input.project;
    for job in input.jobs {
        if job.offline_keep.is_some() {
            continue;
        }
        let Some(phase) = job.phase.as_deref() else {
            continue; // the controller has not acted on it yet
        };
        if phase == "GoingOffline" {
            continue;
        }
        let component = job.spec.component.as_str();
        let pairs = match job.spec.routing {
            Routing::VirtualService => vec![
                ("VirtualService", &input.mesh.virtual_services),
                ("DestinationRule", &input.mesh.destination_rules),
            ],
            Routing::HttpRoute => vec![("HTTPRoute", &input.mesh.http_routes)],
        };
        for (kind, objects) in pairs {
            let object_name = if kind == "HTTPRoute" {
                job.spec.route_name()
            } else {
                component
            };
            let Some(actual) = objects.iter().find(|o| name_of(o) == object_name) else {
                continue;
            };
            let labels = &actual["metadata"]["labels"];
            let object = format!("{kind} {object_name}");
            if labels[MANAGED_BY.0].as_str() != Some(MANAGED_BY.1) {
                out.push(Finding {
                    severity: Severity::Error,
                    kind: FindingKind::HandEditedRelease,
                    service: Some(component.to_string()),
                    object,
                    problem: format!(
                        "Release job {} routes {component} with it, but it is not labelled \
                         {}={} (the label was removed, or it was written by hand): the job \
                         can no longer change {component}'s traffic.",
                        job.name, MANAGED_BY.0, MANAGED_BY.1
                    ),
                    fix: format!(
                        "Give it back to the job: kubectl label {} {component} -n {project} \
                         {}={} — or delete the job to stop the release.",
                        kind.to_lowercase(),
                        MANAGED_BY.0,
                        MANAGED_BY.1
                    ),
                });
                continue;
            }
            if labels[RELEASE_LABEL].as_str() != Some(job.name.as_str())
                || !RENDERED_PHASES.contains(&phase)
            {
                continue;
            }
            if kind == "HTTPRoute" {
                // The weights of ordinary traffic, by per-version Service.
                let configured: Vec<(String, i64)> = job_weights(job)
                    .into_iter()
                    .map(|(v, w)| (job.spec.version_service(&v), w))
                    .collect();
                if let Some(found) = gateway::weights(&job.spec, &actual["spec"])
                    && found != configured
                {
                    out.push(hand_edit_warning(
                        component,
                        object,
                        format!(
                            "It was edited by hand: it sends {}, but release job {} set {}.",
                            weights_text(&found),
                            job.name,
                            weights_text(&configured)
                        ),
                    ));
                }
                continue;
            }
            let Some(expected) = rendered_spec(job, project, kind) else {
                continue;
            };
            if same(&actual["spec"], &expected) {
                continue;
            }
            let configured = job_weights(job);
            let found = weights(&actual["spec"]);
            let problem = match (kind, found) {
                ("VirtualService", Some(found)) if found != configured => format!(
                    "It was edited by hand: it sends {}, but release job {} set {}.",
                    weights_text(&found),
                    job.name,
                    weights_text(&configured)
                ),
                _ => format!(
                    "It was edited by hand: it differs from what release job {} configures \
                     for {component}.",
                    job.name
                ),
            };
            out.push(hand_edit_warning(component, object, problem));
        }
    }
}

fn hand_edit_warning(component: &str, object: String, problem: String) -> Finding {
    Finding {
        severity: Severity::Warning,
        kind: FindingKind::HandEditedRelease,
        service: Some(component.to_string()),
        object,
        problem,
        fix: format!(
            "Change traffic on the job's page (the slider, rules, Take Over) instead: \
             the job writes its own routing back at its next reconcile and the edit is \
             lost. To route {component} by hand, finish or delete the job first."
        ),
    }
}

/// What the controller writes for the job now, from the readiness its status reports.
fn rendered_spec(job: &JobView, project: &str, kind: &str) -> Option<Value> {
    if job.versions.len() != job.spec.versions().len() {
        return None; // the controller has not reported every version yet
    }
    let ready: Vec<i32> = job.versions.iter().map(|v| v.ready).collect();
    let object = match kind {
        "VirtualService" => render::virtual_service(&job.spec, &job.name, project, &ready).0,
        _ => render::destination_rule(&job.spec, &job.name, project),
    };
    Some(object["spec"].clone())
}

/// (subset, weight) of the ordinary traffic: the last HTTP rule, the one without matches.
fn weights(spec: &Value) -> Option<Vec<(String, i64)>> {
    let last = spec["http"].as_array()?.last()?;
    let route = last["route"].as_array()?;
    Some(
        route
            .iter()
            .map(|r| {
                let subset = r["destination"]["subset"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                let weight = r["weight"]
                    .as_i64()
                    .unwrap_or(if route.len() == 1 { 100 } else { 0 });
                (subset, weight)
            })
            .filter(|(_, w)| *w > 0)
            .collect(),
    )
}

fn job_weights(job: &JobView) -> Vec<(String, i64)> {
    job.versions
        .iter()
        .filter(|v| v.weight > 0)
        .map(|v| (v.version.clone(), i64::from(v.weight)))
        .collect()
}

fn weights_text(w: &[(String, i64)]) -> String {
    if w.is_empty() {
        return "no traffic".into();
    }
    w.iter()
        .map(|(s, w)| format!("{s} {w}%"))
        .collect::<Vec<_>>()
        .join(" / ")
}

/// Equal as the API server keeps them: numbers by value (`40` and `40.0`), absent and
/// `null` alike.
fn same(a: &Value, b: &Value) -> bool {
    canonical(a) == canonical(b)
}

fn canonical(v: &Value) -> Value {
    match v {
        Value::Number(n) => n
            .as_f64()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), canonical(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_compare_by_value_and_nulls_are_absent() {
        assert!(same(
            &json!({"mirrorPercentage": {"value": 40}, "x": null}),
            &json!({"mirrorPercentage": {"value": 40.0}})
        ));
        assert!(!same(&json!({"weight": 50}), &json!({"weight": 51})));
    }

    #[test]
    fn ordinary_traffic_is_the_last_rule() {
        let spec = json!({"http": [
            {"match": [{"headers": {"end-user": {"exact": "jason"}}}],
             "route": [{"destination": {"host": "reviews", "subset": "v2"}}]},
            {"route": [{"destination": {"host": "reviews", "subset": "v1"}}]},
        ]});
        assert_eq!(weights(&spec), Some(vec![("v1".to_string(), 100)]));
        assert_eq!(
            weights_text(&[("v1".into(), 80), ("v2".into(), 20)]),
            "v1 80% / v2 20%"
        );
    }
}
