//! Bulk listing and refresh cost for every provider against the sandbox: requests against the lower bound
//! ceil(devices / page size), wall time, throughput and peak memory. Prints figures; asserts nothing about
//! time (shared machines are noisy).
//!
//! `cargo bench --bench listing` (set `MDMKIT_BENCH_DEVICES` to change the fleet size, default 20,000).

use std::sync::Arc;
use std::time::Instant;

use mdmkit::{MdmProvider, MdmProviderExt, ProviderConfig, ProviderKind, SerialNumber};
use mdmkit_sandbox::{Access, Sandbox, SandboxConfig};
use mdmkit_sync::{MdmSync, Plan, Stores, SystemClock, Vault, WorkspaceId};

fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let devices: usize = std::env::var("MDMKIT_BENCH_DEVICES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let sandbox = Sandbox::start(SandboxConfig {
        devices,
        ..SandboxConfig::default()
    })
    .await?;
    let options = sandbox.client_options();
    println!("bulk listing of {devices} devices per provider (sandbox on loopback)");
    println!(
        "{:<24} {:>9} {:>26} {:>9} {:>10}",
        "provider", "requests", "lower bound (+per device)", "seconds", "devices/s"
    );
    for kind in ProviderKind::ALL {
        let provider = mdmkit::connect(sandbox.config(kind, Access::Full), &options)?;
        provider.validate().await?;
        sandbox.reset_request_counts();
        let started = Instant::now();
        let listed = provider.all_devices().await?;
        let seconds = started.elapsed().as_secs_f64();
        assert_eq!(listed.len(), devices);
        let page = provider.device_paging().page_size().unwrap_or(1000) as usize;
        println!(
            "{:<24} {:>9} {:>26} {:>9.2} {:>10.0}",
            kind.display_name(),
            sandbox.request_count(kind),
            format!(
                "{} (+{})",
                devices.div_ceil(page),
                sandbox.per_device_listing_requests(kind)
            ),
            seconds,
            devices as f64 / seconds
        );
    }

    // A whole refresh through mdmkit-sync: register every serial, connect, refresh.
    let factory = move |config: &ProviderConfig| -> mdmkit::Result<Arc<dyn MdmProvider>> {
        mdmkit::connect(config.clone(), &options)
    };
    let sync = MdmSync::new(
        Arc::new(factory),
        Vault::new("bench", &*Vault::generate_key()?)?,
        Stores::memory(),
        Arc::new(SystemClock),
    );
    let workspace = WorkspaceId::new("bench");
    sync.set_plan(&workspace, Plan::Free).await?;
    for device in sandbox.fleet().devices.values() {
        sync.add_device(&workspace, &SerialNumber::parse(&device.serial)?)
            .await?;
    }
    sandbox.reset_request_counts();
    let started = Instant::now();
    let report = sync
        .connect(&workspace, sandbox.config(ProviderKind::Jamf, Access::Full))
        .await?;
    let refresh = report.refresh.expect("a refresh after connecting")?;
    println!(
        "\nrefresh through mdmkit-sync (Jamf): {} matched of {} due, strategy {:?}, {} requests, {:.2} s",
        refresh.matched,
        refresh.due,
        refresh.strategy,
        sandbox.request_count(ProviderKind::Jamf),
        started.elapsed().as_secs_f64()
    );
    if let Some(mib) = peak_rss_mib() {
        println!("peak resident memory: {mib:.0} MiB (sandbox and client in one process)");
    }
    Ok(())
}
