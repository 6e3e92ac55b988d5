//! PKCS#15 (ISO/IEC 7816-15) files generated from the profile, the PINs and the keys:
//! EF.ODF, EF.TokenInfo, EF.AODF, EF.PrKDF, EF.PuKDF, EF.CDF, in DER.
//!
//! ASN.1 of PKCS #15 v1.1 (RSA Laboratories, 2000) §6 and ISO/IEC 7816-15:2004 §8, in the form
//! OpenSC 0.23 parses (pkcs15.c `c_asn1_toki_attrs`, pkcs15-prkey.c, pkcs15-pubkey.c,
//! pkcs15-cert.c, pkcs15-pin.c; research §2.1-2.4).

use crate::der::{self, ctx_cons, ctx_prim};
use crate::keys::{KeyKind, KeyPair};
use crate::profile::{ProfileSpec, PublicKeySpec};

/// A key as the generator sees it: its profile description and the key itself.
pub(crate) struct KeyView<'a> {
    pub spec: &'a crate::profile::KeySpec,
    pub pair: &'a KeyPair,
}

impl KeyView<'_> {
    /// The PKCS#15 iD: the profile's, or the SHA-1 of the public key.
    pub fn id(&self) -> Vec<u8> {
        key_id(self.spec, self.pair)
    }
}

/// The PKCS#15 iD of a key: the profile's (real cards: AID ‖ 01/02), or the SHA-1 of the
/// public key (OpenSC's convention) when the profile gives none.
pub(crate) fn key_id(spec: &crate::profile::KeySpec, pair: &KeyPair) -> Vec<u8> {
    match &spec.id {
        Some(id) => id.0.clone(),
        None => pair.key_id().to_vec(),
    }
}

/// A key's Path: a file path, or the application's DF name as `[APPLICATION 15]` with an
/// empty path (ISO 7816-15 Path.aid; the real CPS3 PrKDF).
fn key_path(spec: &crate::profile::KeySpec) -> Vec<u8> {
    if spec.path_is_aid {
        der::seq(&[der::octets(&[]), der::tlv(0x4F, &spec.path.0)])
    } else {
        path(&spec.path.0)
    }
}

/// Bit number of a named flag, from a PKCS#15 BIT STRING definition.
fn bit_of(kind: &str, name: &str) -> Result<u32, String> {
    let table: &[&str] = match kind {
        // PKCS #15 v1.1 §6.7 / ISO 7816-15 KeyUsageFlags.
        "key usage" => &[
            "encrypt",
            "decrypt",
            "sign",
            "signRecover",
            "wrap",
            "unwrap",
            "verify",
            "verifyRecover",
            "derive",
            "nonRepudiation",
        ],
        // PKCS #15 v1.1 §6.9 TokenFlags.
        "token flag" => &["readonly", "loginRequired", "prnGeneration", "eidCompliant"],
        // PKCS #15 v1.1 §6.9 AlgorithmInfo.supportedOperations.
        "operation" => &[
            "compute-checksum",
            "compute-signature",
            "verify-checksum",
            "verify-signature",
            "encipher",
            "decipher",
            "hash",
            "generate-key",
        ],
        // PKCS #15 v1.1 §6.8.2 PinFlags.
        // PKCS #15 v1.1 §6.1 CommonObjectFlags.
        "object flag" => &["private", "modifiable"],
        "PIN flag" => &[
            "case-sensitive",
            "local",
            "change-disabled",
            "unblock-disabled",
            "initialized",
            "needs-padding",
            "unblockingPin",
            "soPin",
            "disable-allowed",
            "integrity-protected",
            "confidentiality-protected",
            "exchangeRefData",
        ],
        _ => &[],
    };
    table
        .iter()
        .position(|n| *n == name)
        .map(|p| p as u32)
        .ok_or_else(|| format!("unknown {kind} {name:?} (known: {})", table.join(", ")))
}

fn flags(kind: &str, names: &[String]) -> Result<Vec<u8>, String> {
    let bits = names
        .iter()
        .map(|n| bit_of(kind, n))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(der::named_bits(&bits))
}

/// `Path ::= SEQUENCE { path OCTET STRING }`.
fn path(p: &[u8]) -> Vec<u8> {
    der::seq(&[der::octets(p)])
}

/// EF.ODF: one `[n] Path` per directory file (PKCS #15 v1.1 §6.2 PKCS15Objects).
pub(crate) fn odf(spec: &ProfileSpec) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    for e in &spec.pkcs15.odf {
        let n = match e.kind.as_str() {
            "prkdf" => 0,
            "pukdf" => 1,
            "trusted-pukdf" => 2,
            "skdf" => 3,
            "cdf" => 4,
            "trusted-cdf" => 5,
            "useful-cdf" => 6,
            "dodf" => 7,
            "aodf" => 8,
            other => return Err(format!("unknown ODF entry type {other:?}")),
        };
        out.extend(der::tlv(ctx_cons(n), &path(&e.path.0)));
    }
    Ok(out)
}

/// EF.TokenInfo (PKCS #15 v1.1 §6.9).
pub(crate) fn token_info(
    spec: &ProfileSpec,
    persona: &str,
    serial: &[u8],
) -> Result<Vec<u8>, String> {
    let p = &spec.pkcs15;
    let mut algorithms = Vec::new();
    for a in &p.algorithms {
        if a.reference == 0 {
            return Err("algorithm reference 0 (OpenSC ignores such entries)".into());
        }
        let mech = a
            .mechanism
            .0
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        let params = match &a.curve {
            Some(curve) => der::oid(curve).ok_or_else(|| format!("bad curve OID {curve}"))?,
            None => der::null(),
        };
        let mut parts = vec![
            der::uint(u64::from(a.reference)),
            der::uint(mech),
            params,
            flags("operation", &a.operations)?,
        ];
        if let Some(oid) = &a.oid {
            parts.push(der::oid(oid).ok_or_else(|| format!("bad OID {oid}"))?);
        }
        parts.push(der::uint(u64::from(a.alg_ref.0)));
        algorithms.push(der::seq(&parts));
    }
    let label = p.label.replace("{persona}", persona);
    Ok(der::seq(&[
        der::uint(0),
        der::octets(serial),
        der::utf8(&p.manufacturer_id),
        der::tlv(ctx_prim(0), label.as_bytes()),
        flags("token flag", &p.token_flags)?,
        der::cons(ctx_cons(2), &algorithms),
    ]))
}

/// EF.AODF: PIN objects (PKCS #15 v1.1 §6.8).
pub(crate) fn aodf(spec: &ProfileSpec) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    for a in &spec.pkcs15.auth_objects {
        let pin = spec
            .pins
            .iter()
            .find(|p| p.reference == a.pin)
            .ok_or_else(|| format!("AODF {}: no PIN {:02X}", a.label, a.pin.0))?;
        let mut common = vec![der::utf8(&a.label)];
        if let Some(by) = &a.unblocked_by {
            common.push(der::octets(&by.0));
        }
        let mut attrs = vec![
            flags("PIN flag", &a.flags)?,
            // PinType ascii-numeric (1).
            der::enumerated(1),
            der::uint(pin.min_length as u64),
            der::uint(u64::from(a.stored_length)),
            der::uint(pin.max_length as u64),
            der::tlv(ctx_prim(0), &der::uint_content(u64::from(pin.reference.0))),
        ];
        if let Some(pad) = a.pad_char {
            attrs.push(der::octets(&[pad.0]));
        }
        out.extend(der::seq(&[
            der::seq(&common),
            der::seq(&[der::octets(&a.auth_id.0)]),
            der::cons(ctx_cons(1), &[der::seq(&attrs)]),
        ]));
    }
    Ok(out)
}

/// Size attribute of a key: modulusLength (RSA) or fieldSize (ECC), in bits.
fn key_bits(pair: &KeyPair) -> u64 {
    match pair.kind() {
        KeyKind::Rsa(bits) => bits as u64,
        KeyKind::P256 => 256,
    }
}

/// EF.PrKDF (PKCS #15 v1.1 §6.3 PrivateKeyType: RSA keys as SEQUENCE, EC keys as `[0]`).
pub(crate) fn prkdf(keys: &[KeyView<'_>]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    for k in keys {
        let s = k.spec;
        let mut common = vec![der::utf8(&s.label), flags("object flag", &s.object_flags)?];
        // No authId: a key usable without a PIN (the CPS3's contactless technical key).
        if !s.auth_id.0.is_empty() {
            common.push(der::octets(&s.auth_id.0));
        }
        let common = der::seq(&common);
        let mut key_attrs = vec![
            der::octets(&k.id()),
            flags("key usage", &s.usage)?,
            // KeyAccessFlags: sensitive, alwaysSensitive, neverExtractable.
            der::named_bits(&[0, 2, 3]),
            der::uint(u64::from(s.reference.0)),
        ];
        if !s.algorithms.is_empty() {
            let refs: Vec<Vec<u8>> = s
                .algorithms
                .iter()
                .map(|a| der::uint(u64::from(*a)))
                .collect();
            key_attrs.push(der::cons(ctx_cons(1), &refs));
        }
        let type_attrs = der::cons(
            ctx_cons(1),
            &[der::seq(&[key_path(s), der::uint(key_bits(k.pair))])],
        );
        let parts = [common, der::seq(&key_attrs), type_attrs];
        out.extend(match k.pair {
            KeyPair::Rsa(_) => der::seq(&parts),
            KeyPair::P256(_) => der::cons(ctx_cons(0), &parts),
        });
    }
    Ok(out)
}

/// EF.PuKDF: the public keys that have a PuKDF entry, without direct value (OpenSC reads
/// them with GET DATA, research §2.4).
pub(crate) fn pukdf(keys: &[KeyView<'_>]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    for k in keys {
        let Some(PublicKeySpec { label, usage }) = &k.spec.public_key else {
            continue;
        };
        let parts = [
            der::seq(&[der::utf8(label)]),
            der::seq(&[
                der::octets(&k.id()),
                flags("key usage", usage)?,
                der::uint(u64::from(k.spec.reference.0)),
            ]),
            der::cons(
                ctx_cons(1),
                &[der::seq(&[key_path(k.spec), der::uint(key_bits(k.pair))])],
            ),
        ];
        out.extend(match k.pair {
            KeyPair::Rsa(_) => der::seq(&parts),
            KeyPair::P256(_) => der::cons(ctx_cons(0), &parts),
        });
    }
    Ok(out)
}

/// EF.CDF: X.509 certificates, each with the iD of its key (PKCS #15 v1.1 §6.5).
pub(crate) fn cdf(spec: &ProfileSpec, keys: &[KeyView<'_>]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    for c in &spec.pkcs15.certificates {
        let key = keys
            .iter()
            .find(|k| k.spec.reference == c.key)
            .ok_or_else(|| format!("certificate {}: no key {:02X}", c.label, c.key.0))?;
        out.extend(der::seq(&[
            der::seq(&[der::utf8(&c.label)]),
            der::seq(&[der::octets(&key.id())]),
            der::cons(ctx_cons(1), &[der::seq(&[path(&c.path.0)])]),
        ]));
    }
    Ok(out)
}

/// One entry of the DODF: an opaque data object whose value is the file at `path`
/// (PKCS #15 v1.1 §6.6 DataType `opaqueDO`; Cryptolib `pkcs15-data.c` reads CommonObject,
/// `{ appName }` and `[1] Path`).
fn dodf_entry(label: &str, path_bytes: &[u8], private: bool, modifiable: bool) -> Vec<u8> {
    let mut bits = Vec::new();
    if private {
        bits.push(0);
    }
    if modifiable {
        bits.push(1);
    }
    let mut common = vec![der::utf8(label), der::named_bits(&bits)];
    if private {
        // The holder PIN's authId.
        common.push(der::octets(&[0x01]));
    }
    der::seq(&[
        der::seq(&common),
        der::seq(&[der::utf8("CPS")]),
        der::cons(ctx_cons(1), &[path(path_bytes)]),
    ])
}

/// EF.DODF: the profile's data objects, then for each `situations` block one object per
/// practice situation of the persona (`CPS_ACTIVITY_nn_PS`, on the CPS4 also
/// `CPS2TER_ACTIVITY_nn_PS`; numbered from 01, behind the PIN).
pub(crate) fn dodf(spec: &ProfileSpec, situations: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    for d in &spec.pkcs15.data_objects {
        out.extend(dodf_entry(&d.label, &d.path.0, d.private, d.modifiable));
    }
    for s in &spec.pkcs15.situations {
        for i in 0..situations.min(16) {
            let fid = s.first_fid.0.wrapping_add(i as u16);
            let mut p = s.folder.0.clone();
            p.extend_from_slice(&fid.to_be_bytes());
            let label = format!("{}{:02}_PS", s.label_prefix, i + 1);
            out.extend(dodf_entry(&label, &p, true, false));
        }
    }
    Ok(out)
}
