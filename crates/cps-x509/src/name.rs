//! Distinguished names and the CPS holder identity carried in them.
//!
//! # The CPS holder subject (IGC-Santé)
//!
//! Holder certificates of CPS cards issued by IGC-Santé ("AC IGC-SANTE FORT PERSONNES") are
//! observed with subjects such as `CN=810002813839+SN=DONNAT-GADY+GN=ISABELLE,title=Médecin,C=FR`
//! (RFC 4514 order, i.e. reversed): `C=FR`, then `title` = profession label, then one
//! multi-valued RDN `CN` (national identifier) + `SN` (family name) + `GN` (given name).
//! Structure staff cards (CPE/CDE) add `O` (structure name) and `OU` (structure identifier with
//! its type digit), e.g. `.../O=<structure>/OU=1<FINESS>/title=.../CN=3<FINESS>/<id>`.
//! See `testvectors/pki/README.md` for the sources and what is assumed.

use core::fmt;

use const_oid::ObjectIdentifier;
use der::{Tag, Tagged};
use x509_cert::name::Name;

use crate::oids;

/// One attribute of a distinguished name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attribute {
    /// Attribute type.
    pub oid: ObjectIdentifier,
    /// The value as text: decoded for the directory string types (UTF8String, PrintableString,
    /// IA5String, VisibleString, NumericString, TeletexString as Latin-1, BMPString), otherwise `#` + the
    /// hex of the whole DER value (RFC 4514 §2.4).
    pub value: String,
}

/// A distinguished name (RFC 5280 §4.1.2.4) as decoded text plus its exact DER encoding.
///
/// Equality of two names is equality of their DER (binary comparison, which RFC 5280 §7.1 allows
/// as the first test and which is what certificates issued by one CA software produce).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DistinguishedName {
    der: Vec<u8>,
    rdns: Vec<Vec<Attribute>>,
}

impl DistinguishedName {
    pub(crate) fn from_name(name: &Name, der: Vec<u8>) -> Self {
        let rdns = name
            .0
            .iter()
            .map(|rdn| {
                rdn.0
                    .iter()
                    .map(|atv| Attribute {
                        oid: atv.oid,
                        value: decode_directory_string(&atv.value),
                    })
                    .collect()
            })
            .collect();
        Self { der, rdns }
    }

    /// The DER encoding of the `Name`, as it appears in the certificate.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The relative distinguished names in encoding order (most significant, e.g. `C`, first).
    pub fn rdns(&self) -> &[Vec<Attribute>] {
        &self.rdns
    }

    /// All attributes in encoding order.
    pub fn attributes(&self) -> impl Iterator<Item = &Attribute> {
        self.rdns.iter().flatten()
    }

    /// The first value of an attribute type.
    pub fn get(&self, oid: &ObjectIdentifier) -> Option<&str> {
        self.attributes()
            .find(|a| &a.oid == oid)
            .map(|a| a.value.as_str())
    }

    /// All values of an attribute type, in encoding order.
    pub fn get_all<'a>(&'a self, oid: &'a ObjectIdentifier) -> impl Iterator<Item = &'a str> {
        self.attributes()
            .filter(move |a| &a.oid == oid)
            .map(|a| a.value.as_str())
    }

    /// The first commonName.
    pub fn common_name(&self) -> Option<&str> {
        self.get(&oids::AT_COMMON_NAME)
    }

    /// Whether the name has no attribute.
    pub fn is_empty(&self) -> bool {
        self.rdns.iter().all(Vec::is_empty)
    }
}

impl fmt::Display for DistinguishedName {
    /// RFC 4514 string form: RDNs in reverse order separated by `,`, multi-valued RDNs joined
    /// by `+`, short names for common attribute types, special characters escaped.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, rdn) in self.rdns.iter().rev().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            for (j, atv) in rdn.iter().enumerate() {
                if j > 0 {
                    f.write_str("+")?;
                }
                match oids::attribute_short_name(&atv.oid) {
                    Some(n) => f.write_str(n)?,
                    None => write!(f, "{}", atv.oid)?,
                }
                f.write_str("=")?;
                write_escaped(f, &atv.value)?;
            }
        }
        Ok(())
    }
}

fn write_escaped(f: &mut fmt::Formatter<'_>, value: &str) -> fmt::Result {
    if value.starts_with('#')
        && value.len() > 1
        && value.bytes().skip(1).all(|b| b.is_ascii_hexdigit())
    {
        // Hex form of a non-string value: printed as is (RFC 4514 §2.4).
        return f.write_str(value);
    }
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (i == 0 && matches!(c, '#' | ' '))
            || (i == last && c == ' ');
        if special {
            f.write_str("\\")?;
        }
        if c == '\0' {
            f.write_str("\\00")?;
        } else {
            write!(f, "{c}")?;
        }
    }
    Ok(())
}

/// Decodes a DirectoryString-like value to text (see [`Attribute::value`]).
fn decode_directory_string(any: &der::Any) -> String {
    let bytes = any.value();
    let text = match any.tag() {
        Tag::Utf8String => core::str::from_utf8(bytes).ok().map(str::to_owned),
        Tag::PrintableString | Tag::Ia5String | Tag::VisibleString | Tag::NumericString => {
            if bytes.is_ascii() {
                core::str::from_utf8(bytes).ok().map(str::to_owned)
            } else {
                None
            }
        }
        // T.61 in theory; Latin-1 in practice.
        Tag::TeletexString => Some(bytes.iter().map(|&b| char::from(b)).collect()),
        Tag::BmpString => {
            if bytes.len() % 2 == 0 {
                let units = bytes.chunks_exact(2).map(|c| {
                    u16::from_be_bytes([
                        c.first().copied().unwrap_or(0),
                        c.get(1).copied().unwrap_or(0),
                    ])
                });
                char::decode_utf16(units)
                    .collect::<Result<String, _>>()
                    .ok()
            } else {
                None
            }
        }
        Tag::Application { .. } | Tag::ContextSpecific { .. } | Tag::Private { .. } => None,
        _ => None,
    };
    text.unwrap_or_else(|| {
        let mut s = String::from("#");
        let tag_byte = u8::from(any.tag());
        s.push_str(&format!("{tag_byte:02X}"));
        // Length in DER definite form.
        let len = bytes.len();
        if len < 0x80 {
            s.push_str(&format!("{len:02X}"));
        } else {
            let be = len.to_be_bytes();
            let skip = be.iter().take_while(|&&b| b == 0).count();
            let n = be.len().saturating_sub(skip);
            s.push_str(&format!("{:02X}", 0x80 | n));
            for b in be.iter().skip(skip) {
                s.push_str(&format!("{b:02X}"));
            }
        }
        for b in bytes {
            s.push_str(&format!("{b:02X}"));
        }
        s
    })
}

/// The kind of a national identifier ("identifiant national", PS_IdNat of the CI-SIS: a type
/// digit followed by the identifier in the referential that type designates).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NationalIdKind {
    /// `8` + the 11-digit RPPS number (ANS FAQ: "le chiffre 8 suivi des 11 chiffres de votre
    /// numéro RPPS").
    Rpps,
    /// `0` + the ADELI number.
    Adeli,
    /// Staff of a structure (CPE/CDE/CPA/CDA cards): type digit of the structure identifier
    /// (e.g. `3` FINESS), the structure identifier, `/`, and the holder's identifier inside the
    /// structure — e.g. `3490000031/D0001`.
    StructurePersonnel,
    /// Anything else.
    Other,
}

/// A holder's national identifier, as found in the CN of a CPS certificate.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NationalId {
    value: String,
    kind: NationalIdKind,
}

impl NationalId {
    /// Classifies an identifier string (never fails; unknown shapes are [`NationalIdKind::Other`]).
    pub fn parse(value: &str) -> Self {
        let bytes = value.as_bytes();
        let kind = match bytes.first() {
            Some(b'8') if bytes.len() == 12 && bytes.iter().all(u8::is_ascii_digit) => {
                NationalIdKind::Rpps
            }
            Some(b'0') if bytes.len() == 10 && bytes.iter().all(u8::is_ascii_alphanumeric) => {
                NationalIdKind::Adeli
            }
            Some(b'1'..=b'5') if structure_personnel_parts(value).is_some() => {
                NationalIdKind::StructurePersonnel
            }
            _ => NationalIdKind::Other,
        };
        Self {
            value: value.to_owned(),
            kind,
        }
    }

    /// The identifier as written.
    pub fn as_str(&self) -> &str {
        &self.value
    }

    /// Its kind.
    pub fn kind(&self) -> NationalIdKind {
        self.kind
    }

    /// The RPPS number (11 digits) of an [`NationalIdKind::Rpps`] identifier.
    pub fn rpps(&self) -> Option<&str> {
        match self.kind {
            NationalIdKind::Rpps => self.value.get(1..),
            _ => None,
        }
    }

    /// The structure identifier (without its type digit) and the holder's identifier inside the
    /// structure, for [`NationalIdKind::StructurePersonnel`].
    pub fn structure_personnel(&self) -> Option<(&str, &str)> {
        match self.kind {
            NationalIdKind::StructurePersonnel => structure_personnel_parts(&self.value),
            _ => None,
        }
    }
}

fn structure_personnel_parts(value: &str) -> Option<(&str, &str)> {
    let (structure, local) = value.split_once('/')?;
    let structure = structure.get(1..)?;
    let ok = !structure.is_empty()
        && structure.bytes().all(|b| b.is_ascii_alphanumeric())
        && !local.is_empty()
        && local.bytes().all(|b| b.is_ascii_alphanumeric());
    ok.then_some((structure, local))
}

impl fmt::Display for NationalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.value)
    }
}

/// The holder identity read from a CPS certificate subject (see the module documentation).
///
/// The profession *code* and the speciality are not encoded in the IGC-Santé subject: they are
/// on the card (and in the Annuaire Santé), not in the certificate.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SubjectIdentity {
    /// National identifier, from the first CN.
    pub national_id: Option<NationalId>,
    /// Family name (SN).
    pub family_name: Option<String>,
    /// Given name (GN).
    pub given_name: Option<String>,
    /// Profession label (title), e.g. `Médecin`.
    pub profession: Option<String>,
    /// Organisation (O): the structure of CPE/CDE cards; `CPS-RS TEST PKI` in test CPS/CPF
    /// certificates.
    pub organisation: Option<String>,
    /// Organisational unit (OU): the structure identifier (type digit + identifier) of
    /// CPE/CDE cards.
    pub organisational_unit: Option<String>,
    /// Country (C).
    pub country: Option<String>,
}

impl SubjectIdentity {
    pub(crate) fn from_subject(dn: &DistinguishedName) -> Self {
        let s = |oid: &ObjectIdentifier| dn.get(oid).map(str::to_owned);
        Self {
            national_id: dn.common_name().map(NationalId::parse),
            family_name: s(&oids::AT_SURNAME),
            given_name: s(&oids::AT_GIVEN_NAME),
            profession: s(&oids::AT_TITLE),
            organisation: s(&oids::AT_ORGANIZATION),
            organisational_unit: s(&oids::AT_ORGANIZATIONAL_UNIT),
            country: s(&oids::AT_COUNTRY),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn national_ids() {
        let id = NationalId::parse("810001234567");
        assert_eq!(id.kind(), NationalIdKind::Rpps);
        assert_eq!(id.rpps(), Some("10001234567"));
        let id = NationalId::parse("3490000031/D0001");
        assert_eq!(id.kind(), NationalIdKind::StructurePersonnel);
        assert_eq!(id.structure_personnel(), Some(("490000031", "D0001")));
        assert_eq!(
            NationalId::parse("00B7010446").kind(),
            NationalIdKind::Adeli
        );
        assert_eq!(
            NationalId::parse("81000123456").kind(),
            NationalIdKind::Other
        );
        assert_eq!(NationalId::parse("3/").kind(), NationalIdKind::Other);
        assert_eq!(NationalId::parse("").kind(), NationalIdKind::Other);
        assert_eq!(NationalId::parse("é").kind(), NationalIdKind::Other);
    }
}
