//! # cps-iasecc
//!
//! The client of the IAS-ECC application of the French health-professional card, **CPS3**
//! and **CPS4**, with one API for both: holder identity, practice situations, certificates,
//! PIN, signature, client authentication and decryption.
//!
//! ```
//! use cps_iasecc::{CpsCard, Digest, Generation, KeyUsage, Pin, PinStatus};
//!
//! // A simulated CPS4 of the test persona "dr-martin", in this process (no pcscd needed).
//! // A real card is opened the same way on a PC/SC channel.
//! let sim = cps_sim::SimCard::new(cps_sim::Profile::Cps4Model, "dr-martin")?;
//! let mut card = CpsCard::open(cps_transport::InProcessChannel::new(sim))?;
//! assert_eq!(card.generation(), Generation::Cps4);
//!
//! let who = card.identity()?; // free to read
//! assert_eq!(who.display_name(), "Claire Anne MARTIN");
//!
//! assert_eq!(card.pin_status()?, PinStatus::RetriesLeft(3)); // spends no try
//! card.verify_pin(&Pin::new("1234")?)?;
//! let situations = card.practice_situations()?; // needs the PIN
//! assert_eq!(situations[1].structure_name.as_deref(), Some("CHU d'Angers"));
//!
//! // CPS4 signs with its P-256 key unless told otherwise (raw r ‖ s; `to_der()` for X.509).
//! let digest = Digest::sha256_of(b"feuille de soins");
//! let sig = card.sign(KeyUsage::Signature, &digest)?;
//! let key = card.resolve_key(KeyUsage::Signature)?;
//! let cert = card.certificate_for(&key)?.expect("the card has the certificate");
//! sig.verify(cert.parsed.as_ref().expect("a CPS certificate"), &digest)?;
//! // open 1, identity 1, PIN status 1, VERIFY 1, EF.DAM 1, sign 3, then the PrKDF (the key's
//! // iD: ODF + PrKDF, 4), the CDF (2) and that certificate (2).
//! assert_eq!(card.round_trips(), 16);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## What the card holds
//!
//! The layout is the contract of `docs/card-layout.md` (modelled on IAS-ECC v1.0.1 and
//! ISO/IEC 7816-15 as OpenSC reads real CPS3 cards): DF.CPS-IAS (`3F00/0001`, AID
//! `E8 28 BD 08 0F 80 25 00 00 01 FF 00 10`) with the PKCS#15 files (ODF, TokenInfo, AODF,
//! PrKDF, PuKDF, CDF), the certificates, EF.IDENT (holder identity, free) and EF.DAM (practice
//! situations, PIN). The client finds PKCS#15 files through the ODF; the holder-data files
//! are read by their short identifiers (SFI 01, 02), which have no public directory.
//!
//! ## Generation
//!
//! [`Generation`] comes from the ATR (no APDU), else from EF.ATR's pre-issuing data, else
//! from the PrKDF (a P-256 key means CPS4). CPS4 has RSA-2048 and P-256 keys: operations
//! that name a usage pick P-256 on CPS4 and RSA on CPS3, unless
//! [`CpsCard::set_key_preference`] or a [`KeySelector`] says otherwise.
//!
//! ## Round trips
//!
//! Every APDU costs a reader round trip (milliseconds on real readers), so each operation
//! sends the protocol minimum, counted by [`CpsCard::round_trips`]:
//!
//! | operation | APDUs | why no fewer |
//! |---|---|---|
//! | [`CpsCard::open`] (known ATR) | 1 | SELECT of the application by AID; the generation comes from the ATR |
//! | [`CpsCard::identity`] | 1 | READ BINARY by SFI selects and reads EF.IDENT at once |
//! | [`CpsCard::practice_situations`] | 1 | same, EF.DAM |
//! | [`CpsCard::pin_status`], [`CpsCard::verify_pin`], change, unblock | 1 | one VERIFY / CHANGE / RESET RETRY COUNTER |
//! | [`CpsCard::sign`] | 3 | MSE SET DST, PSO HASH, PSO CDS (the card signs only a hash given by PSO HASH) |
//! | [`CpsCard::authenticate`] | 2 | MSE SET AT, INTERNAL AUTHENTICATE |
//! | [`CpsCard::decipher`] | 2 (CPS4), 3 (CPS3) | MSE SET CT, PSO DECIPHER; 257 data bytes need a chain of 2 without extended length |
//! | [`CpsCard::certificates`] | 4 + Σ (1 + ⌈size / Ne⌉) | SELECT + READ of the ODF and the CDF (paths come from them), then SELECT (FCP size) + READ BINARY per certificate: Ne = 256 on CPS3 (T=0, short APDUs), the whole file on CPS4 (extended length) |
//!
//! Key references come from the CPS profile table without reading the PrKDF (if the card
//! answers "key not found", the client reads the PrKDF and retries once). Files, once read,
//! are cached for the session; EF.DAM, being PIN-protected, is not.
//!
//! ## Secrets
//!
//! [`Pin`] and [`Puk`] are validated (4 to 8, or 8, ASCII digits) before any APDU, so a typing
//! mistake never spends a try; they are wiped on drop, never compared on the host and print as
//! `<redacted>`. The library never retries a PIN. APDUs carrying them are wiped after use;
//! `cps_transport::record::Recorder` redacts them from transcripts.
//!
//! ## Errors
//!
//! [`Error`] says what was attempted, carries the status word, and how to fix it: e.g.
//! [`Error::PinBlocked`] ("unblock it with the PUK (cps pin unblock)"),
//! [`Error::WrongPin`] with the tries left, [`Error::SecurityStatusNotSatisfied`]
//! ("verify the PIN first").
#![forbid(unsafe_code)]

mod card;
mod crypto;
pub mod dico;
mod error;
mod generation;
mod holder;
mod pin;
pub mod pkcs15;

pub use card::{CPS_IAS_AID, CardSerial, Certificate, CpsCard};
pub use crypto::{
    Digest, HashAlgorithm, KeyAlgorithm, KeyFamily, KeyInfo, KeySelector, KeySource, KeyUsage,
    Signature, SignatureAlgorithm, ecdsa_raw_to_der,
};
pub use error::{Error, Result};
pub use generation::{BufferSizes, DetectedBy, EfAtr, Generation};
pub use holder::{CardFamily, Coded, HolderIdentity, PracticeSituation};
pub use pin::{PIN_MAX_LEN, PIN_MIN_LEN, PUK_LEN, Pin, PinStatus, Puk};
pub use zeroize::Zeroizing;
