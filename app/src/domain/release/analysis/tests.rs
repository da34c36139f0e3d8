use super::*;
use crate::domain::release::Side;

const T0: i64 = 1_795_392_000;
const INTERVAL: i64 = 10;

fn plan() -> Analysis {
    Analysis {
        interval_seconds: INTERVAL as u32,
        ..Analysis::recommended()
    }
}

fn spec_with(strategy: Strategy, plan: Analysis) -> ReleaseSpec {
    ReleaseSpec {
        component: "reviews".into(),
        base_workload: "reviews-v1".into(),
        base_version: "v1".into(),
        new_version: "v2".into(),
        image: "kubesphere/examples-bookinfo-reviews-v2:1.13.0".into(),
        replicas: 1,
        strategy,
        taken_over_by: None,
        creator: None,
        analysis: Some(plan),
        routing: Default::default(),
        also_serving: Vec::new(),
        http_route: None,
    }
}

fn ratio() -> ReleaseSpec {
    spec_with(Strategy::TrafficRatio { new_percent: 10 }, plan())
}

/// 100 requests to each version over the window, all fine.
fn healthy() -> Measured {
    Measured {
        window_seconds: INTERVAL as u32,
        new_requests: 100.0,
        new_success: Some(1.0),
        new_p99_ms: Some(120.0),
        base_requests: 100.0,
        base_success: Some(0.999),
    }
}

fn faulty() -> Measured {
    Measured {
        new_success: Some(0.5),
        ..healthy()
    }
}

fn quiet() -> Measured {
    Measured {
        new_requests: 3.0,
        base_requests: 30.0,
        ..healthy()
    }
}

fn at(spec: &ReleaseSpec, status: Option<&AnalysisStatus>, now: i64) -> Situation<'static> {
    // The tests keep their specs and statuses alive for the whole test.
    let spec: &'static ReleaseSpec = Box::leak(Box::new(spec.clone()));
    let status: Option<&'static AnalysisStatus> = status.map(|s| &*Box::leak(Box::new(s.clone())));
    Situation {
        spec,
        status,
        now,
        new_ready: true,
    }
}

/// Runs the controller's loop once at `now`: decide, measure if asked, decide again.
fn tick(
    spec: &ReleaseSpec,
    status: Option<&AnalysisStatus>,
    now: i64,
    m: &Result<Measured, String>,
) -> Decision {
    let d = decide(at(spec, status, now), None);
    if d.action == Action::Measure {
        assert_eq!(
            d.status,
            status.cloned().unwrap(),
            "asking to measure changes nothing"
        );
        return decide(at(spec, status, now), Some(m.clone()));
    }
    d
}

fn started(spec: &ReleaseSpec) -> AnalysisStatus {
    let d = decide(at(spec, None, T0), None);
    assert_eq!(
        d.action,
        Action::Advance {
            step: 0,
            entered: Entered::Start
        }
    );
    d.status
}

fn steps_of(st: &AnalysisStatus) -> Vec<u32> {
    st.history.iter().map(|h| h.step).collect()
}

#[test]
fn nothing_starts_before_the_new_version_has_a_ready_pod() {
    let spec = ratio();
    let mut s = at(&spec, None, T0);
    s.new_ready = false;
    let d = decide(s, None);
    assert_eq!(d.action, Action::NotStarted);
    assert_eq!(d.status, AnalysisStatus::default());
    assert_eq!(
        describe(&spec, None).unwrap(),
        "Automatic release: starts at step 1 of 4 (v2 10%) once v2 has a ready pod."
    );
}

#[test]
fn the_first_step_starts_with_its_clock_and_an_entry() {
    let spec = ratio();
    let d = decide(at(&spec, None, T0), None);
    let st = &d.status;
    assert_eq!(st.step, 0);
    assert_eq!(st.step_started_at, format_rfc3339(T0));
    assert_eq!(st.next_check_at, format_rfc3339(T0 + INTERVAL));
    assert_eq!(st.history.len(), 1);
    assert_eq!(st.history[0].entered, Entered::Start);
    assert_eq!(d.note.as_ref().unwrap().reason, "AnalysisStarted");
    assert_eq!(st.next_check_in(T0 + 3), Some(7));
    assert_eq!(st.next_check_in(T0 + 30), Some(0));
}

#[test]
fn before_a_check_is_due_nothing_changes_however_often_it_is_asked() {
    let spec = ratio();
    let st = started(&spec);
    for now in T0..T0 + INTERVAL {
        let d = decide(at(&spec, Some(&st), now), Some(Ok(faulty())));
        assert_eq!(d.action, Action::Wait, "{now}");
        assert_eq!(d.status, st);
        assert_eq!(d.note, None);
    }
    // Due: the controller is asked to measure, and only then judges.
    let d = decide(at(&spec, Some(&st), T0 + INTERVAL), None);
    assert_eq!((d.action, d.status), (Action::Measure, st));
}

#[test]
fn a_healthy_version_walks_every_step_and_is_promoted() {
    let spec = ratio();
    let mut st = started(&spec);
    let mut now = T0;
    let mut percents = vec![effective_percent(&spec, &st)];
    for expected in 1..=3u32 {
        now += INTERVAL;
        let d = tick(&spec, Some(&st), now, &Ok(healthy()));
        assert_eq!(
            d.action,
            Action::Advance {
                step: expected,
                entered: Entered::ChecksPassed
            }
        );
        let note = d.note.unwrap();
        assert_eq!(note.reason, "StepAdvanced");
        assert!(note.text.starts_with("Checks passed over 100 requests in 10 s: success rate of v2 100% (at least 99%); p99 latency of v2 120 ms (at most 500 ms); error rate of v2 0% vs v1's 0.1% (-0.1 points, at most +1)."), "{}", note.text);
        st = d.status;
        assert_eq!(st.step_started_at, format_rfc3339(now));
        percents.push(effective_percent(&spec, &st));
    }
    assert_eq!(percents, [10, 25, 50, 100]);
    now += INTERVAL;
    let d = tick(&spec, Some(&st), now, &Ok(healthy()));
    assert_eq!(d.action, Action::Promote);
    let st = d.status;
    assert_eq!(steps_of(&st), [0, 1, 2, 3]);
    assert_eq!(st.checks.len(), 4);
    assert!(st.checks.iter().all(|c| c.verdict == Verdict::Passed));
    let outcome = st.outcome.clone().unwrap();
    assert_eq!(
        (outcome.kind, outcome.by_person),
        (OutcomeKind::Promoted, false)
    );
    assert_eq!(st.decided(), Some(Side::New));
    assert_eq!(
        effective_spec(&spec, Some(&st)).taken_over_by,
        Some(Side::New)
    );
    // Over: later reconciles change nothing, whatever the metrics say.
    let d = tick(&spec, Some(&st), now + 100, &Ok(faulty()));
    assert_eq!((d.action, d.status), (Action::Done, st));
}

fn effective_percent(spec: &ReleaseSpec, st: &AnalysisStatus) -> u8 {
    match effective_spec(spec, Some(st)).strategy {
        Strategy::TrafficRatio { new_percent } => new_percent,
        _ => unreachable!(),
    }
}

#[test]
fn manual_promotion_waits_at_the_last_step_for_a_person() {
    let mut p = plan();
    p.steps = vec![50, 100];
    p.promotion = Promotion::Manual;
    let mut spec = spec_with(Strategy::TrafficRatio { new_percent: 50 }, p);
    let mut st = started(&spec);
    st = tick(&spec, Some(&st), T0 + 10, &Ok(healthy())).status;
    let d = tick(&spec, Some(&st), T0 + 20, &Ok(healthy()));
    assert_eq!(d.action, Action::AwaitPromotion);
    st = d.status;
    assert_eq!(
        st.outcome.as_ref().unwrap().kind,
        OutcomeKind::AwaitingPromotion
    );
    assert!(
        describe(&spec, Some(&st))
            .unwrap()
            .contains("press Promote to let v2 take all traffic")
    );
    assert_eq!(effective_percent(&spec, &st), 100);
    assert_eq!(effective_spec(&spec, Some(&st)).taken_over_by, None);
    let d = tick(&spec, Some(&st), T0 + 99, &Ok(faulty()));
    assert_eq!((d.action, &d.status), (Action::AwaitPromotion, &st));
    // Promote now.
    spec.taken_over_by = Some(Side::New);
    let d = decide(at(&spec, Some(&st), T0 + 100), None);
    assert_eq!(d.action, Action::Promote);
    let o = d.status.outcome.clone().unwrap();
    assert!(o.by_person && o.kind == OutcomeKind::Promoted, "{o:?}");
    let again = decide(at(&spec, Some(&d.status), T0 + 101), None);
    assert_eq!((again.action, again.status), (Action::Done, d.status));
}

#[test]
fn a_failing_version_is_rolled_back_at_the_failure_limit_with_the_gate_and_values() {
    let spec = ratio();
    let st = started(&spec);
    let d = tick(&spec, Some(&st), T0 + 10, &Ok(faulty()));
    assert_eq!(
        d.action,
        Action::FailedCheck {
            failed: 1,
            limit: 2
        }
    );
    let note = d.note.unwrap();
    assert!(note.warning);
    assert_eq!(
        note.text,
        "Check failed (1 of 2 before rollback) at step 1 of 4 (v2 10%): success rate of v2 50% \
         (at least 99%); error rate of v2 50% vs v1's 0.1% (+49.9 points, at most +1)."
    );
    let st = d.status;
    assert_eq!(st.step, 0, "a failed check does not move the step");
    assert_eq!(st.next_check_at, format_rfc3339(T0 + 20));
    assert_eq!(
        describe(&spec, Some(&st)).unwrap(),
        "Step 1 of 4 (v2 10%): 1 of 2 failed checks before rollback; checking again."
    );
    let d = tick(&spec, Some(&st), T0 + 20, &Ok(faulty()));
    assert_eq!(d.action, Action::RollBack);
    let st = d.status;
    let o = st.outcome.clone().unwrap();
    assert_eq!((o.kind, o.by_person), (OutcomeKind::RolledBack, false));
    assert_eq!(
        o.reason,
        "Rolled back at step 1 of 4 (v2 10%) after 2 failed checks: success rate of v2 50% (at \
         least 99%); error rate of v2 50% vs v1's 0.1% (+49.9 points, at most +1). All traffic \
         to v1; reviews-v2's pods stay for inspection until Job Offline."
    );
    assert_eq!(describe(&spec, Some(&st)).unwrap(), o.reason);
    let applied = effective_spec(&spec, Some(&st));
    assert_eq!(applied.taken_over_by, Some(Side::Base));
    assert_eq!(steps_of(&st), [0]);
    // Rolled back for good, even if the metrics recover.
    let d = tick(&spec, Some(&st), T0 + 30, &Ok(healthy()));
    assert_eq!((d.action, d.status), (Action::Done, st));
}

#[test]
fn failed_checks_count_in_a_row_and_a_pass_resets_them() {
    let mut p = plan();
    p.failure_limit = 2;
    p.steps = vec![10, 20, 30, 40, 100];
    let spec = spec_with(Strategy::TrafficRatio { new_percent: 10 }, p);
    let mut st = started(&spec);
    let mut now = T0;
    for (m, expected_step, expected_failed) in [
        (faulty(), 0, 1),
        (healthy(), 1, 0),
        (faulty(), 1, 1),
        (healthy(), 2, 0),
    ] {
        now += INTERVAL;
        st = tick(&spec, Some(&st), now, &Ok(m)).status;
        assert_eq!(
            (st.step, st.failed_checks),
            (expected_step, expected_failed)
        );
    }
    assert!(st.outcome.is_none());
    // A limit of one rolls back at the first failure.
    let mut p = plan();
    p.failure_limit = 1;
    let spec = spec_with(Strategy::TrafficRatio { new_percent: 10 }, p);
    let st = started(&spec);
    assert_eq!(
        tick(&spec, Some(&st), T0 + 10, &Ok(faulty())).action,
        Action::RollBack
    );
}

#[test]
fn too_little_traffic_waits_and_never_promotes() {
    let spec = ratio();
    let mut st = started(&spec);
    let mut notes = 0;
    for i in 1..=30 {
        let d = tick(&spec, Some(&st), T0 + i * INTERVAL, &Ok(quiet()));
        assert_eq!(d.action, Action::NotEnoughTraffic, "check {i}");
        notes += usize::from(d.note.is_some());
        st = d.status;
        assert_eq!((st.step, st.failed_checks), (0, 0));
    }
    assert_eq!(notes, 1, "noted when the step starts waiting only");
    assert_eq!(st.checks.len(), CHECKS_KEPT, "the history is bounded");
    assert!(st.outcome.is_none());
    assert_eq!(
        describe(&spec, Some(&st)).unwrap(),
        "Step 1 of 4 (v2 10%): Not enough traffic: 3 requests to v2 in 10 s, 20 needed to judge."
    );
    // Traffic comes: judged at the next check.
    let d = tick(&spec, Some(&st), T0 + 31 * INTERVAL, &Ok(healthy()));
    assert_eq!(
        d.action,
        Action::Advance {
            step: 1,
            entered: Entered::ChecksPassed
        }
    );
    assert_eq!(d.status.waiting, None);
}

#[test]
fn no_traffic_at_all_is_not_enough_traffic_not_a_failure() {
    let spec = ratio();
    let st = started(&spec);
    let none = Measured {
        window_seconds: 10,
        ..Measured::default()
    };
    let d = tick(&spec, Some(&st), T0 + 10, &Ok(none));
    assert_eq!(d.action, Action::NotEnoughTraffic);
    assert!(
        d.status.checks[0]
            .gates
            .iter()
            .all(|g| g.verdict == GateVerdict::NotEnoughTraffic)
    );
}

#[test]
fn gates_judge_at_their_thresholds() {
    let p = plan();
    let judge_ = |m: Measured| judge(&p, &m, true);
    // Exactly at the thresholds passes.
    let edge = Measured {
        new_success: Some(0.99),
        new_p99_ms: Some(500.0),
        base_success: Some(1.0),
        ..healthy()
    };
    assert_eq!(judge_(edge.clone()).0, Verdict::Passed);
    let slow = Measured {
        new_p99_ms: Some(812.0),
        ..healthy()
    };
    let (v, g) = judge_(slow);
    assert_eq!(v, Verdict::Failed);
    assert_eq!(
        g.iter().map(|g| g.verdict).collect::<Vec<_>>(),
        [GateVerdict::Pass, GateVerdict::Fail, GateVerdict::Pass]
    );
    assert_eq!(
        describe_gate(&g[1], "v2", "v1"),
        "p99 latency of v2 812 ms (at most 500 ms)"
    );
    // Worse than the base by more than the margin, though above the success rate.
    let p2 = Analysis {
        gates: Gates {
            min_success_percent: Some(90.0),
            max_p99_ms: None,
            max_error_increase_percent: Some(1.0),
        },
        ..plan()
    };
    let worse = Measured {
        new_success: Some(0.97),
        base_success: Some(0.995),
        ..healthy()
    };
    let (v, g) = judge(&p2, &worse, true);
    assert_eq!(v, Verdict::Failed);
    assert_eq!(g[1].verdict, GateVerdict::Fail);
    assert_eq!(
        describe_gate(&g[1], "v2", "v1"),
        "error rate of v2 3% vs v1's 0.5% (+2.5 points, at most +1)"
    );
    // The base serves nothing at a 100% step: the comparison is not applicable.
    let (v, g) = judge(
        &p2,
        &Measured {
            base_requests: 0.0,
            base_success: None,
            ..healthy()
        },
        false,
    );
    assert_eq!(v, Verdict::Passed);
    assert_eq!(g[1].verdict, GateVerdict::NotApplicable);
    assert!(describe_gate(&g[1], "v2", "v1").contains("not compared, v1 serves no traffic"));
    // The base serves, but too little to compare with: wait.
    let (v, g) = judge(
        &p2,
        &Measured {
            base_requests: 5.0,
            ..healthy()
        },
        true,
    );
    assert_eq!(
        (v, g[1].verdict),
        (Verdict::NotEnoughTraffic, GateVerdict::NotEnoughTraffic)
    );
    // A failing gate wins over one that cannot judge.
    let (v, _) = judge(
        &p2,
        &Measured {
            base_requests: 5.0,
            new_success: Some(0.5),
            ..healthy()
        },
        true,
    );
    assert_eq!(v, Verdict::Failed);
    // No latency data (a NaN quantile) is not a pass.
    let (v, g) = judge_(Measured {
        new_p99_ms: Some(f64::NAN),
        ..healthy()
    });
    assert_eq!(
        (v, g[1].verdict, g[1].measured),
        (
            Verdict::NotEnoughTraffic,
            GateVerdict::NotEnoughTraffic,
            None
        )
    );
    // Without gates, a step passes on time alone.
    let none = Analysis {
        gates: Gates::default(),
        ..plan()
    };
    assert_eq!(judge(&none, &quiet(), true), (Verdict::Passed, vec![]));
}

#[test]
fn comparing_waits_for_enough_requests_to_the_base_too() {
    let spec = ratio();
    let st = started(&spec);
    let d = tick(
        &spec,
        Some(&st),
        T0 + 10,
        &Ok(Measured {
            base_requests: 4.0,
            ..healthy()
        }),
    );
    assert_eq!(d.action, Action::NotEnoughTraffic);
    assert_eq!(
        d.status.waiting.as_deref(),
        Some("Not enough traffic: 4 requests to v1 in 10 s, 20 needed to compare it with v2.")
    );
}

#[test]
fn prometheus_unavailable_holds_without_counting_and_goes_on_when_it_answers() {
    let spec = ratio();
    let st = tick(&spec, Some(&started(&spec)), T0 + 10, &Ok(faulty())).status;
    assert_eq!(st.failed_checks, 1);
    let down: Result<Measured, String> =
        Err("Prometheus at http://127.0.0.1:9090 did not answer: connection refused".into());
    let d = tick(&spec, Some(&st), T0 + 20, &down);
    let Action::Hold { why } = &d.action else {
        panic!("{:?}", d.action)
    };
    assert_eq!(
        why,
        "Prometheus is unavailable (Prometheus at http://127.0.0.1:9090 did not answer: \
         connection refused): holding, with no promotion and no rollback, until it answers."
    );
    assert!(d.note.as_ref().unwrap().warning);
    let held = d.status;
    assert_eq!(
        (held.step, held.failed_checks, held.outcome.clone()),
        (0, 1, None)
    );
    assert_eq!(
        held.next_check_at, st.next_check_at,
        "the clock does not move"
    );
    assert_eq!(held.checks.last().unwrap().verdict, Verdict::Unavailable);
    assert_eq!(
        describe(&spec, Some(&held)).unwrap(),
        format!("Step 1 of 4 (v2 10%): {why}")
    );
    // Holding again changes nothing and notes nothing.
    let again = tick(&spec, Some(&held), T0 + 300, &down);
    assert_eq!((again.note, &again.status), (None, &held));
    // Back: the overdue check is made once, and judged.
    let d = tick(&spec, Some(&held), T0 + 301, &Ok(healthy()));
    assert_eq!(
        d.action,
        Action::Advance {
            step: 1,
            entered: Entered::ChecksPassed
        }
    );
    assert_eq!(d.status.waiting, None);
    assert_eq!(steps_of(&d.status), [0, 1]);
}

#[test]
fn a_new_version_without_ready_pods_holds_the_check() {
    let spec = ratio();
    let st = started(&spec);
    let mut s = at(&spec, Some(&st), T0 + 10);
    s.new_ready = false;
    let d = decide(s, Some(Ok(faulty())));
    assert!(matches!(d.action, Action::Hold { .. }), "{:?}", d.action);
    assert!(
        d.status
            .waiting
            .as_deref()
            .unwrap()
            .starts_with("reviews-v2 has no ready pod")
    );
    assert_eq!(d.status.failed_checks, 0);
    // Before it is due, readiness does not matter.
    let mut s = at(&spec, Some(&st), T0 + 5);
    s.new_ready = false;
    assert_eq!(decide(s, None).action, Action::Wait);
}

#[test]
fn pause_stops_the_checks_and_resume_restarts_the_steps_clock() {
    let mut spec = ratio();
    let st = started(&spec);
    spec.analysis.as_mut().unwrap().paused = Some(PauseReason::Person);
    let d = decide(at(&spec, Some(&st), T0 + 3), None);
    assert_eq!(d.action, Action::Paused);
    let paused = d.status;
    assert!(paused.paused);
    // Long past the due time: still no check.
    let d = tick(&spec, Some(&paused), T0 + 500, &Ok(faulty()));
    assert_eq!((d.action, &d.status), (Action::Paused, &paused));
    assert_eq!(
        describe(&spec, Some(&paused)).unwrap(),
        "Paused by hand at step 1 of 4 (v2 10%): no checks, no steps until Resume."
    );
    assert_eq!(
        effective_percent(&spec, &paused),
        10,
        "a pause holds the step's split"
    );
    spec.analysis.as_mut().unwrap().paused = None;
    let d = decide(at(&spec, Some(&paused), T0 + 600), None);
    assert_eq!(d.action, Action::Wait);
    assert_eq!(d.note.unwrap().reason, "Resumed");
    let resumed = d.status;
    assert!(!resumed.paused);
    assert_eq!(resumed.step_started_at, format_rfc3339(T0 + 600));
    assert_eq!(resumed.next_check_at, format_rfc3339(T0 + 610));
    assert_eq!(steps_of(&resumed), [0], "the same step goes on");
}

#[test]
fn moving_the_slider_pauses_with_the_persons_split_until_resume() {
    let mut spec = ratio();
    let st = tick(&spec, Some(&started(&spec)), T0 + 10, &Ok(healthy())).status;
    assert_eq!(st.step, 1);
    spec.strategy = Strategy::TrafficRatio { new_percent: 40 };
    spec.analysis.as_mut().unwrap().paused = Some(PauseReason::SliderMoved);
    let d = decide(at(&spec, Some(&st), T0 + 11), None);
    assert_eq!(d.action, Action::Paused);
    assert_eq!(effective_percent(&spec, &d.status), 40);
    assert_eq!(
        describe(&spec, Some(&d.status)).unwrap(),
        "Paused: the slider was moved by hand (v2 40%), so the automatic steps stopped. Resume \
         goes back to step 2 of 4 (v2 25%) and its checks."
    );
    spec.analysis.as_mut().unwrap().paused = None;
    assert_eq!(effective_percent(&spec, &d.status), 25);
}

#[test]
fn next_step_now_moves_once_and_clamps_at_the_last_step() {
    let mut spec = ratio();
    let st = started(&spec);
    spec.analysis.as_mut().unwrap().skip_to_step = Some(1);
    let d = decide(at(&spec, Some(&st), T0 + 2), Some(Ok(faulty())));
    assert_eq!(
        d.action,
        Action::Advance {
            step: 1,
            entered: Entered::Person
        }
    );
    let st = d.status;
    assert_eq!(st.next_check_at, format_rfc3339(T0 + 12));
    assert_eq!(st.history.last().unwrap().entered, Entered::Person);
    // The same request seen again (a restart, a stale cache) does not move again.
    let again = decide(at(&spec, Some(&st), T0 + 3), None);
    assert_eq!((again.action, &again.status), (Action::Wait, &st));
    // Further than the plan goes: the last step.
    spec.analysis.as_mut().unwrap().skip_to_step = Some(99);
    let d = decide(at(&spec, Some(&st), T0 + 4), None);
    assert_eq!(
        d.action,
        Action::Advance {
            step: 3,
            entered: Entered::Person
        }
    );
    assert_eq!(steps_of(&d.status), [0, 1, 3]);
    // Asked before the analysis started: it starts there.
    let mut spec = ratio();
    spec.analysis.as_mut().unwrap().skip_to_step = Some(2);
    let d = decide(at(&spec, None, T0), None);
    assert_eq!(
        d.action,
        Action::Advance {
            step: 2,
            entered: Entered::Person
        }
    );
}

#[test]
fn roll_back_now_and_take_over_by_a_person_are_outcomes() {
    let mut spec = ratio();
    let st = started(&spec);
    spec.taken_over_by = Some(Side::Base);
    let d = decide(at(&spec, Some(&st), T0 + 1), None);
    assert_eq!(d.action, Action::RollBack);
    let o = d.status.outcome.clone().unwrap();
    assert_eq!((o.kind, o.by_person), (OutcomeKind::RolledBack, true));
    assert_eq!(
        o.reason,
        "Rolled back by hand at step 1 of 4 (v2 10%): all traffic to v1; reviews-v2's pods stay for inspection until Job Offline."
    );
    assert_eq!(d.note.unwrap().reason, "RolledBack");
    // A person may still change their mind: Promote now after a rollback.
    spec.taken_over_by = Some(Side::New);
    let d2 = decide(at(&spec, Some(&d.status), T0 + 2), None);
    assert_eq!(d2.action, Action::Promote);
    assert_eq!(d2.status.decided(), Some(Side::New));
    // Taken over before the analysis ever started.
    let d = decide(at(&spec, None, T0), None);
    assert_eq!(d.status.outcome.unwrap().kind, OutcomeKind::Promoted);
}

#[test]
fn a_restart_reads_the_written_status_and_decides_the_same() {
    // What a new leader reads back from the cluster is what the old one wrote.
    let spec = ratio();
    let st = tick(&spec, Some(&started(&spec)), T0 + 10, &Ok(healthy())).status;
    let json = serde_json::to_value(&st).unwrap();
    let read: AnalysisStatus = serde_json::from_value(json).unwrap();
    assert_eq!(read, st);
    // Down for a minute: the overdue check is made once, one step on.
    let a = tick(&spec, Some(&st), T0 + 80, &Ok(healthy()));
    let b = tick(&spec, Some(&read), T0 + 80, &Ok(healthy()));
    assert_eq!(a, b);
    assert_eq!(steps_of(&a.status), [0, 1, 2]);
    // And again right after (the same check, not repeated).
    let c = tick(&spec, Some(&a.status), T0 + 81, &Ok(healthy()));
    assert_eq!((c.action, c.status), (Action::Wait, a.status));
}

#[test]
fn mirroring_has_one_step_and_compares_mirrored_errors_with_the_base() {
    let mut p = plan();
    p.steps.clear();
    p.promotion = Promotion::Manual;
    let spec = spec_with(Strategy::Mirroring { percent: 50 }, p);
    assert_eq!((step_count(&spec), percent_at(&spec, 0)), (1, None));
    let st = started(&spec);
    assert_eq!(step_label(&spec, 0), "mirroring 50% to v2");
    let d = tick(&spec, Some(&st), T0 + 10, &Ok(healthy()));
    assert_eq!(d.action, Action::AwaitPromotion);
    assert_eq!(
        effective_spec(&spec, Some(&d.status)).strategy,
        spec.strategy
    );
    let d = tick(
        &spec,
        Some(&st),
        T0 + 10,
        &Ok(Measured {
            new_p99_ms: Some(900.0),
            ..healthy()
        }),
    );
    assert_eq!(
        d.action,
        Action::FailedCheck {
            failed: 1,
            limit: 2
        }
    );
    assert!(
        step_label(
            &spec_with(Strategy::RequestContent { rules: vec![] }, plan()),
            0
        )
        .contains("matching requests")
    );
}

#[test]
fn measurements_come_from_the_job_pages_queries() {
    let q = gate_queries("demo-project", "reviews", 10);
    assert_eq!(q[0], rps_by_version("demo-project", "reviews", "10s"));
    assert_eq!(q[1], success_by_version("demo-project", "reviews", "10s"));
    assert_eq!(
        q[2],
        latency_by_version("demo-project", "reviews", 0.99, "10s")
    );
    let s = |v: &str, x: f64| Series {
        labels: [("destination_version".to_string(), v.to_string())].into(),
        points: vec![(0.0, x)],
    };
    let m = Measured::from_series(
        &ratio(),
        10,
        &[s("v1", 9.0), s("v2", 1.5)],
        &[s("v1", 1.0), s("v2", 0.5)],
        &[s("v1", 80.0), s("v2", f64::NAN)],
    );
    assert_eq!(
        m,
        Measured {
            window_seconds: 10,
            new_requests: 15.0,
            new_success: Some(0.5),
            new_p99_ms: None,
            base_requests: 90.0,
            base_success: Some(1.0),
        }
    );
    assert_eq!(
        Measured::from_series(&ratio(), 10, &[], &[], &[]).new_requests,
        0.0
    );
}

#[test]
fn a_job_without_a_plan_has_nothing_to_decide() {
    let mut spec = ratio();
    spec.analysis = None;
    assert_eq!(decide(at(&spec, None, T0), None).action, Action::Done);
    assert_eq!(describe(&spec, None), None);
    assert_eq!(effective_spec(&spec, None), spec);
}
