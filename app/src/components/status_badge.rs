//! A workload or application status as a coloured badge.

use leptos::prelude::*;

use crate::domain::applications::WorkloadStatus;

#[component]
pub fn StatusBadge(status: WorkloadStatus) -> impl IntoView {
    let class = match status {
        WorkloadStatus::Running => "badge ok",
        WorkloadStatus::Updating => "badge progress",
        WorkloadStatus::Failed => "badge bad",
        WorkloadStatus::Stopped => "badge idle",
    };
    view! { <span class=class>{status.label()}</span> }
}
