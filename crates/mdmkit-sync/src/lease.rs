//! The workspace lease: at most one holder at a time (R10), judged by the store's clock, fenced.
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

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The fencing number of one acquisition of a workspace's lease. Increments on every acquisition, so a
/// later holder always presents a larger number than an earlier one.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Fence(u64);

impl Fence {
    /// The number as stored.
    pub fn new(number: u64) -> Self {
        Fence(number)
    }

    /// The number.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Debug for Fence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fence({})", self.0)
    }
}

impl fmt::Display for Fence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The right to run sync work on a workspace until `expires_at` (in the store's clock).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// A random token naming the holder; only the holder may renew or release.
    pub owner: String,
    /// The fencing number of this acquisition; writes under the lease present it.
    pub fence: Fence,
    /// After this instant, by the store's clock, anyone may take the lease over.
    pub expires_at: DateTime<Utc>,
}

/// The answer to a lease request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LeaseOutcome {
    /// The lease is ours.
    Acquired(Lease),
    /// Someone else holds it until `expires_at` (the store's clock).
    Busy {
        /// When the current holder's lease runs out unless renewed.
        expires_at: DateTime<Utc>,
    },
}
