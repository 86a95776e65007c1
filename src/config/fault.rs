//! Faults as written in files (`[[target.fault]]`, and later experiment
//! phases): the raw mirror and its validation into [`crate::fault::Fault`].

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method, StatusCode};
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use toml::Spanned;

use super::error::did_you_mean;
use super::values::Dur;
use crate::fault::kinds::{HTTP_KINDS, TCP_KINDS};
use crate::fault::matcher::{Cidr, Glob, HeaderTest, OptIn};
use crate::fault::{
    Direction, Distribution, Fault, HttpKind, HttpWhenFull, Kind, LatencyPoint, OutageMode, Scope, TcpKind, TcpWhenFull,
};

/// A number written as an integer or a float.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Number(pub f64);

impl<'de> Deserialize<'de> for Number {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Number;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Number, E> {
                Ok(Number(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Number, E> {
                Ok(Number(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Number, E> {
                Ok(Number(v as f64))
            }
        }
        d.deserialize_any(V)
    }
}

/// One value or a list of them (`method = "GET"` or `method = ["GET", "HEAD"]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn items(&self) -> Vec<&str> {
        match self {
            OneOrMany::One(s) => vec![s.as_str()],
            OneOrMany::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHeaderRule {
    pub equals: Option<String>,
    pub regex: Option<String>,
    pub present: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawHeaderTest {
    Exact(String),
    Rule(RawHeaderRule),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMatch {
    pub method: Option<Spanned<OneOrMany>>,
    pub path: Option<Spanned<String>>,
    pub headers: Option<Spanned<BTreeMap<String, RawHeaderTest>>>,
    pub query: Option<Spanned<BTreeMap<String, String>>>,
    pub client: Option<Spanned<OneOrMany>>,
}

/// Every key any fault kind takes; validation refuses the ones a kind does not.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFault {
    pub name: Option<Spanned<String>>,
    pub kind: Spanned<String>,
    pub target: Option<Spanned<String>>,
    pub probability: Option<Spanned<Number>>,
    pub first: Option<Spanned<u64>>,
    pub after: Option<Spanned<Dur>>,
    pub lasting: Option<Spanned<Dur>>,
    #[serde(rename = "match")]
    pub matcher: Option<Spanned<RawMatch>>,
    pub opt_in: Option<Spanned<String>>,
    pub direction: Option<Spanned<String>>,
    pub delay: Option<Spanned<Dur>>,
    pub jitter: Option<Spanned<Dur>>,
    pub distribution: Option<Spanned<String>>,
    pub min: Option<Spanned<Dur>>,
    pub max: Option<Spanned<Dur>>,
    pub limit: Option<Spanned<u64>>,
    pub mean: Option<Spanned<Dur>>,
    pub stddev: Option<Spanned<Dur>>,
    pub scale: Option<Spanned<Dur>>,
    pub shape: Option<Spanned<Number>>,
    pub at: Option<Spanned<String>>,
    pub status: Option<Spanned<i64>>,
    pub headers: Option<Spanned<BTreeMap<String, String>>>,
    pub body: Option<Spanned<String>>,
    pub rate: Option<Spanned<String>>,
    pub burst: Option<Spanned<u32>>,
    pub bytes: Option<Spanned<u64>>,
    pub when_full: Option<Spanned<String>>,
    pub queue_timeout: Option<Spanned<Dur>>,
    pub timeout_status: Option<Spanned<i64>>,
    pub mode: Option<Spanned<String>>,
    pub average_size: Option<Spanned<u64>>,
    pub size_variation: Option<Spanned<u64>>,
    pub timeout: Option<Spanned<Dur>>,
    /// Experiments only: step a parameter through a phase.
    pub ramp: Option<Spanned<RawRamp>>,
}

/// `ramp = { probability = [0.1, 1.0], delay = ["50ms", "2s"], steps = 10 }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRamp {
    pub probability: Option<[Number; 2]>,
    pub delay: Option<[Dur; 2]>,
    pub steps: Option<u32>,
}

/// The position of a problem and what to say.
pub struct FaultProblem {
    pub offset: usize,
    /// The key under the fault, such as `status` or `match.path`.
    pub key: String,
    pub message: String,
    pub hint: Option<String>,
}

type Res<T> = Result<T, FaultProblem>;

fn problem(offset: usize, key: &str, message: impl Into<String>) -> FaultProblem {
    FaultProblem { offset, key: key.to_string(), message: message.into(), hint: None }
}

macro_rules! present {
    ($raw:expr, $($field:ident => $key:literal),* $(,)?) => {{
        let mut v: Vec<(&'static str, usize)> = Vec::new();
        $( if let Some(f) = &$raw.$field { v.push(($key, f.span().start)); } )*
        v
    }};
}

impl RawFault {
    /// The optional keys this fault sets, with their positions.
    fn present(&self) -> Vec<(&'static str, usize)> {
        present!(self,
            name => "name", target => "target", probability => "probability", first => "first",
            after => "after", lasting => "lasting", matcher => "match", opt_in => "opt_in",
            direction => "direction", delay => "delay", jitter => "jitter", distribution => "distribution",
            min => "min", max => "max", limit => "limit", mean => "mean", stddev => "stddev", scale => "scale", shape => "shape",
            at => "at", status => "status", headers => "headers", body => "body", rate => "rate",
            burst => "burst", bytes => "bytes", when_full => "when_full", queue_timeout => "queue_timeout",
            timeout_status => "timeout_status", mode => "mode", average_size => "average_size",
            size_variation => "size_variation", timeout => "timeout", ramp => "ramp",
        )
    }
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
pub fn validate(raw: &RawFault, http: bool, id: u64, default_name: &str) -> Res<Fault> {
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
    let kind = if http { Kind::Http(http_kind(raw, kind_name)?) } else { tcp_kind(raw, kind_name)? };
    let scope = scope(raw, http)?;
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

fn required<'a, T>(field: &'a Option<Spanned<T>>, key: &str, kind: &str, form: &str, at: usize) -> Res<&'a T> {
    field.as_ref().map(Spanned::get_ref).ok_or_else(|| {
        let mut p = problem(at, key, format!("is required by a {kind} fault"));
        p.hint = Some(format!("add {key} = {form}"));
        p
    })
}

fn positive(d: &Spanned<Dur>, key: &str) -> Res<Duration> {
    if d.get_ref().0.is_zero() {
        return Err(problem(d.span().start, key, "must be more than zero, got \"0s\""));
    }
    Ok(d.get_ref().0)
}

fn status(s: &Spanned<i64>, key: &str, allowed: Option<&[u16]>) -> Res<StatusCode> {
    let v = *s.get_ref();
    let code = u16::try_from(v).ok().filter(|c| (100..=599).contains(c));
    let Some(code) = code else {
        return Err(problem(s.span().start, key, format!("must be an HTTP status from 100 to 599, got {v}")));
    };
    if let Some(allowed) = allowed {
        if !allowed.contains(&code) {
            let list: Vec<String> = allowed.iter().map(u16::to_string).collect();
            return Err(problem(s.span().start, key, format!("must be one of {}, got {v}", list.join(", "))));
        }
    }
    StatusCode::from_u16(code).map_err(|_| problem(s.span().start, key, format!("is not a valid status: {v}")))
}

fn one_of<'a>(s: &Spanned<String>, key: &str, options: &[&'a str]) -> Res<&'a str> {
    let v = s.get_ref().as_str();
    options.iter().find(|o| **o == v).copied().ok_or_else(|| {
        let mut p = problem(s.span().start, key, format!("must be one of: {}; got {v:?}", options.join(", ")));
        p.hint = did_you_mean(v, options.iter().copied()).map(|o| format!("did you mean `{o}`?"));
        p
    })
}

fn http_kind(raw: &RawFault, kind: &str) -> Res<HttpKind> {
    let at = raw.kind.span().start;
    Ok(match kind {
        "latency" => HttpKind::Latency {
            delay: distribution(raw)?,
            at: match &raw.at {
                None => LatencyPoint::Request,
                Some(s) => match one_of(s, "at", &["request", "response", "both"])? {
                    "response" => LatencyPoint::Response,
                    "both" => LatencyPoint::Both,
                    _ => LatencyPoint::Request,
                },
            },
        },
        "error" => {
            let code = status(
                raw.status.as_ref().ok_or_else(|| {
                    let mut p = problem(at, "status", "is required by an error fault");
                    p.hint = Some("add status = 503".into());
                    p
                })?,
                "status",
                None,
            )?;
            let mut headers = Vec::new();
            if let Some(h) = &raw.headers {
                for (name, value) in h.get_ref() {
                    let n = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                        problem(h.span().start, &format!("headers.{name}"), "is not a valid header name")
                    })?;
                    let v = HeaderValue::from_str(value).map_err(|_| {
                        problem(
                            h.span().start,
                            &format!("headers.{name}"),
                            format!("is not a valid header value: {value:?}"),
                        )
                    })?;
                    headers.push((n, v));
                }
            }
            let body = raw.body.as_ref().map_or_else(Bytes::new, |b| Bytes::from(b.get_ref().clone()));
            HttpKind::Error { status: code, headers, body }
        }
        "rate_limit" => {
            let rate = raw.rate.as_ref().ok_or_else(|| {
                let mut p = problem(at, "rate", "is required by a rate_limit fault");
                p.hint = Some("add rate = \"50/s\"".into());
                p
            })?;
            let per_second = parse_request_rate(rate.get_ref()).map_err(|why| {
                problem(
                    rate.span().start,
                    "rate",
                    format!(
                        "must be requests per time such as \"50/s\" or \"600/m\", got {:?} ({why})",
                        rate.get_ref()
                    ),
                )
            })?;
            let burst = match &raw.burst {
                Some(b) if *b.get_ref() == 0 => {
                    return Err(problem(b.span().start, "burst", "must be at least 1, got 0"))
                }
                Some(b) => *b.get_ref(),
                None => per_second.ceil().max(1.0) as u32,
            };
            HttpKind::RateLimit { per_second, burst }
        }
        "reset" => HttpKind::Reset,
        "hang" => HttpKind::Hang,
        "bandwidth" => HttpKind::Bandwidth { bytes_per_second: byte_rate(raw, at)? },
        "truncate" => HttpKind::Truncate { after_bytes: *required(&raw.bytes, "bytes", kind, "1024", at)? },
        "pool_exhaustion" => {
            let max = pool_max(raw, at)?;
            let when = match &raw.when_full {
                None => "queue",
                Some(w) => one_of(w, "when_full", &["queue", "fail", "hang"])?,
            };
            if when != "queue" {
                for (field, key) in [
                    (raw.queue_timeout.as_ref().map(|s| s.span().start), "queue_timeout"),
                    (raw.timeout_status.as_ref().map(|s| s.span().start), "timeout_status"),
                ] {
                    if let Some(offset) = field {
                        return Err(problem(
                            offset,
                            key,
                            format!("applies only when when_full = \"queue\", not {when:?}"),
                        ));
                    }
                }
            }
            let when_full = match when {
                "fail" => HttpWhenFull::Fail,
                "hang" => HttpWhenFull::Hang,
                _ => HttpWhenFull::Queue {
                    timeout: raw
                        .queue_timeout
                        .as_ref()
                        .map_or(Ok(Duration::from_secs(5)), |d| positive(d, "queue_timeout"))?,
                    status: raw.timeout_status.as_ref().map_or(Ok(StatusCode::SERVICE_UNAVAILABLE), |s| {
                        status(s, "timeout_status", Some(&[503, 504]))
                    })?,
                },
            };
            HttpKind::PoolExhaustion { max, when_full }
        }
        "outage" => {
            let mode = one_of(required_mode(raw, at)?, "mode", &["refuse", "reset", "status", "hang"])?;
            if mode != "status" {
                if let Some(s) = &raw.status {
                    return Err(problem(
                        s.span().start,
                        "status",
                        format!("applies only to mode = \"status\", not {mode:?}"),
                    ));
                }
            }
            HttpKind::Outage {
                mode: match mode {
                    "refuse" => OutageMode::Refuse,
                    "reset" => OutageMode::Reset,
                    "hang" => OutageMode::Hang,
                    _ => OutageMode::Status(
                        raw.status
                            .as_ref()
                            .map_or(Ok(StatusCode::SERVICE_UNAVAILABLE), |s| status(s, "status", Some(&[502, 503])))?,
                    ),
                },
            }
        }
        _ => unreachable!("kinds are checked against HTTP_KINDS first"),
    })
}

fn required_mode(raw: &RawFault, at: usize) -> Res<&Spanned<String>> {
    raw.mode.as_ref().ok_or_else(|| {
        let mut p = problem(at, "mode", "is required by an outage fault");
        p.hint = Some("add mode = \"refuse\", \"reset\" or \"hang\" (http also \"status\")".into());
        p
    })
}

fn pool_max(raw: &RawFault, at: usize) -> Res<usize> {
    let limit = raw.limit.as_ref().ok_or_else(|| {
        let mut p = problem(at, "limit", "is required by a pool_exhaustion fault");
        p.hint = Some("add limit = 10".into());
        p
    })?;
    usize::try_from(*limit.get_ref()).map_err(|_| problem(limit.span().start, "limit", "is too large"))
}

fn byte_rate(raw: &RawFault, at: usize) -> Res<u64> {
    let rate = raw.rate.as_ref().ok_or_else(|| {
        let mut p = problem(at, "rate", "is required by a bandwidth fault");
        p.hint = Some("add rate = \"64KiB/s\"".into());
        p
    })?;
    parse_byte_rate(rate.get_ref()).map_err(|why| {
        problem(
            rate.span().start,
            "rate",
            format!("must be bytes per second such as \"64KiB/s\" or \"1MB/s\", got {:?} ({why})", rate.get_ref()),
        )
    })
}

fn tcp_kind(raw: &RawFault, kind: &str) -> Res<Kind> {
    let at = raw.kind.span().start;
    let direction = match &raw.direction {
        None => Direction::Downstream,
        Some(d) => match one_of(d, "direction", &["upstream", "downstream", "both"])? {
            "upstream" => Direction::Upstream,
            "both" => Direction::Both,
            _ => Direction::Downstream,
        },
    };
    let k = match kind {
        "latency" => TcpKind::Latency {
            delay: required(&raw.delay, "delay", kind, "\"100ms\"", at)?.0,
            jitter: raw.jitter.as_ref().map_or(Duration::ZERO, |j| j.get_ref().0),
        },
        "bandwidth" => TcpKind::Bandwidth { bytes_per_second: byte_rate(raw, at)? },
        "slow_close" => TcpKind::SlowClose { delay: required(&raw.delay, "delay", kind, "\"1s\"", at)?.0 },
        "timeout" => {
            TcpKind::Timeout { close_after: raw.timeout.as_ref().map(|t| t.get_ref().0).filter(|d| !d.is_zero()) }
        }
        "reset_peer" => TcpKind::ResetPeer { after: raw.timeout.as_ref().map_or(Duration::ZERO, |t| t.get_ref().0) },
        "slicer" => {
            let average = *required(&raw.average_size, "average_size", kind, "64", at)?;
            if average == 0 {
                let offset = raw.average_size.as_ref().map_or(at, |s| s.span().start);
                return Err(problem(offset, "average_size", "must be at least 1, got 0"));
            }
            TcpKind::Slicer {
                average: average as usize,
                variation: raw.size_variation.as_ref().map_or(0, |v| *v.get_ref() as usize),
                delay: raw.delay.as_ref().map_or(Duration::ZERO, |d| d.get_ref().0),
            }
        }
        "limit_data" => TcpKind::LimitData { bytes: *required(&raw.bytes, "bytes", kind, "1024", at)? },
        "pool_exhaustion" => {
            let max = pool_max(raw, at)?;
            let when = match &raw.when_full {
                None => "queue",
                Some(w) => one_of(w, "when_full", &["queue", "refuse", "hang"])?,
            };
            TcpKind::PoolExhaustion {
                max,
                when_full: match when {
                    "refuse" => TcpWhenFull::Refuse,
                    "hang" => TcpWhenFull::Hang,
                    _ => TcpWhenFull::Queue {
                        timeout: raw
                            .queue_timeout
                            .as_ref()
                            .map_or(Ok(Duration::from_secs(5)), |d| positive(d, "queue_timeout"))?,
                    },
                },
            }
        }
        "outage" => TcpKind::Outage {
            mode: match one_of(required_mode(raw, at)?, "mode", &["refuse", "reset", "hang"])? {
                "refuse" => OutageMode::Refuse,
                "reset" => OutageMode::Reset,
                _ => OutageMode::Hang,
            },
        },
        _ => unreachable!("kinds are checked against TCP_KINDS first"),
    };
    Ok(Kind::Tcp(k, direction))
}

fn distribution(raw: &RawFault) -> Res<Distribution> {
    let at = raw.kind.span().start;
    let dist = match &raw.distribution {
        None => "fixed",
        Some(d) => one_of(d, "distribution", &["fixed", "uniform", "normal", "lognormal", "pareto"])?,
    };
    let need = |field: &Option<Spanned<Dur>>, key: &str, form: &str| -> Res<Duration> {
        field.as_ref().map(|d| d.get_ref().0).ok_or_else(|| {
            let mut p = problem(at, key, format!("is required by a {dist} latency"));
            p.hint = Some(format!("add {key} = {form}"));
            p
        })
    };
    let allowed: &[&str] = match dist {
        "fixed" => &["delay"],
        "uniform" => &["min", "max"],
        "normal" | "lognormal" => &["mean", "stddev"],
        _ => &["scale", "shape"],
    };
    let given = [
        ("delay", raw.delay.as_ref().map(|s| s.span().start)),
        ("min", raw.min.as_ref().map(|s| s.span().start)),
        ("max", raw.max.as_ref().map(|s| s.span().start)),
        ("mean", raw.mean.as_ref().map(|s| s.span().start)),
        ("stddev", raw.stddev.as_ref().map(|s| s.span().start)),
        ("scale", raw.scale.as_ref().map(|s| s.span().start)),
        ("shape", raw.shape.as_ref().map(|s| s.span().start)),
    ];
    for (key, offset) in given {
        if let Some(offset) = offset {
            if !allowed.contains(&key) {
                let mut p = problem(offset, key, format!("does not apply to a {dist} latency"));
                p.hint = Some(format!("a {dist} latency takes: {}", allowed.join(", ")));
                return Err(p);
            }
        }
    }
    Ok(match dist {
        "fixed" => Distribution::Fixed(need(&raw.delay, "delay", "\"200ms\"")?),
        "uniform" => {
            let min = need(&raw.min, "min", "\"50ms\"")?;
            let max = need(&raw.max, "max", "\"250ms\"")?;
            if max < min {
                let offset = raw.max.as_ref().map_or(at, |s| s.span().start);
                return Err(problem(offset, "max", format!("must not be below min ({min:?}), got {max:?}")));
            }
            Distribution::Uniform { min, max }
        }
        "normal" => Distribution::Normal {
            mean: need(&raw.mean, "mean", "\"200ms\"")?,
            stddev: need(&raw.stddev, "stddev", "\"50ms\"")?,
        },
        "lognormal" => {
            let mean = need(&raw.mean, "mean", "\"200ms\"")?;
            if mean.is_zero() {
                let offset = raw.mean.as_ref().map_or(at, |s| s.span().start);
                return Err(problem(offset, "mean", "must be more than zero for a lognormal latency"));
            }
            Distribution::LogNormal { mean, stddev: need(&raw.stddev, "stddev", "\"100ms\"")? }
        }
        _ => {
            let scale = need(&raw.scale, "scale", "\"100ms\"")?;
            let shape = raw.shape.as_ref().ok_or_else(|| problem(at, "shape", "is required by a pareto latency"))?;
            if shape.get_ref().0.is_nan() || shape.get_ref().0 <= 0.0 {
                return Err(problem(
                    shape.span().start,
                    "shape",
                    format!("must be more than zero, got {}", shape.get_ref().0),
                ));
            }
            Distribution::Pareto { scale, shape: shape.get_ref().0 }
        }
    })
}

fn scope(raw: &RawFault, http: bool) -> Res<Scope> {
    let mut s = Scope::default();
    if let Some(p) = &raw.probability {
        let v = p.get_ref().0;
        if !(0.0..=1.0).contains(&v) {
            return Err(problem(p.span().start, "probability", format!("must be between 0 and 1, got {v}")));
        }
        s.probability = v;
    }
    s.first = raw.first.as_ref().map(|f| *f.get_ref());
    s.after = raw.after.as_ref().map_or(Duration::ZERO, |a| a.get_ref().0);
    s.lasting = raw.lasting.as_ref().map(|l| positive(l, "lasting")).transpose()?;
    if let Some(opt_in) = &raw.opt_in {
        if !http {
            return Err(problem(opt_in.span().start, "opt_in", "applies only to http faults"));
        }
        s.matcher.opt_in = Some(parse_opt_in(opt_in)?);
    }
    if let Some(m) = &raw.matcher {
        let m_ref = m.get_ref();
        if !http {
            for (present, key) in [
                (m_ref.method.as_ref().map(|x| x.span().start), "match.method"),
                (m_ref.path.as_ref().map(|x| x.span().start), "match.path"),
                (m_ref.headers.as_ref().map(|x| x.span().start), "match.headers"),
                (m_ref.query.as_ref().map(|x| x.span().start), "match.query"),
            ] {
                if let Some(offset) = present {
                    let mut p = problem(offset, key, "applies only to http faults");
                    p.hint = Some("a tcp fault can match only on client".into());
                    return Err(p);
                }
            }
        }
        if let Some(methods) = &m_ref.method {
            for name in methods.get_ref().items() {
                let method = Method::from_bytes(name.to_ascii_uppercase().as_bytes()).map_err(|_| {
                    problem(methods.span().start, "match.method", format!("is not an HTTP method: {name:?}"))
                })?;
                s.matcher.methods.push(method);
            }
        }
        if let Some(path) = &m_ref.path {
            if !path.get_ref().starts_with('/') && path.get_ref() != "*" {
                return Err(problem(
                    path.span().start,
                    "match.path",
                    format!("must start with / (a glob such as \"/v1/charges*\"), got {:?}", path.get_ref()),
                ));
            }
            s.matcher.path = Some(Glob(path.get_ref().clone()));
        }
        if let Some(headers) = &m_ref.headers {
            for (name, test) in headers.get_ref() {
                let key = format!("match.headers.{name}");
                let at = headers.span().start;
                let n = HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| problem(at, &key, "is not a valid header name"))?;
                let t = match test {
                    RawHeaderTest::Exact(v) => HeaderTest::Exact(
                        HeaderValue::from_str(v)
                            .map_err(|_| problem(at, &key, format!("is not a valid header value: {v:?}")))?,
                    ),
                    RawHeaderTest::Rule(RawHeaderRule { equals: Some(v), regex: None, present: None }) => {
                        HeaderTest::Exact(
                            HeaderValue::from_str(v)
                                .map_err(|_| problem(at, &key, format!("is not a valid header value: {v:?}")))?,
                        )
                    }
                    RawHeaderTest::Rule(RawHeaderRule { equals: None, regex: Some(r), present: None }) => {
                        HeaderTest::Regex(
                            regex_lite::Regex::new(r)
                                .map_err(|e| problem(at, &key, format!("has an invalid regex {r:?}: {e}")))?,
                        )
                    }
                    RawHeaderTest::Rule(RawHeaderRule { equals: None, regex: None, present: Some(true) }) => {
                        HeaderTest::Present
                    }
                    RawHeaderTest::Rule(_) => {
                        let mut p = problem(
                            at,
                            &key,
                            "must be a string or a table with exactly one of equals, regex, present = true",
                        );
                        p.hint = Some(format!("{name} = {{ regex = \"^curl/\" }}"));
                        return Err(p);
                    }
                };
                s.matcher.headers.push((n, t));
            }
        }
        if let Some(query) = &m_ref.query {
            for (k, v) in query.get_ref() {
                s.matcher.query.push((k.clone(), Glob(v.clone())));
            }
        }
        if let Some(clients) = &m_ref.client {
            for c in clients.get_ref().items() {
                s.matcher.clients.push(Cidr::parse(c).map_err(|why| {
                    problem(
                        clients.span().start,
                        "match.client",
                        format!("must be an address or range such as \"10.0.0.0/8\": {why}"),
                    )
                })?);
            }
        }
    }
    Ok(s)
}

fn parse_opt_in(s: &Spanned<String>) -> Res<OptIn> {
    let text = s.get_ref();
    let (name, value) = match text.split_once(':') {
        Some((n, v)) => (n.trim(), Some(v.trim())),
        None => (text.trim(), None),
    };
    let bad = || {
        problem(
            s.span().start,
            "opt_in",
            format!("must be a header such as \"x-brownout: on\" or \"x-brownout\", got {text:?}"),
        )
    };
    let name = HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes()).map_err(|_| bad())?;
    let value = value.filter(|v| !v.is_empty()).map(HeaderValue::from_str).transpose().map_err(|_| bad())?;
    Ok(OptIn { name, value })
}

/// `"50/s"`, `"600/m"`, `"2.5/s"`, `"100/h"`: requests per second.
pub fn parse_request_rate(text: &str) -> Result<f64, String> {
    let (n, unit) = text.split_once('/').ok_or("it has no /unit")?;
    let n: f64 = n.trim().parse().map_err(|_| format!("{n:?} is not a number"))?;
    let per = match unit.trim() {
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        u => return Err(format!("{u:?} is not s, m or h")),
    };
    if n <= 0.0 || !n.is_finite() {
        return Err("it must be more than zero".into());
    }
    Ok(n / per)
}

/// `"64KiB/s"`, `"1MB/s"`, `"500B/s"`: bytes per second (KB = 1000, KiB = 1024).
pub fn parse_byte_rate(text: &str) -> Result<u64, String> {
    let amount = text.trim().strip_suffix("/s").ok_or("it does not end in /s")?;
    let split = amount.find(|c: char| !(c.is_ascii_digit() || c == '.')).ok_or("it has no unit such as B or KiB")?;
    let (n, unit) = amount.split_at(split);
    let n: f64 = n.parse().map_err(|_| format!("{n:?} is not a number"))?;
    let mult = match unit.trim() {
        "B" => 1.0,
        "KB" | "kB" => 1e3,
        "KiB" => 1024.0,
        "MB" => 1e6,
        "MiB" => 1024.0 * 1024.0,
        "GB" => 1e9,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        u => return Err(format!("{u:?} is not B, KB, KiB, MB, MiB, GB or GiB")),
    };
    let bytes = (n * mult).round();
    if bytes < 1.0 {
        return Err("it must be at least 1 B/s".into());
    }
    Ok(bytes as u64)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_with_their_units() {
        assert_eq!(parse_request_rate("50/s"), Ok(50.0));
        assert_eq!(parse_request_rate("600/m"), Ok(10.0));
        assert!(parse_request_rate("50").is_err());
        assert!(parse_request_rate("0/s").is_err());
        assert_eq!(parse_byte_rate("64KiB/s"), Ok(65536));
        assert_eq!(parse_byte_rate("1MB/s"), Ok(1_000_000));
        assert_eq!(parse_byte_rate("500B/s"), Ok(500));
        assert!(parse_byte_rate("64KiB").is_err());
        assert!(parse_byte_rate("64 furlongs/s").is_err());
    }
}
