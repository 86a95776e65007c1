//! Sliding windows for guardrails: exactly the requests of one listener and
//! route pattern that ended within the last span, kept up to date by the
//! recorder's writer as requests end, with a latency histogram that can
//! forget as well as count.

use std::collections::VecDeque;
use std::time::{Duration, SystemTime};

use super::journal::Class;

/// Latency buckets 1% apart on a log scale, from 1 µs to about 10 minutes.
const BUCKETS: usize = 2100;
const GROWTH: f64 = 1.01;

/// A latency histogram that can take a value back out.
#[derive(Debug, Clone)]
pub struct Latencies {
    counts: Vec<u32>,
    total: u64,
}

impl Default for Latencies {
    fn default() -> Self {
        Latencies { counts: vec![0; BUCKETS], total: 0 }
    }
}

fn bucket(micros: u64) -> usize {
    let v = micros.max(1) as f64;
    ((v.ln() / GROWTH.ln()).ceil() as usize).min(BUCKETS - 1)
}

/// The largest latency a bucket holds, in microseconds.
fn upper(bucket: usize) -> f64 {
    GROWTH.powi(bucket as i32)
}

impl Latencies {
    pub fn add(&mut self, micros: u64) {
        self.counts[bucket(micros)] += 1;
        self.total += 1;
    }

    fn remove(&mut self, micros: u64) {
        let b = bucket(micros);
        self.counts[b] = self.counts[b].saturating_sub(1);
        self.total = self.total.saturating_sub(1);
    }

    pub fn len(&self) -> u64 {
        self.total
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// The latency at quantile `q` (0..=1) in milliseconds, within 1% above
    /// the true value; `None` when empty.
    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
        if self.total == 0 {
            return None;
        }
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0u64;
        for (b, &n) in self.counts.iter().enumerate() {
            seen += u64::from(n);
            if seen >= rank {
                return Some(upper(b) / 1000.0);
            }
        }
        None
    }
}

/// One request as a window keeps it.
#[derive(Debug, Clone, Copy)]
struct Ended {
    at: SystemTime,
    latency_us: u64,
    failed: bool,
    class: Option<Class>,
}

/// What a window holds at one moment.
#[derive(Debug, Clone, Default)]
pub struct WindowFigures {
    pub requests: u64,
    pub failed: u64,
    pub graceful: u64,
    pub ungraceful: u64,
    pub latency: Latencies,
}

/// The requests of `listener` whose route matches `pattern` that ended in
/// the last `span`.
#[derive(Debug, Clone)]
pub struct Window {
    pub listener: String,
    pub pattern: String,
    pub span: Duration,
    ended: VecDeque<Ended>,
    figures: WindowFigures,
}

impl Window {
    pub fn new(listener: &str, pattern: &str, span: Duration) -> Window {
        Window {
            listener: listener.to_string(),
            pattern: pattern.to_string(),
            span,
            ended: VecDeque::new(),
            figures: WindowFigures::default(),
        }
    }

    /// True when requests of `listener` on `route` belong in this window.
    pub fn takes(&self, listener: &str, route: &str) -> bool {
        self.listener == listener && super::route::matches(&self.pattern, route)
    }

    /// Counts a request that ended `at`.
    pub fn add(&mut self, at: SystemTime, latency_us: u64, failed: bool, class: Option<Class>) {
        let f = &mut self.figures;
        f.requests += 1;
        f.failed += u64::from(failed);
        f.graceful += u64::from(class == Some(Class::Graceful));
        f.ungraceful += u64::from(class == Some(Class::Ungraceful));
        f.latency.add(latency_us);
        self.ended.push_back(Ended { at, latency_us, failed, class });
    }

    /// Forgets the requests that ended before `now - span`.
    pub fn expire(&mut self, now: SystemTime) {
        let Some(since) = now.checked_sub(self.span) else { return };
        while self.ended.front().is_some_and(|e| e.at < since) {
            let Some(e) = self.ended.pop_front() else { break };
            let f = &mut self.figures;
            f.requests -= 1;
            f.failed -= u64::from(e.failed);
            f.graceful -= u64::from(e.class == Some(Class::Graceful));
            f.ungraceful -= u64::from(e.class == Some(Class::Ungraceful));
            f.latency.remove(e.latency_us);
        }
    }

    pub fn figures(&self) -> &WindowFigures {
        &self.figures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_within_a_percent_above_the_truth() {
        let mut l = Latencies::default();
        for ms in 1..=1000u64 {
            l.add(ms * 1000);
        }
        let p99 = l.quantile_ms(0.99).expect("values");
        assert!((990.0..=990.0 * 1.011).contains(&p99), "{p99}");
        let p50 = l.quantile_ms(0.50).expect("values");
        assert!((500.0..=500.0 * 1.011).contains(&p50), "{p50}");
        assert_eq!(Latencies::default().quantile_ms(0.5), None);
    }

    #[test]
    fn a_window_forgets_exactly_what_ended_before_its_span() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let mut w = Window::new("observer", "POST /checkout", Duration::from_millis(1500));
        assert!(w.takes("observer", "POST /checkout"));
        assert!(!w.takes("payments", "POST /checkout"));
        assert!(!w.takes("observer", "GET /"));
        w.add(t0, 3_000_000, true, Some(Class::Ungraceful));
        w.add(t0 + Duration::from_millis(1000), 1_000, false, Some(Class::Ok));
        w.add(t0 + Duration::from_millis(1400), 2_000, true, Some(Class::Graceful));
        w.expire(t0 + Duration::from_millis(1500));
        assert_eq!(w.figures().requests, 3, "nothing is older than 1.5 s yet");
        w.expire(t0 + Duration::from_millis(1501));
        let f = w.figures();
        assert_eq!((f.requests, f.failed, f.graceful, f.ungraceful), (2, 1, 1, 0));
        assert!(f.latency.quantile_ms(1.0).expect("values") < 2.1, "the 3 s request is forgotten");
        w.expire(t0 + Duration::from_secs(10));
        assert_eq!(w.figures().requests, 0);
        assert!(w.figures().latency.is_empty());
    }
}
