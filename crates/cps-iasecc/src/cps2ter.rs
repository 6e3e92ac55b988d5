//! The CPS2ter application of the CPS3 (class `A0`), as the official middleware reads it.
//!
//! On a CPS3 (contact side), Cryptolib CPS 5.2 lists two kinds of data objects that are not in
//! the card's DODF: `CPS_SIT_FACT` (the billing situation, `3F00/7F01/4000`) and one
//! `CPS2TER_ACTIVITY_nn_PS` (`3F00/4010`..`401F`) per `CPS_ACTIVITY_nn_PS` of the DODF, all
//! private (PIN) (`pkcs15.c` `__sc_pkcs15_search_objects`, `__add_cps2ter_sit`, `Sits`,
//! `sit_fact`). It reads them through the CPS2ter application, with class `A0`
//! (`card-cps.c` `cps2ter_internal_select_file`, `cps2ter_select_file`; `iso7816.c`
//! `iso7816_read_binary` with `CPS2TER_FLAG`; `apdu.c`):
//!
//! ```text
//! A0 A4 00 00 02 7F01            → 9F xx          (the MF is never selected)
//! A0 A4 00 00 02 4000            → 9F 07
//! A0 C0 00 00 07                 → 85 05 <size:2> <FID:2> <type> 90 00
//! A0 B0 00 00 <size>             → <value> 90 00
//! ```
//!
//! This module holds what does not need a card: the object list and the SELECT answer's
//! parser. [`crate::CpsCard::data_objects`] adds the objects on a CPS3 contact card and
//! [`crate::CpsCard::read_data_object`] reads them. On a CPS4 the `CPS2TER_*` objects are
//! ordinary DODF entries of the ChipDoc application (ANS PKCS#11 internal specification:
//! "présents physiquement sur la carte CPS4").

use crate::error::{Error, Result};
use crate::pkcs15::{DataObjectEntry, Path};

/// The class byte of the CPS2ter application's commands.
pub const CLA: u8 = 0xA0;

/// `9Fxx`: `xx` bytes of SELECT answer waiting for GET RESPONSE (`card-cps.h`
/// `CPS2TER_SW1_BYTES_AVAILABLE`).
pub const SW1_BYTES_AVAILABLE: u8 = 0x9F;

/// The billing situation's path (`pkcs15.c` `sit_fact`).
pub const SIT_FACT_PATH: [u16; 3] = [0x3F00, 0x7F01, 0x4000];

/// The FID of situation 1's file under the MF (`pkcs15.c` `Sits`: `4010`..`401F`).
pub const FIRST_SITUATION_FID: u16 = 0x4010;

/// What the CPS2ter SELECT answer (`85 L <size> <FID> <type> …`) says about a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileInfo {
    /// Size of an EF in bytes (for a DF, what the card puts there).
    pub size: u16,
    /// File identifier.
    pub fid: u16,
    /// File type byte: `01` MF, `02` DF, `04` EF (`card-cps.c` `cps2ter_process_fci`).
    pub kind: u8,
}

impl FileInfo {
    /// Parses the answer to GET RESPONSE after a SELECT: tag `85`, a length of at least 5,
    /// then size, FID and type (`card-cps.c` `cps2ter_select_file`: any other first byte is
    /// refused).
    pub fn parse(answer: &[u8]) -> Result<Self> {
        const W: &str = "CPS2ter SELECT answer";
        let (&tag, rest) = answer
            .split_first()
            .ok_or_else(|| Error::malformed(W, "empty"))?;
        if tag != 0x85 {
            return Err(Error::malformed(W, format!("tag {tag:02X}, not 85")));
        }
        let (&len, body) = rest
            .split_first()
            .ok_or_else(|| Error::malformed(W, "no length"))?;
        let body = body
            .get(..usize::from(len))
            .ok_or_else(|| Error::malformed(W, "shorter than its length"))?;
        match body {
            [s0, s1, f0, f1, kind, ..] => Ok(FileInfo {
                size: u16::from_be_bytes([*s0, *s1]),
                fid: u16::from_be_bytes([*f0, *f1]),
                kind: *kind,
            }),
            _ => Err(Error::malformed(
                W,
                "fewer than 5 bytes of file information",
            )),
        }
    }

    /// Whether it is an EF.
    pub fn is_ef(&self) -> bool {
        self.kind == 0x04
    }
}

/// The objects Cryptolib adds on a CPS3 beside the DODF's: `CPS_SIT_FACT`, then one
/// `CPS2TER_ACTIVITY_nn_PS` per `CPS_ACTIVITY_nn_PS` (`nn` 01 to 16) of `dodf`, in the DODF's
/// order; private, behind the holder PIN (authId 01), application `CPS`.
pub fn objects(dodf: &[DataObjectEntry]) -> Vec<DataObjectEntry> {
    let entry = |label: String, fids: &[u16]| DataObjectEntry {
        label: Some(label),
        application: Some("CPS".into()),
        private: true,
        modifiable: false,
        auth_id: Some(vec![0x01]),
        path: Some(Path::from_fids(fids)),
        cps2ter: true,
    };
    let mut out = vec![entry("CPS_SIT_FACT".into(), &SIT_FACT_PATH)];
    for d in dodf.iter().filter(|d| !d.cps2ter) {
        let Some(n) = d
            .label
            .as_deref()
            .and_then(|l| l.strip_prefix("CPS_ACTIVITY_"))
            .and_then(|l| l.strip_suffix("_PS"))
            .filter(|n| n.len() == 2)
            .and_then(|n| n.parse::<u16>().ok())
            .filter(|n| (1..=16).contains(n))
        else {
            continue;
        };
        out.push(entry(
            format!("CPS2TER_ACTIVITY_{n:02}_PS"),
            &[0x3F00, FIRST_SITUATION_FID + n - 1],
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn dodf_entry(label: &str) -> DataObjectEntry {
        DataObjectEntry {
            label: Some(label.into()),
            application: Some("CPS".into()),
            private: true,
            modifiable: false,
            auth_id: Some(vec![1]),
            path: None,
            cps2ter: false,
        }
    }

    #[test]
    fn cryptolib_s_list() {
        let dodf = [
            dodf_entry("CPS_NAME_PS"),
            dodf_entry("CPS_ACTIVITY_01_PS"),
            dodf_entry("CPS_ACTIVITY_03_PS"),
            dodf_entry("CPS_ACTIVITY_17_PS"),
            dodf_entry("CPS_ACTIVITY_1_PS"),
        ];
        let o = objects(&dodf);
        let labels: Vec<_> = o.iter().filter_map(|e| e.label.as_deref()).collect();
        assert_eq!(
            labels,
            [
                "CPS_SIT_FACT",
                "CPS2TER_ACTIVITY_01_PS",
                "CPS2TER_ACTIVITY_03_PS"
            ]
        );
        assert_eq!(
            o[0].path.as_ref().map(|p| p.to_string()).as_deref(),
            Some("3F00/7F01/4000")
        );
        assert_eq!(
            o[2].path.as_ref().map(|p| p.to_string()).as_deref(),
            Some("3F00/4012")
        );
        assert!(
            o.iter()
                .all(|e| e.private && e.cps2ter && e.auth_id == Some(vec![1]))
        );
        assert_eq!(objects(&o).len(), 1, "never derived from CPS2ter objects");
    }

    #[test]
    fn select_answers() {
        let f = FileInfo::parse(&[0x85, 0x05, 0x00, 0x2A, 0x40, 0x10, 0x04]).unwrap();
        assert_eq!((f.size, f.fid, f.is_ef()), (42, 0x4010, true));
        let df = FileInfo::parse(&[0x85, 0x06, 0, 0, 0x7F, 0x01, 0x02, 0xFF]).unwrap();
        assert!(!df.is_ef());
        for bad in [
            &[][..],
            &[0x85],
            &[0x62, 0x05, 0, 1, 0x40, 0x10, 0x04],
            &[0x85, 0x04, 0, 1, 0x40, 0x10],
            &[0x85, 0x05, 0, 1, 0x40, 0x10],
        ] {
            assert!(FileInfo::parse(bad).is_err(), "{bad:02X?}");
        }
    }

    proptest! {
        #[test]
        fn select_answer_parse_never_panics(data in proptest::collection::vec(any::<u8>(), 0..40)) {
            if let Ok(f) = FileInfo::parse(&data) {
                prop_assert_eq!(data.first(), Some(&0x85));
                prop_assert!(data.len() >= 7);
                let fid = f.fid.to_be_bytes();
                prop_assert_eq!(data.get(4..6), Some(fid.as_slice()));
            }
        }
    }
}
