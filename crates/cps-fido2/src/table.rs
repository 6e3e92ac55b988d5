//! The CTAP-over-ISO 7816 command table: NFCCTAP_MSG by authenticator command, the
//! NFCCTAP_GETRESPONSE poll, NFCCTAP_CONTROL, and the CTAP1/U2F APDUs, with their request
//! shape, effect and what is hidden.
//!
//! Read by the client ([`crate::CtapCard`] builds its APDUs from these entries and registers
//! [`TABLE`] on its exchange), by the simulated FIDO2 applet (`cps_sim::fido2`) and by the
//! transport (`cps_transport::Exchange` and its transcript redactor: the PIN protocol messages
//! of `authenticatorClientPIN` keep their command byte visible and hide the rest, and their
//! response). The table claims every NFCCTAP command (CLA `80`-`83`/`90`-`93`, INS `10`-`12`):
//! one whose authenticator command it does not list changes state and has its data hidden.
//!
//! Sources: FIDO CTAP 2.1 §6 (authenticator commands), §11.3 (NFC/ISO 7816 binding: CLA `80`,
//! INS `10` NFCCTAP_MSG, `11` NFCCTAP_GETRESPONSE, `12` NFCCTAP_CONTROL), §11.2 and FIDO U2F
//! raw message formats §3 (U2F REGISTER `01`, AUTHENTICATE `02`, VERSION `03`, CLA `00`).

use cps_apdu::table::{
    Claim, Class, CommandSpec, CommandTable, DataLen, Effect, Hidden, Le, Protocol,
};

use crate::ctap::cmd;

/// CLA of the CTAP commands (proprietary class).
pub const CLA: u8 = 0x80;
/// NFCCTAP_MSG.
pub const INS_MSG: u8 = 0x10;
/// NFCCTAP_GETRESPONSE.
pub const INS_GET_RESPONSE: u8 = 0x11;
/// NFCCTAP_CONTROL.
pub const INS_CONTROL: u8 = 0x12;

/// An NFCCTAP_MSG carrying authenticator command `sub` (the CBOR parameters after it).
const fn msg(name: &'static str, sub: u8, effect: Effect) -> CommandSpec {
    CommandSpec::new(name, INS_MSG, effect)
        .class(Class::Proprietary, CLA)
        .sub(sub)
        .data(DataLen::Variable)
        .le(Le::Expected)
}

/// authenticatorMakeCredential (`01`).
pub const MAKE_CREDENTIAL: CommandSpec = msg(
    "CTAP authenticatorMakeCredential",
    cmd::MAKE_CREDENTIAL,
    Effect::Changes,
);
/// authenticatorGetAssertion (`02`): the signature counter moves.
pub const GET_ASSERTION: CommandSpec = msg(
    "CTAP authenticatorGetAssertion",
    cmd::GET_ASSERTION,
    Effect::Changes,
);
/// authenticatorGetInfo (`04`): no parameters.
pub const GET_INFO: CommandSpec =
    msg("CTAP authenticatorGetInfo", cmd::GET_INFO, Effect::Read).data(DataLen::None);
/// authenticatorClientPIN (`06`): PIN protocol messages; the command byte stays visible, the
/// rest and the response are hidden.
pub const CLIENT_PIN: CommandSpec = msg(
    "CTAP authenticatorClientPIN",
    cmd::CLIENT_PIN,
    Effect::Secret,
)
.hidden(Hidden::DataAfterFirstAndResponse);
/// authenticatorReset (`07`): no parameters.
pub const RESET: CommandSpec =
    msg("CTAP authenticatorReset", cmd::RESET, Effect::Changes).data(DataLen::None);
/// authenticatorGetNextAssertion (`08`): no parameters; moves the assertion cursor.
pub const GET_NEXT_ASSERTION: CommandSpec = msg(
    "CTAP authenticatorGetNextAssertion",
    cmd::GET_NEXT_ASSERTION,
    Effect::Changes,
)
.data(DataLen::None);
/// authenticatorCredentialManagement (`0A`).
pub const CREDENTIAL_MANAGEMENT: CommandSpec = msg(
    "CTAP authenticatorCredentialManagement",
    cmd::CREDENTIAL_MANAGEMENT,
    Effect::Changes,
);
/// authenticatorSelection (`0B`): no parameters.
pub const SELECTION: CommandSpec = msg(
    "CTAP authenticatorSelection",
    cmd::SELECTION,
    Effect::Changes,
)
.data(DataLen::None);
/// authenticatorConfig (`0D`).
pub const CONFIG: CommandSpec = msg("CTAP authenticatorConfig", cmd::CONFIG, Effect::Changes);
/// NFCCTAP_GETRESPONSE (`11`): polls a pending command (P1 `11` cancels it).
pub const GET_RESPONSE: CommandSpec =
    CommandSpec::new("NFCCTAP_GETRESPONSE", INS_GET_RESPONSE, Effect::Read)
        .class(Class::Proprietary, CLA)
        .le(Le::Expected);
/// NFCCTAP_CONTROL (`12`).
pub const CONTROL: CommandSpec = CommandSpec::new("NFCCTAP_CONTROL", INS_CONTROL, Effect::Changes)
    .class(Class::Proprietary, CLA)
    .le(Le::Optional);
/// U2F REGISTER (`00 01`): challenge and application parameters, 32 bytes each.
pub const U2F_REGISTER: CommandSpec = CommandSpec::new("U2F REGISTER", 0x01, Effect::Changes)
    .class(Class::Exactly(0x00), 0x00)
    .data(DataLen::Fixed(64))
    .le(Le::Expected);
/// U2F AUTHENTICATE (`00 02`): challenge, application, key handle length and key handle (the
/// counter moves unless P1 is "check only").
pub const U2F_AUTHENTICATE: CommandSpec =
    CommandSpec::new("U2F AUTHENTICATE", 0x02, Effect::Changes)
        .class(Class::Exactly(0x00), 0x00)
        .data(DataLen::Range(65, 65 + 255))
        .le(Le::Expected);
/// U2F VERSION (`00 03`): no data.
pub const U2F_VERSION: CommandSpec = CommandSpec::new("U2F VERSION", 0x03, Effect::Read)
    .class(Class::Exactly(0x00), 0x00)
    .le(Le::Expected);

/// The CTAP table.
pub static TABLE: CommandTable = CommandTable::new(
    "CTAP",
    Protocol::CtapNfc,
    &[
        MAKE_CREDENTIAL,
        GET_ASSERTION,
        GET_INFO,
        CLIENT_PIN,
        RESET,
        GET_NEXT_ASSERTION,
        CREDENTIAL_MANAGEMENT,
        SELECTION,
        CONFIG,
        GET_RESPONSE,
        CONTROL,
        U2F_REGISTER,
        U2F_AUTHENTICATE,
        U2F_VERSION,
    ],
)
.claiming(
    Claim::Proprietary {
        from: INS_MSG,
        to: INS_CONTROL,
    },
    "CTAP command",
);

/// The entry of an NFCCTAP_MSG whose authenticator command is `sub`.
pub fn message(sub: u8) -> Option<&'static CommandSpec> {
    TABLE.find(CLA, INS_MSG, Some(sub))
}

#[cfg(test)]
mod tests {
    use cps_apdu::table::{CommandTables, Hidden, Protocol};

    use super::*;

    #[test]
    fn classification() {
        let t = CommandTables::default().with(&TABLE);
        for cla in [0x80, 0x90, 0x81] {
            let pin = t.classify(&[cla, 0x10, 0x80, 0, 2, 0x06, 0xA1, 0]);
            assert_eq!(pin.protocol, Protocol::CtapNfc);
            assert!(pin.is_secret());
            assert_eq!(pin.hidden, Hidden::DataAfterFirstAndResponse);
        }
        assert!(t.classify(&[0x80, 0x10, 0, 0, 1, 0x04, 0]).may_resend());
        assert!(!t.classify(&[0x80, 0x10, 0, 0, 1, 0x01, 0]).may_resend());
        assert!(
            t.classify(&[0x80, 0x10, 0, 0, 0, 0, 2, 0x06, 0xA1])
                .is_secret()
        );
        assert_eq!(t.classify(&[0x80, 0x10, 0, 0, 0x06]).name, "CTAP command");
        assert!(t.classify(&[0x80, 0x11, 0, 0, 0]).may_resend());
        assert_eq!(t.classify(&[0x00, 0x03, 0, 0, 0]).name, "U2F VERSION");
        // Every command byte the client sends is listed.
        for sub in [
            cmd::MAKE_CREDENTIAL,
            cmd::GET_ASSERTION,
            cmd::GET_INFO,
            cmd::CLIENT_PIN,
            cmd::RESET,
            cmd::GET_NEXT_ASSERTION,
            cmd::CREDENTIAL_MANAGEMENT,
            cmd::SELECTION,
            cmd::CONFIG,
        ] {
            assert!(message(sub).is_some(), "{sub:02X}");
        }
    }

    #[test]
    fn shapes() {
        assert!(GET_INFO.command(0x80, 0, &[0x04], Some(256)).is_ok());
        assert!(GET_INFO.command(0x80, 0, &[0x04, 0xA0], Some(256)).is_err());
        assert!(CLIENT_PIN.command(0x80, 0, &[0x04], Some(256)).is_err());
        assert!(U2F_REGISTER.command(0, 0, &[0; 63], Some(256)).is_err());
    }
}
