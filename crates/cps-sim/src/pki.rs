//! The test PKI's holder keys and certificates (embedded by cps-x509's `test-pki` feature,
//! files in crates/cps-x509/test-pki, linked as testvectors/pki, written by its generator): `<dir>/<slot>` with `<slot>` = `<key set>/<persona>/<name>` resolved from the
//! profile's `"rsa2048/auth"`-style references, files `<name>.key.der` / `.key.pem` (PKCS#8)
//! and `<name>.crt.der` / `.crt.pem` (X.509).

use std::path::{Path, PathBuf};

use cps_x509::CertUsage;
use cps_x509::test_pki::{self, KeySet};

use crate::SimError;
use crate::keys::KeyPair;

/// Where the card takes the holder keys and certificates from: the test PKI embedded in
/// cps-x509 (feature `test-pki`; the crate builds from its package alone, nothing is read at
/// run time), or a directory of the same layout.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Pki {
    /// `None`: the embedded test PKI.
    dir: Option<PathBuf>,
}

/// A checked slot reference: `(key set dir, name)`.
fn split_slot<'a>(persona: &str, slot: &'a str) -> Result<(&'a str, &'a str), SimError> {
    let (set_dir, name) = slot.split_once('/').ok_or_else(|| {
        SimError::pki(format!(
            "slot {slot:?}: expected \"<key set>/<name>\", e.g. \"rsa2048/auth\""
        ))
    })?;
    let safe = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    if !safe(set_dir) || !safe(name) || !safe(persona) {
        return Err(SimError::pki(format!(
            "slot {slot:?} / persona {persona:?}: bad name"
        )));
    }
    Ok((set_dir, name))
}

impl Pki {
    pub fn from_dir(dir: PathBuf) -> Self {
        Pki { dir: Some(dir) }
    }

    /// `<dir>/<key set dir>/<persona>/<name>` for a slot `"<key set dir>/<name>"`.
    fn base(dir: &Path, persona: &str, slot: &str) -> Result<PathBuf, SimError> {
        let (set_dir, name) = split_slot(persona, slot)?;
        Ok(dir.join(set_dir).join(persona).join(name))
    }

    /// The embedded fixture of a slot: `rsa2048|ec-p256` / `auth|sign`.
    fn embedded(persona: &str, slot: &str) -> Result<test_pki::HolderFixture, SimError> {
        let (set_dir, name) = split_slot(persona, slot)?;
        let key_set = KeySet::from_dir(set_dir)
            .ok_or_else(|| SimError::pki(format!("slot {slot:?}: unknown key set")))?;
        let usage = match name {
            "auth" => CertUsage::Authentication,
            "sign" => CertUsage::Signature,
            _ => return Err(SimError::pki(format!("slot {slot:?}: unknown key"))),
        };
        test_pki::holder(key_set, persona, usage)
            .map_err(|e| SimError::pki(format!("embedded test PKI: {e}")))
    }

    /// The persona's private key of a slot.
    pub fn key(&self, persona: &str, _generation: u8, slot: &str) -> Result<KeyPair, SimError> {
        let Some(dir) = &self.dir else {
            let fixture = Self::embedded(persona, slot)?;
            return KeyPair::from_pkcs8_der(&fixture.key_pkcs8_der)
                .map_err(|e| SimError::pki(format!("embedded {persona}/{slot} key: {e}")));
        };
        let base = Self::base(dir, persona, slot)?;
        let der = read_der_or_pem(&base, "key", "PRIVATE KEY")?;
        KeyPair::from_pkcs8_der(&der)
            .map_err(|e| SimError::pki(format!("{}.key: {e}", base.display())))
    }

    /// The persona's certificate of a slot (DER).
    pub fn certificate(
        &self,
        persona: &str,
        _generation: u8,
        slot: &str,
    ) -> Result<Vec<u8>, SimError> {
        let Some(dir) = &self.dir else {
            return Ok(Self::embedded(persona, slot)?.cert_der.to_vec());
        };
        let base = Self::base(dir, persona, slot)?;
        read_der_or_pem(&base, "crt", "CERTIFICATE")
    }
}

fn with_suffix(base: &Path, suffix: &str) -> PathBuf {
    let mut s = base.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Reads `<base>.<kind>.der`, else decodes `<base>.<kind>.pem` (RFC 7468 label `label`).
fn read_der_or_pem(base: &Path, kind: &str, label: &str) -> Result<Vec<u8>, SimError> {
    let der_path = with_suffix(base, &format!(".{kind}.der"));
    if let Ok(bytes) = std::fs::read(&der_path) {
        return Ok(bytes);
    }
    let pem_path = with_suffix(base, &format!(".{kind}.pem"));
    let text = std::fs::read_to_string(&pem_path).map_err(|e| {
        SimError::pki(format!(
            "neither {} nor {} readable: {e}",
            der_path.display(),
            pem_path.display()
        ))
    })?;
    pem_decode(&text, label).ok_or_else(|| {
        SimError::pki(format!(
            "{}: no valid {label} PEM block",
            pem_path.display()
        ))
    })
}

/// Decodes the first PEM block with this label (RFC 7468 §2: base64 between the
/// encapsulation boundaries).
pub(crate) fn pem_decode(text: &str, label: &str) -> Option<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text.find(&begin)? + begin.len();
    let stop = start + text.get(start..)?.find(&end)?;
    base64_decode(text.get(start..stop)?)
}

/// Standard base64 (RFC 4648 §4), whitespace ignored, `=` padding accepted.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' | b' ' | b'\n' | b'\r' | b'\t' => continue,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_and_pem() {
        assert_eq!(base64_decode("TWFu").unwrap(), b"Man");
        assert_eq!(base64_decode("TWE=").unwrap(), b"Ma");
        assert_eq!(base64_decode("TQ==").unwrap(), b"M");
        assert!(base64_decode("T$==").is_none());
        let pem = "x\n-----BEGIN CERTIFICATE-----\nTWFu\nTWE=\n-----END CERTIFICATE-----\n";
        assert_eq!(pem_decode(pem, "CERTIFICATE").unwrap(), b"ManMa");
        assert!(pem_decode(pem, "PRIVATE KEY").is_none());
    }

    #[test]
    fn slot_names_are_checked() {
        let d = Path::new("/pki");
        assert!(Pki::base(d, "dr-martin", "auth").is_err());
        assert!(Pki::base(d, "dr-martin", "../x/auth").is_err());
        assert!(Pki::base(d, "../etc", "rsa2048/auth").is_err());
        assert!(
            Pki::base(d, "dr-martin", "rsa2048/auth")
                .unwrap()
                .ends_with("rsa2048/dr-martin/auth")
        );
        assert!(Pki::embedded("dr-martin", "rsa2048/other").is_err());
        assert!(Pki::embedded("nobody", "rsa2048/auth").is_err());
        // The first version's directory names still name the same fixtures.
        assert_eq!(
            Pki::embedded("dr-martin", "cps3/auth").unwrap().cert_der,
            Pki::embedded("dr-martin", "rsa2048/auth").unwrap().cert_der
        );
        assert!(Pki::embedded("dr-martin", "cps5/auth").is_err());
    }

    #[test]
    fn embedded_matches_the_committed_files() {
        let dir = Pki::from_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../cps-x509/test-pki"));
        let embedded = Pki::default();
        for slot in [
            "rsa2048/auth",
            "rsa2048/sign",
            "ec-p256/auth",
            "ec-p256/sign",
        ] {
            assert_eq!(
                dir.certificate("dr-martin", 3, slot).unwrap(),
                embedded.certificate("dr-martin", 3, slot).unwrap()
            );
        }
    }
}
