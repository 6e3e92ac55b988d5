//! Card generation (CPS3 or CPS4) and EF.ATR (`3F00/2F01`).
//!
//! Detection follows docs/card-layout.md ("Generation detection"): the ATR first (no APDU),
//! then EF.ATR's pre-issuing data (tag `46`, IAS version byte), then the key algorithms of the
//! PrKDF.

use cps_apdu::tlv::{Iter, Tag};

/// The CPS card generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Generation {
    /// CPS3 (since 2011): RSA-2048 keys, T=0, short APDUs.
    Cps3,
    /// CPS4 (from 2025): RSA-2048 and ECDSA P-256 keys, T=1, extended length.
    Cps4,
}

impl Generation {
    /// `"CPS3"` or `"CPS4"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Generation::Cps3 => "CPS3",
            Generation::Cps4 => "CPS4",
        }
    }

    /// The generation announced by an ATR, if it is one of the known CPS ATRs.
    ///
    /// - CPS3: the "CPx" ATR of OpenSC's `iasecc` driver, compared under its mask
    ///   (OpenSC 0.23 `card-iasecc.c`, `iasecc_known_atrs`).
    /// - CPS4: the ATR of docs/card-layout.md [model] (TCK not compared), or any ATR whose
    ///   historical bytes carry the issuer data `"CPS4"` / `"CPS3"` (compact-TLV tag `5`).
    pub fn from_atr(atr: &[u8]) -> Option<Self> {
        if atr.len() == CPX_ATR.len()
            && atr
                .iter()
                .zip(CPX_ATR.iter().zip(CPX_ATR_MASK.iter()))
                .all(|(a, (r, m))| a & m == r & m)
        {
            return Some(Generation::Cps3);
        }
        if atr.len() == CPS4_ATR.len() + 1 && atr.starts_with(&CPS4_ATR) {
            return Some(Generation::Cps4);
        }
        match issuer_data(atr) {
            Some(b"CPS4") => Some(Generation::Cps4),
            Some(b"CPS3") => Some(Generation::Cps3),
            _ => None,
        }
    }

    /// The generation given by the IAS version byte of EF.ATR's pre-issuing data (`46`):
    /// `C1` → CPS3 (seen in a public CPS3 dump), `C4` → CPS4 [model].
    pub fn from_ef_atr(ef_atr: &EfAtr) -> Option<Self> {
        match ef_atr.pre_issuing.get(3) {
            Some(0xC1) => Some(Generation::Cps3),
            Some(0xC4) => Some(Generation::Cps4),
            _ => None,
        }
    }
}

impl std::fmt::Display for Generation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the generation was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DetectedBy {
    /// From the ATR (no APDU needed).
    Atr,
    /// From EF.ATR's pre-issuing data (tag `46`).
    EfAtr,
    /// From the key algorithms of the PrKDF (a P-256 key means CPS4).
    PrKdf,
}

/// The CPx ATR of OpenSC's iasecc driver [real CPx].
const CPX_ATR: [u8; 17] = [
    0x3B, 0xAC, 0x00, 0x40, 0x2A, 0x00, 0x12, 0x25, 0x00, 0x64, 0x80, 0x00, 0x03, 0x10, 0x00, 0x90,
    0x00,
];
/// Its mask, as in OpenSC (`iasecc_known_atrs`).
const CPX_ATR_MASK: [u8; 17] = [
    0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0xFF, 0xFF,
    0xFF,
];
/// The CPS4 ATR of docs/card-layout.md without its TCK [model].
const CPS4_ATR: [u8; 17] = [
    0x3B, 0x9A, 0x96, 0x81, 0x31, 0xFE, 0x45, 0x80, 0x73, 0xC8, 0x21, 0xC0, 0x54, 0x43, 0x50, 0x53,
    0x34,
];

/// The issuer data (compact-TLV tag `5`, ISO 7816-4 §8.1.1.2.5) of the ATR's historical bytes.
fn issuer_data(atr: &[u8]) -> Option<&[u8]> {
    let hist = cps_transport::Atr::new(atr).historical_bytes();
    let (&category, mut rest) = hist.split_first()?;
    if category != 0x80 {
        return None;
    }
    while let Some((&tl, tail)) = rest.split_first() {
        let (tag, len) = (tl >> 4, usize::from(tl & 0x0F));
        let value = tail.get(..len)?;
        if tag == 0x5 {
            return Some(value);
        }
        rest = tail.get(len..)?;
    }
    None
}

/// Buffer sizes of EF.ATR's `E0` object (IAS-ECC; the layout OpenSC reads: bytes 2-3 send,
/// 6-7 send under SM, 10-11 receive, 14-15 receive under SM).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufferSizes {
    /// Largest command data field.
    pub send: u16,
    /// Largest command data field under secure messaging.
    pub send_sm: u16,
    /// Largest response data field.
    pub receive: u16,
    /// Largest response data field under secure messaging.
    pub receive_sm: u16,
}

/// The content of EF.ATR (`3F00/2F01`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EfAtr {
    /// Pre-issuing data (`46`): IC manufacturer, IC type, OS version, IAS version.
    pub pre_issuing: Vec<u8>,
    /// Buffer sizes (`E0`), when present and at least 16 bytes long.
    pub buffer_sizes: Option<BufferSizes>,
    /// The IAS-ECC application AID (`4F`).
    pub aid: Option<Vec<u8>>,
}

impl EfAtr {
    /// Parses EF.ATR: top-level BER-TLV objects, `00`/`FF` padding allowed, one leading `80`
    /// byte skipped as OpenSC does for CPx cards (`ef-atr.c`). Unknown objects are ignored;
    /// a malformed object ends the parse (what was read before it is kept).
    pub fn parse(data: &[u8]) -> EfAtr {
        let data = match data.split_first() {
            Some((0x80, rest)) => rest,
            _ => data,
        };
        let mut out = EfAtr::default();
        for tlv in Iter::new(data).skip_padding() {
            let Ok(tlv) = tlv else { break };
            match tlv.tag {
                Tag(0x46) => out.pre_issuing = tlv.value.to_vec(),
                Tag(0x4F) => out.aid = Some(tlv.value.to_vec()),
                Tag(0xE0) => {
                    let be = |i: usize| -> Option<u16> {
                        Some(u16::from_be_bytes([
                            *tlv.value.get(i)?,
                            *tlv.value.get(i + 1)?,
                        ]))
                    };
                    if let (Some(send), Some(send_sm), Some(receive), Some(receive_sm)) =
                        (be(2), be(6), be(10), be(14))
                    {
                        out.buffer_sizes = Some(BufferSizes {
                            send,
                            send_sm,
                            receive,
                            receive_sm,
                        });
                    }
                }
                _ => {}
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).unwrap()
    }

    #[test]
    fn atrs() {
        let cps3 = h("3B AC 00 40 2A 00 12 25 00 64 80 00 03 10 00 90 00");
        assert_eq!(Generation::from_atr(&cps3), Some(Generation::Cps3));
        // Masked bytes may differ.
        let mut other = cps3.clone();
        other[1] = 0xAD;
        other[12] = 0x07;
        assert_eq!(Generation::from_atr(&other), Some(Generation::Cps3));
        let mut cps4 = h("3B 9A 96 81 31 FE 45 80 73 C8 21 C0 54 43 50 53 34");
        let tck = cps4[1..].iter().fold(0u8, |a, b| a ^ b);
        cps4.push(tck);
        assert_eq!(Generation::from_atr(&cps4), Some(Generation::Cps4));
        assert_eq!(Generation::from_atr(&[0x3B, 0x00]), None);
        assert_eq!(Generation::from_atr(&[]), None);
        // Historical bytes with issuer data "CPS4" but another interface byte layout.
        let hist = h("80 54 43 50 53 34");
        let mut raw = vec![0x3B, 0x80 | hist.len() as u8, 0x80, 0x01];
        raw.extend_from_slice(&hist);
        raw.push(raw[1..].iter().fold(0, |a, b| a ^ b));
        assert_eq!(Generation::from_atr(&raw), Some(Generation::Cps4));
    }

    #[test]
    fn ef_atr() {
        let data = h(
            "46 04 04 B0 EC C4 E0 10 02 02 00 FF 02 02 00 FF 02 02 01 00 02 02 01 00 \
             4F 0D E8 28 BD 08 0F 80 25 00 00 01 FF 00 10 00 00",
        );
        let e = EfAtr::parse(&data);
        assert_eq!(e.pre_issuing, [0x04, 0xB0, 0xEC, 0xC4]);
        assert_eq!(Generation::from_ef_atr(&e), Some(Generation::Cps4));
        let s = e.buffer_sizes.unwrap();
        assert_eq!((s.send, s.receive, s.receive_sm), (255, 256, 256));
        assert_eq!(e.aid.unwrap().len(), 13);
        let mut cpx = vec![0x80];
        cpx.extend_from_slice(&h("46 04 04 B0 EC C1"));
        assert_eq!(
            Generation::from_ef_atr(&EfAtr::parse(&cpx)),
            Some(Generation::Cps3)
        );
        assert_eq!(EfAtr::parse(&[0x46, 0x09]), EfAtr::default());
    }
}
