//! brownout is a chaos-engineering fault-injection proxy: it stands in front
//! of the services an application depends on, breaks them on purpose, and
//! records what the application's users saw.
//!
//! # Layout
//!
//! Data flows one way: a config file is parsed and validated into a model;
//! the proxy binds a listener per target (plus the observer and the admin
//! API); each target reads its active faults from a [`fault::FaultSwitch`]
//! per request or connection, a pure seeded decision picks the faults that
//! apply, the protocol layer carries them out and forwards the rest to the
//! upstream. The data path emits tracing events with the stable field names
//! of [`record::fields`]; the recorder's layer turns them into a journal
//! (JSON lines) and live aggregates, and [`report`] computes every report
//! from the journal alone.
//!
//! - [`config`]: config files: raw serde mirror, validation with positions, the model.
//! - [`fault`]: fault kinds as data, matchers, distributions, the seeded decision, the switch.
//! - [`proxy`]: binding every listener, serving, draining on shutdown.
//! - `proxy::gate`: accepting, and closing the listener while an outage refuses.
//! - [`proxy::http`]: the HTTP/1.1 and HTTP/2 listener (the version peeked from the first bytes):
//!   while the target has no fault, plain HTTP/1.1 requests pass as bytes (`proxy::http::fast`);
//!   anything else goes through hyper: injector, pooled forwarder, faulty bodies.
//! - [`proxy::tcp`]: the TCP listener: admission faults, then per direction a spliced pass-through
//!   while no fault is active, else a reader and writer with per-chunk faults.
//! - [`proxy::reset`]: a stream that can close with RST.
//! - [`proxy::timer`]: a precise sleep (tens of microseconds, not tokio's whole milliseconds) for injected latency.
//! - `proxy::http::fast`: the plain pass-through: request and response heads parsed in place and
//!   rewritten, bodies relayed with their framing followed (`fast::body`), its own pool of upstream
//!   connections (`fast::pool`); a connection moves to hyper at the first request that is not plain.
//! - `proxy::http::pool`: hyper's upstream connections of an HTTP target, reused oldest first.
//! - `proxy::http::recorded`: the response body that records each exchange (and classifies it at the observer).
//! - [`admin`]: the admin API: guard (token, browsers, body size), targets and ad-hoc faults, runs
//!   (start, status, stop, reports), `/metrics`, and the Toxiproxy-compatible proxies and toxics.
//! - [`record`]: field names, the recording layer, the journal writer, live aggregates, graceful classification.
//! - [`report`]: journal -> report model and verdict (pure), rendered as JSON, Markdown and HTML.
//! - [`experiment`]: experiment files: parsing, validation, the timeline (pure, time is an argument).
//! - [`run`]: the run controller: phases, guardrails, fail-open guard, progress, schedules, and the
//!   registry of runs (started by `brownout run` or through the admin API on a running proxy).
//! - [`load`]: the open-loop load driver.
//! - [`demo`]: the in-process shop, its dependencies and the bundled game day of `brownout demo`.
//! - [`tls`]: rustls client settings for `https://` upstreams.
//! - `main.rs`: the command line only.
//!
//! # Invariants
//!
//! - The proxy never reads files: everything it needs is in the validated
//!   [`config::Config`] it is given.
//! - `fault` does no I/O and reads no clock: decisions take the time and a
//!   seed as arguments, so the same seed and traffic give the same decisions.
//! - The data path never locks to read faults: a plan swap is one atomic
//!   store, and a plan with no faults costs one load per request.
//! - An inactive fault has no effect at all, and removing a fault releases
//!   whatever it held (hung requests, queued requests, dropped data).
//! - The data path never waits on the recorder: the layer copies fields into
//!   a bounded queue and counts what does not fit; the writer thread polls it.
//! - Reports read nothing but the journal.
//! - One owner writes the faults during a run (the run controller); every
//!   way a run ends clears them first. At most one run is in progress.
//! - The accept loops never dial an upstream: dialing happens in the
//!   connection's own task, so one blackholed upstream stalls nothing else.
//! - No body is buffered whole: request and response bodies stream through,
//!   and TCP copies use fixed buffers per direction.
//! - Nothing binds before the whole config is valid.

pub mod admin;
pub mod app;
pub mod config;
pub mod demo;
pub mod experiment;
pub mod fault;
pub mod load;
pub mod proxy;
pub mod record;
pub mod report;
pub mod run;
pub mod tls;
