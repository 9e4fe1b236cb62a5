-- A patient's biosamples, found by index: filtered variant queries join patients to their sample
-- columns (crates/phare-store/src/entities.rs, `individual_columns`), and the generic plan of
-- that statement walks from each patient to its biosamples and on to `analysis_samples`' own
-- biosample index. Without this index each patient read the whole table.
CREATE INDEX biosamples_individual ON biosamples (individual_id);
