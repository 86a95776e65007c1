//! Standards every experiment inherits: a looser rule is refused with a
//! message naming the standard and where it is written, a stricter one is
//! kept beside it, a route without a rule of its own inherits the
//! standards' checks, a route with traffic but no tier is listed as
//! unclassified, and every report names each check's source.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use brownout::report::verdict::Status;
use brownout::standards::{self, Lookup, Standards};

use crate::support::little_shop;
use crate::support::runs::run;
use crate::support::webdriver::tempdir;

use crate::support::little_shop::STANDARDS;

fn standards() -> Arc<Standards> {
    Arc::new(standards::parse("standards.toml", STANDARDS).unwrap_or_else(|e| panic!("{e}")))
}

/// An experiment on a shop whose hypothesis is `hypothesis` (from line 12 on).
fn experiment(hypothesis: &str) -> String {
    format!(
        r#"title = "checkout survives payments"
service = "shop"
[observer]
listen = "127.0.0.1:0"
upstream = "http://127.0.0.1:9"
[[target]]
name = "payments"
protocol = "http"
listen = "127.0.0.1:0"
upstream = "http://127.0.0.1:9"
[hypothesis]
{hypothesis}
[[phase]]
name = "baseline"
duration = "1s"
[[phase]]
name = "payments down"
duration = "1s"
faults = [{{ target = "payments", kind = "error", status = 503 }}]
"#
    )
}

fn parse(hypothesis: &str, standards: Arc<Standards>) -> Result<brownout::experiment::Experiment, String> {
    brownout::experiment::parse_with("exp.toml", &experiment(hypothesis), None, &Lookup::Given(standards))
        .map_err(|e| e.to_string())
}

/// Each rule looser than a standard on the same journey is refused, with
/// the experiment's place, the key, the value, the standard and where the
/// standard is written.
#[test]
fn a_looser_rule_is_refused_with_a_message_naming_the_standard() {
    let hypothesis = r#"slo = [
  { route = "POST /checkout", phase = "baseline", availability = "99%", p95 = "2s" },
]
graceful = [{ route = "POST /checkout", status = [500, 503], within = "5s", at_least = "90%" }]"#;
    let err = parse(hypothesis, standards()).expect_err("a looser experiment is refused");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(
        lines,
        [
            "exp.toml:13:3: hypothesis.slo[0].p95 is 2s, looser than the standard interaction.real_time (p95 <= 1s for POST /checkout, standards.toml:9:7)",
            "  hint: an experiment may tighten a standard, never loosen it: ask for at most 1s, or change the standard",
            "exp.toml:13:66: hypothesis.slo[0].availability is 99%, looser than the standard tier.critical (availability >= 99.9% for POST /checkout, standards.toml:2:16)",
            "  hint: an experiment may tighten a standard, never loosen it: ask for at least 99.9%, or change the standard",
            "exp.toml:15:13: hypothesis.graceful[0].within is 5s, looser than the standard graceful (within 2s, standards.toml:13:10)",
            "  hint: an experiment may tighten a standard, never loosen it: ask for at most 2s, or change the standard",
            "exp.toml:15:50: hypothesis.graceful[0].status allows 500, which the standard graceful does not (status 429 or 503, standards.toml:12:10)",
            "  hint: an experiment may tighten a standard, never loosen it: list only statuses the standard allows, or change the standard",
            "exp.toml:15:88: hypothesis.graceful[0].at_least is 90%, looser than the standard tier.critical (at least 100% of failures graceful for POST /checkout, standards.toml:3:12)",
            "  hint: an experiment may tighten a standard, never loosen it: ask for at least 100%, or change the standard",
        ],
        "{err}"
    );
    // A raw path the standard's glob classifies is the same journey.
    let err = parse(r#"slo = [{ route = "GET /products/42", phase = "baseline", availability = "98%" }]"#, standards())
        .expect_err("refused");
    assert!(
        err.contains("is 98%, looser than the standard tier.standard (availability >= 99% for GET /products/*, standards.toml:6:16)"),
        "{err}"
    );
    // A service the standards do not list is a typo until proven otherwise.
    let text = experiment("").replace("service = \"shop\"", "service = \"shp\"");
    let err = brownout::experiment::parse_with("exp.toml", &text, None, &Lookup::Given(standards()))
        .expect_err("an unknown service");
    assert_eq!(
        err.to_string(),
        "exp.toml:2:11: service names no service of the standards (standards.toml): \"shp\"\n  hint: did you mean `shop`?"
    );
}

/// A rule stricter than the standard stays, and the standard's own rule
/// stays beside it: the report judges both.
#[test]
fn a_stricter_rule_is_kept_beside_the_standard() {
    let hypothesis = r#"slo = [{ route = "POST /checkout", phase = "baseline", availability = "99.99%", p95 = "300ms" }]
graceful = [{ route = "POST /checkout", status = [503], within = "1s" }]"#;
    let exp = parse(hypothesis, standards()).unwrap_or_else(|e| panic!("{e}"));
    let own: Vec<_> = exp.hypothesis.slos.iter().filter(|s| s.standard.is_none()).collect();
    assert_eq!(own.len(), 1);
    assert!(own[0].availability.is_some_and(|a| (a - 0.9999).abs() < 1e-12), "{own:?}");
    assert_eq!(own[0].p95_ms, Some(300.0));
    let theirs = |standard: &str, phase: Option<&str>| {
        exp.hypothesis.slos.iter().any(|s| {
            s.route == "POST /checkout" && s.standard.as_deref() == Some(standard) && s.phase.as_deref() == phase
        })
    };
    assert!(theirs("tier.critical", Some("baseline")), "{:#?}", exp.hypothesis.slos);
    assert!(!theirs("tier.critical", Some("payments down")), "availability is judged in phases without faults");
    assert!(theirs("interaction.real_time", None));
    // The experiment's graceful rule narrows the statuses and the time, and
    // keeps what the standards require on top.
    let rule = &exp.graceful.by_route[0].1;
    assert_eq!((rule.statuses.as_slice(), rule.within), (&[503][..], std::time::Duration::from_secs(1)));
    assert_eq!(rule.required_words, ["try again"]);
    assert_eq!(rule.required_headers, ["retry-after"]);
}

/// A rule over a glob sums several journeys and is compared with none; a
/// tier's availability is not judged in a phase with faults (and so not
/// compared there) unless the tier says `during_faults = true`.
#[test]
fn aggregates_and_fault_phases_are_not_held_to_a_journeys_availability() {
    let hypothesis = r#"slo = [
  { route = "*", availability = "90%" },
  { route = "POST /checkout", phase = "payments down", availability = "50%" },
]"#;
    parse(hypothesis, standards()).unwrap_or_else(|e| panic!("{e}"));
    let during = STANDARDS.replace("graceful = \"100%\"", "graceful = \"100%\"\nduring_faults = true");
    let during = Arc::new(standards::parse("standards.toml", &during).expect("valid"));
    let err = parse(hypothesis, during).expect_err("during_faults judges every phase");
    assert!(err.contains("hypothesis.slo[1].availability is 50%, looser than the standard tier.critical"), "{err}");
    assert!(!err.contains("slo[0]"), "{err}");
}

/// The experiment has no rule of its own on checkout: it inherits the
/// standards' (availability before and after, every failure graceful,
/// p95 within 1 s), judged per route with traffic. Signup has no tier:
/// it is listed as unclassified. Every report names each check's source.
#[tokio::test]
async fn an_experiment_without_rules_inherits_the_standards_and_lists_unclassified_routes() {
    let shop = little_shop::start().await;
    let text = format!(
        r#"title = "checkout while payments is down"
service = "shop"
seed = 5
{listeners}
[hypothesis]
slo = [
  {{ route = "GET /products/*", p99 = "900ms" }},
  {{ route = "POST /checkout", phase = "baseline", availability = "99.99%" }},
]
[[phase]]
name = "baseline"
duration = "600ms"
[[phase]]
name = "payments down"
duration = "1s"
faults = [{{ target = "payments", kind = "error", status = 503 }}]
[[phase]]
name = "recovery"
duration = "600ms"
{load}
"#,
        listeners = shop.listeners(),
        load = little_shop::LOAD,
    );
    let exp = brownout::experiment::parse_with("checkout.toml", &text, None, &Lookup::Given(standards()))
        .unwrap_or_else(|e| panic!("{e}"));
    let scratch = tempdir::Dir::new("standards-run");

    // Before the fix: checkout leaks a stack trace while payments is down.
    let broken = run(&exp, &scratch.path().join("broken")).await;
    let report = &broken.report;
    let verdict = report.verdict.as_ref().expect("a verdict");
    assert_eq!(verdict.status, Status::Deviated, "{verdict:#?}");
    let failed: Vec<(&str, &str, Option<&str>)> =
        verdict.failed().map(|c| (c.check.as_str(), c.phase.as_str(), c.standard.as_deref())).collect();
    assert_eq!(failed, [("POST /checkout degrades gracefully", "payments down", Some("tier.critical"))]);
    let graceful = verdict.failed().next().expect("the failed check");
    assert!(graceful.actual.starts_with("0.00% of "), "every failure leaked a stack trace: {graceful:?}");
    // Every check, by source: the experiment's own and the standards' per route.
    let mut checks: Vec<(String, String, String)> = verdict
        .measured()
        .map(|c| (c.source(), c.check.clone(), c.phase.clone()))
        .filter(|(_, _, phase)| phase == "baseline")
        .collect();
    checks.sort();
    let want = [
        ("experiment", "GET /products/* p99"),
        ("experiment", "POST /checkout availability"),
        ("standard interaction.real_time", "GET /products/{id} p95"),
        ("standard interaction.real_time", "POST /checkout p95"),
        ("standard tier.critical", "POST /checkout availability"),
        ("standard tier.standard", "GET /products/{id} availability"),
    ];
    let got: Vec<(&str, &str)> = checks.iter().map(|(s, c, _)| (s.as_str(), c.as_str())).collect();
    assert_eq!(got, want, "the baseline's measured checks");
    // Signup saw traffic but has no tier: listed, in every rendering.
    let classes = report.standards.as_ref().expect("the standards part");
    assert_eq!(classes.unclassified, ["POST /signup"]);
    assert_eq!(classes.file.as_deref(), Some("standards.toml"));
    let signup = classes.routes.iter().find(|r| r.route == "POST /signup").expect("signup's row");
    assert!(signup.requests > 0);
    let products = classes.routes.iter().find(|r| r.route == "GET /products/{id}").expect("products' row");
    assert_eq!(
        (products.pattern.as_deref(), products.tier.as_deref(), products.interaction.as_deref()),
        (Some("GET /products/*"), Some("standard"), Some("real_time"))
    );
    let md = std::fs::read_to_string(&broken.written.markdown).expect("report.md");
    assert!(md.contains("| result | check | phase | expected | measured | source |"), "{md}");
    assert!(
        md.contains("| **failed** | POST /checkout degrades gracefully | payments down | >= 100.00% of failures graceful | 0.00% of "),
        "{md}"
    );
    assert!(md.contains("failures graceful | standard tier.critical |"), "{md}");
    assert!(
        md.contains("| passed | POST /checkout availability | baseline | >= 99.99% | 100.00% | experiment |"),
        "{md}"
    );
    assert!(
        md.contains(
            "Held to the standards of standards.toml, service shop: 2 routes classified, 1 route unclassified."
        ),
        "{md}"
    );
    assert!(
        md.contains(&format!(
            "**Unclassified** (traffic but no tier or interaction class): `POST /signup` ({}).",
            signup.requests
        )),
        "{md}"
    );
    let html = std::fs::read_to_string(&broken.written.html).expect("report.html");
    assert!(
        html.contains("<span class=\"pill standard\">standard tier.critical</span>"),
        "the HTML names the standard"
    );
    assert!(html.contains("<span class=\"pill\">experiment</span>"));
    assert!(html.contains("id=\"classes\"") && html.contains("<span class=\"bad\">unclassified</span>"));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&broken.written.json).expect("report.json")).expect("json");
    assert_eq!(json["standards"]["unclassified"][0], "POST /signup");
    assert!(json["verdict"]["checks"].as_array().expect("checks").iter().any(|c| c["standard"] == "tier.critical"));
    let terminal = brownout::report::terminal::verdict(report, &broken.written);
    assert!(
        terminal.contains("in payments down: expected >= 100.00% of failures graceful, got 0.00% of "),
        "{terminal}"
    );
    assert!(terminal.contains("(standard tier.critical)"), "{terminal}");
    assert!(terminal.contains(&format!("unclassified POST /signup ({} requests)", signup.requests)), "{terminal}");

    // The fix: a sentence with "try again" and Retry-After, as the standards
    // require of every graceful failure. The same experiment now holds.
    shop.graceful_checkout.store(true, Ordering::Relaxed);
    let fixed = run(&exp, &scratch.path().join("fixed")).await;
    let verdict = fixed.report.verdict.as_ref().expect("a verdict");
    assert_eq!(verdict.status, Status::Held, "{verdict:#?}");
    let graceful = verdict
        .measured()
        .find(|c| c.check == "POST /checkout degrades gracefully" && c.phase == "payments down")
        .expect("the standard's graceful check measured the outage");
    assert!(graceful.actual.starts_with("100.00% of "), "{graceful:?}");
}

/// A temporary tree: a config with a standards.toml beside it, and an
/// experiment in a folder of its own that names the config.
fn tree(scratch: &Path) -> PathBuf {
    std::fs::create_dir_all(scratch.join("config")).expect("mkdir");
    std::fs::create_dir_all(scratch.join("experiments")).expect("mkdir");
    std::fs::write(
        scratch.join("config/shop.toml"),
        "[observer]\nlisten = \"127.0.0.1:0\"\nupstream = \"http://127.0.0.1:9\"\n",
    )
    .expect("write");
    std::fs::write(scratch.join("config/standards.toml"), STANDARDS).expect("write");
    let exp = scratch.join("experiments/exp.toml");
    std::fs::write(
        &exp,
        "title = \"t\"\nservice = \"shop\"\nconfig = \"../config/shop.toml\"\n[hypothesis]\n\
         slo = [{ route = \"POST /checkout\", phase = \"p\", availability = \"99.5%\" }]\n\
         [[phase]]\nname = \"p\"\nduration = \"1s\"\n",
    )
    .expect("write");
    exp
}

fn check(exp: &Path, flag: Option<&Path>, env: Option<&Path>) -> (bool, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_brownout"));
    cmd.arg("check").arg(exp).env_remove(standards::ENV);
    if let Some(f) = flag {
        cmd.arg("--standards").arg(f);
    }
    if let Some(e) = env {
        cmd.env(standards::ENV, e);
    }
    let out = cmd.output().expect("run brownout check");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

/// Found beside the config the experiment names, else beside the
/// experiment, else where `BROWNOUT_STANDARDS` says, else `--standards`:
/// each later one wins. A looser rule fails `brownout check` with exit 2.
#[test]
fn standards_are_found_beside_the_config_the_experiment_or_where_named() {
    let scratch = tempdir::Dir::new("standards-lookup");
    let exp = tree(scratch.path());
    // Beside the config: 99.5% is looser than the critical tier's 99.9%.
    let (ok, _, err) = check(&exp, None, None);
    assert!(!ok);
    assert!(err.contains("hypothesis.slo[0].availability is 99.5%, looser than the standard tier.critical"), "{err}");
    assert!(err.contains("config/standards.toml:2:16)"), "{err}");
    // Beside the experiment: a file whose critical tier asks for 99%.
    let relaxed = STANDARDS.replace("\"99.9%\"", "\"99%\"");
    std::fs::write(scratch.path().join("experiments/standards.toml"), &relaxed).expect("write");
    let (ok, out, err) = check(&exp, None, None);
    assert!(ok, "{err}");
    assert!(out.lines().any(|l| l.starts_with("  standards ") && l.contains("experiments/standards.toml")), "{out}");
    // Named by the variable, then by the flag: each wins over what is beside.
    let strict = scratch.path().join("strict.toml");
    std::fs::write(&strict, STANDARDS.replace("\"99.9%\"", "\"99.95%\"")).expect("write");
    let (ok, _, err) = check(&exp, None, Some(&strict));
    assert!(!ok && err.contains("strict.toml:2:16)"), "{err}");
    let (ok, out, err) = check(&exp, Some(&scratch.path().join("experiments/standards.toml")), Some(&strict));
    assert!(ok, "{err}");
    assert!(out.contains("experiments/standards.toml"), "{out}");
    // A named file that is missing says who named it.
    let (ok, _, err) = check(&exp, None, Some(&scratch.path().join("missing.toml")));
    assert!(!ok && err.contains("missing.toml (the standards BROWNOUT_STANDARDS names): cannot read"), "{err}");
}
