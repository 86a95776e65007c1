//! The listeners: binding every target, the observer and the admin API, then
//! serving them until shutdown and draining what is in flight.

mod gate;
pub mod http;
pub mod reset;
pub mod tcp;
pub mod timer;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use crate::config::{Config, Protocol};
use crate::fault::FaultSwitch;

pub use gate::ConnGauge;
pub(crate) use gate::{Gate, Open};

/// A listener could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{who}: cannot listen on {addr}: {source}")]
    Bind {
        who: String,
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("{who}: {message}")]
    Upstream { who: String, message: String },
}

enum Serve {
    Http(http::Injector),
    Tcp(Arc<FaultSwitch>, Arc<crate::config::TcpUpstream>),
    Admin,
}

struct Bound {
    name: String,
    listener: TcpListener,
    serve: Serve,
    gauge: ConnGauge,
}

/// Every listener of a config, bound and ready to serve.
pub struct Proxy {
    bound: Vec<Bound>,
    /// What the admin API serves about each target.
    targets: Vec<crate::admin::TargetEntry>,
    admin: crate::config::Admin,
    grace: Duration,
    live: Option<Arc<crate::record::Live>>,
    runs: Arc<crate::run::Runs>,
    seed: u64,
}

impl Proxy {
    /// Binds every listener before serving any, so a port already in use
    /// stops the start with a message naming the listener and the address.
    pub async fn bind(config: &Config) -> Result<Proxy, StartError> {
        let mut bound = Vec::new();
        bound.push(Bound {
            name: "admin".into(),
            listener: listen("admin", config.admin.listen).await?,
            serve: Serve::Admin,
            gauge: ConnGauge::default(),
        });
        if let Some(o) = &config.observer {
            let forwarder = http::Forwarder::new(&o.name, &o.upstream)
                .map_err(|e| StartError::Upstream { who: "observer".into(), message: e.to_string() })?;
            bound.push(Bound {
                name: o.name.clone(),
                listener: listen("observer", o.listen).await?,
                serve: Serve::Http(http::observer(forwarder, config.graceful.clone())),
                gauge: ConnGauge::default(),
            });
        }
        let mut targets = Vec::new();
        let seed = config.seed.unwrap_or_else(random_seed);
        info!(seed, "fault decisions seeded; set seed = {seed} in the config to repeat them");
        for t in &config.targets {
            let who = format!("target {}", t.name);
            let switch = Arc::new(FaultSwitch::new(&t.name, seed, t.faults.clone()));
            let serve = match &t.protocol {
                Protocol::Http(up) => {
                    let forwarder = http::Forwarder::new(&t.name, up)
                        .map_err(|e| StartError::Upstream { who: who.clone(), message: e.to_string() })?;
                    Serve::Http(http::Injector::new(switch, forwarder))
                }
                Protocol::Tcp(up) => Serve::Tcp(switch, Arc::new(up.clone())),
            };
            let listener = listen(&who, t.listen).await?;
            let gauge = ConnGauge::default();
            targets.push(crate::admin::TargetEntry {
                name: t.name.clone(),
                protocol: t.protocol_name(),
                listen: listener.local_addr().unwrap_or(t.listen),
                upstream: match &t.protocol {
                    Protocol::Http(up) => up.display(),
                    Protocol::Tcp(up) => up.address.clone(),
                },
                switch: switch_of(&serve),
                base: t.faults.clone(),
                gauge: gauge.clone(),
            });
            bound.push(Bound { name: t.name.clone(), listener, serve, gauge });
        }
        Ok(Proxy {
            bound,
            targets,
            admin: config.admin.clone(),
            grace: config.shutdown_grace,
            live: None,
            runs: Arc::default(),
            seed,
        })
    }

    /// Serves the recorder's live aggregates at the admin API's `/metrics`.
    pub fn with_live(mut self, live: Arc<crate::record::Live>) -> Self {
        self.live = Some(live);
        self
    }

    /// The runs the admin API shows, stops and (with a launcher) starts.
    pub fn with_runs(mut self, runs: Arc<crate::run::Runs>) -> Self {
        self.runs = runs;
        self
    }

    /// What a run drives: the targets' switches, the listeners' addresses
    /// and the observer's classification rules.
    pub fn stage(&self) -> crate::run::Stage {
        let mut stage = crate::run::Stage::default();
        for b in &self.bound {
            if let Ok(addr) = b.listener.local_addr() {
                stage.addrs.push((b.name.clone(), addr));
            }
            match &b.serve {
                Serve::Http(i) if i.rules_switch().is_some() => stage.rules = i.rules_switch().cloned(),
                _ => {}
            }
        }
        stage.targets = self
            .targets
            .iter()
            .map(|t| crate::run::StageTarget { name: t.name.clone(), protocol: t.protocol, switch: t.switch.clone() })
            .collect();
        stage
    }

    /// The address a listener is bound to (`admin`, `observer` or a target's name).
    pub fn local_addr(&self, name: &str) -> Option<SocketAddr> {
        self.bound.iter().find(|b| b.name == name).and_then(|b| b.listener.local_addr().ok())
    }

    /// The fault switch of a target: what changes its active faults.
    pub fn switch(&self, target: &str) -> Option<Arc<FaultSwitch>> {
        self.bound.iter().filter(|b| b.name == target).find_map(|b| match &b.serve {
            Serve::Http(i) if b.name != "observer" => Some(i.switch().clone()),
            Serve::Tcp(s, _) => Some(s.clone()),
            _ => None,
        })
    }

    /// Serves until `shutdown` completes, then stops accepting and waits up to
    /// the grace period for in-flight work. Returns how many connection tasks
    /// were still running when the grace period ran out.
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) -> usize {
        let token = CancellationToken::new();
        let tracker = TaskTracker::new();
        let switches: Vec<Arc<FaultSwitch>> = self.bound.iter().filter_map(|b| self.switch(&b.name)).collect();
        let gauges: Vec<(String, ConnGauge)> =
            self.bound.iter().filter(|b| b.name != "admin").map(|b| (b.name.clone(), b.gauge.clone())).collect();
        let admin = crate::admin::AdminState::new(
            self.live.clone(),
            gauges,
            self.runs.clone(),
            &self.admin,
            std::mem::take(&mut self.targets),
            self.seed,
        );
        for b in self.bound {
            let addr = b.listener.local_addr().ok();
            info!(listener = %b.name, addr = ?addr, "listening");
            let (token, t) = (token.clone(), tracker.clone());
            match b.serve {
                Serve::Http(f) => tracker.spawn(http::serve(b.listener, f, b.gauge, token, t)),
                Serve::Tcp(switch, up) => tracker.spawn(tcp::serve(b.listener, switch, up, b.gauge, token, t)),
                Serve::Admin => tracker.spawn(crate::admin::serve(b.listener, admin.clone(), token, t)),
            };
        }
        shutdown.await;
        // A run started through the API ends first, writing its reports.
        self.runs.stop_launched(Duration::from_secs(30)).await;
        // Fail open: whatever drains from here on passes untouched.
        for switch in &switches {
            switch.clear();
        }
        info!(grace = ?self.grace, "shutting down: no new connections, draining");
        token.cancel();
        tracker.close();
        if tokio::time::timeout(self.grace, tracker.wait()).await.is_err() {
            let left = tracker.len();
            warn!(connections = left, "grace period over, cutting what is left");
            return left;
        }
        info!("drained");
        0
    }
}

/// How many connections a listener lets wait for accept (the kernel caps it
/// at `net.core.somaxconn`). The common default of 128 overflows when a
/// thousand clients connect at once, and the kernel then drops or resets
/// some of them before brownout ever sees them.
const BACKLOG: u32 = 4096;

/// A listening socket on `addr`, with room for bursts of connections.
pub(crate) fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

async fn listen(who: &str, addr: SocketAddr) -> Result<TcpListener, StartError> {
    bind(addr).map_err(|source| StartError::Bind { who: who.to_string(), addr, source })
}

/// Accept errors (out of file descriptors, most often) are logged and slowed
/// down instead of ending the listener.
pub(crate) async fn accept_failed(name: &str, e: &std::io::Error) {
    warn!(listener = %name, error = %e, "accept failed");
    tokio::time::sleep(Duration::from_millis(50)).await;
}

fn switch_of(serve: &Serve) -> Arc<FaultSwitch> {
    match serve {
        Serve::Http(i) => i.switch().clone(),
        Serve::Tcp(s, _) => s.clone(),
        Serve::Admin => Arc::new(FaultSwitch::new("admin", 0, Vec::new())),
    }
}

/// A seed from the clock, for runs that did not ask for one.
fn random_seed() -> u64 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    crate::fault::rng::mix(nanos as u64, u64::from(std::process::id()))
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
