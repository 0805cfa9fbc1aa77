//! Reading groups by delta: after one full read, later reads return only the groups that changed.
//!
//! [`MdmProvider::groups_delta`](crate::MdmProvider::groups_delta) takes the token the previous read
//! returned (or none) and answers a [`GroupDelta`]:
//! - [`GroupDeltaKind::Full`]: every group, as [`MdmProvider::groups`](crate::MdmProvider::groups) would
//!   return them. Reconcile as for a full read: a group missing from it is gone. This is the answer to a
//!   first read, to a provider without deltas, and to a token the server no longer accepts (Graph's
//!   `syncStateNotFound`, HTTP 410, after about a week): the provider falls back by itself.
//! - [`GroupDeltaKind::Changes`]: the groups whose name or membership may have changed, each with its
//!   *complete* current membership, plus the ids of groups that were deleted. Groups not mentioned are
//!   unchanged.
//!
//! Either way the caller stores [`GroupDelta::token`] (per workspace) and passes it next time. The token
//! is opaque and may be long; a provider without deltas returns none.

use std::fmt;

use crate::device::MdmGroup;

/// Where a delta read continues. Opaque: store it and pass it back to the same provider.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct GroupDeltaToken(String);

impl GroupDeltaToken {
    /// A token holding the provider's own encoding.
    pub fn new(token: impl Into<String>) -> Self {
        GroupDeltaToken(token.into())
    }

    /// The provider's encoding, for storage.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for GroupDeltaToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GroupDeltaToken({} bytes)", self.0.len())
    }
}

/// Whether a delta read returned everything or only changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum GroupDeltaKind {
    /// Every group: reconcile as a full read.
    Full,
    /// Only the groups that changed, and the ids of deleted groups.
    Changes,
}

/// The answer of a delta read (see the [module documentation](self)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GroupDelta {
    /// Everything, or changes only.
    pub kind: GroupDeltaKind,
    /// Full: every group. Changes: the groups that changed, each with its complete membership.
    pub groups: Vec<MdmGroup>,
    /// Changes: ids of groups deleted since the previous read (empty for a full read).
    pub removed: Vec<String>,
    /// What to pass to the next read; `None` when the provider has no delta reads.
    pub token: Option<GroupDeltaToken>,
}

impl GroupDelta {
    /// A full read of `groups`.
    pub fn full(groups: Vec<MdmGroup>, token: Option<GroupDeltaToken>) -> Self {
        GroupDelta {
            kind: GroupDeltaKind::Full,
            groups,
            removed: Vec::new(),
            token,
        }
    }

    /// The changes since the previous read.
    pub fn changes(groups: Vec<MdmGroup>, removed: Vec<String>, token: GroupDeltaToken) -> Self {
        GroupDelta {
            kind: GroupDeltaKind::Changes,
            groups,
            removed,
            token: Some(token),
        }
    }
}
