//! # cps-fido2
//!
//! The FIDO2 applet of the CPS4 card, seen from the host: CTAP 2.1 over ISO 7816-4 APDUs
//! (FIDO CTAP 2.1 §11.3, "ISO7816, ISO14443 and Near Field Communication").
//!
//! This first part holds [`cbor`]: the strict CTAP2 canonical CBOR encoder and decoder every
//! request and response goes through.
//!
//! ```
//! use cps_fido2::cbor::{self, Value};
//! // A COSE_Key fragment: keys sort by encoded bytes, length first (1, 3, -1, -2, -3).
//! let key = Value::map([(Value::int(-1), Value::int(1)), (Value::int(3), Value::int(-7)), (Value::int(1), Value::int(2))]);
//! let bytes = cbor::encode(&key);
//! assert_eq!(bytes, [0xA3, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01]);
//! assert_eq!(cbor::decode(&bytes).unwrap(), key);
//! ```
//!
//! Host side only: the simulated FIDO2 applet (the card side, with its TEST attestation key)
//! lives in `cps-sim` (`cps_sim::fido2`).
#![forbid(unsafe_code)]

pub mod cbor;
pub mod client;
pub mod ctap;
mod error;
pub mod pin;
pub mod table;
pub mod transport;
pub mod u2f;

pub use client::{Fido2, Registration, StoredCredential};
pub use transport::{CtapCard, FIDO_AID, Fido2Error, PollPolicy};
