//! The fault matrix (issue 9): six providers × fourteen faults, each case run through the real providers
//! (`mdmkit::build_provider`) against the in-process sandbox over HTTPS, and `mdmkit-sync` over an in-memory
//! store with a manual clock.
//!
//! Every case:
//! 1. sets up a workspace on Pro with good stored state: connected, metadata fetched, groups synced;
//! 2. snapshots what is stored, record by record: devices with their metadata and check times, groups,
//!    the sync state that carries meaning (plan, pending work, last sync, fleet size, lease) and the saved
//!    connection;
//! 3. injects the fault a day later and runs the refresh, a group sync and (where it makes sense) a connect
//!    with the credentials entered again, all while the MDM misbehaves;
//! 4. checks the category each step gives (one of the six of R8, the same for all three) and that the
//!    stored state is exactly the snapshot, or, where the fault is one the client rides out, that the run
//!    completed with the same data;
//! 5. clears the fault and checks that the next run completes and leaves the same data as before.
//!
//! The table of outcomes is rendered from what the cases observed and must equal the "Reliability" table
//! in the README (`MDMKIT_BLESS_README=1` rewrites it), so the README cannot drift from the suite.
//!
//! What each fault is, on the wire: see [`Fault::description`]. DNS failure is made deterministic and
//! offline by building the provider for the same MDM under a host in `.invalid` (RFC 6761: never
//! resolves); on this machine the system resolver says NXDOMAIN in milliseconds, and where a resolver is
//! unreachable the lookup ends at the request timeout, whose category is the same (Connection failed).

mod sandbox_support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use mdmkit::http::{ClientOptions, LimitRegistry, RetryConfig};
use mdmkit::{Category, MdmProvider, ProviderConfig, ProviderKind, SerialNumber, Url};
use mdmkit_sandbox::{Access, Faults, Sandbox, SandboxConfig};
use mdmkit_sync::{
    ConnectionInfo, DeviceView, GroupRecord, GroupSyncOutcome, Lease, ManualClock, MdmSync, Plan,
    ProviderFactory, RefreshOutcome, Stores, SyncConfig, Vault, WorkspaceId,
};
use sandbox_support::{
    expected_groups, factory, serial, serials_of, start_time, synced_groups, VAULT_KEY,
};

/// Cases run at once (each has its own sandbox, engine and store).
const CONCURRENCY: usize = 8;
/// Devices of the MDM in most cases; the workspace holds them and one device the MDM does not know.
const FLEET_DEVICES: usize = 6;
/// A serial the MDM does not know: its stored answer is "not found", checked.
const UNKNOWN_SERIAL: &str = "FMNOTINMDM01";
/// The client's body cap in the oversized-body case, and what the MDM sends there.
const BODY_CAP: usize = 1024 * 1024;
const OVERSIZED: usize = 2 * 1024 * 1024;
/// The `Retry-After` of the 429 case: one wait fits the retry budget, the second does not.
const RETRY_AFTER: Duration = Duration::from_secs(1);
/// The request timeout of the timeout case (other cases: generous, a hang guard).
const SHORT_TIMEOUT: Duration = Duration::from_millis(750);
/// A case that takes longer than this is reported as hung.
const CASE_HANG_GUARD: Duration = Duration::from_secs(240);

const README_BEGIN: &str = "<!-- fault-matrix:begin -->";
const README_END: &str = "<!-- fault-matrix:end -->";

/// The fourteen faults, in the README's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Fault {
    Unauthorized,
    Forbidden,
    NotFound,
    RateLimited,
    InternalError,
    Unavailable,
    ConnectionRefused,
    DnsFailure,
    UntrustedTls,
    Timeout,
    MalformedJson,
    HtmlErrorPage,
    OversizedBody,
    TokenExpiryMidListing,
}

impl Fault {
    const ALL: [Fault; 14] = [
        Fault::Unauthorized,
        Fault::Forbidden,
        Fault::NotFound,
        Fault::RateLimited,
        Fault::InternalError,
        Fault::Unavailable,
        Fault::ConnectionRefused,
        Fault::DnsFailure,
        Fault::UntrustedTls,
        Fault::Timeout,
        Fault::MalformedJson,
        Fault::HtmlErrorPage,
        Fault::OversizedBody,
        Fault::TokenExpiryMidListing,
    ];

    /// What the MDM does, as the README's first column says it.
    fn description(self) -> &'static str {
        match self {
            Fault::Unauthorized => "401: every credential presented is refused (the API's own 401)",
            Fault::Forbidden => "403 with the vendor's error body",
            Fault::NotFound => "404: the API answers as for a path it does not serve",
            Fault::RateLimited => "429 with `Retry-After: 1` on every request",
            Fault::InternalError => "500 with the vendor's error body",
            Fault::Unavailable => "503 with the vendor's error body",
            Fault::ConnectionRefused => "Connection refused (the port is closed)",
            Fault::DnsFailure => "DNS failure (the host name does not resolve)",
            Fault::UntrustedTls => "TLS certificate from an untrusted issuer",
            Fault::Timeout => "Timeout: requests are accepted and never answered",
            Fault::MalformedJson => "Malformed JSON with status 200",
            Fault::HtmlErrorPage => "HTML error page (a proxy's 502)",
            Fault::OversizedBody => "Oversized body (2 MiB against a 1 MiB cap)",
            Fault::TokenExpiryMidListing => {
                "Token expiry in the middle of a listing (revoked after the run's first request)"
            }
        }
    }

    /// The sandbox faults that make it (DNS failure is the client's side: see the module docs).
    fn sandbox_faults(self) -> Faults {
        let f = Faults::default();
        match self {
            Fault::Unauthorized => Faults {
                status: Some(401),
                ..f
            },
            Fault::Forbidden => Faults {
                status: Some(403),
                ..f
            },
            Fault::NotFound => Faults {
                status: Some(404),
                ..f
            },
            Fault::RateLimited => Faults {
                status: Some(429),
                retry_after: RETRY_AFTER,
                ..f
            },
            Fault::InternalError => Faults {
                status: Some(500),
                ..f
            },
            Fault::Unavailable => Faults {
                status: Some(503),
                ..f
            },
            Fault::ConnectionRefused => Faults {
                refuse_connections: true,
                ..f
            },
            Fault::DnsFailure => f,
            Fault::UntrustedTls => Faults {
                untrusted_tls: true,
                ..f
            },
            Fault::Timeout => Faults { hang: true, ..f },
            Fault::MalformedJson => Faults {
                malformed: 1.0,
                ..f
            },
            Fault::HtmlErrorPage => Faults {
                html_errors: 1.0,
                ..f
            },
            Fault::OversizedBody => Faults {
                oversized_body: Some(OVERSIZED),
                ..f
            },
            Fault::TokenExpiryMidListing => Faults {
                revoke_credentials_after: Some(1),
                ..f
            },
        }
    }

    /// The R8 category every step must give; `None`: the client rides the fault out and the run completes.
    fn expected(self, kind: ProviderKind) -> Option<Category> {
        match self {
            Fault::Unauthorized => Some(Category::Unauthorized),
            Fault::Forbidden => Some(Category::Forbidden),
            Fault::NotFound => Some(Category::NotFound),
            Fault::RateLimited
            | Fault::InternalError
            | Fault::Unavailable
            | Fault::MalformedJson
            | Fault::HtmlErrorPage
            | Fault::OversizedBody => Some(Category::Server),
            Fault::ConnectionRefused | Fault::DnsFailure | Fault::Timeout => {
                Some(Category::ConnectionFailed)
            }
            Fault::UntrustedTls => Some(Category::Ssl),
            // OAuth providers renew their token once after a 401 and carry on; static credentials cannot
            // be renewed.
            Fault::TokenExpiryMidListing => match kind {
                ProviderKind::Jamf | ProviderKind::Intune => None,
                _ => Some(Category::Unauthorized),
            },
        }
    }

    /// Whether the case also connects with the credentials entered again while the fault lasts. Not for
    /// token expiry: it is about a run already under way, and a connect's single test call may pass
    /// before the revocation.
    fn tries_connect(self) -> bool {
        self != Fault::TokenExpiryMidListing
    }
}

/// What one step showed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    Completed,
    Failed(Category),
    /// Failed without an R8 category (a bug of ours, reported as a problem).
    Uncategorised,
}

impl Seen {
    /// Completed first, then the categories in R8 order.
    fn rank(self) -> usize {
        match self {
            Seen::Completed => 0,
            Seen::Failed(c) => 1 + Category::ALL.iter().position(|x| *x == c).unwrap_or(0),
            Seen::Uncategorised => usize::MAX,
        }
    }
}

impl PartialOrd for Seen {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Seen {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.rank().cmp(&other.rank())
    }
}

/// What the stored state was after the faulty steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stored {
    /// Exactly the snapshot, record for record.
    Untouched,
    /// The snapshot but for the check time of devices the MDM still gave a definite answer about (lookups
    /// go device by device; a listing writes each page it read), their metadata the same.
    StillAnswered,
    /// The run completed: the same devices, metadata and groups, checked again.
    Refreshed,
}

#[derive(Debug)]
struct CaseResult {
    kind: ProviderKind,
    fault: Fault,
    refresh: Seen,
    group_sync: Seen,
    connect: Option<Seen>,
    stored: Stored,
    problems: Vec<String>,
}

/// What a workspace keeps, read through the engine's public API (so it stays valid whatever the storage
/// traits become).
#[derive(Debug, Clone, PartialEq)]
struct Snapshot {
    devices: Vec<DeviceView>,
    groups: Vec<GroupRecord>,
    state: KeptState,
    connection: Option<ConnectionInfo>,
}

/// The sync state that carries meaning; attempt bookkeeping (last refresh start, last attempt, last manual
/// request) moves on every try by design.
#[derive(Debug, Clone, PartialEq)]
struct KeptState {
    plan: Plan,
    mdm_device_count: Option<u64>,
    last_group_sync: Option<DateTime<Utc>>,
    group_sync_pending: bool,
    refresh_pending: bool,
    lease: Option<Lease>,
}

impl Snapshot {
    async fn read(sync: &MdmSync, ws: &WorkspaceId) -> Snapshot {
        let state = sync.state(ws).await.unwrap();
        Snapshot {
            devices: sync.devices(ws).await.unwrap(),
            groups: sync.groups(ws).await.unwrap(),
            state: KeptState {
                plan: state.plan,
                mdm_device_count: state.mdm_device_count,
                last_group_sync: state.last_group_sync,
                group_sync_pending: state.group_sync_pending,
                refresh_pending: state.refresh_pending,
                lease: state.lease,
            },
            connection: sync.connection_info(ws).await.unwrap(),
        }
    }

    /// The same records with their check times set aside.
    fn without_check_times(&self) -> Snapshot {
        let mut data = self.clone();
        for d in &mut data.devices {
            d.checked_at = None;
        }
        data
    }

    /// Differences from `before` beyond what a completed run at `at` moves: every device checked since,
    /// the group sync recorded at `at`, all else the same.
    fn completed_run_differences(&self, before: &Snapshot, at: DateTime<Utc>) -> Vec<String> {
        let mut out = Vec::new();
        let mut after = self.clone();
        if after.state.last_group_sync != Some(at) {
            out.push(format!("the group sync at {at} was not recorded"));
        }
        after.state.last_group_sync = before.state.last_group_sync;
        // A run may list where the setup looked up (the lookup cache the setup filled makes a listing
        // cheaper); a complete listing records the MDM's device count for the first time.
        if before.state.mdm_device_count.is_none() {
            after.state.mdm_device_count = None;
        }
        for d in &self.devices {
            if d.checked_at.is_none_or(|c| c < at - TimeDelta::hours(2)) {
                out.push(format!("{} was not checked by the run", d.serial_number));
            }
        }
        out.extend(
            before
                .without_check_times()
                .differences(&after.without_check_times()),
        );
        out
    }

    /// Every record that differs, described.
    fn differences(&self, after: &Snapshot) -> Vec<String> {
        let mut out = Vec::new();
        let devices = |s: &Snapshot| -> BTreeMap<SerialNumber, DeviceView> {
            s.devices
                .iter()
                .map(|d| (d.serial_number.clone(), d.clone()))
                .collect()
        };
        let groups = |s: &Snapshot| -> BTreeMap<String, GroupRecord> {
            s.groups
                .iter()
                .map(|g| (g.id.as_str().to_owned(), g.clone()))
                .collect()
        };
        diff_maps("device", &devices(self), &devices(after), &mut out);
        diff_maps("group", &groups(self), &groups(after), &mut out);
        if self.state != after.state {
            out.push(format!("sync state: {:?} -> {:?}", self.state, after.state));
        }
        if self.connection != after.connection {
            out.push(format!(
                "saved connection: {:?} -> {:?}",
                self.connection, after.connection
            ));
        }
        out
    }
}

fn diff_maps<K: Ord + std::fmt::Debug, V: PartialEq + std::fmt::Debug>(
    what: &str,
    before: &BTreeMap<K, V>,
    after: &BTreeMap<K, V>,
    out: &mut Vec<String>,
) {
    let keys: BTreeSet<&K> = before.keys().chain(after.keys()).collect();
    for key in keys {
        let (b, a) = (before.get(key), after.get(key));
        if b != a {
            out.push(format!("{what} {key:?}: {b:?} -> {a:?}"));
        }
    }
}

/// Client options of the matrix: the sandbox's CA trusted and loopback allowed, short retry budgets and
/// backoff, limits of its own, a generous request timeout (a hang guard); a small body cap where the fault
/// needs it.
fn client_options(sandbox: &Sandbox, fault: Fault) -> ClientOptions {
    let mut options = sandbox.client_options();
    options.connect_timeout = Duration::from_secs(5);
    options.request_timeout = Duration::from_secs(60);
    options.retry = RetryConfig {
        max_attempts: 3,
        budget: Duration::from_millis(1500),
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(40),
    };
    if fault == Fault::OversizedBody {
        options.max_body_bytes = BODY_CAP;
    }
    options.limit_registry = LimitRegistry::new();
    options.rate_limit = Some(None);
    options
}

/// The same MDM configuration with its hosts moved under `.invalid`, which never resolves.
fn unresolvable(config: &ProviderConfig) -> ProviderConfig {
    let host = format!("{}.mdm-fault.invalid", config.kind().id());
    let swap = |url: &mut Url| url.set_host(Some(&host)).expect("a valid host name");
    let mut config = config.clone();
    match &mut config {
        ProviderConfig::Jamf(c) => swap(&mut c.base_url),
        ProviderConfig::Iru(c) => swap(&mut c.base_url),
        ProviderConfig::SimpleMdm(c) => c.base_url.iter_mut().for_each(swap),
        ProviderConfig::Fleet(c) => swap(&mut c.base_url),
        ProviderConfig::JumpCloud(c) => c.base_url.iter_mut().for_each(swap),
        ProviderConfig::Intune(c) => c
            .graph_url
            .iter_mut()
            .chain(c.login_url.iter_mut())
            .for_each(swap),
        other => panic!("no host to move for {:?}", other.kind()),
    }
    config
}

/// The real providers, built for hosts that do not resolve: an engine whose network has lost the MDM's
/// name.
fn unresolving_factory(options: ClientOptions) -> Arc<dyn ProviderFactory> {
    Arc::new(
        move |c: &ProviderConfig| -> mdmkit::Result<Arc<dyn MdmProvider>> {
            mdmkit::build_provider(unresolvable(c), &options)
        },
    )
}

fn engine(factory: Arc<dyn ProviderFactory>, stores: &Stores, clock: &Arc<ManualClock>) -> MdmSync {
    MdmSync::new(
        factory,
        Vault::new("k1", &VAULT_KEY).unwrap(),
        stores.clone(),
        clock.clone(),
    )
    .with_config(sync_config())
}

fn seen<T>(result: &mdmkit_sync::Result<T>) -> Seen {
    match result {
        Ok(_) => Seen::Completed,
        Err(e) => e.category().map_or(Seen::Uncategorised, Seen::Failed),
    }
}

fn seen_refresh(result: &mdmkit_sync::Result<mdmkit_sync::RefreshReport>) -> Seen {
    match result {
        Ok(report) if report.is_complete() => Seen::Completed,
        Ok(report) => report
            .last_error
            .as_ref()
            .map_or(Seen::Uncategorised, |e| Seen::Failed(e.category)),
        Err(e) => e.category().map_or(Seen::Uncategorised, Seen::Failed),
    }
}

/// The engine's settings: the defaults, with lookups one at a time so that which devices the MDM answered
/// before a fault is the same on every run (the table must not depend on scheduling).
fn sync_config() -> SyncConfig {
    let mut config = SyncConfig::default();
    config.lookup_concurrency = 1;
    config
}

/// Devices of the MDM the workspace holds (plus one the MDM does not know). For token expiry, more than
/// the pages of a two-page listing, so that every provider whose listing costs its pages refreshes by
/// listing (Intune's next-link pages are assumed 100 rows for that choice).
fn inventory_size(fault: Fault) -> usize {
    match fault {
        Fault::TokenExpiryMidListing => 12,
        _ => FLEET_DEVICES,
    }
}

/// How many devices the MDM holds in the case: one more than a page where the case needs a listing of two
/// pages.
async fn fleet_size(kind: ProviderKind, fault: Fault) -> usize {
    if fault != Fault::TokenExpiryMidListing {
        return inventory_size(fault);
    }
    let probe = Sandbox::start(SandboxConfig {
        devices: 1,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    probe.max_page_size(kind) + 1
}

async fn run_case(kind: ProviderKind, fault: Fault) -> CaseResult {
    let mut problems = Vec::new();
    let sandbox = Sandbox::start(SandboxConfig {
        devices: fleet_size(kind, fault).await,
        seed: 9,
        tls: true,
        ..SandboxConfig::default()
    })
    .await
    .expect("the sandbox starts");
    let clock = Arc::new(ManualClock::new(start_time()));
    let stores = Stores::memory();
    let options = client_options(&sandbox, fault);
    let sync = Arc::new(engine(factory(options.clone()), &stores, &clock));
    let ws = WorkspaceId::new(format!("{}-{fault:?}", kind.id()));
    sync.set_plan(&ws, Plan::Pro).await.unwrap();
    let mut inventory: Vec<String> = serials_of(&sandbox)
        .into_iter()
        .take(inventory_size(fault))
        .collect();
    inventory.push(UNKNOWN_SERIAL.to_owned());
    for s in &inventory {
        sync.add_device(&ws, &serial(s)).await.unwrap();
    }
    let config = sandbox.config(kind, Access::Full);

    // 1. Good state.
    let report = sync
        .connect(&ws, config.clone())
        .await
        .expect("setup connects");
    match (&report.refresh, &report.group_sync) {
        (RefreshOutcome::Ran(refresh), GroupSyncOutcome::Completed(_)) if refresh.is_complete() => {
        }
        other => panic!("{kind:?}/{fault:?}: setup did not complete: {other:?}"),
    }
    check_good_state(&sandbox, kind, &sync, &ws, &inventory).await;
    let before = Snapshot::read(&sync, &ws).await;

    // 2. The fault, a day later.
    let fault_at = clock.advance(TimeDelta::hours(25));
    sandbox.set_faults(kind, fault.sandbox_faults());
    // Where the fault is on the client's side, a second engine over the same store meets it: one whose
    // network has lost the MDM's name, or one that waits only briefly (the setup and the next run keep
    // the generous timeout, so a loaded machine cannot fail them).
    let faulty = match fault {
        Fault::DnsFailure => Arc::new(engine(
            unresolving_factory(options.clone()),
            &stores,
            &clock,
        )),
        Fault::Timeout => {
            let impatient = ClientOptions {
                request_timeout: SHORT_TIMEOUT,
                ..options.clone()
            };
            Arc::new(engine(factory(impatient), &stores, &clock))
        }
        _ => sync.clone(),
    };
    let expected = match fault.expected(kind) {
        Some(category) => Seen::Failed(category),
        None => Seen::Completed,
    };
    let tokens_before = sandbox.tokens_issued(kind);
    let refresh = faulty.refresh_due(&ws).await;
    if fault == Fault::TokenExpiryMidListing {
        // The revocation came after requests that succeeded, and a renewable token was renewed.
        if let Ok(r) = &refresh {
            if r.requests < 2 {
                problems.push(format!("no request before the revocation: {r:?}"));
            }
        }
        if expected == Seen::Completed && sandbox.tokens_issued(kind) <= tokens_before {
            problems.push("the refresh renewed no token".to_owned());
        }
    }
    let tokens_before = sandbox.tokens_issued(kind);
    if fault == Fault::TokenExpiryMidListing && expected == Seen::Completed {
        // The renewed token expires after the group sync's first request too, in its listing. (Static
        // credentials stay revoked.)
        sandbox.set_faults(kind, fault.sandbox_faults());
    }
    let group_sync = faulty.sync_groups_now(&ws).await;
    if fault == Fault::TokenExpiryMidListing
        && expected == Seen::Completed
        && sandbox.tokens_issued(kind) <= tokens_before
    {
        problems.push("the group sync renewed no token".to_owned());
    }
    let connect = if fault.tries_connect() {
        clock.advance(TimeDelta::minutes(1));
        Some(faulty.connect(&ws, config.clone()).await)
    } else {
        None
    };
    let seen_refresh = seen_refresh(&refresh);
    let seen_group_sync = seen(&group_sync);
    let seen_connect = connect.as_ref().map(seen);
    for (step, got) in [
        ("refresh", Some(seen_refresh)),
        ("group sync", Some(seen_group_sync)),
        ("connect", seen_connect),
    ] {
        if let Some(got) = got {
            if got != expected {
                problems.push(format!("{step}: expected {expected:?}, got {got:?}"));
            }
        }
    }
    if let Ok(r) = &refresh {
        if expected != Seen::Completed && r.is_complete() {
            problems.push(format!("the refresh completed under the fault: {r:?}"));
        }
    }
    let during = Snapshot::read(&sync, &ws).await;
    let stored = if expected == Seen::Completed {
        problems.extend(
            during
                .completed_run_differences(&before, fault_at)
                .into_iter()
                .map(|d| format!("after the completed run: {d}")),
        );
        Stored::Refreshed
    } else {
        problems.extend(
            before
                .without_check_times()
                .differences(&during.without_check_times())
                .into_iter()
                .map(|d| format!("changed under the fault: {d}")),
        );
        let mut moved = false;
        for (b, d) in before.devices.iter().zip(&during.devices) {
            if b.checked_at != d.checked_at {
                moved = true;
                if d.checked_at != Some(fault_at) {
                    problems.push(format!(
                        "{}: check time {:?}",
                        d.serial_number, d.checked_at
                    ));
                }
            }
        }
        if moved {
            Stored::StillAnswered
        } else {
            Stored::Untouched
        }
    };

    // 3. The fault clears: the next run completes with the same data.
    sandbox.set_faults(kind, Faults::default());
    let recovered_at = clock.advance(TimeDelta::hours(1));
    match sync.refresh_due(&ws).await {
        Ok(r) if r.is_complete() && r.still_due() == 0 => {}
        other => problems.push(format!("the next refresh did not complete: {other:?}")),
    }
    if let Err(e) = sync.sync_groups_now(&ws).await {
        problems.push(format!("the next group sync failed: {e}"));
    }
    let after = Snapshot::read(&sync, &ws).await;
    problems.extend(
        after
            .completed_run_differences(&before, recovered_at)
            .into_iter()
            .map(|d| format!("after the next run: {d}")),
    );
    CaseResult {
        kind,
        fault,
        refresh: seen_refresh,
        group_sync: seen_group_sync,
        connect: seen_connect,
        stored,
        problems,
    }
}

/// The good state the cases start from is what a correct connector stores (so "unchanged" means "still
/// right").
async fn check_good_state(
    sandbox: &Sandbox,
    kind: ProviderKind,
    sync: &MdmSync,
    ws: &WorkspaceId,
    inventory: &[String],
) {
    let expected: BTreeMap<SerialNumber, String> = sandbox
        .expected_devices(kind)
        .into_iter()
        .map(|d| (serial(&d.serial_number), d.device_id))
        .collect();
    for device in sync.devices(ws).await.unwrap() {
        let id = device.metadata.as_ref().map(|m| m.device_id.clone());
        assert_eq!(
            id.as_ref(),
            expected.get(&device.serial_number),
            "{kind:?}: {device:?}"
        );
        assert!(device.checked_at.is_some());
    }
    let in_inventory: BTreeSet<SerialNumber> = inventory.iter().map(|s| serial(s)).collect();
    let groups = expected_groups(sandbox, kind, &in_inventory);
    let synced = synced_groups(sync, ws).await;
    assert_eq!(synced, groups, "{kind:?}: synced groups");
    assert!(
        synced.values().any(|m| !m.is_empty()),
        "{kind:?}: some group has members, so losing them would show"
    );
}

// ----- the README table -----

fn category_text(seen: Seen) -> &'static str {
    match seen {
        Seen::Completed => "none: the run completes",
        Seen::Failed(c) => c.name(),
        Seen::Uncategorised => "no category (a bug)",
    }
}

fn stored_text(stored: Stored) -> &'static str {
    match stored {
        Stored::Untouched => "everything, record for record",
        Stored::StillAnswered => {
            "everything, but a device the MDM still answered for (a lookup, or a listing page read before the fault) has a new check time, same metadata"
        }
        Stored::Refreshed => "everything, devices checked again: same metadata and groups",
    }
}

fn connect_text(connect: Option<Seen>) -> &'static str {
    match connect {
        None => "not tried",
        Some(Seen::Completed) => "saved",
        Some(_) => "refused, nothing saved",
    }
}

/// `value` if every provider shares it, else each value with the providers that gave it.
fn per_provider<T: Ord + Copy>(
    results: &[&CaseResult],
    value: impl Fn(&CaseResult) -> T,
    text: impl Fn(T) -> &'static str,
) -> String {
    let mut groups: BTreeMap<T, Vec<&str>> = BTreeMap::new();
    for r in results {
        groups
            .entry(value(r))
            .or_default()
            .push(r.kind.display_name());
    }
    if groups.len() == 1 {
        return groups.into_keys().map(text).collect();
    }
    groups
        .into_iter()
        .map(|(v, kinds)| format!("{} ({})", text(v), kinds.join(", ")))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The outcome table: one row per fault, per-provider differences spelled out.
fn render_table(results: &[CaseResult]) -> String {
    let mut out = String::from(
        "| What the MDM does | Category users see (refresh, group sync, connect) | Kept in storage | Connect during the fault | Next run after it clears |\n\
         |---|---|---|---|---|\n",
    );
    for fault in Fault::ALL {
        let row: Vec<&CaseResult> = results.iter().filter(|r| r.fault == fault).collect();
        let next = if row.iter().all(|r| r.problems.is_empty()) {
            "completes; same data as before the fault"
        } else {
            "FAILS"
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            fault.description(),
            per_provider(&row, |r| r.refresh, category_text),
            per_provider(&row, |r| r.stored, stored_text),
            per_provider(&row, |r| r.connect, connect_text),
            next,
        ));
    }
    out
}

fn readme_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md")
}

/// Where the README's table sits: between its markers.
fn readme_table_span(readme: &str) -> Result<std::ops::Range<usize>, String> {
    let start = readme
        .find(README_BEGIN)
        .ok_or_else(|| format!("the README has no {README_BEGIN} marker"))?
        + README_BEGIN.len();
    let end = readme[start..]
        .find(README_END)
        .ok_or_else(|| format!("the README has no {README_END} marker"))?
        + start;
    Ok(start..end)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_matrix_six_providers_by_fourteen_faults() {
    let started = Instant::now();
    let slots = Arc::new(tokio::sync::Semaphore::new(CONCURRENCY));
    let mut tasks = Vec::new();
    for kind in ProviderKind::ALL {
        for fault in Fault::ALL {
            let slots = slots.clone();
            tasks.push((
                kind,
                fault,
                tokio::spawn(async move {
                    let _slot = slots.acquire_owned().await.unwrap();
                    let started = Instant::now();
                    let result = tokio::time::timeout(CASE_HANG_GUARD, run_case(kind, fault)).await;
                    (result, started.elapsed())
                }),
            ));
        }
    }
    let mut results = Vec::new();
    let mut timings = Vec::new();
    for (kind, fault, task) in tasks {
        let failed = |problem: String| CaseResult {
            kind,
            fault,
            refresh: Seen::Uncategorised,
            group_sync: Seen::Uncategorised,
            connect: None,
            stored: Stored::Untouched,
            problems: vec![problem],
        };
        match task.await {
            Ok((Ok(result), took)) => {
                timings.push((took, kind, fault));
                results.push(result);
            }
            Ok((Err(_), _)) => results.push(failed(format!("hung past {CASE_HANG_GUARD:?}"))),
            Err(e) => results.push(failed(format!("panicked: {e}"))),
        }
    }
    let elapsed = started.elapsed();
    timings.sort();
    eprintln!(
        "fault matrix: {} cases in {elapsed:.1?} ({CONCURRENCY} at a time); slowest: {:?}",
        results.len(),
        timings.iter().rev().take(5).collect::<Vec<_>>()
    );
    assert_eq!(results.len(), 84);

    let problems: Vec<String> = results
        .iter()
        .flat_map(|r| {
            r.problems
                .iter()
                .map(move |p| format!("{:?} × {:?}: {p}", r.kind, r.fault))
        })
        .collect();
    for r in &results {
        eprintln!(
            "{:<10} {:<22} refresh {:?}, group sync {:?}, connect {:?}, {:?}",
            r.kind.id(),
            format!("{:?}", r.fault),
            r.refresh,
            r.group_sync,
            r.connect,
            r.stored
        );
    }
    assert!(
        problems.is_empty(),
        "{} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );

    let table = render_table(&results);
    let path = readme_path();
    let readme = std::fs::read_to_string(&path).expect("the README");
    let span = readme_table_span(&readme).unwrap_or_else(|e| panic!("{e}"));
    if std::env::var_os("MDMKIT_BLESS_README").is_some() {
        let mut blessed = readme.clone();
        blessed.replace_range(span, &format!("\n{table}"));
        std::fs::write(&path, blessed).unwrap();
        return;
    }
    assert_eq!(
        readme[span].trim_matches('\n'),
        table.trim_end(),
        "the README's fault table differs from what the matrix observed; run with MDMKIT_BLESS_README=1 \
         to rewrite it, and read the diff"
    );
}
