//! GET DATA of security data objects (`00 CB 3F FF Lc 4D L 70 L BF <class|80> <ref> L
//! <tag list>`): IAS-ECC v1.0.1 §9.5.3; request and answer formats of docs/card-layout.md
//! (research §3 "GET DATA answer format", §4.1 step 3, §2.4).

use cps_apdu::tlv::{self, Builder, Tag};
use cps_apdu::{Command, Response, StatusWord};

use super::{IasEcc, status};

/// SDO class of a CHV (PIN) object (IAS-ECC §7.1; OpenSC `IASECC_SDO_CLASS_CHV`).
pub(crate) const CLASS_CHV: u8 = 0x01;
/// SDO class of an RSA private key (IAS-ECC §7.1; `IASECC_SDO_CLASS_RSA_PRIV`); the
/// simulator uses it for the P-256 keys too (docs/card-layout.md `BF 90 <ref>`).
pub(crate) const CLASS_PRIVATE_KEY: u8 = 0x10;
/// SDO class of an RSA public key (IAS-ECC §7.1; `IASECC_SDO_CLASS_RSA_PUB`).
pub(crate) const CLASS_PUBLIC_KEY: u8 = 0x20;

/// Tags a GET DATA may ask for inside the SDO template.
const TAG_DOCP: u32 = 0xA0;
const TAG_CHV_POLICY: u32 = 0x7F41;
const TAG_KEY_INFO: u32 = 0x7F48;
const TAG_PUBLIC_KEY: u32 = 0x7F49;

/// A parsed SDO request: the template tag bytes (echoed in the answer), class, reference
/// and the tags asked for.
struct SdoRequest {
    tag: Tag,
    class: u8,
    reference: u8,
    wanted: Vec<u32>,
}

/// Parses the `4D { 70 { BF cc rr { tag 80 ... } } }` request. `None` when malformed.
fn parse_request(data: &[u8]) -> Option<SdoRequest> {
    let (outer, rest) = tlv::parse_one(data).ok()?;
    if outer.tag != Tag(0x4D) || !rest.is_empty() {
        return None;
    }
    let (wrapper, rest) = tlv::parse_one(outer.value).ok()?;
    if wrapper.tag != Tag(0x70) || !rest.is_empty() {
        return None;
    }
    let (sdo, rest) = tlv::parse_one(wrapper.value).ok()?;
    if !rest.is_empty() {
        return None;
    }
    let (class, reference) = sdo_class_ref(sdo.tag)?;
    // The tag list: each tag followed by the length byte 80 ("whole object"), as OpenSC
    // sends it (`7F 41 80`, `A0 80`); 00 accepted too.
    let mut wanted = Vec::new();
    let mut at = sdo.value;
    while let Some((&first, tail)) = at.split_first() {
        let (tag, tail) = if first & 0x1F == 0x1F {
            let (&second, tail) = tail.split_first()?;
            if second & 0x80 != 0 {
                return None;
            }
            ((u32::from(first) << 8) | u32::from(second), tail)
        } else {
            (u32::from(first), tail)
        };
        let (&len, tail) = tail.split_first()?;
        if len != 0x80 && len != 0x00 {
            return None;
        }
        wanted.push(tag);
        at = tail;
    }
    if wanted.is_empty() {
        return None;
    }
    Some(SdoRequest {
        tag: sdo.tag,
        class,
        reference,
        wanted,
    })
}

/// Class and reference of an SDO template tag `BF <class|80> <ref>` (IAS-ECC §7.1; research
/// §3: class = `data[1] & 0x7F`, ref = `data[2] & 0x3F`).
pub(crate) fn sdo_class_ref(tag: Tag) -> Option<(u8, u8)> {
    let bytes = tag.to_bytes();
    match bytes.as_slice() {
        [0xBF, class, reference] if class & 0x80 != 0 && reference & 0x80 == 0 => {
            Some((class & 0x7F, *reference))
        }
        _ => None,
    }
}

/// `70 L <tag> L <content>`: the answer wrapper (research §3: the 70 length must equal the
/// BF TLV length; lengths exact).
pub(crate) fn wrap(tag: Tag, content: &[u8]) -> Vec<u8> {
    let inner = tlv::encode(tag, content);
    tlv::encode(Tag(0x70), &inner)
}

impl IasEcc {
    /// GET DATA (`00 CB 3F FF`).
    pub(super) fn get_data(&self, cmd: &Command) -> Response {
        if (cmd.p1, cmd.p2) != (0x3F, 0xFF) {
            return status(StatusWord::INCORRECT_P1P2);
        }
        let Some(req) = parse_request(&cmd.data) else {
            return status(StatusWord::WRONG_DATA);
        };
        let content = match req.class {
            CLASS_CHV => self.chv_content(&req),
            CLASS_PRIVATE_KEY | CLASS_PUBLIC_KEY => self.key_content(&req),
            _ => Err(StatusWord::REFERENCED_DATA_NOT_FOUND),
        };
        match content {
            Ok(content) => Response::success(wrap(req.tag, &content)),
            Err(sw) => status(sw),
        }
    }

    /// A CHV SDO: DOCP `A0 { 9A max tries, 9B tries left, A1 { 8C F3 ... } }` for `A0` and
    /// `7F41`, plus `7F41 { 80 max length, 81 min length }` for `7F41` (docs/card-layout.md;
    /// research §3 recommended one-shot answer).
    fn chv_content(&self, req: &SdoRequest) -> Result<Vec<u8>, StatusWord> {
        let pin = self
            .pin(req.reference)
            .ok_or(StatusWord::REFERENCED_DATA_NOT_FOUND)?;
        if req
            .wanted
            .iter()
            .any(|t| *t != TAG_DOCP && *t != TAG_CHV_POLICY)
        {
            return Err(StatusWord::WRONG_DATA);
        }
        let acl = pin.acl.compact();
        let mut b = Builder::new().constructed(Tag(TAG_DOCP), |b| {
            b.primitive(Tag(0x9A), &[pin.max_tries])
                .primitive(Tag(0x9B), &[pin.tries_left])
                .constructed(Tag(0xA1), |b| b.primitive(Tag(0x8C), &acl))
        });
        if req.wanted.contains(&TAG_CHV_POLICY) {
            let max = u8::try_from(pin.max_len).unwrap_or(u8::MAX);
            let min = u8::try_from(pin.min_len).unwrap_or(u8::MAX);
            b = b.constructed(Tag(TAG_CHV_POLICY), |b| {
                b.primitive(Tag(0x80), &[max]).primitive(Tag(0x81), &[min])
            });
        }
        Ok(b.finish())
    }

    /// A key SDO: DOCP `A0 { 80 02 <size in bytes>, A1 { 8C 07 7B ... } }` for `A0`/`7F48`,
    /// public key `7F49 { 81 n, 82 e }` / `7F49 { 86 point }` for `7F49`.
    fn key_content(&self, req: &SdoRequest) -> Result<Vec<u8>, StatusWord> {
        let key = self
            .key(0x80 | req.reference)
            .ok_or(StatusWord::REFERENCED_DATA_NOT_FOUND)?;
        if req
            .wanted
            .iter()
            .any(|t| ![TAG_DOCP, TAG_KEY_INFO, TAG_PUBLIC_KEY].contains(t))
        {
            return Err(StatusWord::WRONG_DATA);
        }
        let mut b = Builder::new();
        if req.wanted.contains(&TAG_DOCP) || req.wanted.contains(&TAG_KEY_INFO) {
            let size = u16::try_from(key.pair.size_bytes()).unwrap_or(u16::MAX);
            let acl = key.acl.compact();
            b = b.constructed(Tag(TAG_DOCP), |b| {
                b.primitive(Tag(0x80), &size.to_be_bytes())
                    .constructed(Tag(0xA1), |b| b.primitive(Tag(0x8C), &acl))
            });
        }
        if req.wanted.contains(&TAG_PUBLIC_KEY) {
            b = b.primitive(Tag(TAG_PUBLIC_KEY), &key.pair.public_key_do());
        }
        Ok(b.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests() {
        let r = parse_request(&[
            0x4D, 0x09, 0x70, 0x07, 0xBF, 0x81, 0x01, 0x03, 0x7F, 0x41, 0x80,
        ])
        .unwrap();
        assert_eq!((r.class, r.reference), (1, 1));
        assert_eq!(r.wanted, [0x7F41]);
        let r =
            parse_request(&[0x4D, 0x08, 0x70, 0x06, 0xBF, 0x90, 0x02, 0x02, 0xA0, 0x80]).unwrap();
        assert_eq!(
            (r.class, r.reference, r.wanted.as_slice()),
            (0x10, 2, &[0xA0][..])
        );
        assert!(parse_request(&[0x4D, 0x02, 0x70, 0x00]).is_none());
        assert!(parse_request(&[0x4D, 0x05, 0x70, 0x03, 0x5F, 0x20, 0x00]).is_none());
        // A dangling tag with no length.
        assert!(parse_request(&[0x4D, 0x07, 0x70, 0x05, 0xBF, 0x81, 0x01, 0x01, 0xA0]).is_none());
        assert!(parse_request(&[]).is_none());
        assert_eq!(sdo_class_ref(Tag(0xBFA002)), Some((0x20, 2)));
        assert_eq!(sdo_class_ref(Tag(0x7F49)), None);
    }
}
