//! What the time charts are made of, as inline SVG: which listener they follow, the plot's geometry, ticks,
//! legends, fault bands, axes, lines and stacked bars (`timecharts.rs` draws the two charts with them).

use super::*;

// ---------------------------------------------------------------------------------------------------------------
// Which data the charts show

/// The listener the charts follow: the observer when it has windows, else the busiest listener (ties go to the
/// alphabetically first, so the choice does not depend on window order).
pub(super) fn main_listener(windows: &[WindowStats]) -> Option<String> {
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
pub(super) fn time_extent(r: &Report) -> f64 {
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
pub(super) struct Timeline<'a> {
    pub(super) x_max: f64,
    pub(super) window_s: f64,
    pub(super) faults: &'a [FaultStats],
    /// `requests`, or `connections` for TCP listeners.
    pub(super) unit: &'static str,
    /// The latency axis's title: a TCP connection's time is its lifetime.
    pub(super) latency_label: &'static str,
}

pub(super) fn chart_caption(listener: Option<&str>, window_s: f64) -> String {
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
pub(super) fn fmt_num(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

// ---------------------------------------------------------------------------------------------------------------
// SVG chart helpers

pub(super) const LEGEND_Y: f64 = 16.0;
/// Between two rows of a legend that wraps.
pub(super) const LEGEND_ROW_H: f64 = 20.0;
/// The first lane of fault labels, below a one-row legend.
pub(super) const LANES_TOP: f64 = 42.0;

/// How big a chart is drawn: once wide for a desktop, once narrow for a
/// phone (the page shows one or the other by its width), so that its text
/// keeps a legible size instead of shrinking with a wide drawing.
#[derive(Clone, Copy)]
pub(super) struct Geometry {
    pub(super) width: f64,
    pub(super) left: f64,
    pub(super) right_pad: f64,
    pub(super) height: f64,
    /// About how many ticks the time axis gets.
    pub(super) x_ticks: f64,
    /// Appended to the chart's id, and its class.
    pub(super) suffix: &'static str,
    pub(super) class: &'static str,
}

pub(super) const WIDE: Geometry =
    Geometry { width: 1120.0, left: 78.0, right_pad: 28.0, height: 260.0, x_ticks: 10.0, suffix: "", class: "wide" };

/// About a phone's width in CSS pixels, so that 11 px text stays about 11 px.
pub(super) const NARROW: Geometry = Geometry {
    width: 360.0,
    left: 52.0,
    right_pad: 14.0,
    height: 200.0,
    x_ticks: 4.0,
    suffix: "-narrow",
    class: "narrow",
};
pub(super) const LANE_H: f64 = 17.0;
pub(super) const BOTTOM_PAD: f64 = 54.0;
/// Average glyph width of the 11 px chart font, for laying out labels without measuring text.
pub(super) const CHAR_W: f64 = 6.3;

/// Where a chart's plot area sits in its SVG, and the data ranges it maps.
pub(super) struct Plot {
    pub(super) left: f64,
    pub(super) top: f64,
    pub(super) width: f64,
    pub(super) height: f64,
    pub(super) x_max: f64,
    pub(super) y_max: f64,
    /// Where the first lane of fault labels sits, below the legend.
    pub(super) lanes_top: f64,
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
pub(super) fn nice_step(range: f64, target: f64) -> f64 {
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
pub(super) fn ticks(max: f64, step: f64) -> Vec<f64> {
    let n = (max / step + 1e-9).floor() as usize;
    (0..=n).map(|i| i as f64 * step).collect()
}

#[derive(Clone, Copy)]
pub(super) enum Swatch {
    Line(&'static str, f64),
    Box(&'static str),
    Band,
}

/// The legend above the plot, wrapping onto more rows when the chart is
/// narrow; widths are estimated, which is enough for short labels. Returns
/// how many rows it took.
pub(super) fn legend(out: &mut String, items: &[(Swatch, &str)], geom: &Geometry) -> usize {
    let mut x = geom.left;
    let mut rows = 1;
    out.push_str("<g class=\"legend\">\n");
    for (swatch, label) in items {
        let item_w = 24.0 + label.chars().count() as f64 * CHAR_W;
        if x > geom.left && x + item_w > geom.width - geom.right_pad {
            x = geom.left;
            rows += 1;
        }
        let y = LEGEND_Y + (rows - 1) as f64 * LEGEND_ROW_H;
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
        x += item_w + 22.0;
    }
    out.push_str("</g>\n");
    rows
}

/// A fault's shaded band (one stretch of time it was on, ramp steps and
/// edits included) and where its one label goes.
pub(super) struct Band {
    x0: f64,
    x1: f64,
    pub(super) label: String,
    pub(super) text_x: f64,
    pub(super) lane: usize,
    pub(super) on_s: f64,
    pub(super) off_s: Option<f64>,
    /// Where the value changed inside the band, and each value in turn.
    steps: Vec<f64>,
    values: Vec<String>,
}

/// Intervals of one fault closer than this are one band: a ramp step ends
/// one interval and begins the next at the same moment.
const CONTIGUOUS_S: f64 = 0.010;

/// One contiguous stretch of a fault: `(on, off, step starts, values)`.
type Stretch = (f64, Option<f64>, Vec<f64>, Vec<String>);

/// Each fault's contiguous stretches.
fn stretches(f: &FaultStats) -> Vec<Stretch> {
    let mut out: Vec<Stretch> = Vec::new();
    let value = |c: &str| super::super::words::value(&f.name, c).to_string();
    for v in f.intervals.iter().filter(|v| v.on_s.is_finite()) {
        match out.last_mut() {
            Some(last) if last.1.is_some_and(|off| v.on_s - off < CONTIGUOUS_S) => {
                last.1 = finite(v.off_s);
                last.2.push(v.on_s);
                last.3.push(value(&v.configured));
            }
            _ => out.push((v.on_s, finite(v.off_s), Vec::new(), vec![value(&v.configured)])),
        }
    }
    if out.is_empty() && f.on_s.is_finite() {
        // A report without intervals (written by hand, or an older schema): the whole fault as one band.
        out.push((f.on_s, finite(f.off_s), Vec::new(), vec![value(&f.configured)]));
    }
    out
}

/// Lays the fault labels out in lanes above the plot so that no two overlap; returns the bands and the lane count.
pub(super) fn layout_bands(plot: &Plot, faults: &[FaultStats]) -> (Vec<Band>, usize) {
    let mut order: Vec<(&FaultStats, Stretch)> =
        faults.iter().flat_map(|f| stretches(f).into_iter().map(move |s| (f, s))).collect();
    order.sort_by(|a, b| a.1 .0.total_cmp(&b.1 .0));
    let mut lane_ends: Vec<f64> = Vec::new();
    let mut bands = Vec::with_capacity(order.len());
    for (f, (on_s, off_s, steps, values)) in order {
        let off = off_s.unwrap_or(plot.x_max);
        let (x0, x1) = (plot.x(on_s), plot.x(off.max(on_s)));
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
        let steps = steps.iter().map(|&t| plot.x(t)).collect();
        bands.push(Band { x0, x1, label, text_x, lane, on_s, off_s, steps, values });
    }
    (bands, lane_ends.len())
}

/// Shaded fault bands behind the data, each with a leader line up to its label.
pub(super) fn bands_svg(out: &mut String, plot: &Plot, bands: &[Band]) {
    out.push_str("<g class=\"bands\">\n");
    for b in bands {
        let until = b.off_s.map_or_else(|| "the end".to_string(), |s| format!("{} s", fmt_num(s)));
        let label_y = plot.lanes_top + b.lane as f64 * LANE_H;
        out.push_str(&format!(
            "<g><title>{} on from {} s to {}: {}</title>\
             <rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{C_BAND}\" fill-opacity=\"0.13\"/>\
             <line x1=\"{x0:.1}\" y1=\"{:.1}\" x2=\"{x0:.1}\" y2=\"{:.1}\" stroke=\"{C_BAND}\" stroke-opacity=\"0.7\" \
             stroke-dasharray=\"3 2\"/>",
            esc(&b.label),
            fmt_num(b.on_s),
            until,
            esc(&b.values.join(", then ")),
            b.x0,
            plot.top,
            (b.x1 - b.x0).max(1.0),
            plot.height,
            label_y - 5.0,
            plot.bottom(),
            x0 = b.x0,
        ));
        for x in &b.steps {
            // A ramp step or an edit: a faint tick inside the band, no new label.
            out.push_str(&format!(
                "<line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"{C_BAND}\" \
                 stroke-opacity=\"0.3\"/>",
                plot.top,
                plot.bottom()
            ));
        }
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
pub(super) fn grid_svg(out: &mut String, plot: &Plot, x_step: f64, y_step: f64) {
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
pub(super) fn axes_svg(out: &mut String, plot: &Plot, x_label: &str, y_label: &str) {
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
#[allow(clippy::too_many_arguments)] // one call per chart and size; the arguments are the chart's parts
pub(super) fn open_chart(
    out: &mut String,
    id: &str,
    aria: &str,
    timeline: &Timeline,
    y_data_max: f64,
    legend_items: &[(Swatch, &str)],
    geom: &Geometry,
) -> Plot {
    let y_data_max = if y_data_max.is_finite() && y_data_max > 0.0 { y_data_max } else { 1.0 };
    let y_step = nice_step(y_data_max, 5.0);
    let y_max = (y_data_max / y_step - 1e-9).ceil().max(1.0) * y_step;
    let mut plot = Plot {
        left: geom.left,
        top: 0.0,
        width: geom.width - geom.left - geom.right_pad,
        height: geom.height,
        x_max: timeline.x_max,
        y_max,
        lanes_top: LANES_TOP,
    };
    let (bands, lanes) = layout_bands(&plot, timeline.faults);
    let mut items = legend_items.to_vec();
    if !bands.is_empty() {
        items.push((Swatch::Band, "fault on"));
    }
    let mut legend_svg = String::new();
    let rows = legend(&mut legend_svg, &items, geom);
    plot.lanes_top = LANES_TOP + (rows - 1) as f64 * LEGEND_ROW_H;
    plot.top = plot.lanes_top + lanes as f64 * LANE_H;
    let height = plot.bottom() + BOTTOM_PAD;
    out.push_str(&format!(
        "<svg id=\"{id}{}\" class=\"chart {}\" viewBox=\"0 0 {} {height:.0}\" role=\"img\" aria-label=\"{}\">\n",
        geom.suffix,
        geom.class,
        geom.width,
        esc(aria)
    ));
    out.push_str(&legend_svg);
    bands_svg(out, &plot, &bands);
    grid_svg(out, &plot, nice_step(plot.x_max, geom.x_ticks), y_step);
    plot
}

pub(super) fn close_chart(out: &mut String, plot: &Plot, x_label: &str, y_label: &str, empty: bool) {
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
pub(super) fn line_svg(
    out: &mut String,
    plot: &Plot,
    points: &[(f64, Option<f64>)],
    color: &str,
    width: f64,
    name: &str,
) {
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
pub(super) struct Segment {
    pub(super) value: u64,
    pub(super) color: &'static str,
    pub(super) label: &'static str,
}

/// One window's stacked bar, bottom segment first, with a hover title listing every part.
pub(super) fn stacked_bar_svg(out: &mut String, plot: &Plot, start_s: f64, end_s: f64, segments: &[Segment]) {
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
