//! CTAP2 canonical CBOR (FIDO CTAP 2.1 §8, "Message Encoding"; RFC 8949 §4.2.3 length-first
//! map-key ordering).
//!
//! CTAP restricts CBOR to a canonical subset, and strict clients (python-fido2 with
//! `strict_cbor`) re-encode every response and refuse any difference. This module therefore
//! implements only that subset, both ways:
//!
//! - integers, lengths and tags in their shortest form; no indefinite lengths;
//! - no tags, no floats, no `null` / `undefined` (python-fido2 decodes `null` as `False`);
//! - map keys unique and sorted by encoded bytes, **length first** (so integer keys run
//!   `1, 3, -1, -2, -3`, a plain `BTreeMap<i64, _>` order would be wrong);
//! - maps and arrays nested at most [`MAX_DEPTH`] deep; text must be valid UTF-8.
//!
//! [`decode`] refuses anything outside the subset with a typed [`CborError`]; [`encode`]
//! always produces it, so `encode(decode(x)?) == x` for every accepted `x`.

use std::fmt;

/// Deepest nesting of maps and arrays (CTAP 2.1 §8: "at most four levels").
pub const MAX_DEPTH: usize = 4;

/// A CBOR data item of the CTAP subset.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Value {
    /// Major type 0: 0..=2^64-1.
    Unsigned(u64),
    /// Major type 1: the value −1 − n.
    Negative(u64),
    /// Major type 2.
    Bytes(Vec<u8>),
    /// Major type 3.
    Text(String),
    /// Major type 4.
    Array(Vec<Value>),
    /// Major type 5, kept in canonical key order.
    Map(Vec<(Value, Value)>),
    /// Simple values 20 (`false`) and 21 (`true`).
    Bool(bool),
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Unsigned(n) => write!(f, "{n}"),
            Value::Negative(n) => write!(f, "-{}", u128::from(*n) + 1),
            Value::Bytes(b) => write!(f, "h'{}'", hex_lower(b)),
            Value::Text(t) => write!(f, "{t:?}"),
            Value::Array(a) => f.debug_list().entries(a).finish(),
            Value::Map(m) => f
                .debug_map()
                .entries(m.iter().map(|(k, v)| (k, v)))
                .finish(),
            Value::Bool(b) => write!(f, "{b}"),
        }
    }
}

fn hex_lower(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl Value {
    /// An integer.
    pub fn int(v: i64) -> Value {
        if v >= 0 {
            Value::Unsigned(v.unsigned_abs())
        } else {
            // −1 − n = v  ⇒  n = −1 − v = |v| − 1.
            Value::Negative(v.unsigned_abs() - 1)
        }
    }

    /// A text string.
    pub fn text(s: &str) -> Value {
        Value::Text(s.to_owned())
    }

    /// A byte string.
    pub fn bytes(b: &[u8]) -> Value {
        Value::Bytes(b.to_vec())
    }

    /// A map; entries are put in canonical order (a later duplicate key replaces an earlier one).
    pub fn map(entries: impl IntoIterator<Item = (Value, Value)>) -> Value {
        let mut keyed: Vec<(Vec<u8>, Value, Value)> = Vec::new();
        for (k, v) in entries {
            let enc = encode(&k);
            if let Some(slot) = keyed.iter_mut().find(|(e, _, _)| *e == enc) {
                slot.2 = v;
            } else {
                keyed.push((enc, k, v));
            }
        }
        keyed.sort_by(|a, b| canonical_cmp(&a.0, &b.0));
        Value::Map(keyed.into_iter().map(|(_, k, v)| (k, v)).collect())
    }

    /// The value as an `i64`, if it is an integer in range.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Value::Unsigned(n) => i64::try_from(n).ok(),
            Value::Negative(n) => i64::try_from(n).ok().map(|n| -1 - n),
            _ => None,
        }
    }

    /// The value as a `u64`, if it is a non-negative integer.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Value::Unsigned(n) => Some(n),
            _ => None,
        }
    }

    /// The bytes of a byte string.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The text of a text string.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Text(t) => Some(t),
            _ => None,
        }
    }

    /// The boolean.
    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            Value::Bool(b) => Some(b),
            _ => None,
        }
    }

    /// The items of an array.
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    /// The entries of a map.
    pub fn as_map(&self) -> Option<&[(Value, Value)]> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// Looks a key up in a map (`None` for other values or a missing key).
    pub fn get(&self, key: &Value) -> Option<&Value> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// Looks an integer key up in a map.
    pub fn get_int(&self, key: i64) -> Option<&Value> {
        self.get(&Value::int(key))
    }

    /// Looks a text key up in a map.
    pub fn get_text(&self, key: &str) -> Option<&Value> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.as_text() == Some(key))
            .map(|(_, v)| v)
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::int(v)
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::text(v)
    }
}

impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Self {
        Value::Bytes(v)
    }
}

/// Canonical key order: shorter encoding first, then bytewise (RFC 8949 §4.2.3, CTAP 2.1 §8).
pub fn canonical_cmp(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// Why bytes are not CTAP canonical CBOR.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CborError {
    /// The input ends inside an item.
    #[error("CBOR truncated at offset {offset}")]
    Truncated {
        /// Where more bytes were needed.
        offset: usize,
    },
    /// Bytes remain after the top-level item.
    #[error("{extra} trailing bytes after the CBOR item")]
    TrailingBytes {
        /// How many.
        extra: usize,
    },
    /// An integer, length or count not in its shortest form.
    #[error("non-canonical (not shortest) integer or length at offset {offset}")]
    NotShortest {
        /// Where.
        offset: usize,
    },
    /// Indefinite-length item (additional information 31).
    #[error("indefinite-length item at offset {offset} (not allowed in CTAP)")]
    Indefinite {
        /// Where.
        offset: usize,
    },
    /// A tag, float, `null`, `undefined` or other simple value.
    #[error(
        "unsupported CBOR item (major type {major}, info {info}) at offset {offset}: CTAP allows no tags, floats or null"
    )]
    Unsupported {
        /// Major type.
        major: u8,
        /// Additional information.
        info: u8,
        /// Where.
        offset: usize,
    },
    /// Text that is not UTF-8.
    #[error("text string at offset {offset} is not valid UTF-8")]
    InvalidUtf8 {
        /// Where.
        offset: usize,
    },
    /// Map keys out of canonical order, or repeated.
    #[error("map keys out of canonical order or duplicated at offset {offset}")]
    KeyOrder {
        /// Where the offending key starts.
        offset: usize,
    },
    /// Maps and arrays nested deeper than [`MAX_DEPTH`].
    #[error("maps/arrays nested deeper than {MAX_DEPTH}")]
    TooDeep,
    /// A length that cannot fit in memory or exceeds the input.
    #[error("length {len} at offset {offset} exceeds the input")]
    TooLong {
        /// The announced length.
        len: u64,
        /// Where.
        offset: usize,
    },
}

/// Encodes a value canonically (maps are re-sorted, so any [`Value`] encodes canonically).
pub fn encode(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(&mut out, v);
    out
}

fn head(out: &mut Vec<u8>, major: u8, n: u64) {
    let m = major << 5;
    if n < 24 {
        out.push(m | n as u8);
    } else if n <= 0xFF {
        out.extend_from_slice(&[m | 24, n as u8]);
    } else if n <= 0xFFFF {
        out.push(m | 25);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else if n <= 0xFFFF_FFFF {
        out.push(m | 26);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        out.push(m | 27);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn encode_into(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Unsigned(n) => head(out, 0, *n),
        Value::Negative(n) => head(out, 1, *n),
        Value::Bytes(b) => {
            head(out, 2, b.len() as u64);
            out.extend_from_slice(b);
        }
        Value::Text(t) => {
            head(out, 3, t.len() as u64);
            out.extend_from_slice(t.as_bytes());
        }
        Value::Array(items) => {
            head(out, 4, items.len() as u64);
            for i in items {
                encode_into(out, i);
            }
        }
        Value::Map(entries) => {
            let mut encoded: Vec<(Vec<u8>, &Value)> =
                entries.iter().map(|(k, v)| (encode(k), v)).collect();
            encoded.sort_by(|a, b| canonical_cmp(&a.0, &b.0));
            encoded.dedup_by(|a, b| a.0 == b.0);
            head(out, 5, encoded.len() as u64);
            for (k, v) in encoded {
                out.extend_from_slice(&k);
                encode_into(out, v);
            }
        }
        Value::Bool(false) => out.push(0xF4),
        Value::Bool(true) => out.push(0xF5),
    }
}

/// Decodes exactly one canonical item filling all of `bytes`.
pub fn decode(bytes: &[u8]) -> Result<Value, CborError> {
    let (v, used) = decode_prefix(bytes)?;
    if used != bytes.len() {
        return Err(CborError::TrailingBytes {
            extra: bytes.len() - used,
        });
    }
    Ok(v)
}

/// Decodes one canonical item at the start of `bytes`; returns it and the bytes used.
pub fn decode_prefix(bytes: &[u8]) -> Result<(Value, usize), CborError> {
    let mut d = Decoder {
        input: bytes,
        pos: 0,
    };
    let v = d.item(0)?;
    Ok((v, d.pos))
}

struct Decoder<'a> {
    input: &'a [u8],
    pos: usize,
}

impl Decoder<'_> {
    fn byte(&mut self) -> Result<u8, CborError> {
        let b = *self
            .input
            .get(self.pos)
            .ok_or(CborError::Truncated { offset: self.pos })?;
        self.pos += 1;
        Ok(b)
    }

    fn take(&mut self, n: u64) -> Result<&[u8], CborError> {
        let offset = self.pos;
        let n_usize = usize::try_from(n).map_err(|_| CborError::TooLong { len: n, offset })?;
        let end = offset
            .checked_add(n_usize)
            .ok_or(CborError::TooLong { len: n, offset })?;
        let s = self
            .input
            .get(offset..end)
            .ok_or(CborError::TooLong { len: n, offset })?;
        self.pos = end;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], CborError> {
        let offset = self.pos;
        self.take(N as u64)?
            .try_into()
            .map_err(|_| CborError::Truncated { offset })
    }

    /// Reads the argument of a head, enforcing the shortest form.
    fn argument(&mut self, info: u8, start: usize) -> Result<u64, CborError> {
        let (n, min) = match info {
            0..=23 => return Ok(u64::from(info)),
            24 => (u64::from(self.byte()?), 24),
            25 => (u64::from(u16::from_be_bytes(self.array::<2>()?)), 0x100),
            26 => (u64::from(u32::from_be_bytes(self.array::<4>()?)), 0x1_0000),
            27 => (u64::from_be_bytes(self.array::<8>()?), 0x1_0000_0000),
            31 => return Err(CborError::Indefinite { offset: start }),
            _ => {
                return Err(CborError::Unsupported {
                    major: 0,
                    info,
                    offset: start,
                });
            }
        };
        if n < min {
            return Err(CborError::NotShortest { offset: start });
        }
        Ok(n)
    }

    fn item(&mut self, depth: usize) -> Result<Value, CborError> {
        let start = self.pos;
        let first = self.byte()?;
        let (major, info) = (first >> 5, first & 0x1F);
        match major {
            0 => Ok(Value::Unsigned(self.argument(info, start)?)),
            1 => Ok(Value::Negative(self.argument(info, start)?)),
            2 => {
                let n = self.argument(info, start)?;
                Ok(Value::Bytes(self.take(n)?.to_vec()))
            }
            3 => {
                let n = self.argument(info, start)?;
                let s = self.take(n)?;
                let t =
                    std::str::from_utf8(s).map_err(|_| CborError::InvalidUtf8 { offset: start })?;
                Ok(Value::Text(t.to_owned()))
            }
            4 | 5 => {
                if depth >= MAX_DEPTH {
                    return Err(CborError::TooDeep);
                }
                let n = self.argument(info, start)?;
                // Every item takes at least one byte: a count beyond the input is a lie.
                let remaining = (self.input.len() - self.pos) as u64;
                if n > remaining {
                    return Err(CborError::TooLong {
                        len: n,
                        offset: start,
                    });
                }
                if major == 4 {
                    let mut items = Vec::with_capacity(n as usize);
                    for _ in 0..n {
                        items.push(self.item(depth + 1)?);
                    }
                    Ok(Value::Array(items))
                } else {
                    let mut entries = Vec::with_capacity(n as usize);
                    let mut prev: Option<&[u8]> = None;
                    for _ in 0..n {
                        let key_start = self.pos;
                        let k = self.item(depth + 1)?;
                        let key_bytes = self.input.get(key_start..self.pos).unwrap_or(&[]);
                        if let Some(p) = prev {
                            if canonical_cmp(p, key_bytes) != std::cmp::Ordering::Less {
                                return Err(CborError::KeyOrder { offset: key_start });
                            }
                        }
                        prev = Some(key_bytes);
                        let v = self.item(depth + 1)?;
                        entries.push((k, v));
                    }
                    Ok(Value::Map(entries))
                }
            }
            6 => Err(CborError::Unsupported {
                major,
                info,
                offset: start,
            }),
            _ => match info {
                20 => Ok(Value::Bool(false)),
                21 => Ok(Value::Bool(true)),
                _ => Err(CborError::Unsupported {
                    major,
                    info,
                    offset: start,
                }),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).unwrap()
    }

    #[test]
    fn rfc8949_appendix_a_examples_in_the_ctap_subset() {
        // RFC 8949 Appendix A, the items CTAP allows.
        let cases: &[(&str, Value)] = &[
            ("00", Value::int(0)),
            ("17", Value::int(23)),
            ("1818", Value::int(24)),
            ("1903e8", Value::int(1000)),
            ("1a000f4240", Value::int(1_000_000)),
            ("1b000000e8d4a51000", Value::int(1_000_000_000_000)),
            ("1bffffffffffffffff", Value::Unsigned(u64::MAX)),
            ("20", Value::int(-1)),
            ("3863", Value::int(-100)),
            ("3903e7", Value::int(-1000)),
            ("f4", Value::Bool(false)),
            ("f5", Value::Bool(true)),
            ("40", Value::bytes(&[])),
            ("4401020304", Value::bytes(&[1, 2, 3, 4])),
            ("60", Value::text("")),
            ("6449455446", Value::text("IETF")),
            ("62c3bc", Value::text("\u{fc}")),
            ("80", Value::Array(vec![])),
            (
                "83010203",
                Value::Array(vec![Value::int(1), Value::int(2), Value::int(3)]),
            ),
            ("a0", Value::map([])),
            (
                "a201020304",
                Value::map([
                    (Value::int(1), Value::int(2)),
                    (Value::int(3), Value::int(4)),
                ]),
            ),
        ];
        for (hexs, v) in cases {
            let bytes = h(hexs);
            assert_eq!(&decode(&bytes).unwrap(), v, "{hexs}");
            assert_eq!(encode(v), bytes, "{hexs}");
        }
    }

    #[test]
    fn ctap_key_orders() {
        // CTAP 2.1 §8 / shared notes §3.1: COSE key 1, 3, -1, -2, -3; text keys length first.
        let cose = Value::map([
            (Value::int(-3), Value::bytes(&[0; 2])),
            (Value::int(-2), Value::bytes(&[0; 2])),
            (Value::int(-1), Value::int(1)),
            (Value::int(3), Value::int(-7)),
            (Value::int(1), Value::int(2)),
        ]);
        let keys: Vec<i64> = cose
            .as_map()
            .unwrap()
            .iter()
            .map(|(k, _)| k.as_i64().unwrap())
            .collect();
        assert_eq!(keys, [1, 3, -1, -2, -3]);
        let opts = Value::map(
            ["clientPin", "plat", "up", "rk", "credMgmt", "uv"]
                .map(|k| (Value::text(k), Value::Bool(true))),
        );
        let names: Vec<&str> = opts
            .as_map()
            .unwrap()
            .iter()
            .map(|(k, _)| k.as_text().unwrap())
            .collect();
        assert_eq!(names, ["rk", "up", "uv", "plat", "credMgmt", "clientPin"]);
        let user = Value::map([
            (Value::text("displayName"), Value::text("A")),
            (Value::text("name"), Value::text("a")),
            (Value::text("id"), Value::bytes(&[1])),
        ]);
        assert_eq!(user.as_map().unwrap()[0].0, Value::text("id"));
        assert_eq!(user.get_text("name"), Some(&Value::text("a")));
        assert_eq!(cose.get_int(3), Some(&Value::int(-7)));
    }

    #[test]
    fn non_canonical_inputs_are_refused() {
        type Check = fn(&CborError) -> bool;
        let bad: &[(&str, Check)] = &[
            ("1817", |e| matches!(e, CborError::NotShortest { .. })),
            ("190017", |e| matches!(e, CborError::NotShortest { .. })),
            ("5f4101ff", |e| matches!(e, CborError::Indefinite { .. })),
            ("9fff", |e| matches!(e, CborError::Indefinite { .. })),
            ("f6", |e| matches!(e, CborError::Unsupported { .. })),
            ("f7", |e| matches!(e, CborError::Unsupported { .. })),
            ("f93c00", |e| matches!(e, CborError::Unsupported { .. })),
            ("c11a514b67b0", |e| {
                matches!(e, CborError::Unsupported { .. })
            }),
            ("a203040102", |e| matches!(e, CborError::KeyOrder { .. })),
            ("a201020102", |e| matches!(e, CborError::KeyOrder { .. })),
            // -1 (0x20) before 1 (0x01) violates bytewise order at equal length.
            ("a220010102", |e| matches!(e, CborError::KeyOrder { .. })),
            ("62c3", |e| matches!(e, CborError::TooLong { .. })),
            ("62ffff", |e| matches!(e, CborError::InvalidUtf8 { .. })),
            ("0000", |e| {
                matches!(e, CborError::TrailingBytes { extra: 1 })
            }),
            ("", |e| matches!(e, CborError::Truncated { .. })),
            ("9b00000001ffffffff", |e| {
                matches!(e, CborError::TooLong { .. })
            }),
            ("8181818181", |e| matches!(e, CborError::TooDeep)),
        ];
        for (hexs, check) in bad {
            let err = decode(&h(hexs)).unwrap_err();
            assert!(check(&err), "{hexs}: {err:?}");
        }
        // Depth 4 is fine.
        assert!(decode(&h("8181818100")).is_ok());
    }

    #[test]
    fn map_constructor_dedups_and_debug_is_readable() {
        let m = Value::map([
            (Value::int(1), Value::int(1)),
            (Value::int(1), Value::int(2)),
        ]);
        assert_eq!(m.as_map().unwrap().len(), 1);
        assert_eq!(m.get_int(1), Some(&Value::int(2)));
        assert_eq!(format!("{:?}", Value::int(-7)), "-7");
        assert_eq!(
            format!("{:?}", Value::Negative(u64::MAX)),
            "-18446744073709551616"
        );
    }
}
