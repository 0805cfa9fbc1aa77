//! The shared conformance suite against the sandbox's SimpleMdm simulator.

use std::sync::Arc;

use mdmkit_core::{MdmProvider, ProviderConfig, ProviderKind};

mdmkit_testkit::conformance_suite!(ProviderKind::SimpleMdm, |config, options| {
    match config {
        ProviderConfig::SimpleMdm(c) => Ok(Arc::new(mdmkit_simplemdm::SimpleMdmProvider::new(
            c, options,
        )?) as Arc<dyn MdmProvider>),
        other => panic!("not a SimpleMdm configuration: {other:?}"),
    }
});
