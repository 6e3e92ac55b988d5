//! X.509 / CPS certificate profile: parse arbitrary bytes as DER, as PEM and as PKCS#8 keys;
//! for anything that parses, use every accessor and run chain verification against the test
//! PKI. Must never panic.
#![no_main]
use cps_x509::test_pki::{self, REFERENCE_TIME};
use cps_x509::{CpsCertificate, PrivateKey, renewal_status, verify_chain};
use libfuzzer_sys::fuzz_target;

fn exercise(cert: &CpsCertificate, input: &[u8]) {
    // The signed part is the input's own bytes.
    let tbs = cert.tbs_der();
    assert!(input.windows(tbs.len().max(1)).any(|w| w == tbs) || tbs.is_empty());
    let again = CpsCertificate::from_der(cert.der()).expect("own DER re-parses");
    assert_eq!(&again, cert);
    let _ = format!(
        "{} {} {:?} {} {:?} {} {:?} {:?} {:?}",
        cert.subject(),
        cert.issuer(),
        cert.holder(),
        cert.usage(),
        cert.key_usage(),
        cert.public_key().algorithm(),
        cert.policies(),
        cert.extended_key_usage(),
        cert.basic_constraints(),
    );
    let _ = cert.to_pem();
    let _ = renewal_status(cert, REFERENCE_TIME, 90);
    if let (Ok(inter), Ok(root)) = (
        test_pki::intermediate_certificate(),
        test_pki::root_certificate(),
    ) {
        let _ = verify_chain(cert, &[inter], &[root.clone()], REFERENCE_TIME);
        let _ = verify_chain(cert, &[cert.clone()], &[root], REFERENCE_TIME);
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(cert) = CpsCertificate::from_der(data) {
        exercise(&cert, data);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(cert) = CpsCertificate::from_pem(text) {
            let _ = cert.subject().to_string();
        }
        let _ = PrivateKey::from_pkcs8_pem(text);
    }
    let _ = PrivateKey::from_pkcs8_der(data);
});
