//! [`SqliteStore`]: one file, nothing to run. The embedded default.
//!
//! - **Concurrency.** The file is opened in WAL mode (readers never wait for the writer) with a busy
//!   timeout; every write transaction starts with `BEGIN IMMEDIATE`, so writers queue for the file's
//!   write lock instead of failing when a read transaction tries to upgrade. Several processes may share
//!   the file on one machine (not over a network file system, which breaks SQLite's locks).
//! - **Leases** expire by SQLite's clock (`julianday('now')`, the clock of the machine the file is on);
//!   instants are stored as microseconds since the Unix epoch.
//! - **Opening** switches a new file to WAL and migrates it on one connection before the pool opens more
//!   (two connections switching a new file at once can deadlock, which SQLite answers with "database is
//!   locked" without waiting); a "busy" answer while opening is retried until the busy timeout.
//! - **Migrations** run inside one `BEGIN IMMEDIATE` transaction (sqlx turns each migration's own
//!   transaction into a savepoint), so processes starting at once apply them one after the other, and the
//!   later ones find nothing left to do.
//! - **Search** (R6) matches the lower-cased serial and display name columns with `LIKE`, within the
//!   workspace's rows: SQLite has no index for substrings, and a workspace's devices are contiguous in the
//!   primary key.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::DateTime;
use mdmkit_sync::{StepHook, Stores};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
    SqliteTypeInfo, SqliteValueRef,
};
use sqlx::{ConnectOptions, Connection, Database, Decode, Encode, Sqlite, SqliteConnection, Type};

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
        // The first connection is opened alone: it switches a new file to WAL and migrates it before
        // the pool opens more. Two connections switching one new file at once can deadlock, and SQLite
        // then answers "database is locked" at once instead of waiting; another process doing the same
        // is waited out by retrying.
        let first = retry_while_busy(|| async {
            let mut first = options
                .connect()
                .await
                .map_err(|e| Error::connect("sqlite", e))?;
            migrate(&mut first).await?;
            Ok(first)
        })
        .await?;
        // One connection stays open for good: an in-memory database lives only as long as one does.
        let pool = retry_while_busy(|| async {
            SqlitePoolOptions::new()
                .max_connections(8)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_with(options.clone())
                .await
                .map_err(|e| Error::connect("sqlite", e))
        })
        .await?;
        let _ = first.close().await;
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

/// Brings the schema up to date inside one `BEGIN IMMEDIATE` transaction.
async fn migrate(conn: &mut SqliteConnection) -> Result<(), Error> {
    let mut lock = conn
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(|e| Error::connect("sqlite", e))?;
    // `run_direct` is sqlx's way around `run`'s "Acquire is not general enough" in Send futures.
    MIGRATOR.run_direct(&mut *lock).await?;
    lock.commit().await.map_err(|e| Error::connect("sqlite", e))
}

/// Runs `attempt` again while it fails with SQLite's "busy" or "locked" (the cases where SQLite does not
/// wait by itself), backing off, until [`BUSY_TIMEOUT`] has passed.
async fn retry_while_busy<T, F, Fut>(mut attempt: F) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, Error>>,
{
    let started = Instant::now();
    let mut pause = Duration::from_millis(5);
    loop {
        match attempt().await {
            Err(e) if is_busy(&e) && started.elapsed() + pause < BUSY_TIMEOUT => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(500));
            }
            other => return other,
        }
    }
}

/// Whether opening failed only because another connection held a lock (`SQLITE_BUSY`, `SQLITE_LOCKED`
/// and their extended codes).
fn is_busy(error: &Error) -> bool {
    let source = match error {
        Error::Connect { source, .. } => source,
        Error::Migrate(sqlx::migrate::MigrateError::Execute(source)) => source,
        Error::Migrate(sqlx::migrate::MigrateError::ExecuteMigration(source, _)) => source,
        _ => return false,
    };
    let sqlx::Error::Database(db) = source else {
        return false;
    };
    db.code()
        .and_then(|code| code.parse::<i32>().ok())
        .is_some_and(|code| matches!(code & 0xff, 5 | 6))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TempSqlite;

    /// A lock SQLite answers "busy" for at once (here: a connection with no busy timeout while another
    /// holds an exclusive transaction) is waited out by retrying, and the retry gives up on other errors.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn opening_retries_while_sqlite_answers_busy_at_once() {
        let db = TempSqlite::new().unwrap();
        let options = SqliteConnectOptions::from_str(&db.url())
            .unwrap()
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Delete);
        let mut holder = options.connect().await.unwrap();
        sqlx::query("CREATE TABLE t (x INTEGER)")
            .execute(&mut holder)
            .await
            .unwrap();
        let mut exclusive = holder.begin_with("BEGIN EXCLUSIVE").await.unwrap();
        sqlx::query("INSERT INTO t VALUES (1)")
            .execute(&mut *exclusive)
            .await
            .unwrap();

        let impatient = options.clone().busy_timeout(Duration::ZERO);
        let attempts = std::sync::atomic::AtomicU32::new(0);
        let read = retry_while_busy(|| async {
            attempts.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let mut conn = impatient
                .connect()
                .await
                .map_err(|e| Error::connect("sqlite", e))?;
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM t")
                .fetch_one(&mut conn)
                .await
                .map_err(|e| Error::connect("sqlite", e))
        });
        let release = async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            exclusive.commit().await.unwrap();
        };
        let (count, ()) = tokio::join!(read, release);
        assert_eq!(count.expect("the read succeeds once the lock is gone"), 1);
        assert!(
            attempts.load(std::sync::atomic::Ordering::SeqCst) > 1,
            "the first attempts met the lock"
        );

        let not_busy = Error::Config("bad".into());
        assert!(!is_busy(&not_busy));
        let calls = std::sync::atomic::AtomicU32::new(0);
        let failed: Result<(), Error> = retry_while_busy(|| async {
            calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Err(Error::Config("bad".into()))
        })
        .await;
        assert!(failed.is_err());
        assert_eq!(
            calls.load(std::sync::atomic::Ordering::SeqCst),
            1,
            "no retry"
        );
    }
}
