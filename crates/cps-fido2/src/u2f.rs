//! CTAP1/U2F over ISO 7816-4 APDUs, and the CTAP2-shaped results built from it, for applets
//! that answer `"U2F_V2"` only.
//!
//! Sources:
//! - FIDO U2F Raw Message Formats v1.2: REGISTER (INS `01`, §4), AUTHENTICATE (INS `02`,
//!   P1 `03` enforce-user-presence-and-sign, `07` check-only, `08`
//!   dont-enforce-user-presence-and-sign, §5), VERSION (INS `03`, §6 → `"U2F_V2"`); status
//!   words §3.3: `6985` test-of-user-presence-required, `6A80` bad key handle.
//! - FIDO NFC Protocol v1.1 / CTAP 2.1 §11.3.3: SELECT of `A0000006472F0001` answers
//!   `"U2F_V2"` when U2F is supported, `"FIDO_2_0"` for a CTAP2-only authenticator.
//! - CTAP 2.1 §10.2 / §10.3 ("Interoperating with CTAP1/U2F authenticators"): a
//!   makeCredential maps to REGISTER with challenge = clientDataHash and application =
//!   SHA-256(rpId); the platform builds authenticatorData = rpIdHash ‖ flags `41` (UP, AT) ‖
//!   counter 0 ‖ AAGUID of zeros ‖ L ‖ key handle ‖ COSE key, and the attestation statement
//!   `fido-u2f` `{"sig", "x5c": [cert]}` (WebAuthn §8.6). A getAssertion maps to
//!   AUTHENTICATE (enforce-user-presence) and authenticatorData = rpIdHash ‖ user presence ‖
//!   counter; the U2F signature is then exactly the WebAuthn one (over authData ‖
//!   clientDataHash).
//!
//! ```
//! use cps_sim::fido2::applet::FidoCard;
//! use cps_fido2::{Fido2, Registration};
//! use cps_transport::InProcessChannel;
//!
//! // A U2F-only applet: the high-level calls fall back to U2F.
//! let mut fido = Fido2::open(InProcessChannel::new(FidoCard::u2f_only()))?;
//! assert!(fido.is_u2f_only());
//! let reg = Registration {
//!     rp_id: "hopital.example".into(),
//!     rp_name: "Hôpital".into(),
//!     user_id: b"42".to_vec(),
//!     user_name: "dr-martin".into(),
//!     user_display_name: "Dr Martin".into(),
//!     client_data_hash: [7; 32],
//!     resident_key: false,
//!     cred_protect: None,
//!     hmac_secret: false,
//!     exclude: vec![],
//! };
//! let mc = fido.register(&reg, None)?;
//! assert_eq!(mc.fmt, "fido-u2f");
//! let id = mc.auth_data.attested.unwrap().credential_id;
//! let a = fido.authenticate("hopital.example", &[8; 32], &[id], None)?;
//! assert!(a[0].auth_data.user_present());
//! # Ok::<(), cps_fido2::Fido2Error>(())
//! ```

use cps_apdu::{Command, StatusWord};
use cps_transport::CardChannel;
use p256::PublicKey;
use p256::ecdsa::DerSignature;

use crate::cbor::{self, Value};
use crate::ctap::{AssertionResponse, AuthenticatorData, MakeCredentialResponse, flags};
pub use crate::error::U2fError;
use crate::pin::cose_p256;
use crate::transport::{CtapCard, Fido2Error};

/// U2F instruction bytes (U2F Raw Message Formats v1.2 §4.1, §5.1, §6.1).
pub mod ins {
    /// U2F_REGISTER.
    pub const REGISTER: u8 = 0x01;
    /// U2F_AUTHENTICATE.
    pub const AUTHENTICATE: u8 = 0x02;
    /// U2F_VERSION.
    pub const VERSION: u8 = 0x03;
}

/// AUTHENTICATE control bytes (P1, U2F Raw Message Formats v1.2 §5.1).
pub mod control {
    /// "enforce-user-presence-and-sign".
    pub const ENFORCE_USER_PRESENCE: u8 = 0x03;
    /// "check-only": `6985` if the key handle is this card's for this application, `6A80`
    /// otherwise; nothing is signed.
    pub const CHECK_ONLY: u8 = 0x07;
    /// "dont-enforce-user-presence-and-sign".
    pub const DONT_ENFORCE_USER_PRESENCE: u8 = 0x08;
}

/// The reserved first byte of a registration response (§4.3).
const REGISTER_RESERVED: u8 = 0x05;
/// Length of an uncompressed P-256 point (`04` ‖ X ‖ Y).
const POINT_LEN: usize = 65;

/// A parsed registration response (§4.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterResponse {
    /// The user public key: `04` ‖ X ‖ Y.
    pub public_key: [u8; POINT_LEN],
    /// The key handle (the credential ID).
    pub key_handle: Vec<u8>,
    /// The attestation certificate (DER).
    pub attestation_certificate: Vec<u8>,
    /// ECDSA signature (DER) of [`RegisterResponse::signed_data`] by the attestation key.
    pub signature: Vec<u8>,
}

fn malformed(what: &'static str, detail: &'static str) -> U2fError {
    U2fError::Malformed { what, detail }
}

/// Length of the DER TLV at the start of `bytes` (definite lengths up to 3 bytes).
fn der_tlv_len(bytes: &[u8]) -> Option<usize> {
    let (&first, rest) = bytes.get(1..)?.split_first()?;
    let (len, header) = match first {
        0x00..=0x7F => (usize::from(first), 2),
        0x81..=0x83 => {
            let n = usize::from(first & 0x7F);
            let len = rest
                .get(..n)?
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
            (len, 2 + n)
        }
        _ => return None,
    };
    header.checked_add(len)
}

impl RegisterResponse {
    /// Parses `05 ‖ public key (65) ‖ L ‖ key handle ‖ certificate ‖ signature`.
    pub fn parse(data: &[u8]) -> Result<Self, U2fError> {
        const WHAT: &str = "REGISTER";
        let (&reserved, rest) = data.split_first().ok_or(malformed(WHAT, "empty"))?;
        if reserved != REGISTER_RESERVED {
            return Err(malformed(WHAT, "reserved byte is not 05"));
        }
        let (public_key, rest) = rest
            .split_first_chunk::<POINT_LEN>()
            .ok_or(malformed(WHAT, "truncated public key"))?;
        let (&kh_len, rest) = rest
            .split_first()
            .ok_or(malformed(WHAT, "truncated key handle length"))?;
        let kh_len = usize::from(kh_len);
        let key_handle = rest
            .get(..kh_len)
            .ok_or(malformed(WHAT, "truncated key handle"))?;
        if key_handle.is_empty() {
            return Err(malformed(WHAT, "empty key handle"));
        }
        let rest = rest.get(kh_len..).unwrap_or_default();
        if rest.first() != Some(&0x30) {
            return Err(malformed(WHAT, "no attestation certificate (DER SEQUENCE)"));
        }
        let cert_len =
            der_tlv_len(rest).ok_or(malformed(WHAT, "bad attestation certificate length"))?;
        let cert = rest
            .get(..cert_len)
            .ok_or(malformed(WHAT, "truncated attestation certificate"))?;
        let signature = rest.get(cert_len..).unwrap_or_default();
        DerSignature::try_from(signature)
            .map_err(|_| malformed(WHAT, "signature is not a DER ECDSA signature"))?;
        Ok(RegisterResponse {
            public_key: *public_key,
            key_handle: key_handle.to_vec(),
            attestation_certificate: cert.to_vec(),
            signature: signature.to_vec(),
        })
    }

    /// What the attestation key signed: `00` ‖ application ‖ challenge ‖ key handle ‖ public
    /// key (§4.3).
    pub fn signed_data(&self, application: &[u8; 32], challenge: &[u8; 32]) -> Vec<u8> {
        let mut out = vec![0x00];
        out.extend_from_slice(application);
        out.extend_from_slice(challenge);
        out.extend_from_slice(&self.key_handle);
        out.extend_from_slice(&self.public_key);
        out
    }
}

/// A parsed authentication response (§5.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticateResponse {
    /// User presence byte (bit 0 set: the user was present).
    pub user_presence: u8,
    /// Signature counter.
    pub counter: u32,
    /// ECDSA signature (DER) over application ‖ user presence ‖ counter ‖ challenge.
    pub signature: Vec<u8>,
}

impl AuthenticateResponse {
    /// Parses `user presence ‖ counter (4, big-endian) ‖ signature`.
    pub fn parse(data: &[u8]) -> Result<Self, U2fError> {
        const WHAT: &str = "AUTHENTICATE";
        let (&user_presence, rest) = data.split_first().ok_or(malformed(WHAT, "empty"))?;
        // §5.4: bit 0 is user presence, the other bits are reserved (0). They are signed, so a
        // card that sets them would make authenticatorData claim flags it never asserted.
        if user_presence & !flags::UP != 0 {
            return Err(malformed(WHAT, "reserved user-presence bits set"));
        }
        let (counter, signature) = rest
            .split_first_chunk::<4>()
            .ok_or(malformed(WHAT, "truncated counter"))?;
        DerSignature::try_from(signature)
            .map_err(|_| malformed(WHAT, "signature is not a DER ECDSA signature"))?;
        Ok(AuthenticateResponse {
            user_presence,
            counter: u32::from_be_bytes(*counter),
            signature: signature.to_vec(),
        })
    }
}

/// The U2F commands, on a selected FIDO applet.
pub struct U2f<'a, C: CardChannel> {
    card: &'a mut CtapCard<C>,
}

impl<'a, C: CardChannel> U2f<'a, C> {
    /// U2F over this selected applet.
    pub fn new(card: &'a mut CtapCard<C>) -> Self {
        U2f { card }
    }

    fn send(
        &mut self,
        attempted: &'static str,
        ins: u8,
        p1: u8,
        data: &[u8],
    ) -> Result<Vec<u8>, Fido2Error> {
        let ne = if self.card.exchange_mut().config().extended_length {
            65_536
        } else {
            256
        };
        // Built from the table entry of the instruction: a request of the wrong shape is
        // refused before it is sent.
        let c = match crate::table::TABLE.find(0x00, ins, data.first().copied()) {
            Some(spec) => spec.command(p1, 0x00, data, Some(ne))?,
            None => Command::new(0x00, ins, p1, 0x00)
                .with_data(data)
                .with_ne(ne),
        };
        let r = self.card.exchange_mut().transmit(&c)?;
        match r.sw {
            StatusWord::SUCCESS => Ok(r.data),
            StatusWord::CONDITIONS_NOT_SATISFIED => {
                Err(U2fError::UserPresenceRequired { attempted }.into())
            }
            StatusWord::WRONG_DATA => Err(U2fError::WrongKeyHandle { attempted }.into()),
            sw => Err(U2fError::Status { attempted, sw }.into()),
        }
    }

    /// VERSION: `"U2F_V2"` on a U2F applet.
    pub fn version(&mut self) -> Result<String, Fido2Error> {
        let data = self.send("VERSION", ins::VERSION, 0x00, &[])?;
        String::from_utf8(data).map_err(|_| malformed("VERSION", "not UTF-8").into())
    }

    /// REGISTER (one attempt: `6985` comes back as [`U2fError::UserPresenceRequired`]).
    pub fn register(
        &mut self,
        challenge: &[u8; 32],
        application: &[u8; 32],
    ) -> Result<RegisterResponse, Fido2Error> {
        let mut data = challenge.to_vec();
        data.extend_from_slice(application);
        let r = self.send("REGISTER", ins::REGISTER, 0x00, &data)?;
        Ok(RegisterResponse::parse(&r)?)
    }

    /// AUTHENTICATE with a control byte of [`control`] (one attempt).
    pub fn authenticate(
        &mut self,
        control_byte: u8,
        challenge: &[u8; 32],
        application: &[u8; 32],
        key_handle: &[u8],
    ) -> Result<AuthenticateResponse, Fido2Error> {
        const WHAT: &str = "AUTHENTICATE";
        let len = u8::try_from(key_handle.len()).map_err(|_| U2fError::Request {
            attempted: WHAT,
            detail: "key handle longer than 255 bytes",
        })?;
        let mut data = challenge.to_vec();
        data.extend_from_slice(application);
        data.push(len);
        data.extend_from_slice(key_handle);
        let r = self.send(WHAT, ins::AUTHENTICATE, control_byte, &data)?;
        Ok(AuthenticateResponse::parse(&r)?)
    }
}

/// The makeCredential response a CTAP2 platform builds from a U2F registration (CTAP 2.1
/// §10.2): attestation format `fido-u2f`, authenticatorData with flags UP | AT, counter 0
/// and an all-zero AAGUID.
pub fn make_credential_response(
    rp_id_hash: &[u8; 32],
    r: &RegisterResponse,
) -> Result<MakeCredentialResponse, U2fError> {
    let key = PublicKey::from_sec1_bytes(&r.public_key)
        .map_err(|_| malformed("REGISTER", "public key is not a P-256 point"))?;
    let kh_len = u16::try_from(r.key_handle.len())
        .map_err(|_| malformed("REGISTER", "key handle too long"))?;
    let mut raw = rp_id_hash.to_vec();
    raw.push(flags::UP | flags::AT);
    raw.extend_from_slice(&0u32.to_be_bytes());
    raw.extend_from_slice(&[0u8; 16]);
    raw.extend_from_slice(&kh_len.to_be_bytes());
    raw.extend_from_slice(&r.key_handle);
    raw.extend(cbor::encode(&cose_p256(&key, -7)));
    let auth_data = AuthenticatorData::parse(&raw)
        .map_err(|_| malformed("REGISTER", "cannot build authenticatorData"))?;
    Ok(MakeCredentialResponse {
        fmt: "fido-u2f".into(),
        auth_data_raw: raw,
        auth_data,
        att_stmt: Value::map([
            (Value::text("sig"), Value::bytes(&r.signature)),
            (
                Value::text("x5c"),
                Value::Array(vec![Value::bytes(&r.attestation_certificate)]),
            ),
        ]),
    })
}

/// The getAssertion response a CTAP2 platform builds from a U2F authentication (CTAP 2.1
/// §10.3): authenticatorData = rpIdHash ‖ user presence ‖ counter, the U2F signature.
pub fn assertion_response(
    rp_id_hash: &[u8; 32],
    key_handle: &[u8],
    r: &AuthenticateResponse,
) -> Result<AssertionResponse, U2fError> {
    let mut raw = rp_id_hash.to_vec();
    raw.push(r.user_presence);
    raw.extend_from_slice(&r.counter.to_be_bytes());
    let auth_data = AuthenticatorData::parse(&raw)
        .map_err(|_| malformed("AUTHENTICATE", "cannot build authenticatorData"))?;
    Ok(AssertionResponse {
        credential_id: key_handle.to_vec(),
        auth_data_raw: raw,
        auth_data,
        signature: r.signature.clone(),
        user_id: None,
        number_of_credentials: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn register_response_parsing_is_bounded() {
        let mut ok = vec![0x05];
        ok.push(0x04);
        ok.extend([0u8; 64]);
        ok.push(2);
        ok.extend([0xAA, 0xBB]);
        ok.extend([0x30, 0x03, 0x02, 0x01, 0x00]); // a 5-byte "certificate"
        // DER ECDSA signature r = 1, s = 1.
        ok.extend([0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01]);
        let r = RegisterResponse::parse(&ok).unwrap();
        assert_eq!(r.key_handle, [0xAA, 0xBB]);
        assert_eq!(r.attestation_certificate.len(), 5);
        // Every truncation is a typed error, never a panic.
        for n in 0..ok.len() {
            assert!(RegisterResponse::parse(&ok[..n]).is_err(), "prefix {n}");
        }
        let mut bad = ok.clone();
        bad[0] = 0x04;
        assert!(RegisterResponse::parse(&bad).is_err());
        let mut huge = ok.clone();
        huge[69] = 0x30;
        huge[70] = 0x83; // certificate length 3 bytes: far beyond the data
        assert!(RegisterResponse::parse(&huge).is_err());
    }

    #[test]
    fn authenticate_response_rejects_reserved_bits() {
        let sig = [0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01];
        let mut ok = vec![0x01, 0, 0, 0, 9];
        ok.extend(sig);
        let r = AuthenticateResponse::parse(&ok).unwrap();
        assert_eq!((r.user_presence, r.counter), (1, 9));
        ok[0] = 0x05; // would claim UV
        assert!(AuthenticateResponse::parse(&ok).is_err());
        assert!(AuthenticateResponse::parse(&[1, 0, 0]).is_err());
        assert!(AuthenticateResponse::parse(&[1, 0, 0, 0, 1, 0x30]).is_err());
    }
}
