//! PEM (RFC 7468) ↔ DER helpers.

use der::pem::LineEnding;

use crate::error::PemError;

/// PEM label of certificates (RFC 7468 §5.1).
pub const CERTIFICATE_LABEL: &str = "CERTIFICATE";
/// PEM label of PKCS#8 private keys (RFC 7468 §10).
pub const PRIVATE_KEY_LABEL: &str = "PRIVATE KEY";
/// PEM label of SubjectPublicKeyInfo (RFC 7468 §13).
pub const PUBLIC_KEY_LABEL: &str = "PUBLIC KEY";

const BEGIN: &str = "-----BEGIN ";

/// Whether `bytes` looks like PEM text (starts, after optional whitespace, with `-----BEGIN `).
pub fn looks_like_pem(bytes: &[u8]) -> bool {
    let trimmed = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .and_then(|i| bytes.get(i..))
        .unwrap_or_default();
    trimmed.starts_with(BEGIN.as_bytes())
}

/// Decodes the first PEM block of `text`: its label and DER contents. Text before the block
/// (explanatory text, RFC 7468 §5.2) is skipped.
pub fn pem_to_der(text: &str) -> Result<(String, Vec<u8>), PemError> {
    let blocks = pem_blocks(text)?;
    blocks.into_iter().next().ok_or(PemError::NoBlock)
}

/// Decodes every PEM block of `text` (e.g. a CA bundle), in order.
pub fn pem_blocks(text: &str) -> Result<Vec<(String, Vec<u8>)>, PemError> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(BEGIN) {
        let block = rest.get(start..).unwrap_or_default();
        // The matching end line: "-----END <label>-----".
        let label_end = block
            .get(BEGIN.len()..)
            .and_then(|s| s.find("-----"))
            .ok_or_else(|| PemError::Malformed("unterminated BEGIN line".into()))?;
        let label = block
            .get(BEGIN.len()..BEGIN.len() + label_end)
            .ok_or_else(|| PemError::Malformed("bad BEGIN line".into()))?;
        let end_marker = format!("-----END {label}-----");
        let end = block
            .find(&end_marker)
            .ok_or_else(|| PemError::Malformed(format!("no END line for {label:?}")))?;
        let block_len = end + end_marker.len();
        let one = block.get(..block_len).unwrap_or_default();
        let (label, der) = der::pem::decode_vec(one.as_bytes())?;
        out.push((label.to_owned(), der));
        rest = block.get(block_len..).unwrap_or_default();
    }
    Ok(out)
}

/// Decodes the first PEM block of `text`, which must carry `label`.
pub fn pem_to_der_expect(text: &str, label: &'static str) -> Result<Vec<u8>, PemError> {
    let (found, der) = pem_to_der(text)?;
    if found != label {
        return Err(PemError::UnexpectedLabel {
            found,
            expected: label,
        });
    }
    Ok(der)
}

/// Decodes a `CERTIFICATE` PEM block.
pub fn certificate_pem_to_der(text: &str) -> Result<Vec<u8>, PemError> {
    pem_to_der_expect(text, CERTIFICATE_LABEL)
}

/// Encodes DER as PEM with `label`, 64-character lines, LF line endings.
pub fn der_to_pem(label: &str, der: &[u8]) -> Result<String, PemError> {
    Ok(der::pem::encode_string(label, LineEnding::LF, der)?)
}

/// Encodes a DER certificate as a `CERTIFICATE` PEM block.
pub fn certificate_der_to_pem(der: &[u8]) -> String {
    // A certificate label and any byte string always encode; keep the signature infallible.
    der_to_pem(CERTIFICATE_LABEL, der).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_bundles() {
        let pem = certificate_der_to_pem(&[0x30, 0x03, 0x02, 0x01, 0x05]);
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----\n"));
        assert_eq!(
            certificate_pem_to_der(&pem).unwrap(),
            vec![0x30, 0x03, 0x02, 0x01, 0x05]
        );
        let bundle = format!(
            "text before\n{pem}{}",
            der_to_pem("PUBLIC KEY", &[1, 2]).unwrap()
        );
        let blocks = pem_blocks(&bundle).unwrap();
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[1].0, "PUBLIC KEY");
        assert!(matches!(pem_to_der(""), Err(PemError::NoBlock)));
        assert!(matches!(
            pem_to_der_expect(&bundle[12..], "PRIVATE KEY"),
            Err(PemError::UnexpectedLabel { .. })
        ));
        assert!(pem_to_der("-----BEGIN X-----\n!!!\n-----END X-----\n").is_err());
        assert!(pem_to_der("-----BEGIN X").is_err());
        assert!(looks_like_pem(b"  \n-----BEGIN CERTIFICATE-----"));
        assert!(!looks_like_pem(&[0x30, 0x82]));
    }
}
