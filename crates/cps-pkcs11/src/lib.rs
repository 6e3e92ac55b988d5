//! # cps-pkcs11 — a PKCS#11 module for the CPS3 / CPS4
//!
//! `libcps_pkcs11.so` makes the French health-professional card usable by every program that
//! speaks PKCS#11 (browsers, mail, office suites, OpenSSL, Java, .NET), on top of the
//! IAS-ECC client of `cps-iasecc` and the PC/SC transport of `cps-transport`.
//!
//! - **Slots** are the PC/SC readers (ids stay stable while the module is loaded); a token is
//!   present when a CPS card is in the reader; `C_WaitForSlotEvent` reports insertions and
//!   removals, and a removed card closes its sessions.
//! - **Token** information as the official module (Cryptolib CPS 5.2.2) shows it: label and
//!   manufacturer from EF.TokenInfo, model `IAS ECC`, the serial number of EF.SN without the
//!   issuer prefix and the Luhn digit (Cryptolib `card-cps.c`, `pkcs15.c`
//!   `sc_pkcs15_parse_efsnicc`), and the PIN flags `CKF_USER_PIN_COUNT_LOW`,
//!   `CKF_USER_PIN_FINAL_TRY`, `CKF_USER_PIN_LOCKED` read from the card's try counter (an
//!   empty VERIFY, which spends no try).
//! - **Objects** with the card's PKCS#15 labels and iDs: private keys `CPS_PRIV_SIG` /
//!   `CPS_PRIV_AUT` (private objects: listed after login), their certificates and public keys
//!   (`Cle publique - <certificate label>`), and the data objects of the DODF with their values
//!   (`CPS_DATA`, `CPS_ID_CARD`, `CPS_NAME_PS`..., the PIN-protected ones after login).
//! - **Mechanisms**: CPS3 `CKM_RSA_PKCS` (sign with a DigestInfo, decrypt),
//!   `CKM_SHA1_RSA_PKCS`, `CKM_SHA256_RSA_PKCS`; CPS4 also `CKM_RSA_PKCS_PSS` (salt = hash
//!   length, MGF1 with the same hash) and `CKM_SHA256_RSA_PKCS_PSS`.
//! - **PIN**: `C_Login` sends it to the card once; the module never retries it, never logs it
//!   and wipes its copy. `C_Logout` (or closing the last session) resets the card so that
//!   its security state is gone.
//! - **The module asks the PIN itself** when `CPS_PKCS11_PINENTRY` names a pinentry program
//!   (GnuPG's `pinentry-gnome3`, `pinentry-curses`...): tokens then have
//!   `CKF_PROTECTED_AUTHENTICATION_PATH`, and `C_Login` without a PIN opens that program's
//!   dialog (card label, tries left) and sends the PIN it answers to the card once. With
//!   `CPS_PKCS11_PIN_ON_USE=1` the token needs no login and the first signature or
//!   decryption asks the PIN that way (for Chromium, whose PIN dialog ignores the protected
//!   authentication path, and headless LibreOffice, which has no PIN dialog).
//! - **Directory cache**: the card's PKCS#15 directory files (token info, ODF, PrKDF, CDF,
//!   DODF, AODF: its structure, never its certificates, data or PIN state) are kept per card
//!   serial in `$XDG_CACHE_HOME/cps-rs/pkcs15` (`CPS_CACHE_DIR`; `CPS_CACHE=0`
//!   turns it off), so a process seeing the same card again sends fewer APDUs, as the official
//!   module does with its own disk cache (`cps_iasecc::snapshot`): read within a bound,
//!   checked to be the card's, removed when refused or when a card operation fails with it.
//! - **Threads and processes**: one lock around the module state (`CKF_OS_LOCKING_OK`); a
//!   child process after `fork` sees the module as not initialised (PKCS#11 v2.40 §6.7.7) and
//!   never touches its parent's PC/SC connections.
//!
//! What was tested with which consumer, and the figures against the official module:
//! `docs/pkcs11.md`.
//!
//! `unsafe` code is confined to the `ffi` module (the C entry points), which checks every
//! pointer and length and catches every panic; the rest forbids it.
#![deny(unsafe_code)]

#[allow(unsafe_code)]
mod ffi;
pub mod pinentry;
pub mod relay;
pub mod token;
