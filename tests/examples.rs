//! The examples of `experiments/` run for real against the demo's shop,
//! started on the addresses `config/shop.toml` names (the shop on 3000, its
//! dependencies on 9101-9106). They take about nine minutes in all, so the
//! test is ignored by default: `cargo test -- --ignored examples` runs it.

use std::path::Path;
use std::time::Duration;

use brownout::record::journal::Outcome;
use brownout::record::Recorder;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::layer::SubscriberExt;

/// Every example against the shop of config/shop.toml: each must run to
/// its end; its verdict (and what it was before unchecked degradations and
/// inconclusive runs existed: held exactly when no check failed) is printed.
// One thread: the recorder is this thread's tracing subscriber, and the proxy, the
// shop and the load all run on it.
#[tokio::test]
#[ignore = "runs every example experiment for real: about nine minutes"]
async fn every_shop_example_runs_to_its_end() {
    // The dependencies serve until the test ends; the shop calls them through brownout's targets.
    brownout::demo::shop::dependencies_on([9101, 9102, 9103, 9104, 9105, 9106]).await.expect("deps");
    let proxied = |port: u16| std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let through = brownout::demo::shop::Dependencies {
        payments: proxied(9001),
        auth: proxied(9002),
        search: proxied(9003),
        export: proxied(9004),
        crm: proxied(9005),
        inventory: proxied(9006),
    };
    brownout::demo::shop::shop_on(3000, through).await.expect("the shop on 3000");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("experiments/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .filter(|p| std::fs::read_to_string(p).is_ok_and(|t| t.contains("config/shop.toml")))
        .collect();
    files.sort();
    assert!(files.len() >= 6, "{files:?}");
    for file in files {
        let exp = brownout::experiment::load(&file).unwrap_or_else(|e| panic!("{e}"));
        let out =
            std::env::temp_dir().join(format!("brownout-example-{}", file.file_stem().unwrap().to_string_lossy()));
        let _ = std::fs::remove_dir_all(&out);
        let recorder = Recorder::start(&out, brownout::run::run_info(&exp)).expect("recorder");
        let guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(recorder.layer()));
        let finished = tokio::time::timeout(
            exp.max_duration + Duration::from_secs(30),
            brownout::app::run_experiment(&exp, recorder, CancellationToken::new(), false),
        )
        .await
        .expect("ended in time")
        .expect("ran");
        drop(guard);
        let v = finished.report.verdict.clone().expect("a verdict");
        let before = if v.checks.iter().any(|c| !c.passed) { "deviated" } else { "held" };
        println!("{}: {} (before: {before}), exit {}", file.display(), v.status, finished.exit_code());
        println!("  {}", brownout::report::words::verdict_summary(&v));
        for c in v.failed() {
            println!("  failed    {} in {}: expected {}, got {}", c.check, c.phase, c.expected, c.actual);
        }
        for u in &v.unchecked {
            println!("  unchecked {} in {}: {}", u.route, u.phase, u.why.join("; "));
        }
        for i in &v.inconclusive {
            println!("  no proof  {}", i.reason);
        }
        println!("  reports   {}", finished.written.markdown.display());
        assert_eq!(finished.outcome, Outcome::Completed, "{}", file.display());
    }
}
