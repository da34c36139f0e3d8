//! Benchmark: how long from a gate's breach — a `faulty` v2 (half its answers are 500s)
//! starting to get traffic at the first step of an automatic release — until all traffic
//! is back on the base, on the sandbox with a real Prometheus and the real controller.
//! Several plans (step interval × failed checks before rollback) run side by side, each in
//! a namespace of its own with 30 product pages per second; the times are read from the
//! VirtualService the controller writes (polled every 20 ms). Prints seconds and scrape
//! intervals; not a test (the machines are shared and noisy).
//!
//! Run: cargo run -p sluice-server --example bench_rollback [-- SCRAPE_SECONDS ROUNDS]

use std::time::{Duration, Instant};

use kube::api::{Api, PostParams};
use sluice_app::domain::release::Strategy;
use sluice_server::kube::releases::ReleaseJob;

#[path = "../tests/support/progressive.rs"]
mod support;

const FAULTY: &str = "kubesphere/examples-bookinfo-reviews-v2:1.13.0-faulty";

/// (step interval in seconds, failed checks before rollback).
const PLANS: [(u32, u32); 3] = [(10, 1), (10, 2), (20, 2)];

struct Run {
    interval: u32,
    limit: u32,
    /// From v2's first weight above 0 to its weight back at 0.
    breach_to_base: Duration,
    /// From the breach to the first failed check (the status' time, whole seconds).
    to_first_failure: Option<i64>,
}

async fn one(env: &support::Env, ns: String, interval: u32, limit: u32) -> anyhow::Result<Run> {
    let _users = support::load(&env.sandbox, &ns, 30);
    let job = support::reviews_job(
        "bench",
        FAULTY,
        Strategy::TrafficRatio { new_percent: 10 },
        support::plan(&[10, 25, 50, 100], interval, limit),
    );
    Api::<ReleaseJob>::namespaced(env.client.clone(), &ns)
        .create(&PostParams::default(), &job)
        .await?;
    let deadline = Instant::now() + Duration::from_secs(u64::from(interval * limit) + 120);
    let mut breach: Option<(Instant, i64)> = None;
    loop {
        anyhow::ensure!(Instant::now() < deadline, "{ns}: no rollback in time");
        let new = support::vs_weights(&env.client, &ns, "reviews")
            .await
            .and_then(|w| w.get(1).copied());
        match (breach, new) {
            (None, Some(w)) if w > 0 => {
                let wall = k8s_openapi::jiff::Timestamp::now().as_second();
                breach = Some((Instant::now(), wall));
            }
            (Some((at, wall)), Some(0)) => {
                let breach_to_base = at.elapsed();
                let analysis = support::state(&env.client, &ns, "bench")
                    .await
                    .and_then(|(_, _, a)| a);
                let first_failure = analysis
                    .iter()
                    .flat_map(|a| a.checks.iter())
                    .find(|c| c.verdict == sluice_app::domain::release::analysis::Verdict::Failed)
                    .and_then(|c| sluice_app::domain::timefmt::parse_rfc3339(&c.at));
                return Ok(Run {
                    interval,
                    limit,
                    breach_to_base,
                    to_first_failure: first_failure.map(|t| t - wall),
                });
            }
            _ => {}
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let scrape: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(2);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2);
    let runs: Vec<(String, u32, u32)> = (0..rounds)
        .flat_map(|r| {
            PLANS
                .iter()
                .map(move |(i, l)| (format!("bench-{i}s-{l}-r{r}"), *i, *l))
        })
        .collect();
    let names: Vec<&str> = runs.iter().map(|(n, _, _)| n.as_str()).collect();
    let env = support::start_scraping_every(&names, Duration::from_secs(scrape)).await;
    let (stop, controller) = support::controller(&env.client, env.metrics());
    let results =
        futures::future::join_all(runs.iter().map(|(ns, i, l)| one(&env, ns.clone(), *i, *l)))
            .await;
    stop.send_replace(true);
    let _ = controller.await;
    env.shutdown().await;

    println!(
        "faulty v2 (50% errors) at its first step (10%), 30 product pages/s, Prometheus scraping every {scrape} s, {rounds} round(s)"
    );
    println!(
        "{:>9} {:>14} {:>22} {:>17} {:>20}",
        "interval",
        "rollback after",
        "breach → base (s)",
        "(scrape intervals)",
        "first failed check (s)"
    );
    for r in results {
        let r = r?;
        let secs = r.breach_to_base.as_secs_f64();
        println!(
            "{:>8}s {:>9} check{} {:>22.2} {:>17.1} {:>20}",
            r.interval,
            r.limit,
            if r.limit == 1 { " " } else { "s" },
            secs,
            secs / scrape as f64,
            r.to_first_failure
                .map(|s| s.to_string())
                .unwrap_or_else(|| "–".into()),
        );
    }
    println!(
        "(a check is due one interval after the step starts and one after each failed check, so \
         the floor is interval × checks; the rest is the controller's query and write)"
    );
    Ok(())
}
