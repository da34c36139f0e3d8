//! The audit history of a release job: every change made through the console or seen by
//! the controller, with who made it (as the API server knows them, never as a browser
//! says), when, through what, and the weights before and after. Pure: the server's
//! recorder feeds it the job as it was last recorded and as it is now, and stores what
//! this returns; the job page filters and exports it.

use serde::{Deserialize, Serialize};

use super::release::analysis::PauseReason;
use super::release::{ReleaseSpec, Side, Strategy};

/// Annotations a change carries so the recorder can say who made it and through what.
/// `CHANGED_BY` is stamped by the API server (the `sluice-releasejob-creator` admission
/// policy) on every create and update, or by the console for its signed-in user where
/// the policy is not installed. `CHANGED_VIA` + `CHANGED_GENERATION` are written by the
/// console with the spec revision its change produces: a later revision without them
/// came from elsewhere (kubectl, GitOps).
pub const CHANGED_BY: &str = "sluice.dev/changed-by";
pub const CHANGED_VIA: &str = "sluice.dev/changed-via";
pub const CHANGED_GENERATION: &str = "sluice.dev/changed-generation";
/// Set by the console on a job it is about to delete: who deletes it.
pub const DELETED_BY: &str = "sluice.dev/deleted-by";

/// At most this many entries are kept per job (the oldest go first).
pub const MAX_ENTRIES: usize = 500;

/// Through what a change came.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub enum Via {
    /// The console (its wizard, slider, buttons).
    Console,
    /// Anything else writing the job: kubectl, GitOps, a script.
    Kubectl,
    /// The release controller (phase changes it decided).
    Controller,
}

impl Via {
    pub fn label(self) -> &'static str {
        match self {
            Via::Console => "console",
            Via::Kubectl => "kubectl/GitOps",
            Via::Controller => "controller",
        }
    }
}

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub enum Action {
    Created,
    WeightChanged,
    RulesChanged,
    Switched,
    MirrorChanged,
    StrategyChanged,
    ImageChanged,
    TakenOver,
    RolledBack,
    /// Automatic steps paused (by a person, or by a hand-moved slider) or resumed.
    Paused,
    Resumed,
    /// "Next step now".
    StepSkipped,
    /// The automatic plan itself changed.
    PlanChanged,
    Offline,
    Deleted,
    /// The controller moved the job to another phase (Live, Failed, …).
    PhaseChanged,
}

impl Action {
    pub const ALL: [Action; 16] = [
        Action::Created,
        Action::WeightChanged,
        Action::RulesChanged,
        Action::Switched,
        Action::MirrorChanged,
        Action::StrategyChanged,
        Action::ImageChanged,
        Action::TakenOver,
        Action::RolledBack,
        Action::Paused,
        Action::Resumed,
        Action::StepSkipped,
        Action::PlanChanged,
        Action::Offline,
        Action::Deleted,
        Action::PhaseChanged,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Action::Created => "created",
            Action::WeightChanged => "weight moved",
            Action::RulesChanged => "rules changed",
            Action::Switched => "switched",
            Action::MirrorChanged => "mirroring changed",
            Action::StrategyChanged => "strategy changed",
            Action::ImageChanged => "new version changed",
            Action::TakenOver => "taken over",
            Action::RolledBack => "rolled back",
            Action::Paused => "paused",
            Action::Resumed => "resumed",
            Action::StepSkipped => "next step",
            Action::PlanChanged => "plan changed",
            Action::Offline => "offline",
            Action::Deleted => "deleted",
            Action::PhaseChanged => "phase",
        }
    }

    pub fn parse(s: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.label() == s)
    }
}

/// One line of the history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// RFC 3339.
    pub at: String,
    /// The Kubernetes user, or "unknown" when nothing server-side says.
    pub who: String,
    pub via: Via,
    pub action: Action,
    /// What changed, in words ("v2 50% → 70%").
    pub detail: String,
    /// The new version's share before and after, where it changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight_before: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight_after: Option<u8>,
    /// The spec revision the entry is about.
    pub generation: i64,
}

/// The job as the recorder last recorded it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Seen {
    pub generation: i64,
    pub spec: ReleaseSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offline_keep: Option<Side>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
}

/// Who made the change that produced `generation`, and through what.
pub fn attribution(
    annotations: &std::collections::BTreeMap<String, String>,
    generation: i64,
) -> (String, Via) {
    let who = annotations
        .get(CHANGED_BY)
        .filter(|w| !w.is_empty())
        .cloned()
        .unwrap_or_else(|| "unknown".into());
    let console = annotations.get(CHANGED_VIA).map(String::as_str) == Some("console")
        && annotations
            .get(CHANGED_GENERATION)
            .and_then(|g| g.parse::<i64>().ok())
            == Some(generation);
    (who, if console { Via::Console } else { Via::Kubectl })
}

/// The new version's configured share under a spec.
pub fn new_share(spec: &ReleaseSpec) -> u8 {
    match (spec.taken_over_by, &spec.strategy) {
        (Some(Side::New), _) => 100,
        (Some(Side::Base), _) => 0,
        (None, Strategy::TrafficRatio { new_percent }) => *new_percent,
        (None, Strategy::BlueGreen { serving: Side::New }) => 100,
        _ => 0,
    }
}

/// The entries for one observed change of the job. `before` is None for a new job;
/// `who`/`via` attribute spec changes; phase changes are the controller's.
pub fn changes(before: Option<&Seen>, now: &Seen, who: &str, via: Via, at: &str) -> Vec<Entry> {
    let entry = |action: Action, detail: String, w: Option<(u8, u8)>, who: &str, via: Via| Entry {
        at: at.to_string(),
        who: who.to_string(),
        via,
        action,
        detail,
        weight_before: w.map(|(b, _)| b),
        weight_after: w.map(|(_, a)| a),
        generation: now.generation,
    };
    let s = &now.spec;
    let Some(before) = before else {
        let share = new_share(s);
        return vec![entry(
            Action::Created,
            format!(
                "{}: {} of {} ({}) next to {}; {} {}%",
                s.strategy.label(),
                s.new_version,
                s.component,
                s.image,
                s.base_version,
                s.new_version,
                share
            ),
            Some((0, share)),
            who,
            via,
        )];
    };
    let mut out = Vec::new();
    let b = &before.spec;
    if now.generation != before.generation {
        let (was, is) = (new_share(b), new_share(s));
        let weights = (was != is).then_some((was, is));
        if s.taken_over_by != b.taken_over_by {
            match s.taken_over_by {
                Some(Side::New) => out.push(entry(
                    Action::TakenOver,
                    format!("{} takes all traffic", s.new_version),
                    weights,
                    who,
                    via,
                )),
                Some(Side::Base) => out.push(entry(
                    Action::RolledBack,
                    format!("{} takes all traffic back", s.base_version),
                    weights,
                    who,
                    via,
                )),
                None => out.push(entry(
                    Action::StrategyChanged,
                    "take-over undone: traffic shared as the strategy says".into(),
                    weights,
                    who,
                    via,
                )),
            }
        } else {
            match (&b.strategy, &s.strategy) {
                (
                    Strategy::TrafficRatio { new_percent: x },
                    Strategy::TrafficRatio { new_percent: y },
                ) if x != y => out.push(entry(
                    Action::WeightChanged,
                    format!(
                        "{} {}% / {} {}% → {} {}% / {} {}%",
                        s.base_version,
                        100 - x,
                        s.new_version,
                        x,
                        s.base_version,
                        100 - y,
                        s.new_version,
                        y
                    ),
                    Some((*x, *y)),
                    who,
                    via,
                )),
                (Strategy::RequestContent { rules: x }, Strategy::RequestContent { rules: y })
                    if x != y =>
                {
                    out.push(entry(
                        Action::RulesChanged,
                        format!("{} rule(s) → {} rule(s)", x.len(), y.len()),
                        None,
                        who,
                        via,
                    ))
                }
                (Strategy::BlueGreen { serving: x }, Strategy::BlueGreen { serving: y })
                    if x != y =>
                {
                    let name = |side: &Side| match side {
                        Side::Base => s.base_version.clone(),
                        Side::New => s.new_version.clone(),
                    };
                    out.push(entry(
                        Action::Switched,
                        format!("all traffic {} → {}", name(x), name(y)),
                        weights,
                        who,
                        via,
                    ))
                }
                (Strategy::Mirroring { percent: x }, Strategy::Mirroring { percent: y })
                    if x != y =>
                {
                    out.push(entry(
                        Action::MirrorChanged,
                        format!("mirrored share {x}% → {y}%"),
                        None,
                        who,
                        via,
                    ))
                }
                (x, y) if std::mem::discriminant(x) != std::mem::discriminant(y) => {
                    out.push(entry(
                        Action::StrategyChanged,
                        format!("{} → {}", x.label(), y.label()),
                        weights,
                        who,
                        via,
                    ))
                }
                _ => {}
            }
        }
        match (&b.analysis, &s.analysis) {
            (Some(x), Some(y)) => {
                if x.paused.is_none() && y.paused.is_some() {
                    out.push(entry(
                        Action::Paused,
                        match y.paused {
                            Some(PauseReason::SliderMoved) => {
                                "automatic steps paused: the slider was moved by hand".into()
                            }
                            _ => "automatic steps paused".into(),
                        },
                        None,
                        who,
                        via,
                    ));
                } else if x.paused.is_some() && y.paused.is_none() {
                    out.push(entry(
                        Action::Resumed,
                        "automatic steps resumed".into(),
                        None,
                        who,
                        via,
                    ));
                }
                if y.skip_to_step != x.skip_to_step
                    && let Some(step) = y.skip_to_step
                {
                    let share = y
                        .steps
                        .get(step as usize)
                        .map(|p| format!(" ({p}%)"))
                        .unwrap_or_default();
                    out.push(entry(
                        Action::StepSkipped,
                        format!("next step now: step {}{share}", step + 1),
                        None,
                        who,
                        via,
                    ));
                }
                let plan = |a: &super::release::analysis::Analysis| {
                    (
                        a.steps.clone(),
                        a.interval_seconds,
                        a.gates.clone(),
                        a.min_requests,
                        a.failure_limit,
                        a.promotion,
                    )
                };
                if plan(x) != plan(y) {
                    out.push(entry(
                        Action::PlanChanged,
                        "the automatic plan changed".into(),
                        None,
                        who,
                        via,
                    ));
                }
            }
            (None, Some(_)) => out.push(entry(
                Action::PlanChanged,
                "automatic steps added".into(),
                None,
                who,
                via,
            )),
            (Some(_), None) => out.push(entry(
                Action::PlanChanged,
                "automatic steps removed".into(),
                None,
                who,
                via,
            )),
            (None, None) => {}
        }
        if s.image != b.image || s.replicas != b.replicas {
            out.push(entry(
                Action::ImageChanged,
                format!(
                    "{} {} ×{} → {} ×{}",
                    s.new_version, b.image, b.replicas, s.image, s.replicas
                ),
                None,
                who,
                via,
            ));
        }
        if now.offline_keep.is_some() && before.offline_keep.is_none() {
            let kept = match now.offline_keep {
                Some(Side::New) => &s.new_version,
                _ => &s.base_version,
            };
            out.push(entry(
                Action::Offline,
                format!("Job Offline: keeping {kept}"),
                None,
                who,
                via,
            ));
        }
    }
    if now.phase != before.phase
        && let Some(phase) = &now.phase
    {
        out.push(entry(
            Action::PhaseChanged,
            format!("{} → {phase}", before.phase.as_deref().unwrap_or("Pending")),
            None,
            "sluice-release-controller",
            Via::Controller,
        ));
    }
    out
}

/// The entry for a job that is gone: removed by the controller after Job Offline, or
/// deleted by someone (`who` as the console recorded it, else unknown).
pub fn deleted(last: &Seen, who: Option<&str>, at: &str) -> Entry {
    let offline = last.offline_keep.is_some();
    Entry {
        at: at.to_string(),
        who: match (offline, who) {
            (true, _) => "sluice-release-controller".into(),
            (false, Some(w)) => w.to_string(),
            (false, None) => "unknown".into(),
        },
        via: match (offline, who) {
            (true, _) => Via::Controller,
            (false, Some(_)) => Via::Console,
            (false, None) => Via::Kubectl,
        },
        action: Action::Deleted,
        detail: if offline {
            "removed after Job Offline".into()
        } else {
            "the job was deleted; its release was undone".into()
        },
        weight_before: None,
        weight_after: None,
        generation: last.generation,
    }
}

/// Appends, keeping at most [`MAX_ENTRIES`] (the newest).
pub fn append(entries: &mut Vec<Entry>, new: Vec<Entry>) {
    entries.extend(new);
    if entries.len() > MAX_ENTRIES {
        let extra = entries.len() - MAX_ENTRIES;
        entries.drain(..extra);
    }
}

/// A job's history as the page shows it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JobHistory {
    pub name: String,
    /// Oldest first.
    pub entries: Vec<Entry>,
    /// When the job ended, if it has.
    pub job_gone_at: Option<String>,
}

/// A job that ended, whose history is still kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finished {
    pub name: String,
    pub job_gone_at: String,
    pub entries: u32,
    /// The last thing that happened to it.
    pub last: Option<Entry>,
}

/// What the page's filter keeps.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filter {
    pub action: Option<Action>,
    /// A part of the user's name.
    pub who: String,
    pub via: Option<Via>,
}

impl Filter {
    pub fn keeps(&self, e: &Entry) -> bool {
        self.action.is_none_or(|a| a == e.action)
            && self.via.is_none_or(|v| v == e.via)
            && (self.who.is_empty() || e.who.to_lowercase().contains(&self.who.to_lowercase()))
    }
}

/// The entries as CSV (RFC 4180: fields with commas, quotes or line breaks quoted).
pub fn to_csv(entries: &[Entry]) -> String {
    fn field(s: &str) -> String {
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    }
    let mut out =
        String::from("at,who,via,action,detail,weight_before,weight_after,generation\r\n");
    for e in entries {
        let cells = [
            field(&e.at),
            field(&e.who),
            field(e.via.label()),
            field(e.action.label()),
            field(&e.detail),
            e.weight_before.map(|w| w.to_string()).unwrap_or_default(),
            e.weight_after.map(|w| w.to_string()).unwrap_or_default(),
            e.generation.to_string(),
        ];
        out.push_str(&cells.join(","));
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn spec(percent: u8) -> ReleaseSpec {
        ReleaseSpec {
            component: "reviews".into(),
            base_workload: "reviews-v1".into(),
            base_version: "v1".into(),
            new_version: "v2".into(),
            image: "kubesphere/examples-bookinfo-reviews-v2:1.13.0".into(),
            replicas: 1,
            strategy: Strategy::TrafficRatio {
                new_percent: percent,
            },
            taken_over_by: None,
            creator: Some("alice".into()),
            analysis: None,
            routing: Default::default(),
            also_serving: Vec::new(),
            http_route: None,
        }
    }

    fn seen(generation: i64, spec: ReleaseSpec, phase: Option<&str>) -> Seen {
        Seen {
            generation,
            spec,
            offline_keep: None,
            phase: phase.map(str::to_string),
        }
    }

    #[test]
    fn a_new_job_is_created_with_its_first_split() {
        let e = changes(None, &seen(1, spec(50), None), "alice", Via::Console, "t");
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].action, Action::Created);
        assert_eq!((e[0].weight_before, e[0].weight_after), (Some(0), Some(50)));
        assert!(e[0].detail.contains("v2 50%"), "{}", e[0].detail);
    }

    #[test]
    fn a_slider_move_records_before_and_after() {
        let a = seen(1, spec(50), Some("Live"));
        let b = seen(2, spec(70), Some("Live"));
        let e = changes(Some(&a), &b, "bob", Via::Kubectl, "t");
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].action, Action::WeightChanged);
        assert_eq!(
            (e[0].weight_before, e[0].weight_after),
            (Some(50), Some(70))
        );
        assert_eq!(e[0].detail, "v1 50% / v2 50% → v1 30% / v2 70%");
        assert_eq!((e[0].who.as_str(), e[0].via), ("bob", Via::Kubectl));
    }

    #[test]
    fn take_over_roll_back_offline_and_phases() {
        let a = seen(1, spec(30), Some("Live"));
        let mut s = spec(30);
        s.taken_over_by = Some(Side::New);
        let b = seen(2, s.clone(), Some("TakenOver"));
        let e = changes(Some(&a), &b, "alice", Via::Console, "t");
        assert_eq!(
            e.iter().map(|e| e.action).collect::<Vec<_>>(),
            vec![Action::TakenOver, Action::PhaseChanged]
        );
        assert_eq!(
            (e[0].weight_before, e[0].weight_after),
            (Some(30), Some(100))
        );
        assert_eq!(e[1].via, Via::Controller);
        let mut back = s.clone();
        back.taken_over_by = Some(Side::Base);
        let e = changes(
            Some(&b),
            &seen(3, back.clone(), Some("TakenOver")),
            "a",
            Via::Console,
            "t",
        );
        assert_eq!(e[0].action, Action::RolledBack);
        let mut off = seen(4, back, Some("TakenOver"));
        off.offline_keep = Some(Side::Base);
        let e = changes(
            Some(&seen(3, off.spec.clone(), Some("TakenOver"))),
            &off,
            "a",
            Via::Console,
            "t",
        );
        assert_eq!(e[0].action, Action::Offline);
        assert!(e[0].detail.contains("keeping v1"));
        let gone = deleted(&off, None, "t");
        assert_eq!((gone.action, gone.via), (Action::Deleted, Via::Controller));
        assert_eq!(gone.detail, "removed after Job Offline");
        let gone = deleted(&a, Some("alice"), "t");
        assert_eq!((gone.who.as_str(), gone.via), ("alice", Via::Console));
        // A status-only change (no new generation) records only the phase.
        let e = changes(
            Some(&a),
            &seen(1, spec(30), Some("Failed")),
            "x",
            Via::Kubectl,
            "t",
        );
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].detail, "Live → Failed");
        // Nothing changed, nothing recorded.
        assert!(changes(Some(&a), &a.clone(), "x", Via::Kubectl, "t").is_empty());
    }

    #[test]
    fn automatic_steps_paused_resumed_and_skipped_are_recorded() {
        let plan = crate::domain::release::analysis::Analysis::recommended();
        let mut a = spec(10);
        a.analysis = Some(plan.clone());
        let mut paused = a.clone();
        paused.strategy = Strategy::TrafficRatio { new_percent: 40 };
        paused.analysis.as_mut().unwrap().paused = Some(PauseReason::SliderMoved);
        let e = changes(
            Some(&seen(1, a.clone(), None)),
            &seen(2, paused.clone(), None),
            "al",
            Via::Console,
            "t",
        );
        assert_eq!(
            e.iter().map(|e| e.action).collect::<Vec<_>>(),
            vec![Action::WeightChanged, Action::Paused]
        );
        assert!(e[1].detail.contains("moved by hand"));
        let mut resumed = paused.clone();
        resumed.analysis.as_mut().unwrap().paused = None;
        resumed.analysis.as_mut().unwrap().skip_to_step = Some(1);
        let e = changes(
            Some(&seen(2, paused, None)),
            &seen(3, resumed, None),
            "al",
            Via::Console,
            "t",
        );
        assert_eq!(
            e.iter().map(|e| e.action).collect::<Vec<_>>(),
            vec![Action::Resumed, Action::StepSkipped]
        );
        assert!(
            e[1].detail.starts_with("next step now: step 2"),
            "{}",
            e[1].detail
        );
    }

    #[test]
    fn the_console_is_named_only_for_the_revision_it_wrote() {
        let mut ann = BTreeMap::new();
        assert_eq!(attribution(&ann, 3), ("unknown".into(), Via::Kubectl));
        ann.insert(CHANGED_BY.into(), "alice".into());
        ann.insert(CHANGED_VIA.into(), "console".into());
        ann.insert(CHANGED_GENERATION.into(), "3".into());
        assert_eq!(attribution(&ann, 3), ("alice".into(), Via::Console));
        // A later revision the console did not write came from elsewhere.
        ann.insert(CHANGED_BY.into(), "bob".into());
        assert_eq!(attribution(&ann, 4), ("bob".into(), Via::Kubectl));
    }

    #[test]
    fn the_history_is_bounded_filtered_and_exported() {
        let e = |i: i64, who: &str, action: Action| Entry {
            at: format!("t{i}"),
            who: who.into(),
            via: Via::Console,
            action,
            detail: "a, \"b\"".into(),
            weight_before: Some(1),
            weight_after: None,
            generation: i,
        };
        let mut all = Vec::new();
        append(
            &mut all,
            (0..(MAX_ENTRIES as i64 + 5))
                .map(|i| e(i, "alice", Action::WeightChanged))
                .collect(),
        );
        assert_eq!(all.len(), MAX_ENTRIES);
        assert_eq!(all[0].generation, 5, "the oldest go first");
        let f = Filter {
            who: "ALI".into(),
            action: Some(Action::WeightChanged),
            via: None,
        };
        assert!(f.keeps(&all[0]));
        assert!(!f.keeps(&e(1, "bob", Action::WeightChanged)));
        assert!(!f.keeps(&e(1, "alice", Action::Created)));
        let csv = to_csv(&[e(7, "alice", Action::Created)]);
        assert_eq!(
            csv,
            "at,who,via,action,detail,weight_before,weight_after,generation\r\n\
             t7,alice,console,created,\"a, \"\"b\"\"\",1,,7\r\n"
        );
        assert_eq!(Action::parse("weight moved"), Some(Action::WeightChanged));
    }
}
