//! Embedding through the facade alone (issue 12): the real provider factory, one link type and one set
//! of names across layers, and the sandbox's credentials posted as a settings form.

use std::sync::Arc;

use mdmkit::prelude::*;
use mdmkit::sync::Stores;
use mdmkit_sandbox::{Access, Sandbox, SandboxConfig};

async fn sandbox() -> Sandbox {
    Sandbox::start(SandboxConfig {
        devices: 4,
        ..SandboxConfig::default()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_factory_builds_every_provider_without_io() {
    let sandbox = sandbox().await;
    let factory = mdmkit::provider_factory(sandbox.client_options());
    for kind in ProviderKind::ALL {
        let provider = factory.build(&sandbox.config(kind, Access::Full)).unwrap();
        assert_eq!(provider.kind(), kind);
        assert_eq!(
            sandbox.request_count(kind),
            0,
            "{kind:?}: building sends nothing"
        );
        provider.validate().await.unwrap();
    }
    assert!(format!(
        "{:?}",
        mdmkit::DefaultProviderFactory::new(ClientOptions::default())
    )
    .contains("DefaultProviderFactory"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_has_one_set_of_names_and_one_link_type_in_every_layer() {
    let sandbox = sandbox().await;
    let kind = ProviderKind::Jamf;
    let config = sandbox.config(kind, Access::Full);
    let provider = build_provider(config.clone(), &sandbox.client_options()).unwrap();
    let devices: Vec<MdmDevice> = provider.device_stream().try_collect().await.unwrap();
    let device = devices
        .into_iter()
        .find(|d| d.serial_number.is_some() && d.display_name.is_some())
        .unwrap();
    let serial = device.serial_number.clone().unwrap();
    let link: DeviceLink = provider.device_link(&device.device_id).unwrap();
    assert_eq!(link.label, "View on Jamf");

    let sync = MdmSync::new(
        mdmkit::provider_factory(sandbox.client_options()),
        Vault::new("k1", &[7u8; 32]).unwrap(),
        Stores::memory(),
        Arc::new(SystemClock),
    );
    let ws = WorkspaceId::new("acme");
    sync.add_device(&ws, &serial).await.unwrap();
    sync.connect(&ws, config).await.unwrap();
    let view: DeviceView = sync.device(&ws, &serial).await.unwrap().unwrap();
    assert_eq!(view.serial_number, serial);
    assert_eq!(view.display_name, device.display_name);
    assert_eq!(
        view.link.as_ref(),
        Some(&link),
        "the same DeviceLink as the provider's"
    );
    // A UI can hand the view to its front end as it is.
    let json = serde_json::to_value(&view).unwrap();
    assert_eq!(json["serial_number"], serial.as_str());
    assert_eq!(json["link"]["label"], "View on Jamf");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_credentials_posted_as_a_form_reach_the_sandbox() {
    let sandbox = sandbox().await;
    // Providers whose form takes any host: the form alone reaches the sandbox.
    for kind in [ProviderKind::Jamf, ProviderKind::Fleet] {
        let mut form = serde_json::Map::new();
        form.insert("provider".into(), kind.id().into());
        for credential in sandbox.credentials(kind) {
            form.insert(credential.field.key.into(), credential.value.into());
        }
        let config: ProviderConfig = serde_json::from_value(form.into()).unwrap();
        let provider = build_provider(config, &sandbox.client_options()).unwrap();
        provider.validate().await.unwrap();
    }
}
