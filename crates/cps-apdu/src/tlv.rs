//! BER-TLV data objects (ISO/IEC 7816-4:2020 §6.3, encoding rules of ISO/IEC 8825-1).
//!
//! - **Tags** are 1 to 4 bytes: when the five low bits of the first byte are all ones, more
//!   bytes follow, each with bit 8 set except the last. Bit 6 of the first byte marks a
//!   *constructed* object whose value is itself a sequence of data objects.
//! - **Lengths** use the definite form only: `00`–`7F` in one byte, or `81 xx`, `82 xx xx`,
//!   `83 xx xx xx`, `84 xx xx xx xx`. The indefinite form `80` is refused, as ISO 7816-4 does.
//!
//! Parsing borrows from the input and never panics; nesting is bounded by [`MAX_DEPTH`].
//!
//! ```
//! use cps_apdu::tlv::{self, Tag};
//! // GET DATA of the PIN policy as OpenSC sends it to IAS-ECC cards (see docs/card-layout.md).
//! let data = [0x4D, 0x09, 0x70, 0x07, 0xBF, 0x81, 0x01, 0x03, 0x7F, 0x41, 0x80];
//! let sdo = tlv::find_path(&data, &[Tag(0x4D), Tag(0x70), Tag(0xBF8101)]).unwrap().unwrap();
//! assert_eq!(sdo.value, [0x7F, 0x41, 0x80]);
//! ```

use alloc::vec::Vec;
use core::fmt;

use nom::IResult;
use nom::Parser;
use nom::bytes::complete::take;
use nom::number::complete::u8 as byte;

use crate::ApduError;

/// Deepest nesting [`Tlv::walk`] and the recursive helpers follow.
pub const MAX_DEPTH: usize = 32;

/// A BER-TLV tag, stored as its encoded bytes read big-endian (`5F2D` → `Tag(0x5F2D)`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag(pub u32);

impl Tag {
    /// Whether the object is constructed (bit 6 of the first tag byte).
    pub fn is_constructed(self) -> bool {
        self.first_byte() & 0x20 != 0
    }

    /// The first byte of the encoded tag.
    pub fn first_byte(self) -> u8 {
        let b = self.0.to_be_bytes();
        b.iter().copied().find(|&x| x != 0).unwrap_or(0)
    }

    /// The encoded tag bytes (1 to 4).
    pub fn to_bytes(self) -> Vec<u8> {
        let b = self.0.to_be_bytes();
        let skip = b.iter().take_while(|&&x| x == 0).count().min(3);
        b.get(skip..).unwrap_or(&[]).to_vec()
    }
}

impl fmt::Debug for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tag({:02X})", self.0)
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02X}", self.0)
    }
}

/// What is wrong with a BER-TLV encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlvErrorKind {
    /// The input ends inside a tag.
    TruncatedTag,
    /// A tag longer than 4 bytes.
    TagTooLong,
    /// The input ends inside a length field.
    TruncatedLength,
    /// The indefinite length form (`80`), not allowed in ISO 7816-4.
    IndefiniteLength,
    /// A length field of more than 4 bytes (`85`..`FF`).
    LengthTooLong,
    /// The value is shorter than the length announces.
    ValueTruncated {
        /// Bytes announced.
        needed: usize,
        /// Bytes available.
        available: usize,
    },
    /// Constructed objects nested deeper than [`MAX_DEPTH`].
    TooDeep,
}

impl fmt::Display for TlvErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlvErrorKind::TruncatedTag => f.write_str("input ends inside a tag"),
            TlvErrorKind::TagTooLong => f.write_str("tag longer than 4 bytes"),
            TlvErrorKind::TruncatedLength => f.write_str("input ends inside a length"),
            TlvErrorKind::IndefiniteLength => f.write_str("indefinite length (80) is not allowed"),
            TlvErrorKind::LengthTooLong => f.write_str("length field longer than 4 bytes"),
            TlvErrorKind::ValueTruncated { needed, available } => {
                write!(f, "value needs {needed} bytes, {available} available")
            }
            TlvErrorKind::TooDeep => write!(f, "nesting deeper than {MAX_DEPTH} levels"),
        }
    }
}

/// One data object, borrowing its value from the parsed input.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    /// The tag.
    pub tag: Tag,
    /// The value bytes.
    pub value: &'a [u8],
}

impl fmt::Debug for Tlv<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} [{} bytes]", self.tag, self.value.len())
    }
}

impl<'a> Tlv<'a> {
    /// The nested objects of a constructed object (an error for malformed content; a
    /// primitive object yields its value parsed as objects too, which callers rarely want).
    pub fn children(&self) -> Result<Vec<Tlv<'a>>, ApduError> {
        parse_all(self.value)
    }

    /// The first child with `tag`.
    pub fn child(&self, tag: Tag) -> Result<Option<Tlv<'a>>, ApduError> {
        find(self.value, tag)
    }

    /// Encodes this object.
    pub fn encode(&self) -> Vec<u8> {
        encode(self.tag, self.value)
    }

    /// Calls `visit(depth, tlv)` for this object and, recursively, every object nested in
    /// constructed ones, depth-first.
    pub fn walk(&self, visit: &mut dyn FnMut(usize, &Tlv<'a>)) -> Result<(), ApduError> {
        walk_inner(self, 0, visit)
    }
}

fn walk_inner<'a>(
    tlv: &Tlv<'a>,
    depth: usize,
    visit: &mut dyn FnMut(usize, &Tlv<'a>),
) -> Result<(), ApduError> {
    if depth > MAX_DEPTH {
        return Err(ApduError::Tlv {
            offset: 0,
            reason: TlvErrorKind::TooDeep,
        });
    }
    visit(depth, tlv);
    if tlv.tag.is_constructed() {
        for child in tlv.children()? {
            walk_inner(&child, depth + 1, visit)?;
        }
    }
    Ok(())
}

/// The nom-level failure, turned into [`TlvErrorKind`] by the caller.
type Res<'a, T> = IResult<&'a [u8], T, TlvFail>;

#[derive(Debug)]
struct TlvFail(TlvErrorKind);

impl<'a> nom::error::ParseError<&'a [u8]> for TlvFail {
    fn from_error_kind(_: &'a [u8], _: nom::error::ErrorKind) -> Self {
        TlvFail(TlvErrorKind::TruncatedTag)
    }
    fn append(_: &'a [u8], _: nom::error::ErrorKind, other: Self) -> Self {
        other
    }
}

fn fail<T>(kind: TlvErrorKind) -> Result<T, nom::Err<TlvFail>> {
    Err(nom::Err::Failure(TlvFail(kind)))
}

fn tag(input: &[u8]) -> Res<'_, Tag> {
    let (mut rest, first) =
        byte(input).or_else(|_: nom::Err<TlvFail>| fail(TlvErrorKind::TruncatedTag))?;
    let mut value = u32::from(first);
    if first & 0x1F == 0x1F {
        let mut len = 1;
        loop {
            let (r, b) =
                byte(rest).or_else(|_: nom::Err<TlvFail>| fail(TlvErrorKind::TruncatedTag))?;
            rest = r;
            len += 1;
            if len > 4 {
                return fail(TlvErrorKind::TagTooLong);
            }
            value = (value << 8) | u32::from(b);
            if b & 0x80 == 0 {
                break;
            }
        }
    }
    Ok((rest, Tag(value)))
}

fn length(input: &[u8]) -> Res<'_, usize> {
    let (rest, first) =
        byte(input).or_else(|_: nom::Err<TlvFail>| fail(TlvErrorKind::TruncatedLength))?;
    match first {
        0x00..=0x7F => Ok((rest, usize::from(first))),
        0x80 => fail(TlvErrorKind::IndefiniteLength),
        0x81..=0x84 => {
            let n = usize::from(first & 0x7F);
            let (rest, bytes) = take(n)(rest)
                .or_else(|_: nom::Err<TlvFail>| fail(TlvErrorKind::TruncatedLength))?;
            let len = bytes
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
            Ok((rest, len))
        }
        _ => fail(TlvErrorKind::LengthTooLong),
    }
}

fn tlv(input: &[u8]) -> Res<'_, Tlv<'_>> {
    let (rest, (tag, len)) = (tag, length).parse(input)?;
    if rest.len() < len {
        return fail(TlvErrorKind::ValueTruncated {
            needed: len,
            available: rest.len(),
        });
    }
    let (rest, value) = take(len)(rest)?;
    Ok((rest, Tlv { tag, value }))
}

/// Parses one data object at the start of `input`; returns it and the remaining bytes.
pub fn parse_one(input: &[u8]) -> Result<(Tlv<'_>, &[u8]), ApduError> {
    match tlv(input) {
        Ok((rest, t)) => Ok((t, rest)),
        Err(nom::Err::Failure(TlvFail(reason)) | nom::Err::Error(TlvFail(reason))) => {
            Err(ApduError::Tlv { offset: 0, reason })
        }
        Err(nom::Err::Incomplete(_)) => Err(ApduError::Tlv {
            offset: 0,
            reason: TlvErrorKind::TruncatedTag,
        }),
    }
}

/// Iterates over consecutive data objects; yields an error (once) on malformed input.
///
/// With [`Iter::skip_padding`], `00` and `FF` bytes between objects are skipped, as
/// ISO 7816-4 §6.3 allows in some contexts (e.g. padded EFs); the default is strict.
#[derive(Debug, Clone)]
pub struct Iter<'a> {
    input: &'a [u8],
    offset: usize,
    skip_padding: bool,
    failed: bool,
}

impl<'a> Iter<'a> {
    /// Iterates strictly over `input`.
    pub fn new(input: &'a [u8]) -> Self {
        Iter {
            input,
            offset: 0,
            skip_padding: false,
            failed: false,
        }
    }

    /// Skips `00` / `FF` padding bytes between objects (and at the end).
    #[must_use]
    pub fn skip_padding(mut self) -> Self {
        self.skip_padding = true;
        self
    }
}

impl<'a> Iterator for Iter<'a> {
    type Item = Result<Tlv<'a>, ApduError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        if self.skip_padding {
            let pad = self
                .input
                .iter()
                .take_while(|&&b| b == 0x00 || b == 0xFF)
                .count();
            self.input = self.input.get(pad..).unwrap_or(&[]);
            self.offset += pad;
        }
        if self.input.is_empty() {
            return None;
        }
        match parse_one(self.input) {
            Ok((t, rest)) => {
                self.offset += self.input.len() - rest.len();
                self.input = rest;
                Some(Ok(t))
            }
            Err(ApduError::Tlv { reason, .. }) => {
                self.failed = true;
                Some(Err(ApduError::Tlv {
                    offset: self.offset,
                    reason,
                }))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// Parses every data object of `input` (strict: no padding allowed).
pub fn parse_all(input: &[u8]) -> Result<Vec<Tlv<'_>>, ApduError> {
    Iter::new(input).collect()
}

/// The first top-level object with `tag`, or `None`. Objects before it must be well formed.
pub fn find(input: &[u8], tag: Tag) -> Result<Option<Tlv<'_>>, ApduError> {
    for t in Iter::new(input) {
        let t = t?;
        if t.tag == tag {
            return Ok(Some(t));
        }
    }
    Ok(None)
}

/// Descends through constructed objects: `path[0]` at top level, `path[1]` inside it, ...
pub fn find_path<'a>(input: &'a [u8], path: &[Tag]) -> Result<Option<Tlv<'a>>, ApduError> {
    if path.len() > MAX_DEPTH {
        return Err(ApduError::Tlv {
            offset: 0,
            reason: TlvErrorKind::TooDeep,
        });
    }
    let mut current = input;
    let mut found = None;
    for &t in path {
        match find(current, t)? {
            Some(obj) => {
                current = obj.value;
                found = Some(obj);
            }
            None => return Ok(None),
        }
    }
    Ok(found)
}

/// Appends the encoding of a length (definite form, shortest).
pub fn encode_length(out: &mut Vec<u8>, len: usize) {
    match len {
        0..=0x7F => out.push(len as u8),
        0x80..=0xFF => out.extend_from_slice(&[0x81, len as u8]),
        0x100..=0xFFFF => {
            out.push(0x82);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        0x1_0000..=0xFF_FFFF => {
            out.push(0x83);
            out.extend_from_slice((len as u32).to_be_bytes().get(1..).unwrap_or(&[]));
        }
        _ => {
            out.push(0x84);
            out.extend_from_slice(&(len.min(u32::MAX as usize) as u32).to_be_bytes());
        }
    }
}

/// Appends the encoding of a tag.
pub fn encode_tag(out: &mut Vec<u8>, tag: Tag) {
    out.extend_from_slice(&tag.to_bytes());
}

/// Encodes one data object.
pub fn encode(tag: Tag, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() + 8);
    encode_tag(&mut out, tag);
    encode_length(&mut out, value.len());
    out.extend_from_slice(value);
    out
}

/// Builds a sequence of data objects, with nested constructed objects.
///
/// ```
/// use cps_apdu::tlv::{Builder, Tag};
/// let fcp = Builder::new()
///     .constructed(Tag(0x62), |b| b.primitive(Tag(0x80), &[0x00, 0x40]).primitive(Tag(0x83), &[0x2F, 0x01]))
///     .finish();
/// assert_eq!(fcp, [0x62, 0x08, 0x80, 0x02, 0x00, 0x40, 0x83, 0x02, 0x2F, 0x01]);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Builder {
    out: Vec<u8>,
}

impl Builder {
    /// An empty builder.
    pub fn new() -> Self {
        Builder::default()
    }

    /// Appends a primitive object.
    #[must_use]
    pub fn primitive(mut self, tag: Tag, value: &[u8]) -> Self {
        self.out.extend_from_slice(&encode(tag, value));
        self
    }

    /// Appends a primitive object when `value` is `Some`.
    #[must_use]
    pub fn optional(self, tag: Tag, value: Option<&[u8]>) -> Self {
        match value {
            Some(v) => self.primitive(tag, v),
            None => self,
        }
    }

    /// Appends a constructed object whose content `inner` builds.
    #[must_use]
    pub fn constructed(mut self, tag: Tag, inner: impl FnOnce(Builder) -> Builder) -> Self {
        let content = inner(Builder::new()).finish();
        self.out.extend_from_slice(&encode(tag, &content));
        self
    }

    /// Appends already-encoded bytes.
    #[must_use]
    pub fn raw(mut self, bytes: &[u8]) -> Self {
        self.out.extend_from_slice(bytes);
        self
    }

    /// The encoded bytes.
    pub fn finish(self) -> Vec<u8> {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).unwrap()
    }

    #[test]
    fn fcp_template() {
        // An FCP as an IAS-ECC card returns it (layout of docs/card-layout.md):
        // size 0x40, transparent EF, FID 2F01, LCS 05, access rules A1 { 8C 03 03 FF 00 }.
        let fcp = h("62 15 80 02 00 40 82 01 01 83 02 2F 01 8A 01 05 A1 05 8C 03 03 FF 00");
        let top = parse_all(&fcp).unwrap();
        assert_eq!(top.len(), 1);
        assert!(top[0].tag.is_constructed());
        let kids = top[0].children().unwrap();
        assert_eq!(
            kids.iter().map(|t| t.tag.0).collect::<Vec<_>>(),
            [0x80, 0x82, 0x83, 0x8A, 0xA1]
        );
        assert_eq!(
            find_path(&fcp, &[Tag(0x62), Tag(0x83)])
                .unwrap()
                .unwrap()
                .value,
            [0x2F, 0x01]
        );
        assert_eq!(
            find_path(&fcp, &[Tag(0x62), Tag(0xA1), Tag(0x8C)])
                .unwrap()
                .unwrap()
                .value,
            [0x03, 0xFF, 0x00]
        );
        assert!(find_path(&fcp, &[Tag(0x62), Tag(0x84)]).unwrap().is_none());
        // Round trip.
        assert_eq!(top[0].encode(), fcp);
    }

    #[test]
    fn multi_byte_tags() {
        // 5F2D (language preference, ISO 7816-4), 7F49 (public key template, ISO 7816-8),
        // BF8101 (IAS-ECC SDO: CHV class, reference 1, as OpenSC requests it).
        let data = h("5F 2D 02 66 72 7F 49 03 81 01 AA BF 81 01 00");
        let objs = parse_all(&data).unwrap();
        assert_eq!(
            objs.iter().map(|t| t.tag).collect::<Vec<_>>(),
            [Tag(0x5F2D), Tag(0x7F49), Tag(0xBF8101)]
        );
        assert!(!objs[0].tag.is_constructed());
        assert!(objs[1].tag.is_constructed());
        assert_eq!(objs[1].child(Tag(0x81)).unwrap().unwrap().value, [0xAA]);
        assert_eq!(Tag(0xBF8101).to_bytes(), [0xBF, 0x81, 0x01]);
        // Four-byte tag is the maximum.
        assert!(parse_all(&h("1F 81 82 03 00")).is_ok());
        assert!(matches!(
            parse_all(&h("1F 81 82 83 04 00")),
            Err(ApduError::Tlv {
                reason: TlvErrorKind::TagTooLong,
                ..
            })
        ));
    }

    #[test]
    fn long_lengths() {
        let value = [0x5Au8; 256];
        let enc = encode(Tag(0x53), &value);
        assert_eq!(&enc[..4], &[0x53, 0x82, 0x01, 0x00]);
        let (t, rest) = parse_one(&enc).unwrap();
        assert_eq!(t.value.len(), 256);
        assert!(rest.is_empty());
        let enc = encode(Tag(0x53), &value[..200]);
        assert_eq!(&enc[..3], &[0x53, 0x81, 200]);
        let mut out = Vec::new();
        encode_length(&mut out, 0x012345);
        assert_eq!(out, [0x83, 0x01, 0x23, 0x45]);
    }

    #[test]
    fn malformed_inputs_are_typed() {
        let cases: &[(&str, TlvErrorKind)] = &[
            ("5F", TlvErrorKind::TruncatedTag),
            ("80", TlvErrorKind::TruncatedLength),
            ("80 80", TlvErrorKind::IndefiniteLength),
            ("80 85 00 00 00 00 01", TlvErrorKind::LengthTooLong),
            ("80 82 01", TlvErrorKind::TruncatedLength),
            (
                "80 05 01 02",
                TlvErrorKind::ValueTruncated {
                    needed: 5,
                    available: 2,
                },
            ),
        ];
        for (hexs, kind) in cases {
            match parse_all(&h(hexs)) {
                Err(ApduError::Tlv { reason, .. }) => assert_eq!(reason, *kind, "{hexs}"),
                other => panic!("{hexs}: {other:?}"),
            }
        }
        // The offset points at the faulty object.
        match parse_all(&h("80 01 AA 81 05 00")) {
            Err(ApduError::Tlv { offset, .. }) => assert_eq!(offset, 3),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn padding_is_opt_in() {
        let data = h("00 80 01 AA FF FF 81 00 00");
        assert!(parse_all(&data).is_err());
        let objs: Vec<_> = Iter::new(&data)
            .skip_padding()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(objs.len(), 2);
        assert_eq!(objs[1].tag, Tag(0x81));
    }

    #[test]
    fn deep_nesting_is_bounded() {
        let mut data = encode(Tag(0x80), &[]);
        for _ in 0..40 {
            data = encode(Tag(0xA0), &data);
        }
        let top = parse_one(&data).unwrap().0;
        let mut count = 0;
        let r = top.walk(&mut |_, _| count += 1);
        assert!(matches!(
            r,
            Err(ApduError::Tlv {
                reason: TlvErrorKind::TooDeep,
                ..
            })
        ));
        let path = alloc::vec![Tag(0xA0); 40];
        assert!(find_path(&data, &path).is_err());
    }

    #[test]
    fn builder_nests() {
        let b = Builder::new()
            .constructed(Tag(0x70), |b| {
                b.constructed(Tag(0xBF8101), |b| {
                    b.primitive(Tag(0x9A), &[3]).optional(Tag(0x9B), None)
                })
            })
            .finish();
        assert_eq!(b, h("70 07 BF 81 01 03 9A 01 03"));
    }
}
