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
//! `span.rs` turns an entry into a span, `client.rs` sends a batch; this
//! file is the thread: it gathers spans and sends a batch when it is full
//! or a second old. After a failed export it backs off (1 s, doubling up
//! to 16 s), dropping and counting spans without making them meanwhile.

mod client;
pub mod span;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use tracing::{info, warn};

use crate::config::Telemetry;
use crate::record::spans::SpanCounts;
use crate::record::{Entry, Sink};

/// Entries that may wait for the exporter; past this, spans are dropped.
const QUEUE: usize = 16 * 1024;
/// The most spans in one export.
const MAX_BATCH: usize = 1024;
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
            resource: resource(&telemetry.service_name),
            stop: stop.clone(),
            stopping: stopping.clone(),
            spans: Vec::new(),
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

/// The `service.name` (and version) every span is exported under.
fn resource(service_name: &str) -> Resource {
    Resource {
        attributes: vec![
            span::text("service.name", service_name),
            span::text("service.version", env!("CARGO_PKG_VERSION")),
            span::text("telemetry.sdk.name", "brownout"),
            span::text("telemetry.sdk.language", "rust"),
        ],
        ..Resource::default()
    }
}

/// The thread's state: the queue, the spans gathered, the client.
struct Batch {
    rx: Receiver<Entry>,
    client: client::Client,
    counts: Arc<SpanCounts>,
    known: span::Known,
    resource: Resource,
    stop: Arc<Mutex<Option<Instant>>>,
    stopping: Arc<AtomicBool>,
    spans: Vec<Span>,
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
                if self.spans.len() >= MAX_BATCH || (due || stopping) && !self.spans.is_empty() {
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
        while self.spans.len() < MAX_BATCH {
            match self.rx.try_recv() {
                Ok(entry) if dropping && crate::record::is_exchange(&entry) => {
                    self.counts.dropped.fetch_add(1, Ordering::Relaxed);
                    self.counts.done.fetch_add(1, Ordering::Release);
                }
                Ok(entry) => match span::of(&entry, &self.known) {
                    Some(s) => {
                        self.oldest.get_or_insert_with(Instant::now);
                        self.spans.push(s);
                    }
                    None => self.known.learn(&entry),
                },
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => return true,
            }
        }
        false
    }

    fn past_deadline(&self) -> bool {
        self.stop.lock().unwrap_or_else(|p| p.into_inner()).is_some_and(|d| Instant::now() >= d)
    }

    /// Counts as dropped whatever is still queued at the deadline.
    fn drop_queued(&mut self) {
        let mut left = self.spans.len() as u64;
        self.spans.clear();
        while let Ok(entry) = self.rx.try_recv() {
            left += u64::from(crate::record::is_exchange(&entry));
        }
        self.counts.dropped.fetch_add(left, Ordering::Relaxed);
        self.counts.done.fetch_add(left, Ordering::Release);
    }

    async fn export(&mut self) {
        let spans = std::mem::take(&mut self.spans);
        self.oldest = None;
        let n = spans.len() as u64;
        if self.stopping.load(Ordering::Acquire) && self.past_deadline() {
            self.counts.dropped.fetch_add(n, Ordering::Relaxed);
            self.counts.done.fetch_add(n, Ordering::Release);
            return;
        }
        let request = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(self.resource.clone()),
                scope_spans: vec![ScopeSpans {
                    scope: Some(InstrumentationScope {
                        name: "brownout".into(),
                        version: env!("CARGO_PKG_VERSION").into(),
                        ..InstrumentationScope::default()
                    }),
                    spans,
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            }],
        };
        let body = Bytes::from(request.encode_to_vec());
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
