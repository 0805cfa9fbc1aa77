//! Group sync (R10, R11, R12): when it may run, and how the MDM's groups are reconciled.
//!
//! # When
//!
//! Only on the Pro and Enterprise plans ([`crate::Error::PlanExcludesGroupSync`] otherwise), and only on
//! metadata that is current for the connection: after the connection changed, no group sync runs until a
//! refresh has completed ([`crate::WorkspaceState::refresh_pending`], [`crate::Error::RefreshPending`]),
//! because members are matched by the MDM device IDs that the change cleared. The scheduler
//! runs it every [`crate::SyncConfig::group_sync_interval`] (6 h) and at once while one is pending (the
//! connection changed, see [`MdmSync::connect`]); people run it with [`MdmSync::sync_groups_now`], at most
//! once per [`crate::SyncConfig::manual_group_sync_cooldown`] (15 min, measured from the previous manual
//! request, whether it succeeded or not, so a failing MDM is not hammered by clicks). Every run holds the
//! workspace's lease, so at most one runs at a time.
//!
//! # How
//!
//! Each run reads the MDM's groups first; if that fails, nothing is changed. Where the provider reads
//! groups by delta (Entra, [`mdmkit_core::MdmProvider::supports_group_delta`]), the run passes the delta
//! link stored for the workspace ([`crate::SyncMarks::group_delta`]) and gets back only the groups that
//! changed (each with its complete membership) and the ids of deleted ones; groups it does not mention
//! stay as they are. The new link is stored only after the groups were written, so a failed sync reads
//! the same changes again. Without a link, with one the server no longer accepts (`syncStateNotFound`,
//! HTTP 410, after about a week: the provider falls back by itself) or once the last full read is older
//! than [`crate::SyncConfig::full_group_read_interval`] (24 h), every group is read: the full read also
//! matches the members of unchanged groups against device metadata fetched since. Other providers read
//! the full list every time. Then:
//!
//! - A group is identified by its link: provider, MDM account ([`mdmkit_core::ProviderConfig::account_key`]) and MDM group id.
//! - A new MDM group becomes a new synced group; its label is `Managed by <provider>`
//!   ([`GroupRecord::managed_by`]).
//! - An existing synced group gets the MDM's name and membership, overwriting local edits (R12).
//! - Members are matched by MDM device ID through the stored metadata (R4); MDM members no device of the
//!   workspace carries are counted as `members_unmatched`.
//! - A synced group the MDM no longer lists, or a delta reports deleted (or one linked to another provider
//!   or account), is **detached**:
//!   its link is removed and it stays, with its name and members, as an ordinary editable group.
//!
//! # Name collisions
//!
//! Manual groups are the workspace's own and are never renamed, merged or re-linked. When an MDM group's name
//! equals (trimmed, case-insensitively) the name of a manual group, or of a group this run detaches, the
//! synced group takes the MDM name with the provider appended, `Sales (Jamf)`, then `Sales (Jamf 2)`, … The
//! same applies when the MDM itself has several groups of one name (Entra allows it); the first by MDM id
//! keeps the plain name, so results are stable from run to run. Every such rename is listed in
//! [`GroupSyncReport::renamed`]. Once the manual group is renamed or deleted, the next sync gives the synced
//! group its plain name back.
//!
//! A synced group deleted locally while the MDM still has it is created again by the next sync: the MDM is
//! the source of truth for synced groups; remove the group there (or disconnect) to get rid of it.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};
use mdmkit_core::{GroupDeltaKind, GroupDeltaToken, MdmGroup, ProviderKind, SerialNumber};

use crate::clock::later;
use crate::engine::{all_pages, Connection, MdmSync};
use crate::error::{Error, Result};
use crate::lease::LeaseGuard;
use crate::model::{
    GroupChanges, GroupRecord, NewGroup, ProviderLink, WorkspaceId, WorkspaceState,
};
pub use crate::reports::{GroupSyncOutcome, GroupSyncReport, GroupSyncTrigger, NameCollision};

fn name_key(name: &str) -> String {
    name.trim().to_lowercase()
}

/// `base`, or `base (Provider)`, `base (Provider 2)`, … whichever is free first.
fn free_name(base: &str, provider: ProviderKind, taken: &HashSet<String>) -> String {
    if !taken.contains(&name_key(base)) {
        return base.to_owned();
    }
    let label = provider.display_name();
    let mut n = 1u32;
    loop {
        let candidate = if n == 1 {
            format!("{base} ({label})")
        } else {
            format!("{base} ({label} {n})")
        };
        if !taken.contains(&name_key(&candidate)) {
            return candidate;
        }
        n += 1;
    }
}

/// Refuses a group sync while the workspace's metadata is not current for its connection.
fn ensure_metadata_current(workspace: &WorkspaceId, state: &WorkspaceState) -> Result<()> {
    if state.refresh_pending {
        return Err(Error::RefreshPending {
            workspace: workspace.clone(),
        });
    }
    Ok(())
}

/// When the next manual sync is allowed, if the cooldown is still running at `now`.
pub(crate) fn cooldown_until(
    state: &WorkspaceState,
    now: DateTime<Utc>,
    cooldown: std::time::Duration,
) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let last = state.last_manual_group_sync?;
    let next = later(last, cooldown);
    (now < next).then_some((last, next))
}

/// What a group read returned.
struct GroupRead {
    /// Every group (full read), or the changed ones with their complete membership.
    groups: Vec<MdmGroup>,
    /// Changes only: ids of deleted groups.
    removed: HashSet<String>,
    changes_only: bool,
    token: Option<GroupDeltaToken>,
}

impl MdmSync {
    /// Runs a group sync now, on a person's request (R10): Pro and Enterprise only, at most once per
    /// cooldown ([`Error::Cooldown`] says when the next is allowed), never while another sync runs
    /// ([`Error::AlreadyRunning`]), never before the metadata is current for a changed connection
    /// ([`Error::RefreshPending`]).
    pub async fn sync_groups_now(&self, workspace: &WorkspaceId) -> Result<GroupSyncReport> {
        let now = self.clock.now();
        let state = self.stores.state.sync_state(workspace).await?;
        if !state.plan.allows_group_sync() {
            return Err(Error::PlanExcludesGroupSync { plan: state.plan });
        }
        self.under_lease(workspace, async |guard| {
            let connection = self.connection(workspace).await?;
            // Read again under the lease: another request may have just started a sync.
            let state = self.stores.state.sync_state(workspace).await?;
            // Before the cooldown starts: a refused request does not count as one.
            ensure_metadata_current(workspace, &state)?;
            if let Some((last, next_allowed)) =
                cooldown_until(&state, now, self.config.manual_group_sync_cooldown)
            {
                return Err(Error::Cooldown { last, next_allowed });
            }
            self.stores
                .state
                .record_manual_group_sync(workspace, guard.fence(), now)
                .await?;
            self.group_sync_locked(workspace, &connection, GroupSyncTrigger::Manual, now, guard)
                .await
        })
        .await
    }

    /// A scheduled sync. Under the lease the decision (`still_due`) is taken again on fresh state, because
    /// another replica may have just run it: `None` when it is no longer due.
    pub(crate) async fn sync_groups_scheduled(
        &self,
        workspace: &WorkspaceId,
        now: DateTime<Utc>,
        still_due: impl Fn(&WorkspaceState) -> bool,
    ) -> Result<Option<GroupSyncReport>> {
        let state = self.stores.state.sync_state(workspace).await?;
        if !state.plan.allows_group_sync() {
            return Err(Error::PlanExcludesGroupSync { plan: state.plan });
        }
        self.under_lease(workspace, async |guard| {
            if !still_due(&self.stores.state.sync_state(workspace).await?) {
                return Ok(None);
            }
            let connection = self.connection(workspace).await?;
            self.group_sync_locked(
                workspace,
                &connection,
                GroupSyncTrigger::Scheduled,
                now,
                guard,
            )
            .await
            .map(Some)
        })
        .await
    }

    pub(crate) async fn group_sync_locked(
        &self,
        workspace: &WorkspaceId,
        connection: &Connection,
        trigger: GroupSyncTrigger,
        now: DateTime<Utc>,
        guard: &LeaseGuard,
    ) -> Result<GroupSyncReport> {
        // The one check every trigger passes (connect, scheduler, manual), under the lease. Not an attempt:
        // nothing was asked of the MDM, so no retry back-off starts.
        ensure_metadata_current(workspace, &self.stores.state.sync_state(workspace).await?)?;
        let requests_before = connection.provider.request_count();
        let result = self
            .reconcile(workspace, connection, trigger, now, guard)
            .await;
        let succeeded = result.is_ok();
        self.stores
            .state
            .record_group_sync_attempt(workspace, guard.fence(), now, succeeded)
            .await?;
        match result {
            Ok(mut report) => {
                report.requests = connection
                    .provider
                    .request_count()
                    .saturating_sub(requests_before);
                tracing::info!(
                    workspace = %workspace,
                    provider = %report.provider,
                    %trigger,
                    created = report.created,
                    updated = report.updated,
                    detached = report.detached,
                    renamed = report.renamed.len(),
                    requests = report.requests,
                    "MDM group sync finished"
                );
                Ok(report)
            }
            Err(e) => {
                tracing::warn!(workspace = %workspace, %trigger, error = %e, "MDM group sync failed");
                Err(e)
            }
        }
    }

    async fn reconcile(
        &self,
        workspace: &WorkspaceId,
        connection: &Connection,
        trigger: GroupSyncTrigger,
        now: DateTime<Utc>,
        guard: &LeaseGuard,
    ) -> Result<GroupSyncReport> {
        // The MDM's answer first: on failure nothing is touched (a partial list would detach good groups).
        let read = self.read_groups(workspace, connection, now).await?;
        guard.check()?;

        let mut seen_ids = HashSet::new();
        let mut mdm_groups: Vec<MdmGroup> = read
            .groups
            .into_iter()
            .filter(|g| seen_ids.insert(g.id.clone()))
            .collect();
        let changed_ids = seen_ids.clone();
        if read.changes_only {
            // Groups the delta does not mention are unchanged: still ours, unless deleted.
            for group in self.stores.groups.groups(workspace).await? {
                if let Some(link) = &group.link {
                    if link.provider == connection.kind
                        && link.account == connection.account
                        && !read.removed.contains(&link.mdm_group_id)
                    {
                        seen_ids.insert(link.mdm_group_id.clone());
                    }
                }
            }
        }
        mdm_groups.sort_by(|a, b| {
            name_key(&a.name)
                .cmp(&name_key(&b.name))
                .then_with(|| a.id.cmp(&b.id))
        });

        let mut members_by_device_id: HashMap<String, Vec<SerialNumber>> = HashMap::new();
        let devices = &self.stores.devices;
        for device in all_pages(|p| devices.devices(workspace, p)).await? {
            if let Some(m) = device.metadata {
                members_by_device_id
                    .entry(m.device_id)
                    .or_default()
                    .push(device.serial_number);
            }
        }

        // Split the stored groups: manual, linked to this account's MDM groups, or to be detached.
        let ours = |link: &ProviderLink| {
            link.provider == connection.kind
                && link.account == connection.account
                && seen_ids.contains(&link.mdm_group_id)
        };
        let mut taken = HashSet::new();
        let mut linked: HashMap<String, GroupRecord> = HashMap::new();
        let mut detach = Vec::new();
        for group in self.stores.groups.groups(workspace).await? {
            match &group.link {
                None => {
                    taken.insert(name_key(&group.name));
                }
                Some(link) if ours(link) && !linked.contains_key(&link.mdm_group_id) => {
                    if !changed_ids.contains(&link.mdm_group_id) {
                        // Unchanged since the last delta: kept as is, and its name stays taken.
                        taken.insert(name_key(&group.name));
                    }
                    linked.insert(link.mdm_group_id.clone(), group);
                }
                Some(_) => {
                    taken.insert(name_key(&group.name));
                    detach.push(group);
                }
            }
        }

        let mut report = GroupSyncReport {
            workspace: workspace.clone(),
            provider: connection.kind,
            trigger,
            started_at: now,
            mdm_groups: seen_ids.len(),
            created: 0,
            updated: 0,
            unchanged: seen_ids.len().saturating_sub(changed_ids.len()),
            detached: 0,
            renamed: Vec::new(),
            members_matched: 0,
            members_unmatched: 0,
            requests: 0,
            delta: false,
        };

        let mut changes = GroupChanges::default();
        for mut group in detach {
            group.link = None;
            changes.update.push(group);
            report.detached += 1;
        }

        for mdm in mdm_groups {
            let base = match mdm.name.trim() {
                "" => format!("Unnamed group {}", mdm.id),
                name => name.to_owned(),
            };
            let name = free_name(&base, connection.kind, &taken);
            taken.insert(name_key(&name));
            if name != base {
                report.renamed.push(NameCollision {
                    mdm_group_id: mdm.id.clone(),
                    mdm_name: mdm.name.clone(),
                    name: name.clone(),
                });
            }
            let mut members = BTreeSet::new();
            for device_id in &mdm.member_device_ids {
                match members_by_device_id.get(device_id) {
                    Some(serials) => {
                        report.members_matched += 1;
                        members.extend(serials.iter().cloned());
                    }
                    None => report.members_unmatched += 1,
                }
            }
            match linked.remove(&mdm.id) {
                Some(mut existing) => {
                    if existing.name == name && existing.members == members {
                        report.unchanged += 1;
                    } else {
                        existing.name = name;
                        existing.members = members;
                        changes.update.push(existing);
                        report.updated += 1;
                    }
                }
                None => {
                    let link = ProviderLink {
                        provider: connection.kind,
                        account: connection.account.clone(),
                        mdm_group_id: mdm.id.clone(),
                    };
                    changes.create.push(NewGroup {
                        name,
                        link: Some(link),
                        members,
                    });
                    report.created += 1;
                }
            }
        }
        // One transaction: a sync that fails or loses its lease half-way leaves the groups as they were.
        if !changes.is_empty() {
            guard.check()?;
            self.stores
                .groups
                .apply_group_changes(workspace, guard.fence(), changes)
                .await?;
        }
        // Only once the groups are written: a sync that failed reads the same changes again.
        if connection.provider.supports_group_delta() {
            guard.check()?;
            self.stores
                .marks
                .record_group_delta(
                    workspace,
                    guard.fence(),
                    read.token.as_ref().map(GroupDeltaToken::as_str),
                    (!read.changes_only).then_some(now),
                )
                .await?;
        }
        report.delta = read.changes_only;
        Ok(report)
    }

    /// The MDM's groups: by delta from the stored token where the provider reads deltas and the last
    /// full read is younger than [`crate::SyncConfig::full_group_read_interval`], else a full read.
    async fn read_groups(
        &self,
        workspace: &WorkspaceId,
        connection: &Connection,
        now: DateTime<Utc>,
    ) -> Result<GroupRead> {
        let provider = &connection.provider;
        let token = if provider.supports_group_delta() {
            let marks = self.stores.marks.sync_marks(workspace).await?;
            let fresh = marks.last_full_group_read.is_some_and(|at| {
                at <= now && now < later(at, self.config.full_group_read_interval)
            });
            marks
                .group_delta
                .filter(|_| fresh)
                .map(GroupDeltaToken::new)
        } else {
            None
        };
        let delta = provider.groups_delta(token.as_ref()).await?;
        let changes_only = delta.kind == GroupDeltaKind::Changes;
        if token.is_some() && !changes_only {
            tracing::info!(workspace = %workspace, "the MDM no longer accepted the group delta link; read every group");
        }
        Ok(GroupRead {
            groups: delta.groups,
            removed: delta.removed.into_iter().collect(),
            changes_only,
            token: delta.token,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_names_append_the_provider_then_a_number() {
        let taken: HashSet<String> = ["sales", "sales (jamf)"].map(String::from).into();
        assert_eq!(free_name("Ops", ProviderKind::Jamf, &taken), "Ops");
        assert_eq!(
            free_name("SALES", ProviderKind::Fleet, &taken),
            "SALES (Fleet)"
        );
        assert_eq!(
            free_name("Sales", ProviderKind::Jamf, &taken),
            "Sales (Jamf 2)"
        );
    }
}
