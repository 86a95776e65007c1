//! The checks the kinds' parameters share: required keys, durations above
//! zero, statuses, choices among words, and rates.

use std::time::Duration;

use super::raw::{Located, Source};
use super::{problem, FaultResult, RawFault};
use crate::config::error::did_you_mean;
use crate::config::values::Dur;
use http::StatusCode;

/// The value of a key `kind` cannot do without; `at` (the kind's position)
/// places the problem when the key is absent, and `form` shows an example.
pub(super) fn required<'a, L: Located>(
    field: &'a Option<L>,
    key: &str,
    kind: &str,
    form: &str,
    at: usize,
) -> FaultResult<&'a L::Inner> {
    field.as_ref().map(Located::get_ref).ok_or_else(|| {
        let mut p = problem(at, key, format!("is required by a {kind} fault"));
        p.hint = Some(format!("add {key} = {form}"));
        p
    })
}

/// A duration that must be more than zero.
pub(super) fn positive(d: &impl Located<Inner = Dur>, key: &str) -> FaultResult<Duration> {
    if d.get_ref().0.is_zero() {
        return Err(problem(d.span().start, key, "must be more than zero, got \"0s\""));
    }
    Ok(d.get_ref().0)
}

/// An HTTP status, limited to `allowed` when given.
pub(super) fn status(s: &impl Located<Inner = i64>, key: &str, allowed: Option<&[u16]>) -> FaultResult<StatusCode> {
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

/// One of a few words, with a did-you-mean hint for a typo.
pub(super) fn one_of<'a>(s: &impl Located<Inner = String>, key: &str, options: &[&'a str]) -> FaultResult<&'a str> {
    let v = s.get_ref().as_str();
    options.iter().find(|o| **o == v).copied().ok_or_else(|| {
        let mut p = problem(s.span().start, key, format!("must be one of: {}; got {v:?}", options.join(", ")));
        p.hint = did_you_mean(v, options.iter().copied()).map(|o| format!("did you mean `{o}`?"));
        p
    })
}

/// The `mode` an outage fault needs.
pub(super) fn required_mode<S: Source>(raw: &RawFault<S>, at: usize) -> FaultResult<&S::Spanned<String>> {
    raw.mode.as_ref().ok_or_else(|| {
        let mut p = problem(at, "mode", "is required by an outage fault");
        p.hint = Some("add mode = \"refuse\", \"reset\" or \"hang\" (http also \"status\")".into());
        p
    })
}

/// The `limit` of a pool_exhaustion fault, as a count.
pub(super) fn pool_max<S: Source>(raw: &RawFault<S>, at: usize) -> FaultResult<usize> {
    let limit = raw.limit.as_ref().ok_or_else(|| {
        let mut p = problem(at, "limit", "is required by a pool_exhaustion fault");
        p.hint = Some("add limit = 10".into());
        p
    })?;
    usize::try_from(*limit.get_ref()).map_err(|_| problem(limit.span().start, "limit", "is too large"))
}

/// The `rate` of a bandwidth fault, in bytes per second.
pub(super) fn byte_rate<S: Source>(raw: &RawFault<S>, at: usize) -> FaultResult<u64> {
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
