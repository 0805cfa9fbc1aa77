//! Fleet's IdP users, read through its SCIM endpoint, and the join that names listed hosts' users.
//!
//! Fleet Premium (4.67 and later) receives the IdP's users by SCIM and serves them back at
//! `GET /api/v1/fleet/scim/Users` as an RFC 7644 `ListResponse` (`totalResults`, `startIndex` from 1,
//! `itemsPerPage`, `Resources`), at most 100 a page (`count` above 100 is refused with `tooMany`). Fleet
//! authorises every SCIM request as a *write* of SCIM users (`ee/server/scim/scim.go`,
//! `AuthorizationMiddleware`), so only roles that may provision users read it: Fleet's own guide creates
//! an API-only user with the maintainer role for the IdP. An observer's token gets 403; Fleet Free and
//! servers before 4.67 have no such route (404). Reading it also becomes the "last SCIM request" Fleet
//! shows on its IdP settings page.
//!
//! Fleet links a SCIM user to a host through the host's IdP account (the `mdm_idp_accounts` e-mail of
//! the host's `device_mapping`): by `userName`, else by a unique e-mail (`ScimUserByUserNameOrEmail`),
//! then shows that user's `userName` as `end_users[].idp_username` and "given family" as
//! `idp_full_name`. The join here does the same, so a listed host carries the user id and name a lookup
//! of that host shows.

use std::collections::HashMap;

use serde::Deserialize;

/// One page of `GET /scim/Users`.
#[derive(Debug, Deserialize)]
pub(crate) struct ListResponse {
    #[serde(rename = "totalResults", default)]
    pub(crate) total_results: Option<u64>,
    #[serde(rename = "Resources", default)]
    pub(crate) resources: Option<Vec<ScimUser>>,
}

/// A SCIM user, reduced to what names a person.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ScimUser {
    #[serde(rename = "userName", default)]
    pub(crate) user_name: Option<String>,
    #[serde(default)]
    pub(crate) name: Option<ScimName>,
    #[serde(default)]
    pub(crate) emails: Option<Vec<ScimEmail>>,
}

/// `name`: Fleet stores and serves `givenName` and `familyName`.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct ScimName {
    #[serde(rename = "givenName", default)]
    pub(crate) given_name: Option<String>,
    #[serde(rename = "familyName", default)]
    pub(crate) family_name: Option<String>,
}

/// One of `emails`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ScimEmail {
    #[serde(default)]
    pub(crate) value: Option<String>,
}

fn non_blank(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

impl ScimUser {
    /// The full name as Fleet composes `idp_full_name`: "given family", or whichever part there is.
    pub(crate) fn full_name(&self) -> Option<String> {
        let name = self.name.as_ref()?;
        let parts: Vec<&str> = [&name.given_name, &name.family_name]
            .into_iter()
            .filter_map(|p| non_blank(p.as_deref()))
            .collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    }
}

/// A user the join found: the id a lookup shows, and the name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Named {
    pub(crate) user_id: String,
    pub(crate) name: Option<String>,
}

/// Every SCIM user, by `userName` and by e-mail (both compared ignoring ASCII case, as Fleet's MySQL
/// collation does).
#[derive(Debug, Default)]
pub(crate) struct ScimIndex {
    by_user_name: HashMap<String, Named>,
    /// E-mail to the users carrying it; only a unique owner links.
    by_email: HashMap<String, Vec<Named>>,
}

impl ScimIndex {
    pub(crate) fn new(users: Vec<ScimUser>) -> ScimIndex {
        let mut index = ScimIndex::default();
        for user in users {
            let Some(user_name) = non_blank(user.user_name.as_deref()) else {
                continue;
            };
            let named = Named {
                user_id: user_name.to_owned(),
                name: user.full_name(),
            };
            for email in user.emails.iter().flatten() {
                if let Some(email) = non_blank(email.value.as_deref()) {
                    let owners = index
                        .by_email
                        .entry(email.to_ascii_lowercase())
                        .or_default();
                    if !owners.contains(&named) {
                        owners.push(named.clone());
                    }
                }
            }
            index
                .by_user_name
                .insert(user_name.to_ascii_lowercase(), named);
        }
        index
    }

    /// The SCIM user Fleet links to a host whose IdP account is `identity`: by `userName`, else the one
    /// user with that e-mail.
    pub(crate) fn find(&self, identity: &str) -> Option<&Named> {
        let key = identity.trim().to_ascii_lowercase();
        if let Some(named) = self.by_user_name.get(&key) {
            return Some(named);
        }
        match self.by_email.get(&key).map(Vec::as_slice) {
            Some([one]) => Some(one),
            _ => None,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.by_user_name.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users(json: &str) -> Vec<ScimUser> {
        serde_json::from_str::<ListResponse>(json)
            .unwrap()
            .resources
            .unwrap()
    }

    #[test]
    fn users_are_found_by_user_name_ignoring_case_then_by_a_unique_email() {
        let index = ScimIndex::new(users(
            r#"{"totalResults": 4, "Resources": [
                {"userName": "Anna@Acme.com", "name": {"givenName": "Anna", "familyName": "Chao"},
                 "emails": [{"value": "anna@acme.com", "primary": true}]},
                {"userName": "bo.li", "name": {"givenName": "Bo"}, "emails": [{"value": "bo@acme.com"}]},
                {"userName": "shared1", "emails": [{"value": "desk@acme.com"}]},
                {"userName": "shared2", "emails": [{"value": "DESK@acme.com"}]},
                {"userName": " ", "name": {"givenName": "Nobody"}}
            ]}"#,
        ));
        assert_eq!(index.len(), 4);
        let anna = index.find("anna@acme.com").unwrap();
        assert_eq!(anna.user_id, "Anna@Acme.com", "the id a lookup shows");
        assert_eq!(anna.name.as_deref(), Some("Anna Chao"));
        let bo = index.find(" BO@acme.com").unwrap();
        assert_eq!(
            (bo.user_id.as_str(), bo.name.as_deref()),
            ("bo.li", Some("Bo"))
        );
        assert_eq!(index.find("desk@acme.com"), None, "two owners: no link");
        assert_eq!(index.find("shared1").unwrap().name, None);
        assert_eq!(index.find("nobody@acme.com"), None);
    }
}
