//! The shared conformance suite against the sandbox's JumpCloud simulator.

use std::sync::Arc;

use mdmkit_core::{MdmProvider, ProviderConfig, ProviderKind};

mdmkit_testkit::conformance_suite!(ProviderKind::JumpCloud, |config, options| {
    match config {
        ProviderConfig::JumpCloud(c) => Ok(Arc::new(mdmkit_jumpcloud::JumpCloudProvider::new(
            c, options,
        )?) as Arc<dyn MdmProvider>),
        other => panic!("not a JumpCloud configuration: {other:?}"),
    }
});

/// A bulk listing costs its system pages, the user directory's pages and the graph reads, each as the
/// sandbox counts them (its bound for the listing): a fleet where few systems need the graph, and one
/// where more than a page of them do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_listing_costs_its_pages_the_directory_and_the_graph_reads() {
    use futures::TryStreamExt;
    use mdmkit_core::MdmProviderExt;
    use mdmkit_sandbox::{Sandbox, SandboxConfig};

    for devices in [40, 450] {
        let sandbox = Sandbox::start(SandboxConfig {
            devices,
            ..SandboxConfig::default()
        })
        .await
        .unwrap();
        let provider = provider_for(&sandbox);
        let listed: Vec<_> = provider.device_stream().try_collect().await.unwrap();
        assert_eq!(listed.len(), devices);
        let directory = sandbox.listing_directory_requests(ProviderKind::JumpCloud);
        assert!(directory > 0, "the directory names primary users");
        let pages = devices.div_ceil(sandbox.max_page_size(ProviderKind::JumpCloud));
        assert_eq!(
            sandbox.request_count(ProviderKind::JumpCloud) as usize,
            pages + sandbox.listing_extra_requests(ProviderKind::JumpCloud),
            "{devices} devices: {pages} pages, {directory} directory pages, {} graph reads",
            sandbox.listing_binding_requests(ProviderKind::JumpCloud),
        );
    }
}

/// The user directory's pages after the first (which counts the users) are read at the allowed
/// concurrency: a deferred listing, which makes no graph read, shows it alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_user_directory_is_read_once_its_later_pages_at_once() {
    use std::time::Duration;

    use futures::StreamExt;
    use mdmkit_core::paging::DEFAULT_MAX_PAGES;
    use mdmkit_core::{device_stream_with, Resolution};
    use mdmkit_sandbox::{Faults, Sandbox, SandboxConfig};

    const JC: ProviderKind = ProviderKind::JumpCloud;
    let sandbox = Sandbox::start(SandboxConfig {
        devices: 450,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let provider = provider_for(&sandbox);
    // Latency, so that requests sent together are in progress together.
    sandbox.set_faults(
        JC,
        Faults {
            latency: Duration::from_millis(30),
            ..Faults::default()
        },
    );
    let mut rows = device_stream_with(&provider, DEFAULT_MAX_PAGES, Resolution::Deferred);
    let mut listed = 0;
    while let Some(row) = rows.next().await {
        row.unwrap();
        listed += 1;
    }
    assert_eq!(listed, 450);
    let directory = sandbox.listing_directory_requests(JC);
    assert!(directory >= 3, "{directory} directory pages");
    assert_eq!(
        sandbox.request_count(JC) as usize,
        450usize.div_ceil(sandbox.max_page_size(JC)) + directory,
        "system pages and the directory once"
    );
    let fan_out = sandbox.client_options().limits_for(JC).max_concurrency;
    assert_eq!(
        sandbox.peak_concurrency(JC) as usize,
        (directory - 1).min(fan_out),
        "the directory pages after the first, together"
    );
}

/// A JumpCloud provider with full access to `sandbox`.
fn provider_for(sandbox: &mdmkit_sandbox::Sandbox) -> mdmkit_jumpcloud::JumpCloudProvider {
    let config = match sandbox.config(ProviderKind::JumpCloud, mdmkit_sandbox::Access::Full) {
        ProviderConfig::JumpCloud(c) => c,
        other => panic!("not a JumpCloud configuration: {other:?}"),
    };
    mdmkit_jumpcloud::JumpCloudProvider::new(config, &sandbox.client_options()).unwrap()
}
