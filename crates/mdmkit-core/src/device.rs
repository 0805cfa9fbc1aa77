//! Normalised devices and groups, serial numbers, and the display-name rule of R4.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::resolution::Unresolved;

/// Serial numbers that firmware reports when it has none. Matching on them would join unrelated devices,
/// so they are rejected (compared after trimming, case-insensitively).
const PLACEHOLDER_SERIALS: &[&str] = &[
    "",
    "0",
    "none",
    "null",
    "n/a",
    "na",
    "unknown",
    "to be filled by o.e.m.",
    "to be filled by oem",
    "default string",
    "system serial number",
    "not specified",
    "not applicable",
    "not available",
    "chassis serial number",
    "0123456789",
    "123456789",
    "00000000",
    "serial number",
    "invalid",
];

/// A normalised hardware serial number: trimmed, runs of inner whitespace folded to one space,
/// upper-cased, and never a placeholder such as `To Be Filled By O.E.M.`.
///
/// Inner spaces are kept (VMware reports `VMware-56 4d 9b …`): the MDM stores the serial with them, so a
/// lookup must send them, and matching compares like with like.
///
/// Upper-casing makes `c02zc2qylvdl` and `C02ZC2QYLVDL` the same device; MDM filters are compared against
/// this form on our side because several providers' serial filters are fuzzy.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SerialNumber(String);

impl SerialNumber {
    /// Normalises `raw`, or explains why it is not a usable serial.
    ///
    /// Placeholders are recognised on the normalised form, so `To  Be Filled By O.E.M.` (two spaces) or a
    /// placeholder written with letters that upper-case to ASCII is refused too, and parsing a parsed
    /// serial always gives it back unchanged.
    pub fn parse(raw: &str) -> Result<SerialNumber> {
        let trimmed = raw.trim();
        let normalised: String = trimmed
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .chars()
            .flat_map(char::to_uppercase)
            .collect();
        if PLACEHOLDER_SERIALS
            .iter()
            .any(|p| p.eq_ignore_ascii_case(&normalised))
            || normalised.chars().all(|c| c == '0' || c == '-' || c == ' ')
        {
            return Err(Error::config(format!(
                "{trimmed:?} is a placeholder, not a serial number"
            )));
        }
        if normalised.chars().any(char::is_control) {
            return Err(Error::config(
                "a serial number cannot contain control characters",
            ));
        }
        Ok(SerialNumber(normalised))
    }

    /// Normalises `raw`, returning `None` for placeholders: for wire data where a missing serial is normal.
    pub fn parse_opt(raw: Option<&str>) -> Option<SerialNumber> {
        raw.and_then(|r| SerialNumber::parse(r).ok())
    }

    /// The normalised text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether a serial reported by an MDM is exactly this one once normalised. Providers call this on
    /// every lookup result, because MDM serial filters may match substrings or other fields.
    pub fn matches(&self, reported: &str) -> bool {
        SerialNumber::parse(reported).is_ok_and(|s| s == *self)
    }

    /// The rows whose reported serial [`matches`](Self::matches) this one, in their order. Every
    /// provider's serial lookup ends here: a filter the MDM ignores or matches loosely (substrings,
    /// other fields) must never yield another device.
    pub fn exact_matches<'a, T: 'a>(
        &'a self,
        rows: impl IntoIterator<Item = T> + 'a,
        reported: impl Fn(&T) -> Option<&str> + 'a,
    ) -> impl Iterator<Item = T> + 'a {
        rows.into_iter()
            .filter(move |row| reported(row).is_some_and(|s| self.matches(s)))
    }
}

impl TryFrom<String> for SerialNumber {
    type Error = Error;
    fn try_from(value: String) -> Result<Self> {
        SerialNumber::parse(&value)
    }
}

impl From<SerialNumber> for String {
    fn from(value: SerialNumber) -> Self {
        value.0
    }
}

impl fmt::Display for SerialNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for SerialNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SerialNumber({:?})", self.0)
    }
}

impl std::str::FromStr for SerialNumber {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        SerialNumber::parse(s)
    }
}

/// The MDM display name of R4: the assigned user's name, else the device's name.
///
/// Blank names count as missing, and surrounding whitespace is dropped. This is the only place the rule is
/// written; every provider calls it.
pub fn display_name(user_name: Option<&str>, device_name: Option<&str>) -> Option<String> {
    [user_name, device_name]
        .into_iter()
        .flatten()
        .map(str::trim)
        .find(|s| !s.is_empty())
        .map(str::to_owned)
}

/// A device as the MDM knows it, normalised across providers (R4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MdmDevice {
    /// The normalised serial number; `None` when the MDM reports none or a placeholder (such a device
    /// cannot be matched, but is still listed so counts add up).
    pub serial_number: Option<SerialNumber>,
    /// The device's identifier in the MDM (the id its console links use).
    pub device_id: String,
    /// The assigned user's identifier in the MDM, if a user is assigned.
    pub user_id: Option<String>,
    /// The MDM display name of R4, derived from `user_name` and `device_name` by [`display_name`].
    pub display_name: Option<String>,
    /// The device's own name in the MDM.
    pub device_name: Option<String>,
    /// The assigned user's name the display name was derived from.
    pub user_name: Option<String>,
    /// What the listing left unread for this device, if anything (see [`Unresolved`]). Lookups by
    /// serial always give complete devices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unresolved: Option<Unresolved>,
}

impl MdmDevice {
    /// The device's identity in a listing, for [`crate::Pager::record`]: its MDM device ID.
    pub fn row_id(&self) -> Option<&str> {
        Some(&self.device_id)
    }

    /// Builds a device, deriving the display name by the R4 rule.
    pub fn new(
        device_id: impl Into<String>,
        serial_number: Option<SerialNumber>,
        device_name: Option<String>,
        user_id: Option<String>,
        user_name: Option<String>,
    ) -> MdmDevice {
        let clean = |s: Option<String>| s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
        let device_name = clean(device_name);
        let user_name = clean(user_name);
        let user_id = clean(user_id);
        MdmDevice {
            display_name: display_name(user_name.as_deref(), device_name.as_deref()),
            serial_number,
            device_id: device_id.into(),
            user_id,
            device_name,
            user_name,
            unresolved: None,
        }
    }

    /// Marks what the listing left unread (see [`Unresolved`]).
    pub fn with_unresolved(mut self, unresolved: Unresolved) -> Self {
        self.unresolved = Some(unresolved);
        self
    }

    /// Fills in the assigned user's name (from a cache or
    /// [`MdmProvider::resolve_user_names`](crate::MdmProvider::resolve_user_names)) and derives the display
    /// name again by R4. Clears [`Unresolved::UserName`]; `None` means the user has no name, so the
    /// device's name stays.
    pub fn resolve_user_name(&mut self, name: Option<String>) {
        let name = name.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
        if self.user_id.is_some() {
            self.user_name = name;
        }
        self.display_name = display_name(self.user_name.as_deref(), self.device_name.as_deref());
        if self.unresolved == Some(Unresolved::UserName) {
            self.unresolved = None;
        }
    }

    /// Fills in who is assigned (from a cache or
    /// [`MdmProvider::resolve_device_users`](crate::MdmProvider::resolve_device_users)) and derives the
    /// display name again by R4. Clears any [`Unresolved`] mark.
    pub fn resolve_user(&mut self, user_id: Option<String>, user_name: Option<String>) {
        let clean = |s: Option<String>| s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
        self.user_id = clean(user_id);
        self.user_name = self.user_id.as_ref().and(clean(user_name));
        self.display_name = display_name(self.user_name.as_deref(), self.device_name.as_deref());
        self.unresolved = None;
    }
}

/// A device group in the MDM (R11), with its members as MDM device IDs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MdmGroup {
    /// The group's identifier in the MDM.
    pub id: String,
    /// The group's name in the MDM.
    pub name: String,
    /// MDM device IDs of the members, sorted and without duplicates.
    pub member_device_ids: Vec<String>,
}

impl MdmGroup {
    /// Builds a group; member IDs are sorted and de-duplicated so groups compare by content.
    pub fn new(
        id: impl Into<String>,
        name: impl Into<String>,
        members: impl IntoIterator<Item = String>,
    ) -> MdmGroup {
        let mut member_device_ids: Vec<String> = members.into_iter().collect();
        member_device_ids.sort();
        member_device_ids.dedup();
        MdmGroup {
            id: id.into(),
            name: name.into(),
            member_device_ids,
        }
    }

    /// The member IDs in the order to show people: IDs that are numbers by value (`2` before `10`, as
    /// Jamf, SimpleMDM and Fleet number their devices), then the others in text order.
    /// [`member_device_ids`](Self::member_device_ids) itself stays in text order, which comparisons use.
    pub fn members_for_display(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = self.member_device_ids.iter().map(String::as_str).collect();
        ids.sort_by(|a, b| display_order(a, b));
        ids
    }
}

/// Numbers by value (any length, leading zeros ignored, ties broken by the text), before anything else
/// in text order.
fn display_order(a: &str, b: &str) -> std::cmp::Ordering {
    fn number(s: &str) -> Option<&str> {
        (!s.is_empty() && s.bytes().all(|c| c.is_ascii_digit())).then(|| s.trim_start_matches('0'))
    }
    match (number(a), number(b)) {
        (Some(x), Some(y)) => x.len().cmp(&y.len()).then(x.cmp(y)).then(a.cmp(b)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.cmp(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serials_are_trimmed_and_upper_cased() {
        assert_eq!(
            SerialNumber::parse("  c02zc2qylvdl \n").unwrap().as_str(),
            "C02ZC2QYLVDL"
        );
        assert_eq!(
            SerialNumber::parse(" VMware-56 4d\t 9b ").unwrap().as_str(),
            "VMWARE-56 4D 9B"
        );
        assert!(SerialNumber::parse("C02ZC2QYLVDL")
            .unwrap()
            .matches(" c02zc2qylvdl"));
        assert!(!SerialNumber::parse("C02ZC2QYLVDL")
            .unwrap()
            .matches("C02ZC2QYLVDLX"));
    }

    #[test]
    fn exact_matches_keep_only_rows_reporting_this_serial_in_order() {
        let serial = SerialNumber::parse("C02ZC2QYLVDL").unwrap();
        let rows = [
            ("a", Some("c02zc2qylvdl ")),
            ("b", Some("C02ZC2QYLVDLX")),
            ("c", None),
            ("d", Some("C02ZC2QYLVDL")),
            ("e", Some("")),
        ];
        let kept: Vec<&str> = serial
            .exact_matches(rows, |(_, reported)| *reported)
            .map(|(name, _)| name)
            .collect();
        assert_eq!(kept, ["a", "d"]);
    }

    #[test]
    fn placeholder_serials_are_rejected() {
        for p in [
            "",
            "   ",
            "0",
            "000000",
            "To Be Filled By O.E.M.",
            "to be filled by o.e.m.",
            "Default string",
            "System Serial Number",
            "Not Specified",
            "N/A",
        ] {
            assert!(SerialNumber::parse(p).is_err(), "{p:?} accepted");
        }
        assert_eq!(SerialNumber::parse_opt(Some("Default string")), None);
        assert_eq!(SerialNumber::parse_opt(None), None);
    }

    #[test]
    fn serial_serde_normalises_and_rejects() {
        let s: SerialNumber = serde_json::from_str("\" abc123 \"").unwrap();
        assert_eq!(s.as_str(), "ABC123");
        assert!(serde_json::from_str::<SerialNumber>("\"0\"").is_err());
    }

    #[test]
    fn display_name_prefers_user_then_device() {
        assert_eq!(
            display_name(Some("Ada Lovelace"), Some("Ada's Mac")).as_deref(),
            Some("Ada Lovelace")
        );
        assert_eq!(
            display_name(Some("  "), Some("Ada's Mac")).as_deref(),
            Some("Ada's Mac")
        );
        assert_eq!(
            display_name(None, Some(" Büro-Mac ")).as_deref(),
            Some("Büro-Mac")
        );
        assert_eq!(display_name(None, None), None);
        assert_eq!(display_name(Some(""), Some("")), None);
    }

    #[test]
    fn device_new_applies_r4_and_drops_blank_user() {
        let d = MdmDevice::new(
            "42",
            SerialNumber::parse_opt(Some("abc")),
            Some("Mac".into()),
            Some(" ".into()),
            Some("".into()),
        );
        assert_eq!(d.user_id, None);
        assert_eq!(d.display_name.as_deref(), Some("Mac"));
        let g = MdmGroup::new("1", "G", ["b".to_owned(), "a".to_owned(), "b".to_owned()]);
        assert_eq!(g.member_device_ids, ["a", "b"]);
    }

    #[test]
    fn members_show_in_numeric_order_when_they_are_numbers() {
        let g = MdmGroup::new(
            "1",
            "g",
            [
                "10",
                "9",
                "b",
                "2",
                "100",
                "a",
                "010",
                "12345678901234567890123",
            ]
            .map(String::from),
        );
        assert_eq!(
            g.member_device_ids,
            [
                "010",
                "10",
                "100",
                "12345678901234567890123",
                "2",
                "9",
                "a",
                "b"
            ],
            "stored in text order"
        );
        assert_eq!(
            g.members_for_display(),
            [
                "2",
                "9",
                "010",
                "10",
                "100",
                "12345678901234567890123",
                "a",
                "b"
            ]
        );
        let uuids = MdmGroup::new("2", "g", ["b-1", "a-2"].map(String::from));
        assert_eq!(uuids.members_for_display(), ["a-2", "b-1"]);
    }

    #[test]
    fn resolving_fills_in_the_user_and_applies_r4_again() {
        let mut d = MdmDevice::new("7", None, Some("Mac".into()), Some("ada@x".into()), None)
            .with_unresolved(Unresolved::UserName);
        assert_eq!(d.display_name.as_deref(), Some("Mac"));
        d.resolve_user_name(Some(" Ada Lovelace ".into()));
        assert_eq!(d.display_name.as_deref(), Some("Ada Lovelace"));
        assert_eq!(d.unresolved, None);
        assert_eq!(d.user_id.as_deref(), Some("ada@x"), "the id never changes");
        d.resolve_user_name(None);
        assert_eq!(d.display_name.as_deref(), Some("Mac"));

        let mut d = MdmDevice::new("8", None, Some("Mac".into()), None, None)
            .with_unresolved(Unresolved::User);
        d.resolve_user(Some("u1".into()), Some("Bo".into()));
        assert_eq!(
            (
                d.user_id.as_deref(),
                d.display_name.as_deref(),
                d.unresolved
            ),
            (Some("u1"), Some("Bo"), None)
        );
        d.resolve_user(None, Some("ignored".into()));
        assert_eq!(
            (d.user_name, d.display_name.as_deref()),
            (None, Some("Mac"))
        );
        // The mark survives serialisation, and old rows without it still read.
        let json = serde_json::to_string(
            &MdmDevice::new("9", None, None, None, None).with_unresolved(Unresolved::User),
        )
        .unwrap();
        assert!(json.contains("\"unresolved\":\"user\""), "{json}");
        let old: MdmDevice = serde_json::from_str(
            r#"{"serial_number":null,"device_id":"1","user_id":null,"display_name":null,"device_name":null,"user_name":null}"#,
        )
        .unwrap();
        assert_eq!(old.unresolved, None);
    }
}
