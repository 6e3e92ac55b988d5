//! Labels of the codes a CPS card holds, from the official code dictionary `DICO-FR.GIP`.
//!
//! ```
//! use cps_iasecc::dico::{self, Table};
//!
//! assert_eq!(dico::label(Table::Profession, "10"), Some("Médecin"));
//! assert_eq!(dico::label(Table::Profession, "21"), Some("Pharmacien"));
//! assert_eq!(
//!     dico::label(Table::RppsSpeciality, "SM26"),
//!     Some("Qualifié en Médecine Générale (SM)")
//! );
//! assert_eq!(dico::label(Table::RppsSector, "SA07"), Some("Cabinet individuel"));
//! assert_eq!(
//!     dico::label(Table::CardType, "00"),
//!     Some("Carte de Professionnel de Santé (CPS)")
//! );
//! assert_eq!(dico::label(Table::Civility, "31"), Some("Monsieur"));
//! assert_eq!(dico::label(Table::PracticeMode, "01"), Some("Salarié"));
//! assert_eq!(dico::label(Table::Profession, "99"), None); // not in the dictionary
//! ```
//!
//! ## Source
//!
//! `DICO-FR.GIP`, version `02.18 - 28/02/2020` (its `G999 Version` line), as shipped by ANS in
//! Cryptolib CPS 5.2.2 for Linux (`Linux/5.2.2/CryptolibCPS-5.2.2-1.x86_64.rpm` of the public
//! repository `ansforge/dops-cryptolib`; kept in the project's `shared/tools/cryptolib-cps/`).
//! It is the dictionary the middleware installs for editors' software: Latin-1, CRLF, one
//! entry per line, six tab-separated columns: table id, code, a qualifier (used by `G102`
//! only), an empty column, the label's length, the label. Two meta tables name each table
//! (`NOM_TABLE`, e.g. `G15` → "Professions") and the card field it codes (`NOM_CHAMP`, `G15`
//! → "Profession"); `G999` gives the file's version and SHA-1.
//!
//! ## What is embedded
//!
//! The dictionary's code tables each code one field of the holder data (`NOM_CHAMP` names
//! it), the data the CPS carries in the objects the Cryptolib CPS PKCS#11 external
//! specification v2.0.0 lists (`CPS_ID_CARD`, `CPS_NAME_PS`, `CPS_LANG_PS`, `CPS_INFO_PS`, the
//! practice situations `CPS_ACTIVITY_nn_PS`, billing `CPS_SIT_FACT`). Which table goes with
//! which object is read from the table and field names, not from a published layout. Kept,
//! each one **entire**: 27 tables, one [`Table`] variant each (its documentation gives the
//! id, the file's title and the entry count):
//!
//! - card and holder: `G01` card category, `G02` CPS card type, `G03` civility, `G06`
//!   abbreviated civility, `G08` person identifier type, `G00` languages (`CPS_LANG_PS`);
//! - profession and qualifications: `G15` profession, `G16` profession in training, `R01` RPPS
//!   speciality, `G11` ADELI qualification nature, `G12` ADELI speciality, `G20`
//!   specialisation, `G13` special orientation, `R03` RPPS attribution, `G18` ADELI
//!   attribution, `G05` pharmacists' register;
//! - practice situation: `G17` mode of practice, `R02` RPPS activity sector, `G19` ADELI
//!   activity sector, `G07` structure identifier type, `G04` responsibility level;
//! - billing situation (Assurance Maladie): `G100` speciality, `G101` convention code, `G102`
//!   tariff zone, `G103` mileage allowance zone, `G104` approvals, `G105` geographic zone.
//!
//! Left out: `G09` "Codes départements" (112 INSEE department codes, e.g. `49` "Maine-et-Loire
//! (49)": a geographic list that labels no CPS-specific code, which an editor takes from the
//! official geographic code; it would add 2 728 bytes), `G999` (file metadata, kept as
//! [`SOURCE_VERSION`]), and the rows of `NOM_TABLE`/`NOM_CHAMP` (kept as [`Table::title`]
//! and [`Table::field`]).
//!
//! The embedded form is `dico/dico-fr.tsv` (UTF-8, 33 689 bytes: a three-line header and
//! 942 entries), one line `table⇥code⇥qualifier⇥label` per entry, sorted by (table, code,
//! qualifier), so a lookup is a binary search over the text itself, with no allocation, no
//! parsing at start-up and no run-time dependency. Labels are the file's,
//! converted from Latin-1, with surrounding spaces trimmed (one label, `G20` `07`, ends with a
//! space). The length column is not kept (it is wrong once: `G12` `131` says 16 for a
//! 40-character label).
//!
//! ## Regeneration
//!
//! The test `tests/dico_source.rs` rebuilds the TSV from
//! `<workspace>/../shared/tools/cryptolib-cps/DICO-FR.GIP` and fails if the embedded file
//! differs, if a table's title, field name or the version changed, or if the file gained a
//! table that is neither embedded nor listed as left out (without the file it prints SKIPPED,
//! and fails under `CI=true`). To regenerate after a new dictionary:
//! `CPS_DICO_WRITE=1 cargo test -p cps-iasecc --test dico_source`.

use std::cmp::Ordering;

/// The embedded dictionary: a comment header (`#` lines), then the sorted entries.
const DATA: &str = include_str!("dico/dico-fr.tsv");

/// The `G999 Version` line of the `DICO-FR.GIP` the embedded tables come from.
pub const SOURCE_VERSION: &str = "02.18 - 28/02/2020";

/// A code table of `DICO-FR.GIP` (its id in the file, e.g. `G15`, is [`Table::id`]).
///
/// Each variant's documentation gives the file's title of the table and its number of
/// entries in version [`SOURCE_VERSION`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Table {
    /// `R01` "Spécialités RPPS" (244): RPPS qualifications, e.g. `SM26` "Qualifié en
    /// Médecine Générale (SM)"; the prefix tells the kind (`SM` ordinal speciality, `C`
    /// competence, `CAPA` capacity, `DSM` non-qualifying DESC, `SCH` hospital competition...).
    RppsSpeciality,
    /// `R02` "Secteurs d'activité RPPS" (63): activity sector of a practice situation, e.g.
    /// `SA07` "Cabinet individuel".
    RppsSector,
    /// `R03` "Attributions particulières" (10): RPPS special attributions, e.g. `ATTR-03`
    /// "Médecin agréé".
    RppsAttribution,
    /// `G00` "Codes langues" (191): languages spoken by the holder (ISO 639-1 codes), e.g.
    /// `fr` "français".
    Language,
    /// `G01` "Catégories cartes" (6): card category, e.g. `00` "Carte de Professionnel ou
    /// Personnel de Santé", `80` its TEST counterpart.
    CardCategory,
    /// `G02` "Types de cartes CPS" (4): `00` CPS, `01` CPF, `02` CDE/CPE, `03` CDA/CPA.
    CardType,
    /// `G03` "Codes civilité" (3): `22` "Madame", `23` "Mademoiselle", `31` "Monsieur".
    Civility,
    /// `G04` "Niveaux de responsabilité" (3): responsibility in the structure, e.g. `01`
    /// "Responsable de la structure".
    ResponsibilityLevel,
    /// `G05` "Tableaux des Pharmaciens" (17): the pharmacists' Order register section, e.g.
    /// `A` "Pharmacien titulaire d'officine".
    PharmacistRegister,
    /// `G06` "Codes civilité abrégés" (3): the same codes as [`Table::Civility`],
    /// abbreviated: `22` "Mme", `23` "Mlle", `31` "M".
    CivilityShort,
    /// `G07` "Types d'identifiants des structures" (5): e.g. `1` "FINESS", `3` "SIRET".
    StructureIdType,
    /// `G08` "Types d'identifiants des personnes" (10): e.g. `8` "N° RPPS", `0` "N° ADELI".
    PersonIdType,
    /// `G11` "Natures de qualification ADELI" (8): e.g. `01` "Spécialité ordinale (SM)".
    AdeliQualificationNature,
    /// `G12` "Spécialités ADELI" (131): e.g. `01` "Allergologie".
    AdeliSpeciality,
    /// `G13` "Orientations particulières" (2): `80` "Homéopathie", `81` "Acupuncture".
    SpecialOrientation,
    /// `G15` "Professions" (29): e.g. `10` "Médecin", `21` "Pharmacien", `60` "Infirmier".
    Profession,
    /// `G16` "Professions en formation" (4): e.g. `10` "Médecin en formation".
    ProfessionInTraining,
    /// `G17` "Modes d'exercice" (4): `00` "Libéral, exploitant ou commerçant", `01`
    /// "Salarié", `04` "Remplaçant", `07` "Non rétribué".
    PracticeMode,
    /// `G18` "Attributions complémentaires" (12): ADELI attributions, e.g. `92` "Médecin
    /// agréé".
    AdeliAttribution,
    /// `G19` "Secteurs d'activité ADELI" (60): e.g. `31` "Cabinet individuel".
    AdeliSector,
    /// `G20` "Spécialisations" (13): e.g. `61` "Infirmier anesthésiste".
    Specialisation,
    /// `G100` "Spécialités Assurance Maladie" (68): the billing speciality, e.g. `01`
    /// "Médecine générale".
    AmSpeciality,
    /// `G101` "Codes conventionnels" (5): e.g. `1` "Conventionné".
    ConventionCode,
    /// `G102` "Codes zones tarifaires" (27): tariff zone. The only table with a qualifier
    /// (third column of the file, `0` to `3`, or `*` for any; the file does not say what
    /// it qualifies): code `30` is "Zone C" with qualifier `1` but "Zone B" with `3`. Use
    /// [`label_qualified`]; [`label`] answers only when every qualifier gives one label.
    TariffZone,
    /// `G103` "Codes Indemnités kilométriques" (5): e.g. `1` "Indemnités kilométriques
    /// plaine".
    MileageAllowance,
    /// `G104` "Codes Agréments" (8): e.g. `00` "Pas d'agrément".
    Approval,
    /// `G105` "Codes zones géographiques" (7): e.g. `5` "Paris".
    GeographicZone,
}

impl Table {
    /// Every embedded table, in the order of the file's `NOM_TABLE` list.
    pub const ALL: [Table; 27] = [
        Table::RppsSpeciality,
        Table::RppsSector,
        Table::RppsAttribution,
        Table::Language,
        Table::CardCategory,
        Table::CardType,
        Table::Civility,
        Table::ResponsibilityLevel,
        Table::PharmacistRegister,
        Table::CivilityShort,
        Table::StructureIdType,
        Table::PersonIdType,
        Table::AdeliQualificationNature,
        Table::AdeliSpeciality,
        Table::SpecialOrientation,
        Table::Profession,
        Table::ProfessionInTraining,
        Table::PracticeMode,
        Table::AdeliAttribution,
        Table::AdeliSector,
        Table::Specialisation,
        Table::AmSpeciality,
        Table::ConventionCode,
        Table::TariffZone,
        Table::MileageAllowance,
        Table::Approval,
        Table::GeographicZone,
    ];

    /// The table's id in `DICO-FR.GIP`, e.g. `"G15"` for [`Table::Profession`].
    pub const fn id(self) -> &'static str {
        match self {
            Table::RppsSpeciality => "R01",
            Table::RppsSector => "R02",
            Table::RppsAttribution => "R03",
            Table::Language => "G00",
            Table::CardCategory => "G01",
            Table::CardType => "G02",
            Table::Civility => "G03",
            Table::ResponsibilityLevel => "G04",
            Table::PharmacistRegister => "G05",
            Table::CivilityShort => "G06",
            Table::StructureIdType => "G07",
            Table::PersonIdType => "G08",
            Table::AdeliQualificationNature => "G11",
            Table::AdeliSpeciality => "G12",
            Table::SpecialOrientation => "G13",
            Table::Profession => "G15",
            Table::ProfessionInTraining => "G16",
            Table::PracticeMode => "G17",
            Table::AdeliAttribution => "G18",
            Table::AdeliSector => "G19",
            Table::Specialisation => "G20",
            Table::AmSpeciality => "G100",
            Table::ConventionCode => "G101",
            Table::TariffZone => "G102",
            Table::MileageAllowance => "G103",
            Table::Approval => "G104",
            Table::GeographicZone => "G105",
        }
    }

    /// The table with this `DICO-FR.GIP` id (`"G15"`), if embedded.
    ///
    /// ```
    /// use cps_iasecc::dico::Table;
    /// assert_eq!(Table::from_id("G15"), Some(Table::Profession));
    /// assert_eq!(Table::from_id("G09"), None); // departments: not embedded
    /// ```
    pub fn from_id(id: &str) -> Option<Table> {
        Table::ALL.into_iter().find(|t| t.id() == id)
    }

    /// The table's title in the file (`NOM_TABLE`), e.g. "Professions".
    pub const fn title(self) -> &'static str {
        match self {
            Table::RppsSpeciality => "Spécialités RPPS",
            Table::RppsSector => "Secteurs d'activité RPPS",
            Table::RppsAttribution => "Attributions particulières",
            Table::Language => "Codes langues",
            Table::CardCategory => "Catégories cartes",
            Table::CardType => "Types de cartes CPS",
            Table::Civility => "Codes civilité",
            Table::ResponsibilityLevel => "Niveaux de responsabilité",
            Table::PharmacistRegister => "Tableaux des Pharmaciens",
            Table::CivilityShort => "Codes civilité abrégés",
            Table::StructureIdType => "Types d'identifiants des structures",
            Table::PersonIdType => "Types d'identifiants des personnes",
            Table::AdeliQualificationNature => "Natures de qualification ADELI",
            Table::AdeliSpeciality => "Spécialités ADELI",
            Table::SpecialOrientation => "Orientations particulières",
            Table::Profession => "Professions",
            Table::ProfessionInTraining => "Professions en formation",
            Table::PracticeMode => "Modes d'exercice",
            Table::AdeliAttribution => "Attributions complémentaires",
            Table::AdeliSector => "Secteurs d'activité ADELI",
            Table::Specialisation => "Spécialisations",
            Table::AmSpeciality => "Spécialités Assurance Maladie",
            Table::ConventionCode => "Codes conventionnels",
            Table::TariffZone => "Codes zones tarifaires",
            Table::MileageAllowance => "Codes Indemnités kilométriques",
            Table::Approval => "Codes Agréments",
            Table::GeographicZone => "Codes zones géographiques",
        }
    }

    /// The name of the card field the table codes (`NOM_CHAMP`), e.g. "Profession": the
    /// caption an editor shows before the label.
    pub const fn field(self) -> &'static str {
        match self {
            Table::RppsSpeciality => "Spécialité RPPS",
            Table::RppsSector => "Secteur d'activité RPPS",
            Table::RppsAttribution => "Attribution(s) particulière(s)",
            Table::Language => "Langue(s)",
            Table::CardCategory => "Catégorie carte",
            Table::CardType => "Type de carte CPS",
            Table::Civility => "Code civilité",
            Table::ResponsibilityLevel => "Niveau de responsabilité",
            Table::PharmacistRegister => "Tableau Pharmacien",
            Table::CivilityShort => "Code civilité",
            Table::StructureIdType => "Type d'identifiant de structure",
            Table::PersonIdType => "Type d'identifiant de personne",
            Table::AdeliQualificationNature => "Nature de qualification ADELI",
            Table::AdeliSpeciality => "Spécialité ADELI",
            Table::SpecialOrientation => "Orientation(s) particulière(s)",
            Table::Profession => "Profession",
            Table::ProfessionInTraining => "Future profession",
            Table::PracticeMode => "Mode d'exercice",
            Table::AdeliAttribution => "Attribution(s) complémentaire(s)",
            Table::AdeliSector => "Secteur d'activité ADELI",
            Table::Specialisation => "Spécialisation",
            Table::AmSpeciality => "Spécialité Assurance Maladie",
            Table::ConventionCode => "Code conventionnel",
            Table::TariffZone => "Zone tarifaire",
            Table::MileageAllowance => "Indemnité kilométrique",
            Table::Approval => "Agrément(s)",
            Table::GeographicZone => "Zone géographique",
        }
    }

    /// The table's entries, sorted by code then qualifier (byte order).
    ///
    /// ```
    /// use cps_iasecc::dico::Table;
    /// let codes: Vec<&str> = Table::CardType.entries().map(|e| e.code).collect();
    /// assert_eq!(codes, ["00", "01", "02", "03"]);
    /// ```
    pub fn entries(self) -> Entries {
        let id = self.id();
        Entries {
            rest: DATA.get(lower_bound((id, "", ""))..).unwrap_or(""),
            table: id,
        }
    }
}

impl std::fmt::Display for Table {
    /// The file's id, e.g. `G15`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

/// One entry of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Entry {
    /// The code as the card carries it, e.g. `"10"`.
    pub code: &'static str,
    /// The qualifier (third column of the file), set only in [`Table::TariffZone`].
    pub qualifier: Option<&'static str>,
    /// The label (UTF-8), e.g. `"Médecin"`.
    pub label: &'static str,
}

/// The entries of one table, in order (from [`Table::entries`]).
#[derive(Debug, Clone)]
pub struct Entries {
    rest: &'static str,
    table: &'static str,
}

impl Iterator for Entries {
    type Item = Entry;

    fn next(&mut self) -> Option<Entry> {
        let (line, rest) = self.rest.split_once('\n').unwrap_or((self.rest, ""));
        let (table, code, qualifier, label) = fields(line)?;
        if table != self.table {
            self.rest = "";
            return None;
        }
        self.rest = rest;
        Some(Entry {
            code,
            qualifier: (!qualifier.is_empty()).then_some(qualifier),
            label,
        })
    }
}

/// The label of `code` in `table`, or `None` if the dictionary does not have it.
///
/// Codes are compared exactly (case and surrounding spaces matter: the card's codes are
/// used as they are). In [`Table::TariffZone`], the only table with qualifiers, the label is
/// given only when all the qualifiers of the code agree (see [`label_qualified`]).
///
/// ```
/// use cps_iasecc::dico::{self, Table};
/// assert_eq!(dico::label(Table::Profession, "60"), Some("Infirmier"));
/// assert_eq!(dico::label(Table::Language, "fr"), Some("français"));
/// assert_eq!(dico::label(Table::TariffZone, "10"), Some("Zone A")); // qualifiers 1 and 2 agree
/// assert_eq!(dico::label(Table::TariffZone, "30"), None); // Zone C (1) or Zone B (3)
/// ```
pub fn label(table: Table, code: &str) -> Option<&'static str> {
    let id = table.id();
    let mut found: Option<&'static str> = None;
    for line in DATA
        .get(lower_bound((id, code, ""))..)
        .unwrap_or("")
        .lines()
    {
        match fields(line) {
            Some((t, c, _, label)) if t == id && c == code => match found {
                None => found = Some(label),
                Some(first) if first == label => {}
                Some(_) => return None,
            },
            _ => break,
        }
    }
    found
}

/// The label of `code` with `qualifier` in `table`: the entry with exactly that qualifier,
/// else the code's entry for any qualifier (`*`). In tables without qualifiers, pass `""`.
///
/// ```
/// use cps_iasecc::dico::{self, Table};
/// assert_eq!(dico::label_qualified(Table::TariffZone, "30", "1"), Some("Zone C"));
/// assert_eq!(dico::label_qualified(Table::TariffZone, "30", "3"), Some("Zone B"));
/// assert_eq!(dico::label_qualified(Table::TariffZone, "99", "2"), Some("Non définie")); // `*`
/// assert_eq!(dico::label_qualified(Table::Profession, "10", ""), Some("Médecin"));
/// ```
pub fn label_qualified(table: Table, code: &str, qualifier: &str) -> Option<&'static str> {
    let id = table.id();
    let exact = |q: &str| {
        let line = DATA.get(lower_bound((id, code, q))..)?.lines().next()?;
        match fields(line)? {
            (t, c, lq, label) if t == id && c == code && lq == q => Some(label),
            _ => None,
        }
    };
    exact(qualifier).or_else(|| exact("*"))
}

/// The four fields of a data line (`None` for a header line or a malformed one).
fn fields(line: &'static str) -> Option<(&'static str, &'static str, &'static str, &'static str)> {
    if line.starts_with('#') {
        return None;
    }
    let mut it = line.splitn(4, '\t');
    Some((it.next()?, it.next()?, it.next()?, it.next()?))
}

/// The byte offset in [`DATA`] of the first line whose (table, code, qualifier) is not less
/// than `key` (`DATA.len()` if none): a binary search over the text, lines being sorted.
///
/// `lo` is always the start of a line; `mid` is snapped back to the start of its line, which
/// is at least `lo`, so every step either moves `lo` past a line or lowers `hi`: at most
/// `DATA.len()` steps, in practice about log2 of the number of lines.
fn lower_bound(key: (&str, &str, &str)) -> usize {
    let bytes = DATA.as_bytes();
    let (mut lo, mut hi) = (0, DATA.len());
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let start = bytes
            .get(..mid)
            .and_then(|b| b.iter().rposition(|&c| c == b'\n'))
            .map_or(0, |i| i + 1);
        let end = bytes
            .get(start..)
            .and_then(|b| b.iter().position(|&c| c == b'\n'))
            .map_or(DATA.len(), |i| start + i + 1);
        let line = DATA.get(start..end).unwrap_or("").trim_end_matches('\n');
        // Header lines (`#`) come first and sort before every key.
        let less = fields(line).is_none_or(|(t, c, q, _)| (t, c, q).cmp(&key) == Ordering::Less);
        if less {
            lo = end;
        } else {
            hi = start;
        }
    }
    lo
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Every data line of the embedded file.
    fn data_lines() -> impl Iterator<Item = &'static str> {
        DATA.lines().filter(|l| !l.starts_with('#'))
    }

    #[test]
    fn data_lines_are_well_formed_and_strictly_sorted() {
        let mut previous: Option<(&str, &str, &str)> = None;
        let mut n = 0;
        for line in data_lines() {
            let (t, c, q, label) = fields(line).expect("four fields");
            assert!(Table::from_id(t).is_some(), "{line:?}: unknown table");
            assert!(!c.is_empty() && !label.is_empty(), "{line:?}");
            assert!(!label.contains('\t') && label.trim() == label, "{line:?}");
            if let Some(p) = previous {
                assert!(p < (t, c, q), "{line:?} not after {p:?}");
            }
            previous = Some((t, c, q));
            n += 1;
        }
        assert_eq!(n, 942);
        assert!(DATA.ends_with('\n'));
        // The header comes first, then only data.
        let header = DATA.lines().take_while(|l| l.starts_with('#')).count();
        assert_eq!(header + n, DATA.lines().count());
    }

    #[test]
    fn entry_counts_per_table() {
        let counts: Vec<(&str, usize)> = Table::ALL
            .iter()
            .map(|t| (t.id(), t.entries().count()))
            .collect();
        #[rustfmt::skip]
        let expected = [
            ("R01", 244), ("R02", 63), ("R03", 10), ("G00", 191), ("G01", 6), ("G02", 4),
            ("G03", 3), ("G04", 3), ("G05", 17), ("G06", 3), ("G07", 5), ("G08", 10),
            ("G11", 8), ("G12", 131), ("G13", 2), ("G15", 29), ("G16", 4), ("G17", 4),
            ("G18", 12), ("G19", 60), ("G20", 13), ("G100", 68), ("G101", 5), ("G102", 27),
            ("G103", 5), ("G104", 8), ("G105", 7),
        ];
        assert_eq!(counts, expected);
    }

    #[test]
    fn every_embedded_entry_round_trips() {
        for table in Table::ALL {
            assert_eq!(Table::from_id(table.id()), Some(table));
            for e in table.entries() {
                let q = e.qualifier.unwrap_or("");
                assert_eq!(
                    label_qualified(table, e.code, q),
                    Some(e.label),
                    "{table} {e:?}"
                );
                if e.qualifier.is_none() {
                    assert_eq!(label(table, e.code), Some(e.label), "{table} {e:?}");
                }
            }
        }
        // Only the tariff zones have qualifiers.
        for table in Table::ALL {
            let qualified = table.entries().any(|e| e.qualifier.is_some());
            assert_eq!(qualified, table == Table::TariffZone, "{table}");
        }
    }

    #[test]
    fn known_labels() {
        assert_eq!(label(Table::Profession, "10"), Some("Médecin"));
        assert_eq!(label(Table::Profession, "98"), Some("Manipulateur ERM"));
        assert_eq!(
            label(Table::RppsSpeciality, "SM54"),
            Some("Médecine générale (SM)")
        );
        assert_eq!(
            label(Table::RppsSpeciality, "C01"),
            Some("Anatomie et Cytologie pathologiques humaines (C)")
        );
        assert_eq!(label(Table::CivilityShort, "22"), Some("Mme"));
        assert_eq!(label(Table::Language, "zu"), Some("zoulou")); // last line of the file's G00
        assert_eq!(label(Table::RppsSpeciality, "C"), None); // a prefix is not a code
        assert_eq!(label(Table::Profession, "10 "), None); // codes are exact
        assert_eq!(label(Table::Profession, "10\t"), None);
        assert_eq!(label(Table::Profession, ""), None);
        // The trailing space of G20 07 is trimmed; the G12 131 label is whole.
        assert_eq!(
            label(Table::Specialisation, "07"),
            Some("Diplôme d'Etat de puériculture")
        );
        assert_eq!(
            label(Table::AdeliSpeciality, "131"),
            Some("Chirurgie maxillo-faciale (réforme 2017)")
        );
        // A code of another table does not leak in: G100 99 exists, G101 99 does not.
        assert_eq!(label(Table::AmSpeciality, "99"), Some("Non définie"));
        assert_eq!(label(Table::ConventionCode, "99"), None);
        // First and last entries of the embedded file, and around them.
        assert_eq!(label(Table::Language, "aa"), Some("afar"));
        assert_eq!(
            label(Table::RppsAttribution, "ATTR-10"),
            Some("Médecin de recours")
        );
        assert_eq!(label(Table::Language, "a"), None); // before the first entry
        assert_eq!(label(Table::RppsAttribution, "ZZZ"), None); // after the last one
    }

    #[test]
    fn tariff_zone_qualifiers() {
        assert_eq!(
            label_qualified(Table::TariffZone, "30", "1"),
            Some("Zone C")
        );
        assert_eq!(
            label_qualified(Table::TariffZone, "30", "3"),
            Some("Zone B")
        );
        assert_eq!(label_qualified(Table::TariffZone, "30", "2"), None);
        assert_eq!(
            label_qualified(Table::TariffZone, "99", "0"),
            Some("Non définie")
        );
        assert_eq!(label_qualified(Table::TariffZone, "30", ""), None);
        assert_eq!(label(Table::TariffZone, "30"), None);
        assert_eq!(label(Table::TariffZone, "40"), Some("Zone A"));
        assert_eq!(label(Table::TariffZone, "99"), Some("Non définie"));
        assert_eq!(label_qualified(Table::Profession, "10", "1"), None);
    }

    fn any_table() -> impl Strategy<Value = Table> {
        proptest::sample::select(Table::ALL.to_vec())
    }

    /// Strings near the real codes (mutations of them) and arbitrary Unicode.
    fn near_code() -> impl Strategy<Value = String> {
        let codes: Vec<&'static str> = Table::ALL
            .iter()
            .flat_map(|t| t.entries())
            .map(|e| e.code)
            .collect();
        prop_oneof![
            "\\PC{0,12}",
            "[ -~\t\n]{0,8}",
            (
                proptest::sample::select(codes),
                "[\\s\\S]{0,2}",
                any::<bool>()
            )
                .prop_map(|(c, s, before)| if before {
                    format!("{s}{c}")
                } else {
                    format!("{c}{s}")
                }),
        ]
    }

    proptest! {
        #[test]
        fn lookups_never_panic_and_agree_with_a_linear_scan(
            table in any_table(),
            code in near_code(),
            qualifier in prop_oneof![Just(String::new()), "[0-3*]", "\\PC{0,3}"],
        ) {
            let expected_exact = data_lines()
                .filter_map(fields)
                .find(|&(t, c, q, _)| t == table.id() && c == code && q == qualifier)
                .map(|(.., l)| l);
            let expected_any = data_lines()
                .filter_map(fields)
                .find(|&(t, c, q, _)| t == table.id() && c == code && q == "*")
                .map(|(.., l)| l);
            prop_assert_eq!(label_qualified(table, &code, &qualifier), expected_exact.or(expected_any));
            let labels: Vec<&str> = data_lines()
                .filter_map(fields)
                .filter(|&(t, c, _, _)| t == table.id() && c == code)
                .map(|(.., l)| l)
                .collect();
            let expected = labels.first().copied().filter(|f| labels.iter().all(|l| l == f));
            prop_assert_eq!(label(table, &code), expected);
            let _ = Table::from_id(&code);
        }
    }
}
