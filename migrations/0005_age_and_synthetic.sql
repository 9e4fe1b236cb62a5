-- Issue #4: alphanumeric age filters and testMode.

-- The patient's age as the manifest gives it (ISO 8601 duration, `P40Y6M`), and in days for
-- comparisons (1 Y = 365.25 d, 1 M = 30.4375 d, as phare-ontology reads durations).
ALTER TABLE individuals ADD COLUMN age text;
ALTER TABLE individuals ADD COLUMN age_days double precision;

-- A dataset of synthetic data (phare demo, test panels): `testMode=true` answers from these
-- only, so conformance tools never read patients.
ALTER TABLE datasets ADD COLUMN synthetic boolean NOT NULL DEFAULT false;
