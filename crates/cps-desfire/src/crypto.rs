//! Cryptographic primitives of MIFARE DESFire, independent of who is host and who is card.
//!
//! - [`KeyType`] and [`Key`]: DES, 2-key 3DES, 3-key 3DES and AES-128 keys, zeroized on drop,
//!   never printed, with the DESFire key version kept in the DES parity bits.
//! - [`Cipher`]: block encryption of one of those keys, CBC with an explicit IV (the IV is
//!   updated in place, as DESFire sessions chain it), and the legacy D40 "send mode".
//! - CMAC (NIST SP 800-38B) for both block sizes: R = `0x87` for AES (128-bit blocks) and
//!   `0x1B` for (3)DES (64-bit blocks), from any starting IV ([`Cipher::cmac_with_iv`]), as the
//!   EV1 secure channel needs.
//! - [`crc16_a`] (CRC-16/ISO-IEC-14443-3-A) and [`crc32_desfire`] (CRC-32/JAMCRC).
//! - Padding: zero padding (EV1 enciphered frames) and ISO/IEC 9797-1 method 2 (EV2).
//!
//! Sources: NIST SP 800-38B §6.1 (subkeys) and §6.2 (MAC generation); the CRC catalogue
//! (check values `BF05` and `340BC6D9`); DESFire conventions as described in the shared notes
//! §3 (key versions in parity bits: libfreefare `mifare_desfire_key.c`), §5.1 (D40 send mode)
//! and §5.2 (CRC32 without final XOR, little-endian).

use aes::Aes128;
use aes::cipher::generic_array::GenericArray;
use aes::cipher::{BlockDecrypt, BlockEncrypt, KeyInit};
use alloc::boxed::Box;
use alloc::vec::Vec;
use des::{Des, TdesEde2, TdesEde3};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// Why a cryptographic operation was refused (never a panic).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// A key of the wrong length for its type.
    #[error("a {ty:?} key has {expected} bytes, got {got}")]
    KeyLength {
        /// The key type asked for.
        ty: KeyType,
        /// Bytes expected.
        expected: usize,
        /// Bytes given.
        got: usize,
    },
    /// A "DES" key given as 16 bytes whose halves differ (that is a 2-key 3DES key).
    #[error("a 16-byte DES key must repeat the same 8 bytes twice")]
    DesHalvesDiffer,
    /// Data that must be a whole number of cipher blocks is not.
    #[error("{len} bytes is not a multiple of the {block}-byte block")]
    NotBlockAligned {
        /// Data length.
        len: usize,
        /// Block size.
        block: usize,
    },
    /// An IV of the wrong size.
    #[error("IV of {got} bytes, the block is {block} bytes")]
    IvLength {
        /// IV length given.
        got: usize,
        /// Block size.
        block: usize,
    },
}

/// The four DESFire key types.
///
/// The DESFire "crypto method" bits (KS2 bits 7..6, and the PICC-level `ChangeKey` KeyNo bits)
/// are `00` for DES and 2-key 3DES, `01` for 3-key 3DES, `10` for AES (notes §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyType {
    /// Single DES, 8 bytes (DESFire sends it as 16 bytes, the 8 bytes twice).
    Des,
    /// 2-key 3DES (EDE, K1 K2 K1), 16 bytes.
    TwoKey3Des,
    /// 3-key 3DES (EDE), 24 bytes.
    ThreeKey3Des,
    /// AES-128, 16 bytes, with a separate version byte.
    Aes128,
}

impl KeyType {
    /// Length of the key material in bytes (DES: 8).
    pub const fn key_len(self) -> usize {
        match self {
            KeyType::Des => 8,
            KeyType::TwoKey3Des | KeyType::Aes128 => 16,
            KeyType::ThreeKey3Des => 24,
        }
    }

    /// Length of the key as it travels in `ChangeKey` (DES: 16, the key twice).
    pub const fn card_len(self) -> usize {
        match self {
            KeyType::Des | KeyType::TwoKey3Des | KeyType::Aes128 => 16,
            KeyType::ThreeKey3Des => 24,
        }
    }

    /// Cipher block size: 8 for (3)DES, 16 for AES.
    pub const fn block_size(self) -> usize {
        match self {
            KeyType::Aes128 => 16,
            _ => 8,
        }
    }

    /// Length of RndA / RndB in the authentications: 8 for DES and 2-key 3DES, 16 otherwise.
    pub const fn random_len(self) -> usize {
        match self {
            KeyType::Des | KeyType::TwoKey3Des => 8,
            KeyType::ThreeKey3Des | KeyType::Aes128 => 16,
        }
    }

    /// The crypto-method bits (KS2 bits 7..6): `0x00` DES/2K3DES, `0x40` 3K3DES, `0x80` AES.
    pub const fn crypto_bits(self) -> u8 {
        match self {
            KeyType::Des | KeyType::TwoKey3Des => 0x00,
            KeyType::ThreeKey3Des => 0x40,
            KeyType::Aes128 => 0x80,
        }
    }
}

/// A cipher block (8 or 16 bytes) returned by value, e.g. a CMAC.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct Block {
    buf: [u8; 16],
    len: usize,
}

impl Block {
    /// A zero block of `len` bytes (8 or 16; anything else is clamped to 16).
    pub fn zero(len: usize) -> Self {
        Block {
            buf: [0; 16],
            len: len.min(16),
        }
    }

    /// A block from bytes (at most 16 are kept).
    pub fn from_slice(bytes: &[u8]) -> Self {
        let mut b = Block::zero(bytes.len());
        for (d, s) in b.as_mut_slice().iter_mut().zip(bytes) {
            *d = *s;
        }
        b
    }

    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }

    /// The bytes, mutably.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        self.buf.get_mut(..self.len).unwrap_or_default()
    }

    /// Block length in bytes.
    #[allow(clippy::len_without_is_empty, reason = "a block is never empty")]
    pub fn len(&self) -> usize {
        self.len
    }

    /// The first 8 bytes (the truncated EV1 CMAC; the whole block for DES).
    pub fn first8(&self) -> [u8; 8] {
        let mut out = [0u8; 8];
        for (o, b) in out.iter_mut().zip(self.as_slice()) {
            *o = *b;
        }
        out
    }
}

impl AsRef<[u8]> for Block {
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl core::fmt::Debug for Block {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // A block may be key-derived (CMAC subkeys): show its size only.
        write!(f, "Block({} bytes)", self.len)
    }
}

impl Zeroize for Block {
    fn zeroize(&mut self) {
        self.buf.zeroize();
    }
}

/// A DESFire key: type, key material (zeroized on drop) and version.
///
/// For DES and 3DES keys the version lives in the parity bits (bit `7-n` of the version is the
/// least significant bit of key byte `n`, n = 0..7; notes §3): [`Key::version`] reads it and
/// [`Key::with_version`] writes it. AES keys carry a separate version byte.
///
/// `Debug` shows the type and version only, never the key.
#[derive(Clone)]
pub struct Key {
    ty: KeyType,
    bytes: [u8; 24],
    aes_version: u8,
}

impl Drop for Key {
    fn drop(&mut self) {
        self.bytes.zeroize();
    }
}

impl ZeroizeOnDrop for Key {}

impl core::fmt::Debug for Key {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Key")
            .field("type", &self.ty)
            .field("version", &self.version())
            .finish_non_exhaustive()
    }
}

impl Key {
    /// A key of type `ty` from its bytes.
    ///
    /// A DES key may be given as 8 bytes or as 16 bytes holding the same 8 bytes twice (the
    /// form DESFire uses on the wire and in the published traces).
    pub fn new(ty: KeyType, bytes: &[u8]) -> Result<Self, CryptoError> {
        let material = match (ty, bytes.len()) {
            (KeyType::Des, 16) => {
                let (a, b) = bytes.split_at(8);
                if !same_ignoring_parity(a, b) {
                    return Err(CryptoError::DesHalvesDiffer);
                }
                a
            }
            (_, n) if n == ty.key_len() => bytes,
            (_, n) => {
                return Err(CryptoError::KeyLength {
                    ty,
                    expected: ty.key_len(),
                    got: n,
                });
            }
        };
        let mut key = Key {
            ty,
            bytes: [0; 24],
            aes_version: 0,
        };
        for (d, s) in key.bytes.iter_mut().zip(material) {
            *d = *s;
        }
        Ok(key)
    }

    /// A single-DES key.
    pub fn des(bytes: [u8; 8]) -> Self {
        Key::from_array(KeyType::Des, &bytes)
    }

    /// A 2-key 3DES key.
    pub fn tdes2(bytes: [u8; 16]) -> Self {
        Key::from_array(KeyType::TwoKey3Des, &bytes)
    }

    /// A 3-key 3DES key.
    pub fn tdes3(bytes: [u8; 24]) -> Self {
        Key::from_array(KeyType::ThreeKey3Des, &bytes)
    }

    /// An AES-128 key (version 0; see [`Key::with_version`]).
    pub fn aes(bytes: [u8; 16]) -> Self {
        Key::from_array(KeyType::Aes128, &bytes)
    }

    /// The all-zero key of a type, version 0: the factory default of every DESFire key
    /// (the CPS4 issuer states its PICC master key is the all-zero DES key).
    pub fn zero(ty: KeyType) -> Self {
        Key::from_array(ty, &[0u8; 24])
    }

    fn from_array(ty: KeyType, bytes: &[u8]) -> Self {
        let mut key = Key {
            ty,
            bytes: [0; 24],
            aes_version: 0,
        };
        for (d, s) in key.bytes.iter_mut().zip(bytes.iter().take(ty.key_len())) {
            *d = *s;
        }
        key
    }

    /// The key type.
    pub fn key_type(&self) -> KeyType {
        self.ty
    }

    /// The type the card actually runs: a 2-key 3DES key whose halves are equal (parity bits
    /// ignored) is a single-DES key (EDE with K1 = K2 is DES; notes §3), and DESFire derives
    /// an 8-byte session key from it.
    pub fn effective_type(&self) -> KeyType {
        match self.ty {
            KeyType::TwoKey3Des => {
                let (a, b) = self.material().split_at(8);
                if same_ignoring_parity(a, b) {
                    KeyType::Des
                } else {
                    KeyType::TwoKey3Des
                }
            }
            t => t,
        }
    }

    /// The key material, for code that must combine keys (`ChangeKey`, diversification).
    /// Handle with care: copies are not zeroized unless you wrap them.
    pub fn expose_bytes(&self) -> &[u8] {
        self.material()
    }

    fn material(&self) -> &[u8] {
        self.bytes.get(..self.ty.key_len()).unwrap_or_default()
    }

    /// The key as it is sent in `ChangeKey`: DES keys are doubled to 16 bytes.
    pub fn card_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut v = Zeroizing::new(Vec::with_capacity(24));
        v.extend_from_slice(self.material());
        if self.ty == KeyType::Des {
            v.extend_from_slice(self.material());
        }
        v
    }

    /// The key version: from the parity bits of the first 8 bytes for DES/3DES keys, the
    /// separate byte for AES.
    pub fn version(&self) -> u8 {
        match self.ty {
            KeyType::Aes128 => self.aes_version,
            _ => self
                .bytes
                .iter()
                .take(8)
                .fold(0u8, |v, b| (v << 1) | (b & 1)),
        }
    }

    /// The same key with version `version`.
    ///
    /// DES/3DES: written into the parity bits as libfreefare does (`mifare_desfire_key_set_version`):
    /// bytes 0..8 carry the version; a 2-key 3DES key carries its bitwise inverse in bytes 8..16
    /// so that its halves never become equal (which would turn it into a DES key). AES: the
    /// version byte.
    pub fn with_version(mut self, version: u8) -> Self {
        match self.ty {
            KeyType::Aes128 => self.aes_version = version,
            ty => {
                for (n, b) in self.bytes.iter_mut().take(8).enumerate() {
                    let bit = (version >> (7 - n)) & 1;
                    *b = (*b & 0xFE) | bit;
                }
                if ty == KeyType::TwoKey3Des {
                    for (n, b) in self.bytes.iter_mut().skip(8).take(8).enumerate() {
                        let bit = !(version >> (7 - n)) & 1;
                        *b = (*b & 0xFE) | bit;
                    }
                }
            }
        }
        self
    }

    /// A block cipher keyed with this key.
    pub fn cipher(&self) -> Cipher {
        Cipher::new(self)
    }

    /// Constant-time comparison of type, material and version.
    pub fn ct_eq(&self, other: &Key) -> bool {
        self.ty == other.ty
            && bool::from(self.material().ct_eq(other.material()))
            && self.aes_version == other.aes_version
    }
}

fn same_ignoring_parity(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x & 0xFE) == (y & 0xFE))
}

/// A keyed block cipher: DES, 2-key or 3-key 3DES (EDE), or AES-128.
///
/// The RustCrypto key schedules are zeroized when dropped. All CBC helpers take the IV
/// explicitly and leave the chaining value in it afterwards.
#[derive(Clone)]
pub enum Cipher {
    /// Single DES.
    Des(Box<Des>),
    /// 2-key 3DES (K1 K2 K1).
    Tdes2(Box<TdesEde2>),
    /// 3-key 3DES.
    Tdes3(Box<TdesEde3>),
    /// AES-128.
    Aes(Box<Aes128>),
}

impl core::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Cipher::Des(_) => "Cipher::Des(..)",
            Cipher::Tdes2(_) => "Cipher::Tdes2(..)",
            Cipher::Tdes3(_) => "Cipher::Tdes3(..)",
            Cipher::Aes(_) => "Cipher::Aes(..)",
        })
    }
}

/// `x ^= y` over the common length.
pub(crate) fn xor_in_place(x: &mut [u8], y: &[u8]) {
    for (a, b) in x.iter_mut().zip(y) {
        *a ^= *b;
    }
}

impl Cipher {
    /// Keys a cipher. A 2-key 3DES key with equal halves runs as DES (the same permutation).
    pub fn new(key: &Key) -> Self {
        let m = key.material();
        let mut buf = Zeroizing::new([0u8; 24]);
        for (d, s) in buf.iter_mut().zip(m) {
            *d = *s;
        }
        let (k8, k16, k24) = (
            GenericArray::from_slice(buf.get(..8).unwrap_or_default()),
            GenericArray::from_slice(buf.get(..16).unwrap_or_default()),
            GenericArray::from_slice(buf.as_slice()),
        );
        match key.effective_type() {
            KeyType::Des => Cipher::Des(Box::new(Des::new(k8))),
            KeyType::TwoKey3Des => Cipher::Tdes2(Box::new(TdesEde2::new(k16))),
            KeyType::ThreeKey3Des => Cipher::Tdes3(Box::new(TdesEde3::new(k24))),
            KeyType::Aes128 => Cipher::Aes(Box::new(Aes128::new(k16))),
        }
    }

    /// Block size in bytes (8 or 16).
    pub fn block_size(&self) -> usize {
        match self {
            Cipher::Aes(_) => 16,
            _ => 8,
        }
    }

    /// Encrypts every block of `data` independently (ECB; one block is the usual use).
    pub fn encrypt_blocks(&self, data: &mut [u8]) -> Result<(), CryptoError> {
        self.check_aligned(data.len())?;
        for chunk in data.chunks_exact_mut(self.block_size()) {
            self.enc(chunk);
        }
        Ok(())
    }

    /// Decrypts every block of `data` independently (ECB).
    pub fn decrypt_blocks(&self, data: &mut [u8]) -> Result<(), CryptoError> {
        self.check_aligned(data.len())?;
        for chunk in data.chunks_exact_mut(self.block_size()) {
            self.dec(chunk);
        }
        Ok(())
    }

    /// Encrypts exactly one block given as an 8- or 16-byte slice of the right size.
    fn enc(&self, block: &mut [u8]) {
        // Callers pass chunks of exactly `block_size()` bytes; guard anyway (no panic).
        if block.len() != self.block_size() {
            return;
        }
        match self {
            Cipher::Des(c) => c.encrypt_block(GenericArray::from_mut_slice(block)),
            Cipher::Tdes2(c) => c.encrypt_block(GenericArray::from_mut_slice(block)),
            Cipher::Tdes3(c) => c.encrypt_block(GenericArray::from_mut_slice(block)),
            Cipher::Aes(c) => c.encrypt_block(GenericArray::from_mut_slice(block)),
        }
    }

    fn dec(&self, block: &mut [u8]) {
        if block.len() != self.block_size() {
            return;
        }
        match self {
            Cipher::Des(c) => c.decrypt_block(GenericArray::from_mut_slice(block)),
            Cipher::Tdes2(c) => c.decrypt_block(GenericArray::from_mut_slice(block)),
            Cipher::Tdes3(c) => c.decrypt_block(GenericArray::from_mut_slice(block)),
            Cipher::Aes(c) => c.decrypt_block(GenericArray::from_mut_slice(block)),
        }
    }

    fn check_aligned(&self, len: usize) -> Result<(), CryptoError> {
        if len % self.block_size() == 0 {
            Ok(())
        } else {
            Err(CryptoError::NotBlockAligned {
                len,
                block: self.block_size(),
            })
        }
    }

    fn check_iv(&self, iv: &[u8]) -> Result<(), CryptoError> {
        if iv.len() == self.block_size() {
            Ok(())
        } else {
            Err(CryptoError::IvLength {
                got: iv.len(),
                block: self.block_size(),
            })
        }
    }

    /// CBC encryption in place; `iv` is updated to the last ciphertext block.
    pub fn cbc_encrypt(&self, iv: &mut [u8], data: &mut [u8]) -> Result<(), CryptoError> {
        self.check_iv(iv)?;
        self.check_aligned(data.len())?;
        for chunk in data.chunks_exact_mut(self.block_size()) {
            xor_in_place(chunk, iv);
            self.enc(chunk);
            iv.copy_from_slice(chunk);
        }
        Ok(())
    }

    /// CBC decryption in place; `iv` is updated to the last ciphertext block.
    pub fn cbc_decrypt(&self, iv: &mut [u8], data: &mut [u8]) -> Result<(), CryptoError> {
        self.check_iv(iv)?;
        self.check_aligned(data.len())?;
        let mut next = Block::zero(self.block_size());
        for chunk in data.chunks_exact_mut(self.block_size()) {
            next.as_mut_slice().copy_from_slice(chunk);
            self.dec(chunk);
            xor_in_place(chunk, iv);
            iv.copy_from_slice(next.as_slice());
        }
        next.zeroize();
        Ok(())
    }

    /// The legacy D40 "send mode" (MF3ICD40 can only encrypt, so the PCD deciphers): each
    /// output block is `D(K, P_i XOR C_{i-1})` with `C_{-1}` = `iv` (zero in every D40 message);
    /// `iv` ends as the last output block (notes §4 legacy 0x0A and §5.1).
    pub fn send_mode_decipher(&self, iv: &mut [u8], data: &mut [u8]) -> Result<(), CryptoError> {
        self.check_iv(iv)?;
        self.check_aligned(data.len())?;
        for chunk in data.chunks_exact_mut(self.block_size()) {
            xor_in_place(chunk, iv);
            self.dec(chunk);
            iv.copy_from_slice(chunk);
        }
        Ok(())
    }

    /// The inverse of [`Cipher::send_mode_decipher`] (what the D40 card does to a PCD frame):
    /// `P_i = E(K, C_i) XOR C_{i-1}`.
    pub fn send_mode_recover(&self, iv: &mut [u8], data: &mut [u8]) -> Result<(), CryptoError> {
        self.check_iv(iv)?;
        self.check_aligned(data.len())?;
        let mut next = Block::zero(self.block_size());
        for chunk in data.chunks_exact_mut(self.block_size()) {
            next.as_mut_slice().copy_from_slice(chunk);
            self.enc(chunk);
            xor_in_place(chunk, iv);
            iv.copy_from_slice(next.as_slice());
        }
        Ok(())
    }

    /// The CMAC subkeys `(K1, K2)` (NIST SP 800-38B §6.1): L = E(K, 0), K1 = dbl(L),
    /// K2 = dbl(K1), with R = `0x87` for 128-bit and `0x1B` for 64-bit blocks.
    pub fn cmac_subkeys(&self) -> (Block, Block) {
        let mut l = Block::zero(self.block_size());
        self.enc(l.as_mut_slice());
        let k1 = dbl(&l);
        let k2 = dbl(&k1);
        l.zeroize();
        (k1, k2)
    }

    /// `E(K, 0)`, the value the CMAC subkeys are derived from.
    pub fn cmac_l(&self) -> Block {
        let mut l = Block::zero(self.block_size());
        self.enc(l.as_mut_slice());
        l
    }

    /// CMAC with a zero IV (standard NIST SP 800-38B).
    pub fn cmac(&self, message: &[u8]) -> Block {
        let mut iv = Block::zero(self.block_size());
        self.cmac_chain(iv.as_mut_slice(), message);
        iv
    }

    /// CMAC computed as CBC from `iv` instead of zero (the DESFire EV1 running IV, notes §5.2).
    /// Returns the full CMAC; `iv` is left unchanged (the EV1 session stores the result).
    pub fn cmac_with_iv(&self, iv: &[u8], message: &[u8]) -> Result<Block, CryptoError> {
        self.check_iv(iv)?;
        let mut state = Block::from_slice(iv);
        self.cmac_chain(state.as_mut_slice(), message);
        Ok(state)
    }

    fn cmac_chain(&self, state: &mut [u8], message: &[u8]) {
        let bs = self.block_size();
        let (k1, k2) = self.cmac_subkeys();
        // All blocks but the last go through plain CBC.
        let full_last = !message.is_empty() && message.len() % bs == 0;
        let head_len = if full_last {
            message.len() - bs
        } else {
            message.len() - message.len() % bs
        };
        let (head, tail) = message.split_at(head_len);
        for chunk in head.chunks_exact(bs) {
            xor_in_place(state, chunk);
            self.enc(state);
        }
        let mut last = Block::zero(bs);
        let lb = last.as_mut_slice();
        for (d, s) in lb.iter_mut().zip(tail) {
            *d = *s;
        }
        if full_last {
            xor_in_place(lb, k1.as_slice());
        } else {
            if let Some(p) = lb.get_mut(tail.len()) {
                *p = 0x80;
            }
            xor_in_place(lb, k2.as_slice());
        }
        xor_in_place(state, lb);
        self.enc(state);
        last.zeroize();
        let (mut k1, mut k2) = (k1, k2);
        k1.zeroize();
        k2.zeroize();
    }

    /// CBC-MAC of already padded data (used by AN10922, whose padding differs from CMAC's):
    /// returns the last block of CBC-encrypting `data` from a zero IV.
    pub(crate) fn cbc_mac(&self, data: &[u8]) -> Result<Block, CryptoError> {
        self.check_aligned(data.len())?;
        let mut state = Block::zero(self.block_size());
        for chunk in data.chunks_exact(self.block_size()) {
            xor_in_place(state.as_mut_slice(), chunk);
            self.enc(state.as_mut_slice());
        }
        Ok(state)
    }
}

/// Doubling in GF(2^b) (NIST SP 800-38B §6.1): shift left one bit, XOR R into the last byte
/// when the top bit fell off.
fn dbl(x: &Block) -> Block {
    let mut out = Block::zero(x.len());
    let r: u8 = if x.len() == 16 { 0x87 } else { 0x1B };
    let mut carry = 0u8;
    for (o, b) in out.as_mut_slice().iter_mut().zip(x.as_slice()).rev() {
        *o = (b << 1) | carry;
        carry = b >> 7;
    }
    if carry == 1 {
        if let Some(last) = out.as_mut_slice().last_mut() {
            *last ^= r;
        }
    }
    out
}

/// CRC-16/ISO-IEC-14443-3-A: reflected polynomial `0x8408`, initial value `0x6363`, no final
/// XOR; transmitted least significant byte first. Check value over `"123456789"`: `0xBF05`.
pub fn crc16_a(data: &[u8]) -> u16 {
    let mut crc: u16 = 0x6363;
    for &b in data {
        crc ^= u16::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0x8408
            } else {
                crc >> 1
            };
        }
    }
    crc
}

#[allow(
    clippy::indexing_slicing,
    reason = "const evaluation: an out-of-range index fails the build, never at run time"
)]
const fn crc32_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 == 1 {
                (c >> 1) ^ 0xEDB8_8320
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
}

static CRC32_TABLE: [u32; 256] = crc32_table();

/// The DESFire CRC32 (CRC-32/JAMCRC): IEEE 802.3 reflected polynomial `0xEDB88320`, initial
/// value `0xFFFFFFFF`, **no** final XOR; stored little-endian. Check value over
/// `"123456789"`: `0x340BC6D9` (notes §5.2).
pub fn crc32_desfire(data: &[u8]) -> u32 {
    crc32_update(0xFFFF_FFFF, data)
}

/// Continues a DESFire CRC32 over more data (start from `0xFFFFFFFF`).
pub fn crc32_update(mut crc: u32, data: &[u8]) -> u32 {
    for &b in data {
        let idx = ((crc ^ u32::from(b)) & 0xFF) as usize;
        crc = (crc >> 8) ^ CRC32_TABLE.get(idx).copied().unwrap_or(0);
    }
    crc
}

/// Zero padding to a multiple of `block` (nothing added when already aligned): the EV1
/// enciphered-frame padding (notes §5.2).
pub fn pad_zero(data: &mut Vec<u8>, block: usize) {
    if block == 0 {
        return;
    }
    let rem = data.len() % block;
    if rem != 0 {
        data.resize(data.len() + block - rem, 0);
    }
}

/// ISO/IEC 9797-1 padding method 2: `80 00..`, always at least one byte (a whole block when
/// the data is aligned): the EV2 CommMode.Full padding (notes §5.3).
pub fn pad_iso9797_m2(data: &mut Vec<u8>, block: usize) {
    data.push(0x80);
    pad_zero(data, block);
}

/// Removes ISO/IEC 9797-1 method-2 padding that lies within the last `block` bytes; `None`
/// when it is malformed.
pub fn unpad_iso9797_m2(data: &[u8], block: usize) -> Option<&[u8]> {
    let mut end = data.len();
    while end > 0 {
        let b = *data.get(end - 1)?;
        end -= 1;
        match b {
            0x00 if data.len() - end < block => continue,
            0x80 => return data.get(..end),
            _ => return None,
        }
    }
    None
}

/// Rotates left by one byte: `x[1..] || x[0]` (the DESFire `rol`).
pub fn rotate_left(x: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(x.len());
    if let Some((first, rest)) = x.split_first() {
        v.extend_from_slice(rest);
        v.push(*first);
    }
    v
}

/// Constant-time equality of two byte strings (lengths are not secret).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_check_values() {
        assert_eq!(crc16_a(b"123456789"), 0xBF05);
        assert_eq!(crc32_desfire(b"123456789"), 0x340B_C6D9);
        assert_eq!(crc32_desfire(b""), 0xFFFF_FFFF);
    }

    #[test]
    fn padding() {
        let mut v = alloc::vec![1, 2, 3];
        pad_iso9797_m2(&mut v, 8);
        assert_eq!(v, [1, 2, 3, 0x80, 0, 0, 0, 0]);
        assert_eq!(unpad_iso9797_m2(&v, 8), Some(&[1u8, 2, 3][..]));
        let mut w = alloc::vec![0u8; 16];
        pad_iso9797_m2(&mut w, 16);
        assert_eq!(w.len(), 32);
        assert_eq!(unpad_iso9797_m2(&w, 16), Some(&[0u8; 16][..]));
        assert_eq!(unpad_iso9797_m2(&[0u8; 16], 16), None);
        assert_eq!(unpad_iso9797_m2(&[], 16), None);
        // Padding longer than one block is refused.
        let mut long = alloc::vec![0x80];
        long.extend_from_slice(&[0; 16]);
        assert_eq!(unpad_iso9797_m2(&long, 16), None);
    }

    #[test]
    fn key_version_in_parity() {
        // ELM: key 00 10 20 31 40 50 60 70 ... carries version 0x10 (notes §3).
        let k = Key::new(
            KeyType::TwoKey3Des,
            &[
                0x00, 0x10, 0x20, 0x31, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xA0, 0xB0, 0xB0, 0xA0,
                0x90, 0x80,
            ],
        )
        .unwrap();
        assert_eq!(k.version(), 0x10);
        assert_eq!(Key::zero(KeyType::Des).with_version(0xA5).version(), 0xA5);
        let aes = Key::zero(KeyType::Aes128).with_version(7);
        assert_eq!(aes.version(), 7);
        assert!(!alloc::format!("{aes:?}").contains("00, 00"));
    }

    #[test]
    fn des_key_forms() {
        assert!(Key::new(KeyType::Des, &[0u8; 16]).is_ok());
        assert_eq!(
            Key::new(
                KeyType::Des,
                &[0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8]
            )
            .err(),
            Some(CryptoError::DesHalvesDiffer)
        );
        assert!(matches!(
            Key::new(KeyType::Aes128, &[0u8; 15]),
            Err(CryptoError::KeyLength { .. })
        ));
        assert_eq!(
            Key::zero(KeyType::TwoKey3Des).effective_type(),
            KeyType::Des
        );
        assert_eq!(Key::zero(KeyType::Des).card_bytes().len(), 16);
    }

    #[test]
    fn cbc_round_trip_and_errors() {
        let c = Key::aes([7; 16]).cipher();
        let mut iv = [1u8; 16];
        let mut data = [9u8; 32];
        c.cbc_encrypt(&mut iv, &mut data).unwrap();
        let mut iv2 = [1u8; 16];
        c.cbc_decrypt(&mut iv2, &mut data).unwrap();
        assert_eq!(data, [9u8; 32]);
        assert_eq!(iv, iv2);
        assert!(c.cbc_encrypt(&mut [0u8; 8], &mut data).is_err());
        assert!(c.cbc_encrypt(&mut [0u8; 16], &mut [0u8; 15]).is_err());
        let d = Key::tdes2([3; 16]).cipher();
        let mut iv = [0u8; 8];
        let mut x = [5u8; 16];
        d.send_mode_decipher(&mut iv, &mut x).unwrap();
        let mut iv = [0u8; 8];
        d.send_mode_recover(&mut iv, &mut x).unwrap();
        assert_eq!(x, [5u8; 16]);
    }
}
