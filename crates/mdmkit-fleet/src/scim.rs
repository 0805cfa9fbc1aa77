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

use mdmkit_core::arena::{StringArena, TextRef};
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Named<'a> {
    pub(crate) user_id: &'a str,
    pub(crate) name: Option<&'a str>,
}

/// Every SCIM user, by `userName` and by e-mail (both compared ignoring ASCII case, as Fleet's MySQL
/// collation does).
///
/// A listing holds every user, so the index is compact: the texts in one [`StringArena`], a 16-byte row
/// per user and a 12-byte key per `userName` and per e-mail, sorted for binary search. A user with one
/// e-mail costs about 40 bytes plus their text (`userName`, name, and the lower-cased `userName` and
/// e-mail), some 130 bytes for a typical directory.
#[derive(Debug, Default)]
pub(crate) struct ScimIndex {
    text: StringArena,
    users: Vec<UserRow>,
    /// Lower-cased `userName` to its user, one per name (the last user read with it).
    by_user_name: Vec<Key>,
    /// Lower-cased e-mail to a user carrying it, one key per (e-mail, user); only a unique owner links.
    by_email: Vec<Key>,
}

/// One SCIM user of a [`ScimIndex`].
#[derive(Debug, Clone, Copy)]
struct UserRow {
    user_id: TextRef,
    /// Empty when the user has no name.
    name: TextRef,
}

/// A lower-cased key and the index of the user it names.
#[derive(Debug, Clone, Copy)]
struct Key {
    key: TextRef,
    user: u32,
}

/// A [`ScimIndex`] being read, page by page: a page's wire users can be dropped once added.
#[derive(Debug, Default)]
pub(crate) struct ScimIndexBuilder {
    index: ScimIndex,
    /// Users read, with or without a `userName`: the position the next page starts from.
    rows: u64,
}

impl ScimIndexBuilder {
    /// Adds a page of users.
    pub(crate) fn add_page(&mut self, users: &[ScimUser]) {
        for user in users {
            self.rows += 1;
            self.add(user);
        }
    }

    /// Users read so far, including those without a `userName`.
    pub(crate) fn rows(&self) -> u64 {
        self.rows
    }

    fn add(&mut self, user: &ScimUser) {
        let Some(user_name) = non_blank(user.user_name.as_deref()) else {
            return;
        };
        let index = &mut self.index;
        let Ok(at) = u32::try_from(index.users.len()) else {
            return;
        };
        let text = &mut index.text;
        let row = (|| {
            Some(UserRow {
                user_id: text.push(user_name)?,
                name: text.push(&user.full_name().unwrap_or_default())?,
            })
        })();
        let Some(row) = row else { return };
        index.users.push(row);
        for email in user.emails.iter().flatten() {
            if let Some(key) = non_blank(email.value.as_deref())
                .and_then(|email| text.push(&email.to_ascii_lowercase()))
            {
                index.by_email.push(Key { key, user: at });
            }
        }
        if let Some(key) = text.push(&user_name.to_ascii_lowercase()) {
            index.by_user_name.push(Key { key, user: at });
        }
    }

    pub(crate) fn build(self) -> ScimIndex {
        let mut index = self.index;
        let text = &index.text;
        // One user per `userName` (ignoring case): the last read.
        text.sort_keep_last(&mut index.by_user_name, |k| k.key);
        text.sort(&mut index.by_email, |k| k.key);
        index.text.shrink_to_fit();
        index.users.shrink_to_fit();
        index.by_user_name.shrink_to_fit();
        index.by_email.shrink_to_fit();
        index
    }
}

impl ScimIndex {
    pub(crate) fn new(users: &[ScimUser]) -> ScimIndex {
        let mut builder = ScimIndexBuilder::default();
        builder.add_page(users);
        builder.build()
    }

    fn named(&self, user: u32) -> Named<'_> {
        let row = self.users[user as usize];
        Named {
            user_id: self.text.get(row.user_id),
            name: Some(self.text.get(row.name)).filter(|n| !n.is_empty()),
        }
    }

    /// The SCIM user Fleet links to a host whose IdP account is `identity`: by `userName`, else the one
    /// user with that e-mail.
    pub(crate) fn find(&self, identity: &str) -> Option<Named<'_>> {
        let key = identity.trim().to_ascii_lowercase();
        if let [found, ..] = self.text.equal_run(&self.by_user_name, |k| k.key, &key) {
            return Some(self.named(found.user));
        }
        match self.text.equal_run(&self.by_email, |k| k.key, &key) {
            [first, rest @ ..] => {
                let owner = self.named(first.user);
                rest.iter()
                    .all(|k| self.named(k.user) == owner)
                    .then_some(owner)
            }
            [] => None,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.by_user_name.len()
    }

    /// Heap bytes held, for the memory budget of a listing.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.text.heap_bytes()
            + self.users.capacity() * std::mem::size_of::<UserRow>()
            + (self.by_user_name.capacity() + self.by_email.capacity()) * std::mem::size_of::<Key>()
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
        let index = ScimIndex::new(&users(
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
        assert_eq!(anna.name, Some("Anna Chao"));
        let bo = index.find(" BO@acme.com").unwrap();
        assert_eq!((bo.user_id, bo.name), ("bo.li", Some("Bo")));
        assert_eq!(index.find("desk@acme.com"), None, "two owners: no link");
        assert_eq!(index.find("shared1").unwrap().name, None);
        assert_eq!(index.find("nobody@acme.com"), None);
    }

    /// Issue 11 (c): a listing holds every SCIM user, so the index must stay near the size of its text
    /// (wire users in hash maps cost several times this), and a later user with the same `userName`
    /// replaces an earlier one, as before.
    #[test]
    fn the_index_costs_its_text_plus_small_rows_and_keys() {
        let users: Vec<ScimUser> = (0..5_000)
            .map(|i| ScimUser {
                user_name: Some(format!("user{i}@acme.com")),
                name: Some(ScimName {
                    given_name: Some(format!("Given{i}")),
                    family_name: Some("Family".into()),
                }),
                emails: Some(vec![ScimEmail {
                    value: Some(format!("user{i}@acme.com")),
                }]),
            })
            .collect();
        let text: usize = users
            .iter()
            .map(|u| 3 * u.user_name.as_ref().unwrap().len() + u.full_name().unwrap().len())
            .sum();
        let mut builder = ScimIndexBuilder::default();
        for page in users.chunks(100) {
            builder.add_page(page);
        }
        builder.add_page(&[ScimUser {
            user_name: Some("USER7@acme.com".into()),
            name: None,
            emails: None,
        }]);
        assert_eq!(builder.rows(), 5_001);
        let index = builder.build();
        assert_eq!(index.len(), 5_000);
        assert!(std::mem::size_of::<UserRow>() + 2 * std::mem::size_of::<Key>() <= 40);
        assert!(
            index.heap_bytes() <= text + 64 + 40 * 5_001,
            "{} bytes for {text} bytes of text",
            index.heap_bytes()
        );
        assert_eq!(
            index.find("user4321@ACME.com"),
            Some(Named {
                user_id: "user4321@acme.com",
                name: Some("Given4321 Family")
            })
        );
        assert_eq!(
            index.find("user7@acme.com").map(|n| n.user_id),
            Some("USER7@acme.com"),
            "the last user read with a userName wins"
        );
    }
}
