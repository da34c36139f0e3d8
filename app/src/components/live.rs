//! The browser's end of the live stream (`/api/live`, Server-Sent Events through
//! gloo-net's `EventSource`): release jobs as the server last saw them, a counter per kind
//! of other change, and whether the stream is up. Pages read the jobs from here the moment
//! they change; while the stream is down (or before the wasm bundle runs) they fall back
//! to polling: `fallback_tick` goes up every few seconds only then.
//!
//! The browser reconnects an EventSource by itself when the server ends a stream (the
//! server says so first with a `Reconnect` message); when the connection is refused or
//! goes silent (no message, not even the server's 15 s ping, for 40 s) this module closes
//! it and opens a new one after a backoff of 1, 2, 4 … 30 s.

use std::collections::BTreeMap;

use leptos::prelude::*;

use crate::domain::live::Touched;
use crate::domain::release::jobs::JobView;

/// Whether the stream is delivering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveState {
    /// Not started yet (server rendering, or the bundle is loading).
    Off,
    Connecting,
    Live,
    /// Down; the page polls until it is back.
    Down,
}

impl LiveState {
    pub fn label(self) -> &'static str {
        match self {
            LiveState::Off | LiveState::Connecting => "Connecting live updates…",
            LiveState::Live => "Live",
            LiveState::Down => "Live updates reconnecting: refreshing every 5 s",
        }
    }
}

/// What the stream has delivered.
#[derive(Clone, Copy)]
pub struct Live {
    pub state: ReadSignal<LiveState>,
    /// The project's jobs as last pushed, by name; `None` once a job is gone.
    pub jobs: ReadSignal<BTreeMap<String, Option<JobView>>>,
    /// Goes up with every pushed job change (for lists of jobs).
    pub job_changes: ReadSignal<u32>,
    /// Goes up when objects of some kind change (or the stream asks for a resync).
    pub touched: ReadSignal<BTreeMap<Touched, u32>>,
    /// Goes up every few seconds while the stream is down: use it as a resource source.
    pub fallback_tick: ReadSignal<u32>,
}

impl Live {
    /// The job as last pushed: `Some(None)` when it is gone.
    pub fn job(&self, name: &str) -> Option<Option<JobView>> {
        self.jobs.with(|j| j.get(name).cloned())
    }

    pub fn touches(&self, kind: Touched) -> u32 {
        self.touched.with(|t| t.get(&kind).copied().unwrap_or(0))
    }
}

/// How often the page polls while the stream is down.
pub const FALLBACK_MS: u64 = 5_000;

/// Subscribes to the project's live stream for as long as the calling component lives.
pub fn use_live(project: String) -> Live {
    let (state, set_state) = signal(LiveState::Off);
    let (jobs, set_jobs) = signal(BTreeMap::new());
    let (job_changes, set_job_changes) = signal(0u32);
    let (touched, set_touched) = signal(BTreeMap::new());
    let (fallback_tick, set_fallback_tick) = signal(0u32);
    Effect::new(move || {
        if state.get() == LiveState::Live {
            return;
        }
        if let Ok(handle) = set_interval_with_handle(
            move || set_fallback_tick.update(|t| *t = t.wrapping_add(1)),
            std::time::Duration::from_millis(FALLBACK_MS),
        ) {
            on_cleanup(move || handle.clear());
        }
    });
    #[cfg(feature = "hydrate")]
    {
        let (stop_tx, stop_rx) = futures::channel::oneshot::channel::<()>();
        on_cleanup(move || {
            let _ = stop_tx.send(());
        });
        leptos::task::spawn_local(browser::run(
            project,
            browser::Sinks {
                state: set_state,
                jobs: set_jobs,
                job_changes: set_job_changes,
                touched: set_touched,
            },
            stop_rx,
        ));
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = (project, set_state, set_jobs, set_job_changes, set_touched);
    }
    Live {
        state,
        jobs,
        job_changes,
        touched,
        fallback_tick,
    }
}

#[cfg(feature = "hydrate")]
mod browser {
    use std::collections::BTreeMap;

    use futures::StreamExt;
    use futures::future::{Either, select};
    use gloo_net::eventsource::futures::EventSource;
    use gloo_timers::future::TimeoutFuture;
    use leptos::prelude::*;

    use super::LiveState;
    use crate::domain::live::{LiveMessage, Touched, backoff_ms, stream_url};
    use crate::domain::release::jobs::JobView;

    /// A stream silent this long is taken for dead (the server pings every 15 s).
    const SILENCE_MS: u32 = 40_000;

    pub struct Sinks {
        pub state: WriteSignal<LiveState>,
        pub jobs: WriteSignal<BTreeMap<String, Option<JobView>>>,
        pub job_changes: WriteSignal<u32>,
        pub touched: WriteSignal<BTreeMap<Touched, u32>>,
    }

    impl Sinks {
        fn apply(&self, message: LiveMessage) {
            match message {
                LiveMessage::Hello => self.state.set(LiveState::Live),
                LiveMessage::Job(job) => {
                    self.jobs.update(|j| {
                        j.insert(job.name.clone(), Some(*job));
                    });
                    self.job_changes.update(|n| *n = n.wrapping_add(1));
                }
                LiveMessage::JobGone(name) => {
                    self.jobs.update(|j| {
                        j.insert(name, None);
                    });
                    self.job_changes.update(|n| *n = n.wrapping_add(1));
                }
                LiveMessage::Touched(kind) => self.touched.update(|t| {
                    *t.entry(kind).or_default() += 1;
                }),
                LiveMessage::Resync => self.touched.update(|t| {
                    for kind in [
                        Touched::Workloads,
                        Touched::Pods,
                        Touched::Events,
                        Touched::Routing,
                    ] {
                        *t.entry(kind).or_default() += 1;
                    }
                }),
                // The browser reconnects by itself; poll meanwhile.
                LiveMessage::Reconnect => self.state.set(LiveState::Down),
            }
        }
    }

    pub async fn run(project: String, sinks: Sinks, stop: futures::channel::oneshot::Receiver<()>) {
        let mut stop = stop;
        let mut failures = 0u32;
        loop {
            sinks.state.set(LiveState::Connecting);
            if let Ok(mut source) = EventSource::new(&stream_url(&project)) {
                let mut subscriptions = Vec::new();
                for name in LiveMessage::EVENT_NAMES.iter().copied().chain(["ping"]) {
                    if let Ok(s) = source.subscribe(name) {
                        subscriptions.push(s);
                    }
                }
                let mut events = futures::stream::select_all(subscriptions);
                loop {
                    let next = select(
                        events.next(),
                        select(&mut stop, TimeoutFuture::new(SILENCE_MS)),
                    )
                    .await;
                    match next {
                        Either::Left((Some(Ok((name, event))), _)) => {
                            if name == "ping" {
                                continue;
                            }
                            let data = event.data().as_string().unwrap_or_default();
                            match LiveMessage::parse(&data) {
                                Ok(m) => {
                                    if m == LiveMessage::Hello {
                                        failures = 0;
                                    }
                                    sinks.apply(m);
                                }
                                Err(e) => leptos::logging::warn!("{e}"),
                            }
                        }
                        // Closed or refused; or nothing heard for too long.
                        Either::Left(_) | Either::Right((Either::Right(_), _)) => break,
                        // The page is gone.
                        Either::Right((Either::Left(_), _)) => {
                            source.close();
                            return;
                        }
                    }
                }
                source.close();
            }
            sinks.state.set(LiveState::Down);
            let wait = TimeoutFuture::new(backoff_ms(failures));
            failures = failures.saturating_add(1);
            if let Either::Left(_) = select(&mut stop, wait).await {
                return;
            }
        }
    }
}

/// A small status chip: is the page live or polling?
#[component]
pub fn LiveChip(live: Live) -> impl IntoView {
    view! {
        <span
            class=move || match live.state.get() {
                LiveState::Live => "live-chip live",
                LiveState::Down => "live-chip down",
                _ => "live-chip",
            }
            data-testid="live-state"
            data-state=move || format!("{:?}", live.state.get()).to_lowercase()
            role="status"
        >
            {move || live.state.get().label()}
        </span>
    }
}
