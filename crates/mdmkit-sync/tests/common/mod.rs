//! Shared test setup. Everything provider-facing goes through [`FakeMdm`]'s small surface:
//!
//! `account`, `config`, `config_with_token`, `add_device`, `remove_device`, `set_groups`, `fail`,
//! `fail_serial`, `requests`, `set_page_size`, `factory`.
//!
//! To run the same tests against the sandbox MDM, re-implement those methods over the sandbox (accounts
//! become sandbox tenants, `fail*` become its fault injection) and keep the tests as they are. The
//! concurrency helpers (`peak_in_flight`, `block_calls`, `on_call`, `hang`, `panic_on`) are for scheduler
//! tests only.
#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeDelta, Utc};
use mdmkit_core::{
    async_trait, parse_base_url, ErrorKind, ExposeSecret, FleetConfig, IntuneConfig, IruConfig,
    JamfConfig, JumpCloudConfig, MdmDevice, MdmGroup, MdmProvider, Page, PageInfo, PageRequest,
    PagingStyle, ProviderConfig, ProviderKind, SerialNumber, SimpleMdmConfig, Url,
};
use mdmkit_sync::{
    Clock, Lease, LeaseOutcome, ManualClock, MdmSync, MemoryStore, Plan, ProviderFactory, Stores,
    SyncConfig, Vault, WorkspaceId,
};
use tokio::sync::Semaphore;

/// Which provider call a fault applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Validate,
    Lookup,
    ListPage,
    Groups,
}

#[derive(Debug)]
struct Fault {
    op: Op,
    serial: Option<SerialNumber>,
    kind: ErrorKind,
    remaining: Option<u32>,
    succeed_first: u32,
}

#[derive(Debug)]
struct Account {
    kind: ProviderKind,
    token: String,
    devices: Vec<MdmDevice>,
    groups: Vec<MdmGroup>,
    page_size: u32,
    requests: u64,
    faults: Vec<Fault>,
    /// Every call of the account waits for ever (a drip-feeding or dead server).
    hang: bool,
    /// Calls of this kind panic.
    panic_on: Option<Op>,
}

type Hook = Box<dyn Fn(Op) + Send + Sync>;

/// A scripted multi-account MDM. Each account is one tenant of one provider kind, reached through its
/// host (`https://<name>.mdm.test`, or the tenant id for Intune) with the token `token-<name>`.
#[derive(Default)]
pub struct FakeMdm {
    accounts: Mutex<HashMap<String, Account>>,
    in_flight: Mutex<HashMap<ProviderKind, (usize, usize)>>,
    gate: Mutex<Option<Arc<Semaphore>>>,
    waiting: AtomicUsize,
    hook: Mutex<Option<Hook>>,
}

impl std::fmt::Debug for FakeMdm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeMdm").finish_non_exhaustive()
    }
}

pub fn serial(s: &str) -> SerialNumber {
    SerialNumber::parse(s).unwrap()
}

fn host(name: &str) -> String {
    format!("https://{name}.mdm.test")
}

impl FakeMdm {
    pub fn new() -> Arc<FakeMdm> {
        Arc::new(FakeMdm::default())
    }

    /// Creates an empty account (100-row pages).
    pub fn account(&self, name: &str, kind: ProviderKind) {
        self.accounts.lock().unwrap().insert(
            name.to_owned(),
            Account {
                kind,
                token: format!("token-{name}"),
                devices: Vec::new(),
                groups: Vec::new(),
                page_size: 100,
                requests: 0,
                faults: Vec::new(),
                hang: false,
                panic_on: None,
            },
        );
    }

    /// A configuration with the account's valid credentials.
    pub fn config(&self, name: &str) -> ProviderConfig {
        self.config_with_token(name, &format!("token-{name}"))
    }

    /// A configuration for the account with any token (a wrong one gets Unauthorized).
    pub fn config_with_token(&self, name: &str, token: &str) -> ProviderConfig {
        let kind = self.accounts.lock().unwrap()[name].kind;
        config_for(kind, name, token)
    }

    pub fn add_device(
        &self,
        name: &str,
        serial_number: &str,
        device_id: &str,
        device_name: &str,
        user: Option<(&str, &str)>,
    ) {
        let device = MdmDevice::new(
            device_id,
            SerialNumber::parse_opt(Some(serial_number)),
            Some(device_name.to_owned()),
            user.map(|(id, _)| id.to_owned()),
            user.map(|(_, n)| n.to_owned()),
        );
        self.with(name, |a| a.devices.push(device));
    }

    /// Adds a device at the front of the account's listing: rows already listed shift by one, as when a
    /// device is added to an MDM while it is being listed by offset.
    pub fn prepend_device(&self, name: &str, serial_number: &str, device_id: &str) {
        let device = MdmDevice::new(
            device_id,
            SerialNumber::parse_opt(Some(serial_number)),
            Some("New Mac".to_owned()),
            None,
            None,
        );
        self.with(name, |a| a.devices.insert(0, device));
    }

    /// Every call of the account from now on hangs (counted in `waiting`) until `unhang`.
    pub fn hang(&self, name: &str) {
        self.with(name, |a| a.hang = true);
    }

    pub fn unhang(&self, name: &str) {
        self.with(name, |a| a.hang = false);
    }

    /// Calls of kind `op` of the account panic from now on (`None`: no more panics).
    pub fn panic_on(&self, name: &str, op: Option<Op>) {
        self.with(name, |a| a.panic_on = op);
    }

    pub fn remove_device(&self, name: &str, device_id: &str) {
        self.with(name, |a| a.devices.retain(|d| d.device_id != device_id));
    }

    /// Replaces the account's groups: (id, name, member device ids).
    pub fn set_groups(&self, name: &str, groups: &[(&str, &str, &[&str])]) {
        let groups = groups
            .iter()
            .map(|(id, n, members)| MdmGroup::new(*id, *n, members.iter().map(|m| m.to_string())))
            .collect();
        self.with(name, |a| a.groups = groups);
    }

    /// Makes `op` fail with `kind`, `times` times (`None`: until cleared).
    pub fn fail(&self, name: &str, op: Op, kind: ErrorKind, times: Option<u32>) {
        self.with(name, |a| {
            a.faults.push(Fault {
                op,
                serial: None,
                kind,
                remaining: times,
                succeed_first: 0,
            })
        });
    }

    /// Lets `op` succeed `ok_first` times, then fail with `kind` until cleared (a listing that breaks
    /// part-way, say).
    pub fn fail_after(&self, name: &str, op: Op, kind: ErrorKind, ok_first: u32) {
        self.with(name, |a| {
            a.faults.push(Fault {
                op,
                serial: None,
                kind,
                remaining: None,
                succeed_first: ok_first,
            })
        });
    }

    /// Makes the lookup of one serial fail.
    pub fn fail_serial(
        &self,
        name: &str,
        serial_number: &str,
        kind: ErrorKind,
        times: Option<u32>,
    ) {
        self.with(name, |a| {
            a.faults.push(Fault {
                op: Op::Lookup,
                serial: Some(serial(serial_number)),
                kind,
                remaining: times,
                succeed_first: 0,
            })
        });
    }

    /// Rotates the account's token: old configurations get Unauthorized from now on.
    pub fn set_token(&self, name: &str, token: &str) {
        self.with(name, |a| a.token = token.to_owned());
    }

    /// Deletes an account: its host stops answering (a network error).
    pub fn remove_account_for_test(&self, name: &str) {
        self.accounts.lock().unwrap().remove(name);
    }

    pub fn clear_faults(&self, name: &str) {
        self.with(name, |a| a.faults.clear());
    }

    /// Requests the account has received.
    pub fn requests(&self, name: &str) -> u64 {
        self.accounts.lock().unwrap()[name].requests
    }

    pub fn set_page_size(&self, name: &str, rows: u32) {
        self.with(name, |a| a.page_size = rows);
    }

    /// The most calls of one provider kind that were in flight at once.
    pub fn peak_in_flight(&self, kind: ProviderKind) -> usize {
        self.in_flight
            .lock()
            .unwrap()
            .get(&kind)
            .map_or(0, |(_, peak)| *peak)
    }

    /// Forgets the peaks measured so far.
    pub fn reset_peaks(&self) {
        for (_, peak) in self.in_flight.lock().unwrap().values_mut() {
            *peak = 0;
        }
    }

    /// From now on every call waits for a permit of the returned semaphore.
    pub fn block_calls(&self) -> Arc<Semaphore> {
        let gate = Arc::new(Semaphore::new(0));
        *self.gate.lock().unwrap() = Some(gate.clone());
        gate
    }

    /// Calls currently waiting at the gate.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }

    /// Runs `hook` at the start of every call (to move a clock mid-run, say).
    pub fn on_call(&self, hook: impl Fn(Op) + Send + Sync + 'static) {
        *self.hook.lock().unwrap() = Some(Box::new(hook));
    }

    pub fn factory(self: &Arc<Self>) -> Arc<dyn ProviderFactory> {
        let mdm = self.clone();
        Arc::new(
            move |config: &ProviderConfig| -> mdmkit_core::Result<Arc<dyn MdmProvider>> {
                let (account, token) = account_of(config);
                Ok(Arc::new(FakeProvider {
                    mdm: mdm.clone(),
                    kind: config.kind(),
                    account,
                    token,
                    config: config.clone(),
                }))
            },
        )
    }

    fn with(&self, name: &str, f: impl FnOnce(&mut Account)) {
        f(self
            .accounts
            .lock()
            .unwrap()
            .get_mut(name)
            .expect("account"));
    }
}

fn config_for(kind: ProviderKind, name: &str, token: &str) -> ProviderConfig {
    let base = || parse_base_url(&host(name), &[]).unwrap();
    match kind {
        ProviderKind::Jamf => {
            ProviderConfig::Jamf(JamfConfig::new(&host(name), "client", token).unwrap())
        }
        ProviderKind::Iru => {
            ProviderConfig::Iru(IruConfig::with_base_url(&host(name), token).unwrap())
        }
        ProviderKind::SimpleMdm => {
            let mut c = SimpleMdmConfig::new(token).unwrap();
            c.base_url = Some(base());
            ProviderConfig::SimpleMdm(c)
        }
        ProviderKind::Fleet => ProviderConfig::Fleet(FleetConfig::new(&host(name), token).unwrap()),
        ProviderKind::JumpCloud => {
            let mut c = JumpCloudConfig::new(token).unwrap();
            c.base_url = Some(base());
            ProviderConfig::JumpCloud(c)
        }
        ProviderKind::Intune => {
            let mut c = IntuneConfig::new(name, "app", token).unwrap();
            c.graph_url = Some(base());
            c.login_url = Some(base());
            ProviderConfig::Intune(c)
        }
        other => panic!("no fake for {other}"),
    }
}

fn account_of(config: &ProviderConfig) -> (String, String) {
    let from_url = |u: &Url| {
        u.host_str()
            .unwrap()
            .trim_end_matches(".mdm.test")
            .to_owned()
    };
    match config {
        ProviderConfig::Jamf(c) => (
            from_url(&c.base_url),
            c.client_secret.expose_secret().to_owned(),
        ),
        ProviderConfig::Iru(c) => (
            from_url(&c.base_url),
            c.api_token.expose_secret().to_owned(),
        ),
        ProviderConfig::SimpleMdm(c) => (
            from_url(&c.api_base()),
            c.api_key.expose_secret().to_owned(),
        ),
        ProviderConfig::Fleet(c) => (
            from_url(&c.base_url),
            c.api_token.expose_secret().to_owned(),
        ),
        ProviderConfig::JumpCloud(c) => (
            from_url(&c.api_base()),
            c.api_token.expose_secret().to_owned(),
        ),
        ProviderConfig::Intune(c) => (
            c.tenant_id.clone(),
            c.client_secret.expose_secret().to_owned(),
        ),
        _ => panic!("unknown config"),
    }
}

/// The provider the fake factory builds: every call is one request.
#[derive(Debug)]
struct FakeProvider {
    mdm: Arc<FakeMdm>,
    kind: ProviderKind,
    account: String,
    token: String,
    config: ProviderConfig,
}

struct InFlight<'a>(&'a FakeMdm, ProviderKind);

/// Counts a hanging call until it returns or is dropped (a run stopped at its deadline drops it).
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.lock().unwrap().get_mut(&self.1).unwrap().0 -= 1;
    }
}

impl FakeProvider {
    fn err(&self, kind: ErrorKind, op: &'static str, msg: &str) -> mdmkit_core::Error {
        mdmkit_core::Error::new(kind, msg.to_owned())
            .with_provider(self.kind)
            .with_operation(op)
    }

    /// Counts the request, applies faults and authentication, and overlaps with other calls.
    async fn call(
        &self,
        op: Op,
        serial: Option<&SerialNumber>,
    ) -> mdmkit_core::Result<InFlight<'_>> {
        if let Some(hook) = &*self.mdm.hook.lock().unwrap() {
            hook(op);
        }
        let guard = {
            let mut map = self.mdm.in_flight.lock().unwrap();
            let entry = map.entry(self.kind).or_insert((0, 0));
            entry.0 += 1;
            entry.1 = entry.1.max(entry.0);
            InFlight(&self.mdm, self.kind)
        };
        let gate = self.mdm.gate.lock().unwrap().clone();
        if let Some(gate) = gate {
            self.mdm.waiting.fetch_add(1, Ordering::SeqCst);
            gate.acquire().await.unwrap().forget();
            self.mdm.waiting.fetch_sub(1, Ordering::SeqCst);
        }
        let hangs = || {
            self.mdm
                .accounts
                .lock()
                .unwrap()
                .get(&self.account)
                .is_some_and(|a| a.hang)
        };
        if hangs() {
            self.mdm.waiting.fetch_add(1, Ordering::SeqCst);
            let _waiting = Waiting(&self.mdm.waiting);
            while hangs() {
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
        }
        let panics = self
            .mdm
            .accounts
            .lock()
            .unwrap()
            .get(&self.account)
            .is_some_and(|a| a.panic_on == Some(op));
        if panics {
            panic!("injected panic in {op:?}");
        }
        // Let other futures run so concurrent calls really overlap.
        for _ in 0..3 {
            tokio::task::yield_now().await;
        }
        let name = match op {
            Op::Validate => "validate",
            Op::Lookup => "device_by_serial",
            Op::ListPage => "list_devices",
            Op::Groups => "groups",
        };
        let mut accounts = self.mdm.accounts.lock().unwrap();
        let Some(account) = accounts.get_mut(&self.account) else {
            return Err(self.err(ErrorKind::ConnectionFailed, name, "dns error: no such host"));
        };
        account.requests += 1;
        if let Some(fault) = account.faults.iter_mut().find(|f| {
            f.op == op
                && f.remaining != Some(0)
                && (f.serial.is_none() || f.serial.as_ref() == serial)
        }) {
            if fault.succeed_first > 0 {
                fault.succeed_first -= 1;
            } else {
                if let Some(n) = &mut fault.remaining {
                    *n -= 1;
                }
                return Err(self.err(fault.kind, name, &format!("injected {}", fault.kind)));
            }
        }
        if account.token != self.token {
            return Err(self.err(ErrorKind::Unauthorized, name, "HTTP 401: invalid token"));
        }
        Ok(guard)
    }

    fn account<R>(&self, f: impl FnOnce(&Account) -> R) -> R {
        f(&self.mdm.accounts.lock().unwrap()[&self.account])
    }
}

#[async_trait]
impl MdmProvider for FakeProvider {
    fn kind(&self) -> ProviderKind {
        self.kind
    }

    async fn validate(&self) -> mdmkit_core::Result<()> {
        self.call(Op::Validate, None).await.map(drop)
    }

    async fn devices_by_serial(
        &self,
        serial: &SerialNumber,
    ) -> mdmkit_core::Result<Vec<MdmDevice>> {
        let _in_flight = self.call(Op::Lookup, Some(serial)).await?;
        Ok(self.account(|a| {
            a.devices
                .iter()
                .filter(|d| d.serial_number.as_ref() == Some(serial))
                .cloned()
                .collect()
        }))
    }

    fn device_paging(&self) -> PagingStyle {
        PagingStyle::Offset {
            limit: self.account(|a| a.page_size),
        }
    }

    async fn list_devices_page(
        &self,
        request: &PageRequest,
    ) -> mdmkit_core::Result<Page<MdmDevice>> {
        let _in_flight = self.call(Op::ListPage, None).await?;
        let PageRequest::Offset { offset, limit } = request else {
            return Err(self.err(
                ErrorKind::InvalidConfiguration,
                "list_devices",
                "offset paging only",
            ));
        };
        Ok(self.account(|a| {
            let rows: Vec<MdmDevice> = a
                .devices
                .iter()
                .skip(*offset as usize)
                .take(*limit as usize)
                .cloned()
                .collect();
            Page::new(
                rows,
                PageInfo {
                    total: Some(a.devices.len() as u64),
                    ..PageInfo::default()
                },
            )
        }))
    }

    async fn groups(&self) -> mdmkit_core::Result<Vec<MdmGroup>> {
        let _in_flight = self.call(Op::Groups, None).await?;
        Ok(self.account(|a| a.groups.clone()))
    }

    fn device_url(&self, device_id: &str) -> Option<Url> {
        self.config.device_url(device_id)
    }

    fn request_count(&self) -> u64 {
        self.mdm
            .accounts
            .lock()
            .unwrap()
            .get(&self.account)
            .map_or(0, |a| a.requests)
    }

    fn request_costs(&self) -> mdmkit_core::RequestCosts {
        mdmkit_core::RequestCosts::PAGES_CARRY_EVERYTHING
    }
}

/// An engine over the fake MDM, an in-memory store and a manual clock.
pub struct Harness {
    pub clock: Arc<ManualClock>,
    pub mdm: Arc<FakeMdm>,
    pub sync: Arc<MdmSync>,
    pub stores: Stores,
}

pub fn start() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-01-05T09:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

pub const VAULT_KEY: [u8; 32] = [0x5A; 32];

impl Harness {
    pub fn new() -> Harness {
        Harness::with_config(SyncConfig::default())
    }

    pub fn with_config(config: SyncConfig) -> Harness {
        // The store judges leases by its own clock: here the same manual clock as the engine's.
        Harness::with_stores(config, |clock| {
            Stores::from_one(Arc::new(MemoryStore::with_clock(clock)))
        })
    }

    /// An engine over the stores `stores` builds on the harness's manual clock.
    pub fn with_stores(
        config: SyncConfig,
        stores: impl FnOnce(Arc<ManualClock>) -> Stores,
    ) -> Harness {
        let clock = Arc::new(ManualClock::new(start()));
        let mdm = FakeMdm::new();
        let stores = stores(clock.clone());
        let sync = MdmSync::new(
            mdm.factory(),
            Vault::new("k1", &VAULT_KEY).unwrap(),
            stores.clone(),
            clock.clone(),
        )
        .with_config(config);
        Harness {
            clock,
            mdm,
            sync: Arc::new(sync),
            stores,
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub fn advance(&self, by: TimeDelta) -> DateTime<Utc> {
        self.clock.advance(by)
    }

    /// Takes the workspace's lease as another worker would, for `ttl` of the store's (manual) clock.
    pub async fn hold_lease(&self, ws: &WorkspaceId, owner: &str, ttl: TimeDelta) -> Lease {
        match self
            .stores
            .state
            .try_acquire_lease(ws, owner, ttl.to_std().unwrap())
            .await
            .unwrap()
        {
            LeaseOutcome::Acquired(lease) => lease,
            other => panic!("lease busy: {other:?}"),
        }
    }

    /// A workspace on `plan` whose inventory holds `serials`.
    pub async fn workspace(&self, id: &str, plan: Plan, serials: &[&str]) -> WorkspaceId {
        let ws = WorkspaceId::new(id);
        self.sync.set_plan(&ws, plan).await.unwrap();
        for s in serials {
            self.sync.add_device(&ws, &serial(s)).await.unwrap();
        }
        ws
    }

    /// Display name stored for a device.
    pub async fn display_name(&self, ws: &WorkspaceId, s: &str) -> Option<String> {
        self.sync
            .device(ws, &serial(s))
            .await
            .unwrap()
            .unwrap()
            .display_name
            .as_deref()
            .map(str::to_owned)
    }

    /// MDM device id stored for a device.
    pub async fn device_id(&self, ws: &WorkspaceId, s: &str) -> Option<String> {
        self.sync
            .device(ws, &serial(s))
            .await
            .unwrap()
            .unwrap()
            .metadata
            .map(|m| m.device_id)
    }
}
