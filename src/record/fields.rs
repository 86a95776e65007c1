//! Stable tracing field names and values. The recorder reads events by these
//! names, so they change only with the journal's schema.

use super::journal::Origin;

/// The tracing target of every event the recorder turns into a journal line.
pub const RECORD: &str = "brownout::record";
/// What a recorded event is: one of the `TYPE_*` values. Events with a
/// `target:` write it as the first field `record = ...`, because the
/// macros take a braced name right after the target for a field block.
pub const RECORD_TYPE: &str = "record";
pub const TYPE_REQUEST: &str = "request";
pub const TYPE_CONNECTION: &str = "connection";
pub const TYPE_FAULT_ON: &str = "fault_on";
pub const TYPE_FAULT_OFF: &str = "fault_off";
pub const TYPE_PHASE: &str = "phase";
pub const TYPE_ABORT: &str = "abort";

/// A phase's name and how many faults it has, on `phase` events.
pub const PHASE_NAME: &str = "phase.name";
pub const PHASE_FAULTS: &str = "phase.faults";
/// The guardrail that tripped and the value it saw, on `abort` events.
pub const GUARDRAIL: &str = "guardrail";
pub const GUARDRAIL_VALUE: &str = "guardrail.value";

/// The listener: a target's name, or `observer`.
pub const TARGET: &str = "target";
pub const PEER: &str = "peer";
pub const ORIGIN: &str = "origin";
/// What went wrong without a response: `reset`, `closed`, `timeout`,
/// `unreachable`, `truncated`, `client_closed`.
pub const ERROR_KIND: &str = "error.kind";
pub const HTTP_METHOD: &str = "http.method";
pub const HTTP_PATH: &str = "http.path";
pub const HTTP_STATUS: &str = "http.status";
/// A gRPC call's status: `grpc-status` from the trailers (or a
/// trailers-only head); any code but 0 is a failure.
pub const GRPC_STATUS: &str = "grpc.status";
/// From the request's arrival to the end of the response (or connection).
pub const LATENCY_US: &str = "latency_us";
/// From the request's arrival to the response head.
pub const TTFB_US: &str = "ttfb_us";
pub const BYTES_IN: &str = "bytes.in";
pub const BYTES_OUT: &str = "bytes.out";
/// At the observer: `ok`, `graceful` or `ungraceful`.
pub const GRACEFUL: &str = "graceful";
/// At the observer, for failures: the start of the body, redacted.
pub const BODY: &str = "body";
/// At the observer, for failures: response headers, `name: value` lines, redacted.
pub const HEADERS: &str = "headers";

pub const FAULT_NAME: &str = "fault.name";
pub const FAULT_KIND: &str = "fault.kind";
/// The fault's parameters as configured (`normal(200ms, 50ms) before request`).
pub const FAULT_CONFIGURED: &str = "fault.configured";
/// What the fault actually did to this request or connection (`delay 183ms`).
pub const FAULT_APPLIED: &str = "fault.applied";
/// How often a fault was applied, on its `fault_off` event.
pub const FAULT_COUNT: &str = "fault.count";
/// How many requests or connections a fault was eligible for (in its window
/// and matched, whatever its probability drew), on its `fault_off` event.
pub const FAULT_ELIGIBLE: &str = "fault.eligible";
/// True on a `fault_on` event when what the fault does cannot be counted
/// (an outage that refuses connections: refused clients never reach brownout).
pub const FAULT_UNCOUNTED: &str = "fault.uncounted";

/// The failure came from a fault of brownout's.
pub const ORIGIN_INJECTED: &str = Origin::Injected.as_str();
/// The failure came from the real dependency.
pub const ORIGIN_UPSTREAM: &str = Origin::Upstream.as_str();
/// The failure came from brownout itself.
pub const ORIGIN_PROXY: &str = Origin::Proxy.as_str();
/// The failure came from the client.
pub const ORIGIN_CLIENT: &str = Origin::Client.as_str();
