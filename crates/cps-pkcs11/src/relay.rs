//! The official module's update extension, for editors that relay a remote update of the
//! card through PKCS#11: `C_StartUpdate`, `C_TransmitMessage`, `C_KeepAlive`, `C_EndUpdate`,
//! four function pointers appended to the function list after `C_WaitForSlotEvent`, in
//! that order (Cryptolib `pkcs11.h` `struct ck_function_list`, `pkcs11-global.c`; they are
//! not exported as symbols by the official Linux module, and are here too, by name).
//!
//! Cryptolib holds a PC/SC transaction (`card-cps.c` `cps_start_exlusivity`, `sc_lock`),
//! passes any APDU to `SCardTransmit` (`reader-pcsc.c` `pcsc_free_transmit`; the instruction
//! type argument is not used on PC/SC), checks the card with `SCardStatus` (`C_KeepAlive`)
//! and ends the transaction. Here:
//! - `C_StartUpdate` drops the module's own connection to the card (and its login) and
//!   connects again **exclusively** for the relay: no other application's command can come
//!   between two commands of the update, for as long as it lasts (other operations on the
//!   token give `CKR_OPERATION_ACTIVE` until `C_EndUpdate`);
//! - `C_TransmitMessage` sends only the commands of the update application: the SELECT of
//!   its AID and the commands of `cps_update::table` (INITIALIZE UPDATE, the secure-channel
//!   commands: `CKR_FUNCTION_NOT_SUPPORTED` for any other, e.g. a VERIFY carrying a PIN);
//!   each is sent once (never again by the transport; `61xx` answers completed by GET
//!   RESPONSE); the answer is `data ‖ SW1 SW2`. Two-call convention without a second
//!   sending: when the answer buffer is NULL or too small, the answer is kept and given to
//!   the next call with the same command;
//! - `C_EndUpdate` releases the card with a reset when a command went through (the card's
//!   state changed), and the module reads the card again from scratch (its directory
//!   snapshots on disk are dropped).
//!
//! The protocol itself (what the service sends, the card's secure channel) is the
//! `cps-update` one, relayed unchanged: see `docs/remote-update.md`.
#![forbid(unsafe_code)]

use cps_apdu::Command;
use cps_transport::Exchange;
use cps_transport::pcsc::{PcscChannel, PcscContext, ShareMode};
use cryptoki_sys::*;

use crate::token::{R, transport_err};

/// A card held for an update relayed by the application.
pub struct UpdateRelay {
    ex: Exchange<PcscChannel>,
    session: CK_SESSION_HANDLE,
    /// The last command and its answer, until the application has it.
    pending: Option<(Vec<u8>, Vec<u8>)>,
    /// Whether a command went to the card.
    sent: bool,
}

impl UpdateRelay {
    /// Connects exclusively to the card in `reader` for session `session`.
    pub(crate) fn start(
        ctx: &PcscContext,
        reader: &str,
        session: CK_SESSION_HANDLE,
    ) -> R<UpdateRelay> {
        let channel = ctx.connect(reader, ShareMode::Exclusive).map_err(|e| {
            crate::token::debug(&e);
            match e {
                // Another application has the card: try again later.
                cps_transport::TransportError::ReaderBusy { .. } => CKR_FUNCTION_FAILED,
                e => transport_err(&e),
            }
        })?;
        let mut ex = Exchange::new(channel);
        ex.register(&cps_update::table::TABLE);
        Ok(UpdateRelay {
            ex,
            session,
            pending: None,
            sent: false,
        })
    }

    /// The session that started the relay.
    pub(crate) fn session(&self) -> CK_SESSION_HANDLE {
        self.session
    }

    /// Sends one command of the update application (or gives back the kept answer to the
    /// same command); the answer is `data ‖ SW1 SW2`.
    pub(crate) fn transmit(&mut self, command: &[u8]) -> R<Vec<u8>> {
        if let Some((c, answer)) = &self.pending
            && c.as_slice() == command
        {
            return Ok(answer.clone());
        }
        let cmd = Command::parse(command).map_err(|_| CKR_ARGUMENTS_BAD)?;
        if !is_update_command(&cmd) {
            return Err(CKR_FUNCTION_NOT_SUPPORTED);
        }
        self.pending = None;
        self.sent = true;
        let answer = self
            .ex
            .transmit(&cmd)
            .map_err(|e| {
                crate::token::debug(&e);
                transport_err(&e)
            })?
            .to_bytes();
        self.pending = Some((command.to_vec(), answer.clone()));
        Ok(answer)
    }

    /// The application has the answer to the last command.
    pub(crate) fn delivered(&mut self) {
        self.pending = None;
    }

    /// Releases the card (reset when a command went through); returns whether one did.
    pub(crate) fn end(self) -> bool {
        let sent = self.sent;
        // Reset when the update application was used: a later connection starts clean.
        let _ = self.ex.into_inner().disconnect(sent);
        sent
    }
}

/// The SELECT of the update application by its AID, or a command of its table.
fn is_update_command(cmd: &Command) -> bool {
    let select = cmd.ins == 0xA4
        && cmd.cla == 0x00
        && cmd.p1 == 0x04
        && matches!(cmd.p2, 0x00 | 0x0C)
        && cmd.data.as_slice() == cps_update::script::UPDATE_AID.as_slice();
    select
        || cps_update::table::TABLE
            .find(cmd.cla, cmd.ins, None)
            .is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_update_application_is_reachable() {
        let parse = |b: &[u8]| Command::parse(b).unwrap();
        let mut select = vec![0x00, 0xA4, 0x04, 0x00, 0x08];
        select.extend_from_slice(&cps_update::script::UPDATE_AID);
        assert!(is_update_command(&parse(&select)));
        // Another application, a PIN, a read: refused.
        let mut other = select.clone();
        other[5] ^= 1;
        assert!(!is_update_command(&parse(&other)));
        assert!(!is_update_command(&parse(&[
            0x00, 0x20, 0x00, 0x01, 0x04, 0x31, 0x32, 0x33, 0x34
        ])));
        assert!(!is_update_command(&parse(&[0x00, 0xB0, 0x00, 0x00, 0x00])));
        // INITIALIZE UPDATE and a protected update command.
        assert!(is_update_command(&parse(&[
            0x80, 0x50, 0x30, 0x00, 0x08, 1, 2, 3, 4, 5, 6, 7, 8, 0x00
        ])));
        assert!(is_update_command(&parse(&[
            0x84, 0x82, 0x33, 0x00, 0x02, 1, 2
        ])));
    }
}
