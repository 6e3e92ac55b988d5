//! The editor's side: relays an update between the card and the update service, with
//! progress and cancellation. It holds no key and trusts neither side's bytes beyond their
//! framing: the card and the issuer authenticate each other through it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use cps_apdu::{Command, Response};
use cps_transport::{CardChannel, Exchange, TransportError};

use crate::script::UPDATE_AID;

/// How far an update has gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// Steps done.
    pub done: u32,
    /// Steps in all (known once the service has planned the update).
    pub total: u32,
    /// What is happening, for a progress line ("staging EF.DAM", "generating key 84", ...).
    pub what: String,
}

/// How an update session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing was pending for this card.
    UpToDate {
        /// The card's sequence number.
        sequence: u32,
    },
    /// An update was committed (now, or by an earlier session whose answer was lost).
    Updated {
        /// The card's new sequence number.
        sequence: u32,
        /// Steps of the update.
        steps: u16,
    },
}

/// What the service answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Send this APDU to the card and give the service its answer.
    Send {
        /// Session handle to quote in [`UpdateService::next`].
        session: u64,
        /// The command APDU.
        apdu: Vec<u8>,
        /// Progress so far.
        progress: Progress,
    },
    /// The session is over.
    Finished(Outcome),
}

/// The service refused or failed. Text a service sent is passed through [`printable`] before
/// it is put in one of these.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ServiceError(pub String);

/// An update authority reachable by the relay: in process ([`crate::issuer::Issuer`]) or
/// over the network.
pub trait UpdateService {
    /// Starts a session from the card's answer to SELECT (the update application's hello).
    fn open(&mut self, hello: &[u8]) -> Result<Reply, ServiceError>;
    /// Gives the card's answer (`data ‖ SW1 SW2`) to the last command of `session`.
    fn next(&mut self, session: u64, response: &[u8]) -> Result<Reply, ServiceError>;
}

impl<S: UpdateService + ?Sized> UpdateService for &mut S {
    fn open(&mut self, hello: &[u8]) -> Result<Reply, ServiceError> {
        (**self).open(hello)
    }
    fn next(&mut self, session: u64, response: &[u8]) -> Result<Reply, ServiceError> {
        (**self).next(session, response)
    }
}

/// Why [`update`] stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UpdateError {
    /// The card has no update application (`6A82` to its SELECT): not a card that can be
    /// updated remotely (e.g. a card issued before remote update).
    #[error("this card has no remote-update application (SELECT answered {0})")]
    NotUpdatable(cps_apdu::StatusWord),
    /// The card could not be reached (removed, reset, reader gone...): the update is safe
    /// to resume; nothing is visible on the card before commit.
    #[error("card communication failed during the update (safe to resume)")]
    Transport(#[from] TransportError),
    /// The service refused or failed.
    #[error("update service failed")]
    Service(#[from] ServiceError),
    /// The service sent bytes that are not an APDU.
    #[error("the update service sent a malformed APDU")]
    MalformedCommand,
    /// The caller cancelled; nothing was committed by this session.
    #[error("update cancelled; nothing was committed, run it again to resume")]
    Cancelled,
}

/// Bounds on one update session, so that a service that never finishes cannot keep the relay
/// (and the card) busy for ever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// At most this many APDUs relayed (the reference issuer needs a few dozen).
    pub max_steps: u32,
    /// At most this long for the whole session, card and service included.
    pub max_session: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_steps: 1000,
            max_session: Duration::from_secs(600),
        }
    }
}

/// The longest progress text kept from a service (characters).
pub const MAX_PROGRESS_TEXT: usize = 120;

/// Makes text from a service safe to print: control characters (escape sequences, bells,
/// carriage returns, bidirectional overrides) become `?`, and it is cut to `max` characters.
pub fn printable(text: &str, max: usize) -> String {
    let mut out: String = text
        .chars()
        .take(max)
        .map(|c| {
            if c.is_control() || matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}') {
                '?'
            } else {
                c
            }
        })
        .collect();
    if text.chars().nth(max).is_some() {
        out.push('…');
    }
    out
}

/// Runs one update session: selects the update application, then ferries APDUs between the
/// card and `service` until it finishes. `progress` is called before each APDU (its text made
/// printable, see [`printable`]); setting `cancel` stops before the next APDU (safe: the card
/// shows nothing before commit, and a later session resumes). Bounded by [`Limits::default`].
pub fn update<C: CardChannel, S: UpdateService>(
    card: C,
    service: S,
    progress: &mut dyn FnMut(&Progress),
    cancel: &AtomicBool,
) -> Result<Outcome, UpdateError> {
    update_with_limits(card, service, progress, cancel, Limits::default())
}

/// [`update`] with explicit [`Limits`].
pub fn update_with_limits<C: CardChannel, S: UpdateService>(
    card: C,
    mut service: S,
    progress: &mut dyn FnMut(&Progress),
    cancel: &AtomicBool,
    limits: Limits,
) -> Result<Outcome, UpdateError> {
    let started = Instant::now();
    let mut steps = 0u32;
    let mut ex = Exchange::new(card);
    // The transport learns what the update commands do (never re-sent).
    ex.register(&crate::table::TABLE);
    let select = Command::new(0x00, 0xA4, 0x04, 0x00)
        .with_data(&UPDATE_AID)
        .with_ne(256);
    let hello = ex.transmit(&select)?;
    if !hello.is_success() {
        return Err(UpdateError::NotUpdatable(hello.sw));
    }
    let mut reply = service.open(&hello.data)?;
    loop {
        match reply {
            Reply::Finished(outcome) => return Ok(outcome),
            Reply::Send {
                session,
                apdu,
                progress: p,
            } => {
                if cancel.load(Ordering::SeqCst) {
                    return Err(UpdateError::Cancelled);
                }
                steps += 1;
                if steps > limits.max_steps {
                    return Err(UpdateError::Service(ServiceError(format!(
                        "the update service did not finish in {} steps; stopped (nothing is \
                         visible on the card before commit)",
                        limits.max_steps
                    ))));
                }
                if started.elapsed() > limits.max_session {
                    return Err(UpdateError::Service(ServiceError(format!(
                        "the update session did not finish in {} s; stopped (nothing is \
                         visible on the card before commit)",
                        limits.max_session.as_secs()
                    ))));
                }
                progress(&Progress {
                    what: printable(&p.what, MAX_PROGRESS_TEXT),
                    ..p
                });
                let cmd = Command::parse(&apdu).map_err(|_| UpdateError::MalformedCommand)?;
                let resp: Response = ex.transmit(&cmd)?;
                reply = service.next(session, &resp.to_bytes())?;
            }
        }
    }
}
