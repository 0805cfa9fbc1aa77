//! Deep links (R7): `https://HOST/hosts/ID` for each form of host people enter.

use mdmkit_core::http::ClientOptions;
use mdmkit_core::{FleetConfig, MdmProvider, MdmProviderExt, ProviderKind};
use mdmkit_fleet::FleetProvider;

fn fleet(host: &str) -> FleetProvider {
    FleetProvider::new(
        FleetConfig::new(host, "token").unwrap(),
        &ClientOptions::default(),
    )
    .unwrap()
}

#[test]
fn links_for_every_host_form() {
    let cases = [
        ("fleet.example.com", "https://fleet.example.com/hosts/42"),
        (
            "https://fleet.example.com/",
            "https://fleet.example.com/hosts/42",
        ),
        (
            "https://fleet.example.com/api/v1/fleet",
            "https://fleet.example.com/hosts/42",
        ),
        (
            "https://fleet.example.com/api/latest/fleet/",
            "https://fleet.example.com/hosts/42",
        ),
        (
            "acme.cloud.fleetdm.com",
            "https://acme.cloud.fleetdm.com/hosts/42",
        ),
        (
            "fleet.corp.example:8412",
            "https://fleet.corp.example:8412/hosts/42",
        ),
        (
            "https://corp.example/fleet/",
            "https://corp.example/fleet/hosts/42",
        ),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080/hosts/42"),
    ];
    for (host, want) in cases {
        let provider = fleet(host);
        assert_eq!(provider.device_url("42").unwrap().as_str(), want, "{host}");
    }
}

#[test]
fn link_label_and_odd_ids() {
    let provider = fleet("fleet.example.com");
    assert_eq!(provider.kind(), ProviderKind::Fleet);
    let mdmkit_core::DeviceLink { label, url } = provider.device_link("7").unwrap();
    assert_eq!(label, "View on Fleet");
    assert_eq!(url.as_str(), "https://fleet.example.com/hosts/7");
    assert_eq!(provider.device_url(" "), None);
    assert_eq!(
        provider.device_url("1/../2").unwrap().as_str(),
        "https://fleet.example.com/hosts/1%2F..%2F2"
    );
    assert_eq!(provider.base_url().as_str(), "https://fleet.example.com/");
}
