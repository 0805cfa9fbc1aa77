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
