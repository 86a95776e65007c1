//! The serde mirror of one fault as written in a TOML file or a JSON body:
//! every key any kind takes, each with its position where the source has one.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;

use serde::de::{self, DeserializeOwned, Deserializer, Visitor};
use serde::Deserialize;

use crate::config::values::Dur;

/// What a raw fault was read from, which decides how it holds each value: a
/// TOML file keeps every value's position for its messages, JSON has none.
pub trait Source: fmt::Debug {
    /// A value as this source holds it.
    type Spanned<T: DeserializeOwned + fmt::Debug>: Located<Inner = T> + DeserializeOwned + fmt::Debug;
}

/// A value and where it was read.
pub trait Located {
    type Inner;
    fn get_ref(&self) -> &Self::Inner;
    /// The value's byte range in its text; `0..0` when the source has no positions.
    fn span(&self) -> Range<usize>;
}

/// A TOML file: each value is a [`toml::Spanned`], which only the TOML
/// deserializer can fill in.
#[derive(Debug)]
pub enum Toml {}

/// A JSON body: each value is [`Bare`].
#[derive(Debug)]
pub enum Json {}

impl Source for Toml {
    type Spanned<T: DeserializeOwned + fmt::Debug> = toml::Spanned<T>;
}

impl Source for Json {
    type Spanned<T: DeserializeOwned + fmt::Debug> = Bare<T>;
}

/// A value read without a position; it deserializes as the value itself.
#[derive(Debug, Deserialize)]
#[serde(transparent)]
pub struct Bare<T>(pub T);

impl<T> Located for toml::Spanned<T> {
    type Inner = T;

    fn get_ref(&self) -> &T {
        toml::Spanned::get_ref(self)
    }

    fn span(&self) -> Range<usize> {
        toml::Spanned::span(self)
    }
}

impl<T> Located for Bare<T> {
    type Inner = T;

    fn get_ref(&self) -> &T {
        &self.0
    }

    fn span(&self) -> Range<usize> {
        0..0
    }
}

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

/// A code written as a number or by its name (`14` or `"UNAVAILABLE"`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum NumberOrName {
    Number(i64),
    Name(String),
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
#[serde(deny_unknown_fields, bound = "")]
pub struct RawMatch<S: Source = Toml> {
    pub method: Option<S::Spanned<OneOrMany>>,
    pub path: Option<S::Spanned<String>>,
    pub headers: Option<S::Spanned<BTreeMap<String, RawHeaderTest>>>,
    pub query: Option<S::Spanned<BTreeMap<String, String>>>,
    pub client: Option<S::Spanned<OneOrMany>>,
}

/// Every key any fault kind takes; validation refuses the ones a kind does not.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, bound = "")]
pub struct RawFault<S: Source = Toml> {
    pub name: Option<S::Spanned<String>>,
    pub kind: S::Spanned<String>,
    pub target: Option<S::Spanned<String>>,
    pub probability: Option<S::Spanned<Number>>,
    pub first: Option<S::Spanned<u64>>,
    pub after: Option<S::Spanned<Dur>>,
    pub lasting: Option<S::Spanned<Dur>>,
    #[serde(rename = "match")]
    pub matcher: Option<S::Spanned<RawMatch<S>>>,
    pub opt_in: Option<S::Spanned<String>>,
    pub direction: Option<S::Spanned<String>>,
    pub delay: Option<S::Spanned<Dur>>,
    pub jitter: Option<S::Spanned<Dur>>,
    pub distribution: Option<S::Spanned<String>>,
    pub min: Option<S::Spanned<Dur>>,
    pub max: Option<S::Spanned<Dur>>,
    pub limit: Option<S::Spanned<u64>>,
    pub mean: Option<S::Spanned<Dur>>,
    pub stddev: Option<S::Spanned<Dur>>,
    pub scale: Option<S::Spanned<Dur>>,
    pub shape: Option<S::Spanned<Number>>,
    pub at: Option<S::Spanned<String>>,
    pub status: Option<S::Spanned<i64>>,
    pub headers: Option<S::Spanned<BTreeMap<String, String>>>,
    pub body: Option<S::Spanned<String>>,
    pub rate: Option<S::Spanned<String>>,
    pub burst: Option<S::Spanned<u32>>,
    pub bytes: Option<S::Spanned<u64>>,
    pub when_full: Option<S::Spanned<String>>,
    pub queue_timeout: Option<S::Spanned<Dur>>,
    pub timeout_status: Option<S::Spanned<i64>>,
    pub mode: Option<S::Spanned<String>>,
    pub average_size: Option<S::Spanned<u64>>,
    pub size_variation: Option<S::Spanned<u64>>,
    pub timeout: Option<S::Spanned<Dur>>,
    /// A gRPC status of a grpc_error fault.
    pub code: Option<S::Spanned<NumberOrName>>,
    pub message: Option<S::Spanned<String>>,
    /// The HTTP/2 error code of a reset fault's RST_STREAM.
    pub error_code: Option<S::Spanned<NumberOrName>>,
    /// Experiments only: step a parameter through a phase.
    pub ramp: Option<S::Spanned<RawRamp>>,
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
        /// Every optional key of a fault, in the order of the fields.
        pub const OPTIONAL_KEYS: &[&str] = &[$($key),*];

        impl<S: Source> RawFault<S> {
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
    size_variation => "size_variation", timeout => "timeout", code => "code", message => "message",
    error_code => "error_code", ramp => "ramp",
);
