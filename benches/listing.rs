//! The cost of bulk listings and refreshes for every provider against the sandbox with injected latency,
//! measured against the goals of issue 11. Prints figures; asserts nothing about time or memory (shared
//! machines are noisy), only that every refresh and listing is complete.
//!
//! - (a) a first full refresh: an `MdmSync` engine (in-memory store) with one workspace per provider,
//!   each tracking every serial of the fleet, connected (validated while it tracked nothing) and then
//!   refreshed, as the product does it: requests against the lower bound (device pages plus the bulk
//!   reads a correct listing needs, [`Sandbox::per_device_listing_requests`]), wall time against the
//!   latency floor (the pages one after another, the extra reads at the provider's allowed concurrency),
//!   and the process's peak memory while it ran (the in-process sandbox's fleet and the store included);
//! - (b) the next day, for the engine and the MDM alike, with 1% of the devices changed: the same
//!   workspaces refreshed again (a listing of changes from the watermark where the provider has a change
//!   filter, its follow-up reads answered by the lookup caches the first refresh filled): requests
//!   against ceil(changed / page size);
//! - (c) a listing of a large fleet with the sandbox in a child process (this benchmark run again as a
//!   server), so the peak memory printed is the client's alone;
//! - then groups read twice (by delta where the provider has one).
//!
//! `cargo bench --bench listing`. Environment:
//! - `MDMKIT_BENCH_DEVICES`: fleet size for (a), (b) (default 10,000);
//! - `MDMKIT_BENCH_LATENCY_MS`: latency the sandbox adds to every request (default 20, a nearby cloud
//!   service);
//! - `MDMKIT_BENCH_LARGE_DEVICES`: fleet size for (c) (default 100,000; 0 skips it);
//! - `MDMKIT_BENCH_PROVIDERS`: comma-separated provider ids to run (default: all six).

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::TimeDelta;
use futures::StreamExt;
use mdmkit::http::ClientOptions;
use mdmkit::sync::{
    ManualClock, MdmSync, MemoryStore, Plan, RefreshReport, Stores, Strategy, Vault, WorkspaceId,
};
use mdmkit::{GroupDeltaKind, MdmProvider, MdmProviderExt, ProviderKind, SerialNumber, Url};
use mdmkit_sandbox::{Access, Faults, Sandbox, SandboxConfig};

/// Set in the child process: serve a sandbox of this many devices until stdin closes.
const SERVE: &str = "MDMKIT_BENCH_SERVE";

/// Goal (a): requests at most the bound plus this.
const REQUEST_SLACK: u64 = 2;
/// Goal (a): wall time at most this times the floor.
const WALL_FACTOR: f64 = 1.5;
/// Goal (c): peak resident memory.
const RSS_GOAL_MIB: f64 = 64.0;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn status_kib(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Resets the kernel's peak-memory mark (Linux 4.0+), so the next reading covers what follows only.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Peak resident memory since the last [`reset_peak_rss`], in MiB.
fn peak_rss_mib() -> f64 {
    status_kib("VmHWM:").map_or(f64::NAN, |kib| kib / 1024.0)
}

fn rss_mib() -> f64 {
    status_kib("VmRSS:").map_or(f64::NAN, |kib| kib / 1024.0)
}

fn met(ok: bool) -> &'static str {
    if ok {
        "yes"
    } else {
        "NO"
    }
}

/// Streams a provider's whole listing, counting rows (the listing is never collected).
async fn stream_all(provider: &dyn MdmProvider) -> Result<usize, mdmkit::Error> {
    let mut listed = 0usize;
    let mut stream = provider.device_stream();
    while let Some(device) = stream.next().await {
        device?;
        listed += 1;
    }
    Ok(listed)
}

fn sandbox_config(devices: usize, latency: Duration, kinds: &[ProviderKind]) -> SandboxConfig {
    SandboxConfig {
        devices,
        faults: kinds
            .iter()
            .map(|k| {
                (
                    *k,
                    Faults {
                        latency,
                        ..Faults::default()
                    },
                )
            })
            .collect(),
        ..SandboxConfig::default()
    }
}

/// One sync engine over an in-memory store, its clock kept at the sandbox fleet's: each provider gets a
/// workspace tracking every serial of the fleet, refreshed as the product does it.
struct Refreshes<'a> {
    sandbox: &'a Sandbox,
    clock: Arc<ManualClock>,
    sync: MdmSync,
    serials: Vec<SerialNumber>,
    /// Distinct serials of the fleet, each tracked by every workspace.
    tracked: usize,
}

impl<'a> Refreshes<'a> {
    fn new(sandbox: &'a Sandbox, options: &ClientOptions) -> Self {
        let clock = Arc::new(ManualClock::new(sandbox.mutate(|f| f.now())));
        let stores = Stores::from_one(Arc::new(MemoryStore::with_clock(clock.clone())));
        let sync = MdmSync::new(
            mdmkit::provider_factory(options.clone()),
            Vault::new("bench", &[0x42; 32]).expect("a 32-byte key"),
            stores,
            clock.clone(),
        );
        let serials: BTreeSet<SerialNumber> = sandbox.mutate(|f| {
            f.devices
                .values()
                .filter_map(|d| SerialNumber::parse(&d.serial).ok())
                .collect()
        });
        Refreshes {
            sandbox,
            clock,
            sync,
            tracked: serials.len(),
            serials: serials.into_iter().collect(),
        }
    }

    /// A workspace connected to `kind` (validated while it tracks nothing), then given every serial, so
    /// that its first refresh is measured alone.
    async fn connect(&self, kind: ProviderKind) -> Result<WorkspaceId, Box<dyn std::error::Error>> {
        let ws = WorkspaceId::new(format!("bench-{}", kind.id()));
        self.sync.set_plan(&ws, Plan::Free).await?;
        self.sync
            .connect(&ws, self.sandbox.config(kind, Access::Full))
            .await?;
        for serial in &self.serials {
            self.sync.add_device(&ws, serial).await?;
        }
        Ok(ws)
    }

    async fn refresh(&self, ws: &WorkspaceId) -> Result<RefreshReport, Box<dyn std::error::Error>> {
        let report = self.sync.refresh_due(ws).await?;
        assert!(report.is_complete(), "{report:?}");
        Ok(report)
    }

    /// A day passes for the engine and the MDM alike, and `changed` devices change in the MDM at even
    /// intervals over it (not all in one second: keyset paging on a change time, like Fleet's, must
    /// then re-read the rows of that second).
    fn next_day(&self, changed: impl ExactSizeIterator<Item = u32>) {
        const DAY: u64 = 86_400;
        self.clock.advance(TimeDelta::days(1));
        self.sandbox.mutate(|f| {
            let step = DAY / (changed.len() as u64 + 1);
            let mut passed = 0;
            for device in changed {
                f.advance(Duration::from_secs(step));
                passed += step;
                f.touch_device(device);
            }
            f.advance(Duration::from_secs(DAY - passed));
        });
    }
}

fn strategy(report: &RefreshReport) -> &'static str {
    match report.strategy {
        Some(Strategy::Bulk) => "full listing",
        Some(Strategy::Changes) => "changes",
        Some(Strategy::Lookups) => "lookups",
        _ => "none",
    }
}

/// The child: a sandbox on loopback, its URLs on stdout, served until stdin closes.
async fn serve(devices: usize, latency: Duration) -> Result<(), Box<dyn std::error::Error>> {
    let sandbox = Sandbox::start(sandbox_config(devices, latency, &ProviderKind::ALL)).await?;
    let mut out = std::io::stdout().lock();
    for (kind, url) in sandbox.urls() {
        writeln!(out, "{} {url}", kind.id())?;
    }
    writeln!(out, "ready")?;
    out.flush()?;
    drop(out);
    tokio::task::spawn_blocking(|| {
        let mut sink = String::new();
        while std::io::stdin().read_line(&mut sink).is_ok_and(|n| n > 0) {}
    })
    .await?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let latency = Duration::from_millis(env_number("MDMKIT_BENCH_LATENCY_MS", 20));
    if let Ok(devices) = std::env::var(SERVE) {
        return serve(devices.parse()?, latency).await;
    }
    let devices = env_number("MDMKIT_BENCH_DEVICES", 10_000) as usize;
    let large = env_number("MDMKIT_BENCH_LARGE_DEVICES", 100_000) as usize;
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
    let ms = latency.as_millis();
    // (c) first, before this process holds a fleet of its own.
    if large > 0 {
        large_listing(&kinds, large, latency).await?;
    }
    let sandbox = Sandbox::start(sandbox_config(devices, latency, &kinds)).await?;
    let options = sandbox.client_options();
    let bench = Refreshes::new(&sandbox, &options);

    // (a) A first full refresh of a workspace tracking every serial of the fleet.
    println!(
        "(a) first refresh of a workspace tracking {devices} devices (MdmSync, in-memory store), {ms} ms \
         per request; goals: requests <= bound + {REQUEST_SLACK}, wall <= {WALL_FACTOR} x floor"
    );
    println!(
        "| provider | strategy | requests | bound | wall (s) | floor (s) | peak RSS (MiB) | requests met | wall met |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let mut workspaces = Vec::new();
    for kind in &kinds {
        let provider = mdmkit::build_provider(sandbox.config(*kind, Access::Full), &options)?;
        let ws = bench.connect(*kind).await?;
        sandbox.reset_request_counts();
        reset_peak_rss();
        let started = Instant::now();
        let report = bench.refresh(&ws).await?;
        let wall = started.elapsed().as_secs_f64();
        let peak = peak_rss_mib();
        assert_eq!(report.due, bench.tracked, "{kind}");
        assert_eq!(report.still_due(), 0, "{kind}: {report:?}");
        let page = provider.device_paging().page_size().unwrap_or(1000) as usize;
        let pages = devices.div_ceil(page);
        let extra = sandbox.per_device_listing_requests(*kind);
        let concurrency = options.limits_for(*kind).max_concurrency.max(1);
        let bound = (pages + extra) as u64;
        let floor = (pages + extra.div_ceil(concurrency)) as f64 * latency.as_secs_f64();
        let requests = sandbox.request_count(*kind);
        println!(
            "| {} | {} | {requests} | {bound} ({pages} pages + {extra}) | {wall:.2} | {floor:.2} | {peak:.0} | {} | {} |",
            kind.display_name(),
            strategy(&report),
            met(requests <= bound + REQUEST_SLACK),
            met(wall <= WALL_FACTOR * floor),
        );
        workspaces.push((*kind, ws, page));
    }

    // (b) The next day: 1% of the devices changed; the same workspaces refresh again.
    let changed = (devices / 100).max(1);
    bench.next_day((0..devices as u32).step_by(devices / changed));
    println!(
        "\n(b) the next day: {changed} of {devices} devices changed; goal: requests <= \
         ceil(changed / page) + {REQUEST_SLACK} where the provider has a change filter (changed: the \
         devices the listing answered)"
    );
    println!(
        "| provider | strategy | requests | ceil(written / page) | written | unchanged | cache hits / reads | wall (s) | met |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for (kind, ws, page) in &workspaces {
        sandbox.reset_request_counts();
        let started = Instant::now();
        let report = bench.refresh(ws).await?;
        let wall = started.elapsed().as_secs_f64();
        assert_eq!(report.still_due(), 0, "{kind}: {report:?}");
        let requests = sandbox.request_count(*kind);
        // The devices the listing of changes answered: the changed ones, and any the watermark's
        // overlap lists again (changed just before the first refresh).
        let bound = report.matched.max(changed).div_ceil(*page) as u64;
        let goal = if report.strategy == Some(Strategy::Changes) {
            met(requests <= bound + REQUEST_SLACK)
        } else {
            "n/a (no change filter)"
        };
        println!(
            "| {} | {} | {requests} | {bound} | {} | {} | {} / {} | {wall:.2} | {goal} |",
            kind.display_name(),
            strategy(&report),
            report.matched,
            report.unchanged,
            report.lookups.hits,
            report.lookups.reads,
        );
    }

    // Groups: a first read, then a delta after one group changed.
    println!("\ngroups: a first read, then again after one group changed");
    println!("| provider | first read | next read | next kind |");
    println!("|---|---|---|---|");
    for kind in &kinds {
        let provider = mdmkit::build_provider(sandbox.config(*kind, Access::Full), &options)?;
        sandbox.reset_request_counts();
        let first = provider.groups_delta(None).await?;
        let first_requests = sandbox.request_count(*kind);
        sandbox.mutate(|f| f.rename_group(0, "Renamed for the benchmark"));
        sandbox.reset_request_counts();
        let next = provider.groups_delta(first.token.as_ref()).await?;
        println!(
            "| {} | {first_requests} | {} | {} |",
            kind.display_name(),
            sandbox.request_count(*kind),
            if next.kind == GroupDeltaKind::Changes {
                "changes"
            } else {
                "full"
            }
        );
        sandbox.mutate(|f| f.rename_group(0, "Renamed back"));
    }
    Ok(())
}

/// (c) A large listing, the sandbox in a child process: the memory is the client's.
async fn large_listing(
    kinds: &[ProviderKind],
    devices: usize,
    latency: Duration,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut child = Command::new(std::env::current_exe()?)
        .env(SERVE, devices.to_string())
        .env("MDMKIT_BENCH_LATENCY_MS", latency.as_millis().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut urls = Vec::new();
    let stdout = child.stdout.take().ok_or("no stdout from the child")?;
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        if line == "ready" {
            break;
        }
        if let Some((id, url)) = line.split_once(' ') {
            urls.push((id.to_owned(), Url::parse(url)?));
        }
    }
    // A one-device sandbox of our own, for configurations with the sandbox's credentials.
    let sandbox = Sandbox::start(sandbox_config(1, Duration::ZERO, &[])).await?;
    let options = sandbox.client_options();
    println!(
        "(c) listing {devices} devices, sandbox in a child process, {} ms per request; goal: \
         peak RSS <= {RSS_GOAL_MIB} MiB (client process; {:.0} MiB resident before)",
        latency.as_millis(),
        rss_mib()
    );
    println!("| provider | requests | wall (s) | peak RSS (MiB) | met |");
    println!("|---|---|---|---|---|");
    for kind in kinds {
        let Some((_, url)) = urls.iter().find(|(id, _)| id == kind.id()) else {
            continue;
        };
        // The same credentials as any sandbox's, pointed at the child's server.
        let config = mdmkit_testkit::with_base_url(sandbox.config(*kind, Access::Full), url);
        let provider = mdmkit::build_provider(config, &options)?;
        provider.validate().await?;
        let before = provider.request_count();
        reset_peak_rss();
        let started = Instant::now();
        let listed = stream_all(&*provider).await?;
        let wall = started.elapsed().as_secs_f64();
        let peak = peak_rss_mib();
        assert_eq!(listed, devices, "{kind}: an incomplete listing");
        println!(
            "| {} | {} | {wall:.2} | {peak:.0} | {} |",
            kind.display_name(),
            provider.request_count() - before,
            met(peak <= RSS_GOAL_MIB)
        );
    }
    drop(child.stdin.take());
    child.wait()?;
    println!();
    Ok(())
}
