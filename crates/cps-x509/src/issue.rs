//! Issuing certificates: the test PKI generator, renewal certificates for card-generated keys
//! (CPS4 remote update) and negative-test material.
//!
//! Certificates are assembled directly from x509-cert's `TbsCertificate` and signed with
//! sha256WithRSAEncryption (RFC 4055, NULL parameters) or ecdsa-with-SHA256 (RFC 5758, DER
//! signature) depending on the CA key. Key identifiers follow RFC 7093 §2 method 1 (leftmost 160
//! bits of the SHA-256 of the subjectPublicKey bits).

use const_oid::ObjectIdentifier;
use der::asn1::{Any, BitString, OctetString, SetOfVec};
use der::{Decode, Encode, Tag};
use sha2::{Digest, Sha256};
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::certpolicy::PolicyInformation;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, CertificatePolicies, ExtendedKeyUsage,
    SubjectKeyIdentifier,
};
use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};
use x509_cert::serial_number::SerialNumber;
use x509_cert::{Certificate, TbsCertificate, Version};

use crate::algorithm::KeyAlgorithm;
use crate::cert::{CertUsage, CpsCertificate, KeyUsage, PublicKeyInfo};
use crate::error::IssueError;
use crate::keys::PrivateKey;
use crate::name::SubjectIdentity;
use crate::oids;
use crate::signature::{SignatureAlgorithm, SignedData};
use crate::time::{Validity, to_x509_time};

/// The subject of a CPS holder certificate (see [`crate::name`] for the layout).
///
/// Encoded as `C` (PrintableString), then `O`, `OU`, `title` when present, then one
/// multi-valued RDN `CN + SN + GN` (UTF8String).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HolderSubject {
    /// Country, `FR`.
    pub country: String,
    /// Organisation: the structure name of CPE/CDE cards.
    pub organisation: Option<String>,
    /// Organisational unit: the structure identifier (type digit + identifier).
    pub organisational_unit: Option<String>,
    /// Profession label, e.g. `Médecin`.
    pub title: Option<String>,
    /// National identifier (CN).
    pub national_id: String,
    /// Family name (SN).
    pub family_name: String,
    /// Given name (GN).
    pub given_name: String,
}

impl HolderSubject {
    /// Rebuilds the subject fields from a parsed holder identity (to renew a certificate with the
    /// same subject); `None` if the national identifier or a name is missing.
    pub fn from_identity(h: &SubjectIdentity) -> Option<Self> {
        Some(Self {
            country: h.country.clone().unwrap_or_else(|| "FR".to_owned()),
            organisation: h.organisation.clone(),
            organisational_unit: h.organisational_unit.clone(),
            title: h.profession.clone(),
            national_id: h.national_id.as_ref()?.as_str().to_owned(),
            family_name: h.family_name.clone()?,
            given_name: h.given_name.clone()?,
        })
    }

    fn to_name(&self) -> Result<Name, IssueError> {
        let mut rdns = vec![single(printable(oids::AT_COUNTRY, &self.country)?)?];
        for (oid, v) in [
            (oids::AT_ORGANIZATION, &self.organisation),
            (oids::AT_ORGANIZATIONAL_UNIT, &self.organisational_unit),
            (oids::AT_TITLE, &self.title),
        ] {
            if let Some(v) = v {
                rdns.push(single(utf8(oid, v)?)?);
            }
        }
        let multi = vec![
            utf8(oids::AT_COMMON_NAME, &self.national_id)?,
            utf8(oids::AT_SURNAME, &self.family_name)?,
            utf8(oids::AT_GIVEN_NAME, &self.given_name)?,
        ];
        rdns.push(RelativeDistinguishedName(SetOfVec::try_from(multi)?));
        Ok(RdnSequence(rdns))
    }

    /// DER encoding of the subject `Name`.
    pub fn to_der(&self) -> Result<Vec<u8>, IssueError> {
        Ok(self.to_name()?.to_der()?)
    }
}

/// The subject of a CA certificate: `C`, `O`, each `OU` in order, `CN`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaSubject {
    /// Country.
    pub country: String,
    /// Organisation.
    pub organisation: String,
    /// Organisational units, in encoding order.
    pub organisational_units: Vec<String>,
    /// Common name.
    pub common_name: String,
}

impl CaSubject {
    fn to_name(&self) -> Result<Name, IssueError> {
        let mut rdns = vec![
            single(printable(oids::AT_COUNTRY, &self.country)?)?,
            single(utf8(oids::AT_ORGANIZATION, &self.organisation)?)?,
        ];
        for ou in &self.organisational_units {
            rdns.push(single(utf8(oids::AT_ORGANIZATIONAL_UNIT, ou)?)?);
        }
        rdns.push(single(utf8(oids::AT_COMMON_NAME, &self.common_name)?)?);
        Ok(RdnSequence(rdns))
    }
}

fn single(atv: AttributeTypeAndValue) -> Result<RelativeDistinguishedName, IssueError> {
    Ok(RelativeDistinguishedName(SetOfVec::try_from(vec![atv])?))
}

fn utf8(oid: ObjectIdentifier, value: &str) -> Result<AttributeTypeAndValue, IssueError> {
    if value.is_empty() {
        return Err(IssueError::Subject(format!("empty {oid}")));
    }
    Ok(AttributeTypeAndValue {
        oid,
        value: Any::new(Tag::Utf8String, value.as_bytes())?,
    })
}

fn printable(oid: ObjectIdentifier, value: &str) -> Result<AttributeTypeAndValue, IssueError> {
    let ok = !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b" '()+,-./:=?".contains(&b));
    if !ok {
        return Err(IssueError::Subject(format!(
            "{value:?} is not a PrintableString"
        )));
    }
    Ok(AttributeTypeAndValue {
        oid,
        value: Any::new(Tag::PrintableString, value.as_bytes())?,
    })
}

/// A holder certificate to issue.
#[derive(Clone, Debug)]
pub struct HolderCertificateRequest<'a> {
    /// Subject.
    pub subject: &'a HolderSubject,
    /// The holder's public key (DER SubjectPublicKeyInfo: RSA or P-256), e.g. generated on the
    /// card.
    pub public_key_spki_der: &'a [u8],
    /// Validity period.
    pub validity: Validity,
    /// Authentication (keyUsage digitalSignature, + keyEncipherment for RSA; extKeyUsage
    /// clientAuth) or Signature (keyUsage nonRepudiation).
    pub usage: CertUsage,
    /// Serial number (big-endian, positive, ≤ 20 octets).
    pub serial: &'a [u8],
    /// certificatePolicies (e.g. [`oids::TEST_POLICY_CPX_AUTH`]); none if empty.
    pub policies: &'a [ObjectIdentifier],
}

/// A CA certificate to issue.
#[derive(Clone, Debug)]
pub struct CaCertificateRequest<'a> {
    /// Subject.
    pub subject: &'a CaSubject,
    /// Validity period.
    pub validity: Validity,
    /// Serial number (big-endian, positive, ≤ 20 octets).
    pub serial: &'a [u8],
    /// pathLenConstraint.
    pub path_len: Option<u8>,
    /// certificatePolicies; none if empty.
    pub policies: &'a [ObjectIdentifier],
}

/// A CA key that signs certificates, wherever it lives: in this process ([`PrivateKey`]) or in
/// an HSM reached through PKCS#11, where only the to-be-signed bytes go in and the signature
/// comes out.
pub trait CertificateSigner {
    /// The CA key's algorithm: RSA (certificates signed sha256WithRSAEncryption, PKCS#1 v1.5)
    /// or P-256 (ecdsa-with-SHA256).
    fn key_algorithm(&self) -> KeyAlgorithm;
    /// The CA key's public key (DER SubjectPublicKeyInfo), checked against the CA certificate
    /// before anything is signed.
    fn public_key_spki_der(&self) -> Result<Vec<u8>, IssueError>;
    /// Signs the DER `TBSCertificate`: for RSA the PKCS#1 v1.5 signature of its SHA-256
    /// (RFC 8017 §8.2), for P-256 the DER `Ecdsa-Sig-Value` (RFC 5758 §3.2).
    fn sign_certificate(&self, tbs_der: &[u8]) -> Result<Vec<u8>, IssueError>;
}

impl CertificateSigner for PrivateKey {
    fn key_algorithm(&self) -> KeyAlgorithm {
        self.algorithm()
    }

    fn public_key_spki_der(&self) -> Result<Vec<u8>, IssueError> {
        Ok(PrivateKey::public_key_spki_der(self)?)
    }

    fn sign_certificate(&self, tbs_der: &[u8]) -> Result<Vec<u8>, IssueError> {
        match self {
            PrivateKey::Rsa(_) => Ok(self.sign(
                SignedData::Message(tbs_der),
                SignatureAlgorithm::RSA_PKCS1V15_SHA256,
            )?),
            PrivateKey::P256(_) => {
                let raw = self.sign(
                    SignedData::Message(tbs_der),
                    SignatureAlgorithm::ECDSA_SHA256,
                )?;
                // Certificates carry the DER Ecdsa-Sig-Value (RFC 5758 §3.2), not r ‖ s.
                let sig = p256::ecdsa::Signature::from_slice(&raw)
                    .map_err(|e| crate::error::KeyError::Sign(e.to_string()))?;
                Ok(sig.to_der().as_bytes().to_vec())
            }
        }
    }
}

/// Issues a holder certificate signed by `ca_key`, whose certificate is `ca_cert`. Returns the
/// DER certificate.
pub fn issue_holder_certificate(
    ca_key: &PrivateKey,
    ca_cert: &CpsCertificate,
    request: &HolderCertificateRequest<'_>,
) -> Result<Vec<u8>, IssueError> {
    issue_holder_certificate_with(ca_key, ca_cert, request)
}

/// [`issue_holder_certificate`] with a CA key that may be outside this process (an HSM):
/// the signer sees only the to-be-signed bytes.
pub fn issue_holder_certificate_with(
    ca_key: &dyn CertificateSigner,
    ca_cert: &CpsCertificate,
    request: &HolderCertificateRequest<'_>,
) -> Result<Vec<u8>, IssueError> {
    check_ca(ca_key, ca_cert)?;
    let subject_key = PublicKeyInfo::from_spki_der(request.public_key_spki_der)
        .map_err(|e| IssueError::PublicKey(e.to_string()))?;
    let key_usage = match (request.usage, subject_key.algorithm()) {
        (CertUsage::Authentication, KeyAlgorithm::Rsa { .. }) => {
            KeyUsage::DIGITAL_SIGNATURE.union(KeyUsage::KEY_ENCIPHERMENT)
        }
        (CertUsage::Authentication, KeyAlgorithm::EcP256) => KeyUsage::DIGITAL_SIGNATURE,
        (CertUsage::Signature, KeyAlgorithm::Rsa { .. } | KeyAlgorithm::EcP256) => {
            KeyUsage::NON_REPUDIATION
        }
        (CertUsage::Other, _) => return Err(IssueError::UnsupportedUsage),
        (_, other) => return Err(IssueError::PublicKey(format!("unsupported key {other}"))),
    };
    let mut extensions = vec![
        extension(
            oids::EXT_BASIC_CONSTRAINTS,
            true,
            &BasicConstraints {
                ca: false,
                path_len_constraint: None,
            },
        )?,
        extension(oids::EXT_KEY_USAGE, true, &key_usage.to_bit_string()?)?,
    ];
    if request.usage == CertUsage::Authentication {
        extensions.push(extension(
            oids::EXT_EXTENDED_KEY_USAGE,
            false,
            &ExtendedKeyUsage(vec![oids::KP_CLIENT_AUTH]),
        )?);
    }
    push_policies(&mut extensions, request.policies)?;
    push_key_ids(&mut extensions, request.public_key_spki_der, Some(ca_cert))?;
    let issuer = Name::from_der(ca_cert.subject().der())?;
    sign_tbs(
        ca_key,
        issuer,
        request.subject.to_name()?,
        request.public_key_spki_der,
        request.validity,
        request.serial,
        extensions,
    )
}

/// Issues a self-signed root CA certificate for `key`.
pub fn issue_root_certificate(
    key: &PrivateKey,
    request: &CaCertificateRequest<'_>,
) -> Result<Vec<u8>, IssueError> {
    let spki = key.public_key_spki_der()?;
    let name = request.subject.to_name()?;
    let extensions = ca_extensions(request, &spki, None)?;
    sign_tbs(
        key,
        name.clone(),
        name,
        &spki,
        request.validity,
        request.serial,
        extensions,
    )
}

/// Issues an intermediate CA certificate for the public key `subject_spki_der`, signed by
/// `ca_key` / `ca_cert`.
pub fn issue_intermediate_certificate(
    ca_key: &PrivateKey,
    ca_cert: &CpsCertificate,
    subject_spki_der: &[u8],
    request: &CaCertificateRequest<'_>,
) -> Result<Vec<u8>, IssueError> {
    check_ca(ca_key, ca_cert)?;
    PublicKeyInfo::from_spki_der(subject_spki_der)
        .map_err(|e| IssueError::PublicKey(e.to_string()))?;
    let extensions = ca_extensions(request, subject_spki_der, Some(ca_cert))?;
    sign_tbs(
        ca_key,
        Name::from_der(ca_cert.subject().der())?,
        request.subject.to_name()?,
        subject_spki_der,
        request.validity,
        request.serial,
        extensions,
    )
}

fn check_ca(ca_key: &dyn CertificateSigner, ca_cert: &CpsCertificate) -> Result<(), IssueError> {
    let can_sign = ca_cert.is_ca()
        && ca_cert
            .key_usage()
            .is_none_or(|ku| ku.contains(KeyUsage::KEY_CERT_SIGN));
    if !can_sign {
        return Err(IssueError::IssuerNotCa(ca_cert.subject().to_string()));
    }
    if ca_key.public_key_spki_der()? != ca_cert.public_key().spki_der() {
        return Err(IssueError::KeyMismatch);
    }
    Ok(())
}

fn ca_extensions(
    request: &CaCertificateRequest<'_>,
    subject_spki: &[u8],
    issuer: Option<&CpsCertificate>,
) -> Result<Vec<Extension>, IssueError> {
    let mut extensions = vec![
        extension(
            oids::EXT_BASIC_CONSTRAINTS,
            true,
            &BasicConstraints {
                ca: true,
                path_len_constraint: request.path_len,
            },
        )?,
        extension(
            oids::EXT_KEY_USAGE,
            true,
            &KeyUsage::KEY_CERT_SIGN
                .union(KeyUsage::CRL_SIGN)
                .to_bit_string()?,
        )?,
    ];
    push_policies(&mut extensions, request.policies)?;
    push_key_ids(&mut extensions, subject_spki, issuer)?;
    Ok(extensions)
}

fn push_policies(
    extensions: &mut Vec<Extension>,
    policies: &[ObjectIdentifier],
) -> Result<(), IssueError> {
    if !policies.is_empty() {
        let cp = CertificatePolicies(
            policies
                .iter()
                .map(|p| PolicyInformation {
                    policy_identifier: *p,
                    policy_qualifiers: None,
                })
                .collect(),
        );
        extensions.push(extension(oids::EXT_CERTIFICATE_POLICIES, false, &cp)?);
    }
    Ok(())
}

/// subjectKeyIdentifier of `subject_spki`, and authorityKeyIdentifier from `issuer` (its SKI,
/// or computed from its key) when there is an issuer.
fn push_key_ids(
    extensions: &mut Vec<Extension>,
    subject_spki: &[u8],
    issuer: Option<&CpsCertificate>,
) -> Result<(), IssueError> {
    let ski = key_identifier(subject_spki)?;
    extensions.push(extension(
        oids::EXT_SUBJECT_KEY_ID,
        false,
        &SubjectKeyIdentifier(OctetString::new(ski)?),
    )?);
    if let Some(issuer) = issuer {
        let aki = match issuer.subject_key_id() {
            Some(k) => k.to_vec(),
            None => key_identifier(issuer.public_key().spki_der())?,
        };
        extensions.push(extension(
            oids::EXT_AUTHORITY_KEY_ID,
            false,
            &AuthorityKeyIdentifier {
                key_identifier: Some(OctetString::new(aki)?),
                authority_cert_issuer: None,
                authority_cert_serial_number: None,
            },
        )?);
    }
    Ok(())
}

/// RFC 7093 §2 method 1: leftmost 160 bits of SHA-256(subjectPublicKey bits).
pub fn key_identifier(spki_der: &[u8]) -> Result<Vec<u8>, IssueError> {
    let spki = spki::SubjectPublicKeyInfoRef::from_der(spki_der)?;
    let digest = Sha256::digest(spki.subject_public_key.raw_bytes());
    Ok(digest.iter().take(20).copied().collect())
}

fn extension(
    oid: ObjectIdentifier,
    critical: bool,
    value: &impl Encode,
) -> Result<Extension, IssueError> {
    Ok(Extension {
        extn_id: oid,
        critical,
        extn_value: OctetString::new(value.to_der()?)?,
    })
}

fn sign_tbs(
    key: &dyn CertificateSigner,
    issuer: Name,
    subject: Name,
    spki_der: &[u8],
    validity: Validity,
    serial: &[u8],
    extensions: Vec<Extension>,
) -> Result<Vec<u8>, IssueError> {
    let first = serial
        .iter()
        .position(|&b| b != 0)
        .ok_or(IssueError::BadSerial)?;
    let serial = serial.get(first..).ok_or(IssueError::BadSerial)?;
    let serial_number = SerialNumber::new(serial).map_err(|_| IssueError::BadSerial)?;
    if validity.not_after < validity.not_before {
        return Err(IssueError::BadValidity);
    }
    let not_before = to_x509_time(validity.not_before).ok_or(IssueError::BadValidity)?;
    let not_after = to_x509_time(validity.not_after).ok_or(IssueError::BadValidity)?;
    let algorithm = match key.key_algorithm() {
        KeyAlgorithm::Rsa { .. } => spki::AlgorithmIdentifierOwned {
            oid: oids::SHA256_WITH_RSA,
            parameters: Some(Any::null()),
        },
        KeyAlgorithm::EcP256 => spki::AlgorithmIdentifierOwned {
            oid: oids::ECDSA_WITH_SHA256,
            parameters: None,
        },
        other => {
            return Err(IssueError::Key(crate::error::KeyError::Sign(format!(
                "a CA key {other} cannot sign certificates here"
            ))));
        }
    };
    let tbs = TbsCertificate {
        version: Version::V3,
        serial_number,
        signature: algorithm.clone(),
        issuer,
        validity: x509_cert::time::Validity {
            not_before,
            not_after,
        },
        subject,
        subject_public_key_info: spki::SubjectPublicKeyInfoOwned::from_der(spki_der)?,
        issuer_unique_id: None,
        subject_unique_id: None,
        extensions: Some(extensions),
    };
    let tbs_der = tbs.to_der()?;
    let signature = key.sign_certificate(&tbs_der)?;
    let cert = Certificate {
        tbs_certificate: tbs,
        signature_algorithm: algorithm,
        signature: BitString::from_bytes(&signature)?,
    };
    let der = cert.to_der()?;
    CpsCertificate::from_der(&der)?;
    Ok(der)
}

#[cfg(all(test, feature = "test-pki"))]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]

    use super::*;
    use crate::error::ChainError;
    use crate::test_pki::{self, KeySet, REFERENCE_TIME};
    use crate::verify_chain;

    fn validity() -> Validity {
        Validity {
            not_before: crate::UnixTime::from_ymd(2025, 1, 1).unwrap(),
            not_after: crate::UnixTime::from_ymd(2030, 1, 1).unwrap(),
        }
    }

    /// Certificates the public API refuses to make: issued by a non-CA, or with an unknown
    /// critical extension.
    #[test]
    fn crafted_paths_are_refused() {
        let persons = test_pki::intermediate_certificate().unwrap();
        let root = test_pki::root_certificate().unwrap();
        let holder =
            test_pki::holder(KeySet::EcP256, "dr-martin", CertUsage::Authentication).unwrap();
        let holder_cert = holder.certificate().unwrap();
        let holder_key = holder.private_key().unwrap();
        let subject = HolderSubject::from_identity(holder_cert.holder()).unwrap();
        let spki = holder_key.public_key_spki_der().unwrap();

        // Signed by a holder key, naming the holder as issuer.
        let der = sign_tbs(
            &holder_key,
            Name::from_der(holder_cert.subject().der()).unwrap(),
            subject.to_name().unwrap(),
            &spki,
            validity(),
            &[7],
            Vec::new(),
        )
        .unwrap();
        let leaf = CpsCertificate::from_der(&der).unwrap();
        let err = verify_chain(
            &leaf,
            &[holder_cert.clone(), persons.clone()],
            core::slice::from_ref(&root),
            REFERENCE_TIME,
        )
        .unwrap_err();
        assert!(matches!(err, ChainError::NotCa { .. }), "{err}");
        assert!(err.to_string().starts_with("not a CA: "), "{err}");

        // Unknown critical extension on an otherwise valid leaf.
        let persons_key = test_pki::intermediate_key().unwrap();
        let unknown = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.32473.99");
        let ext = Extension {
            extn_id: unknown,
            critical: true,
            extn_value: OctetString::new(vec![0x05, 0x00]).unwrap(),
        };
        let der = sign_tbs(
            &persons_key,
            Name::from_der(persons.subject().der()).unwrap(),
            subject.to_name().unwrap(),
            &spki,
            validity(),
            &[8],
            vec![ext.clone()],
        )
        .unwrap();
        let leaf = CpsCertificate::from_der(&der).unwrap();
        assert_eq!(leaf.unhandled_critical_extensions(), [unknown]);
        let err = verify_chain(
            &leaf,
            core::slice::from_ref(&persons),
            core::slice::from_ref(&root),
            REFERENCE_TIME,
        )
        .unwrap_err();
        assert!(
            matches!(err, ChainError::UnsupportedCriticalExtension { .. }),
            "{err}"
        );

        // The same extension, non-critical, is ignored.
        let der = sign_tbs(
            &persons_key,
            Name::from_der(persons.subject().der()).unwrap(),
            subject.to_name().unwrap(),
            &spki,
            validity(),
            &[9],
            vec![Extension {
                critical: false,
                ..ext.clone()
            }],
        )
        .unwrap();
        let leaf = CpsCertificate::from_der(&der).unwrap();
        verify_chain(
            &leaf,
            core::slice::from_ref(&persons),
            core::slice::from_ref(&root),
            REFERENCE_TIME,
        )
        .unwrap();
        assert_eq!(leaf.usage(), CertUsage::Other, "no keyUsage");

        // A duplicated extension does not parse.
        let der = sign_tbs(
            &persons_key,
            Name::from_der(persons.subject().der()).unwrap(),
            subject.to_name().unwrap(),
            &spki,
            validity(),
            &[10],
            vec![ext.clone(), ext],
        );
        assert!(matches!(
            der,
            Err(IssueError::Parse(crate::ParseError::DuplicateExtension(_)))
        ));
    }

    #[test]
    fn key_usage_bit_strings() {
        // X.690 §11.2.2: named bit lists drop trailing zero bits.
        let enc = |k: KeyUsage| k.to_bit_string().unwrap().to_der().unwrap();
        assert_eq!(enc(KeyUsage::DIGITAL_SIGNATURE), [0x03, 0x02, 0x07, 0x80]);
        assert_eq!(enc(KeyUsage::NON_REPUDIATION), [0x03, 0x02, 0x06, 0x40]);
        assert_eq!(
            enc(KeyUsage::DIGITAL_SIGNATURE.union(KeyUsage::KEY_ENCIPHERMENT)),
            [0x03, 0x02, 0x05, 0xA0]
        );
        assert_eq!(
            enc(KeyUsage::KEY_CERT_SIGN.union(KeyUsage::CRL_SIGN)),
            [0x03, 0x02, 0x01, 0x06]
        );
        assert_eq!(enc(KeyUsage::DECIPHER_ONLY), [0x03, 0x03, 0x07, 0x00, 0x80]);
        assert_eq!(KeyUsage::NON_REPUDIATION.to_string(), "nonRepudiation");
    }
}
