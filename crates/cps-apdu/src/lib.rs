//! # cps-apdu
//!
//! ISO/IEC 7816-4 application protocol data units for the CPS cards, without I/O:
//!
//! - [`Command`]: command APDUs in the four cases, short and extended encodings, built by hosts
//!   and **parsed** by simulated cards;
//! - [`Response`] and [`StatusWord`]: response APDUs, named status words, their classification
//!   ([`SwClass`]) and a human message for each;
//! - [`tlv`]: BER-TLV (ISO/IEC 8825-1 tags and lengths as used by ISO 7816-4 §6), parser
//!   built on `nom`, encoder, and lookup by tag path;
//! - [`chain`]: command chaining (CLA bit `0x10`, ISO 7816-4 §5.4.1);
//! - [`table`]: what each command does to the card (read, changes state, carries a secret),
//!   the one place the transport's no-resend rule and the redactor read.
//!
//! The crate is `no_std` + `alloc` (disable the default `std` feature) so door controllers and
//! other embedded hosts can use it.
//!
//! ```
//! use cps_apdu::{Command, Response, StatusWord, SwClass};
//!
//! // VERIFY with an empty body asks for the PIN status without spending a try.
//! let status = Command::new(0x00, 0x20, 0x00, 0x01);
//! assert_eq!(status.to_bytes(), [0x00, 0x20, 0x00, 0x01]);
//!
//! let answer = Response::parse(&[0x63, 0xC3]).unwrap();
//! assert_eq!(answer.sw.class(), SwClass::RetriesLeft(3));
//! assert_eq!(answer.sw.to_string(), "63C3 (verification failed: 3 tries left)");
//! assert_eq!(StatusWord::SECURITY_STATUS_NOT_SATISFIED.0, 0x6982);
//! ```
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod chain;
mod command;
mod error;
mod response;
mod status;
pub mod table;
pub mod tlv;

pub use command::{
    Case, Command, EXTENDED_MAX_LC, EXTENDED_MAX_NE, Encoding, SHORT_MAX_LC, SHORT_MAX_NE,
};
pub use error::ApduError;
pub use response::Response;
pub use status::{StatusMessage, StatusWord, SwClass};
