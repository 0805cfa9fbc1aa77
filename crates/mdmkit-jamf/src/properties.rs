//! Property tests: every Jamf body this crate parses, fed any bytes and any JSON through the decoding the
//! client uses (`serde_json` into the wire types) and then through the convert step, never panics.
//! 10,000 cases per parser.

use std::sync::Arc;

use mdmkit_core::http::{ErrorClassifier, HeaderMap, StatusCode};
use mdmkit_core::ProviderKind;
use mdmkit_testkit::arbitrary::{
    body, body_of, body_or, config, fixture_keys, list_envelope, rows, text,
};
use proptest::prelude::*;
use serde_json::Value;

use crate::convert::{self, UserDirectory, UserIds};
use crate::error::JamfErrorClassifier;
use crate::wire::{
    ClassicGroupBody, Computer, ComputerGroup, SearchResults, SmartGroupMembership, User,
    VersionBody,
};
use crate::JamfProVersion;

/// The keys of the recorded Jamf answers, and the aliases the wire types also read.
fn keys() -> &'static [&'static str] {
    fixture_keys(ProviderKind::Jamf, &["realName", "isSmart"])
}

/// A `{totalCount, results}` page of arbitrary rows.
fn page() -> impl Strategy<Value = Value> {
    list_envelope(keys(), "results", "totalCount")
}

fn users() -> impl Strategy<Value = Vec<User>> {
    rows(keys()).prop_map(|rows| {
        rows.into_iter()
            .filter_map(|row| serde_json::from_value(row).ok())
            .collect()
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn inventory_pages(body in body_or(keys(), page()), known in users()) {
        if let Ok(page) = serde_json::from_slice::<SearchResults<Computer>>(&body) {
            let directory = UserIds::Records(Arc::new(UserDirectory::new(known)));
            for computer in &page.results {
                let _ = convert::device(computer, &UserIds::Usernames);
                let _ = convert::device(computer, &directory);
            }
        }
    }

    #[test]
    fn user_pages(body in body_or(keys(), page()), name in text()) {
        if let Ok(page) = serde_json::from_slice::<SearchResults<User>>(&body) {
            let _ = UserDirectory::new(page.results).find(&name);
        }
    }

    #[test]
    fn group_lists_and_members(
        list in body_of(rows(keys()).prop_map(Value::Array)),
        members in body(keys()),
        classic in body(keys()),
    ) {
        let mut ids = Vec::new();
        if let Ok(m) = serde_json::from_slice::<SmartGroupMembership>(&members) {
            ids.extend(m.members.into_iter().map(|i| i.0));
        }
        if let Ok(c) = serde_json::from_slice::<ClassicGroupBody>(&classic) {
            ids.extend(c.computer_group.computers.0.into_iter().map(|c| c.id.0));
        }
        if let Ok(groups) = serde_json::from_slice::<Vec<ComputerGroup>>(&list) {
            for group in &groups {
                let _ = convert::group(group, ids.clone());
            }
        }
    }

    #[test]
    fn versions_and_error_bodies(body in body(keys()), version in text(), status in 100u16..600) {
        if let Ok(v) = serde_json::from_slice::<VersionBody>(&body) {
            let _ = v.version.as_deref().and_then(JamfProVersion::parse);
        }
        let _ = JamfProVersion::parse(&version);
        let status = StatusCode::from_u16(status).unwrap();
        let _ = JamfErrorClassifier.classify(status, &HeaderMap::new(), &body);
    }
}
