//! The live service graph: cytoscape.js in a long-lived `<div>` that Leptos renders once
//! and never touches again. Effects push changes into it through [`ffi`]: the first answer
//! is laid out, later refreshes are patched in place (nodes keep their positions, new ones
//! appear beside their neighbours, gone ones disappear). Taps come back as element ids.
//!
//! On the server (and before the wasm bundle runs) the same component renders the empty
//! canvas, its toolbar disabled, and the legend; [`GraphSummary`] lists every node and edge
//! as HTML, so the page is readable and navigable without JavaScript.

pub mod elements;
#[cfg(feature = "hydrate")]
pub mod ffi;

use std::collections::HashMap;

use leptos::html::Div;
use leptos::prelude::*;

use crate::components::use_query_pairs;
use crate::domain::links::with_param;
use crate::domain::topology::{Graph, Health, Node, NodeKind};
use elements::{
    EmptyState, ITEM_PARAM, LabelMode, LayoutChoice, badge_marker, badge_text, format_ms,
    format_rps, format_success, health_color, health_label, health_name, kind_name, legend_badges,
    short_name,
};

/// A button press, carried to the browser-only effect that owns the cytoscape instance.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Command {
    Fit,
    ZoomIn,
    ZoomOut,
    Relayout,
    ExportPng,
    ExportSvg,
    ExportJson,
}

/// Where the drawing is, for the status line and the disabled buttons.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
#[derive(Debug, Clone, PartialEq)]
enum DrawState {
    /// Waiting for data (or for the wasm bundle).
    Waiting,
    LoadingLibrary,
    Drawing,
    Ready,
    Failed(String),
}

#[component]
pub fn TopologyGraph(
    /// The latest graph; `None` until the first answer.
    #[prop(into)]
    graph: Signal<Option<Graph>>,
    #[prop(into)] layout: Signal<LayoutChoice>,
    #[prop(into)] labels: Signal<LabelMode>,
    /// The selected node or edge id (`?item=`).
    #[prop(into)]
    selected: Signal<Option<String>>,
    /// Called with the tapped node or edge, or `None` for a tap on the background.
    on_select: Callback<Option<String>>,
) -> impl IntoView {
    let canvas = NodeRef::<Div>::new();
    let command = RwSignal::new(None::<Command>);
    let state = RwSignal::new(DrawState::Waiting);
    #[cfg(feature = "hydrate")]
    drive(
        canvas, graph, layout, labels, selected, on_select, command, state,
    );
    #[cfg(not(feature = "hydrate"))]
    let _ = (graph, layout, labels, selected, on_select);

    let ready = move || state.get() == DrawState::Ready;
    let button = move |label: &'static str, title: &'static str, cmd: Command| {
        view! {
            <button
                type="button"
                class="button secondary small"
                title=title
                disabled=move || !ready()
                on:click=move |_| command.set(Some(cmd))
            >
                {label}
            </button>
        }
    };
    // Set once the bundle runs, so the server's text (for readers without JavaScript)
    // changes only after hydration.
    let hydrated = RwSignal::new(false);
    Effect::new(move || hydrated.set(true));
    let status = move || match state.get() {
        DrawState::Waiting if hydrated.get() => {
            "Waiting for the graph from Prometheus…".to_string()
        }
        DrawState::Waiting => {
            "The interactive graph needs JavaScript; the lists below show the same graph."
                .to_string()
        }
        DrawState::LoadingLibrary => "Loading the graph library…".into(),
        DrawState::Drawing => "Laying out the graph…".into(),
        DrawState::Ready => String::new(),
        DrawState::Failed(e) => e,
    };
    view! {
        <section class="panel topology" aria-label="Service graph">
            <div class="topology-tools" role="toolbar" aria-label="Graph tools">
                {button("Fit", "Fit the whole graph in view", Command::Fit)}
                {button("+", "Zoom in", Command::ZoomIn)}
                {button("−", "Zoom out", Command::ZoomOut)}
                {button("Re-layout", "Lay the graph out again", Command::Relayout)}
                <span class="tools-gap"></span>
                <span class="muted small">"Export"</span>
                {button("PNG", "Download the graph as a PNG image", Command::ExportPng)}
                {button("SVG", "Download the graph as an SVG image", Command::ExportSvg)}
                {button("JSON", "Download the graph data as JSON", Command::ExportJson)}
            </div>
            <div class="topology-stage">
                <div
                    class="topology-canvas"
                    node_ref=canvas
                    data-graph-ready="false"
                    data-testid="topology-canvas"
                    role="img"
                    aria-label="Service topology graph; the same nodes and edges are listed below"
                ></div>
                <p
                    class="topology-status"
                    data-testid="graph-status"
                    class:failed=move || matches!(state.get(), DrawState::Failed(_))
                    class:hidden=ready
                >
                    {status}
                </p>
            </div>
            <Legend />
        </section>
    }
}

/// Runs in the browser only: owns the cytoscape instance and applies every change to it.
#[cfg(feature = "hydrate")]
#[allow(clippy::too_many_arguments)]
fn drive(
    canvas: NodeRef<Div>,
    graph: Signal<Option<Graph>>,
    layout: Signal<LayoutChoice>,
    labels: Signal<LabelMode>,
    selected: Signal<Option<String>>,
    on_select: Callback<Option<String>>,
    command: RwSignal<Option<Command>>,
    state: RwSignal<DrawState>,
) {
    use crate::domain::topology::GraphView;
    use elements::{Element, Placed, diff, elements, export_svg, has_traffic, layered_positions};
    use ffi::Cytoscape;

    let cy = StoredValue::new_local(None::<Cytoscape>);
    let drawn = StoredValue::new(Vec::<Element>::new());
    let laid_out = StoredValue::new(false);
    let kind = StoredValue::new(None::<(GraphView, bool)>);
    let library = RwSignal::new(false);
    on_cleanup(move || {
        if let Some(c) = cy.try_update_value(Option::take).flatten() {
            c.destroy();
        }
    });

    let preset_positions =
        |g: &Graph| serde_json::to_string(&layered_positions(g)).unwrap_or_default();
    let run_layout = move |g: &Graph, choice: LayoutChoice, known: Option<String>| {
        let engine = choice.engine(g.nodes.len());
        let positions = if engine == "preset" {
            known.unwrap_or_else(|| preset_positions(g))
        } else {
            String::new()
        };
        state.set(DrawState::Drawing);
        laid_out.set_value(true);
        cy.with_value(|c| {
            if let Some(c) = c {
                c.layout(engine, &positions, move || state.set(DrawState::Ready));
            }
        });
    };

    // Data: create on the first answer, patch on every later one.
    Effect::new(move |_| {
        let Some(g) = graph.get() else {
            return;
        };
        if !library.get() {
            if state.get_untracked() == DrawState::Waiting {
                state.set(DrawState::LoadingLibrary);
                ffi::load(move |r| {
                    match r {
                    Ok(()) => library.set(true),
                    Err(e) => state.set(DrawState::Failed(format!(
                        "The graph library did not load ({e}). The console serves it from /vendor/cytoscape/; \
                         rebuild the site so public/ is copied. The lists below still show the graph."
                    ))),
                }
                });
            }
            return;
        }
        let big = g.nodes.len() >= elements::LARGE_GRAPH;
        // Another graph type, or a graph crossing the large-graph size: start over, since
        // positions in one mean nothing in the other and a large graph draws differently.
        if kind.get_value().is_some_and(|k| k != (g.view, big)) {
            if let Some(c) = cy.try_update_value(Option::take).flatten() {
                c.destroy();
            }
            drawn.set_value(Vec::new());
            laid_out.set_value(false);
        }
        kind.set_value(Some((g.view, big)));
        if cy.with_value(Option::is_none) {
            let Some(el) = canvas.get_untracked() else {
                return;
            };
            let c = Cytoscape::new(&el, labels.get_untracked().field(), big, move |id| {
                on_select.run(id)
            });
            cy.set_value(Some(c));
        }
        let next = elements(&g);
        let patch = drawn.with_value(|prev| diff(prev, &next));
        // An idle graph has no call hierarchy to lay out: when traffic first shows up,
        // lay out once more (only then; later refreshes keep every position).
        let was_empty = drawn.with_value(|prev| !prev.iter().any(|e| e.group == "nodes"));
        let was_idle = drawn.with_value(|prev| !has_traffic(prev));
        let now_busy = has_traffic(&next);
        let relayout =
            !laid_out.get_value() || (was_empty && !g.nodes.is_empty()) || (was_idle && now_busy);
        // A large graph about to be laid out gets its positions with the elements.
        let known = (relayout && layout.get_untracked().engine(g.nodes.len()) == "preset")
            .then(|| preset_positions(&g));
        if !patch.is_empty()
            && let Ok(json) = serde_json::to_string(&patch)
        {
            let positions = known.as_deref().unwrap_or_default();
            cy.with_value(|c| c.as_ref().map(|c| c.patch(&json, positions)));
        }
        drawn.set_value(next);
        if relayout {
            run_layout(&g, layout.get_untracked(), known);
        }
        let id = selected.get_untracked();
        cy.with_value(|c| c.as_ref().map(|c| c.select(id.as_deref())));
    });

    // A different layout choice lays the graph out again.
    Effect::new(move |prev: Option<LayoutChoice>| {
        let choice = layout.get();
        if prev.is_some_and(|p| p != choice)
            && let Some(g) = graph.get_untracked()
            && cy.with_value(Option::is_some)
        {
            run_layout(&g, choice, None);
        }
        choice
    });

    Effect::new(move |_| {
        let field = labels.get().field();
        cy.with_value(|c| c.as_ref().map(|c| c.set_label_field(field)));
    });

    Effect::new(move |_| {
        let id = selected.get();
        let _ = state.get();
        cy.with_value(|c| c.as_ref().map(|c| c.select(id.as_deref())));
    });

    Effect::new(move |_| {
        let Some(cmd) = command.get() else {
            return;
        };
        command.set(None);
        let g = graph.get_untracked();
        let name = g
            .as_ref()
            .map(|g| format!("{}-topology", g.project))
            .unwrap_or_else(|| "topology".into());
        match cmd {
            Command::Relayout => {
                if let Some(g) = &g {
                    run_layout(g, layout.get_untracked(), None);
                }
                return;
            }
            Command::ExportJson => {
                if let Some(g) = &g
                    && let Ok(json) = serde_json::to_string_pretty(g)
                {
                    ffi::download_text(&format!("{name}.json"), "application/json", &json);
                }
                return;
            }
            _ => {}
        }
        cy.with_value(|c| {
            let Some(c) = c else {
                return;
            };
            match cmd {
                Command::Fit => c.fit(),
                Command::ZoomIn => c.zoom_by(1.25),
                Command::ZoomOut => c.zoom_by(0.8),
                Command::ExportPng => {
                    let file = format!("{name}.png");
                    c.png(move |url| ffi::download_url(&file, &url));
                }
                Command::ExportSvg => {
                    if let Some(g) = &g
                        && let Ok(placed) = serde_json::from_str::<Vec<Placed>>(&c.positions_json())
                    {
                        let svg = export_svg(g, &placed, labels.get_untracked());
                        ffi::download_text(&format!("{name}.svg"), "image/svg+xml", &svg);
                    }
                }
                Command::Relayout | Command::ExportJson => {}
            }
        });
    });
}

#[component]
fn Legend() -> impl IntoView {
    let health = [
        Health::Healthy,
        Health::Degraded,
        Health::Failure,
        Health::Idle,
    ]
    .into_iter()
    .map(|h| {
        view! {
            <li data-health=health_name(h)>
                <span class="swatch" style=format!("background:{}", health_color(h))></span>
                {health_label(h)}
            </li>
        }
    })
    .collect_view();
    let badges = legend_badges()
        .into_iter()
        .map(|b| {
            let text = badge_text(&b).replace("release job …", "release job (canary)");
            view! {
                <li>
                    <span class="marker">{badge_marker(&b)}</span>
                    {text}
                </li>
            }
        })
        .collect_view();
    view! {
        <div class="topology-legend" aria-label="Legend">
            <ul class="legend-health">{health}</ul>
            <ul class="legend-shapes">
                <li><span class="shape triangle"></span>"service"</li>
                <li><span class="shape circle"></span>"workload (version)"</li>
                <li><span class="shape box"></span>"app (its versions)"</li>
                <li><span class="shape diamond"></span>"ingress"</li>
            </ul>
            <ul class="legend-badges">{badges}</ul>
        </div>
    }
}

/// Caps on the HTML lists: a 5,000-service graph is exported, not listed.
const LIST_LIMIT: usize = 300;

/// The empty/problem banner above the graph, if the graph has one to show.
#[component]
pub fn GraphNotice(state: EmptyState, project: String) -> impl IntoView {
    if state == EmptyState::NothingDeployed {
        // The whole page is empty: say so as the other sections do, naming the project.
        return view! {
            <div class="empty-state" role="status" data-testid="topology-notice" data-kind=state.kind()>
                <h2>"Nothing to draw in " <strong>{project}</strong></h2>
                <p>{state.message()}</p>
            </div>
        }
        .into_any();
    }
    view! {
        <p class="topology-notice" role="status" data-testid="topology-notice" data-kind=state.kind()>
            {state.message()}
        </p>
    }
    .into_any()
}

/// The graph as HTML: counts, and every edge and node with
/// its figures and health, each linking to its details (`?item=`).
#[component]
pub fn GraphSummary(graph: Graph) -> impl IntoView {
    let pairs = use_query_pairs();
    let link = move |id: &str| {
        with_param(
            "/traffic-management",
            &pairs.get_untracked(),
            ITEM_PARAM,
            Some(id),
        )
    };
    let by_id: HashMap<&str, &Node> = graph.nodes.iter().map(|n| (n.id.as_str(), n)).collect();
    let services = graph
        .nodes
        .iter()
        .filter(|n| n.kind == NodeKind::Service)
        .count();
    let workloads = graph
        .nodes
        .iter()
        .filter(|n| n.kind == NodeKind::Workload)
        .count();
    let edge_rows = graph
        .edges
        .iter()
        .take(LIST_LIMIT)
        .map(|e| {
            let from = short_name(&by_id, &e.source);
            let to = short_name(&by_id, &e.target);
            let ok = format_success(Some(e.error_ratio).filter(|_| e.rps > 0.0));
            view! {
                <tr data-edge=e.id.clone() data-health=health_name(e.health)>
                    <td><a href=link(&e.id)>{format!("{from} → {to}")}</a></td>
                    <td>{e.protocol.clone()}</td>
                    <td class="num">{format_rps(e.rps)}</td>
                    <td class="num">{ok}</td>
                    <td class="num">{format_ms(e.p95_ms)}</td>
                    <td><span class=format!("health {}", health_name(e.health))>{health_label(e.health)}</span></td>
                </tr>
            }
        })
        .collect_view();
    let node_rows = graph
        .nodes
        .iter()
        .take(LIST_LIMIT)
        .map(|n| {
            let badges = n
                .badges
                .iter()
                .map(|b| format!("{} {}", badge_marker(b), badge_text(b)))
                .collect::<Vec<_>>()
                .join(", ");
            let name = match (&n.version, n.kind) {
                (Some(v), NodeKind::Workload) if !n.name.ends_with(v.as_str()) => format!("{} ({v})", n.name),
                _ => n.name.clone(),
            };
            view! {
                <tr data-node=n.id.clone() data-health=health_name(n.health) data-kind=kind_name(n.kind)>
                    <td><a href=link(&n.id)>{name}</a></td>
                    <td>{kind_name(n.kind)}</td>
                    <td class="num">{format_rps(n.rps_in)}</td>
                    <td class="num">{format_rps(n.rps_out)}</td>
                    <td class="num">{format_success(n.error_ratio)}</td>
                    <td><span class=format!("health {}", health_name(n.health))>{health_label(n.health)}</span></td>
                    <td>{badges}</td>
                </tr>
            }
        })
        .collect_view();
    let more = |total: usize, what: &str| {
        (total > LIST_LIMIT).then(|| {
            view! {
                <p class="muted small">
                    {format!("… and {} more {what}; export JSON for the full list.", total - LIST_LIMIT)}
                </p>
            }
        })
    };
    view! {
        <details class="panel topology-summary" open=graph.nodes.len() <= 60>
            <summary data-testid="topology-counts">
                {if graph.view == crate::domain::topology::GraphView::Service {
                    format!(
                        "{services} services, {} connections (service graph, last {} min)",
                        graph.edges.len(),
                        graph.window_minutes,
                    )
                } else {
                    format!(
                        "{services} services, {workloads} workloads, {} connections (last {} min)",
                        graph.edges.len(),
                        graph.window_minutes,
                    )
                }}
            </summary>
            <h3>"Connections"</h3>
            <table class="table topology-edges">
                <thead>
                    <tr>
                        <th>"From → to"</th><th>"Protocol"</th><th>"Requests"</th>
                        <th>"Success"</th><th>"p95"</th><th>"Health"</th>
                    </tr>
                </thead>
                <tbody>{edge_rows}</tbody>
            </table>
            {more(graph.edges.len(), "connections")}
            <h3>"Nodes"</h3>
            <table class="table topology-nodes">
                <thead>
                    <tr>
                        <th>"Name"</th><th>"Kind"</th><th>"In"</th><th>"Out"</th>
                        <th>"Success in"</th><th>"Health"</th><th>"Badges"</th>
                    </tr>
                </thead>
                <tbody>{node_rows}</tbody>
            </table>
            {more(graph.nodes.len(), "nodes")}
        </details>
    }
}
