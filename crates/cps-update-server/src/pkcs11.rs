//! The issuer's master key in a PKCS#11 token (an HSM; SoftHSM2 in CI).
//!
//! The card keys K-ENC and K-MAC are `KDF(master, 0x70, label ‖ serial)`, the SCP03 KDF whose
//! PRF is AES-CMAC (`docs/remote-update.md`, "Keys and secure channel"): [`Pkcs11Keys`] has
//! the token compute that CMAC (`C_Sign` with `CKM_AES_CMAC`) on a secret key object that is
//! sensitive and not extractable, so the master key never enters the server's memory; only
//! the derived keys of the card being served do. Certificates are still signed by the
//! in-process CA key of [`InProcessKeys`] (a PKCS#11 CA signer needs a signing hook in
//! cps-x509's issuance, not there yet).

use std::path::Path;
use std::sync::Mutex;

use cps_update::issuer::{InProcessKeys, IssuerKeys};
use cps_update::relay::ServiceError;
use cps_update::scp::StaticKeys;
use cps_x509::HolderCertificateRequest;
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;

use crate::ServerError;

/// The SCP03 KDF constant of the static card keys, and their length in bits.
const KDF_CONSTANT: u8 = 0x70;
const KEY_BITS: u16 = 128;

fn p11(e: cryptoki::error::Error) -> ServerError {
    ServerError::Issuer(format!("PKCS#11: {e}"))
}

fn open_session(module: &Path, token: &str, pin: &str) -> Result<(Pkcs11, Session), ServerError> {
    let ctx = Pkcs11::new(module).map_err(p11)?;
    ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .map_err(p11)?;
    let slot: Slot = ctx
        .get_slots_with_initialized_token()
        .map_err(p11)?
        .into_iter()
        .find(|s| {
            ctx.get_token_info(*s)
                .is_ok_and(|i| i.label().trim_end() == token)
        })
        .ok_or_else(|| ServerError::Issuer(format!("PKCS#11: no token labelled {token:?}")))?;
    let session = ctx.open_rw_session(slot).map_err(p11)?;
    session
        .login(UserType::User, Some(&AuthPin::new(pin.into())))
        .map_err(p11)?;
    Ok((ctx, session))
}

fn find_key(session: &Session, label: &str) -> Result<Option<ObjectHandle>, ServerError> {
    Ok(session
        .find_objects(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::Label(label.as_bytes().to_vec()),
        ])
        .map_err(p11)?
        .into_iter()
        .next())
}

/// Issuer keys with the master key in a PKCS#11 token.
pub struct Pkcs11Keys {
    // Field order: the session closes before the library is finalised.
    session: Mutex<Session>,
    _ctx: Pkcs11,
    master: ObjectHandle,
    ca: InProcessKeys,
}

impl std::fmt::Debug for Pkcs11Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pkcs11Keys(..)")
    }
}

impl Pkcs11Keys {
    /// Opens the token labelled `token` of `module` with the user PIN and finds the AES key
    /// labelled `master_label`; `ca` signs certificates.
    pub fn open(
        module: &Path,
        token: &str,
        pin: &str,
        master_label: &str,
        ca: InProcessKeys,
    ) -> Result<Self, ServerError> {
        let (ctx, session) = open_session(module, token, pin)?;
        let master = find_key(&session, master_label)?.ok_or_else(|| {
            ServerError::Issuer(format!("PKCS#11: no secret key labelled {master_label:?}"))
        })?;
        Ok(Pkcs11Keys {
            session: Mutex::new(session),
            _ctx: ctx,
            master,
            ca,
        })
    }

    /// Puts an AES-128 master key into the token (the key ceremony's step, not the server's):
    /// a token object, sensitive, not extractable, usable only to compute CMACs. Does nothing
    /// if a key with that label is already there; whether it was created.
    pub fn provision_master(
        module: &Path,
        token: &str,
        pin: &str,
        master_label: &str,
        key: &[u8; 16],
    ) -> Result<bool, ServerError> {
        let (_ctx, session) = open_session(module, token, pin)?;
        if find_key(&session, master_label)?.is_some() {
            return Ok(false);
        }
        session
            .create_object(&[
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(KeyType::AES),
                Attribute::Value(key.to_vec()),
                Attribute::Label(master_label.as_bytes().to_vec()),
                Attribute::Token(true),
                Attribute::Private(true),
                Attribute::Sensitive(true),
                Attribute::Extractable(false),
                Attribute::Sign(true),
                Attribute::Verify(true),
                Attribute::Encrypt(false),
                Attribute::Decrypt(false),
                Attribute::Wrap(false),
                Attribute::Unwrap(false),
                Attribute::Derive(false),
            ])
            .map_err(p11)?;
        Ok(true)
    }

    /// One SCP03 KDF output block computed by the token: `CMAC(master, 00×11 ‖ constant ‖ 00
    /// ‖ L ‖ 01 ‖ context)` (128 bits: one block).
    fn derive(&self, session: &Session, context: &[u8]) -> Result<[u8; 16], ServiceError> {
        let mut data = vec![0u8; 11];
        data.push(KDF_CONSTANT);
        data.push(0x00);
        data.extend_from_slice(&KEY_BITS.to_be_bytes());
        data.push(0x01);
        data.extend_from_slice(context);
        let out = zeroize::Zeroizing::new(
            session
                .sign(&Mechanism::AesCMac, self.master, &data)
                .map_err(|e| ServiceError(format!("PKCS#11 CMAC: {e}")))?,
        );
        out.as_slice()
            .try_into()
            .map_err(|_| ServiceError("PKCS#11 CMAC: not 16 bytes".into()))
    }
}

impl IssuerKeys for Pkcs11Keys {
    fn card_keys(&self, serial: &[u8]) -> Result<StaticKeys, ServiceError> {
        let session = self
            .session
            .lock()
            .map_err(|_| ServiceError("PKCS#11 session poisoned".into()))?;
        let ctx = |label: &[u8]| [label, serial].concat();
        let enc = self.derive(&session, &ctx(b"cps-update K-ENC"))?;
        let mac = self.derive(&session, &ctx(b"cps-update K-MAC"))?;
        Ok(StaticKeys::new(enc, mac))
    }

    fn issue(&self, request: &HolderCertificateRequest<'_>) -> Result<Vec<u8>, ServiceError> {
        self.ca.issue(request)
    }
}
