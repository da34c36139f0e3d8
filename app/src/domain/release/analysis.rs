//! Progressive delivery: a release that moves its traffic by itself, step by step, each
//! step gated by the new version's live metrics, with a person's say at every point.
//!
//! The plan ([`Analysis`]) is part of the job's spec, what a person (or GitOps) asks for;
//! where the analysis is ([`AnalysisStatus`]: the current step, when it started, when the
//! next check is due, the checks so far, the outcome) is in the job's status, written by
//! the controller. So a console that restarts, or another console that becomes the
//! leader, reads the status and goes on from there: a check that was due is made once,
//! a step is entered once.
//!
//! [`decide`] is the whole of the analysis' logic: given the plan, the status, the time and
//! (when a check is due) what Prometheus measured, it says what to do next — wait, say
//! there is not enough traffic, advance, roll back, promote, or hold because the metrics
//! are unavailable — and what the status becomes. The controller only reads the cluster
//! and Prometheus and writes what this returns.
//!
//! A person's overrides are spec changes made with the job's generation, like the slider:
//! Pause and Resume ([`Analysis::paused`]), Next step now ([`Analysis::skip_to_step`]),
//! Promote now and Roll back now (the spec's `takenOverBy`). Moving the slider by hand
//! pauses the automation ([`PauseReason::SliderMoved`]).

pub mod form;

use serde::{Deserialize, Serialize};

use super::{ReleaseSpec, Side, Strategy};
use crate::domain::metrics::{
    ReleaseMetrics, Series, latency_by_version, rps_by_version, success_by_version,
};
use crate::domain::timefmt::{format_rfc3339, parse_rfc3339};

/// The step plan the wizard proposes.
pub const DEFAULT_STEPS: [u8; 4] = [10, 25, 50, 100];
pub const DEFAULT_INTERVAL_SECONDS: u32 = 60;
/// Shorter steps than this cannot be measured: Prometheus scrapes every 5–15 s.
pub const MIN_INTERVAL_SECONDS: u32 = 10;
pub const MAX_INTERVAL_SECONDS: u32 = 86_400;
pub const DEFAULT_MIN_SUCCESS_PERCENT: f64 = 99.0;
pub const DEFAULT_MAX_P99_MS: u32 = 500;
/// Percentage points the new version's error rate may exceed the base's by.
pub const DEFAULT_MAX_ERROR_INCREASE: f64 = 1.0;
pub const DEFAULT_MIN_REQUESTS: u32 = 20;
pub const DEFAULT_FAILURE_LIMIT: u32 = 2;
pub const MAX_STEPS: usize = 20;
pub const MAX_MIN_REQUESTS: u32 = 1_000_000;
pub const MAX_FAILURE_LIMIT: u32 = 100;
pub const MAX_P99_LIMIT_MS: u32 = 600_000;
/// Checks kept in the status, newest last.
pub const CHECKS_KEPT: usize = 20;
/// How soon a check held up (Prometheus unavailable, no ready pod) is tried again, at
/// most: the analysis goes on soon after the metrics are back.
pub const HOLD_RETRY_SECONDS: u64 = 5;

fn default_interval() -> u32 {
    DEFAULT_INTERVAL_SECONDS
}
fn default_min_requests() -> u32 {
    DEFAULT_MIN_REQUESTS
}
fn default_failure_limit() -> u32 {
    DEFAULT_FAILURE_LIMIT
}

/// The plan of an automatic release (`spec.analysis`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Analysis {
    /// The new version's share of traffic at each step, ascending, 1–100 (traffic-ratio
    /// jobs; e.g. 10, 25, 50, 100). Request-content and mirroring jobs have one step: the
    /// strategy as configured.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(
        feature = "ssr",
        schemars(length(max = 20), inner(range(min = 1, max = 100)))
    )]
    pub steps: Vec<u8>,
    /// How long each step runs before its check, and the window the check measures
    /// (seconds, at least 10).
    #[serde(default = "default_interval")]
    #[cfg_attr(feature = "ssr", schemars(range(min = 10, max = 86400)))]
    pub interval_seconds: u32,
    /// What a check judges. Without this field: success rate at least 99 %, p99 at most
    /// 500 ms, error rate at most 1 point above the base's; a gate left out of it is off.
    #[serde(default = "Gates::recommended")]
    pub gates: Gates,
    /// A gate is judged only over at least this many requests to the new version in the
    /// window; with fewer the step waits ("not enough traffic").
    #[serde(default = "default_min_requests")]
    #[cfg_attr(feature = "ssr", schemars(range(min = 1, max = 1000000)))]
    pub min_requests: u32,
    /// Failed checks in a row that roll the release back.
    #[serde(default = "default_failure_limit")]
    #[cfg_attr(feature = "ssr", schemars(range(min = 1, max = 100)))]
    pub failure_limit: u32,
    /// After the last step: take over automatically, or wait for a person's Promote.
    #[serde(default)]
    pub promotion: Promotion,
    /// Set by a person (Pause, or moving the slider by hand): nothing moves until Resume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused: Option<PauseReason>,
    /// "Next step now": the step (0-based) a person asked to be at, at least. Steps only
    /// go forward, so asking twice for the same step moves once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_to_step: Option<u32>,
}

/// What a check judges; a gate set to nothing is off.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Gates {
    /// The new version's share of non-5xx answers, at least (percent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schemars(range(min = 0, max = 100)))]
    pub min_success_percent: Option<f64>,
    /// The new version's p99 latency, at most (milliseconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schemars(range(min = 1, max = 600000)))]
    pub max_p99_ms: Option<u32>,
    /// The new version's error rate, at most this many percentage points above the base
    /// version's over the same window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schemars(range(min = 0, max = 100)))]
    pub max_error_increase_percent: Option<f64>,
}

impl Gates {
    /// The wizard's defaults.
    pub fn recommended() -> Gates {
        Gates {
            min_success_percent: Some(DEFAULT_MIN_SUCCESS_PERCENT),
            max_p99_ms: Some(DEFAULT_MAX_P99_MS),
            max_error_increase_percent: Some(DEFAULT_MAX_ERROR_INCREASE),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub enum Promotion {
    /// The new version takes over once the last step's check passes.
    #[default]
    Automatic,
    /// The last step stays until a person presses Promote.
    Manual,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub enum PauseReason {
    /// A person pressed Pause.
    Person,
    /// A person moved the slider: their split holds until Resume.
    SliderMoved,
}

impl Analysis {
    /// The plan the wizard proposes.
    pub fn recommended() -> Analysis {
        Analysis {
            steps: DEFAULT_STEPS.to_vec(),
            interval_seconds: DEFAULT_INTERVAL_SECONDS,
            gates: Gates::recommended(),
            min_requests: DEFAULT_MIN_REQUESTS,
            failure_limit: DEFAULT_FAILURE_LIMIT,
            promotion: Promotion::Automatic,
            paused: None,
            skip_to_step: None,
        }
    }
}

/// How many steps a job's analysis has: the plan's for a traffic-ratio job, one (the
/// strategy as configured) for the others.
pub fn step_count(spec: &ReleaseSpec) -> u32 {
    match (&spec.strategy, &spec.analysis) {
        (Strategy::TrafficRatio { .. }, Some(a)) => (a.steps.len() as u32).max(1),
        _ => 1,
    }
}

/// The new version's share at `step` of a traffic-ratio plan.
pub fn percent_at(spec: &ReleaseSpec, step: u32) -> Option<u8> {
    match (&spec.strategy, &spec.analysis) {
        (Strategy::TrafficRatio { .. }, Some(a)) => {
            a.steps.get(step as usize).or(a.steps.last()).copied()
        }
        _ => None,
    }
}

/// Whether the base version serves ordinary traffic at `step` (so the new version can be
/// compared with it).
fn base_serves(spec: &ReleaseSpec, step: u32) -> bool {
    percent_at(spec, step).is_none_or(|p| p < 100)
}

/// What a step label reads, e.g. "step 2 of 4 (v2 25%)" or "mirroring 100% to v2".
pub fn step_label(spec: &ReleaseSpec, step: u32) -> String {
    let n = step_count(spec);
    match (&spec.strategy, percent_at(spec, step)) {
        (Strategy::TrafficRatio { .. }, Some(p)) => {
            format!("step {} of {n} ({} {p}%)", step + 1, spec.new_version)
        }
        (Strategy::Mirroring { percent }, _) => {
            format!("mirroring {percent}% to {}", spec.new_version)
        }
        (Strategy::RequestContent { .. }, _) => {
            format!("matching requests to {}", spec.new_version)
        }
        _ => format!("step {} of {n}", step + 1),
    }
}

/// The analysis' state (`status.analysis`), written only by the controller.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct AnalysisStatus {
    /// The current step (0-based).
    pub step: u32,
    /// When the current step started (RFC 3339).
    pub step_started_at: String,
    /// When the next check is due (RFC 3339).
    pub next_check_at: String,
    /// Failed checks in a row in this step.
    #[serde(default)]
    pub failed_checks: u32,
    /// The controller saw the plan paused (a Resume restarts the step's clock).
    #[serde(default)]
    pub paused: bool,
    /// Why the step waits now, in words (not enough traffic, metrics unavailable).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting: Option<String>,
    /// Every step entered, in order: a step is entered once.
    #[serde(default)]
    pub history: Vec<StepEntry>,
    /// The latest checks, oldest first.
    #[serde(default)]
    pub checks: Vec<Check>,
    /// How the analysis ended, or that it waits for a person's Promote.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct StepEntry {
    pub step: u32,
    /// RFC 3339.
    pub at: String,
    pub entered: Entered,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub enum Entered {
    /// The first step, once the new version had ready pods.
    Start,
    /// The previous step's check passed.
    ChecksPassed,
    /// A person pressed Next step now.
    Person,
}

/// One check: what was measured over the window, gate by gate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Check {
    /// RFC 3339.
    pub at: String,
    pub step: u32,
    pub verdict: Verdict,
    pub window_seconds: u32,
    /// Requests to the new and the base version in the window.
    #[serde(default)]
    pub new_requests: u64,
    #[serde(default)]
    pub base_requests: u64,
    #[serde(default)]
    pub gates: Vec<GateResult>,
    /// What the check found, in words.
    pub summary: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub enum Verdict {
    Passed,
    Failed,
    /// Too few requests to judge: the step waits.
    NotEnoughTraffic,
    /// Prometheus did not answer: the analysis holds.
    Unavailable,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct GateResult {
    pub gate: Gate,
    pub verdict: GateVerdict,
    /// The new version's value: success %, p99 ms, or error %.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measured: Option<f64>,
    /// The base version's error % (the comparison gate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<f64>,
    pub threshold: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub enum Gate {
    SuccessRate,
    P99Latency,
    ErrorRateVsBase,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub enum GateVerdict {
    Pass,
    Fail,
    NotEnoughTraffic,
    /// Not judged at this step (the base serves no traffic to compare with).
    NotApplicable,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    pub kind: OutcomeKind,
    /// RFC 3339.
    pub at: String,
    /// A person decided (Promote now, Roll back now), not the checks.
    #[serde(default)]
    pub by_person: bool,
    /// Why, in words: for a rollback, which gate with which values.
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub enum OutcomeKind {
    /// The new version took over.
    Promoted,
    /// All traffic went back to the base; the new version's pods stay for inspection
    /// until Job Offline.
    RolledBack,
    /// The last step passed; a person's Promote ends it.
    AwaitingPromotion,
}

impl AnalysisStatus {
    /// The side that serves all traffic by the analysis' decision, if it decided.
    pub fn decided(&self) -> Option<Side> {
        match self.outcome.as_ref().map(|o| o.kind) {
            Some(OutcomeKind::Promoted) => Some(Side::New),
            Some(OutcomeKind::RolledBack) => Some(Side::Base),
            _ => None,
        }
    }

    pub fn rolled_back(&self) -> bool {
        self.decided() == Some(Side::Base)
    }

    /// Seconds until the next check, from `now` (never negative).
    pub fn next_check_in(&self, now: i64) -> Option<i64> {
        parse_rfc3339(&self.next_check_at).map(|t| (t - now).max(0))
    }
}

/// What Prometheus measured over a check's window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Measured {
    pub window_seconds: u32,
    pub new_requests: f64,
    /// Share of non-5xx answers, 0..1.
    pub new_success: Option<f64>,
    pub new_p99_ms: Option<f64>,
    pub base_requests: f64,
    pub base_success: Option<f64>,
}

/// The three instant queries a check makes (rate, success, p99 by version, over the
/// window): the job page's builders, so the page and the gates see the same numbers.
pub fn gate_queries(namespace: &str, service: &str, window_seconds: u32) -> [String; 3] {
    let w = format!("{window_seconds}s");
    [
        rps_by_version(namespace, service, &w),
        success_by_version(namespace, service, &w),
        latency_by_version(namespace, service, 0.99, &w),
    ]
}

impl Measured {
    /// The measurement from the answers to [`gate_queries`].
    pub fn from_series(
        spec: &ReleaseSpec,
        window_seconds: u32,
        rps: &[Series],
        success: &[Series],
        p99: &[Series],
    ) -> Measured {
        let value = |set: &[Series], v: &str| {
            ReleaseMetrics::of(set, v)
                .and_then(Series::last)
                .filter(|x| x.is_finite())
        };
        let requests =
            |v: &str| value(rps, v).map_or(0.0, |r| (r * f64::from(window_seconds)).max(0.0));
        Measured {
            window_seconds,
            new_requests: requests(&spec.new_version),
            new_success: value(success, &spec.new_version),
            new_p99_ms: value(p99, &spec.new_version),
            base_requests: requests(&spec.base_version),
            base_success: value(success, &spec.base_version),
        }
    }
}

/// What the controller should do now.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// The new version has no ready pod yet: the analysis has not started.
    NotStarted,
    /// A step was entered (the first one, after a passed check, or by a person): apply
    /// its split.
    Advance { step: u32, entered: Entered },
    /// The step runs; the next check is due at `status.next_check_at`.
    Wait,
    /// A check is due: measure, then decide again with the measurement.
    Measure,
    /// The check could not judge: too few requests. The step waits.
    NotEnoughTraffic,
    /// A check failed, below the limit: the step is checked again after an interval.
    FailedCheck { failed: u32, limit: u32 },
    /// Prometheus (or the new version) is unavailable: no promotion, no rollback.
    Hold { why: String },
    /// A person paused the plan.
    Paused,
    /// A gate failed too often: all traffic to the base.
    RollBack,
    /// The new version takes over.
    Promote,
    /// The last step passed; a person's Promote is awaited.
    AwaitPromotion,
    /// The analysis ended earlier; nothing to do.
    Done,
}

/// Something worth an event on the job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub warning: bool,
    /// The event's reason, e.g. `StepAdvanced`.
    pub reason: &'static str,
    pub text: String,
}

/// What [`decide`] returns: the action and the status to write (before acting on it).
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub action: Action,
    pub status: AnalysisStatus,
    pub note: Option<Note>,
}

/// What [`decide`] looks at.
#[derive(Debug, Clone, Copy)]
pub struct Situation<'a> {
    /// The job's spec (its `analysis` is the plan).
    pub spec: &'a ReleaseSpec,
    pub status: Option<&'a AnalysisStatus>,
    /// Unix seconds.
    pub now: i64,
    /// The new version has a ready pod.
    pub new_ready: bool,
}

/// The next step of an analysis. `measured` is `None` unless the caller measured because
/// an earlier call answered [`Action::Measure`]; `Some(Err(why))` when Prometheus could
/// not answer. Pure: the same situation always gives the same decision.
pub fn decide(s: Situation<'_>, measured: Option<Result<Measured, String>>) -> Decision {
    let spec = s.spec;
    let Some(plan) = &spec.analysis else {
        return Decision {
            action: Action::Done,
            status: s.status.cloned().unwrap_or_default(),
            note: None,
        };
    };
    let now_text = format_rfc3339(s.now);
    let interval = i64::from(plan.interval_seconds.max(MIN_INTERVAL_SECONDS));
    let last = step_count(spec) - 1;
    let keep = |action, status| Decision {
        action,
        status,
        note: None,
    };

    // A person's Promote now / Roll back now / Take Over: recorded as the outcome.
    if let Some(side) = spec.taken_over_by {
        let mut st = s.status.cloned().unwrap_or_else(|| AnalysisStatus {
            step_started_at: now_text.clone(),
            next_check_at: now_text.clone(),
            ..AnalysisStatus::default()
        });
        let kind = match side {
            Side::New => OutcomeKind::Promoted,
            Side::Base => OutcomeKind::RolledBack,
        };
        if st.outcome.as_ref().map(|o| o.kind) == Some(kind) {
            return keep(Action::Done, st);
        }
        let (reason, text, warning, action) = match side {
            Side::New => (
                "Promoted",
                format!(
                    "Promoted by hand at {}: {} takes all traffic.",
                    step_label(spec, st.step),
                    spec.new_version
                ),
                false,
                Action::Promote,
            ),
            Side::Base => (
                "RolledBack",
                format!(
                    "Rolled back by hand at {}: all traffic to {}; {}'s pods stay for \
                     inspection until Job Offline.",
                    step_label(spec, st.step),
                    spec.base_version,
                    spec.new_workload()
                ),
                true,
                Action::RollBack,
            ),
        };
        st.outcome = Some(Outcome {
            kind,
            at: now_text,
            by_person: true,
            reason: text.clone(),
        });
        st.waiting = None;
        return Decision {
            action,
            status: st,
            note: Some(Note {
                warning,
                reason,
                text,
            }),
        };
    }

    let Some(prev) = s.status else {
        if !s.new_ready {
            return keep(Action::NotStarted, AnalysisStatus::default());
        }
        // The first step, or the one a person already asked for.
        let step = plan.skip_to_step.unwrap_or(0).min(last);
        let entered = if step == 0 {
            Entered::Start
        } else {
            Entered::Person
        };
        let st = AnalysisStatus {
            step,
            step_started_at: now_text.clone(),
            next_check_at: format_rfc3339(s.now + interval),
            paused: plan.paused.is_some(),
            history: vec![StepEntry {
                step,
                at: now_text,
                entered,
            }],
            ..AnalysisStatus::default()
        };
        let text = format!(
            "Automatic release started: {}; first check in {interval} s.",
            step_label(spec, step)
        );
        return Decision {
            action: Action::Advance { step, entered },
            status: st,
            note: Some(Note {
                warning: false,
                reason: "AnalysisStarted",
                text,
            }),
        };
    };
    let mut st = prev.clone();
    match st.outcome.as_ref().map(|o| o.kind) {
        Some(OutcomeKind::Promoted | OutcomeKind::RolledBack) => return keep(Action::Done, st),
        Some(OutcomeKind::AwaitingPromotion) => return keep(Action::AwaitPromotion, st),
        None => {}
    }

    // Next step now: forward only, so a repeated or stale request moves at most once.
    if let Some(target) = plan.skip_to_step.map(|t| t.min(last))
        && target > st.step
    {
        enter(&mut st, target, Entered::Person, s.now, interval);
        st.paused = plan.paused.is_some();
        let text = format!(
            "Moved to {} by hand; next check in {interval} s.",
            step_label(spec, target)
        );
        return Decision {
            action: Action::Advance {
                step: target,
                entered: Entered::Person,
            },
            status: st,
            note: Some(Note {
                warning: false,
                reason: "StepAdvanced",
                text,
            }),
        };
    }

    if plan.paused.is_some() {
        if !st.paused {
            st.paused = true;
            st.waiting = None;
        }
        return keep(Action::Paused, st);
    }
    if st.paused {
        // Resumed: the step's clock starts again, so a check never measures the pause.
        st.paused = false;
        st.step_started_at = now_text.clone();
        st.next_check_at = format_rfc3339(s.now + interval);
        st.failed_checks = 0;
        st.waiting = None;
        let text = format!(
            "Resumed at {}; next check in {interval} s.",
            step_label(spec, st.step)
        );
        return Decision {
            action: Action::Wait,
            status: st,
            note: Some(Note {
                warning: false,
                reason: "Resumed",
                text,
            }),
        };
    }

    let due = parse_rfc3339(&st.next_check_at).is_none_or(|t| s.now >= t);
    if !due {
        return keep(Action::Wait, st);
    }
    // A check that cannot judge holds the step without moving its clock: nothing is
    // written until what it waits for changes, and it is tried again soon.
    if !s.new_ready {
        let why = format!(
            "{} has no ready pod: traffic stays on {} and nothing is judged until one is \
             ready.",
            spec.new_workload(),
            spec.base_version
        );
        return hold(st, why, &now_text, false);
    }
    let m = match measured {
        None => return keep(Action::Measure, st),
        Some(Err(why)) => {
            let why = format!(
                "Prometheus is unavailable ({}): holding, with no promotion and no rollback, \
                 until it answers.",
                why.trim_end_matches('.')
            );
            return hold(st, why, &now_text, true);
        }
        Some(Ok(m)) => m,
    };

    let (verdict, gates) = judge(plan, &m, base_serves(spec, st.step));
    let summary = summarize(spec, plan, &m, verdict, &gates);
    let previous = st
        .checks
        .last()
        .filter(|c| c.step == st.step)
        .map(|c| c.verdict);
    st.checks.push(Check {
        at: now_text.clone(),
        step: st.step,
        verdict,
        window_seconds: m.window_seconds,
        new_requests: m.new_requests.round() as u64,
        base_requests: m.base_requests.round() as u64,
        gates,
        summary: summary.clone(),
    });
    if st.checks.len() > CHECKS_KEPT {
        let extra = st.checks.len() - CHECKS_KEPT;
        st.checks.drain(..extra);
    }
    st.next_check_at = format_rfc3339(s.now + interval);
    st.waiting = None;
    match verdict {
        Verdict::NotEnoughTraffic => {
            // Noted when the step starts waiting, not at every check that still waits.
            let changed = previous != Some(Verdict::NotEnoughTraffic);
            st.waiting = Some(summary.clone());
            Decision {
                action: Action::NotEnoughTraffic,
                status: st,
                note: changed.then_some(Note {
                    warning: false,
                    reason: "NotEnoughTraffic",
                    text: summary,
                }),
            }
        }
        Verdict::Failed => {
            st.failed_checks += 1;
            if st.failed_checks >= plan.failure_limit.max(1) {
                let reason = format!(
                    "Rolled back at {} after {} failed check{}: {summary} All traffic to {}; \
                     {}'s pods stay for inspection until Job Offline.",
                    step_label(spec, st.step),
                    st.failed_checks,
                    if st.failed_checks == 1 { "" } else { "s" },
                    spec.base_version,
                    spec.new_workload()
                );
                st.outcome = Some(Outcome {
                    kind: OutcomeKind::RolledBack,
                    at: now_text,
                    by_person: false,
                    reason: reason.clone(),
                });
                Decision {
                    action: Action::RollBack,
                    status: st,
                    note: Some(Note {
                        warning: true,
                        reason: "RolledBack",
                        text: reason,
                    }),
                }
            } else {
                let failed = st.failed_checks;
                let limit = plan.failure_limit.max(1);
                let text = format!(
                    "Check failed ({failed} of {limit} before rollback) at {}: {summary}",
                    step_label(spec, st.step)
                );
                Decision {
                    action: Action::FailedCheck { failed, limit },
                    status: st,
                    note: Some(Note {
                        warning: true,
                        reason: "CheckFailed",
                        text,
                    }),
                }
            }
        }
        Verdict::Passed | Verdict::Unavailable => {
            st.failed_checks = 0;
            if st.step < last {
                let next = st.step + 1;
                enter(&mut st, next, Entered::ChecksPassed, s.now, interval);
                let text = format!("{summary} Advanced to {}.", step_label(spec, next));
                Decision {
                    action: Action::Advance {
                        step: next,
                        entered: Entered::ChecksPassed,
                    },
                    status: st,
                    note: Some(Note {
                        warning: false,
                        reason: "StepAdvanced",
                        text,
                    }),
                }
            } else {
                let (kind, action, reason, text) = match plan.promotion {
                    Promotion::Automatic => (
                        OutcomeKind::Promoted,
                        Action::Promote,
                        "Promoted",
                        format!(
                            "{summary} The last step passed: {} takes all traffic.",
                            spec.new_version
                        ),
                    ),
                    Promotion::Manual => (
                        OutcomeKind::AwaitingPromotion,
                        Action::AwaitPromotion,
                        "AwaitingPromotion",
                        format!(
                            "{summary} The last step passed: press Promote to let {} take all \
                             traffic.",
                            spec.new_version
                        ),
                    ),
                };
                st.outcome = Some(Outcome {
                    kind,
                    at: now_text,
                    by_person: false,
                    reason: text.clone(),
                });
                Decision {
                    action,
                    status: st,
                    note: Some(Note {
                        warning: false,
                        reason,
                        text,
                    }),
                }
            }
        }
    }
}

fn enter(st: &mut AnalysisStatus, step: u32, entered: Entered, now: i64, interval: i64) {
    st.step = step;
    st.step_started_at = format_rfc3339(now);
    st.next_check_at = format_rfc3339(now + interval);
    st.failed_checks = 0;
    st.waiting = None;
    st.history.push(StepEntry {
        step,
        at: format_rfc3339(now),
        entered,
    });
}

/// Holds the step: nothing is judged and its clock does not move, so the check is made
/// as soon as what it waits for is back. The first hold of a kind is recorded as a check
/// and noted; repeats change nothing.
fn hold(mut st: AnalysisStatus, why: String, now_text: &str, unavailable: bool) -> Decision {
    let is_new = st.waiting.as_deref() != Some(why.as_str());
    if is_new && unavailable {
        st.checks.push(Check {
            at: now_text.to_string(),
            step: st.step,
            verdict: Verdict::Unavailable,
            window_seconds: 0,
            new_requests: 0,
            base_requests: 0,
            gates: Vec::new(),
            summary: why.clone(),
        });
        if st.checks.len() > CHECKS_KEPT {
            st.checks.remove(0);
        }
    }
    st.waiting = Some(why.clone());
    Decision {
        action: Action::Hold { why: why.clone() },
        status: st,
        note: is_new.then_some(Note {
            warning: true,
            reason: "AnalysisHeld",
            text: why,
        }),
    }
}

/// Judges every gate of the plan on a measurement. A gate needs `min_requests` to the new
/// version (and, to compare, to the base); one that fails fails the check, otherwise one
/// without enough traffic makes the step wait.
pub fn judge(plan: &Analysis, m: &Measured, base_serves: bool) -> (Verdict, Vec<GateResult>) {
    let need = f64::from(plan.min_requests.max(1));
    let enough_new = m.new_requests >= need;
    let finite = |x: Option<f64>| x.filter(|v| v.is_finite());
    let mut out = Vec::new();
    let verdict_of = |enough: bool, value: Option<f64>, pass: &dyn Fn(f64) -> bool| match value {
        _ if !enough => GateVerdict::NotEnoughTraffic,
        None => GateVerdict::NotEnoughTraffic,
        Some(v) if pass(v) => GateVerdict::Pass,
        Some(_) => GateVerdict::Fail,
    };
    if let Some(min) = plan.gates.min_success_percent {
        let measured = finite(m.new_success).map(|s| s * 100.0);
        out.push(GateResult {
            gate: Gate::SuccessRate,
            verdict: verdict_of(enough_new, measured, &|v| v + 1e-9 >= min),
            measured,
            baseline: None,
            threshold: min,
        });
    }
    if let Some(max) = plan.gates.max_p99_ms {
        let measured = finite(m.new_p99_ms);
        out.push(GateResult {
            gate: Gate::P99Latency,
            verdict: verdict_of(enough_new, measured, &|v| v <= f64::from(max)),
            measured,
            baseline: None,
            threshold: f64::from(max),
        });
    }
    if let Some(margin) = plan.gates.max_error_increase_percent {
        let new_err = finite(m.new_success).map(|s| (1.0 - s) * 100.0);
        let base_err = finite(m.base_success).map(|s| (1.0 - s) * 100.0);
        let verdict = if !base_serves {
            GateVerdict::NotApplicable
        } else {
            let enough = enough_new && m.base_requests >= need;
            match (new_err, base_err) {
                (Some(n), Some(b)) => verdict_of(enough, Some(n - b), &|d| d <= margin + 1e-9),
                _ => GateVerdict::NotEnoughTraffic,
            }
        };
        out.push(GateResult {
            gate: Gate::ErrorRateVsBase,
            verdict,
            measured: new_err,
            baseline: base_err,
            threshold: margin,
        });
    }
    let verdict = if out.iter().any(|g| g.verdict == GateVerdict::Fail) {
        Verdict::Failed
    } else if out
        .iter()
        .any(|g| g.verdict == GateVerdict::NotEnoughTraffic)
    {
        Verdict::NotEnoughTraffic
    } else {
        Verdict::Passed
    };
    (verdict, out)
}

/// A gate's result as a person reads it, e.g. "success rate 50.0% (at least 99%)".
pub fn describe_gate(g: &GateResult, new_version: &str, base_version: &str) -> String {
    let num = |v: f64| {
        if (v - v.round()).abs() < 1e-9 {
            format!("{v:.0}")
        } else {
            format!("{v:.1}")
        }
    };
    let value = |unit: &str| {
        g.measured
            .map(|v| format!("{}{unit}", num(v)))
            .unwrap_or_else(|| "no data".into())
    };
    match g.gate {
        Gate::SuccessRate => format!(
            "success rate of {new_version} {} (at least {}%)",
            value("%"),
            num(g.threshold)
        ),
        Gate::P99Latency => format!(
            "p99 latency of {new_version} {} (at most {} ms)",
            value(" ms"),
            num(g.threshold)
        ),
        Gate::ErrorRateVsBase => match (g.measured, g.baseline) {
            (Some(n), Some(b)) => format!(
                "error rate of {new_version} {}% vs {base_version}'s {}% ({:+.1} points, at most +{})",
                num(n),
                num(b),
                n - b,
                num(g.threshold)
            ),
            _ => format!(
                "error rate of {new_version} vs {base_version} (at most +{} points): {}",
                num(g.threshold),
                if g.verdict == GateVerdict::NotApplicable {
                    format!("not compared, {base_version} serves no traffic at this step")
                } else {
                    "no data".into()
                }
            ),
        },
    }
}

/// One sentence for a check: what failed, why it could not judge, or that it passed.
fn summarize(
    spec: &ReleaseSpec,
    plan: &Analysis,
    m: &Measured,
    verdict: Verdict,
    gates: &[GateResult],
) -> String {
    let (new_v, base_v) = (&spec.new_version, &spec.base_version);
    let window = m.window_seconds;
    let of = |v: GateVerdict| {
        gates
            .iter()
            .filter(|g| g.verdict == v)
            .map(|g| describe_gate(g, new_v, base_v))
            .collect::<Vec<_>>()
    };
    match verdict {
        Verdict::Failed => format!("{}.", of(GateVerdict::Fail).join("; ")),
        Verdict::NotEnoughTraffic => {
            let need = plan.min_requests;
            let base_short = gates.iter().any(|g| {
                g.gate == Gate::ErrorRateVsBase && g.verdict == GateVerdict::NotEnoughTraffic
            }) && m.new_requests >= f64::from(need);
            if base_short {
                format!(
                    "Not enough traffic: {} requests to {base_v} in {window} s, {need} needed to \
                     compare it with {new_v}.",
                    m.base_requests.round()
                )
            } else {
                format!(
                    "Not enough traffic: {} requests to {new_v} in {window} s, {need} needed to \
                     judge.",
                    m.new_requests.round()
                )
            }
        }
        Verdict::Passed | Verdict::Unavailable => {
            let passed = of(GateVerdict::Pass);
            if passed.is_empty() {
                format!(
                    "Step time over ({} requests to {new_v} in {window} s; no gate to judge).",
                    m.new_requests.round()
                )
            } else {
                format!(
                    "Checks passed over {} requests in {window} s: {}.",
                    m.new_requests.round(),
                    passed.join("; ")
                )
            }
        }
    }
}

/// The spec as it is applied now: the current step's share for a running traffic-ratio
/// plan (the person's own split while the slider has paused it), and all traffic to the
/// side the analysis decided for. A person's Take Over wins over the analysis.
pub fn effective_spec(spec: &ReleaseSpec, status: Option<&AnalysisStatus>) -> ReleaseSpec {
    let mut out = spec.clone();
    let Some(plan) = &spec.analysis else {
        return out;
    };
    if out.taken_over_by.is_none() {
        out.taken_over_by = status.and_then(AnalysisStatus::decided);
    }
    if plan.paused != Some(PauseReason::SliderMoved)
        && let Strategy::TrafficRatio { new_percent } = &mut out.strategy
        && let Some(p) = percent_at(spec, status.map_or(0, |s| s.step))
    {
        *new_percent = p;
    }
    out
}

/// The job's message while an analysis runs or after it ended.
pub fn describe(spec: &ReleaseSpec, status: Option<&AnalysisStatus>) -> Option<String> {
    let plan = spec.analysis.as_ref()?;
    let Some(st) = status else {
        return Some(format!(
            "Automatic release: starts at {} once {} has a ready pod.",
            step_label(spec, plan.skip_to_step.unwrap_or(0)),
            spec.new_version
        ));
    };
    if let Some(o) = &st.outcome {
        return Some(o.reason.clone());
    }
    let at = step_label(spec, st.step);
    let at = format!("{}{}", at[..1].to_uppercase(), &at[1..]);
    Some(match plan.paused {
        Some(PauseReason::SliderMoved) => {
            let manual = match spec.strategy {
                Strategy::TrafficRatio { new_percent } => {
                    format!(" ({} {new_percent}%)", spec.new_version)
                }
                _ => String::new(),
            };
            format!(
                "Paused: the slider was moved by hand{manual}, so the automatic steps stopped. \
                 Resume goes back to {} and its checks.",
                step_label(spec, st.step)
            )
        }
        Some(PauseReason::Person) => format!(
            "Paused by hand at {}: no checks, no steps until Resume.",
            step_label(spec, st.step)
        ),
        None => match &st.waiting {
            Some(why) => format!("{at}: {why}"),
            None if st.failed_checks > 0 => format!(
                "{at}: {} of {} failed checks before rollback; checking again.",
                st.failed_checks, plan.failure_limit
            ),
            None => format!("{at}: running; checks every {} s.", plan.interval_seconds),
        },
    })
}

#[cfg(test)]
mod tests;
