//! The parser and the chain verifier never panic, whatever the bytes.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests: a failed fixture is a failed test"
)]

use cps_x509::test_pki::{self, REFERENCE_TIME};
use cps_x509::{CpsCertificate, PrivateKey, verify_chain};
use proptest::prelude::*;

fn fixture_der() -> Vec<u8> {
    test_pki::holders().unwrap()[5].cert_der.to_vec()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = CpsCertificate::from_der(&bytes);
        let _ = CpsCertificate::parse(&bytes);
        let _ = PrivateKey::from_pkcs8_der(&bytes);
        if let Ok(text) = std::str::from_utf8(&bytes) {
            let _ = CpsCertificate::from_pem(text);
            let _ = PrivateKey::from_pkcs8_pem(text);
        }
    }

    #[test]
    fn arbitrary_pem_body_never_panics(body in "[A-Za-z0-9+/=\n]{0,600}") {
        let text = format!("-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n");
        let _ = CpsCertificate::from_pem(&text);
    }

    #[test]
    fn mutated_certificates_never_panic(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let mut der = fixture_der();
        for (i, v) in edits {
            let i = i.index(der.len());
            der[i] = v;
        }
        if truncate {
            der.truncate(cut.index(der.len()));
        }
        if let Ok(cert) = CpsCertificate::from_der(&der) {
            let inter = test_pki::intermediate_certificate().unwrap();
            let root = test_pki::root_certificate().unwrap();
            let _ = cert.to_string_fields();
            let _ = verify_chain(&cert, &[inter], &[root], REFERENCE_TIME);
        }
    }
}

trait Fields {
    fn to_string_fields(&self) -> String;
}

impl Fields for CpsCertificate {
    fn to_string_fields(&self) -> String {
        format!(
            "{} {} {:?} {:?} {} {:?} {}",
            self.subject(),
            self.issuer(),
            self.holder(),
            self.usage(),
            self.validity().not_after,
            self.public_key().algorithm(),
            self.serial_hex()
        )
    }
}
