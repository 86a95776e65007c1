//! Proxy configuration: the raw serde mirror, validation, and the model.
//!
//! `raw.rs` mirrors the file for serde, `values.rs` reads the values written
//! as strings (durations, addresses), `validate/` turns the raw form into
//! the model of `model.rs`, `fault/` does the same for one fault,
//! `header_faults.rs` for a target's `header_faults`, `tls.rs` reads a
//! listener's `tls`, `error.rs` says what is wrong and where, and
//! `describe.rs` says what was understood. This file holds the entry points.
//!
//! Loading is strict: unknown keys, wrong types and impossible values are
//! refused with `file:line:col`, the key path, the value and the expected form,
//! before anything binds.

mod describe;
mod error;
pub mod fault;
mod header_faults;
mod model;
pub(crate) mod raw;
mod tls;
mod validate;
mod values;

use std::path::Path;
use std::time::Duration;

pub use error::{did_you_mean, FileError, Locator, Problem};
pub use header_faults::{HeaderFaults, DEFAULT_MAX_DELAY, HEADER_KINDS};
pub(crate) use header_faults::{RawHeaderCaps, FORM as HEADER_FAULTS_FORM};
pub use model::*;
pub(crate) use tls::RawTlsTable;
pub use values::parse_percent;
pub use values::{parse_duration, Dur, HostPort, ListenAddr, NonZeroDur, Timeout, MAX_DURATION};
pub(crate) use values::{DURATION_FORM, HOST_PORT_FORM, LISTEN_FORM, NON_ZERO_FORM, TIMEOUT_FORM};

pub(crate) use raw::RawConfig;

pub const DEFAULT_ADMIN: &str = "127.0.0.1:8474";
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Reads and validates a config file.
pub fn load(path: &Path) -> Result<Config, FileError> {
    let text =
        std::fs::read_to_string(path).map_err(|source| FileError::Read { file: path.display().to_string(), source })?;
    parse(&path.display().to_string(), &text, path.parent())
}

/// Validates config text; `file` names it in messages and `base_dir` anchors
/// relative paths such as `ca_file`.
pub fn parse(file: &str, text: &str, base_dir: Option<&Path>) -> Result<Config, FileError> {
    let loc = Locator { file, text };
    let raw: RawConfig = deserialize(&loc)?;
    validate(&loc, base_dir, raw)
}

/// Validates a raw config (also the inline part of an experiment file).
pub(crate) fn validate(loc: &Locator<'_>, base_dir: Option<&Path>, raw: RawConfig) -> Result<Config, FileError> {
    validate::Validator::new(loc, base_dir).config(raw)
}

/// Deserializes strictly, turning serde's first complaint into a [`Problem`]
/// with a position, a key path and, for unknown keys, a suggestion.
pub fn deserialize<T: serde::de::DeserializeOwned>(loc: &Locator<'_>) -> Result<T, FileError> {
    let de = toml::Deserializer::parse(loc.text).map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        FileError::Invalid(vec![loc.problem(offset, "", clean_message(e.message()))])
    })?;
    serde_path_to_error::deserialize(de).map_err(|e| {
        let complaint = Complaint::new(e.path(), e.inner().message());
        let offset = e.inner().span().map_or(0, |s| s.start);
        let mut p = loc.problem(offset, complaint.key, complaint.message);
        p.hint = complaint.hint;
        FileError::Invalid(vec![p])
    })
}

/// serde's first complaint about a file or a JSON body, in brownout's words.
struct Complaint {
    /// The key path, such as `target[0].fault[1].status`; empty for the whole text.
    key: String,
    message: String,
    hint: Option<String>,
}

impl Complaint {
    /// serde's `message` about the value at `path`.
    fn new(path: &serde_path_to_error::Path, message: &str) -> Complaint {
        // A `toml::Spanned` value is a table of its own inside serde; its
        // name is no key anyone wrote.
        let key = key_path(path);
        explain(Complaint { key, message: clean_message(message), hint: None })
    }
}

/// `target[0].fault[1].status`, with keys that are no bare TOML key quoted
/// as the file writes them (`service.shop."POST /checkout".tier`). A
/// `toml::Spanned` value is a table of its own inside serde; its name is
/// no key anyone wrote.
fn key_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } if key == "$__serde_spanned_private_value" => {}
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                let bare = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
                out.push_str(&if bare { key.clone() } else { format!("{key:?}") });
            }
            Segment::Unknown => out.push_str(if out.is_empty() { "?" } else { ".?" }),
        }
    }
    out
}

fn clean_message(message: &str) -> String {
    let message = message.trim().trim_end_matches('.').replace('\n', " ");
    if let Some(rest) = message.strip_prefix("invalid type: ") {
        if let Some((got, expected)) = rest.split_once(", expected ") {
            return format!("must be {}, got {got}", plain_type(expected));
        }
    }
    if let Some(rest) = message.strip_prefix("missing field ") {
        return format!("is missing the key {rest}");
    }
    message
}

/// serde's name of an expected type in the words of the files.
fn plain_type(expected: &str) -> &str {
    match expected {
        "u8" | "u16" | "u32" | "u64" | "usize" => "a whole number, 0 or more",
        "i8" | "i16" | "i32" | "i64" | "isize" => "a whole number",
        "f32" | "f64" => "a number",
        other => other,
    }
}

/// Rewrites serde's unknown-key and unknown-variant messages into brownout's
/// form and adds a did-you-mean hint.
fn explain(mut p: Complaint) -> Complaint {
    let message = p.message.clone();
    let ticked: Vec<&str> = message.split('`').skip(1).step_by(2).collect();
    let Some((&word, expected)) = ticked.split_first() else {
        return p;
    };
    let what = if p.message.starts_with("unknown field") {
        "key"
    } else if p.message.starts_with("unknown variant") {
        "value"
    } else {
        return p;
    };
    if what == "key" && !p.key.ends_with(word) {
        p.key = if p.key.is_empty() { word.to_string() } else { format!("{}.{word}", p.key) };
    }
    let list = expected.join(", ");
    p.message = match (what, expected.is_empty()) {
        ("key", false) => format!("is not a known key; expected one of: {list}"),
        ("key", true) => "is not a known key; this table takes none".to_string(),
        _ => format!("must be one of: {list}; got {word:?}"),
    };
    p.hint = did_you_mean(word, expected.iter().copied()).map(|s| format!("did you mean `{s}`?"));
    p
}
