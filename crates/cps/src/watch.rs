//! Card insertion and removal in a PC/SC reader, for applications that must react to them:
//! lock a session when the card is pulled, open it again when a card comes back.
//!
//! ```no_run
//! use std::time::Duration;
//! use cps::watch::{CardEvent, CardWatch};
//!
//! let mut watch = CardWatch::new("Virtual PCD 00 00")?;
//! let mut unlocked = watch.card_present();
//! loop {
//!     match watch.next_event(Duration::from_secs(1))? {
//!         Some(CardEvent::Removed) => {
//!             unlocked = false; // lock the session: the card is gone
//!         }
//!         Some(CardEvent::Inserted) => {
//!             // a card is back: open it and ask for the PIN again before unlocking
//!         }
//!         None => {} // nothing happened within a second: do other work
//!     }
//!     # if !unlocked { break; }
//! }
//! # Ok::<(), cps::Error>(())
//! ```
//!
//! A card pulled and put back between two calls is reported as a removal then an insertion
//! only if the reader's state was seen empty in between: the watch compares presence, not the
//! identity of the card, so an application that unlocks on insertion must check the card
//! (its serial) and ask for the PIN again, as above.

use std::time::Duration;

use cps_transport::TransportError;
use cps_transport::pcsc::PcscContext;

use crate::Error;

/// A change of the card in the watched reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardEvent {
    /// A card was inserted (or the reader was empty and now holds one).
    Inserted,
    /// The card was removed, or the reader itself disappeared.
    Removed,
}

/// Watches one PC/SC reader for card insertion and removal (its own PC/SC context, so it can
/// run on a thread of its own beside the thread using the card).
#[derive(Debug)]
pub struct CardWatch {
    context: PcscContext,
    reader: String,
    present: bool,
}

impl CardWatch {
    /// Starts watching `reader` (its exact PC/SC name); reads whether a card is there now.
    pub fn new(reader: &str) -> Result<CardWatch, Error> {
        let context = PcscContext::establish()?;
        let info = context
            .list_readers()?
            .into_iter()
            .find(|r| r.name == reader)
            .ok_or_else(|| TransportError::UnknownReader {
                reader: reader.to_owned(),
            })?;
        Ok(CardWatch {
            context,
            reader: reader.to_owned(),
            present: info.card_present,
        })
    }

    /// The reader watched.
    pub fn reader(&self) -> &str {
        &self.reader
    }

    /// Whether a card was in the reader when last seen.
    pub fn card_present(&self) -> bool {
        self.present
    }

    /// Waits up to `timeout` for the card to be removed (when present) or inserted (when
    /// absent). `Ok(None)`: nothing changed in that time.
    pub fn next_event(&mut self, timeout: Duration) -> Result<Option<CardEvent>, Error> {
        let outcome = if self.present {
            self.context
                .wait_for_removal(&self.reader, timeout)
                .map(|()| CardEvent::Removed)
        } else {
            self.context
                .wait_for_card(Some(&self.reader), timeout)
                .map(|_| CardEvent::Inserted)
        };
        match outcome {
            Ok(event) => {
                self.present = event == CardEvent::Inserted;
                Ok(Some(event))
            }
            Err(TransportError::Timeout { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}
