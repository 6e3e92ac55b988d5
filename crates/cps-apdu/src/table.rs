//! What a command does to the card: one small table per protocol, read by the transport.
//!
//! The exchange layer (`cps_transport::Exchange`) and the transcript redactor
//! (`cps_transport::record::RedactionPolicy`) must agree on two questions about every command
//! they see: *does it carry a secret?* and *may it be sent again without the user asking?* Both
//! answers come from here, from the class and instruction bytes (and, for CTAP, the CTAP
//! command byte), so that there is one place to extend when a protocol gains a command.
//!
//! The rule the transport enforces with this table: **a command carrying a secret or changing
//! card state is never re-sent automatically** (no re-issue on `6Cxx`, no retry after a
//! transport error). Only [`Effect::Read`] commands are. Anything not listed as a read is
//! treated as changing state: forgetting a read in the table costs a `6Cxx` reaching the
//! caller, forgetting a write could spend a PIN try twice.
//!
//! The class byte only picks the *protocol*; within ISO/IEC 7816-4 the instruction decides, for
//! every class byte (interindustry or proprietary, any logical channel, with or without secure
//! messaging or chaining): a VERIFY is a VERIFY whether its CLA is `00`, `0C`, `01`, `80` or
//! `81`.
//!
//! ```
//! use cps_apdu::table::{classify, Effect};
//! // VERIFY on logical channel 1, proprietary class: a secret, never re-sent.
//! let verify = classify(&[0x81, 0x20, 0x00, 0x01, 0x04, b'1', b'2', b'3', b'4']);
//! assert_eq!(verify.effect, Effect::Secret);
//! assert_eq!(verify.name, "VERIFY");
//! assert!(!verify.may_resend());
//! // READ BINARY: a read, may be re-sent with the card's Le.
//! assert!(classify(&[0x00, 0xB0, 0x00, 0x00, 0x00]).may_resend());
//! // DESFire ChangeKey (native C4 wrapped in CLA 90): a secret.
//! assert_eq!(classify(&[0x90, 0xC4, 0x00, 0x00, 0x01, 0x00]).effect, Effect::Secret);
//! ```

/// The protocol a command belongs to, from its class byte (and instruction where classes
/// overlap).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// ISO/IEC 7816-4 interindustry commands (and proprietary-class commands using the same
    /// instruction codes, as IAS-ECC does).
    Iso7816,
    /// MIFARE DESFire native commands wrapped in ISO 7816-4 APDUs (CLA `90`, INS = the native
    /// command code; NXP AN12752 / MF3D(H)x3 datasheet §10).
    Desfire,
    /// CTAP over ISO 7816-4 (FIDO CTAP 2.1 §11.3: CLA `80`/`90`, INS `10` NFCCTAP_MSG,
    /// `11` NFCCTAP_GETRESPONSE, `12` NFCCTAP_CONTROL).
    CtapNfc,
}

/// What a command does to the card.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Effect {
    /// Reads without side effect on the card's persistent state or counters: may be sent
    /// again (e.g. with the Le the card asked for in `6Cxx`).
    Read,
    /// Changes card state (writes, key generation, signature, authentication steps,
    /// counters): never sent again automatically.
    Changes,
    /// Carries a secret (PIN, PUK, key) and usually spends a try: never sent again
    /// automatically, never echoed or logged.
    Secret,
}

/// Which part of a secret command must be hidden from logs, transcripts and terminals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Hidden {
    /// Nothing is secret.
    Nothing,
    /// The whole command data field.
    Data,
    /// The data field after its first byte (CTAP: the command byte stays visible), and the
    /// response data.
    DataAfterFirstAndResponse,
}

/// What the table says about one command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CommandInfo {
    /// The protocol.
    pub protocol: Protocol,
    /// A short name for messages ("VERIFY", "DESFire ChangeKey", "CTAP authenticatorClientPIN").
    pub name: &'static str,
    /// What it does to the card.
    pub effect: Effect,
    /// What must never be shown.
    pub hidden: Hidden,
}

impl CommandInfo {
    /// Whether the transport may send this command again by itself: only for reads.
    pub fn may_resend(&self) -> bool {
        self.effect == Effect::Read
    }

    /// Whether the command carries a secret.
    pub fn is_secret(&self) -> bool {
        self.effect == Effect::Secret
    }
}

/// ISO/IEC 7816-4:2020 §11 instructions (and those of IAS-ECC v1.0.1 §7 that reuse them).
/// Not listed: [`Effect::Changes`], named "command".
const ISO7816: &[(u8, &str, Effect)] = &[
    (0x20, "VERIFY", Effect::Secret),
    (0x21, "VERIFY", Effect::Secret),
    (0x24, "CHANGE REFERENCE DATA", Effect::Secret),
    (0x2C, "RESET RETRY COUNTER", Effect::Secret),
    (0xA4, "SELECT", Effect::Read),
    (0xA0, "SEARCH BINARY", Effect::Read),
    (0xA1, "SEARCH BINARY", Effect::Read),
    (0xA2, "SEARCH RECORD", Effect::Read),
    (0xB0, "READ BINARY", Effect::Read),
    (0xB1, "READ BINARY", Effect::Read),
    (0xB2, "READ RECORD", Effect::Read),
    (0xB3, "READ RECORD", Effect::Read),
    (0xC0, "GET RESPONSE", Effect::Read),
    (0xCA, "GET DATA", Effect::Read),
    (0xCB, "GET DATA", Effect::Read),
    (0x22, "MANAGE SECURITY ENVIRONMENT", Effect::Changes),
    (0x2A, "PERFORM SECURITY OPERATION", Effect::Changes),
    (0x46, "GENERATE ASYMMETRIC KEY PAIR", Effect::Changes),
    (0x47, "GENERATE ASYMMETRIC KEY PAIR", Effect::Changes),
    (0x70, "MANAGE CHANNEL", Effect::Changes),
    (0x82, "EXTERNAL AUTHENTICATE", Effect::Changes),
    (0x84, "GET CHALLENGE", Effect::Changes),
    (0x86, "GENERAL AUTHENTICATE", Effect::Changes),
    (0x87, "GENERAL AUTHENTICATE", Effect::Changes),
    (0x88, "INTERNAL AUTHENTICATE", Effect::Changes),
    (0xD6, "UPDATE BINARY", Effect::Changes),
    (0xD7, "UPDATE BINARY", Effect::Changes),
    (0xDA, "PUT DATA", Effect::Changes),
    (0xDB, "PUT DATA", Effect::Changes),
    (0xDC, "UPDATE RECORD", Effect::Changes),
    (0xDD, "UPDATE RECORD", Effect::Changes),
    (0xE2, "APPEND RECORD", Effect::Changes),
];

/// DESFire native commands (MF3D(H)x3 datasheet §10; the codes cps-desfire sends).
/// Not listed: [`Effect::Changes`].
const DESFIRE: &[(u8, &str, Effect)] = &[
    (0xC4, "DESFire ChangeKey", Effect::Secret),
    (0xC6, "DESFire ChangeKeyEV2", Effect::Secret),
    (0x5C, "DESFire SetConfiguration", Effect::Secret),
    (0x55, "DESFire InitializeKeySet", Effect::Secret),
    (0x60, "DESFire GetVersion", Effect::Read),
    (0x51, "DESFire GetCardUID", Effect::Read),
    (0x5A, "DESFire SelectApplication", Effect::Read),
    (0x6A, "DESFire GetApplicationIDs", Effect::Read),
    (0x6D, "DESFire GetDFNames", Effect::Read),
    (0x6E, "DESFire GetFreeMemory", Effect::Read),
    (0x45, "DESFire GetKeySettings", Effect::Read),
    (0x64, "DESFire GetKeyVersion", Effect::Read),
    (0x6F, "DESFire GetFileIDs", Effect::Read),
    (0x61, "DESFire GetISOFileIDs", Effect::Read),
    (0xF5, "DESFire GetFileSettings", Effect::Read),
    (0x6C, "DESFire GetValue", Effect::Read),
    (0xBD, "DESFire ReadData", Effect::Read),
    (0xAD, "DESFire ReadData", Effect::Read),
    (0xBB, "DESFire ReadRecords", Effect::Read),
    (0xAB, "DESFire ReadRecords", Effect::Read),
    (0x0A, "DESFire Authenticate", Effect::Changes),
    (0x1A, "DESFire AuthenticateISO", Effect::Changes),
    (0xAA, "DESFire AuthenticateAES", Effect::Changes),
    (0x71, "DESFire AuthenticateEV2First", Effect::Changes),
    (0x77, "DESFire AuthenticateEV2NonFirst", Effect::Changes),
    (0xAF, "DESFire additional frame", Effect::Changes),
];

/// CTAP authenticator commands carried by NFCCTAP_MSG (CTAP 2.1 §6), by command byte.
/// Not listed: [`Effect::Changes`].
const CTAP: &[(u8, &str, Effect)] = &[
    (0x06, "CTAP authenticatorClientPIN", Effect::Secret),
    (0x04, "CTAP authenticatorGetInfo", Effect::Read),
    (0x01, "CTAP authenticatorMakeCredential", Effect::Changes),
    (0x02, "CTAP authenticatorGetAssertion", Effect::Changes),
    (0x07, "CTAP authenticatorReset", Effect::Changes),
];

fn lookup(table: &[(u8, &'static str, Effect)], code: u8) -> Option<(&'static str, Effect)> {
    table
        .iter()
        .find(|(c, _, _)| *c == code)
        .map(|&(_, name, effect)| (name, effect))
}

/// Classifies an encoded command APDU (at least CLA and INS; shorter input is an unknown
/// state-changing command).
///
/// - CLA `80`/`90` (any logical channel) with INS `10`/`11`/`12`: CTAP over ISO 7816-4;
///   for NFCCTAP_MSG the first data byte is the CTAP command.
/// - CLA `90` otherwise: a wrapped DESFire native command (INS = native code).
/// - Any other CLA: ISO 7816-4, by INS alone.
pub fn classify(apdu: &[u8]) -> CommandInfo {
    let (cla, ins) = match apdu {
        [cla, ins, ..] => (*cla, *ins),
        _ => {
            return CommandInfo {
                protocol: Protocol::Iso7816,
                name: "command",
                effect: Effect::Changes,
                hidden: Hidden::Data,
            };
        }
    };
    // Proprietary class, chaining bit and channel bits ignored: 80, 81..83, 90..93.
    if cla & 0xEC == 0x80 && matches!(ins, 0x10..=0x12) {
        return classify_ctap(ins, first_data_byte(apdu));
    }
    if cla == 0x90 {
        let (name, effect) = lookup(DESFIRE, ins)
            .or_else(|| lookup(ISO7816, ins).filter(|(_, e)| *e == Effect::Secret))
            .unwrap_or(("DESFire command", Effect::Changes));
        return info(Protocol::Desfire, name, effect, Hidden::Data);
    }
    let (name, effect) = lookup(ISO7816, ins).unwrap_or(("command", Effect::Changes));
    info(Protocol::Iso7816, name, effect, Hidden::Data)
}

fn classify_ctap(ins: u8, first: Option<u8>) -> CommandInfo {
    let (name, effect, hidden) = match ins {
        0x10 => match first.and_then(|b| lookup(CTAP, b).map(|l| (b, l))) {
            Some((_, (name, Effect::Secret))) => {
                (name, Effect::Secret, Hidden::DataAfterFirstAndResponse)
            }
            Some((_, (name, effect))) => (name, effect, Hidden::Nothing),
            None => ("CTAP command", Effect::Changes, Hidden::Nothing),
        },
        0x11 => ("NFCCTAP_GETRESPONSE", Effect::Read, Hidden::Nothing),
        _ => ("NFCCTAP_CONTROL", Effect::Changes, Hidden::Nothing),
    };
    CommandInfo {
        protocol: Protocol::CtapNfc,
        name,
        effect,
        hidden,
    }
}

fn info(protocol: Protocol, name: &'static str, effect: Effect, hidden: Hidden) -> CommandInfo {
    CommandInfo {
        protocol,
        name,
        effect,
        hidden: if effect == Effect::Secret {
            hidden
        } else {
            Hidden::Nothing
        },
    }
}

/// The first data byte of an encoded command, when it has data (short or extended Lc).
fn first_data_byte(apdu: &[u8]) -> Option<u8> {
    match apdu.get(4..) {
        // Extended Lc: 00 hi lo, data from offset 7.
        Some([0, hi, lo, rest @ ..]) if (*hi != 0 || *lo != 0) && !rest.is_empty() => {
            rest.first().copied()
        }
        // Short Lc 1..=255, data from offset 5 (a lone byte is Le, not Lc).
        Some([lc, rest @ ..]) if *lc != 0 && !rest.is_empty() => rest.first().copied(),
        _ => None,
    }
}

impl crate::Command {
    /// What this command does to the card ([`classify`] of its header and first data byte).
    pub fn info(&self) -> CommandInfo {
        let mut head = alloc::vec![self.cla, self.ins, self.p1, self.p2];
        if let Some(&b) = self.data.first() {
            head.extend_from_slice(&[1, b]);
        }
        classify(&head)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Command;

    #[test]
    fn pin_commands_are_secret_for_every_class_byte() {
        for cla in 0..=0xFFu8 {
            if cla == 0xFF {
                continue; // not a valid CLA (PPS), still classified, see below
            }
            for ins in [0x20, 0x21, 0x24, 0x2C] {
                let c = Command::new(cla, ins, 0, 1).with_data(b"1234");
                let i = c.info();
                assert_eq!(i.effect, Effect::Secret, "CLA {cla:02X} INS {ins:02X}");
                assert!(!i.may_resend());
                assert_ne!(i.hidden, Hidden::Nothing);
            }
        }
        assert!(classify(&[0xFF, 0x20]).is_secret());
    }

    #[test]
    fn reads_writes_and_protocols() {
        assert!(classify(&[0x00, 0xB0, 0, 0, 0]).may_resend());
        assert!(classify(&[0x81, 0xB0, 0, 0, 0]).may_resend());
        assert!(classify(&[0x0C, 0xA4, 4, 0]).may_resend());
        let pso = classify(&[0x00, 0x2A, 0x9E, 0x9A, 0x00]);
        assert_eq!(pso.effect, Effect::Changes);
        assert_eq!(pso.name, "PERFORM SECURITY OPERATION");
        assert!(!classify(&[0x00, 0xD6, 0, 0, 1, 0]).may_resend());
        assert!(!classify(&[0x00, 0x99]).may_resend());
        assert!(!classify(&[0x00]).may_resend());
        // DESFire: CA is CreateApplication there, not GET DATA.
        let create = classify(&[0x90, 0xCA, 0, 0, 1, 0, 0]);
        assert_eq!(create.protocol, Protocol::Desfire);
        assert!(!create.may_resend());
        assert!(classify(&[0x90, 0x60, 0, 0, 0]).may_resend());
        assert!(classify(&[0x90, 0xC4, 0, 0, 1, 0, 0]).is_secret());
        // CTAP: the command byte decides; chained (90) and channel 1 (81) too.
        for cla in [0x80, 0x90, 0x81] {
            let pin = classify(&[cla, 0x10, 0x80, 0, 2, 0x06, 0xA1, 0]);
            assert_eq!(pin.protocol, Protocol::CtapNfc);
            assert!(pin.is_secret());
            assert_eq!(pin.hidden, Hidden::DataAfterFirstAndResponse);
        }
        assert!(classify(&[0x80, 0x10, 0, 0, 1, 0x04, 0]).may_resend());
        assert!(!classify(&[0x80, 0x10, 0, 0, 1, 0x01, 0]).may_resend());
        // Extended Lc.
        assert!(classify(&[0x80, 0x10, 0, 0, 0, 0, 2, 0x06, 0xA1]).is_secret());
        // Case 2 with Le only: no data byte.
        assert_eq!(classify(&[0x80, 0x10, 0, 0, 0x06]).name, "CTAP command");
    }

    #[test]
    fn never_panics_on_short_or_odd_input() {
        for len in 0..8 {
            for b in [0x00u8, 0x06, 0x10, 0x80, 0x90, 0xFF] {
                let _ = classify(&alloc::vec![b; len]);
            }
        }
    }
}
