-- Cohorts (issue #4): operator-defined groups of individuals. A cohort is a named list of terms
-- matched like the /individuals filters (every term must be among a patient's phenotypes,
-- diseases, indication or sex), so its members follow the manifests and consent as they change
-- and nothing per patient is stored. A cohort names one dataset, or none for every dataset.
CREATE TABLE cohorts (
    id          text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
    name        text NOT NULL,
    dataset_id  text REFERENCES datasets (id),
    terms       text[] NOT NULL CHECK (cardinality(terms) > 0),
    created_at  timestamptz NOT NULL DEFAULT now()
);
