//! Data-use conditions (GA4GH Data Use Ontology) of a dataset against the research purpose a
//! caller declares (docs/decisions/0020-duo-matching.md). The answer is [`Compatible`],
//! [`Incompatible`], or [`NeedsReview`] when a machine cannot decide.
//!
//! A dataset has one permission and any number of modifiers; a purpose is a list of DUO codes,
//! its *kinds* (GRU general research, HMB health/medical/biomedical, DS disease-specific with a
//! disease, POA population origins or ancestry) plus declarations (NCU, NPU, NPUNCU).
//!
//! Permissions:
//! - NRES (`DUO:0000004`) and GRU (`DUO:0000042`) accept every purpose, and no purpose at all.
//! - HMB (`DUO:0000006`) accepts HMB and DS purposes; it refuses GRU (which may be non-health
//!   research) and POA, which HMB excludes by definition.
//! - DS (`DUO:0000007`) with a disease accepts DS purposes whose disease is that disease or a
//!   descendant of it (`is_descendant(purpose_disease, dataset_disease)`) and refuses DS
//!   purposes for other diseases and every GRU, HMB or POA purpose. A DS purpose without a
//!   disease, or a DS dataset without one, needs review.
//! - Without a declared purpose (or one with no kind), anything but NRES and GRU needs review.
//! - A purpose with several kinds must be acceptable for each of them.
//!
//! Modifiers, each checked on its own; the result is the worst of the permission's and the
//! modifiers' (incompatible, then needs review, then compatible):
//! - NPOA (`DUO:0000044`) refuses POA purposes.
//! - NCU (`DUO:0000046`), NPU (`DUO:0000045`) and NPUNCU (`DUO:0000018`) are met when the
//!   purpose declares the same restriction (the trusted issuer vouches for the declaration;
//!   NPUNCU is also met by NPU and NCU together), and need review otherwise: DUO has no code
//!   for commercial use, so nothing can be refused outright.
//! - GSO (`DUO:0000016`, genetic studies only) is met: a Beacon query is genotype research.
//! - CC (`DUO:0000043`, clinical care use) only widens the permission: no effect.
//! - RS, NMDS, PUB, COL, IRB, GS, MOR, TS, US, PS, IS, RTN need review: they are requirements
//!   on the requester (approvals, agreements, places, dates, named users or projects) that a
//!   token does not prove.
//! - Unknown codes, in the dataset or in the purpose, need review.
//!
//! [`Compatible`]: Compatibility::Compatible
//! [`Incompatible`]: Compatibility::Incompatible
//! [`NeedsReview`]: Compatibility::NeedsReview

use serde::{Deserialize, Serialize};

use crate::ResearchPurpose;

/// No restriction.
pub const NRES: &str = "DUO:0000004";
/// General research use.
pub const GRU: &str = "DUO:0000042";
/// Health or medical or biomedical research.
pub const HMB: &str = "DUO:0000006";
/// Disease-specific research.
pub const DS: &str = "DUO:0000007";
/// Population origins or ancestry research only.
pub const POA: &str = "DUO:0000011";

/// Research-specific restrictions.
pub const RS: &str = "DUO:0000012";
/// No general methods research.
pub const NMDS: &str = "DUO:0000015";
/// Genetic studies only.
pub const GSO: &str = "DUO:0000016";
/// Not for profit, non-commercial use only.
pub const NPUNCU: &str = "DUO:0000018";
/// Publication required.
pub const PUB: &str = "DUO:0000019";
/// Collaboration required.
pub const COL: &str = "DUO:0000020";
/// Ethics approval required.
pub const IRB: &str = "DUO:0000021";
/// Geographical restriction.
pub const GS: &str = "DUO:0000022";
/// Publication moratorium.
pub const MOR: &str = "DUO:0000024";
/// Time limit on use.
pub const TS: &str = "DUO:0000025";
/// User-specific restriction.
pub const US: &str = "DUO:0000026";
/// Project-specific restriction.
pub const PS: &str = "DUO:0000027";
/// Institution-specific restriction.
pub const IS: &str = "DUO:0000028";
/// Return to database or resource.
pub const RTN: &str = "DUO:0000029";
/// Clinical care use.
pub const CC: &str = "DUO:0000043";
/// Population origins or ancestry research prohibited.
pub const NPOA: &str = "DUO:0000044";
/// Not-for-profit use only.
pub const NPU: &str = "DUO:0000045";
/// Non-commercial use only.
pub const NCU: &str = "DUO:0000046";

/// Modifiers that only a person can check.
const REVIEWED_MODIFIERS: [&str; 12] = [RS, NMDS, PUB, COL, IRB, GS, MOR, TS, US, PS, IS, RTN];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compatibility {
    Compatible,
    Incompatible,
    NeedsReview,
}

impl Compatibility {
    fn severity(self) -> u8 {
        match self {
            Self::Compatible => 0,
            Self::NeedsReview => 1,
            Self::Incompatible => 2,
        }
    }

    fn worst(self, other: Self) -> Self {
        if other.severity() > self.severity() {
            other
        } else {
            self
        }
    }
}

/// A dataset's data-use conditions, stored as JSON (`{"permission": "DUO:0000007",
/// "disease": "MONDO:0005148", "modifiers": ["DUO:0000021"]}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DataUse {
    /// NRES, GRU, HMB or DS (POA is accepted as a purpose, and needs review as a permission).
    pub permission: String,
    /// The disease of a DS permission (a MONDO id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disease: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub modifiers: Vec<String>,
}

/// What a purpose is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PurposeKind<'a> {
    General,
    Health,
    Disease(Option<&'a str>),
    Ancestry,
}

/// Matches a dataset's conditions against a declared purpose. `is_descendant(child,
/// ancestor)` answers whether one disease term descends from another (equal terms are
/// handled here).
pub fn match_purpose(
    data_use: &DataUse,
    purpose: Option<&ResearchPurpose>,
    is_descendant: &dyn Fn(&str, &str) -> bool,
) -> Compatibility {
    let mut kinds = Vec::new();
    let mut unknown_purpose_code = false;
    for code in purpose.iter().flat_map(|purpose| &purpose.codes) {
        match code.as_str() {
            GRU => kinds.push(PurposeKind::General),
            HMB => kinds.push(PurposeKind::Health),
            DS => kinds.push(PurposeKind::Disease(
                purpose.and_then(|purpose| purpose.disease.as_deref()),
            )),
            POA => kinds.push(PurposeKind::Ancestry),
            code if is_known_modifier(code) => {}
            _ => unknown_purpose_code = true,
        }
    }
    let declared =
        |code: &str| purpose.is_some_and(|purpose| purpose.codes.iter().any(|declared| declared == code));

    let mut result = permission_result(data_use, &kinds, is_descendant);
    if unknown_purpose_code && data_use.permission != NRES {
        result = result.worst(Compatibility::NeedsReview);
    }
    for modifier in &data_use.modifiers {
        result = result.worst(modifier_result(modifier, &kinds, &declared));
    }
    result
}

fn permission_result(
    data_use: &DataUse,
    kinds: &[PurposeKind<'_>],
    is_descendant: &dyn Fn(&str, &str) -> bool,
) -> Compatibility {
    let permission = data_use.permission.as_str();
    if permission == NRES || permission == GRU {
        return Compatibility::Compatible;
    }
    if kinds.is_empty() {
        return Compatibility::NeedsReview;
    }
    kinds
        .iter()
        .map(|kind| match (permission, kind) {
            (HMB, PurposeKind::Health | PurposeKind::Disease(_)) => Compatibility::Compatible,
            (HMB, PurposeKind::General | PurposeKind::Ancestry) => Compatibility::Incompatible,
            (DS, PurposeKind::Disease(purpose_disease)) => {
                match (purpose_disease, data_use.disease.as_deref()) {
                    (Some(purpose_disease), Some(dataset_disease)) => {
                        if *purpose_disease == dataset_disease
                            || is_descendant(purpose_disease, dataset_disease)
                        {
                            Compatibility::Compatible
                        } else {
                            Compatibility::Incompatible
                        }
                    }
                    _ => Compatibility::NeedsReview,
                }
            }
            (DS, _) => Compatibility::Incompatible,
            _ => Compatibility::NeedsReview,
        })
        .fold(Compatibility::Compatible, Compatibility::worst)
}

fn modifier_result(
    modifier: &str,
    kinds: &[PurposeKind<'_>],
    declared: &dyn Fn(&str) -> bool,
) -> Compatibility {
    let met_if = |condition: bool| {
        if condition {
            Compatibility::Compatible
        } else {
            Compatibility::NeedsReview
        }
    };
    match modifier {
        NPOA if kinds.contains(&PurposeKind::Ancestry) => Compatibility::Incompatible,
        NPOA | GSO | CC => Compatibility::Compatible,
        NCU => met_if(declared(NCU) || declared(NPUNCU)),
        NPU => met_if(declared(NPU) || declared(NPUNCU)),
        NPUNCU => met_if(declared(NPUNCU) || (declared(NPU) && declared(NCU))),
        _ => Compatibility::NeedsReview,
    }
}

fn is_known_modifier(code: &str) -> bool {
    REVIEWED_MODIFIERS.contains(&code) || [NPOA, GSO, CC, NCU, NPU, NPUNCU].contains(&code)
}

#[cfg(test)]
mod tests {
    use super::Compatibility::{Compatible, Incompatible, NeedsReview};
    use super::*;

    const DIABETES: &str = "MONDO:0005015";
    const TYPE_2_DIABETES: &str = "MONDO:0005148";
    const CANCER: &str = "MONDO:0004992";

    /// A two-term ontology: type 2 diabetes descends from diabetes.
    fn is_descendant(child: &str, ancestor: &str) -> bool {
        child == TYPE_2_DIABETES && ancestor == DIABETES
    }

    fn data_use(permission: &str, disease: Option<&str>, modifiers: &[&str]) -> DataUse {
        DataUse {
            permission: permission.to_owned(),
            disease: disease.map(str::to_owned),
            modifiers: modifiers.iter().map(|code| (*code).to_owned()).collect(),
        }
    }

    fn purpose(codes: &[&str], disease: Option<&str>) -> ResearchPurpose {
        ResearchPurpose {
            codes: codes.iter().map(|code| (*code).to_owned()).collect(),
            disease: disease.map(str::to_owned),
        }
    }

    #[test]
    fn permissions_against_purposes() {
        let ds_diabetes = data_use(DS, Some(DIABETES), &[]);
        let cases: &[(DataUse, Option<ResearchPurpose>, Compatibility)] = &[
            // NRES and GRU take anything, even no purpose.
            (data_use(NRES, None, &[]), None, Compatible),
            (data_use(NRES, None, &[]), Some(purpose(&[POA], None)), Compatible),
            (
                data_use(NRES, None, &[]),
                Some(purpose(&["DUO:9999999"], None)),
                Compatible,
            ),
            (data_use(GRU, None, &[]), None, Compatible),
            (data_use(GRU, None, &[]), Some(purpose(&[GRU], None)), Compatible),
            (data_use(GRU, None, &[]), Some(purpose(&[POA], None)), Compatible),
            (data_use(GRU, None, &[]), Some(purpose(&[HMB], None)), Compatible),
            (
                data_use(GRU, None, &[]),
                Some(purpose(&["DUO:9999999"], None)),
                NeedsReview,
            ),
            // HMB: health purposes only.
            (data_use(HMB, None, &[]), Some(purpose(&[HMB], None)), Compatible),
            (
                data_use(HMB, None, &[]),
                Some(purpose(&[DS], Some(CANCER))),
                Compatible,
            ),
            (
                data_use(HMB, None, &[]),
                Some(purpose(&[POA], None)),
                Incompatible,
            ),
            (
                data_use(HMB, None, &[]),
                Some(purpose(&[GRU], None)),
                Incompatible,
            ),
            (
                data_use(HMB, None, &[]),
                Some(purpose(&[HMB, POA], None)),
                Incompatible,
            ),
            (data_use(HMB, None, &[]), None, NeedsReview),
            (data_use(HMB, None, &[]), Some(purpose(&[], None)), NeedsReview),
            (data_use(HMB, None, &[]), Some(purpose(&[NCU], None)), NeedsReview),
            // DS: the disease or a descendant.
            (
                ds_diabetes.clone(),
                Some(purpose(&[DS], Some(DIABETES))),
                Compatible,
            ),
            (
                ds_diabetes.clone(),
                Some(purpose(&[DS], Some(TYPE_2_DIABETES))),
                Compatible,
            ),
            (
                ds_diabetes.clone(),
                Some(purpose(&[DS], Some(CANCER))),
                Incompatible,
            ),
            (ds_diabetes.clone(), Some(purpose(&[DS], None)), NeedsReview),
            (ds_diabetes.clone(), Some(purpose(&[HMB], None)), Incompatible),
            (ds_diabetes.clone(), Some(purpose(&[GRU], None)), Incompatible),
            (ds_diabetes.clone(), Some(purpose(&[POA], None)), Incompatible),
            (ds_diabetes.clone(), None, NeedsReview),
            (
                data_use(DS, Some(TYPE_2_DIABETES), &[]),
                Some(purpose(&[DS], Some(DIABETES))),
                Incompatible,
            ),
            (
                data_use(DS, None, &[]),
                Some(purpose(&[DS], Some(DIABETES))),
                NeedsReview,
            ),
            // Permissions this server does not decide.
            (data_use(POA, None, &[]), Some(purpose(&[POA], None)), NeedsReview),
            (
                data_use("DUO:9999999", None, &[]),
                Some(purpose(&[HMB], None)),
                NeedsReview,
            ),
            (
                data_use(HMB, None, &[]),
                Some(purpose(&[HMB, "DUO:9999999"], None)),
                NeedsReview,
            ),
        ];
        for (data_use, purpose, expected) in cases {
            assert_eq!(
                match_purpose(data_use, purpose.as_ref(), &is_descendant),
                *expected,
                "{data_use:?} for {purpose:?}"
            );
        }
    }

    #[test]
    fn modifiers_against_purposes() {
        let hmb = Some(purpose(&[HMB], None));
        let cases: &[(&[&str], Option<ResearchPurpose>, Compatibility)] = &[
            (&[NPOA], hmb.clone(), Compatible),
            (&[NPOA], Some(purpose(&[POA], None)), Incompatible),
            (&[NPOA], Some(purpose(&[HMB, POA], None)), Incompatible),
            (&[NCU], hmb.clone(), NeedsReview),
            (&[NCU], Some(purpose(&[HMB, NCU], None)), Compatible),
            (&[NCU], Some(purpose(&[HMB, NPUNCU], None)), Compatible),
            (&[NPU], Some(purpose(&[HMB, NCU], None)), NeedsReview),
            (&[NPU], Some(purpose(&[HMB, NPU], None)), Compatible),
            (&[NPUNCU], Some(purpose(&[HMB, NPU], None)), NeedsReview),
            (&[NPUNCU], Some(purpose(&[HMB, NPU, NCU], None)), Compatible),
            (&[NPUNCU], Some(purpose(&[HMB, NPUNCU], None)), Compatible),
            (&[GSO], hmb.clone(), Compatible),
            (&[CC], hmb.clone(), Compatible),
            (&[IRB], hmb.clone(), NeedsReview),
            (&[IRB], Some(purpose(&[HMB, IRB], None)), NeedsReview),
            (&[COL], hmb.clone(), NeedsReview),
            (&[PUB], hmb.clone(), NeedsReview),
            (&[GS], hmb.clone(), NeedsReview),
            (&[MOR], hmb.clone(), NeedsReview),
            (&[TS], hmb.clone(), NeedsReview),
            (&[US], hmb.clone(), NeedsReview),
            (&[PS], hmb.clone(), NeedsReview),
            (&[IS], hmb.clone(), NeedsReview),
            (&[RS], hmb.clone(), NeedsReview),
            (&[NMDS], hmb.clone(), NeedsReview),
            (&[RTN], hmb.clone(), NeedsReview),
            (&["DUO:9999999"], hmb.clone(), NeedsReview),
            // The worst wins: incompatible over needs review.
            (&[IRB, NPOA], Some(purpose(&[POA], None)), Incompatible),
            (&[GSO, NPOA, CC], hmb.clone(), Compatible),
            // Modifiers apply without a purpose too.
            (&[IRB], None, NeedsReview),
            (&[NPOA], None, Compatible),
        ];
        for (modifiers, purpose, expected) in cases {
            let data_use = data_use(GRU, None, modifiers);
            assert_eq!(
                match_purpose(&data_use, purpose.as_ref(), &is_descendant),
                *expected,
                "{modifiers:?} for {purpose:?}"
            );
        }
        // A modifier cannot rescue an incompatible permission.
        let hmb_with_cc = data_use(HMB, None, &[CC]);
        assert_eq!(
            match_purpose(&hmb_with_cc, Some(&purpose(&[POA], None)), &is_descendant),
            Incompatible
        );
    }

    #[test]
    fn data_use_is_stored_as_camel_case_json() {
        let stored = data_use(DS, Some(DIABETES), &[IRB]);
        let json = serde_json::to_value(&stored).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"permission": DS, "disease": DIABETES, "modifiers": [IRB]})
        );
        assert_eq!(serde_json::from_value::<DataUse>(json).unwrap(), stored);
        let minimal: DataUse = serde_json::from_str(r#"{"permission": "DUO:0000042"}"#).unwrap();
        assert_eq!(minimal, data_use(GRU, None, &[]));
        assert!(serde_json::from_str::<DataUse>(r#"{"permission": "x", "other": 1}"#).is_err());
    }
}
