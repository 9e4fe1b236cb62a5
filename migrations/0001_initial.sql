-- Phare's store. Big tables (variants, analysis_variants, variant_counts) lead their keys with
-- variant_id, the distribution key should they be sharded with Citus (docs/architecture.md);
-- they carry no foreign keys to each other on the hot path.

CREATE TABLE datasets (
    id              text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
    name            text NOT NULL,
    assembly        text NOT NULL CHECK (assembly IN ('GRCh37', 'GRCh38')),
    anonymous_max   text NOT NULL CHECK (anonymous_max IN ('none', 'boolean', 'count', 'record')),
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- Care pseudonyms are unique within a dataset; research identifiers are derived elsewhere.
CREATE TABLE individuals (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dataset_id          text NOT NULL REFERENCES datasets (id),
    pseudonym           text NOT NULL,
    sex                 text NOT NULL CHECK (sex IN ('female', 'male', 'unknown')),
    country             text,
    region              text,
    indication          text,
    phenotypes          text[] NOT NULL DEFAULT '{}',
    diseases            text[] NOT NULL DEFAULT '{}',
    research_consent    boolean NOT NULL,
    UNIQUE (dataset_id, pseudonym)
);

CREATE TABLE biosamples (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dataset_id      text NOT NULL REFERENCES datasets (id),
    external_id     text NOT NULL,
    individual_id   bigint NOT NULL REFERENCES individuals (id),
    UNIQUE (dataset_id, external_id)
);

-- One ingested file. The SHA-256 makes ingestion idempotent per dataset.
CREATE TABLE analyses (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dataset_id      text NOT NULL REFERENCES datasets (id),
    file_name       text NOT NULL,
    file_sha256     bytea NOT NULL CHECK (length(file_sha256) = 32),
    file_format     text NOT NULL,
    sample_count    integer NOT NULL,
    record_count    bigint NOT NULL,
    allele_count    bigint NOT NULL,
    -- A sites-only file whose counts come from INFO (AC, AN, …) rather than genotypes. A
    -- dataset holds one kind or the other.
    aggregate       boolean NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (dataset_id, file_sha256)
);

-- The file's sample columns, in order: carrier bitmaps hold these indices.
CREATE TABLE analysis_samples (
    analysis_id     bigint NOT NULL REFERENCES analyses (id),
    sample_index    integer NOT NULL,
    sample_name     text NOT NULL,
    biosample_id    bigint REFERENCES biosamples (id),
    -- Without a manifest the samples are unlinked: the operator published the file as a whole.
    counted_in_research boolean NOT NULL,
    -- Set when a later analysis of the same biosample replaced this one in every count; the
    -- row and its carrier sets stay for audit.
    superseded_by   bigint REFERENCES analyses (id),
    PRIMARY KEY (analysis_id, sample_index)
);

-- The variant dictionary: one row per distinct normalised allele, shared by every dataset.
CREATE TABLE variants (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    contig          text NOT NULL,
    start           bigint NOT NULL CHECK (start >= 0),
    "end"           bigint NOT NULL CHECK ("end" >= start),
    reference       text NOT NULL,
    alternate       text NOT NULL,
    variant_type    text NOT NULL,
    -- "end" is part of the key only for symbolic structural alleles (two <DEL> at one position
    -- with different ends); for sequence alleles it follows from start and reference.
    UNIQUE (contig, start, "end", reference, alternate)
);

-- Longest reference span per contig: bounds the index scan of range (overlap) queries.
CREATE TABLE contig_spans (
    contig          text PRIMARY KEY,
    max_length      bigint NOT NULL
);

-- Per (variant, analysis): counts and carrier sets (portable roaring bitmaps of the file's
-- sample indices). one_called / none_called hold the samples with one / no called allele, so AN
-- of any subset S of samples is 2|S| - |one ∩ S| - 2|none ∩ S| (opposition, re-analysis, strata).
CREATE TABLE analysis_variants (
    variant_id      bigint NOT NULL,
    analysis_id     bigint NOT NULL,
    allele_count    integer NOT NULL,
    allele_number   integer NOT NULL,
    homozygous      bytea NOT NULL,
    heterozygous    bytea NOT NULL,
    hemizygous      bytea NOT NULL,
    one_called      bytea NOT NULL,
    none_called     bytea NOT NULL,
    PRIMARY KEY (variant_id, analysis_id)
);

-- Per (variant, dataset) totals, maintained at ingest: what boolean, count and range answers
-- read. The plain columns count every sample (care space); the research_ ones leave out
-- patients who objected (research and open-data answers). Per-population (stratum) counts are
-- computed at query time from the carrier sets, so they follow consent changes.
CREATE TABLE variant_counts (
    variant_id              bigint NOT NULL,
    dataset_id              text NOT NULL,
    allele_count            bigint NOT NULL,
    allele_number           bigint NOT NULL,
    homozygous              bigint NOT NULL,
    heterozygous            bigint NOT NULL,
    hemizygous              bigint NOT NULL,
    research_allele_count   bigint NOT NULL,
    research_allele_number  bigint NOT NULL,
    research_homozygous     bigint NOT NULL,
    research_heterozygous   bigint NOT NULL,
    research_hemizygous     bigint NOT NULL,
    PRIMARY KEY (variant_id, dataset_id)
);

CREATE INDEX analysis_samples_biosample ON analysis_samples (biosample_id) WHERE superseded_by IS NULL;

-- Per (variant, dataset, population) counts of aggregate (sites-only) files, as the files state
-- them: a count a file does not give is NULL (omitted from answers, never shown as 0).
CREATE TABLE aggregate_counts (
    variant_id      bigint NOT NULL,
    dataset_id      text NOT NULL,
    population      text NOT NULL,
    allele_count    bigint,
    allele_number   bigint,
    homozygous      bigint,
    heterozygous    bigint,
    hemizygous      bigint,
    PRIMARY KEY (variant_id, dataset_id, population)
);

-- What annotators (SnpEff ANN, VEP CSQ, bcftools BCSQ) say of each variant: gene symbol,
-- protein change in one-letter form (V600E) or '', molecular effect or ''. Read by gene and
-- amino-acid queries; shared by every dataset, like the variant dictionary.
CREATE TABLE variant_annotations (
    variant_id      bigint NOT NULL,
    gene            text NOT NULL,
    protein_change  text NOT NULL,
    effect          text NOT NULL,
    PRIMARY KEY (variant_id, gene, protein_change, effect)
);

CREATE INDEX variant_annotations_gene ON variant_annotations (upper(gene), protein_change);
