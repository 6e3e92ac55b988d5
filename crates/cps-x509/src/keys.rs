//! Private keys of the test PKI and of simulated cards: PKCS#8 (RFC 5958) loading, signing.

use der::Decode;
use p256::ecdsa::signature::hazmat::PrehashSigner;
use pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey};
use rsa::Pkcs1v15Sign;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::algorithm::KeyAlgorithm;
use crate::error::KeyError;
use crate::oids;
use crate::pem;
use crate::signature::{SignatureAlgorithm, SignedData};

/// An RSA or P-256 private key.
#[derive(Clone)]
#[non_exhaustive]
pub enum PrivateKey {
    /// RSA private key (CPS3 holder keys, the test CAs).
    Rsa(Box<rsa::RsaPrivateKey>),
    /// ECDSA P-256 signing key (CPS4 holder keys of the simulator).
    P256(p256::ecdsa::SigningKey),
}

impl core::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "PrivateKey({})", self.algorithm())
    }
}

impl PrivateKey {
    /// Loads a DER PKCS#8 `PrivateKeyInfo` holding an rsaEncryption or id-ecPublicKey/secp256r1
    /// key.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, KeyError> {
        let info =
            pkcs8::PrivateKeyInfo::from_der(der).map_err(|e| KeyError::Pkcs8(e.to_string()))?;
        let oid = info.algorithm.oid;
        if oid == oids::RSA_ENCRYPTION {
            let k = rsa::RsaPrivateKey::from_pkcs8_der(der)
                .map_err(|e| KeyError::Pkcs8(e.to_string()))?;
            Ok(PrivateKey::Rsa(Box::new(k)))
        } else if oid == oids::EC_PUBLIC_KEY {
            let curve = info
                .algorithm
                .parameters_oid()
                .map_err(|e| KeyError::Pkcs8(e.to_string()))?;
            if curve != oids::SECP256R1 {
                return Err(KeyError::UnsupportedAlgorithm(format!("EC curve {curve}")));
            }
            let k = p256::ecdsa::SigningKey::from_pkcs8_der(der)
                .map_err(|e| KeyError::Pkcs8(e.to_string()))?;
            Ok(PrivateKey::P256(k))
        } else {
            Err(KeyError::UnsupportedAlgorithm(oid.to_string()))
        }
    }

    /// Loads a `PRIVATE KEY` PEM block (RFC 7468 §10).
    pub fn from_pkcs8_pem(text: &str) -> Result<Self, KeyError> {
        let der = Zeroizing::new(pem::pem_to_der_expect(text, pem::PRIVATE_KEY_LABEL)?);
        Self::from_pkcs8_der(&der)
    }

    /// DER PKCS#8 encoding.
    pub fn to_pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let doc = match self {
            PrivateKey::Rsa(k) => k.to_pkcs8_der(),
            PrivateKey::P256(k) => k.to_pkcs8_der(),
        }
        .map_err(|e| KeyError::Pkcs8(e.to_string()))?;
        Ok(Zeroizing::new(doc.as_bytes().to_vec()))
    }

    /// PEM PKCS#8 encoding (`PRIVATE KEY`, LF line endings).
    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>, KeyError> {
        let der = self.to_pkcs8_der()?;
        Ok(Zeroizing::new(pem::der_to_pem(
            pem::PRIVATE_KEY_LABEL,
            &der,
        )?))
    }

    /// The DER SubjectPublicKeyInfo of the public half.
    pub fn public_key_spki_der(&self) -> Result<Vec<u8>, KeyError> {
        let doc = match self {
            PrivateKey::Rsa(k) => k.to_public_key().to_public_key_der(),
            PrivateKey::P256(k) => k.verifying_key().to_public_key_der(),
        }
        .map_err(|e| KeyError::Pkcs8(e.to_string()))?;
        Ok(doc.into_vec())
    }

    /// The key algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        match self {
            PrivateKey::Rsa(k) => KeyAlgorithm::Rsa {
                bits: crate::algorithm::rsa_bits(k.as_ref()),
            },
            PrivateKey::P256(_) => KeyAlgorithm::EcP256,
        }
    }

    /// The signature algorithm a card uses with this key (PKCS#1 v1.5 SHA-256 for RSA, ECDSA
    /// SHA-256 for P-256).
    pub fn default_signature_algorithm(&self) -> SignatureAlgorithm {
        match self {
            PrivateKey::Rsa(_) => SignatureAlgorithm::RSA_PKCS1V15_SHA256,
            PrivateKey::P256(_) => SignatureAlgorithm::ECDSA_SHA256,
        }
    }

    /// Signs like a card: RSA gives the PKCS#1 v1.5 signature over the SHA-256 DigestInfo,
    /// ECDSA gives the raw 64-byte `r ‖ s` (deterministic nonces, RFC 6979).
    pub fn sign(
        &self,
        data: SignedData<'_>,
        algorithm: SignatureAlgorithm,
    ) -> Result<Vec<u8>, KeyError> {
        let digest = data.sha256().map_err(KeyError::DigestLength)?;
        match (self, algorithm) {
            (PrivateKey::Rsa(k), SignatureAlgorithm::RSA_PKCS1V15_SHA256) => k
                .sign(Pkcs1v15Sign::new::<Sha256>(), &digest)
                .map_err(|e| KeyError::Sign(e.to_string())),
            (PrivateKey::P256(k), SignatureAlgorithm::ECDSA_SHA256) => {
                let sig: p256::ecdsa::Signature = k
                    .sign_prehash(&digest)
                    .map_err(|e| KeyError::Sign(e.to_string()))?;
                Ok(sig.to_bytes().to_vec())
            }
            _ => Err(KeyError::AlgorithmMismatch {
                key: self.algorithm(),
                algorithm: algorithm.name(),
            }),
        }
    }
}
