//! The JSON Schemas of the files: the committed ones are what `brownout
//! schema` prints, every shipped file validates against them, and each
//! kind of mistake in `tests/fixtures/schema/` is refused both by the
//! schema (checked by Python's `jsonschema`, a validator brownout did not
//! write) and by `brownout check`, with the message its `# expect:` line gives.
//!
//! Without Python's `jsonschema` and `tomli` the checks through Python are
//! skipped, except under CI (`CI=true`), where they fail.

use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_brownout");

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn toml_files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join(dir))
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{dir} holds no .toml file");
    files
}

#[test]
fn committed_schemas_are_what_brownout_schema_prints() {
    for which in ["config", "experiment", "standards"] {
        let out = Command::new(BIN).args(["schema", which]).output().expect("brownout schema");
        assert!(out.status.success(), "brownout schema {which}: {}", String::from_utf8_lossy(&out.stderr));
        let path = root().join(format!("schema/{which}.schema.json"));
        let committed = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            committed == String::from_utf8_lossy(&out.stdout),
            "schema/{which}.schema.json differs from what `brownout schema {which}` prints; \
             regenerate it: cargo run -- schema {which} > schema/{which}.schema.json"
        );
    }
}

/// A Python with `jsonschema` and `tomli`: `$BROWNOUT_PYTHON`, the
/// virtual environment `.ci/run` makes, or `python3`; `None` after saying
/// the check is skipped.
fn python() -> Option<PathBuf> {
    let venv = root().join(".ci/venv/bin/python");
    let candidates = [std::env::var_os("BROWNOUT_PYTHON").map(PathBuf::from), Some(venv), Some("python3".into())];
    for python in candidates.into_iter().flatten() {
        let ok = Command::new(&python).args(["-c", "import jsonschema, tomli"]).output();
        if ok.is_ok_and(|o| o.status.success()) {
            return Some(python);
        }
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("no python3 with jsonschema and tomli, and CI=true: .ci/run installs them in .ci/venv");
    }
    println!("skipped: no python3 with jsonschema and tomli (pip install jsonschema tomli)");
    None
}

/// Each file's verdict from `tests/schema/validate.py`: `(file, ok)`.
fn validate(python: &Path, schema: &str, files: &[PathBuf]) -> Vec<(PathBuf, bool, String)> {
    let out = Command::new(python)
        .arg(root().join("tests/schema/validate.py"))
        .arg(root().join(schema))
        .args(files)
        .output()
        .expect("run validate.py");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "validate.py failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    files
        .iter()
        .map(|f| {
            let line = text.lines().find(|l| l.starts_with(&format!("{}: ", f.display()))).unwrap_or("").to_string();
            (f.clone(), line.ends_with(": ok"), line)
        })
        .collect()
}

#[test]
fn every_shipped_file_validates_against_its_schema() {
    let Some(python) = python() else { return };
    for (schema, dir) in [("schema/config.schema.json", "config"), ("schema/experiment.schema.json", "experiments")] {
        // A standards file lives beside the configs it applies to, but is not one.
        let files: Vec<PathBuf> =
            toml_files(dir).into_iter().filter(|f| !f.ends_with(brownout::standards::FILE_NAME)).collect();
        for (file, ok, line) in validate(&python, schema, &files) {
            assert!(ok, "{} does not validate against {schema}: {line}", file.display());
        }
    }
    let standards = [root().join("config").join(brownout::standards::FILE_NAME)];
    for (file, ok, line) in validate(&python, "schema/standards.schema.json", &standards) {
        assert!(ok, "{} does not validate against schema/standards.schema.json: {line}", file.display());
    }
}

#[test]
fn each_kind_of_mistake_is_refused_by_the_schema_and_by_brownout_check_alike() {
    let python = python();
    for (schema, dir, kinds) in [
        ("schema/config.schema.json", "tests/fixtures/schema/config", 8),
        ("schema/experiment.schema.json", "tests/fixtures/schema/experiment", 8),
        ("schema/standards.schema.json", "tests/fixtures/schema/standards", 7),
    ] {
        let files = toml_files(dir);
        assert!(files.len() >= kinds, "{dir}: expected a file per kind of mistake, found {}", files.len());
        for f in &files {
            let text = std::fs::read_to_string(f).expect("fixture");
            let want = text.lines().find_map(|l| l.strip_prefix("# expect: ")).expect("an # expect: line");
            let out = Command::new(BIN).arg("check").arg(f).output().expect("brownout check");
            let said = String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
            assert_eq!(out.status.code(), Some(2), "brownout check accepted {}: {said}", f.display());
            assert!(said.contains(want), "{}:\n  expected: {want}\n  got: {said}", f.display());
        }
        if let Some(python) = &python {
            for (file, ok, line) in validate(python, schema, &files) {
                assert!(!ok && line.contains(": invalid: "), "{schema} accepts {}: {line}", file.display());
            }
        }
    }
}
