//! Jamf wire types to mdmkit's devices and groups.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use mdmkit_core::{MdmDevice, MdmGroup, SerialNumber};

use crate::wire::{non_blank, Computer, ComputerGroup, User};

/// Jamf user records by username, for turning a computer's `userAndLocation.username` into the record id.
#[derive(Default)]
pub(crate) struct UserDirectory {
    exact: HashMap<String, User>,
    /// Lower-cased username to the one record it names; `None` when several records differ only in case.
    folded: HashMap<String, Option<User>>,
}

impl fmt::Debug for UserDirectory {
    // Usernames are personal data: only the size is shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UserDirectory({} users)", self.exact.len())
    }
}

impl UserDirectory {
    pub(crate) fn new(users: impl IntoIterator<Item = User>) -> Self {
        let mut dir = UserDirectory::default();
        for user in users {
            let Some(name) = non_blank(user.username.as_deref()).map(str::to_owned) else {
                continue;
            };
            dir.folded
                .entry(name.to_lowercase())
                .and_modify(|slot| {
                    if slot.as_ref().is_some_and(|u| u.id != user.id) {
                        *slot = None;
                    }
                })
                .or_insert_with(|| Some(user.clone()));
            dir.exact.entry(name).or_insert(user);
        }
        dir
    }

    /// The record for `username`: the exact match, else the only record equal to it ignoring case.
    pub(crate) fn find(&self, username: &str) -> Option<&User> {
        let username = username.trim();
        self.exact.get(username).or_else(|| {
            self.folded
                .get(&username.to_lowercase())
                .and_then(Option::as_ref)
        })
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
        UserIds::Records(_) => record.map(|u| u.id.0.clone()),
    };
    let user_name = computer
        .realname()
        .or_else(|| record.and_then(|u| non_blank(u.realname.as_deref())))
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

    fn computer(json: &str) -> Computer {
        serde_json::from_str(json).unwrap()
    }

    fn user(id: &str, username: &str, realname: &str) -> User {
        serde_json::from_value(
            serde_json::json!({"id": id, "username": username, "realname": realname}),
        )
        .unwrap()
    }

    const ASSIGNED: &str = r#"{"id":"117","general":{"name":"LT-JDOE-MBP"},"hardware":{"serialNumber":"c02zc2qylvdl"},
        "userAndLocation":{"username":"jdoe","realname":"Jane Doe","email":"jane.doe@example.com"}}"#;

    #[test]
    fn assigned_user_with_record_ids() {
        let dir = Arc::new(UserDirectory::new([user("42", "jdoe", "Jane Q. Doe")]));
        let d = device(&computer(ASSIGNED), &UserIds::Records(dir));
        assert_eq!(d.device_id, "117");
        assert_eq!(d.serial_number.as_ref().unwrap().as_str(), "C02ZC2QYLVDL");
        assert_eq!(d.user_id.as_deref(), Some("42"));
        assert_eq!(
            d.user_name.as_deref(),
            Some("Jane Doe"),
            "the computer's realname first"
        );
        assert_eq!(d.display_name.as_deref(), Some("Jane Doe"));
        assert_eq!(d.device_name.as_deref(), Some("LT-JDOE-MBP"));
    }

    #[test]
    fn usernames_are_ids_without_a_user_api() {
        let d = device(&computer(ASSIGNED), &UserIds::Usernames);
        assert_eq!(d.user_id.as_deref(), Some("jdoe"));
    }

    #[test]
    fn display_name_falls_back_to_record_realname_then_username_then_computer() {
        let c = computer(
            r#"{"id":"1","general":{"name":"Mac-1"},"userAndLocation":{"username":"ada","realname":" "}}"#,
        );
        let dir = Arc::new(UserDirectory::new([user("7", "ada", "Ada Lovelace")]));
        let d = device(&c, &UserIds::Records(dir));
        assert_eq!(d.display_name.as_deref(), Some("Ada Lovelace"));

        let d = device(&c, &UserIds::Usernames);
        assert_eq!(d.display_name.as_deref(), Some("ada"));

        let c = computer(
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
        let d = device(&computer(ASSIGNED), &UserIds::Records(dir));
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
        assert_eq!(dir.find("JDoe").unwrap().id.0, "1");
        assert_eq!(dir.find("jdoe").unwrap().id.0, "1");
        assert_eq!(dir.find("asmith").unwrap().id.0, "2");
        assert_eq!(dir.find("ASmith").unwrap().id.0, "3");
        assert!(dir.find("ASMITH").is_none(), "ambiguous ignoring case");
        assert!(dir.find("").is_none());
        assert_eq!(format!("{dir:?}"), "UserDirectory(3 users)");
    }

    #[test]
    fn placeholder_serials_and_missing_sections() {
        let c = computer(
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
