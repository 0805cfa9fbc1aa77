//! Shared setup for `tests/sandbox.rs`: the sync engine over the sandbox MDM, reached through the real
//! providers that the `mdmkit` facade builds, with an in-memory store and a manual clock.
#![allow(dead_code, unreachable_pub)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use chrono::{DateTime, TimeDelta, Utc};
use mdmkit::http::ClientOptions;
use mdmkit::{ProviderConfig, ProviderKind, SerialNumber};
use mdmkit_sandbox::{Access, ExpectedDevice, Sandbox, SandboxConfig};
use mdmkit_sync::{
    Clock, DeviceView, GroupRecord, ManualClock, MdmSync, MemoryStore, Plan, ProviderFactory,
    RefreshReport, Stores, Vault, WorkspaceId,
};

pub const VAULT_KEY: [u8; 32] = [0x5A; 32];

pub fn start_time() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-02T09:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

pub fn serial(s: &str) -> SerialNumber {
    SerialNumber::parse(s).unwrap()
}

/// The real providers, built by the `mdmkit` facade with `options`.
pub fn factory(options: ClientOptions) -> Arc<dyn ProviderFactory> {
    mdmkit::provider_factory(options)
}

/// Every distinct serial of a sandbox's fleet as served, in fleet order.
/// Connects `ws` through `sync` with `config` and returns the refresh the new connection ran at once.
pub async fn connect_refreshed(
    sync: &MdmSync,
    ws: &WorkspaceId,
    config: ProviderConfig,
) -> RefreshReport {
    let report = sync.connect(ws, config).await.unwrap();
    report
        .refresh
        .into_report()
        .expect("a new connection refreshes at once")
}

pub fn serials_of(sandbox: &Sandbox) -> Vec<String> {
    let mut seen = BTreeSet::new();
    sandbox
        .fleet()
        .devices
        .values()
        .filter(|d| seen.insert(serial(&d.serial)))
        .map(|d| d.serial.clone())
        .collect()
}

/// A sandbox's groups as a correct sync stores them: name -> member serials, keeping only members in
/// `inventory`.
pub fn expected_groups(
    sandbox: &Sandbox,
    kind: ProviderKind,
    inventory: &BTreeSet<SerialNumber>,
) -> BTreeMap<String, BTreeSet<SerialNumber>> {
    let by_id: BTreeMap<String, SerialNumber> = sandbox
        .expected_devices(kind)
        .into_iter()
        .map(|d| (d.device_id.clone(), serial(&d.serial_number)))
        .collect();
    sandbox
        .expected_groups(kind)
        .into_iter()
        .map(|g| {
            let members = g
                .members
                .iter()
                .filter_map(|id| by_id.get(id))
                .filter(|s| inventory.contains(*s))
                .cloned()
                .collect();
            (g.name, members)
        })
        .collect()
}

/// A workspace's synced groups: name -> members.
pub async fn synced_groups(
    sync: &MdmSync,
    ws: &WorkspaceId,
) -> BTreeMap<String, BTreeSet<SerialNumber>> {
    sync.groups(ws)
        .await
        .unwrap()
        .into_iter()
        .filter(|g| g.is_synced())
        .map(|g| (g.name, g.members))
        .collect()
}

/// A sandbox MDM and an engine wired to it.
pub struct Env {
    pub sandbox: Sandbox,
    pub clock: Arc<ManualClock>,
    pub sync: Arc<MdmSync>,
    pub stores: Stores,
}

impl Env {
    /// A sandbox seeded with `devices` devices, and an engine over it.
    pub async fn start(devices: usize) -> Env {
        Env::start_with(SandboxConfig {
            devices,
            ..SandboxConfig::default()
        })
        .await
    }

    pub async fn start_with(config: SandboxConfig) -> Env {
        let sandbox = Sandbox::start(config).await.expect("the sandbox starts");
        let clock = Arc::new(ManualClock::new(start_time()));
        let stores = Stores::from_one(Arc::new(MemoryStore::with_clock(clock.clone())));
        let sync = MdmSync::new(
            factory(sandbox.client_options()),
            Vault::new("k1", &VAULT_KEY).unwrap(),
            stores.clone(),
            clock.clone(),
        );
        Env {
            sandbox,
            clock,
            sync: Arc::new(sync),
            stores,
        }
    }

    /// Another engine over the same store and clock, with other client options or another vault.
    pub fn engine(&self, options: ClientOptions, vault: Vault) -> MdmSync {
        MdmSync::new(
            factory(options),
            vault,
            self.stores.clone(),
            self.clock.clone(),
        )
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub fn advance(&self, by: TimeDelta) -> DateTime<Utc> {
        self.clock.advance(by)
    }

    /// Connects `ws` to the sandbox's `kind` with valid credentials: the first refresh's report.
    pub async fn connect(&self, ws: &WorkspaceId, kind: ProviderKind) -> RefreshReport {
        connect_refreshed(&self.sync, ws, self.config(kind)).await
    }

    /// Valid credentials for the sandbox's `kind`.
    pub fn config(&self, kind: ProviderKind) -> ProviderConfig {
        self.sandbox.config(kind, Access::Full)
    }

    pub fn requests(&self, kind: ProviderKind) -> u64 {
        self.sandbox.request_count(kind)
    }

    /// Every distinct serial of the sandbox fleet as served, in fleet order.
    pub fn fleet_serials(&self) -> Vec<String> {
        serials_of(&self.sandbox)
    }

    /// The serial of fleet device `index`.
    pub fn serial_of(&self, index: u32) -> SerialNumber {
        serial(&self.sandbox.fleet().devices[&index].serial)
    }

    /// A workspace on `plan` whose inventory holds `serials`.
    pub async fn workspace(&self, id: &str, plan: Plan, serials: &[String]) -> WorkspaceId {
        let ws = WorkspaceId::new(id);
        self.sync.set_plan(&ws, plan).await.unwrap();
        for s in serials {
            assert!(self.sync.add_device(&ws, &serial(s)).await.unwrap(), "{s}");
        }
        ws
    }

    /// A workspace on `plan` holding every device of the sandbox fleet.
    pub async fn fleet_workspace(&self, id: &str, plan: Plan) -> WorkspaceId {
        let serials = self.fleet_serials();
        self.workspace(id, plan, &serials).await
    }

    /// What a correct connector reports for each device, by normalised serial.
    pub fn expected(&self, kind: ProviderKind) -> BTreeMap<SerialNumber, ExpectedDevice> {
        self.sandbox
            .expected_devices(kind)
            .into_iter()
            .map(|d| (serial(&d.serial_number), d))
            .collect()
    }

    /// The MDM's groups as a correct sync stores them: name -> member serials, keeping only members in
    /// `inventory`.
    pub fn expected_groups(
        &self,
        kind: ProviderKind,
        inventory: &BTreeSet<SerialNumber>,
    ) -> BTreeMap<String, BTreeSet<SerialNumber>> {
        expected_groups(&self.sandbox, kind, inventory)
    }

    pub async fn view(&self, ws: &WorkspaceId, s: &SerialNumber) -> DeviceView {
        self.sync
            .device(ws, s)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no device {s}"))
    }

    pub async fn group(&self, ws: &WorkspaceId, name: &str) -> GroupRecord {
        self.sync
            .groups(ws)
            .await
            .unwrap()
            .into_iter()
            .find(|g| g.name == name)
            .unwrap_or_else(|| panic!("no group named {name:?}"))
    }

    /// The workspace's synced groups: name -> members.
    pub async fn synced_groups(
        &self,
        ws: &WorkspaceId,
    ) -> BTreeMap<String, BTreeSet<SerialNumber>> {
        synced_groups(&self.sync, ws).await
    }
}

/// A `tracing` subscriber that writes every event and span field, at every level, into a string: to prove
/// what the logs never contain. [`LogCapture::install`] makes it the process-wide subscriber, once: a
/// thread-local default loses events when other tests in the binary install and drop their own at the same
/// time (the global level filter is recomputed as they come and go), so the capture also holds other
/// tests' logs, which must be free of secrets just the same.
#[derive(Clone, Default)]
pub struct LogCapture {
    text: Arc<Mutex<String>>,
    next_span: Arc<AtomicU64>,
}

impl LogCapture {
    pub fn install() -> LogCapture {
        static GLOBAL: OnceLock<LogCapture> = OnceLock::new();
        GLOBAL
            .get_or_init(|| {
                let capture = LogCapture::default();
                tracing::subscriber::set_global_default(capture.clone())
                    .expect("no other global subscriber in this test binary");
                capture
            })
            .clone()
    }

    pub fn text(&self) -> String {
        self.text.lock().unwrap().clone()
    }

    fn keep(metadata: &tracing::Metadata<'_>) -> bool {
        // The sandbox is the MDM's side of the wire, not ours: its own logs may well show what it received.
        !metadata.target().starts_with("mdmkit_sandbox")
    }
}

struct Fields<'a>(&'a mut String);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
        let _ = write!(self.0, " {}={:?}", field.name(), value);
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        let _ = write!(self.0, " {}={}", field.name(), value);
    }
}

impl tracing::Subscriber for LogCapture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        if LogCapture::keep(span.metadata()) {
            let mut text = self.text.lock().unwrap();
            let _ = write!(text, "\nspan {}", span.metadata().name());
            span.record(&mut Fields(&mut text));
        }
        tracing::span::Id::from_u64(self.next_span.fetch_add(1, Ordering::Relaxed) + 1)
    }

    fn record(&self, _: &tracing::span::Id, values: &tracing::span::Record<'_>) {
        let mut text = self.text.lock().unwrap();
        values.record(&mut Fields(&mut text));
    }

    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}

    fn event(&self, event: &tracing::Event<'_>) {
        if LogCapture::keep(event.metadata()) {
            let mut text = self.text.lock().unwrap();
            let _ = write!(
                text,
                "\n{} {}:",
                event.metadata().level(),
                event.metadata().target()
            );
            event.record(&mut Fields(&mut text));
        }
    }

    fn enter(&self, _: &tracing::span::Id) {}

    fn exit(&self, _: &tracing::span::Id) {}
}
