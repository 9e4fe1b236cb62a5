//! Who may see what. Deny by default: a caller is anonymous until a bearer token from a
//! trusted issuer proves otherwise, and every dataset is seen at the tier the caller's
//! verified claims and GA4GH visas earn for that dataset, never more
//! (docs/decisions/0019-token-verification.md).
//!
//! - [`Authenticator`] turns the `Authorization` and `X-GA4GH-Passport` headers into a
//!   [`Caller`], or refuses them with an [`AuthError`]; it never downgrades a bad token to
//!   anonymous.
//! - [`Caller::tier_for`] gives the tier per dataset; [`answer_granularity`] combines the
//!   per-dataset ceilings the server derives from it.
//! - [`duo`] matches a dataset's data-use conditions against the caller's declared purpose.
//! - [`dev`] is the local development issuer behind `phare dev token`.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use phare_domain::Granularity;
use serde::{Deserialize, Serialize};

mod auth;
pub mod dev;
pub mod duo;
mod jwks;
pub mod node;
pub mod policy;
pub mod pseudonyms;
pub mod suppression;
#[cfg(feature = "testing")]
pub mod testing;
mod verified;

pub use auth::{
    AccessConfig, AccessConfigError, AuthError, Authenticator, PASSPORT_HEADER, PartnerIssuer, TrustedIssuer,
    TrustedVisaIssuer,
};

/// A URL this node may fetch keys from or send node tokens to: `https://`, or `http://` on a
/// loopback address (tests and single-machine demos); never with credentials in it.
pub fn check_node_url(url: &str) -> Result<(), String> {
    jwks::check_jwks_url(url)
}

pub use jwks::tls_client_config;

/// The `value` that `AcceptedTermsAndPolicies` and `ResearcherStatus` visas carry for a bona
/// fide researcher (the GA4GH registered access policy, Dyke et al. 2018).
pub const BONA_FIDE_VALUE: &str = "https://doi.org/10.1038/s41431-018-0219-y";

/// Access tiers, lowest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Tier {
    /// Anyone, including anonymous callers.
    Public,
    /// Bona fide researchers.
    Registered,
    /// Researchers holding a `ControlledAccessGrants` visa for the dataset.
    Controlled,
    /// Clinicians of a care centre, in the care space.
    Care,
}

impl Tier {
    pub const ALL: [Tier; 4] = [Tier::Public, Tier::Registered, Tier::Controlled, Tier::Care];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Registered => "registered",
            Self::Controlled => "controlled",
            Self::Care => "care",
        }
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown tier {0:?}: expected public, registered, controlled or care")]
pub struct ParseTierError(String);

impl FromStr for Tier {
    type Err = ParseTierError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Tier::ALL
            .into_iter()
            .find(|tier| tier.as_str().eq_ignore_ascii_case(text))
            .ok_or_else(|| ParseTierError(text.to_owned()))
    }
}

/// A clinician of one care centre: sees the care space (every patient, objections included,
/// since care is not research).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CareRole {
    pub centre: String,
}

/// Roles of services rather than people, from the `phare_roles` claim.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServiceRoles {
    /// The sequencing platform this caller submits for (`platform` role + `phare_platform`).
    pub platform: Option<String>,
    /// A partner node of the federation: only from a registry entry's issuer (its node token).
    pub partner: bool,
    /// An operator of this node.
    pub admin: bool,
}

/// What the caller declares they will use the data for: DUO codes (`DUO:0000006` HMB,
/// `DUO:0000007` DS, …) and, for disease-specific research, the disease (a MONDO id).
/// Carried in the `phare_research_purpose` claim as `{"duo": [...], "disease": "..."}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResearchPurpose {
    #[serde(rename = "duo")]
    pub codes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disease: Option<String>,
}

/// Who is asking, as verified by [`Authenticator::authenticate`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Caller {
    /// The token's `sub`; `None` for an anonymous caller.
    pub subject: Option<String>,
    /// The token's `iss`; `None` for an anonymous caller.
    pub issuer: Option<String>,
    /// Holds valid `AcceptedTermsAndPolicies` and `ResearcherStatus` visas for
    /// [`BONA_FIDE_VALUE`].
    pub bona_fide: bool,
    /// Dataset URLs named by valid `ControlledAccessGrants` visas.
    pub grants: BTreeSet<String>,
    pub care: Option<CareRole>,
    pub roles: ServiceRoles,
    pub purpose: Option<ResearchPurpose>,
}

impl Caller {
    pub fn anonymous() -> Self {
        Self::default()
    }

    /// The tier this caller has on one dataset, identified by its canonical URL (the value a
    /// `ControlledAccessGrants` visa names, compared exactly).
    pub fn tier_for(&self, dataset_url: &str) -> Tier {
        if self.care.is_some() {
            return Tier::Care;
        }
        if self.grants.contains(dataset_url) {
            return Tier::Controlled;
        }
        if self.bona_fide {
            return Tier::Registered;
        }
        Tier::Public
    }

    /// Only the care space counts patients who objected to research.
    pub fn count_scope(&self) -> CountScope {
        if self.care.is_some() {
            CountScope::All
        } else {
            CountScope::Research
        }
    }

    /// Who to name in the audit log: the issuer and subject, never a token.
    pub fn audit_subject(&self) -> String {
        match (&self.issuer, &self.subject) {
            (Some(issuer), Some(subject)) => format!("{issuer} {subject}"),
            _ => "anonymous".to_owned(),
        }
    }

    /// The highest tier this caller holds on any dataset, for the audit log.
    pub fn highest_tier(&self) -> Tier {
        if self.care.is_some() {
            return Tier::Care;
        }
        if !self.grants.is_empty() {
            return Tier::Controlled;
        }
        if self.bona_fide {
            return Tier::Registered;
        }
        Tier::Public
    }
}

/// Which counts an answer may read: every sample (care space) or only those of patients who
/// did not object (research and open data).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CountScope {
    All,
    Research,
}

impl CountScope {
    /// The value stored in `variant_counts.scope`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Research => "research",
        }
    }
}

/// The granularity an answer over several datasets is given at: the lowest of what was asked
/// and every visible dataset's ceiling. Beacon v2.0 result sets must carry counts and records,
/// so one dataset allowed only `boolean` caps the whole answer (docs/decisions/0004).
pub fn answer_granularity(requested: Granularity, ceilings: &[Granularity]) -> Granularity {
    ceilings
        .iter()
        .copied()
        .filter(|ceiling| *ceiling > Granularity::None)
        .fold(requested, Granularity::min)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DATASET: &str = "https://phare.example/datasets/demo";
    const OTHER_DATASET: &str = "https://phare.example/datasets/other";

    fn caller(care: bool, grant: bool, bona_fide: bool) -> Caller {
        Caller {
            subject: Some("someone".into()),
            issuer: Some("https://issuer.example".into()),
            bona_fide,
            grants: if grant {
                BTreeSet::from([DATASET.to_owned()])
            } else {
                BTreeSet::new()
            },
            care: care.then(|| CareRole {
                centre: "CHU-Lyon".into(),
            }),
            ..Caller::default()
        }
    }

    #[test]
    fn tier_for_every_combination_of_care_grant_and_bona_fide() {
        for care in [false, true] {
            for grant in [false, true] {
                for bona_fide in [false, true] {
                    let caller = caller(care, grant, bona_fide);
                    let expected = if care {
                        Tier::Care
                    } else if grant {
                        Tier::Controlled
                    } else if bona_fide {
                        Tier::Registered
                    } else {
                        Tier::Public
                    };
                    assert_eq!(caller.tier_for(DATASET), expected, "{caller:?}");
                    assert_eq!(caller.highest_tier(), expected, "{caller:?}");
                    // A grant names one dataset: elsewhere the caller falls back.
                    let elsewhere = if care {
                        Tier::Care
                    } else if bona_fide {
                        Tier::Registered
                    } else {
                        Tier::Public
                    };
                    assert_eq!(caller.tier_for(OTHER_DATASET), elsewhere, "{caller:?}");
                    let scope = if care {
                        CountScope::All
                    } else {
                        CountScope::Research
                    };
                    assert_eq!(caller.count_scope(), scope);
                }
            }
        }
    }

    #[test]
    fn grants_match_the_dataset_url_exactly() {
        let caller = caller(false, true, false);
        assert_eq!(caller.tier_for(&format!("{DATASET}/")), Tier::Public);
        assert_eq!(caller.tier_for(&DATASET.to_uppercase()), Tier::Public);
    }

    #[test]
    fn anonymous_callers_are_public_and_counted_in_the_research_scope() {
        let anonymous = Caller::anonymous();
        assert_eq!(anonymous.tier_for(DATASET), Tier::Public);
        assert_eq!(anonymous.highest_tier(), Tier::Public);
        assert_eq!(anonymous.count_scope(), CountScope::Research);
        assert_eq!(anonymous.audit_subject(), "anonymous");
        assert_eq!(
            caller(false, false, false).audit_subject(),
            "https://issuer.example someone"
        );
    }

    #[test]
    fn tiers_are_ordered_and_parse_from_their_names() {
        assert!(Tier::Public < Tier::Registered);
        assert!(Tier::Registered < Tier::Controlled);
        assert!(Tier::Controlled < Tier::Care);
        for tier in Tier::ALL {
            assert_eq!(tier.as_str().parse::<Tier>(), Ok(tier));
            assert_eq!(tier.as_str().to_uppercase().parse::<Tier>(), Ok(tier));
        }
        assert!("root".parse::<Tier>().is_err());
        assert_eq!(CountScope::All.as_str(), "all");
        assert_eq!(CountScope::Research.as_str(), "research");
    }

    #[test]
    fn the_answer_is_capped_by_the_lowest_visible_ceiling() {
        use Granularity::*;
        assert_eq!(answer_granularity(Record, &[Record, Count]), Count);
        assert_eq!(answer_granularity(Boolean, &[Record]), Boolean);
        assert_eq!(answer_granularity(Record, &[Record, None]), Record);
        assert_eq!(answer_granularity(Count, &[]), Count);
    }
}
