//! The sample manifest a platform sends with a VCF: which patient and biosample each sample
//! column is, and what the patient agreed to. Documented in `docs/manifest.md`.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub samples: Vec<ManifestSample>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ManifestSample {
    /// The VCF sample column this entry describes.
    pub sample: String,
    pub biosample_id: String,
    /// The care pseudonym of the patient.
    pub individual_id: String,
    #[serde(default)]
    pub sex: Sex,
    #[serde(default)]
    pub country: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub indication: Option<String>,
    /// The care centre following the patient: its clinicians see the patient at record level.
    #[serde(default)]
    pub care_centre: Option<String>,
    /// Age at sampling, as an ISO 8601 duration (`P40Y`, `P3Y6M`): what `age` filters compare.
    #[serde(default)]
    pub age: Option<String>,
    #[serde(default)]
    pub phenotypes: Vec<String>,
    #[serde(default)]
    pub diseases: Vec<String>,
    /// `false` when the patient objected to research use. Absent means not recorded, which is
    /// treated as an objection: reuse needs a positive record.
    #[serde(default)]
    pub research_consent: bool,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sex {
    Female,
    Male,
    #[default]
    Unknown,
}

impl Sex {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Female => "female",
            Self::Male => "male",
            Self::Unknown => "unknown",
        }
    }

    /// NCIT terms Beacon uses for `individuals.sex`.
    pub fn ncit(self) -> (&'static str, &'static str) {
        match self {
            Self::Female => ("NCIT:C16576", "female"),
            Self::Male => ("NCIT:C20197", "male"),
            Self::Unknown => ("NCIT:C17998", "unknown"),
        }
    }
}

/// The population labels of the 1+MG allele-frequency profile a person counts in: `Total`,
/// sex (`F`, `M`), country (`FR`) and country by sex (`FR_F`).
pub fn population_labels(sex: Sex, country: Option<&str>) -> Vec<String> {
    let mut labels = vec!["Total".to_owned()];
    let sex_label = match sex {
        Sex::Female => Some("F"),
        Sex::Male => Some("M"),
        Sex::Unknown => None,
    };
    if let Some(sex_label) = sex_label {
        labels.push(sex_label.to_owned());
    }
    if let Some(country) = country.map(str::trim).filter(|country| !country.is_empty()) {
        labels.push(country.to_owned());
        if let Some(sex_label) = sex_label {
            labels.push(format!("{country}_{sex_label}"));
        }
    }
    labels
}

impl std::str::FromStr for Sex {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "female" => Ok(Self::Female),
            "male" => Ok(Self::Male),
            "unknown" => Ok(Self::Unknown),
            other => Err(format!("unknown sex `{other}`: expected female, male or unknown")),
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ManifestError {
    #[error("manifest is not valid: {0}")]
    Syntax(String),
    #[error("manifest entry {index}: field `{field}` is empty")]
    EmptyField { index: usize, field: &'static str },
    #[error("manifest lists sample `{0}` more than once")]
    DuplicateSample(String),
    #[error("manifest lists biosample `{0}` more than once")]
    DuplicateBiosample(String),
    #[error("manifest entries of individual `{0}` disagree on sex, research consent or care centre")]
    InconsistentIndividual(String),
}

impl Manifest {
    /// Parses and checks a manifest; the error says which entry and field is wrong.
    pub fn from_json(text: &str) -> Result<Self, ManifestError> {
        let manifest: Self =
            serde_json::from_str(text).map_err(|error| ManifestError::Syntax(error.to_string()))?;
        manifest.check()?;
        Ok(manifest)
    }

    /// The same as [`Manifest::from_json`], from JSON already parsed (a pushed submission's).
    pub fn from_value(value: serde_json::Value) -> Result<Self, ManifestError> {
        let manifest: Self =
            serde_json::from_value(value).map_err(|error| ManifestError::Syntax(error.to_string()))?;
        manifest.check()?;
        Ok(manifest)
    }

    fn check(&self) -> Result<(), ManifestError> {
        let mut samples = HashSet::new();
        let mut biosamples = HashSet::new();
        // The first entry of each patient: the others must agree with it (one pass, so a
        // manifest of a million entries from the network costs a million look-ups).
        let mut patients: HashMap<&str, &ManifestSample> = HashMap::new();
        for (index, entry) in self.samples.iter().enumerate() {
            for (field, value) in [
                ("sample", &entry.sample),
                ("biosampleId", &entry.biosample_id),
                ("individualId", &entry.individual_id),
            ] {
                if value.trim().is_empty() {
                    return Err(ManifestError::EmptyField { index, field });
                }
            }
            if !samples.insert(entry.sample.as_str()) {
                return Err(ManifestError::DuplicateSample(entry.sample.clone()));
            }
            if !biosamples.insert(entry.biosample_id.as_str()) {
                return Err(ManifestError::DuplicateBiosample(entry.biosample_id.clone()));
            }
            // Two biosamples of one patient (tumour and normal, say) must describe one person.
            let first = *patients.entry(entry.individual_id.as_str()).or_insert(entry);
            let disagrees = first.sex != entry.sex
                || first.research_consent != entry.research_consent
                || first.care_centre != entry.care_centre;
            if disagrees {
                return Err(ManifestError::InconsistentIndividual(entry.individual_id.clone()));
            }
        }
        Ok(())
    }

    pub fn get(&self, sample: &str) -> Option<&ManifestSample> {
        self.samples.iter().find(|entry| entry.sample == sample)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_complete_entry_parses_with_defaults_for_missing_optional_fields() {
        let manifest = Manifest::from_json(
            r#"{"samples":[{"sample":"S1","biosampleId":"B1","individualId":"I1","sex":"male",
                "phenotypes":["HP:0001250"],"researchConsent":true}]}"#,
        )
        .expect("valid manifest");
        let entry = manifest.get("S1").expect("S1");
        assert_eq!(entry.sex, Sex::Male);
        assert!(entry.research_consent);
        assert_eq!(entry.country, None);
    }

    #[test]
    fn unknown_fields_duplicates_and_empty_ids_are_refused_with_their_name() {
        let unknown = Manifest::from_json(
            r#"{"samples":[{"sample":"S1","biosampleId":"B1","individualId":"I1","colour":1}]}"#,
        );
        assert!(matches!(unknown, Err(ManifestError::Syntax(message)) if message.contains("colour")));
        let duplicate = Manifest::from_json(
            r#"{"samples":[{"sample":"S1","biosampleId":"B1","individualId":"I1"},
                           {"sample":"S1","biosampleId":"B2","individualId":"I2"}]}"#,
        );
        assert_eq!(duplicate, Err(ManifestError::DuplicateSample("S1".into())));
        let empty =
            Manifest::from_json(r#"{"samples":[{"sample":"S1","biosampleId":" ","individualId":"I1"}]}"#);
        assert_eq!(
            empty,
            Err(ManifestError::EmptyField {
                index: 0,
                field: "biosampleId"
            })
        );
    }

    #[test]
    fn population_labels_follow_sex_and_country() {
        assert_eq!(
            population_labels(Sex::Female, Some("FR")),
            vec!["Total", "F", "FR", "FR_F"]
        );
        assert_eq!(population_labels(Sex::Unknown, Some("FR")), vec!["Total", "FR"]);
        assert_eq!(population_labels(Sex::Male, None), vec!["Total", "M"]);
        assert_eq!(population_labels(Sex::Male, Some(" ")), vec!["Total", "M"]);
    }

    #[test]
    fn two_biosamples_of_one_patient_must_agree_on_consent() {
        let tumour_and_normal = Manifest::from_json(
            r#"{"samples":[{"sample":"T","biosampleId":"B1","individualId":"I1","researchConsent":true},
                           {"sample":"N","biosampleId":"B2","individualId":"I1","researchConsent":true}]}"#,
        );
        assert!(tumour_and_normal.is_ok());
        let disagreeing = Manifest::from_json(
            r#"{"samples":[{"sample":"T","biosampleId":"B1","individualId":"I1","researchConsent":true},
                           {"sample":"N","biosampleId":"B2","individualId":"I1","researchConsent":false}]}"#,
        );
        assert_eq!(
            disagreeing,
            Err(ManifestError::InconsistentIndividual("I1".into()))
        );
    }

    #[test]
    fn missing_consent_means_no_research_use() {
        let manifest =
            Manifest::from_json(r#"{"samples":[{"sample":"S1","biosampleId":"B1","individualId":"I1"}]}"#)
                .expect("valid");
        assert!(!manifest.samples[0].research_consent);
    }
}
