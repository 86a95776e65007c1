//! The tables: routes, dependency impact, faults and sampled responses.

use super::*;
use crate::report::words;

// ---------------------------------------------------------------------------------------------------------------
// Tables

/// A right-aligned count cell; zeros are muted so the eye finds the non-zero ones.
pub(super) fn count_td(n: u64) -> String {
    if n == 0 {
        "<td class=\"num zero\">0</td>".to_string()
    } else {
        format!("<td class=\"num\">{}</td>", fmt_count(n))
    }
}

pub(super) fn num_td(text: &str) -> String {
    format!("<td class=\"num\">{}</td>", esc(text))
}

/// An availability cell, tinted when it falls below two and three nines.
pub(super) fn availability_td(v: Option<f64>) -> String {
    let tone = match finite(v) {
        Some(a) if a < 0.95 => " bad",
        Some(a) if a < 0.99 => " warn",
        _ => "",
    };
    format!("<td class=\"num{tone}\">{}</td>", fmt_pct(v))
}

pub(super) fn dot(color: &str) -> String {
    format!("<i class=\"dot\" style=\"background:{color}\"></i>")
}

pub(super) fn empty_note(out: &mut String, text: &str) {
    out.push_str(&format!("<p class=\"empty-note\">{}</p>\n", esc(text)));
}

/// The gRPC statuses each route's calls ended with, when there were gRPC calls.
fn grpc_statuses(out: &mut String, rows: &[&RouteStats]) {
    let rows: Vec<&&RouteStats> = rows.iter().filter(|r| !r.grpc_status.is_empty()).collect();
    if rows.is_empty() {
        return;
    }
    out.push_str("<h3>gRPC statuses</h3>\n<div class=\"table-wrap\">\n<table class=\"data\" id=\"grpc-statuses\">\n");
    out.push_str("<thead><tr><th>Listener</th><th>Route</th><th>Statuses seen</th></tr></thead>\n<tbody>\n");
    for r in rows {
        let seen: Vec<String> = r.grpc_status.iter().map(|(code, n)| format!("{} {n}", esc(code))).collect();
        out.push_str(&format!(
            "<tr><td><span class=\"pill\">{}</span></td><td class=\"route\">{}</td><td>{}</td></tr>\n",
            esc(&r.listener),
            esc(&r.route),
            seen.join(", ")
        ));
    }
    out.push_str("</tbody>\n</table>\n</div>\n");
}

pub(super) fn routes_section(out: &mut String, routes: &[RouteStats]) {
    out.push_str("<section>\n<h2>Routes</h2>\n");
    let mut rows: Vec<&RouteStats> = routes.iter().filter(|r| !r.is_tcp()).collect();
    let tcp: Vec<&RouteStats> = routes.iter().filter(|r| r.is_tcp()).collect();
    // Observer rows lead (they are what users saw); otherwise the report's own order is kept.
    rows.sort_by_key(|r| r.listener != OBSERVER);
    if !rows.is_empty() || tcp.is_empty() {
        http_routes(out, &rows);
    }
    if !tcp.is_empty() {
        tcp_listeners(out, &tcp);
    }
    out.push_str("</section>\n");
}

fn http_routes(out: &mut String, rows: &[&RouteStats]) {
    out.push_str("<div class=\"table-wrap\">\n<table class=\"data\" id=\"routes\">\n<thead>\n<tr>");
    out.push_str(
        "<th rowspan=\"2\">Listener</th><th rowspan=\"2\">Route</th><th rowspan=\"2\" class=\"num\">Requests</th>\
         <th rowspan=\"2\" class=\"num\">Availability</th><th rowspan=\"2\" class=\"num\">Error rate</th>\
         <th colspan=\"4\" class=\"group\">Failures by origin</th><th rowspan=\"2\">Statuses</th>\
         <th colspan=\"3\" class=\"group\">Latency (ms)</th>\
         <th rowspan=\"2\" class=\"num\">Graceful<br>share</th></tr>\n<tr>",
    );
    origin_heads(out);
    out.push_str("<th class=\"num sub\">p50</th><th class=\"num sub\">p95</th><th class=\"num sub\">p99</th></tr>\n");
    out.push_str("</thead>\n<tbody>\n");
    for r in rows {
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
        out.push_str(&format!("<td class=\"statuses\">{}</td>", esc(&words::statuses(&r.statuses))));
        for v in [s.p50_ms, s.p95_ms, s.p99_ms] {
            out.push_str(&num_td(&fmt_ms_num(v)));
        }
        out.push_str(&num_td(&fmt_pct(s.graceful_share)));
        out.push_str("</tr>\n");
    }
    if rows.is_empty() {
        out.push_str("<tr><td colspan=\"14\" class=\"empty-row\">No requests were recorded.</td></tr>\n");
    }
    out.push_str("</tbody>\n</table>\n</div>\n");
    if rows.iter().any(|r| r.listener == crate::record::journal::LOAD_LISTENER) {
        out.push_str(&format!("<p class=\"caption note\">{}</p>\n", code_spans(words::LOAD_NOTE)));
    }
    grpc_statuses(out, rows);
}

fn tcp_listeners(out: &mut String, rows: &[&RouteStats]) {
    out.push_str(
        "<h3>TCP listeners</h3>\n<div class=\"table-wrap\">\n<table class=\"data\" id=\"tcp\">\n<thead>\n<tr>",
    );
    out.push_str(
        "<th rowspan=\"2\">Listener</th><th rowspan=\"2\" class=\"num\">Connections</th>\
         <th rowspan=\"2\" class=\"num\">Ended without<br>error</th>\
         <th colspan=\"4\" class=\"group\">Failed connections by origin</th><th rowspan=\"2\">Errors</th>\
         <th colspan=\"3\" class=\"group\">Lifetime (ms)</th><th colspan=\"2\" class=\"group\">Bytes</th></tr>\n<tr>",
    );
    origin_heads(out);
    out.push_str(
        "<th class=\"num sub\">p50</th><th class=\"num sub\">p95</th><th class=\"num sub\">p99</th>\
         <th class=\"num sub\">in</th><th class=\"num sub\">out</th></tr>\n</thead>\n<tbody>\n",
    );
    for r in rows {
        let s = &r.stats;
        out.push_str(&format!("<tr><td><span class=\"pill\">{}</span></td>", esc(&r.listener)));
        out.push_str(&count_td(s.requests));
        out.push_str(&availability_td(s.availability));
        for n in [s.failed.injected, s.failed.upstream, s.failed.proxy, s.failed.client] {
            out.push_str(&count_td(n));
        }
        out.push_str(&format!("<td class=\"statuses\">{}</td>", esc(&words::statuses(&r.statuses))));
        for v in [s.p50_ms, s.p95_ms, s.p99_ms] {
            out.push_str(&num_td(&fmt_ms_num(v)));
        }
        out.push_str(&count_td(r.bytes_in));
        out.push_str(&count_td(r.bytes_out));
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n</div>\n");
    out.push_str(&format!("<p class=\"caption note\">{}</p>\n", esc(words::TCP_NOTE)));
}

fn origin_heads(out: &mut String) {
    for (color, name) in [(C_INJECTED, "injected"), (C_UPSTREAM, "upstream"), (C_PROXY, "proxy"), (C_CLIENT, "client")]
    {
        out.push_str(&format!("<th class=\"num sub\">{}{name}</th>", dot(color)));
    }
}

/// Escapes text and turns its `backquoted` words into code.
fn code_spans(text: &str) -> String {
    esc(text)
        .split('`')
        .enumerate()
        .map(|(i, part)| if i % 2 == 1 { format!("<code>{part}</code>") } else { part.to_string() })
        .collect()
}

/// The plain-language summary of the worst impact.
pub(super) fn impact_sentence(r: &Report) -> String {
    words::worst_effect(r, |s| format!("<strong>{}</strong>", esc(s)), |s| format!("<code>{}</code>", esc(s)))
}

/// A signed delta cell: `worse` and `better` say which sign is bad for this measure.
pub(super) fn delta_td(text: String, worse: bool, better: bool) -> String {
    let tone = if worse {
        " bad"
    } else if better {
        " good"
    } else {
        ""
    };
    format!("<td class=\"num delta{tone}\">{text}</td>")
}

pub(super) fn fmt_pp(delta: Option<f64>) -> (String, bool, bool) {
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

pub(super) fn fmt_ms_delta(delta: Option<f64>) -> (String, bool, bool) {
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

/// The impact table: measurable effects ranked, faults on together as one
/// joint row, and the rows within noise folded with the reason.
pub(super) fn impact_section(out: &mut String, r: &Report) {
    out.push_str("<section>\n<h2>Dependency impact</h2>\n");
    out.push_str(&format!("<p class=\"lede\">{}</p>\n", impact_sentence(r)));
    let mut rows: Vec<&Impact> = r.impact.iter().collect();
    rows.sort_by(|a, b| crate::report::impact::rank(a, b));
    let (effects, noise): (Vec<&Impact>, Vec<&Impact>) = rows.into_iter().partition(|i| i.noise.is_none());
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
    for i in &effects {
        let together = match i.attribution {
            Attribution::Trace => format!("<br><span class=\"together\">{}</span>", esc(&words::attribution(i))),
            Attribution::Time if i.faults.len() > 1 => "<br><span class=\"together\">on together</span>".into(),
            Attribution::Time => String::new(),
        };
        out.push_str(&format!(
            "<tr><td class=\"route\">{}{together}</td><td class=\"route\">{}</td>",
            esc(&i.label).replace(" + ", " +<br>"),
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
    if effects.is_empty() {
        out.push_str("<tr><td colspan=\"11\" class=\"empty-row\">No measurable effect to show.</td></tr>\n");
    }
    out.push_str("</tbody>\n</table>\n</div>\n");
    if let Some(note) = words::attribution_note(&r.impact) {
        out.push_str(&format!("<p class=\"caption\">{}</p>\n", esc(note)));
    }
    if !noise.is_empty() {
        out.push_str(&format!(
            "<details class=\"folded\" id=\"impact-noise\"><summary>No measurable effect: {} (under {}, or too few \
             requests)</summary>\n<ul class=\"noise\">\n",
            esc(&words::count(noise.len() as u64, ("row", "rows"))),
            esc(&words::noise_thresholds())
        ));
        for i in noise {
            out.push_str(&format!(
                "<li><strong>{}</strong> on <code>{}</code> ({}): {}</li>\n",
                esc(&i.label),
                esc(&i.route),
                esc(&words::attribution(i)),
                esc(i.noise.as_deref().unwrap_or(""))
            ));
        }
        out.push_str("</ul>\n</details>\n");
    }
    out.push_str("</section>\n");
}

/// Every fault, each interval it was on a row of its own with the value it had.
pub(super) fn faults_section(out: &mut String, faults: &[FaultStats]) {
    out.push_str("<section>\n<h2>Faults</h2>\n");
    out.push_str("<p class=\"caption\">Every interval each fault was on, with the value it had (ramp steps and edits \
                  each begin one); eligible counts what its window and match let through, applied what it acted on.</p>\n");
    out.push_str("<div class=\"table-wrap\">\n<table class=\"data\" id=\"faults\">\n<thead>\n<tr>");
    out.push_str(
        "<th>Target</th><th>Name</th><th>Kind</th><th class=\"num\">On (s)</th><th class=\"num\">Off (s)</th>\
         <th>Value</th><th class=\"num\">Eligible</th><th class=\"num\">Applied</th></tr>\n</thead>\n<tbody>\n",
    );
    for f in faults {
        let span = f.intervals.len().max(1);
        for (i, v) in f.intervals.iter().enumerate() {
            out.push_str("<tr>");
            if i == 0 {
                out.push_str(&format!(
                    "<td rowspan=\"{span}\">{}</td><td rowspan=\"{span}\">{}</td>\
                     <td rowspan=\"{span}\"><span class=\"pill\">{}</span></td>",
                    esc(&f.target),
                    esc(&f.name),
                    esc(&f.kind)
                ));
            }
            let off = v.off_s.map_or_else(|| "end".to_string(), fmt_secs);
            let eligible = if f.uncounted {
                "<td class=\"num zero\" title=\"refused clients never reach brownout\">not seen</td>".to_string()
            } else {
                v.eligible.map_or_else(|| num_td(DASH), count_td)
            };
            out.push_str(&format!(
                "{}{}<td><code>{}</code></td>{eligible}{}</tr>\n",
                num_td(&fmt_secs(v.on_s)),
                num_td(&off),
                esc(words::value(&f.name, &v.configured)),
                count_td(v.applied)
            ));
        }
    }
    if faults.is_empty() {
        out.push_str("<tr><td colspan=\"8\" class=\"empty-row\">No faults were injected.</td></tr>\n");
    }
    out.push_str("</tbody>\n</table>\n</div>\n</section>\n");
}

// ---------------------------------------------------------------------------------------------------------------
// Samples

pub(super) fn class_tone(class: Option<Class>) -> &'static str {
    match class {
        Some(Class::Ok) => "good",
        Some(Class::Graceful) => "warn",
        Some(Class::Ungraceful) | None => "bad",
    }
}

pub(super) fn sample_card(out: &mut String, s: &Sample) {
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
        class_tone(s.class),
        s.class_word(),
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
    sample_trace(out, s);
    out.push_str("</article>\n");
}

/// A sampled request's trace: the dependency calls it made, each with its
/// answer, latency and the fault it met.
fn sample_trace(out: &mut String, s: &Sample) {
    let Some(trace) = &s.trace_id else { return };
    let short = trace.get(..8).unwrap_or(trace);
    if s.trace.is_empty() {
        out.push_str(&format!(
            "<p class=\"trace-head\">Trace <code title=\"{}\">{}\u{2026}</code>: no dependency call was recorded in it.</p>\n",
            esc(trace),
            esc(short)
        ));
        return;
    }
    out.push_str(&format!(
        "<div class=\"trace\"><p class=\"trace-head\">Trace <code title=\"{}\">{}\u{2026}</code>: the dependency calls it made</p>\n\
         <div class=\"table-wrap\"><table class=\"data trace-calls\"><thead><tr><th>Target</th><th>Call</th>\
         <th>Answer</th><th class=\"num\">Latency</th><th>Fault met</th></tr></thead><tbody>\n",
        esc(trace),
        esc(short)
    ));
    for c in &s.trace {
        let (answer, tone) = match (c.status, &c.error) {
            (_, Some(e)) => (e.clone(), " bad"),
            (Some(code), None) if crate::record::classify::is_failure(code) => (format!("HTTP {code}"), " bad"),
            (Some(code), None) => (format!("HTTP {code}"), ""),
            (None, None) => (DASH.to_string(), ""),
        };
        let fault = match &c.fault {
            Some(f) => format!("<td><strong>{}</strong></td>", esc(f)),
            None => format!("<td class=\"zero\">{DASH}</td>"),
        };
        out.push_str(&format!(
            "<tr><td>{}</td><td class=\"route\">{}</td><td class=\"status{tone}\">{}</td>{}{fault}</tr>\n",
            esc(&c.listener),
            esc(&c.route),
            esc(&answer),
            num_td(&fmt_ms(Some(c.latency_ms))),
        ));
    }
    out.push_str("</tbody></table></div></div>\n");
}

pub(super) fn samples_section(out: &mut String, samples: &[Sample]) {
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
