//! How much of an answer a caller may see, ordered from nothing to full records.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Beacon granularity, plus `None` for datasets a caller may not see at all.
/// The order matters: answers are capped at the lower of what was asked and what is allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Granularity {
    None,
    Boolean,
    Count,
    Record,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown granularity `{0}`: expected one of none, boolean, count, record")]
pub struct UnknownGranularity(pub String);

impl FromStr for Granularity {
    type Err = UnknownGranularity;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "none" => Ok(Self::None),
            "boolean" => Ok(Self::Boolean),
            "count" => Ok(Self::Count),
            "record" => Ok(Self::Record),
            _ => Err(UnknownGranularity(text.to_owned())),
        }
    }
}

impl Granularity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Boolean => "boolean",
            Self::Count => "count",
            Self::Record => "record",
        }
    }
}

impl fmt::Display for Granularity {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn granularities_are_ordered_from_none_to_record() {
        assert!(Granularity::None < Granularity::Boolean);
        assert!(Granularity::Boolean < Granularity::Count);
        assert!(Granularity::Count < Granularity::Record);
        assert_eq!(
            Granularity::Record.min(Granularity::Boolean),
            Granularity::Boolean
        );
    }

    #[test]
    fn parsing_is_case_insensitive_and_names_the_bad_value() {
        assert_eq!("RECORD".parse(), Ok(Granularity::Record));
        assert_eq!(
            "records".parse::<Granularity>(),
            Err(UnknownGranularity("records".into()))
        );
    }
}
