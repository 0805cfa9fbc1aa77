//! [`SqliteStore`]: one file, nothing to run. The embedded default.
//!
//! - **Concurrency.** The file is opened in WAL mode (readers never wait for the writer) with a busy
//!   timeout; every write transaction starts with `BEGIN IMMEDIATE`, so writers queue for the file's
//!   write lock instead of failing when a read transaction tries to upgrade. Several processes may share
//!   the file on one machine (not over a network file system, which breaks SQLite's locks).
//! - **Leases** expire by SQLite's clock (`julianday('now')`, the clock of the machine the file is on);
//!   instants are stored as microseconds since the Unix epoch.
//! - **Migrations** run inside one `BEGIN IMMEDIATE` transaction (sqlx turns each migration's own
//!   transaction into a savepoint), so processes starting at once apply them one after the other, and the
//!   later ones find nothing left to do.
//! - **Search** (R6) matches the lower-cased serial and display name columns with `LIKE`, within the
//!   workspace's rows: SQLite has no index for substrings, and a workspace's devices are contiguous in the
//!   primary key.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::DateTime;
use mdmkit_sync::{StepHook, Stores};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
    SqliteTypeInfo, SqliteValueRef,
};
use sqlx::{Database, Decode, Encode, Sqlite, Type};

use crate::common::DbTime;
use crate::error::Error;
use crate::store_impl::sql_store;

/// How long a writer waits for another process's write transaction before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// Every `mdmkit-sync` store trait over one SQLite file. Clones share the connection pool.
#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    hook: Option<Arc<dyn StepHook>>,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("connections", &self.pool.size())
            .field("hook", &self.hook.is_some())
            .finish()
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `url` (`sqlite://path/to/file.db`, `sqlite:file.db`,
    /// `sqlite::memory:`) and brings its schema up to date.
    pub async fn connect(url: &str) -> Result<SqliteStore, Error> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| Error::connect("sqlite", e))?
            .create_if_missing(true);
        SqliteStore::connect_with(options).await
    }

    /// Opens the database with `options` (WAL, a busy timeout and foreign keys are switched on), and
    /// brings its schema up to date.
    pub async fn connect_with(options: SqliteConnectOptions) -> Result<SqliteStore, Error> {
        let options = options
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        // One connection stays open for good: an in-memory database lives only as long as one does.
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await
            .map_err(|e| Error::connect("sqlite", e))?;
        let mut lock = pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| Error::connect("sqlite", e))?;
        // `run_direct` is sqlx's way around `run`'s "Acquire is not general enough" in Send futures.
        MIGRATOR.run_direct(&mut *lock).await?;
        lock.commit()
            .await
            .map_err(|e| Error::connect("sqlite", e))?;
        Ok(SqliteStore { pool, hook: None })
    }

    /// Another handle on the same pool whose multi-step operations report their steps to `hook` (tests).
    pub fn with_step_hook(&self, hook: Arc<dyn StepHook>) -> SqliteStore {
        SqliteStore {
            pool: self.pool.clone(),
            hook: Some(hook),
        }
    }

    /// The connection pool, for an embedder's own queries on the same file.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// The four stores the engine takes.
    pub fn stores(&self) -> Stores {
        Stores::from_one(Arc::new(self.clone()))
    }

    /// Closes every connection.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

impl Type<Sqlite> for DbTime {
    fn type_info() -> SqliteTypeInfo {
        <i64 as Type<Sqlite>>::type_info()
    }

    fn compatible(ty: &SqliteTypeInfo) -> bool {
        <i64 as Type<Sqlite>>::compatible(ty)
    }
}

impl<'q> Encode<'q, Sqlite> for DbTime {
    fn encode_by_ref(
        &self,
        buf: &mut <Sqlite as Database>::ArgumentBuffer<'q>,
    ) -> Result<IsNull, BoxDynError> {
        <i64 as Encode<'q, Sqlite>>::encode(self.0.timestamp_micros(), buf)
    }
}

impl<'r> Decode<'r, Sqlite> for DbTime {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        let micros = <i64 as Decode<'r, Sqlite>>::decode(value)?;
        DateTime::from_timestamp_micros(micros)
            .map(DbTime)
            .ok_or_else(|| format!("instant out of range: {micros} µs").into())
    }
}

mod dialect {
    use std::sync::LazyLock;

    use mdmkit_core::SerialNumber;
    use mdmkit_sync::DeviceCheck;
    use sqlx::{QueryBuilder, SqliteConnection};

    use crate::common::{search_key, sql, DbTime, LeaseSql, ROWS_PER_STATEMENT};

    pub(super) type Db = sqlx::Sqlite;

    /// Rows per write statement: multi-row `VALUES` lists, kept below SQLite's bind limit.
    pub(super) const ROWS_PER_WRITE: usize = ROWS_PER_STATEMENT;

    /// Adds `serials` (new ones only) to the workspace.
    pub(super) async fn add_devices(
        conn: &mut SqliteConnection,
        ws: &str,
        serials: &[SerialNumber],
    ) -> sqlx::Result<u64> {
        let mut qb = QueryBuilder::<Db>::new(sql::ADD_DEVICES);
        qb.push_values(serials, |mut row, serial| {
            row.push_bind(ws)
                .push_bind(serial.as_str())
                .push_bind(search_key(serial.as_str()));
        });
        qb.push(sql::ADD_DEVICES_END);
        Ok(qb.build().execute(conn).await?.rows_affected())
    }

    /// Writes the metadata and check time of each device in `checks` the workspace tracks.
    pub(super) async fn record_checks(
        conn: &mut SqliteConnection,
        ws: &str,
        checks: &[DeviceCheck],
    ) -> sqlx::Result<u64> {
        let mut qb = QueryBuilder::<Db>::new(sql::RECORD_CHECKS);
        qb.push_values(checks, |mut row, check| {
            let m = check.metadata.as_ref();
            let name = m.and_then(|m| m.display_name.as_deref());
            row.push_bind(check.serial_number.as_str())
                .push_bind(m.map(|m| m.device_id.as_str()))
                .push_bind(m.and_then(|m| m.user_id.as_deref()))
                .push_bind(name)
                .push_bind(name.map(search_key))
                .push_bind(DbTime(check.checked_at));
        });
        qb.push(sql::RECORD_CHECKS_END).push_bind(ws);
        Ok(qb.build().execute(conn).await?.rows_affected())
    }

    /// Adds `serials` to group `group` (its old members already deleted).
    pub(super) async fn add_members(
        conn: &mut SqliteConnection,
        group: i64,
        serials: &[&SerialNumber],
    ) -> sqlx::Result<u64> {
        let mut qb = QueryBuilder::<Db>::new(sql::ADD_MEMBERS);
        qb.push_values(serials, |mut row, serial| {
            row.push_bind(group).push_bind(serial.as_str());
        });
        Ok(qb.build().execute(conn).await?.rows_affected())
    }

    /// Now in microseconds since the Unix epoch, by SQLite's clock.
    const NOW: &str = "CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)";

    fn plus(micros_param: &str) -> String {
        format!("({NOW} + {micros_param})")
    }

    pub(super) static LEASE: LazyLock<LeaseSql> = LazyLock::new(|| LeaseSql::new(NOW, plus));
    /// `BEGIN IMMEDIATE` already holds the write lock: no takeover can commit before this transaction.
    pub(super) static CHECK_FENCE: LazyLock<String> = LazyLock::new(|| sql::CHECK_FENCE.to_owned());

    /// A write transaction that holds the file's write lock from its first statement.
    pub(super) async fn begin_write(
        pool: &sqlx::SqlitePool,
    ) -> sqlx::Result<sqlx::Transaction<'static, Db>> {
        pool.begin_with("BEGIN IMMEDIATE").await
    }
}

sql_store!(SqliteStore, dialect);
