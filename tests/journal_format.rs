//! The journal is a durable format: a journal written by an earlier
//! brownout still loads, and the report computed from it keeps every field
//! and value the report of that time had.

use std::path::Path;

use serde_json::Value;

/// A demo journal and the `report.json` written beside it, before the
/// journal's words (origin, class, outcome, verdict status) became types.
const FIXTURE: &str = "tests/fixtures/journal-v1";

#[test]
fn a_journal_written_before_the_typed_words_gives_the_same_report() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE);
    let report = brownout::report::from_file(&dir.join("journal.jsonl")).expect("the old journal loads");
    let now = serde_json::to_value(&report).expect("the report serializes");
    let then: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).expect("the old report")).expect("json");
    let mut differences = Vec::new();
    contained(&then, &now, "report", &mut differences);
    assert!(differences.is_empty(), "the report changed against the old one:\n{}", differences.join("\n"));
    // The words came through typed, not defaulted.
    assert_eq!(now["verdict"]["status"], "held");
    assert_eq!(now["outcome"], "completed");
    assert!(now["samples"].as_array().is_some_and(|s| s.iter().any(|s| s["class"] == "ungraceful")));
}

/// Collects where `old` is not found in `new`: every key of an object must
/// be there with an equal value (new keys may be added), arrays must match
/// item by item.
fn contained(old: &Value, new: &Value, at: &str, out: &mut Vec<String>) {
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in a {
                match b.get(k) {
                    Some(w) => contained(v, w, &format!("{at}.{k}"), out),
                    None => out.push(format!("{at}.{k} is gone")),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (v, w)) in a.iter().zip(b).enumerate() {
                contained(v, w, &format!("{at}[{i}]"), out);
            }
        }
        (Value::Array(a), Value::Array(b)) => out.push(format!("{at} had {} items, now {}", a.len(), b.len())),
        _ if old == new => {}
        _ => out.push(format!("{at} was {old}, now {new}")),
    }
}
