//! Storage at fleet scale: 100,000 devices in one workspace, on each store. Prints timings, asserts only
//! correctness (the suite's `large_fleet` checks every result).
//!
//! ```text
//! cargo bench -p mdmkit-sqlx --bench storage            # 100,000 devices
//! cargo bench -p mdmkit-sqlx --bench storage -- 20000   # another size
//! ```
//!
//! PostgreSQL is `MDMKIT_TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/test`), in a
//! schema of its own, dropped afterwards; it is skipped when unreachable.

use std::time::Duration;

use mdmkit_sqlx::testing::{TempSqlite, TestSchema};
use mdmkit_sync::storage_suite::{self, LargeFleetTimings, LARGE_FLEET_BATCH};
use mdmkit_sync::Stores;

fn ms(d: Duration) -> String {
    format!("{:>9.1} ms", d.as_secs_f64() * 1000.0)
}

fn print(store: &str, t: &LargeFleetTimings) {
    println!(
        "{store:<10} {:>7} devices | add {} | write {} ({} batches of {}) | search {} ({} hits, all pages) | \
         count due {} | scan {}",
        t.devices,
        ms(t.add),
        ms(t.write),
        t.batches,
        LARGE_FLEET_BATCH,
        ms(t.search),
        t.search_matches,
        ms(t.count_due),
        ms(t.scan),
    );
}

async fn measure(store: &str, stores: &Stores, devices: usize) {
    let timings = storage_suite::large_fleet(stores, devices).await;
    print(store, &timings);
}

#[tokio::main]
async fn main() {
    let devices: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(100_000);
    measure("memory", &Stores::memory(), devices).await;

    let sqlite = TempSqlite::new().expect("a temporary directory");
    measure("sqlite", &sqlite.open().await.stores(), devices).await;

    match TestSchema::create().await {
        Some(db) => {
            let store = db.open().await;
            measure("postgres", &store.stores(), devices).await;
            println!(
                "postgres   trigram search index: {}",
                store.has_search_index().await.unwrap_or(false)
            );
        }
        None => println!("postgres   skipped: no database"),
    }
}
