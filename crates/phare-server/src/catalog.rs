//! The datasets and their policy rows, cached between queries. Each query reads the store's
//! catalog generation (one row, bumped by triggers in the transaction of any change to
//! `datasets` or `dataset_policies`) and reloads when it moved, so a policy change committed
//! by any process, `phare dataset policy` included, is seen by the next query.

use std::sync::{Arc, Mutex};

use phare_store::{Dataset, Store, StoreError};

/// Every dataset, shared by the requests that read the same generation.
pub(crate) type Datasets = Arc<[Arc<Dataset>]>;

#[derive(Debug, Default)]
pub(crate) struct Catalog {
    cached: Mutex<Option<(i64, Datasets)>>,
}

impl Catalog {
    /// Every dataset with its policy rows, as of the generation read now.
    pub(crate) async fn datasets(&self, store: &Store) -> Result<Datasets, StoreError> {
        // Read before the datasets: a change landing in between leaves a newer list under an
        // older number, which the next query then reloads; never the other way round.
        let generation = store.catalog_generation().await?;
        if let Some(datasets) = self.current(generation) {
            return Ok(datasets);
        }
        let datasets: Datasets = store.datasets().await?.into_iter().map(Arc::new).collect();
        if let Ok(mut cached) = self.cached.lock() {
            let newer_cached = cached.as_ref().is_some_and(|(known, _)| *known > generation);
            if !newer_cached {
                *cached = Some((generation, datasets.clone()));
            }
        }
        Ok(datasets)
    }

    /// The datasets as last read, with their generation, without asking the store whether
    /// they are still current: for a query whose statements read the generation themselves
    /// (`phare_store::VariantCount`) and which is answered again from [`Catalog::datasets`]
    /// when it moved.
    pub(crate) fn last_read(&self) -> Option<(i64, Datasets)> {
        let cached = self.cached.lock().ok()?;
        cached.clone()
    }

    fn current(&self, generation: i64) -> Option<Datasets> {
        let cached = self.cached.lock().ok()?;
        let (known, datasets) = cached.as_ref()?;
        (*known == generation).then(|| datasets.clone())
    }
}
