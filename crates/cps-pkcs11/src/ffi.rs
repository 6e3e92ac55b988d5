//! The C entry points of the module: the only place with `unsafe` code.
//!
//! Every function here
//! - runs its body inside `catch_unwind` ([`guard`]): a panic becomes `CKR_GENERAL_ERROR`,
//!   never an unwind into C (which would abort the browser);
//! - checks every pointer before use (NULL gives `CKR_ARGUMENTS_BAD`) and every length
//!   (`CK_ULONG` to `usize` conversions checked, counts bounded);
//! - copies the caller's data into Rust values, calls the safe core ([`crate::token`]) and
//!   writes results back under the two-call convention (NULL buffer: length only;
//!   too small: `CKR_BUFFER_TOO_SMALL` with the length needed, the operation kept).
//!
//! The unsafe operations are of three kinds only: reading a caller's buffer
//! ([`slice`]), writing a caller's output ([`put`], `copy_nonoverlapping`), and reading the
//! structures the caller passes (`CK_C_INITIALIZE_ARGS`, `CK_MECHANISM` parameters,
//! `CK_ATTRIBUTE` arrays). PKCS#11 makes the caller responsible for these pointers being
//! valid for the lengths it gives (PKCS#11 v2.40 §5); the module relies on nothing more.
#![allow(non_snake_case, reason = "PKCS#11 names")]

use std::os::raw::c_void;
use std::panic::{AssertUnwindSafe, catch_unwind};

use cryptoki_sys::*;
use zeroize::Zeroizing;

use crate::token::{self, Attr, Mechanism, Output, PssParams, R, with_module};

/// Largest attribute template accepted.
const MAX_TEMPLATE: usize = 256;

/// Runs an entry point's body, catching panics.
fn guard(f: impl FnOnce() -> R<()>) -> CK_RV {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => CKR_OK,
        Ok(Err(rv)) => rv,
        Err(_) => CKR_GENERAL_ERROR,
    }
}

fn to_usize(n: CK_ULONG) -> R<usize> {
    usize::try_from(n).map_err(|_| CKR_ARGUMENTS_BAD)
}

fn to_ulong(n: usize) -> R<CK_ULONG> {
    CK_ULONG::try_from(n).map_err(|_| CKR_GENERAL_ERROR)
}

/// The caller's buffer `p[..len]`.
///
/// # Safety
/// `p` must be valid for reads of `len` bytes when not NULL (the caller's PKCS#11 contract).
unsafe fn slice<'a>(p: *const u8, len: CK_ULONG) -> R<&'a [u8]> {
    let len = to_usize(len)?;
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(CKR_ARGUMENTS_BAD);
    }
    // SAFETY: non-NULL, and valid for `len` bytes by the caller's contract.
    Ok(unsafe { std::slice::from_raw_parts(p, len) })
}

/// Writes `v` to the caller's output `p`.
///
/// # Safety
/// `p` must be valid for a write of `T` when not NULL.
unsafe fn put<T>(p: *mut T, v: T) -> R<()> {
    if p.is_null() {
        return Err(CKR_ARGUMENTS_BAD);
    }
    // SAFETY: non-NULL and writable by the caller's contract; `T` is a plain C type.
    unsafe { p.write(v) };
    Ok(())
}

/// A string padded with blanks to a fixed PKCS#11 field (cut at a character boundary).
fn pad<const N: usize>(s: &str) -> [u8; N] {
    let mut out = [b' '; N];
    let mut end = s.len().min(N);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    if let (Some(dst), Some(src)) = (out.get_mut(..end), s.as_bytes().get(..end)) {
        dst.copy_from_slice(src);
    }
    out
}

/// Writes a list under the two-call convention (`p` NULL: count only).
///
/// # Safety
/// `count` must be valid for reads and writes; `p`, when not NULL, for `*count` writes.
unsafe fn put_list<T: Copy>(list: &[T], p: *mut T, count: *mut CK_ULONG) -> R<()> {
    if count.is_null() {
        return Err(CKR_ARGUMENTS_BAD);
    }
    let n = to_ulong(list.len())?;
    // SAFETY: `count` is non-NULL and valid by the caller's contract.
    let capacity = unsafe { count.read() };
    // SAFETY: as above.
    unsafe { count.write(n) };
    if p.is_null() {
        return Ok(());
    }
    if to_usize(capacity)? < list.len() {
        return Err(CKR_BUFFER_TOO_SMALL);
    }
    // SAFETY: `p` holds at least `capacity` >= `list.len()` elements by the caller's contract.
    unsafe { std::ptr::copy_nonoverlapping(list.as_ptr(), p, list.len()) };
    Ok(())
}

/// The capacity of an output buffer (`None`: length query).
///
/// # Safety
/// `len` must be valid for reads when not NULL.
unsafe fn capacity(p: *mut u8, len: *mut CK_ULONG) -> R<Option<usize>> {
    if len.is_null() {
        return Err(CKR_ARGUMENTS_BAD);
    }
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: non-NULL, readable by the caller's contract.
    Ok(Some(to_usize(unsafe { len.read() })?))
}

/// Writes an operation's output under the two-call convention.
///
/// # Safety
/// `len` valid for writes; `p`, when the output is bytes, valid for the capacity the caller
/// gave (checked by the core before it produced the bytes).
unsafe fn put_output(out: Output, p: *mut u8, len: *mut CK_ULONG) -> R<()> {
    match out {
        // SAFETY: `len` checked non-NULL by `capacity`.
        Output::Size(n) => unsafe { put(len, to_ulong(n)?) },
        Output::TooSmall(n) => {
            // SAFETY: as above.
            unsafe { put(len, to_ulong(n)?) }?;
            Err(CKR_BUFFER_TOO_SMALL)
        }
        Output::Bytes(bytes) => {
            if p.is_null() {
                return Err(CKR_GENERAL_ERROR);
            }
            // SAFETY: the core checked capacity >= bytes.len(); `p` holds capacity bytes.
            unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), p, bytes.len()) };
            // SAFETY: `len` non-NULL.
            unsafe { put(len, to_ulong(bytes.len())?) }
        }
    }
}

/// Reads a `CK_MECHANISM` into a [`Mechanism`].
///
/// # Safety
/// `m` valid for reads when not NULL; its parameter pointer valid for its length.
unsafe fn mechanism(m: *const CK_MECHANISM) -> R<(CK_MECHANISM_TYPE, Option<PssParams>)> {
    if m.is_null() {
        return Err(CKR_ARGUMENTS_BAD);
    }
    // SAFETY: non-NULL, readable by the caller's contract.
    let m = unsafe { m.read() };
    let pss = if !m.pParameter.is_null()
        && to_usize(m.ulParameterLen)? == std::mem::size_of::<CK_RSA_PKCS_PSS_PARAMS>()
        && matches!(m.mechanism, CKM_RSA_PKCS_PSS | CKM_SHA256_RSA_PKCS_PSS)
    {
        // SAFETY: the caller says the parameter is a CK_RSA_PKCS_PSS_PARAMS of that size;
        // read unaligned in case the caller's buffer is not aligned.
        let p = unsafe { (m.pParameter as *const CK_RSA_PKCS_PSS_PARAMS).read_unaligned() };
        Some(PssParams {
            hash: p.hashAlg,
            mgf: p.mgf,
            salt_len: p.sLen,
        })
    } else {
        None
    };
    Ok((m.mechanism, pss))
}

/// Reads an attribute template (type and value bytes).
///
/// # Safety
/// `t` valid for `n` `CK_ATTRIBUTE`s, each value pointer valid for its length.
unsafe fn template(t: *const CK_ATTRIBUTE, n: CK_ULONG) -> R<Vec<(CK_ATTRIBUTE_TYPE, Vec<u8>)>> {
    let n = to_usize(n)?;
    if n == 0 {
        return Ok(Vec::new());
    }
    if t.is_null() || n > MAX_TEMPLATE {
        return Err(CKR_ARGUMENTS_BAD);
    }
    // SAFETY: `t` holds `n` attributes by the caller's contract.
    let attrs = unsafe { std::slice::from_raw_parts(t, n) };
    attrs
        .iter()
        .map(|a| {
            // SAFETY: the value pointer is valid for ulValueLen bytes (caller's contract).
            let v = unsafe { slice(a.pValue as *const u8, a.ulValueLen) }?;
            Ok((a.type_, v.to_vec()))
        })
        .collect()
}

/// `C_TransmitMessage`'s C type (Cryptolib `pkcs11.h`).
type TransmitMessageFn = unsafe extern "C" fn(
    CK_SESSION_HANDLE,
    *mut CK_BYTE,
    CK_ULONG,
    *mut CK_BYTE,
    *mut CK_ULONG,
    CK_BYTE,
) -> CK_RV;

/// The PKCS#11 v2.40 function list followed by the official module's four update
/// functions, in its order (Cryptolib `pkcs11.h` `struct ck_function_list`,
/// `pkcs11-global.c`): editors that relay a card update through the official module read
/// them past `C_WaitForSlotEvent`. Other applications read the standard part only.
#[repr(C)]
struct FunctionList {
    standard: CK_FUNCTION_LIST,
    start_update: unsafe extern "C" fn(CK_SESSION_HANDLE) -> CK_RV,
    end_update: unsafe extern "C" fn(CK_SESSION_HANDLE) -> CK_RV,
    transmit_message: TransmitMessageFn,
    keep_alive: unsafe extern "C" fn(CK_SESSION_HANDLE) -> CK_RV,
}

/// The function list of this module (PKCS#11 v2.40, and the update functions).
static FUNCTION_LIST: FunctionList = FunctionList {
    standard: STANDARD_FUNCTIONS,
    start_update: C_StartUpdate,
    end_update: C_EndUpdate,
    transmit_message: C_TransmitMessage,
    keep_alive: C_KeepAlive,
};

/// The standard part of [`FUNCTION_LIST`].
const STANDARD_FUNCTIONS: CK_FUNCTION_LIST = CK_FUNCTION_LIST {
    version: CK_VERSION {
        major: 2,
        minor: 40,
    },
    C_Initialize: Some(C_Initialize),
    C_Finalize: Some(C_Finalize),
    C_GetInfo: Some(C_GetInfo),
    C_GetFunctionList: Some(C_GetFunctionList),
    C_GetSlotList: Some(C_GetSlotList),
    C_GetSlotInfo: Some(C_GetSlotInfo),
    C_GetTokenInfo: Some(C_GetTokenInfo),
    C_GetMechanismList: Some(C_GetMechanismList),
    C_GetMechanismInfo: Some(C_GetMechanismInfo),
    C_InitToken: Some(C_InitToken),
    C_InitPIN: Some(C_InitPIN),
    C_SetPIN: Some(C_SetPIN),
    C_OpenSession: Some(C_OpenSession),
    C_CloseSession: Some(C_CloseSession),
    C_CloseAllSessions: Some(C_CloseAllSessions),
    C_GetSessionInfo: Some(C_GetSessionInfo),
    C_GetOperationState: Some(C_GetOperationState),
    C_SetOperationState: Some(C_SetOperationState),
    C_Login: Some(C_Login),
    C_Logout: Some(C_Logout),
    C_CreateObject: Some(C_CreateObject),
    C_CopyObject: Some(C_CopyObject),
    C_DestroyObject: Some(C_DestroyObject),
    C_GetObjectSize: Some(C_GetObjectSize),
    C_GetAttributeValue: Some(C_GetAttributeValue),
    C_SetAttributeValue: Some(C_SetAttributeValue),
    C_FindObjectsInit: Some(C_FindObjectsInit),
    C_FindObjects: Some(C_FindObjects),
    C_FindObjectsFinal: Some(C_FindObjectsFinal),
    C_EncryptInit: Some(C_EncryptInit),
    C_Encrypt: Some(C_Encrypt),
    C_EncryptUpdate: Some(C_EncryptUpdate),
    C_EncryptFinal: Some(C_EncryptFinal),
    C_DecryptInit: Some(C_DecryptInit),
    C_Decrypt: Some(C_Decrypt),
    C_DecryptUpdate: Some(C_DecryptUpdate),
    C_DecryptFinal: Some(C_DecryptFinal),
    C_DigestInit: Some(C_DigestInit),
    C_Digest: Some(C_Digest),
    C_DigestUpdate: Some(C_DigestUpdate),
    C_DigestKey: Some(C_DigestKey),
    C_DigestFinal: Some(C_DigestFinal),
    C_SignInit: Some(C_SignInit),
    C_Sign: Some(C_Sign),
    C_SignUpdate: Some(C_SignUpdate),
    C_SignFinal: Some(C_SignFinal),
    C_SignRecoverInit: Some(C_SignRecoverInit),
    C_SignRecover: Some(C_SignRecover),
    C_VerifyInit: Some(C_VerifyInit),
    C_Verify: Some(C_Verify),
    C_VerifyUpdate: Some(C_VerifyUpdate),
    C_VerifyFinal: Some(C_VerifyFinal),
    C_VerifyRecoverInit: Some(C_VerifyRecoverInit),
    C_VerifyRecover: Some(C_VerifyRecover),
    C_DigestEncryptUpdate: Some(C_DigestEncryptUpdate),
    C_DecryptDigestUpdate: Some(C_DecryptDigestUpdate),
    C_SignEncryptUpdate: Some(C_SignEncryptUpdate),
    C_DecryptVerifyUpdate: Some(C_DecryptVerifyUpdate),
    C_GenerateKey: Some(C_GenerateKey),
    C_GenerateKeyPair: Some(C_GenerateKeyPair),
    C_WrapKey: Some(C_WrapKey),
    C_UnwrapKey: Some(C_UnwrapKey),
    C_DeriveKey: Some(C_DeriveKey),
    C_SeedRandom: Some(C_SeedRandom),
    C_GenerateRandom: Some(C_GenerateRandom),
    C_GetFunctionStatus: Some(C_GetFunctionStatus),
    C_CancelFunction: Some(C_CancelFunction),
    C_WaitForSlotEvent: Some(C_WaitForSlotEvent),
};

/// `C_GetFunctionList`: the module's function table.
///
/// # Safety
/// `pp` valid for a write when not NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_GetFunctionList(pp: *mut *mut CK_FUNCTION_LIST) -> CK_RV {
    guard(|| {
        // The table is never written through this pointer (PKCS#11: read-only to callers);
        // the C signature has no const.
        let table = &FUNCTION_LIST as *const FunctionList as *mut CK_FUNCTION_LIST;
        // SAFETY: `put` checks NULL; writable by the caller's contract.
        unsafe { put(pp, table) }
    })
}

/// The one interface of the module for the PKCS#11 3.0 discovery functions: `"PKCS 11"`
/// with the v2.40 function list above. PKCS#11 3.0 (§5.4, `C_GetInterface`) lets a module
/// offer a 2.x function list as an interface (the caller reads the version at its head, as
/// the `cryptoki` crate and OpenSC do); the module implements no 3.0 function.
struct Interface(CK_INTERFACE);

// SAFETY: the interface only points at immutable statics (its name and the function list).
unsafe impl Sync for Interface {}

/// The interface name, NUL-terminated.
const INTERFACE_NAME: &[u8; 8] = b"PKCS 11\0";

static INTERFACE: Interface = Interface(CK_INTERFACE {
    // Never written through (read-only to callers); the C structure has no const.
    pInterfaceName: INTERFACE_NAME.as_ptr() as *mut CK_UTF8CHAR,
    pFunctionList: &FUNCTION_LIST as *const FunctionList as *mut c_void,
    flags: 0,
});

/// `C_StartUpdate` (the official module's update extension, [`crate::relay`]): the
/// session's card is held exclusively for an update relayed by the application.
///
/// # Safety
/// No pointer argument.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_StartUpdate(h: CK_SESSION_HANDLE) -> CK_RV {
    guard(|| with_module(|m| m.start_update(h)))
}

/// `C_EndUpdate`: the card held by `C_StartUpdate` is released.
///
/// # Safety
/// No pointer argument.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_EndUpdate(h: CK_SESSION_HANDLE) -> CK_RV {
    guard(|| with_module(|m| m.end_update(h)))
}

/// `C_KeepAlive`: `CKR_OK` while the card is in its reader.
///
/// # Safety
/// No pointer argument.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_KeepAlive(h: CK_SESSION_HANDLE) -> CK_RV {
    guard(|| with_module(|m| m.keep_alive(h)))
}

/// `C_TransmitMessage`: one command of the update application (`message`), its answer
/// `data ‖ SW1 SW2` in `response` (two-call convention; the command is sent once, its
/// answer kept for the call that has room for it). `ins_type` (Cryptolib: 0 in, 1 in-out)
/// is not needed on PC/SC, as in the official module.
///
/// # Safety
/// `message` valid for `len` bytes; `response_len` read/write; `response`, when not NULL,
/// writable for `*response_len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_TransmitMessage(
    h: CK_SESSION_HANDLE,
    message: *mut CK_BYTE,
    len: CK_ULONG,
    response: *mut CK_BYTE,
    response_len: *mut CK_ULONG,
    _ins_type: CK_BYTE,
) -> CK_RV {
    guard(|| {
        // SAFETY: checked helper.
        let message = unsafe { slice(message, len) }?;
        if response_len.is_null() {
            return Err(CKR_ARGUMENTS_BAD);
        }
        let answer = with_module(|m| m.transmit_update(h, message))?;
        // SAFETY: `response_len` non-NULL; `response` valid for its capacity when not NULL.
        unsafe { put_list(&answer, response, response_len) }?;
        if !response.is_null() {
            with_module(|m| m.update_delivered(h))?;
        }
        Ok(())
    })
}

/// `C_GetInterfaceList` (PKCS#11 3.0): the one interface, two-call convention.
///
/// # Safety
/// `count` valid for reads and writes; `list`, when not NULL, for `*count` interfaces.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_GetInterfaceList(
    list: *mut CK_INTERFACE,
    count: *mut CK_ULONG,
) -> CK_RV {
    // SAFETY: as the caller's contract says.
    guard(|| unsafe { put_list(&[INTERFACE.0], list, count) })
}

/// `C_GetInterface` (PKCS#11 3.0): the interface when the name (NULL: any), the version
/// (NULL: any) and the flags asked match it; `CKR_ARGUMENTS_BAD` otherwise.
///
/// # Safety
/// `name`, when not NULL, a NUL-terminated string; `version`, when not NULL, readable;
/// `pp` valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_GetInterface(
    name: *mut CK_UTF8CHAR,
    version: *mut CK_VERSION,
    pp: *mut *mut CK_INTERFACE,
    flags: CK_FLAGS,
) -> CK_RV {
    guard(|| {
        if !name.is_null() {
            // Byte by byte, stopping at the first difference: never past the caller's NUL.
            for (i, want) in INTERFACE_NAME.iter().enumerate() {
                // SAFETY: bytes up to the string's NUL are readable (caller's contract), and
                // every earlier byte matched a non-NUL byte of ours.
                if unsafe { name.add(i).read() } != *want {
                    return Err(CKR_ARGUMENTS_BAD);
                }
            }
        }
        if !version.is_null() {
            // SAFETY: readable by the caller's contract.
            let v = unsafe { version.read() };
            if (v.major, v.minor)
                != (
                    FUNCTION_LIST.standard.version.major,
                    FUNCTION_LIST.standard.version.minor,
                )
            {
                return Err(CKR_ARGUMENTS_BAD);
            }
        }
        if flags & !INTERFACE.0.flags != 0 {
            return Err(CKR_ARGUMENTS_BAD);
        }
        let interface = &INTERFACE.0 as *const CK_INTERFACE as *mut CK_INTERFACE;
        // SAFETY: `put` checks NULL; writable by the caller's contract.
        unsafe { put(pp, interface) }
    })
}

/// `C_Initialize`: only OS locking is supported (`CKF_OS_LOCKING_OK`, or no locking asked).
///
/// # Safety
/// `args`, when not NULL, points to a `CK_C_INITIALIZE_ARGS`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_Initialize(args: *mut c_void) -> CK_RV {
    guard(|| {
        if !args.is_null() {
            // SAFETY: non-NULL; the caller passes a CK_C_INITIALIZE_ARGS (PKCS#11 §5.4).
            let a = unsafe { (args as *const CK_C_INITIALIZE_ARGS).read_unaligned() };
            if !a.pReserved.is_null() {
                return Err(CKR_ARGUMENTS_BAD);
            }
            let given = [
                a.CreateMutex.is_some(),
                a.DestroyMutex.is_some(),
                a.LockMutex.is_some(),
                a.UnlockMutex.is_some(),
            ];
            if given.iter().any(|&g| g) && !given.iter().all(|&g| g) {
                return Err(CKR_ARGUMENTS_BAD);
            }
            // The application's own mutexes only: we cannot use them (our lock is std's).
            if given.iter().all(|&g| g) && a.flags & CKF_OS_LOCKING_OK == 0 {
                return Err(CKR_CANT_LOCK);
            }
        }
        token::initialize()
    })
}

/// `C_Finalize`.
///
/// # Safety
/// No pointer is dereferenced (`reserved` must be NULL).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_Finalize(reserved: *mut c_void) -> CK_RV {
    guard(|| {
        if !reserved.is_null() {
            return Err(CKR_ARGUMENTS_BAD);
        }
        token::finalize()
    })
}

/// `C_GetInfo`.
///
/// # Safety
/// `info` valid for a write when not NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_GetInfo(info: *mut CK_INFO) -> CK_RV {
    guard(|| {
        with_module(|_| Ok(()))?;
        let i = CK_INFO {
            cryptokiVersion: CK_VERSION {
                major: 2,
                minor: 40,
            },
            manufacturerID: pad("cps-rs"),
            flags: 0,
            libraryDescription: pad("cps-rs PKCS#11 for CPS3/CPS4"),
            libraryVersion: CK_VERSION { major: 0, minor: 1 },
        };
        // SAFETY: `put` checks NULL.
        unsafe { put(info, i) }
    })
}

/// `C_GetSlotList`.
///
/// # Safety
/// `count` valid for read/write; `list`, when not NULL, for `*count` slot ids.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_GetSlotList(
    token_present: CK_BBOOL,
    list: *mut CK_SLOT_ID,
    count: *mut CK_ULONG,
) -> CK_RV {
    guard(|| {
        let slots = with_module(|m| Ok(m.slot_list(token_present != CK_FALSE)))?;
        // SAFETY: checked by put_list.
        unsafe { put_list(&slots, list, count) }
    })
}

/// `C_GetSlotInfo`.
///
/// # Safety
/// `info` valid for a write when not NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_GetSlotInfo(slot: CK_SLOT_ID, info: *mut CK_SLOT_INFO) -> CK_RV {
    guard(|| {
        if info.is_null() {
            return Err(CKR_ARGUMENTS_BAD);
        }
        let d = with_module(|m| m.slot_info(slot))?;
        let mut flags = CKF_REMOVABLE_DEVICE | CKF_HW_SLOT;
        if d.token_present {
            flags |= CKF_TOKEN_PRESENT;
        }
        let i = CK_SLOT_INFO {
            slotDescription: pad(&d.reader),
            manufacturerID: pad("cps-rs"),
            flags,
            hardwareVersion: CK_VERSION { major: 0, minor: 0 },
            firmwareVersion: CK_VERSION { major: 0, minor: 0 },
        };
        // SAFETY: non-NULL, writable by the caller's contract.
        unsafe { put(info, i) }
    })
}

/// `C_GetTokenInfo`.
///
/// # Safety
/// `info` valid for a write when not NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_GetTokenInfo(slot: CK_SLOT_ID, info: *mut CK_TOKEN_INFO) -> CK_RV {
    guard(|| {
        if info.is_null() {
            return Err(CKR_ARGUMENTS_BAD);
        }
        let d = with_module(|m| m.token_info(slot))?;
        let i = CK_TOKEN_INFO {
            label: pad(&d.label),
            manufacturerID: pad(&d.manufacturer),
            model: pad(&d.model),
            serialNumber: pad(&d.serial),
            flags: d.flags,
            ulMaxSessionCount: CK_EFFECTIVELY_INFINITE,
            ulSessionCount: to_ulong(d.sessions)?,
            ulMaxRwSessionCount: CK_EFFECTIVELY_INFINITE,
            ulRwSessionCount: to_ulong(d.rw_sessions)?,
            ulMaxPinLen: to_ulong(cps_iasecc::PIN_MAX_LEN)?,
            ulMinPinLen: to_ulong(cps_iasecc::PIN_MIN_LEN)?,
            ulTotalPublicMemory: CK_UNAVAILABLE_INFORMATION,
            ulFreePublicMemory: CK_UNAVAILABLE_INFORMATION,
            ulTotalPrivateMemory: CK_UNAVAILABLE_INFORMATION,
            ulFreePrivateMemory: CK_UNAVAILABLE_INFORMATION,
            hardwareVersion: CK_VERSION { major: 0, minor: 0 },
            firmwareVersion: CK_VERSION { major: 0, minor: 0 },
            utcTime: [b' '; 16],
        };
        // SAFETY: non-NULL, writable by the caller's contract.
        unsafe { put(info, i) }
    })
}

/// `C_GetMechanismList`.
///
/// # Safety
/// `count` valid for read/write; `list`, when not NULL, for `*count` entries.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_GetMechanismList(
    slot: CK_SLOT_ID,
    list: *mut CK_MECHANISM_TYPE,
    count: *mut CK_ULONG,
) -> CK_RV {
    guard(|| {
        if count.is_null() {
            return Err(CKR_ARGUMENTS_BAD);
        }
        let m = with_module(|m| m.mechanism_list(slot))?;
        // SAFETY: checked by put_list.
        unsafe { put_list(&m, list, count) }
    })
}

/// `C_GetMechanismInfo`.
///
/// # Safety
/// `info` valid for a write when not NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_GetMechanismInfo(
    slot: CK_SLOT_ID,
    mech: CK_MECHANISM_TYPE,
    info: *mut CK_MECHANISM_INFO,
) -> CK_RV {
    guard(|| {
        if info.is_null() {
            return Err(CKR_ARGUMENTS_BAD);
        }
        let (min, max, flags) = with_module(|m| m.mechanism_info(slot, mech))?;
        let i = CK_MECHANISM_INFO {
            ulMinKeySize: min,
            ulMaxKeySize: max,
            flags,
        };
        // SAFETY: non-NULL, writable.
        unsafe { put(info, i) }
    })
}

/// `C_OpenSession` (no notification callback is ever called).
///
/// # Safety
/// `session` valid for a write when not NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_OpenSession(
    slot: CK_SLOT_ID,
    flags: CK_FLAGS,
    _app: *mut c_void,
    _notify: CK_NOTIFY,
    session: *mut CK_SESSION_HANDLE,
) -> CK_RV {
    guard(|| {
        if session.is_null() {
            return Err(CKR_ARGUMENTS_BAD);
        }
        let h = with_module(|m| m.open_session(slot, flags))?;
        // SAFETY: non-NULL, writable.
        unsafe { put(session, h) }
    })
}

/// `C_CloseSession`.
///
/// # Safety
/// No pointer argument.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_CloseSession(h: CK_SESSION_HANDLE) -> CK_RV {
    guard(|| with_module(|m| m.close_session(h)))
}

/// `C_CloseAllSessions`.
///
/// # Safety
/// No pointer argument.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_CloseAllSessions(slot: CK_SLOT_ID) -> CK_RV {
    guard(|| with_module(|m| m.close_all_sessions(slot)))
}

/// `C_GetSessionInfo`.
///
/// # Safety
/// `info` valid for a write when not NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_GetSessionInfo(
    h: CK_SESSION_HANDLE,
    info: *mut CK_SESSION_INFO,
) -> CK_RV {
    guard(|| {
        if info.is_null() {
            return Err(CKR_ARGUMENTS_BAD);
        }
        let (slotID, state, flags) = with_module(|m| m.session_info(h))?;
        let i = CK_SESSION_INFO {
            slotID,
            state,
            flags,
            ulDeviceError: 0,
        };
        // SAFETY: non-NULL, writable.
        unsafe { put(info, i) }
    })
}

/// `C_Login`: the PIN is copied into a buffer wiped on drop, sent once, never logged. A NULL
/// (length 0) or empty PIN with a pinentry program configured: the module asks the PIN itself
/// (`token::login_with_pinentry`).
///
/// # Safety
/// `pin` NULL with `len` 0, or valid for `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_Login(
    h: CK_SESSION_HANDLE,
    user: CK_USER_TYPE,
    pin: *mut CK_UTF8CHAR,
    len: CK_ULONG,
) -> CK_RV {
    guard(|| {
        if pin.is_null() && len != 0 {
            return Err(CKR_ARGUMENTS_BAD);
        }
        if len == 0 {
            // Protected authentication path (PKCS#11 v2.40 §5.6 C_Login: a NULL PIN): the
            // module asks the PIN through its pinentry program; without one configured, a
            // NULL PIN is refused (CKR_ARGUMENTS_BAD) and an empty one is out of range.
            return match token::login_with_pinentry(h, user) {
                Err(CKR_ARGUMENTS_BAD) if !pin.is_null() => Err(CKR_PIN_LEN_RANGE),
                r => r,
            };
        }
        // SAFETY: valid for `len` bytes by the caller's contract.
        let pin = Zeroizing::new(unsafe { slice(pin, len) }?.to_vec());
        with_module(|m| m.login(h, user, &pin))
    })
}

/// `C_SetPIN`: both PINs copied into buffers wiped on drop, each sent once, never logged.
///
/// # Safety
/// `old` valid for `old_len` bytes, `new` for `new_len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_SetPIN(
    h: CK_SESSION_HANDLE,
    old: *mut CK_UTF8CHAR,
    old_len: CK_ULONG,
    new: *mut CK_UTF8CHAR,
    new_len: CK_ULONG,
) -> CK_RV {
    guard(|| {
        if old.is_null() || new.is_null() {
            // No protected authentication path (no PIN pad): both PINs must be given.
            return Err(CKR_ARGUMENTS_BAD);
        }
        // SAFETY: valid for their lengths by the caller's contract.
        let old = Zeroizing::new(unsafe { slice(old, old_len) }?.to_vec());
        // SAFETY: as above.
        let new = Zeroizing::new(unsafe { slice(new, new_len) }?.to_vec());
        with_module(|m| m.set_pin(h, &old, &new))
    })
}

/// `C_Logout`.
///
/// # Safety
/// No pointer argument.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_Logout(h: CK_SESSION_HANDLE) -> CK_RV {
    guard(|| with_module(|m| m.logout(h)))
}

/// `C_GetAttributeValue`.
///
/// # Safety
/// `t` valid for `n` attributes, each `pValue` (when not NULL) writable for `ulValueLen`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_GetAttributeValue(
    h: CK_SESSION_HANDLE,
    obj: CK_OBJECT_HANDLE,
    t: *mut CK_ATTRIBUTE,
    n: CK_ULONG,
) -> CK_RV {
    guard(|| {
        let n = to_usize(n)?;
        if n == 0 {
            return with_module(|m| m.attribute(h, obj, CKA_CLASS)).map(|_| ());
        }
        if t.is_null() || n > MAX_TEMPLATE {
            return Err(CKR_ARGUMENTS_BAD);
        }
        // SAFETY: `t` holds `n` attributes by the caller's contract.
        let attrs = unsafe { std::slice::from_raw_parts_mut(t, n) };
        let mut rv = CKR_OK;
        for a in attrs.iter_mut() {
            match with_module(|m| m.attribute(h, obj, a.type_))? {
                Attr::Value(v) => {
                    let len = to_ulong(v.len())?;
                    if a.pValue.is_null() {
                        a.ulValueLen = len;
                    } else if to_usize(a.ulValueLen)? >= v.len() {
                        // SAFETY: the caller's buffer holds ulValueLen >= v.len() bytes.
                        unsafe {
                            std::ptr::copy_nonoverlapping(v.as_ptr(), a.pValue as *mut u8, v.len())
                        };
                        a.ulValueLen = len;
                    } else {
                        a.ulValueLen = CK_UNAVAILABLE_INFORMATION;
                        rv = CKR_BUFFER_TOO_SMALL;
                    }
                }
                Attr::Sensitive => {
                    a.ulValueLen = CK_UNAVAILABLE_INFORMATION;
                    rv = CKR_ATTRIBUTE_SENSITIVE;
                }
                Attr::Invalid => {
                    a.ulValueLen = CK_UNAVAILABLE_INFORMATION;
                    rv = CKR_ATTRIBUTE_TYPE_INVALID;
                }
            }
        }
        if rv == CKR_OK { Ok(()) } else { Err(rv) }
    })
}

/// `C_FindObjectsInit`.
///
/// # Safety
/// `t` valid for `n` attributes with readable values.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_FindObjectsInit(
    h: CK_SESSION_HANDLE,
    t: *mut CK_ATTRIBUTE,
    n: CK_ULONG,
) -> CK_RV {
    guard(|| {
        // SAFETY: checked by `template`.
        let template = unsafe { template(t, n) }?;
        with_module(|m| m.find_init(h, &template))
    })
}

/// `C_FindObjects`.
///
/// # Safety
/// `out` valid for `max` handles; `count` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_FindObjects(
    h: CK_SESSION_HANDLE,
    out: *mut CK_OBJECT_HANDLE,
    max: CK_ULONG,
    count: *mut CK_ULONG,
) -> CK_RV {
    guard(|| {
        let max = to_usize(max)?;
        if count.is_null() || (out.is_null() && max > 0) {
            return Err(CKR_ARGUMENTS_BAD);
        }
        let found = with_module(|m| m.find(h, max))?;
        if !found.is_empty() {
            // SAFETY: `out` holds `max` >= found.len() handles.
            unsafe { std::ptr::copy_nonoverlapping(found.as_ptr(), out, found.len()) };
        }
        // SAFETY: non-NULL, writable.
        unsafe { put(count, to_ulong(found.len())?) }
    })
}

/// `C_FindObjectsFinal`.
///
/// # Safety
/// No pointer argument.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_FindObjectsFinal(h: CK_SESSION_HANDLE) -> CK_RV {
    guard(|| with_module(|m| m.find_final(h)))
}

/// `C_SignInit`.
///
/// # Safety
/// `mech` valid for reads (and its parameter for its length).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_SignInit(
    h: CK_SESSION_HANDLE,
    mech: *mut CK_MECHANISM,
    key: CK_OBJECT_HANDLE,
) -> CK_RV {
    guard(|| {
        // SAFETY: checked by `mechanism`.
        let (m, pss) = unsafe { mechanism(mech) }?;
        let mech = Mechanism::parse(m, pss)?;
        token::login_on_use(h, key, token::OnUse::Sign(mech))?;
        with_module(|md| md.sign_init(h, mech, key))
    })
}

/// `C_Sign`.
///
/// # Safety
/// `data` valid for `len` bytes; `sig_len` read/write; `sig` writable for `*sig_len`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_Sign(
    h: CK_SESSION_HANDLE,
    data: *mut CK_BYTE,
    len: CK_ULONG,
    sig: *mut CK_BYTE,
    sig_len: *mut CK_ULONG,
) -> CK_RV {
    guard(|| {
        // SAFETY: checked helpers.
        let data = unsafe { slice(data, len) }?;
        // SAFETY: checked helper.
        let cap = unsafe { capacity(sig, sig_len) }?;
        let out = with_module(|m| m.sign(h, Some(data), cap))?;
        // SAFETY: capacity checked by the core.
        unsafe { put_output(out, sig, sig_len) }
    })
}

/// `C_SignUpdate`.
///
/// # Safety
/// `part` valid for `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_SignUpdate(
    h: CK_SESSION_HANDLE,
    part: *mut CK_BYTE,
    len: CK_ULONG,
) -> CK_RV {
    guard(|| {
        // SAFETY: checked helper.
        let part = unsafe { slice(part, len) }?;
        with_module(|m| m.sign_update(h, part))
    })
}

/// `C_SignFinal`.
///
/// # Safety
/// `sig_len` read/write; `sig` writable for `*sig_len`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_SignFinal(
    h: CK_SESSION_HANDLE,
    sig: *mut CK_BYTE,
    sig_len: *mut CK_ULONG,
) -> CK_RV {
    guard(|| {
        // SAFETY: checked helper.
        let cap = unsafe { capacity(sig, sig_len) }?;
        let out = with_module(|m| m.sign(h, None, cap))?;
        // SAFETY: capacity checked by the core.
        unsafe { put_output(out, sig, sig_len) }
    })
}

/// `C_DecryptInit` (`CKM_RSA_PKCS`).
///
/// # Safety
/// `mech` valid for reads.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_DecryptInit(
    h: CK_SESSION_HANDLE,
    mech: *mut CK_MECHANISM,
    key: CK_OBJECT_HANDLE,
) -> CK_RV {
    guard(|| {
        // SAFETY: checked helper.
        let (m, _) = unsafe { mechanism(mech) }?;
        token::login_on_use(h, key, token::OnUse::Decrypt(m))?;
        with_module(|md| md.decrypt_init(h, m, key))
    })
}

/// `C_Decrypt`.
///
/// # Safety
/// `data` valid for `len` bytes; `out_len` read/write; `out` writable for `*out_len`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_Decrypt(
    h: CK_SESSION_HANDLE,
    data: *mut CK_BYTE,
    len: CK_ULONG,
    out: *mut CK_BYTE,
    out_len: *mut CK_ULONG,
) -> CK_RV {
    guard(|| {
        // SAFETY: checked helpers.
        let data = unsafe { slice(data, len) }?;
        // SAFETY: checked helper.
        let cap = unsafe { capacity(out, out_len) }?;
        let o = with_module(|m| m.decrypt(h, data, cap))?;
        // SAFETY: capacity checked by the core.
        unsafe { put_output(o, out, out_len) }
    })
}

/// How often a blocking `C_WaitForSlotEvent` looks at the readers (the module lock is free
/// in between, so other threads go on and `C_Finalize` ends the wait).
const SLOT_EVENT_POLL: std::time::Duration = std::time::Duration::from_millis(200);

/// `C_WaitForSlotEvent`: a card inserted or removed (or a reader with a card plugged in).
/// With `CKF_DONT_BLOCK`, one look (`CKR_NO_EVENT` when nothing changed); otherwise it waits,
/// until `C_Finalize` (`CKR_CRYPTOKI_NOT_INITIALIZED`).
///
/// # Safety
/// `slot` valid for a write when not NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_WaitForSlotEvent(
    flags: CK_FLAGS,
    slot: *mut CK_SLOT_ID,
    reserved: *mut c_void,
) -> CK_RV {
    guard(|| {
        if slot.is_null() || !reserved.is_null() {
            return Err(CKR_ARGUMENTS_BAD);
        }
        loop {
            if let Some(id) = with_module(|m| Ok(m.slot_event()))? {
                // SAFETY: non-NULL, writable by the caller's contract.
                return unsafe { put(slot, id) };
            }
            if flags & CKF_DONT_BLOCK != 0 {
                return Err(CKR_NO_EVENT);
            }
            std::thread::sleep(SLOT_EVENT_POLL);
        }
    })
}

/// `C_GetFunctionStatus`: legacy, always "not parallel".
extern "C" fn C_GetFunctionStatus(_: CK_SESSION_HANDLE) -> CK_RV {
    CKR_FUNCTION_NOT_PARALLEL
}

/// `C_CancelFunction`: legacy, always "not parallel".
extern "C" fn C_CancelFunction(_: CK_SESSION_HANDLE) -> CK_RV {
    CKR_FUNCTION_NOT_PARALLEL
}

/// `C_SeedRandom`: the token has no random generator (no `CKF_RNG`; the CPS cards' GET
/// CHALLENGE is not used by the module).
extern "C" fn C_SeedRandom(_: CK_SESSION_HANDLE, _: *mut CK_BYTE, _: CK_ULONG) -> CK_RV {
    CKR_RANDOM_NO_RNG
}

/// `C_GenerateRandom`: no random generator (see [`C_SeedRandom`]).
extern "C" fn C_GenerateRandom(_: CK_SESSION_HANDLE, _: *mut CK_BYTE, _: CK_ULONG) -> CK_RV {
    CKR_RANDOM_NO_RNG
}

/// Entry points the module does not implement: they return `CKR_FUNCTION_NOT_SUPPORTED`
/// without touching their arguments (nothing can panic, so no `catch_unwind` is needed).
macro_rules! unsupported {
    ($($name:ident($($arg:ty),*);)*) => {$(
        extern "C" fn $name($(_: $arg),*) -> CK_RV {
            CKR_FUNCTION_NOT_SUPPORTED
        }
    )*};
}

unsupported! {
    C_InitToken(CK_SLOT_ID, *mut CK_UTF8CHAR, CK_ULONG, *mut CK_UTF8CHAR);
    C_InitPIN(CK_SESSION_HANDLE, *mut CK_UTF8CHAR, CK_ULONG);
    C_GetOperationState(CK_SESSION_HANDLE, *mut CK_BYTE, *mut CK_ULONG);
    C_SetOperationState(CK_SESSION_HANDLE, *mut CK_BYTE, CK_ULONG, CK_OBJECT_HANDLE, CK_OBJECT_HANDLE);
    C_CreateObject(CK_SESSION_HANDLE, *mut CK_ATTRIBUTE, CK_ULONG, *mut CK_OBJECT_HANDLE);
    C_CopyObject(CK_SESSION_HANDLE, CK_OBJECT_HANDLE, *mut CK_ATTRIBUTE, CK_ULONG, *mut CK_OBJECT_HANDLE);
    C_DestroyObject(CK_SESSION_HANDLE, CK_OBJECT_HANDLE);
    C_GetObjectSize(CK_SESSION_HANDLE, CK_OBJECT_HANDLE, *mut CK_ULONG);
    C_SetAttributeValue(CK_SESSION_HANDLE, CK_OBJECT_HANDLE, *mut CK_ATTRIBUTE, CK_ULONG);
    C_EncryptInit(CK_SESSION_HANDLE, *mut CK_MECHANISM, CK_OBJECT_HANDLE);
    C_Encrypt(CK_SESSION_HANDLE, *mut CK_BYTE, CK_ULONG, *mut CK_BYTE, *mut CK_ULONG);
    C_EncryptUpdate(CK_SESSION_HANDLE, *mut CK_BYTE, CK_ULONG, *mut CK_BYTE, *mut CK_ULONG);
    C_EncryptFinal(CK_SESSION_HANDLE, *mut CK_BYTE, *mut CK_ULONG);
    C_DecryptUpdate(CK_SESSION_HANDLE, *mut CK_BYTE, CK_ULONG, *mut CK_BYTE, *mut CK_ULONG);
    C_DecryptFinal(CK_SESSION_HANDLE, *mut CK_BYTE, *mut CK_ULONG);
    C_DigestInit(CK_SESSION_HANDLE, *mut CK_MECHANISM);
    C_Digest(CK_SESSION_HANDLE, *mut CK_BYTE, CK_ULONG, *mut CK_BYTE, *mut CK_ULONG);
    C_DigestUpdate(CK_SESSION_HANDLE, *mut CK_BYTE, CK_ULONG);
    C_DigestKey(CK_SESSION_HANDLE, CK_OBJECT_HANDLE);
    C_DigestFinal(CK_SESSION_HANDLE, *mut CK_BYTE, *mut CK_ULONG);
    C_SignRecoverInit(CK_SESSION_HANDLE, *mut CK_MECHANISM, CK_OBJECT_HANDLE);
    C_SignRecover(CK_SESSION_HANDLE, *mut CK_BYTE, CK_ULONG, *mut CK_BYTE, *mut CK_ULONG);
    C_VerifyInit(CK_SESSION_HANDLE, *mut CK_MECHANISM, CK_OBJECT_HANDLE);
    C_Verify(CK_SESSION_HANDLE, *mut CK_BYTE, CK_ULONG, *mut CK_BYTE, CK_ULONG);
    C_VerifyUpdate(CK_SESSION_HANDLE, *mut CK_BYTE, CK_ULONG);
    C_VerifyFinal(CK_SESSION_HANDLE, *mut CK_BYTE, CK_ULONG);
    C_VerifyRecoverInit(CK_SESSION_HANDLE, *mut CK_MECHANISM, CK_OBJECT_HANDLE);
    C_VerifyRecover(CK_SESSION_HANDLE, *mut CK_BYTE, CK_ULONG, *mut CK_BYTE, *mut CK_ULONG);
    C_DigestEncryptUpdate(CK_SESSION_HANDLE, *mut CK_BYTE, CK_ULONG, *mut CK_BYTE, *mut CK_ULONG);
    C_DecryptDigestUpdate(CK_SESSION_HANDLE, *mut CK_BYTE, CK_ULONG, *mut CK_BYTE, *mut CK_ULONG);
    C_SignEncryptUpdate(CK_SESSION_HANDLE, *mut CK_BYTE, CK_ULONG, *mut CK_BYTE, *mut CK_ULONG);
    C_DecryptVerifyUpdate(CK_SESSION_HANDLE, *mut CK_BYTE, CK_ULONG, *mut CK_BYTE, *mut CK_ULONG);
    C_GenerateKey(CK_SESSION_HANDLE, *mut CK_MECHANISM, *mut CK_ATTRIBUTE, CK_ULONG, *mut CK_OBJECT_HANDLE);
    C_GenerateKeyPair(CK_SESSION_HANDLE, *mut CK_MECHANISM, *mut CK_ATTRIBUTE, CK_ULONG, *mut CK_ATTRIBUTE, CK_ULONG, *mut CK_OBJECT_HANDLE, *mut CK_OBJECT_HANDLE);
    C_WrapKey(CK_SESSION_HANDLE, *mut CK_MECHANISM, CK_OBJECT_HANDLE, CK_OBJECT_HANDLE, *mut CK_BYTE, *mut CK_ULONG);
    C_UnwrapKey(CK_SESSION_HANDLE, *mut CK_MECHANISM, CK_OBJECT_HANDLE, *mut CK_BYTE, CK_ULONG, *mut CK_ATTRIBUTE, CK_ULONG, *mut CK_OBJECT_HANDLE);
    C_DeriveKey(CK_SESSION_HANDLE, *mut CK_MECHANISM, CK_OBJECT_HANDLE, *mut CK_ATTRIBUTE, CK_ULONG, *mut CK_OBJECT_HANDLE);
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "test code")]
mod tests {
    use super::*;

    /// The module state is global: the tests that initialise it run one at a time.
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

    #[test]
    fn pointers_are_checked() {
        let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
        // SAFETY (all calls below): NULL or valid pointers to locals, as the tests intend.
        unsafe {
            assert_eq!(C_GetFunctionList(std::ptr::null_mut()), CKR_ARGUMENTS_BAD);
            let mut list: *mut CK_FUNCTION_LIST = std::ptr::null_mut();
            assert_eq!(C_GetFunctionList(&mut list), CKR_OK);
            assert!(!list.is_null());
            assert_eq!((*list).version.major, 2);

            assert_eq!(
                C_GetInfo(std::ptr::null_mut()),
                CKR_CRYPTOKI_NOT_INITIALIZED
            );
            // Application mutexes without CKF_OS_LOCKING_OK: we cannot use them.
            extern "C" fn create(_: *mut *mut c_void) -> CK_RV {
                CKR_OK
            }
            extern "C" fn other(_: *mut c_void) -> CK_RV {
                CKR_OK
            }
            let mut args = CK_C_INITIALIZE_ARGS {
                CreateMutex: Some(create),
                DestroyMutex: Some(other),
                LockMutex: Some(other),
                UnlockMutex: Some(other),
                flags: 0,
                pReserved: std::ptr::null_mut(),
            };
            let p = |a: &mut CK_C_INITIALIZE_ARGS| a as *mut CK_C_INITIALIZE_ARGS as *mut c_void;
            assert_eq!(C_Initialize(p(&mut args)), CKR_CANT_LOCK);
            args.LockMutex = None;
            assert_eq!(C_Initialize(p(&mut args)), CKR_ARGUMENTS_BAD);
            args.LockMutex = Some(other);
            args.flags = CKF_OS_LOCKING_OK;
            assert_eq!(C_Initialize(p(&mut args)), CKR_OK);
            assert_eq!(
                C_Initialize(std::ptr::null_mut()),
                CKR_CRYPTOKI_ALREADY_INITIALIZED
            );

            assert_eq!(C_GetInfo(std::ptr::null_mut()), CKR_ARGUMENTS_BAD);
            let mut info = std::mem::zeroed::<CK_INFO>();
            assert_eq!(C_GetInfo(&mut info), CKR_OK);
            assert_eq!(&info.manufacturerID[..7], b"cps-rs ");
            assert_eq!(
                C_GetSlotList(CK_FALSE, std::ptr::null_mut(), std::ptr::null_mut()),
                CKR_ARGUMENTS_BAD
            );
            let mut count: CK_ULONG = 0;
            assert_eq!(
                C_GetSlotList(CK_FALSE, std::ptr::null_mut(), &mut count),
                CKR_OK
            );
            assert_eq!(C_GetSlotInfo(0, std::ptr::null_mut()), CKR_ARGUMENTS_BAD);
            let mut h: CK_SESSION_HANDLE = 0;
            assert_eq!(
                C_OpenSession(
                    12345,
                    CKF_SERIAL_SESSION,
                    std::ptr::null_mut(),
                    None,
                    &mut h
                ),
                CKR_SLOT_ID_INVALID
            );
            assert_eq!(
                C_Login(7, CKU_USER, std::ptr::null_mut(), 4),
                CKR_ARGUMENTS_BAD
            );
            let mut pin = *b"1234";
            assert_eq!(
                C_Login(7, CKU_USER, pin.as_mut_ptr(), 4),
                CKR_SESSION_HANDLE_INVALID
            );
            let mut new = *b"5678";
            assert_eq!(
                C_SetPIN(7, pin.as_mut_ptr(), 4, std::ptr::null_mut(), 4),
                CKR_ARGUMENTS_BAD
            );
            assert_eq!(
                C_SetPIN(7, pin.as_mut_ptr(), 4, new.as_mut_ptr(), 4),
                CKR_SESSION_HANDLE_INVALID
            );
            // A non-empty buffer behind a NULL pointer.
            assert_eq!(
                C_Sign(
                    7,
                    std::ptr::null_mut(),
                    10,
                    std::ptr::null_mut(),
                    &mut count
                ),
                CKR_ARGUMENTS_BAD
            );
            assert_eq!(
                C_FindObjectsInit(7, std::ptr::null_mut(), 3),
                CKR_ARGUMENTS_BAD
            );
            assert_eq!(C_SignInit(7, std::ptr::null_mut(), 1), CKR_ARGUMENTS_BAD);
            assert_eq!(C_GenerateRandom(7, pin.as_mut_ptr(), 4), CKR_RANDOM_NO_RNG);
            assert_eq!(C_Finalize(8 as *mut c_void), CKR_ARGUMENTS_BAD);
            assert_eq!(C_Finalize(std::ptr::null_mut()), CKR_OK);
            assert_eq!(
                C_Finalize(std::ptr::null_mut()),
                CKR_CRYPTOKI_NOT_INITIALIZED
            );
        }
    }

    #[test]
    fn a_panic_never_crosses_the_boundary() {
        assert_eq!(guard(|| panic!("boom")), CKR_GENERAL_ERROR);
        assert_eq!(guard(|| Err(CKR_PIN_INCORRECT)), CKR_PIN_INCORRECT);
        assert_eq!(guard(|| Ok(())), CKR_OK);
    }

    #[test]
    fn interface_discovery() {
        // SAFETY (test): every pointer is a local of the right size.
        unsafe {
            let mut n: CK_ULONG = 0;
            assert_eq!(C_GetInterfaceList(std::ptr::null_mut(), &mut n), CKR_OK);
            assert_eq!(n, 1);
            let mut list = [INTERFACE.0; 1];
            n = 1;
            assert_eq!(C_GetInterfaceList(list.as_mut_ptr(), &mut n), CKR_OK);
            let name =
                std::ffi::CStr::from_ptr(list[0].pInterfaceName as *const std::os::raw::c_char);
            assert_eq!(name.to_bytes(), b"PKCS 11");
            let functions = &*(list[0].pFunctionList as *const CK_FUNCTION_LIST);
            assert_eq!((functions.version.major, functions.version.minor), (2, 40));
            assert_eq!(
                C_GetInterfaceList(std::ptr::null_mut(), std::ptr::null_mut()),
                CKR_ARGUMENTS_BAD
            );

            let mut p: *mut CK_INTERFACE = std::ptr::null_mut();
            let mut name = *b"PKCS 11\0";
            let mut v240 = CK_VERSION {
                major: 2,
                minor: 40,
            };
            assert_eq!(
                C_GetInterface(name.as_mut_ptr(), &mut v240, &mut p, 0),
                CKR_OK
            );
            assert_eq!((*p).pFunctionList, list[0].pFunctionList);
            p = std::ptr::null_mut();
            assert_eq!(
                C_GetInterface(std::ptr::null_mut(), std::ptr::null_mut(), &mut p, 0),
                CKR_OK
            );
            assert!(!p.is_null());
            let mut v30 = CK_VERSION { major: 3, minor: 0 };
            assert_eq!(
                C_GetInterface(name.as_mut_ptr(), &mut v30, &mut p, 0),
                CKR_ARGUMENTS_BAD
            );
            let mut other = *b"Vendor\0";
            assert_eq!(
                C_GetInterface(other.as_mut_ptr(), std::ptr::null_mut(), &mut p, 0),
                CKR_ARGUMENTS_BAD
            );
            let mut short = *b"PKCS\0";
            assert_eq!(
                C_GetInterface(short.as_mut_ptr(), std::ptr::null_mut(), &mut p, 0),
                CKR_ARGUMENTS_BAD
            );
            assert_eq!(
                C_GetInterface(
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    &mut p,
                    CKF_INTERFACE_FORK_SAFE
                ),
                CKR_ARGUMENTS_BAD
            );
            assert_eq!(
                C_GetInterface(
                    name.as_mut_ptr(),
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    0
                ),
                CKR_ARGUMENTS_BAD
            );
        }
    }

    #[test]
    fn two_call_convention() {
        let list = [1 as CK_ULONG, 2, 3];
        let mut count: CK_ULONG = 0;
        // SAFETY: valid pointers to locals.
        unsafe {
            assert_eq!(put_list(&list, std::ptr::null_mut(), &mut count), Ok(()));
            assert_eq!(count, 3);
            let mut small = [0 as CK_ULONG; 2];
            count = 2;
            assert_eq!(
                put_list(&list, small.as_mut_ptr(), &mut count),
                Err(CKR_BUFFER_TOO_SMALL)
            );
            assert_eq!(count, 3);
            let mut out = [0 as CK_ULONG; 4];
            count = 4;
            assert_eq!(put_list(&list, out.as_mut_ptr(), &mut count), Ok(()));
            assert_eq!((count, &out[..3]), (3, &list[..]));

            let mut len: CK_ULONG = 0;
            assert_eq!(
                put_output(Output::Size(256), std::ptr::null_mut(), &mut len),
                Ok(())
            );
            assert_eq!(len, 256);
            assert_eq!(
                put_output(Output::TooSmall(256), std::ptr::null_mut(), &mut len),
                Err(CKR_BUFFER_TOO_SMALL)
            );
        }
    }

    #[test]
    fn fields_are_blank_padded() {
        assert_eq!(&pad::<8>("CPS3"), b"CPS3    ");
        assert_eq!(&pad::<4>("CPS3 dr-martin"), b"CPS3");
        // Never cut inside a UTF-8 character.
        assert_eq!(&pad::<2>("é"), "é".as_bytes());
        assert_eq!(&pad::<1>("é"), b" ");
    }
}
