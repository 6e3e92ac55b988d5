//! # cps — the CPS3 / CPS4 card for applications
//!
//! One crate that composes the protocol crates of cps-rs for an application (and for the
//! `cps` command line): open a card from a PC/SC reader or from the simulator built into the
//! library, tell CPS3 from CPS4, read the holder and the certificates, manage the PIN, sign,
//! authenticate, and reach the FIDO2 applet and the DESFire side of a CPS4.
//!
//! ```
//! use cps::{Card, CardSource, Presence};
//! use cps::iasecc::{Digest, Generation, KeyRole, Pin};
//!
//! // The built-in simulated CPS4 of the test persona "dr-martin": no reader, no pcscd.
//! // A real card: CardSource::Reader { reader: ReaderChoice::FirstWithCard, wait: None }.
//! let mut card = Card::open(&CardSource::default())?;
//!
//! // Everything `cps info` shows, at a fixed date (tests never depend on the clock).
//! let at = cps::x509::UnixTime::from_ymd(2026, 3, 1).ok_or("date")?;
//! let info = card.info(at)?;
//! let Presence::Present(ias) = &info.ias else { panic!("IAS-ECC: {:?}", info.ias) };
//! assert_eq!(ias.generation, Generation::Cps4);
//! assert_eq!(ias.holder, "DR Claire Anne MARTIN");
//! assert!(ias.certificates.iter().all(|c| matches!(c.renewal, cps::x509::RenewalStatus::Valid { .. })));
//!
//! // The IAS-ECC client of cps-iasecc, on the same card: PIN, then a signature verified with
//! // the card's own certificate.
//! let mut ias = card.iasecc()?;
//! ias.verify_pin(&Pin::new("1234")?)?;
//! let digest = Digest::sha256_of(b"feuille de soins");
//! let signature = ias.sign(KeyRole::Signature, &digest)?;
//! let key = ias.resolve_key(KeyRole::Signature)?;
//! let cert = ias.certificate_for(&key)?.ok_or("no certificate")?;
//! signature.verify(cert.parsed.as_ref().ok_or("not a CPS certificate")?, &digest)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Opening a card
//!
//! [`CardSource`] says where the card is: [`CardSource::Simulator`] (a [`SimSpec`]: CPS3 or
//! CPS4, a persona of `cps_sim::personas()`, contact or contactless interface) or
//! [`CardSource::Reader`] (a reader by name, or the first reader holding a card, with an
//! optional wait and a progress callback, [`Card::open_with_progress`]). Both give a [`Card`]
//! over the same [`cps_transport::CardChannel`] trait, so every operation is the same code on
//! a real card and on the simulator.
//!
//! ## What is in it
//!
//! - [`Card::info`]: generation, family, serial, ATR, applications found (IAS-ECC, FIDO2,
//!   DESFire), PIN tries, certificate validity and renewal status ([`CardInfo`]).
//! - [`Card::iasecc`], [`Card::fido2`], [`Card::desfire`]: the protocol clients
//!   ([`cps_iasecc::CpsCard`], [`cps_fido2::Fido2`], [`cps_desfire::Desfire`]) on the card.
//! - [`doctor::run`]: the CPS4 migration checklist against the machine and the card.
//! - [`watch::CardWatch`]: card insertion and removal in a reader (lock a session when the
//!   card is pulled).
//!
//! The library never retries a PIN: a wrong PIN comes back as
//! `cps_iasecc::Error::WrongPin` with the tries left, a blocked one as `PinBlocked`.
#![forbid(unsafe_code)]

pub mod doctor;
mod error;
mod info;
mod source;
pub mod watch;

pub use cps_desfire as desfire;
pub use cps_fido2 as fido2;
pub use cps_iasecc as iasecc;
#[cfg(feature = "sim")]
pub use cps_sim as sim;
pub use cps_transport as transport;
pub use cps_x509 as x509;

pub use error::{Error, describe};
pub use info::{
    CardInfo, CertificateInfo, DesfireInfo, Fido2Info, IasInfo, Presence, RENEWAL_WINDOW_DAYS,
    certificate_info,
};
#[cfg(feature = "sim")]
pub use source::SimSpec;
pub use source::{CardSource, Channel, Origin, ReaderChoice, WaitProgress};

use cps_transport::{CardChannel, Interface};

/// The command tables of every protocol the facade speaks: the ISO 7816-4 basics, IAS-ECC /
/// CPS (`cps_iasecc::table`), DESFire (`cps_desfire::table`) and CTAP over ISO 7816
/// (`cps_fido2::table`).
///
/// Each protocol client registers its own table on the exchange it uses; a transcript
/// recorder or a raw-APDU tool that sees commands of every protocol
/// ([`cps_transport::record::RedactionPolicy::new`]) takes this set, so that it redacts what
/// each protocol says is secret and shows the rest.
pub fn command_tables() -> cps_apdu::table::CommandTables {
    cps_apdu::table::CommandTables::of(&[
        &cps_iasecc::table::TABLE,
        &cps_desfire::table::TABLE,
        &cps_fido2::table::TABLE,
    ])
}

/// A card, opened from a reader or the simulator, through which every application is reached.
pub struct Card {
    channel: Channel,
    origin: Origin,
}

impl std::fmt::Debug for Card {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Card")
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl Card {
    /// Opens the card of `source` (no wait progress reported).
    pub fn open(source: &CardSource) -> Result<Card, Error> {
        Self::open_with_progress(source, &mut |_| {})
    }

    /// Opens the card of `source`; `progress` is called about once a second while waiting
    /// for a card ([`CardSource::Reader`] with a `wait`).
    pub fn open_with_progress(
        source: &CardSource,
        progress: &mut dyn FnMut(WaitProgress),
    ) -> Result<Card, Error> {
        let (channel, origin) = source::open_channel(source, progress)?;
        Ok(Card { channel, origin })
    }

    /// Wraps a channel opened elsewhere (e.g. a replayed transcript in a test).
    pub fn from_channel(channel: Channel, origin: Origin) -> Card {
        Card { channel, origin }
    }

    /// Where the card is.
    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// The card's answer to reset.
    pub fn atr(&self) -> &[u8] {
        self.channel.atr()
    }

    /// Contact or contactless.
    pub fn interface(&self) -> Interface {
        self.channel.interface()
    }

    /// The channel, for raw APDUs.
    pub fn channel_mut(&mut self) -> &mut Channel {
        &mut self.channel
    }

    /// The IAS-ECC application (identity, certificates, PIN, signature, authentication):
    /// selects it (1 APDU on a card with a known ATR).
    pub fn iasecc(&mut self) -> Result<cps_iasecc::CpsCard<&mut Channel>, Error> {
        Ok(cps_iasecc::CpsCard::open(&mut self.channel)?)
    }

    /// The FIDO2 applet (CPS4, contact interface): selects it and reads getInfo.
    pub fn fido2(&mut self) -> Result<cps_fido2::Fido2<&mut Channel>, Error> {
        Ok(cps_fido2::Fido2::open(&mut self.channel)?)
    }

    /// The DESFire client (CPS4, contactless interface). No APDU is sent yet.
    pub fn desfire(&mut self) -> cps_desfire::Desfire<&mut Channel> {
        cps_desfire::Desfire::new(&mut self.channel)
    }

    /// Everything `cps info` shows, with certificate validity evaluated at `at`. A section
    /// that fails (e.g. no FIDO2 applet) is reported in it, not as an error; only losing
    /// the card altogether is an error.
    pub fn info(&mut self, at: cps_x509::UnixTime) -> Result<CardInfo, Error> {
        info::gather(self, at)
    }

    /// Like [`Card::info`], but when the card is pulled, pcscd stops or the card stops
    /// answering part-way, returns what was read so far together with the error that stopped
    /// it (parts not reached are [`Presence::NotChecked`]).
    pub fn info_partial(&mut self, at: cps_x509::UnixTime) -> (CardInfo, Option<Error>) {
        info::gather_partial(self, at)
    }
}

/// `Card` is `Send` (checked at compile time): an application can open it on one thread and
/// use it on a worker, or share it behind a `Mutex`.
const _: () = {
    const fn assert_send<T: Send>() {}
    assert_send::<Card>();
};
