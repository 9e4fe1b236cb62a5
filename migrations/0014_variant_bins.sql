-- Range counts without reading every allele of the window (docs/decisions/0049): per dataset
-- and 1,000-base bin of start positions, how many alleles are counted (AC > 0) in each scope.
-- A range count reads the bins wholly inside its window and counts only the alleles at its two
-- edges one by one, so its cost does not grow with the alleles a dataset accumulates.
CREATE TABLE variant_bins (
    dataset_id          text NOT NULL,
    contig              text NOT NULL,
    -- variants.start / 1000
    bin                 bigint NOT NULL,
    -- Alleles with allele_count > 0 (care scope) and research_allele_count > 0 (research).
    alleles             bigint NOT NULL,
    research_alleles    bigint NOT NULL,
    PRIMARY KEY (dataset_id, contig, bin)
);

-- The bins follow variant_counts whatever statement changes it (ingest, opposition, consent,
-- supersession): statement triggers add the counted flags of the new rows and take away those
-- of the old ones, so only alleles whose flags flipped touch a bin.
CREATE FUNCTION variant_bins_follow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO variant_bins (dataset_id, contig, bin, alleles, research_alleles)
        SELECT n.dataset_id, v.contig, v.start / 1000,
               count(*) FILTER (WHERE n.allele_count > 0),
               count(*) FILTER (WHERE n.research_allele_count > 0)
        FROM new_counts n JOIN variants v ON v.id = n.variant_id
        WHERE n.allele_count > 0 OR n.research_allele_count > 0
        GROUP BY n.dataset_id, v.contig, v.start / 1000
        ON CONFLICT (dataset_id, contig, bin) DO UPDATE SET
            alleles = variant_bins.alleles + excluded.alleles,
            research_alleles = variant_bins.research_alleles + excluded.research_alleles;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO variant_bins (dataset_id, contig, bin, alleles, research_alleles)
        SELECT d.dataset_id, v.contig, v.start / 1000, sum(d.alleles), sum(d.research_alleles)
        FROM (
            SELECT coalesce(n.variant_id, o.variant_id) AS variant_id,
                   coalesce(n.dataset_id, o.dataset_id) AS dataset_id,
                   coalesce((n.allele_count > 0)::integer, 0) - coalesce((o.allele_count > 0)::integer, 0) AS alleles,
                   coalesce((n.research_allele_count > 0)::integer, 0)
                       - coalesce((o.research_allele_count > 0)::integer, 0) AS research_alleles
            FROM new_counts n
            FULL JOIN old_counts o ON o.variant_id = n.variant_id AND o.dataset_id = n.dataset_id
        ) d
        JOIN variants v ON v.id = d.variant_id
        WHERE d.alleles <> 0 OR d.research_alleles <> 0
        GROUP BY d.dataset_id, v.contig, v.start / 1000
        ON CONFLICT (dataset_id, contig, bin) DO UPDATE SET
            alleles = variant_bins.alleles + excluded.alleles,
            research_alleles = variant_bins.research_alleles + excluded.research_alleles;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO variant_bins (dataset_id, contig, bin, alleles, research_alleles)
        SELECT o.dataset_id, v.contig, v.start / 1000,
               -count(*) FILTER (WHERE o.allele_count > 0),
               -count(*) FILTER (WHERE o.research_allele_count > 0)
        FROM old_counts o JOIN variants v ON v.id = o.variant_id
        WHERE o.allele_count > 0 OR o.research_allele_count > 0
        GROUP BY o.dataset_id, v.contig, v.start / 1000
        ON CONFLICT (dataset_id, contig, bin) DO UPDATE SET
            alleles = variant_bins.alleles + excluded.alleles,
            research_alleles = variant_bins.research_alleles + excluded.research_alleles;
    ELSE
        DELETE FROM variant_bins;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER variant_counts_bins_insert AFTER INSERT ON variant_counts
    REFERENCING NEW TABLE AS new_counts
    FOR EACH STATEMENT EXECUTE FUNCTION variant_bins_follow();
CREATE TRIGGER variant_counts_bins_update AFTER UPDATE ON variant_counts
    REFERENCING OLD TABLE AS old_counts NEW TABLE AS new_counts
    FOR EACH STATEMENT EXECUTE FUNCTION variant_bins_follow();
CREATE TRIGGER variant_counts_bins_delete AFTER DELETE ON variant_counts
    REFERENCING OLD TABLE AS old_counts
    FOR EACH STATEMENT EXECUTE FUNCTION variant_bins_follow();
CREATE TRIGGER variant_counts_bins_truncate AFTER TRUNCATE ON variant_counts
    FOR EACH STATEMENT EXECUTE FUNCTION variant_bins_follow();

INSERT INTO variant_bins (dataset_id, contig, bin, alleles, research_alleles)
SELECT c.dataset_id, v.contig, v.start / 1000,
       count(*) FILTER (WHERE c.allele_count > 0),
       count(*) FILTER (WHERE c.research_allele_count > 0)
FROM variant_counts c JOIN variants v ON v.id = c.variant_id
WHERE c.allele_count > 0 OR c.research_allele_count > 0
GROUP BY c.dataset_id, v.contig, v.start / 1000;
