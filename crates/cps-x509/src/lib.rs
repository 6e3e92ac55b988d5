//! # cps-x509 — the CPS certificate profile
//!
//! Holder certificates of the French health-professional card (CPS3: RSA-2048, PKCS#1 v1.5
//! SHA-256; CPS4: the simulator's ECDSA P-256 keys), issued by ANS's health-sector PKI
//! IGC-Santé (root "AC RACINE IGC-SANTE FORT" → "AC IGC-SANTE FORT PERSONNES" → holder
//! authentication and signature certificates). This crate:
//!
//! * parses a DER or PEM certificate into a typed [`CpsCertificate`]: subject fields, the
//!   holder's [national identifier](NationalId), names, profession, [`CertUsage`], extended key
//!   usage, policies, serial, [`Validity`], public key algorithm and SPKI;
//! * verifies certification paths ([`verify_chain`]) with real signature verification;
//! * tells when a certificate is due for renewal ([`renewal_status`]);
//! * verifies the raw signatures a card returns ([`verify_signature`]);
//! * issues certificates ([`issue_holder_certificate`]) — the test PKI and renewal certificates
//!   for card-generated keys;
//! * with the `test-pki` feature, gives typed access to the committed test PKI of
//!   `testvectors/pki` (`test_pki` module).
//!
//! ```
//! use cps_x509::{CertUsage, CpsCertificate, UnixTime, verify_chain};
//!
//! let leaf = CpsCertificate::parse(include_bytes!(concat!(
//!     env!("CARGO_MANIFEST_DIR"),
//!     "/../../testvectors/pki/rsa2048/dr-martin/auth.crt.pem"
//! )))?;
//! let persons = CpsCertificate::parse(include_bytes!(concat!(
//!     env!("CARGO_MANIFEST_DIR"),
//!     "/../../testvectors/pki/ca/persons.crt.der"
//! )))?;
//! let root = CpsCertificate::parse(include_bytes!(concat!(
//!     env!("CARGO_MANIFEST_DIR"),
//!     "/../../testvectors/pki/ca/root.crt.der"
//! )))?;
//!
//! assert_eq!(leaf.national_id(), Some("810001234567"));
//! assert_eq!(leaf.holder().family_name.as_deref(), Some("MARTIN"));
//! assert_eq!(leaf.usage(), CertUsage::Authentication);
//!
//! let at = UnixTime::from_ymd(2026, 3, 1).ok_or("date")?;
//! verify_chain(&leaf, &[persons], &[root], at)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! What is taken from the real IGC-Santé profile and what the test PKI assumes is documented in
//! `testvectors/pki/README.md`.

#![forbid(unsafe_code)]

pub mod algorithm;
pub mod cert;
pub mod chain;
pub mod error;
pub mod issue;
pub mod keys;
pub mod name;
pub mod oids;
pub mod pem;
pub mod renewal;
pub mod signature;
#[cfg(feature = "test-pki")]
pub mod test_pki;
pub mod time;

pub use algorithm::{KeyAlgorithm, KeyFamily};
pub use cert::{BasicConstraints, CertUsage, CpsCertificate, KeyUsage, PublicKeyInfo};
pub use chain::{MAX_CHAIN_CA_CERTIFICATES, verify_chain};
pub use const_oid::ObjectIdentifier;
pub use error::{ChainError, IssueError, KeyError, ParseError, PemError, SignatureError};
pub use issue::{
    CaCertificateRequest, CaSubject, CertificateSigner, HolderCertificateRequest, HolderSubject,
    issue_holder_certificate, issue_holder_certificate_with, issue_intermediate_certificate,
    issue_root_certificate,
};
pub use keys::PrivateKey;
pub use name::{Attribute, DistinguishedName, NationalId, NationalIdKind, SubjectIdentity};
pub use renewal::{RENEWAL_AGE_YEARS, RenewalReason, RenewalStatus, renewal_status};
pub use signature::{
    HashAlgorithm, SignatureAlgorithm, SignedData, verify_signature, verify_with_key,
};
pub use time::{UnixTime, Validity};
