//! Signature verification with a certificate's public key: certificate signatures (for
//! [`crate::verify_chain`]) and the raw signatures a CPS card returns.

use p256::ecdsa::signature::hazmat::PrehashVerifier;
use rsa::Pkcs1v15Sign;
use sha2::{Digest, Sha256, Sha384, Sha512};

use crate::cert::{CertSigAlg, CpsCertificate, PublicKeyInfo, VerifyKey};
use crate::error::SignatureError;

/// Signature schemes of CPS holder keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SignatureAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (RFC 8017 §8.2; DigestInfo prefix of §9.2 note 1): CPS3
    /// keys.
    RsaPkcs1v15Sha256,
    /// RSASSA-PSS with SHA-256, MGF1-SHA-256 and a 32-byte salt (RFC 8017 §8.1): the CPS4's
    /// `CKM_SHA256_RSA_PKCS_PSS` (Cryptolib `card-cps4.c`, salt = hash length).
    RsaPssSha256,
    /// ECDSA on P-256 with SHA-256 (FIPS 186-5, RFC 5758): the CPS4 keys of the simulator.
    EcdsaP256Sha256,
}

impl SignatureAlgorithm {
    /// A short name for messages.
    pub fn name(self) -> &'static str {
        match self {
            SignatureAlgorithm::RsaPkcs1v15Sha256 => "RSA PKCS#1 v1.5 SHA-256",
            SignatureAlgorithm::RsaPssSha256 => "RSA-PSS SHA-256",
            SignatureAlgorithm::EcdsaP256Sha256 => "ECDSA P-256 SHA-256",
        }
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
    let digest = data.sha256().map_err(SignatureError::DigestLength)?;
    match (&key.key, algorithm) {
        (VerifyKey::Rsa(k), SignatureAlgorithm::RsaPkcs1v15Sha256) => k
            .verify(Pkcs1v15Sign::new::<Sha256>(), &digest, signature)
            .map_err(|_| SignatureError::Invalid),
        (VerifyKey::Rsa(k), SignatureAlgorithm::RsaPssSha256) => k
            .verify(rsa::Pss::new_with_salt::<Sha256>(32), &digest, signature)
            .map_err(|_| SignatureError::Invalid),
        (VerifyKey::P256(k), SignatureAlgorithm::EcdsaP256Sha256) => {
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
