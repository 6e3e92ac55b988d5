//! The reference update authority: a record per card holder (RPPS-like practice
//! situations, certificate subject, renewable keys), pending updates, and the session state
//! machine that drives a card through the relay (feature `issuer`).
//!
//! It signs renewed certificates with the **test PKI**'s persons CA (`testvectors/pki`) and
//! derives card keys from [`crate::scp::TEST_MASTER_KEY`]: a reference for tests and for
//! editors' integration, not a production authority.

use std::collections::BTreeMap;

use cps_iasecc::{Generation, PracticeSituation};
use cps_x509::{
    CertUsage, CpsCertificate, HolderCertificateRequest, HolderSubject, ObjectIdentifier,
    PrivateKey, PublicKeyInfo, SignatureAlgorithm, SignedData, UnixTime, Validity,
    issue_holder_certificate, oids, verify_with_key,
};
use rand_core::{OsRng, RngCore};
use zeroize::Zeroizing;

use crate::relay::{Outcome, Progress, Reply, ServiceError, UpdateService};
use crate::scp::{HostSession, StaticKeys, initialize_update};
use crate::script::{
    Begin, Commit, GenerateKey, Hello, KVN, MAX_CHUNK, ProvePossession, StageFile,
    file_step_digest, ins, key_step_digest, script_digest,
};

/// A key the issuer can renew on a card, with the certificate file that goes with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenewableKey {
    /// IAS-ECC key reference.
    pub key_ref: u8,
    /// Absolute path of the certificate EF.
    pub cert_path: Vec<u16>,
    /// Authentication or signature certificate.
    pub usage: CertUsage,
}

/// What the issuer knows of one card and its holder.
#[derive(Debug, Clone)]
pub struct CardRecord {
    /// Card serial number (EF.SN value).
    pub serial: Vec<u8>,
    /// Sequence number of the last update the issuer saw committed.
    pub sequence: u32,
    /// Path of EF.DAM (practice situations).
    pub dam_path: Vec<u16>,
    /// The holder's practice situations as the register has them.
    pub situations: Vec<PracticeSituation>,
    /// Subject of the holder's certificates.
    pub subject: HolderSubject,
    /// Keys renewed at the 3-year renewal.
    pub renewable: Vec<RenewableKey>,
    /// The update waiting for the card, if any.
    pub pending: Option<PendingUpdate>,
}

/// An update not yet committed by the card.
#[derive(Debug, Clone)]
pub struct PendingUpdate {
    /// Identifier (random).
    pub id: [u8; 16],
    /// The sequence number it gives the card, once bound to the card's state.
    pub target: Option<u32>,
    /// Files to replace: path and new content.
    pub files: Vec<(Vec<u16>, Vec<u8>)>,
    /// Keys to renew.
    pub renew: Vec<RenewableKey>,
    /// notBefore of the renewed certificates (fixed, so a resumed update rebuilds the same
    /// certificates).
    pub not_before: UnixTime,
}

impl PendingUpdate {
    fn steps(&self) -> usize {
        self.files.len() + 2 * self.renew.len()
    }
}

/// One step of the plan sent to the card.
#[derive(Debug, Clone)]
enum PlanStep {
    File { path: Vec<u16>, content: Vec<u8> },
    GenKey(RenewableKey),
    Cert(RenewableKey),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(clippy::enum_variant_names, reason = "each stage waits for one answer")]
enum Stage {
    WaitInit,
    WaitAuth,
    WaitBegin,
    WaitChunk,
    WaitGenKey,
    WaitPop,
    WaitCommit,
}

/// What to do after an answer.
enum Then {
    /// The update is over.
    Finished(Outcome),
    /// Send this command now (not a plan step: authentication, proof of possession).
    Send(Vec<u8>, &'static str),
    /// Go on with the plan.
    Continue,
}

/// One running session.
struct Run {
    serial: Vec<u8>,
    host_challenge: [u8; 8],
    host: Option<HostSession>,
    stage: Stage,
    plan: Vec<PlanStep>,
    begin: Begin,
    card_steps_done: u16,
    cursor: usize,
    offset: usize,
    digests: Vec<[u8; 32]>,
    spki: BTreeMap<u8, Vec<u8>>,
    certs: BTreeMap<u8, Vec<u8>>,
    challenge: [u8; 32],
    not_before: UnixTime,
}

/// Where the issuer's secrets live: the master key the card keys are diversified from, and
/// the CA key that signs renewed certificates. [`InProcessKeys`] holds them in memory (the
/// test keys of the embedded default); an implementation backed by an HSM keeps them out of
/// the process and answers only derived card keys and signed certificates.
pub trait IssuerKeys: Send {
    /// The static keys of the card with this serial number.
    fn card_keys(&self, serial: &[u8]) -> Result<StaticKeys, ServiceError>;
    /// Issues (signs) a holder certificate.
    fn issue(&self, request: &HolderCertificateRequest<'_>) -> Result<Vec<u8>, ServiceError>;
}

/// The issuer's keys held in process memory (zeroized on drop).
pub struct InProcessKeys {
    master: Zeroizing<[u8; 16]>,
    ca_key: PrivateKey,
    ca_cert: CpsCertificate,
}

impl std::fmt::Debug for InProcessKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InProcessKeys(..)")
    }
}

impl InProcessKeys {
    /// This master key and the test PKI's persons CA.
    pub fn test_ca(master: [u8; 16]) -> Result<Self, ServiceError> {
        let ca_key = cps_x509::test_pki::intermediate_key()
            .map_err(|e| service(format!("test CA key: {e}")))?;
        let ca_cert = cps_x509::test_pki::intermediate_certificate()
            .map_err(|e| service(format!("test CA certificate: {e}")))?;
        Ok(InProcessKeys {
            master: Zeroizing::new(master),
            ca_key,
            ca_cert,
        })
    }
}

impl IssuerKeys for InProcessKeys {
    fn card_keys(&self, serial: &[u8]) -> Result<StaticKeys, ServiceError> {
        Ok(StaticKeys::diversify(&self.master, serial))
    }

    fn issue(&self, request: &HolderCertificateRequest<'_>) -> Result<Vec<u8>, ServiceError> {
        issue_holder_certificate(&self.ca_key, &self.ca_cert, request)
            .map_err(|e| service(format!("certificate: {e}")))
    }
}

/// A failed answer: the error, and whether the session survives it (an answer that did not
/// authenticate under the session's channel changes nothing, so a third party posting to the
/// session cannot end it).
struct Fail {
    error: ServiceError,
    keep: bool,
}

impl From<ServiceError> for Fail {
    fn from(error: ServiceError) -> Self {
        Fail { error, keep: false }
    }
}

fn unauthenticated(msg: impl Into<String>) -> Fail {
    Fail {
        error: service(msg),
        keep: true,
    }
}

/// The reference issuer.
pub struct Issuer {
    keys: Box<dyn IssuerKeys>,
    cards: BTreeMap<Vec<u8>, CardRecord>,
    runs: BTreeMap<u64, Run>,
    validity_years: u16,
    dirty: std::collections::BTreeSet<Vec<u8>>,
}

impl std::fmt::Debug for Issuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issuer")
            .field("cards", &self.cards.len())
            .field("sessions", &self.runs.len())
            .finish_non_exhaustive()
    }
}

fn service(msg: impl Into<String>) -> ServiceError {
    ServiceError(msg.into())
}

impl Issuer {
    /// An issuer with this master key, signing with the test PKI's persons CA.
    pub fn new(master: [u8; 16]) -> Result<Self, ServiceError> {
        Ok(Self::with_keys(Box::new(InProcessKeys::test_ca(master)?)))
    }

    /// An issuer using these keys (in process or in an HSM).
    pub fn with_keys(keys: Box<dyn IssuerKeys>) -> Self {
        Issuer {
            keys,
            cards: BTreeMap::new(),
            runs: BTreeMap::new(),
            validity_years: 3,
            dirty: Default::default(),
        }
    }

    /// Removes a card's record from memory (a server that keeps records in a database loads
    /// the record for each request and forgets it afterwards). Its sessions stay.
    pub fn forget(&mut self, serial: &[u8]) -> Option<CardRecord> {
        self.dirty.remove(serial);
        self.cards.remove(serial)
    }

    /// The card a running session updates.
    pub fn session_card(&self, session: u64) -> Option<&[u8]> {
        self.runs.get(&session).map(|r| r.serial.as_slice())
    }

    /// Ends a session (expired, or abandoned by its relay); whether it was running.
    pub fn end_session(&mut self, session: u64) -> bool {
        self.runs.remove(&session).is_some()
    }

    /// Number of running sessions.
    pub fn session_count(&self) -> usize {
        self.runs.len()
    }

    /// Registers (or replaces) a card.
    pub fn register(&mut self, record: CardRecord) {
        self.dirty.insert(record.serial.clone());
        self.cards.insert(record.serial.clone(), record);
    }

    /// Every card record.
    pub fn records(&self) -> impl Iterator<Item = &CardRecord> {
        self.cards.values()
    }

    /// The serial numbers of the records changed since the last call (what a persistent
    /// server must write back).
    pub fn take_dirty(&mut self) -> Vec<Vec<u8>> {
        std::mem::take(&mut self.dirty).into_iter().collect()
    }

    /// The record of a card.
    pub fn record(&self, serial: &[u8]) -> Option<&CardRecord> {
        self.cards.get(serial)
    }

    /// The static keys of a card.
    pub fn card_keys(&self, serial: &[u8]) -> Result<StaticKeys, ServiceError> {
        self.keys.card_keys(serial)
    }

    fn pending_mut(&mut self, serial: &[u8]) -> Result<&mut PendingUpdate, ServiceError> {
        self.dirty.insert(serial.to_vec());
        let rec = self
            .cards
            .get_mut(serial)
            .ok_or_else(|| service("unknown card"))?;
        if rec.pending.as_ref().is_some_and(|p| p.target.is_some()) {
            return Err(service(
                "an update is already on its way to this card: let it finish first",
            ));
        }
        let p = rec.pending.get_or_insert_with(|| {
            let mut id = [0u8; 16];
            OsRng.fill_bytes(&mut id);
            PendingUpdate {
                id,
                target: None,
                files: Vec::new(),
                renew: Vec::new(),
                not_before: UnixTime::now(),
            }
        });
        Ok(p)
    }

    /// The register changed the holder's practice situations: EF.DAM will follow.
    pub fn update_situations(
        &mut self,
        serial: &[u8],
        situations: Vec<PracticeSituation>,
    ) -> Result<(), ServiceError> {
        let path = self
            .cards
            .get(serial)
            .ok_or_else(|| service("unknown card"))?
            .dam_path
            .clone();
        let content = PracticeSituation::encode_all(&situations);
        let p = self.pending_mut(serial)?;
        p.files.retain(|(f, _)| *f != path);
        p.files.push((path, content));
        if let Some(rec) = self.cards.get_mut(serial) {
            rec.situations = situations;
        }
        Ok(())
    }

    /// Schedules the renewal of every renewable key of the card, certificates valid from
    /// `not_before` for 3 years.
    pub fn schedule_renewal(
        &mut self,
        serial: &[u8],
        not_before: UnixTime,
    ) -> Result<(), ServiceError> {
        let keys = self
            .cards
            .get(serial)
            .ok_or_else(|| service("unknown card"))?
            .renewable
            .clone();
        check_not_before(not_before, self.validity_years)?;
        let p = self.pending_mut(serial)?;
        p.renew = keys;
        p.not_before = not_before;
        Ok(())
    }

    fn certificate(
        &self,
        run: &Run,
        key: &RenewableKey,
        spki: &[u8],
    ) -> Result<Vec<u8>, ServiceError> {
        let rec = self
            .cards
            .get(&run.serial)
            .ok_or_else(|| service("unknown card"))?;
        let validity = Validity::years_from(run.not_before, self.validity_years)
            .ok_or_else(|| service("validity out of range"))?;
        let policies: &[ObjectIdentifier] = match key.usage {
            CertUsage::Signature => &[oids::TEST_POLICY_CPX_SIGN],
            _ => &[oids::TEST_POLICY_CPX_AUTH],
        };
        // Serial: positive, from the update identifier and the key reference.
        let mut serial = vec![0x01];
        serial.extend_from_slice(&run.begin.update_id[..8]);
        serial.push(key.key_ref);
        self.keys.issue(&HolderCertificateRequest {
            subject: &rec.subject,
            public_key_spki_der: spki,
            validity,
            usage: key.usage,
            serial: &serial,
            policies,
        })
    }

    fn send(&mut self, id: u64) -> Result<Reply, ServiceError> {
        let Some(mut run) = self.runs.remove(&id) else {
            return Err(service("unknown session"));
        };
        let reply = self.advance(&mut run, id);
        if matches!(reply, Ok(Reply::Send { .. })) {
            self.runs.insert(id, run);
        }
        reply
    }

    /// Chooses the next command of a session.
    fn advance(&mut self, run: &mut Run, id: u64) -> Result<Reply, ServiceError> {
        let total = u32::try_from(run.plan.len()).unwrap_or(u32::MAX) + 1;
        loop {
            let done = u32::try_from(run.cursor).unwrap_or(u32::MAX);
            let progress = |what: String| Progress { done, total, what };
            let host = run.host.as_mut().ok_or_else(|| service("no session"))?;
            let Some(step) = run.plan.get(run.cursor).cloned() else {
                let commit = Commit {
                    step_count: run.begin.step_count,
                    digest: script_digest(&run.digests),
                };
                let apdu = host
                    .wrap(ins::COMMIT, 0, 0, &commit.encode())
                    .map_err(|e| service(e.to_string()))?;
                run.stage = Stage::WaitCommit;
                return Ok(Reply::Send {
                    session: id,
                    apdu,
                    progress: progress("committing".into()),
                });
            };
            let step_no = u16::try_from(run.cursor).unwrap_or(u16::MAX);
            let (path, content, what) = match &step {
                PlanStep::File { path, content } => (
                    path.clone(),
                    content.clone(),
                    format!("staging file {}", path_text(path)),
                ),
                PlanStep::Cert(k) => (
                    k.cert_path.clone(),
                    run.certs.get(&k.key_ref).cloned().unwrap_or_default(),
                    format!("staging the new certificate of key {:02X}", k.key_ref),
                ),
                PlanStep::GenKey(k) => {
                    let g = GenerateKey {
                        step: step_no,
                        key_ref: k.key_ref,
                    };
                    let apdu = host
                        .wrap(ins::GENERATE_KEY, 0, 0, &g.encode())
                        .map_err(|e| service(e.to_string()))?;
                    run.stage = Stage::WaitGenKey;
                    return Ok(Reply::Send {
                        session: id,
                        apdu,
                        progress: progress(format!("generating key {:02X} on the card", k.key_ref)),
                    });
                }
            };
            if run.cursor < usize::from(run.card_steps_done) && run.offset == 0 {
                // Already staged by an earlier session.
                run.digests.push(file_step_digest(&path, &content));
                run.cursor += 1;
                continue;
            }
            let end = (run.offset + MAX_CHUNK).min(content.len());
            let s = StageFile {
                step: step_no,
                path,
                offset: u16::try_from(run.offset).map_err(|_| service("file too large"))?,
                total: u16::try_from(content.len()).map_err(|_| service("file too large"))?,
                chunk: content.get(run.offset..end).unwrap_or_default().to_vec(),
            };
            let apdu = host
                .wrap(ins::STAGE_FILE, 0, 0, &s.encode())
                .map_err(|e| service(e.to_string()))?;
            run.stage = Stage::WaitChunk;
            return Ok(Reply::Send {
                session: id,
                apdu,
                progress: progress(what),
            });
        }
    }

    /// Handles the card's answer to the last command.
    ///
    /// Until the answer is authenticated (card cryptogram, R-MAC) nothing of `run` changes
    /// and a failure keeps the session.
    fn on_response(&mut self, run: &mut Run, response: &[u8]) -> Result<Then, Fail> {
        if run.stage == Stage::WaitInit {
            let (body, sw) = split_sw(response).map_err(|e| unauthenticated(e.0))?;
            if sw != [0x90, 0x00] {
                return Err(unauthenticated(format!(
                    "INITIALIZE UPDATE refused: {}",
                    hex::encode_upper(sw)
                )));
            }
            let keys = self.card_keys(&run.serial)?;
            let (host, external_authenticate) =
                HostSession::open(&keys, KVN, &run.host_challenge, body)
                    .map_err(|e| unauthenticated(e.to_string()))?;
            run.host = Some(host);
            run.stage = Stage::WaitAuth;
            return Ok(Then::Send(
                external_authenticate,
                "authenticating the card and the issuer",
            ));
        }
        if run.stage == Stage::WaitAuth {
            let (body, sw) = split_sw(response).map_err(|e| unauthenticated(e.0))?;
            if !body.is_empty() {
                return Err(unauthenticated("EXTERNAL AUTHENTICATE answered data"));
            }
            if sw != [0x90, 0x00] {
                // A plain status word: not authenticated, the session stays.
                return Err(unauthenticated(format!(
                    "EXTERNAL AUTHENTICATE refused: {}",
                    hex::encode_upper(sw)
                )));
            }
            run.stage = Stage::WaitBegin;
            let host = run.host.as_mut().ok_or_else(|| service("no session"))?;
            let apdu = host
                .wrap(ins::BEGIN, 0, 0, &run.begin.encode())
                .map_err(|e| service(e.to_string()))?;
            return Ok(Then::Send(apdu, "opening the update on the card"));
        }
        let host = run.host.as_mut().ok_or_else(|| service("no session"))?;
        let (data, sw) = host
            .unwrap(response)
            .map_err(|e| unauthenticated(format!("card answer rejected: {e}")))?;
        if sw != [0x90, 0x00] {
            return Err(Fail::from(service(format!(
                "the card refused step {} ({:?}): {}",
                run.cursor,
                run.stage,
                hex::encode_upper(sw)
            ))));
        }
        match run.stage {
            Stage::WaitBegin => {
                let done = data
                    .first_chunk::<2>()
                    .map(|b| u16::from_be_bytes(*b))
                    .ok_or_else(|| service("BEGIN answer"))?;
                if done > run.begin.step_count {
                    return Err(service("the card reports more steps than the update has").into());
                }
                run.card_steps_done = done;
                // The card accepted this update's target under the secure channel: bound.
                if let Some(p) = self
                    .cards
                    .get_mut(&run.serial)
                    .and_then(|rec| rec.pending.as_mut())
                {
                    p.target = Some(run.begin.target);
                }
                self.dirty.insert(run.serial.clone());
            }
            Stage::WaitChunk => {
                let total = match run.plan.get(run.cursor) {
                    Some(PlanStep::File { content, .. }) => content.len(),
                    Some(PlanStep::Cert(k)) => run.certs.get(&k.key_ref).map_or(0, Vec::len),
                    _ => 0,
                };
                run.offset = (run.offset + MAX_CHUNK).min(total);
                if run.offset >= total {
                    let (path, content) = match run.plan.get(run.cursor) {
                        Some(PlanStep::File { path, content }) => (path.clone(), content.clone()),
                        Some(PlanStep::Cert(k)) => (
                            k.cert_path.clone(),
                            run.certs.get(&k.key_ref).cloned().unwrap_or_default(),
                        ),
                        _ => return Err(service("plan out of step").into()),
                    };
                    run.digests.push(file_step_digest(&path, &content));
                    run.cursor += 1;
                    run.offset = 0;
                }
            }
            Stage::WaitGenKey => {
                let Some(PlanStep::GenKey(k)) = run.plan.get(run.cursor).cloned() else {
                    return Err(service("plan out of step").into());
                };
                PublicKeyInfo::from_spki_der(&data)
                    .map_err(|e| service(format!("the card's new public key: {e}")))?;
                run.spki.insert(k.key_ref, data.to_vec());
                OsRng.fill_bytes(&mut run.challenge);
                let pop = ProvePossession {
                    key_ref: k.key_ref,
                    challenge: run.challenge,
                };
                run.stage = Stage::WaitPop;
                // The proof of possession is sent right away (not a step).
                let host = run.host.as_mut().ok_or_else(|| service("no session"))?;
                let apdu = host
                    .wrap(ins::PROVE_POSSESSION, 0, 0, &pop.encode())
                    .map_err(|e| service(e.to_string()))?;
                return Ok(Then::Send(apdu, "checking the card holds the new key"));
            }
            Stage::WaitPop => {
                let Some(PlanStep::GenKey(k)) = run.plan.get(run.cursor).cloned() else {
                    return Err(service("plan out of step").into());
                };
                let spki = run.spki.get(&k.key_ref).cloned().unwrap_or_default();
                let key = PublicKeyInfo::from_spki_der(&spki)
                    .map_err(|e| service(format!("new public key: {e}")))?;
                let alg = match key.algorithm() {
                    cps_x509::KeyAlgorithm::EcP256 => SignatureAlgorithm::ECDSA_SHA256,
                    _ => SignatureAlgorithm::RSA_PKCS1V15_SHA256,
                };
                verify_with_key(&key, SignedData::Message(&run.challenge), alg, &data).map_err(
                    |e| {
                        service(format!(
                            "proof of possession of key {:02X} failed: {e}",
                            k.key_ref
                        ))
                    },
                )?;
                let cert = self.certificate(run, &k, &spki)?;
                run.certs.insert(k.key_ref, cert);
                run.digests.push(key_step_digest(k.key_ref, &spki));
                run.cursor += 1;
            }
            Stage::WaitCommit => {
                let seq = data
                    .first_chunk::<4>()
                    .map(|b| u32::from_be_bytes(*b))
                    .ok_or_else(|| service("COMMIT answer"))?;
                if seq != run.begin.target {
                    return Err(service("the card committed another sequence number").into());
                }
                let steps = run.begin.step_count;
                if let Some(rec) = self.cards.get_mut(&run.serial) {
                    rec.sequence = seq;
                    rec.pending = None;
                }
                self.dirty.insert(run.serial.clone());
                return Ok(Then::Finished(Outcome::Updated {
                    sequence: seq,
                    steps,
                }));
            }
            Stage::WaitInit | Stage::WaitAuth => {}
        }
        Ok(Then::Continue)
    }
}

/// Earliest notBefore a renewal accepts: 2000-01-01T00:00:00Z.
pub const EARLIEST_NOT_BEFORE: i64 = 946_684_800;

/// How far in the future a renewal's notBefore may be: 10 years (a renewal is scheduled
/// ahead of the current certificates' end, never decades ahead).
pub const MAX_NOT_BEFORE_AHEAD_SECS: i64 = 10 * 366 * 86_400;

/// Refuses a notBefore the issuer could not turn into certificates (before 2000, more than
/// 10 years ahead, or an end of validity that does not encode).
fn check_not_before(not_before: UnixTime, years: u16) -> Result<(), ServiceError> {
    let secs = not_before.secs();
    let latest = UnixTime::now()
        .secs()
        .saturating_add(MAX_NOT_BEFORE_AHEAD_SECS);
    if !(EARLIEST_NOT_BEFORE..=latest).contains(&secs) {
        return Err(service(format!(
            "not_before {secs} is outside the accepted range ({EARLIEST_NOT_BEFORE} to {latest})"
        )));
    }
    let v = Validity::years_from(not_before, years)
        .ok_or_else(|| service("not_before: the end of validity is out of range"))?;
    if v.not_after.to_date_time().is_none() {
        return Err(service("not_before: the end of validity does not encode"));
    }
    Ok(())
}

/// Path of EF.DAM on the CPS3 / CPS4 (docs/card-layout.md).
pub const DAM_PATH: [u16; 3] = [0x3F00, 0x0001, 0xD002];

/// The renewable keys of a card generation (docs/card-layout.md): CPS3 the RSA-2048 keys `82`
/// (authentication, EF `C001`) and `81` (signature, `C002`); CPS4 the RSA-2048 keys `20`
/// (authentication, `card-cps4.c`; EF `C001`) and `81` (signature; `C002`). The card
/// generates each new key of the same kind as the one it replaces: RSA-2048 on both.
pub fn renewable_keys(generation: Generation) -> Vec<RenewableKey> {
    let k = |key_ref, fid, usage| RenewableKey {
        key_ref,
        cert_path: vec![0x3F00, 0x0001, fid],
        usage,
    };
    match generation {
        Generation::Cps3 => vec![
            k(0x82, 0xC001, CertUsage::Authentication),
            k(0x81, 0xC002, CertUsage::Signature),
        ],
        Generation::Cps4 => vec![
            k(0x20, 0xC001, CertUsage::Authentication),
            k(0x81, 0xC002, CertUsage::Signature),
        ],
    }
}

/// A record for a test-PKI persona's card of a generation: subject from the persona's current
/// authentication certificate (the RSA-2048 fixtures both simulated cards carry), the
/// generation's renewable keys, the given practice situations and serial number.
pub fn test_record(
    generation: Generation,
    persona: &str,
    serial: Vec<u8>,
    situations: Vec<PracticeSituation>,
) -> Result<CardRecord, ServiceError> {
    let fixture = cps_x509::test_pki::holder(
        cps_x509::test_pki::KeySet::Rsa2048,
        persona,
        CertUsage::Authentication,
    )
    .map_err(|e| service(format!("test PKI: {e}")))?;
    let cert = fixture
        .certificate()
        .map_err(|e| service(format!("test PKI: {e}")))?;
    let subject = HolderSubject::from_identity(cert.holder())
        .ok_or_else(|| service("the certificate subject lacks a name or identifier"))?;
    Ok(CardRecord {
        serial,
        sequence: 0,
        dam_path: DAM_PATH.to_vec(),
        situations,
        subject,
        renewable: renewable_keys(generation),
        pending: None,
    })
}

fn split_sw(response: &[u8]) -> Result<(&[u8], [u8; 2]), ServiceError> {
    response
        .split_last_chunk::<2>()
        .map(|(b, sw)| (b, *sw))
        .ok_or_else(|| service("card answer shorter than a status word"))
}

fn path_text(path: &[u16]) -> String {
    path.iter()
        .map(|f| format!("{f:04X}"))
        .collect::<Vec<_>>()
        .join("/")
}

impl UpdateService for Issuer {
    fn open(&mut self, hello: &[u8]) -> Result<Reply, ServiceError> {
        let hello = Hello::parse(hello).map_err(|e| service(e.to_string()))?;
        if hello.kvn != KVN {
            return Err(service(format!("unknown key version {:02X}", hello.kvn)));
        }
        let rec = self
            .cards
            .get_mut(&hello.serial)
            .ok_or_else(|| service("this card is not registered with the update service"))?;
        self.dirty.insert(hello.serial.clone());
        if hello.sequence < rec.sequence {
            // A card behind what it committed: restored, cloned or replaced by another
            // card with this serial number. Nothing is sent to it.
            return Err(service(format!(
                "the card reports update {} but update {} was committed to the card with this \
                 serial number: it was restored or replaced; contact the card issuer",
                hello.sequence, rec.sequence
            )));
        }
        let Some(pending) = rec.pending.as_mut() else {
            return Ok(Reply::Finished(Outcome::UpToDate {
                sequence: hello.sequence,
            }));
        };
        // The hello is not authenticated: the target is only bound to the card (kept) once
        // the card acknowledged BEGIN under the secure channel (`Stage::WaitBegin`), so a
        // changed hello cannot leave a wrong target behind.
        let target = pending.target.unwrap_or(hello.sequence.saturating_add(1));
        if hello.sequence >= target {
            // Committed by an earlier session whose answer never came back.
            let steps = u16::try_from(pending.steps()).unwrap_or(u16::MAX);
            rec.sequence = hello.sequence;
            rec.pending = None;
            return Ok(Reply::Finished(Outcome::Updated {
                sequence: hello.sequence,
                steps,
            }));
        }
        if hello.sequence.saturating_add(1) != target {
            return Err(service(format!(
                "the card's sequence {} does not lead to the pending update's {target}",
                hello.sequence
            )));
        }
        let mut plan: Vec<PlanStep> = pending
            .files
            .iter()
            .map(|(path, content)| PlanStep::File {
                path: path.clone(),
                content: content.clone(),
            })
            .collect();
        for k in &pending.renew {
            plan.push(PlanStep::GenKey(k.clone()));
            plan.push(PlanStep::Cert(k.clone()));
        }
        let begin = Begin {
            update_id: pending.id,
            target,
            step_count: u16::try_from(plan.len()).map_err(|_| service("too many steps"))?,
        };
        let mut host_challenge = [0u8; 8];
        OsRng.fill_bytes(&mut host_challenge);
        // A random identifier: sessions cannot be enumerated (and an answer posted to a
        // session must still authenticate under its channel to change anything).
        let id = loop {
            let v = OsRng.next_u64();
            if v != 0 && !self.runs.contains_key(&v) {
                break v;
            }
        };
        let run = Run {
            serial: hello.serial.clone(),
            host_challenge,
            host: None,
            stage: Stage::WaitInit,
            plan,
            begin,
            card_steps_done: 0,
            cursor: 0,
            offset: 0,
            digests: Vec::new(),
            spki: BTreeMap::new(),
            certs: BTreeMap::new(),
            challenge: [0; 32],
            not_before: pending.not_before,
        };
        let total = u32::try_from(run.plan.len()).unwrap_or(u32::MAX) + 1;
        self.runs.insert(id, run);
        Ok(Reply::Send {
            session: id,
            apdu: initialize_update(KVN, &host_challenge),
            progress: Progress {
                done: 0,
                total,
                what: "opening a secure channel with the card".into(),
            },
        })
    }

    fn next(&mut self, session: u64, response: &[u8]) -> Result<Reply, ServiceError> {
        let Some(mut run) = self.runs.remove(&session) else {
            return Err(service("unknown or finished session"));
        };
        let then = match self.on_response(&mut run, response) {
            Ok(t) => t,
            Err(Fail { error, keep }) => {
                if keep {
                    self.runs.insert(session, run);
                }
                return Err(error);
            }
        };
        match then {
            Then::Finished(outcome) => Ok(Reply::Finished(outcome)),
            Then::Send(apdu, what) => {
                let progress = Progress {
                    done: u32::try_from(run.cursor).unwrap_or(u32::MAX),
                    total: u32::try_from(run.plan.len()).unwrap_or(u32::MAX) + 1,
                    what: what.into(),
                };
                self.runs.insert(session, run);
                Ok(Reply::Send {
                    session,
                    apdu,
                    progress,
                })
            }
            Then::Continue => {
                self.runs.insert(session, run);
                self.send(session)
            }
        }
    }
}
