//! PIN/UV auth protocols 1 and 2 (FIDO CTAP 2.1 §6.5.6 and §6.5.7).
//!
//! Both sides use the same primitives, so the simulated applet and the client share this
//! module: ECDH on P-256 with COSE-encoded public keys, the protocol KDF, AES-256-CBC
//! encryption without padding, and HMAC-SHA-256 authentication.
//!
//! | | protocol 1 | protocol 2 |
//! |---|---|---|
//! | KDF(Z) | SHA-256(Z) | HKDF-SHA-256(salt 0³², Z, "CTAP2 HMAC key") ‖ HKDF(…, "CTAP2 AES key") |
//! | encrypt | AES-256-CBC, IV = 0 | random IV ‖ AES-256-CBC |
//! | authenticate | HMAC-SHA-256, first 16 bytes | HMAC-SHA-256, 32 bytes |

use aes::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit, block_padding::NoPadding};
use hmac::{Hmac, Mac};
use p256::elliptic_curve::sec1::{FromEncodedPoint, ToEncodedPoint};
use p256::{EncodedPoint, PublicKey, SecretKey};
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::cbor::Value;

type Aes256CbcEnc = cbc::Encryptor<aes::Aes256>;
type Aes256CbcDec = cbc::Decryptor<aes::Aes256>;

/// Failures of the PIN/UV auth protocol primitives.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PinError {
    /// The peer's COSE key is malformed or not a P-256 point.
    #[error("invalid key-agreement key: {0}")]
    BadKey(&'static str),
    /// Ciphertext length is not a multiple of 16 (or too short for protocol 2's IV).
    #[error("ciphertext of {0} bytes is not a whole number of AES blocks")]
    BadLength(usize),
    /// The PIN is shorter than 4 code points or longer than 63 bytes.
    #[error("PIN must be 4 to 63 bytes of UTF-8 (at least 4 characters)")]
    PinPolicy,
    /// Unknown protocol number.
    #[error("PIN/UV auth protocol {0} is not supported (1 and 2 are)")]
    UnsupportedProtocol(u64),
}

/// A PIN/UV auth protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PinProtocol {
    /// Protocol one (CTAP 2.0).
    V1,
    /// Protocol two (CTAP 2.1).
    V2,
}

impl PinProtocol {
    /// The protocol number used on the wire.
    pub fn number(self) -> u64 {
        match self {
            PinProtocol::V1 => 1,
            PinProtocol::V2 => 2,
        }
    }

    /// From the wire number.
    pub fn from_number(n: u64) -> Result<Self, PinError> {
        match n {
            1 => Ok(PinProtocol::V1),
            2 => Ok(PinProtocol::V2),
            n => Err(PinError::UnsupportedProtocol(n)),
        }
    }

    /// The shared secret from the ECDH x-coordinate `z`.
    pub fn kdf(self, z: &[u8; 32]) -> SharedSecret {
        match self {
            PinProtocol::V1 => {
                let k: [u8; 32] = Sha256::digest(z).into();
                SharedSecret {
                    protocol: self,
                    hmac_key: Zeroizing::new(k),
                    aes_key: Zeroizing::new(k),
                }
            }
            PinProtocol::V2 => {
                let hk = hkdf::Hkdf::<Sha256>::new(Some(&[0u8; 32]), z);
                let mut hmac_key = Zeroizing::new([0u8; 32]);
                let mut aes_key = Zeroizing::new([0u8; 32]);
                // Output lengths of 32 are always valid for HKDF-SHA-256 (≤ 255 × 32).
                let _ = hk.expand(b"CTAP2 HMAC key", hmac_key.as_mut());
                let _ = hk.expand(b"CTAP2 AES key", aes_key.as_mut());
                SharedSecret {
                    protocol: self,
                    hmac_key,
                    aes_key,
                }
            }
        }
    }

    /// Authenticates `message` with a pinUvAuthToken (protocol 1: 16 bytes, 2: 32 bytes).
    pub fn authenticate(self, key: &[u8], message: &[u8]) -> Vec<u8> {
        // HMAC takes keys of any length: the error branch cannot be taken, and an empty
        // result would only make a verification fail.
        let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(key) else {
            return Vec::new();
        };
        mac.update(message);
        let full = mac.finalize().into_bytes();
        match self {
            PinProtocol::V1 => full.get(..16).unwrap_or(&full).to_vec(),
            PinProtocol::V2 => full.to_vec(),
        }
    }

    /// Checks a pinUvAuthParam in constant time.
    pub fn verify(self, key: &[u8], message: &[u8], param: &[u8]) -> bool {
        use subtle::ConstantTimeEq;
        let expected = self.authenticate(key, message);
        expected.len() == param.len() && bool::from(expected.as_slice().ct_eq(param))
    }
}

/// The secret agreed between platform and authenticator for one PIN exchange.
pub struct SharedSecret {
    protocol: PinProtocol,
    hmac_key: Zeroizing<[u8; 32]>,
    aes_key: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for SharedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedSecret")
            .field("protocol", &self.protocol)
            .finish_non_exhaustive()
    }
}

impl SharedSecret {
    /// The protocol this secret belongs to.
    pub fn protocol(&self) -> PinProtocol {
        self.protocol
    }

    /// The HMAC key (protocol 1: the whole secret).
    pub fn hmac_key(&self) -> &[u8; 32] {
        &self.hmac_key
    }

    /// Encrypts a whole number of blocks. Protocol 2 uses `iv` when given (test vectors),
    /// otherwise a random one, and prefixes it.
    pub fn encrypt_with_iv(
        &self,
        plaintext: &[u8],
        iv: Option<[u8; 16]>,
    ) -> Result<Vec<u8>, PinError> {
        if plaintext.len() % 16 != 0 {
            return Err(PinError::BadLength(plaintext.len()));
        }
        let key = self.aes_key.as_ref();
        match self.protocol {
            PinProtocol::V1 => Ok(Aes256CbcEnc::new(key.into(), &[0u8; 16].into())
                .encrypt_padded_vec_mut::<NoPadding>(plaintext)),
            PinProtocol::V2 => {
                let iv = iv.unwrap_or_else(|| {
                    let mut iv = [0u8; 16];
                    OsRng.fill_bytes(&mut iv);
                    iv
                });
                let mut out = iv.to_vec();
                out.extend(
                    Aes256CbcEnc::new(key.into(), &iv.into())
                        .encrypt_padded_vec_mut::<NoPadding>(plaintext),
                );
                Ok(out)
            }
        }
    }

    /// Encrypts (protocol 2 with a random IV).
    pub fn encrypt(&self, plaintext: &[u8]) -> Result<Vec<u8>, PinError> {
        self.encrypt_with_iv(plaintext, None)
    }

    /// Decrypts what [`SharedSecret::encrypt`] produced.
    pub fn decrypt(&self, ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>, PinError> {
        let key = self.aes_key.as_ref();
        let (iv, body) = match self.protocol {
            PinProtocol::V1 => ([0u8; 16], ciphertext),
            PinProtocol::V2 => {
                let (iv, body) = ciphertext
                    .split_first_chunk::<16>()
                    .ok_or(PinError::BadLength(ciphertext.len()))?;
                (*iv, body)
            }
        };
        if body.len() % 16 != 0 {
            return Err(PinError::BadLength(body.len()));
        }
        Aes256CbcDec::new(key.into(), &iv.into())
            .decrypt_padded_vec_mut::<NoPadding>(body)
            .map(Zeroizing::new)
            .map_err(|_| PinError::BadLength(body.len()))
    }

    /// `authenticate(sharedSecret, message)` (protocol 1: 16 bytes; 2: 32 bytes).
    pub fn authenticate(&self, message: &[u8]) -> Vec<u8> {
        self.protocol.authenticate(self.hmac_key.as_ref(), message)
    }

    /// Constant-time check of a pinUvAuthParam made with this secret.
    pub fn verify(&self, message: &[u8], param: &[u8]) -> bool {
        self.protocol.verify(self.hmac_key.as_ref(), message, param)
    }
}

/// One side's ephemeral key-agreement key.
#[derive(Clone)]
pub struct KeyAgreement {
    secret: SecretKey,
}

impl KeyAgreement {
    /// A fresh random key.
    pub fn generate() -> Self {
        KeyAgreement {
            secret: SecretKey::random(&mut OsRng),
        }
    }

    /// A key from a 32-byte scalar (test vectors); fails for 0 or values ≥ n.
    pub fn from_scalar(bytes: &[u8; 32]) -> Result<Self, PinError> {
        SecretKey::from_bytes(bytes.into())
            .map(|secret| KeyAgreement { secret })
            .map_err(|_| PinError::BadKey("scalar out of range"))
    }

    /// The public key as a COSE_Key `{1: 2, 3: -25, -1: 1, -2: x, -3: y}` (CTAP 2.1 §6.5.6).
    pub fn cose_public_key(&self) -> Value {
        cose_p256(&self.secret.public_key(), -25)
    }

    /// ECDH with the peer's COSE key, then the protocol KDF.
    pub fn shared_secret(
        &self,
        protocol: PinProtocol,
        peer: &Value,
    ) -> Result<SharedSecret, PinError> {
        let peer = public_key_from_cose(peer)?;
        let shared = p256::ecdh::diffie_hellman(self.secret.to_nonzero_scalar(), peer.as_affine());
        let z: [u8; 32] = (*shared.raw_secret_bytes()).into();
        let z = Zeroizing::new(z);
        Ok(protocol.kdf(&z))
    }
}

/// Encodes a P-256 public key as a COSE_Key with the given `alg` (-7 ES256, -25 ECDH-ES+HKDF-256).
pub fn cose_p256(key: &PublicKey, alg: i64) -> Value {
    let point = key.to_encoded_point(false);
    let x = point.x().map(|x| x.to_vec()).unwrap_or_default();
    let y = point.y().map(|y| y.to_vec()).unwrap_or_default();
    Value::map([
        (Value::int(1), Value::int(2)),
        (Value::int(3), Value::int(alg)),
        (Value::int(-1), Value::int(1)),
        (Value::int(-2), Value::Bytes(x)),
        (Value::int(-3), Value::Bytes(y)),
    ])
}

/// Decodes a COSE EC2 P-256 key and checks that the point is on the curve.
pub fn public_key_from_cose(v: &Value) -> Result<PublicKey, PinError> {
    if v.get_int(1).and_then(Value::as_i64) != Some(2) {
        return Err(PinError::BadKey("kty is not EC2"));
    }
    if v.get_int(-1).and_then(Value::as_i64) != Some(1) {
        return Err(PinError::BadKey("crv is not P-256"));
    }
    let x = v
        .get_int(-2)
        .and_then(Value::as_bytes)
        .ok_or(PinError::BadKey("missing x"))?;
    let y = v
        .get_int(-3)
        .and_then(Value::as_bytes)
        .ok_or(PinError::BadKey("missing y"))?;
    let (x, y): (&[u8; 32], &[u8; 32]) = match (x.try_into(), y.try_into()) {
        (Ok(x), Ok(y)) => (x, y),
        _ => return Err(PinError::BadKey("coordinates must be 32 bytes")),
    };
    let point = EncodedPoint::from_affine_coordinates(x.into(), y.into(), false);
    Option::from(PublicKey::from_encoded_point(&point))
        .ok_or(PinError::BadKey("point not on P-256"))
}

/// `LEFT(SHA-256(pin), 16)` (CTAP 2.1 §6.5.5.5).
pub fn pin_hash(pin: &str) -> Zeroizing<[u8; 16]> {
    let d = Zeroizing::new(<[u8; 32]>::from(Sha256::digest(pin.as_bytes())));
    let mut out = Zeroizing::new([0u8; 16]);
    out.copy_from_slice(d.get(..16).unwrap_or(&[0; 16]));
    out
}

/// The PIN padded with zeros to 64 bytes, after the CTAP policy checks (≥ 4 code points,
/// ≤ 63 bytes).
pub fn padded_pin(pin: &str) -> Result<Zeroizing<Vec<u8>>, PinError> {
    if pin.chars().count() < 4 || pin.len() > 63 {
        return Err(PinError::PinPolicy);
    }
    let mut out = Zeroizing::new(vec![0u8; 64]);
    out.get_mut(..pin.len())
        .ok_or(PinError::PinPolicy)?
        .copy_from_slice(pin.as_bytes());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cbor;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }
    fn h32(s: &str) -> [u8; 32] {
        h(s).try_into().unwrap()
    }

    /// Shared notes §6.4 ("own deterministic vectors", checked with python-fido2 2.2.1).
    struct V;
    impl V {
        const AUTH_PRIV: &'static str =
            "ef9492739327ae5c8fdce5d1531b7f09417368d5cc09445fae3ac044c94f415c";
        const PLAT_PRIV: &'static str =
            "95c925209047920b60b0c92ffc988656f59696844f4988b086253af3a80bd6f8";
        const TOKEN: &'static str =
            "0c91fe6fdb3f45719a639c127d11a14057f54106b6e978d272bb31f5ff717034";
    }

    #[test]
    fn key_agreement_vectors() {
        let auth = KeyAgreement::from_scalar(&h32(V::AUTH_PRIV)).unwrap();
        let plat = KeyAgreement::from_scalar(&h32(V::PLAT_PRIV)).unwrap();
        // getKeyAgreement response {1: COSE} and the platform key as encoded in requests.
        let resp = Value::map([(Value::int(1), auth.cose_public_key())]);
        assert_eq!(
            cbor::encode(&resp),
            h(
                "a101a501020338182001215820250dd9862216d507b037a9d7cdcf1056a31df0399f40d248f20c978e16e9824422582093f272fc2748b77535f3cd3dea687be6faaf3d675a84f3c0e170ca592048822c"
            )
        );
        assert_eq!(
            cbor::encode(&plat.cose_public_key()),
            h(
                "a501020338182001215820e7e5b4abc810885f8247d9a76bbc0f4af82c20fd04bff70bd376015bd269f1b522582008d6e9c212a26e5e2e8186433c216124fe793037bb24fa88f538fa80f0a90f55"
            )
        );
        // Both sides agree.
        let s1 = plat
            .shared_secret(PinProtocol::V1, &auth.cose_public_key())
            .unwrap();
        let s1b = auth
            .shared_secret(PinProtocol::V1, &plat.cose_public_key())
            .unwrap();
        assert_eq!(
            s1.hmac_key(),
            &h32("78884fbfa6e08e8c2f39fa3334dbd2b4c93d390ec0bd33d85eb7ddefdaffe558")
        );
        assert_eq!(s1.hmac_key(), s1b.hmac_key());
    }

    #[test]
    fn protocol1_vectors() {
        let plat = KeyAgreement::from_scalar(&h32(V::PLAT_PRIV)).unwrap();
        let auth = KeyAgreement::from_scalar(&h32(V::AUTH_PRIV)).unwrap();
        let s = plat
            .shared_secret(PinProtocol::V1, &auth.cose_public_key())
            .unwrap();
        assert_eq!(
            pin_hash("1234").as_ref(),
            &h("03ac674216f3e15c761ee1a5e255f067")[..]
        );
        assert_eq!(
            s.encrypt(pin_hash("1234").as_ref()).unwrap(),
            h("ceac850258db1036cb9d6dd6995e4a24")
        );
        let new_pin_enc = s.encrypt(&padded_pin("1234").unwrap()).unwrap();
        assert_eq!(
            new_pin_enc,
            h(
                "25ea2d6c10edb7e22199786cb331a1ffb22575862318d674de456a5e9aa7a8055700f747d2d65c108fb4be3b9a755a5ebba645475f7076758a9e528bbd8dbd9d"
            )
        );
        assert_eq!(
            s.authenticate(&new_pin_enc),
            h("e07b9d7105212d002fb59e40e6796177")
        );
        assert_eq!(
            s.encrypt(&h(V::TOKEN)).unwrap(),
            h("a140aa097228079c849dc9a2e53137de67be9b841d656c0c6eca8db1b881782a")
        );
        let cdh = h("941fec8a26fc914e44bb1c1be4de376d073114cc613087cd87ca59711c19715f");
        assert_eq!(
            PinProtocol::V1.authenticate(&h(V::TOKEN), &cdh),
            h("150edffad0ade4886f5e4c7d6376f168")
        );
        assert_eq!(
            &s.decrypt(&new_pin_enc).unwrap()[..],
            &padded_pin("1234").unwrap()[..]
        );
    }

    #[test]
    fn protocol1_python_fido2_vectors() {
        // Shared notes §6.2 (python-fido2 tests).
        let plat = KeyAgreement::from_scalar(&h32(
            "7452e599fee739d8a653f6a507343d12d382249108a651402520b72f24fe7684",
        ))
        .unwrap();
        let peer = Value::map([
            (Value::int(1), Value::int(2)),
            (Value::int(3), Value::int(-25)),
            (Value::int(-1), Value::int(1)),
            (
                Value::int(-2),
                Value::Bytes(h(
                    "0501d5bc78da9252560a26cb08fcc60cbe0b6d3b8e1d1fcee514fac0af675168",
                )),
            ),
            (
                Value::int(-3),
                Value::Bytes(h(
                    "d551b3ed46f665731f95b4532939c25d91db7eb844bd96d4abd4083785f8df47",
                )),
            ),
        ]);
        let s = plat.shared_secret(PinProtocol::V1, &peer).unwrap();
        assert_eq!(
            s.hmac_key(),
            &h32("c42a039d548100dfba521e487debcbbb8b66bb7496f8b1862a7a395ed83e1a1c")
        );
        assert_eq!(
            s.encrypt(pin_hash("1234").as_ref()).unwrap(),
            h("afe8327ce416da8ee3d057589c2ce1a9")
        );
        let enc = s.encrypt(&padded_pin("1234").unwrap()).unwrap();
        assert_eq!(
            enc,
            h(
                "0222fc42c6dd76a274a7057858b9b29d98e8a722ec2dc6668476168c5320473cec9907b4cd76ce7943c96ba5683943211d84471e64d9c51e54763488cd66526a"
            )
        );
        assert_eq!(s.authenticate(&enc), h("7b40c084ccc5794194189ab57836475f"));
        assert_eq!(
            s.encrypt(&h("aff12c6dcfbf9df52f7a09211e8865cd")).unwrap(),
            h("7a9f98e31b77be90f9c64d12e9635040")
        );
        // changePIN 1234 → 4321.
        let new_enc = s.encrypt(&padded_pin("4321").unwrap()).unwrap();
        assert_eq!(
            new_enc,
            h(
                "4280e14aac4fcbf02dd079985f0c0ffc9ea7d5f9c173fd1a4c843826f7590cb3c2d080c6923e2fe6d7a52c31ea1309d3fcca3dedae8a2ef14b6330cafc79339e"
            )
        );
        let mut msg = new_enc.clone();
        msg.extend(s.encrypt(pin_hash("1234").as_ref()).unwrap());
        assert_eq!(s.authenticate(&msg), h("fb97e92f3724d7c85e001d7f93e6490a"));
    }

    #[test]
    fn protocol2_vectors() {
        // Shared notes §6.3 (mozilla authenticator-rs KDF test).
        let s = PinProtocol::V2.kdf(&[0xFF; 32]);
        assert_eq!(
            s.hmac_key(),
            &h32("570b4ed82aa5dfb49db79dbeaf4b315d8abb1a9867b245f3367026987c0d47a1")
        );
        assert_eq!(
            s.aes_key.as_ref(),
            &h32("7d9a93c39baec741d141c6238d8e1846de323d8eed022cb397d19a73b98945e2")
        );
        // §6.4 protocol 2.
        let plat = KeyAgreement::from_scalar(&h32(V::PLAT_PRIV)).unwrap();
        let auth = KeyAgreement::from_scalar(&h32(V::AUTH_PRIV)).unwrap();
        let s = plat
            .shared_secret(PinProtocol::V2, &auth.cose_public_key())
            .unwrap();
        assert_eq!(
            s.hmac_key(),
            &h32("7eac925f310e1826d3c46e0d60edd9bcee1c1c917a9e1fc716196021d07f4a4f")
        );
        assert_eq!(
            s.aes_key.as_ref(),
            &h32("9086d01ea9969567a773ff0a650337be4f187f5cddaba6c2804d688cee5a85a2")
        );
        let iv = |start: u8| -> [u8; 16] { std::array::from_fn(|i| start + i as u8) };
        let pin_hash_enc = s
            .encrypt_with_iv(pin_hash("1234").as_ref(), Some(iv(0)))
            .unwrap();
        assert_eq!(
            pin_hash_enc,
            h("000102030405060708090a0b0c0d0e0f29099f7087fad0fc1d8d520e7a43fe9a")
        );
        let new_pin_enc = s
            .encrypt_with_iv(&padded_pin("1234").unwrap(), Some(iv(0x10)))
            .unwrap();
        assert_eq!(
            new_pin_enc,
            h(
                "101112131415161718191a1b1c1d1e1f2a8b67fa0e376c521f0aecf202c1cc6f8cbd6b27c6d9202bcbcb4f066f7c36441bfa9c8dd0ec6c1baea38fa5e1261aa1640de60a5d9112dfbe898dde9260df6f"
            )
        );
        assert_eq!(
            s.authenticate(&new_pin_enc),
            h("3b641f425a71fa304fdab17044fa72de90f5d1a011a182f9657406c177ae1342")
        );
        let mut msg = new_pin_enc.clone();
        msg.extend(&pin_hash_enc);
        assert_eq!(
            s.authenticate(&msg),
            h("80e0536a7f4011c45e42df731e4877eae674d9cac999d04678b96da8a3c4c40b")
        );
        assert_eq!(
            s.encrypt_with_iv(&h(V::TOKEN), Some(iv(0x20))).unwrap(),
            h(
                "202122232425262728292a2b2c2d2e2ffbf1ff98da89fb7134ba843a6d28fcbc773f8fa0fe436a85bed722075ed7347b"
            )
        );
        let cdh = h("941fec8a26fc914e44bb1c1be4de376d073114cc613087cd87ca59711c19715f");
        assert_eq!(
            PinProtocol::V2.authenticate(&h(V::TOKEN), &cdh),
            h("150edffad0ade4886f5e4c7d6376f16895e2240f4a2852e00319b01ac6f342af")
        );
        assert!(PinProtocol::V2.verify(
            &h(V::TOKEN),
            &cdh,
            &h("150edffad0ade4886f5e4c7d6376f16895e2240f4a2852e00319b01ac6f342af")
        ));
        assert!(!PinProtocol::V2.verify(
            &h(V::TOKEN),
            &cdh,
            &h("150edffad0ade4886f5e4c7d6376f168")
        ));
        // Round trip with a random IV.
        let ct = s.encrypt(&[7u8; 32]).unwrap();
        assert_eq!(ct.len(), 48);
        assert_eq!(&s.decrypt(&ct).unwrap()[..], &[7u8; 32]);
    }

    #[test]
    fn bad_inputs_are_typed() {
        assert_eq!(padded_pin("123"), Err(PinError::PinPolicy));
        assert_eq!(padded_pin(&"9".repeat(64)), Err(PinError::PinPolicy));
        assert!(padded_pin("été1").is_ok());
        let s = PinProtocol::V2.kdf(&[1; 32]);
        assert_eq!(s.decrypt(&[0; 15]).unwrap_err(), PinError::BadLength(15));
        assert_eq!(s.decrypt(&[0; 20]).unwrap_err(), PinError::BadLength(4));
        assert_eq!(s.encrypt(&[0; 5]).unwrap_err(), PinError::BadLength(5));
        let not_on_curve = Value::map([
            (Value::int(1), Value::int(2)),
            (Value::int(-1), Value::int(1)),
            (Value::int(-2), Value::Bytes(vec![1; 32])),
            (Value::int(-3), Value::Bytes(vec![2; 32])),
        ]);
        assert!(matches!(
            public_key_from_cose(&not_on_curve),
            Err(PinError::BadKey(_))
        ));
        assert!(matches!(
            public_key_from_cose(&Value::int(1)),
            Err(PinError::BadKey(_))
        ));
        assert_eq!(
            PinProtocol::from_number(3),
            Err(PinError::UnsupportedProtocol(3))
        );
        assert!(KeyAgreement::from_scalar(&[0; 32]).is_err());
    }
}
