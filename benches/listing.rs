//! Bulk listing and refresh cost for every provider against the sandbox: requests against the lower bound
//! ceil(devices / page size), wall time, throughput and peak memory; then the cost of listing only what
//! changed (1% of devices touched) and of reading groups again by delta. Prints figures; asserts nothing
//! about time (shared machines are noisy).
//!
//! `cargo bench --bench listing`. Environment:
//! - `MDMKIT_BENCH_DEVICES`: fleet size (default 10,000);
//! - `MDMKIT_BENCH_LATENCY_MS`: latency the sandbox adds to every request (default 0; 20 mimics a nearby
//!   cloud service);
//! - `MDMKIT_BENCH_PROVIDERS`: comma-separated provider ids to run (default: all six).

use std::sync::Arc;
use std::time::{Duration, Instant};

use mdmkit::sync::{MdmSync, Plan, Stores, SystemClock, Vault, WorkspaceId};
use mdmkit::{
    Coverage, GroupDeltaKind, MdmDevice, MdmProvider, MdmProviderExt, Pager, ProviderKind,
    Resolution, SerialNumber,
};
use mdmkit_sandbox::{Access, Faults, Sandbox, SandboxConfig};

fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let devices = env_number("MDMKIT_BENCH_DEVICES", 10_000) as usize;
    let latency = Duration::from_millis(env_number("MDMKIT_BENCH_LATENCY_MS", 0));
    let only: Option<Vec<String>> = std::env::var("MDMKIT_BENCH_PROVIDERS")
        .ok()
        .map(|v| v.split(',').map(|s| s.trim().to_owned()).collect());
    let kinds: Vec<ProviderKind> = ProviderKind::ALL
        .into_iter()
        .filter(|k| {
            only.as_ref()
                .is_none_or(|o| o.iter().any(|id| id == k.id()))
        })
        .collect();
    let sandbox = Sandbox::start(SandboxConfig {
        devices,
        ..SandboxConfig::default()
    })
    .await?;
    for kind in &kinds {
        sandbox.set_faults(
            *kind,
            Faults {
                latency,
                ..Faults::default()
            },
        );
    }
    let options = sandbox.client_options();
    println!(
        "bulk listing of {devices} devices per provider (sandbox on loopback, {} ms per request)",
        latency.as_millis()
    );
    println!(
        "{:<24} {:>9} {:>22} {:>9} {:>10}",
        "provider", "requests", "bound (pages + extra)", "seconds", "devices/s"
    );
    for kind in &kinds {
        let provider = mdmkit::build_provider(sandbox.config(*kind, Access::Full), &options)?;
        provider.validate().await?;
        sandbox.reset_request_counts();
        let started = Instant::now();
        let mut listed = 0usize;
        let mut stream = provider.device_stream();
        // Count as the rows stream by: the listing is never collected.
        while let Some(device) = futures::StreamExt::next(&mut stream).await {
            device?;
            listed += 1;
        }
        drop(stream);
        let seconds = started.elapsed().as_secs_f64();
        assert_eq!(listed, devices);
        let page = provider.device_paging().page_size().unwrap_or(1000) as usize;
        println!(
            "{:<24} {:>9} {:>22} {:>9.2} {:>10.0}",
            kind.display_name(),
            sandbox.request_count(*kind),
            format!(
                "{} + {}",
                devices.div_ceil(page),
                sandbox.per_device_listing_requests(*kind)
            ),
            seconds,
            devices as f64 / seconds
        );
    }

    // The same listing with follow-up reads deferred (what a caller with a cache of names and of
    // "no user bound" would start from): requests, and rows left for the resolution calls.
    println!("\ndeferred listing (per-device follow-up reads left to a caller's cache)");
    println!(
        "{:<24} {:>9} {:>12} {:>9}",
        "provider", "requests", "unresolved", "seconds"
    );
    for kind in &kinds {
        let provider = mdmkit::build_provider(sandbox.config(*kind, Access::Full), &options)?;
        provider.validate().await?;
        sandbox.reset_request_counts();
        let started = Instant::now();
        let mut pager = Pager::new(provider.device_paging());
        let (mut listed, mut unresolved) = (0usize, 0usize);
        while let Some(request) = pager.next_request().cloned() {
            let page = provider
                .list_devices_page_with(&request, Resolution::Deferred)
                .await?;
            pager.record(&page, MdmDevice::row_id)?;
            listed += page.items.len();
            unresolved += page.items.iter().filter(|d| d.unresolved.is_some()).count();
        }
        assert_eq!(listed, devices);
        println!(
            "{:<24} {:>9} {:>12} {:>9.2}",
            kind.display_name(),
            sandbox.request_count(*kind),
            unresolved,
            started.elapsed().as_secs_f64()
        );
    }

    // The next day's refresh: 1% of the devices changed an hour ago; list only what changed.
    let changed = (devices / 100).max(1);
    let since = sandbox.mutate(|f| {
        f.advance(Duration::from_secs(86_400));
        let since = f.now();
        f.advance(Duration::from_secs(60));
        for i in (0..devices as u32).step_by(devices / changed) {
            f.touch_device(i);
        }
        since
    });
    println!("\nchanges since yesterday: {changed} of {devices} devices changed");
    println!(
        "{:<24} {:>9} {:>9} {:>12} {:>9}",
        "provider", "requests", "listed", "coverage", "seconds"
    );
    for kind in &kinds {
        let provider = mdmkit::build_provider(sandbox.config(*kind, Access::Full), &options)?;
        if !provider.change_tracking().is_supported() {
            println!(
                "{:<24} {:>9} {:>9} {:>12} {:>9}",
                kind.display_name(),
                "-",
                "-",
                "unsupported",
                "-"
            );
            continue;
        }
        sandbox.reset_request_counts();
        let started = Instant::now();
        let result = provider.changed_devices(since).await?;
        println!(
            "{:<24} {:>9} {:>9} {:>12} {:>9.2}",
            kind.display_name(),
            sandbox.request_count(*kind),
            result.devices.len(),
            match result.coverage {
                Coverage::Changed => "changed",
                _ => "everything",
            },
            started.elapsed().as_secs_f64()
        );
    }

    // Groups: a first read, then a delta after one group changed.
    println!("\ngroups: a first read, then again after one group changed");
    println!(
        "{:<24} {:>14} {:>14} {:>10}",
        "provider", "first read", "next read", "next kind"
    );
    for kind in &kinds {
        let provider = mdmkit::build_provider(sandbox.config(*kind, Access::Full), &options)?;
        sandbox.reset_request_counts();
        let first = provider.groups_delta(None).await?;
        let first_requests = sandbox.request_count(*kind);
        sandbox.mutate(|f| f.rename_group(0, "Renamed for the benchmark"));
        sandbox.reset_request_counts();
        let next = provider.groups_delta(first.token.as_ref()).await?;
        println!(
            "{:<24} {:>14} {:>14} {:>10}",
            kind.display_name(),
            first_requests,
            sandbox.request_count(*kind),
            if next.kind == GroupDeltaKind::Changes {
                "changes"
            } else {
                "full"
            }
        );
        sandbox.mutate(|f| f.rename_group(0, "Renamed back"));
    }

    // A whole refresh through mdmkit-sync: register every serial, connect, refresh.
    if kinds.contains(&ProviderKind::Jamf) {
        let sync = MdmSync::new(
            mdmkit::provider_factory(options),
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
    }
    if let Some(mib) = peak_rss_mib() {
        println!("peak resident memory: {mib:.0} MiB (sandbox and client in one process)");
    }
    Ok(())
}
