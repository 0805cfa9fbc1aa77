//! [`PostgresStore`]: for backends that run several replicas on one PostgreSQL database.
//!
//! - **Its own schema** (`mdmkit` unless configured): the tables, and sqlx's `_sqlx_migrations` record,
//!   stay out of the backend's own, which may use sqlx migrations too. Connections set `search_path` to
//!   that schema, then `public` (where `pg_trgm` usually lives), as a startup option; behind a pooler that
//!   refuses startup options (PgBouncer without `ignore_startup_parameters = options`), connect directly or
//!   let the pooler pass it.
//! - **Migrations** take sqlx's advisory lock (`pg_advisory_lock`, per database), so replicas starting at
//!   once apply them one after the other; creating the schema takes an advisory lock of its own.
//! - **Leases** expire by the server's clock (`now()`), never the replica's. A fenced write transaction
//!   reads the lease row `FOR SHARE`: a takeover (an `UPDATE` of that row) waits until the write commits,
//!   so no write under a stale fence can land after a takeover.
//! - **Search** (R6): GIN trigram indexes (`pg_trgm`) on the lower-cased serial and display name serve
//!   `LIKE '%…%'`. The migration creates the extension if the role may (in `public`, else in the store's
//!   schema); where it cannot, search still works by scanning the workspace's rows, and a notice says so.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use mdmkit_sync::{StepHook, Stores};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgTypeInfo, PgValueRef, Postgres};
use sqlx::{Connection, Database, Decode, Encode, PgConnection, Type};

use crate::common::DbTime;
use crate::error::Error;
use crate::store_impl::sql_store;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The advisory lock key under which the schema is created (an arbitrary constant: "mdmkit" in ASCII).
const SCHEMA_LOCK: i64 = 0x6d64_6d6b_6974;

/// Where and how [`PostgresStore`] connects.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PostgresConfig {
    /// The schema holding mdmkit's tables: a plain lower-case identifier (letters, digits, `_`).
    pub schema: String,
    /// Connections in the pool.
    pub max_connections: u32,
}

impl Default for PostgresConfig {
    fn default() -> Self {
        PostgresConfig {
            schema: "mdmkit".to_owned(),
            max_connections: 10,
        }
    }
}

impl PostgresConfig {
    /// The default configuration with another schema.
    pub fn with_schema(schema: impl Into<String>) -> Self {
        PostgresConfig {
            schema: schema.into(),
            ..PostgresConfig::default()
        }
    }
}

/// Whether `name` is a schema name used without quoting: `[a-z_][a-z0-9_]*`, at most 63 bytes.
fn plain_identifier(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z' | b'_'))
        && bytes.all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_'))
        && name.len() <= 63
}

/// Every `mdmkit-sync` store trait over a PostgreSQL database. Clones share the connection pool.
#[derive(Clone)]
pub struct PostgresStore {
    pool: PgPool,
    schema: String,
    hook: Option<Arc<dyn StepHook>>,
}

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not the connect options: they hold the password.
        f.debug_struct("PostgresStore")
            .field("schema", &self.schema)
            .field("connections", &self.pool.size())
            .field("hook", &self.hook.is_some())
            .finish()
    }
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user:password@host/database`), creates the `mdmkit` schema if
    /// needed and brings it up to date.
    pub async fn connect(url: &str) -> Result<PostgresStore, Error> {
        let options = PgConnectOptions::from_str(url).map_err(|e| Error::connect("postgres", e))?;
        PostgresStore::connect_with(options, PostgresConfig::default()).await
    }

    /// Connects with `options` into the schema `config.schema`, creating it if needed, and brings it up to
    /// date.
    pub async fn connect_with(
        options: PgConnectOptions,
        config: PostgresConfig,
    ) -> Result<PostgresStore, Error> {
        if !plain_identifier(&config.schema) {
            return Err(Error::Config(format!(
                "schema name {:?} must be a lower-case identifier: letters, digits and _",
                config.schema
            )));
        }
        create_schema(&options, &config.schema).await?;
        let options = options.options([("search_path", format!("{},public", config.schema))]);
        let pool = PgPoolOptions::new()
            .max_connections(config.max_connections.max(1))
            .connect_with(options)
            .await
            .map_err(|e| Error::connect("postgres", e))?;
        MIGRATOR.run(&pool).await?;
        Ok(PostgresStore {
            pool,
            schema: config.schema,
            hook: None,
        })
    }

    /// Another handle on the same pool whose multi-step operations report their steps to `hook` (tests).
    pub fn with_step_hook(&self, hook: Arc<dyn StepHook>) -> PostgresStore {
        PostgresStore {
            hook: Some(hook),
            ..self.clone()
        }
    }

    /// The connection pool (its `search_path` starts with the store's schema).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The schema holding the tables.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// The four stores the engine takes.
    pub fn stores(&self) -> Stores {
        Stores::from_one(Arc::new(self.clone()))
    }

    /// Whether search is served by trigram indexes (`pg_trgm` was available to the migration).
    pub async fn has_search_index(&self) -> Result<bool, Error> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM pg_indexes WHERE schemaname = $1 \
             AND indexname IN ('mdmkit_devices_serial_trgm', 'mdmkit_devices_name_trgm')",
        )
        .bind(&self.schema)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| Error::connect("postgres", e))?;
        Ok(n == 2)
    }

    /// Closes every connection.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// `CREATE SCHEMA IF NOT EXISTS` under an advisory lock: concurrent ones can otherwise collide on the
/// catalog's unique index.
async fn create_schema(options: &PgConnectOptions, schema: &str) -> Result<(), Error> {
    let err = |e| Error::connect("postgres", e);
    let mut conn = PgConnection::connect_with(options).await.map_err(err)?;
    let mut tx = conn.begin().await.map_err(err)?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(SCHEMA_LOCK)
        .execute(&mut *tx)
        .await
        .map_err(err)?;
    sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
        .execute(&mut *tx)
        .await
        .map_err(err)?;
    tx.commit().await.map_err(err)?;
    conn.close().await.map_err(err)?;
    Ok(())
}

impl Type<Postgres> for DbTime {
    fn type_info() -> PgTypeInfo {
        <DateTime<Utc> as Type<Postgres>>::type_info()
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        <DateTime<Utc> as Type<Postgres>>::compatible(ty)
    }
}

impl<'q> Encode<'q, Postgres> for DbTime {
    fn encode_by_ref(
        &self,
        buf: &mut <Postgres as Database>::ArgumentBuffer<'q>,
    ) -> Result<IsNull, BoxDynError> {
        <DateTime<Utc> as Encode<'q, Postgres>>::encode_by_ref(&self.0, buf)
    }
}

impl<'r> Decode<'r, Postgres> for DbTime {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        <DateTime<Utc> as Decode<'r, Postgres>>::decode(value).map(DbTime)
    }
}

mod dialect {
    use std::sync::LazyLock;

    use chrono::{DateTime, Utc};
    use mdmkit_core::SerialNumber;
    use mdmkit_sync::DeviceCheck;
    use sqlx::PgConnection;

    use crate::common::{search_key, sql, LeaseSql};

    pub(super) type Db = sqlx::Postgres;

    /// Rows per write statement. PostgreSQL takes each column as one array parameter (`UNNEST`), so a
    /// statement's text and plan are the same whatever its size (prepared once, cached), and no bind
    /// limit applies; the cap only bounds one statement's memory.
    pub(super) const ROWS_PER_WRITE: usize = 50_000;

    const ADD_DEVICES: &str = "INSERT INTO mdmkit_devices (workspace, serial, serial_search) \
         SELECT $1, v.serial, v.serial_search FROM UNNEST($2::text[], $3::text[]) \
         AS v (serial, serial_search) ON CONFLICT (workspace, serial) DO NOTHING";
    const RECORD_CHECKS: &str = "UPDATE mdmkit_devices SET mdm_device_id = v.mdm_device_id, \
         mdm_user_id = v.mdm_user_id, display_name = v.display_name, name_search = v.name_search, \
         checked_at = v.checked_at \
         FROM UNNEST($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[]) \
         AS v (serial, mdm_device_id, mdm_user_id, display_name, name_search, checked_at) \
         WHERE mdmkit_devices.workspace = $1 AND mdmkit_devices.serial = v.serial";
    const ADD_MEMBERS: &str = "INSERT INTO mdmkit_group_members (group_id, serial) \
         SELECT $1, v.serial FROM UNNEST($2::text[]) AS v (serial)";

    /// Adds `serials` (new ones only) to the workspace, in one set-based statement.
    pub(super) async fn add_devices(
        conn: &mut PgConnection,
        ws: &str,
        serials: &[SerialNumber],
    ) -> sqlx::Result<u64> {
        let serial: Vec<&str> = serials.iter().map(SerialNumber::as_str).collect();
        let serial_search: Vec<String> = serial.iter().map(|s| search_key(s)).collect();
        let done = sqlx::query(ADD_DEVICES)
            .bind(ws)
            .bind(serial)
            .bind(serial_search)
            .execute(conn)
            .await?;
        Ok(done.rows_affected())
    }

    /// Writes the metadata and check time of each device in `checks` the workspace tracks, in one
    /// set-based statement.
    pub(super) async fn record_checks(
        conn: &mut PgConnection,
        ws: &str,
        checks: &[DeviceCheck],
    ) -> sqlx::Result<u64> {
        let n = checks.len();
        let mut serial = Vec::with_capacity(n);
        let mut device_id = Vec::with_capacity(n);
        let mut user_id = Vec::with_capacity(n);
        let mut name = Vec::with_capacity(n);
        let mut name_search = Vec::with_capacity(n);
        let mut checked_at: Vec<DateTime<Utc>> = Vec::with_capacity(n);
        for check in checks {
            let m = check.metadata.as_ref();
            let display = m.and_then(|m| m.display_name.as_deref());
            serial.push(check.serial_number.as_str());
            device_id.push(m.map(|m| m.device_id.as_str()));
            user_id.push(m.and_then(|m| m.user_id.as_deref()));
            name.push(display);
            name_search.push(display.map(search_key));
            checked_at.push(check.checked_at);
        }
        let done = sqlx::query(RECORD_CHECKS)
            .bind(ws)
            .bind(serial)
            .bind(device_id)
            .bind(user_id)
            .bind(name)
            .bind(name_search)
            .bind(checked_at)
            .execute(conn)
            .await?;
        Ok(done.rows_affected())
    }

    /// Adds `serials` to group `group` (its old members already deleted), in one set-based statement.
    pub(super) async fn add_members(
        conn: &mut PgConnection,
        group: i64,
        serials: &[&SerialNumber],
    ) -> sqlx::Result<u64> {
        let serial: Vec<&str> = serials.iter().map(|s| s.as_str()).collect();
        let done = sqlx::query(ADD_MEMBERS)
            .bind(group)
            .bind(serial)
            .execute(conn)
            .await?;
        Ok(done.rows_affected())
    }

    /// The server's clock (the transaction's start; every lease statement is a transaction of its own).
    const NOW: &str = "now()";

    fn plus(micros_param: &str) -> String {
        format!("(now() + {micros_param}::bigint * INTERVAL '1 microsecond')")
    }

    pub(super) static LEASE: LazyLock<LeaseSql> = LazyLock::new(|| LeaseSql::new(NOW, plus));
    /// The row lock makes a takeover wait until the fenced write has committed.
    pub(super) static CHECK_FENCE: LazyLock<String> =
        LazyLock::new(|| format!("{} FOR SHARE", sql::CHECK_FENCE));

    pub(super) async fn begin_write(
        pool: &sqlx::PgPool,
    ) -> sqlx::Result<sqlx::Transaction<'static, Db>> {
        pool.begin().await
    }
}

sql_store!(PostgresStore, dialect);

#[cfg(test)]
mod tests {
    use super::*;

    /// The README promises `mdmkit` as the schema unless configured.
    #[test]
    fn the_default_schema_is_mdmkit_and_a_plain_identifier() {
        let schema = PostgresConfig::default().schema;
        assert_eq!(schema, "mdmkit");
        assert!(plain_identifier(&schema));
    }

    #[test]
    fn schema_names_are_plain_identifiers() {
        for ok in ["mdmkit", "mdmkit_test_1", "_x"] {
            assert!(plain_identifier(ok), "{ok}");
        }
        for bad in [
            "",
            "Mdmkit",
            "1abc",
            "a-b",
            "a;drop",
            "\"x\"",
            &"a".repeat(64),
        ] {
            assert!(!plain_identifier(bad), "{bad}");
        }
    }
}
