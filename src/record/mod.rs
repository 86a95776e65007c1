//! Recording: the data path emits tracing events with the stable field
//! names of [`fields`]; [`RecordLayer`] hands them to a writer thread that
//! appends them to the journal (JSON lines, flushed at least twice a
//! second) and keeps the [`Live`] aggregates.
//!
//! The data path never waits on the recorder: the layer only copies the
//! fields and tries to queue them; when the queue is full the line is
//! counted as dropped and the report says so.
//!
//! `fields.rs` names the tracing fields, `journal.rs` the journal's lines and
//! words, `route.rs` route templates and patterns, `standards.rs` what a
//! run inherited of the standards (its routes' tiers and interaction
//! classes), `layer.rs` the tracing layer, this file the writer, `live.rs`
//! the live aggregates (and `feed.rs` the last requests of each listener, and
//! `window.rs` the guardrails' sliding windows), `inflight.rs` the requests
//! still in flight, `classify.rs` graceful classification, and `redact.rs`
//! what a kept response must not show, and `spans.rs` what the span exporter
//! (another consumer of the same events) counts.

pub mod classify;
pub mod feed;
pub mod fields;
pub mod inflight;
pub mod journal;
mod layer;
pub mod live;
pub mod redact;
pub mod route;
pub mod spans;
pub mod standards;
pub mod window;

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub(crate) use layer::{any_attached, is_exchange, spans_attached};
pub use layer::{Entry, RecordLayer, Sink};
pub use live::Live;

use crate::trace_context;
use classify::is_failure;
use journal::{
    AbortLine, Connection, FaultOff, FaultOn, Line, Origin, Outcome, PhaseLine, Request, SampleLine, Start, Stop,
    JOURNAL_SCHEMA,
};

/// Entries that may wait for the writer; past this, they are dropped.
const QUEUE: usize = 64 * 1024;
/// The longest a written line waits in memory before it reaches the file.
const FLUSH_EVERY: Duration = Duration::from_millis(500);
/// How often the writer looks for new entries.
const POLL_EVERY: Duration = Duration::from_millis(10);
/// How long a recorder's end waits for the span exporter to send what it
/// holds (a batch waits up to a second, and an export up to ten).
const SPANS_FLUSH: Duration = Duration::from_secs(3);
/// Responses kept as evidence per listener, route and class.
const SAMPLES_PER_CLASS: u8 = 3;

/// What the journal's first line says about the run.
#[derive(Debug, Clone)]
pub struct RunInfo {
    pub title: String,
    pub seed: Option<u64>,
    pub listeners: Vec<String>,
    pub experiment: Option<journal::ExperimentInfo>,
}

/// A running recorder: the layer to install, the live aggregates, and the
/// writer thread behind them.
pub struct Recorder {
    sink: Sink,
    tx: mpsc::SyncSender<Arc<Entry>>,
    live: Arc<Live>,
    journal: PathBuf,
    writer: Option<JoinHandle<io::Result<()>>>,
}

impl Recorder {
    /// Creates `dir` and starts writing `dir/journal.jsonl`.
    pub fn start(dir: &Path, run: RunInfo) -> io::Result<Recorder> {
        std::fs::create_dir_all(dir)?;
        let journal = dir.join("journal.jsonl");
        let file = File::create(&journal)?;
        let (tx, rx) = mpsc::sync_channel(QUEUE);
        let live = Arc::new(Live::default());
        let sink = Sink::new(tx.clone(), live.clone());
        let started = SystemTime::now();
        let start = Start {
            ts: millis(started),
            schema: JOURNAL_SCHEMA,
            title: run.title,
            seed: run.seed,
            listeners: run.listeners,
            experiment: run.experiment,
            version: Some(env!("CARGO_PKG_VERSION").to_string()),
            command: Some(std::env::args().collect()),
        };
        let writer_live = live.clone();
        let writer = std::thread::Builder::new()
            .name("brownout-journal".into())
            .spawn(move || Writer::new(file, started, writer_live).run(rx, start))?;
        Ok(Recorder { sink, tx, live, journal, writer: Some(writer) })
    }

    /// A layer that sends to this recorder only.
    pub fn layer(&self) -> RecordLayer {
        let layer = RecordLayer::new();
        layer.attach(self.sink());
        layer
    }

    /// What to attach to a shared [`RecordLayer`] for this recorder to get its events.
    pub fn sink(&self) -> Sink {
        self.sink.clone()
    }

    pub fn live(&self) -> Arc<Live> {
        self.live.clone()
    }

    pub fn journal(&self) -> &Path {
        &self.journal
    }

    /// Writes the stop line with `outcome`, flushes, and waits for the writer.
    pub fn finish(mut self, outcome: Outcome) -> io::Result<PathBuf> {
        let stop = Entry { kind: STOP.into(), outcome: Some(outcome), at: Some(SystemTime::now()), ..Entry::default() };
        // Blocking here is fine: the run is over and the data path is quiet.
        let _ = self.tx.send(Arc::new(stop));
        if let Some(writer) = self.writer.take() {
            writer.join().map_err(|_| io::Error::other("the journal writer panicked"))??;
        }
        Ok(self.journal.clone())
    }
}

const STOP: &str = "__stop";

/// A request as the control page's feed shows it.
fn feed_item(e: &Entry, route: &str, latency_ms: f64, origin: Option<Origin>) -> feed::FeedItem {
    let sample = (e.body.is_some() || e.headers.is_some()).then(|| feed::Sample {
        headers: e
            .headers
            .as_deref()
            .unwrap_or("")
            .lines()
            .filter_map(|l| l.split_once(": "))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        body: e.body.clone().unwrap_or_default(),
    });
    feed::FeedItem {
        id: 0,
        at_ms: e.at.map_or(0, millis),
        listener: e.target.clone(),
        method: e.method.clone().unwrap_or_default(),
        path: e.path.clone().unwrap_or_default(),
        route: route.to_string(),
        status: e.status,
        latency_ms,
        class: e.class,
        origin,
        error: e.error.clone(),
        fault: e.fault.clone(),
        sample,
    }
}

fn millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

struct Writer {
    out: BufWriter<File>,
    started: SystemTime,
    live: Arc<Live>,
    samples: HashMap<(String, String, Option<journal::Class>), u8>,
}

impl Writer {
    fn new(file: File, started: SystemTime, live: Arc<Live>) -> Self {
        live.feed.set_started(started);
        Writer { out: BufWriter::with_capacity(256 * 1024, file), started, live, samples: HashMap::new() }
    }

    fn run(mut self, rx: Receiver<Arc<Entry>>, start: Start) -> io::Result<()> {
        self.write(&Line::Start(start))?;
        self.out.flush()?;
        let mut flushed = Instant::now();
        loop {
            // The writer polls instead of blocking in `recv`: a sender then
            // never has to wake a sleeping thread, so recording costs the
            // data path no system call.
            loop {
                match rx.try_recv() {
                    Ok(entry) if entry.kind == STOP => {
                        // The run's spans are sent before it says how many were.
                        if let Some(spans) = self.live.spans.get() {
                            spans.counts.flush(SPANS_FLUSH);
                        }
                        let t = self.seconds(entry.at);
                        let dropped = self.live.dropped.load(Ordering::Relaxed);
                        let outcome = entry.outcome.unwrap_or(Outcome::Stopped);
                        let spans = self.live.spans.get().map(spans::Since::tally);
                        self.write(&Line::Stop(Stop { t, outcome, dropped, spans }))?;
                        return self.out.flush();
                    }
                    Ok(entry) => self.entry(&entry)?,
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => return self.out.flush(),
                }
            }
            if flushed.elapsed() >= FLUSH_EVERY {
                self.out.flush()?;
                flushed = Instant::now();
            }
            std::thread::sleep(POLL_EVERY);
        }
    }

    fn seconds(&self, at: Option<SystemTime>) -> f64 {
        at.and_then(|a| a.duration_since(self.started).ok()).map_or(0.0, |d| d.as_secs_f64())
    }

    fn write(&mut self, line: &Line) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, line).map_err(io::Error::other)?;
        self.out.write_all(b"\n")
    }

    fn entry(&mut self, e: &Entry) -> io::Result<()> {
        let end = self.seconds(e.at);
        let latency_ms = e.latency_us.unwrap_or(0) as f64 / 1000.0;
        let t = (end - latency_ms / 1000.0).max(0.0);
        let line = match e.kind.as_str() {
            fields::TYPE_REQUEST => {
                let method = e.method.clone().unwrap_or_default();
                let path = e.path.clone().unwrap_or_default();
                // `GET /v1/charges/{id}`, without the formatter's machinery:
                // every request line pays for it.
                let mut route = String::with_capacity(method.len() + 1 + path.len() + 4);
                route.push_str(&method);
                route.push(' ');
                route::template_into(&path, &mut route);
                let failed =
                    e.error.is_some() || e.status.is_none_or(is_failure) || e.grpc_status.is_some_and(|c| c != 0);
                let origin = failed.then(|| e.origin.unwrap_or(Origin::Upstream));
                self.live.add(live::Exchange {
                    listener: &e.target,
                    route: &route,
                    second: t as u64,
                    ended: e.at.unwrap_or_else(SystemTime::now),
                    failed_origin: origin,
                    class: e.class,
                    latency_us: e.latency_us.unwrap_or(0),
                });
                if let Some(f) = &e.fault {
                    self.live.fault_applied(&e.target, f);
                }
                if e.body.is_some() || e.headers.is_some() {
                    self.sample(e, &route, t, latency_ms)?;
                }
                self.live.feed.push(feed_item(e, &route, latency_ms, origin));
                Line::Request(Request {
                    t,
                    listener: e.target.clone(),
                    method,
                    path,
                    route,
                    status: e.status,
                    grpc_status: e.grpc_status,
                    latency_ms,
                    ttfb_ms: e.ttfb_us.map(|u| u as f64 / 1000.0),
                    bytes_in: e.bytes_in,
                    bytes_out: e.bytes_out,
                    origin,
                    error: e.error.clone(),
                    fault: e.fault.clone(),
                    class: e.class,
                    trace_id: e.trace_id.map(trace_context::trace_hex),
                    span_id: e.span_id.map(trace_context::span_hex),
                    parent_span_id: e.parent_span_id.map(trace_context::span_hex),
                })
            }
            fields::TYPE_CONNECTION => {
                let origin = e.error.is_some().then(|| e.origin.unwrap_or(Origin::Upstream));
                self.live.add(live::Exchange {
                    listener: &e.target,
                    route: "tcp",
                    second: t as u64,
                    ended: e.at.unwrap_or_else(SystemTime::now),
                    failed_origin: origin,
                    class: None,
                    latency_us: e.latency_us.unwrap_or(0),
                });
                if let Some(f) = &e.fault {
                    self.live.fault_applied(&e.target, f);
                }
                let mut item = feed_item(e, "tcp", latency_ms, origin);
                item.method = "TCP".into();
                self.live.feed.push(item);
                Line::Connection(Connection {
                    t,
                    listener: e.target.clone(),
                    duration_ms: latency_ms,
                    bytes_in: e.bytes_in,
                    bytes_out: e.bytes_out,
                    origin,
                    error: e.error.clone(),
                    fault: e.fault.clone(),
                    trace_id: e.trace_id.map(trace_context::trace_hex),
                    span_id: e.span_id.map(trace_context::span_hex),
                })
            }
            fields::TYPE_FAULT_ON => {
                self.live.fault_on(&e.target, e.fault.as_deref().unwrap_or(""), e.fault_kind.as_deref().unwrap_or(""));
                Line::FaultOn(FaultOn {
                    t: end,
                    target: e.target.clone(),
                    fault: e.fault.clone().unwrap_or_default(),
                    kind: e.fault_kind.clone().unwrap_or_default(),
                    configured: e.configured.clone().unwrap_or_default(),
                    uncounted: e.uncounted,
                })
            }
            fields::TYPE_FAULT_OFF => Line::FaultOff(FaultOff {
                t: end,
                target: e.target.clone(),
                fault: e.fault.clone().unwrap_or_default(),
                applied: e.count,
                eligible: e.eligible,
            }),
            fields::TYPE_PHASE => {
                Line::Phase(PhaseLine { t: end, name: e.phase.clone().unwrap_or_default(), faults: e.count })
            }
            fields::TYPE_ABORT => Line::Abort(AbortLine {
                t: end,
                guardrail: e.guardrail.clone().unwrap_or_default(),
                value: e.value.clone().unwrap_or_default(),
            }),
            _ => return Ok(()),
        };
        self.write(&line)
    }

    fn sample(&mut self, e: &Entry, route: &str, t: f64, latency_ms: f64) -> io::Result<()> {
        let class = e.class;
        let kept = self.samples.entry((e.target.clone(), route.to_string(), class)).or_default();
        if *kept >= SAMPLES_PER_CLASS {
            return Ok(());
        }
        *kept += 1;
        let headers = e
            .headers
            .as_deref()
            .unwrap_or("")
            .lines()
            .filter_map(|l| l.split_once(": "))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let line = Line::Sample(SampleLine {
            t,
            listener: e.target.clone(),
            route: route.to_string(),
            class,
            status: e.status,
            error: e.error.clone(),
            latency_ms,
            headers,
            body: e.body.clone().unwrap_or_default(),
            trace_id: e.trace_id.map(trace_context::trace_hex),
        });
        self.write(&line)
    }
}
