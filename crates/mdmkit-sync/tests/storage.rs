//! The storage suite against the in-memory store (the durable stores in `mdmkit-sqlx` run the same cases).

use std::sync::Arc;

use mdmkit_sync::{storage_suite, MemoryStore, Stores};

async fn memory() -> Option<MemoryStore> {
    Some(MemoryStore::new())
}

mdmkit_sync::storage_suite_tests!(memory);

#[tokio::test]
async fn the_suite_can_run_twice_on_one_store() {
    // Random workspace names keep runs apart, as they must on a shared database.
    let stores = Stores::from_one(Arc::new(MemoryStore::new()));
    storage_suite::run_all(&stores).await;
    storage_suite::run_all(&stores).await;
}
