//! Backing off a watch that keeps failing.
//!
//! kube-runtime's `default_backoff` resets on every `Ok` item, and its watcher yields
//! `Event::Init` (an `Ok`) before each relist. Against an API server that refuses
//! connections it therefore retries every 0.8–1.6 s forever: a request a second per
//! watcher, from every console replica, while the API server may be struggling.
//! [`Patience`] doubles the pause on each failure in a row, up to 30 s, and starts over
//! only when the watch has delivered something (an object, or the end of its initial list).

use std::time::Duration;

use kube::runtime::watcher::Event;
use tokio::sync::watch;

/// The pause after the first failure.
pub const FIRST_PAUSE: Duration = Duration::from_millis(800);
/// The longest pause between two attempts.
pub const LONGEST_PAUSE: Duration = Duration::from_secs(30);

#[derive(Debug, Default)]
pub struct Patience {
    failures: u32,
}

impl Patience {
    /// After a failure: how long to wait before the next attempt.
    pub fn failed(&mut self) -> Duration {
        let pause = FIRST_PAUSE
            .saturating_mul(1 << self.failures.min(16))
            .min(LONGEST_PAUSE);
        self.failures = self.failures.saturating_add(1);
        pause
    }

    /// After an item: anything but the `Init` that starts each attempt means the watch works.
    pub fn saw<K>(&mut self, event: &Event<K>) {
        if !matches!(event, Event::Init) {
            self.failures = 0;
        }
    }

    /// Waits out the pause after a failure; `false` when `stop` turned true meanwhile.
    pub async fn wait(&mut self, stop: &mut watch::Receiver<bool>) -> bool {
        let pause = self.failed();
        tokio::select! {
            _ = stop.wait_for(|s| *s) => false,
            _ = tokio::time::sleep(pause) => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(d: Duration) -> f64 {
        d.as_secs_f64()
    }

    #[test]
    fn pauses_double_up_to_thirty_seconds() {
        let mut p = Patience::default();
        let pauses: Vec<f64> = (0..8).map(|_| secs(p.failed())).collect();
        assert_eq!(pauses, [0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 30.0, 30.0]);
        for _ in 0..100 {
            p.failed();
        }
        assert_eq!(p.failed(), LONGEST_PAUSE, "no overflow after many failures");
    }

    #[test]
    fn only_a_working_watch_starts_over() {
        let mut p = Patience::default();
        p.failed();
        p.failed();
        // Each attempt begins with Init: that is no sign the API server answered.
        p.saw::<()>(&Event::Init);
        assert_eq!(secs(p.failed()), 3.2);
        // Objects, or the end of the initial list, are.
        p.saw::<()>(&Event::InitDone);
        assert_eq!(secs(p.failed()), 0.8);
        p.failed();
        p.saw(&Event::Apply(()));
        assert_eq!(secs(p.failed()), 0.8);
    }

    #[tokio::test]
    async fn a_stop_ends_the_wait() {
        let (tx, mut rx) = watch::channel(false);
        let mut p = Patience::default();
        assert!(p.wait(&mut rx).await, "the pause passes");
        tx.send_replace(true);
        assert!(!p.wait(&mut rx).await, "stopped");
    }
}
