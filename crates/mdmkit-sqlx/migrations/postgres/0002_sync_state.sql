-- Incremental-read marks per workspace (mdmkit-sync's MarkStore). Forgotten with the metadata when the
-- connection changes.

CREATE TABLE mdmkit_sync_marks (
    workspace             TEXT COLLATE "C" PRIMARY KEY,
    -- The next incremental refresh lists the devices changed since then.
    device_watermark      TIMESTAMPTZ,
    -- The last complete, error-free full device listing.
    last_full_listing     TIMESTAMPTZ,
    -- The provider's group delta token (Graph's delta link).
    group_delta           TEXT,
    last_full_group_read  TIMESTAMPTZ
);
