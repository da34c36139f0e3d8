//! Reusable pieces of the console's UI. They wire signals to pure functions in
//! [`crate::domain`]; nothing here talks to a backend except through server functions.

pub mod analysis_panel;
pub mod auto_steps_editor;
pub mod cluster_banner;
pub mod deploy_sample_dialog;
pub mod error_panel;
pub mod job_history;
pub mod live;
pub mod permissions;
pub mod project_selector;
pub mod refresh_control;
pub mod release_charts;
pub mod rules_editor;
pub mod sandbox_traffic;
pub mod side_nav;
pub mod span_detail;
pub mod status_badge;
pub mod step_timeline;
pub mod top_bar;
pub mod topology_graph;
pub mod topology_panel;
pub mod trace_results;
pub mod trace_search;
pub mod trace_timeline;
pub mod traffic_slider;
pub mod uninstall_sample_dialog;
pub mod weights_editor;
pub mod workload_table;

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::domain::links::PROJECT_PARAM;

/// The selected project (namespace) from the URL's `?project=`.
pub fn use_project() -> Memo<Option<String>> {
    let query = use_query_map();
    Memo::new(move |_| query.read().get(PROJECT_PARAM).filter(|p| !p.is_empty()))
}

/// The current query string as ordered pairs, for building links that change one
/// parameter and keep the others.
pub fn use_query_pairs() -> Memo<Vec<(String, String)>> {
    let query = use_query_map();
    Memo::new(move |_| {
        (&*query.read())
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    })
}
