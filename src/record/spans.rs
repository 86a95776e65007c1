//! What the span exporter did, counted where the recorders and `/metrics`
//! can read it: spans sent, and spans dropped (the exporter's queue was
//! full, or the collector could not take a batch).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::journal::SpanTally;

/// The exporter's counts, shared with every recorder attached beside it.
#[derive(Debug, Default)]
pub struct SpanCounts {
    pub sent: AtomicU64,
    /// Shared with the exporter's [`Sink`](super::Sink), which counts what
    /// did not fit its queue here.
    pub dropped: Arc<AtomicU64>,
}

impl SpanCounts {
    pub fn tally(&self) -> SpanTally {
        SpanTally { sent: self.sent.load(Ordering::Relaxed), dropped: self.dropped.load(Ordering::Relaxed) }
    }
}

/// The counts a recorder reports: the exporter's, less what they were when
/// the recorder learned of it.
#[derive(Debug)]
pub struct Since {
    pub counts: Arc<SpanCounts>,
    pub base: SpanTally,
}

impl Since {
    pub fn new(counts: Arc<SpanCounts>) -> Self {
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
