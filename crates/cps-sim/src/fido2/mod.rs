//! The FIDO2 applet of the CPS4 profile: [`applet::FidoApplet`] behind the card's
//! [`Applet`] dispatcher.
//!
//! The card core does the framing for it, the same as for every application: command chains
//! (CLA `90` → `80`) are reassembled before the applet sees them, long answers go out as the
//! request's Le allows with `61xx` and GET RESPONSE (`00 C0` or `80 C0`: the core serves INS
//! `C0` whatever the class), an extended APDU without Le gets the whole answer (T=1). The
//! applet answers complete commands: NFCCTAP_MSG (`80 10`), its status updates (`02` ‖
//! `9100`) polled with NFCCTAP_GETRESPONSE (`80 11`, cancel with P1 `11`), NFCCTAP_CONTROL
//! (`80 12`), and U2F (`00 01/02/03`).
//!
//! Through the contactless interface of a CPS4 the SELECT of its AID answers `6985`
//! (conditions of use not satisfied): the applet exists but is usable through the contacts
//! only, and the client can tell the user so; a card without the applet (CPS3) answers
//! `6A82`.

use cps_apdu::{Command, Response};
pub mod applet;
pub mod authenticator;

use applet::{AppletMode, FidoApplet};
use authenticator::{AttestationMode, PresencePolicy};
use cps_fido2::transport::FIDO_AID;

use crate::applet::{Applet, AppletContext, Storage};
use crate::card::Interface;

/// How a tester sets up the simulated FIDO2 applet ([`SimCardBuilder::fido2_presence`] and
/// friends).
///
/// [`SimCardBuilder::fido2_presence`]: crate::SimCardBuilder::fido2_presence
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fido2Options {
    pub(crate) presence: PresencePolicy,
    pub(crate) attestation: AttestationMode,
    pub(crate) mode: Option<AppletMode>,
}

impl Default for Fido2Options {
    fn default() -> Self {
        Fido2Options {
            presence: PresencePolicy::Auto,
            attestation: AttestationMode::Basic,
            mode: None,
        }
    }
}

/// The FIDO2 applet as a card application.
#[derive(Clone)]
pub(crate) struct Fido2Applet {
    inner: FidoApplet,
    contactless_allowed: bool,
}

impl Fido2Applet {
    pub(crate) fn new(options: Fido2Options, mode: AppletMode, contactless_allowed: bool) -> Self {
        let mut inner = FidoApplet::new();
        inner.set_presence_policy(options.presence);
        inner.set_attestation(options.attestation);
        inner.set_mode(options.mode.unwrap_or(mode));
        Fido2Applet {
            inner,
            contactless_allowed,
        }
    }
}

impl Applet for Fido2Applet {
    fn name(&self) -> &str {
        "FIDO2"
    }

    fn aid(&self) -> &[u8] {
        &FIDO_AID
    }

    fn available_on(&self, _: Interface) -> bool {
        // Found on both interfaces, so that the contactless SELECT gets the applet's own
        // refusal (6985) rather than "no such application" (6A82).
        true
    }

    fn select(&mut self, ctx: &AppletContext) -> Response {
        self.inner
            .set_contactless(ctx.interface == Interface::Contactless && !self.contactless_allowed);
        self.inner.select()
    }

    fn deselect(&mut self) {
        self.inner.deselect();
    }

    fn process(&mut self, command: &Command, _: &AppletContext, _: &mut Storage<'_>) -> Response {
        self.inner.command(command)
    }

    fn reset(&mut self) {
        // Power-up: PIN_AUTH_BLOCKED lifted, new key agreement; PIN and credentials kept.
        self.inner.power_on();
    }

    fn boxed_clone(&self) -> Box<dyn Applet> {
        Box::new(self.clone())
    }
}
