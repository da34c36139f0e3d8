//! The connection state shown on every page: a banner when the cluster cannot be used
//! (what was tried, the error, how to fix it) and small status chips for the cluster,
//! Prometheus and Jaeger. The check repeats in the browser, so the banner goes away by
//! itself once the cluster answers.

use std::time::Duration;

use leptos::prelude::*;

use crate::api::system::get_system_status;
use crate::domain::backends::{BackendStatus, SystemStatus};
use crate::domain::cluster::ClusterStatus;
use crate::error::AppError;

/// How often the browser re-checks the backends.
const RECHECK: Duration = Duration::from_secs(15);

#[derive(Clone, Copy)]
pub struct SystemStatusResource(pub Resource<Result<SystemStatus, AppError>>);

/// Creates the one status resource the shell's parts share.
pub fn provide_system_status() {
    let tick = RwSignal::new(0u32);
    Effect::new(move || {
        if let Ok(handle) =
            set_interval_with_handle(move || tick.update(|t| *t = t.wrapping_add(1)), RECHECK)
        {
            on_cleanup(move || handle.clear());
        }
    });
    let resource = Resource::new(move || tick.get(), |_| get_system_status());
    provide_context(SystemStatusResource(resource));
}

fn use_system_status() -> Resource<Result<SystemStatus, AppError>> {
    expect_context::<SystemStatusResource>().0
}

#[component]
pub fn ClusterBanner() -> impl IntoView {
    let status = use_system_status();
    view! {
        <Transition fallback=|| ()>
            {move || {
                status
                    .get()
                    .map(|result| match result {
                        Ok(SystemStatus { cluster: ClusterStatus::Unavailable(problem), .. }) => {
                            view! {
                                <section class="cluster-banner" role="alert">
                                    <h2>{problem.headline()}</h2>
                                    <dl>
                                        <dt>"Tried"</dt>
                                        <dd>{problem.target.describe()}</dd>
                                        <dt>"Error"</dt>
                                        <dd class="detail">{problem.detail.clone()}</dd>
                                        <dt>"How to fix"</dt>
                                        <dd>{problem.fix()}</dd>
                                    </dl>
                                </section>
                            }
                                .into_any()
                        }
                        Ok(_) => ().into_any(),
                        Err(e) => {
                            view! {
                                <section class="cluster-banner" role="alert">
                                    <h2>"Sluice cannot check its connections"</h2>
                                    <p>{e.to_string()}</p>
                                </section>
                            }
                                .into_any()
                        }
                    })
            }}
        </Transition>
    }
}

#[component]
pub fn BackendChips() -> impl IntoView {
    let status = use_system_status();
    view! {
        <ul class="backend-chips" aria-label="Connections">
            <Transition fallback=|| ()>
                {move || {
                    status
                        .get()
                        .and_then(Result::ok)
                        .map(|s| {
                            let (cluster_ok, cluster_text) = match &s.cluster {
                                ClusterStatus::Connected { target, version } => {
                                    let name = if target.sandbox { "Sandbox" } else { "Cluster" };
                                    (true, format!("{name} {version}"))
                                }
                                ClusterStatus::Unavailable(_) => (false, "No cluster".to_string()),
                            };
                            let cluster_title = match &s.cluster {
                                ClusterStatus::Connected { target, .. } => target.describe(),
                                ClusterStatus::Unavailable(p) => p.headline().to_string(),
                            };
                            view! {
                                <li class="chip" class:ok=cluster_ok title=cluster_title>
                                    {cluster_text}
                                </li>
                                {chip("Prometheus", &s.metrics)}
                                {chip("Jaeger", &s.traces)}
                            }
                        })
                }}
            </Transition>
        </ul>
    }
}

fn chip(what: &'static str, status: &BackendStatus) -> impl IntoView + use<> {
    let text = match status {
        BackendStatus::Ready { .. } => what.to_string(),
        BackendStatus::NotConfigured { .. } => format!("{what}: not configured"),
        BackendStatus::Unreachable { .. } => format!("{what}: down"),
        BackendStatus::Missing { .. } => format!("{what}: unavailable"),
    };
    view! {
        <li class="chip" class:ok=status.is_ready() title=status.summary(what)>
            {text}
        </li>
    }
}
