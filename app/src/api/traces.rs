//! Tracing: services and operations for the search form, trace search (summaries, newest
//! first), the compact view of one trace for the timeline, and one span's full detail.
//! All reads, so all GET; every input is checked before it reaches Jaeger.

use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;

use crate::domain::traces::{SpanDetail, TraceQuery, TraceSummary, TraceView};
use crate::error::AppError;

/// Services that reported spans; with a project, only its services (Istio names them
/// `<app>.<namespace>`).
#[server(input = GetUrl, endpoint = "list_trace_services")]
pub async fn list_trace_services(project: Option<String>) -> Result<Vec<String>, AppError> {
    super::reply(ssr::services(project).await)
}

#[server(input = GetUrl, endpoint = "list_trace_operations")]
pub async fn list_trace_operations(service: String) -> Result<Vec<String>, AppError> {
    super::reply(ssr::operations(service).await)
}

/// Traces matching the query, newest first.
#[server(input = GetUrl, endpoint = "search_traces")]
pub async fn search_traces(query: TraceQuery) -> Result<Vec<TraceSummary>, AppError> {
    super::reply(ssr::search(query).await)
}

#[server(input = GetUrl, endpoint = "get_trace_view")]
pub async fn get_trace_view(trace_id: String) -> Result<TraceView, AppError> {
    super::reply(ssr::view(trace_id).await)
}

#[server(input = GetUrl, endpoint = "get_span_detail")]
pub async fn get_span_detail(trace_id: String, span_id: String) -> Result<SpanDetail, AppError> {
    super::reply(ssr::detail(trace_id, span_id).await)
}

/// Checks a trace ID: hex, 1 to 32 digits (Jaeger drops leading zeros in some places).
/// Returns it trimmed and lowercase.
pub fn check_trace_id(id: &str) -> Result<String, AppError> {
    check_hex("Trace ID", id, 32)
}

/// Checks a span ID: hex, 1 to 16 digits.
pub fn check_span_id(id: &str) -> Result<String, AppError> {
    check_hex("Span ID", id, 16)
}

fn check_hex(what: &str, id: &str, max: usize) -> Result<String, AppError> {
    let id = id.trim();
    if id.is_empty() || id.len() > max || !id.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(AppError::Invalid(format!(
            "{what} {:?} is not valid: use 1 to {max} hexadecimal digits (0-9, a-f), as Jaeger shows it.",
            id.chars().take(40).collect::<String>()
        )));
    }
    Ok(id.to_ascii_lowercase())
}

#[cfg(feature = "ssr")]
mod ssr {
    use crate::domain::applications::ApplicationsView;
    use crate::domain::names::check_dns_label;
    use crate::domain::traces::search::newest_first;
    use crate::domain::traces::view::{application_of_span, services_of_project, span_namespace};
    use crate::domain::traces::{SpanDetail, TraceQuery, TraceSummary, TraceView};
    use crate::error::AppError;
    use crate::ports::use_ports;

    fn check_service(service: &str) -> Result<(), AppError> {
        let s = service.trim();
        if s.is_empty() {
            return Err(AppError::Invalid(
                "Choose a service to list its operations.".into(),
            ));
        }
        if s.len() > 253 || s.chars().any(char::is_control) {
            return Err(AppError::Invalid(
                "The service name is not valid: pick one from the list.".into(),
            ));
        }
        Ok(())
    }

    pub async fn services(project: Option<String>) -> Result<Vec<String>, AppError> {
        let project = project.filter(|p| !p.is_empty());
        if let Some(p) = &project {
            check_dns_label("Project", p).map_err(AppError::Invalid)?;
        }
        let all = use_ports()?.traces.services().await?;
        Ok(match project {
            Some(p) => services_of_project(all, &p),
            None => all,
        })
    }

    pub async fn operations(service: String) -> Result<Vec<String>, AppError> {
        check_service(&service)?;
        use_ports()?.traces.operations(service.trim()).await
    }

    pub async fn search(query: TraceQuery) -> Result<Vec<TraceSummary>, AppError> {
        query.validate().map_err(AppError::Invalid)?;
        let traces = use_ports()?.traces.search(&query).await?;
        let mut out: Vec<TraceSummary> = traces.iter().map(TraceSummary::of).collect();
        newest_first(&mut out);
        Ok(out)
    }

    /// IDs compare as numbers: Jaeger drops leading zeros in some places.
    fn same_id(a: &str, b: &str) -> bool {
        a.trim_start_matches('0') == b.trim_start_matches('0')
    }

    pub async fn view(trace_id: String) -> Result<TraceView, AppError> {
        let id = super::check_trace_id(&trace_id)?;
        let trace = use_ports()?.traces.trace_shared(&id).await?;
        Ok(TraceView::of(&trace))
    }

    pub async fn detail(trace_id: String, span_id: String) -> Result<SpanDetail, AppError> {
        let id = super::check_trace_id(&trace_id)?;
        let span_id = super::check_span_id(&span_id)?;
        let ports = use_ports()?;
        let trace = ports.traces.trace_shared(&id).await?;
        let span = trace
            .spans
            .iter()
            .find(|s| same_id(&s.span_id, &span_id))
            .cloned()
            .ok_or_else(|| {
                AppError::NotFound(format!(
                    "Trace {id} has no span {span_id}: reopen the trace, it may have been refreshed."
                ))
            })?;
        // The application the pod's workload belongs to, from the cluster; without it
        // (another cluster, no access) the link falls back to the project's applications.
        let pod = span.pod();
        let ns = span_namespace(&span, pod.as_ref());
        let mut application = None;
        if let Some(ns) = ns.as_deref()
            && check_dns_label("Project", ns).is_ok()
            && let Ok(inv) = ports.cluster.project_inventory(ns).await
        {
            let view = ApplicationsView::from_inventory(inv);
            application = application_of_span(&view, &span, pod.as_ref());
        }
        Ok(SpanDetail::of(span, application.as_deref()))
    }
}
