//! Property tests: every Iru body this crate parses, fed any bytes and any JSON through the decoding the
//! client uses (`serde_json` into the wire types) and then through the convert step, never panics; nor
//! does resolving a server's next link. 10,000 cases per parser.

use mdmkit_core::http::{ErrorClassifier, HeaderMap, StatusCode};
use mdmkit_core::ProviderKind;
use mdmkit_core::Url;
use mdmkit_testkit::arbitrary::{body, body_of, body_or, config, fixture_keys, json, rows, text};
use proptest::prelude::*;
use serde_json::{json, Value};

use crate::convert::{self, Membership, TagIndex};
use crate::error::IruErrorClassifier;
use crate::wire::{WireDeviceList, WireTagPage};
use mdmkit_core::http::resolve_link as next_link;

/// The keys of the recorded Iru answers.
fn keys() -> &'static [&'static str] {
    fixture_keys(ProviderKind::Iru, &[])
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn device_listings(
        body in body_or(keys(), rows(keys()).prop_map(Value::Array)),
        tags in body_of(rows(keys()).prop_map(|rows| json!({"count": rows.len(), "next": null, "results": rows}))),
        tag_id in text(),
    ) {
        let index = serde_json::from_slice::<WireTagPage>(&tags)
            .map(|page| TagIndex::new(page.results))
            .unwrap_or_default();
        let _ = index.ambiguous_ids();
        let mut membership = Membership::new(index);
        if let Ok(list) = serde_json::from_slice::<WireDeviceList>(&body) {
            for row in &list.0 {
                let _ = convert::reported_serial(row);
                membership.add_row(row);
                membership.add_member(&tag_id, row);
                let _ = convert::device(row.clone());
            }
        }
        let _ = membership.unresolved();
        let _ = membership.into_groups();
    }

    #[test]
    fn tag_pages_and_their_next_links(body in body(keys()), link in text(), base in json(keys())) {
        let base_url = match base {
            Value::String(s) => Url::parse(&s).ok(),
            _ => None,
        }
        .unwrap_or_else(|| Url::parse("https://acme.api.kandji.io/").unwrap());
        let current = base_url.join("api/v1/tags").unwrap_or_else(|_| base_url.clone());
        if let Ok(page) = serde_json::from_slice::<WireTagPage>(&body) {
            if let Some(next) = &page.next {
                let _ = next_link(&base_url, &current, next);
            }
            let _ = TagIndex::new(page.results);
        }
        let _ = next_link(&base_url, &current, &link);
    }

    #[test]
    fn error_bodies(body in body(keys()), status in 100u16..600) {
        let status = StatusCode::from_u16(status).unwrap();
        let _ = IruErrorClassifier.classify(status, &HeaderMap::new(), &body);
    }
}
