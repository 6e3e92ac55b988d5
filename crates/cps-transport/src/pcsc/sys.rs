//! The only `unsafe` code of cps-transport: calls into the PC/SC library, loaded at run time.
//!
//! Nothing is linked at build time (no pkg-config, no libpcsclite-dev): the first
//! [`Context::establish`] opens `libpcsclite.so.1` with `libloading` and looks up the eleven
//! functions used here. Without the library, that call fails with [`EstablishError::Load`] and
//! the rest of the crate (simulator, vpcd card side, recording) is unaffected.
//!
//! Only pcsc-lite (Linux, the BSDs) is supported: every type and constant below comes from
//! pcsc-lite's public headers, as installed by Debian's libpcsclite-dev 1.9.9 in
//! `/usr/include/PCSC/` (`wintypes.h`, `pcsclite.h`, `winscard.h`); each is cited where it is
//! defined. macOS (PCSC.framework, 32-bit DWORD, packed structures) and Windows (winscard.dll,
//! `A`-suffixed names, 36-byte ATR) have other ABIs: this module refuses to load there rather
//! than guess.
//!
//! Safety rules kept by every call below:
//! - every pointer passed is either null where the header marks the parameter `@null@`, or
//!   points into a live Rust buffer whose length is passed alongside (checked to fit a DWORD);
//! - every length the library writes back is checked against the buffer it describes before a
//!   slice is taken (an out-of-range length is an error, never an out-of-bounds read);
//! - buffers are bounded ([`MAX_BUFFER_SIZE_EXTENDED`], [`MAX_ATR_SIZE`], [`MAX_READER_LIST`]);
//! - every return code goes through [`check`]: unknown codes become [`PcscError::Unknown`].

use std::ffi::{CStr, CString, c_char, c_long, c_ulong, c_void};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use super::split_multi_string;
use crate::PcscError;

/// The file opened at run time: pcsc-lite's client library (Debian package libpcsclite1).
pub(crate) const LIBRARY: &str = "libpcsclite.so.1";

// wintypes.h (the non-Apple branch): `typedef unsigned long DWORD;` `typedef long LONG;`
// (64 bits on x86_64 Linux, unlike Windows' 32-bit DWORD).
type Dword = c_ulong;
type Long = c_long;
// pcsclite.h: `typedef LONG SCARDCONTEXT;` `typedef LONG SCARDHANDLE;`
type ScardContext = Long;
type ScardHandle = Long;

/// pcsclite.h: `#define MAX_ATR_SIZE 33` (the size of `SCARD_READERSTATE.rgbAtr`).
pub(crate) const MAX_ATR_SIZE: usize = 33;
/// pcsclite.h: `#define MAX_BUFFER_SIZE_EXTENDED (4 + 3 + (1<<16) + 3 + 2)`: the largest
/// extended APDU or response (65536 data bytes + header, Lc, Le, SW).
pub(crate) const MAX_BUFFER_SIZE_EXTENDED: usize = 4 + 3 + (1 << 16) + 3 + 2;
/// The largest reader list accepted from `SCardListReaders` (pcsclite.h:
/// `PCSCLITE_MAX_READERS_CONTEXTS` 16 readers × `MAX_READERNAME` 128 bytes is 2 KiB; this
/// leaves room for other PC/SC implementations of the same ABI).
const MAX_READER_LIST: usize = 64 * 1024;

// pcsclite.h: `#define SCARD_S_SUCCESS ((LONG)0x00000000)`.
const SCARD_S_SUCCESS: u32 = 0;
// pcsclite.h: `#define SCARD_E_INSUFFICIENT_BUFFER ((LONG)0x80100008)`.
const SCARD_E_INSUFFICIENT_BUFFER: u32 = 0x8010_0008;
// pcsclite.h: `#define SCARD_SCOPE_USER 0x0000`.
const SCARD_SCOPE_USER: Dword = 0x0000;
// pcsclite.h: `#define SCARD_PROTOCOL_T0 0x0001`, `#define SCARD_PROTOCOL_T1 0x0002`.
const SCARD_PROTOCOL_T0: Dword = 0x0001;
const SCARD_PROTOCOL_T1: Dword = 0x0002;
// pcsclite.h: `#define SCARD_SHARE_EXCLUSIVE 0x0001`, `#define SCARD_SHARE_SHARED 0x0002`.
const SCARD_SHARE_EXCLUSIVE: Dword = 0x0001;
const SCARD_SHARE_SHARED: Dword = 0x0002;
// pcsclite.h: `#define SCARD_LEAVE_CARD 0x0000`, `#define SCARD_RESET_CARD 0x0001`.
const SCARD_LEAVE_CARD: Dword = 0x0000;
const SCARD_RESET_CARD: Dword = 0x0001;
// pcsclite.h: `#define SCARD_STATE_UNAWARE 0x0000`, `#define SCARD_STATE_PRESENT 0x0020`.
const SCARD_STATE_UNAWARE: Dword = 0x0000;
const SCARD_STATE_PRESENT: Dword = 0x0020;
// pcsclite.h: `#define INFINITE 0xFFFFFFFF`: timeouts are capped just below it.
const INFINITE: u32 = 0xFFFF_FFFF;

/// pcsclite.h `SCARD_READERSTATE` (no packing outside `__APPLE__`).
#[repr(C)]
struct ScardReaderState {
    /// `const char *szReader`
    reader: *const c_char,
    /// `void *pvUserData`
    user_data: *mut c_void,
    /// `DWORD dwCurrentState`
    current_state: Dword,
    /// `DWORD dwEventState`
    event_state: Dword,
    /// `DWORD cbAtr`
    atr_len: Dword,
    /// `unsigned char rgbAtr[MAX_ATR_SIZE]`
    atr: [u8; MAX_ATR_SIZE],
}

/// pcsclite.h `SCARD_IO_REQUEST`: `unsigned long dwProtocol; unsigned long cbPciLength;`.
/// We pass our own instead of looking up `g_rgSCardT0Pci`/`g_rgSCardT1Pci`: pcsc-lite's
/// client reads only these two fields (`SCardTransmit` in winscard_clnt.c).
#[repr(C)]
struct ScardIoRequest {
    protocol: c_ulong,
    pci_length: c_ulong,
}

// winscard.h prototypes.
type EstablishContextFn =
    unsafe extern "C" fn(Dword, *const c_void, *const c_void, *mut ScardContext) -> Long;
type ReleaseContextFn = unsafe extern "C" fn(ScardContext) -> Long;
type ListReadersFn =
    unsafe extern "C" fn(ScardContext, *const c_char, *mut c_char, *mut Dword) -> Long;
type GetStatusChangeFn =
    unsafe extern "C" fn(ScardContext, Dword, *mut ScardReaderState, Dword) -> Long;
type ConnectFn = unsafe extern "C" fn(
    ScardContext,
    *const c_char,
    Dword,
    Dword,
    *mut ScardHandle,
    *mut Dword,
) -> Long;
type ReconnectFn = unsafe extern "C" fn(ScardHandle, Dword, Dword, Dword, *mut Dword) -> Long;
type DisconnectFn = unsafe extern "C" fn(ScardHandle, Dword) -> Long;
type BeginTransactionFn = unsafe extern "C" fn(ScardHandle) -> Long;
type EndTransactionFn = unsafe extern "C" fn(ScardHandle, Dword) -> Long;
type StatusFn = unsafe extern "C" fn(
    ScardHandle,
    *mut c_char,
    *mut Dword,
    *mut Dword,
    *mut Dword,
    *mut u8,
    *mut Dword,
) -> Long;
type TransmitFn = unsafe extern "C" fn(
    ScardHandle,
    *const ScardIoRequest,
    *const u8,
    Dword,
    *mut ScardIoRequest,
    *mut u8,
    *mut Dword,
) -> Long;

/// The loaded library and its functions. Kept in a `static` for the whole process, so the
/// function pointers never outlive the library.
struct Api {
    _library: libloading::Library,
    establish_context: EstablishContextFn,
    release_context: ReleaseContextFn,
    list_readers: ListReadersFn,
    get_status_change: GetStatusChangeFn,
    connect: ConnectFn,
    reconnect: ReconnectFn,
    disconnect: DisconnectFn,
    begin_transaction: BeginTransactionFn,
    end_transaction: EndTransactionFn,
    status: StatusFn,
    transmit: TransmitFn,
}

static API: OnceLock<Result<Api, String>> = OnceLock::new();

/// Loads the library once; later calls return the same result.
fn api() -> Result<&'static Api, String> {
    API.get_or_init(load).as_ref().map_err(Clone::clone)
}

#[cfg(all(unix, not(target_vendor = "apple")))]
fn load() -> Result<Api, String> {
    // SAFETY: opening libpcsclite runs its ELF initialisers; pcsc-lite's only set up its
    // client state (no global side effect on this process beyond that).
    let library = unsafe { libloading::Library::new(LIBRARY) }.map_err(|e| e.to_string())?;
    /// Looks up `name` as a function of type `T`.
    ///
    /// SAFETY (caller): `T` must be the function's exact prototype from winscard.h.
    unsafe fn symbol<T: Copy>(library: &libloading::Library, name: &[u8]) -> Result<T, String> {
        // SAFETY: forwarded to the caller (the type matches winscard.h).
        unsafe { library.get::<T>(name) }
            .map(|s| *s)
            .map_err(|e| e.to_string())
    }
    // SAFETY: each type alias above transcribes the winscard.h prototype of the same name.
    unsafe {
        Ok(Api {
            establish_context: symbol(&library, b"SCardEstablishContext\0")?,
            release_context: symbol(&library, b"SCardReleaseContext\0")?,
            list_readers: symbol(&library, b"SCardListReaders\0")?,
            get_status_change: symbol(&library, b"SCardGetStatusChange\0")?,
            connect: symbol(&library, b"SCardConnect\0")?,
            reconnect: symbol(&library, b"SCardReconnect\0")?,
            disconnect: symbol(&library, b"SCardDisconnect\0")?,
            begin_transaction: symbol(&library, b"SCardBeginTransaction\0")?,
            end_transaction: symbol(&library, b"SCardEndTransaction\0")?,
            status: symbol(&library, b"SCardStatus\0")?,
            transmit: symbol(&library, b"SCardTransmit\0")?,
            _library: library,
        })
    }
}

#[cfg(not(all(unix, not(target_vendor = "apple"))))]
fn load() -> Result<Api, String> {
    Err("only pcsc-lite (Linux, BSD) is supported by this build".into())
}

/// A LONG return code as a 32-bit PC/SC code. pcsc-lite defines them as `((LONG)0x8010xxxx)`:
/// positive on 64-bit `long`, negative on 32-bit; anything outside 32 bits is unknown.
fn code_of(rv: Long) -> u32 {
    // `long` is 32 bits on 32-bit targets: the conversion is not always the identity.
    #[allow(clippy::useless_conversion)]
    let rv = i64::from(rv);
    u32::try_from(rv)
        .ok()
        .or_else(|| i32::try_from(rv).ok().map(|v| v as u32))
        .unwrap_or(u32::MAX)
}

/// `Ok` for `SCARD_S_SUCCESS`, the typed error otherwise (never a panic).
fn check(rv: Long) -> Result<(), PcscError> {
    match code_of(rv) {
        SCARD_S_SUCCESS => Ok(()),
        code => Err(PcscError::from_code(code)),
    }
}

/// A length for the library, or `InvalidParameter` when it does not fit a DWORD.
fn dword(len: usize) -> Result<Dword, PcscError> {
    Dword::try_from(len).map_err(|_| PcscError::InvalidParameter)
}

/// A length written back by the library, checked against the buffer it describes.
fn written(len: Dword, capacity: usize) -> Result<usize, PcscError> {
    usize::try_from(len)
        .ok()
        .filter(|&n| n <= capacity)
        .ok_or(PcscError::InsufficientBuffer)
}

/// A timeout in milliseconds, capped below `INFINITE`.
fn millis(timeout: Duration) -> Dword {
    let ms = u32::try_from(timeout.as_millis()).unwrap_or(INFINITE - 1);
    Dword::from(ms.min(INFINITE - 1))
}

/// Why [`Context::establish`] failed.
#[derive(Debug)]
pub(crate) enum EstablishError {
    /// The library could not be opened, or lacks a function (the loader's message).
    Load(String),
    /// `SCardEstablishContext` failed (pcscd not running, …).
    Pcsc(PcscError),
}

/// How a card is left on disconnect or at the end of a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Disposition {
    /// `SCARD_LEAVE_CARD`
    Leave,
    /// `SCARD_RESET_CARD`
    Reset,
}

impl Disposition {
    fn raw(self) -> Dword {
        match self {
            Disposition::Leave => SCARD_LEAVE_CARD,
            Disposition::Reset => SCARD_RESET_CARD,
        }
    }
}

/// Protocols offered when connecting: T=0 or T=1, as the card's ATR allows.
const PROTOCOLS: Dword = SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1;

fn share_raw(exclusive: bool) -> Dword {
    if exclusive {
        SCARD_SHARE_EXCLUSIVE
    } else {
        SCARD_SHARE_SHARED
    }
}

struct ContextInner {
    api: &'static Api,
    handle: ScardContext,
}

impl Drop for ContextInner {
    fn drop(&mut self) {
        // SAFETY: `handle` came from SCardEstablishContext and is released once, here.
        let _ = unsafe { (self.api.release_context)(self.handle) };
    }
}

/// A PC/SC context (`SCardEstablishContext`, user scope), released when the last clone goes.
#[derive(Clone)]
pub(crate) struct Context(Arc<ContextInner>);

impl Context {
    /// Loads the library (first call) and establishes a context.
    pub(crate) fn establish() -> Result<Self, EstablishError> {
        let api = api().map_err(EstablishError::Load)?;
        let mut handle: ScardContext = 0;
        // SAFETY: the reserved pointers are null (winscard.h `@null@`); `handle` is a live
        // out-parameter.
        let rv = unsafe {
            (api.establish_context)(
                SCARD_SCOPE_USER,
                std::ptr::null(),
                std::ptr::null(),
                &mut handle,
            )
        };
        check(rv).map_err(EstablishError::Pcsc)?;
        Ok(Context(Arc::new(ContextInner { api, handle })))
    }

    /// The connected readers' names (`SCardListReaders`, all groups).
    /// `SCARD_E_NO_READERS_AVAILABLE` is returned as that error.
    pub(crate) fn list_readers(&self) -> Result<Vec<CString>, PcscError> {
        let c = &self.0;
        // A reader plugged in between the two calls makes the second one too small: retry.
        for _ in 0..3 {
            let mut len: Dword = 0;
            // SAFETY: groups null (all), buffer null (size query); `len` is a live out-parameter.
            let rv = unsafe {
                (c.api.list_readers)(c.handle, std::ptr::null(), std::ptr::null_mut(), &mut len)
            };
            check(rv)?;
            let size = written(len, MAX_READER_LIST)?;
            if size == 0 {
                return Ok(Vec::new());
            }
            let mut buffer = vec![0u8; size];
            let mut len = dword(buffer.len())?;
            // SAFETY: `buffer` is live and `len` holds its exact length.
            let rv = unsafe {
                (c.api.list_readers)(
                    c.handle,
                    std::ptr::null(),
                    buffer.as_mut_ptr().cast::<c_char>(),
                    &mut len,
                )
            };
            match check(rv) {
                Err(PcscError::InsufficientBuffer) => continue,
                r => r?,
            }
            let n = written(len, buffer.len())?;
            return Ok(split_multi_string(buffer.get(..n).unwrap_or_default()));
        }
        Err(PcscError::from_code(SCARD_E_INSUFFICIENT_BUFFER))
    }

    /// `SCardGetStatusChange` on `states`, waiting up to `timeout`; on success each state's
    /// event state and ATR are updated.
    pub(crate) fn get_status_change(
        &self,
        timeout: Duration,
        states: &mut [ReaderState],
    ) -> Result<(), PcscError> {
        let c = &self.0;
        let mut raw: Vec<ScardReaderState> = states
            .iter()
            .map(|s| ScardReaderState {
                reader: s.name.as_ptr(),
                user_data: std::ptr::null_mut(),
                current_state: s.current,
                event_state: 0,
                atr_len: 0,
                atr: [0; MAX_ATR_SIZE],
            })
            .collect();
        let count = dword(raw.len())?;
        // SAFETY: `raw` holds `count` initialised entries whose `reader` pointers borrow the
        // `CString`s in `states`, alive for the whole call.
        let rv = unsafe {
            (c.api.get_status_change)(c.handle, millis(timeout), raw.as_mut_ptr(), count)
        };
        check(rv)?;
        for (state, r) in states.iter_mut().zip(&raw) {
            let n = written(r.atr_len, MAX_ATR_SIZE)?;
            state.event = r.event_state;
            state.atr = r.atr;
            state.atr_len = n;
        }
        Ok(())
    }

    /// `SCardConnect` to `reader`, T=0 or T=1.
    pub(crate) fn connect(&self, reader: &CStr, exclusive: bool) -> Result<Card, PcscError> {
        let c = &self.0;
        let mut handle: ScardHandle = 0;
        let mut protocol: Dword = 0;
        // SAFETY: `reader` is NUL-terminated and alive for the call; the out-parameters are live.
        let rv = unsafe {
            (c.api.connect)(
                c.handle,
                reader.as_ptr(),
                share_raw(exclusive),
                PROTOCOLS,
                &mut handle,
                &mut protocol,
            )
        };
        check(rv)?;
        Ok(Card {
            ctx: self.clone(),
            handle,
            protocol,
            open: true,
        })
    }
}

/// One reader's state for [`Context::get_status_change`] (the safe side of
/// `SCARD_READERSTATE`).
#[derive(Debug, Clone)]
pub(crate) struct ReaderState {
    name: CString,
    current: Dword,
    event: Dword,
    atr: [u8; MAX_ATR_SIZE],
    atr_len: usize,
}

impl ReaderState {
    /// A reader whose state we do not know yet (`SCARD_STATE_UNAWARE`).
    pub(crate) fn unaware(name: CString) -> Self {
        ReaderState {
            name,
            current: SCARD_STATE_UNAWARE,
            event: SCARD_STATE_UNAWARE,
            atr: [0; MAX_ATR_SIZE],
            atr_len: 0,
        }
    }

    /// The reader's name.
    pub(crate) fn name(&self) -> &CStr {
        &self.name
    }

    /// Whether the last event state says a card is present (`SCARD_STATE_PRESENT`).
    pub(crate) fn present(&self) -> bool {
        self.event & SCARD_STATE_PRESENT != 0
    }

    /// The card's ATR from the last event state (empty without a card).
    pub(crate) fn atr(&self) -> &[u8] {
        self.atr.get(..self.atr_len).unwrap_or_default()
    }

    /// Takes the last event state as the known state, so the next call waits for a change.
    pub(crate) fn sync_current_state(&mut self) {
        self.current = self.event;
    }
}

/// A connected card (`SCardConnect`). Dropped without [`Card::disconnect`], it is disconnected
/// with `SCARD_RESET_CARD` (no security state this connection opened outlives it).
pub(crate) struct Card {
    ctx: Context,
    handle: ScardHandle,
    /// The active protocol (`SCARD_PROTOCOL_T0` or `SCARD_PROTOCOL_T1`).
    protocol: Dword,
    /// False once disconnected.
    open: bool,
}

impl Card {
    fn api(&self) -> &'static Api {
        self.ctx.0.api
    }

    /// The active protocol: `Some(0)` for T=0, `Some(1)` for T=1.
    pub(crate) fn protocol(&self) -> Option<u8> {
        match self.protocol {
            SCARD_PROTOCOL_T0 => Some(0),
            SCARD_PROTOCOL_T1 => Some(1),
            _ => None,
        }
    }

    /// `SCardReconnect` with `init` (leave or warm-reset the card).
    pub(crate) fn reconnect(
        &mut self,
        exclusive: bool,
        init: Disposition,
    ) -> Result<(), PcscError> {
        let mut protocol: Dword = 0;
        // SAFETY: `handle` is a live card handle (owned by `self`); `protocol` is a live out-parameter.
        let rv = unsafe {
            (self.api().reconnect)(
                self.handle,
                share_raw(exclusive),
                PROTOCOLS,
                init.raw(),
                &mut protocol,
            )
        };
        check(rv)?;
        self.protocol = protocol;
        Ok(())
    }

    /// `SCardStatus`: the card's ATR (the active protocol is updated too).
    pub(crate) fn status(&mut self) -> Result<Vec<u8>, PcscError> {
        let mut state: Dword = 0;
        let mut protocol: Dword = 0;
        let mut atr = [0u8; MAX_ATR_SIZE];
        let mut atr_len = dword(atr.len())?;
        // SAFETY: reader name and its length are null (winscard.h `@null@`); `atr` is live and
        // `atr_len` holds its exact length; the other out-parameters are live.
        let rv = unsafe {
            (self.api().status)(
                self.handle,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                &mut state,
                &mut protocol,
                atr.as_mut_ptr(),
                &mut atr_len,
            )
        };
        check(rv)?;
        let n = written(atr_len, atr.len())?;
        self.protocol = protocol;
        Ok(atr.get(..n).unwrap_or_default().to_vec())
    }

    /// `SCardTransmit` of `command` with the active protocol; the response is written to
    /// `response`, whose used length is returned.
    pub(crate) fn transmit(&self, command: &[u8], response: &mut [u8]) -> Result<usize, PcscError> {
        if command.len() > MAX_BUFFER_SIZE_EXTENDED {
            return Err(PcscError::InvalidParameter);
        }
        let send_pci = ScardIoRequest {
            protocol: self.protocol,
            pci_length: dword(std::mem::size_of::<ScardIoRequest>())?,
        };
        let send_len = dword(command.len())?;
        let mut recv_len = dword(response.len())?;
        // SAFETY: `command` and `response` are live with their exact lengths passed; the
        // receive PCI is null (winscard.h allows it); `send_pci` lives for the call.
        let rv = unsafe {
            (self.api().transmit)(
                self.handle,
                &send_pci,
                command.as_ptr(),
                send_len,
                std::ptr::null_mut(),
                response.as_mut_ptr(),
                &mut recv_len,
            )
        };
        check(rv)?;
        written(recv_len, response.len())
    }

    /// `SCardBeginTransaction`.
    pub(crate) fn begin_transaction(&self) -> Result<(), PcscError> {
        // SAFETY: `handle` is a live card handle.
        check(unsafe { (self.api().begin_transaction)(self.handle) })
    }

    /// `SCardEndTransaction` with `SCARD_LEAVE_CARD`.
    pub(crate) fn end_transaction(&self) -> Result<(), PcscError> {
        // SAFETY: `handle` is a live card handle.
        check(unsafe { (self.api().end_transaction)(self.handle, SCARD_LEAVE_CARD) })
    }

    /// `SCardDisconnect` with `disposition`. On failure the handle stays open and dropping
    /// the card tries again with a reset.
    pub(crate) fn disconnect(mut self, disposition: Disposition) -> Result<(), PcscError> {
        // SAFETY: `handle` is a live card handle, disconnected at most once (`open`).
        check(unsafe { (self.api().disconnect)(self.handle, disposition.raw()) })?;
        self.open = false;
        Ok(())
    }
}

impl Drop for Card {
    fn drop(&mut self) {
        if self.open {
            // SAFETY: `handle` is a live card handle, disconnected once, here.
            let _ = unsafe { (self.api().disconnect)(self.handle, SCARD_RESET_CARD) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_match_pcsclite_on_lp64() {
        // pcsclite.h SCARD_READERSTATE on x86_64/aarch64 Linux: 2 pointers, 3 unsigned longs,
        // 33 bytes, padded to 8: 8+8+8+8+8+33 = 73 -> 80.
        if cfg!(target_pointer_width = "64") {
            assert_eq!(std::mem::size_of::<ScardReaderState>(), 80);
            assert_eq!(std::mem::size_of::<ScardIoRequest>(), 16);
            assert_eq!(std::mem::size_of::<Dword>(), 8);
        }
    }

    #[test]
    fn codes_from_long() {
        assert_eq!(code_of(0), 0);
        // 64-bit long: (LONG)0x80100069 is positive.
        #[cfg(target_pointer_width = "64")]
        assert_eq!(code_of(0x8010_0069), 0x8010_0069);
        // 32-bit long: sign-extended.
        assert_eq!(code_of(-0x7FEF_FF97), 0x8010_0069);
        assert_eq!(check(-0x7FEF_FF97), Err(PcscError::RemovedCard));
        assert!(matches!(check(0x1234), Err(PcscError::Unknown(0x1234))));
    }

    #[test]
    fn multi_strings() {
        assert_eq!(split_multi_string(b""), Vec::<CString>::new());
        assert_eq!(split_multi_string(b"\0"), Vec::<CString>::new());
        let v = split_multi_string(b"Reader A\0Reader B 01\0\0garbage");
        assert_eq!(v, [c"Reader A".to_owned(), c"Reader B 01".to_owned()]);
        // No terminator at all: the last string still counts, nothing read past the end.
        assert_eq!(split_multi_string(b"R"), [c"R".to_owned()]);
    }

    proptest::proptest! {
        /// Any bytes: no panic, no NUL inside a name, never more bytes out than in.
        #[test]
        fn multi_string_of_any_bytes(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let names = split_multi_string(&bytes);
            let total: usize = names.iter().map(|n| n.as_bytes().len()).sum();
            proptest::prop_assert!(total <= bytes.len());
            proptest::prop_assert!(names.iter().all(|n| !n.as_bytes().is_empty()));
        }

        /// A well-formed list (names, each NUL-terminated, then a final NUL) comes back whole.
        #[test]
        fn multi_string_round_trip(names in proptest::collection::vec("[ -~]{1,40}", 0..8)) {
            let mut bytes = Vec::new();
            for n in &names {
                bytes.extend_from_slice(n.as_bytes());
                bytes.push(0);
            }
            bytes.push(0);
            let back: Vec<String> = split_multi_string(&bytes)
                .into_iter()
                .map(|c| c.into_string().unwrap_or_default())
                .collect();
            proptest::prop_assert_eq!(back, names);
        }
    }

    #[test]
    fn timeouts_are_capped_below_infinite() {
        assert_eq!(millis(Duration::ZERO), 0);
        assert_eq!(millis(Duration::from_millis(1500)), 1500);
        assert_eq!(millis(Duration::MAX), Dword::from(INFINITE - 1));
    }

    #[test]
    fn written_lengths_are_bounded() {
        assert_eq!(written(3, 3), Ok(3));
        assert_eq!(written(4, 3), Err(PcscError::InsufficientBuffer));
    }
}
