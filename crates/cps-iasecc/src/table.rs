//! The IAS-ECC / CPS command table: every instruction this crate sends beyond the ISO/IEC
//! 7816-4 basics of [`cps_apdu::table::ISO7816`], with its request shape, effect and what is
//! hidden.
//!
//! Read by the client ([`crate::CpsCard`] builds each APDU from its entry), by the simulated
//! card (`cps_sim`, which dispatches by the same entries and answers `67 00` to a request of
//! the wrong shape) and by the transport (`cps_transport::Exchange` and its transcript
//! redactor), to which [`crate::CpsCard`] registers [`TABLE`].
//!
//! Sources: ISO/IEC 7816-4:2020 §11 for the instructions, IAS-ECC v1.0.1 §7 and Cryptolib CPS
//! (`card-cps3.c`, `card-cps4.c`) for the forms the CPS cards take. The instructions are
//! looked up whatever the class byte (`00`, `01` on the CPS4 channel, `0C` with secure
//! messaging, `10` chained, proprietary `80`/`81`, `A0` for the CPS3's CPS2ter application, whose
//! SELECT, GET RESPONSE and READ BINARY are the ISO entries): a VERIFY is a secret whatever its
//! class.

use cps_apdu::table::{CommandSpec, CommandTable, DataLen, Effect, Hidden, Le, Protocol};

use crate::pin::{PIN_MAX_LEN, PUK_LEN};

// The PIN lengths of this crate, as table lengths (at most 8: no truncation).
const PIN_MAX: u16 = PIN_MAX_LEN as u16;
const PUK_MAX: u16 = PUK_LEN as u16;

/// VERIFY (`20`): no data asks the tries left; else the PIN (4 to 8 digits) or the PUK (8).
pub const VERIFY: CommandSpec = CommandSpec::new("VERIFY", 0x20, Effect::Secret)
    .data(DataLen::Range(
        0,
        if PIN_MAX > PUK_MAX { PIN_MAX } else { PUK_MAX },
    ))
    .hidden(Hidden::Data);
/// VERIFY, odd instruction (`21`): verification data in a data object.
pub const VERIFY_ODD: CommandSpec = CommandSpec::new("VERIFY", 0x21, Effect::Secret)
    .data(DataLen::Variable)
    .hidden(Hidden::Data);
/// CHANGE REFERENCE DATA (`24`): the old PIN then the new one (P1 `00`), or the new one alone.
pub const CHANGE_REFERENCE_DATA: CommandSpec =
    CommandSpec::new("CHANGE REFERENCE DATA", 0x24, Effect::Secret)
        .data(DataLen::Range(0, 2 * PIN_MAX))
        .hidden(Hidden::Data);
/// RESET RETRY COUNTER (`2C`): the PUK then the new PIN (CPS3, P1 `00`), the new PIN alone, or
/// nothing (CPS4 P1 `03` after VERIFY of the PUK).
pub const RESET_RETRY_COUNTER: CommandSpec =
    CommandSpec::new("RESET RETRY COUNTER", 0x2C, Effect::Secret)
        .data(DataLen::Range(0, PUK_MAX + PIN_MAX))
        .hidden(Hidden::Data);
/// MANAGE SECURITY ENVIRONMENT (`22`): SET with control reference templates, or RESTORE
/// (no data); the handler checks the templates.
pub const MANAGE_SECURITY_ENVIRONMENT: CommandSpec =
    CommandSpec::new("MANAGE SECURITY ENVIRONMENT", 0x22, Effect::Changes).data(DataLen::Variable);
/// PERFORM SECURITY OPERATION (`2A`): HASH, COMPUTE DIGITAL SIGNATURE, DECIPHER.
pub const PERFORM_SECURITY_OPERATION: CommandSpec =
    CommandSpec::new("PERFORM SECURITY OPERATION", 0x2A, Effect::Changes)
        .data(DataLen::Variable)
        .le(Le::Optional);
/// GENERATE ASYMMETRIC KEY PAIR (`46`).
pub const GENERATE_KEY_PAIR: CommandSpec =
    CommandSpec::new("GENERATE ASYMMETRIC KEY PAIR", 0x46, Effect::Changes)
        .data(DataLen::Variable)
        .le(Le::Optional);
/// GENERATE ASYMMETRIC KEY PAIR, odd instruction (`47`).
pub const GENERATE_KEY_PAIR_ODD: CommandSpec =
    CommandSpec::new("GENERATE ASYMMETRIC KEY PAIR", 0x47, Effect::Changes)
        .data(DataLen::Variable)
        .le(Le::Optional);
/// EXTERNAL AUTHENTICATE (`82`).
pub const EXTERNAL_AUTHENTICATE: CommandSpec =
    CommandSpec::new("EXTERNAL AUTHENTICATE", 0x82, Effect::Changes)
        .data(DataLen::Variable)
        .le(Le::Optional);
/// GET CHALLENGE (`84`): no data, Le random bytes (counts as a change: the card keeps the
/// challenge for the next authentication).
pub const GET_CHALLENGE: CommandSpec =
    CommandSpec::new("GET CHALLENGE", 0x84, Effect::Changes).le(Le::Expected);
/// GENERAL AUTHENTICATE (`86`).
pub const GENERAL_AUTHENTICATE: CommandSpec =
    CommandSpec::new("GENERAL AUTHENTICATE", 0x86, Effect::Changes)
        .data(DataLen::Variable)
        .le(Le::Optional);
/// GENERAL AUTHENTICATE, odd instruction (`87`).
pub const GENERAL_AUTHENTICATE_ODD: CommandSpec =
    CommandSpec::new("GENERAL AUTHENTICATE", 0x87, Effect::Changes)
        .data(DataLen::Variable)
        .le(Le::Optional);
/// INTERNAL AUTHENTICATE (`88`): the challenge in, the signature out (CPS3 only).
pub const INTERNAL_AUTHENTICATE: CommandSpec =
    CommandSpec::new("INTERNAL AUTHENTICATE", 0x88, Effect::Changes)
        .data(DataLen::Variable)
        .le(Le::Optional);
/// UPDATE BINARY (`D6`): at least one byte.
pub const UPDATE_BINARY: CommandSpec =
    CommandSpec::new("UPDATE BINARY", 0xD6, Effect::Changes).data(DataLen::Range(1, u16::MAX));
/// UPDATE BINARY, odd instruction (`D7`).
pub const UPDATE_BINARY_ODD: CommandSpec =
    CommandSpec::new("UPDATE BINARY", 0xD7, Effect::Changes).data(DataLen::Variable);
/// PUT DATA (`DA`).
pub const PUT_DATA: CommandSpec =
    CommandSpec::new("PUT DATA", 0xDA, Effect::Changes).data(DataLen::Variable);
/// PUT DATA, odd instruction (`DB`).
pub const PUT_DATA_ODD: CommandSpec =
    CommandSpec::new("PUT DATA", 0xDB, Effect::Changes).data(DataLen::Variable);
/// UPDATE RECORD (`DC`).
pub const UPDATE_RECORD: CommandSpec =
    CommandSpec::new("UPDATE RECORD", 0xDC, Effect::Changes).data(DataLen::Variable);
/// UPDATE RECORD, odd instruction (`DD`).
pub const UPDATE_RECORD_ODD: CommandSpec =
    CommandSpec::new("UPDATE RECORD", 0xDD, Effect::Changes).data(DataLen::Variable);
/// APPEND RECORD (`E2`).
pub const APPEND_RECORD: CommandSpec =
    CommandSpec::new("APPEND RECORD", 0xE2, Effect::Changes).data(DataLen::Variable);

/// The IAS-ECC / CPS table.
pub static TABLE: CommandTable = CommandTable::new(
    "IAS-ECC",
    Protocol::Iso7816,
    &[
        VERIFY,
        VERIFY_ODD,
        CHANGE_REFERENCE_DATA,
        RESET_RETRY_COUNTER,
        MANAGE_SECURITY_ENVIRONMENT,
        PERFORM_SECURITY_OPERATION,
        GENERATE_KEY_PAIR,
        GENERATE_KEY_PAIR_ODD,
        EXTERNAL_AUTHENTICATE,
        GET_CHALLENGE,
        GENERAL_AUTHENTICATE,
        GENERAL_AUTHENTICATE_ODD,
        INTERNAL_AUTHENTICATE,
        UPDATE_BINARY,
        UPDATE_BINARY_ODD,
        PUT_DATA,
        PUT_DATA_ODD,
        UPDATE_RECORD,
        UPDATE_RECORD_ODD,
        APPEND_RECORD,
    ],
);

#[cfg(test)]
mod tests {
    use cps_apdu::Command;
    use cps_apdu::table::{CommandTables, Effect, Hidden};

    use super::*;

    #[test]
    fn pin_commands_are_secret_for_every_class_byte() {
        let t = CommandTables::default().with(&TABLE);
        for cla in 0..=0xFFu8 {
            for ins in [0x20, 0x21, 0x24, 0x2C] {
                let c = Command::new(cla, ins, 0, 1).with_data(b"1234");
                let i = t.classify_command(&c);
                assert_eq!(i.effect, Effect::Secret, "CLA {cla:02X} INS {ins:02X}");
                assert!(!i.may_resend());
                assert_eq!(i.hidden, Hidden::Data);
            }
        }
        let pso = t.classify(&[0x00, 0x2A, 0x9E, 0x9A, 0x00]);
        assert_eq!(pso.effect, Effect::Changes);
        assert_eq!(pso.name, "PERFORM SECURITY OPERATION");
        assert_eq!(pso.hidden, Hidden::Nothing);
        assert!(!t.classify(&[0x00, 0xD6, 0, 0, 1, 0]).may_resend());
    }

    #[test]
    fn shapes() {
        assert!(VERIFY.command(0, 1, b"12345678", None).is_ok());
        assert!(VERIFY.command(0, 1, b"123456789", None).is_err());
        assert!(VERIFY.command(0, 1, b"", None).is_ok());
        assert!(GET_CHALLENGE.command(0, 0, &[], Some(8)).is_ok());
        assert!(GET_CHALLENGE.command(0, 0, &[], None).is_err());
        assert!(UPDATE_BINARY.command(0, 0, &[], None).is_err());
    }
}
