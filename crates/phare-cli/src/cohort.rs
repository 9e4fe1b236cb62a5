//! `phare cohort create` and `phare cohort list`: the operator's cohorts, named term lists whose
//! members are the individuals matching every term (as `/individuals` filters match).

use anyhow::Result;
use clap::Subcommand;
use phare_store::{NewCohort, Store};

use crate::ConfigArg;
use crate::access::record_admin_action;

#[derive(Subcommand, Debug)]
pub enum CohortCommand {
    /// Define a cohort: the individuals matching every --term (phenotype, disease, indication
    /// such as a PFMG pre-indication code, or sex as NCIT:C16576 / NCIT:C20197)
    Create {
        /// Cohort id: letters, digits, '.', '_' or '-'
        id: String,
        /// Human-readable name (defaults to the id)
        #[arg(long)]
        name: Option<String>,
        /// A term members must match (repeatable: all must match)
        #[arg(long = "term", required = true)]
        terms: Vec<String>,
        /// Draw the cohort from this dataset only (default: every dataset)
        #[arg(long)]
        dataset: Option<String>,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// List the cohorts
    List(ConfigArg),
}

impl CohortCommand {
    pub fn config(&self) -> &ConfigArg {
        match self {
            Self::Create { config, .. } | Self::List(config) => config,
        }
    }
}

pub async fn run(store: &Store, command: CohortCommand) -> Result<()> {
    match command {
        CohortCommand::Create {
            id,
            name,
            terms,
            dataset,
            ..
        } => {
            let cohort = NewCohort {
                name: name.unwrap_or_else(|| id.clone()),
                id,
                dataset_id: dataset,
                terms,
            };
            let created = store.create_cohort(&cohort).await.map_err(anyhow::Error::from);
            record_admin_action(store, "cohort create", &format!("cohort:{}", cohort.id), &created).await?;
            created?;
            println!(
                "created cohort {} ({}): individuals matching {} in {}",
                cohort.id,
                cohort.name,
                cohort.terms.join(" and "),
                cohort.dataset_id.as_deref().map_or_else(
                    || "every dataset".to_owned(),
                    |dataset| format!("dataset {dataset}")
                )
            );
            Ok(())
        }
        CohortCommand::List(_) => {
            println!("{:<24} {:<16} {:<32}  name", "id", "dataset", "terms");
            for cohort in store.cohorts().await? {
                println!(
                    "{:<24} {:<16} {:<32}  {}",
                    cohort.id,
                    cohort.dataset_id.as_deref().unwrap_or("*"),
                    cohort.terms.join(","),
                    cohort.name
                );
            }
            Ok(())
        }
    }
}
