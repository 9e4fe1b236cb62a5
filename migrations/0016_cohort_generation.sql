-- A change counter for what query answers derive from the samples of the analyses already stored:
-- a sample's population labels and research consent (individuals), its patient (biosamples), its
-- supersession and research flag (analysis_samples). A server caches those derived sets and
-- reloads them when the number moved, so an opposition or a re-analysis is visible to the very
-- next query, whichever process made it (docs/decisions/0058-sample-labels-cached.md).
--
-- New rows do not move it: a new analysis or block is a new cache key. Changes move it once per
-- transaction and only when the transaction commits (deferred triggers), so the row is locked
-- for the commit only and long ingests of different datasets do not wait on each other.
CREATE TABLE cohort_generation (
    only_row    boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    generation  bigint NOT NULL
);
INSERT INTO cohort_generation (only_row, generation) VALUES (true, 0);

CREATE FUNCTION bump_cohort_generation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- A transaction-local flag: one bump however many rows the transaction changed.
    IF current_setting('phare.cohort_generation_bumped', true) IS DISTINCT FROM 'yes' THEN
        UPDATE cohort_generation SET generation = generation + 1;
        PERFORM set_config('phare.cohort_generation_bumped', 'yes', true);
    END IF;
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER individuals_update_bumps_cohort_generation
    AFTER UPDATE ON individuals DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION bump_cohort_generation();
CREATE CONSTRAINT TRIGGER individuals_delete_bumps_cohort_generation
    AFTER DELETE ON individuals DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION bump_cohort_generation();
CREATE CONSTRAINT TRIGGER biosamples_update_bumps_cohort_generation
    AFTER UPDATE ON biosamples DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION bump_cohort_generation();
CREATE CONSTRAINT TRIGGER biosamples_delete_bumps_cohort_generation
    AFTER DELETE ON biosamples DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION bump_cohort_generation();
CREATE CONSTRAINT TRIGGER analysis_samples_update_bumps_cohort_generation
    AFTER UPDATE ON analysis_samples DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION bump_cohort_generation();
CREATE CONSTRAINT TRIGGER analysis_samples_delete_bumps_cohort_generation
    AFTER DELETE ON analysis_samples DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION bump_cohort_generation();

CREATE FUNCTION bump_cohort_generation_on_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE cohort_generation SET generation = generation + 1;
    RETURN NULL;
END
$$;
CREATE TRIGGER individuals_truncate_bumps_cohort_generation
    AFTER TRUNCATE ON individuals FOR EACH STATEMENT EXECUTE FUNCTION bump_cohort_generation_on_truncate();
CREATE TRIGGER biosamples_truncate_bumps_cohort_generation
    AFTER TRUNCATE ON biosamples FOR EACH STATEMENT EXECUTE FUNCTION bump_cohort_generation_on_truncate();
CREATE TRIGGER analysis_samples_truncate_bumps_cohort_generation
    AFTER TRUNCATE ON analysis_samples FOR EACH STATEMENT EXECUTE FUNCTION bump_cohort_generation_on_truncate();
