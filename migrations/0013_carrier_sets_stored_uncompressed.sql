-- analysis_variants' carrier sets are sorted sample indices, which pglz does not shrink (not one
-- of the coalescent cohort's 94,140 heterozygous sets was stored compressed, issue #16), yet
-- every row over 2 kB paid for the attempt: they are stored out of line as they are. Rows
-- written before keep their storage.
ALTER TABLE analysis_variants
    ALTER COLUMN homozygous SET STORAGE EXTERNAL,
    ALTER COLUMN heterozygous SET STORAGE EXTERNAL,
    ALTER COLUMN hemizygous SET STORAGE EXTERNAL,
    ALTER COLUMN one_called SET STORAGE EXTERNAL,
    ALTER COLUMN none_called SET STORAGE EXTERNAL;
