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

/// A JumpCloud provider with full access to `sandbox`.
fn provider_for(sandbox: &mdmkit_sandbox::Sandbox) -> mdmkit_jumpcloud::JumpCloudProvider {
    let config = match sandbox.config(ProviderKind::JumpCloud, mdmkit_sandbox::Access::Full) {
        ProviderConfig::JumpCloud(c) => c,
        other => panic!("not a JumpCloud configuration: {other:?}"),
    };
    mdmkit_jumpcloud::JumpCloudProvider::new(config, &sandbox.client_options()).unwrap()
}
