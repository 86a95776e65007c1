//! The fields of plain heads, shared by requests and responses: value
//! tokens, lengths, which fields are hop-by-hop, and writing one field.

use crate::proxy::http::headers::HOP_BY_HOP_NAMES;

/// The most header fields a plain request or response may have (hyper's
/// limit too).
pub(super) const MAX_HEADERS: usize = 100;

/// A header value's comma-separated tokens, trimmed.
pub(super) fn tokens(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value.split(|b| *b == b',').map(|t| t.trim_ascii()).filter(|t| !t.is_empty())
}

pub(super) fn parse_length(value: &[u8]) -> Option<u64> {
    let value = value.trim_ascii();
    if value.is_empty() || value.len() > 18 || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(value).ok()?.parse().ok()
}

/// What a head's `Connection` fields say: whether they ask for a close,
/// and the fields they name beyond the hop-by-hop ones (which go anyway):
/// none, and so nothing allocated, for the usual `keep-alive` or `close`.
pub(super) struct Connection<'a> {
    pub(super) close: bool,
    pub(super) named: Vec<&'a [u8]>,
}

impl<'a> Connection<'a> {
    /// Reads the values of a head's `Connection` fields.
    pub(super) fn of(values: impl Iterator<Item = &'a [u8]>) -> Self {
        let mut connection = Connection { close: false, named: Vec::new() };
        for token in values.flat_map(tokens) {
            if token.eq_ignore_ascii_case(b"close") {
                connection.close = true;
            }
            if !HOP_BY_HOP_NAMES.iter().any(|h| token.eq_ignore_ascii_case(h.as_bytes())) {
                connection.named.push(token);
            }
        }
        connection
    }

    /// Reads the `Connection` fields of a parsed head.
    pub(super) fn of_fields(fields: &[httparse::Header<'a>]) -> Self {
        Self::of(fields.iter().filter(|h| h.name.eq_ignore_ascii_case("connection")).map(|h| h.value))
    }
}

/// True when a field is not passed on: hop-by-hop, or named by the head's
/// `Connection` fields. `Content-Length` frames the message and always
/// passes, whatever `Connection` says: dropping it would let the body be
/// read as another message.
pub(super) fn is_hop(name: &str, connection: &Connection<'_>) -> bool {
    HOP_BY_HOP_NAMES.iter().any(|h| h.len() == name.len() && name.eq_ignore_ascii_case(h))
        || (!connection.named.is_empty()
            && !name.eq_ignore_ascii_case("content-length")
            && connection.named.iter().any(|t| t.eq_ignore_ascii_case(name.as_bytes())))
}

pub(super) fn put_field(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_are_plain_digits() {
        assert_eq!(parse_length(b" 42 "), Some(42));
        for bad in [&b""[..], b"-1", b"+1", b"4 2", b"0x10", b"1,1", b"9999999999999999999"] {
            assert_eq!(parse_length(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
