//! The serde mirror of one fault as written in a file: every key any kind
//! takes, each with its position.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use toml::Spanned;

use crate::config::values::Dur;

/// A number written as an integer or a float.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Number(pub f64);

impl<'de> Deserialize<'de> for Number {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Number;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Number, E> {
                Ok(Number(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Number, E> {
                Ok(Number(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Number, E> {
                Ok(Number(v as f64))
            }
        }
        d.deserialize_any(V)
    }
}

/// One value or a list of them (`method = "GET"` or `method = ["GET", "HEAD"]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub(super) fn items(&self) -> Vec<&str> {
        match self {
            OneOrMany::One(s) => vec![s.as_str()],
            OneOrMany::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHeaderRule {
    pub equals: Option<String>,
    pub regex: Option<String>,
    pub present: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawHeaderTest {
    Exact(String),
    Rule(RawHeaderRule),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMatch {
    pub method: Option<Spanned<OneOrMany>>,
    pub path: Option<Spanned<String>>,
    pub headers: Option<Spanned<BTreeMap<String, RawHeaderTest>>>,
    pub query: Option<Spanned<BTreeMap<String, String>>>,
    pub client: Option<Spanned<OneOrMany>>,
}

/// Every key any fault kind takes; validation refuses the ones a kind does not.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFault {
    pub name: Option<Spanned<String>>,
    pub kind: Spanned<String>,
    pub target: Option<Spanned<String>>,
    pub probability: Option<Spanned<Number>>,
    pub first: Option<Spanned<u64>>,
    pub after: Option<Spanned<Dur>>,
    pub lasting: Option<Spanned<Dur>>,
    #[serde(rename = "match")]
    pub matcher: Option<Spanned<RawMatch>>,
    pub opt_in: Option<Spanned<String>>,
    pub direction: Option<Spanned<String>>,
    pub delay: Option<Spanned<Dur>>,
    pub jitter: Option<Spanned<Dur>>,
    pub distribution: Option<Spanned<String>>,
    pub min: Option<Spanned<Dur>>,
    pub max: Option<Spanned<Dur>>,
    pub limit: Option<Spanned<u64>>,
    pub mean: Option<Spanned<Dur>>,
    pub stddev: Option<Spanned<Dur>>,
    pub scale: Option<Spanned<Dur>>,
    pub shape: Option<Spanned<Number>>,
    pub at: Option<Spanned<String>>,
    pub status: Option<Spanned<i64>>,
    pub headers: Option<Spanned<BTreeMap<String, String>>>,
    pub body: Option<Spanned<String>>,
    pub rate: Option<Spanned<String>>,
    pub burst: Option<Spanned<u32>>,
    pub bytes: Option<Spanned<u64>>,
    pub when_full: Option<Spanned<String>>,
    pub queue_timeout: Option<Spanned<Dur>>,
    pub timeout_status: Option<Spanned<i64>>,
    pub mode: Option<Spanned<String>>,
    pub average_size: Option<Spanned<u64>>,
    pub size_variation: Option<Spanned<u64>>,
    pub timeout: Option<Spanned<Dur>>,
    /// Experiments only: step a parameter through a phase.
    pub ramp: Option<Spanned<RawRamp>>,
}

/// `ramp = { probability = [0.1, 1.0], delay = ["50ms", "2s"], steps = 10 }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRamp {
    pub probability: Option<[Number; 2]>,
    pub delay: Option<[Dur; 2]>,
    pub steps: Option<u32>,
}

/// Declares the optional keys of [`RawFault`]: each field and its name in files.
macro_rules! optional_keys {
    ($($field:ident => $key:literal),* $(,)?) => {
        impl RawFault {
            /// Every optional key, in the order of the fields.
            pub const OPTIONAL_KEYS: &[&str] = &[$($key),*];

            /// The optional keys this fault sets, with their positions.
            pub(super) fn present(&self) -> Vec<(&'static str, usize)> {
                let mut v: Vec<(&'static str, usize)> = Vec::new();
                $( if let Some(f) = &self.$field { v.push(($key, f.span().start)); } )*
                v
            }
        }
    };
}

optional_keys!(
    name => "name", target => "target", probability => "probability", first => "first",
    after => "after", lasting => "lasting", matcher => "match", opt_in => "opt_in",
    direction => "direction", delay => "delay", jitter => "jitter", distribution => "distribution",
    min => "min", max => "max", limit => "limit", mean => "mean", stddev => "stddev", scale => "scale", shape => "shape",
    at => "at", status => "status", headers => "headers", body => "body", rate => "rate",
    burst => "burst", bytes => "bytes", when_full => "when_full", queue_timeout => "queue_timeout",
    timeout_status => "timeout_status", mode => "mode", average_size => "average_size",
    size_variation => "size_variation", timeout => "timeout", ramp => "ramp",
);
