//! The facade: `build_provider` builds every provider, and a provider's links agree with the links computed
//! from its configuration alone (what `mdmkit-sync` shows without building a provider).

use mdmkit::http::ClientOptions;
use mdmkit::{
    build_provider, FleetConfig, IntuneCloud, IntuneConfig, IruConfig, JamfConfig, JumpCloudConfig,
    JumpCloudRegion, ProviderConfig, SimpleMdmConfig,
};

fn configs() -> Vec<ProviderConfig> {
    let mut jumpcloud = JumpCloudConfig::new("key").unwrap();
    jumpcloud.region = JumpCloudRegion::Eu;
    let mut intune = IntuneConfig::new("contoso.onmicrosoft.com", "app", "secret").unwrap();
    intune.cloud = IntuneCloud::UsGovL4;
    vec![
        ProviderConfig::Jamf(JamfConfig::new("acme.jamfcloud.com", "id", "secret").unwrap()),
        ProviderConfig::Iru(IruConfig::new("acme.api.eu.kandji.io", "token").unwrap()),
        ProviderConfig::SimpleMdm(SimpleMdmConfig::new("key").unwrap()),
        ProviderConfig::Fleet(FleetConfig::new("fleet.example.com:8443", "token").unwrap()),
        ProviderConfig::JumpCloud(jumpcloud),
        ProviderConfig::Intune(intune),
    ]
}

#[test]
fn build_provider_builds_every_provider_without_io() {
    for config in configs() {
        let kind = config.kind();
        let provider = build_provider(config, &ClientOptions::default()).unwrap();
        assert_eq!(provider.kind(), kind);
        assert_eq!(provider.request_count(), 0, "building sends nothing");
    }
}

#[test]
fn provider_links_match_configuration_links() {
    for config in configs() {
        let provider = build_provider(config.clone(), &ClientOptions::default()).unwrap();
        for id in [
            "42",
            "5f0c1a2b3c4d5e6f7a8b9c0d",
            "0a1b2c3d-0000-4000-8000-000000000000",
        ] {
            let from_provider = provider.device_url(id).expect("a link");
            assert_eq!(
                Some(from_provider.clone()),
                config.device_url(id),
                "{:?}",
                config.kind()
            );
            assert_eq!(from_provider.scheme(), "https");
        }
    }
}

#[test]
fn debug_of_a_built_provider_shows_no_secret() {
    for config in configs() {
        let provider = build_provider(config, &ClientOptions::default()).unwrap();
        let shown = format!("{provider:?}");
        for secret in ["secret\"", "\"token\"", "\"key\""] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }
}
