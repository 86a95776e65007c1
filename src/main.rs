//! The command line: parse arguments, set up logging, call into the library.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};

use brownout::config::{self, Config, Protocol};
use brownout::experiment;
use brownout::record::{RecordLayer, Recorder, RunInfo};
use brownout::report::markdown::{ms, pct};

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
    /// Validate files and print what they say; exits non-zero if any is invalid.
    Check {
        /// Config files to validate.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Proxy { config, run_dir, no_record } => proxy(cli.log_format, config, run_dir, no_record),
        Command::Check { files } => {
            init_tracing(cli.log_format, None);
            check(&files)
        }
        Command::Report { journal, out } => {
            init_tracing(cli.log_format, None);
            report(&journal, out)
        }
        Command::Demo { quick, open, run_dir } => demo(cli.log_format, quick, open, run_dir),
        Command::Run { file, run_dir, quiet } => run_file(cli.log_format, &file, run_dir, quiet, None),
        Command::Load { file, duration, run_dir } => run_file(cli.log_format, &file, run_dir, false, Some(duration)),
        Command::Schedule { dir, list, runs } => schedule(cli.log_format, &dir, list, &runs),
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
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let fmt = match format {
        LogFormat::Pretty => fmt.boxed(),
        LogFormat::Json => fmt.json().boxed(),
    };
    let record = recorder.map(|r| r.with_filter(filter_fn(|meta| meta.target() == brownout::record::fields::RECORD)));
    tracing_subscriber::registry().with(fmt.with_filter(filter)).with(record).init();
}

fn proxy(format: LogFormat, path: PathBuf, run_dir: Option<PathBuf>, no_record: bool) -> anyhow::Result<ExitCode> {
    let config = config::load(&path)?;
    let dir = run_dir.unwrap_or_else(|| PathBuf::from("runs").join(utc_stamp()));
    let recorder = if no_record {
        None
    } else {
        let mut listeners: Vec<String> = config.observer.iter().map(|o| o.name.clone()).collect();
        listeners.extend(config.targets.iter().map(|t| t.name.clone()));
        let info = RunInfo {
            title: format!("brownout proxy {}", path.display()),
            seed: config.seed,
            listeners,
            experiment: None,
        };
        let recorder =
            Recorder::start(&dir, info).with_context(|| format!("cannot write a journal in {}", dir.display()))?;
        Some(recorder)
    };
    // One layer for the whole process: runs started through the admin API
    // attach their own recorders to it.
    let layer = RecordLayer::new();
    if let Some(r) = &recorder {
        layer.attach(r.sink());
    }
    init_tracing(format, Some(layer.clone()));
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let mut proxy = brownout::proxy::Proxy::bind(&config).await?;
        if let Some(r) = &recorder {
            proxy = proxy.with_live(r.live());
        }
        let launcher =
            brownout::run::Launcher { stage: proxy.stage(), layer, dir: dir.clone(), config: config.clone() };
        let proxy = proxy.with_runs(brownout::run::Runs::new(Some(launcher)));
        for line in describe(&config) {
            eprintln!("{line}");
        }
        if let Some(r) = &recorder {
            eprintln!("journal   {}", r.journal().display());
        }
        proxy.run(brownout::proxy::shutdown_signal()).await;
        anyhow::Ok(())
    })?;
    // Connections cut at the end of the grace period are not an error: the
    // shutdown was asked for and has happened.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    if let Some(recorder) = recorder {
        let journal =
            recorder.finish(brownout::record::journal::Outcome::Stopped).context("cannot finish the journal")?;
        write_reports(&journal, None)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn report(journal: &std::path::Path, out: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    write_reports(journal, out)?;
    Ok(ExitCode::SUCCESS)
}

/// Computes the reports of a journal and writes them next to it (or to `out`).
fn write_reports(journal: &std::path::Path, out: Option<PathBuf>) -> anyhow::Result<()> {
    let report = brownout::report::from_file(journal)?;
    let dir = out.unwrap_or_else(|| journal.parent().map_or_else(|| PathBuf::from("."), PathBuf::from));
    let written =
        brownout::report::write(&report, &dir).with_context(|| format!("cannot write reports in {}", dir.display()))?;
    eprintln!("{}", brownout::report::markdown::headline(&report));
    eprintln!("report    {}", written.html.display());
    eprintln!("          {}", written.markdown.display());
    eprintln!("          {}", written.json.display());
    Ok(())
}

/// `20261123-013600`: the current UTC time, for run directory names.
fn utc_stamp() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}{month:02}{day:02}-{:02}{:02}{:02}", rem / 3600, rem / 60 % 60, rem % 60)
}

fn check(files: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let mut failed = 0;
    for path in files {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        // Experiments and configs are told apart by their content.
        let understood = if experiment::looks_like_experiment(&text) {
            experiment::load(path).map(|exp| describe_experiment(&exp))
        } else {
            config::load(path).map(|config| describe(&config))
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

/// What brownout understood of an experiment, timeline first.
fn describe_experiment(exp: &experiment::Experiment) -> Vec<String> {
    let mut lines = vec![format!("title     {}", exp.title), format!("seed      {}", exp.seed)];
    let timeline = experiment::Timeline::new(exp);
    lines.extend(timeline.describe(exp));
    for slo in &exp.hypothesis.slos {
        let phase = slo.phase.as_deref().unwrap_or("every phase");
        let mut parts = Vec::new();
        if let Some(a) = slo.availability {
            parts.push(format!("availability >= {}%", a * 100.0));
        }
        if let Some(e) = slo.error_rate {
            parts.push(format!("error rate <= {}%", e * 100.0));
        }
        for (n, v) in [("p50", slo.p50_ms), ("p95", slo.p95_ms), ("p99", slo.p99_ms)] {
            if let Some(v) = v {
                parts.push(format!("{n} <= {v}ms"));
            }
        }
        lines.push(format!("slo       {} in {phase}: {}", slo.route, parts.join(", ")));
    }
    for g in &exp.hypothesis.graceful {
        lines.push(format!("graceful  {}: at least {}% of failures graceful", g.route, g.at_least * 100.0));
    }
    for g in &exp.guardrails {
        lines.push(format!("guardrail abort if {}", g.describe()));
    }
    if let Some(load) = &exp.load {
        lines.push(format!(
            "load      {} req/s{} to {}, {} request kinds, at most {} in flight",
            load.rate,
            load.ramp_to.map_or(String::new(), |r| format!(" ramped to {r}")),
            load.target,
            load.requests.len(),
            load.concurrency
        ));
    }
    if let Some(s) = &exp.schedule {
        lines.push(format!("schedule  {} ({})", s.cron, s.timezone));
    }
    lines.push(format!("stops after at most {:?}", exp.max_duration));
    lines.extend(describe(&exp.config));
    lines
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
        exp.phases = vec![experiment::Phase { name: "load".into(), duration, faults: Vec::new() }];
        exp.max_duration = duration + std::time::Duration::from_secs(60);
        exp.guardrails.clear();
    }
    let dir = run_dir.unwrap_or_else(|| PathBuf::from("runs").join(utc_stamp()));
    let recorder = Recorder::start(&dir, brownout::run::run_info(&exp))
        .with_context(|| format!("cannot write a journal in {}", dir.display()))?;
    init_tracing(format, Some(recorder.layer()));
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    eprintln!("running   {} ({})", exp.title, exp.file);
    let finished =
        runtime.block_on(async { brownout::run::run(&exp, recorder, interrupt_on_signal(), !quiet).await })?;
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    print_verdict(&finished);
    Ok(ExitCode::from(finished.exit_code()))
}

fn demo(format: LogFormat, quick: bool, open: bool, run_dir: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let prepared = runtime.block_on(brownout::demo::prepare(quick))?;
    let dir = run_dir.unwrap_or_else(|| PathBuf::from("runs").join(format!("{}-demo", utc_stamp())));
    let recorder = Recorder::start(&dir, brownout::run::run_info(&prepared.experiment))
        .with_context(|| format!("cannot write a journal in {}", dir.display()))?;
    init_tracing(format, Some(recorder.layer()));
    eprintln!("brownout demo: a shop, six dependencies, six incidents, all on 127.0.0.1");
    for line in experiment::Timeline::new(&prepared.experiment).describe(&prepared.experiment) {
        eprintln!("  {line}");
    }
    let finished =
        runtime.block_on(async { brownout::demo::run(&prepared, recorder, interrupt_on_signal(), true).await })?;
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    print_routes(&finished.report);
    print_verdict(&finished);
    if open {
        open_in_browser(&finished.written.html);
    }
    Ok(ExitCode::from(finished.exit_code()))
}

/// The observer's routes: what each user journey went through.
fn print_routes(report: &brownout::report::Report) {
    eprintln!(
        "\n  {:<18} {:>8} {:>10} {:>10} {:>9} {:>11}",
        "journey", "requests", "available", "p99", "graceful", "ungraceful"
    );
    for r in report.routes.iter().filter(|r| r.listener == "observer") {
        let s = &r.stats;
        eprintln!(
            "  {:<18} {:>8} {:>10} {:>10} {:>9} {:>11}",
            r.route,
            s.requests,
            pct(s.availability),
            ms(s.p99_ms),
            s.graceful,
            s.ungraceful
        );
    }
    let mut worst: Vec<&brownout::report::model::Impact> =
        report.impact.iter().filter(|i| i.availability_delta.is_some_and(|d| d < -0.01)).collect();
    worst.truncate(5);
    if !worst.is_empty() {
        eprintln!("\n  which dependency failure hurt which journey most:");
        for i in worst {
            eprintln!(
                "  {:<30} {:<18} {} -> {} available",
                format!("{}/{}", i.target, i.fault),
                i.route,
                pct(i.baseline.availability),
                pct(i.during.availability)
            );
        }
    }
    eprintln!();
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

/// A token cancelled by SIGINT or SIGTERM (call inside the runtime).
fn interrupt_on_signal() -> tokio_util::sync::CancellationToken {
    let interrupt = tokio_util::sync::CancellationToken::new();
    let on_signal = interrupt.clone();
    tokio::spawn(async move {
        brownout::proxy::shutdown_signal().await;
        on_signal.cancel();
    });
    interrupt
}

fn print_verdict(finished: &brownout::run::Finished) {
    let report = &finished.report;
    eprintln!("{}", brownout::report::markdown::headline(report));
    for p in &report.phases {
        let s = &p.stats;
        eprintln!(
            "  {:<30} {:>6} requests  {:>7} available  p99 {:>9}  {} ungraceful",
            p.name,
            s.requests,
            pct(s.availability),
            ms(s.p99_ms),
            s.ungraceful
        );
    }
    if let Some(v) = &report.verdict {
        if let Some(a) = &v.abort {
            eprintln!("aborted at {:.1}s by guardrail {}: {}", a.at_s, a.guardrail, a.value);
        }
        for c in v.checks.iter().filter(|c| !c.passed) {
            eprintln!("failed    {} in {}: expected {}, got {}", c.check, c.phase, c.expected, c.actual);
        }
        eprintln!(
            "verdict   {} ({} checks, {} failed)",
            v.status,
            v.checks.len(),
            v.checks.iter().filter(|c| !c.passed).count()
        );
    }
    eprintln!("report    {}", finished.written.html.display());
    eprintln!("          {}", finished.written.markdown.display());
    eprintln!("          {}", finished.written.json.display());
}

/// Runs due experiments one at a time, for ever; `--list` prints the next
/// run of each and returns.
fn schedule(format: LogFormat, dir: &std::path::Path, list: bool, runs: &std::path::Path) -> anyhow::Result<ExitCode> {
    use brownout::experiment::schedule::{Cron, Zone};
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let path = entry?.path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let exp = experiment::load(&path)?;
        if let Some(s) = &exp.schedule {
            let cron = Cron::parse(&s.cron).map_err(anyhow::Error::msg)?;
            let zone = Zone::parse(&s.timezone).map_err(anyhow::Error::msg)?;
            entries.push((path, cron, zone));
        }
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    anyhow::ensure!(!entries.is_empty(), "{}: no experiment has a [schedule]", dir.display());
    let now = std::time::SystemTime::now();
    if list {
        for (path, cron, zone) in &entries {
            let next = cron.next_after(now, zone).map_or("never".into(), |t| {
                jiff::Timestamp::try_from(t).map_or("?".into(), |t| t.to_zoned(zone.0.clone()).to_string())
            });
            println!("{}  next {next}", path.display());
        }
        return Ok(ExitCode::SUCCESS);
    }
    init_tracing(format, None);
    loop {
        let now = std::time::SystemTime::now();
        let Some((when, path)) =
            entries.iter().filter_map(|(p, c, z)| c.next_after(now, z).map(|t| (t, p.clone()))).min_by_key(|(t, _)| *t)
        else {
            return Ok(ExitCode::SUCCESS);
        };
        tracing::info!(experiment = %path.display(), "next run at {:?}", jiff::Timestamp::try_from(when).ok());
        std::thread::sleep(when.duration_since(std::time::SystemTime::now()).unwrap_or_default());
        // Each run is a child process: one at a time, and a failing run never stops the schedule.
        let dir = runs.join(utc_stamp());
        let status = std::process::Command::new(std::env::current_exe()?)
            .arg("run")
            .arg(&path)
            .arg("--run-dir")
            .arg(&dir)
            .arg("--quiet")
            .status();
        match status {
            Ok(s) => {
                tracing::info!(experiment = %path.display(), status = ?s.code(), dir = %dir.display(), "run finished")
            }
            Err(e) => tracing::warn!(experiment = %path.display(), error = %e, "run could not start"),
        }
    }
}

/// One line per listener: what brownout understood of a config.
fn describe(config: &Config) -> Vec<String> {
    let mut lines = vec![format!("admin     {}", config.admin.listen)];
    if let Some(o) = &config.observer {
        lines.push(format!("observer  {} -> {} (http)", o.listen, o.upstream.display()));
    }
    for t in &config.targets {
        let upstream = match &t.protocol {
            Protocol::Http(up) => up.display(),
            Protocol::Tcp(up) => up.address.clone(),
        };
        lines.push(format!("target    {} {} -> {} ({})", t.name, t.listen, upstream, t.protocol_name()));
        for f in &t.faults {
            lines.push(format!("  fault   {}", f.describe()));
        }
    }
    lines.push(format!("shutdown grace {:?}", config.shutdown_grace));
    if let Some(seed) = config.seed {
        lines.push(format!("seed {seed}"));
    }
    lines
}
