//! The PC/SC backend: real readers (and the vpcd virtual reader) through pcsc-lite.
//!
//! pcsc-lite's client library, `libpcsclite.so.1` (Debian package libpcsclite1), is loaded at
//! run time by the first [`PcscContext::establish`] (the FFI lives in one small module, `sys`):
//! building needs neither pkg-config nor libpcsclite-dev, and a program using only the
//! simulator runs without the library. Without it, `establish` fails with
//! [`TransportError::PcscLibrary`]. Only pcsc-lite's ABI (Linux, the BSDs) is supported.
//!
//! ```no_run
//! use std::time::Duration;
//! use cps_transport::CardChannel;
//! use cps_transport::pcsc::{PcscContext, ShareMode};
//!
//! let ctx = PcscContext::establish()?;
//! for reader in ctx.list_readers()? {
//!     println!("{} card={} ({})", reader.name, reader.card_present, reader.interface);
//! }
//! let reader = ctx.wait_for_card(None, Duration::from_secs(10))?;
//! let mut channel = ctx.connect(&reader, ShareMode::Shared)?;
//! let response = channel.transmit(&[0x00, 0x84, 0x00, 0x00, 0x08])?;
//! # let _ = response;
//! # Ok::<(), cps_transport::TransportError>(())
//! ```
//!
//! Errors are mapped to [`TransportError`] variants that say what to do. One of them needs
//! care: when another application resets the card (`SCARD_W_RESET_CARD`), the channel
//! reconnects by itself and returns [`TransportError::CardReset`]. The channel is usable again
//! at once, but the card has lost its state: the caller must select the application and verify
//! the PIN again.

use std::ffi::CString;
use std::fmt;
use std::time::{Duration, Instant};

#[allow(unsafe_code)]
mod sys;

use sys::{Card, Context, Disposition, ReaderState};

pub use crate::PcscError;
use crate::{Atr, CardChannel, Interface, Reborrow, TransportError};

/// How often the reader list is refreshed while waiting for a card (readers can be plugged in
/// while we wait).
const WAIT_SLICE: Duration = Duration::from_millis(500);

/// After a failed exchange, how long to wait for pcscd to notice that the card is gone. pcscd
/// notices a removal on its next presence poll (vpcd: every 400 ms); real readers report it at
/// once.
const REMOVAL_GRACE: Duration = Duration::from_millis(1000);

/// Whether other applications may use the card while we are connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ShareMode {
    /// Other applications may connect too; use [`CardChannel::transaction`] to keep a
    /// sequence of commands together.
    #[default]
    Shared,
    /// No other application may connect while we are connected.
    Exclusive,
}

impl ShareMode {
    fn exclusive(self) -> bool {
        self == ShareMode::Exclusive
    }
}

/// A reader and what it holds, as listed by [`PcscContext::list_readers`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReaderInfo {
    /// The reader's PC/SC name (e.g. `Virtual PCD 00 00`).
    pub name: String,
    /// Whether a card is in the reader.
    pub card_present: bool,
    /// The card's ATR, when a card is present and pcscd could read it.
    pub atr: Option<Vec<u8>>,
    /// Contact or contactless, from the ATR; [`Interface::Unknown`] without a card.
    pub interface: Interface,
}

impl ReaderInfo {
    fn from_state(state: &ReaderState) -> Self {
        let card_present = state.present();
        let atr = Some(state.atr())
            .filter(|atr| card_present && !atr.is_empty())
            .map(<[u8]>::to_vec);
        let interface = atr
            .as_deref()
            .map_or(Interface::Unknown, |a| Atr::new(a).interface());
        ReaderInfo {
            name: state.name().to_string_lossy().into_owned(),
            card_present,
            atr,
            interface,
        }
    }
}

/// Splits a PC/SC multi-string, such as the reader list of `SCardListReaders`
/// (`"Reader A\0Reader B\0\0"`), into its strings. Stops at the first empty string or at the
/// end of `bytes`, whichever comes first; never reads past `bytes`.
///
/// ```
/// let names = cps_transport::pcsc::split_multi_string(b"Reader A\0Reader B\0\0");
/// assert_eq!(names, [c"Reader A".to_owned(), c"Reader B".to_owned()]);
/// ```
pub fn split_multi_string(bytes: &[u8]) -> Vec<CString> {
    bytes
        .split(|&b| b == 0)
        .take_while(|s| !s.is_empty())
        .filter_map(|s| CString::new(s).ok())
        .collect()
}

/// Maps a PC/SC error to a [`TransportError`] saying what to do.
///
/// `SCARD_W_RESET_CARD` maps to [`TransportError::CardReset`]; the callers that hold a card
/// reconnect before returning it.
fn map_error(operation: &'static str, reader: Option<&str>, e: PcscError) -> TransportError {
    use PcscError as E;
    let reader = || reader.unwrap_or("(unnamed)").to_owned();
    let pcsc_error = |hint: &'static str| TransportError::Pcsc {
        operation,
        error: e,
        hint,
    };
    match e {
        E::NoService => TransportError::ServiceUnavailable {
            detail: format!("{operation}: {e}"),
        },
        E::ServiceStopped => TransportError::ServiceStopped { operation },
        E::NoReadersAvailable => TransportError::NoReader,
        E::UnknownReader => TransportError::UnknownReader { reader: reader() },
        E::NoSmartcard => TransportError::NoCard { reader: reader() },
        E::RemovedCard => TransportError::CardRemoved,
        E::SharingViolation => TransportError::ReaderBusy { reader: reader() },
        E::UnresponsiveCard => TransportError::CardUnresponsive,
        E::ResetCard => TransportError::CardReset,
        E::ProtoMismatch => pcsc_error(
            ": the card's ATR offers no protocol the reader accepts (an ATR must start with \
             3B or 3F; contactless cards need a PC/SC part 3 ATR)",
        ),
        E::ReaderUnavailable => pcsc_error(": the reader was unplugged or its driver failed"),
        E::InvalidHandle => {
            pcsc_error(": the connection is no longer valid (pcscd restarted?): connect again")
        }
        E::UnpoweredCard => {
            pcsc_error(": the card was powered down by another application: connect again")
        }
        E::Timeout => pcsc_error(": pcscd did not answer in time"),
        E::NotTransacted | E::CommError => {
            pcsc_error(": the reader lost the card mid-exchange (card removed or bad contact?)")
        }
        _ => pcsc_error(""),
    }
}

/// Maps a failure to load the library or establish a context.
fn map_establish_error(e: sys::EstablishError) -> TransportError {
    match e {
        sys::EstablishError::Load(detail) => TransportError::PcscLibrary {
            library: sys::LIBRARY,
            detail,
        },
        sys::EstablishError::Pcsc(e) => map_error("SCardEstablishContext", None, e),
    }
}

/// Whether pcscd still answers: a fresh `SCardEstablishContext` fails with "no service" once
/// it has stopped (an existing context cannot tell).
fn service_alive() -> bool {
    !matches!(
        Context::establish(),
        Err(sys::EstablishError::Pcsc(
            PcscError::NoService | PcscError::ServiceStopped
        ))
    )
}

/// [`map_error`], but a communication failure caused by pcscd stopping is reported as
/// [`TransportError::ServiceStopped`] rather than as a reader or card problem.
fn map_error_probing(
    operation: &'static str,
    reader: Option<&str>,
    e: PcscError,
) -> TransportError {
    use PcscError as E;
    match e {
        E::CommError | E::NotTransacted | E::InvalidHandle | E::NoService | E::Timeout
            if !service_alive() =>
        {
            TransportError::ServiceStopped { operation }
        }
        e => map_error(operation, reader, e),
    }
}

/// How long a channel waits for the card's answer to one command before giving up with
/// [`TransportError::NoAnswer`]. A T=0 card asking for more time (procedure byte `60`) or a
/// T=1 card sending waiting-time extensions keeps the reader busy, not this timer's clock:
/// pcscd does not return until the card has answered, so these are wall-clock limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// A command to a contact card (the slowest ordinary command, an RSA-2048 signature on a
    /// CPS3, takes well under 2 s).
    pub contact: Duration,
    /// A command to a contactless card (a card held still answers in milliseconds).
    pub contactless: Duration,
    /// GENERATE ASYMMETRIC KEY PAIR (ISO 7816-4 INS `46`/`47`): on-card RSA key generation
    /// takes tens of seconds.
    pub key_generation: Duration,
    /// Beginning a transaction while another application holds one.
    pub transaction: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            contact: Duration::from_secs(20),
            contactless: Duration::from_secs(5),
            key_generation: Duration::from_secs(120),
            transaction: Duration::from_secs(30),
        }
    }
}

impl Timeouts {
    /// The same limit for every command and for beginning a transaction (key generation
    /// keeps at least its default).
    pub fn uniform(limit: Duration) -> Self {
        Timeouts {
            contact: limit,
            contactless: limit,
            key_generation: limit.max(Timeouts::default().key_generation),
            transaction: limit,
        }
    }

    /// The limit for one command on a card reached through `interface`: GENERATE ASYMMETRIC
    /// KEY PAIR (ISO 7816-4 INS `46`/`47`) gets [`Timeouts::key_generation`] unless a
    /// registered table claims the command for another protocol (DESFire, CTAP).
    pub fn for_command(
        &self,
        interface: Interface,
        apdu: &[u8],
        tables: &cps_apdu::table::CommandTables,
    ) -> Duration {
        let info = tables.classify(apdu);
        if info.protocol == cps_apdu::table::Protocol::Iso7816
            && matches!(apdu.get(1), Some(0x46 | 0x47))
        {
            return self.key_generation;
        }
        match interface {
            Interface::Contactless => self.contactless,
            _ => self.contact,
        }
    }
}

/// The timeouts new channels get (see [`set_default_timeouts`]).
static DEFAULT_TIMEOUTS: std::sync::Mutex<Option<Timeouts>> = std::sync::Mutex::new(None);

/// Sets the timeouts of the channels connected from now on in this process (a command-line
/// `--timeout` option); [`PcscChannel::set_timeouts`] changes one channel.
pub fn set_default_timeouts(timeouts: Timeouts) {
    if let Ok(mut t) = DEFAULT_TIMEOUTS.lock() {
        *t = Some(timeouts);
    }
}

fn default_timeouts() -> Timeouts {
    DEFAULT_TIMEOUTS
        .lock()
        .ok()
        .and_then(|t| *t)
        .unwrap_or_default()
}

/// A connection to the PC/SC service (`SCardEstablishContext`, user scope).
#[derive(Clone)]
pub struct PcscContext {
    ctx: Context,
}

impl fmt::Debug for PcscContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PcscContext").finish_non_exhaustive()
    }
}

impl PcscContext {
    /// Connects to the PC/SC service, loading the PC/SC library on first use.
    ///
    /// Fails with [`TransportError::PcscLibrary`] when `libpcsclite.so.1` cannot be loaded,
    /// and with [`TransportError::ServiceUnavailable`] when pcscd is not running.
    pub fn establish() -> Result<Self, TransportError> {
        Context::establish()
            .map(|ctx| PcscContext { ctx })
            .map_err(map_establish_error)
    }

    fn raw_reader_names(&self) -> Result<Vec<CString>, TransportError> {
        match self.ctx.list_readers() {
            Ok(names) => Ok(names),
            Err(PcscError::NoReadersAvailable) => Ok(Vec::new()),
            Err(e) => Err(map_error_probing("SCardListReaders", None, e)),
        }
    }

    /// The names of the connected readers (empty when there is none).
    pub fn reader_names(&self) -> Result<Vec<String>, TransportError> {
        Ok(self
            .raw_reader_names()?
            .iter()
            .map(|n| n.to_string_lossy().into_owned())
            .collect())
    }

    /// Current reader states (`SCardGetStatusChange` with a zero timeout). A reader that
    /// vanishes between listing and querying makes the listing start again (a few times).
    fn snapshot(&self, only: Option<&str>) -> Result<Vec<ReaderState>, TransportError> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            let names: Vec<CString> = self
                .raw_reader_names()?
                .into_iter()
                .filter(|n| only.is_none_or(|r| n.as_bytes() == r.as_bytes()))
                .collect();
            if names.is_empty() {
                return match only {
                    Some(r) => Err(TransportError::UnknownReader {
                        reader: r.to_owned(),
                    }),
                    None => Ok(Vec::new()),
                };
            }
            let mut states: Vec<ReaderState> =
                names.into_iter().map(ReaderState::unaware).collect();
            match self.ctx.get_status_change(Duration::ZERO, &mut states) {
                Ok(()) => return Ok(states),
                Err(PcscError::UnknownReader) if attempts < 3 => continue,
                Err(e) => return Err(map_error_probing("SCardGetStatusChange", only, e)),
            }
        }
    }

    /// The readers, whether each holds a card, and the card's ATR and interface.
    ///
    /// No reader at all is an empty list, not an error.
    pub fn list_readers(&self) -> Result<Vec<ReaderInfo>, TransportError> {
        Ok(self
            .snapshot(None)?
            .iter()
            .map(ReaderInfo::from_state)
            .collect())
    }

    /// Blocks until `states` change or `wait` elapses (a timeout is not an error here).
    fn wait_change(
        &self,
        states: &mut [ReaderState],
        wait: Duration,
    ) -> Result<(), TransportError> {
        for s in states.iter_mut() {
            s.sync_current_state();
        }
        match self.ctx.get_status_change(wait, states) {
            // A timeout or a vanished reader: the caller looks again.
            Ok(()) | Err(PcscError::Timeout) | Err(PcscError::UnknownReader) => Ok(()),
            Err(e) => Err(map_error_probing("SCardGetStatusChange", None, e)),
        }
    }

    /// Waits until a card is present, in `reader` or (with `None`) in any reader, and returns
    /// the name of the reader holding it.
    ///
    /// Returns at once when a card is already there. Fails with [`TransportError::Timeout`]
    /// after `timeout`, and with [`TransportError::UnknownReader`] when `reader` does not exist.
    pub fn wait_for_card(
        &self,
        reader: Option<&str>,
        timeout: Duration,
    ) -> Result<String, TransportError> {
        let deadline = Instant::now() + timeout;
        loop {
            if crate::cancel_requested() {
                return Err(TransportError::Cancelled {
                    next: "a card was found",
                });
            }
            let mut states = self.snapshot(reader)?;
            if let Some(found) = states.iter().find(|s| s.present()) {
                return Ok(found.name().to_string_lossy().into_owned());
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(TransportError::Timeout {
                    what: "a card to be inserted",
                    seconds: timeout.as_secs_f64(),
                });
            }
            let slice = deadline.saturating_duration_since(now).min(WAIT_SLICE);
            if states.is_empty() {
                // No reader yet: look again shortly.
                std::thread::sleep(slice);
            } else {
                self.wait_change(&mut states, slice)?;
            }
        }
    }

    /// Waits until `reader` holds no card (or the reader itself is gone).
    ///
    /// Returns at once when it is already empty; fails with [`TransportError::Timeout`] after
    /// `timeout`.
    pub fn wait_for_removal(&self, reader: &str, timeout: Duration) -> Result<(), TransportError> {
        let deadline = Instant::now() + timeout;
        loop {
            if crate::cancel_requested() {
                return Err(TransportError::Cancelled {
                    next: "the card was removed",
                });
            }
            let mut states = match self.snapshot(Some(reader)) {
                Ok(states) => states,
                Err(TransportError::UnknownReader { .. }) => return Ok(()),
                Err(e) => return Err(e),
            };
            if states.iter().all(|s| !s.present()) {
                return Ok(());
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(TransportError::Timeout {
                    what: "the card to be removed",
                    seconds: timeout.as_secs_f64(),
                });
            }
            let slice = deadline.saturating_duration_since(now).min(WAIT_SLICE);
            self.wait_change(&mut states, slice)?;
        }
    }

    /// Connects to the card in `reader` (T=0 or T=1, as its ATR allows).
    pub fn connect(&self, reader: &str, share: ShareMode) -> Result<PcscChannel, TransportError> {
        let name = CString::new(reader).map_err(|_| TransportError::UnknownReader {
            reader: reader.to_owned(),
        })?;
        let mut card = self
            .ctx
            .connect(&name, share.exclusive())
            .map_err(|e| map_error_probing("SCardConnect", Some(reader), e))?;
        let mut link = Link {
            ctx: self.ctx.clone(),
            reader_c: name,
            reader: reader.to_owned(),
            atr: Vec::new(),
            protocol: None,
            share,
            recv: vec![0; sys::MAX_BUFFER_SIZE_EXTENDED],
        };
        link.refresh_status(&mut card)?;
        Ok(PcscChannel::spawn(card, link))
    }
}

/// Per-connection state shared by the channel and its transaction guard.
struct Link {
    ctx: Context,
    reader_c: CString,
    reader: String,
    atr: Vec<u8>,
    /// `Some(0)` for T=0, `Some(1)` for T=1.
    protocol: Option<u8>,
    share: ShareMode,
    /// Receive buffer, sized for the largest extended response (65536 data bytes + SW).
    recv: Vec<u8>,
}

impl Link {
    /// Reads the ATR and protocol with `SCardStatus` (Debian's vpcd cannot answer
    /// `SCardGetAttrib(SCARD_ATTR_ATR_STRING)`).
    fn refresh_status(&mut self, card: &mut Card) -> Result<(), TransportError> {
        self.atr = card
            .status()
            .map_err(|e| map_error("SCardStatus", Some(&self.reader), e))?;
        self.protocol = card.protocol();
        Ok(())
    }

    fn reconnect(&mut self, card: &mut Card, init: Disposition) -> Result<(), TransportError> {
        card.reconnect(self.share.exclusive(), init)
            .map_err(|e| map_error("SCardReconnect", Some(&self.reader), e))?;
        self.refresh_status(card)
    }

    /// Whether the card has left the reader, waiting up to `grace` for pcscd to notice.
    fn card_left(&self, grace: Duration) -> bool {
        let deadline = Instant::now() + grace;
        let mut states = [ReaderState::unaware(self.reader_c.clone())];
        let mut wait = Duration::ZERO;
        loop {
            match self.ctx.get_status_change(wait, &mut states) {
                Ok(()) => {}
                Err(PcscError::UnknownReader) => return true,
                Err(_) => return false,
            }
            if states.iter().any(|s| !s.present()) {
                return true;
            }
            wait = deadline.saturating_duration_since(Instant::now());
            if wait.is_zero() {
                return false;
            }
            for s in &mut states {
                s.sync_current_state();
            }
        }
    }

    fn transmit(&mut self, card: &mut Card, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let result = card
            .transmit(command, &mut self.recv)
            .map(|n| self.recv.get(..n).unwrap_or_default().to_vec());
        match result {
            // A native DESFire answer may be its status byte alone (notes §8).
            Ok(response) if !response.is_empty() => Ok(response),
            // An empty answer is what pcscd gives when the card left during the command.
            Ok(response) if self.card_left(REMOVAL_GRACE) => {
                drop(response);
                Err(TransportError::CardRemoved)
            }
            Ok(_) => Err(TransportError::Protocol {
                attempted: "reading the card's response",
                detail: "no byte at all".to_string(),
            }),
            // Another application reset (or powered down) the card: reconnect without
            // resetting it again, and tell the caller that the card state is gone.
            // SCARD_E_PROTO_MISMATCH belongs here too: pcsc-lite's SCardTransmit (winscard.c)
            // refuses the command, before sending anything, when the protocol of our
            // connection differs from the card's current one, which a reset by another
            // process leaves undefined until the card is negotiated again (seen by the fault
            // suite with three processes on one card).
            Err(PcscError::ResetCard | PcscError::UnpoweredCard | PcscError::ProtoMismatch) => {
                self.reconnect(card, Disposition::Leave)?;
                Err(TransportError::CardReset)
            }
            Err(PcscError::InsufficientBuffer) => Err(TransportError::Protocol {
                attempted: "reading the card's response",
                detail: format!("the response exceeds {} bytes", self.recv.len()),
            }),
            Err(e @ (PcscError::NotTransacted | PcscError::CommError)) => {
                // The reader failed mid-exchange. If that is because pcscd stopped or the
                // card was just pulled out, say so rather than reporting a communication error.
                if !service_alive() {
                    Err(TransportError::ServiceStopped {
                        operation: "SCardTransmit",
                    })
                } else if self.card_left(REMOVAL_GRACE) {
                    Err(TransportError::CardRemoved)
                } else {
                    Err(map_error("SCardTransmit", Some(&self.reader), e))
                }
            }
            Err(e) => Err(map_error_probing("SCardTransmit", Some(&self.reader), e)),
        }
    }
}

/// A request to the thread that owns a PC/SC card handle.
enum Req {
    Transmit(Vec<u8>),
    Reconnect(Disposition),
    Begin,
    End,
    Disconnect(Disposition),
}

/// The card's state after a request, copied back to the host side.
struct Status {
    atr: Vec<u8>,
    protocol: Option<u8>,
}

type Reply = (Result<Vec<u8>, TransportError>, Status);

struct Job {
    req: Req,
    reply: std::sync::mpsc::Sender<Reply>,
}

impl Job {
    fn answer(self, link: &Link, result: Result<Vec<u8>, TransportError>) {
        answer(&self.reply, link, result);
    }
}

fn answer(
    reply: &std::sync::mpsc::Sender<Reply>,
    link: &Link,
    result: Result<Vec<u8>, TransportError>,
) {
    {
        // The host may have given up waiting (timeout): nobody to tell.
        let _ = reply.send((
            result,
            Status {
                atr: link.atr.clone(),
                protocol: link.protocol,
            },
        ));
    }
}

impl Link {
    fn handle(&mut self, card: &mut Card, req: Req) -> Result<Vec<u8>, TransportError> {
        match req {
            Req::Transmit(command) => {
                // The command may carry a PIN: wiped once sent.
                let command = zeroize::Zeroizing::new(command);
                self.transmit(card, &command)
            }
            Req::Reconnect(init) => self.reconnect(card, init).map(|()| Vec::new()),
            // Nested transaction: the outer one already keeps other applications out.
            Req::Begin | Req::End => Ok(Vec::new()),
            Req::Disconnect(_) => Ok(Vec::new()),
        }
    }
}

/// The thread owning the card handle: every PC/SC call on the card happens here, so that the
/// host side can stop waiting for a card (or a pcscd) that never answers.
fn serve(mut card: Card, mut link: Link, jobs: std::sync::mpsc::Receiver<Job>) {
    while let Ok(Job { req, reply }) = jobs.recv() {
        match req {
            Req::Begin => {
                let ended_by = match card.begin_transaction() {
                    Ok(()) => {
                        answer(&reply, &link, Ok(Vec::new()));
                        let ended_by = serve_transaction(&mut card, &mut link, &jobs);
                        // SCardEndTransaction with SCARD_LEAVE_CARD; a failure here (card
                        // removed, reset) shows on the next request.
                        let _ = card.end_transaction();
                        ended_by
                    }
                    Err(PcscError::ResetCard) => {
                        let r = link.reconnect(&mut card, Disposition::Leave);
                        answer(&reply, &link, r.and(Err(TransportError::CardReset)));
                        continue;
                    }
                    Err(e) => {
                        let e = map_error_probing("SCardBeginTransaction", Some(&link.reader), e);
                        answer(&reply, &link, Err(e));
                        continue;
                    }
                };
                match ended_by {
                    Some(Job {
                        req: Req::Disconnect(d),
                        reply,
                    }) => {
                        return disconnect(card, &link, d, reply);
                    }
                    Some(end) => end.answer(&link, Ok(Vec::new())),
                    // The host side is gone: the card handle is dropped (reset) below.
                    None => break,
                }
            }
            Req::Disconnect(d) => return disconnect(card, &link, d, reply),
            req => {
                let r = link.handle(&mut card, req);
                answer(&reply, &link, r);
            }
        }
    }
}

/// Serves requests inside a transaction; returns the request that ends it (`End` or
/// `Disconnect`), or `None` when the host side is gone.
fn serve_transaction(
    card: &mut Card,
    link: &mut Link,
    jobs: &std::sync::mpsc::Receiver<Job>,
) -> Option<Job> {
    while let Ok(Job { req, reply }) = jobs.recv() {
        match req {
            Req::End | Req::Disconnect(_) => return Some(Job { req, reply }),
            req => {
                let r = link.handle(card, req);
                answer(&reply, link, r);
            }
        }
    }
    None
}

fn disconnect(card: Card, link: &Link, d: Disposition, reply: std::sync::mpsc::Sender<Reply>) {
    let r = card
        .disconnect(d)
        .map(|()| Vec::new())
        .map_err(|e| map_error("SCardDisconnect", Some(&link.reader), e));
    answer(&reply, link, r);
}

/// How long dropping a channel waits for the card to be reset and released.
const DROP_WAIT: Duration = Duration::from_secs(5);

/// A connection to a card in a PC/SC reader.
///
/// Every exchange is bounded in time ([`Timeouts`]; [`TransportError::NoAnswer`] when the
/// card, the reader or pcscd does not answer). The PC/SC calls run on a thread of their own,
/// so that a frozen card cannot hold the caller: after a timeout the channel is unusable
/// (every later call fails at once) and the handle is released when pcscd returns.
///
/// Dropping it leaves the card as it was found when only reads went through it (SELECT, READ
/// BINARY, GET DATA, a VERIFY without data asking the tries left, DESFire reads…: the
/// commands the registered tables ([`CardChannel::learn_commands`], [`cps_apdu::table`]) mark
/// [`Effect::Read`](cps_apdu::table::Effect::Read); any command they do not list counts as a
/// change), so that
/// another application's verified PIN survives `cps info` or `cps pin status`. Once a command
/// carrying a secret (a PIN, PUK or key) or changing the card's state (MSE, PSO, an
/// authentication, a write) went through, dropping it resets the card: the security state this
/// connection opened (a verified PIN, a security environment, a DESFire application selected
/// and authenticated) does not outlive it. [`PcscChannel::disconnect`] chooses explicitly.
pub struct PcscChannel {
    jobs: Option<std::sync::mpsc::Sender<Job>>,
    reader: String,
    atr: Vec<u8>,
    protocol: Option<u8>,
    share: ShareMode,
    timeouts: Timeouts,
    /// Set when a request timed out: the worker may still be blocked in pcscd.
    stuck: bool,
    /// A command carrying a secret or changing the card's state went through this connection:
    /// reset when dropped.
    state_changed: bool,
    /// The command tables of the protocols spoken here (ISO 7816-4 basics until a client
    /// registers its own).
    tables: cps_apdu::table::CommandTables,
}

impl fmt::Debug for PcscChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PcscChannel")
            .field("reader", &self.reader)
            .field("atr", &crate::spaced_hex(&self.atr))
            .field("protocol", &self.protocol)
            .field("share", &self.share)
            .field("timeouts", &self.timeouts)
            .finish()
    }
}

impl PcscChannel {
    fn spawn(card: Card, link: Link) -> Self {
        let (jobs, rx) = std::sync::mpsc::channel();
        let channel = PcscChannel {
            jobs: Some(jobs),
            reader: link.reader.clone(),
            atr: link.atr.clone(),
            protocol: link.protocol,
            share: link.share,
            timeouts: default_timeouts(),
            stuck: false,
            state_changed: false,
            tables: cps_apdu::table::CommandTables::default(),
        };
        let spawned = std::thread::Builder::new()
            .name("cps-pcsc".into())
            .spawn(move || serve(card, link, rx));
        let mut channel = channel;
        if spawned.is_err() {
            // No thread: the card handle went down with the closure; every call fails.
            channel.jobs = None;
        }
        channel
    }

    /// The timeouts in use.
    pub fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    /// Changes the timeouts of this channel.
    pub fn set_timeouts(&mut self, timeouts: Timeouts) {
        self.timeouts = timeouts;
    }

    fn call(&mut self, req: Req, wait: Duration) -> Result<Vec<u8>, TransportError> {
        let Some(jobs) = &self.jobs else {
            return Err(if self.stuck {
                TransportError::CardUnresponsive
            } else {
                TransportError::Protocol {
                    attempted: "using the PC/SC connection",
                    detail: "it is closed".into(),
                }
            });
        };
        let (reply, answer) = std::sync::mpsc::channel();
        if jobs.send(Job { req, reply }).is_err() {
            self.jobs = None;
            return Err(TransportError::Protocol {
                attempted: "using the PC/SC connection",
                detail: "its thread has stopped".into(),
            });
        }
        match answer.recv_timeout(wait) {
            Ok((result, status)) => {
                self.atr = status.atr;
                self.protocol = status.protocol;
                result
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                self.jobs = None;
                self.stuck = true;
                Err(TransportError::NoAnswer {
                    command: "command",
                    seconds: wait.as_secs_f64(),
                })
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                self.jobs = None;
                Err(TransportError::Protocol {
                    attempted: "using the PC/SC connection",
                    detail: "its thread has stopped".into(),
                })
            }
        }
    }

    fn exchange(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        // A VERIFY without data only asks for the tries left: no secret, no security state.
        let effect = self.tables.classify(command).effect;
        if effect == cps_apdu::table::Effect::Changes
            || (effect == cps_apdu::table::Effect::Secret && command.len() > 5)
        {
            self.state_changed = true;
        }
        let wait = self
            .timeouts
            .for_command(self.interface(), command, &self.tables);
        self.call(Req::Transmit(command.to_vec()), wait)
    }

    fn begin(&mut self) -> Result<(), TransportError> {
        let wait = self.timeouts.transaction;
        match self.call(Req::Begin, wait) {
            Ok(_) => Ok(()),
            // Another application kept its transaction for the whole wait.
            Err(TransportError::NoAnswer { .. }) => Err(TransportError::ReaderBusy {
                reader: self.reader.clone(),
            }),
            Err(e) => Err(e),
        }
    }

    /// The transmission protocol in use: `Some(0)` for T=0, `Some(1)` for T=1.
    pub fn protocol(&self) -> Option<u8> {
        self.protocol
    }

    /// Whether the connection is shared or exclusive.
    pub fn share_mode(&self) -> ShareMode {
        self.share
    }

    /// Disconnects, resetting the card (`reset`, which clears verified PINs and sessions) or
    /// leaving it as it is for the next application.
    pub fn disconnect(mut self, reset: bool) -> Result<(), TransportError> {
        let disposition = if reset {
            Disposition::Reset
        } else {
            Disposition::Leave
        };
        let r = self.call(Req::Disconnect(disposition), DROP_WAIT);
        self.jobs = None;
        r.map(|_| ())
    }
}

impl Drop for PcscChannel {
    /// Releases the card, waiting (boundedly) for pcscd to do it: reset when a secret or a
    /// state-changing command went through this connection (no PIN it verified outlives it,
    /// even when the process exits right after), left as it is otherwise (see [`PcscChannel`]).
    fn drop(&mut self) {
        if self.jobs.is_some() {
            let disposition = if self.state_changed {
                Disposition::Reset
            } else {
                Disposition::Leave
            };
            let _ = self.call(Req::Disconnect(disposition), DROP_WAIT);
        }
    }
}

impl CardChannel for PcscChannel {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        self.exchange(command)
    }

    fn atr(&self) -> &[u8] {
        &self.atr
    }

    /// Warm reset: `SCardReconnect` with `SCARD_RESET_CARD`.
    fn reset(&mut self) -> Result<(), TransportError> {
        let wait = self.timeouts.contact;
        self.call(Req::Reconnect(Disposition::Reset), wait)
            .map(|_| ())
    }

    /// `SCardBeginTransaction`; the guard ends it with `SCARD_LEAVE_CARD` when dropped.
    fn transaction(&mut self) -> Result<Box<dyn CardChannel + '_>, TransportError> {
        self.begin()?;
        Ok(Box::new(PcscTransaction { channel: self }))
    }

    fn reader_name(&self) -> Option<&str> {
        Some(&self.reader)
    }

    fn learn_commands(&mut self, tables: &cps_apdu::table::CommandTables) {
        self.tables.extend(tables);
    }
}

/// A PC/SC transaction: a channel on which no other application can interleave commands.
/// Dropping it ends the transaction (`SCardEndTransaction`, `SCARD_LEAVE_CARD`).
struct PcscTransaction<'a> {
    channel: &'a mut PcscChannel,
}

impl Drop for PcscTransaction<'_> {
    fn drop(&mut self) {
        let wait = self.channel.timeouts.contact;
        let _ = self.channel.call(Req::End, wait);
    }
}

impl CardChannel for PcscTransaction<'_> {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        self.channel.exchange(command)
    }

    fn atr(&self) -> &[u8] {
        &self.channel.atr
    }

    fn reset(&mut self) -> Result<(), TransportError> {
        self.channel.reset()
    }

    /// Already in a transaction: the nested guard only reborrows this one.
    fn transaction(&mut self) -> Result<Box<dyn CardChannel + '_>, TransportError> {
        Ok(Box::new(Reborrow(self)))
    }

    fn reader_name(&self) -> Option<&str> {
        Some(&self.channel.reader)
    }

    fn learn_commands(&mut self, tables: &cps_apdu::table::CommandTables) {
        self.channel.learn_commands(tables);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_map_to_actionable_variants() {
        use PcscError as E;
        let r = Some("Reader 0");
        assert!(matches!(
            map_error("SCardEstablishContext", None, E::NoService),
            TransportError::ServiceUnavailable { .. }
        ));
        assert!(matches!(
            map_error("x", r, E::ServiceStopped),
            TransportError::ServiceStopped { operation: "x" }
        ));
        assert!(
            TransportError::ServiceStopped {
                operation: "SCardTransmit"
            }
            .to_string()
            .contains("PC/SC service stopped")
        );
        assert!(matches!(
            map_error("x", r, E::RemovedCard),
            TransportError::CardRemoved
        ));
        assert!(matches!(
            map_error("x", r, E::NoSmartcard),
            TransportError::NoCard { .. }
        ));
        assert!(matches!(
            map_error("x", r, E::SharingViolation),
            TransportError::ReaderBusy { .. }
        ));
        assert!(matches!(
            map_error("x", r, E::UnresponsiveCard),
            TransportError::CardUnresponsive
        ));
        assert!(matches!(
            map_error("x", r, E::ResetCard),
            TransportError::CardReset
        ));
        match map_error("SCardConnect", r, E::UnknownReader) {
            TransportError::UnknownReader { reader } => assert_eq!(reader, "Reader 0"),
            other => panic!("{other}"),
        }
        let msg = map_error("SCardConnect", r, E::ProtoMismatch).to_string();
        assert!(
            msg.contains("SCardConnect") && msg.contains("0x8010000F") && msg.contains("ATR"),
            "{msg}"
        );
    }

    #[test]
    fn share_mode_round_trip() {
        assert_eq!(ShareMode::default(), ShareMode::Shared);
        assert!(ShareMode::Exclusive.exclusive());
        assert!(!ShareMode::Shared.exclusive());
    }

    #[test]
    fn every_pcsclite_code_is_typed_and_unknown_codes_are_errors() {
        // Every code pcsclite.h defines maps to a named variant and back.
        for code in (0x8010_0001..=0x8010_0031).chain(0x8010_0065..=0x8010_006F) {
            let e = PcscError::from_code(code);
            if code == 0x8010_0022 {
                // Commented out in pcsclite.h.
                assert_eq!(e, PcscError::Unknown(code));
                continue;
            }
            assert!(!matches!(e, PcscError::Unknown(_)), "{code:#X}");
            assert_eq!(e.code(), code);
            assert!(e.to_string().starts_with("SCARD_"), "{e}");
            // Mapping to a transport error never panics.
            let _ = map_error("SCardTransmit", Some("R"), e);
        }
        for code in [0, 1, 0x8010_0032, 0x8010_0070, u32::MAX] {
            let e = PcscError::from_code(code);
            assert_eq!(e, PcscError::Unknown(code));
            assert_eq!(e.code(), code);
            let t = map_error("SCardConnect", None, e);
            assert!(matches!(t, TransportError::Pcsc { .. }), "{t}");
        }
        assert_eq!(
            PcscError::from_code(0x8010_0069).to_string(),
            "SCARD_W_REMOVED_CARD (0x80100069)"
        );
    }

    #[test]
    fn missing_library_is_a_typed_error() {
        let e = map_establish_error(sys::EstablishError::Load("not found".into()));
        match &e {
            TransportError::PcscLibrary { library, detail } => {
                assert_eq!(*library, "libpcsclite.so.1");
                assert_eq!(detail, "not found");
            }
            other => panic!("{other}"),
        }
        assert!(e.to_string().contains("libpcsclite.so.1"), "{e}");
    }
}

/// For end-to-end tests through the real PC/SC stack (this workspace's and editors' own):
/// a test that needs pcscd must never pass silently without it in CI.
pub mod testing {
    use super::PcscContext;

    /// Whether `CI=true` is set.
    pub fn is_ci() -> bool {
        std::env::var("CI").is_ok_and(|v| v == "true")
    }

    /// A test cannot run for `reason`: under `CI=true` this fails (panics); elsewhere it
    /// prints `SKIPPED: reason` on stderr and the caller returns.
    pub fn skip_or_fail(reason: &str) {
        assert!(!is_ci(), "CI=true but {reason}");
        eprintln!("SKIPPED: {reason}; run scripts/test.sh (pcscd, vsmartcard-vpcd, OpenSC)");
    }

    /// A PC/SC context whose reader list answers, or `None` after [`skip_or_fail`] when pcscd
    /// is not reachable.
    pub fn context_or_skip() -> Option<PcscContext> {
        match PcscContext::establish().and_then(|c| c.list_readers().map(|_| c)) {
            Ok(c) => Some(c),
            Err(e) => {
                skip_or_fail(&format!("pcscd is unreachable: {e}"));
                None
            }
        }
    }
}
