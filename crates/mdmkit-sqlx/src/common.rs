//! What both stores share: the SQL (written once, with `$n` placeholders that both drivers bind by
//! number), the row types, their conversion to `mdmkit-sync` records, and the store implementation itself,
//! generated for each database by [`sql_store!`]. Only what really differs lives in the dialect modules:
//! the column type of instants ([`DbTime`]), the store's clock in SQL, and how a fenced write transaction
//! starts.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use mdmkit_core::{ProviderKind, SerialNumber};
use mdmkit_sync::{
    DeviceRecord, Fence, GroupId, GroupRecord, Lease, MdmMetadata, Plan, ProviderLink,
    SealedCredentials, StoreError, WorkspaceState,
};

/// An instant as a column: `TIMESTAMPTZ` in PostgreSQL, microseconds since the Unix epoch (`INTEGER`) in
/// SQLite, which has no time type. Both keep microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DbTime(pub(crate) DateTime<Utc>);

/// Rows per multi-row `INSERT`/`UPDATE`: 1000 devices of five values stay far below both drivers' bind
/// limits (SQLite 32,766, PostgreSQL 65,535) and write 10,000 devices in ten statements.
pub(crate) const ROWS_PER_STATEMENT: usize = 1000;

/// `query` as a `LIKE` pattern matching it anywhere: lower-cased as the search columns are, with `%`, `_`
/// and `\` taken literally.
pub(crate) fn contains_pattern(query: &str) -> String {
    let mut pattern = String::from("%");
    for c in query.trim().to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// The lower-cased text the search columns hold (case-insensitive search, R6, non-ASCII included).
pub(crate) fn search_key(text: &str) -> String {
    text.to_lowercase()
}

pub(crate) fn backend(what: &str, e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::new(format!("{what} failed")).with_source(e)
}

pub(crate) fn corrupt(what: impl Into<String>) -> StoreError {
    StoreError::new(format!("stored data is not valid: {}", what.into()))
}

pub(crate) fn fence_value(fence: Fence) -> i64 {
    i64::try_from(fence.get()).unwrap_or(i64::MAX)
}

pub(crate) fn micros(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

pub(crate) fn limit_value(limit: usize) -> i64 {
    // One row more than asked for says whether another page follows.
    i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX)
}

pub(crate) fn plan_text(plan: Plan) -> String {
    match serde_json::to_value(plan) {
        Ok(serde_json::Value::String(s)) => s,
        _ => "free".to_owned(),
    }
}

fn parse_plan(text: &str) -> Result<Plan, StoreError> {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .map_err(|_| corrupt(format!("unknown plan {text:?}")))
}

fn parse_provider(text: &str) -> Result<ProviderKind, StoreError> {
    text.parse()
        .map_err(|_| corrupt(format!("unknown provider {text:?}")))
}

fn parse_serial(text: &str) -> Result<SerialNumber, StoreError> {
    SerialNumber::parse(text).map_err(|_| corrupt(format!("serial number {text:?}")))
}

fn fence_of(value: i64) -> Fence {
    Fence::new(u64::try_from(value).unwrap_or(0))
}

#[derive(sqlx::FromRow)]
pub(crate) struct CredentialsRow {
    provider: String,
    key_id: String,
    nonce: Vec<u8>,
    ciphertext: Vec<u8>,
    sealed_at: DbTime,
}

impl CredentialsRow {
    pub(crate) fn into_record(self) -> Result<SealedCredentials, StoreError> {
        Ok(SealedCredentials {
            provider: parse_provider(&self.provider)?,
            key_id: self.key_id,
            nonce: self.nonce,
            ciphertext: self.ciphertext,
            sealed_at: self.sealed_at.0,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct DeviceRow {
    serial: String,
    mdm_device_id: Option<String>,
    mdm_user_id: Option<String>,
    display_name: Option<String>,
    checked_at: Option<DbTime>,
}

impl DeviceRow {
    pub(crate) fn into_record(self) -> Result<DeviceRecord, StoreError> {
        Ok(DeviceRecord {
            serial_number: parse_serial(&self.serial)?,
            metadata: self.mdm_device_id.map(|device_id| MdmMetadata {
                device_id,
                user_id: self.mdm_user_id,
                display_name: self.display_name,
            }),
            checked_at: self.checked_at.map(|t| t.0),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct GroupRow {
    id: i64,
    name: String,
    provider: Option<String>,
    account: Option<String>,
    mdm_group_id: Option<String>,
}

#[derive(sqlx::FromRow)]
pub(crate) struct MemberRow {
    group_id: i64,
    serial: String,
}

/// Groups from their rows and their member rows.
pub(crate) fn groups_from(
    rows: Vec<GroupRow>,
    members: Vec<MemberRow>,
) -> Result<Vec<GroupRecord>, StoreError> {
    let mut by_group: BTreeMap<i64, BTreeSet<SerialNumber>> = BTreeMap::new();
    for m in members {
        by_group
            .entry(m.group_id)
            .or_default()
            .insert(parse_serial(&m.serial)?);
    }
    rows.into_iter()
        .map(|row| {
            let link = match (row.provider, row.account, row.mdm_group_id) {
                (Some(provider), Some(account), Some(mdm_group_id)) => Some(ProviderLink {
                    provider: parse_provider(&provider)?,
                    account,
                    mdm_group_id,
                }),
                _ => None,
            };
            Ok(GroupRecord {
                id: GroupId::new(row.id.to_string()),
                name: row.name,
                link,
                members: by_group.remove(&row.id).unwrap_or_default(),
            })
        })
        .collect()
}

/// The database id of a group id this store handed out; `None` for any other text.
pub(crate) fn group_key(id: &GroupId) -> Option<i64> {
    let text = id.as_str();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[derive(sqlx::FromRow)]
pub(crate) struct StateRow {
    plan: String,
    last_refresh: Option<DbTime>,
    mdm_device_count: Option<i64>,
    last_group_sync: Option<DbTime>,
    last_group_sync_attempt: Option<DbTime>,
    last_manual_group_sync: Option<DbTime>,
    group_sync_pending: bool,
    refresh_pending: bool,
}

impl StateRow {
    pub(crate) fn into_state(self, lease: Option<Lease>) -> Result<WorkspaceState, StoreError> {
        Ok(WorkspaceState {
            plan: parse_plan(&self.plan)?,
            last_refresh: self.last_refresh.map(|t| t.0),
            mdm_device_count: self.mdm_device_count.and_then(|n| u64::try_from(n).ok()),
            last_group_sync: self.last_group_sync.map(|t| t.0),
            last_group_sync_attempt: self.last_group_sync_attempt.map(|t| t.0),
            last_manual_group_sync: self.last_manual_group_sync.map(|t| t.0),
            group_sync_pending: self.group_sync_pending,
            refresh_pending: self.refresh_pending,
            lease,
        })
    }
}

/// A row of `mdmkit_sync_marks`.
#[derive(sqlx::FromRow)]
pub(crate) struct MarksRow {
    device_watermark: Option<DbTime>,
    last_full_listing: Option<DbTime>,
    group_delta: Option<String>,
    last_full_group_read: Option<DbTime>,
}

impl MarksRow {
    pub(crate) fn into_marks(self) -> mdmkit_sync::SyncMarks {
        mdmkit_sync::SyncMarks {
            device_watermark: self.device_watermark.map(|t| t.0),
            last_full_listing: self.last_full_listing.map(|t| t.0),
            group_delta: self.group_delta,
            last_full_group_read: self.last_full_group_read.map(|t| t.0),
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct LeaseRow {
    holder: String,
    fence: i64,
    expires_at: DbTime,
}

impl LeaseRow {
    pub(crate) fn into_lease(self) -> Lease {
        Lease {
            owner: self.holder,
            fence: fence_of(self.fence),
            expires_at: self.expires_at.0,
        }
    }
}

/// The lease statements with a dialect's clock: `now` is its current instant in SQL, `plus(param)` that
/// instant plus the microseconds bound to `param`.
pub(crate) struct LeaseSql {
    pub(crate) acquire: String,
    pub(crate) renew: String,
    pub(crate) release: String,
}

impl LeaseSql {
    pub(crate) fn new(now: &str, plus: fn(&str) -> String) -> LeaseSql {
        let with_clock = |statement: &str| {
            statement
                .replace("{now+$3}", &plus("$3"))
                .replace("{now+$4}", &plus("$4"))
                .replace("{now}", now)
        };
        LeaseSql {
            acquire: with_clock(sql::ACQUIRE_LEASE),
            renew: with_clock(sql::RENEW_LEASE),
            release: with_clock(sql::RELEASE_LEASE),
        }
    }
}

/// The SQL both databases run as is. `$n` placeholders are bound by number in both drivers.
pub(crate) mod sql {
    use std::sync::LazyLock;

    pub(crate) const LOAD_CREDENTIALS: &str =
        "SELECT provider, key_id, nonce, ciphertext, sealed_at \
         FROM mdmkit_credentials WHERE workspace = $1";
    pub(crate) const CONNECTED_WORKSPACES: &str =
        "SELECT workspace FROM mdmkit_credentials ORDER BY workspace";
    pub(crate) const SAVE_CREDENTIALS: &str = "INSERT INTO mdmkit_credentials \
         (workspace, provider, key_id, nonce, ciphertext, sealed_at) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (workspace) DO UPDATE SET provider = excluded.provider, key_id = excluded.key_id, \
         nonce = excluded.nonce, ciphertext = excluded.ciphertext, sealed_at = excluded.sealed_at";
    pub(crate) const DELETE_CREDENTIALS: &str =
        "DELETE FROM mdmkit_credentials WHERE workspace = $1";
    pub(crate) const CLEAR_METADATA: &str = "UPDATE mdmkit_devices SET mdm_device_id = NULL, \
         mdm_user_id = NULL, display_name = NULL, name_search = NULL, checked_at = NULL \
         WHERE workspace = $1";
    pub(crate) const DETACH_GROUPS: &str = "UPDATE mdmkit_groups SET provider = NULL, \
         account = NULL, mdm_group_id = NULL WHERE workspace = $1 AND provider IS NOT NULL";
    pub(crate) const SET_PENDING: &str = "INSERT INTO mdmkit_workspace_state \
         (workspace, group_sync_pending) VALUES ($1, $2) \
         ON CONFLICT (workspace) DO UPDATE SET group_sync_pending = excluded.group_sync_pending";
    pub(crate) const CLEAR_PENDING: &str = "UPDATE mdmkit_workspace_state \
         SET group_sync_pending = FALSE, refresh_pending = FALSE WHERE workspace = $1";
    /// Marking the metadata not current also forgets the device count of the previous MDM.
    pub(crate) const SET_REFRESH_PENDING: &str = "INSERT INTO mdmkit_workspace_state \
         (workspace, refresh_pending) VALUES ($1, $2) \
         ON CONFLICT (workspace) DO UPDATE SET refresh_pending = excluded.refresh_pending, \
         mdm_device_count = CASE WHEN excluded.refresh_pending THEN NULL \
         ELSE mdmkit_workspace_state.mdm_device_count END";

    const DEVICE_COLUMNS: &str = "serial, mdm_device_id, mdm_user_id, display_name, checked_at";
    pub(crate) static DEVICE: LazyLock<String> = LazyLock::new(|| {
        format!("SELECT {DEVICE_COLUMNS} FROM mdmkit_devices WHERE workspace = $1 AND serial = $2")
    });
    /// `$2`: the serial to start after (`''` for the first page), `$3`: the limit.
    pub(crate) static DEVICES_PAGE: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT {DEVICE_COLUMNS} FROM mdmkit_devices WHERE workspace = $1 AND serial > $2 \
             ORDER BY serial LIMIT $3"
        )
    });
    /// `$4`: the due cutoff.
    pub(crate) static DUE_PAGE: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT {DEVICE_COLUMNS} FROM mdmkit_devices WHERE workspace = $1 AND serial > $2 \
             AND (checked_at IS NULL OR checked_at <= $4) ORDER BY serial LIMIT $3"
        )
    });
    /// `$4`: the `LIKE` pattern, already lower-cased and escaped with `\`.
    pub(crate) static SEARCH_PAGE: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT {DEVICE_COLUMNS} FROM mdmkit_devices WHERE workspace = $1 AND serial > $2 \
             AND (serial_search LIKE $4 ESCAPE '\\' OR name_search LIKE $4 ESCAPE '\\') \
             ORDER BY serial LIMIT $3"
        )
    });
    pub(crate) const DEVICE_COUNT: &str =
        "SELECT COUNT(*) FROM mdmkit_devices WHERE workspace = $1";
    pub(crate) const COUNT_DUE: &str = "SELECT COUNT(*) FROM mdmkit_devices \
         WHERE workspace = $1 AND (checked_at IS NULL OR checked_at <= $2)";
    pub(crate) const ANY_DUE: &str = "SELECT EXISTS (SELECT 1 FROM mdmkit_devices \
         WHERE workspace = $1 AND (checked_at IS NULL OR checked_at <= $2))";
    pub(crate) const REMOVE_DEVICE: &str =
        "DELETE FROM mdmkit_devices WHERE workspace = $1 AND serial = $2";
    /// Completed by a multi-row `VALUES` list of (workspace, serial, serial_search).
    pub(crate) const ADD_DEVICES: &str =
        "INSERT INTO mdmkit_devices (workspace, serial, serial_search) ";
    pub(crate) const ADD_DEVICES_END: &str = " ON CONFLICT (workspace, serial) DO NOTHING";
    /// Completed by a multi-row `VALUES` list of the checks, then [`RECORD_CHECKS_END`] with the workspace.
    pub(crate) const RECORD_CHECKS: &str =
        "WITH v (serial, mdm_device_id, mdm_user_id, display_name, name_search, checked_at) AS (";
    pub(crate) const RECORD_CHECKS_END: &str = ") UPDATE mdmkit_devices SET \
         mdm_device_id = v.mdm_device_id, mdm_user_id = v.mdm_user_id, \
         display_name = v.display_name, name_search = v.name_search, checked_at = v.checked_at \
         FROM v WHERE mdmkit_devices.serial = v.serial AND mdmkit_devices.workspace = ";

    pub(crate) const GROUPS: &str = "SELECT id, name, provider, account, mdm_group_id \
         FROM mdmkit_groups WHERE workspace = $1 ORDER BY name, id";
    pub(crate) const GROUP_MEMBERS: &str =
        "SELECT m.group_id, m.serial FROM mdmkit_group_members m \
         JOIN mdmkit_groups g ON g.id = m.group_id WHERE g.workspace = $1";
    pub(crate) const GROUP: &str = "SELECT id, name, provider, account, mdm_group_id \
         FROM mdmkit_groups WHERE workspace = $1 AND id = $2";
    pub(crate) const MEMBERS_OF: &str =
        "SELECT group_id, serial FROM mdmkit_group_members WHERE group_id = $1";
    pub(crate) const CREATE_GROUP: &str = "INSERT INTO mdmkit_groups \
         (workspace, name, provider, account, mdm_group_id) VALUES ($1, $2, $3, $4, $5) RETURNING id";
    pub(crate) const UPDATE_GROUP: &str = "UPDATE mdmkit_groups SET name = $3, provider = $4, \
         account = $5, mdm_group_id = $6 WHERE workspace = $1 AND id = $2";
    pub(crate) const DELETE_MEMBERS: &str = "DELETE FROM mdmkit_group_members WHERE group_id = $1";
    /// Completed by a multi-row `VALUES` list of (group_id, serial).
    pub(crate) const ADD_MEMBERS: &str = "INSERT INTO mdmkit_group_members (group_id, serial) ";
    pub(crate) const DELETE_GROUP: &str =
        "DELETE FROM mdmkit_groups WHERE workspace = $1 AND id = $2";

    pub(crate) const STATE: &str = "SELECT plan, last_refresh, mdm_device_count, last_group_sync, \
         last_group_sync_attempt, last_manual_group_sync, group_sync_pending, refresh_pending \
         FROM mdmkit_workspace_state WHERE workspace = $1";
    pub(crate) const HELD_LEASE: &str = "SELECT holder, fence, expires_at FROM mdmkit_leases \
         WHERE workspace = $1 AND holder IS NOT NULL";
    pub(crate) const SET_PLAN: &str = "INSERT INTO mdmkit_workspace_state (workspace, plan) \
         VALUES ($1, $2) ON CONFLICT (workspace) DO UPDATE SET plan = excluded.plan";
    pub(crate) const RECORD_REFRESH: &str = "INSERT INTO mdmkit_workspace_state \
         (workspace, last_refresh, mdm_device_count) VALUES ($1, $2, $3) \
         ON CONFLICT (workspace) DO UPDATE SET last_refresh = excluded.last_refresh, \
         mdm_device_count = COALESCE(excluded.mdm_device_count, mdmkit_workspace_state.mdm_device_count)";
    pub(crate) const RECORD_ATTEMPT: &str = "INSERT INTO mdmkit_workspace_state \
         (workspace, last_group_sync_attempt) VALUES ($1, $2) \
         ON CONFLICT (workspace) DO UPDATE SET last_group_sync_attempt = excluded.last_group_sync_attempt";
    pub(crate) const RECORD_SUCCESS: &str = "INSERT INTO mdmkit_workspace_state \
         (workspace, last_group_sync_attempt, last_group_sync, group_sync_pending) \
         VALUES ($1, $2, $2, FALSE) ON CONFLICT (workspace) DO UPDATE SET \
         last_group_sync_attempt = excluded.last_group_sync_attempt, \
         last_group_sync = excluded.last_group_sync, group_sync_pending = FALSE";
    pub(crate) const RECORD_MANUAL: &str = "INSERT INTO mdmkit_workspace_state \
         (workspace, last_manual_group_sync) VALUES ($1, $2) \
         ON CONFLICT (workspace) DO UPDATE SET last_manual_group_sync = excluded.last_manual_group_sync";
    /// `{now}` is the database's clock, `{now+$3}` that plus `$3` microseconds (see [`LeaseSql`]).
    pub(crate) const ACQUIRE_LEASE: &str = "INSERT INTO mdmkit_leases \
         (workspace, holder, fence, expires_at) VALUES ($1, $2, 1, {now+$3}) \
         ON CONFLICT (workspace) DO UPDATE SET holder = excluded.holder, \
         fence = mdmkit_leases.fence + 1, expires_at = excluded.expires_at \
         WHERE mdmkit_leases.holder IS NULL OR mdmkit_leases.expires_at <= {now} \
         RETURNING holder, fence, expires_at";
    pub(crate) const RENEW_LEASE: &str = "UPDATE mdmkit_leases SET expires_at = {now+$4} \
         WHERE workspace = $1 AND holder = $2 AND fence = $3 RETURNING holder, fence, expires_at";
    pub(crate) const RELEASE_LEASE: &str = "UPDATE mdmkit_leases SET holder = NULL, \
         expires_at = {now} WHERE workspace = $1 AND holder = $2 AND fence = $3";
    pub(crate) const MARKS: &str = "SELECT device_watermark, last_full_listing, group_delta, \
         last_full_group_read FROM mdmkit_sync_marks WHERE workspace = $1";
    /// `$2`: the watermark, `$3`: the full listing (kept when NULL).
    pub(crate) const RECORD_WATERMARK: &str = "INSERT INTO mdmkit_sync_marks \
         (workspace, device_watermark, last_full_listing) VALUES ($1, $2, $3) \
         ON CONFLICT (workspace) DO UPDATE SET device_watermark = excluded.device_watermark, \
         last_full_listing = COALESCE(excluded.last_full_listing, mdmkit_sync_marks.last_full_listing)";
    /// `$2`: the token (NULL forgets it), `$3`: the full read (kept when NULL).
    pub(crate) const RECORD_GROUP_DELTA: &str = "INSERT INTO mdmkit_sync_marks \
         (workspace, group_delta, last_full_group_read) VALUES ($1, $2, $3) \
         ON CONFLICT (workspace) DO UPDATE SET group_delta = excluded.group_delta, \
         last_full_group_read = COALESCE(excluded.last_full_group_read, \
         mdmkit_sync_marks.last_full_group_read)";
    /// Connecting anew or disconnecting forgets the marks of the previous MDM.
    pub(crate) const FORGET_MARKS: &str = "DELETE FROM mdmkit_sync_marks WHERE workspace = $1";
    /// The fence check that opens every fenced write transaction (the dialect may add a row lock).
    pub(crate) const CHECK_FENCE: &str = "SELECT fence FROM mdmkit_leases \
         WHERE workspace = $1 AND fence = $2 AND holder IS NOT NULL";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_take_wildcards_literally() {
        assert_eq!(contains_pattern(" Zoë "), "%zoë%");
        assert_eq!(contains_pattern("50%_a\\b"), "%50\\%\\_a\\\\b%");
        assert_eq!(contains_pattern(""), "%%");
    }

    #[test]
    fn only_numeric_group_ids_are_ours() {
        assert_eq!(group_key(&GroupId::new("42")), Some(42));
        assert_eq!(group_key(&GroupId::new("g42")), None);
        assert_eq!(group_key(&GroupId::new("")), None);
        assert_eq!(group_key(&GroupId::new("-1")), None);
        assert_eq!(group_key(&GroupId::new("99999999999999999999")), None);
    }

    #[test]
    fn plans_round_trip_as_their_serde_names() {
        for plan in [Plan::Free, Plan::Pro, Plan::Enterprise] {
            assert_eq!(parse_plan(&plan_text(plan)).unwrap(), plan);
        }
        assert_eq!(plan_text(Plan::Enterprise), "enterprise");
        assert!(parse_plan("gold").is_err());
    }
}
