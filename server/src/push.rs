//! Live push to the browser: `GET /api/live?project=NS` is a Server-Sent Events stream of
//! what changes in a project, so a job page shows another operator's slider move at once
//! instead of on its next poll.
//!
//! One set of kube-runtime watchers per console (release jobs, Deployments, Pods, Events,
//! VirtualServices, DestinationRules; all namespaces, the console's own client) feeds a
//! broadcast channel that every stream reads: the API server sees the same load for one
//! browser or two hundred. A stream is opened as the signed-in user (the auth layer put
//! their ports into the request): it starts by listing the project's jobs *as them*, so
//! someone who may not read the jobs gets the same 403 the job list gives, and then
//! carries only that project's changes. Job changes carry the whole job (what the page
//! shows); other kinds carry only "something of kind K changed here", never an object, so
//! a stream reveals nothing the user could not list. Streams end after
//! `--push-max-connection-seconds`; the browser reconnects, which re-checks the session
//! and spreads clients over replicas.
//!
//! SSE rather than WebSocket: the data flows one way, it is plain HTTP (the cross-site
//! guard, the auth layer, proxies and HTTP/2 all apply unchanged), and the browser's
//! `EventSource` reconnects on its own.

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Event as KubeEvent, Pod};
use kube::api::{Api, DynamicObject};
use kube::core::GroupVersionKind;
use kube::discovery::ApiResource;
use kube::runtime::watcher::{self, Event as WatchEvent};
use kube::{Client, Resource, ResourceExt};
use serde::Deserialize;
use sluice_app::domain::live::{LiveMessage, Touched};
use sluice_app::domain::names::check_dns_label;
use sluice_app::error::AppError;
use sluice_app::ports::Ports;
use tokio::sync::{broadcast, watch};

use crate::context::AppState;
use crate::kube::patience::Patience;
use crate::kube::releases::ReleaseJob;

/// A change in some namespace, as the watchers saw it.
#[derive(Debug, Clone)]
pub struct Change {
    pub namespace: String,
    pub message: LiveMessage,
}

/// The watchers' output, shared by every stream of this console.
#[derive(Clone)]
pub struct Hub {
    tx: broadcast::Sender<Arc<Change>>,
    /// How long one stream lasts before the browser must reconnect (and re-authenticate).
    pub max_connection: Duration,
}

/// Changes waiting for slow streams; a stream further behind resynchronises.
const BACKLOG: usize = 4096;

impl Hub {
    /// A hub nothing feeds (no cluster client): streams only keep alive.
    pub fn idle(max_connection: Duration) -> Hub {
        let (tx, _) = broadcast::channel(BACKLOG);
        Hub { tx, max_connection }
    }

    /// Starts the watchers on `client` until `shutdown` turns true.
    pub fn start(client: Client, max_connection: Duration, shutdown: watch::Receiver<bool>) -> Hub {
        let hub = Hub::idle(max_connection);
        let jobs: Api<ReleaseJob> = Api::all(client.clone());
        tokio::spawn(watch_jobs(jobs, hub.tx.clone(), shutdown.clone()));
        spawn_touch::<Deployment>(
            Api::all(client.clone()),
            Touched::Workloads,
            &hub,
            &shutdown,
        );
        spawn_touch::<Pod>(Api::all(client.clone()), Touched::Pods, &hub, &shutdown);
        spawn_touch::<KubeEvent>(Api::all(client.clone()), Touched::Events, &hub, &shutdown);
        for kind in ["VirtualService", "DestinationRule"] {
            let ar =
                ApiResource::from_gvk(&GroupVersionKind::gvk("networking.istio.io", "v1", kind));
            let api: Api<DynamicObject> = Api::all_with(client.clone(), &ar);
            let tx = hub.tx.clone();
            let stop = shutdown.clone();
            tokio::spawn(async move {
                let stream = watcher::watcher(api, watcher::Config::default());
                touch_loop(stream, Touched::Routing, tx, stop).await;
            });
        }
        hub
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Change>> {
        self.tx.subscribe()
    }

    /// Streams open now (for the benchmark and the logs).
    pub fn streams(&self) -> usize {
        self.tx.receiver_count()
    }
}

fn spawn_touch<K>(api: Api<K>, kind: Touched, hub: &Hub, shutdown: &watch::Receiver<bool>)
where
    K: Resource + Clone + std::fmt::Debug + for<'de> Deserialize<'de> + Send + Sync + 'static,
    K::DynamicType: Default,
{
    let tx = hub.tx.clone();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        let stream = watcher::watcher(api, watcher::Config::default());
        touch_loop(stream, kind, tx, stop).await;
    });
}

/// Turns a watch into "kind K changed in namespace N" messages.
async fn touch_loop<K: ResourceExt>(
    stream: impl Stream<Item = Result<WatchEvent<K>, watcher::Error>>,
    kind: Touched,
    tx: broadcast::Sender<Arc<Change>>,
    mut stop: watch::Receiver<bool>,
) {
    let mut stream = std::pin::pin!(stream);
    let mut patience = Patience::default();
    loop {
        let next = tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            next = stream.next() => next,
        };
        if let Some(Ok(event)) = &next {
            patience.saw(event);
        }
        match next {
            None => return,
            // The watcher reconnects when polled again: after a pause that grows.
            Some(Err(e)) => {
                tracing::debug!("live updates: {kind:?} watch: {e}");
                if !patience.wait(&mut stop).await {
                    return;
                }
            }
            Some(Ok(WatchEvent::Apply(o) | WatchEvent::Delete(o))) => {
                if let Some(namespace) = o.namespace() {
                    let _ = tx.send(Arc::new(Change {
                        namespace,
                        message: LiveMessage::Touched(kind),
                    }));
                }
            }
            // The initial listing is what the pages already fetched.
            Some(Ok(_)) => {}
        }
    }
}

async fn watch_jobs(
    api: Api<ReleaseJob>,
    tx: broadcast::Sender<Arc<Change>>,
    mut stop: watch::Receiver<bool>,
) {
    let stream = watcher::watcher(api, watcher::Config::default());
    let mut stream = std::pin::pin!(stream);
    let mut patience = Patience::default();
    loop {
        let next = tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            next = stream.next() => next,
        };
        if let Some(Ok(event)) = &next {
            patience.saw(event);
        }
        let change = match next {
            None => return,
            Some(Err(e)) => {
                tracing::debug!("live updates: release job watch: {e}");
                if !patience.wait(&mut stop).await {
                    return;
                }
                continue;
            }
            Some(Ok(WatchEvent::Apply(job) | WatchEvent::InitApply(job))) => {
                let namespace = job.namespace().unwrap_or_default();
                let view = crate::kube::releases_port::view(job, &namespace);
                Change {
                    namespace,
                    message: LiveMessage::Job(Box::new(view)),
                }
            }
            Some(Ok(WatchEvent::Delete(job))) => Change {
                namespace: job.namespace().unwrap_or_default(),
                message: LiveMessage::JobGone(job.name_any()),
            },
            Some(Ok(_)) => continue,
        };
        let _ = tx.send(Arc::new(change));
    }
}

#[derive(Deserialize)]
pub struct LiveQuery {
    project: String,
}

fn error_response(e: &AppError) -> Response {
    let code = StatusCode::from_u16(e.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::to_string(e).unwrap_or_else(|_| "{}".into());
    (code, [("content-type", "application/json")], body).into_response()
}

fn sse(message: &LiveMessage) -> Event {
    Event::default()
        .event(message.event_name())
        .data(serde_json::to_string(message).unwrap_or_default())
}

/// How often repeated "kind changed" messages are passed on, at most.
const TOUCH_EVERY: Duration = Duration::from_millis(300);

/// `GET /api/live?project=NS`: the project's changes, as the signed-in user may see them.
pub async fn live(
    State(state): State<AppState>,
    ports: Option<Extension<Ports>>,
    Query(q): Query<LiveQuery>,
) -> Response {
    let Some(Extension(ports)) = ports else {
        return error_response(&AppError::Unauthenticated(
            "You are not signed in (or your session has ended): sign in to use the console.".into(),
        ));
    };
    if let Err(e) = check_dns_label("Project", &q.project) {
        return error_response(&AppError::Invalid(e));
    }
    let project = q.project;
    // Subscribe before listing, so nothing between the two is missed.
    let mut rx = state.hub.subscribe();
    let snapshot = match ports.releases.list_jobs(&project).await {
        Ok(jobs) => jobs,
        Err(e) => return error_response(&e),
    };
    let deadline = tokio::time::Instant::now() + state.hub.max_connection;
    let stream = async_stream(move |tx| async move {
        let send = |m: LiveMessage| tx.send(Ok::<_, Infallible>(sse(&m)));
        if send(LiveMessage::Hello).await.is_err() {
            return;
        }
        for job in snapshot {
            if send(LiveMessage::Job(Box::new(job))).await.is_err() {
                return;
            }
        }
        let mut touched: BTreeSet<Touched> = BTreeSet::new();
        let mut flush = tokio::time::interval(TOUCH_EVERY);
        flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => {
                    let _ = send(LiveMessage::Reconnect).await;
                    return;
                }
                _ = flush.tick(), if !touched.is_empty() => {
                    for kind in std::mem::take(&mut touched) {
                        if send(LiveMessage::Touched(kind)).await.is_err() {
                            return;
                        }
                    }
                }
                change = rx.recv() => match change {
                    Ok(c) if c.namespace == project => match &c.message {
                        LiveMessage::Touched(kind) => {
                            touched.insert(*kind);
                        }
                        m => {
                            if send(m.clone()).await.is_err() {
                                return;
                            }
                        }
                    },
                    Ok(_) => {}
                    // Too far behind: the page refetches everything.
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        if send(LiveMessage::Resync).await.is_err() {
                            return;
                        }
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                },
            }
        }
    });
    Sse::new(stream)
        // A named ping, so the page can tell a quiet stream from a dead one.
        .keep_alive(
            KeepAlive::new()
                .interval(Duration::from_secs(15))
                .event(Event::default().event("ping").data("")),
        )
        .into_response()
}

/// A stream fed by a task through a small channel: the task ends when the browser goes.
fn async_stream<F, Fut>(f: F) -> impl Stream<Item = Result<Event, Infallible>>
where
    F: FnOnce(tokio::sync::mpsc::Sender<Result<Event, Infallible>>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(f(tx));
    tokio_stream_from(rx)
}

fn tokio_stream_from<T: Send + 'static>(
    mut rx: tokio::sync::mpsc::Receiver<T>,
) -> impl Stream<Item = T> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
