use std::fmt;
use std::path::PathBuf;

/// Where in an input file something went wrong: a line for text VCF, a record for BCF.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    File,
    Header,
    Line(u64),
    BcfRecord(u64),
}

impl fmt::Display for Location {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File => Ok(()),
            // Header errors name their field ("header", "##contig=1", "samples").
            Self::Header => Ok(()),
            Self::Line(line) => write!(formatter, ":{line}"),
            Self::BcfRecord(record) => write!(formatter, ": record {record}"),
        }
    }
}

/// A located error: `file:line: field: what was expected`.
#[derive(Debug, thiserror::Error)]
#[error("{}{location}: {field}: {message}", path.display())]
pub struct VcfError {
    pub path: PathBuf,
    pub location: Location,
    pub field: String,
    pub message: String,
}

impl VcfError {
    pub(crate) fn new(
        path: &std::path::Path,
        location: Location,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            path: path.to_path_buf(),
            location,
            field: field.into(),
            message: message.into(),
        }
    }
}
