//! gRPC's words as brownout reads and writes them: status codes and their
//! names, the `grpc-timeout` header, and which requests are gRPC calls.
//! A leaf: the config, the faults, the data path, the journal and the
//! reports all share it, and it imports none of them.

use std::time::Duration;

use http::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use http::HeaderMap;

pub static GRPC_STATUS: HeaderName = HeaderName::from_static("grpc-status");
pub static GRPC_MESSAGE: HeaderName = HeaderName::from_static("grpc-message");
pub static GRPC_TIMEOUT: HeaderName = HeaderName::from_static("grpc-timeout");
/// How long a client should wait before retrying (gRPC's retry pushback).
pub static GRPC_RETRY_PUSHBACK_MS: HeaderName = HeaderName::from_static("grpc-retry-pushback-ms");

/// The status codes of gRPC, by number (the index) and name.
pub const CODES: [&str; 17] = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];

pub const DEADLINE_EXCEEDED: u16 = 4;
pub const RESOURCE_EXHAUSTED: u16 = 8;
pub const UNAVAILABLE: u16 = 14;

/// The name of a code (`UNAVAILABLE`), or the number itself for codes
/// beyond the ones gRPC defines.
pub fn code_name(code: u16) -> String {
    CODES.get(usize::from(code)).map_or_else(|| code.to_string(), |n| (*n).to_string())
}

/// A code by its name, in any case (`"unavailable"`, `"UNAVAILABLE"`).
pub fn code_by_name(name: &str) -> Option<u16> {
    CODES.iter().position(|n| n.eq_ignore_ascii_case(name)).and_then(|i| u16::try_from(i).ok())
}

/// True for a gRPC call: `content-type: application/grpc` or
/// `application/grpc+proto` (and other `+` suffixes), but not gRPC-Web,
/// whose status travels in the body.
pub fn is_grpc(headers: &HeaderMap) -> bool {
    let Some(ct) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else { return false };
    let ct = ct.trim();
    let Some(rest) = ct.get(..16).filter(|p| p.eq_ignore_ascii_case("application/grpc")).map(|_| &ct[16..]) else {
        return false;
    };
    rest.is_empty() || rest.starts_with('+') || rest.starts_with(';')
}

/// The deadline a call's `grpc-timeout` header gives (`"250m"`: 250 ms;
/// units `H`, `M`, `S`, `m`, `u`, `n`; at most eight digits), if it has a
/// valid one.
pub fn timeout(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get(&GRPC_TIMEOUT)?.to_str().ok()?;
    parse_timeout(v)
}

fn parse_timeout(v: &str) -> Option<Duration> {
    let (digits, unit) = v.split_at(v.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n * 3600),
        "M" => Duration::from_secs(n * 60),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

/// The code in a `grpc-status` field, if there is one and it is a number.
pub fn status_of(headers: &HeaderMap) -> Option<u16> {
    headers.get(&GRPC_STATUS)?.to_str().ok()?.trim().parse().ok()
}

/// The `grpc-message` of a status, percent-decoded (lossily, as gRPC's own
/// clients do).
pub fn message_of(headers: &HeaderMap) -> Option<String> {
    let raw = headers.get(&GRPC_MESSAGE)?.as_bytes();
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if raw[i] == b'%' && i + 2 < raw.len() {
            if let (Some(h), Some(l)) = (hex(raw[i + 1]), hex(raw[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(raw[i]);
        i += 1;
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

/// `message` percent-encoded as `grpc-message` wants it: printable ASCII
/// but `%` as is, everything else as `%XX` of its UTF-8 bytes.
pub fn encode_message(message: &str) -> HeaderValue {
    let mut out = String::with_capacity(message.len());
    for b in message.bytes() {
        if (0x20..=0x7e).contains(&b) && b != b'%' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    HeaderValue::from_str(&out).unwrap_or_else(|_| HeaderValue::from_static(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_read_by_name_in_any_case_and_print_by_name() {
        assert_eq!(code_by_name("UNAVAILABLE"), Some(UNAVAILABLE));
        assert_eq!(code_by_name("deadline_exceeded"), Some(DEADLINE_EXCEEDED));
        assert_eq!(code_by_name("UNAVAILABLEX"), None);
        assert_eq!(code_name(8), "RESOURCE_EXHAUSTED");
        assert_eq!(code_name(42), "42");
    }

    #[test]
    fn grpc_timeouts_parse_in_every_unit_and_bad_ones_are_ignored() {
        let cases = [
            ("1H", Some(Duration::from_secs(3600))),
            ("2M", Some(Duration::from_secs(120))),
            ("3S", Some(Duration::from_secs(3))),
            ("250m", Some(Duration::from_millis(250))),
            ("7u", Some(Duration::from_micros(7))),
            ("99999999n", Some(Duration::from_nanos(99_999_999))),
            ("123456789m", None),
            ("m", None),
            ("5s", None),
            ("-5S", None),
            ("", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_timeout(text), want, "{text:?}");
        }
    }

    #[test]
    fn grpc_content_types_are_told_from_others() {
        let with = |ct: &str| {
            let mut h = HeaderMap::new();
            h.insert(CONTENT_TYPE, HeaderValue::from_str(ct).unwrap());
            is_grpc(&h)
        };
        assert!(with("application/grpc"));
        assert!(with("application/grpc+proto"));
        assert!(with("Application/GRPC; charset=utf-8"));
        assert!(!with("application/grpc-web"));
        assert!(!with("application/grpc-web+proto"));
        assert!(!with("application/json"));
        assert!(!is_grpc(&HeaderMap::new()));
    }

    #[test]
    fn messages_are_percent_encoded_and_decoded_back() {
        let text = "payments: 100% down, réessayez";
        let encoded = encode_message(text);
        assert_eq!(encoded, "payments: 100%25 down, r%C3%A9essayez");
        let mut h = HeaderMap::new();
        h.insert(&GRPC_MESSAGE, encoded);
        assert_eq!(message_of(&h).as_deref(), Some(text));
    }
}
