//! Faults as written in files (`[[target.fault]]` and experiment phases) and
//! in the admin API's JSON bodies, validated into [`crate::fault::Fault`].
//!
//! `raw.rs` is the serde mirror of one fault, generic over its [`Source`]: a
//! TOML file keeps each value's position, JSON has none; `http.rs` and
//! `tcp.rs` turn a kind's keys into its parameters; `scope.rs` reads the keys
//! that say which traffic a fault touches; `params.rs` holds the checks they
//! share; `header.rs` reads the faults a request chooses by header. Which
//! kinds exist and which keys each takes is the table in
//! [`crate::fault::kinds`]. This file holds the entry points: [`validate`]
//! and [`from_json`].

pub mod header;
mod http;
mod params;
mod raw;
mod scope;
mod tcp;

use super::error::did_you_mean;
use super::Complaint;
use crate::fault::kinds::{KindSpec, Protocol};
use crate::fault::{Fault, HttpKind, Kind, OutageMode, Scope, TcpKind};

pub use http::grpc_codes;
pub use params::{parse_byte_rate, parse_request_rate};
pub use raw::{
    Bare, Json, Located, Number, NumberOrName, OneOrMany, RawFault, RawHeaderRule, RawHeaderTest, RawMatch, RawRamp,
    Source, Toml, OPTIONAL_KEYS,
};

/// The position of a problem and what to say.
pub struct FaultProblem {
    pub offset: usize,
    /// The key under the fault, such as `status` or `match.path`.
    pub key: String,
    pub message: String,
    pub hint: Option<String>,
}

/// What checking a fault key gives: its value, or the problem with it.
pub type FaultResult<T> = Result<T, FaultProblem>;

fn problem(offset: usize, key: &str, message: impl Into<String>) -> FaultProblem {
    FaultProblem { offset, key: key.to_string(), message: message.into(), hint: None }
}

/// Validates one fault of a target of protocol `http` (else `tcp`). `id` and
/// `default_name` come from the fault's place in the file.
pub fn validate<S: Source>(raw: &RawFault<S>, http: bool, id: u64, default_name: &str) -> FaultResult<Fault> {
    let spec = spec(raw, if http { Protocol::Http } else { Protocol::Tcp })?;
    check_keys(raw, spec)?;
    let kind = if http { Kind::Http(http::kind(raw, spec.name)?) } else { tcp::kind(raw, spec.name)? };
    let scope = scope::read(raw, http)?;
    if matches!(
        kind,
        Kind::Http(HttpKind::Outage { mode: OutageMode::Refuse })
            | Kind::Tcp(TcpKind::Outage { mode: OutageMode::Refuse }, _)
    ) && scope != Scope::default()
    {
        let (key, offset) =
            raw.present().into_iter().find(|(k, _)| NARROWING.contains(k)).unwrap_or(("mode", raw.kind.span().start));
        let mut p =
            problem(offset, key, "cannot narrow an outage with mode = \"refuse\", which closes the whole listener");
        p.hint = Some("remove match, opt_in, probability, first, after and lasting, or use mode = \"reset\"".into());
        return Err(p);
    }
    let name = raw.name.as_ref().map_or_else(|| default_name.to_string(), |n| n.get_ref().clone());
    Ok(Fault { id, name, kind, scope })
}

/// The keys that narrow a fault to some of the traffic.
const NARROWING: [&str; 6] = ["probability", "first", "after", "lasting", "match", "opt_in"];

/// The row of the table of kinds that the fault's `kind` names.
fn spec<S: Source>(raw: &RawFault<S>, protocol: Protocol) -> FaultResult<&'static KindSpec> {
    let name = raw.kind.get_ref().as_str();
    if let Some(spec) = protocol.kind(name) {
        return Ok(spec);
    }
    let known: Vec<&str> = protocol.kinds().map(|k| k.name).collect();
    let mut p = problem(
        raw.kind.span().start,
        "kind",
        format!("must be one of the {} fault kinds: {}; got {name:?}", protocol.name(), known.join(", ")),
    );
    p.hint = did_you_mean(name, known).map(|s| format!("did you mean `{s}`?"));
    if p.hint.is_none() && protocol.other().kind(name).is_some() {
        p.hint = Some(format!("{name} is a fault of {} targets", protocol.other().name()));
    }
    Err(p)
}

/// Refuses the first key the fault's kind does not take.
fn check_keys<S: Source>(raw: &RawFault<S>, spec: &KindSpec) -> FaultResult<()> {
    let Some((key, offset)) = raw.present().into_iter().find(|(key, _)| !spec.takes(key)) else {
        return Ok(());
    };
    let article = if spec.protocol == Protocol::Http { "an" } else { "a" };
    let mut p =
        problem(offset, key, format!("does not apply to {article} {} {} fault", spec.protocol.name(), spec.name));
    let other = spec.protocol.other();
    p.hint = Some(if other.common_keys().any(|c| c == key) {
        format!("{key} applies to {} faults only", other.name())
    } else if spec.keys.is_empty() {
        format!("a {} fault takes only the common keys", spec.name)
    } else {
        format!("a {} fault takes: {}", spec.name, spec.keys.join(", "))
    });
    Err(p)
}

/// Validates a fault written as JSON (the admin API's bodies): the same keys,
/// the same rules, and messages that name the key path, the value and the
/// expected form. The JSON is read straight into the raw form, which holds
/// its values [`Bare`] since JSON gives no positions to report.
pub fn from_json(value: serde_json::Value, http: bool, id: u64) -> Result<Fault, String> {
    let object: serde_json::Map<String, serde_json::Value> =
        serde_json::from_value(value).map_err(|e| format!("the fault must be a JSON object of fault keys: {e}"))?;
    if let Some(key) = first_null(&object) {
        return Err(json_message(&key, "must not be null", Some("leave the key out for its default")));
    }
    let raw: RawFault<Json> = serde_path_to_error::deserialize(serde_json::Value::Object(object)).map_err(|e| {
        let complaint = Complaint::new(e.path(), &e.inner().to_string());
        json_message(&complaint.key, &complaint.message, complaint.hint.as_deref())
    })?;
    if raw.target.is_some() || raw.ramp.is_some() {
        return Err("fault.target and fault.ramp belong in experiment files; the target is in the URL".into());
    }
    let default_name = raw.kind.get_ref().clone();
    validate(&raw, http, id, &default_name).map_err(|p| json_message(&p.key, &p.message, p.hint.as_deref()))
}

/// `fault.<key> <message>; <hint>`, as the admin API answers.
fn json_message(key: &str, message: &str, hint: Option<&str>) -> String {
    let mut m = if key.is_empty() { format!("fault {message}") } else { format!("fault.{key} {message}") };
    if let Some(h) = hint {
        m.push_str("; ");
        m.push_str(h);
    }
    m
}

/// The key path of the first null in a JSON fault. A file cannot say null,
/// so neither can a body: leaving a key out is the one way to its default.
fn first_null(object: &serde_json::Map<String, serde_json::Value>) -> Option<String> {
    fn walk(value: &serde_json::Value, path: String) -> Option<String> {
        match value {
            serde_json::Value::Null => Some(path),
            serde_json::Value::Object(map) => map.iter().find_map(|(k, v)| walk(v, format!("{path}.{k}"))),
            serde_json::Value::Array(items) => {
                items.iter().enumerate().find_map(|(i, v)| walk(v, format!("{path}[{i}]")))
            }
            _ => None,
        }
    }
    object.iter().find_map(|(k, v)| walk(v, k.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::kinds::KINDS;

    #[test]
    fn the_table_of_kinds_and_the_raw_form_know_the_same_keys() {
        for spec in &KINDS {
            for key in spec.keys.iter().copied().chain(spec.protocol.common_keys()) {
                assert!(raw::OPTIONAL_KEYS.contains(&key), "{} takes {key}, which no file can say", spec.name);
            }
        }
        for key in raw::OPTIONAL_KEYS {
            assert!(KINDS.iter().any(|spec| spec.takes(key)), "no kind takes {key}");
        }
    }

    /// What a JSON fault says back: its description, or the message the admin API answers with.
    fn from_json_text(text: &str, http: bool) -> Result<String, String> {
        let value: serde_json::Value = serde_json::from_str(text).expect("the test's JSON is valid");
        from_json(value, http, 1).map(|f| f.describe())
    }

    #[test]
    fn json_faults_meet_the_file_rules_and_messages_name_the_key_path() {
        let cases: &[(&str, bool, Result<&str, &str>)] = &[
            (r#"{"kind":"error","status":700}"#, true, Err("fault.status must be an HTTP status from 100 to 599, got 700")),
            (r#"{"kind":"latncy"}"#, true, Err(r#"fault.kind must be one of the http fault kinds: latency, error, rate_limit, reset, hang, bandwidth, truncate, pool_exhaustion, outage, grpc_error, goaway; got "latncy"; did you mean `latency`?"#)),
            (r#"{"kind":"slicer"}"#, true, Err(r#"fault.kind must be one of the http fault kinds: latency, error, rate_limit, reset, hang, bandwidth, truncate, pool_exhaustion, outage, grpc_error, goaway; got "slicer"; slicer is a fault of tcp targets"#)),
            (r#"{"kind":"error"}"#, true, Err("fault.status is required by an error fault; add status = 503")),
            (r#"{"kind":"error","status":"503"}"#, true, Err(r#"fault.status must be a whole number, got string "503""#)),
            (r#"{"kind":"error","status":503.0}"#, true, Err("fault.status must be a whole number, got floating point `503.0`")),
            (r#"{"kind":"error","stauts":503}"#, true, Err("fault.stauts is not a known key; expected one of: name, kind, target, probability, first, after, lasting, match, opt_in, direction, delay, jitter, distribution, min, max, limit, mean, stddev, scale, shape, at, status, headers, body, rate, burst, bytes, when_full, queue_timeout, timeout_status, mode, average_size, size_variation, timeout, code, message, error_code, ramp; did you mean `status`?")),
            (r#"{"status":503}"#, true, Err("fault is missing the key `kind`")),
            (r#"{"kind":7}"#, true, Err("fault.kind must be a string, got integer `7`")),
            ("[1,2]", true, Err("the fault must be a JSON object of fault keys: invalid type: sequence, expected a map")),
            (r#""abc""#, true, Err(r#"the fault must be a JSON object of fault keys: invalid type: string "abc", expected a map"#)),
            (r#"{"kind":"latency","delay":5}"#, true, Err(r#"fault.delay must be a duration such as "250ms", "30s" or "2m", got integer `5`"#)),
            (r#"{"kind":"latency","delay":"5 parsecs"}"#, true, Err(r#"fault.delay must be a duration such as "250ms", "30s" or "2m", got "5 parsecs" (it has an unknown unit `parsecs`)"#)),
            (r#"{"kind":"latency","delay":"5ms","probability":1.5}"#, true, Err("fault.probability must be between 0 and 1, got 1.5")),
            (r#"{"kind":"latency","delay":"5ms","first":-1}"#, true, Err("fault.first invalid value: integer `-1`, expected u64")),
            (r#"{"kind":"latency","delay":"5ms","match":{"path":5}}"#, true, Err("fault.match.path must be a string, got integer `5`")),
            (r#"{"kind":"latency","delay":"5ms","match":{"pth":"/x"}}"#, true, Err("fault.match.pth is not a known key; expected one of: method, path, headers, query, client; did you mean `path`?")),
            (r#"{"kind":"latency","delay":"5ms","match":{"method":5}}"#, true, Err("fault.match.method data did not match any variant of untagged enum OneOrMany")),
            (r#"{"kind":"latency","delay":"5ms","match":{"headers":{"x":5}}}"#, true, Err("fault.match.headers.x data did not match any variant of untagged enum RawHeaderTest")),
            (r#"{"kind":"latency","delay":"5ms","match":"x"}"#, true, Err(r#"fault.match must be struct RawMatch, got string "x""#)),
            (r#"{"kind":"error","status":503,"headers":{"x":1}}"#, true, Err("fault.headers.x must be a string, got integer `1`")),
            (r#"{"kind":"error","status":503,"target":"t"}"#, true, Err("fault.target and fault.ramp belong in experiment files; the target is in the URL")),
            (r#"{"kind":"latency","delay":"5ms","ramp":{"steps":2}}"#, true, Err("fault.target and fault.ramp belong in experiment files; the target is in the URL")),
            (r#"{"kind":"latency","delay":"5ms","direction":"up"}"#, true, Err("fault.direction does not apply to an http latency fault; direction applies to tcp faults only")),
            (r#"{"kind":"latency","delay":"5ms","direction":"up"}"#, false, Err(r#"fault.direction must be one of: upstream, downstream, both; got "up""#)),
            (r#"{"kind":"latency","delay":"5ms","jitter":"1ms","name":"x"}"#, false, Ok("x: latency 5ms ± 1ms downstream, 100%")),
            (r#"{"kind":"latency","delay":"5ms","status":503}"#, false, Err("fault.status does not apply to a tcp latency fault; a latency fault takes: delay, jitter")),
            (r#"{"kind":"latency","delay":"5ms","burst":-3}"#, true, Err("fault.burst invalid value: integer `-3`, expected u32")),
            (r#"{"kind":"rate_limit","rate":"5/s","burst":5000000000}"#, true, Err("fault.burst invalid value: integer `5000000000`, expected u32")),
            (r#"{"kind":"error","status":"x","match":{"path":5}}"#, true, Err("fault.match.path must be a string, got integer `5`")),
            (r#"{"kind":"error","status":503,"ramp":{"steps":"x"}}"#, true, Err(r#"fault.ramp.steps must be a whole number, 0 or more, got string "x""#)),
            (r#"{"kind":"error","status":503,"probability":true}"#, true, Err("fault.probability must be a number, got boolean `true`")),
            (r#"{"kind":"latency","delay":"5ms","match":{"client":"nope"}}"#, true, Err(r#"fault.match.client must be an address or range such as "10.0.0.0/8": "nope" is not an IP address"#)),
            (r#"{"kind":"latency","delay":"5ms","opt_in":"x-a: b"}"#, false, Err("fault.opt_in applies only to http faults")),
            (r#"{"kind":"latency","delay":"5ms","name":["a"]}"#, true, Err("fault.name must be a string, got sequence")),
            ("{}", true, Err("fault is missing the key `kind`")),
            (r#"{"kind":"error","status":null}"#, true, Err("fault.status must not be null; leave the key out for its default")),
            (r#"{"kind":"latency","delay":"5ms","match":{"method":["GET",null]}}"#, true, Err("fault.match.method[1] must not be null; leave the key out for its default")),
            (r#"{"kind":"latency","delay":"5ms","first":3.0}"#, true, Err("fault.first must be a whole number, 0 or more, got floating point `3.0`")),
            (r#"{"kind":"error","status":503,"stauts":5,"probability":"x"}"#, true, Err(r#"fault.probability must be a number, got string "x""#)),
            (r#"{"kind":"latency","delay":"5ms","match":{"method":["GET",5]}}"#, true, Err("fault.match.method data did not match any variant of untagged enum OneOrMany")),
            (r#"{"kind":"error","status":503,"probability":0.5,"first":3,"match":{"method":["GET","head"],"path":"/v1/*","headers":{"x-a":{"regex":"^b"}},"client":"10.0.0.0/8"}}"#, true, Ok("error: error status 503 on GET|HEAD /v1/*, header x-a, clients 10.0.0.0/8, 50%, first 3")),
            (r#"{"kind":"pool_exhaustion","limit":2,"when_full":"queue","queue_timeout":"1s","timeout_status":504,"opt_in":"x-brownout: on"}"#, true, Ok("pool_exhaustion: pool_exhaustion limit 2, queue up to 1s then 504 on opt-in x-brownout, 100%")),
            (r#"{"kind":"slicer","average_size":64,"size_variation":8,"delay":"1ms","direction":"both","match":{"client":"127.0.0.1"}}"#, false, Ok("slicer: slicer 64±8 B every 1ms both on clients 127.0.0.1/32, 100%")),
            (r#"{"kind":"grpc_error","code":"unavailable","message":"down","match":{"path":"/shop.Pricing/*"}}"#, true, Ok("grpc_error: grpc_error UNAVAILABLE on /shop.Pricing/*, 100%")),
            (r#"{"kind":"grpc_error","code":17}"#, true, Err("fault.code must be a gRPC status from 1 to 16 (0 is OK), got 17")),
            (r#"{"kind":"grpc_error","code":"UNAVAILABLE"}"#, false, Err(r#"fault.kind must be one of the tcp fault kinds: latency, bandwidth, slow_close, timeout, reset_peer, slicer, limit_data, pool_exhaustion, outage; got "grpc_error"; grpc_error is a fault of http targets"#)),
            (r#"{"kind":"reset","error_code":"REFUSED_STREAM"}"#, true, Ok("reset: reset HTTP/2 REFUSED_STREAM, 100%")),
            (r#"{"kind":"goaway","first":1}"#, true, Ok("goaway: goaway, 100%, first 1")),
        ];
        for (json, http, want) in cases {
            let got = from_json_text(json, *http);
            assert_eq!(got.as_deref().map_err(String::as_str), *want, "{json}");
        }
    }
}
