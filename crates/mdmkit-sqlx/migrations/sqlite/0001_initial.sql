-- mdmkit-sync's four stores. Instants are microseconds since the Unix epoch (SQLite has no time type).
-- Text compares by bytes (BINARY), as Rust strings do, so serial order matches the other stores.

CREATE TABLE mdmkit_credentials (
    workspace   TEXT PRIMARY KEY NOT NULL,
    provider    TEXT NOT NULL,
    key_id      TEXT NOT NULL,
    nonce       BLOB NOT NULL,
    ciphertext  BLOB NOT NULL,
    sealed_at   INTEGER NOT NULL
);

CREATE TABLE mdmkit_devices (
    workspace      TEXT NOT NULL,
    serial         TEXT NOT NULL,
    mdm_device_id  TEXT,
    mdm_user_id    TEXT,
    display_name   TEXT,
    checked_at     INTEGER,
    -- Lower-cased by the store (Unicode-aware, unlike SQLite's ASCII-only LIKE folding): R6 search.
    serial_search  TEXT NOT NULL,
    name_search    TEXT,
    PRIMARY KEY (workspace, serial)
);
CREATE INDEX mdmkit_devices_due ON mdmkit_devices (workspace, checked_at);

CREATE TABLE mdmkit_groups (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace     TEXT NOT NULL,
    name          TEXT NOT NULL,
    -- The MDM link: all three or none (a manual or detached group).
    provider      TEXT,
    account       TEXT,
    mdm_group_id  TEXT,
    CHECK ((provider IS NULL) = (account IS NULL) AND (provider IS NULL) = (mdm_group_id IS NULL))
);
CREATE INDEX mdmkit_groups_by_name ON mdmkit_groups (workspace, name, id);

CREATE TABLE mdmkit_group_members (
    group_id  INTEGER NOT NULL REFERENCES mdmkit_groups (id) ON DELETE CASCADE,
    serial    TEXT NOT NULL,
    PRIMARY KEY (group_id, serial)
);

CREATE TABLE mdmkit_workspace_state (
    workspace                TEXT PRIMARY KEY NOT NULL,
    plan                     TEXT NOT NULL DEFAULT 'free',
    last_refresh             INTEGER,
    mdm_device_count         INTEGER,
    last_group_sync          INTEGER,
    last_group_sync_attempt  INTEGER,
    last_manual_group_sync   INTEGER,
    group_sync_pending       BOOLEAN NOT NULL DEFAULT FALSE,
    -- The metadata is not current for the connection (it changed; no complete refresh since).
    refresh_pending          BOOLEAN NOT NULL DEFAULT FALSE
);

-- One row per workspace ever leased, kept after release so the fencing number only grows.
CREATE TABLE mdmkit_leases (
    workspace   TEXT PRIMARY KEY NOT NULL,
    holder      TEXT,
    fence       INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);
