//! The API an editor calls without knowing CTAP: enroll the blank applet, register and
//! authenticate, list and delete credentials, change the PIN.
//!
//! Every PIN-protected step fetches a fresh pinUvAuthToken with the permissions it needs
//! (CTAP 2.1 §6.5.5.7), so nothing secret is cached between calls. The library never retries
//! a PIN by itself: a wrong PIN is returned as `CTAP2_ERR_PIN_INVALID` with the tries left
//! available from [`Fido2::retries`].

use std::time::Instant;

use cps_apdu::StatusWord;
use cps_transport::CardChannel;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::cbor::Value;
use crate::ctap::{self, AssertionResponse, CtapStatus, Info, MakeCredentialResponse, cmd};
use crate::pin::{KeyAgreement, PinProtocol, SharedSecret, padded_pin, pin_hash};
use crate::transport::{CtapCard, Fido2Error};
use crate::u2f::{self, U2f, U2fError, control};

/// pinUvAuthToken permissions (CTAP 2.1 §6.5.5.7).
pub mod permissions {
    /// makeCredential.
    pub const MAKE_CREDENTIAL: u64 = 0x01;
    /// getAssertion.
    pub const GET_ASSERTION: u64 = 0x02;
    /// credentialManagement.
    pub const CREDENTIAL_MANAGEMENT: u64 = 0x04;
    /// authenticatorConfig.
    pub const AUTHENTICATOR_CONFIG: u64 = 0x20;
}

/// What to register.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// Relying-party identifier (a domain, e.g. `"hopital.example"`).
    pub rp_id: String,
    /// Relying-party display name.
    pub rp_name: String,
    /// User handle (opaque, ≤ 64 bytes).
    pub user_id: Vec<u8>,
    /// User name.
    pub user_name: String,
    /// User display name.
    pub user_display_name: String,
    /// SHA-256 of the WebAuthn clientDataJSON.
    pub client_data_hash: [u8; 32],
    /// Store the credential on the card (discoverable credential).
    pub resident_key: bool,
    /// credProtect level 1..=3, if requested.
    pub cred_protect: Option<u8>,
    /// Ask for the hmac-secret extension.
    pub hmac_secret: bool,
    /// Credential IDs that must not be registered twice.
    pub exclude: Vec<Vec<u8>>,
}

/// A credential stored on the card, as credentialManagement lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCredential {
    /// Relying-party identifier.
    pub rp_id: String,
    /// User handle.
    pub user_id: Vec<u8>,
    /// User name, when stored.
    pub user_name: Option<String>,
    /// Credential ID.
    pub credential_id: Vec<u8>,
    /// credProtect level, when reported.
    pub cred_protect: Option<u64>,
}

/// A pinUvAuthToken and the protocol it belongs to.
pub struct PinToken {
    protocol: PinProtocol,
    token: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for PinToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PinToken")
            .field("protocol", &self.protocol)
            .finish_non_exhaustive()
    }
}

impl PinToken {
    /// pinUvAuthParam over `message`.
    pub fn authenticate(&self, message: &[u8]) -> Vec<u8> {
        self.protocol.authenticate(&self.token, message)
    }

    /// The protocol number.
    pub fn protocol(&self) -> PinProtocol {
        self.protocol
    }
}

/// The FIDO2 applet of a card, opened and described.
pub struct Fido2<C: CardChannel> {
    card: CtapCard<C>,
    info: Info,
    u2f_only: bool,
}

/// Whether a refusal of getInfo means "no CTAP2 here": an ISO status word for an unknown
/// instruction or class or bad parameters, or CTAP1_ERR_INVALID_COMMAND.
fn ctap2_refused(e: &Fido2Error) -> bool {
    match e {
        Fido2Error::Status { sw, .. } => matches!(
            *sw,
            StatusWord::INS_NOT_SUPPORTED
                | StatusWord::CLA_NOT_SUPPORTED
                | StatusWord::INCORRECT_P1P2
                | StatusWord::WRONG_DATA
                | StatusWord::CONDITIONS_NOT_SATISFIED
        ),
        Fido2Error::Ctap { status, .. } => *status == CtapStatus::CTAP1_ERR_INVALID_COMMAND,
        _ => false,
    }
}

const U2F_ONLY_WHY: &str =
    "the applet speaks CTAP1/U2F only (no PIN, no discoverable credentials, no extensions)";

impl<C: CardChannel> Fido2<C> {
    /// Selects the applet and reads getInfo (2 exchanges on a short-APDU card with a small
    /// getInfo; more through `61xx` when it is long).
    ///
    /// An applet that refuses getInfo but speaks U2F (SELECT answered `"U2F_V2"`, or VERSION
    /// does) is opened in U2F-only mode ([`Fido2::is_u2f_only`]): [`Fido2::register`] and
    /// [`Fido2::authenticate`] then go through CTAP1/U2F (CTAP 2.1 §10).
    pub fn open(channel: C) -> Result<Self, Fido2Error> {
        let mut card = CtapCard::select(channel)?;
        match card.get_info() {
            Ok(info) => Ok(Fido2 {
                card,
                info,
                u2f_only: false,
            }),
            Err(e) if ctap2_refused(&e) => {
                let u2f = card.select_answer() == b"U2F_V2"
                    || U2f::new(&mut card).version().is_ok_and(|v| v == "U2F_V2");
                if !u2f {
                    return Err(e);
                }
                // What getInfo would say of a U2F-only authenticator.
                let info = Info {
                    versions: vec!["U2F_V2".into()],
                    algorithms: vec![-7],
                    ..Info::default()
                };
                Ok(Fido2 {
                    card,
                    info,
                    u2f_only: true,
                })
            }
            Err(e) => Err(e),
        }
    }

    /// Whether the applet speaks CTAP1/U2F only.
    pub fn is_u2f_only(&self) -> bool {
        self.u2f_only
    }

    /// The U2F commands of the applet (a CTAP2 applet that lists `"U2F_V2"` answers them
    /// too).
    pub fn u2f(&mut self) -> U2f<'_, C> {
        U2f::new(&mut self.card)
    }

    /// Reads getInfo again (after authenticatorConfig, a PIN change...).
    pub fn refresh_info(&mut self) -> Result<&Info, Fido2Error> {
        if !self.u2f_only {
            self.info = self.card.get_info()?;
        }
        Ok(&self.info)
    }

    fn ctap2_only(&self, what: &'static str) -> Result<(), Fido2Error> {
        if self.u2f_only {
            Err(Fido2Error::Unsupported {
                what,
                why: U2F_ONLY_WHY,
            })
        } else {
            Ok(())
        }
    }

    /// What the applet declared in getInfo.
    pub fn info(&self) -> &Info {
        &self.info
    }

    /// The transport, e.g. to count round trips.
    pub fn card(&mut self) -> &mut CtapCard<C> {
        &mut self.card
    }

    /// Whether a PIN is set (getInfo option `clientPin` is true). A blank applet is not enrolled.
    pub fn is_enrolled(&self) -> bool {
        self.info.option("clientPin") == Some(true)
    }

    /// The PIN/UV auth protocol used: 2 when the applet lists it, else 1.
    pub fn protocol(&self) -> PinProtocol {
        if self.info.pin_uv_auth_protocols.contains(&2) {
            PinProtocol::V2
        } else {
            PinProtocol::V1
        }
    }

    /// Uses a given protocol for the next PIN operations (tests of both protocols).
    pub fn force_protocol(&mut self, protocol: PinProtocol) {
        self.info.pin_uv_auth_protocols = vec![protocol.number()];
    }

    fn pin_call(&mut self, params: Vec<(i64, Value)>) -> Result<Value, Fido2Error> {
        self.ctap2_only("use a PIN")?;
        let v = Value::map(params.into_iter().map(|(k, v)| (Value::int(k), v)));
        self.card.call(cmd::CLIENT_PIN, Some(&v))
    }

    fn key_agreement(&mut self) -> Result<(KeyAgreement, SharedSecret), Fido2Error> {
        let protocol = self.protocol();
        let r = self.pin_call(vec![
            (1, Value::Unsigned(protocol.number())),
            (2, Value::int(2)),
        ])?;
        let peer = r.get_int(1).ok_or(Fido2Error::Message {
            command: "authenticatorClientPIN(getKeyAgreement)",
            source: ctap::MessageError::Member {
                member: "keyAgreement (0x01)",
            },
        })?;
        let mine = KeyAgreement::generate();
        let shared = mine.shared_secret(protocol, peer)?;
        Ok((mine, shared))
    }

    /// PIN tries left (8 on a fresh applet), without spending one.
    pub fn retries(&mut self) -> Result<u64, Fido2Error> {
        let r = self.pin_call(vec![
            (1, Value::Unsigned(self.protocol().number())),
            (2, Value::int(1)),
        ])?;
        r.get_int(3)
            .and_then(Value::as_u64)
            .ok_or(Fido2Error::Message {
                command: "authenticatorClientPIN(getPINRetries)",
                source: ctap::MessageError::Member {
                    member: "pinRetries (0x03)",
                },
            })
    }

    /// Sets the first PIN of a blank applet.
    pub fn enroll(&mut self, pin: &str) -> Result<(), Fido2Error> {
        if self.is_enrolled() {
            return Err(Fido2Error::Usage(
                "the FIDO2 applet already has a PIN: use change_pin, or reset the applet".into(),
            ));
        }
        let padded = padded_pin(pin)?;
        let (mine, shared) = self.key_agreement()?;
        let new_pin_enc = shared.encrypt(&padded)?;
        let param = shared.authenticate(&new_pin_enc);
        self.pin_call(vec![
            (1, Value::Unsigned(self.protocol().number())),
            (2, Value::int(3)),
            (3, mine.cose_public_key()),
            (4, Value::Bytes(param)),
            (5, Value::Bytes(new_pin_enc)),
        ])?;
        self.info.options.retain(|(k, _)| k != "clientPin");
        self.info.options.push(("clientPin".into(), true));
        Ok(())
    }

    /// Changes the PIN.
    pub fn change_pin(&mut self, old: &str, new: &str) -> Result<(), Fido2Error> {
        let padded = padded_pin(new)?;
        let (mine, shared) = self.key_agreement()?;
        let new_pin_enc = shared.encrypt(&padded)?;
        let pin_hash_enc = shared.encrypt(pin_hash(old).as_ref())?;
        let mut msg = new_pin_enc.clone();
        msg.extend_from_slice(&pin_hash_enc);
        let param = shared.authenticate(&msg);
        self.pin_call(vec![
            (1, Value::Unsigned(self.protocol().number())),
            (2, Value::int(4)),
            (3, mine.cose_public_key()),
            (4, Value::Bytes(param)),
            (5, Value::Bytes(new_pin_enc)),
            (6, Value::Bytes(pin_hash_enc)),
        ])?;
        Ok(())
    }

    /// Gets a pinUvAuthToken with `permissions` (subcommand 09 when the applet supports
    /// permissions, else the legacy getPinToken 05).
    pub fn pin_token(
        &mut self,
        pin: &str,
        permissions: u64,
        rp_id: Option<&str>,
    ) -> Result<PinToken, Fido2Error> {
        let protocol = self.protocol();
        let (mine, shared) = self.key_agreement()?;
        let pin_hash_enc = shared.encrypt(pin_hash(pin).as_ref())?;
        let mut params = vec![
            (1, Value::Unsigned(protocol.number())),
            (3, mine.cose_public_key()),
            (6, Value::Bytes(pin_hash_enc)),
        ];
        if self.info.option("pinUvAuthToken") == Some(true) {
            params.push((2, Value::int(9)));
            params.push((9, Value::Unsigned(permissions)));
            if let Some(rp) = rp_id {
                params.push((0x0A, Value::text(rp)));
            }
        } else {
            params.push((2, Value::int(5)));
        }
        let r = self.pin_call(params)?;
        let enc = r
            .get_int(2)
            .and_then(Value::as_bytes)
            .ok_or(Fido2Error::Message {
                command: "authenticatorClientPIN(getPinUvAuthToken)",
                source: ctap::MessageError::Member {
                    member: "pinUvAuthToken (0x02)",
                },
            })?;
        let token = shared.decrypt(enc)?;
        Ok(PinToken {
            protocol,
            token: Zeroizing::new(token.to_vec()),
        })
    }

    /// Registers a credential (authenticatorMakeCredential with ES256). With a PIN, the
    /// credential is user-verified.
    pub fn register(
        &mut self,
        reg: &Registration,
        pin: Option<&str>,
    ) -> Result<MakeCredentialResponse, Fido2Error> {
        if self.u2f_only {
            return self.register_u2f(reg, pin);
        }
        let token = match pin {
            Some(p) => Some(self.pin_token(p, permissions::MAKE_CREDENTIAL, Some(&reg.rp_id))?),
            None => None,
        };
        let mut params = vec![
            (1, Value::bytes(&reg.client_data_hash)),
            (
                2,
                Value::map([
                    (Value::text("id"), Value::text(&reg.rp_id)),
                    (Value::text("name"), Value::text(&reg.rp_name)),
                ]),
            ),
            (
                3,
                Value::map([
                    (Value::text("id"), Value::bytes(&reg.user_id)),
                    (Value::text("name"), Value::text(&reg.user_name)),
                    (
                        Value::text("displayName"),
                        Value::text(&reg.user_display_name),
                    ),
                ]),
            ),
            (
                4,
                Value::Array(vec![Value::map([
                    (Value::text("alg"), Value::int(-7)),
                    (Value::text("type"), Value::text("public-key")),
                ])]),
            ),
        ];
        if !reg.exclude.is_empty() {
            params.push((
                5,
                Value::Array(
                    reg.exclude
                        .iter()
                        .map(|id| ctap::credential_descriptor(id))
                        .collect(),
                ),
            ));
        }
        let mut ext = Vec::new();
        if let Some(level) = reg.cred_protect {
            ext.push((
                Value::text("credProtect"),
                Value::Unsigned(u64::from(level)),
            ));
        }
        if reg.hmac_secret {
            ext.push((Value::text("hmac-secret"), Value::Bool(true)));
        }
        if !ext.is_empty() {
            params.push((6, Value::map(ext)));
        }
        if reg.resident_key {
            params.push((7, Value::map([(Value::text("rk"), Value::Bool(true))])));
        }
        if let Some(t) = &token {
            params.push((8, Value::Bytes(t.authenticate(&reg.client_data_hash))));
            params.push((9, Value::Unsigned(t.protocol().number())));
        }
        let v = self.card.call(
            cmd::MAKE_CREDENTIAL,
            Some(&Value::map(
                params.into_iter().map(|(k, v)| (Value::int(k), v)),
            )),
        )?;
        MakeCredentialResponse::from_cbor(&v).map_err(|source| Fido2Error::Message {
            command: "authenticatorMakeCredential",
            source,
        })
    }

    /// Gets assertions for `rp_id` (all of them: the first plus getNextAssertion for
    /// discoverable credentials when `allow` is empty).
    pub fn authenticate(
        &mut self,
        rp_id: &str,
        client_data_hash: &[u8; 32],
        allow: &[Vec<u8>],
        pin: Option<&str>,
    ) -> Result<Vec<AssertionResponse>, Fido2Error> {
        if self.u2f_only {
            return self.authenticate_u2f(rp_id, client_data_hash, allow, pin);
        }
        let token = match pin {
            Some(p) => Some(self.pin_token(p, permissions::GET_ASSERTION, Some(rp_id))?),
            None => None,
        };
        let mut params = vec![(1, Value::text(rp_id)), (2, Value::bytes(client_data_hash))];
        if !allow.is_empty() {
            params.push((
                3,
                Value::Array(
                    allow
                        .iter()
                        .map(|id| ctap::credential_descriptor(id))
                        .collect(),
                ),
            ));
        }
        if let Some(t) = &token {
            params.push((6, Value::Bytes(t.authenticate(client_data_hash))));
            params.push((7, Value::Unsigned(t.protocol().number())));
        }
        let v = self.card.call(
            cmd::GET_ASSERTION,
            Some(&Value::map(
                params.into_iter().map(|(k, v)| (Value::int(k), v)),
            )),
        )?;
        let parse = |v: &Value| {
            AssertionResponse::from_cbor(v).map_err(|source| Fido2Error::Message {
                command: "authenticatorGetAssertion",
                source,
            })
        };
        let first = parse(&v)?;
        let more = first
            .number_of_credentials
            .unwrap_or(1)
            .saturating_sub(1)
            .min(255);
        let mut all = vec![first];
        for _ in 0..more {
            let v = self.card.call(cmd::GET_NEXT_ASSERTION, None)?;
            all.push(parse(&v)?);
        }
        Ok(all)
    }

    /// The hmac-secret extension (CTAP 2.1 §12.5): derives a 32-byte secret bound to the
    /// credential and `salt` (e.g. a disk-encryption key), with one getAssertion.
    pub fn hmac_secret(
        &mut self,
        rp_id: &str,
        credential_id: &[u8],
        salt: &[u8; 32],
        pin: Option<&str>,
    ) -> Result<Zeroizing<Vec<u8>>, Fido2Error> {
        self.ctap2_only("derive an hmac-secret")?;
        let token = match pin {
            Some(p) => Some(self.pin_token(p, permissions::GET_ASSERTION, Some(rp_id))?),
            None => None,
        };
        let protocol = self.protocol();
        let (mine, shared) = self.key_agreement()?;
        let salt_enc = shared.encrypt(salt)?;
        let ext = Value::map([(
            Value::text("hmac-secret"),
            Value::map([
                (Value::int(1), mine.cose_public_key()),
                (Value::int(2), Value::Bytes(salt_enc.clone())),
                (Value::int(3), Value::Bytes(shared.authenticate(&salt_enc))),
                (Value::int(4), Value::Unsigned(protocol.number())),
            ]),
        )]);
        let cdh = [0u8; 32];
        let mut params = vec![
            (1, Value::text(rp_id)),
            (2, Value::bytes(&cdh)),
            (
                3,
                Value::Array(vec![ctap::credential_descriptor(credential_id)]),
            ),
            (4, ext),
        ];
        if let Some(t) = &token {
            params.push((6, Value::Bytes(t.authenticate(&cdh))));
            params.push((7, Value::Unsigned(t.protocol().number())));
        }
        let v = self.card.call(
            cmd::GET_ASSERTION,
            Some(&Value::map(
                params.into_iter().map(|(k, v)| (Value::int(k), v)),
            )),
        )?;
        let a = AssertionResponse::from_cbor(&v).map_err(|source| Fido2Error::Message {
            command: "authenticatorGetAssertion",
            source,
        })?;
        let enc = a
            .auth_data
            .extensions
            .as_ref()
            .and_then(|e| e.get_text("hmac-secret"))
            .and_then(Value::as_bytes)
            .ok_or(Fido2Error::Message {
                command: "authenticatorGetAssertion",
                source: ctap::MessageError::Member {
                    member: "hmac-secret extension output",
                },
            })?;
        Ok(Zeroizing::new(shared.decrypt(enc)?.to_vec()))
    }

    fn cred_mgmt(
        &mut self,
        token: &PinToken,
        sub: u64,
        params: Option<Value>,
    ) -> Result<Value, Fido2Error> {
        self.ctap2_only("manage discoverable credentials")?;
        let mut msg = vec![sub as u8];
        if let Some(p) = &params {
            msg.extend(crate::cbor::encode(p));
        }
        let mut req = vec![(1, Value::Unsigned(sub))];
        if let Some(p) = params {
            req.push((2, p));
        }
        req.push((3, Value::Unsigned(token.protocol().number())));
        req.push((4, Value::Bytes(token.authenticate(&msg))));
        self.card.call(
            cmd::CREDENTIAL_MANAGEMENT,
            Some(&Value::map(
                req.into_iter().map(|(k, v)| (Value::int(k), v)),
            )),
        )
    }

    /// Lists the discoverable credentials (credentialManagement, CTAP 2.1 §6.8).
    pub fn credentials(&mut self, pin: &str) -> Result<Vec<StoredCredential>, Fido2Error> {
        let token = self.pin_token(pin, permissions::CREDENTIAL_MANAGEMENT, None)?;
        let mut out = Vec::new();
        // enumerateRPsBegin (02); NO_CREDENTIALS means an empty store.
        let first = match self.cred_mgmt(&token, 2, None) {
            Ok(v) => v,
            Err(Fido2Error::Ctap { status, .. })
                if status == CtapStatus::CTAP2_ERR_NO_CREDENTIALS =>
            {
                return Ok(out);
            }
            Err(e) => return Err(e),
        };
        let total = first
            .get_int(5)
            .and_then(Value::as_u64)
            .unwrap_or(1)
            .min(1024);
        let mut rps = vec![first];
        for _ in 1..total {
            rps.push(self.cred_mgmt(&token, 3, None)?);
        }
        for rp in rps {
            let rp_id = rp
                .get_int(3)
                .and_then(|r| r.get_text("id"))
                .and_then(Value::as_text)
                .unwrap_or_default()
                .to_owned();
            let Some(hash) = rp.get_int(4).and_then(Value::as_bytes).map(<[u8]>::to_vec) else {
                continue;
            };
            let sub = Value::map([(Value::int(1), Value::Bytes(hash))]);
            let first = self.cred_mgmt(&token, 4, Some(sub))?;
            let total = first
                .get_int(9)
                .and_then(Value::as_u64)
                .unwrap_or(1)
                .min(1024);
            let mut creds = vec![first];
            for _ in 1..total {
                creds.push(self.cred_mgmt(&token, 5, None)?);
            }
            for c in creds {
                let user = c.get_int(6);
                out.push(StoredCredential {
                    rp_id: rp_id.clone(),
                    user_id: user
                        .and_then(|u| u.get_text("id"))
                        .and_then(Value::as_bytes)
                        .unwrap_or_default()
                        .to_vec(),
                    user_name: user
                        .and_then(|u| u.get_text("name"))
                        .and_then(Value::as_text)
                        .map(str::to_owned),
                    credential_id: c
                        .get_int(7)
                        .and_then(|d| d.get_text("id"))
                        .and_then(Value::as_bytes)
                        .unwrap_or_default()
                        .to_vec(),
                    cred_protect: c.get_int(10).and_then(Value::as_u64),
                });
            }
        }
        Ok(out)
    }

    /// Deletes a discoverable credential.
    pub fn delete(&mut self, pin: &str, credential_id: &[u8]) -> Result<(), Fido2Error> {
        let token = self.pin_token(pin, permissions::CREDENTIAL_MANAGEMENT, None)?;
        let sub = Value::map([(Value::int(2), ctap::credential_descriptor(credential_id))]);
        self.cred_mgmt(&token, 6, Some(sub))?;
        Ok(())
    }

    /// Replaces the user entity (name, display name) of a discoverable credential
    /// (credentialManagement updateUserInformation, CTAP 2.1 §6.8.6). The user id must not
    /// change.
    pub fn update_user(
        &mut self,
        pin: &str,
        credential_id: &[u8],
        user_id: &[u8],
        name: &str,
        display_name: &str,
    ) -> Result<(), Fido2Error> {
        let token = self.pin_token(pin, permissions::CREDENTIAL_MANAGEMENT, None)?;
        let user = Value::map([
            (Value::text("id"), Value::bytes(user_id)),
            (Value::text("name"), Value::text(name)),
            (Value::text("displayName"), Value::text(display_name)),
        ]);
        let sub = Value::map([
            (Value::int(2), ctap::credential_descriptor(credential_id)),
            (Value::int(3), user),
        ]);
        self.cred_mgmt(&token, 7, Some(sub))?;
        Ok(())
    }

    /// authenticatorSelection: asks the user to confirm this card (CTAP 2.1 §6.9).
    pub fn selection(&mut self) -> Result<(), Fido2Error> {
        self.ctap2_only("run authenticatorSelection")?;
        self.card.call(cmd::SELECTION, None)?;
        Ok(())
    }

    /// Erases every credential and the PIN (authenticatorReset; the applet may require it to
    /// follow a power-up closely).
    pub fn reset(&mut self) -> Result<(), Fido2Error> {
        self.ctap2_only("reset the applet")?;
        self.card.call(cmd::RESET, None)?;
        self.info.options.retain(|(k, _)| k != "clientPin");
        self.info.options.push(("clientPin".into(), false));
        Ok(())
    }
    // ----- CTAP1/U2F fallback (CTAP 2.1 §10) ----------------------------------------------

    /// Repeats a U2F request while the card answers `6985` (user presence not yet given),
    /// as U2F clients do, within the poll policy's timeout.
    fn u2f_with_presence<T>(
        &mut self,
        mut request: impl FnMut(&mut U2f<'_, C>) -> Result<T, Fido2Error>,
    ) -> Result<T, Fido2Error> {
        let poll = self.card.poll_policy();
        let started = Instant::now();
        loop {
            match request(&mut U2f::new(&mut self.card)) {
                Err(Fido2Error::U2f(U2fError::UserPresenceRequired { .. })) => {
                    if started.elapsed() >= poll.timeout {
                        return Err(Fido2Error::Timeout(poll.timeout));
                    }
                    std::thread::sleep(poll.interval);
                }
                other => return other,
            }
        }
    }

    /// Whether a U2F check-only request recognises `key_handle` for `application`.
    fn u2f_knows(&mut self, application: &[u8; 32], key_handle: &[u8]) -> Result<bool, Fido2Error> {
        if key_handle.len() > 255 {
            return Ok(false);
        }
        match self
            .u2f()
            .authenticate(control::CHECK_ONLY, &[0; 32], application, key_handle)
        {
            Err(Fido2Error::U2f(U2fError::UserPresenceRequired { .. })) => Ok(true),
            Err(Fido2Error::U2f(U2fError::WrongKeyHandle { .. })) => Ok(false),
            Err(e) => Err(e),
            // A signature to a check-only request: the card does know the handle.
            Ok(_) => Ok(true),
        }
    }

    fn register_u2f(
        &mut self,
        reg: &Registration,
        pin: Option<&str>,
    ) -> Result<MakeCredentialResponse, Fido2Error> {
        let refuse = |what| {
            Err(Fido2Error::Unsupported {
                what,
                why: U2F_ONLY_WHY,
            })
        };
        if pin.is_some() {
            return refuse("verify the user with a PIN");
        }
        if reg.resident_key {
            return refuse("store a discoverable (resident) credential");
        }
        if reg.cred_protect.is_some() {
            return refuse("apply credProtect");
        }
        if reg.hmac_secret {
            return refuse("enable hmac-secret");
        }
        let application: [u8; 32] = Sha256::digest(reg.rp_id.as_bytes()).into();
        // §10.2: each excluded credential is checked with check-only; one the card knows
        // ends the registration with CREDENTIAL_EXCLUDED.
        for id in &reg.exclude {
            if self.u2f_knows(&application, id)? {
                return Err(Fido2Error::Ctap {
                    command: "authenticatorMakeCredential (U2F REGISTER)",
                    status: CtapStatus::CTAP2_ERR_CREDENTIAL_EXCLUDED,
                });
            }
        }
        let challenge = reg.client_data_hash;
        let r = self.u2f_with_presence(|u| u.register(&challenge, &application))?;
        Ok(u2f::make_credential_response(&application, &r)?)
    }

    fn authenticate_u2f(
        &mut self,
        rp_id: &str,
        client_data_hash: &[u8; 32],
        allow: &[Vec<u8>],
        pin: Option<&str>,
    ) -> Result<Vec<AssertionResponse>, Fido2Error> {
        if pin.is_some() {
            return Err(Fido2Error::Unsupported {
                what: "verify the user with a PIN",
                why: U2F_ONLY_WHY,
            });
        }
        if allow.is_empty() {
            return Err(Fido2Error::Unsupported {
                what: "find discoverable credentials (an empty allow list)",
                why: U2F_ONLY_WHY,
            });
        }
        let application: [u8; 32] = Sha256::digest(rp_id.as_bytes()).into();
        let no_credentials = Fido2Error::Ctap {
            command: "authenticatorGetAssertion (U2F AUTHENTICATE)",
            status: CtapStatus::CTAP2_ERR_NO_CREDENTIALS,
        };
        // §10.3: with several candidates, check-only finds the one this card made; with one
        // the signing request itself answers 6A80 for a foreign handle (one APDU saved).
        let key_handle = if let [only] = allow {
            only.clone()
        } else {
            let mut found = None;
            for id in allow {
                if self.u2f_knows(&application, id)? {
                    found = Some(id.clone());
                    break;
                }
            }
            found.ok_or(no_credentials)?
        };
        let r = match self.u2f_with_presence(|u| {
            u.authenticate(
                control::ENFORCE_USER_PRESENCE,
                client_data_hash,
                &application,
                &key_handle,
            )
        }) {
            Err(Fido2Error::U2f(U2fError::WrongKeyHandle { .. })) => {
                return Err(Fido2Error::Ctap {
                    command: "authenticatorGetAssertion (U2F AUTHENTICATE)",
                    status: CtapStatus::CTAP2_ERR_NO_CREDENTIALS,
                });
            }
            other => other?,
        };
        Ok(vec![u2f::assertion_response(
            &application,
            &key_handle,
            &r,
        )?])
    }

    // ----- authenticatorConfig (CTAP 2.1 §6.11) ---------------------------------------------

    /// Sends authenticatorConfig `sub_command` with `params`, authenticated with `token`
    /// (pinUvAuthParam over 32×`FF` ‖ `0D` ‖ subCommand ‖ CBOR(params)); `None` sends no
    /// pinUvAuthParam (an applet without PIN). Refreshes getInfo afterwards.
    pub fn config_with_token(
        &mut self,
        token: Option<&PinToken>,
        sub_command: u8,
        params: Option<Value>,
    ) -> Result<(), Fido2Error> {
        self.ctap2_only("configure the authenticator")?;
        if self.info.option("authnrCfg") != Some(true) {
            return Err(Fido2Error::Unsupported {
                what: "run authenticatorConfig",
                why: "getInfo does not list the authnrCfg option",
            });
        }
        let mut req = vec![(1, Value::Unsigned(u64::from(sub_command)))];
        if let Some(t) = token {
            let mut msg = vec![0xFF; 32];
            msg.push(cmd::CONFIG);
            msg.push(sub_command);
            if let Some(p) = &params {
                msg.extend(crate::cbor::encode(p));
            }
            req.push((3, Value::Unsigned(t.protocol().number())));
            req.push((4, Value::Bytes(t.authenticate(&msg))));
        }
        if let Some(p) = params {
            req.push((2, p));
        }
        self.card.call(
            cmd::CONFIG,
            Some(&Value::map(
                req.into_iter().map(|(k, v)| (Value::int(k), v)),
            )),
        )?;
        self.refresh_info()?;
        Ok(())
    }

    fn config(
        &mut self,
        pin: Option<&str>,
        option: &'static str,
        what: &'static str,
        sub_command: u8,
        params: Option<Value>,
    ) -> Result<(), Fido2Error> {
        self.ctap2_only(what)?;
        if self.info.option(option).is_none() {
            return Err(Fido2Error::Unsupported {
                what,
                why: "getInfo does not list it among the options",
            });
        }
        let token = match pin {
            Some(p) => Some(self.pin_token(p, permissions::AUTHENTICATOR_CONFIG, None)?),
            None => None,
        };
        self.config_with_token(token.as_ref(), sub_command, params)
    }

    /// toggleAlwaysUv (authenticatorConfig 02): every makeCredential / getAssertion then
    /// needs the PIN, and U2F is switched off. `pin` is needed once a PIN is set.
    pub fn toggle_always_uv(&mut self, pin: Option<&str>) -> Result<bool, Fido2Error> {
        self.config(pin, "alwaysUv", "toggle alwaysUv", 0x02, None)?;
        Ok(self.info.option("alwaysUv") == Some(true))
    }

    /// setMinPINLength (authenticatorConfig 03): raises the minimum PIN length (it can only
    /// grow until the applet is reset), and with `force_change` (or a current PIN shorter
    /// than the new minimum) requires a PIN change before the next PIN use.
    pub fn set_min_pin_length(
        &mut self,
        pin: Option<&str>,
        min_code_points: Option<u64>,
        force_change: bool,
    ) -> Result<(), Fido2Error> {
        let mut params = Vec::new();
        if let Some(n) = min_code_points {
            params.push((Value::int(1), Value::Unsigned(n)));
        }
        if force_change {
            params.push((Value::int(3), Value::Bool(true)));
        }
        let params = (!params.is_empty()).then(|| Value::map(params));
        self.config(
            pin,
            "setMinPINLength",
            "set the minimum PIN length",
            0x03,
            params,
        )
    }
}
