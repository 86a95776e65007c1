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
