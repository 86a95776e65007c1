//! Renders a run's [`Report`] as one self-contained HTML page: inline CSS and inline SVG charts, no script and
//! nothing fetched, so the file can be archived, mailed or opened offline exactly as written.

mod chart;
mod style;
mod tables;
mod verdict;

use std::collections::BTreeMap;

use super::model::{FaultStats, Impact, Origins, Report, RouteStats, Sample, Stats, WindowStats};
use crate::record::journal::{Class, Outcome};
use chart::*;
use style::*;
use tables::*;

/// Shown wherever a value is missing (no requests, no percentile, no seed).
const DASH: &str = "\u{2013}";

/// The listener that sees what users see; it leads every view when present.
const OBSERVER: &str = "observer";

// The palette: one hue per meaning, shared by charts, legends, tables and badges so a color reads the same
// everywhere on the page.
const C_OK: &str = "#2f9e6b";
const C_GRACEFUL: &str = "#e0a21b";
const C_UNGRACEFUL: &str = "#d43d3d";
const C_INJECTED: &str = "#7c5cc4";
const C_UPSTREAM: &str = "#e0702b";
const C_PROXY: &str = "#2f6fd0";
const C_CLIENT: &str = "#9aa3af";
const C_P50: &str = "#8fb3e8";
const C_P95: &str = "#3f74c9";
const C_P99: &str = "#1b2d63";
const C_BAND: &str = "#64748b";

/// Renders the whole report as one HTML document.
pub fn render(report: &Report) -> String {
    let mut out = String::with_capacity(64 * 1024);
    head(&mut out, &report.title);
    out.push_str("<body>\n<main>\n");
    header(&mut out, report);
    cards(&mut out, &report.headline, report.duration_s);
    verdict::section(&mut out, report);

    let listener = main_listener(&report.windows);
    let windows: Vec<&WindowStats> = match &listener {
        Some(name) => report.windows.iter().filter(|w| &w.listener == name).collect(),
        None => Vec::new(),
    };
    let timeline = Timeline { x_max: time_extent(report), window_s: report.window_s, faults: &report.faults };
    latency_section(&mut out, &timeline, listener.as_deref(), &windows);
    outcomes_section(&mut out, &timeline, listener.as_deref(), &windows);

    routes_section(&mut out, &report.routes);
    impact_section(&mut out, &report.impact, !report.faults.is_empty());
    faults_section(&mut out, &report.faults);
    samples_section(&mut out, &report.samples);
    footer(&mut out, report.schema);
    out.push_str("</main>\n</body>\n</html>\n");
    out
}

// ---------------------------------------------------------------------------------------------------------------
// Formatting

/// HTML-escapes text for element content and quoted attribute values alike.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A value worth drawing or printing: present and finite (a NaN from a broken division shows as missing).
fn finite(v: Option<f64>) -> Option<f64> {
    v.filter(|x| x.is_finite())
}

/// Groups the digits of an integer by thousands: `12,345`.
fn fmt_count(n: u64) -> String {
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

/// A fraction as a percentage with one decimal, never rounding a non-perfect value up to 100% or a non-zero one
/// down to 0% (99.96% availability is not 100%).
fn fmt_pct(v: Option<f64>) -> String {
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
fn fmt_pct_short(v: f64) -> String {
    let p = v * 100.0;
    let whole = format!("{p:.0}");
    if (whole == "100" && p < 100.0) || (whole == "0" && p > 0.0) {
        return fmt_pct(Some(v));
    }
    format!("{whole}%")
}

/// Milliseconds as a bare number for table cells (the unit is in the column header).
fn fmt_ms_num(v: Option<f64>) -> String {
    match finite(v) {
        None => DASH.to_string(),
        Some(ms) if ms.abs() < 10.0 => format!("{ms:.1}"),
        Some(ms) => group_signed(ms.round()),
    }
}

/// Milliseconds with their unit, for cards and prose.
fn fmt_ms(v: Option<f64>) -> String {
    match finite(v) {
        None => DASH.to_string(),
        Some(ms) => format!("{} ms", fmt_ms_num(Some(ms))),
    }
}

/// A whole number that may be negative, grouped by thousands.
fn group_signed(v: f64) -> String {
    // Report values are far below u64::MAX; `as` saturates anyway rather than wrapping.
    let digits = fmt_count(v.abs() as u64);
    if v < 0.0 {
        format!("\u{2212}{digits}")
    } else {
        digits
    }
}

/// Seconds since the start for tables: one decimal so the column lines up.
fn fmt_secs(s: f64) -> String {
    if s.is_finite() {
        format!("{s:.1}")
    } else {
        DASH.to_string()
    }
}

/// A run's length in the largest units that keep it short: `42.5 s`, `5 min 12 s`, `2 h 03 min`.
fn fmt_duration(s: f64) -> String {
    if !s.is_finite() || s < 0.0 {
        return DASH.to_string();
    }
    if s < 60.0 {
        return format!("{s:.1} s");
    }
    // Rounded to whole seconds first so 59.7 s past a minute does not print as "60 s".
    let total = s.round() as u64;
    let (h, m, sec) = (total / 3600, total / 60 % 60, total % 60);
    if h > 0 {
        format!("{h} h {m:02} min")
    } else {
        format!("{m} min {sec:02} s")
    }
}

/// Milliseconds since the Unix epoch as `YYYY-MM-DD HH:MM:SS UTC`, without a date crate.
fn fmt_utc(ms: u64) -> String {
    let secs = ms / 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC", rem / 3600, rem / 60 % 60, rem % 60)
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11], March-based
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// A tick value with as many decimals as its step needs (a 2.5 step needs one), digits grouped when whole.
fn fmt_tick(v: f64, step: f64) -> String {
    let decimals = (0..6).find(|&d| {
        let scaled = step * 10f64.powi(d);
        (scaled - scaled.round()).abs() < 1e-6 * scaled.max(1.0)
    });
    match decimals.unwrap_or(6) {
        0 => group_signed(v.round()),
        d => format!("{v:.prec$}", prec = d as usize),
    }
}

fn failed_total(o: &Origins) -> u64 {
    o.injected + o.upstream + o.proxy + o.client
}

// ---------------------------------------------------------------------------------------------------------------
// Page frame: head, header, cards, footer

fn head(out: &mut String, title: &str) {
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    // The policy makes "self-contained" enforceable: the browser refuses any fetch and any script, and says so
    // on its console, where the HTML test looks.
    out.push_str(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n",
    );
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    out.push_str(&format!("<title>{} \u{00b7} brownout report</title>\n", esc(title)));
    out.push_str("<style>\n");
    out.push_str(CSS);
    out.push_str("</style>\n</head>\n");
}

fn outcome_class(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Completed => "good",
        Outcome::Stopped => "neutral",
        Outcome::Interrupted | Outcome::Unfinished => "warn",
        Outcome::Aborted | Outcome::Failed => "bad",
    }
}

fn header(out: &mut String, r: &Report) {
    out.push_str("<header class=\"top\">\n<div class=\"brand\">brownout \u{00b7} run report</div>\n");
    out.push_str(&format!("<h1>{}</h1>\n<dl class=\"meta\">\n", esc(&r.title)));
    let seed = r.seed.map_or_else(|| DASH.to_string(), |s| s.to_string());
    let outcome = format!("<span class=\"badge {}\">{}</span>", outcome_class(r.outcome), r.outcome);
    for (label, value) in [
        ("Started", esc(&fmt_utc(r.started_ms))),
        ("Duration", esc(&fmt_duration(r.duration_s))),
        ("Seed", seed),
        ("Outcome", outcome),
    ] {
        out.push_str(&format!("<div><dt>{label}</dt><dd>{value}</dd></div>\n"));
    }
    out.push_str("</dl>\n");
    if r.dropped > 0 {
        let lines = if r.dropped == 1 { "line was" } else { "lines were" };
        out.push_str(&format!(
            "<p class=\"warning\" role=\"alert\"><strong>{} journal {lines} dropped.</strong> The recorder could not \
             keep up, so the counts below miss some requests.</p>\n",
            fmt_count(r.dropped)
        ));
    }
    out.push_str("</header>\n");
}

fn cards(out: &mut String, h: &Stats, duration_s: f64) {
    let failures = failed_total(&h.failed);
    let judged = h.graceful + h.ungraceful;
    let card = |out: &mut String, label: &str, value: String, sub: String, tone: &str| {
        out.push_str(&format!(
            "<div class=\"card {tone}\"><div class=\"label\">{label}</div><div class=\"value\">{value}</div>\
             <div class=\"sub\">{sub}</div></div>\n"
        ));
    };
    out.push_str("<section class=\"cards\" aria-label=\"Headline\">\n");
    card(out, "Requests", fmt_count(h.requests), format!("over {}", esc(&fmt_duration(duration_s))), "");
    let avail_tone = match finite(h.availability) {
        Some(a) if a < 0.95 => "bad",
        Some(a) if a < 0.99 => "warn",
        _ => "",
    };
    card(out, "Availability", fmt_pct(h.availability), format!("{} succeeded", fmt_count(h.succeeded)), avail_tone);
    card(out, "Error rate", fmt_pct(h.error_rate), format!("{} failed", fmt_count(failures)), "");
    card(
        out,
        "p99 latency",
        fmt_ms(h.p99_ms),
        match (finite(h.p50_ms), finite(h.p95_ms)) {
            (None, None) => format!("p50 {DASH} \u{00b7} p95 {DASH}"),
            _ => format!("p50 {} \u{00b7} p95 {} ms", fmt_ms_num(h.p50_ms), fmt_ms_num(h.p95_ms)),
        },
        "",
    );
    card(out, "Graceful share", fmt_pct(h.graceful_share), format!("of {} failures", fmt_count(judged)), "");
    let ungraceful_tone = if h.ungraceful > 0 { "bad" } else { "" };
    card(out, "Ungraceful", fmt_count(h.ungraceful), "failures seen broken".to_string(), ungraceful_tone);
    out.push_str("</section>\n");
}

fn footer(out: &mut String, schema: u32) {
    out.push_str(&format!("<footer>brownout report schema {schema}</footer>\n"));
}

// ---------------------------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::super::model::{Report, Stats, SCHEMA};
    use super::*;

    fn empty_report() -> Report {
        Report {
            schema: SCHEMA,
            title: String::new(),
            started_ms: 0,
            duration_s: 0.0,
            seed: None,
            outcome: Outcome::Unfinished,
            headline: Stats::default(),
            routes: Vec::new(),
            windows: Vec::new(),
            window_s: 0.0,
            faults: Vec::new(),
            impact: Vec::new(),
            samples: Vec::new(),
            dropped: 0,
            phases: Vec::new(),
            verdict: None,
            steady_state: None,
        }
    }

    /// No NaN or infinity leaked into text or SVG coordinates.
    fn assert_finite(html: &str) {
        for needle in ["NaN", "inf\"", ">inf", "inf ", "-inf"] {
            assert!(!html.contains(needle), "a non-finite number leaked into the page: {needle}");
        }
    }

    #[test]
    fn escapes_every_special_character() {
        assert_eq!(esc(r#"<a href="x">'&'</a>"#), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    }

    #[test]
    fn title_with_script_comes_out_escaped() {
        let mut r = empty_report();
        r.title = "<script>alert('x')</script> & co".to_string();
        let html = render(&r);
        assert!(!html.contains("<script"), "raw script tag in output");
        assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; co"));
    }

    #[test]
    fn empty_report_renders_every_section() {
        let html = render(&empty_report());
        for id in ["chart-latency", "chart-outcomes", "routes", "impact", "faults", "samples"] {
            assert!(html.contains(&format!("id=\"{id}\"")), "missing {id}");
        }
        assert!(html.contains("No windows recorded"));
        assert!(html.contains("1970-01-01 00:00:00 UTC"));
        assert!(html.contains("brownout report schema 1"));
        assert_finite(&html);
    }

    #[test]
    fn missing_values_show_a_dash() {
        let mut r = empty_report();
        r.routes.push(RouteStats {
            listener: "observer".into(),
            route: "GET /".into(),
            stats: Stats::default(),
            grpc_status: Vec::new(),
        });
        let html = render(&r);
        assert_eq!(fmt_pct(None), "\u{2013}");
        assert_eq!(fmt_ms(None), "\u{2013}");
        // The headline cards (availability, error rate, p99, graceful share) and the route row's cells.
        assert!(html.contains("<div class=\"value\">\u{2013}</div>"));
        assert!(html.contains("<td class=\"num\">\u{2013}</td>"));
        // No seed either.
        assert!(html.contains("<dt>Seed</dt><dd>\u{2013}</dd>"));
    }

    #[test]
    fn non_finite_values_show_a_dash_not_nan() {
        let mut r = empty_report();
        let stats =
            Stats { requests: 3, availability: Some(f64::NAN), p99_ms: Some(f64::INFINITY), ..Stats::default() };
        r.windows.push(WindowStats { listener: "x".into(), start_s: 0.0, end_s: 10.0, stats: stats.clone() });
        r.routes.push(RouteStats { listener: "x".into(), route: "tcp".into(), stats, grpc_status: Vec::new() });
        assert_finite(&render(&r));
    }

    #[test]
    fn formats_utc_dates() {
        assert_eq!(fmt_utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(fmt_utc(951_782_400_000), "2000-02-29 00:00:00 UTC");
        assert_eq!(fmt_utc(1_700_000_000_123), "2023-11-14 22:13:20 UTC");
        assert_eq!(fmt_utc(4_102_444_799_000), "2099-12-31 23:59:59 UTC");
    }

    #[test]
    fn formats_numbers() {
        assert_eq!(fmt_count(0), "0");
        assert_eq!(fmt_count(1234567), "1,234,567");
        assert_eq!(fmt_pct(Some(1.0)), "100%");
        assert_eq!(fmt_pct(Some(0.9996)), "99.96%");
        assert_eq!(fmt_pct(Some(0.99999)), "99.99%");
        assert_eq!(fmt_pct(Some(0.623)), "62.3%");
        assert_eq!(fmt_pct_short(0.62), "62%");
        assert_eq!(fmt_ms_num(Some(4.26)), "4.3");
        assert_eq!(fmt_ms_num(Some(1234.4)), "1,234");
        assert_eq!(fmt_duration(42.25), "42.2 s");
        assert_eq!(fmt_duration(312.0), "5 min 12 s");
        assert_eq!(fmt_duration(7380.0), "2 h 03 min");
        assert_eq!(fmt_pp(Some(-0.38)).0, "\u{2212}38.0 pp");
        assert_eq!(fmt_pp(Some(0.00001)).0, "0.0 pp");
        assert_eq!(fmt_tick(7.5, 2.5), "7.5");
        assert_eq!(fmt_tick(0.75, 0.25), "0.75");
        assert_eq!(fmt_tick(3000.0, 500.0), "3,000");
    }

    #[test]
    fn picks_the_observer_else_the_busiest_listener() {
        let w = |listener: &str, requests| WindowStats {
            listener: listener.into(),
            start_s: 0.0,
            end_s: 1.0,
            stats: Stats { requests, ..Stats::default() },
        };
        assert_eq!(main_listener(&[w("db", 9), w("observer", 1)]).as_deref(), Some("observer"));
        assert_eq!(main_listener(&[w("db", 9), w("api", 5), w("api", 5)]).as_deref(), Some("api"));
        assert_eq!(main_listener(&[w("b", 5), w("a", 5)]).as_deref(), Some("a"));
        assert_eq!(main_listener(&[]), None);
    }

    #[test]
    fn fault_labels_do_not_share_a_lane_when_they_would_overlap() {
        let plot = Plot { left: 0.0, top: 0.0, width: 1000.0, height: 100.0, x_max: 100.0, y_max: 1.0 };
        let fault = |name: &str, on_s| FaultStats {
            target: "t".into(),
            name: name.into(),
            kind: "latency".into(),
            configured: String::new(),
            on_s,
            off_s: None,
            applied: 0,
        };
        let (bands, lanes) = layout_bands(&plot, &[fault("a-long-name", 10.0), fault("b", 11.0), fault("c", 80.0)]);
        assert_eq!(lanes, 2);
        assert_eq!(bands.iter().map(|b| b.lane).collect::<Vec<_>>(), vec![0, 1, 0]);
    }
}
