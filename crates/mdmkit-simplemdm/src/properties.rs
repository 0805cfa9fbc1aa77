//! Property tests: every SimpleMDM body this crate parses, fed any bytes and any JSON through the decoding
//! the client uses (`serde_json` into the wire types) and then through the convert step, never panics.
//! 10,000 cases per parser.

use mdmkit_core::http::{ErrorClassifier, HeaderMap, StatusCode};
use mdmkit_core::ProviderKind;
use mdmkit_testkit::arbitrary::{body, body_or, config, fixture_keys, list_envelope, text};
use proptest::prelude::*;

use crate::convert;
use crate::error::SimpleMdmErrorClassifier;
use crate::wire::{AccountResponse, AssignmentGroup, Device, ListResponse};

/// The keys of the recorded SimpleMDM answers.
fn keys() -> &'static [&'static str] {
    fixture_keys(ProviderKind::SimpleMdm, &[])
}

fn list() -> impl Strategy<Value = serde_json::Value> {
    list_envelope(keys(), "data", "has_more")
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn device_pages(body in body_or(keys(), list()), attribute in text()) {
        let attribute = convert::user_attribute_name(Some(&attribute));
        if let Ok(page) = serde_json::from_slice::<ListResponse<Device>>(&body) {
            let last = page.data.last().map(|d| d.id.clone());
            let _ = convert::page_info(page.has_more, last.as_deref());
            for row in page.data {
                let _ = convert::device(row, attribute.as_deref());
            }
        }
    }

    #[test]
    fn assignment_group_pages(body in body_or(keys(), list())) {
        if let Ok(page) = serde_json::from_slice::<ListResponse<AssignmentGroup>>(&body) {
            for row in page.data {
                let _ = convert::group(row);
            }
        }
    }

    #[test]
    fn accounts_and_error_bodies(body in body(keys()), status in 100u16..600) {
        if let Ok(account) = serde_json::from_slice::<AccountResponse>(&body) {
            let _ = account.name();
        }
        let status = StatusCode::from_u16(status).unwrap();
        let _ = SimpleMdmErrorClassifier.classify(status, &HeaderMap::new(), &body);
    }
}
