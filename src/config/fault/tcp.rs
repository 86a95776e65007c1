//! The TCP fault kinds: each kind's keys turned into a [`TcpKind`] and the
//! direction it applies to.

use std::time::Duration;

use super::params::{byte_rate, one_of, pool_max, positive, required, required_mode};
use super::raw::{Located, Source};
use super::{problem, FaultResult, RawFault};
use crate::fault::kinds::Protocol;
use crate::fault::{Direction, Kind, OutageMode, TcpKind, TcpWhenFull};

pub(super) fn kind<S: Source>(raw: &RawFault<S>, kind: &str) -> FaultResult<Kind> {
    let at = raw.kind.span().start;
    let direction = match &raw.direction {
        None => Direction::Downstream,
        Some(d) => match one_of(d, "direction", Protocol::Tcp.choices("direction"))? {
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
                Some(w) => one_of(w, "when_full", Protocol::Tcp.choices("when_full"))?,
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
            mode: match one_of(required_mode(raw, at)?, "mode", Protocol::Tcp.choices("mode"))? {
                "refuse" => OutageMode::Refuse,
                "reset" => OutageMode::Reset,
                _ => OutageMode::Hang,
            },
        },
        _ => unreachable!("validate passes only names from the table's tcp kinds"),
    };
    Ok(Kind::Tcp(k, direction))
}
