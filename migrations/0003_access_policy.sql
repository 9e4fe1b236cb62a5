-- Access policy (issue #5): who may see how much of each dataset, and the facts the policy
-- needs about patients and datasets.

-- The care centre that follows the patient: clinicians see record-level answers only for the
-- patients of their own centre. NULL when the manifest did not say (then no clinician sees the
-- patient at record level).
ALTER TABLE individuals ADD COLUMN care_centre text;

-- Non-zero counts below this threshold never leave the node in research or open answers
-- (0 only for data consented for open release, such as a public reference panel).
ALTER TABLE datasets ADD COLUMN min_count integer NOT NULL DEFAULT 5 CHECK (min_count >= 0);

-- DUO data-use conditions: {"permission": "DUO:0000042", "disease": null, "modifiers": [...]}.
ALTER TABLE datasets ADD COLUMN data_use jsonb;

-- The highest granularity per (dataset, tier, entry type), with the switches for id look-ups
-- and unfiltered queries. entry_type '*' applies to every entry type without a row of its own;
-- without any row the built-in defaults hold (docs/security.md).
CREATE TABLE dataset_policies (
    dataset_id          text NOT NULL REFERENCES datasets (id),
    tier                text NOT NULL CHECK (tier IN ('public', 'registered', 'controlled', 'care')),
    entry_type          text NOT NULL CHECK (entry_type IN ('*', 'genomicVariation', 'individual',
                            'biosample', 'run', 'analysis', 'dataset', 'cohort')),
    max_granularity     text NOT NULL CHECK (max_granularity IN ('none', 'boolean', 'count', 'record')),
    id_lookups          boolean NOT NULL DEFAULT true,
    unfiltered_queries  boolean NOT NULL DEFAULT true,
    PRIMARY KEY (dataset_id, tier, entry_type)
);
