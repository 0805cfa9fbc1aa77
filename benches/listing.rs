//! The cost of bulk listings and refreshes for every provider against the sandbox with injected latency,
//! measured against the goals of issue 11. Prints figures; asserts nothing about time or memory (shared
//! machines are noisy), only that every refresh and listing is complete.
//!
//! - (a) a first full refresh: an `MdmSync` engine (in-memory store) with one workspace per provider,
//!   each tracking every serial of the fleet, connected (validated while it tracked nothing) and then
//!   refreshed, as the product does it: requests against the lower bound (device pages plus the reads a
//!   correct listing needs beyond them, [`Sandbox::listing_extra_requests`]: user directory pages and
//!   per-device binding reads), wall time against the latency floor (the pages one after another, the
//!   extra reads at the provider's allowed concurrency), and the process's peak memory while it ran (the
//!   client, the engine and its in-memory store);
//! - (b) the next day, for the engine and the MDM alike, with 1% of the devices changed: the same
//!   workspaces refreshed again (a listing of changes from the watermark where the provider has a change
//!   filter, its follow-up reads answered by the lookup caches the first refresh filled): requests
//!   against ceil(changed / page size);
//! - (c) a listing of a large fleet, run first by a client process of its own (this benchmark run again),
//!   the peak memory printed that process's alone;
//! - then groups read twice (by delta where the provider has one).
//!
//! The sandbox always runs in a child process (this benchmark run again as a server, [`Server`]), so
//! its memory stays out of the figures and its CPU work runs beside the client's (the time it takes to
//! answer still counts in wall times, as a real server's would); the child answers the questions the figures need
//! (request counts, the fleet's clock and serials, the bounds) and makes the changes of the next day
//! over a line protocol on its stdin and stdout.
//!
//! `cargo bench --bench listing`. Environment:
//! - `MDMKIT_BENCH_DEVICES`: fleet size for (a), (b) (default 10,000);
//! - `MDMKIT_BENCH_LATENCY_MS`: latency the sandbox adds to every request (default 20, a nearby cloud
//!   service);
//! - `MDMKIT_BENCH_LARGE_DEVICES`: fleet size for (c) (default 100,000; 0 skips it);
//! - `MDMKIT_BENCH_PROVIDERS`: comma-separated provider ids to run (default: all six).

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use futures::StreamExt;
use mdmkit::http::ClientOptions;
use mdmkit::sync::{
    ManualClock, MdmSync, MemoryStore, Plan, RefreshReport, Stores, Strategy, Vault, WorkspaceId,
};
use mdmkit::{
    GroupDeltaKind, MdmProvider, MdmProviderExt, ProviderConfig, ProviderKind, SerialNumber, Url,
};
use mdmkit_sandbox::{Access, Faults, Sandbox, SandboxConfig};

/// Set in the child process: serve a sandbox of this many devices until stdin closes.
const SERVE: &str = "MDMKIT_BENCH_SERVE";
/// Set in the child process that runs (c) alone.
const LARGE_ONLY: &str = "MDMKIT_BENCH_LARGE_ONLY";

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
    server: &'a Server,
    clock: Arc<ManualClock>,
    sync: MdmSync,
    serials: Vec<SerialNumber>,
    /// Distinct serials of the fleet, each tracked by every workspace.
    tracked: usize,
}

impl<'a> Refreshes<'a> {
    fn new(server: &'a Server) -> Result<Self, Box<dyn std::error::Error>> {
        let clock = Arc::new(ManualClock::new(server.now()?));
        let stores = Stores::from_one(Arc::new(MemoryStore::with_clock(clock.clone())));
        let sync = MdmSync::new(
            mdmkit::provider_factory(server.client_options()),
            Vault::new("bench", &[0x42; 32]).expect("a 32-byte key"),
            stores,
            clock.clone(),
        );
        let serials: BTreeSet<SerialNumber> = server
            .serials()?
            .iter()
            .filter_map(|s| SerialNumber::parse(s).ok())
            .collect();
        Ok(Refreshes {
            server,
            clock,
            sync,
            tracked: serials.len(),
            serials: serials.into_iter().collect(),
        })
    }

    /// A workspace connected to `kind` (validated while it tracks nothing), then given every serial, so
    /// that its first refresh is measured alone.
    async fn connect(&self, kind: ProviderKind) -> Result<WorkspaceId, Box<dyn std::error::Error>> {
        let ws = WorkspaceId::new(format!("bench-{}", kind.id()));
        self.sync.set_plan(&ws, Plan::Free).await?;
        self.sync.connect(&ws, self.server.config(kind)?).await?;
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
    fn next_day(
        &self,
        changed: impl ExactSizeIterator<Item = u32>,
    ) -> Result<(), Box<dyn std::error::Error>> {
        const DAY: u64 = 86_400;
        self.clock.advance(TimeDelta::days(1));
        let step = DAY / (changed.len() as u64 + 1);
        let mut passed = 0;
        for device in changed {
            self.server.ask(&format!("advance {step}"))?;
            passed += step;
            self.server.ask(&format!("touch {device}"))?;
        }
        self.server.ask(&format!("advance {}", DAY - passed))?;
        Ok(())
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

/// The child: a sandbox on loopback, its URLs on stdout, then one answer line per command line on
/// stdin until stdin closes (see [`command`]).
async fn serve(devices: usize, latency: Duration) -> Result<(), Box<dyn std::error::Error>> {
    let sandbox =
        Arc::new(Sandbox::start(sandbox_config(devices, latency, &ProviderKind::ALL)).await?);
    let mut out = std::io::stdout().lock();
    for (kind, url) in sandbox.urls() {
        writeln!(out, "{} {url}", kind.id())?;
    }
    writeln!(out, "ready")?;
    out.flush()?;
    drop(out);
    let served = sandbox.clone();
    tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        let mut out = std::io::stdout().lock();
        for line in std::io::stdin().lock().lines() {
            let answer = command(&served, &line?).unwrap_or_else(|e| format!("error {e}"));
            writeln!(out, "{answer}")?;
            out.flush()?;
        }
        Ok(())
    })
    .await??;
    Ok(())
}

/// One command of the child's line protocol, and its one-line answer:
/// - `reset`: resets every provider's request count (`ok`);
/// - `count <provider>`: requests the provider has received;
/// - `extra <provider>`: the listing's directory pages and binding reads, `<directory> <bindings>`;
/// - `now`: the fleet clock, RFC 3339;
/// - `serials`: the fleet's serials, space-separated;
/// - `advance <seconds>`: moves the fleet clock (`ok`);
/// - `touch <device>`: marks a device changed now (`ok`);
/// - `rename-group <group> <name>`: renames a group (`ok`).
fn command(sandbox: &Sandbox, line: &str) -> Result<String, String> {
    let (verb, rest) = line.split_once(' ').unwrap_or((line, ""));
    let kind = || {
        ProviderKind::ALL
            .into_iter()
            .find(|k| k.id() == rest)
            .ok_or_else(|| format!("no provider {rest:?}"))
    };
    let number = |text: &str| text.parse::<u64>().map_err(|e| format!("{text:?}: {e}"));
    Ok(match verb {
        "reset" => {
            sandbox.reset_request_counts();
            "ok".into()
        }
        "count" => sandbox.request_count(kind()?).to_string(),
        "extra" => format!(
            "{} {}",
            sandbox.listing_directory_requests(kind()?),
            sandbox.listing_binding_requests(kind()?)
        ),
        "now" => sandbox.mutate(|f| f.now()).to_rfc3339(),
        "serials" => sandbox.mutate(|f| {
            f.devices
                .values()
                .map(|d| d.serial.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        }),
        "advance" => {
            let seconds = number(rest)?;
            sandbox.mutate(|f| f.advance(Duration::from_secs(seconds)));
            "ok".into()
        }
        "touch" => {
            let device = number(rest)? as u32;
            sandbox.mutate(|f| f.touch_device(device));
            "ok".into()
        }
        "rename-group" => {
            let (group, name) = rest.split_once(' ').ok_or("rename-group <group> <name>")?;
            let group = number(group)? as u32;
            sandbox.mutate(|f| f.rename_group(group, name));
            "ok".into()
        }
        other => return Err(format!("unknown command {other:?}")),
    })
}

/// A sandbox in a child process (this benchmark run again with [`SERVE`]), asked over its stdin and
/// stdout. Provider configurations carry the credentials of a one-device sandbox of our own (every
/// sandbox accepts the same ones) pointed at the child's URLs.
struct Server {
    child: Child,
    /// The child's stdin (closed to end it) and stdout, one command and one answer at a time.
    pipe: Mutex<(Option<ChildStdin>, BufReader<ChildStdout>)>,
    urls: Vec<(ProviderKind, Url)>,
    credentials: Sandbox,
}

impl Server {
    async fn start(
        devices: usize,
        latency: Duration,
    ) -> Result<Server, Box<dyn std::error::Error>> {
        let mut child = Command::new(std::env::current_exe()?)
            .env(SERVE, devices.to_string())
            .env("MDMKIT_BENCH_LATENCY_MS", latency.as_millis().to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let stdin = child.stdin.take().ok_or("no stdin to the child")?;
        let mut stdout = BufReader::new(child.stdout.take().ok_or("no stdout from the child")?);
        let mut urls = Vec::new();
        loop {
            let mut line = String::new();
            if stdout.read_line(&mut line)? == 0 {
                return Err("the sandbox child ended before it was ready".into());
            }
            let line = line.trim_end();
            if line == "ready" {
                break;
            }
            let (id, url) = line
                .split_once(' ')
                .ok_or("a URL line without a provider")?;
            let kind = ProviderKind::ALL
                .into_iter()
                .find(|k| k.id() == id)
                .ok_or("a URL of an unknown provider")?;
            urls.push((kind, Url::parse(url)?));
        }
        let credentials = Sandbox::start(sandbox_config(1, Duration::ZERO, &[])).await?;
        Ok(Server {
            child,
            pipe: Mutex::new((Some(stdin), stdout)),
            urls,
            credentials,
        })
    }

    /// Sends one command and returns its answer.
    fn ask(&self, command: &str) -> Result<String, Box<dyn std::error::Error>> {
        let mut pipe = self.pipe.lock().unwrap_or_else(|p| p.into_inner());
        let (stdin, stdout) = &mut *pipe;
        let stdin = stdin.as_mut().ok_or("the sandbox child was told to end")?;
        writeln!(stdin, "{command}")?;
        stdin.flush()?;
        let mut answer = String::new();
        if stdout.read_line(&mut answer)? == 0 {
            return Err(format!("the sandbox child ended at {command:?}").into());
        }
        let answer = answer.trim_end().to_owned();
        match answer.strip_prefix("error ") {
            Some(e) => Err(format!("{command:?}: {e}").into()),
            None => Ok(answer),
        }
    }

    fn number(&self, command: &str) -> Result<usize, Box<dyn std::error::Error>> {
        Ok(self.ask(command)?.parse()?)
    }

    fn client_options(&self) -> ClientOptions {
        self.credentials.client_options()
    }

    /// A configuration with the sandbox's credentials, pointed at the child's server.
    fn config(&self, kind: ProviderKind) -> Result<ProviderConfig, Box<dyn std::error::Error>> {
        let (_, url) = self
            .urls
            .iter()
            .find(|(k, _)| *k == kind)
            .ok_or_else(|| format!("the child serves no {kind}"))?;
        Ok(mdmkit_testkit::with_base_url(
            self.credentials.config(kind, Access::Full),
            url,
        ))
    }

    fn reset_request_counts(&self) -> Result<(), Box<dyn std::error::Error>> {
        self.ask("reset").map(drop)
    }

    fn request_count(&self, kind: ProviderKind) -> Result<u64, Box<dyn std::error::Error>> {
        Ok(self.number(&format!("count {}", kind.id()))? as u64)
    }

    /// A bulk listing's requests beyond its device pages: (user directory pages, binding reads).
    fn listing_extra_requests(
        &self,
        kind: ProviderKind,
    ) -> Result<(usize, usize), Box<dyn std::error::Error>> {
        let answer = self.ask(&format!("extra {}", kind.id()))?;
        let (directory, bindings) = answer.split_once(' ').ok_or("extra: two numbers")?;
        Ok((directory.parse()?, bindings.parse()?))
    }

    fn now(&self) -> Result<DateTime<Utc>, Box<dyn std::error::Error>> {
        Ok(DateTime::parse_from_rfc3339(&self.ask("now")?)?.with_timezone(&Utc))
    }

    fn serials(&self) -> Result<Vec<String>, Box<dyn std::error::Error>> {
        Ok(self
            .ask("serials")?
            .split_whitespace()
            .map(str::to_owned)
            .collect())
    }

    fn rename_group(&self, group: u32, name: &str) -> Result<(), Box<dyn std::error::Error>> {
        self.ask(&format!("rename-group {group} {name}")).map(drop)
    }
}

impl Drop for Server {
    /// Closing the child's stdin ends it; then it is reaped.
    fn drop(&mut self) {
        let (stdin, _) = self.pipe.get_mut().unwrap_or_else(|p| p.into_inner());
        drop(stdin.take());
        let _ = self.child.wait();
    }
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
    // (c) first, in a client process of its own: its peak memory is the listings' alone, and the heap
    // its 100,000-row listings leave behind does not slow (a).
    if std::env::var(LARGE_ONLY).is_ok() {
        let server = Server::start(large, latency).await?;
        return large_listing(&server, &kinds, large).await;
    }
    if large > 0 {
        let status = std::process::Command::new(std::env::current_exe()?)
            .args(std::env::args_os().skip(1))
            .env(LARGE_ONLY, "1")
            .status()?;
        if !status.success() {
            return Err(format!("the (c) listing process failed: {status}").into());
        }
    }
    let server = Server::start(devices, latency).await?;
    let options = server.client_options();
    let bench = Refreshes::new(&server)?;

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
        let provider = mdmkit::build_provider(server.config(*kind)?, &options)?;
        let ws = bench.connect(*kind).await?;
        server.reset_request_counts()?;
        reset_peak_rss();
        let started = Instant::now();
        let report = bench.refresh(&ws).await?;
        let wall = started.elapsed().as_secs_f64();
        let peak = peak_rss_mib();
        assert_eq!(report.due, bench.tracked, "{kind}");
        assert_eq!(report.still_due(), 0, "{kind}: {report:?}");
        let page = provider.device_paging().page_size().unwrap_or(1000) as usize;
        let pages = devices.div_ceil(page);
        let (directory, bindings) = server.listing_extra_requests(*kind)?;
        let concurrency = options.limits_for(*kind).max_concurrency.max(1);
        let bound = (pages + directory + bindings) as u64;
        // Device pages one after another (each names the next), the rest at the allowed concurrency.
        let floor =
            (pages + (directory + bindings).div_ceil(concurrency)) as f64 * latency.as_secs_f64();
        let requests = server.request_count(*kind)?;
        println!(
            "| {} | {} | {requests} | {bound} ({pages} pages + {directory} directory + {bindings} bindings) | {wall:.2} | {floor:.2} | {peak:.0} | {} | {} |",
            kind.display_name(),
            strategy(&report),
            met(requests <= bound + REQUEST_SLACK),
            met(wall <= WALL_FACTOR * floor),
        );
        workspaces.push((*kind, ws, page));
    }

    // (b) The next day: 1% of the devices changed; the same workspaces refresh again.
    let changed = (devices / 100).max(1);
    bench.next_day((0..devices as u32).step_by(devices / changed))?;
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
        server.reset_request_counts()?;
        let started = Instant::now();
        let report = bench.refresh(ws).await?;
        let wall = started.elapsed().as_secs_f64();
        assert_eq!(report.still_due(), 0, "{kind}: {report:?}");
        let requests = server.request_count(*kind)?;
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
        let provider = mdmkit::build_provider(server.config(*kind)?, &options)?;
        server.reset_request_counts()?;
        let first = provider.groups_delta(None).await?;
        let first_requests = server.request_count(*kind)?;
        server.rename_group(0, "Renamed for the benchmark")?;
        server.reset_request_counts()?;
        let next = provider.groups_delta(first.token.as_ref()).await?;
        println!(
            "| {} | {first_requests} | {} | {} |",
            kind.display_name(),
            server.request_count(*kind)?,
            if next.kind == GroupDeltaKind::Changes {
                "changes"
            } else {
                "full"
            }
        );
        server.rename_group(0, "Renamed back")?;
    }
    Ok(())
}

/// (c) A large listing: the memory is the client's.
async fn large_listing(
    server: &Server,
    kinds: &[ProviderKind],
    devices: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let options = server.client_options();
    println!(
        "(c) listing {devices} devices, sandbox in a child process; goal: peak RSS <= {RSS_GOAL_MIB} \
         MiB (client process; {:.0} MiB resident before)",
        rss_mib()
    );
    println!("| provider | requests | wall (s) | peak RSS (MiB) | met |");
    println!("|---|---|---|---|---|");
    for kind in kinds {
        let provider = mdmkit::build_provider(server.config(*kind)?, &options)?;
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
    println!();
    Ok(())
}
