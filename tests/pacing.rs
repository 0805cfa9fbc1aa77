//! Pacing from the server at listing scale: SimpleMDM states no rate, so against a sandbox that does
//! not throttle its listing never waits (it runs at the latency floor), and against one that throttles
//! with `X-RateLimit-*` windows it spreads its requests and never goes over the window (no `429`).

use std::time::Duration;

use futures::TryStreamExt;
use mdmkit::http::{ClientOptions, LimitRegistry, Pacing};
use mdmkit::{MdmProvider, MdmProviderExt, ProviderKind};
use mdmkit_sandbox::{Access, Faults, RateWindow, Sandbox, SandboxConfig};

/// SimpleMDM's largest page.
const PAGE: u64 = 100;

async fn sandbox(devices: usize) -> Sandbox {
    Sandbox::start(SandboxConfig {
        devices,
        ..SandboxConfig::default()
    })
    .await
    .unwrap()
}

/// The production limits (no override), in a registry of this test's own.
fn options(sandbox: &Sandbox, registry: &LimitRegistry) -> ClientOptions {
    ClientOptions {
        limit_registry: registry.clone(),
        ..sandbox.client_options()
    }
}

/// Lists every device; returns how many and the pacing of the one server the listing talked to.
async fn list(sandbox: &Sandbox, options: &ClientOptions) -> (usize, Pacing) {
    let provider = mdmkit::build_provider(
        sandbox.config(ProviderKind::SimpleMdm, Access::Full),
        options,
    )
    .unwrap();
    let devices: Vec<_> = provider.device_stream().try_collect().await.unwrap();
    let servers = options.limit_registry.pacing();
    assert_eq!(servers.len(), 1, "{servers:?}");
    assert!(provider.request_count() > 0);
    (devices.len(), servers[0].1)
}

#[tokio::test]
async fn simplemdm_lists_without_waiting_when_the_server_does_not_throttle() {
    let devices = 2_000;
    let sandbox = sandbox(devices).await;
    let registry = LimitRegistry::new();
    let options = options(&sandbox, &registry);
    assert_eq!(
        options.limits_for(ProviderKind::SimpleMdm).rate_limit,
        None,
        "SimpleMDM states no rate: none is imposed"
    );
    let (listed, pacing) = list(&sandbox, &options).await;
    assert_eq!(listed, devices);
    assert_eq!(pacing, Pacing::default(), "no wait of any kind");
    assert_eq!(
        sandbox.request_count(ProviderKind::SimpleMdm),
        devices as u64 / PAGE,
        "one request per page"
    );
}

#[tokio::test]
async fn simplemdm_obeys_a_server_that_throttles_and_never_exceeds_its_window() {
    let devices = 1_500;
    let sandbox = sandbox(devices).await;
    // 12 requests per second: the 15 pages cannot all go in the first window.
    sandbox.set_faults(
        ProviderKind::SimpleMdm,
        Faults {
            rate_window: Some(RateWindow {
                limit: 12,
                period: Duration::from_secs(1),
            }),
            ..Faults::default()
        },
    );
    let registry = LimitRegistry::new();
    let (listed, pacing) = list(&sandbox, &options(&sandbox, &registry)).await;
    assert_eq!(listed, devices);
    assert!(pacing.waits > 0, "the listing slowed down: {pacing:?}");
    assert_eq!(
        sandbox.request_count(ProviderKind::SimpleMdm),
        devices as u64 / PAGE,
        "no request was refused with a 429: {pacing:?}"
    );
}
