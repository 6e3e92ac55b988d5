//! The card's private keys and the cryptographic primitives the IAS-ECC commands need.
//!
//! - RSA (CPS3, CPS4): PKCS#1 v1.5 signature (RFC 8017 §8.2, EMSA-PKCS1-v1_5 §9.2) of a
//!   DigestInfo built by the card (PSO COMPUTE DIGITAL SIGNATURE) or given by the host
//!   (INTERNAL AUTHENTICATE: type-1 padding of the data as given), and PKCS#1 v1.5 decryption
//!   (RFC 8017 §7.2.2, PSO DECIPHER).
//! - ECDSA P-256 (CPS4): signature of a hash computed by the host, answered as raw `r ‖ s`
//!   (IAS-ECC v1.0.1 §9.3: plain format, 2 × 32 bytes).

use p256::ecdsa::signature::hazmat::PrehashSigner;
use rand_core::OsRng;
use rsa::traits::PublicKeyParts;
use rsa::{Pkcs1v15Encrypt, Pkcs1v15Sign, RsaPrivateKey};
use sha1::Digest;
use zeroize::Zeroizing;

/// DigestInfo prefix of SHA-1 (RFC 8017 §9.2, note 1).
pub(crate) const DIGEST_INFO_SHA1: [u8; 15] = [
    0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2B, 0x0E, 0x03, 0x02, 0x1A, 0x05, 0x00, 0x04, 0x14,
];
/// DigestInfo prefix of SHA-256 (RFC 8017 §9.2, note 1).
pub(crate) const DIGEST_INFO_SHA256: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];

/// The kind of a key, as the profile and the PKCS#15 files name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// RSA with this modulus size in bits.
    Rsa(usize),
    /// ECDSA on NIST P-256 (secp256r1).
    P256,
}

/// A private key held by the card.
#[derive(Clone)]
pub(crate) enum KeyPair {
    Rsa(Box<RsaPrivateKey>),
    P256(Box<p256::ecdsa::SigningKey>),
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the private part.
        write!(f, "KeyPair({:?})", self.kind())
    }
}

/// A cryptographic operation failed on the given input (wrong length, bad padding...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CryptoError;

impl KeyPair {
    /// Decodes a PKCS#8 `PrivateKeyInfo` (RFC 5208) holding an RSA or a P-256 key.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, String> {
        use p256::pkcs8::DecodePrivateKey as _;
        if let Ok(k) = RsaPrivateKey::from_pkcs8_der(der) {
            return Ok(KeyPair::Rsa(Box::new(k)));
        }
        match p256::SecretKey::from_pkcs8_der(der) {
            Ok(k) => Ok(KeyPair::P256(Box::new(k.into()))),
            Err(e) => Err(format!("neither an RSA nor a P-256 PKCS#8 key: {e}")),
        }
    }

    /// A fresh key of the given kind (RSA generation takes seconds for 2048 bits).
    pub fn generate(kind: KeyKind) -> Result<Self, String> {
        match kind {
            KeyKind::Rsa(bits) => RsaPrivateKey::new(&mut OsRng, bits)
                .map(|k| KeyPair::Rsa(Box::new(k)))
                .map_err(|e| format!("RSA-{bits} generation: {e}")),
            KeyKind::P256 => Ok(KeyPair::P256(Box::new(p256::ecdsa::SigningKey::random(
                &mut OsRng,
            )))),
        }
    }

    /// RSA modulus size or EC field size.
    pub fn kind(&self) -> KeyKind {
        match self {
            KeyPair::Rsa(k) => KeyKind::Rsa(k.size() * 8),
            KeyPair::P256(_) => KeyKind::P256,
        }
    }

    /// Key size in bytes as the IAS-ECC key DOCP gives it (tag `80`): modulus bytes for RSA,
    /// field bytes for ECC.
    pub fn size_bytes(&self) -> usize {
        match self {
            KeyPair::Rsa(k) => k.size(),
            KeyPair::P256(_) => 32,
        }
    }

    /// The value of the public-key template `7F49` (ISO 7816-8 §5.1 Table 3 / IAS-ECC
    /// §9.5.3): `81` modulus, `82` public exponent for RSA; `86` uncompressed point for ECC.
    pub fn public_key_do(&self) -> Vec<u8> {
        let mut b = cps_apdu::tlv::Builder::new();
        match self {
            KeyPair::Rsa(k) => {
                b = b
                    .primitive(cps_apdu::tlv::Tag(0x81), &k.n().to_bytes_be())
                    .primitive(cps_apdu::tlv::Tag(0x82), &k.e().to_bytes_be());
            }
            KeyPair::P256(k) => {
                let point = k.verifying_key().to_encoded_point(false);
                b = b.primitive(cps_apdu::tlv::Tag(0x86), point.as_bytes());
            }
        }
        b.finish()
    }

    /// The subjectPublicKey bits of X.509 (RFC 5280 §4.1.2.7): DER `RSAPublicKey` (RFC 8017
    /// A.1.1) or the uncompressed EC point (RFC 5480 §2.2).
    pub fn subject_public_key(&self) -> Vec<u8> {
        match self {
            KeyPair::Rsa(k) => crate::der::seq(&[
                crate::der::uint_bytes(&k.n().to_bytes_be()),
                crate::der::uint_bytes(&k.e().to_bytes_be()),
            ]),
            KeyPair::P256(k) => k
                .verifying_key()
                .to_encoded_point(false)
                .as_bytes()
                .to_vec(),
        }
    }

    /// The PKCS#15 iD: SHA-1 of the subjectPublicKey bits, the RFC 5280 §4.2.1.2 method (1)
    /// key identifier, which OpenSC also computes (pkcs15init `select_intrinsic_id`,
    /// id-style `rfc2459`), so that keys pair with their certificates.
    pub fn key_id(&self) -> [u8; 20] {
        sha1::Sha1::digest(self.subject_public_key()).into()
    }

    /// RSA: PKCS#1 v1.5 type-1 padding of `data` as given and the private-key operation.
    pub fn rsa_sign_raw(&self, data: &[u8]) -> Result<Vec<u8>, CryptoError> {
        match self {
            KeyPair::Rsa(k) => k
                .sign_with_rng(&mut OsRng, Pkcs1v15Sign::new_unprefixed(), data)
                .map_err(|_| CryptoError),
            KeyPair::P256(_) => Err(CryptoError),
        }
    }

    /// RSA: the raw private-key operation `c^d mod n` on a modulus-sized input, left-padded
    /// to the modulus size (the ChipDoc PSO DECIPHER: the host removes or adds the padding,
    /// `card-cps4.c` `decipher` strips the type-2 block itself, and authentication sends a
    /// host-padded type-1 block).
    pub fn rsa_raw_private(&self, input: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let KeyPair::Rsa(k) = self else {
            return Err(CryptoError);
        };
        let size = k.size();
        if input.len() != size {
            return Err(CryptoError);
        }
        let c = rsa::BigUint::from_bytes_be(input);
        if &c >= k.n() {
            return Err(CryptoError);
        }
        let m = rsa::hazmat::rsa_decrypt_and_check(k.as_ref(), Some(&mut OsRng), &c)
            .map_err(|_| CryptoError)?;
        let bytes = Zeroizing::new(m.to_bytes_be());
        let mut out = Zeroizing::new(vec![0u8; size.saturating_sub(bytes.len())]);
        out.extend_from_slice(&bytes);
        Ok(out)
    }

    /// RSA-PSS (RFC 8017 §8.1, EMSA-PSS with MGF1 of the same hash and a salt as long as the
    /// hash) over a hash computed by the host: SHA-1 (20 bytes) or SHA-256 (32 bytes).
    pub fn rsa_sign_pss(&self, hash: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let KeyPair::Rsa(k) = self else {
            return Err(CryptoError);
        };
        let scheme = match hash.len() {
            20 => rsa::Pss::new::<sha1::Sha1>(),
            32 => rsa::Pss::new::<sha2::Sha256>(),
            _ => return Err(CryptoError),
        };
        k.sign_with_rng(&mut OsRng, scheme, hash)
            .map_err(|_| CryptoError)
    }

    /// RSA: PKCS#1 v1.5 signature of a hash (RFC 8017 §9.2): the card builds the DigestInfo
    /// of SHA-1 (20 bytes) or SHA-256 (32 bytes).
    pub fn rsa_sign_digest(&self, hash: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let prefix: &[u8] = match hash.len() {
            20 => &DIGEST_INFO_SHA1,
            32 => &DIGEST_INFO_SHA256,
            _ => return Err(CryptoError),
        };
        let mut digest_info = Zeroizing::new(prefix.to_vec());
        digest_info.extend_from_slice(hash);
        self.rsa_sign_raw(&digest_info)
    }

    /// RSA: PKCS#1 v1.5 decryption.
    pub fn rsa_decrypt(&self, cryptogram: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        match self {
            KeyPair::Rsa(k) => k
                .decrypt_blinded(&mut OsRng, Pkcs1v15Encrypt, cryptogram)
                .map(Zeroizing::new)
                .map_err(|_| CryptoError),
            KeyPair::P256(_) => Err(CryptoError),
        }
    }

    /// ECDSA P-256 over a hash computed by the host; raw `r ‖ s` (64 bytes).
    pub fn ecdsa_sign_prehash(&self, digest: &[u8]) -> Result<Vec<u8>, CryptoError> {
        match self {
            KeyPair::P256(k) => {
                let sig: p256::ecdsa::Signature =
                    k.sign_prehash(digest).map_err(|_| CryptoError)?;
                Ok(sig.to_bytes().to_vec())
            }
            KeyPair::Rsa(_) => Err(CryptoError),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p256_key_operations() {
        let k = KeyPair::generate(KeyKind::P256).unwrap();
        assert_eq!(k.kind(), KeyKind::P256);
        assert_eq!(k.size_bytes(), 32);
        let pk = k.public_key_do();
        assert_eq!(&pk[..3], &[0x86, 0x41, 0x04]);
        assert_eq!(k.subject_public_key().len(), 65);
        let digest = sha2::Sha256::digest(b"abc");
        let sig = k.ecdsa_sign_prehash(&digest).unwrap();
        assert_eq!(sig.len(), 64);
        use p256::ecdsa::signature::hazmat::PrehashVerifier;
        let KeyPair::P256(sk) = &k else { panic!() };
        let s = p256::ecdsa::Signature::from_slice(&sig).unwrap();
        sk.verifying_key().verify_prehash(&digest, &s).unwrap();
        assert!(k.rsa_sign_raw(b"x").is_err());
        assert!(
            k.ecdsa_sign_prehash(&[1, 2, 3]).is_err(),
            "too short a hash"
        );
        assert!(!format!("{k:?}").contains("Signing"));
    }
}
