//! Property tests: every JumpCloud body this crate parses, fed any bytes and any JSON through the decoding
//! the client uses (`serde_json` into the wire types) and then through the convert step, never panics.
//! 10,000 cases per parser.

use mdmkit_core::http::{ErrorClassifier, HeaderMap, StatusCode};
use mdmkit_core::ProviderKind;
use mdmkit_testkit::arbitrary::{body, body_or, config, fixture_keys, list_envelope, rows, text};
use proptest::prelude::*;
use serde_json::Value;

use crate::convert;
use crate::error::JumpCloudErrorClassifier;
use crate::wire::{GraphObject, System, SystemGroup, SystemUser, V1List, V2List};

/// The keys of the recorded JumpCloud answers.
fn keys() -> &'static [&'static str] {
    fixture_keys(ProviderKind::JumpCloud, &[])
}

fn v1() -> impl Strategy<Value = Value> {
    list_envelope(keys(), "results", "totalCount")
}

fn v2() -> impl Strategy<Value = Value> {
    prop_oneof![rows(keys()).prop_map(Value::Array), v1()]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn systems_with_their_users(
        [systems, users] in prop::array::uniform2(body_or(keys(), v1())),
        bound in body_or(keys(), v2()),
        one in body(keys()),
    ) {
        let bound = serde_json::from_slice::<V2List<GraphObject>>(&bound)
            .map(|l| l.into_parts().0)
            .unwrap_or_default();
        let assigned = convert::assigned_user(&bound);
        let mut names = Vec::new();
        if let Ok(list) = serde_json::from_slice::<V1List<SystemUser>>(&users) {
            names.extend(list.results.iter().map(|u| (u.user_id().map(str::to_owned), convert::user_name(u))));
        }
        if let Ok(user) = serde_json::from_slice::<SystemUser>(&one) {
            names.push((user.user_id().map(str::to_owned), convert::user_name(&user)));
        }
        if let Ok(list) = serde_json::from_slice::<V1List<System>>(&systems) {
            for system in &list.results {
                let _ = (system.device_id(), convert::device_name(system), convert::system_id(system));
                let (user_id, user_name) = names.first().cloned().unwrap_or_default();
                let _ = convert::device(system, user_id.or(assigned.clone()), user_name);
            }
        }
    }

    #[test]
    fn groups_and_memberships(
        [groups, members] in prop::array::uniform2(body_or(keys(), v2())),
    ) {
        let rows = serde_json::from_slice::<V2List<GraphObject>>(&members)
            .map(|l| l.into_parts().0)
            .unwrap_or_default();
        let _ = convert::member_ids(&rows);
        for row in &rows {
            let _ = (row.object_id(), row.is("system"), row.is_direct());
        }
        if let Ok(list) = serde_json::from_slice::<V2List<SystemGroup>>(&groups) {
            for group in list.into_parts().0 {
                if let Some((id, name)) = convert::group_header(&group) {
                    let _ = convert::group(id, name, &rows);
                }
            }
        }
    }

    #[test]
    fn error_bodies(body in body(keys()), status in 100u16..600, org in proptest::option::of(text())) {
        let status = StatusCode::from_u16(status).unwrap();
        let _ = JumpCloudErrorClassifier::new(org).classify(status, &HeaderMap::new(), &body);
    }
}
