//! Faults as written in files (`[[target.fault]]` and experiment phases) and
//! in the admin API's JSON bodies, validated into [`crate::fault::Fault`].
//!
//! `raw.rs` is the serde mirror of one fault; `http.rs` and `tcp.rs` turn a
//! kind's keys into its parameters; `scope.rs` reads the keys that say which
//! traffic a fault touches; `params.rs` holds the checks they share. This file
//! holds the entry points: [`validate`] and [`from_json`].

mod http;
mod params;
mod raw;
mod scope;
mod tcp;

use super::error::did_you_mean;
use crate::fault::kinds::{KindSpec, Protocol};
use crate::fault::{Fault, HttpKind, Kind, OutageMode, Scope, TcpKind};

pub use params::{parse_byte_rate, parse_request_rate};
pub use raw::{Number, OneOrMany, RawFault, RawHeaderRule, RawHeaderTest, RawMatch, RawRamp};

/// The position of a problem and what to say.
pub struct FaultProblem {
    pub offset: usize,
    /// The key under the fault, such as `status` or `match.path`.
    pub key: String,
    pub message: String,
    pub hint: Option<String>,
}

/// What checking a fault key gives: its value, or the problem with it.
pub type FaultResult<T> = Result<T, FaultProblem>;

fn problem(offset: usize, key: &str, message: impl Into<String>) -> FaultProblem {
    FaultProblem { offset, key: key.to_string(), message: message.into(), hint: None }
}

/// Validates one fault of a target of protocol `http` (else `tcp`). `id` and
/// `default_name` come from the fault's place in the file.
pub fn validate(raw: &RawFault, http: bool, id: u64, default_name: &str) -> FaultResult<Fault> {
    let spec = spec(raw, if http { Protocol::Http } else { Protocol::Tcp })?;
    check_keys(raw, spec)?;
    let kind = if http { Kind::Http(http::kind(raw, spec.name)?) } else { tcp::kind(raw, spec.name)? };
    let scope = scope::read(raw, http)?;
    if matches!(
        kind,
        Kind::Http(HttpKind::Outage { mode: OutageMode::Refuse })
            | Kind::Tcp(TcpKind::Outage { mode: OutageMode::Refuse }, _)
    ) && scope != Scope::default()
    {
        let (key, offset) =
            raw.present().into_iter().find(|(k, _)| NARROWING.contains(k)).unwrap_or(("mode", raw.kind.span().start));
        let mut p =
            problem(offset, key, "cannot narrow an outage with mode = \"refuse\", which closes the whole listener");
        p.hint = Some("remove match, opt_in, probability, first, after and lasting, or use mode = \"reset\"".into());
        return Err(p);
    }
    let name = raw.name.as_ref().map_or_else(|| default_name.to_string(), |n| n.get_ref().clone());
    Ok(Fault { id, name, kind, scope })
}

/// The keys that narrow a fault to some of the traffic.
const NARROWING: [&str; 6] = ["probability", "first", "after", "lasting", "match", "opt_in"];

/// The row of the table of kinds that the fault's `kind` names.
fn spec(raw: &RawFault, protocol: Protocol) -> FaultResult<&'static KindSpec> {
    let name = raw.kind.get_ref().as_str();
    if let Some(spec) = protocol.kind(name) {
        return Ok(spec);
    }
    let known: Vec<&str> = protocol.kinds().map(|k| k.name).collect();
    let mut p = problem(
        raw.kind.span().start,
        "kind",
        format!("must be one of the {} fault kinds: {}; got {name:?}", protocol.name(), known.join(", ")),
    );
    p.hint = did_you_mean(name, known).map(|s| format!("did you mean `{s}`?"));
    if p.hint.is_none() && protocol.other().kind(name).is_some() {
        p.hint = Some(format!("{name} is a fault of {} targets", protocol.other().name()));
    }
    Err(p)
}

/// Refuses the first key the fault's kind does not take.
fn check_keys(raw: &RawFault, spec: &KindSpec) -> FaultResult<()> {
    let Some((key, offset)) = raw.present().into_iter().find(|(key, _)| !spec.takes(key)) else {
        return Ok(());
    };
    let article = if spec.protocol == Protocol::Http { "an" } else { "a" };
    let mut p =
        problem(offset, key, format!("does not apply to {article} {} {} fault", spec.protocol.name(), spec.name));
    let other = spec.protocol.other();
    p.hint = Some(if other.common_keys().any(|c| c == key) {
        format!("{key} applies to {} faults only", other.name())
    } else if spec.keys.is_empty() {
        format!("a {} fault takes only the common keys", spec.name)
    } else {
        format!("a {} fault takes: {}", spec.name, spec.keys.join(", "))
    });
    Err(p)
}

/// Validates a fault written as JSON (the admin API's bodies): the same keys,
/// the same rules, and messages that name the key, the value and the
/// expected form.
pub fn from_json(value: serde_json::Value, http: bool, id: u64) -> Result<Fault, String> {
    let table: toml::Table =
        serde_json::from_value(value).map_err(|e| format!("the fault must be a JSON object of fault keys: {e}"))?;
    let text = toml::to_string(&table).map_err(|e| format!("the fault cannot be read: {e}"))?;
    let loc = super::Locator { file: "body", text: &text };
    let raw: RawFault = super::deserialize(&loc).map_err(|e| {
        e.problems().first().map_or_else(
            || e.to_string(),
            |p| {
                let mut m = format!("fault.{} {}", p.key, p.message);
                if let Some(h) = &p.hint {
                    m.push_str("; ");
                    m.push_str(h);
                }
                m
            },
        )
    })?;
    if raw.target.is_some() || raw.ramp.is_some() {
        return Err("fault.target and fault.ramp belong in experiment files; the target is in the URL".into());
    }
    let default_name = raw.kind.get_ref().clone();
    validate(&raw, http, id, &default_name).map_err(|p| {
        let mut m = format!("fault.{} {}", p.key, p.message);
        if let Some(h) = p.hint {
            m.push_str("; ");
            m.push_str(&h);
        }
        m
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::kinds::KINDS;

    #[test]
    fn the_table_of_kinds_and_the_raw_form_know_the_same_keys() {
        for spec in &KINDS {
            for key in spec.keys.iter().copied().chain(spec.protocol.common_keys()) {
                assert!(RawFault::OPTIONAL_KEYS.contains(&key), "{} takes {key}, which no file can say", spec.name);
            }
        }
        for key in RawFault::OPTIONAL_KEYS {
            assert!(KINDS.iter().any(|spec| spec.takes(key)), "no kind takes {key}");
        }
    }
}
