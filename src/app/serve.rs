//! `brownout proxy`: one config served until a signal, with a journal of
//! the whole process (unless told not to record), runs started through the
//! admin API recorded in journals of their own, and the reports written
//! when it stops.

use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::proxy::StartError;
use crate::record::journal::Outcome;
use crate::record::{RecordLayer, Recorder, RunInfo};
use crate::report::{RebuildError, Report, Written};

use super::App;

/// A proxy being served, and what records it.
pub struct ProxySession {
    config: Config,
    dir: PathBuf,
    recorder: Option<Recorder>,
    layer: RecordLayer,
    /// Where experiments started through the admin API find their standards.
    standards: crate::standards::Lookup,
}

impl ProxySession {
    /// Starts the process's recorder in `dir` (none when `record` is
    /// false). Install [`ProxySession::layer`] as a tracing layer before
    /// serving.
    pub fn start(config: Config, file: &Path, dir: PathBuf, record: bool) -> std::io::Result<ProxySession> {
        let recorder = if record {
            let mut listeners: Vec<String> = config.observer.iter().map(|o| o.name.clone()).collect();
            listeners.extend(config.targets.iter().map(|t| t.name.clone()));
            let info = RunInfo {
                title: format!("brownout proxy {}", file.display()),
                seed: config.seed,
                listeners,
                experiment: None,
            };
            Some(Recorder::start(&dir, info)?)
        } else {
            None
        };
        // One layer for the whole process: runs started through the admin
        // API attach their own recorders to it.
        let layer = RecordLayer::new();
        if let Some(r) = &recorder {
            layer.attach(r.sink());
        }
        // Besides the usual places, a standards.toml beside the config applies.
        let beside_config = file.parent().map(Path::to_path_buf).into_iter().collect();
        let standards = crate::standards::Lookup::Find(beside_config);
        Ok(ProxySession { config, dir, recorder, layer, standards })
    }

    /// Runs started through the admin API inherit these standards instead
    /// (`--standards FILE`).
    pub fn with_standards(mut self, lookup: crate::standards::Lookup) -> Self {
        if !matches!(lookup, crate::standards::Lookup::Find(_)) {
            self.standards = lookup;
        }
        self
    }

    /// The tracing layer every recorder of this process hangs off.
    pub fn layer(&self) -> RecordLayer {
        self.layer.clone()
    }

    /// Binds every listener, says what it serves on stderr, and serves until
    /// `shutdown` completes and the drain is over.
    pub async fn serve(&self, shutdown: impl std::future::Future<Output = ()>) -> Result<(), StartError> {
        let mut app = App::bind(&self.config)?;
        if let Some(r) = &self.recorder {
            app = app.with_live(r.live());
        }
        let app =
            app.with_launcher_using(self.layer.clone(), self.dir.clone(), self.config.clone(), self.standards.clone());
        for line in self.config.describe() {
            eprintln!("{line}");
        }
        if let Some(r) = &self.recorder {
            eprintln!("journal   {}", r.journal().display());
        }
        app.serve(shutdown).await;
        Ok(())
    }

    /// Ends the journal and writes its reports, if this session recorded.
    pub fn finish(self) -> Result<Option<(Report, Written)>, FinishError> {
        let Some(recorder) = self.recorder else { return Ok(None) };
        let journal = recorder.finish(Outcome::Stopped).map_err(FinishError::Journal)?;
        Ok(Some(crate::report::rebuild(&journal, None)?))
    }
}

/// Why a session's journal or reports could not be finished.
#[derive(Debug, thiserror::Error)]
pub enum FinishError {
    #[error("cannot finish the journal: {0}")]
    Journal(#[source] std::io::Error),
    #[error(transparent)]
    Reports(#[from] RebuildError),
}
