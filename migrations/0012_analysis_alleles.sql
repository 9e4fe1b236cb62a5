-- The alleles each compacted analysis had carrier rows for (docs/decisions/0057): a roaring
-- treemap of variant ids, written when the analysis is compacted, so that opposition and
-- supersession read only the patient's rows of a block instead of the whole block. About 2
-- bytes per call; read by nothing else.
CREATE TABLE analysis_alleles (
    analysis_id     bigint PRIMARY KEY REFERENCES analyses (id),
    variant_ids     bytea NOT NULL
);
