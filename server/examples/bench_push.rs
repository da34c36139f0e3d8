//! Benchmark: live push to many browsers. N clients hold the live stream (`/api/live`) of
//! one job's project; one changes the job's weight through the console's API, as the
//! slider does; the time until every client has the new weight is measured per client.
//! Prints p50/p99/max over all clients and rounds, and the console process's memory and
//! CPU per client. Not a test: the machines are shared and noisy.
//!
//! The console (router, shared watchers) and the sandbox run in this process; the clients
//! run in a child process of this same binary, so the figures for memory and CPU are the
//! server's alone.
//!
//! Run: cargo run --release -p sluice-server --example bench_push [-- CLIENTS ROUNDS]
//! (defaults: 200 clients, 20 rounds)

use std::time::{Duration, Instant};

use leptos::config::LeptosOptions;
use sluice_app::domain::live::LiveMessage;
use sluice_app::domain::release::{ReleaseSpec, Strategy};
use sluice_app::ports::ReleasesPort;
use sluice_server::backends::{HttpBackend, Jaeger, Prometheus};
use sluice_server::context::AppState;
use sluice_server::kube::connect::from_kubeconfig_file;
use sluice_server::push::Hub;

#[path = "../tests/support/bookinfo.rs"]
mod support;

use support::NS;

const JOB: &str = "canary-release";

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// This process's resident memory (bytes) and CPU time used so far.
fn rss_and_cpu() -> (u64, Duration) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let rss_kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses): utime is 14th, stime 15th.
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0)
        + fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
    let hz = 100; // USER_HZ on Linux
    (rss_kb * 1024, Duration::from_millis(ticks * 1000 / hz))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--clients") {
        return clients(&args[2], args[3].parse()?, args[4].parse()?).await;
    }
    let n: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(200);
    let rounds: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(20);

    let env = support::bookinfo().await;
    env.cluster
        .create_job(
            NS,
            JOB,
            ReleaseSpec {
                strategy: Strategy::TrafficRatio { new_percent: 0 },
                ..support::canary_spec()
            },
        )
        .await?;
    let (_stop_watchers, rx) = tokio::sync::watch::channel(false);
    let hub = Hub::start(env.client.clone(), Duration::from_secs(3600), rx);
    let dir = tempfile::tempdir()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let http = reqwest::Client::new();
    let state = AppState::new(
        LeptosOptions::builder()
            .output_name("sluice")
            .site_root(dir.path().to_string_lossy().to_string())
            .site_addr(addr)
            .build(),
        from_kubeconfig_file(env.sandbox.kubeconfig_path(), None, true).await,
        Prometheus(HttpBackend::prometheus(None, http.clone())),
        Jaeger(HttpBackend::jaeger(None, http)),
        None,
    )
    .with_hub(hub.clone());
    tokio::spawn(async move {
        let app = sluice_server::router::router(state)
            .into_make_service_with_connect_info::<std::net::SocketAddr>();
        let _ = axum::serve(listener, app).await;
    });
    // Let the watchers list what exists.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let (rss_before, _) = rss_and_cpu();
    let mut child = tokio::process::Command::new(std::env::current_exe()?)
        .args([
            "--clients",
            &format!("http://{addr}"),
            &n.to_string(),
            &rounds.to_string(),
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()?;
    let mut out = child.stdout.take().expect("piped");
    use tokio::io::AsyncBufReadExt;
    let mut lines = tokio::io::BufReader::new(&mut out).lines();
    // The child says when all its clients hold a stream, then when the rounds begin/end.
    let mut rss_held = 0;
    let mut cpu_start = Duration::ZERO;
    let mut cpu_end = Duration::ZERO;
    while let Some(line) = lines.next_line().await? {
        match line.as_str() {
            "connected" => {
                tokio::time::sleep(Duration::from_millis(300)).await;
                rss_held = rss_and_cpu().0;
                println!(
                    "{n} clients hold a stream ({} open on the console)",
                    hub.streams()
                );
            }
            "rounds" => cpu_start = rss_and_cpu().1,
            "done" => cpu_end = rss_and_cpu().1,
            other => println!("{other}"),
        }
    }
    child.wait().await?;
    let per_client_kib = rss_held.saturating_sub(rss_before) as f64 / 1024.0 / n as f64;
    let cpu = cpu_end.saturating_sub(cpu_start);
    println!(
        "console memory: {:.1} MiB before, {:.1} MiB with {n} streams: {per_client_kib:.1} KiB per client",
        rss_before as f64 / 1048576.0,
        rss_held as f64 / 1048576.0
    );
    println!(
        "console CPU during {rounds} changes: {:.0} ms ({:.3} ms per client per change)",
        cpu.as_secs_f64() * 1000.0,
        cpu.as_secs_f64() * 1000.0 / (n * rounds) as f64
    );
    Ok(())
}

/// One client: reads the stream and reports, per round, when it saw the weight.
async fn client(
    base: String,
    id: usize,
    ready: tokio::sync::mpsc::Sender<()>,
    seen: tokio::sync::mpsc::UnboundedSender<(usize, u8, Instant)>,
) {
    let http = reqwest::Client::new();
    let mut res = match http
        .get(format!("{base}/api/live?project={NS}"))
        .header("host", base.trim_start_matches("http://"))
        .send()
        .await
    {
        Ok(r) if r.status().is_success() => r,
        Ok(r) => {
            eprintln!("client {id}: {}", r.status());
            return;
        }
        Err(e) => {
            eprintln!("client {id}: {e}");
            return;
        }
    };
    let mut buffer = String::new();
    let mut announced = false;
    while let Ok(Some(chunk)) = res.chunk().await {
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let frame: String = buffer.drain(..end + 2).collect();
            let data: String = frame
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(str::trim_start)
                .collect();
            match LiveMessage::parse(&data) {
                Ok(LiveMessage::Job(j)) if j.name == JOB => {
                    if !announced {
                        announced = true;
                        let _ = ready.send(()).await;
                    }
                    if let Strategy::TrafficRatio { new_percent } = j.spec.strategy {
                        let _ = seen.send((id, new_percent, Instant::now()));
                    }
                }
                _ => {}
            }
        }
    }
}

async fn clients(base: &str, n: usize, rounds: usize) -> anyhow::Result<()> {
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel(n);
    let (seen_tx, mut seen_rx) = tokio::sync::mpsc::unbounded_channel();
    for id in 0..n {
        tokio::spawn(client(
            base.to_string(),
            id,
            ready_tx.clone(),
            seen_tx.clone(),
        ));
    }
    drop(ready_tx);
    for _ in 0..n {
        ready_rx.recv().await;
    }
    println!("connected");
    let http = reqwest::Client::new();
    let host = base.trim_start_matches("http://").to_string();
    let mut latencies = Vec::new();
    println!("rounds");
    for round in 0..rounds {
        let target = if round % 2 == 0 { 70 } else { 30 };
        let job: serde_json::Value = http
            .get(format!(
                "{base}/api/get_release_job?project={NS}&name={JOB}"
            ))
            .header("host", &host)
            .send()
            .await?
            .json()
            .await?;
        while seen_rx.try_recv().is_ok() {}
        let sent = Instant::now();
        let res = http
            .post(format!("{base}/api/change_release_job"))
            .header("host", &host)
            .header("origin", base)
            .header("content-type", "application/json")
            .header("accept", "application/json")
            .body(
                serde_json::json!({
                    "project": NS, "name": JOB, "generation": job["generation"],
                    "change": {"NewPercent": target}
                })
                .to_string(),
            )
            .send()
            .await?;
        anyhow::ensure!(
            res.status().is_success(),
            "change refused: {}",
            res.text().await?
        );
        let mut have = vec![false; n];
        let mut left = n;
        let deadline = sent + Duration::from_secs(10);
        while left > 0 {
            let Ok(Some((id, percent, at))) =
                tokio::time::timeout_at(deadline.into(), seen_rx.recv()).await
            else {
                anyhow::bail!("round {round}: {left} clients did not get the change within 10 s");
            };
            if percent == target && !have[id] {
                have[id] = true;
                left -= 1;
                latencies.push(at - sent);
            }
        }
    }
    println!("done");
    latencies.sort();
    println!(
        "time until every client has the new weight ({} clients x {rounds} changes): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        n,
        percentile(&latencies, 0.5).as_secs_f64() * 1000.0,
        percentile(&latencies, 0.99).as_secs_f64() * 1000.0,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1000.0
    );
    Ok(())
}
