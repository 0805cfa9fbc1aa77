//! Property tests: every Graph and Entra body this crate parses, fed any bytes and any JSON through the
//! decoding the client uses (`serde_json` into the wire types) and then through the convert step, never
//! panics. 10,000 cases per parser.

use mdmkit_core::http::{ErrorClassifier, HeaderMap, StatusCode, TokenErrorBody, TokenErrorMapper};
use mdmkit_core::{IntuneConfig, ProviderKind};
use mdmkit_testkit::arbitrary::{body, body_or, config, fixture_keys, list_envelope, object};
use proptest::prelude::*;
use serde_json::Value;

use crate::auth::EntraTokenErrors;
use crate::convert;
use crate::delta::{nesting_of, DeltaToken, Round};
use crate::error::{Fault, IntuneErrorClassifier, Needs};
use crate::wire::{Collection, DeltaPage, DeviceMember, GraphErrorBody, Group, ManagedDevice};

/// The keys of the recorded Intune answers, and the keys of this crate's own group-delta token.
fn keys() -> &'static [&'static str] {
    fixture_keys(ProviderKind::Intune, &["link", "parents"])
}

fn collection() -> impl Strategy<Value = Value> {
    list_envelope(keys(), "value", "@odata.nextLink")
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn managed_devices_groups_and_members(
        [devices, groups, members] in prop::array::uniform3(body_or(keys(), collection())),
    ) {
        let devices = serde_json::from_slice::<Collection<ManagedDevice>>(&devices)
            .map(|c| c.value)
            .unwrap_or_default();
        let index = convert::entra_index(&devices);
        for device in devices {
            let _ = convert::entra_key(device.azure_ad_device_id.as_deref());
            let _ = convert::device(device);
        }
        let members = serde_json::from_slice::<Collection<DeviceMember>>(&members)
            .map(|c| c.value)
            .unwrap_or_default();
        if let Ok(groups) = serde_json::from_slice::<Collection<Group>>(&groups) {
            for group in &groups.value {
                if let Ok(keys) = convert::member_keys(group, &members) {
                    let _ = convert::group(group, &keys, &index);
                }
            }
        }
    }

    #[test]
    fn group_delta_pages_and_tokens(
        page in body_or(keys(), collection()),
        token in body(keys()),
    ) {
        if let Ok(page) = serde_json::from_slice::<DeltaPage>(&page) {
            let round = Round::new(page.value);
            let parents = nesting_of(&round);
            let _ = round.affected(&parents);
            let _ = round.security_groups();
        }
        let token = mdmkit_core::GroupDeltaToken::new(String::from_utf8_lossy(&token).into_owned());
        if let Some(parsed) = DeltaToken::parse(&token) {
            let _ = parsed.encode();
        }
    }

    #[test]
    fn graph_error_bodies(body in body(keys()), status in 100u16..600) {
        let _ = serde_json::from_slice::<GraphErrorBody>(&body);
        if let Some(fault) = Fault::parse(&body) {
            let _ = fault.is_permission_refusal();
        }
        let status = StatusCode::from_u16(status).unwrap();
        for needs in [Needs::Nothing, Needs::ManagedDevices, Needs::GroupMembers] {
            let _ = IntuneErrorClassifier::new(needs).classify(status, &HeaderMap::new(), &body);
        }
    }

    #[test]
    fn entra_token_errors(body in body_or(keys(), object(keys())), status in 100u16..600) {
        if let Ok(error) = serde_json::from_slice::<TokenErrorBody>(&body) {
            let config = IntuneConfig::new("contoso.onmicrosoft.com", "app", "secret").unwrap();
            let status = StatusCode::from_u16(status).unwrap();
            let _ = EntraTokenErrors::new(&config).map(status, &error);
        }
    }
}
