//! Deep links (R7) per region and for an overridden host, and the host the requests go to.

mod common;

use common::*;
use httpmock::prelude::*;
use mdmkit_core::http::ClientOptions;
use mdmkit_core::{JumpCloudConfig, JumpCloudRegion, MdmProvider, MdmProviderExt, ProviderConfig};
use mdmkit_jumpcloud::JumpCloudProvider;

fn region_provider(region: JumpCloudRegion) -> JumpCloudProvider {
    let mut config = JumpCloudConfig::new(KEY).unwrap();
    config.region = region;
    JumpCloudProvider::new(config, &ClientOptions::default()).unwrap()
}

#[test]
fn links_for_each_region() {
    let cases = [
        (
            JumpCloudRegion::Us,
            "https://console.jumpcloud.com/#/devices/63923eb5664f0d6d7ec123e2/details",
        ),
        (
            JumpCloudRegion::Eu,
            "https://console.eu.jumpcloud.com/#/devices/63923eb5664f0d6d7ec123e2/details",
        ),
        (
            JumpCloudRegion::In,
            "https://console.in.jumpcloud.com/#/devices/63923eb5664f0d6d7ec123e2/details",
        ),
    ];
    for (region, want) in cases {
        let provider = region_provider(region);
        let url = provider.device_url("63923eb5664f0d6d7ec123e2").unwrap();
        assert_eq!(url.as_str(), want, "{region:?}");
        let mdmkit_core::DeviceLink { label, url: link } =
            provider.device_link("63923eb5664f0d6d7ec123e2").unwrap();
        assert_eq!(label, "View on JumpCloud");
        assert_eq!(link, url);
        // The same link the configuration computes without a provider.
        let mut config = JumpCloudConfig::new(KEY).unwrap();
        config.region = region;
        assert_eq!(
            ProviderConfig::JumpCloud(config).device_url("63923eb5664f0d6d7ec123e2"),
            Some(url)
        );
    }
}

#[test]
fn blank_ids_have_no_link_and_odd_ids_are_escaped() {
    let provider = region_provider(JumpCloudRegion::Us);
    assert_eq!(provider.device_url("  "), None);
    assert_eq!(
        provider.device_url("a/b c").unwrap().as_str(),
        "https://console.jumpcloud.com/#/devices/a%2Fb+c/details"
    );
}

#[tokio::test]
async fn an_overridden_host_with_a_pasted_api_suffix_serves_requests_and_links() {
    let server = MockServer::start_async().await;
    let systems = server
        .mock_async(|when, then| {
            authed(when, None).path("/api/systems");
            then.status(200).body(fixture("systems_empty.json"));
        })
        .await;
    let stray = catch_all(&server).await;

    let provider = provider_at(&format!("{}/api/v2/", server.base_url()), None);
    assert_eq!(
        provider.console_url().as_str(),
        format!("{}/", server.base_url())
    );
    provider.all_devices().await.unwrap();
    systems.assert_calls_async(1).await;
    stray.assert_calls_async(0).await;
    assert_eq!(
        provider.device_url("abc").unwrap().as_str(),
        format!("{}/#/devices/abc/details", server.base_url())
    );
}
