//! Managed devices: serial lookups (with filters Graph ignores), the next-link listing and its edge cases,
//! users and display names, request counts and deep links.

mod common;

use common::*;
use mdmkit_core::{
    ErrorKind, MdmProvider, MdmProviderExt, PageRequest, PagingStyle, ProviderKind, SerialNumber,
};

fn serial(s: &str) -> SerialNumber {
    SerialNumber::parse(s).unwrap()
}

fn lookup_query(filter: &str) -> [(&str, &str); 2] {
    [("$filter", filter), ("$select", DEVICE_FIELDS)]
}

#[tokio::test]
async fn lookup_sends_the_serial_filter_and_reads_the_device() {
    let env = Env::start().await;
    env.token_ok().await;
    let lookup = env
        .graph_get(
            DEVICES_PATH,
            &lookup_query("serialNumber eq 'C02XK0AAJG5J'"),
            200,
            "managed_devices_by_serial_exact.json",
        )
        .await;
    let sealed = env.seal().await;
    let intune = env.provider();

    // Lower-case input with spaces is normalised before it is sent.
    let found = intune
        .devices_by_serial(&serial(" c02xk0aajg5j "))
        .await
        .unwrap();

    assert_eq!(found.len(), 1);
    let d = &found[0];
    assert_eq!(d.device_id, "8a1f2b3c-4d5e-4f60-8172-93a4b5c6d7e8");
    assert_eq!(d.serial_number.as_ref().unwrap().as_str(), "C02XK0AAJG5J");
    assert_eq!(
        d.user_id.as_deref(),
        Some("3e9c57b9-808d-4aa0-9500-4b2d369279e7")
    );
    assert_eq!(d.user_name.as_deref(), Some("Anna Chao"));
    assert_eq!(d.display_name.as_deref(), Some("Anna Chao"));
    assert_eq!(d.device_name.as_deref(), Some("Design MacBook"));
    lookup.assert_calls_async(1).await;
    assert_eq!(intune.request_count(), 2);
    sealed.verify().await;
}

#[tokio::test]
async fn the_filter_is_percent_encoded_on_the_wire() {
    let env = Env::start().await;
    env.token_ok().await;
    let raw = env
        .graph_exact(
            &format!("{DEVICES_PATH}?$filter=serialNumber%20eq%20%27C02XK0AAJG5J%27&$select=id%2CdeviceName%2CserialNumber%2CuserId%2CuserDisplayName%2CazureADDeviceId"),
            200,
            "managed_devices_by_serial_exact.json",
        )
        .await;
    let sealed = env.seal().await;

    let found = env
        .provider()
        .devices_by_serial(&serial("C02XK0AAJG5J"))
        .await
        .unwrap();

    assert_eq!(found.len(), 1);
    raw.assert_calls_async(1).await;
    sealed.verify().await;
}

#[tokio::test]
async fn an_ignored_filter_returning_every_device_yields_only_exact_matches() {
    let env = Env::start().await;
    env.token_ok().await;
    let first = env
        .graph_get(
            DEVICES_PATH,
            &lookup_query("serialNumber eq 'C02XK0AAJG5J'"),
            200,
            "managed_devices_filter_ignored_page1.json",
        )
        .await;
    let second = env
        .graph_exact(
            &env.next_link_target("managed_devices_filter_ignored_page1.json"),
            200,
            "managed_devices_filter_ignored_page2.json",
        )
        .await;
    let sealed = env.seal().await;
    let intune = env.provider();

    let found = intune
        .devices_by_serial(&serial("C02XK0AAJG5J"))
        .await
        .unwrap();

    // C02XK0AAJG5J1, XC02XK0AAJG5J, PF3ABCDE and C02XK0AAJG5 are rejected; " c02xk0aajg5j " is the
    // same serial once normalised.
    let ids: Vec<_> = found.iter().map(|d| d.device_id.as_str()).collect();
    assert_eq!(ids, ["aaaa0001-0000-4000-8000-000000000004"]);
    first.assert_calls_async(1).await;
    second.assert_calls_async(1).await;
    assert_eq!(intune.request_count(), 3);
    sealed.verify().await;
}

#[tokio::test]
async fn single_quotes_in_a_serial_are_doubled_and_no_match_is_empty() {
    let env = Env::start().await;
    env.token_ok().await;
    let lookup = env
        .graph_get(
            DEVICES_PATH,
            &lookup_query("serialNumber eq 'AB''C12'"),
            200,
            "managed_devices_empty.json",
        )
        .await;
    let sealed = env.seal().await;
    let intune = env.provider();

    let found = intune.devices_by_serial(&serial("ab'c12")).await.unwrap();
    assert!(found.is_empty());
    assert_eq!(
        intune.device_by_serial(&serial("ab'c12")).await.unwrap(),
        None
    );

    lookup.assert_calls_async(2).await;
    sealed.verify().await;
}

#[tokio::test]
async fn duplicate_records_are_all_returned_and_device_by_serial_refuses_to_pick() {
    let env = Env::start().await;
    env.token_ok().await;
    env.graph_get(
        DEVICES_PATH,
        &lookup_query("serialNumber eq 'C02XK0AAJG5J'"),
        200,
        "managed_devices_by_serial_duplicates.json",
    )
    .await;
    let sealed = env.seal().await;
    let intune = env.provider();

    let found = intune
        .devices_by_serial(&serial("C02XK0AAJG5J"))
        .await
        .unwrap();
    assert_eq!(found.len(), 2);
    assert_eq!(found[0].display_name.as_deref(), Some("MAC-OLD"));
    assert_eq!(found[1].display_name.as_deref(), Some("Anna Chao"));

    let err = intune
        .device_by_serial(&serial("C02XK0AAJG5J"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    let text = err.to_string();
    assert!(
        text.contains("dup00001-0000-4000-8000-000000000001"),
        "{text}"
    );
    assert!(
        text.contains("dup00001-0000-4000-8000-000000000002"),
        "{text}"
    );
    sealed.verify().await;
}

#[tokio::test]
async fn listing_follows_next_links_exactly_through_an_empty_page() {
    let env = Env::start().await;
    env.token_ok().await;
    let page1 = env
        .graph_get(
            DEVICES_PATH,
            &[("$select", DEVICE_FIELDS)],
            200,
            "managed_devices_page1_with_next_link.json",
        )
        .await;
    let page2 = env
        .graph_exact(
            &env.next_link_target("managed_devices_page1_with_next_link.json"),
            200,
            "managed_devices_page2_empty_with_next_link.json",
        )
        .await;
    let page3 = env
        .graph_exact(
            &env.next_link_target("managed_devices_page2_empty_with_next_link.json"),
            200,
            "managed_devices_page3_last_short.json",
        )
        .await;
    let sealed = env.seal().await;
    let intune = env.provider();

    assert_eq!(intune.device_paging(), PagingStyle::NextLink);
    let devices = intune.all_devices().await.unwrap();

    let names: Vec<_> = devices
        .iter()
        .map(|d| d.display_name.as_deref().unwrap())
        .collect();
    assert_eq!(names, ["Anna Chao", "DESKTOP-02", "Ben Okafor"]);
    assert_eq!(devices[1].user_id, None);
    assert_eq!(
        devices[2].serial_number.as_ref().unwrap().as_str(),
        "F2LXK1ABCDEF"
    );
    for page in [&page1, &page2, &page3] {
        page.assert_calls_async(1).await;
    }
    assert_eq!(intune.request_count(), 4);
    sealed.verify().await;
}

#[tokio::test]
async fn one_page_reports_the_next_link_the_server_gave() {
    let env = Env::start().await;
    env.token_ok().await;
    env.graph_get(
        DEVICES_PATH,
        &[("$select", DEVICE_FIELDS)],
        200,
        "managed_devices_page2_empty_with_next_link.json",
    )
    .await;
    let sealed = env.seal().await;

    let page = env
        .provider()
        .list_devices_page(&PageRequest::NextLink { url: None })
        .await
        .unwrap();

    assert!(page.items.is_empty());
    let expected = env.fixture_json("managed_devices_page2_empty_with_next_link.json")
        ["@odata.nextLink"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(page.info.next_link, Some(expected));
    sealed.verify().await;
}

#[tokio::test]
async fn an_empty_tenant_lists_nothing_in_one_request() {
    let env = Env::start().await;
    env.token_ok().await;
    let page = env
        .graph_get(
            DEVICES_PATH,
            &[("$select", DEVICE_FIELDS)],
            200,
            "managed_devices_empty.json",
        )
        .await;
    let sealed = env.seal().await;
    let intune = env.provider();

    assert!(intune.all_devices().await.unwrap().is_empty());
    page.assert_calls_async(1).await;
    assert_eq!(intune.request_count(), 2);
    sealed.verify().await;
}

#[tokio::test]
async fn exactly_one_full_page_without_a_next_link_ends_the_listing() {
    let env = Env::start().await;
    env.token_ok().await;
    let page = env
        .graph_reply(
            DEVICES_PATH,
            &[("$select", DEVICE_FIELDS)],
            Reply::new(200, device_page(generated_devices(0, 1000), None)),
        )
        .await;
    let sealed = env.seal().await;
    let intune = env.provider();

    let devices = intune.all_devices().await.unwrap();

    assert_eq!(devices.len(), 1000);
    page.assert_calls_async(1).await;
    assert_eq!(intune.request_count(), 2);
    sealed.verify().await;
}

#[tokio::test]
async fn several_pages_with_a_short_last_page_cost_one_request_each() {
    let env = Env::start().await;
    env.token_ok().await;
    let link = |n: u32| {
        format!(
            "{}{DEVICES_PATH}?$select={DEVICE_FIELDS}&$skiptoken=LastDeviceName%3d%27LAPTOP-{n}%27",
            env.graph_root()
        )
    };
    let first = env
        .graph_reply(
            DEVICES_PATH,
            &[("$select", DEVICE_FIELDS)],
            Reply::new(200, device_page(generated_devices(0, 1000), Some(link(1)))),
        )
        .await;
    let target = |n: u32| link(n).strip_prefix(&env.graph_root()).unwrap().to_owned();
    let second = env
        .graph_exact_body(
            &target(1),
            device_page(generated_devices(1000, 1000), Some(link(2))),
        )
        .await;
    let third = env
        .graph_exact_body(&target(2), device_page(generated_devices(2000, 500), None))
        .await;
    let sealed = env.seal().await;
    let intune = env.provider();

    let devices = intune.all_devices().await.unwrap();

    assert_eq!(devices.len(), 2500);
    assert_eq!(devices[2499].device_name.as_deref(), Some("LAPTOP-02499"));
    for page in [&first, &second, &third] {
        page.assert_calls_async(1).await;
    }
    // One token, then ceil(2500 / 1000) pages.
    assert_eq!(intune.request_count(), 4);
    sealed.verify().await;
}

#[tokio::test]
async fn every_unassigned_user_shape_falls_back_to_the_device_name() {
    let env = Env::start().await;
    env.token_ok().await;
    env.graph_get(
        DEVICES_PATH,
        &[("$select", DEVICE_FIELDS)],
        200,
        "managed_devices_unassigned_users.json",
    )
    .await;
    let sealed = env.seal().await;

    let devices = env.provider().all_devices().await.unwrap();

    assert_eq!(devices.len(), 5);
    for d in &devices {
        assert_eq!(d.user_id, None, "{d:?}");
        assert_eq!(d.user_name, None, "{d:?}");
        assert_eq!(d.display_name, d.device_name, "{d:?}");
    }
    assert_eq!(
        devices[0].display_name.as_deref(),
        Some("KIOSK-EMPTY-STRINGS")
    );
    assert_eq!(devices[3].display_name.as_deref(), Some("KIOSK-ZERO-GUID"));
    // An empty serial is no serial: the device is listed but cannot be matched.
    assert_eq!(devices[4].serial_number, None);
    sealed.verify().await;
}

#[tokio::test]
async fn a_next_link_to_another_host_is_refused_without_sending_the_token() {
    let env = Env::start().await;
    env.token_ok().await;
    env.graph_reply(
        DEVICES_PATH,
        &[("$select", DEVICE_FIELDS)],
        Reply::new(
            200,
            device_page(
                generated_devices(0, 2),
                Some(
                    "https://graph.example.net/v1.0/deviceManagement/managedDevices?$skiptoken=x"
                        .into(),
                ),
            ),
        ),
    )
    .await;
    let sealed = env.seal().await;

    let err = env.provider().all_devices().await.unwrap_err();

    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    assert!(
        err.to_string().contains("another host (graph.example.net)"),
        "{err}"
    );
    sealed.verify().await;
}

#[tokio::test]
async fn a_non_json_page_is_an_invalid_response() {
    let env = Env::start().await;
    env.token_ok().await;
    env.graph_reply(
        DEVICES_PATH,
        &[("$select", DEVICE_FIELDS)],
        Reply::new(200, "<html><head><title>Sign in</title></head></html>"),
    )
    .await;
    let sealed = env.seal().await;

    let err = env.provider().all_devices().await.unwrap_err();

    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    assert_eq!(err.operation(), Some("list_devices"));
    assert!(err.to_string().contains("Sign in"), "{err}");
    sealed.verify().await;
}

#[tokio::test]
async fn kind_and_deep_links() {
    let env = Env::start().await;
    let sealed = env.seal().await;
    let intune = env.provider();

    assert_eq!(intune.kind(), ProviderKind::Intune);
    assert_eq!(
        intune.device_url("705c034c-034c-705c-4c03-5c704c035c70").unwrap().as_str(),
        "https://intune.microsoft.com/#view/Microsoft_Intune_Devices/DeviceSettingsMenuBlade/~/overview/mdmDeviceId/705c034c-034c-705c-4c03-5c704c035c70"
    );
    let label = intune.device_link("705c034c").unwrap().label;
    assert_eq!(label, "View on Microsoft Intune");
    assert_eq!(intune.device_url("  "), None);
    // Links never cause a request.
    assert_eq!(intune.request_count(), 0);
    sealed.verify().await;
}
