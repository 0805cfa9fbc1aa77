//! The lookup caches against the sandbox MDM, counted in requests the sandbox received: a daily refresh
//! of Fleet and JumpCloud costs its listing pages plus reads of only what it has not seen lately.

mod sandbox_support;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::TimeDelta;
use futures::StreamExt;
use mdmkit::paging::DEFAULT_MAX_PAGES;
use mdmkit::{
    device_stream_with, ChangeListing, ChangeTracking, ChangesPage, ChangesRequest, DeviceUser,
    MdmDevice, MdmGroup, MdmProvider, MdmProviderExt, Page, PageRequest, PagingStyle,
    ProviderConfig, ProviderKind, RequestCosts, Resolution, ResolvedUserName, SerialNumber,
    Unresolved, Url, UserRef,
};
use mdmkit_sandbox::SandboxConfig;
use mdmkit_sync::{
    LookupCacheConfig, LookupKind, MdmSync, Plan, ProviderFactory, RefreshReport, Strategy,
    SyncConfig, Vault, WorkspaceId,
};
use sandbox_support::{connect_refreshed, serial, Env, VAULT_KEY};

/// What the engine asked the provider to resolve, per call.
#[derive(Debug, Default)]
struct Asked {
    users: Mutex<Vec<String>>,
    devices: Mutex<Vec<String>>,
    /// Resolution calls fail (as a server error) while set.
    failing: std::sync::atomic::AtomicBool,
}

impl Asked {
    fn take_users(&self) -> BTreeSet<String> {
        std::mem::take(&mut *self.users.lock().unwrap())
            .into_iter()
            .collect()
    }
    fn take_devices(&self) -> BTreeSet<String> {
        std::mem::take(&mut *self.devices.lock().unwrap())
            .into_iter()
            .collect()
    }
}

/// A real provider that records the ids it is asked to resolve.
#[derive(Debug)]
struct Recording {
    inner: Arc<dyn MdmProvider>,
    asked: Arc<Asked>,
}

#[mdmkit::async_trait]
impl MdmProvider for Recording {
    fn kind(&self) -> ProviderKind {
        self.inner.kind()
    }
    async fn validate(&self) -> mdmkit::Result<()> {
        self.inner.validate().await
    }
    async fn devices_by_serial(&self, s: &SerialNumber) -> mdmkit::Result<Vec<MdmDevice>> {
        self.inner.devices_by_serial(s).await
    }
    fn device_paging(&self) -> PagingStyle {
        self.inner.device_paging()
    }
    async fn list_devices_page(&self, r: &PageRequest) -> mdmkit::Result<Page<MdmDevice>> {
        self.inner.list_devices_page(r).await
    }
    async fn groups(&self) -> mdmkit::Result<Vec<MdmGroup>> {
        self.inner.groups().await
    }
    fn device_url(&self, id: &str) -> Option<Url> {
        self.inner.device_url(id)
    }
    fn request_count(&self) -> u64 {
        self.inner.request_count()
    }
    fn request_costs(&self) -> RequestCosts {
        self.inner.request_costs()
    }
    fn change_tracking(&self) -> ChangeTracking {
        self.inner.change_tracking()
    }
    fn defers_user_reads(&self) -> bool {
        self.inner.defers_user_reads()
    }
    async fn list_changed_devices_page(
        &self,
        request: &ChangesRequest,
    ) -> mdmkit::Result<ChangesPage> {
        self.inner.list_changed_devices_page(request).await
    }
    async fn list_devices_page_with(
        &self,
        r: &PageRequest,
        resolution: Resolution,
    ) -> mdmkit::Result<Page<MdmDevice>> {
        self.inner.list_devices_page_with(r, resolution).await
    }
    async fn resolve_user_names(&self, users: &[UserRef]) -> mdmkit::Result<Vec<ResolvedUserName>> {
        self.asked
            .users
            .lock()
            .unwrap()
            .extend(users.iter().map(|u| u.user_id.clone()));
        self.inner.resolve_user_names(users).await
    }
    async fn resolve_device_users(&self, ids: &[String]) -> mdmkit::Result<Vec<DeviceUser>> {
        self.asked
            .devices
            .lock()
            .unwrap()
            .extend(ids.iter().cloned());
        if self.asked.failing.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(mdmkit::Error::new(
                mdmkit::ErrorKind::Server,
                "HTTP 503 Service Unavailable",
            ));
        }
        self.inner.resolve_device_users(ids).await
    }
}

/// An engine over `env`'s store and clock whose providers record what they are asked to resolve.
fn recording_engine(env: &Env, cache: LookupCacheConfig) -> (MdmSync, Arc<Asked>) {
    let asked = Arc::new(Asked::default());
    let options = env.sandbox.client_options();
    let log = asked.clone();
    let factory: Arc<dyn ProviderFactory> = Arc::new(
        move |c: &ProviderConfig| -> mdmkit::Result<Arc<dyn MdmProvider>> {
            Ok(Arc::new(Recording {
                inner: mdmkit::build_provider(c.clone(), &options)?,
                asked: log.clone(),
            }))
        },
    );
    let mut config = SyncConfig::default();
    config.lookup_cache = cache;
    let sync = MdmSync::new(
        factory,
        Vault::new("k1", &VAULT_KEY).unwrap(),
        env.stores.clone(),
        env.clock.clone(),
    )
    .with_config(config);
    (sync, asked)
}

fn days(n: u64) -> Duration {
    Duration::from_secs(n * 86_400)
}

/// One day later, a refresh; its report and the requests the sandbox received for it.
async fn next_refresh(
    env: &Env,
    sync: &MdmSync,
    ws: &WorkspaceId,
    kind: ProviderKind,
    after: TimeDelta,
) -> (RefreshReport, u64) {
    env.advance(after);
    let before = env.requests(kind);
    let report = sync.refresh_due(ws).await.unwrap();
    assert!(report.is_complete(), "{report:?}");
    (report, env.requests(kind) - before)
}

/// What a provider's own full listing (every follow-up read made) says about each serial: user id and
/// display name.
async fn full_listing(
    env: &Env,
    kind: ProviderKind,
) -> BTreeMap<SerialNumber, (Option<String>, Option<String>)> {
    let provider = mdmkit::build_provider(env.config(kind), &env.sandbox.client_options()).unwrap();
    let mut devices = provider.all_devices().await.unwrap();
    let refs: Vec<UserRef> = devices
        .iter()
        .filter(|d| d.unresolved == Some(Unresolved::UserName))
        .filter_map(|d| Some(UserRef::new(d.user_id.clone()?, d.device_id.clone())))
        .collect();
    let names: HashMap<String, Option<String>> = provider
        .resolve_user_names(&refs)
        .await
        .unwrap()
        .into_iter()
        .map(|n| (n.user_id, n.name))
        .collect();
    for d in &mut devices {
        if d.unresolved == Some(Unresolved::UserName) {
            let name = d
                .user_id
                .as_ref()
                .and_then(|u| names.get(u).cloned().flatten());
            d.resolve_user_name(name);
        }
        assert_eq!(d.unresolved, None, "{d:?}");
    }
    devices
        .into_iter()
        .filter_map(|d| Some((d.serial_number.clone()?, (d.user_id, d.display_name))))
        .collect()
}

async fn stored(
    env: &Env,
    sync: &MdmSync,
    ws: &WorkspaceId,
) -> BTreeMap<SerialNumber, (Option<String>, Option<String>)> {
    let mut out = BTreeMap::new();
    for s in env.fleet_serials() {
        let s = serial(&s);
        let view = sync.device(ws, &s).await.unwrap().unwrap();
        let m = view.metadata.expect("metadata stored");
        out.insert(s, (m.user_id, m.display_name));
    }
    out
}

/// Fleet without SCIM access (Fleet Free, an observer's token): host lists carry IdP e-mails but no
/// names, and the e-mail may not be the id a lookup shows. The first refresh (a listing, which finds
/// SCIM refused and reads each host with a user once) remembers who is bound to each host; later
/// refreshes, full or of changes, read a host's record only when its entry is missing or a week old, and
/// store the user ids and names a lookup shows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_users_come_from_the_cache_and_are_read_again_after_a_week() {
    const FLEET: ProviderKind = ProviderKind::Fleet;
    let env = Env::start_with(SandboxConfig {
        devices: 150,
        ..SandboxConfig::default()
    })
    .await;
    env.sandbox.set_fleet_premium(false);
    let (sync, asked) = recording_engine(&env, LookupCacheConfig::default());
    let ws = env.fleet_workspace("fleet-names", Plan::Free).await;
    let first = connect_refreshed(&sync, &ws, env.config(FLEET)).await;
    assert!(first.is_complete(), "{first:?}");
    assert_eq!(first.strategy, Some(Strategy::Bulk), "{first:?}");
    let day0 = env.now();
    // What lookups show: the stored state every later refresh must keep.
    let expected = env.expected(FLEET);
    let by_lookup: BTreeMap<SerialNumber, (Option<String>, Option<String>)> = expected
        .iter()
        .map(|(s, d)| (s.clone(), (d.user_id.clone(), Some(d.display_name.clone()))))
        .collect();
    assert_eq!(stored(&env, &sync, &ws).await, by_lookup);
    // Each host's user is remembered by host.
    let with_user: BTreeSet<String> = expected
        .values()
        .filter(|d| d.user_id.is_some())
        .map(|d| d.device_id.clone())
        .collect();
    assert_eq!(asked.take_devices(), with_user, "each read once");
    let cached = env
        .stores
        .lookups
        .count_lookups(&ws, LookupKind::DeviceUser, day0)
        .await
        .unwrap();
    assert_eq!(cached, with_user.len() as u64);

    let pages = 2; // 150 hosts at 100 a page
    let probe = 1; // the SCIM read a full listing tries once (Fleet Free: 404)
                   // Day 1: a listing of changes (every host changed in the sandbox) reads no SCIM page and no host.
    let (day1, requests) = next_refresh(&env, &sync, &ws, FLEET, TimeDelta::days(1)).await;
    assert_eq!(day1.strategy, Some(Strategy::Changes), "{day1:?}");
    assert_eq!(asked.take_devices(), BTreeSet::new());
    assert_eq!(asked.take_users(), BTreeSet::new());
    assert_eq!(day1.lookups.reads, 0, "{day1:?}");
    assert_eq!(requests, pages, "no host record read: {day1:?}");
    assert_eq!(stored(&env, &sync, &ws).await, by_lookup);

    // Day 2: a full listing; the same.
    let (day2, requests) = next_refresh(&env, &sync, &ws, FLEET, TimeDelta::days(1)).await;
    assert_eq!(day2.strategy, Some(Strategy::Bulk), "{day2:?}");
    assert_eq!(asked.take_devices(), BTreeSet::new());
    assert_eq!(requests, pages + probe, "no host record read: {day2:?}");
    assert!(day2.lookups.hits > 0, "{day2:?}");
    assert_eq!(stored(&env, &sync, &ws).await, by_lookup);

    // A name changed in the IdP shows once its entry is a week old, not before.
    let fleet = env.sandbox.fleet();
    let (user, device) = fleet
        .devices
        .values()
        .find_map(|d| {
            // A provisioned user with a name (cached on day 0).
            let u = d.user?;
            (u % 11 != 5 && u % 13 != 7).then_some((u, d.index))
        })
        .unwrap();
    env.sandbox
        .mutate(|f| f.users.get_mut(&user).unwrap().full_name = "Renamed Person".into());
    let renamed_serial = env.serial_of(device);
    let (_, requests) = next_refresh(&env, &sync, &ws, FLEET, TimeDelta::days(4)).await;
    assert_eq!(requests, pages + probe, "six days old: still used");
    assert_eq!(asked.take_devices(), BTreeSet::new());
    assert_ne!(
        env.view(&ws, &renamed_serial).await.display_name.as_deref(),
        Some("Renamed Person")
    );
    let (day7, requests) = next_refresh(&env, &sync, &ws, FLEET, TimeDelta::days(1)).await;
    assert_eq!(day7.strategy, Some(Strategy::Changes), "{day7:?}");
    let reread = asked.take_devices();
    assert!(
        reread.contains(&expected[&renamed_serial].device_id),
        "entries of day 0 are a week old"
    );
    assert!(reread.is_subset(&with_user), "{reread:?}");
    assert_eq!(requests, pages + reread.len() as u64, "{day7:?}");
    assert_eq!(
        env.view(&ws, &renamed_serial).await.display_name.as_deref(),
        Some("Renamed Person")
    );
}

/// JumpCloud: systems without a primary user need a graph read each. The cache remembers "nobody is
/// bound" for a week and a bound user for three days here, and refreshes in between read nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jumpcloud_bindings_are_rechecked_only_after_their_window() {
    const JC: ProviderKind = ProviderKind::JumpCloud;
    let env = Env::start_with(SandboxConfig {
        devices: 120,
        ..SandboxConfig::default()
    })
    .await;
    let mut cache = LookupCacheConfig::default();
    cache.unbound_max_age = days(7);
    cache.bound_max_age = days(3);
    let (sync, asked) = recording_engine(&env, cache);
    let ws = env.fleet_workspace("jc-bindings", Plan::Free).await;

    // Systems of the fleet by what the graph must say: nobody, or a user without `primarySystemUser`.
    let expected = env.expected(JC);
    let fleet = env.sandbox.fleet();
    let id_of = |index: u32| {
        expected[&serial(&fleet.devices[&index].serial)]
            .device_id
            .clone()
    };
    let unbound: BTreeSet<String> = fleet
        .devices
        .values()
        .filter(|d| d.user.is_none())
        .map(|d| id_of(d.index))
        .collect();
    let graph_bound: BTreeSet<String> = fleet
        .devices
        .values()
        .filter(|d| d.user.is_some() && d.index % 2 == 1)
        .map(|d| id_of(d.index))
        .collect();
    assert!(unbound.len() > 10 && graph_bound.len() > 10);
    let needing: BTreeSet<String> = unbound.union(&graph_bound).cloned().collect();
    assert_eq!(needing.len(), env.sandbox.listing_binding_requests(JC));

    // Day 0: every system that needs the graph is read once.
    let first = connect_refreshed(&sync, &ws, env.config(JC)).await;
    assert!(first.is_complete(), "{first:?}");
    assert_eq!(first.strategy, Some(Strategy::Bulk));
    assert_eq!(asked.take_devices(), needing);
    assert_eq!(
        stored(&env, &sync, &ws).await,
        inline_listing(&env, JC).await
    );

    // What a deferred listing alone costs (pages and the user directory).
    let provider = mdmkit::build_provider(env.config(JC), &env.sandbox.client_options()).unwrap();
    let before = env.requests(JC);
    let mut rows = device_stream_with(&*provider, DEFAULT_MAX_PAGES, Resolution::Deferred);
    while let Some(row) = rows.next().await {
        row.unwrap();
    }
    drop(rows);
    let listing = env.requests(JC) - before;

    // Day 1: everything cached, the refresh costs its listing: one of changes since the watermark (every
    // system changed in the sandbox), which reads names by id rather than the whole directory.
    let since = listing_since(&env, &ws, JC, env.now() + TimeDelta::days(1)).await;
    let (day1, requests) = next_refresh(&env, &sync, &ws, JC, TimeDelta::days(1)).await;
    assert_eq!(day1.strategy, Some(Strategy::Changes), "{day1:?}");
    assert_eq!(asked.take_devices(), BTreeSet::new());
    // Names too: the full listing of day 0 taught the cache every listed user's name.
    assert_eq!(asked.take_users(), BTreeSet::new());
    assert_eq!(day1.lookups.reads, 0, "{day1:?}");
    let changes = deferred_changes_cost(&env, JC, since).await;
    assert_eq!(requests, changes, "no graph read: {day1:?}");
    assert_eq!(changes, 2, "the two pages of changes alone, no user read");
    // Day 3: bound users are three days old and read again; "nobody" is not.
    let (day3, requests) = next_refresh(&env, &sync, &ws, JC, TimeDelta::days(2)).await;
    assert_eq!(asked.take_devices(), graph_bound);
    assert!(requests >= listing + graph_bound.len() as u64, "{day3:?}");
    // Day 6: the same again (read on day 3).
    next_refresh(&env, &sync, &ws, JC, TimeDelta::days(3)).await;
    assert_eq!(asked.take_devices(), graph_bound);
    // Day 7: "nobody is bound" is a week old and checked again; bound users (day 6) are not.
    let since = listing_since(&env, &ws, JC, env.now() + TimeDelta::days(1)).await;
    let (day7, requests) = next_refresh(&env, &sync, &ws, JC, TimeDelta::days(1)).await;
    // A listing of changes (the full one ran on day 6): its rows are resolved before they are stored,
    // so what is stored below equals an inline listing.
    assert_eq!(day7.strategy, Some(Strategy::Changes), "{day7:?}");
    assert_eq!(asked.take_devices(), unbound);
    // The user names of the changed systems come from the cache: the listing's pages and one graph
    // read per unbound system, nothing more.
    assert_eq!(asked.take_users(), BTreeSet::new());
    let changes = deferred_changes_cost(&env, JC, since).await;
    assert_eq!(requests, changes + unbound.len() as u64, "{day7:?}");
    assert_eq!(
        stored(&env, &sync, &ws).await,
        inline_listing(&env, JC).await
    );
}

/// Where a refresh at `at` lists changes from (it must: the test expects a listing of changes).
async fn listing_since(
    env: &Env,
    ws: &WorkspaceId,
    kind: ProviderKind,
    at: chrono::DateTime<chrono::Utc>,
) -> chrono::DateTime<chrono::Utc> {
    let marks = env.stores.marks.sync_marks(ws).await.unwrap();
    let state = env.stores.state.sync_state(ws).await.unwrap();
    let provider = mdmkit::build_provider(env.config(kind), &env.sandbox.client_options()).unwrap();
    mdmkit_sync::refresh::incremental_since(
        provider.change_tracking(),
        &marks,
        &state,
        at,
        SyncConfig::default().full_listing_interval,
    )
    .expect("a listing of changes is due")
}

/// Requests a listing of changes since `since` costs with every follow-up read deferred.
async fn deferred_changes_cost(
    env: &Env,
    kind: ProviderKind,
    since: chrono::DateTime<chrono::Utc>,
) -> u64 {
    let provider = mdmkit::build_provider(env.config(kind), &env.sandbox.client_options()).unwrap();
    let before = env.requests(kind);
    let mut listing = ChangeListing::new(since);
    while let Some(cursor) = listing.next_cursor().map(|c| c.cloned()) {
        let page = provider
            .list_changed_devices_page(&ChangesRequest {
                since,
                cursor,
                resolution: Resolution::Deferred,
            })
            .await
            .unwrap();
        listing.record(&page).unwrap();
    }
    env.requests(kind) - before
}

/// The provider's inline listing (every graph read made) by serial.
async fn inline_listing(
    env: &Env,
    kind: ProviderKind,
) -> BTreeMap<SerialNumber, (Option<String>, Option<String>)> {
    full_listing(env, kind).await
}

/// New credentials clear the caches with the metadata (R9); so does an on-demand clear.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_credentials_and_an_explicit_clear_empty_the_caches() {
    const JC: ProviderKind = ProviderKind::JumpCloud;
    let env = Env::start(40).await;
    let (sync, asked) = recording_engine(&env, LookupCacheConfig::default());
    let ws = env.fleet_workspace("jc-clear", Plan::Free).await;
    sync.connect(&ws, env.config(JC)).await.unwrap();
    let needing = asked.take_devices();
    assert!(!needing.is_empty());
    let cached_of = |sync: &MdmSync, kind| {
        let ws = ws.clone();
        let lookups = sync.stores().lookups.clone();
        async move {
            lookups
                .count_lookups(&ws, kind, chrono::DateTime::UNIX_EPOCH)
                .await
                .unwrap()
        }
    };
    let cached = |sync: &MdmSync| cached_of(sync, LookupKind::DeviceUser);
    // The graph's answers, and who the listing itself found bound (primary users).
    let bound: BTreeSet<String> = env
        .sandbox
        .expected_devices(JC)
        .into_iter()
        .filter(|d| d.user_id.is_some())
        .map(|d| d.device_id)
        .chain(needing.iter().cloned())
        .collect();
    assert_eq!(cached(&sync).await, bound.len() as u64);
    // The names the listing read from the directory, of the primary users (even-numbered systems
    // with a user; the others are bound through the graph).
    let names = cached_of(&sync, LookupKind::UserName).await;
    let users: BTreeSet<String> = env
        .sandbox
        .expected_devices(JC)
        .into_iter()
        .filter(|d| d.index % 2 == 0)
        .filter_map(|d| d.user_id)
        .collect();
    assert_eq!(names, users.len() as u64);

    assert_eq!(
        sync.clear_lookup_cache(&ws).await.unwrap(),
        bound.len() as u64 + names
    );
    assert_eq!(cached(&sync).await, 0);
    assert_eq!(cached_of(&sync, LookupKind::UserName).await, 0);
    next_refresh(&env, &sync, &ws, JC, TimeDelta::days(1)).await;
    assert_eq!(asked.take_devices(), needing, "read again after the clear");

    // Another MDM (Fleet): R9 clears metadata and caches in one transaction (its first refresh then
    // fills them with Fleet's own answers).
    let jumpcloud_keys: Vec<String> = bound.iter().cloned().collect();
    assert!(!env
        .stores
        .lookups
        .lookups(&ws, LookupKind::DeviceUser, &jumpcloud_keys)
        .await
        .unwrap()
        .is_empty());
    sync.connect(&ws, env.config(ProviderKind::Fleet))
        .await
        .unwrap();
    assert_eq!(
        env.stores
            .lookups
            .lookups(&ws, LookupKind::DeviceUser, &jumpcloud_keys)
            .await
            .unwrap(),
        Vec::new(),
        "no JumpCloud answer is left"
    );
}

/// A follow-up read that fails gives its devices no answer: they keep their metadata and check time and
/// stay due, the run reports the error, and the next run completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_follow_up_read_keeps_its_devices_due() {
    const JC: ProviderKind = ProviderKind::JumpCloud;
    let env = Env::start(40).await;
    let (sync, asked) = recording_engine(&env, LookupCacheConfig::default());
    let ws = env.fleet_workspace("jc-failing", Plan::Free).await;
    sync.connect(&ws, env.config(JC)).await.unwrap();
    let needing = asked.take_devices();
    let before = sync.devices(&ws).await.unwrap();
    sync.clear_lookup_cache(&ws).await.unwrap();

    asked
        .failing
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let day1 = env.advance(TimeDelta::days(1));
    let report = sync.refresh_due(&ws).await.unwrap();
    assert!(!report.is_complete() && report.errors >= 1, "{report:?}");
    // A listing of changes: devices whose read failed are not taken for unchanged either.
    assert_eq!(report.strategy, Some(Strategy::Changes), "{report:?}");
    assert_eq!(report.unchanged, 0, "{report:?}");
    assert_eq!(report.still_due(), needing.len(), "{report:?}");
    let expected = env.expected(JC);
    for (old, now) in before.iter().zip(sync.devices(&ws).await.unwrap()) {
        let id = &expected[&old.serial_number].device_id;
        if needing.contains(id) {
            assert_eq!(&now, old, "kept whole: {id}");
        } else {
            assert_eq!(now.checked_at, Some(day1), "{id}");
            assert_eq!(now.metadata, old.metadata, "{id}");
        }
    }

    asked
        .failing
        .store(false, std::sync::atomic::Ordering::SeqCst);
    env.advance(TimeDelta::hours(1));
    let report = sync.refresh_due(&ws).await.unwrap();
    assert!(report.is_complete(), "{report:?}");
    assert_eq!(
        report.due,
        needing.len(),
        "only the unanswered devices were due"
    );
    assert_eq!(asked.take_devices(), needing);
}

/// A listing of changes looks up devices it cannot vouch for (here one never checked): what such a lookup
/// says about the device's user is remembered like a listing's answer, so the next day that device
/// costs no read when it changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lookup_within_a_listing_of_changes_fills_the_cache() {
    const FLEET: ProviderKind = ProviderKind::Fleet;
    let env = Env::start(150).await;
    // Without SCIM, so that every listing leaves the hosts' users to the cache.
    env.sandbox.set_fleet_premium(false);
    env.clock.set(env.sandbox.fleet().now());
    let (sync, asked) = recording_engine(&env, LookupCacheConfig::default());
    let expected = env.expected(FLEET);
    // A host with an IdP user (the host list shows only their e-mail), added to the workspace on day 1.
    let late = (0..150u32)
        .find(|&i| expected[&env.serial_of(i)].user_id.is_some())
        .expect("a host with a user");
    let late_serial = env.serial_of(late);
    let late_id = expected[&late_serial].device_id.clone();
    let others: Vec<String> = env
        .fleet_serials()
        .into_iter()
        .filter(|s| serial(s) != late_serial)
        .collect();
    let ws = env.workspace("late", Plan::Free, &others).await;
    let first = sync.connect(&ws, env.config(FLEET)).await.unwrap();
    assert!(first.refresh.into_report().unwrap().is_complete());
    let entry = |at| {
        let lookups = env.stores.lookups.clone();
        let ws = ws.clone();
        let id = late_id.clone();
        async move {
            lookups
                .lookups(&ws, LookupKind::DeviceUser, &[id])
                .await
                .unwrap()
                .into_iter()
                .find(|e| e.fetched_at == at)
        }
    };
    assert_eq!(entry(env.now()).await, None, "not in the workspace yet");

    // Day 1: the new device is looked up within the listing of changes.
    sync.add_device(&ws, &late_serial).await.unwrap();
    let (day1, _) = next_refresh(&env, &sync, &ws, FLEET, TimeDelta::days(1)).await;
    assert_eq!(day1.strategy, Some(Strategy::Changes), "{day1:?}");
    let learned = entry(env.now())
        .await
        .expect("the lookup's answer is remembered");
    assert_eq!(learned.user_id, expected[&late_serial].user_id);
    asked.take_devices();

    // Day 2: a full listing, whose row of that host names no user; the cache does.
    let (day2, _) = next_refresh(&env, &sync, &ws, FLEET, TimeDelta::days(1)).await;
    assert_eq!(day2.strategy, Some(Strategy::Bulk), "{day2:?}");
    assert!(day2.lookups.hits > 0, "{day2:?}");
    assert_eq!(
        asked.take_devices(),
        BTreeSet::new(),
        "no read, of the host looked up on day 1 either: {day2:?}"
    );
    assert_eq!(
        env.view(&ws, &late_serial).await.display_name.as_deref(),
        Some(expected[&late_serial].display_name.as_str())
    );
}
