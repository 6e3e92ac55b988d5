//! A minimal DER writer (ITU-T X.690 §10, distinguished encoding rules) for the PKCS#15 files.
//!
//! Only what ISO/IEC 7816-15 structures need: single-byte tags, definite minimal lengths,
//! INTEGER, BIT STRING with named bits, OCTET STRING, UTF8String, OBJECT IDENTIFIER, NULL,
//! BOOLEAN and constructed values.

/// `SEQUENCE` (universal 16, constructed).
pub(crate) const SEQUENCE: u8 = 0x30;
/// `INTEGER` (universal 2).
pub(crate) const INTEGER: u8 = 0x02;
/// `BIT STRING` (universal 3).
pub(crate) const BIT_STRING: u8 = 0x03;
/// `OCTET STRING` (universal 4).
pub(crate) const OCTET_STRING: u8 = 0x04;
/// `NULL` (universal 5).
pub(crate) const NULL: u8 = 0x05;
/// `OBJECT IDENTIFIER` (universal 6).
pub(crate) const OID: u8 = 0x06;
/// `ENUMERATED` (universal 10).
pub(crate) const ENUMERATED: u8 = 0x0A;
/// `UTF8String` (universal 12).
pub(crate) const UTF8_STRING: u8 = 0x0C;

/// Context-specific constructed tag `[n]` (X.690 §8.1.2: class bits `10`, constructed bit).
pub(crate) const fn ctx_cons(n: u8) -> u8 {
    0xA0 | (n & 0x1F)
}

/// Context-specific primitive tag `[n]`.
pub(crate) const fn ctx_prim(n: u8) -> u8 {
    0x80 | (n & 0x1F)
}

/// Appends a definite length in its shortest form (X.690 §10.1).
pub(crate) fn push_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
        return;
    }
    let bytes = len.to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count();
    let significant = bytes.get(skip..).unwrap_or(&[]);
    out.push(0x80 | significant.len() as u8);
    out.extend_from_slice(significant);
}

/// `tag ‖ length ‖ content`.
pub(crate) fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 4);
    out.push(tag);
    push_len(&mut out, content.len());
    out.extend_from_slice(content);
    out
}

/// A constructed value from already-encoded parts.
pub(crate) fn cons(tag: u8, parts: &[Vec<u8>]) -> Vec<u8> {
    tlv(tag, &parts.concat())
}

/// `SEQUENCE { parts }`.
pub(crate) fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
    cons(SEQUENCE, parts)
}

/// The content octets of a non-negative INTEGER (X.690 §8.3: two's complement, minimal).
pub(crate) fn uint_content(value: u64) -> Vec<u8> {
    let bytes = value.to_be_bytes();
    let skip = bytes.iter().take(7).take_while(|&&b| b == 0).count();
    let mut out = Vec::with_capacity(9);
    let significant = bytes.get(skip..).unwrap_or(&[0]);
    if significant.first().is_some_and(|b| b & 0x80 != 0) {
        out.push(0);
    }
    out.extend_from_slice(significant);
    out
}

/// `INTEGER value` (non-negative).
pub(crate) fn uint(value: u64) -> Vec<u8> {
    tlv(INTEGER, &uint_content(value))
}

/// An INTEGER from unsigned big-endian magnitude bytes (RSA modulus and exponent).
pub(crate) fn uint_bytes(magnitude: &[u8]) -> Vec<u8> {
    let trimmed: &[u8] = {
        let skip = magnitude.iter().take_while(|&&b| b == 0).count();
        magnitude.get(skip..).unwrap_or(&[])
    };
    let mut content = Vec::with_capacity(trimmed.len() + 1);
    if trimmed.first().is_none_or(|b| b & 0x80 != 0) {
        content.push(0);
    }
    content.extend_from_slice(trimmed);
    tlv(INTEGER, &content)
}

/// A BIT STRING holding a named-bit list (X.690 §11.2.2: trailing zero bits removed).
///
/// `bits` are the ASN.1 bit numbers (bit 0 is the most significant bit of the first byte).
pub(crate) fn named_bits(bits: &[u32]) -> Vec<u8> {
    let Some(&highest) = bits.iter().max() else {
        return tlv(BIT_STRING, &[0]);
    };
    let nbytes = (highest / 8 + 1) as usize;
    let mut content = vec![0u8; nbytes + 1];
    for &bit in bits {
        if let Some(byte) = content.get_mut(1 + (bit / 8) as usize) {
            *byte |= 0x80 >> (bit % 8);
        }
    }
    // Unused bits in the last byte: everything after the highest named bit.
    if let Some(first) = content.first_mut() {
        *first = (7 - highest % 8) as u8;
    }
    tlv(BIT_STRING, &content)
}

/// `OCTET STRING`.
pub(crate) fn octets(value: &[u8]) -> Vec<u8> {
    tlv(OCTET_STRING, value)
}

/// `UTF8String`.
pub(crate) fn utf8(value: &str) -> Vec<u8> {
    tlv(UTF8_STRING, value.as_bytes())
}

/// `NULL`.
pub(crate) fn null() -> Vec<u8> {
    vec![NULL, 0]
}

/// `ENUMERATED`.
pub(crate) fn enumerated(value: u64) -> Vec<u8> {
    tlv(ENUMERATED, &uint_content(value))
}

/// An OBJECT IDENTIFIER from its dotted form (X.690 §8.19). `None` if malformed.
pub(crate) fn oid(dotted: &str) -> Option<Vec<u8>> {
    let arcs: Vec<u64> = dotted
        .split('.')
        .map(|a| a.parse::<u64>().ok())
        .collect::<Option<_>>()?;
    let (&first, rest) = arcs.split_first()?;
    let (&second, rest) = rest.split_first()?;
    if first > 2 || (first < 2 && second > 39) {
        return None;
    }
    let mut content = Vec::new();
    push_base128(&mut content, first.checked_mul(40)?.checked_add(second)?);
    for &arc in rest {
        push_base128(&mut content, arc);
    }
    Some(tlv(OID, &content))
}

fn push_base128(out: &mut Vec<u8>, value: u64) {
    let mut groups = [0u8; 10];
    let mut n = 0;
    let mut v = value;
    loop {
        if let Some(g) = groups.get_mut(n) {
            *g = (v & 0x7F) as u8;
        }
        n += 1;
        v >>= 7;
        if v == 0 {
            break;
        }
    }
    for i in (0..n).rev() {
        let g = groups.get(i).copied().unwrap_or(0);
        out.push(if i == 0 { g } else { g | 0x80 });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_and_integers() {
        let mut v = Vec::new();
        push_len(&mut v, 0x7F);
        push_len(&mut v, 0x80);
        push_len(&mut v, 0x1234);
        assert_eq!(v, [0x7F, 0x81, 0x80, 0x82, 0x12, 0x34]);
        assert_eq!(uint(0), [0x02, 0x01, 0x00]);
        assert_eq!(uint(0x81), [0x02, 0x02, 0x00, 0x81]);
        assert_eq!(uint(0x250), [0x02, 0x02, 0x02, 0x50]);
        assert_eq!(uint(0x1041), [0x02, 0x02, 0x10, 0x41]);
        assert_eq!(uint_bytes(&[0x00, 0x01, 0x00, 0x01]), [0x02, 0x03, 1, 0, 1]);
        assert_eq!(uint_bytes(&[0xC0]), [0x02, 0x02, 0x00, 0xC0]);
        assert_eq!(uint_bytes(&[]), [0x02, 0x01, 0x00]);
    }

    #[test]
    fn bit_strings_are_der() {
        // The encodings quoted in /work/research/opensc-iasecc-flows.md §2.1-2.3.
        assert_eq!(named_bits(&[1]), [0x03, 0x02, 0x06, 0x40]); // compute-signature
        assert_eq!(named_bits(&[5]), [0x03, 0x02, 0x02, 0x04]); // decipher
        assert_eq!(named_bits(&[6]), [0x03, 0x02, 0x01, 0x02]); // hash
        assert_eq!(named_bits(&[2]), [0x03, 0x02, 0x05, 0x20]); // sign
        assert_eq!(named_bits(&[1, 2]), [0x03, 0x02, 0x05, 0x60]); // decrypt + sign
        assert_eq!(named_bits(&[9]), [0x03, 0x03, 0x06, 0x00, 0x40]); // nonRepudiation
        assert_eq!(named_bits(&[0]), [0x03, 0x02, 0x07, 0x80]); // private
        assert_eq!(named_bits(&[4]), [0x03, 0x02, 0x03, 0x08]); // initialized
        assert_eq!(named_bits(&[4, 6]), [0x03, 0x02, 0x01, 0x0A]); // unblockingPin
        assert_eq!(named_bits(&[]), [0x03, 0x01, 0x00]);
    }

    #[test]
    fn oids() {
        assert_eq!(
            oid("1.2.840.113549.1.1.1").unwrap(),
            [
                0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01
            ]
        );
        assert_eq!(
            oid("2.16.840.1.101.3.4.2.1").unwrap(),
            [
                0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01
            ]
        );
        assert_eq!(
            oid("1.3.14.3.2.26").unwrap(),
            [0x06, 0x05, 0x2B, 0x0E, 0x03, 0x02, 0x1A]
        );
        assert!(oid("1").is_none());
        assert!(oid("3.1").is_none());
        assert!(oid("1.x.3").is_none());
    }
}
