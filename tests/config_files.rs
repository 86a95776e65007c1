//! Every shipped config file loads; every invalid fixture fails as expected.

use std::path::{Path, PathBuf};

fn toml_files(dir: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

/// A standards file lives beside the configs it applies to, but is not one.
fn is_standards(path: &Path) -> bool {
    path.file_name().is_some_and(|n| n == brownout::standards::FILE_NAME)
}

#[test]
fn every_shipped_config_file_is_valid() {
    let files: Vec<PathBuf> = toml_files("config").into_iter().filter(|f| !is_standards(f)).collect();
    assert!(!files.is_empty(), "config/ holds no .toml file");
    for f in files {
        if let Err(e) = brownout::config::load(&f) {
            panic!("{} is invalid:\n{e}", f.display());
        }
    }
}

#[test]
fn every_shipped_standards_file_is_valid() {
    let files: Vec<PathBuf> = toml_files("config").into_iter().filter(|f| is_standards(f)).collect();
    assert_eq!(files.len(), 1, "config/standards.toml, the commented example");
    for f in files {
        let standards = brownout::standards::load(&f).unwrap_or_else(|e| panic!("{} is invalid:\n{e}", f.display()));
        assert!(standards.service("shop").is_some(), "the shop's routes are classified");
    }
}

/// Each bad standards file fails with the message its `# expect:` lines say.
#[test]
fn every_invalid_standards_fixture_fails_with_its_expected_message() {
    let files = toml_files("tests/fixtures/standards/invalid");
    assert!(files.len() >= 8, "expected the invalid fixtures, found {}", files.len());
    for f in files {
        let text = std::fs::read_to_string(&f).expect("read fixture");
        let expected: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("# expect: ")).collect();
        assert!(!expected.is_empty(), "{} has no `# expect:` line", f.display());
        let err = match brownout::standards::load(&f) {
            Ok(_) => panic!("{} was accepted", f.display()),
            Err(e) => e.to_string(),
        };
        for want in expected {
            assert!(err.contains(want), "{}:\n  expected to contain: {want}\n  got: {err}", f.display());
        }
    }
}

#[test]
fn every_invalid_fixture_fails_with_its_expected_message() {
    let files = toml_files("tests/fixtures/config/invalid");
    assert!(files.len() >= 10, "expected the invalid fixtures, found {}", files.len());
    for f in files {
        let text = std::fs::read_to_string(&f).expect("read fixture");
        let expected: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("# expect: ")).collect();
        assert!(!expected.is_empty(), "{} has no `# expect:` line", f.display());
        let err = match brownout::config::load(&f) {
            Ok(_) => panic!("{} was accepted", f.display()),
            Err(e) => e.to_string(),
        };
        for want in expected {
            assert!(err.contains(want), "{}:\n  expected to contain: {want}\n  got: {err}", f.display());
        }
    }
}

#[test]
fn defaults_fill_what_a_file_leaves_out() {
    let c = brownout::config::parse(
        "t.toml",
        "[[target]]\nname = \"p\"\nprotocol = \"http\"\nlisten = \"127.0.0.1:9001\"\nupstream = \"http://upstream.internal/base/\"\n",
        None,
    )
    .expect("valid");
    assert_eq!(c.admin.listen.to_string(), "127.0.0.1:8474");
    let brownout::config::Protocol::Http(up) = &c.targets[0].protocol else { panic!("http") };
    assert_eq!(up.authority.as_str(), "upstream.internal:80");
    assert_eq!(up.base_path, "/base");
    assert_eq!(up.host, brownout::config::HostHeader::Upstream);
    assert_eq!(up.connect_timeout, brownout::config::DEFAULT_CONNECT_TIMEOUT);
    assert_eq!(up.request_timeout, brownout::config::DEFAULT_REQUEST_TIMEOUT);
}

#[test]
fn every_shipped_experiment_is_valid() {
    let files = toml_files("experiments");
    assert!(files.len() >= 6, "experiments/ holds {} files", files.len());
    for f in files {
        if let Err(e) = brownout::experiment::load(&f) {
            panic!("{} is invalid:\n{e}", f.display());
        }
    }
}

#[test]
fn every_invalid_experiment_fixture_fails_with_its_expected_message() {
    let files = toml_files("tests/fixtures/experiments/invalid");
    assert!(files.len() >= 10, "expected the invalid fixtures, found {}", files.len());
    for f in files {
        let text = std::fs::read_to_string(&f).expect("read fixture");
        let expected: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("# expect: ")).collect();
        assert!(!expected.is_empty(), "{} has no `# expect:` line", f.display());
        let err = match brownout::experiment::load(&f) {
            Ok(_) => panic!("{} was accepted", f.display()),
            Err(e) => e.to_string(),
        };
        for want in expected {
            assert!(err.contains(want), "{}:\n  expected to contain: {want}\n  got: {err}", f.display());
        }
    }
}

#[test]
fn check_accepts_every_experiment_and_prints_its_timeline() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_brownout"))
        .arg("check")
        .args(toml_files("experiments"))
        .args(toml_files("config"))
        .current_dir(dir)
        .output()
        .expect("run brownout check");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("00:00-00:30 baseline: no faults"), "{stdout}");
    assert!(
        stdout.contains("00:30-01:30 payments down: payments: error-1: error status 503 on POST /v1/charges*, 100%"),
        "{stdout}"
    );
}
