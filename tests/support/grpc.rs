//! Python's gRPC (PyPI `grpcio`, `grpcio-tools`) as a real peer: the Echo
//! server and client of `tests/grpc/`, run from the virtual environment
//! `.ci/run` makes (`target/grpc-venv`, or `$BROWNOUT_GRPC_PYTHON`).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;

/// The Python with grpcio, or `None` (with the reason printed) when it is
/// missing; under `CI=true` a missing one fails the test instead.
pub fn python() -> Option<PathBuf> {
    let python = std::env::var_os("BROWNOUT_GRPC_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/grpc-venv/bin/python"));
    let works =
        Command::new(&python).args(["-c", "import grpc, grpc_tools"]).output().is_ok_and(|o| o.status.success());
    if works {
        return Some(python);
    }
    let why = format!(
        "{} with grpcio and grpcio-tools is missing (.ci/run makes it: python3 -m venv target/grpc-venv && target/grpc-venv/bin/pip install grpcio grpcio-tools)",
        python.display()
    );
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}");
    eprintln!("skipped: {why}");
    None
}

/// The Python code `grpc_tools.protoc` generates from `tests/grpc/echo.proto`,
/// made once per test process.
pub fn generated(python: &PathBuf) -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let out = std::env::temp_dir().join(format!("brownout-grpc-gen-{}", std::process::id()));
        std::fs::create_dir_all(&out).expect("generated dir");
        let status = Command::new(python)
            .args(["-m", "grpc_tools.protoc", "-I"])
            .arg(root.join("tests/grpc"))
            .arg(format!("--python_out={}", out.display()))
            .arg(format!("--grpc_python_out={}", out.display()))
            .arg(root.join("tests/grpc/echo.proto"))
            .status()
            .expect("run protoc");
        assert!(status.success(), "grpc_tools.protoc failed");
        out
    })
    .clone()
}

/// The Echo server, stopped when dropped (its stdin closes, then it is killed).
pub struct Server {
    child: Child,
    _stdin: ChildStdin,
    pub port: u16,
}

impl Server {
    /// Starts the server, in the clear or with `tls` (certificate and key files).
    pub fn start(python: &PathBuf, tls: Option<(&PathBuf, &PathBuf)>) -> Server {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let mut cmd = Command::new(python);
        cmd.arg(root.join("tests/grpc/server.py")).arg(generated(python));
        if let Some((cert, key)) = tls {
            cmd.arg("--tls").arg(cert).arg(key);
        }
        let mut child =
            cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().expect("start server.py");
        let stdin = child.stdin.take().expect("stdin");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("read port");
        let port = line.trim().strip_prefix("port ").and_then(|p| p.parse().ok()).expect("server.py printed its port");
        Server { child, _stdin: stdin, port }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `client.py` against `address` with `scenario` (in a blocking
/// thread, so the proxy in this test's runtime keeps serving); one JSON
/// value per line it printed.
pub async fn client(python: &PathBuf, address: String, scenario: &str) -> Vec<serde_json::Value> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let (python, generated, scenario) = (python.clone(), generated(python), scenario.to_string());
    let out = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(root.join("tests/grpc/client.py"))
            .arg(generated)
            .arg(address)
            .arg(scenario)
            .output()
            .expect("run client.py")
    });
    let out = tokio::time::timeout(super::LIMIT, out).await.expect("client.py ended in time").expect("join");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "client.py failed: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    stdout.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}"))).collect()
}
