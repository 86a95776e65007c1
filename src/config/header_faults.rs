//! `header_faults` of an HTTP target: whether requests may choose their own
//! faults by header, and the caps on what they may choose. Written `true`,
//! or as a table of caps (`{ max_delay = "5s", max_active = 10, kinds =
//! ["error", "latency"] }`); off unless written.

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use toml::Spanned;

use super::error::did_you_mean;
use super::NonZeroDur;

/// The kinds a request header may choose. The others act on more than one
/// request (a rate limit's bucket, a pool's slots, a connection's GOAWAY) or
/// on the whole listener (an outage that refuses connections), which one
/// request cannot ask for.
pub const HEADER_KINDS: [&str; 8] =
    ["latency", "error", "grpc_error", "reset", "hang", "bandwidth", "truncate", "outage"];

/// How long a header fault may hold a request when no `max_delay` is set:
/// as long as the proxy waits for an upstream by default.
pub const DEFAULT_MAX_DELAY: Duration = super::DEFAULT_REQUEST_TIMEOUT;

/// What requests to one target may ask for by header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderFaults {
    /// The longest a header fault may hold a request (a delay, a hang).
    pub max_delay: Duration,
    /// The most requests with header faults in progress at once; beyond it a
    /// request passes without its faults, counted in `/metrics`.
    pub max_active: Option<usize>,
    /// The kinds a header may name, from [`HEADER_KINDS`].
    pub kinds: Vec<&'static str>,
}

impl Default for HeaderFaults {
    fn default() -> Self {
        HeaderFaults { max_delay: DEFAULT_MAX_DELAY, max_active: None, kinds: HEADER_KINDS.to_vec() }
    }
}

/// `header_faults` as written: `true`, `false`, or a table of caps.
#[derive(Debug)]
pub enum RawHeaderFaults {
    On(bool),
    Caps(RawHeaderCaps),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHeaderCaps {
    pub max_delay: Option<Spanned<NonZeroDur>>,
    pub max_active: Option<Spanned<u64>>,
    pub kinds: Option<Spanned<Vec<String>>>,
}

/// What `header_faults` takes, for messages.
pub const FORM: &str = "true, false, or a table of caps such as { max_delay = \"5s\", max_active = 10 }";

impl<'de> Deserialize<'de> for RawHeaderFaults {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawHeaderFaults;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(FORM)
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<RawHeaderFaults, E> {
                Ok(RawHeaderFaults::On(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawHeaderFaults, A::Error> {
                RawHeaderCaps::deserialize(de::value::MapAccessDeserializer::new(map)).map(RawHeaderFaults::Caps)
            }
        }
        d.deserialize_any(V)
    }
}

/// One problem: the offset of the value, the key under `header_faults`
/// (empty for the value itself), the message and a hint.
pub type Problem = (usize, &'static str, String, Option<String>);

/// The caps `raw` sets, or `None` when header faults are off.
pub fn validate(raw: &RawHeaderFaults) -> Result<Option<HeaderFaults>, Problem> {
    let caps = match raw {
        RawHeaderFaults::On(false) => return Ok(None),
        RawHeaderFaults::On(true) => return Ok(Some(HeaderFaults::default())),
        RawHeaderFaults::Caps(caps) => caps,
    };
    let mut policy = HeaderFaults::default();
    if let Some(d) = &caps.max_delay {
        policy.max_delay = d.get_ref().0;
    }
    if let Some(n) = &caps.max_active {
        let v = *n.get_ref();
        if v == 0 {
            return Err((n.span().start, "max_active", "must be at least 1, got 0".into(), None));
        }
        policy.max_active = Some(usize::try_from(v).unwrap_or(usize::MAX));
    }
    if let Some(kinds) = &caps.kinds {
        let mut chosen = Vec::new();
        for name in kinds.get_ref() {
            match HEADER_KINDS.iter().find(|k| **k == name) {
                Some(k) if !chosen.contains(k) => chosen.push(*k),
                Some(_) => {}
                None => {
                    let hint = did_you_mean(name, HEADER_KINDS).map(|s| format!("did you mean `{s}`?"));
                    let message = format!(
                        "must list kinds a request header may choose: {}; got {name:?}",
                        HEADER_KINDS.join(", ")
                    );
                    return Err((kinds.span().start, "kinds", message, hint));
                }
            }
        }
        if chosen.is_empty() {
            let hint = Some("write header_faults = false to turn header faults off".into());
            return Err((kinds.span().start, "kinds", "must name at least one kind".into(), hint));
        }
        policy.kinds = chosen;
    }
    Ok(Some(policy))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct File {
        header_faults: RawHeaderFaults,
    }

    fn read(text: &str) -> Result<Option<HeaderFaults>, String> {
        let file: File = toml::from_str(text).map_err(|e| e.message().to_string())?;
        validate(&file.header_faults).map_err(|(_, key, message, _)| format!("{key} {message}"))
    }

    #[test]
    fn header_faults_are_a_switch_or_a_table_of_caps() {
        assert_eq!(read("header_faults = false"), Ok(None));
        assert_eq!(read("header_faults = true"), Ok(Some(HeaderFaults::default())));
        let caps = read("header_faults = { max_delay = \"2s\", max_active = 3, kinds = [\"error\", \"latency\"] }");
        let want =
            HeaderFaults { max_delay: Duration::from_secs(2), max_active: Some(3), kinds: vec!["error", "latency"] };
        assert_eq!(caps, Ok(Some(want)));
        assert_eq!(read("header_faults = { max_active = 0 }"), Err("max_active must be at least 1, got 0".into()));
        assert!(read("header_faults = { kinds = [\"rate_limit\"] }").unwrap_err().contains("got \"rate_limit\""));
        assert!(read("header_faults = { max_dealy = \"2s\" }").unwrap_err().contains("unknown field `max_dealy`"));
        assert!(read("header_faults = \"yes\"").unwrap_err().contains(FORM));
    }
}
