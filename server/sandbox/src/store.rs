//! The object store: every kind in one generic map, one global resourceVersion, a bounded
//! change history for watches, and durability through [`wal`].
//!
//! kube-apiserver keeps objects in etcd keyed by resource, namespace and name, with one
//! cluster-wide revision counter that becomes `metadata.resourceVersion`; watches are served
//! from a bounded window of recent changes and a watch from before that window gets
//! `410 Gone`. The sandbox copies that model because clients depend on it: kube-rs
//! watchers resume from the last resourceVersion they saw and relist on 410.
//!
//! Concurrency: one mutex around the whole state. A write validates, appends to the log,
//! fsyncs, applies in memory, records the change and wakes watchers, all under the lock, so
//! watchers see changes in resourceVersion order and never a change that is not durable.
//! The fsync makes writes blocking; async callers go through `tokio::task::spawn_blocking`
//! (see [`Store::blocking`]).

pub mod ops;
pub mod wal;

use std::{
    collections::{BTreeMap, HashMap, HashSet, VecDeque},
    path::Path,
    sync::{Arc, Mutex, MutexGuard},
};

use serde_json::{Value, json};
use tokio::sync::watch;

use crate::{
    error::{Result, SandboxError},
    object,
};
use wal::{Record, Wal};

/// How many changes watches can resume from (kube-apiserver's watch cache holds a similar
/// window per resource).
pub const HISTORY_LIMIT: usize = 10_000;
/// Log size that triggers a snapshot.
const SNAPSHOT_AFTER_BYTES: u64 = 16 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Added,
    Modified,
    Deleted,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Added => "ADDED",
            ChangeKind::Modified => "MODIFIED",
            ChangeKind::Deleted => "DELETED",
        }
    }
}

/// One committed change.
#[derive(Debug)]
pub struct Change {
    pub rv: u64,
    /// Storage key of the resource.
    pub key: String,
    pub kind: ChangeKind,
    /// The object after the change (for deletes: its last state, with the deletion's rv).
    pub object: Arc<Value>,
    /// The object before the change (label-selector watches need it to turn a change that
    /// moves an object out of the selection into DELETED).
    pub previous: Option<Arc<Value>>,
}

/// A pending write, built by the operations in [`ops`] and applied by [`Txn::commit`].
#[derive(Debug)]
pub(crate) enum Op {
    Put { key: String, obj: Value },
    Delete { key: String, obj: Value },
}

type ObjectId = (String, String);

/// The in-memory state. Its lock is only ever held for memory operations, never across
/// disk IO, so reads and watches are not delayed by a writer's fsync.
struct Data {
    rv: u64,
    objects: HashMap<String, BTreeMap<ObjectId, Arc<Value>>>,
    history: VecDeque<Arc<Change>>,
    /// Changes at or below this resourceVersion are no longer in `history`.
    compacted_rv: u64,
    history_limit: usize,
}

/// The store.
pub struct Store {
    data: Mutex<Data>,
    /// The log, and the writers' lock: a write holds it from reading the current state to
    /// applying its change, so no other write interleaves (see [`Txn`]).
    wal: Mutex<Wal>,
    notify: watch::Sender<u64>,
    fresh: bool,
}

/// A write in progress: holds the writers' lock, reads the state, then commits.
pub(crate) struct Txn<'a> {
    store: &'a Store,
    wal: MutexGuard<'a, Wal>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expired {
    pub oldest: u64,
}

impl Store {
    /// Opens the store in `dir`, replaying what is on disk, and compacts the log into a fresh
    /// snapshot so every start begins from one file.
    pub fn open(dir: &Path) -> Result<Store> {
        Store::open_with_history(dir, HISTORY_LIMIT)
    }

    /// [`Store::open`] with a different watch history size (tests use a small one).
    pub fn open_with_history(dir: &Path, history_limit: usize) -> Result<Store> {
        let (wal, loaded) = Wal::open(dir)?;
        let mut objects: HashMap<String, BTreeMap<ObjectId, Arc<Value>>> = HashMap::new();
        for (key, obj) in loaded.objects {
            let id = (
                object::namespace(&obj).to_string(),
                object::name(&obj).to_string(),
            );
            objects.entry(key).or_default().insert(id, Arc::new(obj));
        }
        let data = Data {
            rv: loaded.rv,
            objects,
            history: VecDeque::new(),
            compacted_rv: loaded.rv,
            history_limit: history_limit.max(1),
        };
        let (notify, _) = watch::channel(loaded.rv);
        let store = Store {
            data: Mutex::new(data),
            wal: Mutex::new(wal),
            notify,
            fresh: !loaded.existed,
        };
        if loaded.existed {
            store.snapshot()?;
        }
        Ok(store)
    }

    /// Whether the directory held no state (so the caller seeds the initial namespaces).
    pub fn is_fresh(&self) -> bool {
        self.fresh
    }

    fn data(&self) -> MutexGuard<'_, Data> {
        // A panic while holding a lock cannot leave a half-applied change (commit applies
        // only after the log write succeeded, and applying does not panic), so a poisoned
        // lock still guards consistent data.
        self.data.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts a write.
    pub(crate) fn begin(&self) -> Txn<'_> {
        Txn {
            store: self,
            wal: self.wal.lock().unwrap_or_else(|e| e.into_inner()),
        }
    }

    /// Runs a blocking store operation off the async runtime.
    pub async fn blocking<T, F>(self: &Arc<Self>, f: F) -> Result<T>
    where
        F: FnOnce(&Store) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let store = Arc::clone(self);
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(|e| SandboxError::io("store task failed", std::io::Error::other(e)))?
    }

    pub fn get(&self, key: &str, ns: &str, name: &str) -> Option<Arc<Value>> {
        self.data().get(key, ns, name)
    }

    /// The objects of one resource (in one namespace, or all) and the resourceVersion the
    /// list is consistent with.
    pub fn list(&self, key: &str, ns: Option<&str>) -> (Vec<Arc<Value>>, u64) {
        let data = self.data();
        (data.list(key, ns), data.rv)
    }

    pub fn current_rv(&self) -> u64 {
        self.data().rv
    }

    /// Every uid in the store (the garbage collector's "does the owner still exist?").
    pub fn all_uids(&self) -> HashSet<String> {
        self.data().all_uids()
    }

    /// All objects of every resource, with their storage keys.
    pub fn all_objects(&self) -> Vec<(String, Arc<Value>)> {
        let data = self.data();
        data.objects
            .iter()
            .flat_map(|(k, m)| m.values().map(move |o| (k.clone(), Arc::clone(o))))
            .collect()
    }

    /// Changes after `rv`, or [`Expired`] when some of them have been dropped.
    pub fn changes_since(&self, rv: u64) -> Result<Vec<Arc<Change>>, Expired> {
        self.data().changes_since(rv)
    }

    /// A receiver that changes whenever a write commits (it carries the new
    /// resourceVersion); watchers then read [`Store::changes_since`]. Subscribe before
    /// reading the state you start from, so no change is missed.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.notify.subscribe()
    }

    /// Writes a snapshot now and empties the log.
    pub fn snapshot(&self) -> Result<()> {
        let mut wal = self.wal.lock().unwrap_or_else(|e| e.into_inner());
        self.snapshot_locked(&mut wal)
    }

    fn snapshot_locked(&self, wal: &mut Wal) -> Result<()> {
        // Holding the writers' lock, the data cannot change; copy it out (cheap Arc clones)
        // so the data lock is not held while writing the file.
        let (rv, mut entries) = {
            let data = self.data();
            let entries: Vec<(String, Arc<Value>)> = data
                .objects
                .iter()
                .flat_map(|(k, m)| m.values().map(move |o| (k.clone(), Arc::clone(o))))
                .collect();
            (data.rv, entries)
        };
        entries.sort_by(|a, b| {
            (&a.0, object::namespace(&a.1), object::name(&a.1)).cmp(&(
                &b.0,
                object::namespace(&b.1),
                object::name(&b.1),
            ))
        });
        wal.snapshot(rv, entries.iter().map(|(k, o)| (k.as_str(), o.as_ref())))
    }
}

impl Data {
    fn all_uids(&self) -> HashSet<String> {
        self.objects
            .values()
            .flat_map(|m| m.values())
            .map(|o| object::uid(o).to_string())
            .collect()
    }

    fn get(&self, key: &str, ns: &str, name: &str) -> Option<Arc<Value>> {
        self.objects
            .get(key)?
            .get(&(ns.to_string(), name.to_string()))
            .cloned()
    }

    fn list(&self, key: &str, ns: Option<&str>) -> Vec<Arc<Value>> {
        let Some(map) = self.objects.get(key) else {
            return Vec::new();
        };
        match ns {
            None => map.values().cloned().collect(),
            Some(ns) => map
                .range((ns.to_string(), String::new())..)
                .take_while(|((n, _), _)| n == ns)
                .map(|(_, v)| Arc::clone(v))
                .collect(),
        }
    }

    fn changes_since(&self, rv: u64) -> Result<Vec<Arc<Change>>, Expired> {
        if rv < self.compacted_rv {
            return Err(Expired {
                oldest: self.compacted_rv,
            });
        }
        let start = self.history.partition_point(|c| c.rv <= rv);
        Ok(self.history.range(start..).cloned().collect())
    }

    /// Applies logged changes to memory and the history.
    fn apply(&mut self, written: &[(u64, String, Arc<Value>, bool)]) {
        for (rv, key, obj, delete) in written {
            let id = (
                object::namespace(obj).to_string(),
                object::name(obj).to_string(),
            );
            let map = self.objects.entry(key.clone()).or_default();
            let (kind, previous) = if *delete {
                (ChangeKind::Deleted, map.remove(&id))
            } else {
                match map.insert(id, Arc::clone(obj)) {
                    Some(prev) => (ChangeKind::Modified, Some(prev)),
                    None => (ChangeKind::Added, None),
                }
            };
            self.history.push_back(Arc::new(Change {
                rv: *rv,
                key: key.clone(),
                kind,
                object: Arc::clone(obj),
                previous,
            }));
            while self.history.len() > self.history_limit {
                if let Some(dropped) = self.history.pop_front() {
                    self.compacted_rv = dropped.rv;
                }
            }
            self.rv = *rv;
        }
    }
}

impl Txn<'_> {
    pub(crate) fn get(&self, key: &str, ns: &str, name: &str) -> Option<Arc<Value>> {
        self.store.data().get(key, ns, name)
    }

    pub(crate) fn list(&self, key: &str, ns: Option<&str>) -> Vec<Arc<Value>> {
        self.store.data().list(key, ns)
    }

    pub(crate) fn keys(&self) -> Vec<String> {
        self.store.data().objects.keys().cloned().collect()
    }

    pub(crate) fn all_uids(&self) -> HashSet<String> {
        self.store.data().all_uids()
    }

    /// Objects anywhere whose ownerReferences name `uid`.
    pub(crate) fn dependents(&self, uid: &str) -> Vec<(String, Arc<Value>)> {
        let data = self.store.data();
        data.objects
            .iter()
            .flat_map(|(k, m)| m.values().map(move |o| (k, o)))
            .filter(|(_, o)| object::owner_uids(o).iter().any(|u| u == uid))
            .map(|(k, o)| (k.clone(), Arc::clone(o)))
            .collect()
    }

    pub(crate) fn uid_exists(&self, uid: &str) -> bool {
        let data = self.store.data();
        data.objects
            .values()
            .flat_map(|m| m.values())
            .any(|o| object::uid(o) == uid)
    }

    /// Makes `ops` durable, then visible, assigning each the next resourceVersion. Returns
    /// the objects as written.
    pub(crate) fn commit(mut self, ops: Vec<Op>) -> Result<Vec<Arc<Value>>> {
        if ops.is_empty() {
            return Ok(Vec::new());
        }
        let mut rv = self.store.data().rv;
        let mut records = Vec::with_capacity(ops.len());
        let mut written = Vec::with_capacity(ops.len());
        for op in ops {
            rv += 1;
            let (key, mut obj, delete) = match op {
                Op::Put { key, obj } => (key, obj, false),
                Op::Delete { key, obj } => (key, obj, true),
            };
            object::meta_mut(&mut obj).insert("resourceVersion".into(), json!(rv.to_string()));
            records.push(if delete {
                Record::Delete {
                    rv,
                    key: key.clone(),
                    ns: object::namespace(&obj).to_string(),
                    name: object::name(&obj).to_string(),
                }
            } else {
                Record::Put {
                    rv,
                    key: key.clone(),
                    obj: obj.clone(),
                }
            });
            written.push((rv, key, Arc::new(obj), delete));
        }
        // Durable first: if the log write fails nothing changes in memory.
        self.wal.append(&records)?;
        self.store.data().apply(&written);
        self.store.notify.send_replace(rv);
        if self.wal.bytes() > SNAPSHOT_AFTER_BYTES
            && let Err(err) = self.store.snapshot_locked(&mut self.wal)
        {
            // The changes are safe in the log; a failed snapshot only means a longer replay.
            tracing::warn!("sandbox snapshot failed: {err}");
        }
        Ok(written.into_iter().map(|(_, _, obj, _)| obj).collect())
    }
}
