//! The update application's commands and their payloads, shared by the card and the issuer
//! (the relay only forwards them). See `docs/remote-update.md` for the protocol.
//!
//! Every payload here is the **plain** data of a protected command (`84 INS 00 00`): the
//! secure channel ([`crate::scp`]) enciphers and MACs it.

use sha2::{Digest, Sha256};

/// AID of the update application: `F0` (ISO/IEC 7816-5 proprietary, unregistered) ‖
/// `"CPS-UPD"`.
pub const UPDATE_AID: [u8; 8] = [0xF0, b'C', b'P', b'S', b'-', b'U', b'P', b'D'];

/// Key version number of the update keys.
pub const KVN: u8 = 0x30;

/// Instruction bytes of the protected commands.
pub mod ins {
    /// BEGIN: opens (or resumes) a staged update.
    pub const BEGIN: u8 = 0xE0;
    /// STAGE FILE: one chunk of a file's new content.
    pub const STAGE_FILE: u8 = 0xE2;
    /// GENERATE KEY: a new key pair, staged; answers its public key.
    pub const GENERATE_KEY: u8 = 0xE4;
    /// PROVE POSSESSION: signs the issuer's challenge with a staged key.
    pub const PROVE_POSSESSION: u8 = 0xE6;
    /// COMMIT: makes the staged update visible, atomically.
    pub const COMMIT: u8 = 0xEE;
}

/// Largest chunk of file content in one STAGE FILE: the command stays a short APDU after
/// padding and MAC (255 bytes).
pub const MAX_CHUNK: usize = 192;

/// A payload that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed {what}: {detail}")]
pub struct ScriptError {
    /// Which message.
    pub what: &'static str,
    /// What is wrong.
    pub detail: &'static str,
}

fn err(what: &'static str, detail: &'static str) -> ScriptError {
    ScriptError { what, detail }
}

/// A bounds-checked reader.
struct Reader<'a> {
    rest: &'a [u8],
    what: &'static str,
}

impl<'a> Reader<'a> {
    fn new(data: &'a [u8], what: &'static str) -> Self {
        Reader { rest: data, what }
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8], ScriptError> {
        let (a, b) = self
            .rest
            .split_at_checked(n)
            .ok_or_else(|| err(self.what, "too short"))?;
        self.rest = b;
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, ScriptError> {
        Ok(self.take(1)?.first().copied().unwrap_or(0))
    }
    fn u16(&mut self) -> Result<u16, ScriptError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([
            b.first().copied().unwrap_or(0),
            b.get(1).copied().unwrap_or(0),
        ]))
    }
    fn u32(&mut self) -> Result<u32, ScriptError> {
        let b = self.take(4)?;
        let mut a = [0u8; 4];
        a.copy_from_slice(b);
        Ok(u32::from_be_bytes(a))
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], ScriptError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
    fn end(self) -> Result<(), ScriptError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(err(self.what, "trailing bytes"))
        }
    }
}

/// An update the card has staged and not committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagedInfo {
    /// The update's identifier.
    pub update_id: [u8; 16],
    /// The sequence number it will give the card.
    pub target: u32,
    /// Steps completed.
    pub steps_done: u16,
    /// Steps in the update.
    pub step_count: u16,
}

/// The answer to SELECT of the update application (plain, unauthenticated: the issuer only
/// trusts it to choose what to do, never to decide that something was applied).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    /// Key version of the update keys.
    pub kvn: u8,
    /// Card serial number (EF.SN), which selects the card's keys at the issuer.
    pub serial: Vec<u8>,
    /// Sequence number of the last committed update (0 at personalisation).
    pub sequence: u32,
    /// The staged update, if any.
    pub staged: Option<StagedInfo>,
}

impl Hello {
    /// `01 ‖ KVN ‖ len ‖ serial ‖ sequence(4) ‖ flag ‖ [id(16) ‖ target(4) ‖ done(2) ‖ count(2)]`.
    pub fn encode(&self) -> Vec<u8> {
        let mut v = vec![0x01, self.kvn, self.serial.len().min(255) as u8];
        v.extend(self.serial.iter().take(255));
        v.extend_from_slice(&self.sequence.to_be_bytes());
        match &self.staged {
            None => v.push(0),
            Some(s) => {
                v.push(1);
                v.extend_from_slice(&s.update_id);
                v.extend_from_slice(&s.target.to_be_bytes());
                v.extend_from_slice(&s.steps_done.to_be_bytes());
                v.extend_from_slice(&s.step_count.to_be_bytes());
            }
        }
        v
    }

    /// Parses [`Hello::encode`]'s output.
    pub fn parse(data: &[u8]) -> Result<Self, ScriptError> {
        let mut r = Reader::new(data, "hello");
        if r.u8()? != 0x01 {
            return Err(err("hello", "unknown format version"));
        }
        let kvn = r.u8()?;
        let n = usize::from(r.u8()?);
        let serial = r.take(n)?.to_vec();
        let sequence = r.u32()?;
        let staged = match r.u8()? {
            0 => None,
            1 => Some(StagedInfo {
                update_id: r.array()?,
                target: r.u32()?,
                steps_done: r.u16()?,
                step_count: r.u16()?,
            }),
            _ => return Err(err("hello", "bad staged flag")),
        };
        r.end()?;
        Ok(Hello {
            kvn,
            serial,
            sequence,
            staged,
        })
    }
}

/// BEGIN: `id(16) ‖ target(4) ‖ count(2)`; the card answers `steps_done(2)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Begin {
    /// The update's identifier (chosen by the issuer).
    pub update_id: [u8; 16],
    /// Sequence number after commit: the card's current sequence + 1.
    pub target: u32,
    /// Number of steps.
    pub step_count: u16,
}

impl Begin {
    /// Payload.
    pub fn encode(&self) -> Vec<u8> {
        let mut v = self.update_id.to_vec();
        v.extend_from_slice(&self.target.to_be_bytes());
        v.extend_from_slice(&self.step_count.to_be_bytes());
        v
    }

    /// Parses a payload.
    pub fn parse(data: &[u8]) -> Result<Self, ScriptError> {
        let mut r = Reader::new(data, "BEGIN");
        let b = Begin {
            update_id: r.array()?,
            target: r.u32()?,
            step_count: r.u16()?,
        };
        r.end()?;
        Ok(b)
    }
}

/// STAGE FILE: `step(2) ‖ n ‖ path(2n) ‖ offset(2) ‖ total(2) ‖ chunk`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageFile {
    /// Step number (0-based).
    pub step: u16,
    /// Absolute path of the EF (`3F00 ...`).
    pub path: Vec<u16>,
    /// Where the chunk goes.
    pub offset: u16,
    /// The file's whole new length.
    pub total: u16,
    /// The bytes.
    pub chunk: Vec<u8>,
}

impl StageFile {
    /// Payload.
    pub fn encode(&self) -> Vec<u8> {
        let mut v = self.step.to_be_bytes().to_vec();
        v.push(self.path.len().min(255) as u8);
        for f in self.path.iter().take(255) {
            v.extend_from_slice(&f.to_be_bytes());
        }
        v.extend_from_slice(&self.offset.to_be_bytes());
        v.extend_from_slice(&self.total.to_be_bytes());
        v.extend_from_slice(&self.chunk);
        v
    }

    /// Parses a payload; the chunk must fit in `total` from `offset`.
    pub fn parse(data: &[u8]) -> Result<Self, ScriptError> {
        let mut r = Reader::new(data, "STAGE FILE");
        let step = r.u16()?;
        let n = usize::from(r.u8()?);
        if n == 0 || n > 8 {
            return Err(err("STAGE FILE", "path of 1 to 8 file identifiers"));
        }
        let mut path = Vec::with_capacity(n);
        for _ in 0..n {
            path.push(r.u16()?);
        }
        let offset = r.u16()?;
        let total = r.u16()?;
        let chunk = r.rest.to_vec();
        if usize::from(offset) + chunk.len() > usize::from(total) {
            return Err(err("STAGE FILE", "chunk beyond the file's length"));
        }
        Ok(StageFile {
            step,
            path,
            offset,
            total,
            chunk,
        })
    }
}

/// GENERATE KEY: `step(2) ‖ key reference`; the card answers the DER SubjectPublicKeyInfo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GenerateKey {
    /// Step number.
    pub step: u16,
    /// The IAS-ECC key reference whose key is renewed.
    pub key_ref: u8,
}

impl GenerateKey {
    /// Payload.
    pub fn encode(&self) -> Vec<u8> {
        let mut v = self.step.to_be_bytes().to_vec();
        v.push(self.key_ref);
        v
    }

    /// Parses a payload.
    pub fn parse(data: &[u8]) -> Result<Self, ScriptError> {
        let mut r = Reader::new(data, "GENERATE KEY");
        let g = GenerateKey {
            step: r.u16()?,
            key_ref: r.u8()?,
        };
        r.end()?;
        Ok(g)
    }
}

/// PROVE POSSESSION: `key reference ‖ challenge(32)`; the card answers the signature of
/// SHA-256(challenge) with the staged key (RSA PKCS#1 v1.5, or ECDSA P-256 `r ‖ s`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProvePossession {
    /// The key reference of a staged key.
    pub key_ref: u8,
    /// The issuer's fresh challenge.
    pub challenge: [u8; 32],
}

impl ProvePossession {
    /// Payload.
    pub fn encode(&self) -> Vec<u8> {
        let mut v = vec![self.key_ref];
        v.extend_from_slice(&self.challenge);
        v
    }

    /// Parses a payload.
    pub fn parse(data: &[u8]) -> Result<Self, ScriptError> {
        let mut r = Reader::new(data, "PROVE POSSESSION");
        let p = ProvePossession {
            key_ref: r.u8()?,
            challenge: r.array()?,
        };
        r.end()?;
        Ok(p)
    }
}

/// COMMIT: `count(2) ‖ digest(32)`; the card answers its new sequence number (4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Commit {
    /// Steps the update has.
    pub step_count: u16,
    /// [`script_digest`] of the steps.
    pub digest: [u8; 32],
}

impl Commit {
    /// Payload.
    pub fn encode(&self) -> Vec<u8> {
        let mut v = self.step_count.to_be_bytes().to_vec();
        v.extend_from_slice(&self.digest);
        v
    }

    /// Parses a payload.
    pub fn parse(data: &[u8]) -> Result<Self, ScriptError> {
        let mut r = Reader::new(data, "COMMIT");
        let c = Commit {
            step_count: r.u16()?,
            digest: r.array()?,
        };
        r.end()?;
        Ok(c)
    }
}

/// Digest of a completed file step: SHA-256(`"file" ‖ path ‖ len(4) ‖ content`).
pub fn file_step_digest(path: &[u16], content: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"file");
    for f in path {
        h.update(f.to_be_bytes());
    }
    h.update(
        u32::try_from(content.len())
            .unwrap_or(u32::MAX)
            .to_be_bytes(),
    );
    h.update(content);
    h.finalize().into()
}

/// Digest of a completed key step: SHA-256(`"key" ‖ reference ‖ SubjectPublicKeyInfo`).
pub fn key_step_digest(key_ref: u8, spki: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"key");
    h.update([key_ref]);
    h.update(spki);
    h.finalize().into()
}

/// Digest of a whole update: SHA-256 of the step digests in order.
pub fn script_digest(steps: &[[u8; 32]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for s in steps {
        h.update(s);
    }
    h.finalize().into()
}
