//! The requests the connector sends to Fleet, each on the shared [`HttpClient`].
//!
//! Every list request carries `page`, `per_page` and `order_key=id` together: Fleet returns *every* row
//! at once when neither `page` nor `per_page` is sent, and 20 rows when only `page` is. No request sends a
//! team (fleet) filter, so the old `team_id` and new `fleet_id` names are never sent together.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use futures::stream::{self, StreamExt, TryStreamExt};

pub(crate) use mdmkit_core::http::is_dot_segment;
use mdmkit_core::http::{path_segment, BearerToken, ClientOptions, HttpClient, RequestBuilder};
use mdmkit_core::paging::{collect_all, row_is_id};
use mdmkit_core::{
    Error, ErrorKind, FleetConfig, Operation, Page, PageInfo, PageRequest, PagingStyle,
    ProviderKind, ProviderOperations, Result, Url,
};

use crate::error::FleetErrorClassifier;
use crate::scim::{ListResponse, ScimIndex, ScimIndexBuilder, ScimUser};
use crate::wire::{Host, HostEnvelope, HostsPage, Label, LabelsPage, ListMeta, MeResponse};

const ME: &str = "api/v1/fleet/me";
const HOSTS: &str = "api/v1/fleet/hosts";
const HOST_BY_IDENTIFIER: &str = "api/v1/fleet/hosts/identifier/";
const LABELS: &str = "api/v1/fleet/labels";
const SCIM_USERS: &str = "api/v1/fleet/scim/Users";

/// Rows asked for per page of the device listing unless [`FleetProvider::with_page_size`](crate::FleetProvider::with_page_size)
/// says otherwise (Fleet documents no maximum).
pub const PAGE_SIZE: u32 = 100;
/// The most SCIM users Fleet serves a page (`count` above it is refused with `tooMany`).
pub(crate) const SCIM_PAGE: u64 = 100;

/// One page of SCIM users.
#[derive(Debug, Clone)]
pub(crate) struct ScimPage {
    pub(crate) users: Vec<ScimUser>,
    /// `totalResults`, if Fleet sent it.
    pub(crate) total: Option<u64>,
    /// Whether no page follows.
    pub(crate) last: bool,
}

/// Fleet's requests over one [`HttpClient`], and what they learnt about the server.
#[derive(Debug, Clone)]
pub(crate) struct FleetClient {
    http: HttpClient,
    /// The last SCIM read ([`Self::scim_users`], [`Self::scim_first_page`], [`Self::scim_users_rest`])
    /// failed: Fleet refuses the token SCIM (it needs write access and Premium) or lacks it. Shared by
    /// clones.
    scim_refused: Arc<AtomicBool>,
}

impl FleetClient {
    pub(crate) fn new(config: &FleetConfig, options: &ClientOptions) -> Result<Self> {
        let http = HttpClient::new(ProviderKind::Fleet, config.base_url.clone(), options)?
            .with_auth(Arc::new(BearerToken::new(config.api_token.clone())))
            .with_classifier(Arc::new(FleetErrorClassifier));
        Ok(FleetClient {
            http,
            scim_refused: Arc::new(AtomicBool::new(false)),
        })
    }

    /// The Fleet server's base URL (ends in `/`).
    pub(crate) fn base_url(&self) -> &Url {
        self.http.base_url()
    }

    /// How many reads a fan-out (SCIM pages, host records) sends at once: the server's concurrency
    /// limit, so a fan-out never queues behind its own requests.
    pub(crate) fn fan_out(&self) -> usize {
        self.http.max_concurrency()
    }

    pub(crate) fn request_count(&self) -> u64 {
        self.http.request_count()
    }

    pub(crate) fn pager(&self, size: u32) -> mdmkit_core::Pager {
        self.http.pager(PagingStyle::PageNumber { first: 0, size })
    }

    /// `GET /api/v1/fleet/me`: who the token belongs to.
    pub(crate) async fn me(&self, operation: &'static str) -> Result<MeResponse> {
        self.http.get(ME).operation(operation).json().await
    }

    /// `GET /api/v1/fleet/hosts/identifier/{identifier}`; `None` when Fleet says there is no such host.
    ///
    /// The identifier is one path segment, percent-encoded. It must not consist of dots only (a `.` or
    /// `..` segment would be resolved away by URL normalisation, even when escaped); callers check.
    pub(crate) async fn host_by_identifier(
        &self,
        identifier: &str,
        operation: &'static str,
    ) -> Result<Option<Host>> {
        let path = format!("{HOST_BY_IDENTIFIER}{}", path_segment(identifier));
        self.host_at(&path, operation).await
    }

    /// `GET /api/v1/fleet/hosts/{id}`: one host with its `end_users`; `None` if Fleet says it is gone.
    pub(crate) async fn host_by_id(
        &self,
        id: &str,
        operation: &'static str,
    ) -> Result<Option<Host>> {
        self.host_at(&format!("{HOSTS}/{}", path_segment(id)), operation)
            .await
    }

    /// One host record at `path`, software left out. Only Fleet's own 404 body means "no such host"
    /// (`None`); anything else stays an error.
    async fn host_at(&self, path: &str, operation: &'static str) -> Result<Option<Host>> {
        let result = self
            .http
            .get(path)
            .query("exclude_software", "true")
            .operation(operation)
            .json::<HostEnvelope>()
            .await;
        match result {
            Ok(envelope) => envelope
                .host
                .map(Some)
                .ok_or_else(|| not_fleet(operation, "the host answered without a \"host\" object")),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `GET /api/v1/fleet/hosts?query=...`, every page: hosts whose hostname, serial, UUID, IP or
    /// e-mails contain `query`.
    pub(crate) async fn search_hosts(
        &self,
        query: &str,
        size: u32,
        operation: &'static str,
    ) -> Result<Vec<Host>> {
        collect_all(self.pager(size), host_id, |request| async move {
            let (page, per_page) = page_number(&request, operation)?;
            let request = self.http.get(HOSTS).query("query", query);
            self.hosts_page(request, page, per_page, true, operation)
                .await
        })
        .await
    }

    /// One page of `GET /api/v1/fleet/hosts`, with the device mapping (the list's only user data).
    pub(crate) async fn list_hosts_page(
        &self,
        request: &PageRequest,
        operation: &'static str,
    ) -> Result<Page<Host>> {
        let (page, per_page) = page_number(request, operation)?;
        self.hosts_page(self.http.get(HOSTS), page, per_page, true, operation)
            .await
    }

    /// One page of the hosts whose `updated_at` is after `after` (Fleet's keyset paging: `after` is
    /// strict and disables `page`), oldest first, with the device mapping.
    pub(crate) async fn hosts_updated_after(
        &self,
        after: &str,
        per_page: u32,
        operation: &'static str,
    ) -> Result<Page<Host>> {
        let body: HostsPage = self
            .http
            .get(HOSTS)
            .query("page", "0")
            .query("per_page", per_page.to_string())
            .query("order_key", "updated_at")
            .query("after", after)
            .query("disable_failing_policies", "true")
            .query("device_mapping", "true")
            .operation(operation)
            .json()
            .await?;
        let hosts = body.hosts.ok_or_else(|| {
            not_fleet(operation, "the host list answered without a \"hosts\" list")
        })?;
        Ok(Page::new(hosts, page_info(body.meta)))
    }

    /// Every SCIM user, `GET /api/v1/fleet/scim/Users` 100 at a time by `startIndex` (1-based) until
    /// `totalResults` or a short page.
    pub(crate) async fn scim_users(&self, operation: &'static str) -> Result<ScimIndex> {
        let read = async {
            let first = self.scim_page(1, operation).await?;
            self.scim_rest(&first, operation).await
        };
        self.learnt_scim(read.await)
    }

    /// The first page of SCIM users.
    pub(crate) async fn scim_first_page(&self, operation: &'static str) -> Result<ScimPage> {
        let read = self.scim_page(1, operation).await;
        self.learnt_scim(read)
    }

    /// The users of `first` (the first page) and of every page after it, indexed (see
    /// [`Self::scim_rest`]).
    pub(crate) async fn scim_users_rest(
        &self,
        first: &ScimPage,
        operation: &'static str,
    ) -> Result<ScimIndex> {
        let read = self.scim_rest(first, operation).await;
        self.learnt_scim(read)
    }

    /// Whether the last SCIM read failed (so a listing names users host by host).
    pub(crate) fn scim_refused(&self) -> bool {
        self.scim_refused.load(Ordering::Relaxed)
    }

    /// Records whether a SCIM read failed, and passes it on.
    fn learnt_scim<T>(&self, read: Result<T>) -> Result<T> {
        self.scim_refused.store(read.is_err(), Ordering::Relaxed);
        read
    }

    /// One page of SCIM users from `start` (1-based).
    async fn scim_page(&self, start: u64, operation: &'static str) -> Result<ScimPage> {
        let body: ListResponse = self
            .http
            .get(SCIM_USERS)
            .query("startIndex", start.to_string())
            .query("count", SCIM_PAGE.to_string())
            .operation(operation)
            .json()
            .await?;
        let users = body.resources.ok_or_else(|| {
            not_fleet(
                operation,
                "the SCIM user list answered without \"Resources\"",
            )
        })?;
        Ok(ScimPage {
            last: users.is_empty()
                || body
                    .total_results
                    .is_some_and(|t| start - 1 + users.len() as u64 >= t)
                || (body.total_results.is_none() && (users.len() as u64) < SCIM_PAGE),
            total: body.total_results,
            users,
        })
    }

    /// The users of `first` (the first page) and of every page after it, indexed. When the first page
    /// gave `totalResults`, the pages it implies are read [`Self::fan_out`] at a time; then, as without
    /// a total, page after page until a page says it is the last (users added meanwhile are not
    /// missed). Each page goes into the index as it arrives, so at most [`Self::fan_out`] pages of wire
    /// users are held at once.
    async fn scim_rest(&self, first: &ScimPage, operation: &'static str) -> Result<ScimIndex> {
        let mut index = ScimIndexBuilder::default();
        index.add_page(&first.users);
        let mut last = first.last;
        if let (false, Some(total)) = (last, first.total) {
            let known = index.rows();
            let pages = total.saturating_sub(known).div_ceil(SCIM_PAGE);
            let pages = pages.min(u64::from(mdmkit_core::paging::DEFAULT_MAX_PAGES));
            // The final page decides whether more follow (users added since the first page).
            (index, last) = stream::iter((0..pages).map(|i| known + 1 + i * SCIM_PAGE))
                .map(|start| self.scim_page(start, operation))
                .buffered(self.fan_out())
                .try_fold((index, true), |(mut index, _), page| async move {
                    index.add_page(&page.users);
                    Ok((index, page.last || (page.users.len() as u64) < SCIM_PAGE))
                })
                .await?;
        }
        for _ in 0..mdmkit_core::paging::DEFAULT_MAX_PAGES {
            if last {
                return Ok(index.build());
            }
            let page = self.scim_page(index.rows() + 1, operation).await?;
            last = page.last;
            index.add_page(&page.users);
        }
        Err(not_fleet(operation, "the SCIM user list did not end"))
    }

    /// Every label, `GET /api/v1/fleet/labels` page by page.
    pub(crate) async fn labels(&self, size: u32, operation: &'static str) -> Result<Vec<Label>> {
        collect_all(self.pager(size), label_id, |request| async move {
            let (page, per_page) = page_number(&request, operation)?;
            let body: LabelsPage = paged(self.http.get(LABELS), page, per_page)
                // Host counts are expensive for Fleet to compute and not needed here.
                .query("include_host_counts", "false")
                .operation(operation)
                .json()
                .await?;
            let labels = body.labels.ok_or_else(|| {
                not_fleet(
                    operation,
                    "the label list answered without a \"labels\" list",
                )
            })?;
            Ok(Page::new(labels, page_info(body.meta)))
        })
        .await
    }

    /// The ids of every host carrying a label, `GET /api/v1/fleet/labels/{id}/hosts` page by page;
    /// `None` when Fleet says the label no longer exists (deleted while the sync ran).
    pub(crate) async fn label_host_ids(
        &self,
        label_id: &str,
        size: u32,
        operation: &'static str,
    ) -> Result<Option<Vec<String>>> {
        let path = format!("{LABELS}/{}/hosts", path_segment(label_id));
        let path = &path;
        let result = collect_all(self.pager(size), row_is_id, |request| async move {
            let (page, per_page) = page_number(&request, operation)?;
            let hosts = self
                .hosts_page(self.http.get(path), page, per_page, false, operation)
                .await?;
            Ok(hosts.map(|h| h.id.0))
        })
        .await;
        match result {
            Ok(ids) => Ok(Some(ids)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn hosts_page(
        &self,
        request: RequestBuilder<'_>,
        page: u64,
        per_page: u32,
        device_mapping: bool,
        operation: &'static str,
    ) -> Result<Page<Host>> {
        let mut request = paged(request, page, per_page)
            // Skips counting failing policies per host: faster, and not needed here. (The older name,
            // still accepted as an alias of `disable_issues`, works on every Fleet version.)
            .query("disable_failing_policies", "true");
        if device_mapping {
            request = request.query("device_mapping", "true");
        }
        let body: HostsPage = request.operation(operation).json().await?;
        let hosts = body.hosts.ok_or_else(|| {
            not_fleet(operation, "the host list answered without a \"hosts\" list")
        })?;
        Ok(Page::new(hosts, page_info(body.meta)))
    }
}

/// A host's identity in a listing, for the pager's repeat check.
fn host_id(host: &Host) -> Option<&str> {
    Some(&host.id.0)
}

/// A label's identity in a listing.
fn label_id(label: &Label) -> Option<&str> {
    Some(&label.id.0)
}

/// `page`, `per_page` and `order_key=id`, always together.
fn paged(request: RequestBuilder<'_>, page: u64, per_page: u32) -> RequestBuilder<'_> {
    request
        .query("page", page.to_string())
        .query("per_page", per_page.to_string())
        .query("order_key", "id")
}

/// What a page said about the rest: Fleet's `meta.has_next_results` when sent (Fleet may serve fewer
/// rows than asked, so a short page alone does not prove the end when the server says otherwise).
fn page_info(meta: Option<ListMeta>) -> PageInfo {
    PageInfo {
        has_more: meta.and_then(|m| m.has_next_results),
        ..PageInfo::default()
    }
}

/// `(page, per_page)` of a page-number request: Fleet refuses `per_page=0` (the other providers clamp
/// it; Fleet documents no maximum to clamp to, so a zero is the caller's error).
fn page_number(request: &PageRequest, operation: &'static str) -> Result<(u64, u32)> {
    match request.page_number(op(operation))? {
        (_, 0) => Err(op(operation).error(
            ErrorKind::InvalidConfiguration,
            "a Fleet page must ask for at least one row (per_page=0 is refused by Fleet)",
        )),
        numbered => Ok(numbered),
    }
}

/// An answer that is not the Fleet API's, in the operation named `operation`.
fn not_fleet(operation: &'static str, what: &str) -> Error {
    op(operation).error(
        ErrorKind::InvalidResponse,
        format!("{what}; the server does not answer like the Fleet API"),
    )
}

/// The operations every provider has, named alike ([`ProviderOperations`]), for its requests and
/// errors.
pub(crate) const OPS: ProviderOperations = ProviderOperations::of(ProviderKind::Fleet);
pub(crate) const RESOLVE_USER_NAMES: Operation = op("resolve_user_names");

/// The Fleet operation named `name` (the provider's code passes operations by name).
const fn op(name: &'static str) -> Operation {
    Operation::new(ProviderKind::Fleet, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_page_number_requests_are_served() {
        assert_eq!(
            page_number(&PageRequest::PageNumber { page: 2, size: 50 }, "x").unwrap(),
            (2, 50)
        );
        let err = page_number(&PageRequest::PageNumber { page: 0, size: 0 }, "x").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidConfiguration);
        let err = page_number(&PageRequest::NextLink { url: None }, "x").unwrap_err();
        assert!(err.to_string().contains("page number"));
    }

    #[test]
    fn meta_is_reported_as_has_more() {
        assert_eq!(page_info(None).has_more, None);
        assert_eq!(
            page_info(Some(ListMeta {
                has_next_results: Some(true)
            }))
            .has_more,
            Some(true)
        );
        assert_eq!(page_info(Some(ListMeta::default())).has_more, None);
    }
}
