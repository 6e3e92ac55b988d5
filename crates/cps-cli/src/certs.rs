//! `cps certs list|export|verify`.

use std::path::{Path, PathBuf};

use clap::{Subcommand, ValueEnum};
use cps::x509::{CpsCertificate, verify_chain};
use serde_json::json;

use crate::info::{cert_json, line, renewal_text, usage_text};
use crate::{Ctx, Failure, fail};

/// Certificate file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// PEM (text, `-----BEGIN CERTIFICATE-----`).
    Pem,
    /// DER (binary).
    Der,
}

/// `cps certs` subcommands.
#[derive(Subcommand, Debug)]
pub enum CertsCmd {
    /// List the certificates with their validity and renewal status (default).
    List,
    /// Write the certificates to files (one per certificate, named after its label).
    Export {
        /// Directory to write to (created if missing).
        #[arg(long, default_value = ".")]
        out: PathBuf,
        /// File format.
        #[arg(long, value_enum, default_value_t = Format::Pem)]
        format: Format,
    },
    /// Verify each holder certificate's chain up to a trusted root.
    Verify {
        /// The trusted root certificate(s): PEM (one or more) or DER file.
        #[arg(long)]
        root: PathBuf,
        /// Intermediate CA certificates (PEM bundle or DER), besides those on the card.
        #[arg(long)]
        intermediates: Option<PathBuf>,
    },
}

/// Reads one or more certificates from a PEM or DER file.
pub fn read_certificates(path: &Path) -> Result<Vec<CpsCertificate>, Failure> {
    let bytes = std::fs::read(path).map_err(|e| {
        Failure::usage(tr!(
            "certs-cannot-read",
            path = path.display().to_string(),
            error = e.to_string()
        ))
    })?;
    let bad = |e: &dyn std::fmt::Display| {
        Failure::usage(tr!(
            "certs-not-a-certificate-file",
            path = path.display().to_string(),
            error = e.to_string()
        ))
    };
    if cps::x509::pem::looks_like_pem(&bytes) {
        let text = std::str::from_utf8(&bytes).map_err(|e| bad(&e))?;
        let blocks = cps::x509::pem::pem_blocks(text).map_err(|e| bad(&e))?;
        let certs = blocks
            .iter()
            .filter(|(label, _)| label == "CERTIFICATE")
            .map(|(_, der)| CpsCertificate::from_der(der).map_err(|e| bad(&e)))
            .collect::<Result<Vec<_>, _>>()?;
        if certs.is_empty() {
            return Err(bad(&"no CERTIFICATE block"));
        }
        Ok(certs)
    } else {
        Ok(vec![CpsCertificate::from_der(&bytes).map_err(|e| bad(&e))?])
    }
}

/// A file name from a certificate label.
fn file_stem(label: &str, index: usize) -> String {
    let s: String = label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() {
        format!("certificate-{index}")
    } else {
        s
    }
}

/// Runs a `cps certs` subcommand.
pub fn run(ctx: &mut Ctx, cmd: CertsCmd) -> Result<u8, Failure> {
    let at = ctx.card.at()?;
    let mut card = ctx.card.open()?;
    let mut ias = card.iasecc()?;
    let certs = ias.certificates().map_err(fail)?;
    match cmd {
        CertsCmd::List => {
            let infos: Vec<_> = certs
                .iter()
                .filter_map(|c| cps::certificate_info(c, at))
                .collect();
            if ctx.json {
                let list: Vec<_> = infos.iter().map(cert_json).collect();
                crate::emit(json!(list));
                return Ok(0);
            }
            for (i, c) in infos.iter().enumerate() {
                if i > 0 {
                    out!();
                }
                line(&tr!("label-cert-label"), &c.label);
                line(&tr!("label-usage"), usage_text(c.usage));
                line(&tr!("label-key"), &c.algorithm);
                line(&tr!("label-subject"), &c.subject);
                line(&tr!("label-issuer"), &c.issuer);
                line(&tr!("label-cert-serial"), &c.serial);
                line(
                    &tr!("label-validity"),
                    format!("{} → {}", c.not_before.date(), c.not_after.date()),
                );
                line(
                    &tr!("label-status"),
                    renewal_text(&c.renewal, &c.not_after.date()),
                );
            }
            Ok(0)
        }
        CertsCmd::Export { out, format } => {
            std::fs::create_dir_all(&out).map_err(|e| {
                Failure::new(
                    1,
                    tr!(
                        "certs-cannot-create",
                        path = out.display().to_string(),
                        error = e.to_string()
                    ),
                )
            })?;
            let mut written = Vec::new();
            for (i, c) in certs.iter().enumerate() {
                let stem = file_stem(c.label.as_deref().unwrap_or(""), i);
                let (ext, bytes) = match format {
                    Format::Pem => (
                        "pem",
                        cps::x509::pem::certificate_der_to_pem(&c.der).into_bytes(),
                    ),
                    Format::Der => ("der", c.der.clone()),
                };
                let path = out.join(format!("{stem}.{ext}"));
                std::fs::write(&path, bytes).map_err(|e| {
                    Failure::new(
                        1,
                        tr!(
                            "certs-cannot-write",
                            path = path.display().to_string(),
                            error = e.to_string()
                        ),
                    )
                })?;
                written.push(path.display().to_string());
            }
            if ctx.json {
                crate::emit(json!({ "written": written }));
            } else {
                for w in &written {
                    out!("{}", tr!("certs-wrote", path = w.as_str()));
                }
            }
            Ok(0)
        }
        CertsCmd::Verify {
            root,
            intermediates,
        } => {
            let roots = read_certificates(&root)?;
            let mut inter = match &intermediates {
                Some(p) => read_certificates(p)?,
                None => Vec::new(),
            };
            inter.extend(
                certs
                    .iter()
                    .filter(|c| c.authority)
                    .filter_map(|c| c.parsed.clone()),
            );
            let mut results = Vec::new();
            let mut all_ok = true;
            for c in certs.iter().filter(|c| !c.authority) {
                let label = c.label.clone().unwrap_or_default();
                let outcome = match &c.parsed {
                    Some(p) => verify_chain(p, &inter, &roots, at).map_err(|e| e.to_string()),
                    None => Err(c
                        .parse()
                        .err()
                        .map_or_else(|| "unparsable".to_owned(), |e| e.to_string())),
                };
                all_ok &= outcome.is_ok();
                results.push((label, outcome));
            }
            if ctx.json {
                let list: Vec<_> = results
                    .iter()
                    .map(
                        |(l, r)| json!({"label": l, "valid": r.is_ok(), "error": r.as_ref().err()}),
                    )
                    .collect();
                crate::emit(json!({"at": at.to_string(), "certificates": list}));
            } else {
                for (l, r) in &results {
                    match r {
                        Ok(()) => out!(
                            "{}",
                            tr!(
                                "certs-chain-ok",
                                label = l.as_str(),
                                root = root.display().to_string()
                            )
                        ),
                        Err(e) => out!(
                            "{}",
                            tr!(
                                "certs-chain-invalid",
                                label = l.as_str(),
                                error = e.as_str()
                            )
                        ),
                    }
                }
            }
            if all_ok {
                Ok(0)
            } else {
                Err(Failure::new(8, tr!("certs-verify-failed")))
            }
        }
    }
}
