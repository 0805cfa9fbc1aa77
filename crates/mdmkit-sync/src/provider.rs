//! How the engine gets providers ([`ProviderFactory`]).
//!
//! The engine adds no request limit of its own. Limits belong to the MDM server (Jamf's five requests in
//! flight are per server, shared by every client of that server; Iru's hourly quota is per tenant), so the
//! providers' HTTP clients in `mdmkit-core` enforce them per server. A limit per provider *kind* here would
//! let a few slow tenants of one provider starve every other tenant of that provider.

use std::sync::Arc;

use mdmkit_core::{MdmProvider, ProviderConfig};

/// Builds a provider from a configuration. The engine knows no concrete provider: the `mdmkit` facade
/// supplies the real factory (`mdmkit::provider_factory(options)`, feature `sync`), tests supply fakes.
///
/// Building must not do I/O (the engine calls `validate` itself). Any `Fn(&ProviderConfig) ->
/// Result<Arc<dyn MdmProvider>>` closure is a factory.
pub trait ProviderFactory: Send + Sync + 'static {
    /// The provider for `config`. A configuration that cannot work is an
    /// [`mdmkit_core::ErrorKind::InvalidConfiguration`] error (shown as R8's "Not found").
    fn build(&self, config: &ProviderConfig) -> mdmkit_core::Result<Arc<dyn MdmProvider>>;
}

impl<F> ProviderFactory for F
where
    F: Fn(&ProviderConfig) -> mdmkit_core::Result<Arc<dyn MdmProvider>> + Send + Sync + 'static,
{
    fn build(&self, config: &ProviderConfig) -> mdmkit_core::Result<Arc<dyn MdmProvider>> {
        self(config)
    }
}
