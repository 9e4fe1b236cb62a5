-- Platforms push files over HTTPS (issue #9): the operator declares each platform and the
-- datasets it may submit to; each pushed file is a submission, uploaded with tus 1.0 and
-- ingested by a background worker (docs/architecture.md, "Submissions").

CREATE TABLE platforms (
    id                      text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
    name                    text NOT NULL,
    -- Quotas; NULL takes the node's [submissions] default.
    max_upload_bytes        bigint CHECK (max_upload_bytes > 0),
    max_concurrent_uploads  integer CHECK (max_concurrent_uploads > 0),
    created_at              timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE platform_datasets (
    platform_id     text NOT NULL REFERENCES platforms (id) ON DELETE CASCADE,
    dataset_id      text NOT NULL REFERENCES datasets (id),
    PRIMARY KEY (platform_id, dataset_id)
);

CREATE TABLE submissions (
    id              text PRIMARY KEY CHECK (id ~ '^[0-9a-f]{32}$'),
    platform_id     text NOT NULL REFERENCES platforms (id),
    dataset_id      text NOT NULL REFERENCES datasets (id),
    file_name       text NOT NULL,
    -- Declared by the platform at creation, checked once the upload is complete.
    file_sha256     bytea NOT NULL CHECK (length(file_sha256) = 32),
    upload_length   bigint NOT NULL CHECK (upload_length > 0),
    upload_offset   bigint NOT NULL DEFAULT 0 CHECK (upload_offset >= 0 AND upload_offset <= upload_length),
    manifest        jsonb,
    include_filtered boolean NOT NULL DEFAULT false,
    state           text NOT NULL CHECK (state IN
                        ('receiving', 'received', 'validating', 'ingesting', 'committed', 'rejected', 'expired')),
    error           text,
    analysis_id     bigint REFERENCES analyses (id),
    -- Progress of the ingest: compressed bytes read so far, records at the end.
    bytes_read      bigint NOT NULL DEFAULT 0,
    records_read    bigint NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK ((state = 'committed') = (analysis_id IS NOT NULL)),
    CHECK ((state IN ('rejected', 'expired')) = (error IS NOT NULL))
);

-- The same file pushed twice to a dataset is one submission (until it fails: then it may be
-- pushed again).
CREATE UNIQUE INDEX submissions_one_live_copy ON submissions (dataset_id, file_sha256)
    WHERE state NOT IN ('rejected', 'expired');
-- The worker's queue.
CREATE INDEX submissions_pending ON submissions (created_at)
    WHERE state IN ('received', 'validating', 'ingesting');
CREATE INDEX submissions_by_platform ON submissions (platform_id, created_at);

-- A submission as the status endpoint and the operator see it: `superseded` is derived (every
-- sample of its analysis replaced by a re-analysis), never stored, so it cannot go stale.
CREATE VIEW submission_status AS
SELECT s.id, s.platform_id, s.dataset_id, s.file_name, s.file_sha256, s.upload_length, s.upload_offset,
       s.manifest, s.include_filtered, s.state, s.error, s.analysis_id, s.bytes_read, s.records_read,
       s.created_at AS created, s.updated_at AS updated,
       (s.analysis_id IS NOT NULL
        AND EXISTS (SELECT 1 FROM analysis_samples x WHERE x.analysis_id = s.analysis_id)
        AND NOT EXISTS (SELECT 1 FROM analysis_samples x
                        WHERE x.analysis_id = s.analysis_id AND x.superseded_by IS NULL)) AS superseded,
       to_char(s.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS created_at,
       to_char(s.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS updated_at
FROM submissions s;
