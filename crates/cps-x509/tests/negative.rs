//! Hostile and broken inputs give typed errors, never panics.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests: a failed fixture is a failed test"
)]

use cps_x509::test_pki::{self, KeySet, REFERENCE_TIME};
use cps_x509::{
    CaCertificateRequest, CaSubject, CertUsage, ChainError, CpsCertificate,
    HolderCertificateRequest, HolderSubject, IssueError, ParseError, PemError, PrivateKey,
    UnixTime, Validity, issue_holder_certificate, issue_intermediate_certificate,
    issue_root_certificate, oids, verify_chain,
};

fn t(s: &str) -> UnixTime {
    UnixTime::parse(s).unwrap()
}

fn fixture(key_set: KeySet, persona: &str, usage: CertUsage) -> CpsCertificate {
    test_pki::holder(key_set, persona, usage)
        .unwrap()
        .certificate()
        .unwrap()
}

fn cas() -> (CpsCertificate, CpsCertificate) {
    (
        test_pki::intermediate_certificate().unwrap(),
        test_pki::root_certificate().unwrap(),
    )
}

/// A P-256 key from a fixed scalar: cheap and deterministic (tests never generate RSA keys).
fn p256_key(n: u8) -> PrivateKey {
    let mut bytes = [0x11u8; 32];
    bytes[31] = n;
    PrivateKey::P256(p256::ecdsa::SigningKey::from_slice(&bytes).unwrap())
}

fn ca_subject(cn: &str) -> CaSubject {
    CaSubject {
        country: "FR".into(),
        organisation: "CPS-RS TEST PKI".into(),
        organisational_units: vec!["IGC-SANTE TEST".into()],
        common_name: cn.into(),
    }
}

fn holder_subject() -> HolderSubject {
    HolderSubject::from_identity(
        fixture(KeySet::EcP256, "dr-martin", CertUsage::Authentication).holder(),
    )
    .unwrap()
}

#[test]
fn expired_and_not_yet_valid() {
    let (persons, root) = cas();
    let leaf = fixture(KeySet::Rsa2048, "dr-martin", CertUsage::Signature);
    let err = verify_chain(
        &leaf,
        std::slice::from_ref(&persons),
        std::slice::from_ref(&root),
        t("2029-01-01"),
    )
    .unwrap_err();
    assert!(matches!(err, ChainError::Expired { .. }), "{err}");
    assert!(err.to_string().ends_with("expired on 2028-06-30"), "{err}");

    let expiring = test_pki::expiring_holder().unwrap().certificate().unwrap();
    verify_chain(
        &expiring,
        std::slice::from_ref(&persons),
        std::slice::from_ref(&root),
        t("2027-01-15T23:59:59Z"),
    )
    .unwrap();
    let err = verify_chain(
        &expiring,
        std::slice::from_ref(&persons),
        std::slice::from_ref(&root),
        t("2027-01-16"),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "certificate SN=MARTIN+GN=CLAIRE+CN=810001234567,title=Médecin,O=CPS-RS TEST PKI,C=FR expired on 2027-01-15"
    );

    let err = verify_chain(&leaf, &[persons], &[root], t("2025-06-30")).unwrap_err();
    assert!(matches!(err, ChainError::NotYetValid { .. }), "{err}");
}

#[test]
fn missing_intermediate_and_wrong_root() {
    let (persons, root) = cas();
    let leaf = fixture(
        KeySet::EcP256,
        "pharmacien-durand",
        CertUsage::Authentication,
    );
    let err = verify_chain(&leaf, &[], std::slice::from_ref(&root), REFERENCE_TIME).unwrap_err();
    assert_eq!(
        err.to_string(),
        "issuer not found: CN=TEST AC IGC-SANTE FORT PERSONNES CPS-RS,OU=IGC-SANTE TEST,OU=0002 000000000,O=CPS-RS TEST PKI,C=FR"
    );
    let err = verify_chain(&leaf, std::slice::from_ref(&persons), &[], REFERENCE_TIME).unwrap_err();
    assert!(matches!(err, ChainError::IssuerNotFound { .. }), "{err}");

    // A root with the right name but another key.
    let impostor_key = p256_key(1);
    let impostor_subject = CaSubject {
        organisational_units: vec!["0002 000000000".into(), "IGC-SANTE TEST".into()],
        ..ca_subject("TEST AC RACINE IGC-SANTE FORT CPS-RS")
    };
    let impostor = CpsCertificate::from_der(
        &issue_root_certificate(
            &impostor_key,
            &CaCertificateRequest {
                subject: &impostor_subject,
                validity: root.validity(),
                serial: &[1],
                path_len: None,
                policies: &[],
            },
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(impostor.subject(), root.subject());
    let err = verify_chain(
        &leaf,
        std::slice::from_ref(&persons),
        &[impostor],
        REFERENCE_TIME,
    )
    .unwrap_err();
    assert!(matches!(err, ChainError::BadSignature { .. }), "{err}");

    // An unrelated root.
    let other = CpsCertificate::from_der(
        &issue_root_certificate(
            &p256_key(2),
            &CaCertificateRequest {
                subject: &ca_subject("OTHER ROOT"),
                validity: root.validity(),
                serial: &[2],
                path_len: None,
                policies: &[],
            },
        )
        .unwrap(),
    )
    .unwrap();
    let err = verify_chain(&leaf, &[persons], &[other], REFERENCE_TIME).unwrap_err();
    assert!(matches!(err, ChainError::IssuerNotFound { .. }), "{err}");
}

#[test]
fn tampered_certificates() {
    let (persons, root) = cas();
    for leaf in [
        fixture(
            KeySet::Rsa2048,
            "infirmiere-bernard",
            CertUsage::Authentication,
        ),
        fixture(KeySet::EcP256, "infirmiere-bernard", CertUsage::Signature),
    ] {
        // Last byte = last byte of the signature value.
        let mut der = leaf.der().to_vec();
        *der.last_mut().unwrap() ^= 0x01;
        let bad = CpsCertificate::from_der(&der).unwrap();
        let err = verify_chain(
            &bad,
            std::slice::from_ref(&persons),
            std::slice::from_ref(&root),
            REFERENCE_TIME,
        )
        .unwrap_err();
        assert!(matches!(err, ChainError::BadSignature { .. }), "{err}");
        assert!(err.to_string().starts_with("signature does not verify"));

        // A byte of the family name inside the signed part.
        let mut der = leaf.der().to_vec();
        let pos = der.windows(7).position(|w| w == b"BERNARD").unwrap();
        der[pos] = b'V';
        let bad = CpsCertificate::from_der(&der).unwrap();
        assert_eq!(bad.holder().family_name.as_deref(), Some("VERNARD"));
        let err = verify_chain(
            &bad,
            std::slice::from_ref(&persons),
            std::slice::from_ref(&root),
            REFERENCE_TIME,
        )
        .unwrap_err();
        assert!(matches!(err, ChainError::BadSignature { .. }), "{err}");
    }
    // A tampered intermediate.
    let mut der = persons.der().to_vec();
    *der.last_mut().unwrap() ^= 0x80;
    let bad_persons = CpsCertificate::from_der(&der).unwrap();
    let leaf = fixture(KeySet::Rsa2048, "dr-martin", CertUsage::Signature);
    let err = verify_chain(&leaf, &[bad_persons], &[root], REFERENCE_TIME).unwrap_err();
    assert!(matches!(err, ChainError::BadSignature { .. }), "{err}");
}

#[test]
fn truncated_and_garbage_inputs() {
    let leaf = fixture(KeySet::Rsa2048, "dr-martin", CertUsage::Authentication);
    let der = leaf.der();
    for len in [0, 1, 2, 4, 100, der.len() / 2, der.len() - 1] {
        let err = CpsCertificate::from_der(&der[..len]).unwrap_err();
        if len == 0 {
            assert_eq!(err, ParseError::Empty);
        } else {
            assert!(matches!(err, ParseError::Der(_)), "{len}: {err:?}");
        }
    }
    // Trailing data.
    let mut long = der.to_vec();
    long.push(0);
    assert!(matches!(
        CpsCertificate::from_der(&long),
        Err(ParseError::Der(_))
    ));

    let pem = leaf.to_pem();
    let garbage = [
        "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n".to_owned(),
        "-----BEGIN CERTIFICATE-----\nMIIB\n".to_owned(),
        pem.replace("CERTIFICATE", "PRIVATE KEY"),
        pem[..pem.len() / 2].to_owned(),
        "hello".to_owned(),
        String::new(),
    ];
    for g in &garbage {
        let err = CpsCertificate::from_pem(g).unwrap_err();
        assert!(matches!(err, ParseError::Pem(_)), "{g:?}: {err:?}");
    }
    assert!(matches!(
        CpsCertificate::from_pem(&garbage[2]),
        Err(ParseError::Pem(PemError::UnexpectedLabel { .. }))
    ));
    // Base64 of something that is not a certificate.
    let not_cert = cps_x509::pem::certificate_der_to_pem(&[0x30, 0x03, 0x02, 0x01, 0x00]);
    assert!(matches!(
        CpsCertificate::from_pem(&not_cert),
        Err(ParseError::Der(_))
    ));
    assert!(CpsCertificate::parse(b"\xff\xfe garbage").is_err());
    assert!(CpsCertificate::parse("-----BEGIN CERTIFICATE-----\n\u{e9}".as_bytes()).is_err());
    // Keys.
    assert!(PrivateKey::from_pkcs8_pem(&pem).is_err());
    assert!(PrivateKey::from_pkcs8_der(&[0x30, 0x00]).is_err());
    assert!(PrivateKey::from_pkcs8_der(der).is_err());
}

#[test]
fn ca_constraints() {
    let (persons, root) = cas();
    let persons_key = test_pki::intermediate_key().unwrap();
    let validity = Validity {
        not_before: t("2025-01-01"),
        not_after: t("2030-01-01"),
    };
    // persons has pathLenConstraint 0: a sub-CA under it may exist but may not issue.
    let sub_key = p256_key(3);
    let sub = CpsCertificate::from_der(
        &issue_intermediate_certificate(
            &persons_key,
            &persons,
            &sub_key.public_key_spki_der().unwrap(),
            &CaCertificateRequest {
                subject: &ca_subject("SUB CA"),
                validity,
                serial: &[3],
                path_len: None,
                policies: &[],
            },
        )
        .unwrap(),
    )
    .unwrap();
    let holder_key = p256_key(4);
    let spki = holder_key.public_key_spki_der().unwrap();
    let subject = holder_subject();
    let leaf = CpsCertificate::from_der(
        &issue_holder_certificate(
            &sub_key,
            &sub,
            &HolderCertificateRequest {
                subject: &subject,
                public_key_spki_der: &spki,
                validity,
                usage: CertUsage::Authentication,
                serial: &[4],
                policies: &[oids::TEST_POLICY_CPX_AUTH],
            },
        )
        .unwrap(),
    )
    .unwrap();
    let err = verify_chain(
        &leaf,
        &[sub.clone(), persons.clone()],
        std::slice::from_ref(&root),
        REFERENCE_TIME,
    )
    .unwrap_err();
    assert!(matches!(err, ChainError::PathLenExceeded { .. }), "{err}");
    // With the sub-CA trusted directly, its ECDSA signature on the leaf verifies.
    verify_chain(&leaf, &[], std::slice::from_ref(&sub), REFERENCE_TIME).unwrap();

    // A holder certificate cannot issue.
    let holder_cert = fixture(KeySet::EcP256, "dr-martin", CertUsage::Authentication);
    let holder_fx_key = test_pki::holder(KeySet::EcP256, "dr-martin", CertUsage::Authentication)
        .unwrap()
        .private_key()
        .unwrap();
    let err = issue_holder_certificate(
        &holder_fx_key,
        &holder_cert,
        &HolderCertificateRequest {
            subject: &subject,
            public_key_spki_der: &spki,
            validity,
            usage: CertUsage::Signature,
            serial: &[5],
            policies: &[],
        },
    )
    .unwrap_err();
    assert!(matches!(err, IssueError::IssuerNotCa(_)), "{err}");
    // Wrong CA key.
    let err = issue_holder_certificate(
        &holder_key,
        &persons,
        &HolderCertificateRequest {
            subject: &subject,
            public_key_spki_der: &spki,
            validity,
            usage: CertUsage::Signature,
            serial: &[5],
            policies: &[],
        },
    )
    .unwrap_err();
    assert_eq!(err, IssueError::KeyMismatch);
    // Bad requests.
    for (serial, validity, usage, spki_bytes, expect) in [
        (
            &[0u8][..],
            validity,
            CertUsage::Signature,
            &spki[..],
            IssueError::BadSerial,
        ),
        (
            &[1u8; 21][..],
            validity,
            CertUsage::Signature,
            &spki[..],
            IssueError::BadSerial,
        ),
        (
            &[1u8][..],
            Validity {
                not_before: validity.not_after,
                not_after: validity.not_before,
            },
            CertUsage::Signature,
            &spki[..],
            IssueError::BadValidity,
        ),
        (
            &[1u8][..],
            validity,
            CertUsage::Other,
            &spki[..],
            IssueError::UnsupportedUsage,
        ),
    ] {
        let err = issue_holder_certificate(
            &persons_key,
            &persons,
            &HolderCertificateRequest {
                subject: &subject,
                public_key_spki_der: spki_bytes,
                validity,
                usage,
                serial,
                policies: &[],
            },
        )
        .unwrap_err();
        assert_eq!(err, expect);
    }
    let err = issue_holder_certificate(
        &persons_key,
        &persons,
        &HolderCertificateRequest {
            subject: &subject,
            public_key_spki_der: &[0x30, 0x00],
            validity,
            usage: CertUsage::Signature,
            serial: &[1],
            policies: &[],
        },
    )
    .unwrap_err();
    assert!(matches!(err, IssueError::PublicKey(_)));
}

#[test]
fn path_too_long() {
    // root → A → B → C → D → leaf: five CA certificates above the leaf.
    let root_key = p256_key(10);
    let root = CpsCertificate::from_der(
        &issue_root_certificate(
            &root_key,
            &CaCertificateRequest {
                subject: &ca_subject("LONG ROOT"),
                validity: Validity {
                    not_before: t("2025-01-01"),
                    not_after: t("2030-01-01"),
                },
                serial: &[1],
                path_len: None,
                policies: &[],
            },
        )
        .unwrap(),
    )
    .unwrap();
    let mut chain = Vec::new();
    let (mut ca_key, mut ca) = (root_key, root.clone());
    for i in 0..4u8 {
        let key = p256_key(20 + i);
        let cert = CpsCertificate::from_der(
            &issue_intermediate_certificate(
                &ca_key,
                &ca,
                &key.public_key_spki_der().unwrap(),
                &CaCertificateRequest {
                    subject: &ca_subject(&format!("LEVEL {i}")),
                    validity: Validity {
                        not_before: t("2025-01-01"),
                        not_after: t("2030-01-01"),
                    },
                    serial: &[2 + i],
                    path_len: None,
                    policies: &[],
                },
            )
            .unwrap(),
        )
        .unwrap();
        chain.push(cert.clone());
        (ca_key, ca) = (key, cert);
    }
    let leaf_key = p256_key(30);
    let spki = leaf_key.public_key_spki_der().unwrap();
    let subject = holder_subject();
    let leaf = CpsCertificate::from_der(
        &issue_holder_certificate(
            &ca_key,
            &ca,
            &HolderCertificateRequest {
                subject: &subject,
                public_key_spki_der: &spki,
                validity: Validity {
                    not_before: t("2025-01-01"),
                    not_after: t("2030-01-01"),
                },
                usage: CertUsage::Signature,
                serial: &[9],
                policies: &[],
            },
        )
        .unwrap(),
    )
    .unwrap();
    let err = verify_chain(&leaf, &chain, std::slice::from_ref(&root), REFERENCE_TIME).unwrap_err();
    assert_eq!(err, ChainError::PathTooLong { max: 4 });
    // Trusting LEVEL 0 shortens the path to four CA certificates: accepted.
    verify_chain(&leaf, &chain[1..], &chain[..1], REFERENCE_TIME).unwrap();
}
