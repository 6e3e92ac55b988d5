//! The IAS-ECC application: holder PIN and PUK, security data objects read with GET DATA,
//! security environment (MSE SET), signature, client authentication, decryption and key
//! generation.
//!
//! References: IAS-ECC v1.0.1 (GIXEL, 2008) §7 (security data objects: CHV, keys, SE), §9
//! (commands); ISO/IEC 7816-4:2013 §11.5 (VERIFY, CHANGE REFERENCE DATA, RESET RETRY COUNTER,
//! MANAGE SECURITY ENVIRONMENT, INTERNAL AUTHENTICATE, GET DATA); ISO/IEC 7816-8:2004 §5
//! (PERFORM SECURITY OPERATION: HASH, COMPUTE DIGITAL SIGNATURE, DECIPHER; GENERATE
//! ASYMMETRIC KEY PAIR). The byte formats are those of docs/card-layout.md; where OpenSC
//! 0.23's `iasecc` driver imposes a detail, the comment cites the research notes
//! (/work/research/opensc-iasecc-flows.md, "research §n").

mod crypto;
mod pin;
mod sdo;

use cps_apdu::{Command, Response, StatusWord};
use zeroize::Zeroizing;

use crate::keys::KeyPair;
use crate::security::SecurityStatus;

pub(crate) use pin::{Pin, PinAcl};

/// `63Cx`: verification failed, `x` tries left (ISO 7816-4 Table 6).
pub(crate) fn tries_left_sw(left: u8) -> StatusWord {
    StatusWord(0x63C0 | u16::from(left.min(0x0F)))
}

pub(crate) fn status(sw: StatusWord) -> Response {
    Response::status(sw)
}

/// Security conditions of a key SDO, one per IAS-ECC key access-mode bit (research §4.1 step
/// 3: 0x40 PSO-SIGN, 0x20 INT-AUTH, 0x10 DECIPHER, 0x08 GENERATE, 0x02 PUT, 0x01 GET).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KeyAcl {
    pub sign: u8,
    pub internal_authenticate: u8,
    pub decipher: u8,
    pub generate: u8,
    pub put: u8,
    pub get: u8,
}

impl KeyAcl {
    /// The `8C` value: AM `7B` then the six conditions ([real CPx] AM 7B, research §4.1).
    pub fn compact(&self) -> [u8; 7] {
        [
            0x7B,
            self.sign,
            self.internal_authenticate,
            self.decipher,
            self.generate,
            self.put,
            self.get,
        ]
    }
}

/// A private key of the card (an IAS-ECC key SDO, class 0x10).
#[derive(Debug, Clone)]
pub(crate) struct Key {
    /// Key reference as MSE names it (`84 01 <ref>`), e.g. 0x81; the SDO reference is
    /// `ref & 0x7F` (research §2.2: "sdo_ref = keyRef & 0x7F").
    pub reference: u8,
    pub pair: KeyPair,
    pub acl: KeyAcl,
}

/// The current security environment (volatile).
#[derive(Debug, Clone, Default)]
pub(crate) struct SecurityEnv {
    /// Digital signature template: key reference, algorithm reference.
    pub dst: Option<(u8, u8)>,
    /// Authentication template.
    pub at: Option<(u8, u8)>,
    /// Confidentiality template.
    pub ct: Option<(u8, u8)>,
    /// Hash template algorithm.
    pub ht: Option<u8>,
    /// Hash given by PSO HASH, waiting for PSO CDS.
    pub hash: Option<Zeroizing<Vec<u8>>>,
}

/// What the IAS-ECC application keeps.
#[derive(Debug, Clone)]
pub(crate) struct IasEcc {
    pub pins: Vec<Pin>,
    pub keys: Vec<Key>,
    pub se: SecurityEnv,
    /// Security environment numbers the card knows (MSE RESTORE).
    pub se_numbers: Vec<u8>,
    /// Whether GENERATE ASYMMETRIC KEY PAIR really generates (off in fuzzing: RSA-2048
    /// generation takes seconds).
    pub key_generation: bool,
    /// IAS-ECC (CPS3) or ChipDoc (CPS4) command forms.
    pub dialect: crate::profile::Dialect,
}

impl IasEcc {
    /// Power-on / reset.
    pub fn reset(&mut self) {
        self.se = SecurityEnv::default();
    }

    pub fn pin(&self, reference: u8) -> Option<&Pin> {
        self.pins.iter().find(|p| p.reference == reference)
    }

    pub fn key(&self, reference: u8) -> Option<&Key> {
        self.keys.iter().find(|k| k.reference == reference)
    }

    /// Replaces the key pair of a reference (remote-update commit); its ACL stays.
    pub fn replace_key(&mut self, reference: u8, pair: KeyPair) {
        if let Some(k) = self.keys.iter_mut().find(|k| k.reference == reference) {
            k.pair = pair;
        }
    }

    /// Handles the IAS-ECC instructions; `None` for any other instruction.
    pub fn process(&mut self, cmd: &Command, sec: &mut SecurityStatus) -> Option<Response> {
        Some(match cmd.ins {
            0x20 => self.verify(cmd, sec),
            0x24 => self.change_reference_data(cmd, sec),
            0x2C => self.reset_retry_counter(cmd, sec),
            0xCB => self.get_data(cmd),
            // ISO 7816-4 GET DATA with even INS: no BER-TLV data object of ours is
            // reachable this way.
            0xCA => status(StatusWord::REFERENCED_DATA_NOT_FOUND),
            0x22 => self.manage_security_environment(cmd),
            0x2A => self.perform_security_operation(cmd, sec),
            // ChipDoc has no INTERNAL AUTHENTICATE (ANS PKCS#11 external specification §2.2:
            // "L'applet ChipDoc n'offre pas de commande d'apdu Internal Authenticate").
            0x88 if self.dialect == crate::profile::Dialect::Chipdoc => {
                status(StatusWord::INS_NOT_SUPPORTED)
            }
            0x88 => self.internal_authenticate(cmd, sec),
            0x46 | 0x47 => self.generate_key_pair(cmd, sec),
            _ => return None,
        })
    }

    /// Whether `ins` is an IAS-ECC instruction (chained commands are refused early for
    /// unknown instructions).
    pub fn handles(ins: u8) -> bool {
        matches!(
            ins,
            0x20 | 0x24 | 0x2C | 0xCA | 0xCB | 0x22 | 0x2A | 0x88 | 0x46 | 0x47
        )
    }
}
