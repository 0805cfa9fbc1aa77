//! The recorded provider answers in the workspace's `fixtures/<provider>/` folders: the documented wire
//! shapes every provider crate's tests and property tests are built from.

use std::path::PathBuf;

use mdmkit_core::ProviderKind;
use serde_json::Value;

/// The folder holding `kind`'s fixtures.
pub fn dir(kind: ProviderKind) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(kind.id())
}

/// The text of one fixture, e.g. `read(ProviderKind::Fleet, "labels_page.json")`; panics naming the
/// file when it cannot be read.
#[track_caller]
pub fn read(kind: ProviderKind, name: &str) -> String {
    let path = dir(kind).join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every `.json` fixture of `kind`, parsed, in file-name order; panics naming a file that is not JSON.
pub fn json_bodies(kind: ProviderKind) -> Vec<Value> {
    let dir = dir(kind);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a readable fixtures folder").file_name())
        .filter_map(|name| name.into_string().ok())
        .filter(|name| name.ends_with(".json"))
        .collect();
    names.sort();
    names
        .iter()
        .map(|name| {
            serde_json::from_str(&read(kind, name))
                .unwrap_or_else(|e| panic!("{}: {e}", dir.join(name).display()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_provider_has_json_fixtures_and_a_named_one_reads() {
        for kind in ProviderKind::ALL {
            assert!(json_bodies(kind).len() >= 10, "{kind}");
        }
        assert!(read(ProviderKind::Fleet, "labels_page.json").contains("\"labels\""));
    }
}
