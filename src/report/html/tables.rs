//! The tables: routes, dependency impact, faults and sampled responses.

use super::*;

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
    out.push_str("</tbody>\n</table>\n</div>\n");
    grpc_statuses(out, &rows);
    out.push_str("</section>\n");
}

/// Orders impacts worst first: the largest availability drop, then the largest p99 rise; unknown deltas last.
pub(super) fn impact_order(a: &Impact, b: &Impact) -> std::cmp::Ordering {
    let key = |v: Option<f64>| finite(v).unwrap_or(f64::INFINITY);
    let p99_key = |v: Option<f64>| finite(v).map_or(f64::INFINITY, |d| -d);
    key(a.availability_delta)
        .total_cmp(&key(b.availability_delta))
        .then(p99_key(a.p99_delta_ms).total_cmp(&p99_key(b.p99_delta_ms)))
}

/// The plain-language summary of the worst impact.
pub(super) fn impact_sentence(worst: Option<&Impact>, any_faults: bool) -> String {
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

pub(super) fn impact_section(out: &mut String, impacts: &[Impact], any_faults: bool) {
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

pub(super) fn faults_section(out: &mut String, faults: &[FaultStats]) {
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
    out.push_str("</article>\n");
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
