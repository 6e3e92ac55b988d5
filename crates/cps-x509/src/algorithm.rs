//! Key algorithms: what a certificate's public key or a card's private key is.

use core::fmt;

use const_oid::ObjectIdentifier;

/// Public key algorithm, of a certificate or of a card key (the card's PKCS#15 gives the
/// same information for its private keys: `cps_iasecc::KeyInfo`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyAlgorithm {
    /// RSA (rsaEncryption) with the modulus size in bits (CPS3 and CPS4 holder keys: 2048).
    Rsa {
        /// Modulus length in bits.
        bits: u32,
    },
    /// ECDSA/ECDH key on NIST P-256 (secp256r1).
    EcP256,
    /// An elliptic-curve key on another curve: its OID when a certificate names it, its field
    /// size when a card's PKCS#15 gives it.
    EcOther {
        /// The named curve (certificates).
        curve: Option<ObjectIdentifier>,
        /// The field size in bits (PKCS#15 `keyInfo`).
        field_bits: Option<u32>,
    },
    /// Any other algorithm (its OID).
    Other(ObjectIdentifier),
}

/// RSA or elliptic curve: what decides the signature and decryption mechanisms of a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyFamily {
    /// RSA.
    Rsa,
    /// Elliptic curve.
    Ec,
}

impl KeyAlgorithm {
    /// RSA or EC; `None` for another algorithm.
    pub fn family(self) -> Option<KeyFamily> {
        match self {
            KeyAlgorithm::Rsa { .. } => Some(KeyFamily::Rsa),
            KeyAlgorithm::EcP256 | KeyAlgorithm::EcOther { .. } => Some(KeyFamily::Ec),
            KeyAlgorithm::Other(_) => None,
        }
    }

    /// Size in bytes of a raw signature made with this key (the modulus size, or twice the
    /// field size for ECDSA `r ‖ s`); `None` when the size is not known.
    pub fn signature_len(self) -> Option<usize> {
        let bits = match self {
            KeyAlgorithm::Rsa { bits } => bits,
            KeyAlgorithm::EcP256 => 512,
            KeyAlgorithm::EcOther {
                field_bits: Some(f),
                ..
            } => f.checked_mul(2)?,
            KeyAlgorithm::EcOther { .. } | KeyAlgorithm::Other(_) => return None,
        };
        usize::try_from(bits.div_ceil(8)).ok()
    }
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyAlgorithm::Rsa { bits } => write!(f, "RSA-{bits}"),
            KeyAlgorithm::EcP256 => f.write_str("ECDSA P-256"),
            KeyAlgorithm::EcOther {
                curve: Some(curve), ..
            } => write!(f, "EC curve {curve}"),
            KeyAlgorithm::EcOther {
                field_bits: Some(bits),
                ..
            } => write!(f, "EC-{bits}"),
            KeyAlgorithm::EcOther { .. } => f.write_str("EC"),
            KeyAlgorithm::Other(oid) => write!(f, "algorithm {oid}"),
        }
    }
}

/// The modulus size of an RSA key in bits (saturating: no real modulus comes near `u32::MAX`).
pub(crate) fn rsa_bits(key: &impl rsa::traits::PublicKeyParts) -> u32 {
    u32::try_from(key.n().bits()).unwrap_or(u32::MAX)
}
