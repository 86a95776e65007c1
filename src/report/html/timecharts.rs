//! The two charts over time: latency percentiles and outcomes per window,
//! each drawn wide and narrow, with the fault bands behind them.

use super::*;

pub(super) fn latency_section(out: &mut String, timeline: &Timeline, listener: Option<&str>, windows: &[&WindowStats]) {
    out.push_str("<section>\n<h2>Latency over time</h2>\n");
    out.push_str(&format!("<p class=\"caption\">{}</p>\n", chart_caption(listener, timeline.window_s)));
    let mid = |w: &WindowStats| (w.start_s + w.end_s) / 2.0;
    let series = |pick: fn(&Stats) -> Option<f64>| -> Vec<(f64, Option<f64>)> {
        windows.iter().map(|w| (mid(w), pick(&w.stats))).collect()
    };
    let (p50, p95, p99) = (series(|s| s.p50_ms), series(|s| s.p95_ms), series(|s| s.p99_ms));
    let y_max = p50.iter().chain(&p95).chain(&p99).filter_map(|&(_, v)| finite(v)).fold(0.0, f64::max);
    for geom in [WIDE, NARROW] {
        let plot = open_chart(
            out,
            "chart-latency",
            "Latency percentiles per window, in milliseconds, over seconds since the start",
            timeline,
            y_max,
            &[(Swatch::Line(C_P50, 2.0), "p50"), (Swatch::Line(C_P95, 2.0), "p95"), (Swatch::Line(C_P99, 2.5), "p99")],
            &geom,
        );
        line_svg(out, &plot, &p50, C_P50, 2.0, "p50");
        line_svg(out, &plot, &p95, C_P95, 2.0, "p95");
        line_svg(out, &plot, &p99, C_P99, 2.5, "p99");
        close_chart(out, &plot, "seconds since start", timeline.latency_label, windows.is_empty());
    }
    out.push_str("</section>\n");
}

pub(super) fn outcomes_section(
    out: &mut String,
    timeline: &Timeline,
    listener: Option<&str>,
    windows: &[&WindowStats],
) {
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
    let y_label = if timeline.window_s.is_finite() && timeline.window_s > 0.0 {
        format!("{} per window ({} s)", timeline.unit, fmt_num(timeline.window_s))
    } else {
        format!("{} per window", timeline.unit)
    };
    for geom in [WIDE, NARROW] {
        let plot = open_chart(
            out,
            "chart-outcomes",
            &format!("{} per window by outcome, over seconds since the start", timeline.unit),
            timeline,
            y_max as f64,
            &legend_items,
            &geom,
        );
        for (start, end, segs) in &bars {
            stacked_bar_svg(out, &plot, *start, *end, segs);
        }
        close_chart(out, &plot, "seconds since start", &y_label, windows.is_empty());
    }
    out.push_str("</section>\n");
}
