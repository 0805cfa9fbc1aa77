//! How the engine gets providers ([`ProviderFactory`]) and how it bounds requests per provider.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use mdmkit_core::{
    MdmDevice, MdmGroup, MdmProvider, Page, PageRequest, PagingStyle, ProviderConfig, ProviderKind,
    SerialNumber, Url,
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Builds a provider from a configuration. The engine knows no concrete provider: the `mdmkit` facade
/// supplies the real factory, tests supply fakes.
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

/// One semaphore per provider kind, shared by every workspace: at most `per_provider` requests to the same
/// provider are in flight at once across the whole engine.
///
/// Per-account limits (Jamf's five connections per server, Iru's hourly quota) are enforced inside each
/// provider's HTTP client; this bound protects the vendor and our own egress when many workspaces use the
/// same provider.
pub(crate) struct ProviderLimits {
    per_provider: usize,
    semaphores: Mutex<HashMap<ProviderKind, Arc<Semaphore>>>,
}

impl ProviderLimits {
    pub(crate) fn new(per_provider: usize) -> Self {
        ProviderLimits {
            per_provider: per_provider.max(1),
            semaphores: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn wrap(&self, inner: Arc<dyn MdmProvider>) -> Arc<dyn MdmProvider> {
        let permits = self
            .semaphores
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(inner.kind())
            .or_insert_with(|| Arc::new(Semaphore::new(self.per_provider)))
            .clone();
        Arc::new(LimitedProvider { inner, permits })
    }
}

impl fmt::Debug for ProviderLimits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderLimits")
            .field("per_provider", &self.per_provider)
            .finish()
    }
}

/// A provider whose every request first takes a permit of its kind's semaphore.
#[derive(Debug)]
struct LimitedProvider {
    inner: Arc<dyn MdmProvider>,
    permits: Arc<Semaphore>,
}

impl LimitedProvider {
    async fn permit(&self) -> OwnedSemaphorePermit {
        self.permits
            .clone()
            .acquire_owned()
            .await
            .expect("provider semaphores are never closed")
    }
}

#[async_trait]
impl MdmProvider for LimitedProvider {
    fn kind(&self) -> ProviderKind {
        self.inner.kind()
    }

    async fn validate(&self) -> mdmkit_core::Result<()> {
        let _permit = self.permit().await;
        self.inner.validate().await
    }

    async fn devices_by_serial(
        &self,
        serial: &SerialNumber,
    ) -> mdmkit_core::Result<Vec<MdmDevice>> {
        let _permit = self.permit().await;
        self.inner.devices_by_serial(serial).await
    }

    fn device_paging(&self) -> PagingStyle {
        self.inner.device_paging()
    }

    async fn list_devices_page(
        &self,
        request: &PageRequest,
    ) -> mdmkit_core::Result<Page<MdmDevice>> {
        let _permit = self.permit().await;
        self.inner.list_devices_page(request).await
    }

    async fn groups(&self) -> mdmkit_core::Result<Vec<MdmGroup>> {
        let _permit = self.permit().await;
        self.inner.groups().await
    }

    fn device_url(&self, device_id: &str) -> Option<Url> {
        self.inner.device_url(device_id)
    }

    fn request_costs(&self) -> mdmkit_core::RequestCosts {
        self.inner.request_costs()
    }

    fn request_count(&self) -> u64 {
        self.inner.request_count()
    }
}
