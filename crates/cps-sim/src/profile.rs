//! Card profiles as data: ATR and protocol, file tree with contents, PINs, keys, and the
//! description of the PKCS#15 files generated from them.
//!
//! A profile is a JSON file (see `profiles/cps3.json`, `profiles/cps4.json` and the crate
//! documentation for the format). File contents are either literal bytes or references
//! resolved when a card is built for a persona:
//!
//! | content | meaning |
//! |---|---|
//! | `{"hex": "61 1F 4F 0D ..."}` | these bytes (spaces and colons ignored) |
//! | `{"text": "..."}` | these UTF-8 bytes |
//! | `{"generate": "ef.sn"}` | `5A 0A` ‖ the persona's 10-byte serial |
//! | `{"generate": "ef.ident"}` / `"ef.dam"` | the persona's holder data (docs/card-layout.md) |
//! | `{"generate": "pkcs15.odf"}`, `"pkcs15.tokeninfo"`, `"pkcs15.aodf"`, `"pkcs15.prkdf"`, `"pkcs15.pukdf"`, `"pkcs15.cdf"` | PKCS#15 files built from the `pkcs15` section, the PINs and the keys |
//! | `{"certificate": "auth"}` | the persona's certificate of that test-PKI slot (DER) |
//!
//! Keys come from the test PKI (`{"pki": "auth"}`), from PKCS#8 DER given in hex
//! (`{"pkcs8": "30 82 ..."}`), or are generated when the card is built (`{"generate":
//! "p256"}`, `"rsa-2048"`: slow).

use std::path::Path;

use serde::Deserialize;
use serde::de::{self, Deserializer};
use zeroize::Zeroizing;

use crate::SimError;

/// The built-in profiles: one per card generation, so the generation type of the client,
/// [`cps_iasecc::Generation`], names them (`Profile::Cps3`: the "CPx" IAS-ECC card, T=0,
/// RSA-2048 signature and authentication keys; `Profile::Cps4`: the NXP ChipDoc applet on
/// logical channel 1, RSA-2048 with PKCS#1 v1.5 and PSS, authentication by PSO DECIPHER, as
/// the official middleware drives it). Their JSON: [`builtin_json`]; parsed:
/// [`ProfileSpec::builtin`].
pub use cps_iasecc::Generation as Profile;

const CPS3_JSON: &str = include_str!("../profiles/cps3.json");
const CPS4_JSON: &str = include_str!("../profiles/cps4.json");

/// The built-in profiles.
pub const BUILTIN: [Profile; 2] = [Profile::Cps3, Profile::Cps4];

/// The JSON text of a built-in profile, as shipped in `crates/cps-sim/profiles/`.
pub fn builtin_json(profile: Profile) -> &'static str {
    match profile {
        Profile::Cps3 => CPS3_JSON,
        Profile::Cps4 => CPS4_JSON,
    }
}

/// Bytes written in hex in the profile (`"3F 00"`, `"3F00"`, `"3f:00"`).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Hex(pub Vec<u8>);

impl std::fmt::Debug for Hex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Hex({})", hex::encode_upper(&self.0))
    }
}

impl Hex {
    /// Parses hex digits, ignoring spaces, colons and newlines.
    pub fn parse(s: &str) -> Result<Self, String> {
        let digits: String = s
            .chars()
            .filter(|c| !c.is_whitespace() && *c != ':')
            .collect();
        hex::decode(&digits)
            .map(Hex)
            .map_err(|e| format!("bad hex {s:?}: {e}"))
    }
}

impl<'de> Deserialize<'de> for Hex {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Hex::parse(&s).map_err(de::Error::custom)
    }
}

/// One byte written in hex (`"81"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HexByte(pub u8);

impl<'de> Deserialize<'de> for HexByte {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let Hex(bytes) = Hex::deserialize(d)?;
        match bytes.as_slice() {
            [b] => Ok(HexByte(*b)),
            _ => Err(de::Error::custom("expected exactly one hex byte")),
        }
    }
}

/// A file identifier written in hex (`"2F00"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fid(pub u16);

impl<'de> Deserialize<'de> for Fid {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let Hex(bytes) = Hex::deserialize(d)?;
        match bytes.as_slice() {
            [a, b] => Ok(Fid(u16::from_be_bytes([*a, *b]))),
            _ => Err(de::Error::custom("expected a 2-byte file identifier")),
        }
    }
}

/// A secret value (PIN, PUK) read from the profile; wiped on drop, never printed.
#[derive(Clone, Default)]
pub struct Secret(pub(crate) Zeroizing<String>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Secret(Zeroizing::new(String::deserialize(d)?)))
    }
}

/// Transmission protocol of the contact interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Protocol {
    /// T=0: case-4 commands arrive without Le; data is served through `61xx` + GET RESPONSE.
    #[serde(rename = "T=0")]
    T0,
    /// T=1: Le is present; responses come directly (or through `61xx` beyond Ne).
    #[serde(rename = "T=1")]
    T1,
}

/// One interface of the profile (contact or contactless).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InterfaceSpec {
    /// The answer to reset (complete, with TCK when T=1).
    pub atr: Hex,
    /// The protocol (contactless interfaces behave as T=1).
    #[serde(default = "default_protocol")]
    pub protocol: Protocol,
    /// Whether extended Lc/Le is accepted (the ATR should then announce it).
    #[serde(default)]
    pub extended_length: bool,
    /// Whether the native application (file system + IAS-ECC) answers on this interface.
    #[serde(default = "default_true")]
    pub native_application: bool,
    /// Built-in applications present on this interface: `"desfire"` (the simulated
    /// DESFire PICC of [`crate::desfire`]).
    #[serde(default)]
    pub applets: Vec<String>,
    /// The native application lives in an applet selected by this AID (CPS4: the NXP
    /// ChipDoc applet `80 25 00 00 01 FF 01 00`, `card-cps4.c` `CHIPDOC_APP_AID`); it is then
    /// not reachable before that SELECT. `None`: the native application is active at reset.
    #[serde(default)]
    pub native_aid: Option<Hex>,
    /// Logical channels the card offers (ISO 7816-4 §5.4.2), the basic channel included:
    /// 1 = basic channel only. A SELECT by AID on a closed channel opens it.
    #[serde(default = "default_channels")]
    pub logical_channels: u8,
    /// Applications that only answer SELECT (`9000`, nothing else is modelled: every other
    /// command gets `6D00`), e.g. the CPS4's GlobalPlatform ISD and CPS2ter application.
    #[serde(default)]
    pub select_only_aids: Vec<Hex>,
    /// Other answers to reset of the same card model (e.g. the CPS4 release-candidate and
    /// T=0-only ATRs of `card-cps.c` `CPS_ATR_LIST`), selectable by index.
    #[serde(default)]
    pub alternative_atrs: Vec<Hex>,
    /// The IAS command dialect of the native application.
    #[serde(default)]
    pub dialect: Dialect,
    /// The IAS application this interface carries, when it differs from the contact one: the
    /// name of a built-in application profile ([`application_profile`]), e.g.
    /// `"cps3-contactless"` (the CPS3's technical-key application, `card-cps3.c`
    /// `cps3_aid_cps3_cl`).
    #[serde(default)]
    pub application: Option<String>,
}

const CPS3_CONTACTLESS_JSON: &str = include_str!("../profiles/cps3-contactless.json");

/// A built-in application profile that an interface names (`application`).
pub fn application_profile(name: &str) -> Result<ProfileSpec, SimError> {
    match name {
        "cps3-contactless" => ProfileSpec::from_json(name, CPS3_CONTACTLESS_JSON),
        other => Err(SimError::invalid(
            other,
            "unknown interface application (known: cps3-contactless)",
        )),
    }
}

/// How the native application speaks: the CPS3's IAS-ECC or the CPS4's NXP ChipDoc forms
/// (Cryptolib CPS 5.2 `card-cps3.c` / `card-cps4.c`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    /// IAS-ECC as the CPS3 answers it: MSE `41 B6/A4/B8/AA` with `80`/`84`, PSO HASH finished by
    /// the card, INTERNAL AUTHENTICATE, PSO DECIPHER with the `81` padding indicator.
    #[default]
    Iasecc,
    /// NXP ChipDoc (CPS4): MSE `81 B6 {91 02 alg key|80}` and `41 B8 {83 01 20}`, PSO CDS of a
    /// host-computed hash (PKCS#1 v1.5 or PSS), raw RSA PSO DECIPHER (authentication by
    /// deciphering a host-padded block), no INTERNAL AUTHENTICATE, empty VERIFY for the tries.
    Chipdoc,
}

fn default_channels() -> u8 {
    1
}

fn default_protocol() -> Protocol {
    Protocol::T1
}

fn default_true() -> bool {
    true
}

/// A security environment: its number and the PIN its user-authentication condition names.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeSpec {
    /// SE number (the `n` of condition byte `1n`).
    pub se: u8,
    /// PIN reference verified for this SE's user authentication.
    pub pin: HexByte,
}

/// Security conditions of a PIN object.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PinAclSpec {
    /// CHANGE REFERENCE DATA.
    pub change: HexByte,
    /// VERIFY.
    pub verify: HexByte,
    /// RESET RETRY COUNTER (P1 = 02/03).
    pub reset: HexByte,
    /// PUT DATA.
    pub put: HexByte,
    /// GET DATA.
    pub get: HexByte,
}

/// A PIN object (holder PIN, PUK).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PinSpec {
    /// Reference (VERIFY P2).
    pub reference: HexByte,
    /// Name, for diagnostics.
    pub label: String,
    /// Initial value (ASCII digits); the builder can override it.
    pub value: Secret,
    /// Shortest accepted value.
    pub min_length: usize,
    /// Longest accepted value.
    pub max_length: usize,
    /// Tries before blocking (1..=15).
    pub max_tries: u8,
    /// Reference of the PIN that unblocks this one.
    #[serde(default)]
    pub unblocking_pin: Option<HexByte>,
    /// Security conditions.
    pub acl: PinAclSpec,
}

/// Where a key comes from.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeySource {
    /// The persona's key of this test-PKI slot (`auth`, `sign`, `auth-ec`, `sign-ec`).
    Pki(String),
    /// A PKCS#8 `PrivateKeyInfo` in hex.
    Pkcs8(Hex),
    /// A key generated when the card is built: `"p256"` or `"rsa-<bits>"`.
    Generate(String),
}

/// Security conditions of a key.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyAclSpec {
    /// PSO COMPUTE DIGITAL SIGNATURE.
    pub sign: HexByte,
    /// INTERNAL AUTHENTICATE.
    pub internal_authenticate: HexByte,
    /// PSO DECIPHER.
    pub decipher: HexByte,
    /// GENERATE ASYMMETRIC KEY PAIR.
    pub generate: HexByte,
    /// PUT DATA.
    pub put: HexByte,
    /// GET DATA.
    pub get: HexByte,
}

/// The PuKDF entry of a key's public part.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicKeySpec {
    /// PKCS#15 label.
    pub label: String,
    /// PKCS#15 key usage flags (`encrypt`, `verify`, ...).
    pub usage: Vec<String>,
}

/// A private key and its PKCS#15 description.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeySpec {
    /// Key reference as MSE names it (`81`..).
    pub reference: HexByte,
    /// PKCS#15 label.
    pub label: String,
    /// Where the key comes from.
    pub source: KeySource,
    /// PKCS#15 key usage flags (`sign`, `decrypt`, `nonRepudiation`, ...).
    pub usage: Vec<String>,
    /// PKCS#15 algReference list: TokenInfo algorithm references.
    #[serde(default)]
    pub algorithms: Vec<u32>,
    /// PKCS#15 authId of the PIN protecting it.
    pub auth_id: Hex,
    /// Path of the key in the PrKDF (empty: no path).
    #[serde(default)]
    pub path: Hex,
    /// PKCS#15 iD; absent: the SHA-1 of the public key (OpenSC's convention). The real cards
    /// use the PKCS#15 AID followed by `01` (signature) / `02` (authentication) (OpenSC issue
    /// #2267, `pkcs15-tool -k` of a real CPS3).
    #[serde(default)]
    pub id: Option<Hex>,
    /// The path is the application's DF name (`[APPLICATION 15]` aid of the Path, as the
    /// real CPS3 PrKDF shows: `Path : e828bd080f8025000001ff0010::`), not a file path.
    #[serde(default)]
    pub path_is_aid: bool,
    /// PKCS#15 CommonObjectFlags of the private key (`private`, `modifiable`).
    #[serde(default = "default_private")]
    pub object_flags: Vec<String>,
    /// Security conditions.
    pub acl: KeyAclSpec,
    /// The public key's PuKDF entry, when it has one.
    #[serde(default)]
    pub public_key: Option<PublicKeySpec>,
}

/// One entry of TokenInfo's supportedAlgorithms.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlgorithmSpec {
    /// PKCS#15 reference (≠ 0).
    pub reference: u32,
    /// PKCS#11 mechanism, in hex (`"0250"` = CKM_SHA256).
    pub mechanism: Hex,
    /// Operations: `compute-signature`, `decipher`, `hash`, ...
    pub operations: Vec<String>,
    /// Algorithm object identifier (dotted).
    #[serde(default)]
    pub oid: Option<String>,
    /// EC domain parameters (curve OID, dotted); `NULL` parameters when absent.
    #[serde(default)]
    pub curve: Option<String>,
    /// Algorithm reference on the card (MSE `80`).
    pub alg_ref: HexByte,
}

/// An authentication object (AODF entry).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthObjectSpec {
    /// Label.
    pub label: String,
    /// authId.
    pub auth_id: Hex,
    /// The PIN object it describes (its reference).
    pub pin: HexByte,
    /// PIN flags (`initialized`, `unblockingPin`, `needs-padding`, `local`...).
    pub flags: Vec<String>,
    /// storedLength.
    pub stored_length: u8,
    /// padChar.
    #[serde(default)]
    pub pad_char: Option<HexByte>,
    /// authId of the object that unblocks this one (CommonObjectAttributes.authId).
    #[serde(default)]
    pub unblocked_by: Option<Hex>,
}

/// A certificate (CDF entry).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificateSpec {
    /// Label.
    pub label: String,
    /// Absolute path of the certificate file.
    pub path: Hex,
    /// Reference of the key it certifies (its iD is that key's iD).
    pub key: HexByte,
}

/// One ODF entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OdfEntry {
    /// `prkdf`, `pukdf`, `cdf`, `dodf` or `aodf`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Absolute path of that directory file.
    pub path: Hex,
}

/// What the generated PKCS#15 files say.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pkcs15Spec {
    /// TokenInfo manufacturerID.
    pub manufacturer_id: String,
    /// TokenInfo label; `{persona}` is replaced by the persona's identifier.
    pub label: String,
    /// TokenInfo flags (`readonly`, `loginRequired`, ...).
    pub token_flags: Vec<String>,
    /// TokenInfo supportedAlgorithms.
    pub algorithms: Vec<AlgorithmSpec>,
    /// ODF entries, in order.
    pub odf: Vec<OdfEntry>,
    /// AODF entries.
    pub auth_objects: Vec<AuthObjectSpec>,
    /// CDF entries.
    pub certificates: Vec<CertificateSpec>,
    /// DODF entries: the CPS data objects ("données métier").
    #[serde(default)]
    pub data_objects: Vec<DataObjectSpec>,
    /// Where the practice-situation data objects live, one block per label family: the folder
    /// and the FID of situation 1 (then one FID per situation; `CPS_ACTIVITY_nn_PS` in
    /// `D120`..`D12F` on the CPS3: `card-cps3.c` `cps3_sit_paths`; the CPS4 also carries
    /// `CPS2TER_ACTIVITY_nn_PS`). Empty: no situation objects.
    #[serde(default)]
    pub situations: Vec<SituationsSpec>,
}

/// One CPS data object (PKCS#15 DODF entry, opaque DO).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataObjectSpec {
    /// Label, e.g. `CPS_NAME_PS` (ANS PKCS#11 external specification, table 3).
    pub label: String,
    /// Absolute path of the file holding the value.
    pub path: Hex,
    /// Behind the holder PIN (authId 01, private flag).
    #[serde(default)]
    pub private: bool,
    /// Modifiable flag (CPS_DATA).
    #[serde(default)]
    pub modifiable: bool,
}

/// Where the situation objects live.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SituationsSpec {
    /// Folder (absolute path) of the situation files.
    pub folder: Hex,
    /// FID of the first situation's file.
    pub first_fid: Fid,
    /// Label prefix (`CPS_ACTIVITY_` then `01`.. and `_PS`).
    #[serde(default = "default_activity_prefix")]
    pub label_prefix: String,
}

fn default_activity_prefix() -> String {
    "CPS_ACTIVITY_".into()
}

fn default_private() -> Vec<String> {
    vec!["private".into()]
}

/// A file's contents.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Content {
    /// Literal bytes.
    Hex(Hex),
    /// UTF-8 text.
    Text(String),
    /// Generated from the persona or the profile (`ef.sn`, `ef.ident`, `ef.dam`,
    /// `pkcs15.*`).
    Generate(String),
    /// The persona's certificate of this test-PKI slot.
    Certificate(String),
}

/// One file of the tree: a DF when it has `children`, an EF otherwise.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSpec {
    /// File identifier.
    pub fid: Fid,
    /// Name, for diagnostics.
    #[serde(default)]
    pub name: String,
    /// DF name (AID).
    #[serde(default)]
    pub aid: Option<Hex>,
    /// Short EF identifier.
    #[serde(default)]
    pub sfi: Option<HexByte>,
    /// Life-cycle status byte (default `05`, operational activated).
    #[serde(default = "default_lcs")]
    pub lcs: HexByte,
    /// Access rule in compact form: AM byte then SC bytes (`"03 FF 00"`).
    pub acl: Hex,
    /// EF contents.
    #[serde(default)]
    pub content: Option<Content>,
    /// DF children.
    #[serde(default)]
    pub children: Option<Vec<FileSpec>>,
}

fn default_lcs() -> HexByte {
    HexByte(0x05)
}

/// A parsed profile.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileSpec {
    /// Name ("CPS3").
    pub name: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// Card generation digit (3, 4), used in generated serial numbers.
    pub generation: u8,
    /// Contact interface.
    pub contact: InterfaceSpec,
    /// Contactless interface, if the card has one.
    #[serde(default)]
    pub contactless: Option<InterfaceSpec>,
    /// Security environments.
    pub security_environments: Vec<SeSpec>,
    /// PIN objects.
    pub pins: Vec<PinSpec>,
    /// Private keys.
    pub keys: Vec<KeySpec>,
    /// PKCS#15 description.
    pub pkcs15: Pkcs15Spec,
    /// The MF and everything below it.
    pub files: FileSpec,
    /// The FIDO2 applet, if the card carries one (CPS4; delivered blank).
    #[serde(default)]
    pub fido2: Option<Fido2Spec>,
    /// The CPS2ter application reached with class `A0` on the contact interface (CPS3), if
    /// the card has one.
    #[serde(default)]
    pub cps2ter: Option<Cps2terSpec>,
}

/// The CPS2ter application of a CPS3: its own file tree, reached with class `A0`, in which
/// Cryptolib reads `CPS_SIT_FACT` (`3F00/7F01/4000`) and one `CPS2TER_ACTIVITY_nn_PS`
/// (`3F00/4010`..) per practice situation (`pkcs15.c` `sit_fact`, `Sits`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cps2terSpec {
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// The MF `3F00` and everything below it.
    pub files: FileSpec,
    /// The situation files, one per practice situation of the persona.
    #[serde(default)]
    pub situations: Option<SituationsSpec>,
}

/// The FIDO2 applet of a profile (AID `A0000006472F0001`, CTAP 2.1 §11.3.3), blank at
/// delivery: no PIN, no credentials.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fido2Spec {
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// Whether it can be selected through the contactless interface (CPS4: no; SELECT then
    /// answers `6985`).
    #[serde(default)]
    pub contactless: bool,
    /// `"ctap2"` (CTAP2 with CTAP1/U2F, the default) or `"u2f-only"`.
    #[serde(default)]
    pub mode: Fido2ModeSpec,
}

/// The protocols of the FIDO2 applet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum Fido2ModeSpec {
    /// CTAP2 and CTAP1/U2F.
    #[default]
    #[serde(rename = "ctap2")]
    Ctap2,
    /// CTAP1/U2F only.
    #[serde(rename = "u2f-only")]
    U2fOnly,
}

impl ProfileSpec {
    /// The parsed built-in profile of a generation.
    pub fn builtin(profile: Profile) -> Result<Self, SimError> {
        Self::from_json(profile.as_str(), builtin_json(profile))
    }

    /// Parses a profile from JSON; `name` is used in error messages.
    pub fn from_json(name: &str, json: &str) -> Result<Self, SimError> {
        serde_json::from_str(json).map_err(|source| SimError::ProfileSyntax {
            profile: name.to_owned(),
            source,
        })
    }

    /// Reads and parses a profile file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, SimError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| SimError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_json(&path.display().to_string(), &text)
    }
}
