//! The scoreboard's inline SVG: a strip of verdicts per experiment, and the
//! standards' compliance over time, drawn wide and again narrow for phones
//! (as the report draws its charts).

use std::fmt::Write;

use super::model::{RunVerdict, StandardRecord};
use crate::report::html::esc;

/// The most recent runs a verdict strip shows.
pub const STRIP_RUNS: usize = 24;

/// One hue per verdict, as the report's badges use them.
pub fn verdict_color(status: &str) -> &'static str {
    match status {
        "held" => "#2f9e6b",
        "deviated" => "#d43d3d",
        "aborted" => "#8f1d1d",
        "inconclusive" => "#e0a21b",
        _ => "#9aa3af",
    }
}

/// The verdicts of the latest [`STRIP_RUNS`] runs, oldest first, one square
/// each, with the date and verdict as the square's title.
pub fn strip(runs: &[RunVerdict]) -> String {
    let shown = &runs[runs.len().saturating_sub(STRIP_RUNS)..];
    let (size, gap) = (12.0, 3.0);
    let width = shown.len() as f64 * (size + gap);
    let mut svg = format!(
        "<svg class=\"strip\" role=\"img\" aria-label=\"verdicts of the last {} runs\" width=\"{width}\" height=\"{size}\" \
         viewBox=\"0 0 {width} {size}\">",
        shown.len()
    );
    for (i, r) in shown.iter().enumerate() {
        let _ = write!(
            svg,
            "<rect x=\"{}\" y=\"0\" width=\"{size}\" height=\"{size}\" rx=\"2\" fill=\"{}\" data-status=\"{}\">\
             <title>{}: {}</title></rect>",
            i as f64 * (size + gap),
            verdict_color(&r.status),
            esc(&r.status),
            esc(&r.started),
            esc(&r.status)
        );
    }
    svg.push_str("</svg>");
    if runs.len() > shown.len() {
        svg = format!("<span class=\"earlier\">+{} earlier</span> {svg}", runs.len() - shown.len());
    }
    svg
}

const LINES: [&str; 8] = ["#2f6fd0", "#7c5cc4", "#e0702b", "#2f9e6b", "#d43d3d", "#e0a21b", "#1b2d63", "#64748b"];

/// Each standard's compliance per run, in the order runs started, on one
/// chart from 0 to 100%: drawn `width` wide (`wide` or `narrow` class).
pub fn compliance(standards: &[StandardRecord], width: f64, class: &str) -> String {
    let mut times: Vec<u64> = standards.iter().flat_map(|s| s.points.iter().map(|p| p.started_ms)).collect();
    times.sort_unstable();
    times.dedup();
    let (left, right, top, plot_h) = (44.0, 14.0, 12.0, if width < 500.0 { 120.0 } else { 160.0 });
    let per_row = if width < 500.0 { 1 } else { 4 };
    let legend_rows = standards.len().div_ceil(per_row);
    let height = top + plot_h + 34.0 + legend_rows as f64 * 18.0;
    let plot_w = width - left - right;
    let x = |t: u64| {
        let i = times.iter().position(|v| *v == t).unwrap_or(0) as f64;
        left + if times.len() > 1 { i / (times.len() - 1) as f64 * plot_w } else { plot_w / 2.0 }
    };
    let y = |share: f64| top + (1.0 - share) * plot_h;
    let id = if class == "narrow" { "chart-compliance-narrow" } else { "chart-compliance" };
    let mut svg = format!(
        "<svg class=\"chart {class}\" id=\"{id}\" role=\"img\" aria-label=\"compliance with each standard over time\" \
         viewBox=\"0 0 {width} {height}\">\n<g class=\"grid\">"
    );
    for pct in [0.0, 0.5, 1.0] {
        let _ = write!(
            svg,
            "<line x1=\"{left}\" x2=\"{}\" y1=\"{y0:.1}\" y2=\"{y0:.1}\"{}/><text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\" \
             class=\"tick\">{:.0}%</text>",
            left + plot_w,
            if pct == 0.0 { " class=\"mark\"" } else { "" },
            left - 6.0,
            y(pct) + 4.0,
            pct * 100.0,
            y0 = y(pct)
        );
    }
    svg.push_str("</g>\n");
    if let (Some(first), Some(last)) = (times.first(), times.last()) {
        let date = |t: u64| esc(&crate::report::words::iso_utc(t)[..10]);
        let base = top + plot_h + 16.0;
        let _ = write!(svg, "<text x=\"{left}\" y=\"{base}\" class=\"tick\">{}</text>", date(*first));
        let _ = write!(
            svg,
            "<text x=\"{}\" y=\"{base}\" text-anchor=\"end\" class=\"tick\">{} · {} runs</text>",
            left + plot_w,
            date(*last),
            times.len()
        );
    }
    for (i, s) in standards.iter().enumerate() {
        let color = LINES[i % LINES.len()];
        let pts: Vec<(f64, f64, &super::model::CompliancePoint)> =
            s.points.iter().map(|p| (x(p.started_ms), y(p.passed as f64 / p.measured.max(1) as f64), p)).collect();
        let path: Vec<String> = pts.iter().map(|(px, py, _)| format!("{px:.1},{py:.1}")).collect();
        let _ = write!(
            svg,
            "<g class=\"series\" data-standard=\"{}\"><polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" \
             points=\"{}\"/>",
            esc(&s.standard),
            path.join(" ")
        );
        for (px, py, p) in &pts {
            let _ = write!(
                svg,
                "<circle cx=\"{px:.1}\" cy=\"{py:.1}\" r=\"3\" fill=\"{color}\"><title>{} · {}: {} of {} checks passed \
                 ({})</title></circle>",
                esc(&s.standard),
                esc(&p.started),
                p.passed,
                p.measured,
                esc(&p.experiment)
            );
        }
        svg.push_str("</g>\n");
        let (lx, ly) = (
            left + (i % per_row) as f64 * (plot_w / per_row as f64),
            top + plot_h + 36.0 + (i / per_row) as f64 * 18.0,
        );
        let _ = writeln!(
            svg,
            "<g class=\"legend\"><rect x=\"{lx:.1}\" y=\"{:.1}\" width=\"12\" height=\"4\" fill=\"{color}\"/>\
             <text x=\"{:.1}\" y=\"{ly:.1}\">{}</text></g>",
            ly - 5.0,
            lx + 18.0,
            esc(&s.standard)
        );
    }
    if times.is_empty() {
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" class=\"empty\">No run was held to a standard</text>",
            left + plot_w / 2.0,
            top + plot_h / 2.0
        );
    }
    svg.push_str("</svg>\n");
    svg
}
