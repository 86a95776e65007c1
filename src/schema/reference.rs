//! What the schemas say of each value besides its shape: the description
//! from the README's reference tables (the config reference, the keys of
//! every fault, the experiment's keys), and the JSON Schema of the forms
//! brownout writes as strings (durations, addresses, rates).

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::config;

/// The README, whose tables are the reference the schemas describe keys by.
const README: &str = include_str!("../../README.md");

/// The headings of the README's sections whose tables describe keys, and
/// the prefix their keys take in a schema's key paths.
const SECTIONS: [(&str, &str); 4] =
    [("## Config reference", ""), ("## Faults", "fault."), ("## Experiments", ""), ("## Standards", STANDARDS_PREFIX)];

/// The prefix of the standards' keys among the descriptions: only the
/// standards' schema reads them, with the prefix taken off.
pub const STANDARDS_PREFIX: &str = "standards.";

/// Descriptions by key path (`admin.listen`, `target.name`, `fault.probability`,
/// `phase.duration`), read from the README's tables.
pub fn descriptions() -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (heading, prefix) in SECTIONS {
        let Some(start) = README.find(&format!("\n{heading}\n")) else { continue };
        let body = &README[start + heading.len() + 2..];
        let end = body.find("\n## ").unwrap_or(body.len());
        for line in body[..end].lines().filter(|l| l.starts_with("| `")) {
            let cells: Vec<&str> = line.trim_matches('|').split(" | ").map(str::trim).collect();
            let Some(first) = cells.first() else { continue };
            let meaning = cells.last().map(|m| plain(m)).unwrap_or_default();
            let detail = match cells.len() {
                4 => format!("{} Type: {}; default: {}.", sentence(&meaning), plain(cells[1]), plain(cells[2])),
                3 => format!("{} Default: {}.", sentence(&meaning), plain(cells[1])),
                _ => sentence(&meaning),
            };
            for key in keys_of(first) {
                out.entry(format!("{prefix}{key}")).or_insert_with(|| detail.clone());
            }
        }
    }
    out
}

/// The key paths a table's first cell names: `` `a.b`, `c[].d` `` or
/// `` `[[phase]]` `name`, `duration` `` (a table heading, then its keys).
fn keys_of(cell: &str) -> Vec<String> {
    let ticked: Vec<&str> = cell.split('`').skip(1).step_by(2).collect();
    let Some((first, rest)) = ticked.split_first() else { return Vec::new() };
    if first.starts_with('[') {
        let table = first.trim_matches(|c| c == '[' || c == ']');
        if rest.is_empty() {
            return vec![table.to_string()];
        }
        return rest.iter().map(|k| format!("{table}.{k}")).collect();
    }
    ticked.iter().filter(|k| !k.contains(' ') && !k.contains('=')).map(|k| k.replace("[]", "")).collect()
}

/// Markdown without links and escapes.
fn plain(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        let Some(mid) = rest[open..].find("](") else { break };
        let Some(close) = rest[open + mid..].find(')') else { break };
        out.push_str(&rest[..open]);
        out.push_str(&rest[open + 1..open + mid]);
        rest = &rest[open + mid + close + 1..];
    }
    out.push_str(rest);
    out.replace("\\|", "|")
}

fn sentence(text: &str) -> String {
    let mut s = text.trim().to_string();
    if let Some(first) = s.get(..1) {
        let upper = first.to_uppercase();
        s.replace_range(..1, &upper);
    }
    if !s.is_empty() && !s.ends_with('.') {
        s.push('.');
    }
    s
}

/// A duration as `config::parse_duration` reads it (the year-long bound is
/// the validator's alone).
const DURATION: &str = r"^\s*[0-9]+(\.[0-9]*)?\s*(us|µs|ms|s|m|h)\s*$";
/// A duration of nothing, in any unit.
const ZERO: &str = r"^\s*0+(\.0*)?\s*(us|µs|ms|s|m|h)\s*$";
/// Requests per time: `"50/s"`, `"600/m"`.
pub const REQUEST_RATE: &str = r"^\s*[0-9]+(\.[0-9]*)?\s*/\s*(s|m|h)\s*$";
/// Bytes per second: `"64KiB/s"`.
pub const BYTE_RATE: &str = r"^\s*[0-9]+(\.[0-9]*)?\s*(B|KB|kB|KiB|MB|MiB|GB|GiB)\s*/s\s*$";

/// The schema of a string value whose type's visitor expects `form`.
pub fn text(form: &str) -> Value {
    let duration = json!({"type": "string", "pattern": DURATION});
    let non_zero = json!({"allOf": [duration.clone(), {"not": {"pattern": ZERO}}]});
    if form == config::DURATION_FORM {
        duration
    } else if form == config::NON_ZERO_FORM {
        non_zero
    } else if form == config::TIMEOUT_FORM {
        json!({"anyOf": [non_zero, {"const": "off"}]})
    } else if form == config::LISTEN_FORM {
        json!({"type": "string", "pattern": r"^([0-9]{1,3}(\.[0-9]{1,3}){3}|\[[0-9A-Fa-f:.]+\]):[0-9]{1,5}$"})
    } else if form == config::HOST_PORT_FORM {
        json!({"type": "string", "pattern": r"^([A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*|\[[0-9A-Fa-f:.]+\]):[0-9]{1,5}$"})
    } else {
        json!({"type": "string"})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readmes_tables_describe_keys_by_their_paths() {
        let d = descriptions();
        assert!(d["admin.listen"].starts_with("The admin API (see Admin API)"), "{}", d["admin.listen"]);
        assert!(d.contains_key("target.name") && d.contains_key("observer.idle_timeout"));
        assert!(d["fault.probability"].contains("0 to 1"));
        assert!(d.contains_key("phase.duration") && d.contains_key("hypothesis.slo") && d.contains_key("load"));
        assert_eq!(keys_of("`[[phase]]` `name`, `duration`"), ["phase.name", "phase.duration"]);
    }

    #[test]
    fn string_forms_match_what_the_parsers_take() {
        let re = |p: &str| regex_lite::Regex::new(p).expect("pattern");
        for ok in ["250ms", "1.5s", "2m", "1h", "100us", "0s", " 30s "] {
            assert!(re(DURATION).is_match(ok), "{ok}");
            assert!(crate::config::parse_duration(ok).is_ok(), "{ok}");
        }
        for bad in ["30", "-5ms", "ms", "5 parsecs", "1.2.3s", "366d"] {
            assert!(!re(DURATION).is_match(bad), "{bad}");
            assert!(crate::config::parse_duration(bad).is_err(), "{bad}");
        }
        assert!(re(ZERO).is_match("0ms") && re(ZERO).is_match("0.0s") && !re(ZERO).is_match("10ms"));
        for ok in ["50/s", "600/m", "2.5/s"] {
            assert!(re(REQUEST_RATE).is_match(ok) && crate::config::fault::parse_request_rate(ok).is_ok(), "{ok}");
        }
        for ok in ["64KiB/s", "1MB/s", "500B/s"] {
            assert!(re(BYTE_RATE).is_match(ok) && crate::config::fault::parse_byte_rate(ok).is_ok(), "{ok}");
        }
    }
}
