//! The command line: parse arguments, set up logging, call into the library.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};

use brownout::config::{self, Config, Protocol};
use brownout::record::{RecordLayer, Recorder, RunInfo};

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
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
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
    let recorder = if no_record {
        None
    } else {
        let dir = run_dir.unwrap_or_else(|| PathBuf::from("runs").join(utc_stamp()));
        let mut listeners: Vec<String> = config.observer.iter().map(|o| o.name.clone()).collect();
        listeners.extend(config.targets.iter().map(|t| t.name.clone()));
        let info = RunInfo { title: format!("brownout proxy {}", path.display()), seed: config.seed, listeners };
        let recorder =
            Recorder::start(&dir, info).with_context(|| format!("cannot write a journal in {}", dir.display()))?;
        Some(recorder)
    };
    init_tracing(format, recorder.as_ref().map(Recorder::layer));
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let mut proxy = brownout::proxy::Proxy::bind(&config).await?;
        if let Some(r) = &recorder {
            proxy = proxy.with_live(r.live());
        }
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
        let journal = recorder.finish("stopped").context("cannot finish the journal")?;
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
        match config::load(path) {
            Ok(config) => {
                println!("{}: ok", path.display());
                for line in describe(&config) {
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
