//! The command line: parse arguments, set up logging, call into the library.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};

use brownout::config::{self, Config, Protocol};

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
    /// Serve every target, the observer and the admin API of a config file.
    Proxy {
        /// The config file (see config/example.toml).
        #[arg(long, short)]
        config: PathBuf,
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
    init_tracing(cli.log_format);
    let result = match cli.command {
        Command::Proxy { config } => proxy(config),
        Command::Check { files } => check(&files),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn init_tracing(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Pretty => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn proxy(path: PathBuf) -> anyhow::Result<ExitCode> {
    let config = config::load(&path)?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let proxy = brownout::proxy::Proxy::bind(&config).await?;
        for line in describe(&config) {
            eprintln!("{line}");
        }
        proxy.run(brownout::proxy::shutdown_signal()).await;
        anyhow::Ok(())
    })?;
    // Connections cut at the end of the grace period are not an error: the
    // shutdown was asked for and has happened.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    Ok(ExitCode::SUCCESS)
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
