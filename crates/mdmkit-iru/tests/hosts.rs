//! Host forms, the message for a rejected host, deep links per host form, and secrets kept out of Debug.

mod common;

use common::TOKEN;
use mdmkit_core::http::ClientOptions;
use mdmkit_core::{Category, ErrorKind, MdmProvider, MdmProviderExt, ProviderKind};
use mdmkit_iru::{IruConfig, IruProvider, IRU_HOST_FORMS};

fn provider_for(host: &str) -> IruProvider {
    let config = IruConfig::new(host, TOKEN).unwrap_or_else(|e| panic!("{host}: {e}"));
    IruProvider::new(config, &ClientOptions::default()).unwrap()
}

#[test]
fn every_documented_host_form_is_accepted_in_the_ways_people_paste_it() {
    for (input, base) in [
        ("acme.api.kandji.io", "https://acme.api.kandji.io/"),
        ("https://acme.api.kandji.io/", "https://acme.api.kandji.io/"),
        (
            "https://acme.api.kandji.io/api/v1",
            "https://acme.api.kandji.io/",
        ),
        (
            "  ACME.api.eu.kandji.io/api/v1/ ",
            "https://acme.api.eu.kandji.io/",
        ),
        ("acme.api.iru.com", "https://acme.api.iru.com/"),
        (
            "https://acme-corp.api.eu.iru.com/api/v1/",
            "https://acme-corp.api.eu.iru.com/",
        ),
    ] {
        assert_eq!(provider_for(input).base_url().as_str(), base, "{input}");
    }
}

#[test]
fn a_rejected_host_lists_the_expected_forms() {
    for bad in [
        "acme.kandji.io",
        "acme.iru.com",
        "https://acme.clients.us-1.kandji.io/api/v1/",
        "acme.api.kandji.io.example.com",
        "acme.api.us.kandji.io",
        "jamf.example.com",
    ] {
        let err = IruConfig::new(bad, TOKEN).unwrap_err();
        let shown = err.to_string();
        assert_eq!(err.kind(), ErrorKind::InvalidConfiguration, "{bad}");
        assert_eq!(err.category(), Category::NotFound, "{bad}");
        for form in [
            "TENANT.api.kandji.io",
            "TENANT.api.eu.kandji.io",
            "TENANT.api.iru.com",
            "TENANT.api.eu.iru.com",
        ] {
            assert!(shown.contains(form), "{bad}: {shown}");
        }
        assert!(shown.contains(IRU_HOST_FORMS), "{shown}");
        assert!(!shown.contains(TOKEN));
    }
}

#[test]
fn a_missing_token_is_named() {
    let err = IruConfig::new("acme.api.kandji.io", "  ").unwrap_err();
    assert!(err.to_string().contains("API Token"), "{err}");
}

#[test]
fn device_links_use_the_console_host_of_each_api_host() {
    let id = "03f81208-2b6a-4a77-81f5-cf1633bcfb95";
    for (host, link) in [
        ("acme.api.kandji.io", "https://acme.kandji.io/devices/"),
        (
            "acme.api.eu.kandji.io",
            "https://acme.eu.kandji.io/devices/",
        ),
        ("acme.api.iru.com", "https://acme.iru.com/devices/"),
        // Migrated tenants have one region-free console.
        ("acme.api.eu.iru.com", "https://acme.iru.com/devices/"),
    ] {
        let iru = provider_for(host);
        assert_eq!(
            iru.device_url(id).unwrap().as_str(),
            format!("{link}{id}"),
            "{host}"
        );
        let mdmkit_core::DeviceLink { label, url } = iru.device_link(id).unwrap();
        assert_eq!(label, "View on Iru (formerly Kandji)");
        assert_eq!(url.as_str(), format!("{link}{id}"));
    }
    let iru = provider_for("acme.api.kandji.io");
    assert_eq!(iru.device_url("  "), None, "no id, no link");
    assert_eq!(
        iru.device_url("a/b?c").unwrap().as_str(),
        "https://acme.kandji.io/devices/a%2Fb%3Fc"
    );
    assert_eq!(iru.request_count(), 0, "links never do I/O");
}

#[test]
fn a_sandbox_base_links_below_itself() {
    let config = IruConfig::with_base_url("http://127.0.0.1:8080/api/v1", TOKEN).unwrap();
    let iru = IruProvider::new(config, &ClientOptions::for_local_testing()).unwrap();
    assert_eq!(
        iru.device_url("abc").unwrap().as_str(),
        "http://127.0.0.1:8080/devices/abc"
    );
}

#[test]
fn identity_and_debug_without_the_token() {
    let iru = provider_for("acme.api.kandji.io");
    assert_eq!(iru.kind(), ProviderKind::Iru);
    assert_eq!(iru.kind().display_name(), "Iru (formerly Kandji)");
    let shown = format!("{iru:?} {iru:#?}");
    assert!(!shown.contains(TOKEN), "{shown}");
    assert!(shown.contains("acme.api.kandji.io"), "{shown}");
    let config = IruConfig::new("acme.api.kandji.io", TOKEN).unwrap();
    assert!(!format!("{config:?}").contains(TOKEN));
}

#[test]
fn the_provider_works_as_a_trait_object() {
    let iru: std::sync::Arc<dyn MdmProvider> =
        std::sync::Arc::new(provider_for("acme.api.iru.com"));
    assert_eq!(iru.kind(), ProviderKind::Iru);
    assert!(iru.device_url("x").is_some());
}
