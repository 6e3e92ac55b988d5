//! [`CpsCard`]: the IAS-ECC application of a CPS3/CPS4 card, over any [`CardChannel`].
//!
//! Every public operation runs in one card transaction (PC/SC `SCardBeginTransaction` on
//! real readers), sends the fewest APDUs the protocol allows (see the crate documentation,
//! "Round trips") and caches what cannot change during a session (EF.DIR, PKCS#15 files,
//! certificates, identity, serial). PIN-protected data (EF.DAM) is never cached.

use cps_apdu::table::{CommandSpec, Effect, iso};
use cps_apdu::tlv::{Iter, Tag};
use cps_apdu::{Command, Response, StatusWord};
use cps_transport::{CardChannel, Exchange};

use crate::table as T;
use zeroize::{Zeroize, Zeroizing};

use crate::crypto::{
    Digest, HashAlgorithm, KeyAlgorithm, KeyFamily, KeyInfo, KeyRole, KeySelector, KeySource,
    Signature, SignatureAlgorithm,
};
use crate::error::{Error, Result};
use crate::generation::{DetectedBy, EfAtr, Generation};
use crate::holder::{CardFamily, HolderIdentity, PracticeSituation, ProfessionalInfo};
use crate::pin::{Pin, PinStatus, Puk};
use crate::pkcs15::{
    self, Application, CertificateEntry, DataObjectEntry, DirectoryKind, KeyEntry, KeyUsageFlags,
    Odf, Path, PinObject, TokenInfo,
};
use crate::snapshot::{DirFile, DirectorySnapshot};

/// AID of the CPS IAS-ECC application [real CPx: OpenSC issue #2267, EF.DIR of a CPS3].
pub const CPS_IAS_AID: [u8; 13] = [
    0xE8, 0x28, 0xBD, 0x08, 0x0F, 0x80, 0x25, 0x00, 0x00, 0x01, 0xFF, 0x00, 0x10,
];

/// AID of the NXP ChipDoc applet that holds the CPS4's IAS application, selected on logical
/// channel 1 (Cryptolib CPS 5.2 `card-cps4.c` `_cps4_select_app`).
pub const CHIPDOC_AID: [u8; 8] = [0x80, 0x25, 0x00, 0x00, 0x01, 0xFF, 0x01, 0x00];

/// CLA of the CPS4: logical channel 1 (ISO 7816-4 §5.4.1, first interindustry class).
const CLA_CHANNEL_1: u8 = 0x01;

/// `6881`: logical channel not supported / closed (ISO 7816-4 §5.6.1). After a card reset
/// (e.g. by another application) the CPS4's channel 1 is closed and answers this.
const SW_CHANNEL_CLOSED: u16 = 0x6881;

/// Path of DF.CPS-IAS [real CPx FID 0001 under the MF].
const APP_FIDS: [u16; 2] = [0x3F00, 0x0001];
/// EF.DIR (ISO 7816-4 §8.2.1.1: FID 2F00 under the MF).
const EF_DIR: [u16; 2] = [0x3F00, 0x2F00];
/// EF.ATR (ISO 7816-4 §8.2.1.1: FID 2F01 under the MF).
const EF_ATR: [u16; 2] = [0x3F00, 0x2F01];
/// EF.ODF and EF.TokenInfo in the PKCS#15 application DF (PKCS#15 v1.1 §5.4: 5031, 5032).
const ODF_FID: u16 = 0x5031;
const TOKEN_INFO_FID: u16 = 0x5032;
/// Short EF identifiers of docs/card-layout.md: EF.IDENT 01, EF.DAM 02, EF.SN 1C [real CPx].
const SFI_IDENT: u8 = 0x01;
const SFI_DAM: u8 = 0x02;
const SFI_SN: u8 = 0x1C;
/// Holder PIN and PUK references [real CPx: CHV 1 and 2 in the MF].
const PIN_REF: u8 = 0x01;
const PUK_REF: u8 = 0x02;

/// Card algorithm references (MSE `80 01 <algRef>`) of docs/card-layout.md: RSA SHA-1 and
/// SHA-256 signature 12 / 42 [real CPx TokenInfo], RSA PKCS#1 02 and decipher 1A (OpenSC's
/// iasecc defaults), ECDSA 04 and ECDSA SHA-256 44 [model].
const ALG_RSA_SHA1: u8 = 0x12;
const ALG_RSA_SHA256: u8 = 0x42;
const ALG_RSA_PKCS1: u8 = 0x02;
const ALG_RSA_DECIPHER: u8 = 0x1A;
const ALG_ECDSA: u8 = 0x04;
const ALG_ECDSA_SHA256: u8 = 0x44;

/// ChipDoc (CPS4) signature algorithm identifiers of MSE SET DST tag `91` (Cryptolib
/// `cards.h` `CPSV4_ALG_*`).
const CHIPDOC_RSA_SHA1_PKCS1: u8 = 0x0A;
const CHIPDOC_RSA_SHA256_PKCS1: u8 = 0x28;
const CHIPDOC_RSA_SHA1_PSS: u8 = 0x15;
const CHIPDOC_RSA_SHA256_PSS: u8 = 0x2C;
/// Key references: signature 81 on both cards (CPS3 [real CPx]; CPS4 [model]),
/// authentication 82 on CPS3 [real CPx] and 20 on CPS4 (`card-cps4.c`).
const CPS4_SIGN_KEY: u8 = 0x81;
const CPS4_AUTH_KEY: u8 = 0x20;

/// PKCS#11 mechanisms (PKCS#11 v2.40 §2) named by TokenInfo supportedAlgorithms.
const CKM_RSA_PKCS: u32 = 0x0001;
const CKM_SHA1_RSA_PKCS: u32 = 0x0006;
const CKM_SHA256_RSA_PKCS: u32 = 0x0040;
const CKM_ECDSA: u32 = 0x1041;
const CKM_ECDSA_SHA256: u32 = 0x1044;

/// Response size of a short APDU (ISO 7816-4 §5.1: Ne ≤ 256).
const SHORT_NE: usize = 256;
/// Largest EF the FCP size (`80`, two bytes) describes.
const MAX_EF: usize = 0xFFFF;
/// Largest READ BINARY offset in P1-P2 (b8 of P1 must be 0, ISO 7816-4 §11.2.3).
const MAX_OFFSET: usize = 0x7FFF;

/// The card serial number of EF.SN (`5A`, 10 BCD bytes on CPS cards).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CardSerial(pub(crate) Vec<u8>);

impl CardSerial {
    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The bytes in upper-case hex.
    pub fn hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02X}")).collect()
    }

    /// The decimal digits of the BCD serial, up to the first filler nibble (`F`).
    pub fn digits(&self) -> String {
        self.0
            .iter()
            .flat_map(|b| [b >> 4, b & 0x0F])
            .take_while(|&n| n <= 9)
            .map(|n| char::from(b'0' + n))
            .collect()
    }
}

impl std::fmt::Display for CardSerial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.digits())
    }
}

/// A certificate of the card, as listed by the CDF.
#[derive(Debug, Clone)]
pub struct Certificate {
    /// Label.
    pub label: Option<String>,
    /// PKCS#15 iD: the private key with the same iD is the certificate's key.
    pub id: Vec<u8>,
    /// Whether the CDF marks it as a CA certificate.
    pub authority: bool,
    /// Where it was read.
    pub path: Path,
    /// The DER certificate.
    pub der: Vec<u8>,
    /// The certificate parsed with the CPS profile (`None` if it does not parse: see
    /// [`Certificate::parse`] for the reason).
    pub parsed: Option<cps_x509::CpsCertificate>,
}

impl Certificate {
    /// Parses the DER certificate with the CPS certificate profile.
    pub fn parse(&self) -> Result<cps_x509::CpsCertificate, cps_x509::ParseError> {
        cps_x509::CpsCertificate::from_der(&self.der)
    }
}

/// The FCP fields the client uses (ISO 7816-4 §7.4.3 Table 12).
#[derive(Debug, Clone, Copy, Default)]
struct Fcp {
    size: Option<usize>,
    is_df: bool,
}

impl Fcp {
    fn parse(data: &[u8]) -> Option<Fcp> {
        let (t, _) = cps_apdu::tlv::parse_one(data).ok()?;
        if t.tag != Tag(0x62) && t.tag != Tag(0x6F) {
            return None;
        }
        let mut fcp = Fcp::default();
        for c in t.children_iter() {
            let Ok(c) = c else { break };
            match c.tag.0 {
                0x80 | 0x81 if fcp.size.is_none() => {
                    fcp.size = Some(c.value.iter().fold(0usize, |a, &b| {
                        a.saturating_mul(256).saturating_add(usize::from(b))
                    }))
                }
                0x82 => fcp.is_df = c.value.first().is_some_and(|d| d & 0x38 == 0x38),
                _ => {}
            }
        }
        Some(fcp)
    }
}

/// Everything the client knows about the card, apart from the channel.
#[derive(Debug)]
struct State {
    generation: Generation,
    detected_by: DetectedBy,
    aid: Vec<u8>,
    app_path: Path,
    /// The DF the card has current, when known; `None` forces a SELECT of the application.
    current_df: Option<Path>,
    /// Ne of one READ BINARY: 256 on short-APDU cards, up to 65535 with extended length.
    read_ne: usize,
    ef_atr: Option<Option<EfAtr>>,
    applications: Option<Vec<Application>>,
    serial: Option<CardSerial>,
    identity: Option<HolderIdentity>,
    odf: Option<Odf>,
    token_info: Option<TokenInfo>,
    pins: Option<Vec<PinObject>>,
    prkdf: Option<Vec<KeyEntry>>,
    pukdf: Option<Vec<KeyEntry>>,
    cdf: Option<Vec<CertificateEntry>>,
    dodf: Option<Vec<DataObjectEntry>>,
    certificates: Option<Vec<Certificate>>,
    /// Data bytes per chained command, from EF.ATR's send buffer size when it was read.
    chain_chunk: Option<usize>,
    /// CLA of every command: `00` (CPS3, basic channel) or `01` (CPS4, channel 1).
    cla: u8,
    /// Every certificate read so far (by path).
    read_certs: Vec<Certificate>,
    preference: KeyFamily,
    round_trips: u64,
    /// The directory files as read from the card or preloaded (see [`crate::snapshot`]).
    directory: DirectorySnapshot,
}

impl State {
    /// The card lost its volatile state (reset): the application must be selected again.
    fn forget_volatile(&mut self) {
        self.current_df = None;
    }
}

/// A CPS3 or CPS4 card with its IAS-ECC application selected.
///
/// Open it on any channel ([`CpsCard::open`]): a PC/SC reader, the in-process simulator, a
/// replayed transcript. See the crate documentation for an example.
pub struct CpsCard<C: CardChannel> {
    ex: Exchange<C>,
    st: State,
}

impl<C: CardChannel> std::fmt::Debug for CpsCard<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CpsCard")
            .field("generation", &self.st.generation)
            .field("detected_by", &self.st.detected_by)
            .field("round_trips", &self.round_trips())
            .finish_non_exhaustive()
    }
}

/// One transaction: the exchange and the state, borrowed separately.
struct Session<'a, 'b> {
    ex: &'a mut Exchange<Box<dyn CardChannel + 'b>>,
    st: &'a mut State,
}

impl<C: CardChannel> CpsCard<C> {
    /// Opens the card: detects the generation, selects the CPS IAS-ECC application.
    ///
    /// One APDU (SELECT by AID) on a card whose ATR is a CPS ATR; EF.ATR (2 APDUs) is read
    /// only when the ATR does not tell the generation; EF.DIR (2 APDUs) only when the CPS
    /// AID is not found.
    pub fn open(channel: C) -> Result<Self> {
        let mut ex = Exchange::new(channel);
        // The transport learns what each IAS-ECC command does (no re-send, redaction, reset
        // on release).
        ex.register(&crate::table::TABLE);
        let extended = ex.config().extended_length;
        let from_atr = Generation::from_atr(ex.atr());
        // GET RESPONSE goes on the channel of the command it completes.
        ex.config_mut().get_response_cla = None;
        let mut card = CpsCard {
            ex,
            st: State {
                generation: from_atr.unwrap_or(Generation::Cps3),
                detected_by: DetectedBy::Atr,
                aid: CPS_IAS_AID.to_vec(),
                app_path: Path::from_fids(&APP_FIDS),
                current_df: None,
                read_ne: if extended { MAX_EF } else { SHORT_NE },
                ef_atr: None,
                applications: None,
                serial: None,
                identity: None,
                odf: None,
                token_info: None,
                pins: None,
                prkdf: None,
                pukdf: None,
                cdf: None,
                dodf: None,
                certificates: None,
                read_certs: Vec::new(),
                chain_chunk: None,
                cla: 0x00,
                preference: KeyFamily::Rsa,
                round_trips: 0,
                directory: DirectorySnapshot::default(),
            },
        };
        card.run(|s| s.init(from_atr))?;
        Ok(card)
    }

    /// Runs `f` in one card transaction and adds its APDUs to the round-trip count.
    fn run<R>(&mut self, f: impl FnOnce(&mut Session<'_, '_>) -> Result<R>) -> Result<R> {
        if let Some(chunk) = self.st.chain_chunk {
            self.ex.config_mut().chain_chunk = chunk;
        }
        let mut tx = self.ex.transaction()?;
        let result = f(&mut Session {
            ex: &mut tx,
            st: &mut self.st,
        });
        self.st.round_trips += tx.round_trips();
        drop(tx);
        if result.as_ref().is_err_and(Error::is_card_reset) {
            self.st.forget_volatile();
        }
        result
    }

    /// The card generation.
    pub fn generation(&self) -> Generation {
        self.st.generation
    }

    /// How the generation was detected.
    pub fn detected_by(&self) -> DetectedBy {
        self.st.detected_by
    }

    /// The card's ATR.
    pub fn atr(&self) -> &[u8] {
        self.ex.atr()
    }

    /// The AID of the IAS-ECC application in use.
    pub fn application_aid(&self) -> &[u8] {
        &self.st.aid
    }

    /// APDUs exchanged with the card since [`CpsCard::open`] (or the last
    /// [`CpsCard::reset_round_trips`]), GET RESPONSE and chained parts included.
    pub fn round_trips(&self) -> u64 {
        self.st.round_trips + self.ex.round_trips()
    }

    /// Resets the round-trip counter.
    pub fn reset_round_trips(&mut self) {
        self.st.round_trips = 0;
        self.ex.reset_round_trips();
    }

    /// Gives the channel back.
    pub fn into_channel(self) -> C {
        self.ex.into_inner()
    }

    /// The channel, e.g. to inspect a simulated card in tests.
    pub fn channel(&self) -> &C {
        self.ex.channel()
    }

    /// The channel, mutably (e.g. to power-cycle a simulated card).
    pub fn channel_mut(&mut self) -> &mut C {
        self.ex.channel_mut()
    }

    /// Selects the application again, e.g. after the card was reset by another application
    /// ([`Error::is_card_reset`]). PIN verification is lost with a reset.
    pub fn reselect(&mut self) -> Result<()> {
        self.st.forget_volatile();
        self.run(|s| s.ensure_app())
    }

    /// The family of keys preferred when an operation names a usage only.
    pub fn key_preference(&self) -> KeyFamily {
        self.st.preference
    }

    /// Overrides the preferred key family (default RSA: both CPS3 and CPS4 have RSA-2048 keys
    /// only; another family matters only for a card whose PrKDF lists EC keys).
    pub fn set_key_preference(&mut self, family: KeyFamily) {
        self.st.preference = family;
    }

    // ---- Files and PKCS#15 ------------------------------------------------------------

    /// The PKCS#15 directory files read from this card so far (or preloaded), to keep for
    /// the next session with the same card (see [`crate::snapshot`]).
    pub fn directory_snapshot(&self) -> &DirectorySnapshot {
        &self.st.directory
    }

    /// Gives back directory files kept from an earlier session with this card, so they are
    /// not read again. Each is parsed as a card's answer would be; if one does not parse,
    /// none is used ([`Error::Malformed`]). Files already read in this session stay.
    /// Returns how many files were taken.
    ///
    /// The caller checks that the snapshot belongs to this card
    /// ([`crate::snapshot::DirectorySnapshot::decode`] with [`CpsCard::serial`]): the
    /// card's structure is trusted from it, its certificates and data are still read from
    /// the card.
    pub fn preload_directory(&mut self, snapshot: &DirectorySnapshot) -> Result<usize> {
        let new: Vec<(DirFile, &[u8])> = snapshot
            .files()
            .filter(|(f, _)| self.st.directory.get(*f).is_none())
            .collect();
        // All or nothing: each file parses as it would from the card, or none is taken.
        for &(f, data) in &new {
            match f {
                DirFile::TokenInfo => drop(TokenInfo::parse(data)?),
                DirFile::Odf => drop(Odf::parse(data)?),
                DirFile::Aodf => drop(pkcs15::parse_aodf(data)?),
                DirFile::Prkdf => drop(pkcs15::parse_prkdf(data)?),
                DirFile::Cdf => drop(pkcs15::parse_cdf(data)?),
                DirFile::Dodf => drop(pkcs15::parse_dodf(data)?),
            }
        }
        // The loaders take them from there instead of reading the card.
        for &(f, data) in &new {
            self.st.directory.insert(f, data.to_vec());
        }
        Ok(new.len())
    }

    /// The card serial number (EF.SN, one READ BINARY by SFI; cached).
    pub fn serial(&mut self) -> Result<CardSerial> {
        if let Some(s) = &self.st.serial {
            return Ok(s.clone());
        }
        let data = self.run(|s| s.read_sfi(SFI_SN, "EF.SN", "reading the card serial (EF.SN)"))?;
        let serial = Iter::new(&data)
            .skip_padding()
            .filter_map(|t| t.ok())
            .find(|t| t.tag == Tag(0x5A))
            .map(|t| CardSerial(t.value.to_vec()))
            .ok_or_else(|| Error::malformed("EF.SN", "no 5A serial number object"))?;
        self.st.serial = Some(serial.clone());
        Ok(serial)
    }

    /// The card family (CPS, CPF, CPE...), from EF.IDENT.
    pub fn card_family(&mut self) -> Result<CardFamily> {
        Ok(self.identity()?.family)
    }

    /// The holder identification (EF.IDENT, free to read: one READ BINARY by SFI; cached).
    pub fn identity(&mut self) -> Result<HolderIdentity> {
        if let Some(i) = &self.st.identity {
            return Ok(i.clone());
        }
        let data = self.run(|s| {
            s.read_sfi(
                SFI_IDENT,
                "EF.IDENT",
                "reading the holder identity (EF.IDENT)",
            )
        })?;
        let identity = HolderIdentity::parse(&data)?;
        self.st.identity = Some(identity.clone());
        Ok(identity)
    }

    /// The practice situations (EF.DAM). Needs the holder PIN verified in this session:
    /// otherwise [`Error::SecurityStatusNotSatisfied`]. One READ BINARY by SFI; never cached.
    pub fn practice_situations(&mut self) -> Result<Vec<PracticeSituation>> {
        let mut data = self.run(|s| {
            s.read_sfi(
                SFI_DAM,
                "EF.DAM",
                "reading the practice situations (EF.DAM)",
            )
        })?;
        let parsed = PracticeSituation::parse_all(&data);
        data.zeroize();
        parsed
    }

    /// The data objects of the DODF (ODF + DODF: 4 APDUs the first time, then cached).
    pub fn data_objects(&mut self) -> Result<Vec<DataObjectEntry>> {
        self.run(|s| s.load_dodf())
    }

    /// The value of the data object with this label (SELECT + READ BINARY of its file;
    /// never cached). A private object (`CPS_ACTIVITY_nn_PS`, `CPS_SIT_FACT`) needs the PIN:
    /// [`Error::SecurityStatusNotSatisfied`] otherwise.
    pub fn read_data_object(&mut self, label: &str) -> Result<Zeroizing<Vec<u8>>> {
        self.run(|s| {
            let entry = s
                .load_dodf()?
                .into_iter()
                .find(|d| d.label.as_deref() == Some(label))
                .ok_or_else(|| Error::FileNotFound {
                    path: format!("data object {label}"),
                })?;
            s.read_data_entry(&entry)
        })
    }

    /// The professional data of `CPS_INFO_PS` (national identifier, profession and speciality
    /// codes), followed through the DODF: ODF + DODF (cached) then SELECT + READ.
    pub fn professional_info(&mut self) -> Result<ProfessionalInfo> {
        let data = self.read_data_object("CPS_INFO_PS")?;
        ProfessionalInfo::parse(&data)
    }

    /// The practice situations as the official middleware shows them: the `CPS_ACTIVITY_nn_PS`
    /// data objects ([`CpsCard::practice_activities`]), or EF.DAM
    /// ([`CpsCard::practice_situations`]) on a card without such objects. Needs the PIN.
    pub fn practice(&mut self) -> Result<Vec<PracticeSituation>> {
        let activities = self.practice_activities()?;
        if activities.is_empty() {
            self.practice_situations()
        } else {
            Ok(activities)
        }
    }

    /// The practice situations from the `CPS_ACTIVITY_nn_PS` data objects of the DODF (the
    /// way the official middleware shows them), in DODF order: ODF + DODF (cached) then
    /// SELECT + READ per situation. Needs the PIN. Codes only (no labels on the card); see
    /// [`CpsCard::practice_situations`] for EF.DAM, which carries labels, in one APDU.
    pub fn practice_activities(&mut self) -> Result<Vec<PracticeSituation>> {
        self.run(|s| {
            let entries: Vec<DataObjectEntry> = s
                .load_dodf()?
                .into_iter()
                .filter(|d| {
                    d.label
                        .as_deref()
                        .is_some_and(|l| l.starts_with("CPS_ACTIVITY_") && l.ends_with("_PS"))
                })
                .collect();
            let mut out = Vec::with_capacity(entries.len());
            for e in &entries {
                let data = s.read_data_entry(e)?;
                out.push(PracticeSituation::parse_activity(&data)?);
            }
            Ok(out)
        })
    }

    /// The applications of EF.DIR (cached).
    pub fn applications(&mut self) -> Result<Vec<Application>> {
        if let Some(a) = &self.st.applications {
            return Ok(a.clone());
        }
        self.run(|s| s.load_applications().map(<[Application]>::to_vec))
    }

    /// EF.ATR (cached; `None` when the card has none).
    pub fn ef_atr(&mut self) -> Result<Option<EfAtr>> {
        if let Some(e) = &self.st.ef_atr {
            return Ok(e.clone());
        }
        self.run(|s| s.load_ef_atr())
    }

    /// EF.TokenInfo (cached).
    pub fn token_info(&mut self) -> Result<TokenInfo> {
        self.run(|s| s.load_token_info().cloned())
    }

    /// The PIN objects of the AODF (holder PIN and PUK; cached).
    pub fn pin_objects(&mut self) -> Result<Vec<PinObject>> {
        self.run(|s| {
            if s.st.pins.is_none() {
                let data = s.directory_file(DirFile::Aodf, |s| {
                    s.read_directory(DirectoryKind::AuthObjects, "AODF")
                })?;
                s.st.pins = Some(pkcs15::parse_aodf(&data)?);
                s.st.directory.insert(DirFile::Aodf, data);
            }
            Ok(s.st.pins.clone().unwrap_or_default())
        })
    }

    /// The private keys of the PrKDF (cached).
    pub fn keys(&mut self) -> Result<Vec<KeyInfo>> {
        self.run(|s| {
            s.load_prkdf()
                .map(|e| e.iter().filter_map(KeyInfo::from_entry).collect())
        })
    }

    /// The public-key entries of the PuKDF (cached); empty when the ODF lists no PuKDF, as
    /// on the CPS3 and CPS4 (their public keys are in the certificates:
    /// [`CpsCard::certificate_for`]).
    pub fn public_keys(&mut self) -> Result<Vec<KeyEntry>> {
        self.run(|s| {
            if s.st.pukdf.is_none() {
                // The CPS cards have no PuKDF any more (the public keys are in the
                // certificates): an ODF without one gives an empty list.
                let app = s.st.app_path.clone();
                let path = s
                    .load_odf()?
                    .first(DirectoryKind::PublicKeys)
                    .map(|p| p.resolve(&app));
                let entries = match path {
                    Some(path) => pkcs15::parse_pukdf(
                        &s.read_file(&path, "reading a PKCS#15 directory file")?,
                    )?,
                    None => Vec::new(),
                };
                s.st.pukdf = Some(entries);
            }
            Ok(s.st.pukdf.clone().unwrap_or_default())
        })
    }

    /// The certificates of the CDF, read in full (cached).
    pub fn certificates(&mut self) -> Result<Vec<Certificate>> {
        if let Some(c) = &self.st.certificates {
            return Ok(c.clone());
        }
        self.run(|s| s.load_certificates().map(<[Certificate]>::to_vec))
    }

    /// The certificate entries of the CDF (labels, iDs, paths) without reading the
    /// certificates themselves (ODF + CDF; cached). A PKCS#11 module lists certificate objects
    /// from it and reads a certificate only when its value is asked for.
    pub fn certificate_entries(&mut self) -> Result<Vec<CertificateEntry>> {
        self.run(|s| s.load_cdf())
    }

    /// The certificate with this PKCS#15 iD (the CDF, then that one file; cached).
    pub fn certificate_by_id(&mut self, id: &[u8]) -> Result<Option<Certificate>> {
        self.run(|s| s.load_certificate(id))
    }

    /// The certificate of a key (same PKCS#15 iD), if the card has one. A key of the profile
    /// table (no iD) is first looked up in the PrKDF by reference.
    pub fn certificate_for(&mut self, key: &KeyInfo) -> Result<Option<Certificate>> {
        let id = if key.id.is_empty() {
            self.keys()?
                .into_iter()
                .find(|k| k.reference == key.reference)
                .map(|k| k.id)
                .unwrap_or_default()
        } else {
            key.id.clone()
        };
        if id.is_empty() {
            return Ok(None);
        }
        self.run(|s| s.load_certificate(&id))
    }

    // ---- PIN --------------------------------------------------------------------------

    /// The holder PIN's state, without spending a try (VERIFY with no data: 1 APDU).
    pub fn pin_status(&mut self) -> Result<PinStatus> {
        self.run(|s| s.reference_status(PIN_REF, "reading the PIN status"))
    }

    /// The PUK's state, without spending a try.
    pub fn puk_status(&mut self) -> Result<PinStatus> {
        self.run(|s| s.reference_status(PUK_REF, "reading the PUK status"))
    }

    /// Verifies the holder PIN (1 APDU). A wrong PIN gives [`Error::WrongPin`] with the tries
    /// left; the library never tries again by itself.
    pub fn verify_pin(&mut self, pin: &Pin) -> Result<()> {
        self.run(|s| {
            let r = s.send_secret(&T::VERIFY, 0x00, PIN_REF, pin.bytes())?;
            pin_result(r.sw, "verifying the PIN", false)
        })
    }

    /// Changes the holder PIN (CHANGE REFERENCE DATA with `old ‖ new`: 1 APDU).
    ///
    /// On CPS4, as Cryptolib does (`card-cps4.c` `cps4_build_pin_apdu`): VERIFY of the old
    /// PIN, then CHANGE REFERENCE DATA `P1 = 01` with the new one (2 APDUs; a wrong old PIN
    /// stops at the VERIFY, one try spent as with the one-APDU form).
    pub fn change_pin(&mut self, old: &Pin, new: &Pin) -> Result<()> {
        if self.st.generation == Generation::Cps4 {
            return self.run(|s| {
                let r = s.send_secret(&T::VERIFY, 0x00, PIN_REF, old.bytes())?;
                pin_result(r.sw, "verifying the PIN", false)?;
                let r = s.send_secret(&T::CHANGE_REFERENCE_DATA, 0x01, PIN_REF, new.bytes())?;
                pin_result(r.sw, "changing the PIN", false)
            });
        }
        let mut data = Zeroizing::new(old.bytes().to_vec());
        data.extend_from_slice(new.bytes());
        self.run(|s| {
            let r = s.send_secret(&T::CHANGE_REFERENCE_DATA, 0x00, PIN_REF, &data)?;
            pin_result(r.sw, "changing the PIN", false)
        })
    }

    /// Unblocks the holder PIN with the PUK and sets a new PIN (RESET RETRY COUNTER with
    /// `PUK ‖ new`: 1 APDU). A wrong PUK gives [`Error::WrongPuk`].
    ///
    /// On CPS4, as Cryptolib does: VERIFY of the PUK, RESET RETRY COUNTER `03 81`, CHANGE
    /// REFERENCE DATA `01 01 <new>` (3 APDUs).
    pub fn unblock_pin(&mut self, puk: &Puk, new: &Pin) -> Result<()> {
        if self.st.generation == Generation::Cps4 {
            return self.run(|s| {
                s.chipdoc_reset_counter(puk)?;
                let r = s.send_secret(&T::CHANGE_REFERENCE_DATA, 0x01, PIN_REF, new.bytes())?;
                pin_result(r.sw, "setting the new PIN", false)
            });
        }
        let mut data = Zeroizing::new(puk.bytes().to_vec());
        data.extend_from_slice(new.bytes());
        self.run(|s| {
            let r = s.send_secret(&T::RESET_RETRY_COUNTER, 0x00, PIN_REF, &data)?;
            pin_result(r.sw, "unblocking the PIN", true)
        })
    }

    /// Resets the holder PIN's try counter with the PUK, keeping the PIN
    /// (RESET RETRY COUNTER P1 = 01: 1 APDU).
    ///
    /// On CPS4: VERIFY of the PUK, then RESET RETRY COUNTER `03 81` (2 APDUs).
    pub fn reset_pin_counter(&mut self, puk: &Puk) -> Result<()> {
        if self.st.generation == Generation::Cps4 {
            return self.run(|s| s.chipdoc_reset_counter(puk));
        }
        self.run(|s| {
            let r = s.send_secret(&T::RESET_RETRY_COUNTER, 0x01, PIN_REF, puk.bytes())?;
            pin_result(r.sw, "resetting the PIN try counter", true)
        })
    }

    // ---- Keys and cryptography --------------------------------------------------------

    /// The key an operation would use. No APDU when the key comes from the CPS profile
    /// table or from an already-read PrKDF.
    pub fn resolve_key(&mut self, key: impl Into<KeySelector>) -> Result<KeyInfo> {
        let key = key.into();
        self.run(|s| s.resolve(&key))
    }

    /// Signs a digest with the signature key (MSE SET DST, PSO HASH, PSO COMPUTE DIGITAL
    /// SIGNATURE: 3 APDUs). The PIN must have been verified.
    ///
    /// RSA keys give a PKCS#1 v1.5 signature over the SHA-256 (or SHA-1) DigestInfo; P-256
    /// keys give the raw `r ‖ s` of ECDSA over the SHA-256 digest.
    pub fn sign(&mut self, key: impl Into<KeySelector>, digest: &Digest) -> Result<Signature> {
        let key = key.into();
        self.run(|s| s.with_key(&key, |s, k| s.sign_with(k, digest, false)))
    }

    /// Signs a digest with RSASSA-PSS (salt as long as the hash, MGF1 with the same hash):
    /// CPS4 only (MSE SET DST with a PSS algorithm, PSO CDS: 2 APDUs); a CPS3 gives
    /// [`Error::Unsupported`] without any APDU being sent.
    pub fn sign_pss(&mut self, key: impl Into<KeySelector>, digest: &Digest) -> Result<Signature> {
        if self.st.generation == Generation::Cps3 {
            return Err(Error::Unsupported {
                what: "RSA-PSS on a CPS3",
                detail: "the CPS3 signs PKCS#1 v1.5 only (Cryptolib card-cps3.c); PSS needs a CPS4"
                    .into(),
            });
        }
        let key = key.into();
        self.run(|s| s.with_key(&key, |s, k| s.sign_with(k, digest, true)))
    }

    /// Signs a message given whole, PKCS#1 v1.5 with `hash` (SHA-1 or SHA-256). On CPS3 the
    /// card finishes the hash: the host sends the intermediate hash state and the last block
    /// (MSE SET HT, PSO HASH, MSE SET DST, PSO CDS: 4 APDUs, the official middleware's
    /// sequence); on CPS4 the host hashes and the card signs the hash (2 APDUs). The
    /// signature verifies against `Digest::of(hash, message)`.
    pub fn sign_message(
        &mut self,
        key: impl Into<KeySelector>,
        hash: HashAlgorithm,
        message: &[u8],
    ) -> Result<Signature> {
        let key = key.into();
        self.run(|s| s.with_key(&key, |s, k| s.sign_message_with(k, hash, message)))
    }

    /// Client authentication with the preferred authentication key (MSE SET AT + INTERNAL
    /// AUTHENTICATE: 2 APDUs). RSA: PKCS#1 v1.5 over the digest's DigestInfo; P-256: raw
    /// `r ‖ s` over the digest. The PIN must have been verified.
    pub fn authenticate(&mut self, digest: &Digest) -> Result<Signature> {
        self.authenticate_with(KeyRole::Authentication, digest)
    }

    /// Client authentication with a chosen key.
    pub fn authenticate_with(
        &mut self,
        key: impl Into<KeySelector>,
        digest: &Digest,
    ) -> Result<Signature> {
        let key = key.into();
        self.run(|s| s.with_key(&key, |s, k| s.authenticate_with(k, digest)))
    }

    /// Decrypts an RSA PKCS#1 v1.5 cryptogram with the authentication key (MSE SET CT +
    /// PSO DECIPHER: 2 APDUs on CPS4, 3 on CPS3 where the 257-byte body is chained).
    pub fn decipher(&mut self, ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        self.run(|s| {
            s.with_key(
                &KeySelector::UsageIn(KeyRole::Decipher, KeyFamily::Rsa),
                |s, k| s.decipher_with(k, ciphertext),
            )
        })
    }
}

/// Maps the answer to VERIFY / CHANGE REFERENCE DATA / RESET RETRY COUNTER.
fn pin_result(sw: StatusWord, attempted: &'static str, puk: bool) -> Result<()> {
    match (sw.0, sw.retries_left()) {
        (0x9000, _) => Ok(()),
        (_, Some(retries_left)) if puk => Err(Error::WrongPuk { retries_left }),
        (_, Some(retries_left)) => Err(Error::WrongPin { retries_left }),
        (0x6983, _) if puk => Err(Error::PukBlocked),
        (0x6983, _) => Err(Error::PinBlocked),
        _ => Err(Error::from_sw(attempted, sw)),
    }
}

/// The key table of the CPS profile (docs/card-layout.md, "Keys"): used when the PrKDF has
/// not been read, so that an operation costs only its own APDUs.
fn profile_keys(generation: Generation) -> Vec<KeyInfo> {
    let key = |label: &str, reference: u8, usage: KeyRole, flags: u64, algorithm| KeyInfo {
        label: label.to_owned(),
        id: Vec::new(),
        usage,
        flags: KeyUsageFlags(flags),
        algorithm,
        reference,
        auth_id: Some(vec![PIN_REF]),
        algorithm_references: Vec::new(),
        path: Some(Path::from_fids(&APP_FIDS)),
        source: KeySource::Profile,
    };
    // KeyUsageFlags bits: decrypt 1, sign 2, nonRepudiation 9 (PKCS#15 v1.1 §6.2.6).
    let (decrypt, sign, nr) = (1 << 1, 1 << 2, 1 << 9);
    let rsa = KeyAlgorithm::Rsa { bits: 2048 };
    let auth_ref = match generation {
        Generation::Cps3 => 0x82,
        Generation::Cps4 => CPS4_AUTH_KEY,
    };
    vec![
        key("CPS_PRIV_SIG", CPS4_SIGN_KEY, KeyRole::Signature, nr, rsa),
        key(
            "CPS_PRIV_AUT",
            auth_ref,
            KeyRole::Authentication,
            sign | decrypt,
            rsa,
        ),
    ]
}

/// The entry of a command the client sends: the IAS-ECC table, else the ISO 7816-4 basics.
fn spec_of(cmd: &Command) -> Option<&'static CommandSpec> {
    T::TABLE
        .by_ins(cmd.ins)
        .or_else(|| cps_apdu::table::ISO7816.by_ins(cmd.ins))
}

/// Whether a command may be sent again after the card reopened its channel: the table says
/// it reads ([`Effect::Read`]: SELECT, READ BINARY / RECORD, GET DATA...), or it is a VERIFY
/// without data, which only reads the try counter (ISO/IEC 7816-4, VERIFY with no data field).
fn is_side_effect_free(cmd: &Command) -> bool {
    if cmd.ins == T::VERIFY.ins {
        return cmd.data.is_empty();
    }
    spec_of(cmd).is_some_and(|s| s.effect == Effect::Read)
}

/// The table's name of a command, for [`Error::ChannelClosed`].
fn command_name(cmd: &Command) -> &'static str {
    spec_of(cmd).map_or("command", |s| s.name)
}

impl Session<'_, '_> {
    /// A command on the card's channel (CLA `00` on CPS3, `01` on CPS4).
    ///
    /// Built from the command's table entry ([`crate::table`], or the ISO 7816-4 basics of
    /// [`cps_apdu::table::iso`]): a request of the wrong shape is an error before it is sent.
    fn cmd(
        &self,
        spec: &CommandSpec,
        p1: u8,
        p2: u8,
        data: &[u8],
        ne: Option<usize>,
    ) -> Result<Command> {
        Ok(spec.command_with_cla(self.st.cla, p1, p2, data, ne)?)
    }

    /// Sends a command. On a CPS4 whose channel 1 was closed by a reset (`6881`, e.g. another
    /// application reset the card), the ChipDoc applet is selected again, once, and the
    /// command is sent again only when it has no effect and carries no secret
    /// ([`is_side_effect_free`]); any other command gives [`Error::ChannelClosed`]: the
    /// reset lost the PIN verification, and a PIN or a signature is never re-sent
    /// automatically.
    fn send(&mut self, cmd: &Command) -> Result<Response> {
        let r = match self.ex.transmit(cmd) {
            Ok(r) => r,
            Err(cps_transport::TransportError::ChainingRefused { sw, .. })
                if sw.0 == SW_CHANNEL_CLOSED && self.st.cla == CLA_CHANNEL_1 =>
            {
                self.reopen_channel()?;
                return Err(Error::ChannelClosed {
                    attempted: command_name(cmd),
                });
            }
            Err(e) => return Err(e.into()),
        };
        if r.sw.0 != SW_CHANNEL_CLOSED || self.st.cla != CLA_CHANNEL_1 {
            return Ok(r);
        }
        self.reopen_channel()?;
        if !is_side_effect_free(cmd) {
            return Err(Error::ChannelClosed {
                attempted: command_name(cmd),
            });
        }
        // SELECT by AID or by absolute path works from the MF; reads need the application.
        if cmd.ins != 0xA4 {
            self.select_application()?;
        }
        Ok(self.ex.transmit(cmd)?)
    }

    /// Selects the ChipDoc applet on logical channel 1 again (the channel was closed) and
    /// forgets which DF was current.
    fn reopen_channel(&mut self) -> Result<()> {
        self.st.forget_volatile();
        self.select_chipdoc()
    }

    /// `01 A4 04 0C 08 <ChipDoc AID>`: opens logical channel 1 by SELECT (ISO 7816-4 §5.4.2)
    /// with the ChipDoc applet, the MF current — Cryptolib's first CPS4 command
    /// (`card-cps4.c` `_cps4_select_app`). No response data (P2 `0C`).
    fn select_chipdoc(&mut self) -> Result<()> {
        let cmd = iso::SELECT.command_with_cla(CLA_CHANNEL_1, 0x04, 0x0C, &CHIPDOC_AID, None)?;
        let r = self.ex.transmit(&cmd)?;
        if !r.sw.is_success() {
            return Err(Error::Card {
                attempted: "selecting the ChipDoc applet on logical channel 1",
                sw: r.sw,
            });
        }
        self.st.current_df = Some(Path::from_fids(&[0x3F00]));
        Ok(())
    }

    /// CPS4: VERIFY of the PUK (`01 20 00 02`), then RESET RETRY COUNTER `01 2C 03 81` (no
    /// data: the PIN's counter back to its maximum; P2 b8 names the PIN as Cryptolib does,
    /// `card-cps4.c` `cps4_build_pin_apdu`).
    fn chipdoc_reset_counter(&mut self, puk: &Puk) -> Result<()> {
        let r = self.send_secret(&T::VERIFY, 0x00, PUK_REF, puk.bytes())?;
        pin_result(r.sw, "verifying the PUK", true)?;
        let cmd = self.cmd(&T::RESET_RETRY_COUNTER, 0x03, PIN_REF | 0x80, &[], None)?;
        let r = self.send(&cmd)?;
        pin_result(r.sw, "resetting the PIN try counter", true)
    }

    /// Sends a command whose data is a secret, and wipes the copy held by the command.
    fn send_secret(
        &mut self,
        spec: &CommandSpec,
        p1: u8,
        p2: u8,
        secret: &[u8],
    ) -> Result<Response> {
        let mut cmd = self.cmd(spec, p1, p2, secret, None)?;
        let r = self.send(&cmd);
        cmd.data.zeroize();
        r
    }

    fn init(&mut self, from_atr: Option<Generation>) -> Result<()> {
        if from_atr == Some(Generation::Cps4) {
            self.st.cla = CLA_CHANNEL_1;
            self.select_chipdoc()?;
            return self.select_application();
        }
        // EF.ATR only when the ATR does not say which card this is (its SELECT leaves the MF
        // current, so it comes before the application's SELECT).
        if from_atr.is_none() {
            if let Some(ef) = self.load_ef_atr()? {
                if let Some(g) = Generation::from_ef_atr(&ef) {
                    self.st.generation = g;
                    self.st.detected_by = DetectedBy::EfAtr;
                }
                if let Some(aid) = ef.aid.filter(|a| !a.is_empty()) {
                    self.st.aid = aid;
                }
            }
        }
        match self.select_application() {
            Ok(()) => Ok(()),
            // Unknown ATR and no IAS application on the basic channel: a CPS4 answers with
            // its ChipDoc applet on channel 1.
            Err(Error::Card { .. }) if from_atr.is_none() && self.try_chipdoc()? => Ok(()),
            Err(Error::Card { sw, .. }) if matches!(sw.0, 0x6A82 | 0x6A86 | 0x6A81) => {
                self.select_from_ef_dir()
            }
            Err(e) => Err(e),
        }
    }

    /// Tries the ChipDoc applet on channel 1; `true` (CPS4 detected) when it answers.
    fn try_chipdoc(&mut self) -> Result<bool> {
        match self.select_chipdoc() {
            Ok(()) => {}
            Err(Error::Card { .. }) => return Ok(false),
            Err(e) => return Err(e),
        }
        self.st.cla = CLA_CHANNEL_1;
        self.st.generation = Generation::Cps4;
        self.st.detected_by = DetectedBy::ChipDoc;
        self.st.aid = CPS_IAS_AID.to_vec();
        self.select_application()?;
        Ok(true)
    }

    /// The CPS AID was not found: look for the application in EF.DIR.
    fn select_from_ef_dir(&mut self) -> Result<()> {
        let apps = match self.load_applications() {
            Ok(a) => a.to_vec(),
            Err(Error::FileNotFound { .. }) => {
                return Err(Error::NotACpsCard {
                    detail:
                        "no CPS IAS-ECC application (AID E828BD080F8025000001FF0010) and no EF.DIR"
                            .into(),
                });
            }
            Err(e) => return Err(e),
        };
        let app = apps
            .iter()
            .find(|a| a.aid.starts_with(&CPS_IAS_AID[..10]))
            .or_else(|| {
                apps.iter().find(|a| {
                    a.label
                        .as_deref()
                        .is_some_and(|l| l.starts_with("CPS") || l.starts_with("CPX"))
                })
            })
            .ok_or_else(|| Error::NotACpsCard {
                detail: format!(
                    "EF.DIR lists {} application(s), none of them the CPS IAS-ECC one",
                    apps.len()
                ),
            })?
            .clone();
        self.st.aid = app.aid;
        if let Some(p) = app.path.filter(Path::is_absolute) {
            self.st.app_path = p;
        }
        self.select_application().map_err(|e| match e {
            Error::Card { sw, .. } => Error::NotACpsCard {
                detail: format!("EF.DIR names the application, but selecting it gave {sw}"),
            },
            e => e,
        })
    }

    /// SELECT of the IAS-ECC application (DF.CPS-IAS) by AID without response data:
    /// `00 A4 04 0C <AID>` on CPS3, `01 A4 04 0C <AID>` on CPS4, as Cryptolib does when it
    /// needs no FCP (`card-cps3.c` `cps3_select_file`, `card-cps4.c` `_cps4_select_app`):
    /// a case-3 command, so no `61xx` + GET RESPONSE on T=0.
    fn select_application(&mut self) -> Result<()> {
        let cmd = self.cmd(&iso::SELECT, 0x04, 0x0C, &self.st.aid, None)?;
        let mut r = self.send(&cmd)?;
        if self.st.cla == CLA_CHANNEL_1 && r.sw.0 == 0x6A82 {
            // A SELECT by AID on a closed channel opens it (ISO 7816-4 §5.4.2) with nothing
            // selected, so the DF is not found: the card was reset. Open channel 1 with the
            // ChipDoc applet again and select once more (SELECT has no effect).
            self.reopen_channel()?;
            r = self.send(&cmd)?;
        }
        if !r.sw.is_success() {
            return Err(Error::Card {
                attempted: "selecting the CPS IAS-ECC application",
                sw: r.sw,
            });
        }
        self.st.current_df = Some(self.st.app_path.clone());
        Ok(())
    }

    fn ensure_app(&mut self) -> Result<()> {
        if self.st.current_df.as_ref() != Some(&self.st.app_path) {
            self.select_application()?;
        }
        Ok(())
    }

    /// SELECT by absolute path (`00 A4 09 04`, path with `3F00`), FCP requested.
    fn select_file(&mut self, path: &Path) -> Result<Fcp> {
        let cmd = self.cmd(&iso::SELECT, 0x09, 0x04, path.as_bytes(), Some(SHORT_NE))?;
        let r = self.send(&cmd)?;
        match r.sw.0 {
            0x9000 => {
                let fcp = Fcp::parse(&r.data).unwrap_or_default();
                self.st.current_df = Some(if fcp.is_df {
                    path.clone()
                } else {
                    path.parent()
                });
                Ok(fcp)
            }
            0x6A82 => Err(Error::FileNotFound {
                path: path.to_string(),
            }),
            _ => Err(Error::from_sw("selecting a file", r.sw)),
        }
    }

    /// Reads an EF by path: SELECT (with FCP) then READ BINARY of exactly the FCP size.
    fn read_file(&mut self, path: &Path, attempted: &'static str) -> Result<Vec<u8>> {
        let fcp = self.select_file(path)?;
        if fcp.is_df {
            return Err(Error::malformed(
                "card layout",
                format!("{path} is a DF where an EF was expected"),
            ));
        }
        self.read_current(fcp.size, None, attempted, &path.to_string())
    }

    /// Reads an EF of the application by SFI (no SELECT).
    fn read_sfi(&mut self, sfi: u8, name: &str, attempted: &'static str) -> Result<Vec<u8>> {
        self.ensure_app()?;
        self.read_current(
            None,
            Some(sfi),
            attempted,
            &format!("{name} (SFI {sfi:02X})"),
        )
    }

    /// READ BINARY of the current EF (or of the EF with this SFI), as few APDUs as the
    /// card's Ne allows: exactly `size` bytes when the FCP gave it, else up to the end.
    fn read_current(
        &mut self,
        size: Option<usize>,
        sfi: Option<u8>,
        attempted: &'static str,
        path: &str,
    ) -> Result<Vec<u8>> {
        let size = size.map(|s| s.min(MAX_EF));
        // Unknown size: ask for as much as one response can carry (65536 = extended Le 0000).
        let open_ne = if self.st.read_ne > SHORT_NE {
            MAX_EF + 1
        } else {
            SHORT_NE
        };
        let mut out = Vec::with_capacity(size.unwrap_or(0));
        loop {
            let offset = out.len();
            let ne = match size {
                Some(s) if offset >= s => break,
                Some(s) => (s - offset).min(self.st.read_ne),
                None => open_ne,
            };
            let (p1, p2) = match (sfi, offset) {
                (Some(sfi), 0) => (0x80 | (sfi & 0x1F), 0x00),
                _ if offset > MAX_OFFSET => {
                    return Err(Error::Unsupported {
                        what: "reading past offset 0x7FFF",
                        detail: format!("{path} is larger than READ BINARY can address"),
                    });
                }
                _ => ((offset >> 8) as u8, (offset & 0xFF) as u8),
            };
            let r = self.send(&self.cmd(&iso::READ_BINARY, p1, p2, &[], Some(ne))?)?;
            match r.sw.0 {
                0x9000 | 0x6282 => {
                    let n = r.data.len();
                    out.extend_from_slice(&r.data);
                    let end = r.sw.0 == 0x6282 || n == 0 || (size.is_none() && n < ne);
                    if end {
                        break;
                    }
                }
                // An offset at the end of the file: nothing more to read.
                0x6B00 if offset > 0 => break,
                0x6A82 => {
                    return Err(Error::FileNotFound {
                        path: path.to_owned(),
                    });
                }
                _ => return Err(Error::from_sw(attempted, r.sw)),
            }
            if out.len() > MAX_EF + 1 {
                return Err(Error::malformed(
                    "card answer",
                    format!("{path} is larger than an EF can be"),
                ));
            }
        }
        if let Some(s) = size {
            out.truncate(s);
        }
        Ok(out)
    }

    fn load_ef_atr(&mut self) -> Result<Option<EfAtr>> {
        if let Some(e) = &self.st.ef_atr {
            return Ok(e.clone());
        }
        let parsed = match self.read_file(&Path::from_fids(&EF_ATR), "reading EF.ATR") {
            Ok(data) => Some(EfAtr::parse(&data)),
            Err(Error::FileNotFound { .. }) => None,
            Err(e) => return Err(e),
        };
        if let Some(sizes) = parsed.as_ref().and_then(|e| e.buffer_sizes) {
            // Short-APDU buffers (docs/card-layout.md): they may lower Ne on a short card.
            let recv = usize::from(sizes.receive);
            if self.st.read_ne <= SHORT_NE && (1..SHORT_NE).contains(&recv) {
                self.st.read_ne = recv;
            }
            let send = usize::from(sizes.send);
            if (1..=255).contains(&send) {
                self.st.chain_chunk = Some(send);
            }
        }
        self.st.ef_atr = Some(parsed.clone());
        Ok(parsed)
    }

    fn load_applications(&mut self) -> Result<&[Application]> {
        if self.st.applications.is_none() {
            let data = self.read_file(&Path::from_fids(&EF_DIR), "reading EF.DIR")?;
            self.st.applications = Some(pkcs15::parse_ef_dir(&data)?);
        }
        Ok(self.st.applications.as_deref().unwrap_or_default())
    }

    fn app_file(&self, fid: u16) -> Path {
        let mut p = self.st.app_path.as_bytes().to_vec();
        p.extend_from_slice(&fid.to_be_bytes());
        Path::new(p)
    }

    fn load_odf(&mut self) -> Result<&Odf> {
        if self.st.odf.is_none() {
            let data = self.directory_file(DirFile::Odf, |s| {
                s.read_file(&s.app_file(ODF_FID), "reading EF.ODF")
            })?;
            self.st.odf = Some(Odf::parse(&data)?);
            self.st.directory.insert(DirFile::Odf, data);
        }
        Ok(self.st.odf.get_or_insert_with(Odf::default))
    }

    fn load_token_info(&mut self) -> Result<&TokenInfo> {
        if self.st.token_info.is_none() {
            let data = self.directory_file(DirFile::TokenInfo, |s| {
                s.read_file(&s.app_file(TOKEN_INFO_FID), "reading EF.TokenInfo")
            })?;
            self.st.token_info = Some(TokenInfo::parse(&data)?);
            self.st.directory.insert(DirFile::TokenInfo, data);
        }
        Ok(self.st.token_info.get_or_insert_with(TokenInfo::default))
    }

    /// A PKCS#15 directory file: from the snapshot when it holds it
    /// ([`CpsCard::preload_directory`]), else read from the card by `read`. The caller keeps
    /// it in the snapshot once it parsed.
    fn directory_file(
        &mut self,
        file: DirFile,
        read: impl FnOnce(&mut Self) -> Result<Vec<u8>>,
    ) -> Result<Vec<u8>> {
        match self.st.directory.get(file) {
            Some(data) => Ok(data.to_vec()),
            None => read(self),
        }
    }

    /// Reads the directory file the ODF names for `kind`.
    fn read_directory(&mut self, kind: DirectoryKind, name: &'static str) -> Result<Vec<u8>> {
        let app = self.st.app_path.clone();
        let path = self
            .load_odf()?
            .first(kind)
            .map(|p| p.resolve(&app))
            .ok_or_else(|| Error::malformed("ODF", format!("no {name} entry")))?;
        self.read_file(&path, "reading a PKCS#15 directory file")
    }

    fn load_prkdf(&mut self) -> Result<&[KeyEntry]> {
        if self.st.prkdf.is_none() {
            let data = self.directory_file(DirFile::Prkdf, |s| {
                s.read_directory(DirectoryKind::PrivateKeys, "PrKDF")
            })?;
            self.st.prkdf = Some(pkcs15::parse_prkdf(&data)?);
            self.st.directory.insert(DirFile::Prkdf, data);
        }
        Ok(self.st.prkdf.as_deref().unwrap_or_default())
    }

    fn load_cdf(&mut self) -> Result<Vec<CertificateEntry>> {
        if self.st.cdf.is_none() {
            let data = self.directory_file(DirFile::Cdf, |s| {
                s.read_directory(DirectoryKind::Certificates, "CDF")
            })?;
            self.st.cdf = Some(pkcs15::parse_cdf(&data)?);
            self.st.directory.insert(DirFile::Cdf, data);
        }
        Ok(self.st.cdf.clone().unwrap_or_default())
    }

    fn load_dodf(&mut self) -> Result<Vec<DataObjectEntry>> {
        if self.st.dodf.is_none() {
            let data = self.directory_file(DirFile::Dodf, |s| {
                s.read_directory(DirectoryKind::DataObjects, "DODF")
            })?;
            let mut entries = pkcs15::parse_dodf(&data)?;
            if self.st.generation == Generation::Cps3
                && Generation::is_cps3_contact_atr(self.ex.atr())
            {
                // As Cryptolib on a CPS3 contact card: the CPS2ter application's objects
                // after the DODF's (`pkcs15.c` `__sc_pkcs15_search_objects`).
                let added = crate::cps2ter::objects(&entries);
                entries.extend(added);
            }
            self.st.dodf = Some(entries);
            self.st.directory.insert(DirFile::Dodf, data);
        }
        Ok(self.st.dodf.clone().unwrap_or_default())
    }

    /// Reads the file of a data object (its value), wiped when dropped.
    fn read_data_entry(&mut self, e: &DataObjectEntry) -> Result<Zeroizing<Vec<u8>>> {
        let app = self.st.app_path.clone();
        let path = e
            .path
            .as_ref()
            .map(|p| p.resolve(&app))
            .ok_or_else(|| Error::Unsupported {
                what: "a data object without a path",
                detail: "the CPS cards keep data objects in files".into(),
            })?;
        if e.cps2ter {
            return self.read_cps2ter(&path).map(Zeroizing::new);
        }
        Ok(Zeroizing::new(
            self.read_file(&path, "reading a data object")?,
        ))
    }

    /// Reads a file of the CPS3's CPS2ter application as Cryptolib does ([`crate::cps2ter`]):
    /// SELECT `A0 A4 00 00 02` of each FID after the MF (the MF itself is never selected),
    /// GET RESPONSE `A0 C0` of the last answer (`9Fxx`), READ BINARY `A0 B0` of its size, in
    /// pieces of at most 255 bytes (a CPS2ter P3 of `00` would mean 256).
    fn read_cps2ter(&mut self, path: &Path) -> Result<Vec<u8>> {
        use crate::cps2ter::{CLA, FileInfo, SW1_BYTES_AVAILABLE};
        const READ: &str = "reading a data object of the CPS2ter application";
        let fids = path.fids();
        let fids = match fids.split_first() {
            Some((0x3F00, rest)) => rest,
            _ => fids.as_slice(),
        };
        let shown = || format!("{path} (CPS2ter)");
        let sw_error = |attempted: &'static str, sw: StatusWord| match sw.0 {
            0x9404 => Error::FileNotFound { path: shown() },
            0x9804 => Error::SecurityStatusNotSatisfied { attempted },
            _ => Error::Card { attempted, sw },
        };
        let mut waiting = 0u8;
        for fid in fids {
            let cmd = iso::SELECT.command_with_cla(CLA, 0x00, 0x00, &fid.to_be_bytes(), None)?;
            let r = self.send(&cmd)?;
            if r.sw.0 >> 8 != u16::from(SW1_BYTES_AVAILABLE) && !r.sw.is_success() {
                return Err(sw_error(
                    "selecting a file of the CPS2ter application",
                    r.sw,
                ));
            }
            waiting = (r.sw.0 & 0xFF) as u8;
        }
        // Whether class A0 moves the IAS application's current DF is not published: the next
        // IAS read selects its file by path again rather than trust it.
        self.st.current_df = None;
        if fids.is_empty() || waiting == 0 {
            return Err(Error::malformed(
                "CPS2ter SELECT answer",
                format!("no file information for {}", shown()),
            ));
        }
        let cmd = iso::GET_RESPONSE.command_with_cla(CLA, 0, 0, &[], Some(usize::from(waiting)))?;
        let r = self.send(&cmd)?;
        if !r.sw.is_success() {
            return Err(sw_error("reading the CPS2ter SELECT answer", r.sw));
        }
        let info = FileInfo::parse(&r.data)?;
        if !info.is_ef() {
            return Err(Error::malformed(
                "card layout",
                format!("{} is not an EF", shown()),
            ));
        }
        let size = usize::from(info.size);
        let mut out = Vec::with_capacity(size);
        while out.len() < size {
            let offset = out.len();
            if offset > MAX_OFFSET {
                return Err(Error::Unsupported {
                    what: "reading past offset 0x7FFF",
                    detail: format!("{} is larger than READ BINARY can address", shown()),
                });
            }
            let ne = (size - offset).min(255);
            let cmd = iso::READ_BINARY.command_with_cla(
                CLA,
                (offset >> 8) as u8,
                (offset & 0xFF) as u8,
                &[],
                Some(ne),
            )?;
            let r = self.send(&cmd)?;
            if !r.sw.is_success() {
                return Err(sw_error(READ, r.sw));
            }
            if r.data.is_empty() || r.data.len() > ne {
                return Err(Error::malformed(
                    "card answer",
                    format!("{} bytes where {ne} were asked", r.data.len()),
                ));
            }
            out.extend_from_slice(&r.data);
        }
        Ok(out)
    }

    /// Reads the certificate of a CDF entry (or takes it from the cache).
    fn certificate_of(&mut self, e: &CertificateEntry) -> Result<Option<Certificate>> {
        let app = self.st.app_path.clone();
        let Some(path) = e.path.as_ref().map(|p| p.resolve(&app)) else {
            return Ok(None);
        };
        if let Some(c) = self.st.read_certs.iter().find(|c| c.path == path) {
            return Ok(Some(c.clone()));
        }
        let der = self.read_file(&path, "reading a certificate")?;
        let parsed = cps_x509::CpsCertificate::from_der(&der).ok();
        let cert = Certificate {
            label: e.label.clone(),
            id: e.id.clone(),
            authority: e.authority,
            path,
            der,
            parsed,
        };
        self.st.read_certs.push(cert.clone());
        Ok(Some(cert))
    }

    fn load_certificates(&mut self) -> Result<&[Certificate]> {
        if self.st.certificates.is_none() {
            let entries = self.load_cdf()?;
            let mut certs = Vec::with_capacity(entries.len());
            for e in &entries {
                certs.extend(self.certificate_of(e)?);
            }
            self.st.certificates = Some(certs);
        }
        Ok(self.st.certificates.as_deref().unwrap_or_default())
    }

    /// The certificate with this iD: the CDF and that one file only.
    fn load_certificate(&mut self, id: &[u8]) -> Result<Option<Certificate>> {
        let entries = self.load_cdf()?;
        match entries.iter().find(|e| e.id == id) {
            Some(e) => self.certificate_of(e),
            None => Ok(None),
        }
    }

    fn reference_status(&mut self, reference: u8, attempted: &'static str) -> Result<PinStatus> {
        let r = self.send(&self.cmd(&T::VERIFY, 0x00, reference, &[], None)?)?;
        match (r.sw.0, r.sw.retries_left()) {
            (0x9000, _) => Ok(PinStatus::Verified),
            (_, Some(0)) | (0x6983, _) => Ok(PinStatus::Blocked),
            (_, Some(n)) => Ok(PinStatus::RetriesLeft(n)),
            _ => Err(Error::from_sw(attempted, r.sw)),
        }
    }

    // ---- Keys ---------------------------------------------------------------------------

    fn known_keys(&self) -> Vec<KeyInfo> {
        match &self.st.prkdf {
            Some(entries) => entries.iter().filter_map(KeyInfo::from_entry).collect(),
            None => profile_keys(self.st.generation),
        }
    }

    fn resolve(&mut self, sel: &KeySelector) -> Result<KeyInfo> {
        let (usage, family, fallback) = match sel {
            KeySelector::Key(k) => return Ok(k.clone()),
            KeySelector::Reference(r) => {
                return self
                    .known_keys()
                    .into_iter()
                    .find(|k| k.reference == *r)
                    .ok_or_else(|| Error::KeyNotFound {
                        what: format!("key with reference {r:02X}"),
                    });
            }
            KeySelector::Usage(u) => (*u, self.st.preference, true),
            KeySelector::UsageIn(u, f) => (*u, *f, false),
        };
        let keys = self.known_keys();
        let pick = |family: KeyFamily| {
            keys.iter()
                .find(|k| k.algorithm.family() == Some(family) && k.usage == usage)
                .or_else(|| {
                    keys.iter()
                        .find(|k| k.algorithm.family() == Some(family) && k.can(usage))
                })
        };
        let other = match family {
            KeyFamily::Rsa => KeyFamily::Ec,
            KeyFamily::Ec => KeyFamily::Rsa,
        };
        pick(family)
            .or_else(|| if fallback { pick(other) } else { None })
            .cloned()
            .ok_or_else(|| Error::KeyNotFound {
                what: format!(
                    "{} {} key",
                    match family {
                        KeyFamily::Rsa => "RSA",
                        KeyFamily::Ec => "EC",
                    },
                    match usage {
                        KeyRole::Authentication => "authentication",
                        KeyRole::Signature => "signature",
                        KeyRole::Decipher => "decryption",
                    }
                ),
            })
    }

    /// Resolves the key and runs the operation; if the card does not know a key taken from
    /// the profile table (`6A88`), reads the PrKDF and tries once more with the card's own
    /// description (docs/card-layout.md, "Client command forms").
    fn with_key<R>(
        &mut self,
        sel: &KeySelector,
        mut op: impl FnMut(&mut Self, &KeyInfo) -> Result<R>,
    ) -> Result<R> {
        self.ensure_app()?;
        let key = self.resolve(sel)?;
        match op(self, &key) {
            Err(Error::Card { sw, .. })
                if sw == StatusWord::REFERENCED_DATA_NOT_FOUND
                    && key.source == KeySource::Profile =>
            {
                self.load_prkdf()?;
                let again = self.resolve(sel)?;
                if again.reference == key.reference && again.algorithm == key.algorithm {
                    return Err(Error::KeyNotFound {
                        what: format!("key {:02X} ({})", key.reference, key.label),
                    });
                }
                self.ensure_app()?;
                op(self, &again)
            }
            other => other,
        }
    }

    /// The card algorithm reference for an operation: from TokenInfo when it is cached and
    /// the key lists algorithm references, else the profile's constants.
    fn alg_ref(&self, key: &KeyInfo, mechanism: u32, decipher: bool, default: u8) -> u8 {
        let Some(ti) = &self.st.token_info else {
            return default;
        };
        key.algorithm_references
            .iter()
            .filter_map(|r| ti.algorithm(*r))
            .find(|a| {
                a.mechanism == mechanism
                    && if decipher {
                        a.operations.decipher()
                    } else {
                        a.operations.compute_signature()
                    }
            })
            .and_then(|a| a.card_reference)
            .and_then(|r| u8::try_from(r).ok())
            .unwrap_or(default)
    }

    fn mse(&mut self, template: u8, key: &KeyInfo, alg: u8, attempted: &'static str) -> Result<()> {
        // MSE SET (ISO 7816-4 §11.5.11): P1 41 = set for computation/decipherment, P2 = CRT
        // tag (B6 DST, A4 AT, B8 CT); data = algorithm reference 80 then key reference 84, in
        // the order the official middleware sends them (card-cps3.c `cps3_set_security_env`).
        let cmd = self.cmd(
            &T::MANAGE_SECURITY_ENVIRONMENT,
            0x41,
            template,
            &[0x80, 0x01, alg, 0x84, 0x01, key.reference],
            None,
        )?;
        self.expect_ok(&cmd, attempted)
    }

    /// Sends a command that must answer `9000`.
    fn expect_ok(&mut self, cmd: &Command, attempted: &'static str) -> Result<()> {
        let r = self.send(cmd)?;
        if r.sw.is_success() {
            Ok(())
        } else {
            Err(Error::from_sw(attempted, r.sw))
        }
    }

    fn response_ne(&self, key: &KeyInfo) -> usize {
        let len = key.algorithm.signature_len().unwrap_or(SHORT_NE);
        if len <= SHORT_NE || self.st.read_ne <= SHORT_NE {
            SHORT_NE
        } else {
            len
        }
    }

    /// PSO COMPUTE DIGITAL SIGNATURE (ISO 7816-8 §5.4): P1 9E = digital signature out, P2 9A
    /// = data to sign; `data` empty on CPS3 (the hash of PSO HASH), the hash on CPS4.
    fn pso_cds(
        &mut self,
        key: &KeyInfo,
        data: &[u8],
        algorithm: SignatureAlgorithm,
    ) -> Result<Signature> {
        let ne = Some(self.response_ne(key));
        let cmd = self.cmd(&T::PERFORM_SECURITY_OPERATION, 0x9E, 0x9A, data, ne)?;
        let r = self.send(&cmd)?;
        if !r.sw.is_success() {
            return Err(Error::from_sw(
                "signing (PSO COMPUTE DIGITAL SIGNATURE)",
                r.sw,
            ));
        }
        check_signature_len(key, &r.data)?;
        Ok(Signature::new(algorithm, key.reference, r.data))
    }

    /// The CPS3 algorithm reference of PKCS#1 v1.5 signature with this hash.
    fn cps3_sign_alg(&self, key: &KeyInfo, hash: HashAlgorithm) -> Result<u8> {
        match (key.algorithm.family(), hash) {
            (Some(KeyFamily::Rsa), HashAlgorithm::Sha256) => {
                Ok(self.alg_ref(key, CKM_SHA256_RSA_PKCS, false, ALG_RSA_SHA256))
            }
            (Some(KeyFamily::Rsa), HashAlgorithm::Sha1) => {
                Ok(self.alg_ref(key, CKM_SHA1_RSA_PKCS, false, ALG_RSA_SHA1))
            }
            (Some(KeyFamily::Ec), HashAlgorithm::Sha256) => {
                Ok(self.alg_ref(key, CKM_ECDSA_SHA256, false, ALG_ECDSA_SHA256))
            }
            (family, hash) => Err(Error::Unsupported {
                what: "this digest for PSO COMPUTE DIGITAL SIGNATURE",
                detail: format!(
                    "the card signs SHA-256 or SHA-1 hashes, not {hash:?} with {family:?} keys; \
                     use Digest::sha256_of, or authenticate_with"
                ),
            }),
        }
    }

    fn sign_with(&mut self, key: &KeyInfo, digest: &Digest, pss: bool) -> Result<Signature> {
        if self.st.generation == Generation::Cps4 {
            return self.chipdoc_sign(key, digest, pss);
        }
        if pss {
            return Err(Error::Unsupported {
                what: "RSA-PSS on a CPS3",
                detail: "the CPS3 signs PKCS#1 v1.5 only (Cryptolib card-cps3.c); PSS needs a CPS4"
                    .into(),
            });
        }
        let alg = self.cps3_sign_alg(key, digest.algorithm())?;
        let algorithm = match key.algorithm.family() {
            Some(KeyFamily::Rsa) => SignatureAlgorithm::RsaPkcs1v15(digest.algorithm()),
            // cps3_sign_alg accepted RSA and EC keys only.
            Some(KeyFamily::Ec) | None => SignatureAlgorithm::Ecdsa(digest.algorithm()),
        };
        self.mse(
            0xB6,
            key,
            alg,
            "setting the signature environment (MSE SET DST)",
        )?;
        // PSO HASH (ISO 7816-8 §5.2): data = 90 <hash computed by the host>.
        let mut data = vec![0x90, digest.as_bytes().len() as u8];
        data.extend_from_slice(digest.as_bytes());
        let cmd = self.cmd(&T::PERFORM_SECURITY_OPERATION, 0x90, 0xA0, &data, None)?;
        self.expect_ok(&cmd, "sending the hash (PSO HASH)")?;
        self.pso_cds(key, &[], algorithm)
    }

    /// CPS3: the card finishes the hash of a message given whole, as the official middleware
    /// drives it (pkcs15-sec.c `sc_pkcs15_compute_hash` then the signature; card-cps3.c
    /// `cps3_set_security_env`, `cps3_compute_hash`): MSE SET HT `80 01 10|40`, PSO HASH
    /// `90 <intermediate state ‖ bit count> 80 <last block>` (`90 00` when the message is one
    /// block or less), MSE SET DST, PSO CDS. Other generations: the host hashes.
    fn sign_message_with(
        &mut self,
        key: &KeyInfo,
        hash: HashAlgorithm,
        message: &[u8],
    ) -> Result<Signature> {
        if self.st.generation == Generation::Cps4 || message.is_empty() {
            let digest = Digest::of(hash, message)?;
            return self.sign_with(key, &digest, false);
        }
        let alg = self.cps3_sign_alg(key, hash)?;
        if key.algorithm.family() != Some(KeyFamily::Rsa) {
            return Err(Error::Unsupported {
                what: "a message hashed by the card with an EC key",
                detail: "give a digest instead (sign)".into(),
            });
        }
        let data = crate::crypto::partial_hash_data(hash, message)?;
        // MSE SET HT (hash template AA): the hash algorithm [real CPx TokenInfo: 10 SHA-1,
        // 40 SHA-256].
        let ht = if hash == HashAlgorithm::Sha1 {
            0x10
        } else {
            0x40
        };
        let cmd = self.cmd(
            &T::MANAGE_SECURITY_ENVIRONMENT,
            0x41,
            0xAA,
            &[0x80, 0x01, ht],
            None,
        )?;
        self.expect_ok(&cmd, "setting the hash environment (MSE SET HT)")?;
        let cmd = self.cmd(&T::PERFORM_SECURITY_OPERATION, 0x90, 0xA0, &data, None)?;
        self.expect_ok(&cmd, "sending the partial hash (PSO HASH)")?;
        self.mse(
            0xB6,
            key,
            alg,
            "setting the signature environment (MSE SET DST)",
        )?;
        self.pso_cds(key, &[], SignatureAlgorithm::RsaPkcs1v15(hash))
    }

    /// CPS4 signature: MSE `01 22 81 B6 04 91 02 <alg> <key | 80>` then PSO CDS of the hash
    /// computed by the host (Cryptolib `card-cps4.c` `cps4_set_security_env`, `cps4_sign`):
    /// the card builds the DigestInfo (PKCS#1 v1.5) or the PSS encoding (salt = hash length).
    fn chipdoc_sign(&mut self, key: &KeyInfo, digest: &Digest, pss: bool) -> Result<Signature> {
        let (alg, algorithm) = match (digest.algorithm(), pss) {
            (HashAlgorithm::Sha1, false) => (
                CHIPDOC_RSA_SHA1_PKCS1,
                SignatureAlgorithm::RsaPkcs1v15(HashAlgorithm::Sha1),
            ),
            (HashAlgorithm::Sha256, false) => (
                CHIPDOC_RSA_SHA256_PKCS1,
                SignatureAlgorithm::RsaPkcs1v15(HashAlgorithm::Sha256),
            ),
            (HashAlgorithm::Sha1, true) => (
                CHIPDOC_RSA_SHA1_PSS,
                SignatureAlgorithm::RsaPss(HashAlgorithm::Sha1),
            ),
            (HashAlgorithm::Sha256, true) => (
                CHIPDOC_RSA_SHA256_PSS,
                SignatureAlgorithm::RsaPss(HashAlgorithm::Sha256),
            ),
            (hash, _) => {
                return Err(Error::Unsupported {
                    what: "this digest on a CPS4",
                    detail: format!(
                        "the CPS4 signs SHA-256 or SHA-1 hashes (Cryptolib CPSV4_ALG_*), not {hash:?}"
                    ),
                });
            }
        };
        if key.algorithm.family() != Some(KeyFamily::Rsa) {
            return Err(Error::Unsupported {
                what: "an EC key on a CPS4",
                detail: "the CPS4 has RSA-2048 keys only".into(),
            });
        }
        let cmd = self.cmd(
            &T::MANAGE_SECURITY_ENVIRONMENT,
            0x81,
            0xB6,
            &[0x91, 0x02, alg, key.reference | 0x80],
            None,
        )?;
        self.expect_ok(&cmd, "setting the signature environment (MSE SET DST)")?;
        self.pso_cds(key, digest.as_bytes(), algorithm)
    }

    /// CPS4 `MSE SET CT` for the authentication key: `01 22 41 B8 03 83 01 <key>`
    /// (card-cps4.c `cps4_set_security_env`), used to decipher and to authenticate.
    fn chipdoc_mse_ct(&mut self, key: &KeyInfo) -> Result<()> {
        let cmd = self.cmd(
            &T::MANAGE_SECURITY_ENVIRONMENT,
            0x41,
            0xB8,
            &[0x83, 0x01, key.reference],
            None,
        )?;
        self.expect_ok(&cmd, "setting the decipher environment (MSE SET CT)")
    }

    /// PSO DECIPHER of a block as long as the modulus, answered by the raw RSA result (CPS4:
    /// no padding-indicator byte; the 256 bytes go as a chain of 255 + 1).
    fn chipdoc_raw_rsa(&mut self, block: &[u8], attempted: &'static str) -> Result<Vec<u8>> {
        let cmd = self.cmd(
            &T::PERFORM_SECURITY_OPERATION,
            0x80,
            0x86,
            block,
            Some(SHORT_NE),
        )?;
        let mut r = self.send(&cmd)?;
        if !r.sw.is_success() {
            r.data.zeroize();
            return Err(Error::from_sw(attempted, r.sw));
        }
        Ok(std::mem::take(&mut r.data))
    }

    fn authenticate_with(&mut self, key: &KeyInfo, digest: &Digest) -> Result<Signature> {
        if self.st.generation == Generation::Cps4 {
            // The CPS4 has no INTERNAL AUTHENTICATE (6D00): the host pads the DigestInfo
            // (type 1, RFC 8017 §9.2) and the card applies its private key by PSO DECIPHER
            // (card-cps4.c `decipher` through pkcs15-sec.c for CKM_RSA_PKCS).
            if key.algorithm.family() != Some(KeyFamily::Rsa) {
                return Err(Error::Unsupported {
                    what: "an EC key on a CPS4",
                    detail: "the CPS4 has RSA-2048 keys only".into(),
                });
            }
            let k = key.algorithm.signature_len().unwrap_or(0);
            let block = crate::crypto::pkcs1_type1(&digest.digest_info(), k)?;
            self.chipdoc_mse_ct(key)?;
            let sig = self.chipdoc_raw_rsa(&block, "authenticating (PSO DECIPHER)")?;
            check_signature_len(key, &sig)?;
            return Ok(Signature::new(
                SignatureAlgorithm::RsaPkcs1v15(digest.algorithm()),
                key.reference,
                sig,
            ));
        }
        let (alg, data, algorithm) = match key.algorithm.family() {
            None => {
                return Err(Error::Unsupported {
                    what: "this key algorithm for INTERNAL AUTHENTICATE",
                    detail: key.algorithm.to_string(),
                });
            }
            Some(KeyFamily::Rsa) => (
                self.alg_ref(key, CKM_RSA_PKCS, false, ALG_RSA_PKCS1),
                digest.digest_info(),
                SignatureAlgorithm::RsaPkcs1v15(digest.algorithm()),
            ),
            Some(KeyFamily::Ec) => (
                self.alg_ref(key, CKM_ECDSA, false, ALG_ECDSA),
                digest.as_bytes().to_vec(),
                SignatureAlgorithm::Ecdsa(digest.algorithm()),
            ),
        };
        self.mse(
            0xA4,
            key,
            alg,
            "setting the authentication environment (MSE SET AT)",
        )?;
        // INTERNAL AUTHENTICATE (ISO 7816-4 §11.5.2), P1 P2 00 00: the algorithm and key are
        // those of the AT just set.
        let ne = Some(self.response_ne(key));
        let cmd = self.cmd(&T::INTERNAL_AUTHENTICATE, 0x00, 0x00, &data, ne)?;
        let r = self.send(&cmd)?;
        if !r.sw.is_success() {
            return Err(Error::from_sw(
                "authenticating (INTERNAL AUTHENTICATE)",
                r.sw,
            ));
        }
        check_signature_len(key, &r.data)?;
        Ok(Signature::new(algorithm, key.reference, r.data))
    }

    fn decipher_with(&mut self, key: &KeyInfo, ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        if key.algorithm.family() != Some(KeyFamily::Rsa) {
            return Err(Error::Unsupported {
                what: "decryption with an EC key",
                detail: "the card deciphers with its RSA authentication key only".into(),
            });
        }
        if self.st.generation == Generation::Cps4 {
            // The card answers the raw RSA result; the host removes the type-2 padding.
            self.chipdoc_mse_ct(key)?;
            let block =
                Zeroizing::new(self.chipdoc_raw_rsa(ciphertext, "deciphering (PSO DECIPHER)")?);
            return crate::crypto::pkcs1_type2_unpad(&block);
        }
        let alg = self.alg_ref(key, CKM_RSA_PKCS, true, ALG_RSA_DECIPHER);
        self.mse(
            0xB8,
            key,
            alg,
            "setting the decipher environment (MSE SET CT)",
        )?;
        // PSO DECIPHER (ISO 7816-8 §5.9): P1 80 = plain value out, P2 86 = padding indicator
        // ‖ cryptogram in; padding indicator 81 as docs/card-layout.md gives it.
        let mut data = Vec::with_capacity(ciphertext.len() + 1);
        data.push(0x81);
        data.extend_from_slice(ciphertext);
        let cmd = self.cmd(
            &T::PERFORM_SECURITY_OPERATION,
            0x80,
            0x86,
            &data,
            Some(SHORT_NE),
        )?;
        let mut r = self.send(&cmd)?;
        if !r.sw.is_success() {
            r.data.zeroize();
            return Err(Error::from_sw("deciphering (PSO DECIPHER)", r.sw));
        }
        Ok(Zeroizing::new(std::mem::take(&mut r.data)))
    }
}

/// A signature must be exactly as long as the key says (RSA: modulus bytes; ECDSA: 2 × 32).
fn check_signature_len(key: &KeyInfo, sig: &[u8]) -> Result<()> {
    // A key of the profile table has an assumed RSA size: only PrKDF keys and EC keys have a
    // length that can be checked.
    let checkable = key.source == KeySource::PrKdf || key.algorithm.family() == Some(KeyFamily::Ec);
    let Some(want) = key.algorithm.signature_len().filter(|_| checkable) else {
        return Ok(());
    };
    if sig.len() != want {
        return Err(Error::malformed(
            "signature",
            format!(
                "{} bytes from key {:02X}, {} expected for {}",
                sig.len(),
                key.reference,
                want,
                key.algorithm
            ),
        ));
    }
    if sig.is_empty() {
        return Err(Error::malformed("signature", "the card returned no data"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_digits() {
        let s = CardSerial(vec![
            0x80, 0x25, 0x00, 0x00, 0x01, 0x30, 0x11, 0x23, 0x45, 0x6F,
        ]);
        assert_eq!(s.digits(), "8025000001301123456");
        assert_eq!(s.hex(), "80250000013011234 56F".replace(' ', ""));
    }

    #[test]
    fn fcp() {
        let f = Fcp::parse(&[
            0x62, 0x0E, 0x80, 0x02, 0x04, 0xB0, 0x82, 0x01, 0x01, 0x83, 0x02, 0xC0, 0x01, 0x8A,
            0x01, 0x05,
        ])
        .unwrap();
        assert_eq!(f.size, Some(1200));
        assert!(!f.is_df);
        let d = Fcp::parse(&[0x62, 0x03, 0x82, 0x01, 0x38]).unwrap();
        assert!(d.is_df);
        assert!(Fcp::parse(&[0x90, 0x00]).is_none());
    }

    #[test]
    fn pin_answers() {
        assert!(pin_result(StatusWord(0x9000), "x", false).is_ok());
        assert!(matches!(
            pin_result(StatusWord(0x63C2), "x", false),
            Err(Error::WrongPin { retries_left: 2 })
        ));
        assert!(matches!(
            pin_result(StatusWord(0x63C1), "x", true),
            Err(Error::WrongPuk { retries_left: 1 })
        ));
        assert!(matches!(
            pin_result(StatusWord(0x6983), "x", false),
            Err(Error::PinBlocked)
        ));
        assert!(matches!(
            pin_result(StatusWord(0x6983), "x", true),
            Err(Error::PukBlocked)
        ));
        assert!(matches!(
            pin_result(StatusWord(0x6A80), "x", false),
            Err(Error::Card { .. })
        ));
    }

    #[test]
    fn profile_tables() {
        let k3 = profile_keys(Generation::Cps3);
        let k4 = profile_keys(Generation::Cps4);
        let refs = |k: &[KeyInfo]| k.iter().map(|k| k.reference).collect::<Vec<_>>();
        assert_eq!(refs(&k3), [0x81, 0x82]);
        assert_eq!(refs(&k4), [0x81, 0x20]);
        for k in k3.iter().chain(&k4) {
            assert!(k.can(k.usage));
            assert_eq!(k.algorithm, KeyAlgorithm::Rsa { bits: 2048 });
        }
        assert!(k4[1].can(KeyRole::Decipher) && !k4[0].can(KeyRole::Decipher));
    }

    #[test]
    fn only_side_effect_free_commands_are_sent_again() {
        let c = |ins, data: &[u8]| Command::new(0x01, ins, 0, 0).with_data(data);
        assert!(is_side_effect_free(&c(0xA4, &[0x3F, 0x00])));
        assert!(is_side_effect_free(&c(0xB0, &[])));
        assert!(is_side_effect_free(&c(0x20, &[])));
        assert!(!is_side_effect_free(&c(0x20, b"1234")));
        for ins in [0x22, 0x24, 0x2A, 0x2C, 0x88, 0x46, 0xD6] {
            assert!(!is_side_effect_free(&c(ins, &[])), "{ins:02X}");
        }
        // An instruction no table knows is not sent again.
        assert!(!is_side_effect_free(&c(0xEE, &[])));
        assert_eq!(command_name(&c(0x2A, &[])), "PERFORM SECURITY OPERATION");
        assert_eq!(command_name(&c(0x20, b"1234")), "VERIFY");
        assert_eq!(command_name(&c(0xEE, &[])), "command");
    }
}
