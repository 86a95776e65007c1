//! The HTML report on a phone, in headless Chromium driven by ChromeDriver:
//! at 390 CSS pixels the page never scrolls sideways (cards wrap, tables
//! scroll inside their box, charts are drawn narrow with text at a legible
//! size), and at 1400 pixels the wide charts show.
//!
//! Without ChromeDriver or Chromium the tests are skipped, except under CI
//! (`CI=true`), where a missing one is a failure.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::sample_report::sample_report;
use crate::support::webdriver::{self, tempdir, Session};

/// What a page's layout says at the viewport it was loaded in: the
/// document's width, the viewport's, and the first elements that stick out
/// of it (outside the boxes that scroll on their own).
const MEASURE: &str = r#"
const out = [];
for (const e of document.querySelectorAll('body *')) {
  const r = e.getBoundingClientRect();
  if (r.width > 0 && r.right > window.innerWidth + 0.5 && !e.closest('.table-wrap, pre, details:not([open])')) {
    out.push(e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className && e.className.baseVal === undefined ? '.' + e.className : '') + ' right=' + Math.round(r.right));
  }
}
const shown = (id) => { const e = document.getElementById(id); return e ? getComputedStyle(e).display : 'missing'; };
const tick = document.querySelector(window.innerWidth < 600 ? '#chart-latency-narrow text.tick' : '#chart-latency text.tick');
return {
  scroll: document.documentElement.scrollWidth,
  viewport: window.innerWidth,
  offenders: out.slice(0, 8),
  wide: shown('chart-latency'),
  narrow: shown('chart-latency-narrow'),
  tick_px: tick ? tick.getBoundingClientRect().height : 0,
};
"#;

fn tools_or_skip() -> Option<(PathBuf, PathBuf)> {
    if let Some(found) = webdriver::find() {
        return Some(found);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!(
            "chromedriver or chromium not found, and CI=true: install them (apt-get install chromium chromium-driver)"
        );
    }
    println!("skipped: chromedriver or chromium not installed (apt-get install chromium chromium-driver)");
    None
}

fn measure(session: &Session, page: &Path, width: u32, mobile: bool) -> Value {
    session.viewport(width, 900, mobile);
    session.open(&format!("file://{}", page.display()));
    session.run(MEASURE)
}

/// The demo's report (from the demo journal kept as a fixture) and the
/// synthetic one: no sideways scroll at 390 px, the narrow charts shown.
#[test]
fn the_report_has_no_horizontal_scroll_on_a_390_px_phone() {
    let Some((driver, chromium)) = tools_or_skip() else { return };
    let scratch = tempdir::Dir::new("report-phone");
    let journal = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/journal-v1/journal.jsonl");
    let demo = brownout::report::from_file(&journal).expect("the demo journal");
    let pages =
        [("demo", brownout::report::html::render(&demo)), ("sample", brownout::report::html::render(&sample_report()))];
    let session = Session::start(&driver, &chromium);
    for (name, html) in pages {
        let page = scratch.path().join(format!("{name}.html"));
        std::fs::write(&page, html).expect("write the page");
        let phone = measure(&session, &page, 390, true);
        assert_eq!(phone["viewport"], 390, "{name}: the phone widened its layout to the page: {phone}");
        assert_eq!(phone["scroll"], 390, "{name}: the page scrolls sideways at 390 px: {phone}");
        assert_eq!(
            (phone["wide"].as_str(), phone["narrow"].as_str()),
            (Some("none"), Some("block")),
            "{name}: {phone}"
        );
        let tick = phone["tick_px"].as_f64().unwrap_or(0.0);
        assert!(tick >= 9.0, "{name}: chart text is {tick:.1} px high on a phone: {phone}");
        let desktop = measure(&session, &page, 1400, false);
        assert_eq!(desktop["scroll"], 1400, "{name}: {desktop}");
        assert_eq!(
            (desktop["wide"].as_str(), desktop["narrow"].as_str()),
            (Some("block"), Some("none")),
            "{name}: {desktop}"
        );
        // REPORT_SHOTS=dir keeps full-page shots at both widths for a person to look at.
        if let Some(dir) = std::env::var_os("REPORT_SHOTS") {
            for (width, mobile) in [(390, true), (1400, false)] {
                measure(&session, &page, width, mobile);
                let png = session.full_page_png();
                std::fs::write(PathBuf::from(&dir).join(format!("{name}-{width}.png")), png).expect("keep the shot");
            }
        }
    }
}

/// The measure would pass vacuously if a page wider than the phone did not
/// show as one: a 600-px-wide block must be caught, by width and by name.
#[test]
fn the_scroll_check_catches_a_page_wider_than_the_phone() {
    let Some((driver, chromium)) = tools_or_skip() else { return };
    let scratch = tempdir::Dir::new("report-phone-control");
    let page = scratch.path().join("wide.html");
    std::fs::write(
        &page,
        "<!DOCTYPE html><html><head><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"></head>\
         <body><div id=\"too-wide\" style=\"width:600px\">wide</div></body></html>",
    )
    .expect("write the page");
    let session = Session::start(&driver, &chromium);
    // A phone widens its layout to the content (and zooms out): the width shows.
    let phone = measure(&session, &page, 390, true);
    assert!(phone["scroll"].as_u64().is_some_and(|w| w >= 600), "{phone}");
    // In a 390-px desktop window the viewport stays put and the culprit is named.
    let window = measure(&session, &page, 390, false);
    assert_eq!(window["viewport"], 390, "{window}");
    assert!(window["scroll"].as_u64().is_some_and(|w| w >= 600), "{window}");
    assert!(window["offenders"].to_string().contains("div#too-wide"), "{window}");
}
