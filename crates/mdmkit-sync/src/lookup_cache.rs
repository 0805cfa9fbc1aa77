//! Per-workspace lookup caches: what a bulk listing cannot carry and costs one request per object to
//! read, remembered so a daily refresh pays only for what changed.
//!
//! Two providers leave follow-up reads to the caller (see [`mdmkit_core::resolution`]):
//!
//! | cached | key | filled by | used for | re-read after (default) |
//! |---|---|---|---|---|
//! | [`LookupKind::UserName`]: a user's full name, or "no name" | MDM user id (Fleet: the IdP username) | `resolve_user_names`, and complete answers (below) | rows marked [`Unresolved::UserName`] (Fleet without SCIM in inline listings, JumpCloud's listings of changes) | [`LookupCacheConfig::user_name_max_age`], 7 days |
//! | [`LookupKind::DeviceUser`]: who is bound to a device, or "nobody" | MDM device id (JumpCloud system id, Fleet host id) | `resolve_device_users`, and complete answers with a user (below) | rows marked [`Unresolved::User`] (JumpCloud systems without a primary user, Fleet hosts whose IdP user a listing of changes does not name) | "nobody" [`LookupCacheConfig::unbound_max_age`], a bound user [`LookupCacheConfig::bound_max_age`], 7 days each |
//!
//! **Complete answers fill the caches too**, for providers whose listings may leave users to the caller
//! ([`MdmProvider::defers_user_reads`]): a lookup's device (in a lookup run, or within a listing of
//! changes) and a listed row the provider resolved itself (Fleet's SCIM names, JumpCloud's primary users
//! named from the directory) record the user's name and the device's binding. So a listing of changes the
//! day after a full one costs its pages: the changed devices' users are known. Rows answered from the
//! cache are never recorded again (an old answer would look new).
//!
//! A bulk refresh (a full listing or a listing of changes) lists with [`Resolution::Deferred`] and resolves
//! only the rows it is about to store (rows answering due devices, a batch at a time), from the cache where an entry is young enough and from the MDM
//! otherwise, at the provider's own concurrency (the provider crates fan out within their HTTP limits).
//! Answers are written back in batches under the run's lease, fenced like every other write.
//!
//! **Why these ages.** A name or a binding that changes in the MDM shows up at the latest after the age
//! limit; R5 asks for metadata at most once a day, not for every change within the day, and the change
//! filters of both vendors do not see a rename or a re-binding anyway. A week keeps the daily refresh at
//! its page count for a fleet that did not change, and re-reads each entry about four times a month. A
//! name keyed by user id is read at once for a new id (a new IdP username). A binding is keyed by
//! device, so a device handed to someone else (in JumpCloud's graph, or a Fleet host's IdP user) shows
//! the old user until its entry expires, unless a full inline answer (a lookup, a listing that names the
//! user itself) comes first. The cost of staleness is bounded: an entry is never used past its age.
//!
//! **Clearing.** Connecting with new credentials (R9) and disconnecting clear the workspace's caches in
//! the same transaction that clears its metadata, since ids of one MDM mean nothing in another.
//! [`MdmSync::clear_lookup_cache`](crate::MdmSync::clear_lookup_cache) clears them on demand (after fixing names in the IdP, say).
//!
//! **Failures.** A follow-up read that fails leaves the devices it concerned unanswered: their metadata
//! and check time are kept, so they stay due, and the run reports the error, as for a failed lookup.

use std::collections::{HashMap, HashSet};
use std::fmt::Debug;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mdmkit_core::{MdmDevice, MdmProvider, RequestCosts, Resolution, Unresolved, UserRef};
use serde::{Deserialize, Serialize};

use crate::clock::earlier;
use crate::engine::MdmSync;
use crate::error::Result;
use crate::lease::LeaseGuard;
use crate::model::{Fence, WorkspaceId};
use crate::refresh::{bulk_listing_requests, RefreshReport, Strategy, WRITE_BATCH};
use crate::store::StoreResult;

/// What a cache entry remembers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum LookupKind {
    /// A user's name, keyed by MDM user id.
    UserName,
    /// The user bound to a device (or nobody), keyed by MDM device id.
    DeviceUser,
}

impl LookupKind {
    /// Every kind.
    pub const ALL: [LookupKind; 2] = [LookupKind::UserName, LookupKind::DeviceUser];

    /// The kind's stored name (`user_name`, `device_user`).
    pub fn as_str(self) -> &'static str {
        match self {
            LookupKind::UserName => "user_name",
            LookupKind::DeviceUser => "device_user",
        }
    }

    /// The kind a stored name stands for.
    pub fn parse(text: &str) -> Option<LookupKind> {
        LookupKind::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// One remembered answer of the MDM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LookupEntry {
    /// What is remembered.
    pub kind: LookupKind,
    /// The MDM user id ([`LookupKind::UserName`]) or device id ([`LookupKind::DeviceUser`]).
    pub key: String,
    /// [`LookupKind::DeviceUser`]: the bound user's id, `None` for "nobody is bound". Always `None` for
    /// [`LookupKind::UserName`] (the key is the user).
    pub user_id: Option<String>,
    /// The user's name; `None` when the MDM holds none (or, for a binding, nobody is bound).
    pub user_name: Option<String>,
    /// When the MDM gave this answer.
    pub fetched_at: DateTime<Utc>,
}

impl LookupEntry {
    /// A user's name (or "no name") as the MDM gave it at `at`.
    pub fn user_name(user_id: impl Into<String>, name: Option<String>, at: DateTime<Utc>) -> Self {
        LookupEntry {
            kind: LookupKind::UserName,
            key: user_id.into(),
            user_id: None,
            user_name: clean(name),
            fetched_at: at,
        }
    }

    /// The user bound to a device (`None`: nobody) as the MDM gave it at `at`.
    pub fn device_user(
        device_id: impl Into<String>,
        user_id: Option<String>,
        user_name: Option<String>,
        at: DateTime<Utc>,
    ) -> Self {
        let user_id = clean(user_id);
        LookupEntry {
            kind: LookupKind::DeviceUser,
            key: device_id.into(),
            user_name: user_id.as_ref().and(clean(user_name)),
            user_id,
            fetched_at: at,
        }
    }
}

fn clean(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// The lookup caches of every workspace. Small and object-safe, like the other store traits, and
/// implemented over the same database: [`crate::CredentialStore::save_connection`] (when it clears
/// metadata) and [`crate::CredentialStore::remove_connection`] clear the workspace's entries in their
/// transaction.
#[async_trait]
pub trait LookupCacheStore: Debug + Send + Sync + 'static {
    /// The entries of `kind` for `keys`, whatever their age; keys without an entry are left out. Any
    /// number of keys (implementations read them in chunks).
    async fn lookups(
        &self,
        workspace: &WorkspaceId,
        kind: LookupKind,
        keys: &[String],
    ) -> StoreResult<Vec<LookupEntry>>;
    /// In one transaction under `fence`: inserts the entries, replacing those with the same kind and
    /// key (within `entries`, the last one for a key wins). Returns how many distinct keys were written.
    async fn store_lookups(
        &self,
        workspace: &WorkspaceId,
        fence: Fence,
        entries: &[LookupEntry],
    ) -> StoreResult<usize>;
    /// How many entries of `kind` were fetched at or after `fetched_since` (the refresh strategy's
    /// estimate of what a listing will not have to read).
    async fn count_lookups(
        &self,
        workspace: &WorkspaceId,
        kind: LookupKind,
        fetched_since: DateTime<Utc>,
    ) -> StoreResult<u64>;
    /// Under `fence`: forgets every entry of the workspace. Returns how many there were.
    async fn clear_lookups(&self, workspace: &WorkspaceId, fence: Fence) -> StoreResult<u64>;
}

/// How long cached answers are used (see the [module documentation](self) for the reasoning).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LookupCacheConfig {
    /// A user's name is read again once its entry is this old (7 days).
    pub user_name_max_age: Duration,
    /// "Nobody is bound to this device" is checked again once this old (7 days).
    pub unbound_max_age: Duration,
    /// A device's bound user is read again once this old (7 days).
    pub bound_max_age: Duration,
}

impl Default for LookupCacheConfig {
    fn default() -> Self {
        const WEEK: Duration = Duration::from_secs(7 * 24 * 3600);
        LookupCacheConfig {
            user_name_max_age: WEEK,
            unbound_max_age: WEEK,
            bound_max_age: WEEK,
        }
    }
}

impl LookupCacheConfig {
    /// How long `entry` may be used.
    fn max_age(&self, entry: &LookupEntry) -> Duration {
        match entry.kind {
            LookupKind::UserName => self.user_name_max_age,
            LookupKind::DeviceUser if entry.user_id.is_none() => self.unbound_max_age,
            LookupKind::DeviceUser => self.bound_max_age,
        }
    }

    /// Whether `entry` is young enough at `now` (an entry from the future counts as young: it is ours).
    pub fn is_fresh(&self, entry: &LookupEntry, now: DateTime<Utc>) -> bool {
        entry.fetched_at > earlier(now, self.max_age(entry))
    }

    /// The shortest age limit of `kind`: entries younger than it are surely usable.
    fn shortest(&self, kind: LookupKind) -> Duration {
        match kind {
            LookupKind::UserName => self.user_name_max_age,
            LookupKind::DeviceUser => self.unbound_max_age.min(self.bound_max_age),
        }
    }
}

/// What the caches did in one refresh run (part of [`RefreshReport`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LookupStats {
    /// Users or devices answered from the cache.
    pub hits: u64,
    /// Objects (users or devices) read from the MDM because the cache had no young entry for them.
    pub reads: u64,
    /// Entries written.
    pub stored: u64,
}

/// Bulk refresh with deferred follow-ups: `ceil(M / p)` pages plus the follow-up reads the cache is not
/// expected to answer.
pub(crate) fn choose_strategy_cached(
    due: usize,
    mdm_devices_estimate: u64,
    page_size: u32,
    costs: RequestCosts,
    follow_ups: u64,
) -> (Strategy, u64) {
    let lookups = due as u64 * u64::from(costs.per_lookup.max(1));
    let bulk = bulk_listing_requests(mdm_devices_estimate, page_size).saturating_add(follow_ups);
    if lookups > bulk {
        (Strategy::Bulk, bulk)
    } else {
        (Strategy::Lookups, lookups)
    }
}

/// One resolution of a listing's unresolved rows: what it reads with, and what it gathers on the way.
struct ResolvePass<'a> {
    provider: &'a dyn MdmProvider,
    workspace: &'a WorkspaceId,
    now: DateTime<Utc>,
    report: &'a mut RefreshReport,
    /// New answers, stored together once both kinds are resolved.
    fresh: Vec<LookupEntry>,
    resolved: Resolved,
}

/// Devices of a bulk listing, with the answers a resolution could not give.
pub(crate) struct Resolved {
    /// Devices whose follow-up read failed: no definite answer, so they are not written this run.
    pub(crate) failed: HashSet<String>,
}

impl MdmSync {
    /// Forgets every cached lookup of the workspace (the next refresh reads the MDM again). Runs under the
    /// workspace's lease like any other write; returns how many entries there were.
    pub async fn clear_lookup_cache(&self, workspace: &WorkspaceId) -> Result<u64> {
        self.under_lease(workspace, async |guard| {
            guard.check()?;
            Ok(self
                .stores
                .lookups
                .clear_lookups(workspace, guard.fence())
                .await?)
        })
        .await
    }

    /// How a bulk refresh lists: follow-up reads deferred, so only the devices the run stores are
    /// resolved, through the cache.
    pub(crate) fn listing_resolution(&self) -> Resolution {
        Resolution::Deferred
    }

    /// Follow-up reads a bulk refresh of `due` devices is expected to need: one per due device beyond the
    /// young cache entries, for providers whose listings need follow-ups at all. (An estimate: a user
    /// with several devices is one entry.)
    pub(crate) async fn expected_follow_ups(
        &self,
        workspace: &WorkspaceId,
        due: usize,
        costs: RequestCosts,
        now: DateTime<Utc>,
    ) -> Result<u64> {
        if costs.per_listed_device == 0 {
            return Ok(0);
        }
        let config = &self.config.lookup_cache;
        // A provider defers one kind of read; the other kind's entries (names a JumpCloud lookup run
        // learned) say nothing about it, so the larger count stands for the cache.
        let mut young = 0u64;
        for kind in LookupKind::ALL {
            let since = earlier(now, config.shortest(kind));
            young = young.max(
                self.stores
                    .lookups
                    .count_lookups(workspace, kind, since)
                    .await?,
            );
        }
        Ok((due as u64)
            .saturating_sub(young)
            .saturating_mul(u64::from(costs.per_listed_device)))
    }

    /// Fills in what the listing left unresolved on `devices` (the rows about to be stored), from the
    /// cache where young enough, else from the MDM; stores the new answers under the lease.
    pub(crate) async fn resolve_listed(
        &self,
        provider: &dyn MdmProvider,
        workspace: &WorkspaceId,
        guard: &LeaseGuard,
        now: DateTime<Utc>,
        devices: &mut [MdmDevice],
        report: &mut RefreshReport,
    ) -> Result<Resolved> {
        let mut pass = ResolvePass {
            provider,
            workspace,
            now,
            report,
            fresh: Vec::new(),
            resolved: Resolved {
                failed: HashSet::new(),
            },
        };
        self.resolve_names(&mut pass, devices).await?;
        self.resolve_bindings(&mut pass, devices).await?;
        self.store_entries(workspace, guard, &pass.fresh, pass.report)
            .await?;
        Ok(pass.resolved)
    }

    /// Names for rows marked [`Unresolved::UserName`], by user id.
    async fn resolve_names(
        &self,
        pass: &mut ResolvePass<'_>,
        devices: &mut [MdmDevice],
    ) -> Result<()> {
        let (provider, workspace, now) = (pass.provider, pass.workspace, pass.now);
        // One device per user: the vendor may read a user's name only through one of their devices.
        let mut wanted: HashMap<String, String> = HashMap::new();
        for d in devices.iter() {
            if d.unresolved == Some(Unresolved::UserName) {
                if let Some(user) = &d.user_id {
                    wanted
                        .entry(user.clone())
                        .or_insert_with(|| d.device_id.clone());
                }
            }
        }
        if wanted.is_empty() {
            return Ok(());
        }
        let keys: Vec<String> = wanted.keys().cloned().collect();
        let mut names = self
            .young_entries(workspace, LookupKind::UserName, &keys, now)
            .await?;
        pass.report.lookups.hits += names.len() as u64;
        let missing: Vec<UserRef> = wanted
            .iter()
            .filter(|(user, _)| !names.contains_key(*user))
            .map(|(user, device)| UserRef::new(user.clone(), device.clone()))
            .collect();
        let mut failed_users: HashSet<String> = HashSet::new();
        for chunk in missing.chunks(WRITE_BATCH) {
            pass.report.lookups.reads += chunk.len() as u64;
            match provider.resolve_user_names(chunk).await {
                Ok(answers) => {
                    let mut answered: HashMap<String, Option<String>> =
                        answers.into_iter().map(|a| (a.user_id, a.name)).collect();
                    for asked in chunk {
                        // Left out of the answer: the MDM has no name to give for this id now. Remembered
                        // as "no name", so it is not asked again every day.
                        let name = answered.remove(&asked.user_id).flatten();
                        let entry = LookupEntry::user_name(asked.user_id.clone(), name, now);
                        names.insert(asked.user_id.clone(), entry.clone());
                        pass.fresh.push(entry);
                    }
                }
                Err(e) => {
                    tracing::debug!(workspace = %workspace, error = %e, "resolving user names failed");
                    pass.report.fail(&e, None);
                    failed_users.extend(chunk.iter().map(|u| u.user_id.clone()));
                }
            }
        }
        for d in devices.iter_mut() {
            if d.unresolved != Some(Unresolved::UserName) {
                continue;
            }
            let Some(user) = d.user_id.clone() else {
                continue;
            };
            if let Some(entry) = names.get(&user) {
                d.resolve_user_name(entry.user_name.clone());
            } else if failed_users.contains(&user) {
                pass.resolved.failed.insert(d.device_id.clone());
            }
        }
        Ok(())
    }

    /// Bound users for rows marked [`Unresolved::User`], by device id.
    async fn resolve_bindings(
        &self,
        pass: &mut ResolvePass<'_>,
        devices: &mut [MdmDevice],
    ) -> Result<()> {
        let (provider, workspace, now) = (pass.provider, pass.workspace, pass.now);
        let keys: Vec<String> = devices
            .iter()
            .filter(|d| d.unresolved == Some(Unresolved::User))
            .map(|d| d.device_id.clone())
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        if keys.is_empty() {
            return Ok(());
        }
        let mut bindings = self
            .young_entries(workspace, LookupKind::DeviceUser, &keys, now)
            .await?;
        pass.report.lookups.hits += bindings.len() as u64;
        let missing: Vec<String> = keys
            .into_iter()
            .filter(|k| !bindings.contains_key(k))
            .collect();
        for chunk in missing.chunks(WRITE_BATCH) {
            pass.report.lookups.reads += chunk.len() as u64;
            match provider.resolve_device_users(chunk).await {
                // A device left out is one the MDM no longer has: nothing to remember; the row keeps
                // "nobody known" for this run.
                Ok(answers) => {
                    for a in answers {
                        let entry =
                            LookupEntry::device_user(a.device_id, a.user_id, a.user_name, now);
                        bindings.insert(entry.key.clone(), entry.clone());
                        pass.fresh.push(entry);
                    }
                }
                Err(e) => {
                    tracing::debug!(workspace = %workspace, error = %e, "resolving device users failed");
                    pass.report.fail(&e, None);
                    pass.resolved.failed.extend(chunk.iter().cloned());
                }
            }
        }
        for d in devices.iter_mut() {
            if d.unresolved != Some(Unresolved::User) {
                continue;
            }
            if let Some(entry) = bindings.get(&d.device_id) {
                d.resolve_user(entry.user_id.clone(), entry.user_name.clone());
            }
        }
        Ok(())
    }

    /// The young entries of `kind` for `keys`, by key.
    async fn young_entries(
        &self,
        workspace: &WorkspaceId,
        kind: LookupKind,
        keys: &[String],
        now: DateTime<Utc>,
    ) -> Result<HashMap<String, LookupEntry>> {
        let config = &self.config.lookup_cache;
        let mut found = HashMap::new();
        for chunk in keys.chunks(WRITE_BATCH) {
            for entry in self.stores.lookups.lookups(workspace, kind, chunk).await? {
                if config.is_fresh(&entry, now) {
                    found.insert(entry.key.clone(), entry);
                }
            }
        }
        Ok(found)
    }

    /// Writes `entries` in batches, each under the lease's fence.
    pub(crate) async fn store_entries(
        &self,
        workspace: &WorkspaceId,
        guard: &LeaseGuard,
        entries: &[LookupEntry],
        report: &mut RefreshReport,
    ) -> Result<()> {
        for chunk in entries.chunks(WRITE_BATCH) {
            guard.check()?;
            let written = self
                .stores
                .lookups
                .store_lookups(workspace, guard.fence(), chunk)
                .await?;
            report.lookups.stored += written as u64;
        }
        Ok(())
    }
}

/// What a complete answer of the MDM tells the caches, for providers whose listings may leave users to
/// the caller ([`MdmProvider::defers_user_reads`]): the user's name by user id, and the user bound to the
/// device. A complete answer is a lookup's device or a
/// listed row the provider resolved itself (Fleet's names from SCIM, JumpCloud's primary users from the
/// directory); rows resolved from the cache are never passed here, since recording them again would make
/// an old answer look new. A device without a user records nothing: "nobody is bound" is remembered only
/// from a binding read ([`crate::MdmSync`]'s `resolve_device_users` calls), not from a row that may just
/// lack an IdP identity for now.
pub(crate) fn learned_from(
    device: &MdmDevice,
    now: DateTime<Utc>,
) -> impl Iterator<Item = LookupEntry> + '_ {
    let user = device
        .unresolved
        .is_none()
        .then_some(device.user_id.as_ref())
        .flatten();
    user.into_iter().flat_map(move |user| {
        [
            LookupEntry::user_name(user.clone(), device.user_name.clone(), now),
            LookupEntry::device_user(
                device.device_id.clone(),
                Some(user.clone()),
                device.user_name.clone(),
                now,
            ),
        ]
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    fn at(days: i64) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
            + TimeDelta::days(days)
    }

    #[test]
    fn entries_expire_by_kind_and_binding() {
        let config = LookupCacheConfig {
            user_name_max_age: Duration::from_secs(7 * 86_400),
            unbound_max_age: Duration::from_secs(10 * 86_400),
            bound_max_age: Duration::from_secs(2 * 86_400),
        };
        let name = LookupEntry::user_name("anna@acme.com", Some(" Anna ".into()), at(0));
        assert_eq!(name.user_name.as_deref(), Some("Anna"));
        assert!(config.is_fresh(&name, at(6)));
        assert!(!config.is_fresh(&name, at(7)), "a week old is stale");
        let unbound = LookupEntry::device_user("s1", None, Some("ignored".into()), at(0));
        assert_eq!(unbound.user_name, None, "nobody bound has no name");
        assert!(config.is_fresh(&unbound, at(9)));
        assert!(!config.is_fresh(&unbound, at(10)));
        let bound = LookupEntry::device_user("s2", Some("u1".into()), Some("Bo".into()), at(0));
        assert!(config.is_fresh(&bound, at(1)));
        assert!(!config.is_fresh(&bound, at(2)));
        assert!(config.is_fresh(&bound, at(-30)), "from the future: ours");
        assert_eq!(
            config.shortest(LookupKind::DeviceUser),
            Duration::from_secs(2 * 86_400)
        );
        for kind in LookupKind::ALL {
            assert_eq!(LookupKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(LookupKind::parse("other"), None);
    }

    #[test]
    fn a_warm_cache_makes_the_listing_cheaper_than_lookups() {
        let fleet = RequestCosts {
            per_lookup: 1,
            per_listed_device: 1,
        };
        // Cold: 1,000 due devices by listing would cost 10 pages and 1,000 follow-ups.
        assert_eq!(
            choose_strategy_cached(1000, 1000, 100, fleet, 1000),
            (Strategy::Lookups, 1000)
        );
        // Warm: 10 pages and 50 follow-ups.
        assert_eq!(
            choose_strategy_cached(1000, 1000, 100, fleet, 50),
            (Strategy::Bulk, 60)
        );
        assert_eq!(
            choose_strategy_cached(3, 1000, 100, fleet, 0),
            (Strategy::Lookups, 3)
        );
    }
}
