use phare_vcf::VcfError;

/// Errors of the store, transport-neutral: the server and the CLI map them once each.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot connect to the database: {0}")]
    Connect(sqlx::Error),
    #[error("cannot apply migrations: {0}")]
    Migrate(sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("dataset `{0}` already exists")]
    DatasetExists(String),
    #[error("dataset `{0}` does not exist")]
    UnknownDataset(String),
    #[error("no individual with pseudonym `{0}`")]
    UnknownIndividual(String),
    #[error("invalid dataset: {0}")]
    InvalidDataset(String),
    #[error(transparent)]
    Vcf(#[from] VcfError),
    #[error("{path}: {message}")]
    Input { path: String, message: String },
    #[error("internal error: {0}")]
    Internal(String),
}

impl StoreError {
    /// Whether the caller sent something wrong (as opposed to the node failing).
    pub fn is_input_error(&self) -> bool {
        matches!(
            self,
            Self::DatasetExists(_)
                | Self::UnknownDataset(_)
                | Self::UnknownIndividual(_)
                | Self::InvalidDataset(_)
                | Self::Vcf(_)
                | Self::Input { .. }
        )
    }
}
