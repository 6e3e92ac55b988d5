//! # cps-update — remote update ("télé mise à jour") of CPS cards
//!
//! The issuer changes data on a card in the field (the holder's practice situations from the
//! register) and renews its certificates after 3 years, through software it does not trust:
//! the editor's relay and the network only ferry bytes. The card and the issuer authenticate
//! each other and protect every command and answer with an SCP03-style secure channel
//! ([`scp`]); the card stages the update and makes it visible only at an explicit, atomic
//! commit, so a card pulled at any point keeps its old data and keys, and the next session
//! resumes where the last one stopped ([`script`]). The protocol is documented in
//! `docs/remote-update.md`.
//!
//! - [`scp`]: the secure channel (the host's end; the card's end with feature `card`, for
//!   simulators);
//! - [`script`]: the update application's commands, shared by card and issuer;
//! - [`relay`]: [`relay::update`], what an editor calls, with progress and cancellation;
//! - [`issuer`] (feature `issuer`): the reference update authority;
//! - [`http`] (feature `http`): the JSON wire format and an HTTP client of a remote service
//!   (`cps-update-server`).
//!
//! ```
//! use std::sync::atomic::AtomicBool;
//! use cps_update::issuer::Issuer;
//! use cps_update::relay::{update, Outcome};
//! use cps_update::scp::TEST_MASTER_KEY;
//! use cps_sim::{Profile, SimCard};
//! use cps_transport::InProcessChannel;
//!
//! use cps_iasecc::PracticeSituation;
//! use cps_update::issuer::{test_record, DAM_PATH};
//!
//! let card = SimCard::new(Profile::Cps4, "dr-martin")?;
//! let serial = card.serial();
//! let situations = PracticeSituation::parse_all(card.file(&DAM_PATH).unwrap())?;
//! let mut issuer = Issuer::new(TEST_MASTER_KEY)?;
//! let generation = cps_iasecc::Generation::Cps4;
//! issuer.register(test_record(generation, "dr-martin", serial.clone(), situations.clone())?);
//! // The register moved the holder to a new practice place.
//! let mut moved = situations;
//! moved[0].city = Some("LYON".into());
//! issuer.update_situations(&serial, moved)?;
//!
//! let mut channel = InProcessChannel::new(card);
//! let outcome = update(&mut channel, &mut issuer, &mut |_| {}, &AtomicBool::new(false))?;
//! assert!(matches!(outcome, Outcome::Updated { sequence: 1, .. }));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "issuer")]
pub mod issuer;
pub mod relay;
pub mod scp;
pub mod script;
pub mod table;
