//! One request in flight per key: callers asking for the same thing while it is being
//! fetched wait for that fetch and share its result, instead of each asking the backend.
//! Opening a 50,000-span trace costs Jaeger (and the console) tens of MB; two people
//! opening the same link, or one page asking twice, should cost that once.
//!
//! Nothing outlives the flight: when it lands, the next call starts a new one. A caller
//! that gives up (its request was dropped) does not strand the others: one of the
//! waiters takes the fetch over (tokio's `OnceCell` semantics), and a flight nobody waits
//! for any more is forgotten.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

/// The flights in the air, by key.
pub struct SingleFlight<K, V> {
    flights: Mutex<HashMap<K, Arc<OnceCell<V>>>>,
}

impl<K, V> Default for SingleFlight<K, V> {
    fn default() -> Self {
        SingleFlight {
            flights: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Eq + Hash + Clone, V: Clone> SingleFlight<K, V> {
    pub fn new() -> Self {
        Self::default()
    }

    /// `fetch()`'s result, shared with every concurrent call for the same `key`; only one
    /// of them runs its `fetch`.
    pub async fn run<F, Fut>(&self, key: K, fetch: F) -> V
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = V>,
    {
        // Each caller holds exactly one handle, taken and given back under the lock.
        let landing = {
            let mut flights = self.lock();
            Landing {
                flight: Some(flights.entry(key.clone()).or_default().clone()),
                owner: self,
                key,
            }
        };
        let flight = landing.flight.as_ref().expect("held until the landing");
        let value = flight.get_or_init(fetch).await.clone();
        drop(landing);
        value
    }

    /// How many flights are in the air (for tests and diagnostics).
    pub fn in_flight(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, Arc<OnceCell<V>>>> {
        self.flights.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Ends a caller's part in a flight, on return or when its future is dropped: the flight
/// leaves the map once it has landed, or when nobody else waits for it.
struct Landing<'a, K: Eq + Hash, V> {
    owner: &'a SingleFlight<K, V>,
    key: K,
    flight: Option<Arc<OnceCell<V>>>,
}

impl<K: Eq + Hash, V> Drop for Landing<'_, K, V> {
    fn drop(&mut self) {
        let mut flights = self.owner.flights.lock().unwrap_or_else(|e| e.into_inner());
        let Some(mine) = self.flight.take() else {
            return;
        };
        // Every clone and drop of a flight's handles happens under this lock, so the
        // count is exact: 2 means the map's handle and this one.
        let current = flights
            .get(&self.key)
            .is_some_and(|f| Arc::ptr_eq(f, &mine));
        if current && (mine.initialized() || Arc::strong_count(&mine) == 2) {
            flights.remove(&self.key);
        }
        drop(mine);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test]
    async fn concurrent_calls_share_one_fetch_and_nothing_is_kept() {
        let flights: SingleFlight<String, u32> = SingleFlight::new();
        let calls = AtomicUsize::new(0);
        let fetch = || async {
            calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(50)).await;
            7
        };
        let all = futures::future::join_all((0..8).map(|_| flights.run("a".to_string(), fetch)));
        assert_eq!(all.await, vec![7; 8]);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(flights.in_flight(), 0);
        // The next call is a new flight.
        assert_eq!(flights.run("a".to_string(), fetch).await, 7);
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_caller_that_gives_up_leaves_the_flight_to_the_others() {
        let flights: Arc<SingleFlight<&'static str, u32>> = Arc::new(SingleFlight::new());
        let calls = Arc::new(AtomicUsize::new(0));
        let fetch = {
            let calls = calls.clone();
            move || {
                let calls = calls.clone();
                async move {
                    calls.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    3
                }
            }
        };
        let leader = tokio::spawn({
            let (flights, fetch) = (flights.clone(), fetch.clone());
            async move { flights.run("k", fetch).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        let follower = tokio::spawn({
            let (flights, fetch) = (flights.clone(), fetch.clone());
            async move { flights.run("k", fetch).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        leader.abort();
        assert_eq!(follower.await.unwrap(), 3);
        assert_eq!(
            calls.load(Ordering::SeqCst),
            2,
            "the follower fetched again"
        );
        assert_eq!(flights.in_flight(), 0);

        // Abandoned by everyone: forgotten, not stranded.
        let lone = tokio::spawn({
            let (flights, fetch) = (flights.clone(), fetch.clone());
            async move { flights.run("k", fetch).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        lone.abort();
        let _ = lone.await;
        assert_eq!(flights.in_flight(), 0);
    }
}
