//! The PKCS#15 directory files of the cards seen before, kept on disk per card serial
//! ([`cps_iasecc::snapshot`]: `$XDG_CACHE_HOME/cps-rs/pkcs15`, `CPS_CACHE_DIR`,
//! `CPS_CACHE=0` turns it off), so that the next process spares their APDUs, as the official
//! module does with `/etc/opt/santesocial/CPS/cache` (Cryptolib `pkcs15-cache.c`).
//!
//! Kept: the card's structure (EF.TokenInfo, EF.ODF, AODF, PrKDF, CDF, DODF). Never kept:
//! certificates, data object values, PIN state, anything secret. A file is untrusted input:
//! bounded read, checked to be this card's (serial and generation inside), each directory
//! file parsed again; a file that fails any of it is removed. An operation that fails on the
//! card while the structure came from the cache removes the file too, so a card changed
//! elsewhere is read again in full by the next process. Errors here only show with
//! `CPS_PKCS11_DEBUG=1`: without its cache the module works the same, with more APDUs.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};

use cps_iasecc::snapshot::{self, DirectorySnapshot};
use cps_iasecc::{CardSerial, Generation};

/// The cache directory from the environment, or `None` when turned off or without a home.
pub fn dir_from_env() -> Option<PathBuf> {
    snapshot::default_dir()
}

/// The snapshot kept for this card, if any and valid (an invalid file is removed).
pub fn load(dir: &Path, serial: &CardSerial, generation: Generation) -> Option<DirectorySnapshot> {
    snapshot::load(dir, serial, generation).unwrap_or_else(|e| {
        crate::token::debug(&e);
        None
    })
}

/// Keeps the snapshot of this card.
pub fn store(dir: &Path, serial: &CardSerial, generation: Generation, s: &DirectorySnapshot) {
    if let Err(e) = snapshot::store(dir, serial, generation, s) {
        crate::token::debug(&e);
    }
}

/// Removes the file of this card.
pub fn forget(dir: &Path, serial: &CardSerial) {
    snapshot::forget(dir, serial);
}
