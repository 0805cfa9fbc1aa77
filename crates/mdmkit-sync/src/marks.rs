//! Where incremental reads continue, per workspace: the device watermark of an incremental refresh, when
//! the last complete full listing ran, and the group delta link (see [`crate::refresh`] and
//! [`crate::groups`]).
//!
//! The marks live in their own small trait so a store adds them without touching the others; they are
//! written under the workspace's lease like every engine write (each write presents its [`Fence`]).
//! Connecting with new credentials (R9) and disconnecting forget them in the same transaction that clears
//! the metadata: a watermark or delta link of another MDM would make the next run skip devices or groups.

use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::model::{Fence, WorkspaceId};
use crate::store::StoreResult;

/// A workspace's incremental-read marks; all `None` for a workspace never refreshed (or just connected).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SyncMarks {
    /// The next incremental refresh lists the devices changed since this instant (minus the provider's
    /// overlap): the start of the last refresh whose listing completed and was applied.
    pub device_watermark: Option<DateTime<Utc>>,
    /// When the last complete, error-free full device listing started (deletions are seen only by one).
    pub last_full_listing: Option<DateTime<Utc>>,
    /// The provider's opaque group delta token (Graph's delta link), to pass to the next group sync.
    pub group_delta: Option<String>,
    /// When the last full group read (one that reconciled every group) started.
    pub last_full_group_read: Option<DateTime<Utc>>,
}

impl fmt::Debug for SyncMarks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A delta link is long and names the tenant's state; its length says enough.
        f.debug_struct("SyncMarks")
            .field("device_watermark", &self.device_watermark)
            .field("last_full_listing", &self.last_full_listing)
            .field("group_delta", &self.group_delta.as_ref().map(String::len))
            .field("last_full_group_read", &self.last_full_group_read)
            .finish()
    }
}

/// Stores a workspace's [`SyncMarks`]. Implemented over the same database as the other stores:
/// [`crate::CredentialStore::save_connection`] (when it clears metadata) and
/// [`crate::CredentialStore::remove_connection`] must forget the marks in their transaction.
#[async_trait]
pub trait MarkStore: fmt::Debug + Send + Sync + 'static {
    /// The workspace's marks ([`SyncMarks::default`] when none were recorded).
    async fn sync_marks(&self, workspace: &WorkspaceId) -> StoreResult<SyncMarks>;
    /// Under `fence`: sets the device watermark, and the last full listing when `full_listing` is given
    /// (otherwise that one is kept).
    async fn record_device_watermark(
        &self,
        workspace: &WorkspaceId,
        fence: Fence,
        watermark: DateTime<Utc>,
        full_listing: Option<DateTime<Utc>>,
    ) -> StoreResult<()>;
    /// Under `fence`: replaces the group delta token (`None` forgets it), and the last full group read
    /// when `full_read` is given (otherwise that one is kept).
    async fn record_group_delta(
        &self,
        workspace: &WorkspaceId,
        fence: Fence,
        token: Option<&str>,
        full_read: Option<DateTime<Utc>>,
    ) -> StoreResult<()>;
}
