//! Mutual authentication: host-side state machines with injected randomness, and the pure
//! session-key functions both ends share (notes §4).
//!
//! | mode | code | keys | chaining | session |
//! |---|---|---|---|---|
//! | [`AuthMode::Legacy`] | `0A` | DES, 2K3DES | none, "send mode" (PCD deciphers), IV 0 per message | [`D40Session`] |
//! | [`AuthMode::Iso`] | `1A` | DES, 2K3DES, 3K3DES | one CBC chain across the three messages | [`Ev1Session`] |
//! | [`AuthMode::Aes`] | `AA` | AES | one CBC chain across the three messages | [`Ev1Session`] |
//! | [`AuthMode::Ev2First`] | `71` | AES | IV 0 for each message | [`Ev2Session`], new TI, CmdCtr 0 |
//! | [`AuthMode::Ev2NonFirst`] | `77` | AES | IV 0 for each message | [`Ev2Session`], TI and CmdCtr kept |
//!
//! A host runs [`HostAuth`]: [`HostAuth::command`] gives the first frame, [`HostAuth::respond`]
//! turns the card's `AF ek(RndB)` into the `AF` frame (with the caller's RndA, so tests can
//! replay published vectors), and [`HostAuth::finish`] checks the card's proof and returns the
//! session. A simulated card uses [`ev1_session_key`], [`ev2_session_keys`] and
//! [`crate::crypto`] directly.

use alloc::vec::Vec;
use zeroize::{Zeroize, Zeroizing};

use crate::crypto::{Block, Cipher, CryptoError, Key, KeyType, ct_eq, rotate_left};
use crate::frame::DesfireStatus;
use crate::session::{D40Session, Ev1Session, Ev2Session, SecureChannel};

/// The authentication commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthMode {
    /// `0A`, legacy (D40) DES / 2K3DES.
    Legacy,
    /// `1A`, AuthenticateISO (EV1): DES, 2K3DES, 3K3DES.
    Iso,
    /// `AA`, AuthenticateAES (EV1).
    Aes,
    /// `71`, AuthenticateEV2First (AES).
    Ev2First,
    /// `77`, AuthenticateEV2NonFirst (AES), inside an EV2 transaction.
    Ev2NonFirst,
}

impl AuthMode {
    /// The native command code.
    pub const fn code(self) -> u8 {
        match self {
            AuthMode::Legacy => 0x0A,
            AuthMode::Iso => 0x1A,
            AuthMode::Aes => 0xAA,
            AuthMode::Ev2First => 0x71,
            AuthMode::Ev2NonFirst => 0x77,
        }
    }

    /// Whether a key type can be used with this mode.
    pub const fn accepts(self, ty: KeyType) -> bool {
        matches!(
            (self, ty),
            (AuthMode::Legacy, KeyType::Des | KeyType::TwoKey3Des)
                | (
                    AuthMode::Iso,
                    KeyType::Des | KeyType::TwoKey3Des | KeyType::ThreeKey3Des
                )
                | (
                    AuthMode::Aes | AuthMode::Ev2First | AuthMode::Ev2NonFirst,
                    KeyType::Aes128
                )
        )
    }

    /// The usual mode for a key type on an EV1 card: `1A` for (3)DES, `AA` for AES.
    pub const fn ev1_for(ty: KeyType) -> Self {
        match ty {
            KeyType::Aes128 => AuthMode::Aes,
            _ => AuthMode::Iso,
        }
    }
}

/// Why an authentication failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The key type does not work with this authentication command.
    #[error("a {ty:?} key cannot be used with {mode:?} authentication")]
    KeyType {
        /// The mode asked for.
        mode: AuthMode,
        /// The key's type.
        ty: KeyType,
    },
    /// The card refused to start (e.g. `40` no such key, `1C` command not supported, `9D`).
    #[error("the card refused to start it: {0}")]
    Refused(DesfireStatus),
    /// The card rejected our proof (`AE`): the key we used is not the card's key.
    #[error("wrong key, the card answered {0}")]
    WrongKey(DesfireStatus),
    /// The card's proof does not decrypt to RndA rotated: the card does not hold our key
    /// (or the answer was forged).
    #[error("the card's answer does not prove it holds the key")]
    CardProofMismatch,
    /// A message of the wrong length.
    #[error("authentication message of {got} bytes, {expected} expected")]
    Length {
        /// Expected.
        expected: usize,
        /// Received.
        got: usize,
    },
    /// RndA of the wrong length for the key type.
    #[error("RndA must be {expected} bytes, got {got}")]
    RandomLength {
        /// Expected.
        expected: usize,
        /// Given.
        got: usize,
    },
    /// A step called out of order.
    #[error("authentication step called out of order")]
    OutOfOrder,
    /// PCDcap2 longer than 6 bytes.
    #[error("PCDcap2 is at most 6 bytes")]
    Capabilities,
    /// A session could not be built from the derived keys.
    #[error("session setup failed: {0}")]
    Crypto(CryptoError),
}

/// The EV1 session key (notes §4): DES `A[0..4] B[0..4]`; 2K3DES `A[0..4] B[0..4] A[4..8]
/// B[4..8]`; 3K3DES `A[0..4] B[0..4] A[6..10] B[6..10] A[12..16] B[12..16]`; AES `A[0..4]
/// B[0..4] A[12..16] B[12..16]`. The legacy 0x0A authentication uses the same rule.
///
/// `ty` is the *effective* key type ([`Key::effective_type`]): a 2K3DES key with equal
/// halves is DES and yields an 8-byte session key.
pub fn ev1_session_key(ty: KeyType, rnd_a: &[u8], rnd_b: &[u8]) -> Result<Key, AuthError> {
    let need = ty.random_len();
    for r in [rnd_a, rnd_b] {
        if r.len() != need {
            return Err(AuthError::RandomLength {
                expected: need,
                got: r.len(),
            });
        }
    }
    let ranges: &[(usize, usize)] = match ty {
        KeyType::Des => &[(0, 4)],
        KeyType::TwoKey3Des => &[(0, 4), (4, 8)],
        KeyType::ThreeKey3Des => &[(0, 4), (6, 10), (12, 16)],
        KeyType::Aes128 => &[(0, 4), (12, 16)],
    };
    let mut k = Zeroizing::new(Vec::with_capacity(24));
    for &(from, to) in ranges {
        k.extend_from_slice(rnd_a.get(from..to).unwrap_or_default());
        k.extend_from_slice(rnd_b.get(from..to).unwrap_or_default());
    }
    Key::new(ty, &k).map_err(AuthError::Crypto)
}

/// The EV2 session vectors `(SV1, SV2)` (AN12196 §5.6 / notes §4):
/// `A5 5A 00 01 00 80 || RndA[0..2] || (RndA[2..8] XOR RndB[0..6]) || RndB[6..16] || RndA[8..16]`,
/// SV2 the same with `5A A5`.
pub fn ev2_session_vectors(
    rnd_a: &[u8; 16],
    rnd_b: &[u8; 16],
) -> (Zeroizing<[u8; 32]>, Zeroizing<[u8; 32]>) {
    let mut sv1 = Zeroizing::new([0u8; 32]);
    let mut body = Zeroizing::new(Vec::with_capacity(26));
    body.extend_from_slice(&rnd_a[..2]);
    body.extend(rnd_a[2..8].iter().zip(&rnd_b[..6]).map(|(a, b)| a ^ b));
    body.extend_from_slice(&rnd_b[6..]);
    body.extend_from_slice(&rnd_a[8..]);
    let mut v = Zeroizing::new(Vec::with_capacity(32));
    v.extend_from_slice(&[0xA5, 0x5A, 0x00, 0x01, 0x00, 0x80]);
    v.extend_from_slice(&body);
    sv1.copy_from_slice(&v);
    let mut sv2 = sv1.clone();
    if let Some(label) = sv2.get_mut(..2) {
        label.copy_from_slice(&[0x5A, 0xA5]);
    }
    (sv1, sv2)
}

/// The EV2 session keys `(KSesAuthENC, KSesAuthMAC)` = `(CMAC(K, SV1), CMAC(K, SV2))`.
pub fn ev2_session_keys(
    key: &Key,
    rnd_a: &[u8; 16],
    rnd_b: &[u8; 16],
) -> Result<(Key, Key), AuthError> {
    if key.key_type() != KeyType::Aes128 {
        return Err(AuthError::KeyType {
            mode: AuthMode::Ev2First,
            ty: key.key_type(),
        });
    }
    let cipher = key.cipher();
    let (sv1, sv2) = ev2_session_vectors(rnd_a, rnd_b);
    let derive = |sv: &[u8]| {
        let mut block = cipher.cmac(sv);
        let k = Key::new(KeyType::Aes128, block.as_slice()).map_err(AuthError::Crypto);
        block.zeroize();
        k
    };
    Ok((derive(&sv1[..])?, derive(&sv2[..])?))
}

/// What a finished authentication gives.
#[derive(Debug, Clone)]
pub struct Authenticated {
    /// The secure channel.
    pub channel: SecureChannel,
    /// The key number used (without PICC type bits).
    pub key_no: u8,
    /// EV2First only: the card's capabilities PDcap2 (6 bytes).
    pub pd_cap2: Option<[u8; 6]>,
    /// EV2First only: PCDcap2 as echoed by the card (6 bytes).
    pub pcd_cap2: Option<[u8; 6]>,
}

enum Stage {
    Start,
    Challenged {
        rnd_a: Zeroizing<Vec<u8>>,
        rnd_b: Zeroizing<Vec<u8>>,
        iv: Block,
    },
    Done,
}

/// Host-side authentication state machine (see the module documentation).
pub struct HostAuth {
    mode: AuthMode,
    key_no: u8,
    key: Key,
    cipher: Cipher,
    pcd_cap2: Vec<u8>,
    carry: Option<([u8; 4], u16)>,
    stage: Stage,
}

impl core::fmt::Debug for HostAuth {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("HostAuth")
            .field("mode", &self.mode)
            .field("key_no", &self.key_no)
            .finish_non_exhaustive()
    }
}

impl HostAuth {
    /// Starts an authentication with key number `key_no` (PICC-level key-type bits are not
    /// part of it) and the key itself. For [`AuthMode::Ev2NonFirst`] use
    /// [`HostAuth::non_first`].
    pub fn new(mode: AuthMode, key_no: u8, key: Key) -> Result<Self, AuthError> {
        if !mode.accepts(key.key_type()) {
            return Err(AuthError::KeyType {
                mode,
                ty: key.key_type(),
            });
        }
        let cipher = key.cipher();
        Ok(HostAuth {
            mode,
            key_no,
            key,
            cipher,
            pcd_cap2: Vec::new(),
            carry: None,
            stage: Stage::Start,
        })
    }

    /// `AuthenticateEV2NonFirst` inside an existing EV2 transaction: TI is kept and CmdCtr
    /// continues from `current` (AN12196: ChangeKey after NonFirst runs at CmdCtr 2, 3).
    pub fn non_first(key_no: u8, key: Key, current: &Ev2Session) -> Result<Self, AuthError> {
        let mut a = HostAuth::new(AuthMode::Ev2NonFirst, key_no, key)?;
        a.carry = Some((current.ti(), current.cmd_ctr()));
        Ok(a)
    }

    /// EV2First only: PCDcap2 bytes to send (at most 6; default none, LenCap = 0).
    pub fn with_pcd_capabilities(mut self, pcd_cap2: &[u8]) -> Result<Self, AuthError> {
        if pcd_cap2.len() > 6 || self.mode != AuthMode::Ev2First {
            return Err(AuthError::Capabilities);
        }
        self.pcd_cap2 = pcd_cap2.to_vec();
        Ok(self)
    }

    /// The mode.
    pub fn mode(&self) -> AuthMode {
        self.mode
    }

    /// Length of RndA the caller must supply to [`HostAuth::respond`].
    pub fn random_len(&self) -> usize {
        self.key.key_type().random_len()
    }

    /// The first native frame: `(code, payload)`. EV2First: `71 KeyNo LenCap [PCDcap2]`;
    /// the others `code KeyNo`.
    pub fn command(&self) -> (u8, Vec<u8>) {
        let mut p = alloc::vec![self.key_no];
        if self.mode == AuthMode::Ev2First {
            p.push(self.pcd_cap2.len() as u8);
            p.extend_from_slice(&self.pcd_cap2);
        }
        (self.mode.code(), p)
    }

    /// Processes the card's challenge (`AF || ek(RndB)`) and returns the payload of the
    /// `AF` frame to send: `ek(RndA || rol(RndB))` (legacy: two send-mode blocks).
    pub fn respond(
        &mut self,
        status: DesfireStatus,
        ek_rnd_b: &[u8],
        rnd_a: &[u8],
    ) -> Result<Vec<u8>, AuthError> {
        if !matches!(self.stage, Stage::Start) {
            return Err(AuthError::OutOfOrder);
        }
        if status != DesfireStatus::AdditionalFrame {
            self.stage = Stage::Done;
            return Err(AuthError::Refused(status));
        }
        let n = self.random_len();
        if ek_rnd_b.len() != n {
            return Err(AuthError::Length {
                expected: n,
                got: ek_rnd_b.len(),
            });
        }
        if rnd_a.len() != n {
            return Err(AuthError::RandomLength {
                expected: n,
                got: rnd_a.len(),
            });
        }
        let bs = self.cipher.block_size();
        let mut rnd_b = Zeroizing::new(ek_rnd_b.to_vec());
        let mut token = Zeroizing::new(Vec::with_capacity(2 * n));
        token.extend_from_slice(rnd_a);
        let iv = match self.mode {
            AuthMode::Legacy => {
                // RndB = D(K, ek), one block; token in send mode from IV 0 (notes §4).
                self.cipher
                    .decrypt_blocks(&mut rnd_b)
                    .map_err(AuthError::Crypto)?;
                token.extend_from_slice(&rotate_left(&rnd_b));
                let mut iv = Block::zero(bs);
                self.cipher
                    .send_mode_decipher(iv.as_mut_slice(), &mut token)
                    .map_err(AuthError::Crypto)?;
                Block::zero(bs)
            }
            AuthMode::Iso | AuthMode::Aes => {
                // One CBC chain: RndB from IV 0; token from IV = last block of ek; the
                // card's answer from IV = last block of the token.
                let mut iv = Block::zero(bs);
                self.cipher
                    .cbc_decrypt(iv.as_mut_slice(), &mut rnd_b)
                    .map_err(AuthError::Crypto)?;
                token.extend_from_slice(&rotate_left(&rnd_b));
                self.cipher
                    .cbc_encrypt(iv.as_mut_slice(), &mut token)
                    .map_err(AuthError::Crypto)?;
                iv
            }
            AuthMode::Ev2First | AuthMode::Ev2NonFirst => {
                let mut iv = Block::zero(bs);
                self.cipher
                    .cbc_decrypt(iv.as_mut_slice(), &mut rnd_b)
                    .map_err(AuthError::Crypto)?;
                token.extend_from_slice(&rotate_left(&rnd_b));
                let mut iv = Block::zero(bs);
                self.cipher
                    .cbc_encrypt(iv.as_mut_slice(), &mut token)
                    .map_err(AuthError::Crypto)?;
                Block::zero(bs)
            }
        };
        self.stage = Stage::Challenged {
            rnd_a: Zeroizing::new(rnd_a.to_vec()),
            rnd_b,
            iv,
        };
        Ok(token.to_vec())
    }

    /// Checks the card's final answer and builds the session.
    pub fn finish(
        &mut self,
        status: DesfireStatus,
        data: &[u8],
    ) -> Result<Authenticated, AuthError> {
        let Stage::Challenged { rnd_a, rnd_b, iv } =
            core::mem::replace(&mut self.stage, Stage::Done)
        else {
            return Err(AuthError::OutOfOrder);
        };
        if status != DesfireStatus::Ok {
            return Err(match status {
                DesfireStatus::AuthenticationError => AuthError::WrongKey(status),
                other => AuthError::Refused(other),
            });
        }
        let n = rnd_a.len();
        let expected_len = match self.mode {
            AuthMode::Ev2First => 32,
            _ => n,
        };
        if data.len() != expected_len {
            return Err(AuthError::Length {
                expected: expected_len,
                got: data.len(),
            });
        }
        let mut plain = Zeroizing::new(data.to_vec());
        let mut iv = iv;
        match self.mode {
            AuthMode::Legacy => self.cipher.decrypt_blocks(&mut plain),
            _ => self.cipher.cbc_decrypt(iv.as_mut_slice(), &mut plain),
        }
        .map_err(AuthError::Crypto)?;
        let (ti, proof, caps) = match self.mode {
            AuthMode::Ev2First => {
                let (ti, rest) = plain.split_at_checked(4).unwrap_or_default();
                let (proof, caps) = rest.split_at_checked(16).unwrap_or_default();
                (Some(ti), proof, caps)
            }
            _ => (None, plain.as_slice(), &[][..]),
        };
        if !ct_eq(proof, &rotate_left(&rnd_a)) {
            return Err(AuthError::CardProofMismatch);
        }
        let channel = match self.mode {
            AuthMode::Legacy => SecureChannel::D40(D40Session::new(ev1_session_key(
                self.key.effective_type(),
                &rnd_a,
                &rnd_b,
            )?)),
            AuthMode::Iso | AuthMode::Aes => SecureChannel::Ev1(Ev1Session::new(ev1_session_key(
                self.key.effective_type(),
                &rnd_a,
                &rnd_b,
            )?)),
            AuthMode::Ev2First | AuthMode::Ev2NonFirst => {
                let a: [u8; 16] = rnd_a.as_slice().try_into().map_err(|_| AuthError::Length {
                    expected: 16,
                    got: rnd_a.len(),
                })?;
                let b: [u8; 16] = rnd_b.as_slice().try_into().map_err(|_| AuthError::Length {
                    expected: 16,
                    got: rnd_b.len(),
                })?;
                let (enc, mac) = ev2_session_keys(&self.key, &a, &b)?;
                let (ti, ctr) = match (ti, self.carry) {
                    (Some(ti), _) => {
                        let mut t = [0u8; 4];
                        for (d, s) in t.iter_mut().zip(ti) {
                            *d = *s;
                        }
                        (t, 0)
                    }
                    (None, Some(carry)) => carry,
                    (None, None) => ([0; 4], 0),
                };
                SecureChannel::Ev2(Ev2Session::new(enc, mac, ti, ctr).map_err(|_| {
                    AuthError::KeyType {
                        mode: self.mode,
                        ty: self.key.key_type(),
                    }
                })?)
            }
        };
        let cap = |range: core::ops::Range<usize>| -> Option<[u8; 6]> {
            caps.get(range).and_then(|c| c.try_into().ok())
        };
        Ok(Authenticated {
            channel,
            key_no: self.key_no,
            pd_cap2: cap(0..6),
            pcd_cap2: cap(6..12),
        })
    }
}
