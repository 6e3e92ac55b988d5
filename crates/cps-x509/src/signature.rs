//! Signature verification with a certificate's public key: certificate signatures (for
//! [`crate::verify_chain`]) and the raw signatures a CPS card returns.

use p256::ecdsa::signature::hazmat::PrehashVerifier;
use rsa::Pkcs1v15Sign;
use sha2::{Digest, Sha256, Sha384, Sha512};

use crate::cert::{CertSigAlg, CpsCertificate, PublicKeyInfo, VerifyKey};
use crate::error::SignatureError;

/// A hash algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashAlgorithm {
    /// SHA-1 (legacy; CPS3 cards still list it).
    Sha1,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl HashAlgorithm {
    /// Digest length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            HashAlgorithm::Sha1 => 20,
            HashAlgorithm::Sha256 => 32,
            HashAlgorithm::Sha384 => 48,
            HashAlgorithm::Sha512 => 64,
        }
    }

    /// The DER prefix of the PKCS#1 `DigestInfo` (RFC 8017 §9.2, note 1).
    pub fn digest_info_prefix(self) -> &'static [u8] {
        match self {
            HashAlgorithm::Sha1 => &[
                0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2B, 0x0E, 0x03, 0x02, 0x1A, 0x05, 0x00, 0x04,
                0x14,
            ],
            HashAlgorithm::Sha256 => &[
                0x30, 0x31, 0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x01, 0x05, 0x00, 0x04, 0x20,
            ],
            HashAlgorithm::Sha384 => &[
                0x30, 0x41, 0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x02, 0x05, 0x00, 0x04, 0x30,
            ],
            HashAlgorithm::Sha512 => &[
                0x30, 0x51, 0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x03, 0x05, 0x00, 0x04, 0x40,
            ],
        }
    }
}

/// The algorithm of a signature made with a CPS key (by the card, or by a test key).
///
/// [`verify_signature`] checks the SHA-256 schemes, the ones CPS certificates and holder keys
/// use; the card also signs SHA-1 (CPS3) and longer hashes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SignatureAlgorithm {
    /// RSASSA-PKCS1-v1_5 over the DigestInfo of this hash (RFC 8017 §8.2; DigestInfo prefix of
    /// §9.2 note 1): CPS3 and CPS4 keys.
    RsaPkcs1v15(HashAlgorithm),
    /// RSASSA-PSS with this hash, MGF1 with the same hash and a salt as long as the hash
    /// (RFC 8017 §8.1): the CPS4 (Cryptolib `card-cps4.c`, `CPSV4_ALG_*_PSS`).
    RsaPss(HashAlgorithm),
    /// ECDSA over this hash (FIPS 186-5); a card returns the raw `r ‖ s`.
    Ecdsa(HashAlgorithm),
}

impl SignatureAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    pub const RSA_PKCS1V15_SHA256: Self = SignatureAlgorithm::RsaPkcs1v15(HashAlgorithm::Sha256);
    /// RSASSA-PSS with SHA-256, MGF1-SHA-256 and a 32-byte salt.
    pub const RSA_PSS_SHA256: Self = SignatureAlgorithm::RsaPss(HashAlgorithm::Sha256);
    /// ECDSA with SHA-256 (on P-256).
    pub const ECDSA_SHA256: Self = SignatureAlgorithm::Ecdsa(HashAlgorithm::Sha256);

    /// The hash the signature covers.
    pub fn hash(self) -> HashAlgorithm {
        match self {
            SignatureAlgorithm::RsaPkcs1v15(h)
            | SignatureAlgorithm::RsaPss(h)
            | SignatureAlgorithm::Ecdsa(h) => h,
        }
    }

    /// A short name for messages, e.g. `RSA PKCS#1 v1.5 SHA-256`.
    pub fn name(self) -> &'static str {
        use HashAlgorithm::{Sha1, Sha256, Sha384, Sha512};
        use SignatureAlgorithm::{Ecdsa, RsaPkcs1v15, RsaPss};
        match self {
            RsaPkcs1v15(Sha1) => "RSA PKCS#1 v1.5 SHA-1",
            RsaPkcs1v15(Sha256) => "RSA PKCS#1 v1.5 SHA-256",
            RsaPkcs1v15(Sha384) => "RSA PKCS#1 v1.5 SHA-384",
            RsaPkcs1v15(Sha512) => "RSA PKCS#1 v1.5 SHA-512",
            RsaPss(Sha1) => "RSA-PSS SHA-1",
            RsaPss(Sha256) => "RSA-PSS SHA-256",
            RsaPss(Sha384) => "RSA-PSS SHA-384",
            RsaPss(Sha512) => "RSA-PSS SHA-512",
            Ecdsa(Sha1) => "ECDSA SHA-1",
            Ecdsa(Sha256) => "ECDSA SHA-256",
            Ecdsa(Sha384) => "ECDSA SHA-384",
            Ecdsa(Sha512) => "ECDSA SHA-512",
        }
    }
}

impl std::fmt::Display for SignatureAlgorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What was signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignedData<'a> {
    /// The message itself: it is hashed with SHA-256 here.
    Message(&'a [u8]),
    /// A SHA-256 digest computed beforehand (32 bytes), as when the host hashes and the card
    /// signs the DigestInfo (RSA) or the digest (ECDSA).
    Sha256Digest(&'a [u8]),
}

impl SignedData<'_> {
    /// The SHA-256 digest of the data.
    pub(crate) fn sha256(&self) -> Result<[u8; 32], usize> {
        match self {
            SignedData::Message(m) => Ok(Sha256::digest(m).into()),
            SignedData::Sha256Digest(d) => <[u8; 32]>::try_from(*d).map_err(|_| d.len()),
        }
    }
}

/// Verifies a signature made with the private key of `cert`.
///
/// * RSA: `signature` is the PKCS#1 v1.5 signature (the modulus length).
/// * ECDSA P-256: `signature` is either the raw `r ‖ s` form (64 bytes, what IAS-ECC cards
///   return) or an X9.62 DER `Ecdsa-Sig-Value`.
pub fn verify_signature(
    cert: &CpsCertificate,
    data: SignedData<'_>,
    algorithm: SignatureAlgorithm,
    signature: &[u8],
) -> Result<(), SignatureError> {
    verify_with_key(cert.public_key(), data, algorithm, signature)
}

/// Same as [`verify_signature`], with a bare public key.
pub fn verify_with_key(
    key: &PublicKeyInfo,
    data: SignedData<'_>,
    algorithm: SignatureAlgorithm,
    signature: &[u8],
) -> Result<(), SignatureError> {
    if algorithm.hash() != HashAlgorithm::Sha256 {
        return Err(SignatureError::UnsupportedAlgorithm(algorithm.name()));
    }
    let digest = data.sha256().map_err(SignatureError::DigestLength)?;
    match (&key.key, algorithm) {
        (VerifyKey::Rsa(k), SignatureAlgorithm::RSA_PKCS1V15_SHA256) => k
            .verify(Pkcs1v15Sign::new::<Sha256>(), &digest, signature)
            .map_err(|_| SignatureError::Invalid),
        (VerifyKey::Rsa(k), SignatureAlgorithm::RSA_PSS_SHA256) => k
            .verify(rsa::Pss::new_with_salt::<Sha256>(32), &digest, signature)
            .map_err(|_| SignatureError::Invalid),
        (VerifyKey::P256(k), SignatureAlgorithm::ECDSA_SHA256) => {
            let raw = (signature.len() == 64)
                .then(|| p256::ecdsa::Signature::from_slice(signature).ok())
                .flatten();
            let der = (signature.first() == Some(&0x30))
                .then(|| p256::ecdsa::Signature::from_der(signature).ok())
                .flatten();
            if raw.is_none() && der.is_none() {
                return Err(SignatureError::Malformed);
            }
            let ok = raw
                .iter()
                .chain(der.iter())
                .any(|sig| k.verify_prehash(&digest, sig).is_ok());
            if ok {
                Ok(())
            } else {
                Err(SignatureError::Invalid)
            }
        }
        _ => Err(SignatureError::KeyMismatch {
            key: key.algorithm(),
            algorithm: algorithm.name(),
        }),
    }
}

/// Outcome of verifying a certificate's own signature with an issuer key.
pub(crate) enum CertSigCheck {
    Valid,
    Invalid,
    Unsupported,
}

/// Verifies `cert`'s signature with `issuer_key` (RFC 5280 §6.1.3 (a)(1)).
pub(crate) fn verify_cert_signature(
    cert: &CpsCertificate,
    issuer_key: &PublicKeyInfo,
) -> CertSigCheck {
    let tbs = cert.tbs_der();
    let sig = cert.signature_value();
    let ok = match (cert.sig_alg, &issuer_key.key) {
        (CertSigAlg::RsaSha256, VerifyKey::Rsa(k)) => k
            .verify(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(tbs), sig)
            .is_ok(),
        (CertSigAlg::RsaSha384, VerifyKey::Rsa(k)) => k
            .verify(Pkcs1v15Sign::new::<Sha384>(), &Sha384::digest(tbs), sig)
            .is_ok(),
        (CertSigAlg::RsaSha512, VerifyKey::Rsa(k)) => k
            .verify(Pkcs1v15Sign::new::<Sha512>(), &Sha512::digest(tbs), sig)
            .is_ok(),
        (CertSigAlg::EcdsaSha256, VerifyKey::P256(k)) => p256::ecdsa::Signature::from_der(sig)
            .is_ok_and(|s| k.verify_prehash(&Sha256::digest(tbs), &s).is_ok()),
        // FIPS 186-5 §6.4.2: the digest is truncated to the curve order's length.
        (CertSigAlg::EcdsaSha384, VerifyKey::P256(k)) => p256::ecdsa::Signature::from_der(sig)
            .is_ok_and(|s| k.verify_prehash(&Sha384::digest(tbs), &s).is_ok()),
        (CertSigAlg::Unsupported, _) | (_, VerifyKey::Unsupported) => {
            return CertSigCheck::Unsupported;
        }
        // An RSA algorithm with an EC issuer key or the reverse: this issuer did not sign it.
        _ => false,
    };
    if ok {
        CertSigCheck::Valid
    } else {
        CertSigCheck::Invalid
    }
}
