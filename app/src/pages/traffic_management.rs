//! Traffic Management: the live service topology of a project (issue #7). Who calls whom,
//! request rate, success rate and p95 latency on the edges, health colours, app boxes
//! around versions, badges for release jobs, routing, mirroring, missing sidecars and
//! configuration problems (the Services page's diagnosis).
//! Clicking a node or edge opens its charts beside the graph.
//!
//! All view state is in the URL (`?project=&window=&refresh=&graph=&layout=&labels=&item=`), so a
//! link shows the same view. The selectors are a plain GET form and every node and edge is
//! listed with a link, so the page works before (or without) the wasm bundle.

use leptos::prelude::*;
use leptos_meta::{Link, Title};
use leptos_router::NavigateOptions;
use leptos_router::hooks::{use_navigate, use_query_map};

use super::ChooseProject;
use crate::api::topology::get_topology;
use crate::components::error_panel::error_panel;
use crate::components::refresh_control::{RefreshControl, use_refresh_tick};
use crate::components::topology_graph::elements::{
    GRAPH_PARAM, ITEM_PARAM, LABELS_PARAM, LARGE_GRAPH, LAYOUT_PARAM, LabelMode, LayoutChoice,
    WINDOW_PARAM, WINDOWS, empty_state, window_minutes,
};
use crate::components::topology_graph::{GraphNotice, GraphSummary, TopologyGraph};
use crate::components::topology_panel::TopologyPanel;
use crate::components::{use_project, use_query_pairs};
use crate::domain::links::with_param;
use crate::domain::refresh::REFRESH_PARAM;
use crate::domain::topology::{Graph, GraphView};

const PATH: &str = "/traffic-management";

#[component]
pub fn TrafficManagementPage() -> impl IntoView {
    let project = use_project();
    view! {
        <Title text="Traffic Management" />
        // The graph library, fetched while the app's own bundle loads.
        <Link rel="preload" href="/vendor/cytoscape/cytoscape.min.js" as_="script" />
        <header class="page-header">
            <h1>"Traffic Management"</h1>
            <p class="lead">"The live service topology of a project: who calls whom, request rate, success rate and latency, with health colours."</p>
        </header>
        {move || match project.get() {
            None => view! { <ChooseProject /> }.into_any(),
            Some(p) => view! { <Topology project=p /> }.into_any(),
        }}
    }
}

#[component]
fn Topology(project: String) -> impl IntoView {
    let query = use_query_map();
    let pairs = use_query_pairs();
    let minutes = Memo::new(move |_| window_minutes(query.read().get(WINDOW_PARAM).as_deref()));
    let layout = Memo::new(move |_| LayoutChoice::parse(query.read().get(LAYOUT_PARAM).as_deref()));
    let labels = Memo::new(move |_| LabelMode::parse(query.read().get(LABELS_PARAM).as_deref()));
    let item = Memo::new(move |_| query.read().get(ITEM_PARAM).filter(|i| !i.is_empty()));
    let asked_view = Memo::new(move |_| GraphView::parse(query.read().get(GRAPH_PARAM).as_deref()));
    let tick = use_refresh_tick();

    let graph = {
        let project = project.clone();
        Resource::new(
            move || (project.clone(), minutes.get(), asked_view.get(), tick.get()),
            |(p, m, v, _)| get_topology(p, m, v.map(|v| v.as_str().to_string())),
        )
    };
    // The drawing follows the latest good answer; a failed refresh keeps the last one on
    // screen under the error.
    let latest = RwSignal::new(None::<Graph>);
    Effect::new(move || {
        if let Some(Ok(g)) = graph.get() {
            latest.set(Some(g));
        }
    });

    let navigate = use_navigate();
    let set_param = move |key: &'static str, value: Option<String>| {
        let href = with_param(PATH, &pairs.get_untracked(), key, value.as_deref());
        navigate(
            &href,
            NavigateOptions {
                scroll: false,
                ..Default::default()
            },
        );
    };
    let set_param = StoredValue::new(set_param);
    let on_select = Callback::new(move |id: Option<String>| {
        if id != item.get_untracked() {
            set_param.with_value(|f| f(ITEM_PARAM, id));
        }
    });
    let close_href = Signal::derive(move || with_param(PATH, &pairs.get(), ITEM_PARAM, None));

    let hydrated = RwSignal::new(false);
    Effect::new(move || hydrated.set(true));
    let select = move |name: &'static str,
                       label: &'static str,
                       options: Vec<(String, String)>,
                       current: Signal<String>| {
        view! {
            <label class="field inline">
                {label}
                <select
                    name=name
                    prop:value=move || current.get()
                    on:change=move |ev| {
                        let v = event_target_value(&ev);
                        set_param.with_value(|f| f(name, Some(v)));
                    }
                >
                    {options
                        .into_iter()
                        .map(|(value, text)| {
                            let v = value.clone();
                            view! {
                                <option value=value selected=move || current.get() == v>
                                    {text}
                                </option>
                            }
                        })
                        .collect_view()}
                </select>
            </label>
        }
    };
    let windows = WINDOWS
        .iter()
        .map(|m| (m.to_string(), format!("Last {m} min")))
        .collect();
    let layouts = LayoutChoice::ALL
        .iter()
        .map(|l| (l.as_str().to_string(), l.label().to_string()))
        .collect();
    // "Automatic" (no `graph` in the URL) lets the server pick by size; the notice above
    // the graph says which it picked. The same on the server and in the browser, so the
    // form is right before hydration too.
    let views = std::iter::once((String::new(), "Automatic (by size)".to_string()))
        .chain(
            GraphView::ALL
                .iter()
                .map(|v| (v.as_str().to_string(), v.label().to_string())),
        )
        .collect();
    let current_view = Signal::derive(move || {
        asked_view
            .get()
            .map(|v| v.as_str().to_string())
            .unwrap_or_default()
    });
    let label_modes = LabelMode::ALL
        .iter()
        .map(|l| (l.as_str().to_string(), l.label().to_string()))
        .collect();
    // Parameters the form does not show, carried along when it is submitted without JS.
    let hidden = move || {
        pairs
            .get()
            .into_iter()
            .filter(|(k, _)| [REFRESH_PARAM, "project"].contains(&k.as_str()))
            .map(|(k, v)| view! { <input type="hidden" name=k value=v /> })
            .collect_view()
    };

    view! {
        <div class="topology-controls" data-project=project.clone()>
            <form method="get" action=PATH class="topology-form">
                {hidden}
                {select(WINDOW_PARAM, "Window ", windows, Signal::derive(move || minutes.get().to_string()))}
                {select(GRAPH_PARAM, "Graph ", views, current_view)}
                {select(LAYOUT_PARAM, "Layout ", layouts, Signal::derive(move || layout.get().as_str().to_string()))}
                {select(LABELS_PARAM, "Edge labels ", label_modes, Signal::derive(move || labels.get().as_str().to_string()))}
                <button type="submit" class="button secondary" class:hidden=move || hydrated.get()>"Apply"</button>
            </form>
            <RefreshControl tick />
        </div>
        <Transition fallback=|| view! { <p class="loading">"Querying Prometheus…"</p> }>
            <ErrorBoundary fallback=error_panel>
                {move || {
                    graph.get().map(|r| {
                        r.map(|g| {
                            let big = (g.nodes.len() >= LARGE_GRAPH).then(|| view! {
                                <p class="muted small">{format!("{} nodes: drawn with a fast layered layout.", g.nodes.len())}</p>
                            });
                            // The service graph picked for a large mesh says so, with the
                            // way back to every version.
                            let auto_service = (g.view == GraphView::Service && g.view_auto).then(|| {
                                let versioned = with_param(PATH, &pairs.get_untracked(), GRAPH_PARAM, Some(GraphView::Versioned.as_str()));
                                let services = g.nodes.iter().filter(|n| n.kind == crate::domain::topology::NodeKind::Service).count();
                                view! {
                                    <p class="muted small" data-testid="graph-view-notice">
                                        {format!("{services} services: showing the service graph, each service's versions merged (their split is in its side panel). ")}
                                        <a href=versioned>"Show the versioned app graph"</a>
                                    </p>
                                }
                            });
                            view! {
                                {empty_state(&g).map(|s| view! { <GraphNotice state=s project=g.project.clone() /> })}
                                {auto_service}
                                {big}
                            }
                        })
                    })
                }}
            </ErrorBoundary>
        </Transition>
        <div class="topology-layout" class:with-panel=move || item.get().is_some()>
            <TopologyGraph graph=latest layout labels selected=item on_select />
            {move || {
                item.get().map(|i| {
                    view! {
                        <TopologyPanel project=project.clone() item=i minutes tick graph close_href />
                    }
                })
            }}
        </div>
        <Transition fallback=|| ()>
            {move || graph.get().and_then(Result::ok).map(|g| view! { <GraphSummary graph=g /> })}
        </Transition>
    }
}
