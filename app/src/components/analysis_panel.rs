//! The job page's panel for an automatic release: where it is (the timeline, with a
//! countdown), every check with its measured values next to their thresholds, and a
//! person's overrides — Pause, Resume, Next step now, Promote now, Roll back now — sent as
//! job changes on the generation the person saw, like the slider.

use leptos::prelude::*;

use super::step_timeline::StepTimeline;
use crate::domain::release::analysis::{
    self, Check, GateVerdict, OutcomeKind, Verdict, describe_gate, step_count, step_label,
};
use crate::domain::release::jobs::{JobChange, JobView};
use crate::domain::release::{Side, Strategy};

/// Which overrides make sense now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offered {
    pub pause: bool,
    pub resume: bool,
    pub next_step: bool,
    pub promote: bool,
    pub roll_back: bool,
}

/// The overrides a job's state allows (the server checks them again).
pub fn offered(job: &JobView) -> Offered {
    let Some(plan) = &job.spec.analysis else {
        return Offered {
            pause: false,
            resume: false,
            next_step: false,
            promote: false,
            roll_back: false,
        };
    };
    let a = job.analysis.as_ref();
    let decided = job
        .spec
        .taken_over_by
        .or_else(|| a.and_then(|a| a.decided()));
    let awaiting =
        a.and_then(|a| a.outcome.as_ref()).map(|o| o.kind) == Some(OutcomeKind::AwaitingPromotion);
    let over = decided.is_some() || job.offline_keep.is_some();
    let step = a.map_or(0, |a| a.step);
    Offered {
        pause: !over && !awaiting && plan.paused.is_none(),
        resume: !over && plan.paused.is_some(),
        next_step: !over && !awaiting && step + 1 < step_count(&job.spec),
        promote: job.offline_keep.is_none() && decided != Some(Side::New),
        roll_back: job.offline_keep.is_none() && decided != Some(Side::Base),
    }
}

fn verdict_text(v: Verdict) -> &'static str {
    match v {
        Verdict::Passed => "passed",
        Verdict::Failed => "failed",
        Verdict::NotEnoughTraffic => "not enough traffic",
        Verdict::Unavailable => "metrics unavailable",
    }
}

fn check_row(c: &Check, job: &JobView) -> impl IntoView + use<> {
    let spec = &job.spec;
    let time = c.at.get(11..19).unwrap_or(&c.at).to_string();
    let verdict = c.verdict;
    let gates: Vec<(String, &'static str)> = c
        .gates
        .iter()
        .map(|g| {
            let class = match g.verdict {
                GateVerdict::Pass => "good",
                GateVerdict::Fail => "bad",
                GateVerdict::NotEnoughTraffic | GateVerdict::NotApplicable => "muted",
            };
            (
                describe_gate(g, &spec.new_version, &spec.base_version),
                class,
            )
        })
        .collect();
    let requests = if c.window_seconds > 0 {
        format!(
            "{} req to {}, {} to {} in {} s",
            c.new_requests, spec.new_version, c.base_requests, spec.base_version, c.window_seconds
        )
    } else {
        String::new()
    };
    let summary = c.summary.clone();
    view! {
        <tr data-verdict=format!("{verdict:?}")>
            <td>{time}</td>
            <td>{step_label(spec, c.step)}</td>
            <td class=match verdict { Verdict::Passed => "good", Verdict::Failed => "bad", _ => "muted" }>{verdict_text(verdict)}</td>
            <td>
                {if gates.is_empty() {
                    view! { <span>{summary}</span> }.into_any()
                } else {
                    view! {
                        <ul class="gates">
                            {gates.into_iter().map(|(text, class)| view! { <li class=class>{text}</li> }).collect_view()}
                        </ul>
                    }.into_any()
                }}
                <span class="muted small">{requests}</span>
            </td>
        </tr>
    }
}

#[component]
pub fn AnalysisPanel(
    job: JobView,
    /// A change, with the question to confirm it first (or none: send at once).
    on_change: Callback<(JobChange, Option<String>)>,
    /// Why this person may not change the job, if so.
    locked: Option<String>,
) -> impl IntoView {
    let spec = job.spec.clone();
    let ratio = matches!(spec.strategy, Strategy::TrafficRatio { .. });
    let can = offered(&job);
    let off = locked.is_some();
    let why = locked.unwrap_or_default();
    let state = analysis::describe(&spec, job.analysis.as_ref()).unwrap_or_default();
    let step = job.analysis.as_ref().map_or(0, |a| a.step);
    let next_label = step_label(&spec, (step + 1).min(step_count(&spec) - 1));
    let (new_v, base_v, new_workload) = (
        spec.new_version.clone(),
        spec.base_version.clone(),
        spec.new_workload(),
    );
    let checks: Vec<Check> = job
        .analysis
        .as_ref()
        .map(|a| a.checks.iter().rev().cloned().collect())
        .unwrap_or_default();
    let plan = spec.analysis.clone();
    let rules = plan.map(|p| {
        let mut gates = Vec::new();
        if let Some(s) = p.gates.min_success_percent {
            gates.push(format!("success rate ≥ {s}%"));
        }
        if let Some(ms) = p.gates.max_p99_ms {
            gates.push(format!("p99 ≤ {ms} ms"));
        }
        if let Some(m) = p.gates.max_error_increase_percent {
            gates.push(format!("errors ≤ {base_v}'s + {m} points"));
        }
        format!(
            "Every {} s: {}; judged with at least {} requests; rollback after {} failed check(s); {}.",
            p.interval_seconds,
            if gates.is_empty() { "no gates".to_string() } else { gates.join(", ") },
            p.min_requests,
            p.failure_limit,
            match p.promotion {
                analysis::Promotion::Automatic => format!("{new_v} takes over after the last step"),
                analysis::Promotion::Manual => "a person promotes after the last step".to_string(),
            }
        )
    });
    let send = move |c: JobChange, confirm: Option<String>| on_change.run((c, confirm));
    let (nv1, nv2, bv1) = (new_v.clone(), new_v.clone(), base_v.clone());
    view! {
        <section class="panel analysis" data-testid="analysis" aria-label="Automatic release">
            <h2>{if ratio { "Automatic steps" } else { "Automatic checks" }}</h2>
            <p data-testid="analysis-state">{state}</p>
            <StepTimeline job=job.clone() />
            <p class="muted small">{rules}</p>
            <div class="actions-row">
                <button type="button" class="button secondary" disabled=off || !can.pause title=why.clone()
                    on:click=move |_| send(JobChange::Pause, None)>"Pause"</button>
                <button type="button" class="button secondary" disabled=off || !can.resume title=why.clone()
                    on:click=move |_| send(JobChange::Resume, None)>"Resume"</button>
                {ratio.then(|| {
                    let why = why.clone();
                    view! {
                        <button type="button" class="button secondary" disabled=off || !can.next_step title=why
                            on:click=move |_| send(JobChange::NextStep { from: step }, Some(format!("Next step now: move to {next_label} without waiting for its checks?")))>
                            "Next step now"
                        </button>
                    }
                })}
                <button type="button" class="button" disabled=off || !can.promote title=why.clone()
                    on:click=move |_| send(JobChange::PromoteNow, Some(format!("Promote now: {nv1} takes all traffic, whatever its checks say?")))>
                    "Promote now"
                </button>
                <button type="button" class="button danger" disabled=off || !can.roll_back title=why.clone()
                    on:click=move |_| send(JobChange::RollBackNow, Some(format!("Roll back now: all traffic to {bv1}? {new_workload}'s pods stay for inspection until Job Offline.")))>
                    "Roll back now"
                </button>
            </div>
            {(!checks.is_empty()).then(|| view! {
                <table class="checks" data-testid="checks">
                    <thead><tr><th>"Time (UTC)"</th><th>"Step"</th><th>"Verdict"</th><th>{format!("Measured on {nv2} (threshold)")}</th></tr></thead>
                    <tbody>{checks.iter().map(|c| check_row(c, &job)).collect_view()}</tbody>
                </table>
            })}
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::release::ReleaseSpec;
    use crate::domain::release::analysis::{Analysis, AnalysisStatus, Outcome, PauseReason};

    fn job(strategy: Strategy, a: Option<AnalysisStatus>) -> JobView {
        JobView {
            name: "canary".into(),
            project: "demo".into(),
            spec: ReleaseSpec {
                component: "reviews".into(),
                base_workload: "reviews-v1".into(),
                base_version: "v1".into(),
                new_version: "v2".into(),
                image: "i".into(),
                replicas: 1,
                strategy,
                taken_over_by: None,
                creator: None,
                analysis: Some(Analysis::recommended()),
                routing: Default::default(),
                also_serving: Vec::new(),
                http_route: None,
            },
            offline_keep: None,
            phase: Some("Live".into()),
            message: None,
            versions: vec![],
            generation: 1,
            age_seconds: None,
            analysis: a,
            next_check_in: None,
        }
    }

    fn outcome(kind: OutcomeKind) -> Option<Outcome> {
        Some(Outcome {
            kind,
            at: String::new(),
            by_person: false,
            reason: String::new(),
        })
    }

    #[test]
    fn overrides_are_offered_where_they_make_sense() {
        let ratio = Strategy::TrafficRatio { new_percent: 10 };
        let running = job(ratio.clone(), Some(AnalysisStatus::default()));
        assert_eq!(
            offered(&running),
            Offered {
                pause: true,
                resume: false,
                next_step: true,
                promote: true,
                roll_back: true
            }
        );
        let mut paused = running.clone();
        paused.spec.analysis.as_mut().unwrap().paused = Some(PauseReason::SliderMoved);
        assert_eq!(
            (offered(&paused).pause, offered(&paused).resume),
            (false, true)
        );
        let last = job(
            ratio.clone(),
            Some(AnalysisStatus {
                step: 3,
                ..AnalysisStatus::default()
            }),
        );
        assert!(!offered(&last).next_step);
        let rolled = job(
            ratio.clone(),
            Some(AnalysisStatus {
                outcome: outcome(OutcomeKind::RolledBack),
                ..AnalysisStatus::default()
            }),
        );
        assert_eq!(
            offered(&rolled),
            Offered {
                pause: false,
                resume: false,
                next_step: false,
                promote: true,
                roll_back: false
            }
        );
        let waiting = job(
            ratio,
            Some(AnalysisStatus {
                step: 3,
                outcome: outcome(OutcomeKind::AwaitingPromotion),
                ..AnalysisStatus::default()
            }),
        );
        assert_eq!(
            offered(&waiting),
            Offered {
                pause: false,
                resume: false,
                next_step: false,
                promote: true,
                roll_back: true
            }
        );
        let mirroring = job(
            Strategy::Mirroring { percent: 50 },
            Some(AnalysisStatus::default()),
        );
        assert!(!offered(&mirroring).next_step, "one step only");
    }
}
