//! # cps-transport
//!
//! How cps-rs reaches a card, in three layers:
//!
//! - [`CardChannel`]: the one trait every card connection implements (a PC/SC reader, a
//!   simulated card in the same process, a replayed transcript). It moves raw APDU bytes.
//! - [`Exchange`]: the exchange layer every protocol crate uses on top of a channel: GET RESPONSE
//!   on `61xx`, resend of a *read* on `6Cxx`, command chaining for long commands, extended
//!   length when the card supports it, and a round-trip counter. **A command carrying a secret
//!   or changing card state is never re-sent automatically** (no `6Cxx` re-issue, no retry
//!   after a transport error): which commands these are comes from [`cps_apdu::table`].
//! - Every wait is bounded: the PC/SC channel gives up on a card that does not answer
//!   ([`pcsc::Timeouts`], [`TransportError::NoAnswer`]).
//! - The card side: [`VirtualCard`] is what a simulated card implements; [`InProcessChannel`]
//!   turns one into a host channel without pcscd (`cps_sim::vpcd` connects one to pcscd's
//!   `vpcd` driver: the card side of that link lives with the simulator).
//!
//! `pcsc` (feature `pcsc`, on by default) is the backend for real readers: it loads pcsc-lite's
//! `libpcsclite.so.1` at run time, so nothing PC/SC is needed to build or to use the rest;
//! [`record`] keeps redacted APDU transcripts and replays them.
//!
//! ```
//! use cps_apdu::{Command, Response, StatusWord};
//! use cps_transport::{Exchange, InProcessChannel, VirtualCard};
//!
//! /// A toy card: answers 16 bytes through `61 10` + GET RESPONSE, like a T=0 card.
//! struct Echo { pending: Vec<u8> }
//! impl VirtualCard for Echo {
//!     fn atr(&self) -> Vec<u8> { vec![0x3B, 0x80, 0x80, 0x01, 0x01] }
//!     fn power_on(&mut self) { self.pending.clear() }
//!     fn process(&mut self, apdu: &[u8]) -> Vec<u8> {
//!         match Command::parse(apdu) {
//!             Ok(c) if c.ins == 0xC0 => Response::success(std::mem::take(&mut self.pending)).to_bytes(),
//!             Ok(_) => { self.pending = vec![0xAB; 16]; vec![0x61, 0x10] }
//!             Err(_) => StatusWord::WRONG_LENGTH.to_bytes().to_vec(),
//!         }
//!     }
//! }
//!
//! let mut card = Exchange::new(InProcessChannel::new(Echo { pending: vec![] }));
//! let r = card.transmit(&Command::new(0x00, 0xCA, 0x01, 0x00).with_ne(256)).unwrap();
//! assert_eq!(r.data, [0xAB; 16]);
//! assert_eq!(card.round_trips(), 2); // the command and one GET RESPONSE
//! ```
// Denied everywhere; allowed only in the FFI module `pcsc::sys` (calls into libpcsclite,
// loaded at run time). The crate's Cargo.toml sets the lint to "deny" for that reason.
#![deny(unsafe_code)]

mod atr;
mod error;
mod exchange;
mod inprocess;
#[cfg(feature = "pcsc")]
pub mod pcsc;
pub mod record;

pub use atr::{Atr, Interface, spaced_hex};
pub use error::{PcscError, TransportError};
pub use exchange::{Exchange, ExchangeConfig};
pub use inprocess::{InProcessChannel, VirtualCard};

static CANCEL: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Asks every exchange of the process to stop before its next command (a Ctrl-C handler
/// calls this). A command already sent is never cut: the card finishes it, its answer is
/// read, then [`Exchange::transmit`] and the PC/SC waits fail with
/// [`TransportError::Cancelled`].
pub fn request_cancel() {
    CANCEL.store(true, std::sync::atomic::Ordering::SeqCst);
}

/// Whether [`request_cancel`] was called.
pub fn cancel_requested() -> bool {
    CANCEL.load(std::sync::atomic::Ordering::SeqCst)
}

/// The process-wide cancellation flag itself, for APIs that take one (the update relay,
/// `cps_sim::vpcd::serve`).
pub fn cancel_flag() -> &'static std::sync::atomic::AtomicBool {
    &CANCEL
}

/// A connection to one card: moves raw command APDUs to it and raw response APDUs back.
///
/// Implementations do **no** APDU-level processing (no GET RESPONSE, no chaining): that is the
/// job of [`Exchange`], so it is written once for every kind of channel.
pub trait CardChannel {
    /// Sends one command APDU (as encoded bytes) and returns the response (`data ‖ SW1 SW2`).
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError>;

    /// The card's answer to reset.
    fn atr(&self) -> &[u8];

    /// Resets the card (warm reset). All volatile card state is lost: selected files, verified
    /// PINs, security environments, secure-messaging sessions.
    fn reset(&mut self) -> Result<(), TransportError>;

    /// Begins a transaction: until the returned guard is dropped, no other application can
    /// send APDUs to this card between ours. The guard is itself a channel.
    ///
    /// Channels with a single user (in-process, replay) return a guard that only reborrows.
    fn transaction(&mut self) -> Result<Box<dyn CardChannel + '_>, TransportError>;

    /// Whether the card is reached through its contact or contactless interface.
    ///
    /// The default reads it from the ATR ([`Atr::interface`]).
    fn interface(&self) -> Interface {
        Atr::new(self.atr()).interface()
    }

    /// The name of the reader holding the card, when there is one.
    fn reader_name(&self) -> Option<&str> {
        None
    }

    /// Learns the command tables of the protocols spoken on this channel (called by
    /// [`Exchange::register`]): channels that decide by command (the PC/SC channel's reset
    /// on release, a transcript recorder's redaction) read them; the others ignore them.
    /// Before any call, a channel knows the ISO 7816-4 basics only and treats every other
    /// command as changing state and secret.
    fn learn_commands(&mut self, tables: &cps_apdu::table::CommandTables) {
        let _ = tables;
    }
}

impl<C: CardChannel + ?Sized> CardChannel for &mut C {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        (**self).transmit(command)
    }
    fn atr(&self) -> &[u8] {
        (**self).atr()
    }
    fn reset(&mut self) -> Result<(), TransportError> {
        (**self).reset()
    }
    fn transaction(&mut self) -> Result<Box<dyn CardChannel + '_>, TransportError> {
        (**self).transaction()
    }
    fn interface(&self) -> Interface {
        (**self).interface()
    }
    fn reader_name(&self) -> Option<&str> {
        (**self).reader_name()
    }
    fn learn_commands(&mut self, tables: &cps_apdu::table::CommandTables) {
        (**self).learn_commands(tables)
    }
}

impl<C: CardChannel + ?Sized> CardChannel for Box<C> {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        (**self).transmit(command)
    }
    fn atr(&self) -> &[u8] {
        (**self).atr()
    }
    fn reset(&mut self) -> Result<(), TransportError> {
        (**self).reset()
    }
    fn transaction(&mut self) -> Result<Box<dyn CardChannel + '_>, TransportError> {
        (**self).transaction()
    }
    fn interface(&self) -> Interface {
        (**self).interface()
    }
    fn reader_name(&self) -> Option<&str> {
        (**self).reader_name()
    }
    fn learn_commands(&mut self, tables: &cps_apdu::table::CommandTables) {
        (**self).learn_commands(tables)
    }
}

/// A transaction guard for channels that have no other user: it only reborrows the channel.
pub struct Reborrow<'a, C: CardChannel + ?Sized>(pub &'a mut C);

impl<C: CardChannel + ?Sized> CardChannel for Reborrow<'_, C> {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        self.0.transmit(command)
    }
    fn atr(&self) -> &[u8] {
        self.0.atr()
    }
    fn reset(&mut self) -> Result<(), TransportError> {
        self.0.reset()
    }
    fn transaction(&mut self) -> Result<Box<dyn CardChannel + '_>, TransportError> {
        Ok(Box::new(Reborrow(&mut *self.0)))
    }
    fn interface(&self) -> Interface {
        self.0.interface()
    }
    fn reader_name(&self) -> Option<&str> {
        self.0.reader_name()
    }
    fn learn_commands(&mut self, tables: &cps_apdu::table::CommandTables) {
        self.0.learn_commands(tables)
    }
}
