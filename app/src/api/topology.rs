//! Traffic Management: the live service topology of a project from Prometheus (Istio's
//! standard metrics), and the charts of one node or edge of it. The server functions only
//! gather (queries, inventory, routing, jobs); `domain::topology` builds the answer.

use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;

use crate::domain::topology::{Graph, ItemMetrics};
use crate::error::AppError;

/// The windows the page offers, in minutes.
pub const WINDOWS: [u32; 5] = [1, 5, 10, 30, 60];

/// The graph of a project's traffic over the last `minutes` (1, 5, 10, 30 or 60).
/// `graph`: `versioned` (the versioned app graph) or `service` (the service graph); left
/// out, the service graph from [`crate::domain::topology::SERVICE_GRAPH_FROM`] services on.
#[server(input = GetUrl, endpoint = "get_topology")]
pub async fn get_topology(
    project: String,
    minutes: u32,
    #[server(default)] graph: Option<String>,
) -> Result<Graph, AppError> {
    super::reply(ssr::graph(project, minutes, graph.unwrap_or_default()).await)
}

/// Charts of one node or edge (`item` is its id in the graph) over the last `minutes`.
#[server(input = GetUrl, endpoint = "get_topology_item")]
pub async fn get_topology_item(
    project: String,
    item: String,
    minutes: u32,
) -> Result<ItemMetrics, AppError> {
    super::reply(ssr::item(project, item, minutes).await)
}

/// Checks the window; the message lists the ones offered.
pub fn check_window(minutes: u32) -> Result<(), AppError> {
    if WINDOWS.contains(&minutes) {
        Ok(())
    } else {
        Err(AppError::Invalid(format!(
            "A window of {minutes} minutes is not offered: choose 1, 5, 10, 30 or 60."
        )))
    }
}

#[cfg(feature = "ssr")]
mod ssr {
    use super::check_window;
    use crate::domain::applications::ProjectInventory;
    use crate::domain::diagnosis::{DiagnosisInputs, diagnose, mark_graph};
    use crate::domain::names::check_dns_label;
    use crate::domain::topology::{
        Graph, GraphInputs, GraphView, ItemMetrics, ItemRef, ServiceRouting, Thresholds,
        build_graph, errors_query, finite, item_queries, label_latency, latency_to_service_query,
        latency_to_workload_query, requests_query, routing_of_virtual_service, service_graph,
        versions_if_several,
    };
    use crate::error::AppError;
    use crate::ports::{Ports, use_ports};

    fn now() -> f64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0)
    }

    /// The project's inventory; a namespace the cluster does not have yet (metrics can
    /// outlive it, or name one it never had) is simply an empty inventory.
    async fn inventory(ports: &Ports, project: &str) -> Result<Option<ProjectInventory>, AppError> {
        match ports.cluster.project_inventory(project).await {
            Ok(inv) => Ok(Some(inv)),
            Err(AppError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn graph(project: String, minutes: u32, view: String) -> Result<Graph, AppError> {
        check_dns_label("Project", &project).map_err(AppError::Invalid)?;
        check_window(minutes)?;
        let asked = GraphView::parse_arg(&view).map_err(AppError::Invalid)?;
        let ports = use_ports()?;
        let at = now();
        let q = |promql: String| {
            let m = ports.metrics.clone();
            async move { m.query(&promql, at).await }
        };
        let cluster = async {
            let Some(inv) = inventory(&ports, &project).await? else {
                // No such namespace (yet): no routing, no jobs; the graph is traffic only.
                return Ok::<_, AppError>((None, Vec::new(), Vec::new(), None));
            };
            let (mesh, jobs) = futures::try_join!(
                ports.cluster.mesh_config(&project),
                ports.releases.list_jobs(&project)
            )?;
            let routing: Vec<ServiceRouting> = mesh
                .virtual_services
                .iter()
                .flat_map(|vs| routing_of_virtual_service(&project, vs))
                .collect();
            // The Services page's diagnosis, so the graph marks where configuration is wrong.
            let diagnosis = diagnose(DiagnosisInputs {
                project: &project,
                injection_enabled: inv.project.sidecar_injection,
                dataplane: &inv.project.dataplane,
                mesh: &mesh,
                workloads: &inv.workloads,
                jobs: &jobs,
            });
            Ok((Some(inv), routing, jobs, Some(diagnosis)))
        };
        let (requests, errors, to_service, to_workload, (inv, routing, jobs, diagnosis)) = futures::try_join!(
            q(requests_query(&project, minutes)),
            q(errors_query(&project, minutes)),
            q(latency_to_service_query(&project, minutes)),
            q(latency_to_workload_query(&project, minutes)),
            cluster,
        )?;
        let versioned = build_graph(GraphInputs {
            project: &project,
            window_minutes: minutes,
            at,
            requests: &requests,
            errors: &errors,
            latency_to_service: &to_service,
            latency_to_workload: &to_workload,
            inventory: inv.as_ref(),
            routing: &routing,
            jobs: &jobs,
            // The server's `--health-*-percent` settings; Kiali's defaults otherwise.
            thresholds: leptos::prelude::use_context::<Thresholds>().unwrap_or_default(),
        });
        let mut graph = match GraphView::resolve(asked, &versioned) {
            GraphView::Versioned => versioned,
            GraphView::Service => service_graph(&versioned),
        };
        graph.view_auto = asked.is_none();
        if let Some(d) = &diagnosis {
            mark_graph(&mut graph, d);
        }
        Ok(graph)
    }

    pub async fn item(
        project: String,
        item: String,
        minutes: u32,
    ) -> Result<ItemMetrics, AppError> {
        check_dns_label("Project", &project).map_err(AppError::Invalid)?;
        check_window(minutes)?;
        let parsed = ItemRef::parse(&item).map_err(AppError::Invalid)?;
        let ports = use_ports()?;
        let end = now();
        let start = end - f64::from(minutes) * 60.0;
        // About 120 points per chart, never finer than a 5 s scrape interval.
        let step = (minutes * 60 / 120).max(5);
        let queries = item_queries(&parsed, &project, "1m");
        let q = |promql: Option<String>| {
            let m = ports.metrics.clone();
            async move {
                match promql {
                    Some(p) => m.query_range(&p, start, end, step).await,
                    None => Ok(Vec::new()),
                }
            }
        };
        let [p50, p95, p99] = queries.latency.clone().map(Some);
        let (rps_in, rps_out, success, l50, l95, l99, versions) = futures::try_join!(
            q(queries.rps_in.clone()),
            q(queries.rps_out.clone()),
            q(Some(queries.success.clone())),
            q(p50),
            q(p95),
            q(p99),
            q(queries.versions.clone()),
        )?;
        Ok(ItemMetrics {
            item: parsed.id(),
            title: parsed.title(),
            rps_in,
            rps_out,
            success: finite(success),
            latency: label_latency([l50, l95, l99]),
            versions: versions_if_several(versions),
        })
    }
}
