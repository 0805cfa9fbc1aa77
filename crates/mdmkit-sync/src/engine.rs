//! [`MdmSync`]: connect and disconnect (R8, R9, R10), device views with links and search (R6, R7), and the
//! lease every state-changing operation runs under.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use mdmkit_core::{
    CredentialField, DeviceLink, MdmProvider, MdmProviderExt, ProviderConfig, ProviderKind,
    SerialNumber,
};
use serde::Serialize;

use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::lease::LeaseGuard;
use crate::lookup_cache::LookupCacheConfig;
use crate::model::{
    ConnectionChange, DevicePage, DeviceRecord, GroupRecord, MdmMetadata, Paging, Plan,
    WorkspaceId, WorkspaceState,
};
use crate::provider::ProviderFactory;
use crate::reports::{
    ConnectReport, DisconnectReport, GroupSyncOutcome, GroupSyncTrigger, RefreshOutcome,
};
use crate::store::Stores;
use crate::vault::Vault;

/// The engine's timings and bounds. The defaults are the product rules.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SyncConfig {
    /// A device's metadata is fetched at most once per this interval (R5: 24 h).
    pub refresh_interval: Duration,
    /// Scheduled group syncs run this often (R10: 6 h).
    pub group_sync_interval: Duration,
    /// A manual group sync may be asked for once per this interval (R10: 15 min).
    pub manual_group_sync_cooldown: Duration,
    /// After a failed group sync, the scheduler waits this long before trying again (15 min), so a broken
    /// MDM is not asked every tick.
    pub group_sync_retry_after: Duration,
    /// How long a lease lasts without renewal, by the store's clock. A run renews it in the background every
    /// third of this; a crashed worker's lease frees itself after this long.
    pub lease_ttl: Duration,
    /// Serial lookups in flight at once within one refresh run. Requests to one MDM server are further
    /// bounded by that server's limits in the provider's HTTP client.
    pub lookup_concurrency: usize,
    /// The page size assumed for listings whose provider does not say (Graph's next-link paging), when
    /// choosing the refresh strategy.
    pub assumed_page_size: u32,
    /// How long cached follow-up answers (user names, device bindings) are used.
    pub lookup_cache: LookupCacheConfig,
    /// Where the provider can list "changed since" ([`mdmkit_core::ChangeTracking`]), a refresh lists only
    /// the changes while the last complete full listing is younger than this; otherwise it lists in full
    /// (the only way to see deletions). 48 h: with the daily refresh (R5), every other run is a full
    /// listing, so a device deleted in the MDM loses its metadata within two days.
    pub full_listing_interval: Duration,
    /// Where the provider reads groups by delta (Entra), a group sync reads only the changes while the
    /// last full group read is younger than this (24 h). The full read also matches the members of
    /// unchanged groups against device metadata that changed since.
    pub full_group_read_interval: Duration,
}

impl Default for SyncConfig {
    fn default() -> Self {
        SyncConfig {
            refresh_interval: Duration::from_secs(24 * 3600),
            group_sync_interval: Duration::from_secs(6 * 3600),
            manual_group_sync_cooldown: Duration::from_secs(15 * 60),
            group_sync_retry_after: Duration::from_secs(15 * 60),
            lease_ttl: Duration::from_secs(10 * 60),
            lookup_concurrency: 4,
            assumed_page_size: 100,
            lookup_cache: LookupCacheConfig::default(),
            full_listing_interval: Duration::from_secs(48 * 3600),
            full_group_read_interval: Duration::from_secs(24 * 3600),
        }
    }
}

/// A workspace's live connection: the provider built from its stored credentials.
#[derive(Debug, Clone)]
pub(crate) struct Connection {
    pub(crate) provider: Arc<dyn MdmProvider>,
    pub(crate) kind: ProviderKind,
    pub(crate) account: String,
    /// Key id and nonce of the record it was built from: a new save changes the nonce.
    fingerprint: (String, Vec<u8>),
}

/// Devices read per store round trip when the engine walks a whole workspace.
const READ_PAGE: usize = 1000;

/// Every item of a paged device query, read page by page.
pub(crate) async fn all_pages<T, E, F, Fut>(page_of: F) -> Result<Vec<T>>
where
    F: Fn(Paging) -> Fut,
    Fut: std::future::Future<Output = std::result::Result<DevicePage<T>, E>>,
    Error: From<E>,
{
    let mut items = Vec::new();
    let mut paging = Some(Paging::first(READ_PAGE));
    while let Some(p) = paging {
        let page = page_of(p).await?;
        paging = page.next_page(READ_PAGE);
        items.extend(page.devices);
    }
    Ok(items)
}

/// Non-secret facts about a workspace's saved connection.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectionInfo {
    /// The provider.
    pub provider: ProviderKind,
    /// The vault key that sealed the credentials.
    pub key_id: String,
    /// When they were saved.
    pub saved_at: DateTime<Utc>,
}

/// A device as a UI shows it: serial number, MDM display name and metadata, and the console link. Its
/// names are those of [`mdmkit_core::MdmDevice`]: `serial_number` and the `display_name` field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct DeviceView {
    /// The normalised serial number.
    pub serial_number: SerialNumber,
    /// The MDM display name (R4), if known: the same as `metadata`'s, here so a UI needs one field.
    pub display_name: Option<String>,
    /// The MDM metadata (R4), if known.
    pub metadata: Option<MdmMetadata>,
    /// When the MDM last answered about the device.
    pub checked_at: Option<DateTime<Utc>>,
    /// `View on <provider>` and its URL, for a device with an MDM device ID (R7).
    pub link: Option<DeviceLink>,
}

/// The orchestration engine: one per process, shared as `Arc<MdmSync>`, serving every workspace.
pub struct MdmSync {
    pub(crate) factory: Arc<dyn ProviderFactory>,
    pub(crate) vault: Arc<Vault>,
    pub(crate) stores: Stores,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) config: SyncConfig,
    connections: Mutex<HashMap<WorkspaceId, Connection>>,
}

impl fmt::Debug for MdmSync {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MdmSync")
            .field("vault", &self.vault)
            .field("stores", &self.stores)
            .field("clock", &self.clock)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl MdmSync {
    /// An engine with the default [`SyncConfig`].
    pub fn new(
        factory: Arc<dyn ProviderFactory>,
        vault: Vault,
        stores: Stores,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let config = SyncConfig::default();
        MdmSync {
            factory,
            vault: Arc::new(vault),
            stores,
            clock,
            config,
            connections: Mutex::new(HashMap::new()),
        }
    }

    /// Replaces the configuration.
    pub fn with_config(mut self, config: SyncConfig) -> Self {
        self.config = config;
        self
    }

    /// The configuration in force.
    pub fn config(&self) -> &SyncConfig {
        &self.config
    }

    /// The stores.
    pub fn stores(&self) -> &Stores {
        &self.stores
    }

    /// The clock every schedule is measured on.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Sets the workspace's plan (group sync needs Pro or Enterprise).
    pub async fn set_plan(&self, workspace: &WorkspaceId, plan: Plan) -> Result<()> {
        Ok(self.stores.state.set_plan(workspace, plan).await?)
    }

    /// The workspace's sync state: plan, last runs, pending work, lease.
    pub async fn state(&self, workspace: &WorkspaceId) -> Result<WorkspaceState> {
        Ok(self.stores.state.sync_state(workspace).await?)
    }

    /// Adds a device of the workspace's inventory by serial (due for a fetch at once). `false` if known.
    pub async fn add_device(&self, workspace: &WorkspaceId, serial: &SerialNumber) -> Result<bool> {
        Ok(self.stores.devices.add_device(workspace, serial).await?)
    }

    /// Which provider the workspace is connected to, without decrypting anything.
    pub async fn connection_info(&self, workspace: &WorkspaceId) -> Result<Option<ConnectionInfo>> {
        Ok(self
            .stores
            .credentials
            .load_credentials(workspace)
            .await?
            .map(|r| ConnectionInfo {
                provider: r.provider,
                key_id: r.key_id,
                saved_at: r.sealed_at,
            }))
    }

    /// The saved credentials that are not secrets (host, client or tenant ID) with their values, for a
    /// settings form to show back ([`ProviderConfig::shown_credentials`]); `None` when the workspace is
    /// not connected. Opens the sealed credentials; the secrets in them stay in this call.
    pub async fn shown_credentials(
        &self,
        workspace: &WorkspaceId,
    ) -> Result<Option<Vec<(CredentialField, String)>>> {
        let Some(record) = self.stores.credentials.load_credentials(workspace).await? else {
            return Ok(None);
        };
        let config = self.vault.open_config(workspace, &record)?;
        Ok(Some(config.shown_credentials()))
    }

    /// Saves MDM credentials after proving they work (R8), and reacts to a change (R9, R10).
    ///
    /// 1. Checks the configuration ([`ProviderConfig::validated`]: required fields, host rules), builds the
    ///    provider and runs its test call. On failure the error (its R8 category in [`Error::category`])
    ///    is returned and **nothing is saved**: credentials saved before stay in force. An invalid
    ///    configuration fails with its own message ("API Client ID is required") before any request.
    /// 2. Takes the workspace's lease (a running sync makes this fail with [`Error::AlreadyRunning`], with
    ///    nothing saved), encrypts and saves.
    /// 3. If the provider or any credential changed ([`ProviderConfig::same_connection`]), clears the MDM
    ///    metadata of every device (R9) and marks it not current
    ///    ([`crate::WorkspaceState::refresh_pending`]), fetches it again from the new provider at once, then,
    ///    if the plan allows and that refresh completed, runs a group sync (R10). If the refresh did not
    ///    complete (MDM down, timeout, errors left devices due), the group sync does not run: it would match
    ///    members against cleared metadata and empty every synced group. The credentials stay saved, the
    ///    devices stay due, and the group sync stays pending until the scheduler has completed a refresh.
    pub async fn connect(
        &self,
        workspace: &WorkspaceId,
        config: ProviderConfig,
    ) -> Result<ConnectReport> {
        let config = config.validated()?;
        let provider = self.factory.build(&config)?;
        if let Err(e) = provider.validate().await {
            tracing::info!(
                workspace = %workspace,
                provider = %config.kind(),
                category = e.category().name(),
                "MDM credentials rejected; nothing saved"
            );
            return Err(e.into());
        }
        self.under_lease(workspace, async |guard| {
            self.connect_locked(workspace, config, provider, guard)
                .await
        })
        .await
    }

    async fn connect_locked(
        &self,
        workspace: &WorkspaceId,
        config: ProviderConfig,
        provider: Arc<dyn MdmProvider>,
        guard: &LeaseGuard,
    ) -> Result<ConnectReport> {
        let now = self.clock.now();
        let previous = match self.stores.credentials.load_credentials(workspace).await? {
            None => None,
            Some(record) => match self.vault.open_config(workspace, &record) {
                Ok(config) => Some(config),
                Err(e) => {
                    // Cannot compare: treat as a change, which is the safe side (metadata refetched).
                    tracing::warn!(workspace = %workspace, error = %e, "previous MDM credentials could not be opened");
                    None
                }
            },
        };
        let changed = previous
            .as_ref()
            .is_none_or(|p| !p.same_connection(&config));
        let plan = self.stores.state.sync_state(workspace).await?.plan;
        let sealed = self.vault.seal_config(workspace, &config, now)?;
        let connection = Connection {
            provider,
            kind: config.kind(),
            account: config.account_key(),
            fingerprint: (sealed.key_id.clone(), sealed.nonce.clone()),
        };
        // Credentials, the R9 reset and the pending group sync in one transaction: a failure leaves the old
        // connection whole, so a retry sees the change again and completes it.
        let change = ConnectionChange {
            clear_metadata: changed,
            group_sync_pending: changed && plan.allows_group_sync(),
        };
        let devices_reset = self
            .stores
            .credentials
            .save_connection(workspace, guard.fence(), sealed, change)
            .await?;
        self.remember(workspace, connection.clone());
        tracing::info!(workspace = %workspace, provider = %connection.kind, changed, "MDM credentials saved");

        let mut report = ConnectReport {
            provider: connection.kind,
            connection_changed: changed,
            devices_reset,
            refresh: RefreshOutcome::NotRun,
            group_sync: GroupSyncOutcome::NotNeeded,
        };
        if !changed {
            return Ok(report);
        }
        // Fetch at once: group membership is matched by MDM device ID (R12), which was just cleared.
        let refresh = self
            .refresh_locked(workspace, &connection, now, guard)
            .await;
        let lease_lost = matches!(refresh, Err(Error::LeaseLost { .. }));
        report.refresh = refresh.into();
        if lease_lost {
            // Another worker owns the workspace now; the pending flag makes the scheduler sync later.
            return Ok(report);
        }
        report.group_sync = if plan.allows_group_sync() {
            match self
                .group_sync_locked(
                    workspace,
                    &connection,
                    GroupSyncTrigger::ConnectionChanged,
                    self.clock.now(),
                    guard,
                )
                .await
            {
                Ok(r) => GroupSyncOutcome::Completed(r),
                Err(Error::RefreshPending { .. }) => GroupSyncOutcome::WaitingForRefresh,
                Err(e) => GroupSyncOutcome::Failed(e),
            }
        } else {
            GroupSyncOutcome::NotOnPlan(plan)
        };
        Ok(report)
    }

    /// Deletes the workspace's credentials, clears the MDM metadata of its devices (their links would
    /// point into an MDM no longer connected) and detaches its synced groups (they become ordinary,
    /// editable groups, as when the MDM drops a group).
    pub async fn disconnect(&self, workspace: &WorkspaceId) -> Result<DisconnectReport> {
        self.under_lease(workspace, async |guard| {
            self.disconnect_locked(workspace, guard).await
        })
        .await
    }

    async fn disconnect_locked(
        &self,
        workspace: &WorkspaceId,
        guard: &LeaseGuard,
    ) -> Result<DisconnectReport> {
        // One transaction: credentials, metadata, group links and the pending sync go together or not at all.
        let removed = self
            .stores
            .credentials
            .remove_connection(workspace, guard.fence())
            .await?;
        self.forget(workspace);
        tracing::info!(
            workspace = %workspace,
            was_connected = removed.was_connected,
            groups_detached = removed.groups_detached,
            "MDM disconnected"
        );
        Ok(DisconnectReport {
            was_connected: removed.was_connected,
            devices_cleared: removed.devices_cleared,
            groups_detached: removed.groups_detached,
        })
    }

    /// Re-encrypts the workspace's credentials under the vault's active key (after a key rotation), so the
    /// old key can be retired. `false` if they already use it or there are none.
    pub async fn reseal_credentials(&self, workspace: &WorkspaceId) -> Result<bool> {
        self.under_lease(workspace, async |guard| {
            let Some(record) = self.stores.credentials.load_credentials(workspace).await? else {
                return Ok(false);
            };
            if !self.vault.needs_reseal(&record) {
                return Ok(false);
            }
            let config = self.vault.open_config(workspace, &record)?;
            let sealed = self
                .vault
                .seal_config(workspace, &config, self.clock.now())?;
            self.stores
                .credentials
                .save_connection(workspace, guard.fence(), sealed, ConnectionChange::NONE)
                .await?;
            self.forget(workspace);
            Ok(true)
        })
        .await
    }

    /// Every device of the workspace with its MDM metadata and console link, sorted by serial. For large
    /// workspaces a UI reads pages instead ([`MdmSync::devices_page`]).
    pub async fn devices(&self, workspace: &WorkspaceId) -> Result<Vec<DeviceView>> {
        all_pages(|p| self.devices_page(workspace, p)).await
    }

    /// One page of the workspace's devices with their MDM metadata and console links, sorted by serial.
    pub async fn devices_page(
        &self,
        workspace: &WorkspaceId,
        paging: Paging,
    ) -> Result<DevicePage<DeviceView>> {
        let page = self.stores.devices.devices(workspace, paging).await?;
        self.page_views(workspace, page).await
    }

    /// One device.
    pub async fn device(
        &self,
        workspace: &WorkspaceId,
        serial: &SerialNumber,
    ) -> Result<Option<DeviceView>> {
        let Some(record) = self.stores.devices.device(workspace, serial).await? else {
            return Ok(None);
        };
        Ok(self.views(workspace, vec![record]).await?.pop())
    }

    /// Devices whose serial or MDM display name contains `query`, case-insensitively (R6): every match.
    /// A UI showing results as the person types reads one page ([`MdmSync::search_page`]).
    pub async fn search(&self, workspace: &WorkspaceId, query: &str) -> Result<Vec<DeviceView>> {
        all_pages(|p| self.search_page(workspace, query, p)).await
    }

    /// One page of the devices whose serial or MDM display name contains `query`, case-insensitively (R6).
    pub async fn search_page(
        &self,
        workspace: &WorkspaceId,
        query: &str,
        paging: Paging,
    ) -> Result<DevicePage<DeviceView>> {
        let page = self
            .stores
            .devices
            .search_devices(workspace, query, paging)
            .await?;
        self.page_views(workspace, page).await
    }

    async fn page_views(
        &self,
        workspace: &WorkspaceId,
        page: DevicePage,
    ) -> Result<DevicePage<DeviceView>> {
        Ok(DevicePage {
            devices: self.views(workspace, page.devices).await?,
            next: page.next,
        })
    }

    /// Every group of the workspace, manual and synced.
    pub async fn groups(&self, workspace: &WorkspaceId) -> Result<Vec<GroupRecord>> {
        Ok(self.stores.groups.groups(workspace).await?)
    }

    async fn views(
        &self,
        workspace: &WorkspaceId,
        records: Vec<DeviceRecord>,
    ) -> Result<Vec<DeviceView>> {
        let needs_links = records.iter().any(|r| r.metadata.is_some());
        let connection = if needs_links {
            match self.connection(workspace).await {
                Ok(c) => Some(c),
                Err(Error::NotConnected { .. }) => None,
                Err(e) => return Err(e),
            }
        } else {
            None
        };
        Ok(records
            .into_iter()
            .map(|r| {
                let link = connection
                    .as_ref()
                    .and_then(|c| c.provider.device_link(&r.metadata.as_ref()?.device_id));
                DeviceView {
                    serial_number: r.serial_number,
                    display_name: r.metadata.as_ref().and_then(|m| m.display_name.clone()),
                    metadata: r.metadata,
                    checked_at: r.checked_at,
                    link,
                }
            })
            .collect())
    }

    /// The workspace's provider, built from its stored credentials (cached while they do not change).
    pub(crate) async fn connection(&self, workspace: &WorkspaceId) -> Result<Connection> {
        let record = self
            .stores
            .credentials
            .load_credentials(workspace)
            .await?
            .ok_or_else(|| Error::NotConnected {
                workspace: workspace.clone(),
            })?;
        let fingerprint = (record.key_id.clone(), record.nonce.clone());
        if let Some(c) = self.cached(workspace) {
            if c.fingerprint == fingerprint {
                return Ok(c);
            }
        }
        let config = self.vault.open_config(workspace, &record)?;
        let provider = self.factory.build(&config)?;
        let connection = Connection {
            provider,
            kind: config.kind(),
            account: config.account_key(),
            fingerprint,
        };
        self.remember(workspace, connection.clone());
        Ok(connection)
    }

    fn cached(&self, workspace: &WorkspaceId) -> Option<Connection> {
        self.connections
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(workspace)
            .cloned()
    }

    fn remember(&self, workspace: &WorkspaceId, connection: Connection) {
        self.connections
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(workspace.clone(), connection);
    }

    fn forget(&self, workspace: &WorkspaceId) {
        self.connections
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(workspace);
    }

    /// Runs `work` under the workspace's lease (renewed in the background while it runs) and gives the
    /// lease back whatever `work` returns; says who has the lease when it is taken.
    pub(crate) async fn under_lease<T>(
        &self,
        workspace: &WorkspaceId,
        work: impl AsyncFnOnce(&LeaseGuard) -> Result<T>,
    ) -> Result<T> {
        let guard =
            LeaseGuard::acquire(self.stores.state.clone(), workspace, self.config.lease_ttl)
                .await?;
        let result = work(&guard).await;
        guard.release().await;
        result
    }
}
