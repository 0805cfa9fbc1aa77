//! Opening stores: URLs, replicas starting at once, durability across restarts, no secrets in text.

use std::collections::BTreeSet;
use std::sync::Arc;

use futures::FutureExt;
use mdmkit_core::SerialNumber;
use mdmkit_sqlx::testing::{TempSqlite, TestSchema};
use mdmkit_sqlx::{PostgresConfig, PostgresStore, SqliteStore};
use mdmkit_sync::{storage_suite, DeviceCheck, MdmMetadata, Paging, Plan, WorkspaceId};

fn serial(s: &str) -> SerialNumber {
    SerialNumber::parse(s).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_processes_starting_at_once_migrate_once() {
    let db = TempSqlite::new().unwrap();
    let url = db.url();
    let starts = (0..8).map(|_| {
        let url = url.clone();
        tokio::spawn(async move { SqliteStore::connect(&url).await })
    });
    let stores: Vec<SqliteStore> = futures_join(starts).await;
    let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(stores[0].pool())
        .await
        .unwrap();
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"))
        .unwrap()
        .count();
    assert_eq!(
        applied as usize, files,
        "each migration applied exactly once"
    );
}

/// A new file opened by several processes at once, many times over: the first connections race to switch
/// the file to WAL, where SQLite answers "database is locked" without waiting. Every open must succeed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_new_files_open_while_others_open_them() {
    for round in 0..40 {
        let db = TempSqlite::new().unwrap();
        let url = db.url();
        let starts = (0..6).map(|_| {
            let url = url.clone();
            tokio::spawn(async move { SqliteStore::connect(&url).await })
        });
        let stores: Vec<SqliteStore> = futures_join(starts).await;
        for store in &stores {
            let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
                .fetch_one(store.pool())
                .await
                .unwrap();
            assert_eq!(mode, "wal", "round {round}");
            store.close().await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_replicas_starting_at_once_migrate_once() {
    let Some(db) = TestSchema::create().await else {
        return;
    };
    let starts = (0..8).map(|_| {
        let options = db.options().clone();
        let config = PostgresConfig::with_schema(db.schema());
        tokio::spawn(async move { PostgresStore::connect_with(options, config).await })
    });
    let stores: Vec<PostgresStore> = futures_join(starts).await;
    let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(stores[0].pool())
        .await
        .unwrap();
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres"))
        .unwrap()
        .count();
    assert_eq!(
        applied as usize, files,
        "each migration applied exactly once"
    );
    let schema_of_table: String = sqlx::query_scalar(
        "SELECT table_schema::text FROM information_schema.tables WHERE table_name = '_sqlx_migrations' \
         AND table_schema = $1",
    )
    .bind(db.schema())
    .fetch_one(stores[0].pool())
    .await
    .unwrap();
    assert_eq!(
        schema_of_table,
        db.schema(),
        "migrations are recorded in the store's schema"
    );
}

/// The `mdmkit_…` table names quoted in `text`.
fn table_names(text: &str) -> BTreeSet<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .filter(|quoted| {
            quoted.starts_with("mdmkit_")
                && quoted.chars().all(|c| c.is_ascii_lowercase() || c == '_')
        })
        .map(str::to_owned)
        .collect()
}

/// Checks that the README's "Schema and migrations" paragraph and this crate's schema table name exactly
/// the `mdmkit_…` tables a migrated store has.
fn assert_documented(tables: Vec<String>) {
    let tables: BTreeSet<String> = tables.into_iter().collect();
    assert!(tables.len() >= 8, "{tables:?}");
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("the workspace README");
    let paragraph = readme
        .split("\n\n")
        .find(|p| p.starts_with("**Schema and migrations.**"))
        .expect("the README's schema paragraph");
    let crate_docs: String = include_str!("../src/lib.rs")
        .lines()
        .filter(|l| l.starts_with("//! | `mdmkit_"))
        .collect::<Vec<_>>()
        .join("\n");
    for (source, text) in [("README.md", paragraph), ("the crate docs", &crate_docs)] {
        assert_eq!(
            table_names(text),
            tables,
            "{source} names every table, and only those"
        );
    }
}

#[tokio::test]
async fn sqlite_has_exactly_the_documented_tables() {
    let db = TempSqlite::new().unwrap();
    let store = db.open().await;
    let sql = "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'mdmkit\\_%' ESCAPE '\\'";
    assert_documented(
        sqlx::query_scalar(sql)
            .fetch_all(store.pool())
            .await
            .unwrap(),
    );
}

#[tokio::test]
async fn postgres_has_exactly_the_documented_tables() {
    let Some(db) = TestSchema::create().await else {
        return;
    };
    let store = db.open().await;
    let sql = "SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1 \
               AND table_type = 'BASE TABLE' AND table_name LIKE 'mdmkit\\_%'";
    let tables = sqlx::query_scalar(sql)
        .bind(db.schema())
        .fetch_all(store.pool())
        .await;
    assert_documented(tables.unwrap());
}

async fn futures_join<T>(
    handles: impl Iterator<Item = tokio::task::JoinHandle<Result<T, mdmkit_sqlx::Error>>>,
) -> Vec<T> {
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap().expect("every concurrent start succeeds"));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_data_survives_a_restart() {
    let db = TempSqlite::new().unwrap();
    let ws = WorkspaceId::new("acme");
    {
        let store = db.open().await;
        let stores = store.stores();
        stores.state.set_plan(&ws, Plan::Enterprise).await.unwrap();
        stores
            .devices
            .add_device(&ws, &serial("C02PERSIST1"))
            .await
            .unwrap();
        store.close().await;
    }
    let stores = mdmkit_sqlx::open(&db.url()).await.unwrap();
    assert_eq!(
        stores.state.sync_state(&ws).await.unwrap().plan,
        Plan::Enterprise
    );
    let page = stores
        .devices
        .devices(&ws, Paging::first(10))
        .await
        .unwrap();
    assert_eq!(page.devices.len(), 1);
    assert_eq!(page.devices[0].serial_number, serial("C02PERSIST1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_search_is_served_by_trigram_indexes() {
    let Some(db) = TestSchema::create().await else {
        return;
    };
    let store = db.open_with(1).await;
    assert!(
        store.has_search_index().await.unwrap(),
        "pg_trgm is installed on the test server"
    );
    // A workspace large enough that the planner prefers the trigram indexes to its primary-key range.
    let stores = store.stores();
    let ws = WorkspaceId::new("trigram");
    let serials: Vec<SerialNumber> = (0..20_000).map(|i| serial(&format!("TRG{i:06}"))).collect();
    stores.devices.add_devices(&ws, &serials).await.unwrap();
    let fence = storage_suite::lease(&stores, &ws, "t").await.fence;
    let checks: Vec<DeviceCheck> = serials
        .iter()
        .enumerate()
        .map(|(i, s)| DeviceCheck {
            serial_number: s.clone(),
            metadata: Some(MdmMetadata {
                device_id: i.to_string(),
                user_id: None,
                display_name: Some(format!("Person {i}")),
            }),
            checked_at: chrono::Utc::now(),
        })
        .collect();
    stores
        .devices
        .record_checks(&ws, fence, &checks)
        .await
        .unwrap();
    let mut conn = store.pool().acquire().await.unwrap();
    // As autovacuum would: statistics, and the GIN pending list merged into the index.
    sqlx::query("VACUUM ANALYZE mdmkit_devices")
        .execute(&mut *conn)
        .await
        .unwrap();
    let plan: Vec<String> = sqlx::query_scalar(
        "EXPLAIN SELECT serial FROM mdmkit_devices WHERE workspace = 'trigram' AND serial > '' \
         AND (serial_search LIKE '%rson 1234%' ESCAPE '\\' OR name_search LIKE '%rson 1234%' ESCAPE '\\') \
         ORDER BY serial LIMIT 51",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    let plan = plan.join("\n");
    assert!(plan.contains("mdmkit_devices_name_trgm"), "{plan}");
    assert!(plan.contains("mdmkit_devices_serial_trgm"), "{plan}");
}

#[tokio::test]
async fn urls_name_their_database_and_errors_never_quote_them() {
    let err = mdmkit_sqlx::open("mysql://root:hunter2@localhost/db")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("sqlite: or postgres:"), "{err}");
    assert!(!format!("{err} {err:?}").contains("hunter2"));

    // Nothing listens on port 1: the connection fails, and the password appears nowhere.
    let err = mdmkit_sqlx::open("postgres://u:hunter2@127.0.0.1:1/db")
        .await
        .unwrap_err();
    let shown = format!("{err} {err:?} {}", error_chain(&err));
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("postgres"), "{shown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debug_output_shows_no_connection_secrets() {
    let Some(db) = TestSchema::create().await else {
        return;
    };
    let store = db.open().await;
    let shown = format!("{store:?} {:?}", store.stores());
    assert!(shown.contains(db.schema()), "{shown}");
    assert!(!shown.contains("password"), "{shown}");
    let sqlite = TempSqlite::new().unwrap();
    let shown = format!("{:?}", Arc::new(sqlite.open().await));
    assert!(shown.starts_with("SqliteStore"), "{shown}");
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = String::new();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(&format!(" <- {s} {s:?}"));
        cur = s.source();
    }
    out
}

/// Where `pg_trgm` cannot be created (here: a function of its name in the way, in both schemas the
/// migration tries), the migration says so in a notice and goes on: no trigram indexes, and search still
/// answers, by scanning the workspace's rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_without_pg_trgm_migrates_and_search_still_answers() {
    use sqlx::Connection;
    let Some(db) = TestSchema::create().await else {
        return;
    };
    // A database of its own: the extension is per database, and the test database has it.
    let name = format!(
        "{}_notrgm",
        db.schema().replace("mdmkit_test_", "mdmkit_test_db_")
    );
    let mut admin = sqlx::PgConnection::connect_with(db.options())
        .await
        .unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let options = db.options().clone().database(&name);
    // The database is dropped whether or not the checks panic, then a panic goes on.
    let checked = std::panic::AssertUnwindSafe(without_pg_trgm(options))
        .catch_unwind()
        .await;
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .unwrap();
    if let Err(panic) = checked {
        std::panic::resume_unwind(panic);
    }
}

async fn without_pg_trgm(options: sqlx::postgres::PgConnectOptions) {
    use sqlx::Connection;
    let schema = "mdmkit_notrgm";
    {
        let mut conn = sqlx::PgConnection::connect_with(&options).await.unwrap();
        for statement in [
            "CREATE FUNCTION public.similarity(text, text) RETURNS real LANGUAGE sql AS 'SELECT 0::real'"
                .to_owned(),
            format!("CREATE SCHEMA {schema}"),
            format!(
                "CREATE FUNCTION {schema}.similarity(text, text) RETURNS real LANGUAGE sql AS 'SELECT 0::real'"
            ),
        ] {
            sqlx::query(&statement).execute(&mut conn).await.unwrap();
        }
        conn.close().await.unwrap();
    }
    let store = PostgresStore::connect_with(options, PostgresConfig::with_schema(schema))
        .await
        .expect("the migration goes on without pg_trgm");
    let has_index = store.has_search_index().await.unwrap();
    let installed: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM pg_extension WHERE extname = 'pg_trgm'")
            .fetch_one(store.pool())
            .await
            .unwrap();
    // Search, non-ASCII and all, answers as with the indexes.
    storage_suite::devices(&store.stores()).await;
    store.close().await;
    assert_eq!(installed, 0, "pg_trgm could not be created");
    assert!(!has_index, "no trigram index without pg_trgm");
}
