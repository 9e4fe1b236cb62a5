//! Small-count protection for research and open answers.
//!
//! Every count leaving the node in a research or open answer is rounded down to a multiple of
//! the dataset's threshold `k`, and a non-zero count below `k` is reported as `k`: a reported
//! `r` means the true count lies in `[r, r + k - 1]`, or in `[1, 2k - 1]` when `r = k`. Zero stays
//! zero. Because *every* count is coarsened the same way (totals, strata, filtered and
//! unfiltered answers alike), subtracting one answer from another never pins a hidden value
//! down: each side is only known to within `k`. Care answers are not coarsened.

/// How a reported count relates to the true one (Beacon v2.2 `countPrecision`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CountPrecision {
    Exact,
    Rounded,
}

impl CountPrecision {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Exact => "exact",
            Self::Rounded => "rounded",
        }
    }
}

/// A count as it may be disclosed, with the interval the true value lies in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DisclosedCount {
    pub value: u64,
    pub precision: CountPrecision,
    /// Smallest and largest true count this report stands for (equal when exact).
    pub lowest: u64,
    pub highest: u64,
}

impl DisclosedCount {
    pub fn exact(value: u64) -> Self {
        Self {
            value,
            precision: CountPrecision::Exact,
            lowest: value,
            highest: value,
        }
    }

    /// The sum of several disclosed counts: the interval adds up too.
    pub fn sum(counts: impl IntoIterator<Item = Self>) -> Self {
        counts.into_iter().fold(Self::exact(0), |total, count| Self {
            value: total.value.saturating_add(count.value),
            precision: if total.precision == CountPrecision::Rounded
                || count.precision == CountPrecision::Rounded
            {
                CountPrecision::Rounded
            } else {
                CountPrecision::Exact
            },
            lowest: total.lowest.saturating_add(count.lowest),
            highest: total.highest.saturating_add(count.highest),
        })
    }

    /// Beacon v2.2 `countAdjustedTo`: the interval the true count lies in, as `low-high`.
    pub fn adjusted_to(&self) -> Option<String> {
        match self.precision {
            CountPrecision::Exact => None,
            CountPrecision::Rounded => Some(format!("{}-{}", self.lowest, self.highest)),
        }
    }
}

/// What `count` may be disclosed as under threshold `min_count` (0 or 1: no protection, the
/// dataset was consented for open release).
pub fn disclose(count: u64, min_count: u32) -> DisclosedCount {
    let base = u64::from(min_count);
    if base <= 1 || count == 0 {
        return DisclosedCount::exact(count);
    }
    let rounded = (count / base) * base;
    if rounded < base {
        return DisclosedCount {
            value: base,
            precision: CountPrecision::Rounded,
            lowest: 1,
            highest: base.saturating_mul(2).saturating_sub(1),
        };
    }
    DisclosedCount {
        value: rounded,
        precision: CountPrecision::Rounded,
        // A reported `k` also stands for 1..k-1, whatever the true count was.
        lowest: if rounded == base { 1 } else { rounded },
        // Saturating: counts relayed from partner nodes can be anything up to u64::MAX.
        highest: rounded.saturating_add(base - 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_below_the_threshold_are_floored_to_it_and_never_shown() {
        for count in 1..=4 {
            let disclosed = disclose(count, 5);
            assert_eq!(disclosed.value, 5, "count {count}");
            assert_eq!(disclosed.precision, CountPrecision::Rounded);
            assert_eq!(disclosed.adjusted_to().as_deref(), Some("1-9"));
        }
    }

    #[test]
    fn the_largest_counts_do_not_overflow() {
        let disclosed = disclose(u64::MAX, 5);
        assert_eq!(disclosed.value, u64::MAX / 5 * 5);
        assert_eq!(disclosed.highest, u64::MAX);
    }

    #[test]
    fn larger_counts_are_rounded_down_to_a_multiple_of_the_threshold() {
        assert_eq!(disclose(5, 5).value, 5);
        assert_eq!(disclose(9, 5).value, 5);
        assert_eq!(disclose(10, 5).value, 10);
        assert_eq!(disclose(14, 5).value, 10);
        assert_eq!(disclose(14, 5).adjusted_to().as_deref(), Some("10-14"));
        assert_eq!(disclose(1234, 5).value, 1230);
    }

    #[test]
    fn zero_is_exact_and_threshold_zero_or_one_discloses_everything() {
        assert_eq!(disclose(0, 5), DisclosedCount::exact(0));
        assert_eq!(disclose(3, 0), DisclosedCount::exact(3));
        assert_eq!(disclose(3, 1), DisclosedCount::exact(3));
    }

    /// The subtraction attack: a total and a stratum (or a filtered and an unfiltered answer)
    /// differing by a hidden small count. For every pair of true values, the reports leave at
    /// least two candidates for the difference, so no hidden value is ever pinned down.
    #[test]
    fn no_difference_of_two_reports_pins_a_hidden_small_count() {
        let threshold = 5;
        let range = 0..150u64;
        let same_report = |reported: DisclosedCount| -> Vec<u64> {
            range
                .clone()
                .filter(|candidate| disclose(*candidate, threshold) == reported)
                .collect()
        };
        for whole in 0..100u64 {
            for part in 0..=whole {
                let hidden = whole - part;
                if hidden == 0 || hidden >= u64::from(threshold) {
                    continue;
                }
                let wholes = same_report(disclose(whole, threshold));
                let parts = same_report(disclose(part, threshold));
                let differences: Vec<u64> = wholes
                    .iter()
                    .flat_map(|candidate_whole| {
                        parts
                            .iter()
                            .filter(move |candidate_part| *candidate_part <= candidate_whole)
                            .map(move |candidate_part| candidate_whole - candidate_part)
                    })
                    .collect();
                let smallest = differences.iter().min().copied().unwrap_or(0);
                let largest = differences.iter().max().copied().unwrap_or(0);
                assert!(
                    largest > smallest,
                    "whole {whole}, part {part}: the difference {hidden} is recoverable"
                );
            }
        }
    }

    #[test]
    fn sums_keep_the_interval() {
        let total = DisclosedCount::sum([disclose(3, 5), disclose(12, 5), DisclosedCount::exact(0)]);
        assert_eq!(total.value, 15);
        assert_eq!(total.precision, CountPrecision::Rounded);
        assert_eq!(total.adjusted_to().as_deref(), Some("11-23"));
    }
}
