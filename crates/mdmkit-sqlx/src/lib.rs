//! # mdmkit-sqlx
//!
//! Durable stores for [`mdmkit_sync`], on [sqlx](https://docs.rs/sqlx):
//!
//! - [`SqliteStore`] (feature `sqlite`, on by default): one file, nothing to run. For a single process, a
//!   small deployment, the quickstart and the examples.
//! - `PostgresStore` (feature `postgres`): for backends that run several replicas on one database.
//!
//! Both implement every store trait, pass [`mdmkit_sync::storage_suite`] unchanged, keep their own
//! embedded migrations (applied when a store is opened, safely when several processes start at once), and
//! use queries checked at run time only: nothing needs a database, or offline query data, to build.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use mdmkit_sync::{Plan, WorkspaceId};
//! # let dir = mdmkit_sqlx::testing::TempSqlite::new()?;
//! # let url = dir.url();
//! // `url` is e.g. `sqlite://mdmkit.db`, or `postgres://user:password@db.internal/app` with the
//! // `postgres` feature. The stores go to `mdmkit_sync::MdmSync::new`.
//! let stores = mdmkit_sqlx::open(&url).await?;
//! let acme = WorkspaceId::new("acme");
//! stores.state.set_plan(&acme, Plan::Pro).await?;
//! drop(stores);
//!
//! // Opened again, as by the next process: what was saved is there.
//! let stores = mdmkit_sqlx::open(&url).await?;
//! assert_eq!(stores.state.sync_state(&acme).await?.plan, Plan::Pro);
//! # Ok(()) }
//! ```
//!
//! ## The schema
//!
//! | table | one row per | holds |
//! |---|---|---|
//! | `mdmkit_credentials` | connected workspace | the sealed (encrypted) credentials and the provider |
//! | `mdmkit_devices` | workspace × serial | MDM metadata, check time, lower-cased search columns |
//! | `mdmkit_groups`, `mdmkit_group_members` | group, member | name, MDM link, members by serial |
//! | `mdmkit_workspace_state` | workspace | plan, last runs, pending group sync |
//! | `mdmkit_leases` | workspace ever leased | holder, fencing number, expiry (by the database's clock) |
//! | `mdmkit_lookup_cache` | workspace × kind × key | cached follow-up answers (user names, device bindings) and when they were read |
//! | `mdmkit_sync_marks` | workspace | device watermark, last full listing, group delta link (migration 0002) |
//!
//! Migrations are numbered files under `migrations/sqlite` and `migrations/postgres`; a new version adds
//! a file to both, never edits an applied one.
#![deny(missing_docs)]

mod common;
mod error;
mod lookup_cache_impl;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;
mod store_impl;
pub mod testing;

pub use error::Error;
#[cfg(feature = "postgres")]
pub use postgres::{PostgresConfig, PostgresStore};
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;
pub use sqlx;

use mdmkit_sync::Stores;

/// Opens the database at `url` and returns the four stores the engine takes: `sqlite:` URLs open a
/// [`SqliteStore`], `postgres:`/`postgresql:` ones a `PostgresStore` (in the `mdmkit` schema). The schema
/// is brought up to date first.
pub async fn open(url: &str) -> Result<Stores, Error> {
    match url.split_once(':').map_or("", |(scheme, _)| scheme) {
        "sqlite" => open_sqlite(url).await,
        "postgres" | "postgresql" => open_postgres(url).await,
        _ => Err(Error::Config(
            "the database URL must start with sqlite: or postgres:".to_owned(),
        )),
    }
}

#[cfg(feature = "sqlite")]
async fn open_sqlite(url: &str) -> Result<Stores, Error> {
    Ok(SqliteStore::connect(url).await?.stores())
}

#[cfg(not(feature = "sqlite"))]
async fn open_sqlite(_: &str) -> Result<Stores, Error> {
    Err(feature_missing("sqlite"))
}

#[cfg(feature = "postgres")]
async fn open_postgres(url: &str) -> Result<Stores, Error> {
    Ok(PostgresStore::connect(url).await?.stores())
}

#[cfg(not(feature = "postgres"))]
async fn open_postgres(_: &str) -> Result<Stores, Error> {
    Err(feature_missing("postgres"))
}

#[cfg(not(all(feature = "sqlite", feature = "postgres")))]
fn feature_missing(feature: &str) -> Error {
    Error::Config(format!(
        "this build of mdmkit-sqlx has no {feature} support: enable its `{feature}` feature"
    ))
}
