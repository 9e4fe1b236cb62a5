//! Ages as Beacon filters write them: ISO 8601 durations (`P40Y`, `P3Y6M`, `P10D`) compared
//! as a number of days. Calendar units have no fixed length, so a year counts 365.25 days and
//! a month a twelfth of that, 30.4375 days: `P1Y` equals `P12M` and `P365D` is just under
//! `P1Y`. Only the date part is accepted; hours and minutes do not describe a patient's age.

use std::cmp::Ordering;

use crate::OntologyError;

const DAYS_PER_YEAR: f64 = 365.25;
const DAYS_PER_MONTH: f64 = DAYS_PER_YEAR / 12.0;
const DAYS_PER_WEEK: f64 = 7.0;

/// Longest age text read: `P999999999Y999999999M999999999W999999999D` is 41 characters.
const MAX_AGE_CHARS: usize = 41;
/// Nine digits per component keep the value exact in an `f64` and far beyond any real age.
const MAX_DIGITS: usize = 9;

/// The designators in the order ISO 8601 writes them, with their length in days.
const UNITS: [(char, f64); 4] = [
    ('Y', DAYS_PER_YEAR),
    ('M', DAYS_PER_MONTH),
    ('W', DAYS_PER_WEEK),
    ('D', 1.0),
];

/// The age an ISO 8601 duration describes, in days (see the module's note on units).
pub fn parse_iso8601_age(text: &str) -> Result<f64, OntologyError> {
    let invalid = |reason| OntologyError::InvalidAge {
        text: text.chars().take(MAX_AGE_CHARS).collect(),
        reason,
    };
    let age = text.trim();
    if age.len() > MAX_AGE_CHARS {
        return Err(invalid("expected at most 41 characters"));
    }
    let Some(mut rest) = age.strip_prefix('P') else {
        return Err(invalid("expected `P` at the start"));
    };
    if rest.is_empty() {
        return Err(invalid("expected at least one component after `P`"));
    }
    let mut days = 0.0;
    let mut next_unit = 0;
    while !rest.is_empty() {
        if rest.starts_with('T') {
            return Err(invalid(
                "expected years, months, weeks or days only, found a time part",
            ));
        }
        let digits_end = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if digits_end == 0 {
            return Err(invalid(
                "expected a non-negative whole number before each designator",
            ));
        }
        if digits_end > MAX_DIGITS {
            return Err(invalid("expected at most nine digits per component"));
        }
        let (digits, after) = rest.split_at(digits_end);
        let Some(designator) = after.chars().next() else {
            return Err(invalid(
                "expected a designator (Y, M, W or D) after the last number",
            ));
        };
        let Some(position) = UNITS.iter().position(|(unit, _)| *unit == designator) else {
            return Err(invalid("expected a designator (Y, M, W or D) after each number"));
        };
        if position < next_unit {
            return Err(invalid(
                "expected components in the order Y, M, W, D, each at most once",
            ));
        }
        let value: f64 = digits
            .parse::<u32>()
            .map_err(|_| invalid("expected a whole number"))?
            .into();
        days += value * UNITS[position].1;
        next_unit = position + 1;
        rest = &after[designator.len_utf8()..];
    }
    Ok(days)
}

/// Orders two ages (`P40Y` is greater than `P3Y6M`), refusing either when it does not parse.
pub fn compare_iso8601_ages(left: &str, right: &str) -> Result<Ordering, OntologyError> {
    Ok(parse_iso8601_age(left)?.total_cmp(&parse_iso8601_age(right)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_date_durations_in_days() {
        assert_eq!(parse_iso8601_age("P40Y").unwrap(), 40.0 * 365.25);
        assert_eq!(parse_iso8601_age("P3Y6M").unwrap(), 3.0 * 365.25 + 6.0 * 30.4375);
        assert_eq!(parse_iso8601_age("P10D").unwrap(), 10.0);
        assert_eq!(parse_iso8601_age("P2W").unwrap(), 14.0);
        assert_eq!(parse_iso8601_age("P0Y0M3D").unwrap(), 3.0);
        assert_eq!(
            parse_iso8601_age(" P1Y ").unwrap(),
            parse_iso8601_age("P12M").unwrap()
        );
    }

    #[test]
    fn compares_ages() {
        assert_eq!(compare_iso8601_ages("P40Y", "P3Y6M").unwrap(), Ordering::Greater);
        assert_eq!(compare_iso8601_ages("P365D", "P1Y").unwrap(), Ordering::Less);
        assert_eq!(compare_iso8601_ages("P1Y", "P12M").unwrap(), Ordering::Equal);
        assert!(parse_iso8601_age("P40Y").unwrap() > parse_iso8601_age("P3Y6M").unwrap());
        assert!(compare_iso8601_ages("P40Y", "40Y").is_err());
    }

    #[test]
    fn refuses_bad_forms() {
        for text in [
            "40Y",
            "P",
            "P-1Y",
            "",
            "p40y",
            "P40",
            "P40X",
            "P1M1Y",
            "P1Y1Y",
            "PT12H",
            "P1YT1H",
            "P1.5Y",
            "P+1Y",
            "P1234567890Y",
            "P١Y",
            "PY",
        ] {
            let outcome = parse_iso8601_age(text);
            assert!(
                matches!(outcome, Err(OntologyError::InvalidAge { .. })),
                "{text:?} gave {outcome:?}"
            );
        }
    }

    #[test]
    fn errors_say_what_was_expected() {
        let error = parse_iso8601_age("P-1Y").unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid ISO 8601 age `P-1Y`: expected a non-negative whole number before each designator"
        );
        let long = "P".repeat(1000);
        assert!(parse_iso8601_age(&long).unwrap_err().to_string().len() < 200);
    }
}
