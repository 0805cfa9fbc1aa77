//! The workspace lease at work: at most one holder at a time (R10), judged by the store's clock, fenced,
//! renewed in the background ([`LeaseGuard`]).
//!
//! A lease is modelled on the Kubernetes `Lease` object: a holder, an expiry and a count of transitions.
//! The count is the **fencing number** ([`Fence`]): every acquisition increments it, and every write the
//! engine makes under the lease presents it. The store refuses a write whose number is not the current one
//! (the lease was taken over or released), in the same statement or transaction as the write itself. So a
//! worker that paused (a GC pause, a VM migration) and wakes after its lease was taken over cannot write
//! anything more, even if by its own clock the lease has not yet run out.
//!
//! Expiry is judged by the store alone (the database's `now()`), never by the caller: replicas whose
//! clocks disagree by minutes still agree on who holds a lease.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::error::{Error, Result, VaultError};
use crate::model::{Fence, Lease, LeaseOutcome, WorkspaceId};
use crate::store::SyncStateStore;
use crate::vault::random_bytes;

/// The workspace's lease, held by one running operation, and renewed in the background.
///
/// While the guard lives, a task renews the lease every third of its time to live, so a run that waits on a
/// slow MDM call keeps it (renewing only before writes would let it lapse during one long call). If a
/// renewal finds the lease taken over, the guard is marked lost and [`LeaseGuard::check`] fails, so the run
/// stops before its next write; the store refuses that write anyway, by its fence.
///
/// Give it back with [`LeaseGuard::release`]. A guard dropped without that (its run was cancelled at a
/// deadline, or panicked) stops renewing and releases the lease from a spawned task, so the workspace is
/// free again at once rather than after the time to live; with no Tokio runtime, the lease simply expires.
pub(crate) struct LeaseGuard {
    workspace: WorkspaceId,
    fence: Fence,
    shared: Arc<Held>,
    store: Arc<dyn SyncStateStore>,
    renewer: Option<JoinHandle<()>>,
    released: bool,
}

/// What the guard and its renewal task share.
#[derive(Debug)]
struct Held {
    lease: Mutex<Lease>,
    lost: AtomicBool,
}

impl Held {
    fn lease(&self) -> Lease {
        self.lease.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl fmt::Debug for LeaseGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LeaseGuard")
            .field("workspace", &self.workspace)
            .field("lease", &self.shared.lease())
            .field("lost", &self.shared.lost.load(Ordering::SeqCst))
            .finish_non_exhaustive()
    }
}

/// A random token naming one holder.
fn owner_token() -> Result<String> {
    let mut token = [0u8; 16];
    random_bytes(&mut token).map_err(|()| VaultError::Keys("no OS randomness".into()))?;
    Ok(token.iter().map(|b| format!("{b:02x}")).collect())
}

impl LeaseGuard {
    /// Takes the workspace's lease for `ttl` (by the store's clock) and starts renewing it, or says who
    /// holds it ([`Error::AlreadyRunning`]).
    pub(crate) async fn acquire(
        store: Arc<dyn SyncStateStore>,
        workspace: &WorkspaceId,
        ttl: Duration,
    ) -> Result<LeaseGuard> {
        let owner = owner_token()?;
        let lease = match store.try_acquire_lease(workspace, &owner, ttl).await? {
            LeaseOutcome::Acquired(lease) => lease,
            LeaseOutcome::Busy { expires_at } => {
                return Err(Error::AlreadyRunning {
                    workspace: workspace.clone(),
                    lease_expires_at: expires_at,
                })
            }
        };
        let shared = Arc::new(Held {
            lease: Mutex::new(lease.clone()),
            lost: AtomicBool::new(false),
        });
        // Outside a Tokio runtime nothing renews it: the lease then simply lasts its TTL.
        let renewer = tokio::runtime::Handle::try_current().ok().map(|runtime| {
            runtime.spawn(renew_until_lost(
                store.clone(),
                workspace.clone(),
                shared.clone(),
                ttl,
            ))
        });
        Ok(LeaseGuard {
            workspace: workspace.clone(),
            fence: lease.fence,
            shared,
            store,
            renewer,
            released: false,
        })
    }

    /// The fencing number every write under this lease presents.
    pub(crate) fn fence(&self) -> Fence {
        self.fence
    }

    /// Fails with [`Error::LeaseLost`] once a renewal found the lease taken over: the run stops before its
    /// next write.
    pub(crate) fn check(&self) -> Result<()> {
        if self.shared.lost.load(Ordering::SeqCst) {
            return Err(Error::LeaseLost {
                workspace: self.workspace.clone(),
            });
        }
        Ok(())
    }

    /// Stops renewing and gives the lease back. A failure only delays the next run until the lease expires,
    /// so it is logged.
    pub(crate) async fn release(mut self) {
        self.stop_renewing();
        let result = self
            .store
            .release_lease(&self.workspace, &self.shared.lease())
            .await;
        // Only now: if this call is cancelled half-way, the drop tries again.
        self.released = true;
        if let Err(e) = result {
            tracing::warn!(workspace = %self.workspace, error = %e, "could not release the sync lease");
        }
    }

    fn stop_renewing(&mut self) {
        // A renewal still in flight cannot revive a released lease: renewing needs the holder to match.
        if let Some(renewer) = self.renewer.take() {
            renewer.abort();
        }
    }
}

impl Drop for LeaseGuard {
    fn drop(&mut self) {
        self.stop_renewing();
        if self.released {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let store = self.store.clone();
        let workspace = self.workspace.clone();
        let lease = self.shared.lease();
        runtime.spawn(async move {
            match store.release_lease(&workspace, &lease).await {
                Ok(_) => tracing::debug!(workspace = %workspace, "lease of a stopped run released"),
                Err(e) => {
                    tracing::warn!(workspace = %workspace, error = %e, "could not release the lease of a stopped run; it expires on its own")
                }
            }
        });
    }
}

/// Renews every third of `ttl` until the lease is found taken over (or the task is aborted). A failed
/// renewal is retried at the next turn: two more chances before the lease would run out.
async fn renew_until_lost(
    store: Arc<dyn SyncStateStore>,
    workspace: WorkspaceId,
    shared: Arc<Held>,
    ttl: Duration,
) {
    let every = (ttl / 3).max(Duration::from_millis(1));
    loop {
        tokio::time::sleep(every).await;
        match store.renew_lease(&workspace, &shared.lease(), ttl).await {
            Ok(Some(renewed)) => {
                *shared.lease.lock().unwrap_or_else(|e| e.into_inner()) = renewed;
            }
            Ok(None) => {
                shared.lost.store(true, Ordering::SeqCst);
                tracing::warn!(workspace = %workspace, "the sync lease was taken over; the run stops before its next write");
                return;
            }
            Err(e) => {
                tracing::warn!(workspace = %workspace, error = %e, "could not renew the sync lease; trying again");
            }
        }
    }
}
