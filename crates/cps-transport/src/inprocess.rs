//! The card side: what a simulated card implements, and an in-process host channel for it.

use crate::{CardChannel, Reborrow, TransportError};

/// A card that answers APDUs: what a simulated card implements.
///
/// The same card can be used in-process ([`InProcessChannel`]) or behind pcscd through the
/// vpcd link (`cps_sim::vpcd`), so tests and applications see the same behaviour.
///
/// Implementations must never panic on any input: every byte they receive comes from a host
/// that may be hostile or simply buggy. Malformed commands get an ISO 7816-4 error status word.
pub trait VirtualCard {
    /// The answer to reset.
    fn atr(&self) -> Vec<u8>;

    /// Cold start (power on). Volatile state (selected file, verified PINs, security
    /// environments, sessions) must be cleared.
    fn power_on(&mut self);

    /// Power off. Nothing is answered until the next [`VirtualCard::power_on`].
    fn power_off(&mut self) {}

    /// Warm reset; by default the same as a power-on.
    fn reset(&mut self) {
        self.power_on();
    }

    /// Processes one command APDU (bytes exactly as the host sent them) and returns the
    /// response APDU (`data ‖ SW1 SW2`, at least two bytes).
    fn process(&mut self, apdu: &[u8]) -> Vec<u8>;
}

impl<T: VirtualCard + ?Sized> VirtualCard for Box<T> {
    fn atr(&self) -> Vec<u8> {
        (**self).atr()
    }
    fn power_on(&mut self) {
        (**self).power_on()
    }
    fn power_off(&mut self) {
        (**self).power_off()
    }
    fn reset(&mut self) {
        (**self).reset()
    }
    fn process(&mut self, apdu: &[u8]) -> Vec<u8> {
        (**self).process(apdu)
    }
}

/// A host channel to a [`VirtualCard`] in the same process: no pcscd, no sockets.
///
/// The card is powered on when the channel is created, as a PC/SC connect does.
pub struct InProcessChannel<C: VirtualCard> {
    card: C,
    atr: Vec<u8>,
}

impl<C: VirtualCard> InProcessChannel<C> {
    /// Powers the card on and wraps it.
    pub fn new(mut card: C) -> Self {
        card.power_on();
        let atr = card.atr();
        InProcessChannel { card, atr }
    }

    /// The card, e.g. to inspect its state in a test.
    pub fn card(&self) -> &C {
        &self.card
    }

    /// The card, mutably (e.g. to change a simulation policy between commands).
    pub fn card_mut(&mut self) -> &mut C {
        &mut self.card
    }

    /// Simulates pulling the card out and putting it back: power off, then power on.
    pub fn power_cycle(&mut self) {
        self.card.power_off();
        self.card.power_on();
        self.atr = self.card.atr();
    }

    /// Unwraps the card.
    pub fn into_card(self) -> C {
        self.card
    }
}

impl<C: VirtualCard> CardChannel for InProcessChannel<C> {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let response = self.card.process(command);
        // A native DESFire answer may be the status byte alone; an empty one is no answer.
        if response.is_empty() {
            return Err(TransportError::Protocol {
                attempted: "reading the simulated card's response",
                detail: "no byte at all".to_string(),
            });
        }
        Ok(response)
    }

    fn atr(&self) -> &[u8] {
        &self.atr
    }

    fn reset(&mut self) -> Result<(), TransportError> {
        self.card.reset();
        self.atr = self.card.atr();
        Ok(())
    }

    fn transaction(&mut self) -> Result<Box<dyn CardChannel + '_>, TransportError> {
        Ok(Box::new(Reborrow(self)))
    }

    fn reader_name(&self) -> Option<&str> {
        Some("in-process simulator")
    }
}
