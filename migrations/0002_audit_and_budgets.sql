-- The audit log (issue #5) and the query budgets. See docs/decisions/0021-audit-chain.md.

-- One row per request that touches data, allowed or denied, and per administrative action.
-- Rows form a hash chain: row_hash is SHA-256 over the row's fields and previous_hash, which is
-- the row_hash of the row before (32 zero bytes for the first). The store computes both
-- (crates/phare-store/src/audit.rs) and appends under one advisory lock, so the chain is linear.
-- `resource` never holds a token or a raw variant: callers HMAC variant coordinates first.
CREATE TABLE audit_log (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at              timestamptz NOT NULL DEFAULT clock_timestamp(),
    subject         text NOT NULL,
    tier            text NOT NULL,
    action          text NOT NULL,
    resource        text NOT NULL,
    decision        text NOT NULL CHECK (decision IN ('allow', 'deny')),
    reason          text NOT NULL,
    status          smallint NOT NULL CHECK (status >= 0),
    request_id      text NOT NULL,
    previous_hash   bytea NOT NULL CHECK (octet_length(previous_hash) = 32),
    row_hash        bytea NOT NULL CHECK (octet_length(row_hash) = 32)
);

-- Append-only, whoever asks: the triggers fire for the owner and for superusers too (a
-- superuser can still disable them; the hash chain is what reveals such edits).
CREATE FUNCTION audit_log_append_only() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog
AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER audit_log_no_update_or_delete
    BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();

CREATE TRIGGER audit_log_no_truncate
    BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM PUBLIC;

-- When the migrating role may create roles, a NOLOGIN role owns the table, its sequence and the
-- trigger function, and the migrating (application) role keeps only SELECT and INSERT: a
-- non-superuser application role then cannot drop or disable the triggers, nor replace the
-- function with one that lets changes through. A role that keeps CREATEROLE could still grant
-- itself the owner role back; the guard holds against an application role without it.
DO $$
DECLARE
    may_create_roles boolean;
    is_superuser boolean;
    audit_schema text;
BEGIN
    SELECT rolsuper OR rolcreaterole, rolsuper INTO may_create_roles, is_superuser
    FROM pg_roles WHERE rolname = current_user;
    IF NOT may_create_roles THEN
        RETURN;
    END IF;
    -- Roles are cluster-wide: another database of the same cluster may be migrating at the
    -- same moment and create it first.
    BEGIN
        CREATE ROLE phare_audit_owner NOLOGIN;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
        NULL;
    END;
    SELECT n.nspname INTO audit_schema
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.oid = 'audit_log'::regclass;
    BEGIN
        -- A non-superuser may only give objects to a role it belongs to and that may create
        -- in the schema. It takes both for the transfer only, so it keeps no way back.
        IF NOT is_superuser THEN
            GRANT phare_audit_owner TO CURRENT_USER;
            EXECUTE format('GRANT CREATE ON SCHEMA %I TO phare_audit_owner', audit_schema);
        END IF;
        -- The identity sequence follows its table.
        ALTER TABLE audit_log OWNER TO phare_audit_owner;
        ALTER FUNCTION audit_log_append_only() OWNER TO phare_audit_owner;
        -- Granted by the new owner, hence after the transfer and before leaving the role.
        GRANT SELECT, INSERT ON audit_log TO CURRENT_USER;
        GRANT USAGE ON SEQUENCE audit_log_id_seq TO CURRENT_USER;
        IF NOT is_superuser THEN
            EXECUTE format('REVOKE CREATE ON SCHEMA %I FROM phare_audit_owner', audit_schema);
            REVOKE phare_audit_owner FROM CURRENT_USER;
        END IF;
    EXCEPTION WHEN insufficient_privilege THEN
        -- Without the rights to hand the table over (for instance not owning the schema), the
        -- node still starts: the triggers and the hash chain stay in place.
        RAISE WARNING 'audit_log stays owned by %: %', current_user, SQLERRM;
    END;
END
$$;

-- One row per unit of query budget consumed. Rows older than the window are deleted as keys
-- are touched (crates/phare-store/src/budgets.rs).
CREATE TABLE query_budget_events (
    budget_key      text NOT NULL,
    at              timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE INDEX query_budget_events_key_at ON query_budget_events (budget_key, at);
