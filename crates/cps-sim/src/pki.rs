//! The test PKI's holder keys and certificates (testvectors/pki, written by cps-x509's
//! generator): `<dir>/<slot>` with `<slot>` = `<profile>/<persona>/<name>` resolved from the
//! profile's `"cps3/auth"`-style references, files `<name>.key.der` / `.key.pem` (PKCS#8)
//! and `<name>.crt.der` / `.crt.pem` (X.509).

use std::path::{Path, PathBuf};

use crate::SimError;
use crate::keys::KeyPair;

/// The committed test PKI, next to this crate in the workspace.
const DEFAULT_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testvectors/pki");

/// Where the card takes the holder keys and certificates from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pki {
    dir: PathBuf,
}

impl Default for Pki {
    fn default() -> Self {
        Pki {
            dir: PathBuf::from(DEFAULT_DIR),
        }
    }
}

impl Pki {
    pub fn from_dir(dir: PathBuf) -> Self {
        Pki { dir }
    }

    /// `<dir>/<profile dir>/<persona>/<name>` for a slot `"<profile dir>/<name>"`.
    fn base(&self, persona: &str, slot: &str) -> Result<PathBuf, SimError> {
        let (profile_dir, name) = slot.split_once('/').ok_or_else(|| {
            SimError::pki(format!(
                "slot {slot:?}: expected \"<profile>/<name>\", e.g. \"cps3/auth\""
            ))
        })?;
        let safe = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        };
        if !safe(profile_dir) || !safe(name) || !safe(persona) {
            return Err(SimError::pki(format!(
                "slot {slot:?} / persona {persona:?}: bad name"
            )));
        }
        Ok(self.dir.join(profile_dir).join(persona).join(name))
    }

    /// The persona's private key of a slot.
    pub fn key(&self, persona: &str, _generation: u8, slot: &str) -> Result<KeyPair, SimError> {
        let base = self.base(persona, slot)?;
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
        let base = self.base(persona, slot)?;
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
        let p = Pki::default();
        assert!(p.base("dr-martin", "auth").is_err());
        assert!(p.base("dr-martin", "../x/auth").is_err());
        assert!(p.base("../etc", "cps3/auth").is_err());
        assert!(
            p.base("dr-martin", "cps3/auth")
                .unwrap()
                .ends_with("cps3/dr-martin/auth")
        );
    }
}
