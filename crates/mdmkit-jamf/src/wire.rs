//! Serde types for the Jamf bodies this crate reads, as the server sends them.
//!
//! Lenient where Jamf is inconsistent: ids arrive as strings (`"117"`, Pro API) or numbers (`117`, Classic
//! API and smart-group membership); sections not requested come back `null`; strings may be `null` or
//! empty; the Classic API's JSON renders a list as an array, as `{"computer": [...]}` or, for one element,
//! as `{"computer": {...}}`.
//!
//! Strict where a result is carried: the `results` of a page, the `members` of a smart
//! group and the `computers` of a Classic group are required, so a 200 of another shape (`{}`, `null`, an
//! HTML page) is an invalid response rather than "no computers" or "no members".

use mdmkit_core::wire;
use serde::{Deserialize, Deserializer};

/// An id that may be sent as a string or as a number; kept as its text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
pub(crate) struct Id(#[serde(deserialize_with = "wire::id_text")] pub(crate) String);

/// `GET /api/v1/jamf-pro-version` (schema `JamfProVersion`).
#[derive(Debug, Deserialize)]
pub(crate) struct VersionBody {
    pub(crate) version: Option<String>,
}

/// The Jamf Pro API error body (schema `ApiError`).
/// Its `httpStatus` repeats the status line and is not read; a `null` list of errors (some Jamf versions)
/// reads as none.
#[derive(Debug, Deserialize)]
pub(crate) struct ApiError {
    #[serde(default, deserialize_with = "wire::null_as_default")]
    pub(crate) errors: Vec<ApiErrorEntry>,
}

/// One entry of `ApiError.errors`.
#[derive(Debug, Deserialize)]
pub(crate) struct ApiErrorEntry {
    pub(crate) code: Option<String>,
    pub(crate) field: Option<String>,
    pub(crate) description: Option<String>,
}

/// A `{totalCount, results}` page (computers inventory, users). `results` carries the rows and is
/// required; a missing or `null` `totalCount` only means the total is unknown (the pager then ends on a
/// short page), so it is tolerated.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", bound(deserialize = "T: Deserialize<'de>"))]
pub(crate) struct SearchResults<T> {
    pub(crate) total_count: Option<u64>,
    pub(crate) results: Vec<T>,
}

/// One computer of `/api/v{1,3,4}/computers-inventory` (schemas `ComputerInventory`,
/// `ComputerInventoryV3`, `ComputerInventoryV4`); only the fields this crate reads.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Computer {
    pub(crate) id: Id,
    pub(crate) general: Option<General>,
    pub(crate) hardware: Option<Hardware>,
    pub(crate) user_and_location: Option<UserAndLocation>,
    pub(crate) group_memberships: Option<Vec<GroupMembership>>,
}

impl Computer {
    /// The reported serial number, if any.
    pub(crate) fn serial(&self) -> Option<&str> {
        self.hardware.as_ref()?.serial_number.as_deref()
    }

    /// The assigned username, trimmed, if there is one.
    pub(crate) fn username(&self) -> Option<&str> {
        non_blank(self.user_and_location.as_ref()?.username.as_deref())
    }

    /// The assigned user's full name, trimmed, if there is one.
    pub(crate) fn realname(&self) -> Option<&str> {
        non_blank(self.user_and_location.as_ref()?.realname.as_deref())
    }

    /// The computer's name.
    pub(crate) fn name(&self) -> Option<&str> {
        non_blank(self.general.as_ref()?.name.as_deref())
    }
}

pub(crate) fn non_blank(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

/// The `general` section.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct General {
    pub(crate) name: Option<String>,
}

/// The `hardware` section.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Hardware {
    pub(crate) serial_number: Option<String>,
}

/// The `userAndLocation` section (schema `ComputerUserAndLocation`: `realname`, not `realName`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UserAndLocation {
    pub(crate) username: Option<String>,
    #[serde(default, alias = "realName")]
    pub(crate) realname: Option<String>,
}

/// One entry of the `groupMemberships` section.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GroupMembership {
    pub(crate) group_id: Id,
}

/// One entry of `GET /api/v1/computer-groups` (schema `ComputerGroup`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ComputerGroup {
    pub(crate) id: Id,
    pub(crate) name: Option<String>,
    #[serde(default, alias = "isSmart", alias = "is_smart")]
    pub(crate) smart_group: Option<bool>,
}

/// `GET /api/v{2,3}/computer-groups/smart-group-membership/{id}`: `{"members":[1,2,3]}`.
#[derive(Debug, Deserialize)]
pub(crate) struct SmartGroupMembership {
    pub(crate) members: Vec<Id>,
}

/// `GET /JSSResource/computergroups/id/{id}` with `Accept: application/json`.
#[derive(Debug, Deserialize)]
pub(crate) struct ClassicGroupBody {
    pub(crate) computer_group: ClassicGroup,
}

/// The Classic `computer_group` object; only the member list is read (required: every rendering has it).
#[derive(Debug, Deserialize)]
pub(crate) struct ClassicGroup {
    pub(crate) computers: ClassicComputers,
}

/// The Classic member list in each of its JSON renderings.
#[derive(Debug, Default)]
pub(crate) struct ClassicComputers(pub(crate) Vec<ClassicComputer>);

impl<'de> Deserialize<'de> for ClassicComputers {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum OneOrMany {
            Many(Vec<ClassicComputer>),
            One(ClassicComputer),
        }
        #[derive(Deserialize)]
        struct Wrapped {
            computer: Option<OneOrMany>,
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            List(Vec<ClassicComputer>),
            Wrapped(Wrapped),
        }
        Ok(ClassicComputers(match Raw::deserialize(d)? {
            Raw::List(list) => list,
            Raw::Wrapped(w) => match w.computer {
                None => Vec::new(),
                Some(OneOrMany::Many(list)) => list,
                Some(OneOrMany::One(one)) => vec![one],
            },
        }))
    }
}

/// A Classic group member.
#[derive(Debug, Deserialize)]
pub(crate) struct ClassicComputer {
    pub(crate) id: Id,
}

/// One user of `GET /api/v1/users` (schema `User`).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct User {
    pub(crate) id: Id,
    pub(crate) username: Option<String>,
    #[serde(default, alias = "realName")]
    pub(crate) realname: Option<String>,
}

#[cfg(test)]
mod tests {
    use mdmkit_testkit::shapes::{assert_envelope_rejected, assert_rejected};

    use super::*;

    #[test]
    fn ids_come_as_strings_or_numbers() {
        let m: SmartGroupMembership = serde_json::from_str(r#"{"members":[1,"2"," 3 "]}"#).unwrap();
        let ids: Vec<_> = m.members.into_iter().map(|i| i.0).collect();
        assert_eq!(ids, ["1", "2", "3"]);
        assert_envelope_rejected::<SmartGroupMembership>("members", &[r#"{"members":{"id":1}}"#]);
    }

    #[test]
    fn classic_member_lists_in_every_rendering() {
        let ids = |json: &str| -> Vec<String> {
            let body: ClassicGroupBody = serde_json::from_str(json).unwrap();
            body.computer_group
                .computers
                .0
                .into_iter()
                .map(|c| c.id.0)
                .collect()
        };
        assert_eq!(
            ids(r#"{"computer_group":{"id":7,"computers":[{"id":82},{"id":106}]}}"#),
            ["82", "106"]
        );
        assert_eq!(
            ids(r#"{"computer_group":{"id":4,"computers":{"computer":[{"id":100},{"id":101}]}}}"#),
            ["100", "101"]
        );
        assert_eq!(
            ids(r#"{"computer_group":{"id":4,"computers":{"computer":{"id":100,"name":"a"}}}}"#),
            ["100"]
        );
        assert!(ids(r#"{"computer_group":{"id":2,"computers":{"computer":[]}}}"#).is_empty());
        assert!(ids(r#"{"computer_group":{"id":2,"computers":{"size":0}}}"#).is_empty());
        assert_rejected::<ClassicGroupBody>(&[
            r#"{"computer_group":{"id":2,"computers":null}}"#,
            r#"{"computer_group":{"id":2}}"#,
            r#"{"computer_group":{"id":2,"computers":"82,106"}}"#,
            r#"{"computer_group":null}"#,
            "{}",
        ]);
    }

    #[test]
    fn null_sections_and_results_are_tolerated() {
        let page: SearchResults<Computer> = serde_json::from_str(
            r#"{"totalCount":1,"results":[{"id":"5","general":null,"hardware":null,"userAndLocation":null}]}"#,
        )
        .unwrap();
        let c = &page.results[0];
        assert_eq!(c.id.0, "5");
        assert_eq!((c.serial(), c.username(), c.name()), (None, None, None));
        let page: SearchResults<Computer> =
            serde_json::from_str(r#"{"totalCount":0,"results":[]}"#).unwrap();
        assert!(page.results.is_empty());
    }

    #[test]
    fn a_page_of_another_shape_is_an_error_not_an_empty_page() {
        assert_envelope_rejected::<SearchResults<Computer>>(
            "results",
            &[
                r#"{"totalCount":0,"results":null}"#,
                r#"{"totalCount":1}"#,
                r#"{"totalCount":1,"results":{"id":"1"}}"#,
                r#"{"totalCount":"lots","results":[]}"#,
            ],
        );
    }
}
