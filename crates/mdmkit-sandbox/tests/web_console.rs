//! The sandbox answers each provider's "View on <provider>" device URL with a page about that device, so
//! a link built by mdmkit can be followed offline.

use mdmkit_core::{links, ProviderKind, Url};
use mdmkit_sandbox::{Sandbox, SandboxConfig};

/// The device link mdmkit builds for a device of `kind` on the sandbox (the providers' own link rules).
fn link(kind: ProviderKind, base: &Url, id: &str) -> Url {
    match kind {
        ProviderKind::Jamf => links::jamf_computer(base, id),
        ProviderKind::Iru => links::iru_device(base, id),
        ProviderKind::SimpleMdm => links::simplemdm_device(base, id),
        ProviderKind::Fleet => links::fleet_host(base, id),
        _ => None,
    }
    .unwrap()
}

#[tokio::test]
async fn device_links_open_a_page_about_the_device() {
    let sandbox = Sandbox::start(SandboxConfig {
        devices: 6,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let fleet = sandbox.fleet();
    let http = reqwest::Client::new();
    for kind in [
        ProviderKind::Jamf,
        ProviderKind::Iru,
        ProviderKind::SimpleMdm,
        ProviderKind::Fleet,
    ] {
        for expected in sandbox.expected_devices(kind) {
            let device = &fleet.devices[&expected.index];
            let url = link(kind, sandbox.url(kind), &expected.device_id);
            let response = http.get(url.clone()).send().await.unwrap();
            assert_eq!(response.status(), 200, "{kind}: {url}");
            assert!(response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html"));
            let page = response.text().await.unwrap();
            assert!(page.contains(&expected.serial_number), "{kind}: {page}");
            assert!(
                page.contains(&device.name.replace('&', "&amp;").replace('\'', "&#39;")),
                "{kind}: {page}"
            );
            match fleet.user_of(device) {
                Some(user) => assert!(page.contains(&user.full_name), "{kind}: {page}"),
                None => assert!(page.contains("No user assigned"), "{kind}: {page}"),
            }
        }
        // An id the MDM does not know is a 404 page, and what was asked for comes back escaped.
        let url = link(kind, sandbox.url(kind), "<b>nope</b>");
        let response = http.get(url).send().await.unwrap();
        assert_eq!(response.status(), 404, "{kind}");
        let page = response.text().await.unwrap();
        assert!(page.contains("Device not found"), "{kind}: {page}");
        assert!(!page.contains("<b>nope"), "{kind}: {page}");
    }
    sandbox.shutdown().await;
}
