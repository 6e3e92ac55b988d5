//! Typed access to the committed cps-rs test PKI (feature `test-pki`; the files are in this
//! crate's `test-pki/` directory, linked from the workspace as `testvectors/pki`).
//!
//! Everything is embedded with `include_bytes!` (holder certificates in DER, private keys in
//! PKCS#8 PEM, ~55 KiB in all), so tests of any crate and the card simulator load fixtures in
//! microseconds and never generate keys. The hierarchy:
//!
//! ```text
//! TEST AC RACINE IGC-SANTE FORT CPS-RS            (RSA-4096, self-signed, 2024-01-01 → 2043-12-31)
//! └── TEST AC IGC-SANTE FORT PERSONNES CPS-RS     (RSA-2048, pathLen 0, 2024-01-01 → 2033-12-31)
//!     ├── rsa2048/<persona>/{auth,sign}           (RSA-2048 holder keys: the simulated CPS3 and CPS4)
//!     ├── rsa2048/dr-martin/auth-expiring         (same key as rsa2048/dr-martin/auth, expires 2027-01-15)
//!     └── ec-p256/<persona>/{auth,sign}           (ECDSA P-256 holder keys, for ECDSA tests)
//! ```
//!
//! Holder certificates are valid from 2025-07-01T00:00:00Z to 2028-06-30T23:59:59Z (see
//! `testvectors/pki/index.json`); [`REFERENCE_TIME`] is a time at which all of them are.
//! The private keys are public test material: never trust this PKI outside tests.

use zeroize::Zeroizing;

use crate::cert::{CertUsage, CpsCertificate};
use crate::error::{KeyError, ParseError, PemError};
use crate::keys::PrivateKey;
use crate::pem;
use crate::time::UnixTime;

/// The key family of a set of holder fixtures. Not a card generation: the real CPS3 and CPS4
/// both hold RSA-2048 keys, and both simulated cards carry the [`KeySet::Rsa2048`] fixtures;
/// [`KeySet::EcP256`] exists to test ECDSA certificates and signatures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeySet {
    /// RSA-2048 holder keys (directory `rsa2048`), the keys of the simulated CPS3 and CPS4.
    Rsa2048,
    /// ECDSA P-256 holder keys (directory `ec-p256`).
    EcP256,
}

impl KeySet {
    /// Directory name under `testvectors/pki` (`rsa2048` / `ec-p256`).
    pub fn dir(self) -> &'static str {
        match self {
            KeySet::Rsa2048 => "rsa2048",
            KeySet::EcP256 => "ec-p256",
        }
    }

    /// The key set named by its directory (`rsa2048` / `ec-p256`), or by the directory names
    /// of the first version of the test PKI (`cps3` / `cps4`), which card profiles written
    /// then still use.
    pub fn from_dir(dir: &str) -> Option<Self> {
        match dir {
            "rsa2048" | "cps3" => Some(KeySet::Rsa2048),
            "ec-p256" | "cps4" => Some(KeySet::EcP256),
            _ => None,
        }
    }
}

/// The persona identifiers of `testvectors/pki/personas.json`, in file order.
pub const PERSONAS: [&str; 6] = [
    "dr-martin",
    "pharmacien-durand",
    "infirmiere-bernard",
    "etudiant-petit",
    "directeur-leroy",
    "secretaire-moreau",
];

/// 2026-01-01T00:00:00Z: every current holder fixture and both CAs are valid then.
pub const REFERENCE_TIME: UnixTime = UnixTime::from_secs(1_767_225_600);

/// A fixture could not be found or decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FixtureError {
    /// No such persona / key set / usage in the test PKI.
    #[error("no test-PKI fixture for {0}")]
    NotFound(String),
    /// An embedded PEM key does not decode (the committed files are corrupt).
    #[error(transparent)]
    Pem(#[from] PemError),
}

/// One holder certificate of the test PKI and its private key.
#[derive(Clone)]
pub struct HolderFixture {
    /// The key family.
    pub key_set: KeySet,
    /// Persona identifier (see [`PERSONAS`]).
    pub persona: &'static str,
    /// Authentication or signature.
    pub usage: CertUsage,
    /// The certificate, DER.
    pub cert_der: &'static [u8],
    /// The private key, DER PKCS#8.
    pub key_pkcs8_der: Zeroizing<Vec<u8>>,
}

impl core::fmt::Debug for HolderFixture {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("HolderFixture")
            .field("key_set", &self.key_set)
            .field("persona", &self.persona)
            .field("usage", &self.usage)
            .finish_non_exhaustive()
    }
}

impl HolderFixture {
    /// The parsed certificate.
    pub fn certificate(&self) -> Result<CpsCertificate, ParseError> {
        CpsCertificate::from_der(self.cert_der)
    }

    /// The private key.
    pub fn private_key(&self) -> Result<PrivateKey, KeyError> {
        PrivateKey::from_pkcs8_der(&self.key_pkcs8_der)
    }
}

macro_rules! pki_file {
    ($path:expr) => {
        concat!(env!("CARGO_MANIFEST_DIR"), "/test-pki/", $path)
    };
}

struct Entry {
    key_set: KeySet,
    persona: &'static str,
    usage: CertUsage,
    cert_der: &'static [u8],
    key_pem: &'static str,
}

macro_rules! entries {
    ($($persona:literal),* $(,)?) => {
        &[$(
            entries!(@one Rsa2048, "rsa2048", $persona, Authentication, "auth"),
            entries!(@one Rsa2048, "rsa2048", $persona, Signature, "sign"),
            entries!(@one EcP256, "ec-p256", $persona, Authentication, "auth"),
            entries!(@one EcP256, "ec-p256", $persona, Signature, "sign"),
        )*]
    };
    (@one $set:ident, $dir:literal, $persona:literal, $usage:ident, $u:literal) => {
        Entry {
            key_set: KeySet::$set,
            persona: $persona,
            usage: CertUsage::$usage,
            cert_der: include_bytes!(pki_file!(concat!($dir, "/", $persona, "/", $u, ".crt.der"))),
            key_pem: include_str!(pki_file!(concat!($dir, "/", $persona, "/", $u, ".key.pem"))),
        }
    };
}

// Keep in the order of PERSONAS (checked by a test).
static HOLDERS: &[Entry] = entries!(
    "dr-martin",
    "pharmacien-durand",
    "infirmiere-bernard",
    "etudiant-petit",
    "directeur-leroy",
    "secretaire-moreau",
);

static EXPIRING_CERT_DER: &[u8] =
    include_bytes!(pki_file!("rsa2048/dr-martin/auth-expiring.crt.der"));
static ROOT_CERT_DER: &[u8] = include_bytes!(pki_file!("ca/root.crt.der"));
static ROOT_KEY_PEM: &str = include_str!(pki_file!("ca/root.key.pem"));
static PERSONS_CERT_DER: &[u8] = include_bytes!(pki_file!("ca/persons.crt.der"));
static PERSONS_KEY_PEM: &str = include_str!(pki_file!("ca/persons.key.pem"));

/// The personas of the test PKI (`personas.json`, in the order of [`PERSONAS`]): fictitious
/// holders with their identity, RPPS and practice situations, from which the card simulator
/// writes its holder data.
pub const PERSONAS_JSON: &str = include_str!(pki_file!("personas.json"));

fn fixture(e: &'static Entry, cert_der: &'static [u8]) -> Result<HolderFixture, FixtureError> {
    Ok(HolderFixture {
        key_set: e.key_set,
        persona: e.persona,
        usage: e.usage,
        cert_der,
        key_pkcs8_der: Zeroizing::new(pem::pem_to_der_expect(e.key_pem, pem::PRIVATE_KEY_LABEL)?),
    })
}

/// The current certificate of `persona` in `key_set` for `usage` (Authentication or
/// Signature), with its key.
pub fn holder(
    key_set: KeySet,
    persona: &str,
    usage: CertUsage,
) -> Result<HolderFixture, FixtureError> {
    let e = HOLDERS
        .iter()
        .find(|e| e.key_set == key_set && e.persona == persona && e.usage == usage)
        .ok_or_else(|| FixtureError::NotFound(format!("{}/{persona}/{usage}", key_set.dir())))?;
    fixture(e, e.cert_der)
}

/// All 24 current holder fixtures (6 personas × 2 key sets × 2 usages).
pub fn holders() -> Result<Vec<HolderFixture>, FixtureError> {
    HOLDERS.iter().map(|e| fixture(e, e.cert_der)).collect()
}

/// The "renewal due" fixture: dr-martin's RSA-2048 authentication key with a certificate valid
/// 2024-01-16T00:00:00Z → 2027-01-15T23:59:59Z.
pub fn expiring_holder() -> Result<HolderFixture, FixtureError> {
    let e = HOLDERS
        .iter()
        .find(|e| {
            e.key_set == KeySet::Rsa2048
                && e.persona == "dr-martin"
                && e.usage == CertUsage::Authentication
        })
        .ok_or_else(|| FixtureError::NotFound("rsa2048/dr-martin/auth-expiring".into()))?;
    fixture(e, EXPIRING_CERT_DER)
}

/// The root CA certificate, DER ("TEST AC RACINE IGC-SANTE FORT CPS-RS").
pub fn root_der() -> &'static [u8] {
    ROOT_CERT_DER
}

/// The intermediate CA certificate for persons, DER ("TEST AC IGC-SANTE FORT PERSONNES CPS-RS").
pub fn intermediate_der() -> &'static [u8] {
    PERSONS_CERT_DER
}

/// The parsed root CA certificate.
pub fn root_certificate() -> Result<CpsCertificate, ParseError> {
    CpsCertificate::from_der(ROOT_CERT_DER)
}

/// The parsed intermediate CA certificate.
pub fn intermediate_certificate() -> Result<CpsCertificate, ParseError> {
    CpsCertificate::from_der(PERSONS_CERT_DER)
}

/// The root CA private key (RSA-4096).
pub fn root_key() -> Result<PrivateKey, KeyError> {
    PrivateKey::from_pkcs8_pem(ROOT_KEY_PEM)
}

/// The intermediate CA private key (RSA-2048): issues holder certificates, e.g. renewals for
/// card-generated keys with [`crate::issue_holder_certificate`].
pub fn intermediate_key() -> Result<PrivateKey, KeyError> {
    PrivateKey::from_pkcs8_pem(PERSONS_KEY_PEM)
}
