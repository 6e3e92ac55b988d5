//! Holder data: EF.IDENT (identification, free to read) and EF.DAM (practice situations,
//! readable after the holder PIN).
//!
//! Encoding (docs/card-layout.md, "Holder data" [model]): BER-TLV, UTF-8 strings with
//! context-specific tags inside a private constructed template (`E1` for EF.IDENT, `E2` with
//! one `A0` per situation for EF.DAM). Unknown tags are skipped (forward compatibility);
//! `00`/`FF` padding around the template is ignored; every string is checked to be UTF-8.
//! Parsing never panics.

use cps_apdu::tlv::{Builder, Iter, Tag, Tlv};

use crate::dico::Table;
use crate::error::{Error, Result};

const IDENT: &str = "EF.IDENT";
const DAM: &str = "EF.DAM";

/// The card family (EF.IDENT tag `80`), which tells the holder's kind of profession.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CardFamily {
    /// CPS: Carte de Professionnel de Santé (health professional).
    Cps,
    /// CPF: Carte de Professionnel en Formation (professional in training).
    Cpf,
    /// CPE: Carte de Personnel d'Établissement (establishment staff).
    Cpe,
    /// CDE: Carte de Directeur d'Établissement (establishment director).
    Cde,
    /// CPA: Carte de Personnel Autorisé (authorised staff of another structure).
    Cpa,
    /// CDA: Carte de Directeur d'Organisme Autorisé (director of another structure).
    Cda,
    /// Another code, kept as read.
    Other(String),
}

impl CardFamily {
    /// Maps the EF.IDENT code to a family.
    pub fn from_code(code: &str) -> Self {
        match code {
            "CPS" => CardFamily::Cps,
            "CPF" => CardFamily::Cpf,
            "CPE" => CardFamily::Cpe,
            "CDE" => CardFamily::Cde,
            "CPA" => CardFamily::Cpa,
            "CDA" => CardFamily::Cda,
            other => CardFamily::Other(other.to_owned()),
        }
    }

    /// The EF.IDENT code, e.g. `"CPS"`.
    pub fn code(&self) -> &str {
        match self {
            CardFamily::Cps => "CPS",
            CardFamily::Cpf => "CPF",
            CardFamily::Cpe => "CPE",
            CardFamily::Cde => "CDE",
            CardFamily::Cpa => "CPA",
            CardFamily::Cda => "CDA",
            CardFamily::Other(s) => s,
        }
    }
}

impl std::fmt::Display for CardFamily {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// A code of an ANS nomenclature with its label, e.g. profession `10` "Médecin" (TRE_G15).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Coded {
    /// The code.
    pub code: String,
    /// The label, when the card gives one.
    pub label: Option<String>,
}

/// The holder identification of EF.IDENT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HolderIdentity {
    /// Card family (`80`).
    pub family: CardFamily,
    /// National identifier type (`81`): `"8"` RPPS-based, `"3"` structure-based staff...
    pub national_id_type: Option<String>,
    /// National identifier (`82`), e.g. `"810001234567"`.
    pub national_id: String,
    /// RPPS number (`83`), absent for staff cards.
    pub rpps: Option<String>,
    /// Civility code (`84`): `"DR"`, `"M"`, `"MME"`...
    pub civility: Option<String>,
    /// Family name (`85`).
    pub family_name: String,
    /// Given names (`86`, repeated), first one first.
    pub given_names: Vec<String>,
    /// Profession (`87` code, TRE_G15, and `88` label).
    pub profession: Option<Coded>,
    /// Speciality (`89` code, TRE_R38, and `8A` label).
    pub speciality: Option<Coded>,
    /// A professional in training (`8B` = `"1"`).
    pub student: bool,
}

/// One practice situation ("situation d'exercice") of EF.DAM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PracticeSituation {
    /// Situation index (`80`, one byte), from 1.
    pub index: u8,
    /// Practice mode (`81` code, TRE_R23, e.g. `"L"` libéral, and `82` label).
    pub practice_mode: Option<Coded>,
    /// Activity sector (`83` code, TRE_R02, e.g. `"SA07"`, and `84` label).
    pub activity_sector: Option<Coded>,
    /// Structure identifier type (`85`): `"1"` FINESS, `"3"` SIRET, `"4"` RPPS-based...
    pub structure_id_type: Option<String>,
    /// Structure identifier (`86`).
    pub structure_id: Option<String>,
    /// Structure name (`87`).
    pub structure_name: Option<String>,
    /// City (`88`).
    pub city: Option<String>,
}

/// The first top-level object with `tag`, skipping padding; an error if absent.
fn template<'a>(what: &'static str, data: &'a [u8], tag: Tag) -> Result<Tlv<'a>> {
    for tlv in Iter::new(data).skip_padding() {
        let tlv = tlv.map_err(|e| Error::malformed(what, e.to_string()))?;
        if tlv.tag == tag {
            return Ok(tlv);
        }
    }
    Err(Error::malformed(
        what,
        format!("no {tag:?} template in {} bytes", data.len()),
    ))
}

fn utf8(what: &'static str, tlv: &Tlv<'_>) -> Result<String> {
    std::str::from_utf8(tlv.value)
        .map(str::to_owned)
        .map_err(|_| Error::malformed(what, format!("tag {:?} is not UTF-8", tlv.tag)))
}

/// Fills `slot` with the first occurrence only (later duplicates are ignored).
fn first(what: &'static str, slot: &mut Option<String>, tlv: &Tlv<'_>) -> Result<()> {
    let value = utf8(what, tlv)?;
    if slot.is_none() {
        *slot = Some(value);
    }
    Ok(())
}

/// A code of a data object, labelled from the code dictionary's `table` when the dictionary
/// has it (`DICO-FR.GIP`, [`crate::dico`]); otherwise the code alone.
fn labelled(code: Option<String>, table: Table) -> Option<Coded> {
    code.map(|code| {
        let label = crate::dico::label(table, &code).map(str::to_owned);
        Coded { code, label }
    })
}

fn coded(code: Option<String>, label: Option<String>) -> Option<Coded> {
    code.map(|code| Coded { code, label })
}

impl HolderIdentity {
    /// Parses the content of EF.IDENT.
    pub fn parse(data: &[u8]) -> Result<Self> {
        let e1 = template(IDENT, data, Tag(0xE1))?;
        let mut family = None;
        let mut id_type = None;
        let mut national_id = None;
        let mut rpps = None;
        let mut civility = None;
        let mut family_name = None;
        let mut given_names = Vec::new();
        let (mut prof, mut prof_label, mut spec, mut spec_label) = (None, None, None, None);
        let mut student = None;
        for tlv in e1.children_iter() {
            let tlv = tlv.map_err(|e| Error::malformed(IDENT, e.to_string()))?;
            match tlv.tag.0 {
                0x80 => first(IDENT, &mut family, &tlv)?,
                0x81 => first(IDENT, &mut id_type, &tlv)?,
                0x82 => first(IDENT, &mut national_id, &tlv)?,
                0x83 => first(IDENT, &mut rpps, &tlv)?,
                0x84 => first(IDENT, &mut civility, &tlv)?,
                0x85 => first(IDENT, &mut family_name, &tlv)?,
                0x86 => given_names.push(utf8(IDENT, &tlv)?),
                0x87 => first(IDENT, &mut prof, &tlv)?,
                0x88 => first(IDENT, &mut prof_label, &tlv)?,
                0x89 => first(IDENT, &mut spec, &tlv)?,
                0x8A => first(IDENT, &mut spec_label, &tlv)?,
                0x8B => first(IDENT, &mut student, &tlv)?,
                // Unknown tags: skipped (forward compatibility).
                _ => {}
            }
        }
        let missing = |tag: &str| Error::malformed(IDENT, format!("mandatory tag {tag} missing"));
        Ok(HolderIdentity {
            family: CardFamily::from_code(&family.ok_or_else(|| missing("80 (card family)"))?),
            national_id_type: id_type,
            national_id: national_id.ok_or_else(|| missing("82 (national identifier)"))?,
            rpps,
            civility,
            family_name: family_name.ok_or_else(|| missing("85 (family name)"))?,
            given_names,
            profession: coded(prof, prof_label),
            speciality: coded(spec, spec_label),
            student: student.as_deref() == Some("1"),
        })
    }

    /// Encodes the identity as EF.IDENT content (the inverse of [`HolderIdentity::parse`];
    /// used by tests and tools that build card images).
    pub fn encode(&self) -> Vec<u8> {
        let t = Tag;
        let s = |o: &Option<String>| o.as_ref().map(|v| v.as_bytes().to_vec());
        Builder::new()
            .constructed(t(0xE1), |b| {
                let mut b = b
                    .primitive(t(0x80), self.family.code().as_bytes())
                    .optional(t(0x81), s(&self.national_id_type).as_deref())
                    .primitive(t(0x82), self.national_id.as_bytes())
                    .optional(t(0x83), s(&self.rpps).as_deref())
                    .optional(t(0x84), s(&self.civility).as_deref())
                    .primitive(t(0x85), self.family_name.as_bytes());
                for given in &self.given_names {
                    b = b.primitive(t(0x86), given.as_bytes());
                }
                for (c, tags) in [
                    (&self.profession, (0x87, 0x88)),
                    (&self.speciality, (0x89, 0x8A)),
                ] {
                    if let Some(c) = c {
                        b = b
                            .primitive(t(tags.0), c.code.as_bytes())
                            .optional(t(tags.1), s(&c.label).as_deref());
                    }
                }
                if self.student {
                    b = b.primitive(t(0x8B), b"1");
                }
                b
            })
            .finish()
    }

    /// The given names joined with spaces, then the family name ("Claire Anne MARTIN").
    pub fn display_name(&self) -> String {
        let mut parts: Vec<&str> = self.given_names.iter().map(String::as_str).collect();
        parts.push(&self.family_name);
        parts.join(" ")
    }

    /// The holder as cps-rs shows it everywhere: the civility the card carries (`84`), when
    /// it carries one, then [`Self::display_name`] ("DR Claire Anne MARTIN").
    pub fn holder_name(&self) -> String {
        match self.civility.as_deref().map(str::trim) {
            Some(c) if !c.is_empty() => format!("{c} {}", self.display_name()),
            _ => self.display_name(),
        }
    }
}

/// `CPS_ACTIVITY_nn_PS` (a data object of the DODF).
const ACTIVITY: &str = "CPS_ACTIVITY_nn_PS";
/// `CPS_INFO_PS` (a data object of the DODF).
const INFO_PS: &str = "CPS_INFO_PS";

/// The professional data object `CPS_INFO_PS`: `E3 { 80 national id type, 81 national id,
/// [82 profession code], [83 speciality code] }` [model of the simulator, persona.rs
/// `do_info_ps`: the official "Données métier" format is not public]. The card gives codes
/// only; their labels come from the code dictionary `DICO-FR.GIP` ([`crate::dico`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfessionalInfo {
    /// National identifier type (`80`), e.g. `"8"` RPPS.
    pub national_id_type: String,
    /// National identifier (`81`).
    pub national_id: String,
    /// Profession (`82`, G15 code), labelled from [`Table::Profession`].
    pub profession: Option<Coded>,
    /// Speciality (`83`, R01 code), labelled from [`Table::RppsSpeciality`].
    pub speciality: Option<Coded>,
}

impl ProfessionalInfo {
    /// Parses the value of `CPS_INFO_PS`.
    pub fn parse(data: &[u8]) -> Result<Self> {
        let e3 = template(INFO_PS, data, Tag(0xE3))?;
        let (mut id_type, mut id, mut profession, mut speciality) = (None, None, None, None);
        for tlv in e3.children_iter() {
            let tlv = tlv.map_err(|e| Error::malformed(INFO_PS, e.to_string()))?;
            match tlv.tag.0 {
                0x80 => first(INFO_PS, &mut id_type, &tlv)?,
                0x81 => first(INFO_PS, &mut id, &tlv)?,
                0x82 => first(INFO_PS, &mut profession, &tlv)?,
                0x83 => first(INFO_PS, &mut speciality, &tlv)?,
                _ => {}
            }
        }
        Ok(ProfessionalInfo {
            national_id_type: id_type
                .ok_or_else(|| Error::malformed(INFO_PS, "no national id type (80)"))?,
            national_id: id.ok_or_else(|| Error::malformed(INFO_PS, "no national id (81)"))?,
            profession: labelled(profession, Table::Profession),
            speciality: labelled(speciality, Table::RppsSpeciality),
        })
    }
}

impl PracticeSituation {
    /// Parses the value of a `CPS_ACTIVITY_nn_PS` data object: `EE { 80 number, 81 mode,
    /// 84 structure name, 85 structure id, 86 sector, 87 structure id type, 88 city }`
    /// [model of the simulator, persona.rs `do_activity`; tags 84/85/86 after the public
    /// editor projects]. The card gives codes only: `practice_mode` is labelled from
    /// [`Table::PracticeMode`] and `activity_sector` from [`Table::RppsSector`] when the
    /// dictionary has the code (the RPPS practice modes `L`/`S` are not in it).
    pub fn parse_activity(data: &[u8]) -> Result<Self> {
        let ee = template(ACTIVITY, data, Tag(0xEE))?;
        let mut out = PracticeSituation {
            index: 0,
            practice_mode: None,
            activity_sector: None,
            structure_id_type: None,
            structure_id: None,
            structure_name: None,
            city: None,
        };
        let (mut mode, mut sector) = (None, None);
        let mut number = None;
        for tlv in ee.children_iter() {
            let tlv = tlv.map_err(|e| Error::malformed(ACTIVITY, e.to_string()))?;
            match tlv.tag.0 {
                0x80 if number.is_none() => {
                    number = match tlv.value {
                        [n] => Some(*n),
                        _ => {
                            return Err(Error::malformed(
                                ACTIVITY,
                                "the number (80) is not one byte",
                            ));
                        }
                    };
                }
                0x81 => first(ACTIVITY, &mut mode, &tlv)?,
                0x84 => first(ACTIVITY, &mut out.structure_name, &tlv)?,
                0x85 => first(ACTIVITY, &mut out.structure_id, &tlv)?,
                0x86 => first(ACTIVITY, &mut sector, &tlv)?,
                0x87 => first(ACTIVITY, &mut out.structure_id_type, &tlv)?,
                0x88 => first(ACTIVITY, &mut out.city, &tlv)?,
                _ => {}
            }
        }
        out.index = number.ok_or_else(|| Error::malformed(ACTIVITY, "no number (80)"))?;
        out.practice_mode = labelled(mode, Table::PracticeMode);
        out.activity_sector = labelled(sector, Table::RppsSector);
        Ok(out)
    }

    /// Parses the content of EF.DAM: every `A0` situation of the `E2` template, in order.
    pub fn parse_all(data: &[u8]) -> Result<Vec<Self>> {
        let e2 = template(DAM, data, Tag(0xE2))?;
        let mut out = Vec::new();
        for tlv in e2.children_iter() {
            let tlv = tlv.map_err(|e| Error::malformed(DAM, e.to_string()))?;
            if tlv.tag != Tag(0xA0) {
                continue;
            }
            let mut index = None;
            let mut f: [Option<String>; 8] = Default::default();
            for field in tlv.children_iter() {
                let field = field.map_err(|e| Error::malformed(DAM, e.to_string()))?;
                match field.tag.0 {
                    0x80 if index.is_none() => {
                        index = match field.value {
                            [i] => Some(*i),
                            _ => {
                                return Err(Error::malformed(
                                    DAM,
                                    "situation index (80) is not one byte",
                                ));
                            }
                        };
                    }
                    tag @ 0x81..=0x88 => {
                        let slot = usize::try_from(tag - 0x81).ok().and_then(|i| f.get_mut(i));
                        if let Some(slot) = slot {
                            first(DAM, slot, &field)?;
                        }
                    }
                    _ => {}
                }
            }
            let [
                mode,
                mode_label,
                sector,
                sector_label,
                id_type,
                id,
                name,
                city,
            ] = f;
            let position = u8::try_from(out.len() + 1).unwrap_or(u8::MAX);
            out.push(PracticeSituation {
                index: index.unwrap_or(position),
                practice_mode: coded(mode, mode_label),
                activity_sector: coded(sector, sector_label),
                structure_id_type: id_type,
                structure_id: id,
                structure_name: name,
                city,
            });
        }
        Ok(out)
    }

    /// Encodes situations as EF.DAM content (the inverse of [`PracticeSituation::parse_all`]).
    pub fn encode_all(situations: &[PracticeSituation]) -> Vec<u8> {
        let t = Tag;
        let s = |o: &Option<String>| o.as_ref().map(|v| v.as_bytes().to_vec());
        Builder::new()
            .constructed(t(0xE2), |mut b| {
                for sit in situations {
                    b = b.constructed(t(0xA0), |mut b| {
                        b = b.primitive(t(0x80), &[sit.index]);
                        for (c, tags) in [
                            (&sit.practice_mode, (0x81, 0x82)),
                            (&sit.activity_sector, (0x83, 0x84)),
                        ] {
                            if let Some(c) = c {
                                b = b
                                    .primitive(t(tags.0), c.code.as_bytes())
                                    .optional(t(tags.1), s(&c.label).as_deref());
                            }
                        }
                        b.optional(t(0x85), s(&sit.structure_id_type).as_deref())
                            .optional(t(0x86), s(&sit.structure_id).as_deref())
                            .optional(t(0x87), s(&sit.structure_name).as_deref())
                            .optional(t(0x88), s(&sit.city).as_deref())
                    });
                }
                b
            })
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> HolderIdentity {
        HolderIdentity {
            family: CardFamily::Cps,
            national_id_type: Some("8".into()),
            national_id: "810001234567".into(),
            rpps: Some("10001234567".into()),
            civility: Some("DR".into()),
            family_name: "MARTIN".into(),
            given_names: vec!["Claire".into(), "Anne".into()],
            profession: Some(Coded {
                code: "10".into(),
                label: Some("Médecin".into()),
            }),
            speciality: Some(Coded {
                code: "SM54".into(),
                label: Some("Médecine générale".into()),
            }),
            student: false,
        }
    }

    #[test]
    fn identity_round_trip_and_unknown_tags() {
        let id = sample();
        let enc = id.encode();
        assert_eq!(HolderIdentity::parse(&enc).unwrap(), id);
        assert_eq!(id.display_name(), "Claire Anne MARTIN");
        assert_eq!(
            id.holder_name(),
            match id.civility.as_deref() {
                Some(c) => format!("{c} Claire Anne MARTIN"),
                None => "Claire Anne MARTIN".to_owned(),
            }
        );
        let mut no_civility = id.clone();
        no_civility.civility = None;
        assert_eq!(no_civility.holder_name(), "Claire Anne MARTIN");
        no_civility.civility = Some(" ".into());
        assert_eq!(no_civility.holder_name(), "Claire Anne MARTIN");
        // Unknown tags inside and around, padding after.
        let (e1, _) = cps_apdu::tlv::parse_one(&enc).unwrap();
        let mut inner = vec![0x9F, 0x20, 0x01, 0x42];
        inner.extend_from_slice(e1.value);
        inner.extend_from_slice(&[0xBF, 0x30, 0x02, 0x80, 0x00]);
        let mut data = vec![0xC0, 0x00];
        data.extend(cps_apdu::tlv::encode(Tag(0xE1), &inner));
        data.extend_from_slice(&[0xFF, 0xFF, 0x00]);
        assert_eq!(HolderIdentity::parse(&data).unwrap(), id);
    }

    #[test]
    fn identity_errors() {
        assert!(matches!(
            HolderIdentity::parse(&[]),
            Err(Error::Malformed {
                what: "EF.IDENT",
                ..
            })
        ));
        // Missing the national identifier.
        let data = cps_apdu::tlv::encode(Tag(0xE1), &[0x80, 0x03, b'C', b'P', b'S']);
        let e = HolderIdentity::parse(&data).unwrap_err();
        assert!(e.to_string().contains("82"), "{e}");
        // Not UTF-8.
        let data = cps_apdu::tlv::encode(Tag(0xE1), &[0x80, 0x02, 0xC3, 0x28]);
        assert!(
            HolderIdentity::parse(&data)
                .unwrap_err()
                .to_string()
                .contains("UTF-8")
        );
        // Truncated.
        assert!(HolderIdentity::parse(&[0xE1, 0x05, 0x80]).is_err());
    }

    #[test]
    fn situations_round_trip() {
        let sits = vec![
            PracticeSituation {
                index: 1,
                practice_mode: Some(Coded {
                    code: "L".into(),
                    label: Some("Libéral".into()),
                }),
                activity_sector: Some(Coded {
                    code: "SA07".into(),
                    label: None,
                }),
                structure_id_type: Some("3".into()),
                structure_id: Some("49123456700018".into()),
                structure_name: Some("Cabinet du Dr Martin".into()),
                city: Some("Angers".into()),
            },
            PracticeSituation {
                index: 2,
                practice_mode: None,
                activity_sector: None,
                structure_id_type: None,
                structure_id: None,
                structure_name: None,
                city: None,
            },
        ];
        let enc = PracticeSituation::encode_all(&sits);
        assert_eq!(PracticeSituation::parse_all(&enc).unwrap(), sits);
        assert!(
            PracticeSituation::parse_all(&PracticeSituation::encode_all(&[]))
                .unwrap()
                .is_empty()
        );
        let bad = cps_apdu::tlv::encode(Tag(0xE2), &[0xA0, 0x03, 0x80, 0x01]);
        assert!(PracticeSituation::parse_all(&bad).is_err());
    }
}
