//! # cps-desfire
//!
//! A MIFARE DESFire EV1/EV2/EV3 **host** for the contactless interface of the CPS4 card (the
//! card that replaces the CPS3's MIFARE Classic for physical access), with its cryptography
//! checked against every published vector the project collected (`testvectors/desfire.json`).
//!
//! ```
//! use cps_desfire::auth::{ev2_session_keys, HostAuth, AuthMode};
//! use cps_desfire::crypto::Key;
//! use cps_desfire::frame::DesfireStatus;
//! use cps_desfire::session::SecureChannel;
//! # fn hex(s: &str) -> Vec<u8> { (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect() }
//!
//! // NXP AN12196 Table 14: AuthenticateEV2First with the all-zero AES key 0.
//! let mut auth = HostAuth::new(AuthMode::Ev2First, 0, Key::aes([0; 16])).unwrap();
//! assert_eq!(auth.command(), (0x71, vec![0x00, 0x00]));
//! let rnd_a = hex("13C5DB8A5930439FC3DEF9A4C675360F");
//! let token = auth
//!     .respond(DesfireStatus::AdditionalFrame, &hex("A04C124213C186F22399D33AC2A30215"), &rnd_a)
//!     .unwrap();
//! assert_eq!(token, hex("35C3E05A752E0144BAC0DE51C1F22C56B34408A23D8AEA266CAB947EA8E0118D"));
//! let done = auth
//!     .finish(DesfireStatus::Ok, &hex("3FA64DB5446D1F34CD6EA311167F5E4985B89690C04A05F17FA7AB2F08120663"))
//!     .unwrap();
//! let SecureChannel::Ev2(session) = done.channel else { unreachable!() };
//! assert_eq!(session.ti(), [0x9D, 0x00, 0xC4, 0xDF]);
//! assert_eq!(session.enc_key().expose_bytes(), hex("1309C877509E5A215007FF0ED19CA564"));
//! assert_eq!(session.mac_key().expose_bytes(), hex("4C6626F5E72EA694202139295C7A7FC7"));
//! ```
//!
//! ## Layers
//!
//! The core is `no_std + alloc` (disable the default `std` feature). The card's half of the
//! framing and of secure messaging (parsing wrapped commands, framing and sealing responses,
//! opening commands) is behind feature `card`, for simulators (cps-sim), tests and fuzzing: a
//! client compiles none of it.
//!
//! - [`crypto`]: keys (DES, 2K3DES, 3K3DES, AES-128; zeroized, versions in DES parity bits),
//!   CBC with explicit IVs, CMAC for 64- and 128-bit blocks, CRC16-A and the DESFire CRC32;
//! - [`kdf`]: AN10922 key diversification (AES-128, 2TDEA, 3TDEA);
//! - [`auth`]: legacy `0A`, ISO `1A`, AES `AA`, EV2First `71`, EV2NonFirst `77` as host
//!   state machines with injected RndA, and the pure session-key derivations;
//! - [`session`]: D40, EV1 and EV2 secure messaging (seal/open for both directions);
//! - [`frame`]: native and ISO-wrapped frames, the `91xx` statuses ([`frame::DesfireStatus`]),
//!   additional-frame chaining both ways;
//! - [`commands`]: typed command builders and response parsers;
//! - [`badge`]: an establishment's badge record, door profile and key file (AN10922 keys
//!   per card and per key).
//!
//! With `std`, [`client::Desfire`] runs them over any [`cps_transport::CardChannel`] with
//! ISO-wrapped APDUs or native frames, [`client::Desfire::door_check`] is the access-control
//! check, and [`provision`] creates an establishment's badge on a card (tear-safe) and checks
//! it as a door does in 4 exchanges.
//!
//! ## Security notes (CPS4)
//!
//! The CPS4 issuer states that the PICC master key is the all-zero DES key: anyone can
//! authenticate at card level, list and create applications, read the real UID and even
//! format the card. Access control must therefore rely on an application key that is not a
//! default, preferably diversified per card with AN10922 — which is what `door_check` does.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod auth;
pub mod badge;
pub mod commands;
pub mod crypto;
pub mod frame;
pub mod kdf;
pub mod session;
pub mod table;

#[cfg(feature = "std")]
pub mod client;
#[cfg(feature = "std")]
pub mod provision;

pub use auth::{AuthError, AuthMode, HostAuth};
pub use commands::{Aid, NativeCommand};
pub use crypto::{Key, KeyType};
pub use frame::DesfireStatus;
pub use session::{CommMode, Protection, SecureChannel, SmError};

#[cfg(feature = "std")]
pub use client::{Credential, Desfire, DesfireError, DoorConfig, Refusal};
