-- mdmkit-sync's four stores, in the store's own schema (first on the search_path).
-- Keys and names use the "C" collation: byte order, as Rust strings compare, so every store sorts alike.

CREATE TABLE mdmkit_credentials (
    workspace   TEXT COLLATE "C" PRIMARY KEY,
    provider    TEXT NOT NULL,
    key_id      TEXT NOT NULL,
    nonce       BYTEA NOT NULL,
    ciphertext  BYTEA NOT NULL,
    sealed_at   TIMESTAMPTZ NOT NULL
);

CREATE TABLE mdmkit_devices (
    workspace      TEXT COLLATE "C" NOT NULL,
    serial         TEXT COLLATE "C" NOT NULL,
    mdm_device_id  TEXT,
    mdm_user_id    TEXT,
    display_name   TEXT,
    checked_at     TIMESTAMPTZ,
    -- Lower-cased by the store, so every store folds case alike: R6 search.
    serial_search  TEXT NOT NULL,
    name_search    TEXT,
    PRIMARY KEY (workspace, serial)
);
CREATE INDEX mdmkit_devices_due ON mdmkit_devices (workspace, checked_at);

CREATE TABLE mdmkit_groups (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace     TEXT COLLATE "C" NOT NULL,
    name          TEXT COLLATE "C" NOT NULL,
    -- The MDM link: all three or none (a manual or detached group).
    provider      TEXT,
    account       TEXT,
    mdm_group_id  TEXT,
    CHECK ((provider IS NULL) = (account IS NULL) AND (provider IS NULL) = (mdm_group_id IS NULL))
);
CREATE INDEX mdmkit_groups_by_name ON mdmkit_groups (workspace, name, id);

CREATE TABLE mdmkit_group_members (
    group_id  BIGINT NOT NULL REFERENCES mdmkit_groups (id) ON DELETE CASCADE,
    serial    TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (group_id, serial)
);

CREATE TABLE mdmkit_workspace_state (
    workspace                TEXT COLLATE "C" PRIMARY KEY,
    plan                     TEXT NOT NULL DEFAULT 'free',
    last_refresh             TIMESTAMPTZ,
    mdm_device_count         BIGINT,
    last_group_sync          TIMESTAMPTZ,
    last_group_sync_attempt  TIMESTAMPTZ,
    last_manual_group_sync   TIMESTAMPTZ,
    group_sync_pending       BOOLEAN NOT NULL DEFAULT FALSE,
    -- The metadata is not current for the connection (it changed; no complete refresh since).
    refresh_pending          BOOLEAN NOT NULL DEFAULT FALSE
);

-- One row per workspace ever leased, kept after release so the fencing number only grows.
CREATE TABLE mdmkit_leases (
    workspace   TEXT COLLATE "C" PRIMARY KEY,
    holder      TEXT,
    fence       BIGINT NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL
);

-- Substring search (R6) through trigram indexes, where pg_trgm can be had: in public if this role may
-- create it there, else in this schema. Without it search still works, by scanning a workspace's rows.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
        BEGIN
            CREATE EXTENSION pg_trgm WITH SCHEMA public;
        EXCEPTION WHEN OTHERS THEN
            BEGIN
                CREATE EXTENSION pg_trgm;
            EXCEPTION WHEN OTHERS THEN
                RAISE NOTICE 'mdmkit: pg_trgm is not available (%); device search will scan', SQLERRM;
            END;
        END;
    END IF;
END
$$;

DO $$
DECLARE
    ops TEXT;
BEGIN
    SELECT format('%I.gin_trgm_ops', n.nspname) INTO ops
    FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
    WHERE e.extname = 'pg_trgm';
    IF ops IS NOT NULL THEN
        EXECUTE format('CREATE INDEX mdmkit_devices_serial_trgm ON mdmkit_devices USING gin (serial_search %s)', ops);
        EXECUTE format('CREATE INDEX mdmkit_devices_name_trgm ON mdmkit_devices USING gin (name_search %s)', ops);
    END IF;
END
$$;
