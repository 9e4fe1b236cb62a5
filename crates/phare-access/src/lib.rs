//! Who may see what. Deny by default: a caller sees a dataset at no more than the ceiling the
//! operator set for the caller's tier, and research/open answers never count patients who
//! objected. This first cut knows one tier, the anonymous public; authenticated tiers (JWT,
//! GA4GH Passports) extend [`Caller`] without changing the rule's shape.

use phare_domain::Granularity;

/// Who is asking.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Caller {
    /// No credentials: the open-data tier.
    Anonymous,
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

/// What the operator allows per dataset (the `--anonymous-max` of `phare dataset create`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DatasetPolicy {
    pub anonymous_max: Granularity,
}

impl Caller {
    /// The most this caller may see of a dataset; `Granularity::None` hides it entirely.
    pub fn ceiling(&self, policy: &DatasetPolicy) -> Granularity {
        match self {
            Self::Anonymous => policy.anonymous_max,
        }
    }

    pub fn count_scope(&self) -> CountScope {
        match self {
            Self::Anonymous => CountScope::Research,
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

    #[test]
    fn anonymous_callers_get_the_dataset_ceiling_and_research_counts() {
        let policy = DatasetPolicy {
            anonymous_max: Granularity::Count,
        };
        assert_eq!(Caller::Anonymous.ceiling(&policy), Granularity::Count);
        assert_eq!(Caller::Anonymous.count_scope(), CountScope::Research);
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
