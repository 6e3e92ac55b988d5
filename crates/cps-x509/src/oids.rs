//! Object identifiers used by the CPS certificate profile, each with its source.
//!
//! Only [`TEST_POLICY_CPX_AUTH`], [`TEST_POLICY_CPX_SIGN`] and [`TEST_POLICY_CA`] are ours: they
//! sit under `1.3.6.1.4.1.32473`, the IANA enterprise number reserved for documentation
//! examples (RFC 5612), so that a certificate of the cps-rs test PKI can never be mistaken for
//! one issued under a real IGC-Santé policy. (The X.660 example arc `2.999` would do too, but
//! its second arc does not fit `const-oid` 0.9's single-octet first subidentifier.)

use const_oid::ObjectIdentifier;

/// `id-at-commonName` (X.520, RFC 4519 §2.3). In CPS holder certificates: the national
/// identifier of the holder.
pub const AT_COMMON_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");
/// `id-at-surname` (X.520, RFC 4519 §2.32): the holder's family name ("nom d'exercice").
pub const AT_SURNAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.4");
/// `id-at-serialNumber` (X.520, RFC 4519 §2.31).
pub const AT_SERIAL_NUMBER: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.5");
/// `id-at-countryName` (X.520, RFC 4519 §2.2).
pub const AT_COUNTRY: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.6");
/// `id-at-localityName` (X.520, RFC 4519 §2.16).
pub const AT_LOCALITY: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.7");
/// `id-at-stateOrProvinceName` (X.520, RFC 4519 §2.33).
pub const AT_STATE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.8");
/// `id-at-organizationName` (X.520, RFC 4519 §2.19).
pub const AT_ORGANIZATION: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.10");
/// `id-at-organizationalUnitName` (X.520, RFC 4519 §2.20).
pub const AT_ORGANIZATIONAL_UNIT: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.11");
/// `id-at-title` (X.520, RFC 4519 §2.38). In CPS holder certificates: the profession label.
pub const AT_TITLE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.12");
/// `id-at-givenName` (X.520, RFC 4519 §2.12): the holder's given name ("prénom d'exercice").
pub const AT_GIVEN_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.42");
/// `id-at-pseudonym` (X.520, RFC 5280 §4.1.2.6).
pub const AT_PSEUDONYM: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.65");
/// `emailAddress` (PKCS #9, RFC 2985 §5.2.1), legacy in DNs.
pub const AT_EMAIL_ADDRESS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.1");

/// `id-ce-subjectKeyIdentifier` (RFC 5280 §4.2.1.2).
pub const EXT_SUBJECT_KEY_ID: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.14");
/// `id-ce-keyUsage` (RFC 5280 §4.2.1.3).
pub const EXT_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.15");
/// `id-ce-subjectAltName` (RFC 5280 §4.2.1.6).
pub const EXT_SUBJECT_ALT_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.17");
/// `id-ce-issuerAltName` (RFC 5280 §4.2.1.7).
pub const EXT_ISSUER_ALT_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.18");
/// `id-ce-basicConstraints` (RFC 5280 §4.2.1.9).
pub const EXT_BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
/// `id-ce-cRLDistributionPoints` (RFC 5280 §4.2.1.13).
pub const EXT_CRL_DISTRIBUTION_POINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.31");
/// `id-ce-certificatePolicies` (RFC 5280 §4.2.1.4).
pub const EXT_CERTIFICATE_POLICIES: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.32");
/// `id-ce-authorityKeyIdentifier` (RFC 5280 §4.2.1.1).
pub const EXT_AUTHORITY_KEY_ID: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.35");
/// `id-ce-extKeyUsage` (RFC 5280 §4.2.1.12).
pub const EXT_EXTENDED_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
/// `id-ce-freshestCRL` (RFC 5280 §4.2.1.15).
pub const EXT_FRESHEST_CRL: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.46");
/// `id-pe-authorityInfoAccess` (RFC 5280 §4.2.2.1).
pub const EXT_AUTHORITY_INFO_ACCESS: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.1.1");

/// `anyPolicy` (RFC 5280 §4.2.1.4).
pub const ANY_POLICY: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.32.0");
/// `id-kp-serverAuth` (RFC 5280 §4.2.1.12).
pub const KP_SERVER_AUTH: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.1");
/// `id-kp-clientAuth` (RFC 5280 §4.2.1.12): TLS client authentication, the use of the CPS
/// authentication certificate.
pub const KP_CLIENT_AUTH: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.2");
/// `id-kp-emailProtection` (RFC 5280 §4.2.1.12).
pub const KP_EMAIL_PROTECTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.4");

/// `rsaEncryption` (RFC 8017 Appendix C, RFC 3279 §2.3.1).
pub const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
/// `sha256WithRSAEncryption` (RFC 4055 §5, RFC 8017 Appendix C).
pub const SHA256_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
/// `sha384WithRSAEncryption` (RFC 4055 §5).
pub const SHA384_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
/// `sha512WithRSAEncryption` (RFC 4055 §5).
pub const SHA512_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");
/// `id-ecPublicKey` (RFC 5480 §2.1.1).
pub const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
/// `secp256r1` / `prime256v1` (RFC 5480 §2.1.1.1).
pub const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
/// `ecdsa-with-SHA256` (RFC 5758 §3.2).
pub const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
/// `ecdsa-with-SHA384` (RFC 5758 §3.2).
pub const ECDSA_WITH_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");

/// IGC-Santé certificate policy "ACI Gamme ELEMENTAIRE / Domaine PERSONNES", signature
/// certificates (EL-PP-CL-SIGN). Source: ASIP Santé, *Politique de Certification de l'IGC-Santé,
/// ACI Gamme ELEMENTAIRE / Domaine PERSONNES*, PC-EL-PP-CL-SIGN V1.1 (25/06/2018), title page.
/// Listed for reference; never put in test certificates.
pub const IGC_SANTE_EL_PP_CL_SIGN: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.250.1.213.1.7.1.1.1.4.1");
/// IGC-Santé certificate policy "ACI Gamme ELEMENTAIRE / Domaine PERSONNES", authentication
/// certificates (EL-PP-CL-AUTH). Same source as [`IGC_SANTE_EL_PP_CL_SIGN`].
pub const IGC_SANTE_EL_PP_CL_AUTH: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.250.1.213.1.7.1.1.1.5.1");
/// The ASIP Santé / ANS arc under which the IGC-Santé certificate policies are registered
/// (`1.2.250.1.213`; `1.2.250.1.213.1.7` for the IGC-Santé policies, see above).
pub const ANS_ARC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.250.1.213");
/// The GIP-CPS arc `1.2.250.1.71`, now ANS's: nomenclatures and identifier namespaces of the
/// health sector, e.g. `1.2.250.1.71.4.2.1` = national identifiers of health professionals
/// (CI-SIS), `1.2.250.1.71.1.2.7` = TRE_G15 professions (MOS/NOS).
pub const GIP_CPS_ARC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.250.1.71");
/// Namespace of the national identifiers of health professionals (PS_IdNat), CI-SIS.
pub const PS_NATIONAL_ID_NAMESPACE: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.250.1.71.4.2.1");

/// cps-rs TEST policy for CPx holder authentication certificates (RFC 5612 documentation arc).
pub const TEST_POLICY_CPX_AUTH: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.4.1.32473.71.1");
/// cps-rs TEST policy for CPx holder signature certificates (RFC 5612 documentation arc).
pub const TEST_POLICY_CPX_SIGN: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.4.1.32473.71.2");
/// cps-rs TEST policy carried by the test intermediate CA (RFC 5612 documentation arc).
pub const TEST_POLICY_CA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.32473.71.0");

/// Short name of a DN attribute type as printed by [`crate::DistinguishedName`]'s `Display`
/// (RFC 4514 §3 names, plus the OpenSSL short names for the others), or `None`.
pub fn attribute_short_name(oid: &ObjectIdentifier) -> Option<&'static str> {
    const TABLE: [(ObjectIdentifier, &str); 12] = [
        (AT_COMMON_NAME, "CN"),
        (AT_SURNAME, "SN"),
        (AT_SERIAL_NUMBER, "serialNumber"),
        (AT_COUNTRY, "C"),
        (AT_LOCALITY, "L"),
        (AT_STATE, "ST"),
        (AT_ORGANIZATION, "O"),
        (AT_ORGANIZATIONAL_UNIT, "OU"),
        (AT_TITLE, "title"),
        (AT_GIVEN_NAME, "GN"),
        (AT_PSEUDONYM, "pseudonym"),
        (AT_EMAIL_ADDRESS, "emailAddress"),
    ];
    TABLE.iter().find(|(o, _)| o == oid).map(|(_, n)| *n)
}
