//! Where the card comes from: a PC/SC reader, or the simulated card built into the library.

use std::time::{Duration, Instant};

use cps_transport::pcsc::{PcscContext, ShareMode};
use cps_transport::{CardChannel, TransportError};

use crate::Error;

/// A simulated card of the built-in simulator (`cps-sim`, feature `sim`): no reader, no pcscd.
#[cfg(feature = "sim")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimSpec {
    /// CPS3 or CPS4.
    pub profile: cps_sim::Profile,
    /// Holder persona (`cps_sim::personas()`), e.g. `"dr-martin"`.
    pub persona: String,
    /// Power the card through its contactless interface (DESFire side; no IAS-ECC there).
    pub contactless: bool,
}

#[cfg(feature = "sim")]
impl Default for SimSpec {
    /// The simulated CPS4 of `dr-martin`, contact interface.
    fn default() -> Self {
        SimSpec {
            profile: cps_sim::Profile::Cps4,
            persona: "dr-martin".into(),
            contactless: false,
        }
    }
}

/// Which PC/SC reader to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReaderChoice {
    /// The reader with this PC/SC name.
    Named(String),
    /// The first reader holding a card (in PC/SC listing order).
    FirstWithCard,
}

/// Where to find the card.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CardSource {
    /// The built-in simulator (feature `sim`).
    #[cfg(feature = "sim")]
    Simulator(SimSpec),
    /// A PC/SC reader.
    Reader {
        /// Which reader.
        reader: ReaderChoice,
        /// Wait up to this long for a card (`None`: the card must be there now).
        wait: Option<Duration>,
    },
}

#[cfg(feature = "sim")]
impl Default for CardSource {
    /// The built-in simulated CPS4 ([`SimSpec::default`]).
    fn default() -> Self {
        CardSource::Simulator(SimSpec::default())
    }
}

/// Where an opened card is.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Origin {
    /// In the built-in simulator (feature `sim`).
    #[cfg(feature = "sim")]
    Simulator(SimSpec),
    /// In this PC/SC reader.
    Reader(String),
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            #[cfg(feature = "sim")]
            Origin::Simulator(s) => write!(
                f,
                "built-in simulator ({} of {}, {})",
                s.profile.as_str(),
                s.persona,
                if s.contactless {
                    "contactless"
                } else {
                    "contact"
                }
            ),
            Origin::Reader(name) => write!(f, "reader {name:?}"),
        }
    }
}

/// Progress of a wait for a card, given to the caller's callback about once a second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WaitProgress {
    /// Time waited so far.
    pub elapsed: Duration,
    /// The timeout.
    pub timeout: Duration,
}

/// Longest single PC/SC wait between two progress reports.
const PROGRESS_SLICE: Duration = Duration::from_secs(1);
/// Grace period for a card being inserted right now when no wait was asked for.
const GRACE: Duration = Duration::from_millis(200);

/// The channel type every card is reached through. `Send`, so that a [`crate::Card`] can
/// move to a worker thread or sit in a `Mutex`.
pub type Channel = Box<dyn CardChannel + Send>;

/// Opens the channel of a card source. `progress` is called while waiting for a card.
pub(crate) fn open_channel(
    source: &CardSource,
    progress: &mut dyn FnMut(WaitProgress),
) -> Result<(Channel, Origin), Error> {
    match source {
        #[cfg(feature = "sim")]
        CardSource::Simulator(spec) => {
            let interface = if spec.contactless {
                cps_sim::Interface::Contactless
            } else {
                cps_sim::Interface::Contact
            };
            let card = cps_sim::SimCard::builder()
                .profile(spec.profile)
                .persona(&spec.persona)
                .interface(interface)
                .build()?;
            Ok((
                Box::new(cps_transport::InProcessChannel::new(card)),
                Origin::Simulator(spec.clone()),
            ))
        }
        CardSource::Reader { reader, wait } => {
            let ctx = PcscContext::establish()?;
            let name = find_reader(&ctx, reader, *wait, progress)?;
            let channel = ctx.connect(&name, ShareMode::Shared)?;
            Ok((Box::new(channel), Origin::Reader(name)))
        }
    }
}

/// The name of the reader to connect to, waiting for a card when asked.
fn find_reader(
    ctx: &PcscContext,
    reader: &ReaderChoice,
    wait: Option<Duration>,
    progress: &mut dyn FnMut(WaitProgress),
) -> Result<String, Error> {
    let named = match reader {
        ReaderChoice::Named(n) => Some(n.as_str()),
        ReaderChoice::FirstWithCard => None,
    };
    let Some(timeout) = wait else {
        return match named {
            Some(name) => ctx.wait_for_card(Some(name), GRACE).map_err(|e| match e {
                TransportError::Timeout { .. } => TransportError::NoCard {
                    reader: name.to_owned(),
                }
                .into(),
                e => e.into(),
            }),
            None => {
                let readers = ctx.list_readers()?;
                if readers.is_empty() {
                    return Err(TransportError::NoReader.into());
                }
                let count = readers.len();
                readers
                    .into_iter()
                    .find(|r| r.card_present)
                    .map(|r| r.name)
                    .ok_or(Error::NoCardInAnyReader { readers: count })
            }
        };
    };
    let start = Instant::now();
    loop {
        let elapsed = start.elapsed();
        let left = timeout.saturating_sub(elapsed);
        match ctx.wait_for_card(named, left.min(PROGRESS_SLICE)) {
            Ok(name) => return Ok(name),
            Err(TransportError::Timeout { .. }) if !left.is_zero() => {
                progress(WaitProgress {
                    elapsed: start.elapsed(),
                    timeout,
                });
            }
            Err(TransportError::Timeout { what, .. }) => {
                return Err(TransportError::Timeout {
                    what,
                    seconds: timeout.as_secs_f64(),
                }
                .into());
            }
            Err(e) => return Err(e.into()),
        }
    }
}
