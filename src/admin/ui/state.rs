//! What the control page reads: every target with its live figures and
//! faults (on and off), the run in progress and the finished ones, the
//! experiment files a run can start from, the feed of last requests, and
//! the fault kinds with the schema of each key for its form.

use serde_json::{json, Value};

use super::super::{faults, AdminState};
use crate::fault::kinds::Protocol;
use crate::record::Live;
use crate::run::progress::Figures;

/// Requests the feed sends at once.
const FEED_LIMIT: usize = 200;

pub fn state(state: &AdminState) -> Value {
    let live = state.live.as_deref();
    let figures = |listener: &str| -> Value {
        match live.and_then(|l| l.feed.second_now().map(|now| (l, now))) {
            Some((l, now)) => serde_json::to_value(Figures::recent(l, listener, now)).unwrap_or(Value::Null),
            None => Value::Null,
        }
    };
    let targets: Vec<Value> = state
        .targets
        .iter()
        .map(|t| {
            json!({
                "name": t.name,
                "protocol": t.protocol,
                "listen": t.listen.to_string(),
                "upstream": t.upstream,
                "connections": t.gauge.load(std::sync::atomic::Ordering::Relaxed),
                "header_faults": t.header_overflow.is_some(),
                "figures": figures(&t.name),
                "faults": faults::all_faults(t, state),
            })
        })
        .collect();
    let observer = state.gauges.iter().any(|(name, _)| name == "observer").then(|| figures("observer"));
    json!({
        "recording": live.is_some(),
        "targets": targets,
        "observer": observer,
        "run": state.runs.current().map(|r| r.status()),
        "runs": state.runs.all().iter().rev().map(|r| r.status()).collect::<Vec<_>>(),
        "can_start": state.runs.serving().is_some(),
        "experiments": experiments(state),
    })
}

/// The experiment files a run may be started from: `admin.experiments_dir`'s `.toml` files.
fn experiments(state: &AdminState) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(&state.experiments_dir) else { return Vec::new() };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "toml"))
        .filter_map(|p| p.file_name().and_then(|n| n.to_str()).map(str::to_string))
        .collect();
    names.sort();
    names
}

/// `?after=N&listener=L`: the requests after the N-th, of one listener or all.
pub fn feed(state: &AdminState, query: &str) -> Value {
    let param = |name: &str| {
        query.split('&').filter_map(|p| p.split_once('=')).find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
    };
    let after = param("after").and_then(|a| a.parse().ok()).unwrap_or(0);
    let listener = param("listener").filter(|l| !l.is_empty());
    let items =
        state.live.as_deref().map_or_else(Vec::new, |l: &Live| l.feed.since(listener.as_deref(), after, FEED_LIMIT));
    json!({"recording": state.live.is_some(), "items": items})
}

/// Every fault kind of each protocol with its keys, and the schema of
/// every key a fault of that protocol takes: the page builds its form from
/// these, and the admin API validates what the form sends.
pub fn kinds() -> Result<Value, String> {
    let mut out = serde_json::Map::new();
    for protocol in [Protocol::Http, Protocol::Tcp] {
        let kinds: Vec<Value> = protocol
            .kinds()
            .map(|k| {
                let keys: Vec<&str> = k.keys.to_vec();
                json!({"name": k.name, "about": k.about, "keys": keys})
            })
            .collect();
        let common: Vec<&str> = protocol.common_keys().filter(|k| !["target", "ramp"].contains(k)).collect();
        let keys: serde_json::Map<String, Value> =
            crate::schema::fault_keys(protocol)?.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        out.insert(protocol.name().into(), json!({"kinds": kinds, "common": common, "keys": keys}));
    }
    Ok(Value::Object(out))
}
