//! Loads the rendered sample report in headless Chromium: the page must parse into the expected DOM, print nothing
//! on the browser console, and screenshot to a real image.
//!
//! Without Chromium the test is skipped, except under CI (`CI=true`), where a missing browser is a failure.

use std::fs;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::support::sample_report::sample_report;
use brownout::record::journal::Outcome;
use brownout::report::html::render;
use brownout::report::model::{Report, Stats, SCHEMA};

/// How long one browser run may take before it is killed.
const TIMEOUT: Duration = Duration::from_secs(60);

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        let dir = std::env::temp_dir().join(format!("brownout-{tag}-{}-{nanos}", std::process::id()));
        fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn find_chromium() -> Option<PathBuf> {
    let fixed = Path::new("/usr/bin/chromium");
    if fixed.is_file() {
        return Some(fixed.to_path_buf());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join("chromium")).find(|p| p.is_file())
}

/// Chromium, or `None` after saying the test is skipped; under CI a missing browser fails instead, so a broken
/// install step cannot pass as a skipped test.
fn chromium_or_skip() -> Option<PathBuf> {
    if let Some(path) = find_chromium() {
        return Some(path);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!(
            "chromium not found at /usr/bin/chromium or on PATH, and CI=true: install it (apt-get install chromium)"
        );
    }
    println!("skipped: chromium not installed (apt-get install chromium)");
    None
}

struct Run {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

/// Reads a pipe to its end on a thread, so a full pipe never stalls the browser.
fn drain(mut pipe: impl Read + Send + 'static) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = pipe.read_to_end(&mut buf);
        let _ = tx.send(buf);
    });
    rx
}

/// Runs a command in its own process group and kills the whole group if it outlives [`TIMEOUT`]: Chromium's
/// helper processes would otherwise survive their parent. Every wait here is bounded.
fn run_bounded(cmd: &mut Command) -> Run {
    let mut child = cmd
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chromium");
    let stdout = drain(child.stdout.take().expect("stdout is piped"));
    let stderr = drain(child.stderr.take().expect("stderr is piped"));
    let deadline = Instant::now() + TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for chromium") {
            break status;
        }
        if Instant::now() >= deadline {
            // Our own child's group only: its id is the group id given by process_group(0).
            let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", child.id())]).status();
            let _ = child.wait();
            panic!("chromium did not finish within {} s and was killed", TIMEOUT.as_secs());
        }
        thread::sleep(Duration::from_millis(50));
    };
    // A helper process that kept the pipes open must not hang the test either.
    let collect = |rx: mpsc::Receiver<Vec<u8>>| {
        let bytes = rx.recv_timeout(Duration::from_secs(10)).expect("chromium's output pipe did not close");
        String::from_utf8_lossy(&bytes).into_owned()
    };
    Run { status, stdout: collect(stdout), stderr: collect(stderr) }
}

/// Chromium's flags for a quiet, offline, root-safe headless run with a fresh profile.
fn chromium(path: &Path, profile: &Path) -> Command {
    let mut cmd = Command::new(path);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--enable-logging=stderr",
        "--v=0",
    ]);
    cmd.arg(format!("--user-data-dir={}", profile.display()));
    cmd
}

/// Loads a file and returns the DOM Chromium built from it.
fn dump_dom(browser: &Path, page: &Path, scratch: &TempDir) -> Run {
    let profile = scratch.path().join(format!("profile-{}", page.file_stem().and_then(|s| s.to_str()).unwrap_or("x")));
    let run = run_bounded(chromium(browser, &profile).arg("--dump-dom").arg(format!("file://{}", page.display())));
    assert!(run.status.success(), "chromium failed: {}\n{}", run.status, run.stderr);
    run
}

/// The console messages in Chromium's stderr.
///
/// Chromium 156 with `--enable-logging=stderr` prints every console message at INFO, whatever its level, as
/// `[pid:tid:time:INFO:CONSOLE:2] "an error line", source: file:///… (2)`, and an uncaught exception as the same
/// kind of line with `"Uncaught ReferenceError: …"`; older builds wrote `INFO:CONSOLE(2)`. Invalid SVG attributes
/// (`"Error: <path> attribute d: Expected number, …"`) and Content-Security-Policy violations (`"Loading the image
/// '…' violates the following Content Security Policy directive …"`) arrive the same way. Since console.error is
/// not told apart from console.log there, and the report has no script, every console line counts as an error.
/// The rest of stderr (dbus, GPU, vaapi and the wrapper script's own warnings) is Chromium talking about itself.
fn console_lines(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|l| l.contains(":CONSOLE") || l.contains("CONSOLE(") || l.contains("Uncaught")).collect()
}

/// A run that recorded nothing: every section must still render, and render cleanly.
fn empty_report() -> Report {
    Report {
        schema: SCHEMA,
        title: "empty <run>".to_string(),
        started_ms: 0,
        started: String::new(),
        duration_s: 0.0,
        seed: None,
        outcome: Outcome::Unfinished,
        headline: Stats::default(),
        routes: Vec::new(),
        windows: Vec::new(),
        window_s: 10.0,
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

/// Asserts Chromium printed no console message while loading a page.
fn assert_console_clean(run: &Run, what: &str) {
    let console = console_lines(&run.stderr);
    assert!(console.is_empty(), "the {what} wrote to the browser console:\n{}", console.join("\n"));
}

#[test]
fn empty_report_loads_cleanly_in_chromium() {
    let Some(browser) = chromium_or_skip() else { return };
    let scratch = TempDir::new("report-html-empty");
    let page = scratch.path().join("empty.html");
    fs::write(&page, render(&empty_report())).expect("write empty.html");
    let run = dump_dom(&browser, &page, &scratch);
    for needle in
        ["id=\"chart-latency\"", "id=\"chart-outcomes\"", "id=\"routes\"", "id=\"impact\"", "empty &lt;run&gt;"]
    {
        assert!(run.stdout.contains(needle), "the DOM lacks {needle}");
    }
    assert_console_clean(&run, "empty report");
}

#[test]
fn sample_report_loads_cleanly_in_chromium() {
    let Some(browser) = chromium_or_skip() else { return };
    let scratch = TempDir::new("report-html");
    let page = scratch.path().join("report.html");
    fs::write(&page, render(&sample_report())).expect("write report.html");

    let run = dump_dom(&browser, &page, &scratch);
    for needle in ["id=\"chart-latency\"", "id=\"chart-outcomes\"", "<svg", "id=\"routes\"", "id=\"impact\""] {
        assert!(run.stdout.contains(needle), "the DOM lacks {needle}");
    }
    assert_console_clean(&run, "sample report");

    // The screenshot goes through the script people use, so the script is tested too.
    let png = scratch.path().join("report.png");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/report-screenshot.sh");
    let shot = run_bounded(Command::new("bash").arg(&script).arg(&page).arg(&png));
    assert!(shot.status.success(), "report-screenshot.sh failed: {}\n{}", shot.status, shot.stderr);
    let bytes = fs::read(&png).expect("the screenshot exists");
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "the screenshot is not a PNG");
    assert!(bytes.len() > 10 * 1024, "the screenshot is only {} bytes: a blank page?", bytes.len());

    // REPORT_PNG=path keeps the page and its screenshot for a person to look at.
    if let Some(keep) = std::env::var_os("REPORT_PNG") {
        let keep = PathBuf::from(keep);
        fs::copy(&png, &keep).expect("copy the screenshot");
        fs::copy(&page, keep.with_extension("html")).expect("copy the page");
    }
}

/// The console check would pass vacuously if Chromium printed console messages some other way: a page that logs an
/// error, throws, draws a broken SVG attribute (what a NaN coordinate would give) and loads an image against its
/// Content-Security-Policy (what a stray external reference would give) must be caught four times.
#[test]
fn console_check_catches_a_failing_page() {
    let Some(browser) = chromium_or_skip() else { return };
    let scratch = TempDir::new("report-html-control");
    let page = scratch.path().join("broken.html");
    let html = "<!DOCTYPE html><html><head>\
                <meta http-equiv=\"Content-Security-Policy\" \
                content=\"default-src 'none'; script-src 'unsafe-inline'\">\
                </head><body><p>control</p><svg viewBox=\"0 0 10 10\"><path d=\"M NaN 3 L 4 5\"/></svg>\
                <img src=\"https://example.invalid/x.png\" alt=\"\">\
                <script>console.error(\"control error\"); notDefined();</script></body></html>";
    fs::write(&page, html).expect("write broken.html");

    let run = dump_dom(&browser, &page, &scratch);
    let console = console_lines(&run.stderr);
    for needle in ["control error", "Uncaught ReferenceError", "attribute d", "Content Security Policy"] {
        assert!(console.iter().any(|l| l.contains(needle)), "{needle:?} not seen on the console:\n{}", run.stderr);
    }
}

#[test]
fn sample_strings_are_escaped() {
    let mut r = sample_report();
    r.samples[0].body = "</pre><script>x()</script>".to_string();
    r.samples[0].headers.push(("x-evil".to_string(), "\"><img>".to_string()));
    r.routes[0].route = "GET /<b>".to_string();
    let html = render(&r);
    assert!(!html.contains("<script"));
    assert!(!html.contains("<img"));
    assert!(!html.contains("<b>"));
    assert!(html.contains("&lt;/pre&gt;&lt;script&gt;x()&lt;/script&gt;"));
}

#[test]
fn sentence_names_the_worst_impact() {
    let html = render(&sample_report());
    assert!(html.contains("When <strong>payments/outage</strong> was on, <code>POST /checkout</code> fell from"));
}

#[test]
fn page_is_self_contained() {
    let html = render(&sample_report());
    for needle in ["<script", "src=", "href=", "url(", "@import", "<link"] {
        assert!(!html.contains(needle), "page references something outside itself: {needle}");
    }
}
