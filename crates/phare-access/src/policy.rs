//! The operator's policy table: per dataset × tier × entry type, the highest granularity allowed
//! and the switches for id look-ups and unfiltered queries. Deny by default: what the table does
//! not raise stays at the built-in defaults (public: the dataset's `--anonymous-max`,
//! registered: count, controlled and care: record).

use phare_domain::Granularity;

use crate::{Caller, CountScope, Tier};

/// Entry types of the Beacon default model, as `dataset_policies.entry_type` names them.
pub const ENTRY_TYPES: [&str; 7] = [
    "genomicVariation",
    "individual",
    "biosample",
    "run",
    "analysis",
    "dataset",
    "cohort",
];

/// What one tier may do with one entry type of one dataset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EntryRule {
    pub max: Granularity,
    pub id_lookups: bool,
    pub unfiltered_queries: bool,
}

/// One row of the operator's table; `entry_type` `*` stands for every entry type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyEntry {
    pub tier: Tier,
    pub entry_type: String,
    pub rule: EntryRule,
}

/// A dataset's policy as the operator set it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatasetPolicy {
    /// The public tier's default (`phare dataset create --anonymous-max`).
    pub public_max: Granularity,
    pub entries: Vec<PolicyEntry>,
    /// Small-count threshold of research and open answers.
    pub min_count: u32,
}

fn default_rule(tier: Tier, public_max: Granularity) -> EntryRule {
    let max = match tier {
        Tier::Public => public_max,
        Tier::Registered => Granularity::Count,
        Tier::Controlled | Tier::Care => Granularity::Record,
    };
    EntryRule {
        max,
        id_lookups: true,
        unfiltered_queries: true,
    }
}

impl DatasetPolicy {
    /// The row for exactly this tier: the entry type's own, else `*`, else the default.
    fn configured(&self, tier: Tier, entry_type: &str) -> EntryRule {
        let row = |wanted: &str| {
            self.entries
                .iter()
                .find(|entry| entry.tier == tier && entry.entry_type == wanted)
                .map(|entry| entry.rule)
        };
        row(entry_type)
            .or_else(|| row("*"))
            .unwrap_or_else(|| default_rule(tier, self.public_max))
    }

    /// What `tier` may do with `entry_type`. A higher tier never gets less than a lower one
    /// (an open reference panel at `record` for the public is `record` for everyone).
    pub fn rule(&self, tier: Tier, entry_type: &str) -> EntryRule {
        Tier::ALL
            .iter()
            .filter(|lower| **lower <= tier)
            .map(|lower| self.configured(*lower, entry_type))
            .fold(
                EntryRule {
                    max: Granularity::None,
                    id_lookups: false,
                    unfiltered_queries: false,
                },
                |best, rule| EntryRule {
                    max: best.max.max(rule.max),
                    id_lookups: best.id_lookups || rule.id_lookups,
                    unfiltered_queries: best.unfiltered_queries || rule.unfiltered_queries,
                },
            )
    }
}

const GENOMIC_VARIATION: &str = "genomicVariation";

/// How one caller may see one entry type of one dataset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Access {
    pub tier: Tier,
    pub rule: EntryRule,
    pub scope: CountScope,
    /// Threshold applied to the answer's counts: 0 in the care space (exact counts).
    pub min_count: u32,
    /// In the care space, the clinician's centre: record-level answers only show its patients.
    pub care_centre: Option<String>,
}

impl Access {
    /// Whether research identifiers (never care pseudonyms) must stand for patients.
    pub fn is_research(&self) -> bool {
        self.scope == CountScope::Research
    }
}

/// The access `caller` has to `entry_type` in the dataset published at `dataset_url`.
/// Partner nodes get federated aggregates: the registered tier's ceilings, at most counts —
/// except genomic variations, read as records when the operator opened them to the registered
/// tier: a variant record shown at that tier carries no case data, only the allele and its
/// rounded population counts (docs/decisions/0047-partners-read-allele-frequencies.md).
pub fn access(caller: &Caller, dataset_url: &str, policy: &DatasetPolicy, entry_type: &str) -> Access {
    let mut tier = caller.tier_for(dataset_url);
    if caller.roles.partner && tier < Tier::Registered {
        tier = Tier::Registered;
    }
    let mut rule = policy.rule(tier, entry_type);
    if caller.roles.partner && caller.care.is_none() && entry_type != GENOMIC_VARIATION {
        rule.max = rule.max.min(Granularity::Count);
    }
    let scope = caller.count_scope();
    Access {
        tier,
        rule,
        scope,
        min_count: match scope {
            CountScope::All => 0,
            CountScope::Research => policy.min_count,
        },
        care_centre: caller.care.as_ref().map(|care| care.centre.clone()),
    }
}

/// Platforms push data and operators administer: neither reads genotypes (design brief).
pub fn may_query(caller: &Caller) -> bool {
    let service_only = (caller.roles.platform.is_some() || caller.roles.admin)
        && caller.care.is_none()
        && !caller.bona_fide
        && caller.grants.is_empty()
        && !caller.roles.partner;
    !service_only
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CareRole, ServiceRoles};

    const URL: &str = "https://phare.example/api/datasets/rare";

    fn policy(entries: Vec<PolicyEntry>) -> DatasetPolicy {
        DatasetPolicy {
            public_max: Granularity::Boolean,
            entries,
            min_count: 5,
        }
    }

    fn rule(max: Granularity) -> EntryRule {
        EntryRule {
            max,
            id_lookups: true,
            unfiltered_queries: true,
        }
    }

    #[test]
    fn defaults_rise_with_the_tier() {
        let table = policy(Vec::new());
        assert_eq!(table.rule(Tier::Public, "individual").max, Granularity::Boolean);
        assert_eq!(table.rule(Tier::Registered, "individual").max, Granularity::Count);
        assert_eq!(
            table.rule(Tier::Controlled, "individual").max,
            Granularity::Record
        );
        assert_eq!(table.rule(Tier::Care, "individual").max, Granularity::Record);
    }

    #[test]
    fn an_entry_type_row_beats_the_star_row_and_higher_tiers_never_get_less() {
        let table = policy(vec![
            PolicyEntry {
                tier: Tier::Controlled,
                entry_type: "*".into(),
                rule: rule(Granularity::Count),
            },
            PolicyEntry {
                tier: Tier::Controlled,
                entry_type: "genomicVariation".into(),
                rule: rule(Granularity::Record),
            },
            PolicyEntry {
                tier: Tier::Public,
                entry_type: "dataset".into(),
                rule: rule(Granularity::Record),
            },
        ]);
        assert_eq!(table.rule(Tier::Controlled, "individual").max, Granularity::Count);
        assert_eq!(
            table.rule(Tier::Controlled, "genomicVariation").max,
            Granularity::Record
        );
        assert_eq!(table.rule(Tier::Registered, "dataset").max, Granularity::Record);
    }

    #[test]
    fn partners_get_counts_and_allele_records_and_care_gets_every_patient_exactly() {
        let table = policy(Vec::new());
        let partner = Caller {
            roles: ServiceRoles {
                partner: true,
                ..ServiceRoles::default()
            },
            subject: Some("node-be".into()),
            ..Caller::anonymous()
        };
        // By default the registered tier, so partners, count variants.
        let seen = access(&partner, URL, &table, "genomicVariation");
        assert_eq!(seen.tier, Tier::Registered);
        assert_eq!(seen.rule.max, Granularity::Count);
        assert_eq!(seen.min_count, 5);
        assert!(seen.is_research());
        // Variant records opened to the registered tier are open to partners; other entry
        // types stay at counts whatever the operator opened.
        let opened = policy(vec![
            PolicyEntry {
                tier: Tier::Registered,
                entry_type: "genomicVariation".into(),
                rule: rule(Granularity::Record),
            },
            PolicyEntry {
                tier: Tier::Registered,
                entry_type: "individual".into(),
                rule: rule(Granularity::Record),
            },
        ]);
        assert_eq!(
            access(&partner, URL, &opened, "genomicVariation").rule.max,
            Granularity::Record
        );
        assert_eq!(
            access(&partner, URL, &opened, "individual").rule.max,
            Granularity::Count
        );
        let clinician = Caller {
            care: Some(CareRole {
                centre: "CHU-LYON".into(),
            }),
            subject: Some("dr-a".into()),
            ..Caller::anonymous()
        };
        let seen = access(&clinician, URL, &table, "individual");
        assert_eq!(seen.tier, Tier::Care);
        assert_eq!(seen.scope, CountScope::All);
        assert_eq!(seen.min_count, 0);
        assert_eq!(seen.care_centre.as_deref(), Some("CHU-LYON"));
        let anonymous = access(&Caller::anonymous(), URL, &table, "individual");
        assert!(anonymous.is_research());
        assert_eq!(anonymous.rule.max, Granularity::Boolean);
    }

    #[test]
    fn platforms_and_operators_never_query() {
        let platform = Caller {
            roles: ServiceRoles {
                platform: Some("seqoia".into()),
                ..ServiceRoles::default()
            },
            ..Caller::anonymous()
        };
        assert!(!may_query(&platform));
        assert!(may_query(&Caller::anonymous()));
    }
}
