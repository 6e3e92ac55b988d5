//! CPS4 remote update: a renewal certificate for a key generated on the card, and the renewal
//! schedule.

#![allow(clippy::unwrap_used, reason = "tests")]

use cps_x509::test_pki::{self, KeySet, REFERENCE_TIME};
use cps_x509::{
    CertUsage, CpsCertificate, HolderCertificateRequest, HolderSubject, PrivateKey, RenewalReason,
    RenewalStatus, SignatureAlgorithm, SignedData, UnixTime, Validity, issue_holder_certificate,
    oids, renewal_status, verify_chain, verify_signature,
};

#[test]
fn renewal_certificate_for_a_card_generated_key() {
    let old = test_pki::holder(KeySet::EcP256, "infirmiere-bernard", CertUsage::Signature)
        .unwrap()
        .certificate()
        .unwrap();
    // The "card" generates a new P-256 key (fixed scalar: tests never depend on an RNG).
    let card_key = PrivateKey::P256(p256::ecdsa::SigningKey::from_slice(&[0x42; 32]).unwrap());
    let spki = card_key.public_key_spki_der().unwrap();
    let subject = HolderSubject::from_identity(old.holder()).unwrap();
    let not_before = UnixTime::parse("2028-06-01").unwrap();
    let der = issue_holder_certificate(
        &test_pki::intermediate_key().unwrap(),
        &test_pki::intermediate_certificate().unwrap(),
        &HolderCertificateRequest {
            subject: &subject,
            public_key_spki_der: &spki,
            validity: Validity::years_from(not_before, 3).unwrap(),
            usage: CertUsage::Signature,
            serial: &[0x25, 0x04, 0x03, 0x02, 0x02],
            policies: &[oids::TEST_POLICY_CPX_SIGN],
        },
    )
    .unwrap();
    let new = CpsCertificate::from_der(&der).unwrap();
    assert_eq!(new.subject(), old.subject(), "same subject DER");
    assert_eq!(new.issuer(), old.issuer());
    assert_eq!(new.usage(), CertUsage::Signature);
    assert_eq!(new.public_key().spki_der(), spki.as_slice());
    assert_eq!(new.not_after().to_string(), "2031-05-31T23:59:59Z");
    let at = UnixTime::parse("2029-01-01").unwrap();
    verify_chain(
        &new,
        &[test_pki::intermediate_certificate().unwrap()],
        &[test_pki::root_certificate().unwrap()],
        at,
    )
    .unwrap();
    // And the card's signature verifies with it.
    let sig = card_key
        .sign(
            SignedData::Message(b"doc"),
            SignatureAlgorithm::ECDSA_SHA256,
        )
        .unwrap();
    verify_signature(
        &new,
        SignedData::Message(b"doc"),
        SignatureAlgorithm::ECDSA_SHA256,
        &sig,
    )
    .unwrap();
    // The old one was not valid any more at that date.
    assert!(
        verify_chain(
            &old,
            &[test_pki::intermediate_certificate().unwrap()],
            &[test_pki::root_certificate().unwrap()],
            at
        )
        .is_err()
    );
    // An RSA renewal for a CPS3 card, reusing another fixture's public key (no RSA keygen).
    let rsa_spki = test_pki::holder(KeySet::Rsa2048, "etudiant-petit", CertUsage::Authentication)
        .unwrap()
        .certificate()
        .unwrap()
        .public_key()
        .spki_der()
        .to_vec();
    let der = issue_holder_certificate(
        &test_pki::intermediate_key().unwrap(),
        &test_pki::intermediate_certificate().unwrap(),
        &HolderCertificateRequest {
            subject: &subject,
            public_key_spki_der: &rsa_spki,
            validity: Validity::years_from(not_before, 3).unwrap(),
            usage: CertUsage::Authentication,
            serial: &[0x25, 0x03, 0x03, 0x01, 0x02],
            policies: &[oids::TEST_POLICY_CPX_AUTH],
        },
    )
    .unwrap();
    let rsa_new = CpsCertificate::from_der(&der).unwrap();
    assert_eq!(rsa_new.usage(), CertUsage::Authentication);
    assert_eq!(rsa_new.extended_key_usage(), [oids::KP_CLIENT_AUTH]);
}

#[test]
fn three_year_mark_of_a_six_year_certificate() {
    // A certificate as long-lived as the card (6 years) is still due at 3 years.
    let spki = test_pki::holder(KeySet::EcP256, "dr-martin", CertUsage::Authentication)
        .unwrap()
        .certificate()
        .unwrap()
        .public_key()
        .spki_der()
        .to_vec();
    let old = test_pki::holder(KeySet::EcP256, "dr-martin", CertUsage::Authentication)
        .unwrap()
        .certificate()
        .unwrap();
    let subject = HolderSubject::from_identity(old.holder()).unwrap();
    let der = issue_holder_certificate(
        &test_pki::intermediate_key().unwrap(),
        &test_pki::intermediate_certificate().unwrap(),
        &HolderCertificateRequest {
            subject: &subject,
            public_key_spki_der: &spki,
            validity: Validity::years_from(UnixTime::parse("2025-07-01").unwrap(), 6).unwrap(),
            usage: CertUsage::Authentication,
            serial: &[0x25, 0x04, 0x01, 0x01, 0x09],
            policies: &[],
        },
    )
    .unwrap();
    let cert = CpsCertificate::from_der(&der).unwrap();
    assert_eq!(
        renewal_status(&cert, REFERENCE_TIME, 90),
        RenewalStatus::Valid { days_left: 2006 }
    );
    assert!(matches!(
        renewal_status(&cert, UnixTime::parse("2028-07-01").unwrap(), 90),
        RenewalStatus::RenewalDue {
            reason: RenewalReason::ThreeYearMark,
            ..
        }
    ));
    assert!(matches!(
        renewal_status(&cert, UnixTime::parse("2028-06-30").unwrap(), 90),
        RenewalStatus::Valid { .. }
    ));
    assert!(matches!(
        renewal_status(&cert, UnixTime::parse("2031-05-01").unwrap(), 90),
        RenewalStatus::RenewalDue {
            reason: RenewalReason::ExpiresSoon,
            days_left: 60
        }
    ));
}
