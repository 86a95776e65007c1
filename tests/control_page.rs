//! The control page at `/ui` in real headless Chromium (driven by
//! ChromeDriver), against a `brownout proxy` process: the token asked for
//! once, a fault added through the form (and the API's message for a bad
//! value), a request failing in the live feed with the fault's name, the
//! fault switched off and the next request passing, a run started and
//! stopped from the page. Then what a page of another origin can do: read
//! nothing and change nothing; and a request that has the page's cookie
//! but comes from a foreign `Origin` is refused.
//!
//! Without Chromium and ChromeDriver the browser tests are skipped, except
//! under CI (`CI=true`), where they fail. `BROWNOUT_UPDATE_SCREENSHOTS=1`
//! writes the screenshots the README shows into `tests/`.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::free_port;
use crate::support::http1::http;
use crate::support::webdriver::{self, Session, WAIT};

const BIN: &str = env!("CARGO_BIN_EXE_brownout");
const TOKEN: &str = "s3cret-t0ken";

/// An upstream on threads of its own: `200 ok` to every request.
fn upstream() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind upstream");
    let addr = listener.local_addr().expect("addr").to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            std::thread::spawn(move || {
                let mut buf = [0u8; 8192];
                let mut seen = Vec::new();
                while let Ok(n) = s.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    seen.extend_from_slice(&buf[..n]);
                    while let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                        seen.drain(..end + 4);
                        if s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok").is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    addr
}

/// A `brownout proxy` process with one HTTP target, stopped on drop.
struct Proxy {
    child: Child,
    dir: PathBuf,
    admin: String,
    target: String,
    observer: String,
}

impl Proxy {
    fn start(tag: &str, token: bool) -> Proxy {
        let dir = std::env::temp_dir().join(format!("brownout-ui-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("experiments")).expect("dir");
        std::fs::write(
            dir.join("experiments/payments-slow.toml"),
            "title = \"payments slow\"\n[[phase]]\nname = \"slow\"\nduration = \"2m\"\n\
             faults = [{ target = \"payments\", kind = \"latency\", delay = \"20ms\" }]\n\
             [guardrails]\nabort_if = [{ metric = \"error_rate\", above = \"90%\", for = \"5s\" }]\n",
        )
        .expect("experiment");
        let (admin, target, observer) = (free_port(), free_port(), free_port());
        let token_line = if token {
            std::fs::write(dir.join("token"), TOKEN).expect("token");
            format!("token_file = \"{}\"\n", dir.join("token").display())
        } else {
            String::new()
        };
        let config = format!(
            "seed = 7\n[admin]\nlisten = \"127.0.0.1:{admin}\"\n{token_line}experiments_dir = \"{}\"\n\
             [observer]\nlisten = \"127.0.0.1:{observer}\"\nupstream = \"http://127.0.0.1:{target}\"\n\
             [[target]]\nname = \"payments\"\nprotocol = \"http\"\nlisten = \"127.0.0.1:{target}\"\nupstream = \"http://{}\"\n",
            dir.join("experiments").display(),
            upstream()
        );
        std::fs::write(dir.join("config.toml"), config).expect("config");
        let child = Command::new(BIN)
            .args(["proxy", "--config"])
            .arg(dir.join("config.toml"))
            .arg("--run-dir")
            .arg(dir.join("runs"))
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn brownout");
        let (admin, target, observer) =
            (format!("127.0.0.1:{admin}"), format!("127.0.0.1:{target}"), format!("127.0.0.1:{observer}"));
        let proxy = Proxy { child, dir, admin, target, observer };
        let started = Instant::now();
        while TcpStream::connect(&proxy.admin).is_err() || TcpStream::connect(&proxy.target).is_err() {
            assert!(started.elapsed() < WAIT, "brownout did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
        proxy
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// ChromeDriver and Chromium, or `None` after saying the test is skipped;
/// under CI (`CI=true`) a missing one fails the test instead.
fn browser_or_skip() -> Option<(std::path::PathBuf, std::path::PathBuf)> {
    if let Some(found) = webdriver::find() {
        return Some(found);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("chromium or chromedriver not found, and CI=true: apt-get install chromium chromium-driver");
    }
    println!("skipped: chromium and chromedriver are needed (apt-get install chromium chromium-driver)");
    None
}

/// Keeps a screenshot: checked to be a PNG, and written into `tests/`
/// when `BROWNOUT_UPDATE_SCREENSHOTS=1`.
fn keep_screenshot(png: &[u8], name: &str) {
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 10_000, "{name} is not a PNG of a page");
    if std::env::var("BROWNOUT_UPDATE_SCREENSHOTS").as_deref() == Ok("1") {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join(name);
        std::fs::write(&path, png).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

/// The feed row of a request to `path` at `listener`, as `status|fault`, once it shows.
fn feed_row(b: &Session, listener: &str, path: &str) -> String {
    let script = format!(
        "const r = [...document.querySelectorAll('tr.feed-row')].find(r => r.cells[1].textContent === {listener:?} && r.cells[3].textContent === {path:?});
         return r ? r.querySelector('.st').textContent + '|' + r.querySelector('.fault-name').textContent : null;"
    );
    b.wait_for(&format!("the feed to show {path} at {listener}"), &script).as_str().unwrap_or("").to_string()
}

#[test]
fn the_page_adds_a_fault_sees_a_request_fail_turns_it_off_and_stops_a_run() {
    let Some((chromedriver, chromium)) = browser_or_skip() else { return };
    let proxy = Proxy::start("page", true);
    let b = Session::start(&chromedriver, &chromium);
    b.viewport(1400, 1100, false);
    b.open(&format!("http://{}/ui", proxy.admin));

    // The token, asked for once; the session cookie is out of the page's reach.
    b.wait_for("the token form", "return !document.getElementById('login').classList.contains('hidden');");
    b.type_into("#token", "wrong");
    b.click("#login-submit");
    b.wait_for(
        "the wrong token refused",
        "return document.getElementById('login-error').textContent === 'wrong token';",
    );
    b.type_into("#token", TOKEN);
    b.click("#login-submit");
    b.wait_for("the control page", "return document.querySelector('#fault-kind option[value=error]') !== null;");
    assert_eq!(b.run("return document.cookie.includes('brownout_session');"), json!(false));

    // A bad value gets the API's own message; a good one adds the fault.
    b.click("#fault-kind option[value=error]");
    b.wait_for("the error form", "return document.querySelector('#fault-fields [name=status]') !== null;");
    b.type_into("#fault-fields [name=status]", "abc");
    b.click("#fault-add");
    let said = b.wait_for("the API's message", "return document.getElementById('fault-error').textContent;");
    assert_eq!(said, json!("fault.status must be a whole number, got string \"abc\""));
    b.type_into("#fault-fields [name=name]", "payments-down");
    b.type_into("#fault-fields [name=status]", "503");
    b.type_into("#fault-fields [name=body]", "payments are down");
    b.click("#fault-add");
    b.wait_for(
        "the fault listed",
        "return document.querySelector('.fault.on[data-fault=\"payments-down\"]') !== null;",
    );

    // A request through the target fails, and the feed says which fault.
    let (status, _, body) = http(&proxy.target, "GET", "/v1/charges/1", &[], "");
    assert_eq!((status, body.as_str()), (503, "payments are down"));
    assert_eq!(feed_row(&b, "payments", "/v1/charges/1"), "503|payments-down");
    // Through the observer (whose application here is the target itself),
    // the user's failed response is kept: a click shows it as they saw it.
    let (status, _, _) = http(&proxy.observer, "GET", "/checkout", &[], "");
    assert_eq!(status, 503);
    assert_eq!(feed_row(&b, "payments", "/checkout"), "503|payments-down");
    assert_eq!(feed_row(&b, "observer", "/checkout"), "503|");
    b.click("#feed-listener option[value=observer]");
    b.wait_for(
        "the feed filtered to the observer",
        "return [...document.querySelectorAll('tr.feed-row')].every(r => r.cells[1].textContent === 'observer');",
    );
    b.click("tr.feed-row");
    let body = b.wait_for(
        "the user's response",
        "const s = document.getElementById('sample-body'); return s && s.textContent;",
    );
    assert_eq!(body, json!("payments are down"));
    let headers = b.run("return document.getElementById('sample-headers').textContent;");
    assert!(headers.as_str().is_some_and(|h| h.contains("content-length: 17")), "{headers}");
    keep_screenshot(&b.screenshot(), "control-page-screenshot.png");
    b.click("#feed-listener option[value='']");

    // Switched off, the fault stays listed and the next request passes.
    b.click(".fault[data-fault=\"payments-down\"] .switch");
    b.wait_for("the fault off", "return document.querySelector('.fault.off[data-fault=\"payments-down\"]') !== null;");
    let (status, _, body) = http(&proxy.target, "GET", "/v1/charges/2", &[], "");
    assert_eq!((status, body.as_str()), (200, "ok"));
    assert_eq!(feed_row(&b, "payments", "/v1/charges/2"), "200|");

    // A run from an experiment file the proxy knows, stopped from the page.
    b.wait_for(
        "the experiment listed",
        "return document.querySelector('#run-file option') !== null && !document.getElementById('run-start').disabled;",
    );
    b.click("#run-start");
    b.wait_for("the run in progress", "const s = document.getElementById('run-stop'); return s !== null && !s.disabled && document.getElementById('run-phase').textContent.startsWith('slow');");
    let guard = b.wait_for("its guardrail", "const g = document.querySelector('tr.guard'); return g && g.textContent;");
    assert!(guard.as_str().is_some_and(|g| g.contains("error_rate")), "{guard}");
    keep_screenshot(&b.screenshot(), "control-page-run-screenshot.png");
    b.click("#run-stop");
    let ended = b.wait_for(
        "the run over, with its reports",
        "const li = [...document.querySelectorAll('#runs li')].find(l => l.querySelector('a[href$=\"report.html\"]')); return li && li.textContent;",
    );
    assert!(ended.as_str().is_some_and(|t| t.contains("interrupted")), "{ended}");
    let (status, _, _) = http(&proxy.admin, "GET", "/run", &[("authorization", &format!("Bearer {TOKEN}"))], "");
    assert_eq!(status, 404, "a run is still in progress");
}

/// Serves one HTML page on a port of its own: another origin than the admin listener's.
fn other_origin(html: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(20) {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                html.len()
            );
            let _ = s.write_all(head.as_bytes());
            let _ = s.write_all(html.as_bytes());
        }
    });
    addr
}

#[test]
fn a_page_of_another_origin_can_neither_read_nor_change_anything() {
    let Some((chromedriver, chromium)) = browser_or_skip() else { return };
    let proxy = Proxy::start("cross", false);
    let admin = &proxy.admin;
    let page = format!(
        r#"<!doctype html><title>evil</title><iframe name="sink"></iframe><script>
        (async () => {{
          const out = {{}};
          const base = "http://{admin}";
          try {{ const r = await fetch(base + "/targets", {{credentials: "include"}}); out.read = "read " + r.status + " " + await r.text(); }}
          catch (e) {{ out.read = "blocked " + e.name; }}
          try {{ const r = await fetch(base + "/ui/state", {{credentials: "include"}}); out.state = "read " + r.status; }}
          catch (e) {{ out.state = "blocked " + e.name; }}
          for (const [path, body] of [["/targets/payments/faults", '{{"kind": "error", "status": 503, "name": "evil"}}'], ["/runs", '{{"file": "payments-slow.toml"}}']]) {{
            try {{ await fetch(base + path, {{method: "POST", mode: "no-cors", credentials: "include", headers: {{"content-type": "text/plain"}}, body}}); }} catch (e) {{}}
          }}
          const f = document.createElement("form");
          f.method = "POST"; f.action = base + "/targets/payments/faults"; f.enctype = "text/plain"; f.target = "sink";
          const i = document.createElement("input"); i.name = '{{"kind":"error","status":503,"name":"evil-form","x":"'; i.value = '"}}';
          f.appendChild(i); document.body.appendChild(f);
          window.result = out;
          document.title = "done";
          f.submit();
        }})();
        </script>"#
    );
    let evil = other_origin(page);
    let b = Session::start(&chromedriver, &chromium);
    b.viewport(1400, 1100, false);
    // The browser has the page's session cookie before it visits the other site.
    b.open(&format!("http://{admin}/ui"));
    b.wait_for("the control page", "return document.querySelector('#fault-kind option') !== null;");
    b.open(&format!("http://{evil}/"));
    let result = b.wait_for("the other origin's attempts", "return document.title === 'done' && window.result;");
    assert_eq!(result["read"], json!("blocked TypeError"), "the other origin read: {result}");
    assert_eq!(result["state"], json!("blocked TypeError"), "the other origin read: {result}");
    // Give the form post time to land, then see that nothing changed.
    std::thread::sleep(Duration::from_millis(500));
    let (status, _, faults) = http(admin, "GET", "/targets/payments/faults", &[], "");
    assert_eq!((status, faults.as_str()), (200, "[]"), "a page of another origin added a fault");
    let (status, _, runs) = http(admin, "GET", "/runs", &[], "");
    assert_eq!((status, runs.as_str()), (200, "{\"runs\":[]}"), "a page of another origin started a run");
    // What the server answers those requests, seen without a browser.
    let foreign = format!("http://{evil}");
    let (status, _, why) = http(admin, "GET", "/targets", &[("origin", &foreign)], "");
    assert_eq!(status, 403, "{why}");
    assert!(why.contains(&foreign) && why.contains("are refused"), "{why}");
}

/// The page's session cookie and page token, as a browser gets them from `GET /ui`.
fn session(admin: &str) -> (String, String) {
    let (status, headers, body) = http(admin, "GET", "/ui", &[], "");
    assert_eq!(status, 200);
    let cookie = headers.iter().find(|(k, _)| k == "set-cookie").map(|(_, v)| v.clone()).expect("a session cookie");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    let cookie = cookie.split(';').next().unwrap_or("").to_string();
    let csrf =
        body.split("name=\"brownout-csrf\" content=\"").nth(1).and_then(|r| r.split('"').next()).expect("a page token");
    (cookie, csrf.to_string())
}

#[test]
fn the_token_cookie_from_a_foreign_origin_is_refused() {
    let proxy = Proxy::start("cookie", true);
    let admin = &proxy.admin;
    let own = format!("http://{admin}");
    let (cookie, csrf) = session(admin);
    let fault = r#"{"kind": "error", "status": 503, "name": "from-page"}"#;
    let add = |headers: &[(&str, &str)]| http(admin, "POST", "/targets/payments/faults", headers, fault);
    // Before the token is given, the session stands for nothing.
    let (status, _, _) = add(&[("cookie", &cookie), ("x-brownout-csrf", &csrf), ("origin", &own)]);
    assert_eq!(status, 401);
    let login = |token: &str, origin: &str| {
        http(
            admin,
            "POST",
            "/ui/login",
            &[("cookie", &cookie), ("x-brownout-csrf", &csrf), ("origin", origin)],
            &format!("{{\"token\": \"{token}\"}}"),
        )
    };
    assert_eq!(login("wrong", &own).0, 401);
    assert_eq!(login(TOKEN, "http://evil.example").0, 403, "the token was taken from another origin");
    assert_eq!(login(TOKEN, &own).0, 200);
    // Signed in: refused from another origin, or without the page token; taken from the page's own.
    let (status, _, why) = add(&[("cookie", &cookie), ("x-brownout-csrf", &csrf), ("origin", "http://evil.example")]);
    assert_eq!(status, 403, "{why}");
    assert!(why.contains("requests from the origin \\\"http://evil.example\\\" are refused"), "{why}");
    let (status, _, why) = add(&[("cookie", &cookie), ("origin", &own)]);
    assert_eq!(status, 403, "{why}");
    assert!(why.contains("page token"), "{why}");
    let (status, _, why) = add(&[("cookie", &cookie), ("x-brownout-csrf", &csrf), ("sec-fetch-site", "cross-site")]);
    assert_eq!(status, 403, "{why}");
    let (status, _, why) =
        add(&[("cookie", &cookie), ("x-brownout-csrf", &csrf), ("origin", &own), ("user-agent", "Mozilla/5.0")]);
    assert_eq!(status, 201, "{why}");
    // A forged session id is no session.
    let (status, _, _) =
        http(admin, "GET", "/targets", &[("cookie", "brownout_session=00000000000000000000000000000000")], "");
    assert_eq!(status, 401);
}
