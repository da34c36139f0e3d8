//! Converting objects between the version a client speaks and the stored form.
//!
//! Objects are stored once, in their resource's storage version; a request in another
//! served version sees them converted. For CRDs without conversion webhooks (Istio's
//! v1/v1beta1/v1alpha3 share one schema) that only rewrites `apiVersion`. The one real
//! conversion is Events: kube-rs' event recorder writes `events.k8s.io/v1` Events while
//! `kubectl get events` reads `core/v1` ones, and on a real cluster both see the same
//! objects, so the sandbox stores core/v1 and renames fields for events.k8s.io/v1.

use serde_json::{Map, Value, json};

use crate::resources::{Conversion, ResourceDef};

/// events.k8s.io/v1 field ↔ core/v1 field.
const EVENT_FIELDS: &[(&str, &str)] = &[
    ("regarding", "involvedObject"),
    ("note", "message"),
    ("reportingController", "reportingComponent"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
];

fn rename(obj: &mut Value, from_to: impl Iterator<Item = (&'static str, &'static str)>) {
    if let Value::Object(map) = obj {
        for (from, to) in from_to {
            if let Some(v) = map.remove(from) {
                map.insert(to.into(), v);
            }
        }
    }
}

/// The stored form of an object a client sent in `version`.
pub fn to_storage(def: &ResourceDef, mut obj: Value) -> Value {
    if def.conversion == Conversion::EventsV1 {
        rename(&mut obj, EVENT_FIELDS.iter().copied());
        if let Value::Object(map) = &mut obj
            && !map.contains_key("source")
            && let Some(c) = map.get("reportingComponent").cloned()
        {
            map.insert("source".into(), json!({"component": c}));
        }
    }
    if obj.is_object() {
        obj["apiVersion"] = json!(def.storage_api_version());
        obj["kind"] = json!(def.kind);
    }
    obj
}

/// A stored object as a client of `version` sees it.
pub fn from_storage(def: &ResourceDef, version: &str, obj: &Value) -> Value {
    let mut out = obj.clone();
    if def.conversion == Conversion::EventsV1 {
        rename(&mut out, EVENT_FIELDS.iter().map(|(a, b)| (*b, *a)));
        // events.k8s.io/v1 requires eventTime; old-style core events only have timestamps.
        if let Value::Object(map) = &mut out
            && map.get("eventTime").is_none_or(Value::is_null)
        {
            let t = map
                .get("deprecatedFirstTimestamp")
                .cloned()
                .or_else(|| out_meta_time(map))
                .unwrap_or(Value::Null);
            if let Some(s) = t.as_str() {
                map.insert(
                    "eventTime".into(),
                    json!(s.trim_end_matches('Z').to_string() + ".000000Z"),
                );
            }
        }
    }
    if out.is_object() {
        out["apiVersion"] = json!(def.api_version(version));
        out["kind"] = json!(def.kind);
    }
    out
}

fn out_meta_time(map: &Map<String, Value>) -> Option<Value> {
    map.get("metadata")?.get("creationTimestamp").cloned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::Registry;

    #[test]
    fn events_round_trip_between_apis() {
        let registry = Registry::new();
        let v1 = registry
            .find("events.k8s.io", "v1", "events")
            .expect("events.k8s.io");
        let sent = json!({
            "apiVersion": "events.k8s.io/v1", "kind": "Event",
            "metadata": {"name": "e", "namespace": "d"},
            "regarding": {"kind": "Pod", "name": "p"}, "note": "hello",
            "reason": "Test", "type": "Normal", "reportingController": "sluice",
            "reportingInstance": "sluice-1", "eventTime": "2024-01-01T00:00:00.000000Z",
            "action": "Testing"
        });
        let stored = to_storage(&v1, sent.clone());
        assert_eq!(stored["apiVersion"], "v1");
        assert_eq!(stored["involvedObject"]["name"], "p");
        assert_eq!(stored["message"], "hello");
        assert_eq!(stored["source"]["component"], "sluice");
        let back = from_storage(&v1, "v1", &stored);
        assert_eq!(back["note"], "hello");
        assert_eq!(back["regarding"]["name"], "p");
        assert_eq!(back["apiVersion"], "events.k8s.io/v1");
    }
}
