//! The HTML report: one self-contained page with inline SVG charts.

use super::model::Report;

pub fn render(report: &Report) -> String {
    format!("<!doctype html><title>{}</title>", report.title)
}
