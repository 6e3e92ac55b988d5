//! Answer-to-reset decoding: protocols, historical bytes, contact vs contactless.
//!
//! Sources: ISO/IEC 7816-3:2006 §8.2 (ATR structure: TS, T0, TAi/TBi/TCi/TDi, historical
//! bytes, TCK); ISO/IEC 7816-4:2020 §8.1.1 (historical bytes, compact-TLV, card capabilities);
//! PC/SC Part 3 v2.01.09 §3.1.3.2.3 (the ATR a PC/SC reader builds for a contactless card:
//! `3B 8n 80 01` ‖ historical bytes ‖ TCK, with RID `A0 00 00 03 06` for storage cards).

/// The physical interface through which the card is powered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Interface {
    /// ISO 7816-3 contacts.
    Contact,
    /// ISO 14443 (the reader synthesised a PC/SC part 3 ATR).
    Contactless,
    /// The ATR is malformed or empty.
    Unknown,
}

impl core::fmt::Display for Interface {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Interface::Contact => "contact",
            Interface::Contactless => "contactless",
            Interface::Unknown => "unknown",
        })
    }
}

/// A decoded ATR. Decoding never fails: malformed ATRs decode as far as they go and
/// [`Atr::is_well_formed`] says whether the structure was complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Atr<'a> {
    raw: &'a [u8],
    protocols: Vec<u8>,
    historical: &'a [u8],
    well_formed: bool,
}

impl<'a> Atr<'a> {
    /// Decodes an ATR.
    pub fn new(raw: &'a [u8]) -> Self {
        let mut atr = Atr {
            raw,
            protocols: Vec::new(),
            historical: &[],
            well_formed: false,
        };
        let (Some(&ts), Some(&t0)) = (raw.first(), raw.get(1)) else {
            return atr;
        };
        let k = usize::from(t0 & 0x0F);
        let mut pos = 2usize;
        let mut y = t0 >> 4;
        loop {
            // TA, TB, TC present according to bits 5..7 of Y.
            pos += usize::from(y & 0x1) + usize::from((y >> 1) & 0x1) + usize::from((y >> 2) & 0x1);
            if y & 0x8 == 0 {
                break;
            }
            let Some(&td) = raw.get(pos) else {
                return atr;
            };
            pos += 1;
            atr.protocols.push(td & 0x0F);
            y = td >> 4;
        }
        let Some(historical) = raw.get(pos..pos + k) else {
            return atr;
        };
        atr.historical = historical;
        pos += k;
        // TCK is present unless only T=0 is indicated.
        let needs_tck = atr.protocols.iter().any(|&t| t != 0);
        let expected_len = pos + usize::from(needs_tck);
        let tck_ok = !needs_tck
            || raw
                .get(1..expected_len)
                .is_some_and(|s| s.iter().fold(0u8, |a, b| a ^ b) == 0);
        atr.well_formed = (ts == 0x3B || ts == 0x3F) && raw.len() == expected_len && tck_ok;
        atr
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.raw
    }

    /// Whether TS is valid, the length matches the announced structure and TCK checks.
    pub fn is_well_formed(&self) -> bool {
        self.well_formed
    }

    /// The transmission protocols indicated in TD1, TD2, ... (T=0 when none is indicated).
    pub fn protocols(&self) -> Vec<u8> {
        let mut p: Vec<u8> = self.protocols.iter().copied().filter(|&t| t <= 1).collect();
        if p.is_empty() {
            p.push(0);
        }
        p.dedup();
        p
    }

    /// The historical bytes.
    pub fn historical_bytes(&self) -> &'a [u8] {
        self.historical
    }

    /// Contact or contactless, from the PC/SC part 3 ATR shape.
    pub fn interface(&self) -> Interface {
        match self.raw {
            [] | [_] => Interface::Unknown,
            // PC/SC part 3: TS 3B, T0 8n, TD1 80 (T=0, TD2 follows), TD2 01 (T=1), no TA/TB/TC.
            [0x3B, t0, 0x80, 0x01, ..] if t0 & 0xF0 == 0x80 => Interface::Contactless,
            [0x3B | 0x3F, ..] => Interface::Contact,
            _ => Interface::Unknown,
        }
    }

    /// Whether the card announces extended Lc/Le support in its card capabilities
    /// (ISO 7816-4 §8.1.1.2.7: compact-TLV tag `7`, third software-function byte, b7).
    pub fn supports_extended_length(&self) -> bool {
        self.card_capabilities()
            .and_then(|caps| caps.get(2).copied())
            .is_some_and(|b| b & 0x40 != 0)
    }

    /// The card-capabilities data object of the historical bytes (compact-TLV tag `7`).
    pub fn card_capabilities(&self) -> Option<&'a [u8]> {
        // Category indicator 0x80: compact-TLV objects follow (ISO 7816-4 §8.1.1.1).
        let (&category, mut rest) = self.historical.split_first()?;
        if category != 0x80 {
            return None;
        }
        while let Some((&tl, tail)) = rest.split_first() {
            let (tag, len) = (tl >> 4, usize::from(tl & 0x0F));
            let value = tail.get(..len)?;
            if tag == 0x7 {
                return Some(value);
            }
            rest = tail.get(len..)?;
        }
        None
    }
}

/// Formats bytes as upper-case hex with spaces, as PC/SC tools print ATRs.
pub fn spaced_hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(&format!("{b:02X}"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).unwrap()
    }

    #[test]
    fn cps3_contact_atr() {
        // The CPx ATR as listed by OpenSC's iasecc driver (shared/notes/cps-cards.md): T=0 only.
        let raw = h("3B AC 00 40 2A 00 12 25 00 64 80 00 03 10 00 90 00");
        let atr = Atr::new(&raw);
        assert_eq!(atr.interface(), Interface::Contact);
        assert_eq!(atr.protocols(), [0]);
        assert_eq!(atr.historical_bytes().len(), 12);
        assert!(atr.is_well_formed());
    }

    #[test]
    fn pcsc_part3_contactless_atr() {
        // A PC/SC part 3 ATR for an ISO 14443-4 card with 5 historical bytes; TCK computed.
        let mut raw = h("3B 85 80 01 80 73 C8 21 10 00");
        // Replace the last byte with the XOR checksum over T0..historical.
        let tck = raw[1..raw.len() - 1].iter().fold(0, |a, b| a ^ b);
        *raw.last_mut().unwrap() = tck;
        let atr = Atr::new(&raw);
        assert_eq!(atr.interface(), Interface::Contactless);
        assert_eq!(atr.protocols(), [0, 1]);
        assert!(atr.is_well_formed(), "{raw:02X?}");
    }

    #[test]
    fn extended_length_capability() {
        // Historical bytes 80 73 xx xx C0: compact-TLV card capabilities, third byte b7 set.
        let hist = [0x80, 0x73, 0x00, 0x00, 0xC0];
        let mut raw = vec![0x3B, 0x80 | hist.len() as u8, 0x80, 0x01];
        raw.extend_from_slice(&hist);
        raw.push(raw[1..].iter().fold(0, |a, b| a ^ b));
        let atr = Atr::new(&raw);
        assert!(atr.is_well_formed());
        assert!(atr.supports_extended_length());
        assert!(
            !Atr::new(&h("3B AC 00 40 2A 00 12 25 00 64 80 00 03 10 00 90 00"))
                .supports_extended_length()
        );
    }

    #[test]
    fn malformed_atrs_do_not_panic() {
        for raw in [
            vec![],
            vec![0x3B],
            vec![0x3B, 0xFF],
            vec![0x2B, 0x8F, 0x80, 0x01],
            vec![0xFF; 40],
        ] {
            let atr = Atr::new(&raw);
            let _ = (
                atr.protocols(),
                atr.interface(),
                atr.supports_extended_length(),
            );
            assert!(!atr.is_well_formed() || raw.len() > 2);
        }
        // The CPxCL ATR starts with 2B: not a PC/SC ATR.
        assert_eq!(
            Atr::new(&h("2B 8F 80 01 00 31")).interface(),
            Interface::Unknown
        );
    }
}
