//! Words and numbers every rendering shares, so that the terminal, the
//! Markdown and the HTML say the same thing: dates, percentages, the
//! verdict's summary, the sentence naming the worst effect, and whether a
//! report counts requests or connections.

use super::impact::{MIN_AVAILABILITY_DROP_PP, MIN_P99_RISE_MS, MIN_P99_RISE_SHARE};
use super::model::{Impact, Report, StatusCount};
use super::verdict::Verdict;
use crate::record::journal::UncheckedPolicy;

/// Shown wherever a value is missing (no requests, no percentile, no seed).
pub const DASH: &str = "\u{2013}";

/// Milliseconds since the Unix epoch in ISO 8601, UTC: `2026-12-01T22:41:07Z`.
pub fn iso_utc(ms: u64) -> String {
    let ms = i64::try_from(ms).unwrap_or(i64::MAX);
    match jiff::Timestamp::from_millisecond(ms) {
        Ok(t) => t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        Err(_) => DASH.to_string(),
    }
}

/// A value worth drawing or printing: present and finite (a NaN from a broken division shows as missing).
pub fn finite(v: Option<f64>) -> Option<f64> {
    v.filter(|x| x.is_finite())
}

/// Groups the digits of an integer by thousands: `12,345`.
pub fn fmt_count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A whole number that may be negative, grouped by thousands.
pub fn group_signed(v: f64) -> String {
    // Report values are far below u64::MAX; `as` saturates anyway rather than wrapping.
    let digits = fmt_count(v.abs() as u64);
    if v < 0.0 {
        format!("\u{2212}{digits}")
    } else {
        digits
    }
}

/// A fraction as a percentage with one decimal, never rounding a non-perfect value up to 100% or a non-zero one
/// down to 0% (99.96% availability is not 100%).
pub fn fmt_pct(v: Option<f64>) -> String {
    let Some(v) = finite(v) else { return DASH.to_string() };
    let p = v * 100.0;
    if p >= 100.0 {
        return "100%".to_string();
    }
    if p <= 0.0 {
        return "0%".to_string();
    }
    let mut s = format!("{p:.1}");
    if s == "100.0" {
        s = format!("{:.2}", (p * 100.0).floor() / 100.0);
    } else if s == "0.0" {
        s = format!("{p:.2}");
    }
    format!("{s}%")
}

/// A percentage for prose: whole numbers unless that would hide a difference from 0% or 100%.
pub fn fmt_pct_short(v: f64) -> String {
    let p = v * 100.0;
    let whole = format!("{p:.0}");
    if (whole == "100" && p < 100.0) || (whole == "0" && p > 0.0) {
        return fmt_pct(Some(v));
    }
    format!("{whole}%")
}

/// Milliseconds as a bare number for table cells (the unit is in the column header).
pub fn fmt_ms_num(v: Option<f64>) -> String {
    match finite(v) {
        None => DASH.to_string(),
        Some(ms) if ms.abs() < 10.0 => format!("{ms:.1}"),
        Some(ms) => group_signed(ms.round()),
    }
}

/// Milliseconds with their unit, for cards and prose.
pub fn fmt_ms(v: Option<f64>) -> String {
    match finite(v) {
        None => DASH.to_string(),
        Some(ms) => format!("{} ms", fmt_ms_num(Some(ms))),
    }
}

/// What a report counts at its user-facing listeners: `("request",
/// "requests")`, or connections when those listeners are all TCP.
pub fn unit(r: &Report) -> (&'static str, &'static str) {
    let observer = r.routes.iter().any(|x| x.listener == "observer");
    let mut rows = r.routes.iter().filter(|x| !observer || x.listener == "observer").peekable();
    if rows.peek().is_some() && rows.all(|x| x.is_tcp()) {
        ("connection", "connections")
    } else {
        ("request", "requests")
    }
}

/// `1 request`, `5 requests`.
pub fn count(n: u64, (one, many): (&str, &str)) -> String {
    format!("{} {}", fmt_count(n), if n == 1 { one } else { many })
}

/// The verdict in one line: `held: 4 checks measured something, none failed;
/// 14 more passed with nothing to judge; 2 unchecked degradations (warn)`.
pub fn verdict_summary(v: &Verdict) -> String {
    let measured = v.measured().count() as u64;
    let failed = v.failed().count();
    let mut text = format!(
        "{}: {} measured something, {}",
        v.status,
        count(measured, ("check", "checks")),
        if failed == 0 { "none failed".to_string() } else { format!("{failed} failed") }
    );
    let vacuous = v.vacuous().count() as u64;
    if vacuous > 0 {
        text.push_str(&format!("; {vacuous} more passed with nothing to judge"));
    }
    if !v.unchecked.is_empty() {
        let policy = match v.unchecked_policy {
            UncheckedPolicy::Warn => "listed, not failed: unchecked = \"warn\"",
            UncheckedPolicy::Fail => "failed: unchecked = \"fail\"",
        };
        text.push_str(&format!(
            "; {} ({policy})",
            count(v.unchecked.len() as u64, ("unchecked degradation", "unchecked degradations"))
        ));
    }
    if !v.inconclusive.is_empty() {
        text.push_str(&format!("; proves nothing: {}", v.inconclusive[0].reason));
        if v.inconclusive.len() > 1 {
            text.push_str(&format!(" (and {} more)", v.inconclusive.len() - 1));
        }
    }
    text
}

/// What standards a run was held to, in one sentence: `Held to the
/// standards of config/standards.toml, service shop: 5 routes classified,
/// 1 unclassified.`
pub fn standards_sentence(s: &super::standards::StandardsReport) -> String {
    let classified = s.routes.iter().filter(|r| r.is_classified()).count() as u64;
    let unclassified = count(s.unclassified.len() as u64, ("route", "routes"));
    match (&s.file, &s.service) {
        (Some(file), Some(service)) => format!(
            "Held to the standards of {file}, service {service}: {} classified, {unclassified} unclassified.",
            count(classified, ("route", "routes"))
        ),
        (Some(file), None) => format!(
            "Held to the graceful rules of {file}; the experiment names no service, so no route has a tier or \
             interaction class ({unclassified} unclassified): add `service = \"...\"` to the experiment."
        ),
        (None, _) => format!(
            "No standards file applied: every check is the experiment's own, and no route has a tier or \
             interaction class ({unclassified} unclassified)."
        ),
    }
}

/// The thresholds under which an impact is noise, in words.
pub fn noise_thresholds() -> String {
    format!(
        "a {MIN_AVAILABILITY_DROP_PP} pp drop in availability, or a p99 rise of {MIN_P99_RISE_MS} ms and {:.0}%",
        MIN_P99_RISE_SHARE * 100.0
    )
}

/// The sentence naming the worst effect of any fault on any user journey,
/// with `strong` marking the fault and `code` the route (each rendering
/// marks them its own way, escaping as it must).
pub fn worst_effect(r: &Report, strong: impl Fn(&str) -> String, code: impl Fn(&str) -> String) -> String {
    if r.faults.is_empty() {
        return "No faults were injected, so there is no impact to show.".to_string();
    }
    if r.impact.is_empty() {
        return "No fault was on while the observer saw requests to compare.".to_string();
    }
    let Some(i) = r.impact.iter().filter(|i| i.noise.is_none()).min_by(|a, b| super::impact::rank(a, b)) else {
        return format!(
            "No fault had a measurable effect on any user journey: every change was under {}, or rested on too few requests.",
            noise_thresholds()
        );
    };
    let (fault, route) = (strong(&i.label), code(&i.route));
    let when = if i.faults.len() > 1 { format!("{fault} were on together") } else { format!("{fault} was on") };
    match (finite(i.baseline.availability), finite(i.during.availability), finite(i.availability_delta)) {
        (Some(before), Some(during), Some(delta)) if delta < 0.0 => {
            format!("When {when}, {route} fell from {} to {} available.", fmt_pct_short(before), fmt_pct_short(during))
        }
        _ => format!(
            "When {when}, {route} slowed: p99 {} against {} with no fault on.",
            fmt_ms(i.during.p99_ms),
            fmt_ms(i.baseline.p99_ms)
        ),
    }
}

/// How many impact rows had no measurable effect.
pub fn noise_rows(impacts: &[Impact]) -> usize {
    impacts.iter().filter(|i| i.noise.is_some()).count()
}

/// The statuses of a route in one line: `41 × 200 · 28 injected: 429 · 3 upstream: reset`.
pub fn statuses(list: &[StatusCount]) -> String {
    let parts: Vec<String> = list
        .iter()
        .map(|s| match s.origin {
            None => format!("{} \u{00d7} {}", fmt_count(s.count), s.status),
            Some(o) => format!("{} {}: {}", fmt_count(s.count), o.as_str(), s.status),
        })
        .collect();
    if parts.is_empty() {
        DASH.to_string()
    } else {
        parts.join(" \u{00b7} ")
    }
}

/// Why the `load` rows repeat the observer's: a note under every routes table that has them.
pub const LOAD_NOTE: &str = "Rows of `load` are the load driver's own view of the requests it sent: the same \
requests the observer saw, timed from when each was due to be sent (so a stall before the observer shows), \
with the failures only the driver met (a refused connection, a timeout, an overloaded driver).";

/// What a TCP listener's figures mean: a note under every table of them.
pub const TCP_NOTE: &str = "TCP listeners count connections: a connection is available when it ended without \
an error, and its time is its lifetime, from accept to close.";

/// A fault's value as configured, without its own name in front.
pub fn value<'a>(name: &str, configured: &'a str) -> &'a str {
    configured.strip_prefix(name).and_then(|rest| rest.strip_prefix(": ")).unwrap_or(configured)
}

/// A command line as a shell would take it back: words with anything
/// unusual in them single-quoted.
pub fn shell_words(words: &[String]) -> String {
    let plain = |w: &str| !w.is_empty() && w.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c));
    let quoted: Vec<String> =
        words.iter().map(|w| if plain(w) { w.clone() } else { format!("'{}'", w.replace('\'', "'\\''")) }).collect();
    quoted.join(" ")
}

/// A body in one line: its first line, and its last when that differs (a
/// traceback names its exception last).
pub fn gist(body: &str) -> String {
    let mut lines = body.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next().unwrap_or("");
    match lines.next_back() {
        Some(last) => format!("{first} \u{2026} {last}"),
        None => first.to_string(),
    }
}
