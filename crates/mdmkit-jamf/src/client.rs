//! Requests to a Jamf Pro server: the version probe, endpoint selection, inventory, users and groups.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex as StdMutex};

use futures::future::try_join_all;
use mdmkit_core::changes::rfc3339_millis;
use mdmkit_core::chrono::{DateTime, Utc};
use mdmkit_core::http::{
    plain_id_segment, ClientCredentials, ClientOptions, HttpClient, OAuthBearer, TokenCache,
};
use mdmkit_core::paging::{collect_all, for_each_row, for_each_row_from};
use mdmkit_core::{
    ChangeCursor, ChangesPage, Coverage, Error, ErrorKind, JamfConfig, MdmDevice, MdmGroup,
    NumberedPosition, Operation, Page, PageRequest, PagingStyle, ProviderKind, ProviderOperations,
    Result, SerialNumber, Url,
};

use crate::convert::{self, DirectoryBuilder, UserIds};
use crate::error::JamfErrorClassifier;
use crate::version::{may_have_users_api, InventoryApi, JamfProVersion, MemberSource};
use crate::wire::{
    ClassicGroupBody, Computer, ComputerGroup, SearchResults, SmartGroupMembership, User,
    VersionBody,
};

/// Rows asked for per page of the device listing: the largest page the Jamf Pro API serves (larger
/// requests are cut to this silently).
pub const PAGE_SIZE: u32 = 2000;
/// `/api/v1/users` declares (and enforces) a maximum of 1000.
const USERS_PAGE_SIZE: u32 = 1000;

/// How `/api/v1/users` is paged.
const USERS_PAGING: PagingStyle = PagingStyle::PageNumber {
    first: 0,
    size: USERS_PAGE_SIZE,
};
/// Serial lookups expect one row; duplicates are still read in full.
const LOOKUP_PAGE_SIZE: u32 = 100;
/// Usernames per `username=in=(…)` filter, keeping the URL short.
const USERS_PER_FILTER: usize = 50;
/// Distinct usernames on a page of changes that are looked up by filter (one request per 50); beyond
/// that the user directory (1000 a page) is read instead.
const LOOKUP_USERS_UP_TO: usize = 4 * USERS_PER_FILTER;
/// The operations every provider has, named alike ([`ProviderOperations`]), for its requests and
/// errors.
pub(crate) const OPS: ProviderOperations = ProviderOperations::of(ProviderKind::Jamf);

/// The inventory sections a device needs (id, name, serial, user).
const DEVICE_SECTIONS: &[&str] = &["GENERAL", "HARDWARE", "USER_AND_LOCATION"];

/// What has been learnt about the server. Kept for the provider's lifetime; a confirmed endpoint that
/// later answers 404 (the server was upgraded) is forgotten and chosen again.
#[derive(Debug, Default, Clone, Copy)]
struct State {
    /// `None` until probed; `Some(None)` when the server's version string could not be read.
    version: Option<Option<JamfProVersion>>,
    inventory: Option<InventoryApi>,
    smart_members: Option<MemberSource>,
    users_api: Option<bool>,
}

/// The user directory of the listing in progress.
#[derive(Debug)]
enum Directory {
    /// Read again when a page needs it (a new listing started at page 0).
    Stale,
    Loaded(UserIds),
}

pub(crate) struct JamfClient {
    api: HttpClient,
    tokens: Arc<TokenCache>,
    state: StdMutex<State>,
    /// Makes the version probe single-flight.
    probe: tokio::sync::Mutex<()>,
    directory: tokio::sync::Mutex<Directory>,
}

impl fmt::Debug for JamfClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JamfClient")
            .field("api", &self.api)
            .field("tokens", &self.tokens)
            .field("state", &self.state())
            .finish_non_exhaustive()
    }
}

/// One computers-inventory request.
struct InventoryQuery<'a> {
    sections: &'a [&'a str],
    page: u64,
    size: u32,
    filter: Option<&'a str>,
}

/// The one-row read of `validate` and of the static-group cost estimate.
const ONE_ROW: InventoryQuery<'static> = InventoryQuery {
    sections: &["GENERAL"],
    page: 0,
    size: 1,
    filter: None,
};

impl JamfClient {
    pub(crate) fn new(config: &JamfConfig, options: &ClientOptions) -> Result<Self> {
        let base = HttpClient::new(ProviderKind::Jamf, config.base_url.clone(), options)?
            .with_classifier(Arc::new(JamfErrorClassifier));
        let token_urls = ["api/v1/oauth/token", "api/oauth/token"]
            .into_iter()
            .map(|path| {
                config.base_url.join(path).map_err(|e| {
                    Error::config(format!("cannot build the token URL from the host: {e}"))
                        .with_provider(ProviderKind::Jamf)
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let credentials = ClientCredentials::new(
            base.clone(),
            token_urls,
            config.client_id.clone(),
            config.client_secret.clone(),
        );
        let tokens = Arc::new(TokenCache::new(Arc::new(credentials)));
        let api = base.with_auth(Arc::new(OAuthBearer::new(Arc::clone(&tokens))));
        Ok(JamfClient {
            api,
            tokens,
            state: StdMutex::new(State::default()),
            probe: tokio::sync::Mutex::new(()),
            directory: tokio::sync::Mutex::new(Directory::Stale),
        })
    }

    pub(crate) fn request_count(&self) -> u64 {
        self.api.request_count()
    }

    /// The Jamf Pro server's URL.
    pub(crate) fn base_url(&self) -> &Url {
        self.api.base_url()
    }

    pub(crate) fn max_concurrency(&self) -> usize {
        self.api.max_concurrency()
    }

    fn state(&self) -> State {
        *self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn update(&self, f: impl FnOnce(&mut State)) {
        f(&mut self.state.lock().unwrap_or_else(|p| p.into_inner()));
    }

    // ----- version -----

    /// Reads the server's version (the endpoint needs no privilege) and keeps what it says.
    pub(crate) async fn probe_version(&self, op: Operation) -> Result<Option<JamfProVersion>> {
        let body: VersionBody = self
            .api
            .get("api/v1/jamf-pro-version")
            .operation(op)
            .json()
            .await?;
        let version = body.version.as_deref().and_then(JamfProVersion::parse);
        if version.is_none() {
            tracing::warn!(
                reported = body.version.as_deref().unwrap_or_default(),
                "Jamf Pro version not readable; endpoint versions are found by trying"
            );
        }
        self.update(|s| s.version = Some(version));
        Ok(version)
    }

    /// The server's version, probed once.
    async fn version(&self, op: Operation) -> Result<Option<JamfProVersion>> {
        if let Some(v) = self.state().version {
            return Ok(v);
        }
        let _single = self.probe.lock().await;
        if let Some(v) = self.state().version {
            return Ok(v);
        }
        self.probe_version(op).await
    }

    // ----- validate -----

    /// A token for the configured client credentials: the cached one while it is valid, else a new one.
    pub(crate) async fn sign_in(&self) -> Result<()> {
        self.tokens.token().await.map(drop)
    }

    /// Reads one inventory row; the count it reports is left unread.
    pub(crate) async fn read_one_computer(&self, op: Operation) -> Result<()> {
        self.inventory(op, &ONE_ROW).await.map(drop)
    }

    // ----- inventory -----

    async fn inventory_request(
        &self,
        api: InventoryApi,
        op: Operation,
        q: &InventoryQuery<'_>,
    ) -> Result<SearchResults<Computer>> {
        let mut request = self.api.get(api.path()).operation(op);
        for section in q.sections {
            request = request.query("section", section);
        }
        request = request
            .query("page", q.page.to_string())
            .query("page-size", q.size.to_string())
            .query("sort", "id:asc");
        if let Some(filter) = q.filter {
            request = request.query("filter", filter);
        }
        request.json().await
    }

    /// One computers-inventory page from the newest collection version the server has.
    async fn inventory(
        &self,
        op: Operation,
        q: &InventoryQuery<'_>,
    ) -> Result<SearchResults<Computer>> {
        if let Some(api) = self.state().inventory {
            match self.inventory_request(api, op, q).await {
                Err(e) if e.kind() == ErrorKind::NotFound => {
                    tracing::info!(
                        path = api.path(),
                        "computers inventory answered 404; choosing the endpoint version again"
                    );
                    // The server was upgraded: what was learnt from its old version goes.
                    self.update(|s| {
                        s.inventory = None;
                        s.version = None;
                        s.users_api = None;
                    });
                }
                other => return other,
            }
        }
        let version = self.version(op).await?;
        let candidates = InventoryApi::candidates(version);
        let mut last = None;
        for &api in candidates {
            match self.inventory_request(api, op, q).await {
                Ok(page) => {
                    self.update(|s| s.inventory = Some(api));
                    return Ok(page);
                }
                Err(e) if e.kind() == ErrorKind::NotFound => {
                    tracing::debug!(
                        path = api.path(),
                        "not on this server; trying an older version"
                    );
                    last = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        let tried: Vec<&str> = candidates.iter().map(|a| a.path()).collect();
        Err(match last {
            Some(e) => {
                let message = format!(
                    "{} (no computers inventory at /{})",
                    e.message(),
                    tried.join(", /")
                );
                e.with_message(message)
            }
            None => op.error(ErrorKind::NotFound, "no computers inventory endpoint"),
        })
    }

    /// An inventory page as a [`Page`] of computers, for the pager.
    async fn inventory_page(
        &self,
        op: Operation,
        sections: &[&str],
        request: &PageRequest,
        filter: Option<&str>,
    ) -> Result<Page<Computer>> {
        let (page, size) = request.page_number(op)?;
        let body = self
            .inventory(
                op,
                &InventoryQuery {
                    sections,
                    page,
                    size: size.clamp(1, PAGE_SIZE),
                    filter,
                },
            )
            .await?;
        Ok(Page::counted(body.results, body.total_count))
    }

    // ----- devices -----

    /// One page of the bulk listing. Page 0 starts a listing, so the user directory is read afresh (once,
    /// when the first page with an assigned user needs it). Page 0 and the directory's first page are
    /// read together: a fleet with assigned users needs both, and one without spends that one user page.
    pub(crate) async fn list_page(&self, request: &PageRequest) -> Result<Page<MdmDevice>> {
        let op = OPS.list_devices;
        let (page, _) = request.page_number(op)?;
        let (computers, first_users) = if page == 0 {
            *self.directory.lock().await = Directory::Stale;
            let (computers, first_users) = futures::future::join(
                self.inventory_page(op, DEVICE_SECTIONS, request, None),
                self.first_users_page(op),
            )
            .await;
            (computers?, first_users)
        } else {
            let computers = self
                .inventory_page(op, DEVICE_SECTIONS, request, None)
                .await?;
            (computers, None)
        };
        let users = if computers.items.iter().any(|c| c.username().is_some()) {
            self.directory_after(op, first_users).await?
        } else {
            UserIds::Usernames
        };
        Ok(computers.map(|c| convert::device(&c, &users)))
    }

    /// One page of the computers whose last inventory report (`general.reportDate`) is at or after
    /// `since`: the inventory filtered by RSQL, in id order so that devices entering the filter while the
    /// listing runs repeat a row rather than push one past a page boundary. Users are looked up for the
    /// page's usernames, or read from the directory when a page has many.
    pub(crate) async fn changed_page(
        &self,
        since: DateTime<Utc>,
        cursor: Option<&ChangeCursor>,
    ) -> Result<ChangesPage> {
        let position =
            NumberedPosition::from_cursor(cursor).map_err(OPS.list_changed_devices.tagger())?;
        let filter = format!("general.reportDate>={}", rsql_quote(&rfc3339_millis(since)));
        let request = PageRequest::PageNumber {
            page: position.next,
            size: PAGE_SIZE,
        };
        let computers = self
            .inventory_page(
                OPS.list_changed_devices,
                DEVICE_SECTIONS,
                &request,
                Some(&filter),
            )
            .await?;
        let mut usernames: Vec<&str> = computers
            .items
            .iter()
            .filter_map(Computer::username)
            .collect();
        usernames.sort_unstable();
        usernames.dedup();
        let users = if usernames.len() <= LOOKUP_USERS_UP_TO {
            self.lookup_users(OPS.list_changed_devices, &usernames)
                .await?
        } else {
            if position.next == 0 {
                *self.directory.lock().await = Directory::Stale;
            }
            self.directory(OPS.list_changed_devices).await?
        };
        let next = position.after_page(
            computers.items.len(),
            PAGE_SIZE,
            computers.info.total,
            false,
        );
        let devices = computers
            .items
            .iter()
            .map(|c| convert::device(c, &users))
            .collect();
        Ok(ChangesPage::new(devices, next, Coverage::Changed))
    }

    /// Every computer whose serial is exactly `serial`: Jamf's RSQL filter, then an exact check here.
    pub(crate) async fn by_serial(&self, serial: &SerialNumber) -> Result<Vec<MdmDevice>> {
        let filter = format!("hardware.serialNumber=={}", rsql_quote(serial.as_str()));
        let filter = filter.as_str();
        let pager = self.api.pager(PagingStyle::PageNumber {
            first: 0,
            size: LOOKUP_PAGE_SIZE,
        });
        let found = collect_all(pager, computer_id, |request| async move {
            self.inventory_page(
                OPS.device_by_serial,
                DEVICE_SECTIONS,
                &request,
                Some(filter),
            )
            .await
        })
        .await?;
        let matching: Vec<Computer> = serial.exact_matches(found, Computer::serial).collect();
        let mut usernames: Vec<&str> = matching.iter().filter_map(Computer::username).collect();
        usernames.sort_unstable();
        usernames.dedup();
        let users = self.lookup_users(OPS.device_by_serial, &usernames).await?;
        Ok(matching
            .iter()
            .map(|c| convert::device(c, &users))
            .collect())
    }

    // ----- users -----

    async fn users_possible(&self, op: Operation) -> Result<bool> {
        match self.state().users_api {
            Some(known) => Ok(known),
            None => Ok(may_have_users_api(self.version(op).await?)),
        }
    }

    async fn users_page(
        &self,
        op: Operation,
        request: &PageRequest,
        filter: Option<&str>,
    ) -> Result<Page<User>> {
        let (page, size) = request.page_number(op)?;
        let mut r = self
            .api
            .get("api/v1/users")
            .operation(op)
            .query("page", page.to_string())
            .query("page-size", size.to_string())
            .query("sort", "id:asc");
        if let Some(filter) = filter {
            r = r.query("filter", filter);
        }
        let body: SearchResults<User> = r.json().await?;
        Ok(Page::counted(body.results, body.total_count))
    }

    /// Every user matching `filter` (all without one), page by page into `into`: a page's wire records
    /// are dropped once added, so a directory read holds a few pages of them, not the directory. The
    /// first page (`first`, when it was read already) counts the users, so the pages after it are read
    /// at the server's allowed concurrency.
    async fn users(
        &self,
        op: Operation,
        filter: Option<&str>,
        first: Option<Page<User>>,
        into: &mut DirectoryBuilder,
    ) -> Result<()> {
        let pager = self
            .api
            .pager(USERS_PAGING)
            .read_ahead(self.max_concurrency());
        let fetch =
            |request: PageRequest| async move { self.users_page(op, &request, filter).await };
        let each = |user: User| into.add(&user);
        match first {
            Some(first) => for_each_row_from(first, pager, user_id, fetch, each).await,
            None => for_each_row(pager, user_id, fetch, each).await,
        }
    }

    /// The directory's first page, read alongside a listing's first computers; `None` on a server
    /// without the users API (nothing is sent).
    async fn first_users_page(&self, op: Operation) -> Option<Result<Page<User>>> {
        match self.users_possible(op).await {
            Ok(false) => None,
            Ok(true) => Some(
                self.users_page(op, &USERS_PAGING.first_request(), None)
                    .await,
            ),
            Err(e) => Some(Err(e)),
        }
    }

    /// Turns a user read into [`UserIds`]: a server without `/api/v1/users` (404) uses usernames from now
    /// on; a client without "Read User" (403) uses usernames for this read and says so in the log.
    fn users_outcome(&self, read: Result<DirectoryBuilder>) -> Result<UserIds> {
        match read {
            Ok(users) => {
                self.update(|s| s.users_api = Some(true));
                let users = users.build();
                tracing::debug!(
                    users = users.len(),
                    bytes = users.heap_bytes(),
                    "Jamf users read"
                );
                Ok(UserIds::Records(Arc::new(users)))
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {
                tracing::debug!("no /api/v1/users on this server; usernames are the user IDs");
                self.update(|s| s.users_api = Some(false));
                Ok(UserIds::Usernames)
            }
            Err(e) if e.kind() == ErrorKind::Forbidden => {
                tracing::warn!(
                    error = %e,
                    "the API client may not read users (\"Read User\"); usernames are the user IDs"
                );
                Ok(UserIds::Usernames)
            }
            Err(e) => Err(e),
        }
    }

    /// The whole user directory, read once per listing (ceil(users / 1000) requests).
    async fn directory(&self, op: Operation) -> Result<UserIds> {
        self.directory_after(op, None).await
    }

    /// [`JamfClient::directory`], with its first page already read (or refused) when `first` is given.
    async fn directory_after(
        &self,
        op: Operation,
        first: Option<Result<Page<User>>>,
    ) -> Result<UserIds> {
        let mut cache = self.directory.lock().await;
        if let Directory::Loaded(ids) = &*cache {
            return Ok(ids.clone());
        }
        let ids = if self.users_possible(op).await? {
            let mut users = DirectoryBuilder::default();
            let read = match first.transpose() {
                Ok(first) => self.users(op, None, first, &mut users).await,
                Err(e) => Err(e),
            };
            self.users_outcome(read.map(|()| users))?
        } else {
            UserIds::Usernames
        };
        *cache = Directory::Loaded(ids.clone());
        Ok(ids)
    }

    /// The user records of a few usernames, by RSQL filter (one request per 50 names).
    async fn lookup_users(&self, op: Operation, usernames: &[&str]) -> Result<UserIds> {
        if usernames.is_empty() || !self.users_possible(op).await? {
            return Ok(UserIds::Usernames);
        }
        let mut found = DirectoryBuilder::default();
        for chunk in usernames.chunks(USERS_PER_FILTER) {
            let filter = match chunk {
                [one] => format!("username=={}", rsql_quote(one)),
                many => format!(
                    "username=in=({})",
                    many.iter()
                        .map(|u| rsql_quote(u))
                        .collect::<Vec<_>>()
                        .join(",")
                ),
            };
            if let Err(e) = self.users(op, Some(&filter), None, &mut found).await {
                return self.users_outcome(Err(e));
            }
        }
        self.users_outcome(Ok(found))
    }

    // ----- groups -----

    /// Every computer group with its members.
    pub(crate) async fn groups(&self) -> Result<Vec<MdmGroup>> {
        let version = self.version(OPS.groups).await?;
        let listed: Vec<ComputerGroup> = self
            .api
            .get("api/v1/computer-groups")
            .operation(OPS.groups)
            .json()
            .await?;
        let mut seen = HashSet::new();
        let listed: Vec<ComputerGroup> = listed
            .into_iter()
            .filter(|g| seen.insert(g.id.0.clone()))
            .collect();
        for g in &listed {
            plain_id_segment(&g.id.0, OPS.groups)?;
        }
        let (smart, other): (Vec<&ComputerGroup>, Vec<&ComputerGroup>) =
            listed.iter().partition(|g| g.smart_group == Some(true));
        let mut members = self.smart_members(&smart, version).await?;
        members.extend(self.static_members(&other).await?);
        let mut groups = Vec::with_capacity(listed.len());
        for g in &listed {
            match members.remove(&g.id.0) {
                Some(Some(ids)) => groups.push(convert::group(g, ids)),
                Some(None) => {
                    tracing::debug!(group = %g.id.0, "group deleted while reading members; left out")
                }
                None => groups.push(convert::group(g, Vec::new())),
            }
        }
        Ok(groups)
    }

    /// Members of smart groups from the smart-group membership endpoint. `None` for a group that answered
    /// 404 (deleted since the list was read). When the endpoint version learnt earlier answers 404 for
    /// every group, the server's version is read again and the endpoint chosen again, once.
    async fn smart_members(
        &self,
        groups: &[&ComputerGroup],
        version: Option<JamfProVersion>,
    ) -> Result<HashMap<String, Option<Vec<String>>>> {
        let learnt = self.state().smart_members.is_some();
        let out = self.smart_members_from_one_source(groups, version).await?;
        if groups.is_empty() || out.values().any(Option::is_some) {
            return Ok(out);
        }
        // Every group "vanished": the endpoint is missing, not the groups. Never report that as empty
        // groups (a sync would detach them all).
        self.update(|s| s.smart_members = None);
        if learnt {
            // The endpoint learnt earlier is gone: the server was upgraded. Its version is read again
            // and each endpoint version it may have is tried, in this same read.
            tracing::info!(
                "the smart-group membership endpoint answered 404 for every group; choosing again"
            );
            self.update(|s| s.version = None);
            let version = self.version(OPS.groups).await?;
            let out = self.smart_members_from_one_source(groups, version).await?;
            if out.values().any(Option::is_some) {
                return Ok(out);
            }
            self.update(|s| s.smart_members = None);
        }
        Err(OPS.groups.error(
            ErrorKind::NotFound,
            format!(
                "no smart-group membership endpoint answered for any of the {} smart groups",
                groups.len()
            ),
        ))
    }

    /// The members of `groups` from the endpoint version learnt (or the first that answers), `None` for
    /// a group that answered 404.
    async fn smart_members_from_one_source(
        &self,
        groups: &[&ComputerGroup],
        version: Option<JamfProVersion>,
    ) -> Result<HashMap<String, Option<Vec<String>>>> {
        let mut out = HashMap::new();
        let mut rest = groups.iter();
        // One group at a time until an endpoint version has answered, then the rest concurrently (the
        // client's limit keeps at most 5 in flight).
        while self.state().smart_members.is_none() {
            let Some(g) = rest.next() else { break };
            out.insert(g.id.0.clone(), self.smart_group_members(g, version).await?);
        }
        let fetched = try_join_all(rest.map(|g| async move {
            Ok::<_, Error>((g.id.0.clone(), self.smart_group_members(g, version).await?))
        }))
        .await?;
        out.extend(fetched);
        Ok(out)
    }

    async fn smart_group_members(
        &self,
        group: &ComputerGroup,
        version: Option<JamfProVersion>,
    ) -> Result<Option<Vec<String>>> {
        let confirmed = self.state().smart_members;
        let candidates: &[MemberSource] = match &confirmed {
            Some(source) => std::slice::from_ref(source),
            None => MemberSource::smart_candidates(version),
        };
        for &source in candidates {
            match self.members_from(source, &group.id.0).await {
                Ok(ids) => {
                    self.update(|s| s.smart_members = Some(source));
                    return Ok(Some(ids));
                }
                Err(e) if e.kind() == ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }

    async fn members_from(&self, source: MemberSource, id: &str) -> Result<Vec<String>> {
        let id = plain_id_segment(id, OPS.groups)?;
        let path = match source {
            MemberSource::SmartV3 => format!("api/v3/computer-groups/smart-group-membership/{id}"),
            MemberSource::SmartV2 => format!("api/v2/computer-groups/smart-group-membership/{id}"),
            MemberSource::Classic => return self.classic_members(id).await,
        };
        let body: SmartGroupMembership = self.api.get(&path).operation(OPS.groups).json().await?;
        Ok(body.members.into_iter().map(|m| m.0).collect())
    }

    /// A group's computers from the Classic API (JSON).
    async fn classic_members(&self, id: &str) -> Result<Vec<String>> {
        let id = plain_id_segment(id, OPS.groups)?;
        let body: ClassicGroupBody = self
            .api
            .get(&format!("JSSResource/computergroups/id/{id}"))
            .operation(OPS.groups)
            .json()
            .await?;
        Ok(body
            .computer_group
            .computers
            .0
            .into_iter()
            .map(|c| c.id.0)
            .collect())
    }

    /// Members of static groups (the Jamf Pro API cannot list them). Whichever costs fewer requests: the
    /// Classic group record, one request per group, or one inventory pass with `GROUP_MEMBERSHIPS`
    /// (ceil(computers / 2000) requests, after one request to learn the computer count).
    async fn static_members(
        &self,
        groups: &[&ComputerGroup],
    ) -> Result<HashMap<String, Option<Vec<String>>>> {
        if groups.is_empty() {
            return Ok(HashMap::new());
        }
        if groups.len() > 1 {
            let count = self.inventory(OPS.groups, &ONE_ROW).await?.total_count;
            let use_bulk = match count.map(|c| c.div_ceil(u64::from(PAGE_SIZE))) {
                // No computers: no group has members.
                Some(0) => {
                    return Ok(groups
                        .iter()
                        .map(|g| (g.id.0.clone(), Some(Vec::new())))
                        .collect())
                }
                Some(pages) => pages < groups.len() as u64,
                None => false,
            };
            if use_bulk {
                match self.bulk_memberships().await {
                    Ok(mut by_group) => {
                        return Ok(groups
                            .iter()
                            .map(|g| {
                                let ids = by_group.remove(&g.id.0).unwrap_or_default();
                                (g.id.0.clone(), Some(ids))
                            })
                            .collect())
                    }
                    Err(e) if e.kind() == ErrorKind::InvalidConfiguration => {
                        tracing::warn!(
                            error = %e,
                            "the server refused the GROUP_MEMBERSHIPS section; reading static groups one by one"
                        );
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        let fetched = try_join_all(groups.iter().map(|g| async move {
            let ids = match self.classic_members(&g.id.0).await {
                Ok(ids) => Some(ids),
                Err(e) if e.kind() == ErrorKind::NotFound => None,
                Err(e) => return Err(e),
            };
            Ok((g.id.0.clone(), ids))
        }))
        .await?;
        if fetched.iter().all(|(_, ids)| ids.is_none()) {
            return Err(OPS.groups.error(
                ErrorKind::NotFound,
                format!(
                    "the Classic API (/JSSResource/computergroups) answered 404 for all {} static groups",
                    groups.len()
                ),
            ));
        }
        Ok(fetched.into_iter().collect())
    }

    /// Group id to member computer ids, from one inventory pass with the `GROUP_MEMBERSHIPS` section.
    async fn bulk_memberships(&self) -> Result<HashMap<String, Vec<String>>> {
        let pager = self.api.pager(PagingStyle::PageNumber {
            first: 0,
            size: PAGE_SIZE,
        });
        let rows = collect_all(pager, membership_row_id, |request| async move {
            let page = self
                .inventory_page(OPS.groups, &["GROUP_MEMBERSHIPS"], &request, None)
                .await?;
            let mut rows = Vec::with_capacity(page.items.len());
            for c in page.items {
                // The section was asked for: a computer without it is an answer of another shape, and
                // reading it as "in no group" would empty every static group.
                let Some(memberships) = c.group_memberships else {
                    return Err(OPS.groups.error(
                        ErrorKind::InvalidResponse,
                        format!(
                            "computer {} came without the groupMemberships section that was asked \
                             for",
                            c.id.0
                        ),
                    ));
                };
                let groups: Vec<String> = memberships.into_iter().map(|m| m.group_id.0).collect();
                rows.push((c.id.0, groups));
            }
            Ok(Page::new(rows, page.info))
        })
        .await?;
        let mut by_group: HashMap<String, Vec<String>> = HashMap::new();
        for (computer, groups) in rows {
            for group in groups {
                by_group.entry(group).or_default().push(computer.clone());
            }
        }
        Ok(by_group)
    }
}

/// A computer's identity in a listing, for the pager's repeat check.
fn computer_id(computer: &Computer) -> Option<&str> {
    Some(&computer.id.0)
}

/// A user's identity in a listing.
fn user_id(user: &User) -> Option<&str> {
    Some(&user.id.0)
}

/// The computer of a (computer, groups) row of the bulk membership pass.
fn membership_row_id(row: &(String, Vec<String>)) -> Option<&str> {
    Some(&row.0)
}

/// An RSQL string literal: double-quoted, with `"` and `\` escaped by a backslash.
pub(crate) fn rsql_quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if matches!(c, '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rsql_values_are_quoted_and_escaped() {
        assert_eq!(rsql_quote("C02ZC2QYLVDL"), r#""C02ZC2QYLVDL""#);
        assert_eq!(rsql_quote(r#"A"B\C"#), r#""A\"B\\C""#);
        assert_eq!(rsql_quote("a,b;c==d"), r#""a,b;c==d""#);
    }

    #[test]
    fn group_ids_must_be_plain() {
        assert_eq!(plain_id_segment("17", OPS.groups).unwrap(), "17");
        assert!(plain_id_segment("../users", OPS.groups).is_err());
        assert!(plain_id_segment("", OPS.groups).is_err());
        assert!(plain_id_segment("1?x=1", OPS.groups).is_err());
    }

    #[test]
    fn only_page_number_requests_are_served() {
        let e = PageRequest::NextLink { url: None }
            .page_number(OPS.list_devices)
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidConfiguration);
        assert_eq!(e.operation(), Some("list_devices"));
    }
}
