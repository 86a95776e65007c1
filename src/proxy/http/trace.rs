//! W3C trace context at an HTTP listener on hyper's path: which span of
//! brownout's a request gets, and, at the observer, the `traceparent` that
//! starts a trace for a request that came without one. A `traceparent`
//! brownout did not create is never changed: one that is there passes as it
//! came, valid or not.

use http::header::{HeaderName, HeaderValue};
use http::HeaderMap;

use crate::config::TraceContext;
use crate::trace_context::{self, SpanIds};

static TRACEPARENT: HeaderName = HeaderName::from_static(trace_context::TRACEPARENT);

/// brownout's span for a request with `headers` at a listener that treats
/// trace context as `mode`: under the caller's span when it sent one valid
/// `traceparent`, else the root of a trace of its own. At the observer, a
/// request with no `traceparent` at all gets brownout's, so the application
/// continues the trace. `None` when trace context is off, or when nothing
/// records the span and nothing is to be written.
pub fn span_for(headers: &mut HeaderMap, mode: TraceContext, recording: bool) -> Option<SpanIds> {
    match mode {
        TraceContext::Off => None,
        TraceContext::Read if !recording => None,
        TraceContext::Read => Some(SpanIds::under(parent(headers))),
        TraceContext::Propagate => {
            if headers.contains_key(&TRACEPARENT) {
                return recording.then(|| SpanIds::under(parent(headers)));
            }
            let ids = SpanIds::under(None);
            let value = HeaderValue::from_bytes(&ids.traceparent()).expect("a traceparent is hex digits and dashes");
            headers.insert(&TRACEPARENT, value);
            Some(ids)
        }
    }
}

/// The caller's span: one valid `traceparent`, else none (W3C: a field
/// sent twice cannot be told apart from a broken one).
fn parent(headers: &HeaderMap) -> Option<trace_context::Parent> {
    let mut values = headers.get_all(&TRACEPARENT).iter();
    let first = values.next()?;
    if values.next().is_some() {
        return None;
    }
    trace_context::parse(first.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn with(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(&TRACEPARENT, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn the_observer_continues_a_sent_trace_without_touching_its_header() {
        let mut h = with(&[SENT]);
        let ids = span_for(&mut h, TraceContext::Propagate, true).expect("span");
        assert_eq!(ids.trace_id, 0x4bf92f3577b34da6a3ce929d0e0e4736);
        assert_eq!(ids.parent_id, Some(0x00f067aa0ba902b7));
        assert_eq!(h, with(&[SENT]));
    }

    #[test]
    fn the_observer_starts_a_trace_and_forwards_its_span_as_the_parent() {
        let mut h = HeaderMap::new();
        let ids = span_for(&mut h, TraceContext::Propagate, false).expect("span");
        let sent = trace_context::parse(h[&TRACEPARENT].as_bytes()).expect("valid traceparent");
        assert_eq!((sent.trace_id, sent.span_id, sent.sampled), (ids.trace_id, ids.span_id, true));
        assert_eq!(ids.parent_id, None);
    }

    #[test]
    fn broken_or_doubled_headers_pass_as_they_came_and_the_span_starts_a_trace_of_its_own() {
        for values in [&["00-zz-broken"][..], &[SENT, SENT]] {
            let mut h = with(values);
            let ids = span_for(&mut h, TraceContext::Propagate, true).expect("span");
            assert_eq!(ids.parent_id, None);
            assert_ne!(ids.trace_id, 0x4bf92f3577b34da6a3ce929d0e0e4736);
            assert_eq!(h, with(values));
        }
    }

    #[test]
    fn a_target_only_reads_and_nothing_happens_when_off_or_unrecorded() {
        let mut h = HeaderMap::new();
        assert!(span_for(&mut h, TraceContext::Read, true).is_some_and(|i| i.parent_id.is_none()));
        assert!(h.is_empty(), "a target writes no traceparent");
        assert_eq!(span_for(&mut h, TraceContext::Read, false), None);
        assert_eq!(span_for(&mut h, TraceContext::Off, true), None);
        assert!(h.is_empty());
        let mut sent = with(&[SENT]);
        let ids = span_for(&mut sent, TraceContext::Read, true).expect("span");
        assert_eq!(ids.parent_id, Some(0x00f067aa0ba902b7));
        assert_eq!(sent, with(&[SENT]));
    }
}
