//! Card generation (CPS3 or CPS4) and EF.ATR (`3F00/2F01`).
//!
//! Detection follows the official middleware: the ATR list of Cryptolib CPS 5.2
//! (`card-cps.c`, `CPS_ATR_LIST`: CPS3 contact and contactless, CPS4 production, RC and
//! T=0-only), no APDU needed. An unknown ATR falls back to EF.ATR's pre-issuing data (tag
//! `46`, IAS version byte), then to which application answers: the IAS-ECC application on the
//! basic channel (CPS3) or the NXP ChipDoc applet on logical channel 1 (CPS4).

use cps_apdu::tlv::{Iter, Tag};

/// The CPS card generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Generation {
    /// CPS3 (since 2011): IAS-ECC on the basic channel, RSA-2048 keys, T=0, short APDUs.
    Cps3,
    /// CPS4 (from 2025): the NXP ChipDoc applet on logical channel 1, RSA-2048 keys
    /// (PKCS#1 v1.5 and PSS), T=0, short APDUs and command chaining.
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

    /// The generation announced by an ATR, if it is one of the CPS ATRs of Cryptolib CPS 5.2
    /// (`card-cps.c` `CPS_ATR_LIST`), compared under their masks.
    ///
    /// Cryptolib's `_is_cps_card` compares the ATRs byte for byte; under its mask the CPS3
    /// contact ATR also covers the CPS4 T=0-only ATR (`3B DC 18 FF 00 00 12 25 …90 00`), so
    /// the CPS4 ATRs (all-`FF` masks, i.e. exact) are compared first.
    pub fn from_atr(atr: &[u8]) -> Option<Self> {
        let mut entries: Vec<&AtrEntry> = CPS_ATR_LIST.iter().collect();
        entries.sort_by_key(|(_, _, g)| *g == Generation::Cps3);
        entries
            .into_iter()
            .find_map(|(reference, mask, generation)| {
                (atr.len() == reference.len()
                    && atr
                        .iter()
                        .zip(reference.iter().zip(mask.iter()))
                        .all(|(a, (r, m))| a & m == r & m))
                .then_some(*generation)
            })
    }

    /// Whether the ATR is the CPS3's contact ATR of `CPS_ATR_LIST` (Cryptolib's
    /// `SC_CARD_TYPE_IAS_CPS3`, the card type on which it adds the CPS2ter objects), and not
    /// one of the CPS4's.
    pub fn is_cps3_contact_atr(atr: &[u8]) -> bool {
        Self::from_atr(atr) == Some(Generation::Cps3)
            && CPS_ATR_LIST.first().is_some_and(|(reference, mask, _)| {
                atr.len() == reference.len()
                    && atr
                        .iter()
                        .zip(reference.iter().zip(mask.iter()))
                        .all(|(a, (r, m))| a & m == r & m)
            })
    }

    /// The generation given by the IAS version byte of EF.ATR's pre-issuing data (`46`):
    /// `C1` → CPS3 (a public CPS3 dump, and the CPS3 contactless ATR of `card-cps.c`).
    pub fn from_ef_atr(ef_atr: &EfAtr) -> Option<Self> {
        match ef_atr.pre_issuing.get(3) {
            Some(0xC1) => Some(Generation::Cps3),
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
    /// The IAS-ECC application was not on the basic channel, but the ChipDoc applet answered
    /// on logical channel 1.
    ChipDoc,
}

/// One entry of `CPS_ATR_LIST`: ATR, mask, generation.
type AtrEntry = (&'static [u8], &'static [u8], Generation);

/// `card-cps.c` `CPS_ATR_LIST` (Cryptolib CPS 5.2.2): `CPS3_C`, `CPS3_CL`, `CPS4RC_C`,
/// `CPS4_C`, `CPS4TO_C`, with their masks.
const CPS_ATR_LIST: [AtrEntry; 5] = [
    (
        &[
            0x3B, 0xAC, 0x00, 0x40, 0x2A, 0x00, 0x12, 0x25, 0x00, 0x64, 0x80, 0x00, 0x03, 0x10,
            0x00, 0x90, 0x00,
        ],
        &[
            0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00,
            0xFF, 0xFF, 0xFF,
        ],
        Generation::Cps3,
    ),
    (
        &[
            0x3B, 0x8F, 0x80, 0x01, 0x00, 0x31, 0xB8, 0x64, 0x04, 0xB0, 0xEC, 0xC1, 0x73, 0x94,
            0x01, 0x80, 0x82, 0x90, 0x00, 0x0E,
        ],
        &[
            0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0xFF, 0xC0, 0xFF, 0xFF,
            0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        ],
        Generation::Cps3,
    ),
    (
        &[
            0x3B, 0x9B, 0x18, 0x80, 0x01, 0x00, 0x12, 0x25, 0x00, 0x64, 0x80, 0x00, 0x04, 0x01,
            0x00, 0x90, 0x44,
        ],
        &[0xFF; 17],
        Generation::Cps4,
    ),
    (
        &[
            0x3B, 0x9B, 0x18, 0x80, 0x01, 0x00, 0x12, 0x25, 0x00, 0x64, 0x80, 0x04, 0x01, 0x00,
            0x00, 0x90, 0x44,
        ],
        &[0xFF; 17],
        Generation::Cps4,
    ),
    (
        &[
            0x3B, 0xDC, 0x18, 0xFF, 0x00, 0x00, 0x12, 0x25, 0x00, 0x64, 0x80, 0x00, 0x04, 0x01,
            0x00, 0x90, 0x00,
        ],
        &[0xFF; 17],
        Generation::Cps4,
    ),
];

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
        let cl = h("3B 8F 80 01 00 31 B8 64 04 B0 EC C1 73 94 01 80 82 90 00 0E");
        assert_eq!(Generation::from_atr(&cl), Some(Generation::Cps3));
        for cps4 in [
            "3B 9B 18 80 01 00 12 25 00 64 80 04 01 00 00 90 44",
            "3B 9B 18 80 01 00 12 25 00 64 80 00 04 01 00 90 44",
            "3B DC 18 FF 00 00 12 25 00 64 80 00 04 01 00 90 00",
        ] {
            let atr = h(cps4);
            assert_eq!(Generation::from_atr(&atr), Some(Generation::Cps4));
            // The CPS4 masks are all FF: one byte off is another card.
            let mut off = atr.clone();
            off[16] ^= 0x01;
            assert_eq!(Generation::from_atr(&off), None, "{cps4}");
        }
        assert_eq!(Generation::from_atr(&[0x3B, 0x00]), None);
        assert_eq!(Generation::from_atr(&[]), None);
    }

    #[test]
    fn ef_atr() {
        let data = h(
            "46 04 04 B0 EC C4 E0 10 02 02 00 FF 02 02 00 FF 02 02 01 00 02 02 01 00 \
             4F 0D E8 28 BD 08 0F 80 25 00 00 01 FF 00 10 00 00",
        );
        let e = EfAtr::parse(&data);
        assert_eq!(e.pre_issuing, [0x04, 0xB0, 0xEC, 0xC4]);
        assert_eq!(Generation::from_ef_atr(&e), None);
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
