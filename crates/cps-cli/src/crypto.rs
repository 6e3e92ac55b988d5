//! `cps sign`, `cps verify`, `cps auth-test`.

use std::io::Read;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use cps::iasecc::{Digest, KeyFamily, KeyRole, KeySelector, Pin, Signature};
use cps::x509::{CpsCertificate, SignedData};
use rand_core::RngCore;
use serde_json::json;
use sha2::Digest as _;

use crate::info::line;
use crate::secret::Secret;
use crate::{Ctx, Failure, fail};

/// Which card key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KeyName {
    /// The signature key (PSO COMPUTE DIGITAL SIGNATURE).
    Sign,
    /// The authentication key (CPS3: INTERNAL AUTHENTICATE; CPS4: PSO DECIPHER of the
    /// padded DigestInfo).
    Auth,
}

/// `cps sign`.
#[derive(Args, Debug)]
pub struct SignArgs {
    /// Which key signs.
    #[arg(long, value_enum, default_value_t = KeyName::Sign)]
    key: KeyName,
    /// The file to sign (its SHA-256 is signed).
    #[arg(long = "in", value_name = "FILE")]
    input: PathBuf,
    /// Where to write the signature (default: FILE.sig): RSA PKCS#1 v1.5 (what
    /// `openssl dgst -verify` reads), or RSA-PSS with --pss.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Also write the signer's certificate (PEM) here, for `cps verify --cert`.
    #[arg(long, value_name = "FILE")]
    cert_out: Option<PathBuf>,
    /// RSA-PSS (salt = hash length) instead of PKCS#1 v1.5: CPS4 only. Check it with `cps
    /// verify --pss`, or `openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt
    /// rsa_pss_saltlen:32 -verify`.
    #[arg(long)]
    pss: bool,
}

/// `cps verify`.
#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// The signed file.
    #[arg(long = "in", value_name = "FILE")]
    input: PathBuf,
    /// The signature file (default: FILE.sig).
    #[arg(long, value_name = "FILE")]
    sig: Option<PathBuf>,
    /// The signer's certificate (PEM or DER). Without it, the card's certificate of --key is
    /// used.
    #[arg(long, value_name = "FILE")]
    cert: Option<PathBuf>,
    /// Which card certificate, without --cert.
    #[arg(long, value_enum, default_value_t = KeyName::Sign)]
    key: KeyName,
    /// The signature is RSA-PSS (salt 32, MGF1-SHA-256), as `cps sign --pss` makes it.
    #[arg(long)]
    pss: bool,
}

/// `cps auth-test`.
#[derive(Args, Debug)]
pub struct AuthTestArgs {}

/// The card's RSA key for this use (CPS3 and CPS4 have RSA-2048 keys only).
fn selector(key: KeyName) -> KeySelector {
    let usage = match key {
        KeyName::Sign => KeyRole::Signature,
        KeyName::Auth => KeyRole::Authentication,
    };
    KeySelector::UsageIn(usage, KeyFamily::Rsa)
}

/// SHA-256 of a file, streamed.
fn file_digest(path: &Path) -> Result<Digest, Failure> {
    // Every problem with the file itself (missing, a directory, unreadable) is a usage
    // error, found before anything is sent to the card.
    let mut f = std::fs::File::open(path).map_err(|e| cannot_read(path, &e))?;
    match f.metadata() {
        Ok(m) if m.is_dir() => {
            return Err(Failure::usage(tr!(
                "crypto-is-a-directory",
                path = path.display().to_string()
            )));
        }
        Ok(_) => {}
        Err(e) => return Err(cannot_read(path, &e)),
    }
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f.read(&mut buf).map_err(|e| {
            Failure::new(
                1,
                tr!(
                    "crypto-reading",
                    path = path.display().to_string(),
                    error = e.to_string()
                ),
            )
        })?;
        if n == 0 {
            break;
        }
        h.update(buf.get(..n).unwrap_or_default());
    }
    Ok(Digest::sha256(h.finalize().into()))
}

/// A file that cannot be read: a usage error.
fn cannot_read(path: &Path, e: &std::io::Error) -> Failure {
    Failure::usage(tr!(
        "certs-cannot-read",
        path = path.display().to_string(),
        error = e.to_string()
    ))
}

/// A file that cannot be written.
fn cannot_write(path: &Path, e: &std::io::Error) -> Failure {
    Failure::new(
        1,
        tr!(
            "certs-cannot-write",
            path = path.display().to_string(),
            error = e.to_string()
        ),
    )
}

/// No certificate on the card for this key.
fn no_certificate(label: &str) -> Failure {
    Failure::new(5, tr!("crypto-no-certificate", key = label))
}

fn default_sig(input: &Path) -> PathBuf {
    let mut s = input.as_os_str().to_owned();
    s.push(".sig");
    PathBuf::from(s)
}

fn verify_pin(
    ctx: &mut Ctx,
    ias: &mut cps::iasecc::CpsCard<&mut cps::Channel>,
) -> Result<(), Failure> {
    let pin = ctx.secrets.read(Secret::Pin)?;
    let pin = Pin::new(&pin).map_err(fail)?;
    ias.verify_pin(&pin).map_err(fail)
}

/// `cps sign`.
pub fn sign(ctx: &mut Ctx, args: &SignArgs) -> Result<u8, Failure> {
    let digest = file_digest(&args.input)?;
    let mut card = ctx.card.open()?;
    let mut ias = card.iasecc()?;
    let sel = selector(args.key);
    if args.pss && ias.generation() != cps::iasecc::Generation::Cps4 {
        return Err(Failure::usage(tr!("crypto-pss-needs-cps4")));
    }
    verify_pin(ctx, &mut ias)?;
    let key = ias.resolve_key(sel.clone()).map_err(fail)?;
    let sig: Signature = match (args.key, args.pss) {
        (_, true) => ias.sign_pss(sel, &digest),
        (KeyName::Sign, false) => ias.sign(sel, &digest),
        (KeyName::Auth, false) => ias.authenticate_with(sel, &digest),
    }
    .map_err(fail)?;
    let der = sig.to_der().map_err(fail)?;
    let out = args.out.clone().unwrap_or_else(|| default_sig(&args.input));
    std::fs::write(&out, &der).map_err(|e| cannot_write(&out, &e))?;
    if let Some(path) = &args.cert_out {
        let cert = ias
            .certificate_for(&key)
            .map_err(fail)?
            .ok_or_else(|| no_certificate(&key.label))?;
        std::fs::write(path, cps::x509::pem::certificate_der_to_pem(&cert.der))
            .map_err(|e| cannot_write(path, &e))?;
    }
    if ctx.json {
        crate::emit(json!({
            "key": key.label,
            "algorithm": key.algorithm.to_string(),
            "sha256": hex::encode(digest.as_bytes()),
            "signature_file": out.display().to_string(),
            "signature_bytes": der.len(),
            "apdus": ias.round_trips(),
        }));
    } else {
        line(
            &tr!("label-key"),
            format!("{} ({})", key.label, key.algorithm),
        );
        line("SHA-256", hex::encode(digest.as_bytes()));
        line(
            &tr!("label-signature"),
            tr!(
                "crypto-file-bytes",
                path = out.display().to_string(),
                n = der.len()
            ),
        );
    }
    Ok(0)
}

fn algorithm_for(
    cert: &CpsCertificate,
    pss: bool,
) -> Result<cps::x509::SignatureAlgorithm, Failure> {
    match cert.public_key().algorithm() {
        cps::x509::KeyAlgorithm::Rsa { .. } if pss => {
            Ok(cps::x509::SignatureAlgorithm::RSA_PSS_SHA256)
        }
        cps::x509::KeyAlgorithm::Rsa { .. } => {
            Ok(cps::x509::SignatureAlgorithm::RSA_PKCS1V15_SHA256)
        }
        cps::x509::KeyAlgorithm::EcP256 => Ok(cps::x509::SignatureAlgorithm::ECDSA_SHA256),
        other => Err(Failure::new(
            8,
            tr!("crypto-unsupported-key", key = other.to_string()),
        )),
    }
}

/// `cps verify`: exit code 8 when the signature does not verify.
pub fn verify(ctx: &mut Ctx, args: &VerifyArgs) -> Result<u8, Failure> {
    let digest = file_digest(&args.input)?;
    let sig_path = args.sig.clone().unwrap_or_else(|| default_sig(&args.input));
    let sig = std::fs::read(&sig_path).map_err(|e| cannot_read(&sig_path, &e))?;
    let cert = match &args.cert {
        Some(path) => crate::certs::read_certificates(path)?
            .into_iter()
            .next()
            .ok_or_else(|| Failure::usage(tr!("crypto-no-certificate-in-file")))?,
        None => {
            let mut card = ctx.card.open()?;
            let mut ias = card.iasecc()?;
            let key = ias.resolve_key(selector(args.key)).map_err(fail)?;
            ias.certificate_for(&key)
                .map_err(fail)?
                .and_then(|c| c.parsed)
                .ok_or_else(|| no_certificate(&key.label))?
        }
    };
    let alg = algorithm_for(&cert, args.pss)?;
    let result = cps::x509::verify_signature(
        &cert,
        SignedData::Sha256Digest(digest.as_bytes()),
        alg,
        &sig,
    );
    if ctx.json {
        crate::emit(json!({
            "valid": result.is_ok(),
            "error": result.as_ref().err().map(ToString::to_string),
            "signer": cert.subject().to_string(),
            "algorithm": alg.name(),
        }));
    } else {
        match &result {
            Ok(()) => out!(
                "{}",
                tr!(
                    "crypto-signature-ok",
                    algorithm = alg.name(),
                    signer = cert.subject().to_string()
                )
            ),
            Err(e) => out!("{}", tr!("crypto-signature-invalid", error = e.to_string())),
        }
    }
    match result {
        Ok(()) => Ok(0),
        Err(e) => Err(Failure::new(
            8,
            tr!("crypto-verify-failed", error = e.to_string()),
        )),
    }
}

/// `cps auth-test`: a random challenge signed by the authentication key, verified with the
/// card's authentication certificate. Exit code 8 when it does not verify.
pub fn auth_test(ctx: &mut Ctx, _args: &AuthTestArgs) -> Result<u8, Failure> {
    let mut challenge = [0u8; 32];
    rand_core::OsRng.fill_bytes(&mut challenge);
    let digest = Digest::sha256_of(&challenge);
    let mut card = ctx.card.open()?;
    let mut ias = card.iasecc()?;
    verify_pin(ctx, &mut ias)?;
    let sel = selector(KeyName::Auth);
    let key = ias.resolve_key(sel.clone()).map_err(fail)?;
    let sig = ias.authenticate_with(sel, &digest).map_err(fail)?;
    let cert = ias
        .certificate_for(&key)
        .map_err(fail)?
        .and_then(|c| c.parsed)
        .ok_or_else(|| no_certificate(&key.label))?;
    let result = sig.verify(&cert, &digest);
    if ctx.json {
        crate::emit(json!({
            "key": key.label,
            "algorithm": key.algorithm.to_string(),
            "challenge": hex::encode(challenge),
            "response_bytes": sig.as_bytes().len(),
            "certificate": cert.subject().to_string(),
            "verified": result.is_ok(),
        }));
    } else {
        line(
            &tr!("label-key"),
            format!("{} ({})", key.label, key.algorithm),
        );
        line(&tr!("label-challenge"), hex::encode(challenge));
        line(
            &tr!("label-response"),
            tr!("crypto-bytes", n = sig.as_bytes().len()),
        );
        line(&tr!("label-certificate"), cert.subject());
        match &result {
            Ok(()) => line(&tr!("label-result"), tr!("crypto-auth-ok")),
            Err(e) => line(
                &tr!("label-result"),
                tr!("crypto-auth-failed", error = e.to_string()),
            ),
        }
    }
    match result {
        Ok(()) => Ok(0),
        Err(e) => Err(Failure::new(
            8,
            tr!("crypto-auth-test-failed", error = cps::describe(&e)),
        )),
    }
}
