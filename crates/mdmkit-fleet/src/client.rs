//! The requests the connector sends to Fleet, each on the shared [`HttpClient`].
//!
//! Every list request carries `page`, `per_page` and `order_key=id` together: Fleet returns *every* row
//! at once when neither `page` nor `per_page` is sent, and 20 rows when only `page` is. No request sends a
//! team (fleet) filter, so the old `team_id` and new `fleet_id` names are never sent together.

use std::sync::Arc;

use mdmkit_core::http::{path_segment, BearerToken, ClientOptions, HttpClient, RequestBuilder};
use mdmkit_core::paging::{collect_all, row_is_id};
use mdmkit_core::{
    Error, ErrorKind, FleetConfig, Page, PageInfo, PageRequest, PagingStyle, ProviderKind, Result,
};

use crate::error::FleetErrors;
use crate::wire::{Host, HostEnvelope, HostsPage, Label, LabelsPage, ListMeta, MeResponse};

const ME: &str = "api/v1/fleet/me";
const HOSTS: &str = "api/v1/fleet/hosts";
const HOST_BY_IDENTIFIER: &str = "api/v1/fleet/hosts/identifier/";
const LABELS: &str = "api/v1/fleet/labels";

/// Fleet's requests over one [`HttpClient`].
#[derive(Debug, Clone)]
pub(crate) struct FleetClient {
    http: HttpClient,
}

impl FleetClient {
    pub(crate) fn new(config: &FleetConfig, options: &ClientOptions) -> Result<Self> {
        let http = HttpClient::new(ProviderKind::Fleet, config.base_url.clone(), options)?
            .with_auth(Arc::new(BearerToken::new(config.api_token.clone())))
            .with_classifier(Arc::new(FleetErrors));
        Ok(FleetClient { http })
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
        let result = self
            .http
            .get(&path)
            .query("exclude_software", "true")
            .operation(operation)
            .json::<HostEnvelope>()
            .await;
        match result {
            Ok(envelope) => envelope.host.map(Some).ok_or_else(|| {
                not_fleet(
                    operation,
                    "the host lookup answered without a \"host\" object",
                )
            }),
            // Only Fleet's own 404 body means "no such host"; anything else stays an error.
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `GET /api/v1/fleet/hosts/{id}`: one host with its `end_users`; `None` if Fleet says it is gone.
    pub(crate) async fn host_by_id(
        &self,
        id: &str,
        operation: &'static str,
    ) -> Result<Option<Host>> {
        let path = format!("{HOSTS}/{}", path_segment(id));
        let result = self
            .http
            .get(&path)
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

fn page_number(request: &PageRequest, operation: &'static str) -> Result<(u64, u32)> {
    match request {
        PageRequest::PageNumber { page, size } if *size > 0 => Ok((*page, *size)),
        PageRequest::PageNumber { .. } => Err(Error::config(
            "a Fleet page must ask for at least one row (per_page=0 is refused by Fleet)",
        )
        .with_provider(ProviderKind::Fleet)
        .with_operation(operation)),
        other => Err(Error::config(format!(
            "Fleet lists are paged by page number, not {other:?}"
        ))
        .with_provider(ProviderKind::Fleet)
        .with_operation(operation)),
    }
}

fn not_fleet(operation: &'static str, what: &str) -> Error {
    Error::invalid_response(format!(
        "{what}; the server does not answer like the Fleet API"
    ))
    .with_provider(ProviderKind::Fleet)
    .with_operation(operation)
}

/// Whether `segment` would be read as `.` or `..` by URL path normalisation (escaped or not).
pub(crate) fn is_dot_segment(segment: &str) -> bool {
    !segment.is_empty() && segment.len() <= 2 && segment.chars().all(|c| c == '.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_are_escaped() {
        assert_eq!(path_segment("C02X/Y?Z#1"), "C02X%2FY%3FZ%231");
        assert_eq!(path_segment("A B+%"), "A%20B%2B%25");
        assert_eq!(path_segment("ABC-1.2_3~"), "ABC-1.2_3~");
        assert!(is_dot_segment(".."));
        assert!(is_dot_segment("."));
        assert!(!is_dot_segment("..."));
        assert!(!is_dot_segment("A.B"));
    }

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
