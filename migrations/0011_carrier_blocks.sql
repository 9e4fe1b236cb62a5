-- Compaction (issue #12, docs/decisions/0055-carrier-set-compaction.md): the carrier sets of
-- many small analyses of a dataset merged into blocks, one row per allele per block.

-- Metadata, small: a Citus reference table like analyses.
CREATE TABLE carrier_blocks (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dataset_id      text NOT NULL REFERENCES datasets (id),
    column_count    integer NOT NULL CHECK (column_count > 0),
    created_at      timestamptz NOT NULL DEFAULT now(),
    -- Set when a later compaction merged this block into a bigger one: its rows are gone, its
    -- column map stays so that a query that read its rows just before can still map them.
    merged_into     bigint REFERENCES carrier_blocks (id)
);
CREATE INDEX carrier_blocks_live ON carrier_blocks (dataset_id) WHERE merged_into IS NULL;

-- The block's numbering of the sample columns of its analyses (contiguous per analysis).
CREATE TABLE block_columns (
    block_id        bigint NOT NULL REFERENCES carrier_blocks (id),
    column_index    integer NOT NULL,
    analysis_id     bigint NOT NULL REFERENCES analyses (id),
    sample_index    integer NOT NULL,
    PRIMARY KEY (block_id, column_index)
);
CREATE INDEX block_columns_analysis ON block_columns (analysis_id, sample_index);

-- Where an analysis' carrier sets are: NULL in analysis_variants, else in this block.
ALTER TABLE analyses ADD COLUMN block_id bigint REFERENCES carrier_blocks (id);

-- Per (variant, block): roaring bitmaps of block columns; NULL for an empty set. called_other
-- holds the columns whose file had a record for the allele but called neither it nor a
-- missing allele (0/0, 2/2 of another allele), so that the union of the six sets is the set of
-- columns whose file stated something about the allele (what AN counts). Leads with
-- variant_id, the distribution key; no foreign key, like analysis_variants.
CREATE TABLE block_variants (
    variant_id      bigint NOT NULL,
    block_id        bigint NOT NULL,
    homozygous      bytea,
    heterozygous    bytea,
    hemizygous      bytea,
    one_called      bytea,
    none_called     bytea,
    called_other    bytea,
    PRIMARY KEY (variant_id, block_id)
);
-- Compaction, opposition and supersession read one block in variant order.
CREATE INDEX block_variants_block ON block_variants (block_id, variant_id);

-- Opposition, supersession and compaction read one analysis' rows in variant order; without
-- this they scanned the whole primary key.
CREATE INDEX analysis_variants_analysis ON analysis_variants (analysis_id, variant_id);
