//! Recording core/v1 Events, the way client-go's event recorder does.
//!
//! `kubectl describe` and the console show these ("Scheduled", "Pulling", "BackOff", ...).
//! Repeats of the same event for the same object are folded into one with a higher
//! `count`, as the real recorder does, and the store keeps at most
//! [`crate::store::ops::EVENTS_PER_NAMESPACE`] per namespace.

use serde_json::{Value, json};

use super::Ctx;
use crate::{
    error::Result,
    object::{self, time},
    resources::keys,
    store::ops::Subresource,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Normal,
    Warning,
}

impl EventType {
    fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        }
    }
}

/// Who reports the event (`source.component`, and `source.host` for kubelets).
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    pub component: &'a str,
    pub host: Option<&'a str>,
}

/// Records an event about `involved`.
pub fn record(
    ctx: &Ctx,
    involved: &Value,
    kind: EventType,
    reason: &str,
    message: &str,
    source: Source<'_>,
) -> Result<()> {
    let def = ctx.registry.builtin(keys::EVENTS);
    let ns = match object::namespace(involved) {
        "" => "default",
        ns => ns,
    }
    .to_string();
    let uid = object::uid(involved);
    let now = time::now();
    let (existing, _) = ctx.store.list(keys::EVENTS, Some(&ns));
    if let Some(same) = existing.iter().find(|e| {
        object::str_at(e, &["involvedObject", "uid"]) == uid
            && object::str_at(e, &["reason"]) == reason
            && object::str_at(e, &["message"]) == message
    }) {
        let name = object::name(same).to_string();
        ctx.store
            .update_with(&def, &ns, &name, Subresource::Main, false, |cur| {
                let mut e = cur.clone();
                let count = e.get("count").and_then(Value::as_i64).unwrap_or(1);
                e["count"] = json!(count + 1);
                e["lastTimestamp"] = json!(now);
                Ok(e)
            })?;
        return Ok(());
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mut source_json = json!({"component": source.component});
    if let Some(host) = source.host {
        source_json["host"] = json!(host);
    }
    let event = json!({
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": format!("{}.{nanos:x}", object::name(involved)),
            "namespace": ns,
        },
        "involvedObject": {
            "kind": involved.get("kind").cloned().unwrap_or(Value::Null),
            "namespace": object::namespace(involved),
            "name": object::name(involved),
            "uid": uid,
            "apiVersion": involved.get("apiVersion").cloned().unwrap_or(Value::Null),
            "resourceVersion": object::resource_version(involved),
        },
        "reason": reason,
        "message": message,
        "source": source_json,
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
        "type": kind.as_str(),
        "eventTime": null,
        "reportingComponent": source.component,
        "reportingInstance": source.host.unwrap_or(""),
    });
    ctx.store.create(&def, event, false)?;
    Ok(())
}
