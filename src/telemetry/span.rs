//! One recorded exchange as an OpenTelemetry span: a request with the HTTP
//! semantic conventions (`http.request.method`, `url.path`, `http.route`,
//! `http.response.status_code`, `server.address`, `error.type`), a TCP
//! connection with the network ones, each with brownout's own attributes
//! (`brownout.listener`, `brownout.fault.name`, `brownout.fault.kind`,
//! `brownout.origin`, `brownout.class`) and an event at each injection.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::proto;
use crate::record::classify::is_failure;
use crate::record::{fields, route, Entry};
use crate::trace_context;

/// The name of the event each injection adds to its span.
pub const INJECTION_EVENT: &str = "brownout.injection";

/// `ScopeSpans`' field of spans; `Span`'s fields, its `Event`'s and its
/// `Status`'s (`opentelemetry/proto/trace/v1/trace.proto`).
const SCOPE_SPANS_SPAN: u32 = 2;
const TRACE_ID: u32 = 1;
const SPAN_ID: u32 = 2;
const PARENT_SPAN_ID: u32 = 4;
const NAME: u32 = 5;
const KIND: u32 = 6;
const START: u32 = 7;
const END: u32 = 8;
const ATTRIBUTES: u32 = 9;
const EVENTS: u32 = 11;
const STATUS: u32 = 15;
const FLAGS: u32 = 16;
const EVENT_TIME: u32 = 1;
const EVENT_NAME: u32 = 2;
const EVENT_ATTRIBUTES: u32 = 3;
const STATUS_MESSAGE: u32 = 2;
const STATUS_CODE: u32 = 3;
/// `SPAN_KIND_SERVER`, `STATUS_CODE_ERROR`.
const SPAN_KIND_SERVER: u64 = 2;
const STATUS_CODE_ERROR: u64 = 2;

/// `sampled`, and whether the parent came from another process
/// (`SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK` and `..._IS_REMOTE_MASK`).
const SAMPLED: u32 = 0x01;
const HAS_IS_REMOTE: u32 = 0x100;
const IS_REMOTE: u32 = 0x200;

/// What a span needs beyond its entry: each fault's kind (from the
/// `fault_on` entries) and each listener's address; and what is kept from
/// span to span: each listener's own attributes, encoded once, and the
/// strings a span is put together in.
///
/// A process has a few listeners and faults: they are kept in lists, which
/// a span looks through faster than it would hash a name.
#[derive(Default)]
pub struct Known {
    /// Each fault's listener, name and kind.
    kinds: Vec<(String, String, String)>,
    addresses: Vec<(String, SocketAddr)>,
    /// By listener: `brownout.listener`, `server.address` and `server.port`.
    encoded: Vec<(String, Vec<u8>)>,
    scratch: Scratch,
}

#[derive(Default)]
struct Scratch {
    name: String,
    faults: String,
    kinds: String,
}

impl Known {
    pub fn new(listeners: impl IntoIterator<Item = (String, SocketAddr)>) -> Self {
        Known { addresses: listeners.into_iter().collect(), ..Known::default() }
    }

    /// Takes what a non-exchange entry says (a fault's kind).
    pub fn learn(&mut self, e: &Entry) {
        if e.kind == fields::TYPE_FAULT_ON {
            if let (Some(fault), Some(kind)) = (&e.fault, &e.fault_kind) {
                match self.kinds.iter_mut().find(|(listener, name, _)| *listener == e.target && name == fault) {
                    Some(known) => known.2.clone_from(kind),
                    None => self.kinds.push((e.target.clone(), fault.clone(), kind.clone())),
                }
            }
        }
    }
}

fn kind_of<'a>(kinds: &'a [(String, String, String)], listener: &str, fault: &str) -> Option<&'a str> {
    kinds.iter().find(|(l, name, _)| l == listener && name == fault).map(|(_, _, kind)| kind.as_str())
}

/// A listener's own attributes, encoded the first time it is met.
fn listener_attributes<'a>(
    encoded: &'a mut Vec<(String, Vec<u8>)>,
    addresses: &[(String, SocketAddr)],
    listener: &str,
) -> &'a [u8] {
    let at = match encoded.iter().position(|(name, _)| name == listener) {
        Some(at) => at,
        None => {
            let mut attrs = Vec::new();
            proto::text(&mut attrs, ATTRIBUTES, "brownout.listener", listener);
            if let Some((_, addr)) = addresses.iter().find(|(name, _)| name == listener) {
                proto::text(&mut attrs, ATTRIBUTES, "server.address", &addr.ip().to_string());
                if addr.port() != 0 {
                    proto::int(&mut attrs, ATTRIBUTES, "server.port", u64::from(addr.port()));
                }
            }
            encoded.push((listener.to_string(), attrs));
            encoded.len() - 1
        }
    };
    &encoded[at].1
}

/// Writes the span of a `request` or `connection` entry into `buf`, as one
/// of `ScopeSpans`' spans; `false`, and nothing written, for any other.
pub fn write(e: &Entry, known: &mut Known, buf: &mut Vec<u8>) -> bool {
    let tcp = match e.kind.as_str() {
        fields::TYPE_REQUEST => false,
        fields::TYPE_CONNECTION => true,
        _ => return false,
    };
    let Known { kinds, addresses, encoded, scratch } = known;
    let end = e.at.unwrap_or_else(SystemTime::now);
    let start = end.checked_sub(Duration::from_micros(e.latency_us.unwrap_or(0))).unwrap_or(end);
    let failed = if tcp {
        e.error.is_some()
    } else {
        e.error.is_some() || e.status.is_none_or(is_failure) || e.grpc_status.is_some_and(|c| c != 0)
    };
    // error.type: what went wrong without an answer, else the failing status.
    let error_type: Option<Cow<str>> = match (&e.error, e.status, e.grpc_status) {
        (Some(error), _, _) => Some(Cow::Borrowed(error)),
        (None, _, Some(code)) if code != 0 => Some(Cow::Owned(crate::grpc::code_name(code))),
        (None, Some(status), _) if failed => Some(Cow::Owned(status.to_string())),
        (None, None, _) if failed => Some(Cow::Borrowed("no_response")),
        _ => None,
    };
    let server_error = match (e.status, &e.error) {
        (_, Some(_)) => true,
        (Some(s), None) => s >= 500 || e.grpc_status.is_some_and(|c| c != 0),
        (None, None) => failed,
    };
    let trace_id = e.trace_id.unwrap_or_else(trace_context::trace_id);
    let span_id = e.span_id.unwrap_or_else(trace_context::span_id);
    let remote = if e.parent_span_id.is_some() { HAS_IS_REMOTE | IS_REMOTE } else { HAS_IS_REMOTE };
    proto::message(buf, SCOPE_SPANS_SPAN, |b| {
        proto::bytes(b, TRACE_ID, &trace_id.to_be_bytes());
        proto::bytes(b, SPAN_ID, &span_id.to_be_bytes());
        if let Some(parent) = e.parent_span_id {
            proto::bytes(b, PARENT_SPAN_ID, &parent.to_be_bytes());
        }
        proto::fixed32(b, FLAGS, SAMPLED | remote);
        let name = &mut scratch.name;
        name.clear();
        let (method, path) = (e.method.as_deref().unwrap_or("_OTHER"), e.path.as_deref().unwrap_or("/"));
        if tcp {
            let _ = write!(name, "TCP {}", e.target);
        } else {
            name.push_str(method);
            name.push(' ');
            route::template_into(path, name);
        }
        proto::string(b, NAME, name);
        proto::uint(b, KIND, SPAN_KIND_SERVER);
        proto::fixed64(b, START, nanos(start));
        proto::fixed64(b, END, nanos(end));
        if tcp {
            proto::text(b, ATTRIBUTES, "network.transport", "tcp");
            proto::int(b, ATTRIBUTES, "brownout.bytes_in", e.bytes_in);
            proto::int(b, ATTRIBUTES, "brownout.bytes_out", e.bytes_out);
        } else {
            proto::text(b, ATTRIBUTES, "http.request.method", method);
            proto::text(b, ATTRIBUTES, "url.path", path);
            proto::text(b, ATTRIBUTES, "http.route", &name[method.len() + 1..]);
            if let Some(status) = e.status {
                proto::int(b, ATTRIBUTES, "http.response.status_code", u64::from(status));
            }
            if let Some(code) = e.grpc_status {
                proto::int(b, ATTRIBUTES, "rpc.grpc.status_code", u64::from(code));
            }
            proto::int(b, ATTRIBUTES, "http.request.body.size", e.bytes_in);
            proto::int(b, ATTRIBUTES, "http.response.body.size", e.bytes_out);
        }
        b.extend_from_slice(listener_attributes(encoded, addresses, &e.target));
        if let Some(t) = &error_type {
            proto::text(b, ATTRIBUTES, "error.type", t);
        }
        if failed {
            let origin = e.origin.unwrap_or(crate::record::journal::Origin::Upstream);
            proto::text(b, ATTRIBUTES, "brownout.origin", origin.as_str());
        }
        if let Some(class) = e.class {
            proto::text(b, ATTRIBUTES, "brownout.class", class.as_str());
        }
        if e.fault.is_some() || e.fault_events.is_some() {
            injections(b, e, kinds, scratch, start);
        }
        if server_error {
            proto::message(b, STATUS, |b| {
                if let Some(t) = error_type.as_deref().filter(|t| !t.is_empty()) {
                    proto::string(b, STATUS_MESSAGE, t);
                }
                proto::uint(b, STATUS_CODE, STATUS_CODE_ERROR);
            });
        }
    });
    true
}

/// The faults applied to an exchange: their names and kinds, and an event
/// for each: when the data path kept them, at the time each was applied.
fn injections(
    b: &mut Vec<u8>,
    e: &Entry,
    kinds: &[(String, String, String)],
    scratch: &mut Scratch,
    start: SystemTime,
) {
    let kept = e.fault_events.as_deref().unwrap_or("");
    let faults = || e.fault.as_deref().unwrap_or("").split(',').filter(|n| !n.is_empty());
    let kind = |fault: &str| kind_of(kinds, &e.target, fault).or_else(|| kept_kind(kept, fault)).unwrap_or("unknown");
    if faults().next().is_some() {
        let (names, kind_names) = (&mut scratch.faults, &mut scratch.kinds);
        names.clear();
        kind_names.clear();
        for fault in faults() {
            if !names.is_empty() {
                names.push(',');
                kind_names.push(',');
            }
            names.push_str(fault);
            kind_names.push_str(kind(fault));
        }
        proto::text(b, ATTRIBUTES, "brownout.fault.name", names);
        proto::text(b, ATTRIBUTES, "brownout.fault.kind", kind_names);
    }
    for (offset, fault, kind, applied) in kept.lines().filter_map(injection) {
        event(b, start + Duration::from_micros(offset), fault, kind, Some(applied));
    }
    // Where the data path kept no events (the plain path, TCP), each fault
    // applied still gets one, at the exchange's start.
    for fault in faults().filter(|f| kept_kind(kept, f).is_none()) {
        event(b, start, fault, kind(fault), None);
    }
}

/// One `brownout.injection` event: the fault, its kind, and what it did
/// when the data path kept that.
fn event(buf: &mut Vec<u8>, at: SystemTime, fault: &str, kind: &str, applied: Option<&str>) {
    proto::message(buf, EVENTS, |b| {
        proto::fixed64(b, EVENT_TIME, nanos(at));
        proto::string(b, EVENT_NAME, INJECTION_EVENT);
        proto::text(b, EVENT_ATTRIBUTES, "brownout.fault.name", fault);
        proto::text(b, EVENT_ATTRIBUTES, "brownout.fault.kind", kind);
        if let Some(applied) = applied {
            proto::text(b, EVENT_ATTRIBUTES, "brownout.fault.applied", applied);
        }
    });
}

/// One line the data path kept of a fault applied: microseconds after the
/// exchange's start, the fault, its kind, what it did.
fn injection(line: &str) -> Option<(u64, &str, &str, &str)> {
    let mut parts = line.splitn(4, '\t');
    let offset = parts.next()?.parse().ok()?;
    Some((offset, parts.next()?, parts.next()?, parts.next().unwrap_or("")))
}

/// The kind the data path kept for `fault`, if it kept an event of it.
fn kept_kind<'a>(kept: &'a str, fault: &str) -> Option<&'a str> {
    kept.lines().filter_map(injection).find(|(_, name, _, _)| *name == fault).map(|(_, _, kind, _)| kind)
}

fn nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::{any_value, KeyValue};
    use opentelemetry_proto::tonic::trace::v1::{span, status, ScopeSpans, Span};
    use prost::Message;

    /// The span written for `e`, as prost's generated types read it.
    fn of(e: &Entry, known: &mut Known) -> Option<Span> {
        let mut buf = Vec::new();
        if !write(e, known, &mut buf) {
            assert!(buf.is_empty());
            return None;
        }
        let mut spans = ScopeSpans::decode(&buf[..]).expect("a span prost reads").spans;
        assert_eq!(spans.len(), 1);
        spans.pop()
    }

    fn attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a str> {
        attrs.iter().find(|kv| kv.key == key).and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
            any_value::Value::StringValue(s) => Some(s.as_str()),
            _ => None,
        })
    }

    fn request() -> Entry {
        Entry {
            at: Some(UNIX_EPOCH + Duration::from_secs(1_000)),
            kind: fields::TYPE_REQUEST.into(),
            target: "payments".into(),
            method: Some("POST".into()),
            path: Some("/v1/charges/42".into()),
            status: Some(503),
            latency_us: Some(2_000),
            origin: Some(crate::record::journal::Origin::Injected),
            fault: Some("down".into()),
            trace_id: Some(0x4bf92f3577b34da6a3ce929d0e0e4736),
            span_id: Some(0x1111),
            parent_span_id: Some(0x00f067aa0ba902b7),
            fault_events: Some("150\tdown\terror\tstatus 503\n".into()),
            ..Entry::default()
        }
    }

    #[test]
    fn a_request_becomes_a_server_span_with_the_http_conventions_and_its_injection() {
        let mut known = Known::new([("payments".to_string(), "127.0.0.1:9001".parse().unwrap())]);
        let s = of(&request(), &mut known).expect("a span");
        assert_eq!(s.name, "POST /v1/charges/{id}");
        assert_eq!(s.trace_id, 0x4bf92f3577b34da6a3ce929d0e0e4736u128.to_be_bytes());
        assert_eq!(s.parent_span_id, 0x00f067aa0ba902b7u64.to_be_bytes());
        assert_eq!(s.end_time_unix_nano - s.start_time_unix_nano, 2_000_000);
        for (k, v) in [
            ("http.request.method", "POST"),
            ("url.path", "/v1/charges/42"),
            ("http.route", "/v1/charges/{id}"),
            ("server.address", "127.0.0.1"),
            ("error.type", "503"),
            ("brownout.listener", "payments"),
            ("brownout.origin", "injected"),
            ("brownout.fault.name", "down"),
            ("brownout.fault.kind", "error"),
        ] {
            assert_eq!(attr(&s.attributes, k), Some(v), "{k}");
        }
        let port = s.attributes.iter().find(|kv| kv.key == "server.port").and_then(|kv| kv.value.clone()?.value);
        assert_eq!(port, Some(any_value::Value::IntValue(9001)));
        assert_eq!(s.kind, span::SpanKind::Server as i32);
        assert_eq!(s.flags, SAMPLED | HAS_IS_REMOTE | IS_REMOTE);
        let st = s.status.as_ref().expect("a status");
        assert_eq!((st.code, st.message.as_str()), (status::StatusCode::Error as i32, "503"));
        assert_eq!(s.events.len(), 1);
        assert_eq!(s.events[0].name, INJECTION_EVENT);
        assert_eq!(s.events[0].time_unix_nano - s.start_time_unix_nano, 150_000);
        assert_eq!(attr(&s.events[0].attributes, "brownout.fault.applied"), Some("status 503"));
    }

    #[test]
    fn a_fault_without_kept_events_still_gets_one_and_its_kind_from_fault_on() {
        let mut known = Known::default();
        known.learn(&Entry {
            kind: fields::TYPE_FAULT_ON.into(),
            target: "payments".into(),
            fault: Some("down".into()),
            fault_kind: Some("outage".into()),
            ..Entry::default()
        });
        let e = Entry { fault_events: None, ..request() };
        let s = of(&e, &mut known).expect("a span");
        assert_eq!(attr(&s.attributes, "brownout.fault.kind"), Some("outage"));
        assert_eq!(s.events.len(), 1);
        assert_eq!(attr(&s.events[0].attributes, "brownout.fault.kind"), Some("outage"));
        let ok = Entry { status: Some(200), fault: None, fault_events: None, origin: None, ..request() };
        let s = of(&ok, &mut known).expect("a span");
        assert!(s.status.is_none() && s.events.is_empty() && attr(&s.attributes, "error.type").is_none());
    }

    #[test]
    fn a_connection_is_a_tcp_span_and_other_entries_write_nothing() {
        let mut known = Known::new([("redis".to_string(), "127.0.0.1:6390".parse().unwrap())]);
        let conn = Entry {
            kind: fields::TYPE_CONNECTION.into(),
            target: "redis".into(),
            bytes_in: 40,
            bytes_out: u64::MAX,
            error: Some("reset".into()),
            fault: Some(",cut,".into()),
            ..request()
        };
        // Twice: the second span takes the listener's attributes kept from the first.
        for _ in 0..2 {
            let s = of(&conn, &mut known).expect("a span");
            assert_eq!(s.name, "TCP redis");
            assert_eq!(attr(&s.attributes, "network.transport"), Some("tcp"));
            assert_eq!(attr(&s.attributes, "server.address"), Some("127.0.0.1"));
            assert_eq!(attr(&s.attributes, "brownout.listener"), Some("redis"));
            assert_eq!(attr(&s.attributes, "brownout.fault.name"), Some("cut"));
            assert_eq!(attr(&s.attributes, "brownout.fault.kind"), Some("unknown"));
            let out =
                s.attributes.iter().find(|kv| kv.key == "brownout.bytes_out").and_then(|kv| kv.value.clone()?.value);
            assert_eq!(out, Some(any_value::Value::IntValue(i64::MAX)));
            assert!(attr(&s.attributes, "http.request.method").is_none());
            assert_eq!(s.status.map(|st| st.message), Some("reset".to_string()));
        }
        let on = Entry { kind: fields::TYPE_FAULT_ON.into(), ..request() };
        assert!(of(&on, &mut known).is_none());
    }
}
