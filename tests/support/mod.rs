//! Shared test helpers: a proxy started from TOML, in-process upstreams,
//! small clients, and seeded random bytes.

#![allow(dead_code)]

pub mod client;
pub mod grpc;
pub mod http1;
pub mod little_shop;
pub mod runs;
pub mod sample_report;
pub mod upstream;
pub mod webdriver;

use std::net::SocketAddr;
use std::time::Duration;

use brownout::app::App;
use brownout::config;
use rand::{RngCore, SeedableRng};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Every wait in a test is bounded by this, so a hang fails instead of stalling CI.
pub const LIMIT: Duration = Duration::from_secs(30);

/// A proxy running in this process until dropped or stopped.
pub struct Running {
    addrs: Vec<(String, SocketAddr)>,
    switches: Vec<(String, std::sync::Arc<brownout::fault::FaultSwitch>)>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<usize>>,
}

impl Running {
    pub fn addr(&self, name: &str) -> SocketAddr {
        self.addrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, a)| *a)
            .unwrap_or_else(|| panic!("no listener named {name}"))
    }

    /// The fault switch of a target, to change its faults live.
    pub fn switch(&self, name: &str) -> std::sync::Arc<brownout::fault::FaultSwitch> {
        self.switches.iter().find(|(n, _)| n == name).map(|(_, s)| s.clone()).expect("a target of that name")
    }

    /// Signals shutdown and waits for the drain; returns connections cut.
    pub async fn stop(mut self) -> usize {
        let _ = self.stop.take().expect("stopped once").send(());
        let task = self.task.take().expect("stopped once");
        tokio::time::timeout(LIMIT, task).await.expect("proxy drained in time").expect("proxy task")
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A global subscriber that records nothing and leaves every decision to
/// each thread's own. Tests record through scoped subscribers
/// (`set_default`); with only one of those registered, tracing computes a
/// callsite's interest from the default of whichever thread reaches it
/// first, so a proxy of another test, on another thread, could cache
/// "never" for the recorder's callsites. A second, global, dispatcher keeps
/// tracing asking every thread's own.
pub fn quiet_global_subscriber() {
    struct Quiet;
    impl tracing::Subscriber for Quiet {
        fn register_callsite(&self, _: &'static tracing::Metadata<'static>) -> tracing::subscriber::Interest {
            tracing::subscriber::Interest::sometimes()
        }
        fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
            false
        }
        fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
            tracing::span::Id::from_u64(1)
        }
        fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
        fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
        fn event(&self, _: &tracing::Event<'_>) {}
        fn enter(&self, _: &tracing::span::Id) {}
        fn exit(&self, _: &tracing::span::Id) {}
    }
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = tracing::subscriber::set_global_default(Quiet);
    });
}

/// Starts a proxy from config text (listen on `127.0.0.1:0` for any free port).
pub async fn start(toml: &str) -> Running {
    quiet_global_subscriber();
    let config = config::parse("test.toml", toml, None).unwrap_or_else(|e| panic!("test config invalid:\n{e}"));
    let app = App::bind(&config).expect("bind");
    let mut addrs = vec![("admin".to_string(), app.admin_addr().expect("bound"))];
    addrs.extend(app.proxy().addrs());
    let switches =
        config.targets.iter().map(|t| (t.name.clone(), app.proxy().switch(&t.name).expect("switch"))).collect();
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(app.serve(async move {
        let _ = rx.await;
    }));
    Running { addrs, switches, stop: Some(tx), task: Some(task) }
}

/// The config of one HTTP target named `name` in front of `upstream`.
pub fn http_target(name: &str, upstream: SocketAddr, extra: &str) -> String {
    format!(
        "seed = 7\n[admin]\nlisten = \"127.0.0.1:0\"\n\n[[target]]\nname = \"{name}\"\nprotocol = \"http\"\nlisten = \"127.0.0.1:0\"\nupstream = \"http://{upstream}\"\n{extra}\n"
    )
}

/// The config of one TCP target named `name` in front of `upstream`.
pub fn tcp_target(name: &str, upstream: SocketAddr, extra: &str) -> String {
    format!(
        "seed = 7\n[admin]\nlisten = \"127.0.0.1:0\"\n\n[[target]]\nname = \"{name}\"\nprotocol = \"tcp\"\nlisten = \"127.0.0.1:0\"\nupstream = \"{upstream}\"\n{extra}\n"
    )
}

/// `len` bytes from a seeded generator: the same seed gives the same bytes.
pub fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut v = vec![0u8; len];
    rng.fill_bytes(&mut v);
    v
}

/// A local port with nothing listening on it (bound, then released).
pub fn closed_port() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr")
}

/// Parses faults written as `[[target.fault]]` TOML for a target of the given
/// protocol, to set them live through a switch.
pub fn faults(protocol: &str, toml: &str) -> Vec<brownout::fault::Fault> {
    let upstream = if protocol == "http" { "http://127.0.0.1:9" } else { "127.0.0.1:9" };
    let text = format!(
        "[admin]\nlisten = \"127.0.0.1:0\"\n[[target]]\nname = \"t\"\nprotocol = \"{protocol}\"\nlisten = \"127.0.0.1:0\"\nupstream = \"{upstream}\"\n{toml}"
    );
    let config = config::parse("faults.toml", &text, None).unwrap_or_else(|e| panic!("test faults invalid:\n{e}"));
    config.targets.into_iter().next().expect("one target").faults
}

/// Reads from a raw socket until EOF, an error, or `limit`; returns what was
/// read and how it ended.
pub async fn read_until_end(
    s: &mut tokio::net::TcpStream,
    limit: Duration,
) -> (Vec<u8>, Result<(), std::io::ErrorKind>) {
    use tokio::io::AsyncReadExt;
    let mut got = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Err(_) => return (got, Err(std::io::ErrorKind::TimedOut)),
            Ok(Ok(0)) => return (got, Ok(())),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Ok(Err(e)) => return (got, Err(e.kind())),
        }
    }
}

/// A port to give a listener that binds a moment later, chosen below the
/// kernel's ephemeral range (32768 and up), so that the many client
/// connections of parallel tests cannot take it in between.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let start = 20_000 + (std::process::id() % 500) as u16 * 20;
    for _ in 0..10_000 {
        let offset = NEXT.fetch_add(1, Ordering::Relaxed) % 12_000;
        let port = 20_000 + (start - 20_000 + offset) % 12_000;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port below the ephemeral range");
}
