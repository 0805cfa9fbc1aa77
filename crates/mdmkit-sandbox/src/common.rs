//! State shared by the simulated providers, and small helpers their handlers use.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use mdmkit_core::{ProviderConfig, ProviderKind};
use url::Url;

use crate::faults::{FaultPlan, Faults};
use crate::model::{Fleet, SimDevice, SimGroup, SimUser};
use crate::{Access, ExpectedDevice, ExpectedGroup};

/// Everything the servers share.
pub(crate) struct Shared {
    pub(crate) fleet: RwLock<Fleet>,
    pub(crate) token_lifetime: Mutex<Duration>,
    pub(crate) providers: BTreeMap<ProviderKind, ProviderState>,
    /// See [`crate::SandboxConfig::secret_suffix`].
    pub(crate) secret_suffix: String,
    /// Vendor behaviours a test can switch.
    pub(crate) switches: Switches,
}

/// Vendor behaviours a test can switch (see the `Sandbox` methods that set them).
#[derive(Default)]
pub(crate) struct Switches {
    /// Fleet runs without a Premium licence: no SCIM endpoints.
    pub(crate) fleet_free: AtomicBool,
    /// Graph ignores `$filter` on managed devices and returns every device.
    pub(crate) graph_ignores_filter: AtomicBool,
    /// Group delta states Graph still accepts, by token.
    pub(crate) group_delta_states: Mutex<HashMap<String, crate::intune::DeltaState>>,
}

impl Shared {
    pub(crate) fn provider(&self, kind: ProviderKind) -> &ProviderState {
        &self.providers[&kind]
    }
}

/// One token issued by a simulated token endpoint.
#[derive(Debug, Clone)]
pub(crate) struct Grant {
    /// The client (or app) the token was issued to.
    pub(crate) client: String,
    pub(crate) expires: Instant,
}

/// What a presented bearer token turned out to be.
#[derive(Debug, Clone)]
pub(crate) enum TokenCheck {
    Valid(Grant),
    Expired,
    Unknown,
}

/// How a provider's server listens, from its faults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Listening {
    /// Closed: connecting is refused.
    pub(crate) refuse: bool,
    /// The untrusted certificate is presented (TLS mode).
    pub(crate) untrusted_tls: bool,
}

/// A server's listening address, and the socket bound again after refused connections.
#[derive(Debug, Default)]
struct Socket {
    addr: Option<SocketAddr>,
    reopened: Option<std::net::TcpListener>,
}

/// Per-provider counters, faults and issued tokens.
pub(crate) struct ProviderState {
    requests: AtomicU64,
    /// Requests in progress, and the most at once since the counts were last reset.
    in_flight: AtomicU64,
    peak_in_flight: AtomicU64,
    pub(crate) faults: Mutex<FaultPlan>,
    /// Bumped whenever the faults are replaced: the server and held requests watch it.
    changes: tokio::sync::watch::Sender<u64>,
    /// Where the server listens, and a socket bound again by `set_faults` for it to take.
    socket: Mutex<Socket>,
    tokens: Mutex<HashMap<String, Grant>>,
    issued: AtomicU64,
}

impl ProviderState {
    pub(crate) fn new(faults: Faults) -> Self {
        ProviderState {
            requests: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            peak_in_flight: AtomicU64::new(0),
            faults: Mutex::new(FaultPlan::new(faults)),
            changes: tokio::sync::watch::Sender::new(0),
            socket: Mutex::new(Socket::default()),
            tokens: Mutex::new(HashMap::new()),
            issued: AtomicU64::new(0),
        }
    }
    /// Counts a request, which is in progress until the returned guard drops.
    pub(crate) fn count_request(&self) -> InFlight<'_> {
        self.requests.fetch_add(1, Ordering::SeqCst);
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight(self)
    }
    pub(crate) fn peak_in_flight(&self) -> u64 {
        self.peak_in_flight.load(Ordering::SeqCst)
    }
    pub(crate) fn request_count(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }
    pub(crate) fn tokens_issued(&self) -> u64 {
        self.issued.load(Ordering::SeqCst)
    }
    pub(crate) fn reset_count(&self) {
        self.requests.store(0, Ordering::SeqCst);
        self.peak_in_flight
            .store(self.in_flight.load(Ordering::SeqCst), Ordering::SeqCst);
    }
    pub(crate) fn set_faults(&self, faults: Faults) {
        let reopen = !faults.refuse_connections;
        let was_refusing =
            std::mem::replace(&mut *self.faults.lock().unwrap(), FaultPlan::new(faults))
                .faults
                .refuse_connections;
        if !reopen {
            // A socket bound again and not yet taken by the server closes now.
            self.socket.lock().unwrap().reopened = None;
        } else if was_refusing {
            self.listen_again();
        }
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
    }
    /// Binds the server's address again before `set_faults` returns, so a client connecting right after
    /// is not refused while the server task wakes up. (If the old socket is still open, the server keeps
    /// it.)
    fn listen_again(&self) {
        let mut socket = self.socket.lock().unwrap();
        let Some(addr) = socket.addr else {
            return;
        };
        if let Ok(listener) = std::net::TcpListener::bind(addr) {
            if listener.set_nonblocking(true).is_ok() {
                socket.reopened = Some(listener);
            }
        }
    }
    /// Records where the server listens.
    pub(crate) fn set_addr(&self, addr: SocketAddr) {
        self.socket.lock().unwrap().addr = Some(addr);
    }
    /// The socket `set_faults` bound again, if any.
    pub(crate) fn take_reopened(&self) -> Option<std::net::TcpListener> {
        self.socket.lock().unwrap().reopened.take()
    }
    /// Tells when the faults are replaced.
    pub(crate) fn fault_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes.subscribe()
    }
    /// How the server should listen now.
    pub(crate) fn listening(&self) -> Listening {
        let plan = self.faults.lock().unwrap();
        Listening {
            refuse: plan.faults.refuse_connections,
            untrusted_tls: plan.faults.untrusted_tls,
        }
    }
    /// Returns once the faults no longer say `hang`.
    pub(crate) async fn hold_while_hanging(&self) {
        let mut changes = self.fault_changes();
        while self.faults.lock().unwrap().faults.hang {
            if changes.changed().await.is_err() {
                return;
            }
        }
    }
    pub(crate) fn expire_tokens(&self) {
        let mut tokens = self.tokens.lock().unwrap();
        let past = Instant::now() - Duration::from_millis(1);
        for grant in tokens.values_mut() {
            grant.expires = past;
        }
    }
}

/// A request in progress (see [`ProviderState::count_request`]).
pub(crate) struct InFlight<'a>(&'a ProviderState);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The state handed to every handler: the shared world plus which provider is answering.
#[derive(Clone)]
pub(crate) struct Ctx {
    pub(crate) shared: Arc<Shared>,
    pub(crate) kind: ProviderKind,
}

impl Ctx {
    pub(crate) fn provider(&self) -> &ProviderState {
        self.shared.provider(self.kind)
    }

    pub(crate) fn sim(&self) -> &'static dyn ProviderSim {
        sim(self.kind)
    }

    pub(crate) fn fleet(&self) -> RwLockReadGuard<'_, Fleet> {
        self.shared.fleet.read().unwrap()
    }

    /// Issues a token to `client` with the configured lifetime; returns it and its lifetime in seconds.
    pub(crate) fn issue_token(&self, client: &str) -> (String, u64) {
        let lifetime = *self.shared.token_lifetime.lock().unwrap();
        let n = self.provider().issued.fetch_add(1, Ordering::SeqCst);
        let token = format!(
            "sbx-{}-{}-{}",
            self.kind.id(),
            n,
            crate::model::ids::uuid(200, n as u32)
        );
        self.provider().tokens.lock().unwrap().insert(
            token.clone(),
            Grant {
                client: client.to_owned(),
                expires: Instant::now() + lifetime,
            },
        );
        (token, lifetime.as_secs())
    }

    /// What the request's bearer token is, of those this provider issued; `None` when it presents none
    /// (no `Authorization: Bearer`, or an empty token).
    pub(crate) fn bearer_grant(&self, headers: &HeaderMap) -> Option<TokenCheck> {
        bearer(headers)
            .filter(|t| !t.is_empty())
            .map(|t| self.check_token(t))
    }

    /// Checks a presented bearer token.
    pub(crate) fn check_token(&self, token: &str) -> TokenCheck {
        match self.provider().tokens.lock().unwrap().get(token) {
            Some(grant) if grant.expires > Instant::now() => TokenCheck::Valid(grant.clone()),
            Some(_) => TokenCheck::Expired,
            None => TokenCheck::Unknown,
        }
    }
}

/// A request as a handler that is a plain function of it reads it: the state, the headers, the path and
/// the raw query. Route closures take it in place of four extractors.
pub(crate) struct Call {
    pub(crate) ctx: Ctx,
    pub(crate) headers: HeaderMap,
    pub(crate) path: String,
    raw: Option<String>,
}

impl FromRequestParts<Ctx> for Call {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, ctx: &Ctx) -> Result<Self, Self::Rejection> {
        Ok(Call {
            ctx: ctx.clone(),
            headers: parts.headers.clone(),
            path: parts.uri.path().to_owned(),
            raw: parts.uri.query().map(str::to_owned),
        })
    }
}

impl Call {
    /// The raw query, if the request has one.
    pub(crate) fn raw(&self) -> Option<&str> {
        self.raw.as_deref()
    }
}

/// What each simulated provider implements.
pub(crate) trait ProviderSim: Send + Sync {
    /// The routes, relative to the provider's base URL.
    fn router(&self) -> Router<Ctx>;
    /// A configuration pointing at `base` with credentials of the given access.
    fn config(&self, base: &Url, access: Access) -> ProviderConfig;
    /// What a correct connector reports for one device.
    fn expected_device(&self, fleet: &Fleet, device: &SimDevice) -> ExpectedDevice;
    /// What a correct connector reports for the groups.
    fn expected_groups(&self, fleet: &Fleet) -> Vec<ExpectedGroup>;
    /// The vendor's error response for a status and message.
    fn error(&self, status: StatusCode, message: &str) -> Response;
    /// The largest page the device listing serves.
    fn max_page_size(&self) -> usize;
    /// Whether `path` is the provider's OAuth token endpoint (Jamf, Entra): API faults spare it.
    fn is_token_endpoint(&self, _path: &str) -> bool {
        false
    }
    /// Whether the API takes bearer tokens the sandbox issued (Jamf, Intune) rather than static
    /// credentials: what revoking credentials means.
    fn issues_tokens(&self) -> bool {
        false
    }
    /// Pages of a user directory a correct bulk listing reads because its device pages only point at
    /// users (Jamf's users, Fleet's SCIM users, JumpCloud's system users). Zero for most providers.
    fn listing_directory_requests(&self, _fleet: &Fleet) -> usize {
        0
    }
    /// Reads a correct bulk listing makes per device (or per user) where the vendor documents no bulk way
    /// to learn who is bound to a device (JumpCloud's system-to-user graph). Zero for most providers.
    fn listing_binding_requests(&self, _fleet: &Fleet) -> usize {
        0
    }
}

/// What a correct connector reports for a device of a provider whose lookups and listings both carry the
/// assigned user: R4's display name is the user's full name, else the device's name, the same either way.
/// `device_id` and `user_id` give the provider's own identifiers.
pub(crate) fn device_named_by_user(
    fleet: &Fleet,
    device: &SimDevice,
    device_id: impl FnOnce(u32) -> String,
    user_id: impl FnOnce(&SimUser) -> String,
) -> ExpectedDevice {
    let user = fleet.user_of(device);
    let display_name = user.map_or_else(|| device.name.clone(), |u| u.full_name.clone());
    ExpectedDevice {
        index: device.index,
        serial_number: device.serial.clone(),
        device_id: device_id(device.index),
        user_id: user.map(user_id),
        list_display_name: display_name.clone(),
        display_name,
    }
}

/// The simulator of a provider.
pub(crate) fn sim(kind: ProviderKind) -> &'static dyn ProviderSim {
    match kind {
        ProviderKind::Jamf => &crate::jamf::JamfSim,
        ProviderKind::Iru => &crate::iru::IruSim,
        ProviderKind::SimpleMdm => &crate::simplemdm::SimpleMdmSim,
        ProviderKind::Fleet => &crate::fleet_api::FleetSim,
        ProviderKind::JumpCloud => &crate::jumpcloud::JumpCloudSim,
        ProviderKind::Intune => &crate::intune::IntuneSim,
        _ => unreachable!("every provider has a simulator"),
    }
}

/// The bearer token of a request, if it carries one.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// The user name and password of an HTTP Basic `Authorization` header.
pub(crate) fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    use base64::Engine as _;
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// A header's value as text.
pub(crate) fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Query pairs in order, repeated keys kept (Jamf repeats `section`).
pub(crate) fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The first value of a query key.
pub(crate) fn query_get<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// A JSON response.
pub(crate) fn json(status: StatusCode, value: serde_json::Value) -> Response {
    json_of(status, &value)
}

/// A JSON response serialised straight from `value` (no intermediate `Value` tree).
pub(crate) fn json_of(status: StatusCode, value: &impl serde::Serialize) -> Response {
    (status, axum::Json(value)).into_response()
}

/// A slice of `items` from `offset`, at most `limit` long.
pub(crate) fn window<T>(items: &[T], offset: usize, limit: usize) -> &[T] {
    let start = offset.min(items.len());
    let end = start.saturating_add(limit).min(items.len());
    &items[start..end]
}

/// The member devices of a group that still exist in the fleet.
pub(crate) fn member_devices<'f>(
    fleet: &'f Fleet,
    group: &'f SimGroup,
) -> impl Iterator<Item = &'f SimDevice> + 'f {
    group.members.iter().filter_map(|i| fleet.devices.get(i))
}

/// What a correct connector reports for the groups, the same for every provider: each fleet group under
/// the provider's `group_id`, with the `device_id`s of its members that exist, sorted as they are compared.
pub(crate) fn expected_groups<G: ToString, D: ToString>(
    fleet: &Fleet,
    group_id: impl Fn(u32) -> G,
    device_id: impl Fn(u32) -> D,
) -> Vec<ExpectedGroup> {
    fleet
        .groups
        .values()
        .map(|g| {
            let mut members: Vec<String> = member_devices(fleet, g)
                .map(|d| device_id(d.index).to_string())
                .collect();
            members.sort();
            ExpectedGroup {
                id: group_id(g.index).to_string(),
                name: g.name.clone(),
                members,
            }
        })
        .collect()
}

/// The `offset..offset+limit` window of `items` in `cmp` order, without sorting everything: what a
/// simulator serves for one page of a large, sorted listing.
pub(crate) fn sorted_window<T>(
    mut items: Vec<T>,
    offset: usize,
    limit: usize,
    cmp: impl Fn(&T, &T) -> std::cmp::Ordering,
) -> Vec<T> {
    if offset >= items.len() || limit == 0 {
        return Vec::new();
    }
    if offset > 0 {
        items.select_nth_unstable_by(offset, &cmp);
        items.drain(..offset);
    }
    if limit < items.len() {
        items.select_nth_unstable_by(limit, &cmp);
        items.truncate(limit);
    }
    items.sort_unstable_by(&cmp);
    items
}

/// Numbers `0..n` sorted by their id `id_of(namespace, i)` as text, cached process-wide (a few fleet sizes
/// at a time), so a page sorted by id costs the page, not the fleet. Fixed-width lower-case hex ids (UUIDs,
/// object ids) sort as text the way their values sort as numbers.
pub(crate) fn indexes_sorted_by_id(
    namespace: u8,
    n: u32,
    id_of: fn(u8, u32) -> String,
) -> Arc<Vec<u32>> {
    type Cache = Vec<(u8, u32, Arc<Vec<u32>>)>;
    static CACHE: Mutex<Cache> = Mutex::new(Vec::new());
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, _, sorted)) = cache
        .iter()
        .find(|(ns, len, _)| *ns == namespace && *len == n)
    {
        return sorted.clone();
    }
    let mut keyed: Vec<(String, u32)> = (0..n).map(|i| (id_of(namespace, i), i)).collect();
    keyed.sort_unstable();
    let sorted = Arc::new(keyed.into_iter().map(|(_, i)| i).collect::<Vec<_>>());
    if cache.len() >= 8 {
        cache.remove(0);
    }
    cache.push((namespace, n, sorted.clone()));
    sorted
}

/// Text made safe inside HTML or XML: `&`, `<`, `>` and `"` become entities, and `'` becomes
/// `apostrophe` (`&#39;` in the web console's pages, `&apos;` in Jamf's XML). Borrowed when nothing needs
/// escaping.
pub(crate) fn escape_markup<'a>(text: &'a str, apostrophe: &str) -> std::borrow::Cow<'a, str> {
    if !text.contains(['&', '<', '>', '"', '\'']) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str(apostrophe),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}
