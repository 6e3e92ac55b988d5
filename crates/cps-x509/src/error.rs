//! Error types. None of the crate's functions panics on hostile input: every failure is one of
//! these.

use const_oid::ObjectIdentifier;

use crate::algorithm::KeyAlgorithm;
use crate::time::UnixTime;

/// A PEM document could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PemError {
    /// No `-----BEGIN ...-----` block in the input.
    #[error("no PEM block found")]
    NoBlock,
    /// The PEM encapsulation or its Base64 is malformed (RFC 7468).
    #[error("malformed PEM: {0}")]
    Malformed(String),
    /// The block's label is not the expected one.
    #[error("unexpected PEM label {found:?}, expected {expected:?}")]
    UnexpectedLabel {
        /// Label found.
        found: String,
        /// Label expected.
        expected: &'static str,
    },
}

impl From<der::pem::Error> for PemError {
    fn from(e: der::pem::Error) -> Self {
        PemError::Malformed(e.to_string())
    }
}

/// A certificate could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// Empty input.
    #[error("empty certificate input")]
    Empty,
    /// PEM layer error.
    #[error(transparent)]
    Pem(#[from] PemError),
    /// The DER does not decode as an X.509 certificate (RFC 5280 §4.1).
    #[error("malformed certificate DER")]
    Der(#[from] der::Error),
    /// `signatureAlgorithm` differs from `tbsCertificate.signature` (RFC 5280 §4.1.1.2).
    #[error("signatureAlgorithm differs from tbsCertificate.signature")]
    AlgorithmMismatch,
    /// Extensions are present in a certificate that is not v3 (RFC 5280 §4.1.2.1).
    #[error("extensions present in a certificate that is not version 3")]
    ExtensionsNotV3,
    /// The same extension appears twice (RFC 5280 §4.2).
    #[error("duplicate extension {0}")]
    DuplicateExtension(ObjectIdentifier),
    /// A known extension has an invalid value.
    #[error("malformed extension {oid}: {reason}")]
    BadExtension {
        /// Extension OID.
        oid: ObjectIdentifier,
        /// What is wrong.
        reason: String,
    },
    /// The subject public key is invalid for its declared algorithm.
    #[error("invalid subject public key: {0}")]
    PublicKey(String),
}

/// Certification path validation failed (RFC 5280 §6, as profiled by [`crate::verify_chain`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChainError {
    /// A certificate of the path has expired at the validation time.
    #[error("certificate {subject} expired on {}", .not_after.date())]
    Expired {
        /// Subject DN of the expired certificate.
        subject: String,
        /// Its notAfter.
        not_after: UnixTime,
    },
    /// A certificate of the path is not valid yet at the validation time.
    #[error("certificate {subject} is not valid before {}", .not_before.date())]
    NotYetValid {
        /// Subject DN.
        subject: String,
        /// Its notBefore.
        not_before: UnixTime,
    },
    /// No intermediate or trusted root has a subject equal to the certificate's issuer.
    #[error("issuer not found: {issuer}")]
    IssuerNotFound {
        /// The issuer DN that was looked for.
        issuer: String,
    },
    /// The certificate's signature does not verify with the issuer's public key.
    #[error("signature does not verify: certificate {subject} was not signed by {issuer}")]
    BadSignature {
        /// Subject of the certificate whose signature failed.
        subject: String,
        /// Subject of the candidate issuer.
        issuer: String,
    },
    /// The signature algorithm or the issuer key type is not supported.
    #[error("unsupported signature algorithm {algorithm} on certificate {subject}")]
    UnsupportedAlgorithm {
        /// Subject of the certificate.
        subject: String,
        /// The algorithm OID (or a description of the key/algorithm mismatch).
        algorithm: String,
    },
    /// An issuing certificate is not a CA (basicConstraints cA missing or false, RFC 5280
    /// §6.1.4 (k)).
    #[error("not a CA: {subject}")]
    NotCa {
        /// Subject of the issuing certificate.
        subject: String,
    },
    /// An issuing certificate's keyUsage lacks keyCertSign (RFC 5280 §6.1.4 (n)).
    #[error("CA {subject} may not sign certificates: keyUsage lacks keyCertSign")]
    NoKeyCertSign {
        /// Subject of the issuing certificate.
        subject: String,
    },
    /// A CA's pathLenConstraint is exceeded (RFC 5280 §6.1.4 (m)).
    #[error("path length constraint of CA {subject} exceeded")]
    PathLenExceeded {
        /// Subject of the constraining CA.
        subject: String,
    },
    /// No trusted root reachable within the maximum number of intermediate CAs.
    #[error("certification path longer than {max} CA certificates")]
    PathTooLong {
        /// The limit ([`crate::MAX_CHAIN_CA_CERTIFICATES`]).
        max: usize,
    },
    /// A certificate carries a critical extension this profile does not process (RFC 5280
    /// §4.2: such a certificate must be rejected).
    #[error("certificate {subject} has an unsupported critical extension {oid}")]
    UnsupportedCriticalExtension {
        /// Subject DN.
        subject: String,
        /// Extension OID.
        oid: ObjectIdentifier,
    },
}

/// A signature could not be verified, or did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// The algorithm does not fit the certificate's key.
    #[error("a {key} key cannot verify {algorithm} signatures")]
    KeyMismatch {
        /// The certificate's key algorithm.
        key: KeyAlgorithm,
        /// The requested algorithm.
        algorithm: &'static str,
    },
    /// A precomputed digest has the wrong length.
    #[error("a SHA-256 digest is 32 bytes, got {0}")]
    DigestLength(usize),
    /// Only the SHA-256 schemes are verified here.
    #[error("{0} signatures are not verified (SHA-256 schemes only)")]
    UnsupportedAlgorithm(&'static str),
    /// The signature bytes are not a well-formed signature for the algorithm.
    #[error("malformed signature")]
    Malformed,
    /// Well-formed, but does not verify.
    #[error("signature does not verify")]
    Invalid,
    /// The certificate's public key cannot be used.
    #[error("unusable public key: {0}")]
    PublicKey(String),
}

/// A private key could not be loaded, encoded or used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// PEM layer error.
    #[error(transparent)]
    Pem(#[from] PemError),
    /// The PKCS#8 structure (RFC 5958) is malformed or the key inside is invalid.
    #[error("invalid PKCS#8 private key: {0}")]
    Pkcs8(String),
    /// Key algorithm other than rsaEncryption or id-ecPublicKey/secp256r1.
    #[error("unsupported private key algorithm {0}")]
    UnsupportedAlgorithm(String),
    /// The algorithm does not fit the key.
    #[error("a {key} key cannot make {algorithm} signatures")]
    AlgorithmMismatch {
        /// The key's algorithm.
        key: KeyAlgorithm,
        /// The requested algorithm.
        algorithm: &'static str,
    },
    /// A precomputed digest has the wrong length.
    #[error("a SHA-256 digest is 32 bytes, got {0}")]
    DigestLength(usize),
    /// The signing operation failed.
    #[error("signing failed: {0}")]
    Sign(String),
}

/// A certificate could not be issued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IssueError {
    /// The issuing certificate is not a CA allowed to sign certificates.
    #[error("issuer {0} is not a CA with keyCertSign")]
    IssuerNotCa(String),
    /// The CA private key does not match the CA certificate's public key.
    #[error("the CA private key does not match the CA certificate")]
    KeyMismatch,
    /// Serial numbers are positive, non-zero and at most 20 octets (RFC 5280 §4.1.2.2).
    #[error("serial number must be positive, non-zero and at most 20 octets")]
    BadSerial,
    /// notAfter before notBefore, or a date outside 1970..=9999.
    #[error("invalid validity period")]
    BadValidity,
    /// Only [`crate::CertUsage::Authentication`] and [`crate::CertUsage::Signature`] can be issued.
    #[error("holder certificates are issued for authentication or signature only")]
    UnsupportedUsage,
    /// The subject public key is not a supported SubjectPublicKeyInfo.
    #[error("invalid subject public key: {0}")]
    PublicKey(String),
    /// A subject field is empty or not encodable.
    #[error("invalid subject: {0}")]
    Subject(String),
    /// DER encoding failed.
    #[error("DER encoding failed")]
    Encode(#[from] der::Error),
    /// Signing with the CA key failed.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The issued certificate does not parse back (internal consistency check).
    #[error("issued certificate does not parse")]
    Parse(#[from] ParseError),
}
