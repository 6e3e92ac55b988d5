//! Property tests of the parsers: arbitrary and mutated bytes never panic; holder data
//! round-trips through encode → parse.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs,
    reason = "tests"
)]

use std::sync::OnceLock;

use cps_iasecc::pkcs15::{self, Odf, TokenInfo};
use cps_iasecc::{CardFamily, Coded, EfAtr, HolderIdentity, PracticeSituation};
use cps_sim::{Profile, SimCard};
use proptest::prelude::*;

/// Every parser of the crate on the same bytes: none may panic.
fn parse_everything(data: &[u8]) {
    let _ = HolderIdentity::parse(data);
    let _ = PracticeSituation::parse_all(data);
    let _ = Odf::parse(data);
    let _ = TokenInfo::parse(data);
    let _ = pkcs15::parse_aodf(data);
    let _ = pkcs15::parse_prkdf(data);
    let _ = pkcs15::parse_pukdf(data);
    let _ = pkcs15::parse_cdf(data);
    let _ = pkcs15::parse_ef_dir(data);
    let _ = EfAtr::parse(data);
    let _ = cps_iasecc::ecdsa_raw_to_der(data);
}

/// The real files of both simulated profiles, as seeds for mutation.
fn card_files() -> &'static [Vec<u8>] {
    static FILES: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    FILES.get_or_init(|| {
        let mut out = Vec::new();
        for profile in [Profile::Cps3, Profile::Cps4] {
            let sim = SimCard::new(profile, "dr-martin").unwrap();
            for path in sim.file_paths() {
                // Certificates are left to the X.509 parser's own tests.
                if path.last().is_some_and(|f| f & 0xFF00 == 0xC000) {
                    continue;
                }
                out.push(sim.file(&path).unwrap().to_vec());
            }
        }
        out
    })
}

fn text() -> impl Strategy<Value = String> {
    // Any Unicode (the TLV carries UTF-8), short.
    "\\PC{0,24}"
}

fn coded() -> impl Strategy<Value = Coded> {
    (text(), proptest::option::of(text())).prop_map(|(code, label)| Coded { code, label })
}

fn family() -> impl Strategy<Value = CardFamily> {
    prop_oneof![
        Just(CardFamily::Cps),
        Just(CardFamily::Cpf),
        Just(CardFamily::Cpe),
        Just(CardFamily::Cde),
        Just(CardFamily::Cpa),
        Just(CardFamily::Cda),
        // Other codes stay as read (a known code would come back as its variant).
        "[a-z0-9]{0,6}".prop_map(CardFamily::Other),
    ]
}

fn identity() -> impl Strategy<Value = HolderIdentity> {
    (
        family(),
        proptest::option::of(text()),
        text(),
        proptest::option::of(text()),
        proptest::option::of(text()),
        text(),
        proptest::collection::vec(text(), 0..4),
        proptest::option::of(coded()),
        proptest::option::of(coded()),
        any::<bool>(),
    )
        .prop_map(
            |(
                family,
                national_id_type,
                national_id,
                rpps,
                civility,
                family_name,
                given_names,
                profession,
                speciality,
                student,
            )| HolderIdentity {
                family,
                national_id_type,
                national_id,
                rpps,
                civility,
                family_name,
                given_names,
                profession,
                speciality,
                student,
            },
        )
}

fn situation() -> impl Strategy<Value = PracticeSituation> {
    (
        any::<u8>(),
        proptest::option::of(coded()),
        proptest::option::of(coded()),
        proptest::option::of(text()),
        proptest::option::of(text()),
        proptest::option::of(text()),
        proptest::option::of(text()),
    )
        .prop_map(
            |(index, practice_mode, activity_sector, id_type, id, name, city)| PracticeSituation {
                index,
                practice_mode,
                activity_sector,
                structure_id_type: id_type,
                structure_id: id,
                structure_name: name,
                city,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..600)) {
        parse_everything(&data);
    }

    #[test]
    fn mutated_card_files_never_panic(
        which in any::<prop::sample::Index>(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let files = card_files();
        let mut data = files[which.index(files.len())].clone();
        for (at, x) in flips {
            let i = at.index(data.len().max(1));
            if let Some(b) = data.get_mut(i) {
                *b ^= x;
            }
        }
        let keep = cut.index(data.len() + 1);
        parse_everything(&data);
        parse_everything(&data[..keep]);
    }

    #[test]
    fn identity_round_trips(id in identity(), padding in 0usize..4) {
        let mut enc = id.encode();
        enc.extend(std::iter::repeat_n(0xFF, padding));
        prop_assert_eq!(HolderIdentity::parse(&enc).unwrap(), id);
    }

    #[test]
    fn data_object_parsers_never_panic(data in proptest::collection::vec(any::<u8>(), 0..400)) {
        if let Ok(entries) = pkcs15::parse_dodf(&data) {
            for e in entries {
                let _ = e.path.map(|p| p.to_string());
            }
        }
        let _ = PracticeSituation::parse_activity(&data);
        let _ = cps_iasecc::ProfessionalInfo::parse(&data);
    }

    #[test]
    fn type2_unpadding_never_panics(block in proptest::collection::vec(any::<u8>(), 0..300)) {
        // Any block: a message or DecryptionFailed, and a message only from a well-formed block.
        if let Ok(m) = cps_iasecc::pkcs1_type2_unpad(&block) {
            prop_assert_eq!(&block[..2], &[0x00, 0x02]);
            let sep = block.len() - m.len() - 1;
            prop_assert!(sep >= 10);
            prop_assert_eq!(block[sep], 0);
            prop_assert!(block[2..sep].iter().all(|&b| b != 0));
        }
    }

    #[test]
    fn situations_round_trip(sits in proptest::collection::vec(situation(), 0..5)) {
        let enc = PracticeSituation::encode_all(&sits);
        prop_assert_eq!(PracticeSituation::parse_all(&enc).unwrap(), sits);
    }

    #[test]
    fn truncated_holder_data_is_an_error_not_a_panic(id in identity(), cut in any::<prop::sample::Index>()) {
        let enc = id.encode();
        let keep = cut.index(enc.len());
        // Any strict prefix of the template is malformed.
        prop_assert!(HolderIdentity::parse(&enc[..keep]).is_err());
    }
}

#[test]
fn the_card_files_parse() {
    // The seeds themselves are valid: each parses with its own parser.
    let sim = SimCard::new(Profile::Cps4, "dr-martin").unwrap();
    let f = |fid: u16| sim.file(&[0x3F00, 0x0001, fid]).unwrap();
    assert_eq!(Odf::parse(f(0x5031)).unwrap().entries.len(), 4);
    assert!(
        !TokenInfo::parse(f(0x5032))
            .unwrap()
            .supported_algorithms
            .is_empty()
    );
    assert_eq!(pkcs15::parse_aodf(f(0x4401)).unwrap().len(), 2);
    // Two RSA keys, no PuKDF any more (ODF: AODF, PrKDF, CDF, DODF).
    assert_eq!(pkcs15::parse_prkdf(f(0x4402)).unwrap().len(), 2);
    assert_eq!(pkcs15::parse_cdf(f(0x4404)).unwrap().len(), 2);
    let dodf = pkcs15::parse_dodf(f(0x4405)).unwrap();
    assert!(
        dodf.iter()
            .any(|d| d.label.as_deref() == Some("CPS_INFO_PS"))
    );
    assert!(cps_iasecc::ProfessionalInfo::parse(f(0xD113)).is_ok());
    assert_eq!(
        PracticeSituation::parse_activity(f(0xD120)).unwrap().index,
        1
    );
    assert_eq!(
        HolderIdentity::parse(f(0xD001)).unwrap().family_name,
        "MARTIN"
    );
    assert_eq!(PracticeSituation::parse_all(f(0xD002)).unwrap().len(), 2);
    assert_eq!(
        pkcs15::parse_ef_dir(sim.file(&[0x3F00, 0x2F00]).unwrap())
            .unwrap()
            .len(),
        1
    );
}
