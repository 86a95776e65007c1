//! Spans to any OpenTelemetry collector: one per request (and per TCP
//! connection), exported over OTLP/HTTP (protobuf, `/v1/traces`) in batches
//! from a thread of its own.
//!
//! The exporter is one more consumer of the recorded events: a [`Sink`] on
//! the same [`RecordLayer`](crate::record::RecordLayer) as the recorders,
//! so the data path only offers each entry to a bounded queue and never
//! waits. What does not fit the queue, and every span of a batch the
//! collector did not take, is dropped and counted ([`SpanCounts`]): in
//! `/metrics` and in the report of every run recorded beside it.
//!
//! `span.rs` writes an entry's span, in protobuf (`proto.rs`), straight
//! into the batch's buffer; `client.rs` sends a batch; this file is the
//! thread: it gathers spans and sends a batch when it is full or a second
//! old. After a failed export it backs off (1 s, doubling up
//! to 16 s), dropping and counting spans without making them meanwhile.

mod client;
mod proto;
pub mod span;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tracing::{info, warn};

use crate::config::Telemetry;
use crate::record::spans::SpanCounts;
use crate::record::{Entry, Sink};

/// Entries that may wait for the exporter; past this, spans are dropped.
const QUEUE: usize = 16 * 1024;
/// The most spans in one export, and about the most bytes.
const MAX_BATCH: usize = 1024;
const MAX_BATCH_BYTES: usize = 1 << 20;
/// The longest a span waits for its batch to fill.
const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// How often the thread looks for new entries. It polls, as the journal's
/// writer does, so that offering an entry never wakes a thread: the data
/// path pays no system call for it.
const POLL_EVERY: Duration = Duration::from_millis(20);
/// How often a collector that keeps failing is logged.
const WARN_EVERY: Duration = Duration::from_secs(30);
/// After a failed export, how long spans are dropped without being made
/// or sent (doubling while the collector keeps failing, up to the most):
/// a collector that is down then costs the process next to nothing.
const BACKOFF_FIRST: Duration = Duration::from_secs(1);
const BACKOFF_MOST: Duration = Duration::from_secs(16);

/// A running exporter: the sink to attach, its counts, and its thread.
pub struct Exporter {
    sink: Sink,
    counts: Arc<SpanCounts>,
    /// When set, the thread sends what it has and stops by this deadline.
    stop: Arc<Mutex<Option<Instant>>>,
    stopping: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Exporter {
    /// Starts the exporter's thread for `telemetry`; `listeners` give the
    /// spans their `server.address`.
    pub fn start(telemetry: &Telemetry, listeners: Vec<(String, SocketAddr)>) -> std::io::Result<Exporter> {
        let client = client::Client::new(&telemetry.endpoint, &telemetry.headers).map_err(std::io::Error::other)?;
        let (tx, rx) = mpsc::sync_channel(QUEUE);
        let counts = Arc::new(SpanCounts::default());
        let sink = Sink::spans(tx, counts.clone());
        let stop = Arc::new(Mutex::new(None));
        let stopping = Arc::new(AtomicBool::new(false));
        let batch = Batch {
            rx,
            client,
            counts: counts.clone(),
            known: span::Known::new(listeners),
            envelope: Envelope::new(&telemetry.service_name),
            stop: stop.clone(),
            stopping: stopping.clone(),
            spans: Vec::new(),
            count: 0,
            oldest: None,
            failing: None,
            backoff: None,
        };
        let thread = std::thread::Builder::new().name("brownout-otlp".into()).spawn(move || batch.run())?;
        info!(endpoint = %telemetry.endpoint, service = %telemetry.service_name, "exporting spans over OTLP/HTTP");
        Ok(Exporter { sink, counts, stop, stopping, thread: Some(thread) })
    }

    /// Attach this to the process's [`RecordLayer`](crate::record::RecordLayer).
    pub fn sink(&self) -> Sink {
        self.sink.clone()
    }

    pub fn counts(&self) -> Arc<SpanCounts> {
        self.counts.clone()
    }

    /// Sends what is queued, for at most `within`, then stops; what is
    /// still unsent by then counts as dropped.
    pub fn finish(mut self, within: Duration) {
        self.halt(within);
    }

    fn halt(&mut self, within: Duration) {
        *self.stop.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now() + within);
        self.stopping.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        self.halt(Duration::ZERO);
    }
}

/// What every export carries around its spans, encoded once: the
/// resource (`service.name` and version) and the instrumentation scope.
struct Envelope {
    resource: Vec<u8>,
    scope: Vec<u8>,
}

/// `ExportTraceServiceRequest.resource_spans`, `ResourceSpans.resource`
/// and `.scope_spans`, `ScopeSpans.scope`, `Resource.attributes`,
/// `InstrumentationScope.name` and `.version`.
const RESOURCE_SPANS: u32 = 1;
const RESOURCE: u32 = 1;
const SCOPE_SPANS: u32 = 2;
const SCOPE: u32 = 1;
const RESOURCE_ATTRIBUTES: u32 = 1;
const SCOPE_NAME: u32 = 1;
const SCOPE_VERSION: u32 = 2;

impl Envelope {
    fn new(service_name: &str) -> Self {
        let version = env!("CARGO_PKG_VERSION");
        let mut resource = Vec::new();
        proto::message(&mut resource, RESOURCE, |b| {
            proto::text(b, RESOURCE_ATTRIBUTES, "service.name", service_name);
            proto::text(b, RESOURCE_ATTRIBUTES, "service.version", version);
            proto::text(b, RESOURCE_ATTRIBUTES, "telemetry.sdk.name", "brownout");
            proto::text(b, RESOURCE_ATTRIBUTES, "telemetry.sdk.language", "rust");
        });
        let mut scope = Vec::new();
        proto::message(&mut scope, SCOPE, |b| {
            proto::string(b, SCOPE_NAME, "brownout");
            proto::string(b, SCOPE_VERSION, version);
        });
        Envelope { resource, scope }
    }

    /// An `ExportTraceServiceRequest` of `spans` (`ScopeSpans`' encoded
    /// spans).
    fn request(&self, spans: &[u8]) -> Vec<u8> {
        // The lengths are known before anything is written: the batch is
        // copied once, not moved behind each length as it is found.
        let scope_spans = self.scope.len() + spans.len();
        let resource_spans = self.resource.len() + proto::message_head_len(SCOPE_SPANS, scope_spans) + scope_spans;
        let mut body = Vec::with_capacity(proto::message_head_len(RESOURCE_SPANS, resource_spans) + resource_spans);
        proto::message_head(&mut body, RESOURCE_SPANS, resource_spans);
        body.extend_from_slice(&self.resource);
        proto::message_head(&mut body, SCOPE_SPANS, scope_spans);
        body.extend_from_slice(&self.scope);
        body.extend_from_slice(spans);
        body
    }
}

/// The thread's state: the queue, the spans gathered, the client.
struct Batch {
    rx: Receiver<Arc<Entry>>,
    client: client::Client,
    counts: Arc<SpanCounts>,
    known: span::Known,
    envelope: Envelope,
    stop: Arc<Mutex<Option<Instant>>>,
    stopping: Arc<AtomicBool>,
    /// The batch's spans, encoded, and how many.
    spans: Vec<u8>,
    count: usize,
    /// When the oldest span of the batch came.
    oldest: Option<Instant>,
    /// Since when exports have failed, and when that was last logged.
    failing: Option<(Instant, Instant)>,
    /// While exports fail: until when spans are dropped unmade, and the
    /// next wait.
    backoff: Option<(Instant, Duration)>,
}

impl Batch {
    fn run(mut self) {
        let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(rt) => rt,
            Err(e) => {
                warn!(error = %e, "cannot start the span exporter; spans are dropped");
                return;
            }
        };
        let counts = self.counts.clone();
        runtime.block_on(async move {
            loop {
                let stopping = self.stopping.load(Ordering::Acquire);
                let drained = self.take();
                let asked = drained && self.counts.flush_asked.swap(false, Ordering::AcqRel);
                // While the collector fails, the first spans after a backoff
                // go at once, a small probe, rather than a whole batch made
                // and encoded for nothing.
                let due = asked || self.backoff.is_some() || self.oldest.is_some_and(|t| t.elapsed() >= FLUSH_EVERY);
                if self.full() || (due || stopping) && self.count > 0 {
                    self.export().await;
                    continue;
                }
                if stopping && drained {
                    return;
                }
                if stopping && self.past_deadline() {
                    self.drop_queued();
                    return;
                }
                tokio::time::sleep(POLL_EVERY).await;
            }
        });
        counts.closed.store(true, Ordering::Release);
    }

    /// Moves queued entries into the batch, up to a full one; `true` when
    /// the queue is empty.
    fn take(&mut self) -> bool {
        let dropping = self.backoff.is_some_and(|(until, _)| Instant::now() < until);
        while !self.full() {
            match self.rx.try_recv() {
                Ok(entry) if dropping && crate::record::is_exchange(&entry) => {
                    self.counts.dropped.fetch_add(1, Ordering::Relaxed);
                    self.counts.done.fetch_add(1, Ordering::Release);
                }
                Ok(entry) => {
                    if span::write(&entry, &mut self.known, &mut self.spans) {
                        self.oldest.get_or_insert_with(Instant::now);
                        self.count += 1;
                    } else {
                        self.known.learn(&entry);
                    }
                }
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => return true,
            }
        }
        false
    }

    fn full(&self) -> bool {
        self.count >= MAX_BATCH || self.spans.len() >= MAX_BATCH_BYTES
    }

    fn past_deadline(&self) -> bool {
        self.stop.lock().unwrap_or_else(|p| p.into_inner()).is_some_and(|d| Instant::now() >= d)
    }

    /// Counts as dropped whatever is still queued at the deadline.
    fn drop_queued(&mut self) {
        let mut left = self.count as u64;
        self.spans.clear();
        self.count = 0;
        while let Ok(entry) = self.rx.try_recv() {
            left += u64::from(crate::record::is_exchange(&entry));
        }
        self.counts.dropped.fetch_add(left, Ordering::Relaxed);
        self.counts.done.fetch_add(left, Ordering::Release);
    }

    async fn export(&mut self) {
        let n = std::mem::take(&mut self.count) as u64;
        self.oldest = None;
        if self.stopping.load(Ordering::Acquire) && self.past_deadline() {
            self.spans.clear();
            self.counts.dropped.fetch_add(n, Ordering::Relaxed);
            self.counts.done.fetch_add(n, Ordering::Release);
            return;
        }
        let body = Bytes::from(self.envelope.request(&self.spans));
        self.spans.clear();
        let posted = self.client.post(body).await;
        // Counted before `done`, so that a flush that sees `done` sees these.
        let counted = if posted.is_ok() { &self.counts.sent } else { &self.counts.dropped };
        counted.fetch_add(n, Ordering::Relaxed);
        self.counts.done.fetch_add(n, Ordering::Release);
        self.backoff = match (&posted, self.backoff) {
            (Ok(()), _) => None,
            (Err(_), None) => Some((Instant::now() + BACKOFF_FIRST, BACKOFF_FIRST * 2)),
            (Err(_), Some((_, wait))) => Some((Instant::now() + wait, (wait * 2).min(BACKOFF_MOST))),
        };
        match posted {
            Ok(()) => {
                if self.failing.take().is_some() {
                    info!("the collector takes spans again");
                }
            }
            Err(why) => {
                let now = Instant::now();
                let log = match self.failing {
                    None => true,
                    Some((_, logged)) => now.duration_since(logged) >= WARN_EVERY,
                };
                let since = self.failing.map_or(now, |(since, _)| since);
                if log {
                    warn!(
                        dropped = self.counts.dropped.load(Ordering::Relaxed),
                        "span export failed, {n} spans dropped: {why}"
                    );
                    self.failing = Some((since, now));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::fields;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    use prost::Message;

    #[test]
    fn an_export_wraps_its_spans_in_the_resource_and_the_scope() {
        let envelope = Envelope::new("checkout-staging");
        let mut known = span::Known::default();
        // A few spans, and enough for the lengths to take three bytes.
        for n in [3, 300] {
            let mut spans = Vec::new();
            for i in 0..n {
                let e = Entry {
                    kind: fields::TYPE_REQUEST.into(),
                    target: "payments".into(),
                    path: Some(format!("/p{i}")),
                    status: Some(200),
                    ..Entry::default()
                };
                assert!(span::write(&e, &mut known, &mut spans));
            }
            let request = ExportTraceServiceRequest::decode(&envelope.request(&spans)[..]).expect("prost reads it");
            let [resource_spans] = &request.resource_spans[..] else { panic!("one resource") };
            let service = resource_spans.resource.as_ref().expect("a resource").attributes[0].clone();
            assert_eq!(service.key, "service.name");
            assert_eq!(service.value.and_then(|v| v.value), Some(Value::StringValue("checkout-staging".into())));
            let [scope_spans] = &resource_spans.scope_spans[..] else { panic!("one scope") };
            assert_eq!(scope_spans.scope.as_ref().map(|s| s.name.as_str()), Some("brownout"));
            let names: Vec<_> = scope_spans.spans.iter().map(|s| s.name.clone()).collect();
            assert_eq!(names, (0..n).map(|i| format!("_OTHER /p{i}")).collect::<Vec<_>>());
        }
    }
}
