//! Requests still in flight at one listener, so that a guardrail sees a
//! stall while it happens: a request that has waited longer than a latency
//! threshold counts as that slow before it ends (or if it never does).
//!
//! A listener keeps one [`InFlight`]; nothing is tracked until a run that
//! needs it [`InFlight::watch`]es, so that the data path pays one atomic
//! load per request otherwise. A tracked request holds a [`Ticket`] that
//! takes it off the list when dropped, however the request ends.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;

/// The requests in flight at one listener, while someone watches.
#[derive(Debug, Default)]
pub struct InFlight {
    watchers: AtomicUsize,
    slots: Mutex<Slots>,
}

#[derive(Debug, Default)]
struct Slots {
    /// `"GET /orders/42"` and when it arrived, by slot; `None` when free.
    taken: Vec<Option<(String, Instant)>>,
    free: Vec<usize>,
}

/// One tracked request; dropping it takes the request off the list.
#[derive(Debug)]
pub struct Ticket {
    inflight: Arc<InFlight>,
    slot: usize,
}

/// Keeps tracking on while alive.
#[derive(Debug)]
pub struct Watching(Arc<InFlight>);

impl InFlight {
    pub fn new() -> Arc<InFlight> {
        Arc::default()
    }

    fn lock(&self) -> MutexGuard<'_, Slots> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Tracks requests from now until the returned guard is dropped.
    pub fn watch(self: &Arc<Self>) -> Watching {
        self.watchers.fetch_add(1, Ordering::Relaxed);
        Watching(self.clone())
    }

    /// A ticket for a request `method path` that arrived `at`, if someone
    /// watches; `None` (after one atomic load) otherwise.
    pub fn track(self: &Arc<Self>, method: &str, path: &str, at: Instant) -> Option<Ticket> {
        if self.watchers.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let route = format!("{method} {path}");
        let mut slots = self.lock();
        let slot = match slots.free.pop() {
            Some(slot) => {
                slots.taken[slot] = Some((route, at));
                slot
            }
            None => {
                slots.taken.push(Some((route, at)));
                slots.taken.len() - 1
            }
        };
        Some(Ticket { inflight: self.clone(), slot })
    }

    /// How long each request in flight whose route matches `pattern` has
    /// waited by `now`, counting only those that waited longer than `over`.
    pub fn waited_over(&self, pattern: &str, over: Duration, now: Instant) -> Vec<Duration> {
        let slots = self.lock();
        slots
            .taken
            .iter()
            .flatten()
            .filter_map(|(route, at)| {
                let waited = now.saturating_duration_since(*at);
                (waited > over && matches_route(pattern, route)).then_some(waited)
            })
            .collect()
    }

    /// How many requests are tracked now.
    pub fn len(&self) -> usize {
        let slots = self.lock();
        slots.taken.len() - slots.free.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A route pattern matches a request by its raw path or its template, as
/// the journal's routes are templates.
fn matches_route(pattern: &str, raw: &str) -> bool {
    if super::route::matches(pattern, raw) {
        return true;
    }
    match raw.split_once(' ') {
        Some((method, path)) => super::route::matches(pattern, &format!("{method} {}", super::route::template(path))),
        None => false,
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut slots = self.inflight.lock();
        if let Some(taken) = slots.taken.get_mut(self.slot) {
            *taken = None;
            slots.free.push(self.slot);
        }
    }
}

impl Drop for Watching {
    fn drop(&mut self) {
        self.0.watchers.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_tracked_until_watched_and_tickets_leave_when_dropped() {
        let inflight = InFlight::new();
        let now = Instant::now();
        assert!(inflight.track("GET", "/a", now).is_none(), "unwatched");
        let watching = inflight.watch();
        let a = inflight.track("GET", "/orders/42", now - Duration::from_secs(3)).expect("watched");
        let b = inflight.track("POST", "/checkout", now - Duration::from_millis(200)).expect("watched");
        assert_eq!(inflight.len(), 2);
        assert_eq!(inflight.waited_over("*", Duration::from_secs(1), now), vec![Duration::from_secs(3)]);
        assert_eq!(inflight.waited_over("GET /orders/{id}", Duration::ZERO, now), vec![Duration::from_secs(3)]);
        assert!(inflight.waited_over("POST /checkout", Duration::from_secs(1), now).is_empty());
        drop(a);
        assert_eq!(inflight.len(), 1);
        let c = inflight.track("GET", "/c", now).expect("watched");
        assert_eq!(inflight.len(), 2, "a freed slot is reused");
        drop((b, c));
        assert!(inflight.is_empty());
        drop(watching);
        assert!(inflight.track("GET", "/a", now).is_none(), "unwatched again");
    }
}
