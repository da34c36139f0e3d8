//! The workloads of an application's components: one row per version, with status,
//! readiness, image, restarts, age and a warning when pods run without a sidecar.

use leptos::prelude::*;

use crate::components::status_badge::StatusBadge;
use crate::domain::applications::{Component, WorkloadInfo, format_age};

#[component]
pub fn WorkloadTable(components: Vec<Component>) -> impl IntoView {
    view! {
        <table class="workloads">
            <thead>
                <tr>
                    <th>"Component"</th>
                    <th>"Version"</th>
                    <th>"Workload"</th>
                    <th>"Status"</th>
                    <th>"Ready"</th>
                    <th>"Image"</th>
                    <th>"Restarts"</th>
                    <th>"Age"</th>
                </tr>
            </thead>
            <tbody>{components.into_iter().map(component_rows).collect_view()}</tbody>
        </table>
    }
}

fn component_rows(c: Component) -> impl IntoView {
    let service = c.service.name.clone();
    if c.workloads.is_empty() {
        return view! {
            <tr>
                <td>{service}</td>
                <td colspan="7" class="muted">"no workload behind this Service"</td>
            </tr>
        }
        .into_any();
    }
    c.workloads
        .into_iter()
        .map(|w| workload_row(&service, w))
        .collect_view()
        .into_any()
}

fn workload_row(service: &str, w: WorkloadInfo) -> impl IntoView + use<> {
    let status = w.status();
    let sidecar_warning = w.missing_sidecar().then(|| {
        view! {
            <div class="warning" title="Enable sidecar injection for the project, then restart the workload: pods get the sidecar when they are recreated.">
                "no sidecar: no traffic metrics or tracing"
            </div>
        }
    });
    let failure = w
        .failure
        .clone()
        .map(|f| view! { <div class="failure">{f}</div> });
    view! {
        <tr data-workload=w.name.clone() data-status=status.label()>
            <td>{service.to_string()}</td>
            <td>{w.version().unwrap_or("-").to_string()}</td>
            <td>{w.name.clone()} {sidecar_warning}</td>
            <td>
                <StatusBadge status />
                {failure}
            </td>
            <td>{format!("{}/{}", w.ready, w.desired)}</td>
            <td class="image">{w.images.join(", ")}</td>
            <td>{w.restarts}</td>
            <td>{w.age_seconds.map(format_age).unwrap_or_default()}</td>
        </tr>
    }
}
