//! The few protobuf encodings an OTLP export needs, written straight into
//! one buffer: varints, fixed-width numbers, strings and bytes, nested
//! messages, and OpenTelemetry's `KeyValue` attributes.
//!
//! A span is written once, where it will be sent: no message structs are
//! built and no lengths computed twice. A nested message whose length is
//! known only once written ([`message`]) has its length put in front
//! afterwards, moving its bytes by the length's few bytes.

/// Wire types.
const VARINT: u32 = 0;
const I64: u32 = 1;
const LEN: u32 = 2;
const I32: u32 = 5;

/// `AnyValue`'s fields, and `KeyValue`'s.
const ANY_STRING: u32 = 1;
const ANY_INT: u32 = 3;
const KV_KEY: u32 = 1;
const KV_VALUE: u32 = 2;

#[inline]
pub fn varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

/// `v` as a varint, and how many of the bytes it takes.
fn encode_varint(mut v: u64) -> ([u8; 10], usize) {
    let mut bytes = [0; 10];
    let mut n = 0;
    while v >= 0x80 {
        bytes[n] = (v as u8) | 0x80;
        v >>= 7;
        n += 1;
    }
    bytes[n] = v as u8;
    (bytes, n + 1)
}

/// How many bytes [`varint`] writes for `v`.
#[inline]
pub fn varint_len(v: u64) -> usize {
    // One byte per started group of seven bits, and one for zero.
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

#[inline]
fn key(buf: &mut Vec<u8>, field: u32, wire: u32) {
    varint(buf, u64::from(field << 3 | wire));
}

/// The length of a field's key (a tag below 16 takes one byte).
fn key_len(field: u32) -> usize {
    varint_len(u64::from(field << 3))
}

pub fn bytes(buf: &mut Vec<u8>, field: u32, value: &[u8]) {
    key(buf, field, LEN);
    varint(buf, value.len() as u64);
    buf.extend_from_slice(value);
}

pub fn string(buf: &mut Vec<u8>, field: u32, value: &str) {
    bytes(buf, field, value.as_bytes());
}

pub fn uint(buf: &mut Vec<u8>, field: u32, value: u64) {
    key(buf, field, VARINT);
    varint(buf, value);
}

pub fn fixed64(buf: &mut Vec<u8>, field: u32, value: u64) {
    key(buf, field, I64);
    buf.extend_from_slice(&value.to_le_bytes());
}

pub fn fixed32(buf: &mut Vec<u8>, field: u32, value: u32) {
    key(buf, field, I32);
    buf.extend_from_slice(&value.to_le_bytes());
}

/// The key and length of a nested message of `len` bytes, which the
/// caller writes next.
pub fn message_head(buf: &mut Vec<u8>, field: u32, len: usize) {
    key(buf, field, LEN);
    varint(buf, len as u64);
}

/// How many bytes [`message_head`] writes.
pub fn message_head_len(field: u32, len: usize) -> usize {
    key_len(field) + varint_len(len as u64)
}

/// A nested message: `write` puts its fields, then its length goes in
/// front of them.
pub fn message(buf: &mut Vec<u8>, field: u32, write: impl FnOnce(&mut Vec<u8>)) {
    key(buf, field, LEN);
    let at = buf.len();
    write(buf);
    let len = buf.len() - at;
    let (head, n) = encode_varint(len as u64);
    // Room for the length, the message moved past it, the length put in.
    buf.resize(buf.len() + n, 0);
    buf.copy_within(at..at + len, at + n);
    buf[at..at + n].copy_from_slice(&head[..n]);
}

/// A `KeyValue` whose value is a string.
pub fn text(buf: &mut Vec<u8>, field: u32, name: &str, value: &str) {
    let any = key_len(ANY_STRING) + varint_len(value.len() as u64) + value.len();
    key_value(buf, field, name, any, |b| string(b, ANY_STRING, value));
}

/// A `KeyValue` whose value is an integer (`int64`; above its range, its
/// largest).
pub fn int(buf: &mut Vec<u8>, field: u32, name: &str, value: u64) {
    let value = value.min(i64::MAX as u64);
    let any = key_len(ANY_INT) + varint_len(value);
    key_value(buf, field, name, any, |b| uint(b, ANY_INT, value));
}

/// A `KeyValue` named `name` whose `AnyValue` (`any` bytes long) `value`
/// writes: every length is known before the first byte goes in.
#[inline]
fn key_value(buf: &mut Vec<u8>, field: u32, name: &str, any: usize, value: impl FnOnce(&mut Vec<u8>)) {
    let kv =
        key_len(KV_KEY) + varint_len(name.len() as u64) + name.len() + key_len(KV_VALUE) + varint_len(any as u64) + any;
    buf.reserve(kv + 4);
    key(buf, field, LEN);
    varint(buf, kv as u64);
    string(buf, KV_KEY, name);
    key(buf, KV_VALUE, LEN);
    varint(buf, any as u64);
    value(buf);
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::{any_value::Value, InstrumentationScope};
    use prost::Message;

    #[test]
    fn varint_lengths_match_what_is_written() {
        for v in [0, 1, 127, 128, 16_383, 16_384, u64::from(u32::MAX), i64::MAX as u64, u64::MAX] {
            let mut buf = Vec::new();
            varint(&mut buf, v);
            assert_eq!(buf.len(), varint_len(v), "{v}");
            assert_eq!(buf.len(), prost::encoding::encoded_len_varint(v), "{v}");
        }
    }

    /// What is written decodes with prost's generated types, at lengths
    /// around each varint boundary of the nested message's length.
    #[test]
    fn nested_messages_and_attributes_decode_as_prost_reads_them() {
        for n in [0, 1, 100, 127, 128, 200, 16_383, 16_384, 70_000] {
            let name = "n".repeat(n);
            let mut buf = Vec::new();
            message(&mut buf, 1, |b| {
                string(b, 1, &name);
                text(b, 3, "brownout.listener", &name);
                int(b, 3, "server.port", 9001);
                int(b, 3, "big", u64::MAX);
            });
            // An `InstrumentationScope` in a message's field 1.
            let mut slice = &buf[..];
            let tag = prost::encoding::decode_varint(&mut slice).unwrap();
            assert_eq!(tag, 1 << 3 | 2);
            let scope = InstrumentationScope::decode_length_delimited(slice).unwrap();
            assert_eq!(scope.name, name);
            let values: Vec<_> =
                scope.attributes.iter().map(|kv| (kv.key.as_str(), kv.value.clone().unwrap().value.unwrap())).collect();
            assert_eq!(values[0], ("brownout.listener", Value::StringValue(name.clone())));
            assert_eq!(values[1], ("server.port", Value::IntValue(9001)));
            assert_eq!(values[2], ("big", Value::IntValue(i64::MAX)));
        }
    }
}
