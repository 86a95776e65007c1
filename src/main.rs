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
    /// The standards file experiments inherit [default: $BROWNOUT_STANDARDS, else
    /// standards.toml beside the experiment or its config].
    #[arg(long, global = true, value_name = "FILE")]
    standards: Option<PathBuf>,
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
        /// Where each run's directory goes [default: the scoreboard's directory, else runs].
        #[arg(long)]
        runs: Option<PathBuf>,
        /// Write each run under this directory and rebuild its scoreboard after each run.
        #[arg(long, value_name = "DIR")]
        scoreboard: Option<PathBuf>,
    },
    /// Read every run under a directory and write scoreboard.html, scoreboard.md and
    /// scoreboard.json there: verdicts over time, staleness, each dependency's
    /// criticality, compliance with the standards, a score per service.
    Scoreboard {
        /// A directory of runs (such as the runs/ of brownout schedule).
        dir: PathBuf,
        /// Open the HTML scoreboard in a browser afterwards.
        #[arg(long)]
        open: bool,
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
    /// Print the JSON Schema (draft 2020-12) of config, experiment or standards files,
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
    Standards,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let standards = brownout::standards::Lookup::from_flag(cli.standards);
    let result = match cli.command {
        Command::Proxy { config, run_dir, no_record } => proxy(cli.log_format, config, run_dir, no_record, standards),
        Command::Check { files } => {
            init_tracing(cli.log_format, None);
            check(&files, &standards)
        }
        Command::Ca { path } => ca(path),
        Command::Report { journal, out } => {
            init_tracing(cli.log_format, None);
            report(&journal, out)
        }
        Command::Demo { quick, open, run_dir } => demo(cli.log_format, quick, open, run_dir),
        Command::Run { file, run_dir, quiet } => run_file(cli.log_format, &file, run_dir, quiet, None, &standards),
        Command::Load { file, duration, run_dir } => {
            run_file(cli.log_format, &file, run_dir, false, Some(duration), &standards)
        }
        Command::Schedule { dir, list, runs, scoreboard } => {
            schedule(cli.log_format, &dir, list, runs, scoreboard, &standards)
        }
        Command::Scoreboard { dir, open } => scoreboard(&dir, open),
        Command::Schema { which } => {
            let text = match which {
                SchemaOf::Config => brownout::schema::render(brownout::schema::Of::Config),
                SchemaOf::Experiment => brownout::schema::render(brownout::schema::Of::Experiment),
                SchemaOf::Standards => brownout::schema::render(brownout::schema::Of::Standards),
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

fn proxy(
    format: LogFormat,
    path: PathBuf,
    run_dir: Option<PathBuf>,
    no_record: bool,
    standards: brownout::standards::Lookup,
) -> anyhow::Result<ExitCode> {
    let config = config::load(&path)?;
    let dir = run_dir.unwrap_or_else(|| app::default_run_dir(""));
    let session = ProxySession::start(config, &path, dir.clone(), !no_record)
        .with_context(|| format!("cannot write a journal in {}", dir.display()))?
        .with_standards(standards);
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

fn check(files: &[PathBuf], standards: &brownout::standards::Lookup) -> anyhow::Result<ExitCode> {
    let mut failed = 0;
    for path in files {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        // Experiments, standards and configs are told apart by their content.
        let understood = if experiment::looks_like_experiment(&text) {
            experiment::load_with(path, standards).map(|exp| exp.describe())
        } else if brownout::standards::looks_like_standards(&text)
            || path.file_name().is_some_and(|n| n == brownout::standards::FILE_NAME)
        {
            brownout::standards::load(path).map(|s| s.describe())
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
    standards: &brownout::standards::Lookup,
) -> anyhow::Result<ExitCode> {
    let mut exp = experiment::load_with(path, standards)?;
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
    // Without --run-dir the run goes under runs/, and the scoreboard of runs/
    // counts it with every run before it; with one, the scoreboard is of that run.
    let board_dir = if run_dir.is_some() { None } else { Some(PathBuf::from("runs")) };
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
    // What many runs say together, from this one: run it again, or point
    // `brownout scoreboard` at a directory of runs, to see history build up.
    match brownout::scoreboard::rebuild(board_dir.as_deref().unwrap_or(&dir)) {
        Ok((_, written)) => eprintln!("scoreboard {}", written.html.display()),
        Err(e) => eprintln!("no scoreboard: {e}"),
    }
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
fn schedule(
    format: LogFormat,
    dir: &std::path::Path,
    list: bool,
    runs: Option<PathBuf>,
    scoreboard: Option<PathBuf>,
    standards: &brownout::standards::Lookup,
) -> anyhow::Result<ExitCode> {
    let runs = match (runs, &scoreboard) {
        (Some(r), Some(s)) if r != *s => anyhow::bail!(
            "--runs {} and --scoreboard {} name different directories: the scoreboard reads the runs under its own",
            r.display(),
            s.display()
        ),
        (r, s) => r.or_else(|| s.clone()).unwrap_or_else(|| PathBuf::from("runs")),
    };
    let entries = app::schedule::schedule(dir, standards)?;
    if list {
        let now = std::time::SystemTime::now();
        for e in &entries {
            println!("{}  next {}", e.path.display(), e.next_shown(now));
        }
        return Ok(ExitCode::SUCCESS);
    }
    init_tracing(format, None);
    let plan = app::schedule::Plan {
        exe: std::env::current_exe().context("cannot find the brownout binary to run experiments with")?,
        runs,
        scoreboard: scoreboard.is_some(),
        standards: match standards {
            brownout::standards::Lookup::File(f) => Some(f.clone()),
            _ => None,
        },
    };
    app::schedule::run_forever(&entries, &plan)?;
    Ok(ExitCode::SUCCESS)
}

/// Builds the scoreboard of a directory of runs and says where it is.
fn scoreboard(dir: &std::path::Path, open: bool) -> anyhow::Result<ExitCode> {
    let (board, written) = brownout::scoreboard::rebuild(dir)?;
    eprint!("{}", brownout::scoreboard::summary(&board, &written));
    if open {
        open_in_browser(&written.html);
    }
    Ok(ExitCode::SUCCESS)
}
