//! The namespace controller: a deleted namespace is Terminating until everything in it is
//! gone, then it disappears.
//!
//! Objects with finalizers (say, a release job whose controller must clean up) get a
//! deletionTimestamp and keep the namespace Terminating until their finalizers are removed,
//! as on a cluster. A short minimum keeps the Terminating phase visible to users and
//! watchers even when the namespace is empty.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use super::Ctx;
use crate::{error::Result, object, resources::keys};

/// The least time a namespace stays Terminating.
const MIN_TERMINATING: Duration = Duration::from_millis(500);

#[derive(Default)]
pub struct Memory {
    seen: HashMap<String, Instant>,
}

pub fn reconcile(ctx: &Ctx, memory: &mut Memory) -> Result<Option<Instant>> {
    let (namespaces, _) = ctx.store.list(keys::NAMESPACES, None);
    let mut next = None;
    let now = Instant::now();
    memory
        .seen
        .retain(|uid, _| namespaces.iter().any(|n| object::uid(n) == uid));
    for ns in namespaces.iter().filter(|n| object::is_terminating(n)) {
        let since = *memory
            .seen
            .entry(object::uid(ns).to_string())
            .or_insert(now);
        if now < since + MIN_TERMINATING {
            next = Some(since + MIN_TERMINATING);
            continue;
        }
        let gone = ctx.store.finalize_namespace(object::name(ns))?;
        if !gone {
            // Waiting for finalizers; check again soon.
            next = Some(now + Duration::from_secs(1));
        }
    }
    Ok(next)
}
