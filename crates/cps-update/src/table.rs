//! The command table of the remote-update application: the secure-channel opening
//! (GlobalPlatform SCP03 INITIALIZE UPDATE `80 50` and EXTERNAL AUTHENTICATE `84 82`) and the
//! protected commands of [`crate::script::ins`] (CLA `84`), with their effect.
//!
//! The relay ([`crate::relay`]) registers [`TABLE`] on its exchange, so that the transport
//! never re-sends an update command and the transcript redactor knows them. Their data is
//! enciphered and MACed under the session keys (nothing readable to hide); the SELECT of the
//! application is an ISO 7816-4 basic.

use cps_apdu::table::{Class, CommandSpec, CommandTable, DataLen, Effect, Le, Protocol};

use crate::scp::{CLA_SECURE, INS_EXTERNAL_AUTHENTICATE, INS_INITIALIZE_UPDATE};
use crate::script::ins;

const fn protected(name: &'static str, code: u8) -> CommandSpec {
    CommandSpec::new(name, code, Effect::Changes)
        .class(Class::Exactly(CLA_SECURE), CLA_SECURE)
        .data(DataLen::Variable)
        .le(Le::Optional)
}

/// The update application's table.
pub static TABLE: CommandTable = CommandTable::new(
    "CPS update",
    Protocol::Iso7816,
    &[
        CommandSpec::new("INITIALIZE UPDATE", INS_INITIALIZE_UPDATE, Effect::Changes)
            .class(Class::Exactly(0x80), 0x80)
            .data(DataLen::Fixed(8))
            .le(Le::Optional),
        protected("EXTERNAL AUTHENTICATE", INS_EXTERNAL_AUTHENTICATE),
        protected("update BEGIN", ins::BEGIN),
        protected("update STAGE FILE", ins::STAGE_FILE),
        protected("update GENERATE KEY", ins::GENERATE_KEY),
        protected("update PROVE POSSESSION", ins::PROVE_POSSESSION),
        protected("update COMMIT", ins::COMMIT),
    ],
);

#[cfg(test)]
mod tests {
    use cps_apdu::table::{CommandTables, Hidden};

    use super::*;

    #[test]
    fn update_commands_are_changes_shown_as_they_are() {
        let t = CommandTables::default().with(&TABLE);
        let stage = t.classify(&[0x84, ins::STAGE_FILE, 0, 0, 1, 0]);
        assert_eq!(stage.name, "update STAGE FILE");
        assert!(!stage.may_resend());
        assert_eq!(stage.hidden, Hidden::Nothing);
        assert_eq!(
            t.classify(&[0x80, 0x50, 0x30, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0])
                .name,
            "INITIALIZE UPDATE"
        );
    }
}
