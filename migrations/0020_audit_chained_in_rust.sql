-- Audit rows are chained by the appending process again (docs/decisions/0064): one INSERT per
-- batch, its ids following the head it read or remembers, the primary key refusing a batch
-- whose first id another writer took. The procedure of 0019 and its helper go.
DROP PROCEDURE audit_append(text[], text[], text[], text[], text[], text[], smallint[], text[]);
DROP FUNCTION audit_field(bytea);
