//! The canonical payload of a record — one byte string holding every field — and the chain hash over it.
//! It does not touch `SQLite`: the store keeps these bytes exactly as written, and verify re-hashes them.
//!
//! Layout (integers big-endian; `str` = `u32` byte length + UTF-8):
//! `version u8 = 1 · seq u64 · at i64 (Unix ns) · profile str · gateway str · account str · client_id i32 ·
//! kind str · data value`, where a value is a tag byte followed by: nothing (null, false, true), `i64`
//! (negative integers), `u64` (non-negative integers), `f64` bits (floats, kept bit-exact), `str`, an array
//! (`u32` count + values) or an object (`u32` count + `str` key and value pairs, keys in map order).
//! Binary rather than JSON so that floats round-trip exactly and verify can read the header without parsing
//! `data`.

use serde_json::{Map, Number, Value};
use sha2::{Digest, Sha256};

use super::Entry;

/// Format version: the first byte of every payload.
const VERSION: u8 = 1;
/// Deepest nesting of arrays and objects in `data` (`serde_json`'s parser stops at 128 as well).
pub(crate) const MAX_DEPTH: usize = 128;

const NULL: u8 = 0;
const FALSE: u8 = 1;
const TRUE: u8 = 2;
const NEG_INT: u8 = 3;
const POS_INT: u8 = 4;
const FLOAT: u8 = 5;
const STRING: u8 = 6;
const ARRAY: u8 = 7;
const OBJECT: u8 = 8;

/// SHA-256 over the previous record's hash and this record's payload bytes.
pub(crate) fn chain_hash(prev: &[u8; 32], payload: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(prev);
    hasher.update(payload);
    hasher.finalize().into()
}

/// The payload of `entry` stored as record `seq`; `at_ns` is `entry.at` in Unix nanoseconds.
pub(crate) fn encode(seq: u64, at_ns: i64, entry: &Entry) -> Result<Vec<u8>, String> {
    let envelope = &entry.envelope;
    let mut out = Vec::with_capacity(64 + envelope.profile.len() + envelope.gateway.len() + entry.kind.len());
    out.push(VERSION);
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&at_ns.to_be_bytes());
    put_str(&mut out, &envelope.profile, "profile")?;
    put_str(&mut out, &envelope.gateway, "gateway")?;
    put_str(&mut out, &envelope.account, "account")?;
    out.extend_from_slice(&envelope.client_id.to_be_bytes());
    put_str(&mut out, &entry.kind, "kind")?;
    put_value(&mut out, &entry.data, 0)?;
    Ok(out)
}

fn put_len(out: &mut Vec<u8>, len: usize, what: &str) -> Result<(), String> {
    let len = u32::try_from(len).map_err(|_| format!("{what} is longer than 4 GiB"))?;
    out.extend_from_slice(&len.to_be_bytes());
    Ok(())
}

fn put_str(out: &mut Vec<u8>, text: &str, what: &str) -> Result<(), String> {
    put_len(out, text.len(), what)?;
    out.extend_from_slice(text.as_bytes());
    Ok(())
}

fn put_value(out: &mut Vec<u8>, value: &Value, depth: usize) -> Result<(), String> {
    match value {
        Value::Null => out.push(NULL),
        Value::Bool(false) => out.push(FALSE),
        Value::Bool(true) => out.push(TRUE),
        Value::Number(n) => put_number(out, n)?,
        Value::String(s) => {
            out.push(STRING);
            put_str(out, s, "a string in data")?;
        }
        Value::Array(items) => {
            let depth = deeper(depth)?;
            out.push(ARRAY);
            put_len(out, items.len(), "an array in data")?;
            for item in items {
                put_value(out, item, depth)?;
            }
        }
        Value::Object(map) => {
            let depth = deeper(depth)?;
            out.push(OBJECT);
            put_len(out, map.len(), "an object in data")?;
            for (key, item) in map {
                put_str(out, key, "a key in data")?;
                put_value(out, item, depth)?;
            }
        }
    }
    Ok(())
}

fn deeper(depth: usize) -> Result<usize, String> {
    if depth >= MAX_DEPTH {
        return Err(format!("data is nested deeper than {MAX_DEPTH} levels"));
    }
    Ok(depth + 1)
}

fn put_number(out: &mut Vec<u8>, n: &Number) -> Result<(), String> {
    if let Some(u) = n.as_u64() {
        out.push(POS_INT);
        out.extend_from_slice(&u.to_be_bytes());
    } else if let Some(i) = n.as_i64() {
        out.push(NEG_INT);
        out.extend_from_slice(&i.to_be_bytes());
    } else if let Some(f) = n.as_f64() {
        out.push(FLOAT);
        out.extend_from_slice(&f.to_bits().to_be_bytes());
    } else {
        return Err(format!(
            "the number {n} in data is neither an integer nor a float"
        ));
    }
    Ok(())
}

/// Every field of a payload but `data`, borrowed from the payload bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header<'a> {
    pub seq: u64,
    pub at_ns: i64,
    pub profile: &'a str,
    pub gateway: &'a str,
    pub account: &'a str,
    pub client_id: i32,
    pub kind: &'a str,
    /// The encoded `data` value (the rest of the payload).
    pub data: &'a [u8],
}

/// Reads the header of a payload without decoding `data`.
pub(crate) fn decode_header(payload: &[u8]) -> Result<Header<'_>, String> {
    let mut cur = Cursor {
        bytes: payload,
        pos: 0,
    };
    let version = cur.u8("version")?;
    if version != VERSION {
        return Err(format!("unknown payload version {version}"));
    }
    let seq = u64::from_be_bytes(cur.array("seq")?);
    let at_ns = i64::from_be_bytes(cur.array("at")?);
    let profile = cur.str("profile")?;
    let gateway = cur.str("gateway")?;
    let account = cur.str("account")?;
    let client_id = i32::from_be_bytes(cur.array("client_id")?);
    let kind = cur.str("kind")?;
    Ok(Header {
        seq,
        at_ns,
        profile,
        gateway,
        account,
        client_id,
        kind,
        data: cur.rest(),
    })
}

/// Decodes the `data` part of a payload; it must be exactly one value.
pub(crate) fn decode_data(bytes: &[u8]) -> Result<Value, String> {
    let mut cur = Cursor { bytes, pos: 0 };
    let value = cur.value(0)?;
    if cur.pos != bytes.len() {
        return Err(format!("{} unexpected bytes after data", bytes.len() - cur.pos));
    }
    Ok(value)
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], String> {
        let end = self.pos.checked_add(n).filter(|&end| end <= self.bytes.len());
        let Some(end) = end else {
            return Err(format!("payload ends inside {what}"));
        };
        let slice = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], String> {
        let slice = self.take(N, what)?;
        let mut out = [0u8; N];
        out.copy_from_slice(slice);
        Ok(out)
    }

    fn u8(&mut self, what: &str) -> Result<u8, String> {
        Ok(self.array::<1>(what)?[0])
    }

    fn len(&mut self, what: &str) -> Result<usize, String> {
        let len = u32::from_be_bytes(self.array(what)?);
        usize::try_from(len).map_err(|_| format!("{what} length {len} does not fit in memory"))
    }

    fn str(&mut self, what: &str) -> Result<&'a str, String> {
        let len = self.len(what)?;
        let bytes = self.take(len, what)?;
        std::str::from_utf8(bytes).map_err(|e| format!("{what} is not UTF-8: {e}"))
    }

    fn rest(&self) -> &'a [u8] {
        &self.bytes[self.pos..]
    }

    fn value(&mut self, depth: usize) -> Result<Value, String> {
        let tag = self.u8("a data value")?;
        Ok(match tag {
            NULL => Value::Null,
            FALSE => Value::Bool(false),
            TRUE => Value::Bool(true),
            POS_INT => Value::from(u64::from_be_bytes(self.array("an integer")?)),
            NEG_INT => {
                let i = i64::from_be_bytes(self.array("an integer")?);
                if i >= 0 {
                    return Err(format!("non-canonical integer {i}"));
                }
                Value::from(i)
            }
            FLOAT => {
                let f = f64::from_bits(u64::from_be_bytes(self.array("a float")?));
                Value::Number(Number::from_f64(f).ok_or_else(|| format!("non-finite float {f}"))?)
            }
            STRING => Value::String(self.str("a string")?.to_owned()),
            ARRAY => {
                let depth = deeper(depth)?;
                let count = self.len("an array")?;
                // Each item takes at least one byte, so a forged count cannot reserve more than the payload.
                let mut items = Vec::with_capacity(count.min(self.bytes.len() - self.pos));
                for _ in 0..count {
                    items.push(self.value(depth)?);
                }
                Value::Array(items)
            }
            OBJECT => {
                let depth = deeper(depth)?;
                let count = self.len("an object")?;
                let mut map = Map::new();
                for _ in 0..count {
                    let key = self.str("a key")?.to_owned();
                    let item = self.value(depth)?;
                    if map.insert(key, item).is_some() {
                        return Err("duplicate key in an object".to_owned());
                    }
                }
                Value::Object(map)
            }
            other => return Err(format!("unknown value tag {other}")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::test_support::entry;
    use serde_json::json;

    fn round_trip(data: Value) -> Value {
        let mut e = entry("t", 1);
        e.data = data;
        let bytes = encode(7, 42, &e).expect("encodes");
        let header = decode_header(&bytes).expect("header");
        assert_eq!((header.seq, header.at_ns, header.kind), (7, 42, "t"));
        assert_eq!(header.profile, e.envelope.profile);
        assert_eq!(header.client_id, e.envelope.client_id);
        decode_data(header.data).expect("data")
    }

    #[test]
    fn every_kind_of_value_round_trips_bit_exact() {
        let data = json!({
            "null": null, "t": true, "f": false, "neg": i64::MIN, "pos": u64::MAX, "zero": 0,
            "float": 2.492_467_944_908_052_6e256, "tiny": 5e-324, "negzero": -0.0,
            "text": "naïve 日本 \u{1F600} \"quoted\"\n", "list": [1, [2, [3]], {}], "": {"nested": []}
        });
        let back = round_trip(data.clone());
        assert_eq!(back, data);
        let bits = |v: &Value, k: &str| v[k].as_f64().map(f64::to_bits);
        assert_eq!(bits(&back, "negzero"), Some((-0.0f64).to_bits()));
        assert_eq!(bits(&back, "float"), bits(&data, "float"));
    }

    #[test]
    fn an_integer_stays_an_integer_and_a_float_stays_a_float() {
        assert!(round_trip(json!(1)).is_u64());
        assert!(round_trip(json!(-1)).is_i64());
        assert!(round_trip(json!(1.0)).is_f64());
    }

    #[test]
    fn too_deep_data_is_refused_at_encode_and_decode() {
        let mut deep = json!(1);
        for _ in 0..=MAX_DEPTH {
            deep = json!([deep]);
        }
        let mut e = entry("t", 1);
        e.data = deep;
        let err = encode(1, 0, &e).expect_err("too deep");
        assert!(err.contains("nested deeper"), "{err}");

        let mut forged = vec![ARRAY, 0, 0, 0, 1];
        for _ in 0..MAX_DEPTH {
            forged.extend_from_slice(&[ARRAY, 0, 0, 0, 1]);
        }
        forged.push(NULL);
        assert!(decode_data(&forged).expect_err("deep").contains("nested deeper"));
    }

    #[test]
    fn damaged_payloads_are_refused_with_what_is_wrong() {
        let bytes = encode(1, 0, &entry("tool_call", 1)).expect("encodes");
        let header = decode_header(&bytes).expect("whole");
        assert!(decode_data(header.data).is_ok());
        for cut in 0..bytes.len() {
            let short = &bytes[..cut];
            let result = decode_header(short).and_then(|h| decode_data(h.data));
            assert!(result.is_err(), "a payload cut at {cut} decoded");
        }
        let mut trailing = header.data.to_vec();
        trailing.push(0);
        assert!(
            decode_data(&trailing)
                .expect_err("trailing")
                .contains("unexpected bytes")
        );
        assert!(
            decode_data(&[FLOAT, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0])
                .expect_err("nan")
                .contains("non-finite")
        );
        assert!(
            decode_data(&[NEG_INT, 0, 0, 0, 0, 0, 0, 0, 1])
                .expect_err("canon")
                .contains("non-canonical")
        );
        assert!(decode_data(&[99]).expect_err("tag").contains("unknown value tag"));
        assert!(
            decode_data(&[STRING, 0, 0, 0, 1, 0xff])
                .expect_err("utf8")
                .contains("not UTF-8")
        );
        assert!(decode_data(&[ARRAY, 0xff, 0xff, 0xff, 0xff]).is_err());
        let mut other_version = bytes.clone();
        other_version[0] = 2;
        assert!(
            decode_header(&other_version)
                .expect_err("version")
                .contains("version 2")
        );
    }

    #[test]
    fn the_hash_covers_the_previous_hash_and_every_payload_byte() {
        let payload = encode(1, 0, &entry("t", 1)).expect("encodes");
        let base = chain_hash(&[0; 32], &payload);
        assert_ne!(base, chain_hash(&[1; 32], &payload));
        for i in 0..payload.len() {
            let mut edited = payload.clone();
            edited[i] ^= 1;
            assert_ne!(base, chain_hash(&[0; 32], &edited), "byte {i}");
        }
    }
}
