//! Further card applications selected by AID (DESFire, FIDO2...), plugged into the
//! dispatcher without touching the file system or the IAS-ECC code.
//!
//! The card's *native* application is the ISO 7816-4 file system with the IAS-ECC commands
//! (modules `iso` and `iasecc`). An [`Applet`] is another application: once a
//! `SELECT` by AID (`00 A4 04 xx`) names it, every command goes to it until another
//! application is selected, the file system is selected again (`SELECT` by FID or path), or
//! the card is reset. The card core keeps doing what is the same for every application:
//! APDU parsing, `61xx`/GET RESPONSE, command chaining.

use cps_apdu::{Command, Response};

use crate::Interface;
use crate::iso::Native;
use crate::profile::ProfileSpec;

/// The card's storage, lent to the selected applet for one command: the native
/// application's file system and keys, and the profile that says how its PKCS#15 directories
/// are generated. The card's own remote-update application writes through it; other applets
/// keep their state in themselves (a DESFire PICC its files, the FIDO2 applet its
/// credentials) and ignore it. Opaque outside this crate.
pub struct Storage<'a> {
    pub(crate) native: &'a mut Native,
    pub(crate) spec: &'a ProfileSpec,
}

impl std::fmt::Debug for Storage<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Storage")
            .field("profile", &self.spec.name)
            .finish_non_exhaustive()
    }
}

/// What the card tells an applet about the current session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppletContext {
    /// The interface the card is powered through.
    pub interface: Interface,
    /// Whether the card accepts extended Lc/Le on this interface.
    pub extended_length: bool,
}

/// A card application selected by AID.
///
/// ```
/// use cps_apdu::{Command, Response, StatusWord};
/// use cps_sim::{Applet, AppletContext, Interface, Storage};
///
/// /// An applet that only answers its own SELECT (with no FCI) and GET CHALLENGE.
/// #[derive(Clone)]
/// struct Hello;
/// impl Applet for Hello {
///     fn name(&self) -> &str { "hello" }
///     fn aid(&self) -> &[u8] { &[0xA0, 0x00, 0x00, 0x00, 0x01] }
///     fn available_on(&self, _: Interface) -> bool { true }
///     fn select(&mut self, _: &AppletContext) -> Response { Response::status(StatusWord::SUCCESS) }
///     fn process(&mut self, c: &Command, _: &AppletContext, _: &mut Storage<'_>) -> Response {
///         match c.ins {
///             0x84 => Response::success(vec![0x42; 8]),
///             _ => Response::status(StatusWord::INS_NOT_SUPPORTED),
///         }
///     }
///     fn reset(&mut self) {}
///     fn boxed_clone(&self) -> Box<dyn Applet> { Box::new(self.clone()) }
/// }
/// ```
pub trait Applet: Send + Sync {
    /// A short name for diagnostics.
    fn name(&self) -> &str;

    /// The AID that selects it (ISO 7816-4 §11.2.2, `SELECT` with P1 = `04`).
    fn aid(&self) -> &[u8];

    /// Whether the applet can be selected through this interface (FIDO2 on CPS4 is
    /// contact-only, DESFire contactless-only).
    fn available_on(&self, interface: Interface) -> bool;

    /// The applet was selected: returns the answer to the SELECT (FCI ‖ `9000`, or `9000`).
    fn select(&mut self, ctx: &AppletContext) -> Response;

    /// Another application was selected.
    fn deselect(&mut self) {}

    /// Processes one complete command (chains already reassembled; GET RESPONSE is served by
    /// the card core), with the card's storage lent for the command. Must never panic;
    /// unknown commands get an error status word.
    fn process(
        &mut self,
        command: &Command,
        ctx: &AppletContext,
        storage: &mut Storage<'_>,
    ) -> Response;

    /// Whether the card core reassembles ISO 7816-4 command chains (CLA bit `10`) for this
    /// applet; when `false`, a chained command is refused with `6D00` before reaching it.
    fn accepts_chaining(&self) -> bool {
        true
    }

    /// Power-on or reset: clears the applet's volatile state.
    fn reset(&mut self);

    /// Whether the applet is the one answering right after power-on, without a `SELECT`,
    /// when the interface has no native application (a DESFire PICC on the contactless
    /// interface).
    fn selected_at_power_on(&self) -> bool {
        false
    }

    /// Whether the applet frames commands of this class byte itself: the card core then
    /// neither reassembles CLA-bit-`10` chains nor serves `C0` as GET RESPONSE (DESFire's
    /// wrapped class `90` has the chaining bit set but means something else).
    fn owns_class(&self, _cla: u8) -> bool {
        false
    }

    /// A frame that is not an ISO 7816-4 command of this applet (first byte other than `00`
    /// and the classes it owns), taken as it came: a native DESFire frame `CMD [data]`,
    /// answered `STATUS [data]` (notes §1, §8). `None`: the applet has no such framing, and
    /// the card core parses the frame as an APDU.
    fn process_native(&mut self, _frame: &[u8], _ctx: &AppletContext) -> Option<Vec<u8>> {
        None
    }

    /// The ISO 14443-3 UID a contactless reader reports for this applet's PICC (PC/SC part 3
    /// `FF CA 00 00`), when the applet is the PICC.
    fn picc_uid(&self) -> Option<Vec<u8>> {
        None
    }

    /// The applet as [`std::any::Any`], for tests and tools that inspect a simulated
    /// application's state ([`crate::SimCard::applet`]).
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        None
    }

    /// A copy of the applet (cards are `Clone`).
    fn boxed_clone(&self) -> Box<dyn Applet>;
}

impl Clone for Box<dyn Applet> {
    fn clone(&self) -> Self {
        self.boxed_clone()
    }
}

impl std::fmt::Debug for dyn Applet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Applet({})", self.name())
    }
}
