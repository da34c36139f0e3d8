//! Istio traffic metrics for a component, per version: the PromQL Sluice asks Prometheus
//! (Istio's standard metrics, as Kiali queries them, reported by the destination sidecar)
//! and the parsing of Prometheus' answers into series. Pure and tested on real responses.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One time series: its labels and (unix seconds, value) points.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    pub labels: BTreeMap<String, String>,
    pub points: Vec<(f64, f64)>,
}

impl Series {
    pub fn last(&self) -> Option<f64> {
        self.points.last().map(|p| p.1)
    }
}

/// Escapes a label value for a PromQL string literal.
pub fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"")
}

fn selector(namespace: &str, service: &str, extra: &str) -> String {
    format!(
        "reporter=\"destination\",destination_service_namespace=\"{}\",destination_service_name=\"{}\"{extra}",
        escape(namespace),
        escape(service)
    )
}

/// Requests per second, by version.
pub fn rps_by_version(namespace: &str, service: &str, window: &str) -> String {
    format!(
        "sum by (destination_version) (rate(istio_requests_total{{{}}}[{window}]))",
        selector(namespace, service, "")
    )
}

/// Share of non-5xx answers, by version (0..1).
pub fn success_by_version(namespace: &str, service: &str, window: &str) -> String {
    format!(
        "sum by (destination_version) (rate(istio_requests_total{{{}}}[{window}])) / \
         sum by (destination_version) (rate(istio_requests_total{{{}}}[{window}]))",
        selector(namespace, service, ",response_code!~\"5..\""),
        selector(namespace, service, "")
    )
}

/// A latency quantile in milliseconds, by version.
pub fn latency_by_version(namespace: &str, service: &str, quantile: f64, window: &str) -> String {
    format!(
        "histogram_quantile({quantile}, sum by (destination_version, le) \
         (rate(istio_request_duration_milliseconds_bucket{{{}}}[{window}])))",
        selector(namespace, service, "")
    )
}

/// The live metrics of a release job, per version, over a window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReleaseMetrics {
    /// Versions in card order (base, new), for colours and legends.
    pub versions: Vec<String>,
    pub start: f64,
    pub end: f64,
    pub rps: Vec<Series>,
    pub success: Vec<Series>,
    pub p50: Vec<Series>,
    pub p95: Vec<Series>,
    pub p99: Vec<Series>,
    /// Share of requests each version served over the last minute.
    pub observed: Vec<(String, f64)>,
    /// The split configured now.
    pub configured: Vec<(String, u8)>,
}

impl ReleaseMetrics {
    /// The series of `version` in `set`, if any.
    pub fn of<'a>(set: &'a [Series], version: &str) -> Option<&'a Series> {
        set.iter()
            .find(|s| s.labels.get("destination_version").map(String::as_str) == Some(version))
    }
}

/// Why a Prometheus answer could not be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParseError {
    #[error("Prometheus answered with an error: {0}")]
    Failed(String),
    #[error("unexpected answer from Prometheus: {0}")]
    Shape(&'static str),
}

fn number(v: &Value) -> Option<f64> {
    // Prometheus sends sample values as strings ("NaN" and "+Inf" included).
    match v {
        Value::String(s) => s.parse::<f64>().ok(),
        Value::Number(n) => n.as_f64(),
        _ => None,
    }
}

fn point(p: &Value) -> Option<(f64, f64)> {
    let a = p.as_array()?;
    Some((a.first()?.as_f64()?, number(a.get(1)?)?))
}

/// Parses a `/api/v1/query` or `/api/v1/query_range` answer (vector or matrix).
pub fn parse_response(body: &Value) -> Result<Vec<Series>, ParseError> {
    if body["status"] != "success" {
        return Err(ParseError::Failed(
            body["error"]
                .as_str()
                .unwrap_or("no error message")
                .to_string(),
        ));
    }
    let result = body["data"]["result"]
        .as_array()
        .ok_or(ParseError::Shape("data.result is not a list"))?;
    let mut out = Vec::with_capacity(result.len());
    for s in result {
        let labels = s["metric"]
            .as_object()
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        let points = match (s.get("values"), s.get("value")) {
            (Some(Value::Array(values)), _) => values.iter().filter_map(point).collect(),
            (_, Some(v)) => point(v).into_iter().collect(),
            _ => return Err(ParseError::Shape("a series has neither value nor values")),
        };
        out.push(Series { labels, points });
    }
    Ok(out)
}

/// The share of requests each version served, from per-version rates (0..=100, rounded;
/// empty when there was no traffic).
pub fn observed_split(rps: &[Series]) -> Vec<(String, f64)> {
    let rates: Vec<(String, f64)> = rps
        .iter()
        .filter_map(|s| {
            let v = s.last().filter(|v| v.is_finite())?;
            Some((
                s.labels
                    .get("destination_version")
                    .cloned()
                    .unwrap_or_default(),
                v,
            ))
        })
        .collect();
    let total: f64 = rates.iter().map(|(_, v)| v).sum();
    if total <= 0.0 {
        return Vec::new();
    }
    rates
        .into_iter()
        .map(|(k, v)| (k, (v / total * 1000.0).round() / 10.0))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Value {
        let path = format!(
            "{}/tests/fixtures/prometheus/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn parses_the_documented_range_answer() {
        let series = parse_response(&fixture("api-v1-query_range-matrix.json")).unwrap();
        assert_eq!(series.len(), 2);
        assert_eq!(series[0].labels["job"], "prometheus");
        assert_eq!(series[0].points[0], (1435781430.781, 1.0));
        assert_eq!(series[1].labels["job"], "node");
        assert_eq!(
            series[1].points.iter().map(|p| p.1).collect::<Vec<_>>(),
            [0.0, 0.0, 1.0]
        );
    }

    #[test]
    fn parses_the_documented_instant_answer() {
        let series = parse_response(&fixture("api-v1-query-instant-vector.json")).unwrap();
        assert_eq!(series.len(), 2);
        assert_eq!(series[0].points.len(), 1);
    }

    #[test]
    fn errors_say_what_prometheus_said() {
        let body = serde_json::json!({"status": "error", "errorType": "bad_data", "error": "parse error at char 5"});
        assert_eq!(
            parse_response(&body).unwrap_err().to_string(),
            "Prometheus answered with an error: parse error at char 5"
        );
    }

    #[test]
    fn queries_select_the_destination_reporter_of_the_component() {
        let q = rps_by_version("demo-project", "reviews", "1m");
        assert_eq!(
            q,
            "sum by (destination_version) (rate(istio_requests_total{reporter=\"destination\",\
             destination_service_namespace=\"demo-project\",destination_service_name=\"reviews\"}[1m]))"
        );
        assert!(success_by_version("a", "b", "5m").contains("response_code!~\"5..\""));
        assert!(latency_by_version("a", "b", 0.95, "5m").starts_with("histogram_quantile(0.95"));
        assert_eq!(escape("a\"b"), "a\\\"b");
    }

    #[test]
    fn observed_split_is_each_versions_share_of_requests() {
        let s = |v: &str, rate: f64| Series {
            labels: [("destination_version".to_string(), v.to_string())].into(),
            points: vec![(0.0, rate)],
        };
        assert_eq!(
            observed_split(&[s("v1", 1.4), s("v2", 0.6)]),
            [("v1".to_string(), 70.0), ("v2".to_string(), 30.0)]
        );
        assert!(observed_split(&[s("v1", 0.0)]).is_empty());
    }
}
