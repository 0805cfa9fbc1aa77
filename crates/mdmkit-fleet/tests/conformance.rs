//! The shared conformance suite against the sandbox's Fleet simulator.

use std::sync::Arc;

use mdmkit_core::{MdmProvider, ProviderConfig, ProviderKind};

mdmkit_testkit::conformance_suite!(ProviderKind::Fleet, |config, options| {
    match config {
        ProviderConfig::Fleet(c) => {
            Ok(Arc::new(mdmkit_fleet::FleetProvider::new(c, options)?) as Arc<dyn MdmProvider>)
        }
        other => panic!("not a Fleet configuration: {other:?}"),
    }
});
