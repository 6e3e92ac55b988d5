//! Building a [`SimCard`] from a profile, a persona and the test PKI.

use zeroize::Zeroizing;

use crate::SimError;
use crate::applet::Applet;
use crate::card::{Interface, SimCard};
use crate::fido2::{Fido2Applet, Fido2Options};
use crate::fs::{AccessRule, FileSystem, Node, NodeId, NodeKind};
use crate::iasecc::{IasEcc, Key, KeyAcl, Pin, PinAcl, SecurityEnv};
use crate::iso::Native;
use crate::keys::{KeyKind, KeyPair};
use crate::persona::{self, Persona};
use crate::pkcs15::{self, KeyView};
use crate::pki::Pki;
use crate::profile::{Content, FileSpec, KeySource, Profile, ProfileSpec, Protocol};
use crate::security::SecurityStatus;

/// Where the builder takes the profile from.
#[derive(Debug, Clone)]
enum ProfileChoice {
    Builtin(Profile),
    Spec(Box<ProfileSpec>),
}

/// Builds a [`SimCard`]: profile, persona, PIN and PUK values, interface, extra applets.
///
/// ```
/// use cps_sim::{Interface, Profile, SimCard};
/// let card = SimCard::builder()
///     .profile(Profile::Cps3)
///     .persona("pharmacien-durand")
///     .pin("4321")
///     .puk("87654321")
///     .interface(Interface::Contact)
///     .build()?;
/// assert_eq!(card.persona().family_name, "DURAND");
/// # Ok::<(), cps_sim::SimError>(())
/// ```
#[derive(Clone)]
#[must_use]
pub struct SimCardBuilder {
    profile: ProfileChoice,
    persona: String,
    pin: Option<Zeroizing<String>>,
    puk: Option<Zeroizing<String>>,
    interface: Interface,
    applets: Vec<Box<dyn Applet>>,
    desfire: Option<crate::desfire::DesfireApplet>,
    key_generation: bool,
    atr_variant: usize,
    pki: Pki,
    fido2: Fido2Options,
    fido2_set: bool,
    update_serial: Option<Vec<u8>>,
}

impl std::fmt::Debug for SimCardBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The PIN and PUK values are never printed.
        f.debug_struct("SimCardBuilder")
            .field("profile", &self.profile)
            .field("persona", &self.persona)
            .field("pin", &self.pin.as_ref().map(|_| ".."))
            .field("puk", &self.puk.as_ref().map(|_| ".."))
            .field("interface", &self.interface)
            .field("applets", &self.applets.len())
            .field("key_generation", &self.key_generation)
            .field("fido2", &self.fido2)
            .finish_non_exhaustive()
    }
}

impl Default for SimCardBuilder {
    fn default() -> Self {
        SimCardBuilder {
            profile: ProfileChoice::Builtin(Profile::Cps3),
            persona: "dr-martin".to_owned(),
            pin: None,
            puk: None,
            interface: Interface::Contact,
            applets: Vec::new(),
            desfire: None,
            key_generation: true,
            atr_variant: 0,
            pki: Pki::default(),
            fido2: Fido2Options::default(),
            fido2_set: false,
            update_serial: None,
        }
    }
}

/// Reference of the holder PIN (docs/card-layout.md: reference 01).
pub const HOLDER_PIN: u8 = 0x01;
/// Reference of the PUK (docs/card-layout.md: reference 02).
pub const PUK: u8 = 0x02;

impl SimCardBuilder {
    /// A builder with the defaults: CPS3, dr-martin, the profile's PIN (`1234`) and PUK
    /// (`12345678`), contact interface, key generation on.
    pub fn new() -> Self {
        Self::default()
    }

    /// The serial number the remote-update application announces (and [`SimCard::serial`]
    /// returns) instead of the persona's, so that a load test of the update service can
    /// drive many distinct cards; EF.SN keeps the persona's value. A test hook.
    pub fn update_serial(mut self, serial: Vec<u8>) -> Self {
        self.update_serial = Some(serial);
        self
    }

    /// One of the built-in profiles.
    pub fn profile(mut self, profile: Profile) -> Self {
        self.profile = ProfileChoice::Builtin(profile);
        self
    }

    /// A profile read from a file or built in code.
    pub fn profile_spec(mut self, spec: ProfileSpec) -> Self {
        self.profile = ProfileChoice::Spec(Box::new(spec));
        self
    }

    /// The card holder (an identifier of [`personas`](crate::personas)).
    pub fn persona(mut self, id: &str) -> Self {
        id.clone_into(&mut self.persona);
        self
    }

    /// The holder PIN's initial value (reference 01).
    pub fn pin(mut self, pin: &str) -> Self {
        self.pin = Some(Zeroizing::new(pin.to_owned()));
        self
    }

    /// The PUK's value (reference 02).
    pub fn puk(mut self, puk: &str) -> Self {
        self.puk = Some(Zeroizing::new(puk.to_owned()));
        self
    }

    /// Contact (default) or contactless.
    pub fn interface(mut self, interface: Interface) -> Self {
        self.interface = interface;
        self
    }

    /// Adds an application selected by AID (one with the AID of an applet of the profile,
    /// e.g. FIDO2 on CPS4, takes its place).
    pub fn applet(mut self, applet: Box<dyn Applet>) -> Self {
        self.applets.push(applet);
        self
    }

    /// The DESFire PICC to use where the profile names `"desfire"` (default: the persona's
    /// CPS4 PICC, [`DesfireApplet::cps4`](crate::desfire::DesfireApplet::cps4)), e.g. one
    /// with a random UID or a blank one.
    pub fn desfire(mut self, picc: crate::desfire::DesfireApplet) -> Self {
        self.desfire = Some(picc);
        self
    }

    /// How the simulated user answers the FIDO2 applet's requests for presence: at once
    /// (default), never, or after N status updates (`9100` polls; for U2F, N `6985`
    /// refusals). The profile must carry the applet (CPS4), else [`build`](Self::build)
    /// fails.
    pub fn fido2_presence(mut self, policy: crate::fido2::authenticator::PresencePolicy) -> Self {
        self.fido2.presence = policy;
        self.fido2_set = true;
        self
    }

    /// Packed basic attestation with the TEST attestation CA (default) or self attestation.
    pub fn fido2_attestation(mut self, mode: crate::fido2::authenticator::AttestationMode) -> Self {
        self.fido2.attestation = mode;
        self.fido2_set = true;
        self
    }

    /// CTAP2 + U2F, or U2F only (to test clients' CTAP1/U2F fallback), whatever the profile
    /// says.
    pub fn fido2_mode(mut self, mode: crate::fido2::applet::AppletMode) -> Self {
        self.fido2.mode = Some(mode);
        self.fido2_set = true;
        self
    }

    /// Which answer to reset the card gives: 0 = the profile's (CPS4: production), `n` = the
    /// profile's `alternative_atrs[n - 1]` (CPS4: 1 = release candidate, 2 = T=0 only).
    pub fn atr_variant(mut self, index: usize) -> Self {
        self.atr_variant = index;
        self
    }

    /// Whether GENERATE ASYMMETRIC KEY PAIR really generates keys (default) or answers
    /// `6A81` (fuzzing: RSA generation takes seconds).
    pub fn key_generation(mut self, on: bool) -> Self {
        self.key_generation = on;
        self
    }

    /// Reads the test PKI from this directory instead of the committed `testvectors/pki`.
    pub fn pki_dir(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.pki = Pki::from_dir(dir.into());
        self
    }

    /// Builds the card.
    pub fn build(self) -> Result<SimCard, SimError> {
        let spec = match &self.profile {
            ProfileChoice::Builtin(p) => ProfileSpec::builtin(*p)?,
            ProfileChoice::Spec(s) => (**s).clone(),
        };
        let persona = persona::persona(&self.persona)?;
        let name = spec.name.clone();
        let iface = match self.interface {
            Interface::Contact => Some(&spec.contact),
            Interface::Contactless => spec.contactless.as_ref(),
            Interface::Unknown => {
                return Err(SimError::invalid(
                    &name,
                    "a simulated card is powered by contacts or contactless",
                ));
            }
        }
        .ok_or_else(|| SimError::invalid(&name, "the profile has no contactless interface"))?
        .clone();
        // An interface may carry its own IAS application, described by another built-in
        // profile (the CPS3's contactless side: the technical key, no PIN).
        let spec = match (&self.interface, iface.application.as_deref()) {
            (Interface::Contactless, Some(app)) => crate::profile::application_profile(app)?,
            _ => spec,
        };
        let native_on_iface = iface.native_application || iface.application.is_some();
        let (protocol, extended, native_available) = match self.interface {
            Interface::Contact => (
                iface.protocol,
                iface.extended_length,
                iface.native_application,
            ),
            Interface::Contactless | Interface::Unknown => {
                (Protocol::T1, iface.extended_length, native_on_iface)
            }
        };
        let atr = match self.atr_variant {
            0 => iface.atr.0.clone(),
            n => iface
                .alternative_atrs
                .get(n - 1)
                .map(|a| a.0.clone())
                .ok_or_else(|| {
                    SimError::invalid(&name, format!("the profile has no ATR variant {n}"))
                })?,
        };
        let mut builtin: Vec<Box<dyn Applet>> = Vec::new();
        for name in &iface.applets {
            match name.as_str() {
                "desfire" => builtin.push(Box::new(
                    self.desfire
                        .clone()
                        .unwrap_or_else(|| crate::desfire::DesfireApplet::cps4(&persona)),
                )),
                other => {
                    return Err(SimError::invalid(
                        name.as_str(),
                        format!("unknown built-in applet {other:?} (known: desfire)"),
                    ));
                }
            }
        }

        let keys = load_keys(&spec, &persona, &self.pki)?;
        let pins = build_pins(
            &spec,
            self.pin.as_ref().map(|p| p.as_str()),
            self.puk.as_ref().map(|p| p.as_str()),
        )?;
        let views: Vec<KeyView<'_>> = spec
            .keys
            .iter()
            .zip(keys.iter())
            .map(|(s, k)| KeyView {
                spec: s,
                pair: &k.pair,
            })
            .collect();
        let ctx = ContentCtx {
            spec: &spec,
            persona: &persona,
            views: &views,
            pki: &self.pki,
        };
        let fs = build_fs(&spec, &ctx)?;
        let cps2ter = match (&spec.cps2ter, self.interface) {
            (Some(c2), Interface::Contact) => {
                Some(crate::cps2ter::Cps2ter::new(build_cps2ter_fs(c2, &ctx)?))
            }
            _ => None,
        };
        drop(views);

        // Applets added with `.applet()` come first: one with the AID of a profile applet
        // replaces it.
        let mut applets: Vec<Box<dyn Applet>> = self.applets;
        let replaced = applets
            .iter()
            .any(|a| a.aid() == cps_fido2::transport::FIDO_AID.as_slice());
        match &spec.fido2 {
            Some(_) if replaced && self.fido2_set => {
                return Err(SimError::invalid(
                    &name,
                    "FIDO2 options given, but an applet added with .applet() replaces the FIDO2 applet",
                ));
            }
            Some(_) if replaced => {}
            Some(f) => {
                let mode = match f.mode {
                    crate::profile::Fido2ModeSpec::Ctap2 => crate::fido2::applet::AppletMode::Ctap2,
                    crate::profile::Fido2ModeSpec::U2fOnly => {
                        crate::fido2::applet::AppletMode::U2fOnly
                    }
                };
                applets.push(Box::new(Fido2Applet::new(self.fido2, mode, f.contactless)));
            }
            None if self.fido2_set => {
                return Err(SimError::invalid(
                    &name,
                    "FIDO2 options given, but the profile has no FIDO2 applet (CPS4 has one)",
                ));
            }
            None => {}
        }
        applets.extend(builtin);

        let se_pins = spec
            .security_environments
            .iter()
            .map(|s| (s.se, s.pin.0))
            .collect();
        let native = Native {
            fs,
            cur_df: FileSystem::MF,
            cur_ef: None,
            security: SecurityStatus::new(se_pins),
            cps2ter,
            iasecc: IasEcc {
                pins,
                keys,
                se: SecurityEnv::default(),
                se_numbers: spec.security_environments.iter().map(|s| s.se).collect(),
                key_generation: self.key_generation,
                dialect: spec.contact.dialect,
            },
        };
        let serial = self
            .update_serial
            .clone()
            .unwrap_or_else(|| persona.serial(spec.generation).to_vec());
        let channels = iface.logical_channels;
        let native_aid = iface.native_aid.as_ref().map(|a| a.0.clone());
        let select_only: Vec<Vec<u8>> =
            iface.select_only_aids.iter().map(|a| a.0.clone()).collect();
        let mut card = SimCard::assemble(
            name,
            persona,
            self.interface,
            atr,
            protocol,
            extended,
            native_available,
            native,
            applets,
            std::sync::Arc::new(spec.clone()),
            serial,
        );
        card.set_channels(channels, native_aid, select_only);
        Ok(card)
    }
}

impl SimCard {
    /// A card of a built-in profile for a persona, contact interface, default PIN and PUK.
    ///
    /// ```
    /// use cps_sim::{Profile, SimCard};
    /// let card = SimCard::new(Profile::Cps4, "infirmiere-bernard")?;
    /// assert_eq!(card.profile_name(), "CPS4");
    /// # Ok::<(), cps_sim::SimError>(())
    /// ```
    pub fn new(profile: Profile, persona: &str) -> Result<SimCard, SimError> {
        SimCardBuilder::new()
            .profile(profile)
            .persona(persona)
            .build()
    }

    /// A builder (see [`SimCardBuilder`]).
    pub fn builder() -> SimCardBuilder {
        SimCardBuilder::new()
    }
}

fn build_pins(
    spec: &ProfileSpec,
    pin: Option<&str>,
    puk: Option<&str>,
) -> Result<Vec<Pin>, SimError> {
    let mut out = Vec::new();
    for p in &spec.pins {
        let (value, what): (&str, &'static str) = match p.reference.0 {
            HOLDER_PIN => (pin.unwrap_or(&p.value.0), "holder PIN"),
            PUK => (puk.unwrap_or(&p.value.0), "PUK"),
            _ => (&p.value.0, "PIN object"),
        };
        let acl = PinAcl {
            change: p.acl.change.0,
            verify: p.acl.verify.0,
            reset: p.acl.reset.0,
            put: p.acl.put.0,
            get: p.acl.get.0,
        };
        let pin = Pin::new(
            p.reference.0,
            value.as_bytes(),
            (p.min_length, p.max_length),
            p.max_tries,
            p.unblocking_pin.map(|r| r.0),
            acl,
        )
        .map_err(|e| SimError::InvalidSecret {
            object: what,
            detail: e.0,
        })?;
        if out.iter().any(|o: &Pin| o.reference == p.reference.0) {
            return Err(SimError::invalid(
                &spec.name,
                format!("PIN {:02X} twice", p.reference.0),
            ));
        }
        out.push(pin);
    }
    Ok(out)
}

fn load_keys(spec: &ProfileSpec, persona: &Persona, pki: &Pki) -> Result<Vec<Key>, SimError> {
    let mut out: Vec<Key> = Vec::new();
    for k in &spec.keys {
        // IAS-ECC key SDOs are referenced 81..FF; ChipDoc's authentication key is 20
        // (`internal.h` `CPS4_AUTH_PRIV_KEY_ID`).
        if k.reference.0 & 0x80 == 0 && spec.contact.dialect == crate::profile::Dialect::Iasecc {
            return Err(SimError::invalid(
                &spec.name,
                format!("key {}: references are 81..FF", k.label),
            ));
        }
        if out.iter().any(|o| o.reference == k.reference.0) {
            return Err(SimError::invalid(
                &spec.name,
                format!("key {:02X} twice", k.reference.0),
            ));
        }
        let pair = match &k.source {
            KeySource::Pki(slot) => pki.key(&persona.id, spec.generation, slot)?,
            KeySource::Pkcs8(der) => KeyPair::from_pkcs8_der(&der.0)
                .map_err(|e| SimError::invalid(&spec.name, format!("key {}: {e}", k.label)))?,
            KeySource::Generate(kind) => {
                let kind = match kind.as_str() {
                    "p256" => KeyKind::P256,
                    other => match other.strip_prefix("rsa-").and_then(|b| b.parse().ok()) {
                        Some(bits) => KeyKind::Rsa(bits),
                        None => {
                            return Err(SimError::invalid(
                                &spec.name,
                                format!("key {}: cannot generate {other:?}", k.label),
                            ));
                        }
                    },
                };
                KeyPair::generate(kind).map_err(|e| SimError::invalid(&spec.name, e))?
            }
        };
        out.push(Key {
            reference: k.reference.0,
            pair,
            acl: KeyAcl {
                sign: k.acl.sign.0,
                internal_authenticate: k.acl.internal_authenticate.0,
                decipher: k.acl.decipher.0,
                generate: k.acl.generate.0,
                put: k.acl.put.0,
                get: k.acl.get.0,
            },
        });
    }
    Ok(out)
}

struct ContentCtx<'a> {
    spec: &'a ProfileSpec,
    persona: &'a Persona,
    views: &'a [KeyView<'a>],
    pki: &'a Pki,
}

impl ContentCtx<'_> {
    fn resolve(&self, file: &str, content: &Content) -> Result<Vec<u8>, SimError> {
        let spec = self.spec;
        let invalid = |d: String| SimError::invalid(&spec.name, format!("{file}: {d}"));
        let serial = self.persona.serial(spec.generation);
        match content {
            Content::Hex(h) => Ok(h.0.clone()),
            Content::Text(t) => Ok(t.as_bytes().to_vec()),
            Content::Certificate(slot) => {
                self.pki
                    .certificate(&self.persona.id, spec.generation, slot)
            }
            Content::Generate(what) => match what.as_str() {
                "ef.sn" => Ok(self.persona.ef_sn(spec.generation)),
                "ef.ident" => Ok(self.persona.ef_ident()),
                "ef.dam" => Ok(self.persona.ef_dam()),
                "do.id_card" => Ok(self.persona.do_id_card(spec.generation)),
                "do.info_ps" => Ok(self.persona.do_info_ps()),
                "do.lang_ps" => Ok(self.persona.do_lang_ps()),
                "do.sit_fact" => Ok(self.persona.do_sit_fact()),
                "ef.actua" => Ok(self.persona.ef_actua()),
                // `CPS2TER_ATR` on the CPS4 [model]: the card's contact ATR.
                "cps2ter.atr" => Ok(spec.contact.atr.0.clone()),
                "pkcs15.dodf" => pkcs15::dodf(spec, self.persona.situations.len()).map_err(invalid),
                "pkcs15.odf" => pkcs15::odf(spec).map_err(invalid),
                // TokenInfo serialNumber: the last 8 bytes of EF.SN, the part OpenSC takes as
                // the card serial (card-iasecc.c `iasecc_get_serialnr`, research §1 step 4).
                "pkcs15.tokeninfo" => {
                    let tail = serial
                        .get(serial.len().saturating_sub(8)..)
                        .unwrap_or(&serial);
                    pkcs15::token_info(spec, &self.persona.id, tail).map_err(invalid)
                }
                "pkcs15.aodf" => pkcs15::aodf(spec).map_err(invalid),
                "pkcs15.prkdf" => pkcs15::prkdf(self.views).map_err(invalid),
                "pkcs15.pukdf" => pkcs15::pukdf(self.views).map_err(invalid),
                "pkcs15.cdf" => pkcs15::cdf(spec, self.views).map_err(invalid),
                other => Err(invalid(format!("unknown generated content {other:?}"))),
            },
        }
    }
}

fn build_fs(spec: &ProfileSpec, ctx: &ContentCtx<'_>) -> Result<FileSystem, SimError> {
    build_tree(&spec.files, &spec.pkcs15.situations, ctx, "files")
}

/// The CPS2ter application's file tree (class `A0`, CPS3), with its situation files.
fn build_cps2ter_fs(
    c2: &crate::profile::Cps2terSpec,
    ctx: &ContentCtx<'_>,
) -> Result<FileSystem, SimError> {
    build_tree(&c2.files, c2.situations.as_slice(), ctx, "cps2ter.files")
}

/// A file tree from its MF (`what` names it in errors), then one file per practice
/// situation for each `situations` block.
fn build_tree(
    mf: &FileSpec,
    situations: &[crate::profile::SituationsSpec],
    ctx: &ContentCtx<'_>,
    what: &str,
) -> Result<FileSystem, SimError> {
    let profile = &ctx.spec.name;
    if mf.fid.0 != crate::fs::MF_FID || mf.children.is_none() {
        return Err(SimError::invalid(
            profile,
            format!("the root of `{what}` must be the MF 3F00 with children"),
        ));
    }
    let acl = AccessRule::parse(&mf.acl.0)
        .ok_or_else(|| SimError::invalid(profile, format!("{what}: MF: malformed access rule")))?;
    let mut fs = FileSystem::new(
        if mf.name.is_empty() { "MF" } else { &mf.name },
        mf.aid.as_ref().map(|a| a.0.clone()),
        acl,
        mf.lcs.0,
    );
    for child in mf.children.iter().flatten() {
        add_file(&mut fs, FileSystem::MF, child, ctx)?;
    }
    for s in situations {
        add_situation_files(&mut fs, profile, s, ctx.persona)?;
    }
    Ok(fs)
}

/// One file per practice situation of the persona (`CPS_ACTIVITY_nn_PS` and the like), read
/// behind the holder PIN, written only by the remote update; `card-cps3.c` `cps3_sit_paths`
/// gives `3F00/0001/D120`..`D12F` on the CPS3, `pkcs15.c` `Sits` `3F00/4010`..`401F` in its
/// CPS2ter application.
fn add_situation_files(
    fs: &mut FileSystem,
    profile: &str,
    s: &crate::profile::SituationsSpec,
    persona: &Persona,
) -> Result<(), SimError> {
    let folder: Vec<u16> = s
        .folder
        .0
        .chunks(2)
        .map(|c| {
            u16::from_be_bytes([
                c.first().copied().unwrap_or(0),
                c.get(1).copied().unwrap_or(0),
            ])
        })
        .collect();
    let parent = fs
        .at_path(&folder)
        .ok_or_else(|| SimError::invalid(profile, "situations: folder not found"))?;
    // Read: PIN (SC 11); update: never (remote update only).
    let acl = AccessRule::parse(&[0x03, 0xFF, 0x11])
        .ok_or_else(|| SimError::invalid(profile, "situations: access rule"))?;
    for (i, _) in persona.situations.iter().enumerate().take(16) {
        let fid = s.first_fid.0.wrapping_add(i as u16);
        let node = Node {
            fid,
            name: format!("{}{:02}_PS", s.label_prefix, i + 1),
            aid: None,
            sfi: None,
            lcs: 0x05,
            acl: acl.clone(),
            parent: None,
            kind: NodeKind::Ef {
                data: persona.do_activity(i),
            },
        };
        fs.add(parent, node)
            .map_err(|e| SimError::invalid(profile, e))?;
    }
    Ok(())
}

fn add_file(
    fs: &mut FileSystem,
    parent: NodeId,
    f: &FileSpec,
    ctx: &ContentCtx<'_>,
) -> Result<(), SimError> {
    let profile = &ctx.spec.name;
    let label = if f.name.is_empty() {
        format!("{:04X}", f.fid.0)
    } else {
        f.name.clone()
    };
    let acl = AccessRule::parse(&f.acl.0)
        .ok_or_else(|| SimError::invalid(profile, format!("{label}: malformed access rule")))?;
    let kind = match (&f.children, &f.content) {
        (Some(_), None) => NodeKind::Df {
            children: Vec::new(),
        },
        (None, Some(content)) => NodeKind::Ef {
            data: ctx.resolve(&label, content)?,
        },
        _ => {
            return Err(SimError::invalid(
                profile,
                format!("{label}: a file has either `children` (DF) or `content` (EF)"),
            ));
        }
    };
    let node = Node {
        fid: f.fid.0,
        name: label.clone(),
        aid: f.aid.as_ref().map(|a| a.0.clone()),
        sfi: f.sfi.map(|s| s.0),
        lcs: f.lcs.0,
        acl,
        parent: None,
        kind,
    };
    let id = fs
        .add(parent, node)
        .map_err(|e| SimError::invalid(profile, e))?;
    for child in f.children.iter().flatten() {
        add_file(fs, id, child, ctx)?;
    }
    Ok(())
}
