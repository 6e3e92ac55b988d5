//! Raw card signatures: sign with a fixture key, verify with its certificate; flipped bits and
//! wrong algorithms are refused.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests: a failed fixture is a failed test"
)]

use cps_x509::test_pki::{self, KeySet, PERSONAS};
use cps_x509::{
    CertUsage, KeyError, SignatureAlgorithm, SignatureError, SignedData, verify_signature,
};
use sha2::{Digest, Sha256};

const MSG: &[u8] = b"FSE 2026-11-29 lot 42: feuille de soins electronique";

#[test]
fn sign_then_verify_every_fixture() {
    let digest = Sha256::digest(MSG);
    for persona in PERSONAS {
        for key_set in [KeySet::Rsa2048, KeySet::EcP256] {
            for usage in [CertUsage::Authentication, CertUsage::Signature] {
                let fx = test_pki::holder(key_set, persona, usage).unwrap();
                let cert = fx.certificate().unwrap();
                let key = fx.private_key().unwrap();
                let alg = key.default_signature_algorithm();
                let sig = key.sign(SignedData::Message(MSG), alg).unwrap();
                // Over the message and over the precomputed digest: same signature scheme.
                verify_signature(&cert, SignedData::Message(MSG), alg, &sig).unwrap();
                verify_signature(&cert, SignedData::Sha256Digest(&digest), alg, &sig).unwrap();
                let sig2 = key.sign(SignedData::Sha256Digest(&digest), alg).unwrap();
                match key_set {
                    KeySet::Rsa2048 => {
                        assert_eq!(alg, SignatureAlgorithm::RSA_PKCS1V15_SHA256);
                        assert_eq!(sig.len(), 256);
                        assert_eq!(sig, sig2, "PKCS#1 v1.5 is deterministic");
                    }
                    KeySet::EcP256 => {
                        assert_eq!(alg, SignatureAlgorithm::ECDSA_SHA256);
                        assert_eq!(sig.len(), 64, "raw r||s as cards return it");
                        assert_eq!(sig, sig2, "RFC 6979");
                    }
                }
                // Every single flipped bit is refused (sampled positions).
                for i in (0..sig.len() * 8).step_by(37) {
                    let mut bad = sig.clone();
                    bad[i / 8] ^= 1 << (i % 8);
                    let err =
                        verify_signature(&cert, SignedData::Message(MSG), alg, &bad).unwrap_err();
                    assert!(
                        matches!(err, SignatureError::Invalid | SignatureError::Malformed),
                        "{persona} {key_set:?} bit {i}: {err:?}"
                    );
                }
                // Another message.
                assert_eq!(
                    verify_signature(&cert, SignedData::Message(b"other"), alg, &sig),
                    Err(SignatureError::Invalid)
                );
            }
        }
    }
}

#[test]
fn ecdsa_der_form_and_bad_inputs() {
    let fx = test_pki::holder(KeySet::EcP256, "dr-martin", CertUsage::Signature).unwrap();
    let cert = fx.certificate().unwrap();
    let key = fx.private_key().unwrap();
    let raw = key
        .sign(SignedData::Message(MSG), SignatureAlgorithm::ECDSA_SHA256)
        .unwrap();
    let der = p256::ecdsa::Signature::from_slice(&raw).unwrap().to_der();
    verify_signature(
        &cert,
        SignedData::Message(MSG),
        SignatureAlgorithm::ECDSA_SHA256,
        der.as_bytes(),
    )
    .unwrap();
    for bad in [
        &[][..],
        &[0x30, 0x00][..],
        &raw[..63],
        &[0u8; 64][..],
        &[0xffu8; 64][..],
    ] {
        let err = verify_signature(
            &cert,
            SignedData::Message(MSG),
            SignatureAlgorithm::ECDSA_SHA256,
            bad,
        )
        .unwrap_err();
        assert!(
            matches!(err, SignatureError::Malformed | SignatureError::Invalid),
            "{err:?}"
        );
    }
    // RSA algorithm on an EC key, and the other way round.
    assert!(matches!(
        verify_signature(
            &cert,
            SignedData::Message(MSG),
            SignatureAlgorithm::RSA_PKCS1V15_SHA256,
            &raw
        ),
        Err(SignatureError::KeyMismatch { .. })
    ));
    assert!(matches!(
        key.sign(
            SignedData::Message(MSG),
            SignatureAlgorithm::RSA_PKCS1V15_SHA256
        ),
        Err(KeyError::AlgorithmMismatch { .. })
    ));
    // Digest of the wrong size.
    assert_eq!(
        verify_signature(
            &cert,
            SignedData::Sha256Digest(&[0; 20]),
            SignatureAlgorithm::ECDSA_SHA256,
            &raw
        ),
        Err(SignatureError::DigestLength(20))
    );
    assert_eq!(
        key.sign(
            SignedData::Sha256Digest(&[0; 33]),
            SignatureAlgorithm::ECDSA_SHA256
        ),
        Err(KeyError::DigestLength(33))
    );

    let rsa_fx = test_pki::holder(KeySet::Rsa2048, "dr-martin", CertUsage::Signature).unwrap();
    let rsa_cert = rsa_fx.certificate().unwrap();
    let rsa_sig = rsa_fx
        .private_key()
        .unwrap()
        .sign(
            SignedData::Message(MSG),
            SignatureAlgorithm::RSA_PKCS1V15_SHA256,
        )
        .unwrap();
    for bad in [
        &[][..],
        &rsa_sig[..255],
        &[0xffu8; 256][..],
        &[0u8; 257][..],
    ] {
        assert_eq!(
            verify_signature(
                &rsa_cert,
                SignedData::Message(MSG),
                SignatureAlgorithm::RSA_PKCS1V15_SHA256,
                bad
            ),
            Err(SignatureError::Invalid)
        );
    }
    // A signature by another holder's key.
    let other = test_pki::holder(KeySet::Rsa2048, "pharmacien-durand", CertUsage::Signature)
        .unwrap()
        .private_key()
        .unwrap()
        .sign(
            SignedData::Message(MSG),
            SignatureAlgorithm::RSA_PKCS1V15_SHA256,
        )
        .unwrap();
    assert_eq!(
        verify_signature(
            &rsa_cert,
            SignedData::Message(MSG),
            SignatureAlgorithm::RSA_PKCS1V15_SHA256,
            &other
        ),
        Err(SignatureError::Invalid)
    );
}

#[test]
fn rsa_signature_matches_an_independent_pkcs1_encoding() {
    // RFC 8017 §9.2: EM = 00 01 FF..FF 00 || DigestInfo(SHA-256) || H. Raise the signature to e
    // with the public key and compare with the encoding built here by hand.
    use rsa::traits::PublicKeyParts;
    let fx =
        test_pki::holder(KeySet::Rsa2048, "etudiant-petit", CertUsage::Authentication).unwrap();
    let key = fx.private_key().unwrap();
    let sig = key
        .sign(
            SignedData::Message(MSG),
            SignatureAlgorithm::RSA_PKCS1V15_SHA256,
        )
        .unwrap();
    let cps_x509::PrivateKey::Rsa(rsa_key) = key else {
        panic!("RSA fixture")
    };
    let public = rsa_key.to_public_key();
    let m = rsa::BigUint::from_bytes_be(&sig).modpow(public.e(), public.n());
    let mut em = vec![0u8; 256 - m.to_bytes_be().len()];
    em.extend(m.to_bytes_be());
    let prefix: [u8; 19] = [
        0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
        0x05, 0x00, 0x04, 0x20,
    ];
    let mut expected = vec![0x00, 0x01];
    expected.resize(256 - 3 - 19 - 32 + 2, 0xff);
    expected.push(0x00);
    expected.extend(prefix);
    expected.extend(Sha256::digest(MSG));
    assert_eq!(em, expected);
}
