//! The card's PKCS#15 directory files, kept between sessions to spare their APDUs.
//!
//! Opening a card costs little; what costs APDUs before a signature is reading the PKCS#15
//! directory files (EF.TokenInfo, EF.ODF, the PrKDF…: three APDUs each on a T=0 card,
//! SELECT, GET RESPONSE, READ BINARY). They describe the card's structure, not its
//! certificates or data, and they change only when the card is personalised or updated. A
//! client that sees the same card again (same serial) may give them back with
//! [`CpsCard::preload_directory`](crate::CpsCard::preload_directory) instead of reading them;
//! the official middleware keeps the same files on disk per card serial (Cryptolib
//! `pkcs15-cache.c`, `/etc/opt/santesocial/CPS/cache`).
//!
//! What is kept: EF.TokenInfo, EF.ODF, the AODF, PrKDF, CDF and DODF, as the card gave them.
//! Never kept: certificates, data object values, PIN state. A [`DirectorySnapshot`] is
//! encoded with [`DirectorySnapshot::encode`] (its card's serial and generation inside) and
//! decoded with [`DirectorySnapshot::decode`], which refuses bytes made for another card,
//! another version of this format, or anything malformed; each file is parsed again by the
//! same parsers as a card's answer when preloaded.
//!
//! On disk ([`default_dir`], [`load`], [`store`], [`forget`]): one file per card,
//! `<EF.SN in hex>.p15`, in `CPS_CACHE_DIR`, else `$XDG_CACHE_HOME/cps-rs/pkcs15`, else
//! `$HOME/.cache/cps-rs/pkcs15`; `CPS_CACHE=0` turns it off. Directory `0700`, files
//! `0600`, written whole (a temporary file renamed). The PKCS#11 module keeps its snapshots
//! there; `cps update` removes them after updating a card ([`forget_all`]).
//!
//! ```
//! use cps_iasecc::snapshot::{DirectorySnapshot, DirFile};
//! use cps_iasecc::Generation;
//!
//! let mut s = DirectorySnapshot::default();
//! s.insert(DirFile::Odf, vec![0xA8, 0x06, 0x30, 0x04, 0x04, 0x02, 0x44, 0x02]);
//! let bytes = s.encode(b"\x80\x25\x00\x00\x01", Generation::Cps4);
//! let back = DirectorySnapshot::decode(&bytes, b"\x80\x25\x00\x00\x01", Generation::Cps4).unwrap();
//! assert_eq!(back, s);
//! // Another card's serial: refused.
//! assert!(DirectorySnapshot::decode(&bytes, b"\x80\x25\x00\x00\x02", Generation::Cps4).is_err());
//! ```

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read as _, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use crate::{CardSerial, Generation};

/// Environment variable: `0` turns the on-disk snapshots off ([`default_dir`] is `None`).
pub const CACHE_ENV: &str = "CPS_CACHE";
/// Environment variable: the directory of the on-disk snapshots.
pub const CACHE_DIR_ENV: &str = "CPS_CACHE_DIR";

/// The first bytes of an encoded snapshot: name and format version.
const MAGIC: &[u8; 8] = b"CPSP15\x00\x01";

/// Longest file kept (and longest serial accepted): an EF of the CPS is far smaller.
pub const MAX_FILE: usize = 16 * 1024;

/// Longest encoded snapshot [`DirectorySnapshot::decode`] accepts.
pub const MAX_ENCODED: usize = MAGIC.len() + 2 + 64 + 6 * (3 + MAX_FILE);

/// One of the directory files a snapshot may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DirFile {
    /// EF.TokenInfo (label, serial, algorithms).
    TokenInfo,
    /// EF.ODF (where the other directory files are).
    Odf,
    /// The AODF (PIN objects).
    Aodf,
    /// The PrKDF (private keys).
    Prkdf,
    /// The CDF (certificates: labels, iDs, paths; not the certificates).
    Cdf,
    /// The DODF (data objects: labels, paths; not their values).
    Dodf,
}

impl DirFile {
    /// Every kind, in encoding order.
    pub const ALL: [DirFile; 6] = [
        DirFile::TokenInfo,
        DirFile::Odf,
        DirFile::Aodf,
        DirFile::Prkdf,
        DirFile::Cdf,
        DirFile::Dodf,
    ];

    fn tag(self) -> u8 {
        match self {
            DirFile::TokenInfo => 1,
            DirFile::Odf => 2,
            DirFile::Aodf => 3,
            DirFile::Prkdf => 4,
            DirFile::Cdf => 5,
            DirFile::Dodf => 6,
        }
    }

    fn from_tag(tag: u8) -> Option<DirFile> {
        DirFile::ALL.into_iter().find(|f| f.tag() == tag)
    }
}

/// Why encoded snapshot bytes were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    /// Not this format or not this version of it.
    #[error("not a directory snapshot of this version")]
    Format,
    /// Made for another card (serial or generation).
    #[error("directory snapshot of another card")]
    OtherCard,
    /// Cut short, too long, a file twice, an unknown file or trailing bytes.
    #[error("malformed directory snapshot: {0}")]
    Malformed(&'static str),
}

/// PKCS#15 directory files of one card, as the card gave them (see the module docs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DirectorySnapshot {
    files: BTreeMap<DirFile, Vec<u8>>,
}

impl DirectorySnapshot {
    /// The bytes of one file, when held.
    pub fn get(&self, file: DirFile) -> Option<&[u8]> {
        self.files.get(&file).map(Vec::as_slice)
    }

    /// Holds `data` as `file` (replacing it); a file longer than [`MAX_FILE`] is not held.
    pub fn insert(&mut self, file: DirFile, data: Vec<u8>) {
        if data.len() <= MAX_FILE {
            self.files.insert(file, data);
        }
    }

    /// Whether no file is held.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// How many files are held.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// The files held, in encoding order.
    pub fn files(&self) -> impl Iterator<Item = (DirFile, &[u8])> {
        self.files.iter().map(|(k, v)| (*k, v.as_slice()))
    }

    /// Encodes the snapshot for the card with this serial (EF.SN bytes) and generation:
    /// magic and version, generation, serial, then each file as tag, length (2 bytes), bytes.
    pub fn encode(&self, serial: &[u8], generation: Generation) -> Vec<u8> {
        let serial = serial.get(..serial.len().min(64)).unwrap_or_default();
        let mut out = Vec::with_capacity(
            MAGIC.len()
                + 2
                + serial.len()
                + self.files.values().map(|f| 3 + f.len()).sum::<usize>(),
        );
        out.extend_from_slice(MAGIC);
        out.push(generation_byte(generation));
        // Both bounded above (64, MAX_FILE), so the casts cannot truncate.
        out.push(u8::try_from(serial.len()).unwrap_or(0));
        out.extend_from_slice(serial);
        for (file, data) in &self.files {
            out.push(file.tag());
            out.extend_from_slice(&u16::try_from(data.len()).unwrap_or(0).to_be_bytes());
            out.extend_from_slice(data);
        }
        out
    }

    /// Decodes bytes made by [`DirectorySnapshot::encode`] for this card. Bounded: at most
    /// [`MAX_ENCODED`] bytes, each file at most [`MAX_FILE`], each kind once.
    pub fn decode(
        bytes: &[u8],
        serial: &[u8],
        generation: Generation,
    ) -> Result<DirectorySnapshot, SnapshotError> {
        if bytes.len() > MAX_ENCODED {
            return Err(SnapshotError::Malformed("too long"));
        }
        let rest = bytes.strip_prefix(MAGIC).ok_or(SnapshotError::Format)?;
        let (&g, rest) = rest
            .split_first()
            .ok_or(SnapshotError::Malformed("cut short"))?;
        let (&n, rest) = rest
            .split_first()
            .ok_or(SnapshotError::Malformed("cut short"))?;
        let n = usize::from(n);
        let (sn, mut rest) = rest
            .split_at_checked(n)
            .ok_or(SnapshotError::Malformed("cut short"))?;
        if g != generation_byte(generation)
            || sn != serial.get(..serial.len().min(64)).unwrap_or_default()
        {
            return Err(SnapshotError::OtherCard);
        }
        let mut files = BTreeMap::new();
        while let Some((&tag, r)) = rest.split_first() {
            let file = DirFile::from_tag(tag).ok_or(SnapshotError::Malformed("unknown file"))?;
            let (len, r) = r
                .split_at_checked(2)
                .ok_or(SnapshotError::Malformed("cut short"))?;
            let len = usize::from(u16::from_be_bytes([
                len.first().copied().unwrap_or(0),
                len.get(1).copied().unwrap_or(0),
            ]));
            if len > MAX_FILE {
                return Err(SnapshotError::Malformed("file too long"));
            }
            let (data, r) = r
                .split_at_checked(len)
                .ok_or(SnapshotError::Malformed("cut short"))?;
            if files.insert(file, data.to_vec()).is_some() {
                return Err(SnapshotError::Malformed("a file twice"));
            }
            rest = r;
        }
        Ok(DirectorySnapshot { files })
    }
}

/// The directory of the on-disk snapshots from the environment (see the module docs), or
/// `None` when turned off or without a home directory.
pub fn default_dir() -> Option<PathBuf> {
    if std::env::var_os(CACHE_ENV).is_some_and(|v| v == "0") {
        return None;
    }
    let non_empty = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(d) = non_empty(CACHE_DIR_ENV) {
        return Some(d);
    }
    non_empty("XDG_CACHE_HOME")
        .filter(|p| p.is_absolute())
        .or_else(|| non_empty("HOME").map(|h| h.join(".cache")))
        .filter(|p| p.is_absolute())
        .map(|c| c.join("cps-rs").join("pkcs15"))
}

/// The snapshot file of a card in `dir`.
pub fn file_of(dir: &Path, serial: &CardSerial) -> PathBuf {
    dir.join(format!("{}.p15", serial.hex()))
}

/// Why an on-disk snapshot was not used or not written.
#[derive(Debug, thiserror::Error)]
pub enum DiskError {
    /// Reading or writing the file.
    #[error("snapshot file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The file was refused (and removed).
    #[error("snapshot file {path} refused: {source}")]
    Refused {
        /// The file.
        path: PathBuf,
        /// Why.
        source: SnapshotError,
    },
}

/// The snapshot kept in `dir` for this card: `Ok(None)` when there is none; a file that is
/// not this card's valid snapshot is removed ([`DiskError::Refused`]). Reads at most
/// [`MAX_ENCODED`] + 1 bytes.
pub fn load(
    dir: &Path,
    serial: &CardSerial,
    generation: Generation,
) -> Result<Option<DirectorySnapshot>, DiskError> {
    let path = file_of(dir, serial);
    let io = |source| DiskError::Io {
        path: path.clone(),
        source,
    };
    let file = match fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(e)),
    };
    let mut bytes = Vec::new();
    // One byte more than allowed tells a file too long.
    let limit = u64::try_from(MAX_ENCODED)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    file.take(limit).read_to_end(&mut bytes).map_err(io)?;
    match DirectorySnapshot::decode(&bytes, serial.as_bytes(), generation) {
        Ok(s) => Ok(Some(s)),
        Err(source) => {
            forget(dir, serial);
            Err(DiskError::Refused { path, source })
        }
    }
}

/// Keeps the snapshot of this card in `dir` (created `0700` if needed), replacing the file
/// whole (temporary file `0600`, then renamed).
pub fn store(
    dir: &Path,
    serial: &CardSerial,
    generation: Generation,
    snapshot: &DirectorySnapshot,
) -> Result<(), DiskError> {
    let path = file_of(dir, serial);
    let tmp = dir.join(format!(".{}.{}.tmp", serial.hex(), std::process::id()));
    let written = (|| {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(&snapshot.encode(serial.as_bytes(), generation))?;
        f.sync_all()?;
        fs::rename(&tmp, &path)
    })();
    written.map_err(|source| {
        let _ = fs::remove_file(&tmp);
        DiskError::Io { path, source }
    })
}

/// Removes the snapshot file of this card from `dir` (nothing if there is none).
pub fn forget(dir: &Path, serial: &CardSerial) {
    let _ = fs::remove_file(file_of(dir, serial));
}

/// Removes every card's snapshot file from `dir` (e.g. after updating a card whose serial
/// was not read); returns how many were removed.
pub fn forget_all(dir: &Path) -> usize {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "p15"))
        .filter(|p| fs::remove_file(p).is_ok())
        .count()
}

fn generation_byte(g: Generation) -> u8 {
    match g {
        Generation::Cps3 => 3,
        Generation::Cps4 => 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn arb_snapshot() -> impl Strategy<Value = DirectorySnapshot> {
        proptest::collection::btree_map(
            proptest::sample::select(DirFile::ALL.to_vec()),
            proptest::collection::vec(any::<u8>(), 0..300),
            0..6,
        )
        .prop_map(|files| DirectorySnapshot { files })
    }

    proptest! {
        #[test]
        fn round_trips(s in arb_snapshot(), serial in proptest::collection::vec(any::<u8>(), 0..20)) {
            let bytes = s.encode(&serial, Generation::Cps3);
            prop_assert_eq!(DirectorySnapshot::decode(&bytes, &serial, Generation::Cps3), Ok(s.clone()));
            prop_assert_eq!(
                DirectorySnapshot::decode(&bytes, &serial, Generation::Cps4),
                Err(SnapshotError::OtherCard)
            );
            // Every shorter prefix past the header is refused or is a snapshot with fewer
            // files: never a panic, never a file that was not there.
            for cut in 0..bytes.len() {
                if let Ok(d) = DirectorySnapshot::decode(&bytes[..cut], &serial, Generation::Cps3) {
                    for (f, data) in d.files() {
                        prop_assert_eq!(s.get(f), Some(data));
                    }
                }
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = DirectorySnapshot::decode(&bytes, b"", Generation::Cps4);
            let mut b = MAGIC.to_vec();
            b.extend_from_slice(&[4, 0]);
            b.extend_from_slice(&bytes);
            if let Ok(s) = DirectorySnapshot::decode(&b, b"", Generation::Cps4) {
                prop_assert!(s.files().all(|(_, d)| d.len() <= MAX_FILE));
            }
        }
    }

    #[test]
    fn kept_on_disk_privately_and_refused_files_removed() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = std::env::temp_dir().join(format!("cps-snapshot-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let serial = CardSerial(b"\x80\x25\x00\x00\x01\x40".to_vec());
        let mut s = DirectorySnapshot::default();
        s.insert(DirFile::Odf, vec![0xA8, 0x00]);
        assert!(matches!(load(&dir, &serial, Generation::Cps4), Ok(None)));
        store(&dir, &serial, Generation::Cps4, &s).unwrap();
        let file = file_of(&dir, &serial);
        assert_eq!(
            fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
        assert_eq!(
            load(&dir, &serial, Generation::Cps4).unwrap(),
            Some(s.clone())
        );
        // Another generation under the same name: refused and removed.
        assert!(matches!(
            load(&dir, &serial, Generation::Cps3),
            Err(DiskError::Refused {
                source: SnapshotError::OtherCard,
                ..
            })
        ));
        assert!(!file.exists());
        // Too long: refused without reading it all.
        fs::write(&file, vec![0u8; MAX_ENCODED + 10]).unwrap();
        assert!(matches!(
            load(&dir, &serial, Generation::Cps4),
            Err(DiskError::Refused { .. })
        ));
        store(&dir, &serial, Generation::Cps4, &s).unwrap();
        fs::write(dir.join("other.txt"), b"x").unwrap();
        assert_eq!(forget_all(&dir), 1);
        assert!(dir.join("other.txt").exists());
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn refuses_what_is_not_for_this_card() {
        let mut s = DirectorySnapshot::default();
        s.insert(DirFile::Prkdf, vec![1, 2, 3]);
        let bytes = s.encode(b"SN1", Generation::Cps4);
        assert_eq!(
            DirectorySnapshot::decode(&bytes, b"SN2", Generation::Cps4),
            Err(SnapshotError::OtherCard)
        );
        let mut wrong_version = bytes.clone();
        wrong_version[7] = 2;
        assert_eq!(
            DirectorySnapshot::decode(&wrong_version, b"SN1", Generation::Cps4),
            Err(SnapshotError::Format)
        );
        let mut twice = bytes.clone();
        twice.extend_from_slice(&[4, 0, 0]);
        assert_eq!(
            DirectorySnapshot::decode(&twice, b"SN1", Generation::Cps4),
            Err(SnapshotError::Malformed("a file twice"))
        );
        let mut unknown = bytes;
        unknown.extend_from_slice(&[9, 0, 0]);
        assert_eq!(
            DirectorySnapshot::decode(&unknown, b"SN1", Generation::Cps4),
            Err(SnapshotError::Malformed("unknown file"))
        );
        let mut big = DirectorySnapshot::default();
        big.insert(DirFile::Cdf, vec![0; MAX_FILE + 1]);
        assert!(big.is_empty());
    }
}
