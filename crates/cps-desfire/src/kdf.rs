//! AN10922 symmetric key diversification (NXP AN10922 rev 1.x §2.2 AES-128, §2.4 2TDEA,
//! §2.5 3TDEA; notes §6).
//!
//! The diversification input `M` is 1..31 bytes (AES) or 1..15 bytes (3DES); the application
//! note's examples use `UID(7) || AID(3) || system identifier`, see [`DiversificationInput`].
//!
//! - AES-128: `DivKey = CMAC(K, 01 || M)`, where the message is **always** padded to two AES
//!   blocks (32 bytes): `80 00..` and subkey K2 when `1 + |M| < 32`, K1 when it is exactly 32.
//!   For short `M` this differs from plain CMAC (libfreefare "issue 91"; AN10957 example).
//! - 2TDEA: `CMAC(K, 21 || M) || CMAC(K, 22 || M)`, each padded to two DES blocks (16 bytes).
//! - 3TDEA: `CMAC(K, 31 || M) || CMAC(K, 32 || M) || CMAC(K, 33 || M)`.
//!
//! The results are the raw diversified keys (version 0 / parity bits as computed). libfreefare
//! then writes the master key's version into the parity bits; [`crate::crypto::Key::with_version`]
//! does that.

use alloc::vec::Vec;
use zeroize::{Zeroize, Zeroizing};

use crate::crypto::{Cipher, Key, KeyType, xor_in_place};

/// Why a diversification was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KdfError {
    /// The diversification input is empty or too long for the key type.
    #[error("diversification input of {len} bytes: AN10922 allows 1..={max} for this key type")]
    InputLength {
        /// Bytes given.
        len: usize,
        /// Maximum allowed.
        max: usize,
    },
    /// AN10922 defines no diversification of single-DES keys.
    #[error("AN10922 has no single-DES diversification: use a 2-key or 3-key 3DES or AES key")]
    SingleDes,
}

/// Builds the usual AN10922 diversification input `UID || AID || system identifier`.
///
/// The AID is taken in its over-the-air byte order (least significant byte first, as
/// `CreateApplication` sends it): AN10922's example AID `3042F5` is used as these bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct DiversificationInput(Zeroizing<Vec<u8>>);

impl core::fmt::Debug for DiversificationInput {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "DiversificationInput({} bytes)", self.0.len())
    }
}

impl DiversificationInput {
    /// `uid || aid || system_identifier`.
    pub fn new(uid: &[u8], aid: [u8; 3], system_identifier: &[u8]) -> Self {
        let mut m = Zeroizing::new(Vec::with_capacity(uid.len() + 3 + system_identifier.len()));
        m.extend_from_slice(uid);
        m.extend_from_slice(&aid);
        m.extend_from_slice(system_identifier);
        DiversificationInput(m)
    }

    /// Any input bytes.
    pub fn from_bytes(m: &[u8]) -> Self {
        DiversificationInput(Zeroizing::new(m.to_vec()))
    }

    /// The bytes of `M`.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// AN10922 CMAC of `constant || M`, padded to exactly two blocks.
fn an10922_cmac(cipher: &Cipher, constant: u8, m: &[u8]) -> Zeroizing<Vec<u8>> {
    let bs = cipher.block_size();
    let total = 2 * bs;
    let mut d = Zeroizing::new(Vec::with_capacity(total));
    d.push(constant);
    d.extend_from_slice(m);
    let (mut k1, mut k2) = cipher.cmac_subkeys();
    let subkey = if d.len() == total {
        k1
    } else {
        d.push(0x80);
        d.resize(total, 0);
        k2
    };
    if let Some(last) = d.get_mut(bs..) {
        xor_in_place(last, subkey.as_slice());
    }
    k1.zeroize();
    k2.zeroize();
    let mut mac = cipher.cbc_mac(&d).unwrap_or_default();
    let out = Zeroizing::new(mac.as_slice().to_vec());
    mac.zeroize();
    out
}

/// Diversifies `master` with input `m` by AN10922, returning a key of the same type.
///
/// ```
/// use cps_desfire::crypto::{Key, KeyType};
/// use cps_desfire::kdf::{diversify, DiversificationInput};
/// // AN10922 §2.2.1 (AES-128): UID 04782E21801D80, AID 3042F5, system id "NXP Abu".
/// let master = Key::new(KeyType::Aes128, &hex("00112233445566778899AABBCCDDEEFF")).unwrap();
/// let m = DiversificationInput::new(&hex("04782E21801D80"), [0x30, 0x42, 0xF5], b"NXP Abu");
/// let k = diversify(&master, m.as_bytes()).unwrap();
/// assert_eq!(k.expose_bytes(), hex("A8DD63A3B89D54B37CA802473FDA9175"));
/// # fn hex(s: &str) -> Vec<u8> { (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect() }
/// ```
pub fn diversify(master: &Key, m: &[u8]) -> Result<Key, KdfError> {
    let ty = master.key_type();
    let max = match ty {
        KeyType::Aes128 => 31,
        KeyType::TwoKey3Des | KeyType::ThreeKey3Des => 15,
        KeyType::Des => return Err(KdfError::SingleDes),
    };
    if m.is_empty() || m.len() > max {
        return Err(KdfError::InputLength { len: m.len(), max });
    }
    let cipher = master.cipher();
    let constants: &[u8] = match ty {
        KeyType::Aes128 => &[0x01],
        KeyType::TwoKey3Des => &[0x21, 0x22],
        _ => &[0x31, 0x32, 0x33],
    };
    let mut out = Zeroizing::new(Vec::with_capacity(24));
    for &c in constants {
        out.extend_from_slice(&an10922_cmac(&cipher, c, m));
    }
    Key::new(ty, &out).map_err(|_| KdfError::InputLength { len: m.len(), max })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_bounds() {
        let aes = Key::zero(KeyType::Aes128);
        assert_eq!(
            diversify(&aes, &[]).err(),
            Some(KdfError::InputLength { len: 0, max: 31 })
        );
        assert!(diversify(&aes, &[0; 31]).is_ok());
        assert!(diversify(&aes, &[0; 32]).is_err());
        let t = Key::zero(KeyType::ThreeKey3Des);
        assert!(diversify(&t, &[0; 15]).is_ok());
        assert!(diversify(&t, &[0; 16]).is_err());
        assert_eq!(
            diversify(&Key::zero(KeyType::Des), &[1]).err(),
            Some(KdfError::SingleDes)
        );
    }
}
