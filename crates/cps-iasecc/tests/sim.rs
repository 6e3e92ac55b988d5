//! The client against the simulated card (cps-sim, in-process), for both profiles and every
//! persona of the test PKI: identity, situations, PIN life cycle, signature, authentication,
//! decryption, and the APDU count of each operation checked against the protocol minimum.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs,
    reason = "tests"
)]

use cps_iasecc::{
    CardFamily, CpsCard, DetectedBy, Digest, Error, Generation, HashAlgorithm, KeyAlgorithm,
    KeyFamily, KeyRole, KeySelector, Pin, PinStatus, Puk, SignatureAlgorithm,
};
use cps_sim::{Profile, SimCard};
use cps_transport::InProcessChannel;

type Card = CpsCard<InProcessChannel<SimCard>>;

const PROFILES: [Profile; 2] = [Profile::Cps3, Profile::Cps4];

fn sim(profile: Profile, persona: &str) -> SimCard {
    SimCard::new(profile, persona).unwrap()
}

fn open(profile: Profile, persona: &str) -> Card {
    CpsCard::open(InProcessChannel::new(sim(profile, persona))).unwrap()
}

fn pin(p: &str) -> Pin {
    Pin::new(p).unwrap()
}

/// Short-APDU Ne on both cards (T=0, no extended length).
fn reads_for(size: usize) -> u64 {
    size.div_ceil(256).max(1) as u64
}

/// APDUs of `open`: SELECT of the application (CPS3); SELECT of the ChipDoc applet on
/// channel 1 then of the application DF (CPS4, as Cryptolib's `_cps4_select_app`).
fn open_cost(profile: Profile) -> u64 {
    match profile {
        Profile::Cps3 => 1,
        _ => 2,
    }
}

/// Reference of the authentication key: 82 on CPS3, 20 on CPS4 (card-cps4.c).
fn auth_ref(profile: Profile) -> u8 {
    match profile {
        Profile::Cps3 => 0x82,
        _ => 0x20,
    }
}

/// APDUs since the last call.
fn delta(card: &mut Card) -> u64 {
    let n = card.round_trips();
    card.reset_round_trips();
    n
}

#[test]
fn generation_and_open_cost() {
    for (profile, generation) in [
        (Profile::Cps3, Generation::Cps3),
        (Profile::Cps4, Generation::Cps4),
    ] {
        let card = open(profile, "dr-martin");
        assert_eq!(card.generation(), generation);
        assert_eq!(card.detected_by(), DetectedBy::Atr);
        // SELECT of the application by AID (CPS4: of ChipDoc on channel 1 first), nothing
        // else.
        assert_eq!(card.round_trips(), open_cost(profile), "{profile:?}");
        assert_eq!(
            card.channel().card().stats().count(0xA4),
            open_cost(profile)
        );
        // Both generations have RSA keys only.
        assert_eq!(card.key_preference(), KeyFamily::Rsa);
    }
}

#[test]
fn identity_of_every_persona_on_both_profiles() {
    for profile in PROFILES {
        for persona in cps_sim::personas() {
            let mut card = open(profile, &persona.id);
            card.reset_round_trips();
            let id = card.identity().unwrap();
            // "Read identity" = one READ BINARY by SFI.
            assert_eq!(card.round_trips(), 1, "{profile:?} {}", persona.id);
            assert_eq!(id.family.code(), persona.family);
            assert_eq!(id.family_name, persona.family_name);
            assert_eq!(id.given_names, persona.given_names);
            assert_eq!(id.national_id, persona.national_id);
            assert_eq!(
                id.national_id_type.as_deref(),
                Some(&persona.national_id[..1])
            );
            assert_eq!(id.rpps, persona.rpps);
            assert_eq!(id.civility.as_deref(), Some(persona.civility.as_str()));
            assert_eq!(
                id.profession
                    .as_ref()
                    .map(|c| (c.code.clone(), c.label.clone())),
                persona
                    .profession
                    .as_ref()
                    .map(|c| (c.code.clone(), Some(c.label.clone())))
            );
            assert_eq!(
                id.speciality.as_ref().map(|c| c.code.clone()),
                persona.speciality.as_ref().map(|c| c.code.clone())
            );
            assert_eq!(id.student, persona.student);
            // Cached: no further APDU.
            assert_eq!(card.card_family().unwrap(), id.family);
            assert_eq!(card.identity().unwrap(), id);
            assert_eq!(card.round_trips(), 1);
        }
    }
}

#[test]
fn families_staff_and_student() {
    let mut cpf = open(Profile::Cps4, "etudiant-petit");
    assert_eq!(cpf.card_family().unwrap(), CardFamily::Cpf);
    assert!(cpf.identity().unwrap().student);
    let mut cde = open(Profile::Cps3, "directeur-leroy");
    let id = cde.identity().unwrap();
    assert_eq!(id.family, CardFamily::Cde);
    assert_eq!(id.rpps, None);
    assert_eq!(id.national_id_type.as_deref(), Some("3"));
    let mut cpe = open(Profile::Cps3, "secretaire-moreau");
    assert_eq!(cpe.card_family().unwrap(), CardFamily::Cpe);
}

#[test]
fn serial_and_token_info() {
    for (profile, generation) in [(Profile::Cps3, 3u8), (Profile::Cps4, 4)] {
        let mut card = open(profile, "pharmacien-durand");
        let persona = cps_sim::persona("pharmacien-durand").unwrap();
        card.reset_round_trips();
        let serial = card.serial().unwrap();
        assert_eq!(card.round_trips(), 1, "EF.SN by SFI");
        assert_eq!(serial.as_bytes(), persona.serial(generation));
        assert!(serial.digits().starts_with("8025000001"));
        let ti = card.token_info().unwrap();
        // TokenInfo carries (the end of) the same serial.
        assert!(serial.as_bytes().ends_with(&ti.serial_number));
        assert_eq!(
            ti.label.as_deref(),
            Some(format!("CPS{generation} pharmacien-durand").as_str())
        );
        assert!(ti.flags.login_required());
        if profile == Profile::Cps3 {
            let cds = ti
                .supported_algorithms
                .iter()
                .find(|a| a.mechanism == 0x40)
                .unwrap();
            assert_eq!(cds.card_reference, Some(0x42));
        }
        let has_ecdsa = ti
            .supported_algorithms
            .iter()
            .any(|a| a.mechanism == 0x1044);
        assert!(!has_ecdsa, "{profile:?}: RSA only");
    }
}

#[test]
fn pkcs15_objects_match_the_card() {
    for profile in PROFILES {
        let mut card = open(profile, "dr-martin");
        let pins = card.pin_objects().unwrap();
        let holder = pins.iter().find(|p| !p.is_puk()).unwrap();
        let puk = pins.iter().find(|p| p.is_puk()).unwrap();
        assert_eq!(holder.reference, Some(0x01));
        assert_eq!((holder.min_length, holder.max_length), (4, Some(8)));
        assert!(!holder.flags.needs_padding());
        assert_eq!(holder.unblocked_by.as_deref(), Some(puk.auth_id.as_slice()));
        assert_eq!(puk.reference, Some(0x02));

        let keys = card.keys().unwrap();
        let refs: Vec<u8> = keys.iter().map(|k| k.reference).collect();
        let sim = card.channel().card();
        assert_eq!(refs, [0x81, auth_ref(profile)]);
        let _ = sim;
        for k in &keys {
            // iD = the PKCS#15 application AID ‖ 01 (signature) / 02 (authentication), as
            // the real cards (Cryptolib lists them so).
            let mut id = cps_iasecc::CPS_IAS_AID.to_vec();
            id.push(if k.reference == 0x81 { 0x01 } else { 0x02 });
            assert_eq!(k.id, id);
            assert_eq!(k.algorithm, KeyAlgorithm::Rsa { bits: 2048 });
            let usage = match k.reference {
                0x81 => KeyRole::Signature,
                _ => KeyRole::Authentication,
            };
            assert_eq!(k.usage, usage, "{}", k.label);
            // The key lives in the DF named by the AID (empty path): the application.
            assert_eq!(k.path.as_ref().map(|p| p.as_bytes().len()), Some(0));
        }
        assert!(
            keys.iter()
                .find(|k| k.reference == auth_ref(profile))
                .unwrap()
                .can(KeyRole::Decipher)
        );
        // No PuKDF any more: the public keys come from the certificates.
        assert!(card.public_keys().unwrap().is_empty());

        // Certificates pair with keys by iD, and hold the key's public key.
        let certs = card.certificates().unwrap();
        assert_eq!(certs.len(), keys.len());
        for k in &keys {
            let cert = card.certificate_for(k).unwrap().unwrap();
            let parsed = cert.parsed.as_ref().unwrap();
            let public = card.channel().card().public_key(k.reference).unwrap();
            assert!(
                parsed
                    .public_key()
                    .spki_der()
                    .windows(public.len())
                    .any(|w| w == public.as_slice()),
                "{}",
                k.label
            );
            assert_eq!(parsed.national_id(), Some("810001234567"));
            assert_eq!(
                cert.der,
                card.channel()
                    .card()
                    .file(&[
                        0x3F00,
                        0x0001,
                        u16::from_be_bytes([cert.path.as_bytes()[4], cert.path.as_bytes()[5]])
                    ])
                    .unwrap()
            );
        }
    }
}

#[test]
fn apdu_counts_are_the_protocol_minimum() {
    for profile in PROFILES {
        // Read certificates: ODF (SELECT + READ), CDF (SELECT + READ), then per certificate
        // one SELECT (FCP size) and ⌈size / Ne⌉ READ BINARY.
        let mut card = open(profile, "dr-martin");
        assert_eq!(delta(&mut card), open_cost(profile), "open");
        let certs = card.certificates().unwrap();
        let sim = card.channel().card();
        let odf = sim.file(&[0x3F00, 0x0001, 0x5031]).unwrap().len();
        let cdf = sim.file(&[0x3F00, 0x0001, 0x4404]).unwrap().len();
        assert!(odf <= 256 && cdf <= 256);
        // T=0: a SELECT answering its FCP is a case-4 command, so `61xx` + GET RESPONSE.
        let expected: u64 = 3
            + 3
            + certs
                .iter()
                .map(|c| 2 + reads_for(c.der.len()))
                .sum::<u64>();
        assert_eq!(delta(&mut card), expected, "{profile:?} read certificates");
        // Cached.
        card.certificates().unwrap();
        assert_eq!(delta(&mut card), 0);

        // Read identity.
        card.identity().unwrap();
        assert_eq!(delta(&mut card), 1);

        // PIN status, verify PIN + sign, authenticate, situations.
        assert_eq!(card.pin_status().unwrap(), PinStatus::RetriesLeft(3));
        assert_eq!(delta(&mut card), 1);
        card.verify_pin(&pin("1234")).unwrap();
        card.sign(KeyRole::Signature, &Digest::sha256_of(b"m"))
            .unwrap();
        // CPS3: VERIFY + MSE SET DST + PSO HASH + PSO CDS (case 2: answered at once);
        // CPS4: VERIFY + MSE SET DST + PSO CDS (the hash goes in the CDS itself, case 4:
        // `61xx` + GET RESPONSE on T=0).
        let sign = match profile {
            Profile::Cps3 => 4,
            _ => 4,
        };
        assert_eq!(delta(&mut card), sign, "{profile:?} verify PIN + sign");
        card.authenticate(&Digest::sha256_of(b"challenge")).unwrap();
        // CPS3: MSE SET AT + INTERNAL AUTHENTICATE; CPS4: MSE SET CT + PSO DECIPHER of a
        // 256-byte block, a chain of 2 short APDUs (T=0, no extended length); both case 4:
        // + GET RESPONSE.
        let auth = match profile {
            Profile::Cps3 => 3,
            _ => 4,
        };
        assert_eq!(delta(&mut card), auth, "{profile:?} authenticate");
        card.practice_situations().unwrap();
        assert_eq!(delta(&mut card), 1, "{profile:?} situations");

        // The card's own counter agrees with the client's.
        let stats = card.channel().card().stats().clone();
        assert!(stats.apdus >= expected + 10);
        // T=0: every case-4 answer came through `61xx` + GET RESPONSE, counted above.
        assert!(
            stats.count(0xC0) > 0,
            "T=0 case-4 answers need GET RESPONSE"
        );
    }
}

#[test]
fn read_identity_from_scratch() {
    for profile in PROFILES {
        let mut card = open(profile, "infirmiere-bernard");
        card.identity().unwrap();
        assert_eq!(
            card.round_trips(),
            open_cost(profile) + 1,
            "{profile:?}: SELECT AID (CPS4: ChipDoc first) + READ BINARY SFI"
        );
        assert_eq!(card.channel().card().stats().apdus, open_cost(profile) + 1);
    }
}

#[test]
fn situations_need_the_pin() {
    for profile in PROFILES {
        for persona in ["dr-martin", "pharmacien-durand", "directeur-leroy"] {
            let mut card = open(profile, persona);
            let err = card.practice_situations().unwrap_err();
            assert!(
                matches!(err, Error::SecurityStatusNotSatisfied { .. }),
                "{err:?}"
            );
            assert!(
                err.to_string()
                    .contains("security status not satisfied (6982)")
            );
            card.verify_pin(&pin("1234")).unwrap();
            let sits = card.practice_situations().unwrap();
            let expected = cps_sim::persona(persona).unwrap().situations;
            assert_eq!(sits.len(), expected.len());
            for (i, (got, want)) in sits.iter().zip(&expected).enumerate() {
                assert_eq!(usize::from(got.index), i + 1);
                let mode = got.practice_mode.as_ref().unwrap();
                assert_eq!(mode.code, want.mode);
                assert_eq!(mode.label.as_deref(), Some(want.mode_label.as_str()));
                assert_eq!(got.activity_sector.as_ref().unwrap().code, want.sector);
                assert_eq!(
                    got.structure_id.as_deref(),
                    Some(want.structure_id.as_str())
                );
                assert_eq!(
                    got.structure_id_type.as_deref(),
                    Some(want.structure_id_type.as_str())
                );
                assert_eq!(
                    got.structure_name.as_deref(),
                    Some(want.structure_name.as_str())
                );
                assert_eq!(got.city.as_deref(), Some(want.city.as_str()));
            }
            // A reset loses the PIN: EF.DAM is refused again (never served from a cache).
            card.channel_mut().power_cycle();
            card.reselect().unwrap();
            assert!(matches!(
                card.practice_situations(),
                Err(Error::SecurityStatusNotSatisfied { .. })
            ));
        }
    }
}

#[test]
fn pin_life_cycle() {
    for profile in PROFILES {
        let mut card = open(profile, "dr-martin");
        assert_eq!(card.pin_status().unwrap(), PinStatus::RetriesLeft(3));
        assert_eq!(card.puk_status().unwrap(), PinStatus::RetriesLeft(3));
        // Wrong, then right.
        let e = card.verify_pin(&pin("0000")).unwrap_err();
        assert!(matches!(e, Error::WrongPin { retries_left: 2 }), "{e:?}");
        assert_eq!(card.pin_status().unwrap(), PinStatus::RetriesLeft(2));
        card.verify_pin(&pin("1234")).unwrap();
        assert_eq!(card.pin_status().unwrap(), PinStatus::Verified);
        assert_eq!(card.channel().card().tries_left(1), Some(3));
        // Change.
        card.change_pin(&pin("1234"), &pin("246810")).unwrap();
        // A wrong old PIN (the card splits old ‖ new by the stored PIN's length).
        let e = card.change_pin(&pin("135790"), &pin("1111")).unwrap_err();
        assert!(matches!(e, Error::WrongPin { retries_left: 2 }), "{e:?}");
        card.verify_pin(&pin("246810")).unwrap();
        // Block it: three wrong tries.
        for left in [2u8, 1, 0] {
            match card.verify_pin(&pin("9999")) {
                Err(Error::WrongPin { retries_left }) => assert_eq!(retries_left, left),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(card.pin_status().unwrap(), PinStatus::Blocked);
        let e = card.verify_pin(&pin("246810")).unwrap_err();
        assert!(matches!(e, Error::PinBlocked), "{e:?}");
        assert_eq!(e.to_string(), "PIN blocked (6983)");
        // Signing is refused without the PIN.
        assert!(matches!(
            card.sign(KeyRole::Signature, &Digest::sha256_of(b"x")),
            Err(Error::SecurityStatusNotSatisfied { .. })
        ));
        // Unblock: a wrong PUK first.
        assert!(matches!(
            card.unblock_pin(&Puk::new("00000000").unwrap(), &pin("4321")),
            Err(Error::WrongPuk { retries_left: 2 })
        ));
        assert_eq!(card.puk_status().unwrap(), PinStatus::RetriesLeft(2));
        card.unblock_pin(&Puk::new("12345678").unwrap(), &pin("4321"))
            .unwrap();
        assert_eq!(card.pin_status().unwrap(), PinStatus::RetriesLeft(3));
        card.verify_pin(&pin("4321")).unwrap();
        // Counter reset only.
        assert!(card.verify_pin(&pin("1111")).is_err());
        card.reset_pin_counter(&Puk::new("12345678").unwrap())
            .unwrap();
        assert_eq!(card.pin_status().unwrap(), PinStatus::RetriesLeft(3));
        card.verify_pin(&pin("4321")).unwrap();
    }
}

#[test]
fn a_blocked_puk_is_reported() {
    let mut card = open(Profile::Cps3, "dr-martin");
    for left in [2u8, 1, 0] {
        match card.reset_pin_counter(&Puk::new("87654321").unwrap()) {
            Err(Error::WrongPuk { retries_left }) => assert_eq!(retries_left, left),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(card.puk_status().unwrap(), PinStatus::Blocked);
    let e = card
        .unblock_pin(&Puk::new("12345678").unwrap(), &pin("1234"))
        .unwrap_err();
    assert!(matches!(e, Error::PukBlocked), "{e:?}");
}

#[test]
fn malformed_pins_never_reach_the_card() {
    let card = open(Profile::Cps4, "dr-martin");
    let before = card.round_trips();
    for bad in ["", "123", "123456789", "12a4", "12 34"] {
        assert!(matches!(Pin::new(bad), Err(Error::InvalidPinFormat { .. })));
    }
    assert!(Puk::new("1234").is_err());
    assert_eq!(card.round_trips(), before);
    assert_eq!(card.channel().card().tries_left(1), Some(3));
    assert_eq!(card.channel().card().stats().count(0x20), 0);
}

#[test]
fn sign_and_verify_with_the_certificate() {
    for profile in PROFILES {
        for persona in ["dr-martin", "etudiant-petit", "secretaire-moreau"] {
            let mut card = open(profile, persona);
            card.verify_pin(&pin("1234")).unwrap();
            let digest = Digest::sha256_of(format!("FSE of {persona}").as_bytes());
            let sel = KeySelector::UsageIn(KeyRole::Signature, KeyFamily::Rsa);
            let sig = card.sign(sel.clone(), &digest).unwrap();
            let key = card.resolve_key(sel).unwrap();
            assert_eq!(sig.key_reference(), key.reference);
            assert_eq!(sig.as_bytes().len(), 256);
            assert!(matches!(
                sig.algorithm(),
                SignatureAlgorithm::RsaPkcs1v15(_)
            ));
            assert_eq!(sig.to_der().unwrap(), sig.as_bytes());
            let cert = card.certificate_for(&key).unwrap().unwrap();
            let parsed = cert.parsed.as_ref().unwrap();
            sig.verify(parsed, &digest).unwrap();
            // The same signature does not verify another digest, nor under the other
            // certificate.
            assert!(sig.verify(parsed, &Digest::sha256_of(b"other")).is_err());
            let auth = card
                .resolve_key(KeySelector::UsageIn(
                    KeyRole::Authentication,
                    KeyFamily::Rsa,
                ))
                .unwrap();
            let auth_cert = card.certificate_for(&auth).unwrap().unwrap();
            assert!(
                sig.verify(auth_cert.parsed.as_ref().unwrap(), &digest)
                    .is_err()
            );
            // EC keys: none on either card.
            assert!(matches!(
                card.resolve_key(KeySelector::UsageIn(KeyRole::Signature, KeyFamily::Ec)),
                Err(Error::KeyNotFound { .. })
            ));
        }
    }
}

/// The RSA public key of a certificate, for checks cps-x509 does not do (SHA-1, PSS).
fn rsa_key_of(cert: &cps_iasecc::Certificate) -> rsa::RsaPublicKey {
    use rsa::pkcs8::DecodePublicKey;
    rsa::RsaPublicKey::from_public_key_der(cert.parsed.as_ref().unwrap().public_key().spki_der())
        .unwrap()
}

#[test]
fn sign_whole_messages_the_card_finishes_the_hash_on_cps3() {
    use sha2::Digest as _;
    for profile in PROFILES {
        let mut card = open(profile, "dr-martin");
        card.verify_pin(&pin("1234")).unwrap();
        let key = card.resolve_key(KeyRole::Signature).unwrap();
        let cert = card.certificate_for(&key).unwrap().unwrap();
        let public = rsa_key_of(&cert);
        // Lengths around the block size: one byte, exactly one block, one block and one
        // byte, several blocks and a whole last block.
        for len in [1usize, 55, 63, 64, 65, 128, 1000] {
            let message: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            card.reset_round_trips();
            let sig = card
                .sign_message(KeyRole::Signature, HashAlgorithm::Sha256, &message)
                .unwrap();
            // CPS3: MSE SET HT + PSO HASH (state ‖ last block) + MSE SET DST + PSO CDS, the
            // official middleware's sequence; CPS4: MSE + CDS + GET RESPONSE (T=0 case 4).
            let expected = match profile {
                Profile::Cps3 => 4,
                _ => 3,
            };
            assert_eq!(card.round_trips(), expected, "{profile:?} {len}");
            let digest = Digest::sha256_of(&message);
            sig.verify(cert.parsed.as_ref().unwrap(), &digest)
                .unwrap_or_else(|e| panic!("{profile:?} {len}: {e}"));
            // SHA-1 too (both cards still sign it).
            let sig = card
                .sign_message(KeyRole::Signature, HashAlgorithm::Sha1, &message)
                .unwrap();
            let sha1 = sha1_of(&message);
            public
                .verify(
                    rsa::Pkcs1v15Sign::new::<sha1::Sha1>(),
                    &sha1,
                    sig.as_bytes(),
                )
                .unwrap_or_else(|e| panic!("{profile:?} SHA-1 {len}: {e}"));
        }
        // The digest-only form keeps working (PSO HASH 90 <hash> on CPS3).
        let d = Digest::new(HashAlgorithm::Sha1, &sha1_of(b"abc")).unwrap();
        let sig = card.sign(KeyRole::Signature, &d).unwrap();
        public
            .verify(
                rsa::Pkcs1v15Sign::new::<sha1::Sha1>(),
                d.as_bytes(),
                sig.as_bytes(),
            )
            .unwrap();
        let _ = sha2::Sha256::digest(b"");
    }
}

fn sha1_of(data: &[u8]) -> Vec<u8> {
    use sha1::Digest as _;
    sha1::Sha1::digest(data).to_vec()
}

#[test]
fn pss_on_cps4_only() {
    let mut card = open(Profile::Cps4, "dr-martin");
    card.verify_pin(&pin("1234")).unwrap();
    for usage in [KeyRole::Signature, KeyRole::Authentication] {
        let key = card.resolve_key(usage).unwrap();
        let cert = card.certificate_for(&key).unwrap().unwrap();
        let public = rsa_key_of(&cert);
        for digest in [
            Digest::sha256_of(b"ordonnance"),
            Digest::sha1_of(b"ordonnance"),
        ] {
            card.reset_round_trips();
            let sig = card.sign_pss(usage, &digest).unwrap();
            assert_eq!(
                card.round_trips(),
                3,
                "MSE SET DST + PSO CDS + GET RESPONSE"
            );
            assert_eq!(
                sig.algorithm(),
                SignatureAlgorithm::RsaPss(digest.algorithm())
            );
            let ok = match digest.algorithm() {
                HashAlgorithm::Sha256 => public.verify(
                    rsa::Pss::new_with_salt::<sha2::Sha256>(32),
                    digest.as_bytes(),
                    sig.as_bytes(),
                ),
                _ => public.verify(
                    rsa::Pss::new_with_salt::<sha1::Sha1>(20),
                    digest.as_bytes(),
                    sig.as_bytes(),
                ),
            };
            ok.unwrap_or_else(|e| panic!("{usage:?} {digest:?}: {e}"));
            // The client's own check agrees for SHA-256 (cps-x509 RSA-PSS, salt 32), and
            // refuses a signature of another digest.
            if digest.algorithm() == HashAlgorithm::Sha256 {
                let parsed = cert.parsed.as_ref().unwrap();
                sig.verify(parsed, &digest).unwrap();
                assert!(sig.verify(parsed, &Digest::sha256_of(b"autre")).is_err());
            }
            // Randomised salt: a second signature differs.
            let again = card.sign_pss(usage, &digest).unwrap();
            assert_ne!(again.as_bytes(), sig.as_bytes());
        }
    }
    let mut cps3 = open(Profile::Cps3, "dr-martin");
    cps3.verify_pin(&pin("1234")).unwrap();
    let before = cps3.round_trips();
    let e = cps3
        .sign_pss(KeyRole::Signature, &Digest::sha256_of(b"x"))
        .unwrap_err();
    assert!(matches!(e, Error::Unsupported { .. }), "{e:?}");
    assert_eq!(cps3.round_trips(), before, "refused before any APDU");
}

#[test]
fn default_key_choice_per_generation_and_override() {
    let mut cps4 = open(Profile::Cps4, "dr-martin");
    cps4.verify_pin(&pin("1234")).unwrap();
    let d = Digest::sha256_of(b"x");
    assert_eq!(
        cps4.sign(KeyRole::Signature, &d).unwrap().key_reference(),
        0x81
    );
    assert_eq!(cps4.authenticate(&d).unwrap().key_reference(), 0x20);
    // No EC key: the preference falls back to RSA, an explicit family does not.
    cps4.set_key_preference(KeyFamily::Ec);
    assert_eq!(
        cps4.sign(KeyRole::Signature, &d).unwrap().key_reference(),
        0x81
    );
    let mut cps3 = open(Profile::Cps3, "dr-martin");
    cps3.verify_pin(&pin("1234")).unwrap();
    cps3.set_key_preference(KeyFamily::Ec);
    assert_eq!(
        cps3.sign(KeyRole::Signature, &d).unwrap().key_reference(),
        0x81
    );
    assert!(matches!(
        cps3.sign(KeySelector::UsageIn(KeyRole::Signature, KeyFamily::Ec), &d),
        Err(Error::KeyNotFound { .. })
    ));
    // A key from keys() works too.
    let keys = cps3.keys().unwrap();
    let sig_key = keys.iter().find(|k| k.usage == KeyRole::Signature).unwrap();
    assert_eq!(cps3.sign(sig_key, &d).unwrap().key_reference(), 0x81);
}

#[test]
fn authenticate_and_verify() {
    for profile in PROFILES {
        let mut card = open(profile, "pharmacien-durand");
        assert!(matches!(
            card.authenticate(&Digest::sha256_of(b"tls")),
            Err(Error::SecurityStatusNotSatisfied { .. })
        ));
        card.verify_pin(&pin("1234")).unwrap();
        let digest = Digest::sha256_of(b"TLS handshake transcript");
        card.reset_round_trips();
        let sig = card.authenticate(&digest).unwrap();
        // CPS3: MSE SET AT + INTERNAL AUTHENTICATE. CPS4: MSE SET CT + PSO DECIPHER of the
        // host-padded block (256 bytes: a chain of 2). Each ends with GET RESPONSE (T=0).
        let expected = match profile {
            Profile::Cps3 => 3,
            _ => 4,
        };
        assert_eq!(card.round_trips(), expected, "{profile:?}");
        assert_eq!(sig.key_reference(), auth_ref(profile));
        let key = card.resolve_key(KeyRole::Authentication).unwrap();
        let cert = card.certificate_for(&key).unwrap().unwrap();
        sig.verify(cert.parsed.as_ref().unwrap(), &digest).unwrap();
        assert!(
            sig.verify(cert.parsed.as_ref().unwrap(), &Digest::sha256_of(b"x"))
                .is_err()
        );
    }
    // The CPS4 has no INTERNAL AUTHENTICATE: the client never sends it.
    let mut card = open(Profile::Cps4, "dr-martin");
    card.verify_pin(&pin("1234")).unwrap();
    card.authenticate(&Digest::sha256_of(b"x")).unwrap();
    assert_eq!(card.channel().card().stats().count(0x88), 0);
}

#[test]
fn decipher_round_trip() {
    use rsa::pkcs1::DecodeRsaPublicKey;
    for profile in PROFILES {
        let mut card = open(profile, "infirmiere-bernard");
        let public = card.channel().card().public_key(auth_ref(profile)).unwrap();
        let key = rsa::RsaPublicKey::from_pkcs1_der(&public).unwrap();
        let secret = b"session key 0123456789abcdef";
        let ct = key
            .encrypt(&mut rand_core::OsRng, rsa::Pkcs1v15Encrypt, secret)
            .unwrap();
        assert!(matches!(
            card.decipher(&ct),
            Err(Error::SecurityStatusNotSatisfied { .. })
        ));
        card.verify_pin(&pin("1234")).unwrap();
        card.reset_round_trips();
        let plain = card.decipher(&ct).unwrap();
        assert_eq!(plain.as_slice(), secret);
        // MSE SET CT + PSO DECIPHER: 257 data bytes (81 ‖ cryptogram) on CPS3, 256 on CPS4
        // (no padding indicator): a chain of two short APDUs on both, + GET RESPONSE (T=0).
        assert_eq!(card.round_trips(), 4, "{profile:?}");
        // A tampered cryptogram: the CPS3 refuses it; the CPS4 answers the raw RSA result
        // and the host finds no type-2 block.
        let mut bad = ct.clone();
        bad[10] ^= 0xFF;
        let e = card.decipher(&bad).unwrap_err();
        match profile {
            Profile::Cps3 => assert!(matches!(e, Error::Card { .. }), "{e:?}"),
            _ => assert!(matches!(e, Error::DecryptionFailed), "{e:?}"),
        }
    }
}

#[test]
fn unknown_key_reference_falls_back_to_the_prkdf() {
    // A CPS4 whose signature key is 0x85 instead of the profile table's 0x81.
    let json = cps_sim::profile::builtin_json(Profile::Cps4)
        .replace("\"reference\": \"81\"", "\"reference\": \"85\"")
        .replace("\"key\": \"81\"", "\"key\": \"85\"");
    let spec = cps_sim::ProfileSpec::from_json("CPS4", &json).unwrap();
    let sim = SimCard::builder().profile_spec(spec).build().unwrap();
    let mut card = CpsCard::open(InProcessChannel::new(sim)).unwrap();
    card.verify_pin(&pin("1234")).unwrap();
    card.reset_round_trips();
    let digest = Digest::sha256_of(b"x");
    let sig = card.sign(KeyRole::Signature, &digest).unwrap();
    assert_eq!(sig.key_reference(), 0x85);
    // MSE refused (6A88), ODF + PrKDF read (SELECT + GET RESPONSE + READ each), then MSE +
    // PSO CDS + GET RESPONSE.
    assert_eq!(card.round_trips(), 1 + 6 + 3);
    // From now on the PrKDF is known: no detour.
    card.reset_round_trips();
    let key = card.resolve_key(KeyRole::Signature).unwrap();
    assert_eq!(
        (key.reference, key.source),
        (0x85, cps_iasecc::KeySource::PrKdf)
    );
    card.sign(KeySelector::Reference(0x85), &digest).unwrap();
    assert_eq!(card.round_trips(), 3, "MSE + PSO CDS + GET RESPONSE");
    let cert = card.certificate_for(&key).unwrap().unwrap();
    sig.verify(cert.parsed.as_ref().unwrap(), &digest).unwrap();
    // An explicit unknown reference is reported, not retried forever.
    let e = card
        .sign(KeySelector::Reference(0x8F), &digest)
        .unwrap_err();
    assert!(matches!(e, Error::KeyNotFound { .. }), "{e:?}");
}

#[test]
fn signature_digest_rules() {
    let mut card = open(Profile::Cps4, "dr-martin");
    card.verify_pin(&pin("1234")).unwrap();
    let before = card.round_trips();
    let e = card
        .sign(KeyRole::Signature, &Digest::sha384_of(b"x"))
        .unwrap_err();
    assert!(matches!(e, Error::Unsupported { .. }), "{e:?}");
    assert_eq!(card.round_trips(), before, "refused before any APDU");
}

#[test]
fn secrets_stay_out_of_debug_output() {
    let p = pin("4711");
    assert!(!format!("{p:?}").contains("4711"));
    let k = Puk::new("12345678").unwrap();
    assert!(!format!("{k:?}").contains("1234"));
    let card = open(Profile::Cps3, "dr-martin");
    assert!(format!("{card:?}").contains("Cps3"));
}

#[test]
fn applications_and_ef_atr() {
    for (profile, version) in [(Profile::Cps3, 0xC1u8), (Profile::Cps4, 0xC1)] {
        let mut card = open(profile, "dr-martin");
        let apps = card.applications().unwrap();
        assert_eq!(apps.len(), 1);
        assert_eq!(apps[0].aid, cps_iasecc::CPS_IAS_AID);
        let ef = card.ef_atr().unwrap().unwrap();
        assert_eq!(ef.pre_issuing.get(3), Some(&version));
        assert!(ef.buffer_sizes.is_some());
        // Those SELECTs left the MF current: reading by SFI selects the application again.
        card.reset_round_trips();
        card.identity().unwrap();
        assert_eq!(card.round_trips(), 2);
    }
}

#[test]
fn generation_from_ef_atr_when_the_atr_is_unknown() {
    /// Hides the ATR behind a neutral one.
    struct PlainAtr(InProcessChannel<SimCard>);
    impl cps_transport::CardChannel for PlainAtr {
        fn transmit(&mut self, c: &[u8]) -> Result<Vec<u8>, cps_transport::TransportError> {
            self.0.transmit(c)
        }
        fn atr(&self) -> &[u8] {
            &[0x3B, 0x00]
        }
        fn reset(&mut self) -> Result<(), cps_transport::TransportError> {
            self.0.reset()
        }
        fn transaction(
            &mut self,
        ) -> Result<Box<dyn cps_transport::CardChannel + '_>, cps_transport::TransportError>
        {
            Ok(Box::new(cps_transport::Reborrow(self)))
        }
    }
    for (profile, generation) in [
        (Profile::Cps3, Generation::Cps3),
        (Profile::Cps4, Generation::Cps4),
    ] {
        let ch = PlainAtr(InProcessChannel::new(sim(profile, "dr-martin")));
        let mut card = CpsCard::open(ch).unwrap();
        assert_eq!(card.generation(), generation);
        let (by, apdus) = match profile {
            // SELECT (+ GET RESPONSE of its FCP) + READ of EF.ATR, then SELECT of the
            // application.
            Profile::Cps3 => (DetectedBy::EfAtr, 4),
            // SELECT of EF.ATR and of the application refused on the basic channel, then
            // ChipDoc and the application on channel 1.
            _ => (DetectedBy::ChipDoc, 4),
        };
        assert_eq!(card.detected_by(), by, "{profile:?}");
        assert_eq!(card.round_trips(), apdus, "{profile:?}");
        assert_eq!(card.identity().unwrap().family_name, "MARTIN");
    }
}

#[test]
fn not_a_cps_card() {
    /// A card that knows nothing.
    struct Blank;
    impl cps_transport::VirtualCard for Blank {
        fn atr(&self) -> Vec<u8> {
            vec![0x3B, 0x00]
        }
        fn power_on(&mut self) {}
        fn process(&mut self, _apdu: &[u8]) -> Vec<u8> {
            vec![0x6A, 0x82]
        }
    }
    let e = CpsCard::open(InProcessChannel::new(Blank)).unwrap_err();
    assert!(matches!(e, Error::NotACpsCard { .. }), "{e:?}");
    assert!(e.to_string().starts_with("not a CPS card ("), "{e}");
}

#[test]
fn cps4_channel_closed_by_a_reset_is_reopened_without_resending_secrets() {
    let mut card = open(Profile::Cps4, "dr-martin");
    card.verify_pin(&pin("1234")).unwrap();
    // Another application resets the card: channel 1 is closed (6881).
    card.channel_mut().power_cycle();
    card.reset_round_trips();
    // A side-effect-free command is sent again after ChipDoc and the DF are selected again:
    // PIN status (6881) + SELECT ChipDoc + SELECT DF + PIN status.
    assert_eq!(card.pin_status().unwrap(), PinStatus::RetriesLeft(3));
    assert_eq!(card.round_trips(), 4);
    // A signature is never sent again: the MSE gets 6881, the channel is reopened, the error
    // says so and no PSO is sent.
    card.verify_pin(&pin("1234")).unwrap();
    card.channel_mut().power_cycle();
    let e = card
        .sign(KeyRole::Signature, &Digest::sha256_of(b"x"))
        .unwrap_err();
    assert!(matches!(e, Error::ChannelClosed { .. }), "{e:?}");
    assert!(e.is_card_reset());
    assert_eq!(card.channel().card().stats().count(0x2A), 0);
    // Nor a VERIFY: one VERIFY reached the card (6881), none more, no try spent.
    card.channel_mut().power_cycle();
    let verifies = card.channel().card().stats().count(0x20);
    card.reset_round_trips();
    let e = card.verify_pin(&pin("1234")).unwrap_err();
    assert!(matches!(e, Error::ChannelClosed { .. }), "{e:?}");
    assert_eq!(card.channel().card().stats().count(0x20), verifies + 1);
    assert_eq!(card.round_trips(), 2, "VERIFY (6881) + SELECT ChipDoc");
    assert_eq!(card.channel().card().tries_left(1), Some(3));
    // The caller verifies again and signs: the channel is open.
    card.verify_pin(&pin("1234")).unwrap();
    card.sign(KeyRole::Signature, &Digest::sha256_of(b"x"))
        .unwrap();
    // A CPS3 has no logical channel: nothing of this applies.
    let mut cps3 = open(Profile::Cps3, "dr-martin");
    cps3.channel_mut().power_cycle();
    assert_eq!(cps3.pin_status().unwrap(), PinStatus::RetriesLeft(3));
}

#[test]
fn holder_data_objects_followed_through_the_dodf() {
    for profile in PROFILES {
        for persona_id in ["dr-martin", "pharmacien-durand", "directeur-leroy"] {
            let persona = cps_sim::persona(persona_id).unwrap();
            let mut card = open(profile, persona_id);
            card.reset_round_trips();
            let objects = card.data_objects().unwrap();
            // ODF (SELECT + GET RESPONSE + READ) and DODF (SELECT + GET RESPONSE +
            // ⌈size / 256⌉ READ BINARY).
            let dodf = card
                .channel()
                .card()
                .file(&[0x3F00, 0x0001, 0x4405])
                .unwrap()
                .len();
            assert_eq!(card.round_trips(), 3 + 2 + reads_for(dodf), "{profile:?}");
            let labels: Vec<&str> = objects.iter().filter_map(|d| d.label.as_deref()).collect();
            for l in ["CPS_ID_CARD", "CPS_NAME_PS", "CPS_INFO_PS"] {
                assert!(labels.contains(&l), "{profile:?} {labels:?}");
            }
            let activities: Vec<_> = objects
                .iter()
                .filter(|d| {
                    d.label
                        .as_deref()
                        .is_some_and(|l| l.starts_with("CPS_ACTIVITY_"))
                })
                .collect();
            assert_eq!(activities.len(), persona.situations.len());
            assert!(activities.iter().all(|d| d.private && d.auth_id.is_some()));
            assert!(
                objects
                    .iter()
                    .all(|d| d.application.as_deref() == Some("CPS"))
            );

            // CPS_INFO_PS, free: SELECT + GET RESPONSE (FCP) + READ (the DODF is cached).
            card.reset_round_trips();
            let info = card.professional_info().unwrap();
            assert_eq!(card.round_trips(), 3);
            assert_eq!(info.national_id, persona.national_id);
            assert_eq!(info.national_id_type, persona.national_id[..1]);
            assert_eq!(
                info.profession.as_ref().map(|c| c.code.as_str()),
                persona.profession.as_ref().map(|c| c.code.as_str())
            );
            // The profession's label from DICO-FR.GIP table G15 (the persona's own label is
            // the same text).
            assert_eq!(
                info.profession.as_ref().and_then(|c| c.label.as_deref()),
                persona.profession.as_ref().map(|c| c.label.as_str())
            );
            assert_eq!(
                info.speciality.as_ref().map(|c| c.code.as_str()),
                persona.speciality.as_ref().map(|c| c.code.as_str())
            );
            // CPS_NAME_PS is EF.IDENT: the same identity as the one-APDU read by SFI.
            let name = card.read_data_object("CPS_NAME_PS").unwrap();
            assert_eq!(
                cps_iasecc::HolderIdentity::parse(&name).unwrap(),
                card.identity().unwrap()
            );

            // The situations need the PIN; then they match EF.DAM's (codes, no labels).
            let e = card.practice_activities().unwrap_err();
            assert!(
                matches!(e, Error::SecurityStatusNotSatisfied { .. }),
                "{e:?}"
            );
            card.verify_pin(&pin("1234")).unwrap();
            card.reset_round_trips();
            let acts = card.practice_activities().unwrap();
            assert_eq!(
                card.round_trips(),
                3 * persona.situations.len() as u64,
                "SELECT + GET RESPONSE (FCP) + READ per situation"
            );
            let dam = card.practice_situations().unwrap();
            assert_eq!(acts.len(), dam.len());
            for (a, d) in acts.iter().zip(&dam) {
                assert_eq!(a.index, d.index);
                assert_eq!(
                    a.practice_mode.as_ref().map(|c| &c.code),
                    d.practice_mode.as_ref().map(|c| &c.code)
                );
                // Labels from DICO-FR.GIP: the RPPS practice modes (L, S) are not in it; the
                // sectors are (table R02), as the card's EF.DAM labels them.
                assert!(a.practice_mode.as_ref().unwrap().label.is_none());
                assert_eq!(
                    a.activity_sector.as_ref().map(|c| &c.code),
                    d.activity_sector.as_ref().map(|c| &c.code)
                );
                assert_eq!(
                    a.activity_sector.as_ref().and_then(|c| c.label.as_deref()),
                    d.activity_sector.as_ref().and_then(|c| c.label.as_deref()),
                    "{profile:?} {persona_id}"
                );
                assert_eq!(a.structure_id, d.structure_id);
                assert_eq!(a.structure_id_type, d.structure_id_type);
                assert_eq!(a.structure_name, d.structure_name);
                assert_eq!(a.city, d.city);
            }
            assert!(matches!(
                card.read_data_object("NO_SUCH_OBJECT"),
                Err(Error::FileNotFound { .. })
            ));
        }
    }
}

/// The CDF entries without the certificates, then one certificate by iD: labels and iDs as the
/// PrKDF pairs them, and only that certificate's file read.
#[test]
fn certificate_entries_then_one_certificate() {
    for profile in PROFILES {
        let mut card = open(profile, "dr-martin");
        let entries = card.certificate_entries().unwrap();
        let labels: Vec<_> = entries.iter().filter_map(|e| e.label.as_deref()).collect();
        assert!(
            labels.contains(&"Certificat de Signature CPS"),
            "{labels:?}"
        );
        assert!(
            labels.contains(&"Certificat d'Authentification CPS"),
            "{labels:?}"
        );
        let keys = card.keys().unwrap();
        let sig = keys.iter().find(|k| k.label == "CPS_PRIV_SIG").unwrap();
        assert!(entries.iter().any(|e| e.id == sig.id));
        let before = card.round_trips();
        let cert = card.certificate_by_id(&sig.id).unwrap().unwrap();
        let reads = card.round_trips() - before;
        assert_eq!(cert.id, sig.id);
        assert_eq!(cert.label.as_deref(), Some("Certificat de Signature CPS"));
        // SELECT (+ GET RESPONSE of the FCP on these T=0 cards) and the READ BINARYs.
        assert!(
            reads <= 2 + reads_for(cert.der.len()),
            "{profile:?}: {reads}"
        );
        // Cached: no APDU the second time; an unknown iD is None.
        let before = card.round_trips();
        assert!(card.certificate_by_id(&sig.id).unwrap().is_some());
        assert!(card.certificate_by_id(&[1, 2, 3]).unwrap().is_none());
        assert_eq!(card.round_trips(), before);
    }
}

/// The directory files kept from one session spare their APDUs in the next one with the same
/// card, and the signature made with them verifies; a snapshot of another card is refused,
/// and a snapshot whose files do not parse is not used at all.
#[test]
fn directory_snapshot_spares_the_directory_reads() {
    use cps_iasecc::snapshot::{DirFile, DirectorySnapshot, SnapshotError};
    for profile in PROFILES {
        let digest = Digest::sha256_of(b"FSE");
        // First session: everything read from the card.
        let mut card = open(profile, "dr-martin");
        let serial = card.serial().unwrap();
        card.token_info().unwrap();
        let keys = card.keys().unwrap();
        card.certificate_entries().unwrap();
        card.data_objects().unwrap();
        card.verify_pin(&pin("1234")).unwrap();
        card.reset_round_trips();
        let first = card.sign(KeyRole::Signature, &digest).unwrap();
        let cold = delta(&mut card);
        let kept = card.directory_snapshot().clone();
        for f in [
            DirFile::TokenInfo,
            DirFile::Odf,
            DirFile::Prkdf,
            DirFile::Cdf,
            DirFile::Dodf,
        ] {
            assert!(kept.get(f).is_some(), "{profile:?} {f:?}");
        }
        let bytes = kept.encode(serial.as_bytes(), card.generation());

        // Next session, same card: the snapshot is taken, nothing of it is read again.
        let mut card = open(profile, "dr-martin");
        let serial2 = card.serial().unwrap();
        let back =
            DirectorySnapshot::decode(&bytes, serial2.as_bytes(), card.generation()).unwrap();
        assert_eq!(back, kept);
        assert_eq!(card.preload_directory(&back).unwrap(), kept.len());
        card.reset_round_trips();
        let ti = card.token_info().unwrap();
        assert!(ti.label.is_some());
        assert_eq!(card.keys().unwrap(), keys);
        assert_eq!(card.certificate_entries().unwrap().len(), 2);
        assert!(!card.data_objects().unwrap().is_empty());
        assert_eq!(
            delta(&mut card),
            0,
            "{profile:?}: directory files read again"
        );
        card.verify_pin(&pin("1234")).unwrap();
        card.reset_round_trips();
        let second = card.sign(KeyRole::Signature, &digest).unwrap();
        let warm = delta(&mut card);
        // PKCS#1 v1.5: deterministic, the same key signed.
        assert_eq!(first.as_bytes(), second.as_bytes(), "{profile:?}");
        assert!(warm <= cold, "{profile:?}: {warm} > {cold}");
        // Certificates are never kept: still read from the card.
        card.certificates().unwrap();
        assert!(delta(&mut card) > 0);

        // Another card's snapshot: refused before use.
        let mut other = open(profile, "infirmiere-bernard");
        let other_sn = other.serial().unwrap();
        assert_ne!(other_sn, serial);
        assert_eq!(
            DirectorySnapshot::decode(&bytes, other_sn.as_bytes(), other.generation()),
            Err(SnapshotError::OtherCard)
        );
        // A file that does not parse: nothing is taken, the card is read as usual.
        let mut bad = kept.clone();
        bad.insert(DirFile::Prkdf, vec![0x30, 0x82, 0xFF]);
        assert!(matches!(
            other.preload_directory(&bad),
            Err(Error::Malformed { .. })
        ));
        other.reset_round_trips();
        other.token_info().unwrap();
        assert!(
            delta(&mut other) > 0,
            "{profile:?}: a bad snapshot was partly used"
        );
    }
}

/// The CPS2ter objects: on a CPS3 contact card, `CPS_SIT_FACT` and one
/// `CPS2TER_ACTIVITY_nn_PS` per situation, read through the CPS2ter application (class A0) as
/// Cryptolib reads them; on a CPS4, the `CPS2TER_*` entries of ChipDoc's DODF.
#[test]
fn cps2ter_objects_on_both_generations() {
    let labels = |card: &mut Card| -> Vec<(String, bool)> {
        card.data_objects()
            .unwrap()
            .into_iter()
            .map(|d| (d.label.unwrap_or_default(), d.cps2ter))
            .collect()
    };
    // CPS3: after the DODF's objects, those Cryptolib adds.
    let mut cps3 = open(Profile::Cps3, "dr-martin");
    let l = labels(&mut cps3);
    let added: Vec<&str> = l
        .iter()
        .filter(|(_, c)| *c)
        .map(|(n, _)| n.as_str())
        .collect();
    assert_eq!(
        added,
        [
            "CPS_SIT_FACT",
            "CPS2TER_ACTIVITY_01_PS",
            "CPS2TER_ACTIVITY_02_PS"
        ]
    );
    assert!(l.iter().take_while(|(_, c)| !*c).count() == l.len() - 3);
    // Behind the PIN: the SELECT answers, the READ BINARY is refused (9804).
    delta(&mut cps3);
    let e = cps3.read_data_object("CPS_SIT_FACT").unwrap_err();
    assert!(
        matches!(e, Error::SecurityStatusNotSatisfied { .. }),
        "{e:?}"
    );
    cps3.verify_pin(&pin("1234")).unwrap();
    delta(&mut cps3);
    let fact = cps3.read_data_object("CPS_SIT_FACT").unwrap();
    // SELECT 7F01, SELECT 4000, GET RESPONSE, READ BINARY.
    assert_eq!(delta(&mut cps3), 4);
    let on_card = cps3
        .channel()
        .card()
        .cps2ter_file(&[0x3F00, 0x7F01, 0x4000]);
    assert_eq!(Some(fact.as_slice()), on_card);
    let cps4 = sim(Profile::Cps4, "dr-martin");
    let cps4_fact = cps4.file(&[0x3F00, 0x0001, 0xD114]).unwrap().to_vec();
    assert_eq!(fact.to_vec(), cps4_fact, "the same model value");
    for (n, fid) in [(1u16, 0xD120u16), (2, 0xD121)] {
        let v = cps3
            .read_data_object(&format!("CPS2TER_ACTIVITY_{n:02}_PS"))
            .unwrap();
        assert_eq!(delta(&mut cps3), 3, "SELECT, GET RESPONSE, READ BINARY");
        let ias = cps3
            .channel()
            .card()
            .file(&[0x3F00, 0x0001, fid])
            .unwrap()
            .to_vec();
        assert_eq!(v.to_vec(), ias);
    }
    // The IAS application still answers after class A0 commands.
    assert!(cps3.read_data_object("CPS_NAME_PS").is_ok());
    let s = cps3.practice().unwrap();
    assert_eq!(s.len(), 2, "CPS2TER_ACTIVITY objects are not counted twice");

    // CPS4: ordinary DODF entries, the identity ones free, the situations behind the PIN.
    let mut cps4 = open(Profile::Cps4, "dr-martin");
    let l = labels(&mut cps4);
    assert!(l.iter().all(|(_, c)| !*c), "{l:?}");
    for name in [
        "CPS2TER_ATR",
        "CPS2TER_ID",
        "CPS2TER_ICC",
        "CPS2TER_NAME",
        "CPS2TER_LANG",
        "CPS2TER_PSINFO",
        "CPS2TER_DIRAMO",
        "CPS2TER_ACTIVITY_01_PS",
        "CPS2TER_ACTIVITY_02_PS",
    ] {
        assert!(l.iter().any(|(n, _)| n == name), "{name} not in {l:?}");
    }
    let atr = cps4.read_data_object("CPS2TER_ATR").unwrap();
    assert_eq!(atr.to_vec(), cps4.atr().to_vec());
    assert!(matches!(
        cps4.read_data_object("CPS2TER_ACTIVITY_01_PS"),
        Err(Error::SecurityStatusNotSatisfied { .. })
    ));
    cps4.verify_pin(&pin("1234")).unwrap();
    assert_eq!(
        cps4.read_data_object("CPS2TER_ACTIVITY_02_PS")
            .unwrap()
            .as_slice(),
        cps4.read_data_object("CPS_ACTIVITY_02_PS")
            .unwrap()
            .as_slice()
    );
    assert_eq!(cps4.practice().unwrap().len(), 2);

    // The CPS3's contactless side (another ATR): no CPS2ter objects.
    let cl = SimCard::builder()
        .profile(Profile::Cps3)
        .persona("dr-martin")
        .interface(cps_sim::Interface::Contactless)
        .build()
        .unwrap();
    let mut cl = CpsCard::open(InProcessChannel::new(cl)).unwrap();
    assert!(
        cl.data_objects()
            .map(|d| d.iter().all(|e| !e.cps2ter))
            .unwrap_or(true)
    );
}
