//! Follow-up reads a listing can leave to the caller, so a caller with a cache (mdmkit-sync) asks only
//! for what it does not know.
//!
//! Two vendors cannot give everything R4 needs in their bulk listings:
//! - **Fleet** lists the IdP e-mail of a host's user but not the user's full name. When Fleet's SCIM
//!   user list is readable the provider joins names in bulk; otherwise an inline listing's rows carry
//!   [`Unresolved::UserName`] and [`MdmProvider::resolve_user_names`](crate::MdmProvider::resolve_user_names)
//!   reads the names of the users asked for. A [`Resolution::Deferred`] listing of changes (and, without
//!   SCIM, any deferred listing) marks such hosts [`Unresolved::User`] instead, so
//!   [`MdmProvider::resolve_device_users`](crate::MdmProvider::resolve_device_users) gives the id and
//!   name a lookup shows, and a cache keyed by device skips the hosts it knows.
//! - **JumpCloud** systems without a `primarySystemUser` need a graph read to learn who is bound. A
//!   [`Resolution::Deferred`] listing skips those reads and marks the rows [`Unresolved::User`];
//!   [`MdmProvider::resolve_device_users`](crate::MdmProvider::resolve_device_users) reads them for the
//!   devices asked for (a cache of "no user bound" can re-check those rarely). A deferred listing of
//!   changes also leaves primary users' names unread ([`Unresolved::UserName`]).
//!
//! A caller with a cache fills it from complete answers too (lookups, rows the listing resolved itself)
//! where [`MdmProvider::defers_user_reads`](crate::MdmProvider::defers_user_reads) says so.
//!
//! User ids are the same whether a device came from a listing, a lookup or a resolution call.

/// How much per-device follow-up reading a listing does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Resolution {
    /// Every row is complete, except what the vendor offers no bulk way to read at all (Fleet's user
    /// names without SCIM access, marked [`Unresolved::UserName`]).
    #[default]
    Inline,
    /// Per-device follow-up reads are skipped; the rows that needed one are marked with [`Unresolved`].
    Deferred,
}

/// What a listed device still lacks, and which call fills it in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Unresolved {
    /// The device has a user (`user_id` is set) whose name the listing did not carry, so the display
    /// name is the device's own for now. Fill in with
    /// [`MdmProvider::resolve_user_names`](crate::MdmProvider::resolve_user_names) and
    /// [`MdmDevice::resolve_user_name`](crate::MdmDevice::resolve_user_name).
    UserName,
    /// Whether anyone is assigned was not read (`user_id` is `None` meaning "unknown", not
    /// "unassigned"). Fill in with
    /// [`MdmProvider::resolve_device_users`](crate::MdmProvider::resolve_device_users) and
    /// [`MdmDevice::resolve_user`](crate::MdmDevice::resolve_user).
    User,
}

/// A user whose name is wanted, with a device the caller saw assigned to them (some vendors can read a
/// user's name only through one of their devices).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct UserRef {
    /// The MDM user id, as a listing or lookup reported it.
    pub user_id: String,
    /// The MDM device id of a device assigned to that user.
    pub device_id: String,
}

impl UserRef {
    /// A user and one of their devices.
    pub fn new(user_id: impl Into<String>, device_id: impl Into<String>) -> Self {
        UserRef {
            user_id: user_id.into(),
            device_id: device_id.into(),
        }
    }
}

/// A user's name as the MDM knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResolvedUserName {
    /// The MDM user id asked for.
    pub user_id: String,
    /// The user's full name; `None` when the MDM holds the user but no name for them.
    pub name: Option<String>,
}

impl ResolvedUserName {
    /// A user and their name.
    pub fn new(user_id: impl Into<String>, name: Option<String>) -> Self {
        ResolvedUserName {
            user_id: user_id.into(),
            name: name.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty()),
        }
    }
}

/// Who is assigned to a device, as read by
/// [`MdmProvider::resolve_device_users`](crate::MdmProvider::resolve_device_users).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeviceUser {
    /// The MDM device id asked for.
    pub device_id: String,
    /// The assigned user's id; `None` when nobody is assigned.
    pub user_id: Option<String>,
    /// The assigned user's name, if the MDM has one.
    pub user_name: Option<String>,
}

impl DeviceUser {
    /// A device and its user (if any).
    pub fn new(
        device_id: impl Into<String>,
        user_id: Option<String>,
        user_name: Option<String>,
    ) -> Self {
        let clean = |s: Option<String>| s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
        let user_id = clean(user_id);
        DeviceUser {
            device_id: device_id.into(),
            user_name: user_id.as_ref().and(clean(user_name)),
            user_id,
        }
    }
}
