//! Faults a request chooses for itself by header, where its target allows
//! it: Envoy's `x-envoy-fault-*` headers with Envoy's meaning, and
//! brownout's own `x-brownout-fault`, whose value is a fault written as the
//! inside of a TOML inline table (`kind = "error", status = 503`) and
//! validated by the same rules and messages as a fault in a file.
//!
//! Reading is pure: the headers and the target's caps give the faults for
//! this one request, each with a fixed id so that its draw comes from the
//! request's seed like any other fault's.

use std::time::Duration;

use http::{HeaderMap, HeaderName, StatusCode};
use serde::Deserialize;

use super::raw::{RawFault, Toml};
use crate::config::{Complaint, HeaderFaults};
use crate::fault::{Distribution, Fault, HttpKind, Kind, LatencyPoint, OutageMode, Scope};

/// HTTP status to answer with, 200 to 599.
pub const ABORT: &str = "x-envoy-fault-abort-request";
/// gRPC status to answer with.
pub const ABORT_GRPC: &str = "x-envoy-fault-abort-grpc-request";
/// Milliseconds to wait before forwarding.
pub const DELAY: &str = "x-envoy-fault-delay-request";
/// KiB per second to send the response body at.
pub const THROUGHPUT: &str = "x-envoy-fault-throughput-response";
/// A fault of any kind a header may choose, as a TOML inline table's inside.
pub const BROWNOUT: &str = "x-brownout-fault";
/// Appended to an Envoy header's name: the share of requests (0 to 100) it applies to.
pub const PERCENTAGE: &str = "-percentage";

/// Every header read here, each Envoy one followed by its percentage:
/// these never reach the upstream of a target that takes header faults.
pub const NAMES: [&str; 9] = [
    ABORT,
    "x-envoy-fault-abort-request-percentage",
    ABORT_GRPC,
    "x-envoy-fault-abort-grpc-request-percentage",
    DELAY,
    "x-envoy-fault-delay-request-percentage",
    THROUGHPUT,
    "x-envoy-fault-throughput-response-percentage",
    BROWNOUT,
];

/// The ids of header faults: far from the config's (counted from 0) and
/// the admin API's (from 1,000,000), so their draws are their own.
const ID_BASE: u64 = 0xB0B0_0000_0000_0000;

/// The keys of a file's fault that say which traffic it touches over time:
/// a header fault is for its own request only.
const TRAFFIC_KEYS: [&str; 7] = ["target", "ramp", "first", "after", "lasting", "match", "opt_in"];

/// True when a field named `name` (as parsed from a request head) may be
/// a fault header: the plain pass-through then leaves its request to the
/// path that applies faults. A false alarm costs only that detour.
pub fn may_be_named(name: &str) -> bool {
    let starts = |prefix: &[u8]| name.as_bytes().get(..prefix.len()).is_some_and(|p| p.eq_ignore_ascii_case(prefix));
    starts(b"x-envoy-fault-") || starts(b"x-brownout-fault")
}

/// True when `headers` carry any header of [`NAMES`].
pub fn present(headers: &HeaderMap) -> bool {
    NAMES.iter().any(|n| headers.contains_key(*n))
}

/// Removes every header of [`NAMES`].
pub fn strip(headers: &mut HeaderMap) {
    for name in NAMES {
        headers.remove(name);
    }
}

/// The faults the headers ask for, in the order of [`NAMES`] (the
/// `x-brownout-fault` lines in theirs); an error names the header, the
/// value and what was expected, for a 400 answer.
pub fn read(headers: &HeaderMap, policy: &HeaderFaults) -> Result<Vec<Fault>, String> {
    let mut faults = Vec::new();
    if let Some(status) = value(headers, ABORT)? {
        let code = whole(status).filter(|c| (200..600).contains(c));
        let code = code.and_then(|c| StatusCode::from_u16(c as u16).ok());
        let status = code.ok_or_else(|| expected(ABORT, status, "an HTTP status from 200 to 599"))?;
        let kind = HttpKind::Error { status, headers: Vec::new(), body: "fault filter abort".into() };
        faults.push(envoy(headers, ABORT, 0, kind)?);
    }
    if let Some(code) = value(headers, ABORT_GRPC)? {
        // 0 is OK, which is no abort.
        let form = "a gRPC status code from 1 to 16";
        let code = whole(code).filter(|c| (1..=16).contains(c)).ok_or_else(|| expected(ABORT_GRPC, code, form))?;
        let kind = HttpKind::GrpcError { code: code as u16, message: "fault filter abort".into(), headers: Vec::new() };
        faults.push(envoy(headers, ABORT_GRPC, 3, kind)?);
    }
    if let Some(ms) = value(headers, DELAY)? {
        let ms = whole(ms).ok_or_else(|| expected(DELAY, ms, "a whole number of milliseconds"))?;
        let delay = Distribution::Fixed(Duration::from_millis(ms));
        faults.push(envoy(headers, DELAY, 1, HttpKind::Latency { delay, at: LatencyPoint::Request })?);
    }
    if let Some(kib) = value(headers, THROUGHPUT)? {
        let rate = whole(kib).filter(|k| *k > 0).and_then(|k| k.checked_mul(1024));
        let rate = rate.ok_or_else(|| expected(THROUGHPUT, kib, "a whole number of KiB per second, at least 1"))?;
        faults.push(envoy(headers, THROUGHPUT, 2, HttpKind::Bandwidth { bytes_per_second: rate })?);
    }
    for (i, line) in headers.get_all(BROWNOUT).iter().enumerate() {
        let text = line.to_str().map_err(|_| format!("{BROWNOUT}: the value is not text"))?;
        faults.push(brownout(text, ID_BASE + 16 + i as u64)?);
    }
    for fault in &faults {
        check_allowed(fault, policy)?;
    }
    Ok(faults)
}

/// A header's value as text, if it is present.
fn value<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, String> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => v.to_str().map(|s| Some(s.trim())).map_err(|_| format!("{name}: the value is not text")),
    }
}

/// A whole number written in digits only (Envoy's headers take no sign, unit or fraction).
fn whole(text: &str) -> Option<u64> {
    text.parse::<u64>().ok().filter(|_| text.bytes().all(|b| b.is_ascii_digit()))
}

fn expected(name: &str, got: &str, form: &str) -> String {
    format!("{name} must be {form}, got {got:?}")
}

/// An Envoy header's fault, with the share of its `-percentage` companion.
fn envoy(headers: &HeaderMap, name: &str, n: u64, kind: HttpKind) -> Result<Fault, String> {
    let companion = HeaderName::from_bytes(format!("{name}{PERCENTAGE}").as_bytes()).map_err(|e| e.to_string())?;
    let mut scope = Scope::default();
    if let Some(p) = value(headers, companion.as_str())? {
        let share = whole(p).filter(|p| *p <= 100);
        let share = share.ok_or_else(|| expected(companion.as_str(), p, "a whole number from 0 to 100"))?;
        scope.probability = share as f64 / 100.0;
    }
    Ok(Fault { id: ID_BASE + n, name: format!("header:{name}"), kind: Kind::Http(kind), scope })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Wrapped {
    f: RawFault<Toml>,
}

/// `x-brownout-fault: kind = "error", status = 503`: read as a file's
/// fault, so that its keys, values and messages are a file's.
fn brownout(text: &str, id: u64) -> Result<Fault, String> {
    let say = |key: &str, message: &str, hint: Option<&str>| {
        let mut m =
            if key.is_empty() { format!("{BROWNOUT}: {message}") } else { format!("{BROWNOUT}: {key} {message}") };
        if let Some(h) = hint {
            m.push_str("; ");
            m.push_str(h);
        }
        m
    };
    let document = format!("f = {{ {text} }}");
    let de = toml::Deserializer::parse(&document).map_err(|e| {
        let message = format!(
            "must be a fault's keys as in a TOML inline table, such as kind = \"error\", status = 503, but {}",
            e.message().trim()
        );
        say("", &message, None)
    })?;
    let wrapped: Wrapped = serde_path_to_error::deserialize(de).map_err(|e| {
        let complaint = Complaint::new(e.path(), e.inner().message());
        let key = complaint.key.strip_prefix("f.").unwrap_or(&complaint.key).to_string();
        say(&key, &complaint.message, complaint.hint.as_deref())
    })?;
    let raw = wrapped.f;
    if let Some((key, _)) = raw.present().into_iter().find(|(k, _)| TRAFFIC_KEYS.contains(k)) {
        return Err(say(key, "does not apply to a fault chosen by header, which is for its own request only", None));
    }
    let kind = raw.kind.get_ref().clone();
    let mut fault = super::validate(&raw, true, id, &kind).map_err(|p| say(&p.key, &p.message, p.hint.as_deref()))?;
    // Commas separate the names of the faults a request met.
    fault.name = format!("header:{}", fault.name.replace(',', ";"));
    Ok(fault)
}

/// Refuses a kind one request cannot ask for, or one the target's caps leave out.
fn check_allowed(fault: &Fault, policy: &HeaderFaults) -> Result<(), String> {
    let source = fault.name.strip_prefix("header:").unwrap_or(&fault.name);
    let source = if source.starts_with("x-envoy-") { source } else { BROWNOUT };
    let name = fault.kind.name();
    let per_request = matches!(
        fault.kind,
        Kind::Http(
            HttpKind::Latency { .. }
                | HttpKind::Error { .. }
                | HttpKind::Reset { .. }
                | HttpKind::GrpcError { .. }
                | HttpKind::Hang
                | HttpKind::Bandwidth { .. }
                | HttpKind::Truncate { .. }
                | HttpKind::Outage { mode: OutageMode::Reset | OutageMode::Status(_) | OutageMode::Hang }
        )
    );
    if !per_request {
        return Err(format!(
            "{source}: a {name} fault{} acts on more than one request and cannot be chosen by header; use the admin API or an experiment",
            if name == "outage" { " with mode = \"refuse\"" } else { "" }
        ));
    }
    if !policy.kinds.contains(&name) {
        return Err(format!(
            "{source}: this target's header_faults.kinds does not allow {name} faults; it allows: {}",
            policy.kinds.join(", ")
        ));
    }
    // Unbounded distributions are cut at max_delay as they wait.
    let longest = match &fault.kind {
        Kind::Http(HttpKind::Latency { delay: Distribution::Fixed(d), .. }) => Some(*d),
        Kind::Http(HttpKind::Latency { delay: Distribution::Uniform { max, .. }, .. }) => Some(*max),
        _ => None,
    };
    if let Some(d) = longest.filter(|d| *d > policy.max_delay) {
        return Err(format!(
            "{source}: a delay of {d:?} is longer than this target's header_faults.max_delay of {:?}",
            policy.max_delay
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(HeaderName::from_bytes(k.as_bytes()).expect("name"), HeaderValue::from_str(v).expect("value"));
        }
        h
    }

    fn described(pairs: &[(&str, &str)]) -> Result<Vec<String>, String> {
        read(&headers(pairs), &HeaderFaults::default()).map(|fs| fs.iter().map(Fault::describe).collect())
    }

    #[test]
    fn envoy_headers_mean_what_they_mean_to_envoy() {
        assert_eq!(
            described(&[(ABORT, "503"), ("x-envoy-fault-abort-request-percentage", "25")]),
            Ok(vec!["header:x-envoy-fault-abort-request: error status 503, 25%".to_string()])
        );
        assert_eq!(
            described(&[(DELAY, "150")]),
            Ok(vec!["header:x-envoy-fault-delay-request: latency 150ms before request, 100%".to_string()])
        );
        assert_eq!(
            described(&[(THROUGHPUT, "64")]),
            Ok(vec!["header:x-envoy-fault-throughput-response: bandwidth 65536 B/s, 100%".to_string()])
        );
        assert_eq!(
            described(&[(ABORT_GRPC, "14"), ("x-envoy-fault-abort-grpc-request-percentage", "50")]),
            Ok(vec!["header:x-envoy-fault-abort-grpc-request: grpc_error UNAVAILABLE, 50%".to_string()])
        );
        assert_eq!(described(&[]), Ok(vec![]));
    }

    #[test]
    fn bad_values_name_the_header_the_value_and_the_form() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[(ABORT, "700")], r#"x-envoy-fault-abort-request must be an HTTP status from 200 to 599, got "700""#),
            (&[(ABORT, "abc")], r#"x-envoy-fault-abort-request must be an HTTP status from 200 to 599, got "abc""#),
            (
                &[(ABORT, "503"), ("x-envoy-fault-abort-request-percentage", "150")],
                r#"x-envoy-fault-abort-request-percentage must be a whole number from 0 to 100, got "150""#,
            ),
            (&[(DELAY, "-5")], r#"x-envoy-fault-delay-request must be a whole number of milliseconds, got "-5""#),
            (&[(DELAY, "60000")], "x-envoy-fault-delay-request: a delay of 60s is longer than this target's header_faults.max_delay of 30s"),
            (&[(THROUGHPUT, "0")], r#"x-envoy-fault-throughput-response must be a whole number of KiB per second, at least 1, got "0""#),
            (&[(BROWNOUT, r#"kind = "eror""#)], r#"x-brownout-fault: kind must be one of the http fault kinds: latency, error, rate_limit, reset, hang, bandwidth, truncate, pool_exhaustion, outage, grpc_error, goaway; got "eror"; did you mean `error`?"#),
            (&[(BROWNOUT, r#"kind = "error", status = 700"#)], "x-brownout-fault: status must be an HTTP status from 100 to 599, got 700"),
            (&[(BROWNOUT, r#"kind = "error", stauts = 503"#)], "x-brownout-fault: stauts is not a known key"),
            (&[(BROWNOUT, "kind = error")], "x-brownout-fault: must be a fault's keys as in a TOML inline table"),
            (&[(BROWNOUT, r#"kind = "error", status = 503, first = 3"#)], "x-brownout-fault: first does not apply to a fault chosen by header"),
            (&[(BROWNOUT, r#"kind = "rate_limit", rate = "5/s""#)], "x-brownout-fault: a rate_limit fault acts on more than one request"),
            (&[(BROWNOUT, r#"kind = "outage", mode = "refuse""#)], "x-brownout-fault: a outage fault with mode = \"refuse\" acts on more than one request"),
            (&[(ABORT_GRPC, "0")], r#"x-envoy-fault-abort-grpc-request must be a gRPC status code from 1 to 16, got "0""#),
        ];
        for (pairs, want) in cases {
            let got = described(pairs).expect_err("refused");
            assert!(got.starts_with(want), "{pairs:?}:\n got  {got}\n want {want}");
        }
    }

    #[test]
    fn brownouts_own_header_names_any_per_request_kind_with_a_files_keys() {
        let got = described(&[
            (BROWNOUT, r#"kind = "latency", distribution = "uniform", min = "5ms", max = "10ms", at = "response""#),
            (BROWNOUT, r#"kind = "error", status = 429, body = "slow down", probability = 0.5, name = "quota""#),
        ]);
        assert_eq!(
            got,
            Ok(vec![
                "header:latency: latency uniform(5ms..10ms) before response, 100%".to_string(),
                "header:quota: error status 429, 50%".to_string(),
            ])
        );
    }

    #[test]
    fn caps_limit_the_kinds_and_the_delays() {
        let policy = HeaderFaults { max_delay: Duration::from_millis(100), max_active: None, kinds: vec!["latency"] };
        let read_with = |pairs: &[(&str, &str)]| read(&headers(pairs), &policy).map(|f| f.len());
        assert_eq!(read_with(&[(DELAY, "100")]), Ok(1));
        assert!(read_with(&[(DELAY, "101")]).unwrap_err().contains("max_delay of 100ms"));
        assert!(read_with(&[(ABORT, "503")]).unwrap_err().contains("does not allow error faults; it allows: latency"));
    }

    #[test]
    fn every_fault_header_name_is_one_the_plain_path_leaves_alone() {
        for name in NAMES {
            assert!(may_be_named(name) && may_be_named(&name.to_uppercase()), "{name}");
        }
        for name in ["host", "x-envoy-faul", "x-brownout", "content-length"] {
            assert!(!may_be_named(name), "{name}");
        }
    }
}
