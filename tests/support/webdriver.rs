//! A small WebDriver client for ChromeDriver over plain HTTP/1.1 on
//! 127.0.0.1: a session of headless Chromium with a fresh profile, pages
//! loaded in a given viewport, scripts run in them. Every wait is bounded,
//! and the driver's whole process group is killed when dropped.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// How long a wait for the page may take.
pub const WAIT: Duration = Duration::from_secs(20);

/// How long the driver may take to answer one command.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// ChromeDriver and Chromium, where Debian puts them or on `PATH`.
pub fn find() -> Option<(PathBuf, PathBuf)> {
    let find_one = |name: &str| {
        let fixed = Path::new("/usr/bin").join(name);
        if fixed.is_file() {
            return Some(fixed);
        }
        let path = std::env::var_os("PATH")?;
        std::env::split_paths(&path).map(|dir| dir.join(name)).find(|p| p.is_file())
    };
    Some((find_one("chromedriver")?, find_one("chromium")?))
}

/// A running ChromeDriver with one browser session.
pub struct Session {
    driver: Child,
    port: u16,
    id: String,
    _profile: tempdir::Dir,
}

impl Session {
    /// Starts ChromeDriver on a free port and a headless Chromium session.
    pub fn start(driver: &Path, chromium: &Path) -> Session {
        let port = super::free_port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let profile = tempdir::Dir::new("webdriver");
        let mut session = Session { driver: child, port, id: String::new(), _profile: profile };
        let started = Instant::now();
        while request(port, "GET", "/status", None).is_err() {
            assert!(started.elapsed() < Duration::from_secs(20), "chromedriver did not listen on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ]
        .iter()
        .map(|a| a.to_string())
        .chain([format!("--user-data-dir={}", session._profile.path().display())])
        .collect::<Vec<_>>();
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": chromium.display().to_string(), "args": args }
        } } });
        let answer = request(port, "POST", "/session", Some(&caps)).expect("a new session");
        session.id = answer["value"]["sessionId"].as_str().unwrap_or_else(|| panic!("no session: {answer}")).into();
        session
    }

    fn command(&self, method: &str, path: &str, body: Value) -> Value {
        self.try_command(method, path, body).unwrap_or_else(|(path, error)| panic!("{path}: {error}"))
    }

    /// The command's value, or the path and the driver's error.
    fn try_command(&self, method: &str, path: &str, body: Value) -> Result<Value, (String, Value)> {
        let path = format!("/session/{}{path}", self.id);
        let body = (!body.is_null()).then_some(body);
        let answer = request(self.port, method, &path, body.as_ref()).unwrap_or_else(|e| panic!("{path}: {e}"));
        if answer["value"].get("error").is_some() {
            return Err((path, answer["value"].clone()));
        }
        Ok(answer["value"].clone())
    }

    /// Makes the page a phone's (or a desktop's) viewport, `width` CSS pixels wide.
    pub fn viewport(&self, width: u32, height: u32, mobile: bool) {
        let params = json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile });
        self.command(
            "POST",
            "/goog/cdp/execute",
            json!({ "cmd": "Emulation.setDeviceMetricsOverride", "params": params }),
        );
    }

    pub fn open(&self, url: &str) {
        self.command("POST", "/url", json!({ "url": url }));
    }

    /// Runs `script` (a function body that may `return`) in the page.
    pub fn run(&self, script: &str) -> Value {
        self.command("POST", "/execute/sync", json!({ "script": script, "args": [] }))
    }

    /// Waits (up to [`WAIT`]) until `script` returns something truthy; returns it.
    pub fn wait_for(&self, what: &str, script: &str) -> Value {
        let started = Instant::now();
        loop {
            let v = self.run(script);
            if !(v.is_null() || v == json!(false) || v == json!("") || v == json!(0)) {
                return v;
            }
            assert!(started.elapsed() < WAIT, "waited {WAIT:?} for {what}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Clicks the element `css` selects, as a user would (WebDriver's element click).
    /// A page that redraws itself (the control page polls) may replace the
    /// element between finding and clicking it: then it is found again, a
    /// few times at most.
    pub fn click(&self, css: &str) {
        for attempt in 1.. {
            let el = self.element(css);
            match self.try_command("POST", &format!("/element/{el}/click"), json!({})) {
                Ok(_) => return,
                Err((_, e)) if attempt < 5 && e["error"] == "stale element reference" => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                Err((path, e)) => panic!("{path}: {e}"),
            }
        }
    }

    /// Types `text` into the element `css` selects, after clearing it.
    pub fn type_into(&self, css: &str, text: &str) {
        let el = self.element(css);
        self.command("POST", &format!("/element/{el}/clear"), json!({}));
        self.command("POST", &format!("/element/{el}/value"), json!({ "text": text }));
    }

    fn element(&self, css: &str) -> String {
        let found = self.command("POST", "/element", json!({ "using": "css selector", "value": css }));
        let id = found.as_object().and_then(|o| o.values().next()).and_then(Value::as_str);
        id.unwrap_or_else(|| panic!("no element {css}: {found}")).to_string()
    }

    /// The viewport as a PNG.
    pub fn screenshot(&self) -> Vec<u8> {
        let data = self.command("GET", "/screenshot", Value::Null);
        base64_decode(data.as_str().expect("a base64 PNG"))
    }

    /// The whole page as a PNG, beyond the viewport.
    pub fn full_page_png(&self) -> Vec<u8> {
        let shot = self.command(
            "POST",
            "/goog/cdp/execute",
            json!({ "cmd": "Page.captureScreenshot", "params": { "format": "png", "captureBeyondViewport": true } }),
        );
        let data = shot["data"].as_str().expect("a base64 PNG");
        base64_decode(data)
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if !self.id.is_empty() {
            let _ = request(self.port, "DELETE", &format!("/session/{}", self.id), None);
        }
        // Our own driver's group only: its id is the group id given by process_group(0).
        let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", self.driver.id())]).status();
        let _ = self.driver.wait();
    }
}

/// One HTTP/1.1 exchange with the driver, `Connection: close`, read to the end.
fn request(port: u16, method: &str, path: &str, body: Option<&Value>) -> Result<Value, String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(COMMAND_TIMEOUT)).map_err(|e| e.to_string())?;
    let body = body.map(Value::to_string).unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).and_then(|()| s.write_all(body.as_bytes())).map_err(|e| e.to_string())?;
    // ChromeDriver keeps the connection open whatever it is asked, so the
    // answer is read by its length.
    let mut got = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    let deadline = Instant::now() + COMMAND_TIMEOUT;
    loop {
        if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&got[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .ok_or("an answer without content-length")?;
            if got.len() >= end + 4 + length {
                let json = &got[end + 4..end + 4 + length];
                return serde_json::from_slice(json).map_err(|e| format!("{e}: {}", String::from_utf8_lossy(json)));
            }
        }
        if Instant::now() > deadline {
            return Err("no whole answer in time".into());
        }
        match s.read(&mut buf) {
            Ok(0) => return Err("the driver closed the connection mid-answer".into()),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => return Err(e.to_string()),
        }
    }
}

fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let bytes: Vec<u8> = text.bytes().filter(|c| *c != b'=' && !c.is_ascii_whitespace()).map(value).collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, v)| n | (u32::from(*v) << (18 - 6 * i)));
        out.extend_from_slice(&n.to_be_bytes()[1..chunk.len()]);
    }
    out
}

/// A temporary directory removed on drop.
pub mod tempdir {
    use std::path::{Path, PathBuf};

    pub struct Dir(PathBuf);

    impl Dir {
        pub fn new(tag: &str) -> Dir {
            let nanos =
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
            let dir = std::env::temp_dir().join(format!("brownout-{tag}-{}-{nanos}", std::process::id()));
            std::fs::create_dir_all(&dir).expect("create temp dir");
            Dir(dir)
        }

        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}
