//! The storage suite against SQLite: a file in a temporary directory per case.

use mdmkit_sqlx::testing::TempSqlite;

async fn sqlite() -> Option<TempSqlite> {
    Some(TempSqlite::new().expect("a temporary directory"))
}

mdmkit_sync::storage_suite_tests!(sqlite);
