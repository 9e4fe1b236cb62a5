use std::path::PathBuf;

/// Why an ontology file or an age could not be read. Parse errors name the file and line.
#[derive(Debug, thiserror::Error)]
pub enum OntologyError {
    #[error("cannot read {}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{}: the file has more than {limit} bytes, the limit for an ontology file", path.display())]
    TooLarge { path: PathBuf, limit: u64 },
    #[error("{origin}:{line}: the line is longer than {limit} bytes, the limit for one line")]
    LineTooLong {
        origin: String,
        line: usize,
        limit: usize,
    },
    #[error("{origin}:{line}: {message}")]
    Syntax {
        origin: String,
        line: usize,
        message: String,
    },
    #[error("invalid ISO 8601 age `{text}`: {reason}")]
    InvalidAge { text: String, reason: &'static str },
}
