//! An automatic release's plan as a timeline: the steps done (and how each was left), the
//! current one with a countdown to its next check (or why it waits), and the ones to come.
//! The states are the pure [`timeline`]; this only draws them.

use std::time::Duration;

use leptos::prelude::*;

use crate::domain::release::analysis::{
    AnalysisStatus, Entered, OutcomeKind, percent_at, step_count, step_label,
};
use crate::domain::release::jobs::JobView;

/// Where one step of the plan is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepRow {
    pub step: u32,
    /// "10%", or the strategy for a one-step plan.
    pub label: String,
    /// `done`, `current` or `next`.
    pub state: &'static str,
    /// What happened or happens there, in words.
    pub note: String,
}

/// The rows of the timeline of `job`.
pub fn timeline(job: &JobView) -> Vec<StepRow> {
    let spec = &job.spec;
    let n = step_count(spec);
    let a = job.analysis.as_ref();
    let current = a.map_or(0, |a| a.step);
    let outcome = a.and_then(|a| a.outcome.as_ref()).map(|o| o.kind);
    let taken = spec.taken_over_by.is_some();
    (0..n)
        .map(|i| {
            let label = match percent_at(spec, i) {
                Some(p) => format!("{p}%"),
                None => step_label(spec, i),
            };
            let left_by = a.and_then(|a| a.history.iter().find(|h| h.step > i).map(|h| h.entered));
            let entered = a.is_some_and(|a| a.history.iter().any(|h| h.step == i));
            let (state, note) = if a.is_none() {
                (
                    "next",
                    if i == 0 {
                        "starts once the new version has a ready pod".to_string()
                    } else {
                        String::new()
                    },
                )
            } else if i < current {
                let how = match (entered, left_by) {
                    (false, _) => "skipped",
                    (true, Some(Entered::Person)) => "moved on by hand",
                    _ => "checks passed",
                };
                ("done", how.to_string())
            } else if i == current {
                match (outcome, taken) {
                    (Some(OutcomeKind::Promoted), _) => (
                        "done",
                        format!("checks passed; {} took over", spec.new_version),
                    ),
                    (Some(OutcomeKind::RolledBack), _) => {
                        ("current", "rolled back here".to_string())
                    }
                    (Some(OutcomeKind::AwaitingPromotion), _) => {
                        ("current", "checks passed; waiting for Promote".to_string())
                    }
                    (None, true) => ("current", "taken over by hand".to_string()),
                    (None, false) => ("current", current_note(a)),
                }
            } else {
                ("next", String::new())
            };
            StepRow {
                step: i,
                label,
                state,
                note,
            }
        })
        .collect()
}

fn current_note(a: Option<&AnalysisStatus>) -> String {
    match a {
        Some(a) if a.paused => "paused".into(),
        Some(a) => match &a.waiting {
            Some(w) if w.starts_with("Not enough traffic") => "waiting: not enough traffic".into(),
            Some(_) => "holding".into(),
            None if a.failed_checks > 0 => {
                format!("{} failed check(s); checking again", a.failed_checks)
            }
            None => "running".into(),
        },
        None => String::new(),
    }
}

/// Seconds counting down in the browser from `from`; the page's refresh resets it.
#[component]
pub fn Countdown(from: i64) -> impl IntoView {
    let left = RwSignal::new(from.max(0));
    Effect::new(move || {
        if let Ok(handle) = set_interval_with_handle(
            move || left.update(|s| *s = (*s - 1).max(0)),
            Duration::from_secs(1),
        ) {
            on_cleanup(move || handle.clear());
        }
    });
    view! { <span class="countdown" data-testid="countdown">{move || format!("next check in {} s", left.get())}</span> }
}

#[component]
pub fn StepTimeline(job: JobView) -> impl IntoView {
    let rows = timeline(&job);
    let countdown = job.next_check_in;
    view! {
        <ol class="step-timeline" data-testid="step-timeline">
            {rows
                .into_iter()
                .map(|r| {
                    let show_countdown = r.state == "current" && r.note == "running";
                    view! {
                        <li class=format!("step {}", r.state) data-step=r.step data-state=r.state>
                            <strong class="step-label">{r.label}</strong>
                            <span class="step-note">{r.note}</span>
                            {(show_countdown).then(|| countdown.map(|s| view! { " · " <Countdown from=s /> }))}
                        </li>
                    }
                })
                .collect_view()}
        </ol>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::release::analysis::{Analysis, Outcome, StepEntry};
    use crate::domain::release::{ReleaseSpec, Side, Strategy};

    fn job(analysis: Option<AnalysisStatus>) -> JobView {
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
                strategy: Strategy::TrafficRatio { new_percent: 10 },
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
            analysis,
            next_check_in: Some(7),
        }
    }

    fn entry(step: u32, entered: Entered) -> StepEntry {
        StepEntry {
            step,
            at: "2026-11-23T00:00:00Z".into(),
            entered,
        }
    }

    fn states(j: &JobView) -> Vec<(&'static str, String)> {
        timeline(j).into_iter().map(|r| (r.state, r.note)).collect()
    }

    #[test]
    fn steps_are_done_current_or_next_and_say_how_they_were_left() {
        let rows = timeline(&job(None));
        assert_eq!(
            rows.iter().map(|r| r.label.as_str()).collect::<Vec<_>>(),
            ["10%", "25%", "50%", "100%"]
        );
        assert!(rows.iter().all(|r| r.state == "next"));
        let a = AnalysisStatus {
            step: 2,
            history: vec![
                entry(0, Entered::Start),
                entry(1, Entered::ChecksPassed),
                entry(2, Entered::Person),
            ],
            ..AnalysisStatus::default()
        };
        assert_eq!(
            states(&job(Some(a.clone()))),
            [
                ("done", "checks passed".to_string()),
                ("done", "moved on by hand".to_string()),
                ("current", "running".to_string()),
                ("next", String::new()),
            ]
        );
        let waiting = AnalysisStatus {
            waiting: Some("Not enough traffic: 3 requests".into()),
            ..a.clone()
        };
        assert_eq!(
            states(&job(Some(waiting)))[2].1,
            "waiting: not enough traffic"
        );
        let rolled = AnalysisStatus {
            outcome: Some(Outcome {
                kind: OutcomeKind::RolledBack,
                at: String::new(),
                by_person: false,
                reason: String::new(),
            }),
            ..a.clone()
        };
        assert_eq!(
            states(&job(Some(rolled)))[2],
            ("current", "rolled back here".to_string())
        );
        let skipped = AnalysisStatus {
            step: 3,
            history: vec![entry(0, Entered::Start), entry(3, Entered::Person)],
            ..a
        };
        let s = states(&job(Some(skipped)));
        assert_eq!(
            (s[0].1.as_str(), s[1].1.as_str()),
            ("moved on by hand", "skipped")
        );
        let mut taken = job(Some(AnalysisStatus::default()));
        taken.spec.taken_over_by = Some(Side::New);
        assert_eq!(states(&taken)[0].1, "taken over by hand");
    }
}
