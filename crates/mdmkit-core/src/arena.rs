//! Compact tables of short strings, for the few joins a listing needs over a whole directory (Jamf's
//! users, Fleet's SCIM users, JumpCloud's users).
//!
//! A directory of 100,000 users kept as wire structs in hash maps costs several hundred bytes a user
//! (a `String` header and a heap block per field, hash buckets, often a second map for another key).
//! A [`StringArena`] keeps every string back to back in one buffer and hands out 8-byte [`TextRef`]s,
//! so a table row is a few `TextRef`s in a `Vec` sorted by its key and found by binary search
//! ([`StringArena::equal_run`]): a user then costs their text plus a few dozen bytes.

use std::cmp::Ordering;

/// Where one string sits in a [`StringArena`]. Only meaningful for the arena that made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TextRef {
    start: u32,
    len: u32,
}

impl TextRef {
    /// The empty string (in any arena).
    pub const EMPTY: TextRef = TextRef { start: 0, len: 0 };

    /// Whether the string is empty.
    pub fn is_empty(self) -> bool {
        self.len == 0
    }
}

/// Strings stored back to back in one buffer, up to 4 GiB in all.
#[derive(Default, Clone)]
pub struct StringArena {
    text: String,
}

impl std::fmt::Debug for StringArena {
    // The strings are often personal data (user names, e-mails): only the size is shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StringArena({} bytes)", self.text.len())
    }
}

impl StringArena {
    /// An empty arena.
    pub fn new() -> Self {
        StringArena::default()
    }

    /// Stores `s` and says where. `None` when the arena would pass 4 GiB (a directory that large is
    /// not a directory; callers skip the row).
    pub fn push(&mut self, s: &str) -> Option<TextRef> {
        let start = u32::try_from(self.text.len()).ok()?;
        let len = u32::try_from(s.len()).ok()?;
        start.checked_add(len)?;
        self.text.push_str(s);
        Some(TextRef { start, len })
    }

    /// The string at `at`. A reference from another arena reads as the empty string rather than
    /// panicking.
    pub fn get(&self, at: TextRef) -> &str {
        let start = at.start as usize;
        self.text
            .get(start..start + at.len as usize)
            .unwrap_or_default()
    }

    /// Bytes of text stored.
    pub fn len(&self) -> usize {
        self.text.len()
    }

    /// Whether nothing has been stored.
    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// Releases the spare capacity of the buffer (call once the table is complete).
    pub fn shrink_to_fit(&mut self) {
        self.text.shrink_to_fit();
    }

    /// Heap bytes the arena holds.
    pub fn heap_bytes(&self) -> usize {
        self.text.capacity()
    }

    /// Compares the strings at `a` and `b`.
    pub fn compare(&self, a: TextRef, b: TextRef) -> Ordering {
        self.get(a).cmp(self.get(b))
    }

    /// Sorts `rows` by `key`, stably: rows with equal keys keep the order they were pushed in.
    pub fn sort<T>(&self, rows: &mut [T], key: impl Fn(&T) -> TextRef) {
        rows.sort_by(|a, b| self.compare(key(a), key(b)));
    }

    /// Sorts `rows` by `key` and keeps one row per key, the last pushed (as inserting into a map
    /// would).
    pub fn sort_keep_last<T>(&self, rows: &mut Vec<T>, key: impl Fn(&T) -> TextRef) {
        // Reversed, a stable sort puts the last pushed first in its run, which `dedup` keeps.
        rows.reverse();
        self.sort(rows, &key);
        rows.dedup_by(|later, kept| self.get(key(later)) == self.get(key(kept)));
    }

    /// The rows of `sorted` (sorted by `key`) whose key is `wanted`, in their order in `sorted`.
    pub fn equal_run<'t, T>(
        &self,
        sorted: &'t [T],
        key: impl Fn(&T) -> TextRef,
        wanted: &str,
    ) -> &'t [T] {
        let start = sorted.partition_point(|row| self.get(key(row)) < wanted);
        let len = sorted[start..].partition_point(|row| self.get(key(row)) == wanted);
        &sorted[start..start + len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_come_back_and_runs_are_found() {
        let mut arena = StringArena::new();
        let mut rows: Vec<(TextRef, u32)> = ["b", "a", "c", "b", ""]
            .iter()
            .zip(0..)
            .map(|(s, i)| (arena.push(s).unwrap(), i))
            .collect();
        assert_eq!(arena.get(rows[2].0), "c");
        assert!(rows[4].0.is_empty());
        let mut unique = rows.clone();
        arena.sort(&mut rows, |r| r.0);
        let run = arena.equal_run(&rows, |r| r.0, "b");
        assert_eq!(
            run.iter().map(|r| r.1).collect::<Vec<_>>(),
            [0, 3],
            "a stable sort keeps the order rows were pushed in"
        );
        assert!(arena.equal_run(&rows, |r| r.0, "bb").is_empty());
        assert_eq!(arena.equal_run(&rows, |r| r.0, "").len(), 1);
        assert_eq!(arena.len(), 4);
        arena.sort_keep_last(&mut unique, |r| r.0);
        assert_eq!(
            unique.iter().map(|r| r.1).collect::<Vec<_>>(),
            [4, 1, 3, 2],
            "one row per key, the last pushed"
        );
        assert_eq!(format!("{arena:?}"), "StringArena(4 bytes)");
    }

    #[test]
    fn a_reference_past_the_end_reads_empty() {
        let mut big = StringArena::new();
        let far = big.push("somewhere far along").unwrap();
        assert_eq!(StringArena::new().get(far), "");
    }

    #[test]
    fn a_row_costs_eight_bytes_of_reference() {
        assert_eq!(std::mem::size_of::<TextRef>(), 8);
    }
}
