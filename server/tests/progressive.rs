//! Automatic releases against the sandbox and a real Prometheus scraping its mesh: steps
//! of 10 s gated by the new version's live metrics, the way a person would watch them.
//! Scenarios that can share a cluster run side by side, each in a namespace of its own:
//! a healthy v2 walks 10 → 25 → 50 → 100 and takes over (the VirtualService and the
//! product page follow every step); a `faulty` v2 is rolled back at the failure limit and
//! gets no request after; a release without traffic waits, saying so, and never
//! promotes; mirroring to a faulty v2 is stopped by the checks on the mirrored copies, and
//! a healthy mirrored v2 is offered for Take Over; a faulty v2 behind a request-content
//! rule is judged on the matched requests and stopped. The controller restart and the
//! Prometheus outage have a cluster of their own, since they stop what the others need.

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Event;
use kube::api::{Api, ListParams, PostParams};
use sluice_app::domain::release::Strategy;
use sluice_app::domain::release::analysis::{AnalysisStatus, Entered, OutcomeKind, Verdict};
use sluice_server::kube::releases::{Phase, ReleaseJob};

#[path = "support/progressive.rs"]
mod support;

use support::{
    Env, assert_share, controller, load, plan, reviews_job, state, v2_share, virtual_service,
    vs_weights, within,
};

const HEALTHY: &str = "kubesphere/examples-bookinfo-reviews-v2:1.13.0";
const FAULTY: &str = "kubesphere/examples-bookinfo-reviews-v2:1.13.0-faulty";
const STEPS: [u8; 4] = [10, 25, 50, 100];
/// Product pages per second in a namespace with traffic.
const RPS: u32 = 30;

fn steps_of(a: &AnalysisStatus) -> Vec<u32> {
    a.history.iter().map(|h| h.step).collect()
}

async fn create(env: &Env, ns: &str, job: ReleaseJob) {
    Api::<ReleaseJob>::namespaced(env.client.clone(), ns)
        .create(&PostParams::default(), &job)
        .await
        .unwrap();
}

async fn events(env: &Env, ns: &str, reason: &str) -> Vec<String> {
    Api::<Event>::namespaced(env.client.clone(), ns)
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.reason.as_deref() == Some(reason))
        .map(|e| e.message.unwrap_or_default())
        .collect()
}

/// A healthy v2: every step is entered once, in order, the VirtualService and the product
/// page's share of v2 follow each, and after the last step v2 takes over.
async fn healthy_walk(env: &Env) {
    let ns = "walk";
    let _users = Abort(load(&env.sandbox, ns, RPS));
    create(
        env,
        ns,
        reviews_job(
            "canary",
            HEALTHY,
            Strategy::TrafficRatio { new_percent: 10 },
            plan(&STEPS, 10, 2),
        ),
    )
    .await;
    let mut seen: Vec<u32> = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let (phase, message, analysis) = state(&env.client, ns, "canary").await.unwrap_or_default();
        if phase == Some(Phase::TakenOver) {
            break;
        }
        assert_ne!(phase, Some(Phase::RolledBack), "{message}");
        if let Some(a) = analysis.filter(|a| a.outcome.is_none())
            && !seen.contains(&a.step)
        {
            let percent = u64::from(STEPS[a.step as usize]);
            within(
                &format!("the routes of step {}", a.step),
                Duration::from_secs(5),
                || async {
                    (vs_weights(&env.client, ns, "reviews").await
                        == Some(vec![100 - percent, percent]))
                    .then_some(())
                },
            )
            .await;
            tokio::time::sleep(Duration::from_millis(300)).await;
            const N: usize = 400;
            let share = v2_share(&env.sandbox, ns, N);
            assert_share(
                share,
                percent as f64 / 100.0,
                N,
                &format!("step {}", a.step),
            );
            seen.push(a.step);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no promotion within 2 minutes: {message}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(seen, [0, 1, 2, 3], "every step seen, in order");
    let (_, message, analysis) = state(&env.client, ns, "canary").await.unwrap();
    let a = analysis.unwrap();
    assert_eq!(steps_of(&a), [0, 1, 2, 3]);
    assert_eq!(
        a.history.iter().map(|h| h.entered).collect::<Vec<_>>(),
        [
            Entered::Start,
            Entered::ChecksPassed,
            Entered::ChecksPassed,
            Entered::ChecksPassed
        ]
    );
    let outcome = a.outcome.unwrap();
    assert_eq!(
        (outcome.kind, outcome.by_person),
        (OutcomeKind::Promoted, false)
    );
    assert!(message.contains("v2 takes all traffic"), "{message}");
    assert_eq!(
        vs_weights(&env.client, ns, "reviews").await,
        Some(vec![0, 100])
    );
    assert_eq!(v2_share(&env.sandbox, ns, 50), 1.0);
    assert!(!events(env, ns, "StepAdvanced").await.is_empty());
}

/// A `faulty` v2 (half its answers are 500s) fails its first step's checks and is rolled
/// back after exactly the failure limit; then no request reaches it, and its pods stay.
async fn faulty_rolls_back(env: &Env) {
    let ns = "faulty";
    let _users = Abort(load(&env.sandbox, ns, RPS));
    create(
        env,
        ns,
        reviews_job(
            "canary",
            FAULTY,
            Strategy::TrafficRatio { new_percent: 10 },
            plan(&STEPS, 10, 2),
        ),
    )
    .await;
    let (message, a) = within("the rollback", Duration::from_secs(90), || async {
        match state(&env.client, ns, "canary").await {
            Some((Some(Phase::RolledBack), m, a)) => Some((m, a)),
            Some((Some(Phase::TakenOver), m, _)) => panic!("a faulty version was promoted: {m}"),
            _ => None,
        }
    })
    .await;
    let a = a.unwrap();
    let outcome = a.outcome.clone().unwrap();
    assert_eq!(
        (outcome.kind, outcome.by_person),
        (OutcomeKind::RolledBack, false)
    );
    let failed = a
        .checks
        .iter()
        .filter(|c| c.verdict == Verdict::Failed)
        .count();
    assert_eq!(
        failed, 2,
        "rolled back at the failure limit: {:?}",
        a.checks
    );
    assert_eq!(steps_of(&a), [0], "never advanced: {a:#?}");
    assert!(
        message.starts_with(
            "Rolled back at step 1 of 4 (v2 10%) after 2 failed checks: success rate of v2"
        ),
        "{message}"
    );
    assert!(
        message.contains("(at least 99%)"),
        "the threshold is named: {message}"
    );
    assert_eq!(
        vs_weights(&env.client, ns, "reviews").await,
        Some(vec![100, 0])
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        v2_share(&env.sandbox, ns, 200),
        0.0,
        "no request reaches v2"
    );
    let deployments: Api<Deployment> = Api::namespaced(env.client.clone(), ns);
    assert!(
        deployments.get_opt("reviews-v2").await.unwrap().is_some(),
        "the new version's pods stay for inspection until Job Offline"
    );
    let noted = events(env, ns, "RolledBack").await;
    assert!(
        noted.iter().any(|m| m.contains("success rate of v2")),
        "{noted:?}"
    );
}

/// Without traffic the step cannot be judged: it waits, says so, and never promotes.
async fn quiet_waits(env: &Env) {
    let ns = "quiet";
    create(
        env,
        ns,
        reviews_job(
            "canary",
            HEALTHY,
            Strategy::TrafficRatio { new_percent: 10 },
            plan(&STEPS, 10, 2),
        ),
    )
    .await;
    let (phase, message, a) = within("three checks", Duration::from_secs(60), || async {
        state(&env.client, ns, "canary")
            .await
            .filter(|(_, _, a)| a.as_ref().is_some_and(|a| a.checks.len() >= 3))
    })
    .await;
    let a = a.unwrap();
    assert_eq!(phase, Some(Phase::Live));
    assert_eq!((a.step, a.outcome, a.failed_checks), (0, None, 0));
    assert!(
        a.checks
            .iter()
            .all(|c| c.verdict == Verdict::NotEnoughTraffic),
        "{:?}",
        a.checks
    );
    assert!(
        message.contains("Not enough traffic: 0 requests to v2 in 10 s, 10 needed to judge."),
        "{message}"
    );
    assert_eq!(
        vs_weights(&env.client, ns, "reviews").await,
        Some(vec![90, 10])
    );
    assert_eq!(
        events(env, ns, "NotEnoughTraffic").await.len(),
        1,
        "said once"
    );
}

fn mirror_plan() -> sluice_app::domain::release::analysis::Analysis {
    let mut p = plan(&[], 10, 2);
    p.promotion = sluice_app::domain::release::analysis::Promotion::Manual;
    p
}

/// Mirroring every request to a faulty v2: people keep getting v1's answers, but the
/// mirrored copies fail, so the checks stop the mirror before Take Over is offered.
async fn faulty_mirror_is_stopped(env: &Env) {
    let ns = "mirror";
    let _users = Abort(load(&env.sandbox, ns, RPS));
    create(
        env,
        ns,
        reviews_job(
            "mirror",
            FAULTY,
            Strategy::Mirroring { percent: 100 },
            mirror_plan(),
        ),
    )
    .await;
    let (message, a) = within("the mirror to stop", Duration::from_secs(90), || async {
        match state(&env.client, ns, "mirror").await {
            Some((Some(Phase::RolledBack), m, a)) => Some((m, a)),
            _ => None,
        }
    })
    .await;
    assert!(
        message.starts_with(
            "Rolled back at mirroring 100% to v2 after 2 failed checks: success rate of v2"
        ),
        "{message}"
    );
    assert_eq!(a.unwrap().outcome.unwrap().kind, OutcomeKind::RolledBack);
    let vs = virtual_service(&env.client, ns, "reviews").await.unwrap();
    assert!(vs["spec"]["http"][0].get("mirror").is_none(), "{vs}");
    assert_eq!(
        vs_weights(&env.client, ns, "reviews").await,
        Some(vec![100, 0])
    );
}

/// Mirroring to a healthy v2 with promotion by a person: once the mirrored copies pass,
/// the job waits for Promote, still mirroring.
async fn healthy_mirror_awaits_promotion(env: &Env) {
    let ns = "mirror-ok";
    let _users = Abort(load(&env.sandbox, ns, RPS));
    create(
        env,
        ns,
        reviews_job(
            "mirror",
            HEALTHY,
            Strategy::Mirroring { percent: 100 },
            mirror_plan(),
        ),
    )
    .await;
    // The analysis is recorded first, then the routes and the job's message.
    let (phase, message, _) = within("the checks to pass", Duration::from_secs(90), || async {
        state(&env.client, ns, "mirror").await.filter(|(_, m, a)| {
            a.as_ref().and_then(|a| a.outcome.as_ref()).map(|o| o.kind)
                == Some(OutcomeKind::AwaitingPromotion)
                && m.contains("press Promote")
        })
    })
    .await;
    assert_eq!(phase, Some(Phase::Live));
    assert!(
        message.contains("press Promote to let v2 take all traffic"),
        "{message}"
    );
    let vs = virtual_service(&env.client, ns, "reviews").await.unwrap();
    assert_eq!(vs["spec"]["http"][0]["mirror"]["subset"], "v2", "{vs}");
    assert_eq!(
        v2_share(&env.sandbox, ns, 50),
        0.0,
        "people still get v1's answers"
    );
}

/// Request content: a faulty v2 gets only the logged-in user jason's requests; the checks
/// judge those, and roll back, so jason is served by v1 again.
async fn faulty_content_rule_is_stopped(env: &Env) {
    use sluice_app::domain::release::{ContentRule, MatchOp, RuleKind};
    let ns = "content";
    let _users = Abort(support::load_with(
        &env.sandbox,
        ns,
        RPS,
        Some(("end-user", "jason")),
    ));
    let rule = ContentRule {
        kind: RuleKind::Header {
            name: "end-user".into(),
        },
        op: MatchOp::Exact,
        value: "jason".into(),
    };
    create(
        env,
        ns,
        reviews_job(
            "jason",
            FAULTY,
            Strategy::RequestContent { rules: vec![rule] },
            mirror_plan(),
        ),
    )
    .await;
    let (message, _) = within("the rule to stop", Duration::from_secs(90), || async {
        match state(&env.client, ns, "jason").await {
            Some((Some(Phase::RolledBack), m, a)) => Some((m, a)),
            _ => None,
        }
    })
    .await;
    assert!(
        message.starts_with(
            "Rolled back at matching requests to v2 after 2 failed checks: success rate of v2"
        ),
        "{message}"
    );
    let vs = virtual_service(&env.client, ns, "reviews").await.unwrap();
    assert_eq!(vs["spec"]["http"].as_array().map(Vec::len), Some(1), "{vs}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let jason = env.sandbox.mesh().handle_ingress(
        sluice_sandbox::mesh::IngressRequest::get(&support::host(ns), "/productpage?u=normal")
            .header("end-user", "jason"),
    );
    let version = jason
        .body
        .split("data-reviews-version=\"")
        .nth(1)
        .and_then(|r| r.split('"').next());
    assert_eq!(version, Some("v1"), "jason is served by v1 again");
}

/// Stops a spawned task when dropped.
struct Abort(tokio::task::JoinHandle<()>);

impl Drop for Abort {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn automatic_releases_promote_healthy_versions_and_stop_faulty_ones_by_their_live_metrics() {
    let env = support::start(&["walk", "faulty", "quiet", "mirror", "mirror-ok", "content"]).await;
    let (stop, task) = controller(&env.client, env.metrics());
    tokio::join!(
        healthy_walk(&env),
        faulty_rolls_back(&env),
        quiet_waits(&env),
        faulty_mirror_is_stopped(&env),
        healthy_mirror_awaits_promotion(&env),
        faulty_content_rule_is_stopped(&env),
    );
    stop.send_replace(true);
    let _ = task.await;
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_analysis_resumes_after_a_controller_restart_and_holds_while_prometheus_is_down() {
    let ns = "restart";
    let mut env = support::start(&[ns]).await;
    let _users = Abort(load(&env.sandbox, ns, RPS));
    let (stop, task) = controller(&env.client, env.metrics());
    create(
        &env,
        ns,
        reviews_job(
            "canary",
            HEALTHY,
            Strategy::TrafficRatio { new_percent: 10 },
            plan(&STEPS, 10, 2),
        ),
    )
    .await;
    let step = |want: u32| {
        let client = env.client.clone();
        move || {
            let client = client.clone();
            async move {
                state(&client, ns, "canary")
                    .await
                    .and_then(|(_, _, a)| a)
                    .filter(|a| a.step == want && a.outcome.is_none())
            }
        }
    };
    within("step 2", Duration::from_secs(60), step(1)).await;

    // The controller stops mid-analysis, for longer than a step: the next check is overdue
    // when a new controller (a restart, another leader) takes over.
    stop.send_replace(true);
    let _ = task.await;
    let frozen = state(&env.client, ns, "canary").await.unwrap().2.unwrap();
    tokio::time::sleep(Duration::from_secs(15)).await;
    assert_eq!(
        state(&env.client, ns, "canary").await.unwrap().2.unwrap(),
        frozen,
        "nobody decides while no controller runs"
    );
    let (stop, task) = controller(&env.client, env.metrics());
    let a = within("step 3 after the restart", Duration::from_secs(30), step(2)).await;
    assert_eq!(steps_of(&a), [0, 1, 2], "the overdue check was made once");

    // Prometheus goes away mid-step: the analysis holds, and the job says why.
    env.stop_prometheus().await;
    let (phase, message, held) = within("the hold", Duration::from_secs(30), || async {
        state(&env.client, ns, "canary")
            .await
            .filter(|(_, m, _)| m.contains("Prometheus is unavailable"))
    })
    .await;
    assert_eq!(phase, Some(Phase::Live));
    assert!(
        message.contains("holding, with no promotion and no rollback"),
        "{message}"
    );
    let held = held.unwrap();
    tokio::time::sleep(Duration::from_secs(12)).await;
    let (_, _, still) = state(&env.client, ns, "canary").await.unwrap();
    let still = still.unwrap();
    assert_eq!(
        (still.step, still.failed_checks, still.outcome.clone()),
        (held.step, held.failed_checks, None),
        "nothing moves while Prometheus is down"
    );
    assert_eq!(
        vs_weights(&env.client, ns, "reviews").await,
        Some(vec![50, 50])
    );

    // Back: the analysis goes on to the end.
    env.start_prometheus().await;
    let (_, message, a) = within("the promotion", Duration::from_secs(90), || async {
        state(&env.client, ns, "canary")
            .await
            .filter(|(p, _, _)| *p == Some(Phase::TakenOver))
    })
    .await;
    let a = a.unwrap();
    assert_eq!(steps_of(&a), [0, 1, 2, 3], "no gap, no repeat: {message}");
    assert!(
        a.history.windows(2).all(|w| w[0].at <= w[1].at),
        "{:?}",
        a.history
    );
    assert!(a.checks.iter().any(|c| c.verdict == Verdict::Unavailable));
    assert_eq!(
        vs_weights(&env.client, ns, "reviews").await,
        Some(vec![0, 100])
    );
    stop.send_replace(true);
    let _ = task.await;
    env.shutdown().await;
}
