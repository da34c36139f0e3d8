//! The instant queries behind the graph. Like Kiali, each project is read with both
//! reporters: what the destination sidecars report about traffic into the project, and
//! what the source proxies report about traffic out of it and about requests into it that
//! never reached a workload.
//!
//! Kiali fetches every (edge, response code, flags) row of both reporters and drops the
//! source's copy of requests a destination also reported. Here Prometheus does both: each
//! selection is summed by edge, code and flags, the selections are joined with
//! `or on (<de-duplication key>)` (the destination's row wins; a source row survives only
//! where no destination reported the same edge, code and flags: callee without sidecar,
//! callee outside the project, requests that reached no workload), and the result is
//! summed once more by edge alone. The error rate comes from a second query of the same
//! shape restricted to failed requests (5xx, gRPC status other than OK), so no answer is
//! broken down by response code: a big mesh's answer holds one row per edge instead of
//! one per edge, code, flags and reporter.
//!
//! Every answer row then carries two labels only: `reporter`, and `edge`, the edge's
//! labels joined with `|` by `label_join` (in the order of [`EDGE_PARTS`] and the latency
//! `*_PARTS`). Sixteen separate labels per row cost the server two string allocations
//! each to read and to free, more than everything else it does with the row. The labels
//! joined are Kubernetes names and label values, service hosts and protocol names, none
//! of which can hold a `|`; [`unpack`] refuses a row where the count does not match.

use crate::domain::metrics::escape;

/// Labels every request row is grouped by: who called, which service and workload
/// answered, and how. Apps and versions come from the `app`/`version` labels, with
/// Istio's canonical service/revision as the fallback: the canonical name prefers
/// `app.kubernetes.io/name`, which on Bookinfo as Sluice deploys it is the whole
/// application ("bookinfo"), not the component. `reporter` stays, so the builder can
/// prefer the destination's view of a workload's app and version.
pub const EDGE_GROUPING: &str = "reporter,source_workload_namespace,source_workload,\
source_app,source_version,source_canonical_service,source_canonical_revision,\
destination_service_namespace,destination_service_name,destination_service,\
destination_workload_namespace,destination_workload,destination_app,destination_version,\
destination_canonical_service,destination_canonical_revision,request_protocol";

/// The labels of [`EDGE_GROUPING`] after `reporter`, in the order `edge` holds them.
pub const EDGE_PARTS: [&str; 16] = [
    "source_workload_namespace",
    "source_workload",
    "source_app",
    "source_version",
    "source_canonical_service",
    "source_canonical_revision",
    "destination_service_namespace",
    "destination_service_name",
    "destination_service",
    "destination_workload_namespace",
    "destination_workload",
    "destination_app",
    "destination_version",
    "destination_canonical_service",
    "destination_canonical_revision",
    "request_protocol",
];

/// The label every answer row packs its edge's labels into, and their separator.
pub const EDGE_LABEL: &str = "edge";
pub const PART_SEPARATOR: char = '|';

/// The parts of a packed `edge` label; `None` when their count is not `N`.
pub fn unpack<const N: usize>(packed: &str) -> Option<[&str; N]> {
    let mut out = [""; N];
    let mut parts = packed.split(PART_SEPARATOR);
    for slot in &mut out {
        *slot = parts.next()?;
    }
    parts.next().is_none().then_some(out)
}

/// Wraps `expr` so its rows get the `edge` label joined from `parts`.
fn pack(expr: &str, parts: &[&str]) -> String {
    let parts: Vec<String> = parts.iter().map(|p| format!("\"{p}\"")).collect();
    format!(
        "label_join({expr}, \"{EDGE_LABEL}\", \"{PART_SEPARATOR}\", {})",
        parts.join(", ")
    )
}

/// What tells two reports of the same requests apart, the reporter aside (Kiali's
/// de-duplication key: caller, service, callee, protocol, code, flags).
pub const DEDUP_KEY: &str = "source_workload_namespace,source_workload,\
destination_service_namespace,destination_service_name,destination_workload_namespace,\
destination_workload,request_protocol,response_code,grpc_response_status,response_flags";

/// The labels, besides the edge's, that the de-duplication looks at.
const OUTCOME: &str = "response_code,grpc_response_status,response_flags";

/// Grouping of the p95 of caller → service edges.
pub const LATENCY_TO_SERVICE_GROUPING: &str = "reporter,source_workload_namespace,source_workload,\
destination_service_namespace,destination_service_name";

/// Grouping of the p95 of service → workload edges.
pub const LATENCY_TO_WORKLOAD_GROUPING: &str = "reporter,destination_service_namespace,\
destination_service_name,destination_workload_namespace,destination_workload";

/// The labels `edge` holds in the answer of [`latency_to_service_query`].
pub const LATENCY_TO_SERVICE_PARTS: [&str; 4] = [
    "source_workload_namespace",
    "source_workload",
    "destination_service_namespace",
    "destination_service_name",
];

/// The labels `edge` holds in the answer of [`latency_to_workload_query`].
pub const LATENCY_TO_WORKLOAD_PARTS: [&str; 4] = [
    "destination_service_namespace",
    "destination_service_name",
    "destination_workload_namespace",
    "destination_workload",
];

/// Escapes regex metacharacters so a value matches itself in `=~`.
pub fn regex_literal(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The three label selections of a project's traffic, in preference order.
pub fn selections(project: &str) -> [String; 3] {
    let ns = escape(project);
    [
        // Into the project, as its sidecars saw it.
        format!("reporter=\"destination\",destination_workload_namespace=\"{ns}\""),
        // Out of the project's workloads, as their proxies saw it.
        format!("reporter=\"source\",source_workload_namespace=\"{ns}\""),
        // From outside into the project's services, but no workload answered.
        format!(
            "reporter=\"source\",source_workload_namespace!=\"{ns}\",destination_workload=\"unknown\",\
             destination_service=~\"{}\"",
            escape(&format!("^.+\\.{}\\..+$", regex_literal(project)))
        ),
    ]
}

/// Requests that failed: a 5xx answer, or a gRPC status other than OK. Two selectors,
/// as one label matcher cannot span two labels.
const FAILED: [&str; 2] = [
    ",response_code=~\"5..\"",
    ",request_protocol=\"grpc\",grpc_response_status!~\"0|\"",
];

/// The rate of `istio_requests_total` over one selection, summed by edge and outcome;
/// with `failed`, of its failed requests only (the two kinds of failure joined with a
/// plain `or`: a request matching both is one series, counted once).
fn requests_of(sel: &str, minutes: u32, failed: bool) -> String {
    let rate = |extra: &str| format!("rate(istio_requests_total{{{sel}{extra}}}[{minutes}m])");
    let inner = if failed {
        FAILED.map(rate).join(" or ")
    } else {
        rate("")
    };
    format!("sum by ({EDGE_GROUPING},{OUTCOME}) ({inner})")
}

fn requests(project: &str, minutes: u32, failed: bool) -> String {
    let joined = selections(project)
        .iter()
        .map(|sel| requests_of(sel, minutes, failed))
        .collect::<Vec<_>>()
        .join(&format!(" or on ({DEDUP_KEY}) "));
    format!(
        "sum by (reporter,{EDGE_LABEL}) ({}) > 0",
        pack(&joined, &EDGE_PARTS)
    )
}

/// Request rate per edge (and reporter) over the last `minutes`, each request counted
/// once: one row per edge.
pub fn requests_query(project: &str, minutes: u32) -> String {
    requests(project, minutes, false)
}

/// Rate of failed requests (5xx, gRPC errors) per edge, with the same rows and
/// de-duplication as [`requests_query`]: an edge without failures has no row.
pub fn errors_query(project: &str, minutes: u32) -> String {
    requests(project, minutes, true)
}

/// p95 per edge: each selection's quantile (NaN and 0 dropped by `> 0`), the
/// destination's winning where both reporters measured the same edge; one row per edge
/// (`max` only drops the labels `edge` packed).
fn latency_query(project: &str, minutes: u32, grouping: &str, parts: &[&str]) -> String {
    let key = grouping
        .strip_prefix("reporter,")
        .expect("latency groupings start with the reporter");
    let joined = selections(project)
        .iter()
        .map(|sel| {
            format!(
                "(histogram_quantile(0.95, sum by (le,{grouping}) \
                 (rate(istio_request_duration_milliseconds_bucket{{{sel}}}[{minutes}m]))) > 0)"
            )
        })
        .collect::<Vec<_>>()
        .join(&format!(" or on ({key}) "));
    format!("max by (reporter,{EDGE_LABEL}) ({})", pack(&joined, parts))
}

/// p95 latency (ms) of caller → service edges.
pub fn latency_to_service_query(project: &str, minutes: u32) -> String {
    latency_query(
        project,
        minutes,
        LATENCY_TO_SERVICE_GROUPING,
        &LATENCY_TO_SERVICE_PARTS,
    )
}

/// p95 latency (ms) of service → workload edges.
pub fn latency_to_workload_query(project: &str, minutes: u32) -> String {
    latency_query(
        project,
        minutes,
        LATENCY_TO_WORKLOAD_GROUPING,
        &LATENCY_TO_WORKLOAD_PARTS,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const BY_EDGE_AND_OUTCOME: &str = "response_code,grpc_response_status,response_flags";

    #[test]
    fn the_packed_parts_are_the_groupings_labels() {
        assert_eq!(format!("reporter,{}", EDGE_PARTS.join(",")), EDGE_GROUPING);
        assert_eq!(
            format!("reporter,{}", LATENCY_TO_SERVICE_PARTS.join(",")),
            LATENCY_TO_SERVICE_GROUPING
        );
        assert_eq!(
            format!("reporter,{}", LATENCY_TO_WORKLOAD_PARTS.join(",")),
            LATENCY_TO_WORKLOAD_GROUPING
        );
        assert_eq!(unpack::<3>("a||c"), Some(["a", "", "c"]));
        assert_eq!(unpack::<3>("a|b"), None);
        assert_eq!(unpack::<3>("a|b|c|d"), None);
    }

    #[test]
    fn requests_join_both_reporters_and_unserviced_requests_once() {
        let q = requests_query("demo", 5);
        assert!(
            q.starts_with(&format!("sum by (reporter,edge) (label_join(sum by ({EDGE_GROUPING},{BY_EDGE_AND_OUTCOME}) (rate(istio_requests_total{{reporter=\"destination\",destination_workload_namespace=\"demo\"}}[5m]))")),
            "{q}"
        );
        assert!(
            q.ends_with(
                "\"edge\", \"|\", \"source_workload_namespace\", \"source_workload\", \"source_app\", \"source_version\", \
                 \"source_canonical_service\", \"source_canonical_revision\", \"destination_service_namespace\", \
                 \"destination_service_name\", \"destination_service\", \"destination_workload_namespace\", \
                 \"destination_workload\", \"destination_app\", \"destination_version\", \"destination_canonical_service\", \
                 \"destination_canonical_revision\", \"request_protocol\")) > 0"
            ),
            "{q}"
        );
        // The source's rows count only where no destination reported the same edge and outcome.
        let or_on = format!(" or on ({DEDUP_KEY}) ");
        assert_eq!(q.matches(&or_on).count(), 2, "{q}");
        assert!(q.contains(&format!(
            "{or_on}sum by ({EDGE_GROUPING},{BY_EDGE_AND_OUTCOME}) (rate(istio_requests_total{{reporter=\"source\",source_workload_namespace=\"demo\"}}[5m]))"
        )), "{q}");
        assert!(
            q.contains(
                r#"destination_workload="unknown",destination_service=~"^.+\\.demo\\..+$"}[5m])"#
            ),
            "{q}"
        );
        // The answer is by edge: no response code in what is packed.
        assert!(!EDGE_PARTS.contains(&"response_code"));
    }

    #[test]
    fn errors_are_the_same_rows_restricted_to_failures() {
        let q = errors_query("demo", 1);
        let total = requests_query("demo", 1);
        // Same structure, each selection narrowed to 5xx or gRPC errors.
        assert_eq!(q.matches(" or on (").count(), 2, "{q}");
        assert!(q.contains(
            "(rate(istio_requests_total{reporter=\"destination\",destination_workload_namespace=\"demo\",response_code=~\"5..\"}[1m]) or \
             rate(istio_requests_total{reporter=\"destination\",destination_workload_namespace=\"demo\",request_protocol=\"grpc\",grpc_response_status!~\"0|\"}[1m]))"
        ), "{q}");
        assert_eq!(q.matches("response_code=~\"5..\"").count(), 3);
        let mut plain = q.clone();
        for sel in selections("demo") {
            plain = plain.replace(
                &format!(
                    "rate(istio_requests_total{{{sel}{}}}[1m]) or rate(istio_requests_total{{{sel}{}}}[1m])",
                    FAILED[0], FAILED[1]
                ),
                &format!("rate(istio_requests_total{{{sel}}}[1m])"),
            );
        }
        assert_eq!(plain, total, "only the failure matchers differ");
    }

    #[test]
    fn values_are_escaped_for_promql_strings_and_regexes() {
        let q = requests_query("a\"b.c", 1);
        assert!(
            q.contains("destination_workload_namespace=\"a\\\"b.c\""),
            "{q}"
        );
        // The dot of the namespace is a literal in the regex (\. escaped again for the string).
        assert!(q.contains(r#"^.+\\.a\"b\\.c\\..+$"#), "{q}");
        assert_eq!(regex_literal("a.b+c"), "a\\.b\\+c");
    }

    #[test]
    fn latency_queries_are_p95_by_edge_the_destination_first() {
        let q = latency_to_service_query("demo", 10);
        assert!(q.starts_with("max by (reporter,edge) (label_join((histogram_quantile(0.95, sum by (le,reporter,source_workload_namespace,source_workload,destination_service_namespace,destination_service_name) (rate(istio_request_duration_milliseconds_bucket{reporter=\"destination\","), "{q}");
        assert!(q.contains(") > 0) or on (source_workload_namespace,source_workload,destination_service_namespace,destination_service_name) (histogram_quantile(0.95, sum by (le,reporter,source_workload_namespace,source_workload,destination_service_namespace,destination_service_name) (rate(istio_request_duration_milliseconds_bucket{reporter=\"source\",source_workload_namespace=\"demo\"}[10m]))) > 0)"), "{q}");
        assert!(
            q.ends_with(", \"edge\", \"|\", \"source_workload_namespace\", \"source_workload\", \"destination_service_namespace\", \"destination_service_name\"))"),
            "{q}"
        );
        let q = latency_to_workload_query("demo", 10);
        assert!(
            q.contains("destination_workload_namespace,destination_workload) (rate("),
            "{q}"
        );
        assert_eq!(q.matches(" or on (destination_service_namespace,destination_service_name,destination_workload_namespace,destination_workload) ").count(), 2, "{q}");
    }
}
