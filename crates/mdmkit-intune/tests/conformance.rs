//! The shared conformance suite against the sandbox's Intune simulator.

use std::sync::Arc;

use mdmkit_core::{MdmProvider, ProviderConfig, ProviderKind};

mdmkit_testkit::conformance_suite!(ProviderKind::Intune, |config, options| {
    match config {
        ProviderConfig::Intune(c) => {
            Ok(Arc::new(mdmkit_intune::IntuneProvider::new(c, options)?) as Arc<dyn MdmProvider>)
        }
        other => panic!("not a Intune configuration: {other:?}"),
    }
});
