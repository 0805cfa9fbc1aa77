//! Throw-away databases for tests: a SQLite file in a directory of its own, a PostgreSQL schema of its
//! own; each is removed when dropped. Both are [`SuiteTarget`]s, so a test runs the storage suite on them.
//!
//! PostgreSQL tests use [`DATABASE_URL_VAR`] (default [`DEFAULT_DATABASE_URL`]). Without a reachable
//! server they are skipped with a message on stderr, except under `CI=true`, where they fail: CI must not
//! pass by skipping.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use mdmkit_sync::storage_suite::SuiteTarget;
use mdmkit_sync::{StepHook, Stores};

#[cfg(feature = "sqlite")]
use crate::SqliteStore;

/// The variable naming the PostgreSQL database tests use.
pub const DATABASE_URL_VAR: &str = "MDMKIT_TEST_DATABASE_URL";
/// The database tests use when [`DATABASE_URL_VAR`] is not set.
pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A name no other test, process or run uses at the same time: seconds since the epoch first (so stale
/// ones can be told by age), then process id, a counter and the clock's nanoseconds.
fn unique_suffix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    format!(
        "{}_{}_{}_{}",
        now.as_secs(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        now.subsec_nanos()
    )
}

/// Whether a missing database must fail the run (`CI` is `true` or `1`).
pub fn database_required() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// A SQLite database file in a temporary directory of its own, deleted with the directory on drop.
#[cfg(feature = "sqlite")]
#[derive(Debug)]
pub struct TempSqlite {
    dir: PathBuf,
}

#[cfg(feature = "sqlite")]
impl TempSqlite {
    /// A fresh directory (nothing is opened yet).
    pub fn new() -> std::io::Result<TempSqlite> {
        let dir = std::env::temp_dir().join(format!("mdmkit-test-{}", unique_suffix()));
        std::fs::create_dir_all(&dir)?;
        Ok(TempSqlite { dir })
    }

    /// The database file.
    pub fn path(&self) -> PathBuf {
        self.dir.join("mdmkit.db")
    }

    /// `sqlite://` and the file's path.
    pub fn url(&self) -> String {
        format!("sqlite://{}", self.path().display())
    }

    /// A new store (its own pool) on the file.
    pub async fn open(&self) -> SqliteStore {
        SqliteStore::connect(&self.url())
            .await
            .expect("the temporary SQLite database opens")
    }
}

#[cfg(feature = "sqlite")]
impl Drop for TempSqlite {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(feature = "sqlite")]
#[async_trait]
impl SuiteTarget for TempSqlite {
    async fn open(&self) -> Stores {
        TempSqlite::open(self).await.stores()
    }

    async fn open_with_hook(&self, hook: Arc<dyn StepHook>) -> Stores {
        TempSqlite::open(self).await.with_step_hook(hook).stores()
    }
}

#[cfg(feature = "postgres")]
pub use self::postgres::TestSchema;

#[cfg(feature = "postgres")]
mod postgres {
    use std::str::FromStr;
    use std::sync::Arc;
    use std::time::Duration;

    use async_trait::async_trait;
    use mdmkit_sync::storage_suite::SuiteTarget;
    use mdmkit_sync::{StepHook, Stores};
    use sqlx::postgres::PgConnectOptions;
    use sqlx::{Connection, PgConnection};

    use super::{database_required, unique_suffix, DATABASE_URL_VAR, DEFAULT_DATABASE_URL};
    use crate::{PostgresConfig, PostgresStore};

    /// Test schemas older than this are left over from runs that crashed; the next run drops them.
    const STALE_AFTER_SECS: u64 = 6 * 3600;
    const PREFIX: &str = "mdmkit_test_";

    /// A schema of its own on the test database, dropped with everything in it on drop.
    #[derive(Debug)]
    pub struct TestSchema {
        options: PgConnectOptions,
        schema: String,
    }

    impl TestSchema {
        /// A new schema on the test database; `None` (with a message on stderr) when the server cannot be
        /// reached, unless [`database_required`], when it panics.
        pub async fn create() -> Option<TestSchema> {
            let url =
                std::env::var(DATABASE_URL_VAR).unwrap_or_else(|_| DEFAULT_DATABASE_URL.to_owned());
            let unreachable = |why: String| {
                if database_required() {
                    panic!("PostgreSQL for tests is unreachable and CI=true: {why} ({DATABASE_URL_VAR})");
                }
                eprintln!(
                    "skipping a PostgreSQL test: {why}. Start PostgreSQL or set {DATABASE_URL_VAR}."
                );
                None::<TestSchema>
            };
            let options = match PgConnectOptions::from_str(&url) {
                Ok(o) => o,
                Err(e) => {
                    return unreachable(format!("{DATABASE_URL_VAR} is not a PostgreSQL URL: {e}"))
                }
            };
            let place = format!(
                "{}:{}/{}",
                options.get_host(),
                options.get_port(),
                options.get_database().unwrap_or("")
            );
            let connect = PgConnection::connect_with(&options);
            let mut conn = match tokio::time::timeout(Duration::from_secs(10), connect).await {
                Ok(Ok(conn)) => conn,
                Ok(Err(e)) => return unreachable(format!("no PostgreSQL at {place}: {e}")),
                Err(_) => return unreachable(format!("no answer from PostgreSQL at {place}")),
            };
            drop_stale_schemas(&mut conn).await;
            let _ = conn.close().await;
            Some(TestSchema {
                options,
                schema: format!("{PREFIX}{}", unique_suffix()),
            })
        }

        /// The schema's name.
        pub fn schema(&self) -> &str {
            &self.schema
        }

        /// The connect options of the test database (no schema set).
        pub fn options(&self) -> &PgConnectOptions {
            &self.options
        }

        /// A new store, with its own pool, in the schema (created and migrated on first use).
        pub async fn open(&self) -> PostgresStore {
            self.open_with(4).await
        }

        /// [`TestSchema::open`] with a pool of `max_connections`.
        pub async fn open_with(&self, max_connections: u32) -> PostgresStore {
            let mut config = PostgresConfig::with_schema(self.schema.clone());
            config.max_connections = max_connections;
            PostgresStore::connect_with(self.options.clone(), config)
                .await
                .expect("the test schema opens")
        }
    }

    async fn drop_stale_schemas(conn: &mut PgConnection) {
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT nspname::text FROM pg_namespace WHERE starts_with(nspname, $1)",
        )
        .bind(PREFIX)
        .fetch_all(&mut *conn)
        .await
        .unwrap_or_default();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        for name in names {
            let created: Option<u64> = name
                .strip_prefix(PREFIX)
                .and_then(|rest| rest.split('_').next())
                .and_then(|secs| secs.parse().ok());
            if created.is_some_and(|c| now.saturating_sub(c) > STALE_AFTER_SECS) {
                let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
                    .execute(&mut *conn)
                    .await;
            }
        }
    }

    impl Drop for TestSchema {
        fn drop(&mut self) {
            // Drop runs inside the test's runtime, which cannot block on itself: a thread of its own.
            let options = self.options.clone();
            let schema = self.schema.clone();
            let dropped = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                runtime.block_on(async {
                    let mut conn = PgConnection::connect_with(&options)
                        .await
                        .map_err(std::io::Error::other)?;
                    sqlx::query("SET lock_timeout = '20s'")
                        .execute(&mut conn)
                        .await
                        .map_err(std::io::Error::other)?;
                    sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                        .execute(&mut conn)
                        .await
                        .map_err(std::io::Error::other)?;
                    conn.close().await.map_err(std::io::Error::other)
                })
            })
            .join();
            if !matches!(dropped, Ok(Ok(()))) {
                eprintln!("could not drop test schema {}: {dropped:?}", self.schema);
            }
        }
    }

    #[async_trait]
    impl SuiteTarget for TestSchema {
        async fn open(&self) -> Stores {
            TestSchema::open(self).await.stores()
        }

        async fn open_with_hook(&self, hook: Arc<dyn StepHook>) -> Stores {
            TestSchema::open(self).await.with_step_hook(hook).stores()
        }
    }
}
