//! CTAP 2.1 messages: command bytes, status codes, and the typed requests and responses.
//!
//! Sources: FIDO CTAP 2.1 (§6 "Authenticator API", §6.1–6.8 member keys, §8.2 status codes)
//! and the shared notes `fido2-ctap-apdu.md` §3 (keys checked against python-fido2 2.2.1).

use std::fmt;

use crate::cbor::{self, CborError, Value};

/// CTAP command bytes (CTAP 2.1 §6).
pub mod cmd {
    /// authenticatorMakeCredential.
    pub const MAKE_CREDENTIAL: u8 = 0x01;
    /// authenticatorGetAssertion.
    pub const GET_ASSERTION: u8 = 0x02;
    /// authenticatorGetInfo.
    pub const GET_INFO: u8 = 0x04;
    /// authenticatorClientPIN.
    pub const CLIENT_PIN: u8 = 0x06;
    /// authenticatorReset.
    pub const RESET: u8 = 0x07;
    /// authenticatorGetNextAssertion.
    pub const GET_NEXT_ASSERTION: u8 = 0x08;
    /// authenticatorCredentialManagement.
    pub const CREDENTIAL_MANAGEMENT: u8 = 0x0A;
    /// authenticatorSelection.
    pub const SELECTION: u8 = 0x0B;
    /// authenticatorConfig.
    pub const CONFIG: u8 = 0x0D;
}

macro_rules! statuses {
    ($( $name:ident = $code:literal, $text:literal; )*) => {
        /// A CTAP status byte (CTAP 2.1 §8.2), with its specification name.
        #[derive(Clone, Copy, PartialEq, Eq, Hash)]
        pub struct CtapStatus(pub u8);

        impl CtapStatus {
            $( #[doc = $text] pub const $name: CtapStatus = CtapStatus($code); )*

            /// The specification name (e.g. `CTAP2_ERR_PIN_INVALID`), if the code is assigned.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $( $code => Some(stringify!($name)), )*
                    _ => None,
                }
            }

            /// What the status means, for a person.
            pub fn description(self) -> &'static str {
                match self.0 {
                    $( $code => $text, )*
                    0xE0..=0xEF => "extension-specific error",
                    0xF0..=0xFF => "vendor-specific error",
                    _ => "unassigned status code",
                }
            }
        }
    };
}

statuses! {
    CTAP2_OK = 0x00, "success";
    CTAP1_ERR_INVALID_COMMAND = 0x01, "the command is not supported";
    CTAP1_ERR_INVALID_PARAMETER = 0x02, "invalid parameter in the request";
    CTAP1_ERR_INVALID_LENGTH = 0x03, "invalid message or item length";
    CTAP1_ERR_INVALID_SEQ = 0x04, "invalid message sequencing";
    CTAP1_ERR_TIMEOUT = 0x05, "message timed out";
    CTAP1_ERR_CHANNEL_BUSY = 0x06, "channel busy";
    CTAP1_ERR_LOCK_REQUIRED = 0x0A, "command requires channel lock";
    CTAP1_ERR_INVALID_CHANNEL = 0x0B, "command not allowed on this channel";
    CTAP2_ERR_CBOR_UNEXPECTED_TYPE = 0x11, "invalid or unexpected CBOR type";
    CTAP2_ERR_INVALID_CBOR = 0x12, "error decoding CBOR";
    CTAP2_ERR_MISSING_PARAMETER = 0x14, "a required parameter is missing";
    CTAP2_ERR_LIMIT_EXCEEDED = 0x15, "a limit was exceeded";
    CTAP2_ERR_FP_DATABASE_FULL = 0x17, "fingerprint database full";
    CTAP2_ERR_LARGE_BLOB_STORAGE_FULL = 0x18, "large-blob storage full";
    CTAP2_ERR_CREDENTIAL_EXCLUDED = 0x19, "a credential of the exclude list is on this authenticator";
    CTAP2_ERR_PROCESSING = 0x21, "processing (lengthy operation in progress)";
    CTAP2_ERR_INVALID_CREDENTIAL = 0x22, "credential not valid for this authenticator";
    CTAP2_ERR_USER_ACTION_PENDING = 0x23, "waiting for the user";
    CTAP2_ERR_OPERATION_PENDING = 0x24, "processing, lengthy operation in progress";
    CTAP2_ERR_NO_OPERATIONS = 0x25, "no request is pending";
    CTAP2_ERR_UNSUPPORTED_ALGORITHM = 0x26, "no requested algorithm is supported";
    CTAP2_ERR_OPERATION_DENIED = 0x27, "not authorized for the requested action";
    CTAP2_ERR_KEY_STORE_FULL = 0x28, "no room left for resident credentials";
    CTAP2_ERR_UNSUPPORTED_OPTION = 0x2B, "unsupported option";
    CTAP2_ERR_INVALID_OPTION = 0x2C, "not a valid option for the current operation";
    CTAP2_ERR_KEEPALIVE_CANCEL = 0x2D, "cancelled by the client";
    CTAP2_ERR_NO_CREDENTIALS = 0x2E, "no valid credentials for this relying party";
    CTAP2_ERR_USER_ACTION_TIMEOUT = 0x2F, "timed out waiting for the user";
    CTAP2_ERR_NOT_ALLOWED = 0x30, "not allowed (e.g. no further assertion pending, or PIN already set)";
    CTAP2_ERR_PIN_INVALID = 0x31, "wrong PIN";
    CTAP2_ERR_PIN_BLOCKED = 0x32, "PIN blocked: reset the FIDO2 applet (this deletes its credentials)";
    CTAP2_ERR_PIN_AUTH_INVALID = 0x33, "PIN authentication (pinUvAuthParam) failed";
    CTAP2_ERR_PIN_AUTH_BLOCKED = 0x34, "three wrong PINs in a row: remove and reinsert the card to try again";
    CTAP2_ERR_PIN_NOT_SET = 0x35, "no PIN set: enroll the FIDO2 applet first";
    CTAP2_ERR_PUAT_REQUIRED = 0x36, "a PIN (pinUvAuthToken) is required for this operation";
    CTAP2_ERR_PIN_POLICY_VIOLATION = 0x37, "the PIN does not meet the policy (length)";
    CTAP2_ERR_REQUEST_TOO_LARGE = 0x39, "request larger than the authenticator accepts";
    CTAP2_ERR_ACTION_TIMEOUT = 0x3A, "the action timed out";
    CTAP2_ERR_UP_REQUIRED = 0x3B, "user presence is required";
    CTAP2_ERR_UV_BLOCKED = 0x3C, "built-in user verification blocked";
    CTAP2_ERR_INTEGRITY_FAILURE = 0x3D, "integrity check failed";
    CTAP2_ERR_INVALID_SUBCOMMAND = 0x3E, "invalid subcommand";
    CTAP2_ERR_UV_INVALID = 0x3F, "user verification failed";
    CTAP2_ERR_UNAUTHORIZED_PERMISSION = 0x40, "the pinUvAuthToken lacks the permission for this command";
    CTAP1_ERR_OTHER = 0x7F, "other unspecified error";
}

impl fmt::Debug for CtapStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "{n}"),
            None => write!(f, "CtapStatus({:02X})", self.0),
        }
    }
}

impl fmt::Display for CtapStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "{n} ({:02X}): {}", self.0, self.description()),
            None => write!(f, "status {:02X}: {}", self.0, self.description()),
        }
    }
}

/// A response that does not have the expected shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MessageError {
    /// Not canonical CBOR.
    #[error("response is not CTAP canonical CBOR")]
    Cbor(#[from] CborError),
    /// A required member is missing or has the wrong type.
    #[error("response member {member} is missing or has the wrong type")]
    Member {
        /// Which member (e.g. "getInfo versions (0x01)").
        member: &'static str,
    },
    /// authenticatorData is malformed.
    #[error("malformed authenticatorData: {0}")]
    AuthData(&'static str),
    /// The response is empty (no status byte).
    #[error("empty CTAP response")]
    Empty,
}

/// Splits `status ‖ CBOR` and decodes the CBOR (an empty body is an empty map).
pub fn split_response(data: &[u8]) -> Result<(CtapStatus, Value), MessageError> {
    let (&status, body) = data.split_first().ok_or(MessageError::Empty)?;
    let value = if body.is_empty() {
        Value::map([])
    } else {
        cbor::decode(body)?
    };
    Ok((CtapStatus(status), value))
}

/// `command ‖ CBOR(params)`, or the bare command byte when `params` is `None`.
pub fn request(command: u8, params: Option<&Value>) -> Vec<u8> {
    let mut out = vec![command];
    if let Some(p) = params {
        out.extend(cbor::encode(p));
    }
    out
}

fn member<'a>(v: &'a Value, key: i64, name: &'static str) -> Result<&'a Value, MessageError> {
    v.get_int(key).ok_or(MessageError::Member { member: name })
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_text().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// authenticatorGetInfo response (CTAP 2.1 §6.4).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Info {
    /// 0x01 versions, e.g. `FIDO_2_0`, `FIDO_2_1`.
    pub versions: Vec<String>,
    /// 0x02 extensions.
    pub extensions: Vec<String>,
    /// 0x03 AAGUID.
    pub aaguid: [u8; 16],
    /// 0x04 options, in the card's order.
    pub options: Vec<(String, bool)>,
    /// 0x05 maxMsgSize.
    pub max_msg_size: Option<u64>,
    /// 0x06 pinUvAuthProtocols, in the card's order of preference.
    pub pin_uv_auth_protocols: Vec<u64>,
    /// 0x07 maxCredentialCountInList.
    pub max_credential_count_in_list: Option<u64>,
    /// 0x08 maxCredentialIdLength.
    pub max_credential_id_length: Option<u64>,
    /// 0x09 transports.
    pub transports: Vec<String>,
    /// 0x0A algorithms (COSE identifiers of `public-key` entries).
    pub algorithms: Vec<i64>,
    /// 0x0C forcePINChange.
    pub force_pin_change: Option<bool>,
    /// 0x0D minPINLength.
    pub min_pin_length: Option<u64>,
    /// 0x0E firmwareVersion.
    pub firmware_version: Option<u64>,
    /// 0x14 remainingDiscoverableCredentials.
    pub remaining_discoverable_credentials: Option<u64>,
}

impl Info {
    /// Parses the getInfo CBOR map.
    pub fn from_cbor(v: &Value) -> Result<Info, MessageError> {
        let versions = strings(Some(member(v, 1, "getInfo versions (0x01)")?));
        if versions.is_empty() {
            return Err(MessageError::Member {
                member: "getInfo versions (0x01)",
            });
        }
        let aaguid = member(v, 3, "getInfo aaguid (0x03)")?
            .as_bytes()
            .and_then(|b| <[u8; 16]>::try_from(b).ok())
            .ok_or(MessageError::Member {
                member: "getInfo aaguid (0x03)",
            })?;
        let options = v
            .get_int(4)
            .and_then(Value::as_map)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.as_text()?.to_owned(), v.as_bool()?)))
                    .collect()
            })
            .unwrap_or_default();
        let algorithms = v
            .get_int(0x0A)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|e| e.get_text("alg").and_then(Value::as_i64))
                    .collect()
            })
            .unwrap_or_default();
        Ok(Info {
            versions,
            extensions: strings(v.get_int(2)),
            aaguid,
            options,
            max_msg_size: v.get_int(5).and_then(Value::as_u64),
            pin_uv_auth_protocols: v
                .get_int(6)
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_u64).collect())
                .unwrap_or_default(),
            max_credential_count_in_list: v.get_int(7).and_then(Value::as_u64),
            max_credential_id_length: v.get_int(8).and_then(Value::as_u64),
            transports: strings(v.get_int(9)),
            algorithms,
            force_pin_change: v.get_int(0x0C).and_then(Value::as_bool),
            min_pin_length: v.get_int(0x0D).and_then(Value::as_u64),
            firmware_version: v.get_int(0x0E).and_then(Value::as_u64),
            remaining_discoverable_credentials: v.get_int(0x14).and_then(Value::as_u64),
        })
    }

    /// An option's value (`None` when the card does not list it).
    pub fn option(&self, name: &str) -> Option<bool> {
        self.options
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| *v)
    }

    /// Whether a version string is listed.
    pub fn supports(&self, version: &str) -> bool {
        self.versions.iter().any(|v| v == version)
    }
}

/// Authenticator data flags (WebAuthn §6.1).
pub mod flags {
    /// User present.
    pub const UP: u8 = 0x01;
    /// User verified.
    pub const UV: u8 = 0x04;
    /// Attested credential data included.
    pub const AT: u8 = 0x40;
    /// Extension data included.
    pub const ED: u8 = 0x80;
}

/// Attested credential data (WebAuthn §6.5.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttestedCredential {
    /// AAGUID.
    pub aaguid: [u8; 16],
    /// Credential ID.
    pub credential_id: Vec<u8>,
    /// The credential public key (COSE_Key).
    pub public_key: Value,
}

/// Parsed authenticatorData (WebAuthn §6.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatorData {
    /// SHA-256 of the RP ID.
    pub rp_id_hash: [u8; 32],
    /// Flags byte.
    pub flags: u8,
    /// Signature counter.
    pub sign_count: u32,
    /// Present when flag AT is set.
    pub attested: Option<AttestedCredential>,
    /// Extension outputs, present when flag ED is set.
    pub extensions: Option<Value>,
}

impl AuthenticatorData {
    /// Parses authenticatorData bytes.
    pub fn parse(bytes: &[u8]) -> Result<AuthenticatorData, MessageError> {
        let (rp_id_hash, rest) = bytes
            .split_first_chunk::<32>()
            .ok_or(MessageError::AuthData("shorter than 37 bytes"))?;
        let (&flags, rest) = rest
            .split_first()
            .ok_or(MessageError::AuthData("shorter than 37 bytes"))?;
        let (count, mut rest) = rest
            .split_first_chunk::<4>()
            .ok_or(MessageError::AuthData("shorter than 37 bytes"))?;
        let attested = if flags & flags::AT != 0 {
            let (aaguid, r) = rest
                .split_first_chunk::<16>()
                .ok_or(MessageError::AuthData("truncated AAGUID"))?;
            let (len, r) = r
                .split_first_chunk::<2>()
                .ok_or(MessageError::AuthData("truncated credential ID length"))?;
            let len = usize::from(u16::from_be_bytes(*len));
            let id = r
                .get(..len)
                .ok_or(MessageError::AuthData("truncated credential ID"))?;
            let r = r.get(len..).unwrap_or(&[]);
            let (public_key, used) = cbor::decode_prefix(r)?;
            rest = r.get(used..).unwrap_or(&[]);
            Some(AttestedCredential {
                aaguid: *aaguid,
                credential_id: id.to_vec(),
                public_key,
            })
        } else {
            None
        };
        let extensions = if flags & flags::ED != 0 {
            let (ext, used) = cbor::decode_prefix(rest)?;
            rest = rest.get(used..).unwrap_or(&[]);
            Some(ext)
        } else {
            None
        };
        if !rest.is_empty() {
            return Err(MessageError::AuthData("trailing bytes"));
        }
        Ok(AuthenticatorData {
            rp_id_hash: *rp_id_hash,
            flags,
            sign_count: u32::from_be_bytes(*count),
            attested,
            extensions,
        })
    }

    /// Whether user presence was collected.
    pub fn user_present(&self) -> bool {
        self.flags & flags::UP != 0
    }

    /// Whether the user was verified (PIN).
    pub fn user_verified(&self) -> bool {
        self.flags & flags::UV != 0
    }
}

/// authenticatorMakeCredential response (CTAP 2.1 §6.1.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MakeCredentialResponse {
    /// 0x01 attestation statement format (`packed`, `none`, ...).
    pub fmt: String,
    /// 0x02 authenticatorData, raw (signed over) and parsed.
    pub auth_data_raw: Vec<u8>,
    /// Parsed authenticatorData.
    pub auth_data: AuthenticatorData,
    /// 0x03 attestation statement.
    pub att_stmt: Value,
}

impl MakeCredentialResponse {
    /// Parses the response map.
    pub fn from_cbor(v: &Value) -> Result<Self, MessageError> {
        let fmt = member(v, 1, "fmt (0x01)")?
            .as_text()
            .ok_or(MessageError::Member {
                member: "fmt (0x01)",
            })?
            .to_owned();
        let raw = member(v, 2, "authData (0x02)")?
            .as_bytes()
            .ok_or(MessageError::Member {
                member: "authData (0x02)",
            })?
            .to_vec();
        let auth_data = AuthenticatorData::parse(&raw)?;
        if auth_data.attested.is_none() {
            return Err(MessageError::AuthData(
                "makeCredential authData without attested credential",
            ));
        }
        Ok(MakeCredentialResponse {
            fmt,
            auth_data_raw: raw,
            auth_data,
            att_stmt: member(v, 3, "attStmt (0x03)")?.clone(),
        })
    }

    /// The WebAuthn attestationObject `{"fmt", "attStmt", "authData"}` (canonical CBOR).
    pub fn attestation_object(&self) -> Vec<u8> {
        cbor::encode(&Value::map([
            (Value::text("fmt"), Value::text(&self.fmt)),
            (Value::text("attStmt"), self.att_stmt.clone()),
            (
                Value::text("authData"),
                Value::Bytes(self.auth_data_raw.clone()),
            ),
        ]))
    }
}

/// authenticatorGetAssertion response (CTAP 2.1 §6.2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssertionResponse {
    /// 0x01 credential descriptor's `id`.
    pub credential_id: Vec<u8>,
    /// 0x02 authenticatorData, raw.
    pub auth_data_raw: Vec<u8>,
    /// Parsed authenticatorData.
    pub auth_data: AuthenticatorData,
    /// 0x03 signature (DER ECDSA for ES256).
    pub signature: Vec<u8>,
    /// 0x04 user entity `id` (resident credentials).
    pub user_id: Option<Vec<u8>>,
    /// 0x05 numberOfCredentials (first response only).
    pub number_of_credentials: Option<u64>,
}

impl AssertionResponse {
    /// Parses the response map.
    pub fn from_cbor(v: &Value) -> Result<Self, MessageError> {
        let credential_id = member(v, 1, "credential (0x01)")?
            .get_text("id")
            .and_then(Value::as_bytes)
            .ok_or(MessageError::Member {
                member: "credential (0x01)",
            })?
            .to_vec();
        let raw = member(v, 2, "authData (0x02)")?
            .as_bytes()
            .ok_or(MessageError::Member {
                member: "authData (0x02)",
            })?
            .to_vec();
        let auth_data = AuthenticatorData::parse(&raw)?;
        let signature = member(v, 3, "signature (0x03)")?
            .as_bytes()
            .ok_or(MessageError::Member {
                member: "signature (0x03)",
            })?
            .to_vec();
        Ok(AssertionResponse {
            credential_id,
            auth_data_raw: raw,
            auth_data,
            signature,
            user_id: v
                .get_int(4)
                .and_then(|u| u.get_text("id"))
                .and_then(Value::as_bytes)
                .map(<[u8]>::to_vec),
            number_of_credentials: v.get_int(5).and_then(Value::as_u64),
        })
    }
}

/// A credential descriptor `{"id": bytes, "type": "public-key"}`.
pub fn credential_descriptor(id: &[u8]) -> Value {
    Value::map([
        (Value::text("id"), Value::bytes(id)),
        (Value::text("type"), Value::text("public-key")),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    #[test]
    fn status_names() {
        assert_eq!(CtapStatus(0x31).name(), Some("CTAP2_ERR_PIN_INVALID"));
        assert!(CtapStatus(0x34).to_string().contains("reinsert"));
        assert_eq!(CtapStatus(0xE5).description(), "extension-specific error");
        assert_eq!(format!("{:?}", CtapStatus(0x99)), "CtapStatus(99)");
    }

    #[test]
    fn spec_get_info_example() {
        // Shared notes §6.1: the CTAP 2.0 specification's getInfo example (via python-fido2).
        let v = cbor::decode(&h("a60182665532465f5632684649444f5f325f3002826375766d6b686d61632d7365637265740350f8a011f38c0a4d15800617111f9edc7d04a462726bf5627570f564706c6174f469636c69656e7450696ef4051904b0068101")).unwrap();
        let info = Info::from_cbor(&v).unwrap();
        assert_eq!(info.versions, ["U2F_V2", "FIDO_2_0"]);
        assert_eq!(info.extensions, ["uvm", "hmac-secret"]);
        assert_eq!(
            info.aaguid,
            <[u8; 16]>::try_from(h("f8a011f38c0a4d15800617111f9edc7d")).unwrap()
        );
        assert_eq!(info.option("rk"), Some(true));
        assert_eq!(info.option("clientPin"), Some(false));
        assert_eq!(info.option("uv"), None);
        assert_eq!(info.max_msg_size, Some(1200));
        assert_eq!(info.pin_uv_auth_protocols, [1]);
        assert!(info.supports("FIDO_2_0"));
    }

    #[test]
    fn reference_make_credential_and_assertion() {
        // Shared notes §6.4 reference vectors (python-fido2 verifies the attestation: SELF).
        let mc = cbor::decode(&h("a301667061636b65640258bfa379a6f6eeafb9a55e378c118034e2751e682fab9f2d30ab13d2125586ce1947c50000000000112233445566778899aabbccddeeff00202ecb260065610167e44d5939a87eb15dfee9294592fbcee388a57e9d5ca2d198a5010203262001215820d3d617a20591b2a03e4c20766f4a25f01696fe582dbef6d1ca35ea03d16dd2cc2258208ee3bc07cbf9f3b1f3e112ff9aba789b5c73d45ae122aebd53e3bf781707bd49a26b6372656450726f74656374026b686d61632d736563726574f503a263616c672663736967584730450220443419b28e63b5d7227f3b86dbb48ba1784e773360fb9132eb90eada0c44a58b022100814e50073847f5620b5f0f720f278f2e1661ab72f2c7d90be98c776dc0795238")).unwrap();
        let mc = MakeCredentialResponse::from_cbor(&mc).unwrap();
        assert_eq!(mc.fmt, "packed");
        assert_eq!(mc.auth_data.flags, 0xC5);
        assert!(mc.auth_data.user_present() && mc.auth_data.user_verified());
        let att = mc.auth_data.attested.as_ref().unwrap();
        assert_eq!(
            att.credential_id,
            h("2ecb260065610167e44d5939a87eb15dfee9294592fbcee388a57e9d5ca2d198")
        );
        assert_eq!(att.public_key.get_int(3).and_then(Value::as_i64), Some(-7));
        let ext = mc.auth_data.extensions.as_ref().unwrap();
        assert_eq!(ext.get_text("credProtect").and_then(Value::as_u64), Some(2));
        assert_eq!(
            ext.get_text("hmac-secret").and_then(Value::as_bool),
            Some(true)
        );
        assert_eq!(
            mc.attestation_object(),
            h(
                "a363666d74667061636b65646761747453746d74a263616c672663736967584730450220443419b28e63b5d7227f3b86dbb48ba1784e773360fb9132eb90eada0c44a58b022100814e50073847f5620b5f0f720f278f2e1661ab72f2c7d90be98c776dc079523868617574684461746158bfa379a6f6eeafb9a55e378c118034e2751e682fab9f2d30ab13d2125586ce1947c50000000000112233445566778899aabbccddeeff00202ecb260065610167e44d5939a87eb15dfee9294592fbcee388a57e9d5ca2d198a5010203262001215820d3d617a20591b2a03e4c20766f4a25f01696fe582dbef6d1ca35ea03d16dd2cc2258208ee3bc07cbf9f3b1f3e112ff9aba789b5c73d45ae122aebd53e3bf781707bd49a26b6372656450726f74656374026b686d61632d736563726574f5"
            )
        );

        let ga = cbor::decode(&h("a301a262696458202ecb260065610167e44d5939a87eb15dfee9294592fbcee388a57e9d5ca2d19864747970656a7075626c69632d6b6579025825a379a6f6eeafb9a55e378c118034e2751e682fab9f2d30ab13d2125586ce19470500000001035847304502204ba247e70282bbcb968e9b647b4aef9a0154252c35413d2369dc4c03a7ba87df022100c5f592f0f24b8f303335177d14ad8f6d0217577d24c23d8c9346f494b2b989b1")).unwrap();
        let ga = AssertionResponse::from_cbor(&ga).unwrap();
        assert_eq!(ga.auth_data.sign_count, 1);
        assert_eq!(ga.auth_data.flags, 0x05);
        assert_eq!(ga.credential_id, att.credential_id);
        assert_eq!(ga.signature.len(), 0x47);
    }

    #[test]
    fn request_bytes_match_reference() {
        // getInfo is the bare command byte; ClientPIN getRetries(protocol 2).
        assert_eq!(request(cmd::GET_INFO, None), [0x04]);
        let p = Value::map([
            (Value::int(1), Value::int(2)),
            (Value::int(2), Value::int(1)),
        ]);
        assert_eq!(request(cmd::CLIENT_PIN, Some(&p)), h("06a201020201"));
    }

    #[test]
    fn malformed_responses_are_typed() {
        assert_eq!(split_response(&[]), Err(MessageError::Empty));
        assert_eq!(
            split_response(&[0x31]).unwrap().0,
            CtapStatus::CTAP2_ERR_PIN_INVALID
        );
        assert!(matches!(
            split_response(&[0x00, 0xF6]),
            Err(MessageError::Cbor(_))
        ));
        assert!(Info::from_cbor(&Value::map([])).is_err());
        assert!(AuthenticatorData::parse(&[0; 36]).is_err());
        let mut ad = vec![0u8; 37];
        ad[32] = flags::AT;
        assert_eq!(
            AuthenticatorData::parse(&ad),
            Err(MessageError::AuthData("truncated AAGUID"))
        );
        let mut ad = vec![0u8; 38];
        ad[32] = 0;
        assert_eq!(
            AuthenticatorData::parse(&ad),
            Err(MessageError::AuthData("trailing bytes"))
        );
    }
}
