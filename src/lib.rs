//! brownout is a chaos-engineering fault-injection proxy: it stands in front
//! of the services an application depends on, breaks them on purpose, and
//! records what the application's users saw.
//!
//! # Layout
//!
//! Data flows one way: a config or experiment file is parsed and validated
//! into a model; the app binds a listener per target (plus the observer and
//! the admin API); each target reads its active faults from a
//! [`fault::FaultSwitch`] per request or connection, a pure seeded decision
//! picks the faults that apply, the protocol layer carries them out and
//! forwards the rest to the upstream. The data path emits tracing events with
//! the stable field names of [`record::fields`]; the recorder's layer turns
//! them into a journal (JSON lines) and live aggregates, and [`report`]
//! computes every report from the journal alone.
//!
//! Following `brownout run FILE` from `main.rs`, every step goes down the
//! list below: `main` parses the command line and calls [`app`], which loads
//! the [`experiment`] (itself built on [`config`] and [`fault`]), binds the
//! [`proxy`] and hands its controls to the [`run`] controller; the run swaps
//! faults on its timeline, drives the [`load`], watches its guardrails over
//! what [`record`] keeps live, and ends with [`report`]'s verdict.
//!
//! From the top down (a module imports only modules below it):
//!
//! - `main.rs`: the command line only: parse, set up logging, call [`app`], print errors.
//! - [`app`]: the assembly: what binds which listener, the admin API beside the proxy, the
//!   runs, shutdown on signals; `brownout proxy` (`app::serve`) and `brownout schedule`
//!   (`app::schedule`).
//! - [`demo`]: the in-process shop, its dependencies and the bundled game day of `brownout demo`
//!   (the shop also starts on `config/shop.toml`'s addresses, for the examples of `experiments/`).
//! - [`scoreboard`]: what many runs say together (`brownout scoreboard DIR`): every run's
//!   `report.json` (else its journal) under a directory -> each experiment's verdicts over time
//!   and staleness, a score per service, each journey's failures, each dependency's criticality,
//!   each standard's compliance (pure, judged at a time given as an argument) -> JSON, Markdown
//!   and one HTML page in the report's style.
//! - [`admin`]: the admin API: guard (token, browsers, the control page's sessions, body size),
//!   targets and ad-hoc faults (switched off and on), runs (start, status, stop, reports),
//!   `/metrics`, the Toxiproxy-compatible proxies and toxics, and the control page at `/ui`
//!   (`admin::ui`: one self-contained page polling the API, its sessions and page tokens).
//! - [`run`]: the run controller: phases on the timeline, guardrails over sliding windows (and
//!   requests in flight), the fail-open guard, supervision (a failing controller ends the run as
//!   `failed`), progress, and the registry of runs.
//! - [`load`]: the open-loop load driver.
//! - [`proxy`]: the data path: binding, serving and draining the observer and the targets.
//!   - `proxy::gate`: accepting, and closing the listener while an outage refuses.
//!   - [`proxy::http`]: the HTTP/1.1 and HTTP/2 listener (the version peeked from the first
//!     bytes, or chosen by ALPN over TLS in `secure`). A request's faults are decided first
//!     (`proxy::http::decision`); plain HTTP/1.1 requests (in the clear or over TLS) that no fault but latency
//!     acts on pass as bytes (`proxy::http::fast`: heads parsed in place in `fast::request`,
//!     faults chosen from them in `fast::choose`, the exchange in `fast::exchange`, sent and its
//!     response head read in `fast::upstream`, bodies relayed with their framing followed in
//!     `fast::body`, its own pool of upstream connections in `fast::pool`), and a plain request
//!     a fault acts on is carried by the injector and answered by `fast::faulty` on the same
//!     connection; anything else goes through hyper (and, when its body is already whole, on
//!     to a plain upstream over the same pool as bytes, `fast::bridge`): the injector (`inject`, with gRPC's answers
//!     and deadlines in `grpc`; `trace` gives each request its span and, at the observer, starts
//!     the traces that came without one), what a fault may do to the client connection (`conn`: reset,
//!     drain, abort), the pooled forwarder (`forward`, `pool`, and `multiplex` for HTTP/2
//!     upstreams), faulty and recorded bodies (`body`, `recorded`), the faults a request chooses
//!     by header (`header_faults`). `proxy::http::dial` is the one upstream dial and idle limit
//!     both pools share; `proxy::http::streams` runs an HTTP/2 connection's streams in the
//!     connection's own task.
//!   - [`proxy::tcp`]: admission faults, then per direction a spliced pass-through while no fault
//!     acts on the connection's bytes (`pass`), else a reader and writer with per-chunk faults
//!     (`pump`: the queue, the chunk plan, pacing).
//!   - [`proxy::reset`]: a stream that can close with RST.
//!   - [`proxy::timer`]: a precise sleep (tens of microseconds, not tokio's whole milliseconds)
//!     for injected latency, with deadlines on tokio's clock.
//! - [`telemetry`]: spans over OTLP/HTTP: one more sink on the record layer, whose thread writes
//!   request and connection records as OpenTelemetry spans (`span.rs`, the HTTP semantic
//!   conventions and an event per injection), in protobuf straight into the batch (`proto.rs`),
//!   and posts them in batches (`client.rs`); what does not fit its queue or is refused is
//!   dropped and counted, never waited for.
//! - [`report`]: journal -> report model and verdict (pure): fault timelines, impact by trace
//!   (`report::traces`: each user request linked to the faults its trace's dependency calls met)
//!   or else by time (faults on together as one row), what no rule covers and why a run proves
//!   nothing, the standards' checks per route and the unclassified routes;
//!   rendered as JSON, Markdown, HTML (a phone layout too) and terminal lines, all saying the
//!   same words (`report::words`).
//! - [`schema`]: the JSON Schemas of config, experiment and standards files (`brownout schema`), traced
//!   from the raw serde structs the validator reads, the fault kinds' table and the README's
//!   reference tables.
//! - [`experiment`]: experiment files: `raw.rs` mirror -> `validate/` (the run's shape;
//!   `validate/hypothesis.rs` the hypothesis and guardrails, `validate/standards.rs` what it
//!   inherits of the standards) -> `model.rs`; the timeline and
//!   schedules (pure, time is an argument).
//! - [`standards`]: standards files (`standards.toml`): `raw.rs` mirror -> `validate.rs` -> the
//!   model (tiers, interaction classes, what a graceful failure is everywhere, each service's routes
//!   and their classes), and where they are found (`--standards`, `BROWNOUT_STANDARDS`, beside the
//!   experiment or its config). Experiments inherit them in `experiment/validate/standards.rs`:
//!   stricter rules kept, looser ones refused.
//! - [`config`]: config files: `raw.rs` mirror -> `validate/` (every problem, with positions)
//!   -> `model.rs`; `config::fault` validates one fault from a file, an admin JSON body or a
//!   request's fault headers (`config::fault::header`).
//! - [`fault`]: fault kinds as data (`fault::kinds::KINDS` is the one table of kind names,
//!   protocols and keys), matchers, distributions, the seeded decision, the switch.
//! - [`record`]: the vocabulary every layer above shares and the recording itself: field names,
//!   the journal's lines and words (origin, class, outcome, the hypothesis), route templates and
//!   patterns, what a run inherited of the standards (`record::standards`: its routes' classes),
//!   the recording layer and writer, live aggregates, guardrail windows, requests in
//!   flight, graceful classification.
//! - [`tls`]: rustls with the ring provider: client settings for `https://` upstreams, server
//!   settings for HTTPS listeners (ALPN `h2`, `http/1.1`), and brownout's local certificate
//!   authority (`tls::ca`, kept in the state directory) that issues `tls = "auto"` certificates;
//!   `brownout ca` prints it; a leaf, as the two below: it imports no module of brownout's,
//!   so any above may use it.
//! - [`trace_context`]: W3C trace context's words (`traceparent` read and written, trace and span
//!   ids), shared by the data path, the journal, the exporter and the reports; a leaf.
//! - [`grpc`]: gRPC's words (status codes and names, `grpc-timeout`, which requests are gRPC
//!   calls), shared by the config, the data path, the journal and the reports; a leaf.
//!
//! The HTTP path is not a tower stack. A plain pass-through of bytes was
//! measured faster than any layered service (about 16,000 instructions per
//! request against hyper's 35,000), so the hot path is written by hand; the
//! hyper path behind it is one service function (`proxy::http::inject`)
//! that decides the faults, applies them in order and forwards, because the
//! faults must see one request at a time in a fixed order, not a stack of
//! independently composed layers.
//!
//! # Invariants
//!
//! - The proxy never reads files: everything it needs is in the validated
//!   [`config::Config`] it is given (certificate files are read by validation;
//!   the local authority is opened by `app` and handed to the proxy).
//! - `fault` does no I/O, and its decisions read no clock: they take the
//!   time (tokio's `Instant`) and a seed as arguments, so the same seed and
//!   traffic give the same decisions. The one clock read is a plan swap
//!   (`FaultSwitch::set`), which stamps new faults with when they became active;
//!   the one side effect of a decision is a relaxed count of what each fault
//!   was eligible for, which no decision reads.
//! - A fault kind's name and keys are written once, in `fault::kinds::KINDS`.
//! - The data path counts time on tokio's clock, so tests can pause it.
//! - The data path never locks to read faults: a plan swap is one atomic
//!   store, and a plan with no faults costs one load per request.
//! - An inactive fault has no effect at all, and removing a fault releases
//!   whatever it held (hung requests, queued requests, dropped data). A
//!   request or connection no fault selects takes the same plain path as
//!   with no fault at all.
//! - The data path never waits on the recorder or the span exporter: the layer
//!   copies fields into bounded queues and counts what does not fit; their
//!   threads poll them.
//! - Reports read nothing but the journal.
//! - A verdict never holds by silence: what no rule covers is listed, and a
//!   run whose faults never fired or whose users never came is `inconclusive`.
//! - One owner writes the faults during a run (the run controller); every
//!   way a run ends clears them first, a panic included. At most one run is
//!   in progress.
//! - The accept loops never dial an upstream: dialing happens in the
//!   connection's own task, so one blackholed upstream stalls nothing else.
//! - No body is buffered whole: request and response bodies stream through,
//!   and TCP copies use fixed buffers per direction.
//! - Nothing binds before the whole config is valid.
//! - An experiment never loosens a standard: a rule looser than one on the
//!   same journey is refused by validation, naming the standard.

pub mod admin;
pub mod app;
pub mod config;
pub mod demo;
pub mod experiment;
pub mod fault;
pub mod grpc;
pub mod load;
pub mod proxy;
pub mod record;
pub mod report;
pub mod run;
pub mod schema;
pub mod scoreboard;
pub mod standards;
pub mod telemetry;
pub mod tls;
pub mod trace_context;
