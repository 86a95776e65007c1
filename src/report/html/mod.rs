//! Renders a run's [`Report`] as one self-contained HTML page: inline CSS and inline SVG charts, no script and
//! nothing fetched, so the file can be archived, mailed or opened offline exactly as written.

mod chart;
mod style;
mod tables;
mod timecharts;
mod verdict;

use std::collections::BTreeMap;

use super::model::{FaultStats, Impact, Origins, Report, RouteStats, Sample, Stats, WindowStats};
use crate::record::journal::{Class, Outcome};
use chart::*;
use tables::*;
use timecharts::*;

#[cfg(test)]
use super::words::fmt_pct_short;
pub(crate) use super::words::{finite, fmt_count, fmt_ms, fmt_ms_num, fmt_pct, group_signed, DASH};
/// The report's style sheet, which the scoreboard's page shares.
pub(crate) use style::CSS;

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
    cards(&mut out, &report.headline, report.duration_s, super::words::unit(report));
    verdict::section(&mut out, report);

    let listener = main_listener(&report.windows);
    let windows: Vec<&WindowStats> = match &listener {
        Some(name) => report.windows.iter().filter(|w| &w.listener == name).collect(),
        None => Vec::new(),
    };
    // The charts follow one listener; its rows say whether it counts requests or connections.
    let tcp = listener.as_ref().is_some_and(|l| report.routes.iter().filter(|r| &r.listener == l).all(|r| r.is_tcp()));
    let timeline = Timeline {
        x_max: time_extent(report),
        window_s: report.window_s,
        faults: &report.faults,
        unit: if tcp { "connections" } else { "requests" },
        latency_label: if tcp { "connection lifetime (ms)" } else { "latency (ms)" },
    };
    latency_section(&mut out, &timeline, listener.as_deref(), &windows);
    outcomes_section(&mut out, &timeline, listener.as_deref(), &windows);

    routes_section(&mut out, &report.routes);
    impact_section(&mut out, report);
    faults_section(&mut out, &report.faults);
    samples_section(&mut out, &report.samples);
    reproduce_section(&mut out, report);
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

/// Milliseconds since the Unix epoch in ISO 8601, UTC, as every report writes dates.
fn fmt_utc(ms: u64) -> String {
    super::words::iso_utc(ms)
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

fn cards(out: &mut String, h: &Stats, duration_s: f64, (_, many): (&str, &str)) {
    let failures = failed_total(&h.failed);
    let judged = h.graceful + h.ungraceful;
    let card = |out: &mut String, label: &str, value: String, sub: String, tone: &str| {
        out.push_str(&format!(
            "<div class=\"card {tone}\"><div class=\"label\">{label}</div><div class=\"value\">{value}</div>\
             <div class=\"sub\">{sub}</div></div>\n"
        ));
    };
    out.push_str("<section class=\"cards\" aria-label=\"Headline\">\n");
    let title = if many == "connections" { "Connections" } else { "Requests" };
    card(out, title, fmt_count(h.requests), format!("over {}", esc(&fmt_duration(duration_s))), "");
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

/// What it takes to run it again: version, seed, the experiment and its SHA-256, the command line.
fn reproduce_section(out: &mut String, r: &Report) {
    let p = &r.reproduce;
    let code = |v: Option<String>| v.map_or_else(|| DASH.to_string(), |v| format!("<code>{}</code>", esc(&v)));
    out.push_str("<section id=\"reproduce\">\n<h2>Reproduce</h2>\n<dl class=\"repro\">\n");
    for (label, value) in [
        ("brownout version", code(p.version.clone())),
        ("Seed", code(p.seed.map(|s| s.to_string()))),
        ("Experiment", code(p.experiment.clone())),
        ("Experiment SHA-256", code(p.sha256.clone())),
        ("Started", esc(&fmt_utc(r.started_ms))),
        ("Command line", code(p.command.as_deref().map(super::words::shell_words))),
    ] {
        out.push_str(&format!("<dt>{label}</dt><dd>{value}</dd>\n"));
    }
    out.push_str("</dl>\n</section>\n");
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
            started: String::new(),
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
            reproduce: Default::default(),
            standards: None,
            schedule: None,
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
        assert!(html.contains("1970-01-01T00:00:00Z"));
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
            ..RouteStats::default()
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
        r.routes.push(RouteStats { listener: "x".into(), route: "tcp".into(), stats, ..RouteStats::default() });
        assert_finite(&render(&r));
    }

    #[test]
    fn formats_utc_dates() {
        assert_eq!(fmt_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(fmt_utc(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(fmt_utc(1_700_000_000_123), "2023-11-14T22:13:20Z");
        assert_eq!(fmt_utc(4_102_444_799_000), "2099-12-31T23:59:59Z");
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
        let plot =
            Plot { left: 0.0, top: 0.0, width: 1000.0, height: 100.0, x_max: 100.0, y_max: 1.0, lanes_top: 42.0 };
        let fault = |name: &str, on_s| FaultStats {
            target: "t".into(),
            name: name.into(),
            kind: "latency".into(),
            configured: String::new(),
            on_s,
            off_s: None,
            applied: 0,
            ..FaultStats::default()
        };
        let (bands, lanes) = layout_bands(&plot, &[fault("a-long-name", 10.0), fault("b", 11.0), fault("c", 80.0)]);
        assert_eq!(lanes, 2);
        assert_eq!(bands.iter().map(|b| b.lane).collect::<Vec<_>>(), vec![0, 1, 0]);
    }
}
