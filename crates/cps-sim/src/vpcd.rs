//! The card side of vsmartcard's `vpcd` reader driver: puts a [`VirtualCard`] into a PC/SC
//! reader so that every PC/SC application (OpenSC, browsers, `pcsc_scan`, our own
//! PC/SC backend, module `pcsc`) sees it as a real card.
//!
//! pcscd loads the `vpcd` driver, which listens on TCP (port [`DEFAULT_PORT`] for the reader
//! `Virtual PCD 00 00`, [`SECOND_PORT`] for `Virtual PCD 00 01`). The simulated card is the TCP
//! **client**: connecting inserts the card, closing the socket removes it.
//!
//! Wire protocol (both directions): a 2-byte big-endian length, then that many bytes. From
//! vpcd, the 1-byte bodies `00` power off, `01` power on, `02` reset (no reply to these three)
//! and `04` get ATR (reply: the framed ATR) are control messages. Any other body is a command
//! as the application passed it to `SCardTransmit` — a 1-byte one included, such as a native
//! DESFire `60` (GetVersion), which pcsc-lite ≥ 1.6.0 and vpcd pass on unchanged — and
//! **always** gets a framed reply: the card's answer, or `6F00` when the card has none. vpcd
//! cannot tell a 1-byte command `00`, `01`, `02` or `04` from its control messages (no native
//! DESFire command has those codes). pcscd polls with get-ATR about every 400 ms to see
//! whether the card is still there, so the card must always answer.
//!
//! This module only ever connects to `127.0.0.1`: vpcd accepts any client that reaches its port,
//! and a card that could be pointed at another host would be a way to feed a remote machine's
//! applications.
//!
//! Latency: Debian's vpcd writes the length and the body of each frame with two `send()` calls.
//! With Nagle's algorithm on one side and delayed ACKs on the other, every APDU then waits for
//! the ~40 ms delayed-ACK timer. The card's socket therefore sets `TCP_NODELAY` and, on Linux,
//! re-arms `TCP_QUICKACK` before every read (the kernel clears it by itself), which brings a
//! round trip through pcscd below a millisecond.
//!
//! ```no_run
//! use cps_sim::vpcd::{self, VpcdConfig};
//! # use cps_transport::VirtualCard;
//! # struct MyCard;
//! # impl VirtualCard for MyCard {
//! #     fn atr(&self) -> Vec<u8> { vec![0x3B, 0x00] }
//! #     fn power_on(&mut self) {}
//! #     fn process(&mut self, _apdu: &[u8]) -> Vec<u8> { vec![0x6D, 0x00] }
//! # }
//! // Insert the card into "Virtual PCD 00 00" until the handle is dropped.
//! let handle = vpcd::spawn(MyCard, VpcdConfig::default())?;
//! // ... PC/SC applications use the card ...
//! let stats = handle.remove()?; // the card is pulled out
//! println!("{} APDUs served", stats.apdus);
//! # Ok::<(), cps_transport::TransportError>(())
//! ```

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use cps_transport::{TransportError, VirtualCard};

/// vpcd's port for the first virtual reader, `Virtual PCD 00 00`.
pub const DEFAULT_PORT: u16 = 35963;

/// vpcd's port for the second virtual reader, `Virtual PCD 00 01`.
pub const SECOND_PORT: u16 = 35964;

/// The PC/SC reader name that pcscd gives to the vpcd slot on `port`, for the two ports of
/// Debian's default `/etc/reader.conf.d/vpcd`.
pub fn reader_name_for_port(port: u16) -> Option<&'static str> {
    match port {
        DEFAULT_PORT => Some("Virtual PCD 00 00"),
        SECOND_PORT => Some("Virtual PCD 00 01"),
        _ => None,
    }
}

/// Control bytes sent by vpcd in 1-byte frames.
const CTRL_POWER_OFF: u8 = 0x00;
const CTRL_POWER_ON: u8 = 0x01;
const CTRL_RESET: u8 = 0x02;
const CTRL_GET_ATR: u8 = 0x04;

/// Status word sent when the card's own answer cannot be framed (`6F00`, "no precise
/// diagnosis"): the host gets an error instead of a hung exchange.
const SW_NO_PRECISE_DIAGNOSIS: [u8; 2] = [0x6F, 0x00];

/// How the simulated card connects to vpcd.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VpcdConfig {
    /// vpcd's TCP port on `127.0.0.1` ([`DEFAULT_PORT`] = reader `Virtual PCD 00 00`).
    pub port: u16,
    /// Timeout of one connection attempt.
    pub connect_timeout: Duration,
    /// How long to keep retrying while the connection is refused (pcscd not started yet).
    /// `Duration::ZERO` tries once.
    pub retry_for: Duration,
    /// Pause between two connection attempts.
    pub retry_interval: Duration,
    /// How often the read loop wakes up to look at the stop flag. The card is removed at most
    /// this long after the flag is set.
    pub poll_interval: Duration,
    /// Timeout for writing one reply to vpcd.
    pub write_timeout: Duration,
    /// Re-arm `TCP_QUICKACK` before every read (Linux and Android; ignored elsewhere). Only
    /// worth turning off to measure what it saves.
    pub quickack: bool,
    /// Fault injection for tests: what happens at one APDU of the session.
    pub fault: Option<Fault>,
}

/// A fault injected by [`serve`] at APDU number `n` (1-based, counting every command APDU of
/// the link), to test how hosts cope with a card that leaves or freezes mid-command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The card executes APDU `n` (a PIN try is spent, a write is done), then leaves the
    /// reader before its answer is sent: the link is closed, [`ServeEnd::Pulled`].
    PullAt(u64),
    /// The card stops answering at APDU `n` (not executed) and stays mute in the reader
    /// until the stop flag is set.
    FreezeAt(u64),
}

impl Default for VpcdConfig {
    fn default() -> Self {
        VpcdConfig {
            port: DEFAULT_PORT,
            connect_timeout: Duration::from_secs(1),
            retry_for: Duration::from_secs(10),
            retry_interval: Duration::from_millis(200),
            poll_interval: Duration::from_millis(100),
            write_timeout: Duration::from_secs(5),
            quickack: true,
            fault: None,
        }
    }
}

impl VpcdConfig {
    /// The default configuration on another port.
    pub fn with_port(port: u16) -> Self {
        VpcdConfig {
            port,
            ..VpcdConfig::default()
        }
    }

    fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }
}

/// Why [`serve`] returned normally.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ServeEnd {
    /// The stop flag was set: the card was removed on our side.
    #[default]
    Stopped,
    /// vpcd closed the connection (pcscd stopped or restarted).
    HostClosed,
    /// [`Fault::PullAt`] fired: the card left the reader mid-command.
    Pulled,
}

/// What happened on a vpcd link.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServeStats {
    /// Command APDUs answered.
    pub apdus: u64,
    /// Power-on requests (cold resets).
    pub power_ons: u64,
    /// Power-off requests.
    pub power_offs: u64,
    /// Warm resets.
    pub resets: u64,
    /// Get-ATR requests (mostly pcscd's presence polling).
    pub atr_requests: u64,
    /// APDUs that arrived while the card was powered off; the card was powered on first.
    pub implicit_power_ons: u64,
    /// Commands whose answer was replaced by `6F00`: the card gave none, or one longer than a
    /// vpcd frame holds. No frame is ever left unanswered.
    pub ignored_frames: u64,
    /// Why the last answer was replaced, if one was.
    pub last_ignored: Option<&'static str>,
    /// Whether the link ever connected.
    pub connected: bool,
    /// Why serving ended.
    pub end: ServeEnd,
}

impl ServeStats {
    fn ignore(&mut self, reason: &'static str) {
        self.ignored_frames += 1;
        self.last_ignored = Some(reason);
    }
}

/// Incremental decoder of vpcd frames. Bytes are appended as they arrive; complete frames are
/// taken out in order. A frame split across reads (or across read timeouts) is kept until
/// its last byte is there.
#[derive(Debug, Default)]
struct FrameReader {
    buf: Vec<u8>,
}

impl FrameReader {
    /// Takes the next complete frame body out of the buffer.
    fn next_frame(&mut self) -> Option<Vec<u8>> {
        let len = match self.buf.as_slice() {
            [hi, lo, ..] => usize::from(u16::from_be_bytes([*hi, *lo])),
            _ => return None,
        };
        let body = self.buf.get(2..2 + len)?.to_vec();
        self.buf.drain(..2 + len);
        Some(body)
    }

    /// Bytes received that do not make a complete frame yet.
    fn pending(&self) -> usize {
        self.buf.len()
    }

    /// One `read` from `source`, appended to the buffer. `Ok(0)` is end of stream.
    fn fill_from(&mut self, source: &mut impl Read) -> io::Result<usize> {
        let mut chunk = [0u8; 16 * 1024];
        let n = source.read(&mut chunk)?;
        self.buf
            .extend_from_slice(chunk.get(..n).unwrap_or_default());
        Ok(n)
    }
}

/// Frames `body` (length prefix + body) into one buffer, so it leaves in one `send()`.
fn frame(body: &[u8]) -> Option<Vec<u8>> {
    let len = u16::try_from(body.len()).ok()?;
    let mut out = Vec::with_capacity(body.len() + 2);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(body);
    Some(out)
}

/// What a frame from vpcd asks for.
#[derive(Debug, PartialEq, Eq)]
enum Request<'a> {
    PowerOff,
    PowerOn,
    Reset,
    GetAtr,
    Apdu(&'a [u8]),
}

fn classify(body: &[u8]) -> Request<'_> {
    match body {
        [CTRL_POWER_OFF] => Request::PowerOff,
        [CTRL_POWER_ON] => Request::PowerOn,
        [CTRL_RESET] => Request::Reset,
        [CTRL_GET_ATR] => Request::GetAtr,
        // Every other body is a command the host waits an answer for: a 1-byte native DESFire
        // frame (`60` GetVersion, `6A`, `AF`...) as much as a 4-byte-or-longer ISO 7816-4
        // APDU, and even an empty one. The card copes with whatever length arrives.
        apdu => Request::Apdu(apdu),
    }
}

/// Re-arms `TCP_QUICKACK`: the kernel leaves quick-ACK mode on its own, so it is set again
/// before every read, so that vpcd's length segment is acknowledged at once and its body
/// segment is not held back by Nagle's algorithm.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn arm_quickack(stream: &TcpStream) {
    // Best effort: a failure only costs latency.
    let _ = socket2::SockRef::from(stream).set_tcp_quickack(true);
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn arm_quickack(_stream: &TcpStream) {}

/// Connects to vpcd, retrying while refused. `Ok(None)`: stopped while waiting.
fn connect(cfg: &VpcdConfig, stop: &AtomicBool) -> Result<Option<TcpStream>, TransportError> {
    let addr = cfg.addr();
    let deadline = Instant::now() + cfg.retry_for;
    loop {
        if stop.load(Ordering::Acquire) {
            return Ok(None);
        }
        match TcpStream::connect_timeout(&addr, cfg.connect_timeout) {
            Ok(stream) => return Ok(Some(stream)),
            Err(e) if Instant::now() >= deadline => {
                return Err(TransportError::io(
                    format!(
                        "connecting the simulated card to vpcd at {addr} (is pcscd running, \
                         with vsmartcard-vpcd installed? e.g. `apt-get install pcscd \
                         vsmartcard-vpcd`, then `pcscd --foreground`)"
                    ),
                    e,
                ));
            }
            Err(_) => std::thread::sleep(cfg.retry_interval),
        }
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

fn is_disconnect(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof
    )
}

/// One link session: the connected socket, the card and the counters.
struct Session<'a, C: VirtualCard + ?Sized> {
    card: &'a mut C,
    stream: TcpStream,
    powered: bool,
    stats: ServeStats,
    fault: Option<Fault>,
    stop: &'a AtomicBool,
    poll: Duration,
}

/// What to do after a frame.
enum Flow {
    Continue,
    HostClosed,
    Pulled,
    Stopped,
}

impl<C: VirtualCard + ?Sized> Session<'_, C> {
    fn reply(&mut self, body: &[u8]) -> Result<Flow, TransportError> {
        let framed = match frame(body) {
            Some(f) => f,
            None => {
                self.stats
                    .ignore("card answer longer than 65535 bytes: sent 6F00 instead");
                frame(&SW_NO_PRECISE_DIAGNOSIS).unwrap_or_default()
            }
        };
        match self.stream.write_all(&framed) {
            Ok(()) => Ok(Flow::Continue),
            Err(e) if is_disconnect(&e) => Ok(Flow::HostClosed),
            Err(e) => Err(TransportError::io("sending a reply to vpcd", e)),
        }
    }

    fn handle(&mut self, body: &[u8]) -> Result<Flow, TransportError> {
        match classify(body) {
            Request::PowerOff => {
                self.stats.power_offs += 1;
                self.powered = false;
                self.card.power_off();
                Ok(Flow::Continue)
            }
            Request::PowerOn => {
                self.stats.power_ons += 1;
                self.powered = true;
                self.card.power_on();
                Ok(Flow::Continue)
            }
            Request::Reset => {
                self.stats.resets += 1;
                self.powered = true;
                self.card.reset();
                Ok(Flow::Continue)
            }
            Request::GetAtr => {
                self.stats.atr_requests += 1;
                let atr = self.card.atr();
                self.reply(&atr)
            }
            Request::Apdu(apdu) => {
                self.stats.apdus += 1;
                if !self.powered {
                    self.stats.implicit_power_ons += 1;
                    self.powered = true;
                    self.card.power_on();
                }
                match self.fault {
                    Some(Fault::FreezeAt(n)) if n == self.stats.apdus => {
                        while !self.stop.load(Ordering::Acquire) {
                            std::thread::sleep(self.poll);
                        }
                        return Ok(Flow::Stopped);
                    }
                    Some(Fault::PullAt(n)) if n == self.stats.apdus => {
                        let _ = self.card.process(apdu);
                        self.card.power_off();
                        return Ok(Flow::Pulled);
                    }
                    _ => {}
                }
                let mut response = self.card.process(apdu);
                // A 1-byte answer is legal (a native DESFire status alone); an empty one
                // would make vpcd drop the card, so the host gets `6F00` instead.
                if response.is_empty() {
                    self.stats.ignore("card gave no answer: sent 6F00 instead");
                    response = SW_NO_PRECISE_DIAGNOSIS.to_vec();
                }
                self.reply(&response)
            }
        }
    }
}

/// Serves `card` to vpcd until `stop` is set (the card is then removed: the socket is closed)
/// or vpcd closes the connection.
///
/// Connects to `127.0.0.1:cfg.port`, retrying for `cfg.retry_for` while pcscd is not up yet.
/// Blocking: run it in a thread of its own, or use [`spawn`].
///
/// Errors: the connection could not be made, vpcd closed the connection in the middle of a
/// frame, or a socket error other than a disconnection.
pub fn serve<C: VirtualCard + ?Sized>(
    card: &mut C,
    cfg: &VpcdConfig,
    stop: &AtomicBool,
) -> Result<ServeStats, TransportError> {
    serve_inner(card, cfg, stop, None)
}

fn serve_inner<C: VirtualCard + ?Sized>(
    card: &mut C,
    cfg: &VpcdConfig,
    stop: &AtomicBool,
    connected: Option<&AtomicBool>,
) -> Result<ServeStats, TransportError> {
    let Some(stream) = connect(cfg, stop)? else {
        return Ok(ServeStats::default());
    };
    let setup = |what: &str, r: io::Result<()>| {
        r.map_err(|e| TransportError::io(format!("setting {what} on the vpcd socket"), e))
    };
    setup("TCP_NODELAY", stream.set_nodelay(true))?;
    // A zero duration would mean "block forever" to the OS: keep at least a millisecond.
    let poll = cfg.poll_interval.max(Duration::from_millis(1));
    setup("the read timeout", stream.set_read_timeout(Some(poll)))?;
    let write_timeout = cfg.write_timeout.max(Duration::from_millis(1));
    setup(
        "the write timeout",
        stream.set_write_timeout(Some(write_timeout)),
    )?;
    if let Some(flag) = connected {
        flag.store(true, Ordering::Release);
    }

    let mut session = Session {
        card,
        stream,
        powered: false,
        stats: ServeStats {
            connected: true,
            ..ServeStats::default()
        },
        fault: cfg.fault,
        stop,
        poll,
    };
    let mut frames = FrameReader::default();
    let result = loop {
        let mut ended = None;
        while let Some(body) = frames.next_frame() {
            match session.handle(&body) {
                Ok(Flow::Continue) => {}
                Ok(Flow::HostClosed) => ended = Some(ServeEnd::HostClosed),
                Ok(Flow::Pulled) => ended = Some(ServeEnd::Pulled),
                Ok(Flow::Stopped) => ended = Some(ServeEnd::Stopped),
                Err(e) => return finish(session, connected, Err(e)),
            }
            if ended.is_some() {
                break;
            }
        }
        if let Some(end) = ended {
            break Ok(end);
        }
        if stop.load(Ordering::Acquire) {
            break Ok(ServeEnd::Stopped);
        }
        if cfg.quickack {
            arm_quickack(&session.stream);
        }
        match frames.fill_from(&mut session.stream) {
            Ok(0) if frames.pending() > 0 => {
                break Err(TransportError::Protocol {
                    attempted: "reading a frame from vpcd",
                    detail: format!(
                        "vpcd closed the connection in the middle of a frame ({} bytes received)",
                        frames.pending()
                    ),
                });
            }
            Ok(0) => break Ok(ServeEnd::HostClosed),
            Ok(_) => {}
            Err(e) if is_timeout(&e) => {}
            Err(e) if is_disconnect(&e) => break Ok(ServeEnd::HostClosed),
            Err(e) => break Err(TransportError::io("reading from vpcd", e)),
        }
    };
    finish(session, connected, result)
}

/// Closes the socket (= card removed) and returns the counters.
fn finish<C: VirtualCard + ?Sized>(
    session: Session<'_, C>,
    connected: Option<&AtomicBool>,
    result: Result<ServeEnd, TransportError>,
) -> Result<ServeStats, TransportError> {
    let Session {
        stream, mut stats, ..
    } = session;
    // Best effort: the peer may already be gone.
    let _ = stream.shutdown(std::net::Shutdown::Both);
    drop(stream);
    if let Some(flag) = connected {
        flag.store(false, Ordering::Release);
    }
    stats.end = result?;
    Ok(stats)
}

/// A card shared between the link thread and the [`VpcdHandle`].
struct SharedCard<C>(Arc<Mutex<C>>);

impl<C> SharedCard<C> {
    fn lock(&self) -> MutexGuard<'_, C> {
        // A panic in another user of the card must not take the link down with it.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<C: VirtualCard> VirtualCard for SharedCard<C> {
    fn atr(&self) -> Vec<u8> {
        self.lock().atr()
    }
    fn power_on(&mut self) {
        self.lock().power_on()
    }
    fn power_off(&mut self) {
        self.lock().power_off()
    }
    fn reset(&mut self) {
        self.lock().reset()
    }
    fn process(&mut self, apdu: &[u8]) -> Vec<u8> {
        self.lock().process(apdu)
    }
}

/// A simulated card inserted into a vpcd reader by [`spawn`]. Dropping it removes the card
/// (closes the socket) and waits for the link thread.
pub struct VpcdHandle<C> {
    card: Arc<Mutex<C>>,
    stop: Arc<AtomicBool>,
    connected: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<ServeStats, TransportError>>>,
    port: u16,
}

impl<C> VpcdHandle<C> {
    /// The card. The link thread waits while the guard is held: keep it short.
    pub fn card(&self) -> MutexGuard<'_, C> {
        self.card.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// vpcd's port this card is (or will be) connected to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether the card is currently connected to vpcd (inserted).
    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Acquire)
    }

    /// Whether the link thread has ended (removed, vpcd gone, or connection failed); see
    /// [`VpcdHandle::remove`] for why.
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Waits until the card is connected to vpcd; `false` if it is not after `timeout` or the
    /// link thread ended.
    pub fn wait_connected(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.is_connected() {
                return true;
            }
            if self.is_finished() || Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Removes the card (closes the socket) and returns what the link did, or why it failed.
    pub fn remove(mut self) -> Result<ServeStats, TransportError> {
        self.stop_and_join()
    }

    fn stop_and_join(&mut self) -> Result<ServeStats, TransportError> {
        self.stop.store(true, Ordering::Release);
        match self.thread.take() {
            Some(thread) => thread.join().unwrap_or_else(|_| {
                Err(TransportError::Protocol {
                    attempted: "serving the simulated card to vpcd",
                    detail: "the card panicked while processing a request".into(),
                })
            }),
            None => Ok(ServeStats::default()),
        }
    }
}

impl<C> std::fmt::Debug for VpcdHandle<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VpcdHandle")
            .field("port", &self.port)
            .field("connected", &self.is_connected())
            .field("finished", &self.is_finished())
            .finish_non_exhaustive()
    }
}

impl<C> Drop for VpcdHandle<C> {
    fn drop(&mut self) {
        // Errors were for `remove` to report; dropping only makes sure the card is out.
        let _ = self.stop_and_join();
    }
}

/// Inserts `card` into the vpcd reader on `cfg.port` from a background thread: [`serve`] until
/// the returned handle is removed or dropped.
///
/// Returns at once; the connection is made in the thread (see
/// [`VpcdHandle::wait_connected`]). Fails only if the thread cannot be created.
pub fn spawn<C: VirtualCard + Send + 'static>(
    card: C,
    cfg: VpcdConfig,
) -> Result<VpcdHandle<C>, TransportError> {
    let card = Arc::new(Mutex::new(card));
    let stop = Arc::new(AtomicBool::new(false));
    let connected = Arc::new(AtomicBool::new(false));
    let port = cfg.port;
    let thread = {
        let mut shared = SharedCard(Arc::clone(&card));
        let stop = Arc::clone(&stop);
        let connected = Arc::clone(&connected);
        std::thread::Builder::new()
            .name(format!("vpcd-card-{port}"))
            .spawn(move || serve_inner(&mut shared, &cfg, &stop, Some(&connected)))
            .map_err(|e| TransportError::io("starting the vpcd card thread", e))?
    };
    Ok(VpcdHandle {
        card,
        stop,
        connected,
        thread: Some(thread),
        port,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// A card that records what it was asked.
    #[derive(Default)]
    struct Probe {
        power_ons: u32,
        power_offs: u32,
        resets: u32,
        seen: Vec<Vec<u8>>,
    }

    impl VirtualCard for Probe {
        fn atr(&self) -> Vec<u8> {
            vec![0x3B, 0x81, 0x01, 0xAA, 0x2A]
        }
        fn power_on(&mut self) {
            self.power_ons += 1;
        }
        fn power_off(&mut self) {
            self.power_offs += 1;
        }
        fn reset(&mut self) {
            self.resets += 1;
        }
        fn process(&mut self, apdu: &[u8]) -> Vec<u8> {
            self.seen.push(apdu.to_vec());
            match apdu.get(1) {
                // Echo the body back (extended-size friendly).
                Some(0xEE) => {
                    let end = apdu.len().saturating_sub(2);
                    let mut r = apdu.get(7..end).unwrap_or_default().to_vec();
                    r.extend_from_slice(&[0x90, 0x00]);
                    r
                }
                Some(0x00) => vec![],
                // A native DESFire frame of one byte: a status byte and data.
                None if apdu.first() == Some(&0x60) => vec![0xAF, 0x04, 0x01],
                // Its additional frame: the status byte alone.
                None if apdu.first() == Some(&0xAF) => vec![0x00],
                _ => vec![0x6D, 0x00],
            }
        }
    }

    /// The vpcd side of the link, for tests: a listener on an ephemeral loopback port.
    struct FakeVpcd {
        listener: TcpListener,
    }

    impl FakeVpcd {
        fn new() -> Self {
            FakeVpcd {
                listener: TcpListener::bind("127.0.0.1:0").unwrap(),
            }
        }
        fn port(&self) -> u16 {
            self.listener.local_addr().unwrap().port()
        }
        fn accept(&self) -> TcpStream {
            let (s, _) = self.listener.accept().unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            s
        }
    }

    fn send(s: &mut TcpStream, body: &[u8]) {
        s.write_all(&frame(body).unwrap()).unwrap();
    }

    fn recv(s: &mut TcpStream) -> Vec<u8> {
        let mut len = [0u8; 2];
        s.read_exact(&mut len).unwrap();
        let mut body = vec![0u8; usize::from(u16::from_be_bytes(len))];
        s.read_exact(&mut body).unwrap();
        body
    }

    fn cfg(port: u16) -> VpcdConfig {
        VpcdConfig {
            poll_interval: Duration::from_millis(20),
            ..VpcdConfig::with_port(port)
        }
    }

    #[test]
    fn frame_reader_keeps_partial_frames() {
        let mut r = FrameReader::default();
        let mut wire = frame(&[0x01]).unwrap();
        wire.extend(frame(&[0x00, 0xA4, 0x04, 0x00]).unwrap());
        wire.extend(frame(&[]).unwrap());
        // Feed one byte at a time: frames come out only when complete.
        let mut out = Vec::new();
        for b in wire {
            r.fill_from(&mut &[b][..]).unwrap();
            while let Some(f) = r.next_frame() {
                out.push(f);
            }
        }
        assert_eq!(out, vec![vec![0x01], vec![0x00, 0xA4, 0x04, 0x00], vec![]]);
        assert_eq!(r.pending(), 0);
        r.fill_from(&mut &[0x00, 0x05, 0x01][..]).unwrap();
        assert_eq!(r.next_frame(), None);
        assert_eq!(r.pending(), 3);
    }

    #[test]
    fn classify_frames() {
        assert_eq!(classify(&[0x00]), Request::PowerOff);
        assert_eq!(classify(&[0x01]), Request::PowerOn);
        assert_eq!(classify(&[0x02]), Request::Reset);
        assert_eq!(classify(&[0x04]), Request::GetAtr);
        // Native DESFire frames of one byte are commands, as is an empty body.
        assert_eq!(classify(&[0x60]), Request::Apdu(&[0x60]));
        assert_eq!(classify(&[0x03]), Request::Apdu(&[0x03]));
        assert_eq!(classify(&[]), Request::Apdu(&[]));
        assert_eq!(classify(&[0x00, 0x84]), Request::Apdu(&[0x00, 0x84]));
        assert_eq!(frame(&vec![0; 65_536]), None);
    }

    #[test]
    fn full_session_with_fake_vpcd() {
        let vpcd = FakeVpcd::new();
        let handle = spawn(Probe::default(), cfg(vpcd.port())).unwrap();
        let mut s = vpcd.accept();
        assert!(handle.wait_connected(Duration::from_secs(5)));

        // Power on, then get ATR: what pcscd does on SCardConnect.
        send(&mut s, &[CTRL_POWER_ON]);
        send(&mut s, &[CTRL_GET_ATR]);
        assert_eq!(recv(&mut s), [0x3B, 0x81, 0x01, 0xAA, 0x2A]);
        assert_eq!(handle.card().power_ons, 1);

        // A short APDU.
        send(&mut s, &[0x00, 0x84, 0x00, 0x00, 0x08]);
        assert_eq!(recv(&mut s), [0x6D, 0x00]);

        // An extended APDU, its length and body split across several read timeouts.
        let mut apdu = vec![0x00, 0xEE, 0x00, 0x00, 0x00, 0x0F, 0xA0];
        apdu.extend((0..4000u32).map(|i| i as u8));
        apdu.extend([0x00, 0x00]);
        let wire = frame(&apdu).unwrap();
        s.write_all(&wire[..1]).unwrap();
        std::thread::sleep(Duration::from_millis(60));
        s.write_all(&wire[1..100]).unwrap();
        std::thread::sleep(Duration::from_millis(60));
        s.write_all(&wire[100..]).unwrap();
        let r = recv(&mut s);
        assert_eq!(r.len(), 4002);
        assert_eq!(&r[..4000], &apdu[7..4007]);
        assert_eq!(&r[4000..], [0x90, 0x00]);

        // Every frame that is not a control message gets an answer: 1-byte native frames
        // (answers of 3 bytes and of 1 byte pass unchanged), an unknown byte, an empty body.
        send(&mut s, &[0x60]);
        assert_eq!(recv(&mut s), [0xAF, 0x04, 0x01]);
        send(&mut s, &[0xAF]);
        assert_eq!(recv(&mut s), [0x00]);
        send(&mut s, &[0x03]);
        assert_eq!(recv(&mut s), [0x6D, 0x00]);
        send(&mut s, &[]);
        assert_eq!(recv(&mut s), [0x6D, 0x00]);
        // A card that gives no answer at all: 6F00 instead.
        send(&mut s, &[0x00, 0x00, 0x00, 0x00]);
        assert_eq!(recv(&mut s), [0x6F, 0x00]);

        // Reset, power off; an APDU after power off powers the card on first.
        send(&mut s, &[CTRL_RESET]);
        send(&mut s, &[CTRL_POWER_OFF]);
        send(&mut s, &[0x00, 0x84, 0x00, 0x00, 0x08]);
        assert_eq!(recv(&mut s), [0x6D, 0x00]);
        {
            let card = handle.card();
            assert_eq!((card.power_ons, card.resets, card.power_offs), (2, 1, 1));
            assert_eq!(card.seen.len(), 8);
        }

        // Removal: the fake vpcd sees the socket close.
        let stats = handle.remove().unwrap();
        let mut buf = [0u8; 1];
        assert_eq!(s.read(&mut buf).unwrap(), 0, "socket closed on removal");
        assert_eq!(stats.end, ServeEnd::Stopped);
        assert_eq!(stats.apdus, 8);
        assert_eq!(stats.power_ons, 1);
        assert_eq!(stats.implicit_power_ons, 1);
        assert_eq!(stats.power_offs, 1);
        assert_eq!(stats.resets, 1);
        assert_eq!(stats.atr_requests, 1);
        assert_eq!(stats.ignored_frames, 1);
        assert!(stats.connected);
    }

    #[test]
    fn injected_faults_pull_after_executing_and_freeze_before() {
        // Pull at APDU 2: the card executes it, the answer never comes, the link closes.
        let vpcd = FakeVpcd::new();
        let config = VpcdConfig {
            fault: Some(Fault::PullAt(2)),
            ..cfg(vpcd.port())
        };
        let handle = spawn(Probe::default(), config).unwrap();
        let mut s = vpcd.accept();
        send(&mut s, &[CTRL_POWER_ON]);
        send(&mut s, &[0x00, 0x84, 0x00, 0x00, 0x08]);
        assert_eq!(recv(&mut s), [0x6D, 0x00]);
        send(&mut s, &[0x00, 0x20, 0x00, 0x01, 0x04, 1, 2, 3, 4]);
        let mut buf = [0u8; 2];
        assert_eq!(s.read(&mut buf).unwrap(), 0, "no answer, socket closed");
        assert_eq!(
            handle.card().seen.len(),
            2,
            "the pulled command was executed"
        );
        let stats = handle.remove().unwrap();
        assert_eq!(stats.end, ServeEnd::Pulled);

        // Freeze at APDU 1: no answer, the command is not executed, until stopped.
        let vpcd = FakeVpcd::new();
        let config = VpcdConfig {
            fault: Some(Fault::FreezeAt(1)),
            ..cfg(vpcd.port())
        };
        let handle = spawn(Probe::default(), config).unwrap();
        let mut s = vpcd.accept();
        send(&mut s, &[0x00, 0x20, 0x00, 0x01, 0x04, 1, 2, 3, 4]);
        s.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        assert!(s.read(&mut buf).is_err(), "a frozen card answers nothing");
        assert!(
            handle.card().seen.is_empty(),
            "the frozen command was not executed"
        );
        let stats = handle.remove().unwrap();
        assert_eq!(stats.end, ServeEnd::Stopped);
        assert_eq!(stats.apdus, 1);
    }

    #[test]
    fn host_closing_ends_serving() {
        let vpcd = FakeVpcd::new();
        let stop = AtomicBool::new(false);
        let port = vpcd.port();
        let server = std::thread::spawn(move || {
            let mut s = vpcd.accept();
            send(&mut s, &[CTRL_POWER_ON]);
            drop(s);
        });
        let mut card = Probe::default();
        let stats = serve(&mut card, &cfg(port), &stop).unwrap();
        server.join().unwrap();
        assert_eq!(stats.end, ServeEnd::HostClosed);
        assert_eq!(card.power_ons, 1);
    }

    #[test]
    fn truncated_frame_is_an_error() {
        let vpcd = FakeVpcd::new();
        let port = vpcd.port();
        let server = std::thread::spawn(move || {
            let mut s = vpcd.accept();
            s.write_all(&[0x00, 0x10, 0x00, 0xA4]).unwrap();
        });
        let err = serve(&mut Probe::default(), &cfg(port), &AtomicBool::new(false)).unwrap_err();
        server.join().unwrap();
        assert!(matches!(err, TransportError::Protocol { .. }), "{err}");
        assert!(err.to_string().contains("middle of a frame"), "{err}");
    }

    #[test]
    fn connection_refused_is_reported_and_stop_interrupts_retries() {
        // Find a free port, then close it so that connecting is refused.
        let port = FakeVpcd::new().port();
        let quick = VpcdConfig {
            retry_for: Duration::ZERO,
            ..cfg(port)
        };
        let err = serve(&mut Probe::default(), &quick, &AtomicBool::new(false)).unwrap_err();
        assert!(err.to_string().contains("pcscd"), "{err}");

        let patient = VpcdConfig {
            retry_for: Duration::from_secs(60),
            ..cfg(port)
        };
        let handle = spawn(Probe::default(), patient).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        assert!(!handle.is_connected());
        let started = Instant::now();
        let stats = handle.remove().unwrap();
        assert!(!stats.connected);
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}
