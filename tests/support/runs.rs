//! Runs an experiment in this process with a recorder of its own, as
//! `brownout run` does, writing its journal and reports into a directory.

use std::path::Path;
use std::time::Duration;

use brownout::experiment::Experiment;
use brownout::record::Recorder;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::layer::SubscriberExt;

static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Runs `exp` to its end (at most a minute) and returns how it finished.
/// The test's runtime must be current-thread: the recorder is this
/// thread's subscriber.
pub async fn run(exp: &Experiment, dir: &Path) -> brownout::run::Finished {
    // One run at a time in this process: runs judge latencies, and two
    // tests' runs at once on a small machine would slow each other.
    let _one = ONE_AT_A_TIME.lock().await;
    super::quiet_global_subscriber();
    let recorder = Recorder::start(dir, brownout::run::run_info(exp)).expect("recorder");
    let _guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(recorder.layer()));
    tokio::time::timeout(
        Duration::from_secs(60),
        brownout::app::run_experiment(exp, recorder, CancellationToken::new(), false),
    )
    .await
    .expect("the run ended in time")
    .expect("the run")
}
