//! The tracing layer that turns recorded events into journal entries. It
//! copies the fields and hands them to the writer thread without waiting:
//! when the queue is full, the entry is counted as dropped.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::Arc;
use std::time::SystemTime;

use arc_swap::ArcSwap;

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::Layer;

use super::fields;
use super::journal::{Class, Origin, Outcome};
use super::live::Live;
use super::spans::{Since, SpanCounts};

/// The fields of one recorded event.
#[derive(Debug, Default, Clone)]
pub struct Entry {
    /// When the event was emitted, since the Unix epoch.
    pub at: Option<SystemTime>,
    pub kind: String,
    pub target: String,
    pub method: Option<String>,
    pub path: Option<String>,
    pub status: Option<u16>,
    pub grpc_status: Option<u16>,
    pub latency_us: Option<u64>,
    pub ttfb_us: Option<u64>,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Unknown words are left out: a failure without an origin counts as the upstream's.
    pub origin: Option<Origin>,
    pub error: Option<String>,
    pub fault: Option<String>,
    pub fault_kind: Option<String>,
    pub configured: Option<String>,
    pub count: u64,
    /// How many requests or connections a fault was eligible for (`fault_off`).
    pub eligible: Option<u64>,
    /// A fault whose effect cannot be counted (`fault_on`).
    pub uncounted: bool,
    pub class: Option<Class>,
    pub body: Option<String>,
    pub headers: Option<String>,
    pub phase: Option<String>,
    pub guardrail: Option<String>,
    pub value: Option<String>,
    /// The recorder's own stop entry: how the run ended.
    pub outcome: Option<Outcome>,
    /// brownout's span for the exchange (see [`fields::TRACE_ID`]).
    pub trace_id: Option<u128>,
    pub span_id: Option<u64>,
    pub parent_span_id: Option<u64>,
    /// The faults applied as they happened (see [`fields::FAULT_EVENTS`]).
    pub fault_events: Option<String>,
}

impl Visit for Entry {
    fn record_str(&mut self, field: &Field, value: &str) {
        let v = Some(value.to_string());
        match field.name() {
            fields::RECORD_TYPE => self.kind = value.to_string(),
            fields::TARGET => self.target = value.to_string(),
            fields::HTTP_METHOD => self.method = v,
            fields::HTTP_PATH => self.path = v,
            fields::ORIGIN => self.origin = Origin::parse(value),
            fields::ERROR_KIND => self.error = v,
            fields::FAULT_NAME => self.fault = v,
            fields::FAULT_KIND => self.fault_kind = v,
            fields::FAULT_CONFIGURED => self.configured = v,
            fields::GRACEFUL => self.class = Class::parse(value),
            fields::BODY => self.body = v,
            fields::HEADERS => self.headers = v,
            fields::PHASE_NAME => self.phase = v,
            fields::GUARDRAIL => self.guardrail = v,
            fields::GUARDRAIL_VALUE => self.value = v,
            fields::FAULT_EVENTS => self.fault_events = v,
            _ => {}
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        match field.name() {
            fields::HTTP_STATUS => self.status = u16::try_from(value).ok(),
            fields::GRPC_STATUS => self.grpc_status = u16::try_from(value).ok(),
            fields::LATENCY_US => self.latency_us = Some(value),
            fields::TTFB_US => self.ttfb_us = Some(value),
            fields::BYTES_IN => self.bytes_in = value,
            fields::BYTES_OUT => self.bytes_out = value,
            fields::FAULT_COUNT | fields::PHASE_FAULTS => self.count = value,
            fields::FAULT_ELIGIBLE => self.eligible = Some(value),
            fields::SPAN_ID => self.span_id = Some(value),
            fields::PARENT_SPAN_ID => self.parent_span_id = Some(value),
            _ => {}
        }
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        if field.name() == fields::TRACE_ID {
            self.trace_id = Some(value);
        }
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        if field.name() == fields::FAULT_UNCOUNTED {
            self.uncounted = value;
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        if let Ok(v) = u64::try_from(value) {
            self.record_u64(field, v);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        // Values recorded with `%` arrive here as Display wrapped in Debug.
        self.record_str(field, &format!("{value:?}"));
    }
}

/// Where one consumer's entries go: its queue and its dropped count. A
/// consumer is a recorder (its journal and live aggregates) or the span
/// exporter.
#[derive(Clone)]
pub struct Sink {
    id: u64,
    tx: SyncSender<Arc<Entry>>,
    dropped: Arc<AtomicU64>,
    role: Role,
}

#[derive(Clone)]
enum Role {
    Journal(Arc<Live>),
    Spans(Arc<SpanCounts>),
}

impl Sink {
    pub(super) fn new(tx: SyncSender<Arc<Entry>>, live: Arc<Live>) -> Self {
        let dropped = live.dropped.clone();
        Sink { id: next_id(), tx, dropped, role: Role::Journal(live) }
    }

    /// The span exporter's sink: what does not fit its queue counts as a
    /// dropped span, and every recorder attached beside it reports `counts`.
    pub fn spans(tx: SyncSender<Arc<Entry>>, counts: Arc<SpanCounts>) -> Self {
        SPANS_ATTACHED.fetch_add(1, Ordering::Relaxed);
        Sink { id: next_id(), tx, dropped: Arc::default(), role: Role::Spans(counts) }
    }

    fn offer(&self, entry: Arc<Entry>) {
        let spans = match &self.role {
            Role::Spans(counts) if is_exchange(&entry) => Some(counts),
            _ => None,
        };
        match self.tx.try_send(entry) {
            Ok(()) => {
                if let Some(counts) = spans {
                    counts.queued.fetch_add(1, Ordering::Relaxed);
                }
            }
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => match spans {
                Some(counts) => {
                    counts.dropped.fetch_add(1, Ordering::Relaxed);
                }
                None => {
                    self.dropped.fetch_add(1, Ordering::Relaxed);
                }
            },
        }
    }
}

/// A request or connection: what becomes a span.
pub(crate) fn is_exchange(e: &Entry) -> bool {
    e.kind == fields::TYPE_REQUEST || e.kind == fields::TYPE_CONNECTION
}

fn next_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Tells every recorder among `sinks` of the span exporter among them.
fn link(sinks: &[Sink]) {
    let Some(counts) = sinks.iter().find_map(|s| match &s.role {
        Role::Spans(c) => Some(c),
        Role::Journal(_) => None,
    }) else {
        return;
    };
    for s in sinks {
        if let Role::Journal(live) = &s.role {
            let _ = live.spans.get_or_init(|| Since::new(counts.clone()));
        }
    }
}

/// The layer: relays each recorded event to every attached recorder. A
/// long-running proxy installs one at startup and attaches a recorder per
/// run as runs start and end. Cheap to clone; clones share the recorders.
#[derive(Clone, Default)]
pub struct RecordLayer {
    sinks: Arc<ArcSwap<Vec<Sink>>>,
}

impl RecordLayer {
    /// A layer with no recorder attached yet.
    pub fn new() -> Self {
        RecordLayer::default()
    }

    /// From now on, `sink` gets every recorded event too.
    pub fn attach(&self, sink: Sink) {
        ATTACHED.fetch_add(1, Ordering::Relaxed);
        self.sinks.rcu(|sinks| {
            let mut next = Vec::clone(sinks);
            next.push(sink.clone());
            next
        });
        link(&self.sinks.load());
    }

    /// Stops sending to `sink`.
    pub fn detach(&self, sink: &Sink) {
        let before = self.sinks.rcu(|sinks| sinks.iter().filter(|s| s.id != sink.id).cloned().collect::<Vec<_>>());
        if before.iter().any(|s| s.id == sink.id) {
            ATTACHED.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// Sinks attached to any layer of the process, so that the proxy can skip
/// building records nobody gets. A layer dropped with sinks attached leaves
/// this high, which only means records are built for nothing.
static ATTACHED: AtomicU64 = AtomicU64::new(0);

/// Span exporters made in the process: while there is one, the data path
/// keeps what its spans' events need. One that stops leaves this high,
/// which only means a little is kept for nothing.
static SPANS_ATTACHED: AtomicU64 = AtomicU64::new(0);

/// True when a span exporter may be listening.
pub fn spans_attached() -> bool {
    SPANS_ATTACHED.load(Ordering::Relaxed) > 0
}

/// True when some layer has a sink attached.
pub fn any_attached() -> bool {
    ATTACHED.load(Ordering::Relaxed) > 0
}

impl<S: Subscriber> Layer<S> for RecordLayer {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        if event.metadata().target() != fields::RECORD {
            return;
        }
        let sinks = self.sinks.load();
        let Some((last, others)) = sinks.split_last() else {
            return;
        };
        let mut entry = Entry { at: Some(SystemTime::now()), ..Entry::default() };
        event.record(&mut entry);
        // One entry shared by every recorder: each queue holds a pointer.
        let entry = Arc::new(entry);
        for sink in others {
            sink.offer(entry.clone());
        }
        last.offer(entry);
    }
}
