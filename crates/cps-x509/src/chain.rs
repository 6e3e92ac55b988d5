//! Certification path validation, profiled for the IGC-Santé hierarchy (root → intermediate CA
//! → holder), after RFC 5280 §6.1 without policy processing, name constraints or revocation.

use crate::cert::{CpsCertificate, KeyUsage};
use crate::error::ChainError;
use crate::signature::{CertSigCheck, verify_cert_signature};
use crate::time::UnixTime;

/// Maximum number of CA certificates (intermediates + root) above the leaf. IGC-Santé paths
/// have two (root, intermediate); four leaves room for cross-certificates.
pub const MAX_CHAIN_CA_CERTIFICATES: usize = 4;

/// Verifies that `leaf` chains to one of `roots` through `intermediates`, at time `at`.
///
/// Checks, for every certificate of the path: validity at `at` (notBefore ≤ at ≤ notAfter);
/// no unprocessed critical extension; for each issuer: subject = child's issuer (binary DN
/// comparison), the child's signature verifies with the issuer's key (RSA PKCS#1 v1.5 with
/// SHA-256/384/512, ECDSA P-256 with SHA-256/384), basicConstraints cA = TRUE, keyUsage (if
/// present) has keyCertSign, pathLenConstraint respected; at most
/// [`MAX_CHAIN_CA_CERTIFICATES`] CA certificates. Trust anchors are taken as given (their
/// self-signature is not checked) but must be valid at `at` and be CAs. If several candidate
/// issuers exist, each is tried; the error reported is the last one met.
///
/// Not checked: revocation (CRL/OCSP), certificate policies, name constraints.
pub fn verify_chain(
    leaf: &CpsCertificate,
    intermediates: &[CpsCertificate],
    roots: &[CpsCertificate],
    at: UnixTime,
) -> Result<(), ChainError> {
    check_itself(leaf, at)?;
    if roots.iter().any(|r| r == leaf) {
        return Ok(());
    }
    let mut used = Vec::new();
    extend(leaf, 0, intermediates, roots, at, &mut used)
}

/// Validity and critical extensions of one certificate.
fn check_itself(cert: &CpsCertificate, at: UnixTime) -> Result<(), ChainError> {
    let v = cert.validity();
    if at < v.not_before {
        return Err(ChainError::NotYetValid {
            subject: cert.subject().to_string(),
            not_before: v.not_before,
        });
    }
    if at > v.not_after {
        return Err(ChainError::Expired {
            subject: cert.subject().to_string(),
            not_after: v.not_after,
        });
    }
    if let Some(oid) = cert.unhandled_critical_extensions().first() {
        return Err(ChainError::UnsupportedCriticalExtension {
            subject: cert.subject().to_string(),
            oid: *oid,
        });
    }
    Ok(())
}

/// Whether `issuer` may have issued `child`, `below` CA certificates under it (0 = the leaf's
/// issuer), and the signature verifies.
fn check_issuer(
    issuer: &CpsCertificate,
    child: &CpsCertificate,
    below: usize,
) -> Result<(), ChainError> {
    let subject = || issuer.subject().to_string();
    if !issuer.is_ca() {
        return Err(ChainError::NotCa { subject: subject() });
    }
    if let Some(ku) = issuer.key_usage() {
        if !ku.contains(KeyUsage::KEY_CERT_SIGN) {
            return Err(ChainError::NoKeyCertSign { subject: subject() });
        }
    }
    if let Some(max) = issuer.basic_constraints().and_then(|b| b.path_len) {
        if below > usize::from(max) {
            return Err(ChainError::PathLenExceeded { subject: subject() });
        }
    }
    match verify_cert_signature(child, issuer.public_key()) {
        CertSigCheck::Valid => Ok(()),
        CertSigCheck::Invalid => Err(ChainError::BadSignature {
            subject: child.subject().to_string(),
            issuer: subject(),
        }),
        CertSigCheck::Unsupported => Err(ChainError::UnsupportedAlgorithm {
            subject: child.subject().to_string(),
            algorithm: format!(
                "{} with a {} issuer key",
                child.signature_algorithm(),
                issuer.public_key().algorithm()
            ),
        }),
    }
}

/// Finds an issuer for `cert` (which sits `depth` CA certificates above the leaf's issuer
/// position) among the roots, else among the intermediates, recursively.
fn extend(
    cert: &CpsCertificate,
    depth: usize,
    intermediates: &[CpsCertificate],
    roots: &[CpsCertificate],
    at: UnixTime,
    used: &mut Vec<usize>,
) -> Result<(), ChainError> {
    if depth >= MAX_CHAIN_CA_CERTIFICATES {
        return Err(ChainError::PathTooLong {
            max: MAX_CHAIN_CA_CERTIFICATES,
        });
    }
    let issuer_der = cert.issuer().der();
    let mut last_err = None;
    // Self-issued intermediates (key rollover) do not count towards pathLenConstraint
    // (RFC 5280 §4.2.1.9); our paths have none, so `depth` is used as is.
    for root in roots.iter().filter(|r| r.subject().der() == issuer_der) {
        match check_issuer(root, cert, depth).and_then(|()| check_itself(root, at)) {
            Ok(()) => return Ok(()),
            Err(e) => last_err = Some(e),
        }
    }
    for (i, inter) in intermediates.iter().enumerate() {
        if inter.subject().der() != issuer_der || used.contains(&i) || inter == cert {
            continue;
        }
        let step = check_issuer(inter, cert, depth).and_then(|()| check_itself(inter, at));
        if let Err(e) = step {
            last_err = Some(e);
            continue;
        }
        used.push(i);
        match extend(inter, depth + 1, intermediates, roots, at, used) {
            Ok(()) => return Ok(()),
            Err(e) => last_err = Some(e),
        }
        used.pop();
    }
    Err(last_err.unwrap_or_else(|| ChainError::IssuerNotFound {
        issuer: cert.issuer().to_string(),
    }))
}
