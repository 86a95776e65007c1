//! The application: what binds which listener, serves the admin API beside
//! the proxy, owns the runs, and shuts everything down on a signal. This is
//! the top of the house: it imports [`proxy`](crate::proxy),
//! [`admin`](crate::admin) and [`run`](crate::run), and none of them imports
//! it.
//!
//! - `mod.rs`: [`App`] (a bound config: admin listener and proxy, served
//!   until shutdown) and [`run_experiment`] (one experiment on listeners of
//!   its own).
//! - `serve.rs`: `brownout proxy`: a long-running proxy that records a
//!   journal and starts runs through its admin API.
//! - `schedule.rs`: `brownout schedule`: experiments run on their cron
//!   schedules, each in a child process.
//! - `signals.rs`: SIGINT and SIGTERM as a future and as a cancellation token.

pub mod schedule;
pub mod serve;
pub mod signals;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::info;

use crate::admin::AdminState;
use crate::config::Config;
use crate::experiment::Experiment;
use crate::proxy::{Proxy, StartError};
use crate::record::{Live, RecordLayer, Recorder};
use crate::run::{ControlledTarget, Controls, Finished, Launcher, RunError, RunHandle, Runs};

pub use serve::ProxySession;

/// How long a run started through the admin API may take to write its
/// reports once the proxy is asked to shut down.
const RUN_REPORTS_WAIT: Duration = Duration::from_secs(30);
/// How long in-flight requests may finish once an experiment's run is over.
const RUN_GRACE: Duration = Duration::from_secs(2);

/// Why an experiment could not run to its reports.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Start(#[from] StartError),
    #[error(transparent)]
    Run(#[from] RunError),
}

/// Every listener of a config, bound: the admin API's and the proxy's.
pub struct App {
    admin: TcpListener,
    admin_config: crate::config::Admin,
    proxy: Proxy,
    grace: Duration,
    live: Option<Arc<Live>>,
    runs: Arc<Runs>,
}

impl App {
    /// Binds the admin listener, then the observer and every target, before
    /// serving any: a port already in use stops the start with a message
    /// naming the listener and the address.
    pub fn bind(config: &Config) -> Result<App, StartError> {
        static RAISED: std::sync::Once = std::sync::Once::new();
        RAISED.call_once(|| match crate::proxy::raise_open_files_limit() {
            Some((before, after)) if after > before => {
                info!(before, after, "raised the open-files limit to the hard limit")
            }
            Some((limit, _)) => info!(limit, "open-files limit"),
            None => {}
        });
        let admin = crate::proxy::listen("admin", config.admin.listen)?;
        let ca = local_ca(config)?;
        let proxy = Proxy::bind(config, ca.as_ref())?;
        Ok(App {
            admin,
            admin_config: config.admin.clone(),
            proxy,
            grace: config.shutdown_grace,
            live: None,
            runs: Arc::default(),
        })
    }

    /// Serves the recorder's live aggregates at the admin API's `/metrics`.
    pub fn with_live(mut self, live: Arc<Live>) -> Self {
        self.live = Some(live);
        self
    }

    /// The runs the admin API shows and stops.
    pub fn with_runs(mut self, runs: Arc<Runs>) -> Self {
        self.runs = runs;
        self
    }

    /// Lets the admin API start runs on this proxy's own targets: each
    /// attaches a recorder of its own to `layer` and writes into
    /// `<dir>/run-<id>`; an experiment that declares no targets runs on
    /// `config`'s.
    pub fn with_launcher(self, layer: RecordLayer, dir: PathBuf, config: Config) -> Self {
        self.with_launcher_using(layer, dir, config, crate::standards::Lookup::default())
    }

    /// Like [`App::with_launcher`], the runs inheriting the standards `standards` finds.
    pub fn with_launcher_using(
        self,
        layer: RecordLayer,
        dir: PathBuf,
        config: Config,
        standards: crate::standards::Lookup,
    ) -> Self {
        let launcher = Launcher { controls: self.controls(), layer, dir, config, standards };
        self.with_runs(Runs::new(Some(launcher)))
    }

    /// What a run drives on this proxy.
    pub fn controls(&self) -> Controls {
        Controls {
            targets: self
                .proxy
                .targets()
                .iter()
                .map(|t| ControlledTarget { name: t.name.clone(), protocol: t.protocol, switch: t.switch.clone() })
                .collect(),
            addrs: self.proxy.addrs(),
            in_flight: self.proxy.in_flight(),
            rules: self.proxy.observer_rules(),
        }
    }

    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin.local_addr().ok()
    }

    /// The data path's listeners: their addresses and fault switches.
    pub fn proxy(&self) -> &Proxy {
        &self.proxy
    }

    /// Serves until `shutdown` completes; then ends a run started through
    /// the API (writing its reports), clears every fault, stops accepting
    /// and waits up to the grace period for what is in flight. Returns how
    /// many connection tasks were still running when the grace period ran out.
    pub async fn serve(self, shutdown: impl Future<Output = ()>) -> usize {
        let token = CancellationToken::new();
        let tracker = TaskTracker::new();
        let admin = AdminState::new(
            self.live.clone(),
            self.proxy.gauges(),
            self.runs.clone(),
            &self.admin_config,
            self.proxy.targets().to_vec(),
            self.proxy.seed(),
        );
        if let Ok(addr) = self.admin.local_addr() {
            info!(listener = "admin", %addr, "listening");
        }
        tracker.spawn(crate::admin::serve(self.admin, admin, token.clone(), tracker.clone()));
        let switches = self.proxy.serve(&token, &tracker);
        shutdown.await;
        // A run started through the API ends first, writing its reports.
        self.runs.stop_launched(RUN_REPORTS_WAIT).await;
        // Fail open: whatever drains from here on passes untouched.
        for switch in &switches {
            switch.clear();
        }
        token.cancel();
        crate::proxy::drain(&tracker, self.grace).await
    }
}

/// The local certificate authority, opened (made on first use) only when a
/// listener has `tls = "auto"`.
fn local_ca(config: &Config) -> Result<Option<crate::tls::ca::LocalCa>, StartError> {
    let auto = |tls: Option<&crate::config::ListenerTls>| matches!(tls, Some(crate::config::ListenerTls::Auto { .. }));
    let wanted = config.observer.as_ref().is_some_and(|o| auto(o.tls.as_ref()))
        || config.targets.iter().any(|t| auto(t.tls.as_ref()));
    if !wanted {
        return Ok(None);
    }
    let fail = |e: crate::tls::ca::CaError| StartError::Tls { who: "tls = \"auto\"".into(), message: e.to_string() };
    let home = crate::tls::ca::state_dir().map_err(fail)?;
    crate::tls::ca::LocalCa::open(&home).map(Some).map_err(fail)
}

/// Runs `exp` to its end on listeners of its own. `recorder` must already
/// be installed as a tracing layer (its journal gets everything);
/// `interrupt` stops the run early as interrupted. The reports go next to
/// the journal.
pub async fn run_experiment(
    exp: &Experiment,
    recorder: Recorder,
    interrupt: CancellationToken,
    show_progress: bool,
) -> Result<Finished, Error> {
    let mut config = exp.config.clone();
    config.graceful = exp.graceful.clone();
    config.seed = Some(exp.seed);
    let dir = recorder.journal().parent().map_or_else(|| PathBuf::from("."), PathBuf::from);
    let runs = Runs::new(None);
    let handle = runs
        .register(|id| RunHandle::new(id, exp, dir.clone(), recorder.live(), interrupt.clone()))
        .expect("a new registry has no run in progress");
    let exp = Arc::new(exp.clone());
    let app = App::bind(&config)?.with_live(recorder.live()).with_runs(runs);
    let controls = app.controls();
    let stop_app = CancellationToken::new();
    let app_task = {
        let stop = stop_app.clone();
        tokio::spawn(app.serve(async move { stop.cancelled().await }))
    };
    let ending = crate::run::supervise(exp, controls, handle.clone(), show_progress).await;
    stop_app.cancel();
    let _ = tokio::time::timeout(RUN_GRACE + Duration::from_secs(1), app_task).await;
    let finished = crate::run::finish(recorder, ending);
    handle.end(&finished);
    Ok(finished?)
}

/// `20261123-013600`: the current UTC time, for run directory names.
pub fn utc_stamp() -> String {
    jiff::Timestamp::now().strftime("%Y%m%d-%H%M%S").to_string()
}

/// `runs/<UTC time><suffix>`, where a run writes when not told where.
pub fn default_run_dir(suffix: &str) -> PathBuf {
    PathBuf::from("runs").join(format!("{}{suffix}", utc_stamp()))
}
