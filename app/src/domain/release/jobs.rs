//! Release jobs as the console shows and changes them: the view of a job, the changes an
//! operator can make to a live one, and the checks a new job must pass. Pure: the server
//! applies a change with the job's resourceVersion, so two people never overwrite each
//! other silently.

use serde::{Deserialize, Serialize};

use super::analysis::{AnalysisStatus, OutcomeKind, PauseReason, step_count, step_label};
use super::rules::{ContentRule, validate as validate_rules};
use super::validation::{ClusterFacts, check_against_cluster, check_spec, names_are_valid};
use super::{ReleaseSpec, Side, Strategy};

/// One version of a job, as its card shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionView {
    pub version: String,
    pub workload: String,
    pub image: String,
    pub desired: i32,
    pub ready: i32,
    /// Share of ordinary traffic configured now.
    pub weight: u8,
}

/// A job as lists and detail pages show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobView {
    pub name: String,
    pub project: String,
    pub spec: ReleaseSpec,
    pub offline_keep: Option<Side>,
    /// `Progressing`, `Live`, `TakenOver`, `GoingOffline`, `Failed`, or none yet.
    pub phase: Option<String>,
    pub message: Option<String>,
    pub versions: Vec<VersionView>,
    /// The spec revision (`metadata.generation`) the view was read at: changes apply only
    /// on top of it. Status writes by the controller do not move it, so only another
    /// person's change makes a change stale.
    pub generation: i64,
    pub age_seconds: Option<i64>,
    /// Where the automatic release is, for a job with a plan (`spec.analysis`).
    #[serde(default)]
    pub analysis: Option<AnalysisStatus>,
    /// Seconds until the next check, when one is counting down.
    #[serde(default)]
    pub next_check_in: Option<i64>,
}

impl JobView {
    /// The configured share of the new version, for the slider.
    pub fn new_weight(&self) -> u8 {
        self.versions.get(1).map(|v| v.weight).unwrap_or(0)
    }
}

/// What an operator changes on a live job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum JobChange {
    /// The slider: the new version's share, for a traffic-ratio job.
    NewPercent(u8),
    /// The N-way control: the new version's share and each other version's (in
    /// `alsoServing` order); the base takes the rest.
    Shares { new_percent: u8, others: Vec<u8> },
    /// The rules of a request-content job.
    Rules(Vec<ContentRule>),
    /// The blue-green switch.
    Serving(Side),
    /// The mirrored share, for a mirroring job.
    MirrorPercent(u8),
    /// "Take Over": all traffic to one side (Base = roll back).
    TakeOver(Side),
    /// "Job Offline": keep the side that took over, remove the other.
    Offline,
    /// Automatic steps: stop where they are (no checks, no steps) until Resume.
    Pause,
    /// Automatic steps: go on from the current step, its clock restarted.
    Resume,
    /// Automatic steps: move to the step after `from` (the one the person saw) now,
    /// without waiting for its checks.
    NextStep { from: u32 },
    /// Automatic steps: the new version takes all traffic now.
    PromoteNow,
    /// Automatic steps: all traffic back to the base now; the new version's pods stay
    /// until Job Offline.
    RollBackNow,
}

impl JobChange {
    /// What the change does, for confirmations and messages.
    pub fn describe(&self, spec: &ReleaseSpec) -> String {
        let side = |s: &Side| match s {
            Side::Base => spec.base_version.clone(),
            Side::New => spec.new_version.clone(),
        };
        match self {
            JobChange::NewPercent(p) => format!(
                "send {}% to {} and {}% to {}",
                100 - (*p).min(100),
                spec.base_version,
                (*p).min(100),
                spec.new_version
            ),
            JobChange::Shares {
                new_percent,
                others,
            } => {
                let rest: u32 =
                    u32::from(*new_percent) + others.iter().map(|&o| u32::from(o)).sum::<u32>();
                let mut parts = vec![
                    format!("{} {}%", spec.base_version, 100u32.saturating_sub(rest)),
                    format!("{} {new_percent}%", spec.new_version),
                ];
                parts.extend(
                    spec.also_serving
                        .iter()
                        .zip(others)
                        .map(|(o, p)| format!("{} {p}%", o.version)),
                );
                format!("send {}", parts.join(" / "))
            }
            JobChange::Rules(r) => format!("route {} rule(s) to {}", r.len(), spec.new_version),
            JobChange::Serving(s) => format!("switch all traffic to {}", side(s)),
            JobChange::MirrorPercent(p) => {
                format!("mirror {p}% of requests to {}", spec.new_version)
            }
            JobChange::TakeOver(s) => format!("let {} take over all traffic", side(s)),
            JobChange::Offline => "bring the job offline".into(),
            JobChange::Pause => "pause the automatic steps".into(),
            JobChange::Resume => "resume the automatic steps".into(),
            JobChange::NextStep { from } => {
                format!("move on from {} now", step_label(spec, *from))
            }
            JobChange::PromoteNow => {
                format!("promote {} now: it takes all traffic", spec.new_version)
            }
            JobChange::RollBackNow => {
                format!("roll back now: all traffic to {}", spec.base_version)
            }
        }
    }
}

/// Applies a change to a job's spec; the error says why it does not apply. `progress` is
/// the analysis' state as the controller last wrote it (for a job with automatic steps):
/// a release the analysis already promoted or rolled back is decided like a Take Over.
pub fn apply_change(
    spec: &ReleaseSpec,
    offline_keep: Option<Side>,
    progress: Option<&AnalysisStatus>,
    change: &JobChange,
    check_regex: &dyn Fn(&str) -> Result<(), String>,
) -> Result<(ReleaseSpec, Option<Side>), String> {
    if offline_keep.is_some() {
        return Err("This job is going offline; it cannot be changed any more.".into());
    }
    let mut next = spec.clone();
    let decided = spec
        .taken_over_by
        .or_else(|| progress.and_then(AnalysisStatus::decided));
    let taken = decided.is_some();
    let automatic = spec.analysis.is_some();
    let no_plan = || {
        Err(format!(
            "This job has no automatic steps: {} is for jobs created with them.",
            change.describe(spec)
        ))
    };
    let over = || {
        Err(
            "The automatic release is over: one version has taken over all traffic. Bring the \
             job offline, or delete it to undo the release."
                .to_string(),
        )
    };
    match (change, &mut next.strategy) {
        (JobChange::NewPercent(p), Strategy::TrafficRatio { new_percent }) if !taken => {
            if *p > 100 {
                return Err(format!("{p}% is out of range: choose 0 to 100."));
            }
            let others: u32 = spec.also_serving.iter().map(|o| u32::from(o.percent)).sum();
            if u32::from(*p) + others > 100 {
                return Err(format!(
                    "{} {p}% and the other versions' {others}% add up to more than 100%: \
                     lower a share first.",
                    spec.new_version
                ));
            }
            *new_percent = *p;
            // A person's split wins: the automatic steps stop until Resume.
            if let Some(plan) = &mut next.analysis {
                plan.paused = Some(PauseReason::SliderMoved);
            }
        }
        (
            JobChange::Shares {
                new_percent: p,
                others,
            },
            Strategy::TrafficRatio { new_percent },
        ) if !taken => {
            if others.len() != spec.also_serving.len() {
                return Err(format!(
                    "This job shares traffic with {} other version(s), and the change names {}: \
                     reload the page and try again.",
                    spec.also_serving.len(),
                    others.len()
                ));
            }
            let total: u32 = u32::from(*p) + others.iter().map(|&o| u32::from(o)).sum::<u32>();
            if total > 100 {
                return Err(format!(
                    "The shares add up to {total}%: at most 100% ({} takes what is left).",
                    spec.base_version
                ));
            }
            *new_percent = *p;
            for (o, &share) in next.also_serving.iter_mut().zip(others) {
                o.percent = share;
            }
            // A person's split wins: the automatic steps stop until Resume.
            if let Some(plan) = &mut next.analysis {
                plan.paused = Some(PauseReason::SliderMoved);
            }
        }
        (JobChange::Rules(rules), Strategy::RequestContent { rules: current }) if !taken => {
            let problems = validate_rules(rules, check_regex);
            if !problems.is_empty() {
                return Err(problems.join(" "));
            }
            *current = rules.clone();
        }
        (JobChange::Serving(side), Strategy::BlueGreen { serving }) if !taken => *serving = *side,
        (JobChange::MirrorPercent(p), Strategy::Mirroring { percent }) if !taken => {
            if *p > 100 {
                return Err(format!("{p}% is out of range: choose 0 to 100."));
            }
            *percent = *p;
        }
        (JobChange::TakeOver(side), _) => next.taken_over_by = Some(*side),
        (JobChange::PromoteNow, _) if automatic => next.taken_over_by = Some(Side::New),
        (JobChange::RollBackNow, _) if automatic => next.taken_over_by = Some(Side::Base),
        (JobChange::Offline, _) => {
            return match decided {
                Some(side) => {
                    next.taken_over_by = Some(side);
                    Ok((next, Some(side)))
                }
                None => Err(
                    "Take Over first: Job Offline keeps the version that serves all \
                             traffic and removes the other."
                        .into(),
                ),
            };
        }
        (JobChange::Pause | JobChange::Resume | JobChange::NextStep { .. }, _) if !automatic => {
            return no_plan();
        }
        (JobChange::PromoteNow | JobChange::RollBackNow, _) => return no_plan(),
        (JobChange::Pause | JobChange::Resume | JobChange::NextStep { .. }, _) if taken => {
            return over();
        }
        (JobChange::Pause, _) => {
            if let Some(plan) = &mut next.analysis {
                plan.paused.get_or_insert(PauseReason::Person);
            }
        }
        (JobChange::Resume, _) => {
            if let Some(plan) = &mut next.analysis {
                plan.paused = None;
            }
        }
        (JobChange::NextStep { from }, _) => {
            let last = step_count(spec) - 1;
            let at = progress.map_or(0, |p| p.step);
            if progress.and_then(|p| p.outcome.as_ref()).map(|o| o.kind)
                == Some(OutcomeKind::AwaitingPromotion)
                || *from >= last
            {
                return Err(format!(
                    "{} is the last step: press Promote now to let {} take all traffic.",
                    step_label(spec, *from.min(&last)),
                    spec.new_version
                ));
            }
            if at > *from {
                // The controller moved on since the person looked: that was the step asked for.
                return Ok((next, None));
            }
            if let Some(plan) = &mut next.analysis {
                plan.skip_to_step = Some(plan.skip_to_step.unwrap_or(0).max(from + 1));
                // Moving on means going on: a pause ends.
                plan.paused = None;
            }
        }
        (_, _) if taken => {
            return Err(
                "One version has taken over all traffic; bring the job offline, or \
                        delete it to undo the release."
                    .into(),
            );
        }
        (c, s) => {
            return Err(format!(
                "This change does not fit a {} job ({}).",
                Strategy::label(s),
                c.describe(spec)
            ));
        }
    }
    Ok((next, None))
}

/// A container image reference: `[registry[:port]/]path[:tag][@digest]`, lowercase path.
pub fn check_image(image: &str) -> Result<(), String> {
    let bad = |why: &str| {
        Err(format!(
            "Image \"{image}\" is not a valid image reference: {why}."
        ))
    };
    if image.is_empty() {
        return Err("Enter an image, e.g. kubesphere/examples-bookinfo-reviews-v2:1.13.0.".into());
    }
    if image.chars().any(char::is_whitespace) {
        return bad("it contains spaces");
    }
    let (name, digest) = match image.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (image, None),
    };
    if let Some(d) = digest
        && !(d.starts_with("sha256:") && d.len() == 71)
    {
        return bad("a digest looks like @sha256:<64 hex digits>");
    }
    // A tag is after the last ':' that follows the last '/'.
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    let (path, tag) = match name[last_slash..].rfind(':') {
        Some(i) => (&name[..last_slash + i], Some(&name[last_slash + i + 1..])),
        None => (name, None),
    };
    if let Some(t) = tag
        && (t.is_empty()
            || t.len() > 128
            || !t
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)))
    {
        return bad("a tag uses letters, digits, '.', '_' and '-' (at most 128)");
    }
    let mut parts = path.split('/').collect::<Vec<_>>();
    if parts.len() > 1
        && (parts[0].contains('.') || parts[0].contains(':') || parts[0] == "localhost")
    {
        parts.remove(0); // the registry host keeps its own case and port
    }
    let ok_part = |p: &str| {
        !p.is_empty()
            && p.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
            && p.starts_with(|c: char| c.is_ascii_alphanumeric())
    };
    if parts.iter().any(|p| !ok_part(p)) {
        return bad("repository names use lowercase letters, digits, '.', '_' and '-'");
    }
    Ok(())
}

/// The image the wizard suggests: the base image with the version swapped, as the
/// tutorial does (`...-reviews-v1:1.20.3` → `...-reviews-v2:1.20.3`).
pub fn suggest_image(base_image: &str, base_version: &str, new_version: &str) -> String {
    match base_image.rfind(base_version) {
        Some(i) if !base_version.is_empty() => format!(
            "{}{new_version}{}",
            &base_image[..i],
            &base_image[i + base_version.len()..]
        ),
        _ => base_image.to_string(),
    }
}

/// Everything wrong with a new job, before it is created: the spec on its own, then (if
/// its names are valid, so the answers mean something) against what the namespace holds.
/// The controller runs the same two checks on every job it reconciles.
pub fn validate_new_job(
    name: &str,
    namespace: &str,
    spec: &ReleaseSpec,
    facts: &ClusterFacts,
    check_regex: &dyn Fn(&str) -> Result<(), String>,
) -> Vec<String> {
    let mut problems = check_spec(name, namespace, spec, check_regex);
    if names_are_valid(spec) {
        problems.extend(check_against_cluster(name, namespace, spec, facts, false));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::super::rules::{MatchOp, RuleKind};
    use super::*;

    fn ok(_: &str) -> Result<(), String> {
        Ok(())
    }

    fn spec(strategy: Strategy) -> ReleaseSpec {
        super::super::tutorial_spec(strategy)
    }

    #[test]
    fn the_slider_changes_only_a_ratio_job() {
        let s = spec(Strategy::TrafficRatio { new_percent: 50 });
        let (next, _) = apply_change(&s, None, None, &JobChange::NewPercent(30), &ok).unwrap();
        assert_eq!(next.strategy, Strategy::TrafficRatio { new_percent: 30 });
        assert!(
            apply_change(&s, None, None, &JobChange::NewPercent(101), &ok)
                .unwrap_err()
                .contains("0 to 100")
        );
        let bg = spec(Strategy::BlueGreen {
            serving: Side::Base,
        });
        let err = apply_change(&bg, None, None, &JobChange::NewPercent(30), &ok).unwrap_err();
        assert!(
            err.contains("does not fit a Blue-Green Deployment job"),
            "{err}"
        );
    }

    #[test]
    fn take_over_then_offline_keeps_the_winner() {
        let s = spec(Strategy::TrafficRatio { new_percent: 50 });
        let err = apply_change(&s, None, None, &JobChange::Offline, &ok).unwrap_err();
        assert!(err.starts_with("Take Over first"), "{err}");
        let (taken, _) =
            apply_change(&s, None, None, &JobChange::TakeOver(Side::New), &ok).unwrap();
        assert_eq!(taken.taken_over_by, Some(Side::New));
        let err = apply_change(&taken, None, None, &JobChange::NewPercent(10), &ok).unwrap_err();
        assert!(err.contains("taken over"), "{err}");
        let (_, keep) = apply_change(&taken, None, None, &JobChange::Offline, &ok).unwrap();
        assert_eq!(keep, Some(Side::New));
        assert!(apply_change(&taken, keep, None, &JobChange::TakeOver(Side::Base), &ok).is_err());
    }

    fn automatic(strategy: Strategy) -> ReleaseSpec {
        let mut s = spec(strategy);
        s.analysis = Some(crate::domain::release::analysis::Analysis::recommended());
        s
    }

    fn progress(step: u32, outcome: Option<OutcomeKind>) -> AnalysisStatus {
        AnalysisStatus {
            step,
            outcome: outcome.map(|kind| crate::domain::release::analysis::Outcome {
                kind,
                at: "2026-11-23T00:00:00Z".into(),
                by_person: false,
                reason: String::new(),
            }),
            ..AnalysisStatus::default()
        }
    }

    #[test]
    fn moving_the_slider_pauses_the_automatic_steps() {
        let s = automatic(Strategy::TrafficRatio { new_percent: 10 });
        let at = progress(1, None);
        let (next, _) = apply_change(&s, None, Some(&at), &JobChange::NewPercent(40), &ok).unwrap();
        assert_eq!(next.strategy, Strategy::TrafficRatio { new_percent: 40 });
        assert_eq!(
            next.analysis.as_ref().unwrap().paused,
            Some(PauseReason::SliderMoved)
        );
        let (resumed, _) = apply_change(&next, None, Some(&at), &JobChange::Resume, &ok).unwrap();
        assert_eq!(resumed.analysis.as_ref().unwrap().paused, None);
        // Pause keeps the slider's reason; pausing twice is the same pause.
        let (p1, _) = apply_change(&next, None, Some(&at), &JobChange::Pause, &ok).unwrap();
        assert_eq!(p1, next);
        let (p2, _) = apply_change(&resumed, None, Some(&at), &JobChange::Pause, &ok).unwrap();
        assert_eq!(
            p2.analysis.as_ref().unwrap().paused,
            Some(PauseReason::Person)
        );
    }

    #[test]
    fn next_step_asks_for_the_step_after_the_one_seen_and_resumes() {
        let mut s = automatic(Strategy::TrafficRatio { new_percent: 10 });
        s.analysis.as_mut().unwrap().paused = Some(PauseReason::Person);
        let at = progress(1, None);
        let (next, _) =
            apply_change(&s, None, Some(&at), &JobChange::NextStep { from: 1 }, &ok).unwrap();
        let plan = next.analysis.as_ref().unwrap();
        assert_eq!((plan.skip_to_step, plan.paused), (Some(2), None));
        // The controller moved on since the person looked: nothing more to ask.
        let later = progress(2, None);
        let (same, _) = apply_change(
            &s,
            None,
            Some(&later),
            &JobChange::NextStep { from: 1 },
            &ok,
        )
        .unwrap();
        assert_eq!(same, s);
        let err = apply_change(
            &s,
            None,
            Some(&progress(3, None)),
            &JobChange::NextStep { from: 3 },
            &ok,
        )
        .unwrap_err();
        assert!(
            err.contains("step 4 of 4 (v2 100%) is the last step: press Promote now"),
            "{err}"
        );
        let waiting = progress(3, Some(OutcomeKind::AwaitingPromotion));
        assert!(
            apply_change(
                &s,
                None,
                Some(&waiting),
                &JobChange::NextStep { from: 2 },
                &ok
            )
            .is_err()
        );
    }

    #[test]
    fn promote_and_roll_back_now_decide_the_release_and_job_offline_follows() {
        let s = automatic(Strategy::TrafficRatio { new_percent: 10 });
        let (p, _) = apply_change(&s, None, None, &JobChange::PromoteNow, &ok).unwrap();
        assert_eq!(p.taken_over_by, Some(Side::New));
        let (r, _) = apply_change(&s, None, None, &JobChange::RollBackNow, &ok).unwrap();
        assert_eq!(r.taken_over_by, Some(Side::Base));
        // Rolled back by the checks: Job Offline keeps the base; no more steps.
        let rolled = progress(0, Some(OutcomeKind::RolledBack));
        let (offline, keep) =
            apply_change(&s, None, Some(&rolled), &JobChange::Offline, &ok).unwrap();
        assert_eq!(
            (keep, offline.taken_over_by),
            (Some(Side::Base), Some(Side::Base))
        );
        let err =
            apply_change(&s, None, Some(&rolled), &JobChange::NewPercent(50), &ok).unwrap_err();
        assert!(err.contains("taken over"), "{err}");
        let err = apply_change(&s, None, Some(&rolled), &JobChange::Resume, &ok).unwrap_err();
        assert!(err.contains("automatic release is over"), "{err}");
        // A person may still overrule it.
        let (p, _) = apply_change(&s, None, Some(&rolled), &JobChange::PromoteNow, &ok).unwrap();
        assert_eq!(p.taken_over_by, Some(Side::New));
        // Without a plan, these are not offered.
        let plain = spec(Strategy::TrafficRatio { new_percent: 10 });
        for c in [
            JobChange::Pause,
            JobChange::Resume,
            JobChange::NextStep { from: 0 },
            JobChange::PromoteNow,
            JobChange::RollBackNow,
        ] {
            let err = apply_change(&plain, None, None, &c, &ok).unwrap_err();
            assert!(err.starts_with("This job has no automatic steps"), "{err}");
        }
    }

    #[test]
    fn bad_rules_are_refused_with_their_problems() {
        let s = spec(Strategy::RequestContent { rules: vec![] });
        let err = apply_change(&s, None, None, &JobChange::Rules(vec![]), &ok).unwrap_err();
        assert!(err.contains("at least one rule"), "{err}");
        let rule = ContentRule {
            kind: RuleKind::Header {
                name: "end-user".into(),
            },
            op: MatchOp::Exact,
            value: "jason".into(),
        };
        assert!(apply_change(&s, None, None, &JobChange::Rules(vec![rule]), &ok).is_ok());
    }

    #[test]
    fn image_references() {
        for good in [
            "kubesphere/examples-bookinfo-reviews-v2:1.13.0",
            "docker.io/istio/examples-bookinfo-reviews-v2:1.20.3",
            "localhost:5000/app",
            "registry.example.com:443/team/app@sha256:0123456789012345678901234567890123456789012345678901234567890123",
            "nginx",
        ] {
            assert_eq!(check_image(good), Ok(()), "{good}");
        }
        assert!(check_image("").unwrap_err().contains("Enter an image"));
        assert!(check_image("Kube/App:1").unwrap_err().contains("lowercase"));
        assert!(check_image("app:").unwrap_err().contains("tag"));
        assert!(check_image("a b").unwrap_err().contains("spaces"));
    }

    #[test]
    fn the_wizard_suggests_the_next_image_like_the_tutorial() {
        assert_eq!(
            suggest_image(
                "docker.io/istio/examples-bookinfo-reviews-v1:1.20.3",
                "v1",
                "v2"
            ),
            "docker.io/istio/examples-bookinfo-reviews-v2:1.20.3"
        );
        assert_eq!(suggest_image("nginx:1.25", "v1", "v2"), "nginx:1.25");
    }

    #[test]
    fn new_jobs_are_checked_before_anything_is_created() {
        use super::super::validation::Workload;
        let facts = ClusterFacts {
            service_selector: Some([("app".to_string(), "reviews".to_string())].into()),
            workloads: vec![Workload {
                name: "reviews-v1".into(),
                pod_labels: [
                    ("app".to_string(), "reviews".to_string()),
                    ("version".to_string(), "v1".to_string()),
                ]
                .into(),
                job: None,
            }],
            ..ClusterFacts::default()
        };
        let mut s = spec(Strategy::TrafficRatio { new_percent: 50 });
        assert!(validate_new_job("canary-release", "demo-project", &s, &facts, &ok).is_empty());
        s.new_version = "v1".into();
        s.replicas = 0;
        s.image = "Bad Image".into();
        let problems = validate_new_job("Canary", "demo-project", &s, &facts, &ok);
        assert_eq!(problems.len(), 4, "{problems:?}");
        assert!(problems[1].contains("already used"), "{problems:?}");
        // Names that are not names: the cluster is not consulted.
        s.component = "a/b".into();
        let problems =
            validate_new_job("canary", "demo-project", &s, &ClusterFacts::default(), &ok);
        assert!(
            !problems.iter().any(|p| p.contains("no Service")),
            "{problems:?}"
        );
    }

    #[test]
    fn the_n_way_control_sets_every_share_and_never_more_than_100() {
        let mut s = spec(Strategy::TrafficRatio { new_percent: 20 });
        s.also_serving = vec![super::super::OtherVersion {
            version: "v3".into(),
            workload: "reviews-v3".into(),
            percent: 30,
        }];
        let change = JobChange::Shares {
            new_percent: 50,
            others: vec![10],
        };
        assert_eq!(change.describe(&s), "send v1 40% / v2 50% / v3 10%");
        let (next, _) = apply_change(&s, None, None, &change, &ok).unwrap();
        assert_eq!(next.strategy, Strategy::TrafficRatio { new_percent: 50 });
        assert_eq!(next.also_serving[0].percent, 10);
        let too_much = JobChange::Shares {
            new_percent: 80,
            others: vec![30],
        };
        let e = apply_change(&s, None, None, &too_much, &ok).unwrap_err();
        assert!(e.contains("add up to 110%"), "{e}");
        // The plain slider leaves v3's share, so it can go only as far as v3 lets it.
        let e = apply_change(&s, None, None, &JobChange::NewPercent(80), &ok).unwrap_err();
        assert!(e.contains("more than 100%"), "{e}");
        let stale = JobChange::Shares {
            new_percent: 10,
            others: vec![],
        };
        assert!(apply_change(&s, None, None, &stale, &ok).is_err());
    }
}
