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
