-- Incremental-read marks per workspace (mdmkit-sync's MarkStore). Forgotten with the metadata when the
-- connection changes. Instants are microseconds since the Unix epoch, as in 0001.

CREATE TABLE mdmkit_sync_marks (
    workspace             TEXT PRIMARY KEY NOT NULL,
    -- The next incremental refresh lists the devices changed since then.
    device_watermark      INTEGER,
    -- The last complete, error-free full device listing.
    last_full_listing     INTEGER,
    -- The provider's group delta token (Graph's delta link).
    group_delta           TEXT,
    last_full_group_read  INTEGER
);
