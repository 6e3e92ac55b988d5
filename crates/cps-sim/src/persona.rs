//! Card holders ("personas") of the test PKI and the holder-data files generated from them
//! (EF.IDENT, EF.DAM, EF.SN), in the TLV format of docs/card-layout.md ("Holder data").

use cps_apdu::tlv::{Builder, Tag};
use serde::Deserialize;

use crate::SimError;

/// The committed persona file of the test PKI (embedded by cps-x509's `test-pki` feature).
const PERSONAS_JSON: &str = cps_x509::test_pki::PERSONAS_JSON;

/// A code and its label from an ANS nomenclature (TRE_G15, TRE_R38...).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Coded {
    /// The code, e.g. `"10"` (Médecin) or `"SM54"`.
    pub code: String,
    /// The label, e.g. `"Médecin"`.
    pub label: String,
}

/// One practice situation ("situation d'exercice") of EF.DAM.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Situation {
    /// Practice mode code (TRE_R23), e.g. `"L"` libéral, `"S"` salarié.
    pub mode: String,
    /// Practice mode label.
    pub mode_label: String,
    /// Activity sector code (TRE_R02), e.g. `"SA07"`.
    pub sector: String,
    /// Activity sector label.
    pub sector_label: String,
    /// Structure identifier type: `"1"` FINESS, `"3"` SIRET, `"4"` RPPS-based...
    pub structure_id_type: String,
    /// Structure identifier.
    pub structure_id: String,
    /// Structure name.
    pub structure_name: String,
    /// City.
    pub city: String,
}

/// A fictitious card holder (testvectors/pki/personas.json).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Persona {
    /// Identifier used to select the persona, e.g. `"dr-martin"`.
    pub id: String,
    /// Card family: `"CPS"`, `"CPF"`, `"CDE"`, `"CPE"`, `"CPA"` or `"CDA"`.
    pub family: String,
    /// Civility code: `"DR"`, `"M"`, `"MME"`.
    pub civility: String,
    /// Family name.
    pub family_name: String,
    /// Given names, first one first.
    pub given_names: Vec<String>,
    /// RPPS number (absent for staff cards).
    #[serde(default)]
    pub rpps: Option<String>,
    /// National identifier: type digit then identifier (`"810001234567"`,
    /// `"3490000031/D0001"`).
    pub national_id: String,
    /// Profession (TRE_G15).
    #[serde(default)]
    pub profession: Option<Coded>,
    /// Speciality (TRE_R38).
    #[serde(default)]
    pub speciality: Option<Coded>,
    /// A CPF holder in training.
    #[serde(default)]
    pub student: bool,
    /// Practice situations, in order.
    pub situations: Vec<Situation>,
}

#[derive(Deserialize)]
struct PersonaFile {
    personas: Vec<Persona>,
}

/// The six personas of the test PKI, in file order: dr-martin, pharmacien-durand,
/// infirmiere-bernard, etudiant-petit (CPF), directeur-leroy (CDE), secretaire-moreau (CPE).
pub fn personas() -> Vec<Persona> {
    // The file is committed and checked by a unit test: failing to parse it is a build bug,
    // reported as an empty list rather than a panic.
    serde_json::from_str::<PersonaFile>(PERSONAS_JSON)
        .map(|f| f.personas)
        .unwrap_or_default()
}

/// The persona with this identifier.
pub fn persona(id: &str) -> Result<Persona, SimError> {
    personas()
        .into_iter()
        .find(|p| p.id == id)
        .ok_or_else(|| SimError::UnknownPersona(id.to_owned()))
}

impl Persona {
    /// Position of this persona in [`personas`] (1-based), 0 if it is not one of them.
    pub fn number(&self) -> u32 {
        personas()
            .iter()
            .position(|p| p.id == self.id)
            .map_or(0, |i| i as u32 + 1)
    }

    /// The national identifier type: the first character of the national identifier
    /// (`"8"` RPPS-based, `"3"` structure-based staff).
    pub fn national_id_type(&self) -> String {
        self.national_id.chars().take(1).collect()
    }

    /// EF.IDENT content: `E1 { 80 family, 81 id type, 82 national id, [83 RPPS], 84 civility,
    /// 85 family name, 86 given name..., [87 88 profession], [89 8A speciality], [8B "1"] }`.
    pub fn ef_ident(&self) -> Vec<u8> {
        let t = Tag;
        Builder::new()
            .constructed(t(0xE1), |b| {
                let mut b = b
                    .primitive(t(0x80), self.family.as_bytes())
                    .primitive(t(0x81), self.national_id_type().as_bytes())
                    .primitive(t(0x82), self.national_id.as_bytes())
                    .optional(t(0x83), self.rpps.as_deref().map(str::as_bytes))
                    .primitive(t(0x84), self.civility.as_bytes())
                    .primitive(t(0x85), self.family_name.as_bytes());
                for given in &self.given_names {
                    b = b.primitive(t(0x86), given.as_bytes());
                }
                if let Some(p) = &self.profession {
                    b = b
                        .primitive(t(0x87), p.code.as_bytes())
                        .primitive(t(0x88), p.label.as_bytes());
                }
                if let Some(s) = &self.speciality {
                    b = b
                        .primitive(t(0x89), s.code.as_bytes())
                        .primitive(t(0x8A), s.label.as_bytes());
                }
                if self.student {
                    b = b.primitive(t(0x8B), b"1");
                }
                b
            })
            .finish()
    }

    /// EF.DAM content: `E2 { A0 { 80 index, 81 mode, 82 label, 83 sector, 84 label, 85 id type,
    /// 86 id, 87 name, 88 city } ... }`, situations numbered from 1.
    pub fn ef_dam(&self) -> Vec<u8> {
        let t = Tag;
        Builder::new()
            .constructed(t(0xE2), |mut b| {
                for (i, s) in self.situations.iter().enumerate() {
                    let index = [u8::try_from(i + 1).unwrap_or(u8::MAX)];
                    b = b.constructed(t(0xA0), |b| {
                        b.primitive(t(0x80), &index)
                            .primitive(t(0x81), s.mode.as_bytes())
                            .primitive(t(0x82), s.mode_label.as_bytes())
                            .primitive(t(0x83), s.sector.as_bytes())
                            .primitive(t(0x84), s.sector_label.as_bytes())
                            .primitive(t(0x85), s.structure_id_type.as_bytes())
                            .primitive(t(0x86), s.structure_id.as_bytes())
                            .primitive(t(0x87), s.structure_name.as_bytes())
                            .primitive(t(0x88), s.city.as_bytes())
                    });
                }
                b
            })
            .finish()
    }

    /// `CPS_ACTIVITY_nn_PS` value of situation `index` (0-based) [model: the official format
    /// document "Données métier CPS3" is not public; tags 84/85/86 follow the public editor
    /// projects summarised in shared/notes/cps-cards.md, the others are ours]:
    /// `EE { 80 number, 81 mode, 84 structure name, 85 structure id, 86 sector, 87 id type,
    /// 88 city }`. Codes only: labels come from the code dictionary.
    pub fn do_activity(&self, index: usize) -> Vec<u8> {
        let t = Tag;
        let Some(s) = self.situations.get(index) else {
            return Vec::new();
        };
        let number = [u8::try_from(index + 1).unwrap_or(u8::MAX)];
        Builder::new()
            .constructed(t(0xEE), |b| {
                b.primitive(t(0x80), &number)
                    .primitive(t(0x81), s.mode.as_bytes())
                    .primitive(t(0x84), s.structure_name.as_bytes())
                    .primitive(t(0x85), s.structure_id.as_bytes())
                    .primitive(t(0x86), s.sector.as_bytes())
                    .primitive(t(0x87), s.structure_id_type.as_bytes())
                    .primitive(t(0x88), s.city.as_bytes())
            })
            .finish()
    }

    /// `CPS_ID_CARD` value \[model\]: `E0 { 80 card family, 81 serial (BCD), 82 generation }`.
    pub fn do_id_card(&self, generation: u8) -> Vec<u8> {
        let t = Tag;
        let serial = self.serial(generation);
        Builder::new()
            .constructed(t(0xE0), |b| {
                b.primitive(t(0x80), self.family.as_bytes())
                    .primitive(t(0x81), &serial)
                    .primitive(t(0x82), &[generation])
            })
            .finish()
    }

    /// `CPS_INFO_PS` value [model; the speciality code comes last, as public editor projects
    /// read it]: `E3 { 80 national id type, 81 national id, [82 profession], [83 speciality] }`.
    pub fn do_info_ps(&self) -> Vec<u8> {
        let t = Tag;
        Builder::new()
            .constructed(t(0xE3), |b| {
                b.primitive(t(0x80), self.national_id_type().as_bytes())
                    .primitive(t(0x81), self.national_id.as_bytes())
                    .optional(t(0x82), self.profession.as_ref().map(|p| p.code.as_bytes()))
                    .optional(t(0x83), self.speciality.as_ref().map(|s| s.code.as_bytes()))
            })
            .finish()
    }

    /// `CPS_LANG_PS` value \[model\]: `E4 { 80 "fr" }`.
    pub fn do_lang_ps(&self) -> Vec<u8> {
        Builder::new()
            .constructed(Tag(0xE4), |b| b.primitive(Tag(0x80), b"fr"))
            .finish()
    }

    /// `CPS_SIT_FACT` value \[model\]: `E5 { 80 number of the billing situation }` (the first).
    pub fn do_sit_fact(&self) -> Vec<u8> {
        let n = u8::from(!self.situations.is_empty());
        Builder::new()
            .constructed(Tag(0xE5), |b| b.primitive(Tag(0x80), &[n]))
            .finish()
    }

    /// `EF_ACTUA` (`3F00/D010`): `EC { 81 start, 82 end }`, BCD `YYYYMMDDhhmmss` (the tags and
    /// the date layout of `card-cps3.c` `sc_pkcs15_parse_ef_actua`; the dates are ours).
    pub fn ef_actua(&self) -> Vec<u8> {
        let t = Tag;
        Builder::new()
            .constructed(t(0xEC), |b| {
                b.primitive(t(0x81), &[0x20, 0x25, 0x01, 0x01, 0x00, 0x00, 0x00])
                    .primitive(t(0x82), &[0x20, 0x31, 0x01, 0x01, 0x00, 0x00, 0x00])
            })
            .finish()
    }

    /// The 10-byte card serial number of EF.SN for this persona and card generation (3 or 4):
    /// BCD `8025000001 G PP 123456 F` [model, shaped after the real CPx serial
    /// `80 25 00 00 01 99 21 38 45 0F`, research §1 step 4: issuer prefix, digits, F pad].
    pub fn serial(&self, generation: u8) -> [u8; 10] {
        let digits = format!(
            "8025000001{}{:02}123456F",
            generation % 10,
            self.number() % 100
        );
        let mut out = [0u8; 10];
        for (o, pair) in out.iter_mut().zip(digits.as_bytes().chunks(2)) {
            let nib = |c: u8| match c {
                b'0'..=b'9' => c - b'0',
                _ => 0x0F,
            };
            let hi = pair.first().copied().map_or(0x0F, nib);
            let lo = pair.get(1).copied().map_or(0x0F, nib);
            *o = (hi << 4) | lo;
        }
        out
    }

    /// EF.SN content: `5A 0A <serial>` (IAS-ECC / OpenSC `iasecc_get_serialnr`: tag 5A).
    pub fn ef_sn(&self, generation: u8) -> Vec<u8> {
        let mut out = vec![0x5A, 0x0A];
        out.extend_from_slice(&self.serial(generation));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cps_apdu::tlv;

    #[test]
    fn the_six_personas() {
        let all = personas();
        let ids: Vec<&str> = all.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "dr-martin",
                "pharmacien-durand",
                "infirmiere-bernard",
                "etudiant-petit",
                "directeur-leroy",
                "secretaire-moreau"
            ]
        );
        let families: Vec<&str> = all.iter().map(|p| p.family.as_str()).collect();
        assert_eq!(families, ["CPS", "CPS", "CPS", "CPF", "CDE", "CPE"]);
        assert!(matches!(
            persona("nobody"),
            Err(SimError::UnknownPersona(_))
        ));
    }

    #[test]
    fn ef_ident_and_dam_of_dr_martin() {
        let p = persona("dr-martin").unwrap();
        let ident = p.ef_ident();
        let e1 = tlv::find(&ident, Tag(0xE1)).unwrap().unwrap();
        let kids = e1.children().unwrap();
        let get = |tag: u32| -> Vec<&[u8]> {
            kids.iter()
                .filter(|t| t.tag == Tag(tag))
                .map(|t| t.value)
                .collect()
        };
        assert_eq!(get(0x80), [b"CPS".as_slice()]);
        assert_eq!(get(0x81), [b"8".as_slice()]);
        assert_eq!(get(0x82), [b"810001234567".as_slice()]);
        assert_eq!(get(0x83), [b"10001234567".as_slice()]);
        assert_eq!(get(0x86), [b"Claire".as_slice(), b"Anne".as_slice()]);
        assert_eq!(get(0x88), ["Médecin".as_bytes()]);
        assert_eq!(get(0x89), [b"SM54".as_slice()]);
        assert!(get(0x8B).is_empty());
        let dam = p.ef_dam();
        let e2 = tlv::find(&dam, Tag(0xE2)).unwrap().unwrap();
        let sits = e2.children().unwrap();
        assert_eq!(sits.len(), 2);
        assert_eq!(sits[1].child(Tag(0x80)).unwrap().unwrap().value, [2]);
        assert_eq!(
            sits[1].child(Tag(0x87)).unwrap().unwrap().value,
            "CHU d'Angers".as_bytes()
        );
        assert_eq!(
            p.serial(3),
            [0x80, 0x25, 0x00, 0x00, 0x01, 0x30, 0x11, 0x23, 0x45, 0x6F]
        );
    }

    #[test]
    fn staff_and_student_cards() {
        let cde = persona("directeur-leroy").unwrap();
        let ident = cde.ef_ident();
        let e1 = tlv::find(&ident, Tag(0xE1)).unwrap().unwrap();
        assert!(e1.child(Tag(0x83)).unwrap().is_none(), "no RPPS");
        assert!(e1.child(Tag(0x87)).unwrap().is_none(), "no profession");
        assert_eq!(e1.child(Tag(0x81)).unwrap().unwrap().value, b"3");
        let cpf = persona("etudiant-petit").unwrap();
        let ident = cpf.ef_ident();
        let e1 = tlv::find(&ident, Tag(0xE1)).unwrap().unwrap();
        assert_eq!(e1.child(Tag(0x8B)).unwrap().unwrap().value, b"1");
        assert_eq!(e1.child(Tag(0x80)).unwrap().unwrap().value, b"CPF");
    }
}
