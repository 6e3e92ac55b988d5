//! Generates the cps-rs test PKI into `testvectors/pki` (see its README.md).
//!
//! ```text
//! cargo run --release -p cps-x509 --example gen_test_pki -- testvectors/pki \
//!     [--holder-not-before 2025-07-01] [--holder-years 3] [--regen-keys]
//! ```
//!
//! Keys are generated once, deterministically: key `<label>` (e.g. `cps3/dr-martin/auth`, the v1
//! name of `rsa2048/dr-martin/auth`) comes
//! from a ChaCha20 RNG (rand_chacha 0.9) seeded with SHA-256(`"cps-rs test-pki v1 " + label`).
//! An existing key file is reused unless `--regen-keys` is given, so re-running the generator
//! (e.g. with another holder validity) re-issues certificates for the same keys. RSA PKCS#1 v1.5
//! and RFC 6979 ECDSA signatures are deterministic: the output is reproducible byte for byte.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use cps_x509::oids;
use cps_x509::{
    CaCertificateRequest, CaSubject, CertUsage, CpsCertificate, HolderCertificateRequest,
    HolderSubject, PrivateKey, UnixTime, Validity, issue_holder_certificate,
    issue_intermediate_certificate, issue_root_certificate, verify_chain,
};
use rand_chacha::rand_core::{RngCore as _, SeedableRng as _};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

type Error = Box<dyn std::error::Error>;

/// rand_chacha 0.9 speaks rand_core 0.9; rsa 0.9 and p256 0.13 want rand_core 0.6.
struct Rng06(rand_chacha::ChaCha20Rng);

impl rand_core::RngCore for Rng06 {
    fn next_u32(&mut self) -> u32 {
        self.0.next_u32()
    }
    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.0.fill_bytes(dest)
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.0.fill_bytes(dest);
        Ok(())
    }
}

impl rand_core::CryptoRng for Rng06 {}

#[derive(Clone, Copy)]
enum KeyKind {
    Rsa(usize),
    P256,
}

struct Ctx {
    out: PathBuf,
    regen: bool,
    index: Vec<Value>,
}

impl Ctx {
    /// The key stored as `<label>.key.pem`, generated from `seed_label` if absent.
    fn key(&mut self, label: &str, seed_label: &str, kind: KeyKind) -> Result<PrivateKey, Error> {
        let path = self.out.join(format!("{label}.key.pem"));
        if path.exists() && !self.regen {
            return Ok(PrivateKey::from_pkcs8_pem(&std::fs::read_to_string(
                &path,
            )?)?);
        }
        let seed: [u8; 32] = Sha256::digest(format!("cps-rs test-pki v1 {seed_label}")).into();
        let mut rng = Rng06(rand_chacha::ChaCha20Rng::from_seed(seed));
        let key = match kind {
            KeyKind::Rsa(bits) => {
                eprintln!("generating RSA-{bits} key {label} ...");
                PrivateKey::Rsa(Box::new(rsa::RsaPrivateKey::new(&mut rng, bits)?))
            }
            KeyKind::P256 => PrivateKey::P256(p256::ecdsa::SigningKey::random(&mut rng)),
        };
        write(&path, key.to_pkcs8_pem()?.as_bytes())?;
        Ok(key)
    }

    /// Writes `<stem>.crt.pem` and `<stem>.crt.der` and records the certificate in the index.
    fn cert(
        &mut self,
        stem: &str,
        der: &[u8],
        key_label: &str,
        seed_label: &str,
        meta: Value,
    ) -> Result<CpsCertificate, Error> {
        let cert = CpsCertificate::from_der(der)?;
        write(&self.out.join(format!("{stem}.crt.der")), der)?;
        write(
            &self.out.join(format!("{stem}.crt.pem")),
            cert.to_pem().as_bytes(),
        )?;
        let mut entry = json!({
            "cert_pem": format!("{stem}.crt.pem"),
            "cert_der": format!("{stem}.crt.der"),
            "key_pem": format!("{key_label}.key.pem"),
            "key_seed_label": format!("cps-rs test-pki v1 {seed_label}"),
            "algorithm": cert.public_key().algorithm().to_string(),
            "serial": cert.serial_hex(),
            "subject": cert.subject().to_string(),
            "issuer": cert.issuer().to_string(),
            "not_before": cert.not_before().to_string(),
            "not_after": cert.not_after().to_string(),
            "policies": cert.policies().iter().map(|p| p.to_string()).collect::<Vec<_>>(),
        });
        if let (Some(e), Some(m)) = (entry.as_object_mut(), meta.as_object()) {
            e.extend(m.clone());
        }
        self.index.push(entry);
        Ok(cert)
    }
}

fn write(path: &Path, data: &[u8]) -> Result<(), Error> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, data)?;
    Ok(())
}

fn date(s: &str) -> Result<UnixTime, Error> {
    UnixTime::parse(s).ok_or_else(|| format!("bad date {s:?} (YYYY-MM-DD)").into())
}

fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// The holder subject of a persona (layout and assumptions: testvectors/pki/README.md).
fn holder_subject(p: &Value) -> Result<HolderSubject, Error> {
    let id = str_field(p, "id").unwrap_or("?");
    let need = |k: &str| -> Result<String, Error> {
        str_field(p, k)
            .map(str::to_owned)
            .ok_or_else(|| format!("persona {id}: missing {k}").into())
    };
    let family = need("family")?;
    let given = p
        .get("given_names")
        .and_then(|g| g.get(0))
        .and_then(Value::as_str)
        .ok_or_else(|| format!("persona {id}: no given name"))?;
    let situation = p.get("situations").and_then(|s| s.get(0));
    let (organisation, unit, title) = match family.as_str() {
        // Health professionals (and students): no structure in the DN (one card, several
        // practice situations); title = profession label. "O" marks the test PKI.
        "CPS" | "CPF" => (
            Some("CPS-RS TEST PKI".to_owned()),
            None,
            p.get("profession")
                .and_then(|x| str_field(x, "label"))
                .map(str::to_owned),
        ),
        // Structure staff: O = structure (marked TEST), OU = type digit + structure id.
        "CDE" | "CPE" => {
            let s = situation.ok_or_else(|| format!("persona {id}: no situation"))?;
            let name = str_field(s, "structure_name").unwrap_or("?");
            let unit = format!(
                "{}{}",
                str_field(s, "structure_id_type").unwrap_or(""),
                str_field(s, "structure_id").unwrap_or("")
            );
            let title = if family == "CDE" {
                "Directeur d'établissement"
            } else {
                "Personnel d'établissement"
            };
            (
                Some(format!("{name} - CPS-RS TEST")),
                Some(unit),
                Some(title.to_owned()),
            )
        }
        other => return Err(format!("persona {id}: unknown card family {other}").into()),
    };
    Ok(HolderSubject {
        country: "FR".to_owned(),
        organisation,
        organisational_unit: unit,
        title,
        national_id: need("national_id")?,
        family_name: need("family_name")?.to_uppercase(),
        given_name: given.to_uppercase(),
    })
}

fn main() -> Result<(), Error> {
    let mut out = PathBuf::from("testvectors/pki");
    let mut holder_not_before = date("2025-07-01")?;
    let mut holder_years: u16 = 3;
    let mut regen = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--holder-not-before" => holder_not_before = date(&args.next().ok_or("value")?)?,
            "--holder-years" => holder_years = args.next().ok_or("value")?.parse()?,
            "--regen-keys" => regen = true,
            "-h" | "--help" => {
                println!(
                    "gen_test_pki [OUT_DIR] [--holder-not-before YYYY-MM-DD] [--holder-years N] [--regen-keys]"
                );
                return Ok(());
            }
            other if !other.starts_with('-') => out = PathBuf::from(other),
            other => return Err(format!("unknown option {other}").into()),
        }
    }
    let personas: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("personas.json"))?)?;
    let personas = personas
        .get("personas")
        .and_then(Value::as_array)
        .ok_or("personas.json: no personas array")?
        .clone();
    let mut ctx = Ctx {
        out: out.clone(),
        regen,
        index: Vec::new(),
    };

    // --- CAs -----------------------------------------------------------------------------
    let ca_units = vec!["0002 000000000".to_owned(), "IGC-SANTE TEST".to_owned()];
    let root_key = ctx.key("ca/root", "ca/root", KeyKind::Rsa(4096))?;
    let root_subject = CaSubject {
        country: "FR".into(),
        organisation: "CPS-RS TEST PKI".into(),
        organisational_units: ca_units.clone(),
        common_name: "TEST AC RACINE IGC-SANTE FORT CPS-RS".into(),
    };
    let root_der = issue_root_certificate(
        &root_key,
        &CaCertificateRequest {
            subject: &root_subject,
            validity: Validity::years_from(date("2024-01-01")?, 20).ok_or("validity")?,
            serial: &[0x25, 0, 0, 0, 0x01],
            path_len: None,
            policies: &[],
        },
    )?;
    let root = ctx.cert(
        "ca/root",
        &root_der,
        "ca/root",
        "ca/root",
        json!({"kind": "root"}),
    )?;

    let persons_key = ctx.key("ca/persons", "ca/persons", KeyKind::Rsa(2048))?;
    let persons_subject = CaSubject {
        common_name: "TEST AC IGC-SANTE FORT PERSONNES CPS-RS".into(),
        ..root_subject.clone()
    };
    let persons_der = issue_intermediate_certificate(
        &root_key,
        &root,
        &persons_key.public_key_spki_der()?,
        &CaCertificateRequest {
            subject: &persons_subject,
            validity: Validity::years_from(date("2024-01-01")?, 10).ok_or("validity")?,
            serial: &[0x25, 0, 0, 0, 0x02],
            path_len: Some(0),
            policies: &[oids::TEST_POLICY_CA],
        },
    )?;
    let persons = ctx.cert(
        "ca/persons",
        &persons_der,
        "ca/persons",
        "ca/persons",
        json!({"kind": "intermediate"}),
    )?;
    write(
        &out.join("ca/chain.pem"),
        format!("{}{}", persons.to_pem(), root.to_pem()).as_bytes(),
    )?;

    // --- Holders -------------------------------------------------------------------------
    let holder_validity =
        Validity::years_from(holder_not_before, holder_years).ok_or("validity")?;
    let check_at = holder_validity.not_before.add_secs(86_400);
    // Two key sets. Their seed labels keep the directory names of v1 (`cps3`, `cps4`), so
    // that the keys stay the same; the serial keeps its `03` / `04` byte.
    for (key_set, seed_dir, set_byte, kind) in [
        ("rsa2048", "cps3", 3u8, KeyKind::Rsa(2048)),
        ("ec-p256", "cps4", 4u8, KeyKind::P256),
    ] {
        for (idx, p) in personas.iter().enumerate() {
            let id = str_field(p, "id").ok_or("persona without id")?;
            let subject = holder_subject(p)?;
            for (usage, usage_name, usage_byte, policy) in [
                (
                    CertUsage::Authentication,
                    "auth",
                    1u8,
                    oids::TEST_POLICY_CPX_AUTH,
                ),
                (
                    CertUsage::Signature,
                    "sign",
                    2u8,
                    oids::TEST_POLICY_CPX_SIGN,
                ),
            ] {
                let label = format!("{key_set}/{id}/{usage_name}");
                let seed_label = format!("{seed_dir}/{id}/{usage_name}");
                let key = ctx.key(&label, &seed_label, kind)?;
                let spki = key.public_key_spki_der()?;
                let persona_byte = u8::try_from(idx + 1)?;
                let mut variants = vec![("", holder_validity, 0u8)];
                if key_set == "rsa2048" && id == "dr-martin" && usage == CertUsage::Authentication {
                    // "Renewal due" fixture: a 3-year certificate that expires on 2027-01-15.
                    let not_after = date("2027-01-16")?.add_secs(-1);
                    let not_before = date("2024-01-16")?;
                    variants.push((
                        "-expiring",
                        Validity {
                            not_before,
                            not_after,
                        },
                        1,
                    ));
                }
                for (suffix, validity, variant) in variants {
                    let serial = [0x25, set_byte, persona_byte, usage_byte, variant];
                    let der = issue_holder_certificate(
                        &persons_key,
                        &persons,
                        &HolderCertificateRequest {
                            subject: &subject,
                            public_key_spki_der: &spki,
                            validity,
                            usage,
                            serial: &serial,
                            policies: &[policy],
                        },
                    )?;
                    let cert = ctx.cert(
                        &format!("{label}{suffix}"),
                        &der,
                        &label,
                        &seed_label,
                        json!({
                            "kind": "holder",
                            "key_set": key_set,
                            "persona": id,
                            "usage": usage_name,
                            "variant": if suffix.is_empty() { "current" } else { "expiring" },
                            "national_id": subject.national_id,
                        }),
                    )?;
                    let at = if suffix.is_empty() {
                        check_at
                    } else {
                        date("2026-01-01")?
                    };
                    verify_chain(
                        &cert,
                        std::slice::from_ref(&persons),
                        std::slice::from_ref(&root),
                        at,
                    )?;
                }
            }
        }
    }

    let mut index = String::new();
    let doc = json!({
        "_comment": "Generated by `cargo run --release -p cps-x509 --example gen_test_pki -- testvectors/pki`. TEST PKI of cps-rs: fictitious holders, not IGC-Santé. Paths are relative to this directory.",
        "holder_validity": { "not_before": holder_validity.not_before.to_string(), "not_after": holder_validity.not_after.to_string() },
        "entries": ctx.index,
    });
    writeln!(index, "{}", serde_json::to_string_pretty(&doc)?)?;
    write(&out.join("index.json"), index.as_bytes())?;
    eprintln!(
        "wrote {} certificates to {}",
        doc.get("entries")
            .and_then(Value::as_array)
            .map_or(0, Vec::len),
        out.display()
    );
    Ok(())
}
