//! Every fixture of the committed test PKI parses, has the right usage and holder, and chains to
//! the root; index.json and personas.json agree with it.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests: a failed fixture is a failed test"
)]

use std::time::Instant;

use cps_x509::test_pki::{self, KeySet, PERSONAS, REFERENCE_TIME};
use cps_x509::{
    CertUsage, CpsCertificate, KeyAlgorithm, KeyUsage, NationalIdKind, RenewalReason,
    RenewalStatus, UnixTime, oids, renewal_status, verify_chain,
};
use serde_json::Value;

fn pki_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testvectors/pki")
}

fn personas() -> Vec<Value> {
    let text = std::fs::read_to_string(pki_dir().join("personas.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    v["personas"].as_array().unwrap().clone()
}

#[test]
fn persona_table_matches_personas_json() {
    let ids: Vec<String> = personas()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, PERSONAS);
}

#[test]
fn every_holder_fixture_parses_and_chains() {
    let root = test_pki::root_certificate().unwrap();
    let persons = test_pki::intermediate_certificate().unwrap();
    let personas = personas();
    let holders = test_pki::holders().unwrap();
    assert_eq!(holders.len(), 24);
    for fx in &holders {
        let cert = fx.certificate().unwrap();
        let p = personas.iter().find(|p| p["id"] == fx.persona).unwrap();
        let what = format!("{:?}/{}/{}", fx.key_set, fx.persona, fx.usage);

        // Holder identity.
        assert_eq!(cert.national_id(), p["national_id"].as_str(), "{what}");
        assert_eq!(
            cert.holder().family_name.as_deref(),
            p["family_name"].as_str(),
            "{what}"
        );
        assert_eq!(
            cert.holder().given_name.as_deref(),
            p["given_names"][0]
                .as_str()
                .map(str::to_uppercase)
                .as_deref(),
            "{what}"
        );
        assert_eq!(cert.holder().country.as_deref(), Some("FR"));
        let id = cert.holder().national_id.as_ref().unwrap();
        if p["rpps"].is_string() {
            assert_eq!(id.kind(), NationalIdKind::Rpps, "{what}");
            assert_eq!(id.rpps(), p["rpps"].as_str());
            assert_eq!(
                cert.holder().profession.as_deref(),
                p["profession"]["label"].as_str()
            );
        } else {
            assert_eq!(id.kind(), NationalIdKind::StructurePersonnel, "{what}");
            let s = &p["situations"][0];
            assert_eq!(
                cert.holder().organisational_unit.as_deref(),
                Some(
                    format!(
                        "{}{}",
                        s["structure_id_type"].as_str().unwrap(),
                        s["structure_id"].as_str().unwrap()
                    )
                    .as_str()
                )
            );
        }
        // Every CN/O of the test PKI says TEST.
        assert!(
            cert.holder()
                .organisation
                .as_deref()
                .unwrap()
                .contains("CPS-RS TEST"),
            "{what}"
        );
        assert!(
            cert.issuer()
                .to_string()
                .contains("TEST AC IGC-SANTE FORT PERSONNES CPS-RS")
        );

        // Usage, key usage, EKU, policies, key algorithm.
        assert_eq!(cert.usage(), fx.usage, "{what}");
        let ku = cert.key_usage().unwrap();
        let alg = cert.public_key().algorithm();
        match (fx.key_set, fx.usage) {
            (KeySet::Rsa2048, CertUsage::Authentication) => {
                assert_eq!(
                    ku,
                    KeyUsage::DIGITAL_SIGNATURE.union(KeyUsage::KEY_ENCIPHERMENT)
                )
            }
            (KeySet::EcP256, CertUsage::Authentication) => {
                assert_eq!(ku, KeyUsage::DIGITAL_SIGNATURE)
            }
            (_, CertUsage::Signature) => assert_eq!(ku, KeyUsage::NON_REPUDIATION),
            _ => unreachable!(),
        }
        match fx.usage {
            CertUsage::Authentication => {
                assert_eq!(cert.extended_key_usage(), [oids::KP_CLIENT_AUTH]);
                assert_eq!(cert.policies(), [oids::TEST_POLICY_CPX_AUTH]);
            }
            _ => {
                assert!(cert.extended_key_usage().is_empty());
                assert_eq!(cert.policies(), [oids::TEST_POLICY_CPX_SIGN]);
            }
        }
        assert!(cert.is_test_pki());
        assert!(!cert.is_ca());
        match fx.key_set {
            KeySet::Rsa2048 => assert_eq!(alg, KeyAlgorithm::Rsa { bits: 2048 }),
            KeySet::EcP256 => assert_eq!(alg, KeyAlgorithm::EcP256),
        }
        // The key belongs to the certificate.
        let key = fx.private_key().unwrap();
        assert_eq!(
            key.public_key_spki_der().unwrap(),
            cert.public_key().spki_der(),
            "{what}"
        );

        // Validity: 3 years from 2025-07-01, valid in 2026, 2027 and until 2028-06-30.
        assert_eq!(cert.not_before().to_string(), "2025-07-01T00:00:00Z");
        assert_eq!(cert.not_after().to_string(), "2028-06-30T23:59:59Z");
        for at in ["2026-01-01", "2027-06-15", "2028-06-30T23:59:59Z"] {
            let t = UnixTime::parse(at).unwrap();
            verify_chain(
                &cert,
                std::slice::from_ref(&persons),
                std::slice::from_ref(&root),
                t,
            )
            .unwrap_or_else(|e| panic!("{what} at {at}: {e}"));
        }
        // Round trips.
        assert_eq!(CpsCertificate::from_pem(&cert.to_pem()).unwrap(), cert);
        assert_eq!(
            CpsCertificate::parse(cert.to_pem().as_bytes()).unwrap(),
            cert
        );
    }
    // Unknown fixtures are errors, not panics.
    assert!(test_pki::holder(KeySet::Rsa2048, "nobody", CertUsage::Authentication).is_err());
    assert!(test_pki::holder(KeySet::Rsa2048, "dr-martin", CertUsage::Other).is_err());
}

#[test]
fn ca_certificates() {
    let root = test_pki::root_certificate().unwrap();
    let persons = test_pki::intermediate_certificate().unwrap();
    assert!(root.is_ca() && root.is_self_issued());
    assert_eq!(root.basic_constraints().unwrap().path_len, None);
    assert_eq!(persons.basic_constraints().unwrap().path_len, Some(0));
    for ca in [&root, &persons] {
        assert_eq!(ca.usage(), CertUsage::Other);
        assert_eq!(
            ca.key_usage(),
            Some(KeyUsage::KEY_CERT_SIGN.union(KeyUsage::CRL_SIGN))
        );
        let dn = ca.subject().to_string();
        assert!(
            dn.contains("O=CPS-RS TEST PKI") && dn.contains("CN=TEST AC "),
            "{dn}"
        );
        assert!(dn.contains("OU=IGC-SANTE TEST"));
    }
    assert_eq!(
        root.public_key().algorithm(),
        KeyAlgorithm::Rsa { bits: 4096 }
    );
    assert_eq!(persons.authority_key_id(), root.subject_key_id());
    // The CA keys match their certificates.
    assert_eq!(
        test_pki::root_key().unwrap().public_key_spki_der().unwrap(),
        root.public_key().spki_der()
    );
    assert_eq!(
        test_pki::intermediate_key()
            .unwrap()
            .public_key_spki_der()
            .unwrap(),
        persons.public_key().spki_der()
    );
    // The root is its own trust anchor.
    verify_chain(&root, &[], std::slice::from_ref(&root), REFERENCE_TIME).unwrap();
    verify_chain(&persons, &[], std::slice::from_ref(&root), REFERENCE_TIME).unwrap();
    // The documented DER and PEM files are the same certificates.
    let pem = std::fs::read_to_string(pki_dir().join("ca/root.crt.pem")).unwrap();
    assert_eq!(CpsCertificate::from_pem(&pem).unwrap(), root);
}

#[test]
fn subject_layout_follows_the_igc_sante_profile() {
    let cert = test_pki::holder(KeySet::Rsa2048, "dr-martin", CertUsage::Authentication)
        .unwrap()
        .certificate()
        .unwrap();
    // C, O, title, then one multi-valued RDN CN+SN+GN (DER SET order).
    let dn = cert.subject();
    assert_eq!(dn.rdns().len(), 4);
    assert_eq!(dn.rdns()[3].len(), 3);
    assert_eq!(
        dn.to_string(),
        "SN=MARTIN+GN=CLAIRE+CN=810001234567,title=Médecin,O=CPS-RS TEST PKI,C=FR"
    );
    let cpe = test_pki::holder(KeySet::EcP256, "secretaire-moreau", CertUsage::Signature)
        .unwrap()
        .certificate()
        .unwrap();
    assert_eq!(
        cpe.subject().to_string(),
        "GN=JULIE+SN=MOREAU+CN=3490000031/E0042,title=Personnel d'établissement,OU=1490000031,O=CHU d'Angers - CPS-RS TEST,C=FR"
    );
    assert_eq!(
        cpe.holder()
            .national_id
            .as_ref()
            .unwrap()
            .structure_personnel(),
        Some(("490000031", "E0042"))
    );
}

#[test]
fn index_json_describes_every_file() {
    let text = std::fs::read_to_string(pki_dir().join("index.json")).unwrap();
    let index: Value = serde_json::from_str(&text).unwrap();
    let entries = index["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2 + 24 + 1);
    let mut serials = std::collections::HashSet::new();
    for e in entries {
        let der = std::fs::read(pki_dir().join(e["cert_der"].as_str().unwrap())).unwrap();
        let cert = CpsCertificate::from_der(&der).unwrap();
        let pem = std::fs::read_to_string(pki_dir().join(e["cert_pem"].as_str().unwrap())).unwrap();
        assert_eq!(CpsCertificate::from_pem(&pem).unwrap(), cert);
        assert!(pki_dir().join(e["key_pem"].as_str().unwrap()).exists());
        assert_eq!(e["serial"].as_str().unwrap(), cert.serial_hex());
        assert_eq!(
            e["not_after"].as_str().unwrap(),
            cert.not_after().to_string()
        );
        assert_eq!(e["subject"].as_str().unwrap(), cert.subject().to_string());
        assert!(serials.insert(cert.serial_hex()), "duplicate serial");
        if e["kind"] == "holder" {
            assert_eq!(e["national_id"].as_str(), cert.national_id());
        }
    }
}

#[test]
fn renewal_due_fixture() {
    let fx = test_pki::expiring_holder().unwrap();
    let cert = fx.certificate().unwrap();
    assert_eq!(cert.not_after().to_string(), "2027-01-15T23:59:59Z");
    assert_eq!(cert.usage(), CertUsage::Authentication);
    assert_eq!(cert.national_id(), Some("810001234567"));
    let t = |s| UnixTime::parse(s).unwrap();
    assert_eq!(
        renewal_status(&cert, t("2026-06-01"), 90),
        RenewalStatus::Valid { days_left: 228 }
    );
    assert_eq!(
        renewal_status(&cert, t("2026-12-01"), 90),
        RenewalStatus::RenewalDue {
            days_left: 45,
            reason: RenewalReason::ExpiresSoon
        }
    );
    assert_eq!(
        renewal_status(&cert, t("2027-01-16"), 90),
        RenewalStatus::Expired { days_ago: 0 }
    );
    assert_eq!(
        renewal_status(&cert, t("2024-01-01"), 90),
        RenewalStatus::NotYetValid {
            days_until_valid: 15
        }
    );
    // The regular fixture is not due in 2026.
    let cur = test_pki::holder(KeySet::Rsa2048, "dr-martin", CertUsage::Authentication)
        .unwrap()
        .certificate()
        .unwrap();
    assert!(matches!(
        renewal_status(&cur, t("2026-11-29"), 90),
        RenewalStatus::Valid { .. }
    ));
}

#[test]
fn load_and_verify_is_fast() {
    // Cold path as a test of another crate would run it: decode the embedded PEM key, parse
    // three certificates, verify the chain (two RSA signatures).
    let start = Instant::now();
    let fx = test_pki::holder(KeySet::Rsa2048, "dr-martin", CertUsage::Authentication).unwrap();
    let leaf = fx.certificate().unwrap();
    let inter = test_pki::intermediate_certificate().unwrap();
    let root = test_pki::root_certificate().unwrap();
    let key = fx.private_key().unwrap();
    verify_chain(
        &leaf,
        std::slice::from_ref(&inter),
        std::slice::from_ref(&root),
        REFERENCE_TIME,
    )
    .unwrap();
    let first = start.elapsed();

    let n = 50u32;
    let start = Instant::now();
    for _ in 0..n {
        let leaf = CpsCertificate::from_der(fx.cert_der).unwrap();
        let inter = CpsCertificate::from_der(test_pki::intermediate_der()).unwrap();
        let root = CpsCertificate::from_der(test_pki::root_der()).unwrap();
        verify_chain(&leaf, &[inter], &[root], REFERENCE_TIME).unwrap();
    }
    let per = start.elapsed() / n;
    let start = Instant::now();
    for fx in test_pki::holders().unwrap() {
        let c = fx.certificate().unwrap();
        verify_chain(
            &c,
            std::slice::from_ref(&inter),
            std::slice::from_ref(&root),
            REFERENCE_TIME,
        )
        .unwrap();
    }
    let all = start.elapsed();
    eprintln!(
        "timing: first load (key + 3 certs) + verify {first:?}; parse 3 certs + verify chain {per:?} each; all 24 holders loaded + verified {all:?}"
    );
    drop(key);
    assert!(per.as_millis() < 50, "chain verification took {per:?}");
}
