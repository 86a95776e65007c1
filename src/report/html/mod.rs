//! Renders a run's [`Report`] as one self-contained HTML page: inline CSS and inline SVG charts, no script and
//! nothing fetched, so the file can be archived, mailed or opened offline exactly as written.

mod verdict;

use std::collections::BTreeMap;

use super::model::{FaultStats, Impact, Origins, Report, RouteStats, Sample, Stats, WindowStats};

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

fn outcome_class(outcome: &str) -> &'static str {
    match outcome {
        "completed" => "good",
        "stopped" => "neutral",
        "interrupted" | "unfinished" => "warn",
        "aborted" => "bad",
        _ => "neutral",
    }
}

fn header(out: &mut String, r: &Report) {
    out.push_str("<header class=\"top\">\n<div class=\"brand\">brownout \u{00b7} run report</div>\n");
    out.push_str(&format!("<h1>{}</h1>\n<dl class=\"meta\">\n", esc(&r.title)));
    let seed = r.seed.map_or_else(|| DASH.to_string(), |s| s.to_string());
    let outcome = format!("<span class=\"badge {}\">{}</span>", outcome_class(&r.outcome), esc(&r.outcome));
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
// Which data the charts show

/// The listener the charts follow: the observer when it has windows, else the busiest listener (ties go to the
/// alphabetically first, so the choice does not depend on window order).
fn main_listener(windows: &[WindowStats]) -> Option<String> {
    if windows.iter().any(|w| w.listener == OBSERVER) {
        return Some(OBSERVER.to_string());
    }
    let mut totals: BTreeMap<&str, u64> = BTreeMap::new();
    for w in windows {
        *totals.entry(&w.listener).or_default() += w.stats.requests;
    }
    totals.into_iter().max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0))).map(|(name, _)| name.to_string())
}

/// How many seconds the x axis spans: the run, and anything recorded past its stated duration.
fn time_extent(r: &Report) -> f64 {
    let mut end = if r.duration_s.is_finite() { r.duration_s } else { 0.0 };
    for w in &r.windows {
        end = end.max(w.end_s);
    }
    for f in &r.faults {
        end = end.max(f.on_s).max(f.off_s.unwrap_or(0.0));
    }
    if end.is_finite() && end > 0.0 {
        end
    } else if r.window_s.is_finite() && r.window_s > 0.0 {
        r.window_s
    } else {
        1.0
    }
}

/// What both time charts share: the x extent, the window length and the fault bands.
struct Timeline<'a> {
    x_max: f64,
    window_s: f64,
    faults: &'a [FaultStats],
}

fn chart_caption(listener: Option<&str>, window_s: f64) -> String {
    let window = if window_s.is_finite() && window_s > 0.0 {
        format!("{} s windows", fmt_num(window_s))
    } else {
        "windows".to_string()
    };
    match listener {
        Some(OBSERVER) => format!("At the observer (what users saw), {window}."),
        Some(name) => format!("At listener <code>{}</code> (no observer; the busiest listener), {window}.", esc(name)),
        None => "No windows were recorded.".to_string(),
    }
}

/// A plain number without trailing zeros: `10`, `2.5`.
fn fmt_num(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

// ---------------------------------------------------------------------------------------------------------------
// SVG chart helpers

const SVG_W: f64 = 1120.0;
const PLOT_LEFT: f64 = 78.0;
const PLOT_RIGHT_PAD: f64 = 28.0;
const PLOT_H: f64 = 260.0;
const LEGEND_Y: f64 = 16.0;
const LANES_TOP: f64 = 42.0;
const LANE_H: f64 = 17.0;
const BOTTOM_PAD: f64 = 54.0;
/// Average glyph width of the 11 px chart font, for laying out labels without measuring text.
const CHAR_W: f64 = 6.3;

/// Where a chart's plot area sits in its SVG, and the data ranges it maps.
struct Plot {
    left: f64,
    top: f64,
    width: f64,
    height: f64,
    x_max: f64,
    y_max: f64,
}

impl Plot {
    fn x(&self, s: f64) -> f64 {
        // A non-finite time would print as "NaN" and break the SVG; pin it to the axis instead.
        let s = if s.is_finite() { s } else { 0.0 };
        self.left + self.width * (s.clamp(0.0, self.x_max) / self.x_max)
    }
    fn y(&self, v: f64) -> f64 {
        let v = if v.is_finite() { v } else { 0.0 };
        self.top + self.height * (1.0 - v.clamp(0.0, self.y_max) / self.y_max)
    }
    fn right(&self) -> f64 {
        self.left + self.width
    }
    fn bottom(&self) -> f64 {
        self.top + self.height
    }
}

/// A round tick step (1, 2, 2.5 or 5 times a power of ten) giving about `target` ticks over `range`.
fn nice_step(range: f64, target: f64) -> f64 {
    let raw = (range / target).max(f64::MIN_POSITIVE);
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let nice = if norm <= 1.0 {
        1.0
    } else if norm <= 2.0 {
        2.0
    } else if norm <= 2.5 {
        2.5
    } else if norm <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * mag
}

/// Ticks from 0 by `step` up to `max` (inclusive, allowing for float error).
fn ticks(max: f64, step: f64) -> Vec<f64> {
    let n = (max / step + 1e-9).floor() as usize;
    (0..=n).map(|i| i as f64 * step).collect()
}

#[derive(Clone, Copy)]
enum Swatch {
    Line(&'static str, f64),
    Box(&'static str),
    Band,
}

/// A one-row legend above the plot; widths are estimated, which is enough for short labels.
fn legend(out: &mut String, items: &[(Swatch, &str)]) {
    let mut x = PLOT_LEFT;
    out.push_str("<g class=\"legend\">\n");
    for (swatch, label) in items {
        let y = LEGEND_Y;
        match swatch {
            Swatch::Line(color, width) => out.push_str(&format!(
                "<line x1=\"{x:.1}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"{color}\" \
                 stroke-width=\"{width}\" stroke-linecap=\"round\"/>",
                x + 18.0
            )),
            Swatch::Box(color) => out.push_str(&format!(
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"12\" height=\"12\" rx=\"2\" fill=\"{color}\"/>",
                x + 3.0,
                y - 6.0
            )),
            Swatch::Band => out.push_str(&format!(
                "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"18\" height=\"12\" fill=\"{C_BAND}\" fill-opacity=\"0.16\" \
                 stroke=\"{C_BAND}\" stroke-opacity=\"0.6\" stroke-dasharray=\"3 2\"/>",
                y - 6.0
            )),
        }
        out.push_str(&format!("<text x=\"{:.1}\" y=\"{:.1}\" dy=\"0.35em\">{}</text>\n", x + 24.0, y, esc(label)));
        x += 24.0 + label.chars().count() as f64 * CHAR_W + 22.0;
    }
    out.push_str("</g>\n");
}

/// A fault's shaded band and where its label goes.
struct Band {
    x0: f64,
    x1: f64,
    label: String,
    text_x: f64,
    lane: usize,
    on_s: f64,
    off_s: Option<f64>,
}

/// Lays the fault labels out in lanes above the plot so that no two overlap; returns the bands and the lane count.
fn layout_bands(plot: &Plot, faults: &[FaultStats]) -> (Vec<Band>, usize) {
    let mut order: Vec<&FaultStats> = faults.iter().filter(|f| f.on_s.is_finite()).collect();
    order.sort_by(|a, b| a.on_s.total_cmp(&b.on_s));
    let mut lane_ends: Vec<f64> = Vec::new();
    let mut bands = Vec::with_capacity(order.len());
    for f in order {
        let off = finite(f.off_s).unwrap_or(plot.x_max);
        let (x0, x1) = (plot.x(f.on_s), plot.x(off.max(f.on_s)));
        let label = format!("{}/{}", f.target, f.name);
        let width = label.chars().count() as f64 * CHAR_W;
        // Labels start just right of the band's edge; one that would run off the chart is pulled back left.
        let text_x = (x0 + 5.0).min(plot.right() - width).max(0.0);
        let lane = match lane_ends.iter().position(|&end| end + 12.0 <= text_x.min(x0)) {
            Some(lane) => lane,
            None => {
                lane_ends.push(0.0);
                lane_ends.len() - 1
            }
        };
        lane_ends[lane] = text_x + width;
        bands.push(Band { x0, x1, label, text_x, lane, on_s: f.on_s, off_s: finite(f.off_s) });
    }
    (bands, lane_ends.len())
}

/// Shaded fault bands behind the data, each with a leader line up to its label.
fn bands_svg(out: &mut String, plot: &Plot, bands: &[Band]) {
    out.push_str("<g class=\"bands\">\n");
    for b in bands {
        let until = b.off_s.map_or_else(|| "the end".to_string(), |s| format!("{} s", fmt_num(s)));
        let label_y = LANES_TOP + b.lane as f64 * LANE_H;
        out.push_str(&format!(
            "<g><title>{} on from {} s to {}</title>\
             <rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{C_BAND}\" fill-opacity=\"0.13\"/>\
             <line x1=\"{x0:.1}\" y1=\"{:.1}\" x2=\"{x0:.1}\" y2=\"{:.1}\" stroke=\"{C_BAND}\" stroke-opacity=\"0.7\" \
             stroke-dasharray=\"3 2\"/>",
            esc(&b.label),
            fmt_num(b.on_s),
            until,
            b.x0,
            plot.top,
            (b.x1 - b.x0).max(1.0),
            plot.height,
            label_y - 5.0,
            plot.bottom(),
            x0 = b.x0,
        ));
        if b.off_s.is_some() {
            // A fault that went off gets a closing edge too; one on until the end runs into the frame instead.
            out.push_str(&format!(
                "<line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"{C_BAND}\" \
                 stroke-opacity=\"0.35\" stroke-dasharray=\"3 2\"/>",
                plot.top,
                plot.bottom(),
                x = b.x1
            ));
        }
        if b.text_x + 1.0 < b.x0 {
            // The label was pulled left of its band: a short tick joins it to the leader line.
            out.push_str(&format!(
                "<line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"{C_BAND}\" \
                 stroke-opacity=\"0.7\"/>",
                b.x0 - 4.0,
                label_y - 5.0,
                b.x0,
                label_y - 5.0
            ));
        }
        out.push_str(&format!(
            "<text class=\"band-label\" x=\"{:.1}\" y=\"{label_y:.1}\">{}</text></g>\n",
            b.text_x,
            esc(&b.label)
        ));
    }
    out.push_str("</g>\n");
}

/// Horizontal grid lines with y tick labels, and x tick labels with short tick marks.
fn grid_svg(out: &mut String, plot: &Plot, x_step: f64, y_step: f64) {
    out.push_str("<g class=\"grid\">\n");
    for v in ticks(plot.y_max, y_step) {
        let y = plot.y(v);
        out.push_str(&format!(
            "<line x1=\"{:.1}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\"/>\
             <text class=\"tick\" x=\"{:.1}\" y=\"{y:.1}\" dy=\"0.35em\" text-anchor=\"end\">{}</text>\n",
            plot.left,
            plot.right(),
            plot.left - 8.0,
            fmt_tick(v, y_step)
        ));
    }
    for v in ticks(plot.x_max, x_step) {
        let x = plot.x(v);
        out.push_str(&format!(
            "<line class=\"mark\" x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\"/>\
             <text class=\"tick\" x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\n",
            plot.bottom(),
            plot.bottom() + 5.0,
            plot.bottom() + 19.0,
            fmt_tick(v, x_step)
        ));
    }
    out.push_str("</g>\n");
}

/// The axis lines and their titles, drawn last so data never covers them.
fn axes_svg(out: &mut String, plot: &Plot, x_label: &str, y_label: &str) {
    out.push_str(&format!(
        "<g class=\"axes\"><line x1=\"{l:.1}\" y1=\"{t:.1}\" x2=\"{l:.1}\" y2=\"{b:.1}\"/>\
         <line x1=\"{l:.1}\" y1=\"{b:.1}\" x2=\"{r:.1}\" y2=\"{b:.1}\"/>\
         <text class=\"axis-title\" x=\"{cx:.1}\" y=\"{xt:.1}\" text-anchor=\"middle\">{}</text>\
         <text class=\"axis-title\" transform=\"translate(18 {cy:.1}) rotate(-90)\" text-anchor=\"middle\">{}</text>\
         </g>\n",
        esc(x_label),
        esc(y_label),
        l = plot.left,
        t = plot.top,
        b = plot.bottom(),
        r = plot.right(),
        cx = plot.left + plot.width / 2.0,
        xt = plot.bottom() + 42.0,
        cy = plot.top + plot.height / 2.0,
    ));
}

/// Opens a time chart: sizes it for its fault labels, then draws legend, bands and grid. The caller draws the
/// data and then calls [`close_chart`].
fn open_chart(
    out: &mut String,
    id: &str,
    aria: &str,
    timeline: &Timeline,
    y_data_max: f64,
    legend_items: &[(Swatch, &str)],
) -> Plot {
    let y_data_max = if y_data_max.is_finite() && y_data_max > 0.0 { y_data_max } else { 1.0 };
    let y_step = nice_step(y_data_max, 5.0);
    let y_max = (y_data_max / y_step - 1e-9).ceil().max(1.0) * y_step;
    let mut plot = Plot {
        left: PLOT_LEFT,
        top: 0.0,
        width: SVG_W - PLOT_LEFT - PLOT_RIGHT_PAD,
        height: PLOT_H,
        x_max: timeline.x_max,
        y_max,
    };
    let (bands, lanes) = layout_bands(&plot, timeline.faults);
    plot.top = LANES_TOP + lanes as f64 * LANE_H;
    let height = plot.bottom() + BOTTOM_PAD;
    out.push_str(&format!(
        "<svg id=\"{id}\" class=\"chart\" viewBox=\"0 0 {SVG_W} {height:.0}\" role=\"img\" aria-label=\"{}\">\n",
        esc(aria)
    ));
    let mut items = legend_items.to_vec();
    if !bands.is_empty() {
        items.push((Swatch::Band, "fault on"));
    }
    legend(out, &items);
    bands_svg(out, &plot, &bands);
    grid_svg(out, &plot, nice_step(plot.x_max, 10.0), y_step);
    plot
}

fn close_chart(out: &mut String, plot: &Plot, x_label: &str, y_label: &str, empty: bool) {
    if empty {
        out.push_str(&format!(
            "<text class=\"empty\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">No windows recorded</text>\n",
            plot.left + plot.width / 2.0,
            plot.top + plot.height / 2.0
        ));
    }
    axes_svg(out, plot, x_label, y_label);
    out.push_str("</svg>\n");
}

/// A polyline through the present points; a missing value breaks the line rather than bridging the gap.
fn line_svg(out: &mut String, plot: &Plot, points: &[(f64, Option<f64>)], color: &str, width: f64, name: &str) {
    let mut d = String::new();
    let mut pen_down = false;
    for &(s, v) in points {
        match finite(v) {
            Some(v) => {
                d.push_str(&format!("{}{:.1} {:.1} ", if pen_down { "L" } else { "M" }, plot.x(s), plot.y(v)));
                pen_down = true;
            }
            None => pen_down = false,
        }
    }
    out.push_str("<g class=\"series\">");
    // An empty `d` is not worth a console complaint from a strict SVG parser: no points, no path.
    if !d.is_empty() {
        out.push_str(&format!(
            "<path d=\"{}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"{width}\" stroke-linejoin=\"round\" \
             stroke-linecap=\"round\"/>",
            d.trim_end()
        ));
    }
    // Dots carry hover titles and keep isolated points (neighbours missing) visible.
    for &(s, v) in points {
        if let Some(v) = finite(v) {
            out.push_str(&format!(
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.4\" fill=\"{color}\">\
                 <title>{name} at {} s: {}</title></circle>",
                plot.x(s),
                plot.y(v),
                fmt_num(s),
                esc(&fmt_ms(Some(v)))
            ));
        }
    }
    out.push_str("</g>\n");
}

/// One part of a stacked bar.
struct Segment {
    value: u64,
    color: &'static str,
    label: &'static str,
}

/// One window's stacked bar, bottom segment first, with a hover title listing every part.
fn stacked_bar_svg(out: &mut String, plot: &Plot, start_s: f64, end_s: f64, segments: &[Segment]) {
    let (x0, x1) = (plot.x(start_s), plot.x(end_s.max(start_s)));
    // A small gap keeps neighbouring windows apart without making thin bars vanish.
    let gap = ((x1 - x0) * 0.12).min(2.0);
    let width = (x1 - x0 - 2.0 * gap).max(1.0);
    let parts: Vec<String> = segments.iter().map(|s| format!("{} {}", fmt_count(s.value), s.label)).collect();
    out.push_str(&format!("<g><title>{}\u{2013}{} s: {}</title>", fmt_num(start_s), fmt_num(end_s), parts.join(", ")));
    let mut base = 0u64;
    for s in segments.iter().filter(|s| s.value > 0) {
        let (y_top, y_bottom) = (plot.y((base + s.value) as f64), plot.y(base as f64));
        out.push_str(&format!(
            "<rect x=\"{:.1}\" y=\"{y_top:.1}\" width=\"{width:.1}\" height=\"{:.1}\" fill=\"{}\"/>",
            x0 + gap,
            (y_bottom - y_top).max(0.5),
            s.color
        ));
        base += s.value;
    }
    out.push_str("</g>\n");
}

// ---------------------------------------------------------------------------------------------------------------
// The two time charts

fn latency_section(out: &mut String, timeline: &Timeline, listener: Option<&str>, windows: &[&WindowStats]) {
    out.push_str("<section>\n<h2>Latency over time</h2>\n");
    out.push_str(&format!("<p class=\"caption\">{}</p>\n", chart_caption(listener, timeline.window_s)));
    let mid = |w: &WindowStats| (w.start_s + w.end_s) / 2.0;
    let series = |pick: fn(&Stats) -> Option<f64>| -> Vec<(f64, Option<f64>)> {
        windows.iter().map(|w| (mid(w), pick(&w.stats))).collect()
    };
    let (p50, p95, p99) = (series(|s| s.p50_ms), series(|s| s.p95_ms), series(|s| s.p99_ms));
    let y_max = p50.iter().chain(&p95).chain(&p99).filter_map(|&(_, v)| finite(v)).fold(0.0, f64::max);
    let plot = open_chart(
        out,
        "chart-latency",
        "Latency percentiles per window, in milliseconds, over seconds since the start",
        timeline,
        y_max,
        &[(Swatch::Line(C_P50, 2.0), "p50"), (Swatch::Line(C_P95, 2.0), "p95"), (Swatch::Line(C_P99, 2.5), "p99")],
    );
    line_svg(out, &plot, &p50, C_P50, 2.0, "p50");
    line_svg(out, &plot, &p95, C_P95, 2.0, "p95");
    line_svg(out, &plot, &p99, C_P99, 2.5, "p99");
    close_chart(out, &plot, "seconds since start", "latency (ms)", windows.is_empty());
    out.push_str("</section>\n");
}

fn outcomes_section(out: &mut String, timeline: &Timeline, listener: Option<&str>, windows: &[&WindowStats]) {
    let observer = listener == Some(OBSERVER);
    out.push_str("<section>\n<h2>Outcomes over time</h2>\n");
    out.push_str(&format!("<p class=\"caption\">{}</p>\n", chart_caption(listener, timeline.window_s)));
    let segments = |s: &Stats| -> Vec<Segment> {
        if observer {
            vec![
                Segment { value: s.ok, color: C_OK, label: "ok" },
                Segment { value: s.graceful, color: C_GRACEFUL, label: "graceful" },
                Segment { value: s.ungraceful, color: C_UNGRACEFUL, label: "ungraceful" },
            ]
        } else {
            vec![
                Segment { value: s.succeeded, color: C_OK, label: "succeeded" },
                Segment { value: s.failed.injected, color: C_INJECTED, label: "failed: injected" },
                Segment { value: s.failed.upstream, color: C_UPSTREAM, label: "failed: upstream" },
                Segment { value: s.failed.proxy, color: C_PROXY, label: "failed: proxy" },
                Segment { value: s.failed.client, color: C_CLIENT, label: "failed: client" },
            ]
        }
    };
    let bars: Vec<(f64, f64, Vec<Segment>)> =
        windows.iter().map(|w| (w.start_s, w.end_s, segments(&w.stats))).collect();
    let y_max = bars.iter().map(|(_, _, segs)| segs.iter().map(|s| s.value).sum::<u64>()).max().unwrap_or(0);
    let legend_items: Vec<(Swatch, &str)> = if observer {
        vec![
            (Swatch::Box(C_OK), "ok"),
            (Swatch::Box(C_GRACEFUL), "graceful"),
            (Swatch::Box(C_UNGRACEFUL), "ungraceful"),
        ]
    } else {
        vec![
            (Swatch::Box(C_OK), "succeeded"),
            (Swatch::Box(C_INJECTED), "failed: injected"),
            (Swatch::Box(C_UPSTREAM), "failed: upstream"),
            (Swatch::Box(C_PROXY), "failed: proxy"),
            (Swatch::Box(C_CLIENT), "failed: client"),
        ]
    };
    let plot = open_chart(
        out,
        "chart-outcomes",
        "Requests per window by outcome, over seconds since the start",
        timeline,
        y_max as f64,
        &legend_items,
    );
    for (start, end, segs) in &bars {
        stacked_bar_svg(out, &plot, *start, *end, segs);
    }
    let y_label = if timeline.window_s.is_finite() && timeline.window_s > 0.0 {
        format!("requests per window ({} s)", fmt_num(timeline.window_s))
    } else {
        "requests per window".to_string()
    };
    close_chart(out, &plot, "seconds since start", &y_label, windows.is_empty());
    out.push_str("</section>\n");
}

// ---------------------------------------------------------------------------------------------------------------
// Tables

/// A right-aligned count cell; zeros are muted so the eye finds the non-zero ones.
fn count_td(n: u64) -> String {
    if n == 0 {
        "<td class=\"num zero\">0</td>".to_string()
    } else {
        format!("<td class=\"num\">{}</td>", fmt_count(n))
    }
}

fn num_td(text: &str) -> String {
    format!("<td class=\"num\">{}</td>", esc(text))
}

/// An availability cell, tinted when it falls below two and three nines.
fn availability_td(v: Option<f64>) -> String {
    let tone = match finite(v) {
        Some(a) if a < 0.95 => " bad",
        Some(a) if a < 0.99 => " warn",
        _ => "",
    };
    format!("<td class=\"num{tone}\">{}</td>", fmt_pct(v))
}

fn dot(color: &str) -> String {
    format!("<i class=\"dot\" style=\"background:{color}\"></i>")
}

fn empty_note(out: &mut String, text: &str) {
    out.push_str(&format!("<p class=\"empty-note\">{}</p>\n", esc(text)));
}

fn routes_section(out: &mut String, routes: &[RouteStats]) {
    out.push_str("<section>\n<h2>Routes</h2>\n");
    let mut rows: Vec<&RouteStats> = routes.iter().collect();
    // Observer rows lead (they are what users saw); otherwise the report's own order is kept.
    rows.sort_by_key(|r| r.listener != OBSERVER);
    out.push_str("<div class=\"table-wrap\">\n<table class=\"data\" id=\"routes\">\n<thead>\n<tr>");
    out.push_str(
        "<th rowspan=\"2\">Listener</th><th rowspan=\"2\">Route</th><th rowspan=\"2\" class=\"num\">Requests</th>\
         <th rowspan=\"2\" class=\"num\">Availability</th><th rowspan=\"2\" class=\"num\">Error rate</th>\
         <th colspan=\"4\" class=\"group\">Failures by origin</th><th colspan=\"3\" class=\"group\">Latency (ms)</th>\
         <th rowspan=\"2\" class=\"num\">Graceful<br>share</th></tr>\n<tr>",
    );
    for (color, name) in [(C_INJECTED, "injected"), (C_UPSTREAM, "upstream"), (C_PROXY, "proxy"), (C_CLIENT, "client")]
    {
        out.push_str(&format!("<th class=\"num sub\">{}{name}</th>", dot(color)));
    }
    out.push_str("<th class=\"num sub\">p50</th><th class=\"num sub\">p95</th><th class=\"num sub\">p99</th></tr>\n");
    out.push_str("</thead>\n<tbody>\n");
    for r in &rows {
        let s = &r.stats;
        let listener_class = if r.listener == OBSERVER { "pill observer" } else { "pill" };
        out.push_str(&format!(
            "<tr><td><span class=\"{listener_class}\">{}</span></td><td class=\"route\">{}</td>",
            esc(&r.listener),
            esc(&r.route)
        ));
        out.push_str(&count_td(s.requests));
        out.push_str(&availability_td(s.availability));
        out.push_str(&num_td(&fmt_pct(s.error_rate)));
        for n in [s.failed.injected, s.failed.upstream, s.failed.proxy, s.failed.client] {
            out.push_str(&count_td(n));
        }
        for v in [s.p50_ms, s.p95_ms, s.p99_ms] {
            out.push_str(&num_td(&fmt_ms_num(v)));
        }
        out.push_str(&num_td(&fmt_pct(s.graceful_share)));
        out.push_str("</tr>\n");
    }
    if rows.is_empty() {
        out.push_str("<tr><td colspan=\"13\" class=\"empty-row\">No requests were recorded.</td></tr>\n");
    }
    out.push_str("</tbody>\n</table>\n</div>\n</section>\n");
}

/// Orders impacts worst first: the largest availability drop, then the largest p99 rise; unknown deltas last.
fn impact_order(a: &Impact, b: &Impact) -> std::cmp::Ordering {
    let key = |v: Option<f64>| finite(v).unwrap_or(f64::INFINITY);
    let p99_key = |v: Option<f64>| finite(v).map_or(f64::INFINITY, |d| -d);
    key(a.availability_delta)
        .total_cmp(&key(b.availability_delta))
        .then(p99_key(a.p99_delta_ms).total_cmp(&p99_key(b.p99_delta_ms)))
}

/// The plain-language summary of the worst impact.
fn impact_sentence(worst: Option<&Impact>, any_faults: bool) -> String {
    let Some(i) = worst else {
        return if any_faults {
            "No fault was on while the observer saw requests to compare.".to_string()
        } else {
            "No faults were injected, so there is no impact to show.".to_string()
        };
    };
    let fault = format!("<strong>{}/{}</strong>", esc(&i.target), esc(&i.fault));
    let route = format!("<code>{}</code>", esc(&i.route));
    match (finite(i.baseline.availability), finite(i.during.availability), finite(i.availability_delta)) {
        (Some(before), Some(during), Some(delta)) if delta < 0.0 => format!(
            "When {fault} was on, {route} fell from {} to {} available.",
            fmt_pct_short(before),
            fmt_pct_short(during)
        ),
        (_, Some(during), Some(_)) => {
            let p99 = match finite(i.p99_delta_ms) {
                Some(d) if d > 0.0 => format!(", though its p99 rose by {} while {fault} was on", fmt_ms(Some(d))),
                _ => String::new(),
            };
            format!(
                "No fault lowered availability; the most affected route, {route}, stayed at {} available{p99}.",
                fmt_pct_short(during)
            )
        }
        _ => format!("There were too few requests to compare {route} with and without {fault}."),
    }
}

/// A signed delta cell: `worse` and `better` say which sign is bad for this measure.
fn delta_td(text: String, worse: bool, better: bool) -> String {
    let tone = if worse {
        " bad"
    } else if better {
        " good"
    } else {
        ""
    };
    format!("<td class=\"num delta{tone}\">{text}</td>")
}

fn fmt_pp(delta: Option<f64>) -> (String, bool, bool) {
    match finite(delta) {
        None => (DASH.to_string(), false, false),
        Some(d) => {
            let text = format!("{:.1}", d.abs() * 100.0);
            // Only a change that shows in one decimal is colored, so "0.0 pp" is never red.
            let zero = text == "0.0";
            let sign = if zero {
                ""
            } else if d < 0.0 {
                "\u{2212}"
            } else {
                "+"
            };
            (format!("{sign}{text} pp"), !zero && d < 0.0, !zero && d > 0.0)
        }
    }
}

fn fmt_ms_delta(delta: Option<f64>) -> (String, bool, bool) {
    match finite(delta) {
        None => (DASH.to_string(), false, false),
        Some(d) => {
            let text = fmt_ms_num(Some(d.abs()));
            let zero = text == "0.0" || text == "0";
            let sign = if zero {
                ""
            } else if d < 0.0 {
                "\u{2212}"
            } else {
                "+"
            };
            (format!("{sign}{text}"), !zero && d > 0.0, !zero && d < 0.0)
        }
    }
}

fn impact_section(out: &mut String, impacts: &[Impact], any_faults: bool) {
    out.push_str("<section>\n<h2>Dependency impact</h2>\n");
    let mut rows: Vec<&Impact> = impacts.iter().collect();
    rows.sort_by(|a, b| impact_order(a, b));
    out.push_str(&format!("<p class=\"lede\">{}</p>\n", impact_sentence(rows.first().copied(), any_faults)));
    out.push_str("<div class=\"table-wrap\">\n<table class=\"data\" id=\"impact\">\n<thead>\n<tr>");
    out.push_str(
        "<th rowspan=\"2\">Fault</th><th rowspan=\"2\">Observer route</th>\
         <th colspan=\"4\" class=\"group\">Availability</th><th colspan=\"4\" class=\"group\">p99 (ms)</th>\
         <th rowspan=\"2\" class=\"num\">Ungraceful during</th></tr>\n<tr>\
         <th class=\"num sub\">baseline</th><th class=\"sub arrow\"></th><th class=\"num sub\">during</th>\
         <th class=\"num sub\">\u{0394}</th>\
         <th class=\"num sub\">baseline</th><th class=\"sub arrow\"></th><th class=\"num sub\">during</th>\
         <th class=\"num sub\">\u{0394}</th></tr>\n</thead>\n<tbody>\n",
    );
    for i in &rows {
        out.push_str(&format!(
            "<tr><td class=\"route\">{}/{}</td><td class=\"route\">{}</td>",
            esc(&i.target),
            esc(&i.fault),
            esc(&i.route)
        ));
        out.push_str(&availability_td(i.baseline.availability));
        out.push_str("<td class=\"arrow\">\u{2192}</td>");
        out.push_str(&availability_td(i.during.availability));
        let (text, worse, better) = fmt_pp(i.availability_delta);
        out.push_str(&delta_td(text, worse, better));
        out.push_str(&num_td(&fmt_ms_num(i.baseline.p99_ms)));
        out.push_str("<td class=\"arrow\">\u{2192}</td>");
        out.push_str(&num_td(&fmt_ms_num(i.during.p99_ms)));
        let (text, worse, better) = fmt_ms_delta(i.p99_delta_ms);
        out.push_str(&delta_td(text, worse, better));
        out.push_str(&count_td(i.during.ungraceful));
        out.push_str("</tr>\n");
    }
    if rows.is_empty() {
        out.push_str("<tr><td colspan=\"11\" class=\"empty-row\">No impact to show.</td></tr>\n");
    }
    out.push_str("</tbody>\n</table>\n</div>\n</section>\n");
}

fn faults_section(out: &mut String, faults: &[FaultStats]) {
    out.push_str("<section>\n<h2>Faults</h2>\n");
    out.push_str("<div class=\"table-wrap\">\n<table class=\"data\" id=\"faults\">\n<thead>\n<tr>");
    out.push_str(
        "<th>Target</th><th>Name</th><th>Kind</th><th>Configured</th><th class=\"num\">On (s)</th>\
         <th class=\"num\">Off (s)</th><th class=\"num\">Applied</th></tr>\n</thead>\n<tbody>\n",
    );
    for f in faults {
        let off = f.off_s.map_or_else(|| "end".to_string(), fmt_secs);
        out.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td><span class=\"pill\">{}</span></td><td><code>{}</code></td>{}{}{}</tr>\n",
            esc(&f.target),
            esc(&f.name),
            esc(&f.kind),
            esc(&f.configured),
            num_td(&fmt_secs(f.on_s)),
            num_td(&off),
            count_td(f.applied)
        ));
    }
    if faults.is_empty() {
        out.push_str("<tr><td colspan=\"7\" class=\"empty-row\">No faults were injected.</td></tr>\n");
    }
    out.push_str("</tbody>\n</table>\n</div>\n</section>\n");
}

// ---------------------------------------------------------------------------------------------------------------
// Samples

fn class_tone(class: &str) -> &'static str {
    match class {
        "ok" => "good",
        "graceful" => "warn",
        "ungraceful" | "failed" => "bad",
        _ => "neutral",
    }
}

fn sample_card(out: &mut String, s: &Sample) {
    // A response's status, else what went wrong without one (set apart in red: no response at all).
    let (outcome, outcome_class) = match (s.status, &s.error) {
        (Some(status), _) => (format!("HTTP {status}"), "status"),
        (None, Some(error)) => (error.clone(), "status error"),
        (None, None) => (DASH.to_string(), "status"),
    };
    out.push_str("<article class=\"sample\">\n<div class=\"sample-head\">");
    out.push_str(&format!(
        "<span class=\"badge {}\">{}</span><span class=\"route\">{}</span><span class=\"pill\">{}</span>\
         <span class=\"spacer\"></span><span class=\"{outcome_class}\">{}</span><span class=\"latency\">{}</span>",
        class_tone(&s.class),
        esc(&s.class),
        esc(&s.route),
        esc(&s.listener),
        esc(&outcome),
        esc(&fmt_ms(Some(s.latency_ms)))
    ));
    out.push_str("</div>\n");
    if !s.headers.is_empty() {
        out.push_str("<dl class=\"headers\">");
        for (name, value) in &s.headers {
            out.push_str(&format!("<dt>{}:</dt><dd>{}</dd>", esc(name), esc(value)));
        }
        out.push_str("</dl>\n");
    }
    if s.body.is_empty() {
        out.push_str("<p class=\"empty-body\">(empty body)</p>\n");
    } else {
        out.push_str(&format!("<pre>{}</pre>\n", esc(&s.body)));
    }
    out.push_str("</article>\n");
}

fn samples_section(out: &mut String, samples: &[Sample]) {
    out.push_str("<section id=\"samples\">\n<h2>Samples</h2>\n");
    if samples.is_empty() {
        empty_note(out, "No responses were kept as samples.");
    } else {
        out.push_str("<div class=\"sample-grid\">\n");
        for s in samples {
            sample_card(out, s);
        }
        out.push_str("</div>\n");
    }
    out.push_str("</section>\n");
}

// ---------------------------------------------------------------------------------------------------------------
// Style

const CSS: &str = r#":root {
  --sans: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", "Noto Sans", "Liberation Sans", Arial,
    sans-serif;
  --mono: ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", "Liberation Mono", monospace;
  --ink: #1f2933; --muted: #66707d; --faint: #9aa3af; --line: #e3e7ec; --bg: #f5f6f8; --panel: #ffffff;
  --good: #2f9e6b; --warn: #b7791f; --bad: #c93434; --accent: #2f6fd0;
}
* { box-sizing: border-box; }
html { background: var(--bg); }
body { margin: 0; font: 15px/1.5 var(--sans); color: var(--ink); }
main { max-width: 1220px; margin: 0 auto; padding: 32px 24px 48px; }
h1 { font-size: 28px; line-height: 1.25; margin: 4px 0 14px; font-weight: 650; letter-spacing: -0.01em; }
h2 { font-size: 18px; margin: 0 0 4px; font-weight: 620; }
code, pre { font-family: var(--mono); font-size: 13px; }
section { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: 22px 24px;
  margin: 0 0 22px; }
.brand { font-size: 12px; text-transform: uppercase; letter-spacing: 0.08em; color: var(--muted); font-weight: 600; }
header.top { margin: 0 0 22px; }
dl.meta { display: flex; flex-wrap: wrap; gap: 10px 36px; margin: 0; }
dl.meta div { display: flex; flex-direction: column; }
dl.meta dt { font-size: 12px; color: var(--muted); text-transform: uppercase; letter-spacing: 0.05em; }
dl.meta dd { margin: 2px 0 0; font-variant-numeric: tabular-nums; font-weight: 500; }
.warning { margin: 16px 0 0; padding: 10px 14px; border-radius: 8px; background: #fff6e0; border: 1px solid #f0d28a;
  color: #7a5200; }
.badge { display: inline-block; padding: 1px 10px; border-radius: 999px; font-size: 13px; font-weight: 600;
  line-height: 1.6; border: 1px solid transparent; }
.badge.good { background: #e4f5ec; color: #1d6b47; border-color: #b9e2cb; }
.badge.warn { background: #fdf3dc; color: #8a5a00; border-color: #f0d28a; }
.badge.bad { background: #fbe5e5; color: #a12626; border-color: #f1b9b9; }
.badge.neutral { background: #e8eef8; color: #2d4a7a; border-color: #c6d5ee; }
.cards { display: grid; grid-template-columns: repeat(6, 1fr); gap: 14px; background: none; border: 0; padding: 0; }
.card { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: 14px 16px; }
.card .label { font-size: 12px; color: var(--muted); text-transform: uppercase; letter-spacing: 0.05em; }
.card .value { font-size: 26px; font-weight: 650; margin: 4px 0 2px; font-variant-numeric: tabular-nums;
  white-space: nowrap; }
.card .sub { font-size: 12.5px; color: var(--muted); font-variant-numeric: tabular-nums; }
.card.warn .value { color: var(--warn); }
.card.bad .value { color: var(--bad); }
.caption { margin: 0 0 10px; color: var(--muted); font-size: 13.5px; }
.lede { margin: 6px 0 14px; }
svg.chart { display: block; width: 100%; height: auto; overflow: visible; }
svg.chart text { font-family: var(--sans); font-size: 11px; fill: var(--muted); font-variant-numeric: tabular-nums; }
svg.chart .legend text { fill: var(--ink); font-size: 12px; }
svg.chart .grid line { stroke: #edf0f3; stroke-width: 1; }
svg.chart .grid line.mark, svg.chart .axes line { stroke: #98a2ae; }
svg.chart .axis-title { fill: var(--ink); font-size: 12px; }
svg.chart .band-label { fill: #475569; font-weight: 600; }
svg.chart .empty { font-size: 14px; fill: var(--faint); }
.table-wrap { overflow-x: auto; }
table.data { border-collapse: collapse; width: 100%; font-size: 13.5px; font-variant-numeric: tabular-nums; }
table.data th { text-align: left; font-weight: 600; color: var(--muted); font-size: 12px; padding: 6px 8px;
  border-bottom: 1px solid var(--line); vertical-align: bottom; white-space: nowrap; }
table.data th.group { text-align: center; border-bottom: 1px solid #cfd6de; color: var(--ink); }
table.data th.sub { font-weight: 500; }
table.data td { padding: 7px 8px; border-bottom: 1px solid #f0f2f5; vertical-align: baseline; }
table.data tbody tr:hover { background: #fafbfc; }
table.data .num { text-align: right; white-space: nowrap; }
table.data .zero { color: #c0c6ce; }
table.data .bad { color: var(--bad); font-weight: 600; }
table.data .ok { color: #1f7a4d; font-weight: 600; }
.verdict { padding: 10px 14px; border-radius: 8px; border: 1px solid; }
.verdict-ok { background: #e7f5ee; border-color: #a8d9bf; color: #17603c; }
.verdict-bad { background: #fbe5e5; border-color: #f1b9b9; color: #a12626; }
.verdict-warn { background: #fdf3dc; border-color: #f0d28a; color: #8a5a00; }
table.data .warn { color: var(--warn); font-weight: 600; }
table.data .good { color: var(--good); }
table.data td.arrow, table.data th.arrow { color: var(--faint); padding: 7px 0; text-align: center; width: 1em; }
table.data td.route { font-family: var(--mono); font-size: 12.5px; white-space: nowrap; }
.empty-row, .empty-note { color: var(--faint); font-style: italic; }
.pill { display: inline-block; padding: 0 8px; border-radius: 6px; background: #eef1f5; color: #475569;
  font-size: 12px; line-height: 1.7; white-space: nowrap; }
.pill.observer { background: #e6eefb; color: #2d4a7a; font-weight: 600; }
i.dot { display: inline-block; width: 8px; height: 8px; border-radius: 50%; margin-right: 5px; vertical-align: 0; }
.sample-grid { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 14px; }
.sample { border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; min-width: 0; }
.sample-head { display: flex; align-items: center; gap: 10px; flex-wrap: wrap; }
.sample-head .route { font-family: var(--mono); font-size: 13px; font-weight: 600; }
.sample-head .spacer { flex: 1; }
.sample-head .status { font-weight: 600; font-variant-numeric: tabular-nums; }
.sample-head .status.error { color: var(--bad); }
.sample-head .latency { color: var(--muted); font-variant-numeric: tabular-nums; }
dl.headers { display: grid; grid-template-columns: max-content 1fr; gap: 1px 10px; margin: 10px 0 0;
  font-family: var(--mono); font-size: 12px; }
dl.headers dt { color: var(--muted); }
dl.headers dd { margin: 0; overflow-wrap: anywhere; }
.sample pre { margin: 10px 0 0; padding: 10px 12px; background: #f6f8fa; border-radius: 6px; max-height: 220px;
  overflow: auto; white-space: pre-wrap; overflow-wrap: anywhere; font-size: 12px; line-height: 1.45; }
.empty-body { margin: 10px 0 0; color: var(--faint); font-size: 13px; font-style: italic; }
footer { color: var(--faint); font-size: 12.5px; text-align: center; margin-top: 8px; }
@media (max-width: 900px) {
  .cards { grid-template-columns: repeat(3, 1fr); }
  .sample-grid { grid-template-columns: 1fr; }
}
"#;

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
            outcome: "unfinished".to_string(),
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
        r.routes.push(RouteStats { listener: "observer".into(), route: "GET /".into(), stats: Stats::default() });
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
        r.routes.push(RouteStats { listener: "x".into(), route: "tcp".into(), stats });
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
