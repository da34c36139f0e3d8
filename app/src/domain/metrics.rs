//! Istio traffic metrics for a component, per version: the PromQL Sluice asks Prometheus
//! (Istio's standard metrics, as Kiali queries them: both reporters, each version counted
//! once) and the parsing of Prometheus' answers into series. The job page's charts and the
//! progressive release's gates use the same builders. Pure and tested on real responses.

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

/// `service` is a Service name, or several joined by `|` (a release on an HTTPRoute is
/// reported under its per-version Services too: [`crate::domain::release::ReleaseSpec::metric_services`]).
fn selector(reporter: &str, namespace: &str, service: &str, extra: &str) -> String {
    let op = if service.contains('|') { "=~" } else { "=" };
    format!(
        "reporter=\"{reporter}\",destination_service_namespace=\"{}\",destination_service_name{op}\"{}\"{extra}",
        escape(namespace),
        escape(service)
    )
}

/// Each version's numbers from one reporter only, so no request counts twice: the
/// destination sidecar's where there is one, else the caller's (a version without a
/// sidecar). PromQL's `or` keeps the left side's series and adds the right side's only for
/// versions the left side does not have.
fn by_reporter(expr: impl Fn(&str) -> String) -> String {
    format!("{} or {}", expr("destination"), expr("source"))
}

/// Requests per second, by version.
pub fn rps_by_version(namespace: &str, service: &str, window: &str) -> String {
    by_reporter(|r| {
        format!(
            "sum by (destination_version) (rate(istio_requests_total{{{}}}[{window}]))",
            selector(r, namespace, service, "")
        )
    })
}

/// Share of non-5xx answers, by version (0..1). A version that answered nothing but
/// errors has no non-5xx series at all: it reads 0, not "no data".
pub fn success_by_version(namespace: &str, service: &str, window: &str) -> String {
    by_reporter(|r| {
        let all = format!(
            "sum by (destination_version) (rate(istio_requests_total{{{}}}[{window}]))",
            selector(r, namespace, service, "")
        );
        format!(
            "(sum by (destination_version) (rate(istio_requests_total{{{}}}[{window}])) or {all} * 0) / {all}",
            selector(r, namespace, service, ",response_code!~\"5..\"")
        )
    })
}

/// A latency quantile in milliseconds, by version.
pub fn latency_by_version(namespace: &str, service: &str, quantile: f64, window: &str) -> String {
    by_reporter(|r| {
        format!(
            "histogram_quantile({quantile}, sum by (destination_version, le) \
             (rate(istio_request_duration_milliseconds_bucket{{{}}}[{window}])))",
            selector(r, namespace, service, "")
        )
    })
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
    /// An automatic release's gates, drawn as lines on the charts.
    #[serde(default)]
    pub thresholds: GateLines,
}

/// The thresholds an automatic release's checks judge by, for the charts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GateLines {
    /// Least success rate of the new version, 0..1.
    pub min_success: Option<f64>,
    /// Most p99 latency of the new version, ms.
    pub max_p99_ms: Option<f64>,
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
    /// The body is not JSON at all (a proxy's error page, a truncated answer).
    #[error("its answer was not JSON: {0}")]
    NotJson(String),
}

/// Parses a `/api/v1/query` or `/api/v1/query_range` answer (vector or matrix) as it
/// arrives, from its bytes: straight into [`Series`], without building a JSON tree first
/// (a big mesh's graph answers hold 100,000 rows).
pub fn parse_response_bytes(body: &[u8]) -> Result<Vec<Series>, ParseError> {
    serde_json::from_slice::<wire::Answer>(body)
        .map_err(|e| ParseError::NotJson(e.to_string()))?
        .into_series()
}

/// Parses an answer already read as JSON (same rules as [`parse_response_bytes`]).
pub fn parse_response(body: &Value) -> Result<Vec<Series>, ParseError> {
    <wire::Answer as Deserialize>::deserialize(body)
        .map_err(|e| ParseError::NotJson(e.to_string()))?
        .into_series()
}

/// Prometheus' answer shape, read leniently: a field of the wrong kind becomes "absent"
/// instead of a deserialisation error, so the caller gets the same sentence whatever
/// the order of the fields (`status` may come after `data`) and Prometheus' own error
/// message wins over any shape complaint.
mod wire {
    use std::collections::BTreeMap;
    use std::fmt;

    use serde::Deserialize;
    use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

    use super::{ParseError, Series};

    #[derive(Deserialize)]
    pub(super) struct Answer {
        #[serde(default)]
        status: Loose<String>,
        #[serde(default)]
        error: Loose<String>,
        #[serde(default)]
        data: Loose<Data>,
    }

    #[derive(Deserialize)]
    struct Data {
        #[serde(default)]
        result: Loose<Vec<Row>>,
    }

    impl Answer {
        pub(super) fn into_series(self) -> Result<Vec<Series>, ParseError> {
            if self.status.0.as_deref() != Some("success") {
                return Err(ParseError::Failed(
                    self.error.0.unwrap_or_else(|| "no error message".into()),
                ));
            }
            let rows = self
                .data
                .0
                .and_then(|d| d.result.0)
                .ok_or(ParseError::Shape("data.result is not a list"))?;
            rows.into_iter()
                .map(|r| {
                    r.0.ok_or(ParseError::Shape("a series has neither value nor values"))
                })
                .collect()
        }
    }

    /// A value of type `T`, or `None` when the JSON there is of another kind (or null).
    struct Loose<T>(Option<T>);

    impl<T> Default for Loose<T> {
        fn default() -> Self {
            Loose(None)
        }
    }

    /// Drains whatever value a visitor was not interested in.
    fn skip_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(())
    }
    fn skip_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }

    /// Implements the "anything else" arms of a lenient visitor: scalars, and lists or
    /// maps (drained), all answer `$none`.
    macro_rules! otherwise {
        ($none:expr; $($skip:ident),*) => {
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> { Ok($none) }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> { Ok($none) }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> { Ok($none) }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> { Ok($none) }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> { Ok($none) }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> { Ok($none) }
            $(otherwise!(@$skip $none);)*
        };
        (@str $none:expr) => {
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> { Ok($none) }
        };
        (@seq $none:expr) => {
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                skip_seq(seq)?;
                Ok($none)
            }
        };
        (@map $none:expr) => {
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                skip_map(map)?;
                Ok($none)
            }
        };
    }

    impl<'de> Deserialize<'de> for Loose<String> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Loose<String>;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("a string")
                }
                fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                    Ok(Loose(Some(v.to_owned())))
                }
                fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                    Ok(Loose(Some(v)))
                }
                otherwise!(Loose(None); seq, map);
            }
            d.deserialize_any(V)
        }
    }

    impl<'de> Deserialize<'de> for Loose<Data> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Loose<Data>;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("an object")
                }
                fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                    Data::deserialize(de::value::MapAccessDeserializer::new(map))
                        .map(|d| Loose(Some(d)))
                }
                otherwise!(Loose(None); str, seq);
            }
            d.deserialize_any(V)
        }
    }

    impl<'de> Deserialize<'de> for Loose<Vec<Row>> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Loose<Vec<Row>>;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("a list of series")
                }
                fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                    let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                    while let Some(row) = seq.next_element::<Row>()? {
                        out.push(row);
                    }
                    Ok(Loose(Some(out)))
                }
                otherwise!(Loose(None); str, map);
            }
            d.deserialize_any(V)
        }
    }

    /// One element of `data.result`; `None` when it has neither `value` nor `values`.
    struct Row(Option<Series>);

    impl<'de> Deserialize<'de> for Row {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Row;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("a series")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Row, A::Error> {
                    let mut labels = BTreeMap::new();
                    let mut value: Option<Vec<(f64, f64)>> = None;
                    let mut values: Option<Vec<(f64, f64)>> = None;
                    while let Some(key) = map.next_key::<Key>()? {
                        match key {
                            Key::Metric => labels = map.next_value::<Labels>()?.0,
                            Key::Value => {
                                value = Some(map.next_value::<Point>()?.0.into_iter().collect())
                            }
                            Key::Values => values = map.next_value::<Points>()?.0,
                            Key::Other => {
                                map.next_value::<IgnoredAny>()?;
                            }
                        }
                    }
                    // A list of `values` wins; a lone `value` is one point.
                    Ok(Row(values
                        .or(value)
                        .map(|points| Series { labels, points })))
                }
                otherwise!(Row(None); str, seq);
            }
            d.deserialize_any(V)
        }
    }

    enum Key {
        Metric,
        Value,
        Values,
        Other,
    }

    impl<'de> Deserialize<'de> for Key {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl Visitor<'_> for V {
                type Value = Key;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("a field name")
                }
                fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
                    Ok(match v {
                        "metric" => Key::Metric,
                        "value" => Key::Value,
                        "values" => Key::Values,
                        _ => Key::Other,
                    })
                }
            }
            d.deserialize_identifier(V)
        }
    }

    /// The `metric` object; labels whose value is not a string are left out.
    struct Labels(BTreeMap<String, String>);

    impl<'de> Deserialize<'de> for Labels {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Labels;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("an object of labels")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Labels, A::Error> {
                    let mut out = BTreeMap::new();
                    while let Some(k) = map.next_key::<String>()? {
                        if let Some(v) = map.next_value::<Loose<String>>()?.0 {
                            out.insert(k, v);
                        }
                    }
                    Ok(Labels(out))
                }
                otherwise!(Labels(BTreeMap::new()); str, seq);
            }
            d.deserialize_any(V)
        }
    }

    /// `[<unix seconds>, "<value>"]`; `None` when malformed. Prometheus sends values as
    /// strings ("NaN" and "+Inf" included); a plain number is accepted too.
    struct Point(Option<(f64, f64)>);

    /// A sample value: a string holding a number, or a number.
    struct Sample(Option<f64>);

    impl<'de> Deserialize<'de> for Sample {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Sample;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("a sample value")
                }
                fn visit_str<E: de::Error>(self, v: &str) -> Result<Sample, E> {
                    Ok(Sample(v.parse::<f64>().ok()))
                }
                fn visit_f64<E: de::Error>(self, v: f64) -> Result<Sample, E> {
                    Ok(Sample(Some(v)))
                }
                fn visit_i64<E: de::Error>(self, v: i64) -> Result<Sample, E> {
                    Ok(Sample(Some(v as f64)))
                }
                fn visit_u64<E: de::Error>(self, v: u64) -> Result<Sample, E> {
                    Ok(Sample(Some(v as f64)))
                }
                fn visit_bool<E: de::Error>(self, _: bool) -> Result<Sample, E> {
                    Ok(Sample(None))
                }
                fn visit_unit<E: de::Error>(self) -> Result<Sample, E> {
                    Ok(Sample(None))
                }
                fn visit_none<E: de::Error>(self) -> Result<Sample, E> {
                    Ok(Sample(None))
                }
                fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Sample, A::Error> {
                    skip_seq(seq)?;
                    Ok(Sample(None))
                }
                fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Sample, A::Error> {
                    skip_map(map)?;
                    Ok(Sample(None))
                }
            }
            d.deserialize_any(V)
        }
    }

    impl<'de> Deserialize<'de> for Point {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Point;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("a [time, value] pair")
                }
                fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Point, A::Error> {
                    let t = seq.next_element::<Sample>()?;
                    let v = seq.next_element::<Sample>()?;
                    skip_seq(seq)?;
                    Ok(Point(match (t, v) {
                        (Some(Sample(Some(t))), Some(Sample(Some(v)))) => Some((t, v)),
                        _ => None,
                    }))
                }
                otherwise!(Point(None); str, map);
            }
            d.deserialize_any(V)
        }
    }

    /// `values`: a list of points (malformed ones left out); `None` when not a list.
    struct Points(Option<Vec<(f64, f64)>>);

    impl<'de> Deserialize<'de> for Points {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Points;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("a list of points")
                }
                fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Points, A::Error> {
                    let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                    while let Some(p) = seq.next_element::<Point>()? {
                        out.extend(p.0);
                    }
                    Ok(Points(Some(out)))
                }
                otherwise!(Points(None); str, map);
            }
            d.deserialize_any(V)
        }
    }
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

    fn fixture_bytes(name: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/tests/fixtures/prometheus/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    #[test]
    fn bytes_and_json_trees_parse_the_same() {
        for name in [
            "api-v1-query_range-matrix.json",
            "api-v1-query-instant-vector.json",
            "topology-bookinfo-requests.json",
            "topology-bookinfo-errors.json",
            "topology-mesh-requests.json",
        ] {
            let bytes = fixture_bytes(name);
            let from_bytes = parse_response_bytes(&bytes).unwrap();
            assert_eq!(
                from_bytes,
                parse_response(&fixture(name)).unwrap(),
                "{name}"
            );
            assert!(!from_bytes.is_empty(), "{name}");
        }
        let series =
            parse_response_bytes(&fixture_bytes("api-v1-query-instant-vector.json")).unwrap();
        assert_eq!(series[1].labels["instance"], "localhost:9100");
        assert_eq!(series[1].points, vec![(1435781451.781, 0.0)]);
    }

    #[test]
    fn odd_answers_get_the_same_sentences_from_bytes() {
        let parse = |s: &str| parse_response_bytes(s.as_bytes());
        // Prometheus' message wins, wherever `status` sits.
        assert_eq!(
            parse(r#"{"data": {"result": 5}, "error": "query timed out", "status": "error"}"#)
                .unwrap_err()
                .to_string(),
            "Prometheus answered with an error: query timed out"
        );
        assert_eq!(
            parse(r#"{"status": "error"}"#).unwrap_err(),
            ParseError::Failed("no error message".into())
        );
        assert_eq!(
            parse(r#"{"status": "success", "data": {"resultType": "scalar", "result": {"a": 1}}}"#)
                .unwrap_err(),
            ParseError::Shape("data.result is not a list")
        );
        assert_eq!(
            parse(r#"{"status": "success", "data": {"result": [{"metric": {}}]}}"#).unwrap_err(),
            ParseError::Shape("a series has neither value nor values")
        );
        let err = parse("<html>502 Bad Gateway</html>").unwrap_err();
        assert!(
            err.to_string().starts_with("its answer was not JSON: "),
            "{err}"
        );
        // Special values, escaped label values, non-string labels and broken points.
        let series = parse(
            r#"{"status": "success", "data": {"resultType": "matrix", "result": [
                {"metric": {"a": "x\"y", "n": 3}, "values": [[1, "NaN"], [2, "+Inf"], [3], "x", [4.5, 7]]}
            ]}}"#,
        )
        .unwrap();
        assert_eq!(
            series[0].labels,
            [("a".to_string(), "x\"y".to_string())].into()
        );
        let p = &series[0].points;
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(p[0].1.is_nan());
        assert_eq!(p[1], (2.0, f64::INFINITY));
        assert_eq!(p[2], (4.5, 7.0));
    }

    #[test]
    fn queries_select_the_destination_reporter_of_the_component() {
        let q = rps_by_version("demo-project", "reviews", "1m");
        assert_eq!(
            q,
            "sum by (destination_version) (rate(istio_requests_total{reporter=\"destination\",\
             destination_service_namespace=\"demo-project\",destination_service_name=\"reviews\"}[1m])) \
             or sum by (destination_version) (rate(istio_requests_total{reporter=\"source\",\
             destination_service_namespace=\"demo-project\",destination_service_name=\"reviews\"}[1m]))"
        );
        let ok = success_by_version("a", "b", "5m");
        assert!(ok.contains("response_code!~\"5..\""));
        let dest_all = "sum by (destination_version) (rate(istio_requests_total{reporter=\"destination\",destination_service_namespace=\"a\",destination_service_name=\"b\"}[5m]))";
        assert!(
            ok.starts_with(
                "(sum by (destination_version) (rate(istio_requests_total{reporter=\"destination\","
            ),
            "{ok}"
        );
        assert!(
            ok.contains(&format!(" or {dest_all} * 0) / {dest_all} or (")),
            "{ok}"
        );
        let lat = latency_by_version("a", "b", 0.95, "5m");
        assert!(lat.starts_with("histogram_quantile(0.95"));
        assert!(lat.contains(") or histogram_quantile(0.95, sum by (destination_version, le) (rate(istio_request_duration_milliseconds_bucket{reporter=\"source\""), "{lat}");
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

    #[test]
    fn several_services_are_matched_as_one_regex() {
        let q = rps_by_version("demo", "reviews|reviews-v1|reviews-v2", "1m");
        assert!(
            q.contains("destination_service_name=~\"reviews|reviews-v1|reviews-v2\""),
            "{q}"
        );
        assert!(
            rps_by_version("demo", "reviews", "1m")
                .contains("destination_service_name=\"reviews\"")
        );
    }
}
