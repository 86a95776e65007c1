//! W3C trace context as brownout reads and writes it: the `traceparent`
//! header (version 00), trace and span ids, and their hex forms. A leaf: the
//! data path, the journal, the exporter and the reports share it, and it
//! imports none of them.
//!
//! brownout never changes a `traceparent` it did not create: a listener
//! reads the one it is sent, and only the observer, for a request that
//! came without one, writes its own.

use std::cell::Cell;
use std::hash::{BuildHasher, Hasher};

/// The header's name, lowercase (HTTP/2 and the plain path compare it so).
pub const TRACEPARENT: &str = "traceparent";
/// The length of a version-00 `traceparent`: `00-` + 32 + `-` + 16 + `-` + 2.
pub const TRACEPARENT_LEN: usize = 55;

/// What a valid incoming `traceparent` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parent {
    pub trace_id: u128,
    /// The caller's span: the parent of brownout's.
    pub span_id: u64,
    /// The caller recorded its span (`sampled`, flag 01).
    pub sampled: bool,
}

/// One exchange's place in a trace: brownout's own span, its trace and,
/// when the request carried one, the caller's span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpanIds {
    pub trace_id: u128,
    pub span_id: u64,
    pub parent_id: Option<u64>,
}

impl SpanIds {
    /// A span of brownout's under `parent`, or the root of a new trace.
    pub fn under(parent: Option<Parent>) -> SpanIds {
        match parent {
            Some(p) => SpanIds { trace_id: p.trace_id, span_id: span_id(), parent_id: Some(p.span_id) },
            None => SpanIds { trace_id: trace_id(), span_id: span_id(), parent_id: None },
        }
    }

    /// The `traceparent` that makes this span the parent of what follows
    /// (sampled: brownout records every span it makes).
    pub fn traceparent(&self) -> [u8; TRACEPARENT_LEN] {
        let mut out = [0u8; TRACEPARENT_LEN];
        out[..3].copy_from_slice(b"00-");
        hex_into(&mut out[3..35], self.trace_id.to_be_bytes().as_slice());
        out[35] = b'-';
        hex_into(&mut out[36..52], self.span_id.to_be_bytes().as_slice());
        out[52..].copy_from_slice(b"-01");
        out
    }
}

/// Parses a `traceparent` value by the W3C rules: a version other than
/// `ff`, then for version 00 exactly the 55 characters of its form (a later
/// version may add fields after a dash), lowercase hex, and ids that are
/// not all zeros. Anything else is `None`: not a trace brownout can join.
pub fn parse(value: &[u8]) -> Option<Parent> {
    let value = value.trim_ascii();
    if value.len() < TRACEPARENT_LEN {
        return None;
    }
    let version = hex_u128(&value[0..2])?;
    if version == 0xff || (version == 0 && value.len() != TRACEPARENT_LEN) {
        return None;
    }
    if value.len() > TRACEPARENT_LEN && value[TRACEPARENT_LEN] != b'-' {
        return None;
    }
    if value[2] != b'-' || value[35] != b'-' || value[52] != b'-' {
        return None;
    }
    let trace_id = hex_u128(&value[3..35]).filter(|t| *t != 0)?;
    let span_id = hex_u128(&value[36..52]).filter(|s| *s != 0)? as u64;
    let flags = hex_u128(&value[53..55])?;
    Some(Parent { trace_id, span_id, sampled: flags & 1 == 1 })
}

/// Lowercase hex digits only (W3C: uppercase makes the field invalid).
fn hex_u128(digits: &[u8]) -> Option<u128> {
    if digits.is_empty() || digits.len() > 32 {
        return None;
    }
    let mut n: u128 = 0;
    for &d in digits {
        let v = match d {
            b'0'..=b'9' => d - b'0',
            b'a'..=b'f' => d - b'a' + 10,
            _ => return None,
        };
        n = (n << 4) | u128::from(v);
    }
    Some(n)
}

fn hex_into(out: &mut [u8], bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (i, b) in bytes.iter().enumerate() {
        out[2 * i] = DIGITS[usize::from(b >> 4)];
        out[2 * i + 1] = DIGITS[usize::from(b & 0xf)];
    }
}

/// A trace id as 32 lowercase hex digits.
pub fn trace_hex(id: u128) -> String {
    hex_string(&id.to_be_bytes())
}

/// A span id as 16 lowercase hex digits.
pub fn span_hex(id: u64) -> String {
    hex_string(&id.to_be_bytes())
}

/// Every journal line of an exchange carries its ids in hex: written by a
/// table, as `traceparent` is, not by the formatter's machinery.
fn hex_string(bytes: &[u8]) -> String {
    let mut digits = [0u8; 32];
    let digits = &mut digits[..2 * bytes.len()];
    hex_into(digits, bytes);
    // Hex digits are ASCII: this never falls back.
    std::str::from_utf8(digits).unwrap_or_default().to_owned()
}

/// A trace id from its 32 hex digits.
pub fn parse_trace_hex(text: &str) -> Option<u128> {
    (text.len() == 32).then(|| hex_u128(text.as_bytes())).flatten()
}

/// A span id from its 16 hex digits.
pub fn parse_span_hex(text: &str) -> Option<u64> {
    (text.len() == 16).then(|| hex_u128(text.as_bytes()).map(|n| n as u64)).flatten()
}

/// A new random trace id, never zero.
pub fn trace_id() -> u128 {
    loop {
        let id = (u128::from(next()) << 64) | u128::from(next());
        if id != 0 {
            return id;
        }
    }
}

/// A new random span id, never zero.
pub fn span_id() -> u64 {
    loop {
        let id = next();
        if id != 0 {
            return id;
        }
    }
}

thread_local! {
    /// Each thread's generator state, seeded from the process's random hash
    /// keys (drawn from the operating system) and the thread: ids are
    /// random, not derived from a run's seed, so two runs never share them.
    static STATE: Cell<u64> = Cell::new(seed());
}

fn seed() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64));
    h.write(format!("{:?}", std::thread::current().id()).as_bytes());
    h.finish()
}

/// splitmix64: fast, and every state gives a well-mixed output.
fn next() -> u64 {
    STATE.with(|s| {
        let x = s.get().wrapping_add(0x9e37_79b9_7f4a_7c15);
        s.set(x);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn the_w3c_example_parses_and_writes_back_the_same() {
        let p = parse(EXAMPLE.as_bytes()).expect("valid");
        assert_eq!(p.trace_id, 0x4bf92f3577b34da6a3ce929d0e0e4736);
        assert_eq!(p.span_id, 0x00f067aa0ba902b7);
        assert!(p.sampled);
        let ids = SpanIds { trace_id: p.trace_id, span_id: p.span_id, parent_id: None };
        assert_eq!(&ids.traceparent()[..], EXAMPLE.as_bytes());
        assert_eq!(trace_hex(p.trace_id), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(parse_trace_hex("4bf92f3577b34da6a3ce929d0e0e4736"), Some(p.trace_id));
        assert_eq!(parse_span_hex(&span_hex(p.span_id)), Some(p.span_id));
    }

    #[test]
    fn invalid_values_are_not_joined() {
        let bad = [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
            "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
        ];
        for v in bad {
            assert_eq!(parse(v.as_bytes()), None, "{v:?}");
        }
    }

    #[test]
    fn a_later_version_may_carry_more_fields_and_flags_say_sampled() {
        let p = parse(b"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-what-comes-next").expect("valid");
        assert!(!p.sampled);
    }

    #[test]
    fn ids_in_hex_are_the_formatters_lowercase_zero_padded_digits() {
        for id in [0, 1, 0xf, 0x00f0_67aa_0ba9_02b7, u64::MAX] {
            assert_eq!(span_hex(id), format!("{id:016x}"));
            assert_eq!(parse_span_hex(&span_hex(id)), Some(id));
        }
        for id in [0, 1, 0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736, u128::MAX, 1 << 64] {
            assert_eq!(trace_hex(id), format!("{id:032x}"));
            assert_eq!(parse_trace_hex(&trace_hex(id)), Some(id));
        }
    }

    #[test]
    fn new_ids_are_nonzero_and_differ() {
        let ids: std::collections::HashSet<u64> = (0..1000).map(|_| span_id()).collect();
        assert_eq!(ids.len(), 1000);
        assert_ne!(trace_id(), trace_id());
        let child = SpanIds::under(parse(EXAMPLE.as_bytes()));
        assert_eq!(child.trace_id, 0x4bf92f3577b34da6a3ce929d0e0e4736);
        assert_eq!(child.parent_id, Some(0x00f067aa0ba902b7));
        assert_ne!(child.span_id, 0x00f067aa0ba902b7);
        let made = std::str::from_utf8(&child.traceparent()).expect("ascii").to_string();
        assert_eq!(parse(made.as_bytes()).map(|p| p.span_id), Some(child.span_id));
    }
}
