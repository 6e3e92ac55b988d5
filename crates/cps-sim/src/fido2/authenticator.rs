//! A simulated CTAP 2.1 authenticator: the engine behind the CPS4 simulator's FIDO2 applet.
//!
//! Delivered blank (no PIN, no credentials), with real P-256 keys: resident credentials are
//! kept in memory; non-resident ones are wrapped in their credential ID with AES-256-GCM
//! under a card secret (the rpIdHash is the associated data, so an ID only works for its RP).
//! PIN rules follow CTAP 2.1 §6.5: 8 retries, decremented before the comparison; three wrong
//! PINs in a row block PIN use until the next power-up (`PIN_AUTH_BLOCKED`); 0 left is
//! `PIN_BLOCKED`. pinUvAuthToken permissions and RP binding follow §6.5.5.7; permissions
//! (except large-blob write) are cleared after a request that collected user presence.
//!
//! The engine works on CTAP messages (`command ‖ CBOR` in, `status ‖ CBOR` out); the APDU
//! layer is [`super::applet`].

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use hmac::{Hmac, Mac};
use p256::ecdsa::{DerSignature, SigningKey, signature::Signer};
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use cps_fido2::cbor::{self, Value};
use cps_fido2::ctap::{CtapStatus, cmd, flags};
use cps_fido2::pin::{KeyAgreement, PinProtocol, SharedSecret, cose_p256};

mod u2f;

/// AAGUID of the simulated applet: ASCII "cps-rs simulator" (16 bytes), so tools show where a
/// credential came from.
pub const AAGUID: [u8; 16] = *b"cps-rs simulator";
/// Discoverable credentials the applet can hold.
pub const MAX_RESIDENT: usize = 25;
/// PIN retries of a fresh or reset applet (CTAP 2.1 §6.5.2.1).
pub const PIN_RETRIES: u8 = 8;
/// Largest request accepted (getInfo maxMsgSize).
pub const MAX_MSG_SIZE: u64 = 2048;
/// minPINLength of a fresh applet: 4 code points (CTAP 2.1 §6.5.1 "Minimum PIN Length: 4").
pub const DEFAULT_MIN_PIN_LENGTH: u64 = 4;

type Status = CtapStatus;
type Outcome = Result<Option<Value>, Status>;

/// The attestation certificate of the simulated applet (DER), issued by the cps-rs TEST FIDO2
/// attestation root (`testvectors/fido2-attestation/`).
pub const ATTESTATION_CERT: &[u8] = include_bytes!("../../test-attestation/att.crt.der");
/// The TEST attestation root certificate (PEM), for relying parties in tests.
pub const ATTESTATION_ROOT_PEM: &str = include_str!("../../test-attestation/ca.crt.pem");
const ATTESTATION_KEY_HEX: &str = include_str!("../../test-attestation/att.key.hex");

/// Which packed attestation the applet produces (WebAuthn §8.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttestationMode {
    /// Basic: signed with the attestation key, certificate chain in `x5c`.
    Basic,
    /// Self attestation: signed with the credential key itself, no `x5c`.
    SelfAttestation,
}

/// How the simulated card answers a request for user presence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PresencePolicy {
    /// The user always confirms at once.
    Auto,
    /// The user always refuses (`CTAP2_ERR_OPERATION_DENIED`).
    Deny,
    /// The applet answers `UP_NEEDED` status updates for this many polls, then confirms.
    AfterPolls(u32),
}

#[derive(Clone)]
struct Resident {
    rp_id: String,
    rp_id_hash: [u8; 32],
    user: Value,
    id: Vec<u8>,
    key: Zeroizing<[u8; 32]>,
    cred_protect: u8,
    created: u64,
}

/// A credential found for an assertion.
#[derive(Clone)]
pub(crate) struct Found {
    id: Vec<u8>,
    key: Zeroizing<[u8; 32]>,
    cred_protect: u8,
    user: Option<Value>,
    resident: bool,
}

#[derive(Clone)]
struct TokenState {
    token: Zeroizing<[u8; 32]>,
    permissions: u64,
    rp_id: Option<String>,
    in_use: bool,
}

#[derive(Clone)]
struct NextAssertions {
    rp_id_hash: [u8; 32],
    client_data_hash: Vec<u8>,
    flags: u8,
    remaining: Vec<Found>,
}

/// The authenticator state.
#[derive(Clone)]
pub struct Authenticator {
    secret: Zeroizing<[u8; 32]>,
    pin_hash: Option<Zeroizing<[u8; 16]>>,
    retries: u8,
    consecutive_failures: u8,
    key_agreement: KeyAgreement,
    token: TokenState,
    residents: Vec<Resident>,
    counter: u32,
    next: Option<NextAssertions>,
    rp_enum: Vec<(String, [u8; 32])>,
    cred_enum: Vec<Resident>,
    creation: u64,
    attestation: AttestationMode,
    /// alwaysUv (CTAP 2.1 §7.2.2), toggled by authenticatorConfig.
    always_uv: bool,
    /// minPINLength in code points (getInfo 0x0D; 4 by default, CTAP 2.1 §6.5.1).
    min_pin_length: u64,
    /// forcePINChange (getInfo 0x0C): set by setMinPINLength, cleared by changePIN.
    force_pin_change: bool,
    /// Length of the current PIN in code points (to decide forcePINChange, §6.11.4).
    pin_code_points: u64,
}

impl Default for Authenticator {
    fn default() -> Self {
        Authenticator::new()
    }
}

fn random32() -> Zeroizing<[u8; 32]> {
    let mut b = Zeroizing::new([0u8; 32]);
    OsRng.fill_bytes(b.as_mut());
    b
}

fn int_map(entries: Vec<(i64, Value)>) -> Value {
    Value::map(entries.into_iter().map(|(k, v)| (Value::int(k), v)))
}

fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

impl Authenticator {
    /// A blank authenticator with a fresh card secret.
    pub fn new() -> Self {
        Authenticator {
            secret: random32(),
            pin_hash: None,
            retries: PIN_RETRIES,
            consecutive_failures: 0,
            key_agreement: KeyAgreement::generate(),
            token: TokenState {
                token: random32(),
                permissions: 0,
                rp_id: None,
                in_use: false,
            },
            residents: Vec::new(),
            counter: 0,
            next: None,
            rp_enum: Vec::new(),
            cred_enum: Vec::new(),
            creation: 0,
            attestation: AttestationMode::Basic,
            always_uv: false,
            min_pin_length: DEFAULT_MIN_PIN_LENGTH,
            force_pin_change: false,
            pin_code_points: 0,
        }
    }

    /// Chooses basic (default) or self attestation.
    pub fn set_attestation(&mut self, mode: AttestationMode) {
        self.attestation = mode;
    }

    fn attestation_key() -> Option<SigningKey> {
        let mut scalar = [0u8; 32];
        let hex = ATTESTATION_KEY_HEX.trim().as_bytes();
        for (i, pair) in hex.chunks(2).enumerate() {
            let s = std::str::from_utf8(pair).ok()?;
            *scalar.get_mut(i)? = u8::from_str_radix(s, 16).ok()?;
        }
        SigningKey::from_bytes(&scalar.into()).ok()
    }

    /// Power-up: new key-agreement key and token, PIN_AUTH_BLOCKED lifted, pending state gone
    /// (CTAP 2.1 §6.5.5.1 "at power-up").
    pub fn power_on(&mut self) {
        self.key_agreement = KeyAgreement::generate();
        self.token = TokenState {
            token: random32(),
            permissions: 0,
            rp_id: None,
            in_use: false,
        };
        self.consecutive_failures = 0;
        self.next = None;
        self.rp_enum.clear();
        self.cred_enum.clear();
    }

    /// Whether a PIN is set.
    pub fn has_pin(&self) -> bool {
        self.pin_hash.is_some()
    }

    /// PIN retries left.
    pub fn pin_retries(&self) -> u8 {
        self.retries
    }

    /// Number of discoverable credentials stored.
    pub fn resident_count(&self) -> usize {
        self.residents.len()
    }

    /// Whether `command` needs the user's presence before it runs (the applet polls the
    /// presence policy for these).
    pub fn needs_presence(request: &[u8]) -> bool {
        match request.first() {
            Some(&cmd::MAKE_CREDENTIAL | &cmd::RESET | &cmd::SELECTION) => true,
            Some(&cmd::GET_ASSERTION) => {
                // Unless options.up is false (a silent pre-flight).
                let up = request
                    .get(1..)
                    .and_then(|b| cbor::decode(b).ok())
                    .and_then(|v| {
                        v.get_int(5)
                            .and_then(|o| o.get_text("up"))
                            .and_then(Value::as_bool)
                    });
                up != Some(false)
            }
            _ => false,
        }
    }

    /// Handles one CTAP request (`command ‖ CBOR`); `user_present` says whether the user
    /// confirmed presence for it. Returns `status ‖ CBOR`.
    pub fn handle(&mut self, request: &[u8], user_present: bool) -> Vec<u8> {
        let (command, body) = match request.split_first() {
            Some((c, b)) => (*c, b),
            None => return vec![CtapStatus::CTAP1_ERR_INVALID_LENGTH.0],
        };
        if request.len() as u64 > MAX_MSG_SIZE {
            return vec![CtapStatus::CTAP2_ERR_REQUEST_TOO_LARGE.0];
        }
        let params = if body.is_empty() {
            None
        } else {
            match cbor::decode(body) {
                Ok(v) if v.as_map().is_some() => Some(v),
                Ok(_) => return vec![CtapStatus::CTAP2_ERR_CBOR_UNEXPECTED_TYPE.0],
                Err(_) => return vec![CtapStatus::CTAP2_ERR_INVALID_CBOR.0],
            }
        };
        if command != cmd::GET_NEXT_ASSERTION {
            self.next = None;
        }
        let empty = Value::map([]);
        let p = params.as_ref().unwrap_or(&empty);
        let outcome = match command {
            cmd::GET_INFO => Ok(Some(self.info())),
            cmd::MAKE_CREDENTIAL => self.make_credential(p, user_present),
            cmd::GET_ASSERTION => self.get_assertion(p, user_present),
            cmd::GET_NEXT_ASSERTION => self.get_next_assertion(),
            cmd::CLIENT_PIN => self.client_pin(p),
            cmd::RESET => self.reset(user_present),
            cmd::SELECTION => {
                if user_present {
                    Ok(None)
                } else {
                    Err(CtapStatus::CTAP2_ERR_OPERATION_DENIED)
                }
            }
            cmd::CREDENTIAL_MANAGEMENT | 0x41 => self.credential_management(p),
            cmd::CONFIG => self.config(p),
            _ => Err(CtapStatus::CTAP1_ERR_INVALID_COMMAND),
        };
        match outcome {
            Ok(Some(v)) => {
                let mut out = vec![0x00];
                out.extend(cbor::encode(&v));
                out
            }
            Ok(None) => vec![0x00],
            Err(s) => vec![s.0],
        }
    }

    fn info(&self) -> Value {
        let options = Value::map([
            (Value::text("rk"), Value::Bool(true)),
            (Value::text("up"), Value::Bool(true)),
            (Value::text("plat"), Value::Bool(false)),
            (Value::text("credMgmt"), Value::Bool(true)),
            (
                Value::text("clientPin"),
                Value::Bool(self.pin_hash.is_some()),
            ),
            (Value::text("pinUvAuthToken"), Value::Bool(true)),
            (
                Value::text("makeCredUvNotRqd"),
                Value::Bool(!self.always_uv),
            ),
            (Value::text("authnrCfg"), Value::Bool(true)),
            (Value::text("alwaysUv"), Value::Bool(self.always_uv)),
            (Value::text("setMinPINLength"), Value::Bool(true)),
        ]);
        // "U2F_V2" while CTAP1/U2F is offered: alwaysUv turns it off (CTAP 2.1 §7.2.2).
        let mut versions = Vec::new();
        if self.u2f_enabled() {
            versions.push(Value::text("U2F_V2"));
        }
        versions.extend([Value::text("FIDO_2_0"), Value::text("FIDO_2_1")]);
        int_map(vec![
            (1, Value::Array(versions)),
            (
                2,
                Value::Array(vec![Value::text("credProtect"), Value::text("hmac-secret")]),
            ),
            (3, Value::bytes(&AAGUID)),
            (4, options),
            (5, Value::Unsigned(MAX_MSG_SIZE)),
            (6, Value::Array(vec![Value::int(2), Value::int(1)])),
            (7, Value::int(8)),
            (8, Value::int(128)),
            (9, Value::Array(vec![Value::text("smart-card")])),
            (
                0x0A,
                Value::Array(vec![Value::map([
                    (Value::text("alg"), Value::int(-7)),
                    (Value::text("type"), Value::text("public-key")),
                ])]),
            ),
            (0x0C, Value::Bool(self.force_pin_change)),
            (0x0D, Value::Unsigned(self.min_pin_length)),
            (0x0E, Value::int(1)),
            (
                0x14,
                Value::Unsigned((MAX_RESIDENT - self.residents.len()) as u64),
            ),
        ])
    }

    // ----- PIN -------------------------------------------------------------------------

    fn protocol(p: &Value, key: i64) -> Result<PinProtocol, Status> {
        let n = p
            .get_int(key)
            .and_then(Value::as_u64)
            .ok_or(CtapStatus::CTAP2_ERR_MISSING_PARAMETER)?;
        PinProtocol::from_number(n).map_err(|_| CtapStatus::CTAP1_ERR_INVALID_PARAMETER)
    }

    fn shared(&self, p: &Value, protocol: PinProtocol) -> Result<SharedSecret, Status> {
        let peer = p
            .get_int(3)
            .ok_or(CtapStatus::CTAP2_ERR_MISSING_PARAMETER)?;
        self.key_agreement
            .shared_secret(protocol, peer)
            .map_err(|_| CtapStatus::CTAP1_ERR_INVALID_PARAMETER)
    }

    fn bytes(p: &Value, key: i64) -> Result<&[u8], Status> {
        p.get_int(key)
            .and_then(Value::as_bytes)
            .ok_or(CtapStatus::CTAP2_ERR_MISSING_PARAMETER)
    }

    /// Decrypts and checks a new PIN (64 bytes padded; at most 63 bytes, at least
    /// minPINLength code points). Returns LEFT(SHA-256(PIN), 16) and the code-point count.
    fn new_pin(
        shared: &SharedSecret,
        enc: &[u8],
        min_code_points: u64,
    ) -> Result<(Zeroizing<[u8; 16]>, u64), Status> {
        let padded = shared
            .decrypt(enc)
            .map_err(|_| CtapStatus::CTAP1_ERR_INVALID_PARAMETER)?;
        if padded.len() != 64 {
            return Err(CtapStatus::CTAP1_ERR_INVALID_PARAMETER);
        }
        let end = padded.iter().position(|&b| b == 0).unwrap_or(64);
        let pin = padded.get(..end).unwrap_or(&[]);
        let text =
            std::str::from_utf8(pin).map_err(|_| CtapStatus::CTAP2_ERR_PIN_POLICY_VIOLATION)?;
        let code_points = text.chars().count() as u64;
        if code_points < min_code_points || pin.len() > 63 {
            return Err(CtapStatus::CTAP2_ERR_PIN_POLICY_VIOLATION);
        }
        let d = Zeroizing::new(sha256(pin));
        let mut h = Zeroizing::new([0u8; 16]);
        h.copy_from_slice(d.get(..16).unwrap_or(&[0; 16]));
        Ok((h, code_points))
    }

    /// The common PIN check of changePIN and the token subcommands (§6.5.5.5 – 6.5.5.7).
    fn check_pin_hash(&mut self, shared: &SharedSecret, pin_hash_enc: &[u8]) -> Result<(), Status> {
        use subtle::ConstantTimeEq;
        let Some(stored) = self.pin_hash.clone() else {
            return Err(CtapStatus::CTAP2_ERR_PIN_NOT_SET);
        };
        if self.retries == 0 {
            return Err(CtapStatus::CTAP2_ERR_PIN_BLOCKED);
        }
        if self.consecutive_failures >= 3 {
            return Err(CtapStatus::CTAP2_ERR_PIN_AUTH_BLOCKED);
        }
        self.retries -= 1;
        let given = shared
            .decrypt(pin_hash_enc)
            .map_err(|_| CtapStatus::CTAP1_ERR_INVALID_PARAMETER)?;
        if given.len() != 16 || !bool::from(given.as_slice().ct_eq(stored.as_ref())) {
            self.key_agreement = KeyAgreement::generate();
            self.consecutive_failures += 1;
            return Err(if self.retries == 0 {
                CtapStatus::CTAP2_ERR_PIN_BLOCKED
            } else if self.consecutive_failures >= 3 {
                CtapStatus::CTAP2_ERR_PIN_AUTH_BLOCKED
            } else {
                CtapStatus::CTAP2_ERR_PIN_INVALID
            });
        }
        self.retries = PIN_RETRIES;
        self.consecutive_failures = 0;
        Ok(())
    }

    fn client_pin(&mut self, p: &Value) -> Outcome {
        let sub = p
            .get_int(2)
            .and_then(Value::as_u64)
            .ok_or(CtapStatus::CTAP2_ERR_MISSING_PARAMETER)?;
        match sub {
            // getPINRetries
            1 => Ok(Some(int_map(vec![
                (3, Value::int(i64::from(self.retries))),
                (4, Value::Bool(false)),
            ]))),
            // getKeyAgreement
            2 => {
                Self::protocol(p, 1)?;
                Ok(Some(int_map(vec![(
                    1,
                    self.key_agreement.cose_public_key(),
                )])))
            }
            // setPIN
            3 => {
                let protocol = Self::protocol(p, 1)?;
                let shared = self.shared(p, protocol)?;
                let param = Self::bytes(p, 4)?;
                let new_pin_enc = Self::bytes(p, 5)?;
                if self.pin_hash.is_some() {
                    return Err(CtapStatus::CTAP2_ERR_PIN_AUTH_INVALID);
                }
                if !shared.verify(new_pin_enc, param) {
                    return Err(CtapStatus::CTAP2_ERR_PIN_AUTH_INVALID);
                }
                let (hash, code_points) = Self::new_pin(&shared, new_pin_enc, self.min_pin_length)?;
                self.pin_hash = Some(hash);
                self.pin_code_points = code_points;
                self.retries = PIN_RETRIES;
                Ok(None)
            }
            // changePIN
            4 => {
                let protocol = Self::protocol(p, 1)?;
                let shared = self.shared(p, protocol)?;
                let param = Self::bytes(p, 4)?;
                let new_pin_enc = Self::bytes(p, 5)?;
                let pin_hash_enc = Self::bytes(p, 6)?;
                if self.pin_hash.is_none() {
                    return Err(CtapStatus::CTAP2_ERR_PIN_NOT_SET);
                }
                let mut msg = new_pin_enc.to_vec();
                msg.extend_from_slice(pin_hash_enc);
                if !shared.verify(&msg, param) {
                    return Err(CtapStatus::CTAP2_ERR_PIN_AUTH_INVALID);
                }
                self.check_pin_hash(&shared, pin_hash_enc)?;
                let (hash, code_points) = Self::new_pin(&shared, new_pin_enc, self.min_pin_length)?;
                self.pin_hash = Some(hash);
                self.pin_code_points = code_points;
                // A successful change satisfies a forced change (CTAP 2.1 §6.5.5.6).
                self.force_pin_change = false;
                self.reset_token();
                Ok(None)
            }
            // getPinToken (legacy: mc | ga) and getPinUvAuthTokenUsingPinWithPermissions.
            5 | 9 => {
                let protocol = Self::protocol(p, 1)?;
                let shared = self.shared(p, protocol)?;
                let pin_hash_enc = Self::bytes(p, 6)?;
                let (permissions, rp_id) = if sub == 9 {
                    let perms = p
                        .get_int(9)
                        .and_then(Value::as_u64)
                        .ok_or(CtapStatus::CTAP2_ERR_MISSING_PARAMETER)?;
                    if perms == 0 {
                        return Err(CtapStatus::CTAP1_ERR_INVALID_PARAMETER);
                    }
                    // Only the permissions this applet implements (no bio, no large blobs).
                    if perms & !(0x01 | 0x02 | 0x04 | 0x20) != 0 {
                        return Err(CtapStatus::CTAP2_ERR_UNAUTHORIZED_PERMISSION);
                    }
                    let rp = p.get_int(0x0A).and_then(Value::as_text).map(str::to_owned);
                    if perms & 0x03 != 0 && rp.is_none() {
                        return Err(CtapStatus::CTAP2_ERR_MISSING_PARAMETER);
                    }
                    (perms, rp)
                } else {
                    if p.get_int(9).is_some() || p.get_int(0x0A).is_some() {
                        return Err(CtapStatus::CTAP1_ERR_INVALID_PARAMETER);
                    }
                    (0x03, None)
                };
                self.check_pin_hash(&shared, pin_hash_enc)?;
                // CTAP 2.1 §6.5.5.7 (and getPinToken §6.5.5.5): no token while the PIN must
                // be changed.
                if self.force_pin_change {
                    return Err(CtapStatus::CTAP2_ERR_PIN_POLICY_VIOLATION);
                }
                self.reset_token();
                self.token.permissions = permissions;
                self.token.rp_id = rp_id;
                self.token.in_use = true;
                let enc = shared
                    .encrypt(self.token.token.as_ref())
                    .map_err(|_| CtapStatus::CTAP1_ERR_OTHER)?;
                Ok(Some(int_map(vec![(2, Value::Bytes(enc))])))
            }
            6 | 7 => Err(CtapStatus::CTAP2_ERR_INVALID_SUBCOMMAND),
            _ => Err(CtapStatus::CTAP2_ERR_INVALID_SUBCOMMAND),
        }
    }

    fn reset_token(&mut self) {
        self.token = TokenState {
            token: random32(),
            permissions: 0,
            rp_id: None,
            in_use: false,
        };
    }

    /// Verifies pinUvAuthParam for `permission` and `rp_id` (§6.5.5.7 rules); binds the
    /// token to the RP on first use.
    fn check_token(
        &mut self,
        p: &Value,
        param_key: i64,
        proto_key: i64,
        message: &[u8],
        permission: u64,
        rp_id: Option<&str>,
    ) -> Result<(), Status> {
        let protocol = Self::protocol(p, proto_key)?;
        let param = Self::bytes(p, param_key)?;
        if !self.token.in_use || !protocol.verify(self.token.token.as_ref(), message, param) {
            return Err(CtapStatus::CTAP2_ERR_PIN_AUTH_INVALID);
        }
        if self.token.permissions & permission == 0 {
            return Err(CtapStatus::CTAP2_ERR_UNAUTHORIZED_PERMISSION);
        }
        if let Some(rp) = rp_id {
            match &self.token.rp_id {
                Some(bound) if bound != rp => {
                    return Err(CtapStatus::CTAP2_ERR_UNAUTHORIZED_PERMISSION);
                }
                Some(_) => {}
                None => self.token.rp_id = Some(rp.to_owned()),
            }
        }
        Ok(())
    }

    // ----- credentials -----------------------------------------------------------------

    fn wrap(&self, rp_id_hash: &[u8; 32], key: &[u8; 32], cred_protect: u8) -> Vec<u8> {
        let cipher = Aes256Gcm::new(self.secret.as_ref().into());
        let mut nonce = [0u8; 12];
        OsRng.fill_bytes(&mut nonce);
        let mut plain = Zeroizing::new(key.to_vec());
        plain.push(cred_protect);
        let ct = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &plain,
                    aad: rp_id_hash,
                },
            )
            .unwrap_or_default();
        let mut id = vec![0x01];
        id.extend_from_slice(&nonce);
        id.extend(ct);
        id
    }

    fn unwrap_id(&self, rp_id_hash: &[u8; 32], id: &[u8]) -> Option<(Zeroizing<[u8; 32]>, u8)> {
        let (&version, rest) = id.split_first()?;
        if version != 0x01 {
            return None;
        }
        let (nonce, ct) = rest.split_first_chunk::<12>()?;
        let cipher = Aes256Gcm::new(self.secret.as_ref().into());
        let plain = Zeroizing::new(
            cipher
                .decrypt(
                    Nonce::from_slice(nonce),
                    Payload {
                        msg: ct,
                        aad: rp_id_hash,
                    },
                )
                .ok()?,
        );
        let (key, level) = plain.split_first_chunk::<32>()?;
        let mut k = Zeroizing::new([0u8; 32]);
        k.copy_from_slice(key);
        Some((k, *level.first()?))
    }

    fn find(&self, rp_id_hash: &[u8; 32], id: &[u8]) -> Option<Found> {
        if let Some(r) = self
            .residents
            .iter()
            .find(|r| r.id == id && &r.rp_id_hash == rp_id_hash)
        {
            return Some(Found {
                id: r.id.clone(),
                key: r.key.clone(),
                cred_protect: r.cred_protect,
                user: Some(r.user.clone()),
                resident: true,
            });
        }
        let (key, cred_protect) = self.unwrap_id(rp_id_hash, id)?;
        Some(Found {
            id: id.to_vec(),
            key,
            cred_protect,
            user: None,
            resident: false,
        })
    }

    fn cred_random(&self, id: &[u8], uv: bool) -> [u8; 32] {
        let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(self.secret.as_ref()) else {
            return [0; 32];
        };
        mac.update(b"hmac-secret CredRandom");
        mac.update(&[u8::from(uv)]);
        mac.update(id);
        mac.finalize().into_bytes().into()
    }

    fn next_counter(&mut self) -> u32 {
        self.counter = self.counter.saturating_add(1);
        self.counter
    }

    fn make_credential(&mut self, p: &Value, user_present: bool) -> Outcome {
        let cdh = Self::bytes(p, 1)?.to_vec();
        let rp = p
            .get_int(2)
            .ok_or(CtapStatus::CTAP2_ERR_MISSING_PARAMETER)?;
        let rp_id = rp
            .get_text("id")
            .and_then(Value::as_text)
            .ok_or(CtapStatus::CTAP2_ERR_MISSING_PARAMETER)?
            .to_owned();
        let user = p
            .get_int(3)
            .ok_or(CtapStatus::CTAP2_ERR_MISSING_PARAMETER)?
            .clone();
        let user_id = user
            .get_text("id")
            .and_then(Value::as_bytes)
            .ok_or(CtapStatus::CTAP2_ERR_MISSING_PARAMETER)?
            .to_vec();
        if user_id.len() > 64 {
            return Err(CtapStatus::CTAP1_ERR_INVALID_LENGTH);
        }
        let algs = p
            .get_int(4)
            .and_then(Value::as_array)
            .ok_or(CtapStatus::CTAP2_ERR_MISSING_PARAMETER)?;
        if !algs
            .iter()
            .any(|a| a.get_text("alg").and_then(Value::as_i64) == Some(-7))
        {
            return Err(CtapStatus::CTAP2_ERR_UNSUPPORTED_ALGORITHM);
        }
        let options = p.get_int(7);
        let opt = |name: &str| {
            options
                .and_then(|o| o.get_text(name))
                .and_then(Value::as_bool)
        };
        if opt("uv") == Some(true) {
            return Err(CtapStatus::CTAP2_ERR_UNSUPPORTED_OPTION);
        }
        if opt("up") == Some(false) {
            return Err(CtapStatus::CTAP2_ERR_INVALID_OPTION);
        }
        let rk = opt("rk") == Some(true);
        let rp_id_hash = sha256(rp_id.as_bytes());
        let uv = if p.get_int(8).is_some() {
            self.check_token(p, 8, 9, &cdh, 0x01, Some(&rp_id))?;
            true
        } else {
            self.uv_not_required()?;
            if self.pin_hash.is_some() && rk {
                return Err(CtapStatus::CTAP2_ERR_PUAT_REQUIRED);
            }
            false
        };
        if let Some(excl) = p.get_int(5).and_then(Value::as_array) {
            for d in excl {
                if let Some(id) = d.get_text("id").and_then(Value::as_bytes) {
                    if let Some(f) = self.find(&rp_id_hash, id) {
                        if f.cred_protect < 3 || uv {
                            return Err(CtapStatus::CTAP2_ERR_CREDENTIAL_EXCLUDED);
                        }
                    }
                }
            }
        }
        if !user_present {
            return Err(CtapStatus::CTAP2_ERR_OPERATION_DENIED);
        }
        let ext_in = p.get_int(6);
        let cred_protect = match ext_in.and_then(|e| e.get_text("credProtect")) {
            Some(v) => match v.as_u64() {
                Some(l @ 1..=3) => l as u8,
                _ => return Err(CtapStatus::CTAP1_ERR_INVALID_PARAMETER),
            },
            None => 1,
        };
        let hmac_secret = ext_in
            .and_then(|e| e.get_text("hmac-secret"))
            .and_then(Value::as_bool)
            == Some(true);
        if rk
            && self.residents.len() >= MAX_RESIDENT
            && !self
                .residents
                .iter()
                .any(|r| r.rp_id == rp_id && r.user.get_text("id") == user.get_text("id"))
        {
            return Err(CtapStatus::CTAP2_ERR_KEY_STORE_FULL);
        }
        let signing = SigningKey::random(&mut OsRng);
        let key = Zeroizing::new(<[u8; 32]>::from(signing.to_bytes()));
        let id = if rk {
            let id = random32().to_vec();
            // A new credential for the same RP and user replaces the old one (§6.1.2 step 16).
            self.residents
                .retain(|r| !(r.rp_id == rp_id && r.user.get_text("id") == user.get_text("id")));
            self.creation += 1;
            self.residents.push(Resident {
                rp_id: rp_id.clone(),
                rp_id_hash,
                user: user.clone(),
                id: id.clone(),
                key: key.clone(),
                cred_protect,
                created: self.creation,
            });
            id
        } else {
            self.wrap(&rp_id_hash, &key, cred_protect)
        };
        let mut ext_out = Vec::new();
        if ext_in.and_then(|e| e.get_text("credProtect")).is_some() {
            ext_out.push((
                Value::text("credProtect"),
                Value::Unsigned(u64::from(cred_protect)),
            ));
        }
        if hmac_secret {
            ext_out.push((Value::text("hmac-secret"), Value::Bool(true)));
        }
        let mut fl = flags::UP | flags::AT;
        if uv {
            fl |= flags::UV;
        }
        if !ext_out.is_empty() {
            fl |= flags::ED;
        }
        let count = self.next_counter();
        let mut auth_data = rp_id_hash.to_vec();
        auth_data.push(fl);
        auth_data.extend_from_slice(&count.to_be_bytes());
        auth_data.extend_from_slice(&AAGUID);
        auth_data.extend_from_slice(&(id.len() as u16).to_be_bytes());
        auth_data.extend_from_slice(&id);
        auth_data.extend(cbor::encode(&cose_p256(
            &signing.verifying_key().into(),
            -7,
        )));
        if !ext_out.is_empty() {
            auth_data.extend(cbor::encode(&Value::map(ext_out)));
        }
        let mut signed = auth_data.clone();
        signed.extend_from_slice(&cdh);
        let att_stmt = match (self.attestation, Self::attestation_key()) {
            (AttestationMode::Basic, Some(att_key)) => {
                let sig: DerSignature = att_key.sign(&signed);
                Value::map([
                    (Value::text("alg"), Value::int(-7)),
                    (Value::text("sig"), Value::bytes(sig.as_bytes())),
                    (
                        Value::text("x5c"),
                        Value::Array(vec![Value::bytes(ATTESTATION_CERT)]),
                    ),
                ])
            }
            _ => {
                let sig: DerSignature = signing.sign(&signed);
                Value::map([
                    (Value::text("alg"), Value::int(-7)),
                    (Value::text("sig"), Value::bytes(sig.as_bytes())),
                ])
            }
        };
        // Permissions are used up by a request that collected user presence.
        if uv {
            self.token.permissions &= 0x10;
        }
        Ok(Some(int_map(vec![
            (1, Value::text("packed")),
            (2, Value::Bytes(auth_data)),
            (3, att_stmt),
        ])))
    }

    fn assertion(
        &mut self,
        rp_id_hash: &[u8; 32],
        cdh: &[u8],
        fl: u8,
        cred: &Found,
        ext: Option<Value>,
        count_total: Option<usize>,
    ) -> Result<Value, Status> {
        let count = self.next_counter();
        let mut auth_data = rp_id_hash.to_vec();
        auth_data.push(fl | if ext.is_some() { flags::ED } else { 0 });
        auth_data.extend_from_slice(&count.to_be_bytes());
        if let Some(e) = &ext {
            auth_data.extend(cbor::encode(e));
        }
        let signing = SigningKey::from_bytes(cred.key.as_ref().into())
            .map_err(|_| CtapStatus::CTAP1_ERR_OTHER)?;
        let mut signed = auth_data.clone();
        signed.extend_from_slice(cdh);
        let sig: DerSignature = signing.sign(&signed);
        let mut out = vec![
            (1, cps_fido2::ctap::credential_descriptor(&cred.id)),
            (2, Value::Bytes(auth_data)),
            (3, Value::bytes(sig.as_bytes())),
        ];
        if let Some(user) = &cred.user {
            // Without UV only the user id is returned (§6.2.2 step 12).
            let user = if fl & flags::UV != 0 {
                user.clone()
            } else {
                Value::map([(
                    Value::text("id"),
                    user.get_text("id").cloned().unwrap_or(Value::bytes(&[])),
                )])
            };
            out.push((4, user));
        }
        if let Some(n) = count_total {
            out.push((5, Value::Unsigned(n as u64)));
        }
        Ok(int_map(out))
    }

    fn hmac_secret_output(&self, input: &Value, cred: &Found, uv: bool) -> Result<Value, Status> {
        let protocol = match input.get_int(4) {
            Some(v) => PinProtocol::from_number(v.as_u64().unwrap_or(0))
                .map_err(|_| CtapStatus::CTAP1_ERR_INVALID_PARAMETER)?,
            None => PinProtocol::V1,
        };
        let peer = input
            .get_int(1)
            .ok_or(CtapStatus::CTAP2_ERR_MISSING_PARAMETER)?;
        let shared = self
            .key_agreement
            .shared_secret(protocol, peer)
            .map_err(|_| CtapStatus::CTAP1_ERR_INVALID_PARAMETER)?;
        let salt_enc = input
            .get_int(2)
            .and_then(Value::as_bytes)
            .ok_or(CtapStatus::CTAP2_ERR_MISSING_PARAMETER)?;
        let salt_auth = input
            .get_int(3)
            .and_then(Value::as_bytes)
            .ok_or(CtapStatus::CTAP2_ERR_MISSING_PARAMETER)?;
        if !shared.verify(salt_enc, salt_auth) {
            return Err(CtapStatus::CTAP2_ERR_PIN_AUTH_INVALID);
        }
        let salts = shared
            .decrypt(salt_enc)
            .map_err(|_| CtapStatus::CTAP1_ERR_INVALID_LENGTH)?;
        if salts.len() != 32 && salts.len() != 64 {
            return Err(CtapStatus::CTAP1_ERR_INVALID_LENGTH);
        }
        let cred_random = Zeroizing::new(self.cred_random(&cred.id, uv));
        let mut out = Zeroizing::new(Vec::new());
        for salt in salts.chunks(32) {
            let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(cred_random.as_ref()) else {
                return Err(CtapStatus::CTAP1_ERR_OTHER);
            };
            mac.update(salt);
            out.extend_from_slice(&mac.finalize().into_bytes());
        }
        let enc = shared
            .encrypt(&out)
            .map_err(|_| CtapStatus::CTAP1_ERR_OTHER)?;
        Ok(Value::Bytes(enc))
    }

    fn get_assertion(&mut self, p: &Value, user_present: bool) -> Outcome {
        let rp_id = p
            .get_int(1)
            .and_then(Value::as_text)
            .ok_or(CtapStatus::CTAP2_ERR_MISSING_PARAMETER)?
            .to_owned();
        let cdh = Self::bytes(p, 2)?.to_vec();
        let options = p.get_int(5);
        let opt = |name: &str| {
            options
                .and_then(|o| o.get_text(name))
                .and_then(Value::as_bool)
        };
        if opt("uv") == Some(true) {
            return Err(CtapStatus::CTAP2_ERR_UNSUPPORTED_OPTION);
        }
        if opt("rk").is_some() {
            return Err(CtapStatus::CTAP2_ERR_UNSUPPORTED_OPTION);
        }
        let want_up = opt("up") != Some(false);
        let rp_id_hash = sha256(rp_id.as_bytes());
        let uv = if p.get_int(6).is_some() {
            self.check_token(p, 6, 7, &cdh, 0x02, Some(&rp_id))?;
            true
        } else {
            self.uv_not_required()?;
            false
        };
        let allow = p.get_int(3).and_then(Value::as_array);
        let mut found: Vec<Found> = match allow {
            Some(list) if !list.is_empty() => list
                .iter()
                .filter_map(|d| d.get_text("id").and_then(Value::as_bytes))
                .filter_map(|id| self.find(&rp_id_hash, id))
                .take(1)
                .collect(),
            _ => {
                let mut rs: Vec<&Resident> = self
                    .residents
                    .iter()
                    .filter(|r| r.rp_id_hash == rp_id_hash)
                    .collect();
                rs.sort_by_key(|r| std::cmp::Reverse(r.created));
                rs.into_iter()
                    .map(|r| Found {
                        id: r.id.clone(),
                        key: r.key.clone(),
                        cred_protect: r.cred_protect,
                        user: Some(r.user.clone()),
                        resident: true,
                    })
                    .collect()
            }
        };
        let discoverable = allow.is_none_or(<[Value]>::is_empty);
        // credProtect (§12.1): level 3 needs UV; level 2 needs UV when discovered.
        found.retain(|f| match f.cred_protect {
            3 => uv,
            2 => uv || !discoverable,
            _ => true,
        });
        if found.is_empty() {
            return Err(CtapStatus::CTAP2_ERR_NO_CREDENTIALS);
        }
        if want_up && !user_present {
            return Err(CtapStatus::CTAP2_ERR_OPERATION_DENIED);
        }
        let mut fl = 0;
        if want_up {
            fl |= flags::UP;
        }
        if uv {
            fl |= flags::UV;
        }
        let first = found.remove(0);
        let ext = match p.get_int(4).and_then(|e| e.get_text("hmac-secret")) {
            Some(input) => Some(Value::map([(
                Value::text("hmac-secret"),
                self.hmac_secret_output(input, &first, uv)?,
            )])),
            None => None,
        };
        let total = if discoverable && !found.is_empty() {
            Some(found.len() + 1)
        } else {
            None
        };
        let resp = self.assertion(&rp_id_hash, &cdh, fl, &first, ext, total)?;
        if discoverable && !found.is_empty() {
            self.next = Some(NextAssertions {
                rp_id_hash,
                client_data_hash: cdh,
                flags: fl,
                remaining: found,
            });
        }
        if uv && want_up {
            self.token.permissions &= 0x10;
        }
        let _ = first.resident;
        Ok(Some(resp))
    }

    fn get_next_assertion(&mut self) -> Outcome {
        let mut next = self.next.take().ok_or(CtapStatus::CTAP2_ERR_NOT_ALLOWED)?;
        if next.remaining.is_empty() {
            return Err(CtapStatus::CTAP2_ERR_NOT_ALLOWED);
        }
        let cred = next.remaining.remove(0);
        let resp = self.assertion(
            &next.rp_id_hash,
            &next.client_data_hash.clone(),
            next.flags,
            &cred,
            None,
            None,
        )?;
        if !next.remaining.is_empty() {
            self.next = Some(next);
        }
        Ok(Some(resp))
    }

    fn reset(&mut self, user_present: bool) -> Outcome {
        if !user_present {
            return Err(CtapStatus::CTAP2_ERR_OPERATION_DENIED);
        }
        let counter = self.counter;
        let attestation = self.attestation;
        *self = Authenticator::new();
        self.attestation = attestation;
        // Keep the signature counter monotonic across resets: relying parties reject a
        // counter that goes backwards.
        self.counter = counter;
        Ok(None)
    }

    /// Whether CTAP1/U2F is offered: not while alwaysUv is on (U2F has no user verification;
    /// CTAP 2.1 §7.2.2 alwaysUv).
    pub fn u2f_enabled(&self) -> bool {
        !self.always_uv
    }

    /// Whether alwaysUv is on.
    pub fn always_uv(&self) -> bool {
        self.always_uv
    }

    /// minPINLength in code points.
    pub fn min_pin_length(&self) -> u64 {
        self.min_pin_length
    }

    /// A request without pinUvAuthParam while alwaysUv is on (CTAP 2.1 §6.1.2 / §6.2.2, the
    /// alwaysUv steps): PUAT_REQUIRED when a PIN is set, PIN_NOT_SET otherwise (this applet's
    /// only user verification is the PIN).
    fn uv_not_required(&self) -> Result<(), Status> {
        if !self.always_uv {
            Ok(())
        } else if self.pin_hash.is_some() {
            Err(CtapStatus::CTAP2_ERR_PUAT_REQUIRED)
        } else {
            Err(CtapStatus::CTAP2_ERR_PIN_NOT_SET)
        }
    }

    // ----- authenticatorConfig (§6.11) --------------------------------------------------

    /// authenticatorConfig: `{1: subCommand, 2: subCommandParams, 3: pinUvAuthProtocol,
    /// 4: pinUvAuthParam}`. Implemented: toggleAlwaysUv (02) and setMinPINLength (03);
    /// enableEnterpriseAttestation (01) is not (getInfo has no `ep`).
    fn config(&mut self, p: &Value) -> Outcome {
        let sub = p
            .get_int(1)
            .and_then(Value::as_u64)
            .ok_or(CtapStatus::CTAP2_ERR_MISSING_PARAMETER)?;
        let params = p.get_int(2);
        // §6.11.1: with a PIN set (or alwaysUv on), the request carries a pinUvAuthParam over
        // 32×FF ‖ 0D ‖ subCommand ‖ subCommandParams, from a token with the acfg permission.
        // (toggleAlwaysUv stays reachable without a PIN, or alwaysUv could never be undone.)
        if self.pin_hash.is_some() || (self.always_uv && sub != 0x02) {
            if p.get_int(4).is_none() {
                return Err(CtapStatus::CTAP2_ERR_PUAT_REQUIRED);
            }
            let mut msg = vec![0xFF; 32];
            msg.push(cmd::CONFIG);
            msg.push(u8::try_from(sub).map_err(|_| CtapStatus::CTAP2_ERR_INVALID_SUBCOMMAND)?);
            if let Some(sp) = params {
                msg.extend(cbor::encode(sp));
            }
            self.check_token(p, 4, 3, &msg, 0x20, None)?;
        }
        match sub {
            // toggleAlwaysUv (§6.11.3).
            0x02 => {
                self.always_uv = !self.always_uv;
                Ok(None)
            }
            // setMinPINLength (§6.11.4).
            0x03 => {
                let sp = params;
                let new_min = match sp.and_then(|m| m.get_int(1)) {
                    Some(v) => v
                        .as_u64()
                        .ok_or(CtapStatus::CTAP2_ERR_CBOR_UNEXPECTED_TYPE)?,
                    None => self.min_pin_length,
                };
                // The minimum only grows (until authenticatorReset).
                if new_min < self.min_pin_length || new_min > 63 {
                    return Err(CtapStatus::CTAP2_ERR_PIN_POLICY_VIOLATION);
                }
                // No minPinLength extension here (getInfo has no maxRPIDsForSetMinPINLength):
                // an RP list is refused (our choice of status).
                if sp
                    .and_then(|m| m.get_int(2))
                    .and_then(Value::as_array)
                    .is_some_and(|a| !a.is_empty())
                {
                    return Err(CtapStatus::CTAP1_ERR_INVALID_PARAMETER);
                }
                let mut force = match sp.and_then(|m| m.get_int(3)) {
                    Some(v) => v
                        .as_bool()
                        .ok_or(CtapStatus::CTAP2_ERR_CBOR_UNEXPECTED_TYPE)?,
                    None => false,
                };
                if force && self.pin_hash.is_none() {
                    return Err(CtapStatus::CTAP2_ERR_PIN_NOT_SET);
                }
                // A current PIN shorter than the new minimum must be changed.
                if self.pin_hash.is_some() && self.pin_code_points < new_min {
                    force = true;
                }
                if force {
                    self.force_pin_change = true;
                }
                self.min_pin_length = new_min;
                Ok(None)
            }
            _ => Err(CtapStatus::CTAP2_ERR_INVALID_SUBCOMMAND),
        }
    }

    // ----- credential management (§6.8) -------------------------------------------------

    fn credential_management(&mut self, p: &Value) -> Outcome {
        let sub = p
            .get_int(1)
            .and_then(Value::as_u64)
            .ok_or(CtapStatus::CTAP2_ERR_MISSING_PARAMETER)?;
        let params = p.get_int(2);
        // The "next" subcommands continue an enumeration without a new pinUvAuthParam.
        if sub != 3 && sub != 5 {
            let mut msg = vec![sub as u8];
            if let Some(sp) = params {
                msg.extend(cbor::encode(sp));
            }
            self.check_token(p, 4, 3, &msg, 0x04, None)?;
        }
        match sub {
            1 => Ok(Some(int_map(vec![
                (1, Value::Unsigned(self.residents.len() as u64)),
                (
                    2,
                    Value::Unsigned((MAX_RESIDENT - self.residents.len()) as u64),
                ),
            ]))),
            2 => {
                let mut rps: Vec<(String, [u8; 32])> = Vec::new();
                for r in &self.residents {
                    if !rps.iter().any(|(id, _)| *id == r.rp_id) {
                        rps.push((r.rp_id.clone(), r.rp_id_hash));
                    }
                }
                if rps.is_empty() {
                    return Err(CtapStatus::CTAP2_ERR_NO_CREDENTIALS);
                }
                let total = rps.len();
                self.rp_enum = rps;
                let (id, hash) = self.rp_enum.remove(0);
                Ok(Some(int_map(vec![
                    (3, Value::map([(Value::text("id"), Value::text(&id))])),
                    (4, Value::bytes(&hash)),
                    (5, Value::Unsigned(total as u64)),
                ])))
            }
            3 => {
                if self.rp_enum.is_empty() {
                    return Err(CtapStatus::CTAP2_ERR_NOT_ALLOWED);
                }
                let (id, hash) = self.rp_enum.remove(0);
                Ok(Some(int_map(vec![
                    (3, Value::map([(Value::text("id"), Value::text(&id))])),
                    (4, Value::bytes(&hash)),
                ])))
            }
            4 => {
                let hash = params
                    .and_then(|sp| sp.get_int(1))
                    .and_then(Value::as_bytes)
                    .ok_or(CtapStatus::CTAP2_ERR_MISSING_PARAMETER)?;
                let creds: Vec<Resident> = self
                    .residents
                    .iter()
                    .filter(|r| r.rp_id_hash == hash)
                    .cloned()
                    .collect();
                if creds.is_empty() {
                    return Err(CtapStatus::CTAP2_ERR_NO_CREDENTIALS);
                }
                let total = creds.len();
                self.cred_enum = creds;
                let first = self.cred_enum.remove(0);
                Ok(Some(Self::describe(&first, Some(total))))
            }
            5 => {
                if self.cred_enum.is_empty() {
                    return Err(CtapStatus::CTAP2_ERR_NOT_ALLOWED);
                }
                let c = self.cred_enum.remove(0);
                Ok(Some(Self::describe(&c, None)))
            }
            6 | 7 => {
                let id = params
                    .and_then(|sp| sp.get_int(2))
                    .and_then(|d| d.get_text("id"))
                    .and_then(Value::as_bytes)
                    .ok_or(CtapStatus::CTAP2_ERR_MISSING_PARAMETER)?
                    .to_vec();
                let pos = self
                    .residents
                    .iter()
                    .position(|r| r.id == id)
                    .ok_or(CtapStatus::CTAP2_ERR_NO_CREDENTIALS)?;
                if sub == 6 {
                    self.residents.remove(pos);
                } else {
                    let user = params
                        .and_then(|sp| sp.get_int(3))
                        .ok_or(CtapStatus::CTAP2_ERR_MISSING_PARAMETER)?;
                    let r = self
                        .residents
                        .get_mut(pos)
                        .ok_or(CtapStatus::CTAP2_ERR_NO_CREDENTIALS)?;
                    if user.get_text("id") != r.user.get_text("id") {
                        return Err(CtapStatus::CTAP1_ERR_INVALID_PARAMETER);
                    }
                    r.user = user.clone();
                }
                Ok(None)
            }
            _ => Err(CtapStatus::CTAP2_ERR_INVALID_SUBCOMMAND),
        }
    }

    fn describe(r: &Resident, total: Option<usize>) -> Value {
        let public = SigningKey::from_bytes(r.key.as_ref().into())
            .map(|k| cose_p256(&k.verifying_key().into(), -7))
            .unwrap_or_else(|_| Value::map([]));
        let mut out = vec![
            (6, r.user.clone()),
            (7, cps_fido2::ctap::credential_descriptor(&r.id)),
            (8, public),
            (10, Value::Unsigned(u64::from(r.cred_protect))),
        ];
        if let Some(t) = total {
            out.push((9, Value::Unsigned(t as u64)));
        }
        int_map(out)
    }
}
