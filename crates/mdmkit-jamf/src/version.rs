//! The Jamf Pro server version and the endpoint versions it implies.

use std::fmt;

/// A Jamf Pro server version, as `GET /api/v1/jamf-pro-version` reports it.
///
/// The server sends `11.30.1-t1784555528405` or `11.30.1`; only the leading `major.minor.patch` counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct JamfProVersion {
    /// Major version (`11`).
    pub major: u32,
    /// Minor version (`30`).
    pub minor: u32,
    /// Patch version (`1`).
    pub patch: u32,
}

impl JamfProVersion {
    /// A version from its parts.
    pub const fn new(major: u32, minor: u32, patch: u32) -> Self {
        JamfProVersion {
            major,
            minor,
            patch,
        }
    }

    /// Parses the leading `major[.minor[.patch]]` of a version string, ignoring any `-t<build>` or other
    /// suffix. `None` if the text does not start with a number.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let text = text
            .strip_prefix('v')
            .or_else(|| text.strip_prefix('V'))
            .unwrap_or(text);
        let numeric = text
            .split(|c: char| !(c.is_ascii_digit() || c == '.'))
            .next()
            .unwrap_or_default();
        let mut parts = numeric.split('.');
        let mut next = || -> Option<u32> {
            match parts.next() {
                Some(p) if !p.is_empty() => p.parse().ok(),
                _ => None,
            }
        };
        let major = next()?;
        Some(JamfProVersion::new(
            major,
            next().unwrap_or(0),
            next().unwrap_or(0),
        ))
    }
}

impl fmt::Display for JamfProVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// `/api/v4/computers-inventory` arrived in 11.30.0.
const INVENTORY_V4_SINCE: JamfProVersion = JamfProVersion::new(11, 30, 0);
/// `/api/v3/computer-groups/...` arrived in 11.28.0.
const GROUPS_V3_SINCE: JamfProVersion = JamfProVersion::new(11, 28, 0);
/// `/api/v1/users` first appears in the 11.26 specs.
const USERS_API_SINCE: JamfProVersion = JamfProVersion::new(11, 26, 0);

/// A version of the computers-inventory collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InventoryApi {
    V4,
    V3,
    V1,
}

impl InventoryApi {
    pub(crate) fn path(self) -> &'static str {
        match self {
            InventoryApi::V4 => "api/v4/computers-inventory",
            InventoryApi::V3 => "api/v3/computers-inventory",
            InventoryApi::V1 => "api/v1/computers-inventory",
        }
    }

    /// The versions to try, newest first: v4 only from 11.30; an unknown version tries everything.
    pub(crate) fn candidates(version: Option<JamfProVersion>) -> &'static [InventoryApi] {
        match version {
            Some(v) if v < INVENTORY_V4_SINCE => &[InventoryApi::V3, InventoryApi::V1],
            _ => &[InventoryApi::V4, InventoryApi::V3, InventoryApi::V1],
        }
    }
}

/// Where a smart group's members are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MemberSource {
    /// `GET /api/v3/computer-groups/smart-group-membership/{id}` (11.28 and later).
    SmartV3,
    /// `GET /api/v2/computer-groups/smart-group-membership/{id}` (before 11.28; deprecated after).
    SmartV2,
    /// `GET /JSSResource/computergroups/id/{id}`, which lists the computers of any group.
    Classic,
}

impl MemberSource {
    /// The sources to try for smart groups, newest first.
    pub(crate) fn smart_candidates(version: Option<JamfProVersion>) -> &'static [MemberSource] {
        match version {
            Some(v) if v < GROUPS_V3_SINCE => &[MemberSource::SmartV2, MemberSource::Classic],
            _ => &[
                MemberSource::SmartV3,
                MemberSource::SmartV2,
                MemberSource::Classic,
            ],
        }
    }
}

/// Whether the server may have `/api/v1/users` (an unknown version may).
pub(crate) fn may_have_users_api(version: Option<JamfProVersion>) -> bool {
    version.is_none_or(|v| v >= USERS_API_SINCE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_with_and_without_build_suffix() {
        let v = |s| JamfProVersion::parse(s);
        assert_eq!(
            v("11.30.1-t1784555528405"),
            Some(JamfProVersion::new(11, 30, 1))
        );
        assert_eq!(v("11.29.1"), Some(JamfProVersion::new(11, 29, 1)));
        assert_eq!(v(" 10.49 "), Some(JamfProVersion::new(10, 49, 0)));
        assert_eq!(v("11"), Some(JamfProVersion::new(11, 0, 0)));
        assert_eq!(v("11.32.0.t123"), Some(JamfProVersion::new(11, 32, 0)));
        assert_eq!(v("v11.30.0"), Some(JamfProVersion::new(11, 30, 0)));
        assert_eq!(v("production"), None);
        assert_eq!(v(""), None);
        assert_eq!(v("99999999999.1.1"), None);
        assert_eq!(JamfProVersion::new(11, 30, 1).to_string(), "11.30.1");
    }

    #[test]
    fn versions_order_numerically() {
        assert!(JamfProVersion::new(11, 9, 0) < JamfProVersion::new(11, 30, 0));
        assert!(JamfProVersion::new(10, 99, 9) < JamfProVersion::new(11, 0, 0));
    }

    #[test]
    fn inventory_versions_follow_the_server() {
        use InventoryApi::*;
        let c = |s: &str| InventoryApi::candidates(JamfProVersion::parse(s));
        assert_eq!(c("11.30.0"), [V4, V3, V1]);
        assert_eq!(c("11.32.0-t1787580540993"), [V4, V3, V1]);
        assert_eq!(c("11.29.1"), [V3, V1]);
        assert_eq!(c("10.49.0"), [V3, V1]);
        assert_eq!(InventoryApi::candidates(None), [V4, V3, V1]);
    }

    #[test]
    fn group_and_user_endpoints_follow_the_server() {
        use MemberSource::*;
        let v = JamfProVersion::parse;
        assert_eq!(
            MemberSource::smart_candidates(v("11.28.0")),
            [SmartV3, SmartV2, Classic]
        );
        assert_eq!(
            MemberSource::smart_candidates(v("11.27.1")),
            [SmartV2, Classic]
        );
        assert!(may_have_users_api(v("11.26.1")));
        assert!(!may_have_users_api(v("11.25.2")));
        assert!(may_have_users_api(None));
    }
}
