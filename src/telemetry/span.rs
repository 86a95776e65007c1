//! One recorded exchange as an OpenTelemetry span: a request with the HTTP
//! semantic conventions (`http.request.method`, `url.path`, `http.route`,
//! `http.response.status_code`, `server.address`, `error.type`), a TCP
//! connection with the network ones, each with brownout's own attributes
//! (`brownout.listener`, `brownout.fault.name`, `brownout.fault.kind`,
//! `brownout.origin`, `brownout.class`) and an event at each injection.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::{span, status, Span, Status};

use crate::record::classify::is_failure;
use crate::record::{fields, route, Entry};
use crate::trace_context;

/// The name of the event each injection adds to its span.
pub const INJECTION_EVENT: &str = "brownout.injection";

/// `sampled`, and whether the parent came from another process
/// (`SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK` and `..._IS_REMOTE_MASK`).
const SAMPLED: u32 = 0x01;
const HAS_IS_REMOTE: u32 = 0x100;
const IS_REMOTE: u32 = 0x200;

/// What a span needs beyond its entry: each fault's kind (from the
/// `fault_on` entries) and each listener's address.
#[derive(Default)]
pub struct Known {
    kinds: HashMap<(String, String), String>,
    listeners: HashMap<String, SocketAddr>,
}

impl Known {
    pub fn new(listeners: impl IntoIterator<Item = (String, SocketAddr)>) -> Self {
        Known { kinds: HashMap::new(), listeners: listeners.into_iter().collect() }
    }

    /// Takes what a non-exchange entry says (a fault's kind).
    pub fn learn(&mut self, e: &Entry) {
        if e.kind == fields::TYPE_FAULT_ON {
            if let (Some(fault), Some(kind)) = (&e.fault, &e.fault_kind) {
                self.kinds.insert((e.target.clone(), fault.clone()), kind.clone());
            }
        }
    }

    fn kind(&self, listener: &str, fault: &str) -> Option<&str> {
        self.kinds.get(&(listener.to_string(), fault.to_string())).map(String::as_str)
    }
}

/// The span of a `request` or `connection` entry; `None` for any other.
pub fn of(e: &Entry, known: &Known) -> Option<Span> {
    let tcp = match e.kind.as_str() {
        fields::TYPE_REQUEST => false,
        fields::TYPE_CONNECTION => true,
        _ => return None,
    };
    let end = e.at.unwrap_or_else(SystemTime::now);
    let start = end.checked_sub(Duration::from_micros(e.latency_us.unwrap_or(0))).unwrap_or(end);
    let mut attrs = Vec::with_capacity(16);
    let failed;
    let name;
    if tcp {
        failed = e.error.is_some();
        name = format!("TCP {}", e.target);
        attrs.push(text("network.transport", "tcp"));
        attrs.push(int("brownout.bytes_in", e.bytes_in));
        attrs.push(int("brownout.bytes_out", e.bytes_out));
    } else {
        let method = e.method.as_deref().unwrap_or("_OTHER");
        let path = e.path.as_deref().unwrap_or("/");
        let template = route::template(path);
        failed = e.error.is_some() || e.status.is_none_or(is_failure) || e.grpc_status.is_some_and(|c| c != 0);
        name = format!("{method} {template}");
        attrs.push(text("http.request.method", method));
        attrs.push(text("url.path", path));
        attrs.push(text("http.route", &template));
        if let Some(status) = e.status {
            attrs.push(int("http.response.status_code", u64::from(status)));
        }
        if let Some(code) = e.grpc_status {
            attrs.push(int("rpc.grpc.status_code", u64::from(code)));
        }
        attrs.push(int("http.request.body.size", e.bytes_in));
        attrs.push(int("http.response.body.size", e.bytes_out));
    }
    if let Some(addr) = known.listeners.get(&e.target) {
        attrs.push(text("server.address", &addr.ip().to_string()));
        if addr.port() != 0 {
            attrs.push(int("server.port", u64::from(addr.port())));
        }
    }
    // error.type: what went wrong without an answer, else the failing status.
    let error_type = match (&e.error, e.status, e.grpc_status) {
        (Some(error), _, _) => Some(error.clone()),
        (None, _, Some(code)) if code != 0 => Some(crate::grpc::code_name(code)),
        (None, Some(status), _) if failed => Some(status.to_string()),
        (None, None, _) if failed => Some("no_response".to_string()),
        _ => None,
    };
    if let Some(t) = &error_type {
        attrs.push(text("error.type", t));
    }
    attrs.push(text("brownout.listener", &e.target));
    if failed {
        let origin = e.origin.unwrap_or(crate::record::journal::Origin::Upstream);
        attrs.push(text("brownout.origin", origin.as_str()));
    }
    if let Some(class) = e.class {
        attrs.push(text("brownout.class", class.as_str()));
    }
    let faults: Vec<&str> =
        e.fault.as_deref().map_or_else(Vec::new, |f| f.split(',').filter(|n| !n.is_empty()).collect());
    let mut events = injections(e, start);
    if !faults.is_empty() {
        attrs.push(text("brownout.fault.name", &faults.join(",")));
        let kinds: Vec<String> = faults
            .iter()
            .map(|f| known.kind(&e.target, f).or_else(|| event_kind(&events, f)).unwrap_or("unknown").to_string())
            .collect();
        attrs.push(text("brownout.fault.kind", &kinds.join(",")));
        // Where the data path kept no events (the plain path, TCP), each
        // fault applied still gets one, at the exchange's start.
        for (fault, kind) in faults.iter().zip(&kinds) {
            if !events.iter().any(|ev| attr(&ev.attributes, "brownout.fault.name") == Some(fault)) {
                events.push(span::Event {
                    time_unix_nano: nanos(start),
                    name: INJECTION_EVENT.into(),
                    attributes: vec![text("brownout.fault.name", fault), text("brownout.fault.kind", kind)],
                    dropped_attributes_count: 0,
                });
            }
        }
    }
    let server_error = match (e.status, &e.error) {
        (_, Some(_)) => true,
        (Some(s), None) => s >= 500 || e.grpc_status.is_some_and(|c| c != 0),
        (None, None) => failed,
    };
    let (trace_id, span_id) =
        (e.trace_id.unwrap_or_else(trace_context::trace_id), e.span_id.unwrap_or_else(trace_context::span_id));
    let remote = if e.parent_span_id.is_some() { HAS_IS_REMOTE | IS_REMOTE } else { HAS_IS_REMOTE };
    Some(Span {
        trace_id: trace_id.to_be_bytes().to_vec(),
        span_id: span_id.to_be_bytes().to_vec(),
        parent_span_id: e.parent_span_id.map_or_else(Vec::new, |p| p.to_be_bytes().to_vec()),
        flags: SAMPLED | remote,
        name,
        kind: span::SpanKind::Server as i32,
        start_time_unix_nano: nanos(start),
        end_time_unix_nano: nanos(end),
        attributes: attrs,
        events,
        status: server_error
            .then(|| Status { message: error_type.unwrap_or_default(), code: status::StatusCode::Error as i32 }),
        ..Span::default()
    })
}

/// The events the data path kept: one per fault applied, at the time it
/// was applied, with what it did (`brownout.fault.applied`).
fn injections(e: &Entry, start: SystemTime) -> Vec<span::Event> {
    let Some(lines) = &e.fault_events else { return Vec::new() };
    lines
        .lines()
        .filter_map(|line| {
            let mut parts = line.splitn(4, '\t');
            let offset: u64 = parts.next()?.parse().ok()?;
            let (name, kind, applied) = (parts.next()?, parts.next()?, parts.next().unwrap_or(""));
            Some(span::Event {
                time_unix_nano: nanos(start + Duration::from_micros(offset)),
                name: INJECTION_EVENT.into(),
                attributes: vec![
                    text("brownout.fault.name", name),
                    text("brownout.fault.kind", kind),
                    text("brownout.fault.applied", applied),
                ],
                dropped_attributes_count: 0,
            })
        })
        .collect()
}

fn event_kind<'a>(events: &'a [span::Event], fault: &str) -> Option<&'a str> {
    events
        .iter()
        .find(|ev| attr(&ev.attributes, "brownout.fault.name") == Some(fault))
        .and_then(|ev| attr(&ev.attributes, "brownout.fault.kind"))
}

fn attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a str> {
    attrs.iter().find(|kv| kv.key == key).and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
        any_value::Value::StringValue(s) => Some(s.as_str()),
        _ => None,
    })
}

pub fn text(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(any_value::Value::StringValue(value.into())) }),
        ..KeyValue::default()
    }
}

fn int(key: &str, value: u64) -> KeyValue {
    let value = i64::try_from(value).unwrap_or(i64::MAX);
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(any_value::Value::IntValue(value)) }),
        ..KeyValue::default()
    }
}

fn nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let known = Known::new([("payments".to_string(), "127.0.0.1:9001".parse().unwrap())]);
        let s = of(&request(), &known).expect("a span");
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
        assert_eq!(s.status.as_ref().map(|st| st.code), Some(status::StatusCode::Error as i32));
        assert_eq!(s.events.len(), 1);
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
        let s = of(&e, &known).expect("a span");
        assert_eq!(attr(&s.attributes, "brownout.fault.kind"), Some("outage"));
        assert_eq!(s.events.len(), 1);
        assert_eq!(attr(&s.events[0].attributes, "brownout.fault.kind"), Some("outage"));
        let ok = Entry { status: Some(200), fault: None, fault_events: None, origin: None, ..request() };
        let s = of(&ok, &known).expect("a span");
        assert!(s.status.is_none() && s.events.is_empty() && attr(&s.attributes, "error.type").is_none());
    }
}
