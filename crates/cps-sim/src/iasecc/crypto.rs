//! MANAGE SECURITY ENVIRONMENT, PERFORM SECURITY OPERATION (HASH, COMPUTE DIGITAL SIGNATURE,
//! DECIPHER), INTERNAL AUTHENTICATE and GENERATE ASYMMETRIC KEY PAIR.
//!
//! ISO 7816-4:2013 §11.5.11 (MSE), §11.5.2 (INTERNAL AUTHENTICATE); ISO 7816-8:2004 §5.2-5.4,
//! §5.9 (PSO), §5.1 (GENERATE ASYMMETRIC KEY PAIR); IAS-ECC v1.0.1 §9.3 (algorithm
//! references, CRT contents). Formats of docs/card-layout.md "Keys and cryptographic commands".

use cps_apdu::tlv::{self, Tag};
use cps_apdu::{Command, Response, StatusWord};
use sha1::Digest;
use zeroize::Zeroizing;

use super::sdo::{CLASS_PRIVATE_KEY, sdo_class_ref, wrap};
use super::{IasEcc, status};
use crate::keys::KeyPair;
use crate::security::SecurityStatus;

/// Algorithm reference: RSA PKCS#1 v1.5 signature with SHA-1 (CDS) [real CPx TokenInfo algRef
/// 0x12, OpenSC #2267].
pub(crate) const ALG_RSA_SHA1: u8 = 0x12;
/// RSA PKCS#1 v1.5 signature with SHA-256 (CDS) [real CPx algRef 0x42, OpenSC #2267].
pub(crate) const ALG_RSA_SHA256: u8 = 0x42;
/// ECDSA with SHA-256 (CDS) [model, docs/card-layout.md].
pub(crate) const ALG_ECDSA_SHA256: u8 = 0x44;
/// RSA PKCS#1 v1.5 type-1 padding of the given data (INTERNAL AUTHENTICATE) [model: OpenSC's
/// default algRef 0x02, card-iasecc.c `iasecc_set_security_env`].
pub(crate) const ALG_RSA_PKCS1: u8 = 0x02;
/// ECDSA of the given hash (INTERNAL AUTHENTICATE) [model].
pub(crate) const ALG_ECDSA: u8 = 0x04;
/// RSA PKCS#1 v1.5 decryption [model: OpenSC's default algRef 0x1A].
pub(crate) const ALG_RSA_DECIPHER: u8 = 0x1A;
/// Hash algorithm references of the HT [real CPx TokenInfo: 0x10 SHA-1, 0x40 SHA-256].
pub(crate) const ALG_HASH_SHA1: u8 = 0x10;
pub(crate) const ALG_HASH_SHA256: u8 = 0x40;

/// ChipDoc (CPS4) algorithm identifiers of MSE SET DST tag 91 (`cards.h` `CPSV4_ALG_*`).
pub(crate) const CHIPDOC_RSA_SHA1_PKCS1: u8 = 0x0A;
/// RSA PKCS#1 v1.5 with SHA-256.
pub(crate) const CHIPDOC_RSA_SHA256_PKCS1: u8 = 0x28;
/// RSA-PSS with SHA-1.
pub(crate) const CHIPDOC_RSA_SHA1_PSS: u8 = 0x15;
/// RSA-PSS with SHA-256.
pub(crate) const CHIPDOC_RSA_SHA256_PSS: u8 = 0x2C;

/// Which template an MSE SET names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Template {
    /// `B6` digital signature template.
    Dst,
    /// `A4` authentication template.
    At,
    /// `B8` confidentiality template.
    Ct,
}

/// Whether `alg` suits the template and the key; `None` when `alg` is unknown for the
/// template (6A80), `Some(false)` when the key cannot do it (6985).
fn alg_fits(template: Template, alg: u8, key: &KeyPair) -> Option<bool> {
    let rsa = matches!(key, KeyPair::Rsa(_));
    match (template, alg) {
        (Template::Dst, ALG_RSA_SHA1 | ALG_RSA_SHA256) => Some(rsa),
        (Template::Dst, ALG_ECDSA_SHA256) => Some(!rsa),
        (Template::At, ALG_RSA_PKCS1) => Some(rsa),
        (Template::At, ALG_ECDSA) => Some(!rsa),
        (Template::Ct, ALG_RSA_DECIPHER) => Some(rsa),
        _ => None,
    }
}

/// The hash of a whole message with the DST's algorithm.
fn hash_message(alg: u8, message: &[u8]) -> Vec<u8> {
    if alg == ALG_RSA_SHA1 {
        sha1::Sha1::digest(message).to_vec()
    } else {
        sha2::Sha256::digest(message).to_vec()
    }
}

/// Finishes a SHA-1 / SHA-256 computation from an intermediate state (big-endian words), the
/// number of bits already hashed (whole 512-bit blocks) and the last partial block: FIPS 180-4
/// §5.1.1 padding then the block function. `None` when the parts are inconsistent.
fn finish_partial_hash(alg: u8, pre: &[u8], last: &[u8]) -> Option<Vec<u8>> {
    use sha2::digest::generic_array::GenericArray;
    // Cryptolib sends 1..=64 bytes in the last block (`card-cps3.c` `cps3_compute_hash`:
    // "remainingdatalen > 64 || == 0" refused), a whole 64-byte block included.
    if last.len() > 64 {
        return None;
    }
    if pre.is_empty() {
        // Less than one block in all: the last block is the whole message.
        return Some(hash_message(alg, last));
    }
    let state_len = digest_len(alg);
    if pre.len() != state_len + 8 {
        return None;
    }
    let (state_bytes, counter) = pre.split_at(state_len);
    let bits = u64::from_be_bytes(counter.try_into().ok()?);
    if bits == 0 || bits % 512 != 0 {
        return None;
    }
    let total = bits.checked_add(u64::try_from(last.len()).ok()? * 8)?;
    let mut padded = Zeroizing::new(last.to_vec());
    padded.push(0x80);
    while padded.len() % 64 != 56 {
        padded.push(0);
    }
    padded.extend_from_slice(&total.to_be_bytes());
    let blocks: Vec<GenericArray<u8, _>> = padded
        .chunks_exact(64)
        .map(|c| GenericArray::from_slice(c).to_owned())
        .collect();
    let words = state_bytes
        .chunks_exact(4)
        .map(|w| w.try_into().map(u32::from_be_bytes));
    let mut out = Vec::with_capacity(state_len);
    if alg == ALG_RSA_SHA1 {
        let mut state = [0u32; 5];
        for (s, w) in state.iter_mut().zip(words) {
            *s = w.ok()?;
        }
        sha1::compress(&mut state, &blocks);
        state
            .iter()
            .for_each(|w| out.extend_from_slice(&w.to_be_bytes()));
    } else {
        let mut state = [0u32; 8];
        for (s, w) in state.iter_mut().zip(words) {
            *s = w.ok()?;
        }
        sha2::compress256(&mut state, &blocks);
        state
            .iter()
            .for_each(|w| out.extend_from_slice(&w.to_be_bytes()));
    }
    Some(out)
}

/// Digest length an algorithm reference expects from PSO HASH.
fn digest_len(alg: u8) -> usize {
    if alg == ALG_RSA_SHA1 { 20 } else { 32 }
}

impl IasEcc {
    /// MSE SET (`00 22 41 B6/A4/B8/AA`) and MSE RESTORE (`00 22 F3 <se>`).
    pub(super) fn manage_security_environment(&mut self, cmd: &Command) -> Response {
        if self.dialect == crate::profile::Dialect::Chipdoc {
            return self.chipdoc_mse(cmd);
        }
        if cmd.p1 == 0xF3 {
            // ISO 7816-4 §11.5.11: restore a stored SE; ours hold no key, so restoring one
            // clears the current templates.
            if !cmd.data.is_empty() {
                return status(StatusWord::WRONG_LENGTH);
            }
            if !self.se_numbers.contains(&cmd.p2) {
                return status(StatusWord::REFERENCED_DATA_NOT_FOUND);
            }
            self.se = super::SecurityEnv::default();
            return status(StatusWord::SUCCESS);
        }
        if cmd.p1 != 0x41 {
            return status(StatusWord::INCORRECT_P1P2);
        }
        let template = match cmd.p2 {
            0xB6 => Template::Dst,
            0xA4 => Template::At,
            0xB8 => Template::Ct,
            0xAA => return self.mse_hash_template(cmd),
            _ => return status(StatusWord::INCORRECT_P1P2),
        };
        let Ok(objects) = tlv::parse_all(&cmd.data) else {
            return status(StatusWord::WRONG_DATA);
        };
        let mut key_ref = None;
        let mut alg = None;
        for o in &objects {
            match (o.tag, o.value) {
                (Tag(0x84), [r]) => key_ref = Some(*r),
                (Tag(0x80), [a]) => alg = Some(*a),
                (Tag(0x84 | 0x80), _) => return status(StatusWord::WRONG_DATA),
                // Other CRT objects (83, 95 usage qualifier...) do not change anything here.
                _ => {}
            }
        }
        let Some(key_ref) = key_ref else {
            return status(StatusWord::WRONG_DATA);
        };
        let Some(key) = self.key(key_ref) else {
            return status(StatusWord::REFERENCED_DATA_NOT_FOUND);
        };
        let rsa = matches!(key.pair, KeyPair::Rsa(_));
        let alg = alg.unwrap_or(match (template, rsa) {
            (Template::Dst, true) => ALG_RSA_SHA256,
            (Template::Dst, false) => ALG_ECDSA_SHA256,
            (Template::At, true) => ALG_RSA_PKCS1,
            (Template::At, false) => ALG_ECDSA,
            (Template::Ct, _) => ALG_RSA_DECIPHER,
        });
        match alg_fits(template, alg, &key.pair) {
            None => return status(StatusWord::WRONG_DATA),
            Some(false) => return status(StatusWord::CONDITIONS_NOT_SATISFIED),
            Some(true) => {}
        }
        let allowed = match template {
            Template::Dst => key.acl.sign,
            Template::At => key.acl.internal_authenticate,
            Template::Ct => key.acl.decipher,
        };
        if allowed == crate::fs::SC_NEVER {
            return status(StatusWord::CONDITIONS_NOT_SATISFIED);
        }
        match template {
            Template::Dst => {
                // A hash computed for another algorithm cannot be signed with this one.
                if self
                    .se
                    .hash
                    .as_ref()
                    .is_some_and(|h| h.len() != digest_len(alg))
                {
                    self.se.hash = None;
                }
                self.se.dst = Some((key_ref, alg));
            }
            Template::At => self.se.at = Some((key_ref, alg)),
            Template::Ct => self.se.ct = Some((key_ref, alg)),
        }
        status(StatusWord::SUCCESS)
    }

    /// The key a ChipDoc MSE names: exactly, or without b8 (`card-cps4.c`
    /// `cps4_set_security_env` sends `key_ref | 0x80`).
    fn chipdoc_key(&self, reference: u8) -> Option<&super::Key> {
        self.key(reference).or_else(|| self.key(reference & 0x7F))
    }

    /// ChipDoc MSE SET: `81 B6 {91 02 <alg> <key|80>}` (signature) and `41 B8 {83 01 20}`
    /// (decipher, also used to authenticate) — the only forms Cryptolib sends
    /// (`card-cps4.c` `cps4_set_security_env`); anything else `6A80` / `6A86`.
    fn chipdoc_mse(&mut self, cmd: &Command) -> Response {
        match (cmd.p1, cmd.p2) {
            (0x81, 0xB6) => {
                let [0x91, 0x02, alg, key_ref] = cmd.data.as_slice() else {
                    return status(StatusWord::WRONG_DATA);
                };
                if !matches!(
                    *alg,
                    CHIPDOC_RSA_SHA1_PKCS1
                        | CHIPDOC_RSA_SHA256_PKCS1
                        | CHIPDOC_RSA_SHA1_PSS
                        | CHIPDOC_RSA_SHA256_PSS
                ) {
                    return status(StatusWord::WRONG_DATA);
                }
                let Some(key) = self.chipdoc_key(*key_ref) else {
                    return status(StatusWord::REFERENCED_DATA_NOT_FOUND);
                };
                if key.acl.sign == crate::fs::SC_NEVER {
                    return status(StatusWord::CONDITIONS_NOT_SATISFIED);
                }
                let reference = key.reference;
                self.se.dst = Some((reference, *alg));
                self.se.hash = None;
                status(StatusWord::SUCCESS)
            }
            (0x41, 0xB8) => {
                let [0x83, 0x01, key_ref] = cmd.data.as_slice() else {
                    return status(StatusWord::WRONG_DATA);
                };
                let Some(key) = self.chipdoc_key(*key_ref) else {
                    return status(StatusWord::REFERENCED_DATA_NOT_FOUND);
                };
                if key.acl.decipher == crate::fs::SC_NEVER {
                    return status(StatusWord::CONDITIONS_NOT_SATISFIED);
                }
                let reference = key.reference;
                self.se.ct = Some((reference, 0));
                status(StatusWord::SUCCESS)
            }
            _ => status(StatusWord::INCORRECT_P1P2),
        }
    }

    /// ChipDoc PSO COMPUTE DIGITAL SIGNATURE: the data is the hash computed by the host
    /// (`card-cps4.c` `cps4_sign`); PKCS#1 v1.5 with the DigestInfo built by the card, or PSS.
    fn chipdoc_cds(&mut self, cmd: &Command, sec: &SecurityStatus) -> Response {
        let (key, alg) = match self.dst_key(sec) {
            Ok(k) => k,
            Err(sw) => return status(sw),
        };
        let want = match alg {
            CHIPDOC_RSA_SHA1_PKCS1 | CHIPDOC_RSA_SHA1_PSS => 20,
            _ => 32,
        };
        if cmd.data.len() != want {
            return status(StatusWord::WRONG_LENGTH);
        }
        let signature = match alg {
            CHIPDOC_RSA_SHA1_PKCS1 | CHIPDOC_RSA_SHA256_PKCS1 => {
                key.pair.rsa_sign_digest(&cmd.data)
            }
            _ => key.pair.rsa_sign_pss(&cmd.data),
        };
        match signature {
            Ok(sig) => Response::success(sig),
            Err(_) => status(StatusWord::WRONG_DATA),
        }
    }

    /// The key of the confidentiality template set by MSE, when the security status allows
    /// deciphering with it: `6985` without CT (or with an unknown key), `6982` without its PIN.
    fn decipher_key(&self, sec: &SecurityStatus) -> Result<&super::Key, Response> {
        let Some((key_ref, _)) = self.se.ct else {
            return Err(status(StatusWord::CONDITIONS_NOT_SATISFIED));
        };
        let Some(key) = self.key(key_ref) else {
            return Err(status(StatusWord::CONDITIONS_NOT_SATISFIED));
        };
        if !sec.satisfies(key.acl.decipher) {
            return Err(status(StatusWord::SECURITY_STATUS_NOT_SATISFIED));
        }
        Ok(key)
    }

    /// ChipDoc PSO DECIPHER: the whole body is the cryptogram (no padding-indicator byte:
    /// `card-cps4.c` `decipher`), answered by the raw RSA result, padding included.
    fn chipdoc_decipher(&mut self, cmd: &Command, sec: &SecurityStatus) -> Response {
        let key = match self.decipher_key(sec) {
            Ok(k) => k,
            Err(r) => return r,
        };
        if cmd.data.len() != key.pair.size_bytes() {
            return status(StatusWord::WRONG_LENGTH);
        }
        match key.pair.rsa_raw_private(&cmd.data) {
            Ok(plain) => Response::success(plain.to_vec()),
            Err(_) => status(StatusWord::WRONG_DATA),
        }
    }

    fn mse_hash_template(&mut self, cmd: &Command) -> Response {
        let Ok(objects) = tlv::parse_all(&cmd.data) else {
            return status(StatusWord::WRONG_DATA);
        };
        match objects.iter().find(|o| o.tag == Tag(0x80)).map(|o| o.value) {
            Some([a @ (ALG_HASH_SHA1 | ALG_HASH_SHA256)]) => {
                self.se.ht = Some(*a);
                status(StatusWord::SUCCESS)
            }
            _ => status(StatusWord::WRONG_DATA),
        }
    }

    /// PSO (`00 2A`): `90 A0` HASH, `9E 9A` COMPUTE DIGITAL SIGNATURE, `80 86` DECIPHER.
    pub(super) fn perform_security_operation(
        &mut self,
        cmd: &Command,
        sec: &SecurityStatus,
    ) -> Response {
        if self.dialect == crate::profile::Dialect::Chipdoc {
            return match (cmd.p1, cmd.p2) {
                (0x9E, 0x9A) => self.chipdoc_cds(cmd, sec),
                (0x80, 0x86) => self.chipdoc_decipher(cmd, sec),
                _ => status(StatusWord::INCORRECT_P1P2),
            };
        }
        match (cmd.p1, cmd.p2) {
            (0x90, 0xA0) => self.pso_hash(cmd),
            (0x9E, 0x9A) => self.pso_cds(cmd, sec),
            (0x80, 0x86) => self.pso_decipher(cmd, sec),
            _ => status(StatusWord::INCORRECT_P1P2),
        }
    }

    /// PSO HASH (ISO 7816-8 §5.2, Table 5): `90 <hash>` computed by the host; `80 <data>`
    /// hashed by the card; or the IAS-ECC partial form `90 <intermediate state ‖ bit counter>
    /// 80 <last partial block>` (`90 00` when the message is shorter than a block) that the
    /// card finishes — what OpenSC's OpenSSL-1.1 builds send (card-iasecc.c
    /// `iasecc_compute_signature_dst`, research §4.3).
    fn pso_hash(&mut self, cmd: &Command) -> Response {
        // The hash algorithm: the HT's (Cryptolib sends MSE SET HT `80 01 10|40` then PSO
        // HASH, and only then MSE SET DST: `pkcs15-sec.c` `sc_pkcs15_compute_hash`), else the
        // DST's signature algorithm.
        let alg = match (self.se.ht, self.se.dst) {
            (Some(ALG_HASH_SHA1), _) => ALG_RSA_SHA1,
            (Some(_), _) => ALG_RSA_SHA256,
            (None, Some((_, alg))) => alg,
            (None, None) => return status(StatusWord::CONDITIONS_NOT_SATISFIED),
        };
        let Ok(objects) = tlv::parse_all(&cmd.data) else {
            return status(StatusWord::WRONG_DATA);
        };
        let hash = match objects.as_slice() {
            [o] if o.tag == Tag(0x90) && o.value.len() == digest_len(alg) => Some(o.value.to_vec()),
            [o] if o.tag == Tag(0x80) => Some(hash_message(alg, o.value)),
            [pre, last] if pre.tag == Tag(0x90) && last.tag == Tag(0x80) => {
                finish_partial_hash(alg, pre.value, last.value)
            }
            _ => None,
        };
        match hash {
            Some(hash) => {
                self.se.hash = Some(Zeroizing::new(hash));
                status(StatusWord::SUCCESS)
            }
            None => status(StatusWord::WRONG_DATA),
        }
    }

    /// The key and algorithm of the current DST, once the key's signing condition holds.
    fn dst_key(&self, sec: &SecurityStatus) -> Result<(&super::Key, u8), StatusWord> {
        let (key_ref, alg) = self.se.dst.ok_or(StatusWord::CONDITIONS_NOT_SATISFIED)?;
        let key = self
            .key(key_ref)
            .ok_or(StatusWord::CONDITIONS_NOT_SATISFIED)?;
        if !sec.satisfies(key.acl.sign) {
            return Err(StatusWord::SECURITY_STATUS_NOT_SATISFIED);
        }
        Ok((key, alg))
    }

    /// PSO COMPUTE DIGITAL SIGNATURE over the hash of PSO HASH.
    fn pso_cds(&mut self, cmd: &Command, sec: &SecurityStatus) -> Response {
        let (key, alg) = match self.dst_key(sec) {
            Ok(k) => k,
            Err(sw) => return status(sw),
        };
        if !cmd.data.is_empty() {
            return status(StatusWord::WRONG_DATA);
        }
        let Some(hash) = self.se.hash.as_ref() else {
            return status(StatusWord::CONDITIONS_NOT_SATISFIED);
        };
        let signature = match alg {
            ALG_RSA_SHA1 | ALG_RSA_SHA256 => key.pair.rsa_sign_digest(hash),
            _ => key.pair.ecdsa_sign_prehash(hash),
        };
        // One signature per hash.
        self.se.hash = None;
        match signature {
            Ok(sig) => Response::success(sig),
            Err(_) => status(StatusWord::WRONG_DATA),
        }
    }

    /// PSO DECIPHER: `81 ‖ cryptogram` (padding-indicator byte then the RSA cryptogram,
    /// research §4.4; `00` accepted too).
    fn pso_decipher(&mut self, cmd: &Command, sec: &SecurityStatus) -> Response {
        let key = match self.decipher_key(sec) {
            Ok(k) => k,
            Err(r) => return r,
        };
        let Some((&indicator, cryptogram)) = cmd.data.split_first() else {
            return status(StatusWord::WRONG_LENGTH);
        };
        if indicator != 0x81 && indicator != 0x00 {
            return status(StatusWord::WRONG_DATA);
        }
        if cryptogram.len() != key.pair.size_bytes() {
            return status(StatusWord::WRONG_LENGTH);
        }
        match key.pair.rsa_decrypt(cryptogram) {
            Ok(plain) => Response::success(plain.to_vec()),
            Err(_) => status(StatusWord::WRONG_DATA),
        }
    }

    /// INTERNAL AUTHENTICATE (`00 88 00 00 Lc data`): RSA type-1 padding of the data as
    /// given, or ECDSA of the given hash.
    pub(super) fn internal_authenticate(
        &mut self,
        cmd: &Command,
        sec: &SecurityStatus,
    ) -> Response {
        if (cmd.p1, cmd.p2) != (0x00, 0x00) {
            return status(StatusWord::INCORRECT_P1P2);
        }
        let Some((key_ref, alg)) = self.se.at else {
            return status(StatusWord::CONDITIONS_NOT_SATISFIED);
        };
        let Some(key) = self.key(key_ref) else {
            return status(StatusWord::CONDITIONS_NOT_SATISFIED);
        };
        if !sec.satisfies(key.acl.internal_authenticate) {
            return status(StatusWord::SECURITY_STATUS_NOT_SATISFIED);
        }
        if cmd.data.is_empty() {
            return status(StatusWord::WRONG_LENGTH);
        }
        let result = if alg == ALG_ECDSA {
            key.pair.ecdsa_sign_prehash(&cmd.data)
        } else {
            key.pair.rsa_sign_raw(&cmd.data)
        };
        match result {
            Ok(sig) => Response::success(sig),
            Err(_) => status(StatusWord::WRONG_DATA),
        }
    }

    /// GENERATE ASYMMETRIC KEY PAIR (`00 46|47 00 00 Lc BF 90 <ref> 00`): replaces the key
    /// and answers its public key as GET DATA does (`70 { BF A0 <ref> { 7F49 } }`).
    pub(super) fn generate_key_pair(&mut self, cmd: &Command, sec: &SecurityStatus) -> Response {
        if (cmd.p1, cmd.p2) != (0x00, 0x00) {
            return status(StatusWord::INCORRECT_P1P2);
        }
        let Ok((object, rest)) = tlv::parse_one(&cmd.data) else {
            return status(StatusWord::WRONG_DATA);
        };
        if !rest.is_empty() {
            return status(StatusWord::WRONG_DATA);
        }
        let Some((CLASS_PRIVATE_KEY, sdo_ref)) = sdo_class_ref(object.tag) else {
            return status(StatusWord::WRONG_DATA);
        };
        let key_ref = 0x80 | sdo_ref;
        let Some(index) = self.keys.iter().position(|k| k.reference == key_ref) else {
            return status(StatusWord::REFERENCED_DATA_NOT_FOUND);
        };
        let Some(key) = self.keys.get_mut(index) else {
            return status(StatusWord::REFERENCED_DATA_NOT_FOUND);
        };
        if !sec.satisfies(key.acl.generate) {
            return status(StatusWord::SECURITY_STATUS_NOT_SATISFIED);
        }
        if !self.key_generation {
            return status(StatusWord::FUNCTION_NOT_SUPPORTED);
        }
        match KeyPair::generate(key.pair.kind()) {
            Ok(pair) => key.pair = pair,
            Err(_) => return status(StatusWord::UNKNOWN_ERROR),
        }
        let public = tlv::encode(Tag(0x7F49), &key.pair.public_key_do());
        let tag = Tag(0x00BF_A000 | u32::from(sdo_ref));
        // Any SE naming this key now names the new one; a pending hash stays valid.
        Response::success(wrap(tag, &public))
    }
}
