//! The wizard's "Automatic steps" form as text fields, and how they become a plan. Pure,
//! so the browser and the tests read a form the same way; the ranges are checked by
//! [`crate::domain::release::validation::check_analysis`], the one check the server and the
//! controller run too.

use serde::{Deserialize, Serialize};

use super::{
    Analysis, DEFAULT_FAILURE_LIMIT, DEFAULT_INTERVAL_SECONDS, DEFAULT_MAX_ERROR_INCREASE,
    DEFAULT_MAX_P99_MS, DEFAULT_MIN_REQUESTS, DEFAULT_MIN_SUCCESS_PERCENT, DEFAULT_STEPS, Gates,
    Promotion,
};

/// What the form's fields hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanForm {
    pub enabled: bool,
    /// Steps from a size and a maximum instead of a list.
    pub by_size: bool,
    /// e.g. "10, 25, 50, 100".
    pub steps: String,
    pub step_size: String,
    pub max_percent: String,
    pub interval_seconds: String,
    pub success_on: bool,
    pub min_success: String,
    pub p99_on: bool,
    pub max_p99: String,
    pub compare_on: bool,
    pub margin: String,
    pub min_requests: String,
    pub failure_limit: String,
    /// Take Over automatically after the last step (else wait for Promote).
    pub automatic: bool,
}

fn number(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        v.to_string()
    }
}

impl Default for PlanForm {
    fn default() -> Self {
        PlanForm {
            enabled: false,
            by_size: false,
            steps: steps_text(&DEFAULT_STEPS),
            step_size: "20".into(),
            max_percent: "100".into(),
            interval_seconds: DEFAULT_INTERVAL_SECONDS.to_string(),
            success_on: true,
            min_success: number(DEFAULT_MIN_SUCCESS_PERCENT),
            p99_on: true,
            max_p99: DEFAULT_MAX_P99_MS.to_string(),
            compare_on: true,
            margin: number(DEFAULT_MAX_ERROR_INCREASE),
            min_requests: DEFAULT_MIN_REQUESTS.to_string(),
            failure_limit: DEFAULT_FAILURE_LIMIT.to_string(),
            automatic: true,
        }
    }
}

/// Steps as the form shows them: "10, 25, 50, 100".
pub fn steps_text(steps: &[u8]) -> String {
    steps
        .iter()
        .map(u8::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Reads "10, 25, 50, 100" (commas, spaces, arrows or '%' between the numbers).
pub fn parse_steps(text: &str) -> Result<Vec<u8>, String> {
    let parts: Vec<&str> = text
        .split(|c: char| c == ',' || c == '%' || c == '→' || c == '>' || c.is_whitespace())
        .map(|p| p.trim_matches('-'))
        .filter(|p| !p.is_empty())
        .collect();
    if parts.is_empty() {
        return Err("Enter the steps, e.g. 10, 25, 50, 100.".into());
    }
    parts
        .iter()
        .map(|p| {
            p.parse::<u8>().map_err(|_| {
                format!("Step \"{p}\" is not a percentage: use whole numbers from 1 to 100.")
            })
        })
        .collect()
}

/// `size`, 2·`size`, … up to `max`, ending at `max` (20 up to 100: 20, 40, 60, 80, 100).
pub fn steps_by_size(size: u8, max: u8) -> Result<Vec<u8>, String> {
    if size == 0 || size > 100 {
        return Err(format!(
            "A step size of {size}% is out of range: choose 1 to 100."
        ));
    }
    if max == 0 || max > 100 {
        return Err(format!(
            "A maximum of {max}% is out of range: choose 1 to 100."
        ));
    }
    let mut out: Vec<u8> = (1..)
        .map(|i| u32::from(size) * i)
        .take_while(|p| *p < u32::from(max))
        .map(|p| p as u8)
        .collect();
    out.push(max);
    Ok(out)
}

impl PlanForm {
    /// The plan the form describes (`None` when automatic steps are off), or what cannot be
    /// read in it. `ratio`: the strategy moves traffic by ratio, so the form has steps.
    pub fn to_plan(&self, ratio: bool) -> Result<Option<Analysis>, Vec<String>> {
        if !self.enabled {
            return Ok(None);
        }
        let mut problems = Vec::new();
        let mut int = |label: &str, text: &str| -> u32 {
            match text.trim().parse::<u32>() {
                Ok(v) => v,
                Err(_) => {
                    problems.push(format!("{label}: \"{text}\" is not a whole number."));
                    0
                }
            }
        };
        let interval_seconds = int("Interval per step (seconds)", &self.interval_seconds);
        let min_requests = int("Minimum requests", &self.min_requests);
        let failure_limit = int("Failed checks before rollback", &self.failure_limit);
        let max_p99 = if self.p99_on {
            Some(int("p99 latency at most (ms)", &self.max_p99))
        } else {
            None
        };
        let size = if ratio && self.by_size {
            Some((
                int("Step size (%)", &self.step_size),
                int("Maximum (%)", &self.max_percent),
            ))
        } else {
            None
        };
        let mut float = |label: &str, text: &str| -> f64 {
            match text.trim().parse::<f64>() {
                Ok(v) if v.is_finite() => v,
                _ => {
                    problems.push(format!("{label}: \"{text}\" is not a number."));
                    0.0
                }
            }
        };
        let min_success = self
            .success_on
            .then(|| float("Success rate at least (%)", &self.min_success));
        let margin = self.compare_on.then(|| {
            float(
                "Error rate above the base by at most (points)",
                &self.margin,
            )
        });
        let steps = match (ratio, size) {
            (false, _) => Vec::new(),
            (true, Some((size, max))) => {
                match steps_by_size(size.min(255) as u8, max.min(255) as u8) {
                    Ok(s) => s,
                    Err(e) => {
                        problems.push(e);
                        Vec::new()
                    }
                }
            }
            (true, None) => match parse_steps(&self.steps) {
                Ok(s) => s,
                Err(e) => {
                    problems.push(e);
                    Vec::new()
                }
            },
        };
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Some(Analysis {
            steps,
            interval_seconds,
            gates: Gates {
                min_success_percent: min_success,
                max_p99_ms: max_p99,
                max_error_increase_percent: margin,
            },
            min_requests,
            failure_limit,
            promotion: if self.automatic {
                Promotion::Automatic
            } else {
                Promotion::Manual
            },
            paused: None,
            skip_to_step: None,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_form_is_the_recommended_plan() {
        let form = PlanForm {
            enabled: true,
            ..PlanForm::default()
        };
        assert_eq!(form.to_plan(true), Ok(Some(Analysis::recommended())));
        assert_eq!(PlanForm::default().to_plan(true), Ok(None));
        let mirroring = form.to_plan(false).unwrap().unwrap();
        assert!(mirroring.steps.is_empty());
    }

    #[test]
    fn steps_read_from_a_list_or_a_size_and_a_maximum() {
        assert_eq!(parse_steps("10, 25, 50, 100"), Ok(vec![10, 25, 50, 100]));
        assert_eq!(parse_steps("5% → 50% → 100%"), Ok(vec![5, 50, 100]));
        assert_eq!(parse_steps("10 20"), Ok(vec![10, 20]));
        assert!(parse_steps("").unwrap_err().contains("Enter the steps"));
        assert!(parse_steps("10, ten").unwrap_err().contains("\"ten\""));
        assert!(parse_steps("300").unwrap_err().contains("\"300\""));
        assert_eq!(steps_by_size(20, 100), Ok(vec![20, 40, 60, 80, 100]));
        assert_eq!(steps_by_size(30, 100), Ok(vec![30, 60, 90, 100]));
        assert_eq!(steps_by_size(50, 50), Ok(vec![50]));
        assert_eq!(steps_by_size(100, 100), Ok(vec![100]));
        assert!(steps_by_size(0, 100).is_err());
        assert!(steps_by_size(10, 0).is_err());
        let form = PlanForm {
            enabled: true,
            by_size: true,
            step_size: "25".into(),
            max_percent: "75".into(),
            ..PlanForm::default()
        };
        assert_eq!(form.to_plan(true).unwrap().unwrap().steps, vec![25, 50, 75]);
    }

    #[test]
    fn unreadable_fields_are_each_named_and_gates_can_be_off() {
        let form = PlanForm {
            enabled: true,
            interval_seconds: "1m".into(),
            min_success: "high".into(),
            failure_limit: "".into(),
            ..PlanForm::default()
        };
        let problems = form.to_plan(true).unwrap_err();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].contains("Interval per step"), "{problems:?}");
        let form = PlanForm {
            enabled: true,
            success_on: false,
            p99_on: false,
            compare_on: false,
            automatic: false,
            ..PlanForm::default()
        };
        let plan = form.to_plan(true).unwrap().unwrap();
        assert_eq!(plan.gates, Gates::default());
        assert_eq!(plan.promotion, Promotion::Manual);
    }
}
