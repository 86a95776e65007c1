//! The command line, run as a separate process.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_brownout");

#[test]
fn check_accepts_the_example_config_and_prints_what_it_understood() {
    let out = Command::new(BIN)
        .args(["check", "config/example.toml"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run brownout");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "exit {:?}: {stdout} {}", out.status, String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("config/example.toml: ok"), "{stdout}");
    assert!(stdout.contains("target    payments 127.0.0.1:9001 -> http://127.0.0.1:9101 (http)"), "{stdout}");
    assert!(stdout.contains("target    postgres 127.0.0.1:15432 -> 127.0.0.1:5432 (tcp)"), "{stdout}");
}

#[test]
fn check_fails_on_an_invalid_file_and_names_the_place() {
    let out = Command::new(BIN)
        .args(["check", "config/example.toml", "tests/fixtures/config/invalid/unknown-key.toml"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run brownout");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("unknown-key.toml:7:1: target[0].lisen is not a known key"), "{stderr}");
    assert!(stderr.contains("1 of 2 files invalid"), "{stderr}");
}

#[test]
fn version_and_help_answer() {
    let out = Command::new(BIN).arg("--version").output().expect("run");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("brownout "));
    let out = Command::new(BIN).arg("--help").output().expect("run");
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("proxy") && help.contains("check"), "{help}");
}

fn write_config(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("brownout-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("config.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

#[test]
fn a_port_in_use_is_refused_with_the_target_and_address() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr");
    let config = write_config(
        "port-in-use",
        &format!(
            "[admin]\nlisten = \"127.0.0.1:0\"\n[[target]]\nname = \"payments\"\nprotocol = \"http\"\nlisten = \"{addr}\"\nupstream = \"http://127.0.0.1:9\"\n"
        ),
    );
    let out = Command::new(BIN).args(["proxy", "--no-record", "--config"]).arg(&config).output().expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains(&format!("error: target payments: cannot listen on {addr}: Address already in use")),
        "{stderr}"
    );
}

fn wait_for_port(port: u16) {
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(start.elapsed() < Duration::from_secs(20), "brownout did not listen on {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn sigterm_drains_an_in_flight_request_and_exits_zero() {
    // An upstream that answers after 600 ms, on a thread of its own.
    let upstream = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let upstream_addr = upstream.local_addr().expect("addr");
    std::thread::spawn(move || {
        for stream in upstream.incoming().take(4) {
            let Ok(mut s) = stream else { continue };
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf);
                std::thread::sleep(Duration::from_millis(600));
                let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\nslow!");
            });
        }
    });
    let (admin, listen) = (crate::support::free_port(), crate::support::free_port());
    let config = write_config(
        "sigterm",
        &format!(
            "shutdown_grace = \"5s\"\n[admin]\nlisten = \"127.0.0.1:{admin}\"\n[[target]]\nname = \"slow\"\nprotocol = \"http\"\nlisten = \"127.0.0.1:{listen}\"\nupstream = \"http://{upstream_addr}\"\n"
        ),
    );
    let run_dir = config.parent().expect("dir").join("run");
    let _ = std::fs::remove_dir_all(&run_dir);
    let mut child = Command::new(BIN)
        .args(["proxy", "--config"])
        .arg(&config)
        .arg("--run-dir")
        .arg(&run_dir)
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    wait_for_port(listen);
    let client = std::thread::spawn(move || {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", listen)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
        s.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n").expect("write");
        let mut got = Vec::new();
        let mut buf = [0u8; 1024];
        while !got.ends_with(b"slow!") {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
        String::from_utf8_lossy(&got).into_owned()
    });
    std::thread::sleep(Duration::from_millis(200));
    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill");
    assert!(killed.success());
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "brownout did not exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    let answer = client.join().expect("client thread");
    let mut stderr = String::new();
    child.stderr.take().expect("stderr").read_to_string(&mut stderr).expect("read stderr");
    assert!(status.success(), "exit {status:?}\n{stderr}");
    assert!(answer.starts_with("HTTP/1.1 200") && answer.ends_with("slow!"), "in-flight request was cut: {answer:?}");
    assert!(stderr.contains("drained"), "{stderr}");
    // The run's journal and reports are written, and their paths printed.
    for name in ["journal.jsonl", "report.json", "report.md", "report.html"] {
        assert!(run_dir.join(name).is_file(), "{name} missing after the shutdown\n{stderr}");
    }
    assert!(stderr.contains(&format!("report    {}", run_dir.join("report.html").display())), "{stderr}");
    let journal = std::fs::read_to_string(run_dir.join("journal.jsonl")).expect("journal");
    assert!(journal.contains("\"outcome\":\"stopped\"") && journal.contains("\"status\":200"), "{journal}");
    // After the drain nothing listens any more.
    assert!(std::net::TcpStream::connect(("127.0.0.1", listen)).is_err());
}

#[test]
fn schedule_lists_the_next_run_of_each_scheduled_experiment() {
    let out = Command::new(BIN)
        .args(["schedule", "experiments", "--list"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run brownout");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let line = stdout.lines().find(|l| l.contains("crm-down.toml")).expect("crm-down is scheduled");
    // Tuesdays at 14:00 in Berlin.
    assert!(
        line.contains("T14:00:00+01:00[Europe/Berlin]") || line.contains("T14:00:00+02:00[Europe/Berlin]"),
        "{line}"
    );
}

/// One HTTP/1.1 exchange with `connection: close`: the status and the body.
fn http(port: u16, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let req = format!(
        "{method} {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).expect("write");
    let mut got = String::new();
    s.read_to_string(&mut got).expect("read");
    let status = got.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = got.split_once("\r\n\r\n").map_or("", |(_, b)| b).to_string();
    (status, body)
}

#[test]
fn a_run_started_through_the_proxys_admin_api_is_reported_even_when_the_proxy_stops() {
    let (admin, listen) = (crate::support::free_port(), crate::support::free_port());
    let config = write_config(
        "api-run",
        &format!(
            "[admin]\nlisten = \"127.0.0.1:{admin}\"\nexperiments_dir = \".\"\n[[target]]\nname = \"db\"\nprotocol = \"tcp\"\nlisten = \"127.0.0.1:{listen}\"\nupstream = \"127.0.0.1:9\"\n"
        ),
    );
    let dir = config.parent().expect("dir").to_path_buf();
    // The experiment names the config it was written for, next to it.
    std::fs::write(
        dir.join("exp.toml"),
        "title = \"db refused\"\nconfig = \"config.toml\"\n[[phase]]\nname = \"down\"\nduration = \"60s\"\nfaults = [{ target = \"db\", kind = \"outage\", mode = \"refuse\" }]\n",
    )
    .expect("experiment");
    let run_dir = dir.join("runs");
    let _ = std::fs::remove_dir_all(&run_dir);
    let child = Command::new(BIN)
        .args(["proxy", "--no-record", "--config"])
        .arg(&config)
        .arg("--run-dir")
        .arg(&run_dir)
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut child = KillOnDrop(child);
    wait_for_port(admin);
    let body = format!("{{\"file\": {:?}}}", dir.join("exp.toml").display().to_string());
    let (status, started) = http(admin, "POST", "/runs", &body);
    assert_eq!(status, 201, "{started}");
    let start = Instant::now();
    while !http(admin, "GET", "/run", "").1.contains("\"name\":\"down\"") {
        assert!(start.elapsed() < Duration::from_secs(20), "the run never reached its phase");
        std::thread::sleep(Duration::from_millis(20));
    }
    while std::net::TcpStream::connect(("127.0.0.1", listen)).is_ok() {
        assert!(start.elapsed() < Duration::from_secs(20), "the outage never refused connections");
        std::thread::sleep(Duration::from_millis(20));
    }
    let killed = Command::new("kill").args(["-TERM", &child.0.id().to_string()]).status().expect("kill");
    assert!(killed.success());
    let status = loop {
        if let Some(s) = child.0.try_wait().expect("wait") {
            break s;
        }
        assert!(start.elapsed() < Duration::from_secs(40), "brownout did not exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    child.0.stderr.take().expect("stderr").read_to_string(&mut stderr).expect("read stderr");
    assert!(status.success(), "exit {status:?}\n{stderr}");
    let journal = std::fs::read_to_string(run_dir.join("run-1").join("journal.jsonl")).expect("the run's journal");
    assert!(journal.contains(r#""outcome":"interrupted""#) && journal.contains(r#""type":"fault_off""#), "{journal}");
    assert!(run_dir.join("run-1").join("report.html").is_file(), "{stderr}");
    assert!(!run_dir.join("journal.jsonl").exists(), "--no-record writes no journal of the proxy's own");
}

/// A child process killed when the test ends, even by a failed assertion.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn check_prints_every_key_of_an_experiment_spikes_and_graceful_rules_included() {
    let out = Command::new(BIN)
        .args(["check", "experiments/auth-slow-during-spike.toml", "experiments/payments-outage.toml"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run brownout");
    let stdout = String::from_utf8_lossy(&out.stdout);
    for line in [
        "    spike   x20 from 25s for 30s",
        "  graceful  POST /login in every phase: at least 100% of failures graceful: status 429 or 503, header retry-after, within 3s",
        "  unchecked warn: a journey that degrades with no rule covering it is listed under the verdict",
        "  guardrail abort if ungraceful_share at * above 50% for 10s, once at least 20 requests",
        "    request POST /login weight 1, body of 15 bytes",
        "  owner     identity-team",
        "  target    auth 127.0.0.1:9002 -> http://127.0.0.1:9102 (http), connect within 5s, answer within 30s, host the upstream's, idle clients closed after 60s, request heads within 10s",
        "  graceful  POST /checkout in every phase: at least 100% of failures graceful: status 503, body contains \"try again\", header retry-after, within 1s",
    ] {
        assert!(stdout.lines().any(|l| l == line), "missing {line:?} in:\n{stdout}");
    }
}
