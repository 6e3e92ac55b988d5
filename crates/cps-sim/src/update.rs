//! The card side of remote update (cps-update): the update application, selected by
//! [`cps_update::script::UPDATE_AID`] on the contact interface.
//!
//! What survives power-off (the card's EEPROM): the static keys, the sequence number and the
//! **staged** update (files, generated keys, step digests). What does not: the secure
//! session. Nothing staged is visible to the IAS-ECC application until COMMIT, which applies
//! every staged file and key and rebuilds the PKCS#15 key and certificate directories in one
//! command — an APDU is atomic in this model; a real card journals that commit.

use std::collections::BTreeMap;

use cps_apdu::{Command, Response, StatusWord};
use cps_update::scp::{CardSession, StaticKeys, TEST_MASTER_KEY};
use cps_update::script::{
    Begin, Commit, GenerateKey, Hello, KVN, ProvePossession, StageFile, StagedInfo,
    file_step_digest, ins, key_step_digest, script_digest,
};
use rand_core::{OsRng, RngCore};
use sha2::Digest as _;
use subtle::ConstantTimeEq;

use crate::applet::{Applet, AppletContext, Storage};
use crate::iso::Native;
use crate::keys::{DIGEST_INFO_SHA256, KeyKind, KeyPair};
use crate::profile::{Content, FileSpec, ProfileSpec};

/// A file being received in chunks.
#[derive(Clone)]
struct Partial {
    step: u16,
    path: Vec<u16>,
    total: usize,
    data: Vec<u8>,
}

/// The staged update (non-volatile).
#[derive(Clone)]
struct Staged {
    id: [u8; 16],
    target: u32,
    count: u16,
    digests: Vec<[u8; 32]>,
    files: Vec<(Vec<u16>, Vec<u8>)>,
    keys: BTreeMap<u8, KeyPair>,
    partial: Option<Partial>,
}

impl Staged {
    fn done(&self) -> u16 {
        u16::try_from(self.digests.len()).unwrap_or(u16::MAX)
    }
}

/// The update application's state.
#[derive(Clone)]
pub(crate) struct UpdateApp {
    keys: StaticKeys,
    serial: Vec<u8>,
    sequence: u32,
    staged: Option<Staged>,
    session: Option<CardSession>,
}

const SW_OK: [u8; 2] = [0x90, 0x00];

fn sw(s: StatusWord) -> [u8; 2] {
    s.to_bytes()
}

impl UpdateApp {
    /// The application of a card with this serial number, keys derived from the test master
    /// key.
    pub fn new(serial: Vec<u8>) -> Self {
        UpdateApp {
            keys: StaticKeys::diversify(&TEST_MASTER_KEY, &serial),
            serial,
            sequence: 0,
            staged: None,
            session: None,
        }
    }

    /// The committed sequence number.
    pub fn sequence(&self) -> u32 {
        self.sequence
    }

    /// Whether an update is staged.
    pub fn has_staged(&self) -> bool {
        self.staged.is_some()
    }

    /// Power-off: the session is lost, the staged update stays.
    pub fn reset(&mut self) {
        self.session = None;
    }

    /// SELECT: the hello.
    pub fn select(&mut self) -> Response {
        self.session = None;
        let hello = Hello {
            kvn: KVN,
            serial: self.serial.clone(),
            sequence: self.sequence,
            staged: self.staged.as_ref().map(|s| StagedInfo {
                update_id: s.id,
                target: s.target,
                steps_done: s.done(),
                step_count: s.count,
            }),
        };
        Response::success(hello.encode())
    }

    /// One command of the update application.
    fn process_update(
        &mut self,
        raw: &[u8],
        cmd: &Command,
        native: &mut Native,
        spec: &ProfileSpec,
    ) -> Response {
        match (cmd.cla, cmd.ins) {
            (0x80, 0x50) => {
                if cmd.p1 != KVN && cmd.p1 != 0 {
                    return Response::status(StatusWord::REFERENCED_DATA_NOT_FOUND);
                }
                if cmd.p2 != 0 {
                    return Response::status(StatusWord::INCORRECT_P1P2);
                }
                let mut challenge = [0u8; 8];
                OsRng.fill_bytes(&mut challenge);
                match CardSession::initialize(&self.keys, KVN, &cmd.data, &challenge) {
                    Ok(hello) => {
                        self.session = Some(hello.session);
                        Response::success(hello.answer)
                    }
                    Err(_) => Response::status(StatusWord::WRONG_LENGTH),
                }
            }
            (0x84, 0x82) => {
                let Some(session) = self.session.as_mut() else {
                    return Response::status(StatusWord::CONDITIONS_NOT_SATISFIED);
                };
                let ok = session.external_authenticate(raw).is_ok();
                if ok {
                    Response::status(StatusWord::SUCCESS)
                } else {
                    self.session = None;
                    Response::status(StatusWord::SECURITY_STATUS_NOT_SATISFIED)
                }
            }
            (0x84, _) => {
                let Some(mut s) = self.session.take() else {
                    return Response::status(StatusWord::SECURITY_STATUS_NOT_SATISFIED);
                };
                if !s.is_authenticated() {
                    return Response::status(StatusWord::SECURITY_STATUS_NOT_SATISFIED);
                }
                let data = match s.unwrap(raw) {
                    Ok(d) => d,
                    Err(_) => {
                        // A changed, replayed, reordered or truncated command ends the session.
                        return Response::status(StatusWord::SECURITY_STATUS_NOT_SATISFIED);
                    }
                };
                let (answer, status) = match self.run(cmd.ins, &data, native, spec) {
                    Ok(a) => (a, SW_OK),
                    Err(e) => (Vec::new(), sw(e)),
                };
                let wrapped = s.wrap(&answer, status);
                self.session = Some(s);
                let (body, sw_bytes) = wrapped.split_at(wrapped.len().saturating_sub(2));
                let sw_word = StatusWord::new(
                    sw_bytes.first().copied().unwrap_or(0x6F),
                    sw_bytes.get(1).copied().unwrap_or(0),
                );
                if sw_word.is_success() {
                    Response::success(body.to_vec())
                } else {
                    // Errors carry their R-MAC too: the issuer can tell a real refusal from
                    // a forged one.
                    Response::new(body.to_vec(), sw_word)
                }
            }
            _ => Response::status(StatusWord::CLA_NOT_SUPPORTED),
        }
    }

    fn run(
        &mut self,
        ins: u8,
        data: &[u8],
        native: &mut Native,
        spec: &ProfileSpec,
    ) -> Result<Vec<u8>, StatusWord> {
        let bad = StatusWord::WRONG_DATA;
        match ins {
            ins::BEGIN => {
                let b = Begin::parse(data).map_err(|_| bad)?;
                if b.target != self.sequence.wrapping_add(1) || b.step_count == 0 {
                    // A stale or replayed update: the card already moved past it.
                    return Err(StatusWord::CONDITIONS_NOT_SATISFIED);
                }
                match &self.staged {
                    Some(s)
                        if s.id == b.update_id
                            && s.target == b.target
                            && s.count == b.step_count => {}
                    _ => {
                        self.staged = Some(Staged {
                            id: b.update_id,
                            target: b.target,
                            count: b.step_count,
                            digests: Vec::new(),
                            files: Vec::new(),
                            keys: BTreeMap::new(),
                            partial: None,
                        });
                    }
                }
                let done = self.staged.as_ref().map_or(0, Staged::done);
                Ok(done.to_be_bytes().to_vec())
            }
            ins::STAGE_FILE => {
                let f = StageFile::parse(data).map_err(|_| bad)?;
                let staged = self
                    .staged
                    .as_mut()
                    .ok_or(StatusWord::CONDITIONS_NOT_SATISFIED)?;
                let done = staged.done();
                if f.step < done {
                    return Ok(Vec::new()); // already staged: nothing to do again
                }
                if f.step > done || f.step >= staged.count {
                    return Err(StatusWord::INCORRECT_P1P2);
                }
                // The target must be an existing EF.
                let is_ef = native
                    .fs
                    .at_path(&f.path)
                    .and_then(|id| native.fs.node(id))
                    .is_some_and(|n| !n.is_df());
                if !is_ef {
                    return Err(StatusWord::FILE_NOT_FOUND);
                }
                if f.offset == 0 {
                    staged.partial = Some(Partial {
                        step: f.step,
                        path: f.path.clone(),
                        total: usize::from(f.total),
                        data: Vec::with_capacity(usize::from(f.total)),
                    });
                }
                let p = staged
                    .partial
                    .as_mut()
                    .filter(|p| {
                        p.step == f.step && p.path == f.path && p.total == usize::from(f.total)
                    })
                    .ok_or(StatusWord::CONDITIONS_NOT_SATISFIED)?;
                if usize::from(f.offset) != p.data.len() {
                    return Err(StatusWord::CONDITIONS_NOT_SATISFIED);
                }
                p.data.extend_from_slice(&f.chunk);
                if p.data.len() == p.total {
                    let p = staged.partial.take().ok_or(bad)?;
                    staged.digests.push(file_step_digest(&p.path, &p.data));
                    staged.files.retain(|(path, _)| *path != p.path);
                    staged.files.push((p.path, p.data));
                }
                Ok(Vec::new())
            }
            ins::GENERATE_KEY => {
                let g = GenerateKey::parse(data).map_err(|_| bad)?;
                let staged = self
                    .staged
                    .as_mut()
                    .ok_or(StatusWord::CONDITIONS_NOT_SATISFIED)?;
                let done = staged.done();
                if g.step < done {
                    // Resumed update: the same key again, never a second one.
                    let pair = staged
                        .keys
                        .get(&g.key_ref)
                        .ok_or(StatusWord::CONDITIONS_NOT_SATISFIED)?;
                    return Ok(spki(pair));
                }
                if g.step > done || g.step >= staged.count || staged.partial.is_some() {
                    return Err(StatusWord::INCORRECT_P1P2);
                }
                let kind: KeyKind = native
                    .iasecc
                    .key(g.key_ref)
                    .map(|k| k.pair.kind())
                    .ok_or(StatusWord::REFERENCED_DATA_NOT_FOUND)?;
                let pair = KeyPair::generate(kind).map_err(|_| StatusWord::MEMORY_FAILURE)?;
                let public = spki(&pair);
                staged.digests.push(key_step_digest(g.key_ref, &public));
                staged.keys.insert(g.key_ref, pair);
                Ok(public)
            }
            ins::PROVE_POSSESSION => {
                let p = ProvePossession::parse(data).map_err(|_| bad)?;
                let staged = self
                    .staged
                    .as_ref()
                    .ok_or(StatusWord::CONDITIONS_NOT_SATISFIED)?;
                let pair = staged
                    .keys
                    .get(&p.key_ref)
                    .ok_or(StatusWord::REFERENCED_DATA_NOT_FOUND)?;
                let hash = sha2::Sha256::digest(p.challenge);
                match pair {
                    KeyPair::Rsa(_) => {
                        let mut di = DIGEST_INFO_SHA256.to_vec();
                        di.extend_from_slice(&hash);
                        pair.rsa_sign_raw(&di)
                            .map_err(|_| StatusWord::MEMORY_FAILURE)
                    }
                    KeyPair::P256(_) => pair
                        .ecdsa_sign_prehash(&hash)
                        .map_err(|_| StatusWord::MEMORY_FAILURE),
                }
            }
            ins::COMMIT => {
                let c = Commit::parse(data).map_err(|_| bad)?;
                let staged = self
                    .staged
                    .as_ref()
                    .ok_or(StatusWord::CONDITIONS_NOT_SATISFIED)?;
                if c.step_count != staged.count || staged.done() != staged.count {
                    return Err(StatusWord::CONDITIONS_NOT_SATISFIED);
                }
                if !bool::from(script_digest(&staged.digests).ct_eq(&c.digest)) {
                    return Err(StatusWord::WRONG_DATA);
                }
                // Check everything before changing anything.
                for (path, _) in &staged.files {
                    if native.fs.at_path(path).is_none() {
                        return Err(StatusWord::FILE_NOT_FOUND);
                    }
                }
                for r in staged.keys.keys() {
                    if native.iasecc.key(*r).is_none() {
                        return Err(StatusWord::REFERENCED_DATA_NOT_FOUND);
                    }
                }
                let Some(staged) = self.staged.take() else {
                    return Err(StatusWord::CONDITIONS_NOT_SATISFIED);
                };
                for (path, content) in staged.files {
                    native.replace_ef(&path, content);
                }
                for (r, pair) in staged.keys {
                    native.iasecc.replace_key(r, pair);
                }
                rebuild_pkcs15(native, spec);
                self.sequence = staged.target;
                Ok(self.sequence.to_be_bytes().to_vec())
            }
            _ => Err(StatusWord::INS_NOT_SUPPORTED),
        }
    }
}

/// DER SubjectPublicKeyInfo (RFC 5280 §4.1.2.7) of a key: rsaEncryption (RFC 8017 A.1) with
/// NULL parameters, or id-ecPublicKey with prime256v1 (RFC 5480 §2.1.1).
fn spki(pair: &KeyPair) -> Vec<u8> {
    use crate::der;
    let alg = match pair {
        KeyPair::Rsa(_) => der::seq(&[
            der::oid("1.2.840.113549.1.1.1").unwrap_or_default(),
            der::null(),
        ]),
        KeyPair::P256(_) => der::seq(&[
            der::oid("1.2.840.10045.2.1").unwrap_or_default(),
            der::oid("1.2.840.10045.3.1.7").unwrap_or_default(),
        ]),
    };
    let mut bits = vec![0x00];
    bits.extend_from_slice(&pair.subject_public_key());
    der::seq(&[alg, der::tlv(0x03, &bits)])
}

/// Regenerates the PKCS#15 PrKDF, PuKDF and CDF from the card's keys (their iD is the SHA-1
/// of the public key, so new keys get new entries that match their new certificates).
fn rebuild_pkcs15(native: &mut Native, spec: &ProfileSpec) {
    let views: Vec<crate::pkcs15::KeyView<'_>> = spec
        .keys
        .iter()
        .filter_map(|s| {
            native
                .iasecc
                .key(s.reference.0)
                .map(|k| crate::pkcs15::KeyView {
                    spec: s,
                    pair: &k.pair,
                })
        })
        .collect();
    let mut out: Vec<(Vec<u16>, Vec<u8>)> = Vec::new();
    fn walk(
        files: &[FileSpec],
        parent: &[u16],
        spec: &ProfileSpec,
        views: &[crate::pkcs15::KeyView<'_>],
        out: &mut Vec<(Vec<u16>, Vec<u8>)>,
    ) {
        for f in files {
            let mut path = parent.to_vec();
            path.push(f.fid.0);
            if let Some(kids) = &f.children {
                walk(kids, &path, spec, views, out);
            }
            let content = match &f.content {
                Some(Content::Generate(g)) if g == "pkcs15.prkdf" => crate::pkcs15::prkdf(views),
                Some(Content::Generate(g)) if g == "pkcs15.pukdf" => crate::pkcs15::pukdf(views),
                Some(Content::Generate(g)) if g == "pkcs15.cdf" => crate::pkcs15::cdf(spec, views),
                _ => continue,
            };
            if let Ok(c) = content {
                out.push((path, c));
            }
        }
    }
    walk(
        std::slice::from_ref(&spec.files),
        &[],
        spec,
        &views,
        &mut out,
    );
    drop(views);
    for (path, content) in out {
        native.replace_ef(&path, content);
    }
}

/// The update application is one of the card's applets: selected by its AID on the contact
/// interface, it writes the native application's files and keys through the [`Storage`] the
/// card lends it.
impl Applet for UpdateApp {
    fn name(&self) -> &str {
        "remote update"
    }

    fn aid(&self) -> &[u8] {
        &cps_update::script::UPDATE_AID
    }

    fn available_on(&self, interface: crate::Interface) -> bool {
        interface == crate::Interface::Contact
    }

    fn select(&mut self, _: &AppletContext) -> Response {
        UpdateApp::select(self)
    }

    fn process(
        &mut self,
        command: &Command,
        _: &AppletContext,
        storage: &mut Storage<'_>,
    ) -> Response {
        let raw = command.to_bytes();
        self.process_update(&raw, command, storage.native, storage.spec)
    }

    /// The update commands are short, each one complete (the script splits files in
    /// chunks): a chained command is refused (modelled: the update application is ours).
    fn accepts_chaining(&self) -> bool {
        false
    }

    fn reset(&mut self) {
        UpdateApp::reset(self);
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }

    fn boxed_clone(&self) -> Box<dyn Applet> {
        Box::new(self.clone())
    }
}
