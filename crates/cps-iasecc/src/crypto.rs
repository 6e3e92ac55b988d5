//! Keys, digests and signatures.
//!
//! - RSA keys sign with PKCS#1 v1.5 (RFC 8017 §8.2): the card builds the SHA-256 DigestInfo
//!   itself for PSO COMPUTE DIGITAL SIGNATURE, and pads the DigestInfo the host sends for
//!   INTERNAL AUTHENTICATE (DigestInfo prefixes: RFC 8017 §9.2, note 1).
//! - P-256 keys (CPS4) sign a hash computed by the host and answer the raw `r ‖ s`
//!   (IAS-ECC v1.0.1 §9.3, plain format); [`Signature::to_der`] gives the
//!   `ECDSA-Sig-Value` of RFC 3279 §2.2.3 that X.509 and TLS use.

use der::asn1::UintRef;
use der::{Encode, Sequence};
use sha2::Digest as _;

use crate::error::{Error, Result};
use crate::pkcs15::{KeyEntry, KeyType, KeyUsageFlags, Path};
pub use cps_x509::{HashAlgorithm, KeyAlgorithm, KeyFamily, SignatureAlgorithm};

/// A message digest computed by the host, which the card signs.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Digest {
    algorithm: HashAlgorithm,
    bytes: Vec<u8>,
}

impl std::fmt::Debug for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Digest({:?}, ", self.algorithm)?;
        for b in &self.bytes {
            write!(f, "{b:02x}")?;
        }
        f.write_str(")")
    }
}

impl Digest {
    /// A digest given as bytes; its length must match the algorithm.
    pub fn new(algorithm: HashAlgorithm, bytes: &[u8]) -> Result<Self> {
        if bytes.len() != algorithm.output_len() {
            return Err(Error::malformed(
                "digest",
                format!(
                    "{algorithm:?} digests are {} bytes, got {}",
                    algorithm.output_len(),
                    bytes.len()
                ),
            ));
        }
        Ok(Digest {
            algorithm,
            bytes: bytes.to_vec(),
        })
    }

    /// A SHA-256 digest.
    pub fn sha256(bytes: [u8; 32]) -> Self {
        Digest {
            algorithm: HashAlgorithm::Sha256,
            bytes: bytes.to_vec(),
        }
    }

    /// Hashes `data` with SHA-256.
    pub fn sha256_of(data: &[u8]) -> Self {
        Digest {
            algorithm: HashAlgorithm::Sha256,
            bytes: sha2::Sha256::digest(data).to_vec(),
        }
    }

    /// Hashes `data` with SHA-1 (legacy; the CPS3 and CPS4 still sign it).
    pub fn sha1_of(data: &[u8]) -> Self {
        use sha1::Digest as _;
        Digest {
            algorithm: HashAlgorithm::Sha1,
            bytes: sha1::Sha1::digest(data).to_vec(),
        }
    }

    /// Hashes `data` with `algorithm`.
    pub fn of(algorithm: HashAlgorithm, data: &[u8]) -> Result<Self> {
        Ok(match algorithm {
            HashAlgorithm::Sha1 => Digest::sha1_of(data),
            HashAlgorithm::Sha256 => Digest::sha256_of(data),
            HashAlgorithm::Sha384 => Digest::sha384_of(data),
            HashAlgorithm::Sha512 => Digest::sha512_of(data),
        })
    }

    /// Hashes `data` with SHA-384.
    pub fn sha384_of(data: &[u8]) -> Self {
        Digest {
            algorithm: HashAlgorithm::Sha384,
            bytes: sha2::Sha384::digest(data).to_vec(),
        }
    }

    /// Hashes `data` with SHA-512.
    pub fn sha512_of(data: &[u8]) -> Self {
        Digest {
            algorithm: HashAlgorithm::Sha512,
            bytes: sha2::Sha512::digest(data).to_vec(),
        }
    }

    /// The algorithm.
    pub fn algorithm(&self) -> HashAlgorithm {
        self.algorithm
    }

    /// The digest bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The PKCS#1 `DigestInfo` (prefix ‖ digest) that an RSA signature covers.
    pub fn digest_info(&self) -> Vec<u8> {
        let mut out = self.algorithm.digest_info_prefix().to_vec();
        out.extend_from_slice(&self.bytes);
        out
    }
}

/// What a key is for, as the card's PKCS#15 usage flags say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyRole {
    /// Client authentication (usage `sign` without `nonRepudiation`), e.g. TLS.
    Authentication,
    /// Qualified-style signature (`nonRepudiation`): PSO COMPUTE DIGITAL SIGNATURE.
    Signature,
    /// Decryption (`decrypt` / `unwrap`): PSO DECIPHER.
    Decipher,
}

/// Where a [`KeyInfo`] came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeySource {
    /// Read from the card's PrKDF.
    PrKdf,
    /// The key table of the CPS profile (docs/card-layout.md), used without reading the PrKDF.
    Profile,
}

/// A private key of the card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// Label, e.g. "CPS_PRIV_SIG".
    pub label: String,
    /// PKCS#15 iD: the certificate with the same iD holds the public key.
    pub id: Vec<u8>,
    /// Main usage.
    pub usage: KeyRole,
    /// All usage flags of the PrKDF.
    pub flags: KeyUsageFlags,
    /// Algorithm and size.
    pub algorithm: KeyAlgorithm,
    /// The key reference MSE names (`84 01 <ref>`), e.g. 0x81.
    pub reference: u8,
    /// authId of the PIN protecting the key.
    pub auth_id: Option<Vec<u8>>,
    /// TokenInfo algorithm references listed for the key.
    pub algorithm_references: Vec<u32>,
    /// Path of the key.
    pub path: Option<Path>,
    /// Where this description came from.
    pub source: KeySource,
}

impl KeyInfo {
    /// Whether the key's flags allow this usage.
    pub fn can(&self, usage: KeyRole) -> bool {
        let f = self.flags;
        match usage {
            KeyRole::Signature => f.non_repudiation(),
            KeyRole::Authentication => f.sign() || f.sign_recover(),
            KeyRole::Decipher => {
                self.algorithm.family() == Some(KeyFamily::Rsa) && (f.decrypt() || f.unwrap())
            }
        }
    }

    /// The main usage of a set of flags: non-repudiation → signature; sign → authentication;
    /// decrypt/unwrap → decipher.
    pub fn main_usage(flags: KeyUsageFlags) -> Option<KeyRole> {
        if flags.non_repudiation() {
            Some(KeyRole::Signature)
        } else if flags.sign() || flags.sign_recover() {
            Some(KeyRole::Authentication)
        } else if flags.decrypt() || flags.unwrap() {
            Some(KeyRole::Decipher)
        } else {
            None
        }
    }

    /// The key description of a PrKDF entry; `None` for entries the client cannot use (no
    /// key reference, reference above 0xFF, no usable usage, unknown algorithm).
    pub fn from_entry(e: &KeyEntry) -> Option<Self> {
        let reference = u8::try_from(e.key_reference?).ok()?;
        let algorithm = match (e.key_type, e.size_bits) {
            (KeyType::Rsa, Some(bits)) => KeyAlgorithm::Rsa { bits },
            // RSA without modulusLength: OpenSC requires it; assume the CPS size.
            (KeyType::Rsa, None) => KeyAlgorithm::Rsa { bits: 2048 },
            (KeyType::Ec, Some(256) | None) => KeyAlgorithm::EcP256,
            (KeyType::Ec, Some(field_bits)) => KeyAlgorithm::EcOther {
                curve: None,
                field_bits: Some(field_bits),
            },
            (KeyType::Other(_), _) => return None,
        };
        Some(KeyInfo {
            label: e.label.clone().unwrap_or_default(),
            id: e.id.clone(),
            usage: Self::main_usage(e.usage)?,
            flags: e.usage,
            algorithm,
            reference,
            auth_id: e.auth_id.clone(),
            algorithm_references: e.algorithm_references.clone(),
            path: e.path.clone(),
            source: KeySource::PrKdf,
        })
    }
}

/// Which key an operation uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySelector {
    /// The card's key for this usage, in the preferred family
    /// ([`CpsCard::set_key_preference`](crate::CpsCard::set_key_preference): P-256 on CPS4,
    /// RSA on CPS3), or the other family when the card has none in the preferred one.
    Usage(KeyRole),
    /// The card's key for this usage in this family (no fallback).
    UsageIn(KeyRole, KeyFamily),
    /// The key with this reference (`84 01 <ref>` of MSE), as the PrKDF (if read) or the CPS
    /// profile table describes it.
    Reference(u8),
    /// This key (from [`CpsCard::keys`](crate::CpsCard::keys)).
    Key(KeyInfo),
}

impl From<KeyRole> for KeySelector {
    fn from(u: KeyRole) -> Self {
        KeySelector::Usage(u)
    }
}

impl From<KeyInfo> for KeySelector {
    fn from(k: KeyInfo) -> Self {
        KeySelector::Key(k)
    }
}

impl From<&KeyInfo> for KeySelector {
    fn from(k: &KeyInfo) -> Self {
        KeySelector::Key(k.clone())
    }
}

/// A signature made by the card.
#[derive(Clone, PartialEq, Eq)]
pub struct Signature {
    algorithm: SignatureAlgorithm,
    key_reference: u8,
    bytes: Vec<u8>,
}

impl std::fmt::Debug for Signature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Signature({:?}, key {:02X}, {} bytes)",
            self.algorithm,
            self.key_reference,
            self.bytes.len()
        )
    }
}

/// `ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }` (RFC 3279 §2.2.3).
#[derive(Sequence)]
struct EcdsaSigValue<'a> {
    r: UintRef<'a>,
    s: UintRef<'a>,
}

/// Converts a raw ECDSA signature `r ‖ s` (two halves of equal length) to DER.
pub fn ecdsa_raw_to_der(raw: &[u8]) -> Result<Vec<u8>> {
    if raw.is_empty() || raw.len() % 2 != 0 {
        return Err(Error::malformed(
            "ECDSA signature",
            format!("{} bytes is not r ‖ s of equal halves", raw.len()),
        ));
    }
    let (r, s) = raw.split_at(raw.len() / 2);
    let bad = |e: der::Error| Error::malformed("ECDSA signature", e.to_string());
    EcdsaSigValue {
        r: UintRef::new(r).map_err(bad)?,
        s: UintRef::new(s).map_err(bad)?,
    }
    .to_der()
    .map_err(bad)
}

impl Signature {
    pub(crate) fn new(algorithm: SignatureAlgorithm, key_reference: u8, bytes: Vec<u8>) -> Self {
        Signature {
            algorithm,
            key_reference,
            bytes,
        }
    }

    /// The algorithm.
    pub fn algorithm(&self) -> SignatureAlgorithm {
        self.algorithm
    }

    /// The reference of the key that signed.
    pub fn key_reference(&self) -> u8 {
        self.key_reference
    }

    /// The signature as the card gave it: RSA signature, or ECDSA raw `r ‖ s`.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The bytes, owned.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// Checks the signature with a certificate's public key (cps-x509): the signed data is
    /// `digest`, which must be SHA-256; PKCS#1 v1.5 and RSA-PSS (salt 32) are checked.
    pub fn verify(
        &self,
        certificate: &cps_x509::CpsCertificate,
        digest: &Digest,
    ) -> std::result::Result<(), cps_x509::SignatureError> {
        cps_x509::verify_signature(
            certificate,
            cps_x509::SignedData::Sha256Digest(digest.as_bytes()),
            self.algorithm,
            &self.bytes,
        )
    }

    /// The form X.509 / CMS / TLS carry: RSA unchanged, ECDSA as a DER `ECDSA-Sig-Value`.
    pub fn to_der(&self) -> Result<Vec<u8>> {
        match self.algorithm {
            SignatureAlgorithm::RsaPkcs1v15(_) | SignatureAlgorithm::RsaPss(_) => {
                Ok(self.bytes.clone())
            }
            SignatureAlgorithm::Ecdsa(_) => ecdsa_raw_to_der(&self.bytes),
        }
    }
}

/// SHA-1 initial hash value (FIPS 180-4 §5.3.1).
const SHA1_IV: [u32; 5] = [
    0x6745_2301,
    0xEFCD_AB89,
    0x98BA_DCFE,
    0x1032_5476,
    0xC3D2_E1F0,
];
/// SHA-256 initial hash value (FIPS 180-4 §5.3.3).
const SHA256_IV: [u32; 8] = [
    0x6A09_E667,
    0xBB67_AE85,
    0x3C6E_F372,
    0xA54F_F53A,
    0x510E_527F,
    0x9B05_688C,
    0x1F83_D9AB,
    0x5BE0_CD19,
];

/// The data of the IAS-ECC partial-hash PSO HASH for a message given whole: the host runs
/// the block function over every 64-byte block but the last (1 to 64 bytes) and sends
/// `90 <state (big-endian words) ‖ bits hashed (8 bytes)> 80 <last block>`; a message of one
/// block or less goes as `90 00 80 <message>` (card-cps3.c `cps3_compute_hash`, OpenSC
/// card-iasecc.c `iasecc_compute_signature_dst`). The card pads and finishes (FIPS 180-4).
pub(crate) fn partial_hash_data(hash: HashAlgorithm, message: &[u8]) -> Result<Vec<u8>> {
    use sha2::digest::generic_array::GenericArray;
    if message.is_empty() {
        return Err(Error::malformed("message", "nothing to hash"));
    }
    let blocks = (message.len() - 1) / 64;
    let (head, last) = message.split_at(blocks * 64);
    let chunks: Vec<GenericArray<u8, _>> = head
        .chunks_exact(64)
        .map(GenericArray::clone_from_slice)
        .collect();
    let mut pre = Vec::new();
    if blocks > 0 {
        match hash {
            HashAlgorithm::Sha1 => {
                let mut state = SHA1_IV;
                sha1::compress(&mut state, &chunks);
                state.iter().for_each(|w| pre.extend(w.to_be_bytes()));
            }
            HashAlgorithm::Sha256 => {
                let mut state = SHA256_IV;
                sha2::compress256(&mut state, &chunks);
                state.iter().for_each(|w| pre.extend(w.to_be_bytes()));
            }
            other => {
                return Err(Error::Unsupported {
                    what: "this hash finished by the card",
                    detail: format!("the CPS3 hashes SHA-1 and SHA-256, not {other:?}"),
                });
            }
        }
        let bits = (blocks as u64).saturating_mul(512);
        pre.extend(bits.to_be_bytes());
    } else if !matches!(hash, HashAlgorithm::Sha1 | HashAlgorithm::Sha256) {
        return Err(Error::Unsupported {
            what: "this hash finished by the card",
            detail: format!("the CPS3 hashes SHA-1 and SHA-256, not {hash:?}"),
        });
    }
    let mut out = Vec::with_capacity(4 + pre.len() + last.len());
    out.extend([0x90, pre.len() as u8]);
    out.extend_from_slice(&pre);
    out.extend([0x80, last.len() as u8]);
    out.extend_from_slice(last);
    Ok(out)
}

/// A PKCS#1 v1.5 type-1 block `00 01 FF…FF 00 data` of `k` bytes (RFC 8017 §9.2 step 5;
/// at least 8 `FF` bytes).
pub(crate) fn pkcs1_type1(data: &[u8], k: usize) -> Result<Vec<u8>> {
    if data.len() + 11 > k {
        return Err(Error::Unsupported {
            what: "this digest with this key",
            detail: format!(
                "a {}-byte DigestInfo does not fit a {k}-byte RSA block",
                data.len()
            ),
        });
    }
    let mut block = Vec::with_capacity(k);
    block.extend([0x00, 0x01]);
    block.resize(k - data.len() - 1, 0xFF);
    block.push(0x00);
    block.extend_from_slice(data);
    Ok(block)
}

/// Removes the PKCS#1 v1.5 type-2 padding (RFC 8017 §7.2.2 step 3): `00 02 PS 00 M` with at
/// least 8 non-zero PS bytes. Every byte is examined whatever the content, and one typed
/// error covers every failure, so that the answer says nothing about where the block is bad
/// (Bleichenbacher, RFC 8017 §7.2.2 note).
pub fn pkcs1_type2_unpad(block: &[u8]) -> Result<zeroize::Zeroizing<Vec<u8>>> {
    use subtle::{ConditionallySelectable, ConstantTimeEq, ConstantTimeLess};
    let (Some(&b0), Some(&b1), true) = (block.first(), block.get(1), block.len() >= 11) else {
        return Err(Error::DecryptionFailed);
    };
    let mut good = b0.ct_eq(&0x00) & b1.ct_eq(&0x02);
    // Index of the first zero after the two header bytes (0 while none was seen).
    let mut separator: u32 = 0;
    let mut found = subtle::Choice::from(0);
    for (i, b) in block.iter().enumerate().skip(2) {
        let zero = b.ct_eq(&0x00);
        let first = zero & !found;
        separator.conditional_assign(&(i as u32), first);
        found |= zero;
    }
    good &= found;
    // At least 8 padding bytes: the separator is at index 10 or later.
    good &= !separator.ct_lt(&10);
    if !bool::from(good) {
        return Err(Error::DecryptionFailed);
    }
    let start = separator as usize + 1;
    Ok(zeroize::Zeroizing::new(
        block.get(start..).unwrap_or_default().to_vec(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkcs1_blocks() {
        let d = Digest::sha256_of(b"x").digest_info();
        let b = pkcs1_type1(&d, 256).unwrap();
        assert_eq!(b.len(), 256);
        assert_eq!(&b[..2], &[0x00, 0x01]);
        assert_eq!(b[256 - d.len() - 1], 0x00);
        assert!(b[2..256 - d.len() - 1].iter().all(|&x| x == 0xFF));
        assert!(pkcs1_type1(&[0; 250], 256).is_err());
        // Type 2: header, >= 8 non-zero padding bytes, separator.
        let mut ok = vec![0x00, 0x02];
        ok.extend([0x5A; 8]);
        ok.push(0x00);
        ok.extend(b"key");
        assert_eq!(pkcs1_type2_unpad(&ok).unwrap().as_slice(), b"key");
        let mut short_ps = vec![0x00, 0x02];
        short_ps.extend([0x5A; 7]);
        short_ps.extend([0x00, 1, 2, 3]);
        assert!(matches!(
            pkcs1_type2_unpad(&short_ps),
            Err(Error::DecryptionFailed)
        ));
        let mut bad_header = ok.clone();
        bad_header[1] = 0x01;
        assert!(matches!(
            pkcs1_type2_unpad(&bad_header),
            Err(Error::DecryptionFailed)
        ));
        let no_sep = [0x00, 0x02, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
        assert!(matches!(
            pkcs1_type2_unpad(&no_sep),
            Err(Error::DecryptionFailed)
        ));
        assert!(pkcs1_type2_unpad(&[]).is_err());
        // An empty message is allowed.
        let mut empty = vec![0x00, 0x02];
        empty.extend([0x11; 8]);
        empty.push(0);
        assert!(pkcs1_type2_unpad(&empty).unwrap().is_empty());
    }

    #[test]
    fn partial_hash_forms() {
        // Up to one block: 90 00 80 <message>.
        assert_eq!(
            partial_hash_data(HashAlgorithm::Sha256, b"abc").unwrap(),
            [0x90, 0x00, 0x80, 0x03, b'a', b'b', b'c']
        );
        let m = [7u8; 64];
        let d = partial_hash_data(HashAlgorithm::Sha1, &m).unwrap();
        assert_eq!(&d[..4], &[0x90, 0x00, 0x80, 0x40]);
        // 65 bytes: state of the first block (32 + 8 bytes), then one byte.
        let m = [7u8; 65];
        let d = partial_hash_data(HashAlgorithm::Sha256, &m).unwrap();
        assert_eq!(&d[..2], &[0x90, 40]);
        assert_eq!(&d[34..42], &512u64.to_be_bytes());
        assert_eq!(&d[42..], &[0x80, 0x01, 0x07]);
        let d = partial_hash_data(HashAlgorithm::Sha1, &[1u8; 200]).unwrap();
        assert_eq!(&d[..2], &[0x90, 28]);
        assert_eq!(&d[22..30], &(3u64 * 512).to_be_bytes());
        assert_eq!(&d[30..32], &[0x80, 200 - 192]);
        assert!(partial_hash_data(HashAlgorithm::Sha256, b"").is_err());
        assert!(partial_hash_data(HashAlgorithm::Sha384, b"x").is_err());
    }

    #[test]
    fn digests() {
        let d = Digest::sha256_of(b"abc");
        assert_eq!(
            hex::encode(d.as_bytes()),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(d.digest_info().len(), 51);
        assert!(Digest::new(HashAlgorithm::Sha256, &[0; 20]).is_err());
        assert_eq!(
            Digest::new(HashAlgorithm::Sha1, &[0; 20])
                .unwrap()
                .digest_info()
                .len(),
            35
        );
        for alg in [
            HashAlgorithm::Sha1,
            HashAlgorithm::Sha256,
            HashAlgorithm::Sha384,
            HashAlgorithm::Sha512,
        ] {
            let p = alg.digest_info_prefix();
            // The outer SEQUENCE length covers the rest of the prefix plus the digest.
            assert_eq!(usize::from(p[1]), p.len() - 2 + alg.output_len());
            assert_eq!(usize::from(p[p.len() - 1]), alg.output_len());
        }
        assert_eq!(Digest::sha384_of(b"").as_bytes().len(), 48);
        assert_eq!(Digest::sha512_of(b"").as_bytes().len(), 64);
    }

    #[test]
    fn ecdsa_der() {
        let mut raw = vec![0u8; 64];
        raw[0] = 0x80; // r needs a leading zero in DER
        raw[63] = 1; // s = 1
        let der = ecdsa_raw_to_der(&raw).unwrap();
        assert_eq!(der[0], 0x30);
        assert_eq!(&der[2..5], &[0x02, 0x21, 0x00]);
        assert_eq!(&der[der.len() - 3..], &[0x02, 0x01, 0x01]);
        assert!(ecdsa_raw_to_der(&[1, 2, 3]).is_err());
        let sig = Signature::new(SignatureAlgorithm::Ecdsa(HashAlgorithm::Sha256), 0x83, raw);
        assert_eq!(sig.to_der().unwrap(), der);
        assert!(format!("{sig:?}").contains("64 bytes"));
    }
}
