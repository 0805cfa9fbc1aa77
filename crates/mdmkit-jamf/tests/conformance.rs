//! The shared conformance suite against the sandbox's Jamf Pro simulator.

use std::sync::Arc;

use mdmkit_core::{MdmProvider, ProviderConfig, ProviderKind};

mdmkit_testkit::conformance_suite!(ProviderKind::Jamf, |config, options| {
    match config {
        ProviderConfig::Jamf(c) => {
            Ok(Arc::new(mdmkit_jamf::JamfProvider::new(c, options)?) as Arc<dyn MdmProvider>)
        }
        other => panic!("not a Jamf configuration: {other:?}"),
    }
});

/// A bulk listing reads the user directory once, and the pages after its first (which counts the users)
/// at the allowed concurrency: the sandbox sees as many at once as there are left, up to the limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_user_directory_is_read_once_its_later_pages_at_once() {
    use std::time::Duration;

    use futures::TryStreamExt;
    use mdmkit_core::MdmProviderExt;
    use mdmkit_sandbox::{Access, Faults, Sandbox, SandboxConfig};

    const JAMF: ProviderKind = ProviderKind::Jamf;
    let sandbox = Sandbox::start(SandboxConfig {
        devices: 4_500,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let options = sandbox.client_options();
    let config = match sandbox.config(JAMF, Access::Full) {
        ProviderConfig::Jamf(c) => c,
        other => panic!("not a Jamf configuration: {other:?}"),
    };
    let provider = mdmkit_jamf::JamfProvider::new(config, &options).unwrap();
    provider.validate().await.unwrap();
    // Latency, so that requests sent together are in progress together.
    sandbox.set_faults(
        JAMF,
        Faults {
            latency: Duration::from_millis(30),
            ..Faults::default()
        },
    );
    sandbox.reset_request_counts();
    let listed: Vec<_> = provider.device_stream().try_collect().await.unwrap();
    assert_eq!(listed.len(), 4_500);
    let directory = sandbox.listing_directory_requests(JAMF);
    assert!(directory >= 3, "{directory} directory pages");
    let pages = 4_500usize.div_ceil(mdmkit_jamf::PAGE_SIZE as usize);
    assert_eq!(
        sandbox.request_count(JAMF) as usize,
        pages + directory,
        "inventory pages one after another and the directory once"
    );
    let fan_out = options.limits_for(JAMF).max_concurrency;
    assert_eq!(
        sandbox.peak_concurrency(JAMF) as usize,
        (directory - 1).min(fan_out),
        "the directory pages after the first, together"
    );
}
