//! cps-iasecc's PKCS#15 parsers (ODF, TokenInfo, AODF, PrKDF with ISO 7816-15 paths by AID,
//! the CPS2ter SELECT answer,
//! PuKDF, CDF, DODF), the CPS data objects, EF.DIR, EF.ATR and the PKCS#1 type-2 unpadding of a CPS4 decryption on
//! arbitrary bytes, and the directory snapshot a client keeps on disk
//! (`cps_iasecc::snapshot`): no panic, and what parses is consistent.
#![no_main]
use cps_iasecc::pkcs15::{self, Odf, TokenInfo};
use cps_iasecc::snapshot::DirectorySnapshot;
use cps_iasecc::{EfAtr, KeyInfo};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // A snapshot file (magic 8 bytes, generation, serial length, serial, files): what
    // decodes is within the bounds and survives a round trip.
    let serial_len = usize::from(data.get(9).copied().unwrap_or(0));
    let serial = data.get(10..10 + serial_len).unwrap_or_default();
    for g in [cps_iasecc::Generation::Cps3, cps_iasecc::Generation::Cps4] {
        if let Ok(s) = DirectorySnapshot::decode(data, serial, g) {
            assert!(s.files().all(|(_, f)| f.len() <= cps_iasecc::snapshot::MAX_FILE));
            assert_eq!(DirectorySnapshot::decode(&s.encode(serial, g), serial, g), Ok(s));
        }
    }
    if let Ok(odf) = Odf::parse(data) {
        for (_, path) in &odf.entries {
            let _ = path.to_string();
            let _ = path.resolve(&pkcs15::Path::from_fids(&[0x3F00, 0x0001]));
            let _ = path.parent();
        }
    }
    if let Ok(ti) = TokenInfo::parse(data) {
        let _ = ti.serial_hex();
        for a in &ti.supported_algorithms {
            assert_eq!(
                ti.algorithm(a.reference).map(|x| x.reference),
                Some(a.reference)
            );
        }
    }
    // The CPS2ter application's SELECT answer (class A0, CPS3).
    if let Ok(f) = cps_iasecc::cps2ter::FileInfo::parse(data) {
        assert_eq!(data.get(4..6), Some(f.fid.to_be_bytes().as_slice()));
    }
    let _ = pkcs15::parse_aodf(data);
    for entries in [pkcs15::parse_prkdf(data), pkcs15::parse_pukdf(data)] {
        if let Ok(entries) = entries {
            for e in &entries {
                if let Some(k) = KeyInfo::from_entry(e) {
                    assert_eq!(Some(u32::from(k.reference)), e.key_reference);
                    let _ = k.algorithm.signature_len();
                }
            }
        }
    }
    let _ = pkcs15::parse_cdf(data);
    let _ = pkcs15::parse_dodf(data);
    let _ = cps_iasecc::PracticeSituation::parse_activity(data);
    let _ = cps_iasecc::ProfessionalInfo::parse(data);
    let _ = pkcs15::parse_ef_dir(data);
    let _ = EfAtr::parse(data);
    if let Ok(m) = cps_iasecc::pkcs1_type2_unpad(data) {
        assert!(data.starts_with(&[0x00, 0x02]));
        assert!(m.len() + 11 <= data.len());
        assert_eq!(data.get(data.len() - m.len() - 1), Some(&0x00));
    }
});
