//! Faults as written in files (`[[target.fault]]` and experiment phases) and
//! in the admin API's JSON bodies, validated into [`crate::fault::Fault`].
//!
//! `raw.rs` is the serde mirror of one fault; `http.rs` and `tcp.rs` turn a
//! kind's keys into its parameters; `scope.rs` reads the keys that say which
//! traffic a fault touches; `params.rs` holds the checks they share. This file
//! holds the entry points: [`validate`] and [`from_json`].

mod http;
mod params;
mod raw;
mod scope;
mod tcp;

use super::error::did_you_mean;
use crate::fault::kinds::{HTTP_KINDS, TCP_KINDS};
use crate::fault::{Fault, HttpKind, Kind, OutageMode, Scope, TcpKind};

pub use params::{parse_byte_rate, parse_request_rate};
pub use raw::{Number, OneOrMany, RawFault, RawHeaderRule, RawHeaderTest, RawMatch, RawRamp};

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

const COMMON: [&str; 9] = ["name", "target", "probability", "first", "after", "lasting", "match", "opt_in", "ramp"];

fn http_keys(kind: &str) -> &'static [&'static str] {
    match kind {
        "latency" => &["delay", "distribution", "min", "max", "mean", "stddev", "scale", "shape", "at"],
        "error" => &["status", "headers", "body"],
        "rate_limit" => &["rate", "burst"],
        "bandwidth" => &["rate"],
        "truncate" => &["bytes"],
        "pool_exhaustion" => &["limit", "when_full", "queue_timeout", "timeout_status"],
        "outage" => &["mode", "status"],
        _ => &[],
    }
}

fn tcp_keys(kind: &str) -> &'static [&'static str] {
    match kind {
        "latency" => &["delay", "jitter"],
        "bandwidth" => &["rate"],
        "slow_close" => &["delay"],
        "timeout" | "reset_peer" => &["timeout"],
        "slicer" => &["average_size", "size_variation", "delay"],
        "limit_data" => &["bytes"],
        "pool_exhaustion" => &["limit", "when_full", "queue_timeout"],
        "outage" => &["mode"],
        _ => &[],
    }
}

/// Validates one fault of a target of protocol `http` (else `tcp`). `id` and
/// `default_name` come from the fault's place in the file.
pub fn validate(raw: &RawFault, http: bool, id: u64, default_name: &str) -> FaultResult<Fault> {
    let kind_name = raw.kind.get_ref().as_str();
    let known: &[&str] = if http { &HTTP_KINDS } else { &TCP_KINDS };
    let protocol = if http { "http" } else { "tcp" };
    if !known.contains(&kind_name) {
        let mut p = problem(
            raw.kind.span().start,
            "kind",
            format!("must be one of the {protocol} fault kinds: {}; got {kind_name:?}", known.join(", ")),
        );
        p.hint = did_you_mean(kind_name, known.iter().copied()).map(|s| format!("did you mean `{s}`?"));
        let other: &[&str] = if http { &TCP_KINDS } else { &HTTP_KINDS };
        if p.hint.is_none() && other.contains(&kind_name) {
            p.hint = Some(format!("{kind_name} is a fault of {} targets", if http { "tcp" } else { "http" }));
        }
        return Err(p);
    }
    let specific = if http { http_keys(kind_name) } else { tcp_keys(kind_name) };
    for (key, offset) in raw.present() {
        let allowed = COMMON.contains(&key) || specific.contains(&key) || (!http && key == "direction");
        if !allowed {
            let takes: Vec<&str> = specific.to_vec();
            let mut p = problem(
                offset,
                key,
                format!("does not apply to {} {protocol} {kind_name} fault", if http { "an" } else { "a" }),
            );
            p.hint = Some(if takes.is_empty() {
                format!("a {kind_name} fault takes only the common keys")
            } else {
                format!("a {kind_name} fault takes: {}", takes.join(", "))
            });
            if key == "direction" {
                p.hint = Some("direction applies to tcp faults only".into());
            }
            return Err(p);
        }
    }
    let kind = if http { Kind::Http(http::kind(raw, kind_name)?) } else { tcp::kind(raw, kind_name)? };
    let scope = scope::read(raw, http)?;
    if matches!(
        kind,
        Kind::Http(HttpKind::Outage { mode: OutageMode::Refuse })
            | Kind::Tcp(TcpKind::Outage { mode: OutageMode::Refuse }, _)
    ) && scope != Scope::default()
    {
        let (key, offset) =
            raw.present().into_iter().find(|(k, _)| COMMON[2..].contains(k)).unwrap_or(("mode", raw.kind.span().start));
        let mut p =
            problem(offset, key, "cannot narrow an outage with mode = \"refuse\", which closes the whole listener");
        p.hint = Some("remove match, opt_in, probability, first, after and lasting, or use mode = \"reset\"".into());
        return Err(p);
    }
    let name = raw.name.as_ref().map_or_else(|| default_name.to_string(), |n| n.get_ref().clone());
    Ok(Fault { id, name, kind, scope })
}

/// Validates a fault written as JSON (the admin API's bodies): the same keys,
/// the same rules, and messages that name the key, the value and the
/// expected form.
pub fn from_json(value: serde_json::Value, http: bool, id: u64) -> Result<Fault, String> {
    let table: toml::Table =
        serde_json::from_value(value).map_err(|e| format!("the fault must be a JSON object of fault keys: {e}"))?;
    let text = toml::to_string(&table).map_err(|e| format!("the fault cannot be read: {e}"))?;
    let loc = super::Locator { file: "body", text: &text };
    let raw: RawFault = super::deserialize(&loc).map_err(|e| {
        e.problems().first().map_or_else(
            || e.to_string(),
            |p| {
                let mut m = format!("fault.{} {}", p.key, p.message);
                if let Some(h) = &p.hint {
                    m.push_str("; ");
                    m.push_str(h);
                }
                m
            },
        )
    })?;
    if raw.target.is_some() || raw.ramp.is_some() {
        return Err("fault.target and fault.ramp belong in experiment files; the target is in the URL".into());
    }
    let default_name = raw.kind.get_ref().clone();
    validate(&raw, http, id, &default_name).map_err(|p| {
        let mut m = format!("fault.{} {}", p.key, p.message);
        if let Some(h) = p.hint {
            m.push_str("; ");
            m.push_str(&h);
        }
        m
    })
}
