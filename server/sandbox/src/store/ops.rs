//! The API server's write semantics, applied atomically under the store lock.
//!
//! These are the rules every writer must get — the REST layer on behalf of clients and the
//! simulated controllers alike — so they live next to the data rather than in the HTTP
//! code: metadata ownership (uid, creationTimestamp, generation, resourceVersion),
//! optimistic concurrency, `generateName`, namespaces that must exist and are not
//! terminating, the status subresource split, finalizers and deletionTimestamp, and
//! ownerReference cascades. Controllers therefore write through the same checks as users.

use std::{collections::HashSet, sync::Arc};

use serde_json::{Value, json};

use super::{Op, Store, Txn};
use crate::{
    api::status::{Cause, Status},
    error::Result,
    object::{self, time},
    resources::{ResourceDef, keys},
    validation,
};

/// Events kept per namespace; older ones are dropped when a new one arrives.
pub const EVENTS_PER_NAMESPACE: usize = 1000;

/// Which part of an object a write targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subresource {
    /// The object; for kinds with a status subresource, `.status` changes are ignored.
    Main,
    /// `/status`: only `.status` changes are taken.
    Status,
}

/// `propagationPolicy` of a delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagation {
    Background,
    Foreground,
    Orphan,
}

#[derive(Debug, Clone, Default)]
pub struct DeleteOptions {
    pub dry_run: bool,
    pub propagation: Option<Propagation>,
    /// `preconditions.uid`.
    pub uid: Option<String>,
    /// `preconditions.resourceVersion`.
    pub resource_version: Option<String>,
}

/// Everything of an object except metadata and status: what `generation` tracks.
fn spec_part(obj: &Value) -> Value {
    match obj {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| {
                    !matches!(k.as_str(), "metadata" | "status" | "apiVersion" | "kind")
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn set_or_remove(map: &mut serde_json::Map<String, Value>, key: &str, value: Option<&Value>) {
    match value {
        Some(v) => {
            map.insert(key.into(), v.clone());
        }
        None => {
            map.remove(key);
        }
    }
}

impl Store {
    /// Creates an object (already in storage form, namespace set for namespaced kinds).
    pub fn create(&self, def: &ResourceDef, obj: Value, dry_run: bool) -> Result<Arc<Value>> {
        self.create_checked(def, obj, dry_run, |_| Ok(()))
    }

    /// [`Store::create`] with a last check (validating admission) of the object exactly as
    /// it would be stored — name generated, uid and timestamps set — before it is written
    /// (also for a dry run). The check runs under the writers' lock and may read the store.
    pub fn create_checked<C>(
        &self,
        def: &ResourceDef,
        mut obj: Value,
        dry_run: bool,
        check: C,
    ) -> Result<Arc<Value>>
    where
        C: FnOnce(&Value) -> Result<()>,
    {
        let state = self.begin();
        let ns = object::namespace(&obj).to_string();
        if def.namespaced {
            if ns.is_empty() {
                return Err(Status::bad_request("the namespace of the object is missing").into());
            }
            match state.get(keys::NAMESPACES, "", &ns) {
                None => return Err(Status::not_found("namespaces", "", &ns).into()),
                Some(n) if object::is_terminating(&n) => {
                    let mut status = Status::forbidden(
                        &def.plural,
                        &def.group,
                        object::name(&obj),
                        &format!(
                            "unable to create new content in namespace {ns} because it is being terminated"
                        ),
                    );
                    status.details.causes.push(Cause {
                        reason: "NamespaceTerminating".into(),
                        message: format!("namespace {ns} is being terminated"),
                        field: "metadata.namespace".into(),
                    });
                    return Err(status.into());
                }
                Some(n) => {
                    // Istio's mutating webhook, at the point where the namespace is known.
                    if def.storage_key == keys::PODS {
                        crate::injection::inject_sidecar(&mut obj, &n);
                    }
                }
            }
        } else {
            object::meta_mut(&mut obj).remove("namespace");
        }

        let mut name = object::name(&obj).to_string();
        if name.is_empty() {
            let prefix = object::str_at(&obj, &["metadata", "generateName"]).to_string();
            if prefix.is_empty() {
                return Err(Status::invalid(
                    &def.kind,
                    &def.group,
                    "",
                    vec![Cause {
                        reason: "FieldValueRequired".into(),
                        message: "Required value: name or generateName is required".into(),
                        field: "metadata.name".into(),
                    }],
                )
                .into());
            }
            // Like kube-apiserver: 5 random characters; on the rare collision try again.
            for _ in 0..16 {
                let candidate = format!("{prefix}{}", object::random_suffix(5));
                if state.get(&def.storage_key, &ns, &candidate).is_none() {
                    name = candidate;
                    break;
                }
            }
            if name.is_empty() {
                return Err(Status::already_exists(&def.plural, &def.group, &prefix).into());
            }
        }
        let errors = validation::name_errors(def.name_rule, &name);
        if !errors.is_empty() {
            return Err(Status::invalid(&def.kind, &def.group, &name, errors).into());
        }
        if state.get(&def.storage_key, &ns, &name).is_some() {
            return Err(Status::already_exists(&def.plural, &def.group, &name).into());
        }

        {
            let meta = object::meta_mut(&mut obj);
            meta.insert("name".into(), json!(name));
            meta.insert("uid".into(), json!(object::new_uid()));
            meta.insert("creationTimestamp".into(), json!(time::now()));
            meta.insert("generation".into(), json!(1));
            for k in [
                "resourceVersion",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "selfLink",
            ] {
                meta.remove(k);
            }
        }
        obj["apiVersion"] = json!(def.storage_api_version());
        obj["kind"] = json!(def.kind);

        let mut ops = Vec::new();
        if def.storage_key == keys::EVENTS {
            // Bounded event history: drop the oldest events of this namespace.
            let mut existing = state.list(keys::EVENTS, Some(&ns));
            if existing.len() >= EVENTS_PER_NAMESPACE {
                existing.sort_by_key(|e| object::resource_version(e).parse::<u64>().unwrap_or(0));
                let excess = existing.len() + 1 - EVENTS_PER_NAMESPACE;
                for old in existing.into_iter().take(excess) {
                    ops.push(Op::Delete {
                        key: keys::EVENTS.into(),
                        obj: (*old).clone(),
                    });
                }
            }
        }
        check(&obj)?;
        if dry_run {
            return Ok(Arc::new(obj));
        }
        ops.push(Op::Put {
            key: def.storage_key.clone(),
            obj,
        });
        let mut written = state.commit(ops)?;
        Ok(written.pop().expect("the create was committed"))
    }

    /// Updates an object: `change` gets the current object and returns the desired one (a
    /// PUT body, or the current object with a patch applied). Runs under the store lock, so
    /// read-modify-write is atomic; a resourceVersion in the result that differs from the
    /// current one is a 409 Conflict.
    pub fn update_with<F>(
        &self,
        def: &ResourceDef,
        ns: &str,
        name: &str,
        sub: Subresource,
        dry_run: bool,
        change: F,
    ) -> Result<Arc<Value>>
    where
        F: FnOnce(&Value) -> Result<Value>,
    {
        self.update_with_checked(def, ns, name, sub, dry_run, change, |_, _| Ok(()))
    }

    /// [`Store::update_with`] with a last check (validating admission) of the new object
    /// as it would be stored, and the current one, before anything is written (also for a
    /// dry run or a no-op update, as kube-apiserver validates those too).
    #[allow(clippy::too_many_arguments)]
    pub fn update_with_checked<F, C>(
        &self,
        def: &ResourceDef,
        ns: &str,
        name: &str,
        sub: Subresource,
        dry_run: bool,
        change: F,
        check: C,
    ) -> Result<Arc<Value>>
    where
        F: FnOnce(&Value) -> Result<Value>,
        C: FnOnce(&Value, &Value) -> Result<()>,
    {
        let state = self.begin();
        let current = state
            .get(&def.storage_key, ns, name)
            .ok_or_else(|| Status::not_found(&def.plural, &def.group, name))?;
        let mut new = change(&current)?;

        let wanted_rv = object::resource_version(&new);
        if !wanted_rv.is_empty() && wanted_rv != object::resource_version(&current) {
            return Err(Status::conflict(&def.plural, &def.group, name).into());
        }
        let body_name = object::name(&new);
        if !body_name.is_empty() && body_name != name {
            return Err(Status::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            ))
            .into());
        }

        match sub {
            Subresource::Main => {
                if def.status_subresource
                    && let Value::Object(map) = &mut new
                {
                    set_or_remove(map, "status", current.get("status"));
                }
            }
            Subresource::Status => {
                let status = new.get("status").cloned();
                let mut merged = (*current).clone();
                if let Value::Object(map) = &mut merged {
                    set_or_remove(map, "status", status.as_ref());
                }
                new = merged;
            }
        }
        if !new.is_object() {
            return Err(Status::bad_request("the object must be a JSON object").into());
        }
        new["apiVersion"] = current["apiVersion"].clone();
        new["kind"] = current["kind"].clone();
        let old_finalizers: HashSet<String> = object::finalizers(&current).into_iter().collect();
        {
            let cur_meta = current.get("metadata");
            let meta = object::meta_mut(&mut new);
            for k in [
                "name",
                "namespace",
                "uid",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "generation",
                "resourceVersion",
            ] {
                set_or_remove(meta, k, cur_meta.and_then(|m| m.get(k)));
            }
        }
        if object::is_terminating(&current) {
            let added: Vec<String> = object::finalizers(&new)
                .into_iter()
                .filter(|f| !old_finalizers.contains(f))
                .collect();
            if !added.is_empty() {
                return Err(Status::invalid(
                    &def.kind,
                    &def.group,
                    name,
                    vec![Cause {
                        reason: "FieldValueForbidden".into(),
                        message: format!(
                            "Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers {added:?}"
                        ),
                        field: "metadata.finalizers".into(),
                    }],
                )
                .into());
            }
        }
        if spec_part(&new) != spec_part(&current) {
            let generation = current
                .pointer("/metadata/generation")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            object::meta_mut(&mut new).insert("generation".into(), json!(generation + 1));
        }
        check(&new, &current)?;
        if new == *current {
            // A no-op write does not bump the resourceVersion (clients rely on this to
            // avoid update loops).
            return Ok(current);
        }
        if dry_run {
            return Ok(Arc::new(new));
        }

        let finished = object::is_terminating(&new)
            && object::finalizers(&new).is_empty()
            && !def.is_namespaces();
        if finished {
            // The last finalizer is gone: the deletion completes, with its cascade.
            let mut ops = Vec::new();
            let mut seen = HashSet::new();
            plan_delete(
                &state,
                &def.storage_key,
                new,
                Propagation::Background,
                &mut ops,
                &mut seen,
            );
            let written = state.commit(ops)?;
            return Ok(written
                .into_iter()
                .find(|o| object::uid(o) == object::uid(&current))
                .unwrap_or(current));
        }
        let mut written = state.commit(vec![Op::Put {
            key: def.storage_key.clone(),
            obj: new,
        }])?;
        Ok(written.pop().expect("the update was committed"))
    }

    /// Deletes an object. With finalizers it only gets a deletionTimestamp; namespaces turn
    /// Terminating and the namespace controller empties and removes them; dependents
    /// (ownerReferences) are deleted, or orphaned, per `propagationPolicy`.
    pub fn delete(
        &self,
        def: &ResourceDef,
        ns: &str,
        name: &str,
        opts: &DeleteOptions,
    ) -> Result<Arc<Value>> {
        self.delete_checked(def, ns, name, opts, |_| Ok(()))
    }

    /// [`Store::delete`] with a check (validating admission) of the object about to be
    /// deleted, after the preconditions and before anything is written.
    pub fn delete_checked<C>(
        &self,
        def: &ResourceDef,
        ns: &str,
        name: &str,
        opts: &DeleteOptions,
        check: C,
    ) -> Result<Arc<Value>>
    where
        C: FnOnce(&Value) -> Result<()>,
    {
        let state = self.begin();
        let current = state
            .get(&def.storage_key, ns, name)
            .ok_or_else(|| Status::not_found(&def.plural, &def.group, name))?;
        if let Some(uid) = &opts.uid
            && uid != object::uid(&current)
        {
            return Err(Status::conflict_because(
                &def.plural,
                &def.group,
                name,
                &format!(
                    "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                    object::uid(&current)
                ),
            )
            .into());
        }
        if let Some(rv) = &opts.resource_version
            && rv != object::resource_version(&current)
        {
            return Err(Status::conflict_because(
                &def.plural,
                &def.group,
                name,
                &format!(
                    "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                    object::resource_version(&current)
                ),
            )
            .into());
        }

        check(&current)?;
        if def.is_namespaces() {
            if object::is_terminating(&current) {
                return Ok(current);
            }
            let mut obj = (*current).clone();
            object::meta_mut(&mut obj).insert("deletionTimestamp".into(), json!(time::now()));
            object::meta_mut(&mut obj).insert("deletionGracePeriodSeconds".into(), json!(0));
            object::ensure_object(&mut obj, &["status"])
                .insert("phase".into(), json!("Terminating"));
            if opts.dry_run {
                return Ok(Arc::new(obj));
            }
            let mut written = state.commit(vec![Op::Put {
                key: def.storage_key.clone(),
                obj,
            }])?;
            return Ok(written.pop().expect("committed"));
        }

        let mut ops = Vec::new();
        let mut seen = HashSet::new();
        plan_delete(
            &state,
            &def.storage_key,
            (*current).clone(),
            opts.propagation.unwrap_or(Propagation::Background),
            &mut ops,
            &mut seen,
        );
        if opts.dry_run {
            return Ok(current);
        }
        let uid = object::uid(&current).to_string();
        let written = state.commit(ops)?;
        Ok(written
            .into_iter()
            .rev()
            .find(|o| object::uid(o) == uid)
            .unwrap_or(current))
    }

    /// One step of namespace termination: deletes what can be deleted in the namespace,
    /// marks objects with finalizers as deleting, and removes the namespace once it is empty.
    /// Returns whether the namespace is gone.
    pub fn finalize_namespace(&self, ns: &str) -> Result<bool> {
        let state = self.begin();
        let Some(namespace) = state.get(keys::NAMESPACES, "", ns) else {
            return Ok(true);
        };
        if !object::is_terminating(&namespace) {
            return Ok(false);
        }
        let mut ops = Vec::new();
        let mut remaining = 0;
        for key in state.keys() {
            if key == keys::NAMESPACES {
                continue;
            }
            for obj in state.list(&key, Some(ns)) {
                if object::finalizers(&obj).is_empty() {
                    ops.push(Op::Delete {
                        key: key.clone(),
                        obj: (*obj).clone(),
                    });
                } else {
                    remaining += 1;
                    if !object::is_terminating(&obj) {
                        let mut marked = (*obj).clone();
                        object::meta_mut(&mut marked)
                            .insert("deletionTimestamp".into(), json!(time::now()));
                        object::meta_mut(&mut marked)
                            .insert("deletionGracePeriodSeconds".into(), json!(0));
                        ops.push(Op::Put {
                            key: key.clone(),
                            obj: marked,
                        });
                    }
                }
            }
        }
        let gone = remaining == 0;
        if gone {
            ops.push(Op::Delete {
                key: keys::NAMESPACES.into(),
                obj: (*namespace).clone(),
            });
        }
        state.commit(ops)?;
        Ok(gone)
    }

    /// Deletes objects whose owners are all gone (the garbage collector's sweep; the
    /// synchronous cascade in [`Store::delete`] covers the common case, this catches objects
    /// created for an owner that was deleted concurrently). Returns how many were deleted.
    pub fn collect_orphans(&self) -> Result<usize> {
        let state = self.begin();
        let uids = state.all_uids();
        let mut ops = Vec::new();
        let mut seen = HashSet::new();
        for key in state.keys() {
            for obj in state.list(&key, None) {
                let owners = object::owner_uids(&obj);
                if owners.is_empty() || owners.iter().any(|u| uids.contains(u)) {
                    continue;
                }
                plan_delete(
                    &state,
                    &key,
                    (*obj).clone(),
                    Propagation::Background,
                    &mut ops,
                    &mut seen,
                );
            }
        }
        let n = ops.len();
        state.commit(ops)?;
        Ok(n)
    }
}

impl Store {
    /// Deletes every object stored under `key` (what happens to custom resources when their
    /// CRD is deleted).
    pub fn purge(&self, key: &str) -> Result<usize> {
        let state = self.begin();
        let ops: Vec<Op> = state
            .list(key, None)
            .into_iter()
            .map(|o| Op::Delete {
                key: key.to_string(),
                obj: (*o).clone(),
            })
            .collect();
        let n = ops.len();
        state.commit(ops)?;
        Ok(n)
    }
}

/// Plans the deletion of `obj` and its dependents into `ops`.
fn plan_delete(
    state: &Txn<'_>,
    key: &str,
    obj: Value,
    propagation: Propagation,
    ops: &mut Vec<Op>,
    seen: &mut HashSet<String>,
) {
    let uid = object::uid(&obj).to_string();
    if !seen.insert(uid.clone()) {
        return;
    }
    let has_finalizers = !object::finalizers(&obj).is_empty();
    if has_finalizers {
        // Not gone yet: mark it; dependents follow when the last finalizer is removed.
        if !object::is_terminating(&obj) {
            let mut marked = obj;
            object::meta_mut(&mut marked).insert("deletionTimestamp".into(), json!(time::now()));
            object::meta_mut(&mut marked).insert("deletionGracePeriodSeconds".into(), json!(0));
            ops.push(Op::Put {
                key: key.into(),
                obj: marked,
            });
        }
        return;
    }
    let owner_ns = object::namespace(&obj).to_string();
    let dependents: Vec<(String, Arc<Value>)> = state
        .dependents(&uid)
        .into_iter()
        // Namespaced owners only own objects in their namespace.
        .filter(|(_, d)| owner_ns.is_empty() || object::namespace(d) == owner_ns)
        .collect();
    if propagation == Propagation::Background {
        ops.push(Op::Delete {
            key: key.into(),
            obj: obj.clone(),
        });
    }
    for (dep_key, dep) in dependents {
        let other_owner_alive = object::owner_uids(&dep)
            .iter()
            .any(|u| *u != uid && !seen.contains(u) && state.uid_exists(u));
        if propagation == Propagation::Orphan || other_owner_alive {
            let mut kept = (*dep).clone();
            if let Some(Value::Array(refs)) = kept.pointer_mut("/metadata/ownerReferences") {
                refs.retain(|r| r.get("uid").and_then(Value::as_str) != Some(&uid));
            }
            ops.push(Op::Put {
                key: dep_key,
                obj: kept,
            });
        } else {
            plan_delete(
                state,
                &dep_key,
                (*dep).clone(),
                Propagation::Background,
                ops,
                seen,
            );
        }
    }
    if propagation != Propagation::Background {
        ops.push(Op::Delete {
            key: key.into(),
            obj,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::Registry;

    fn setup() -> (tempfile::TempDir, Store, Registry) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        let registry = Registry::new();
        let ns = registry.builtin(keys::NAMESPACES);
        store
            .create(&ns, json!({"metadata": {"name": "default"}}), false)
            .expect("namespace");
        (dir, store, registry)
    }

    #[test]
    fn create_fills_metadata_and_refuses_duplicates() {
        let (_dir, store, registry) = setup();
        let cm = registry.builtin("configmaps");
        let obj = store
            .create(
                &cm,
                json!({"metadata": {"name": "a", "namespace": "default"}, "data": {"k": "v"}}),
                false,
            )
            .expect("create");
        assert_eq!(obj["apiVersion"], "v1");
        assert_eq!(obj["kind"], "ConfigMap");
        assert_eq!(object::uid(&obj).len(), 36);
        assert_eq!(obj["metadata"]["generation"], 1);
        assert_eq!(object::resource_version(&obj), "2");
        let err = store
            .create(
                &cm,
                json!({"metadata": {"name": "a", "namespace": "default"}}),
                false,
            )
            .expect_err("duplicate");
        assert_eq!(err.code(), 409);
        let err = store
            .create(
                &cm,
                json!({"metadata": {"name": "a", "namespace": "nope"}}),
                false,
            )
            .expect_err("no namespace");
        assert_eq!(err.to_string(), "namespaces \"nope\" not found");
        let generated = store
            .create(
                &cm,
                json!({"metadata": {"generateName": "gen-", "namespace": "default"}}),
                false,
            )
            .expect("generateName");
        assert!(object::name(&generated).starts_with("gen-"));
        assert_eq!(object::name(&generated).len(), 9);
    }

    #[test]
    fn updates_check_resource_version_and_bump_generation_on_spec_changes() {
        let (_dir, store, registry) = setup();
        let deploy = registry.builtin(keys::DEPLOYMENTS);
        let created = store
            .create(
                &deploy,
                json!({"metadata": {"name": "d", "namespace": "default"}, "spec": {"replicas": 1}}),
                false,
            )
            .expect("create");
        let stale = (*created).clone();
        let updated = store
            .update_with(&deploy, "default", "d", Subresource::Main, false, |cur| {
                let mut o = cur.clone();
                o["spec"]["replicas"] = json!(2);
                o["status"] = json!({"replicas": 7});
                Ok(o)
            })
            .expect("update");
        assert_eq!(updated["metadata"]["generation"], 2);
        assert!(updated.get("status").is_none(), "status is a subresource");
        let err = store
            .update_with(&deploy, "default", "d", Subresource::Main, false, |_| {
                Ok(stale.clone())
            })
            .expect_err("stale");
        assert_eq!(err.code(), 409);
        // Labels only: no generation bump.
        let labelled = store
            .update_with(&deploy, "default", "d", Subresource::Main, false, |cur| {
                let mut o = cur.clone();
                o["metadata"]["labels"] = json!({"a": "b"});
                Ok(o)
            })
            .expect("update");
        assert_eq!(labelled["metadata"]["generation"], 2);
        // Unchanged: same resourceVersion.
        let same = store
            .update_with(&deploy, "default", "d", Subresource::Main, false, |cur| {
                Ok(cur.clone())
            })
            .expect("noop");
        assert_eq!(
            object::resource_version(&same),
            object::resource_version(&labelled)
        );
        let status = store
            .update_with(&deploy, "default", "d", Subresource::Status, false, |cur| {
                let mut o = cur.clone();
                o["status"] = json!({"replicas": 2});
                o["spec"]["replicas"] = json!(9);
                Ok(o)
            })
            .expect("status");
        assert_eq!(status["status"]["replicas"], 2);
        assert_eq!(status["spec"]["replicas"], 2);
    }

    #[test]
    fn finalizers_delay_deletion_and_cascade_follows_owner_references() {
        let (_dir, store, registry) = setup();
        let cm = registry.builtin("configmaps");
        let owner = store
            .create(
                &cm,
                json!({"metadata": {"name": "owner", "namespace": "default",
                                    "finalizers": ["example.com/keep"]}}),
                false,
            )
            .expect("owner");
        let child = json!({"metadata": {"name": "child", "namespace": "default",
            "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner",
                                 "uid": object::uid(&owner)}]}});
        store.create(&cm, child, false).expect("child");
        let deleted = store
            .delete(&cm, "default", "owner", &DeleteOptions::default())
            .expect("delete");
        assert!(object::is_terminating(&deleted));
        assert!(store.get("configmaps", "default", "child").is_some());
        store
            .update_with(&cm, "default", "owner", Subresource::Main, false, |cur| {
                let mut o = cur.clone();
                o["metadata"]["finalizers"] = json!([]);
                Ok(o)
            })
            .expect("remove finalizer");
        assert!(store.get("configmaps", "default", "owner").is_none());
        assert!(store.get("configmaps", "default", "child").is_none());
    }

    #[test]
    fn events_are_capped_per_namespace_dropping_the_oldest() {
        let (_dir, store, registry) = setup();
        let events = registry.builtin(keys::EVENTS);
        for i in 0..EVENTS_PER_NAMESPACE + 3 {
            store
                .create(
                    &events,
                    json!({"metadata": {"name": format!("e{i}"), "namespace": "default"},
                           "reason": "Test"}),
                    false,
                )
                .expect("event");
        }
        let (kept, _) = store.list(keys::EVENTS, Some("default"));
        assert_eq!(kept.len(), EVENTS_PER_NAMESPACE);
        assert!(
            store.get(keys::EVENTS, "default", "e2").is_none(),
            "oldest dropped"
        );
        assert!(store.get(keys::EVENTS, "default", "e3").is_some());
    }

    #[test]
    fn watch_history_is_bounded_and_reports_expiry() {
        let (_dir, store, registry) = setup();
        let start = store.current_rv();
        let cm = registry.builtin("configmaps");
        store
            .create(
                &cm,
                json!({"metadata": {"name": "x", "namespace": "default"}}),
                false,
            )
            .expect("create");
        let changes = store.changes_since(start).expect("in window");
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].kind, super::super::ChangeKind::Added);
        assert!(store.changes_since(0).is_ok(), "nothing compacted yet");

        let dir = tempfile::tempdir().expect("tempdir");
        let small = Store::open_with_history(dir.path(), 3).expect("open");
        let ns = registry.builtin(keys::NAMESPACES);
        for i in 0..5 {
            small
                .create(&ns, json!({"metadata": {"name": format!("n{i}")}}), false)
                .expect("create");
        }
        // rv 1..=5 written, only 3..=5 kept: resuming after 2 works, after 1 does not.
        assert_eq!(small.changes_since(2).expect("in window").len(), 3);
        assert_eq!(
            small.changes_since(1).expect_err("compacted"),
            super::super::Expired { oldest: 2 }
        );
    }
}
