//! Property tests: every Fleet body this crate parses, fed any bytes and any JSON through the decoding the
//! client uses (`serde_json` into the wire types) and then through the convert step, never panics.
//! 10,000 cases per parser.

use mdmkit_core::http::{ErrorClassifier, HeaderMap, StatusCode};
use mdmkit_core::ProviderKind;
use mdmkit_testkit::arbitrary::{body_or, config, fixture_keys, list_envelope, object, rows, text};
use proptest::prelude::*;
use serde_json::json;

use crate::client::is_dot_segment;
use crate::convert;
use crate::error::FleetErrorClassifier;
use crate::scim::{ListResponse, ScimIndex};
use crate::wire::{HostEnvelope, HostsPage, LabelsPage, MeResponse};

/// The keys of the recorded Fleet answers, and the pagination flag newer servers send.
fn keys() -> &'static [&'static str] {
    fixture_keys(ProviderKind::Fleet, &["has_next_results"])
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn hosts_one_and_many(
        page in body_or(keys(), list_envelope(keys(), "hosts", "meta")),
        one in body_or(keys(), object(keys()).prop_map(|h| json!({"host": h}))),
        serial in text(),
    ) {
        let mut hosts = Vec::new();
        if let Ok(page) = serde_json::from_slice::<HostsPage>(&page) {
            hosts.extend(page.hosts.unwrap_or_default());
        }
        if let Ok(envelope) = serde_json::from_slice::<HostEnvelope>(&one) {
            hosts.extend(envelope.host);
        }
        for host in &hosts {
            let _ = convert::reported_serial(host);
            let _ = convert::device_name(host);
            let _ = convert::assigned_user(host);
            let _ = (host.fleet_id(), host.fleet_name());
            let _ = convert::device_from_host(host);
        }
        let _ = is_dot_segment(&serial);
    }

    #[test]
    fn labels(body in body_or(keys(), rows(keys()).prop_map(|l| json!({"labels": l}))), members in prop::collection::vec(text(), 0..4)) {
        if let Ok(page) = serde_json::from_slice::<LabelsPage>(&body) {
            for label in page.labels.unwrap_or_default() {
                let _ = (label.is_builtin(), label.fleet_id());
                let _ = convert::group_from_label(&label, members.clone());
            }
        }
    }

    #[test]
    fn scim_user_pages(
        body in body_or(keys(), rows(keys()).prop_map(|r| json!({"totalResults": r.len(), "Resources": r}))),
        identity in text(),
    ) {
        if let Ok(page) = serde_json::from_slice::<ListResponse>(&body) {
            let users = page.resources.unwrap_or_default();
            for user in &users {
                let _ = user.full_name();
            }
            let index = ScimIndex::new(&users);
            let _ = (index.find(&identity), index.len());
        }
    }

    #[test]
    fn me_and_error_bodies(
        body in body_or(keys(), object(keys()).prop_map(|u| json!({"user": u}))),
        status in 100u16..600,
    ) {
        if let Ok(me) = serde_json::from_slice::<MeResponse>(&body) {
            let _ = (me.shows_no_access(), me.team_count());
        }
        let status = StatusCode::from_u16(status).unwrap();
        let _ = FleetErrorClassifier.classify(status, &HeaderMap::new(), &body);
    }
}
