//! A thin layer over the `der` crate for PKCS#15 files: DER elements as (identifier octet,
//! value), walked by tag, with the primitive decoders PKCS#15 needs.
//!
//! The `der` crate reads every header (strict DER lengths, tag numbers ≤ 30, value inside its
//! parent) and validates strings and OIDs; the structure-level choices (optional fields, CHOICE
//! alternatives by tag, unknown fields skipped) are made here so that a card with extra or
//! missing optional fields still parses. Nothing here panics on any input.

use der::asn1::{AnyRef, ObjectIdentifier, OctetStringRef};
use der::{Decode, Reader, SliceReader, Tagged};

use crate::error::{Error, Result};

/// One DER element: its identifier octet (e.g. `0x30` SEQUENCE, `0xA1` [1] constructed) and
/// its value bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct El<'a> {
    pub tag: u8,
    pub value: &'a [u8],
}

fn der_err(what: &'static str, e: der::Error) -> Error {
    Error::malformed(what, format!("DER: {e}"))
}

/// Every element of `input`, which must be a concatenation of elements.
pub(crate) fn elements<'a>(what: &'static str, input: &'a [u8]) -> Result<Vec<El<'a>>> {
    read(what, input, false)
}

/// Top-level elements of a PKCS#15 EF: the content may be followed by `00` (end of contents)
/// or `FF` (erased memory) padding up to the file size, which ends the list.
pub(crate) fn file_elements<'a>(what: &'static str, input: &'a [u8]) -> Result<Vec<El<'a>>> {
    read(what, input, true)
}

fn read<'a>(what: &'static str, input: &'a [u8], padded: bool) -> Result<Vec<El<'a>>> {
    let mut reader = SliceReader::new(input).map_err(|e| der_err(what, e))?;
    let mut out = Vec::new();
    while !reader.is_finished() {
        if padded && matches!(reader.peek_byte(), Some(0x00 | 0xFF)) {
            break;
        }
        let any = AnyRef::decode(&mut reader).map_err(|e| der_err(what, e))?;
        out.push(El {
            tag: any.tag().octet(),
            value: any.value(),
        });
        // Bound the work on hostile input: a PKCS#15 directory holds a few dozen objects.
        if out.len() > 4096 {
            return Err(Error::malformed(what, "more than 4096 elements"));
        }
    }
    Ok(out)
}

impl<'a> El<'a> {
    /// The elements of a constructed value.
    pub fn children(&self, what: &'static str) -> Result<Vec<El<'a>>> {
        if self.tag & 0x20 == 0 {
            return Err(Error::malformed(
                what,
                format!("element {:02X} is not constructed", self.tag),
            ));
        }
        elements(what, self.value)
    }

    /// The first child with this identifier octet.
    pub fn child(&self, what: &'static str, tag: u8) -> Result<Option<El<'a>>> {
        Ok(self.children(what)?.into_iter().find(|c| c.tag == tag))
    }

    /// A non-negative INTEGER of at most 32 bits.
    ///
    /// Key references such as 0x81 are sometimes written `02 01 81` (negative in DER); the
    /// value bytes are read as unsigned, as OpenSC does for CPx cards.
    pub fn uint(&self, what: &'static str) -> Result<u32> {
        let bytes = self.value;
        if bytes.is_empty() {
            return Err(Error::malformed(what, "empty INTEGER"));
        }
        let significant: &[u8] = {
            let zeros = bytes.iter().take_while(|&&b| b == 0).count();
            bytes.get(zeros..).unwrap_or(&[])
        };
        if significant.len() > 4 {
            return Err(Error::malformed(what, "INTEGER larger than 32 bits"));
        }
        Ok(significant
            .iter()
            .fold(0u32, |acc, &b| (acc << 8) | u32::from(b)))
    }

    /// An OCTET STRING's bytes (checked through `der`).
    pub fn octets(&self, what: &'static str) -> Result<&'a [u8]> {
        let any = AnyRef::new(der::Tag::OctetString, self.value).map_err(|e| der_err(what, e))?;
        any.decode_as::<OctetStringRef<'a>>()
            .map(|o| o.as_bytes())
            .map_err(|e| der_err(what, e))
    }

    /// A string (UTF8String, PrintableString, IA5String...): must be UTF-8.
    pub fn string(&self, what: &'static str) -> Result<String> {
        std::str::from_utf8(self.value)
            .map(str::to_owned)
            .map_err(|_| Error::malformed(what, format!("string {:02X} is not UTF-8", self.tag)))
    }

    /// An OBJECT IDENTIFIER in dotted form (validated by `der`).
    pub fn oid(&self, what: &'static str) -> Result<String> {
        ObjectIdentifier::from_bytes(self.value)
            .map(|o| o.to_string())
            .map_err(|e| Error::malformed(what, format!("OID: {e}")))
    }

    /// A BIT STRING as flags: bit *n* of the ASN.1 named-bit list (bit 0 = most significant
    /// bit of the first byte) is `1 << n` of the result. Bits beyond 63 are ignored; unused
    /// bits that are set (not DER, seen on real CPx cards) are tolerated.
    pub fn bits(&self, what: &'static str) -> Result<u64> {
        let (&unused, bytes) = self
            .value
            .split_first()
            .ok_or_else(|| Error::malformed(what, "empty BIT STRING"))?;
        if unused > 7 || (bytes.is_empty() && unused != 0) {
            return Err(Error::malformed(
                what,
                "BIT STRING with invalid unused-bit count",
            ));
        }
        let mut flags = 0u64;
        for (i, &byte) in bytes.iter().enumerate().take(8) {
            for bit in 0..8 {
                if byte & (0x80 >> bit) != 0 {
                    flags |= 1u64 << (i * 8 + bit);
                }
            }
        }
        Ok(flags)
    }

    /// A BOOLEAN.
    pub fn boolean(&self, what: &'static str) -> Result<bool> {
        match self.value {
            [b] => Ok(*b != 0),
            _ => Err(Error::malformed(what, "BOOLEAN is not one byte")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primitives() {
        let els = elements("t", &[0x02, 0x01, 0x81, 0x03, 0x03, 0x06, 0x00, 0x40]).unwrap();
        assert_eq!(els[0].uint("t").unwrap(), 0x81);
        // nonRepudiation is bit 9.
        assert_eq!(els[1].bits("t").unwrap(), 1 << 9);
        let els = elements("t", &[0x03, 0x02, 0x05, 0x60]).unwrap();
        // sign (2) and decrypt (1).
        assert_eq!(els[0].bits("t").unwrap(), (1 << 1) | (1 << 2));
        assert!(elements("t", &[0x02, 0x05, 0x01]).is_err());
        assert!(
            El {
                tag: 0x02,
                value: &[1, 2, 3, 4, 5]
            }
            .uint("t")
            .is_err()
        );
        let padded = file_elements("t", &[0x04, 0x01, 0x07, 0x00, 0x00, 0xFF]).unwrap();
        assert_eq!(padded.len(), 1);
        assert_eq!(padded[0].octets("t").unwrap(), [7]);
    }
}
