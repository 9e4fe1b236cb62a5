//! Phare's controlled vocabulary: the PFMG 2025 pre-indications and the sex terms Beacon
//! filters use. The plan publishes pre-indication labels, not codes, so the `PFMG:NN` ids are
//! Phare's own, numbered in the order of the plan's first list.

/// One clinical pre-indication of the French genomic medicine plan (PFMG 2025).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PreIndication {
    /// Phare's id, `PFMG:01` … `PFMG:14`.
    pub id: &'static str,
    /// The label in French, as the plan names the pre-indication.
    pub label: &'static str,
    pub label_en: &'static str,
    /// A Mondo or Orphanet group term covering the pre-indication, where one clearly exists;
    /// the cancer pre-indications are defined by a clinical situation, not a disease group.
    pub orpha: Option<&'static str>,
}

/// The fourteen first pre-indications of PFMG 2025, in the plan's order.
pub const PRE_INDICATIONS: [PreIndication; 14] = [
    PreIndication {
        id: "PFMG:01",
        label: "Maladies osseuses constitutionnelles",
        label_en: "Constitutional bone diseases",
        orpha: None,
    },
    PreIndication {
        id: "PFMG:02",
        label: "Maladies mitochondriales sévères",
        label_en: "Severe mitochondrial diseases",
        orpha: Some("MONDO:0044970"),
    },
    PreIndication {
        id: "PFMG:03",
        label: "Anomalies sévères du développement sexuel",
        label_en: "Severe disorders of sex development",
        orpha: None,
    },
    PreIndication {
        id: "PFMG:04",
        label: "Insuffisance ovarienne primaire",
        label_en: "Primary ovarian insufficiency",
        orpha: None,
    },
    PreIndication {
        id: "PFMG:05",
        label: "Maladies héréditaires du métabolisme à profil atypique",
        label_en: "Inherited metabolic diseases with an atypical profile",
        orpha: Some("MONDO:0019052"),
    },
    PreIndication {
        id: "PFMG:06",
        label: "Maladie rénale chronique d'origine indéterminée",
        label_en: "Chronic kidney disease of unknown origin",
        orpha: Some("MONDO:0005300"),
    },
    PreIndication {
        id: "PFMG:07",
        label: "Maladies auto-immunes et auto-inflammatoires monogéniques",
        label_en: "Monogenic auto-immune and auto-inflammatory diseases",
        orpha: None,
    },
    PreIndication {
        id: "PFMG:08",
        label: "Cardiomyopathies dilatées familiales",
        label_en: "Familial dilated cardiomyopathy",
        orpha: Some("MONDO:0005021"),
    },
    PreIndication {
        id: "PFMG:09",
        label: "Leucodystrophies",
        label_en: "Leukodystrophies",
        orpha: Some("MONDO:0019046"),
    },
    PreIndication {
        id: "PFMG:10",
        label: "Cancers pédiatriques réfractaires",
        label_en: "Refractory paediatric cancers",
        orpha: None,
    },
    PreIndication {
        id: "PFMG:11",
        label: "Cancers avec histoire familiale sévère et panel de gènes normal",
        label_en: "Cancers with a severe family history and a normal gene panel",
        orpha: None,
    },
    PreIndication {
        id: "PFMG:12",
        label: "Tumeurs sporadiques au phénotype extrême",
        label_en: "Sporadic tumours with an extreme phenotype",
        orpha: None,
    },
    PreIndication {
        id: "PFMG:13",
        label: "Leucémies aiguës en rechute",
        label_en: "Relapsed acute leukaemia",
        orpha: None,
    },
    PreIndication {
        id: "PFMG:14",
        label: "Patients jeunes atteints de tumeur solide en échec thérapeutique",
        label_en: "Young patients with a solid tumour after treatment failure",
        orpha: None,
    },
];

/// The pre-indication an id names, in any of the spellings manifests and queries use:
/// `PFMG:01`, `PFMG-01`, `PFMG_01`, `pfmg:1`.
pub fn pre_indication(id: &str) -> Option<&'static PreIndication> {
    let id = id.trim();
    let prefix = id.get(..4)?;
    if !prefix.eq_ignore_ascii_case("PFMG") {
        return None;
    }
    let number = id.get(4..)?.strip_prefix([':', '-', '_'])?;
    // Three digits at most: `PFMG:001` is still a spelling of 1, a long run of digits is not.
    if number.is_empty() || number.len() > 3 || !number.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    let index = number.parse::<usize>().ok()?.checked_sub(1)?;
    PRE_INDICATIONS.get(index)
}

/// The NCIT terms Beacon uses for an individual's sex, with their NCIT labels: female,
/// male, and unknown (what Phare answers for any other stored value).
pub const SEX_TERMS: [(&str, &str); 3] = [
    ("NCIT:C16576", "Female"),
    ("NCIT:C20197", "Male"),
    ("NCIT:C17998", "Unknown"),
];

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn fourteen_unique_ids_in_order() {
        let ids: HashSet<&str> = PRE_INDICATIONS.iter().map(|indication| indication.id).collect();
        assert_eq!(ids.len(), 14);
        for (index, indication) in PRE_INDICATIONS.iter().enumerate() {
            assert_eq!(indication.id, format!("PFMG:{:02}", index + 1));
            assert!(!indication.label.is_empty() && !indication.label_en.is_empty());
        }
    }

    #[test]
    fn accepts_the_usual_spellings() {
        for spelling in ["PFMG:01", "PFMG-01", "pfmg:1", "Pfmg_001", " PFMG-1 "] {
            assert_eq!(
                pre_indication(spelling).map(|found| found.id),
                Some("PFMG:01"),
                "{spelling}"
            );
        }
        assert_eq!(pre_indication("PFMG-14").map(|found| found.id), Some("PFMG:14"));
    }

    #[test]
    fn refuses_what_is_not_a_pre_indication() {
        for text in [
            "PFMG:00",
            "PFMG:15",
            "PFMG:",
            "PFMG01",
            "PFMG:1a",
            "PFMG:0001",
            "PFMG:+1",
            "HP:0000001",
            "",
            "PFM",
            "PFMÉ:1",
        ] {
            assert!(pre_indication(text).is_none(), "{text}");
        }
    }

    #[test]
    fn sex_terms_are_ncit() {
        assert!(SEX_TERMS.iter().all(|(id, _)| id.starts_with("NCIT:C")));
    }
}
