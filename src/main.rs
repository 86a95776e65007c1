//! The command line: parse arguments, set up logging, call into the library.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};

use brownout::app::{self, ProxySession};
use brownout::record::{RecordLayer, Recorder};
use brownout::report::terminal;
use brownout::{config, experiment};

#[derive(Parser)]
#[command(name = "brownout", version, about = "A chaos-engineering fault-injection proxy")]
struct Cli {
    /// How log lines look (filter them with RUST_LOG, e.g. RUST_LOG=brownout=debug).
    #[arg(long, value_enum, default_value_t = LogFormat::Pretty, global = true)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Pretty,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Serve every target, the observer and the admin API of a config file,
    /// recording a journal and writing reports when stopped.
    Proxy {
        /// The config file (see config/example.toml).
        #[arg(long, short)]
        config: PathBuf,
        /// Where the journal and reports go [default: runs/<UTC time>].
        #[arg(long)]
        run_dir: Option<PathBuf>,
        /// Record nothing: no journal, no reports, no /metrics figures.
        #[arg(long)]
        no_record: bool,
    },
    /// A whole game day on a demo shop, in one process, with nothing to set up.
    Demo {
        /// About 12 seconds instead of about a minute.
        #[arg(long)]
        quick: bool,
        /// Open the HTML report in a browser afterwards.
        #[arg(long)]
        open: bool,
        /// Where the journal and reports go [default: runs/<UTC time>-demo].
        #[arg(long)]
        run_dir: Option<PathBuf>,
    },
    /// Run an experiment: phases, faults, load, guardrails, then the verdict.
    Run {
        /// The experiment file (see experiments/).
        file: PathBuf,
        /// Where the journal and reports go [default: runs/<UTC time>].
        #[arg(long)]
        run_dir: Option<PathBuf>,
        /// No live progress display.
        #[arg(long)]
        quiet: bool,
    },
    /// Drive an experiment's [load] for a while with no faults.
    Load {
        /// The experiment file with a [load] section.
        file: PathBuf,
        /// How long to drive it.
        #[arg(long, default_value = "30s", value_parser = parse_duration_arg)]
        duration: std::time::Duration,
        #[arg(long)]
        run_dir: Option<PathBuf>,
    },
    /// Run the experiments of a directory on their [schedule]s, one at a time.
    Schedule {
        /// A directory of experiment files.
        dir: PathBuf,
        /// List the next run of each scheduled experiment and exit.
        #[arg(long)]
        list: bool,
        /// Where each run's directory goes.
        #[arg(long, default_value = "runs")]
        runs: PathBuf,
    },
    /// Rebuild report.json, report.md and report.html from a journal.
    Report {
        /// A journal.jsonl written by a run.
        journal: PathBuf,
        /// Where the reports go [default: the journal's directory].
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Print the certificate of brownout's local certificate authority (PEM),
    /// which issues the certificates of `tls = "auto"` listeners; made on
    /// first use under $BROWNOUT_HOME (else the platform's data directory).
    Ca {
        /// Print where the certificate file is instead.
        #[arg(long)]
        path: bool,
    },
    /// Validate files and print what they say; exits non-zero if any is invalid.
    Check {
        /// Config files to validate.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Print the JSON Schema (draft 2020-12) of config or experiment files,
    /// for editors (taplo, Even Better TOML) to complete and check keys.
    Schema {
        /// Which files the schema is for.
        which: SchemaOf,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum SchemaOf {
    Config,
    Experiment,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Proxy { config, run_dir, no_record } => proxy(cli.log_format, config, run_dir, no_record),
        Command::Check { files } => {
            init_tracing(cli.log_format, None);
            check(&files)
        }
        Command::Ca { path } => ca(path),
        Command::Report { journal, out } => {
            init_tracing(cli.log_format, None);
            report(&journal, out)
        }
        Command::Demo { quick, open, run_dir } => demo(cli.log_format, quick, open, run_dir),
        Command::Run { file, run_dir, quiet } => run_file(cli.log_format, &file, run_dir, quiet, None),
        Command::Load { file, duration, run_dir } => run_file(cli.log_format, &file, run_dir, false, Some(duration)),
        Command::Schedule { dir, list, runs } => schedule(cli.log_format, &dir, list, &runs),
        Command::Schema { which } => {
            let text = match which {
                SchemaOf::Config => brownout::schema::render(brownout::schema::Of::Config),
                SchemaOf::Experiment => brownout::schema::render(brownout::schema::Of::Experiment),
            };
            text.map(|t| {
                print!("{t}");
                ExitCode::SUCCESS
            })
            .map_err(|e| anyhow::anyhow!("the schema could not be generated: {e}"))
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Logs go to stderr through `RUST_LOG`'s filter; the recorder, if any,
/// gets the recorded events whatever that filter says.
fn init_tracing(format: LogFormat, recorder: Option<RecordLayer>) {
    use tracing_subscriber::filter::filter_fn;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::{EnvFilter, Layer};
    // Recorded events (faults on and off, phases) go to the journal; the
    // log shows them only when asked for with RUST_LOG.
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,brownout::record=warn"));
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_ansi(colour());
    let fmt = match format {
        LogFormat::Pretty => fmt.boxed(),
        LogFormat::Json => fmt.json().boxed(),
    };
    let record = recorder.map(|r| r.with_filter(filter_fn(|meta| meta.target() == brownout::record::fields::RECORD)));
    tracing_subscriber::registry().with(fmt.with_filter(filter)).with(record).init();
}

/// Colour only on a terminal, and never when `NO_COLOR` is set to anything
/// (no-color.org): a log redirected to a file stays plain text.
fn colour() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Runtime::new().context("cannot start the async runtime")
}

/// Ends the runtime without waiting for connections cut at the end of the
/// grace period: the shutdown was asked for and has happened.
fn stop(runtime: tokio::runtime::Runtime) {
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
}

fn proxy(format: LogFormat, path: PathBuf, run_dir: Option<PathBuf>, no_record: bool) -> anyhow::Result<ExitCode> {
    let config = config::load(&path)?;
    let dir = run_dir.unwrap_or_else(|| app::default_run_dir(""));
    let session = ProxySession::start(config, &path, dir.clone(), !no_record)
        .with_context(|| format!("cannot write a journal in {}", dir.display()))?;
    init_tracing(format, Some(session.layer()));
    let runtime = runtime()?;
    runtime.block_on(session.serve(app::signals::shutdown()))?;
    stop(runtime);
    if let Some((report, written)) = session.finish()? {
        eprint!("{}", terminal::written(&report, &written));
    }
    Ok(ExitCode::SUCCESS)
}

fn ca(path: bool) -> anyhow::Result<ExitCode> {
    use brownout::tls::ca::{state_dir, LocalCa};
    let ca = LocalCa::open(&state_dir()?)?;
    if path {
        println!("{}", ca.cert_path().display());
    } else {
        print!("{}", ca.cert_pem());
    }
    Ok(ExitCode::SUCCESS)
}

fn report(journal: &std::path::Path, out: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let (report, written) = brownout::report::rebuild(journal, out.as_deref())?;
    eprint!("{}", terminal::written(&report, &written));
    Ok(ExitCode::SUCCESS)
}

fn check(files: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let mut failed = 0;
    for path in files {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        // Experiments and configs are told apart by their content.
        let understood = if experiment::looks_like_experiment(&text) {
            experiment::load(path).map(|exp| exp.describe())
        } else {
            config::load(path).map(|config| config.describe())
        };
        match understood {
            Ok(lines) => {
                println!("{}: ok", path.display());
                for line in lines {
                    println!("  {line}");
                }
            }
            Err(e) => {
                failed += 1;
                eprintln!("{e}");
            }
        }
    }
    if failed > 0 {
        eprintln!("{failed} of {} files invalid", files.len());
        return Ok(ExitCode::from(2));
    }
    Ok(ExitCode::SUCCESS)
}

fn parse_duration_arg(s: &str) -> Result<std::time::Duration, String> {
    config::parse_duration(s).map_err(|why| format!("{s:?} {why}; write it like 30s or 2m"))
}

/// Runs an experiment file (or only its load, for `duration`), printing the
/// verdict; the exit status is the verdict's.
fn run_file(
    format: LogFormat,
    path: &std::path::Path,
    run_dir: Option<PathBuf>,
    quiet: bool,
    load_only: Option<std::time::Duration>,
) -> anyhow::Result<ExitCode> {
    let mut exp = experiment::load(path)?;
    if let Some(duration) = load_only {
        anyhow::ensure!(exp.load.is_some(), "{}: has no [load] section to drive", path.display());
        exp = exp.load_only(duration);
    }
    let dir = run_dir.unwrap_or_else(|| app::default_run_dir(""));
    let recorder = Recorder::start(&dir, brownout::run::run_info(&exp))
        .with_context(|| format!("cannot write a journal in {}", dir.display()))?;
    init_tracing(format, Some(recorder.layer()));
    let runtime = runtime()?;
    eprintln!("running   {} ({})", exp.title, exp.file);
    let finished =
        runtime.block_on(async { app::run_experiment(&exp, recorder, app::signals::interrupt(), !quiet).await })?;
    stop(runtime);
    eprint!("{}", terminal::verdict(&finished.report, &finished.written));
    Ok(ExitCode::from(finished.exit_code()))
}

fn demo(format: LogFormat, quick: bool, open: bool, run_dir: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let runtime = runtime()?;
    let prepared = runtime.block_on(brownout::demo::prepare(quick))?;
    let dir = run_dir.unwrap_or_else(|| app::default_run_dir("-demo"));
    let recorder = Recorder::start(&dir, brownout::run::run_info(&prepared.experiment))
        .with_context(|| format!("cannot write a journal in {}", dir.display()))?;
    init_tracing(format, Some(recorder.layer()));
    eprintln!("brownout demo: a shop, six dependencies, six incidents, all on 127.0.0.1");
    for line in experiment::Timeline::new(&prepared.experiment).describe(&prepared.experiment) {
        eprintln!("  {line}");
    }
    let finished = runtime.block_on(async {
        app::run_experiment(&prepared.experiment, recorder, app::signals::interrupt(), true).await
    })?;
    stop(runtime);
    eprintln!("{}", terminal::routes(&finished.report));
    eprint!("{}", terminal::verdict(&finished.report, &finished.written));
    if open {
        open_in_browser(&finished.written.html);
    }
    Ok(ExitCode::from(finished.exit_code()))
}

/// Opens a file with the desktop's opener, where there is one.
fn open_in_browser(path: &std::path::Path) {
    let openers: Vec<String> = std::env::var("BROWSER").into_iter().chain(["xdg-open".into(), "open".into()]).collect();
    for opener in openers {
        if std::process::Command::new(&opener)
            .arg(path)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .is_ok()
        {
            eprintln!("opened    {} with {opener}", path.display());
            return;
        }
    }
    eprintln!("no browser found to open {}; open it by hand", path.display());
}

/// Runs due experiments one at a time, for ever; `--list` prints the next
/// run of each and returns.
fn schedule(format: LogFormat, dir: &std::path::Path, list: bool, runs: &std::path::Path) -> anyhow::Result<ExitCode> {
    let entries = app::schedule::schedule(dir)?;
    if list {
        let now = std::time::SystemTime::now();
        for e in &entries {
            println!("{}  next {}", e.path.display(), e.next_shown(now));
        }
        return Ok(ExitCode::SUCCESS);
    }
    init_tracing(format, None);
    app::schedule::run_forever(&entries, runs)?;
    Ok(ExitCode::SUCCESS)
}
