//! CTAP1/U2F on the simulated authenticator: REGISTER (`01`), AUTHENTICATE (`02`) and VERSION
//! (`03`), as CTAP2 authenticators also answer them (CTAP 2.1 §1.1: "CTAP2 authenticators
//! SHOULD also implement CTAP1/U2F").
//!
//! Formats: FIDO U2F Raw Message Formats v1.2 §4 (registration), §5 (authentication), §6
//! (version); status words §3.3 (`6985` test-of-user-presence-required, `6A80` bad key
//! handle, `6700` wrong length). Key handles are wrapped exactly like non-resident CTAP2
//! credential IDs, with the application parameter as the RP ID hash, so a credential made
//! through U2F works with CTAP2 getAssertion for the same RP ID and the other way round
//! (CTAP 2.1 §10 maps rpIdHash ↔ application parameter).

use cps_apdu::{Command, Response, StatusWord};
use p256::ecdsa::{DerSignature, SigningKey, signature::Signer};
use rand_core::OsRng;
use zeroize::Zeroizing;

use super::{ATTESTATION_CERT, Authenticator};
use cps_fido2::u2f::{control, ins};

/// The reserved first byte of a registration response (§4.3).
const REGISTER_RESERVED: u8 = 0x05;
/// The first byte of the registration signature input (§4.3: "a byte reserved for future
/// use [1 byte] with the value 0x00").
const REGISTER_SIGNED_PREFIX: u8 = 0x00;
/// User-presence bit of the authentication response (§5.4: bit 0).
const UP: u8 = 0x01;

fn status(sw: StatusWord) -> Response {
    Response::status(sw)
}

impl Authenticator {
    /// Whether a U2F command needs the user's presence before it runs (REGISTER, and
    /// AUTHENTICATE with enforce-user-presence).
    pub fn u2f_needs_presence(command: &Command) -> bool {
        match command.ins {
            ins::REGISTER => true,
            ins::AUTHENTICATE => command.p1 == control::ENFORCE_USER_PRESENCE,
            _ => false,
        }
    }

    /// Handles one complete U2F command (CLA `00`); `user_present` says whether the user
    /// confirmed presence for it. Never panics; malformed requests get a status word.
    pub fn u2f(&mut self, command: &Command, user_present: bool) -> Response {
        if !self.u2f_enabled() {
            return status(StatusWord::INS_NOT_SUPPORTED);
        }
        match command.ins {
            ins::VERSION => {
                if !command.data.is_empty() {
                    return status(StatusWord::WRONG_LENGTH);
                }
                Response::success(b"U2F_V2".to_vec())
            }
            ins::REGISTER => self.u2f_register(&command.data, user_present),
            ins::AUTHENTICATE => self.u2f_authenticate(command.p1, &command.data, user_present),
            _ => status(StatusWord::INS_NOT_SUPPORTED),
        }
    }

    /// REGISTER: challenge parameter (32) ‖ application parameter (32).
    fn u2f_register(&mut self, data: &[u8], user_present: bool) -> Response {
        let Some((challenge, application)) = data
            .split_first_chunk::<32>()
            .and_then(|(c, rest)| Some((c, <&[u8; 32]>::try_from(rest).ok()?)))
        else {
            return status(StatusWord::WRONG_LENGTH);
        };
        if !user_present {
            return status(StatusWord::CONDITIONS_NOT_SATISFIED);
        }
        let Some(att_key) = Self::attestation_key() else {
            return status(StatusWord::UNKNOWN_ERROR);
        };
        let signing = SigningKey::random(&mut OsRng);
        let key = Zeroizing::new(<[u8; 32]>::from(signing.to_bytes()));
        // credProtect 1 (userVerificationOptional): U2F has no extensions.
        let key_handle = self.wrap(application, &key, 1);
        let Ok(kh_len) = u8::try_from(key_handle.len()) else {
            return status(StatusWord::UNKNOWN_ERROR);
        };
        let public = signing.verifying_key().to_encoded_point(false);
        let public = public.as_bytes();
        // §4.3: signature over 00 ‖ application ‖ challenge ‖ key handle ‖ public key, with
        // the attestation key.
        let mut signed = vec![REGISTER_SIGNED_PREFIX];
        signed.extend_from_slice(application);
        signed.extend_from_slice(challenge);
        signed.extend_from_slice(&key_handle);
        signed.extend_from_slice(public);
        let sig: DerSignature = att_key.sign(&signed);
        let mut out = vec![REGISTER_RESERVED];
        out.extend_from_slice(public);
        out.push(kh_len);
        out.extend_from_slice(&key_handle);
        out.extend_from_slice(ATTESTATION_CERT);
        out.extend_from_slice(sig.as_bytes());
        Response::success(out)
    }

    /// AUTHENTICATE: challenge (32) ‖ application (32) ‖ L ‖ key handle (L).
    fn u2f_authenticate(&mut self, control_byte: u8, data: &[u8], user_present: bool) -> Response {
        let Some((challenge, rest)) = data.split_first_chunk::<32>() else {
            return status(StatusWord::WRONG_LENGTH);
        };
        let Some((application, rest)) = rest.split_first_chunk::<32>() else {
            return status(StatusWord::WRONG_LENGTH);
        };
        let Some((&len, key_handle)) = rest.split_first() else {
            return status(StatusWord::WRONG_LENGTH);
        };
        if key_handle.len() != usize::from(len) {
            return status(StatusWord::WRONG_LENGTH);
        }
        if !matches!(
            control_byte,
            control::ENFORCE_USER_PRESENCE
                | control::CHECK_ONLY
                | control::DONT_ENFORCE_USER_PRESENCE
        ) {
            return status(StatusWord::INCORRECT_P1P2);
        }
        // A credential of this card for this application; credProtect level 3
        // (userVerificationRequired) cannot be used without UV, which U2F has not
        // (CTAP 2.1 §12.1), so it is not "known" to U2F.
        let Some(found) = self
            .find(application, key_handle)
            .filter(|f| f.cred_protect < 3)
        else {
            return status(StatusWord::WRONG_DATA);
        };
        match control_byte {
            // §5.1: check-only answers "test-of-user-presence-required" for a valid handle.
            control::CHECK_ONLY => return status(StatusWord::CONDITIONS_NOT_SATISFIED),
            control::ENFORCE_USER_PRESENCE if !user_present => {
                return status(StatusWord::CONDITIONS_NOT_SATISFIED);
            }
            _ => {}
        }
        let presence = if control_byte == control::ENFORCE_USER_PRESENCE {
            UP
        } else {
            0
        };
        let Ok(signing) = SigningKey::from_bytes(found.key.as_ref().into()) else {
            return status(StatusWord::UNKNOWN_ERROR);
        };
        let counter = self.next_counter();
        // §5.4: signature over application ‖ user presence ‖ counter ‖ challenge.
        let mut signed = application.to_vec();
        signed.push(presence);
        signed.extend_from_slice(&counter.to_be_bytes());
        signed.extend_from_slice(challenge);
        let sig: DerSignature = signing.sign(&signed);
        let mut out = vec![presence];
        out.extend_from_slice(&counter.to_be_bytes());
        out.extend_from_slice(sig.as_bytes());
        Response::success(out)
    }
}
