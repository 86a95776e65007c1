//! The HTTP fault kinds: each kind's keys turned into an [`HttpKind`].

use std::time::Duration;

use super::params::{byte_rate, one_of, parse_request_rate, pool_max, positive, required, required_mode, status};
use super::raw::{Located, Source};
use super::{problem, FaultResult, RawFault};
use crate::config::values::Dur;
use crate::fault::kinds::Protocol;
use crate::fault::{Distribution, HttpKind, HttpWhenFull, LatencyPoint, OutageMode};
use bytes::Bytes;
use http::{HeaderName, HeaderValue, StatusCode};

pub(super) fn kind<S: Source>(raw: &RawFault<S>, kind: &str) -> FaultResult<HttpKind> {
    let at = raw.kind.span().start;
    Ok(match kind {
        "latency" => HttpKind::Latency {
            delay: distribution(raw)?,
            at: match &raw.at {
                None => LatencyPoint::Request,
                Some(s) => match one_of(s, "at", Protocol::Http.choices("at"))? {
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
                Some(w) => one_of(w, "when_full", Protocol::Http.choices("when_full"))?,
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
            let mode = one_of(required_mode(raw, at)?, "mode", Protocol::Http.choices("mode"))?;
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
        _ => unreachable!("validate passes only names from the table's http kinds"),
    })
}

fn distribution<S: Source>(raw: &RawFault<S>) -> FaultResult<Distribution> {
    let at = raw.kind.span().start;
    let dist = match &raw.distribution {
        None => "fixed",
        Some(d) => one_of(d, "distribution", Protocol::Http.choices("distribution"))?,
    };
    let need = |field: &Option<S::Spanned<Dur>>, key: &str, form: &str| -> FaultResult<Duration> {
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
