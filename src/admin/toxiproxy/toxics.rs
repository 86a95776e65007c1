//! A toxic's attributes as Toxiproxy names them, checked as brownout checks
//! its own faults' keys, and the TCP fault each toxic becomes.

use std::time::Duration;

use serde_json::{Map, Value};

use super::Toxic;
use crate::fault::{Direction, Fault, Kind, TcpKind};

/// Each toxic type's attributes, as Toxiproxy names them, with their units.
const ATTRIBUTES: [(&str, &[(&str, Unit)]); 7] = [
    ("latency", &[("latency", Unit::Millis), ("jitter", Unit::Millis)]),
    ("bandwidth", &[("rate", Unit::KiloBytesPerSecond)]),
    ("slow_close", &[("delay", Unit::Millis)]),
    ("timeout", &[("timeout", Unit::Millis)]),
    ("reset_peer", &[("timeout", Unit::Millis)]),
    ("slicer", &[("average_size", Unit::Bytes), ("size_variation", Unit::Bytes), ("delay", Unit::Micros)]),
    ("limit_data", &[("bytes", Unit::Bytes)]),
];

#[derive(Clone, Copy)]
enum Unit {
    Millis,
    Micros,
    KiloBytesPerSecond,
    Bytes,
}

impl Unit {
    /// The largest value taken: a year of time, a TiB of bytes or bytes/s.
    fn max(self) -> u64 {
        let year = crate::config::MAX_DURATION;
        match self {
            Unit::Millis => year.as_millis() as u64,
            Unit::Micros => year.as_micros() as u64,
            Unit::KiloBytesPerSecond => 1 << 30,
            Unit::Bytes => 1 << 40,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Unit::Millis => "milliseconds",
            Unit::Micros => "microseconds",
            Unit::KiloBytesPerSecond => "KB/s",
            Unit::Bytes => "bytes",
        }
    }
}

/// A toxic's attributes, checked as a native fault's keys are: every key one
/// its type takes, every value a whole number in range. Missing ones are 0,
/// as in Toxiproxy.
struct Attributes<'a>(&'a Map<String, Value>);

impl Attributes<'_> {
    fn check(&self, kind: &str) -> Result<(), String> {
        let Some((_, known)) = ATTRIBUTES.iter().find(|(k, _)| *k == kind) else { return Ok(()) };
        for (key, value) in self.0 {
            let Some((_, unit)) = known.iter().find(|(k, _)| k == key) else {
                let names: Vec<&str> = known.iter().map(|(k, _)| *k).collect();
                return Err(format!(
                    "attributes.{key} is not an attribute of a {kind} toxic; expected one of: {}",
                    names.join(", ")
                ));
            };
            let whole =
                value.as_u64().or_else(|| value.as_f64().filter(|f| f.fract() == 0.0 && *f >= 0.0).map(|f| f as u64));
            match whole {
                Some(n) if n <= unit.max() => {}
                _ => {
                    return Err(format!(
                        "attributes.{key} must be a whole number of {} from 0 to {}, got {value}",
                        unit.name(),
                        unit.max()
                    ))
                }
            }
        }
        Ok(())
    }

    fn num(&self, key: &str) -> u64 {
        self.0.get(key).and_then(|v| v.as_u64().or_else(|| v.as_f64().map(|f| f as u64))).unwrap_or(0)
    }

    fn ms(&self, key: &str) -> Duration {
        Duration::from_millis(self.num(key))
    }
}

/// A toxic as one of brownout's TCP faults. Toxicity is the per-connection
/// probability; 0 means no effect at all.
pub(super) fn to_fault(t: &Toxic) -> Result<Fault, String> {
    let direction = match t.stream.as_str() {
        "upstream" => Direction::Upstream,
        "downstream" => Direction::Downstream,
        other => return Err(format!("stream must be upstream or downstream, got {other:?}")),
    };
    if !(0.0..=1.0).contains(&t.toxicity) {
        return Err(format!("toxicity must be between 0 and 1, got {}", t.toxicity));
    }
    let a = Attributes(&t.attributes);
    a.check(&t.kind)?;
    let kind = match t.kind.as_str() {
        "latency" => TcpKind::Latency { delay: a.ms("latency"), jitter: a.ms("jitter") },
        // Toxiproxy's rate is in KB/s of 1000 bytes.
        "bandwidth" => TcpKind::Bandwidth { bytes_per_second: (a.num("rate") * 1000).max(1) },
        "slow_close" => TcpKind::SlowClose { delay: a.ms("delay") },
        "timeout" => TcpKind::Timeout { close_after: Some(a.ms("timeout")).filter(|d| !d.is_zero()) },
        "reset_peer" => TcpKind::ResetPeer { after: a.ms("timeout") },
        "slicer" => TcpKind::Slicer {
            average: (a.num("average_size") as usize).max(1),
            variation: a.num("size_variation") as usize,
            delay: Duration::from_micros(a.num("delay")),
        },
        "limit_data" => TcpKind::LimitData { bytes: a.num("bytes") },
        other => {
            return Err(format!(
                "unknown toxic type {other:?}; known: latency, bandwidth, slow_close, timeout, reset_peer, slicer, limit_data"
            ))
        }
    };
    let mut fault = Fault::new(t.id, t.name.clone(), Kind::Tcp(kind, direction));
    fault.scope.probability = t.toxicity;
    Ok(fault)
}
