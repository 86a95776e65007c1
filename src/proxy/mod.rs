//! The data path's listeners: binding the observer and every target,
//! serving them, and draining what is in flight on shutdown. The proxy
//! knows nothing of the admin API or of runs: what assembles them around
//! it is the `app` module.
//!
//! `gate.rs` accepts (and closes the listener during an outage), `http/` and
//! `tcp/` serve each protocol (HTTP listeners over TLS too, with a
//! certificate from the config or issued by the local authority it is given), `reset.rs` closes a stream with RST, and
//! `timer.rs` sleeps precisely for injected latency.

mod gate;
pub mod http;
pub mod reset;
pub mod tcp;
pub mod timer;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::net::{TcpListener, TcpSocket};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use crate::config::{ClientLimits, Config, ListenerTls, Protocol};
use crate::fault::{Fault, FaultSwitch};
use crate::record::classify::GracefulRules;
use crate::record::inflight::InFlight;
use crate::tls::ca::LocalCa;

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
    #[error("{who}: tls: {message}")]
    Tls { who: String, message: String },
}

/// What a data-path listener is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// In front of the application: records and classifies, injects nothing.
    Observer,
    /// In front of one dependency: injects its faults.
    Target,
}

enum Serve {
    /// With the TLS acceptor of an HTTPS listener.
    Http(http::Injector, Option<tokio_rustls::TlsAcceptor>),
    Tcp(Arc<crate::config::TcpUpstream>),
}

struct Bound {
    role: Role,
    /// The listener's name in the journal: `observer` or the target's name.
    name: String,
    listener: TcpListener,
    serve: Serve,
    switch: Arc<FaultSwitch>,
    gauge: ConnGauge,
    limits: ClientLimits,
}

/// What the proxy knows of one bound target, for those who drive its
/// faults (runs, the admin API) and show it.
#[derive(Clone)]
pub struct TargetInfo {
    pub name: String,
    pub protocol: &'static str,
    pub listen: SocketAddr,
    pub upstream: String,
    pub switch: Arc<FaultSwitch>,
    /// The faults of the config file, always active beside the ad-hoc ones.
    pub base: Vec<Fault>,
    pub gauge: ConnGauge,
    /// Requests let through without their header faults at `max_active`;
    /// `None` when the target takes no header faults.
    pub header_overflow: Option<Arc<std::sync::atomic::AtomicU64>>,
}

/// The observer and every target of a config, bound and ready to serve.
pub struct Proxy {
    bound: Vec<Bound>,
    targets: Vec<TargetInfo>,
    seed: u64,
}

impl Proxy {
    /// Binds every listener before serving any, so a port already in use
    /// stops the start with a message naming the listener and the address.
    /// `ca` issues the certificates of `tls = "auto"` listeners.
    pub fn bind(config: &Config, ca: Option<&LocalCa>) -> Result<Proxy, StartError> {
        let mut bound = Vec::new();
        if let Some(o) = &config.observer {
            let forwarder = http::Forwarder::new(&o.name, &o.upstream)
                .map_err(|e| StartError::Upstream { who: "observer".into(), message: e.to_string() })?;
            let injector = http::observer(forwarder, config.graceful.clone()).with_limits(o.limits);
            let tls = acceptor("observer", o.tls.as_ref(), o.listen, ca)?;
            bound.push(Bound {
                role: Role::Observer,
                name: o.name.clone(),
                listener: listen("observer", o.listen)?,
                switch: injector.switch().clone(),
                serve: Serve::Http(injector, tls),
                gauge: ConnGauge::default(),
                limits: o.limits,
            });
        }
        let mut targets = Vec::new();
        // Only a seed brownout picked needs saying how to repeat it; a given
        // one (a config's, an experiment's, the demo's) is in its file already.
        let seed = match config.seed {
            Some(seed) => seed,
            None => {
                let seed = random_seed();
                info!(seed, "fault decisions seeded at random; set seed = {seed} in the config to repeat them");
                seed
            }
        };
        for t in &config.targets {
            let who = format!("target {}", t.name);
            let switch = Arc::new(FaultSwitch::new(&t.name, seed, t.faults.clone()));
            let serve = match &t.protocol {
                Protocol::Http(up) => {
                    let forwarder = http::Forwarder::new(&t.name, up)
                        .map_err(|e| StartError::Upstream { who: who.clone(), message: e.to_string() })?;
                    let tls = acceptor(&who, t.tls.as_ref(), t.listen, ca)?;
                    let injector = http::Injector::new(switch.clone(), forwarder).with_limits(t.limits);
                    Serve::Http(injector.with_header_faults(t.header_faults.clone()), tls)
                }
                Protocol::Tcp(up) => Serve::Tcp(Arc::new(up.clone())),
            };
            let listener = listen(&who, t.listen)?;
            let gauge = ConnGauge::default();
            targets.push(TargetInfo {
                name: t.name.clone(),
                protocol: t.protocol_name(),
                listen: listener.local_addr().unwrap_or(t.listen),
                upstream: match &t.protocol {
                    Protocol::Http(up) => up.display(),
                    Protocol::Tcp(up) => up.address.clone(),
                },
                switch: switch.clone(),
                base: t.faults.clone(),
                gauge: gauge.clone(),
                header_overflow: match &serve {
                    Serve::Http(i, _) => i.header_gate().map(|g| g.overflow().clone()),
                    Serve::Tcp(_) => None,
                },
            });
            bound.push(Bound {
                role: Role::Target,
                name: t.name.clone(),
                listener,
                serve,
                switch,
                gauge,
                limits: t.limits,
            });
        }
        Ok(Proxy { bound, targets, seed })
    }

    /// The seed every target's fault decisions derive from.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Every target, in the config's order.
    pub fn targets(&self) -> &[TargetInfo] {
        &self.targets
    }

    /// The observer's address, if there is an observer.
    pub fn observer_addr(&self) -> Option<SocketAddr> {
        self.addr_of(|b| b.role == Role::Observer)
    }

    /// The address of the target named `name`.
    pub fn target_addr(&self, name: &str) -> Option<SocketAddr> {
        self.addr_of(|b| b.role == Role::Target && b.name == name)
    }

    fn addr_of(&self, which: impl Fn(&Bound) -> bool) -> Option<SocketAddr> {
        self.bound.iter().find(|b| which(b)).and_then(|b| b.listener.local_addr().ok())
    }

    /// Every listener's name and address, the observer first.
    pub fn addrs(&self) -> Vec<(String, SocketAddr)> {
        self.bound.iter().filter_map(|b| b.listener.local_addr().ok().map(|a| (b.name.clone(), a))).collect()
    }

    /// The fault switch of a target: what changes its active faults.
    pub fn switch(&self, target: &str) -> Option<Arc<FaultSwitch>> {
        self.targets.iter().find(|t| t.name == target).map(|t| t.switch.clone())
    }

    /// Where the observer's classification rules are swapped, if there is an observer.
    pub fn observer_rules(&self) -> Option<Arc<ArcSwap<GracefulRules>>> {
        self.bound.iter().find_map(|b| match &b.serve {
            Serve::Http(i, _) if b.role == Role::Observer => i.rules_switch().cloned(),
            _ => None,
        })
    }

    /// The requests in flight at each HTTP listener, by name, tracked while
    /// a guardrail watches.
    pub fn in_flight(&self) -> Vec<(String, Arc<InFlight>)> {
        self.bound
            .iter()
            .filter_map(|b| match &b.serve {
                Serve::Http(i, _) => Some((b.name.clone(), i.in_flight().clone())),
                Serve::Tcp(_) => None,
            })
            .collect()
    }

    /// Open connections per listener, for `/metrics`.
    pub fn gauges(&self) -> Vec<(String, ConnGauge)> {
        self.bound.iter().map(|b| (b.name.clone(), b.gauge.clone())).collect()
    }

    /// Spawns every listener's accept loop on `tracker`; they stop
    /// accepting when `shutdown` is cancelled. Returns the targets' switches,
    /// for whoever must clear every fault before the drain.
    pub fn serve(self, shutdown: &CancellationToken, tracker: &TaskTracker) -> Vec<Arc<FaultSwitch>> {
        let switches = self.targets.iter().map(|t| t.switch.clone()).collect();
        for b in self.bound {
            let addr = b.listener.local_addr().map_or_else(|_| "?".to_string(), |a| a.to_string());
            info!(listener = %b.name, %addr, "listening");
            let (token, t) = (shutdown.clone(), tracker.clone());
            match b.serve {
                Serve::Http(injector, tls) => {
                    tracker.spawn(http::serve(b.listener, injector, tls, b.gauge, b.limits, token, t))
                }
                Serve::Tcp(up) => tracker.spawn(tcp::serve(b.listener, b.switch, up, b.gauge, b.limits, token, t)),
            };
        }
        switches
    }
}

/// The TLS acceptor of a listener with `tls`: its certificate from the
/// config's files, or issued by `ca` for the listener's address, `localhost`
/// and the names the config lists.
fn acceptor(
    who: &str,
    tls: Option<&ListenerTls>,
    listen: SocketAddr,
    ca: Option<&LocalCa>,
) -> Result<Option<tokio_rustls::TlsAcceptor>, StartError> {
    let fail = |message: String| StartError::Tls { who: who.to_string(), message };
    let identity = match tls {
        None => return Ok(None),
        Some(ListenerTls::Files { identity, .. }) => identity.clone(),
        Some(ListenerTls::Auto { names }) => {
            let ca = ca.ok_or_else(|| fail("tls = \"auto\" needs the local certificate authority".into()))?;
            ca.issue(&auto_names(names, listen)).map_err(|e| fail(e.to_string()))?
        }
    };
    http::acceptor(identity).map(Some).map_err(fail)
}

/// What an issued certificate names: the configured names first (the first
/// is its common name), then `localhost`, the loopback addresses and the
/// listen address unless it is a wildcard.
pub fn auto_names(names: &[String], listen: SocketAddr) -> Vec<String> {
    let mut all: Vec<String> = names.to_vec();
    let ip = listen.ip();
    let own = (!ip.is_unspecified()).then(|| ip.to_string());
    for n in ["localhost".to_string(), "127.0.0.1".to_string(), "::1".to_string()].into_iter().chain(own) {
        if !all.contains(&n) {
            all.push(n);
        }
    }
    all
}

/// Waits up to `grace` for the tasks on `tracker` (closed here) to finish.
/// Returns how many were still running when the grace period ran out.
pub async fn drain(tracker: &TaskTracker, grace: Duration) -> usize {
    info!(?grace, "shutting down: no new connections, draining");
    tracker.close();
    if tokio::time::timeout(grace, tracker.wait()).await.is_err() {
        let left = tracker.len();
        warn!(connections = left, "grace period over, cutting what is left");
        return left;
    }
    info!("drained");
    0
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

/// Binds `addr` for the listener `who`, with a message naming both when it cannot.
pub fn listen(who: &str, addr: SocketAddr) -> Result<TcpListener, StartError> {
    bind(addr).map_err(|source| StartError::Bind { who: who.to_string(), addr, source })
}

/// Accept errors (out of file descriptors, most often) are logged and slowed
/// down instead of ending the listener: the `failures`-th in a row waits
/// twice as long as the one before, from 10 ms up to a second, so that a
/// listener out of descriptors neither spins nor floods the log.
pub(crate) async fn accept_failed(name: &str, e: &std::io::Error, failures: u32) {
    if failures.is_power_of_two() {
        warn!(listener = %name, error = %e, failures, "accept failed");
    }
    let wait = Duration::from_millis(10).saturating_mul(1 << failures.min(7)).min(Duration::from_secs(1));
    tokio::time::sleep(wait).await;
}

/// Raises the soft limit of open files to the hard one, so that the data
/// path runs out of descriptors as late as the system allows; returns the
/// limits before and after.
pub fn raise_open_files_limit() -> Option<(u64, u64)> {
    #[cfg(target_os = "linux")]
    {
        use rustix::process::{getrlimit, setrlimit, Resource};
        let limit = getrlimit(Resource::Nofile);
        let (soft, hard) = (limit.current?, limit.maximum);
        let target = hard.unwrap_or(soft.max(1 << 20));
        if target > soft {
            let mut raised = limit;
            raised.current = Some(target);
            if setrlimit(Resource::Nofile, raised).is_ok() {
                return Some((soft, target));
            }
        }
        Some((soft, soft))
    }
    #[cfg(not(target_os = "linux"))]
    None
}

/// A seed from the clock, for runs that did not ask for one.
fn random_seed() -> u64 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    crate::fault::rng::mix(nanos as u64, u64::from(std::process::id()))
}
