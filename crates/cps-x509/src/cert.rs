//! The typed CPS certificate.

use core::fmt;

use const_oid::ObjectIdentifier;
use der::{Decode, Reader, SliceReader, Tagged};
use x509_cert::Certificate;

use crate::algorithm::{KeyAlgorithm, rsa_bits};
use crate::error::ParseError;
use crate::name::{DistinguishedName, SubjectIdentity};
use crate::oids;
use crate::pem;
use crate::time::{UnixTime, Validity, from_x509_time};

/// A parsed, usable verification key.
#[derive(Clone, Debug)]
pub(crate) enum VerifyKey {
    Rsa(rsa::RsaPublicKey),
    P256(p256::ecdsa::VerifyingKey),
    Unsupported,
}

/// The subject public key of a certificate.
#[derive(Clone, Debug)]
pub struct PublicKeyInfo {
    algorithm: KeyAlgorithm,
    spki_der: Vec<u8>,
    pub(crate) key: VerifyKey,
}

impl PublicKeyInfo {
    /// Parses a DER SubjectPublicKeyInfo (RFC 5280 §4.1.2.7).
    pub fn from_spki_der(spki_der: &[u8]) -> Result<Self, ParseError> {
        let spki = spki::SubjectPublicKeyInfoRef::from_der(spki_der)?;
        let key_bytes = spki
            .subject_public_key
            .as_bytes()
            .ok_or_else(|| ParseError::PublicKey("BIT STRING with unused bits".into()))?;
        let (algorithm, key) = if spki.algorithm.oid == oids::RSA_ENCRYPTION {
            // RFC 3279 §2.3.1: parameters NULL. Tolerate absence, refuse anything else.
            if let Some(p) = spki.algorithm.parameters {
                if p != der::asn1::AnyRef::NULL {
                    return Err(ParseError::PublicKey(
                        "rsaEncryption parameters not NULL".into(),
                    ));
                }
            }
            let k = rsa::RsaPublicKey::try_from(spki.clone())
                .map_err(|e| ParseError::PublicKey(format!("RSA: {e}")))?;
            (KeyAlgorithm::Rsa { bits: rsa_bits(&k) }, VerifyKey::Rsa(k))
        } else if spki.algorithm.oid == oids::EC_PUBLIC_KEY {
            // RFC 5480 §2.1.1: parameters = namedCurve OID.
            let curve = spki
                .algorithm
                .parameters_oid()
                .map_err(|_| ParseError::PublicKey("EC key without a named curve".into()))?;
            if curve == oids::SECP256R1 {
                let k = p256::ecdsa::VerifyingKey::from_sec1_bytes(key_bytes)
                    .map_err(|_| ParseError::PublicKey("invalid P-256 point".into()))?;
                (KeyAlgorithm::EcP256, VerifyKey::P256(k))
            } else {
                (
                    KeyAlgorithm::EcOther {
                        curve: Some(curve),
                        field_bits: None,
                    },
                    VerifyKey::Unsupported,
                )
            }
        } else {
            (
                KeyAlgorithm::Other(spki.algorithm.oid),
                VerifyKey::Unsupported,
            )
        };
        Ok(Self {
            algorithm,
            spki_der: spki_der.to_vec(),
            key,
        })
    }

    /// The key algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    /// The DER SubjectPublicKeyInfo, as in the certificate.
    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }
}

/// keyUsage bits (RFC 5280 §4.2.1.3); bit `i` of the ASN.1 named bit list is `1 << i`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct KeyUsage(pub u16);

impl KeyUsage {
    /// digitalSignature (0).
    pub const DIGITAL_SIGNATURE: KeyUsage = KeyUsage(1 << 0);
    /// nonRepudiation / contentCommitment (1).
    pub const NON_REPUDIATION: KeyUsage = KeyUsage(1 << 1);
    /// keyEncipherment (2).
    pub const KEY_ENCIPHERMENT: KeyUsage = KeyUsage(1 << 2);
    /// dataEncipherment (3).
    pub const DATA_ENCIPHERMENT: KeyUsage = KeyUsage(1 << 3);
    /// keyAgreement (4).
    pub const KEY_AGREEMENT: KeyUsage = KeyUsage(1 << 4);
    /// keyCertSign (5).
    pub const KEY_CERT_SIGN: KeyUsage = KeyUsage(1 << 5);
    /// cRLSign (6).
    pub const CRL_SIGN: KeyUsage = KeyUsage(1 << 6);
    /// encipherOnly (7).
    pub const ENCIPHER_ONLY: KeyUsage = KeyUsage(1 << 7);
    /// decipherOnly (8).
    pub const DECIPHER_ONLY: KeyUsage = KeyUsage(1 << 8);

    /// Whether all bits of `other` are set.
    pub const fn contains(self, other: KeyUsage) -> bool {
        self.0 & other.0 == other.0
    }

    /// Union.
    pub const fn union(self, other: KeyUsage) -> KeyUsage {
        KeyUsage(self.0 | other.0)
    }

    /// DER BIT STRING value of the extension (named bit list: trailing zero bits removed,
    /// X.690 §11.2.2).
    pub(crate) fn to_bit_string(self) -> Result<der::asn1::BitString, der::Error> {
        let bits = self.0;
        if bits == 0 {
            return der::asn1::BitString::new(0, Vec::new());
        }
        let highest = 15 - bits.leading_zeros() as usize; // index of the last named bit set
        let nbits = highest + 1;
        let nbytes = nbits.div_ceil(8);
        let mut bytes = vec![0u8; nbytes];
        for i in 0..nbits {
            if bits & (1 << i) != 0 {
                if let Some(b) = bytes.get_mut(i / 8) {
                    *b |= 0x80 >> (i % 8);
                }
            }
        }
        let unused = u8::try_from(nbytes * 8 - nbits).unwrap_or(0);
        der::asn1::BitString::new(unused, bytes)
    }

    fn from_bit_string(bs: &der::asn1::BitString) -> KeyUsage {
        let mut v = 0u16;
        for (i, bit) in bs.bits().enumerate().take(16) {
            if bit {
                v |= 1 << i;
            }
        }
        KeyUsage(v)
    }
}

impl fmt::Display for KeyUsage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const NAMES: [&str; 9] = [
            "digitalSignature",
            "nonRepudiation",
            "keyEncipherment",
            "dataEncipherment",
            "keyAgreement",
            "keyCertSign",
            "cRLSign",
            "encipherOnly",
            "decipherOnly",
        ];
        let mut first = true;
        for (i, n) in NAMES.iter().enumerate() {
            if self.0 & (1 << i) != 0 {
                if !first {
                    f.write_str(", ")?;
                }
                f.write_str(n)?;
                first = false;
            }
        }
        Ok(())
    }
}

/// What a holder certificate is for, derived from keyUsage (and basicConstraints):
///
/// * [`CertUsage::Signature`]: nonRepudiation set (the CPS signature certificate);
/// * [`CertUsage::Authentication`]: digitalSignature set without nonRepudiation (the CPS
///   authentication certificate, TLS client authentication);
/// * [`CertUsage::Other`]: CA certificates, certificates without keyUsage, anything else.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CertUsage {
    /// Authentication certificate.
    Authentication,
    /// Signature certificate.
    Signature,
    /// Anything else.
    Other,
}

impl fmt::Display for CertUsage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CertUsage::Authentication => "authentication",
            CertUsage::Signature => "signature",
            CertUsage::Other => "other",
        })
    }
}

/// basicConstraints (RFC 5280 §4.2.1.9).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BasicConstraints {
    /// cA.
    pub ca: bool,
    /// pathLenConstraint.
    pub path_len: Option<u8>,
}

/// Certificate signature algorithms this crate verifies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CertSigAlg {
    RsaSha256,
    RsaSha384,
    RsaSha512,
    EcdsaSha256,
    EcdsaSha384,
    Unsupported,
}

/// A parsed X.509 certificate with the fields of the CPS holder profile.
#[derive(Clone, Debug)]
pub struct CpsCertificate {
    der: Vec<u8>,
    tbs: core::ops::Range<usize>,
    sig_alg_oid: ObjectIdentifier,
    pub(crate) sig_alg: CertSigAlg,
    signature: Vec<u8>,
    version: u8,
    serial: Vec<u8>,
    issuer: DistinguishedName,
    subject: DistinguishedName,
    validity: Validity,
    public_key: PublicKeyInfo,
    key_usage: Option<KeyUsage>,
    extended_key_usage: Vec<ObjectIdentifier>,
    policies: Vec<ObjectIdentifier>,
    basic_constraints: Option<BasicConstraints>,
    subject_key_id: Option<Vec<u8>>,
    authority_key_id: Option<Vec<u8>>,
    unhandled_critical: Vec<ObjectIdentifier>,
    holder: SubjectIdentity,
}

/// Extensions whose presence this profile understands (interpreted, or informational only:
/// SAN/IAN, CRL distribution points, AIA, freshest CRL — revocation is not checked).
const HANDLED_EXTENSIONS: [ObjectIdentifier; 11] = [
    oids::EXT_SUBJECT_KEY_ID,
    oids::EXT_KEY_USAGE,
    oids::EXT_SUBJECT_ALT_NAME,
    oids::EXT_ISSUER_ALT_NAME,
    oids::EXT_BASIC_CONSTRAINTS,
    oids::EXT_CRL_DISTRIBUTION_POINTS,
    oids::EXT_CERTIFICATE_POLICIES,
    oids::EXT_AUTHORITY_KEY_ID,
    oids::EXT_EXTENDED_KEY_USAGE,
    oids::EXT_FRESHEST_CRL,
    oids::EXT_AUTHORITY_INFO_ACCESS,
];

impl CpsCertificate {
    /// Parses a DER certificate (exactly one, no trailing bytes).
    pub fn from_der(der: &[u8]) -> Result<Self, ParseError> {
        if der.is_empty() {
            return Err(ParseError::Empty);
        }
        let cert = Certificate::from_der(der)?;
        let raw = RawParts::split(der)?;
        let tbs_cert = &cert.tbs_certificate;

        if cert.signature_algorithm != tbs_cert.signature {
            return Err(ParseError::AlgorithmMismatch);
        }
        let sig_alg = classify_sig_alg(&cert.signature_algorithm);
        let version = match tbs_cert.version {
            x509_cert::Version::V1 => 1,
            x509_cert::Version::V2 => 2,
            x509_cert::Version::V3 => 3,
        };
        if tbs_cert.extensions.is_some() && version != 3 {
            return Err(ParseError::ExtensionsNotV3);
        }
        let issuer = DistinguishedName::from_name(&tbs_cert.issuer, raw.issuer.to_vec());
        let subject = DistinguishedName::from_name(&tbs_cert.subject, raw.subject.to_vec());
        let validity = Validity {
            not_before: from_x509_time(&tbs_cert.validity.not_before),
            not_after: from_x509_time(&tbs_cert.validity.not_after),
        };
        let public_key = PublicKeyInfo::from_spki_der(raw.spki)?;

        let mut out = Self {
            der: der.to_vec(),
            tbs: raw.tbs,
            sig_alg_oid: cert.signature_algorithm.oid,
            sig_alg,
            signature: cert.signature.raw_bytes().to_vec(),
            version,
            serial: tbs_cert.serial_number.as_bytes().to_vec(),
            holder: SubjectIdentity::from_subject(&subject),
            issuer,
            subject,
            validity,
            public_key,
            key_usage: None,
            extended_key_usage: Vec::new(),
            policies: Vec::new(),
            basic_constraints: None,
            subject_key_id: None,
            authority_key_id: None,
            unhandled_critical: Vec::new(),
        };
        let mut seen: Vec<ObjectIdentifier> = Vec::new();
        for ext in tbs_cert.extensions.iter().flatten() {
            if seen.contains(&ext.extn_id) {
                return Err(ParseError::DuplicateExtension(ext.extn_id));
            }
            seen.push(ext.extn_id);
            out.apply_extension(ext)?;
        }
        Ok(out)
    }

    /// Parses a PEM certificate (`-----BEGIN CERTIFICATE-----`, RFC 7468 §5).
    pub fn from_pem(pem_text: &str) -> Result<Self, ParseError> {
        let der = pem::certificate_pem_to_der(pem_text)?;
        Self::from_der(&der)
    }

    /// Parses PEM or DER, whichever `bytes` is.
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        if pem::looks_like_pem(bytes) {
            let text = core::str::from_utf8(bytes)
                .map_err(|_| crate::error::PemError::Malformed("not UTF-8".into()))?;
            Self::from_pem(text)
        } else {
            Self::from_der(bytes)
        }
    }

    fn apply_extension(&mut self, ext: &x509_cert::ext::Extension) -> Result<(), ParseError> {
        let value = ext.extn_value.as_bytes();
        let bad = |e: der::Error| ParseError::BadExtension {
            oid: ext.extn_id,
            reason: e.to_string(),
        };
        let id = ext.extn_id;
        if id == oids::EXT_KEY_USAGE {
            let bs = der::asn1::BitString::from_der(value).map_err(bad)?;
            self.key_usage = Some(KeyUsage::from_bit_string(&bs));
        } else if id == oids::EXT_EXTENDED_KEY_USAGE {
            let eku = x509_cert::ext::pkix::ExtendedKeyUsage::from_der(value).map_err(bad)?;
            self.extended_key_usage = eku.0;
        } else if id == oids::EXT_CERTIFICATE_POLICIES {
            let cp = x509_cert::ext::pkix::CertificatePolicies::from_der(value).map_err(bad)?;
            self.policies = cp.0.into_iter().map(|p| p.policy_identifier).collect();
        } else if id == oids::EXT_BASIC_CONSTRAINTS {
            let bc = x509_cert::ext::pkix::BasicConstraints::from_der(value).map_err(bad)?;
            self.basic_constraints = Some(BasicConstraints {
                ca: bc.ca,
                path_len: bc.path_len_constraint,
            });
        } else if id == oids::EXT_SUBJECT_KEY_ID {
            let ski = x509_cert::ext::pkix::SubjectKeyIdentifier::from_der(value).map_err(bad)?;
            self.subject_key_id = Some(ski.0.as_bytes().to_vec());
        } else if id == oids::EXT_AUTHORITY_KEY_ID {
            let aki = x509_cert::ext::pkix::AuthorityKeyIdentifier::from_der(value).map_err(bad)?;
            self.authority_key_id = aki.key_identifier.map(|k| k.as_bytes().to_vec());
        } else if ext.critical && !HANDLED_EXTENSIONS.contains(&id) {
            self.unhandled_critical.push(id);
        }
        Ok(())
    }

    /// The certificate's DER encoding.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The certificate as PEM.
    pub fn to_pem(&self) -> String {
        pem::certificate_der_to_pem(&self.der)
    }

    /// The exact `tbsCertificate` bytes that the signature covers.
    pub fn tbs_der(&self) -> &[u8] {
        self.der.get(self.tbs.clone()).unwrap_or_default()
    }

    /// The signature value (BIT STRING contents).
    pub fn signature_value(&self) -> &[u8] {
        &self.signature
    }

    /// The signature algorithm OID.
    pub fn signature_algorithm(&self) -> ObjectIdentifier {
        self.sig_alg_oid
    }

    /// X.509 version (1, 2 or 3).
    pub fn version(&self) -> u8 {
        self.version
    }

    /// Serial number, big-endian, leading zero octets stripped.
    pub fn serial(&self) -> &[u8] {
        &self.serial
    }

    /// Serial number as upper-case hex.
    pub fn serial_hex(&self) -> String {
        self.serial.iter().map(|b| format!("{b:02X}")).collect()
    }

    /// Issuer DN.
    pub fn issuer(&self) -> &DistinguishedName {
        &self.issuer
    }

    /// Subject DN.
    pub fn subject(&self) -> &DistinguishedName {
        &self.subject
    }

    /// The holder identity read from the subject.
    pub fn holder(&self) -> &SubjectIdentity {
        &self.holder
    }

    /// The holder's national identifier (CN), as text.
    pub fn national_id(&self) -> Option<&str> {
        self.holder.national_id.as_ref().map(|n| n.as_str())
    }

    /// Validity period.
    pub fn validity(&self) -> Validity {
        self.validity
    }

    /// notBefore.
    pub fn not_before(&self) -> UnixTime {
        self.validity.not_before
    }

    /// notAfter.
    pub fn not_after(&self) -> UnixTime {
        self.validity.not_after
    }

    /// Subject public key.
    pub fn public_key(&self) -> &PublicKeyInfo {
        &self.public_key
    }

    /// keyUsage, if present.
    pub fn key_usage(&self) -> Option<KeyUsage> {
        self.key_usage
    }

    /// extKeyUsage purposes (empty if the extension is absent).
    pub fn extended_key_usage(&self) -> &[ObjectIdentifier] {
        &self.extended_key_usage
    }

    /// certificatePolicies policy identifiers (empty if absent).
    pub fn policies(&self) -> &[ObjectIdentifier] {
        &self.policies
    }

    /// basicConstraints, if present.
    pub fn basic_constraints(&self) -> Option<BasicConstraints> {
        self.basic_constraints
    }

    /// Whether basicConstraints says cA = TRUE.
    pub fn is_ca(&self) -> bool {
        self.basic_constraints.is_some_and(|b| b.ca)
    }

    /// subjectKeyIdentifier, if present.
    pub fn subject_key_id(&self) -> Option<&[u8]> {
        self.subject_key_id.as_deref()
    }

    /// authorityKeyIdentifier keyIdentifier, if present.
    pub fn authority_key_id(&self) -> Option<&[u8]> {
        self.authority_key_id.as_deref()
    }

    /// Critical extensions this profile does not process (a path containing such a
    /// certificate is rejected by [`crate::verify_chain`]).
    pub fn unhandled_critical_extensions(&self) -> &[ObjectIdentifier] {
        &self.unhandled_critical
    }

    /// Whether subject and issuer are the same name.
    pub fn is_self_issued(&self) -> bool {
        self.subject.der() == self.issuer.der()
    }

    /// Whether the certificate carries one of the cps-rs test PKI policies.
    pub fn is_test_pki(&self) -> bool {
        self.policies.iter().any(|p| {
            *p == oids::TEST_POLICY_CPX_AUTH
                || *p == oids::TEST_POLICY_CPX_SIGN
                || *p == oids::TEST_POLICY_CA
        })
    }

    /// The holder usage (see [`CertUsage`] for the rule).
    pub fn usage(&self) -> CertUsage {
        let Some(ku) = self.key_usage else {
            return CertUsage::Other;
        };
        if self.is_ca() || ku.contains(KeyUsage::KEY_CERT_SIGN) {
            CertUsage::Other
        } else if ku.contains(KeyUsage::NON_REPUDIATION) {
            CertUsage::Signature
        } else if ku.contains(KeyUsage::DIGITAL_SIGNATURE) {
            CertUsage::Authentication
        } else {
            CertUsage::Other
        }
    }
}

impl PartialEq for CpsCertificate {
    fn eq(&self, other: &Self) -> bool {
        self.der == other.der
    }
}

impl Eq for CpsCertificate {}

fn classify_sig_alg(alg: &spki::AlgorithmIdentifierOwned) -> CertSigAlg {
    let null_or_absent = match &alg.parameters {
        None => true,
        Some(p) => p.tag() == der::Tag::Null && p.value().is_empty(),
    };
    match alg.oid {
        // RFC 4055 §5: NULL parameters (absent tolerated, as many verifiers do).
        o if o == oids::SHA256_WITH_RSA && null_or_absent => CertSigAlg::RsaSha256,
        o if o == oids::SHA384_WITH_RSA && null_or_absent => CertSigAlg::RsaSha384,
        o if o == oids::SHA512_WITH_RSA && null_or_absent => CertSigAlg::RsaSha512,
        // RFC 5758 §3.2: parameters absent.
        o if o == oids::ECDSA_WITH_SHA256 && alg.parameters.is_none() => CertSigAlg::EcdsaSha256,
        o if o == oids::ECDSA_WITH_SHA384 && alg.parameters.is_none() => CertSigAlg::EcdsaSha384,
        _ => CertSigAlg::Unsupported,
    }
}

/// Byte ranges of a certificate's raw parts (exact input bytes, for signature verification and
/// name comparison).
struct RawParts<'a> {
    tbs: core::ops::Range<usize>,
    issuer: &'a [u8],
    subject: &'a [u8],
    spki: &'a [u8],
}

impl<'a> RawParts<'a> {
    fn split(der: &'a [u8]) -> Result<Self, der::Error> {
        let mut outer = SliceReader::new(der)?;
        let header = der::Header::decode(&mut outer)?;
        header.tag.assert_eq(der::Tag::Sequence)?;
        let start = usize::try_from(outer.position())?;
        let tbs_bytes = outer.tlv_bytes()?;
        let tbs = start..start.saturating_add(tbs_bytes.len());

        let mut r = SliceReader::new(tbs_bytes)?;
        let h = der::Header::decode(&mut r)?;
        h.tag.assert_eq(der::Tag::Sequence)?;
        // version [0] EXPLICIT, optional
        if r.peek_byte() == Some(0xA0) {
            r.tlv_bytes()?;
        }
        r.tlv_bytes()?; // serialNumber
        r.tlv_bytes()?; // signature
        let issuer = r.tlv_bytes()?;
        r.tlv_bytes()?; // validity
        let subject = r.tlv_bytes()?;
        let spki = r.tlv_bytes()?;
        Ok(Self {
            tbs,
            issuer,
            subject,
            spki,
        })
    }
}
