//! Watches: a chunked response of JSON lines, one `{"type": ..., "object": ...}` per event.
//!
//! Semantics follow kube-apiserver, because kube-rs' watcher and `kubectl get -w` depend on
//! them: without a resourceVersion (or with "0") the watch starts with an ADDED event per
//! existing object; with one it replays every change after it from the store's bounded
//! history, or sends an ERROR event carrying a 410 `Expired` Status when that history no
//! longer reaches back so far (clients then relist). Selector watches turn changes that move
//! an object into or out of the selection into ADDED/DELETED. BOOKMARK events carry the
//! current resourceVersion when the client allows them, and `sendInitialEvents=true` ends the
//! initial burst with the `k8s.io/initial-events-end` bookmark (kube-rs' streaming lists).
//! A watch ends at `timeoutSeconds` (default 30 minutes), when the client goes away, or at
//! shutdown.

use std::{convert::Infallible, sync::Arc, time::Duration};

use axum::{
    body::{Body, Bytes},
    http::{HeaderValue, StatusCode, header},
    response::Response,
};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::{
    ApiContext, Output, convert, query::Query, selector::Selectors, status::Status, table,
};
use crate::{
    error::Result,
    object,
    resources::ResourceDef,
    store::{ChangeKind, Expired},
};

/// How long a watch lasts when the client does not say (kube-apiserver picks 30–60 min).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// How often a bookmark is sent to clients that allow them.
const BOOKMARK_EVERY: Duration = Duration::from_secs(15);
/// Lines buffered per watch before the producer waits for the client.
const BUFFER: usize = 256;

/// Where the watch starts.
enum Start {
    /// Send the current objects as ADDED, then changes after `rv`.
    Snapshot,
    /// Send changes after this resourceVersion.
    After(u64),
}

struct Watch {
    ctx: Arc<ApiContext>,
    def: Arc<ResourceDef>,
    version: String,
    namespace: Option<String>,
    selectors: Selectors,
    output: Output,
    include: super::query::IncludeObject,
}

impl Watch {
    fn matches(&self, stored: &Value) -> Option<Value> {
        if let Some(ns) = &self.namespace
            && object::namespace(stored) != ns
        {
            return None;
        }
        let shown = convert::from_storage(&self.def, &self.version, stored);
        self.selectors.matches(&shown).then_some(shown)
    }

    fn line(&self, kind: &str, stored: &Value, shown: Value) -> Bytes {
        let object = match self.output {
            Output::Object => shown,
            Output::Metadata => table::partial_metadata(stored),
            Output::Table => {
                let rv = object::resource_version(stored).parse().unwrap_or(0);
                table::table(
                    &self.def,
                    &self.version,
                    &[Arc::new(stored.clone())],
                    rv,
                    self.include,
                )
            }
        };
        let mut text = json!({"type": kind, "object": object}).to_string();
        text.push('\n');
        Bytes::from(text)
    }

    fn bookmark(&self, rv: u64, initial_end: bool) -> Bytes {
        let mut meta = json!({"resourceVersion": rv.to_string()});
        if initial_end {
            meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let object = json!({
            "kind": self.def.kind,
            "apiVersion": self.def.api_version(&self.version),
            "metadata": meta,
        });
        let mut text = json!({"type": "BOOKMARK", "object": object}).to_string();
        text.push('\n');
        Bytes::from(text)
    }
}

fn error_line(status: &Status) -> Bytes {
    let mut text = json!({"type": "ERROR", "object": status.to_json()}).to_string();
    text.push('\n');
    Bytes::from(text)
}

/// Starts a watch and returns the streaming response.
pub fn serve(
    ctx: Arc<ApiContext>,
    def: Arc<ResourceDef>,
    version: String,
    namespace: Option<String>,
    selectors: Selectors,
    query: &Query,
    output: Output,
) -> Result<Response> {
    let start = match query.resource_version.as_deref() {
        None | Some("0") => Start::Snapshot,
        Some(rv) => Start::After(rv.parse().map_err(|_| {
            Status::bad_request(format!("invalid resourceVersion {rv:?}: not a number"))
        })?),
    };
    let timeout = query
        .timeout_seconds
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_TIMEOUT);
    let bookmarks = query.allow_watch_bookmarks;
    let initial_events = query.send_initial_events;
    let watch = Watch {
        ctx,
        def,
        version,
        namespace,
        selectors,
        output,
        include: query.include_object,
    };

    let (tx, mut rx) = mpsc::channel::<Bytes>(BUFFER);
    tokio::spawn(async move {
        if let Err(err) = run(watch, start, initial_events, bookmarks, timeout, tx).await {
            tracing::debug!("watch ended: {err}");
        }
    });
    let stream = futures_util::stream::poll_fn(move |cx| {
        rx.poll_recv(cx).map(|o| o.map(Ok::<Bytes, Infallible>))
    });
    let mut resp = Response::new(Body::from_stream(stream));
    *resp.status_mut() = StatusCode::OK;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(resp)
}

/// The client went away.
#[derive(Debug)]
struct Closed;

impl std::fmt::Display for Closed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("client closed the watch")
    }
}

async fn run(
    watch: Watch,
    start: Start,
    initial_events: bool,
    bookmarks: bool,
    timeout: Duration,
    tx: mpsc::Sender<Bytes>,
) -> Result<(), Closed> {
    let mut shutdown = watch.ctx.shutdown.clone();
    // A client that stops reading must not keep the watch (and shutdown) waiting forever.
    let send = |line: Bytes| {
        let tx = tx.clone();
        let mut stop = watch.ctx.shutdown.clone();
        async move {
            tokio::select! {
                sent = tx.send(line) => sent.map_err(|_| Closed),
                _ = stop.wait_for(|stop| *stop) => Err(Closed),
            }
        }
    };
    if *shutdown.borrow() {
        return Ok(());
    }
    let store = Arc::clone(&watch.ctx.store);
    // Subscribe before reading the starting point so no change slips in between.
    let mut notify = store.subscribe();
    let mut last = match start {
        Start::After(rv) if rv > store.current_rv() => {
            // From the future: the client saw another incarnation of this store (its data
            // directory was replaced). Make it relist rather than wait for the counter.
            let current = store.current_rv();
            send(error_line(&Status::expired(rv, current))).await?;
            return Ok(());
        }
        Start::After(rv) if !initial_events => rv,
        _ => {
            let key = watch.def.storage_key.clone();
            let ns = watch.namespace.clone();
            let (items, rv) = store.list(&key, ns.as_deref());
            for item in items {
                if let Some(shown) = watch.matches(&item) {
                    send(watch.line("ADDED", &item, shown)).await?;
                }
            }
            if initial_events {
                send(watch.bookmark(rv, true)).await?;
            }
            rv
        }
    };
    let deadline = tokio::time::Instant::now() + timeout;
    let mut ticker = tokio::time::interval(BOOKMARK_EVERY);
    ticker.tick().await;
    loop {
        match store.changes_since(last) {
            Err(Expired { oldest }) => {
                send(error_line(&Status::expired(last, oldest))).await?;
                return Ok(());
            }
            Ok(changes) => {
                for change in changes {
                    last = change.rv;
                    if change.key != watch.def.storage_key {
                        continue;
                    }
                    let now = watch.matches(&change.object);
                    let before = change.previous.as_deref().and_then(|p| watch.matches(p));
                    let kind = match (change.kind, before.is_some(), now) {
                        (ChangeKind::Deleted, _, Some(shown)) => Some(("DELETED", shown)),
                        (ChangeKind::Added, _, Some(shown)) => Some(("ADDED", shown)),
                        (ChangeKind::Modified, true, Some(shown)) => Some(("MODIFIED", shown)),
                        (ChangeKind::Modified, false, Some(shown)) => Some(("ADDED", shown)),
                        (ChangeKind::Modified, true, None) => {
                            // Left the selection: a DELETED with the new state, like
                            // kube-apiserver's watch cache.
                            let shown =
                                convert::from_storage(&watch.def, &watch.version, &change.object);
                            Some(("DELETED", shown))
                        }
                        _ => None,
                    };
                    if let Some((kind, shown)) = kind {
                        send(watch.line(kind, &change.object, shown)).await?;
                    }
                }
            }
        }
        tokio::select! {
            changed = notify.changed() => {
                if changed.is_err() {
                    return Ok(());
                }
            }
            _ = tokio::time::sleep_until(deadline) => return Ok(()),
            _ = ticker.tick(), if bookmarks => {
                send(watch.bookmark(last, false)).await?;
            }
            _ = shutdown.changed() => return Ok(()),
            _ = tx.closed() => return Err(Closed),
        }
    }
}
