//! The Tracing section: search the traces of a project's services (Jaeger), see their
//! durations over time and open one. The search lives in the URL.

use leptos::prelude::*;
use leptos_meta::Title;

use super::ChooseProject;
use crate::api::traces::search_traces;
use crate::components::error_panel::error_panel;
use crate::components::trace_results::TraceResults;
use crate::components::trace_search::TraceSearchForm;
use crate::components::{use_project, use_query_pairs};
use crate::domain::traces::TraceQuery;
use crate::domain::traces::search::param;
use crate::error::AppError;

#[component]
pub fn TracingPage() -> impl IntoView {
    let project = use_project();
    view! {
        <Title text="Tracing" />
        <header class="page-header">
            <h1>"Tracing"</h1>
            <p class="lead">
                "Follow requests through the mesh: every phase and internal call with the time spent in each, down to the pod that served it."
            </p>
        </header>
        {move || match project.get() {
            None => view! { <ChooseProject /> }.into_any(),
            Some(p) => view! { <Search project=p /> }.into_any(),
        }}
    }
}

#[component]
fn Search(project: String) -> impl IntoView {
    let pairs = use_query_pairs();
    // No service in the URL: nothing searched yet. Otherwise the query, or what is wrong
    // with it.
    let query = Memo::new(move |_| {
        let p = pairs.get();
        let searched = p
            .iter()
            .any(|(k, v)| k == param::SERVICE && !v.trim().is_empty());
        searched.then(|| TraceQuery::from_params(&p))
    });
    let results = Resource::new(
        move || query.get(),
        |q| async move {
            match q {
                None => Ok(None),
                Some(Err(e)) => Err(AppError::Invalid(e)),
                Some(Ok(q)) => search_traces(q).await.map(Some),
            }
        },
    );
    let form_project = project.clone();
    view! {
        <section class="panel">
            <h2>"Search"</h2>
            {move || {
                let current = query
                    .get()
                    .and_then(Result::ok)
                    .unwrap_or_default();
                view! { <TraceSearchForm project=form_project.clone() current /> }
            }}
        </section>
        <section class="panel" aria-label="Traces">
            <Transition fallback=|| view! { <p class="loading">"Searching traces…"</p> }>
                <ErrorBoundary fallback=error_panel>
                    {move || {
                        let project = project.clone();
                        results
                            .get()
                            .map(|r| {
                                r.map(|found| match found {
                                    None => {
                                        view! {
                                            <p class="muted">
                                                "Choose a service and Find Traces. Istio names services "
                                                <code>"<app>.<project>"</code>
                                                ", e.g. productpage." {project.clone()} "."
                                            </p>
                                        }
                                            .into_any()
                                    }
                                    Some(traces) => {
                                        view! { <TraceResults traces project=Some(project.clone()) /> }
                                            .into_any()
                                    }
                                })
                            })
                    }}
                </ErrorBoundary>
            </Transition>
        </section>
    }
}
