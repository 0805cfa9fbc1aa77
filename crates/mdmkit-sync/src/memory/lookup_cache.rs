//! [`LookupCacheStore`] for [`MemoryStore`].

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::MemoryStore;
use crate::lookup_cache::{LookupCacheStore, LookupEntry, LookupKind};
use crate::model::{Fence, WorkspaceId};
use crate::store::StoreResult;

/// One workspace's entries by kind and key.
pub(super) type Entries = HashMap<(LookupKind, String), LookupEntry>;

#[async_trait]
impl LookupCacheStore for MemoryStore {
    async fn lookups(
        &self,
        ws: &WorkspaceId,
        kind: LookupKind,
        keys: &[String],
    ) -> StoreResult<Vec<LookupEntry>> {
        let inner = self.lock();
        let Some(entries) = inner.lookups.get(ws) else {
            return Ok(Vec::new());
        };
        let mut seen = std::collections::HashSet::new();
        Ok(keys
            .iter()
            .filter(|k| seen.insert(*k))
            .filter_map(|k| entries.get(&(kind, k.clone())).cloned())
            .collect())
    }

    async fn store_lookups(
        &self,
        ws: &WorkspaceId,
        fence: Fence,
        entries: &[LookupEntry],
    ) -> StoreResult<usize> {
        let mut inner = self.lock_fenced(ws, fence)?;
        let cache = inner.lookups.entry(ws.clone()).or_default();
        let mut written = std::collections::HashSet::new();
        for entry in entries {
            cache.insert((entry.kind, entry.key.clone()), entry.clone());
            written.insert((entry.kind, entry.key.as_str()));
        }
        Ok(written.len())
    }

    async fn count_lookups(
        &self,
        ws: &WorkspaceId,
        kind: LookupKind,
        fetched_since: DateTime<Utc>,
    ) -> StoreResult<u64> {
        Ok(self.lock().lookups.get(ws).map_or(0, |entries| {
            entries
                .values()
                .filter(|e| e.kind == kind && e.fetched_at >= fetched_since)
                .count() as u64
        }))
    }

    async fn clear_lookups(&self, ws: &WorkspaceId, fence: Fence) -> StoreResult<u64> {
        let mut inner = self.lock_fenced(ws, fence)?;
        Ok(inner.lookups.remove(ws).map_or(0, |e| e.len() as u64))
    }
}
