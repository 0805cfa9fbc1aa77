//! Jamf wire types to mdmkit's devices and groups.

use std::fmt;
use std::sync::Arc;

use mdmkit_core::arena::{StringArena, TextRef};
use mdmkit_core::{MdmDevice, MdmGroup, SerialNumber};

use crate::wire::{non_blank, Computer, ComputerGroup, User};

/// Jamf user records by username, for turning a computer's `userAndLocation.username` into the record id.
///
/// A listing reads the whole directory, so it is kept compact: each user's folded username, username, id
/// and real name back to back in one [`StringArena`], and one 32-byte row per user, sorted by folded
/// username. A user costs about 32 bytes plus their text (the username twice), some 70 bytes for a
/// typical directory, instead of the wire records in two hash maps.
#[derive(Default)]
pub(crate) struct UserDirectory {
    text: StringArena,
    /// Sorted by folded username; users with the same folded name keep the order they were read in.
    rows: Vec<UserRow>,
}

/// One user of a [`UserDirectory`].
#[derive(Debug, Clone, Copy)]
struct UserRow {
    /// The trimmed username, lower-cased.
    folded: TextRef,
    /// The trimmed username.
    username: TextRef,
    id: TextRef,
    /// Empty when the record has none.
    realname: TextRef,
}

/// The parts of a user record a device needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct UserRecord<'a> {
    pub(crate) id: &'a str,
    pub(crate) realname: Option<&'a str>,
}

impl fmt::Debug for UserDirectory {
    // Usernames are personal data: only the size is shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UserDirectory({} users)", self.rows.len())
    }
}

/// A [`UserDirectory`] being read, page by page: the wire records of a page can be dropped as soon as
/// they are added.
#[derive(Default)]
pub(crate) struct DirectoryBuilder(UserDirectory);

impl DirectoryBuilder {
    /// Adds a user; one without a username cannot be looked up and is skipped.
    pub(crate) fn add(&mut self, user: &User) {
        let Some(name) = non_blank(user.username.as_deref()) else {
            return;
        };
        let dir = &mut self.0;
        let row = (|| {
            Some(UserRow {
                folded: dir.text.push(&name.to_lowercase())?,
                username: dir.text.push(name)?,
                id: dir.text.push(&user.id.0)?,
                realname: dir
                    .text
                    .push(user.realname.as_deref().unwrap_or_default())?,
            })
        })();
        if let Some(row) = row {
            dir.rows.push(row);
        }
    }

    pub(crate) fn build(self) -> UserDirectory {
        let mut dir = self.0;
        let text = &dir.text;
        // Stable: the first record read wins among equal usernames, as in Jamf's id order.
        text.sort(&mut dir.rows, |r| r.folded);
        dir.rows.shrink_to_fit();
        dir.text.shrink_to_fit();
        dir
    }
}

impl UserDirectory {
    #[cfg(test)]
    pub(crate) fn new(users: impl IntoIterator<Item = User>) -> Self {
        let mut builder = DirectoryBuilder::default();
        for user in users {
            builder.add(&user);
        }
        builder.build()
    }

    /// The record for `username`: the exact match, else the only record equal to it ignoring case.
    pub(crate) fn find(&self, username: &str) -> Option<UserRecord<'_>> {
        let username = username.trim();
        let same_folded = self
            .text
            .equal_run(&self.rows, |r| r.folded, &username.to_lowercase());
        let exact = same_folded
            .iter()
            .find(|r| self.text.get(r.username) == username);
        let row = match (exact, same_folded) {
            (Some(row), _) => row,
            (None, [first, rest @ ..])
                if rest
                    .iter()
                    .all(|r| self.text.get(r.id) == self.text.get(first.id)) =>
            {
                first
            }
            _ => return None,
        };
        Some(UserRecord {
            id: self.text.get(row.id),
            realname: non_blank(Some(self.text.get(row.realname))),
        })
    }

    pub(crate) fn len(&self) -> usize {
        self.rows.len()
    }

    /// Heap bytes held, for the memory budget of a listing.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.text.heap_bytes() + self.rows.capacity() * std::mem::size_of::<UserRow>()
    }
}

/// How a computer's assigned user becomes an MDM user ID.
#[derive(Debug, Clone)]
pub(crate) enum UserIds {
    /// The server has no user API (before Jamf Pro 11.26) or may not read it: the username is the ID.
    Usernames,
    /// The Jamf user record id, looked up by username.
    Records(Arc<UserDirectory>),
}

/// A computer as an [`MdmDevice`]. The user's name is the computer's `realname`, else the user record's
/// `realname`, else the username; [`MdmDevice::new`] then applies R4 (the user's name, else the computer's
/// name).
pub(crate) fn device(computer: &Computer, users: &UserIds) -> MdmDevice {
    let username = computer.username();
    let record = match (users, username) {
        (UserIds::Records(dir), Some(name)) => dir.find(name),
        _ => None,
    };
    let user_id = match users {
        UserIds::Usernames => username.map(str::to_owned),
        UserIds::Records(_) => record.map(|u| u.id.to_owned()),
    };
    let user_name = computer
        .realname()
        .or_else(|| record.and_then(|u| u.realname))
        .or(username)
        .map(str::to_owned);
    MdmDevice::new(
        computer.id.0.clone(),
        SerialNumber::parse_opt(computer.serial()),
        computer.name().map(str::to_owned),
        user_id,
        user_name,
    )
}

/// A computer group with its members. A group without a name is named after its id.
pub(crate) fn group(group: &ComputerGroup, members: Vec<String>) -> MdmGroup {
    let name = non_blank(group.name.as_deref())
        .map(str::to_owned)
        .unwrap_or_else(|| format!("Computer group {}", group.id.0));
    MdmGroup::new(group.id.0.clone(), name, members)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mdmkit_testkit::expect::assert_device;
    use mdmkit_testkit::shapes::decode;

    fn user(id: &str, username: &str, realname: &str) -> User {
        serde_json::from_value(
            serde_json::json!({"id": id, "username": username, "realname": realname}),
        )
        .unwrap()
    }

    const ASSIGNED: &str = r#"{"id":"117","general":{"name":"LT-JDOE-MBP"},"hardware":{"serialNumber":"c02zc2qylvdl"},
        "userAndLocation":{"username":"jdoe","realname":"Jane Doe","email":"jane.doe@example.com"}}"#;
    /// `ASSIGNED` normalised: its user name is the computer's realname, before the user record's.
    const ASSIGNED_DEVICE: &str = r#"{"device_id":"117","serial_number":"C02ZC2QYLVDL","user_id":"42",
        "user_name":"Jane Doe","display_name":"Jane Doe","device_name":"LT-JDOE-MBP"}"#;

    #[test]
    fn assigned_user_with_record_ids() {
        let dir = Arc::new(UserDirectory::new([user("42", "jdoe", "Jane Q. Doe")]));
        let d = device(&decode::<Computer>(ASSIGNED), &UserIds::Records(dir));
        assert_device(&d, ASSIGNED_DEVICE);
    }

    #[test]
    fn usernames_are_ids_without_a_user_api() {
        let d = device(&decode::<Computer>(ASSIGNED), &UserIds::Usernames);
        assert_eq!(d.user_id.as_deref(), Some("jdoe"));
    }

    #[test]
    fn display_name_falls_back_to_record_realname_then_username_then_computer() {
        let c = decode::<Computer>(
            r#"{"id":"1","general":{"name":"Mac-1"},"userAndLocation":{"username":"ada","realname":" "}}"#,
        );
        let dir = Arc::new(UserDirectory::new([user("7", "ada", "Ada Lovelace")]));
        let d = device(&c, &UserIds::Records(dir));
        assert_eq!(d.display_name.as_deref(), Some("Ada Lovelace"));

        let d = device(&c, &UserIds::Usernames);
        assert_eq!(d.display_name.as_deref(), Some("ada"));

        let c = decode::<Computer>(
            r#"{"id":"2","general":{"name":"Mac-2"},"userAndLocation":{"username":"","realname":""}}"#,
        );
        let d = device(&c, &UserIds::Usernames);
        assert_eq!(d.user_id, None);
        assert_eq!(d.user_name, None);
        assert_eq!(d.display_name.as_deref(), Some("Mac-2"));
    }

    #[test]
    fn a_username_without_a_record_has_no_record_id() {
        let dir = Arc::new(UserDirectory::new([user("7", "someone-else", "")]));
        let d = device(&decode::<Computer>(ASSIGNED), &UserIds::Records(dir));
        assert_eq!(d.user_id, None);
        assert_eq!(d.display_name.as_deref(), Some("Jane Doe"));
    }

    #[test]
    fn directory_matches_exactly_then_uniquely_ignoring_case() {
        let dir = UserDirectory::new([
            user("1", "JDoe", ""),
            user("2", "asmith", ""),
            user("3", "ASmith", ""),
            user("4", "", "No Username"),
        ]);
        assert_eq!(dir.find("JDoe").unwrap().id, "1");
        assert_eq!(dir.find("jdoe").unwrap().id, "1");
        assert_eq!(dir.find("asmith").unwrap().id, "2");
        assert_eq!(dir.find("ASmith").unwrap().id, "3");
        assert!(dir.find("ASMITH").is_none(), "ambiguous ignoring case");
        assert!(dir.find("").is_none());
        assert_eq!(format!("{dir:?}"), "UserDirectory(3 users)");
    }

    /// Issue 11 (c): a listing holds the whole directory, so it must stay near the size of its text.
    /// Wire records in hash maps cost several times this.
    #[test]
    fn directory_costs_its_text_plus_a_small_row_per_user() {
        let users: Vec<User> = (0..5_000)
            .map(|i| {
                user(
                    &i.to_string(),
                    &format!("user.{i}"),
                    &format!("User Number {i}"),
                )
            })
            .collect();
        let text: usize = users
            .iter()
            .map(|u| {
                2 * u.username.as_ref().unwrap().len()
                    + u.id.0.len()
                    + u.realname.as_ref().unwrap().len()
            })
            .sum();
        let dir = UserDirectory::new(users);
        assert_eq!(dir.find("USER.4321").map(|u| u.id), Some("4321"));
        // The text once, and one row of four 8-byte references a user: nothing else.
        assert_eq!(std::mem::size_of::<UserRow>(), 32);
        assert_eq!(dir.heap_bytes(), text + 32 * dir.len());
        assert_eq!(dir.len(), 5_000);
    }

    #[test]
    fn placeholder_serials_and_missing_sections() {
        let c = decode::<Computer>(
            r#"{"id":"9","general":null,"hardware":{"serialNumber":"Not Available"},"userAndLocation":null}"#,
        );
        let d = device(&c, &UserIds::Usernames);
        assert_eq!(d.serial_number, None);
        assert_eq!(d.display_name, None);
        assert_eq!(d.device_id, "9");
    }

    #[test]
    fn groups_sort_members_and_name_unnamed_groups() {
        let g: ComputerGroup =
            serde_json::from_str(r#"{"id":"3","name":"","smartGroup":false}"#).unwrap();
        let g = group(&g, vec!["2".into(), "10".into(), "2".into()]);
        assert_eq!(g.name, "Computer group 3");
        assert_eq!(g.member_device_ids, ["10", "2"]);
    }
}
