//! The shared conformance suite against the sandbox's Iru simulator.

use std::sync::Arc;

use mdmkit_core::{MdmProvider, ProviderConfig, ProviderKind};

mdmkit_testkit::conformance_suite!(ProviderKind::Iru, |config, options| {
    match config {
        ProviderConfig::Iru(c) => {
            Ok(Arc::new(mdmkit_iru::IruProvider::new(c, options)?) as Arc<dyn MdmProvider>)
        }
        other => panic!("not a Iru configuration: {other:?}"),
    }
});
