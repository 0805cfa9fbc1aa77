//! The storage suite against the in-memory store (durable stores run the same functions).

use std::sync::Arc;

use mdmkit_sync::{storage_suite, MemoryStore, Stores};

#[tokio::test]
async fn memory_store_passes_the_whole_suite() {
    storage_suite::run_all(&Stores::memory()).await;
}

#[tokio::test]
async fn the_suite_can_run_twice_on_one_store() {
    // Random workspace names keep runs apart, as they must on a shared database.
    let store = Arc::new(MemoryStore::new());
    let stores = Stores::from_one(store);
    storage_suite::run_all(&stores).await;
    storage_suite::run_all(&stores).await;
}
