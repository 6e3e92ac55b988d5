//! # cps-iasecc
//!
//! The client of the IAS-ECC application of the French health-professional card, **CPS3**
//! and **CPS4**, with one API for both: holder identity, practice situations, certificates,
//! PIN, signature, client authentication and decryption.
//!
//! ```
//! use cps_iasecc::{CpsCard, Digest, Generation, KeyRole, Pin, PinStatus};
//!
//! // A simulated CPS4 of the test persona "dr-martin", in this process (no pcscd needed).
//! // A real card is opened the same way on a PC/SC channel.
//! let sim = cps_sim::SimCard::new(cps_sim::Profile::Cps4, "dr-martin")?;
//! let mut card = CpsCard::open(cps_transport::InProcessChannel::new(sim))?;
//! assert_eq!(card.generation(), Generation::Cps4); // from the ATR
//!
//! let who = card.identity()?; // free to read
//! assert_eq!(who.display_name(), "Claire Anne MARTIN");
//!
//! assert_eq!(card.pin_status()?, PinStatus::RetriesLeft(3)); // spends no try
//! card.verify_pin(&Pin::new("1234")?)?;
//! let situations = card.practice_situations()?; // needs the PIN
//! assert_eq!(situations[1].structure_name.as_deref(), Some("CHU d'Angers"));
//!
//! // RSA-2048 PKCS#1 v1.5 (or `sign_pss` on a CPS4), verified with the card's certificate.
//! let digest = Digest::sha256_of(b"feuille de soins");
//! let sig = card.sign(KeyRole::Signature, &digest)?;
//! let key = card.resolve_key(KeyRole::Signature)?;
//! let cert = card.certificate_for(&key)?.expect("the card has the certificate");
//! sig.verify(cert.parsed.as_ref().expect("a CPS certificate"), &digest)?;
//! // open 2 (ChipDoc on channel 1, then the application), identity 1, PIN status 1,
//! // VERIFY 1, EF.DAM 1, sign 3 (MSE, PSO CDS, GET RESPONSE: the CPS4 is T=0), then the
//! // PrKDF (the key's iD: ODF + PrKDF, each SELECT + GET RESPONSE of its FCP + READ, 6),
//! // the CDF (3) and that certificate (SELECT + GET RESPONSE + 4 READ BINARY of up to 256
//! // bytes).
//! assert_eq!(card.round_trips(), 24);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## What the card holds
//!
//! The layout is the contract of `docs/card-layout.md` (modelled on IAS-ECC v1.0.1 and
//! ISO/IEC 7816-15 as OpenSC reads real CPS3 cards): DF.CPS-IAS (`3F00/0001`, AID
//! `E8 28 BD 08 0F 80 25 00 00 01 FF 00 10`) with the PKCS#15 files (ODF, TokenInfo, AODF,
//! PrKDF, CDF, DODF), the certificates, EF.IDENT (holder identity, free) and EF.DAM (practice
//! situations, PIN). The client finds PKCS#15 files through the ODF; the holder-data files
//! are read by their short identifiers (SFI 01, 02), which have no public directory.
//!
//! ## Generation and protocols
//!
//! [`Generation`] comes from the ATR list of the official middleware (Cryptolib CPS 5.2
//! `card-cps.c` `CPS_ATR_LIST`: CPS3 contact/contactless, three CPS4 ATRs), no APDU; an
//! unknown ATR falls back to EF.ATR, then to which application answers.
//!
//! - **CPS3**: IAS-ECC on the basic channel (CLA `00`), T=0, short APDUs.
//! - **CPS4**: the NXP ChipDoc applet (AID [`CHIPDOC_AID`]) on **logical channel 1**: every
//!   command has CLA `01` (`11` when chained). A reset by another application closes the
//!   channel (`6881`): the client selects ChipDoc again, once, and sends the command again
//!   only if it has no effect and carries no secret (SELECT, READ BINARY, PIN status);
//!   otherwise [`Error::ChannelClosed`] — a PIN or a signature is never re-sent.
//!
//! Both have two RSA-2048 keys, paired with their certificates by PKCS#15 iD
//! (AID ‖ `01` signature, AID ‖ `02` authentication; no PuKDF: the public keys are in the
//! certificates). Key references: signature `81`; authentication `82` (CPS3), `20` (CPS4).
//!
//! ## Round trips
//!
//! Every APDU costs a reader round trip (milliseconds on real readers), so each operation
//! sends the protocol minimum, counted by [`CpsCard::round_trips`]:
//!
//! | operation | CPS3 | CPS4 | why no fewer |
//! |---|---|---|---|
//! | [`CpsCard::open`] (known ATR) | 1 | 2 | SELECT of the application by AID; CPS4: SELECT of ChipDoc on channel 1 first (it opens the channel) |
//! | [`CpsCard::identity`] | 1 | 1 | READ BINARY by SFI selects and reads EF.IDENT at once |
//! | [`CpsCard::practice_situations`] | 1 | 1 | same, EF.DAM |
//! | [`CpsCard::pin_status`], [`CpsCard::verify_pin`] | 1 | 1 | one VERIFY |
//! | [`CpsCard::change_pin`] | 1 | 2 | CPS4: VERIFY then CHANGE REFERENCE DATA `01` (Cryptolib's form) |
//! | [`CpsCard::unblock_pin`] | 1 | 3 | CPS4: VERIFY PUK, RESET RETRY COUNTER `03`, CHANGE `01` |
//! | [`CpsCard::sign`] | 3 | 2 | CPS3: MSE SET DST, PSO HASH, PSO CDS (the card signs only a hash given by PSO HASH); CPS4: MSE SET DST, PSO CDS carrying the hash |
//! | [`CpsCard::sign_message`] | 4 | 2 | CPS3: MSE SET HT, PSO HASH carrying the intermediate hash state and the last block, MSE SET DST, PSO CDS — the official middleware's sequence (card-cps3.c, pkcs15-sec.c); OpenSC's generic IAS-ECC form without HT would be 3, but the CPS3 is not known to be driven that way |
//! | [`CpsCard::sign_pss`] | — | 2 | MSE SET DST (PSS algorithm), PSO CDS |
//! | [`CpsCard::authenticate`] | 2 | 3 | CPS3: MSE SET AT, INTERNAL AUTHENTICATE; CPS4: MSE SET CT, PSO DECIPHER of the 256-byte padded block = a chain of 2 (T=0, no extended length) |
//! | [`CpsCard::decipher`] | 3 | 3 | MSE SET CT, PSO DECIPHER of 257 (CPS3) / 256 (CPS4) bytes: a chain of 2 |
//! | [`CpsCard::data_objects`] | 3 + ⌈DODF / 256⌉ | same | SELECT + READ of the ODF, SELECT + READ of the DODF (cached) |
//! | [`CpsCard::professional_info`], [`CpsCard::read_data_object`] | 2 | 2 | SELECT + READ of the object's file (path from the DODF) |
//! | [`CpsCard::practice_activities`] | 2 per situation | same | SELECT + READ of each `CPS_ACTIVITY_nn_PS` (no SFI is published for them) |
//! | [`CpsCard::certificates`] | 4 + Σ (1 + ⌈size / 256⌉) | same | SELECT + READ of the ODF and the CDF (paths come from them), then SELECT (FCP size) + READ BINARY per certificate |
//!
//! Key references come from the CPS profile table without reading the PrKDF (if the card
//! answers "key not found", the client reads the PrKDF and retries once). Files, once read,
//! are cached for the session; EF.DAM, being PIN-protected, is not.
//!
//! ## Holder data
//!
//! [`CpsCard::identity`] reads EF.IDENT by SFI (the file of the `CPS_NAME_PS` data object, one
//! APDU); [`CpsCard::practice_situations`] reads EF.DAM (with labels). Following the DODF as
//! the official middleware does, [`CpsCard::professional_info`] decodes `CPS_INFO_PS` and
//! [`CpsCard::practice_activities`] the `CPS_ACTIVITY_nn_PS` objects: codes only (the card
//! carries no labels there; the code dictionary `cps_iasecc::dico`, written on another
//! branch, is not merged yet, so their `label`s are `None`). The encodings of these objects
//! are the simulator's model (the official format is not public).
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
pub mod cps2ter;
mod crypto;
pub mod dico;
mod error;
mod generation;
mod holder;
mod pin;
pub mod pkcs15;
pub mod snapshot;
pub mod table;

pub use card::{CHIPDOC_AID, CPS_IAS_AID, CardSerial, Certificate, CpsCard};
pub use crypto::{
    Digest, HashAlgorithm, KeyAlgorithm, KeyFamily, KeyInfo, KeyRole, KeySelector, KeySource,
    Signature, SignatureAlgorithm, ecdsa_raw_to_der, pkcs1_type2_unpad,
};
pub use error::{Error, Result};
pub use generation::{BufferSizes, DetectedBy, EfAtr, Generation};
pub use holder::{CardFamily, Coded, HolderIdentity, PracticeSituation, ProfessionalInfo};
pub use pin::{PIN_MAX_LEN, PIN_MIN_LEN, PUK_LEN, Pin, PinStatus, Puk};
pub use zeroize::Zeroizing;
