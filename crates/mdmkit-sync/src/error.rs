//! The crate's error: provider errors keep their R8 category, plus what orchestration adds.
//!
//! No variant carries a secret: provider errors are built without request bodies or headers (see
//! `mdmkit_core::Error`), vault errors name key ids and lengths only, and storage errors are written by
//! store implementations that never see plaintext credentials.

use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use mdmkit_core::{Category, ErrorKind};

use crate::model::{Fence, Plan, WorkspaceId};

/// Which way [`to_the_second`] rounds a fractional second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Round {
    /// For times in the past ("started at").
    Down,
    /// For times a person waits for ("allowed at", "runs until"), so the time shown is never early.
    Up,
}

/// A time as people read it in messages: UTC, to the second (`2026-12-06 20:03:27 UTC`). Clocks carry
/// nanoseconds, which say nothing to a person and make a message look like a dump.
pub(crate) fn to_the_second(at: &DateTime<Utc>, round: Round) -> impl fmt::Display {
    let whole = at.timestamp();
    let secs = if round == Round::Up && at.timestamp_subsec_nanos() > 0 {
        whole.saturating_add(1)
    } else {
        whole
    };
    DateTime::<Utc>::from_timestamp(secs, 0)
        .unwrap_or(*at)
        .format("%Y-%m-%d %H:%M:%S UTC")
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong in an orchestration call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The MDM (or building the provider from its configuration) failed; [`Error::category`] gives the
    /// user-facing R8 category.
    #[error(transparent)]
    Provider(#[from] mdmkit_core::Error),
    /// The workspace has no saved MDM credentials.
    #[error("workspace {workspace} is not connected to an MDM")]
    NotConnected {
        /// The workspace.
        workspace: WorkspaceId,
    },
    /// Group sync is not part of the workspace's plan (R10).
    #[error(
        "MDM group sync is available on the Pro and Enterprise plans; this workspace is on the {plan} plan"
    )]
    PlanExcludesGroupSync {
        /// The workspace's plan.
        plan: Plan,
    },
    /// A manual group sync was asked for within the cooldown (R10).
    #[error(
        "a group sync was started manually at {}; the next manual sync is allowed at {}",
        to_the_second(.last, Round::Down),
        to_the_second(.next_allowed, Round::Up)
    )]
    Cooldown {
        /// The previous manual sync.
        last: DateTime<Utc>,
        /// The first instant a manual sync is allowed again.
        next_allowed: DateTime<Utc>,
    },
    /// Another sync holds the workspace's lease (R10: one at a time).
    #[error(
        "a sync is already running for workspace {workspace} (its lease runs until {})",
        to_the_second(.lease_expires_at, Round::Up)
    )]
    AlreadyRunning {
        /// The workspace.
        workspace: WorkspaceId,
        /// When the running sync's lease expires unless renewed.
        lease_expires_at: DateTime<Utc>,
    },
    /// This run's lease expired and another worker took it over; the run stopped writing.
    #[error("the sync lease of workspace {workspace} was lost; the run stopped")]
    LeaseLost {
        /// The workspace.
        workspace: WorkspaceId,
    },
    /// A group sync was asked for while the device metadata is not current for the workspace's connection
    /// ([`crate::WorkspaceState::refresh_pending`]): it would match members against cleared metadata. It
    /// stays pending and runs after the next complete refresh.
    #[error("the device metadata of workspace {workspace} is not yet current for its MDM connection (the refresh after the change has not completed); the group sync waits for it")]
    RefreshPending {
        /// The workspace.
        workspace: WorkspaceId,
    },
    /// A scheduled run did not finish within [`crate::SchedulerConfig::run_deadline`] and was stopped. The
    /// MDM answered too slowly, so its R8 category is Server error.
    #[error(
        "the sync run of workspace {workspace} did not finish within {deadline:?} and was stopped"
    )]
    DeadlineExceeded {
        /// The workspace.
        workspace: WorkspaceId,
        /// The deadline it exceeded.
        deadline: Duration,
    },
    /// A scheduled run panicked; the panic was caught and the run counted as failed. The panic message
    /// went to the panic hook (stderr by default) and is not repeated here.
    #[error("the sync run of workspace {workspace} panicked and was stopped")]
    RunPanicked {
        /// The workspace.
        workspace: WorkspaceId,
    },
    /// Encrypting or decrypting credentials failed, or the keys are unusable.
    #[error(transparent)]
    Vault(#[from] VaultError),
    /// The store failed.
    #[error(transparent)]
    Storage(StoreError),
}

impl From<StoreError> for Error {
    /// A write refused for a stale fencing number means the lease was taken over: [`Error::LeaseLost`].
    fn from(error: StoreError) -> Self {
        match (error.kind(), error.workspace()) {
            (StoreErrorKind::StaleFence, Some(workspace)) => Error::LeaseLost {
                workspace: workspace.clone(),
            },
            _ => Error::Storage(error),
        }
    }
}

impl Error {
    /// The R8 category, for errors that came from the MDM (a run stopped at its deadline included: the
    /// MDM was too slow, a Server error).
    pub fn category(&self) -> Option<Category> {
        match self {
            Error::DeadlineExceeded { .. } => Some(Category::Server),
            _ => self.provider_error().map(mdmkit_core::Error::category),
        }
    }

    /// The underlying provider error, if this is one.
    pub fn provider_error(&self) -> Option<&mdmkit_core::Error> {
        match self {
            Error::Provider(e) => Some(e),
            _ => None,
        }
    }

    /// The provider error's kind, if this is one.
    pub fn kind(&self) -> Option<ErrorKind> {
        self.provider_error().map(mdmkit_core::Error::kind)
    }

    /// Whether trying the same thing later may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Provider(e) => e.is_retryable(),
            Error::Cooldown { .. }
            | Error::AlreadyRunning { .. }
            | Error::LeaseLost { .. }
            | Error::RefreshPending { .. }
            | Error::DeadlineExceeded { .. } => true,
            Error::Storage(_) => true,
            _ => false,
        }
    }
}

/// Why the vault could not seal or open credentials, or could not load its keys.
///
/// Messages name key ids and byte lengths, never key material or plaintext.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VaultError {
    /// A key is malformed (wrong length, bad encoding).
    #[error("vault key {key_id:?}: {reason}")]
    InvalidKey {
        /// The key's id (a valid one: an invalid id is a [`VaultError::Keys`] error that does not repeat it).
        key_id: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The vault has no key, a key id is invalid, or the key list cannot be read.
    #[error("vault keys: {0}")]
    Keys(String),
    /// A record names a key the vault does not hold (retired too early?).
    #[error("the credentials were sealed with key {key_id:?}, which this vault does not hold")]
    UnknownKey {
        /// The key id the record names.
        key_id: String,
    },
    /// Authentication failed: the record was altered, belongs to another workspace or provider, or the key
    /// with this id is not the one that sealed it.
    #[error("the credentials of workspace {workspace} could not be decrypted: they were altered, moved from another workspace, or sealed with a different key")]
    Decrypt {
        /// The workspace the record was opened for.
        workspace: WorkspaceId,
    },
    /// Encryption failed (should not happen).
    #[error("the credentials could not be encrypted")]
    Encrypt,
    /// The configuration could not be (de)serialised; the position only, never the text.
    #[error("the credentials could not be {0}")]
    Format(String),
}

/// What kind of store failure it is: the engine reacts to a stale fence differently from a broken database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreErrorKind {
    /// The database or its connection failed, or a record could not be read back.
    Backend,
    /// A write under a lease presented a fencing number that is no longer current (the lease was taken
    /// over or released): nothing was written.
    StaleFence,
    /// The record the write names does not exist.
    NotFound,
}

/// A store failure, written by store implementations.
pub struct StoreError {
    kind: StoreErrorKind,
    message: String,
    workspace: Option<WorkspaceId>,
    source: Option<Box<dyn StdError + Send + Sync + 'static>>,
}

impl StoreError {
    /// A backend failure with a message.
    pub fn new(message: impl Into<String>) -> Self {
        StoreError {
            kind: StoreErrorKind::Backend,
            message: message.into(),
            workspace: None,
            source: None,
        }
    }

    /// A write refused because `fence` is not the workspace's current fencing number.
    pub fn stale_fence(workspace: &WorkspaceId, fence: Fence) -> Self {
        StoreError {
            kind: StoreErrorKind::StaleFence,
            message: format!(
                "the lease of workspace {workspace} was taken over (fence {fence} is stale); nothing written"
            ),
            workspace: Some(workspace.clone()),
            source: None,
        }
    }

    /// A write naming a record that does not exist.
    pub fn not_found(message: impl Into<String>) -> Self {
        StoreError {
            kind: StoreErrorKind::NotFound,
            ..StoreError::new(message)
        }
    }

    /// Chains the underlying cause (a database error, say).
    pub fn with_source(mut self, source: impl StdError + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// The kind of failure.
    pub fn kind(&self) -> StoreErrorKind {
        self.kind
    }

    /// Whether a write was refused for a stale fencing number.
    pub fn is_stale_fence(&self) -> bool {
        self.kind == StoreErrorKind::StaleFence
    }

    /// The workspace the failure concerns, when the store knows it.
    pub fn workspace(&self) -> Option<&WorkspaceId> {
        self.workspace.as_ref()
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "storage: {}", self.message)
    }
}

impl fmt::Debug for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreError")
            .field("kind", &self.kind)
            .field("message", &self.message)
            .field("source", &self.source)
            .finish()
    }
}

impl StdError for StoreError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|s| s as &(dyn StdError + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_errors_keep_their_category() {
        let e: Error = mdmkit_core::Error::new(ErrorKind::Forbidden, "HTTP 403").into();
        assert_eq!(e.category(), Some(Category::Forbidden));
        assert_eq!(e.to_string(), "HTTP 403");
        let e = Error::PlanExcludesGroupSync { plan: Plan::Free };
        assert_eq!(e.category(), None);
        assert!(e.to_string().contains("Pro and Enterprise"));
        assert!(e.to_string().contains("Free"));
        let e = Error::DeadlineExceeded {
            workspace: WorkspaceId::new("w"),
            deadline: Duration::from_secs(1800),
        };
        assert_eq!(e.category(), Some(Category::Server));
        assert!(e.is_retryable());
        assert!(e.to_string().contains("1800s"), "{e}");
        let e = Error::RunPanicked {
            workspace: WorkspaceId::new("w"),
        };
        assert_eq!(e.category(), None, "a panic is our bug, not the MDM's");
    }

    #[test]
    fn store_errors_chain_their_source() {
        let e = StoreError::new("insert failed").with_source(std::io::Error::other("disk full"));
        assert_eq!(e.to_string(), "storage: insert failed");
        assert_eq!(e.source().unwrap().to_string(), "disk full");
        assert_eq!(e.kind(), StoreErrorKind::Backend);
        assert!(matches!(Error::from(e), Error::Storage(_)));
    }

    #[test]
    fn a_stale_fence_is_a_lost_lease() {
        let ws = WorkspaceId::new("w");
        let e = StoreError::stale_fence(&ws, Fence::new(3));
        assert!(e.is_stale_fence());
        assert!(e.to_string().contains("fence 3 is stale"), "{e}");
        assert!(matches!(Error::from(e), Error::LeaseLost { workspace } if workspace == ws));
    }
}
