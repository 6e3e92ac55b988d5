//! PKCS#15 (ISO/IEC 7816-15) directory files of the CPS IAS-ECC application: ODF, TokenInfo,
//! AODF, PrKDF, PuKDF and CDF.
//!
//! The structures are those of PKCS#15 v1.1 (RSA Laboratories, 2000) §6 and ISO/IEC 7816-15
//! as OpenSC 0.23 reads and writes them (`pkcs15.c`, `pkcs15-prkey.c`, `pkcs15-pin.c`,
//! `pkcs15-cert.c`); the field layout of the CPS cards is in docs/card-layout.md ("PKCS#15")
//! and /work/research/opensc-iasecc-flows.md §2. Parsers return
//! [`Error::Malformed`] on bad input and never panic; unknown optional
//! fields and unknown CHOICE alternatives are skipped.

mod asn1;

use crate::error::{Error, Result};
use asn1::El;

/// A file path on the card: FIDs concatenated, absolute when it starts with `3F00`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Path(Vec<u8>);

impl Path {
    /// A path from its bytes.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Path(bytes.into())
    }

    /// A path from file identifiers, e.g. `[0x3F00, 0x0001, 0x4401]`.
    pub fn from_fids(fids: &[u16]) -> Self {
        Path(fids.iter().flat_map(|f| f.to_be_bytes()).collect())
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The file identifiers (an odd last byte is dropped).
    pub fn fids(&self) -> Vec<u16> {
        self.0
            .chunks_exact(2)
            .map(|c| match c {
                [a, b] => u16::from_be_bytes([*a, *b]),
                _ => 0,
            })
            .collect()
    }

    /// Whether the path starts at the MF (`3F00`).
    pub fn is_absolute(&self) -> bool {
        self.0.starts_with(&[0x3F, 0x00])
    }

    /// This path made absolute: relative paths are appended to `app` (PKCS#15 v1.1 §6.3,
    /// as OpenSC `sc_pkcs15_read_file` does).
    pub fn resolve(&self, app: &Path) -> Path {
        if self.is_absolute() {
            self.clone()
        } else {
            let mut p = app.0.clone();
            p.extend_from_slice(&self.0);
            Path(p)
        }
    }

    /// The path of the DF holding this file (the path without its last FID).
    pub fn parent(&self) -> Path {
        Path(
            self.0
                .get(..self.0.len().saturating_sub(2))
                .unwrap_or(&[])
                .to_vec(),
        )
    }
}

impl std::fmt::Display for Path {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, chunk) in self.0.chunks(2).enumerate() {
            if i > 0 {
                f.write_str("/")?;
            }
            for b in chunk {
                write!(f, "{b:02X}")?;
            }
        }
        Ok(())
    }
}

impl std::fmt::Debug for Path {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Path({self})")
    }
}

/// Decodes a PKCS#15 `Path ::= SEQUENCE { efidOrPath OCTET STRING, index INTEGER OPTIONAL,
/// length [0] INTEGER OPTIONAL, aid [APPLICATION 15] OCTET STRING OPTIONAL }` (PKCS#15 v1.1
/// §6.1.8, ISO/IEC 7816-15 §8.4.6). An empty SEQUENCE (allowed by OpenSC) gives `None`.
///
/// The CPS cards name the DF of their keys by AID with an empty `efidOrPath` (`04 00 4F 0D
/// <AID>`, a real CPS3 PrKDF); that path resolves to the application DF itself, the only DF
/// named by that AID.
fn path_of(what: &'static str, seq: &El<'_>) -> Result<Option<Path>> {
    if seq.tag != 0x30 {
        return Ok(None);
    }
    if seq.value.is_empty() {
        return Ok(None);
    }
    let parts = seq.children(what)?;
    let mut it = parts.iter();
    let path = it
        .next()
        .filter(|e| e.tag == 0x04)
        .ok_or_else(|| Error::malformed(what, "path: efidOrPath OCTET STRING missing"))?;
    for e in it {
        match e.tag {
            0x02 | 0x80 => {
                e.uint(what)?;
            }
            0x4F => {}
            t => {
                return Err(Error::malformed(
                    what,
                    format!("path: unexpected element with tag {t:02X}"),
                ));
            }
        }
    }
    Ok(Some(Path(path.value.to_vec())))
}

/// Bit flags with named accessors.
macro_rules! flags {
    ($(#[$doc:meta])* $name:ident { $( $(#[$fdoc:meta])* $method:ident = $bit:expr; )* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub struct $name(pub u64);
        impl $name {
            $( $(#[$fdoc])* pub fn $method(self) -> bool { self.0 & (1u64 << $bit) != 0 } )*
        }
    };
}

flags! {
    /// `KeyUsageFlags` (PKCS#15 v1.1 §6.2.6), bit n = `1 << n`.
    KeyUsageFlags {
        /// encrypt (0).
        encrypt = 0;
        /// decrypt (1).
        decrypt = 1;
        /// sign (2).
        sign = 2;
        /// signRecover (3).
        sign_recover = 3;
        /// wrap (4).
        wrap = 4;
        /// unwrap (5).
        unwrap = 5;
        /// verify (6).
        verify = 6;
        /// verifyRecover (7).
        verify_recover = 7;
        /// derive (8).
        derive = 8;
        /// nonRepudiation (9).
        non_repudiation = 9;
    }
}

flags! {
    /// `TokenFlags` (PKCS#15 v1.1 §6.9).
    TokenFlags {
        /// readonly (0).
        read_only = 0;
        /// loginRequired (1).
        login_required = 1;
        /// prnGeneration (2).
        prn_generation = 2;
        /// eidCompliant (3).
        eid_compliant = 3;
    }
}

flags! {
    /// `PinFlags` (PKCS#15 v1.1 §6.8.4).
    PinFlags {
        /// case-sensitive (0).
        case_sensitive = 0;
        /// local (1): the PIN belongs to the application DF, not the MF.
        local = 1;
        /// change-disabled (2).
        change_disabled = 2;
        /// unblock-disabled (3).
        unblock_disabled = 3;
        /// initialized (4).
        initialized = 4;
        /// needs-padding (5).
        needs_padding = 5;
        /// unblockingPin (6): this object is a PUK.
        unblocking_pin = 6;
        /// soPin (7).
        so_pin = 7;
    }
}

flags! {
    /// `supportedOperations` of an `AlgorithmInfo` (PKCS#15 v1.1 §6.9).
    AlgorithmOperations {
        /// compute-checksum (0).
        compute_checksum = 0;
        /// compute-signature (1).
        compute_signature = 1;
        /// verify-checksum (2).
        verify_checksum = 2;
        /// verify-signature (3).
        verify_signature = 3;
        /// encipher (4).
        encipher = 4;
        /// decipher (5).
        decipher = 5;
        /// hash (6).
        hash = 6;
        /// generate-key (7).
        generate_key = 7;
    }
}

/// The kinds of directory the ODF points to (`PKCS15Objects` CHOICE, PKCS#15 v1.1 §6.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DirectoryKind {
    /// `[0]` PrKDF.
    PrivateKeys,
    /// `[1]` PuKDF.
    PublicKeys,
    /// `[2]` trusted public keys.
    TrustedPublicKeys,
    /// `[3]` SKDF.
    SecretKeys,
    /// `[4]` CDF.
    Certificates,
    /// `[5]` trusted certificates.
    TrustedCertificates,
    /// `[6]` useful certificates.
    UsefulCertificates,
    /// `[7]` DODF.
    DataObjects,
    /// `[8]` AODF.
    AuthObjects,
}

impl DirectoryKind {
    fn from_number(n: u8) -> Option<Self> {
        use DirectoryKind::*;
        Some(match n {
            0 => PrivateKeys,
            1 => PublicKeys,
            2 => TrustedPublicKeys,
            3 => SecretKeys,
            4 => Certificates,
            5 => TrustedCertificates,
            6 => UsefulCertificates,
            7 => DataObjects,
            8 => AuthObjects,
            _ => return None,
        })
    }
}

/// EF.ODF: where the directory files are.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Odf {
    /// Directory files in ODF order (only the `path` form; directly embedded objects are
    /// not used by CPS cards and are skipped).
    pub entries: Vec<(DirectoryKind, Path)>,
}

impl Odf {
    /// Parses EF.ODF: `Ax { 30 { 04 path } }` entries, padding after them allowed.
    pub fn parse(data: &[u8]) -> Result<Self> {
        const W: &str = "ODF";
        let mut out = Odf::default();
        for el in asn1::file_elements(W, data)? {
            // Context-specific constructed [0]..[8] (0xA0..0xA8): a CHOICE, so explicitly tagged.
            if el.tag & 0xE0 != 0xA0 {
                continue;
            }
            let Some(kind) = DirectoryKind::from_number(el.tag & 0x1F) else {
                continue;
            };
            for inner in el.children(W)? {
                if let Some(path) = path_of(W, &inner)? {
                    out.entries.push((kind, path));
                }
            }
        }
        Ok(out)
    }

    /// The first directory of a kind.
    pub fn first(&self, kind: DirectoryKind) -> Option<&Path> {
        self.entries
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, p)| p)
    }
}

/// One `AlgorithmInfo` of TokenInfo's supportedAlgorithms (PKCS#15 v1.1 §6.9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlgorithmInfo {
    /// The reference that key entries (`algReference`) use.
    pub reference: u32,
    /// The PKCS#11 mechanism, e.g. `0x40` CKM_SHA256_RSA_PKCS.
    pub mechanism: u32,
    /// What the card does with it.
    pub operations: AlgorithmOperations,
    /// The algorithm's OID, when given.
    pub object_id: Option<String>,
    /// The card's own algorithm reference (MSE `80 01 <algRef>`), when given.
    pub card_reference: Option<u32>,
}

/// EF.TokenInfo.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TokenInfo {
    /// Version (0 = v1).
    pub version: u32,
    /// Serial number (the card serial of EF.SN on CPS cards).
    pub serial_number: Vec<u8>,
    /// Manufacturer.
    pub manufacturer_id: Option<String>,
    /// Token label, e.g. "CPS3 dr-martin".
    pub label: Option<String>,
    /// Token flags.
    pub flags: TokenFlags,
    /// Algorithms the card supports.
    pub supported_algorithms: Vec<AlgorithmInfo>,
}

impl TokenInfo {
    /// Parses EF.TokenInfo.
    pub fn parse(data: &[u8]) -> Result<Self> {
        const W: &str = "TokenInfo";
        let top = asn1::file_elements(W, data)?;
        let seq = top
            .into_iter()
            .find(|e| e.tag == 0x30)
            .ok_or_else(|| Error::malformed(W, "no SEQUENCE"))?;
        let fields = seq.children(W)?;
        let mut it = fields.iter();
        let version = match it.next() {
            Some(e) if e.tag == 0x02 => e.uint(W)?,
            _ => return Err(Error::malformed(W, "version INTEGER missing")),
        };
        let serial_number = match it.next() {
            Some(e) if e.tag == 0x04 => e.octets(W)?.to_vec(),
            _ => return Err(Error::malformed(W, "serialNumber missing")),
        };
        let mut out = TokenInfo {
            version,
            serial_number,
            ..TokenInfo::default()
        };
        let mut flags_seen = false;
        for e in it {
            match e.tag {
                // manufacturerID Label (UTF8String); a second UTF8String is taken as the label
                // (the "label-tw" form OpenSC also reads).
                0x0C if out.manufacturer_id.is_none() => out.manufacturer_id = Some(e.string(W)?),
                0x0C if out.label.is_none() => out.label = Some(e.string(W)?),
                // label [0] Label.
                0x80 => out.label = Some(e.string(W)?),
                0x03 if !flags_seen => {
                    out.flags = TokenFlags(e.bits(W)?);
                    flags_seen = true;
                }
                // supportedAlgorithms [2] SEQUENCE OF AlgorithmInfo.
                0xA2 => {
                    for alg in e.children(W)? {
                        if alg.tag == 0x30 {
                            out.supported_algorithms.push(algorithm_info(&alg)?);
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(out)
    }

    /// The serial number in upper-case hex.
    pub fn serial_hex(&self) -> String {
        self.serial_number
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect()
    }

    /// The entry with this reference.
    pub fn algorithm(&self, reference: u32) -> Option<&AlgorithmInfo> {
        self.supported_algorithms
            .iter()
            .find(|a| a.reference == reference)
    }
}

fn algorithm_info(seq: &El<'_>) -> Result<AlgorithmInfo> {
    const W: &str = "TokenInfo AlgorithmInfo";
    let f = seq.children(W)?;
    let int = |i: usize, name: &str| -> Result<u32> {
        match f.get(i) {
            Some(e) if e.tag == 0x02 => e.uint(W),
            _ => Err(Error::malformed(W, format!("{name} INTEGER missing"))),
        }
    };
    let reference = int(0, "reference")?;
    let mechanism = int(1, "algorithm")?;
    // parameters (any type, usually NULL), then supportedOperations.
    let (ops_at, ops) = match (f.get(2), f.get(3)) {
        (Some(p), _) if p.tag == 0x03 => (2, p),
        (Some(_), Some(o)) if o.tag == 0x03 => (3, o),
        _ => return Err(Error::malformed(W, "supportedOperations missing")),
    };
    let mut info = AlgorithmInfo {
        reference,
        mechanism,
        operations: AlgorithmOperations(ops.bits(W)?),
        object_id: None,
        card_reference: None,
    };
    for e in f.iter().skip(ops_at + 1) {
        match e.tag {
            0x06 => info.object_id = Some(e.oid(W)?),
            0x02 => info.card_reference = Some(e.uint(W)?),
            _ => {}
        }
    }
    Ok(info)
}

/// `CommonObjectAttributes` (PKCS#15 v1.1 §6.1.9).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CommonObject {
    /// Label.
    pub label: Option<String>,
    /// Flags: private (0), modifiable (1).
    pub flags: u64,
    /// The authentication object protecting this one (e.g. the holder PIN's authId).
    pub auth_id: Option<Vec<u8>>,
}

fn common_object(seq: &El<'_>, what: &'static str) -> Result<CommonObject> {
    let mut out = CommonObject::default();
    if seq.tag != 0x30 {
        return Err(Error::malformed(what, "CommonObjectAttributes missing"));
    }
    for e in seq.children(what)? {
        match e.tag {
            0x0C if out.label.is_none() => out.label = Some(e.string(what)?),
            0x03 => out.flags = e.bits(what)?,
            0x04 if out.auth_id.is_none() => out.auth_id = Some(e.octets(what)?.to_vec()),
            _ => {}
        }
    }
    Ok(out)
}

/// A PIN object of the AODF (PKCS#15 v1.1 §6.8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinObject {
    /// Label, e.g. "Code porteur".
    pub label: Option<String>,
    /// This object's authId.
    pub auth_id: Vec<u8>,
    /// The authId of the object that unblocks this one (the PUK, for the holder PIN).
    pub unblocked_by: Option<Vec<u8>>,
    /// PIN flags.
    pub flags: PinFlags,
    /// pinType: 0 bcd, 1 ascii-numeric, 2 utf8, 3 half-nibble-bcd, 4 iso9564-1.
    pub pin_type: u32,
    /// Minimum length.
    pub min_length: u32,
    /// Stored length.
    pub stored_length: u32,
    /// Maximum length (stored length when absent).
    pub max_length: Option<u32>,
    /// The reference VERIFY uses in P2.
    pub reference: Option<u32>,
    /// Padding character.
    pub pad_char: Option<u8>,
    /// Path of the DF the PIN belongs to.
    pub path: Option<Path>,
}

impl PinObject {
    /// Whether this object is an unblocking PIN (PUK).
    pub fn is_puk(&self) -> bool {
        self.flags.unblocking_pin()
    }
}

/// Parses EF.AODF: the PIN objects (other authentication objects are skipped).
pub fn parse_aodf(data: &[u8]) -> Result<Vec<PinObject>> {
    const W: &str = "AODF";
    let mut out = Vec::new();
    for obj in asn1::file_elements(W, data)? {
        // pin PinObject is the untagged SEQUENCE alternative of AuthenticationType.
        if obj.tag != 0x30 {
            continue;
        }
        let parts = obj.children(W)?;
        let common = common_object(
            parts
                .first()
                .ok_or_else(|| Error::malformed(W, "empty object"))?,
            W,
        )?;
        let auth_id = match parts.get(1) {
            Some(c) if c.tag == 0x30 => c
                .child(W, 0x04)?
                .map(|id| id.octets(W).map(<[u8]>::to_vec))
                .transpose()?
                .unwrap_or_default(),
            _ => {
                return Err(Error::malformed(
                    W,
                    "CommonAuthenticationObjectAttributes missing",
                ));
            }
        };
        let attrs = parts
            .iter()
            .find(|p| p.tag == 0xA1)
            .ok_or_else(|| Error::malformed(W, "PinAttributes [1] missing"))?
            .child(W, 0x30)?
            .ok_or_else(|| Error::malformed(W, "PinAttributes SEQUENCE missing"))?;
        let f = attrs.children(W)?;
        let field = |i: usize, tag: u8, name: &str| -> Result<&El<'_>> {
            f.get(i)
                .filter(|e| e.tag == tag)
                .ok_or_else(|| Error::malformed(W, format!("PinAttributes {name} missing")))
        };
        let mut pin = PinObject {
            label: common.label,
            auth_id,
            unblocked_by: common.auth_id,
            flags: PinFlags(field(0, 0x03, "pinFlags")?.bits(W)?),
            pin_type: field(1, 0x0A, "pinType")?.uint(W)?,
            min_length: field(2, 0x02, "minLength")?.uint(W)?,
            stored_length: field(3, 0x02, "storedLength")?.uint(W)?,
            max_length: None,
            reference: None,
            pad_char: None,
            path: None,
        };
        for e in f.iter().skip(4) {
            match e.tag {
                0x02 => pin.max_length = Some(e.uint(W)?),
                0x80 => pin.reference = Some(e.uint(W)?),
                0x04 => pin.pad_char = e.octets(W)?.first().copied(),
                0x30 => pin.path = path_of(W, e)?,
                _ => {}
            }
        }
        out.push(pin);
    }
    Ok(out)
}

/// The algorithm family of a key entry (the CHOICE alternative of PKCS#15 v1.1 §6.2/§6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyType {
    /// RSA (the untagged SEQUENCE alternative).
    Rsa,
    /// Elliptic curve (`[0]`).
    Ec,
    /// Another alternative (DH, DSA, KEA, GOST...), with its identifier octet.
    Other(u8),
}

/// A key entry of the PrKDF or the PuKDF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyEntry {
    /// Algorithm family.
    pub key_type: KeyType,
    /// Label, e.g. "CPS_PRIV_SIG".
    pub label: Option<String>,
    /// The authId of the PIN protecting the key.
    pub auth_id: Option<Vec<u8>>,
    /// iD (pairs the key with its certificate).
    pub id: Vec<u8>,
    /// Usage flags.
    pub usage: KeyUsageFlags,
    /// Whether the key is native to the card (default true).
    pub native: bool,
    /// The key reference MSE uses (`84 01 <ref>`).
    pub key_reference: Option<u32>,
    /// TokenInfo algorithm references allowed for this key (ISO 7816-15 `algReference`).
    pub algorithm_references: Vec<u32>,
    /// Path of the key (the DF holding it).
    pub path: Option<Path>,
    /// RSA modulus length or EC field size, in bits.
    pub size_bits: Option<u32>,
}

/// Parses EF.PrKDF.
pub fn parse_prkdf(data: &[u8]) -> Result<Vec<KeyEntry>> {
    parse_key_directory("PrKDF", data)
}

/// Parses EF.PuKDF.
pub fn parse_pukdf(data: &[u8]) -> Result<Vec<KeyEntry>> {
    parse_key_directory("PuKDF", data)
}

fn parse_key_directory(what: &'static str, data: &[u8]) -> Result<Vec<KeyEntry>> {
    let mut out = Vec::new();
    for obj in asn1::file_elements(what, data)? {
        let key_type = match obj.tag {
            0x30 => KeyType::Rsa,
            0xA0 => KeyType::Ec,
            t if t & 0x20 != 0 => KeyType::Other(t),
            _ => continue,
        };
        let parts = obj.children(what)?;
        let common = common_object(
            parts
                .first()
                .ok_or_else(|| Error::malformed(what, "empty object"))?,
            what,
        )?;
        let key_attrs = parts
            .get(1)
            .filter(|p| p.tag == 0x30)
            .ok_or_else(|| Error::malformed(what, "CommonKeyAttributes missing"))?
            .children(what)?;
        let mut entry = KeyEntry {
            key_type,
            label: common.label,
            auth_id: common.auth_id,
            id: Vec::new(),
            usage: KeyUsageFlags::default(),
            native: true,
            key_reference: None,
            algorithm_references: Vec::new(),
            path: None,
            size_bits: None,
        };
        let mut bit_strings = 0;
        for e in &key_attrs {
            match e.tag {
                0x04 => entry.id = e.octets(what)?.to_vec(),
                // The first BIT STRING is usage, the second accessFlags.
                0x03 => {
                    if bit_strings == 0 {
                        entry.usage = KeyUsageFlags(e.bits(what)?);
                    }
                    bit_strings += 1;
                }
                0x01 => entry.native = e.boolean(what)?,
                0x02 => entry.key_reference = Some(e.uint(what)?),
                0xA1 => {
                    for r in e.children(what)? {
                        if r.tag == 0x02 {
                            entry.algorithm_references.push(r.uint(what)?);
                        }
                    }
                }
                _ => {}
            }
        }
        // typeAttributes [1] { SEQUENCE { value (Path), modulusLength / fieldSize, ... } }.
        if let Some(type_attrs) = parts.iter().skip(2).find(|p| p.tag == 0xA1) {
            if let Some(seq) = type_attrs.child(what, 0x30)? {
                for e in seq.children(what)? {
                    match e.tag {
                        0x30 if entry.path.is_none() => entry.path = path_of(what, &e)?,
                        0x02 if entry.size_bits.is_none() => entry.size_bits = Some(e.uint(what)?),
                        _ => {}
                    }
                }
            }
        }
        out.push(entry);
    }
    Ok(out)
}

/// A data object of the DODF (PKCS#15 v1.1 §6.6; the CPS cards list `CPS_DATA`,
/// `CPS_ID_CARD`, `CPS_NAME_PS`, `CPS_LANG_PS`, `CPS_INFO_PS`, `CPS_ACTIVITY_nn_PS`,
/// `CPS_SIT_FACT` there, as the official middleware shows them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataObjectEntry {
    /// Label, e.g. `"CPS_INFO_PS"`.
    pub label: Option<String>,
    /// applicationName of CommonDataObjectAttributes (`"CPS"` on the CPS cards).
    pub application: Option<String>,
    /// Private object (flag 0): reading it needs the PIN of `auth_id`.
    pub private: bool,
    /// Modifiable object (flag 1).
    pub modifiable: bool,
    /// The authId of the PIN protecting it.
    pub auth_id: Option<Vec<u8>>,
    /// Where its value is (opaque objects of the `path` form; `None` for directly embedded
    /// values, which the CPS cards do not use).
    pub path: Option<Path>,
    /// Not a DODF entry: a file of the CPS3's CPS2ter application (class `A0`), which the
    /// official middleware lists beside the DODF's objects ([`crate::cps2ter`]).
    pub cps2ter: bool,
}

/// Parses EF.DODF: `opaqueDO` objects (`30 { CommonObjectAttributes,
/// CommonDataObjectAttributes, [1] { Path } }`); other data-object types are skipped.
pub fn parse_dodf(data: &[u8]) -> Result<Vec<DataObjectEntry>> {
    const W: &str = "DODF";
    let mut out = Vec::new();
    for obj in asn1::file_elements(W, data)? {
        if obj.tag != 0x30 {
            continue;
        }
        let parts = obj.children(W)?;
        let common = common_object(
            parts
                .first()
                .ok_or_else(|| Error::malformed(W, "empty object"))?,
            W,
        )?;
        let application = match parts.get(1).filter(|p| p.tag == 0x30) {
            Some(attrs) => attrs
                .children(W)?
                .iter()
                .find(|e| e.tag == 0x0C)
                .map(|e| e.string(W))
                .transpose()?,
            None => None,
        };
        let mut path = None;
        if let Some(type_attrs) = parts.iter().skip(1).find(|p| p.tag == 0xA1) {
            if let Some(seq) = type_attrs.child(W, 0x30)? {
                path = path_of(W, &seq)?;
            }
        }
        out.push(DataObjectEntry {
            label: common.label,
            application,
            private: common.flags & 1 != 0,
            modifiable: common.flags & 2 != 0,
            auth_id: common.auth_id,
            path,
            cps2ter: false,
        });
    }
    Ok(out)
}

/// A certificate entry of the CDF (PKCS#15 v1.1 §6.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateEntry {
    /// Label.
    pub label: Option<String>,
    /// iD (the iD of the matching private key).
    pub id: Vec<u8>,
    /// Whether this is a CA certificate.
    pub authority: bool,
    /// Where the DER certificate is.
    pub path: Option<Path>,
}

/// Parses EF.CDF (X.509 certificate objects; other certificate types are skipped).
pub fn parse_cdf(data: &[u8]) -> Result<Vec<CertificateEntry>> {
    const W: &str = "CDF";
    let mut out = Vec::new();
    for obj in asn1::file_elements(W, data)? {
        // x509Certificate is the untagged SEQUENCE alternative of CertificateType.
        if obj.tag != 0x30 {
            continue;
        }
        let parts = obj.children(W)?;
        let common = common_object(
            parts
                .first()
                .ok_or_else(|| Error::malformed(W, "empty object"))?,
            W,
        )?;
        let cert_attrs = parts
            .get(1)
            .filter(|p| p.tag == 0x30)
            .ok_or_else(|| Error::malformed(W, "CommonCertificateAttributes missing"))?
            .children(W)?;
        let mut entry = CertificateEntry {
            label: common.label,
            id: Vec::new(),
            authority: false,
            path: None,
        };
        for e in &cert_attrs {
            match e.tag {
                0x04 => entry.id = e.octets(W)?.to_vec(),
                0x01 => entry.authority = e.boolean(W)?,
                _ => {}
            }
        }
        if let Some(type_attrs) = parts.iter().skip(2).find(|p| p.tag == 0xA1) {
            if let Some(seq) = type_attrs.child(W, 0x30)? {
                // value ObjectValue: the indirect (Path) alternative.
                if let Some(first) = seq.children(W)?.first() {
                    entry.path = path_of(W, first)?;
                }
            }
        }
        out.push(entry);
    }
    Ok(out)
}

/// One application template of EF.DIR (ISO 7816-4 §8.2.1.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Application {
    /// AID (`4F`).
    pub aid: Vec<u8>,
    /// Label (`50`).
    pub label: Option<String>,
    /// Path of the application DF (`51`).
    pub path: Option<Path>,
}

/// Parses EF.DIR: `61` application templates, padding allowed.
pub fn parse_ef_dir(data: &[u8]) -> Result<Vec<Application>> {
    use cps_apdu::tlv::{Iter, Tag};
    const W: &str = "EF.DIR";
    let mut out = Vec::new();
    for t in Iter::new(data).skip_padding() {
        let t = t.map_err(|e| Error::malformed(W, e.to_string()))?;
        if t.tag != Tag(0x61) {
            continue;
        }
        let mut app = Application {
            aid: Vec::new(),
            label: None,
            path: None,
        };
        for c in t.children_iter() {
            let c = c.map_err(|e| Error::malformed(W, e.to_string()))?;
            match c.tag.0 {
                0x4F => app.aid = c.value.to_vec(),
                0x50 => app.label = Some(String::from_utf8_lossy(c.value).into_owned()),
                0x51 => app.path = Some(Path::new(c.value)),
                _ => {}
            }
        }
        if !app.aid.is_empty() {
            out.push(app);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.replace([' ', '\n'], "")).unwrap()
    }

    #[test]
    fn odf() {
        let data = h("A8 0A 30 08 04 06 3F00 0001 4401 A0 06 30 04 04 02 4402 00 00");
        let odf = Odf::parse(&data).unwrap();
        assert_eq!(
            odf.first(DirectoryKind::AuthObjects).unwrap().to_string(),
            "3F00/0001/4401"
        );
        let rel = odf.first(DirectoryKind::PrivateKeys).unwrap();
        assert!(!rel.is_absolute());
        assert_eq!(
            rel.resolve(&Path::from_fids(&[0x3F00, 0x0001])),
            Path::from_fids(&[0x3F00, 0x0001, 0x4402])
        );
        assert!(odf.first(DirectoryKind::Certificates).is_none());
    }

    /// Encodes one element whose value is the concatenation of `parts`.
    fn t(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
        cps_apdu::tlv::encode(cps_apdu::tlv::Tag(u32::from(tag)), &parts.concat())
    }

    #[test]
    fn token_info_of_the_research_notes() {
        // version 0, serial, manufacturer, [0] label, flags readOnly+loginRequired, and two
        // AlgorithmInfo entries as research §2.1 recommends.
        let algs = t(
            0xA2,
            &[
                &h(
                    "30 1A 02 01 05 02 01 01 05 00 03 02 06 40 06 09 2A 86 48 86 F7 0D 01 01 01 02 01 02",
                ),
                &h(
                    "30 1A 02 01 04 02 01 40 05 00 03 02 06 40 06 09 2A 86 48 86 F7 0D 01 01 0B 02 01 42",
                ),
            ],
        );
        let mut data = t(
            0x30,
            &[
                &h("02 01 00 04 02 12 34 0C 03 41 42 43 80 04 43 50 53 33 03 02 06 C0"),
                &algs,
            ],
        );
        data.extend_from_slice(&[0xFF, 0xFF]);
        let ti = TokenInfo::parse(&data).unwrap();
        assert_eq!(ti.serial_hex(), "1234");
        assert_eq!(ti.manufacturer_id.as_deref(), Some("ABC"));
        assert_eq!(ti.label.as_deref(), Some("CPS3"));
        assert!(ti.flags.read_only() && ti.flags.login_required());
        assert_eq!(ti.supported_algorithms.len(), 2);
        let a = ti.algorithm(4).unwrap();
        assert_eq!(a.mechanism, 0x40);
        assert!(a.operations.compute_signature());
        assert_eq!(a.card_reference, Some(0x42));
        assert_eq!(a.object_id.as_deref(), Some("1.2.840.113549.1.1.11"));
    }

    #[test]
    fn prkdf_entry_of_the_research_notes() {
        // research §2.2: RSA key, label, private flag, authId 01; iD, usage NR, keyReference
        // 0x81, algReference [1] {4}; typeAttributes path 3F00/0001 and 2048 bits.
        let rsa = t(
            0x30,
            &[
                &t(
                    0x30,
                    &[&t(0x0C, &[b"CPS_PRIV_SIG"]), &h("03 02 07 80 04 01 01")],
                ),
                &h("30 12 04 02 AA BB 03 03 06 00 40 02 02 00 81 A1 03 02 01 04"),
                &h("A1 0E 30 0C 30 06 04 04 3F 00 00 01 02 02 08 00"),
            ],
        );
        // An EC key ([0] alternative), usage sign, field size 256, no path.
        let ec = t(
            0xA0,
            &[
                &t(0x30, &[&t(0x0C, &[b"CPS_PRIV_AUT_EC"])]),
                &h("30 0D 04 01 CC 03 02 05 20 02 01 84 01 01 FF"),
                &h("A1 08 30 06 30 00 02 02 01 00"),
            ],
        );
        let keys = parse_prkdf(&[rsa, ec, vec![0, 0]].concat()).unwrap();
        assert_eq!(keys.len(), 2);
        let k = &keys[0];
        assert_eq!(k.key_type, KeyType::Rsa);
        assert_eq!(k.label.as_deref(), Some("CPS_PRIV_SIG"));
        assert_eq!(k.auth_id.as_deref(), Some(&[1u8][..]));
        assert_eq!(k.id, [0xAA, 0xBB]);
        assert!(k.usage.non_repudiation() && !k.usage.sign());
        assert_eq!(k.key_reference, Some(0x81));
        assert_eq!(k.algorithm_references, [4]);
        assert_eq!(k.size_bits, Some(2048));
        assert_eq!(k.path.as_ref().unwrap().to_string(), "3F00/0001");
        let e = &keys[1];
        assert_eq!(e.key_type, KeyType::Ec);
        assert!(e.usage.sign());
        assert_eq!(e.key_reference, Some(0x84));
        assert_eq!(e.size_bits, Some(256));
        assert!(e.path.is_none());
    }

    #[test]
    fn aodf_pin_and_puk() {
        let pin = t(
            0x30,
            &[
                &t(
                    0x30,
                    &[
                        &t(0x0C, &["Code porteur".as_bytes()]),
                        &h("03 01 00 04 01 02"),
                    ],
                ),
                &h("30 03 04 01 01"),
                &t(
                    0xA1,
                    &[&h(
                        "30 16 03 02 03 08 0A 01 01 02 01 04 02 01 08 02 01 08 80 01 01 04 01 FF",
                    )],
                ),
            ],
        );
        let puk = t(
            0x30,
            &[
                &t(0x30, &[&t(0x0C, &["Code de déblocage".as_bytes()])]),
                &h("30 03 04 01 02"),
                &t(
                    0xA1,
                    &[&h("30 10 03 02 01 0A 0A 01 01 02 01 08 02 01 08 80 01 02")],
                ),
            ],
        );
        let objs = parse_aodf(&[pin.clone(), puk].concat()).unwrap();
        assert_eq!(objs.len(), 2);
        let p = &objs[0];
        assert_eq!(p.label.as_deref(), Some("Code porteur"));
        assert_eq!(p.auth_id, [1]);
        assert_eq!(p.unblocked_by.as_deref(), Some(&[2u8][..]));
        assert!(p.flags.initialized() && !p.flags.needs_padding() && !p.is_puk());
        assert_eq!((p.pin_type, p.min_length, p.stored_length), (1, 4, 8));
        assert_eq!(
            (p.max_length, p.reference, p.pad_char),
            (Some(8), Some(1), Some(0xFF))
        );
        let k = &objs[1];
        assert!(k.is_puk() && k.flags.initialized());
        assert_eq!(k.reference, Some(2));
        let mut bad = pin;
        bad.truncate(bad.len() - 3);
        assert!(parse_aodf(&bad).is_err());
    }

    #[test]
    fn ef_dir() {
        let data = h(
            "61 1E 4F 0D E8 28 BD 08 0F 80 25 00 00 01 FF 00 10 50 07 43 50 53 20 49 41 53 51 04 3F 00 00 01 00 00",
        );
        let apps = parse_ef_dir(&data).unwrap();
        assert_eq!(apps.len(), 1);
        assert_eq!(apps[0].label.as_deref(), Some("CPS IAS"));
        assert_eq!(apps[0].path.as_ref().unwrap().to_string(), "3F00/0001");
    }

    #[test]
    fn malformed_inputs_are_errors() {
        for bad in [
            &[0x30u8, 0x05, 0x02][..],
            &[0x30, 0x00],
            &[0xA0, 0x02, 0x04, 0x01],
            &[0x30, 0x03, 0x30, 0x01, 0x0C],
        ] {
            let _ = Odf::parse(bad);
            assert!(TokenInfo::parse(bad).is_err());
            let _ = parse_prkdf(bad);
            let _ = parse_aodf(bad);
            let _ = parse_cdf(bad);
        }
    }
}
