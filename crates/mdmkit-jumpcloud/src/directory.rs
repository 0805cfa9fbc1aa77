//! The user directory a listing reads once: user id to name, compact.
//!
//! A listing of a large organisation holds every user, so the directory keeps only what a device needs
//! (id and name) in one [`StringArena`], with a 16-byte row per user sorted by id: a user costs about 16
//! bytes plus their id (24 characters) and name, some 60 bytes, where the wire records in a hash map
//! cost several hundred. Users read by id afterwards (created since the directory was read, or
//! missing) go into a small map beside it.

use std::collections::HashMap;

use mdmkit_core::arena::{StringArena, TextRef};

use crate::convert;
use crate::wire::SystemUser;
use crate::UserEntry;

/// User id to [`UserEntry`] for the listing in progress.
#[derive(Debug, Default)]
pub(crate) struct Directory {
    text: StringArena,
    /// Sorted by id, one row per id.
    rows: Vec<Row>,
    /// Users read one by one after the directory.
    later: HashMap<String, UserEntry>,
}

/// A user of the directory.
#[derive(Debug, Clone, Copy)]
struct Row {
    id: TextRef,
    /// Empty when the user has no name.
    name: TextRef,
}

/// A [`Directory`] being read page by page: a page's wire records can be dropped once added.
#[derive(Debug, Default)]
pub(crate) struct DirectoryBuilder(Directory);

impl DirectoryBuilder {
    /// Adds a user; one without an id is skipped.
    pub(crate) fn add(&mut self, user: &SystemUser) {
        let Some(id) = user.user_id() else { return };
        let text = &mut self.0.text;
        let row = (|| {
            Some(Row {
                id: text.push(id)?,
                name: text.push(&convert::user_name(user).unwrap_or_default())?,
            })
        })();
        if let Some(row) = row {
            self.0.rows.push(row);
        }
    }

    pub(crate) fn build(self) -> Directory {
        let mut dir = self.0;
        // One row per id, the last read (as the map it replaces kept).
        dir.text.sort_keep_last(&mut dir.rows, |r| r.id);
        dir.rows.shrink_to_fit();
        dir.text.shrink_to_fit();
        dir
    }
}

impl Directory {
    /// What the directory knows about `id`.
    pub(crate) fn get(&self, id: &str) -> Option<UserEntry> {
        if let Some(entry) = self.later.get(id) {
            return Some(entry.clone());
        }
        let [row] = self.text.equal_run(&self.rows, |r| r.id, id) else {
            return None;
        };
        let name = self.text.get(row.name);
        Some(UserEntry::Known(
            (!name.is_empty()).then(|| name.to_owned()),
        ))
    }

    /// Records a user read by id after the directory.
    pub(crate) fn insert(&mut self, id: String, entry: UserEntry) {
        self.later.insert(id, entry);
    }

    /// The ids of the users read with the directory.
    pub(crate) fn ids(&self) -> impl Iterator<Item = &str> {
        self.rows.iter().map(|r| self.text.get(r.id))
    }

    /// Users read with the directory.
    pub(crate) fn len(&self) -> usize {
        self.rows.len()
    }

    /// Heap bytes held by the users read with the directory, for the memory budget of a listing.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.text.heap_bytes() + self.rows.capacity() * std::mem::size_of::<Row>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(json: serde_json::Value) -> SystemUser {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn ids_find_names_and_later_reads_win() {
        let mut builder = DirectoryBuilder::default();
        builder.add(&user(serde_json::json!({"_id": "b", "displayname": "Bo"})));
        builder.add(&user(
            serde_json::json!({"_id": "a", "email": "anna@acme.com"}),
        ));
        builder.add(&user(serde_json::json!({"_id": "c"})));
        builder.add(&user(serde_json::json!({"displayname": "No id"})));
        builder.add(&user(
            serde_json::json!({"_id": "b", "displayname": "Bo Li"}),
        ));
        let mut dir = builder.build();
        assert_eq!(dir.len(), 3);
        assert!(matches!(dir.get("b"), Some(UserEntry::Known(Some(n))) if n == "Bo Li"));
        assert!(matches!(dir.get("a"), Some(UserEntry::Known(Some(n))) if n == "anna@acme.com"));
        assert!(matches!(dir.get("c"), Some(UserEntry::Known(None))));
        assert!(dir.get("d").is_none());
        dir.insert("d".into(), UserEntry::Missing);
        assert!(matches!(dir.get("d"), Some(UserEntry::Missing)));
        assert_eq!(dir.ids().collect::<Vec<_>>(), ["a", "b", "c"]);
    }

    /// Issue 11 (c): a listing holds the whole directory, so it must stay near the size of its text.
    #[test]
    fn the_directory_costs_its_text_plus_a_small_row_per_user() {
        let mut builder = DirectoryBuilder::default();
        let mut text = 0;
        for i in 0..5_000 {
            let id = format!("5f0c0f1e2d3b4a{i:010}");
            let name = format!("User Number {i}");
            text += id.len() + name.len();
            builder.add(&user(serde_json::json!({
                "_id": id, "displayname": name, "email": "someone@acme.com",
                "username": "someone", "firstname": "Some", "lastname": "One"
            })));
        }
        let dir = builder.build();
        let beyond_text = dir.heap_bytes() - text;
        assert_eq!(
            beyond_text / dir.len(),
            16,
            "an id and a name reference a user, beside the text"
        );
    }
}
