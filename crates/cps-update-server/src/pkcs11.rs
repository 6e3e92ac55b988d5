//! The issuer's master key in a PKCS#11 token (an HSM; SoftHSM2 in CI).
//!
//! The card keys K-ENC and K-MAC are `KDF(master, 0x70, label ‖ serial)`, the SCP03 KDF whose
//! PRF is AES-CMAC (`docs/remote-update.md`, "Keys and secure channel"): [`Pkcs11Keys`] has
//! the token compute that CMAC (`C_Sign` with `CKM_AES_CMAC`) on a secret key object that is
//! sensitive and not extractable, so the master key never enters the server's memory; only
//! the derived keys of the card being served do. The CA key that signs renewed certificates
//! can be in the token too ([`Pkcs11Keys::with_token_ca`]): an RSA private key object,
//! sensitive and not extractable, that signs the to-be-signed bytes of each certificate
//! (`C_Sign` with `CKM_SHA256_RSA_PKCS`, through cps-x509's [`CertificateSigner`] hook);
//! otherwise the in-process CA key of [`InProcessKeys`] signs.

use std::path::Path;
use std::sync::Mutex;

use cps_update::issuer::{InProcessKeys, IssuerKeys};
use cps_update::relay::ServiceError;
use cps_update::scp::StaticKeys;
use cps_x509::{
    CertificateSigner, CpsCertificate, HolderCertificateRequest, IssueError, KeyAlgorithm,
    KeyError, PrivateKey,
};
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
    find_object(session, ObjectClass::SECRET_KEY, label)
}

fn find_object(
    session: &Session,
    class: ObjectClass,
    label: &str,
) -> Result<Option<ObjectHandle>, ServerError> {
    Ok(session
        .find_objects(&[
            Attribute::Class(class),
            Attribute::Label(label.as_bytes().to_vec()),
        ])
        .map_err(p11)?
        .into_iter()
        .next())
}

/// Who signs renewed certificates.
enum Ca {
    /// The in-process CA key.
    InProcess(Box<InProcessKeys>),
    /// An RSA private key object of the token, with the CA certificate it matches.
    Token {
        key: ObjectHandle,
        cert: Box<CpsCertificate>,
    },
}

/// The token's CA key as cps-x509 sees it: to-be-signed bytes in, signature out.
struct TokenSigner<'a> {
    session: &'a Session,
    key: ObjectHandle,
    cert: &'a CpsCertificate,
}

impl CertificateSigner for TokenSigner<'_> {
    fn key_algorithm(&self) -> KeyAlgorithm {
        self.cert.public_key().algorithm()
    }

    fn public_key_spki_der(&self) -> Result<Vec<u8>, IssueError> {
        Ok(self.cert.public_key().spki_der().to_vec())
    }

    fn sign_certificate(&self, tbs_der: &[u8]) -> Result<Vec<u8>, IssueError> {
        self.session
            .sign(&Mechanism::Sha256RsaPkcs, self.key, tbs_der)
            .map_err(|e| IssueError::Key(KeyError::Sign(format!("PKCS#11 C_Sign: {e}"))))
    }
}

/// Issuer keys with the master key in a PKCS#11 token.
pub struct Pkcs11Keys {
    // Field order: the session closes before the library is finalised.
    session: Mutex<Session>,
    _ctx: Pkcs11,
    master: ObjectHandle,
    ca: Ca,
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
            ca: Ca::InProcess(Box::new(ca)),
        })
    }

    /// Signs renewed certificates with the RSA private key labelled `ca_label` in the token
    /// (it never leaves it) instead of the in-process CA key; `ca_cert` is its certificate.
    /// Checked before use: the certificate is a CA's, and a probe signature by the token
    /// verifies with the certificate's public key.
    pub fn with_token_ca(
        mut self,
        ca_label: &str,
        ca_cert: CpsCertificate,
    ) -> Result<Self, ServerError> {
        if !matches!(ca_cert.public_key().algorithm(), KeyAlgorithm::Rsa { .. }) || !ca_cert.is_ca()
        {
            return Err(ServerError::Issuer(
                "PKCS#11 CA: the certificate must be an RSA CA certificate".into(),
            ));
        }
        let key = {
            let session = self
                .session
                .lock()
                .map_err(|_| ServerError::Issuer("PKCS#11 session poisoned".into()))?;
            let key =
                find_object(&session, ObjectClass::PRIVATE_KEY, ca_label)?.ok_or_else(|| {
                    ServerError::Issuer(format!("PKCS#11: no private key labelled {ca_label:?}"))
                })?;
            let probe = b"cps-update-server: CA key check";
            let sig = session
                .sign(&Mechanism::Sha256RsaPkcs, key, probe)
                .map_err(p11)?;
            cps_x509::verify_signature(
                &ca_cert,
                cps_x509::SignedData::Message(probe),
                cps_x509::SignatureAlgorithm::RSA_PKCS1V15_SHA256,
                &sig,
            )
            .map_err(|_| {
                ServerError::Issuer(format!(
                    "PKCS#11: the key {ca_label:?} does not match the CA certificate {}",
                    ca_cert.subject()
                ))
            })?;
            key
        };
        self.ca = Ca::Token {
            key,
            cert: Box::new(ca_cert),
        };
        Ok(self)
    }

    /// Puts an RSA CA private key into the token (the key ceremony's step, not the server's):
    /// a token object, sensitive, not extractable, usable only to sign. Does nothing if a
    /// private key with that label is already there; whether it was created.
    pub fn provision_ca(
        module: &Path,
        token: &str,
        pin: &str,
        ca_label: &str,
        key: &PrivateKey,
    ) -> Result<bool, ServerError> {
        use rsa::traits::{PrivateKeyParts, PublicKeyParts};
        let PrivateKey::Rsa(k) = key else {
            return Err(ServerError::Issuer(
                "PKCS#11 CA: an RSA key is needed".into(),
            ));
        };
        let (_ctx, session) = open_session(module, token, pin)?;
        if find_object(&session, ObjectClass::PRIVATE_KEY, ca_label)?.is_some() {
            return Ok(false);
        }
        let big = |n: &rsa::BigUint| n.to_bytes_be();
        let primes = k.primes();
        let (Some(p), Some(q), Some(dp), Some(dq), Some(qinv)) = (
            primes.first(),
            primes.get(1),
            k.dp(),
            k.dq(),
            k.crt_coefficient(),
        ) else {
            return Err(ServerError::Issuer(
                "PKCS#11 CA: the key has no CRT parameters".into(),
            ));
        };
        let mut template = vec![
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::KeyType(KeyType::RSA),
            Attribute::Label(ca_label.as_bytes().to_vec()),
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Sign(true),
            Attribute::Decrypt(false),
            Attribute::Unwrap(false),
            Attribute::Derive(false),
            Attribute::Modulus(big(k.n())),
            Attribute::PublicExponent(big(k.e())),
            Attribute::PrivateExponent(big(k.d())),
            Attribute::Prime1(big(p)),
            Attribute::Prime2(big(q)),
            Attribute::Exponent1(big(dp)),
            Attribute::Exponent2(big(dq)),
            Attribute::Coefficient(qinv.to_bytes_be()),
        ];
        let r = session.create_object(&template);
        // The private values in the template are wiped whatever happened.
        for a in &mut template {
            if let Attribute::PrivateExponent(v)
            | Attribute::Prime1(v)
            | Attribute::Prime2(v)
            | Attribute::Exponent1(v)
            | Attribute::Exponent2(v)
            | Attribute::Coefficient(v) = a
            {
                zeroize::Zeroize::zeroize(v);
            }
        }
        r.map_err(p11)?;
        Ok(true)
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
        match &self.ca {
            Ca::InProcess(keys) => keys.issue(request),
            Ca::Token { key, cert } => {
                let session = self
                    .session
                    .lock()
                    .map_err(|_| ServiceError("PKCS#11 session poisoned".into()))?;
                let signer = TokenSigner {
                    session: &session,
                    key: *key,
                    cert,
                };
                cps_x509::issue_holder_certificate_with(&signer, cert, request)
                    .map_err(|e| ServiceError(format!("certificate: {e}")))
            }
        }
    }
}
