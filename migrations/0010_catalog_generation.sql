-- A change counter for what every query reads before it starts: the datasets and their policy
-- rows. Any statement that changes either bumps it in the same transaction, so a server that
-- caches them reads one row per query and reloads when the number moved: a policy change is
-- visible to the very next query, whichever process made it (docs/decisions/0041-catalog-cache.md).
CREATE TABLE catalog_generation (
    only_row    boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    generation  bigint NOT NULL
);
INSERT INTO catalog_generation (only_row, generation) VALUES (true, 0);

CREATE FUNCTION bump_catalog_generation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE catalog_generation SET generation = generation + 1;
    RETURN NULL;
END
$$;

CREATE TRIGGER datasets_bump_catalog_generation
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON datasets
    FOR EACH STATEMENT EXECUTE FUNCTION bump_catalog_generation();
CREATE TRIGGER dataset_policies_bump_catalog_generation
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON dataset_policies
    FOR EACH STATEMENT EXECUTE FUNCTION bump_catalog_generation();
