//! The safe core of the module: slots, tokens, sessions, objects and operations, with
//! PKCS#11 return values as errors. The C entry points (`ffi`) only translate pointers into
//! these calls.
#![forbid(unsafe_code)]

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use cps_iasecc::pkcs15::DataObjectEntry;
use cps_iasecc::{CpsCard, Digest, Generation, HashAlgorithm, KeyInfo, KeyRole, Pin, PinStatus};
use cps_transport::TransportError;
use cps_transport::pcsc::{PcscChannel, PcscContext, ShareMode};
use cryptoki_sys::*;
use der::{Decode, Encode};
use zeroize::Zeroizing;

use crate::pinentry;
use cps_iasecc::snapshot;

/// A PKCS#11 return value other than `CKR_OK`.
pub type Rv = CK_RV;
/// The result of a module operation.
pub type R<T> = Result<T, Rv>;

/// Largest message a multi-part hash-and-sign accumulates (the CPS3 finishes the hash on the
/// card from the whole message, as the official module drives it).
const MAX_MESSAGE: usize = 16 * 1024 * 1024;
/// Largest number of readers (slots) the module keeps.
const MAX_SLOTS: usize = 64;
/// Largest number of open sessions.
const MAX_SESSIONS: usize = 1024;
/// The issuer prefix of the CPS card serial (Cryptolib `card-cps4.c` `PREFIX_SN`).
const PREFIX_SN: &str = "8025000001";
/// Holder PIN tries of the CPS cards (notes: `9A 01 03`, max 3).
const PIN_MAX_TRIES: u8 = 3;

/// The module state, behind one lock. `None` when not initialised.
static STATE: Mutex<Option<Module>> = Mutex::new(None);

/// Runs `f` on the initialised module. A state inherited through `fork` (another process id)
/// is forgotten, without closing its PC/SC handles, which belong to the parent.
pub fn with_module<T>(f: impl FnOnce(&mut Module) -> R<T>) -> R<T> {
    let mut guard = lock();
    check_fork(&mut guard);
    match guard.as_mut() {
        Some(m) => f(m),
        None => Err(CKR_CRYPTOKI_NOT_INITIALIZED),
    }
}

fn lock() -> MutexGuard<'static, Option<Module>> {
    // A panic while the lock was held (caught at the entry point) leaves the state as it was
    // at that point; every operation keeps it consistent step by step, so go on.
    STATE.lock().unwrap_or_else(|p| p.into_inner())
}

fn check_fork(guard: &mut MutexGuard<'static, Option<Module>>) {
    if guard.as_ref().is_some_and(|m| m.pid != std::process::id()) {
        // The parent's PC/SC context and card handles: never used nor closed here.
        if let Some(m) = guard.take() {
            std::mem::forget(m);
        }
    }
}

/// `C_Initialize`.
pub fn initialize() -> R<()> {
    let mut guard = lock();
    check_fork(&mut guard);
    if guard.is_some() {
        return Err(CKR_CRYPTOKI_ALREADY_INITIALIZED);
    }
    *guard = Some(Module::new());
    Ok(())
}

/// `C_Finalize`: closes every session (the cards are reset when their connection is dropped
/// after a PIN was verified).
pub fn finalize() -> R<()> {
    let mut guard = lock();
    check_fork(&mut guard);
    match guard.take() {
        Some(_) => Ok(()),
        None => Err(CKR_CRYPTOKI_NOT_INITIALIZED),
    }
}

/// `C_Login` without a PIN (protected authentication path): the module asks the PIN through
/// the configured pinentry program ([`PINENTRY_ENV`]), then logs in with it as
/// [`Module::login`] does: sent to the card once, never retried (a wrong PIN is
/// `CKR_PIN_INCORRECT` with one try spent, and no new dialog), wiped. The module lock is free
/// while the dialog is open. Cancelled (or no PIN within [`PINENTRY_TIMEOUT`]):
/// `CKR_FUNCTION_CANCELED`, nothing sent to the card; the program missing or failing:
/// `CKR_FUNCTION_FAILED`.
pub fn login_with_pinentry(h: CK_SESSION_HANDLE, user: CK_USER_TYPE) -> R<()> {
    let (program, request) = with_module(|m| m.pinentry_request(h, user))?;
    let pin = pinentry::ask(&program, &request, PINENTRY_TIMEOUT).map_err(|e| {
        debug(&e);
        match e {
            pinentry::PinentryError::Cancelled
            | pinentry::PinentryError::DialogTimeout
            | pinentry::PinentryError::Timeout(_) => CKR_FUNCTION_CANCELED,
            _ => CKR_FUNCTION_FAILED,
        }
    })?;
    with_module(|m| m.login(h, user, &pin))
}

/// Before `C_SignInit` / `C_DecryptInit` on `key` (one of the card's keys): with the PIN
/// asked on use ([`PIN_ON_USE_ENV`]) and the token not logged in, asks the PIN through the
/// pinentry program and logs in ([`login_with_pinentry`]: once, never retried; after a wrong
/// PIN, only a new operation of the application opens a new dialog). Otherwise nothing.
pub fn login_on_use(h: CK_SESSION_HANDLE, key: CK_OBJECT_HANDLE, op: OnUse) -> R<()> {
    let needed = with_module(|m| {
        let slot = m.session(h)?.slot;
        if !m.pin_on_use || m.slots.get(slot).is_some_and(|s| s.logged_in) {
            return Ok(false);
        }
        // Only for one of the card's keys (another handle fails in the operation itself,
        // without a dialog).
        let Ok((Object::PrivateKey(k), generation)) =
            m.on_card(slot, |c| Ok((c.object(key)?, c.card.generation())))
        else {
            return Ok(false);
        };
        // What the operation would refuse anyway is refused before the dialog: the user is
        // not asked for a PIN that could not be used.
        match op {
            OnUse::Sign(mech) if mech.is_pss() && generation != Generation::Cps4 => {
                Err(CKR_MECHANISM_INVALID)
            }
            OnUse::Sign(_) if !(k.can(KeyRole::Signature) || k.can(KeyRole::Authentication)) => {
                Err(CKR_KEY_FUNCTION_NOT_PERMITTED)
            }
            OnUse::Decrypt(mech) if mech != CKM_RSA_PKCS => Err(CKR_MECHANISM_INVALID),
            OnUse::Decrypt(_) if !k.flags.decrypt() => Err(CKR_KEY_FUNCTION_NOT_PERMITTED),
            _ => Ok(true),
        }
    })?;
    if needed {
        match login_with_pinentry(h, CKU_USER) {
            // Another thread of the application logged in while this dialog was open: the
            // PIN typed here was not sent (and is wiped); the operation goes on.
            Err(CKR_USER_ALREADY_LOGGED_IN) => {}
            r => r?,
        }
    }
    Ok(())
}

/// The operation a PIN asked on use is for ([`login_on_use`]).
#[derive(Debug, Clone, Copy)]
pub enum OnUse {
    /// `C_SignInit` with this mechanism.
    Sign(Mechanism),
    /// `C_DecryptInit` with this mechanism (only `CKM_RSA_PKCS` is valid).
    Decrypt(CK_MECHANISM_TYPE),
}

/// A signature mechanism with its parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    /// `CKM_RSA_PKCS`: sign a DigestInfo, or decrypt.
    RsaPkcs,
    /// `CKM_SHA1_RSA_PKCS` / `CKM_SHA256_RSA_PKCS`: hash and sign.
    HashRsaPkcs(HashAlgorithm),
    /// `CKM_RSA_PKCS_PSS` on a hash of this algorithm.
    RsaPkcsPss(HashAlgorithm),
    /// `CKM_SHA256_RSA_PKCS_PSS`: hash and sign with PSS.
    HashRsaPkcsPss(HashAlgorithm),
}

/// `CK_RSA_PKCS_PSS_PARAMS` as read by the FFI layer.
#[derive(Debug, Clone, Copy)]
pub struct PssParams {
    /// hashAlg.
    pub hash: CK_MECHANISM_TYPE,
    /// mgf.
    pub mgf: CK_RSA_PKCS_MGF_TYPE,
    /// sLen.
    pub salt_len: CK_ULONG,
}

fn hash_of_mech(m: CK_MECHANISM_TYPE) -> Option<HashAlgorithm> {
    match m {
        CKM_SHA_1 => Some(HashAlgorithm::Sha1),
        CKM_SHA256 => Some(HashAlgorithm::Sha256),
        _ => None,
    }
}

fn mgf_of(h: HashAlgorithm) -> CK_RSA_PKCS_MGF_TYPE {
    match h {
        HashAlgorithm::Sha1 => CKG_MGF1_SHA1,
        HashAlgorithm::Sha256 => CKG_MGF1_SHA256,
        HashAlgorithm::Sha384 => CKG_MGF1_SHA384,
        HashAlgorithm::Sha512 => CKG_MGF1_SHA512,
    }
}

impl Mechanism {
    /// The mechanism of a `CK_MECHANISM` (`pss`: its parameters, when it has them).
    pub fn parse(mech: CK_MECHANISM_TYPE, pss: Option<PssParams>) -> R<Mechanism> {
        // The card salts with the hash length and MGF1 of the same hash (card-cps4.c, PSS
        // algorithm references 0x15 / 0x2C): other parameters cannot be honoured.
        let pss_hash = |expected: Option<HashAlgorithm>| -> R<HashAlgorithm> {
            let p = pss.ok_or(CKR_MECHANISM_PARAM_INVALID)?;
            let h = hash_of_mech(p.hash).ok_or(CKR_MECHANISM_PARAM_INVALID)?;
            let len = CK_ULONG::try_from(h.output_len()).map_err(|_| CKR_GENERAL_ERROR)?;
            if expected.is_some_and(|e| e != h) || p.mgf != mgf_of(h) || p.salt_len != len {
                return Err(CKR_MECHANISM_PARAM_INVALID);
            }
            Ok(h)
        };
        Ok(match mech {
            CKM_RSA_PKCS => Mechanism::RsaPkcs,
            CKM_SHA1_RSA_PKCS => Mechanism::HashRsaPkcs(HashAlgorithm::Sha1),
            CKM_SHA256_RSA_PKCS => Mechanism::HashRsaPkcs(HashAlgorithm::Sha256),
            CKM_RSA_PKCS_PSS => Mechanism::RsaPkcsPss(pss_hash(None)?),
            CKM_SHA256_RSA_PKCS_PSS => {
                Mechanism::HashRsaPkcsPss(pss_hash(Some(HashAlgorithm::Sha256))?)
            }
            _ => return Err(CKR_MECHANISM_INVALID),
        })
    }

    fn is_pss(self) -> bool {
        matches!(
            self,
            Mechanism::RsaPkcsPss(_) | Mechanism::HashRsaPkcsPss(_)
        )
    }

    fn multi_part(self) -> bool {
        matches!(
            self,
            Mechanism::HashRsaPkcs(_) | Mechanism::HashRsaPkcsPss(_)
        )
    }
}

/// The mechanisms of a card generation.
pub fn mechanisms(generation: Generation) -> Vec<CK_MECHANISM_TYPE> {
    let mut m = vec![CKM_RSA_PKCS, CKM_SHA1_RSA_PKCS, CKM_SHA256_RSA_PKCS];
    if generation == Generation::Cps4 {
        m.extend([CKM_RSA_PKCS_PSS, CKM_SHA256_RSA_PKCS_PSS]);
    }
    m
}

/// The output of an operation under the two-call convention.
#[derive(Debug)]
pub enum Output {
    /// The caller asked for the length only (no buffer): the operation stays active.
    Size(usize),
    /// The caller's buffer is too small for this length: the operation stays active.
    TooSmall(usize),
    /// The result; the operation is over.
    Bytes(Zeroizing<Vec<u8>>),
}

/// What an attribute query gives.
#[derive(Debug)]
pub enum Attr {
    /// The value.
    Value(Vec<u8>),
    /// The attribute is sensitive (private key material).
    Sensitive,
    /// The object has no such attribute.
    Invalid,
}

/// Slot description.
#[derive(Debug)]
pub struct SlotDescription {
    /// The reader name.
    pub reader: String,
    /// A card is in the reader.
    pub token_present: bool,
}

/// Token description.
#[derive(Debug)]
pub struct TokenDescription {
    /// Label (EF.TokenInfo).
    pub label: String,
    /// Manufacturer (EF.TokenInfo).
    pub manufacturer: String,
    /// Model.
    pub model: String,
    /// Serial number (EF.SN, as Cryptolib shows it).
    pub serial: String,
    /// `CKF_*` token flags.
    pub flags: CK_FLAGS,
    /// Open sessions on the token.
    pub sessions: usize,
    /// Open read-write sessions on the token.
    pub rw_sessions: usize,
}

/// The certificate parts PKCS#11 attributes need.
#[derive(Debug, Clone)]
struct CertParts {
    der: Vec<u8>,
    subject: Vec<u8>,
    issuer: Vec<u8>,
    serial: Vec<u8>,
    modulus: Vec<u8>,
    exponent: Vec<u8>,
}

impl CertParts {
    fn parse(der: Vec<u8>) -> R<CertParts> {
        let cert = x509_cert::Certificate::from_der(&der).map_err(|_| CKR_DEVICE_ERROR)?;
        let tbs = &cert.tbs_certificate;
        let enc = |r: der::Result<Vec<u8>>| r.map_err(|_| CKR_DEVICE_ERROR);
        let spki = &tbs.subject_public_key_info;
        let key_bytes = spki.subject_public_key.as_bytes().ok_or(CKR_DEVICE_ERROR)?;
        let rsa_key =
            rsa::pkcs1::RsaPublicKey::from_der(key_bytes).map_err(|_| CKR_DEVICE_ERROR)?;
        Ok(CertParts {
            subject: enc(tbs.subject.to_der())?,
            issuer: enc(tbs.issuer.to_der())?,
            serial: enc(tbs.serial_number.to_der())?,
            modulus: rsa_key.modulus.as_bytes().to_vec(),
            exponent: rsa_key.public_exponent.as_bytes().to_vec(),
            der,
        })
    }
}

/// An object of the token.
#[derive(Debug, Clone)]
enum Object {
    PrivateKey(KeyInfo),
    Certificate {
        id: Vec<u8>,
        label: String,
        authority: bool,
    },
    PublicKey {
        id: Vec<u8>,
        label: String,
    },
    Data(DataObjectEntry),
}

impl Object {
    fn private(&self) -> bool {
        match self {
            Object::PrivateKey(_) => true,
            Object::Data(d) => d.private,
            _ => false,
        }
    }
}

/// Object handles: a base per PKCS#15 directory plus the entry's index, so that a handle
/// stays valid while only the directories an operation needs are read.
const KEY_BASE: CK_OBJECT_HANDLE = 0x100;
const CERT_BASE: CK_OBJECT_HANDLE = 0x200;
const PUBKEY_BASE: CK_OBJECT_HANDLE = 0x300;
const DATA_BASE: CK_OBJECT_HANDLE = 0x400;
/// Entries per directory the module exposes.
const MAX_ENTRIES: usize = 0xFF;

/// An open card.
struct Conn {
    card: CpsCard<PcscChannel>,
    keys: Option<Vec<KeyInfo>>,
    cert_entries: Option<Vec<cps_iasecc::pkcs15::CertificateEntry>>,
    data: Option<Vec<DataObjectEntry>>,
    certs: HashMap<Vec<u8>, CertParts>,
    token: Option<(String, String, String)>,
    /// The PIN state last read, and when: applications call `C_GetTokenInfo` several times
    /// in a row (pkcs11-tool twice before `C_Login`); one empty VERIFY serves them for
    /// [`PIN_STATUS_TTL`]. Any login attempt forgets it.
    pin_status: Option<(PinStatus, Instant)>,
    /// The card's entry in the directory cache, when the cache is on.
    cache: Option<ConnCache>,
}

/// What a connection knows of its card's cache file ([`crate::cache`]).
struct ConnCache {
    serial: cps_iasecc::CardSerial,
    /// Directory files in the file (loaded or written); `usize::MAX`: never write again in
    /// this connection (the file was found wrong).
    saved: usize,
    /// Whether the card's structure came from the file.
    preloaded: bool,
}

/// How long a PIN state read from the card is reused for the token flags.
const PIN_STATUS_TTL: Duration = Duration::from_secs(2);

fn handle(base: CK_OBJECT_HANDLE, index: usize) -> R<CK_OBJECT_HANDLE> {
    CK_OBJECT_HANDLE::try_from(index)
        .map(|i| base + i)
        .map_err(|_| CKR_GENERAL_ERROR)
}

impl Conn {
    /// The private keys of the PrKDF (read once: ODF + PrKDF).
    fn keys(&mut self) -> R<&[KeyInfo]> {
        if self.keys.is_none() {
            let mut k = self.card.keys().map_err(card_err)?;
            k.truncate(MAX_ENTRIES);
            self.keys = Some(k);
        }
        Ok(self.keys.as_deref().unwrap_or_default())
    }

    /// The certificate entries of the CDF (read once, without the certificates).
    fn cert_entries(&mut self) -> R<&[cps_iasecc::pkcs15::CertificateEntry]> {
        if self.cert_entries.is_none() {
            let mut c = self.card.certificate_entries().map_err(card_err)?;
            c.truncate(MAX_ENTRIES);
            self.cert_entries = Some(c);
        }
        Ok(self.cert_entries.as_deref().unwrap_or_default())
    }

    /// The data objects of the DODF (read once). Cryptolib lists the private ones before the
    /// public ones (observed with `pkcs11-tool -O --login` on the simulated CPS4); DODF order
    /// otherwise.
    fn data(&mut self) -> R<&[DataObjectEntry]> {
        if self.data.is_none() {
            let all = self.card.data_objects().map_err(card_err)?;
            let (private, public): (Vec<_>, Vec<_>) = all.into_iter().partition(|d| d.private);
            let mut d: Vec<_> = private.into_iter().chain(public).collect();
            d.truncate(MAX_ENTRIES);
            self.data = Some(d);
        }
        Ok(self.data.as_deref().unwrap_or_default())
    }

    /// The object behind a handle (reading only its directory).
    fn object(&mut self, h: CK_OBJECT_HANDLE) -> R<Object> {
        let bad = CKR_OBJECT_HANDLE_INVALID;
        let base = h & !0xFF;
        let index = usize::try_from(h & 0xFF).map_err(|_| bad)?;
        Ok(match base {
            KEY_BASE => Object::PrivateKey(self.keys()?.get(index).ok_or(bad)?.clone()),
            CERT_BASE | PUBKEY_BASE => {
                let c = self.cert_entries()?.get(index).ok_or(bad)?;
                let label = c.label.clone().unwrap_or_default();
                if base == CERT_BASE {
                    Object::Certificate {
                        id: c.id.clone(),
                        label,
                        authority: c.authority,
                    }
                } else {
                    // Cryptolib names a public key taken from a certificate after it:
                    // "Cle publique - <certificate label>" (observed, and OpenSC #2267).
                    Object::PublicKey {
                        id: c.id.clone(),
                        label: format!("Cle publique - {label}"),
                    }
                }
            }
            DATA_BASE => Object::Data(self.data()?.get(index).ok_or(bad)?.clone()),
            _ => return Err(bad),
        })
    }

    /// The handles of the objects of `class` (every object: `None`), in Cryptolib's order:
    /// each private key followed by its certificate and public key, then the other
    /// certificates, then the data objects. Only the directories needed are read.
    fn handles(&mut self, class: Option<CK_OBJECT_CLASS>) -> R<Vec<CK_OBJECT_HANDLE>> {
        let want = |c: CK_OBJECT_CLASS| class.is_none_or(|k| k == c);
        let key_ids: Vec<Vec<u8>> = if want(CKO_PRIVATE_KEY) {
            self.keys()?.iter().map(|k| k.id.clone()).collect()
        } else {
            Vec::new()
        };
        let cert_ids: Vec<Vec<u8>> = if want(CKO_CERTIFICATE) || want(CKO_PUBLIC_KEY) {
            self.cert_entries()?.iter().map(|c| c.id.clone()).collect()
        } else {
            Vec::new()
        };
        let mut out = Vec::new();
        let mut used = vec![false; cert_ids.len()];
        let push_cert = |out: &mut Vec<CK_OBJECT_HANDLE>, j: usize| -> R<()> {
            if want(CKO_CERTIFICATE) {
                out.push(handle(CERT_BASE, j)?);
            }
            if want(CKO_PUBLIC_KEY) {
                out.push(handle(PUBKEY_BASE, j)?);
            }
            Ok(())
        };
        for (i, id) in key_ids.iter().enumerate() {
            out.push(handle(KEY_BASE, i)?);
            for (j, c) in cert_ids.iter().enumerate() {
                if c == id && !used.get(j).copied().unwrap_or(true) {
                    if let Some(u) = used.get_mut(j) {
                        *u = true;
                    }
                    push_cert(&mut out, j)?;
                }
            }
        }
        for j in 0..cert_ids.len() {
            if !used.get(j).copied().unwrap_or(true) {
                push_cert(&mut out, j)?;
            }
        }
        if want(CKO_DATA) {
            for i in 0..self.data()?.len() {
                out.push(handle(DATA_BASE, i)?);
            }
        }
        Ok(out)
    }

    fn cert(&mut self, id: &[u8]) -> R<&CertParts> {
        if !self.certs.contains_key(id) {
            let c = self
                .card
                .certificate_by_id(id)
                .map_err(card_err)?
                .ok_or(CKR_DEVICE_ERROR)?;
            self.certs.insert(id.to_vec(), CertParts::parse(c.der)?);
        }
        self.certs.get(id).ok_or(CKR_GENERAL_ERROR)
    }
}

/// A slot: a PC/SC reader.
struct Slot {
    reader: String,
    /// The reader was in the last listing.
    attached: bool,
    conn: Option<Conn>,
    logged_in: bool,
    /// Card presence as last reported by `C_WaitForSlotEvent` (or first seen).
    reported_present: bool,
    /// The card relayed to an update service (`C_StartUpdate` … `C_EndUpdate`).
    update: Option<crate::relay::UpdateRelay>,
}

enum Operation {
    Sign {
        key: KeyInfo,
        mech: Mechanism,
        data: Zeroizing<Vec<u8>>,
        updated: bool,
    },
    Decrypt {
        /// The cryptogram length (the modulus length).
        len: usize,
        result: Option<Zeroizing<Vec<u8>>>,
    },
}

struct Session {
    slot: usize,
    rw: bool,
    find: Option<Vec<CK_OBJECT_HANDLE>>,
    sign: Option<Operation>,
    decrypt: Option<Operation>,
}

/// The module state.
pub struct Module {
    pid: u32,
    ctx: Option<PcscContext>,
    slots: Vec<Slot>,
    sessions: BTreeMap<CK_SESSION_HANDLE, Session>,
    next_session: CK_SESSION_HANDLE,
    /// The readers were listed once (slot events are changes since then).
    listed: bool,
    /// The pinentry program of the protected authentication path (`CPS_PKCS11_PINENTRY`
    /// when the module was initialised), if configured.
    pinentry: Option<OsString>,
    /// `CPS_PKCS11_PIN_ON_USE=1` with a pinentry program: the token needs no login from the
    /// application (no `CKF_LOGIN_REQUIRED`, the private keys visible without login), and
    /// the first signature or decryption asks the PIN through the pinentry program.
    pin_on_use: bool,
    /// Where the directory cache is (`None`: off), from the environment at `C_Initialize`.
    cache_dir: Option<std::path::PathBuf>,
}

/// The environment variable naming the pinentry program: when set (not empty) at
/// `C_Initialize`, tokens have `CKF_PROTECTED_AUTHENTICATION_PATH` and `C_Login` without a
/// PIN asks it through that program.
pub const PINENTRY_ENV: &str = "CPS_PKCS11_PINENTRY";
/// The environment variable that, set to `1` together with [`PINENTRY_ENV`], makes the token
/// need no login from the application: the private keys are listed without login and the
/// first operation with one asks the PIN through the pinentry program. For applications
/// that cannot answer a PIN dialog of their own (headless Chromium; Chrome's dialog knows
/// nothing of the protected authentication path).
pub const PIN_ON_USE_ENV: &str = "CPS_PKCS11_PIN_ON_USE";
/// How long the user has to enter the PIN in the pinentry dialog.
pub const PINENTRY_TIMEOUT: Duration = Duration::from_secs(120);

/// Internal marker: the card was reset by another application (never returned to callers:
/// [`Module::on_card`] turns it into a PKCS#11 code).
const CARD_RESET: Rv = CKR_VENDOR_DEFINED | 0x0C05_0001;

/// `CPS_PKCS11_DEBUG=1`: the card errors behind the return values go to stderr (they name
/// the command attempted and the status word; never a PIN, which no error carries).
pub(crate) fn debug(what: &dyn std::fmt::Display) {
    if std::env::var_os("CPS_PKCS11_DEBUG").is_some_and(|v| v == "1") {
        eprintln!("cps-pkcs11: {what}");
    }
}

fn card_err(e: cps_iasecc::Error) -> Rv {
    use cps_iasecc::Error as E;
    debug(&e);
    if e.is_card_reset() {
        return CARD_RESET;
    }
    match e {
        E::Transport(t) => transport_err(&t),
        E::WrongPin { .. } => CKR_PIN_INCORRECT,
        E::PinBlocked => CKR_PIN_LOCKED,
        E::SecurityStatusNotSatisfied { .. } => CKR_USER_NOT_LOGGED_IN,
        E::InvalidPinFormat { .. } => CKR_PIN_INCORRECT,
        E::NotACpsCard { .. } => CKR_TOKEN_NOT_RECOGNIZED,
        E::Unsupported { .. } => CKR_FUNCTION_NOT_SUPPORTED,
        E::DecryptionFailed => CKR_ENCRYPTED_DATA_INVALID,
        E::ChannelClosed { .. } => CKR_DEVICE_ERROR,
        _ => CKR_DEVICE_ERROR,
    }
}

pub(crate) fn transport_err(t: &TransportError) -> Rv {
    match t {
        TransportError::NoCard { .. } | TransportError::CardRemoved => CKR_DEVICE_REMOVED,
        TransportError::ServiceUnavailable { .. }
        | TransportError::ServiceStopped { .. }
        | TransportError::NoReader
        | TransportError::UnknownReader { .. } => CKR_DEVICE_REMOVED,
        _ => CKR_DEVICE_ERROR,
    }
}

/// Decodes a PKCS#1 DigestInfo (the data of `CKM_RSA_PKCS` signatures): the hash it carries.
fn parse_digest_info(data: &[u8]) -> R<Digest> {
    for alg in [
        HashAlgorithm::Sha1,
        HashAlgorithm::Sha256,
        HashAlgorithm::Sha384,
        HashAlgorithm::Sha512,
    ] {
        let prefix = alg.digest_info_prefix();
        if let Some(hash) = data.strip_prefix(prefix)
            && hash.len() == alg.output_len()
        {
            return Digest::new(alg, hash).map_err(|_| CKR_DATA_INVALID);
        }
    }
    // The card signs only hashes it knows (CPS3: PSO HASH then PSO CDS; CPS4: PSO CDS of a
    // hash): a raw block (e.g. the MD5+SHA-1 of TLS 1.0) cannot be signed.
    Err(CKR_DATA_INVALID)
}

/// The serial Cryptolib shows: the EF.SN digits in hex without the last byte (Luhn digit and
/// filler) and without the issuer prefix (`card-cps.c`, `pkcs15.c` `sc_pkcs15_parse_efsnicc`).
fn cryptolib_serial(sn: &[u8]) -> String {
    let body = sn.get(..sn.len().saturating_sub(1)).unwrap_or_default();
    let hex: String = body.iter().map(|b| format!("{b:02X}")).collect();
    hex.strip_prefix(PREFIX_SN).unwrap_or(&hex).to_owned()
}

impl Module {
    fn new() -> Module {
        let pinentry = std::env::var_os(PINENTRY_ENV).filter(|p| !p.is_empty());
        let pin_on_use =
            pinentry.is_some() && std::env::var_os(PIN_ON_USE_ENV).is_some_and(|v| v == "1");
        Module {
            pid: std::process::id(),
            ctx: None,
            slots: Vec::new(),
            sessions: BTreeMap::new(),
            next_session: 1,
            listed: false,
            pinentry,
            pin_on_use,
            cache_dir: snapshot::default_dir(),
        }
    }

    fn context(&mut self) -> Option<&PcscContext> {
        if self.ctx.is_none() {
            self.ctx = PcscContext::establish().ok();
        }
        self.ctx.as_ref()
    }

    /// Lists the readers again: new ones get the next slot id, vanished ones stay (detached).
    fn refresh(&mut self) -> Vec<(String, bool)> {
        let listed = match self.context().map(PcscContext::list_readers) {
            Some(Ok(l)) => l,
            Some(Err(_)) => {
                // pcscd restarted or stopped: a new context next time.
                self.ctx = None;
                Vec::new()
            }
            None => Vec::new(),
        };
        for s in &mut self.slots {
            s.attached = false;
        }
        let mut present = Vec::new();
        for r in listed {
            let count = self.slots.len();
            match self.slots.iter_mut().find(|s| s.reader == r.name) {
                Some(s) => s.attached = true,
                None if count < MAX_SLOTS => self.slots.push(Slot {
                    reader: r.name.clone(),
                    attached: true,
                    conn: None,
                    logged_in: false,
                    // A reader plugged in with a card after the first listing is an event
                    // (at the first listing, the state is the reference: set below).
                    reported_present: false,
                    update: None,
                }),
                None => {}
            }
            present.push((r.name, r.card_present));
        }
        if !self.listed {
            // The state at the first listing is the reference: no event for it.
            for s in &mut self.slots {
                s.reported_present = present.iter().any(|(n, p)| *p && *n == s.reader);
            }
            self.listed = true;
        }
        // A card gone from its reader: its connection, login and sessions go too.
        let gone: Vec<usize> = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.conn.is_some() && !present.iter().any(|(n, p)| *p && *n == s.reader))
            .map(|(i, _)| i)
            .collect();
        for i in gone {
            self.drop_token(i);
        }
        present
    }

    /// Forgets the card of a slot: connection (the card is reset if a PIN was verified),
    /// login state and sessions.
    fn drop_token(&mut self, slot: usize) {
        if let Some(s) = self.slots.get_mut(slot) {
            s.conn = None;
            s.logged_in = false;
            s.update = None;
        }
        self.sessions.retain(|_, s| s.slot != slot);
    }

    /// One look for a slot event (`C_WaitForSlotEvent`): the first slot whose card presence
    /// changed since it was last reported, or `None`.
    pub fn slot_event(&mut self) -> Option<CK_SLOT_ID> {
        let present = self.refresh();
        for (i, s) in self.slots.iter_mut().enumerate() {
            let now = s.attached && present.iter().any(|(n, p)| *p && *n == s.reader);
            if now != s.reported_present {
                s.reported_present = now;
                return CK_SLOT_ID::try_from(i).ok();
            }
        }
        None
    }

    /// `C_GetSlotList`.
    pub fn slot_list(&mut self, token_present: bool) -> Vec<CK_SLOT_ID> {
        let present = self.refresh();
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.attached)
            .filter(|(_, s)| !token_present || present.iter().any(|(n, p)| *p && *n == s.reader))
            .filter_map(|(i, _)| CK_SLOT_ID::try_from(i).ok())
            .collect()
    }

    fn slot_index(&self, id: CK_SLOT_ID) -> R<usize> {
        usize::try_from(id)
            .ok()
            .filter(|&i| i < self.slots.len())
            .ok_or(CKR_SLOT_ID_INVALID)
    }

    /// `C_GetSlotInfo`.
    pub fn slot_info(&mut self, id: CK_SLOT_ID) -> R<SlotDescription> {
        let i = self.slot_index(id)?;
        let (reader, token_present) = self.card_in_reader(i)?;
        Ok(SlotDescription {
            reader,
            token_present,
        })
    }

    /// The open card of a slot (connecting to it when needed).
    fn conn(&mut self, slot: usize) -> R<&mut Conn> {
        if self.slots.get(slot).is_some_and(|s| s.update.is_some()) {
            // The card is held exclusively for an update until `C_EndUpdate`.
            return Err(CKR_OPERATION_ACTIVE);
        }
        let reader = self.reader_of(slot)?;
        if self.slots.get(slot).is_some_and(|s| s.conn.is_none()) {
            let ctx = self.context().ok_or(CKR_TOKEN_NOT_PRESENT)?.clone();
            let mut attempt = 0;
            let card = loop {
                attempt += 1;
                let channel = match ctx.connect(&reader, ShareMode::Shared) {
                    Ok(c) => c,
                    // Reset by another application while connecting: connect again.
                    Err(e) if e.is_card_reset() && attempt < 3 => {
                        debug(&e);
                        continue;
                    }
                    Err(e) => {
                        debug(&e);
                        return Err(match e {
                            TransportError::NoCard { .. } | TransportError::CardRemoved => {
                                CKR_TOKEN_NOT_PRESENT
                            }
                            e => transport_err(&e),
                        });
                    }
                };
                match CpsCard::open(channel) {
                    Ok(card) => break card,
                    // Reset by another application while we selected the application: the
                    // selection has no effect and carries no secret, do it once more.
                    Err(e) => match card_err(e) {
                        CARD_RESET if attempt < 3 => continue,
                        CARD_RESET => return Err(CKR_DEVICE_ERROR),
                        CKR_DEVICE_ERROR | CKR_FUNCTION_NOT_SUPPORTED => {
                            return Err(CKR_TOKEN_NOT_RECOGNIZED);
                        }
                        rv => return Err(rv),
                    },
                }
            };
            let mut card = card;
            // The serial names the card's cache file (and is read for the token info anyway).
            let cache = self.cache_dir.as_deref().and_then(|dir| {
                let serial = card.serial().map_err(|e| debug(&e)).ok()?;
                let mut c = ConnCache {
                    serial,
                    saved: 0,
                    preloaded: false,
                };
                let kept = snapshot::load(dir, &c.serial, card.generation()).unwrap_or_else(|e| {
                    debug(&e);
                    None
                });
                if let Some(kept) = kept {
                    match card.preload_directory(&kept) {
                        Ok(n) => {
                            c.saved = card.directory_snapshot().len();
                            c.preloaded = n > 0;
                        }
                        Err(e) => {
                            debug(&e);
                            snapshot::forget(dir, &c.serial);
                        }
                    }
                }
                Some(c)
            });
            if let Some(s) = self.slots.get_mut(slot) {
                s.conn = Some(Conn {
                    card,
                    cache,
                    keys: None,
                    cert_entries: None,
                    data: None,
                    certs: HashMap::new(),
                    token: None,
                    pin_status: None,
                });
                s.logged_in = false;
            }
        }
        self.slots
            .get_mut(slot)
            .and_then(|s| s.conn.as_mut())
            .ok_or(CKR_TOKEN_NOT_PRESENT)
    }

    /// Runs a card operation; a removed card drops the token (and its sessions).
    ///
    /// A card reset by another application (another process logging out resets the card)
    /// loses its state: the connection is released without a second reset, the login is
    /// gone (`CKR_USER_NOT_LOGGED_IN` when this token was logged in: the application logs in
    /// again; the module never re-sends a PIN). Without a login the operation only read
    /// public data, so it runs once more on a fresh connection.
    fn on_card<T>(&mut self, slot: usize, f: impl FnMut(&mut Conn) -> R<T>) -> R<T> {
        self.on_card_with(slot, true, f)
    }

    fn on_card_with<T>(
        &mut self,
        slot: usize,
        retry: bool,
        mut f: impl FnMut(&mut Conn) -> R<T>,
    ) -> R<T> {
        let r = f(self.conn(slot)?);
        self.cache_after(slot, &r);
        match r {
            Err(CKR_DEVICE_REMOVED) => {
                self.drop_token(slot);
                Err(CKR_DEVICE_REMOVED)
            }
            Err(CARD_RESET) => {
                let was_logged_in = self.forget_reset_card(slot);
                if was_logged_in {
                    return Err(CKR_USER_NOT_LOGGED_IN);
                }
                if !retry {
                    return Err(CKR_DEVICE_ERROR);
                }
                let r = f(self.conn(slot)?);
                self.cache_after(slot, &r);
                match r {
                    Err(CARD_RESET) => {
                        self.forget_reset_card(slot);
                        Err(CKR_DEVICE_ERROR)
                    }
                    Err(CKR_DEVICE_REMOVED) => {
                        self.drop_token(slot);
                        Err(CKR_DEVICE_REMOVED)
                    }
                    r => r,
                }
            }
            r => r,
        }
    }

    /// After a card operation: directory files newly read go to the cache file; a failure
    /// on the card while the structure came from the cache removes the file (the card may
    /// have been changed elsewhere: the next process reads it in full).
    fn cache_after<T>(&mut self, slot: usize, r: &R<T>) {
        let Some(dir) = self.cache_dir.as_deref() else {
            return;
        };
        let Some(conn) = self.slots.get_mut(slot).and_then(|s| s.conn.as_mut()) else {
            return;
        };
        let Some(c) = conn.cache.as_mut() else {
            return;
        };
        match r {
            Ok(_) => {
                let kept = conn.card.directory_snapshot();
                if c.saved != usize::MAX && kept.len() > c.saved {
                    if let Err(e) = snapshot::store(dir, &c.serial, conn.card.generation(), kept) {
                        debug(&e);
                    }
                    c.saved = kept.len();
                }
            }
            Err(
                CKR_DEVICE_ERROR
                | CKR_FUNCTION_FAILED
                | CKR_GENERAL_ERROR
                | CKR_TOKEN_NOT_RECOGNIZED
                | CKR_KEY_HANDLE_INVALID,
            ) if c.preloaded => {
                debug(&format_args!(
                    "card operation failed with the cached structure: cache file removed"
                ));
                snapshot::forget(dir, &c.serial);
                c.preloaded = false;
                c.saved = usize::MAX;
            }
            Err(_) => {}
        }
    }

    /// Releases the connection of a card that was reset (leaving it: it is reset already, a
    /// second reset would only disturb the application that reset it); returns whether the
    /// token was logged in. The sessions stay, without their operations.
    fn forget_reset_card(&mut self, slot: usize) -> bool {
        let Some(s) = self.slots.get_mut(slot) else {
            return false;
        };
        let was = std::mem::replace(&mut s.logged_in, false);
        if let Some(conn) = s.conn.take() {
            let _ = conn.card.into_channel().disconnect(false);
        }
        for sess in self.sessions.values_mut().filter(|x| x.slot == slot) {
            sess.find = None;
            sess.sign = None;
            sess.decrypt = None;
        }
        was
    }

    /// `C_GetTokenInfo`.
    pub fn token_info(&mut self, id: CK_SLOT_ID) -> R<TokenDescription> {
        let slot = self.slot_index(id)?;
        let (sessions, rw_sessions) = self
            .sessions
            .values()
            .filter(|s| s.slot == slot)
            .fold((0, 0), |(n, rw), s| (n + 1, rw + usize::from(s.rw)));
        let mut auth = if self.pinentry.is_some() {
            CKF_PROTECTED_AUTHENTICATION_PATH
        } else {
            0
        };
        if !self.pin_on_use {
            auth |= CKF_LOGIN_REQUIRED;
        }
        self.on_card(slot, |c| {
            if c.token.is_none() {
                let ti = c.card.token_info().map_err(card_err)?;
                let sn = c.card.serial().map_err(card_err)?;
                c.token = Some((
                    ti.label.unwrap_or_default(),
                    ti.manufacturer_id.unwrap_or_default(),
                    cryptolib_serial(sn.as_bytes()),
                ));
            }
            let pin = match c.pin_status {
                Some((p, at)) if at.elapsed() < PIN_STATUS_TTL => p,
                _ => {
                    let p = c.card.pin_status().map_err(card_err)?;
                    c.pin_status = Some((p, Instant::now()));
                    p
                }
            };
            let mut flags =
                CKF_USER_PIN_INITIALIZED | CKF_TOKEN_INITIALIZED | CKF_WRITE_PROTECTED | auth;
            flags |= match pin {
                PinStatus::Blocked => CKF_USER_PIN_LOCKED,
                PinStatus::RetriesLeft(1) => CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY,
                PinStatus::RetriesLeft(n) if n < PIN_MAX_TRIES => CKF_USER_PIN_COUNT_LOW,
                _ => 0,
            };
            let (label, manufacturer, serial) = c.token.clone().unwrap_or_default();
            Ok(TokenDescription {
                label,
                manufacturer,
                // What Cryptolib 5.2.2 shows for both generations (observed on the simulated
                // CPS3 and CPS4: "token model : IAS ECC").
                model: "IAS ECC".to_owned(),
                serial,
                flags,
                sessions,
                rw_sessions,
            })
        })
    }

    /// `C_GetMechanismList`.
    pub fn mechanism_list(&mut self, id: CK_SLOT_ID) -> R<Vec<CK_MECHANISM_TYPE>> {
        let slot = self.slot_index(id)?;
        self.on_card(slot, |c| Ok(mechanisms(c.card.generation())))
    }

    /// `C_GetMechanismInfo`: (min key bits, max key bits, flags).
    pub fn mechanism_info(
        &mut self,
        id: CK_SLOT_ID,
        mech: CK_MECHANISM_TYPE,
    ) -> R<(CK_ULONG, CK_ULONG, CK_FLAGS)> {
        if !self.mechanism_list(id)?.contains(&mech) {
            return Err(CKR_MECHANISM_INVALID);
        }
        let flags = if mech == CKM_RSA_PKCS {
            CKF_HW | CKF_SIGN | CKF_DECRYPT
        } else {
            CKF_HW | CKF_SIGN
        };
        Ok((2048, 2048, flags))
    }

    /// `C_OpenSession`.
    pub fn open_session(&mut self, id: CK_SLOT_ID, flags: CK_FLAGS) -> R<CK_SESSION_HANDLE> {
        if flags & CKF_SERIAL_SESSION == 0 {
            return Err(CKR_SESSION_PARALLEL_NOT_SUPPORTED);
        }
        let slot = self.slot_index(id)?;
        if self.sessions.len() >= MAX_SESSIONS {
            return Err(CKR_SESSION_COUNT);
        }
        self.conn(slot)?;
        let h = self.next_session;
        self.next_session = self.next_session.checked_add(1).unwrap_or(1);
        self.sessions.insert(
            h,
            Session {
                slot,
                rw: flags & CKF_RW_SESSION != 0,
                find: None,
                sign: None,
                decrypt: None,
            },
        );
        Ok(h)
    }

    fn session(&mut self, h: CK_SESSION_HANDLE) -> R<&mut Session> {
        self.sessions.get_mut(&h).ok_or(CKR_SESSION_HANDLE_INVALID)
    }

    /// `C_CloseSession`; the last session of a token logs out (the card is reset).
    pub fn close_session(&mut self, h: CK_SESSION_HANDLE) -> R<()> {
        let s = self.sessions.remove(&h).ok_or(CKR_SESSION_HANDLE_INVALID)?;
        if let Some(slot) = self.slots.get_mut(s.slot)
            && slot.update.as_ref().is_some_and(|u| u.session() == h)
        {
            slot.update = None;
        }
        if !self.sessions.values().any(|o| o.slot == s.slot) {
            self.logout_slot(s.slot);
        }
        Ok(())
    }

    /// `C_CloseAllSessions`.
    pub fn close_all_sessions(&mut self, id: CK_SLOT_ID) -> R<()> {
        let slot = self.slot_index(id)?;
        self.sessions.retain(|_, s| s.slot != slot);
        self.logout_slot(slot);
        Ok(())
    }

    /// Logs out: the connection is dropped, which resets the card after a VERIFY
    /// (cps-transport), so the PIN's security state is gone.
    fn logout_slot(&mut self, slot: usize) {
        if let Some(s) = self.slots.get_mut(slot)
            && s.logged_in
        {
            s.logged_in = false;
            s.conn = None;
        }
    }

    /// `C_StartUpdate` (Cryptolib's update extension): the session's card is held for an
    /// update relayed by the application ([`crate::relay`]).
    pub fn start_update(&mut self, h: CK_SESSION_HANDLE) -> R<()> {
        let slot = self.session(h)?.slot;
        if self.slots.get(slot).is_some_and(|s| s.update.is_some()) {
            return Err(CKR_OPERATION_ACTIVE);
        }
        let (reader, present) = self.card_in_reader(slot)?;
        if !present {
            return Err(CKR_DEVICE_REMOVED);
        }
        // The module's own connection goes (with the login: the card is reset if a PIN was
        // verified); the sessions stay, without their operations.
        self.forget_connection(slot);
        let ctx = self.context().ok_or(CKR_DEVICE_ERROR)?.clone();
        let relay = crate::relay::UpdateRelay::start(&ctx, &reader, h)?;
        if let Some(s) = self.slots.get_mut(slot) {
            s.update = Some(relay);
        }
        Ok(())
    }

    /// `C_TransmitMessage`: one command of the update application to the card, its answer
    /// (`data ‖ SW1 SW2`).
    pub fn transmit_update(&mut self, h: CK_SESSION_HANDLE, command: &[u8]) -> R<Vec<u8>> {
        let slot = self.session(h)?.slot;
        let relay = self
            .slots
            .get_mut(slot)
            .and_then(|s| s.update.as_mut())
            .filter(|u| u.session() == h)
            .ok_or(CKR_OPERATION_NOT_INITIALIZED)?;
        let r = relay.transmit(command);
        if r == Err(CKR_DEVICE_REMOVED) {
            self.drop_token(slot);
        }
        r
    }

    /// The application has the answer of the last `C_TransmitMessage`.
    pub fn update_delivered(&mut self, h: CK_SESSION_HANDLE) -> R<()> {
        let slot = self.session(h)?.slot;
        if let Some(u) = self.slots.get_mut(slot).and_then(|s| s.update.as_mut()) {
            u.delivered();
        }
        Ok(())
    }

    /// `C_KeepAlive`: whether the card is still there (`CKR_DEVICE_REMOVED` otherwise).
    pub fn keep_alive(&mut self, h: CK_SESSION_HANDLE) -> R<()> {
        let slot = self.session(h)?.slot;
        if self.card_in_reader(slot)?.1 {
            Ok(())
        } else {
            self.drop_token(slot);
            Err(CKR_DEVICE_REMOVED)
        }
    }

    /// `C_EndUpdate`: the card is released (reset: an update changed it) and read again
    /// from scratch by the next operation; the directory snapshots kept on disk are dropped
    /// (the update may have changed the card's structure).
    pub fn end_update(&mut self, h: CK_SESSION_HANDLE) -> R<()> {
        let slot = self.session(h)?.slot;
        let s = self.slots.get_mut(slot).ok_or(CKR_SLOT_ID_INVALID)?;
        if s.update.as_ref().is_none_or(|u| u.session() != h) {
            return Err(CKR_OPERATION_NOT_INITIALIZED);
        }
        let relay = s.update.take();
        let changed = relay.is_some_and(crate::relay::UpdateRelay::end);
        if changed && let Some(dir) = self.cache_dir.as_deref() {
            cps_iasecc::snapshot::forget_all(dir);
        }
        Ok(())
    }

    /// A slot's reader name.
    fn reader_of(&self, slot: usize) -> R<String> {
        Ok(self
            .slots
            .get(slot)
            .ok_or(CKR_SLOT_ID_INVALID)?
            .reader
            .clone())
    }

    /// A slot's reader name, and whether a card is in it now (the readers listed again).
    fn card_in_reader(&mut self, slot: usize) -> R<(String, bool)> {
        let present = self.refresh();
        let reader = self.reader_of(slot)?;
        let here = present.iter().any(|(n, p)| *p && *n == reader);
        Ok((reader, here))
    }

    /// Drops the module's connection to a slot's card and its login (the card is reset if
    /// a PIN was verified); the sessions stay, without their operations.
    fn forget_connection(&mut self, slot: usize) {
        if let Some(s) = self.slots.get_mut(slot) {
            s.conn = None;
            s.logged_in = false;
        }
        for sess in self.sessions.values_mut().filter(|x| x.slot == slot) {
            sess.find = None;
            sess.sign = None;
            sess.decrypt = None;
        }
    }

    /// `C_GetSessionInfo`: (slot, state, flags).
    pub fn session_info(&mut self, h: CK_SESSION_HANDLE) -> R<(CK_SLOT_ID, CK_STATE, CK_FLAGS)> {
        let s = self.sessions.get(&h).ok_or(CKR_SESSION_HANDLE_INVALID)?;
        let logged_in = self.slots.get(s.slot).is_some_and(|t| t.logged_in);
        let state = match (s.rw, logged_in) {
            (false, false) => CKS_RO_PUBLIC_SESSION,
            (false, true) => CKS_RO_USER_FUNCTIONS,
            (true, false) => CKS_RW_PUBLIC_SESSION,
            (true, true) => CKS_RW_USER_FUNCTIONS,
        };
        let mut flags = CKF_SERIAL_SESSION;
        if s.rw {
            flags |= CKF_RW_SESSION;
        }
        let slot = CK_SLOT_ID::try_from(s.slot).map_err(|_| CKR_GENERAL_ERROR)?;
        Ok((slot, state, flags))
    }

    /// The slot of a session about to log in as `user`, if that login may go on.
    fn login_slot(&mut self, h: CK_SESSION_HANDLE, user: CK_USER_TYPE) -> R<usize> {
        let slot = self.session(h)?.slot;
        let logged_in = self.slots.get(slot).is_some_and(|s| s.logged_in);
        match user {
            CKU_USER if logged_in => Err(CKR_USER_ALREADY_LOGGED_IN),
            CKU_USER => Ok(slot),
            // No key asks for it (CKA_ALWAYS_AUTHENTICATE false), but a fresh VERIFY is
            // harmless when logged in.
            CKU_CONTEXT_SPECIFIC if logged_in => Ok(slot),
            CKU_CONTEXT_SPECIFIC => Err(CKR_USER_NOT_LOGGED_IN),
            _ => Err(CKR_USER_TYPE_INVALID),
        }
    }

    /// What the pinentry dialog of a `C_Login` without PIN shows: the program, and the card's
    /// label with the tries left, read from the card now (an empty VERIFY, no try spent). A
    /// blocked PIN is `CKR_PIN_LOCKED` without a dialog; without a configured program the
    /// PIN must be given (`CKR_ARGUMENTS_BAD`).
    fn pinentry_request(
        &mut self,
        h: CK_SESSION_HANDLE,
        user: CK_USER_TYPE,
    ) -> R<(OsString, pinentry::Request)> {
        let slot = self.login_slot(h, user)?;
        let program = self.pinentry.clone().ok_or(CKR_ARGUMENTS_BAD)?;
        let id = CK_SLOT_ID::try_from(slot).map_err(|_| CKR_GENERAL_ERROR)?;
        let label = self.token_info(id)?.label;
        let status = self.on_card(slot, |c| {
            let p = c.card.pin_status().map_err(card_err)?;
            c.pin_status = Some((p, Instant::now()));
            Ok(p)
        })?;
        let tries = match status {
            PinStatus::Blocked => return Err(CKR_PIN_LOCKED),
            PinStatus::RetriesLeft(1) => "1 try left: a wrong PIN now blocks the card.".to_owned(),
            PinStatus::RetriesLeft(n) => format!("{n} tries left."),
            PinStatus::Verified => String::new(),
        };
        let description = format!("Enter the PIN of the card \"{label}\".\n{tries}");
        Ok((
            program,
            pinentry::Request {
                title: "CPS card (cps-rs)".to_owned(),
                description: description.trim_end().to_owned(),
                prompt: "PIN:".to_owned(),
            },
        ))
    }

    /// `C_Login`. The PIN goes to the card once (one VERIFY); it is never retried.
    pub fn login(&mut self, h: CK_SESSION_HANDLE, user: CK_USER_TYPE, pin: &[u8]) -> R<()> {
        let slot = self.login_slot(h, user)?;
        if !(cps_iasecc::PIN_MIN_LEN..=cps_iasecc::PIN_MAX_LEN).contains(&pin.len()) {
            return Err(CKR_PIN_LEN_RANGE);
        }
        // Validated before any APDU: a typing mistake spends no try.
        let pin = Pin::from_bytes(pin).map_err(|_| CKR_PIN_INCORRECT)?;
        // Never retried: a PIN goes to the card once.
        let r = self.on_card_with(slot, false, |c| {
            c.pin_status = None;
            c.card.verify_pin(&pin).map_err(card_err)
        });
        if matches!(r, Err(CKR_PIN_INCORRECT | CKR_PIN_LOCKED)) {
            // A refused PIN (a context-specific login while logged in) clears the card's
            // verification: the slot is logged out too.
            self.logout_slot(slot);
        }
        r?;
        if let Some(s) = self.slots.get_mut(slot) {
            s.logged_in = true;
        }
        Ok(())
    }

    /// `C_SetPIN`: the card changes the holder PIN (CHANGE REFERENCE DATA with old and new
    /// PIN; on a CPS4 a VERIFY of the old PIN first, as Cryptolib does: `cps_iasecc`
    /// `CpsCard::change_pin`). Each PIN goes to the card once, never retried: a wrong old PIN
    /// is `CKR_PIN_INCORRECT` with one try spent. Both PINs are checked (4–8 digits) before
    /// any APDU. Only in a read/write session (PKCS#11 2.40 `C_SetPIN`:
    /// `CKR_SESSION_READ_ONLY` otherwise). A session that was not logged in stays so: the
    /// connection is dropped afterwards, which resets the card (the CPS4's VERIFY does not
    /// outlive the call).
    pub fn set_pin(&mut self, h: CK_SESSION_HANDLE, old: &[u8], new: &[u8]) -> R<()> {
        let s = self.session(h)?;
        let (slot, rw) = (s.slot, s.rw);
        if !rw {
            return Err(CKR_SESSION_READ_ONLY);
        }
        let logged_in = self.slots.get(slot).is_some_and(|s| s.logged_in);
        let range = cps_iasecc::PIN_MIN_LEN..=cps_iasecc::PIN_MAX_LEN;
        if !range.contains(&old.len()) || !range.contains(&new.len()) {
            return Err(CKR_PIN_LEN_RANGE);
        }
        let old = Pin::from_bytes(old).map_err(|_| CKR_PIN_INCORRECT)?;
        let new = Pin::from_bytes(new).map_err(|_| CKR_PIN_INVALID)?;
        let r = self.on_card_with(slot, false, |c| {
            c.pin_status = None;
            c.card.change_pin(&old, &new).map_err(card_err)
        });
        if !logged_in && let Some(s) = self.slots.get_mut(slot) {
            s.conn = None;
        } else if matches!(r, Err(CKR_PIN_INCORRECT | CKR_PIN_LOCKED)) {
            // A refused PIN clears the card's verification (ISO/IEC 7816-4 VERIFY): the
            // module must not go on believing it is logged in.
            self.logout_slot(slot);
        }
        r
    }

    /// `C_Logout`.
    pub fn logout(&mut self, h: CK_SESSION_HANDLE) -> R<()> {
        let slot = self.session(h)?.slot;
        if !self.slots.get(slot).is_some_and(|s| s.logged_in) {
            return Err(CKR_USER_NOT_LOGGED_IN);
        }
        self.logout_slot(slot);
        for s in self.sessions.values_mut().filter(|s| s.slot == slot) {
            s.find = None;
            s.sign = None;
            s.decrypt = None;
        }
        Ok(())
    }

    /// `C_GetAttributeValue` of one attribute.
    pub fn attribute(
        &mut self,
        h: CK_SESSION_HANDLE,
        handle: CK_OBJECT_HANDLE,
        attr: CK_ATTRIBUTE_TYPE,
    ) -> R<Attr> {
        let slot = self.session(h)?.slot;
        let logged_in = self.slots.get(slot).is_some_and(|s| s.logged_in);
        let on_use = self.pin_on_use;
        self.on_card(slot, |c| {
            let obj = c.object(handle)?;
            if !visible(&obj, logged_in, on_use) {
                return Err(CKR_OBJECT_HANDLE_INVALID);
            }
            attribute(c, &obj, attr)
        })
    }

    /// `C_FindObjectsInit`.
    pub fn find_init(
        &mut self,
        h: CK_SESSION_HANDLE,
        template: &[(CK_ATTRIBUTE_TYPE, Vec<u8>)],
    ) -> R<()> {
        let s = self.session(h)?;
        if s.find.is_some() {
            return Err(CKR_OPERATION_ACTIVE);
        }
        let slot = s.slot;
        let logged_in = self.slots.get(slot).is_some_and(|s| s.logged_in);
        let on_use = self.pin_on_use;
        // CKA_CLASS in the template says which directories to read.
        let class = template
            .iter()
            .find(|(t, _)| *t == CKA_CLASS)
            .map(|(_, v)| {
                v.as_slice()
                    .try_into()
                    .map(CK_OBJECT_CLASS::from_ne_bytes)
                    .map_err(|_| CKR_ATTRIBUTE_VALUE_INVALID)
            })
            .transpose()?;
        let found = self.on_card(slot, |c| {
            let mut found = Vec::new();
            'objects: for h in c.handles(class)? {
                let o = c.object(h)?;
                if !visible(&o, logged_in, on_use) {
                    continue;
                }
                for (t, v) in template {
                    match attribute(c, &o, *t)? {
                        Attr::Value(a) if a == *v => {}
                        _ => continue 'objects,
                    }
                }
                found.push(h);
            }
            Ok(found)
        })?;
        let s = self.session(h)?;
        // Handed out in order by C_FindObjects.
        s.find = Some(found.into_iter().rev().collect());
        Ok(())
    }

    /// `C_FindObjects`.
    pub fn find(&mut self, h: CK_SESSION_HANDLE, max: usize) -> R<Vec<CK_OBJECT_HANDLE>> {
        let list = self
            .session(h)?
            .find
            .as_mut()
            .ok_or(CKR_OPERATION_NOT_INITIALIZED)?;
        let mut out = Vec::new();
        while out.len() < max {
            match list.pop() {
                Some(o) => out.push(o),
                None => break,
            }
        }
        Ok(out)
    }

    /// `C_FindObjectsFinal`.
    pub fn find_final(&mut self, h: CK_SESSION_HANDLE) -> R<()> {
        self.session(h)?
            .find
            .take()
            .map(|_| ())
            .ok_or(CKR_OPERATION_NOT_INITIALIZED)
    }

    /// The private key behind a handle, for an operation (logged in, the key allows it).
    fn key_for(
        &mut self,
        h: CK_SESSION_HANDLE,
        handle: CK_OBJECT_HANDLE,
        decrypt: bool,
    ) -> R<(usize, KeyInfo, Generation)> {
        let slot = self.session(h)?.slot;
        let logged_in = self.slots.get(slot).is_some_and(|s| s.logged_in);
        let (obj, generation) = self.on_card(slot, |c| {
            // Private keys are private objects: without login the handle is not valid.
            Ok((c.object(handle)?, c.card.generation()))
        })?;
        let Object::PrivateKey(key) = obj else {
            return Err(CKR_KEY_TYPE_INCONSISTENT);
        };
        if !logged_in {
            return Err(CKR_USER_NOT_LOGGED_IN);
        }
        let allowed = if decrypt {
            key.flags.decrypt()
        } else {
            key.can(KeyRole::Signature) || key.can(KeyRole::Authentication)
        };
        if !allowed {
            return Err(CKR_KEY_FUNCTION_NOT_PERMITTED);
        }
        Ok((slot, key, generation))
    }

    /// `C_SignInit`.
    pub fn sign_init(
        &mut self,
        h: CK_SESSION_HANDLE,
        mech: Mechanism,
        key: CK_OBJECT_HANDLE,
    ) -> R<()> {
        if self.session(h)?.sign.is_some() {
            return Err(CKR_OPERATION_ACTIVE);
        }
        let (_, key, generation) = self.key_for(h, key, false)?;
        if mech.is_pss() && generation != Generation::Cps4 {
            return Err(CKR_MECHANISM_INVALID);
        }
        self.session(h)?.sign = Some(Operation::Sign {
            key,
            mech,
            data: Zeroizing::new(Vec::new()),
            updated: false,
        });
        Ok(())
    }

    /// `C_SignUpdate`.
    pub fn sign_update(&mut self, h: CK_SESSION_HANDLE, part: &[u8]) -> R<()> {
        let s = self.session(h)?;
        let r = match s.sign.as_mut() {
            Some(Operation::Sign {
                mech,
                data,
                updated,
                ..
            }) => {
                if !mech.multi_part() {
                    Err(CKR_FUNCTION_NOT_SUPPORTED)
                } else if data.len().saturating_add(part.len()) > MAX_MESSAGE {
                    Err(CKR_DATA_LEN_RANGE)
                } else {
                    data.extend_from_slice(part);
                    *updated = true;
                    Ok(())
                }
            }
            _ => return Err(CKR_OPERATION_NOT_INITIALIZED),
        };
        if r.is_err() {
            s.sign = None;
        }
        r
    }

    /// `C_Sign` (`data`: `Some`) or `C_SignFinal` (`None`), with the caller's buffer size
    /// (`None`: length query).
    pub fn sign(
        &mut self,
        h: CK_SESSION_HANDLE,
        data: Option<&[u8]>,
        capacity: Option<usize>,
    ) -> R<Output> {
        let s = self.session(h)?;
        let slot = s.slot;
        let Some(Operation::Sign {
            key,
            mech,
            data: acc,
            updated,
        }) = s.sign.as_ref()
        else {
            return Err(CKR_OPERATION_NOT_INITIALIZED);
        };
        if data.is_some() && *updated {
            // C_Sign after C_SignUpdate is not allowed (PKCS#11 v2.40 §5.12).
            s.sign = None;
            return Err(CKR_FUNCTION_FAILED);
        }
        let len = key
            .algorithm
            .signature_len()
            .ok_or(CKR_KEY_TYPE_INCONSISTENT)?;
        match capacity {
            None => return Ok(Output::Size(len)),
            Some(c) if c < len => return Ok(Output::TooSmall(len)),
            Some(_) => {}
        }
        let (key, mech) = (key.clone(), *mech);
        let message: Zeroizing<Vec<u8>> = match data {
            Some(d) if d.len() > MAX_MESSAGE => {
                s.sign = None;
                return Err(CKR_DATA_LEN_RANGE);
            }
            Some(d) => Zeroizing::new(d.to_vec()),
            None => acc.clone(),
        };
        // From here the operation ends, whatever the card answers.
        s.sign = None;
        let signature = self.on_card(slot, |c| {
            let card = &mut c.card;
            let is_sig = key.usage == KeyRole::Signature;
            let r = match mech {
                Mechanism::RsaPkcs => {
                    let digest = parse_digest_info(&message)?;
                    if is_sig {
                        card.sign(&key, &digest)
                    } else {
                        card.authenticate_with(&key, &digest)
                    }
                }
                Mechanism::HashRsaPkcs(hash) => {
                    // The host hashes; the card signs the hash (CPS3: MSE SET DST, PSO HASH,
                    // PSO CDS — 3 APDUs, the form `cps sign` uses; CPS4: MSE, PSO CDS).
                    let digest = Digest::of(hash, &message).map_err(|_| CKR_GENERAL_ERROR)?;
                    if is_sig {
                        card.sign(&key, &digest)
                    } else {
                        card.authenticate_with(&key, &digest)
                    }
                }
                Mechanism::RsaPkcsPss(hash) => {
                    if message.len() != hash.output_len() {
                        return Err(CKR_DATA_LEN_RANGE);
                    }
                    let digest = Digest::new(hash, &message).map_err(|_| CKR_DATA_INVALID)?;
                    card.sign_pss(&key, &digest)
                }
                Mechanism::HashRsaPkcsPss(hash) => {
                    let digest = Digest::of(hash, &message).map_err(|_| CKR_GENERAL_ERROR)?;
                    card.sign_pss(&key, &digest)
                }
            };
            r.map_err(card_err)
        })?;
        Ok(Output::Bytes(Zeroizing::new(signature.into_bytes())))
    }

    /// `C_DecryptInit` (`CKM_RSA_PKCS` only).
    pub fn decrypt_init(
        &mut self,
        h: CK_SESSION_HANDLE,
        mech: CK_MECHANISM_TYPE,
        key: CK_OBJECT_HANDLE,
    ) -> R<()> {
        if self.session(h)?.decrypt.is_some() {
            return Err(CKR_OPERATION_ACTIVE);
        }
        if mech != CKM_RSA_PKCS {
            return Err(CKR_MECHANISM_INVALID);
        }
        let (_, key, _) = self.key_for(h, key, true)?;
        let len = key
            .algorithm
            .signature_len()
            .ok_or(CKR_KEY_TYPE_INCONSISTENT)?;
        self.session(h)?.decrypt = Some(Operation::Decrypt { len, result: None });
        Ok(())
    }

    /// `C_Decrypt`. The card deciphers once; the plaintext is kept (wiped on drop) until the
    /// caller's buffer is large enough, so a second call never sends the cryptogram again.
    pub fn decrypt(
        &mut self,
        h: CK_SESSION_HANDLE,
        ciphertext: &[u8],
        capacity: Option<usize>,
    ) -> R<Output> {
        let s = self.session(h)?;
        let slot = s.slot;
        let Some(Operation::Decrypt { len, result }) = s.decrypt.as_mut() else {
            return Err(CKR_OPERATION_NOT_INITIALIZED);
        };
        if result.is_none() {
            if capacity.is_none() {
                // Length query before deciphering: at most the modulus length.
                return Ok(Output::Size(*len));
            }
            if ciphertext.len() != *len {
                s.decrypt = None;
                return Err(CKR_ENCRYPTED_DATA_LEN_RANGE);
            }
            let r = self.on_card(slot, |c| c.card.decipher(ciphertext).map_err(card_err));
            let s = self.session(h)?;
            match r {
                Ok(plain) => {
                    s.decrypt = Some(Operation::Decrypt {
                        len: plain.len(),
                        result: Some(plain),
                    })
                }
                Err(e) => {
                    s.decrypt = None;
                    return Err(e);
                }
            }
        }
        let s = self.session(h)?;
        let Some(Operation::Decrypt {
            result: Some(plain),
            ..
        }) = s.decrypt.as_ref()
        else {
            return Err(CKR_GENERAL_ERROR);
        };
        match capacity {
            None => Ok(Output::Size(plain.len())),
            Some(c) if c < plain.len() => Ok(Output::TooSmall(plain.len())),
            Some(_) => {
                let out = plain.clone();
                s.decrypt = None;
                Ok(Output::Bytes(out))
            }
        }
    }
}

/// Whether a session sees an object: public objects always, private ones after login; with
/// the PIN asked on use, the private keys also before (their use asks the PIN), not the
/// private data objects (the card gives their values only after the PIN).
fn visible(obj: &Object, logged_in: bool, pin_on_use: bool) -> bool {
    !obj.private() || logged_in || (pin_on_use && matches!(obj, Object::PrivateKey(_)))
}

fn bool_attr(b: bool) -> Attr {
    Attr::Value(vec![if b { CK_TRUE } else { CK_FALSE }])
}

fn ulong_attr(v: CK_ULONG) -> Attr {
    Attr::Value(v.to_ne_bytes().to_vec())
}

/// One attribute of an object (reading the certificate or the data object when needed).
fn attribute(c: &mut Conn, obj: &Object, attr: CK_ATTRIBUTE_TYPE) -> R<Attr> {
    // Attributes common to every object (PKCS#11 v2.40 §4.4).
    let (class, label) = match obj {
        Object::PrivateKey(k) => (CKO_PRIVATE_KEY, k.label.as_str()),
        Object::Certificate { label, .. } => (CKO_CERTIFICATE, label.as_str()),
        Object::PublicKey { label, .. } => (CKO_PUBLIC_KEY, label.as_str()),
        Object::Data(d) => (CKO_DATA, d.label.as_deref().unwrap_or_default()),
    };
    match attr {
        CKA_CLASS => return Ok(ulong_attr(class)),
        CKA_TOKEN => return Ok(bool_attr(true)),
        CKA_PRIVATE => return Ok(bool_attr(obj.private())),
        CKA_MODIFIABLE => {
            return Ok(bool_attr(matches!(obj, Object::Data(d) if d.modifiable)));
        }
        CKA_LABEL => return Ok(Attr::Value(label.as_bytes().to_vec())),
        _ => {}
    }
    Ok(match obj {
        Object::PrivateKey(k) => match attr {
            CKA_ID => Attr::Value(k.id.clone()),
            CKA_KEY_TYPE => ulong_attr(CKK_RSA),
            CKA_SENSITIVE | CKA_ALWAYS_SENSITIVE | CKA_NEVER_EXTRACTABLE | CKA_LOCAL => {
                bool_attr(true)
            }
            CKA_EXTRACTABLE | CKA_SIGN_RECOVER | CKA_UNWRAP | CKA_DERIVE | CKA_ENCRYPT
            | CKA_VERIFY | CKA_WRAP => bool_attr(false),
            // The cards keep the PIN verified for several operations (no user-consent key):
            // no fresh login per signature.
            CKA_ALWAYS_AUTHENTICATE => bool_attr(false),
            CKA_SIGN => bool_attr(k.can(KeyRole::Signature) || k.can(KeyRole::Authentication)),
            CKA_DECRYPT => bool_attr(k.flags.decrypt()),
            CKA_KEY_GEN_MECHANISM => ulong_attr(CK_UNAVAILABLE_INFORMATION),
            CKA_START_DATE | CKA_END_DATE => Attr::Value(Vec::new()),
            CKA_MODULUS_BITS => match k.algorithm {
                cps_iasecc::KeyAlgorithm::Rsa { bits } => ulong_attr(CK_ULONG::from(bits)),
                _ => Attr::Invalid,
            },
            CKA_MODULUS => Attr::Value(c.cert(&k.id)?.modulus.clone()),
            CKA_PUBLIC_EXPONENT => Attr::Value(c.cert(&k.id)?.exponent.clone()),
            CKA_SUBJECT => Attr::Value(c.cert(&k.id)?.subject.clone()),
            CKA_PRIVATE_EXPONENT | CKA_PRIME_1 | CKA_PRIME_2 | CKA_EXPONENT_1 | CKA_EXPONENT_2
            | CKA_COEFFICIENT | CKA_VALUE => Attr::Sensitive,
            _ => Attr::Invalid,
        },
        Object::Certificate { id, authority, .. } => match attr {
            CKA_ID => Attr::Value(id.clone()),
            CKA_CERTIFICATE_TYPE => ulong_attr(CKC_X_509),
            CKA_TRUSTED => bool_attr(false),
            // 1 = token user, 2 = authority (PKCS#11 v2.40 §4.6.2).
            CKA_CERTIFICATE_CATEGORY => ulong_attr(if *authority { 2 } else { 1 }),
            CKA_VALUE => Attr::Value(c.cert(id)?.der.clone()),
            CKA_SUBJECT => Attr::Value(c.cert(id)?.subject.clone()),
            CKA_ISSUER => Attr::Value(c.cert(id)?.issuer.clone()),
            CKA_SERIAL_NUMBER => Attr::Value(c.cert(id)?.serial.clone()),
            CKA_START_DATE | CKA_END_DATE => Attr::Value(Vec::new()),
            _ => Attr::Invalid,
        },
        Object::PublicKey { id, .. } => match attr {
            CKA_ID => Attr::Value(id.clone()),
            CKA_KEY_TYPE => ulong_attr(CKK_RSA),
            CKA_ENCRYPT | CKA_VERIFY | CKA_LOCAL => bool_attr(true),
            CKA_VERIFY_RECOVER | CKA_WRAP | CKA_DERIVE | CKA_TRUSTED => bool_attr(false),
            CKA_KEY_GEN_MECHANISM => ulong_attr(CK_UNAVAILABLE_INFORMATION),
            CKA_START_DATE | CKA_END_DATE => Attr::Value(Vec::new()),
            CKA_MODULUS => Attr::Value(c.cert(id)?.modulus.clone()),
            CKA_PUBLIC_EXPONENT => Attr::Value(c.cert(id)?.exponent.clone()),
            CKA_SUBJECT => Attr::Value(c.cert(id)?.subject.clone()),
            CKA_MODULUS_BITS => {
                let m = &c.cert(id)?.modulus;
                let lead = m.iter().position(|&b| b != 0).unwrap_or(m.len());
                let bytes = m.len().saturating_sub(lead);
                let top = m.get(lead).map_or(0, |b| 8 - b.leading_zeros() as usize);
                let bits = bytes
                    .saturating_sub(1)
                    .saturating_mul(8)
                    .saturating_add(top);
                ulong_attr(CK_ULONG::try_from(bits).map_err(|_| CKR_GENERAL_ERROR)?)
            }
            _ => Attr::Invalid,
        },
        Object::Data(d) => match attr {
            CKA_APPLICATION => Attr::Value(d.application.clone().unwrap_or_default().into_bytes()),
            // No object identifier in the DODF entries; Cryptolib has none either.
            CKA_VALUE => {
                let label = d.label.clone().unwrap_or_default();
                let v = c.card.read_data_object(&label).map_err(card_err)?;
                Attr::Value(v.to_vec())
            }
            _ => Attr::Invalid,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_as_cryptolib_shows_it() {
        // EF.SN of the simulated CPS3 of dr-martin: 80 25 00 00 01 30 11 23 45 6F.
        let sn = [0x80, 0x25, 0x00, 0x00, 0x01, 0x30, 0x11, 0x23, 0x45, 0x6F];
        assert_eq!(cryptolib_serial(&sn), "30112345");
        assert_eq!(cryptolib_serial(&[]), "");
    }

    #[test]
    fn digest_info_is_parsed_or_refused() {
        let mut di = HashAlgorithm::Sha256.digest_info_prefix().to_vec();
        di.extend_from_slice(&[7; 32]);
        let d = parse_digest_info(&di)
            .map_err(|_| "parse")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(d.algorithm(), HashAlgorithm::Sha256);
        assert_eq!(parse_digest_info(&di[..40]).err(), Some(CKR_DATA_INVALID));
        assert_eq!(parse_digest_info(&[0; 36]).err(), Some(CKR_DATA_INVALID));
    }

    #[test]
    fn certificate_attributes_from_a_test_pki_certificate() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../testvectors/pki/rsa2048/dr-martin/auth.crt.der"
        );
        let der = std::fs::read(path).unwrap_or_default();
        let c = CertParts::parse(der.clone()).map_err(|rv| format!("{rv:#x}"));
        let c = c.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.der, der);
        // RSA-2048: 256 modulus bytes (no leading zero in the DER INTEGER's value here).
        assert_eq!(c.modulus.len(), 256);
        assert_eq!(c.exponent, [1, 0, 1]);
        // DER: a SEQUENCE for the names, an INTEGER for the serial.
        assert_eq!(c.subject.first(), Some(&0x30));
        assert_eq!(c.issuer.first(), Some(&0x30));
        assert_eq!(c.serial.first(), Some(&0x02));
        assert_eq!(
            CertParts::parse(der[..100].to_vec()).err(),
            Some(CKR_DEVICE_ERROR)
        );
    }

    proptest::proptest! {
        /// Hostile input from the application (signature data) or the card (certificate
        /// bytes) never panics; a valid DigestInfo always parses to its hash.
        #[test]
        fn parsers_never_panic(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)) {
            let _ = parse_digest_info(&data);
            let _ = CertParts::parse(data.clone());
            let _ = cryptolib_serial(&data);
        }

        #[test]
        fn digest_infos_round_trip(hash in proptest::collection::vec(proptest::prelude::any::<u8>(), 32)) {
            let mut di = HashAlgorithm::Sha256.digest_info_prefix().to_vec();
            di.extend_from_slice(&hash);
            let d = parse_digest_info(&di);
            proptest::prop_assert!(d.as_ref().is_ok_and(|d| d.as_bytes() == hash.as_slice()));
        }
    }

    #[test]
    fn pss_parameters_must_match_the_card() {
        let ok = PssParams {
            hash: CKM_SHA256,
            mgf: CKG_MGF1_SHA256,
            salt_len: 32,
        };
        assert_eq!(
            Mechanism::parse(CKM_SHA256_RSA_PKCS_PSS, Some(ok)),
            Ok(Mechanism::HashRsaPkcsPss(HashAlgorithm::Sha256))
        );
        for bad in [
            PssParams { salt_len: 20, ..ok },
            PssParams {
                mgf: CKG_MGF1_SHA1,
                ..ok
            },
            PssParams {
                hash: CKM_SHA_1,
                mgf: CKG_MGF1_SHA1,
                salt_len: 20,
            },
        ] {
            assert_eq!(
                Mechanism::parse(CKM_SHA256_RSA_PKCS_PSS, Some(bad)),
                Err(CKR_MECHANISM_PARAM_INVALID)
            );
        }
        assert_eq!(
            Mechanism::parse(CKM_RSA_PKCS_PSS, None),
            Err(CKR_MECHANISM_PARAM_INVALID)
        );
        assert_eq!(
            Mechanism::parse(CKM_RSA_X_509, None),
            Err(CKR_MECHANISM_INVALID)
        );
    }
}
