//! Values written as strings in brownout's files: durations, percentages and addresses.
//!
//! Each type deserializes straight from TOML, so a malformed value is refused
//! with the file position and key path that the deserializer knows.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

/// A duration written `"250ms"`, `"30s"`, `"2m"` or `"1h"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dur(pub Duration);

/// The longest duration brownout takes anywhere: a year. Every time
/// computation (a phase's end, a run's deadline) then stays far inside what
/// the clock can hold.
pub const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);

/// Parses `"250ms"`, `"1.5s"`, `"2m"`, `"1h"`, `"100us"`, up to a year; a bare
/// number is refused because its unit would be a guess.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.starts_with('-') {
        return Err("is negative".into());
    }
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).ok_or_else(|| "has no unit".to_string())?;
    let (number, unit) = text.split_at(split);
    if number.is_empty() {
        return Err("has no number".into());
    }
    let value: f64 = number.parse().map_err(|_| format!("`{number}` is not a number"))?;
    let seconds = match unit.trim() {
        "us" | "µs" => value / 1e6,
        "ms" => value / 1e3,
        "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        other => return Err(format!("has an unknown unit `{other}`")),
    };
    match Duration::try_from_secs_f64(seconds) {
        Ok(d) if d <= MAX_DURATION => Ok(d),
        _ => Err("is longer than a year, the longest brownout takes".into()),
    }
}

/// `"99%"`, `"99.9%"` or `"0.5%"` as a fraction.
pub fn parse_percent(text: &str) -> Result<f64, String> {
    let n = text.trim().strip_suffix('%').ok_or("it does not end in %")?;
    let v: f64 = n.trim().parse().map_err(|_| format!("{n:?} is not a number"))?;
    if !(0.0..=100.0).contains(&v) {
        return Err("it is not between 0% and 100%".into());
    }
    Ok(v / 100.0)
}

pub(crate) const DURATION_FORM: &str = "a duration such as \"250ms\", \"30s\" or \"2m\"";

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Dur;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(DURATION_FORM)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Dur, E> {
                parse_duration(v)
                    .map(Dur)
                    .map_err(|why| E::custom(format!("must be {DURATION_FORM}, got {v:?} (it {why})")))
            }
        }
        d.deserialize_str(V)
    }
}

/// A duration that must be more than zero: a timeout of `"0s"` would mean
/// no time at all, not no timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NonZeroDur(pub Duration);

pub(crate) const NON_ZERO_FORM: &str = "a duration of more than zero such as \"250ms\", \"30s\" or \"2m\"";

impl<'de> Deserialize<'de> for NonZeroDur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = NonZeroDur;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(NON_ZERO_FORM)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<NonZeroDur, E> {
                match parse_duration(v) {
                    Ok(d) if d.is_zero() => Err(E::custom(format!("must be more than zero, got {v:?}"))),
                    Ok(d) => Ok(NonZeroDur(d)),
                    Err(why) => Err(E::custom(format!("must be {DURATION_FORM}, got {v:?} (it {why})"))),
                }
            }
        }
        d.deserialize_str(V)
    }
}

/// A timeout that can be turned off: a duration of more than zero, or `"off"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeout(pub Option<Duration>);

pub(crate) const TIMEOUT_FORM: &str = "a duration of more than zero such as \"30s\", or \"off\"";

impl<'de> Deserialize<'de> for Timeout {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Timeout;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(TIMEOUT_FORM)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Timeout, E> {
                if v.trim() == "off" {
                    return Ok(Timeout(None));
                }
                match parse_duration(v) {
                    Ok(d) if !d.is_zero() => Ok(Timeout(Some(d))),
                    Ok(_) => Err(E::custom(format!("must be {TIMEOUT_FORM}, got {v:?}"))),
                    Err(why) => Err(E::custom(format!("must be {TIMEOUT_FORM}, got {v:?} (it {why})"))),
                }
            }
        }
        d.deserialize_str(V)
    }
}

/// A listen address: an IP address and a port (`127.0.0.1:9001`, `[::1]:0`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenAddr(pub SocketAddr);

pub(crate) const LISTEN_FORM: &str = "an IP address and port such as \"127.0.0.1:9001\"";

impl<'de> Deserialize<'de> for ListenAddr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ListenAddr;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(LISTEN_FORM)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ListenAddr, E> {
                if let Ok(addr) = v.parse() {
                    return Ok(ListenAddr(addr));
                }
                let hint = if v.starts_with("localhost:") {
                    " (write 127.0.0.1 instead of localhost)"
                } else if v.starts_with(':') {
                    " (write 0.0.0.0 or 127.0.0.1 before the colon)"
                } else {
                    ""
                };
                Err(E::custom(format!("must be {LISTEN_FORM}, got {v:?}{hint}")))
            }
        }
        d.deserialize_str(V)
    }
}

/// A TCP upstream: `host:port` with a name or an IP address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPort(pub String);

pub(crate) const HOST_PORT_FORM: &str = "a host and port such as \"127.0.0.1:5432\" or \"db.internal:5432\"";

impl<'de> Deserialize<'de> for HostPort {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = HostPort;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(HOST_PORT_FORM)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<HostPort, E> {
                if v.parse::<SocketAddr>().is_ok() || valid_host_port(v) {
                    Ok(HostPort(v.to_string()))
                } else {
                    Err(E::custom(format!("must be {HOST_PORT_FORM}, got {v:?}")))
                }
            }
        }
        d.deserialize_str(V)
    }
}

fn valid_host_port(v: &str) -> bool {
    let Some((host, port)) = v.rsplit_once(':') else {
        return false;
    };
    let host_ok = !host.is_empty()
        && host
            .split('.')
            .all(|label| !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    host_ok && port.parse::<u16>().is_ok_and(|p| p != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_their_units() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("100us"), Ok(Duration::from_micros(100)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
    }

    #[test]
    fn durations_without_a_unit_or_number_are_refused() {
        assert_eq!(parse_duration("30"), Err("has no unit".into()));
        assert_eq!(parse_duration("-5ms"), Err("is negative".into()));
        assert_eq!(parse_duration("ms"), Err("has no number".into()));
        assert_eq!(parse_duration("5 parsecs"), Err("has an unknown unit `parsecs`".into()));
        assert_eq!(parse_duration("1.2.3s"), Err("`1.2.3` is not a number".into()));
        let too_long = Err("is longer than a year, the longest brownout takes".to_string());
        assert_eq!(parse_duration("4000000000000000h"), too_long);
        assert_eq!(parse_duration("366d"), Err("has an unknown unit `d`".into()));
        assert_eq!(parse_duration("8761h"), too_long);
        assert_eq!(parse_duration("8760h"), Ok(MAX_DURATION));
        assert_eq!(parse_duration("1e400s"), Err("has an unknown unit `e400s`".into()));
    }

    #[test]
    fn host_ports_accept_names_and_addresses() {
        assert!(valid_host_port("db.internal:5432"));
        assert!(valid_host_port("localhost:6379"));
        assert!(!valid_host_port("db.internal"));
        assert!(!valid_host_port("db..internal:5432"));
        assert!(!valid_host_port("db:0"));
        assert!(!valid_host_port(":5432"));
    }
}
