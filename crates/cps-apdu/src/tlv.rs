//! BER-TLV data objects (ISO/IEC 7816-4:2020 §6.3, encoding rules of ISO/IEC 8825-1 §8.1).
//!
//! - **Tags** are 1 to 4 bytes ([`MAX_TAG_LEN`]): when the five low bits of the first byte are
//!   all ones (`xxx11111`), more bytes follow, each with bit 8 set except the last
//!   (ISO/IEC 8825-1 §8.1.2.4). Bit 6 of the first byte marks a *constructed* object whose
//!   value is itself a sequence of data objects (§8.1.2.5); bits 8-7 give the class.
//! - **Lengths** use the definite form only (ISO/IEC 8825-1 §8.1.3.4-5): `00`–`7F` in one
//!   byte, or `81 xx`, `82 xx xx`, `83 xx xx xx`, `84 xx xx xx xx`. The indefinite form `80`
//!   is refused, as ISO 7816-4 §6.3 does, and so are length fields of more than four bytes.
//!   Non-minimal lengths (`81 05`) are BER and are accepted; the encoder always writes the
//!   shortest form (DER style), so re-encoding such input gives fewer bytes.
//! - **Values** are borrowed from the input: parsing allocates only the `Vec` of
//!   [`parse_all`] (the [`Iter`] form allocates nothing).
//!
//! Tags are not checked beyond their structure: EMV's `9F02` has a second byte below `1F`,
//! which ISO 7816-4 calls invalid but every payment card uses, so it parses.
//!
//! Parsing never panics; nesting is bounded by [`MAX_DEPTH`] so hostile input cannot exhaust
//! the stack. Error offsets ([`ApduError::Tlv`]) are byte positions in the *original* input,
//! also for objects found inside constructed ones.
//!
//! ISO 7816-4 §6.3 lets `00` and `FF` bytes stand before, between and after data objects in
//! some contexts (padded EFs, erased memory); [`Iter::skip_padding`] accepts them. The default
//! is strict: `00` is then the tag `00`, and `FF` starts a multi-byte private tag.
//!
//! ```
//! use cps_apdu::tlv::{self, Tag};
//! // GET DATA of the PIN policy as OpenSC sends it to IAS-ECC cards (see docs/card-layout.md).
//! let data = [0x4D, 0x09, 0x70, 0x07, 0xBF, 0x81, 0x01, 0x03, 0x7F, 0x41, 0x80];
//! let sdo = tlv::find_path(&data, &[Tag(0x4D), Tag(0x70), Tag(0xBF8101)]).unwrap().unwrap();
//! assert_eq!(sdo.value, [0x7F, 0x41, 0x80]);
//! assert_eq!(sdo.offset, 4);
//! ```

use alloc::vec::Vec;
use core::fmt;

use nom::bytes::complete::take;
use nom::number::complete::be_u8;
use nom::{IResult, Parser};

use crate::ApduError;

/// Deepest nesting of constructed objects that [`Tlv::walk`] follows and the longest path
/// [`find_path`] accepts. Card data nests 5 or 6 levels at most (PKCS#15 directories, FCP
/// with security attributes); 32 leaves room and bounds recursion on hostile input.
pub const MAX_DEPTH: usize = 32;

/// Longest tag accepted, in bytes. ISO/IEC 7816-4:2020 §6.3 uses tags of up to three bytes;
/// four keeps the tag in a `u32` and covers every tag seen in card profiles.
pub const MAX_TAG_LEN: usize = 4;

/// A BER-TLV tag, stored as its encoded bytes read big-endian (`5F2D` → `Tag(0x5F2D)`).
///
/// Any `u32` can be wrapped; [`Tag::is_valid`] tells whether it is a well-formed tag that
/// the parser would read back identically. The encoder writes the bytes as they are.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag(pub u32);

/// The class of a tag: bits 8-7 of its first byte (ISO/IEC 8825-1 §8.1.2.2, Table 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TagClass {
    /// `00xxxxxx`: universal (ASN.1 types such as `30` SEQUENCE, `04` OCTET STRING).
    Universal,
    /// `01xxxxxx`: application (ISO 7816 interindustry objects such as `4F`, `5F2D`, `7F49`).
    Application,
    /// `10xxxxxx`: context-specific (`80`..`BF`, e.g. the FCP template contents).
    ContextSpecific,
    /// `11xxxxxx`: private (`C0`..`FF`, e.g. card-profile specific objects).
    Private,
}

impl Tag {
    /// Parses exactly one tag occupying all of `bytes`.
    pub fn from_bytes(bytes: &[u8]) -> Result<Tag, ApduError> {
        match tag(bytes) {
            Ok(([], t)) => Ok(t),
            Ok(_) => Err(ApduError::Tlv {
                offset: 0,
                reason: TlvErrorKind::TrailingTagBytes,
            }),
            Err(e) => Err(nom_to_apdu(e, 0)),
        }
    }

    /// Whether the object is constructed (bit 6 of the first tag byte).
    pub const fn is_constructed(self) -> bool {
        self.first_byte() & 0x20 != 0
    }

    /// The class (bits 8-7 of the first tag byte).
    pub const fn class(self) -> TagClass {
        match self.first_byte() >> 6 {
            0 => TagClass::Universal,
            1 => TagClass::Application,
            2 => TagClass::ContextSpecific,
            _ => TagClass::Private,
        }
    }

    /// Number of bytes of the encoded tag (1 to 4; `Tag(0)` is the one byte `00`).
    pub const fn encoded_len(self) -> usize {
        let lead = (self.0.leading_zeros() / 8) as usize;
        if lead >= 4 { 1 } else { 4 - lead }
    }

    /// The first byte of the encoded tag.
    pub const fn first_byte(self) -> u8 {
        (self.0 >> (8 * (self.encoded_len() - 1))) as u8
    }

    /// Whether this is a well-formed tag of at most [`MAX_TAG_LEN`] bytes: a one-byte tag
    /// whose low five bits are not `11111`, or such a first byte followed by bytes with
    /// bit 8 set except the last one.
    pub fn is_valid(self) -> bool {
        let mut buf = [0u8; MAX_TAG_LEN];
        let bytes = self.write_to(&mut buf);
        matches!(tag(bytes), Ok(([], t)) if t == self)
    }

    /// The encoded tag bytes (1 to 4).
    pub fn to_bytes(self) -> Vec<u8> {
        let mut buf = [0u8; MAX_TAG_LEN];
        self.write_to(&mut buf).to_vec()
    }

    /// Writes the encoded tag into `buf` and returns the part written.
    fn write_to(self, buf: &mut [u8; MAX_TAG_LEN]) -> &[u8] {
        *buf = self.0.to_be_bytes();
        buf.get(MAX_TAG_LEN - self.encoded_len()..).unwrap_or(&[])
    }
}

impl From<u32> for Tag {
    fn from(v: u32) -> Self {
        Tag(v)
    }
}

impl fmt::Debug for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tag({self})")
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Two hex digits per encoded byte: `Tag(0x0084)` is the one-byte tag "84".
        write!(f, "{:0width$X}", self.0, width = 2 * self.encoded_len())
    }
}

/// What is wrong with a BER-TLV encoding (carried by [`ApduError::Tlv`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlvErrorKind {
    /// The input ends inside a tag.
    TruncatedTag,
    /// A tag longer than [`MAX_TAG_LEN`] bytes.
    TagTooLong,
    /// [`Tag::from_bytes`] was given more bytes than one tag.
    TrailingTagBytes,
    /// The input ends inside a length field.
    TruncatedLength,
    /// The indefinite length form (`80`), not allowed in ISO 7816-4.
    IndefiniteLength,
    /// A length field of more than 4 bytes (`85`..`FF`), or a length this platform's
    /// `usize` cannot hold.
    LengthTooLong,
    /// The value is shorter than the length announces.
    ValueTruncated {
        /// Bytes announced by the length field.
        needed: usize,
        /// Bytes left in the input after the length field.
        available: usize,
    },
    /// Constructed objects nested deeper than [`MAX_DEPTH`], or a longer lookup path.
    TooDeep,
}

impl fmt::Display for TlvErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlvErrorKind::TruncatedTag => f.write_str("input ends inside a tag"),
            TlvErrorKind::TagTooLong => write!(f, "tag longer than {MAX_TAG_LEN} bytes"),
            TlvErrorKind::TrailingTagBytes => f.write_str("bytes left after the tag"),
            TlvErrorKind::TruncatedLength => f.write_str("input ends inside a length field"),
            TlvErrorKind::IndefiniteLength => {
                f.write_str("indefinite length (80) is not allowed in ISO 7816-4")
            }
            TlvErrorKind::LengthTooLong => f.write_str("length field longer than 4 bytes"),
            TlvErrorKind::ValueTruncated { needed, available } => {
                write!(f, "value needs {needed} bytes, {available} available")
            }
            TlvErrorKind::TooDeep => write!(f, "nesting deeper than {MAX_DEPTH} levels"),
        }
    }
}

/// One data object, borrowing its value from the parsed input.
///
/// Equality compares the tag and the value only, not where the object was found.
#[derive(Clone, Copy)]
pub struct Tlv<'a> {
    /// The tag.
    pub tag: Tag,
    /// The value bytes.
    pub value: &'a [u8],
    /// Byte offset of the first tag byte in the input originally parsed (the outermost
    /// buffer, also for objects found inside constructed ones).
    pub offset: usize,
    /// Byte offset of the first value byte, likewise.
    value_offset: usize,
}

impl PartialEq for Tlv<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.tag == other.tag && self.value == other.value
    }
}

impl Eq for Tlv<'_> {}

impl fmt::Debug for Tlv<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Values may be secrets (keys, PIN blocks): print the length only.
        write!(
            f,
            "{} [{} bytes at offset {}]",
            self.tag,
            self.value.len(),
            self.offset
        )
    }
}

impl<'a> Tlv<'a> {
    /// An object not taken from parsed input (offsets are 0).
    pub fn new(tag: Tag, value: &'a [u8]) -> Self {
        Tlv {
            tag,
            value,
            offset: 0,
            value_offset: 0,
        }
    }

    /// Byte offset of the value in the input originally parsed.
    pub fn value_offset(&self) -> usize {
        self.value_offset
    }

    /// Number of bytes the object took in the input: tag, length field as it was written
    /// (possibly non-minimal) and value. [`Tlv::encode`] may be shorter.
    pub fn raw_len(&self) -> usize {
        self.value_offset.saturating_sub(self.offset) + self.value.len()
    }

    /// Iterates over the nested objects, with offsets in the original input.
    ///
    /// This parses the value whatever the constructed bit says: some profiles carry
    /// BER-TLV in primitive objects (PIV wraps its data objects in the primitive tag `53`,
    /// NIST SP 800-73-4 §3.1), and the caller knows when that is so.
    pub fn children_iter(&self) -> Iter<'a> {
        Iter::at(self.value, self.value_offset)
    }

    /// The nested objects (see [`Tlv::children_iter`]); an error for malformed content.
    pub fn children(&self) -> Result<Vec<Tlv<'a>>, ApduError> {
        self.children_iter().collect()
    }

    /// The first child with `tag`. Children before it must be well formed.
    pub fn child(&self, tag: Tag) -> Result<Option<Tlv<'a>>, ApduError> {
        find_in(self.value, self.value_offset, tag)
    }

    /// Encodes this object (shortest length form).
    pub fn encode(&self) -> Vec<u8> {
        encode(self.tag, self.value)
    }

    /// Appends the encoding of this object to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        encode_into(out, self.tag, self.value);
    }

    /// Calls `visit(depth, tlv)` for this object (depth 0) and, recursively, every object
    /// nested in constructed ones, depth-first. Primitive values are not parsed.
    ///
    /// Fails on malformed nested content or nesting deeper than [`MAX_DEPTH`]; objects
    /// visited before the fault have been passed to `visit`.
    pub fn walk(&self, visit: &mut dyn FnMut(usize, &Tlv<'a>)) -> Result<(), ApduError> {
        walk_inner(self, 0, visit)
    }

    /// An owned copy.
    pub fn to_buf(&self) -> TlvBuf {
        TlvBuf::new(self.tag, self.value.to_vec())
    }
}

fn walk_inner<'a>(
    tlv: &Tlv<'a>,
    depth: usize,
    visit: &mut dyn FnMut(usize, &Tlv<'a>),
) -> Result<(), ApduError> {
    if depth > MAX_DEPTH {
        return Err(ApduError::Tlv {
            offset: tlv.offset,
            reason: TlvErrorKind::TooDeep,
        });
    }
    visit(depth, tlv);
    if tlv.tag.is_constructed() {
        for child in tlv.children_iter() {
            walk_inner(&child?, depth + 1, visit)?;
        }
    }
    Ok(())
}

/// An owned data object, for building answers (simulated cards) or keeping parsed values.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TlvBuf {
    /// The tag.
    pub tag: Tag,
    /// The value bytes.
    pub value: Vec<u8>,
}

impl fmt::Debug for TlvBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} [{} bytes]", self.tag, self.value.len())
    }
}

impl TlvBuf {
    /// An object with `tag` and `value`.
    pub fn new(tag: Tag, value: Vec<u8>) -> Self {
        TlvBuf { tag, value }
    }

    /// A constructed object holding the encodings of `children`, in order.
    pub fn constructed<'c>(tag: Tag, children: impl IntoIterator<Item = &'c TlvBuf>) -> Self {
        let mut value = Vec::new();
        for c in children {
            c.encode_into(&mut value);
        }
        TlvBuf { tag, value }
    }

    /// Borrows it as a [`Tlv`] (offsets 0).
    pub fn as_tlv(&self) -> Tlv<'_> {
        Tlv::new(self.tag, &self.value)
    }

    /// Encodes it.
    pub fn encode(&self) -> Vec<u8> {
        encode(self.tag, &self.value)
    }

    /// Appends its encoding to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        encode_into(out, self.tag, &self.value);
    }
}

impl From<Tlv<'_>> for TlvBuf {
    fn from(t: Tlv<'_>) -> Self {
        t.to_buf()
    }
}

// ---------------------------------------------------------------------------------------
// nom parsers
// ---------------------------------------------------------------------------------------

/// The nom-level failure: always a hard [`nom::Err::Failure`] with our own reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TlvFail(TlvErrorKind);

impl<'a> nom::error::ParseError<&'a [u8]> for TlvFail {
    // Only reached if a nom primitive fails without our mapping; every call site maps its
    // own error, so the kind here is a placeholder that keeps the parser total.
    fn from_error_kind(_: &'a [u8], _: nom::error::ErrorKind) -> Self {
        TlvFail(TlvErrorKind::TruncatedTag)
    }
    fn append(_: &'a [u8], _: nom::error::ErrorKind, other: Self) -> Self {
        other
    }
}

type Res<'a, T> = IResult<&'a [u8], T, TlvFail>;

/// Runs a nom parser and replaces any failure by `kind`.
fn or_fail<'a, O>(
    mut p: impl Parser<&'a [u8], Output = O, Error = TlvFail>,
    kind: TlvErrorKind,
) -> impl FnMut(&'a [u8]) -> Res<'a, O> {
    move |i| p.parse(i).map_err(|_| nom::Err::Failure(TlvFail(kind)))
}

fn fail<T>(kind: TlvErrorKind) -> Result<T, nom::Err<TlvFail>> {
    Err(nom::Err::Failure(TlvFail(kind)))
}

/// Tag: ISO/IEC 8825-1 §8.1.2.
fn tag(input: &[u8]) -> Res<'_, Tag> {
    let (rest, first) = or_fail(be_u8, TlvErrorKind::TruncatedTag)(input)?;
    if first & 0x1F != 0x1F {
        return Ok((rest, Tag(u32::from(first))));
    }
    // Subsequent bytes: those with b8 set, then a last one with b8 clear.
    let continuing = rest.iter().take_while(|&&b| b & 0x80 != 0).count();
    if 1 + continuing + 1 > MAX_TAG_LEN {
        return fail(TlvErrorKind::TagTooLong);
    }
    let (rest, more) = or_fail(take(continuing + 1), TlvErrorKind::TruncatedTag)(rest)?;
    let value = more
        .iter()
        .fold(u32::from(first), |acc, &b| (acc << 8) | u32::from(b));
    Ok((rest, Tag(value)))
}

/// Length: ISO/IEC 8825-1 §8.1.3, definite forms only, at most 4 subsequent bytes.
fn length(input: &[u8]) -> Res<'_, usize> {
    let (rest, first) = or_fail(be_u8, TlvErrorKind::TruncatedLength)(input)?;
    match first {
        0x00..=0x7F => Ok((rest, usize::from(first))),
        0x80 => fail(TlvErrorKind::IndefiniteLength),
        0x81..=0x84 => {
            let n = usize::from(first & 0x7F);
            let (rest, bytes) = or_fail(take(n), TlvErrorKind::TruncatedLength)(rest)?;
            let len = bytes.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b));
            match usize::try_from(len) {
                Ok(len) => Ok((rest, len)),
                Err(_) => fail(TlvErrorKind::LengthTooLong),
            }
        }
        _ => fail(TlvErrorKind::LengthTooLong),
    }
}

/// One object: returns the tag, the header length and the value.
fn object(input: &[u8]) -> Res<'_, (Tag, usize, &[u8])> {
    let (rest, (t, len)) = (tag, length).parse(input)?;
    let header_len = input.len() - rest.len();
    let available = rest.len();
    let (rest, value) = or_fail(
        take(len),
        TlvErrorKind::ValueTruncated {
            needed: len,
            available,
        },
    )(rest)?;
    Ok((rest, (t, header_len, value)))
}

fn nom_to_apdu(e: nom::Err<TlvFail>, offset: usize) -> ApduError {
    let reason = match e {
        nom::Err::Failure(TlvFail(k)) | nom::Err::Error(TlvFail(k)) => k,
        // Complete parsers never ask for more input; map it anyway rather than panic.
        nom::Err::Incomplete(_) => TlvErrorKind::TruncatedTag,
    };
    ApduError::Tlv { offset, reason }
}

/// Parses the object at `input`, which starts at byte `base` of the original input.
fn parse_at(input: &[u8], base: usize) -> Result<(Tlv<'_>, &[u8]), ApduError> {
    match object(input) {
        Ok((rest, (tag, header_len, value))) => Ok((
            Tlv {
                tag,
                value,
                offset: base,
                value_offset: base + header_len,
            },
            rest,
        )),
        Err(e) => Err(nom_to_apdu(e, base)),
    }
}

// ---------------------------------------------------------------------------------------
// Public parsing API
// ---------------------------------------------------------------------------------------

/// Parses one data object at the start of `input`; returns it and the remaining bytes.
pub fn parse_one(input: &[u8]) -> Result<(Tlv<'_>, &[u8]), ApduError> {
    parse_at(input, 0)
}

/// Iterates over consecutive data objects; yields an error (once, then stops) on malformed
/// input.
///
/// With [`Iter::skip_padding`], `00` and `FF` bytes before, between and after objects are
/// skipped, as ISO 7816-4 §6.3 allows in some contexts (e.g. padded EFs); the default is
/// strict.
#[derive(Clone)]
pub struct Iter<'a> {
    input: &'a [u8],
    offset: usize,
    skip_padding: bool,
    failed: bool,
}

impl<'a> Iter<'a> {
    /// Iterates strictly over `input`.
    pub fn new(input: &'a [u8]) -> Self {
        Iter::at(input, 0)
    }

    fn at(input: &'a [u8], offset: usize) -> Self {
        Iter {
            input,
            offset,
            skip_padding: false,
            failed: false,
        }
    }

    /// Skips `00` / `FF` padding bytes before, between and after objects.
    #[must_use]
    pub fn skip_padding(mut self) -> Self {
        self.skip_padding = true;
        self
    }

    /// The bytes not consumed yet.
    pub fn remaining(&self) -> &'a [u8] {
        self.input
    }

    /// Offset in the original input of the next object.
    pub fn offset(&self) -> usize {
        self.offset
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
        match parse_at(self.input, self.offset) {
            Ok((t, rest)) => {
                self.offset += self.input.len() - rest.len();
                self.input = rest;
                Some(Ok(t))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

impl core::iter::FusedIterator for Iter<'_> {}

impl fmt::Debug for Iter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Lengths and positions only: the bytes may be secrets.
        f.debug_struct("Iter")
            .field("offset", &self.offset)
            .field("remaining", &self.input.len())
            .field("skip_padding", &self.skip_padding)
            .field("failed", &self.failed)
            .finish()
    }
}

/// Parses every data object of `input` (strict: no padding allowed, see [`Iter`]).
pub fn parse_all(input: &[u8]) -> Result<Vec<Tlv<'_>>, ApduError> {
    Iter::new(input).collect()
}

/// The first object with `tag` among those of `input`, which starts at `base` in the
/// original input. (A loop over slices rather than [`Iter`]: this is the hot path of
/// lookups and the smaller state keeps it about three times faster.)
fn find_in(mut input: &[u8], mut base: usize, tag: Tag) -> Result<Option<Tlv<'_>>, ApduError> {
    while !input.is_empty() {
        let (t, rest) = parse_at(input, base)?;
        if t.tag == tag {
            return Ok(Some(t));
        }
        base += input.len() - rest.len();
        input = rest;
    }
    Ok(None)
}

/// The first top-level object with `tag`, or `None`. Objects before it must be well formed;
/// objects after it are not looked at.
pub fn find(input: &[u8], tag: Tag) -> Result<Option<Tlv<'_>>, ApduError> {
    find_in(input, 0, tag)
}

/// Descends through nested objects: `path[0]` at top level, `path[1]` inside it, and so on;
/// returns the object matching the last tag. An empty path finds nothing.
///
/// Intermediate objects are searched whatever their constructed bit (see
/// [`Tlv::children_iter`]). Paths longer than [`MAX_DEPTH`] are refused.
pub fn find_path<'a>(input: &'a [u8], path: &[Tag]) -> Result<Option<Tlv<'a>>, ApduError> {
    if path.len() > MAX_DEPTH {
        return Err(ApduError::Tlv {
            offset: 0,
            reason: TlvErrorKind::TooDeep,
        });
    }
    let (mut within, mut base) = (input, 0);
    let mut found = None;
    for &t in path {
        match find_in(within, base, t)? {
            Some(obj) => {
                within = obj.value;
                base = obj.value_offset;
                found = Some(obj);
            }
            None => return Ok(None),
        }
    }
    Ok(found)
}

// ---------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------

/// Appends the encoding of a length, in the shortest definite form.
///
/// Lengths above `u32::MAX` cannot be written in ISO 7816-4 BER-TLV (four length bytes at
/// most); they are clamped to `u32::MAX`. No card object comes near that size.
pub fn encode_length(out: &mut Vec<u8>, len: usize) {
    let len = u32::try_from(len).unwrap_or(u32::MAX);
    let bytes = len.to_be_bytes();
    match len {
        0..=0x7F => out.push(len as u8),
        _ => {
            let n = bytes.iter().take_while(|&&b| b == 0).count();
            let significant = bytes.get(n..).unwrap_or(&[]);
            // 0x80 | number of length bytes (1..=4): ISO/IEC 8825-1 §8.1.3.5.
            out.push(0x80 | significant.len() as u8);
            out.extend_from_slice(significant);
        }
    }
}

/// Number of bytes [`encode_length`] writes for `len`.
pub fn length_len(len: usize) -> usize {
    match len {
        0..=0x7F => 1,
        0x80..=0xFF => 2,
        0x100..=0xFFFF => 3,
        0x1_0000..=0xFF_FFFF => 4,
        _ => 5,
    }
}

/// Appends the encoding of a tag (its 1 to 4 bytes as they are; see [`Tag::is_valid`]).
pub fn encode_tag(out: &mut Vec<u8>, tag: Tag) {
    let mut buf = [0u8; MAX_TAG_LEN];
    out.extend_from_slice(tag.write_to(&mut buf));
}

/// Appends the encoding of one data object to `out`.
pub fn encode_into(out: &mut Vec<u8>, tag: Tag, value: &[u8]) {
    out.reserve(tag.encoded_len() + length_len(value.len()) + value.len());
    encode_tag(out, tag);
    encode_length(out, value.len());
    out.extend_from_slice(value);
}

/// Encodes one data object.
pub fn encode(tag: Tag, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(&mut out, tag, value);
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
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Builder {
    out: Vec<u8>,
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Builder [{} bytes]", self.out.len())
    }
}

impl Builder {
    /// An empty builder.
    pub fn new() -> Self {
        Builder::default()
    }

    /// Appends a primitive object (or any object whose value is already encoded).
    #[must_use]
    pub fn primitive(mut self, tag: Tag, value: &[u8]) -> Self {
        encode_into(&mut self.out, tag, value);
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
        encode_into(&mut self.out, tag, &content);
        self
    }

    /// Appends a parsed or owned object.
    #[must_use]
    pub fn tlv(mut self, tlv: &Tlv<'_>) -> Self {
        tlv.encode_into(&mut self.out);
        self
    }

    /// Appends already-encoded bytes.
    #[must_use]
    pub fn raw(mut self, bytes: &[u8]) -> Self {
        self.out.extend_from_slice(bytes);
        self
    }

    /// Bytes encoded so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.out
    }

    /// The encoded bytes.
    pub fn finish(self) -> Vec<u8> {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).unwrap()
    }

    fn reason(r: Result<impl fmt::Debug, ApduError>) -> (usize, TlvErrorKind) {
        match r {
            Err(ApduError::Tlv { offset, reason }) => (offset, reason),
            other => panic!("expected a TLV error, got {other:?}"),
        }
    }

    #[test]
    fn fcp_template() {
        // An FCP template (ISO 7816-4:2020 §7.4.3, Table 12) as an IAS-ECC card returns it
        // for a transparent EF (layout of docs/card-layout.md):
        //   80 02 0040   file size 64
        //   82 01 01     file descriptor: working EF, transparent
        //   83 02 2F01   file identifier
        //   8A 01 05     life cycle status: operational, activated
        //   A1 05 { 8C 03 03 FF00 }  security attribute template holding a compact-form 8C
        let fcp = h("62 15 80 02 00 40 82 01 01 83 02 2F 01 8A 01 05 A1 05 8C 03 03 FF 00");
        let top = parse_all(&fcp).unwrap();
        assert_eq!(top.len(), 1);
        assert!(top[0].tag.is_constructed());
        assert_eq!(top[0].tag.class(), TagClass::Application);
        let kids = top[0].children().unwrap();
        assert_eq!(
            kids.iter().map(|t| t.tag.0).collect::<Vec<_>>(),
            [0x80, 0x82, 0x83, 0x8A, 0xA1]
        );
        assert_eq!(kids[2].offset, 9);
        assert_eq!(kids[2].value_offset(), 11);
        let fid = find_path(&fcp, &[Tag(0x62), Tag(0x83)]).unwrap().unwrap();
        assert_eq!(fid.value, [0x2F, 0x01]);
        let sa = find_path(&fcp, &[Tag(0x62), Tag(0xA1), Tag(0x8C)])
            .unwrap()
            .unwrap();
        assert_eq!(sa.value, [0x03, 0xFF, 0x00]);
        assert_eq!(&fcp[sa.value_offset()..][..3], sa.value);
        assert!(find_path(&fcp, &[Tag(0x62), Tag(0x84)]).unwrap().is_none());
        assert!(find_path(&fcp, &[]).unwrap().is_none());
        // Round trip.
        assert_eq!(top[0].encode(), fcp);
        assert_eq!(top[0].raw_len(), fcp.len());
        let mut depths = Vec::new();
        top[0].walk(&mut |d, t| depths.push((d, t.tag.0))).unwrap();
        assert_eq!(
            depths,
            [
                (0, 0x62),
                (1, 0x80),
                (1, 0x82),
                (1, 0x83),
                (1, 0x8A),
                (1, 0xA1),
                (2, 0x8C)
            ]
        );
    }

    #[test]
    fn ias_ecc_get_data() {
        // The data field OpenSC's IAS-ECC driver sends with GET DATA (INS CB) to read the
        // PIN SDO: an extended header list (tag 4D, ISO 7816-4) 4D { 70 { BF8101 { 7F41 80 } } }.
        // `7F41 80` is a header-list entry (a tag and a length field, no value), not a
        // complete data object, so strict parsing stops there.
        let data = h("4D 09 70 07 BF 81 01 03 7F 41 80");
        let top = parse_all(&data).unwrap();
        assert_eq!(top.len(), 1);
        assert_eq!(top[0].tag, Tag(0x4D));
        let sdo = find_path(&data, &[Tag(0x4D), Tag(0x70), Tag(0xBF8101)])
            .unwrap()
            .unwrap();
        assert!(sdo.tag.is_constructed());
        assert_eq!(sdo.tag.class(), TagClass::ContextSpecific);
        assert_eq!(sdo.offset, 4);
        assert_eq!(sdo.value, [0x7F, 0x41, 0x80]);
        // Descending further hits the indefinite length; the offset points at 7F41.
        assert_eq!(
            reason(find_path(
                &data,
                &[Tag(0x4D), Tag(0x70), Tag(0xBF8101), Tag(0x7F41)]
            )),
            (8, TlvErrorKind::IndefiniteLength)
        );
        // 4D is a primitive tag (bit 6 clear), so walk does not look inside it...
        let mut n = 0;
        top[0].walk(&mut |_, _| n += 1).unwrap();
        assert_eq!(n, 1);
        // ...but from the constructed 70 it descends into BF8101 and meets the header entry.
        let list = top[0].child(Tag(0x70)).unwrap().unwrap();
        assert_eq!(
            reason(list.walk(&mut |_, _| {})),
            (8, TlvErrorKind::IndefiniteLength)
        );
    }

    #[test]
    fn multi_byte_tags() {
        // 5F2D (language preference, ISO 7816-4 Table 9), 7F49 (public key template,
        // ISO 7816-8), BF8101 (IAS-ECC SDO: CHV class, reference 1, as OpenSC requests it).
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
        assert_eq!(Tag(0xBF8101).encoded_len(), 3);
        assert_eq!(Tag(0xBF8101).first_byte(), 0xBF);
        assert_eq!(format!("{}", Tag(0x84)), "84");
        assert_eq!(format!("{:?}", Tag(0x5F2D)), "Tag(5F2D)");
        assert_eq!(format!("{}", Tag(0x1F0102)), "1F0102");
        // EMV's 9F02 (amount, authorised) parses although its second byte is below 1F.
        assert_eq!(parse_one(&h("9F 02 00")).unwrap().0.tag, Tag(0x9F02));
        // Four-byte tag is the maximum.
        assert!(parse_all(&h("1F 81 82 03 00")).is_ok());
        assert_eq!(
            reason(parse_all(&h("1F 81 82 83 04 00"))),
            (0, TlvErrorKind::TagTooLong)
        );
        assert_eq!(
            reason(parse_all(&h("1F 81 82"))),
            (0, TlvErrorKind::TruncatedTag)
        );
    }

    #[test]
    fn tag_validity_and_from_bytes() {
        for t in [
            0x00, 0x4F, 0x84, 0x5F2D, 0x7F49, 0xBF8101, 0x9F02, 0x1F818203,
        ] {
            assert!(Tag(t).is_valid(), "{t:X}");
            assert_eq!(Tag::from_bytes(&Tag(t).to_bytes()).unwrap(), Tag(t));
        }
        // 1F alone announces more bytes; 5F80 ends on a continuation byte; 0100 would parse
        // as tag 01 followed by a stray byte.
        for t in [0x1F, 0x5F80, 0x0100, 0x1F818283] {
            assert!(!Tag(t).is_valid(), "{t:X}");
        }
        assert_eq!(
            reason(Tag::from_bytes(&[0x84, 0x01])),
            (0, TlvErrorKind::TrailingTagBytes)
        );
        assert_eq!(
            reason(Tag::from_bytes(&[])),
            (0, TlvErrorKind::TruncatedTag)
        );
        assert_eq!(Tag(0xC1).class(), TagClass::Private);
        assert_eq!(Tag(0x30).class(), TagClass::Universal);
    }

    #[test]
    fn long_lengths() {
        let value = [0x5Au8; 256];
        let enc = encode(Tag(0x53), &value);
        assert_eq!(&enc[..4], &[0x53, 0x82, 0x01, 0x00]);
        let (t, rest) = parse_one(&enc).unwrap();
        assert_eq!(t.value.len(), 256);
        assert_eq!(t.value_offset(), 4);
        assert!(rest.is_empty());
        let enc = encode(Tag(0x53), &value[..200]);
        assert_eq!(&enc[..3], &[0x53, 0x81, 200]);
        for (len, expect) in [
            (0usize, &[0x00u8][..]),
            (0x7F, &[0x7F]),
            (0x80, &[0x81, 0x80]),
            (0xFF, &[0x81, 0xFF]),
            (0x100, &[0x82, 0x01, 0x00]),
            (0x01_2345, &[0x83, 0x01, 0x23, 0x45]),
            (0x0123_4567, &[0x84, 0x01, 0x23, 0x45, 0x67]),
        ] {
            let mut out = Vec::new();
            encode_length(&mut out, len);
            assert_eq!(out, expect, "{len:#X}");
            assert_eq!(length_len(len), expect.len());
        }
        // Non-minimal BER lengths parse (and re-encode shorter).
        let nonminimal = h("04 82 00 02 AB CD");
        let (t, _) = parse_one(&nonminimal).unwrap();
        assert_eq!(t.value, [0xAB, 0xCD]);
        assert_eq!(t.raw_len(), 6);
        assert_eq!(t.encode(), h("04 02 AB CD"));
        // A four-byte length larger than the input is a truncated value, not a panic.
        assert_eq!(
            reason(parse_one(&h("04 84 FF FF FF FF 00"))).1,
            TlvErrorKind::ValueTruncated {
                needed: 0xFFFF_FFFF,
                available: 1
            }
        );
    }

    #[test]
    fn malformed_inputs_are_typed() {
        let cases: &[(&str, TlvErrorKind)] = &[
            ("5F", TlvErrorKind::TruncatedTag),
            ("80", TlvErrorKind::TruncatedLength),
            ("80 80", TlvErrorKind::IndefiniteLength),
            ("80 85 00 00 00 00 01", TlvErrorKind::LengthTooLong),
            ("80 FF", TlvErrorKind::LengthTooLong),
            ("80 82 01", TlvErrorKind::TruncatedLength),
            ("80 81", TlvErrorKind::TruncatedLength),
            (
                "80 05 01 02",
                TlvErrorKind::ValueTruncated {
                    needed: 5,
                    available: 2,
                },
            ),
        ];
        for (hexs, kind) in cases {
            assert_eq!(reason(parse_all(&h(hexs))).1, *kind, "{hexs}");
            // Every reason has a message.
            assert!(!format!("{kind}").is_empty());
        }
        // The offset points at the faulty object.
        assert_eq!(reason(parse_all(&h("80 01 AA 81 05 00"))).0, 3);
        // Also inside a constructed object: A1 at 0, its second child at 2 + 3 = 5.
        let data = h("A1 05 80 01 AA 81 05");
        assert_eq!(
            reason(parse_one(&data).unwrap().0.children()),
            (
                5,
                TlvErrorKind::ValueTruncated {
                    needed: 5,
                    available: 0
                }
            )
        );
        let e = parse_all(&h("80 80")).unwrap_err();
        assert_eq!(
            format!("{e}"),
            "malformed BER-TLV at offset 0: indefinite length (80) is not allowed in ISO 7816-4"
        );
    }

    #[test]
    fn iterator_stops_after_an_error() {
        let data = h("80 01 AA 81 80 82 00");
        let mut it = Iter::new(&data);
        assert!(it.next().unwrap().is_ok());
        assert_eq!(it.offset(), 3);
        assert!(it.next().unwrap().is_err());
        assert!(it.next().is_none());
        assert!(it.next().is_none());
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
        assert_eq!(objs[0].offset, 1);
        assert_eq!(objs[1].tag, Tag(0x81));
        assert_eq!(objs[1].offset, 6);
        // Only padding: nothing.
        assert_eq!(Iter::new(&[0xFF, 0x00]).skip_padding().count(), 0);
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
        assert_eq!(reason(r).1, TlvErrorKind::TooDeep);
        assert_eq!(count, MAX_DEPTH + 1);
        let path = alloc::vec![Tag(0xA0); 40];
        assert_eq!(reason(find_path(&data, &path)).1, TlvErrorKind::TooDeep);
        // 32 levels are fine.
        let path = alloc::vec![Tag(0xA0); MAX_DEPTH];
        assert!(find_path(&data, &path).unwrap().is_some());
    }

    #[test]
    fn builder_and_owned_objects() {
        let b = Builder::new()
            .constructed(Tag(0x70), |b| {
                b.constructed(Tag(0xBF8101), |b| {
                    b.primitive(Tag(0x9A), &[3]).optional(Tag(0x9B), None)
                })
            })
            .finish();
        assert_eq!(b, h("70 07 BF 81 01 03 9A 01 03"));

        let key = TlvBuf::constructed(
            Tag(0x7F49),
            &[
                TlvBuf::new(Tag(0x81), alloc::vec![0xAA; 256]),
                TlvBuf::new(Tag(0x82), alloc::vec![0x01, 0x00, 0x01]),
            ],
        );
        let enc = key.encode();
        assert_eq!(&enc[..7], &h("7F 49 82 01 09 81 82")[..]);
        let parsed = parse_one(&enc).unwrap().0;
        assert_eq!(parsed, key.as_tlv());
        assert_eq!(TlvBuf::from(parsed), key);
        let exponent = parsed.child(Tag(0x82)).unwrap().unwrap();
        assert_eq!(exponent.value, [1, 0, 1]);
        assert_eq!(exponent.offset, 5 + 4 + 256);
        let again = Builder::new().tlv(&parsed).finish();
        assert_eq!(again, enc);
        // Debug does not print values.
        assert!(!format!("{parsed:?} {key:?}").contains("AA"));
    }
}
