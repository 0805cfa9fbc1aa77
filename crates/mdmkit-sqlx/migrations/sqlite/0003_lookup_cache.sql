-- mdmkit-sync's lookup caches: answers of per-object follow-up reads (Fleet user names, JumpCloud
-- system-to-user bindings), so a daily refresh reads only what it has not seen lately. Cleared with a
-- workspace's metadata (new credentials, disconnect).

CREATE TABLE mdmkit_lookup_cache (
    workspace   TEXT NOT NULL,
    -- 'user_name' (key: MDM user id) or 'device_user' (key: MDM device id).
    kind        TEXT NOT NULL,
    lookup_key  TEXT NOT NULL,
    user_id     TEXT,
    user_name   TEXT,
    fetched_at  INTEGER NOT NULL,
    PRIMARY KEY (workspace, kind, lookup_key)
);
