//! # cps-sim — a simulated CPS3 / CPS4 card
//!
//! A software model of the French health-professional smart card's contact interface: an
//! ISO/IEC 7816-4 file system, the IAS-ECC application (holder PIN and PUK, security data
//! objects, signature, client authentication, decryption, key generation) and the PKCS#15
//! files that describe it, as laid out in `docs/card-layout.md`. It answers byte for byte what
//! OpenSC 0.23's `iasecc` driver needs, so unmodified OpenSC tools work with it behind pcscd
//! (through [`vpcd`]), and in-process through [`cps_transport::InProcessChannel`].
//!
//! ```
//! use cps_apdu::{Command, StatusWord};
//! use cps_sim::{Profile, SimCard};
//! use cps_transport::{Exchange, InProcessChannel};
//!
//! let card = SimCard::new(Profile::Cps3, "dr-martin")?;
//! let mut host = Exchange::new(InProcessChannel::new(card));
//!
//! // Select the IAS-ECC application and read the holder identification (free to read).
//! let aid = [0xE8, 0x28, 0xBD, 0x08, 0x0F, 0x80, 0x25, 0x00, 0x00, 0x01, 0xFF, 0x00, 0x10];
//! let r = host.transmit(&Command::new(0x00, 0xA4, 0x04, 0x04).with_data(&aid).with_ne(256))?;
//! assert!(r.is_success());
//! assert_eq!(r.data[0], 0x62); // the DF's FCP
//! let r = host.transmit(&Command::new(0x00, 0xB0, 0x81, 0x00).with_ne(256))?; // SFI 01
//! assert_eq!(r.data[0], 0xE1);
//! assert!(r.data.windows(6).any(|w| w == b"MARTIN"));
//!
//! // The holder PIN status never spends a try; the default PIN is 1234.
//! let status = Command::new(0x00, 0x20, 0x00, 0x01);
//! assert_eq!(host.transmit(&status)?.sw, StatusWord(0x63C3));
//! let verify = Command::new(0x00, 0x20, 0x00, 0x01).with_data(b"1234");
//! assert!(host.transmit(&verify)?.is_success());
//! assert!(host.transmit(&status)?.is_success());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Profiles
//!
//! A [`Profile`] is data: `profiles/cps3.json` and `profiles/cps4.json` give the ATR and
//! protocol, the file tree with access rules and contents, the PIN objects, the keys (from the
//! test PKI) and what the generated PKCS#15 files say. A dump of a real card can replace them
//! without code changes ([`ProfileSpec::from_file`], [`SimCardBuilder::profile_spec`]); see the
//! module [`profile`] for the content references (`{"generate": "ef.ident"}`,
//! `{"certificate": "rsa2048/auth"}`, ...).
//!
//! ## Personas
//!
//! The holders come from `testvectors/pki/personas.json` ([`personas`]): their EF.IDENT and
//! EF.DAM contents are generated from it and their keys and certificates are taken from the
//! test PKI (`testvectors/pki/<profile>/<persona>/`).
//!
//! ## Transport behaviour
//!
//! - CPS3 is T=0: a case-4 command arrives without Le and its answer is announced with
//!   `61xx` and served by GET RESPONSE (`00 C0 00 00 xx`).
//! - CPS4 is T=1 with extended Lc/Le: answers come directly, up to Ne; beyond Ne the rest is
//!   announced with `61xx`.
//! - Command chaining (CLA bit `10`) is reassembled for the instructions the card knows.
//! - Unknown instructions, classes, files and AIDs get ISO 7816-4 errors, never `9000`.
//!
//! ## Other applications
//!
//! Applications selected by AID implement [`Applet`] and are added with
//! [`SimCardBuilder::applet`]; the file system and IAS-ECC code do not change. A profile
//! names its built-in applets per interface: the CPS4's contactless interface carries the
//! simulated MIFARE DESFire PICC of [`desfire`] (access-control application, all-zero PICC
//! master key).
//!
//! ## FIDO2 (CPS4, contact interface)
//!
//! The CPS4 profile carries a FIDO2 applet (`"fido2"` in `profiles/cps4.json`; AID
//! `A0000006472F0001`), delivered blank: CTAP 2.1 over NFCCTAP_MSG with PIN protocols 1 and 2,
//! resident and non-resident credentials, credential management, authenticatorConfig, and
//! CTAP1/U2F ([`fido2::applet`]). Through the contactless interface its SELECT answers
//! `6985`; the CPS3 has none (`6A82`). User presence and attestation are builder settings:
//!
//! ```
//! use cps_fido2::Fido2;
//! use cps_sim::{Fido2Presence, Profile, SimCard};
//! use cps_transport::InProcessChannel;
//!
//! let card = SimCard::builder()
//!     .profile(Profile::Cps4)
//!     .fido2_presence(Fido2Presence::AfterPolls(2))
//!     .build()?;
//! let mut fido = Fido2::open(InProcessChannel::new(card))?;
//! assert!(!fido.is_enrolled());
//! fido.enroll("1234")?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod applet;
mod builder;
mod card;
mod cps2ter;
mod der;
pub mod desfire;
mod error;
pub mod fido2;
mod fs;
mod iasecc;
mod iso;
mod keys;
mod persona;
mod pkcs15;
mod pki;
pub mod profile;
mod security;
mod update;
pub mod vpcd;

pub use applet::{Applet, AppletContext, Storage};
pub use builder::{HOLDER_PIN, PUK, SimCardBuilder};
pub use card::{CardStats, Interface, SimCard, ins_name};
pub use error::SimError;
/// The FIDO2 applet's settings, for [`SimCardBuilder::fido2_presence`],
/// [`SimCardBuilder::fido2_attestation`] and [`SimCardBuilder::fido2_mode`].
pub use fido2::{
    applet::AppletMode as Fido2Mode,
    authenticator::{AttestationMode as Fido2Attestation, PresencePolicy as Fido2Presence},
};
pub use fs::AccessRule;
pub use keys::KeyKind;
pub use persona::{Coded, Persona, Situation, persona, personas};
pub use profile::{Profile, ProfileSpec, Protocol};
