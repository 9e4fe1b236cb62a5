-- A batch of audit rows appended by one statement (docs/decisions/0063): the lock, the chain's
-- head, ids, times, hashes and rows in a single round trip, committed by the procedure itself
-- before it returns. `phare audit verify` recomputes every hash in Rust from the stored columns,
-- so this encoding is checked against Phare's own on every verification.

-- A hashed field: its length as a big-endian 64-bit integer, then its bytes (audit.rs
-- `ChainFields::hash`).
CREATE FUNCTION audit_field(value bytea) RETURNS bytea
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN int8send(length(value)::bigint) || value;

-- A procedure, so that it can end with its own COMMIT: called inside a transaction block (a
-- connection some cancelled caller left in one), that COMMIT is refused and the append fails,
-- instead of reporting rows that the open transaction would never commit. (No SET clause: it
-- would forbid the COMMIT.)
CREATE PROCEDURE audit_append(
    subjects text[], tiers text[], actions text[], resources text[], decisions text[],
    reasons text[], statuses smallint[], request_ids text[]
)
    LANGUAGE plpgsql
AS $$
DECLARE
    previous bytea;
    next_id bigint;
    next_at timestamptz;
    next_hash bytea;
BEGIN
    -- Serialises appends until commit; 1885435236 is 'paud' as a big-endian 32-bit integer. The
    -- two-key space does not overlap the single-key locks taken elsewhere. Each statement below
    -- reads a snapshot taken after the lock is held, so the last row it sees is the head.
    PERFORM pg_advisory_xact_lock(1885435236, 0);
    SELECT row_hash INTO previous FROM audit_log ORDER BY id DESC LIMIT 1;
    previous := coalesce(previous, decode(repeat('00', 32), 'hex'));
    FOR i IN 1 .. coalesce(cardinality(subjects), 0) LOOP
        next_id := nextval(pg_get_serial_sequence('audit_log', 'id'));
        next_at := clock_timestamp();
        next_hash := sha256(
            audit_field(convert_to('phare.audit_log.v1', 'UTF8'))
            || audit_field(int8send(next_id))
            || audit_field(int8send((extract(epoch FROM next_at) * 1000000)::bigint))
            || audit_field(convert_to(subjects[i], 'UTF8'))
            || audit_field(convert_to(tiers[i], 'UTF8'))
            || audit_field(convert_to(actions[i], 'UTF8'))
            || audit_field(convert_to(resources[i], 'UTF8'))
            || audit_field(convert_to(decisions[i], 'UTF8'))
            || audit_field(convert_to(reasons[i], 'UTF8'))
            || audit_field(int2send(statuses[i]))
            || audit_field(convert_to(request_ids[i], 'UTF8'))
            || audit_field(previous));
        INSERT INTO audit_log (id, at, subject, tier, action, resource, decision, reason, status,
                               request_id, previous_hash, row_hash)
        OVERRIDING SYSTEM VALUE
        VALUES (next_id, next_at, subjects[i], tiers[i], actions[i], resources[i], decisions[i],
                reasons[i], statuses[i], request_ids[i], previous, next_hash);
        previous := next_hash;
    END LOOP;
    -- Durable before the call returns; the lock is released with it.
    COMMIT;
END
$$;
