//! [`mdmkit_sync::LookupCacheStore`] for both databases, generated inside [`crate::store_impl`]'s module
//! so it shares its fenced transactions.
//!
//! One table, `mdmkit_lookup_cache`, keyed by workspace, kind and key. Reads and writes go in chunks of
//! [`ROWS_PER_STATEMENT`](crate::common::ROWS_PER_STATEMENT) rows, so a cache of any size stays under
//! both drivers' bind limits; a write is one transaction under the lease's fence. The caches are cleared
//! with the workspace's metadata (`CLEAR_LOOKUPS` runs wherever `CLEAR_METADATA` does).

use mdmkit_sync::{LookupEntry, LookupKind, StoreError};

use crate::common::{corrupt, DbTime};

/// Rows of `mdmkit_lookup_cache`.
#[derive(sqlx::FromRow)]
pub(crate) struct LookupRow {
    kind: String,
    lookup_key: String,
    user_id: Option<String>,
    user_name: Option<String>,
    fetched_at: DbTime,
}

impl LookupRow {
    pub(crate) fn into_entry(self) -> Result<LookupEntry, StoreError> {
        let at = self.fetched_at.0;
        match LookupKind::parse(&self.kind) {
            Some(LookupKind::UserName) => {
                Ok(LookupEntry::user_name(self.lookup_key, self.user_name, at))
            }
            Some(LookupKind::DeviceUser) => Ok(LookupEntry::device_user(
                self.lookup_key,
                self.user_id,
                self.user_name,
                at,
            )),
            _ => Err(corrupt(format!("unknown lookup kind {:?}", self.kind))),
        }
    }
}

/// The entries of a write, the last one per kind and key kept (a multi-row upsert may not touch a row
/// twice).
pub(crate) fn last_per_key(entries: &[LookupEntry]) -> Vec<&LookupEntry> {
    let mut index = std::collections::HashMap::new();
    let mut kept: Vec<&LookupEntry> = Vec::with_capacity(entries.len());
    for entry in entries {
        match index.entry((entry.kind, entry.key.as_str())) {
            std::collections::hash_map::Entry::Occupied(slot) => kept[*slot.get()] = entry,
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(kept.len());
                kept.push(entry);
            }
        }
    }
    kept
}

pub(crate) mod sql {
    pub(crate) const CLEAR_LOOKUPS: &str = "DELETE FROM mdmkit_lookup_cache WHERE workspace = $1";
    /// Completed by `(key, …)` and `)`.
    pub(crate) const LOOKUPS: &str = "SELECT kind, lookup_key, user_id, user_name, fetched_at \
         FROM mdmkit_lookup_cache WHERE workspace = ";
    /// Completed by a multi-row `VALUES` list, then [`STORE_LOOKUPS_END`].
    pub(crate) const STORE_LOOKUPS: &str = "INSERT INTO mdmkit_lookup_cache \
         (workspace, kind, lookup_key, user_id, user_name, fetched_at) ";
    pub(crate) const STORE_LOOKUPS_END: &str = " ON CONFLICT (workspace, kind, lookup_key) \
         DO UPDATE SET user_id = excluded.user_id, user_name = excluded.user_name, \
         fetched_at = excluded.fetched_at";
    pub(crate) const COUNT_LOOKUPS: &str = "SELECT COUNT(*) FROM mdmkit_lookup_cache \
         WHERE workspace = $1 AND kind = $2 AND fetched_at >= $3";
}

/// Implements `LookupCacheStore` for `$Store`; expanded inside `sql_store!`'s module.
macro_rules! sql_lookup_store {
    ($Store:ident) => {
        mod lookup_impls {
            use async_trait::async_trait;
            use chrono::{DateTime, Utc};
            use mdmkit_sync::{
                Fence, LookupCacheStore, LookupEntry, LookupKind, StoreResult, WorkspaceId,
            };
            use sqlx::QueryBuilder;

            use super::{$Store, Db};
            use crate::common::{backend, DbTime, ROWS_PER_STATEMENT};
            use crate::lookup_cache_impl::{last_per_key, sql, LookupRow};

            #[async_trait]
            impl LookupCacheStore for $Store {
                async fn lookups(
                    &self,
                    ws: &WorkspaceId,
                    kind: LookupKind,
                    keys: &[String],
                ) -> StoreResult<Vec<LookupEntry>> {
                    let mut unique: Vec<&str> = keys.iter().map(String::as_str).collect();
                    unique.sort_unstable();
                    unique.dedup();
                    let mut found = Vec::new();
                    for chunk in unique.chunks(ROWS_PER_STATEMENT) {
                        let mut qb = QueryBuilder::<Db>::new(sql::LOOKUPS);
                        qb.push_bind(ws.as_str())
                            .push(" AND kind = ")
                            .push_bind(kind.as_str())
                            .push(" AND lookup_key IN (");
                        let mut list = qb.separated(", ");
                        for key in chunk {
                            list.push_bind(*key);
                        }
                        qb.push(")");
                        let rows = qb
                            .build_query_as::<LookupRow>()
                            .fetch_all(&self.pool)
                            .await
                            .map_err(|e| backend("reading cached lookups", e))?;
                        for row in rows {
                            found.push(row.into_entry()?);
                        }
                    }
                    Ok(found)
                }

                async fn store_lookups(
                    &self,
                    ws: &WorkspaceId,
                    fence: Fence,
                    entries: &[LookupEntry],
                ) -> StoreResult<usize> {
                    let mut tx = self.fenced(ws, fence).await?;
                    let kept = last_per_key(entries);
                    for chunk in kept.chunks(ROWS_PER_STATEMENT) {
                        let mut qb = QueryBuilder::<Db>::new(sql::STORE_LOOKUPS);
                        qb.push_values(chunk, |mut row, entry| {
                            row.push_bind(ws.as_str())
                                .push_bind(entry.kind.as_str())
                                .push_bind(entry.key.as_str())
                                .push_bind(entry.user_id.as_deref())
                                .push_bind(entry.user_name.as_deref())
                                .push_bind(DbTime(entry.fetched_at));
                        });
                        qb.push(sql::STORE_LOOKUPS_END);
                        Self::exec(&mut tx, "storing cached lookups", qb.build()).await?;
                    }
                    Self::commit(tx).await?;
                    Ok(kept.len())
                }

                async fn count_lookups(
                    &self,
                    ws: &WorkspaceId,
                    kind: LookupKind,
                    fetched_since: DateTime<Utc>,
                ) -> StoreResult<u64> {
                    let n: i64 = sqlx::query_scalar(sql::COUNT_LOOKUPS)
                        .bind(ws.as_str())
                        .bind(kind.as_str())
                        .bind(DbTime(fetched_since))
                        .fetch_one(&self.pool)
                        .await
                        .map_err(|e| backend("counting cached lookups", e))?;
                    Ok(u64::try_from(n).unwrap_or(0))
                }

                async fn clear_lookups(&self, ws: &WorkspaceId, fence: Fence) -> StoreResult<u64> {
                    let mut tx = self.fenced(ws, fence).await?;
                    let cleared = Self::exec(
                        &mut tx,
                        "clearing cached lookups",
                        sqlx::query(sql::CLEAR_LOOKUPS).bind(ws.as_str()),
                    )
                    .await?;
                    Self::commit(tx).await?;
                    Ok(cleared)
                }
            }
        }
    };
}

pub(crate) use sql_lookup_store;
