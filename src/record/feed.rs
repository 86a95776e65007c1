//! The last requests of each listener, for the control page's live feed:
//! what each one got, the fault it met, and the response kept as a sample
//! when there is one (a failure at the observer).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::SystemTime;

use serde::Serialize;

use super::journal::{Class, Origin};

/// Requests kept per listener.
pub const KEPT: usize = 200;

/// One request as the feed shows it.
#[derive(Debug, Clone, Serialize)]
pub struct FeedItem {
    /// Counts up across listeners: the page asks for what came after the last it saw.
    pub id: u64,
    /// When it ended, in milliseconds since the Unix epoch.
    pub at_ms: u64,
    pub listener: String,
    pub method: String,
    pub path: String,
    pub route: String,
    pub status: Option<u16>,
    pub latency_ms: f64,
    pub class: Option<Class>,
    pub origin: Option<Origin>,
    pub error: Option<String>,
    pub fault: Option<String>,
    pub sample: Option<Sample>,
}

/// A response as the user saw it (truncated, secrets redacted).
#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    pub headers: Vec<(String, String)>,
    pub body: String,
}

#[derive(Default)]
struct State {
    next: u64,
    started: Option<SystemTime>,
    by_listener: BTreeMap<String, VecDeque<FeedItem>>,
}

/// The feed: written by the recorder's writer thread, read by the admin API.
#[derive(Default)]
pub struct Feed {
    state: Mutex<State>,
}

impl Feed {
    /// Keeps `item` (its `id` is given here), dropping its listener's oldest past [`KEPT`].
    pub fn push(&self, mut item: FeedItem) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.next += 1;
        item.id = s.next;
        let list = s.by_listener.entry(item.listener.clone()).or_default();
        if list.len() >= KEPT {
            list.pop_front();
        }
        list.push_back(item);
    }

    /// The items after `after` (of one listener, or all), oldest first, at most `limit` of the newest.
    pub fn since(&self, listener: Option<&str>, after: u64, limit: usize) -> Vec<FeedItem> {
        let s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let mut items: Vec<FeedItem> = s
            .by_listener
            .iter()
            .filter(|(name, _)| listener.is_none_or(|l| l == name.as_str()))
            .flat_map(|(_, list)| list.iter().filter(|i| i.id > after).cloned())
            .collect();
        items.sort_by_key(|i| i.id);
        let skip = items.len().saturating_sub(limit);
        items.split_off(skip)
    }

    /// Where the recording's seconds count from.
    pub fn set_started(&self, at: SystemTime) {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).started = Some(at);
    }

    /// The recording's second now, if it has started: what the live tallies are keyed by.
    pub fn second_now(&self) -> Option<u64> {
        let started = self.state.lock().unwrap_or_else(|p| p.into_inner()).started?;
        Some(SystemTime::now().duration_since(started).map_or(0, |d| d.as_secs()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(listener: &str) -> FeedItem {
        FeedItem {
            id: 0,
            at_ms: 0,
            listener: listener.into(),
            method: "GET".into(),
            path: "/".into(),
            route: "GET /".into(),
            status: Some(200),
            latency_ms: 1.0,
            class: None,
            origin: None,
            error: None,
            fault: None,
            sample: None,
        }
    }

    #[test]
    fn the_feed_keeps_the_last_requests_of_each_listener_in_order() {
        let feed = Feed::default();
        for i in 0..(KEPT + 10) {
            feed.push(item(if i % 2 == 0 { "a" } else { "b" }));
        }
        let all = feed.since(None, 0, usize::MAX);
        assert_eq!(all.len(), 2 * KEPT.min((KEPT + 10) / 2));
        assert!(all.windows(2).all(|w| w[0].id < w[1].id));
        let a = feed.since(Some("a"), 0, 5);
        assert_eq!(a.len(), 5);
        assert_eq!(a.last().map(|i| i.id), Some((KEPT + 9) as u64));
        assert!(feed.since(None, (KEPT + 10) as u64, 10).is_empty());
    }
}
