//! The HTTP fault kinds: each kind's keys turned into an [`HttpKind`].

use std::time::Duration;

use super::params::{byte_rate, one_of, parse_request_rate, pool_max, positive, required, required_mode, status};
use super::raw::{Located, NumberOrName, Source};
use super::{problem, FaultResult, RawFault};
use crate::config::error::did_you_mean;
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
            let headers = headers(raw)?;
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
        "reset" => HttpKind::Reset {
            h2_code: raw.error_code.as_ref().map_or(Ok(crate::fault::kinds::DEFAULT_H2_RESET_CODE), h2_code)?,
        },
        "goaway" => HttpKind::GoAway,
        "grpc_error" => {
            let code = raw.code.as_ref().ok_or_else(|| {
                let mut p = problem(at, "code", "is required by a grpc_error fault");
                p.hint = Some("add code = \"UNAVAILABLE\" (or a number from 1 to 16)".into());
                p
            })?;
            HttpKind::GrpcError {
                code: grpc_code(code)?,
                message: raw.message.as_ref().map_or_else(String::new, |m| m.get_ref().clone()),
                headers: headers(raw)?,
            }
        }
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

/// The `headers` of a synthesized answer.
fn headers<S: Source>(raw: &RawFault<S>) -> FaultResult<Vec<(HeaderName, HeaderValue)>> {
    let mut headers = Vec::new();
    if let Some(h) = &raw.headers {
        for (name, value) in h.get_ref() {
            let n = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| problem(h.span().start, &format!("headers.{name}"), "is not a valid header name"))?;
            let v = HeaderValue::from_str(value).map_err(|_| {
                problem(h.span().start, &format!("headers.{name}"), format!("is not a valid header value: {value:?}"))
            })?;
            headers.push((n, v));
        }
    }
    Ok(headers)
}

/// A gRPC status other than OK, by number or name.
fn grpc_code(code: &impl Located<Inner = NumberOrName>) -> FaultResult<u16> {
    let names = || crate::grpc::CODES[1..].join(", ");
    match code.get_ref() {
        NumberOrName::Number(n) => u16::try_from(*n).ok().filter(|n| (1..=16).contains(n)).ok_or_else(|| {
            problem(code.span().start, "code", format!("must be a gRPC status from 1 to 16 (0 is OK), got {n}"))
        }),
        NumberOrName::Name(name) => match crate::grpc::code_by_name(name) {
            Some(0) => Err(problem(code.span().start, "code", "must be a failing gRPC status, got \"OK\"")),
            Some(n) => Ok(n),
            None => {
                let mut p = problem(code.span().start, "code", format!("must be a gRPC status name, got {name:?}"));
                p.hint = Some(match did_you_mean(&name.to_ascii_uppercase(), crate::grpc::CODES.iter().copied()) {
                    Some(near) => format!("did you mean `{near}`?"),
                    None => format!("one of: {}", names()),
                });
                Err(p)
            }
        },
    }
}

/// A list of gRPC statuses (numbers or names) for graceful rules; OK is
/// not a failure and so cannot be listed.
pub fn grpc_codes(list: &[NumberOrName]) -> Result<Vec<u16>, String> {
    list.iter()
        .map(|c| grpc_code(&super::raw::Bare(c.clone())).map_err(|p| format!("lists a code that {}", p.message)))
        .collect()
}

/// An HTTP/2 error code for RST_STREAM, by number or name.
fn h2_code(code: &impl Located<Inner = NumberOrName>) -> FaultResult<u32> {
    let known = crate::fault::kinds::H2_ERROR_CODES;
    match code.get_ref() {
        NumberOrName::Number(n) => u32::try_from(*n).map_err(|_| {
            problem(
                code.span().start,
                "error_code",
                format!("must be an HTTP/2 error code from 0 to 4294967295, got {n}"),
            )
        }),
        NumberOrName::Name(name) => {
            known.iter().position(|k| k.eq_ignore_ascii_case(name)).map(|i| i as u32).ok_or_else(|| {
                let mut p = problem(
                    code.span().start,
                    "error_code",
                    format!("must be an HTTP/2 error code name or number, got {name:?}"),
                );
                p.hint = Some(match did_you_mean(&name.to_ascii_uppercase(), known.iter().copied()) {
                    Some(near) => format!("did you mean `{near}`?"),
                    None => format!("one of: {}", known.join(", ")),
                });
                p
            })
        }
    }
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
