//! What the span exporter did, counted where the recorders and `/metrics`
//! can read it: spans sent, and spans dropped (the exporter's queue was
//! full, or the collector could not take a batch).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::journal::SpanTally;

/// The exporter's counts, shared with every recorder attached beside it.
#[derive(Debug, Default)]
pub struct SpanCounts {
    /// Spans the collector took.
    pub sent: AtomicU64,
    /// Spans that did not fit the exporter's queue, or whose batch the
    /// collector did not take.
    pub dropped: AtomicU64,
    /// Spans that went into the queue, and those the exporter is done with
    /// (sent or dropped): equal once it has nothing left to send.
    pub queued: AtomicU64,
    pub done: AtomicU64,
    /// A recorder at its end asks for what is queued to be sent now.
    pub flush_asked: AtomicBool,
    /// The exporter has stopped: nothing more will be sent.
    pub closed: AtomicBool,
}

impl SpanCounts {
    pub fn tally(&self) -> SpanTally {
        SpanTally { sent: self.sent.load(Ordering::Relaxed), dropped: self.dropped.load(Ordering::Relaxed) }
    }

    /// Asks the exporter to send what it holds and waits, at most `within`,
    /// until it has; so that a run's report counts its own spans.
    pub fn flush(&self, within: Duration) {
        self.flush_asked.store(true, Ordering::Release);
        let deadline = Instant::now() + within;
        while self.done.load(Ordering::Acquire) < self.queued.load(Ordering::Acquire)
            && !self.closed.load(Ordering::Acquire)
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// The counts a recorder reports: the exporter's, less what they were when
/// the recorder learned of it.
#[derive(Debug)]
pub struct Since {
    pub counts: std::sync::Arc<SpanCounts>,
    pub base: SpanTally,
}

impl Since {
    pub fn new(counts: std::sync::Arc<SpanCounts>) -> Self {
        let base = counts.tally();
        Since { counts, base }
    }

    pub fn tally(&self) -> SpanTally {
        let now = self.counts.tally();
        SpanTally {
            sent: now.sent.saturating_sub(self.base.sent),
            dropped: now.dropped.saturating_sub(self.base.dropped),
        }
    }
}
